//! Kernels: one time step of one population, as ONE fused straight-line
//! program per neuron over structure-of-arrays state.
//!
//! Input: a model, its [`Plan`](crate::schemes::Plan), the step `dt`, the
//! parameter values, and which parameters vary per neuron. Output: a
//! [`Kernel`]: SSA instructions ([`Inst`]) that read a neuron's states and
//! per-neuron parameters, compute the derived schemes' updates, test the
//! events, and say what to store. Population-wide constants are folded in;
//! identical subexpressions are built once (value numbering), so shared
//! terms across channels and gates, and `exp` of the same argument, are
//! computed once; a division by a constant becomes a multiplication.
//!
//! Both back ends consume the same kernel: [`interp`] (the oracle, in Rust,
//! with the math of [`kmath`]) and `codegen::jit` (Cranelift), so the two
//! cannot drift apart: they agree bit for bit.
//!
//! Semantics of a kernel step (differs from the reference runtime, which
//! locates events by root finding and restarts the step there): every block
//! of the plan updates from the old state; states assigned by a refractory
//! event are held while `t < refractory_until`; events are tested on the new
//! state, their time is the linear interpolation of the level within the
//! step, and their assignments replace the new values.

pub mod interp;
pub mod kmath;
pub mod table;

use crate::ir::eval::{eval, Env};
use crate::ir::{Action, Builtin, ExprId, Model, NodeKind, Trigger, Var};
use crate::schemes::{linalg, Block, Method, Plan};
use crate::syntax::ast::{BinOp, Direction};
use std::collections::HashMap;

/// An SSA value: the index of the instruction that computes it.
pub type Val = u32;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Inst {
    Const(f64),
    /// The neuron's state i at the start of the step.
    State(u32),
    /// The neuron's per-neuron parameter i.
    Param(u32),
    /// The time at the start of the step.
    Time,
    /// The time at the end of the step (given by the host, so that it is
    /// exactly the next step's start).
    TimeNext,
    Neg(Val),
    Add(Val, Val),
    Sub(Val, Val),
    Mul(Val, Val),
    Div(Val, Val),
    Min(Val, Val),
    Max(Val, Val),
    Sqrt(Val),
    Abs(Val),
    Exp(Val),
    Log(Val),
    Efun(Val),
    /// 1 if x >= 0 else 0.
    Step(Val),
    /// A truth mask.
    Cmp(Cmp, Val, Val),
    And(Val, Val),
    Or(Val, Val),
    Not(Val),
    /// mask ? a : b
    Select(Val, Val, Val),
    /// Column `col` of rate table `table`, interpolated at `at`
    /// (see [`table`]).
    Lookup {
        table: u32,
        col: u32,
        at: Val,
    },
}

impl Inst {
    /// Whether the value is a truth mask rather than a number.
    pub fn is_mask(&self) -> bool {
        matches!(self, Inst::Cmp(..) | Inst::And(..) | Inst::Or(..) | Inst::Not(..))
    }

    fn key(&self) -> (u8, u64, u32, u32) {
        use Inst::*;
        match *self {
            Const(c) => (0, c.to_bits(), 0, 0),
            State(i) => (1, i as u64, 0, 0),
            Param(i) => (2, i as u64, 0, 0),
            Time => (3, 0, 0, 0),
            TimeNext => (22, 0, 0, 0),
            Neg(a) => (4, 0, a, 0),
            Add(a, b) => (5, 0, a, b),
            Sub(a, b) => (6, 0, a, b),
            Mul(a, b) => (7, 0, a, b),
            Div(a, b) => (8, 0, a, b),
            Min(a, b) => (9, 0, a, b),
            Max(a, b) => (10, 0, a, b),
            Sqrt(a) => (11, 0, a, 0),
            Abs(a) => (12, 0, a, 0),
            Exp(a) => (13, 0, a, 0),
            Efun(a) => (14, 0, a, 0),
            Step(a) => (15, 0, a, 0),
            Log(a) => (21, 0, a, 0),
            Cmp(c, a, b) => (16, c as u64, a, b),
            And(a, b) => (17, 0, a, b),
            Or(a, b) => (18, 0, a, b),
            Not(a) => (19, 0, a, 0),
            Select(c, a, b) => (20, c as u64, a, b),
            Lookup { table, col, at } => (23, ((table as u64) << 32) | col as u64, at, 0),
        }
    }
}

/// One event of the kernel.
#[derive(Clone, Debug)]
pub struct KEvent {
    /// A mask: the event fires this step.
    pub fire: Val,
    /// Its time within the step, [t, t + dt].
    pub time: Val,
    pub emits: bool,
}

#[derive(Clone, Debug)]
pub struct Kernel {
    pub insts: Vec<Inst>,
    /// Names of the state arrays (the model's states, then
    /// `refractory_until` when the model has a refractory period).
    pub states: Vec<String>,
    /// Names of the per-neuron parameter arrays.
    pub params: Vec<String>,
    /// The values stored into each state array at the end of the step.
    pub stores: Vec<Val>,
    pub events: Vec<KEvent>,
    pub dt: f64,
    /// Rate tables read by [`Inst::Lookup`].
    pub tables: Vec<table::Table>,
}

/// Why a model cannot become a kernel.
#[derive(Clone, Debug)]
pub struct Unsupported(pub String);

/// Builds a kernel. `values` are the parameter values (SI), `per_neuron`
/// the parameters read from arrays instead of folded in.
/// `value_overrides[k]` replaces value k's expression (an input set from
/// the command line).
pub fn build(
    m: &Model,
    plan: &Plan,
    params: &[f64],
    per_neuron: &[usize],
    value_overrides: &[Option<ExprId>],
    dt: f64,
) -> Result<Kernel, Unsupported> {
    build_with_ports(m, plan, params, per_neuron, value_overrides, &[], dt)
}

/// [`build`], for neurons in a network: `ports` name the `on spike PORT(w)`
/// events that receive input. Each port reads one more per-neuron array
/// (after the per-neuron parameters): the sum of the weights arriving at
/// the start of the step, applied once through the event's actions, which
/// must be jumps (`+=`, `-=`; exact when linear in `w`).
pub fn build_with_ports(
    m: &Model,
    plan: &Plan,
    params: &[f64],
    per_neuron: &[usize],
    value_overrides: &[Option<ExprId>],
    ports: &[String],
    dt: f64,
) -> Result<Kernel, Unsupported> {
    let mut b = Builder {
        m,
        params,
        per_neuron,
        value_overrides,
        insts: Vec::new(),
        numbering: HashMap::new(),
        value_memo: HashMap::new(),
        event_args: HashMap::new(),
        names: HashMap::new(),
        exact: std::collections::HashSet::new(),
    };
    let n = m.states.len();
    let refractory = m.events.iter().any(|e| e.actions.iter().any(|a| matches!(a, Action::Refractory { .. })));
    let mut state_names: Vec<String> = m.states.iter().map(|s| s.name.clone()).collect();
    if refractory {
        state_names.push("refractory_until".into());
    }
    let raw_old: Vec<Val> = (0..n).map(|i| b.push(Inst::State(i as u32))).collect();
    let t0 = b.push(Inst::Time);
    // Synaptic input arriving at the start of the step.
    let mut old = raw_old.clone();
    for (k, port) in ports.iter().enumerate() {
        let input = b.push(Inst::Param((per_neuron.len() + k) as u32));
        for e in &m.events {
            let Trigger::Spike { port: Some(p), arg, .. } = &e.trigger else { continue };
            if p != port {
                continue;
            }
            if let Some(a) = arg {
                b.event_args.insert(*a, input);
            }
            for a in &e.actions {
                match a {
                    Action::Assign { state, value, held: false, .. } => {
                        let frame = Frame { states: old.clone(), t: t0 };
                        old[*state] = b.expr(*value, &frame)?;
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
    }
    let dtv = b.konst(dt);
    // Schemes see time inside the open step, 1e-9 dt from its ends, so an
    // input that switches at a step boundary is seen from the correct side.
    let eps = b.konst(1e-9 * dt);
    let t_lo = b.bin(Inst::Add, t0, eps);
    let env0 = Frame { states: old.clone(), t: t_lo };
    // events compare the exact ends of the step, so that a condition true at
    // a step's end is also true at the next step's start
    let t_next = b.push(Inst::TimeNext);
    // event levels at the start use the state before the input, so that a
    // jump across a threshold counts as a crossing
    let env_start = Frame { states: raw_old.clone(), t: t0 };

    // Blocks, all from the old state.
    let mut new = old.clone();
    for block in &plan.blocks {
        match block {
            Block::ExpEuler { state, rate } => {
                let i = *state;
                let Some(rhs) = m.states[i].rhs else { continue };
                let f = b.expr(rhs, &env0)?;
                let r = b.expr(*rate, &env0)?;
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
                let small = b.push_raw(Inst::Cmp(Cmp::Lt, absu, small_u));
                let g = b.push_raw(Inst::Select(small, g_series, g_exp));
                b.name(g, format!("g of {name}"));
                let fg = b.bin(Inst::Mul, f, g);
                new[i] = b.bin(Inst::Add, old[i], fg);
            }
            Block::Exact { states, a } => {
                let k = states.len();
                let values = crate::ir::eval::constant_values(m, params);
                let env = Env { t: 0.0, states: &[], params, values: &values, args: &[] };
                let mut mat = linalg::Mat::zeros(k);
                for (idx, e) in a.iter().enumerate() {
                    if !crate::schemes::deps(m, *e)
                        .iter()
                        .all(|v| matches!(v, Var::Param(p) if !per_neuron.contains(p)))
                    {
                        return Err(Unsupported("an exact block whose matrix varies per neuron".into()));
                    }
                    mat.a[idx] = eval(m, *e, &env);
                }
                let (phi, psi) = linalg::propagators(&mat, dt);
                // b = f - A y, read at the middle of the step (exact for
                // constant forcing, second order for smooth). f is affine in
                // the block's states, so b is f with those states at zero:
                // folded to a constant when nothing else drives the block.
                let half = b.konst(0.5 * dt);
                let t_mid = b.bin(Inst::Add, t0, half);
                let mut at_zero = old.clone();
                let zero = b.konst(0.0);
                for &j in states {
                    at_zero[j] = zero;
                }
                let env_mid = Frame { states: at_zero, t: t_mid };
                let mut bvec = Vec::with_capacity(k);
                for &i in states {
                    let Some(rhs) = m.states[i].rhs else { return Err(Unsupported("exact block without ODE".into())) };
                    bvec.push(b.expr(rhs, &env_mid)?);
                }
                for (r, &i) in states.iter().enumerate() {
                    let mut acc = b.konst(0.0);
                    for (c, &j) in states.iter().enumerate() {
                        for (mat, v) in [(&phi, old[j]), (&psi, bvec[c])] {
                            let coef = mat.get(r, c);
                            if coef != 0.0 {
                                let kc = b.konst(coef);
                                let term = b.bin(Inst::Mul, kc, v);
                                acc = b.bin(Inst::Add, acc, term);
                            }
                        }
                    }
                    new[i] = acc;
                }
            }
            Block::Explicit { method, states } => {
                let rhs_at = |b: &mut Builder, frame: &Frame, i: usize| -> Result<Val, Unsupported> {
                    match m.states[i].rhs {
                        Some(r) => b.expr(r, frame),
                        None => Ok(b.konst(0.0)),
                    }
                };
                let stage = |b: &mut Builder, base: &[Val], k: &[Val], c: f64, t: Val| -> Frame {
                    let mut s = base.to_vec();
                    let cdt = b.konst(c * dt);
                    for (slot, &i) in states.iter().enumerate() {
                        let inc = b.bin(Inst::Mul, cdt, k[slot]);
                        s[i] = b.bin(Inst::Add, base[i], inc);
                    }
                    Frame { states: s, t }
                };
                let k1: Vec<Val> = states.iter().map(|&i| rhs_at(&mut b, &env0, i)).collect::<Result<_, _>>()?;
                let half = b.konst(0.5 * dt);
                let th = b.bin(Inst::Add, t0, half);
                let t1 = b.bin(Inst::Sub, t_next, eps);
                let ks: Vec<Vec<Val>> = match method {
                    Method::Euler => vec![k1],
                    Method::Rk2 => {
                        let f2 = stage(&mut b, &old, &k1, 0.5, th);
                        let k2 = states.iter().map(|&i| rhs_at(&mut b, &f2, i)).collect::<Result<_, _>>()?;
                        vec![k2]
                    }
                    Method::Rk4 => {
                        let f2 = stage(&mut b, &old, &k1, 0.5, th);
                        let k2: Vec<Val> = states.iter().map(|&i| rhs_at(&mut b, &f2, i)).collect::<Result<_, _>>()?;
                        let f3 = stage(&mut b, &old, &k2, 0.5, th);
                        let k3: Vec<Val> = states.iter().map(|&i| rhs_at(&mut b, &f3, i)).collect::<Result<_, _>>()?;
                        let f4 = stage(&mut b, &old, &k3, 1.0, t1);
                        let k4: Vec<Val> = states.iter().map(|&i| rhs_at(&mut b, &f4, i)).collect::<Result<_, _>>()?;
                        // (k1 + 2 k2 + 2 k3 + k4) / 6, summed in the reference's order
                        let mut out = Vec::new();
                        for s in 0..states.len() {
                            let two = b.konst(2.0);
                            let a2 = b.bin(Inst::Mul, two, ks_at(&k2, s));
                            let a3 = b.bin(Inst::Mul, two, ks_at(&k3, s));
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
                        continue;
                    }
                    other => return Err(Unsupported(format!("the `{}` method in a kernel", other.name()))),
                };
                for (slot, &i) in states.iter().enumerate() {
                    let inc = b.bin(Inst::Mul, dtv, ks[0][slot]);
                    new[i] = b.bin(Inst::Add, old[i], inc);
                }
            }
            Block::Implicit { .. } => return Err(Unsupported("implicit methods in a kernel".into())),
            Block::Kinetic { .. } => return Err(Unsupported("kinetic schemes in a kernel".into())),
        }
    }

    // Refractory: held states keep their old values while t < refractory_until.
    let ref_slot = n;
    let mut ref_new = None;
    if refractory {
        let until = b.push(Inst::State(ref_slot as u32));
        let holding = b.push_raw(Inst::Cmp(Cmp::Lt, t0, until));
        for e in &m.events {
            if !e.actions.iter().any(|a| matches!(a, Action::Refractory { .. })) {
                continue;
            }
            for a in &e.actions {
                if let Action::Assign { state, held: true, .. } = a {
                    // held at the value before this step's input (input to a
                    // held state during the refractory period is discarded)
                    new[*state] = b.push_raw(Inst::Select(holding, raw_old[*state], new[*state]));
                }
            }
        }
        ref_new = Some((until, holding));
    }

    // Events on the new state.
    let t1 = t_next;
    let mut events = Vec::new();
    let mut ref_value = ref_new.map(|(u, _)| u);
    for e in &m.events {
        let env_new = Frame { states: new.clone(), t: t1 };
        let (fire, level) = match &e.trigger {
            Trigger::Crossing { level, direction } => {
                let l0 = b.expr(*level, &env_start)?;
                b.exact.insert(l0);
                let l1 = b.expr(*level, &env_new)?;
                let zero = b.konst(0.0);
                let fire = match direction {
                    // A level that ran away to NaN within the step (an
                    // exponential upstroke) counts as crossed: not(l1 < 0).
                    Direction::Upward => {
                        let a = b.push_raw(Inst::Cmp(Cmp::Lt, l0, zero));
                        let below = b.push_raw(Inst::Cmp(Cmp::Lt, l1, zero));
                        let c = b.push_raw(Inst::Not(below));
                        b.push_raw(Inst::And(a, c))
                    }
                    Direction::Downward => {
                        let a = b.push_raw(Inst::Cmp(Cmp::Gt, l0, zero));
                        let above = b.push_raw(Inst::Cmp(Cmp::Gt, l1, zero));
                        let c = b.push_raw(Inst::Not(above));
                        b.push_raw(Inst::And(a, c))
                    }
                };
                (fire, Some((l0, l1)))
            }
            Trigger::Condition { cond, level } => {
                let c0 = b.expr(*cond, &env_start)?;
                b.exact.insert(c0);
                let mut c1 = b.expr(*cond, &env_new)?;
                let lv = match level {
                    Some(l) => {
                        let l0 = b.expr(*l, &env_start)?;
                        b.exact.insert(l0);
                        Some((l0, b.expr(*l, &env_new)?))
                    }
                    None => None,
                };
                if let Some((_, l1)) = lv {
                    // a level that ran away to NaN within the step counts as crossed
                    let nan = b.push_raw(Inst::Cmp(Cmp::Ne, l1, l1));
                    c1 = b.push_raw(Inst::Or(c1, nan));
                }
                let not0 = b.push_raw(Inst::Not(c0));
                let mut fire = b.push_raw(Inst::And(not0, c1));
                if let Some((_, holding)) = ref_new {
                    let free = b.push_raw(Inst::Not(holding));
                    fire = b.push_raw(Inst::And(fire, free));
                }
                (fire, lv)
            }
            Trigger::Spike { .. } => continue,
        };
        // t_event = t0 + dt * l0 / (l0 - l1), clamped to the step
        let time = match level {
            Some((l0, l1)) => {
                let d = b.bin(Inst::Sub, l0, l1);
                let frac = b.bin(Inst::Div, l0, d);
                let zero = b.konst(0.0);
                let one = b.konst(1.0);
                let lo = b.bin(Inst::Max, frac, zero);
                let fr = b.bin(Inst::Min, lo, one);
                // no interpolation through a NaN level: the end of the step
                let bad = b.push_raw(Inst::Cmp(Cmp::Ne, fr, fr));
                let fr = b.push_raw(Inst::Select(bad, one, fr));
                let off = b.bin(Inst::Mul, fr, dtv);
                b.bin(Inst::Add, t0, off)
            }
            None => t1,
        };
        let mut emits = false;
        for a in &e.actions {
            match a {
                Action::Assign { state, value, .. } => {
                    let frame = Frame { states: new.clone(), t: t1 };
                    let v = b.expr(*value, &frame)?;
                    new[*state] = b.push_raw(Inst::Select(fire, v, new[*state]));
                }
                Action::Refractory { duration, .. } => {
                    let frame = Frame { states: new.clone(), t: t1 };
                    let d = b.expr(*duration, &frame)?;
                    let until = b.bin(Inst::Add, time, d);
                    let prev = ref_value.unwrap_or(t0);
                    ref_value = Some(b.push_raw(Inst::Select(fire, until, prev)));
                }
                Action::Emit { .. } => emits = true,
                Action::Output { .. } => {}
            }
        }
        events.push(KEvent { fire, time, emits });
    }
    let mut stores = new;
    if refractory {
        stores.push(ref_value.unwrap_or(t0));
    }
    let params_names = per_neuron
        .iter()
        .map(|&p| m.params[p].name.clone())
        .chain(ports.iter().map(|p| format!("input {p}")))
        .collect();
    let mut kernel =
        Kernel { insts: b.insts, states: state_names, params: params_names, stores, events, dt, tables: Vec::new() };
    let grids = table_grids(m, params).map_err(|(_, why)| Unsupported(format!("rate table: {why}")))?;
    for (spec, grid) in m.tables.iter().zip(grids) {
        let known = table::Known { names: &b.names, exact: &b.exact };
        table::tabulate(&mut kernel, old[spec.state], grid, spec.state, &m.states[spec.state].name, known);
    }
    Ok(eliminate_dead(kernel))
}

/// The grids of a model's rate tables (`table V in [lo, hi], step = h`)
/// for parameter values `params`, or the span and reason of a bad one.
pub fn table_grids(m: &Model, params: &[f64]) -> Result<Vec<table::Grid>, (crate::source::Span, String)> {
    if m.tables.is_empty() {
        return Ok(Vec::new());
    }
    let values = crate::ir::eval::constant_values(m, params);
    let env = Env { t: 0.0, states: &[], params, values: &values, args: &[] };
    m.tables
        .iter()
        .map(|t| {
            let (lo, hi, step) = (eval(m, t.lo, &env), eval(m, t.hi, &env), eval(m, t.step, &env));
            table::Grid::new(lo, hi, step).map_err(|why| (t.span, why))
        })
        .collect()
}

/// E0218 for a rate table with a value that is not finite at one of its
/// points (a pole such as `(V + 40 mV) / (1 - exp(-(V + 40 mV) / 10 mV))`
/// at -40 mV): the interpolation would spread it over two intervals.
pub fn check_built_tables(m: &Model, k: &Kernel) -> Result<(), Box<crate::diag::Diagnostic>> {
    for t in &k.tables {
        let Some((col, at)) = t.first_non_finite() else { continue };
        let span = m.tables.iter().find(|s| s.state == t.state).map_or(m.span, |s| s.span);
        let unit = m.states[t.state].unit.as_ref();
        let shown = match unit {
            Some(u) if u.text != "degC" => crate::units::format_value(at, &u.text, u.scale),
            _ => crate::units::format_number(at),
        };
        return Err(Box::new(
            crate::diag::Diagnostic::error(
                crate::diag::Code::BadTable,
                format!("{} is not finite at {} = {shown}, a point of its rate table", t.names[col], t.arg_name),
            )
            .at(span, "this table")
            .help("a rate has a pole on the table's grid: write it with `vtrap` or `efun` (finite at the pole), or move the grid off the pole"),
        ));
    }
    Ok(())
}

/// E0218 for a rate table whose numbers make no grid, or whose range
/// uses a parameter spread over the population (`per_neuron`): one table
/// serves every neuron.
pub fn check_tables(m: &Model, params: &[f64], per_neuron: &[usize]) -> Result<(), Box<crate::diag::Diagnostic>> {
    for t in &m.tables {
        let spread = [t.lo, t.hi, t.step].iter().flat_map(|&e| crate::schemes::deps(m, e)).find_map(|v| match v {
            Var::Param(p) if per_neuron.contains(&p) => Some(p),
            _ => None,
        });
        if let Some(p) = spread {
            return Err(Box::new(
                crate::diag::Diagnostic::error(
                    crate::diag::Code::BadTable,
                    format!("this rate table's range uses `{}`, which differs from neuron to neuron", m.params[p].name),
                )
                .at(t.span, "one table for the whole population")
                .help(
                    "give the table a range that covers every neuron, with numbers or parameters the population shares",
                ),
            ));
        }
    }
    table_grids(m, params).map(|_| ()).map_err(|(span, why)| {
        Box::new(
            crate::diag::Diagnostic::error(crate::diag::Code::BadTable, format!("this rate table is malformed: {why}"))
                .at(span, "this table")
                .help("give a lower bound below the upper one and a positive step that divides the interval: `table V in [-100 mV, 100 mV], step = 0.1 mV`"),
        )
    })
}

/// The operands of an instruction.
fn operands(inst: &Inst) -> Vec<Val> {
    use Inst::*;
    match *inst {
        Const(_) | State(_) | Param(_) | Time | TimeNext => vec![],
        Lookup { at, .. } => vec![at],
        Neg(a) | Sqrt(a) | Abs(a) | Exp(a) | Log(a) | Efun(a) | Step(a) | Not(a) => vec![a],
        Add(a, b) | Sub(a, b) | Mul(a, b) | Div(a, b) | Min(a, b) | Max(a, b) | Cmp(_, a, b) | And(a, b) | Or(a, b) => {
            vec![a, b]
        }
        Select(c, a, b) => vec![c, a, b],
    }
}

/// Which instructions something stored or tested depends on.
fn liveness(k: &Kernel) -> Vec<bool> {
    let mut live = vec![false; k.insts.len()];
    let mut stack: Vec<Val> = k.stores.clone();
    for e in &k.events {
        stack.push(e.fire);
        stack.push(e.time);
    }
    while let Some(v) = stack.pop() {
        if !std::mem::replace(&mut live[v as usize], true) {
            stack.extend(operands(&k.insts[v as usize]));
        }
    }
    live
}

/// Drops instructions nothing stored or tested depends on (rewrites leave
/// some behind) and renumbers the rest, keeping their order.
fn eliminate_dead(mut k: Kernel) -> Kernel {
    let live = liveness(&k);
    let mut new_index = vec![0 as Val; k.insts.len()];
    let mut insts = Vec::new();
    for (i, inst) in k.insts.iter().enumerate() {
        if !live[i] {
            continue;
        }
        let r = |v: Val| new_index[v as usize];
        use Inst::*;
        let renamed = match *inst {
            Const(_) | State(_) | Param(_) | Time | TimeNext => *inst,
            Neg(a) => Neg(r(a)),
            Sqrt(a) => Sqrt(r(a)),
            Abs(a) => Abs(r(a)),
            Exp(a) => Exp(r(a)),
            Log(a) => Log(r(a)),
            Efun(a) => Efun(r(a)),
            Step(a) => Step(r(a)),
            Not(a) => Not(r(a)),
            Add(a, b) => Add(r(a), r(b)),
            Sub(a, b) => Sub(r(a), r(b)),
            Mul(a, b) => Mul(r(a), r(b)),
            Div(a, b) => Div(r(a), r(b)),
            Min(a, b) => Min(r(a), r(b)),
            Max(a, b) => Max(r(a), r(b)),
            Cmp(c, a, b) => Cmp(c, r(a), r(b)),
            And(a, b) => And(r(a), r(b)),
            Or(a, b) => Or(r(a), r(b)),
            Select(c, a, b) => Select(r(c), r(a), r(b)),
            Lookup { table, col, at } => Lookup { table, col, at: r(at) },
        };
        new_index[i] = insts.len() as Val;
        insts.push(renamed);
    }
    k.stores = k.stores.iter().map(|&v| new_index[v as usize]).collect();
    for e in &mut k.events {
        e.fire = new_index[e.fire as usize];
        e.time = new_index[e.time as usize];
    }
    k.insts = insts;
    k
}

fn ks_at(k: &[Val], s: usize) -> Val {
    k[s]
}

/// The values expressions see: states (old, a stage, or new) and time.
struct Frame {
    states: Vec<Val>,
    t: Val,
}

struct Builder<'m> {
    m: &'m Model,
    params: &'m [f64],
    per_neuron: &'m [usize],
    value_overrides: &'m [Option<ExprId>],
    insts: Vec<Inst>,
    numbering: HashMap<(u8, u64, u32, u32), Val>,
    /// (frame states, frame time, value index) -> Val: derived values are
    /// built once per frame.
    value_memo: HashMap<(Vec<Val>, Val, usize), Val>,
    /// Values of event arguments (a port's summed input).
    event_args: HashMap<usize, Val>,
    /// Names of values, for the columns of rate tables: derived values,
    /// gates' rates, exponential Euler's g.
    names: HashMap<Val, String>,
    /// Values a rate table must not hold: the event levels and conditions
    /// at the start of the step, which must equal the exact ones computed
    /// at the previous step's end (or a crossing would count twice).
    exact: std::collections::HashSet<Val>,
}

impl Builder<'_> {
    /// Names value `v` unless it has a name already.
    fn name(&mut self, v: Val, name: String) {
        self.names.entry(v).or_insert(name);
    }

    fn push_raw(&mut self, inst: Inst) -> Val {
        let key = inst.key();
        if let Some(v) = self.numbering.get(&key) {
            return *v;
        }
        let v = self.insts.len() as Val;
        self.insts.push(inst);
        self.numbering.insert(key, v);
        v
    }

    fn push(&mut self, inst: Inst) -> Val {
        self.push_raw(inst)
    }

    fn konst(&mut self, c: f64) -> Val {
        self.push_raw(Inst::Const(c))
    }

    fn as_const(&self, v: Val) -> Option<f64> {
        match self.insts[v as usize] {
            Inst::Const(c) => Some(c),
            _ => None,
        }
    }

    /// A unary operation, folded when its operand is constant. Negations
    /// are pushed into their operands (exact in IEEE arithmetic): --x = x,
    /// -((-a) - b) = a + b, -(x * c) = x * (-c).
    fn un(&mut self, op: fn(Val) -> Inst, a: Val) -> Val {
        let inst = op(a);
        if let Some(x) = self.as_const(a) {
            let folded = interp::apply(&inst, &|v| if v == a { x } else { f64::NAN });
            return self.konst(folded);
        }
        if let Inst::Neg(_) = inst {
            match self.insts[a as usize] {
                Inst::Neg(x) => return x,
                Inst::Sub(l, r) => {
                    if let Inst::Neg(x) = self.insts[l as usize] {
                        return self.bin(Inst::Add, x, r);
                    }
                    return self.bin(Inst::Sub, r, l);
                }
                Inst::Mul(x, c) if self.as_const(c).is_some() => {
                    let nc = self.konst(-self.as_const(c).unwrap_or(0.0));
                    return self.bin(Inst::Mul, x, nc);
                }
                _ => {}
            }
        }
        self.push_raw(inst)
    }

    /// A binary operation: folded on constants, x * 1 and x + 0 dropped,
    /// division by a constant turned into multiplication by its reciprocal.
    fn bin(&mut self, op: fn(Val, Val) -> Inst, a: Val, b: Val) -> Val {
        let inst = op(a, b);
        let (ca, cb) = (self.as_const(a), self.as_const(b));
        if let (Some(x), Some(y)) = (ca, cb) {
            let folded = interp::apply(&inst, &|v| if v == a { x } else { y });
            return self.konst(folded);
        }
        // (-x) * c = x * (-c)
        if let (Inst::Mul(..), Some(c)) = (inst, cb) {
            if let Inst::Neg(x) = self.insts[a as usize] {
                let nc = self.konst(-c);
                return self.bin(Inst::Mul, x, nc);
            }
        }
        match (inst, ca, cb) {
            (Inst::Mul(..), Some(1.0), _) | (Inst::Add(..), Some(0.0), _) => return b,
            (Inst::Mul(..), _, Some(1.0)) | (Inst::Add(..), _, Some(0.0)) | (Inst::Sub(..), _, Some(0.0)) => return a,
            (Inst::Div(..), _, Some(y)) if y != 0.0 && y.is_finite() => {
                let r = self.konst(1.0 / y);
                return self.push_raw(Inst::Mul(a, r));
            }
            _ => {}
        }
        self.push_raw(inst)
    }

    fn expr(&mut self, e: ExprId, f: &Frame) -> Result<Val, Unsupported> {
        let m = self.m;
        Ok(match m.arena.kind(e) {
            // `true` and `false` are masks, not numbers
            NodeKind::Const(c) if m.arena.ty(e) == crate::ir::Ty::Bool => {
                let z = self.konst(0.0);
                self.push_raw(Inst::Cmp(if *c != 0.0 { Cmp::Eq } else { Cmp::Ne }, z, z))
            }
            NodeKind::Const(c) => self.konst(*c),
            NodeKind::Var(Var::Param(p)) => match self.per_neuron.iter().position(|q| q == p) {
                Some(slot) => self.push(Inst::Param(slot as u32)),
                None => self.konst(self.params.get(*p).copied().unwrap_or(f64::NAN)),
            },
            NodeKind::Var(Var::State(i)) => f.states[*i],
            NodeKind::Var(Var::Time) => f.t,
            NodeKind::Var(Var::Value(k)) => {
                let key = (f.states.clone(), f.t, *k);
                if let Some(v) = self.value_memo.get(&key) {
                    return Ok(*v);
                }
                let expr = match self.value_overrides.get(*k).copied().flatten() {
                    Some(e) => e,
                    None => m.values.get(*k).map(|v| v.expr).ok_or_else(|| Unsupported("missing value".into()))?,
                };
                let v = self.expr(expr, f)?;
                self.value_memo.insert(key, v);
                if let Some(value) = m.values.get(*k) {
                    self.name(v, value.name.clone());
                }
                v
            }
            NodeKind::Var(Var::EventArg(a)) => match self.event_args.get(a) {
                Some(v) => *v,
                None => return Err(Unsupported("presynaptic event arguments outside an input port".into())),
            },
            NodeKind::Neg(a) => {
                let a = self.expr(*a, f)?;
                self.un(Inst::Neg, a)
            }
            NodeKind::Not(a) => {
                let a = self.expr(*a, f)?;
                self.push_raw(Inst::Not(a))
            }
            NodeKind::Bin(op, a, b) => {
                let x = self.expr(*a, f)?;
                let y = self.expr(*b, f)?;
                match op {
                    BinOp::Add => self.bin(Inst::Add, x, y),
                    BinOp::Sub => self.bin(Inst::Sub, x, y),
                    BinOp::Mul => self.bin(Inst::Mul, x, y),
                    BinOp::Div => self.bin(Inst::Div, x, y),
                    BinOp::Pow => self.pow(x, y)?,
                    BinOp::Lt => self.push_raw(Inst::Cmp(Cmp::Lt, x, y)),
                    BinOp::Le => self.push_raw(Inst::Cmp(Cmp::Le, x, y)),
                    BinOp::Gt => self.push_raw(Inst::Cmp(Cmp::Gt, x, y)),
                    BinOp::Ge => self.push_raw(Inst::Cmp(Cmp::Ge, x, y)),
                    BinOp::Eq => self.push_raw(Inst::Cmp(Cmp::Eq, x, y)),
                    BinOp::Ne => self.push_raw(Inst::Cmp(Cmp::Ne, x, y)),
                    BinOp::And => self.push_raw(Inst::And(x, y)),
                    BinOp::Or => self.push_raw(Inst::Or(x, y)),
                }
            }
            NodeKind::Call(fun, args) => {
                let vals: Vec<Val> = args.iter().map(|a| self.expr(*a, f)).collect::<Result<_, _>>()?;
                let a = vals.first().copied().unwrap_or(0);
                match fun {
                    Builtin::Exp => self.un(Inst::Exp, a),
                    Builtin::Log => self.un(Inst::Log, a),
                    Builtin::Log10 => {
                        let l = self.un(Inst::Log, a);
                        let c = self.konst(1.0 / std::f64::consts::LN_10);
                        self.bin(Inst::Mul, l, c)
                    }
                    Builtin::Efun => self.un(Inst::Efun, a),
                    Builtin::Sqrt => self.un(Inst::Sqrt, a),
                    Builtin::Abs => self.un(Inst::Abs, a),
                    Builtin::Step => self.un(Inst::Step, a),
                    Builtin::Min => self.bin(Inst::Min, a, vals[1]),
                    Builtin::Max => self.bin(Inst::Max, a, vals[1]),
                    Builtin::Tanh => {
                        // tanh x = 1 - 2 / (e^{2x} + 1)
                        let two = self.konst(2.0);
                        let x2 = self.bin(Inst::Mul, two, a);
                        let e = self.un(Inst::Exp, x2);
                        let one = self.konst(1.0);
                        let d = self.bin(Inst::Add, e, one);
                        let q = self.bin(Inst::Div, two, d);
                        self.bin(Inst::Sub, one, q)
                    }
                    other => {
                        if let Some(x) = self.as_const(a) {
                            let y = vals.get(1).and_then(|v| self.as_const(*v)).unwrap_or(f64::NAN);
                            return Ok(self.konst(other.eval(&[x, y])));
                        }
                        return Err(Unsupported(format!("`{}` in a kernel", other.name())));
                    }
                }
            }
            NodeKind::If(c, a, b) => {
                let c = self.expr(*c, f)?;
                let x = self.expr(*a, f)?;
                let y = self.expr(*b, f)?;
                if m.arena.ty(e) == crate::ir::Ty::Bool {
                    // an `if` of conditions: (c and x) or (not c and y)
                    let cx = self.push_raw(Inst::And(c, x));
                    let nc = self.push_raw(Inst::Not(c));
                    let ny = self.push_raw(Inst::And(nc, y));
                    self.push_raw(Inst::Or(cx, ny))
                } else {
                    self.push_raw(Inst::Select(c, x, y))
                }
            }
        })
    }

    /// x^y: small integer powers by multiplication, else exp(y ln x) when x
    /// is constant.
    fn pow(&mut self, x: Val, y: Val) -> Result<Val, Unsupported> {
        match (self.as_const(x), self.as_const(y)) {
            (Some(a), Some(b)) => Ok(self.konst(a.powf(b))),
            (_, Some(p)) if p.fract() == 0.0 && p.abs() <= 1e6 => {
                let n = p.abs() as u32;
                let mut acc = self.konst(1.0);
                // square-and-multiply, low bit first
                let mut base = x;
                let mut e = n;
                let mut first = true;
                while e > 0 {
                    if e & 1 == 1 {
                        acc = if first { base } else { self.bin(Inst::Mul, acc, base) };
                        first = false;
                    }
                    e >>= 1;
                    if e > 0 {
                        base = self.bin(Inst::Mul, base, base);
                    }
                }
                if p < 0.0 {
                    let one = self.konst(1.0);
                    acc = self.bin(Inst::Div, one, acc);
                }
                Ok(acc)
            }
            (Some(a), None) if a > 0.0 => {
                let ln = self.konst(a.ln());
                let e = self.bin(Inst::Mul, y, ln);
                Ok(self.un(Inst::Exp, e))
            }
            // x^y = e^{y ln x}: defined for x > 0 (NaN for x < 0, as powf
            // with a non-integer exponent)
            _ => {
                let l = self.un(Inst::Log, x);
                let e = self.bin(Inst::Mul, y, l);
                Ok(self.un(Inst::Exp, e))
            }
        }
    }
}
