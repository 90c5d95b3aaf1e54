//! Presynaptic spike trains for driving a single model: regular, Poisson,
//! or listed times. Seeded and reproducible.

/// SplitMix64 (Steele, Lea & Flood 2014): a small, statistically sound
/// 64-bit generator, used here to draw Poisson trains from a seed.
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn regular_train() {
        assert_eq!(regular(0.25, 1.0), vec![0.25, 0.5, 0.75, 1.0]);
        assert!(regular(0.0, 1.0).is_empty());
    }
}
