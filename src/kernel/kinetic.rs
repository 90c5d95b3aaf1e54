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
//! renormalized. The truncation error is at most twice the tail mass, kept
//! below 1e-15 for every rho up to the bound [`Plan::rho_max`] the kernel is
//! built for; a lane whose rho exceeds it stores the
//! [`fault::KINETIC`](super::fault::KINETIC) NaN, which the runtime reports
//! (E0403) with the neuron and the step. Detailed balance holds where the
//! rates give it, as for the exact exponential.
//!
//! Cost: K sparse products P v (one multiply-add per reaction direction and
//! one per species) and K weighted sums. The bound rho_max comes from the
//! rates at the model's initial state with every voltage swept over
//! [-100 mV, 60 mV], times a margin of 2, rounded up to a power of two and
//! at most [`RHO_CAP`]; K is the smallest count whose tail at rho_max is
//! below 1e-16 (22 terms for rho_max = 2, 30 for 8, 128 for 64).

use super::blocks::Start;
use super::builder::Builder;
use super::{fault, Cmp, Inst, Unsupported, Val};
use crate::ir::eval::{eval, eval_values, Env};
use crate::ir::{ExprId, Model};

/// The truncation the kernel is built for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Plan {
    /// The largest lambda h the series is accurate for.
    pub rho_max: f64,
    /// Terms of the series after the first.
    pub terms: usize,
}

/// Margin between the estimated largest lambda h and the bound.
const MARGIN: f64 = 2.0;
/// The largest bound a kernel is built for (about 128 terms): a scheme
/// faster than this for the step needs a smaller step.
pub const RHO_CAP: f64 = 64.0;
/// The Poisson tail left out, at most.
const TAIL: f64 = 1e-16;

impl Plan {
    /// The plan for kinetic scheme `k` of `m` with step `dt`.
    pub fn for_scheme(m: &Model, params: &[f64], k: usize, dt: f64) -> Plan {
        let rho = estimate_rate(m, params, k) * dt * MARGIN;
        // a power of two, at least 1: tens of builds share a few plans
        let rho_max = if rho.is_finite() && rho > 1.0 { 2f64.powi(rho.log2().ceil() as i32).min(RHO_CAP) } else { 1.0 };
        Plan { rho_max, terms: terms_for(rho_max) }
    }
}

/// The smallest K with P(N > K) < [`TAIL`] for N Poisson with mean `rho`.
pub fn terms_for(rho: f64) -> usize {
    // pmf by recurrence in logs (no underflow of e^{-rho} for large rho)
    let mut log_p = -rho;
    let mut cdf = log_p.exp();
    let mut k = 0usize;
    while 1.0 - cdf > TAIL * 0.5 && k < 10_000 {
        k += 1;
        log_p += rho.ln() - (k as f64).ln();
        cdf += log_p.exp();
        // 1 - cdf loses digits near 1: sum the tail directly once small
        if 1.0 - cdf < 1e-6 {
            let (mut tail, mut lp, mut j) = (0.0, log_p, k);
            loop {
                j += 1;
                lp += rho.ln() - (j as f64).ln();
                let p = lp.exp();
                tail += p;
                if p < tail * 1e-17 || j > k + 10_000 {
                    break;
                }
            }
            if tail < TAIL {
                return k.max(1);
            }
        }
    }
    k.max(1)
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
    // Poisson weights; the last takes the tail
    let neg = b.un(Inst::Neg, rho);
    let mut w = vec![b.un(Inst::Exp, neg)];
    let mut sum = w[0];
    for j in 1..plan.terms {
        let c = b.konst(1.0 / j as f64);
        let r = b.bin(Inst::Mul, rho, c);
        let next = b.bin(Inst::Mul, w[j - 1], r);
        sum = b.bin(Inst::Add, sum, next);
        w.push(next);
    }
    // exact (Sterbenz): the weights sum to one as computed, even where
    // rounding put `sum` a little above one (the tail then slightly below
    // zero); clamping it at zero would bias every step the same way
    w.push(b.bin(Inst::Sub, one, sum));
    // sum_k w_k P^k p
    let mut v: Vec<Val> = kin.species.iter().map(|&sp| s.old[sp]).collect();
    let mut acc: Vec<Val> = v.iter().map(|&x| b.bin(Inst::Mul, w[0], x)).collect();
    for &wk in &w[1..] {
        let mut next: Vec<Val> = (0..n).map(|a| b.bin(Inst::Mul, diag[a], v[a])).collect();
        for &(from, to, f, r) in &scaled {
            let into_to = b.bin(Inst::Mul, f, v[from]);
            next[to] = b.bin(Inst::Add, next[to], into_to);
            let into_from = b.bin(Inst::Mul, r, v[to]);
            next[from] = b.bin(Inst::Add, next[from], into_from);
        }
        for a in 0..n {
            let t = b.bin(Inst::Mul, wk, next[a]);
            acc[a] = b.bin(Inst::Add, acc[a], t);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_cover_the_poisson_tail() {
        // P(N > K) for N ~ Poisson(1) falls below 1e-16 at K = 18
        let k = terms_for(1.0);
        assert!((17..=19).contains(&k), "{k}");
        // more terms for larger rho, about rho + 6 sqrt(rho) + 10
        let k8 = terms_for(8.0);
        assert!(k8 > k && k8 < 45, "{k8}");
        assert!(terms_for(64.0) < 130);
    }
}
