//! Stepping a network's populations on worker threads. Each worker owns a
//! contiguous chunk of every population (worker 0 is the calling thread);
//! a step is: barrier; every worker adds the drives to its chunk
//! ([`super::drive`]), delivers the last step's spikes onto its chunk
//! ([`super::fanout`]), steps its chunks by their kernels (JIT or
//! interpreter), collects their spikes in neuron order and clears their
//! input slot; barrier; the caller records the spikes and leaves them for
//! the next step's delivery ([`super::deliver`]). Chunks only split the
//! work: the results do not depend on the thread count.
//!
//! Invariant of the raw views: between the two barriers of a step, worker
//! `w` alone touches neurons `chunks[p][w]` of population `p`'s arrays;
//! outside them (while the workers wait) only the calling thread touches
//! any array. The arrays belong to the runners, which outlive the views.

use super::build::Runner;
use super::drive::Drives;
use super::fanout::{Fanout, Pending};
use super::ranks::Ranks;
use super::slice::{Command, Slice};
use super::{NetConfig, Network};
use crate::cable::population::Cells;
use crate::cable::sim::{Block, Failure};
use crate::codegen::jit;
use crate::diag::{Code, Diagnostic};
use crate::kernel::{self, Kernel};
use crate::runtime::population::{excursion, excursion_warning, Excursion};
use crate::source::Span;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};

/// The most threads a network runs on.
pub(super) const MAX_THREADS: usize = 64;

/// One worker's spikes of a step, per population: (neuron, time), in
/// neuron order.
pub(super) type StepSpikes = Vec<Vec<(usize, f64)>>;

/// A raw pointer the worker threads share; each touches its own chunk.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub(super) struct Ptr(pub *mut f64);
// SAFETY: workers write disjoint chunks between barriers (module doc).
unsafe impl Send for Ptr {}
unsafe impl Sync for Ptr {}

/// The noise streams the worker threads share; each touches its chunk.
#[derive(Clone, Copy)]
pub(super) struct GaussPtr(pub *mut crate::runtime::noise::Stream);
// SAFETY: workers touch disjoint chunks between barriers (module doc).
unsafe impl Send for GaussPtr {}
unsafe impl Sync for GaussPtr {}

/// A population's state arrays, per-neuron parameters and input ring
/// (`ring[port][slot]`), as raw pointers to where its neuron 0 is or
/// would be: the arrays hold neurons `first..first + held` (all of them,
/// or a process's block when the network is spread over several), so
/// neuron i is at `wrapping_add(i)` for the neurons held, and nowhere
/// else may be read.
pub(super) struct PopView {
    pub states: Vec<Ptr>,
    pub params: Vec<Ptr>,
    /// White noises: (parameter array, the neurons' streams).
    pub noise: Vec<(usize, crate::runtime::noise::Draw, GaussPtr)>,
    pub ring: Vec<Vec<Ptr>>,
    /// Neurons in the population.
    pub count: usize,
    /// The neurons the arrays hold: `first..first + held`.
    pub first: usize,
    pub held: usize,
}

impl PopView {
    /// State array `s`: the neurons held (from `first`).
    ///
    /// # Safety
    /// Only while the workers wait at the barrier (module doc).
    pub unsafe fn state(&self, s: usize) -> Option<&[f64]> {
        // SAFETY: the array holds `held` values from neuron `first`; the
        // caller keeps the workers out
        self.states.get(s).map(|p| unsafe { std::slice::from_raw_parts(p.0.wrapping_add(self.first), self.held) })
    }
}

/// A barrier that spins briefly before yielding: a network step is short,
/// and sleeping on a condition variable would cost more than the step.
struct SpinBarrier {
    n: usize,
    count: AtomicUsize,
    generation: AtomicUsize,
    /// Set when a thread panicked: waiting stops, so the others can leave.
    broken: AtomicBool,
}

/// Breaks the barrier if its thread unwinds, so no thread waits forever.
struct BreakOnPanic<'a>(&'a SpinBarrier);

impl Drop for BreakOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.broken.store(true, Ordering::Release);
        }
    }
}

impl SpinBarrier {
    fn new(n: usize) -> SpinBarrier {
        SpinBarrier { n, count: 0.into(), generation: 0.into(), broken: false.into() }
    }

    fn is_broken(&self) -> bool {
        self.broken.load(Ordering::Acquire)
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

/// One worker's reused buffers: the JIT's spike buffers per population
/// (one step's spikes of its chunk: neurons x emitting events), and the
/// lists of the state and parameter arrays' addresses a kernel call takes.
pub(super) struct Buffers {
    spikes: Vec<(Vec<i64>, Vec<f64>)>,
    arrays: (Vec<Ptr>, Vec<Ptr>),
}

/// A population of cells, stepped by blocks: one block of consecutive
/// cells per worker (`None` once it failed, or for an empty chunk).
struct CellStepping<'r> {
    cells: &'r Cells,
    blocks: Vec<Mutex<Option<Block<'r>>>>,
    /// The site each input port (ring) feeds.
    site_of_port: Vec<usize>,
    /// The first failure: (why, the block's cells).
    failure: Mutex<Option<(Failure, (usize, usize))>>,
}

/// Everything the workers share to step the populations.
pub(super) struct Stepping<'r> {
    pub views: Vec<PopView>,
    /// Per population of cells, its blocks.
    cells: Vec<Option<CellStepping<'r>>>,
    /// JIT compilation of the cells' kernels, s.
    pub compile_seconds: f64,
    kernels: Vec<(&'r Kernel, Option<&'r jit::Compiled>)>,
    /// Per population, per worker: its neurons [a, b).
    chunks: Vec<Vec<(usize, usize)>>,
    /// Ring slots per population.
    pub slots_of: Vec<usize>,
    emitting: Vec<usize>,
    /// Per worker, its spikes of the step.
    pub outputs: Vec<Mutex<StepSpikes>>,
    /// The last step's spikes, left by the calling thread for the workers
    /// to deliver through `fanout` at the start of the next step.
    pub pending: RwLock<Pending>,
    pub(super) fanout: &'r Fanout,
    pub(super) drives: &'r Drives<'r>,
    /// Per worker and population: the first lookup outside a rate table.
    excursions: Vec<Mutex<Vec<Option<Excursion>>>>,
    barrier: SpinBarrier,
    /// What the workers do after each passage of the barrier, by the
    /// passage's parity ([`Command`]): written by the calling thread
    /// before it waits, read by each worker after it passes. (A worker
    /// reads the command of passage g before the calling thread can
    /// reach passage g + 2.)
    commands: [Mutex<Command>; 2],
    /// Passages of the barrier the calling thread has made.
    passages: AtomicUsize,
    /// Per worker, its spikes of a slice of steps, in two buffers (the
    /// last slice's are delivered while the next is stepped).
    pub(super) slices: Vec<[RwLock<Vec<StepSpikes>>; 2]>,
    /// The probes, sampled by the workers within slices.
    pub(super) sampled: super::probe::Sampled<'r>,
    /// Workers in this process: all of them, or one (its rank's chunk)
    /// when the network is spread over processes.
    local: usize,
    /// The worker this thread is (its rank under MPI, else 0).
    me: usize,
    ranks: Option<Ranks>,
    dt: f64,
}

/// The number of threads: `cfg.threads` (at most 64), or for 0 one per
/// 100,000 operations per step, at most one per core: a kernel operation
/// per neuron counts one, a compartment 60, and a synapse 1/20 (its
/// share of the drives and the delivery, which run on every thread).
pub(super) fn threads(cfg: &NetConfig, runners: &[Runner], net: &Network, synapses: usize) -> usize {
    match cfg.threads {
        0 => {
            // two barriers per step cost a few microseconds: worth it only
            // when a step has about 10^5 operations per thread or more
            let work: usize = runners
                .iter()
                .zip(&net.populations)
                .map(|(r, p)| match &p.cells {
                    // a compartment-step costs about as much as 60 kernel operations
                    Some(c) => c.compartments() * 60,
                    None => r.kernel.insts.len() * p.count,
                })
                .sum::<usize>()
                + synapses / 20;
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            (work / 100_000).clamp(1, cores.min(MAX_THREADS))
        }
        t => t.clamp(1, MAX_THREADS),
    }
}

/// Per population, per worker: its neurons [a, b), contiguous chunks of
/// even sizes (so that the JIT's pairs of neurons stay within a chunk).
pub(super) fn chunks(net: &Network, threads: usize) -> Vec<Vec<(usize, usize)>> {
    net.populations
        .iter()
        .map(|p| {
            if p.model.kind == crate::syntax::ast::ModelKind::Density {
                // stepped on the main thread (`density::Densities`)
                return vec![(0, 0); threads];
            }
            let size = p.count.div_ceil(threads).div_ceil(2) * 2;
            (0..threads).map(|w| ((w * size).min(p.count), ((w + 1) * size).min(p.count))).collect()
        })
        .collect()
}

impl<'r> Stepping<'r> {
    /// Views of the runners' arrays, split into `threads` chunks per
    /// population (even sizes, so that the JIT's pairs of neurons stay
    /// within a chunk), and the blocks of each population of cells, one
    /// per chunk (their kernels compiled: E0404 when one cannot be).
    pub fn new(
        runners: &'r mut [Runner],
        net: &'r Network,
        (fanout, drives): (&'r Fanout, &'r Drives<'r>),
        (threads, ranks): (usize, Option<Ranks>),
        (dt, duration): (f64, f64),
        (probes, sample_every): (&'r [(usize, usize, usize, usize)], usize),
        span: Span,
    ) -> Result<Stepping<'r>, Box<Diagnostic>> {
        // under MPI: one chunk per rank, this process steps its own
        let (local, me) = match ranks {
            Some(r) => (1, r.rank),
            None => (threads, 0),
        };
        let views: Vec<PopView> = runners
            .iter_mut()
            .zip(&net.populations)
            .map(|(r, p)| {
                // where neuron 0 would be: wrapping, as it is outside the
                // arrays when they start past it
                let first = r.first;
                let base = |a: &mut Vec<f64>| Ptr(a.as_mut_ptr().wrapping_sub(first));
                PopView {
                    count: p.count,
                    first,
                    held: r.held,
                    states: r.states.iter_mut().map(base).collect(),
                    params: r.param_arrays.iter_mut().map(base).collect(),
                    noise: r
                        .noise
                        .iter_mut()
                        .map(|(at, d, g)| (*at, *d, GaussPtr(g.as_mut_ptr().wrapping_sub(first))))
                        .collect(),
                    ring: r.ring.iter_mut().map(|port| port.iter_mut().map(base).collect()).collect(),
                }
            })
            .collect();
        let runners: &'r [Runner] = runners;
        let chunks = chunks(net, threads);
        let mut compile_seconds = 0.0;
        let mut cells = Vec::new();
        for (pi, p) in net.populations.iter().enumerate() {
            let Some(c) = p.cells.as_deref() else {
                cells.push(None);
                continue;
            };
            let mut blocks = Vec::new();
            for &(a, b) in &chunks[pi] {
                if a >= b {
                    blocks.push(Mutex::new(None));
                    continue;
                }
                let block = Block::new(c.block((a, b), dt, duration, &[])).map_err(|f| {
                    Box::new(
                        Diagnostic::error(
                            Code::NotInKernel,
                            format!("cells of `{}`: {}", p.name, c.describe(&f, (a, b), dt)),
                        )
                        .at(span, "in this network")
                        .help("run the cell alone to see its membranes and sites"),
                    )
                })?;
                compile_seconds += block.done.compile_seconds;
                blocks.push(Mutex::new(Some(block)));
            }
            let site_of_port =
                runners[pi].ports.iter().map(|port| c.site_names.iter().position(|s| s == port).unwrap_or(0)).collect();
            cells.push(Some(CellStepping { cells: c, blocks, site_of_port, failure: Mutex::new(None) }));
        }
        Ok(Stepping {
            cells,
            compile_seconds,
            kernels: runners.iter().map(|r| (&r.kernel, r.code.as_ref())).collect(),
            slots_of: runners.iter().map(|r| r.ring.first().map_or(1, |p| p.len())).collect(),
            emitting: runners.iter().map(|r| r.kernel.events.iter().filter(|e| e.emits).count().max(1)).collect(),
            outputs: (0..threads).map(|_| Mutex::new(vec![Vec::new(); runners.len()])).collect(),
            pending: RwLock::new(Pending::default()),
            fanout,
            drives,
            excursions: (0..threads).map(|_| Mutex::new(vec![None; runners.len()])).collect(),
            barrier: SpinBarrier::new(local),
            commands: [Mutex::new(Command::Idle), Mutex::new(Command::Idle)],
            passages: AtomicUsize::new(0),
            slices: (0..threads).map(|_| [RwLock::new(Vec::new()), RwLock::new(Vec::new())]).collect(),
            sampled: super::probe::Sampled {
                probes,
                every: sample_every,
                values: (0..threads).map(|_| [RwLock::new(Vec::new()), RwLock::new(Vec::new())]).collect(),
            },
            views,
            chunks,
            local,
            me,
            ranks,
            dt,
        })
    }

    /// Worker `w`'s spike buffers.
    pub fn buffers(&self, w: usize) -> Buffers {
        let spikes = self
            .chunks
            .iter()
            .zip(&self.emitting)
            .map(|(c, &e)| (vec![0; (c[w].1 - c[w].0) * e], vec![0.0; (c[w].1 - c[w].0) * e]))
            .collect();
        Buffers { spikes, arrays: (Vec::new(), Vec::new()) }
    }

    /// Starts workers 1.. on `scope`: each waits for a step, steps its
    /// chunks, and waits again, until [`Stepping::finish`].
    pub fn spawn<'s>(&'s self, scope: &'s std::thread::Scope<'s, '_>) {
        for w in 1..self.local {
            let mut bufs = self.buffers(w);
            scope.spawn(move || {
                let _guard = BreakOnPanic(&self.barrier);
                let mut passages = 0;
                let mut last: Option<Slice> = None;
                loop {
                    self.barrier.wait();
                    if self.barrier.is_broken() {
                        return;
                    }
                    let command = *self.commands[passages % 2].lock().unwrap_or_else(|e| e.into_inner());
                    passages += 1;
                    match command {
                        Command::Step(step) => {
                            self.work(w, step, &mut bufs);
                            self.barrier.wait();
                            passages += 1;
                        }
                        Command::Slice(first, len, delay) => {
                            last = Some(self.slice(w, (first, len, delay), last, &mut bufs))
                        }
                        Command::Idle => {}
                        Command::Leave => return,
                    }
                }
            });
        }
    }

    /// Has every worker pass the barrier and then do `command`.
    pub(super) fn issue(&self, command: Command) {
        let n = self.passages.fetch_add(1, Ordering::Relaxed);
        *self.commands[n % 2].lock().unwrap_or_else(|e| e.into_inner()) = command;
        self.barrier.wait();
    }

    /// Steps every population over step `step`, this thread's worker
    /// here (then, under MPI, every rank's spikes gathered). `Err` when a
    /// worker thread failed.
    pub fn step(&self, step: usize, bufs: &mut Buffers) -> Result<(), ()> {
        let _guard = BreakOnPanic(&self.barrier);
        self.issue(Command::Step(step));
        self.work(self.me, step, bufs);
        self.passages.fetch_add(1, Ordering::Relaxed);
        self.barrier.wait();
        if self.barrier.is_broken() {
            return Err(());
        }
        Ok(())
    }

    /// This thread's worker.
    pub fn me(&self) -> usize {
        self.me
    }

    /// The ranks a network is spread over, if it is.
    pub fn ranks(&self) -> Option<Ranks> {
        self.ranks
    }

    /// Whether neuron `i` of population `pi` is stepped by this process.
    pub fn owns(&self, pi: usize, i: usize) -> bool {
        match self.ranks {
            Some(r) => self.chunks.get(pi).is_some_and(|c| (c[r.rank].0..c[r.rank].1).contains(&i)),
            None => true,
        }
    }

    /// This process's spikes of the last step, per population.
    pub fn local_spikes(&self) -> StepSpikes {
        self.outputs[self.me].lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Every rank's spikes of `batch` (this one's, step by step) gathered:
    /// per step of the batch, per rank, per population.
    pub fn exchange(&self, r: Ranks, batch: &[StepSpikes]) -> Vec<Vec<StepSpikes>> {
        // records of (step within the batch, population, neuron, time)
        let mine: Vec<f64> = batch
            .iter()
            .enumerate()
            .flat_map(|(k, out)| {
                out.iter()
                    .enumerate()
                    .flat_map(move |(pi, list)| list.iter().flat_map(move |&(i, t)| [k as f64, pi as f64, i as f64, t]))
            })
            .collect();
        let pops = self.views.len();
        let mut all = vec![vec![vec![Vec::new(); pops]; r.size]; batch.len()];
        for (w, data) in r.gather(&mine).into_iter().enumerate() {
            for rec in data.chunks_exact(4) {
                if let Some(list) = all.get_mut(rec[0] as usize).and_then(|k| k[w].get_mut(rec[1] as usize)) {
                    list.push((rec[2] as usize, rec[3]));
                }
            }
        }
        all
    }

    /// Sets the spikes of the step of every worker (rank).
    pub fn set_spikes(&self, per_worker: Vec<StepSpikes>) {
        for (w, spikes) in per_worker.into_iter().enumerate() {
            *self.outputs[w].lock().unwrap_or_else(|e| e.into_inner()) = spikes;
        }
    }

    /// Delivers the pending spikes onto this process's targets now (not
    /// at the start of the next step), and clears them.
    pub fn deliver_now(&self) {
        let mut pending = self.pending.write().unwrap_or_else(|e| e.into_inner());
        // SAFETY: one worker in this process, and it waits
        unsafe { self.fanout.deliver(self.me, &pending, &self.views) };
        pending.step = None;
    }

    /// Breaks the barrier if this thread unwinds while the guard lives (a
    /// recorder that panicked), so that the workers leave.
    pub fn guard(&self) -> impl Drop + '_ {
        BreakOnPanic(&self.barrier)
    }

    /// Lets the workers leave.
    pub fn finish(&self) {
        self.issue(Command::Leave);
    }

    /// Whether a worker thread failed (the barrier no longer holds).
    pub fn broken(&self) -> bool {
        self.barrier.is_broken()
    }

    /// Workers in this process.
    pub fn local(&self) -> usize {
        self.local
    }

    /// Worker `w`'s neurons [a, b) of population `pi`.
    pub(super) fn chunk(&self, pi: usize, w: usize) -> (usize, usize) {
        self.chunks[pi][w]
    }

    /// Worker `w`'s share of step `step`: the drives and the last step's
    /// spikes added to its chunks, then [`Stepping::advance`] into
    /// `outputs[w]`.
    fn work(&self, w: usize, step: usize, bufs: &mut Buffers) {
        {
            // SAFETY: this worker's chunks of the rings are its own while the step runs
            unsafe { self.drives.add(w, step, &self.views, &self.slots_of) };
            let pending = self.pending.read().unwrap_or_else(|e| e.into_inner());
            // SAFETY: this worker's chunks of the rings are its own while the step runs
            unsafe { self.fanout.deliver(w, &pending, &self.views) };
        }
        let mut out = self.outputs[w].lock().unwrap_or_else(|e| e.into_inner());
        self.advance(w, step, bufs, &mut out);
    }

    /// Worker `w`'s chunks stepped over step `step` (their inputs added):
    /// for each population, its spikes into `out`, its input slot cleared.
    pub(super) fn advance(&self, w: usize, step: usize, bufs: &mut Buffers, out: &mut StepSpikes) {
        let t = step as f64 * self.dt;
        let t_next = (step + 1) as f64 * self.dt;
        out.resize_with(self.views.len(), Vec::new);
        for (pi, view) in self.views.iter().enumerate() {
            let (a, b) = self.chunks[pi][w];
            out[pi].clear();
            if a >= b {
                continue;
            }
            let now = step % self.slots_of[pi];
            let n = b - a;
            if let Some(cs) = &self.cells[pi] {
                // SAFETY: as below, the chunk's slots are this worker's
                unsafe { step_cells(cs, view, w, (a, b), step, now, &mut out[pi]) };
                continue;
            }
            let (kernel, code) = self.kernels[pi];
            if !kernel.tables.is_empty() {
                let mut seen = self.excursions[w].lock().unwrap_or_else(|e| e.into_inner());
                if seen[pi].is_none() {
                    // SAFETY: as below; read before this worker's step writes
                    let state = |i: usize| {
                        view.states
                            .get(i)
                            .map(|p| unsafe { std::slice::from_raw_parts(p.0.wrapping_add(a) as *const f64, n) })
                    };
                    seen[pi] = excursion(kernel, state).map(|(ti, i, v)| (ti, step, a + i, v));
                }
            }
            // SAFETY: [a, b) of every array belongs to this worker alone
            // while the step runs; the arrays outlive the threads.
            unsafe {
                for (at, draw, g) in &view.noise {
                    let values = std::slice::from_raw_parts_mut(view.params[*at].0.wrapping_add(a), n);
                    let streams = std::slice::from_raw_parts_mut(g.0.wrapping_add(a), n);
                    crate::runtime::noise::fill(values, streams, self.dt, *draw);
                }
                match code {
                    Some(code) => {
                        // the arrays' pointers, in this worker's reused lists (no
                        // allocation per step)
                        let (sp, pp) = &mut bufs.arrays;
                        sp.clear();
                        sp.extend(view.states.iter().map(|p| Ptr(p.0.wrapping_add(a))));
                        pp.clear();
                        pp.extend(view.params.iter().map(|p| Ptr(p.0.wrapping_add(a))));
                        pp.extend(view.ring.iter().map(|port| Ptr(port[now].0.wrapping_add(a))));
                        // SAFETY: `Ptr` is a transparent `*mut f64`, which has the
                        // layout of `*const f64`
                        let sp_ptrs: &[*mut f64] = std::slice::from_raw_parts(sp.as_ptr().cast(), sp.len());
                        let pp_ptrs: &[*const f64] = std::slice::from_raw_parts(pp.as_ptr().cast(), pp.len());
                        let (idx, tim) = &mut bufs.spikes[pi];
                        let count = code.call(sp_ptrs, pp_ptrs, n, (t, t_next), idx, tim);
                        for k in 0..count {
                            out[pi].push((a + idx[k] as usize, tim[k]));
                        }
                        // the kernel cleared the slot as it read it
                        continue;
                    }
                    None => {
                        let mut sts: Vec<&mut [f64]> = view
                            .states
                            .iter()
                            .map(|p| std::slice::from_raw_parts_mut(p.0.wrapping_add(a), n))
                            .collect();
                        let prs: Vec<&[f64]> = view
                            .params
                            .iter()
                            .map(|p| std::slice::from_raw_parts(p.0.wrapping_add(a), n))
                            .chain(
                                view.ring.iter().map(|port| std::slice::from_raw_parts(port[now].0.wrapping_add(a), n)),
                            )
                            .collect();
                        let mut local = Vec::new();
                        kernel::interp::step(kernel, &mut sts, &prs, t, t_next, &mut local);
                        out[pi].extend(local.into_iter().map(|(i, ts)| (a + i, ts)));
                    }
                }
                for port in &view.ring {
                    std::slice::from_raw_parts_mut(port[now].0.wrapping_add(a), n).iter_mut().for_each(|x| *x = 0.0);
                }
            }
        }
    }

    /// E0506 for the first population with a neuron whose model state is
    /// not finite, at `t` (E0403 when it holds a [`crate::kernel::fault`]:
    /// its scheme failed). Only while the workers wait.
    pub fn diverged(&self, net: &Network, t: f64, span: Span) -> Option<Box<Diagnostic>> {
        for (pi, cs) in self.cells.iter().enumerate() {
            let Some(cs) = cs else { continue };
            if let Some((f, range)) = cs.failure.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                let code = match f {
                    Failure::Diverged { .. } => Code::NumericalBlowUp,
                    Failure::Scheme { .. } => Code::SolverFailed,
                    Failure::Kernel { .. } => Code::NotInKernel,
                };
                let what = cs.cells.describe(f, *range, self.dt);
                return Some(Box::new(
                    Diagnostic::error(code, format!("cells of `{}`: {what}", net.populations[pi].name))
                        .at(span, "in this network")
                        .help("check the weights into the cells' synapse sites and the step"),
                ));
            }
        }
        for (pi, v) in self.views.iter().enumerate() {
            let nm = net.populations[pi].model.states.len();
            // SAFETY: the workers wait at the barrier
            let bad = (0..nm).find_map(|s| {
                let a = unsafe { v.state(s) }?;
                a.iter().position(|x| !x.is_finite()).map(|i| (v.first + i, s, a[i]))
            });
            if let Some((i, s, x)) = bad {
                let model = &net.populations[pi].model;
                if let Some(why) = crate::kernel::fault::describe(x) {
                    return Some(Box::new(
                        Diagnostic::error(
                            Code::SolverFailed,
                            format!(
                                "{why}: neuron {i} of `{}`, state `{}`, by t = {} ms",
                                net.populations[pi].name,
                                model.states[s].name,
                                crate::units::format_number(t * 1e3)
                            ),
                        )
                        .at(span, "in this network")
                        .help("try a smaller step, or another method for this state"),
                    ));
                }
                return Some(Box::new(
                    Diagnostic::error(
                        Code::NumericalBlowUp,
                        format!(
                            "neuron {i} of `{}` diverged by t = {} ms",
                            net.populations[pi].name,
                            crate::units::format_number(t * 1e3)
                        ),
                    )
                    .at(span, "in this network")
                    .help("check the weights and the step"),
                ));
            }
        }
        None
    }

    /// W0401 per population whose rate table's argument left its range
    /// before step `steps`: the earliest excursion over the workers.
    pub fn warnings(&self, net: &Network, steps: usize) -> Vec<Diagnostic> {
        let mut warnings = Vec::new();
        for (pi, pop) in net.populations.iter().enumerate() {
            let first = self
                .excursions
                .iter()
                .filter_map(|e| e.lock().unwrap_or_else(|e| e.into_inner())[pi])
                .filter(|x| x.1 < steps)
                .min_by_key(|x| (x.1, x.2));
            if let Some(first) = first {
                warnings.push(excursion_warning(&pop.model, self.kernels[pi].0, first, self.dt));
            }
        }
        warnings
    }
}

/// Worker `w`'s step of its block of cells `[a, b)`: the weights in the
/// ring's slot `now` handed to the sites, the block stepped, its spikes
/// (in cell order) into `out`, the slot cleared. A failure is kept for
/// [`Stepping::diverged`] and the block stops.
///
/// # Safety
/// `[a, b)` of the ring's slots belongs to this worker while the step runs.
unsafe fn step_cells(
    cs: &CellStepping,
    view: &PopView,
    w: usize,
    (a, b): (usize, usize),
    step: usize,
    now: usize,
    out: &mut Vec<(usize, f64)>,
) {
    let n = b - a;
    let mut guard = cs.blocks[w].lock().unwrap_or_else(|e| e.into_inner());
    if let Some(block) = guard.as_mut() {
        let inputs = (!view.ring.is_empty()).then(|| {
            let mut inputs = vec![vec![0.0; n]; cs.cells.sites.len()];
            for (port, slots) in view.ring.iter().enumerate() {
                // SAFETY: the caller's
                let slot = unsafe { std::slice::from_raw_parts(slots[now].0.wrapping_add(a) as *const f64, n) };
                for (x, y) in inputs[cs.site_of_port[port]].iter_mut().zip(slot) {
                    *x += y;
                }
            }
            inputs
        });
        if let Err(f) = block.step(step, inputs.as_deref(), &mut |cell, t| out.push((a + cell, t))) {
            // the earliest failure (by step, then cells), whichever thread
            // finds it first
            let mut first = cs.failure.lock().unwrap_or_else(|e| e.into_inner());
            let key = |f: &Failure, a: usize| (f.step(), a);
            if first.as_ref().is_none_or(|(g, r)| key(&f, a) < key(g, r.0)) {
                *first = Some((f, (a, b)));
            }
            *guard = None;
        }
    }
    for port in &view.ring {
        // SAFETY: the caller's
        unsafe { std::slice::from_raw_parts_mut(port[now].0.wrapping_add(a), n) }.iter_mut().for_each(|x| *x = 0.0);
    }
}
