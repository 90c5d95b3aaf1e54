//! Units as written: resolving them to scale and dimension, and
//! describing a dimension in the user's own units for messages.

use super::*;

impl<'a> Lower<'a> {
    /// Resolves a unit: (scale, offset) and its dimension, or reports it.
    pub(super) fn unit(&mut self, u: &ast::UnitExpr) -> ((f64, f64), Option<Dim>) {
        let mut scale = 1.0;
        let mut dim = Dim::NONE;
        let mut offset = 0.0;
        for f in &u.factors {
            let Some(def) = lookup_unit(&f.name) else {
                let mut d =
                    Diagnostic::error(Code::UnknownUnit, format!("unknown unit `{}`", f.name)).at(f.span, "not a unit");
                let names = units::unit_names();
                let known_name = self.spaces.iter().any(|s| s.entries.contains_key(&f.name));
                let op = unit_operator_before(u, f);
                d = if known_name || (op.is_some() && did_you_mean(&f.name, names.iter().map(String::as_str)).is_none())
                {
                    let op = op.unwrap_or('*');
                    d.help(format!(
                        "a name written straight after a number is read as its unit; to use the value `{0}`, put spaces around `{op}`: `x {op} {0}`",
                        f.name
                    ))
                } else if let Some(s) = did_you_mean(&f.name, names.iter().map(String::as_str)) {
                    d.help(format!("did you mean `{s}`?"))
                } else {
                    d.help(
                        "units are SI names with an optional prefix: mV, ms, uF/cm^2, mS/cm^2, nA, Mohm, Hz, mM, degC",
                    )
                };
                self.err(d);
                return ((f64::NAN, 0.0), None);
            };
            // `2/N`: a name glued to an operator is likely meant as a value
            let glued =
                unit_operator_before(u, f).is_some() || (u.text.starts_with('/') && f.span.start == u.span.start + 1);
            if glued && self.spaces.iter().any(|s| s.entries.contains_key(&f.name)) {
                self.diags.push(
                    Diagnostic::warning(
                        Code::UnitShadowsName,
                        format!("`{}` here is the unit, not the value declared with that name", f.name),
                    )
                    .at(f.span, "read as a unit")
                    .help(format!(
                        "a name written straight after a number is its unit; to use the value `{0}`, put spaces around the operator: `x / {0}`; to mean the unit and silence this warning, write it with a negative power: `{0}^-1`",
                        f.name
                    )),
                );
            }
            let combined = Rational::new(f.power.0, f.power.1)
                .and_then(|p| Some((p, def.dim.powr(p)?)))
                .and_then(|(p, fd)| Some((p, dim.mul(&fd)?)));
            let Some((p, nd)) = combined else {
                self.err(
                    Diagnostic::error(Code::BadExponent, "unit exponents grow too large")
                        .at(u.span, "this unit")
                        .help("write units with small integer or fractional powers, e.g. `cm^2`, `s^(1/2)`"),
                );
                return ((f64::NAN, 0.0), None);
            };
            if def.offset != 0.0 && (u.factors.len() > 1 || p != Rational::ONE) {
                self.err(
                    Diagnostic::error(
                        Code::BadExponent,
                        format!("`{}` is a temperature scale with an offset: it cannot be raised to a power or combined with other units", f.name),
                    )
                    .at(u.span, "this unit")
                    .help("write temperatures alone (`37 degC`); for temperature differences and compound units use kelvin: `K`, `K^2`, `mV/K`"),
                );
                return ((f64::NAN, 0.0), None);
            }
            dim = nd;
            scale *= def.scale.powf(p.to_f64());
            if u.factors.len() == 1 && p == Rational::ONE {
                offset = def.offset;
            }
        }
        ((scale, offset), Some(dim))
    }

    /// The unit hint of a declaration's value, when it is a literal or a
    /// name with one.
    pub(super) fn hint_of(&self, e: &ast::Expr) -> Option<UnitHint> {
        match &e.kind {
            ExprKind::Number { unit: Some(u), .. } => {
                let mut scale = 1.0;
                for f in &u.factors {
                    let def = lookup_unit(&f.name)?;
                    scale *= def.scale.powf(f.power.0 as f64 / f.power.1 as f64);
                }
                let offset = if u.factors.len() == 1 { lookup_unit(&u.factors[0].name)?.offset } else { 0.0 };
                if offset != 0.0 {
                    return Some(UnitHint { text: u.text.clone(), scale: 1.0 });
                }
                Some(UnitHint { text: u.text.clone(), scale })
            }
            ExprKind::Unary(UnOp::Neg, x) => self.hint_of(x),
            ExprKind::Name(n) => {
                let i = self.param_named(n)?;
                self.m.params[i].unit.clone()
            }
            ExprKind::Binary(ast::BinOp::Add | ast::BinOp::Sub, l, r) => self.hint_of(l).or_else(|| self.hint_of(r)),
            _ => None,
        }
    }

    /// `Model::param` by an index that follows the parameters as they are
    /// added (the first of a name, as `Model::param` finds).
    fn param_named(&self, n: &str) -> Option<usize> {
        let mut index = self.param_names.borrow_mut();
        let (seen, names) = &mut *index;
        for (i, p) in self.m.params.iter().enumerate().skip(*seen) {
            names.entry(p.name.clone()).or_insert(i);
        }
        *seen = self.m.params.len();
        names.get(n).copied()
    }

    /// How to show an expression's unit in a message: the user's own units
    /// where known, with what the dimension measures.
    pub(super) fn describe(&self, id: ExprId) -> String {
        let ty = self.m.arena.ty(id);
        let Some(dim) = ty.dim() else {
            return "a condition".into();
        };
        let own = self.user_units(id, 0);
        let q = quantity_desc(&dim);
        let si = units::pretty(&dim);
        match own {
            Some(u) if u != "1" => {
                let u = if u.starts_with('/') { format!("1{u}") } else { u };
                if u == si || dim.is_dimensionless() || q == si {
                    format!("{u} ({q})")
                } else {
                    format!("{u} ({q}, {si})")
                }
            }
            _ if dim.is_dimensionless() => "dimensionless".into(),
            _ if q == si => si,
            _ => format!("{si} ({q})"),
        }
    }

    pub(super) fn user_units(&self, id: ExprId, depth: usize) -> Option<String> {
        if depth > 6 {
            return None;
        }
        if let Some(h) = self.hints.get(&id) {
            return Some(h.clone());
        }
        let a = &self.m.arena;
        match a.kind(id) {
            NodeKind::Neg(x) => self.user_units(*x, depth + 1),
            NodeKind::Bin(ast::BinOp::Add | ast::BinOp::Sub, l, r) => {
                self.user_units(*l, depth + 1).or_else(|| self.user_units(*r, depth + 1))
            }
            NodeKind::Bin(op @ (ast::BinOp::Mul | ast::BinOp::Div), l, r) => {
                let dl = a.ty(*l).dim()?;
                let dr = a.ty(*r).dim()?;
                let lu = if dl.is_dimensionless() { None } else { Some(self.user_units(*l, depth + 1)?) };
                let ru = if dr.is_dimensionless() { None } else { Some(self.user_units(*r, depth + 1)?) };
                match (lu, ru, op) {
                    (Some(x), Some(y), ast::BinOp::Mul) => Some(format!("{x}*{y}")),
                    (Some(x), Some(y), _) => {
                        Some(if y.contains(['*', '/']) { format!("{x}/({y})") } else { format!("{x}/{y}") })
                    }
                    (Some(x), None, _) => Some(x),
                    (None, Some(y), ast::BinOp::Mul) => Some(y),
                    (None, Some(y), _) => {
                        Some(if y.contains(['*', '/']) { format!("1/({y})") } else { format!("1/{y}") })
                    }
                    (None, None, _) => Some("1".into()),
                }
            }
            NodeKind::If(_, x, _) => self.user_units(*x, depth + 1),
            NodeKind::Const(_) if a.ty(id).dim().is_some_and(|d| d.is_dimensionless()) => Some("1".into()),
            _ => None,
        }
    }
}
