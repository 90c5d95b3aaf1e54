//! Neural fields: periodic domains and `conv(kernel, source)`.

use super::*;

impl<'a> Lower<'a> {
    /// A field's `domain` statements: one periodic coordinate each (one or
    /// two), declared as states the runtime fills with each cell's centre.
    pub(super) fn field_domain(&mut self, model: &'a ast::Model) {
        let constant = Scope { space: 0, locals: &[], mode: Mode::Constant };
        let mut field = crate::ir::Field::default();
        let mut coord_dim = None;
        for stmt in &model.stmts {
            let ast::StmtKind::Domain { var, interval, periodic, settings } = &stmt.kind else { continue };
            if !periodic || !interval.lo_closed || interval.hi_closed {
                self.err(
                    Diagnostic::error(Code::BadField, "a field's domain is periodic: `[lo, hi) periodic`")
                        .at(stmt.span, "not a periodic domain")
                        .help(format!("write `domain {} in [0 mm, 10 mm) periodic, cells = 256`", var.name)),
                );
                continue;
            }
            let lo = self.expr(&constant, &interval.lo);
            let hi = self.expr(&constant, &interval.hi);
            let (Ty::Num(d), Ty::Num(dh)) = (self.m.arena.ty(lo), self.m.arena.ty(hi)) else { continue };
            if d != dh || coord_dim.is_some_and(|c| c != d) {
                self.err(
                    Diagnostic::error(Code::DimensionMismatch, "a field's coordinates and bounds share one dimension")
                        .at(stmt.span, units::pretty(&d))
                        .help("give every bound the same kind of unit, e.g. mm"),
                );
                continue;
            }
            let mut cells = None;
            for b in settings {
                if b.name.name != "cells" {
                    self.err(
                        Diagnostic::error(Code::BadField, format!("unknown domain setting `{}`", b.name.name))
                            .at(b.name.span, "not a domain setting")
                            .help("a domain has one setting: `cells = 256`"),
                    );
                    continue;
                }
                let id = self.expr(&constant, &b.value);
                cells = self.expect_dim(id, Dim::NONE, "`cells`", b.value.span);
            }
            let unit = self.hint_of(&interval.hi).or_else(|| self.hint_of(&interval.lo));
            let state = self.filled_state(&var.name, d, unit, var.span);
            if self.declare(0, var, Decl::State { index: state }) {
                coord_dim = Some(d);
                field.coords.push(crate::ir::Coord { state, lo, hi, cells, span: stmt.span });
            }
        }
        let Some(d) = coord_dim else {
            if !self.diags.has_errors() {
                self.err(
                    Diagnostic::error(Code::BadField, format!("field `{}` has no domain", model.name.name))
                        .at(model.name.span, "no domain")
                        .help("add `domain x in [0 mm, 10 mm) periodic, cells = 256` (and a second for a 2D sheet)"),
                );
            }
            return;
        };
        if field.coords.len() > 2 {
            self.err(
                Diagnostic::error(Code::BadField, "fields have one or two coordinates")
                    .at(field.coords[2].span, "a third coordinate")
                    .help("a ring has one `domain`, a sheet two"),
            );
            return;
        }
        let unit = self.m.states[field.coords[0].state].unit.clone();
        field.dist = self.filled_state("|x - y|", d, unit, model.name.span);
        self.m.field = Some(field);
    }

    /// `conv(w, source)` in a field: the kernel's value at the distance
    /// (lowered once per kernel), and the source as a per-cell expression;
    /// the result is a filled state of dimension [w][source][x]^n.
    pub(super) fn conv(&mut self, scope: &Scope, args: &'a [ast::Expr], span: Span) -> ExprId {
        let help = "write `conv(w, f(u))` with `kernel w(d) = ...` declared in the field";
        let [k, source] = args else {
            self.err(Diagnostic::error(Code::Arity, "`conv` takes a kernel and a source").at(span, "here").help(help));
            return self.error_node(span);
        };
        let ExprKind::Name(kname) = &k.kind else {
            self.err(
                Diagnostic::error(Code::BadField, "the first argument of `conv` is a kernel's name")
                    .at(k.span, "not a kernel")
                    .help(help),
            );
            return self.error_node(span);
        };
        let Some(field) = self.m.field.clone() else { return self.error_node(span) };
        let kernel = match field.kernels.iter().position(|(n, _)| n == kname) {
            Some(i) => i,
            None => {
                let decl = self.spaces[0].entries.get(kname.as_str()).map(|e| e.decl);
                let is_kernel = self.lib.get(&self.m.name).is_some_and(|m| {
                    m.stmts.iter().any(|s| matches!(&s.kind, ast::StmtKind::Kernel(f) if f.name.name == *kname))
                });
                let Some(Decl::Fn(f)) = decl.filter(|_| is_kernel) else {
                    self.err(
                        Diagnostic::error(Code::BadField, format!("`{kname}` is not a kernel of this field"))
                            .at(k.span, "not a kernel")
                            .help("declare it: `kernel w(d) = 2 * exp(-d^2 / (2 * (0.5 mm)^2)) / 1 mm`"),
                    );
                    return self.error_node(span);
                };
                let dist_dim = self.m.states[field.dist].dim;
                let d = self.m.arena.add(NodeKind::Var(Var::State(field.dist)), Ty::Num(dist_dim), f.name.span);
                let top = Scope { space: 0, locals: &[], mode: Mode::Dynamic };
                let body = self.inline(&top, f, &[d], f.name.span, f.name.span);
                if self.m.arena.ty(body) == Ty::Error {
                    return self.error_node(span);
                }
                if let Some(fl) = self.m.field.as_mut() {
                    fl.kernels.push((kname.clone(), body));
                }
                field.kernels.len()
            }
        };
        let src = self.expr(scope, source);
        let kbody = self.m.field.as_ref().map(|f| f.kernels[kernel].1).unwrap_or(src);
        let (Ty::Num(kd), Ty::Num(sd)) = (self.m.arena.ty(kbody), self.m.arena.ty(src)) else {
            for x in [kbody, src] {
                if self.m.arena.ty(x) == Ty::Bool {
                    self.bool_as_number(x);
                }
            }
            return self.error_node(span);
        };
        let x = self.m.states[field.dist].dim;
        let mut dim = kd.mul(&sd);
        for _ in 0..field.coords.len() {
            dim = dim.and_then(|d| d.mul(&x));
        }
        let Some(dim) = dim else { return self.error_node(span) };
        let state = self.filled_state(&format!("conv({kname}, ...)"), dim, None, span);
        if let Some(fl) = self.m.field.as_mut() {
            fl.convs.push(crate::ir::Conv { kernel, source: src, state, span });
        }
        self.m.arena.add(NodeKind::Var(Var::State(state)), Ty::Num(dim), span)
    }
}
