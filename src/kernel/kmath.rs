//! The math functions of kernels, written once as straight-line IEEE
//! operations (fused multiply-adds, no branches but selects) so that the kernel
//! interpreter (this file) and the Cranelift back end (which emits the same
//! operations) agree bit for bit.
//!
//! Accuracy, tested in `tests/kernel.rs` against the platform's libm:
//! - `exp`: within 2 ulp for x in [-708, 709]; +inf above 709 and 0 below
//!   -708 (the true overflow is at 709.78 and the results below -708 are
//!   subnormal, which kernels flush to zero); NaN gives NaN.
//! - `efun(u) = u / (e^u - 1)`: the series 1 - u/2 + u^2/12 for |u| < 1e-4,
//!   else the quotient (relative error below ~1e-12 just above the switch,
//!   where e^u - 1 cancels).

/// 1.5 * 2^52: adding it rounds to an integer kept in the low mantissa bits.
pub const SHIFTER: f64 = 6755399441055744.0;
pub const LOG2E: f64 = std::f64::consts::LOG2_E;
/// ln 2 split so that k * LN2_HI is exact for |k| < 2^11 (Cody & Waite 1980).
pub const LN2_HI: f64 = 0.693_147_180_369_123_8;
pub const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
pub const EXP_HI: f64 = 709.0;
pub const EXP_LO: f64 = -708.0;

/// Taylor coefficients 1/k! of e^r, k = 0..=13.
pub const EXP_C: [f64; 14] = [
    1.0,
    1.0,
    0.5,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5040.0,
    1.0 / 40320.0,
    1.0 / 362880.0,
    1.0 / 3628800.0,
    1.0 / 39916800.0,
    1.0 / 479001600.0,
    1.0 / 6227020800.0,
];

/// Clamps without losing NaN (NaN stays NaN), as the JIT's fmax/fmin do.
pub fn clamp(x: f64, lo: f64, hi: f64) -> f64 {
    fmin(fmax(x, lo), hi)
}

/// Minimum with NaN propagation and -0 < +0 (Cranelift `fmin`).
pub fn fmin(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == b {
        if a.is_sign_negative() {
            a
        } else {
            b
        }
    } else if a < b {
        a
    } else {
        b
    }
}

/// Maximum with NaN propagation and -0 < +0 (Cranelift `fmax`).
pub fn fmax(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == b {
        if a.is_sign_negative() {
            b
        } else {
            a
        }
    } else if a > b {
        a
    } else {
        b
    }
}

/// e^x: x = k ln2 + r with |r| <= ln2/2, e^r by an Estrin-form Taylor
/// polynomial of degree 13, then scaled by 2^k built from exponent bits.
///
/// No clamping is needed: outside [-708, 709] (and for infinities) the
/// bits are garbage but the final selects replace them; NaN propagates
/// through the polynomial.
pub fn exp(x: f64) -> f64 {
    let t = x.mul_add(LOG2E, SHIFTER);
    let k = t - SHIFTER;
    let r = (-k).mul_add(LN2_LO, (-k).mul_add(LN2_HI, x));
    let p = exp_poly(r);
    let ki = (t.to_bits() as i64).wrapping_sub(SHIFTER.to_bits() as i64);
    let scale = f64::from_bits((ki.wrapping_add(1023) as u64) << 52);
    let y = p * scale;
    let y = if x > EXP_HI { f64::INFINITY } else { y };
    if x < EXP_LO {
        0.0
    } else {
        y
    }
}

/// e^r for |r| <= ln2/2, Estrin's scheme (depth 4 instead of 13).
pub fn exp_poly(r: f64) -> f64 {
    let c = &EXP_C;
    let r2 = r * r;
    let r4 = r2 * r2;
    let r8 = r4 * r4;
    let p01 = c[1].mul_add(r, c[0]);
    let p23 = c[3].mul_add(r, c[2]);
    let p45 = c[5].mul_add(r, c[4]);
    let p67 = c[7].mul_add(r, c[6]);
    let p89 = c[9].mul_add(r, c[8]);
    let pab = c[11].mul_add(r, c[10]);
    let pcd = c[13].mul_add(r, c[12]);
    let q0 = p23.mul_add(r2, p01);
    let q1 = p67.mul_add(r2, p45);
    let q2 = pab.mul_add(r2, p89);
    let s0 = q1.mul_add(r4, q0);
    let s1 = pcd.mul_add(r4, q2);
    s1.mul_add(r8, s0)
}

/// 2/(2k+1), k = 1..=10: log(1+f) = f - s (f - R), R = z P(z), s = f/(2+f), z = s^2.
pub const LOG_C: [f64; 10] = [
    2.0 / 3.0,
    2.0 / 5.0,
    2.0 / 7.0,
    2.0 / 9.0,
    2.0 / 11.0,
    2.0 / 13.0,
    2.0 / 15.0,
    2.0 / 17.0,
    2.0 / 19.0,
    2.0 / 21.0,
];
/// 2^52 + 1023: subtracting it from the float whose mantissa holds the
/// biased exponent gives the exponent as a float.
pub const EXP_BIAS_SHIFT: f64 = 4503599627371519.0;
pub const TWO54: f64 = 18014398509481984.0;

/// ln x: x = 2^e m with m in [sqrt(1/2), sqrt(2)), then the atanh series
/// of log(1 + f), f = m - 1 (as fdlibm's log). Subnormals are scaled by
/// 2^54 first; x < 0 and NaN give NaN, 0 gives -inf, +inf gives +inf.
/// All integer work is on bits, so vector back ends need no conversions.
pub fn log(x: f64) -> f64 {
    let small = x < f64::MIN_POSITIVE;
    let xs = if small { x * TWO54 } else { x };
    let bits = xs.to_bits();
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    let ebits = f64::from_bits((bits >> 52) | 0x4330_0000_0000_0000);
    let e0 = ebits - EXP_BIAS_SHIFT;
    let e1 = e0 - if small { 54.0 } else { 0.0 };
    let big = m > std::f64::consts::SQRT_2;
    let m = if big { m * 0.5 } else { m };
    let e = e1 + if big { 1.0 } else { 0.0 };
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let p = log_poly(z);
    let r = z * p;
    let t = s * (f - r);
    let lo = e.mul_add(LN2_LO, -t);
    let y = e.mul_add(LN2_HI, f - (-lo));
    let y = if x == 0.0 { f64::NEG_INFINITY } else { y };
    let y = if x == f64::INFINITY { f64::INFINITY } else { y };
    let y = if x < 0.0 { f64::NAN } else { y };
    if x.is_nan() {
        x
    } else {
        y
    }
}

/// P(z) = sum LOG_C[k] z^k, Estrin's scheme.
pub fn log_poly(z: f64) -> f64 {
    let c = &LOG_C;
    let z2 = z * z;
    let z4 = z2 * z2;
    let z8 = z4 * z4;
    let p01 = c[1].mul_add(z, c[0]);
    let p23 = c[3].mul_add(z, c[2]);
    let p45 = c[5].mul_add(z, c[4]);
    let p67 = c[7].mul_add(z, c[6]);
    let p89 = c[9].mul_add(z, c[8]);
    let q0 = p23.mul_add(z2, p01);
    let q1 = p67.mul_add(z2, p45);
    let s0 = q1.mul_add(z4, q0);
    p89.mul_add(z8, s0)
}

/// Below this |u|, efun uses its series.
pub const EFUN_SMALL: f64 = 1e-4;

/// u / (e^u - 1), continuous at 0.
pub fn efun(u: f64) -> f64 {
    let direct = u / (exp(u) - 1.0);
    let series = 1.0 - u * 0.5 + u * u * (1.0 / 12.0);
    if u.abs() < EFUN_SMALL {
        series
    } else {
        direct
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f64, b: f64) -> u64 {
        if a == b {
            return 0;
        }
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn exp_is_within_2_ulp() {
        let mut worst = 0;
        let mut x = -708.0;
        while x < 709.0 {
            worst = worst.max(ulps(exp(x), x.exp()));
            x += 0.0137;
        }
        for i in 0..20000 {
            let x = (i as f64 - 10000.0) * 1e-4;
            worst = worst.max(ulps(exp(x), x.exp()));
        }
        assert!(worst <= 2, "worst {worst} ulp");
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(800.0), f64::INFINITY);
        assert_eq!(exp(-800.0), 0.0);
        assert!(exp(f64::NAN).is_nan());
        assert_eq!(exp(f64::INFINITY), f64::INFINITY);
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
    }

    #[test]
    fn log_is_within_2_ulp() {
        let mut worst = 0;
        let mut x = 1e-300f64;
        while x < 1e300 {
            worst = worst.max(ulps(log(x), x.ln()));
            x *= 1.0137;
        }
        for i in 1..20000 {
            let x = 0.5 + i as f64 * 1e-4;
            worst = worst.max(ulps(log(x), x.ln()));
        }
        assert!(worst <= 2, "worst {worst} ulp");
        assert_eq!(log(1.0), 0.0);
        assert_eq!(log(0.0), f64::NEG_INFINITY);
        assert!(log(-1.0).is_nan());
        assert!(log(f64::NAN).is_nan());
        assert_eq!(log(f64::INFINITY), f64::INFINITY);
        let sub = 1e-310f64;
        assert!(ulps(log(sub), sub.ln()) <= 2);
    }

    #[test]
    fn efun_is_continuous_and_accurate() {
        for u in [-30.0f64, -1.0, -1e-3, -1.01e-4, -0.99e-4, 0.0, 1e-8, 0.99e-4, 1.01e-4, 0.5, 40.0] {
            let want = if u == 0.0 { 1.0 } else { u / u.exp_m1() };
            assert!((efun(u) - want).abs() <= 1e-11 * want.abs(), "u = {u}: {} vs {want}", efun(u));
        }
    }
}
