//! White noise in point models at run time: each `xi(X)` parameter (see
//! [`crate::ir::noise`]) becomes a per-neuron array refilled before every
//! step with a standard normal over sqrt(dt), held over the step: under
//! `euler` that is Euler-Maruyama, under `heun` stochastic Heun (for
//! additive noise), and under an exact propagator the exact update of the
//! state's linear part with the noise's integral approximated by its
//! held value (the variance of an Ornstein-Uhlenbeck step is then exact
//! to O((dt/tau)^2)). Each neuron has its own stream per noise
//! ([`Stream`]: seeded from the run's seed, the noise, the population and
//! the neuron), so the numbers do not depend on how neurons are split
//! over threads.

pub use super::stream::Stream;
pub use crate::ir::noise::Draw;

/// The streams of neurons `neurons` for the random parameter `name` of
/// population `population`: keyed by the name (FNV-1a), so that adding
/// another noise to a model does not change this one's numbers.
pub fn streams(seed: u64, name: &str, population: usize, neurons: std::ops::Range<usize>) -> Vec<Stream> {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    let stream = h ^ (0x6e01_0000 + population as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    neurons.map(|i| Stream::new(seed, stream, i)).collect()
}

/// This step's values: a standard normal over sqrt(dt) per neuron (white
/// noise), or an exponential variable of mean 1 over dt (escape noise:
/// `RHO > E / dt` with probability 1 - exp(-RHO dt)).
pub fn fill(values: &mut [f64], streams: &mut [Stream], dt: f64, draw: Draw) {
    super::stream::fill(values, streams, dt, draw);
}
