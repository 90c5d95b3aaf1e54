//! Networks: populations of point models connected by spikes.
//!
//! Input: a [`Network`] (populations, connections, drives) and a
//! [`NetConfig`]. Output: every spike, the probes' samples and (when
//! `keep_synapses`) every synapse, streamed into a
//! [`Recorder`](crate::runtime::Recorder) as the run produces them
//! ([`simulate_into`]), and a [`NetOutcome`]; [`simulate`] collects the
//! same into a [`NetRun`].
//!
//! Each population runs its fused kernel (JIT or interpreter) with one
//! input array per port that receives connections (`on spike exc(w: nS)`).
//! The phases, one module each:
//!
//! - [`build`](self::build): each population's plan, kernel, per-neuron
//!   parameters, initial states and input ring;
//! - [`connect`](self::connect): connections drawn once from the seed
//!   (fixed probability or fixed in-degree without self-connections within
//!   a population, one-to-one, or a table) and stored by source (CSR), with
//!   per-synapse weights and delays only when the connection draws them;
//! - then per step, on the worker threads ([`step`](self::step)), each on
//!   its own chunk of every population: [`drive`](self::drive) adds the
//!   drives' input; [`fanout`](self::fanout) delivers the last step's
//!   spikes, each weight (scaled by short-term plasticity) added to the
//!   target's port accumulator for step s + delay/dt (at least one step
//!   later), in a ring buffer per population and port; the kernels advance
//!   the neurons; then, on the calling thread, [`deliver`](self::deliver)
//!   hands the step's spikes to the recorder, advances short-term
//!   plasticity and delivers the connections with spike-timing dependent
//!   plasticity; [`probe`] samples the probes; every 1000 steps and at the
//!   end, a neuron that is not finite stops the run (E0506).
//!
//! [`synapse`](self::synapse) holds what the CLI asks of synapse models:
//! their ports, whether they can be lumped, short-term plasticity.
//!
//! Invariants: the same seed gives the same synapses, inputs and spikes,
//! whatever the thread count; spikes are handed on step by step, in
//! (population, neuron) order within a step; memory does not grow with the
//! run's length (the rings hold the longest delay, at most the run).

mod build;
mod connect;
mod deliver;
mod density;
mod drive;
mod fanout;
mod gaps;
mod indegree;
mod pages;
mod probability;
mod probe;
pub mod ranks;
mod slice;
mod stdp;
mod step;
mod synapse;

pub use drive::poisson_count;
pub use probe::probe_widths;
pub use stdp::{is_stdp, Stdp};
pub use synapse::{lumpable, ports, Stp};

use super::spikegen::Spread;
use super::{Outcome, Recorder};
use crate::diag::{Code, Diagnostic};
use crate::ir::Model;
use crate::schemes::Method;
use crate::source::Span;

/// A population: `count` neurons of a model, or `count` cells with a
/// morphology (`cells`; then `model` is the cell's own, and the ports are
/// its synapse sites).
#[derive(Clone, Debug)]
pub struct Population {
    pub name: String,
    pub model: Model,
    pub count: usize,
    pub cells: Option<std::sync::Arc<crate::cable::population::Cells>>,
    /// Initial values and parameters spread over this population's
    /// neurons in place of the run's (`NetConfig::init`, `params`): a
    /// network that is one region of a brain keeps its own.
    pub spreads: Option<std::sync::Arc<Spreads>>,
}

/// A spread of a state or parameter, by name.
pub type Named = (String, Spread);

/// Initial values and parameters spread over neurons, by name.
#[derive(Clone, Debug, Default)]
pub struct Spreads {
    pub init: Vec<(String, Spread)>,
    pub params: Vec<(String, Spread)>,
}

impl Population {
    /// `count` neurons of `model`.
    pub fn of(name: &str, model: Model, count: usize) -> Population {
        Population { name: name.into(), model, count, cells: None, spreads: None }
    }

    /// The spreads of initial values and parameters over this
    /// population: its own, else the run's.
    pub fn spreads<'a>(&'a self, cfg: &'a NetConfig) -> (&'a [Named], &'a [Named]) {
        match &self.spreads {
            Some(s) => (&s.init, &s.params),
            None => (&cfg.init, &cfg.params),
        }
    }

    /// The input ports and their weights' units: a neuron's `on spike
    /// PORT(w: ...)` events, a cell's synapse sites.
    pub fn ports(&self) -> Vec<(String, Option<crate::units::Dim>)> {
        match &self.cells {
            None => ports(&self.model),
            Some(c) => c
                .sites
                .iter()
                .zip(&c.site_names)
                .map(|(s, name)| {
                    let dim = ports(&s.membrane.model).into_iter().find(|p| p.0 == s.port).and_then(|p| p.1);
                    (name.clone(), dim)
                })
                .collect(),
        }
    }
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
    /// Spike-timing dependent plasticity: a weight per synapse (one delay
    /// for the connection, no short-term plasticity with it).
    pub stdp: Option<std::sync::Arc<Stdp>>,
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
    /// `rate = FACTOR * M.X`: the rate follows state X of the rate model
    /// of population M (its first unit), read at the start of each step:
    /// (population, state, factor), the rate FACTOR * X clipped at 0.
    pub rate_of: Option<(usize, usize, f64)>,
    /// `gamma(..., k = K)`: each of the n trains a gamma renewal process
    /// of shape K (CV 1/sqrt K) instead of Poisson.
    pub shape: Option<u32>,
}

/// `drive M with rate(of = P, tau = ..., gain = ...) via X`: spikes to a
/// rate. Input X of population M's model (made a parameter rewritten every
/// step) is `gain` times the rate of population P per neuron, filtered by
/// a causal kernel of unit area, so that the mean rate crosses the
/// interface unchanged.
#[derive(Clone, Debug)]
pub struct Readout {
    pub from: usize,
    pub to: usize,
    /// The parameter of `to`'s model that the readout sets.
    pub param: usize,
    pub gain: f64,
    pub kernel: RateKernel,
}

/// How spikes become a rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RateKernel {
    /// The spikes of the last step over (neurons x dt).
    Bin,
    /// e^(-t/tau) / tau, as an exact one-step recursion whose sum over
    /// the steps is exactly one: r' = a r + (1 - a) count / (N dt), a =
    /// e^(-dt/tau).
    Exponential(f64),
    /// t e^(-t/tau) / tau^2: two such stages in a row.
    Alpha(f64),
}

impl RateKernel {
    /// The filtered rate after a step of `dt` in which `x` (spikes over
    /// neurons x dt) came in; `stages` holds the filter's state (zero at
    /// the start).
    pub fn filter(&self, stages: &mut [f64; 2], x: f64, dt: f64) -> f64 {
        match *self {
            RateKernel::Bin => x,
            RateKernel::Exponential(tau) => {
                let a = (-dt / tau).exp();
                stages[0] = a * stages[0] + (1.0 - a) * x;
                stages[0]
            }
            RateKernel::Alpha(tau) => {
                let a = (-dt / tau).exp();
                stages[0] = a * stages[0] + (1.0 - a) * x;
                stages[1] = a * stages[1] + (1.0 - a) * stages[0];
                stages[1]
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct Network {
    pub name: String,
    pub populations: Vec<Population>,
    pub connections: Vec<Connection>,
    pub drives: Vec<Drive>,
    pub readouts: Vec<Readout>,
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
    /// Hand every synapse (pre, post, weight, delay) to the recorder (kept
    /// in `NetRun::synapse_table` by `simulate`).
    pub keep_synapses: bool,
    /// Threads (results do not depend on it); 0 chooses from the work per step.
    pub threads: usize,
    /// States to sample: (population, state, first neuron, end neuron), every
    /// `sample_every` steps.
    pub probes: Vec<(usize, usize, usize, usize)>,
    /// LFP proxies sampled with the probes: (population, current states);
    /// each gives one value per sample, the sum over the population's
    /// neurons of the states' absolute values (after the probes' values).
    pub lfp: Vec<(usize, Vec<usize>)>,
    pub sample_every: usize,
    /// Summarize the weights of the plastic connections onto these
    /// populations at t = 0 and every `weights_every` steps.
    pub weights: Vec<usize>,
    pub weights_every: usize,
    /// The integration method of the populations whose models do not name
    /// one with `method =` (`auto`: each equation's own choice).
    pub method: Method,
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
    /// (connection, global pre, global post, weight in SI) of every plastic
    /// synapse at the end of the run, in CSR order.
    pub weights: Vec<(usize, usize, usize, f64)>,
    /// Sample times (s) of the probes, and per probe, per sample, the values
    /// of its neurons.
    pub probe_t: Vec<f64>,
    pub probe_values: Vec<Vec<Vec<f64>>>,
}

/// What a network run produced besides its spikes, samples and synapses.
pub struct NetOutcome {
    /// Steps done, and whether the recorder stopped the run (then `steps`
    /// is 0 when it stopped while the connections were drawn).
    pub outcome: Outcome,
    /// First global index of each population.
    pub offsets: Vec<usize>,
    /// Synapses drawn (so far, when stopped while drawing).
    pub synapses: usize,
    /// Bytes of connectivity (CSR offsets and targets, per-synapse weights
    /// and delays), for the per-synapse figure `run` prints.
    pub connectivity_bytes: usize,
    pub compile_seconds: f64,
    /// Building the network before its first step (states, connections
    /// drawn and split by thread), JIT compilation excluded, s.
    pub build_seconds: f64,
    /// One line per population's rate table (`E: rate table in V: ...`).
    pub tables: Vec<String>,
    /// W0401 per population whose rate table's argument left its range.
    pub warnings: Vec<Diagnostic>,
}

fn fail(span: Span, msg: String, help: &str) -> Box<Diagnostic> {
    Box::new(Diagnostic::error(Code::NotInKernel, msg).at(span, "in this network").help(help))
}

/// Builds and runs a network, collecting what it records into a
/// [`NetRun`]. Fails as [`simulate_into`] does.
pub fn simulate(net: &Network, cfg: &NetConfig, span: Span) -> Result<NetRun, Box<Diagnostic>> {
    let widths = probe_widths(net, cfg);
    let mut c = Collect { probe_values: vec![Vec::new(); widths.len()], widths, ..Collect::default() };
    let out = simulate_into(net, cfg, span, &mut c)?;
    Ok(NetRun {
        warnings: out.warnings,
        tables: out.tables,
        spikes: c.spikes,
        offsets: out.offsets,
        synapses: out.synapses,
        connectivity_bytes: out.connectivity_bytes,
        compile_seconds: out.compile_seconds,
        synapse_table: c.synapse_table,
        weights: c.weights,
        probe_t: c.probe_t,
        probe_values: c.probe_values,
    })
}

/// The recorder behind [`simulate`]: a [`NetRun`]'s collections.
#[derive(Default)]
struct Collect {
    widths: Vec<usize>,
    spikes: Vec<(usize, f64)>,
    synapse_table: Vec<(usize, usize, f64, f64)>,
    weights: Vec<(usize, usize, usize, f64)>,
    probe_t: Vec<f64>,
    probe_values: Vec<Vec<Vec<f64>>>,
}

impl Recorder for Collect {
    fn sample(&mut self, t: f64, values: &[f64]) {
        self.probe_t.push(t);
        let mut at = 0;
        for (rows, &w) in self.probe_values.iter_mut().zip(&self.widths) {
            rows.push(values.get(at..at + w).unwrap_or(&[]).to_vec());
            at += w;
        }
    }

    fn spike(&mut self, neuron: usize, t: f64) {
        self.spikes.push((neuron, t));
    }

    fn synapse(&mut self, pre: usize, post: usize, weight: f64, delay: f64) {
        self.synapse_table.push((pre, post, weight, delay));
    }

    fn weight(&mut self, connection: usize, pre: usize, post: usize, weight: f64) {
        self.weights.push((connection, pre, post, weight));
    }
}

/// Builds and runs a network, handing `rec` every synapse as it is drawn
/// (when `cfg.keep_synapses`: (global pre, global post, weight in SI,
/// delay in s), connection by connection in CSR order), the probes' sample
/// at t = 0 and after every `sample_every`-th step (every probe's neurons
/// concatenated, in `cfg.probes` order; see [`probe_widths`]), and each
/// step's spikes (global index: population offset + neuron) in
/// (population, neuron) order, step by step. Asks `rec.stop()` before each
/// connection is drawn and before each step. Fails when a population
/// cannot be built (no plan; E0103, E0218, E0404), when a worker thread
/// fails (E0999), or when a neuron diverges (E0506, checked every 1000
/// steps and at the end).
pub fn simulate_into(
    net: &Network,
    cfg: &NetConfig,
    span: Span,
    rec: &mut dyn Recorder,
) -> Result<NetOutcome, Box<Diagnostic>> {
    // under `mpirun`, spread over the ranks
    simulate_with(net, cfg, span, rec, &mut drive_steps, ranks::Ranks::world())
}

/// Builds a network and hands it to `driver`, which steps it with
/// [`Session::step`] (as many steps as it likes, up to `cfg.duration`),
/// setting the rates of drives whose rate comes from outside
/// ([`Session::set_rate`]) and reading each step's spikes
/// ([`Session::spike_count`]) in between, and returns how far it went.
/// What the network records goes to `rec` as in [`simulate_into`]. This
/// is how a brain steps a region that is a network with its other nodes.
/// It runs in this process (under `mpirun`, every rank runs it whole: its
/// caller decides its steps, and stops, alone).
pub fn simulate_stepped(
    net: &Network,
    cfg: &NetConfig,
    span: Span,
    rec: &mut dyn Recorder,
    driver: Driver,
) -> Result<NetOutcome, Box<Diagnostic>> {
    simulate_with(net, cfg, span, rec, driver, None)
}

/// A network's run, spread over `ranks` when given.
fn simulate_with(
    net: &Network,
    cfg: &NetConfig,
    span: Span,
    rec: &mut dyn Recorder,
    driver: Driver,
    ranks: Option<ranks::Ranks>,
) -> Result<NetOutcome, Box<Diagnostic>> {
    let start = std::time::Instant::now();
    let steps = (cfg.duration / cfg.dt).round().max(0.0) as usize;
    let mut offsets = Vec::new();
    let mut total = 0;
    for p in &net.populations {
        offsets.push(total);
        total += p.count;
    }
    if ranks.is_some() {
        distributable(net, cfg, span)?;
    }
    // spread over ranks, each holds its own neurons and the synapses onto them
    let local: Option<Vec<(usize, usize)>> =
        ranks.map(|r| step::chunks(net, r.size).into_iter().map(|c| c[r.rank]).collect());
    let built = build::populations(net, cfg, span, steps, local.as_deref())?;
    let mut runners = built.runners;
    let mut conn = connect::connect(net, cfg, &runners, (&offsets, local.as_deref()), rec);
    if let Some(r) = ranks {
        // the whole network's figures, for the summary
        let mut counts = [conn.synapses as f64, conn.bytes as f64];
        r.sum(&mut counts);
        (conn.synapses, conn.bytes) = (counts[0] as usize, counts[1] as usize);
    }
    let mut out = NetOutcome {
        outcome: Outcome { steps: 0, stopped: true },
        offsets: Vec::new(),
        synapses: conn.synapses,
        connectivity_bytes: conn.bytes,
        compile_seconds: built.compile_seconds,
        build_seconds: 0.0,
        tables: built.tables,
        warnings: Vec::new(),
    };
    if let Some(csrs) = conn.csrs {
        let (mut delivery, rest) = deliver::Delivery::new(net, csrs, &offsets, (cfg.dt, steps));
        let mut readouts = drive::Readouts::new(net, cfg, &runners);
        let mut densities = density::Densities::new(net, cfg.dt, span, &mut runners)?;
        // spread over MPI ranks: one chunk of each population per rank
        let threads = match ranks {
            Some(r) => r.size,
            None => step::threads(cfg, &runners, net, out.synapses),
        };
        let chunks = step::chunks(net, threads);
        let drives = drive::Drives::new(net, cfg, &runners, (&chunks, ranks.map(|r| r.rank)));
        let fanout = fanout::Fanout::new(net, rest, &chunks);
        out.connectivity_bytes = delivery.bytes() + fanout.bytes;
        if let Some(r) = ranks {
            let mut b = [out.connectivity_bytes as f64];
            r.sum(&mut b);
            out.connectivity_bytes = b[0] as usize;
        }
        let stepping = step::Stepping::new(
            &mut runners,
            net,
            (&fanout, &drives),
            (threads, ranks),
            (cfg.dt, cfg.duration),
            (&cfg.probes, cfg.sample_every),
            span,
        )?;
        out.compile_seconds += stepping.compile_seconds;
        out.build_seconds = start.elapsed().as_secs_f64() - out.compile_seconds;
        let phases =
            Phases { stepping: &stepping, drives: &drives, readouts: &mut readouts, densities: &mut densities };
        out.outcome = session(net, cfg, span, phases, &mut delivery, rec, driver)?;
        out.warnings = stepping.warnings(net, out.outcome.steps);
        delivery.weights(rec);
    }
    out.offsets = offsets;
    Ok(out)
}

/// What drives a network's steps: the full run ([`simulate_into`]), or
/// a caller that steps it one step at a time ([`simulate_stepped`]).
pub type Driver<'d> = &'d mut dyn FnMut(&mut Session) -> Result<Outcome, Box<Diagnostic>>;

/// The full run: the first sample, then every step until the end or
/// until `rec.stop()`.
pub fn drive_steps(s: &mut Session) -> Result<Outcome, Box<Diagnostic>> {
    if let Some(sliced) = slice::drive(s) {
        return sliced;
    }
    s.sample_first();
    for step in 0..s.steps {
        // a stop is every rank's when the network is spread over them,
        // agreed on when the held spikes have just been exchanged
        let stop = s.rec.stop();
        let stop = match s.phases.stepping.ranks() {
            Some(r) if step % s.batch == 0 => r.any(stop),
            Some(_) => false,
            None => stop,
        };
        if stop {
            // a failure found before the stop is still reported
            if let Some(d) = s.phases.stepping.diverged(s.net, step as f64 * s.cfg.dt, s.span) {
                return Err(d);
            }
            return Ok(Outcome { steps: step, stopped: true });
        }
        s.step()?;
    }
    Ok(Outcome { steps: s.steps, stopped: false })
}

/// The phases of a step, each with its own state.
struct Phases<'p, 'n> {
    stepping: &'p step::Stepping<'n>,
    drives: &'p drive::Drives<'n>,
    readouts: &'p mut drive::Readouts<'n>,
    densities: &'p mut density::Densities<'n>,
}

/// A network being stepped: its phases, the recorder, and the next step.
pub struct Session<'p, 'n> {
    net: &'p Network,
    cfg: &'p NetConfig,
    span: Span,
    phases: Phases<'p, 'n>,
    delivery: &'p mut deliver::Delivery<'n>,
    rec: &'p mut dyn Recorder,
    bufs: step::Buffers,
    values: Vec<f64>,
    /// The next step, and how many the run has.
    next: usize,
    steps: usize,
    /// Spread over ranks: the spikes are exchanged every `batch` steps
    /// (the shortest delay: no spike is needed sooner), this process's
    /// held until then.
    batch: usize,
    held: Vec<step::StepSpikes>,
}

impl Session<'_, '_> {
    /// The steps of the run (`cfg.duration / cfg.dt`).
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Sets the rate of drive `k` (index into `Network::drives`) for the
    /// steps to come.
    pub fn set_rate(&self, k: usize, rate: f64) {
        self.phases.drives.set_rate(k, rate);
    }

    /// Spikes population `pop` fired in the last step.
    pub fn spike_count(&self, pop: usize) -> usize {
        self.phases.stepping.outputs.iter().map(|o| o.lock().unwrap_or_else(|e| e.into_inner())[pop].len()).sum()
    }

    /// State `state` of the first unit of population `pop` (a rate
    /// model's or a density's), between steps.
    pub fn state(&self, pop: usize, state: usize) -> f64 {
        // SAFETY: between steps the workers wait at the barrier
        unsafe { self.phases.stepping.views[pop].state(state) }.and_then(|a| a.first().copied()).unwrap_or(f64::NAN)
    }

    /// The probes' sample at t = 0: once, before the first step.
    pub fn sample_first(&mut self) {
        if !self.cfg.probes.is_empty() || !self.cfg.lfp.is_empty() {
            probe::sample(self.cfg, self.phases.stepping, 0.0, &mut self.values, self.rec);
        }
        if !self.cfg.weights.is_empty() {
            self.delivery.stats(0.0, &self.cfg.weights, self.rec);
        }
    }

    /// One step: drives, the populations stepped, spikes delivered,
    /// probes sampled, divergence checked (every 1000 steps and at the
    /// last). Fails past the run's end, when a worker fails, and when a
    /// neuron diverges.
    pub fn step(&mut self) -> Result<(), Box<Diagnostic>> {
        let (step, cfg, net, span) = (self.next, self.cfg, self.net, self.span);
        if step >= self.steps {
            return Err(Box::new(Diagnostic::internal("a network stepped past its run").at(span, "this network")));
        }
        let Phases { stepping, drives, readouts, densities } = &mut self.phases;
        drives.prepare(stepping);
        if stepping.step(step, &mut self.bufs).is_err() {
            return Err(Box::new(Diagnostic::internal("a network worker thread failed").at(span, "this network")));
        }
        readouts.after(stepping, densities);
        densities.step(step, stepping)?;
        match stepping.ranks() {
            None => self.delivery.step(step, stepping, self.rec),
            Some(r) => {
                self.held.push(stepping.local_spikes());
                if self.held.len() == self.batch || step + 1 == self.steps {
                    // every rank's spikes of the held steps, recorded and
                    // delivered step by step, in the order of one process
                    let first = step + 1 - self.held.len();
                    let all = stepping.exchange(r, &self.held);
                    self.held.clear();
                    let n = all.len();
                    for (k, per_rank) in all.into_iter().enumerate() {
                        stepping.set_spikes(per_rank);
                        self.delivery.step(first + k, stepping, self.rec);
                        // a batch of one (delays of one step) leaves the last
                        // step's spikes to the next step's start, as one
                        // process does, after its drives
                        if self.batch > 1 || k + 1 < n {
                            stepping.deliver_now();
                        }
                    }
                }
            }
        }
        self.next = step + 1;
        let t_next = (step + 1) as f64 * cfg.dt;
        if !cfg.weights.is_empty() && (step + 1) % cfg.weights_every.max(1) == 0 {
            self.delivery.stats(t_next, &cfg.weights, self.rec);
        }
        let sampled = !cfg.probes.is_empty() || !cfg.lfp.is_empty();
        if sampled && (step + 1) % cfg.sample_every.max(1) == 0 {
            probe::sample(cfg, stepping, t_next, &mut self.values, self.rec);
        }
        // a diverged neuron stops the run
        if (step + 1) % 1000 == 0 || step + 1 == self.steps {
            let d = stepping.diverged(net, t_next, span);
            if let Some(r) = stepping.ranks() {
                // a neuron of another rank: every rank stops with it
                if r.any(d.is_some()) && d.is_none() {
                    return Err(Box::new(
                        Diagnostic::error(
                            Code::NumericalBlowUp,
                            format!(
                                "a neuron diverged in another process by t = {} ms",
                                crate::units::format_number(t_next * 1e3)
                            ),
                        )
                        .at(span, "this network")
                        .help("the process that holds it reports which"),
                    ));
                }
            }
            if let Some(d) = d {
                return Err(d);
            }
        }
        Ok(())
    }
}

/// The steps, as `driver` takes them, with the workers started and
/// stopped around it.
fn session<'p, 'n>(
    net: &'p Network,
    cfg: &'p NetConfig,
    span: Span,
    phases: Phases<'p, 'n>,
    delivery: &'p mut deliver::Delivery<'n>,
    rec: &'p mut dyn Recorder,
    driver: Driver,
) -> Result<Outcome, Box<Diagnostic>> {
    let stepping = phases.stepping;
    let steps = (cfg.duration / cfg.dt).round().max(0.0) as usize;
    std::thread::scope(|scope| {
        stepping.spawn(scope);
        let _guard = stepping.guard();
        let mut s = Session {
            net,
            cfg,
            span,
            phases,
            delivery,
            rec,
            bufs: stepping.buffers(stepping.me()),
            values: Vec::new(),
            next: 0,
            steps,
            batch: min_delay(net, cfg.dt),
            held: Vec::new(),
        };
        let result = driver(&mut s);
        stepping.finish();
        result
    })
}

/// What a network spread over processes runs today: populations of
/// point neurons with static, short-term plastic or per-synapse
/// connections and Poisson, gamma or spike-time drives. The rest keeps
/// state that one rank would advance for all (rate models, densities,
/// rates that follow them, plastic weights, cells, LFP sums): refused.
fn distributable(net: &Network, cfg: &NetConfig, span: Span) -> Result<(), Box<Diagnostic>> {
    use crate::syntax::ast::ModelKind;
    let why = if let Some(p) =
        net.populations.iter().find(|p| matches!(p.model.kind, ModelKind::Rate | ModelKind::Density))
    {
        Some(format!("population `{}` is a {} model", p.name, p.model.kind.keyword()))
    } else if let Some(p) = net.populations.iter().find(|p| p.cells.is_some()) {
        Some(format!("population `{}` is of cells", p.name))
    } else if !net.readouts.is_empty() || net.drives.iter().any(|d| d.rate_of.is_some()) {
        Some("its rates follow populations".to_string())
    } else if net.connections.iter().any(|c| c.stdp.is_some()) {
        Some("it has spike-timing dependent plasticity".to_string())
    } else if !cfg.lfp.is_empty() {
        Some("it records an LFP proxy".to_string())
    } else if cfg.keep_synapses {
        Some("it keeps its synapses (each rank holds those onto its own neurons)".to_string())
    } else {
        None
    };
    match why {
        Some(why) => Err(Box::new(
            Diagnostic::error(
                Code::NotSimulatedYet,
                format!("`{}` cannot be spread over MPI processes yet: {why}", net.name),
            )
            .at(span, "this network")
            .help("run it in one process, with --threads"),
        )),
        None => Ok(()),
    }
}

/// The shortest delay of any synapse, in steps (1 without connections).
fn min_delay(net: &Network, dt: f64) -> usize {
    net.connections
        .iter()
        .map(|c| {
            let table_min = c
                .table
                .as_ref()
                .and_then(|t| t.delays.as_ref())
                .map(|d| d.iter().cloned().fold(f64::INFINITY, f64::min));
            delay_steps(table_min.unwrap_or(c.delay_range.map_or(c.delay, |r| r.0)), dt)
        })
        .min()
        .unwrap_or(1)
}

/// A delay in whole steps, at least 1 (a huge or infinite one: past any run).
fn delay_steps(delay: f64, dt: f64) -> usize {
    let steps = (delay / dt).round();
    if steps.is_finite() && steps < 1e15 {
        (steps as usize).max(1)
    } else {
        usize::MAX / 4
    }
}
