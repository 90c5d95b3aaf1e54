//! A brain: the fixed point of all its nodes together (Newton on the
//! N x n system with the coupling, delays ignored: at a fixed point a
//! delayed value is the present one), the full Jacobian assembled from the
//! node's symbolic Jacobian and the coupling's linearization,
//!
//! ```text
//! J[i, j] = δ_ij A_i + Σ_k C[i, j] b_ik g_jk^T,   b = ∂f/∂S_k, g = ∂s_k/∂x,
//! ```
//!
//! the collective modes (eigenvalues μ and eigenvectors of C) and, when
//! every node sits at the same fixed point with the same linearization
//! (homogeneous), the stability along each mode, `A + μ Σ_k B_k e^{-λ τ_k}`
//! (`B_k = b_k g_k^T`), with the delays through the characteristic
//! equation. Then the scan of the coupling strength for the first loss of
//! stability, refined by bisection.
//!
//! Delays: each sum's delay is used when it is the same on every edge; a
//! sum with delays that differ is given the weighted mean delay (a note
//! says so). When the fixed point is not homogeneous, the modes do not
//! decouple and the stability comes from the full Jacobian, delays ignored
//! (a note says so).

use super::linear::{self, delay_roots, eigenvalues, eigenvector, newton, realify, rightmost, C64};
use super::system::System;
use super::{Critical, Mode};
use crate::experiment::brain::BrainRun;
use nalgebra::{DMatrix, SymmetricEigen};

/// A brain ready to evaluate.
pub struct Net<'a> {
    pub sys: System,
    pub n: usize,
    w: &'a [f64],
    rows: Vec<f64>,
    per_node: Vec<(usize, Vec<f64>)>,
    /// Per sum: its delay (s) for the characteristic equation.
    pub delays: Vec<f64>,
    /// The modes of C: μ, by decreasing real part, and for a symmetric C
    /// the eigenvectors.
    pub mu: Vec<C64>,
    pub vectors: Option<Vec<Vec<f64>>>,
    /// The leading mode's eigenvector (real, unit length), when it is real.
    pub leading: Option<Vec<f64>>,
    pub notes: Vec<String>,
}

/// The linearization at a fixed point, per node.
pub struct Lin {
    pub jac: DMatrix<f64>,
    a: Vec<DMatrix<f64>>,
    b: Vec<Vec<Vec<f64>>>,
    g: Vec<Vec<Vec<f64>>>,
}

/// How unstable a fixed point is: the rightmost eigenvalue, and along
/// which mode when the modes decouple.
#[derive(Clone, Copy, Debug)]
pub struct Margin {
    pub z: C64,
    pub mode: Option<usize>,
    pub scale: f64,
}

impl<'a> Net<'a> {
    pub fn new(sys: System, b: &'a BrainRun, per_node: Vec<(usize, Vec<f64>)>) -> Net<'a> {
        let n = b.n;
        let w = &b.weights.data[..];
        let rows = w.chunks(n.max(1)).map(|r| r.iter().sum()).collect();
        let mut notes = Vec::new();
        let mut delays = Vec::new();
        for s in &b.sums {
            let edges: Vec<(f64, f64)> =
                w.iter().zip(&s.delays).filter(|(w, _)| **w != 0.0).map(|(w, d)| (*w, *d)).collect();
            let first = edges.first().map_or(0.0, |e| e.1);
            if edges.iter().all(|e| (e.1 - first).abs() <= 1e-12 * first.abs().max(1e-12)) {
                delays.push(first);
            } else {
                let total: f64 = edges.iter().map(|e| e.0.abs()).sum();
                let mean = edges.iter().map(|e| e.0.abs() * e.1).sum::<f64>() / total;
                notes.push(format!(
                    "the delays differ between edges; the characteristic equation uses their mean weighted by |C| ({} ms)",
                    crate::units::format_number(mean * 1e3)
                ));
                delays.push(mean);
            }
        }
        let c = DMatrix::from_row_slice(n, n, w);
        let symmetric = (0..n).all(|i| (0..i).all(|j| c[(i, j)] == c[(j, i)]));
        let (mu, vectors) = if symmetric {
            let e = SymmetricEigen::new(c.clone());
            let mut idx: Vec<usize> = (0..n).collect();
            idx.sort_by(|&x, &y| e.eigenvalues[y].total_cmp(&e.eigenvalues[x]));
            let mu = idx.iter().map(|&k| C64::new(e.eigenvalues[k], 0.0)).collect();
            let vecs: Vec<Vec<f64>> = idx
                .iter()
                .map(|&k| {
                    let v: Vec<f64> = e.eigenvectors.column(k).iter().copied().collect();
                    // sign: the largest component positive
                    let big = v.iter().copied().fold(0.0, |a: f64, x| if x.abs() > a.abs() { x } else { a });
                    v.iter().map(|x| if big < 0.0 { -x } else { *x }).collect()
                })
                .collect();
            (mu, Some(vecs))
        } else {
            (eigenvalues(&c).unwrap_or_default(), None)
        };
        let leading = match &vectors {
            Some(v) => v.first().cloned(),
            None => mu.first().filter(|z| z.im == 0.0).and_then(|z| eigenvector(&c, *z)).map(|v| {
                let re: Vec<f64> = v.iter().map(|z| z.re).collect();
                let norm = re.iter().map(|x| x * x).sum::<f64>().sqrt();
                let sign = if re.iter().sum::<f64>() < 0.0 { -1.0 } else { 1.0 };
                re.iter().map(|x| sign * x / norm).collect()
            }),
        };
        Net { sys, n, w, rows, per_node, delays, mu, vectors, leading, notes }
    }

    /// Each node's parameters, the knob at `knob`.
    pub fn params(&self, knob: Option<f64>) -> Vec<Vec<f64>> {
        let base = self.sys.params(knob);
        (0..self.n)
            .map(|i| {
                let mut p = base.clone();
                for (q, v) in &self.per_node {
                    p[*q] = v[i];
                }
                for s in &self.sys.sums {
                    p[s.row_param] = self.rows[i];
                }
                p
            })
            .collect()
    }

    /// The residual of every node at `x` (node-major), with the sums
    /// formed (written into `params`), and the linearization.
    pub fn eval(&self, x: &[f64], params: &mut [Vec<f64>]) -> (Vec<f64>, Lin) {
        let (n, d) = (self.n, self.sys.dim());
        let node = |i: usize| &x[i * d..(i + 1) * d];
        let sums = self.sys.sums.len();
        let mut sent = vec![vec![0.0; n]; sums];
        for j in 0..n {
            let vals = self.sys.sent_values(node(j), &params[j]);
            for (k, s) in sent.iter_mut().enumerate() {
                s[j] = self.sys.sent(k, node(j), &params[j], &vals);
            }
        }
        for (i, p) in params.iter_mut().enumerate() {
            for (k, s) in self.sys.sums.iter().enumerate() {
                p[s.sum_param] = (0..n).map(|j| self.w[i * n + j] * sent[k][j]).sum();
            }
        }
        let mut r = vec![0.0; n * d];
        let (mut a, mut b, mut g) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            let vals = self.sys.values(node(i), &params[i]);
            self.sys.rhs(node(i), &params[i], &vals, &mut r[i * d..(i + 1) * d]);
            a.push(self.sys.jacobian(node(i), &params[i], &vals));
            let (bi, gi): (Vec<_>, Vec<_>) =
                (0..sums).map(|k| self.sys.coupling(k, node(i), &params[i], &vals)).unzip();
            b.push(bi);
            g.push(gi);
        }
        let mut jac = DMatrix::zeros(n * d, n * d);
        for i in 0..n {
            jac.view_mut((i * d, i * d), (d, d)).copy_from(&a[i]);
            for j in 0..n {
                let c = self.w[i * n + j];
                if c == 0.0 {
                    continue;
                }
                for k in 0..sums {
                    for (s, bs) in b[i][k].iter().enumerate() {
                        for (t, gt) in g[j][k].iter().enumerate() {
                            jac[(i * d + s, j * d + t)] += c * bs * gt;
                        }
                    }
                }
            }
        }
        (r, Lin { jac, a, b, g })
    }

    /// The fixed point at the knob's value `knob`, by Newton from `x0`.
    pub fn solve(&self, knob: Option<f64>, x0: &[f64], scale: &[f64]) -> Result<Vec<f64>, linear::NewtonFail> {
        self.newton(knob, x0, scale, true)
    }

    /// Newton with a line search (`damped`) or full steps.
    pub fn newton(
        &self,
        knob: Option<f64>,
        x0: &[f64],
        scale: &[f64],
        damped: bool,
    ) -> Result<Vec<f64>, linear::NewtonFail> {
        let mut params = self.params(knob);
        newton(x0, scale, damped, |x| {
            let (r, lin) = self.eval(x, &mut params);
            (r, lin.jac)
        })
    }

    /// The coupled fixed point at the knob's value `k0`. Starts: every
    /// node at its own uncoupled fixed point (the lowest, then the highest
    /// in its first state), then the box's starts on every node; each by
    /// Newton at `k0` and, failing that, followed from no coupling (the
    /// knob from 0 to `k0` in 20 steps). Else (singular starts, tries).
    pub fn find(&self, k0: Option<f64>, center: &[f64], width: &[f64]) -> Result<Vec<f64>, (usize, usize)> {
        let (n, d) = (self.n, self.sys.dim());
        let scale: Vec<f64> = (0..n).flat_map(|_| width.iter().copied()).collect();
        let params = self.params(k0);
        let mut alone: Vec<Vec<Vec<f64>>> =
            params.iter().map(|p| super::rate::fixed_points(&self.sys, p, center, width).0).collect();
        // a node whose starts found nothing starts from the others' points
        // (per-node parameters usually vary smoothly)
        let known: Vec<Vec<f64>> = alone.iter().flatten().cloned().collect();
        for (fps, p) in alone.iter_mut().zip(&params) {
            if fps.is_empty() {
                fps.extend(known.iter().filter_map(|x| super::rate::solve(&self.sys, p, x, width).ok()).take(1));
            }
        }
        let mut starts: Vec<Vec<f64>> = Vec::new();
        for pick in [0usize, 1] {
            let x: Option<Vec<f64>> = alone
                .iter()
                .map(|fps| if pick == 0 { fps.first() } else { fps.last() })
                .try_fold(Vec::with_capacity(n * d), |mut acc, fp| {
                    acc.extend_from_slice(fp?);
                    Some(acc)
                });
            starts.extend(x);
        }
        starts.extend(
            super::rate::starts(center, width).iter().map(|s| (0..n).flat_map(|_| s.iter().copied()).collect()),
        );
        let mut singular = 0;
        for x0 in &starts {
            for damped in [true, false] {
                match self.newton(k0, x0, &scale, damped) {
                    Ok(x) => return Ok(x),
                    Err(linear::NewtonFail::Singular) => singular += 1,
                    Err(_) => {}
                }
            }
            if let Some(k) = k0.filter(|k| *k != 0.0) {
                let mut x = x0.clone();
                let followed = (0..=20).all(|s| match self.solve(Some(k * s as f64 / 20.0), &x, &scale) {
                    Ok(y) => {
                        x = y;
                        true
                    }
                    Err(_) => false,
                });
                if followed {
                    return Ok(x);
                }
            }
        }
        Err((singular, 2 * starts.len()))
    }

    /// The linearization at the fixed point `x`.
    pub fn linearize(&self, knob: Option<f64>, x: &[f64]) -> Lin {
        let mut params = self.params(knob);
        self.eval(x, &mut params).1
    }

    /// Whether every node has the same state and linearization (to 1e-9).
    pub fn homogeneous(&self, x: &[f64], lin: &Lin) -> bool {
        let d = self.sys.dim();
        let close = |p: &[f64], q: &[f64]| {
            let big = p.iter().chain(q).fold(0.0f64, |m, v| m.max(v.abs()));
            p.iter().zip(q).all(|(a, b)| (a - b).abs() <= 1e-9 * big.max(1e-300))
        };
        (1..self.n).all(|i| {
            close(&x[..d], &x[i * d..(i + 1) * d])
                && close(lin.a[0].as_slice(), lin.a[i].as_slice())
                && lin.b[0].iter().zip(&lin.b[i]).all(|(p, q)| close(p, q))
                && lin.g[0].iter().zip(&lin.g[i]).all(|(p, q)| close(p, q))
        })
    }

    /// The roots along mode μ (homogeneous linearization of node 0), with
    /// the delays; rightmost first.
    pub fn mode_roots(&self, lin: &Lin, mu: C64) -> Vec<C64> {
        let d = self.sys.dim();
        let complex = mu.im != 0.0;
        let zero = DMatrix::zeros(d, d);
        let lift = |p: &DMatrix<f64>, q: &DMatrix<f64>| if complex { realify(p, q) } else { p.clone() };
        let mut l0 = lift(&lin.a[0], &zero);
        let mut delayed = Vec::new();
        for (k, tau) in self.delays.iter().enumerate() {
            let bk = DMatrix::from_fn(d, d, |s, t| lin.b[0][k][s] * lin.g[0][k][t]);
            let l = lift(&(&bk * mu.re), &(&bk * mu.im));
            if *tau > 0.0 {
                delayed.push((*tau, l));
            } else {
                l0 += l;
            }
        }
        // 24 Chebyshev points: the rightmost roots to ~1e-10 (see linear's tests)
        // 24 Chebyshev points: the rightmost roots to ~1e-10 (see linear's
        // tests); for complex μ the real form adds the conjugates, which
        // leaves the rightmost real part unchanged
        delay_roots(&l0, &delayed, 24).unwrap_or_default()
    }

    /// How unstable the fixed point `x` is: along the modes when
    /// homogeneous (with the delays), else from the full Jacobian.
    pub fn margin(&self, x: &[f64], lin: &Lin) -> Option<Margin> {
        if self.homogeneous(x, lin) {
            let mut best: Option<Margin> = None;
            for (k, mu) in self.mu.iter().enumerate() {
                let ev = self.mode_roots(lin, *mu);
                let z = rightmost(&ev)?;
                if best.is_none_or(|b| z.re > b.z.re) {
                    best = Some(Margin { z, mode: Some(k), scale: linear::scale(&ev) });
                }
            }
            best
        } else {
            let ev = eigenvalues(&lin.jac)?;
            Some(Margin { z: rightmost(&ev)?, mode: None, scale: linear::scale(&ev) })
        }
    }

    /// Each mode's μ and, when homogeneous, its rightmost root.
    pub fn modes(&self, x: &[f64], lin: &Lin) -> Vec<Mode> {
        let homog = self.homogeneous(x, lin);
        self.mu
            .iter()
            .map(|&mu| Mode { mu, rightmost: if homog { rightmost(&self.mode_roots(lin, mu)) } else { None } })
            .collect()
    }

    /// Scans the knob over `values` from the fixed point `x0` (at the
    /// first value that converges) for the first loss of stability, and
    /// refines it by bisection.
    /// Also says whether the first value computed was stable.
    pub fn critical(&self, values: &[f64], x0: &[f64], scale: &[f64]) -> (Option<Critical>, Option<bool>) {
        let mut prev: Option<(f64, Vec<f64>, Margin)> = None;
        let mut first = None;
        let mut guess = x0.to_vec();
        for &k in values {
            let Ok(x) = self.solve(Some(k), &guess, scale) else {
                prev = None;
                continue;
            };
            guess.clone_from(&x);
            let lin = self.linearize(Some(k), &x);
            let Some(m) = self.margin(&x, &lin) else {
                prev = None;
                continue;
            };
            first.get_or_insert(m.z.re < 0.0);
            if let Some((k0, x0, m0)) = &prev {
                if m0.z.re < -1e-9 * m0.scale && m.z.re > 1e-9 * m.scale {
                    return (Some(self.refine((*k0, x0.clone(), *m0), (k, x, m), scale)), first);
                }
            }
            prev = Some((k, x, m));
        }
        (None, first)
    }

    fn refine(&self, lo: (f64, Vec<f64>, Margin), hi: (f64, Vec<f64>, Margin), scale: &[f64]) -> Critical {
        let (mut lo, mut hi) = (lo, hi);
        for _ in 0..100 {
            let mid = 0.5 * (lo.0 + hi.0);
            if mid == lo.0 || mid == hi.0 {
                break;
            }
            let Ok(x) = self.solve(Some(mid), &lo.1, scale) else { break };
            let lin = self.linearize(Some(mid), &x);
            let Some(m) = self.margin(&x, &lin) else { break };
            if m.z.re < 0.0 {
                lo = (mid, x, m);
            } else {
                hi = (mid, x, m);
            }
        }
        let (k, x, m) = lo;
        let hopf = linear::is_complex(m.z, m.scale);
        let lin = self.linearize(Some(k), &x);
        // the node pattern of the critical eigenvector: along its mode when
        // the modes decouple (C symmetric), else by inverse iteration on J
        let pattern: Option<Vec<C64>> = match (m.mode, &self.vectors) {
            (Some(mode), Some(v)) => Some(v[mode].iter().map(|x| C64::new(*x, 0.0)).collect()),
            _ if self.delays.iter().all(|t| *t == 0.0) || m.mode.is_none() => {
                eigenvector(&lin.jac, m.z).map(|v| node_pattern(&v, self.n, self.sys.dim()))
            }
            _ => None,
        };
        let lead = match (&pattern, &self.leading) {
            (Some(u), Some(v)) => Some(overlap(u, v)),
            _ => None,
        };
        let mode = m.mode.or_else(|| {
            let (u, vecs) = (pattern.as_ref()?, self.vectors.as_ref()?);
            (0..vecs.len()).max_by(|&a, &b| overlap(u, &vecs[a]).total_cmp(&overlap(u, &vecs[b])))
        });
        Critical {
            k: 0.5 * (k + hi.0),
            eigenvalue: C64::new(m.z.re, m.z.im.abs()),
            hopf,
            frequency: hopf.then(|| m.z.im.abs() / (2.0 * std::f64::consts::PI)),
            mode,
            mu: mode.and_then(|q| self.mu.get(q).copied()),
            overlap: lead,
            pattern: pattern.map(|p| p.iter().map(|z| z.norm()).collect()),
            x,
        }
    }
}

/// Per node, the component of the state that carries most of the vector.
fn node_pattern(v: &[C64], n: usize, d: usize) -> Vec<C64> {
    let s = (0..d)
        .max_by(|&a, &b| {
            let mass = |s: usize| (0..n).map(|i| v[i * d + s].norm_sqr()).sum::<f64>();
            mass(a).total_cmp(&mass(b))
        })
        .unwrap_or(0);
    (0..n).map(|i| v[i * d + s]).collect()
}

/// |<u, v>| / (|u| |v|).
fn overlap(u: &[C64], v: &[f64]) -> f64 {
    let dot: C64 = u.iter().zip(v).map(|(a, b)| a.conj() * b).sum();
    let nu = u.iter().map(|z| z.norm_sqr()).sum::<f64>().sqrt();
    let nv = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    dot.norm() / (nu * nv).max(1e-300)
}
