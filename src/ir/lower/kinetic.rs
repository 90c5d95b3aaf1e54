//! Kinetic (Markov) schemes: species occupancies and the ODEs their
//! reactions imply.

use super::*;

impl<'a> Lower<'a> {
    /// A kinetic scheme: species occupancies with
    /// `dX/dt = sum of (in-flux - out-flux)` built from the reactions.
    pub(super) fn kinetic(&mut self, space: usize, reactions: &'a [ast::Reaction], span: Span) {
        let scope = Scope { space, locals: &[], mode: Mode::Dynamic };
        let mut species: Vec<usize> = Vec::new();
        let mut lowered = Vec::new();
        for r in reactions {
            let mut ends = [0usize; 2];
            for (k, sp) in [&r.from, &r.to].into_iter().enumerate() {
                let Some(i) = self.state_index(space, &sp.name) else {
                    self.err(
                        Diagnostic::error(
                            Code::OdeNotState,
                            format!("`{}` in a kinetic scheme is not a state", sp.name),
                        )
                        .at(sp.span, "already defined as something else")
                        .help(
                            "species of a kinetic scheme are occupancies: use a fresh name, or declare it with `state`",
                        ),
                    );
                    return;
                };
                if !self.implicit_species.contains(&i)
                    && self.ensure_state_dim(i).is_some_and(|d| !d.is_dimensionless())
                {
                    self.err(
                        Diagnostic::error(Code::ValueDimension, format!("species `{}` must be dimensionless", sp.name))
                            .at(sp.span, "an occupancy: a fraction of channels, without unit")
                            .help("kinetic schemes move fractions that sum to 1; drop the unit of its `state`"),
                    );
                    return;
                }
                ends[k] = i;
                if !species.contains(&i) {
                    species.push(i);
                }
            }
            let f = self.expr(&scope, &r.forward);
            let b = self.expr(&scope, &r.backward);
            for (e, which) in [(f, "forward"), (b, "backward")] {
                match self.m.arena.ty(e) {
                    Ty::Num(d) if d == dims::rate() => {}
                    Ty::Num(_) => {
                        let desc = self.describe(e);
                        self.err(
                            Diagnostic::error(
                                Code::GateDimension,
                                format!("a {which} rate must be a rate (1/time), not {desc}"),
                            )
                            .at(self.m.arena.span(e), format!("this is {desc}"))
                            .help("write reaction rates with a unit of 1/time, e.g. `0.1 /ms`"),
                        );
                        return;
                    }
                    Ty::Bool => {
                        self.bool_as_number(e);
                        return;
                    }
                    Ty::Error => return,
                }
            }
            lowered.push(Reaction { from: ends[0], to: ends[1], forward: f, backward: b, span: r.span });
        }
        let k = self.m.kinetics.len();
        let none = Ty::Num(Dim::NONE);
        let rate = Ty::Num(dims::rate());
        let mut rhs: HashMap<usize, ExprId> = HashMap::new();
        for r in &lowered {
            let a = &mut self.m.arena;
            let x_from = a.add(NodeKind::Var(Var::State(r.from)), none, r.span);
            let x_to = a.add(NodeKind::Var(Var::State(r.to)), none, r.span);
            let out = a.add(NodeKind::Bin(ast::BinOp::Mul, r.forward, x_from), rate, r.span);
            let back = a.add(NodeKind::Bin(ast::BinOp::Mul, r.backward, x_to), rate, r.span);
            let flux = a.add(NodeKind::Bin(ast::BinOp::Sub, out, back), rate, r.span);
            for (sp, op) in [(r.from, ast::BinOp::Sub), (r.to, ast::BinOp::Add)] {
                let next = match rhs.get(&sp) {
                    Some(prev) => self.m.arena.add(NodeKind::Bin(op, *prev, flux), rate, r.span),
                    None if op == ast::BinOp::Add => flux,
                    None => self.m.arena.add(NodeKind::Neg(flux), rate, r.span),
                };
                rhs.insert(sp, next);
            }
        }
        let channel = match self.spaces[space].prefix.trim_end_matches('.') {
            "" => self.m.name.clone(),
            p => p.to_string(),
        };
        for &i in &species {
            let implicit = self.implicit_species.contains(&i);
            // NaN marks "start at the scheme's steady state" for the runtime
            let init = implicit.then(|| self.m.arena.add(NodeKind::Const(f64::NAN), none, span));
            let s = &mut self.m.states[i];
            if let Some(init) = init {
                s.init = init;
                s.dim = Dim::NONE;
            }
            if s.rhs.is_some() {
                continue;
            }
            s.rhs = rhs.get(&i).copied();
            s.rhs_span = span;
            s.kinetic = Some(k);
        }
        self.m.kinetics.push(Kinetic { channel, species, reactions: lowered, span });
    }
}
