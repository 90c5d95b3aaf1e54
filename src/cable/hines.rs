//! The Hines elimination (Hines 1984): a linear system on a tree, with
//! nodes numbered parents first, solved in O(N) without fill-in.
//!
//! Row i reads `d[i] x[i] + a[i] x[parent[i]] + sum over children c of
//! a[c] x[c] = b[i]`: the matrix is symmetric, its off-diagonal entries
//! those of node-parent pairs. Eliminating the leaves first (from the last
//! node to the first) folds each node into its parent; the root is then
//! alone, and back-substitution runs from the root outward.

/// Solves the system in place: `b` becomes x; `d` is overwritten (with
/// the reciprocals of the eliminated pivots: one division per node).
pub fn solve(parent: &[usize], a: &[f64], d: &mut [f64], b: &mut [f64]) {
    let n = d.len();
    for i in (0..n).rev() {
        let r = 1.0 / d[i];
        d[i] = r;
        let p = parent[i];
        if p != usize::MAX {
            let f = a[i] * r;
            d[p] -= f * a[i];
            b[p] -= f * b[i];
        }
    }
    for i in 0..n {
        let p = parent[i];
        let rhs = if p != usize::MAX { b[i] - a[i] * b[p] } else { b[i] };
        b[i] = rhs * d[i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random trees of 10 to 10,000 nodes, diagonally dominant as a cable's
    /// matrix is: the solution satisfies the original system to 1e-12
    /// (relative), which is what a dense solve would give.
    #[test]
    fn hines_equals_a_dense_solve_on_random_trees() {
        let mut seed = 12345u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for n in [10usize, 100, 1000, 10_000] {
            let parent: Vec<usize> =
                (0..n).map(|i| if i == 0 { usize::MAX } else { (rnd() * i as f64) as usize }).collect();
            let a: Vec<f64> = (0..n).map(|i| if i == 0 { 0.0 } else { -(0.1 + rnd()) }).collect();
            let mut d: Vec<f64> = (0..n).map(|_| 0.01 + rnd()).collect();
            for i in 1..n {
                d[i] -= a[i];
                d[parent[i]] -= a[i];
            }
            let x: Vec<f64> = (0..n).map(|_| rnd() - 0.5).collect();
            let mut b: Vec<f64> = (0..n).map(|i| d[i] * x[i]).collect();
            for i in 1..n {
                b[i] += a[i] * x[parent[i]];
                b[parent[i]] += a[i] * x[i];
            }
            if n <= 100 {
                // against a dense LU solve of the same matrix
                let mut m = crate::schemes::linalg::Mat::zeros(n);
                for i in 0..n {
                    m.set(i, i, d[i]);
                    if i > 0 {
                        m.set(i, parent[i], a[i]);
                        m.set(parent[i], i, a[i]);
                    }
                }
                let dense = crate::schemes::linalg::solve(&m, &b).unwrap(); // ok: test
                let mut dd = d.clone();
                let mut bb = b.clone();
                solve(&parent, &a, &mut dd, &mut bb);
                for (u, v) in dense.iter().zip(&bb) {
                    assert!((u - v).abs() < 1e-12, "n = {n}: {u} vs {v}");
                }
            }
            let mut dd = d.clone();
            solve(&parent, &a, &mut dd, &mut b);
            let worst = x.iter().zip(&b).map(|(u, v)| (u - v).abs()).fold(0.0, f64::max);
            assert!(worst < 1e-12, "n = {n}: {worst:e}");
        }
    }
}
