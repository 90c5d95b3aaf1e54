//! Linear algebra of the analysis: eigenvalues of real matrices (real
//! Schur form, `nalgebra`), Newton's method with a backtracking line
//! search, the type of a fixed point from its eigenvalues, inverse
//! iteration for an eigenvector, and the rightmost roots of a linear
//! delay equation's characteristic equation.
//!
//! Delays: the roots of `det(λI - L0 - Σ_k L_k e^{-λ τ_k}) = 0` are the
//! eigenvalues of the delay equation's infinitesimal generator, which is
//! discretized by Chebyshev collocation on `[-τ_max, 0]` (Breda, Maset
//! and Vermiglio, SIAM J. Sci. Comput. 27 (2005) 482-495): the rightmost
//! eigenvalues of the `n (M + 1)` matrix converge spectrally in `M` to the
//! rightmost roots.

use nalgebra::{Complex, DMatrix, DVector, Schur};

pub type C64 = Complex<f64>;

/// The eigenvalues of a real matrix, by decreasing real part (pairs with
/// the positive imaginary part first); `None` if it is not finite or the
/// QR iteration does not converge.
pub fn eigenvalues(a: &DMatrix<f64>) -> Option<Vec<C64>> {
    if a.nrows() == 0 {
        return Some(vec![]);
    }
    if a.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let schur = Schur::try_new(a.clone(), f64::EPSILON, 100_000)?;
    let mut ev: Vec<C64> = schur.complex_eigenvalues().iter().copied().collect();
    ev.sort_by(|x, y| y.re.total_cmp(&x.re).then(y.im.total_cmp(&x.im)));
    Some(ev)
}

/// The largest real part, and the eigenvalue that has it (the one with
/// the positive imaginary part of a pair).
pub fn rightmost(ev: &[C64]) -> Option<C64> {
    ev.iter().copied().max_by(|x, y| x.re.total_cmp(&y.re).then(x.im.total_cmp(&y.im)))
}

/// A scale of the spectrum, for tolerances: the largest modulus, at least
/// a tiny positive number.
pub fn scale(ev: &[C64]) -> f64 {
    ev.iter().map(|z| z.norm()).fold(1e-300, f64::max)
}

/// Whether an eigenvalue is complex (not real to rounding).
pub fn is_complex(z: C64, scale: f64) -> bool {
    z.im.abs() > 1e-7 * scale
}

/// The type of a fixed point from its Jacobian's eigenvalues.
pub fn classify(ev: &[C64]) -> &'static str {
    let s = scale(ev);
    let tol = 1e-9 * s;
    let unstable = ev.iter().filter(|z| z.re > tol).count();
    let stable = ev.iter().filter(|z| z.re < -tol).count();
    let complex = ev.iter().any(|z| is_complex(*z, s));
    if unstable + stable < ev.len() {
        "non-hyperbolic"
    } else if unstable == 0 {
        if complex {
            "stable focus"
        } else {
            "stable node"
        }
    } else if stable == 0 {
        if complex {
            "unstable focus"
        } else {
            "unstable node"
        }
    } else if complex {
        "saddle-focus"
    } else {
        "saddle"
    }
}

/// Why Newton's method stopped without a root.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NewtonFail {
    Singular,
    NoConvergence,
}

/// Newton's method on `f`, which gives the residual and its Jacobian;
/// `scale` per unknown (steps below `1e-11 scale` converge; the residual is
/// weighted by it in the line search). `damped`: backtrack until the
/// residual decreases (robust towards stable points); else full steps
/// (which also reach saddles from farther).
pub fn newton(
    x0: &[f64],
    scale: &[f64],
    damped: bool,
    mut f: impl FnMut(&[f64]) -> (Vec<f64>, DMatrix<f64>),
) -> Result<Vec<f64>, NewtonFail> {
    let norm = |r: &[f64]| r.iter().zip(scale).map(|(a, s)| (a * s) * (a * s)).sum::<f64>();
    let mut x = x0.to_vec();
    let (mut r, mut j) = f(&x);
    // steps the line search could not make decrease the residual
    let mut stalls = 0;
    for _ in 0..60 {
        if r.iter().any(|v| !v.is_finite()) {
            return Err(NewtonFail::NoConvergence);
        }
        let rhs = DVector::from_iterator(r.len(), r.iter().map(|v| -v));
        let Some(dx) = j.clone().lu().solve(&rhs) else { return Err(NewtonFail::Singular) };
        if dx.iter().any(|v| !v.is_finite()) {
            return Err(NewtonFail::Singular);
        }
        let small = dx.iter().zip(scale).all(|(d, s)| d.abs() <= 1e-11 * s);
        let r0 = norm(&r);
        let mut t = 1.0;
        loop {
            let trial: Vec<f64> = x.iter().zip(dx.iter()).map(|(a, d)| a + t * d).collect();
            let (r1, j1) = f(&trial);
            let finite = r1.iter().all(|v| v.is_finite());
            let ok = finite && (!damped || norm(&r1) <= r0 || t < 1e-3 || small);
            if ok {
                if norm(&r1) > r0 && !small {
                    stalls += 1;
                }
                x = trial;
                r = r1;
                j = j1;
                break;
            }
            if t < 1e-3 {
                return Err(NewtonFail::NoConvergence);
            }
            t *= 0.5;
        }
        if stalls >= 8 {
            return Err(NewtonFail::NoConvergence);
        }
        if small {
            return Ok(x);
        }
    }
    Err(NewtonFail::NoConvergence)
}

/// An eigenvector of `a` for the eigenvalue `z` (known to rounding), by
/// inverse iteration on the real form of `a - z I`; normalized.
pub fn eigenvector(a: &DMatrix<f64>, z: C64) -> Option<Vec<C64>> {
    let n = a.nrows();
    // a little off the eigenvalue so the shifted matrix is invertible
    let shift = z + C64::new(1e-9 * (1.0 + z.norm()), 1e-9 * (1.0 + z.norm()));
    let mut m = DMatrix::zeros(2 * n, 2 * n);
    for i in 0..n {
        for j in 0..n {
            let v = a[(i, j)] - if i == j { shift.re } else { 0.0 };
            m[(i, j)] = v;
            m[(n + i, n + j)] = v;
        }
        m[(i, n + i)] = shift.im;
        m[(n + i, i)] = -shift.im;
    }
    let lu = m.lu();
    let mut v = DVector::from_element(2 * n, 1.0);
    for _ in 0..3 {
        v = lu.solve(&v)?;
        let norm = v.norm();
        if !(norm.is_finite() && norm > 0.0) {
            return None;
        }
        v /= norm;
    }
    Some((0..n).map(|i| C64::new(v[i], v[n + i])).collect())
}

/// The real form of a complex matrix `p + i q` acting on `[re; im]`: its
/// eigenvalues are those of `p + i q` and their conjugates.
pub fn realify(p: &DMatrix<f64>, q: &DMatrix<f64>) -> DMatrix<f64> {
    let n = p.nrows();
    let mut m = DMatrix::zeros(2 * n, 2 * n);
    for i in 0..n {
        for j in 0..n {
            m[(i, j)] = p[(i, j)];
            m[(n + i, n + j)] = p[(i, j)];
            m[(i, n + j)] = -q[(i, j)];
            m[(n + i, j)] = q[(i, j)];
        }
    }
    m
}

/// Chebyshev points `cos(jπ/M)`, j = 0..M, and the differentiation matrix
/// on them (Trefethen, Spectral Methods in MATLAB, `cheb`).
fn cheb(m: usize) -> (Vec<f64>, DMatrix<f64>) {
    let x: Vec<f64> = (0..=m).map(|j| (std::f64::consts::PI * j as f64 / m as f64).cos()).collect();
    let c = |j: usize| if j == 0 || j == m { 2.0 } else { 1.0 } * if j.is_multiple_of(2) { 1.0 } else { -1.0 };
    let mut d = DMatrix::zeros(m + 1, m + 1);
    for i in 0..=m {
        for j in 0..=m {
            if i != j {
                d[(i, j)] = c(i) / c(j) / (x[i] - x[j]);
            }
        }
    }
    for i in 0..=m {
        let s: f64 = (0..=m).filter(|&j| j != i).map(|j| d[(i, j)]).sum();
        d[(i, i)] = -s;
    }
    (x, d)
}

/// The Lagrange basis on the Chebyshev points `x`, evaluated at `t`
/// (barycentric weights).
fn lagrange_row(x: &[f64], t: f64) -> Vec<f64> {
    let m = x.len() - 1;
    let w = |j: usize| if j == 0 || j == m { 0.5 } else { 1.0 } * if j.is_multiple_of(2) { 1.0 } else { -1.0 };
    if let Some(k) = x.iter().position(|&xj| (xj - t).abs() < 1e-14) {
        let mut r = vec![0.0; x.len()];
        r[k] = 1.0;
        return r;
    }
    let terms: Vec<f64> = (0..=m).map(|j| w(j) / (t - x[j])).collect();
    let total: f64 = terms.iter().sum();
    terms.iter().map(|v| v / total).collect()
}

/// The rightmost roots of `det(λI - l0 - Σ_k l_k e^{-λ τ_k}) = 0`, by
/// decreasing real part: the eigenvalues of the generator discretized on
/// `points + 1` Chebyshev points.
pub fn delay_roots(l0: &DMatrix<f64>, delayed: &[(f64, DMatrix<f64>)], points: usize) -> Option<Vec<C64>> {
    let n = l0.nrows();
    let tau_max = delayed.iter().map(|(t, _)| *t).fold(0.0, f64::max);
    if tau_max <= 0.0 {
        let mut a = l0.clone();
        for (_, l) in delayed {
            a += l;
        }
        return eigenvalues(&a);
    }
    let m = points.max(2);
    let (x, d) = cheb(m);
    // θ = τ_max (x - 1) / 2 maps [-1, 1] onto [-τ_max, 0]; x_0 = 1 is θ = 0
    let dscale = 2.0 / tau_max;
    let size = n * (m + 1);
    let mut a = DMatrix::zeros(size, size);
    for r in 0..n {
        for c in 0..n {
            a[(r, c)] += l0[(r, c)];
        }
    }
    for (tau, l) in delayed {
        let row = lagrange_row(&x, 1.0 - 2.0 * tau / tau_max);
        for (j, wj) in row.iter().enumerate() {
            if *wj == 0.0 {
                continue;
            }
            for r in 0..n {
                for c in 0..n {
                    a[(r, j * n + c)] += wj * l[(r, c)];
                }
            }
        }
    }
    for i in 1..=m {
        for j in 0..=m {
            let v = d[(i, j)] * dscale;
            for r in 0..n {
                a[(i * n + r, j * n + r)] = v;
            }
        }
    }
    eigenvalues(&a)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// λ + a e^{-λτ} = 0 has its rightmost pair on the imaginary axis at
    /// a τ = π/2, at λ = ±i a.
    #[test]
    fn the_delay_equation_has_its_pair_on_the_axis_at_a_tau_half_pi() {
        let tau = 0.01;
        let a = std::f64::consts::FRAC_PI_2 / tau;
        let l1 = DMatrix::from_element(1, 1, -a);
        let ev = delay_roots(&DMatrix::zeros(1, 1), &[(tau, l1)], 24).unwrap();
        let z = rightmost(&ev).unwrap();
        // spectral convergence: 24 points give the root to ~1e-10 relative
        assert!(z.re.abs() < 1e-8 * a, "{z}");
        assert!((z.im - a).abs() < 1e-8 * a, "{z}");
    }

    #[test]
    fn types_of_fixed_points() {
        let c = |re, im| C64::new(re, im);
        assert_eq!(classify(&[c(-1.0, 2.0), c(-1.0, -2.0)]), "stable focus");
        assert_eq!(classify(&[c(-1.0, 0.0), c(-3.0, 0.0)]), "stable node");
        assert_eq!(classify(&[c(1.0, 0.0), c(-3.0, 0.0)]), "saddle");
        assert_eq!(classify(&[c(1.0, 2.0), c(1.0, -2.0)]), "unstable focus");
    }
}
