//! Drives: input added to a population's port before each step. A Poisson
//! drive adds, to every neuron, its weight times a Poisson count of mean
//! `n rate dt`, drawn neuron by neuron from a stream of its own (`seed ^
//! (0x5eed_0000 + k) * 0xbf58_476d_1ce4_e5b9` for drive k); a `spikes(times
//! = ...)` drive adds its weight once per listed spike time in [t, t + dt)
//! to every neuron.

use super::build::Runner;
use super::step::Stepping;
use super::{Drive, NetConfig, Network};
use crate::runtime::spikegen::SplitMix64;

/// The drives with their streams and target ports.
pub(super) struct Drives<'n> {
    drives: &'n [Drive],
    rngs: Vec<SplitMix64>,
    /// Per drive, the port of its population (index into its ring).
    ports: Vec<usize>,
    /// Per gamma drive, each train's operational time left to its next
    /// spike (neuron-major, n per neuron; in units of the mean interval).
    gamma: Vec<Vec<f64>>,
    dt: f64,
}

impl<'n> Drives<'n> {
    pub fn new(net: &'n Network, cfg: &NetConfig, runners: &[Runner]) -> Drives<'n> {
        Drives {
            drives: &net.drives,
            rngs: (0..net.drives.len())
                .map(|k| SplitMix64::new(cfg.seed ^ (0x5eed_0000 + k as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9)))
                .collect(),
            ports: net
                .drives
                .iter()
                .map(|d| runners[d.to].ports.iter().position(|p| *p == d.port).unwrap_or(0))
                .collect(),
            gamma: net.drives.iter().enumerate().map(|(k, d)| gamma_start(d, net, cfg.seed, k)).collect(),
            dt: cfg.dt,
        }
    }

    /// Adds every drive's input for step `step`. Only while the workers wait
    /// at the barrier.
    pub fn add(&mut self, step: usize, st: &Stepping) {
        let t = step as f64 * self.dt;
        let t_next = (step + 1) as f64 * self.dt;
        for (k, d) in self.drives.iter().enumerate() {
            let view = &st.views[d.to];
            let slot = view.ring[self.ports[k]][step % st.slots_of[d.to]].0;
            if let Some(times) = &d.times {
                // the spikes in [t, t + dt) arrive at this step
                let (a, b) = (t - 1e-12 * self.dt, t_next - 1e-12 * self.dt);
                let count = times.partition_point(|&s| s < b) - times.partition_point(|&s| s < a);
                if count > 0 {
                    for i in 0..view.count {
                        // SAFETY: the workers wait at the barrier; i < count
                        unsafe { *slot.add(i) += d.w * count as f64 };
                    }
                }
                continue;
            }
            let rate = match d.rate_of {
                // SAFETY: the workers wait at the barrier (a density's
                // states are mirrored into its arrays)
                Some((pop, state, factor)) => {
                    unsafe { st.views[pop].state(state) }.and_then(|a| a.first()).map_or(0.0, |x| (factor * x).max(0.0))
                }
                None => d.rate,
            };
            if let Some(shape) = d.shape {
                // time rescaling: each train advances by rate x dt in units
                // of its mean interval, and spikes as it uses up intervals
                // drawn from Gamma(shape) / shape
                let step = rate * self.dt;
                let n = d.n as usize;
                let (trains, rng) = (&mut self.gamma[k], &mut self.rngs[k]);
                for i in 0..view.count {
                    let mut count = 0u64;
                    for left in &mut trains[i * n..(i + 1) * n] {
                        *left -= step;
                        while *left <= 0.0 {
                            count += 1;
                            *left += gamma_interval(rng, shape, shape);
                        }
                    }
                    // SAFETY: the workers wait at the barrier; i < count
                    unsafe { *slot.add(i) += d.w * count as f64 };
                }
                continue;
            }
            let lambda = d.n * rate * self.dt;
            for i in 0..view.count {
                // SAFETY: the workers wait at the barrier; i < count
                unsafe { *slot.add(i) += d.w * poisson_count(&mut self.rngs[k], lambda) as f64 };
            }
        }
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
        use super::RateKernel;
        // each input: the sum of the readouts into it
        let mut sums: Vec<(usize, usize, usize, f64)> = Vec::new();
        for (r, (n, at, f)) in self.readouts.iter().zip(&mut self.state) {
            let count: usize =
                st.outputs.iter().map(|o| o.lock().unwrap_or_else(|e| e.into_inner())[r.from].len()).sum();
            let x = count as f64 / (*n * self.dt);
            let rate = match r.kernel {
                RateKernel::Bin => x,
                RateKernel::Exponential(tau) => {
                    let a = (-self.dt / tau).exp();
                    f[0] = a * f[0] + (1.0 - a) * x;
                    f[0]
                }
                RateKernel::Alpha(tau) => {
                    let a = (-self.dt / tau).exp();
                    f[0] = a * f[0] + (1.0 - a) * x;
                    f[1] = a * f[1] + (1.0 - a) * f[0];
                    f[1]
                }
            };
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
            for i in 0..view.count {
                // SAFETY: the workers wait at the barrier; i < count
                unsafe { *p.0.add(i) = value };
            }
        }
    }
}

/// Gamma(k) / shape for a whole k: minus the log of a product of k
/// uniforms, over `shape` (k = shape: an interval of mean 1; k = shape + 1:
/// a length-biased one).
fn gamma_interval(rng: &mut SplitMix64, k: u32, shape: u32) -> f64 {
    let mut prod = 1.0;
    for _ in 0..k {
        prod *= rng.next_open01();
    }
    -prod.ln() / f64::from(shape)
}

/// The starting state of drive `k`'s gamma trains: each train in its
/// stationary state, the time to its first spike a uniform fraction of a
/// length-biased interval (Gamma(shape + 1) / shape), from a stream of its
/// own. Empty for other drives.
fn gamma_start(d: &Drive, net: &Network, seed: u64, k: usize) -> Vec<f64> {
    let Some(shape) = d.shape else { return Vec::new() };
    let mut rng = SplitMix64::new(seed ^ (0x6a33_0000 + k as u64).wrapping_mul(0x94d0_49bb_1331_11eb));
    let trains = net.populations[d.to].count * d.n as usize;
    (0..trains)
        .map(|_| {
            let biased = gamma_interval(&mut rng, shape + 1, shape);
            rng.next_open01() * biased
        })
        .collect()
}

/// A Poisson count of mean `lambda`: Knuth's product of uniforms up to
/// lambda = 30, above it the normal approximation (rounded, at least 0).
pub fn poisson_count(rng: &mut SplitMix64, lambda: f64) -> u64 {
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
