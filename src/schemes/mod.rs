//! Schemes: how each state is integrated, derived from the equations.
//!
//! Input: a lowered [`Model`] and the method the user asked for (per model,
//! per equation, or on the command line). Output: a [`Plan`], a list of
//! [`Block`]s that together update every state over one step, and a report
//! of what was found and why each method was chosen (`neuroc explain`).
//!
//! Analysis ([`classify`]) differentiates each right side symbolically:
//! - a *gate* (`gate` statement), or any `dx/dt = a - b x` whose `b = -∂f/∂x`
//!   does not depend on `x` (conditionally linear) -> exponential Euler
//!   (Rush-Larsen; NEURON's `cnexp`): `x += (a/b - x)(1 - exp(-b h))`;
//! - states whose every partial derivative is constant form linear systems
//!   `y' = A y + b` -> exact integration (Rotter & Diesmann 1999): the
//!   propagators `e^{A h}` and `∫ e^{A s} ds` computed once per step length;
//! - species of a kinetic scheme -> the exponential of the rate matrix
//!   (conserves total occupancy);
//! - anything else -> classic RK4 under `auto`.
//!
//! Explicit methods (`euler`, `rk2`, `rk4`, adaptive `rk45` Dormand-Prince)
//! and implicit ones (`backward_euler`, `trapezoidal` a.k.a. `implicit`,
//! Newton iterations on the symbolic Jacobian) apply to any equation. A
//! method that does not apply is an error that says why (E0402).
//!
//! When blocks use different methods they are applied side by side from the
//! same old state (first-order operator splitting); a plan with one block is
//! the method itself, at its own order.

pub mod linalg;

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::ir::{ExprId, Model, NodeKind, Var};
use crate::source::Span;
use crate::symbolic;

pub use crate::ir::method::{unknown_method, Method, METHODS};

/// What the analysis found about one state's equation.
#[derive(Clone, Debug, PartialEq)]
pub enum Class {
    /// No ODE: changed by events only, or constant.
    NoOde,
    Gate,
    /// `dx/dt = a - b x` with `b` independent of x.
    ConditionallyLinear,
    /// All partial derivatives constant.
    LinearConstant,
    Kinetic,
    General,
}

impl Class {
    pub fn describe(&self) -> &'static str {
        match self {
            Class::NoOde => "no ODE",
            Class::Gate => "gate (alpha/beta or inf/tau)",
            Class::ConditionallyLinear => "linear in itself, coefficients depend on other states",
            Class::LinearConstant => "linear with constant coefficients",
            Class::Kinetic => "kinetic scheme species",
            Class::General => "nonlinear",
        }
    }
}

/// One group of states updated together by one method.
#[derive(Clone, Debug)]
pub enum Block {
    Explicit {
        method: Method,
        states: Vec<usize>,
    },
    /// theta = 1: backward Euler; theta = 1/2: trapezoidal. `jac` is the
    /// block's Jacobian, row-major over `states`.
    Implicit {
        theta: f64,
        states: Vec<usize>,
        jac: Vec<ExprId>,
    },
    /// `rate` is b = -∂f/∂x.
    ExpEuler {
        state: usize,
        rate: ExprId,
    },
    /// `a` is the constant matrix A, row-major over `states`.
    Exact {
        states: Vec<usize>,
        a: Vec<ExprId>,
    },
    Kinetic {
        kinetic: usize,
    },
}

impl Block {
    pub fn states(&self, m: &Model) -> Vec<usize> {
        match self {
            Block::Explicit { states, .. } | Block::Implicit { states, .. } | Block::Exact { states, .. } => {
                states.clone()
            }
            Block::ExpEuler { state, .. } => vec![*state],
            Block::Kinetic { kinetic } => m.kinetics.get(*kinetic).map(|k| k.species.clone()).unwrap_or_default(),
        }
    }
}

/// What `explain` prints for one state.
#[derive(Clone, Debug)]
pub struct StateReport {
    pub state: usize,
    pub class: Class,
    pub method: Method,
    pub reason: String,
    /// Derived formulas: (name, expression).
    pub formulas: Vec<(String, ExprId)>,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub blocks: Vec<Block>,
    pub report: Vec<StateReport>,
}

impl Plan {
    /// A short name of the plan: `rk4`, or `auto (exp_euler + exact)`.
    pub fn summary(&self, requested: Method) -> String {
        let mut used: Vec<&str> = Vec::new();
        for r in &self.report {
            if r.class != Class::NoOde && !used.contains(&r.method.name()) {
                used.push(r.method.name());
            }
        }
        if requested == Method::Auto {
            format!("auto: {}", used.join(" + "))
        } else if used.len() > 1 {
            used.join(" + ")
        } else {
            requested.name().to_string()
        }
    }
}

/// Analysis of one model: the symbolic Jacobian and each state's class.
pub struct Analysis {
    /// jac[i][j] = ∂f_i/∂x_j (None when the state has no ODE).
    pub jac: Vec<Option<Vec<ExprId>>>,
    pub class: Vec<Class>,
    /// Why a state is not linear-constant: (j, ∂f_i/∂x_j) that is not constant.
    pub nonconstant: Vec<Option<(usize, ExprId)>>,
}

/// Variables an expression depends on, through derived values.
pub fn deps(m: &Model, e: ExprId) -> Vec<Var> {
    let mut out = Vec::new();
    let mut stack = vec![e];
    let mut seen = Vec::new();
    while let Some(x) = stack.pop() {
        match m.arena.kind(x) {
            NodeKind::Var(Var::Value(k)) => {
                if !seen.contains(k) {
                    seen.push(*k);
                    if let Some(v) = m.values.get(*k) {
                        stack.push(v.expr);
                    }
                }
            }
            NodeKind::Var(v) => {
                if !out.contains(v) {
                    out.push(*v)
                }
            }
            _ => stack.extend(m.arena.children(x)),
        }
    }
    out
}

fn is_constant(m: &Model, e: ExprId) -> bool {
    deps(m, e).iter().all(|v| matches!(v, Var::Param(_)))
}

fn is_zero(m: &Model, e: ExprId) -> bool {
    m.arena.as_const(e) == Some(0.0)
}

/// Differentiates every right side and classifies every state.
pub fn classify(m: &mut Model) -> Result<Analysis, Diagnostic> {
    let n = m.states.len();
    let mut jac = Vec::with_capacity(n);
    for i in 0..n {
        let Some(rhs) = m.states[i].rhs else {
            jac.push(None);
            continue;
        };
        let mut row = Vec::with_capacity(n);
        for j in 0..n {
            let d = symbolic::diff(m, rhs, Var::State(j)).map_err(|e| {
                Diagnostic::error(
                    Code::SchemeNotApplicable,
                    format!("cannot differentiate d{}/dt: {e}", m.states[i].name),
                )
                .at(m.states[i].rhs_span, "here")
                .help("choose an explicit method (euler, rk4) for this equation")
            })?;
            row.push(symbolic::simplify(m, d));
        }
        jac.push(Some(row));
    }
    let mut class = Vec::with_capacity(n);
    let mut nonconstant = Vec::with_capacity(n);
    for i in 0..n {
        let Some(row) = &jac[i] else {
            class.push(Class::NoOde);
            nonconstant.push(None);
            continue;
        };
        let bad = row.iter().enumerate().find(|(_, d)| !is_constant(m, **d)).map(|(j, d)| (j, *d));
        nonconstant.push(bad);
        let self_linear = !deps(m, row[i]).contains(&Var::State(i));
        let c = if m.states[i].kinetic.is_some() {
            Class::Kinetic
        } else if m.states[i].gate.is_some() {
            Class::Gate
        } else if bad.is_none() {
            Class::LinearConstant
        } else if self_linear {
            Class::ConditionallyLinear
        } else {
            Class::General
        };
        class.push(c);
    }
    Ok(Analysis { jac, class, nonconstant })
}

/// Derives the plan. `default` is the model-wide method (from the command
/// line, else the model's `method =`, else auto); per-equation methods
/// override it.
#[allow(clippy::needless_range_loop)] // `i` names a state across several tables
pub fn derive_plan(m: &mut Model, default: Method) -> (Option<Plan>, Diagnostics) {
    let mut diags = Diagnostics::default();
    let an = match classify(m) {
        Ok(a) => a,
        Err(d) => {
            diags.push(d);
            return (None, diags);
        }
    };
    let n = m.states.len();
    let model_span = m.method.as_ref().map_or(m.span, |(_, s)| *s);
    let mut chosen: Vec<Option<(Method, String)>> = vec![None; n];
    for i in 0..n {
        if an.class[i] == Class::NoOde {
            continue;
        }
        let (asked, span) = match &m.states[i].method {
            Some((name, span)) => (Method::parse(name).unwrap_or(Method::Auto), *span),
            None => (default, model_span),
        };
        let pick = if asked == Method::Auto { auto_method(&an.class[i]) } else { asked };
        if let Err(why) = applies(m, &an, i, pick) {
            diags.push(
                Diagnostic::error(
                    Code::SchemeNotApplicable,
                    format!("`{}` does not apply to d{}/dt: {why}", pick.name(), m.states[i].name),
                )
                .at(m.states[i].rhs_span, format!("this equation is {}", an.class[i].describe()))
                .with_label(span, "method asked for here")
                .help(format!(
                    "use `auto` (it would choose `{}`), or an explicit or implicit method: euler, rk4, trapezoidal",
                    auto_method(&an.class[i]).name()
                )),
            );
            continue;
        }
        let reason = reason(&an.class[i], asked == Method::Auto, pick);
        chosen[i] = Some((pick, reason));
    }
    if diags.has_errors() {
        return (None, diags);
    }

    // Group states into blocks.
    let mut blocks = Vec::new();
    let mut report = Vec::new();
    let mut done = vec![false; n];
    for i in 0..n {
        let Some((method, reason)) = chosen[i].clone() else {
            report.push(StateReport {
                state: i,
                class: Class::NoOde,
                method: Method::Auto,
                reason: "changed by events only".into(),
                formulas: vec![],
            });
            continue;
        };
        let mut formulas = Vec::new();
        match method {
            Method::ExpEuler => {
                let row = an.jac[i].as_ref().map(|r| r[i]);
                if let Some(j) = row {
                    let span = m.states[i].rhs_span;
                    let rate = symbolic::Builder { m }.neg(j, span);
                    let rate = symbolic::simplify(m, rate);
                    if m.states[i].gate.is_some() {
                        // explain prints a gate's x_inf and tau with the gate
                    } else if let Some(rhs) = m.states[i].rhs {
                        // x_inf = x + f / b, tau = 1 / b
                        let x = m.arena.add(NodeKind::Var(Var::State(i)), crate::ir::Ty::Num(m.states[i].dim), span);
                        let mut b = symbolic::Builder { m };
                        let q = b.div(rhs, rate, span);
                        let inf = b.add(x, q, span);
                        let one = b.constant(1.0, crate::units::Dim::NONE, span);
                        let tau = b.div(one, rate, span);
                        let inf = symbolic::simplify(m, inf);
                        let tau = symbolic::simplify(m, tau);
                        let local = m.states[i].name.clone();
                        formulas.push((format!("{local}_inf"), inf));
                        formulas.push((format!("tau_{local}"), tau));
                    }
                    blocks.push(Block::ExpEuler { state: i, rate });
                }
                done[i] = true;
            }
            Method::Kinetic => {
                if let Some(k) = m.states[i].kinetic {
                    if !blocks.iter().any(|b| matches!(b, Block::Kinetic { kinetic } if *kinetic == k)) {
                        blocks.push(Block::Kinetic { kinetic: k });
                    }
                }
                done[i] = true;
            }
            _ => {}
        }
        report.push(StateReport { state: i, class: an.class[i].clone(), method, reason, formulas });
    }
    // Exact: connected components of linear-constant states with this method.
    let exact: Vec<usize> = (0..n).filter(|&i| matches!(&chosen[i], Some((Method::Exact, _)))).collect();
    let mut comp: Vec<usize> = (0..n).collect();
    fn find(c: &mut [usize], x: usize) -> usize {
        let mut r = x;
        while c[r] != r {
            r = c[r];
        }
        c[x] = r;
        r
    }
    for &i in &exact {
        for &j in &exact {
            if let Some(row) = &an.jac[i] {
                if !is_zero(m, row[j]) {
                    let (a, b) = (find(&mut comp, i), find(&mut comp, j));
                    comp[a] = b;
                }
            }
        }
    }
    let mut roots: Vec<usize> = Vec::new();
    for &i in &exact {
        let r = find(&mut comp, i);
        if !roots.contains(&r) {
            roots.push(r);
        }
    }
    for r in roots {
        let states: Vec<usize> = exact.iter().copied().filter(|&i| find(&mut comp, i) == r).collect();
        let mut a = Vec::new();
        for &i in &states {
            for &j in &states {
                a.push(an.jac[i].as_ref().map_or(ExprId(0), |row| row[j]));
            }
        }
        for &i in &states {
            done[i] = true;
            if let Some(rep) = report.iter_mut().find(|r| r.state == i) {
                for (k, &j) in states.iter().enumerate() {
                    let e = a[states.iter().position(|&s| s == i).unwrap_or(0) * states.len() + k];
                    if !is_zero(m, e) {
                        rep.formulas.push((format!("A[{}, {}]", m.states[i].name, m.states[j].name), e));
                    }
                }
            }
        }
        blocks.push(Block::Exact { states, a });
    }
    // Explicit and implicit methods: one block per method.
    for method in [Method::Euler, Method::Rk2, Method::Rk4, Method::Rk45, Method::BackwardEuler, Method::Trapezoidal] {
        let states: Vec<usize> =
            (0..n).filter(|&i| !done[i] && matches!(&chosen[i], Some((x, _)) if *x == method)).collect();
        if states.is_empty() {
            continue;
        }
        match method {
            Method::BackwardEuler | Method::Trapezoidal => {
                let mut jac = Vec::new();
                for &i in &states {
                    for &j in &states {
                        jac.push(an.jac[i].as_ref().map_or(ExprId(0), |row| row[j]));
                    }
                }
                let theta = if method == Method::BackwardEuler { 1.0 } else { 0.5 };
                blocks.push(Block::Implicit { theta, states, jac });
            }
            _ => blocks.push(Block::Explicit { method, states }),
        }
    }
    report.sort_by_key(|r| r.state);
    (Some(Plan { blocks, report }), diags)
}

fn auto_method(c: &Class) -> Method {
    match c {
        Class::Gate | Class::ConditionallyLinear => Method::ExpEuler,
        Class::LinearConstant => Method::Exact,
        Class::Kinetic => Method::Kinetic,
        Class::General | Class::NoOde => Method::Rk4,
    }
}

fn reason(c: &Class, auto: bool, pick: Method) -> String {
    if !auto {
        return format!("`{}` as asked", pick.name());
    }
    match c {
        Class::Gate => "a gate is linear in itself: exponential (Rush-Larsen) update, exact for frozen V".into(),
        Class::ConditionallyLinear => {
            "linear in itself with coefficients that depend on other states: exponential Euler".into()
        }
        Class::LinearConstant => "linear with constant coefficients: exact propagator (Rotter & Diesmann 1999)".into(),
        Class::Kinetic => "a kinetic scheme: matrix exponential of its rates, total occupancy conserved".into(),
        Class::General => "nonlinear in itself: classic RK4".into(),
        Class::NoOde => String::new(),
    }
}

/// Whether `method` can integrate state i; the reason if not.
fn applies(m: &Model, an: &Analysis, i: usize, method: Method) -> Result<(), String> {
    match method {
        Method::Exact => {
            if let Some((j, d)) = an.nonconstant[i] {
                return Err(format!(
                    "exact integration needs constant coefficients, but ∂(d{}/dt)/∂{} = {} is not constant",
                    m.states[i].name,
                    m.states[j].name,
                    crate::ir::print_expr(m, d)
                ));
            }
            if m.states[i].kinetic.is_some() {
                return Err("the species of a kinetic scheme use `kinetic`".into());
            }
            Ok(())
        }
        Method::ExpEuler => match an.class[i] {
            Class::General => Err(format!(
                "exponential Euler needs d{0}/dt = a - b {0} with b independent of {0}, but ∂(d{0}/dt)/∂{0} depends on {0}",
                m.states[i].name
            )),
            Class::Kinetic => Err("the species of a kinetic scheme use `kinetic`".into()),
            _ => Ok(()),
        },
        Method::Kinetic => {
            if m.states[i].kinetic.is_some() {
                Ok(())
            } else {
                Err("it is not a species of a kinetic scheme".into())
            }
        }
        _ => Ok(()),
    }
}

/// x_inf and tau_x of a gate, as derived expressions.
pub fn gate_formulas(m: &mut Model, form: &crate::ir::GateForm, name: &str, span: Span) -> Vec<(String, ExprId)> {
    let local = name.rsplit('.').next().unwrap_or(name).to_string();
    let (inf, tau) = match *form {
        crate::ir::GateForm::AlphaBeta { alpha, beta } => {
            let mut b = symbolic::Builder { m };
            let sum = b.add(alpha, beta, span);
            let inf = b.div(alpha, sum, span);
            let one = b.constant(1.0, crate::units::Dim::NONE, span);
            let tau = b.div(one, sum, span);
            (inf, tau)
        }
        crate::ir::GateForm::InfTau { inf, tau } => (inf, tau),
    };
    vec![(format!("{local}_inf"), inf), (format!("tau_{local}"), tau)]
}
