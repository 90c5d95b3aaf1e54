//! The builtins that have no instruction of their own (`sin`, `cos`, `tan`,
//! `atan`, `sinh`, `cosh`, `sign`, `efun_prime`), composed by the builder
//! from existing ones (add, multiply, divide, compare, select, exp).
//!
//! Input: the value of the argument. Output: instructions appended to the
//! builder. Because nothing new reaches the back ends, the kernel
//! interpreter and the JIT agree bit for bit by construction, and the JIT's
//! f64x2 lanes vectorize these functions as they do `exp`. There is no
//! fused multiply-add instruction, so every step below is exact or rounds
//! once, with the error accounted for without FMA.
//!
//! Accuracy, asserted in `tests/builtins.rs` against Rust's libm (glibc)
//! over dense samples of each domain, and against 200-bit values (mpmath)
//! where libm is not exact itself (worst measured in brackets):
//! - `sin`, `cos`: within 1 ulp [1] for |x| <= 2e8, `tan` within 2 [2]:
//!   the reduction by pi/2 is exact to 2^-130 while k = round(2x/pi) has at
//!   most 27 bits (|x| <= 2^27 pi/2 = 2.1e8), also at the doubles closest
//!   to multiples of pi/2 (where sin and cos come out correctly rounded
//!   and glibc is 2 ulp off at times). For 2e8 < |x| < 2^51 the reduced
//!   argument is off by at most half the spacing of doubles at x
//!   (ulp(x)/2), so sin and cos are within ulp(x) in absolute terms (the
//!   uncertainty that x itself carries) and stay in [-1, 1]. For
//!   |x| >= 2^51 (where ulp(x) >= 1/2 and sin x means nothing), for
//!   infinities and for NaN they are NaN.
//! - `atan`: within 1 ulp [1] everywhere; atan(+-inf) = +-pi/2.
//! - `sinh`, `cosh`: within 3 ulp [2] for |x| <= 709 (one more than
//!   `exp`'s 2 ulp, see [`kmath`](super::kmath)), within 5 ulp [4] up to
//!   their overflow at |x| = 710.475, and +-inf beyond, as libm.
//! - `sign`: exact, as `Builtin::eval`: -1, 1, and +0 for +-0 and NaN.
//! - `efun_prime`: within 3 ulp [3] of the exact derivative of
//!   u / (e^u - 1); it tends to 0 as u -> inf and to -1 as u -> -inf, and
//!   gives those limits at +-inf (the reference interpreter's formula gives
//!   NaN there). No kernel reaches it yet: it enters models through the
//!   Jacobians of implicit methods, which kernels do not run.
//!
//! Signed zeros follow libm: sin, tan, atan and sinh keep the sign of a
//! zero argument.

use super::builder::Builder;
use super::{Cmp, Inst, Val};
use crate::ir::Builtin;
use std::f64::consts::{FRAC_PI_2, FRAC_PI_4};

/// 1.5 * 2^52: (x + SHIFTER) - SHIFTER rounds x to the nearest integer
/// (ties to even) for |x| < 2^51.
const SHIFTER: f64 = super::kmath::SHIFTER;

/// pi/2 = P[0] + P[1] + P[2] + P[3] + P[4] to 164 bits (rounded to nearest
/// with mpmath at 400 bits): P[0..4] have at most 26 significant bits, so
/// k * P[i] is exact for integers |k| <= 2^27; P[4] is the 53-bit tail.
/// (Cody & Waite 1980, with more parts, as fdlibm's `__ieee754_rem_pio2`.)
const PIO2: [f64; 5] = [
    1.5707963407039642,
    -1.3909067675399456e-08,
    6.123233932053594e-17,
    6.368317178484799e-25,
    -1.4973849048591698e-33,
];

/// Beyond this |x| sin, cos and tan return NaN (see the module doc).
const TRIG_LIMIT: f64 = 2251799813685248.0; // 2^51

/// sin r = r + r^3 (S[0] + r^2 S[1] + ...) on |r| <= pi/4: fdlibm's
/// `k_sin.c` minimax coefficients (Sun, 1993; as musl's `__sin`). Their
/// approximation error is below 2^-57.5 relative there (checked with mpmath;
/// the libm comparison in `tests/builtins.rs` checks them too).
const SIN_C: [f64; 6] = [
    -0.16666666666666632,
    0.00833333333332249,
    -0.0001984126982985795,
    2.7557313707070068e-06,
    -2.5050760253406863e-08,
    1.58969099521155e-10,
];

/// cos r = 1 - r^2/2 + r^4 (C[0] + r^2 C[1] + ...) on |r| <= pi/4:
/// fdlibm's `k_cos.c` coefficients (error below 2^-59 relative).
const COS_C: [f64; 6] = [
    0.0416666666666666,
    -0.001388888888887411,
    2.480158728947673e-05,
    -2.7557314351390663e-07,
    2.087572321298175e-09,
    -1.1359647557788195e-11,
];

/// atan t = t - t (t^2 A[0] + t^4 A[1] + ...) on |t| <= 7/16: fdlibm's
/// `s_atan.c` coefficients (error below 2^-57.6 relative).
const ATAN_C: [f64; 11] = [
    0.3333333333333293,
    -0.19999999999876483,
    0.14285714272503466,
    -0.11111110405462356,
    0.09090887133436507,
    -0.0769187620504483,
    0.06661073137387531,
    -0.058335701337905735,
    0.049768779946159324,
    -0.036531572744216916,
    0.016285820115365782,
];

/// atan of the centres 0.5, 1, 1.5, inf of fdlibm's reduction intervals,
/// as a head and a tail (fdlibm's `atanhi`, `atanlo`).
const ATAN_HI: [f64; 4] = [0.4636476090008061, FRAC_PI_4, 0.982793723247329, FRAC_PI_2];
const ATAN_LO: [f64; 4] =
    [2.2698777452961687e-17, 3.061616997868383e-17, 1.3903311031230998e-17, 6.123233995736766e-17];

/// sinh x = x + x^3 (1/3! + x^2/5! + ... + x^20/23!) below this |x|: the
/// first term left out is below 2^-60 relative there, and beyond it
/// (e^x - e^-x)/2 cancels by at most a factor 1.04.
const SINH_SERIES: f64 = 2.0;

/// Beyond this |x| exp(|x|) overflows in kernels: sinh and cosh use
/// exp(|x|/2)^2 / 2 instead, which reaches libm's overflow at 710.475.
const HYP_SPLIT: f64 = 709.0;

/// Below this |u| efun_prime sums its Taylor series (Bernoulli numbers,
/// radius 2 pi); the 20 terms of [`EFUN_PRIME_C`] leave out less than
/// 2^-61 relative on |u| < 2.
const EFUN_PRIME_SERIES: f64 = 2.0;

/// d/du u/(e^u - 1) = -1/2 + sum_k D[k-1] u^(2k-1), D[k-1] = B_2k / (2k-1)!
/// (Bernoulli numbers), k = 1..=20, rounded to nearest from mpmath.
const EFUN_PRIME_C: [f64; 20] = [
    0.16666666666666666,
    -0.005555555555555556,
    0.0001984126984126984,
    -6.613756613756614e-06,
    2.08767569878681e-07,
    -6.3410281664249915e-09,
    1.873555114295855e-10,
    -5.423488474116132e-12,
    1.545491170130012e-13,
    -4.349737397116123e-15,
    1.2119806222392504e-16,
    -3.3490715245950057e-18,
    9.190238303036615e-20,
    -2.5069848795705132e-21,
    6.80385735701305e-23,
    -1.8383330140391048e-24,
    4.947586417090541e-26,
    -1.3269581786395117e-27,
    3.547959017696117e-29,
    -9.46008966280252e-31,
];

/// An argument reduced by pi/2: x = k pi/2 + (hi + lo), |hi + lo| <= pi/4
/// (a hair more where k rounds the other way), |lo| <= ulp(hi)/2, and
/// `q` = k mod 4 in {0, 1, 2, 3}.
struct Reduced {
    hi: Val,
    lo: Val,
    q: Val,
}

impl Builder<'_> {
    /// `fun` of the varying value `x` (see the module doc).
    pub(super) fn composed(&mut self, fun: Builtin, x: Val) -> Option<Val> {
        Some(match fun {
            Builtin::Sin => self.sin(x),
            Builtin::Cos => self.cos(x),
            Builtin::Tan => self.tan(x),
            Builtin::Atan => self.atan(x),
            Builtin::Sinh => self.sinh(x),
            Builtin::Cosh => self.cosh(x),
            Builtin::Sign => self.sign(x),
            Builtin::EfunPrime => self.efun_prime(x),
            _ => return None,
        })
    }

    fn add(&mut self, a: Val, b: Val) -> Val {
        self.bin(Inst::Add, a, b)
    }
    fn sub(&mut self, a: Val, b: Val) -> Val {
        self.bin(Inst::Sub, a, b)
    }
    fn mul(&mut self, a: Val, b: Val) -> Val {
        self.bin(Inst::Mul, a, b)
    }
    fn mulc(&mut self, a: Val, c: f64) -> Val {
        let c = self.konst(c);
        self.bin(Inst::Mul, a, c)
    }
    fn addc(&mut self, a: Val, c: f64) -> Val {
        let c = self.konst(c);
        self.bin(Inst::Add, a, c)
    }
    fn div(&mut self, a: Val, b: Val) -> Val {
        self.bin(Inst::Div, a, b)
    }
    fn neg(&mut self, a: Val) -> Val {
        self.un(Inst::Neg, a)
    }
    fn cmpc(&mut self, c: Cmp, a: Val, k: f64) -> Val {
        let k = self.konst(k);
        self.push_raw(Inst::Cmp(c, a, k))
    }
    fn sel(&mut self, mask: Val, a: Val, b: Val) -> Val {
        self.push_raw(Inst::Select(mask, a, b))
    }
    /// mask ? a : b, for constants.
    fn selc(&mut self, mask: Val, a: f64, b: f64) -> Val {
        let (a, b) = (self.konst(a), self.konst(b));
        self.sel(mask, a, b)
    }

    /// The nearest integer to `x` (ties to even), exact for |x| < 2^51.
    /// Written (x + S) - S with S = 1.5 * 2^52; the builder folds no such
    /// pair (only constants, x * 1 and x + 0), nor does Cranelift.
    fn round(&mut self, x: Val) -> Val {
        let t = self.addc(x, SHIFTER);
        self.addc(t, -SHIFTER)
    }

    /// Knuth's TwoSum: (s, e) with s = fl(a + b) and s + e = a + b exactly.
    fn two_sum(&mut self, a: Val, b: Val) -> (Val, Val) {
        let s = self.add(a, b);
        let bb = self.sub(s, a);
        let ab = self.sub(s, bb);
        let da = self.sub(a, ab);
        let db = self.sub(b, bb);
        (s, self.add(da, db))
    }

    /// c[0] + z (c[1] + z (c[2] + ...)).
    fn horner(&mut self, z: Val, c: &[f64]) -> Val {
        let mut acc = self.konst(c[c.len() - 1]);
        for &ck in c[..c.len() - 1].iter().rev() {
            let t = self.mul(acc, z);
            acc = self.addc(t, ck);
        }
        acc
    }

    /// x = k pi/2 + r: k = round(x 2/pi), then r = x - k P0 - k P1 - ...
    /// with every product exact (|k| <= 2^27) and the differences kept
    /// exactly as head + error terms by TwoSum, so that r keeps its
    /// relative accuracy even when x is within 2^-60 of a multiple of pi/2.
    /// x - k P0 is exact (Sterbenz: x and k P0 are within a factor 2).
    fn reduce(&mut self, x: Val) -> Reduced {
        let y = self.mulc(x, std::f64::consts::FRAC_2_PI);
        let k = self.round(y);
        let b0 = self.mulc(k, PIO2[0]);
        let a = self.sub(x, b0);
        let mut s = a;
        let mut err = Vec::with_capacity(3);
        for p in &PIO2[1..4] {
            let nb = self.mulc(k, -p);
            let (s2, e) = self.two_sum(s, nb);
            s = s2;
            err.push(e);
        }
        let nb4 = self.mulc(k, -PIO2[4]);
        let e01 = self.add(err[0], err[1]);
        let e012 = self.add(e01, err[2]);
        let lo = self.add(e012, nb4);
        let (hi, lo) = self.two_sum(s, lo);
        // k mod 4 = k - 4 floor(k/4), floor(k/4) = round(k/4 - 3/8) (no
        // ties: k/4 - 3/8 is an integer plus 1/8, 3/8, 5/8 or 7/8)
        let k4 = self.mulc(k, 0.25);
        let k4 = self.addc(k4, -0.375);
        let f = self.round(k4);
        let f4 = self.mulc(f, 4.0);
        let q = self.sub(k, f4);
        Reduced { hi, lo, q }
    }

    /// sin(x + y) for |x + y| <= pi/4, |y| <= ulp(x)/2 (musl's `__sin`).
    fn sin_kernel(&mut self, x: Val, y: Val) -> Val {
        let z = self.mul(x, x);
        let w = self.mul(z, z);
        let a = self.horner(z, &SIN_C[1..4]);
        let b = self.horner(z, &SIN_C[4..6]);
        let zw = self.mul(z, w);
        let zwb = self.mul(zw, b);
        let r = self.add(a, zwb);
        let v = self.mul(z, x);
        // x - ((z (y/2 - v r) - y) - v S1)
        let hy = self.mulc(y, 0.5);
        let vr = self.mul(v, r);
        let t = self.sub(hy, vr);
        let t = self.mul(z, t);
        let t = self.sub(t, y);
        let vs = self.mulc(v, SIN_C[0]);
        let t = self.sub(t, vs);
        self.sub(x, t)
    }

    /// cos(x + y) for |x + y| <= pi/4, |y| <= ulp(x)/2 (musl's `__cos`:
    /// 1 - z/2 rounded, its rounding error added back).
    fn cos_kernel(&mut self, x: Val, y: Val) -> Val {
        let z = self.mul(x, x);
        let w = self.mul(z, z);
        let a = self.horner(z, &COS_C[0..3]);
        let a = self.mul(z, a);
        let b = self.horner(z, &COS_C[3..6]);
        let ww = self.mul(w, w);
        let b = self.mul(ww, b);
        let r = self.add(a, b);
        let hz = self.mulc(z, 0.5);
        let one = self.konst(1.0);
        let w = self.sub(one, hz);
        // w + (((1 - w) - hz) + (z r - x y))
        let c = self.sub(one, w);
        let c = self.sub(c, hz);
        let zr = self.mul(z, r);
        let xy = self.mul(x, y);
        let d = self.sub(zr, xy);
        let c = self.add(c, d);
        self.add(w, c)
    }

    /// sin and cos of the reduced argument, and masks: k odd, and the
    /// quadrants where sin's and cos's results change sign.
    fn sin_cos(&mut self, x: Val) -> (Val, Val, Val, Val, Val) {
        let r = self.reduce(x);
        let s = self.sin_kernel(r.hi, r.lo);
        let c = self.cos_kernel(r.hi, r.lo);
        let q1 = self.cmpc(Cmp::Eq, r.q, 1.0);
        let q3 = self.cmpc(Cmp::Eq, r.q, 3.0);
        let odd = self.push_raw(Inst::Or(q1, q3));
        let sin_neg = self.cmpc(Cmp::Ge, r.q, 2.0);
        let q2 = self.cmpc(Cmp::Eq, r.q, 2.0);
        let cos_neg = self.push_raw(Inst::Or(q1, q2));
        (s, c, odd, sin_neg, cos_neg)
    }

    /// `v` where |x| < 2^51, else NaN (NaN and infinities included).
    fn in_trig_range(&mut self, x: Val, v: Val) -> Val {
        let ax = self.un(Inst::Abs, x);
        let ok = self.cmpc(Cmp::Lt, ax, TRIG_LIMIT);
        let nan = self.konst(f64::NAN);
        self.sel(ok, v, nan)
    }

    /// `v`, or x itself where x is +-0 (the reduction's subtractions
    /// turn -0 into +0).
    fn keep_zero(&mut self, x: Val, v: Val) -> Val {
        let zero = self.cmpc(Cmp::Eq, x, 0.0);
        self.sel(zero, x, v)
    }

    fn sin(&mut self, x: Val) -> Val {
        let (s, c, odd, neg, _) = self.sin_cos(x);
        let v = self.sel(odd, c, s);
        let nv = self.neg(v);
        let v = self.sel(neg, nv, v);
        let v = self.keep_zero(x, v);
        self.in_trig_range(x, v)
    }

    fn cos(&mut self, x: Val) -> Val {
        let (s, c, odd, _, neg) = self.sin_cos(x);
        let v = self.sel(odd, s, c);
        let nv = self.neg(v);
        let v = self.sel(neg, nv, v);
        self.in_trig_range(x, v)
    }

    /// tan = sin r / cos r for even k, -cos r / sin r for odd k.
    fn tan(&mut self, x: Val) -> Val {
        let (s, c, odd, _, _) = self.sin_cos(x);
        let nc = self.neg(c);
        let num = self.sel(odd, nc, s);
        let den = self.sel(odd, s, c);
        let v = self.div(num, den);
        let v = self.keep_zero(x, v);
        self.in_trig_range(x, v)
    }

    /// fdlibm's `s_atan.c` without branches: |x| is mapped by one of five
    /// Möbius maps t = (|x| p - q) / (r + |x| s), chosen by comparisons, to
    /// |t| <= 7/16, and atan|x| = atan(c) + atan t for the interval's
    /// centre c (0, 0.5, 1, 1.5, inf); the numerators are exact
    /// (Sterbenz), so the result is within 1 ulp.
    fn atan(&mut self, x: Val) -> Val {
        let ax = self.un(Inst::Abs, x);
        let ge = [7.0 / 16.0, 11.0 / 16.0, 19.0 / 16.0, 39.0 / 16.0].map(|b| self.cmpc(Cmp::Ge, ax, b));
        // per interval (below 7/16, then the four centres): p, q, r, s, hi, lo
        let table: [[f64; 6]; 5] = [
            [1.0, 0.0, 1.0, 0.0, 0.0, 0.0],
            [2.0, 1.0, 2.0, 1.0, ATAN_HI[0], ATAN_LO[0]],
            [1.0, 1.0, 1.0, 1.0, ATAN_HI[1], ATAN_LO[1]],
            [1.0, 1.5, 1.0, 1.5, ATAN_HI[2], ATAN_LO[2]],
            [0.0, 1.0, 0.0, 1.0, ATAN_HI[3], ATAN_LO[3]],
        ];
        let mut pick = [0; 6];
        for (j, slot) in pick.iter_mut().enumerate() {
            let mut v = self.konst(table[0][j]);
            for (i, &g) in ge.iter().enumerate() {
                let c = self.konst(table[i + 1][j]);
                v = self.sel(g, c, v);
            }
            *slot = v;
        }
        let [p, q, r, s, hi, lo] = pick;
        // past 39/16 the numerator is -1 and the denominator |x| (also
        // for |x| = inf, where |x| * 0 would be NaN)
        let axp = self.mul(ax, p);
        let num = self.sub(axp, q);
        let m1 = self.konst(-1.0);
        let num = self.sel(ge[3], m1, num);
        let axs = self.mul(ax, s);
        let den = self.add(r, axs);
        let den = self.sel(ge[3], ax, den);
        let t = self.div(num, den);
        // hi - ((t (s1 + s2) - lo) - t), s1 and s2 the even and odd terms
        let z = self.mul(t, t);
        let w = self.mul(z, z);
        let even: Vec<f64> = ATAN_C.iter().step_by(2).copied().collect();
        let odd: Vec<f64> = ATAN_C.iter().skip(1).step_by(2).copied().collect();
        let s1 = self.horner(w, &even);
        let s1 = self.mul(z, s1);
        let s2 = self.horner(w, &odd);
        let s2 = self.mul(w, s2);
        let sum = self.add(s1, s2);
        let ts = self.mul(t, sum);
        let d = self.sub(ts, lo);
        let d = self.sub(d, t);
        let v = self.sub(hi, d);
        let neg = self.cmpc(Cmp::Lt, x, 0.0);
        let nv = self.neg(v);
        let v = self.sel(neg, nv, v);
        self.keep_zero(x, v)
    }

    /// e^y for y = |x|, or for y = |x|/2 beyond [`HYP_SPLIT`]; and the mask
    /// saying which.
    fn hyp_exp(&mut self, ax: Val) -> (Val, Val) {
        let big = self.cmpc(Cmp::Gt, ax, HYP_SPLIT);
        let half = self.mulc(ax, 0.5);
        let y = self.sel(big, half, ax);
        (self.un(Inst::Exp, y), big)
    }

    /// cosh x = (e^|x| + e^-|x|) / 2; beyond 709, (e^(|x|/2) / 2) e^(|x|/2).
    fn cosh(&mut self, x: Val) -> Val {
        let ax = self.un(Inst::Abs, x);
        let (e, big) = self.hyp_exp(ax);
        let he = self.mulc(e, 0.5);
        let hk = self.konst(0.5);
        let inv = self.div(hk, e);
        let small = self.add(he, inv);
        let large = self.mul(he, e);
        self.sel(big, large, small)
    }

    /// sinh x: its Taylor series for |x| < 2 (no cancellation), else
    /// (e^|x| - e^-|x|) / 2 with x's sign; beyond 709 as cosh.
    fn sinh(&mut self, x: Val) -> Val {
        let ax = self.un(Inst::Abs, x);
        let (e, big) = self.hyp_exp(ax);
        let he = self.mulc(e, 0.5);
        let hk = self.konst(0.5);
        let inv = self.div(hk, e);
        let mid = self.sub(he, inv);
        let large = self.mul(he, e);
        let v = self.sel(big, large, mid);
        let neg = self.cmpc(Cmp::Lt, x, 0.0);
        let nv = self.neg(v);
        let v = self.sel(neg, nv, v);
        // x + x^3 (1/3! + x^2/5! + ... + x^20/23!)
        let c: Vec<f64> = (0..11).map(|j| 1.0 / factorial(2 * j + 3)).collect();
        let z = self.mul(x, x);
        let p = self.horner(z, &c);
        let x3 = self.mul(z, x);
        let t = self.mul(x3, p);
        let series = self.add(x, t);
        let small = self.cmpc(Cmp::Lt, ax, SINH_SERIES);
        self.sel(small, series, v)
    }

    /// -1 for x < 0, 1 for x > 0, else +0 (zeros and NaN), as
    /// `Builtin::eval`.
    fn sign(&mut self, x: Val) -> Val {
        let lt = self.cmpc(Cmp::Lt, x, 0.0);
        let gt = self.cmpc(Cmp::Gt, x, 0.0);
        let v = self.selc(lt, -1.0, 0.0);
        let one = self.konst(1.0);
        self.sel(gt, one, v)
    }

    /// g'(u) for g(u) = u / (e^u - 1). For |u| < 2 the series
    /// -1/2 + u (D0 + u^2 D1 + ...): no cancellation, exactly -1/2 at 0.
    /// For |u| >= 2, with a = |u| and w = e^-a: g'(a) = -w (a - 1 + w) /
    /// (1 - w)^2 (every term of one sign) and g'(-a) = -1 - g'(a) (from
    /// g(-a) = g(a) + a). Beyond a = 700, w (a - 1 + w) is computed as
    /// (e^(-a/2) (a - 1)) e^(-a/2), so that it underflows gradually as libm's
    /// would instead of with exp's flush below -708; a is capped at 1e3 so
    /// that +-inf give the limits 0 and -1, not inf * 0.
    fn efun_prime(&mut self, u: Val) -> Val {
        let z = self.mul(u, u);
        let p = self.horner(z, &EFUN_PRIME_C);
        let up = self.mul(u, p);
        let series = self.addc(up, -0.5);
        let au = self.un(Inst::Abs, u);
        let cap = self.konst(1e3);
        let a = self.bin(Inst::Min, au, cap);
        let big = self.cmpc(Cmp::Gt, a, 700.0);
        let half = self.mulc(a, -0.5);
        let na = self.neg(a);
        let y = self.sel(big, half, na);
        let e = self.un(Inst::Exp, y);
        let ee = self.mul(e, e);
        let w = self.sel(big, ee, e);
        let am1 = self.addc(a, -1.0);
        let num = self.add(am1, w);
        let wn = self.mul(w, num);
        let huge = self.mul(am1, e);
        let huge = self.mul(huge, e);
        let wn = self.sel(big, huge, wn);
        let one = self.konst(1.0);
        let d = self.sub(one, w);
        let d2 = self.mul(d, d);
        let g = self.div(wn, d2);
        let pos = self.neg(g);
        // u < 0: -1 - g'(a) = -1 + w (a - 1 + w) / (1 - w)^2
        let m1 = self.konst(-1.0);
        let negv = self.add(m1, g);
        let is_neg = self.cmpc(Cmp::Lt, u, 0.0);
        let direct = self.sel(is_neg, negv, pos);
        let small = self.cmpc(Cmp::Lt, au, EFUN_PRIME_SERIES);
        self.sel(small, series, direct)
    }
}

/// n! as an f64 (exact for n <= 22).
fn factorial(n: u32) -> f64 {
    (2..=n).map(f64::from).product()
}
