//! Runtime: simulates a point model with the reference interpreter, by the
//! [`Plan`] the schemes derived; its submodules run populations on the
//! fused kernels ([`population`]) and networks ([`network`]). The
//! interpreter itself, a [`Stepper`] advancing one step and locating its
//! events, is in `stepper.rs`.
//!
//! Input: a lowered `Model`, its `Plan` and a [`Config`]. Output: what the
//! run records, streamed into a [`Recorder`] as it happens
//! ([`simulate_into`]: a sample at t = 0 and after every `sample_every`-th
//! step, spikes and event outputs at their times), and an [`Outcome`];
//! [`simulate`] collects the same into a [`Recording`]. Memory does not
//! grow with the run's length: nothing is kept per step or per spike.
//!
//! A step of the grid `[t, t + dt]` is advanced by every block of the plan
//! from the same old state. Events are located inside the step: when an
//! event's level changes sign (or its condition becomes true), the crossing
//! time is found by root finding (Illinois) on the level of the state
//! advanced by the same scheme over a shorter step, so spike times are not
//! quantized to `dt` and are exact for exact schemes. The event's actions
//! run at that time and the rest of the step is integrated from there. A
//! `refractory T` holds the states the event assigned until the period ends
//! (the step is split there too) and mutes condition events meanwhile.
//! Conditions fire when they become true (false before, true after).

pub mod brain;
pub mod network;
pub mod noise;
pub mod population;
pub mod record;
pub mod spikegen;
mod stepper;
pub mod stream;

pub use record::{Outcome, Recorder, Recording};
pub use stepper::Stepper;

use crate::diag::{Code, Diagnostic};
use crate::ir::eval::{eval, eval_values, Env};
use crate::ir::{ExprId, Model};
use crate::schemes::linalg::{self, Mat};
use crate::schemes::Plan;

/// A variable to record: a state or a value (derived, input, current).
#[derive(Clone, Debug, PartialEq)]
pub enum Probe {
    State(usize),
    Value(usize),
}

#[derive(Clone, Debug)]
pub struct Config {
    /// Step, SI seconds.
    pub dt: f64,
    /// Simulated time, SI seconds.
    pub duration: f64,
    pub record: Vec<Probe>,
    /// Record every n-th step (1: every step).
    pub sample_every: usize,
    /// Replaces parameter i's expression.
    pub param_overrides: Vec<Option<ExprId>>,
    /// Replaces value i's expression (inputs set from the command line).
    pub value_overrides: Vec<Option<ExprId>>,
    /// Relative tolerance of the adaptive method (rk45).
    pub rtol: f64,
    pub progress: bool,
    /// Presynaptic spikes delivered to the model's `on spike(w)` events:
    /// (time, weight), SI, sorted by time.
    pub input_spikes: Vec<(f64, f64)>,
    /// The port (`on spike exc`) the input spikes reach; `None`: every
    /// `on spike` event (the experiment asks for a port when there are
    /// several).
    pub input_port: Option<String>,
    /// Initial values replaced after the model's own: (state, SI value).
    pub init_overrides: Vec<(usize, f64)>,
}

impl Config {
    /// Defaults for a model: record nothing, no overrides.
    pub fn new(m: &Model, dt: f64, duration: f64) -> Config {
        Config {
            dt,
            duration,
            record: vec![],
            sample_every: 1,
            param_overrides: vec![None; m.params.len()],
            value_overrides: vec![None; m.values.len()],
            rtol: 1e-8,
            progress: false,
            input_spikes: Vec::new(),
            input_port: None,
            init_overrides: Vec::new(),
        }
    }
}

/// Puts the species of kinetic schemes that have no initial value (NaN) at
/// the steady state of their rates at t = 0: Q p = 0 with sum p = 1. A
/// scheme without a unique steady state is left at NaN (the caller reports).
pub fn kinetic_steady_states(m: &Model, params: &[f64], value_exprs: &[ExprId], y: &mut [f64]) {
    for kin in &m.kinetics {
        if kin.species.iter().all(|&s| y[s].is_finite()) {
            continue;
        }
        let mut values = Vec::new();
        eval_values(m, 0.0, y, params, value_exprs, &mut values);
        let env = Env { t: 0.0, states: y, params, values: &values, args: &[] };
        let n = kin.species.len();
        let pos = |s: usize| kin.species.iter().position(|&x| x == s).unwrap_or(0);
        let mut q = Mat::zeros(n);
        for r in &kin.reactions {
            let (a, b) = (pos(r.from), pos(r.to));
            let kf = eval(m, r.forward, &env);
            let kb = eval(m, r.backward, &env);
            q.set(b, a, q.get(b, a) + kf);
            q.set(a, a, q.get(a, a) - kf);
            q.set(a, b, q.get(a, b) + kb);
            q.set(b, b, q.get(b, b) - kb);
        }
        for c in 0..n {
            q.set(n - 1, c, 1.0);
        }
        let mut rhs = vec![0.0; n];
        rhs[n - 1] = 1.0;
        if let Some(p) = linalg::solve(&q, &rhs) {
            for (i, &s) in kin.species.iter().enumerate() {
                if !y[s].is_finite() {
                    y[s] = p[i];
                }
            }
        }
    }
}

/// The initial state: parameters, then states in dependency order, then
/// kinetic steady states.
pub fn initial_state(stepper: &mut Stepper) -> Vec<f64> {
    let m = stepper.m;
    let mut y = vec![f64::NAN; m.states.len()];
    for &i in &m.init_order {
        stepper.env_values(0.0, &y);
        y[i] = stepper.eval_at(m.states[i].init, 0.0, &y);
    }
    stepper.kinetic_steady_states(&mut y);
    y
}

/// E0103 for a parameter whose value is not a finite number (`1e308 * 1e308`).
pub fn check_params(m: &Model, params: &[f64]) -> Result<(), Box<Diagnostic>> {
    match m.params.iter().zip(params).find(|(_, v)| !v.is_finite()) {
        None => Ok(()),
        Some((p, v)) => Err(Box::new(
            Diagnostic::error(Code::BadNumber, format!("parameter `{}` evaluates to {v}", p.name))
                .at(p.span, "not a finite number")
                .help("check the parameter's expression for an overflow or a division by zero"),
        )),
    }
}

/// Runs a point model by a plan and collects what it records: the
/// traces named after `cfg.record`, the spikes (their `spike_ids` left
/// empty: a single neuron) and the event outputs. Fails as
/// [`simulate_into`] does.
pub fn simulate(m: &Model, plan: &Plan, cfg: &Config) -> Result<Recording, Box<Diagnostic>> {
    let mut rec = Recording::named(cfg.record.iter().map(|p| probe_name(m, p)));
    let outcome = simulate_into(m, plan, cfg, &mut rec)?;
    rec.steps = outcome.steps;
    rec.spike_ids.clear();
    Ok(rec)
}

/// Runs a point model by a plan, handing `rec` a sample (the values of
/// `cfg.record`, in order) at t = 0 and after every `sample_every`-th
/// step, each spike (neuron 0) and each event output as it happens. Asks
/// `rec.stop()` before every step; a stop returns `stopped` with the steps
/// done. Fails with E0506 when a state stops being finite, E0403 when an
/// implicit solve fails or a kinetic scheme has no unique steady state,
/// E0103 for a parameter that is not a finite number.
pub fn simulate_into(m: &Model, plan: &Plan, cfg: &Config, rec: &mut dyn Recorder) -> Result<Outcome, Box<Diagnostic>> {
    let mut st = Stepper::new(m, plan, cfg);
    check_params(m, &st.params)?;
    let mut y = initial_state(&mut st);
    for &(s, v) in &cfg.init_overrides {
        if let Some(slot) = y.get_mut(s) {
            *slot = v;
        }
    }
    if let Some(k) = m.kinetics.iter().find(|k| k.species.iter().any(|&s| !y[s].is_finite())) {
        return Err(Box::new(
            Diagnostic::error(
                Code::SolverFailed,
                format!("the kinetic scheme of `{}` has no unique steady state", k.channel),
            )
            .at(k.span, "its species cannot start at steady state")
            .help("connect all species by reactions, or declare each species with `state X = ...`"),
        ));
    }
    let steps = (cfg.duration / cfg.dt).round().max(0.0) as usize;
    let every = cfg.sample_every.max(1);
    let bar = progress_bar(cfg.progress, steps);
    let abandon = |bar: &Option<indicatif::ProgressBar>| {
        if let Some(b) = bar {
            b.abandon();
        }
    };
    let mut values = Vec::with_capacity(cfg.record.len());
    record(&mut st, rec, 0.0, &y, &cfg.record, &mut values);
    let mut warned = false;
    for step in 0..steps {
        if rec.stop() {
            abandon(&bar);
            return Ok(Outcome { steps: step, stopped: true });
        }
        let t0 = step as f64 * cfg.dt;
        let t1 = (step + 1) as f64 * cfg.dt;
        if let Err(e) = stepper::step_with_events(&mut st, t0, t1, &mut y, rec) {
            abandon(&bar);
            return Err(Box::new(e));
        }
        if let Some(i) = y.iter().position(|v| !v.is_finite()) {
            abandon(&bar);
            let s = &m.states[i];
            return Err(Box::new(
                Diagnostic::error(
                    Code::NumericalBlowUp,
                    format!("`{}` became {} at t = {} ms", s.name, y[i], crate::units::format_number(t1 * 1e3)),
                )
                .at(s.span, "this state diverged")
                .help(format!(
                    "the step dt = {} ms may be too large; try a smaller --dt, or --method auto / trapezoidal",
                    crate::units::format_number(cfg.dt * 1e3)
                )),
            ));
        }
        if !warned {
            if let Some(i) = y.iter().position(|v| v.abs() > record::HUGE) {
                warned = true;
                rec.warning(record::huge_warning(m, i, None, y[i], t1, cfg.dt));
            }
        }
        if (step + 1) % every == 0 {
            record(&mut st, rec, t1, &y, &cfg.record, &mut values);
        }
        if let Some(b) = &bar {
            if step % 1024 == 0 {
                b.set_position(step as u64);
            }
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(Outcome { steps, stopped: false })
}

/// Hands `rec` the probes' values at `t` (`values` is scratch space).
fn record(st: &mut Stepper, rec: &mut dyn Recorder, t: f64, y: &[f64], probes: &[Probe], values: &mut Vec<f64>) {
    if probes.iter().any(|p| matches!(p, Probe::Value(_))) {
        st.env_values(t, y);
    }
    values.clear();
    values.extend(probes.iter().map(|p| {
        let v = match p {
            Probe::State(i) => y.get(*i).copied(),
            Probe::Value(i) => st.values.get(*i).copied(),
        };
        v.unwrap_or(f64::NAN)
    }));
    rec.sample(t, values);
}

pub fn probe_name(m: &Model, p: &Probe) -> String {
    match p {
        Probe::State(i) => m.states.get(*i).map(|s| s.name.clone()),
        Probe::Value(i) => m.values.get(*i).map(|s| s.name.clone()),
    }
    .unwrap_or_default()
}

pub fn progress_bar(enabled: bool, steps: usize) -> Option<indicatif::ProgressBar> {
    if !enabled || steps < 200_000 {
        return None;
    }
    let bar = indicatif::ProgressBar::new(steps as u64);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {percent}% steps, eta {eta}")
    {
        bar.set_style(style);
    }
    Some(bar)
}
