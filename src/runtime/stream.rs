//! A neuron's own random stream for noise inside models: cheap enough to
//! draw one normal per neuron and step.
//!
//! The generator is wyrand (Wang Yi's, 64 bits of state, one 128-bit
//! multiply per number; it passes BigCrush and PractRand), seeded per
//! (run seed, stream, neuron) through SplitMix64, so the numbers of a
//! neuron do not depend on how neurons are split over threads. Normals
//! come from the ziggurat of Marsaglia & Tsang (2000) with 256 layers,
//! Doornik's (2005) layout and Marsaglia's tail: one 64-bit draw gives
//! the layer (8 bits) and the abscissa (53 bits) in 98.5% of the draws;
//! a wedge costs one exponential.
//!
//! Each neuron starts at a random point of one sequence of period 2^64:
//! two neurons' draws overlap with a probability of about M^2 L / 2^64
//! for M neurons drawing L numbers each (1e-8 for 4000 neurons over 10^5
//! steps, 0.5% for 10^6 neurons over 10^5 steps).

use super::spikegen::SplitMix64;
use std::sync::OnceLock;

/// One neuron's stream.
#[derive(Clone, Copy, Debug)]
pub struct Stream(u64);

/// Layers of the ziggurat.
const N: usize = 256;

/// The ziggurat's layers: x[i] (x[0] = V / f(R), x[1] = R, x[N] = 0),
/// ratio[i] = x[i + 1] / x[i], and f[i] = exp(-x[i]^2 / 2).
pub struct Layers {
    x: [f64; N + 1],
    ratio: [f64; N],
    f: [f64; N + 1],
}

/// The right edge of the base layer and the area of each layer (256
/// layers).
const R: f64 = 3.654_152_885_361_009;
const V: f64 = 4.928_673_233_99e-3;

/// The layers, computed once.
pub fn layers() -> &'static Layers {
    static LAYERS: OnceLock<Layers> = OnceLock::new();
    LAYERS.get_or_init(|| {
        let mut x = [0.0; N + 1];
        let mut f = (-0.5 * R * R).exp();
        x[0] = V / f;
        x[1] = R;
        for i in 2..N {
            x[i] = (-2.0 * (V / x[i - 1] + f).ln()).sqrt();
            f = (-0.5 * x[i] * x[i]).exp();
        }
        let ratio = std::array::from_fn(|i| x[i + 1] / x[i]);
        let f = std::array::from_fn(|i| (-0.5 * x[i] * x[i]).exp());
        Layers { x, ratio, f }
    })
}

impl Stream {
    /// Stream `stream` of neuron `node`.
    pub fn new(seed: u64, stream: u64, node: usize) -> Stream {
        let mut mix = SplitMix64::new(seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let base = mix.next_u64();
        let mut node_mix = SplitMix64::new(base ^ (node as u64).wrapping_mul(0xd1b5_4a32_d192_ed03));
        Stream(node_mix.next_u64())
    }

    #[inline]
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(self.0).wrapping_mul(u128::from(self.0 ^ 0xe703_7ed1_a0b4_28db));
        ((t >> 64) as u64) ^ (t as u64)
    }

    /// A uniform number on [0, 1).
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform number on (0, 1].
    #[inline]
    pub fn open01(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// An exponential variable of mean 1.
    #[inline]
    pub fn exponential(&mut self) -> f64 {
        -self.open01().ln()
    }

    /// A standard normal variable.
    #[inline]
    pub fn normal(&mut self, layers: &Layers) -> f64 {
        loop {
            let bits = self.next_u64();
            let i = (bits & 0xff) as usize;
            // u uniform on [-1, 1) from the 53 high bits
            let u = (bits >> 11) as f64 * (2.0 / (1u64 << 53) as f64) - 1.0;
            if u.abs() < layers.ratio[i] {
                return u * layers.x[i];
            }
            if let Some(z) = self.slow(layers, i, u) {
                return z;
            }
        }
    }

    /// The base layer's tail or a wedge: the rare draws (1.5%).
    #[cold]
    fn slow(&mut self, layers: &Layers, i: usize, u: f64) -> Option<f64> {
        if i == 0 {
            // Marsaglia's tail beyond R
            loop {
                let x = self.open01().ln() / R;
                let y = self.open01().ln();
                if -2.0 * y >= x * x {
                    return Some(if u < 0.0 { x - R } else { R - x });
                }
            }
        }
        // the wedge between f(x[i]) and f(x[i + 1]) under the curve
        let x = u * layers.x[i];
        let y = layers.f[i] + self.uniform() * (layers.f[i + 1] - layers.f[i]);
        (y < (-0.5 * x * x).exp()).then_some(x)
    }
}

/// Fills `values` with one draw per stream of `draw`'s kind.
pub fn fill(values: &mut [f64], streams: &mut [Stream], dt: f64, draw: crate::ir::noise::Draw) {
    use crate::ir::noise::Draw;
    let l = layers();
    match draw {
        Draw::Normal => {
            let scale = 1.0 / dt.sqrt();
            for (x, g) in values.iter_mut().zip(streams) {
                *x = g.normal(l) * scale;
            }
        }
        Draw::StandardNormal => {
            for (x, g) in values.iter_mut().zip(streams) {
                *x = g.normal(l);
            }
        }
        Draw::Escape => {
            for (x, g) in values.iter_mut().zip(streams) {
                *x = g.exponential() / dt;
            }
        }
        Draw::Uniform => {
            for (x, g) in values.iter_mut().zip(streams) {
                *x = g.uniform();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{layers, Stream};

    /// 4 million normals: mean, variance, skewness, kurtosis, and the
    /// probabilities beyond 1, 2, 3 and 4 (the tail) within their
    /// sampling errors; uniforms and exponentials their means.
    #[test]
    fn normals_have_the_normal_moments_and_tails() {
        let n = 4_000_000;
        let mut s = Stream::new(7, 3, 11);
        let l = layers();
        let (mut m1, mut m2, mut m3, mut m4) = (0.0, 0.0, 0.0, 0.0);
        let mut beyond = [0usize; 4];
        for _ in 0..n {
            let z = s.normal(l);
            m1 += z;
            m2 += z * z;
            m3 += z * z * z;
            m4 += z * z * z * z;
            for (k, b) in beyond.iter_mut().enumerate() {
                if z.abs() > (k + 1) as f64 {
                    *b += 1;
                }
            }
        }
        let nf = n as f64;
        let (mean, var, skew, kurt) = (m1 / nf, m2 / nf, m3 / nf, m4 / nf);
        assert!(mean.abs() < 5.0 * (1.0 / nf).sqrt(), "mean {mean}");
        assert!((var - 1.0).abs() < 5.0 * (2.0 / nf).sqrt(), "variance {var}");
        assert!(skew.abs() < 5.0 * (15.0 / nf).sqrt(), "skewness {skew}");
        assert!((kurt - 3.0).abs() < 5.0 * (96.0 / nf).sqrt(), "kurtosis {kurt}");
        // P(|z| > k) = erfc(k / sqrt 2)
        for (k, p) in [0.317_310_507_862_914_2, 0.045_500_263_896_358_4, 0.002_699_796_063_260_2, 6.334_248_366_6e-5]
            .iter()
            .enumerate()
        {
            let got = beyond[k] as f64 / nf;
            assert!((got - p).abs() < 5.0 * (p / nf).sqrt(), "P(|z| > {}) = {got}, not {p}", k + 1);
        }
        let u: f64 = (0..n).map(|_| s.uniform()).sum::<f64>() / nf;
        let e: f64 = (0..n).map(|_| s.exponential()).sum::<f64>() / nf;
        assert!((u - 0.5).abs() < 5.0 * (1.0 / 12.0 / nf).sqrt() && (e - 1.0).abs() < 5.0 / nf.sqrt(), "{u} {e}");
    }
}
