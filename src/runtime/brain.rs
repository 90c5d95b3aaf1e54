//! Brains: N nodes of one model advanced by one kernel looped over the
//! nodes (never a kernel unrolled over the brain), coupled through sums
//! over a connectome's delayed edges.
//!
//! Each step, from t to t + dt:
//! 1. every sum is formed per node i from the history of what the nodes
//!    sent: `sum_j w_ij s_j(t - d_ij)`, a sparse (CSR) product over the
//!    edges with nonzero weight, in a fixed order per row;
//! 2. the kernel advances every node, reading its sums as per-node
//!    arrays, and evaluates on the new states what each node sends,
//!    `s_j(t + dt)` (the kernel's output arrays);
//! 3. the outputs go into the history, a ring of at least `max lag + 2`
//!    steps per sum, stored twice over (slot k and slot k + ring hold the
//!    same step), so that every edge reads a fixed offset from the
//!    current step's slot with no wrap-around: one add and one load per
//!    edge.
//!
//! Delays: `d / dt = lag + frac`. On the grid (`frac` = 0, the lag
//! rounded) a node reads `s_j` at step `n - lag`; interpolated, it reads
//! `(1 - frac) s_j[n - lag] + frac s_j[n - lag - 1]`, linear in time
//! between the two steps around `t - d`. Before t = 0 the history is the
//! initial value (what the nodes send at their initial state: every slot
//! of the ring starts with it, and a slot is overwritten only once its step
//! is past). A zero
//! delay reads the sent value at t, computed at the end of the previous
//! step (or from the initial state).
//!
//! Invariants: a node's sums and step depend on the history and its own
//! state only, so results do not depend on how the nodes are split over
//! threads; the nodes with no coupling (zero weights) step exactly as the
//! model alone does, since a sum of no edges is 0.0 and the kernel is the
//! population's.

use super::population::{self, PopConfig, PopOutcome};
use super::{Outcome, Probe, Recorder};
use crate::codegen::jit;
use crate::diag::{Code, Diagnostic};
use crate::ir::eval::{eval_params, eval_values};
use crate::ir::{ExprId, Model};
use crate::kernel::{self, Signature};
use crate::runtime::stream::{layers, Stream};
use crate::schemes::Plan;

/// The edges into each node, row by row (compressed sparse rows).
#[derive(Clone, Debug, Default)]
pub struct Edges {
    /// Row i's edges are `start[i]..start[i + 1]`.
    pub start: Vec<usize>,
    /// The edges, in row order.
    pub edges: Vec<Edge>,
    /// Every delay a whole number of steps (no `frac`).
    pub on_grid: bool,
}

/// One edge into a node: read `source` `lag` steps back (and `frac` of
/// a step further), times `weight`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Edge {
    pub weight: f64,
    pub frac: f64,
    pub source: u32,
    pub lag: u32,
}

impl Edges {
    /// The edges of an n x n weight matrix (into row i from column j) with
    /// nonzero weight, and their delays (s) on a step `dt`, interpolated
    /// or rounded to the grid.
    pub fn new(n: usize, weights: &[f64], delays: &[f64], dt: f64, interpolate: bool) -> Edges {
        let mut e = Edges { start: vec![0], edges: Vec::new(), on_grid: true };
        for i in 0..n {
            for j in 0..n {
                let w = weights[i * n + j];
                if w == 0.0 {
                    continue;
                }
                let q = delays[i * n + j] / dt;
                let (lag, frac) = if interpolate {
                    // a delay within 1e-9 steps of the grid is on it
                    let r = q.round();
                    if (q - r).abs() < 1e-9 {
                        (r, 0.0)
                    } else {
                        (q.floor(), q - q.floor())
                    }
                } else {
                    (q.round(), 0.0)
                };
                e.on_grid &= frac == 0.0;
                e.edges.push(Edge { weight: w, frac, source: j as u32, lag: lag as u32 });
            }
            e.start.push(e.edges.len());
        }
        e
    }

    /// The longest lag, with the step an interpolation reads beyond it.
    pub fn reach(&self) -> usize {
        self.edges.iter().map(|e| e.lag as usize + usize::from(e.frac != 0.0)).max().unwrap_or(0)
    }

    pub fn len(&self) -> usize {
        self.edges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.edges.is_empty()
    }
}

/// A sum's edges laid out for the step loop: per edge its weight, where
/// it reads in the doubled history relative to the current slot
/// (`(ring - lag) * n + source`; an interpolated edge also reads one step
/// further back, `n` before it) and its fraction of a step.
struct Taps {
    start: Vec<usize>,
    weight: Vec<f64>,
    at: Vec<usize>,
    /// Empty when every delay is on the grid.
    frac: Vec<f64>,
}

impl Taps {
    /// `edges` on a history of `ring` steps (more than the edges' reach)
    /// of `n` nodes.
    fn new(edges: &Edges, ring: usize, n: usize) -> Taps {
        debug_assert!(edges.reach() < ring);
        let at = edges.edges.iter().map(|e| (ring - e.lag as usize) * n + e.source as usize).collect();
        let frac = if edges.on_grid { Vec::new() } else { edges.edges.iter().map(|e| e.frac).collect() };
        Taps { start: edges.start.clone(), weight: edges.edges.iter().map(|e| e.weight).collect(), at, frac }
    }
}

/// One sum of a brain's couplings.
#[derive(Clone, Debug)]
pub struct SumConfig {
    pub edges: Edges,
    /// The expression of what each node sends.
    pub sent: ExprId,
    /// Which per-neuron array (index into `PopConfig::per_neuron`) holds
    /// the sum.
    pub slot: usize,
}

/// An input following a time series: what the runtime writes, per node
/// and step, into a per-neuron array (the value at the step's start).
#[derive(Clone, Debug)]
pub struct StimulusConfig {
    pub slot: usize,
    /// Times (s), increasing.
    pub times: Vec<f64>,
    /// Row-major, one row of all nodes per time.
    pub values: Vec<f64>,
}

impl StimulusConfig {
    /// The values at `t` of nodes `lo..lo + out.len()`: linear between
    /// rows, held outside them.
    fn fill(&self, t: f64, n: usize, lo: usize, out: &mut [f64]) {
        let k = self.times.partition_point(|&x| x <= t);
        let len = out.len();
        let row = |r: usize| &self.values[r * n + lo..r * n + lo + len];
        if k == 0 || k == self.times.len() {
            out.copy_from_slice(row(k.saturating_sub(1)));
            return;
        }
        let f = (t - self.times[k - 1]) / (self.times[k] - self.times[k - 1]);
        for ((o, a), b) in out.iter_mut().zip(row(k - 1)).zip(row(k)) {
            *o = a + f * (b - a);
        }
    }
}

/// What a brain adds to a population: sums, noises, time series, and the
/// seed of the noises.
pub struct Extras<'a> {
    pub sums: &'a [SumConfig],
    pub noises: &'a [NoiseConfig],
    pub stimuli: &'a [StimulusConfig],
    pub seed: u64,
}

/// A noise of a brain: what the runtime writes, per node and step, into a
/// per-neuron array of the kernel.
#[derive(Clone, Debug)]
pub struct NoiseConfig {
    pub kind: NoiseKind,
    /// Which per-neuron array (index into `PopConfig::per_neuron`).
    pub slot: usize,
    /// The noise's number, which with the seed and the node picks its
    /// stream of random numbers.
    pub stream: u64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NoiseKind {
    /// `xi / sqrt(dt)`, xi standard normal, held over the step: what
    /// `sigma dW/dt` integrates to under Euler (Euler-Maruyama) and Heun
    /// (stochastic Heun).
    White,
    /// The value of an Ornstein-Uhlenbeck process at the step's start,
    /// advanced exactly: `eta' = mean + (eta - mean) e^{-dt/tau} + sigma
    /// sqrt(tau / 2 (1 - e^{-2 dt/tau})) xi`; it starts from its stationary
    /// distribution (variance `sigma^2 tau / 2`).
    Ou { sigma: f64, tau: f64, mean: f64 },
}

/// A noise's streams and state per node.
struct NoiseState<'a> {
    cfg: &'a NoiseConfig,
    streams: Vec<Stream>,
    /// OU: the process's value per node.
    eta: Vec<f64>,
}

impl NoiseState<'_> {
    /// The streams of nodes `nodes`.
    fn new(cfg: &NoiseConfig, nodes: std::ops::Range<usize>, seed: u64) -> NoiseState<'_> {
        let mut streams: Vec<Stream> = nodes.map(|i| Stream::new(seed, cfg.stream, i)).collect();
        let eta = match cfg.kind {
            NoiseKind::White => Vec::new(),
            NoiseKind::Ou { sigma, tau, mean } => {
                streams.iter_mut().map(|g| mean + sigma * (tau / 2.0).sqrt() * g.normal(layers())).collect()
            }
        };
        NoiseState { cfg, streams, eta }
    }

    /// Fills the step's values into `out`, then advances an OU process.
    fn step(&mut self, dt: f64, out: &mut [f64]) {
        let l = layers();
        match self.cfg.kind {
            NoiseKind::White => {
                let scale = 1.0 / dt.sqrt();
                for (o, g) in out.iter_mut().zip(&mut self.streams) {
                    *o = g.normal(l) * scale;
                }
            }
            NoiseKind::Ou { sigma, tau, mean } => {
                let decay = (-dt / tau).exp();
                let spread = sigma * (tau / 2.0 * (1.0 - decay * decay)).sqrt();
                for ((o, g), eta) in out.iter_mut().zip(&mut self.streams).zip(&mut self.eta) {
                    *o = *eta;
                    *eta = mean + (*eta - mean) * decay + spread * g.normal(l);
                }
            }
        }
    }
}

/// Regions whose nodes are stood in for by something stepped with the
/// brain (networks of spiking neurons): what they send along their edges
/// is theirs, not their node's. The kernel still steps the node model at
/// those regions, driven as every node is (its states are recorded as
/// usual: the model the stand-in replaces, on the same input).
pub trait StandIns {
    /// The regions stood in for, increasing.
    fn regions(&self) -> &[usize];
    /// What each region sends at t = 0: region-major, one value per sum.
    fn start(&mut self, sent: &mut [f64]);
    /// Step `step`, after the nodes took it: `value(i, v)` is value `v`
    /// of the node model at node `i` (its inputs with what the
    /// couplings added over the step); writes what each region sends at
    /// the step's end (region-major, one value per sum).
    fn step(
        &mut self,
        step: usize,
        value: &mut dyn FnMut(usize, usize) -> f64,
        sent: &mut [f64],
    ) -> Result<(), Box<Diagnostic>>;
}

/// Runs a brain: `cfg` as for a population of `cfg.n` nodes (its
/// `per_neuron` arrays include the sums' and row sums'), `sums` the
/// couplings. Hands `rec` each sample (t = 0 and every `sample_every`
/// steps: each probe of each recorded node) and the nodes' spikes.
pub fn simulate_into(
    m: &Model,
    plan: &Plan,
    cfg: &PopConfig,
    extras: &Extras,
    mut stand_ins: Option<&mut dyn StandIns>,
    rec: &mut dyn Recorder,
) -> Result<PopOutcome, Box<Diagnostic>> {
    let Extras { sums, noises, stimuli, seed } = *extras;
    let params = eval_params(m, &cfg.param_overrides);
    super::check_params(m, &params)?;
    let per_idx: Vec<usize> = cfg.per_neuron.iter().map(|(p, _)| *p).collect();
    kernel::check_tables(m, &params, &per_idx)?;
    let outputs: Vec<ExprId> = sums.iter().map(|s| s.sent).collect();
    // the arrays the runtime rewrites at every step
    let slots = sums.iter().map(|s| s.slot).chain(noises.iter().map(|z| z.slot)).chain(stimuli.iter().map(|s| s.slot));
    let per_step: Vec<usize> = slots.filter_map(|slot| per_idx.get(slot).copied()).collect();
    let sig = Signature {
        params: &params,
        per_neuron: &per_idx,
        value_overrides: &cfg.value_overrides,
        ports: &[],
        outputs: &outputs,
        per_step: &per_step,
    };
    let k = population::kernel_depth(m).and_then(|()| kernel::build_full(m, plan, &sig, cfg.dt)).map_err(
        |kernel::Unsupported(why)| {
            Box::new(
                Diagnostic::error(
                    Code::NotInKernel,
                    format!("`{}` cannot run as a brain's node kernel: {why}", m.name),
                )
                .at(m.span, "this model")
                .help("every method runs in kernels; what is named above cannot be a kernel"),
            )
        },
    )?;
    kernel::check_built_tables(m, &k)?;
    let code = match cfg.backend {
        population::Backend::Jit => Some(jit::compile(&k, cfg.optimize).map_err(|e| {
            Box::new(Diagnostic::internal(format!("JIT compilation failed: {e}")).at(m.span, "this model"))
        })?),
        population::Backend::Interp => None,
    };
    let n = cfg.n;
    let mut states = population::initial_states(m, &k, &params, cfg);
    let exprs = population::value_exprs(m, cfg);
    let mut per = kernel::param_arrays(&k, m, &params, &exprs, &cfg.per_neuron);
    let first_output = k.states.len() - sums.len();
    // what the nodes send at their initial state
    let mut node = Node { m, params: params.clone(), per_idx: &per_idx, exprs: &exprs, values: Vec::new() };
    for (s, sum) in sums.iter().enumerate() {
        let sent: Vec<f64> = {
            let st: Vec<&[f64]> = states.iter().map(|a| &a[..]).collect();
            let pe: Vec<&[f64]> = per.iter().map(|a| &a[..]).collect();
            (0..n).map(|i| node.eval(&st, &pe, i, 0.0, sum.sent)).collect()
        };
        states[first_output + s] = sent;
    }
    if let Some(si) = stand_ins.as_deref_mut() {
        let mut sent = vec![0.0; si.regions().len() * sums.len()];
        si.start(&mut sent);
        for (r, &i) in si.regions().iter().enumerate() {
            for s in 0..sums.len() {
                states[first_output + s][i] = sent[r * sums.len() + s];
            }
        }
    }
    let reach = sums.iter().map(|s| s.edges.reach()).max().unwrap_or(0);
    // a power of two, so that a slot is a mask away
    let ring = (reach + 2).next_power_of_two();
    let mut history: Vec<Vec<f64>> = sums.iter().map(|_| vec![0.0; 2 * ring * n]).collect();
    let taps: Vec<Taps> = sums.iter().map(|s| Taps::new(&s.edges, ring, n)).collect();
    // every slot starts as the initial value: a step before t = 0 reads it
    for (s, h) in history.iter_mut().enumerate() {
        for slot in h.chunks_mut(n.max(1)) {
            slot.copy_from_slice(&states[first_output + s]);
        }
    }
    let steps = (cfg.duration / cfg.dt).round().max(0.0) as usize;
    let emitting = k.events.iter().filter(|e| e.emits).count().max(1);
    // at least MIN_NODES per thread: fewer cost more in barriers than they save
    let threads = cfg.threads.clamp(1, n.div_ceil(MIN_NODES).max(1));
    let per_thread = n.div_ceil(threads).max(1);
    let chunks: Vec<std::sync::Mutex<Chunk>> = (0..n.div_ceil(per_thread).max(1))
        .map(|c| {
            let (lo, hi) = ((c * per_thread).min(n), ((c + 1) * per_thread).min(n));
            std::sync::Mutex::new(Chunk::new(lo, hi, emitting, noises, seed))
        })
        .collect();
    let world = World {
        states: states.iter_mut().map(|a| Ptr(a.as_mut_ptr())).collect(),
        per: per.iter_mut().map(|a| Ptr(a.as_mut_ptr())).collect(),
        history: history.iter_mut().map(|h| Ptr(h.as_mut_ptr())).collect(),
        taps: &taps,
        sums,
        stimuli,
        ring,
        n,
        k: &k,
        code: code.as_ref(),
        dt: cfg.dt,
    };
    let lead = Lead { m, cfg, steps, first_output, node, world: &world, stand_ins };
    let done = lead.run(&chunks, rec)?;
    Ok(PopOutcome {
        outcome: Outcome { steps: done, stopped: done < steps },
        compile_seconds: code.as_ref().map_or(0.0, |c| c.compile_seconds),
        kernel_insts: k.insts.len(),
        tables: population::table_notes(m, &k),
        warnings: Vec::new(),
    })
}

/// Sum `taps` into `out` for the nodes `lo..lo + out.len()` from the
/// doubled history `h` (2 `ring` slots of `n` nodes, `ring` a power of
/// two) at step `step`.
fn couple(taps: &Taps, h: &[f64], (ring, n): (usize, usize), step: usize, lo: usize, out: &mut [f64]) {
    // the slots an edge can read: from the current one to `ring` before it
    // (a slot not yet written, a step before 0, holds the initial value)
    let window = &h[(step & (ring - 1)) * n..][..(ring + 1) * n];
    for (r, o) in out.iter_mut().enumerate() {
        let i = lo + r;
        let (a, b) = (taps.start[i], taps.start[i + 1]);
        let (weight, at) = (&taps.weight[a..b], &taps.at[a..b]);
        *o = if taps.frac.is_empty() {
            sum4(weight.len(), |k| weight[k] * window[at[k]])
        } else {
            let frac = &taps.frac[a..b];
            sum4(weight.len(), |k| {
                let (x, f) = (window[at[k]], frac[k]);
                if f == 0.0 {
                    weight[k] * x
                } else {
                    weight[k] * ((1.0 - f) * x + f * window[at[k] - n])
                }
            })
        };
    }
}

/// The sum of `value(k)` for k in 0..len: term k into partial sum k mod
/// 4, the four added pairwise at the end. A fixed order (so no thread
/// count changes it) that does not wait on one long chain of additions.
#[inline(always)]
fn sum4(len: usize, value: impl Fn(usize) -> f64) -> f64 {
    let (mut a0, mut a1, mut a2, mut a3) = (0.0, 0.0, 0.0, 0.0);
    let quads = len / 4 * 4;
    for k in (0..quads).step_by(4) {
        a0 += value(k);
        a1 += value(k + 1);
        a2 += value(k + 2);
        a3 += value(k + 3);
    }
    for k in quads..len {
        match k - quads {
            0 => a0 += value(k),
            1 => a1 += value(k),
            _ => a2 += value(k),
        }
    }
    (a0 + a1) + (a2 + a3)
}

/// Nodes per thread at least: a step of fewer costs less than the two
/// barriers that share it out (an 80-region brain is 2.4x slower on two
/// threads than on one on a loaded 2-core machine).
const MIN_NODES: usize = 512;

/// An array every chunk writes its own part of.
#[derive(Clone, Copy)]
#[repr(transparent)]
struct Ptr(*mut f64);

// SAFETY: each chunk writes only its own nodes' entries, and the lead
// reads or writes whole arrays only while the chunks wait at a barrier.
unsafe impl Send for Ptr {}
unsafe impl Sync for Ptr {}

/// What every chunk reads: the arrays (states, per-node parameters, the
/// sums' histories), the couplings, the kernel.
struct World<'a> {
    states: Vec<Ptr>,
    per: Vec<Ptr>,
    history: Vec<Ptr>,
    taps: &'a [Taps],
    sums: &'a [SumConfig],
    stimuli: &'a [StimulusConfig],
    ring: usize,
    n: usize,
    k: &'a kernel::Kernel,
    code: Option<&'a jit::Compiled>,
    dt: f64,
}

impl World<'_> {
    /// The arrays as slices.
    ///
    /// # Safety
    /// No chunk may be writing them.
    unsafe fn view(&self, ptrs: &[Ptr]) -> Vec<&[f64]> {
        ptrs.iter().map(|p| unsafe { std::slice::from_raw_parts(p.0, self.n) }).collect()
    }
}

/// A thread's contiguous share of the nodes, its noises' streams and its
/// spike buffers.
struct Chunk<'a> {
    lo: usize,
    hi: usize,
    noise: Vec<NoiseState<'a>>,
    idx: Vec<i64>,
    tim: Vec<f64>,
    /// This step's spikes: (node, time).
    spikes: Vec<(usize, f64)>,
    /// The JIT's arguments: the arrays from the chunk's first node.
    sp: Vec<Ptr>,
    pp: Vec<Ptr>,
}

impl<'a> Chunk<'a> {
    fn new(lo: usize, hi: usize, emitting: usize, noises: &'a [NoiseConfig], seed: u64) -> Chunk<'a> {
        Chunk {
            lo,
            hi,
            noise: noises.iter().map(|c| NoiseState::new(c, lo..hi, seed)).collect(),
            idx: vec![0; (hi - lo) * emitting],
            tim: vec![0.0; (hi - lo) * emitting],
            spikes: Vec::new(),
            sp: Vec::new(),
            pp: Vec::new(),
        }
    }

    /// Step `step` of the chunk's nodes: their sums, their noises, the
    /// kernel.
    fn advance(&mut self, w: &World, step: usize) {
        let (lo, len) = (self.lo, self.hi - self.lo);
        // SAFETY: the chunk writes its own nodes of the per-node arrays and
        // states; the histories are only read while chunks advance.
        unsafe {
            for ((sum, taps), h) in w.sums.iter().zip(w.taps).zip(&w.history) {
                let out = std::slice::from_raw_parts_mut(w.per[sum.slot].0.add(lo), len);
                let h = std::slice::from_raw_parts(h.0, 2 * w.ring * w.n);
                couple(taps, h, (w.ring, w.n), step, lo, out);
            }
            for nz in &mut self.noise {
                nz.step(w.dt, std::slice::from_raw_parts_mut(w.per[nz.cfg.slot].0.add(lo), len));
            }
            for st in w.stimuli {
                st.fill(step as f64 * w.dt, w.n, lo, std::slice::from_raw_parts_mut(w.per[st.slot].0.add(lo), len));
            }
        }
        let (t, t_next) = (step as f64 * w.dt, (step + 1) as f64 * w.dt);
        self.spikes.clear();
        match w.code {
            Some(code) => {
                if self.sp.is_empty() {
                    self.sp = w.states.iter().map(|p| Ptr(unsafe { p.0.add(lo) })).collect();
                    self.pp = w.per.iter().map(|p| Ptr(unsafe { p.0.add(lo) })).collect();
                }
                // SAFETY: `Ptr` is a transparent `*mut f64`; every array holds
                // the chunk's `len` nodes from `lo`; the spike buffers len x
                // emitting events.
                let count = unsafe {
                    let sp = std::slice::from_raw_parts(self.sp.as_ptr() as *const *mut f64, self.sp.len());
                    let pp = std::slice::from_raw_parts(self.pp.as_ptr() as *const *const f64, self.pp.len());
                    code.call(sp, pp, len, (t, t_next), &mut self.idx, &mut self.tim)
                };
                self.spikes.extend((0..count).map(|s| (lo + self.idx[s] as usize, self.tim[s])));
            }
            None => {
                // SAFETY: as above.
                let mut arrays: Vec<&mut [f64]> =
                    w.states.iter().map(|p| unsafe { std::slice::from_raw_parts_mut(p.0.add(lo), len) }).collect();
                let pa: Vec<&[f64]> =
                    w.per.iter().map(|p| unsafe { std::slice::from_raw_parts(p.0.add(lo), len) }).collect();
                let mut local = Vec::new();
                kernel::interp::step(w.k, &mut arrays, &pa, t, t_next, &mut local);
                self.spikes.extend(local.into_iter().map(|(i, ts)| (lo + i, ts)));
            }
        }
    }
}

/// The calling thread's part: its chunk, then between two barriers per
/// step the bookkeeping of the whole brain.
struct Lead<'a, 'w, 's> {
    m: &'a Model,
    cfg: &'a PopConfig,
    steps: usize,
    first_output: usize,
    node: Node<'a>,
    world: &'w World<'a>,
    stand_ins: Option<&'w mut (dyn StandIns + 's)>,
}

impl Lead<'_, '_, '_> {
    /// Runs every step; chunk 0 here, the others on threads of their own.
    /// Returns the steps done.
    fn run(mut self, chunks: &[std::sync::Mutex<Chunk>], rec: &mut dyn Recorder) -> Result<usize, Box<Diagnostic>> {
        use std::sync::atomic::{AtomicBool, Ordering};
        let barrier = std::sync::Barrier::new(chunks.len());
        let stop = AtomicBool::new(rec.stop());
        let w = self.world;
        let (steps, every) = (self.steps, self.cfg.sample_every.max(1));
        std::thread::scope(|scope| {
            // the first sample before any other chunk starts its first step
            // (SAFETY of every view: no other chunk runs, or they wait at a
            // barrier)
            {
                let (st, pe) = unsafe { (w.view(&w.states), w.view(&w.per)) };
                sample(&mut self.node, self.cfg, &st, &pe, 0.0, rec);
            }
            for chunk in &chunks[1..] {
                let (barrier, stop) = (&barrier, &stop);
                scope.spawn(move || {
                    for step in 0..steps {
                        if stop.load(Ordering::Acquire) {
                            break;
                        }
                        chunk.lock().unwrap_or_else(|e| e.into_inner()).advance(w, step);
                        barrier.wait();
                        barrier.wait();
                    }
                });
            }
            let mut done = 0;
            let mut failed = None;
            let mut merged = Vec::new();
            let mut sent = Vec::new();
            for step in 0..steps {
                if stop.load(Ordering::Acquire) {
                    break;
                }
                chunks[0].lock().unwrap_or_else(|e| e.into_inner()).advance(w, step);
                // alone, no barrier: its wait costs a system call per step
                let sync = || {
                    if chunks.len() > 1 {
                        barrier.wait();
                    }
                };
                sync();
                done = step + 1;
                merged.clear();
                for c in chunks {
                    merged.extend(c.lock().unwrap_or_else(|e| e.into_inner()).spikes.iter().copied());
                }
                merged.sort_by_key(|x| x.0);
                for &(i, t) in &merged {
                    rec.spike(i, t);
                }
                if let Some(si) = self.stand_ins.take() {
                    if let Err(d) = self.stand_in(&mut *si, step, &mut sent) {
                        failed = Some(d);
                    }
                    self.stand_ins = Some(si);
                }
                let slot = (done & (w.ring - 1)) * w.n;
                for (s, h) in w.history.iter().enumerate() {
                    // SAFETY: the chunks wait; the output array and the ring
                    // are distinct allocations.
                    unsafe {
                        let from = std::slice::from_raw_parts(w.states[self.first_output + s].0, w.n);
                        std::slice::from_raw_parts_mut(h.0.add(slot), w.n).copy_from_slice(from);
                        let mirror = slot + w.ring * w.n;
                        std::slice::from_raw_parts_mut(h.0.add(mirror), w.n).copy_from_slice(from);
                    }
                }
                let (check, due) = (done % 1000 == 0 || done == steps, done % every == 0);
                if check || due {
                    let (st, pe) = unsafe { (w.view(&w.states), w.view(&w.per)) };
                    if check {
                        if let Some((i, s)) = non_finite(&st[..self.m.states.len()]) {
                            failed = Some(diverged(self.m, i, s, done, self.cfg.dt));
                        }
                    }
                    if due && failed.is_none() {
                        sample(&mut self.node, self.cfg, &st, &pe, done as f64 * w.dt, rec);
                    }
                }
                if failed.is_some() || rec.stop() {
                    stop.store(true, Ordering::Release);
                }
                sync();
            }
            match failed {
                Some(d) => Err(d),
                None => Ok(done),
            }
        })
    }
}

impl Lead<'_, '_, '_> {
    /// Step `step` of the stand-ins, with the chunks waiting: what their
    /// regions send replaces their nodes' outputs.
    fn stand_in(&mut self, si: &mut dyn StandIns, step: usize, sent: &mut Vec<f64>) -> Result<(), Box<Diagnostic>> {
        let w = self.world;
        let nsums = w.sums.len();
        sent.clear();
        sent.resize(si.regions().len() * nsums, 0.0);
        {
            // SAFETY: the chunks wait at the barrier
            let (st, pe) = unsafe { (w.view(&w.states), w.view(&w.per)) };
            let node = &mut self.node;
            let t = step as f64 * w.dt;
            let mut value = |i: usize, v: usize| {
                node.values_of(&st, &pe, i, t);
                node.values[v]
            };
            si.step(step, &mut value, sent)?;
        }
        for (r, &i) in si.regions().iter().enumerate() {
            for s in 0..nsums {
                // SAFETY: the chunks wait; no view of the states is alive
                unsafe { *w.states[self.first_output + s].0.add(i) = sent[r * nsums + s] };
            }
        }
        Ok(())
    }
}

/// What the recorder needs to evaluate a node's values.
struct Node<'a> {
    m: &'a Model,
    params: Vec<f64>,
    per_idx: &'a [usize],
    exprs: &'a [ExprId],
    values: Vec<f64>,
}

impl Node<'_> {
    /// Evaluates the node's values at its state; returns `e` there.
    fn eval(&mut self, states: &[&[f64]], per: &[&[f64]], i: usize, t: f64, e: ExprId) -> f64 {
        self.values_of(states, per, i, t);
        let y: Vec<f64> = states[..self.m.states.len()].iter().map(|a| a[i]).collect();
        let env = crate::ir::eval::Env { t, states: &y, params: &self.params, values: &self.values, args: &[] };
        crate::ir::eval::eval(self.m, e, &env)
    }

    fn values_of(&mut self, states: &[&[f64]], per: &[&[f64]], i: usize, t: f64) {
        for (&p, arr) in self.per_idx.iter().zip(per) {
            self.params[p] = arr[i];
        }
        let y: Vec<f64> = states[..self.m.states.len()].iter().map(|a| a[i]).collect();
        eval_values(self.m, t, &y, &self.params, self.exprs, &mut self.values);
    }
}

/// Each probe of each recorded node, probe-major.
fn sample(node: &mut Node, cfg: &PopConfig, states: &[&[f64]], per: &[&[f64]], t: f64, rec: &mut dyn Recorder) {
    let mut row = Vec::new();
    let wants_values = cfg.record.iter().any(|p| matches!(p, Probe::Value(_)));
    let mut values: Vec<Vec<f64>> = Vec::new();
    if wants_values {
        for &i in &cfg.record_neurons {
            node.values_of(states, per, i, t);
            values.push(node.values.clone());
        }
    }
    for p in &cfg.record {
        for (r, &i) in cfg.record_neurons.iter().enumerate() {
            row.push(match p {
                Probe::State(s) => states[*s][i],
                Probe::Value(v) => values[r][*v],
            });
        }
    }
    rec.sample(t, &row);
}

/// The first (node, state) that is not finite.
fn non_finite(states: &[&[f64]]) -> Option<(usize, usize)> {
    states.iter().enumerate().filter_map(|(s, a)| a.iter().position(|x| !x.is_finite()).map(|i| (i, s))).min()
}

fn diverged(m: &Model, node: usize, state: usize, steps: usize, dt: f64) -> Box<Diagnostic> {
    Box::new(
        Diagnostic::error(
            Code::NumericalBlowUp,
            format!(
                "node {node} diverged: {} is not finite by t = {} ms",
                m.states[state].name,
                crate::units::format_number(steps as f64 * dt * 1e3)
            ),
        )
        .at(m.span, "in this node model")
        .help("the step may be too large, or the coupling too strong: try a smaller --dt or a weaker coupling"),
    )
}
