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
//! The steps of a build, in order: [`propagate`] (which exact blocks
//! read their propagators from per-neuron arrays), `blocks` (the start of the step and
//! the plan's blocks), `events` (refractory holds and events), both
//! through `builder` (IR expressions to instructions, each (frame, node)
//! once), then [`table`] (rate tables) and `dead` (dead code). [`segment`]
//! cuts a finished kernel for back ends that compile big functions slowly.
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

mod adaptive;
mod blocks;
mod builder;
mod check;
mod dead;
mod events;
pub mod fault;
mod implicit;
pub mod interp;
mod kinetic;
pub mod kmath;
pub mod propagate;
pub mod segment;
pub mod sensitivity;
pub mod table;
mod trig;

pub use check::{check_built_tables, check_tables, table_grids};
pub(crate) use dead::{eliminate_dead, liveness, operands};
pub use propagate::param_arrays;

use crate::ir::{ExprId, Model};
use crate::schemes::Plan;

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
    /// `!(x < y)`: `x >= y`, or either is NaN (a level crossed upward
    /// or run away to NaN: one comparison).
    NotLt,
    /// `!(x > y)`: `x <= y`, or either is NaN.
    NotGt,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Inst {
    Const(f64),
    /// The neuron's state i at the start of the step.
    State(u32),
    /// The neuron's value in parameter array i (see [`Kernel::params`]).
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
    /// a * b + c with one rounding (`f64::mul_add`; Cranelift `fma`).
    MulAdd(Val, Val, Val),
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

    pub(crate) fn key(&self) -> (u8, u64, u32, u32) {
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
            MulAdd(a, b, c) => (24, a as u64, b, c),
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
    /// Names of the parameter arrays: the per-neuron parameters, the
    /// derived arrays of `propagators`, the ports' inputs.
    pub params: Vec<String>,
    /// The last `consumed` parameter arrays are inputs the step consumes
    /// (a network's ports, one slot of their rings): compiled code sets
    /// each neuron's entry to 0 once its step has read it, so that no
    /// second pass clears the slot. The arrays must be writable. The
    /// interpreter reads them only; its caller clears them.
    pub consumed: usize,
    /// The values stored into each state array at the end of the step.
    pub stores: Vec<Val>,
    pub events: Vec<KEvent>,
    pub dt: f64,
    /// Rate tables read by [`Inst::Lookup`].
    pub tables: Vec<table::Table>,
    /// Exact blocks whose propagators vary per neuron, held in derived
    /// arrays that [`param_arrays`] fills.
    pub propagators: propagate::Propagators,
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
    let signature = Signature { params, per_neuron, value_overrides, ports, outputs: &[], per_step: &[] };
    build_full(m, plan, &signature, dt)
}

/// What a kernel reads and writes besides the model's states.
pub struct Signature<'a> {
    /// Parameter values (SI).
    pub params: &'a [f64],
    /// Parameters read from per-neuron arrays instead of folded in.
    pub per_neuron: &'a [usize],
    /// `value_overrides[k]` replaces value k's expression.
    pub value_overrides: &'a [Option<ExprId>],
    /// Input ports (see [`build_with_ports`]).
    pub ports: &'a [String],
    /// Expressions evaluated at the end of the step, on the new states and
    /// `t + dt`, each stored into one more array after the states (a
    /// brain node's signals sent to the other nodes).
    pub outputs: &'a [ExprId],
    /// Per-neuron parameters the runtime rewrites at every step (a brain's
    /// sums, noises and time series): an exact block's matrix must not
    /// read them.
    pub per_step: &'a [usize],
}

/// Builds a kernel for a [`Signature`].
pub fn build_full(m: &Model, plan: &Plan, sig: &Signature, dt: f64) -> Result<Kernel, Unsupported> {
    let Signature { params, per_neuron, value_overrides, ports, outputs, per_step } = *sig;
    let mut b = builder::Builder::new(m, params, per_neuron, value_overrides);
    let (propagators, exact_states) = propagate::plan(&b, plan, per_step)?;
    b.propagators = propagators;
    let n = m.states.len();
    let refractory = m.events.iter().any(events::starts_refractory);
    let mut state_names: Vec<String> = m.states.iter().map(|s| s.name.clone()).collect();
    if refractory {
        state_names.push("refractory_until".into());
    }
    b.hidden_base = (n + usize::from(refractory)) as u32;
    let start = blocks::start(&mut b, ports, dt)?;
    // Blocks, all from the old state.
    let mut new = start.old.clone();
    for block in &plan.blocks {
        blocks::emit_block(&mut b, block, &start, &mut new)?;
    }
    // Refractory: held states keep their old values while t < refractory_until.
    let hold = refractory.then(|| events::hold(&mut b, &start, &mut new, n));
    let (events, ref_value) = events::emit_events(&mut b, &start, &mut new, hold)?;
    let mut stores = new;
    if refractory {
        stores.push(ref_value.unwrap_or(start.t0));
    }
    for (name, v) in std::mem::take(&mut b.hidden) {
        state_names.push(name);
        stores.push(v);
    }
    if !outputs.is_empty() {
        let base = stores[..n].to_vec();
        let end = builder::Frame::new(b.frame_id(), &base, start.t_next);
        for (k, &e) in outputs.iter().enumerate() {
            stores.push(b.expr(e, &end)?);
            state_names.push(format!("output {k}"));
        }
    }
    let propagators = std::mem::take(&mut b.propagators);
    let params_names = per_neuron
        .iter()
        .map(|&p| m.params[p].name.clone())
        .chain((0..propagators.entries.len()).map(|i| propagators.name(m, &exact_states, i)))
        .chain(ports.iter().map(|p| format!("input {p}")))
        .collect();
    let insts = std::mem::take(&mut b.insts);
    let mut kernel = Kernel {
        insts,
        states: state_names,
        params: params_names,
        consumed: 0,
        stores,
        events,
        dt,
        tables: Vec::new(),
        propagators,
    };
    let grids = table_grids(m, params).map_err(|(_, why)| Unsupported(format!("rate table: {why}")))?;
    for (spec, grid) in m.tables.iter().zip(grids) {
        let known = table::Known { names: &b.names, exact: &b.exact };
        table::tabulate(&mut kernel, start.old[spec.state], grid, spec.state, &m.states[spec.state].name, known);
    }
    Ok(eliminate_dead(kernel))
}

/// How a kernel integrates `block` for step `dt`, for `explain`: the
/// scheme, its order and its limits, where kernels differ from the
/// reference interpreter's way (kinetic, implicit and rk45 blocks).
pub fn scheme_note(m: &Model, params: &[f64], block: &crate::schemes::Block, dt: f64) -> Option<String> {
    use crate::schemes::{Block, Method};
    match block {
        Block::Kinetic { kinetic, implicit: true } => {
            let name = m.kinetics.get(*kinetic).map_or("?", |k| k.channel.as_str());
            Some(format!(
                "kinetic scheme of {name} in kernels: backward Euler (order 1), (I - Q dt) p' = p at the rates of the step's start, one elimination unrolled over the scheme's pattern in which every operation adds non-negative numbers (Grassmann-Taksar-Heyman): occupancies stay non-negative and their sum is conserved for any dt, with no truncation and no bound on the rates"
            ))
        }
        Block::Kinetic { kinetic, implicit: false } => {
            let plan = kinetic::Plan::for_scheme(m, params, *kinetic, dt);
            let name = m.kinetics.get(*kinetic).map_or("?", |k| k.channel.as_str());
            Some(format!(
                "kinetic scheme of {name} in kernels: exact propagator e^(Q dt) p at the rates of the step's start, by uniformization with {} terms: truncation below 1e-14 while dt x (largest outflow rate) <= {}, below 1e-10 up to {} (E0403 beyond: a smaller dt); a convex combination of stochastic vectors, so occupancies stay non-negative and their sum is conserved by construction",
                plan.terms + 1,
                plan.rho_design,
                plan.rho_max
            ))
        }
        Block::Implicit { theta, states, .. } => {
            let names: Vec<&str> = states.iter().map(|&i| m.states[i].name.as_str()).collect();
            let what = if *theta == 1.0 { "backward Euler (order 1)" } else { "trapezoidal (order 2)" };
            Some(format!(
                "({}) in kernels: {what}, Newton on the symbolic Jacobian from the explicit Euler predictor, {} iterations unrolled with a per-neuron convergence mask (|dz| <= 1e-12 of the state's size), elimination without pivoting; a neuron that has not converged is E0403",
                names.join(", "),
                implicit::ITERATIONS
            ))
        }
        Block::Explicit { method: Method::Rk45, states } => {
            let names: Vec<&str> = states.iter().map(|&i| m.states[i].name.as_str()).collect();
            Some(format!(
                "({}) in kernels: Dormand-Prince 5(4), rtol {:e}, per-neuron sub-steps within each step, {} trials unrolled (a neuron that has not reached the step's end after them is E0403)",
                names.join(", "),
                adaptive::RTOL,
                adaptive::ATTEMPTS
            ))
        }
        _ => None,
    }
}
