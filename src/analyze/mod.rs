//! `neuroc analyze`: fixed points and their stability, for a `rate` model
//! and for a `brain`.
//!
//! Input: a configured [`Run`] (the model with every setting, `--set` and,
//! for a brain, the couplings grafted onto its node) and [`Options`].
//! Output: a typed [`Report`], printed as text or JSON by `print`.
//!
//! Stages: [`system`] turns the node model into a vector field with its
//! symbolic Jacobian (the derivatives the implicit methods use) and the
//! coupling's linearization; [`rate`] finds one node's fixed points and
//! continues them in a parameter; [`brain`] solves the coupled system, its
//! full Jacobian, the collective modes of the connectome and the critical
//! coupling; [`linear`] holds the eigenvalues (`nalgebra`'s real Schur
//! form), Newton's method and the delay equation's characteristic roots.
//!
//! Invariants: nothing here panics on a model; no fixed point, a singular
//! Jacobian, or a model that is not a vector field are diagnostics (E0510,
//! E0511, E0512). Values are SI; conversion for people is in `print`.

mod brain;
pub mod linear;
mod print;
mod rate;
mod system;

pub use linear::C64;

use crate::diag::{Code, Diagnostic};
use crate::experiment::brain::BrainRun;
use crate::experiment::point::PointRun;
use crate::experiment::{Body, Run};
use crate::ir::{Model, Var};
use crate::source::Span;
use crate::syntax::ast::ModelKind;
use crate::units;
use system::{Knob, System};

/// What to analyze beyond the fixed points.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `--continue P=FROM:TO:STEPS` (a rate model).
    pub continuation: Option<Sweep>,
    /// `--coupling K[=FROM:TO:STEPS]` (a brain).
    pub coupling: Option<Sweep>,
}

/// A parameter or input, and the values to take it through (numbers in
/// its declared unit).
#[derive(Clone, Debug)]
pub struct Sweep {
    pub name: String,
    pub range: Option<(f64, f64, usize)>,
    pub span: Span,
}

/// `NAME` or `NAME=FROM:TO:STEPS`, as written after a flag.
pub fn parse_sweep(text: &str, span: Span, flag: &str) -> Result<Sweep, Box<Diagnostic>> {
    let bad = |why: &str| {
        Box::new(Diagnostic::error(Code::BadSetting, format!("`{flag} {text}`: {why}")).at(span, "here").help(format!(
            "write `{flag} NAME=FROM:TO:STEPS`, e.g. `{flag} P=0:2:101` (numbers in NAME's declared unit)"
        )))
    };
    let (name, range) = match text.split_once('=') {
        None => (text.trim(), None),
        Some((n, r)) => {
            let parts: Vec<&str> = r.split(':').map(str::trim).collect();
            let [from, to, steps] = parts[..] else { return Err(bad("the range is FROM:TO:STEPS")) };
            let (Ok(from), Ok(to), Ok(steps)) = (from.parse::<f64>(), to.parse::<f64>(), steps.parse::<usize>()) else {
                return Err(bad("FROM and TO are numbers, STEPS a whole number"));
            };
            if !(from.is_finite() && to.is_finite()) || from == to || !(2..=100_000).contains(&steps) {
                return Err(bad("FROM and TO differ and STEPS is between 2 and 100000"));
            }
            (n.trim(), Some((from, to, steps)))
        }
    };
    if name.is_empty() {
        return Err(bad("no name"));
    }
    Ok(Sweep { name: name.to_string(), range, span })
}

/// A quantity as shown: its name and display unit (text, SI value of one).
#[derive(Clone, Debug)]
pub struct Quantity {
    pub name: String,
    pub unit: String,
    pub scale: f64,
}

/// What `analyze` found.
#[derive(Clone, Debug)]
pub enum Report {
    Rate(Box<RateReport>),
    Brain(Box<BrainReport>),
}

#[derive(Clone, Debug)]
pub struct RateReport {
    pub model: String,
    pub states: Vec<Quantity>,
    pub fixed_points: Vec<FixedPoint>,
    pub continuation: Option<Continuation>,
    pub notes: Vec<String>,
}

/// A fixed point (SI states), its Jacobian's eigenvalues (1/s, by
/// decreasing real part) and its type.
#[derive(Clone, Debug)]
pub struct FixedPoint {
    pub x: Vec<f64>,
    pub eigenvalues: Vec<C64>,
    pub kind: &'static str,
}

#[derive(Clone, Debug)]
pub struct Continuation {
    pub param: Quantity,
    /// From, to (SI) and the number of values.
    pub range: (f64, f64, usize),
    pub branches: Vec<Branch>,
    pub crossings: Vec<Crossing>,
}

/// A branch of fixed points over the parameter; `end`: where it stopped
/// having a solution (a fold), if it did.
#[derive(Clone, Debug)]
pub struct Branch {
    pub points: Vec<BranchPoint>,
    pub end: Option<f64>,
}

#[derive(Clone, Debug)]
pub struct BranchPoint {
    pub p: f64,
    pub x: Vec<f64>,
    pub rightmost: C64,
    pub kind: &'static str,
    /// Eigenvalues with a positive real part.
    pub unstable: usize,
}

/// Where an eigenvalue's real part crosses 0 on a branch.
#[derive(Clone, Debug)]
pub struct Crossing {
    pub branch: usize,
    pub p: f64,
    /// The crossing eigenvalue (positive imaginary part for a pair).
    pub eigenvalue: C64,
    /// A complex pair (Hopf); else a real eigenvalue (fold or branch point).
    pub hopf: bool,
    /// Hz, for a Hopf: Im λ / 2π at onset.
    pub frequency: Option<f64>,
    pub x: Vec<f64>,
    /// Stable beyond it (the parameter increasing).
    pub gains_stability: bool,
}

#[derive(Clone, Debug)]
pub struct BrainReport {
    pub model: String,
    pub node: String,
    pub n: usize,
    pub states: Vec<Quantity>,
    /// The coupling parameter and its configured value (SI).
    pub coupling: Option<(Quantity, f64)>,
    /// The fixed point of all nodes (node-major) and the full Jacobian's
    /// eigenvalues (delays ignored).
    pub fixed_point: FixedPoint,
    /// Every node at the same state with the same linearization.
    pub homogeneous: bool,
    /// Per sum, the delay used in the characteristic equation (s).
    pub delays: Vec<f64>,
    /// The modes of C by decreasing Re μ, with the stability along each.
    pub modes: Vec<Mode>,
    /// The leading mode's eigenvector.
    pub leading: Option<Vec<f64>>,
    pub critical: Option<Critical>,
    /// The coupling values scanned (SI).
    pub scan: Option<(f64, f64, usize)>,
    pub notes: Vec<String>,
}

/// A collective mode: μ, an eigenvalue of C, and the rightmost root of
/// the node's linearization along it (with delays), when the nodes are
/// homogeneous.
#[derive(Clone, Debug)]
pub struct Mode {
    pub mu: C64,
    pub rightmost: Option<C64>,
}

/// Where the fixed point first loses stability as the coupling grows.
#[derive(Clone, Debug)]
pub struct Critical {
    /// K_c, SI.
    pub k: f64,
    pub eigenvalue: C64,
    pub hopf: bool,
    pub frequency: Option<f64>,
    /// Which mode goes unstable (index into the modes) and its μ.
    pub mode: Option<usize>,
    pub mu: Option<C64>,
    /// |<critical eigenvector's node pattern, leading mode of C>|.
    pub overlap: Option<f64>,
    /// |component| per node of the critical eigenvector.
    pub pattern: Option<Vec<f64>>,
    /// The fixed point at K_c.
    pub x: Vec<f64>,
}

fn fail(code: Code, span: Span, message: impl Into<String>, help: &str) -> Box<Diagnostic> {
    Box::new(Diagnostic::error(code, message).at(span, "this model").help(help))
}

/// Analyzes a configured run.
pub fn analyze(run: &Run, opts: &Options) -> Result<Report, Box<Diagnostic>> {
    match &run.body {
        Body::Point(p) if run.kind == ModelKind::Rate => rate_report(run, p, opts).map(|r| Report::Rate(Box::new(r))),
        Body::Brain(b) => brain_report(run, b, opts).map(|b| Report::Brain(Box::new(b))),
        _ => Err(fail(
            Code::NotAnalyzable,
            run.span,
            format!("`analyze` studies rate models and brains; `{}` is a {}", run.target, run.kind.keyword()),
            "analyze a `rate` model (one node) or a `brain`",
        )),
    }
}

fn quantity(name: &str, dim: &units::Dim, unit: Option<&crate::ir::UnitHint>) -> Quantity {
    let (unit, scale) = match unit {
        Some(u) => (u.text.clone(), u.scale),
        None => units::display_unit(dim),
    };
    Quantity { name: name.to_string(), unit, scale }
}

fn states(m: &Model) -> Vec<Quantity> {
    m.states.iter().map(|s| quantity(&s.name, &s.dim, s.unit.as_ref())).collect()
}

/// The parameter or input a sweep names.
fn knob(m: &Model, s: &Sweep) -> Result<(Knob, Quantity), Box<Diagnostic>> {
    let hidden = |n: &str| n.starts_with("__") || crate::ir::noise::is_random_param(n);
    if let Some(i) = m.param(&s.name).filter(|_| !hidden(&s.name)) {
        let p = &m.params[i];
        return Ok((Knob::Param(i), quantity(&p.name, &p.dim, p.unit.as_ref())));
    }
    if let Some(v) = crate::experiment::settings::input(m, &s.name) {
        let x = &m.values[v];
        return Ok((Knob::Input(v), quantity(&x.name, &x.dim, x.unit.as_ref())));
    }
    let names: Vec<&str> = m
        .params
        .iter()
        .map(|p| p.name.as_str())
        .chain(m.values.iter().filter(|v| v.kind == crate::ir::ValueKind::Input).map(|v| v.name.as_str()))
        .filter(|n| !hidden(n))
        .collect();
    let mut d =
        Diagnostic::error(Code::UnknownOverride, format!("`{}` is not a parameter or input of `{}`", s.name, m.name))
            .at(s.span, "not found");
    if let Some(g) = crate::diag::did_you_mean(&s.name, names.iter().copied()) {
        d = d.help(format!("did you mean `{g}`?"));
    }
    Err(Box::new(d))
}

fn sweep_values(range: (f64, f64, usize), scale: f64) -> Vec<f64> {
    let (from, to, steps) = range;
    (0..steps).map(|k| scale * (from + (to - from) * k as f64 / (steps - 1) as f64)).collect()
}

fn no_fixed_point(run: &Run, singular: usize, tries: usize) -> Box<Diagnostic> {
    if singular == tries {
        fail(
            Code::SingularJacobian,
            run.span,
            format!("no fixed point of `{}` found: the Jacobian was singular from every start", run.target),
            "a singular Jacobian means a line of fixed points or a degenerate one; change a parameter (`--set`) so that the equilibrium is isolated",
        )
    } else {
        fail(
            Code::NoFixedPoint,
            run.span,
            format!("no fixed point of `{}` found from the starts around its initial values", run.target),
            "Newton starts from a box around the states' initial values: set initial values near an equilibrium in the simulate block",
        )
    }
}

fn rate_report(run: &Run, p: &PointRun, opts: &Options) -> Result<RateReport, Box<Diagnostic>> {
    if opts.coupling.is_some() {
        return Err(fail(
            Code::BadSetting,
            run.span,
            "`--coupling` is for brains",
            "use `--continue P=FROM:TO:STEPS` for a rate model",
        ));
    }
    let knob = opts.continuation.as_ref().map(|s| knob(&p.model, s)).transpose()?;
    let sys = System::new(p, &[], &[], knob.as_ref().map(|k| k.0))
        .map_err(|why| fail(Code::NotAnalyzable, run.span, why, "every state needs `dx/dt = ...`"))?;
    let k0 = knob.as_ref().map(|k| sys.knob_value(p, k.0));
    let params = sys.params(k0);
    let (center, width) = rate::start_box(&sys, &params);
    let (found, singular) = rate::fixed_points(&sys, &params, &center, &width);
    if found.is_empty() {
        return Err(no_fixed_point(run, singular, rate::starts(&center, &width).len()));
    }
    let fixed_points = found.into_iter().map(|x| rate::describe(&sys, &params, x)).collect();
    let continuation = match (&opts.continuation, knob) {
        (Some(s), Some((_, q))) => {
            let Some(range) = s.range else {
                return Err(fail(Code::BadSetting, s.span, "a continuation needs a range", "`--continue P=0:2:101`"));
            };
            let values = sweep_values(range, q.scale);
            let (branches, crossings) = rate::continuation(&sys, &values, &center, &width);
            let r = (values[0], values[values.len() - 1], values.len());
            Some(Continuation { param: q, range: r, branches, crossings })
        }
        _ => None,
    };
    Ok(RateReport { model: run.target.clone(), states: states(&p.model), fixed_points, continuation, notes: sys.notes })
}

/// The parameter a brain's couplings read (other than the sums), when
/// there is one.
fn coupling_param(m: &Model, b: &BrainRun) -> Vec<usize> {
    (0..m.params.len())
        .filter(|&i| !m.params[i].name.starts_with("__"))
        .filter(|&i| b.targets.iter().any(|&(_, cv, _)| m.reads(m.values[cv].expr, |v| v == Var::Param(i))))
        .collect()
}

fn brain_report(run: &Run, b: &BrainRun, opts: &Options) -> Result<BrainReport, Box<Diagnostic>> {
    if b.regions.is_some() {
        return Err(fail(
            Code::NotAnalyzable,
            run.span,
            format!("`{}` has regions that are networks: its fixed points are not the nodes'", run.target),
            "analyze the brain of masses alone (without its `region` statements)",
        ));
    }
    if let Some(s) = &opts.continuation {
        return Err(fail(
            Code::BadSetting,
            s.span,
            "`--continue` is for rate models",
            "for a brain, scan the coupling: `--coupling K=0:2:201`",
        ));
    }
    let p = &b.node;
    let m = &p.model;
    let mut notes = Vec::new();
    let knob = match &opts.coupling {
        Some(s) => Some((knob(m, s)?, s.range)),
        None => match coupling_param(m, b)[..] {
            [i] => {
                Some(((Knob::Param(i), quantity(&m.params[i].name, &m.params[i].dim, m.params[i].unit.as_ref())), None))
            }
            [] => {
                notes.push("no parameter in the couplings: no coupling scan (name one with `--coupling K`)".into());
                None
            }
            _ => {
                notes.push("several parameters in the couplings: name the one to scan with `--coupling K`".into());
                None
            }
        },
    };
    let sums: Vec<(usize, usize, usize)> = b.sums.iter().map(|s| (s.sum_param, s.row_param, s.sent)).collect();
    let sys = System::new(p, &sums, &b.targets, knob.as_ref().map(|k| k.0 .0))
        .map_err(|why| fail(Code::NotAnalyzable, run.span, why, "every state of the node needs `dx/dt = ...`"))?;
    let k0 = knob.as_ref().map(|k| sys.knob_value(p, k.0 .0));
    let mut per_node: Vec<(usize, Vec<f64>)> =
        p.param_spreads.iter().map(|(q, d, k)| (*q, crate::runtime::spikegen::spread(*d, b.n, run.seed, *k))).collect();
    per_node.extend(b.node_values.iter().cloned());
    let (center, width) = rate::start_box(&sys, &sys.params(k0));
    notes.extend(sys.notes.iter().cloned());
    let net = brain::Net::new(sys, b, per_node);
    notes.extend(net.notes.iter().cloned());
    let n = b.n;
    let scale: Vec<f64> = (0..n).flat_map(|_| width.iter().copied()).collect();
    let x = net.find(k0, &center, &width).map_err(|(singular, tries)| no_fixed_point(run, singular, tries))?;
    let lin = net.linearize(k0, &x);
    let ev = linear::eigenvalues(&lin.jac).unwrap_or_default();
    let homogeneous = net.homogeneous(&x, &lin);
    if !homogeneous && net.delays.iter().any(|t| *t > 0.0) {
        notes.push("the nodes sit at different fixed points, so the modes do not decouple: the stability and K_c come from the full Jacobian with the delays ignored".into());
    }
    let modes = net.modes(&x, &lin);
    let (critical, scan) = match &knob {
        Some(((_, q), range)) => {
            let k = k0.unwrap_or(0.0);
            let range = range.map_or_else(
                || {
                    let hi = if k != 0.0 { 10.0 * k.abs() } else { 10.0 };
                    (0.0, hi, 51)
                },
                |(a, c, s)| (a * q.scale, c * q.scale, s),
            );
            let values = sweep_values(range, 1.0);
            let (critical, first) = net.critical(&values, &x, &scale);
            match first {
                Some(false) if critical.is_none() => notes.push(format!(
                    "the fixed point is already unstable at {} = {}: the scan looks for a loss of stability",
                    q.name,
                    units::format_value(range.0, &q.unit, q.scale)
                )),
                None => notes.push("no fixed point was found along the scan".into()),
                _ => {}
            }
            (critical, Some(range))
        }
        None => (None, None),
    };
    Ok(BrainReport {
        model: run.target.clone(),
        node: m.name.clone(),
        n,
        states: states(m),
        coupling: knob.map(|((_, q), _)| (q, k0.unwrap_or(0.0))),
        fixed_point: FixedPoint { kind: linear::classify(&ev), x, eigenvalues: ev },
        homogeneous,
        delays: net.delays.clone(),
        modes,
        leading: net.leading.clone(),
        critical,
        scan,
        notes,
    })
}
