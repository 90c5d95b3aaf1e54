//! Networks: populations of point models connected by spikes.
//!
//! Each population runs its fused kernel (JIT or interpreter) with one
//! input array per port that receives connections (`on spike exc(w: nS)`).
//! Connections are drawn once from the seed (fixed probability or fixed
//! in-degree without self-connections within a population, or one-to-one)
//! and stored by source (CSR), with per-synapse weights and delays only
//! when the connection draws them. A spike of neuron i at step s adds its
//! weight to the target's port accumulator for step s + delay/dt (at least
//! one step later), in a ring buffer per population and port; the kernel
//! applies a step's summed input at the start of the step.

use super::spikegen::{spread, SplitMix64, Spread};
use crate::codegen::jit;
use crate::diag::{Code, Diagnostic};
use crate::ir::eval::{eval, eval_params, eval_values, Env};
use crate::ir::{ExprId, Model, Trigger};
use crate::kernel::{self, Kernel};
use crate::schemes::{self, Method};
use crate::source::Span;

/// A population: `count` neurons of a model.
#[derive(Clone, Debug)]
pub struct Population {
    pub name: String,
    pub model: Model,
    pub count: usize,
}

/// `connect from -> to via port (p = ..., w = ..., delay = ...)`.
#[derive(Clone, Debug)]
pub struct Connection {
    pub from: usize,
    pub to: usize,
    pub port: String,
    pub rule: Rule,
    pub w: f64,
    pub delay: f64,
    /// Per-synapse weights drawn from this spread instead of `w`.
    pub w_spread: Option<Spread>,
    /// Per-synapse delays drawn uniformly from [lo, hi) instead of `delay`.
    pub delay_range: Option<(f64, f64)>,
    /// `Rule::Table`'s synapses.
    pub table: Option<std::sync::Arc<SynapseTable>>,
    /// Short-term plasticity: its release scales every weight.
    pub stp: Option<std::sync::Arc<Stp>>,
    pub span: Span,
}

/// How the pairs of a connection are drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rule {
    /// Each pair independently with probability p (no self-connections).
    Probability(f64),
    /// Each target gets exactly k sources, drawn uniformly with replacement
    /// (multiple contacts allowed, no self-connections).
    InDegree(usize),
    /// Source i to target i (populations of equal size).
    OneToOne,
    /// The synapses listed in `Connection::table` (read from a file).
    Table,
}

/// Synapses given one by one: (pre, post) within the source and target
/// populations, with optional per-synapse weights (SI) and delays (s).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SynapseTable {
    pub pairs: Vec<(u32, u32)>,
    pub weights: Option<Vec<f64>>,
    pub delays: Option<Vec<f64>>,
}

/// `drive P with poisson(rate = ..., n = ..., w = ...) via port`: each neuron
/// of P receives n independent Poisson trains of the given rate.
#[derive(Clone, Debug)]
pub struct Drive {
    pub to: usize,
    pub port: String,
    pub rate: f64,
    pub n: f64,
    pub w: f64,
    /// `spikes(times = ...)`: these spike times (s, sorted) reach every
    /// neuron of the population, instead of Poisson trains.
    pub times: Option<Vec<f64>>,
}

#[derive(Clone, Debug)]
pub struct Network {
    pub name: String,
    pub populations: Vec<Population>,
    pub connections: Vec<Connection>,
    pub drives: Vec<Drive>,
}

#[derive(Clone, Debug)]
pub struct NetConfig {
    pub dt: f64,
    pub duration: f64,
    pub seed: u64,
    pub jit: bool,
    /// Initial values spread over every population that has the state.
    pub init: Vec<(String, Spread)>,
    /// Parameters spread over every population that has them (per neuron).
    pub params: Vec<(String, Spread)>,
    /// Keep every synapse (pre, post, weight, delay) in the result.
    pub keep_synapses: bool,
    /// Threads (results do not depend on it); 0 chooses from the work per step.
    pub threads: usize,
    /// States to sample: (population, state, first neuron, end neuron), every
    /// `sample_every` steps.
    pub probes: Vec<(usize, usize, usize, usize)>,
    pub sample_every: usize,
}

/// What a network run produced.
pub struct NetRun {
    /// W0401 per population whose rate table's argument left its range.
    pub warnings: Vec<Diagnostic>,
    /// One line per population's rate table (`E: rate table in V: ...`).
    pub tables: Vec<String>,
    /// (global neuron index, time in s), in (step, population, neuron) order.
    pub spikes: Vec<(usize, f64)>,
    /// First global index of each population.
    pub offsets: Vec<usize>,
    pub synapses: usize,
    /// Bytes of connectivity (CSR offsets and targets), for the per-synapse
    /// figure `run` prints.
    pub connectivity_bytes: usize,
    pub compile_seconds: f64,
    /// (global pre, global post, weight in SI, delay in s) of every synapse,
    /// connection by connection in CSR order, when `keep_synapses` is set.
    pub synapse_table: Vec<(usize, usize, f64, f64)>,
    /// Sample times (s) of the probes, and per probe, per sample, the values
    /// of its neurons.
    pub probe_t: Vec<f64>,
    pub probe_values: Vec<Vec<Vec<f64>>>,
}

struct Runner {
    kernel: Kernel,
    /// Per-neuron parameter arrays, in the kernel's order (before the ports).
    param_arrays: Vec<Vec<f64>>,
    code: Option<jit::Compiled>,
    states: Vec<Vec<f64>>,
    /// ring[port][slot][neuron]
    ring: Vec<Vec<Vec<f64>>>,
    ports: Vec<String>,
}

/// Compressed connectivity of one connection: targets of source i are
/// `targets[offsets[i]..offsets[i + 1]]`.
struct Csr {
    offsets: Vec<usize>,
    targets: Vec<u32>,
    delay_steps: usize,
    port: usize,
    /// Per-synapse weights and delays (steps), parallel to `targets`, when
    /// the connection draws them.
    weights: Option<Vec<f64>>,
    delays: Option<Vec<u32>>,
}

/// A connection's plasticity states per presynaptic neuron, and the time of
/// each neuron's last spike.
type StpState = (Vec<Vec<f64>>, Vec<f64>);

/// One worker's spikes of a step, per population: (neuron, time).
type StepSpikes = Vec<Vec<(usize, f64)>>;

/// A raw pointer the worker threads share; each touches its own chunk.
#[derive(Clone, Copy)]
struct Ptr(*mut f64);
// SAFETY: workers write disjoint chunks between barriers; see `simulate`.
unsafe impl Send for Ptr {}
unsafe impl Sync for Ptr {}

/// A population's state arrays, per-neuron parameters and input ring
/// (`ring[port][slot]`).
struct PopView {
    states: Vec<Ptr>,
    params: Vec<Ptr>,
    ring: Vec<Vec<Ptr>>,
}

/// A barrier that spins briefly before yielding: a network step is short,
/// and sleeping on a condition variable would cost more than the step.
struct SpinBarrier {
    n: usize,
    count: std::sync::atomic::AtomicUsize,
    generation: std::sync::atomic::AtomicUsize,
    /// Set when a thread panicked: waiting stops, so the others can leave.
    broken: std::sync::atomic::AtomicBool,
}

/// Breaks the barrier if its thread unwinds, so no thread waits forever.
struct BreakOnPanic<'a>(&'a SpinBarrier);

impl Drop for BreakOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.broken.store(true, std::sync::atomic::Ordering::Release);
        }
    }
}

impl SpinBarrier {
    fn new(n: usize) -> SpinBarrier {
        SpinBarrier { n, count: 0.into(), generation: 0.into(), broken: false.into() }
    }

    fn is_broken(&self) -> bool {
        self.broken.load(std::sync::atomic::Ordering::Acquire)
    }

    fn wait(&self) {
        use std::sync::atomic::Ordering::{AcqRel, Acquire, Release};
        if self.n <= 1 || self.is_broken() {
            return;
        }
        let gen = self.generation.load(Acquire);
        if self.count.fetch_add(1, AcqRel) + 1 == self.n {
            self.count.store(0, Release);
            self.generation.fetch_add(1, Release);
            return;
        }
        let mut spins = 0u32;
        while self.generation.load(Acquire) == gen && !self.is_broken() {
            spins += 1;
            if spins < 2000 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

fn fail(span: Span, msg: String, help: &str) -> Box<Diagnostic> {
    Box::new(Diagnostic::error(Code::NotInKernel, msg).at(span, "in this network").help(help))
}

/// Builds and runs a network.
pub fn simulate(net: &Network, cfg: &NetConfig, span: Span) -> Result<NetRun, Box<Diagnostic>> {
    let steps = (cfg.duration / cfg.dt).round().max(0.0) as usize;
    let mut offsets = Vec::new();
    let mut total = 0;
    for p in &net.populations {
        offsets.push(total);
        total += p.count;
    }
    // Ports each population receives on, and the longest delay into it.
    let mut runners = Vec::new();
    let mut table_notes = Vec::new();
    let mut compile_seconds = 0.0;
    for (pi, pop) in net.populations.iter().enumerate() {
        let mut ports: Vec<String> = Vec::new();
        let incoming = net.connections.iter().filter(|c| c.to == pi).map(|c| &c.port);
        let driven = net.drives.iter().filter(|d| d.to == pi).map(|d| &d.port);
        for port in incoming.chain(driven) {
            if !ports.contains(port) {
                ports.push(port.clone());
            }
        }
        let max_delay = net
            .connections
            .iter()
            .filter(|c| c.to == pi)
            .map(|c| {
                let table_max =
                    c.table.as_ref().and_then(|t| t.delays.as_ref()).map(|d| d.iter().cloned().fold(0.0, f64::max));
                delay_steps(table_max.unwrap_or(c.delay_range.map_or(c.delay, |r| r.1)), cfg.dt)
            })
            .max()
            .unwrap_or(1);
        let mut m = pop.model.clone();
        let (plan, d) = schemes::derive_plan(&mut m, Method::Auto);
        let Some(plan) = plan else {
            return Err(Box::new(d.list.into_iter().next().unwrap_or_else(|| Diagnostic::internal("no plan"))));
        };
        let params = eval_params(&m, &[]);
        super::check_params(&m, &params)?;
        let no_values: Vec<Option<ExprId>> = vec![None; m.values.len()];
        // per-neuron parameters: (index, values), drawn from streams of their own
        let spread_params: Vec<(usize, Vec<f64>)> = cfg
            .params
            .iter()
            .enumerate()
            .filter_map(|(k, (name, sp))| {
                m.param(name).map(|i| (i, spread(*sp, pop.count, cfg.seed, 0x9a4a_0000 + (pi as u64) * 64 + k as u64)))
            })
            .collect();
        let per_neuron: Vec<usize> = spread_params.iter().map(|(i, _)| *i).collect();
        kernel::check_tables(&m, &params, &per_neuron)?;
        let kernel = kernel::build_with_ports(&m, &plan, &params, &per_neuron, &no_values, &ports, cfg.dt).map_err(
            |kernel::Unsupported(why)| {
                fail(
                    span,
                    format!("population `{}` cannot run as a fused kernel: {why}", pop.name),
                    "use a method the kernels support",
                )
            },
        )?;
        kernel::check_built_tables(&m, &kernel)?;
        table_notes
            .extend(super::population::table_notes(&m, &kernel).into_iter().map(|n| format!("{}: {n}", pop.name)));
        let code = if cfg.jit {
            let c =
                jit::compile(&kernel, false).map_err(|e| fail(span, format!("JIT: {e}"), "try --backend interp"))?;
            compile_seconds += c.compile_seconds;
            Some(c)
        } else {
            None
        };
        let states = initial_states(&m, &kernel, &params, pop.count, cfg, pi);
        // a delay past the end of the run never arrives: no slot for it
        let ring = vec![vec![vec![0.0; pop.count]; max_delay.min(steps + 1) + 1]; ports.len()];
        let param_arrays = spread_params.into_iter().map(|(_, v)| v).collect();
        runners.push(Runner { kernel, code, states, ring, ports, param_arrays });
    }
    // Connectivity, drawn once.
    let mut csrs: Vec<Vec<Csr>> = (0..net.populations.len()).map(|_| Vec::new()).collect();
    let (mut synapses, mut connectivity_bytes) = (0, 0);
    let first_index = offsets.clone();
    let mut synapse_table = Vec::new();
    for (ci, c) in net.connections.iter().enumerate() {
        let (na, nb) = (net.populations[c.from].count, net.populations[c.to].count);
        let mut rng = SplitMix64::new(cfg.seed ^ (ci as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut offsets = Vec::with_capacity(na + 1);
        let mut targets = Vec::new();
        offsets.push(0);
        match c.rule {
            Rule::Probability(p) => {
                for i in 0..na {
                    for j in 0..nb {
                        if c.from == c.to && i == j {
                            continue;
                        }
                        if 1.0 - rng.next_open01() < p {
                            targets.push(j as u32);
                        }
                    }
                    offsets.push(targets.len());
                }
            }
            Rule::Table => {} // below
            Rule::OneToOne => {
                for i in 0..na.min(nb) {
                    targets.push(i as u32);
                    offsets.push(targets.len());
                }
                offsets.resize(na + 1, targets.len());
            }
            Rule::InDegree(k) => {
                // draw (source, target) pairs, then sort them by source
                let mut pairs: Vec<(u32, u32)> = Vec::with_capacity(nb * k);
                for j in 0..nb {
                    let mut got = 0;
                    while got < k && na > usize::from(c.from == c.to) {
                        let i = ((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * na as f64) as usize;
                        if c.from == c.to && i == j {
                            continue;
                        }
                        pairs.push((i.min(na - 1) as u32, j as u32));
                        got += 1;
                    }
                }
                pairs.sort_unstable();
                let mut it = pairs.iter().peekable();
                for i in 0..na as u32 {
                    while let Some(&&(src, tgt)) = it.peek() {
                        if src != i {
                            break;
                        }
                        targets.push(tgt);
                        it.next();
                    }
                    offsets.push(targets.len());
                }
            }
        }
        // a table's synapses, sorted by source (stably: the file's order within a source)
        let mut table_weights = None;
        let mut table_delays = None;
        if let (Rule::Table, Some(t)) = (c.rule, &c.table) {
            let mut order: Vec<usize> = (0..t.pairs.len()).collect();
            order.sort_by_key(|&k| t.pairs[k].0);
            targets = order.iter().map(|&k| t.pairs[k].1).collect();
            offsets.clear();
            offsets.push(0);
            let mut k = 0;
            for i in 0..na as u32 {
                while k < order.len() && t.pairs[order[k]].0 == i {
                    k += 1;
                }
                offsets.push(k);
            }
            table_weights = t.weights.as_ref().map(|w| order.iter().map(|&k| w[k]).collect::<Vec<f64>>());
            table_delays = t
                .delays
                .as_ref()
                .map(|d| order.iter().map(|&k| delay_steps(d[k], cfg.dt) as u32).collect::<Vec<u32>>());
        }
        // per-synapse weights and delays, from streams of their own, in CSR order
        let weights =
            table_weights.or_else(|| c.w_spread.map(|sp| spread(sp, targets.len(), cfg.seed, 0x3e19_0000 + ci as u64)));
        let delays = table_delays.or_else(|| {
            c.delay_range.map(|(lo, hi)| {
                spread(Spread::Uniform(lo, hi), targets.len(), cfg.seed, 0xde1a_0000 + ci as u64)
                    .into_iter()
                    .map(|d| delay_steps(d, cfg.dt) as u32)
                    .collect::<Vec<u32>>()
            })
        });
        synapses += targets.len();
        connectivity_bytes += offsets.len() * std::mem::size_of::<usize>()
            + targets.len() * std::mem::size_of::<u32>()
            + weights.as_ref().map_or(0, |w| w.len() * std::mem::size_of::<f64>())
            + delays.as_ref().map_or(0, |d| d.len() * std::mem::size_of::<u32>());
        let port = runners[c.to].ports.iter().position(|p| *p == c.port).unwrap_or(0);
        let fixed_delay = delay_steps(c.delay, cfg.dt);
        if cfg.keep_synapses {
            let (from0, to0) = (first_index[c.from], first_index[c.to]);
            for i in 0..na {
                for k in offsets[i]..offsets[i + 1] {
                    let w = weights.as_ref().map_or(c.w, |w| w[k]);
                    let d = delays.as_ref().map_or(fixed_delay, |d| d[k] as usize) as f64 * cfg.dt;
                    synapse_table.push((from0 + i, to0 + targets[k] as usize, w, d));
                }
            }
        }
        csrs[c.from].push(Csr { offsets, targets, delay_steps: fixed_delay, port, weights, delays });
    }
    let conn_of: Vec<Vec<usize>> = (0..net.populations.len())
        .map(|pi| net.connections.iter().enumerate().filter(|(_, c)| c.from == pi).map(|(k, _)| k).collect())
        .collect();
    // Poisson drives: a stream each, drawn neuron by neuron, step by step
    let mut drive_rngs: Vec<SplitMix64> = (0..net.drives.len())
        .map(|k| SplitMix64::new(cfg.seed ^ (0x5eed_0000 + k as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9)))
        .collect();
    let drive_ports: Vec<usize> =
        net.drives.iter().map(|d| runners[d.to].ports.iter().position(|p| *p == d.port).unwrap_or(0)).collect();
    // Threads: each owns a contiguous chunk of every population (worker 0
    // is this thread). A step: this thread adds the drives; barrier; every
    // worker steps its chunks and clears their input slot; barrier; this
    // thread delivers the spikes in (population, neuron) order. Chunks only
    // split the work: the results do not depend on the thread count.
    let threads = match cfg.threads {
        0 => {
            // two barriers per step cost a few microseconds: worth it only
            // when a step has about half a million kernel operations or more
            let work: usize = runners.iter().zip(&net.populations).map(|(r, p)| r.kernel.insts.len() * p.count).sum();
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            (work / 250_000).clamp(1, cores)
        }
        t => t.clamp(1, 64),
    };
    let chunks: Vec<Vec<(usize, usize)>> = net
        .populations
        .iter()
        .map(|p| {
            let size = p.count.div_ceil(threads).div_ceil(2) * 2;
            (0..threads).map(|w| ((w * size).min(p.count), ((w + 1) * size).min(p.count))).collect()
        })
        .collect();
    // raw views of the arrays the workers write (disjoint chunks)
    let views: Vec<PopView> = runners
        .iter_mut()
        .map(|r| PopView {
            states: r.states.iter_mut().map(|s| Ptr(s.as_mut_ptr())).collect(),
            params: r.param_arrays.iter_mut().map(|s| Ptr(s.as_mut_ptr())).collect(),
            ring: r.ring.iter_mut().map(|port| port.iter_mut().map(|slot| Ptr(slot.as_mut_ptr())).collect()).collect(),
        })
        .collect();
    let kernels: Vec<(&Kernel, Option<&jit::Compiled>)> =
        runners.iter().map(|r| (&r.kernel, r.code.as_ref())).collect();
    let slots_of: Vec<usize> = runners.iter().map(|r| r.ring.first().map_or(1, |p| p.len())).collect();
    let emitting: Vec<usize> =
        runners.iter().map(|r| r.kernel.events.iter().filter(|e| e.emits).count().max(1)).collect();
    let outputs: Vec<std::sync::Mutex<StepSpikes>> =
        (0..threads).map(|_| std::sync::Mutex::new(vec![Vec::new(); runners.len()])).collect();
    // per worker and population: the first lookup outside a rate table
    let excursions: Vec<std::sync::Mutex<Vec<Option<super::population::Excursion>>>> =
        (0..threads).map(|_| std::sync::Mutex::new(vec![None; runners.len()])).collect();
    let barrier = SpinBarrier::new(threads);
    let step_now = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::atomic::AtomicBool::new(false);
    let work = |w: usize, step: usize, bufs: &mut Vec<(Vec<i64>, Vec<f64>)>| {
        let t = step as f64 * cfg.dt;
        let t_next = (step + 1) as f64 * cfg.dt;
        let mut out = outputs[w].lock().unwrap_or_else(|e| e.into_inner());
        for (pi, view) in views.iter().enumerate() {
            let (a, b) = chunks[pi][w];
            out[pi].clear();
            if a >= b {
                continue;
            }
            let now = step % slots_of[pi];
            let n = b - a;
            let (kernel, code) = kernels[pi];
            if !kernel.tables.is_empty() {
                let mut seen = excursions[w].lock().unwrap_or_else(|e| e.into_inner());
                if seen[pi].is_none() {
                    // SAFETY: as below; read before this worker's step writes
                    let state = |i: usize| {
                        view.states.get(i).map(|p| unsafe { std::slice::from_raw_parts(p.0.add(a) as *const f64, n) })
                    };
                    seen[pi] = super::population::excursion(kernel, state).map(|(ti, i, v)| (ti, step, a + i, v));
                }
            }
            // SAFETY: [a, b) of every array belongs to this worker alone
            // while the step runs; the arrays outlive the threads.
            unsafe {
                match code {
                    Some(code) => {
                        let sp: Vec<*mut f64> = view.states.iter().map(|p| p.0.add(a)).collect();
                        let pp: Vec<*const f64> = view
                            .params
                            .iter()
                            .map(|p| p.0.add(a) as *const f64)
                            .chain(view.ring.iter().map(|port| port[now].0.add(a) as *const f64))
                            .collect();
                        let (idx, tim) = &mut bufs[pi];
                        let count = code.call(&sp, &pp, n, (t, t_next), idx, tim);
                        for k in 0..count {
                            out[pi].push((a + idx[k] as usize, tim[k]));
                        }
                    }
                    None => {
                        let mut sts: Vec<&mut [f64]> =
                            view.states.iter().map(|p| std::slice::from_raw_parts_mut(p.0.add(a), n)).collect();
                        let prs: Vec<&[f64]> = view
                            .params
                            .iter()
                            .map(|p| std::slice::from_raw_parts(p.0.add(a), n))
                            .chain(view.ring.iter().map(|port| std::slice::from_raw_parts(port[now].0.add(a), n)))
                            .collect();
                        let mut local = Vec::new();
                        kernel::interp::step(kernel, &mut sts, &prs, t, t_next, &mut local);
                        out[pi].extend(local.into_iter().map(|(i, ts)| (a + i, ts)));
                    }
                }
                for port in &view.ring {
                    std::slice::from_raw_parts_mut(port[now].0.add(a), n).iter_mut().for_each(|x| *x = 0.0);
                }
            }
        }
    };
    let buffers = |w: usize| -> Vec<(Vec<i64>, Vec<f64>)> {
        chunks
            .iter()
            .zip(&emitting)
            .map(|(c, &e)| (vec![0; (c[w].1 - c[w].0) * e], vec![0.0; (c[w].1 - c[w].0) * e]))
            .collect()
    };
    let mut spikes_out = Vec::new();
    // plasticity state per connection and presynaptic neuron, and the time
    // of that neuron's last spike
    let mut stp_state: Vec<Option<StpState>> = net
        .connections
        .iter()
        .map(|c| {
            c.stp
                .as_ref()
                .map(|s| (vec![s.initial(); net.populations[c.from].count], vec![0.0; net.populations[c.from].count]))
        })
        .collect();
    let (mut probe_t, mut probe_values) = (Vec::new(), vec![Vec::new(); cfg.probes.len()]);
    let sample = |t: f64, probe_t: &mut Vec<f64>, probe_values: &mut Vec<Vec<Vec<f64>>>| {
        probe_t.push(t);
        for (k, &(pi, st, a, b)) in cfg.probes.iter().enumerate() {
            let n = net.populations.get(pi).map_or(0, |p| p.count);
            let row = match views.get(pi).and_then(|v| v.states.get(st)) {
                // SAFETY: called only while the workers wait; a <= b <= n
                Some(p) => unsafe { std::slice::from_raw_parts(p.0, n)[a.min(n)..b.min(n)].to_vec() },
                None => vec![],
            };
            probe_values[k].push(row);
        }
    };
    if !cfg.probes.is_empty() {
        sample(0.0, &mut probe_t, &mut probe_values);
    }
    let result: Result<(), Box<Diagnostic>> = std::thread::scope(|scope| {
        for w in 1..threads {
            let (barrier, done, step_now, work) = (&barrier, &done, &step_now, &work);
            let mut bufs = buffers(w);
            scope.spawn(move || loop {
                let _guard = BreakOnPanic(barrier);
                barrier.wait();
                if done.load(std::sync::atomic::Ordering::Acquire) || barrier.is_broken() {
                    return;
                }
                work(w, step_now.load(std::sync::atomic::Ordering::Acquire), &mut bufs);
                barrier.wait();
            });
        }
        let mut bufs = buffers(0);
        let finish = |r| {
            done.store(true, std::sync::atomic::Ordering::Release);
            barrier.wait();
            r
        };
        for step in 0..steps {
            let t_next = (step + 1) as f64 * cfg.dt;
            for (k, d) in net.drives.iter().enumerate() {
                if let Some(times) = &d.times {
                    // the spikes in [t, t + dt) arrive at this step
                    let t = step as f64 * cfg.dt;
                    let (a, b) = (t - 1e-12 * cfg.dt, t_next - 1e-12 * cfg.dt);
                    let count = times.partition_point(|&s| s < b) - times.partition_point(|&s| s < a);
                    if count > 0 {
                        let slot = views[d.to].ring[drive_ports[k]][step % slots_of[d.to]].0;
                        for i in 0..net.populations[d.to].count {
                            // SAFETY: the workers wait at the barrier; i < count
                            unsafe { *slot.add(i) += d.w * count as f64 };
                        }
                    }
                    continue;
                }
                let lambda = d.n * d.rate * cfg.dt;
                let slot = views[d.to].ring[drive_ports[k]][step % slots_of[d.to]].0;
                for i in 0..net.populations[d.to].count {
                    // SAFETY: the workers wait at the barrier; i < count
                    unsafe { *slot.add(i) += d.w * poisson_count(&mut drive_rngs[k], lambda) as f64 };
                }
            }
            step_now.store(step, std::sync::atomic::Ordering::Release);
            let _guard = BreakOnPanic(&barrier);
            barrier.wait();
            work(0, step, &mut bufs);
            barrier.wait();
            if barrier.is_broken() {
                return finish(Err(Box::new(
                    Diagnostic::internal("a network worker thread failed").at(span, "this network"),
                )));
            }
            // Deliver this step's spikes, chunk by chunk: neuron order.
            for pi in 0..views.len() {
                for out in &outputs {
                    let out = out.lock().unwrap_or_else(|e| e.into_inner());
                    for &(i, ts) in &out[pi] {
                        spikes_out.push((offsets[pi] + i, ts));
                        for (k, &ci) in conn_of[pi].iter().enumerate() {
                            let c = &net.connections[ci];
                            let csr = &csrs[pi][k];
                            let ring = &views[c.to].ring[csr.port];
                            let slots = ring.len();
                            let range = csr.offsets[i]..csr.offsets[i + 1];
                            let scale = match (&c.stp, &mut stp_state[ci]) {
                                (Some(stp), Some((ys, last))) => {
                                    stp.advance(&mut ys[i], ts - last[i]);
                                    last[i] = ts;
                                    stp.spike(&mut ys[i], ts)
                                }
                                _ => 1.0,
                            };
                            // SAFETY: the workers wait at the barrier; targets < count
                            unsafe {
                                match (&csr.weights, &csr.delays) {
                                    (None, None) if csr.delay_steps >= slots => {} // after the end
                                    (None, None) => {
                                        let acc = ring[(step + csr.delay_steps) % slots].0;
                                        let w = c.w * scale;
                                        for &j in &csr.targets[range] {
                                            *acc.add(j as usize) += w;
                                        }
                                    }
                                    (weights, delays) => {
                                        for k in range {
                                            let d = delays.as_ref().map_or(csr.delay_steps, |d| d[k] as usize);
                                            if d >= slots {
                                                continue; // arrives after the end
                                            }
                                            let w = weights.as_ref().map_or(c.w, |w| w[k]) * scale;
                                            *ring[(step + d) % slots].0.add(csr.targets[k] as usize) += w;
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if !cfg.probes.is_empty() && (step + 1) % cfg.sample_every.max(1) == 0 {
                sample(t_next, &mut probe_t, &mut probe_values);
            }
            // a diverged neuron stops the run
            if (step + 1) % 1000 == 0 || step + 1 == steps {
                for (pi, v) in views.iter().enumerate() {
                    let nm = net.populations[pi].model.states.len();
                    let n = net.populations[pi].count;
                    // SAFETY: the workers wait at the barrier
                    let bad = v.states.iter().take(nm).find_map(|p| unsafe {
                        std::slice::from_raw_parts(p.0, n).iter().position(|x| !x.is_finite())
                    });
                    if let Some(i) = bad {
                        return finish(Err(Box::new(
                            Diagnostic::error(
                                Code::NumericalBlowUp,
                                format!(
                                    "neuron {i} of `{}` diverged by t = {} ms",
                                    net.populations[pi].name,
                                    crate::units::format_number(t_next * 1e3)
                                ),
                            )
                            .at(span, "in this network")
                            .help("check the weights and the step"),
                        )));
                    }
                }
            }
        }
        finish(Ok(()))
    });
    result?;
    let mut warnings = Vec::new();
    for (pi, pop) in net.populations.iter().enumerate() {
        let first = excursions
            .iter()
            .filter_map(|e| e.lock().unwrap_or_else(|e| e.into_inner())[pi])
            .min_by_key(|x| (x.1, x.2));
        if let Some(first) = first {
            warnings.push(super::population::excursion_warning(&pop.model, &runners[pi].kernel, first, cfg.dt));
        }
    }
    Ok(NetRun {
        spikes: spikes_out,
        warnings,
        tables: table_notes,
        offsets,
        synapses,
        connectivity_bytes,
        compile_seconds,
        synapse_table,
        probe_t,
        probe_values,
    })
}

/// A Poisson count of mean `lambda`: Knuth's product of uniforms up to
/// lambda = 30, above it the normal approximation (rounded, at least 0).
fn poisson_count(rng: &mut SplitMix64, lambda: f64) -> u64 {
    if lambda <= 0.0 {
        return 0;
    }
    if lambda <= 30.0 {
        let limit = (-lambda).exp();
        let mut k = 0;
        let mut p = rng.next_open01();
        while p > limit {
            k += 1;
            p *= rng.next_open01();
        }
        return k;
    }
    let (u1, u2) = (rng.next_open01(), rng.next_open01());
    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    (lambda + lambda.sqrt() * z).round().max(0.0) as u64
}

fn delay_steps(delay: f64, dt: f64) -> usize {
    let steps = (delay / dt).round();
    if steps.is_finite() && steps < 1e15 {
        (steps as usize).max(1)
    } else {
        usize::MAX / 4
    }
}

fn initial_states(m: &Model, k: &Kernel, params: &[f64], n: usize, cfg: &NetConfig, pi: usize) -> Vec<Vec<f64>> {
    let exprs: Vec<ExprId> = m.values.iter().map(|v| v.expr).collect();
    let mut y = vec![f64::NAN; m.states.len()];
    let mut values = Vec::new();
    for &i in &m.init_order {
        eval_values(m, 0.0, &y, params, &exprs, &mut values);
        y[i] = eval(m, m.states[i].init, &Env { t: 0.0, states: &y, params, values: &values, args: &[] });
    }
    super::kinetic_steady_states(m, params, &exprs, &mut y);
    let mut out: Vec<Vec<f64>> = y.iter().map(|&v| vec![v; n]).collect();
    while out.len() < k.states.len() {
        out.push(vec![f64::NEG_INFINITY; n]); // refractory_until
    }
    for (si, (name, s)) in cfg.init.iter().enumerate() {
        if let Some(state) = m.state(name) {
            out[state] = spread(*s, n, cfg.seed, 1000 + (pi as u64) * 64 + si as u64);
        }
    }
    out
}

/// The ports of a model's `on spike PORT(w)` events: (port, weight dimension).
pub fn ports(m: &Model) -> Vec<(String, Option<crate::units::Dim>)> {
    m.events
        .iter()
        .filter_map(|e| match &e.trigger {
            Trigger::Spike { port: Some(p), weight_dim, .. } => Some((p.clone(), *weight_dim)),
            _ => None,
        })
        .collect()
}

/// Whether every synapse of this model onto one neuron can share one set of
/// states (lumping, as NEST and Brian2 do for linear synapses): the state
/// equations are linear in the synapse's states, a spike adds to them an
/// amount linear in its weight and independent of them, and the currents
/// are linear in them. Then the sum of the synapses' states obeys the same
/// equations as each one. `Err` says what breaks it.
pub fn lumpable(m: &Model) -> Result<(), String> {
    use crate::ir::{Action, NodeKind, ValueKind, Var};
    let mut m = m.clone();
    let own: Vec<usize> = (0..m.states.len()).filter(|&i| m.states[i].name != "V_post").collect();
    // through values too: a state hidden behind a derived value counts
    let mentions_own = |m: &Model, e: ExprId| m.reads(e, |v| matches!(v, Var::State(k) if own.contains(&k)));
    if m.events.iter().any(|e| !matches!(e.trigger, Trigger::Spike { .. })) {
        return Err("it has events other than `on spike`".into());
    }
    let params = eval_params(&m, &[]);
    for &s in &own {
        let env = Env { t: 0.0, states: &[], params: &params, values: &[], args: &[] };
        if eval(&m, m.states[s].init, &env) != 0.0 {
            return Err(format!("`{}` does not start at 0", m.states[s].name));
        }
    }
    let linear_in_own = |m: &mut Model, e: ExprId, what: &str| -> Result<(), String> {
        for &u in &own {
            let d = crate::symbolic::diff(m, e, Var::State(u)).map_err(|why| format!("{what}: {why}"))?;
            if mentions_own(m, d) {
                return Err(format!("{what} is not linear in `{}`", m.states[u].name));
            }
        }
        Ok(())
    };
    for &s in &own {
        if let Some(rhs) = m.states[s].rhs {
            let what = format!("d{}/dt", m.states[s].name);
            linear_in_own(&mut m, rhs, &what)?;
            // a constant term would grow with the number of synapses lumped
            let at_zero = (0..own.len()).fold(rhs, |e, k| {
                let zero = m.arena.add(NodeKind::Const(0.0), m.arena.ty(e), m.span);
                crate::symbolic::substitute(&mut m, e, Var::State(own[k]), zero)
            });
            if !matches!(m.arena.kind(at_zero), NodeKind::Const(c) if *c == 0.0) {
                return Err(format!("d{}/dt does not vanish with the synapse's states", m.states[s].name));
            }
        }
    }
    let events: Vec<(Vec<Action>, Option<usize>)> = m
        .events
        .iter()
        .filter_map(|e| match e.trigger {
            Trigger::Spike { arg, .. } => Some((e.actions.clone(), arg)),
            _ => None,
        })
        .collect();
    for (actions, arg) in events {
        for a in actions {
            let Action::Assign { state, value, held, .. } = a else { continue };
            let name = m.states[state].name.clone();
            if held {
                return Err(format!("a spike sets `{name}` instead of adding to it"));
            }
            // value = state + increment, the increment free of the states:
            // d value / d state = 1, d value / d other states = 0
            for &u in &own {
                let d =
                    crate::symbolic::diff(&mut m, value, Var::State(u)).map_err(|why| format!("`{name}`: {why}"))?;
                let want = if u == state { 1.0 } else { 0.0 };
                if !matches!(m.arena.kind(d), NodeKind::Const(c) if *c == want) {
                    return Err(format!("a spike's increment of `{name}` depends on the synapse's state"));
                }
            }
            let inc = value;
            if let Some(k) = arg {
                let d =
                    crate::symbolic::diff(&mut m, inc, Var::EventArg(k)).map_err(|why| format!("`{name}`: {why}"))?;
                if m.refs(d).iter().any(|v| matches!(v, Var::EventArg(_))) {
                    return Err(format!("a spike's increment of `{name}` is not linear in its weight"));
                }
            }
        }
    }
    let currents: Vec<(String, ExprId)> =
        m.values.iter().filter(|v| v.kind == ValueKind::Current).map(|v| (v.name.clone(), v.expr)).collect();
    for (name, e) in currents {
        linear_in_own(&mut m, e, &format!("current `{name}`"))?;
        // and zero without the synapse's states: else it would count once, not per synapse
        let at_zero = own.iter().fold(e, |x, &k| {
            let zero = m.arena.add(NodeKind::Const(0.0), m.arena.ty(m.states[k].init), m.span);
            crate::symbolic::substitute(&mut m, x, Var::State(k), zero)
        });
        let at_zero = crate::symbolic::simplify(&mut m, at_zero);
        if !matches!(m.arena.kind(at_zero), NodeKind::Const(c) if *c == 0.0) {
            return Err(format!("current `{name}` does not vanish with the synapse's states"));
        }
    }
    Ok(())
}

/// Short-term plasticity on a connection (`plasticity = TsodyksMarkram`):
/// a `plasticity` model whose states evolve linearly between spikes, kept
/// per presynaptic neuron (its dynamics depend only on that neuron's
/// spikes), advanced exactly over each interspike interval, and whose
/// spike event's `release` scales the weight delivered.
#[derive(Clone, Debug)]
pub struct Stp {
    model: Model,
    params: Vec<f64>,
    /// y' = A y + b between spikes.
    a: crate::schemes::linalg::Mat,
    b: Vec<f64>,
    init: Vec<f64>,
    actions: Vec<crate::ir::Action>,
    /// The states do not couple (A is diagonal, as for Tsodyks-Markram):
    /// each advances in closed form, without a matrix exponential per spike.
    diagonal: bool,
}

impl Stp {
    pub fn new(m: &Model) -> Result<Stp, String> {
        use crate::ir::{NodeKind, Var};
        use crate::schemes::linalg::Mat;
        let mut model = m.clone();
        let params = eval_params(&model, &[]);
        let n = model.states.len();
        let mut a = Mat::zeros(n);
        let mut b = vec![0.0; n];
        let zeros = vec![0.0; n];
        for (i, bi) in b.iter_mut().enumerate() {
            let Some(rhs) = model.states[i].rhs else { continue };
            for j in 0..n {
                let d = crate::symbolic::diff(&mut model, rhs, Var::State(j)).map_err(|e| e.to_string())?;
                let varies = model.refs(d).iter().any(|v| matches!(v, Var::State(_) | Var::Time | Var::Value(_)));
                if varies && !matches!(model.arena.kind(d), NodeKind::Const(_)) {
                    return Err(format!("d{}/dt is not linear with constant coefficients", model.states[i].name));
                }
                let env = Env { t: 0.0, states: &zeros, params: &params, values: &[], args: &[] };
                a.set(i, j, eval(&model, d, &env));
            }
            let mut vals = Vec::new();
            eval_values(
                &model,
                0.0,
                &zeros,
                &params,
                &model.values.iter().map(|v| v.expr).collect::<Vec<_>>(),
                &mut vals,
            );
            let env = Env { t: 0.0, states: &zeros, params: &params, values: &vals, args: &[] };
            *bi = eval(&model, rhs, &env);
        }
        let mut init = vec![0.0; n];
        for &s in &model.init_order {
            let env = Env { t: 0.0, states: &init, params: &params, values: &[], args: &[] };
            init[s] = eval(&model, model.states[s].init, &env);
        }
        if model.states.iter().filter_map(|s| s.rhs).any(|r| model.refs(r).contains(&Var::Time)) {
            return Err("its equations read `t`: they must be autonomous between spikes".into());
        }
        let event = model
            .events
            .iter()
            .find(|e| matches!(e.trigger, Trigger::Spike { .. }))
            .ok_or("it has no `on spike` event")?;
        if matches!(event.trigger, Trigger::Spike { arg: Some(_), .. }) {
            return Err("its `on spike` takes a weight; on a connection the weight is the connection's".into());
        }
        let actions = event.actions.clone();
        if !a.a.iter().chain(&b).chain(&init).all(|x| x.is_finite()) {
            return Err("its coefficients or initial values are not finite".into());
        }
        let diagonal = (0..n).all(|i| (0..n).all(|j| i == j || a.get(i, j) == 0.0));
        Ok(Stp { model, params, a, b, init, actions, diagonal })
    }

    pub fn initial(&self) -> Vec<f64> {
        self.init.clone()
    }

    /// Advances `y` over `h` seconds without spikes, exactly.
    pub fn advance(&self, y: &mut [f64], h: f64) {
        if h <= 0.0 {
            return;
        }
        if self.diagonal {
            // y' = a y + b: y(h) = y + (e^{ah} - 1)(y + b/a), or y + b h for a = 0
            for (i, yi) in y.iter_mut().enumerate() {
                let (a, b) = (self.a.get(i, i), self.b[i]);
                *yi = if a == 0.0 { *yi + b * h } else { *yi + (a * h).exp_m1() * (*yi + b / a) };
            }
            return;
        }
        let (phi, psi) = crate::schemes::linalg::propagators(&self.a, h);
        let n = y.len();
        let old = y.to_vec();
        for (i, yi) in y.iter_mut().enumerate() {
            *yi = (0..n).map(|j| phi.get(i, j) * old[j] + psi.get(i, j) * self.b[j]).sum();
        }
    }

    /// A presynaptic spike: runs the event in order; returns its `release`
    /// (1 when the event hands none on).
    pub fn spike(&self, y: &mut [f64], t: f64) -> f64 {
        use crate::ir::Action;
        let mut release = 1.0;
        for a in &self.actions {
            let env = Env { t, states: y, params: &self.params, values: &[], args: &[] };
            match a {
                Action::Assign { state, value, .. } => {
                    let v = eval(&self.model, *value, &env);
                    y[*state] = v;
                }
                Action::Output { value, .. } => release = eval(&self.model, *value, &env),
                _ => {}
            }
        }
        release
    }
}

#[cfg(test)]
mod tests {
    use super::Stp;

    /// The closed form for uncoupled states equals the general propagator.
    #[test]
    fn diagonal_plasticity_advances_like_the_matrix_exponential() {
        let src = "plasticity P {\n    parameter U = 0.1, tau_rec = 100 ms, tau_fac = 1000 ms\n    state R = 1, u = 0\n    dR/dt = (1 - R) / tau_rec\n    du/dt = -u / tau_fac\n    on spike { u += U * (1 - u); release = u * R; R -= u * R }\n}\n";
        let c = crate::compile_source("p.neuro", src, None);
        let fast = Stp::new(c.model("P").unwrap()).unwrap(); // ok: a test of a model it just compiled
        assert!(fast.diagonal);
        let general = Stp { diagonal: false, ..fast.clone() };
        for h in [1e-4, 3.7e-3, 0.05, 2.0] {
            let (mut a, mut b) = (vec![0.3, 0.8], vec![0.3, 0.8]);
            fast.advance(&mut a, h);
            general.advance(&mut b, h);
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < 1e-13, "h = {h}: {x} vs {y}");
            }
        }
    }
}
