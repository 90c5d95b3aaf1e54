//! Parallel delivery. The connections without spike-timing dependent
//! plasticity are split by target: each source's row of synapses is
//! partitioned (stably) by the worker that owns its target, so that worker
//! `w` delivers every spike of a step onto its own chunk of each target
//! population, at the start of the next step, while the other workers do
//! the same onto theirs. No two workers write the same accumulator.
//!
//! Order: a target's accumulator receives its additions source population
//! by source population, then connection by connection, spike by spike in
//! neuron order, synapse by synapse in the row's order, whatever the
//! thread count (the partition keeps the order of the synapses that reach
//! one worker): the sums, and so the spikes, are the same bit for bit on
//! any number of threads.

use super::connect::Csr;
use super::step::PopView;
use super::Network;

/// A connection's synapses, each source's row split by worker.
struct Split {
    /// Index into `Network::connections`.
    conn: usize,
    to: usize,
    port: usize,
    w: f64,
    delay_steps: usize,
    /// Whether its weights are scaled by short-term plasticity (the
    /// scales are in `Pending::scales[conn]`).
    stp: bool,
    /// Source i's synapses are `offsets[i]..offsets[i + 1]`; those onto
    /// worker w's chunk start `cuts[i * (workers - 1) + w - 1]` after the
    /// row's start (w > 0) and end where worker w + 1's start (or the row
    /// ends): 4 bytes per source and extra worker.
    offsets: Vec<usize>,
    cuts: Vec<u32>,
    targets: Targets,
    weights: Option<Vec<f64>>,
    delays: Option<Vec<u32>>,
}

/// The synapses' targets: two bytes each when the target population has
/// at most 65,536 neurons (delivery reads them from memory at every
/// spike, so their size is its speed).
enum Targets {
    Narrow(Vec<u16>),
    Wide(Vec<u32>),
}

impl Targets {
    fn bytes(&self) -> usize {
        match self {
            Targets::Narrow(t) => t.len() * 2,
            Targets::Wide(t) => t.len() * 4,
        }
    }
}

/// A target's index, narrow or wide.
trait Index: Copy {
    fn at(self) -> usize;
}

impl Index for u16 {
    fn at(self) -> usize {
        usize::from(self)
    }
}

impl Index for u32 {
    fn at(self) -> usize {
        self as usize
    }
}

/// Adds `weight` to `acc[j]` for each target j.
///
/// # Safety
/// Every target is within the accumulator, and no other thread touches it.
#[inline]
unsafe fn add_each<T: Index>(acc: *mut f64, targets: &[T], weight: f64) {
    for &j in targets {
        // SAFETY: the caller's
        unsafe { *acc.add(j.at()) += weight };
    }
}

/// The connections that the workers deliver, by source population.
pub(super) struct Fanout {
    by_source: Vec<Vec<Split>>,
    workers: usize,
    /// Bytes of the rows' offsets and of the synapses' targets, weights
    /// and delays.
    pub bytes: usize,
}

/// One step's spikes, for the workers to deliver at the start of the next.
#[derive(Default)]
pub(super) struct Pending {
    /// The step they were emitted in (`None`: nothing to deliver).
    pub step: Option<usize>,
    /// Per population, the neurons that spiked, in order.
    pub spikes: Vec<Vec<u32>>,
    /// Per connection with short-term plasticity, per spike of its source
    /// (in `spikes` order), the factor its release scales the weight by.
    pub scales: Vec<Vec<f64>>,
}

impl Fanout {
    /// Splits `csrs` (per connection; those taken out, the plastic ones,
    /// are `None`) by the workers' `chunks` of each population.
    pub fn new(net: &Network, csrs: Vec<Option<Csr>>, chunks: &[Vec<(usize, usize)>]) -> Fanout {
        let workers = chunks.first().map_or(1, |c| c.len()).max(1);
        let mut by_source: Vec<Vec<Split>> = (0..net.populations.len()).map(|_| Vec::new()).collect();
        let mut bytes = 0;
        for (ci, csr) in csrs.into_iter().enumerate() {
            let Some(csr) = csr else { continue };
            let c = &net.connections[ci];
            let count = net.populations[c.to].count;
            let split = split(ci, csr, (&chunks[c.to], count), workers, (c.w, c.stp.is_some(), c.to));
            bytes += split.offsets.len() * size_of::<usize>()
                + split.cuts.len() * size_of::<u32>()
                + split.targets.bytes()
                + split.weights.as_ref().map_or(0, |w| w.len() * size_of::<f64>())
                + split.delays.as_ref().map_or(0, |d| d.len() * size_of::<u32>());
            by_source[c.from].push(split);
        }
        Fanout { by_source, workers, bytes }
    }

    /// Worker `w`'s share of delivering `pending`: every spike's weight
    /// onto the targets in its chunks, into the ring slot of step + delay.
    ///
    /// # Safety
    /// Worker `w` alone touches its chunks of the rings while the step
    /// runs (the module doc of `step`).
    pub unsafe fn deliver(&self, w: usize, pending: &Pending, views: &[PopView]) {
        let Some(step) = pending.step else { return };
        let scales = |conn: usize, k: usize| pending.scales[conn][k];
        // SAFETY: the caller's
        unsafe { self.deliver_from(w, step, |pi| pending.spikes[pi].iter().copied(), &scales, views) };
    }

    /// Worker `w`'s share of delivering the spikes of step `step`:
    /// `spikes(pi)` gives population `pi`'s in neuron order (each call
    /// from the first), `scales(conn, k)` the short-term plasticity
    /// factor of the k-th spike of a connection's source.
    ///
    /// # Safety
    /// As [`Fanout::deliver`].
    pub unsafe fn deliver_from<I: Iterator<Item = u32>>(
        &self,
        w: usize,
        step: usize,
        spikes: impl Fn(usize) -> I,
        scales: &dyn Fn(usize, usize) -> f64,
        views: &[PopView],
    ) {
        let stride = self.workers;
        for pi in 0..self.by_source.len() {
            if spikes(pi).next().is_none() {
                continue;
            }
            for s in &self.by_source[pi] {
                let ring = &views[s.to].ring[s.port];
                let slots = ring.len();
                let scale = |k: usize| if s.stp { scales(s.conn, k) } else { 1.0 };
                let row = |i: u32| {
                    let i = i as usize;
                    let (lo, hi) = (s.offsets[i], s.offsets[i + 1]);
                    let cut = |k: usize| {
                        if k == 0 {
                            lo
                        } else if k == stride {
                            hi
                        } else {
                            lo + s.cuts[i * (stride - 1) + k - 1] as usize
                        }
                    };
                    cut(w)..cut(w + 1)
                };
                match (&s.weights, &s.delays) {
                    (None, None) if s.delay_steps >= slots => {} // after the end
                    (None, None) => {
                        let acc = ring[(step + s.delay_steps) % slots].0;
                        for (k, i) in spikes(pi).enumerate() {
                            let weight = s.w * scale(k);
                            // SAFETY: the targets are in this worker's chunk, < count
                            match &s.targets {
                                Targets::Narrow(t) => unsafe { add_each(acc, &t[row(i)], weight) },
                                Targets::Wide(t) => unsafe { add_each(acc, &t[row(i)], weight) },
                            }
                        }
                    }
                    (weights, delays) => {
                        for (k, i) in spikes(pi).enumerate() {
                            let factor = scale(k);
                            for q in row(i) {
                                let d = delays.as_ref().map_or(s.delay_steps, |d| d[q] as usize);
                                if d >= slots {
                                    continue; // arrives after the end
                                }
                                let weight = weights.as_ref().map_or(s.w, |x| x[q]) * factor;
                                let j = match &s.targets {
                                    Targets::Narrow(t) => usize::from(t[q]),
                                    Targets::Wide(t) => t[q] as usize,
                                };
                                // SAFETY: as above
                                unsafe { *ring[(step + d) % slots].0.add(j) += weight };
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Connection `conn`'s CSR with each row partitioned stably by the worker
/// whose chunk holds the target.
fn split(
    conn: usize,
    mut csr: Csr,
    (chunks, count): (&[(usize, usize)], usize),
    workers: usize,
    (w, stp, to): (f64, bool, usize),
) -> Split {
    let sources = csr.offsets.len().saturating_sub(1);
    // the chunk that holds j: the first whose end is past it
    let owner = |j: u32| chunks.partition_point(|&(_, b)| b <= j as usize).min(workers - 1);
    let mut cuts = Vec::with_capacity(sources * (workers - 1));
    if workers > 1 {
        // a row's synapses by owner, keeping their order within an owner
        let mut order: Vec<usize> = Vec::new();
        let mut counts = vec![0usize; workers];
        let (mut targets, mut weights, mut delays) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..sources {
            let (lo, hi) = (csr.offsets[i], csr.offsets[i + 1]);
            debug_assert!(csr.targets[lo..hi].iter().all(|&j| (j as usize) < count), "a target past its population");
            order.clear();
            order.extend(lo..hi);
            order.sort_by_key(|&q| owner(csr.targets[q])); // stable
            counts.iter_mut().for_each(|c| *c = 0);
            for &q in &order {
                counts[owner(csr.targets[q])] += 1;
            }
            let mut at = 0;
            for c in &counts[..workers - 1] {
                at += c;
                cuts.push(u32::try_from(at).unwrap_or(u32::MAX));
            }
            targets.clear();
            targets.extend(order.iter().map(|&q| csr.targets[q]));
            csr.targets[lo..hi].copy_from_slice(&targets);
            if let Some(ws) = csr.weights.as_mut() {
                weights.clear();
                weights.extend(order.iter().map(|&q| ws[q]));
                ws[lo..hi].copy_from_slice(&weights);
            }
            if let Some(ds) = csr.delays.as_mut() {
                delays.clear();
                delays.extend(order.iter().map(|&q| ds[q]));
                ds[lo..hi].copy_from_slice(&delays);
            }
        }
    }
    Split {
        conn,
        to,
        port: csr.port,
        w,
        delay_steps: csr.delay_steps,
        stp,
        offsets: csr.offsets,
        cuts,
        targets: if count <= 1 << 16 {
            Targets::Narrow(csr.targets.iter().map(|&j| j as u16).collect())
        } else {
            Targets::Wide(csr.targets)
        },
        weights: csr.weights,
        delays: csr.delays,
    }
}
