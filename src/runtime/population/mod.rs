//! Populations: N copies of a point model advanced by a fused kernel, on the
//! kernel interpreter or the JIT, in structure-of-arrays state.
//!
//! Input: a lowered `Model`, its `Plan` and a [`PopConfig`]. Output: the
//! samples (neuron 0's probes, then the population means) and the spikes,
//! streamed into a [`Recorder`] ([`simulate_into`]), and a [`PopOutcome`];
//! [`simulate`] collects the same into a [`PopRun`].
//!
//! Neurons of one population are independent, so a run splits the neurons
//! into contiguous chunks, one per thread (chunk 0 on the calling thread),
//! and advances them a block of steps at a time ([`block_steps`]): each
//! chunk steps the block on its own and keeps its spikes and sample sums;
//! then the block's spikes are merged in (step, neuron) order and handed
//! on with its samples, step by step, and the next block starts. Memory
//! is bounded by the block, not by the run.
//!
//! Invariants: the output does not depend on the number of threads (spikes
//! merged by (step, neuron); means summed over fixed blocks of
//! [`MEAN_BLOCK`] neurons, in order; the JIT's vector and scalar paths
//! compute the same IEEE operations, so where chunks start does not
//! matter) nor on the blocks (a neuron's steps do not depend on where a
//! block ends).

use super::record::HUGE;
use super::{Outcome, Probe, Recorder, Recording};
use crate::codegen::jit;
use crate::diag::{Code, Diagnostic};
use crate::ir::eval::eval_values;
use crate::ir::{ExprId, Model};
use crate::kernel::{self, Kernel};
use crate::schemes::Plan;
use std::sync::atomic::Ordering;
use std::sync::mpsc;

mod setup;

pub use setup::{build_kernel, kernel_depth, table_notes};
pub(crate) use setup::{excursion, excursion_warning, Excursion};
pub(crate) use setup::{initial_states, per_neuron_with_noise, value_exprs};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The kernel interpreter (the JIT's oracle).
    Interp,
    /// Cranelift native code.
    Jit,
}

#[derive(Clone, Debug)]
pub struct PopConfig {
    pub n: usize,
    /// Step and duration, SI seconds.
    pub dt: f64,
    pub duration: f64,
    /// Parameters that differ per neuron: (parameter, value for each neuron).
    pub per_neuron: Vec<(usize, Vec<f64>)>,
    /// Constant parameter overrides (`--set`).
    pub param_overrides: Vec<Option<ExprId>>,
    /// Input overrides (`--set` of an input).
    pub value_overrides: Vec<Option<ExprId>>,
    /// Initial values that differ per neuron: (state, value for each neuron).
    pub init_per_neuron: Vec<(usize, Vec<f64>)>,
    /// What to record at every `sample_every`-th step ...
    pub record: Vec<Probe>,
    /// ... from each of these neurons (ascending, distinct; `[0]` unless a
    /// range was asked for).
    pub record_neurons: Vec<usize>,
    pub sample_every: usize,
    /// States whose mean over the whole population is recorded at every
    /// sample (summed in fixed blocks of neurons, so the result does not
    /// depend on the thread count).
    pub mean_of: Vec<usize>,
    pub threads: usize,
    pub backend: Backend,
    /// Cranelift's `opt_level = "speed"` instead of `"none"`.
    pub optimize: bool,
    /// The seed of the model's white noises (`noise X = white(...)`).
    pub seed: u64,
}

/// What a population run produced besides what it recorded: how far it
/// got, how long the compilation took, what the kernel became.
pub struct PopOutcome {
    pub outcome: Outcome,
    pub compile_seconds: f64,
    pub kernel_insts: usize,
    /// One line per rate table (see [`kernel::table::Table::summary`]).
    pub tables: Vec<String>,
    /// W0401 when a lookup fell outside a rate table.
    pub warnings: Vec<Diagnostic>,
}

/// What a population run produced, with how long the compilation took.
pub struct PopRun {
    pub rec: Recording,
    /// (neuron, time) of every spike, in (step, neuron) order.
    pub spikes: Vec<(usize, f64)>,
    pub compile_seconds: f64,
    pub kernel_insts: usize,
    /// One line per rate table (see [`kernel::table::Table::summary`]).
    pub tables: Vec<String>,
    /// W0401 when a lookup fell outside a rate table.
    pub warnings: Vec<Diagnostic>,
    /// `mean_of`'s population means, one trace per state, at `rec.t`.
    pub means: Vec<(String, Vec<f64>)>,
}

/// Neurons per partial sum of a population mean; thread chunks are
/// multiples of it.
const MEAN_BLOCK: usize = 256;

/// Runs a population and collects what it records: neuron 0's probes in
/// `rec`, the spikes twice (in `rec` and as `spikes`), the means in
/// `means`. Fails as [`simulate_into`] does.
pub fn simulate(m: &Model, plan: &Plan, cfg: &PopConfig) -> Result<PopRun, Box<Diagnostic>> {
    let one = cfg.record_neurons == [0];
    let names = cfg
        .record
        .iter()
        .flat_map(|p| {
            let name = super::probe_name(m, p);
            cfg.record_neurons.iter().map(move |i| if one { name.clone() } else { format!("{name}@{i}") })
        })
        .chain(mean_names(m, cfg));
    let mut rec = Recording::named(names);
    let out = simulate_into(m, plan, cfg, &mut rec)?;
    let probes = cfg.record.len() * cfg.record_neurons.len();
    let means = rec.traces.split_off(probes.min(rec.traces.len()));
    rec.steps = out.outcome.steps;
    let spikes = rec.spike_ids.iter().copied().zip(rec.spikes.iter().copied()).collect();
    Ok(PopRun {
        rec,
        spikes,
        compile_seconds: out.compile_seconds,
        kernel_insts: out.kernel_insts,
        tables: out.tables,
        warnings: out.warnings,
        means,
    })
}

/// `mean_V` for each state of `mean_of`.
fn mean_names<'a>(m: &'a Model, cfg: &'a PopConfig) -> impl Iterator<Item = String> + 'a {
    cfg.mean_of.iter().map(|&s| format!("mean_{}", m.states.get(s).map_or("?", |x| x.name.as_str())))
}

/// Runs a population, handing `rec` each sample (at t = 0 and after every
/// `sample_every`-th step: each probe of `cfg.record` for each neuron of
/// `cfg.record_neurons`, in order, then the means of `cfg.mean_of`, in
/// order) and each spike (neuron, time) in
/// (step, neuron) order. The chunks advance a block of steps at a time
/// (see [`block_steps`]); between blocks their spikes are merged and handed
/// on, step by step, asking `rec.stop()` before each step. Chunk 0 runs on
/// this thread and also asks it at every step it computes, so that a stop
/// ends the block promptly. Fails with E0404 (no kernel), E0103, E0218,
/// E0506 (a neuron diverged: checked every 1000 steps and at the end), or
/// E0999 (the JIT failed).
pub fn simulate_into(
    m: &Model,
    plan: &Plan,
    cfg: &PopConfig,
    rec: &mut dyn Recorder,
) -> Result<PopOutcome, Box<Diagnostic>> {
    let (k, params) = build_kernel(m, plan, cfg)?;
    super::check_params(m, &params)?;
    let compiled = match cfg.backend {
        Backend::Jit => Some(jit::compile(&k, cfg.optimize).map_err(|e| {
            Box::new(Diagnostic::internal(format!("JIT compilation failed: {e}")).at(m.span, "this model"))
        })?),
        Backend::Interp => None,
    };
    let mut states = initial_states(m, &k, &params, cfg);
    let per_neuron = per_neuron_with_noise(m, cfg);
    let per = kernel::param_arrays(&k, m, &params, &value_exprs(m, cfg), &per_neuron);
    // the white and escape noises' arrays: their positions among the parameter arrays
    let noise_at: Vec<(usize, crate::runtime::noise::Draw)> = crate::ir::noise::random_params(m)
        .iter()
        .filter_map(|(p, d)| per_neuron.iter().position(|(q, _)| q == p).map(|at| (at, *d)))
        .collect();
    let n = cfg.n;
    let mut chunk = n.div_ceil(cfg.threads.clamp(1, n.max(1))).max(1);
    if !cfg.mean_of.is_empty() {
        chunk = chunk.div_ceil(MEAN_BLOCK) * MEAN_BLOCK;
    }
    // as many threads as non-empty chunks
    let threads = n.div_ceil(chunk).max(1);
    let emitting = k.events.iter().filter(|e| e.emits).count().max(1);
    // parameters of neuron 0, for values recorded from it
    let mut params0 = params.clone();
    for (p, vals) in &cfg.per_neuron {
        if let Some(v) = vals.first() {
            params0[*p] = *v;
        }
    }
    let run = Shared {
        m,
        k: &k,
        code: compiled.as_ref(),
        cfg,
        params0,
        exprs: value_exprs(m, cfg),
        steps: (cfg.duration / cfg.dt).round().max(0.0) as usize,
        every: cfg.sample_every.max(1),
        chunk,
        block: block_steps(n, emitting),
        abort: false.into(),
        warned: false.into(),
    };
    // Split the arrays into per-thread chunks.
    let mut chunks: Vec<Chunk> = (0..threads)
        .map(|c| {
            let (a, b) = ((c * chunk).min(n), ((c + 1) * chunk).min(n));
            Chunk {
                base: a,
                states: Vec::new(),
                params: per.iter().map(|arr| &arr[a..b]).collect(),
                noise: noise_at
                    .iter()
                    .map(|&(pos, draw)| {
                        let name = &m.params[per_neuron[pos].0].name;
                        (pos, draw, vec![0.0; b - a], crate::runtime::noise::streams(cfg.seed, name, 0, a..b))
                    })
                    .collect(),
                idx: vec![0; (b - a) * emitting],
                tim: vec![0.0; (b - a) * emitting],
                step_spikes: Vec::new(),
                values: Vec::new(),
                left: None,
                huge: None,
            }
        })
        .collect();
    for arr in states.iter_mut() {
        for (c, piece) in arr.chunks_mut(chunk).enumerate() {
            if let Some(ch) = chunks.get_mut(c) {
                ch.states.push(piece);
            }
        }
    }
    let (outcome, left) = std::thread::scope(|scope| run.blocks(scope, chunks, rec))?;
    let warnings = left
        .filter(|x| x.1 < outcome.steps || !outcome.stopped)
        .map(|first| excursion_warning(m, &k, first, cfg.dt))
        .into_iter()
        .collect();
    Ok(PopOutcome {
        outcome,
        compile_seconds: compiled.as_ref().map_or(0.0, |c| c.compile_seconds),
        kernel_insts: k.insts.len(),
        tables: table_notes(m, &k),
        warnings,
    })
}

/// Spike slots one block may fill: with every neuron spiking on every
/// emitting event at every step, a block's spikes take at most this many
/// (step, neuron, time) entries (24 bytes each: 24 MiB). Two blocks are in
/// flight at most, and a block's spikes are copied once to be merged.
const BLOCK_SPIKES: usize = 1 << 20;

/// The most steps in a block: enough that handing a block over (a channel
/// message per thread, a merge) costs nothing next to stepping it.
const MAX_BLOCK_STEPS: usize = 4096;

/// Steps per block for `n` neurons with `emitting` spiking events: as many
/// as the spike budget [`BLOCK_SPIKES`] allows in the worst case, between
/// 1 and [`MAX_BLOCK_STEPS`]. 20,000 neurons get 52 steps (a million
/// neuron-steps, some 25 ms of work per block); a neuron alone, 4096. It
/// depends on neither the thread count nor the spikes, so neither do the
/// results (which do not depend on blocks at all: neurons are independent).
pub fn block_steps(n: usize, emitting: usize) -> usize {
    (BLOCK_SPIKES / n.saturating_mul(emitting).max(1)).clamp(1, MAX_BLOCK_STEPS)
}

/// What every chunk reads.
struct Shared<'a> {
    m: &'a Model,
    k: &'a Kernel,
    code: Option<&'a jit::Compiled>,
    cfg: &'a PopConfig,
    /// Neuron 0's parameters and the value expressions, for its probes.
    params0: Vec<f64>,
    exprs: Vec<ExprId>,
    steps: usize,
    every: usize,
    /// Neurons per chunk (the last may have fewer).
    chunk: usize,
    /// Steps per block.
    block: usize,
    /// Set when the recorder asked chunk 0 to stop: the other chunks end
    /// their block at the next step.
    abort: std::sync::atomic::AtomicBool,
    /// W0501 was handed on.
    warned: std::sync::atomic::AtomicBool,
}

/// One thread's contiguous share of the neurons: its slices of the state
/// and per-neuron parameter arrays, and its scratch space.
struct Chunk<'a> {
    /// Its first neuron.
    base: usize,
    states: Vec<&'a mut [f64]>,
    params: Vec<&'a [f64]>,
    /// The white and escape noises: (position among `params`, what is
    /// drawn, this step's values, each neuron's stream).
    noise: Vec<(usize, crate::runtime::noise::Draw, Vec<f64>, Vec<crate::runtime::noise::Stream>)>,
    /// The JIT's spike buffers: one step's spikes (neurons x emitting events).
    idx: Vec<i64>,
    tim: Vec<f64>,
    /// The kernel interpreter's spikes of one step.
    step_spikes: kernel::interp::Spikes,
    /// Values of neuron 0 (chunk 0), recomputed at each sample.
    values: Vec<f64>,
    /// The first lookup outside a rate table, once found: the tables read
    /// the states at the start of each step, checked until one is found.
    left: Option<Excursion>,
    /// The first state found past [`HUGE`] (checked with divergence).
    huge: Option<Huge>,
}

/// A state past [`HUGE`]: (neuron, state, steps done, value).
type Huge = (usize, usize, usize, f64);

/// What a chunk hands back for a block of steps (reused block after block).
#[derive(Default)]
struct BlockOut {
    /// (step, neuron, time), in step order.
    spikes: Vec<(usize, usize, f64)>,
    /// The probe values of the recorded neurons in the chunk, per sample
    /// `record.len()` times as many as those neurons (probe-major).
    probes: Vec<f64>,
    /// Per `mean_of` state: per sample, the sums of the chunk's blocks of
    /// [`MEAN_BLOCK`] neurons ([`mean_width`] of them), one sample after
    /// the other.
    sums: Vec<Vec<f64>>,
    /// The end of the steps the chunk completed: the block's end, unless it
    /// was asked to stop or a neuron diverged.
    done: usize,
    /// (neuron, steps done) of a neuron found diverged.
    diverged: Option<(usize, usize)>,
    /// The chunk's first rate-table excursion so far.
    left: Option<Excursion>,
    /// The chunk's first state past [`HUGE`] so far.
    huge: Option<Huge>,
}

/// How many block sums of `MEAN_BLOCK` neurons a chunk of `len` neurons
/// records per sample for state `s` of a kernel with `arrays` state arrays.
fn mean_width(len: usize, s: usize, arrays: usize) -> usize {
    if s < arrays {
        len.div_ceil(MEAN_BLOCK)
    } else {
        0
    }
}

/// A worker's channels: block ranges (with a `BlockOut` to fill) out,
/// filled `BlockOut`s back.
type Worker = (mpsc::Sender<(usize, usize, BlockOut)>, mpsc::Receiver<BlockOut>);

/// How a block's hand-over ended.
enum Handed {
    /// Every step of the block was handed on.
    Whole,
    /// The recorder asked to stop, with the steps handed on.
    Stopped(usize),
}

impl Shared<'_> {
    /// The recorded neurons among `base..base + len`.
    fn recorded_in(&self, base: usize, len: usize) -> &[usize] {
        let r = &self.cfg.record_neurons;
        let from = r.partition_point(|&i| i < base);
        let to = r.partition_point(|&i| i < base + len);
        &r[from..to]
    }

    /// Runs every block: chunks 1.. on worker threads of `scope` (each
    /// takes its blocks' ranges in order from a channel, steps them and
    /// sends back their `BlockOut`s), chunk 0 here; then hands each block's
    /// samples and spikes on. Returns the outcome and the run's first
    /// rate-table excursion.
    fn blocks<'s, 'a: 's>(
        &'s self,
        scope: &'s std::thread::Scope<'s, '_>,
        chunks: Vec<Chunk<'a>>,
        rec: &mut dyn Recorder,
    ) -> Result<(Outcome, Option<Excursion>), Box<Diagnostic>> {
        let mut chunks = chunks.into_iter();
        let Some(mut first) = chunks.next() else {
            return Ok((Outcome { steps: 0, stopped: false }, None));
        };
        let abort = &self.abort;
        let mut workers: Vec<Worker> = Vec::new();
        for mut ch in chunks {
            let (to_worker, orders) = mpsc::channel::<(usize, usize, BlockOut)>();
            let (results, from_worker) = mpsc::channel::<BlockOut>();
            scope.spawn(move || {
                for (from, to, mut out) in orders {
                    ch.run_block(self, from, to, &mut out, &mut || abort.load(Ordering::Relaxed));
                    if results.send(out).is_err() {
                        break;
                    }
                }
            });
            workers.push((to_worker, from_worker));
        }
        let result = self.lead(&mut first, &workers, rec);
        // however the run ended, a worker a block ahead stops at its next step
        abort.store(true, Ordering::Relaxed);
        result
    }

    /// Orders the blocks and hands them on: the workers get block b + 1
    /// before chunk 0 steps block b, so that a worker never waits for this
    /// thread's share or its handing on (two blocks in flight at most).
    fn lead(
        &self,
        first: &mut Chunk,
        workers: &[Worker],
        rec: &mut dyn Recorder,
    ) -> Result<(Outcome, Option<Excursion>), Box<Diagnostic>> {
        let range = |b: usize| ((b * self.block).min(self.steps), ((b + 1) * self.block).min(self.steps));
        let blocks = self.steps.div_ceil(self.block).max(1);
        // per worker, the BlockOuts it handed back, to fill again
        let mut spare: Vec<Vec<BlockOut>> = workers.iter().map(|_| Vec::new()).collect();
        let order = |b: usize, spare: &mut Vec<Vec<BlockOut>>| {
            let (from, to) = range(b);
            for ((order, _), spare) in workers.iter().zip(spare.iter_mut()) {
                // a worker that is gone shows as missing results below
                let _ = order.send((from, to, spare.pop().unwrap_or_default()));
            }
        };
        order(0, &mut spare);
        let mut outs: Vec<BlockOut> = (0..=workers.len()).map(|_| BlockOut::default()).collect();
        let mut merged = Vec::new();
        for b in 0..blocks {
            if b + 1 < blocks {
                order(b + 1, &mut spare);
            }
            let (from, to) = range(b);
            first.run_block(self, from, to, &mut outs[0], &mut || {
                let stop = rec.stop();
                if stop {
                    self.abort.store(true, Ordering::Relaxed);
                }
                stop
            });
            for (w, (_, results)) in workers.iter().enumerate() {
                match results.recv() {
                    Ok(out) => outs[w + 1] = out,
                    // a thread that panicked reports itself as diverged at step 0
                    Err(_) => return Err(self.diverged((w + 1) * self.chunk, 0)),
                }
            }
            let left = outs.iter().filter_map(|o| o.left).min_by_key(|x| (x.1, x.2));
            match self.hand_on(&outs, from, to, &mut merged, rec)? {
                Handed::Stopped(steps) => return Ok((Outcome { steps, stopped: true }, left)),
                Handed::Whole if to == self.steps => return Ok((Outcome { steps: to, stopped: false }, left)),
                Handed::Whole => {}
            }
            for (out, spare) in outs.iter_mut().skip(1).zip(spare.iter_mut()) {
                spare.push(std::mem::take(out));
            }
        }
        Err(Box::new(
            Diagnostic::internal("a population run ended before its last block").at(self.m.span, "this model"),
        ))
    }

    /// Hands on a block's samples and spikes, step by step, in (step,
    /// neuron) order, asking `rec.stop()` before each step; a neuron found
    /// diverged ends the run with E0506 at its step.
    fn hand_on(
        &self,
        outs: &[BlockOut],
        from: usize,
        to: usize,
        merged: &mut Vec<(usize, usize, f64)>,
        rec: &mut dyn Recorder,
    ) -> Result<Handed, Box<Diagnostic>> {
        let cfg = self.cfg;
        let done = outs.iter().map(|o| o.done).min().unwrap_or(to);
        let diverged = outs.iter().filter_map(|o| o.diverged).min_by_key(|x| x.1);
        let huge = outs.iter().filter_map(|o| o.huge).min_by_key(|x| (x.2, x.0));
        if let Some((i, s, at, v)) = huge {
            if !self.warned.swap(true, Ordering::Relaxed) {
                let neuron = (cfg.n > 1).then_some(i);
                rec.warning(super::record::huge_warning(self.m, s, neuron, v, at as f64 * cfg.dt, cfg.dt));
            }
        }
        // chunks are in neuron order and each in step order: a stable sort
        // by (step, neuron) is the order of the whole population
        merged.clear();
        merged.extend(outs.iter().flat_map(|o| o.spikes.iter().copied().filter(|s| s.0 < done)));
        merged.sort_by_key(|&(step, i, _)| (step, i));
        let (n, arrays) = (cfg.n, self.k.states.len());
        let widths: Vec<Vec<usize>> = (0..outs.len())
            .map(|c| {
                let len = ((c + 1) * self.chunk).min(n) - (c * self.chunk).min(n);
                cfg.mean_of.iter().map(|&s| mean_width(len, s, arrays)).collect()
            })
            .collect();
        // the recorded neurons of each chunk
        let mine: Vec<usize> = (0..outs.len())
            .map(|c| {
                let (a, b) = ((c * self.chunk).min(n), ((c + 1) * self.chunk).min(n));
                self.recorded_in(a, b - a).len()
            })
            .collect();
        let mut values = Vec::with_capacity(cfg.record.len() * cfg.record_neurons.len() + cfg.mean_of.len());
        let mut sample = |j: usize, t: f64, rec: &mut dyn Recorder| {
            if n == 0 {
                return;
            }
            let r = cfg.record.len();
            values.clear();
            for k in 0..r {
                for (o, &w) in outs.iter().zip(&mine) {
                    let at = j * r * w + k * w;
                    values.extend_from_slice(o.probes.get(at..at + w).unwrap_or(&[]));
                }
            }
            for q in 0..cfg.mean_of.len() {
                let total: f64 = outs
                    .iter()
                    .zip(&widths)
                    .flat_map(|(o, w)| o.sums[q].get(j * w[q]..(j + 1) * w[q]).into_iter().flatten())
                    .sum();
                values.push(total / n.max(1) as f64);
            }
            rec.sample(t, &values);
        };
        let mut j = 0;
        if from == 0 {
            sample(0, 0.0, rec);
            j = 1;
        }
        let mut spikes = merged.iter().peekable();
        for step in from..done {
            if rec.stop() {
                return Ok(Handed::Stopped(step));
            }
            while let Some(&(_, i, t)) = spikes.next_if(|s| s.0 == step) {
                rec.spike(i, t);
            }
            if (step + 1) % self.every == 0 {
                sample(j, (step + 1) as f64 * cfg.dt, rec);
                j += 1;
            }
            if let Some((i, at)) = diverged.filter(|d| d.1 == step + 1) {
                return Err(self.diverged(i, at));
            }
        }
        // a chunk stopped before the block's end: chunk 0 was asked to
        Ok(if done < to { Handed::Stopped(done) } else { Handed::Whole })
    }

    /// E0506 for neuron `i`, found diverged after `step` steps (checked
    /// every 1000): the neuron is replayed alone to name the state that
    /// stopped being finite and the step after which it did; E0403 when
    /// that state holds a [`kernel::fault`] (a scheme that failed).
    fn diverged(&self, i: usize, step: usize) -> Box<Diagnostic> {
        let ms = |steps: usize| crate::units::format_number(steps as f64 * self.cfg.dt * 1e3);
        let who = if self.cfg.n > 1 { format!(" of neuron {i}") } else { String::new() };
        let d = match self.first_non_finite(i, step) {
            Some((s, at, x)) if kernel::fault::describe(x).is_some() => {
                let st = &self.m.states[s];
                let why = kernel::fault::describe(x).unwrap_or_default();
                let neuron = if self.cfg.n > 1 { format!("neuron {i}, ") } else { String::new() };
                return Box::new(
                    Diagnostic::error(
                        Code::SolverFailed,
                        format!("{why}: {neuron}state `{}`, step {at} (t = {} ms)", st.name, ms(at - 1)),
                    )
                    .at(st.span, "this state's scheme failed")
                    .help(format!(
                        "try a smaller step (dt = {} ms now), or another method for this state with `--method`",
                        crate::units::format_number(self.cfg.dt * 1e3)
                    )),
                );
            }
            Some((s, at, _)) => {
                let st = &self.m.states[s];
                Diagnostic::error(
                    Code::NumericalBlowUp,
                    format!("`{}`{who} stopped being finite at step {at} (t = {} ms)", st.name, ms(at)),
                )
                .at(st.span, "this state diverged")
            }
            None => Diagnostic::error(
                Code::NumericalBlowUp,
                format!("neuron {i} diverged (a state is not finite) by t = {} ms", ms(step)),
            )
            .at(self.m.span, "in this model"),
        };
        Box::new(d.help(format!(
            "the step dt = {} ms may be too large for this model: try a smaller --dt, or --method auto / rk4",
            crate::units::format_number(self.cfg.dt * 1e3)
        )))
    }

    /// Replays neuron `i` alone on the kernel interpreter (its trajectory
    /// does not depend on the others, and the interpreter computes what the
    /// JIT does, bit for bit) for up to `until` steps: the first state of
    /// the model that is not finite, after which step, and its value (a
    /// [`kernel::fault`] payload when a scheme failed). `None` past
    /// [`MAX_REPLAY`] steps.
    fn first_non_finite(&self, i: usize, until: usize) -> Option<(usize, usize, f64)> {
        // a neuron with random draws cannot be replayed alone (its numbers
        // come from its chunk's streams): the divergence is reported as is
        if until > MAX_REPLAY || i >= self.cfg.n || !crate::ir::noise::noise_params(self.m).is_empty() {
            return None;
        }
        let cfg = self.cfg;
        let one = PopConfig {
            n: 1,
            per_neuron: cfg.per_neuron.iter().map(|(p, v)| (*p, vec![v[i]])).collect(),
            init_per_neuron: cfg.init_per_neuron.iter().map(|(s, v)| (*s, vec![v[i]])).collect(),
            param_overrides: cfg.param_overrides.clone(),
            value_overrides: cfg.value_overrides.clone(),
            record: vec![],
            record_neurons: vec![],
            mean_of: vec![],
            threads: 1,
            ..*cfg
        };
        let mut states = initial_states(self.m, self.k, &self.params0, &one);
        let arrays = kernel::param_arrays(self.k, self.m, &self.params0, &self.exprs, &one.per_neuron);
        let params: Vec<&[f64]> = arrays.iter().map(|v| &v[..]).collect();
        let mut spikes = Vec::new();
        for step in 0..until {
            let (t, t_next) = (step as f64 * cfg.dt, (step + 1) as f64 * cfg.dt);
            let mut arrays: Vec<&mut [f64]> = states.iter_mut().map(|a| &mut a[..]).collect();
            kernel::interp::step(self.k, &mut arrays, &params, t, t_next, &mut spikes);
            spikes.clear();
            if let Some(s) = states.iter().take(self.m.states.len()).position(|a| !a[0].is_finite()) {
                return Some((s, step + 1, states[s][0]));
            }
        }
        None
    }
}

/// Steps replayed to find where a neuron diverged (a minute at most).
const MAX_REPLAY: usize = 50_000_000;

impl Chunk<'_> {
    /// Advances the chunk over steps `from..to` into `out` (cleared first;
    /// with the sample at t = 0 when `from` is 0), asking `stop` before
    /// each step. A neuron that is not finite (checked every 1000 steps and
    /// at the run's end) ends the block there.
    fn run_block(&mut self, sh: &Shared, from: usize, to: usize, out: &mut BlockOut, stop: &mut dyn FnMut() -> bool) {
        let (k, cfg) = (sh.k, sh.cfg);
        out.spikes.clear();
        out.probes.clear();
        out.sums.resize_with(cfg.mean_of.len(), Vec::new);
        out.sums.iter_mut().for_each(Vec::clear);
        out.diverged = None;
        out.done = to;
        if from == 0 {
            self.sample(sh, out, 0.0);
        }
        let len = self.states.first().map_or(0, |s| s.len());
        for step in from..to {
            if stop() {
                out.done = step;
                break;
            }
            if self.left.is_none() && !k.tables.is_empty() {
                let base = self.base;
                self.left =
                    excursion(k, |i| self.states.get(i).map(|a| &a[..])).map(|(ti, i, v)| (ti, step, base + i, v));
            }
            let t = step as f64 * cfg.dt;
            let t_next = (step + 1) as f64 * cfg.dt;
            for (_, draw, values, streams) in &mut self.noise {
                crate::runtime::noise::fill(values, streams, cfg.dt, *draw);
            }
            // the parameter arrays, this step's noise in place of its slots
            let noise = &self.noise;
            let param = |i: usize, s: *const f64| noise.iter().find(|n| n.0 == i).map_or(s, |n| n.2.as_ptr());
            match sh.code {
                Some(code) => {
                    let sp: Vec<*mut f64> = self.states.iter_mut().map(|s| s.as_mut_ptr()).collect();
                    let pp: Vec<*const f64> =
                        self.params.iter().enumerate().map(|(i, s)| param(i, s.as_ptr())).collect();
                    // SAFETY: one pointer per kernel array, each with `len` values;
                    // spike buffers hold len * emitting entries.
                    let count = unsafe { code.call(&sp, &pp, len, (t, t_next), &mut self.idx, &mut self.tim) };
                    for s in 0..count {
                        out.spikes.push((step, self.base + self.idx[s] as usize, self.tim[s]));
                    }
                }
                None => {
                    self.step_spikes.clear();
                    let params: Vec<&[f64]> = self
                        .params
                        .iter()
                        .enumerate()
                        .map(|(i, s)| noise.iter().find(|n| n.0 == i).map_or(*s, |n| &n.2[..]))
                        .collect();
                    kernel::interp::step(k, &mut self.states, &params, t, t_next, &mut self.step_spikes);
                    out.spikes.extend(self.step_spikes.iter().map(|&(i, ts)| (step, self.base + i, ts)));
                }
            }
            if (step + 1) % sh.every == 0 {
                self.sample(sh, out, t_next);
            }
            if (step + 1) % 1000 == 0 || step + 1 == sh.steps {
                let n_model = sh.m.states.len();
                let bad = self.states.iter().take(n_model).find_map(|a| a.iter().position(|v| !v.is_finite()));
                if let Some(i) = bad {
                    out.diverged = Some((self.base + i, step + 1));
                    out.done = step + 1;
                    break;
                }
                if self.huge.is_none() {
                    self.huge = self.states.iter().take(n_model).enumerate().find_map(|(s, a)| {
                        a.iter().position(|v| v.abs() > HUGE).map(|i| (self.base + i, s, step + 1, a[i]))
                    });
                }
            }
        }
        out.left = self.left;
        out.huge = self.huge;
    }

    /// A sample at `t`: the sums of the `mean_of` states, and the probes
    /// of the recorded neurons that are in this chunk (probe by probe,
    /// neuron by neuron).
    fn sample(&mut self, sh: &Shared, out: &mut BlockOut, t: f64) {
        let cfg = sh.cfg;
        for (sums, &s) in out.sums.iter_mut().zip(&cfg.mean_of) {
            if let Some(a) = self.states.get(s) {
                sums.extend(a.chunks(MEAN_BLOCK).map(|b| b.iter().sum::<f64>()));
            }
        }
        let len = self.states.first().map_or(0, |s| s.len());
        let mine = sh.recorded_in(self.base, len);
        if mine.is_empty() || cfg.record.is_empty() {
            return;
        }
        let m = sh.m;
        let has_values = cfg.record.iter().any(|p| matches!(p, Probe::Value(_)));
        let at = out.probes.len();
        out.probes.resize(at + cfg.record.len() * mine.len(), f64::NAN);
        for (j, &i) in mine.iter().enumerate() {
            let local = i - self.base;
            let y: Vec<f64> = self.states.iter().take(m.states.len()).map(|a| a[local]).collect();
            if has_values {
                let mut p = sh.params0.clone();
                for ((q, _), arr) in cfg.per_neuron.iter().zip(&self.params) {
                    p[*q] = arr[local];
                }
                eval_values(m, t, &y, &p, &sh.exprs, &mut self.values);
            }
            for (k, probe) in cfg.record.iter().enumerate() {
                out.probes[at + k * mine.len() + j] = match probe {
                    Probe::State(s) => y.get(*s).copied().unwrap_or(f64::NAN),
                    Probe::Value(v) => self.values.get(*v).copied().unwrap_or(f64::NAN),
                };
            }
        }
    }
}
