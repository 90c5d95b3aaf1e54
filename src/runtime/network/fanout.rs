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
//!
//! Storage: a connection whose synapses share its weight and delay keeps
//! only their targets, in the smallest of three forms ([`Targets`]): two-
//! or four-byte indices, or the gaps between a worker's consecutive targets
//! in one or two bytes, written over the indices as they are read (so
//! packing needs no second copy). Delivery reads them at every spike, so
//! their size is its speed: Brunel's model A takes one byte per synapse
//! and runs 1.1-1.2x faster on one thread than with two-byte indices
//! (`NEUROC_NO_GAPS=1` keeps the indices, for comparison).

use super::connect::Csr;
use super::gaps::{fit, pack, part, Stream};
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
    /// ends): 4 bytes per source and extra worker. Positions in the
    /// stored targets (gaps count one each, escapes included).
    offsets: Vec<usize>,
    cuts: Vec<u32>,
    /// Per worker, the first neuron of its chunk of the target population
    /// (where its gaps start from).
    bases: Vec<usize>,
    rows: Rows,
}

/// The synapses of a connection.
enum Rows {
    /// Every synapse carries the connection's weight and delay.
    Shared(Targets),
    /// Per-synapse weights or delays, parallel to the targets.
    Each { targets: Plain, weights: Option<Vec<f64>>, delays: Option<Vec<u32>> },
}

/// The synapses' targets, as indices: two bytes each when the target
/// population has at most 65,536 neurons (delivery reads them from memory
/// at every spike, so their size is its speed).
enum Plain {
    Narrow(Vec<u16>),
    Wide(Vec<u32>),
}

/// The targets of synapses that share the connection's weight and delay,
/// in whichever of three forms is smallest: indices, or the gaps between
/// consecutive targets of a worker's part of a row (rows are in increasing
/// target order, as every rule draws them) in one or two bytes. A gap of
/// the largest value (255, 65,535) moves on by that much without a synapse;
/// a larger gap is written as several. Brunel's model A (a target every 10
/// neurons of 12,500 on average) takes one byte per synapse, a million
/// neurons (one every 800) two.
enum Targets {
    Plain(Plain),
    Gaps(Stream),
}

impl Plain {
    fn bytes(&self) -> usize {
        match self {
            Plain::Narrow(t) => t.len() * 2,
            Plain::Wide(t) => t.len() * 4,
        }
    }

    fn at(&self, q: usize) -> usize {
        match self {
            Plain::Narrow(t) => usize::from(t[q]),
            Plain::Wide(t) => t[q] as usize,
        }
    }
}

impl Rows {
    fn bytes(&self) -> usize {
        match self {
            Rows::Shared(Targets::Plain(t)) => t.bytes(),
            Rows::Shared(Targets::Gaps(g)) => g.bytes(),
            Rows::Each { targets, weights, delays } => {
                targets.bytes()
                    + weights.as_ref().map_or(0, |w| w.len() * size_of::<f64>())
                    + delays.as_ref().map_or(0, |d| d.len() * size_of::<u32>())
            }
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
        unsafe { *acc.wrapping_add(j.at()) += weight };
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
            bytes +=
                split.offsets.len() * size_of::<usize>() + split.cuts.len() * size_of::<u32>() + split.rows.bytes();
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
                let row = |i: u32| part((&s.offsets, &s.cuts), stride, i as usize, w);
                match &s.rows {
                    Rows::Shared(_) if s.delay_steps >= slots => {} // after the end
                    Rows::Shared(targets) => {
                        let acc = ring[(step + s.delay_steps) % slots].0;
                        // SAFETY (all four): the targets are in this worker's chunk, < count
                        let from = acc.wrapping_add(s.bases[w]);
                        for (k, i) in spikes(pi).enumerate() {
                            let weight = s.w * scale(k);
                            match targets {
                                Targets::Plain(Plain::Narrow(t)) => unsafe { add_each(acc, &t[row(i)], weight) },
                                Targets::Plain(Plain::Wide(t)) => unsafe { add_each(acc, &t[row(i)], weight) },
                                Targets::Gaps(g) => unsafe { g.deliver(from, row(i), weight) },
                            }
                        }
                    }
                    Rows::Each { targets, weights, delays } => {
                        for (k, i) in spikes(pi).enumerate() {
                            let factor = scale(k);
                            for q in row(i) {
                                let d = delays.as_ref().map_or(s.delay_steps, |d| d[q] as usize);
                                if d >= slots {
                                    continue; // arrives after the end
                                }
                                let weight = weights.as_ref().map_or(s.w, |x| x[q]) * factor;
                                // SAFETY: as above
                                unsafe { *ring[(step + d) % slots].0.wrapping_add(targets.at(q)) += weight };
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
    let bases: Vec<usize> = (0..workers).map(|k| chunks.get(k).map_or(0, |c| c.0)).collect();
    if let Some(mut drawn) = csr.gaps.take() {
        // drawn as gaps: each row in increasing order, so already by owner
        let mut offsets = csr.offsets;
        let cuts = drawn.stream.rebase(&mut offsets, drawn.from, chunks);
        let rows = Rows::Shared(Targets::Gaps(drawn.stream));
        return Split { conn, to, port: csr.port, w, delay_steps: csr.delay_steps, stp, offsets, cuts, bases, rows };
    }
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
    let mut offsets = csr.offsets;
    let rows = match (csr.weights, csr.delays) {
        (None, None) => Rows::Shared(shared(csr.targets, (&mut offsets, &mut cuts), &bases, count)),
        (weights, delays) => Rows::Each { targets: plain(csr.targets, count), weights, delays },
    };
    Split { conn, to, port: csr.port, w, delay_steps: csr.delay_steps, stp, offsets, cuts, bases, rows }
}

/// Targets as indices of two bytes when they fit, else four.
fn plain(targets: Vec<u32>, count: usize) -> Plain {
    if count <= 1 << 16 {
        Plain::Narrow(targets.iter().map(|&j| j as u16).collect())
    } else {
        Plain::Wide(targets)
    }
}

/// The targets of a connection whose synapses share its weight and delay,
/// in their smallest form ([`Targets`]); `offsets` and `cuts` are moved to
/// positions among the gaps when gaps are chosen.
fn shared(targets: Vec<u32>, (offsets, cuts): (&mut [usize], &mut [u32]), bases: &[usize], count: usize) -> Targets {
    let plain_bytes = targets.len() * if count <= 1 << 16 { 2 } else { 4 };
    if !super::gaps::wanted() {
        // indices only, for comparison
        return Targets::Plain(plain(targets, count));
    }
    let g8 = fit::<u8>(&targets, (offsets, cuts), bases).map(|n| (n, 1));
    let g16 = fit::<u16>(&targets, (offsets, cuts), bases).map(|n| (n * 2, 2));
    match [g8, g16].into_iter().flatten().min() {
        Some((bytes, 1)) if bytes < plain_bytes => Targets::Gaps(Stream::One(pack(targets, (offsets, cuts), bases))),
        Some((bytes, _)) if bytes < plain_bytes => Targets::Gaps(Stream::Two(pack(targets, (offsets, cuts), bases))),
        _ => Targets::Plain(plain(targets, count)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::gaps::segments;
    use super::*;
    use crate::runtime::spikegen::SplitMix64;

    /// Rows of `count` targets drawn with gaps up to `widest`, each row's
    /// targets in increasing order, split over `workers` chunks: the
    /// offsets, cuts, targets and chunk starts, as `split` leaves them.
    fn rows(count: usize, workers: usize, widest: usize, seed: u64) -> (Vec<usize>, Vec<u32>, Vec<u32>, Vec<usize>) {
        let mut rng = SplitMix64::new(seed);
        let size = count.div_ceil(workers);
        let bases: Vec<usize> = (0..workers).map(|k| (k * size).min(count)).collect();
        let (mut offsets, mut cuts, mut targets) = (vec![0], Vec::new(), Vec::new());
        for _ in 0..40 {
            let start = targets.len();
            let mut j = (rng.next_u64() as usize) % widest;
            while j < count {
                targets.push(j as u32);
                // repeated targets (gap 0) now and then, as fixed in-degree draws them
                j += (rng.next_u64() as usize) % widest * usize::from(!rng.next_u64().is_multiple_of(8));
            }
            for &b in &bases[1..] {
                cuts.push(targets[start..].partition_point(|&t| (t as usize) < b) as u32);
            }
            offsets.push(targets.len());
        }
        (offsets, cuts, targets, bases)
    }

    /// Every worker's part of every row, delivered from `t`, into one
    /// accumulator per worker part (so the order of additions shows).
    fn delivered(t: &Targets, offsets: &[usize], cuts: &[u32], bases: &[usize], count: usize) -> Vec<Vec<f64>> {
        segments(offsets, cuts, bases.len())
            .map(|(i, k, range)| {
                let mut acc = vec![0.0; count];
                let weight = 1.0 + i as f64 / 64.0;
                // SAFETY: the targets are below count
                unsafe {
                    match t {
                        Targets::Plain(Plain::Narrow(t)) => add_each(acc.as_mut_ptr(), &t[range], weight),
                        Targets::Plain(Plain::Wide(t)) => add_each(acc.as_mut_ptr(), &t[range], weight),
                        Targets::Gaps(g) => g.deliver(acc.as_mut_ptr().add(bases[k]), range, weight),
                    }
                }
                acc
            })
            .collect()
    }

    #[test]
    fn gaps_deliver_onto_the_targets_of_plain_indices() {
        // (neurons, workers, widest gap, the form expected)
        let cases = [
            (12_500, 1, 20, "8"),
            (12_500, 3, 20, "8"),
            (4_000, 2, 600, "8"),         // gaps past 255: written as several
            (70_000, 2, 1_500, "16"),     // wide indices, two-byte gaps
            (300_000, 4, 150_000, "16"),  // gaps past 65,535
            (20_000, 2, 40_000, "plain"), // rows of a target or two: gaps would not save
        ];
        for (seed, &(count, workers, widest, form)) in cases.iter().enumerate() {
            let (offsets, cuts, targets, bases) = rows(count, workers, widest, seed as u64);
            let expected = delivered(&Targets::Plain(plain(targets.clone(), count)), &offsets, &cuts, &bases, count);
            let (mut o, mut c) = (offsets.clone(), cuts.clone());
            let t = shared(targets, (&mut o, &mut c), &bases, count);
            let got = match &t {
                Targets::Plain(_) => "plain",
                Targets::Gaps(Stream::One(_)) => "8",
                Targets::Gaps(Stream::Two(_)) => "16",
            };
            assert_eq!(got, form, "case {seed}");
            assert_eq!(delivered(&t, &o, &c, &bases, count), expected, "case {seed}");
        }
    }

    #[test]
    fn rows_out_of_order_or_before_their_chunk_stay_indices() {
        let bases = [0, 100];
        // worker 1's part of the row starts below its chunk
        assert_eq!(fit::<u8>(&[5, 7, 50, 120], (&[0, 4], &[2]), &bases), None);
        // a row out of order
        assert_eq!(fit::<u8>(&[7, 5, 120, 130], (&[0, 4], &[2]), &bases), None);
        assert_eq!(fit::<u8>(&[5, 7, 120, 130], (&[0, 4], &[2]), &bases), Some(4));
        // a first gap of 1,200 takes five bytes, past the first target's
        // four: it cannot be written over the targets; 1,000 takes four
        assert_eq!(fit::<u8>(&[1_200, 1_201], (&[0, 2], &[]), &[0]), None);
        assert_eq!(fit::<u8>(&[1_000, 1_001], (&[0, 2], &[]), &[0]), Some(5));
        assert_eq!(fit::<u16>(&[1_200, 1_201], (&[0, 2], &[]), &[0]), Some(2));
    }
}
