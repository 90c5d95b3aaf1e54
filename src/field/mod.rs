//! Neural fields: states on a periodic ring or sheet, coupled through
//! convolutions with distance-dependent kernels, evaluated by FFT.
//!
//! `conv(w, s)(x) = integral w(|x - y|) s(y) dy` on a periodic grid of N
//! cells of size h is the circular convolution of s with the kernel sampled
//! at the minimum-image distances, times the cell volume; its FFT is the
//! product of the two FFTs (exact up to round-off, `direct_conv` is the
//! O(N^2) sum it equals). The kernel's transform is computed once. The
//! states advance by RK4 (or Euler), every stage re-convolving.

pub mod cells;

use crate::diag::{Code, Diagnostic};
use crate::ir::eval::{self, Env};
use crate::ir::{self, ExprId, Model};
use crate::runtime::{Outcome, Recorder};
use cells::{CellEnv, Cells};
use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};
use std::sync::Arc;

/// Forward and inverse transforms along one axis.
type FftPair = (Arc<dyn Fft<f64>>, Arc<dyn Fft<f64>>);

/// A field model with its parameters evaluated and its grid built.
pub struct Field<'m> {
    pub m: &'m Model,
    def: &'m ir::Field,
    pub params: Vec<f64>,
    values: Vec<ExprId>,
    /// Cells along each coordinate, and the cell size.
    pub shape: Vec<usize>,
    pub lo: Vec<f64>,
    pub h: Vec<f64>,
    /// Each kernel sampled at the minimum-image offsets (times the cell
    /// volume), and its transform.
    pub kernel: Vec<Vec<f64>>,
    kernel_hat: Vec<Vec<Complex<f64>>>,
    fft: Vec<FftPair>,
}

/// The integration method of a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stepper {
    Euler,
    Rk4,
}

pub struct Config {
    pub dt: f64,
    pub duration: f64,
    pub stepper: Stepper,
    /// Record every this many steps.
    pub sample_every: usize,
    /// Per-cell initial values that replace a state's (noise, a bump).
    pub init_overrides: Vec<(usize, Vec<f64>)>,
}

/// Snapshots of the dynamic states.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    pub t: Vec<f64>,
    /// Per sample, per dynamic state (in `states` order), the cells.
    pub frames: Vec<Vec<Vec<f64>>>,
    /// The dynamic states, by index into the model's states.
    pub states: Vec<usize>,
}

impl<'m> Field<'m> {
    pub fn bind(
        m: &'m Model,
        param_overrides: &[Option<ExprId>],
        value_overrides: &[Option<ExprId>],
    ) -> Result<Field<'m>, Diagnostic> {
        let def = m.field.as_ref().ok_or_else(|| Diagnostic::internal("a field without its domain"))?;
        let (params, values) = eval::bind(m, param_overrides, value_overrides);
        let constant =
            |id: ExprId| eval::eval(m, id, &Env { t: 0.0, states: &[], params: &params, values: &[], args: &[] });
        let (mut shape, mut lo, mut h) = (Vec::new(), Vec::new(), Vec::new());
        for c in &def.coords {
            let (a, b) = (constant(c.lo), constant(c.hi));
            let n = c.cells.map(constant).unwrap_or(256.0);
            if !(a < b && a.is_finite() && b.is_finite()) {
                return Err(Diagnostic::error(Code::BadField, "the domain is empty")
                    .at(c.span, "lower bound not below the upper")
                    .help("e.g. `domain x in [0 mm, 10 mm) periodic, cells = 256`"));
            }
            if !((2.0..=1e6).contains(&n) && n.fract() == 0.0) {
                return Err(Diagnostic::error(Code::BadField, "`cells` must be a whole number from 2 to 1,000,000")
                    .at(c.span, "this domain")
                    .help("e.g. `cells = 256` (a power of two is fastest)"));
            }
            if shape.iter().product::<usize>() * n as usize > 1 << 24 {
                return Err(Diagnostic::error(Code::BadField, "more than 16 million cells")
                    .at(c.span, "this domain")
                    .help("use fewer cells"));
            }
            shape.push(n as usize);
            lo.push(a);
            h.push((b - a) / n);
        }
        let mut planner = FftPlanner::new();
        let fft = shape.iter().map(|&n| (planner.plan_fft_forward(n), planner.plan_fft_inverse(n))).collect();
        let mut f = Field { m, def, params, values, shape, lo, h, kernel: vec![], kernel_hat: vec![], fft };
        for k in 0..def.kernels.len() {
            let sampled = f.sample_kernel(k)?;
            let mut hat: Vec<Complex<f64>> = sampled.iter().map(|&x| Complex::new(x, 0.0)).collect();
            f.transform(&mut hat, false);
            f.kernel.push(sampled);
            f.kernel_hat.push(hat);
        }
        Ok(f)
    }

    pub fn cells(&self) -> usize {
        self.shape.iter().product()
    }

    /// The kernel at every offset (cell k = offset k, minimum image), times
    /// the cell volume.
    fn sample_kernel(&self, k: usize) -> Result<Vec<f64>, Diagnostic> {
        let n = self.cells();
        let mut states = vec![0.0; self.m.states.len()];
        let mut vals = Vec::new();
        let vol: f64 = self.h.iter().product();
        let mut out = Vec::with_capacity(n);
        for idx in 0..n {
            states[self.def.dist] = self.offset_distance(idx);
            eval::eval_values(self.m, 0.0, &states, &self.params, &self.values, &mut vals);
            let env = Env { t: 0.0, states: &states, params: &self.params, values: &vals, args: &[] };
            let w = eval::eval(self.m, self.def.kernels[k].1, &env);
            if !w.is_finite() {
                return Err(Diagnostic::error(
                    Code::BadField,
                    format!(
                        "kernel `{}` is not finite at distance {:e} (SI)",
                        self.def.kernels[k].0, states[self.def.dist]
                    ),
                )
                .at(self.m.arena.span(self.def.kernels[k].1), "this kernel")
                .help("a kernel must be finite at every distance, including 0"));
            }
            out.push(w * vol);
        }
        Ok(out)
    }

    /// The distance of the cell offset with flat index `idx` (minimum image).
    pub fn offset_distance(&self, idx: usize) -> f64 {
        let mut rest = idx;
        let mut d2 = 0.0;
        for axis in (0..self.shape.len()).rev() {
            let n = self.shape[axis];
            let i = rest % n;
            rest /= n;
            let m = i.min(n - i) as f64 * self.h[axis];
            d2 += m * m;
        }
        d2.sqrt()
    }

    /// The centre of cell `idx` along each coordinate.
    pub fn center(&self, idx: usize) -> Vec<f64> {
        let mut rest = idx;
        let mut out = vec![0.0; self.shape.len()];
        for axis in (0..self.shape.len()).rev() {
            let n = self.shape[axis];
            out[axis] = self.lo[axis] + (rest % n) as f64 * self.h[axis] + 0.5 * self.h[axis];
            rest /= n;
        }
        out
    }

    /// In-place FFT over every axis (row-major, last axis fastest).
    fn transform(&self, data: &mut [Complex<f64>], inverse: bool) {
        let dims = self.shape.len();
        for axis in 0..dims {
            let n = self.shape[axis];
            let stride: usize = self.shape[axis + 1..].iter().product();
            let plan = if inverse { &self.fft[axis].1 } else { &self.fft[axis].0 };
            let mut line = vec![Complex::new(0.0, 0.0); n];
            let outer = data.len() / (n * stride);
            for o in 0..outer {
                for s in 0..stride {
                    let base = o * n * stride + s;
                    for (k, v) in line.iter_mut().enumerate() {
                        *v = data[base + k * stride];
                    }
                    plan.process(&mut line);
                    for (k, v) in line.iter().enumerate() {
                        data[base + k * stride] = *v;
                    }
                }
            }
        }
        if inverse {
            let scale = 1.0 / data.len() as f64;
            data.iter_mut().for_each(|v| *v *= scale);
        }
    }

    /// `conv(kernel k, source)` by FFT.
    pub fn conv(&self, k: usize, source: &[f64]) -> Vec<f64> {
        let mut s: Vec<Complex<f64>> = source.iter().map(|&x| Complex::new(x, 0.0)).collect();
        self.transform(&mut s, false);
        for (a, b) in s.iter_mut().zip(&self.kernel_hat[k]) {
            *a *= b;
        }
        self.transform(&mut s, true);
        s.iter().map(|c| c.re).collect()
    }

    /// The same sum, cell by cell: O(N^2), for checking.
    pub fn direct_conv(&self, k: usize, source: &[f64]) -> Vec<f64> {
        let n = self.cells();
        (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| {
                        // offset i - j, per axis, wrapped
                        let (mut oi, mut oj, mut off, mut mul) = (i, j, 0, 1);
                        for axis in (0..self.shape.len()).rev() {
                            let na = self.shape[axis];
                            let d = (oi % na + na - oj % na) % na;
                            off += d * mul;
                            mul *= na;
                            oi /= na;
                            oj /= na;
                        }
                        self.kernel[k][off] * source[j]
                    })
                    .sum()
            })
            .collect()
    }

    /// The kernel's Fourier transform at the grid's wavenumbers along the
    /// first axis, (k in rad per SI unit of length, w_hat(k)), for modes
    /// 0..=N/2: what decides which pattern a homogeneous state grows first.
    pub fn spectrum(&self, k: usize) -> Vec<(f64, f64)> {
        let n0 = self.shape[0];
        let stride: usize = self.shape[1..].iter().product();
        let len = n0 as f64 * self.h[0];
        (0..=n0 / 2).map(|m| (2.0 * std::f64::consts::PI * m as f64 / len, self.kernel_hat[k][m * stride].re)).collect()
    }

    /// The non-zero mode along the first axis where the kernel's transform
    /// peaks, and its wavenumber.
    pub fn critical_mode(&self, k: usize) -> (usize, f64) {
        let s = self.spectrum(k);
        let (m, &(kc, _)) = s.iter().enumerate().skip(1).max_by(|a, b| a.1 .1.total_cmp(&b.1 .1)).unwrap_or((0, &s[0]));
        (m, kc)
    }

    /// The dynamic states (those with ODEs).
    pub fn dynamic(&self) -> Vec<usize> {
        self.m.states.iter().enumerate().filter(|(_, s)| s.rhs.is_some()).map(|(i, _)| i).collect()
    }

    /// Initial per-cell arrays of every state (coordinates filled).
    fn initial(&self, cfg: &Config) -> Result<Vec<Vec<f64>>, Diagnostic> {
        let n = self.cells();
        let mut arrays = vec![vec![0.0; n]; self.m.states.len()];
        for (axis, c) in self.def.coords.iter().enumerate() {
            arrays[c.state] = (0..n).map(|idx| self.center(idx)[axis]).collect();
        }
        let mut cells = Cells::new(self.m, n);
        for &s in &self.m.init_order {
            if self.def.coords.iter().any(|c| c.state == s)
                || s == self.def.dist
                || self.def.convs.iter().any(|c| c.state == s)
            {
                continue;
            }
            cells.reset();
            let env = CellEnv { t: 0.0, states: &arrays, params: &self.params, values: &self.values };
            let v = cells.eval(self.m, self.m.states[s].init, &env).to_vec();
            arrays[s] = v;
        }
        for (s, v) in &cfg.init_overrides {
            if v.len() == n {
                arrays[*s] = v.clone();
            }
        }
        Ok(arrays)
    }

    /// The time derivatives of the dynamic states at (t, arrays).
    fn rates(&self, t: f64, arrays: &mut [Vec<f64>], cells: &mut Cells, dynamic: &[usize]) -> Vec<Vec<f64>> {
        cells.reset();
        for c in &self.def.convs {
            let env = CellEnv { t, states: arrays, params: &self.params, values: &self.values };
            let src = cells.eval(self.m, c.source, &env).to_vec();
            arrays[c.state] = self.conv(c.kernel, &src);
        }
        // the convolutions are in; evaluate the right-hand sides afresh
        cells.reset();
        let env = CellEnv { t, states: arrays, params: &self.params, values: &self.values };
        dynamic
            .iter()
            .map(|&s| cells.eval(self.m, self.m.states[s].rhs.unwrap_or(self.m.states[s].init), &env).to_vec())
            .collect()
    }

    /// Runs the field, handing `rec` a sample at t = 0 and every
    /// `sample_every` steps: the cells of every dynamic state (in
    /// [`Self::dynamic`] order), one state after the other. Returns the
    /// last frame. Stops early when `rec.stop()`.
    pub fn simulate_into(&self, cfg: &Config, rec: &mut dyn Recorder) -> Result<(Vec<Vec<f64>>, Outcome), Diagnostic> {
        let n = self.cells();
        let mut arrays = self.initial(cfg)?;
        let dynamic = self.dynamic();
        let mut cells = Cells::new(self.m, n);
        let steps = (cfg.duration / cfg.dt).round() as usize;
        let every = cfg.sample_every.max(1);
        let mut sample = Vec::with_capacity(n * dynamic.len());
        let mut snapshot = |t: f64, arrays: &[Vec<f64>], rec: &mut dyn Recorder| {
            sample.clear();
            for &s in &dynamic {
                sample.extend_from_slice(&arrays[s]);
            }
            rec.sample(t, &sample);
        };
        snapshot(0.0, &arrays, rec);
        let dt = cfg.dt;
        let mut outcome = Outcome::default();
        for step in 0..steps {
            if rec.stop() {
                outcome.stopped = true;
                break;
            }
            let t = step as f64 * dt;
            match cfg.stepper {
                Stepper::Euler => {
                    let k1 = self.rates(t, &mut arrays, &mut cells, &dynamic);
                    for (j, &s) in dynamic.iter().enumerate() {
                        for (x, d) in arrays[s].iter_mut().zip(&k1[j]) {
                            *x += dt * d;
                        }
                    }
                }
                Stepper::Rk4 => {
                    let y0: Vec<Vec<f64>> = dynamic.iter().map(|&s| arrays[s].clone()).collect();
                    let mut acc: Vec<Vec<f64>> = y0.clone();
                    let stages = [(0.0, 1.0 / 6.0), (0.5, 1.0 / 3.0), (0.5, 1.0 / 3.0), (1.0, 1.0 / 6.0)];
                    let mut k_prev: Option<Vec<Vec<f64>>> = None;
                    for (c, w) in stages {
                        if let Some(k) = &k_prev {
                            for (j, &s) in dynamic.iter().enumerate() {
                                for ((x, y), d) in arrays[s].iter_mut().zip(&y0[j]).zip(&k[j]) {
                                    *x = y + c * dt * d;
                                }
                            }
                        }
                        let k = self.rates(t + c * dt, &mut arrays, &mut cells, &dynamic);
                        for (a, kj) in acc.iter_mut().zip(&k) {
                            for (x, d) in a.iter_mut().zip(kj) {
                                *x += w * dt * d;
                            }
                        }
                        k_prev = Some(k);
                    }
                    for (j, &s) in dynamic.iter().enumerate() {
                        arrays[s] = std::mem::take(&mut acc[j]);
                    }
                }
            }
            if (step + 1) % every == 0 {
                if let Some(&s) = dynamic.iter().find(|&&s| arrays[s].iter().any(|x| !x.is_finite())) {
                    return Err(Diagnostic::error(
                        Code::NumericalBlowUp,
                        format!(
                            "`{}` diverged at t = {} ms",
                            self.m.states[s].name,
                            crate::units::format_number((t + dt) * 1e3)
                        ),
                    )
                    .at(self.m.states[s].span, "this state")
                    .help("reduce dt, or check the field's equations"));
                }
                snapshot(t + dt, &arrays, rec);
            }
            outcome.steps = step + 1;
        }
        Ok((dynamic.iter().map(|&s| std::mem::take(&mut arrays[s])).collect(), outcome))
    }

    /// Runs the field and keeps every frame.
    pub fn simulate(&self, cfg: &Config) -> Result<Trace, Diagnostic> {
        let mut rec = crate::runtime::Recording::default();
        self.simulate_into(cfg, &mut rec)?;
        let dynamic = self.dynamic();
        let n = self.cells();
        let frames = (0..rec.t.len())
            .map(|k| (0..dynamic.len()).map(|j| (0..n).map(|i| rec.traces[j * n + i].1[k]).collect()).collect())
            .collect();
        Ok(Trace { t: rec.t, frames, states: dynamic })
    }
}

/// The index and power of the strongest non-zero spatial mode of a 1D
/// profile (along the first axis when the profile is 2D: rows averaged).
pub fn dominant_mode(profile: &[f64]) -> (usize, f64) {
    let n = profile.len();
    let mean = profile.iter().sum::<f64>() / n as f64;
    let mut buf: Vec<Complex<f64>> = profile.iter().map(|&x| Complex::new(x - mean, 0.0)).collect();
    FftPlanner::new().plan_fft_forward(n).process(&mut buf);
    buf.iter()
        .enumerate()
        .take(n / 2 + 1)
        .skip(1)
        .map(|(m, c)| (m, c.norm_sqr()))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or((0, 0.0))
}
