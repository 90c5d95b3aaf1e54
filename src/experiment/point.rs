//! A point model (neuron, rate, synapse or plasticity) alone or as a
//! population of independent copies: its `simulate` block and flags
//! lowered into a [`PointRun`].
//!
//! Settings: `dt`, `duration`, `method`, `seed`, `n` (or `--neurons`), a
//! presynaptic train (`spikes = regular(20 ms)`, `poisson(20 Hz)`,
//! `at(5 ms, ...)` with `weight`), parameters (constants, or spread over the
//! population: `I_amp = linspace(0 uA/cm^2, 20 uA/cm^2)`) and states'
//! initial values (constants or spreads). `--set` overrides parameters and
//! inputs and wins over the block. The plan is derived here (E0402) and,
//! for the kernel back ends, the kernel is built once to know it can be
//! (E0404; a single neuron without `--backend` falls back to the reference
//! interpreter with a note instead).

use super::settings::Ctx;
use super::{Backend, Body, Flags, Run};
use crate::diag::{Code, Diagnostic};
use crate::ir::{self, ExprId, Method, NodeKind, Ty};
use crate::runtime::spikegen::Spread;
use crate::runtime::{population, Probe};
use crate::schemes::{self, Plan};
use crate::source::Span;
use crate::syntax::ast::{self, ModelKind};
use crate::units;

/// A point model's run.
#[derive(Clone, Debug)]
pub struct PointRun {
    /// The model, with `--table`/`--no-tables` applied and the constant
    /// nodes of overrides added to its arena.
    pub model: ir::Model,
    pub plan: Plan,
    pub method: Method,
    /// Neurons.
    pub n: usize,
    pub record: Vec<Probe>,
    /// The neurons recorded (`--record V[0:10]`; neuron 0 by default).
    pub record_neurons: Vec<usize>,
    /// Replaces parameter i's expression (`--set`, block constants).
    pub param_overrides: Vec<Option<ExprId>>,
    /// Replaces input i's expression (`--set` of an input).
    pub value_overrides: Vec<Option<ExprId>>,
    /// Parameters that differ per neuron: (parameter, spread, stream).
    pub param_spreads: Vec<(usize, Spread, u64)>,
    /// Initial values that differ per neuron: (state, spread, stream).
    pub init_spreads: Vec<(usize, Spread, u64)>,
    /// Presynaptic spikes delivered to the model's `on spike` event.
    pub train: Option<SpikeInput>,
    pub backend: Backend,
    pub threads: usize,
    /// What the reader should know (a fallback to the reference
    /// interpreter, unused rate tables).
    pub notes: Vec<String>,
}

/// Presynaptic spikes: when, how strong, and at which port.
#[derive(Clone, Debug, PartialEq)]
pub struct SpikeInput {
    pub train: Train,
    /// The weight each spike passes to its event, SI.
    pub weight: f64,
    /// The `on spike PORT` it reaches (`None`: the model's only port).
    pub port: Option<String>,
}

/// A presynaptic spike train.
#[derive(Clone, Debug, PartialEq)]
pub enum Train {
    Regular(f64),
    Poisson(f64),
    /// Times in s, sorted.
    At(Vec<f64>),
}

impl Train {
    /// The spike times up to `until` (s).
    pub fn times(&self, until: f64, seed: u64) -> Vec<f64> {
        use crate::runtime::spikegen;
        match self {
            Train::Regular(p) => spikegen::regular(*p, until),
            Train::Poisson(r) => spikegen::poisson(*r, until, seed),
            Train::At(ts) => ts.iter().copied().filter(|&t| t <= until).collect(),
        }
    }
}

/// A setting that spreads over the population.
#[derive(Clone, Copy)]
enum Target {
    Param(usize),
    State(usize),
    /// An input, which becomes a parameter when it is spread.
    Input(usize),
}

/// Spike trains longer than this are refused (their times are held in
/// memory by the reference interpreter).
const MAX_TRAIN: f64 = 1e8;

/// What a point model's `simulate` block says.
struct Block<'a> {
    dt: f64,
    duration: f64,
    method: Method,
    /// Where a method was asked for, by the block or `--method`.
    method_at: Option<Span>,
    n: u64,
    seed: u64,
    train: Option<&'a ast::Expr>,
    weight: Option<&'a ast::Expr>,
    /// `port = exc`: the `on spike` port the train reaches.
    port: Option<&'a ast::Expr>,
    /// Parameters and initial values spread over the population, in the
    /// block's order.
    spreads: Vec<(Target, Spread)>,
    /// Parameters set to a constant: (parameter, SI value, where).
    constants: Vec<(usize, f64, Span)>,
    /// Inputs set to a constant: (input, SI value, where).
    input_constants: Vec<(usize, f64, Span)>,
    /// Every setting as written, for the manifest.
    settings: Vec<(String, String)>,
}

pub(super) fn configure(ctx: &mut Ctx, name: &str, block: Option<&ast::Simulate>, flags: &Flags) -> Option<Run> {
    let c = ctx.c;
    let ast_model = c.library.get(name)?;
    // every reachable model was lowered by `compile`; its errors were reported
    let model = c.model(name)?.clone();
    let model_of = Of { kind: ast_model.kind, span: ast_model.name.span, n: None };
    configure_model(ctx, model, model_of, block, flags)
}

/// What [`configure_model`] needs to know of the model besides its IR.
pub(super) struct Of {
    pub kind: ModelKind,
    /// Its name, where defined.
    pub span: Span,
    /// A size that neither the block nor `--neurons` may change (a
    /// brain's nodes).
    pub n: Option<u64>,
}

/// [`configure`] for a lowered model (a brain's node model, grafted).
pub(super) fn configure_model(
    ctx: &mut Ctx,
    mut model: ir::Model,
    of: Of,
    block: Option<&ast::Simulate>,
    flags: &Flags,
) -> Option<Run> {
    let c = ctx.c;
    let kind = of.kind;
    let name = model.name.clone();
    let name = name.as_str();
    let span = block.map_or(of.span, |b| b.span);
    if let Some(p) = model.pending.first() {
        return ctx.reject(
            format!("a {} is not simulated yet", p.what),
            p.span,
            "not simulated yet",
            "remove it to run the rest",
        );
    }
    if flags.no_tables {
        model.tables.clear();
    }
    ctx.table_flags(&flags.tables, &mut [&mut model])?;
    let mut b = block_settings(ctx, &model, block)?;

    // Flags over the block.
    let time = units::dims::time();
    if let Some(e) = &flags.dt {
        b.dt = ctx.constant(e, time, "`--dt`")?;
    }
    if let Some(e) = &flags.duration {
        b.duration = ctx.constant(e, time, "`--duration`")?;
    }
    let (dt, duration) = (b.dt, b.duration);
    ctx.time_grid((dt, duration), 1e10, block, flags, span)?;
    if let Some(m) = &flags.method {
        b.method = ctx.method(&m.name, m.span)?;
        b.method_at = Some(m.span);
    }
    if let Some(at) = b.method_at {
        // E0402 points at the flag or setting that asked for it
        model.method = Some((b.method.name().to_string(), at));
    }
    if let Some(e) = &flags.seed {
        b.seed = ctx.count(e, "`--seed`", 0, 1 << 53, "e.g. --seed 42")?;
    }
    let sample_every = ctx.sample_every(flags.sample.as_ref(), dt, duration, 1)?;
    if let Some(e) = &flags.neurons {
        b.n = ctx.count(e, "`--neurons`", 1, 1_000_000_000_000, "e.g. --neurons 1000")?;
    }
    if let Some(n) = of.n {
        b.n = n;
    }
    let threads = ctx.threads(flags)?;

    // Overrides: block constants, then `--set`, which wins.
    let mut param_overrides: Vec<Option<ExprId>> = vec![None; model.params.len()];
    let mut value_overrides: Vec<Option<ExprId>> = vec![None; model.values.len()];
    for (p, v, at) in &b.constants {
        let node = model.arena.add(NodeKind::Const(*v), Ty::Num(model.params[*p].dim), *at);
        param_overrides[*p] = Some(node);
    }
    for (v, x, at) in &b.input_constants {
        let node = model.arena.add(NodeKind::Const(*x), Ty::Num(model.values[*v].dim), *at);
        value_overrides[*v] = Some(node);
    }
    apply_sets(ctx, &mut model, &flags.set, &mut param_overrides, &mut value_overrides)?;
    let mut settings = std::mem::take(&mut b.settings);
    for (name, e) in &flags.set {
        settings.push((name.name.clone(), c.sources.snippet(e.span).trim().to_string()));
    }
    let n = b.n as usize;
    let (record, record_neurons) = probes(ctx, &model, &flags.record, n)?;
    let (param_spreads, init_spreads) = spreads(&mut model, &b, n, &mut param_overrides, &value_overrides);
    let train = match b.train {
        Some(e) => Some(spike_train(ctx, &model, e, (b.weight, b.port), duration)?),
        None => match b.weight.or(b.port) {
            Some(w) => {
                return ctx.reject(
                    "`weight` or `port` without `spikes`",
                    w.span,
                    "for no train",
                    "add `spikes = regular(20 ms)`, or remove it",
                )
            }
            None => None,
        },
    };
    let (plan, d) = schemes::derive_plan(&mut model, b.method);
    ctx.diags.extend(d);
    let plan = plan?;
    let mut run = PointRun {
        model,
        plan,
        method: b.method,
        n,
        record,
        record_neurons,
        param_overrides,
        value_overrides,
        param_spreads,
        init_spreads,
        train,
        backend: Backend::Jit,
        threads,
        notes: vec![],
    };
    choose_backend(ctx, &mut run, kind, flags, (dt, duration, sample_every), span)?;
    settings.push(("method".into(), b.method.name().into()));
    Some(Run {
        target: name.to_string(),
        kind,
        span,
        dt,
        duration,
        seed: b.seed,
        sample_every,
        progress: flags.progress,
        body: Body::Point(run),
        settings,
    })
}

/// Reads the `simulate` block: time grid, method, size, seed, a spike
/// train, and parameters and states set or spread.
fn block_settings<'a>(ctx: &mut Ctx, model: &ir::Model, block: Option<&'a ast::Simulate>) -> Option<Block<'a>> {
    let c = ctx.c;
    let time = units::dims::time();
    let mut b = Block {
        dt: 1e-5,
        duration: 0.1,
        method: model.method.as_ref().and_then(|(m, _)| Method::parse(m)).unwrap_or(Method::Auto),
        method_at: None,
        n: 1,
        seed: 1,
        train: None,
        weight: None,
        port: None,
        spreads: vec![],
        constants: vec![],
        input_constants: vec![],
        settings: vec![],
    };
    for s in block.map_or(&[][..], |b| &b.settings[..]) {
        let key = s.name.name.as_str();
        b.settings.push((key.to_string(), c.sources.snippet(s.value.span).to_string()));
        let target = match (model.param(key), model.state(key), super::settings::input(model, key)) {
            (Some(p), _, _) => Some(Target::Param(p)),
            (None, Some(st), _) => Some(Target::State(st)),
            (None, None, Some(v)) => Some(Target::Input(v)),
            _ => None,
        };
        if let Some(target) = target {
            let dim = match target {
                Target::Param(p) => model.params[p].dim,
                Target::State(st) => model.states[st].dim,
                Target::Input(v) => model.values[v].dim,
            };
            let what = format!("`{key}`");
            match (ctx.spread(&s.value, dim, &what)?, target) {
                (Some(d), _) => b.spreads.push((target, d)),
                (None, Target::Param(p)) => b.constants.push((p, ctx.constant(&s.value, dim, &what)?, s.value.span)),
                (None, Target::Input(v)) => {
                    b.input_constants.push((v, ctx.constant(&s.value, dim, &what)?, s.value.span))
                }
                (None, Target::State(_)) => {
                    let v = ctx.finite(&s.value, dim, &what)?;
                    b.spreads.push((target, Spread::Linspace(v, v)));
                }
            }
            continue;
        }
        match key {
            "n" | "neurons" => b.n = ctx.count(&s.value, "`n`", 1, 1_000_000_000_000, "e.g. `n = 100000`")?,
            "dt" => b.dt = ctx.constant(&s.value, time, "`dt`")?,
            "duration" => b.duration = ctx.constant(&s.value, time, "`duration`")?,
            "seed" => b.seed = ctx.count(&s.value, "`seed`", 0, 1 << 53, "e.g. `seed = 42`")?,
            "spikes" => b.train = Some(&s.value),
            "weight" => b.weight = Some(&s.value),
            "port" => b.port = Some(&s.value),
            "method" => {
                b.method = ctx.method(c.sources.snippet(s.value.span).trim(), s.value.span)?;
                b.method_at = Some(s.value.span);
            }
            _ => {
                let mut known = vec!["dt", "duration", "method", "seed", "n", "neurons", "spikes", "weight", "port"];
                known.extend(model.params.iter().map(|p| p.name.as_str()));
                known.extend(model.states.iter().map(|st| st.name.as_str()));
                known.extend(model.values.iter().filter(|v| v.kind == ir::ValueKind::Input).map(|v| v.name.as_str()));
                return ctx.unknown("simulation setting", &s.name, &known, "settings: dt, duration, method, seed, n (or neurons), spikes, weight, port, and parameters, inputs and states of the model (`I_amp = linspace(0 uA/cm^2, 20 uA/cm^2)`)");
            }
        }
    }
    Some(b)
}

/// The block's spreads as (parameter or state, spread, stream): `--set`
/// wins over a spread of the same parameter or input; streams are numbered
/// in block order from 1; a spread input becomes a parameter the input
/// reads; for one neuron a spread parameter becomes a constant (folded into
/// the kernel, as a `--set` would be).
#[allow(clippy::type_complexity)]
fn spreads(
    model: &mut ir::Model,
    b: &Block,
    n: usize,
    param_overrides: &mut Vec<Option<ExprId>>,
    value_overrides: &[Option<ExprId>],
) -> (Vec<(usize, Spread, u64)>, Vec<(usize, Spread, u64)>) {
    let kept: Vec<&(Target, Spread)> = b
        .spreads
        .iter()
        .filter(|(t, _)| match *t {
            Target::Param(p) => param_overrides[p].is_none(),
            Target::Input(v) => value_overrides[v].is_none(),
            Target::State(_) => true,
        })
        .collect();
    let (mut params, mut inits) = (Vec::new(), Vec::new());
    for (k, (target, dist)) in kept.into_iter().enumerate() {
        let stream = k as u64 + 1;
        let p = match *target {
            Target::State(s) => {
                inits.push((s, *dist, stream));
                continue;
            }
            Target::Param(p) => p,
            Target::Input(v) => {
                param_overrides.push(None);
                super::settings::input_as_param(model, v)
            }
        };
        if n == 1 {
            let v = crate::runtime::spikegen::spread(*dist, 1, b.seed, stream)[0];
            let node = model.arena.add(NodeKind::Const(v), Ty::Num(model.params[p].dim), model.params[p].span);
            param_overrides[p] = Some(node);
        } else {
            params.push((p, *dist, stream));
        }
    }
    (params, inits)
}

/// The back end: the JIT unless asked otherwise; spike trains and synapse
/// or plasticity models, and one neuron under an implicit method or rk45,
/// run on the reference interpreter, which takes one neuron. For a kernel back end the kernel is built once here (E0404, or
/// for one neuron without `--backend` a note and the reference
/// interpreter), after the memory the population needs is checked.
fn choose_backend(
    ctx: &mut Ctx,
    run: &mut PointRun,
    kind: ModelKind,
    flags: &Flags,
    (dt, duration, sample_every): (f64, f64, usize),
    span: Span,
) -> Option<()> {
    let n = run.n;
    let needs_reference = run.train.is_some() || matches!(kind, ModelKind::Synapse | ModelKind::Plasticity);
    if needs_reference && matches!(flags.backend, Some(Backend::Jit | Backend::Interp)) {
        return ctx.reject(
            "spike trains and synapse models run on the reference interpreter",
            span,
            "needs --backend reference",
            "drop --backend, or use --backend reference",
        );
    }
    // one neuron under an implicit or adaptive method: the reference
    // interpreter iterates and sub-steps without the kernels' fixed caps
    let iterative = run.plan.blocks.iter().any(|b| {
        matches!(b, crate::schemes::Block::Implicit { .. })
            || matches!(b, crate::schemes::Block::Explicit { method: crate::schemes::Method::Rk45, .. })
    });
    // white noise runs in kernels, which fill its per-neuron arrays
    let noisy = !crate::ir::noise::noise_params(&run.model).is_empty();
    if noisy && (needs_reference || flags.backend == Some(Backend::Reference)) {
        let why = if needs_reference { "with a spike train or a synapse model, which run" } else { "on" };
        return ctx.reject(
            format!("`{}` draws random numbers (white or escape noise), which runs in kernels, not {why} the reference interpreter", run.model.name),
            span,
            "a noisy model",
            "drive it in a network (`drive P with spikes(...) via PORT`), or use --backend jit or interp",
        );
    }
    let default = if n == 1 && iterative && !noisy { Backend::Reference } else { Backend::Jit };
    run.backend = if needs_reference { Backend::Reference } else { flags.backend.unwrap_or(default) };
    if run.backend == Backend::Reference && n > 1 {
        return ctx.reject(
            "the reference interpreter simulates one neuron",
            span,
            format!("{n} neurons asked for"),
            "use --backend jit (the default) or interp for populations",
        );
    }
    if run.backend == Backend::Reference {
        return Some(());
    }
    let states = run.model.states.len() + 1 + run.param_spreads.len();
    let size_at = flags.neurons.as_ref().map_or(span, |e| e.span);
    super::fits(ctx, n as f64 * states as f64 * 8.0 * 1.25, &format!("a population of {n} neurons"), size_at)?;
    let probe = population::PopConfig {
        n,
        dt,
        duration,
        per_neuron: run.param_spreads.iter().map(|(p, _, _)| (*p, vec![])).collect(),
        param_overrides: run.param_overrides.clone(),
        value_overrides: run.value_overrides.clone(),
        init_per_neuron: vec![],
        record: vec![],
        record_neurons: vec![0],
        sample_every,
        mean_of: vec![],
        threads: run.threads,
        backend: population::Backend::Interp,
        optimize: false,
        seed: 0,
    };
    if let Err(d) = population::build_kernel(&run.model, &run.plan, &probe) {
        if flags.backend.is_none() && n == 1 && d.code == Code::NotInKernel && !noisy {
            run.notes.push(format!("{}; running on the reference interpreter", d.message));
            run.backend = Backend::Reference;
        } else {
            ctx.fail(*d);
            return None;
        }
    }
    Some(())
}

/// `--set NAME=VALUE`: overrides of parameters and inputs, checked against
/// the model's names and dimensions.
pub(super) fn apply_sets(
    ctx: &mut Ctx,
    model: &mut ir::Model,
    sets: &[(ast::Ident, ast::Expr)],
    param_overrides: &mut [Option<ExprId>],
    value_overrides: &mut [Option<ExprId>],
) -> Option<()> {
    for (name, expr) in sets {
        let target = if let Some(i) = model.param(&name.name) {
            Some((true, i, model.params[i].dim))
        } else if let Some(i) = model.values.iter().position(|v| v.name == name.name && v.kind == ir::ValueKind::Input)
        {
            Some((false, i, model.values[i].dim))
        } else {
            None
        };
        let Some((is_param, i, dim)) = target else {
            let mut names: Vec<String> = model.params.iter().map(|p| p.name.clone()).collect();
            names.extend(model.values.iter().filter(|v| v.kind == ir::ValueKind::Input).map(|v| v.name.clone()));
            let mut d = Diagnostic::error(
                Code::UnknownOverride,
                format!("`{}` is not a parameter or input of `{}`", name.name, model.name),
            )
            .at(name.span, "unknown name");
            d = match crate::diag::did_you_mean(&name.name, names.iter().map(String::as_str)) {
                Some(x) => d.help(format!("did you mean `{x}`?")),
                None => d.help(format!("parameters and inputs: {}", names.join(", "))),
            };
            ctx.fail(d);
            return None;
        };
        let v = ctx.constant(expr, dim, &format!("`{}`", name.name))?;
        let node = model.arena.add(NodeKind::Const(v), Ty::Num(dim), expr.span);
        if is_param {
            param_overrides[i] = Some(node);
        } else {
            value_overrides[i] = Some(node);
        }
    }
    Some(())
}

/// What to record, and from which neurons: `--record` names (`V`, or
/// `V[0:10]` for neurons 0 to 9; one range for every probe), else every
/// state that is not a gate, of neuron 0.
fn probes(ctx: &mut Ctx, model: &ir::Model, names: &[ast::Ident], n: usize) -> Option<(Vec<Probe>, Vec<usize>)> {
    let mut record = Vec::new();
    if names.is_empty() {
        for (i, s) in model.states.iter().enumerate() {
            if s.gate.is_none() {
                record.push(Probe::State(i));
            }
        }
    }
    let mut range: Option<(usize, usize, &str)> = None;
    for r in names {
        let (name, asked) = match r.name.split_once('[') {
            Some((name, rest)) => (name.trim(), Some(neuron_range(ctx, r, rest, n)?)),
            None => (r.name.as_str(), None),
        };
        if let Some((a, b)) = asked {
            match range {
                Some((a0, b0, first)) if (a0, b0) != (a, b) => {
                    return ctx.reject(
                        format!("one range of neurons per run: `{first}` and `{}` differ", r.name),
                        r.span,
                        "another range",
                        "give every probe the same range, or the range once (`--record V[0:10] --record m`)",
                    );
                }
                _ => range = Some((a, b, r.name.as_str())),
            }
        }
        let probe = if let Some(i) = model.state(name) {
            Probe::State(i)
        } else if let Some(i) = model.value(name) {
            Probe::Value(i)
        } else {
            let mut all: Vec<String> = model.states.iter().map(|s| s.name.clone()).collect();
            all.extend(model.values.iter().map(|v| v.name.clone()));
            let mut d =
                Diagnostic::error(Code::UnknownRecord, format!("`{name}` is not a state or value of `{}`", model.name))
                    .at(r.span, "cannot record this");
            d = match crate::diag::did_you_mean(name, all.iter().map(String::as_str)) {
                Some(x) => d.help(format!("did you mean `{x}`?")),
                None => d.help(format!("recordable: {}", all.join(", "))),
            };
            ctx.fail(d);
            return None;
        };
        if record.contains(&probe) {
            return ctx.reject(format!("`{name}` is recorded twice"), r.span, "again", "name it once");
        }
        record.push(probe);
    }
    let neurons = range.map_or(vec![0], |(a, b, _)| (a..b).collect());
    Some((record, neurons))
}

/// The `a:b]` of `--record V[a:b]`: neurons a to b - 1 of the `n`.
fn neuron_range(ctx: &mut Ctx, r: &ast::Ident, rest: &str, n: usize) -> Option<(usize, usize)> {
    let bounds = rest.strip_suffix(']').and_then(|x| x.split_once(':'));
    let parsed = bounds.map(|(a, b)| (a.trim().parse::<usize>(), b.trim().parse::<usize>()));
    let Some((Ok(a), Ok(b))) = parsed else {
        return ctx.reject(
            format!("`{}` is not a probe with a range of neurons", r.name),
            r.span,
            "expected `NAME[first:end]`",
            "e.g. `--record V[0:10]` for neurons 0 to 9",
        );
    };
    if a >= b || b > n {
        return ctx.reject(
            format!("`[{a}:{b}]` is not a range of the population's {n} neurons"),
            r.span,
            "outside the population",
            format!("a range `[first:end]` with first < end <= {n}"),
        );
    }
    if b - a > 10_000 {
        return ctx.reject(
            format!("{} neurons asked for: at most 10000 are recorded per run", b - a),
            r.span,
            "too many traces",
            "record a smaller range; the population means are written for every recorded state",
        );
    }
    Some((a, b))
}

/// `spikes = regular(20 ms)`, `poisson(20 Hz)` or `at(5 ms, 12 ms, ...)`,
/// with the `weight` its `on spike` event takes and the `port` it reaches
/// (needed when the model has several).
fn spike_train(
    ctx: &mut Ctx,
    model: &ir::Model,
    train: &ast::Expr,
    (weight, port): (Option<&ast::Expr>, Option<&ast::Expr>),
    duration: f64,
) -> Option<SpikeInput> {
    let handlers: Vec<(Option<&str>, Option<units::Dim>)> = model
        .events
        .iter()
        .filter_map(|e| match &e.trigger {
            ir::Trigger::Spike { weight_dim, port, .. } => Some((port.as_deref(), *weight_dim)),
            _ => None,
        })
        .collect();
    if handlers.is_empty() {
        ctx.fail(
            Diagnostic::error(Code::BadSetting, format!("`{}` has no `on spike` event to receive spikes", model.name))
                .at(train.span, "a spike train for a model that cannot receive it")
                .help("add `on spike(w: nS) { g += w }` to the model, or remove `spikes`"),
        );
        return None;
    }
    let mut ports: Vec<&str> = handlers.iter().filter_map(|h| h.0).collect();
    ports.sort_unstable();
    ports.dedup();
    let port = match port {
        Some(e) => {
            let name = plain_name(e);
            match name.filter(|n| ports.contains(n)) {
                Some(n) => Some(n.to_string()),
                None if ports.is_empty() => {
                    return ctx.reject(
                        format!("`{}` has one unnamed `on spike` port", model.name),
                        e.span,
                        "no such port",
                        "remove `port`: the spikes reach `on spike`",
                    );
                }
                None => {
                    return ctx.reject(
                        format!("`{}` has no port `{}`", model.name, name.unwrap_or("?")),
                        e.span,
                        "not a port of the model",
                        format!("ports: {}", ports.join(", ")),
                    );
                }
            }
        }
        None if handlers.len() > 1 && !ports.is_empty() => {
            return ctx.reject(
                format!("`{}` receives spikes at several ports: {}", model.name, ports.join(", ")),
                train.span,
                "which port?",
                format!("say which one the train reaches: `port = {}`", ports[0]),
            );
        }
        None => None,
    };
    let weight_dim = handlers.iter().find(|h| port.is_none() || h.0 == port.as_deref()).and_then(|h| h.1);
    let w = match (weight, weight_dim) {
        (Some(e), Some(d)) => ctx.finite(e, d, "`weight`")?,
        (None, Some(d)) if !d.is_dimensionless() => {
            return ctx.reject(
                "the spikes need a `weight`",
                train.span,
                "spikes without a weight",
                format!("add `weight = ...` in {}", units::pretty(&d)),
            );
        }
        _ => 1.0,
    };
    let t = parse_train(ctx, train)?;
    let count = match &t {
        Train::Regular(p) => duration / p,
        Train::Poisson(r) => duration * r,
        Train::At(ts) => ts.len() as f64,
    };
    if count > MAX_TRAIN {
        return ctx.reject(
            format!("this train has about {} spikes in the run", units::format_number(count.round())),
            train.span,
            "too many spikes",
            format!("at most {MAX_TRAIN:e} input spikes: a longer period, a lower rate or a shorter run"),
        );
    }
    Some(SpikeInput { train: t, weight: w, port })
}

/// The name a setting's value is, if it is a plain name (`port = exc`).
fn plain_name(e: &ast::Expr) -> Option<&str> {
    match &e.kind {
        ast::ExprKind::Name(n) => Some(n.as_str()),
        _ => None,
    }
}

/// `regular(period)`, `poisson(rate)` or `at(t1, t2, ...)`.
pub(super) fn parse_train(ctx: &mut Ctx, e: &ast::Expr) -> Option<Train> {
    let fail = |ctx: &mut Ctx| {
        ctx.reject(
            "`spikes` is `regular(period)`, `poisson(rate)` or `at(t1, t2, ...)`",
            e.span,
            "not a spike train",
            "e.g. `spikes = regular(20 ms)`, with `weight = 1 nS`",
        )
    };
    let ast::ExprKind::Call(f, args) = &e.kind else { return fail(ctx) };
    let ast::ExprKind::Name(name) = &f.kind else { return fail(ctx) };
    let time = units::dims::time();
    match (name.as_str(), args.as_slice()) {
        ("regular", [p]) => {
            let period = ctx.finite(p, time, "the period")?;
            if period <= 0.0 {
                return ctx.reject("the period must be positive", p.span, "not positive", "e.g. `regular(20 ms)`");
            }
            Some(Train::Regular(period))
        }
        ("poisson", [r]) => {
            let rate = ctx.finite(r, units::dims::rate(), "the rate")?;
            if rate < 0.0 {
                return ctx.reject("a rate cannot be negative", r.span, "negative", "e.g. `poisson(20 Hz)`");
            }
            Some(Train::Poisson(rate))
        }
        ("at", ts) if !ts.is_empty() => {
            let mut out = Vec::new();
            for t in ts {
                let v = ctx.finite(t, time, "a spike time")?;
                if v < 0.0 {
                    return ctx.reject("a spike time cannot be negative", t.span, "before the run", "times from 0 on");
                }
                if out.last().is_some_and(|&last| v < last) {
                    return ctx.reject(
                        "spike times must be in order",
                        t.span,
                        "earlier than the one before",
                        "list the times in increasing order: `at(5 ms, 12 ms, 30 ms)`",
                    );
                }
                out.push(v);
            }
            Some(Train::At(out))
        }
        _ => fail(ctx),
    }
}
