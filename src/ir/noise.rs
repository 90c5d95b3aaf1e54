//! White noise inside point models (neurons, channels, synapses, rate
//! models): `noise X = white(SIGMA)` adds `SIGMA xi(t)` to `dX/dt`, where
//! `xi` is Gaussian white noise (`<xi(t) xi(s)> = delta(t - s)`, unit
//! 1/sqrt(s)), so `SIGMA` has the unit of X per square root of time and a
//! wrong one is E0301 like any term added to the ODE. `SIGMA` may read the
//! model's states (multiplicative noise).
//!
//! Before lowering, each such statement becomes a parameter `xi(X)` (in
//! 1/sqrt(s), 0 unless a run fills it) and the term `SIGMA * xi(X)` added
//! to X's equation, so the units, `explain`, channel flattening (a
//! channel's `xi(g)` becomes the neuron's `Chan.xi(g)`) and the schemes
//! see an ordinary parameter. Runs that simulate noise fill every `xi`
//! parameter per neuron and step with a standard normal over sqrt(dt),
//! held over the step (see `runtime::noise`); the others refuse models
//! that have one.

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::syntax::ast::{self, BinOp, Expr, ExprKind, StmtKind};

/// The parameter that carries the noise of state `state`.
pub fn param_name(state: &str) -> String {
    format!("xi({state})")
}

/// Whether a model's parameter (`xi(V)`, or `Chan.xi(g)` after a channel
/// was flattened) carries white noise.
pub fn is_noise_param(name: &str) -> bool {
    let base = name.rsplit('.').next().unwrap_or(name);
    base.starts_with("xi(") && base.ends_with(')')
}

/// Whether a model's parameter is drawn by a run at every step (white or
/// escape noise, or an event's draw).
pub fn is_random_param(name: &str) -> bool {
    is_noise_param(name) || is_escape_param(name) || event_draw(name).is_some()
}

/// Whether a model's parameter (`escape(0)`, or `Chan.escape(0)`) is the
/// draw of an `on hazard(RHO)` event.
pub fn is_escape_param(name: &str) -> bool {
    let base = name.rsplit('.').next().unwrap_or(name);
    base.starts_with("escape(") && base.ends_with(')')
}

/// What a run draws into a random parameter each step, per neuron.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Draw {
    /// White noise `xi(X)`: a standard normal over sqrt(dt).
    Normal,
    /// Escape noise `escape(K)`: an exponential variable (mean 1) over dt.
    Escape,
    /// `normal(MEAN, SD)` in an event's action, `z(K)`: a standard normal.
    StandardNormal,
    /// `uniform(LO, HI)` in an event's action, `u(K)`: uniform on [0, 1).
    Uniform,
}

/// What a random parameter (`z(0)`, `Chan.u(1)`) draws, if it is one of
/// an event's draws.
fn event_draw(name: &str) -> Option<Draw> {
    let base = name.rsplit('.').next().unwrap_or(name);
    let inner =
        |p: &str| base.strip_prefix(p).and_then(|r| r.strip_suffix(')')).is_some_and(|d| d.parse::<u32>().is_ok());
    if inner("z(") {
        Some(Draw::StandardNormal)
    } else if inner("u(") {
        Some(Draw::Uniform)
    } else {
        None
    }
}

/// The parameters of a lowered model that a run draws at every step
/// (white and escape noise), with what it draws.
pub fn random_params(m: &super::Model) -> Vec<(usize, Draw)> {
    m.params
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            if is_noise_param(&p.name) {
                Some((i, Draw::Normal))
            } else if is_escape_param(&p.name) {
                Some((i, Draw::Escape))
            } else {
                event_draw(&p.name).map(|d| (i, d))
            }
        })
        .collect()
}

/// The parameters of a lowered model that a run draws at every step.
pub fn noise_params(m: &super::Model) -> Vec<usize> {
    random_params(m).into_iter().map(|(i, _)| i).collect()
}

/// Rewrites the `noise` statements of a point model as described in the
/// module's documentation. E0214 for a noise in a model of another kind
/// is left to lowering; here: E0207 for a noise that is not
/// `white(SIGMA)`, E0208 for a target that is not a state with an ODE of
/// this model, E0202 for two noises on one state.
pub fn graft(model: &mut ast::Model) -> Diagnostics {
    let mut diags = Diagnostics::default();
    let point = matches!(
        model.kind,
        ast::ModelKind::Neuron | ast::ModelKind::Channel | ast::ModelKind::Synapse | ast::ModelKind::Rate
    );
    if !point {
        return diags;
    }
    graft_hazards(model);
    graft_draws(model);
    if !model.stmts.iter().any(|s| matches!(s.kind, StmtKind::Noise { .. })) {
        return diags;
    }
    let mut added: Vec<ast::Stmt> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let stmts = std::mem::take(&mut model.stmts);
    let mut kept = Vec::with_capacity(stmts.len());
    let mut noises = Vec::new();
    for s in stmts {
        match s.kind {
            StmtKind::Noise { target, value } => noises.push((target, value, s.span)),
            _ => kept.push(s),
        }
    }
    model.stmts = kept;
    let help = "`noise V = white(sigma)` adds sigma xi(t) to dV/dt; sigma has V's unit per square root of time, e.g. `white(2 mV / sqrt(10 ms))`";
    for (target, value, span) in noises {
        let [x] = target.as_slice() else {
            diags.push(
                Diagnostic::error(Code::OdeNotState, "a noise enters one state of this model")
                    .at(span, "not one state")
                    .help(help),
            );
            continue;
        };
        let sigma = match &value.kind {
            ExprKind::Call(f, args) if matches!(&f.kind, ExprKind::Name(n) if n == "white") && args.len() == 1 => {
                args[0].clone()
            }
            _ => {
                diags.push(
                    Diagnostic::error(Code::UnknownFunction, "a noise inside a model is `white(SIGMA)`")
                        .at(value.span, "not white(...)")
                        .help(format!(
                            "{help}; an Ornstein-Uhlenbeck process is a state with white noise: `dg/dt = (g0 - g) / tau` and `noise g = white(s * sqrt(2 / tau))`"
                        )),
                );
                continue;
            }
        };
        if seen.contains(&x.name) {
            diags.push(
                Diagnostic::error(Code::Duplicate, format!("two noises on `{}`", x.name))
                    .at(span, "a second noise")
                    .help("add their variances in one: `white(sqrt(s1^2 + s2^2))`"),
            );
            continue;
        }
        let ode = model.stmts.iter_mut().find_map(|st| match &mut st.kind {
            StmtKind::Ode { factor, state, rhs, .. } if state.name == x.name => Some((factor, rhs)),
            _ => None,
        });
        let Some((factor, rhs)) = ode else {
            diags.push(
                Diagnostic::error(
                    Code::OdeNotState,
                    format!("`{}` has no ODE in `{}` to add noise to", x.name, model.name.name),
                )
                .at(x.span, "not a state with an ODE here")
                .help(help),
            );
            continue;
        };
        seen.push(x.name.clone());
        let name = param_name(&x.name);
        let bin = |op, a: Expr, b: Expr| Expr { kind: ExprKind::Binary(op, Box::new(a), Box::new(b)), span };
        let mut term = bin(BinOp::Mul, sigma, Expr { kind: ExprKind::Name(name.clone()), span });
        if let Some(f) = factor {
            // `C dV/dt = ...`: the noise is V's, so it is multiplied by C too
            term = bin(BinOp::Mul, f.clone(), term);
        }
        *rhs = bin(BinOp::Add, rhs.clone(), term);
        let unit = ast::UnitExpr {
            factors: vec![ast::UnitFactor { name: "s".into(), power: (-1, 2), span }],
            text: "s^(-1/2)".into(),
            span,
        };
        let zero = Expr { kind: ExprKind::Number { value: 0.0, unit: Some(unit) }, span };
        let binding = ast::Binding { name: ast::Ident { name, span: x.span }, value: zero };
        added.push(ast::Stmt { kind: StmtKind::Parameter(vec![binding]), span });
    }
    model.stmts.extend(added);
    diags
}

/// `on hazard(RHO) { ... }`: escape noise. The event becomes `on RHO >
/// escape(K) { ... }` with a parameter `escape(K)` (1/s) that a run fills
/// per neuron and step with an exponential variable over dt, so that the
/// event fires in a step with probability 1 - exp(-RHO dt); lowering
/// recognizes the form and fires it at every step it holds (not only when
/// it becomes true). RHO is a rate: a wrong unit is E0301.
fn graft_hazards(model: &mut ast::Model) {
    let mut k = 0;
    let mut added = Vec::new();
    for st in &mut model.stmts {
        let StmtKind::On { trigger: ast::Trigger::Condition(c), .. } = &mut st.kind else { continue };
        let ExprKind::Call(f, args) = &c.kind else { continue };
        if !matches!(&f.kind, ExprKind::Name(n) if n == "hazard") || args.len() != 1 {
            continue;
        }
        let span = c.span;
        let name = format!("escape({k})");
        k += 1;
        let rho = args[0].clone();
        let draw = Expr { kind: ExprKind::Name(name.clone()), span };
        *c = Expr { kind: ExprKind::Binary(BinOp::Gt, Box::new(rho), Box::new(draw)), span };
        let unit = ast::UnitExpr {
            factors: vec![ast::UnitFactor { name: "s".into(), power: (-1, 1), span }],
            text: "1/s".into(),
            span,
        };
        let zero = Expr { kind: ExprKind::Number { value: 0.0, unit: Some(unit) }, span };
        let binding = ast::Binding { name: ast::Ident { name, span }, value: zero };
        added.push(ast::Stmt { kind: StmtKind::Parameter(vec![binding]), span });
    }
    model.stmts.extend(added);
}

/// `normal(MEAN, SD)` and `uniform(LO, HI)` in an event's actions (`on
/// V >= V_th { V_th = normal(-50 mV, 2 mV) }`): each becomes `MEAN + SD *
/// z(K)` or `LO + (HI - LO) * u(K)` with a dimensionless parameter that a
/// run fills per neuron and step with a standard normal or a uniform
/// number on [0, 1), fresh at every step, so every firing draws anew.
fn graft_draws(model: &mut ast::Model) {
    let mut k = 0;
    let mut added = Vec::new();
    for st in &mut model.stmts {
        // a port's actions run at every step with the summed weight: a draw
        // there would be added without any spike (lowering reports the call)
        let StmtKind::On { trigger, actions } = &mut st.kind else { continue };
        if matches!(trigger, ast::Trigger::Spike { .. }) {
            continue;
        }
        for a in actions {
            let (ast::Action::Assign { value, .. } | ast::Action::Refractory { duration: value, .. }) = a else {
                continue;
            };
            replace_draws(value, &mut k, &mut added);
        }
    }
    model.stmts.extend(added);
}

fn replace_draws(e: &mut Expr, k: &mut usize, added: &mut Vec<ast::Stmt>) {
    let span = e.span;
    match &mut e.kind {
        ExprKind::Call(f, args) => {
            let which = match &f.kind {
                ExprKind::Name(n) if (n == "normal" || n == "uniform") && args.len() == 2 => Some(n.clone()),
                _ => None,
            };
            for a in args.iter_mut() {
                replace_draws(a, k, added);
            }
            let Some(which) = which else { return };
            let (first, second) = (args[0].clone(), args[1].clone());
            let name = format!("{}({k})", if which == "normal" { "z" } else { "u" });
            *k += 1;
            let bin = |op, a: Expr, b: Expr| Expr { kind: ExprKind::Binary(op, Box::new(a), Box::new(b)), span };
            let draw = Expr { kind: ExprKind::Name(name.clone()), span };
            let scale = if which == "normal" { second } else { bin(BinOp::Sub, second, first.clone()) };
            *e = bin(BinOp::Add, first, bin(BinOp::Mul, scale, draw));
            let zero = Expr { kind: ExprKind::Number { value: 0.0, unit: None }, span };
            let binding = ast::Binding { name: ast::Ident { name, span }, value: zero };
            added.push(ast::Stmt { kind: StmtKind::Parameter(vec![binding]), span });
        }
        ExprKind::Unary(_, a) => replace_draws(a, k, added),
        ExprKind::Binary(_, a, b) => {
            replace_draws(a, k, added);
            replace_draws(b, k, added);
        }
        ExprKind::If(c, a, b) => {
            replace_draws(c, k, added);
            replace_draws(a, k, added);
            replace_draws(b, k, added);
        }
        _ => {}
    }
}
