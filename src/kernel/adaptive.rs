//! rk45 in kernels: Dormand & Prince (1980) 5(4) with per-neuron step
//! control inside the fixed output step, as the reference interpreter
//! does it.
//!
//! Each lane advances its own sub-steps over [t, t + dt]: a trial of size
//! hh (at most what is left of the step) is accepted when the embedded
//! error estimate, measured against `RTOL` times the size of each
//! state, is at most one; either way the next trial is hh times
//! 0.9 err^(-1/5) clamped to [0.2, 5] (a tenth after a non-finite
//! estimate). Straight-line code cannot loop, so the kernel unrolls
//! [`ATTEMPTS`] trials and masks a lane that has reached the end of its
//! step (it keeps its state); a lane that has not reached it after them
//! stores the [`fault::ADAPTIVE`](super::fault::ADAPTIVE) NaN, reported as
//! E0403 with the neuron, the state and the step (a smaller `dt` gives it
//! more trials per unit of time).
//!
//! Each neuron carries its next trial size from step to step in a hidden
//! state array, as the reference carries its last accepted size (the
//! kernel carries the proposal after the largest trial accepted in the
//! step, not after the step's last remainder). Differences from the
//! reference, which agree within the tolerance but not bit for bit: the
//! sizes the tolerance is relative to are those of the current trial (the
//! reference keeps the largest seen over the run).

use super::blocks::{rhs_all, Start};
use super::builder::{Builder, Frame, FxMap};
use super::{fault, Cmp, Inst, Unsupported, Val};

/// Trials per output step.
pub const ATTEMPTS: usize = 8;
/// The relative tolerance, the reference interpreter's.
pub const RTOL: f64 = 1e-8;

const C: [f64; 7] = [0.0, 0.2, 0.3, 0.8, 8.0 / 9.0, 1.0, 1.0];
const A: [[f64; 6]; 7] = [
    [0.0; 6],
    [0.2, 0.0, 0.0, 0.0, 0.0, 0.0],
    [3.0 / 40.0, 9.0 / 40.0, 0.0, 0.0, 0.0, 0.0],
    [44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0, 0.0, 0.0, 0.0],
    [19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0, 0.0, 0.0],
    [9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0, 49.0 / 176.0, -5103.0 / 18656.0, 0.0],
    [35.0 / 384.0, 0.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0],
];
/// Fifth minus fourth order weights: the error estimate.
const E: [f64; 7] =
    [71.0 / 57600.0, 0.0, -71.0 / 16695.0, 71.0 / 1920.0, -17253.0 / 339200.0, 22.0 / 525.0, -1.0 / 40.0];

/// `sum_j coef[j] k[j][r]` over the non-zero coefficients, in order.
fn combine(b: &mut Builder, coef: &[f64], k: &[Vec<Val>], r: usize) -> Val {
    let mut acc: Option<Val> = None;
    for (j, &c) in coef.iter().enumerate() {
        if c == 0.0 || j >= k.len() {
            continue;
        }
        let cv = b.konst(c);
        let term = b.bin(Inst::Mul, cv, k[j][r]);
        acc = Some(match acc {
            Some(a) => b.bin(Inst::Add, a, term),
            None => term,
        });
    }
    acc.unwrap_or_else(|| b.konst(0.0))
}

/// An rk45 block: writes its states' new values into `new`.
pub(super) fn emit(b: &mut Builder, states: &[usize], s: &Start, new: &mut [Val]) -> Result<(), Unsupported> {
    let n = states.len();
    let mut z: Vec<Val> = states.iter().map(|&i| s.old[i]).collect();
    let zero = b.konst(0.0);
    let (one, tenth) = (b.konst(1.0), b.konst(0.1));
    let (lo_f, hi_f, safety, fifth) = (b.konst(0.2), b.konst(5.0), b.konst(0.9), b.konst(-0.2));
    let (rtol, tiny, floor) = (b.konst(RTOL), b.konst(1e-300), b.konst(1e-10));
    let end = b.konst(s.dt * (1.0 - 1e-12));
    let mut done_s = zero; // time advanced within the step
                           // the first trial: the size carried from the last step (a hidden
                           // state, as the reference carries its last accepted size), at most
                           // the step; the whole step when unset
    let slot = b.hidden_base + b.hidden.len() as u32;
    let carried = b.push(Inst::State(slot));
    let set = b.push_raw(Inst::Cmp(Cmp::Gt, carried, zero));
    let capped = b.bin(Inst::Min, carried, s.dtv);
    let mut hh = b.push_raw(Inst::Select(set, capped, s.dtv));
    let mut carry = zero;
    let mut done: Option<Val> = None;
    for _ in 0..ATTEMPTS {
        let left = b.bin(Inst::Sub, s.dtv, done_s);
        let h = b.bin(Inst::Min, hh, left);
        let mut k: Vec<Vec<Val>> = Vec::with_capacity(7);
        for st in 0..7 {
            let mut changed = FxMap::default();
            for r in 0..n {
                let w = if st == 0 {
                    z[r]
                } else {
                    let sum = combine(b, &A[st][..st], &k, r);
                    let inc = b.bin(Inst::Mul, h, sum);
                    b.bin(Inst::Add, z[r], inc)
                };
                changed.insert(states[r], w);
            }
            // t + s + c hh, inside the step's window as the reference reads it
            let ch = b.konst(C[st]);
            let off = b.bin(Inst::Mul, ch, h);
            let off = b.bin(Inst::Add, done_s, off);
            let t = b.bin(Inst::Add, s.t0, off);
            let t = b.bin(Inst::Max, t, s.t_lo);
            let t1 = b.bin(Inst::Sub, s.t_next, s.eps);
            let t = b.bin(Inst::Min, t, t1);
            let frame = Frame::with(b.frame_id(), &s.old, changed, t);
            k.push(rhs_all(b, &frame, states)?);
        }
        let mut err = zero;
        let mut next = Vec::with_capacity(n);
        for (r, &zo) in z.iter().enumerate() {
            let sum = combine(b, &A[6], &k, r);
            let inc = b.bin(Inst::Mul, h, sum);
            let zr = b.bin(Inst::Add, zo, inc);
            let esum = combine(b, &E, &k, r);
            let e = b.bin(Inst::Mul, h, esum);
            let (a1, a2) = (b.un(Inst::Abs, zo), b.un(Inst::Abs, zr));
            let size = b.bin(Inst::Max, a1, a2);
            let size = b.bin(Inst::Max, size, tiny);
            let tol = b.bin(Inst::Mul, rtol, size);
            let q = b.bin(Inst::Div, e, tol);
            let q = b.un(Inst::Abs, q);
            err = b.bin(Inst::Max, err, q);
            next.push(zr);
        }
        // err is NaN when an estimate is (Max propagates it)
        let finite = b.push_raw(Inst::Cmp(Cmp::Le, err, err));
        let good = b.push_raw(Inst::Cmp(Cmp::Le, err, one));
        let accept = b.push_raw(Inst::And(finite, good));
        let accept = match done {
            Some(d) => {
                let not_done = b.push_raw(Inst::Not(d));
                b.push_raw(Inst::And(accept, not_done))
            }
            None => accept,
        };
        // 0.9 err^(-1/5), clamped to [0.2, 5]; a tenth when not finite
        let e = b.bin(Inst::Max, err, floor);
        let l = b.un(Inst::Log, e);
        let p = b.bin(Inst::Mul, fifth, l);
        let p = b.un(Inst::Exp, p);
        let factor = b.bin(Inst::Mul, safety, p);
        let factor = b.bin(Inst::Max, factor, lo_f);
        let factor = b.bin(Inst::Min, factor, hi_f);
        let factor = b.push_raw(Inst::Select(finite, factor, tenth));
        for r in 0..n {
            z[r] = b.push_raw(Inst::Select(accept, next[r], z[r]));
        }
        let advanced = b.bin(Inst::Add, done_s, h);
        done_s = b.push_raw(Inst::Select(accept, advanced, done_s));
        hh = b.bin(Inst::Mul, h, factor);
        // what the next step starts with: the proposal after the largest
        // accepted trial (not after a last remainder, which may be tiny)
        let larger = b.bin(Inst::Max, carry, hh);
        carry = b.push_raw(Inst::Select(accept, larger, carry));
        let reached = b.push_raw(Inst::Cmp(Cmp::Ge, done_s, end));
        done = Some(match done {
            Some(d) => b.push_raw(Inst::Or(d, reached)),
            None => reached,
        });
    }
    let name = format!("rk45 step of {}", states.first().map_or("?", |&i| b.m.states[i].name.as_str()));
    b.hidden.push((name, carry));
    let nan = b.konst(fault::ADAPTIVE);
    for (r, &i) in states.iter().enumerate() {
        new[i] = match done {
            Some(d) => b.push_raw(Inst::Select(d, z[r], nan)),
            None => z[r],
        };
    }
    Ok(())
}
