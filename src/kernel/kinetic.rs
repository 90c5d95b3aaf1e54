//! Kinetic (Markov) schemes in kernels: the exact propagator at frozen
//! rates, by uniformization.
//!
//! Over one step the species p of a scheme follow dp/dt = Q p, Q the rate
//! matrix (off-diagonal q_ba the rate from a to b, columns summing to zero)
//! read at the start of the step, as the reference interpreter reads it
//! (which computes e^{Q h} p by scaling and squaring). A kernel is
//! straight-line code on two lanes at once, so it cannot choose per lane
//! how often to square. It uses uniformization instead (Jensen 1953;
//! Grassmann 1977): with lambda >= the largest outflow rate of the lane,
//! P = I + Q / lambda is a stochastic matrix (non-negative, columns summing
//! to one) and
//!
//! ```text
//! e^{Q h} p = sum_k  e^{-rho} rho^k / k!  P^k p,    rho = lambda h.
//! ```
//!
//! Every term is non-negative: the result keeps occupancies non-negative
//! with no cancellation. The series stops after K terms, and the last
//! weight takes the Poisson tail (w_K = 1 - sum of the others), so the
//! result is a convex combination of the stochastic vectors P^k p: the
//! total occupancy is conserved by construction (to rounding), never
//! renormalized. The truncation error is at most twice the tail mass: below
//! 1e-14 at the design point [`Plan::rho_design`] and 1e-10 up to
//! [`Plan::rho_max`]; a lane whose rho exceeds that stores the
//! [`fault::KINETIC`](super::fault::KINETIC) NaN, which the runtime reports
//! (E0403) with the neuron and the step. Detailed balance holds where the
//! rates give it, as for the exact exponential.
//!
//! Cost: K sparse products P v (one multiply-add per reaction direction and
//! one per species) and K weighted sums. The design point is the largest
//! outflow rate at the model's initial state with every voltage swept over
//! [-100 mV, 60 mV], times dt and a margin of 1.25; K is the smallest count
//! whose tail there is below 1e-14 (about 13 terms for the HH sodium
//! scheme at dt = 0.01 ms, 19 at 0.025 ms).

use super::blocks::Start;
use super::builder::Builder;
use super::{fault, Cmp, Inst, Unsupported, Val};
use crate::ir::eval::{eval, eval_values, Env};
use crate::ir::{ExprId, Model};

/// The truncation the kernel is built for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Plan {
    /// The lambda h the terms are chosen for (truncation below [`TAIL`]).
    pub rho_design: f64,
    /// The largest lambda h a lane may reach (truncation below
    /// [`TAIL_FAULT`]); beyond, the lane faults.
    pub rho_max: f64,
    /// Terms of the series after the first.
    pub terms: usize,
}

/// Margin between the estimated largest lambda h and the design point.
const MARGIN: f64 = 1.25;
/// The largest design point (about 120 terms): a scheme faster than this
/// for the step needs a smaller step.
pub const RHO_CAP: f64 = 64.0;
/// The Poisson tail left out at the design point, at most.
const TAIL: f64 = 1e-14;
/// The Poisson tail left out at the fault bound, at most.
const TAIL_FAULT: f64 = 1e-10;

impl Plan {
    /// The plan for kinetic scheme `k` of `m` with step `dt`.
    pub fn for_scheme(m: &Model, params: &[f64], k: usize, dt: f64) -> Plan {
        let rho = estimate_rate(m, params, k) * dt * MARGIN;
        // at least 1/2, rounded up to a quarter
        let rho_design = if rho.is_finite() { ((rho * 4.0).ceil() / 4.0).clamp(0.5, RHO_CAP) } else { RHO_CAP };
        let terms = terms_for(rho_design, TAIL);
        let mut rho_max = rho_design;
        while tail(rho_max + 0.125, terms) < TAIL_FAULT {
            rho_max += 0.125;
        }
        Plan { rho_design, rho_max, terms }
    }
}

/// P(N > k) for N Poisson with mean `rho`, summed from the terms above k.
fn tail(rho: f64, k: usize) -> f64 {
    let mut lp = -rho + (1..=k + 1).map(|j| rho.ln() - (j as f64).ln()).sum::<f64>();
    let (mut sum, mut j) = (0.0, k + 1);
    loop {
        let p = lp.exp();
        sum += p;
        j += 1;
        lp += rho.ln() - (j as f64).ln();
        if p <= sum * 1e-17 || j > k + 100_000 {
            return sum;
        }
    }
}

/// The smallest K with P(N > K) < `below` for N Poisson with mean `rho`.
pub fn terms_for(rho: f64, below: f64) -> usize {
    (1..100_000).find(|&k| tail(rho, k) < below).unwrap_or(100_000)
}

/// The largest outflow rate of scheme `k` (1/s) at the model's initial
/// state, with each voltage state swept over [-100 mV, 60 mV].
fn estimate_rate(m: &Model, params: &[f64], k: usize) -> f64 {
    let Some(kin) = m.kinetics.get(k) else { return 0.0 };
    let exprs: Vec<ExprId> = m.values.iter().map(|v| v.expr).collect();
    let mut y = vec![0.0; m.states.len()];
    let mut values = Vec::new();
    for &i in &m.init_order {
        eval_values(m, 0.0, &y, params, &exprs, &mut values);
        let v = eval(m, m.states[i].init, &Env { t: 0.0, states: &y, params, values: &values, args: &[] });
        y[i] = if v.is_finite() { v } else { 0.0 };
    }
    let voltages: Vec<usize> =
        (0..m.states.len()).filter(|&i| m.states[i].dim == crate::units::dims::voltage()).collect();
    let mut sweep: Vec<Vec<f64>> = vec![y.clone()];
    for mv in (-100..=60).step_by(2) {
        let mut z = y.clone();
        for &i in &voltages {
            z[i] = mv as f64 * 1e-3;
        }
        if !voltages.is_empty() {
            sweep.push(z);
        }
    }
    let mut most: f64 = 0.0;
    for z in &sweep {
        eval_values(m, 0.0, z, params, &exprs, &mut values);
        let env = Env { t: 0.0, states: z, params, values: &values, args: &[] };
        let mut out = vec![0.0; kin.species.len()];
        for r in &kin.reactions {
            let (a, b) = (species_pos(&kin.species, r.from), species_pos(&kin.species, r.to));
            out[a] += eval(m, r.forward, &env).abs();
            out[b] += eval(m, r.backward, &env).abs();
        }
        for o in out.into_iter().filter(|o| o.is_finite()) {
            most = most.max(o);
        }
    }
    most
}

fn species_pos(species: &[usize], s: usize) -> usize {
    species.iter().position(|&x| x == s).unwrap_or(0)
}

/// Scheme `k`: writes its species' new occupancies into `new`.
pub(super) fn emit(b: &mut Builder, k: usize, s: &Start, new: &mut [Val]) -> Result<(), Unsupported> {
    let m = b.m;
    let Some(kin) = m.kinetics.get(k) else { return Err(Unsupported("a kinetic block without its scheme".into())) };
    let plan = Plan::for_scheme(m, b.params, k, s.dt);
    let n = kin.species.len();
    let env0 = s.env0();
    // rates at the start of the step (inside it, as the reference reads them)
    let mut rates = Vec::with_capacity(kin.reactions.len());
    for r in &kin.reactions {
        let (from, to) = (species_pos(&kin.species, r.from), species_pos(&kin.species, r.to));
        let kf = b.expr(r.forward, &env0)?;
        let kb = b.expr(r.backward, &env0)?;
        rates.push((from, to, kf, kb));
    }
    // outflow of each species, and lambda: the largest (at least tiny, so
    // that a scheme at rest divides by something)
    let zero = b.konst(0.0);
    let mut outflow = vec![zero; n];
    for &(from, to, kf, kb) in &rates {
        outflow[from] = b.bin(Inst::Add, outflow[from], kf);
        outflow[to] = b.bin(Inst::Add, outflow[to], kb);
    }
    let mut lambda = b.konst(f64::MIN_POSITIVE);
    for &o in &outflow {
        lambda = b.bin(Inst::Max, lambda, o);
    }
    b.name(lambda, format!("uniformization rate of {}", kin.channel));
    let one = b.konst(1.0);
    let inv = b.bin(Inst::Div, one, lambda);
    // P = I + Q / lambda: the scaled rates, and the diagonal as one minus
    // the scaled outflow (each column of P then sums to one up to a single
    // rounding of random sign, not a bias that would accumulate over
    // steps), at least zero
    let scaled: Vec<(usize, usize, Val, Val)> = rates
        .iter()
        .map(|&(from, to, kf, kb)| (from, to, b.bin(Inst::Mul, kf, inv), b.bin(Inst::Mul, kb, inv)))
        .collect();
    let mut out_scaled = vec![zero; n];
    for &(from, to, f, r) in &scaled {
        out_scaled[from] = b.bin(Inst::Add, out_scaled[from], f);
        out_scaled[to] = b.bin(Inst::Add, out_scaled[to], r);
    }
    let diag: Vec<Val> = out_scaled
        .iter()
        .map(|&o| {
            let d = b.bin(Inst::Sub, one, o);
            b.bin(Inst::Max, d, zero)
        })
        .collect();
    let rho = b.bin(Inst::Mul, lambda, s.dtv);
    // sum_k w_k P^k p, with the Poisson weights w_k = e^{-rho} rho^k / k!
    // made as they are used (all of them at once would stay live through
    // the whole series); the last takes the tail: exact (Sterbenz), the
    // weights sum to one as computed, even where rounding put the others'
    // sum a little above one (the tail then slightly below zero; clamping
    // it at zero would bias every step the same way)
    let neg = b.un(Inst::Neg, rho);
    let mut w = b.un(Inst::Exp, neg);
    let mut sum = w;
    let mut v: Vec<Val> = kin.species.iter().map(|&sp| s.old[sp]).collect();
    let mut acc: Vec<Val> = v.iter().map(|&x| b.bin(Inst::Mul, w, x)).collect();
    for j in 1..=plan.terms {
        let wk = if j < plan.terms {
            let c = b.konst(1.0 / j as f64);
            let r = b.bin(Inst::Mul, rho, c);
            w = b.bin(Inst::Mul, w, r);
            sum = b.bin(Inst::Add, sum, w);
            w
        } else {
            b.bin(Inst::Sub, one, sum)
        };
        let mut next: Vec<Val> = (0..n).map(|a| b.bin(Inst::Mul, diag[a], v[a])).collect();
        // fused multiply-adds: one rounding each, half the instructions
        for &(from, to, f, r) in &scaled {
            next[to] = b.mul_add(f, v[from], next[to]);
            next[from] = b.mul_add(r, v[to], next[from]);
        }
        for a in 0..n {
            acc[a] = b.mul_add(wk, next[a], acc[a]);
        }
        v = next;
    }
    // a lane beyond the bound stores the fault NaN
    let bound = b.konst(plan.rho_max);
    let over = b.push_raw(Inst::Cmp(Cmp::Gt, rho, bound));
    let nan = b.konst(fault::KINETIC);
    for (a, &sp) in kin.species.iter().enumerate() {
        // a slightly negative tail weight on a species that only its last
        // term reaches: at most -1e-16 of it, kept at zero
        let kept = b.bin(Inst::Max, acc[a], zero);
        new[sp] = b.push_raw(Inst::Select(over, nan, kept));
    }
    Ok(())
}

/// Scheme `k` by backward Euler: (I - Q dt) p' = p, solved by
/// [`linalg::kinetic_backward_euler`](crate::schemes::linalg::kinetic_backward_euler)'s
/// elimination, unrolled over the scheme's pattern (fill-in included): the
/// same operations in the same order, so the kernel and the reference
/// interpreter agree to the last bit. Every operation adds non-negative
/// numbers: occupancies stay non-negative for any dt, their sum is
/// conserved to rounding, and no rate is too fast (there is no fault).
pub(super) fn emit_implicit(b: &mut Builder, k: usize, s: &Start, new: &mut [Val]) -> Result<(), Unsupported> {
    let m = b.m;
    let Some(kin) = m.kinetics.get(k) else { return Err(Unsupported("a kinetic block without its scheme".into())) };
    let n = kin.species.len();
    let env0 = s.env0();
    // q_ik summed over reactions in their order, then n_ik = q_ik dt
    let mut q: Vec<Option<Val>> = vec![None; n * n];
    for r in &kin.reactions {
        let (from, to) = (species_pos(&kin.species, r.from), species_pos(&kin.species, r.to));
        let kf = b.expr(r.forward, &env0)?;
        let kb = b.expr(r.backward, &env0)?;
        for (at, rate) in [(to * n + from, kf), (from * n + to, kb)] {
            q[at] = Some(match q[at] {
                Some(x) => b.bin(Inst::Add, x, rate),
                None => rate,
            });
        }
    }
    let mut off: Vec<Option<Val>> =
        (0..n * n).map(|ik| q[ik].filter(|_| ik / n != ik % n).map(|x| b.bin(Inst::Mul, x, s.dtv))).collect();
    let one = b.konst(1.0);
    let mut c = vec![one; n];
    let mut d = vec![one; n];
    let mut g: Vec<Val> = kin.species.iter().map(|&sp| s.old[sp]).collect();
    for kk in 0..n {
        d[kk] = c[kk];
        for i in kk + 1..n {
            if let Some(x) = off[i * n + kk] {
                d[kk] = b.bin(Inst::Add, d[kk], x);
            }
        }
        let inv = b.bin(Inst::Div, one, d[kk]);
        for i in kk + 1..n {
            let Some(below) = off[i * n + kk] else { continue };
            let f = b.bin(Inst::Mul, below, inv);
            for j in kk + 1..n {
                let Some(upper) = off[kk * n + j].filter(|_| j != i) else { continue };
                off[i * n + j] = Some(match off[i * n + j] {
                    Some(x) => b.mul_add(f, upper, x),
                    None => b.bin(Inst::Mul, f, upper),
                });
            }
            g[i] = b.mul_add(f, g[kk], g[i]);
        }
        let ck = b.bin(Inst::Mul, c[kk], inv);
        for j in kk + 1..n {
            if let Some(upper) = off[kk * n + j] {
                c[j] = b.mul_add(upper, ck, c[j]);
            }
        }
    }
    let mut x = vec![one; n];
    for i in (0..n).rev() {
        let mut acc = g[i];
        for j in i + 1..n {
            if let Some(u) = off[i * n + j] {
                acc = b.mul_add(u, x[j], acc);
            }
        }
        x[i] = b.bin(Inst::Div, acc, d[i]);
    }
    for (a, &sp) in kin.species.iter().enumerate() {
        new[sp] = x[a];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_cover_the_poisson_tail() {
        // P(N > K) for N ~ Poisson(1) falls below 1e-16 at K = 18
        let k = terms_for(1.0, 1e-16);
        assert!((17..=19).contains(&k), "{k}");
        // 1 - sum_{j <= 2} e^{-1} / j! = 0.0803
        assert!((tail(1.0, 2) - 0.080_301_397_071_394_2).abs() < 1e-12);
        // more terms for larger rho, about rho + 6 sqrt(rho) + 10
        let k8 = terms_for(8.0, 1e-16);
        assert!(k8 > k && k8 < 45, "{k8}");
        assert!(terms_for(64.0, 1e-16) < 160);
    }
}
