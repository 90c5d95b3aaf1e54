//! Building a network's populations: for each, the ports it receives spikes
//! on, its plan (`auto`), its fused kernel with one input array per port
//! (compiled by the JIT when asked), its per-neuron parameters and initial
//! states drawn from the seed, and its input ring (one slot per step of
//! the longest delay into it).
//!
//! Streams of random numbers, each its own, so that adding one draw never
//! shifts another: per-neuron parameters `0x9a4a_0000 + 64 population +
//! k`, initial values `1000 + 64 population + k` (k: the setting's index in
//! the configuration).

use super::{delay_steps, fail, NetConfig, Network, Population};
use crate::codegen::jit;
use crate::diag::Diagnostic;
use crate::ir::eval::{eval, eval_params, eval_values, Env};
use crate::ir::{ExprId, Model};
use crate::kernel::{self, Kernel};
use crate::runtime::spikegen::{spread_at, Spread};
use crate::schemes;
use crate::source::Span;

/// A population ready to step.
pub(super) struct Runner {
    pub kernel: Kernel,
    /// Per-neuron parameter arrays and the kernel's derived arrays, in the
    /// kernel's order (before the ports).
    pub param_arrays: Vec<Vec<f64>>,
    pub code: Option<jit::Compiled>,
    pub states: Vec<Vec<f64>>,
    /// ring[port][slot][neuron]: input summed for the step `slot` stands for.
    pub ring: Vec<Vec<Vec<f64>>>,
    pub ports: Vec<String>,
    /// White and escape noises: (parameter array, what is drawn, each
    /// neuron's stream).
    pub noise: Vec<(usize, crate::runtime::noise::Draw, Vec<crate::runtime::noise::Stream>)>,
    /// Inputs set by readouts (spikes to a rate): (parameter, position
    /// among the kernel's parameter arrays).
    pub inputs: Vec<(usize, usize)>,
    /// The first neuron the arrays hold: they hold neurons `first..` of
    /// the population, all of them in one process, the process's own
    /// block when the network is spread over several.
    pub first: usize,
    /// How many neurons the arrays hold.
    pub held: usize,
}

/// Every population built.
impl Runner {
    /// A population stepped by something other than a kernel (cells,
    /// densities): its state arrays (named) and input rings only.
    fn without_kernel(
        names: Vec<String>,
        states: Vec<Vec<f64>>,
        ring: Vec<Vec<Vec<f64>>>,
        ports: Vec<String>,
        (dt, count): (f64, usize),
    ) -> Runner {
        let kernel = Kernel {
            insts: vec![],
            states: names,
            params: vec![],
            consumed: 0,
            stores: vec![],
            events: vec![],
            dt,
            tables: vec![],
            propagators: Default::default(),
        };
        let (param_arrays, noise, inputs) = (vec![], vec![], vec![]);
        Runner { kernel, code: None, states, ring, ports, param_arrays, noise, inputs, first: 0, held: count }
    }
}

pub(super) struct Built {
    pub runners: Vec<Runner>,
    /// One line per population's rate table (`E: rate table in V: ...`).
    pub tables: Vec<String>,
    pub compile_seconds: f64,
}

/// Builds every population of `net` for a run of `steps` steps. Fails when
/// a population has no plan, a parameter is not finite (E0103), a table is
/// wrong (E0218), or a model cannot be a kernel or be compiled (E0404).
/// `local`, when the network is spread over processes: per population,
/// the neurons this one steps, the only ones its arrays hold.
pub(super) fn populations(
    net: &Network,
    cfg: &NetConfig,
    span: Span,
    steps: usize,
    local: Option<&[(usize, usize)]>,
) -> Result<Built, Box<Diagnostic>> {
    let mut built = Built { runners: Vec::new(), tables: Vec::new(), compile_seconds: 0.0 };
    for (pi, pop) in net.populations.iter().enumerate() {
        let held = local.map_or((0, pop.count), |l| l[pi]);
        let (runner, notes, seconds) = population(net, (pi, pop, held), cfg, span, steps)?;
        built.runners.push(runner);
        built.tables.extend(notes);
        built.compile_seconds += seconds;
    }
    Ok(built)
}

/// Builds population `pi`, its arrays for neurons `lo..hi` (a kernel's
/// population; cells and densities hold all of theirs): its runner, its
/// rate tables' notes, and the seconds its JIT compilation took. Every
/// per-neuron value is the one the neuron gets in a whole population.
fn population(
    net: &Network,
    (pi, pop, (lo, hi)): (usize, &Population, (usize, usize)),
    cfg: &NetConfig,
    span: Span,
    steps: usize,
) -> Result<(Runner, Vec<String>, f64), Box<Diagnostic>> {
    let ports = ports_into(net, pi);
    if pop.cells.is_some() {
        // stepped by its blocks of cells (`step`): only the input ring
        let slots = max_delay_into(net, pi, cfg.dt).min(steps + 1) + 1;
        let ring = vec![vec![vec![0.0; pop.count]; slots]; ports.len()];
        return Ok((Runner::without_kernel(vec![], vec![], ring, ports, (cfg.dt, pop.count)), vec![], 0.0));
    }
    if pop.model.kind == crate::syntax::ast::ModelKind::Density {
        // stepped by `density::Densities`, its states mirrored here
        let names = pop.model.states.iter().map(|s| s.name.clone()).collect();
        let states = vec![vec![0.0; pop.count]; pop.model.states.len()];
        return Ok((Runner::without_kernel(names, states, vec![], ports, (cfg.dt, pop.count)), vec![], 0.0));
    }
    let mut m = pop.model.clone();
    // the model's own `method =` (which the experiment replaces with a
    // method asked for by the run), else the network's
    let asked = m.method.as_ref().and_then(|(x, _)| schemes::Method::parse(x)).unwrap_or(cfg.method);
    let (plan, d) = schemes::derive_plan(&mut m, asked);
    let Some(plan) = plan else {
        return Err(Box::new(d.list.into_iter().next().unwrap_or_else(|| Diagnostic::internal("no plan"))));
    };
    let params = eval_params(&m, &[]);
    crate::runtime::check_params(&m, &params)?;
    let no_values: Vec<Option<ExprId>> = vec![None; m.values.len()];
    // per-neuron parameters: (index, values), drawn from streams of their own
    let spread_params: Vec<(usize, Vec<f64>)> = pop
        .spreads(cfg)
        .1
        .iter()
        .enumerate()
        .filter_map(|(k, (name, sp))| {
            let stream = 0x9a4a_0000 + (pi as u64) * 64 + k as u64;
            m.param(name).map(|i| (i, (lo..hi).map(|j| spread_at(*sp, pop.count, cfg.seed, stream, j)).collect()))
        })
        .collect();
    // white noises: per-neuron arrays refilled at every step
    let noise = crate::ir::noise::noise_params(&m);
    let mut spread_params = spread_params;
    for &p in &noise {
        if !spread_params.iter().any(|(q, _)| *q == p) {
            spread_params.push((p, vec![0.0; hi - lo]));
        }
    }
    // inputs that readouts rewrite every step, like noises
    let read_in: Vec<usize> = net.readouts.iter().filter(|r| r.to == pi).map(|r| r.param).collect();
    for &p in &read_in {
        if !spread_params.iter().any(|(q, _)| *q == p) {
            spread_params.push((p, vec![0.0; hi - lo]));
        }
    }
    let per_step: Vec<usize> = noise.iter().chain(&read_in).copied().collect();
    let per_neuron: Vec<usize> = spread_params.iter().map(|(i, _)| *i).collect();
    let inputs: Vec<(usize, usize)> =
        read_in.iter().filter_map(|&p| per_neuron.iter().position(|&q| q == p).map(|at| (p, at))).collect();
    kernel::check_tables(&m, &params, &per_neuron)?;
    let sig = kernel::Signature {
        params: &params,
        per_neuron: &per_neuron,
        value_overrides: &no_values,
        ports: &ports,
        outputs: &[],
        per_step: &per_step,
    };
    let kernel = crate::runtime::population::kernel_depth(&m)
        .and_then(|()| kernel::build_full(&m, &plan, &sig, cfg.dt))
        .map_err(|kernel::Unsupported(why)| {
            fail(
                span,
                format!("population `{}` cannot run as a fused kernel: {why}", pop.name),
                "use a method the kernels support",
            )
        })?;
    kernel::check_built_tables(&m, &kernel)?;
    // compiled code clears each input slot as it reads it
    let kernel = Kernel { consumed: ports.len(), ..kernel };
    let notes: Vec<String> = crate::runtime::population::table_notes(&m, &kernel)
        .into_iter()
        .map(|n| format!("{}: {n}", pop.name))
        .collect();
    let code = if cfg.jit {
        Some(jit::compile(&kernel, false).map_err(|e| fail(span, format!("JIT: {e}"), "try --backend interp"))?)
    } else {
        None
    };
    let seconds = code.as_ref().map_or(0.0, |c| c.compile_seconds);
    let states = initial_states(&m, &kernel, &params, (pop.count, lo, hi), (cfg, pop.spreads(cfg).0), pi);
    // a delay past the end of the run never arrives: no slot for it
    let slots = max_delay_into(net, pi, cfg.dt).min(steps + 1) + 1;
    // each slot its own zeroed allocation, on huge pages when large
    // (delivery adds into it at random)
    let slot = || {
        let v = vec![0.0; hi - lo];
        super::pages::huge(&v);
        v
    };
    let ring = (0..ports.len()).map(|_| (0..slots).map(|_| slot()).collect()).collect();
    let exprs: Vec<ExprId> = m.values.iter().map(|v| v.expr).collect();
    let param_arrays = kernel::param_arrays(&kernel, &m, &params, &exprs, &spread_params);
    let noise = crate::ir::noise::random_params(&m)
        .iter()
        .filter_map(|(p, draw)| {
            let at = per_neuron.iter().position(|q| q == p)?;
            Some((at, *draw, crate::runtime::noise::streams(cfg.seed, &m.params[*p].name, pi, lo..hi)))
        })
        .collect();
    let runner = Runner { kernel, code, states, ring, ports, param_arrays, noise, inputs, first: lo, held: hi - lo };
    Ok((runner, notes, seconds))
}

/// The ports population `pi` receives on: those of its incoming
/// connections, then of its drives, each once, in order of appearance.
fn ports_into(net: &Network, pi: usize) -> Vec<String> {
    let mut ports: Vec<String> = Vec::new();
    let incoming = net.connections.iter().filter(|c| c.to == pi).map(|c| &c.port);
    let driven = net.drives.iter().filter(|d| d.to == pi).map(|d| &d.port);
    for port in incoming.chain(driven) {
        if !ports.contains(port) {
            ports.push(port.clone());
        }
    }
    ports
}

/// The longest delay into population `pi`, in steps (1 without connections).
fn max_delay_into(net: &Network, pi: usize, dt: f64) -> usize {
    net.connections
        .iter()
        .filter(|c| c.to == pi)
        .map(|c| {
            let table_max =
                c.table.as_ref().and_then(|t| t.delays.as_ref()).map(|d| d.iter().cloned().fold(0.0, f64::max));
            delay_steps(table_max.unwrap_or(c.delay_range.map_or(c.delay, |r| r.1)), dt)
        })
        .max()
        .unwrap_or(1)
}

/// Initial states of population `pi` (SoA): the model's, then the spreads
/// of `cfg.init` for the states it has; `refractory_until` at -inf.
fn initial_states(
    m: &Model,
    k: &Kernel,
    params: &[f64],
    (count, lo, hi): (usize, usize, usize),
    (cfg, init): (&NetConfig, &[(String, Spread)]),
    pi: usize,
) -> Vec<Vec<f64>> {
    let n = hi - lo;
    let exprs: Vec<ExprId> = m.values.iter().map(|v| v.expr).collect();
    let mut y = vec![f64::NAN; m.states.len()];
    let mut values = Vec::new();
    for &i in &m.init_order {
        eval_values(m, 0.0, &y, params, &exprs, &mut values);
        y[i] = eval(m, m.states[i].init, &Env { t: 0.0, states: &y, params, values: &values, args: &[] });
    }
    crate::runtime::kinetic_steady_states(m, params, &exprs, &mut y);
    let mut out: Vec<Vec<f64>> = y.iter().map(|&v| vec![v; n]).collect();
    while out.len() < k.states.len() {
        out.push(vec![f64::NEG_INFINITY; n]); // refractory_until
    }
    for (si, (name, s)) in init.iter().enumerate() {
        if let Some(state) = m.state(name) {
            let stream = 1000 + (pi as u64) * 64 + si as u64;
            out[state] = (lo..hi).map(|j| spread_at(*s, count, cfg.seed, stream, j)).collect();
        }
    }
    out
}
