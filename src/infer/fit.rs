//! Fitting parameters to a recorded trace: least squares by
//! Levenberg-Marquardt on the sensitivities, in log-parameters (positive
//! parameters) within bounds, from several starts.
//!
//! Input: a [`Problem`], the data (times and values of the observed
//! state, SI) and [`Options`]. Output: a [`Fit`]: the estimate, its
//! residuals, the noise SD estimated from them, and 95% confidence
//! intervals from the Fisher information at the estimate (the covariance
//! of log-parameters s^2 (J^T J)^-1, intervals exp(ln theta +/- 1.96 SD)).
//! The model is sampled at the data's times by linear interpolation
//! between its recorded steps (its sensitivities likewise, so the
//! Jacobian is that of what is compared).
//!
//! Levenberg-Marquardt with Marquardt's scaling (J^T J + lambda
//! diag(J^T J)) delta = -J^T r: lambda shrinks tenfold after a step that
//! lowers the sum of squares and grows tenfold after one that does not;
//! the fit stops when a step changes the sum of squares by less than 1e-12
//! of itself, or after `max_iterations`. Each start is fitted on growing
//! windows of the data (the first 5%, then doubling), so that a trace of
//! many spikes does not trap the descent in a misaligned minimum.

use super::{fisher, Problem, Trajectory};
use crate::diag::{Code, Diagnostic};

/// Observations of the problem's observed state.
#[derive(Clone, Debug, Default)]
pub struct Data {
    /// Times, s, ascending.
    pub t: Vec<f64>,
    /// Values, SI.
    pub y: Vec<f64>,
}

#[derive(Clone, Debug)]
pub struct Options {
    /// Bounds per parameter (SI): the fit stays within them.
    pub bounds: Vec<(f64, f64)>,
    /// Starting points besides the given one: each parameter drawn
    /// log-uniformly within its bounds.
    pub extra_starts: usize,
    pub max_iterations: usize,
    pub seed: u64,
}

impl Options {
    /// Bounds of a factor 10 around `start`, no extra starts.
    pub fn around(start: &[f64]) -> Options {
        Options {
            bounds: start.iter().map(|&x| if x > 0.0 { (x / 10.0, x * 10.0) } else { (x * 10.0, x / 10.0) }).collect(),
            extra_starts: 0,
            max_iterations: 200,
            seed: 1,
        }
    }
}

/// A finished fit.
#[derive(Clone, Debug)]
pub struct Fit {
    pub names: Vec<String>,
    pub theta: Vec<f64>,
    /// 95% confidence intervals (SI).
    pub ci95: Vec<(f64, f64)>,
    /// Relative SD of each parameter (log-parameter SD).
    pub relative_sd: Vec<f64>,
    /// Sum of squared residuals and the noise SD they give,
    /// sqrt(SSR / (n - p)).
    pub ssr: f64,
    pub sigma: f64,
    /// Model minus data at each data point (SI).
    pub residuals: Vec<f64>,
    /// The model at the data's times (SI).
    pub model: Vec<f64>,
    pub iterations: usize,
    pub converged: bool,
    /// Which start gave the best fit (0: the one given) of how many.
    pub best_start: usize,
    pub starts: usize,
    /// Why the fit was derivative-free (Nelder-Mead), when it was.
    pub derivative_free: Option<String>,
}

/// The model and its sensitivities at the data's times. Spike times are
/// matched in order: the model's k-th spike against the data's k-th; a
/// spike the model does not fire counts as at the end of its run, with no
/// derivative (extra model spikes are not compared).
#[allow(clippy::needless_range_loop)] // parameter j of each row
fn at_data(traj: &Trajectory, data: &Data) -> (Vec<f64>, Vec<Vec<f64>>) {
    let n = traj.t.len();
    let p = traj.dy.len();
    if traj.spikes {
        let y = (0..data.t.len()).map(|k| traj.y.get(k).copied().unwrap_or(traj.end)).collect();
        let dy =
            traj.dy.iter().map(|d| (0..data.t.len()).map(|k| d.get(k).copied().unwrap_or(0.0)).collect()).collect();
        return (y, dy);
    }
    let mut y = Vec::with_capacity(data.t.len());
    let mut dy = vec![Vec::with_capacity(data.t.len()); p];
    let mut k = 0;
    for &t in &data.t {
        while k + 2 < n && traj.t[k + 1] <= t {
            k += 1;
        }
        let (t0, t1) = (traj.t[k], traj.t[(k + 1).min(n - 1)]);
        let w = if t1 > t0 { ((t - t0) / (t1 - t0)).clamp(0.0, 1.0) } else { 0.0 };
        let lerp = |a: &[f64]| a[k] + w * (a[(k + 1).min(n - 1)] - a[k]);
        y.push(lerp(&traj.y));
        for j in 0..p {
            dy[j].push(lerp(&traj.dy[j]));
        }
    }
    (y, dy)
}

/// Reads data from CSV text: a `t_ms` column (ms) and the observed
/// state's column, named as `run -o` writes it (`V_mV`: in the unit after
/// the name, which must be the state's display unit) or by the bare name
/// (in the display unit). Other columns are ignored.
pub fn read_csv(text: &str, p: &Problem) -> Result<Data, String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
    let header: Vec<&str> = lines.next().ok_or("the file is empty")?.split(',').map(str::trim).collect();
    if p.spikes() {
        // spike times: the `t_ms` column (`spikes.csv` as `run -o` writes
        // it), of one neuron (`neuron` 0 when there is such a column)
        let t_col = header.iter().position(|h| *h == "t_ms").ok_or("no `t_ms` column (spike times in ms)")?;
        let n_col = header.iter().position(|h| *h == "neuron");
        let mut data = Data::default();
        for (i, line) in lines.enumerate() {
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            let get = |c: usize| cell(&cells, c, i);
            if let Some(c) = n_col {
                if get(c)? != 0.0 {
                    continue;
                }
            }
            let t = get(t_col)? * 1e-3;
            data.t.push(t);
            data.y.push(t);
        }
        return Ok(data);
    }
    let (_, (unit, scale)) = p.units();
    let name = p.observed();
    let mut want = crate::output::header(name, &unit);
    let mut name = name.to_string();
    // one region of a brain: its column as `run -o` writes it (`E_1@3`,
    // `y1_mV@3`)
    let mut also = None;
    if let Some(k) = p.region() {
        also = Some(format!("{name}_{}@{k}", crate::output::header_unit(&unit)));
        want = format!("{want}@{k}");
        name = format!("{name}@{k}");
    }
    let name = name.as_str();
    let t_col = header.iter().position(|h| *h == "t_ms").ok_or("no `t_ms` column (time in ms)")?;
    let y_col =
        header.iter().position(|h| *h == want || *h == name || Some(*h) == also.as_deref()).ok_or_else(|| {
            let other = header.iter().find(|h| h.starts_with(&format!("{name}_")));
            match other {
                Some(h) => format!("the column `{h}` is not in {unit}: name it `{want}` with values in {unit}"),
                None => format!("no `{want}` column (`{name}` in {unit})"),
            }
        })?;
    let mut data = Data::default();
    for (i, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let get = |c: usize| cell(&cells, c, i);
        data.t.push(get(t_col)? * 1e-3);
        data.y.push(get(y_col)? * scale);
    }
    Ok(data)
}

/// Cell `c` of data row `i` (from 0, after the header) as a number.
fn cell(cells: &[&str], c: usize, i: usize) -> Result<f64, String> {
    let text = cells.get(c).ok_or_else(|| format!("row {} has {} cells", i + 2, cells.len()))?;
    text.parse::<f64>().map_err(|_| format!("row {}: `{text}` is not a number", i + 2))
}

/// Checks the data against the problem: enough points, finite, ascending
/// times within the run.
pub fn check(p: &Problem, data: &Data, duration: f64) -> Result<(), Box<Diagnostic>> {
    let bad = |what: String| {
        Box::new(
            Diagnostic::error(Code::BadData, what)
                .at(p.span(), "fitting this")
                .help("the data is a CSV with a time column in ms (`t_ms`) and the observed variable in its display unit, as `neuroc run -o` writes it"),
        )
    };
    let np = p.names().len();
    if data.t.len() <= np {
        return Err(bad(format!(
            "{} data points for {np} parameters: a fit needs more points than parameters",
            data.t.len()
        )));
    }
    if let Some(i) = (0..data.t.len()).find(|&i| !data.t[i].is_finite() || !data.y[i].is_finite()) {
        return Err(bad(format!("data point {} is not a finite number", i + 1)));
    }
    if let Some(i) = (1..data.t.len()).find(|&i| data.t[i] <= data.t[i - 1]) {
        return Err(bad(format!("the data's times do not increase at point {}", i + 1)));
    }
    let last = data.t[data.t.len() - 1];
    if data.t[0] < 0.0 || last > duration * (1.0 + 1e-9) {
        return Err(bad(format!(
            "the data spans {} to {} ms, outside the run's 0 to {} ms",
            crate::units::format_number(data.t[0] * 1e3),
            crate::units::format_number(last * 1e3),
            crate::units::format_number(duration * 1e3)
        )));
    }
    Ok(())
}

/// Fits the problem's parameters to `data` from `start` (SI).
pub fn fit(p: &Problem, data: &Data, start: &[f64], opts: &Options) -> Result<Fit, Box<Diagnostic>> {
    let np = start.len();
    let mut starts = vec![start.to_vec()];
    let mut rng = crate::runtime::stream::Stream::new(opts.seed, 17, 0);
    for _ in 0..opts.extra_starts {
        starts.push(
            opts.bounds
                .iter()
                .map(|&(lo, hi)| {
                    let u = rng.uniform();
                    if lo > 0.0 {
                        (lo.ln() + u * (hi.ln() - lo.ln())).exp()
                    } else {
                        lo + u * (hi - lo)
                    }
                })
                .collect(),
        );
    }
    let mut best: Option<(usize, Lm)> = None;
    let mut first_error = None;
    for (i, s) in starts.iter().enumerate() {
        match grow(p, data, s, opts) {
            Ok(lm) => {
                if best.as_ref().is_none_or(|(_, b)| lm.ssr < b.ssr) {
                    best = Some((i, lm));
                }
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let Some((best_start, lm)) = best else {
        return Err(first_error.unwrap_or_else(|| Box::new(Diagnostic::internal("no start"))));
    };
    // intervals from the Fisher information at the estimate
    let traj = p.simulate(&lm.theta)?;
    let (model, mut dy) = at_data(&traj, data);
    if p.without_sensitivities().is_some() {
        // the Jacobian by central differences of the simulation
        dy.clear();
        for j in 0..np {
            let h = 1e-6 * lm.theta[j].abs().max(f64::MIN_POSITIVE);
            let shifted = |s: f64| -> Result<Vec<f64>, Box<Diagnostic>> {
                let mut th = lm.theta.clone();
                th[j] += s * h;
                Ok(at_data(&p.simulate(&th)?, data).0)
            };
            let (up, down) = (shifted(1.0)?, shifted(-1.0)?);
            dy.push(up.iter().zip(&down).map(|(a, b)| (a - b) / (2.0 * h)).collect());
        }
    }
    let residuals: Vec<f64> = model.iter().zip(&data.y).map(|(m, d)| m - d).collect();
    let ssr: f64 = residuals.iter().map(|r| r * r).sum();
    let dof = data.y.len().saturating_sub(np).max(1) as f64;
    let sigma = (ssr / dof).sqrt();
    let at = Trajectory { t: data.t.clone(), y: model.clone(), dy, ..Trajectory::default() };
    let info = fisher::information(&at, &lm.theta, sigma.max(f64::MIN_POSITIVE));
    let relative_sd = fisher::log_sds(&info);
    let ci95 = (0..np)
        .map(|j| {
            let (x, s) = (lm.theta[j], relative_sd[j]);
            if x > 0.0 {
                ((x.ln() - 1.96 * s).exp(), (x.ln() + 1.96 * s).exp())
            } else {
                (x - 1.96 * s * x.abs(), x + 1.96 * s * x.abs())
            }
        })
        .collect();
    Ok(Fit {
        names: p.names(),
        theta: lm.theta,
        ci95,
        relative_sd,
        ssr,
        sigma,
        residuals,
        model,
        iterations: lm.iterations,
        converged: lm.converged,
        best_start,
        starts: starts.len(),
        derivative_free: p.without_sensitivities().map(str::to_string),
    })
}

/// The sum of squares, the residuals and the Jacobian (per parameter) at
/// a point.
type Residuals = (f64, Vec<f64>, Vec<Vec<f64>>);

/// One Levenberg-Marquardt descent.
struct Lm {
    theta: Vec<f64>,
    ssr: f64,
    iterations: usize,
    converged: bool,
}

/// Descents on growing windows of the data: the first `WINDOW` of its
/// points (at least 10 per parameter, and twice as many as it takes the
/// trace to move a tenth of its range), then twice as many, up to all of
/// them, each from the last estimate. A trace of many spikes has a sum of
/// squares with a minimum per spike-time alignment; on a short window the
/// start is in the right basin, and each doubling keeps it there
/// (continuation in the horizon, as in fits of oscillators by growing
/// intervals).
fn grow(p: &Problem, data: &Data, start: &[f64], opts: &Options) -> Result<Lm, Box<Diagnostic>> {
    let n = data.t.len();
    // the first window reaches past where the trace has moved a tenth of
    // its range (a window of a flat trace says nothing, and a fit on it
    // would wander)
    let (lo, hi) = data.y.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &y| (a.min(y), b.max(y)));
    let moved = data.y.iter().position(|&y| (y - data.y[0]).abs() > 0.1 * (hi - lo)).unwrap_or(0);
    let mut len = ((n as f64 * WINDOW) as usize).max(10 * start.len()).max(2 * moved).min(n);
    if p.spikes() {
        // spike times: the first few pin the parameters' basin
        len = (start.len() + 1).min(n);
    }
    let mut theta = start.to_vec();
    let mut iterations = 0;
    loop {
        let part = Data { t: data.t[..len].to_vec(), y: data.y[..len].to_vec() };
        let lm = if p.without_sensitivities().is_some() {
            nelder_mead(p, &part, &theta, opts)?
        } else {
            descend(p, &part, &theta, opts)?
        };
        iterations += lm.iterations;
        theta = lm.theta;
        if len == n {
            return Ok(Lm { theta, ssr: lm.ssr, iterations, converged: lm.converged });
        }
        len = (len * 2).min(n);
    }
}

/// The coordinates a descent moves in: log for positive parameters with
/// positive bounds, plain otherwise; parameters clamped to their bounds.
struct Coords<'o> {
    log: Vec<bool>,
    bounds: &'o [(f64, f64)],
}

impl<'o> Coords<'o> {
    fn new(start: &[f64], opts: &'o Options) -> Coords<'o> {
        let log = start.iter().zip(&opts.bounds).map(|(&x, &(lo, _))| x > 0.0 && lo > 0.0).collect();
        Coords { log, bounds: &opts.bounds }
    }

    fn x(&self, theta: &[f64]) -> Vec<f64> {
        theta.iter().zip(&self.log).map(|(&t, &l)| if l { t.ln() } else { t }).collect()
    }

    fn theta(&self, x: &[f64]) -> Vec<f64> {
        x.iter()
            .zip(&self.log)
            .zip(self.bounds)
            .map(|((&v, &l), &(lo, hi))| (if l { v.exp() } else { v }).clamp(lo, hi))
            .collect()
    }
}

/// The derivative-free fallback for models without sensitivities:
/// Nelder-Mead (1965) on the sum of squares, in the same coordinates as
/// [`descend`] (log for positive parameters, within the bounds), from a
/// simplex of steps of 10%, with the standard coefficients (reflection 1,
/// expansion 2, contraction and shrink 1/2); it stops when the values at
/// the simplex's vertices agree to 1e-12 of the best, or after 200 x (1 +
/// parameters)^2 simulations.
fn nelder_mead(p: &Problem, data: &Data, start: &[f64], opts: &Options) -> Result<Lm, Box<Diagnostic>> {
    let np = start.len();
    let until = data.t.last().copied().unwrap_or(0.0);
    let c = Coords::new(start, opts);
    let log = &c.log;
    let to_theta = |x: &[f64]| c.theta(x);
    let ssr = |x: &[f64]| -> f64 {
        match p.simulate_until(&to_theta(x), until) {
            Ok(traj) => {
                let (y, _) = at_data(&traj, data);
                y.iter().zip(&data.y).map(|(m, d)| (m - d) * (m - d)).sum()
            }
            Err(_) => f64::INFINITY,
        }
    };
    let x0 = c.x(start);
    let mut simplex: Vec<(Vec<f64>, f64)> = vec![(x0.clone(), ssr(&x0))];
    for j in 0..np {
        let mut x = x0.clone();
        x[j] += if log[j] { 0.1 } else { 0.1 * x[j].abs().max(1e-12) };
        let f = ssr(&x);
        simplex.push((x, f));
    }
    let budget = 200 * (np + 1) * (np + 1);
    let mut evals = np + 1;
    let mut converged = false;
    let mut iterations = 0;
    while evals < budget {
        iterations += 1;
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let (best, worst) = (simplex[0].1, simplex[np].1);
        if worst - best <= 1e-12 * best.abs() + 1e-300 {
            converged = true;
            break;
        }
        let centroid: Vec<f64> =
            (0..np).map(|k| simplex[..np].iter().map(|(x, _)| x[k]).sum::<f64>() / np as f64).collect();
        let toward =
            |c: f64| -> Vec<f64> { centroid.iter().zip(&simplex[np].0).map(|(m, w)| m + c * (m - w)).collect() };
        let xr = toward(1.0);
        let fr = ssr(&xr);
        evals += 1;
        if fr < best {
            let xe = toward(2.0);
            let fe = ssr(&xe);
            evals += 1;
            simplex[np] = if fe < fr { (xe, fe) } else { (xr, fr) };
        } else if fr < simplex[np - 1].1 {
            simplex[np] = (xr, fr);
        } else {
            let (xc, fc) = if fr < worst {
                let xc = toward(0.5);
                let f = ssr(&xc);
                (xc, f)
            } else {
                let xc = toward(-0.5);
                let f = ssr(&xc);
                (xc, f)
            };
            evals += 1;
            if fc < worst.min(fr) {
                simplex[np] = (xc, fc);
            } else {
                // shrink toward the best
                let b = simplex[0].0.clone();
                for v in simplex.iter_mut().skip(1) {
                    let x: Vec<f64> = v.0.iter().zip(&b).map(|(x, b)| b + 0.5 * (x - b)).collect();
                    let f = ssr(&x);
                    *v = (x, f);
                }
                evals += np;
            }
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    let (x, f) = simplex.swap_remove(0);
    Ok(Lm { theta: to_theta(&x), ssr: f, iterations, converged })
}

/// The first window of [`grow`], as a fraction of the data's points.
const WINDOW: f64 = 0.05;

fn descend(p: &Problem, data: &Data, start: &[f64], opts: &Options) -> Result<Lm, Box<Diagnostic>> {
    let until = data.t.last().copied().unwrap_or(0.0);
    let np = start.len();
    let c = Coords::new(start, opts);
    let log = &c.log;
    let to_x = |th: &[f64]| c.x(th);
    let to_theta = |x: &[f64]| c.theta(x);
    let eval = |theta: &[f64]| -> Result<Residuals, Box<Diagnostic>> {
        let traj = p.simulate_until(theta, until)?;
        let (y, dy) = at_data(&traj, data);
        let r: Vec<f64> = y.iter().zip(&data.y).map(|(m, d)| m - d).collect();
        let ssr = r.iter().map(|x| x * x).sum();
        // the Jacobian in the fit's coordinates
        // a parameter held (bounds lo = hi, a profile's) has no column
        let jac: Vec<Vec<f64>> = (0..np)
            .map(|j| {
                let held = opts.bounds[j].0 == opts.bounds[j].1;
                dy[j]
                    .iter()
                    .map(|d| {
                        if held {
                            0.0
                        } else if log[j] {
                            d * theta[j]
                        } else {
                            *d
                        }
                    })
                    .collect()
            })
            .collect();
        Ok((ssr, r, jac))
    };
    let mut theta = to_theta(&to_x(start));
    let (mut ssr, mut r, mut jac) = eval(&theta)?;
    let mut lambda = 1e-3;
    let mut converged = false;
    let mut iterations = 0;
    while iterations < opts.max_iterations {
        iterations += 1;
        // normal equations
        let mut a = vec![vec![0.0; np]; np];
        let mut g = vec![0.0; np];
        for i in 0..np {
            for j in 0..=i {
                a[i][j] = jac[i].iter().zip(&jac[j]).map(|(x, y)| x * y).sum();
                a[j][i] = a[i][j];
            }
            g[i] = jac[i].iter().zip(&r).map(|(x, y)| x * y).sum();
        }
        let mut stepped = false;
        while lambda < 1e12 {
            let mut m = a.clone();
            for (i, row) in m.iter_mut().enumerate() {
                // a held parameter's row: delta = 0
                row[i] += if a[i][i] == 0.0 { 1.0 } else { lambda * a[i][i] };
            }
            let Some(delta) = crate::schemes::linalg::solve(
                &crate::schemes::linalg::Mat { n: np, a: m.into_iter().flatten().collect() },
                &g.iter().map(|x| -x).collect::<Vec<_>>(),
            ) else {
                lambda *= 10.0;
                continue;
            };
            let x: Vec<f64> = to_x(&theta).iter().zip(&delta).map(|(a, b)| a + b).collect();
            let trial = to_theta(&x);
            match eval(&trial) {
                Ok((s, r2, j2)) if s < ssr => {
                    let change = (ssr - s) / ssr.max(f64::MIN_POSITIVE);
                    theta = trial;
                    ssr = s;
                    r = r2;
                    jac = j2;
                    lambda = (lambda / 10.0).max(1e-12);
                    stepped = true;
                    if change < 1e-12 {
                        converged = true;
                    }
                    break;
                }
                _ => lambda *= 10.0,
            }
        }
        if !stepped {
            // no step lowers the sum of squares: a minimum to rounding
            converged = true;
        }
        if converged {
            break;
        }
    }
    Ok(Lm { theta, ssr, iterations, converged })
}

/// The profile of parameter `k`: at each of `values` (SI), parameter k
/// held there and the others fitted again from `theta` (the estimate),
/// the sum of squares reached. With data of noise SD sigma, SSR / sigma^2
/// minus its minimum is the profile's chi-square (Raue et al. 2009): where
/// it stays below 3.84 is the likelihood-based 95% interval, and a profile
/// that stays flat marks a non-identifiable parameter.
pub fn profile(
    p: &Problem,
    data: &Data,
    theta: &[f64],
    k: usize,
    values: &[f64],
    opts: &Options,
) -> Result<Vec<(f64, f64)>, Box<Diagnostic>> {
    let mut out = Vec::with_capacity(values.len());
    for &v in values {
        let mut o = opts.clone();
        o.bounds[k] = (v, v);
        let mut start = theta.to_vec();
        start[k] = v;
        let lm = descend(p, data, &start, &o)?;
        out.push((v, lm.ssr));
    }
    Ok(out)
}

impl Fit {
    /// The fit as JSON (SI values and display units).
    pub fn json(&self, p: &Problem) -> serde_json::Value {
        let (units, (yu, ys)) = p.units();
        serde_json::json!({
            "observed": p.observed(),
            "points": self.residuals.len(),
            "residual_sd": self.sigma / ys,
            "residual_sd_unit": yu,
            "ssr_si": self.ssr,
            "iterations": self.iterations,
            "converged": self.converged,
            "starts": self.starts,
            "best_start": self.best_start,
            "method": if self.derivative_free.is_some() { "nelder-mead" } else { "levenberg-marquardt" },
            "parameters": self.names.iter().enumerate().map(|(j, n)| serde_json::json!({
                "name": n,
                "unit": units[j].0,
                "value": self.theta[j] / units[j].1,
                "ci95": [self.ci95[j].0 / units[j].1, self.ci95[j].1 / units[j].1],
                "relative_sd": if self.relative_sd[j].is_finite() { serde_json::json!(self.relative_sd[j]) } else { serde_json::Value::Null },
            })).collect::<Vec<_>>(),
        })
    }

    /// The fit for people.
    pub fn text(&self, p: &Problem) -> String {
        use std::fmt::Write;
        let (units, (yu, ys)) = p.units();
        let fmt = super::sig;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "fit of {} to `{}`: {} points, residual SD {}, {} iterations{}{}",
            self.names.join(", "),
            p.observed(),
            self.residuals.len(),
            super::with_unit(self.sigma / ys, &yu),
            self.iterations,
            if self.converged { "" } else { " (stopped before converging)" },
            if self.starts > 1 {
                format!(", best of {} starts (start {})", self.starts, self.best_start)
            } else {
                String::new()
            }
        );
        if let Some(why) = &self.derivative_free {
            let _ = writeln!(s, "  derivative-free (Nelder-Mead; intervals from central differences): {why}");
        }
        for (j, name) in self.names.iter().enumerate() {
            let (u, f) = &units[j];
            let _ = writeln!(
                s,
                "  {name:<14} = {:<16} 95% CI [{}, {}]   (+/- {:.3}%)",
                super::with_unit(self.theta[j] / f, u),
                fmt(self.ci95[j].0 / f),
                fmt(self.ci95[j].1 / f),
                100.0 * self.relative_sd[j]
            );
        }
        s
    }
}
