//! The Fisher information of an observed trajectory and what it says
//! about identifiability.
//!
//! Input: a [`Problem`], a parameter point and the observation noise (the
//! observed state sampled at every recorded step, with independent
//! Gaussian errors of SD sigma). Output: a [`Report`]: the Fisher
//! information in log-parameters, F = J^T J / sigma^2 with J[k][j] =
//! theta_j dy(t_k)/d theta_j (so that its inverse is the covariance of
//! relative errors), its eigen-decomposition (Jacobi rotations), the
//! Cramer-Rao bounds, and the parameter combinations that are not
//! identifiable:
//! - structurally: an eigenvalue below `RANK_TOL` of the largest (the
//!   sensitivities are linearly dependent at this point). The direction v
//!   is then checked as a scaling symmetry of the model itself: with
//!   theta_j -> theta_j e^(s v_j), the equations and initial values do not
//!   change when sum_j v_j theta_j df/d theta_j = 0, differentiated
//!   symbolically and evaluated at random points of states and parameters
//!   (a product a b that appears only as such gives v = (1, -1)/sqrt 2);
//! - practically: a direction whose standard deviation in log-parameters,
//!   1/sqrt(lambda), exceeds `POOR` (10% relative).

use super::{Problem, Trajectory};
use crate::diag::Diagnostic;
use crate::ir::eval::{eval, eval_values, Env};
use crate::ir::Var;
use serde_json::{json, Value};

/// Eigenvalues below this fraction of the largest count as zero.
pub const RANK_TOL: f64 = 1e-10;

/// A direction with a larger SD than this (in log-parameters) is poorly
/// identified.
pub const POOR: f64 = 0.1;

/// What the Fisher information says at one parameter point.
#[derive(Clone, Debug)]
pub struct Report {
    pub names: Vec<String>,
    /// The parameter point (SI) and the parameters' display units.
    pub values: Vec<f64>,
    pub units: Vec<(String, f64)>,
    pub observed: String,
    /// Observation noise SD (SI) and its display unit.
    pub sigma: f64,
    pub sigma_unit: (String, f64),
    pub samples: usize,
    /// F in log-parameters.
    pub fim: Vec<Vec<f64>>,
    /// Eigenvalues, descending, each with its unit eigenvector.
    pub eigen: Vec<(f64, Vec<f64>)>,
    /// Cramer-Rao bound on each parameter's relative SD (infinite when
    /// it lies in a non-identifiable direction).
    pub relative_sd: Vec<f64>,
    /// Directions not identifiable from the data at all: (eigenvector,
    /// whether the model's equations and initial values are invariant
    /// along it at random points, or None when it could not be checked).
    pub structural: Vec<(Vec<f64>, Option<bool>)>,
    /// Identifiable directions whose SD exceeds [`POOR`]: (eigenvector,
    /// SD in log-parameters).
    pub practical: Vec<(Vec<f64>, f64)>,
    /// Whether the model has events (not part of the symmetry check).
    pub has_events: bool,
    /// Profiles asked for (see [`profile`]).
    pub profiles: Vec<Profile>,
}

/// The profile of one parameter with the model's own noise-free
/// trajectory as the data: chi-square(value) = min over the others of
/// SSR / sigma^2, less its least value over the grid.
#[derive(Clone, Debug)]
pub struct Profile {
    pub name: String,
    /// (value SI, chi-square).
    pub points: Vec<(f64, f64)>,
    /// The 95% interval where chi-square < 3.84, linearly interpolated;
    /// None on a side where the profile never reached it (not identifiable
    /// that way within the range).
    pub interval: (Option<f64>, Option<f64>),
}

/// 95% quantile of chi-square with one degree of freedom.
pub const CHI2_95: f64 = 3.841_458_820_694_124;

/// The profile of parameter `k` of `p` at `theta` with noise `sigma`,
/// over `values` (SI, ascending), each refitted by Levenberg-Marquardt.
pub fn profile(p: &Problem, theta: &[f64], sigma: f64, k: usize, values: &[f64]) -> Result<Profile, Box<Diagnostic>> {
    let traj = p.simulate(theta)?;
    // the trace after its start, or every spike
    let from = usize::from(!traj.spikes);
    let data = super::fit::Data { t: traj.t[from..].to_vec(), y: traj.y[from..].to_vec() };
    let opts = super::fit::Options::around(theta);
    let mut values = values.to_vec();
    values.sort_by(f64::total_cmp);
    let raw: Vec<(f64, f64)> = super::fit::profile(p, &data, theta, k, &values, &opts)?
        .into_iter()
        .map(|(v, ssr)| (v, ssr / (sigma * sigma)))
        .collect();
    // chi-square above the profile's least value (zero at theta when theta
    // is on the grid and the refits find the minimum)
    let least = raw.iter().map(|x| x.1).fold(f64::INFINITY, f64::min);
    let points: Vec<(f64, f64)> = raw.into_iter().map(|(v, c)| (v, c - least)).collect();
    // the first crossings of the threshold on each side of the minimum
    let best = (0..points.len()).min_by(|&a, &b| points[a].1.total_cmp(&points[b].1)).unwrap_or(0);
    let cross = |a: (f64, f64), b: (f64, f64)| a.0 + (CHI2_95 - a.1) / (b.1 - a.1) * (b.0 - a.0);
    let lo = (1..=best)
        .rev()
        .find(|&i| points[i - 1].1 >= CHI2_95 && points[i].1 < CHI2_95)
        .map(|i| cross(points[i], points[i - 1]));
    let hi = (best..points.len().saturating_sub(1))
        .find(|&i| points[i + 1].1 >= CHI2_95 && points[i].1 < CHI2_95)
        .map(|i| cross(points[i], points[i + 1]));
    Ok(Profile { name: p.names()[k].clone(), points, interval: (lo, hi) })
}

/// F = J^T J / sigma^2 in log-parameters from a trajectory at `theta`.
#[allow(clippy::needless_range_loop)] // a symmetric matrix's lower triangle
pub fn information(traj: &Trajectory, theta: &[f64], sigma: f64) -> Vec<Vec<f64>> {
    let p = theta.len();
    let mut f = vec![vec![0.0; p]; p];
    for k in 0..traj.y.len() {
        for i in 0..p {
            let gi = theta[i] * traj.dy[i][k];
            for j in 0..=i {
                f[i][j] += gi * theta[j] * traj.dy[j][k];
            }
        }
    }
    let s2 = sigma * sigma;
    for i in 0..p {
        for j in 0..=i {
            f[i][j] /= s2;
            f[j][i] = f[i][j];
        }
    }
    f
}

/// Eigenvalues (descending) and unit eigenvectors of a symmetric matrix,
/// by cyclic Jacobi rotations (accurate to rounding relative to the
/// largest eigenvalue, enough for the few parameters of a fit).
#[allow(clippy::needless_range_loop)] // rotations of rows and columns p and q
pub fn eigen(a: &[Vec<f64>]) -> Vec<(f64, Vec<f64>)> {
    let n = a.len();
    let mut a: Vec<Vec<f64>> = a.to_vec();
    let mut v: Vec<Vec<f64>> = (0..n).map(|i| (0..n).map(|j| f64::from(u8::from(i == j))).collect()).collect();
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i][j] * a[i][j])
            .sum();
        let diag: f64 = (0..n).map(|i| a[i][i] * a[i][i]).sum();
        if off <= 1e-32 * diag || off == 0.0 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                if a[p][q] == 0.0 {
                    continue;
                }
                let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k][p], a[k][q]);
                    a[k][p] = c * akp - s * akq;
                    a[k][q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p][k], a[q][k]);
                    a[p][k] = c * apk - s * aqk;
                    a[q][k] = s * apk + c * aqk;
                }
                for row in v.iter_mut() {
                    let (vkp, vkq) = (row[p], row[q]);
                    row[p] = c * vkp - s * vkq;
                    row[q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut out: Vec<(f64, Vec<f64>)> = (0..n)
        .map(|i| {
            let mut vec: Vec<f64> = (0..n).map(|k| v[k][i]).collect();
            // sign: the largest component positive
            let big = vec.iter().fold(0.0f64, |m, x| if x.abs() > m.abs() { *x } else { m });
            if big < 0.0 {
                vec.iter_mut().for_each(|x| *x = -*x);
            }
            (a[i][i], vec)
        })
        .collect();
    out.sort_by(|x, y| y.0.total_cmp(&x.0));
    out
}

/// Each parameter's SD in log-parameters from the Fisher information
/// `fim` (its inverse's diagonal, through the eigen-decomposition): a
/// parameter with weight on a direction whose eigenvalue is below
/// [`RANK_TOL`] of the largest is unbounded (infinite).
pub fn log_sds(fim: &[Vec<f64>]) -> Vec<f64> {
    let eigen = eigen(fim);
    let top = eigen.first().map_or(0.0, |e| e.0);
    let zero = |l: f64| l.partial_cmp(&(RANK_TOL * top)) != Some(std::cmp::Ordering::Greater) || top <= 0.0;
    (0..fim.len())
        .map(|i| {
            let mut var = 0.0;
            for (l, v) in &eigen {
                if zero(*l) {
                    if v[i].abs() > 1e-6 {
                        return f64::INFINITY;
                    }
                } else {
                    var += v[i] * v[i] / l;
                }
            }
            if var.is_finite() {
                var.sqrt()
            } else {
                f64::INFINITY
            }
        })
        .collect()
}

/// The identifiability report of `p` at `theta` (SI) with observation
/// noise `sigma` (SI).
pub fn report(p: &Problem, theta: &[f64], sigma: f64) -> Result<Report, Box<Diagnostic>> {
    if let Some(why) = p.without_sensitivities() {
        return Err(Box::new(
            Diagnostic::error(crate::diag::Code::NoSensitivity, why.to_string()).at(p.span(), "asked here").help(
                "the Fisher information needs the sensitivities; `neuroc fit` still fits such a model, derivative-free",
            ),
        ));
    }
    let traj = p.simulate(theta)?;
    let fim = information(&traj, theta, sigma);
    let eigen = eigen(&fim);
    let top = eigen.first().map_or(0.0, |e| e.0);
    // NaN counts as zero
    let zero = |l: f64| l.partial_cmp(&(RANK_TOL * top)) != Some(std::cmp::Ordering::Greater) || top <= 0.0;
    let mut structural = Vec::new();
    let mut practical = Vec::new();
    for (l, v) in &eigen {
        if zero(*l) {
            structural.push((v.clone(), symmetry(p, theta, v)));
        } else if 1.0 / l.sqrt() > POOR {
            practical.push((v.clone(), 1.0 / l.sqrt()));
        }
    }
    // Cramer-Rao: diag(F^-1)
    let relative_sd = log_sds(&fim);
    let (units, sigma_unit) = p.units();
    Ok(Report {
        names: p.names(),
        values: theta.to_vec(),
        units,
        observed: p.observed().to_string(),
        sigma,
        sigma_unit,
        samples: traj.y.len(),
        fim,
        eigen,
        relative_sd,
        structural,
        practical,
        has_events: !p.model.events.is_empty(),
        profiles: Vec::new(),
    })
}

/// Whether the scaling along log-direction `v` leaves the model's
/// equations and initial values unchanged: sum_j v_j theta_j df/d theta_j
/// at 20 random points (states and parameters drawn around the initial
/// state and `theta`), against the size of the terms. None when a
/// derivative cannot be taken.
fn symmetry(p: &Problem, theta: &[f64], v: &[f64]) -> Option<bool> {
    let mut m = p.model.clone();
    let mut exprs: Vec<crate::ir::ExprId> = m.states.iter().filter_map(|s| s.rhs).collect();
    exprs.extend(m.states.iter().map(|s| s.init));
    let mut derivs = Vec::new();
    for &e in &exprs {
        let mut row = Vec::new();
        for &q in &p.wrt {
            row.push(crate::symbolic::diff(&mut m, e, Var::Param(q)).ok()?);
        }
        derivs.push(row);
    }
    let mut rng = crate::runtime::stream::Stream::new(0x5eed, 16, 0);
    let mut values = Vec::new();
    for _ in 0..20 {
        let mut params = p.base.clone();
        for (&q, &t) in p.wrt.iter().zip(theta) {
            params[q] = t * (0.5 + rng.uniform());
        }
        let y0 = p.simulate_initial(&params);
        let y: Vec<f64> = y0.iter().map(|x| x * (0.5 + rng.uniform()) + 0.1 * (rng.uniform() - 0.5)).collect();
        eval_values(&m, 0.0, &y, &params, &p.value_exprs, &mut values);
        let env = Env { t: 0.0, states: &y, params: &params, values: &values, args: &[] };
        for row in &derivs {
            let terms: Vec<f64> =
                row.iter().zip(&p.wrt).zip(v).map(|((&d, &q), &w)| w * params[q] * eval(&m, d, &env)).collect();
            let sum: f64 = terms.iter().sum();
            let size: f64 = terms.iter().map(|x| x.abs()).sum();
            if !sum.is_finite() {
                return None;
            }
            if sum.abs() > 1e-9 * size.max(f64::MIN_POSITIVE) && size > 0.0 {
                return Some(false);
            }
        }
    }
    Some(true)
}

impl Report {
    /// The report for people.
    pub fn text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "identifiability of {} from `{}` ({} samples, noise SD {}):",
            self.names.join(", "),
            self.observed,
            self.samples,
            super::with_unit(self.sigma / self.sigma_unit.1, &self.sigma_unit.0)
        );
        let _ = writeln!(s, "  at:");
        for (i, name) in self.names.iter().enumerate() {
            let (u, f) = &self.units[i];
            let sd = self.relative_sd[i];
            let bound = if sd.is_finite() {
                format!("+/- {:.3}% (Cramer-Rao, 1 SD)", 100.0 * sd)
            } else {
                "not identifiable".into()
            };
            let _ = writeln!(s, "    {name:<14} = {:<16} {bound}", super::with_unit(self.values[i] / f, u));
        }
        let _ = writeln!(s, "  Fisher information in log-parameters, eigenvalues (SD along each direction):");
        for (l, v) in &self.eigen {
            let sd = if *l > 0.0 { format!("{:.3e}", 1.0 / l.sqrt()) } else { "inf".into() };
            let _ = writeln!(s, "    {:>11.4e}  SD {sd:<10}  {}", l, self.direction(v));
        }
        if self.structural.is_empty() {
            let _ = writeln!(s, "  structurally: every direction is identifiable (full rank at this point)");
        }
        for (v, sym) in &self.structural {
            let what = match sym {
                Some(true) => format!(
                    "a symmetry of the model: its equations and initial values do not change along it (checked at 20 random points{})",
                    if self.has_events { "; events not checked" } else { "" }
                ),
                Some(false) => "rank-deficient at this point, though the equations do change along it (not a symmetry: a coincidence of this point or of the observable)".into(),
                None => "rank-deficient at this point (the symmetry check could not differentiate the model)".into(),
            };
            let _ = writeln!(s, "  NOT identifiable: {}: {what}", self.direction(v));
            if let Some(c) = self.combination(v) {
                let _ = writeln!(s, "    only {c} can be known");
            }
        }
        for (v, sd) in &self.practical {
            let _ = writeln!(s, "  poorly identified: {} (SD {:.1}% in this direction)", self.direction(v), 100.0 * sd);
        }
        for pr in &self.profiles {
            let j = self.names.iter().position(|n| *n == pr.name).unwrap_or(0);
            let (u, f) = &self.units[j];
            let side = |x: Option<f64>| x.map_or("not reached".to_string(), |x| super::with_unit(x / f, u));
            let _ = writeln!(
                s,
                "  profile of {} (the others refitted; chi-square against the noise-free trace): 95% interval [{}, {}]",
                pr.name,
                side(pr.interval.0),
                side(pr.interval.1)
            );
            for (v, c) in &pr.points {
                let _ = writeln!(s, "    {:<18} chi2 {:.4}", super::with_unit(v / f, u), c);
            }
        }
        s
    }

    /// `0.707 ln(a) - 0.707 ln(b)`.
    fn direction(&self, v: &[f64]) -> String {
        let mut out = String::new();
        for ((x, name), value) in v.iter().zip(&self.names).zip(&self.values) {
            let bars = if *value < 0.0 { "|" } else { "" };
            if x.abs() < 1e-3 {
                continue;
            }
            if !out.is_empty() {
                out.push_str(if *x < 0.0 { " - " } else { " + " });
            } else if *x < 0.0 {
                out.push('-');
            }
            out.push_str(&format!("{:.3} ln({bars}{name}{bars})", x.abs()));
        }
        out
    }

    /// What stays known along a direction of one or two parameters: the
    /// combination orthogonal to it, a^(v_b) b^(-v_a), written with a's
    /// power 1 (`a * b` for v = (1, -1), `a / b` for v = (1, 1)).
    fn combination(&self, v: &[f64]) -> Option<String> {
        let big: Vec<usize> = (0..v.len()).filter(|&i| v[i].abs() > 1e-3).collect();
        match big.as_slice() {
            [i] => Some(format!("nothing of {} (it does not change `{}`)", self.names[*i], self.observed)),
            [i, j] => {
                let r = -v[*i] / v[*j];
                let power = if (r.abs() - 1.0).abs() < 1e-3 { String::new() } else { format!("^{:.3}", r.abs()) };
                let op = if r > 0.0 { "*" } else { "/" };
                Some(format!("{} {op} {}{power}", self.names[*i], self.names[*j]))
            }
            many if many.iter().all(|&i| (v[i] - v[many[0]]).abs() < 1e-3) => {
                let names: Vec<&str> = many.iter().map(|&i| self.names[i].as_str()).collect();
                Some(format!("the ratios of {} (scaling them all together changes nothing)", names.join(", ")))
            }
            _ => None,
        }
    }

    /// Writes the report into `dir`: `identifiability.json`, `eigen.csv`
    /// (each direction's log10 eigenvalue, the spectrum's plot) and
    /// `profile_NAME.csv` (value in its unit, chi-square) per profile, then
    /// their SVG plots. The files written.
    pub fn write(&self, dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>, String> {
        use std::fmt::Write as _;
        let fail = |e: std::io::Error| format!("cannot write in `{}`: {e}", dir.display());
        std::fs::create_dir_all(dir).map_err(fail)?;
        let mut files = Vec::new();
        let json = serde_json::to_string_pretty(&self.json()).unwrap_or_default() + "\n";
        let path = dir.join("identifiability.json");
        std::fs::write(&path, json).map_err(fail)?;
        files.push(path);
        let mut eigen = String::from("direction,log10_eigenvalue\n");
        for (i, (l, _)) in self.eigen.iter().enumerate() {
            let _ = writeln!(eigen, "{},{}", i + 1, l.max(f64::MIN_POSITIVE).log10());
        }
        let path = dir.join("eigen.csv");
        std::fs::write(&path, eigen).map_err(fail)?;
        files.push(path);
        for pr in &self.profiles {
            let j = self.names.iter().position(|n| *n == pr.name).unwrap_or(0);
            let (u, f) = &self.units[j];
            let mut csv = format!("{},chi2\n", crate::output::header(&pr.name, u));
            for (v, c) in &pr.points {
                let _ = writeln!(csv, "{},{c}", v / f);
            }
            let path = dir.join(format!("profile_{}.csv", pr.name.replace(['.', '/'], "_")));
            std::fs::write(&path, csv).map_err(fail)?;
            files.push(path);
        }
        files.extend(crate::plot::plot_dir(dir)?);
        Ok(files)
    }

    /// The report as JSON.
    pub fn json(&self) -> Value {
        let num = |x: f64| if x.is_finite() { json!(x) } else { Value::Null };
        json!({
            "observed": self.observed,
            "noise_sd_si": self.sigma,
            "samples": self.samples,
            "parameters": self.names.iter().enumerate().map(|(i, n)| json!({
                "name": n,
                "value_si": self.values[i],
                "unit": self.units[i].0,
                "value": self.values[i] / self.units[i].1,
                "relative_sd": num(self.relative_sd[i]),
            })).collect::<Vec<_>>(),
            "fisher_log_parameters": self.fim,
            "eigen": self.eigen.iter().map(|(l, v)| json!({"value": l, "vector": v})).collect::<Vec<_>>(),
            "structurally_non_identifiable": self.structural.iter().map(|(v, sym)| json!({
                "vector": v,
                "symmetry_of_the_model": sym,
            })).collect::<Vec<_>>(),
            "poorly_identified": self.practical.iter().map(|(v, sd)| json!({"vector": v, "sd": sd})).collect::<Vec<_>>(),
            "profiles": self.profiles.iter().map(|pr| json!({
                "name": pr.name,
                "values_si": pr.points.iter().map(|x| x.0).collect::<Vec<_>>(),
                "chi2": pr.points.iter().map(|x| x.1).collect::<Vec<_>>(),
                "interval95_si": [pr.interval.0, pr.interval.1],
            })).collect::<Vec<_>>(),
        })
    }
}
