//! Small dense linear algebra for the schemes: matrix exponential (scaling
//! and squaring with a Taylor series, Higham 2005 style error bound) and LU
//! solves with partial pivoting. Matrices are row-major `Vec<f64>` of n*n.

/// A square matrix, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Mat {
    pub n: usize,
    pub a: Vec<f64>,
}

impl Mat {
    pub fn zeros(n: usize) -> Mat {
        Mat { n, a: vec![0.0; n * n] }
    }

    pub fn identity(n: usize) -> Mat {
        let mut m = Mat::zeros(n);
        for i in 0..n {
            m.a[i * n + i] = 1.0;
        }
        m
    }

    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.a[i * self.n + j]
    }

    pub fn set(&mut self, i: usize, j: usize, v: f64) {
        self.a[i * self.n + j] = v;
    }

    pub fn mul(&self, o: &Mat) -> Mat {
        let n = self.n;
        let mut out = Mat::zeros(n);
        for i in 0..n {
            for k in 0..n {
                let x = self.a[i * n + k];
                if x == 0.0 {
                    continue;
                }
                for j in 0..n {
                    out.a[i * n + j] += x * o.a[k * n + j];
                }
            }
        }
        out
    }

    pub fn scale(&self, s: f64) -> Mat {
        Mat { n: self.n, a: self.a.iter().map(|x| x * s).collect() }
    }

    pub fn mul_vec(&self, v: &[f64]) -> Vec<f64> {
        (0..self.n).map(|i| (0..self.n).map(|j| self.a[i * self.n + j] * v[j]).sum()).collect()
    }

    /// The infinity norm (largest absolute row sum).
    pub fn norm_inf(&self) -> f64 {
        (0..self.n).map(|i| (0..self.n).map(|j| self.a[i * self.n + j].abs()).sum::<f64>()).fold(0.0, f64::max)
    }
}

/// e^M by scaling and squaring: M / 2^s has norm below 1/2, where a Taylor
/// series of 18 terms is accurate to double precision; then square s times.
pub fn expm(m: &Mat) -> Mat {
    let n = m.n;
    let norm = m.norm_inf();
    if !norm.is_finite() {
        return Mat { n, a: vec![f64::NAN; n * n] };
    }
    let s = if norm > 0.5 { (norm / 0.5).log2().ceil() as i32 } else { 0 };
    let s = s.clamp(0, 1000);
    let x = m.scale(0.5f64.powi(s));
    let mut sum = Mat::identity(n);
    let mut term = Mat::identity(n);
    for k in 1..=18 {
        term = term.mul(&x).scale(1.0 / k as f64);
        for (a, b) in sum.a.iter_mut().zip(&term.a) {
            *a += b;
        }
    }
    for _ in 0..s {
        sum = sum.mul(&sum);
    }
    sum
}

/// (e^{A h}, integral_0^h e^{A s} ds): the propagator of y' = A y + b with
/// constant b is y(h) = Phi y(0) + Psi b. Both come from one exponential of
/// the block matrix [[A, I], [0, 0]] h (Van Loan 1978), which stays exact
/// when A is singular.
pub fn propagators(a: &Mat, h: f64) -> (Mat, Mat) {
    let n = a.n;
    let mut big = Mat::zeros(2 * n);
    for i in 0..n {
        for j in 0..n {
            big.set(i, j, a.get(i, j) * h);
        }
        big.set(i, n + i, h);
    }
    let e = expm(&big);
    let mut phi = Mat::zeros(n);
    let mut psi = Mat::zeros(n);
    for i in 0..n {
        for j in 0..n {
            phi.set(i, j, e.get(i, j));
            psi.set(i, j, e.get(i, n + j));
        }
    }
    (phi, psi)
}

/// Solves M x = b by LU with partial pivoting. `None` if M is singular.
pub fn solve(m: &Mat, b: &[f64]) -> Option<Vec<f64>> {
    let n = m.n;
    let mut a = m.a.clone();
    let mut x = b.to_vec();
    for col in 0..n {
        let piv = (col..n).max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))?;
        if a[piv * n + col] == 0.0 || !a[piv * n + col].is_finite() {
            return None;
        }
        if piv != col {
            for j in 0..n {
                a.swap(col * n + j, piv * n + j);
            }
            x.swap(col, piv);
        }
        for i in col + 1..n {
            let f = a[i * n + col] / a[col * n + col];
            if f != 0.0 {
                for j in col..n {
                    a[i * n + j] -= f * a[col * n + j];
                }
                x[i] -= f * x[col];
            }
        }
    }
    for i in (0..n).rev() {
        let mut s = x[i];
        for j in i + 1..n {
            s -= a[i * n + j] * x[j];
        }
        x[i] = s / a[i * n + i];
    }
    Some(x)
}

/// One backward Euler step of a kinetic scheme: solves (I - h Q) x = p,
/// Q the generator (q_ik the rate from k to i for i != k; its diagonal is
/// not read: each column sums to zero). Elimination in the species' order
/// without pivoting, written so that every operation adds non-negative
/// numbers (Grassmann, Taksar & Heyman 1985): I - h Q is a column
/// diagonally dominant M-matrix, its off-diagonal magnitudes n_ik = h q_ik
/// and its diagonal d_k = c_k + sum_i n_ik with the column's excess c_k = 1.
/// Eliminating k adds f n_kj to n_ij (f = n_ik / d_k) and n_kj c_k / d_k to
/// c_j, and each pivot is its excess plus the column below it: never a
/// difference. So x >= 0 whenever p >= 0, to rounding (no cancellation),
/// and sum x = sum p up to rounding. Kernels build the same operations in
/// the same order ([`crate::kernel`]), skipping entries that are zero by
/// structure where this skips those that are zero by value (the same sums).
pub fn kinetic_backward_euler(q: &Mat, h: f64, p: &[f64]) -> Vec<f64> {
    let n = q.n;
    // off[i * n + k] = n_ik; the diagonal slot is unused
    let mut off: Vec<f64> = (0..n * n).map(|ik| if ik / n == ik % n { 0.0 } else { h * q.a[ik] }).collect();
    let mut c = vec![1.0; n];
    let mut d = vec![0.0; n];
    let mut g = p.to_vec();
    for k in 0..n {
        d[k] = (k + 1..n).fold(c[k], |s, i| s + off[i * n + k]);
        let inv = 1.0 / d[k];
        for i in k + 1..n {
            let f = off[i * n + k] * inv;
            if f == 0.0 {
                continue;
            }
            for j in k + 1..n {
                if j != i && off[k * n + j] != 0.0 {
                    off[i * n + j] = f.mul_add(off[k * n + j], off[i * n + j]);
                }
            }
            g[i] = f.mul_add(g[k], g[i]);
        }
        let ck = c[k] * inv;
        for j in k + 1..n {
            if off[k * n + j] != 0.0 {
                c[j] = off[k * n + j].mul_add(ck, c[j]);
            }
        }
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s = (i + 1..n).fold(g[i], |s, j| if off[i * n + j] != 0.0 { off[i * n + j].mul_add(x[j], s) } else { s });
        x[i] = s / d[i];
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expm_of_diagonal_and_rotation() {
        let mut d = Mat::zeros(2);
        d.set(0, 0, -3.0);
        d.set(1, 1, 50.0);
        let e = expm(&d);
        assert!((e.get(0, 0) - (-3.0f64).exp()).abs() < 1e-15);
        assert!((e.get(1, 1) / 50.0f64.exp() - 1.0).abs() < 1e-13);
        let mut r = Mat::zeros(2);
        r.set(0, 1, -1.0);
        r.set(1, 0, 1.0);
        let e = expm(&r.scale(std::f64::consts::PI / 3.0));
        assert!((e.get(0, 0) - 0.5).abs() < 1e-15);
        assert!((e.get(1, 0) - (3.0f64).sqrt() / 2.0).abs() < 1e-15);
    }

    #[test]
    fn propagators_handle_singular_a() {
        // y' = b (A = 0): y(h) = y0 + h b
        let (phi, psi) = propagators(&Mat::zeros(1), 0.25);
        assert_eq!(phi.get(0, 0), 1.0);
        assert!((psi.get(0, 0) - 0.25).abs() < 1e-16);
    }

    #[test]
    fn solve_with_pivoting() {
        let m = Mat { n: 2, a: vec![0.0, 2.0, 3.0, 1.0] };
        let x = solve(&m, &[4.0, 5.0]).unwrap(); // ok: unit test
        assert!((x[0] - 1.0).abs() < 1e-15 && (x[1] - 2.0).abs() < 1e-15);
        assert!(solve(&Mat::zeros(2), &[1.0, 1.0]).is_none());
    }

    #[test]
    fn kinetic_backward_euler_solves_and_keeps_occupancies() {
        // a stiff 3-state chain with a loop: 0 <-> 1 <-> 2 -> 0
        let mut q = Mat::zeros(3);
        for (from, to, r) in [(0, 1, 5e3), (1, 0, 2.0), (1, 2, 7e5), (2, 1, 1e-3), (2, 0, 30.0)] {
            q.set(to, from, q.get(to, from) + r);
            q.set(from, from, q.get(from, from) - r);
        }
        let (h, p) = (1e-3, [0.2, 0.5, 0.3]);
        let x = kinetic_backward_euler(&q, h, &p);
        // the residual of (I - h Q) x = p
        let mut m = Mat::identity(3);
        for ik in 0..9 {
            m.a[ik] -= h * q.a[ik];
        }
        for (r, pr) in m.mul_vec(&x).iter().zip(p) {
            assert!((r - pr).abs() < 1e-15, "{r} vs {pr}");
        }
        assert!(x.iter().all(|&v| v >= 0.0));
        assert!((x.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        // a state emptied to machine precision stays non-negative
        let x = kinetic_backward_euler(&q.scale(1e6), h, &[1.0, 0.0, 0.0]);
        assert!(x.iter().all(|&v| v >= 0.0) && (x.iter().sum::<f64>() - 1.0).abs() < 1e-14, "{x:?}");
    }
}
