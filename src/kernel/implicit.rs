//! Implicit blocks in kernels: backward Euler (theta = 1) and the
//! trapezoidal rule (theta = 1/2) by Newton's method on the symbolic
//! Jacobian, as the reference interpreter does it.
//!
//! The step solves g(z) = z - y - h ((1 - theta) f(t, y) + theta f(t + h, z))
//! = 0 from the explicit Euler predictor z = y + h f(t, y). Each Newton
//! iteration solves (I - h theta J(z)) dz = g(z) and sets z -= dz; a lane
//! has converged once every |dz_i| <= 1e-12 max(|z_i|, |y_i|, |h f_i|), and
//! from then on keeps its z (a per-lane mask), so a converged lane computes
//! what the reference computes. Straight-line code cannot stop early: the
//! kernel runs [`ITERATIONS`] iterations (quadratic convergence from the
//! predictor needs two or three at the steps these methods are used with)
//! and a lane still unconverged after them stores the
//! [`fault::IMPLICIT`](super::fault::IMPLICIT) NaN, reported as E0403 with the
//! neuron, the state and the step.
//!
//! The linear solve is Gaussian elimination unrolled over the block's
//! structure (entries the Jacobian leaves out are known zeros, so no work
//! is emitted for them) without pivoting: I - h theta J has a unit
//! diagonal perturbed by h theta J_ii, and an inexact solve only slows
//! Newton's convergence, never moves its fixed point, since the residual g
//! is computed exactly. A zero or non-finite pivot gives a NaN step, which
//! does not converge and so faults.

use super::blocks::{rhs_all, Start};
use super::builder::{Builder, Frame, FxMap};
use super::{fault, Cmp, Inst, Unsupported, Val};
use crate::ir::ExprId;

/// Newton iterations per step.
pub const ITERATIONS: usize = 6;
/// Convergence: |dz| below this fraction of the state's size.
const TOLERANCE: f64 = 1e-12;

/// The frame of the old states with the block's states replaced by `z`.
fn with_block<'a>(b: &mut Builder, old: &'a [Val], states: &[usize], z: &[Val], t: Val) -> Frame<'a> {
    let changed: FxMap<usize, Val> = states.iter().copied().zip(z.iter().copied()).collect();
    Frame::with(b.frame_id(), old, changed, t)
}

/// An implicit block: writes its states' new values into `new`.
pub(super) fn emit(
    b: &mut Builder,
    theta: f64,
    states: &[usize],
    jac: &[(usize, usize, ExprId)],
    s: &Start,
    new: &mut [Val],
) -> Result<(), Unsupported> {
    let (h, k) = (s.dt, states.len());
    let y: Vec<Val> = states.iter().map(|&i| s.old[i]).collect();
    let f0 = rhs_all(b, &s.env0(), states)?;
    let dtv = s.dtv;
    // predictor: explicit Euler
    let mut z: Vec<Val> = (0..k)
        .map(|r| {
            let inc = b.bin(Inst::Mul, dtv, f0[r]);
            b.bin(Inst::Add, y[r], inc)
        })
        .collect();
    // the part of the residual fixed over the iterations: y + h (1 - theta) f0
    let explicit_part: Vec<Val> = (0..k)
        .map(|r| {
            if theta == 1.0 {
                return y[r];
            }
            let c = b.konst(h * (1.0 - theta));
            let inc = b.bin(Inst::Mul, c, f0[r]);
            b.bin(Inst::Add, y[r], inc)
        })
        .collect();
    let ht = b.konst(h * theta);
    let tol = b.konst(TOLERANCE);
    let t1 = b.bin(Inst::Sub, s.t_next, s.eps);
    let hf0: Vec<Val> = (0..k)
        .map(|r| {
            let v = b.bin(Inst::Mul, dtv, f0[r]);
            b.un(Inst::Abs, v)
        })
        .collect();
    let mut converged: Option<Val> = None;
    for _ in 0..ITERATIONS {
        let frame = with_block(b, &s.old, states, &z, t1);
        let f1 = rhs_all(b, &frame, states)?;
        let g: Vec<Val> = (0..k)
            .map(|r| {
                let inc = b.bin(Inst::Mul, ht, f1[r]);
                let target = b.bin(Inst::Add, explicit_part[r], inc);
                b.bin(Inst::Sub, z[r], target)
            })
            .collect();
        // M = I - h theta J(z), None where the entry is a known zero
        let mut mat: Vec<Option<Val>> = vec![None; k * k];
        for r in 0..k {
            mat[r * k + r] = Some(b.konst(1.0));
        }
        for &(r, c, e) in jac {
            let d = b.expr(e, &frame)?;
            let hd = b.bin(Inst::Mul, ht, d);
            let id = if r == c { 1.0 } else { 0.0 };
            let idv = b.konst(id);
            mat[r * k + c] = Some(b.bin(Inst::Sub, idv, hd));
        }
        let dz = solve(b, k, mat, g);
        let mut all_small: Option<Val> = None;
        let mut next = Vec::with_capacity(k);
        for r in 0..k {
            let zr = b.bin(Inst::Sub, z[r], dz[r]);
            // converged to 1e-12 of the state's size
            let (az, ay) = (b.un(Inst::Abs, zr), b.un(Inst::Abs, y[r]));
            let m1 = b.bin(Inst::Max, az, ay);
            let size = b.bin(Inst::Max, m1, hf0[r]);
            let bound = b.bin(Inst::Mul, tol, size);
            let adz = b.un(Inst::Abs, dz[r]);
            let small = b.push_raw(Inst::Cmp(Cmp::Le, adz, bound));
            all_small = Some(match all_small {
                Some(a) => b.push_raw(Inst::And(a, small)),
                None => small,
            });
            next.push(match converged {
                Some(c) => b.push_raw(Inst::Select(c, z[r], zr)),
                None => zr,
            });
        }
        let Some(small) = all_small else { return Ok(()) };
        converged = Some(match converged {
            Some(c) => b.push_raw(Inst::Or(c, small)),
            None => small,
        });
        z = next;
    }
    let nan = b.konst(fault::IMPLICIT);
    for (r, &i) in states.iter().enumerate() {
        new[i] = match converged {
            Some(c) => b.push_raw(Inst::Select(c, z[r], nan)),
            None => z[r],
        };
    }
    Ok(())
}

/// Solves M x = g by Gaussian elimination without pivoting, unrolled over
/// M's structure (`None`: a known zero).
fn solve(b: &mut Builder, k: usize, mut a: Vec<Option<Val>>, mut g: Vec<Val>) -> Vec<Val> {
    for col in 0..k {
        let Some(pivot) = a[col * k + col] else {
            // a structurally zero pivot: the solve fails (NaN), and so
            // does Newton
            let nan = b.konst(f64::NAN);
            return vec![nan; k];
        };
        let one = b.konst(1.0);
        let inv = b.bin(Inst::Div, one, pivot);
        for row in col + 1..k {
            let Some(below) = a[row * k + col] else { continue };
            let f = b.bin(Inst::Mul, below, inv);
            for j in col + 1..k {
                let Some(upper) = a[col * k + j] else { continue };
                let fu = b.bin(Inst::Mul, f, upper);
                a[row * k + j] = Some(match a[row * k + j] {
                    Some(x) => b.bin(Inst::Sub, x, fu),
                    None => b.un(Inst::Neg, fu),
                });
            }
            let fg = b.bin(Inst::Mul, f, g[col]);
            g[row] = b.bin(Inst::Sub, g[row], fg);
            a[row * k + col] = None;
        }
    }
    let mut x = g.clone();
    for row in (0..k).rev() {
        let mut acc = g[row];
        for j in row + 1..k {
            if let Some(u) = a[row * k + j] {
                let t = b.bin(Inst::Mul, u, x[j]);
                acc = b.bin(Inst::Sub, acc, t);
            }
        }
        // the diagonal is present (checked during elimination)
        x[row] = match a[row * k + row] {
            Some(d) => b.bin(Inst::Div, acc, d),
            None => b.konst(f64::NAN),
        };
    }
    x
}
