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

pub mod jacobian;
pub mod linalg;

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::ir::{ExprId, Model, NodeKind, Var};
use crate::source::Span;
use crate::symbolic;
pub use jacobian::Jacobian;

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
    /// block's Jacobian, sparse: (row, column, ∂f/∂x) with row and column
    /// positions in `states`, only the entries that are not zero.
    Implicit {
        theta: f64,
        states: Vec<usize>,
        jac: Vec<(usize, usize, ExprId)>,
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
    /// `implicit`: backward Euler (one linear solve) instead of the
    /// matrix exponential.
    Kinetic {
        kinetic: usize,
        implicit: bool,
    },
}

impl Block {
    pub fn states(&self, m: &Model) -> Vec<usize> {
        match self {
            Block::Explicit { states, .. } | Block::Implicit { states, .. } | Block::Exact { states, .. } => {
                states.clone()
            }
            Block::ExpEuler { state, .. } => vec![*state],
            Block::Kinetic { kinetic, .. } => m.kinetics.get(*kinetic).map(|k| k.species.clone()).unwrap_or_default(),
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
        if requested == Method::Auto && used.is_empty() {
            "events only".to_string()
        } else if requested == Method::Auto {
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
    /// ∂f_i/∂x_j, sparse, derived as needed (rows of states with ODEs).
    pub jac: Jacobian,
    pub class: Vec<Class>,
    /// Why a state is not linear-constant: (j, ∂f_i/∂x_j) that is not
    /// constant, for the first such j; `None` inside when all are constant,
    /// outside when not looked at yet ([`Analysis::nonconstant`]).
    nonconstant: Vec<Option<Option<(usize, ExprId)>>>,
}

impl Analysis {
    /// The first j (ascending) with ∂f_i/∂x_j not constant, and that
    /// entry; derives the row's entries up to it (all of them when none).
    pub fn nonconstant(&mut self, m: &mut Model, i: usize) -> Result<Option<(usize, ExprId)>, Diagnostic> {
        if let Some(Some(known)) = self.nonconstant.get(i) {
            return Ok(*known);
        }
        let mut bad = None;
        for k in 0..self.jac.cols(i).len() {
            let j = self.jac.cols(i)[k];
            let d = self.entry(m, i, j)?;
            // a coefficient that reads a random draw (multiplicative noise)
            // changes every step: not a constant of an exact propagator
            let random = crate::ir::noise::noise_params(m);
            let draws = m.refs(d).iter().any(|v| matches!(v, crate::ir::Var::Param(p) if random.contains(p)));
            if !self.jac.is_constant(m, d) || draws {
                bad = Some((j, d));
                break;
            }
        }
        if let Some(slot) = self.nonconstant.get_mut(i) {
            *slot = Some(bad);
        }
        Ok(bad)
    }

    /// ∂f_i/∂x_j, as a diagnostic when it cannot be derived.
    fn entry(&mut self, m: &mut Model, i: usize, j: usize) -> Result<ExprId, Diagnostic> {
        self.jac.entry(m, i, j).map_err(|e| not_differentiable(m, i, &e))
    }
}

fn not_differentiable(m: &Model, i: usize, why: &str) -> Diagnostic {
    Diagnostic::error(Code::SchemeNotApplicable, format!("cannot differentiate d{}/dt: {why}", m.states[i].name))
        .at(m.states[i].rhs_span, "here")
        .help("choose an explicit method (euler, rk4) for this equation")
}

/// Variables an expression depends on, through derived values, in the
/// order a depth-first walk meets them; each node and value walked once.
pub fn deps(m: &Model, e: ExprId) -> Vec<Var> {
    let mut out = Vec::new();
    let mut found = std::collections::HashSet::new();
    jacobian::walk_reads(m, e, |v| {
        if found.insert(v) {
            out.push(v);
        }
        false
    });
    out
}

fn is_zero(m: &Model, e: ExprId) -> bool {
    m.arena.as_const(e) == Some(0.0)
}

/// Classifies every state. Gates and kinetic species are known by their
/// declaration; for any other equation it derives the entries of its row
/// up to the first that is not constant (all of them for a linear-constant
/// row) and then the diagonal, not the rest: the class needs no more.
pub fn classify(m: &mut Model) -> Result<Analysis, Diagnostic> {
    let n = m.states.len();
    let mut an = Analysis { jac: Jacobian::new(m), class: Vec::with_capacity(n), nonconstant: vec![None; n] };
    for i in 0..n {
        let c = if !an.jac.has_row(i) {
            Class::NoOde
        } else if m.states[i].kinetic.is_some() {
            Class::Kinetic
        } else if m.states[i].gate.is_some() {
            Class::Gate
        } else if an.nonconstant(m, i)?.is_none() {
            Class::LinearConstant
        } else {
            let diagonal = an.entry(m, i, i)?;
            if jacobian::reads_state(m, diagonal, i) {
                Class::General
            } else {
                Class::ConditionallyLinear
            }
        };
        an.class.push(c);
    }
    Ok(an)
}

/// Derives the plan. `default` is the model-wide method (from the command
/// line, else the model's `method =`, else auto); per-equation methods
/// override it.
#[allow(clippy::needless_range_loop)] // `i` names a state across several tables
pub fn derive_plan(m: &mut Model, default: Method) -> (Option<Plan>, Diagnostics) {
    let mut diags = Diagnostics::default();
    let mut an = match classify(m) {
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
        let applies = match applies(m, &mut an, i, pick) {
            Ok(a) => a,
            Err(d) => {
                diags.push(d);
                return (None, diags);
            }
        };
        if let Err(why) = applies {
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

    match group_blocks(m, &mut an, &chosen) {
        Ok(plan) => (Some(plan), diags),
        Err(d) => {
            diags.push(d);
            (None, diags)
        }
    }
}

/// Groups the states into blocks by the methods chosen, with the report.
#[allow(clippy::needless_range_loop)] // `i` names a state across several tables
fn group_blocks(m: &mut Model, an: &mut Analysis, chosen: &[Option<(Method, String)>]) -> Result<Plan, Diagnostic> {
    let n = m.states.len();
    let mut blocks = Vec::new();
    let mut report = Vec::new();
    let mut done = vec![false; n];
    let mut kinetic_blocks = std::collections::HashSet::new();
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
                if an.jac.has_row(i) {
                    let j = an.entry(m, i, i)?;
                    let (rate, f) = exp_euler(m, i, j);
                    formulas = f;
                    blocks.push(Block::ExpEuler { state: i, rate });
                }
                done[i] = true;
            }
            Method::Kinetic | Method::KineticImplicit => {
                if let Some(k) = m.states[i].kinetic {
                    if kinetic_blocks.insert(k) {
                        blocks.push(Block::Kinetic { kinetic: k, implicit: method == Method::KineticImplicit });
                    }
                }
                done[i] = true;
            }
            _ => {}
        }
        report.push(StateReport { state: i, class: an.class[i].clone(), method, reason, formulas });
    }
    for (states, a) in exact_blocks(m, an, chosen)? {
        let k = states.len();
        for (r, &i) in states.iter().enumerate() {
            done[i] = true;
            // the report has one entry per state, in order
            let Some(rep) = report.get_mut(i).filter(|rep| rep.state == i) else { continue };
            for (c, &j) in states.iter().enumerate() {
                let e = a[r * k + c];
                if !is_zero(m, e) {
                    rep.formulas.push((format!("A[{}, {}]", m.states[i].name, m.states[j].name), e));
                }
            }
        }
        blocks.push(Block::Exact { states, a });
    }
    // Explicit and implicit methods: one block per method.
    for method in [
        Method::Euler,
        Method::Rk2,
        Method::Heun,
        Method::Rk4,
        Method::Rk45,
        Method::BackwardEuler,
        Method::Trapezoidal,
    ] {
        let states: Vec<usize> =
            (0..n).filter(|&i| !done[i] && matches!(&chosen[i], Some((x, _)) if *x == method)).collect();
        if states.is_empty() {
            continue;
        }
        match method {
            Method::BackwardEuler | Method::Trapezoidal => {
                let jac = block_jacobian(m, an, &states)?;
                let theta = if method == Method::BackwardEuler { 1.0 } else { 0.5 };
                blocks.push(Block::Implicit { theta, states, jac });
            }
            _ => blocks.push(Block::Explicit { method, states }),
        }
    }
    report.sort_by_key(|r| r.state);
    Ok(Plan { blocks, report })
}

/// Exponential Euler for state i with ∂f/∂x = `j`: the rate b = -j, and
/// for a state that is not a gate its `x_inf` and `tau` for `explain`.
fn exp_euler(m: &mut Model, i: usize, j: ExprId) -> (ExprId, Vec<(String, ExprId)>) {
    let span = m.states[i].rhs_span;
    let rate = symbolic::Builder { m }.neg(j, span);
    let rate = symbolic::simplify(m, rate);
    let mut formulas = Vec::new();
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
    (rate, formulas)
}

/// An exact block's states and its matrix A, row-major over them.
type ExactBlock = (Vec<usize>, Vec<ExprId>);

/// The blocks of `exact` states: connected components of the Jacobian's
/// nonzero pattern among them (in order of their first state), each with
/// its matrix A, dense and row-major over the component's states (the
/// propagator e^{Ah} of a coupled block is dense anyway).
fn exact_blocks(
    m: &mut Model,
    an: &mut Analysis,
    chosen: &[Option<(Method, String)>],
) -> Result<Vec<ExactBlock>, Diagnostic> {
    let n = m.states.len();
    let is_exact = |i: usize| matches!(chosen.get(i), Some(Some((Method::Exact, _))));
    let exact: Vec<usize> = (0..n).filter(|&i| is_exact(i)).collect();
    let mut comp: Vec<usize> = (0..n).collect();
    fn find(c: &mut [usize], x: usize) -> usize {
        let mut r = x;
        while c[r] != r {
            r = c[r];
        }
        let mut y = x;
        while c[y] != r {
            let next = c[y];
            c[y] = r;
            y = next;
        }
        r
    }
    for &i in &exact {
        for k in 0..an.jac.cols(i).len() {
            let j = an.jac.cols(i)[k];
            if !is_exact(j) {
                continue;
            }
            let e = an.entry(m, i, j)?;
            if !is_zero(m, e) {
                let (a, b) = (find(&mut comp, i), find(&mut comp, j));
                comp[a] = b;
            }
        }
    }
    let mut group_of = std::collections::HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for &i in &exact {
        let r = find(&mut comp, i);
        let g = *group_of.entry(r).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    let mut out = Vec::with_capacity(groups.len());
    for states in groups {
        let k = states.len();
        let mut a = vec![an.jac.zero(m); k * k];
        for (r, &i) in states.iter().enumerate() {
            for k2 in 0..an.jac.cols(i).len() {
                let j = an.jac.cols(i)[k2];
                if let Ok(c) = states.binary_search(&j) {
                    a[r * k + c] = an.entry(m, i, j)?;
                }
            }
        }
        out.push((states, a));
    }
    Ok(out)
}

/// The Jacobian of an implicit block over its states, sparse: (row,
/// column, entry) in row-major order, zeros left out.
fn block_jacobian(
    m: &mut Model,
    an: &mut Analysis,
    states: &[usize],
) -> Result<Vec<(usize, usize, ExprId)>, Diagnostic> {
    let mut jac = Vec::new();
    for (r, &i) in states.iter().enumerate() {
        for k in 0..an.jac.cols(i).len() {
            let j = an.jac.cols(i)[k];
            if let Ok(c) = states.binary_search(&j) {
                let e = an.entry(m, i, j)?;
                if !is_zero(m, e) {
                    jac.push((r, c, e));
                }
            }
        }
    }
    Ok(jac)
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

/// Whether `method` can integrate state i; the reason if not. (The outer
/// error: a derivative the answer needs cannot be taken.)
fn applies(m: &mut Model, an: &mut Analysis, i: usize, method: Method) -> Result<Result<(), String>, Diagnostic> {
    let nonconstant = if method == Method::Exact { an.nonconstant(m, i)? } else { None };
    Ok(why_not(m, &an.class[i], nonconstant, i, method))
}

fn why_not(
    m: &Model,
    class: &Class,
    nonconstant: Option<(usize, ExprId)>,
    i: usize,
    method: Method,
) -> Result<(), String> {
    match method {
        Method::Exact => {
            if let Some((j, d)) = nonconstant {
                return Err(format!(
                    "exact integration needs constant coefficients, but ∂(d{}/dt)/∂{} = {} is not constant",
                    m.states[i].name,
                    m.states[j].name,
                    crate::ir::print_expr(m, d)
                ));
            }
            if m.states[i].kinetic.is_some() {
                return Err("the species of a kinetic scheme use `kinetic` or `kinetic_implicit`".into());
            }
            Ok(())
        }
        Method::ExpEuler => match class {
            Class::General => Err(format!(
                "exponential Euler needs d{0}/dt = a - b {0} with b independent of {0}, but ∂(d{0}/dt)/∂{0} depends on {0}",
                m.states[i].name
            )),
            Class::Kinetic => Err("the species of a kinetic scheme use `kinetic` or `kinetic_implicit`".into()),
            _ => Ok(()),
        },
        Method::Kinetic | Method::KineticImplicit => {
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
