//! Stepping a network in slices of steps, one barrier per slice, as NEST
//! runs in slices of the minimum delay: a spike of step s reaches its
//! targets at step s + d at the earliest, d being the shortest delay, so
//! the workers can step d steps each on its own, and deliver every
//! worker's spikes of those steps during the next slice, each step's
//! just before they are needed. Each worker keeps its spikes of a slice
//! in one of two buffers and delivers the other's (the slice before); the
//! calling thread records them meanwhile. Every ring slot receives the
//! same additions in the same order as step by step
//! ([`Stepping::slice`]), so the spikes are those of one thread, bit for
//! bit.
//!
//! The workers stop together (the calling thread waits for them at an
//! extra passage of the barrier, [`Stepping::sync`]) every 1000 steps and
//! at the end, to look for diverged neurons, and when the run is asked to
//! stop (between slices).
//!
//! Sampled states are read by the workers, each its own neurons after each
//! sampled step of the slice ([`super::probe::Sampled`]), and put
//! together when the slice is recorded.
//!
//! Networks that need the calling thread between steps are stepped step
//! by step ([`sliceable`]): rate models and densities, rates that follow
//! them, short-term or spike-timing dependent plasticity (their states
//! advance on the calling thread, spike by spike), cells, recorded
//! weights and LFP proxies (a sum over a population, whose order the
//! workers' parts would change); and a network stepped by its caller (a
//! brain's region).

use super::step::{Buffers, StepSpikes, Stepping, MAX_THREADS};
use super::{Outcome, Session};
use crate::diag::Diagnostic;
use std::sync::RwLockReadGuard;

/// What the workers do after a passage of the barrier.
#[derive(Clone, Copy, Debug)]
pub(super) enum Command {
    /// Step the given step, then wait at the barrier again.
    Step(usize),
    /// Step the slice [first, first + len) (the shortest delay last).
    Slice(usize, usize, usize),
    /// Nothing: wait for the next passage.
    Idle,
    /// The run is over: leave.
    Leave,
}

/// A slice stepped: its steps, and the buffer that holds its spikes.
#[derive(Clone, Copy, Debug)]
pub(super) struct Slice {
    pub first: usize,
    pub len: usize,
    pub buf: usize,
}

impl Stepping<'_> {
    /// Starts every worker on the slice [first, first + len) after `last`,
    /// and steps this thread's part. The other workers may still be at
    /// it when this returns: `last`'s spikes can be read, not this
    /// slice's.
    pub(super) fn start_slice(
        &self,
        (first, len, delay): (usize, usize, usize),
        last: Option<Slice>,
        bufs: &mut Buffers,
    ) -> Slice {
        self.issue(Command::Slice(first, len, delay));
        self.slice(self.me(), (first, len, delay), last, bufs)
    }

    /// Waits until every worker has finished its slice and waits at the
    /// barrier: then the calling thread alone touches the arrays.
    pub(super) fn sync(&self) {
        self.issue(Command::Idle);
    }

    /// Worker `w`'s share of a slice of steps [first, first + len), after
    /// `last`, with `delay` the shortest delay in steps (no slice is
    /// longer). Its spikes go into the buffer `last` does not use.
    /// Every worker's spikes of a step s of `last` are delivered during
    /// step s + delay - 1 (s + 1 with delays of one step), after its
    /// drives, so each step delivers one step's spikes as step by step;
    /// those still undelivered at the end of the slice then. The ring
    /// slots receive the same additions in the same order as step by
    /// step: spikes step after step, and the drives of a step after the
    /// spikes of the steps before the last (with delays of one step,
    /// before the last's).
    pub(super) fn slice(
        &self,
        w: usize,
        (first, len, delay): (usize, usize, usize),
        last: Option<Slice>,
        bufs: &mut Buffers,
    ) -> Slice {
        let buf = last.map_or(0, |l| 1 - l.buf);
        let mut out = self.slices[w][buf].write().unwrap_or_else(|e| e.into_inner());
        let mut sampled = self.sampled.values[w][buf].write().unwrap_or_else(|e| e.into_inner());
        sampled.clear();
        if out.len() < len {
            out.resize_with(len, Vec::new);
        }
        let before = self.slice_spikes(last);
        let held = last.map_or(0..0, |l| l.first..l.first + l.len);
        let deliver = |step: usize| {
            let k = step - held.start;
            // every worker's spikes of that step, population by population, in worker (neuron) order
            let spikes = |pi: usize| before.iter().flatten().flat_map(move |b| b[k][pi].iter().map(|&(i, _)| i as u32));
            // SAFETY: this worker's chunks of the rings are its own while the slice runs
            unsafe { self.fanout.deliver_from(w, step, spikes, &|_, _| 1.0, &self.views) };
        };
        // a step's spikes one step before they are needed (with delays of
        // one step, when they are), after that step's drives: so they never
        // land in the slot the drives and the kernel are working on, which
        // costs the drives a quarter more (stores scattered just before
        // loads of the same lines)
        let lead = if delay > 1 { delay - 1 } else { 1 };
        if delay > 1 {
            if let Some(s) = first.checked_sub(delay).filter(|s| held.contains(s)) {
                deliver(s);
            }
        }
        for k in 0..len {
            let step = first + k;
            // SAFETY: as above
            unsafe { self.drives.add(w, step, &self.views, &self.slots_of) };
            if let Some(s) = step.checked_sub(lead).filter(|s| held.contains(s)) {
                deliver(s);
            }
            self.advance(w, step, bufs, &mut out[k]);
            if self.sampled.after(step) {
                super::probe::own_part(self, w, &mut sampled);
            }
        }
        for step in (first + len).saturating_sub(lead).max(held.start)..held.end {
            deliver(step);
        }
        Slice { first, len, buf }
    }

    /// Every worker's spikes of slice `slice`, in worker order (read
    /// locks, in an array: no allocation per slice).
    pub(super) fn slice_spikes(
        &self,
        slice: Option<Slice>,
    ) -> [Option<RwLockReadGuard<'_, Vec<StepSpikes>>>; MAX_THREADS] {
        std::array::from_fn(|u| {
            let s = slice.filter(|_| u < self.local())?;
            Some(self.slices[u][s.buf].read().unwrap_or_else(|e| e.into_inner()))
        })
    }

    /// Every worker's samples of slice `slice`, in worker order (as
    /// [`Stepping::slice_spikes`]).
    pub(super) fn slice_samples(&self, slice: Slice) -> [Option<RwLockReadGuard<'_, Vec<f64>>>; MAX_THREADS] {
        std::array::from_fn(|u| {
            (u < self.local()).then(|| self.sampled.values[u][slice.buf].read().unwrap_or_else(|e| e.into_inner()))
        })
    }
}

/// Whether `s` can be stepped in slices: several workers in this process,
/// and nothing that the calling thread does between steps (module doc).
fn sliceable(s: &Session) -> bool {
    use crate::syntax::ast::ModelKind;
    let (net, cfg, st) = (s.net, s.cfg, s.phases.stepping);
    st.ranks().is_none()
        && st.local() > 1
        && std::env::var_os("NEUROC_NO_SLICES").is_none()
        && cfg.lfp.is_empty()
        && cfg.weights.is_empty()
        && net.readouts.is_empty()
        && net.drives.iter().all(|d| d.rate_of.is_none())
        && net.connections.iter().all(|c| c.stp.is_none() && c.stdp.is_none())
        && net
            .populations
            .iter()
            .all(|p| p.cells.is_none() && !matches!(p.model.kind, ModelKind::Rate | ModelKind::Density))
}

/// The full run in slices of at most the shortest delay (and never across
/// a multiple of 1000 steps, where divergence is looked for), when the
/// network allows it; `None` when it does not.
pub(super) fn drive(s: &mut Session) -> Option<Result<Outcome, Box<Diagnostic>>> {
    if !sliceable(s) {
        return None;
    }
    s.sample_first();
    let st = s.phases.stepping;
    let (steps, dt) = (s.steps, s.cfg.dt);
    let mut last: Option<Slice> = None;
    let mut recorded = true;
    let mut step = 0;
    // where the recorder asked to stop, as step by step: before that step
    let mut stop_at: Option<usize> = None;
    while step < steps {
        if stop_at.is_some() || s.rec.stop() {
            st.sync();
            if let Some(l) = last.filter(|_| !recorded && stop_at.is_none()) {
                stop_at = record(s, l);
            }
            if let Some(d) = st.diverged(s.net, step as f64 * dt, s.span) {
                return Some(Err(d));
            }
            let stopped = stop_at.unwrap_or(step);
            s.next = stopped;
            return Some(Ok(Outcome { steps: stopped, stopped: true }));
        }
        let len = s.batch.min(steps - step).min(1000 - step % 1000);
        let slice = st.start_slice((step, len, s.batch), last, &mut s.bufs);
        if st.broken() {
            return Some(Err(Box::new(
                Diagnostic::internal("a network worker thread failed").at(s.span, "this network"),
            )));
        }
        if let Some(l) = last.filter(|_| !recorded) {
            stop_at = record(s, l);
        }
        (last, recorded) = (Some(slice), false);
        step += len;
        if step % 1000 == 0 || step == steps {
            st.sync();
            if stop_at.is_none() {
                stop_at = record(s, slice);
            }
            recorded = true;
            if let Some(d) = st.diverged(s.net, step as f64 * dt, s.span) {
                return Some(Err(d));
            }
        }
    }
    if let Some(at) = stop_at {
        s.next = at;
        return Some(Ok(Outcome { steps: at, stopped: true }));
    }
    s.next = step;
    Some(Ok(Outcome { steps, stopped: false }))
}

/// Hands the recorder a slice's spikes and samples: step by step, the
/// spikes population by population, worker by worker (so neuron by
/// neuron), then the probes' sample after the step when there is one, as
/// step by step; and as step by step, asks it before each step whether
/// to stop: the step it stopped before, if it did (the workers have
/// stepped past it, but nothing of those steps is handed on).
fn record(s: &mut Session, slice: Slice) -> Option<usize> {
    let st = s.phases.stepping;
    let buffers = st.slice_spikes(Some(slice));
    let samples = st.slice_samples(slice);
    let mut m = 0;
    for k in 0..slice.len {
        if s.rec.stop() {
            return Some(slice.first + k);
        }
        for pi in 0..st.views.len() {
            let offset = s.delivery.offset(pi);
            for b in buffers.iter().flatten() {
                for &(i, t) in &b[k][pi] {
                    s.rec.spike(offset + i, t);
                }
            }
        }
        let step = slice.first + k;
        if st.sampled.after(step) {
            super::probe::assemble(st, &samples, m, &mut s.values);
            s.rec.sample((step + 1) as f64 * s.cfg.dt, &s.values);
            m += 1;
        }
    }
    None
}
