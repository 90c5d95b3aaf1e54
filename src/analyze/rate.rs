//! One node: its fixed points (Newton from deterministic starts over a box
//! around the initial values, deduplicated), each with its Jacobian's
//! eigenvalues and type, and the continuation of every branch in one
//! parameter with the points where an eigenvalue's real part crosses 0
//! (Hopf: a complex pair, with its frequency; real: a fold or a branch
//! point) and where a branch ends (a fold the natural continuation cannot
//! pass).

use super::linear::{self, classify, eigenvalues, newton, rightmost, C64};
use super::system::System;
use super::{Branch, BranchPoint, Crossing, FixedPoint};
use crate::ir::eval::{eval, Env};

/// The box the starts are drawn from: the initial values, each ± its own
/// size (± 1 in SI when it is 0).
pub fn start_box(sys: &System, params: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let n = sys.dim();
    let mut x = vec![0.0; n];
    for &s in &sys.m.init_order {
        let vals = sys.values(&x, params);
        let v = eval(&sys.m, sys.m.states[s].init, &Env { t: 0.0, states: &x, params, values: &vals, args: &[] });
        x[s] = if v.is_finite() { v } else { 0.0 };
    }
    let w = x.iter().map(|c| if *c != 0.0 { c.abs() } else { 1.0 }).collect();
    (x, w)
}

/// The starts: the center, then a grid of 5 points per state (up to 3
/// states), else 64 Halton points in the box.
pub fn starts(center: &[f64], width: &[f64]) -> Vec<Vec<f64>> {
    let n = center.len();
    let mut out = vec![center.to_vec()];
    if n <= 3 {
        let total = 5usize.pow(n as u32);
        for k in 0..total {
            let mut r = k;
            let p: Vec<f64> = (0..n)
                .map(|i| {
                    let d = (r % 5) as f64;
                    r /= 5;
                    center[i] + width[i] * (d / 2.0 - 1.0)
                })
                .collect();
            out.push(p);
        }
    } else {
        const PRIMES: [u64; 16] = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53];
        for k in 1..=64u64 {
            let p = (0..n)
                .map(|i| {
                    let base = PRIMES[i % PRIMES.len()];
                    let (mut f, mut r, mut q) = (1.0, 0.0, k + (i / PRIMES.len()) as u64 * 7);
                    while q > 0 {
                        f /= base as f64;
                        r += f * (q % base) as f64;
                        q /= base;
                    }
                    center[i] + width[i] * (2.0 * r - 1.0)
                })
                .collect();
            out.push(p);
        }
    }
    out
}

/// Newton on one node from `x0`.
pub fn solve(sys: &System, params: &[f64], x0: &[f64], scale: &[f64]) -> Result<Vec<f64>, linear::NewtonFail> {
    newton_on(sys, params, x0, scale, true)
}

fn newton_on(
    sys: &System,
    params: &[f64],
    x0: &[f64],
    scale: &[f64],
    damped: bool,
) -> Result<Vec<f64>, linear::NewtonFail> {
    let n = sys.dim();
    newton(x0, scale, damped, |x| {
        let vals = sys.values(x, params);
        let mut r = vec![0.0; n];
        sys.rhs(x, params, &vals, &mut r);
        (r, sys.jacobian(x, params, &vals))
    })
}

/// The largest difference, each in its box width.
fn distance(a: &[f64], b: &[f64], scale: &[f64]) -> f64 {
    a.iter().zip(b).zip(scale).map(|((x, y), s)| (x - y).abs() / s).fold(0.0, f64::max)
}

fn same(a: &[f64], b: &[f64], scale: &[f64]) -> bool {
    a.iter().zip(b).zip(scale).all(|((x, y), s)| (x - y).abs() <= 1e-6 * s)
}

/// The eigenvalues of the Jacobian at x.
pub fn spectrum(sys: &System, params: &[f64], x: &[f64]) -> Vec<C64> {
    let vals = sys.values(x, params);
    eigenvalues(&sys.jacobian(x, params, &vals)).unwrap_or_default()
}

/// Every fixed point the starts reach, sorted by their states; and how
/// many starts met a singular Jacobian.
pub fn fixed_points(sys: &System, params: &[f64], center: &[f64], width: &[f64]) -> (Vec<Vec<f64>>, usize) {
    let mut found: Vec<Vec<f64>> = Vec::new();
    let mut singular = 0;
    for s in starts(center, width) {
        let x = newton_on(sys, params, &s, width, true).or_else(|_| newton_on(sys, params, &s, width, false));
        match x {
            Ok(x) if !found.iter().any(|y| same(&x, y, width)) => found.push(x),
            Ok(_) => {}
            Err(linear::NewtonFail::Singular) => singular += 1,
            Err(_) => {}
        }
    }
    // deflation from the first starts: roots the plain starts all missed
    // (saddles between two attracting points, typically)
    if !found.is_empty() {
        // midpoints of the roots found first: a saddle often lies between
        let mut extra: Vec<Vec<f64>> = Vec::new();
        for (i, a) in found.iter().enumerate() {
            for b in &found[i + 1..] {
                extra.push(a.iter().zip(b).map(|(x, y)| 0.5 * (x + y)).collect());
            }
        }
        extra.extend(starts(center, width).into_iter().take(DEFLATED_STARTS));
        for s in &extra {
            if found.len() >= 16 {
                break;
            }
            let Ok(x) = deflated(sys, params, s, width, &found) else { continue };
            let Ok(x) = newton_on(sys, params, &x, width, false) else { continue };
            if !found.iter().any(|y| same(&x, y, width)) {
                found.push(x);
            }
        }
    }
    found.sort_by(|a, b| {
        a.iter().zip(b).map(|(x, y)| x.total_cmp(y)).find(|o| o.is_ne()).unwrap_or(std::cmp::Ordering::Equal)
    });
    (found, singular)
}

/// Starts from which deflated Newton looks for more fixed points.
const DEFLATED_STARTS: usize = 6;

/// Newton on the deflated residual `M(x) f(x)`, with
/// `M = Π_k (1 / |x - r_k|^2 + 1)` over the known roots `r_k` (distances
/// in box widths), which has the same roots as `f` except the known ones
/// (Farrell, Birkisson and Funke, SIAM J. Sci. Comput. 37 (2015) A2026).
fn deflated(
    sys: &System,
    params: &[f64],
    x0: &[f64],
    width: &[f64],
    roots: &[Vec<f64>],
) -> Result<Vec<f64>, linear::NewtonFail> {
    let n = sys.dim();
    newton(x0, width, false, |x| {
        let vals = sys.values(x, params);
        let mut r = vec![0.0; n];
        sys.rhs(x, params, &vals, &mut r);
        let jf = sys.jacobian(x, params, &vals);
        let (mut m, mut grad) = (1.0, vec![0.0; n]);
        for root in roots {
            let d: f64 = x.iter().zip(root).zip(width).map(|((a, b), w)| ((a - b) / w).powi(2)).sum();
            let mk = 1.0 / d + 1.0;
            for i in 0..n {
                // ∂ log m_k / ∂x_i
                grad[i] += -2.0 * (x[i] - root[i]) / (width[i] * width[i]) / (d * d) / mk;
            }
            m *= mk;
        }
        let g: Vec<f64> = r.iter().map(|v| m * v).collect();
        let jg = nalgebra::DMatrix::from_fn(n, n, |i, j| m * jf[(i, j)] + g[i] * grad[j]);
        (g, jg)
    })
}

pub fn describe(sys: &System, params: &[f64], x: Vec<f64>) -> FixedPoint {
    let ev = spectrum(sys, params, &x);
    FixedPoint { kind: classify(&ev), x, eigenvalues: ev }
}

fn unstable_count(ev: &[C64]) -> usize {
    let tol = 1e-9 * linear::scale(ev);
    ev.iter().filter(|z| z.re > tol).count()
}

fn point(sys: &System, p: f64, x: Vec<f64>) -> BranchPoint {
    let params = sys.params(Some(p));
    let ev = spectrum(sys, &params, &x);
    BranchPoint {
        p,
        rightmost: rightmost(&ev).unwrap_or_default(),
        kind: classify(&ev),
        unstable: unstable_count(&ev),
        x,
    }
}

/// Follows every branch over `values` of the knob.
pub fn continuation(sys: &System, values: &[f64], center: &[f64], width: &[f64]) -> (Vec<Branch>, Vec<Crossing>) {
    let mut branches: Vec<Branch> = Vec::new();
    let mut live: Vec<usize> = Vec::new();
    for (k, &p) in values.iter().enumerate() {
        let params = sys.params(Some(p));
        let mut now: Vec<Vec<f64>> = Vec::new();
        let mut still = Vec::new();
        for &b in &live {
            let pts = &branches[b].points;
            let last = &pts[pts.len() - 1];
            // secant predictor from the last two points
            let guess: Vec<f64> = match pts.len() {
                1 => last.x.clone(),
                l => {
                    let prev = &pts[l - 2];
                    let f = (p - last.p) / (last.p - prev.p);
                    last.x.iter().zip(&prev.x).map(|(a, b)| a + f * (a - b)).collect()
                }
            };
            // a solution far from the prediction is another branch: this
            // one has ended (a fold the natural continuation cannot pass)
            let stride = match pts.len() {
                1 => 0.0,
                l => distance(&last.x, &pts[l - 2].x, width),
            };
            let near = |x: &Vec<f64>| distance(x, &guess, width) <= (4.0 * stride).max(0.02);
            let x = solve(sys, &params, &guess, width).or_else(|_| solve(sys, &params, &last.x, width));
            match x {
                Ok(x) if near(&x) && !now.iter().any(|y| same(&x, y, width)) => {
                    now.push(x.clone());
                    branches[b].points.push(point(sys, p, x));
                    still.push(b);
                }
                _ => branches[b].end = Some(fold(sys, values[k - 1], p, &last.x.clone(), width)),
            }
        }
        let (found, _) = fixed_points(sys, &params, center, width);
        for x in found {
            if !now.iter().any(|y| same(&x, y, width)) {
                now.push(x.clone());
                branches.push(Branch { points: vec![point(sys, p, x)], end: None });
                still.push(branches.len() - 1);
            }
        }
        live = still;
    }
    let mut crossings = Vec::new();
    for (b, branch) in branches.iter().enumerate() {
        for w in branch.points.windows(2) {
            if w[0].unstable != w[1].unstable {
                if let Some(c) = crossing(sys, b, &w[0], &w[1], width) {
                    crossings.push(c);
                }
            }
        }
    }
    crossings.sort_by(|a, b| a.p.total_cmp(&b.p));
    (branches, crossings)
}

/// Where a branch followed from `x` at `lo` stops having a solution before
/// `hi`: bisection on whether Newton from the last solution converges.
fn fold(sys: &System, mut lo: f64, mut hi: f64, x: &[f64], width: &[f64]) -> f64 {
    let mut x = x.to_vec();
    for _ in 0..50 {
        let mid = 0.5 * (lo + hi);
        match solve(sys, &sys.params(Some(mid)), &x, width) {
            Ok(y) if distance(&y, &x, width) <= 0.02 => {
                x = y;
                lo = mid;
            }
            _ => hi = mid,
        }
    }
    0.5 * (lo + hi)
}

/// Bisects between two points of a branch whose numbers of unstable
/// eigenvalues differ, down to rounding of the parameter.
fn crossing(sys: &System, branch: usize, a: &BranchPoint, b: &BranchPoint, width: &[f64]) -> Option<Crossing> {
    let (mut lo, mut hi) = (a.clone(), b.clone());
    for _ in 0..60 {
        let mid = 0.5 * (lo.p + hi.p);
        if mid == lo.p || mid == hi.p {
            break;
        }
        let x = solve(sys, &sys.params(Some(mid)), &lo.x, width).ok()?;
        let m = point(sys, mid, x);
        if m.unstable == lo.unstable {
            lo = m;
        } else {
            hi = m;
        }
    }
    let params = sys.params(Some(lo.p));
    let ev = spectrum(sys, &params, &lo.x);
    let z = ev.iter().copied().min_by(|x, y| x.re.abs().total_cmp(&y.re.abs()).then(y.im.total_cmp(&x.im)))?;
    let hopf = linear::is_complex(z, linear::scale(&ev));
    Some(Crossing {
        branch,
        p: 0.5 * (lo.p + hi.p),
        eigenvalue: C64::new(z.re, z.im.abs()),
        hopf,
        frequency: hopf.then(|| z.im.abs() / (2.0 * std::f64::consts::PI)),
        x: lo.x,
        gains_stability: hi.unstable < lo.unstable,
    })
}
