//! Connectivity: each connection's synapses, drawn once from the seed and
//! stored by source (CSR), with per-synapse weights and delays only when
//! the connection draws them (or its table gives them).
//!
//! Streams of random numbers, each its own: connection `c` draws its pairs
//! from `seed ^ (c + 1) * 0x9e37_79b9_7f4a_7c15`, its weights from stream
//! `0x3e19_0000 + c` and its delays from `0xde1a_0000 + c`, each synapse's
//! at its key: the number of the connection's draws before the one that
//! made it (the pairs before it, for a rule by probability), so any part of
//! the connection, on any thread or process, gives a synapse the same.
//! Synapses are handed to the recorder (`keep_synapses`) connection by
//! connection, in CSR order, as each is built: nothing keeps them.

use super::build::Runner;
use super::gaps::Stream;
use super::indegree::{self, Form, Shape};
use super::probability;
use super::{delay_steps, Connection, NetConfig, Network, Rule, SynapseTable};
use crate::runtime::spikegen::{spread_at, SplitMix64, Spread};
use crate::runtime::Recorder;

/// Neurons `a..b` of a population, as `(a, b)`.
type Range = (usize, usize);

/// Compressed connectivity of one connection: targets of source i are
/// `targets[offsets[i]..offsets[i + 1]]`.
pub(super) struct Csr {
    pub offsets: Vec<usize>,
    pub targets: Vec<u32>,
    /// The connection's delay, in steps (when `delays` is `None`).
    pub delay_steps: usize,
    /// The target population's port (index into its ring).
    pub port: usize,
    /// Per-synapse weights and delays (steps), parallel to `targets`, when
    /// the connection draws them.
    pub weights: Option<Vec<f64>>,
    pub delays: Option<Vec<u32>>,
    /// The targets drawn straight into gaps, when the synapses share the
    /// connection's weight and delay and nothing reads them one by one:
    /// `targets` is then empty and `offsets` are positions among the gaps.
    pub gaps: Option<Drawn>,
}

/// A connection's targets as gaps ([`super::gaps`]), each row's from
/// `from` (the first neuron this process steps).
pub(super) struct Drawn {
    pub stream: Stream,
    pub from: usize,
    pub synapses: usize,
}

impl Csr {
    /// The number of synapses.
    pub fn synapses(&self) -> usize {
        self.gaps.as_ref().map_or(self.targets.len(), |g| g.synapses)
    }

    /// Bytes of the arrays.
    pub fn bytes(&self) -> usize {
        self.gaps.as_ref().map_or(0, |g| g.stream.bytes())
            + self.offsets.len() * std::mem::size_of::<usize>()
            + self.targets.len() * std::mem::size_of::<u32>()
            + self.weights.as_ref().map_or(0, |w| w.len() * std::mem::size_of::<f64>())
            + self.delays.as_ref().map_or(0, |d| d.len() * std::mem::size_of::<u32>())
    }
}

/// A network's connectivity.
pub(super) struct Connectivity {
    /// Per connection, its CSR; `None` when the recorder asked to stop.
    pub csrs: Option<Vec<Csr>>,
    pub synapses: usize,
    /// Bytes of every CSR.
    pub bytes: usize,
}

/// Draws every connection, handing each synapse to `rec` when
/// `cfg.keep_synapses`; asks `rec.stop()` before each connection.
/// `local`, when the network is spread over processes: per population,
/// the neurons this one steps; only the synapses onto them are kept, drawn
/// from the same streams as in one process.
pub(super) fn connect(
    net: &Network,
    cfg: &NetConfig,
    runners: &[Runner],
    (offsets, local): (&[usize], Option<&[Range]>),
    rec: &mut dyn Recorder,
) -> Connectivity {
    let mut csrs: Vec<Csr> = Vec::with_capacity(net.connections.len());
    let (mut synapses, mut bytes) = (0, 0);
    for (ci, c) in net.connections.iter().enumerate() {
        if rec.stop() {
            return Connectivity { csrs: None, synapses, bytes };
        }
        let port = runners[c.to].ports.iter().position(|p| *p == c.port).unwrap_or(0);
        let keep = local.map_or((0, usize::MAX), |l| l[c.to]);
        let csr = draw(net, ci, c, cfg, port, keep);
        synapses += csr.synapses();
        bytes += csr.bytes();
        if cfg.keep_synapses {
            let (from0, to0) = (offsets[c.from], offsets[c.to]);
            for i in 0..csr.offsets.len().saturating_sub(1) {
                for k in csr.offsets[i]..csr.offsets[i + 1] {
                    let w = csr.weights.as_ref().map_or(c.w, |w| w[k]);
                    // a relative plastic weight starts at the rule's initial factor
                    let w = c.stdp.as_ref().filter(|r| r.relative).map_or(w, |r| w * r.w_init);
                    let d = csr.delays.as_ref().map_or(csr.delay_steps, |d| d[k] as usize) as f64 * cfg.dt;
                    rec.synapse(from0 + i, to0 + csr.targets[k] as usize, w, d);
                }
            }
        }
        csrs.push(csr);
    }
    Connectivity { csrs: Some(csrs), synapses, bytes }
}

/// Connection `ci`'s synapses onto `port` of its target, those onto
/// targets `keep.0..keep.1` (all: `(0, usize::MAX)`). The random numbers
/// drawn do not depend on `keep`: the synapses kept are those one process
/// draws, with their weights and delays.
fn draw(net: &Network, ci: usize, c: &Connection, cfg: &NetConfig, port: usize, keep: (usize, usize)) -> Csr {
    if matches!(c.rule, Rule::Table) && keep != (0, usize::MAX) {
        // a table's weights and delays come in its order: read them all,
        // then keep the local ones
        return keep_targets(draw(net, ci, c, cfg, port, (0, usize::MAX)), keep);
    }
    // per-synapse weights and delays are drawn by each synapse's key (the
    // place of the draw that made it in the connection's stream), so a
    // part of the connection draws only its own
    let per_synapse = c.w_spread.is_some() || c.delay_range.is_some();
    let (na, nb) = (net.populations[c.from].count, net.populations[c.to].count);
    let rng = SplitMix64::new(cfg.seed ^ (ci as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let recurrent = c.from == c.to;
    let mut drawn = None;
    let (offsets, targets, keys, table_weights, table_delays) = match (c.rule, &c.table) {
        (Rule::Probability(p), _) => {
            let threads = drawing_threads(cfg, keep, na * nb);
            let (o, t, keys) = probability::draw(&rng, (na, nb), (recurrent, p), keep, (threads, per_synapse));
            (o, t, keys, None, None)
        }
        (Rule::OneToOne, _) => {
            let (o, t) = one_to_one(na, nb);
            let csr = Csr { offsets: o, targets: t, delay_steps: 0, port, weights: None, delays: None, gaps: None };
            let csr = keep_targets(csr, keep);
            // synapse i (of source i, onto target i) is keyed i
            let keys = per_synapse.then(|| csr.targets.iter().map(|&j| j as u64).collect());
            (csr.offsets, csr.targets, keys, None, None)
        }
        (Rule::InDegree(k), _) => {
            let shape = Shape { na, nb, k, recurrent };
            // straight into gaps when nothing reads the targets one by one
            let form = if per_synapse {
                Form::Keyed
            } else if c.stdp.is_none() && !cfg.keep_synapses && super::gaps::wanted() {
                Form::Gaps
            } else {
                Form::Indices
            };
            let (o, t, d, keys) = indegree::draw(&rng, shape, keep, form, drawing_threads(cfg, keep, nb * k));
            drawn = d;
            (o, t, keys, None, None)
        }
        (Rule::Table, Some(t)) => {
            let (o, t, w, d) = from_table(t, na, cfg.dt);
            // a value the table does not give is drawn by the synapse's place
            let keys = per_synapse.then(|| (0..t.len() as u64).collect());
            (o, t, keys, w, d)
        }
        // a table rule without its table: no synapses
        (Rule::Table, None) => (vec![0; na + 1], Vec::new(), None, None, None),
    };
    // per-synapse weights and delays, from streams of their own, each
    // synapse's from its key, on threads; the delays first, then the
    // weights in the keys' place (so no third array of eight bytes per
    // synapse is ever held)
    let threads = drawing_threads(cfg, keep, targets.len());
    let delays = table_delays.or_else(|| {
        let (lo, hi) = c.delay_range?;
        let keys = keys.as_ref()?;
        let mut steps = vec![0u32; keys.len()];
        in_parts(&mut steps, threads, |at, part| {
            for (step, &key) in part.iter_mut().zip(&keys[at..]) {
                let d = spread_at(Spread::Uniform(lo, hi), 0, cfg.seed, 0xde1a_0000 + ci as u64, key as usize);
                *step = delay_steps(d, cfg.dt) as u32;
            }
        });
        Some(steps)
    });
    let weights = table_weights.or_else(|| {
        let sp = c.w_spread?;
        let mut keys = keys?;
        let stream = 0x3e19_0000 + ci as u64;
        in_parts(&mut keys, threads, |_, part| {
            for key in part {
                *key = spread_at(sp, 0, cfg.seed, stream, *key as usize).to_bits();
            }
        });
        // the same allocation, seen as weights
        Some(keys.into_iter().map(f64::from_bits).collect())
    });
    Csr { offsets, targets, delay_steps: delay_steps(c.delay, cfg.dt), port, weights, delays, gaps: drawn }
}

/// Source i to target i.
fn one_to_one(na: usize, nb: usize) -> (Vec<usize>, Vec<u32>) {
    let mut offsets = Vec::with_capacity(na + 1);
    let mut targets = Vec::new();
    offsets.push(0);
    for i in 0..na.min(nb) {
        targets.push(i as u32);
        offsets.push(targets.len());
    }
    offsets.resize(na + 1, targets.len());
    (offsets, targets)
}

/// Threads to draw `draws` with: those asked for (all the cores when
/// the run chooses), one per million draws at most; one in a process
/// of several (`keep`: its targets), unless asked for.
fn drawing_threads(cfg: &NetConfig, keep: (usize, usize), draws: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let asked = match cfg.threads {
        0 if keep != (0, usize::MAX) => 1,
        0 => cores,
        t => t,
    };
    asked.clamp(1, super::step::MAX_THREADS).min(draws.div_ceil(1 << 20).max(1))
}

/// `csr` with only its synapses onto targets `lo..hi` (and their weights
/// and delays), in the same order.
fn keep_targets(csr: Csr, (lo, hi): (usize, usize)) -> Csr {
    if (lo, hi) == (0, usize::MAX) {
        return csr;
    }
    let kept = |k: usize| (lo..hi).contains(&(csr.targets[k] as usize));
    let mut offsets = Vec::with_capacity(csr.offsets.len());
    offsets.push(0);
    let mut at = Vec::new();
    for row in csr.offsets.windows(2) {
        at.extend((row[0]..row[1]).filter(|&k| kept(k)));
        offsets.push(at.len());
    }
    Csr {
        offsets,
        targets: at.iter().map(|&k| csr.targets[k]).collect(),
        delay_steps: csr.delay_steps,
        port: csr.port,
        weights: csr.weights.as_ref().map(|w| at.iter().map(|&k| w[k]).collect()),
        delays: csr.delays.as_ref().map(|d| at.iter().map(|&k| d[k]).collect()),
        gaps: None,
    }
}

/// A table's synapses, sorted by source (stably: the file's order within
/// a source), with its weights and delays (in steps) in that order.
type FromTable = (Vec<usize>, Vec<u32>, Option<Vec<f64>>, Option<Vec<u32>>);

fn from_table(t: &SynapseTable, na: usize, dt: f64) -> FromTable {
    let mut order: Vec<usize> = (0..t.pairs.len()).collect();
    order.sort_by_key(|&k| t.pairs[k].0);
    let targets = order.iter().map(|&k| t.pairs[k].1).collect();
    let mut offsets = Vec::with_capacity(na + 1);
    offsets.push(0);
    let mut k = 0;
    for i in 0..na as u32 {
        while k < order.len() && t.pairs[order[k]].0 == i {
            k += 1;
        }
        offsets.push(k);
    }
    let weights = t.weights.as_ref().map(|w| order.iter().map(|&k| w[k]).collect::<Vec<f64>>());
    let delays = t.delays.as_ref().map(|d| order.iter().map(|&k| delay_steps(d[k], dt) as u32).collect::<Vec<u32>>());
    (offsets, targets, weights, delays)
}

/// `f(t, input t)` for each input, on a thread each (the calling one when
/// there is one), the results in order: the parts of a connection drawn
/// on threads ([`indegree`], [`probability`]).
pub(super) fn on_threads<I: Send, R: Send>(inputs: Vec<I>, f: impl Fn(usize, I) -> R + Sync) -> Vec<R> {
    if inputs.len() == 1 {
        return inputs.into_iter().map(|x| f(0, x)).collect();
    }
    std::thread::scope(|s| {
        let f = &f;
        let handles: Vec<_> = inputs.into_iter().enumerate().map(|(t, x)| s.spawn(move || f(t, x))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    })
}

/// `f(first index, part)` over `threads` contiguous parts of `array`, each
/// on a thread.
fn in_parts<T: Send>(array: &mut [T], threads: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    let size = array.len().div_ceil(threads.max(1)).max(1);
    let parts: Vec<(usize, &mut [T])> = array.chunks_mut(size).enumerate().map(|(p, c)| (p * size, c)).collect();
    on_threads(parts, |_, (at, part)| f(at, part));
}

/// An array that several threads write, each at positions of its own
/// (rows of synapses drawn in parts).
#[derive(Clone, Copy)]
pub(super) struct Shared<T>(*mut T, usize);

// SAFETY: the threads write disjoint positions (`write`'s contract)
unsafe impl<T: Send> Send for Shared<T> {}
// SAFETY: as above
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T> Shared<T> {
    pub fn new(array: &mut [T]) -> Shared<T> {
        Shared(array.as_mut_ptr(), array.len())
    }

    /// Position `at`'s address (not read: for a prefetch).
    #[inline]
    pub fn at(self, at: usize) -> *const T {
        self.0.wrapping_add(at.min(self.1))
    }

    /// Writes `value` at `at`.
    ///
    /// # Safety
    /// No other thread writes position `at` meanwhile, and the array
    /// outlives the writes.
    #[inline]
    pub unsafe fn write(self, at: usize, value: T) {
        // ok: the first pass over the same draws counted every position
        assert!(at < self.1, "a synapse past its rows");
        // SAFETY: within the array (checked), and this thread's (the caller's)
        unsafe { self.0.add(at).write(value) };
    }
}
