//! States: declaration, initial values (in dependency order, cycles
//! found), ODEs with their dimension check, and the warning for states
//! that never change.

use super::*;

impl<'a> Lower<'a> {
    /// A voltage the model can read although it does not declare it.
    pub(super) fn synthetic_state(&mut self, space: usize, name: &str, span: Span) {
        let init = self.m.arena.add(NodeKind::Const(0.0), Ty::Num(dims::voltage()), span);
        let index = self.m.states.len();
        self.m.states.push(State {
            name: name.to_string(),
            init,
            dim: dims::voltage(),
            unit: Some(UnitHint { text: "mV".into(), scale: 1e-3 }),
            span,
            rhs: None,
            rhs_span: span,
            gate: None,
            kinetic: None,
            method: None,
        });
        self.spaces[space]
            .entries
            .insert(name.to_string(), Entry { decl: Decl::State { index }, slot: Slot::Done(index), span });
    }

    pub(super) fn add_state(&mut self, space: usize, name: &ast::Ident) -> Option<usize> {
        let index = self.m.states.len();
        if !self.declare(space, name, Decl::State { index }) {
            return None;
        }
        let prefix = self.spaces[space].prefix.clone();
        self.state_space.insert(index, space);
        self.m.states.push(State {
            name: format!("{prefix}{}", name.name),
            init: ExprId(u32::MAX),
            dim: Dim::NONE,
            unit: None,
            span: name.span,
            rhs: None,
            rhs_span: name.span,
            gate: None,
            kinetic: None,
            method: None,
        });
        Some(index)
    }

    pub(super) fn state_init(&mut self, space: usize, d: &'a ast::StateDecl) {
        let Some(index) = self.state_index(space, &d.name.name) else {
            return;
        };
        if !self.init_tried.insert(index) {
            return;
        }
        let Some(init) = &d.init else {
            self.err(
                Diagnostic::error(Code::NoInitialValue, format!("state `{}` has no initial value", d.name.name))
                    .at(d.name.span, "needs a value at t = 0")
                    .help(format!("give it one, with its unit: `state {} = -65 mV`", d.name.name)),
            );
            return;
        };
        let scope = Scope { space, locals: &[], mode: Mode::Dynamic };
        self.init_busy.insert(index);
        self.lowering += 1;
        let e = self.expr(&scope, init);
        self.lowering -= 1;
        self.init_busy.remove(&index);
        match self.m.arena.ty(e) {
            Ty::Num(dim) => {
                let unit = self.hint_of(init);
                let s = &mut self.m.states[index];
                s.init = e;
                s.dim = dim;
                s.unit = unit;
            }
            Ty::Bool => self.bool_as_number(e),
            Ty::Error => {}
        }
    }

    pub(super) fn ode(
        &mut self,
        space: usize,
        factor: Option<&'a ast::Expr>,
        state: &ast::Ident,
        rhs: &'a ast::Expr,
        span: Span,
    ) {
        let scope = Scope { space, locals: &[], mode: Mode::Dynamic };
        let Some(index) = self.state_index(space, &state.name) else {
            let what = match self.spaces[space].entries.get(&state.name).map(|e| e.decl) {
                Some(Decl::Param { .. }) => "a parameter",
                Some(Decl::Value { kind: ValueKind::Input, .. }) => "an input",
                Some(Decl::Value { .. }) => "a derived value",
                Some(Decl::Fn(_)) => "a function",
                _ => "not declared",
            };
            self.err(
                Diagnostic::error(Code::OdeNotState, format!("`d{}/dt`: `{}` is not a state", state.name, state.name))
                    .at(state.span, format!("`{}` is {what}", state.name))
                    .help(format!("declare it as a state with an initial value: `state {} = ...`", state.name)),
            );
            // still check the right side for other errors
            self.expr(&scope, rhs);
            return;
        };
        if self.m.states[index].rhs.is_some() {
            let prev = self.m.states[index].rhs_span;
            self.err(
                Diagnostic::error(Code::DuplicateOde, format!("state `{}` has two ODEs", state.name))
                    .at(span, "second ODE")
                    .with_label(prev, "first ODE"),
            );
            return;
        }
        let mut e = self.expr(&scope, rhs);
        if let Some(f) = factor {
            let fe = self.expr(&scope, f);
            e = self.binary(ast::BinOp::Div, e, fe, span);
        }
        let Ty::Num(have) = self.m.arena.ty(e) else {
            if self.m.arena.ty(e) == Ty::Bool {
                self.bool_as_number(e);
            }
            return;
        };
        let Some(sdim) = self.ensure_state_dim(index) else {
            return; // no initial value: reported there, dimension unknown
        };
        let Some(want) = sdim.div(&dims::time()) else {
            return;
        };
        if have != want {
            let sunit = self.m.states[index].unit.as_ref().map(|u| u.text.clone());
            let want_desc = match &sunit {
                Some(u) => format!("{u}/ms"),
                None => units::pretty(&want),
            };
            let want_q = quantity_desc(&want);
            let have_desc = self.describe(e);
            self.err(
                Diagnostic::error(
                    Code::OdeDimension,
                    format!("`d{}/dt` must be in {want_desc} ({want_q}), but the right side is {have_desc}", state.name),
                )
                .at(self.m.arena.span(e), format!("this is {have_desc}"))
                .with_label(
                    state.span,
                    format!("`{}` is {}", state.name, sunit.unwrap_or_else(|| quantity_desc(&sdim))),
                )
                .help("the right side of dX/dt must have the unit of X per time; check for a missing capacitance or time constant"),
            );
            return;
        }
        let s = &mut self.m.states[index];
        s.rhs = Some(e);
        s.rhs_span = span;
    }

    /// After every declaration is lowered: the initial-value order, and
    /// warnings for states that never change.
    pub(super) fn finish_states(&mut self) {
        let assigned: Vec<usize> = self
            .m
            .events
            .iter()
            .flat_map(|e| e.actions.iter())
            .filter_map(|a| match a {
                Action::Assign { state, .. } => Some(*state),
                _ => None,
            })
            .collect();
        let synthetic = matches!(self.m.kind, ast::ModelKind::Channel | ast::ModelKind::Synapse);
        // after an error an ODE may be missing only because it failed to lower
        let quiet = self.diags.has_errors();
        for (i, s) in self.m.states.iter().enumerate() {
            if quiet {
                break;
            }
            let filled = self.m.field.as_ref().is_some_and(|f| {
                i == f.dist || f.coords.iter().any(|c| c.state == i) || f.convs.iter().any(|c| c.state == i)
            }) || self.m.density.as_ref().is_some_and(|d| i == d.var || i == d.output_state);
            let changes = s.rhs.is_some() || assigned.contains(&i);
            let runtime_fills = (synthetic && i == 0) || filled;
            if !changes && !runtime_fills && s.init != ExprId(u32::MAX) {
                self.diags.push(
                    Diagnostic::warning(Code::StateNeverChanges, format!("state `{}` never changes", s.name))
                        .at(s.span, "no ODE and no event changes it")
                        .help(format!("add `d{}/dt = ...`, or make it a `parameter`", s.name)),
                );
            }
        }
        if self.m.states.iter().any(|s| s.init == ExprId(u32::MAX)) {
            return; // reported already
        }
        // Initial values may refer to other states (gates start at their
        // steady state at V(0)): order them, and find cycles.
        let n = self.m.states.len();
        let mut deps: Vec<Vec<usize>> = Vec::with_capacity(n);
        for s in &self.m.states {
            deps.push(self.state_deps(s.init));
        }
        let mut mark = vec![0u8; n];
        let mut order = Vec::new();
        for start in 0..n {
            if let Err(i) = visit(start, &deps, &mut mark, &mut order) {
                let s = &self.m.states[i];
                self.diags.push(
                    Diagnostic::error(Code::Cycle, format!("the initial value of `{}` depends on itself", s.name))
                        .at(self.m.arena.span(s.init), "cyclic initial value")
                        .help("give one of the states a value that does not depend on the others"),
                );
                return;
            }
        }
        self.m.init_order = order;

        /// Depth-first post-order from `start` with an explicit stack; the
        /// state met again while open, if any.
        fn visit(start: usize, deps: &[Vec<usize>], mark: &mut [u8], order: &mut Vec<usize>) -> Result<(), usize> {
            if mark[start] == 2 {
                return Ok(());
            }
            mark[start] = 1;
            let mut stack = vec![(start, 0usize)];
            while let Some((i, next)) = stack.last_mut() {
                let i = *i;
                let Some(&d) = deps[i].get(*next) else {
                    mark[i] = 2;
                    order.push(i);
                    stack.pop();
                    continue;
                };
                *next += 1;
                match mark[d] {
                    2 => {}
                    1 => return Err(d),
                    _ => {
                        mark[d] = 1;
                        stack.push((d, 0));
                    }
                }
            }
            Ok(())
        }
    }

    /// States an expression depends on, through derived values too.
    pub(super) fn state_deps(&self, id: ExprId) -> Vec<usize> {
        crate::schemes::deps(&self.m, id)
            .into_iter()
            .filter_map(|v| match v {
                Var::State(i) => Some(i),
                _ => None,
            })
            .collect()
    }

    /// A state the runtime fills (a coordinate, a distance, a convolution).
    pub(super) fn filled_state(&mut self, name: &str, dim: Dim, unit: Option<UnitHint>, span: Span) -> usize {
        let init = self.m.arena.add(NodeKind::Const(f64::NAN), Ty::Num(dim), span);
        self.m.states.push(State {
            name: name.to_string(),
            init,
            dim,
            unit,
            span,
            rhs: None,
            rhs_span: span,
            gate: None,
            kinetic: None,
            method: None,
        });
        self.m.states.len() - 1
    }

    /// A state's dimension, lowering its initial value first if needed
    /// (states may be used above their declaration; gates are dimensionless).
    pub(super) fn ensure_state_dim(&mut self, index: usize) -> Option<Dim> {
        let s = self.m.states.get(index)?;
        if s.gate.is_some() || s.init != ExprId(u32::MAX) {
            return Some(s.dim);
        }
        let space = *self.state_space.get(&index)?;
        let local = s.name.strip_prefix(self.spaces[space].prefix.as_str())?.to_string();
        match self.find_state_decl(space, &local)? {
            StateSource::Gate => Some(Dim::NONE),
            StateSource::Decl(d) => {
                let on_cycle =
                    self.lowering > 0 && self.cyclic_states.contains(&index) && !self.init_tried.contains(&index);
                if self.init_busy.contains(&index) || on_cycle {
                    let span = self.m.states[index].span;
                    self.err(
                        Diagnostic::error(Code::Cycle, format!("the initial value of `{local}` depends on itself"))
                            .at(span, "cyclic initial value")
                            .help("give the state an initial value that does not refer to itself"),
                    );
                    self.init_tried.insert(index);
                    return None;
                }
                if self.lowering >= super::order::MAX_LOWERING && !self.init_tried.contains(&index) {
                    let span = self.m.states[index].span;
                    self.err(
                        Diagnostic::error(
                            Code::TooDeep,
                            format!(
                                "the initial value of `{local}` is reached through more than {} definitions",
                                super::order::MAX_LOWERING
                            ),
                        )
                        .at(span, "declared here")
                        .help("read it through fewer definitions in between"),
                    );
                    self.init_tried.insert(index);
                    return None;
                }
                self.state_init(space, d);
                let s = &self.m.states[index];
                (s.init != ExprId(u32::MAX)).then_some(s.dim)
            }
        }
    }

    pub(super) fn find_state_decl(&self, space: usize, n: &str) -> Option<StateSource<'a>> {
        let model = if space == 0 {
            // the model being lowered (a cell's membrane is in no library)
            self.root.or_else(|| self.lib.get(&self.m.name))?
        } else {
            let name = self.spaces[space].prefix.trim_end_matches('.');
            self.lib.get(name)?
        };
        // a density's states may come from the rate models it `use`s
        let extra = if space == 0 { self.drivers.as_slice() } else { &[] };
        for s in model.stmts.iter().chain(extra.iter().flat_map(|m| m.stmts.iter())) {
            match &s.kind {
                ast::StmtKind::State(ds) => {
                    if let Some(d) = ds.iter().find(|d| d.name.name == n) {
                        return Some(StateSource::Decl(d));
                    }
                }
                ast::StmtKind::Gate(g) if g.name.name == n => return Some(StateSource::Gate),
                ast::StmtKind::Kinetic(rs) if rs.iter().any(|r| r.from.name == n || r.to.name == n) => {
                    return Some(StateSource::Gate)
                }
                _ => {}
            }
        }
        None
    }
}
