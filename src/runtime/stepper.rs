//! The reference interpreter's step: a [`Stepper`] advances every block of
//! the plan over `[t, t + h]` from the same old state (explicit, adaptive,
//! implicit, exact and kinetic schemes), and [`step_with_events`] locates
//! the events inside the step by root finding, runs their actions at that
//! time, holds refractory states, delivers presynaptic spikes, and
//! integrates the rest of the step from there.

use super::{kinetic_steady_states, Config, Recorder};
use crate::diag::{Code, Diagnostic};
use crate::ir::eval::{eval, eval_params, eval_values, Env};
use crate::ir::{Action, ExprId, Model, Trigger};
use crate::schemes::linalg::{self, Mat};
use crate::schemes::{Block, Method, Plan};
use crate::syntax::ast::Direction;
use std::collections::HashMap;

/// (block, step length bits, clamped mask) -> (Phi, Psi, free states).
type PropagatorKey = (usize, u64, Vec<bool>);

/// Integrates one model by a plan.
pub struct Stepper<'m> {
    pub(super) m: &'m Model,
    plan: &'m Plan,
    pub(super) params: Vec<f64>,
    value_exprs: Vec<ExprId>,
    pub(super) values: Vec<f64>,
    /// States held (derivative zero) until `refractory_until`.
    clamped: Vec<bool>,
    refractory_until: f64,
    /// Whether the interval being advanced starts inside a refractory
    /// period (then clamped states are held for all of it: the event loop
    /// splits steps at the period's end).
    holding: bool,
    /// Exact propagators by (block, step bits, clamp mask).
    propagators: HashMap<PropagatorKey, (Mat, Mat, Vec<usize>)>,
    /// Constant matrices of exact blocks, evaluated once.
    exact_a: Vec<Option<Mat>>,
    /// Last accepted internal step of rk45, and the error scales.
    rk45_h: f64,
    scale: Vec<f64>,
    rtol: f64,
    /// Times where an input switches (`step(t - t_on)`, `t >= t_on`), sorted:
    /// steps are split there, so a switch costs no order of accuracy.
    breakpoints: Vec<f64>,
    /// Stage times are kept inside this window: the open interval being
    /// advanced, so a switch at its end is seen from the correct side.
    window: (f64, f64),
    /// Values of event arguments (`w` in `on spike(w: nS)`).
    args: Vec<f64>,
    input_spikes: Vec<(f64, f64)>,
    input_port: Option<String>,
    /// The first input spike not delivered yet.
    next_input: usize,
}

impl<'m> Stepper<'m> {
    pub fn new(m: &'m Model, plan: &'m Plan, cfg: &Config) -> Stepper<'m> {
        let params = eval_params(m, &cfg.param_overrides);
        let value_exprs: Vec<ExprId> = m
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| cfg.value_overrides.get(i).copied().flatten().unwrap_or(v.expr))
            .collect();
        let n = m.states.len();
        let mut s = Stepper {
            m,
            plan,
            params,
            value_exprs,
            values: Vec::new(),
            clamped: vec![false; n],
            refractory_until: f64::NEG_INFINITY,
            holding: false,
            propagators: HashMap::new(),
            exact_a: Vec::new(),
            rk45_h: cfg.dt,
            scale: vec![0.0; n],
            rtol: cfg.rtol,
            breakpoints: Vec::new(),
            window: (f64::NEG_INFINITY, f64::INFINITY),
            args: vec![0.0; m.event_args.len()],
            input_spikes: cfg.input_spikes.clone(),
            input_port: cfg.input_port.clone(),
            next_input: 0,
        };
        s.breakpoints = s.find_breakpoints(cfg.duration);
        s.exact_a = plan
            .blocks
            .iter()
            .map(|b| match b {
                Block::Exact { states, a } => {
                    let k = states.len();
                    // inputs with their overrides (`--set`), as the kernels read them
                    let mut values = Vec::new();
                    let nan = vec![f64::NAN; n];
                    crate::ir::eval::eval_values(m, f64::NAN, &nan, &s.params, &s.value_exprs, &mut values);
                    let env = Env { t: 0.0, states: &[], params: &s.params, values: &values, args: &[] };
                    Some(Mat { n: k, a: a.iter().map(|e| eval(m, *e, &env)).collect() })
                }
                _ => None,
            })
            .collect();
        s
    }

    /// Switch times of inputs: the zeros of `step(g)` arguments and of
    /// comparisons `a < b` where g = a - b depends on time (and constants)
    /// only, affinely.
    fn find_breakpoints(&self, horizon: f64) -> Vec<f64> {
        let m = self.m;
        let mut out = Vec::new();
        for i in 0..m.arena.len() {
            let id = ExprId(i as u32);
            let g = match m.arena.kind(id) {
                crate::ir::NodeKind::Call(crate::ir::Builtin::Step, args) => args.first().map(|a| (*a, None)),
                crate::ir::NodeKind::Bin(op, a, b) if op.is_comparison() => Some((*a, Some(*b))),
                _ => None,
            };
            let Some((a, b)) = g else { continue };
            let deps = |e: ExprId| crate::schemes::deps(m, e);
            let mut vars = deps(a);
            if let Some(b) = b {
                vars.extend(deps(b));
            }
            if !vars.contains(&crate::ir::Var::Time)
                || !vars.iter().all(|v| matches!(v, crate::ir::Var::Time | crate::ir::Var::Param(_)))
            {
                continue;
            }
            let nan_states = vec![f64::NAN; m.states.len()];
            let at = |t: f64| {
                let mut values = Vec::new();
                eval_values(m, t, &nan_states, &self.params, &self.value_exprs, &mut values);
                let env = Env { t, states: &nan_states, params: &self.params, values: &values, args: &[] };
                let x = eval(m, a, &env);
                x - b.map_or(0.0, |b| eval(m, b, &env))
            };
            let (g0, g1, gh) = (at(0.0), at(horizon.max(1e-3)), at(0.5 * horizon.max(1e-3)));
            let slope = (g1 - g0) / horizon.max(1e-3);
            let affine = ((g0 + g1) * 0.5 - gh).abs() <= 1e-9 * (g0.abs() + g1.abs() + 1e-300);
            if slope != 0.0 && slope.is_finite() && affine {
                let t = -g0 / slope;
                if t > 0.0 && t < horizon && !out.iter().any(|x: &f64| (x - t).abs() < 1e-15) {
                    out.push(t);
                }
            }
        }
        out.sort_by(f64::total_cmp);
        out
    }

    /// The next input switch after t (strictly), if any.
    fn next_breakpoint(&self, t: f64, eps: f64) -> Option<f64> {
        self.breakpoints.iter().copied().find(|&b| b > t + eps)
    }

    /// Derived value `v` of the model at (t, y) (NaN if there is none).
    pub fn value(&mut self, t: f64, y: &[f64], v: usize) -> f64 {
        self.env_values(t, y);
        self.values.get(v).copied().unwrap_or(f64::NAN)
    }

    /// Expression `e` of the model at (t, y).
    pub fn expr(&mut self, t: f64, y: &[f64], e: ExprId) -> f64 {
        self.env_values(t, y);
        self.eval_at(e, t, y)
    }

    /// Sets parameter `i` (a cell's parameter that differs between
    /// compartments; it must not enter an exact block's matrix, which is
    /// computed once).
    pub fn set_param(&mut self, i: usize, v: f64) {
        if let Some(p) = self.params.get_mut(i) {
            *p = v;
        }
    }

    /// Parameter `i`'s value in this run.
    pub fn param(&self, i: usize) -> f64 {
        self.params.get(i).copied().unwrap_or(f64::NAN)
    }

    pub(super) fn env_values(&mut self, t: f64, y: &[f64]) {
        eval_values(self.m, t, y, &self.params, &self.value_exprs, &mut self.values);
    }

    pub(super) fn eval_at(&self, e: ExprId, t: f64, y: &[f64]) -> f64 {
        eval(self.m, e, &Env { t, states: y, params: &self.params, values: &self.values, args: &self.args })
    }

    /// dy/dt at (t, y) for every state (0 for clamped states and states
    /// without an ODE).
    pub fn rhs(&mut self, t: f64, y: &[f64], out: &mut [f64]) {
        let t = t.clamp(self.window.0, self.window.1);
        self.env_values(t, y);
        for (i, s) in self.m.states.iter().enumerate() {
            out[i] = match s.rhs {
                Some(r) if !(self.holding && self.clamped[i]) => self.eval_at(r, t, y),
                _ => 0.0,
            };
        }
    }

    /// The state at t + h from the state y at t.
    pub fn advance(&mut self, t: f64, y: &[f64], h: f64) -> Result<Vec<f64>, String> {
        self.holding = t < self.refractory_until;
        // 1e-9 of the step: far below any scheme's error, enough to stay on
        // one side of a switch
        self.window = (t + 1e-9 * h, t + h - 1e-9 * h);
        let mut out = y.to_vec();
        for (bi, block) in self.plan.blocks.iter().enumerate() {
            match block {
                Block::Explicit { method, states } => self.explicit(*method, states, t, y, h, &mut out)?,
                Block::Implicit { theta, states, jac } => self.implicit(*theta, states, jac, t, y, h, &mut out)?,
                Block::ExpEuler { state, rate } => {
                    let i = *state;
                    if self.clamped[i] && self.holding {
                        continue;
                    }
                    // inputs are read inside the step, not at its edge
                    let te = t.clamp(self.window.0, self.window.1);
                    self.env_values(te, y);
                    let Some(r) = self.m.states[i].rhs else { continue };
                    let f = self.eval_at(r, te, y);
                    let b = self.eval_at(*rate, te, y);
                    // x(h) = x + (f / b)(1 - e^{-b h}); the limit b -> 0 is Euler
                    out[i] = if (b * h).abs() > 1e-12 { y[i] - f / b * (-b * h).exp_m1() } else { y[i] + f * h };
                }
                Block::Exact { states, .. } => self.exact(bi, states, t, y, h, &mut out),
                Block::Kinetic { kinetic, implicit } => {
                    let te = t.clamp(self.window.0, self.window.1);
                    self.kinetic(*kinetic, *implicit, te, y, h, &mut out)
                }
            }
        }
        Ok(out)
    }

    fn explicit(
        &mut self,
        method: Method,
        states: &[usize],
        t: f64,
        y: &[f64],
        h: f64,
        out: &mut [f64],
    ) -> Result<(), String> {
        let n = y.len();
        let mut k1 = vec![0.0; n];
        self.rhs(t, y, &mut k1);
        let stage = |y: &[f64], k: &[f64], c: f64| {
            let mut z = y.to_vec();
            for &i in states {
                z[i] = y[i] + c * k[i];
            }
            z
        };
        match method {
            Method::Euler => {
                for &i in states {
                    out[i] = y[i] + h * k1[i];
                }
            }
            Method::Rk2 => {
                let mut k2 = vec![0.0; n];
                self.rhs(t + 0.5 * h, &stage(y, &k1, 0.5 * h), &mut k2);
                for &i in states {
                    out[i] = y[i] + h * k2[i];
                }
            }
            Method::Heun => {
                let mut k2 = vec![0.0; n];
                self.rhs(t + h, &stage(y, &k1, h), &mut k2);
                for &i in states {
                    out[i] = y[i] + 0.5 * h * (k1[i] + k2[i]);
                }
            }
            Method::Rk45 => {
                let z = self.dormand_prince(states, t, y, h)?;
                for &i in states {
                    out[i] = z[i];
                }
            }
            _ => {
                let (mut k2, mut k3, mut k4) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
                self.rhs(t + 0.5 * h, &stage(y, &k1, 0.5 * h), &mut k2);
                self.rhs(t + 0.5 * h, &stage(y, &k2, 0.5 * h), &mut k3);
                self.rhs(t + h, &stage(y, &k3, h), &mut k4);
                for &i in states {
                    out[i] = y[i] + h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
                }
            }
        }
        Ok(())
    }

    /// Dormand & Prince (1980) 5(4) with step-size control, over [t, t + h].
    fn dormand_prince(&mut self, states: &[usize], t: f64, y: &[f64], h: f64) -> Result<Vec<f64>, String> {
        const C: [f64; 7] = [0.0, 0.2, 0.3, 0.8, 8.0 / 9.0, 1.0, 1.0];
        const A: [[f64; 6]; 7] = [
            [0.0; 6],
            [0.2, 0.0, 0.0, 0.0, 0.0, 0.0],
            [3.0 / 40.0, 9.0 / 40.0, 0.0, 0.0, 0.0, 0.0],
            [44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0, 0.0, 0.0, 0.0],
            [19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0, 0.0, 0.0],
            [9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0, 49.0 / 176.0, -5103.0 / 18656.0, 0.0],
            [35.0 / 384.0, 0.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0],
        ];
        const E: [f64; 7] =
            [71.0 / 57600.0, 0.0, -71.0 / 16695.0, 71.0 / 1920.0, -17253.0 / 339200.0, 22.0 / 525.0, -1.0 / 40.0];
        let n = y.len();
        let mut z = y.to_vec();
        let mut s = 0.0;
        let mut hh = self.rk45_h.min(h).max(h * 1e-9);
        let mut k = vec![vec![0.0; n]; 7];
        let mut guard = 0;
        while s < h * (1.0 - 1e-12) {
            guard += 1;
            if guard > 1_000_000 {
                return Err("rk45 took more than a million sub-steps in one step".into());
            }
            hh = hh.min(h - s);
            for st in 0..7 {
                let mut w = z.clone();
                for &i in states {
                    w[i] = z[i] + hh * (0..st).map(|j| A[st][j] * k[j][i]).sum::<f64>();
                }
                let mut out = vec![0.0; n];
                self.rhs(t + s + C[st] * hh, &w, &mut out);
                k[st] = out;
            }
            let mut err: f64 = 0.0;
            let mut next = z.clone();
            for &i in states {
                next[i] = z[i] + hh * (0..6).map(|j| A[6][j] * k[j][i]).sum::<f64>();
                let e = hh * (0..7).map(|j| E[j] * k[j][i]).sum::<f64>();
                self.scale[i] = self.scale[i].max(z[i].abs()).max(next[i].abs());
                let tol = self.rtol * self.scale[i].max(1e-300);
                err = err.max((e / tol).abs());
            }
            if !err.is_finite() {
                hh *= 0.1;
                if hh < h * 1e-14 {
                    return Err("rk45 step size underflow".into());
                }
                continue;
            }
            let factor = (0.9 * err.max(1e-10).powf(-0.2)).clamp(0.2, 5.0);
            if err <= 1.0 {
                s += hh;
                z = next;
                self.rk45_h = hh * factor;
            }
            hh *= factor;
        }
        Ok(z)
    }

    #[allow(clippy::too_many_arguments)]
    fn implicit(
        &mut self,
        theta: f64,
        states: &[usize],
        jac: &[(usize, usize, ExprId)],
        t: f64,
        y: &[f64],
        h: f64,
        out: &mut [f64],
    ) -> Result<(), String> {
        let n = y.len();
        let k = states.len();
        let mut f0 = vec![0.0; n];
        self.rhs(t, y, &mut f0);
        let mut z = y.to_vec();
        for &i in states {
            z[i] = y[i] + h * f0[i];
        }
        let held = |s: &Self, i: usize| s.clamped[i] && s.holding;
        for _ in 0..50 {
            let mut f1 = vec![0.0; n];
            self.rhs(t + h, &z, &mut f1);
            let mut g = vec![0.0; k];
            let mut jm = Mat::identity(k);
            for (r, &i) in states.iter().enumerate() {
                if !held(self, i) {
                    g[r] = z[i] - y[i] - h * ((1.0 - theta) * f0[i] + theta * f1[i]);
                }
            }
            // I - h theta J: the identity where J is zero (left out of `jac`)
            for &(r, c, e) in jac {
                if states.get(r).is_some_and(|&i| !held(self, i)) {
                    let d = self.eval_at(e, t + h, &z);
                    let id = if r == c { 1.0 } else { 0.0 };
                    jm.set(r, c, id - h * theta * d);
                }
            }
            let Some(dz) = linalg::solve(&jm, &g) else {
                return Err("the Newton matrix I - h theta J is singular".into());
            };
            let mut small = true;
            for (r, &i) in states.iter().enumerate() {
                z[i] -= dz[r];
                self.scale[i] = self.scale[i].max(z[i].abs()).max(y[i].abs());
                // converged to 1e-12 of the state's typical size
                if dz[r].abs() > 1e-12 * self.scale[i] {
                    small = false;
                }
            }
            if small {
                for &i in states {
                    out[i] = z[i];
                }
                return Ok(());
            }
        }
        Err("Newton iterations did not converge in 50 iterations".into())
    }

    fn exact(&mut self, bi: usize, states: &[usize], t: f64, y: &[f64], h: f64, out: &mut [f64]) {
        let mask: Vec<bool> = states.iter().map(|&i| self.holding && self.clamped[i]).collect();
        let key = (bi, h.to_bits(), mask.clone());
        if !self.propagators.contains_key(&key) {
            let Some(a) = self.exact_a.get(bi).and_then(|a| a.clone()) else { return };
            let free: Vec<usize> = (0..states.len()).filter(|&r| !mask[r]).collect();
            let mut sub = Mat::zeros(free.len());
            for (r, &fr) in free.iter().enumerate() {
                for (c, &fc) in free.iter().enumerate() {
                    sub.set(r, c, a.get(fr, fc));
                }
            }
            let (phi, psi) = linalg::propagators(&sub, h);
            if self.propagators.len() > 4096 {
                self.propagators.clear();
            }
            self.propagators.insert(key.clone(), (phi, psi, free));
        }
        let n = y.len();
        let mut f = vec![0.0; n];
        // the forcing b is read at the middle of the step: exact when it is
        // constant, second order when it varies smoothly in time
        self.rhs(t + 0.5 * h, y, &mut f);
        let Some(a) = self.exact_a.get(bi).and_then(|a| a.as_ref()) else { return };
        let Some((phi, psi, free)) = self.propagators.get(&key) else { return };
        // b = f - A y over the free states: the part constant over the step
        let yb: Vec<f64> = free.iter().map(|&r| y[states[r]]).collect();
        let b: Vec<f64> = free
            .iter()
            .map(|&r| f[states[r]] - free.iter().map(|&c| a.get(r, c) * y[states[c]]).sum::<f64>())
            .collect();
        let p1 = phi.mul_vec(&yb);
        let p2 = psi.mul_vec(&b);
        for (k, &r) in free.iter().enumerate() {
            out[states[r]] = p1[k] + p2[k];
        }
    }

    /// The rate matrix Q of a kinetic scheme at (t, y): dp/dt = Q p.
    fn rate_matrix(&mut self, k: usize, t: f64, y: &[f64]) -> Mat {
        let kin = &self.m.kinetics[k];
        self.env_values(t, y);
        let pos = |s: usize| kin.species.iter().position(|&x| x == s).unwrap_or(0);
        let mut q = Mat::zeros(kin.species.len());
        for r in &kin.reactions {
            let (a, b) = (pos(r.from), pos(r.to));
            let kf = self.eval_at(r.forward, t, y);
            let kb = self.eval_at(r.backward, t, y);
            q.set(b, a, q.get(b, a) + kf);
            q.set(a, a, q.get(a, a) - kf);
            q.set(a, b, q.get(a, b) + kb);
            q.set(b, b, q.get(b, b) - kb);
        }
        q
    }

    /// e^{Q h} p, or backward Euler's (I - Q h)^{-1} p when `implicit`.
    fn kinetic(&mut self, k: usize, implicit: bool, t: f64, y: &[f64], h: f64, out: &mut [f64]) {
        let q = self.rate_matrix(k, t, y);
        let species = self.m.kinetics[k].species.clone();
        let p: Vec<f64> = species.iter().map(|&s| y[s]).collect();
        let p1 =
            if implicit { linalg::kinetic_backward_euler(&q, h, &p) } else { linalg::expm(&q.scale(h)).mul_vec(&p) };
        for (i, &s) in species.iter().enumerate() {
            out[s] = p1[i];
        }
    }

    /// Kinetic species without initial values start at the steady state of
    /// their scheme at t = 0.
    pub(super) fn kinetic_steady_states(&mut self, y: &mut [f64]) {
        kinetic_steady_states(self.m, &self.params, &self.value_exprs, y);
    }

    fn level(&mut self, trig: &Trigger, t: f64, y: &[f64]) -> f64 {
        let id = match trig {
            Trigger::Crossing { level, .. } => *level,
            Trigger::Condition { level: Some(l), .. } => *l,
            _ => return f64::NAN,
        };
        self.env_values(t, y);
        self.eval_at(id, t, y)
    }

    fn holds(&mut self, trig: &Trigger, t: f64, y: &[f64]) -> bool {
        match trig {
            Trigger::Condition { cond, .. } => {
                self.env_values(t, y);
                self.eval_at(*cond, t, y) != 0.0
            }
            _ => false,
        }
    }

    /// The first time in (0, h] at which `level(advance(y, s))` reaches 0,
    /// given g0 < 0 <= g1 (levels oriented upward).
    fn locate(&mut self, trig: &Trigger, sign: f64, t: f64, y: &[f64], h: f64, g: (f64, f64)) -> Result<f64, String> {
        let (mut a, mut b, mut ga, mut gb) = (0.0, h, g.0, g.1);
        let mut side = 0i8;
        for _ in 0..100 {
            if (b - a) <= 1e-14 * h.max(1e-300) {
                break;
            }
            let s = if gb != ga { (a * gb - b * ga) / (gb - ga) } else { 0.5 * (a + b) };
            let s = if s > a && s < b { s } else { 0.5 * (a + b) };
            let ys = self.advance(t, y, s)?;
            let g = sign * self.level(trig, t + s, &ys);
            if g >= 0.0 {
                b = s;
                gb = g;
                if side == 1 {
                    ga *= 0.5; // Illinois: keep the stale end from stalling
                }
                side = 1;
            } else {
                a = s;
                ga = g;
                if side == -1 {
                    gb *= 0.5;
                }
                side = -1;
            }
            if g == 0.0 {
                break;
            }
        }
        Ok(b)
    }
}

/// Advances [t0, t1], firing events at their located times.
pub(super) fn step_with_events(
    st: &mut Stepper,
    t0: f64,
    t1: f64,
    y: &mut Vec<f64>,
    rec: &mut dyn Recorder,
) -> Result<(), Diagnostic> {
    let m = st.m;
    let eps = 1e-12 * (t1 - t0);
    let mut t = t0;
    let mut fired = 0;
    let mut shrunk = 0;
    let fail = |msg: String, t: f64| {
        Diagnostic::error(
            Code::SolverFailed,
            format!("integration failed at t = {} ms: {msg}", crate::units::format_number(t * 1e3)),
        )
        .at(m.span, "in this model")
        .help("try a smaller --dt, or another method")
    };
    while t < t1 - eps {
        if t >= st.refractory_until - eps {
            st.clamped.iter_mut().for_each(|c| *c = false);
        }
        deliver_input_spikes(st, t, eps, y, rec);
        let mut t_end =
            if st.refractory_until > t + eps && st.refractory_until < t1 - eps { st.refractory_until } else { t1 };
        if let Some(&(ts, _)) = st.input_spikes.get(st.next_input) {
            if ts < t_end - eps {
                t_end = ts;
            }
        }
        if let Some(b) = st.next_breakpoint(t, eps) {
            if b < t_end - eps {
                t_end = b;
            }
        }
        let mut h = t_end - t;
        let mut y_try = st.advance(t, y, h).map_err(|e| fail(e, t))?;
        if !y_try.iter().all(|v| v.is_finite()) && !m.events.is_empty() {
            // The state runs away within the step (an exponential upstroke):
            // advance only as far as it stays finite, so that a threshold
            // crossing on the way can still be located.
            let (mut lo, mut hi) = (0.0, h);
            for _ in 0..60 {
                let mid = 0.5 * (lo + hi);
                match st.advance(t, y, mid) {
                    Ok(z) if z.iter().all(|v| v.is_finite()) => lo = mid,
                    _ => hi = mid,
                }
            }
            shrunk += 1;
            if lo > 0.0 && shrunk < 100 {
                h = lo;
                t_end = t + lo;
                y_try = st.advance(t, y, h).map_err(|e| fail(e, t))?;
            }
        }
        let refractory = t < st.refractory_until - eps;
        // Every event that fires in (t, t_end], with its located time.
        let mut found: Vec<(f64, usize)> = Vec::new();
        for (ei, ev) in m.events.iter().enumerate() {
            let (fires, sign, g0, g1) = match &ev.trigger {
                Trigger::Crossing { direction, .. } => {
                    let g0 = st.level(&ev.trigger, t, y);
                    let g1 = st.level(&ev.trigger, t_end, &y_try);
                    match direction {
                        Direction::Upward => (g0 < 0.0 && g1 >= 0.0, 1.0, g0, g1),
                        Direction::Downward => (g0 > 0.0 && g1 <= 0.0, -1.0, -g0, -g1),
                    }
                }
                Trigger::Condition { level, .. } => {
                    if refractory {
                        continue;
                    }
                    let before = st.holds(&ev.trigger, t, y);
                    let after = st.holds(&ev.trigger, t_end, &y_try);
                    let (g0, g1) = if level.is_some() {
                        (st.level(&ev.trigger, t, y), st.level(&ev.trigger, t_end, &y_try))
                    } else {
                        (f64::NAN, f64::NAN)
                    };
                    (!before && after, 1.0, g0, g1)
                }
                // escape noise runs in kernels (a model with one is refused here)
                Trigger::Spike { .. } | Trigger::Hazard { .. } => continue,
            };
            if !fires {
                continue;
            }
            let mut s = if g0 < 0.0 && g1 >= 0.0 {
                st.locate(&ev.trigger, sign, t, y, h, (g0, g1)).map_err(|e| fail(e, t))?
            } else {
                h
            };
            if matches!(ev.trigger, Trigger::Condition { .. }) && s < h {
                // the root may sit exactly on the level where a strict `<`
                // is still false: step just past it, to where the condition holds
                let mut k = 0;
                while k < 60 {
                    let ys = st.advance(t, y, s).map_err(|e| fail(e, t))?;
                    if st.holds(&ev.trigger, t + s, &ys) {
                        break;
                    }
                    s = (s + h * 1e-15 * 2f64.powi(k)).min(h);
                    k += 1;
                }
            }
            found.push((s, ei));
        }
        let Some(s) = found.iter().map(|f| f.0).min_by(f64::total_cmp) else {
            *y = y_try;
            t = t_end;
            continue;
        };
        fired += 1;
        if fired > 10_000 {
            let ei = found[0].1;
            return Err(Diagnostic::error(Code::NumericalBlowUp, "more than 10000 events in one step")
                .at(m.events[ei].span, "this event keeps firing")
                .help("an event's actions should make its condition false (e.g. reset below threshold)"));
        }
        *y = if s >= h { y_try } else { st.advance(t, y, s).map_err(|e| fail(e, t))? };
        t += s;
        // events at the same time fire together, in the order written
        for &(se, ei) in &found {
            if se <= s + 1e-12 * h {
                fire(st, ei, t, y, rec);
            }
        }
    }
    // spikes arriving at the step's end count for the sample taken there
    deliver_input_spikes(st, t1, eps, y, rec);
    Ok(())
}

/// Delivers the presynaptic spikes due by `t` to the `on spike(w)` events.
fn deliver_input_spikes(st: &mut Stepper, t: f64, eps: f64, y: &mut [f64], rec: &mut dyn Recorder) {
    let m = st.m;
    while let Some(&(ts, w)) = st.input_spikes.get(st.next_input) {
        if ts > t + eps {
            break;
        }
        st.next_input += 1;
        for (ei, ev) in m.events.iter().enumerate() {
            if let Trigger::Spike { arg, port, .. } = &ev.trigger {
                if st.input_port.is_some() && *port != st.input_port {
                    continue;
                }
                if let Some(a) = *arg {
                    st.args[a] = w;
                }
                fire(st, ei, t, y, rec);
            }
        }
    }
}

fn fire(st: &mut Stepper, ei: usize, t: f64, y: &mut [f64], rec: &mut dyn Recorder) {
    let m = st.m;
    let ev = &m.events[ei];
    let mut emitted = false;
    for a in &ev.actions {
        match a {
            Action::Assign { state, value, .. } => {
                st.env_values(t, y);
                y[*state] = st.eval_at(*value, t, y);
            }
            // one spike per firing, however many `emit`s
            Action::Emit { .. } if !emitted => {
                emitted = true;
                rec.spike(0, t);
            }
            Action::Emit { .. } => {}
            Action::Refractory { duration, .. } => {
                st.env_values(t, y);
                let d = st.eval_at(*duration, t, y);
                st.refractory_until = t + d;
                st.clamped.iter_mut().for_each(|c| *c = false);
                for b in &ev.actions {
                    if let Action::Assign { state, held: true, .. } = b {
                        st.clamped[*state] = true;
                    }
                }
            }
            Action::Output { name, value, .. } => {
                st.env_values(t, y);
                let v = st.eval_at(*value, t, y);
                rec.output(name, t, v);
            }
        }
    }
}
