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
use crate::codegen::interp::{eval, eval_params, eval_values, Env};
use crate::codegen::jit;
use crate::diag::{Code, Diagnostic};
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
    /// Keep every synapse (pre, post, weight, delay) in the result.
    pub keep_synapses: bool,
}

/// What a network run produced.
pub struct NetRun {
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
}

struct Runner {
    kernel: Kernel,
    code: Option<jit::Compiled>,
    states: Vec<Vec<f64>>,
    /// ring[port][slot][neuron]
    ring: Vec<Vec<Vec<f64>>>,
    ports: Vec<String>,
    /// The JIT kernel's event buffers (neuron, time), room for every
    /// emitting event of every neuron; allocated once.
    events: (Vec<i64>, Vec<f64>),
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
            .map(|c| delay_steps(c.delay_range.map_or(c.delay, |r| r.1), cfg.dt))
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
        let kernel = kernel::build_with_ports(&m, &plan, &params, &[], &no_values, &ports, cfg.dt).map_err(
            |kernel::Unsupported(why)| {
                fail(
                    span,
                    format!("population `{}` cannot run as a fused kernel: {why}", pop.name),
                    "use a method the kernels support",
                )
            },
        )?;
        let code = if cfg.jit {
            let c =
                jit::compile(&kernel, false).map_err(|e| fail(span, format!("JIT: {e}"), "try --backend interp"))?;
            compile_seconds += c.compile_seconds;
            Some(c)
        } else {
            None
        };
        let states = initial_states(&m, &kernel, &params, pop.count, cfg, pi);
        let ring = vec![vec![vec![0.0; pop.count]; max_delay + 1]; ports.len()];
        let emitting = kernel.events.iter().filter(|e| e.emits).count().max(1);
        let events = (vec![0; pop.count * emitting], vec![0.0; pop.count * emitting]);
        runners.push(Runner { kernel, code, states, ring, ports, events });
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
        // per-synapse weights and delays, from streams of their own, in CSR order
        let weights = c.w_spread.map(|sp| spread(sp, targets.len(), cfg.seed, 0x3e19_0000 + ci as u64));
        let delays = c.delay_range.map(|(lo, hi)| {
            spread(Spread::Uniform(lo, hi), targets.len(), cfg.seed, 0xde1a_0000 + ci as u64)
                .into_iter()
                .map(|d| delay_steps(d, cfg.dt) as u32)
                .collect::<Vec<u32>>()
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
    let mut spikes_out = Vec::new();
    let mut step_spikes: Vec<Vec<(usize, f64)>> = vec![Vec::new(); runners.len()];
    for step in 0..steps {
        let t = step as f64 * cfg.dt;
        let t_next = (step + 1) as f64 * cfg.dt;
        for (k, d) in net.drives.iter().enumerate() {
            let r = &mut runners[d.to];
            let slots = r.ring.first().map_or(1, |p| p.len());
            let acc = &mut r.ring[drive_ports[k]][step % slots];
            let lambda = d.n * d.rate * cfg.dt;
            for x in acc.iter_mut() {
                *x += d.w * poisson_count(&mut drive_rngs[k], lambda) as f64;
            }
        }
        for (pi, r) in runners.iter_mut().enumerate() {
            let n = net.populations[pi].count;
            let slots = r.ring.first().map_or(1, |p| p.len());
            let now = step % slots;
            step_spikes[pi].clear();
            match &r.code {
                Some(code) => {
                    let sp: Vec<*mut f64> = r.states.iter_mut().map(|s| s.as_mut_ptr()).collect();
                    let pp: Vec<*const f64> = r.ring.iter().map(|port| port[now].as_ptr()).collect();
                    let (idx, tim) = &mut r.events;
                    // SAFETY: one pointer per kernel state and input array, each of n values.
                    let count = unsafe { code.call(&sp, &pp, n, (t, t_next), idx, tim) };
                    for k in 0..count {
                        step_spikes[pi].push((idx[k] as usize, tim[k]));
                    }
                }
                None => {
                    let mut sts: Vec<&mut [f64]> = r.states.iter_mut().map(|s| s.as_mut_slice()).collect();
                    let prs: Vec<&[f64]> = r.ring.iter().map(|port| port[now].as_slice()).collect();
                    kernel::interp::step(&r.kernel, &mut sts, &prs, t, t_next, &mut step_spikes[pi]);
                }
            }
            for port in r.ring.iter_mut() {
                port[now].iter_mut().for_each(|x| *x = 0.0);
            }
        }
        // Deliver this step's spikes.
        for (pi, spikes) in step_spikes.iter().enumerate() {
            for &(i, ts) in spikes {
                spikes_out.push((offsets[pi] + i, ts));
                for (k, &ci) in conn_of[pi].iter().enumerate() {
                    let c = &net.connections[ci];
                    let csr = &csrs[pi][k];
                    let target = &mut runners[c.to];
                    let ring = &mut target.ring[csr.port];
                    let slots = ring.len();
                    let range = csr.offsets[i]..csr.offsets[i + 1];
                    match (&csr.weights, &csr.delays) {
                        (None, None) => {
                            let acc = &mut ring[(step + csr.delay_steps) % slots];
                            for &j in &csr.targets[range] {
                                acc[j as usize] += c.w;
                            }
                        }
                        (weights, delays) => {
                            for k in range {
                                let d = delays.as_ref().map_or(csr.delay_steps, |d| d[k] as usize);
                                let w = weights.as_ref().map_or(c.w, |w| w[k]);
                                ring[(step + d) % slots][csr.targets[k] as usize] += w;
                            }
                        }
                    }
                }
            }
        }
        // a diverged neuron stops the run
        if (step + 1) % 1000 == 0 || step + 1 == steps {
            for (pi, r) in runners.iter().enumerate() {
                let nm = net.populations[pi].model.states.len();
                if let Some(i) = r.states.iter().take(nm).find_map(|a| a.iter().position(|v| !v.is_finite())) {
                    return Err(Box::new(
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
                    ));
                }
            }
        }
    }
    Ok(NetRun { spikes: spikes_out, offsets, synapses, connectivity_bytes, compile_seconds, synapse_table })
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
    ((delay / dt).round() as usize).max(1)
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
