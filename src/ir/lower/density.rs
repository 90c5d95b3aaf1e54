//! Population densities: the variable and its grid, drift and diffusion
//! (written, or derived from a one-dimensional neuron and its white-noise
//! inputs), boundaries, and the rate models that drive a density.

use super::*;

impl<'a> Lower<'a> {
    /// A population density: `variable V in [lo, V_th] cells = N`, `drift`
    /// and `diffusion` (values, or functions of the variable), `threshold`,
    /// `reset`, `refractory` and `output rate = flux at V_th`. The variable
    /// becomes state 0 so drift and diffusion lower as ordinary expressions.
    /// With `use N` (a one-dimensional neuron), the drift is N's dV/dt, the
    /// boundaries come from N's `on V >= V_th { V = V_r; ...; refractory T }`,
    /// and the diffusion from the inputs declared `white(mean, sd, tau)`.
    // Long (about 380 lines): the density's statements lowered in one pass
    // sharing the grid, the variable and the derived neuron; splitting it
    // by statement is planned (see the closing notes of issue 11).
    pub(super) fn density(&mut self, model: &'a ast::Model) {
        let mut variable = None;
        let mut threshold: Option<&'a ast::Binding> = None;
        let mut reset: Option<&'a ast::Binding> = None;
        let mut refractory: Option<&'a ast::Expr> = None;
        let mut output: Option<(&'a ast::Ident, Option<&'a ast::Ident>, Span)> = None;
        let mut uses: Vec<&'a ast::Ident> = Vec::new();
        // inputs `I = white(mean, sd, tau)`: (input, sd, tau)
        let mut noisy: Vec<(&'a ast::Ident, &'a ast::Expr, &'a ast::Expr)> = Vec::new();
        for stmt in &model.stmts {
            match &stmt.kind {
                ast::StmtKind::Variable { var, interval, settings } => {
                    if variable.is_some() {
                        self.err(
                            Diagnostic::error(Code::BadDensity, "a density has one variable")
                                .at(stmt.span, "second variable")
                                .help("a Fokker-Planck density here is one-dimensional: keep one `variable`"),
                        );
                    }
                    variable = Some((var, interval, settings, stmt.span));
                }
                ast::StmtKind::Boundary(parts) => {
                    for part in parts {
                        match part {
                            ast::BoundaryPart::Threshold(b) => {
                                self.declare(0, &b.name, Decl::Param { ast: b });
                                threshold = Some(b);
                            }
                            ast::BoundaryPart::Reset(b) => {
                                self.declare(0, &b.name, Decl::Param { ast: b });
                                reset = Some(b);
                            }
                            ast::BoundaryPart::Refractory(e) => refractory = Some(e),
                        }
                    }
                }
                ast::StmtKind::Output { name, flux_at, value } => {
                    if value.is_some() {
                        self.err(
                            Diagnostic::error(Code::BadDensity, "a density's output is the flux at its threshold")
                                .at(stmt.span, "not a flux")
                                .help("write `output rate = flux at V_th`"),
                        );
                    }
                    output = Some((name, flux_at.as_ref(), stmt.span));
                }
                ast::StmtKind::Use(names) => uses.extend(names.iter()),
                ast::StmtKind::Input(bs) => {
                    for b in bs {
                        if let ExprKind::Call(f, args) = &b.value.kind {
                            if matches!(&f.kind, ExprKind::Name(n) if n == "white") && args.len() == 3 {
                                noisy.push((&b.name, &args[1], &args[2]));
                            }
                        }
                    }
                }
                ast::StmtKind::Gate(_)
                | ast::StmtKind::On { .. }
                | ast::StmtKind::SpikeWhen { .. }
                | ast::StmtKind::Kinetic(_)
                | ast::StmtKind::Current(_) => self.err(
                    Diagnostic::error(Code::NotHere, "this statement does not belong in a `density`")
                        .at(stmt.span, "not allowed here")
                        .help("a density is defined by `variable`, `drift`, `diffusion`, `threshold`/`reset`/`refractory` and `output` (or `use` of a one-dimensional neuron); the compiler derives its dynamics"),
                ),
                _ => {}
            }
        }
        let missing = |what: &str, example: &str| {
            Diagnostic::error(Code::BadDensity, format!("density `{}` has no {what}", model.name.name))
                .at(model.name.span, format!("{what} missing"))
                .help(format!("add `{example}`"))
        };
        let Some((var, interval, settings, _)) = variable else {
            self.err(missing("variable", "variable V in [-30 mV, V_th] cells = 400"));
            return;
        };
        // `use` of rate models: their states and equations run beside the
        // density and drive it; `use` of a neuron: the density derives from it
        let lib = self.lib;
        let drivers: Vec<&'a ast::Model> =
            uses.iter().filter_map(|u| lib.get(&u.name)).filter(|m| m.kind == ast::ModelKind::Rate).collect();
        uses.retain(|u| lib.get(&u.name).is_none_or(|m| m.kind != ast::ModelKind::Rate));
        let neuron = match uses.as_slice() {
            [] => None,
            [one] => match self.density_neuron(one, var) {
                Some(n) => Some(n),
                None => return,
            },
            [_, second, ..] => {
                self.err(
                    Diagnostic::error(Code::BadDensity, "a density is derived from one neuron")
                        .at(second.span, "a second neuron")
                        .help("keep one `use`"),
                );
                return;
            }
        };
        if neuron.is_none() && (threshold.is_none() || reset.is_none()) {
            self.err(missing("threshold and reset", "threshold V_th = 20 mV, reset V_r = 10 mV, refractory 2 ms"));
            return;
        }
        // Everything else the model declares (parameters, inputs, values,
        // functions), then what the neuron declares that the density does not.
        self.collect(0, model);
        for d in &drivers {
            // a driver runs its states and equations only
            if let Some(st) = d.stmts.iter().find(|st| {
                matches!(
                    st.kind,
                    ast::StmtKind::Gate(_)
                        | ast::StmtKind::Kinetic(_)
                        | ast::StmtKind::On { .. }
                        | ast::StmtKind::SpikeWhen { .. }
                        | ast::StmtKind::Method(_)
                        | ast::StmtKind::Use(_)
                )
            }) {
                self.err(
                    Diagnostic::error(
                        Code::NotHere,
                        format!("`{}` cannot drive a density: it has gates, events, kinetics or channels", d.name.name),
                    )
                    .at(st.span, "not supported beside a density")
                    .help("a rate model that drives a density has parameters, inputs, values and ODEs only"),
                );
                return;
            }
            if let Some(n) = &neuron {
                let names = |m: &ast::Model| -> Vec<String> {
                    m.stmts
                        .iter()
                        .flat_map(|st| match &st.kind {
                            ast::StmtKind::Parameter(bs) | ast::StmtKind::Input(bs) => {
                                bs.iter().map(|b| b.name.name.clone()).collect()
                            }
                            ast::StmtKind::Derived(b) => vec![b.name.name.clone()],
                            ast::StmtKind::Fn(f) => vec![f.name.name.clone()],
                            _ => vec![],
                        })
                        .collect()
                };
                let theirs = names(n.model);
                if let Some(clash) = names(d).into_iter().find(|x| theirs.contains(x)) {
                    self.err(
                        Diagnostic::error(
                            Code::Duplicate,
                            format!("`{clash}` is declared by both `{}` and `{}`", d.name.name, n.model.name.name),
                        )
                        .at(d.name.span, "a driver")
                        .help("rename one of them; a density sees both models' names"),
                    );
                    return;
                }
            }
            self.collect(0, d);
        }
        self.drivers = drivers.clone();
        if let Some(n) = &neuron {
            self.collect_missing(n.model);
        }
        let constant = Scope { space: 0, locals: &[], mode: Mode::Constant };
        let lo = self.expr(&constant, &interval.lo);
        let hi = self.expr(&constant, &interval.hi);
        let (Ty::Num(vdim), Ty::Num(hdim)) = (self.m.arena.ty(lo), self.m.arena.ty(hi)) else {
            for b in [lo, hi] {
                if self.m.arena.ty(b) == Ty::Bool {
                    self.bool_as_number(b);
                }
            }
            return;
        };
        if vdim != hdim {
            self.err(
                Diagnostic::error(Code::DimensionMismatch, "the variable's bounds differ in dimension")
                    .at(interval.lo.span, units::pretty(&vdim))
                    .with_label(interval.hi.span, units::pretty(&hdim))
                    .help("give both bounds the same kind of unit: `[-30 mV, V_th]`"),
            );
            return;
        }
        // the variable, as state 0
        let init = self.m.arena.add(NodeKind::Const(f64::NAN), Ty::Num(vdim), var.span);
        let unit = self.hint_of(&interval.lo).or_else(|| self.hint_of(&interval.hi));
        let index = self.m.states.len();
        self.m.states.push(State {
            name: var.name.clone(),
            init,
            dim: vdim,
            unit,
            span: var.span,
            rhs: None,
            rhs_span: var.span,
            gate: None,
            kinetic: None,
            method: None,
        });
        if !self.declare(0, var, Decl::State { index }) {
            return;
        }
        // the output, readable in drift and diffusion (a recurrent
        // population): the rate of the step before
        let out_ident = match output {
            Some((name, _, _)) => name.clone(),
            None => ast::Ident { name: "rate".into(), span: model.name.span },
        };
        let rate_dim = Dim::NONE.div(&dims::time()).unwrap_or(Dim::NONE);
        let out_state = self.filled_state(
            &out_ident.name,
            rate_dim,
            Some(UnitHint { text: "Hz".into(), scale: 1.0 }),
            out_ident.span,
        );
        if !self.declare(0, &out_ident, Decl::State { index: out_state }) {
            return;
        }
        // the ODE states of the density itself and of the models driving it
        let with_odes: Vec<&'a ast::Model> = std::iter::once(model).chain(drivers.iter().copied()).collect();
        for src in &with_odes {
            for stmt in &src.stmts {
                if let ast::StmtKind::State(decls) = &stmt.kind {
                    for d in decls {
                        self.state_init(0, d);
                    }
                }
            }
        }
        let names = self.spaces[0].order.clone();
        for n in &names {
            self.force(0, n);
        }
        let per_time = |d: Dim| d.div(&dims::time());
        let (Some(drift_dim), Some(diffusion_dim)) = (per_time(vdim), vdim.mul(&vdim).and_then(per_time)) else {
            return;
        };
        let declares = |lw: &Self, name: &str| {
            model.stmts.iter().any(|s| match &s.kind {
                ast::StmtKind::Derived(b) => b.name.name == name,
                ast::StmtKind::DerivedFn(f) | ast::StmtKind::Fn(f) => f.name.name == name,
                _ => false,
            }) || (lw.spaces[0].entries.contains_key(name) && neuron.is_none())
        };
        let drift = match &neuron {
            Some(n) if !declares(self, "drift") => {
                let dynamic = Scope { space: 0, locals: &[], mode: Mode::Dynamic };
                let mut e = self.expr(&dynamic, n.rhs);
                if let Some(f) = n.factor {
                    let fe = self.expr(&dynamic, f);
                    e = self.binary(ast::BinOp::Div, e, fe, n.rhs.span);
                }
                self.expect_dim(e, drift_dim, &format!("`{}`'s d{}/dt", n.model.name.name, var.name), n.rhs.span)
            }
            _ => self.density_term(model, "drift", var, index, drift_dim),
        };
        let diffusion = match (&neuron, drift) {
            (Some(_), Some(drift)) if !declares(self, "diffusion") => {
                self.white_diffusion(model, drift, &noisy, diffusion_dim)
            }
            (Some(_), None) => None,
            _ => self.density_term(model, "diffusion", var, index, diffusion_dim),
        };
        // threshold and reset: the boundary's parameters, or the neuron's event
        let bound = |lw: &mut Self, b: &'a ast::Binding| -> Option<ExprId> {
            match lw.force(0, &b.name.name)? {
                Var::Param(i) if lw.m.params[i].dim == vdim => {
                    Some(lw.m.arena.add(NodeKind::Var(Var::Param(i)), Ty::Num(vdim), b.name.span))
                }
                Var::Param(i) => {
                    let have = lw.m.params[i].dim;
                    lw.err(
                        Diagnostic::error(
                            Code::ValueDimension,
                            format!("`{}` must have the variable's dimension ({})", b.name.name, units::pretty(&vdim)),
                        )
                        .at(b.value.span, format!("this is {}", units::pretty(&have)))
                        .help(format!("give it the unit of `{}`", var.name)),
                    );
                    None
                }
                _ => None,
            }
        };
        let from_neuron = |lw: &mut Self, e: &'a ast::Expr, what: &str| -> Option<ExprId> {
            let id = lw.expr(&constant, e);
            lw.expect_dim(id, vdim, what, e.span)
        };
        let (th, rs, threshold_name) = match (&neuron, threshold, reset) {
            (_, Some(t), Some(r)) => (bound(self, t), bound(self, r), Some(t.name.name.clone())),
            (Some(n), _, _) => {
                let name = match &n.threshold.kind {
                    ExprKind::Name(x) => Some(x.clone()),
                    _ => None,
                };
                (from_neuron(self, n.threshold, "the threshold"), from_neuron(self, n.reset, "the reset"), name)
            }
            _ => return,
        };
        let refractory = match (refractory, neuron.as_ref().and_then(|n| n.refractory)) {
            (Some(e), _) | (None, Some(e)) => {
                let id = self.expr(&constant, e);
                self.expect_dim(id, dims::time(), "the refractory period", e.span)
            }
            (None, None) => Some(self.m.arena.add(NodeKind::Const(0.0), Ty::Num(dims::time()), model.name.span)),
        };
        let (mut cells, mut grading) = (None, None);
        for b in settings {
            let id = self.expr(&constant, &b.value);
            let slot = match b.name.name.as_str() {
                "cells" => &mut cells,
                "grading" => &mut grading,
                other => {
                    self.err(
                        Diagnostic::error(Code::BadDensity, format!("unknown grid setting `{other}`"))
                            .at(b.name.span, "not a grid setting")
                            .help("grid settings: `cells = 400` (how many finite volumes), `grading = 4` (cells at the threshold this many times finer than at the lower edge)"),
                    );
                    continue;
                }
            };
            *slot = self.expect_dim(id, Dim::NONE, &format!("`{}`", b.name.name), b.value.span);
        }
        if let Some((name, Some(at), span)) = output {
            if threshold_name.as_deref() != Some(at.name.as_str()) {
                let th_text = threshold_name.clone().unwrap_or_else(|| "the threshold".into());
                self.err(
                    Diagnostic::error(Code::BadDensity, format!("the output is the flux at the threshold `{th_text}`"))
                        .at(at.span, "not the threshold")
                        .with_label(span, "this output")
                        .help(format!("write `output {} = flux at {th_text}`", name.name)),
                );
                return;
            }
        }
        let reads_var = |lw: &Self, e: ExprId| lw.m.reads(e, |v| v == Var::State(index));
        for src in &with_odes {
            for stmt in &src.stmts {
                if let ast::StmtKind::Ode { factor, state, rhs, .. } = &stmt.kind {
                    if state.name == var.name || state.name == out_ident.name {
                        self.err(
                            Diagnostic::error(Code::NotHere, format!("`d{}/dt` does not belong in a `density`", state.name))
                                .at(stmt.span, "not allowed here")
                                .help("the density's variable moves by its drift and diffusion, and its output is the threshold flux: write `drift(V) = ...` instead"),
                        );
                        continue;
                    }
                    self.ode(0, factor.as_ref(), state, rhs, stmt.span);
                    let read = self.state_index(0, &state.name).and_then(|i| {
                        let st = &self.m.states[i];
                        st.rhs
                            .filter(|&r| reads_var(self, r))
                            .or(Some(st.init).filter(|&e| e != ExprId(u32::MAX) && reads_var(self, e)))
                    });
                    if read.is_some() {
                        self.err(
                            Diagnostic::error(Code::BadDensity, format!("`{}` reads the density's variable `{}`", state.name, var.name))
                                .at(stmt.span, "an equation beside the density")
                                .help(format!("states beside a density are the same for the whole population: they cannot depend on `{}`", var.name)),
                        );
                    }
                }
            }
        }
        if let (Some(drift), Some(diffusion), Some(th), Some(reset), Some(refractory)) =
            (drift, diffusion, th, rs, refractory)
        {
            self.m.density = Some(crate::ir::Density {
                var: index,
                lo,
                hi,
                drift,
                diffusion,
                threshold: th,
                reset,
                refractory,
                cells,
                grading,
                output: out_ident.name.clone(),
                output_state: out_state,
                span: model.span,
            });
            self.finish_states();
        }
    }

    /// The neuron of `use N` in a density: one state (the density's
    /// variable) with an ODE, and a threshold event that resets it.
    pub(super) fn density_neuron(&mut self, name: &ast::Ident, var: &ast::Ident) -> Option<DensityNeuron<'a>> {
        let lib = self.lib;
        let Some(nm) = lib.get(&name.name) else {
            self.require_model(name);
            return None;
        };
        let fail = |lw: &mut Self, msg: String, help: &str| {
            lw.err(Diagnostic::error(Code::BadDensity, msg).at(name.span, "this neuron").help(help.to_string()));
        };
        if nm.kind != ast::ModelKind::Neuron {
            self.err(
                Diagnostic::error(Code::WrongKind, format!("`{}` is a {}, not a neuron", name.name, nm.kind.keyword()))
                    .at(name.span, "not a neuron")
                    .help("a density is derived from a one-dimensional `neuron`"),
            );
            return None;
        }
        let states: Vec<&'a ast::Ident> = nm
            .stmts
            .iter()
            .flat_map(|s| match &s.kind {
                ast::StmtKind::State(ds) => ds.iter().map(|d| &d.name).collect::<Vec<_>>(),
                ast::StmtKind::Gate(g) => vec![&g.name],
                _ => vec![],
            })
            .collect();
        if states.len() != 1
            || nm.stmts.iter().any(|s| matches!(s.kind, ast::StmtKind::Use(_) | ast::StmtKind::Kinetic(_)))
        {
            fail(
                self,
                format!("`{}` is not one-dimensional: it has {} states", name.name, states.len()),
                "a density needs a neuron with one state (its membrane potential) and no channels",
            );
            return None;
        }
        let noisy = nm.stmts.iter().any(|s| {
            matches!(&s.kind, ast::StmtKind::Parameter(bs) if bs.iter().any(|b| crate::ir::noise::is_random_param(&b.name.name)))
        });
        if noisy {
            fail(
                self,
                format!(
                    "`{}` draws random numbers (white or escape noise, or draws in its events), which a density does not",
                    name.name
                ),
                "drop the noise from the neuron and declare it in the density: `input I = white(mean, sd, tau)`",
            );
            return None;
        }
        if states[0].name != var.name {
            self.err(
                Diagnostic::error(
                    Code::BadDensity,
                    format!("the density's variable is `{}`, the neuron's state is `{}`", var.name, states[0].name),
                )
                .at(var.span, "not the neuron's state")
                .help(format!("name the variable after the neuron's state: `variable {} in [...]`", states[0].name)),
            );
            return None;
        }
        let ode = nm.stmts.iter().find_map(|s| match &s.kind {
            ast::StmtKind::Ode { factor, state, rhs, .. } if state.name == var.name => Some((factor.as_ref(), rhs)),
            _ => None,
        });
        let Some((factor, rhs)) = ode else {
            fail(self, format!("`{}` has no d{}/dt", name.name, var.name), "the drift is the neuron's dV/dt");
            return None;
        };
        // on V >= V_th { V = V_r; emit spike; refractory t_ref }
        let event = nm.stmts.iter().find_map(|s| {
            let ast::StmtKind::On { trigger: ast::Trigger::Condition(cond), actions } = &s.kind else { return None };
            let ExprKind::Binary(ast::BinOp::Ge | ast::BinOp::Gt, l, r) = &cond.kind else { return None };
            if !matches!(&l.kind, ExprKind::Name(n) if *n == var.name) {
                return None;
            }
            let reset = actions.iter().find_map(|a| match a {
                ast::Action::Assign { target, op: ast::AssignOp::Set, value, .. } if target.name == var.name => {
                    Some(value)
                }
                _ => None,
            })?;
            let refr = actions.iter().find_map(|a| match a {
                ast::Action::Refractory { duration, .. } => Some(duration),
                _ => None,
            });
            Some((r.as_ref(), reset, refr))
        });
        let Some((threshold, reset, refractory)) = event else {
            fail(
                self,
                format!("`{}` has no threshold event that resets `{}`", name.name, var.name),
                "the neuron needs `on V >= V_th { V = V_r; emit spike; refractory t_ref }`",
            );
            return None;
        };
        Some(DensityNeuron { model: nm, factor, rhs, threshold, reset, refractory })
    }

    /// Declares what a used neuron declares and the density does not:
    /// parameters, inputs, values and functions (the density's own win).
    pub(super) fn collect_missing(&mut self, nm: &'a ast::Model) {
        for stmt in &nm.stmts {
            match &stmt.kind {
                ast::StmtKind::Parameter(bs) => {
                    for b in bs {
                        if !self.spaces[0].entries.contains_key(&b.name.name) {
                            self.declare(0, &b.name, Decl::Param { ast: b });
                        }
                    }
                }
                ast::StmtKind::Input(bs) => {
                    for b in bs {
                        if !self.spaces[0].entries.contains_key(&b.name.name) {
                            self.declare(0, &b.name, Decl::Value { ast: b, kind: ValueKind::Input });
                        }
                    }
                }
                ast::StmtKind::Derived(b) if !self.spaces[0].entries.contains_key(&b.name.name) => {
                    self.declare(0, &b.name, Decl::Value { ast: b, kind: ValueKind::Derived });
                }
                ast::StmtKind::Fn(f) if !self.spaces[0].entries.contains_key(&f.name.name) => {
                    self.declare(0, &f.name, Decl::Fn(f));
                }
                _ => {}
            }
        }
    }

    /// The diffusion of white-noise inputs `I = white(mean, sd, tau)`: each
    /// adds (d drift / d I)^2 sd^2 tau / 2, the derivative symbolic.
    pub(super) fn white_diffusion(
        &mut self,
        model: &ast::Model,
        drift: ExprId,
        noisy: &[(&'a ast::Ident, &'a ast::Expr, &'a ast::Expr)],
        want: Dim,
    ) -> Option<ExprId> {
        if noisy.is_empty() {
            self.err(
                Diagnostic::error(Code::BadDensity, format!("density `{}` has no noise", model.name.name))
                    .at(model.name.span, "no diffusion")
                    .help("declare the neuron's input as white noise in the density, `input I = white(0.2 nA, 0.05 nA, 20 ms)`: the input is mean + sd sqrt(tau) xi(t); or give `diffusion = ...`"),
            );
            return None;
        }
        let dynamic = Scope { space: 0, locals: &[], mode: Mode::Dynamic };
        let mut total: Option<ExprId> = None;
        for (input, sd, tau) in noisy {
            let Some(Var::Value(i)) = self.force(0, &input.name) else {
                if !self.diags.has_errors() {
                    self.err(
                        Diagnostic::internal(format!("noisy input `{}` did not lower to a value", input.name))
                            .at(input.span, "this input"),
                    );
                }
                return None;
            };
            let slope = match crate::symbolic::diff(&mut self.m, drift, Var::Value(i)) {
                Ok(d) => d,
                Err(why) => {
                    self.err(
                        Diagnostic::internal(format!("d drift / d {}: {why}", input.name)).at(input.span, "this input"),
                    );
                    return None;
                }
            };
            let sd_id = self.expr(&dynamic, sd);
            let tau_id = self.expr(&dynamic, tau);
            let idim = self.m.values[i].dim;
            self.expect_dim(sd_id, idim, "the noise's standard deviation", sd.span)?;
            self.expect_dim(tau_id, dims::time(), "the noise's time scale", tau.span)?;
            let span = input.span;
            let sq = self.binary(ast::BinOp::Mul, slope, slope, span);
            let sd2 = self.binary(ast::BinOp::Mul, sd_id, sd_id, span);
            let a = self.binary(ast::BinOp::Mul, sq, sd2, span);
            let b = self.binary(ast::BinOp::Mul, a, tau_id, span);
            let half = self.m.arena.add(NodeKind::Const(0.5), Ty::Num(Dim::NONE), span);
            let term = self.binary(ast::BinOp::Mul, half, b, span);
            total = Some(match total {
                Some(t) => self.binary(ast::BinOp::Add, t, term, span),
                None => term,
            });
        }
        let total = total?;
        let total = crate::symbolic::simplify(&mut self.m, total);
        self.expect_dim(total, want, "the derived diffusion", self.m.arena.span(total))
    }

    /// `drift` or `diffusion`: a value, or a function of the variable alone.
    pub(super) fn density_term(
        &mut self,
        model: &'a ast::Model,
        name: &str,
        var: &ast::Ident,
        index: usize,
        want: Dim,
    ) -> Option<ExprId> {
        let dynamic = Scope { space: 0, locals: &[], mode: Mode::Dynamic };
        let decl = self.spaces[0].entries.get(name).map(|e| (e.decl, e.span));
        let v = self.m.arena.add(NodeKind::Var(Var::State(index)), Ty::Num(self.m.states[index].dim), var.span);
        let (id, span) = match decl {
            Some((Decl::Fn(f), span)) => (self.inline(&dynamic, f, &[v], f.name.span, f.name.span), span),
            Some((Decl::Value { .. }, span)) => match self.force(0, name) {
                Some(x) => {
                    let ty = self.m.values.get(match x {
                        Var::Value(i) => i,
                        _ => return None,
                    });
                    let ty = ty.map(|v| Ty::Num(v.dim)).unwrap_or(Ty::Error);
                    (self.m.arena.add(NodeKind::Var(x), ty, span), span)
                }
                None => return None,
            },
            _ => {
                let example =
                    if name == "drift" { "drift(V) = (mu - V) / tau" } else { "diffusion = sigma^2 / (2 * tau)" };
                self.err(
                    Diagnostic::error(Code::BadDensity, format!("density `{}` has no {name}", model.name.name))
                        .at(model.name.span, format!("{name} missing"))
                        .help(format!("add `{example}`")),
                );
                return None;
            }
        };
        let what = format!("the {name}");
        self.expect_dim(id, want, &what, span)
    }
}
