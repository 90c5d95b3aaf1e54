//! The start of a kernel step and the plan's blocks.
//!
//! Input: the builder, the model's input ports, the plan's blocks. Output:
//! the values at the start of the step ([`Start`]: old states, the states
//! after the synaptic input, the time values) and, per block, the new
//! values of its states, every block computed from the old state.

use super::builder::{Builder, Frame, FxMap};
use super::propagate::{self, Which};
use super::{kmath, Inst, Unsupported, Val};
use crate::ir::{Action, Event, Trigger};
use crate::schemes::{linalg, Block, Method};

/// What every block and event reads at the start of a step.
pub(super) struct Start {
    /// The states before the synaptic input.
    pub raw_old: Vec<Val>,
    /// The states after the input arriving at the start of the step.
    pub old: Vec<Val>,
    pub t0: Val,
    pub t_next: Val,
    pub dt: f64,
    pub dtv: Val,
    pub eps: Val,
    pub t_lo: Val,
    env0_id: u32,
    env_start_id: u32,
}

impl Start {
    /// The old states at `t + 1e-9 dt`: what the schemes see.
    pub fn env0(&self) -> Frame<'_> {
        Frame::new(self.env0_id, &self.old, self.t_lo)
    }

    /// The states before the input at `t`: event levels at the start.
    pub fn env_start(&self) -> Frame<'_> {
        Frame::new(self.env_start_id, &self.raw_old, self.t0)
    }
}

/// Reads the states and time, applies the ports' input, and makes the
/// time values the blocks and events share.
pub(super) fn start(b: &mut Builder, ports: &[String], dt: f64) -> Result<Start, Unsupported> {
    let n = b.m.states.len();
    let raw_old: Vec<Val> = (0..n).map(|i| b.push(Inst::State(i as u32))).collect();
    let t0 = b.push(Inst::Time);
    // Synaptic input arriving at the start of the step.
    let mut old = raw_old.clone();
    // each port's events, in order
    let mut by_port: FxMap<&str, Vec<&Event>> = FxMap::default();
    for e in &b.m.events {
        if let Trigger::Spike { port: Some(p), .. } = &e.trigger {
            by_port.entry(p.as_str()).or_default().push(e);
        }
    }
    for (k, port) in ports.iter().enumerate() {
        let events = by_port.get(port.as_str()).map_or(&[][..], |v| v.as_slice());
        apply_port(b, k, port, events, &mut old, t0)?;
    }
    let dtv = b.konst(dt);
    // Schemes see time inside the open step, 1e-9 dt from its ends, so an
    // input that switches at a step boundary is seen from the correct side.
    let eps = b.konst(1e-9 * dt);
    let t_lo = b.bin(Inst::Add, t0, eps);
    // events compare the exact ends of the step, so that a condition true at
    // a step's end is also true at the next step's start
    let t_next = b.push(Inst::TimeNext);
    // event levels at the start use the state before the input, so that a
    // jump across a threshold counts as a crossing
    let (env0_id, env_start_id) = (b.frame_id(), b.frame_id());
    Ok(Start { raw_old, old, t0, t_next, dt, dtv, eps, t_lo, env0_id, env_start_id })
}

/// Port `k` (read from the per-neuron array after the parameters): the
/// jumps of its `on spike PORT(w)` events, applied to `old`.
fn apply_port(
    b: &mut Builder,
    k: usize,
    port: &str,
    events: &[&Event],
    old: &mut [Val],
    t0: Val,
) -> Result<(), Unsupported> {
    let input = b.push(Inst::Param(b.port_slot(k)));
    for e in events {
        let Trigger::Spike { arg, .. } = &e.trigger else { continue };
        if let Some(a) = arg {
            b.event_args.insert(*a, input);
        }
        for a in &e.actions {
            match a {
                Action::Assign { state, value, held: false, .. } => {
                    let frame = Frame::new(b.frame_id(), old, t0);
                    let v = b.expr(*value, &frame)?;
                    old[*state] = v;
                }
                Action::Assign { .. } => {
                    return Err(Unsupported(format!(
                        "port `{port}` sets a state with `=`; input ports take jumps (`+=`, `-=`)"
                    )))
                }
                Action::Emit { .. } | Action::Refractory { .. } => {
                    return Err(Unsupported(format!("port `{port}` emits or starts a refractory period")))
                }
                Action::Output { .. } => {}
            }
        }
    }
    Ok(())
}

/// One block of the plan: writes its states' new values into `new`.
pub(super) fn emit_block(b: &mut Builder, block: &Block, s: &Start, new: &mut [Val]) -> Result<(), Unsupported> {
    match block {
        Block::ExpEuler { state, rate } => exp_euler(b, *state, *rate, s, new),
        Block::Exact { states, a } => exact(b, states, a, s, new),
        Block::Explicit { method, states } => explicit(b, *method, states, s, new),
        Block::Implicit { theta, states, jac } => super::implicit::emit(b, *theta, states, jac, s, new),
        Block::Kinetic { kinetic, implicit: false } => super::kinetic::emit(b, *kinetic, s, new),
        Block::Kinetic { kinetic, implicit: true } => super::kinetic::emit_implicit(b, *kinetic, s, new),
    }
}

/// Exponential Euler: x + f g with g = (1 - e^{-r dt}) / r.
fn exp_euler(
    b: &mut Builder,
    i: usize,
    rate: crate::ir::ExprId,
    s: &Start,
    new: &mut [Val],
) -> Result<(), Unsupported> {
    let m = b.m;
    let Some(rhs) = m.states[i].rhs else { return Ok(()) };
    let env0 = s.env0();
    let f = b.expr(rhs, &env0)?;
    let r = b.expr(rate, &env0)?;
    let name = &m.states[i].name;
    if let Some(gate) = m.states[i].gate.and_then(|g| m.gates.get(g)) {
        let (first, second) = match gate.form {
            crate::ir::GateForm::AlphaBeta { alpha, beta } => (("alpha", alpha), ("beta", beta)),
            crate::ir::GateForm::InfTau { inf, tau } => (("inf", inf), ("tau", tau)),
        };
        for (what, e) in [first, second] {
            let v = b.expr(e, &env0)?;
            b.name(v, format!("{what} of {name}"));
        }
    }
    b.name(r, format!("rate of {name}"));
    // x + f g with g = (1 - e^{-r dt}) / r (dt, Euler, at r = 0).
    // g depends on the rate alone: for a gate a function of V,
    // which a rate table then holds whole.
    // g = (1 - e^{-u}) / r with u = r dt, and its series
    // dt (1 - u/2 + u^2/6) where |u| < 1e-4 (where 1 - e^{-u}
    // would cancel): relative error below 1e-12 for every r
    let dtv = s.dtv;
    let u = b.bin(Inst::Mul, r, dtv);
    let nu = b.un(Inst::Neg, u);
    let e = b.un(Inst::Exp, nu);
    let one = b.konst(1.0);
    let one_minus_e = b.bin(Inst::Sub, one, e);
    let g_exp = b.bin(Inst::Div, one_minus_e, r);
    let sixth = b.konst(1.0 / 6.0);
    let half = b.konst(0.5);
    let s1 = b.bin(Inst::Mul, u, sixth);
    let s2 = b.bin(Inst::Sub, half, s1);
    let s3 = b.bin(Inst::Mul, u, s2);
    let s4 = b.bin(Inst::Sub, one, s3);
    let g_series = b.bin(Inst::Mul, dtv, s4);
    let absu = b.un(Inst::Abs, u);
    let small_u = b.konst(kmath::EFUN_SMALL);
    let small = b.push_raw(Inst::Cmp(super::Cmp::Lt, absu, small_u));
    let g = b.push_raw(Inst::Select(small, g_series, g_exp));
    b.name(g, format!("g of {name}"));
    let fg = b.bin(Inst::Mul, f, g);
    new[i] = b.bin(Inst::Add, s.old[i], fg);
    Ok(())
}

/// An exact block: y' = A y + b(t) with a constant A, by its propagators
/// Phi = e^{A dt} and Psi = int_0^dt e^{A s} ds: folded into constants, or
/// read from the derived per-neuron arrays where A varies per neuron
/// (see [`propagate`](super::propagate)).
fn exact(
    b: &mut Builder,
    states: &[usize],
    a: &[crate::ir::ExprId],
    s: &Start,
    new: &mut [Val],
) -> Result<(), Unsupported> {
    let (m, dt) = (b.m, s.dt);
    let k = states.len();
    // coef[which][r * k + c]: the entry's value, None where it is zero
    let mut coef: [Vec<Option<Val>>; 2] = [vec![None; k * k], vec![None; k * k]];
    // the population's propagators, then the entries that vary per neuron
    // from their arrays
    let values = b.constant_values().to_vec();
    let mat = propagate::matrix(m, a, k, b.params, &values);
    let (phi, psi) = linalg::propagators(&mat, dt);
    for (w, p) in [phi, psi].iter().enumerate() {
        for (idx, &x) in p.a.iter().enumerate() {
            if x != 0.0 {
                coef[w][idx] = Some(b.konst(x));
            }
        }
    }
    if let Some(block) = b.propagators.block_of(a) {
        for (w, which) in [Which::Phi, Which::Psi].into_iter().enumerate() {
            for (idx, slot) in coef[w].iter_mut().enumerate() {
                if let Some(i) = b.propagators.slot(block, which, idx / k, idx % k) {
                    *slot = Some(b.push(Inst::Param(b.derived_slot(i))));
                }
            }
        }
    }
    // b = f - A y, read at the middle of the step (exact for
    // constant forcing, second order for smooth). f is affine in
    // the block's states, so b is f with those states at zero:
    // folded to a constant when nothing else drives the block.
    let half = b.konst(0.5 * dt);
    let t_mid = b.bin(Inst::Add, s.t0, half);
    let zero = b.konst(0.0);
    let at_zero: FxMap<usize, Val> = states.iter().map(|&j| (j, zero)).collect();
    let env_mid = Frame::with(b.frame_id(), &s.old, at_zero, t_mid);
    let mut bvec = Vec::with_capacity(k);
    for &i in states {
        let Some(rhs) = m.states[i].rhs else { return Err(Unsupported("exact block without ODE".into())) };
        bvec.push(b.expr(rhs, &env_mid)?);
    }
    for (r, &i) in states.iter().enumerate() {
        let mut acc = b.konst(0.0);
        for (c, &j) in states.iter().enumerate() {
            for (w, v) in [(0, s.old[j]), (1, bvec[c])] {
                if let Some(kc) = coef[w][r * k + c] {
                    let term = b.bin(Inst::Mul, kc, v);
                    acc = b.bin(Inst::Add, acc, term);
                }
            }
        }
        new[i] = acc;
    }
    Ok(())
}

/// The right-hand side of state `i` in frame `f` (0 without an ODE).
fn rhs_at(b: &mut Builder, f: &Frame, i: usize) -> Result<Val, Unsupported> {
    match b.m.states[i].rhs {
        Some(r) => b.expr(r, f),
        None => Ok(b.konst(0.0)),
    }
}

/// The right-hand sides of `states` in frame `f`.
pub(super) fn rhs_all(b: &mut Builder, f: &Frame, states: &[usize]) -> Result<Vec<Val>, Unsupported> {
    states.iter().map(|&i| rhs_at(b, f, i)).collect()
}

/// A Runge-Kutta stage: `base + c dt k` for the block's states, at time `t`.
fn stage<'a>(b: &mut Builder, states: &[usize], base: &'a [Val], k: &[Val], c: f64, t: Val, dt: f64) -> Frame<'a> {
    let mut changed = FxMap::default();
    let cdt = b.konst(c * dt);
    for (slot, &i) in states.iter().enumerate() {
        let inc = b.bin(Inst::Mul, cdt, k[slot]);
        changed.insert(i, b.bin(Inst::Add, base[i], inc));
    }
    Frame::with(b.frame_id(), base, changed, t)
}

/// An explicit block: Euler, RK2 (midpoint), Heun (explicit trapezoid) or
/// RK4.
fn explicit(b: &mut Builder, method: Method, states: &[usize], s: &Start, new: &mut [Val]) -> Result<(), Unsupported> {
    let (old, dt) = (&s.old, s.dt);
    let k1 = rhs_all(b, &s.env0(), states)?;
    let half = b.konst(0.5 * dt);
    let th = b.bin(Inst::Add, s.t0, half);
    let t1 = b.bin(Inst::Sub, s.t_next, s.eps);
    let k = match method {
        Method::Euler => k1,
        Method::Rk2 => {
            let f2 = stage(b, states, old, &k1, 0.5, th, dt);
            rhs_all(b, &f2, states)?
        }
        Method::Heun => {
            let f2 = stage(b, states, old, &k1, 1.0, t1, dt);
            let k2 = rhs_all(b, &f2, states)?;
            // y + dt / 2 (k1 + k2), as the reference computes it
            let half = b.konst(0.5 * dt);
            for (slot, &i) in states.iter().enumerate() {
                let sum = b.bin(Inst::Add, k1[slot], k2[slot]);
                let inc = b.bin(Inst::Mul, half, sum);
                new[i] = b.bin(Inst::Add, old[i], inc);
            }
            return Ok(());
        }
        Method::Rk4 => {
            let f2 = stage(b, states, old, &k1, 0.5, th, dt);
            let k2 = rhs_all(b, &f2, states)?;
            let f3 = stage(b, states, old, &k2, 0.5, th, dt);
            let k3 = rhs_all(b, &f3, states)?;
            let f4 = stage(b, states, old, &k3, 1.0, t1, dt);
            let k4 = rhs_all(b, &f4, states)?;
            // (k1 + 2 k2 + 2 k3 + k4) / 6, summed in the reference's order
            let mut out = Vec::new();
            for s in 0..states.len() {
                let two = b.konst(2.0);
                let a2 = b.bin(Inst::Mul, two, k2[s]);
                let a3 = b.bin(Inst::Mul, two, k3[s]);
                let s1 = b.bin(Inst::Add, k1[s], a2);
                let s2 = b.bin(Inst::Add, s1, a3);
                let s3 = b.bin(Inst::Add, s2, k4[s]);
                out.push(s3);
            }
            let sixth = b.konst(dt / 6.0);
            for (slot, &i) in states.iter().enumerate() {
                let inc = b.bin(Inst::Mul, sixth, out[slot]);
                new[i] = b.bin(Inst::Add, old[i], inc);
            }
            return Ok(());
        }
        Method::Rk45 => return super::adaptive::emit(b, states, s, new),
        other => return Err(Unsupported(format!("the `{}` method in a kernel", other.name()))),
    };
    for (slot, &i) in states.iter().enumerate() {
        let inc = b.bin(Inst::Mul, s.dtv, k[slot]);
        new[i] = b.bin(Inst::Add, old[i], inc);
    }
    Ok(())
}
