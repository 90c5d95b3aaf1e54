//! Population densities: the Fokker-Planck equation of a one-dimensional
//! integrate-and-fire population, derived from a `density` model.
//!
//! The model gives a drift A(V, t) and a diffusion D(V, t), a threshold, a
//! reset and a refractory period; the population's density p(V, t) obeys
//!
//! ```text
//! dp/dt = -dJ/dV + r(t - t_ref) δ(V - V_r),   J = A p - D dp/dV,   r(t) = J(V_th, t)
//! ```
//!
//! [`fv`] discretizes it (Scharfetter-Gummel fluxes, implicit steps); this
//! module binds a compiled model to it: evaluates the parameters, checks the
//! grid, and evaluates drift and diffusion at the cell faces, again whenever
//! an input that they depend on changes in time.

pub mod fv;

pub use fv::{Fluxes, Grid, Scheme, Solver};

use crate::diag::{Code, Diagnostic};
use crate::field::cells::{CellEnv, Cells};
use crate::ir::eval::{self, Env};
use crate::ir::{self, ExprId, Model, Var};
use crate::runtime::Recorder;
use crate::units;

/// A density model with its parameters evaluated.
pub struct Density<'m> {
    pub m: &'m Model,
    def: &'m ir::Density,
    pub params: Vec<f64>,
    values: Vec<ExprId>,
    /// Whether drift or diffusion change in time (through `t`, an input or
    /// the output).
    pub time_dependent: bool,
    /// Whether drift or diffusion read the population's own output (a
    /// recurrent population): its value of the previous step.
    pub feedback: bool,
    /// States with ODEs that run beside the density (RK4, one step per
    /// density step), and the initial value of every state.
    pub ode: Vec<usize>,
    init: Vec<f64>,
    pub lo: f64,
    pub threshold: f64,
    pub reset: f64,
    pub t_ref: f64,
    pub cells: usize,
    pub grading: f64,
}

/// How the population starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Initial {
    /// The stationary density of the inputs at t = 0.
    Stationary,
    /// Every neuron at this value of the variable.
    At(f64),
}

pub struct Config {
    pub dt: f64,
    pub duration: f64,
    pub scheme: Scheme,
    pub initial: Initial,
    /// Record every this many steps (rates averaged over the interval).
    pub sample_every: usize,
    pub progress: bool,
}

/// How a run ended: the state at the end, beside what it streamed.
#[derive(Clone, Debug, Default)]
pub struct End {
    pub outcome: crate::runtime::Outcome,
    /// The largest |total mass - 1| seen.
    pub mass_error: f64,
    /// The density at the end, per cell.
    pub final_p: Vec<f64>,
    pub grid: Option<Grid>,
    /// The initial stationary rate, when the run started stationary.
    pub initial_rate: Option<f64>,
}

/// What a run recorded.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    /// Ends of the recording intervals (s).
    pub t: Vec<f64>,
    /// The threshold flux averaged over each interval (1/s).
    pub rate: Vec<f64>,
    /// Mean of the variable over the non-refractory density.
    pub mean: Vec<f64>,
    /// Fraction of the population in its refractory period.
    pub refractory: Vec<f64>,
    /// The largest |total mass - 1| seen.
    pub mass_error: f64,
    /// The density at the end, per cell.
    pub final_p: Vec<f64>,
    pub grid: Option<Grid>,
    /// The initial stationary rate, when the run started stationary.
    pub initial_rate: Option<f64>,
    /// The ODE states beside the density (its own and those of `use`d rate
    /// models), sampled with the rate.
    pub states: Vec<(String, Vec<f64>)>,
}

impl<'m> Density<'m> {
    /// Evaluates the parameters (with overrides) and checks the grid.
    pub fn bind(
        m: &'m Model,
        param_overrides: &[Option<ExprId>],
        value_overrides: &[Option<ExprId>],
    ) -> Result<Density<'m>, Diagnostic> {
        let def = m.density.as_ref().ok_or_else(|| Diagnostic::internal("a density model without its definition"))?;
        let (params, values) = eval::bind(m, param_overrides, value_overrides);
        let constant =
            |id: ExprId| eval::eval(m, id, &Env { t: 0.0, states: &[], params: &params, values: &[], args: &[] });
        let lo = constant(def.lo);
        let hi = constant(def.hi);
        let threshold = constant(def.threshold);
        let reset = constant(def.reset);
        let t_ref = constant(def.refractory);
        let cells = def.cells.map(constant).unwrap_or(400.0);
        let grading = def.grading.map(constant).unwrap_or(1.0);
        let unit = m.states[def.var].unit.clone().unwrap_or(ir::UnitHint { text: String::new(), scale: 1.0 });
        let show = |x: f64| format!("{} {}", units::format_number(x / unit.scale), unit.text);
        let bad =
            |span, msg: String, help: &str| Err(Diagnostic::error(Code::BadDensity, msg).at(span, "here").help(help));
        if (hi - threshold).abs() > 1e-12 * threshold.abs().max(1e-300) {
            return bad(
                m.arena.span(def.hi),
                format!("the grid ends at {}, not at the threshold {}", show(hi), show(threshold)),
                "end the variable's interval at the threshold: `variable V in [-30 mV, V_th]`",
            );
        }
        if !(lo < hi && lo.is_finite()) {
            return bad(
                m.arena.span(def.lo),
                format!("the grid [{}, {}] is empty", show(lo), show(hi)),
                "the lower bound must lie below the threshold",
            );
        }
        if !(reset > lo && reset < hi) {
            return bad(
                m.arena.span(def.reset),
                format!("the reset {} lies outside the grid ({}, {})", show(reset), show(lo), show(hi)),
                "lower the grid's lower bound below the reset",
            );
        }
        if !((3.0..=1e6).contains(&cells) && cells.fract() == 0.0) {
            let span = def.cells.map_or(def.span, |c| m.arena.span(c));
            return bad(
                span,
                format!("`cells = {}` is not a usable number of cells", units::format_number(cells)),
                "a whole number from 3 to 1,000,000, e.g. `cells = 400`",
            );
        }
        if !(grading > 0.0 && grading.is_finite()) {
            let span = def.grading.map_or(def.span, |c| m.arena.span(c));
            return bad(span, "`grading` must be a positive number".into(), "`grading = 1` is a uniform grid; `grading = 4` makes the cell at the threshold 4 times finer than the lowest");
        }
        if !(t_ref >= 0.0 && t_ref.is_finite()) {
            return bad(
                m.arena.span(def.refractory),
                "the refractory period must be zero or positive".into(),
                "e.g. `refractory 2 ms`",
            );
        }
        let mut d = Density {
            m,
            def,
            params,
            values,
            time_dependent: false,
            feedback: false,
            ode: m.states.iter().enumerate().filter(|(_, s)| s.rhs.is_some()).map(|(i, _)| i).collect(),
            init: vec![f64::NAN; m.states.len()],
            lo,
            threshold,
            reset,
            t_ref,
            cells: cells as usize,
            grading,
        };
        d.feedback = d.reads_output(def.drift) || d.reads_output(def.diffusion);
        d.time_dependent =
            d.feedback || !d.ode.is_empty() || d.depends_on_time(def.drift) || d.depends_on_time(def.diffusion);
        let mut init = vec![f64::NAN; m.states.len()];
        init[def.output_state] = 0.0;
        let order: Vec<usize> =
            if m.init_order.is_empty() { (0..m.states.len()).collect() } else { m.init_order.clone() };
        let mut vals = Vec::new();
        for s in order {
            if s != def.var && s != def.output_state {
                eval::eval_values(m, 0.0, &init, &d.params, &d.values, &mut vals);
                let env = Env { t: 0.0, states: &init, params: &d.params, values: &vals, args: &[] };
                init[s] = eval::eval(m, m.states[s].init, &env);
            }
        }
        d.init = init;
        Ok(d)
    }

    /// Whether an expression reads the variable (directly or through values).
    fn depends_on_var(&self, id: ExprId) -> bool {
        self.m.reads_through(id, &self.values, |v| v == Var::State(self.def.var))
    }

    /// Whether drift or diffusion read `t` other than through values that
    /// are uniform in the variable (then every step re-evaluates them).
    fn reads_time_per_face(&self, id: ExprId) -> bool {
        // through the values that depend on the variable, each looked at once
        let mut stack = vec![id];
        let mut seen = vec![false; self.values.len()];
        while let Some(e) = stack.pop() {
            for v in self.m.refs(e) {
                match v {
                    Var::Time => return true,
                    Var::Value(i) => {
                        if let (Some(false), Some(&def)) = (seen.get(i).copied(), self.values.get(i)) {
                            seen[i] = true;
                            if self.depends_on_var(def) {
                                stack.push(def);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        false
    }

    /// The values that are uniform in the variable, at time t (others NaN):
    /// when these have not changed since the last step, neither have the
    /// drift and diffusion.
    fn uniform_values(&self, t: f64, base: &[f64], out: &mut Vec<f64>) {
        let mut states = base.to_vec();
        states[self.def.var] = f64::NAN;
        eval::eval_values(self.m, t, &states, &self.params, &self.values, out);
    }

    fn reads_output(&self, id: ExprId) -> bool {
        self.m.reads_through(id, &self.values, |v| v == Var::State(self.def.output_state))
    }

    fn depends_on_time(&self, id: ExprId) -> bool {
        self.m.reads_through(id, &self.values, |v| v == Var::Time)
    }

    /// The state that holds the output (the threshold flux).
    pub fn output_state(&self) -> usize {
        self.def.output_state
    }

    /// The state that stands for the density's variable.
    pub fn variable(&self) -> usize {
        self.def.var
    }

    pub fn grid(&self) -> Grid {
        Grid::new(self.lo, self.threshold, self.cells, self.grading)
    }

    /// Drift and diffusion at every face of `grid` at time `t`, with the
    /// output (for a recurrent population) at `rate`.
    pub fn coefficients(&self, grid: &Grid, t: f64, base: &[f64]) -> Result<(Vec<f64>, Vec<f64>), Diagnostic> {
        // all faces at once, as arrays (the field's evaluator)
        let n = grid.faces.len();
        let mut states: Vec<Vec<f64>> = base.iter().map(|&x| vec![x; n]).collect();
        states[self.def.var] = grid.faces.clone();
        let mut cells = Cells::new(self.m, n);
        let env = CellEnv { t, states: &states, params: &self.params, values: &self.values };
        let drift = cells.eval(self.m, self.def.drift, &env).to_vec();
        let diffusion = cells.eval(self.m, self.def.diffusion, &env).to_vec();
        let bad = drift.iter().zip(&diffusion).position(|(a, dd)| !(a.is_finite() && *dd > 0.0 && dd.is_finite()));
        if let Some(k) = bad {
            let (a, dd, x) = (drift[k], diffusion[k], grid.faces[k]);
            let unit =
                self.m.states[self.def.var].unit.clone().unwrap_or(ir::UnitHint { text: String::new(), scale: 1.0 });
            let (what, id) = if a.is_finite() { ("diffusion", self.def.diffusion) } else { ("drift", self.def.drift) };
            return Err(Diagnostic::error(
                Code::BadDensity,
                format!(
                    "the {what} is {} at {} {} (t = {} ms)",
                    if what == "drift" { units::format_number(a) } else { units::format_number(dd) },
                    units::format_number(x / unit.scale),
                    unit.text,
                    units::format_number(t * 1e3)
                ),
            )
            .at(self.m.arena.span(id), format!("the {what}"))
            .help("the drift must be finite and the diffusion positive everywhere on the grid; narrow the grid or fix the expression"));
        }
        Ok((drift, diffusion))
    }

    /// The scalar states (every state but the variable): the ODE states'
    /// initial values, and the output at `rate`.
    pub fn base(&self, rate: f64) -> Vec<f64> {
        let mut y = self.init.clone();
        y[self.def.output_state] = rate;
        y
    }

    pub fn fluxes(&self, grid: &Grid, t: f64, base: &[f64]) -> Result<Fluxes, Diagnostic> {
        let (a, d) = self.coefficients(grid, t, base)?;
        Ok(Fluxes::scharfetter_gummel(grid, &a, &d))
    }

    /// The stationary density and rate of the inputs at time `t`. A
    /// recurrent population's rate is self-consistent: the root of
    /// `Phi(r) - r`, with `Phi(r)` the stationary rate for inputs computed
    /// with output r, found by bracketing from r = 0 and bisecting.
    pub fn stationary(&self, t: f64) -> Result<(Grid, Vec<f64>, f64), Diagnostic> {
        self.stationary_with(t, self.t_ref)
    }

    /// `stationary` with the refractory period the time stepping realizes
    /// (`t_ref` rounded up to one step when shorter).
    fn stationary_with(&self, t: f64, t_ref: f64) -> Result<(Grid, Vec<f64>, f64), Diagnostic> {
        let grid = self.grid();
        let phi = |r: f64| -> Result<(Vec<f64>, f64), Diagnostic> {
            let f = self.fluxes(&grid, t, &self.base(r))?;
            fv::stationary(&grid, &f, self.reset, t_ref).ok_or_else(|| self.no_stationary())
        };
        if !self.feedback {
            let (p, r) = phi(0.0)?;
            return Ok((grid, p, r));
        }
        let top = if t_ref > 0.0 { 1.0 / t_ref } else { 1e4 };
        let (mut lo, mut hi) = (0.0, 1.0f64.min(top));
        if phi(lo)?.1 <= lo {
            let (p, r) = phi(lo)?;
            return Ok((grid, p, r));
        }
        while phi(hi)?.1 > hi {
            if hi >= top {
                return Err(Diagnostic::error(
                    Code::NumericalBlowUp,
                    "the recurrent population has no self-consistent rate below its maximum",
                )
                .at(self.def.span, "this density")
                .help("the feedback drives the rate past 1/t_ref: weaken the recurrent coupling"));
            }
            lo = hi;
            hi = (2.0 * hi).min(top);
        }
        for _ in 0..80 {
            let mid = 0.5 * (lo + hi);
            if phi(mid)?.1 > mid {
                lo = mid;
            } else {
                hi = mid;
            }
            if hi - lo <= 1e-13 * hi {
                break;
            }
        }
        let r = 0.5 * (lo + hi);
        let (p, _) = phi(r)?;
        // the density that goes with r, normalized with r itself
        Ok((grid, p, r))
    }

    fn no_stationary(&self) -> Diagnostic {
        Diagnostic::error(Code::NumericalBlowUp, "the stationary density is out of floating-point range")
            .at(self.def.span, "this density")
            .help("the rate is too small to represent (below about 1e-300 per second); raise the input or the noise")
    }

    /// One RK4 step of the ODE states from t to t + dt (the density's own
    /// variable is not among them; the output holds its last value).
    pub(crate) fn advance_odes(&self, y: &mut [f64], t: f64, dt: f64) {
        let mut vals = Vec::new();
        let mut rates = |y: &[f64], t: f64| -> Vec<f64> {
            eval::eval_values(self.m, t, y, &self.params, &self.values, &mut vals);
            let env = Env { t, states: y, params: &self.params, values: &vals, args: &[] };
            self.ode.iter().map(|&i| self.m.states[i].rhs.map_or(0.0, |r| eval::eval(self.m, r, &env))).collect()
        };
        let y0 = y.to_vec();
        let mut stage = y0.clone();
        let mut acc = vec![0.0; self.ode.len()];
        let mut k = vec![0.0; self.ode.len()];
        for (c, w) in [(0.0, 1.0), (0.5, 2.0), (0.5, 2.0), (1.0, 1.0)] {
            for (j, &i) in self.ode.iter().enumerate() {
                stage[i] = y0[i] + c * dt * k[j];
            }
            k = rates(&stage, t + c * dt);
            for (a, kj) in acc.iter_mut().zip(&k) {
                *a += w * kj;
            }
        }
        for (j, &i) in self.ode.iter().enumerate() {
            y[i] = y0[i] + dt / 6.0 * acc[j];
        }
    }

    /// Simulates the population; see [`Config`].
    /// Runs the density, handing `rec` one sample every `sample_every`
    /// steps: the threshold flux averaged over the interval (1/s), the mean
    /// of the variable over the non-refractory density, the refractory
    /// fraction, then the ODE states beside the density (in [`Self::ode_names`]
    /// order). Stops early when `rec.stop()`.
    pub fn simulate_into(&self, cfg: &Config, rec: &mut dyn Recorder) -> Result<End, Diagnostic> {
        let grid = self.grid();
        if self.t_ref / cfg.dt > 1e8 {
            return Err(Diagnostic::error(
                Code::BadDensity,
                format!("the refractory period is {:e} steps long", self.t_ref / cfg.dt),
            )
            .at(self.m.arena.span(self.def.refractory), "the refractory period")
            .help("the delay line holds one slot per step: use a larger dt or a shorter refractory period"));
        }
        let t_ref_steps = self.t_ref.max(cfg.dt); // shorter than a step: one step
        let r0 = match cfg.initial {
            Initial::Stationary if self.feedback => self.stationary_with(0.0, t_ref_steps)?.2,
            _ => 0.0,
        };
        let mut y = self.base(r0);
        let f = self.fluxes(&grid, 0.0, &y)?;
        let mut solver = Solver::new(grid.clone(), f, cfg.dt, cfg.scheme, self.reset, self.t_ref);
        let mut end = End::default();
        match cfg.initial {
            Initial::Stationary => {
                end.initial_rate = Some(solver.start_stationary(self.reset).ok_or_else(|| self.no_stationary())?)
            }
            Initial::At(x) => solver.start_at(x.clamp(self.lo, self.threshold)),
        }
        y[self.def.output_state] = end.initial_rate.unwrap_or(0.0);
        let out = self.def.output_state;
        let mut sample = Vec::with_capacity(3 + self.ode.len());
        let steps = (cfg.duration / cfg.dt).round() as usize;
        let every = cfg.sample_every.max(1);
        let bar = crate::runtime::progress_bar(cfg.progress && steps >= 100_000, steps);
        let mut sum = 0.0;
        let per_face = self.reads_time_per_face(self.def.drift) || self.reads_time_per_face(self.def.diffusion);
        let (mut seen, mut now) = (Vec::new(), Vec::new());
        self.uniform_values(0.0, &y, &mut seen);
        // p(V, t) for the recorder that asks for it, from t = 0 on
        let snapshot = rec.density_every().map(|every| ((every / cfg.dt).round() as usize).max(1));
        if snapshot.is_some() {
            rec.density(0.0, &solver.p);
        }
        let mut y_seen = y.clone();
        for k in 1..=steps {
            if rec.stop() {
                end.outcome.stopped = true;
                break;
            }
            let t = k as f64 * cfg.dt;
            if !self.ode.is_empty() {
                self.advance_odes(&mut y, t - cfg.dt, cfg.dt);
            }
            if self.time_dependent {
                // the scalar states (ODE states, the output) and the values
                // uniform in the variable: if none changed, neither did
                // drift and diffusion
                // the output counts only when drift or diffusion read it
                let moved = y
                    .iter()
                    .zip(&y_seen)
                    .enumerate()
                    .any(|(i, (a, b))| (i != out || self.feedback) && a != b && !(a.is_nan() && b.is_nan()));
                y_seen.copy_from_slice(&y);
                let changed = per_face || moved || {
                    self.uniform_values(t, &y, &mut now);
                    let same = now.iter().zip(&seen).all(|(a, b)| a == b || (a.is_nan() && b.is_nan()));
                    std::mem::swap(&mut now, &mut seen);
                    !same
                };
                if changed {
                    solver.set_fluxes(self.fluxes(&grid, t, &y)?);
                    self.uniform_values(t, &y, &mut seen);
                }
            }
            y[out] = solver.step();
            sum += y[out];
            let (m, refr) = solver.mass();
            end.mass_error = end.mass_error.max((m + refr - 1.0).abs());
            if k % every == 0 {
                let mean =
                    solver.p.iter().enumerate().map(|(i, p)| p * grid.width(i) * grid.center(i)).sum::<f64>() / m;
                sample.clear();
                sample.extend([sum / every as f64, mean, refr]);
                sample.extend(self.ode.iter().map(|&i| y[i]));
                rec.sample(t, &sample);
                sum = 0.0;
            }
            if snapshot.is_some_and(|n| k % n == 0) {
                rec.density(t, &solver.p);
            }
            end.outcome.steps = k;
            if let Some(b) = &bar {
                if k % 4096 == 0 {
                    b.set_position(k as u64);
                }
            }
            if k % 1024 == 0 && !solver.p.iter().all(|x| x.is_finite()) {
                return Err(Diagnostic::error(
                    Code::NumericalBlowUp,
                    format!("the density diverged at t = {} ms", units::format_number(t * 1e3)),
                )
                .at(self.def.span, "this density")
                .help("this should not happen with implicit steps; check that drift and diffusion are finite"));
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        end.final_p = solver.p;
        end.grid = Some(grid);
        Ok(end)
    }

    /// The names of the ODE states a sample carries after its first three
    /// values.
    pub fn ode_names(&self) -> Vec<String> {
        self.ode.iter().map(|&i| self.m.states[i].name.clone()).collect()
    }

    /// Runs the density and keeps what it recorded.
    pub fn simulate(&self, cfg: &Config) -> Result<Trace, Diagnostic> {
        let mut rec = crate::runtime::Recording::default();
        let end = self.simulate_into(cfg, &mut rec)?;
        let column = |k: usize| rec.traces.get(k).map(|t| t.1.clone()).unwrap_or_default();
        Ok(Trace {
            t: rec.t.clone(),
            rate: column(0),
            mean: column(1),
            refractory: column(2),
            mass_error: end.mass_error,
            final_p: end.final_p,
            grid: end.grid,
            initial_rate: end.initial_rate,
            states: self.ode_names().into_iter().enumerate().map(|(j, n)| (n, column(3 + j))).collect(),
        })
    }
}
