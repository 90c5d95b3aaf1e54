//! A `brain` model lowered into a [`BrainRun`]: N copies of a node model
//! (one kernel, looped over the nodes), a connectome read from files, and
//! couplings taken apart into per-node signals summed over delayed edges
//! ([`couple`](super::couple)).
//!
//! The node model is lowered again with the brain's parameters and what
//! the couplings add grafted on (`__sentK`, what node j sends; `__sumK`,
//! the delayed weighted sum the runtime fills per node and step;
//! `__rowK`, the row sums; `__coupleK`, each coupling's right-hand side),
//! so couplings are unit-checked like the node's own expressions and
//! compiled into its kernel. The grafted model then goes through the same
//! configuration as a population ([`point::configure_model`]): `dt`,
//! `duration`, `method`, `seed`, parameters and initial values set or
//! spread over the nodes, `--set`, `--record`, back end and threads.
//!
//! Data files are read here (so `check` sees them): weights and lengths
//! (see [`connectome`](super::connectome) for formats and orientation),
//! and per-node values of a node's parameters or inputs
//! (`x0 "data/x0.csv"`).

use super::connectome::Matrix;
use super::couple::{self, Delay};
use super::observe;
use super::point::{self, PointRun};
use super::settings::Ctx;
use super::{Body, Flags, Run};

mod data;
mod extras;
pub mod regions;
use crate::diag::{Code, Diagnostic};
use crate::ir::{self, NodeKind, Ty, Var};
use crate::source::Span;
use crate::syntax::ast::{self, ModelKind};
use crate::units::{self, Dim};

/// A brain ready to run.
#[derive(Clone, Debug)]
pub struct BrainRun {
    /// The grafted node model as a population of `n` nodes; its value
    /// overrides add the couplings to their inputs.
    pub node: PointRun,
    pub n: usize,
    /// Weights, into row i from column j, normalized.
    pub weights: Matrix,
    /// Per sum: how it reads node j and where it goes.
    pub sums: Vec<SumSpec>,
    /// Delays linearly interpolated between steps (else rounded to the
    /// step grid).
    pub interpolate: bool,
    /// Per-node values read from files: (parameter, one value per node).
    pub node_values: Vec<(usize, Vec<f64>)>,
    pub labels: Vec<String>,
    /// Noise, per statement.
    pub noises: Vec<NoiseSpec>,
    /// Inputs that follow time series read from files.
    pub stimuli: Vec<Stimulus>,
    /// Functional connectivity to compute at the end.
    pub fc: Option<FcSpec>,
    /// Sensor signals to write at every sample.
    pub eeg: Option<EegSpec>,
    /// Per coupling: the input it adds to, the value `__coupleK` it adds,
    /// and whether it subtracts (`-=`); the input's override is
    /// `base + __coupleK` (or `-`).
    pub targets: Vec<(usize, usize, bool)>,
    /// Regions whose node is a network (`region 3 = Column { ... }`).
    pub regions: Option<regions::Regions>,
}

/// `eeg = eeg`: a sensor signal per sample, the lead field (gain) matrix
/// times the regions' values of a variable.
#[derive(Clone, Debug)]
pub struct EegSpec {
    /// Which of the run's probes (index into `node.record`).
    pub probe: usize,
    pub name: String,
    /// Sensors x regions.
    pub gain: Matrix,
    /// The sensors' names.
    pub labels: Vec<String>,
}

/// `fc = bold_bold, fc_from = 10 s`: the Pearson correlation between the
/// regions' recorded traces of a variable, from a time on; compared with
/// the structural weights and, if the brain names one
/// (`empirical_fc "fc.csv"`), with an empirical matrix.
#[derive(Clone, Debug)]
pub struct FcSpec {
    /// Which of the run's probes (index into `node.record`).
    pub probe: usize,
    pub name: String,
    /// Samples before this time (s) are left out.
    pub from: f64,
    pub empirical: Option<Matrix>,
}

/// An input following a time series, per node: linear between the rows,
/// held before the first and after the last.
#[derive(Clone, Debug)]
pub struct Stimulus {
    /// The parameter the input became.
    pub param: usize,
    /// The rows' times, s, increasing.
    pub times: Vec<f64>,
    /// Row-major: the nodes' values at each time (SI).
    pub values: Vec<f64>,
}

/// One `noise` statement, placed in the node model.
#[derive(Clone, Debug)]
pub struct NoiseSpec {
    pub kind: NoiseKind,
    /// The per-node parameter the runtime fills each step: `__xiK`
    /// (white: a standard normal over sqrt(dt)) or `__ouK` (the OU
    /// process's value).
    pub param: usize,
}

/// What a `noise` statement adds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NoiseKind {
    /// `noise node.X = white(sigma)`: `sigma dW/dt` added to `dX/dt`.
    White,
    /// `noise node.P = ou(sigma, tau[, mean])`: an Ornstein-Uhlenbeck
    /// process `d eta = (mean - eta) / tau dt + sigma dW` added to the
    /// input `P` (SI).
    Ou { sigma: f64, tau: f64, mean: f64 },
}

/// One `sum_j` of a coupling, placed in the node model.
#[derive(Clone, Debug)]
pub struct SumSpec {
    /// Per edge of the weights (row-major, n x n), its delay in seconds.
    pub delays: Vec<f64>,
    /// The value `__sentK` of the node model: what each node sends.
    pub sent: usize,
    /// The parameters `__sumK` and `__rowK`.
    pub sum_param: usize,
    pub row_param: usize,
}

/// Settings of a brain's `simulate` block that are the brain's, not its
/// node's.
const BRAIN_SETTINGS: &[&str] = &["delays", "fc", "fc_from", "eeg"];

pub(super) fn configure<'a>(
    ctx: &mut Ctx<'a>,
    model: &'a ast::Model,
    block: Option<&ast::Simulate>,
    flags: &Flags,
) -> Option<Run> {
    let mut parts = data::parts(ctx, model)?;
    let Some((node_name, _)) = parts.node else {
        return ctx.reject(
            "a brain without a node model",
            model.name.span,
            "no `node = ...`",
            "name the model every node runs: `node = WilsonCowan`",
        );
    };
    let node_ast = ctx.c.library.get(node_name)?;
    // the node's own errors were reported when the file was compiled
    ctx.c.model(node_name)?;
    let (weights, lengths) = data::connectome(ctx, &mut parts, model.name.span)?;
    let n = weights.rows;

    // Couplings, taken apart.
    let mut sums = Vec::new();
    let mut couples = Vec::new();
    for stmt in &parts.couples {
        let ast::StmtKind::Couple { target, op, value } = &stmt.kind else { continue };
        match couple::analyze(target, *op, value, stmt.span, &mut sums) {
            Ok(c) => couples.push(c),
            Err(d) => ctx.fail(*d),
        }
    }
    if ctx.diags.has_errors() {
        return None;
    }
    // Lowered once to learn what each node sends, then with the sums.
    let first = graft(ctx, node_ast, &parts, (&sums, &couples), None)?;
    let (sent_dims, ou_dims): (Vec<Dim>, Vec<Dim>) = {
        let m = lower(ctx, &first)?;
        let sent = (0..sums.len()).map(|k| m.value(&couple::sent_name(k)).map_or(Dim::NONE, |v| m.values[v].dim));
        let ou = parts.noises.iter().map(|nz| m.value(&nz.target.name).map_or(Dim::NONE, |v| m.values[v].dim));
        (sent.collect(), ou.collect())
    };
    let grafted = graft(ctx, node_ast, &parts, (&sums, &couples), Some((&sent_dims, &ou_dims)))?;
    let mut m = lower(ctx, &grafted)?;
    if let Some(&p) = crate::ir::noise::noise_params(&m).first() {
        return ctx.reject(
            format!("the node `{node_name}` draws random numbers of its own (`{}`)", m.params[p].name),
            m.params[p].span,
            "noise inside the node model",
            "a brain adds its nodes' noise: drop it from the node and write `noise node.X = white(...)` in the brain",
        );
    }
    let noises = extras::noise_specs(ctx, &m, &parts.noises)?;
    let specs = sum_specs(ctx, &m, &sums, (lengths.as_ref(), parts.speed), n)?;
    let targets = coupling_targets(ctx, &m, &couples, node_name)?;
    let (node_values, stimuli) = data::per_node_values(ctx, &mut m, &parts.per_node, n)?;
    let interpolate = extras::delay_mode(ctx, block)?;
    let filtered = block.map(|b| {
        let mut b = b.clone();
        b.settings.retain(|s| !BRAIN_SETTINGS.contains(&s.name.name.as_str()));
        b
    });
    let of = point::Of { kind: node_ast.kind, span: model.name.span, n: Some(n as u64) };
    let mut run = point::configure_model(ctx, m, of, filtered.as_ref(), flags)?;
    let Body::Point(mut p) = run.body else { return None };
    let coupled = targets.iter().map(|(v, cv, negate, _)| (*v, *cv, *negate)).collect();
    for (v, cv, negate, span) in targets {
        add_to_input(&mut p, v, Var::Value(cv), negate, span);
    }
    attach(ctx, &mut p, &parts, &noises)?;
    if !flags.record.iter().any(|r| r.name.contains('[')) {
        p.record_neurons = (0..n).collect();
    }
    let sent: Vec<Dim> = specs.iter().map(|s| p.model.values[s.sent].dim).collect();
    let regions =
        regions::configure(ctx, model, &p.model, (&sent, &parts.labels, n), (run.dt, run.duration, run.seed), flags)?;
    if let Some(r) = &regions {
        p.notes.extend(r.notes.iter().cloned());
    }
    let fc = extras::fc_spec(ctx, &mut p, block, parts.empirical_fc.take(), n)?;
    let eeg = extras::eeg_spec(ctx, &mut p, block, parts.leadfield.take(), n)?;
    if p.backend == super::Backend::Reference {
        return ctx.reject(
            "brains run on kernels",
            run.span,
            "the reference interpreter runs one neuron",
            "drop `--backend reference`",
        );
    }
    run.settings.push(("nodes".into(), n.to_string()));
    run.settings.push(("delays".into(), if interpolate { "linear" } else { "grid" }.into()));
    run.target = model.name.name.clone();
    run.kind = ModelKind::Brain;
    run.body = Body::Brain(Box::new(BrainRun {
        node: p,
        n,
        weights,
        sums: specs,
        interpolate,
        node_values,
        labels: std::mem::take(&mut parts.labels),
        noises,
        stimuli,
        fc,
        eeg,
        targets: coupled,
        regions,
    }));
    Some(run)
}

/// Each sum's delays per edge and its names in the grafted model.
fn sum_specs(
    ctx: &mut Ctx,
    m: &ir::Model,
    sums: &[couple::Sum],
    (lengths, speed): (Option<&Matrix>, Option<f64>),
    n: usize,
) -> Option<Vec<SumSpec>> {
    let mut specs = Vec::new();
    for (k, s) in sums.iter().enumerate() {
        let delays = match s.delay {
            Delay::None => vec![0.0; n * n],
            Delay::Uniform(d) => vec![d; n * n],
            Delay::Edge => match (lengths, speed) {
                (Some(l), Some(v)) => l.data.iter().map(|mm| mm * 1e-3 / v).collect(),
                _ => {
                    return ctx.reject(
                        "delays need tract lengths and a conduction speed",
                        s.span,
                        "reads `delay[i, j]`",
                        "add `lengths \"lengths.csv\", speed = 5 m/s` to the connectivity line",
                    )
                }
            },
        };
        let sent = m.value(&couple::sent_name(k))?;
        let (sum_param, row_param) = (m.param(&couple::sum_name(k))?, m.param(&couple::row_name(k))?);
        specs.push(SumSpec { delays, sent, sum_param, row_param });
    }
    Some(specs)
}

/// Where each coupling goes: (input, the value `__coupleK`, `-=`, span),
/// the input checked to be one and of the coupling's dimension.
#[allow(clippy::type_complexity)]
fn coupling_targets(
    ctx: &mut Ctx,
    m: &ir::Model,
    couples: &[couple::Couple],
    node_name: &str,
) -> Option<Vec<(usize, usize, bool, Span)>> {
    let mut targets = Vec::new();
    for (k, c) in couples.iter().enumerate() {
        let cv = m.value(&couple::couple_name(k))?;
        let Some(v) = super::settings::input(m, &c.target.name) else {
            let what = if m.param(&c.target.name).is_some() {
                "a parameter"
            } else if m.state(&c.target.name).is_some() {
                "a state"
            } else {
                "not a name of the node"
            };
            return ctx.reject(
                format!("`{}` of `{node_name}` is {what}, not an input", c.target.name),
                c.target.span,
                "couplings add to inputs",
                format!("declare it in `{node_name}` as `input {} = ...`; the coupling adds to it", c.target.name),
            );
        };
        if m.values[cv].dim != m.values[v].dim {
            ctx.fail(
                Diagnostic::error(
                    Code::DimensionMismatch,
                    format!(
                        "this coupling is {}, but `{}` is {}",
                        ir::lower::quantity_desc(&m.values[cv].dim),
                        c.target.name,
                        ir::lower::quantity_desc(&m.values[v].dim)
                    ),
                )
                .at(c.value.span, "what is added")
                .help("scale the sum by a coupling strength with the right unit: `K * sum_j(...)` with `parameter K = 1 /s`"),
            );
            return None;
        }
        targets.push((v, cv, c.negate, c.span));
    }
    Some(targets)
}

/// Observers' drives and OU noises added to their inputs.
fn attach(ctx: &mut Ctx, p: &mut PointRun, parts: &data::Parts, noises: &[NoiseSpec]) -> Option<()> {
    for (k, o) in parts.observes.iter().enumerate() {
        let v = o.input().and_then(|name| super::settings::input(&p.model, &name))?;
        let dv = p.model.value(&observe::drive_name(k))?;
        let (want, got) = (p.model.values[v].dim, p.model.values[dv].dim);
        if want != got {
            ctx.fail(
                Diagnostic::error(
                    Code::DimensionMismatch,
                    format!(
                        "`{}` is driven by {}, but its input is {}",
                        o.model.name.name,
                        ir::lower::quantity_desc(&got),
                        ir::lower::quantity_desc(&want)
                    ),
                )
                .at(o.span, "this drive")
                .help("scale the drive to the observer's input, e.g. `BalloonWindkessel(node.y0 / 1 mV)`"),
            );
            return None;
        }
        add_to_input(p, v, Var::Value(dv), false, o.span);
    }
    for (nz, spec) in parts.noises.iter().zip(noises) {
        if let NoiseKind::Ou { .. } = spec.kind {
            let v = super::settings::input(&p.model, &nz.target.name)?;
            add_to_input(p, v, Var::Param(spec.param), false, nz.span);
        }
    }
    Some(())
}

/// Input `v` of the node (with its overrides) plus or minus `x`.
fn add_to_input(p: &mut PointRun, v: usize, x: Var, negate: bool, span: Span) {
    let dim = p.model.values[v].dim;
    let base = p.value_overrides[v].unwrap_or(p.model.values[v].expr);
    let add = p.model.arena.add(NodeKind::Var(x), Ty::Num(dim), span);
    let op = if negate { ast::BinOp::Sub } else { ast::BinOp::Add };
    p.value_overrides[v] = Some(p.model.arena.add(NodeKind::Bin(op, base, add), Ty::Num(dim), span));
}

/// Lowers a grafted node model; its diagnostics are the graft's (the
/// node's own were reported with the file), so only errors are kept.
fn lower(ctx: &mut Ctx, model: &ast::Model) -> Option<ir::Model> {
    let (m, diags) = ir::lower::lower_model(&ctx.c.library, model);
    let mut failed = false;
    for d in diags.list {
        if d.is_error() {
            failed = true;
            ctx.fail(d);
        }
    }
    if failed {
        return None;
    }
    m
}

/// The node model with the brain's parameters, what each node sends,
/// white noises in their states' ODEs and, once the dimensions are known
/// (`dims`: of what each node sends, of each noise's target), the sums,
/// the couplings' right-hand sides and the OU noises' parameters.
fn graft(
    ctx: &mut Ctx,
    node: &ast::Model,
    parts: &data::Parts,
    (sums, couples): (&[couple::Sum], &[couple::Couple]),
    dims: Option<(&[Dim], &[Dim])>,
) -> Option<ast::Model> {
    let mut m = node.clone();
    m.stmts.extend(parts.params.iter().map(|s| (*s).clone()));
    let ident = |name: String, span: Span| ast::Ident { name, span };
    let derived = |name: String, value: ast::Expr, span: Span| ast::Stmt {
        kind: ast::StmtKind::Derived(ast::Binding { name: ident(name, span), value }),
        span,
    };
    let number = |value: f64, unit: Option<ast::UnitExpr>, span: Span| ast::Expr {
        kind: ast::ExprKind::Number { value, unit },
        span,
    };
    let param = |name: String, value: ast::Expr, span: Span| ast::Stmt {
        kind: ast::StmtKind::Parameter(vec![ast::Binding { name: ident(name, span), value }]),
        span,
    };
    for (k, s) in sums.iter().enumerate() {
        m.stmts.push(derived(couple::sent_name(k), s.sent.clone(), s.span));
    }
    for (k, o) in parts.observes.iter().enumerate() {
        match observe::statements(o) {
            Ok(stmts) => m.stmts.extend(stmts),
            Err(d) => {
                ctx.fail(*d);
                return None;
            }
        }
        m.stmts.push(derived(observe::drive_name(k), o.drive.clone(), o.span));
    }
    for (k, nz) in parts.noises.iter().enumerate() {
        let Some(sigma) = &nz.white else { continue };
        let per_sqrt_s = units::dims::time().powr(units::Rational::new(-1, 2).unwrap_or(units::Rational::ONE));
        let unit = per_sqrt_s.as_ref().and_then(|d| si_unit(d, nz.span));
        m.stmts.push(param(couple::xi_name(k), number(0.0, unit, nz.span), nz.span));
        let ode = m.stmts.iter_mut().find_map(|st| match &mut st.kind {
            ast::StmtKind::Ode { factor, state, rhs, .. } if state.name == nz.target.name => Some((factor, rhs)),
            _ => None,
        });
        let Some((factor, rhs)) = ode else {
            return ctx.reject(
                format!("`{}` has no ODE in `{}` to add white noise to", nz.target.name, node.name.name),
                nz.target.span,
                "white noise enters `dX/dt`",
                "add it to a state with an ODE of the node, or use `ou(...)` on an input",
            );
        };
        let bin = |op, a: ast::Expr, b: ast::Expr| ast::Expr {
            kind: ast::ExprKind::Binary(op, Box::new(a), Box::new(b)),
            span: nz.span,
        };
        let mut term = bin(
            ast::BinOp::Mul,
            sigma.clone(),
            ast::Expr { kind: ast::ExprKind::Name(couple::xi_name(k)), span: nz.span },
        );
        if let Some(f) = factor {
            term = bin(ast::BinOp::Mul, f.clone(), term);
        }
        *rhs = bin(ast::BinOp::Add, rhs.clone(), term);
    }
    let Some((sent_dims, ou_dims)) = dims else { return Some(m) };
    for (k, (s, dim)) in sums.iter().zip(sent_dims).enumerate() {
        m.stmts.push(param(couple::sum_name(k), number(0.0, si_unit(dim, s.span), s.span), s.span));
        m.stmts.push(param(couple::row_name(k), number(1.0, None, s.span), s.span));
    }
    for (k, c) in couples.iter().enumerate() {
        m.stmts.push(derived(couple::couple_name(k), c.value.clone(), c.span));
    }
    for (k, (nz, dim)) in parts.noises.iter().zip(ou_dims).enumerate() {
        if nz.white.is_none() {
            m.stmts.push(param(couple::ou_name(k), number(0.0, si_unit(dim, nz.span), nz.span), nz.span));
        }
    }
    Some(m)
}

/// A dimension written in SI base units (`kg*m^2/s^3/A`), or none.
fn si_unit(dim: &Dim, span: Span) -> Option<ast::UnitExpr> {
    let factors: Vec<ast::UnitFactor> = units::BASE_NAMES
        .iter()
        .zip(dim.0.iter())
        .filter(|(_, e)| !e.is_zero())
        .map(|(name, e)| ast::UnitFactor { name: name.to_string(), power: (e.num(), e.den()), span })
        .collect();
    (!factors.is_empty()).then(|| ast::UnitExpr { factors, text: units::pretty(dim), span })
}
