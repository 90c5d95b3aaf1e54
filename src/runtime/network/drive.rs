//! Drives: input added to a population's port before each step. A Poisson
//! drive adds, to every neuron, its weight times a Poisson count of mean
//! `n rate dt`, drawn from the neuron's own stream (stream `0x5eed_0000 +
//! k` of [`Stream`] for drive k) by inverting the count's cumulative
//! distribution with one uniform number (a mean above 30: the normal
//! approximation); a gamma drive's n trains per neuron use
//! the same stream, for their stationary starts and then their intervals;
//! a `spikes(times = ...)` drive adds its weight once per listed spike time
//! in [t, t + dt) to every neuron.
//!
//! Each worker adds the drives to its own chunk of neurons at the start of
//! its step; since every neuron has its own stream, the input does not
//! depend on the thread count. A rate that follows a rate model's state is
//! read on the calling thread before the step ([`Drives::prepare`]).

use super::build::Runner;
use super::step::{PopView, Stepping};
use super::{Drive, NetConfig, Network};
use crate::runtime::spikegen::SplitMix64;
use crate::runtime::stream::Stream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// A source of uniform numbers on (0, 1].
pub trait Open01 {
    fn open01(&mut self) -> f64;
}

impl Open01 for SplitMix64 {
    fn open01(&mut self) -> f64 {
        self.next_open01()
    }
}

impl Open01 for Stream {
    fn open01(&mut self) -> f64 {
        Stream::open01(self)
    }
}

/// Per worker, its neurons [a, b) of a population.
type Chunks = Vec<(usize, usize)>;

/// One worker's part of a drive: the streams of its neurons (from
/// `first` on) and, for a gamma drive, each train's operational time left
/// to its next spike (neuron-major, n per neuron; in units of the mean
/// interval).
struct Part {
    first: usize,
    streams: Vec<Stream>,
    gamma: Vec<f64>,
    /// A Poisson drive's last mean count and its cumulative probabilities.
    table: (f64, Vec<f64>),
}

/// The largest mean count drawn by inversion of its table; above it, the
/// normal approximation of [`poisson_count`].
const POISSON_TABLE_MAX: f64 = 30.0;

/// The cumulative probabilities P(K <= k) of a Poisson count of mean
/// `lambda` (at most 30), up to where the rest is below 2^-53, into `cdf`
/// (reused: a rate that follows a model changes every step).
fn poisson_cdf(lambda: f64, cdf: &mut Vec<f64>) {
    let mut p = (-lambda).exp();
    let mut sum = p;
    cdf.clear();
    cdf.push(sum);
    let mut k = 0.0;
    while 1.0 - sum > f64::EPSILON / 2.0 && cdf.len() < 200 {
        k += 1.0;
        p *= lambda / k;
        sum += p;
        cdf.push(sum);
    }
}

/// The drives with their streams and target ports.
pub(super) struct Drives<'n> {
    drives: &'n [Drive],
    /// Per drive, the port of its population (index into its ring).
    ports: Vec<usize>,
    /// Per drive, per worker: its part.
    parts: Vec<Vec<Mutex<Part>>>,
    /// Per drive, this step's rate (the bits of an f64), set by `prepare`.
    rates: Vec<AtomicU64>,
    dt: f64,
}

impl<'n> Drives<'n> {
    /// The drives of `net`, each split by the workers' `chunks`; `only`,
    /// when the network is spread over processes: the worker this one is
    /// (the others' parts hold no streams here).
    pub fn new(
        net: &'n Network,
        cfg: &NetConfig,
        runners: &[Runner],
        (chunks, only): (&[Chunks], Option<usize>),
    ) -> Drives<'n> {
        let parts = net
            .drives
            .iter()
            .enumerate()
            .map(|(k, d)| {
                chunks[d.to]
                    .iter()
                    .enumerate()
                    .map(|(w, &(a, b))| {
                        let b = if only.is_some_and(|me| me != w) { a } else { b };
                        let mut streams: Vec<Stream> =
                            (a..b).map(|i| Stream::new(cfg.seed, 0x5eed_0000 + k as u64, i)).collect();
                        let gamma = gamma_start(d, &mut streams);
                        Mutex::new(Part { first: a, streams, gamma, table: (f64::NAN, Vec::new()) })
                    })
                    .collect()
            })
            .collect();
        Drives {
            drives: &net.drives,
            ports: net
                .drives
                .iter()
                .map(|d| runners[d.to].ports.iter().position(|p| *p == d.port).unwrap_or(0))
                .collect(),
            parts,
            rates: net.drives.iter().map(|d| AtomicU64::new(d.rate.to_bits())).collect(),
            dt: cfg.dt,
        }
    }

    /// Reads the rates that follow a rate model's state, for the next
    /// step. Only while the workers wait at the barrier.
    pub fn prepare(&self, st: &Stepping) {
        for (d, rate) in self.drives.iter().zip(&self.rates) {
            if let Some((pop, state, factor)) = d.rate_of {
                // SAFETY: the workers wait at the barrier (a density's
                // states are mirrored into its arrays)
                let x =
                    unsafe { st.views[pop].state(state) }.and_then(|a| a.first()).map_or(0.0, |x| usable(factor * x));
                rate.store(x.to_bits(), Ordering::Relaxed);
            }
        }
    }

    /// Sets drive `k`'s rate for the steps to come (a rate from outside
    /// the network). Only while the workers wait at the barrier.
    pub fn set_rate(&self, k: usize, rate: f64) {
        if let Some(r) = self.rates.get(k) {
            r.store(usable(rate).to_bits(), Ordering::Relaxed);
        }
    }

    /// Worker `w`'s share of step `step`: every drive's input added to its
    /// chunk of the drive's population.
    ///
    /// # Safety
    /// Worker `w` alone touches its chunks of the rings while the step
    /// runs (the module doc of `step`).
    pub unsafe fn add(&self, w: usize, step: usize, views: &[PopView], slots_of: &[usize]) {
        let t = step as f64 * self.dt;
        let t_next = (step + 1) as f64 * self.dt;
        for (k, d) in self.drives.iter().enumerate() {
            let mut part = self.parts[k][w].lock().unwrap_or_else(|e| e.into_inner());
            let part = &mut *part;
            let n_here = part.streams.len();
            if n_here == 0 {
                continue;
            }
            // SAFETY: the chunk [first, first + n_here) is this worker's
            let slot = unsafe {
                std::slice::from_raw_parts_mut(
                    views[d.to].ring[self.ports[k]][step % slots_of[d.to]].0.wrapping_add(part.first),
                    n_here,
                )
            };
            if let Some(times) = &d.times {
                // the spikes in [t, t + dt) arrive at this step
                let (a, b) = (t - 1e-12 * self.dt, t_next - 1e-12 * self.dt);
                let count = times.partition_point(|&s| s < b) - times.partition_point(|&s| s < a);
                if count > 0 {
                    slot.iter_mut().for_each(|x| *x += d.w * count as f64);
                }
                continue;
            }
            let rate = f64::from_bits(self.rates[k].load(Ordering::Relaxed));
            if let Some(shape) = d.shape {
                // time rescaling: each train advances by rate x dt in units
                // of its mean interval, and spikes as it uses up intervals
                // drawn from Gamma(shape) / shape
                let advance = rate * self.dt;
                let n = d.n as usize;
                for ((x, trains), stream) in slot.iter_mut().zip(part.gamma.chunks_mut(n.max(1))).zip(&mut part.streams)
                {
                    let mut count = 0u64;
                    for left in trains {
                        *left -= advance;
                        while *left <= 0.0 {
                            count += 1;
                            *left += gamma_interval(stream, shape, shape);
                        }
                    }
                    *x += d.w * count as f64;
                }
                continue;
            }
            let lambda = d.n * rate * self.dt;
            if lambda > POISSON_TABLE_MAX {
                for (x, stream) in slot.iter_mut().zip(&mut part.streams) {
                    *x += d.w * poisson_count(stream, lambda) as f64;
                }
                continue;
            }
            if part.table.0 != lambda {
                part.table.0 = lambda;
                poisson_cdf(lambda, &mut part.table.1);
            }
            // all but the last: a u beyond it counts as the last
            let cdf = &part.table.1[..part.table.1.len() - 1];
            for (x, stream) in slot.iter_mut().zip(&mut part.streams) {
                // inversion: the first k whose cumulative probability
                // exceeds u, as a count of those below it (no branches)
                let u = stream.uniform();
                let k: u32 = cdf.iter().map(|&c| u32::from(u >= c)).sum();
                *x += d.w * f64::from(k);
            }
        }
    }
}

/// A rate a drive can draw from: negative and NaN rates are 0, and so is
/// an infinite one (its source diverged, which the run reports at its
/// next check; a gamma train would never use up an infinite advance).
fn usable(rate: f64) -> f64 {
    if rate.is_finite() {
        rate.max(0.0)
    } else {
        0.0
    }
}

/// The readouts (spikes to rates) with their filters' states.
pub(super) struct Readouts<'n> {
    readouts: &'n [super::Readout],
    /// Per readout: the population's size, the position of its input among
    /// the target's parameter arrays, and the filter's two stages.
    state: Vec<(f64, usize, [f64; 2])>,
    dt: f64,
}

impl<'n> Readouts<'n> {
    pub fn new(net: &'n Network, cfg: &NetConfig, runners: &[Runner]) -> Readouts<'n> {
        let state = net
            .readouts
            .iter()
            .map(|r| {
                let at = runners[r.to].inputs.iter().find(|(p, _)| *p == r.param).map_or(usize::MAX, |x| x.1);
                (net.populations[r.from].count.max(1) as f64, at, [0.0; 2])
            })
            .collect();
        Readouts { readouts: &net.readouts, state, dt: cfg.dt }
    }

    /// After step `step`: each readout's filter takes the step's spikes of
    /// its source, and its target's input for the next step is set. Only
    /// while the workers wait at the barrier.
    pub fn after(&mut self, st: &Stepping, densities: &mut super::density::Densities) {
        // each input: the sum of the readouts into it
        let mut sums: Vec<(usize, usize, usize, f64)> = Vec::new();
        for (r, (n, at, f)) in self.readouts.iter().zip(&mut self.state) {
            let count: usize =
                st.outputs.iter().map(|o| o.lock().unwrap_or_else(|e| e.into_inner())[r.from].len()).sum();
            let x = count as f64 / (*n * self.dt);
            let rate = r.kernel.filter(f, x, self.dt);
            match sums.iter_mut().find(|(to, p, _, _)| *to == r.to && *p == r.param) {
                Some(s) => s.3 += r.gain * rate,
                None => sums.push((r.to, r.param, *at, r.gain * rate)),
            }
        }
        for (to, param, at, value) in sums {
            if densities.is_density(to) {
                densities.set(to, param, value);
                continue;
            }
            let view = &st.views[to];
            let Some(p) = view.params.get(at) else { continue };
            for i in view.first..view.first + view.held {
                // SAFETY: the workers wait at the barrier; a neuron held
                unsafe { *p.0.wrapping_add(i) = value };
            }
        }
    }
}

/// Gamma(k) / shape for a whole k: minus the log of a product of k
/// uniforms, over `shape` (k = shape: an interval of mean 1; k = shape + 1:
/// a length-biased one).
fn gamma_interval(rng: &mut impl Open01, k: u32, shape: u32) -> f64 {
    let mut prod = 1.0;
    for _ in 0..k {
        prod *= rng.open01();
    }
    -prod.ln() / f64::from(shape)
}

/// The starting state of a drive's gamma trains onto the neurons of
/// `streams`: each train in its stationary state, the time to its first
/// spike a uniform fraction of a length-biased interval (Gamma(shape + 1)
/// / shape), from its neuron's stream. Empty for other drives.
fn gamma_start(d: &Drive, streams: &mut [Stream]) -> Vec<f64> {
    let Some(shape) = d.shape else { return Vec::new() };
    let n = d.n as usize;
    let mut trains = Vec::with_capacity(streams.len() * n);
    for stream in streams {
        for _ in 0..n {
            let biased = gamma_interval(stream, shape + 1, shape);
            trains.push(stream.open01() * biased);
        }
    }
    trains
}

/// A Poisson count of mean `lambda`: Knuth's product of uniforms up to
/// lambda = 30, above it the normal approximation (rounded, at least 0).
pub fn poisson_count(rng: &mut impl Open01, lambda: f64) -> u64 {
    if lambda <= 0.0 {
        return 0;
    }
    if lambda <= 30.0 {
        let limit = (-lambda).exp();
        let mut k = 0;
        let mut p = rng.open01();
        while p > limit {
            k += 1;
            p *= rng.open01();
        }
        return k;
    }
    let (u1, u2) = (rng.open01(), rng.open01());
    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    (lambda + lambda.sqrt() * z).round().max(0.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts drawn by inverting the table have the Poisson mean and
    /// variance (within 4 standard errors), for small and large means.
    #[test]
    fn inverted_counts_have_the_poisson_moments() {
        for lambda in [0.05, 1.0, 7.5, 29.0] {
            let mut cdf = Vec::new();
            poisson_cdf(lambda, &mut cdf);
            assert!((cdf[cdf.len() - 1] - 1.0).abs() < 1e-15, "lambda {lambda}: ends at {}", cdf[cdf.len() - 1]);
            let cdf = &cdf[..cdf.len() - 1];
            let mut s = Stream::new(7, 1, 0);
            let n = 200_000;
            let draws: Vec<f64> = (0..n)
                .map(|_| {
                    let u = s.uniform();
                    f64::from(cdf.iter().map(|&c| u32::from(u >= c)).sum::<u32>())
                })
                .collect();
            let mean = draws.iter().sum::<f64>() / n as f64;
            let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            let se_mean = (lambda / n as f64).sqrt();
            // the variance of the sample variance: (mu4 - sigma^4 ...) ~ (lambda + 2 lambda^2) / n
            let se_var = ((lambda + 2.0 * lambda * lambda) / n as f64).sqrt();
            assert!((mean - lambda).abs() < 4.0 * se_mean, "lambda {lambda}: mean {mean}");
            assert!((var - lambda).abs() < 4.0 * se_var, "lambda {lambda}: variance {var}");
        }
    }
}
