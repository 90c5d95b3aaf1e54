//! Runtime: simulates a point model with the reference interpreter, and
//! writes what was recorded.
//!
//! One step of length `dt` from `t`: integrate every state's ODE (forward
//! Euler or classic RK4; states clamped by a refractory period are held),
//! then test events on the new state. A threshold crossing is located by
//! linear interpolation of its level between the two steps, so spike times
//! are not quantized to `dt`. Event actions run in the order written; a
//! `refractory T` holds the states the event assigned for `T` and mutes
//! condition events meanwhile.

pub mod output;

use crate::codegen::interp::{eval, eval_params, eval_values, Env};
use crate::diag::{Code, Diagnostic};
use crate::ir::{Action, ExprId, Model, Trigger};
use crate::syntax::ast::Direction;

/// Integration methods of the reference interpreter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Euler,
    Rk4,
}

impl Method {
    pub const NAMES: &'static [&'static str] = &["euler", "rk4"];

    pub fn parse(s: &str) -> Option<Method> {
        match s {
            "euler" => Some(Method::Euler),
            "rk4" => Some(Method::Rk4),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Method::Euler => "euler",
            Method::Rk4 => "rk4",
        }
    }
}

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
    pub method: Method,
    pub record: Vec<Probe>,
    /// Record every n-th step (1: every step).
    pub sample_every: usize,
    /// Replaces parameter i's expression.
    pub param_overrides: Vec<Option<ExprId>>,
    /// Replaces value i's expression (inputs set from the command line).
    pub value_overrides: Vec<Option<ExprId>>,
    pub progress: bool,
}

/// What a run produced. Times in SI seconds, values in SI.
#[derive(Clone, Debug, Default)]
pub struct Recording {
    pub t: Vec<f64>,
    /// (name, samples) for each probe.
    pub traces: Vec<(String, Vec<f64>)>,
    pub spikes: Vec<f64>,
    pub steps: usize,
}

struct Sim<'m> {
    m: &'m Model,
    params: Vec<f64>,
    value_exprs: Vec<ExprId>,
    values: Vec<f64>,
    /// States held (derivative zero) until `refractory_until`.
    clamped: Vec<bool>,
    refractory_until: f64,
}

impl Sim<'_> {
    /// dy/dt at (t, y); also leaves the values at (t, y) in `self.values`.
    fn deriv(&mut self, t: f64, y: &[f64], out: &mut [f64]) {
        let mut values = std::mem::take(&mut self.values);
        eval_values(self.m, t, y, &self.params, &self.value_exprs, &mut values);
        let env = Env {
            t,
            states: y,
            params: &self.params,
            values: &values,
            args: &[],
        };
        let refractory = t < self.refractory_until;
        for (i, s) in self.m.states.iter().enumerate() {
            out[i] = match s.rhs {
                Some(r) if !(refractory && self.clamped[i]) => eval(self.m, r, &env),
                _ => 0.0,
            };
        }
        self.values = values;
    }

    fn step(
        &mut self,
        method: Method,
        t: f64,
        dt: f64,
        y: &mut [f64],
        k: &mut [Vec<f64>; 4],
        tmp: &mut [f64],
    ) {
        let n = y.len();
        match method {
            Method::Euler => {
                self.deriv(t, y, &mut k[0]);
                for i in 0..n {
                    y[i] += dt * k[0][i];
                }
            }
            Method::Rk4 => {
                let [k1, k2, k3, k4] = k;
                self.deriv(t, y, k1);
                for i in 0..n {
                    tmp[i] = y[i] + 0.5 * dt * k1[i];
                }
                self.deriv(t + 0.5 * dt, tmp, k2);
                for i in 0..n {
                    tmp[i] = y[i] + 0.5 * dt * k2[i];
                }
                self.deriv(t + 0.5 * dt, tmp, k3);
                for i in 0..n {
                    tmp[i] = y[i] + dt * k3[i];
                }
                self.deriv(t + dt, tmp, k4);
                for i in 0..n {
                    y[i] += dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
                }
            }
        }
    }

    fn level(&mut self, t: f64, y: &[f64], trig: &Trigger) -> f64 {
        let id = match trig {
            Trigger::Crossing { level, .. } => *level,
            Trigger::Condition { level: Some(l), .. } => *l,
            _ => return f64::NAN,
        };
        eval_values(
            self.m,
            t,
            y,
            &self.params,
            &self.value_exprs,
            &mut self.values,
        );
        let env = Env {
            t,
            states: y,
            params: &self.params,
            values: &self.values,
            args: &[],
        };
        eval(self.m, id, &env)
    }
}

/// The initial state: parameters, then states in dependency order.
pub fn initial_state(m: &Model, params: &[f64], value_exprs: &[ExprId]) -> Vec<f64> {
    let mut y = vec![f64::NAN; m.states.len()];
    let mut values = Vec::new();
    for &i in &m.init_order {
        eval_values(m, 0.0, &y, params, value_exprs, &mut values);
        let env = Env {
            t: 0.0,
            states: &y,
            params,
            values: &values,
            args: &[],
        };
        y[i] = eval(m, m.states[i].init, &env);
    }
    y
}

/// Runs a point model. Fails with E0506 when a state stops being finite.
pub fn simulate(m: &Model, cfg: &Config) -> Result<Recording, Box<Diagnostic>> {
    let params = eval_params(m, &cfg.param_overrides);
    let value_exprs: Vec<ExprId> = m
        .values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            cfg.value_overrides
                .get(i)
                .copied()
                .flatten()
                .unwrap_or(v.expr)
        })
        .collect();
    let mut y = initial_state(m, &params, &value_exprs);
    let n = y.len();
    let mut sim = Sim {
        m,
        params,
        value_exprs,
        values: Vec::new(),
        clamped: vec![false; n],
        refractory_until: f64::NEG_INFINITY,
    };
    let steps = (cfg.duration / cfg.dt).round().max(0.0) as usize;
    let every = cfg.sample_every.max(1);
    let mut rec = Recording {
        traces: cfg
            .record
            .iter()
            .map(|p| (probe_name(m, p), Vec::new()))
            .collect(),
        steps,
        ..Recording::default()
    };
    let mut k = [vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]];
    let mut tmp = vec![0.0; n];
    let mut levels: Vec<f64> = m
        .events
        .iter()
        .map(|e| sim.level(0.0, &y, &e.trigger))
        .collect();
    let bar = progress_bar(cfg.progress, steps);
    record(&mut sim, &mut rec, 0.0, &y, &cfg.record);
    for step in 0..steps {
        let t = step as f64 * cfg.dt;
        sim.step(cfg.method, t, cfg.dt, &mut y, &mut k, &mut tmp);
        let t1 = (step + 1) as f64 * cfg.dt;
        if let Some(i) = y.iter().position(|v| !v.is_finite()) {
            if let Some(b) = &bar {
                b.abandon();
            }
            let s = &m.states[i];
            return Err(Box::new(
                Diagnostic::error(
                    Code::NumericalBlowUp,
                    format!(
                        "`{}` became {} at t = {} ms",
                        s.name,
                        y[i],
                        crate::units::format_number(t1 * 1e3)
                    ),
                )
                .at(s.span, "this state diverged")
                .help(format!(
                "the step dt = {} ms may be too large for `{}`; try a smaller --dt or --method rk4",
                crate::units::format_number(cfg.dt * 1e3),
                cfg.method.name()
            )),
            ));
        }
        fire_events(&mut sim, t, t1, &mut y, &mut levels, &mut rec);
        if (step + 1) % every == 0 {
            record(&mut sim, &mut rec, t1, &y, &cfg.record);
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
    Ok(rec)
}

fn fire_events(
    sim: &mut Sim,
    t0: f64,
    t1: f64,
    y: &mut [f64],
    levels: &mut [f64],
    rec: &mut Recording,
) {
    let m = sim.m;
    for (ei, ev) in m.events.iter().enumerate() {
        let prev = levels[ei];
        let now = sim.level(t1, y, &ev.trigger);
        levels[ei] = now;
        let crossing_time = || {
            if prev.is_finite() && now.is_finite() && prev != now {
                let frac = (prev / (prev - now)).clamp(0.0, 1.0);
                t0 + frac * (t1 - t0)
            } else {
                t1
            }
        };
        let (fires, t_event) = match &ev.trigger {
            Trigger::Crossing { direction, .. } => {
                let up = prev < 0.0 && now >= 0.0;
                let down = prev > 0.0 && now <= 0.0;
                let fires = match direction {
                    Direction::Upward => up,
                    Direction::Downward => down,
                };
                (fires, crossing_time())
            }
            Trigger::Condition { cond, level } => {
                if t1 <= sim.refractory_until {
                    continue;
                }
                eval_values(m, t1, y, &sim.params, &sim.value_exprs, &mut sim.values);
                let env = Env {
                    t: t1,
                    states: y,
                    params: &sim.params,
                    values: &sim.values,
                    args: &[],
                };
                let holds = eval(m, *cond, &env) != 0.0;
                let t_event = if level.is_some() && prev < 0.0 {
                    crossing_time()
                } else {
                    t1
                };
                (holds, t_event)
            }
            Trigger::Spike { .. } => (false, t1),
        };
        if !fires {
            continue;
        }
        for a in &ev.actions {
            match a {
                Action::Assign { state, value, .. } => {
                    eval_values(m, t1, y, &sim.params, &sim.value_exprs, &mut sim.values);
                    let env = Env {
                        t: t1,
                        states: y,
                        params: &sim.params,
                        values: &sim.values,
                        args: &[],
                    };
                    y[*state] = eval(m, *value, &env);
                }
                Action::Emit { .. } => rec.spikes.push(t_event),
                Action::Refractory { duration, .. } => {
                    let env = Env {
                        t: t1,
                        states: y,
                        params: &sim.params,
                        values: &sim.values,
                        args: &[],
                    };
                    let d = eval(m, *duration, &env);
                    sim.refractory_until = t_event + d;
                    for c in sim.clamped.iter_mut() {
                        *c = false;
                    }
                    for b in &ev.actions {
                        if let Action::Assign { state, .. } = b {
                            sim.clamped[*state] = true;
                        }
                    }
                }
                Action::Output { .. } => {}
            }
        }
        // the level after the actions (a reset moves it below threshold)
        levels[ei] = sim.level(t1, y, &ev.trigger);
    }
}

fn record(sim: &mut Sim, rec: &mut Recording, t: f64, y: &[f64], probes: &[Probe]) {
    rec.t.push(t);
    if probes.iter().any(|p| matches!(p, Probe::Value(_))) {
        eval_values(sim.m, t, y, &sim.params, &sim.value_exprs, &mut sim.values);
    }
    for (p, (_, trace)) in probes.iter().zip(rec.traces.iter_mut()) {
        let v = match p {
            Probe::State(i) => y.get(*i).copied(),
            Probe::Value(i) => sim.values.get(*i).copied(),
        };
        trace.push(v.unwrap_or(f64::NAN));
    }
}

pub fn probe_name(m: &Model, p: &Probe) -> String {
    match p {
        Probe::State(i) => m.states.get(*i).map(|s| s.name.clone()),
        Probe::Value(i) => m.values.get(*i).map(|s| s.name.clone()),
    }
    .unwrap_or_default()
}

fn progress_bar(enabled: bool, steps: usize) -> Option<indicatif::ProgressBar> {
    if !enabled || steps < 200_000 {
        return None;
    }
    let bar = indicatif::ProgressBar::new(steps as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:40} {percent}% steps, eta {eta}",
    ) {
        bar.set_style(style);
    }
    Some(bar)
}
