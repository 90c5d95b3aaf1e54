//! Generators: presynaptic spike trains for driving a single model
//! (regular, Poisson, listed times), and values spread over a population
//! (evenly, uniform, normal). Seeded and reproducible; values are drawn up
//! front, so they do not depend on the number of threads.

/// SplitMix64 (Steele, Lea & Flood 2014): a small, statistically sound
/// 64-bit generator, used here to draw Poisson trains from a seed.
#[derive(Clone)]
pub struct SplitMix64(u64);

/// SplitMix64's step (the golden ratio's 64 bits), and its inverse modulo
/// 2^64 (odd, so it has one: five Newton steps from 3 correct bits).
const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;
const GAMMA_INVERSE: u64 = {
    let mut x = GAMMA;
    let mut i = 0;
    while i < 5 {
        x = x.wrapping_mul(2u64.wrapping_sub(GAMMA.wrapping_mul(x)));
        i += 1;
    }
    x
};

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GAMMA);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Moves on by `draws` draws at once (the stream is a counter).
    pub fn skip(&mut self, draws: u64) {
        self.0 = self.0.wrapping_add(draws.wrapping_mul(GAMMA));
    }

    /// The draws taken since the stream was at `origin` (the stream is a
    /// counter, so its state tells its place).
    #[inline]
    pub fn draws_since(&self, origin: &SplitMix64) -> u64 {
        self.0.wrapping_sub(origin.0).wrapping_mul(GAMMA_INVERSE)
    }

    /// Uniform in (0, 1]: 53 random bits.
    pub fn next_open01(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }
}

/// Spikes every `period` from `period` on, up to `until` (SI seconds).
pub fn regular(period: f64, until: f64) -> Vec<f64> {
    if period.is_nan() || period <= 0.0 {
        return Vec::new();
    }
    (1..).map(|k| k as f64 * period).take_while(|t| *t <= until).collect()
}

/// A homogeneous Poisson train of `rate` (Hz) up to `until` (s).
pub fn poisson(rate: f64, until: f64, seed: u64) -> Vec<f64> {
    let mut rng = SplitMix64::new(seed);
    let mut out = Vec::new();
    if rate.is_nan() || rate <= 0.0 {
        return out;
    }
    let mut t = 0.0;
    loop {
        t += -rng.next_open01().ln() / rate;
        if t > until {
            return out;
        }
        out.push(t);
    }
}

/// How a value is spread over the neurons of a population.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Spread {
    /// Evenly from lo to hi.
    Linspace(f64, f64),
    /// Uniformly random in [lo, hi).
    Uniform(f64, f64),
    /// Normal with mean and standard deviation.
    Normal(f64, f64),
}

/// One value for each of `n` neurons. `stream` separates the random
/// streams of different spread quantities under one seed.
pub fn spread(s: Spread, n: usize, seed: u64, stream: u64) -> Vec<f64> {
    let mut rng = SplitMix64::new(seed ^ stream.wrapping_mul(0xd1b5_4a32_d192_ed03));
    match s {
        Spread::Linspace(lo, hi) => {
            (0..n).map(|i| if n == 1 { lo } else { lo + (hi - lo) * i as f64 / (n - 1) as f64 }).collect()
        }
        Spread::Uniform(lo, hi) => (0..n).map(|_| lo + (hi - lo) * (1.0 - rng.next_open01())).collect(),
        Spread::Normal(mu, sigma) => (0..n)
            .map(|_| {
                // Box-Muller, one of the pair
                let (u1, u2) = (rng.next_open01(), rng.next_open01());
                mu + sigma * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
            })
            .collect(),
    }
}

/// Value `k` of [`spread`]`(s, n, seed, stream)`, computed alone: the
/// stream is a counter (SplitMix64), so draw k is reached by one jump. An
/// MPI rank draws its neurons' values by their index in the population,
/// and a connection its synapses' by their keys (`network::connect`).
pub fn spread_at(s: Spread, n: usize, seed: u64, stream: u64, k: usize) -> f64 {
    let start = seed ^ stream.wrapping_mul(0xd1b5_4a32_d192_ed03);
    let at = |draws: usize| SplitMix64::new(start.wrapping_add((draws as u64).wrapping_mul(GAMMA)));
    match s {
        Spread::Linspace(lo, hi) => {
            if n <= 1 {
                lo
            } else {
                lo + (hi - lo) * k as f64 / (n - 1) as f64
            }
        }
        Spread::Uniform(lo, hi) => lo + (hi - lo) * (1.0 - at(k).next_open01()),
        Spread::Normal(mu, sigma) => {
            let mut rng = at(2 * k);
            let (u1, u2) = (rng.next_open01(), rng.next_open01());
            mu + sigma * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_tells_the_draws_it_took() {
        let origin = SplitMix64::new(0xdead_beef);
        let mut rng = origin.clone();
        for n in [1u64, 2, 1000] {
            for _ in 0..n {
                rng.next_u64();
            }
            let mut jumped = origin.clone();
            jumped.skip(rng.draws_since(&origin));
            assert_eq!(jumped.next_u64(), rng.clone().next_u64(), "after {n} more draws");
        }
        assert_eq!(rng.draws_since(&origin), 1003);
        assert_eq!(GAMMA.wrapping_mul(GAMMA_INVERSE), 1);
    }

    #[test]
    fn a_spread_value_alone_is_the_same_as_in_the_whole() {
        for s in [Spread::Linspace(-1.0, 3.0), Spread::Uniform(0.5, 2.0), Spread::Normal(1.0, 0.3)] {
            let all = spread(s, 1000, 42, 7);
            for k in [0, 1, 2, 499, 999] {
                assert_eq!(all[k].to_bits(), spread_at(s, 1000, 42, 7, k).to_bits(), "{s:?} value {k}");
            }
        }
    }

    #[test]
    fn poisson_train_has_the_right_rate_and_cv() {
        let train = poisson(50.0, 200.0, 7);
        let rate = train.len() as f64 / 200.0;
        // 10,000 spikes: the count's standard error is 1%
        assert!((rate - 50.0).abs() < 2.0, "rate {rate}");
        let isi: Vec<f64> = train.windows(2).map(|w| w[1] - w[0]).collect();
        let mean = isi.iter().sum::<f64>() / isi.len() as f64;
        let var = isi.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / isi.len() as f64;
        let cv = var.sqrt() / mean;
        assert!((cv - 1.0).abs() < 0.05, "cv {cv}");
        assert_eq!(train, poisson(50.0, 200.0, 7), "same seed, same train");
    }

    #[test]
    fn spreads_have_their_moments() {
        let n = 20_000;
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let sd = |v: &[f64]| {
            let m = mean(v);
            (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
        };
        let u = spread(Spread::Uniform(2.0, 4.0), n, 1, 0);
        assert!(u.iter().all(|x| (2.0..4.0).contains(x)));
        // standard errors: 0.58/sqrt(n) = 0.004 for the mean
        assert!((mean(&u) - 3.0).abs() < 0.02 && (sd(&u) - 2.0 / 12f64.sqrt()).abs() < 0.02);
        let g = spread(Spread::Normal(-5.0, 2.0), n, 1, 1);
        assert!((mean(&g) + 5.0).abs() < 0.05 && (sd(&g) - 2.0).abs() < 0.05);
        assert_eq!(spread(Spread::Linspace(0.0, 1.0), 5, 9, 9), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_ne!(spread(Spread::Uniform(0.0, 1.0), 3, 1, 0), spread(Spread::Uniform(0.0, 1.0), 3, 1, 1));
    }

    #[test]
    fn regular_train() {
        assert_eq!(regular(0.25, 1.0), vec![0.25, 0.5, 0.75, 1.0]);
        assert!(regular(0.0, 1.0).is_empty());
    }
}
