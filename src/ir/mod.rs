//! The typed IR: one resolved, unit-checked, flattened model.
//!
//! Expressions live in an [`Arena`] of [`Node`]s named by [`ExprId`]; every
//! node has a span (synthesized nodes inherit their origin's) and a type
//! ([`Ty`]: a number of some [`Dim`], a truth value, or an error after a
//! reported diagnostic). Values are SI `f64`. User functions are inlined at
//! each call, so the IR has no calls but to builtins. A `neuron` that `use`s
//! channels is flattened: channel symbols are renamed `Channel.name` and the
//! gates become states.
//!
//! Invariants after [`lower::lower_model`] returned without errors (checked
//! by [`Model::validate`]): every `ExprId` is in the arena; `values` and
//! `params` are in dependency order (each refers only to earlier entries);
//! every state has an initial value; every ODE right side has the state's
//! dimension per time; no node has type `Ty::Error`.

pub mod eval;
pub mod lower;
pub mod method;
pub mod noise;
mod print;
pub mod tape;

pub use method::Method;
pub use print::{print_expr, Printer};

use crate::source::Span;
use crate::syntax::ast::{BinOp, Direction, ModelKind};
use crate::units::Dim;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExprId(pub u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ty {
    Num(Dim),
    Bool,
    Error,
}

impl Ty {
    pub fn dim(&self) -> Option<Dim> {
        match self {
            Ty::Num(d) => Some(*d),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Var {
    Param(usize),
    State(usize),
    /// A derived value or an input, index into `Model::values`.
    Value(usize),
    Time,
    /// A value bound by an event (`on spike(w: nS)`), by index into `Model::event_args`.
    EventArg(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Builtin {
    Exp,
    Log,
    Log10,
    Sqrt,
    Sin,
    Cos,
    Tan,
    Tanh,
    Sinh,
    Cosh,
    Atan,
    Abs,
    Min,
    Max,
    /// Heaviside: 1 for x >= 0, else 0.
    Step,
    /// u / (exp(u) - 1), continuous at u = 0 (`vtrap(x, y) = y * efun(x / y)`).
    Efun,
    /// d efun / du, continuous at u = 0.
    EfunPrime,
    /// sign(x): -1, 0, 1.
    Sign,
}

impl Builtin {
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Exp => "exp",
            Builtin::Log => "log",
            Builtin::Log10 => "log10",
            Builtin::Sqrt => "sqrt",
            Builtin::Sin => "sin",
            Builtin::Cos => "cos",
            Builtin::Tan => "tan",
            Builtin::Tanh => "tanh",
            Builtin::Sinh => "sinh",
            Builtin::Cosh => "cosh",
            Builtin::Atan => "atan",
            Builtin::Abs => "abs",
            Builtin::Min => "min",
            Builtin::Max => "max",
            Builtin::Step => "step",
            Builtin::Efun => "efun",
            Builtin::EfunPrime => "efun_prime",
            Builtin::Sign => "sign",
        }
    }

    pub fn eval(self, a: &[f64]) -> f64 {
        let x = a.first().copied().unwrap_or(f64::NAN);
        let y = a.get(1).copied().unwrap_or(f64::NAN);
        match self {
            Builtin::Exp => x.exp(),
            Builtin::Log => x.ln(),
            Builtin::Log10 => x.log10(),
            Builtin::Sqrt => x.sqrt(),
            Builtin::Sin => x.sin(),
            Builtin::Cos => x.cos(),
            Builtin::Tan => x.tan(),
            Builtin::Tanh => x.tanh(),
            Builtin::Sinh => x.sinh(),
            Builtin::Cosh => x.cosh(),
            Builtin::Atan => x.atan(),
            Builtin::Abs => x.abs(),
            Builtin::Min => x.min(y),
            Builtin::Max => x.max(y),
            Builtin::Step => {
                if x >= 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Builtin::Sign => {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            }
            Builtin::Efun => efun(x),
            Builtin::EfunPrime => efun_prime(x),
        }
    }
}

/// u / (e^u - 1), with its Taylor series near 0 where the quotient cancels.
pub fn efun(u: f64) -> f64 {
    if u.abs() < 1e-4 {
        1.0 - u / 2.0 + u * u / 12.0
    } else {
        u / u.exp_m1()
    }
}

/// d/du [u / (e^u - 1)] = (e^u - 1 - u e^u) / (e^u - 1)^2.
pub fn efun_prime(u: f64) -> f64 {
    if u.abs() < 1e-3 {
        -0.5 + u / 6.0 - u * u * u / 180.0
    } else if u > 700.0 {
        -(u - 1.0) * (-u).exp()
    } else {
        let em1 = u.exp_m1();
        (em1 - u * u.exp()) / (em1 * em1)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    Const(f64),
    Var(Var),
    Neg(ExprId),
    Not(ExprId),
    Bin(BinOp, ExprId, ExprId),
    Call(Builtin, Vec<ExprId>),
    If(ExprId, ExprId, ExprId),
}

/// How deep one expression may nest (its longest path from root to leaf,
/// after `fn` inlining; a derived value counts as a leaf where it is
/// read). Lowering reports deeper expressions (E0102), so the recursive
/// walks after it (the evaluator's fast path, printing, the kernel
/// builder) stay within a fixed stack; the symbolic passes use explicit
/// stacks and may build derivatives somewhat deeper than this.
pub const MAX_DEPTH: usize = 1500;

/// How deep an expression may be with the values it reads inlined (see
/// [`Model::inlined_depth`]) for the back ends that inline them by
/// recursion (the kernel builder); deeper models run on the reference
/// interpreter, which evaluates values one after another.
pub const MAX_INLINED_DEPTH: usize = 4 * MAX_DEPTH;

#[derive(Clone, Debug)]
pub struct Node {
    pub kind: NodeKind,
    /// The node's type, by index into the arena's table of types (a model
    /// has few distinct dimensions, and a `Dim` is 112 bytes).
    ty: u32,
    pub span: Span,
    /// 1 for a leaf, else 1 + the deepest child.
    pub depth: u32,
}

/// Dense storage of expression nodes.
#[derive(Clone, Debug, Default)]
pub struct Arena {
    nodes: Vec<Node>,
    /// The distinct types of the nodes, and the index of each.
    tys: Vec<Ty>,
    ty_index: std::collections::HashMap<Ty, u32>,
}

impl Arena {
    pub fn add(&mut self, kind: NodeKind, ty: Ty, span: Span) -> ExprId {
        let id = ExprId(u32::try_from(self.nodes.len()).unwrap_or(u32::MAX)); // ok: saturates; validate() catches
        let mut below = 0;
        for_each_child(&kind, |c| below = below.max(self.nodes.get(c.0 as usize).map_or(0, |n| n.depth)));
        let ty = self.intern(ty);
        self.nodes.push(Node { kind, ty, span, depth: below.saturating_add(1) });
        id
    }

    fn intern(&mut self, ty: Ty) -> u32 {
        // consecutive nodes often share a type
        if let Some(last) = self.nodes.last() {
            if self.tys.get(last.ty as usize) == Some(&ty) {
                return last.ty;
            }
        }
        let next = self.tys.len() as u32;
        let k = *self.ty_index.entry(ty).or_insert(next);
        if k == next {
            self.tys.push(ty);
        }
        k
    }

    /// The length of the longest path from `id` down to a leaf (1 for a leaf).
    pub fn depth(&self, id: ExprId) -> usize {
        self.get(id).map_or(0, |n| n.depth as usize)
    }

    pub fn get(&self, id: ExprId) -> Option<&Node> {
        self.nodes.get(id.0 as usize)
    }

    pub fn kind(&self, id: ExprId) -> &NodeKind {
        static ZERO: NodeKind = NodeKind::Const(f64::NAN);
        self.get(id).map(|n| &n.kind).unwrap_or(&ZERO)
    }

    pub fn ty(&self, id: ExprId) -> Ty {
        self.get(id).and_then(|n| self.tys.get(n.ty as usize)).copied().unwrap_or(Ty::Error)
    }

    pub fn span(&self, id: ExprId) -> Span {
        self.get(id).map(|n| n.span).unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The constant value of a node that is a literal.
    pub fn as_const(&self, id: ExprId) -> Option<f64> {
        match self.kind(id) {
            NodeKind::Const(v) => Some(*v),
            _ => None,
        }
    }

    /// Children of a node, in order.
    pub fn children(&self, id: ExprId) -> Vec<ExprId> {
        let mut out = Vec::new();
        for_each_child(self.kind(id), |c| out.push(c));
        out
    }
}

/// Calls `f` on each child of a node, in order.
pub fn for_each_child(kind: &NodeKind, mut f: impl FnMut(ExprId)) {
    match kind {
        NodeKind::Const(_) | NodeKind::Var(_) => {}
        NodeKind::Neg(a) | NodeKind::Not(a) => f(*a),
        NodeKind::Bin(_, a, b) => {
            f(*a);
            f(*b);
        }
        NodeKind::Call(_, args) => args.iter().for_each(|a| f(*a)),
        NodeKind::If(c, a, b) => {
            f(*c);
            f(*a);
            f(*b);
        }
    }
}

/// Where a name's unit came from, for printing values the way the user wrote them.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitHint {
    pub text: String,
    /// SI value of one of this unit.
    pub scale: f64,
}

#[derive(Clone, Debug)]
pub struct Param {
    pub name: String,
    pub value: ExprId,
    pub dim: Dim,
    pub unit: Option<UnitHint>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Gate {
    pub state: usize,
    pub channel: String,
    pub power: u32,
    pub form: GateForm,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum GateForm {
    AlphaBeta { alpha: ExprId, beta: ExprId },
    InfTau { inf: ExprId, tau: ExprId },
}

#[derive(Clone, Debug)]
pub struct State {
    pub name: String,
    pub init: ExprId,
    pub dim: Dim,
    pub unit: Option<UnitHint>,
    pub span: Span,
    /// dX/dt, if the state has an ODE.
    pub rhs: Option<ExprId>,
    pub rhs_span: Span,
    /// Index into `Model::gates` when the state is a gate.
    pub gate: Option<usize>,
    /// Index into `Model::kinetics` when the state is a species of a kinetic scheme.
    pub kinetic: Option<usize>,
    /// The integration method asked for this state (`dX/dt = ... method rk4`).
    pub method: Option<(String, Span)>,
}

/// A kinetic (Markov) scheme: occupancies of `species` move along
/// reversible reactions; their sum is conserved.
#[derive(Clone, Debug)]
pub struct Kinetic {
    pub channel: String,
    pub species: Vec<usize>,
    pub reactions: Vec<Reaction>,
    pub span: Span,
}

/// `from <-> to (forward, backward)`, rates in 1/time.
#[derive(Clone, Debug)]
pub struct Reaction {
    pub from: usize,
    pub to: usize,
    pub forward: ExprId,
    pub backward: ExprId,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    Derived,
    Input,
    Current,
    /// `∂a/∂x`: the derivative of another value, made by the schemes'
    /// analysis (`symbolic::Differ`) so that every equation reading `a`
    /// shares one derivative instead of a copy of it. Appended after the
    /// values it reads, so dependency order holds.
    Derivative,
}

#[derive(Clone, Debug)]
pub struct Value {
    pub name: String,
    pub kind: ValueKind,
    pub expr: ExprId,
    pub dim: Dim,
    pub unit: Option<UnitHint>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum Trigger {
    /// `spike when lhs crosses rhs`: fires when `level = lhs - rhs` changes
    /// sign in `direction` between two steps.
    Crossing { level: ExprId, direction: Direction },
    /// `on cond { ... }`: fires when `cond` becomes true (false before,
    /// true after). `level` (`a - b` for a comparison `a >= b`) locates the
    /// time it became true.
    Condition { cond: ExprId, level: Option<ExprId> },
    /// `on spike(w: unit)`: a presynaptic spike arrives; `arg` is the index
    /// of `w` in `Model::event_args`.
    Spike { weight_dim: Option<Dim>, arg: Option<usize>, port: Option<String> },
    /// `on hazard(RHO)`: escape noise, lowered to `RHO > escape(K)`, where
    /// the run draws `escape(K)` per neuron and step as an exponential
    /// variable over dt: fires in a step with probability 1 - exp(-RHO dt),
    /// `RHO` taken at the step's start (muted while refractory).
    Hazard { cond: ExprId },
}

#[derive(Clone, Debug)]
pub enum Action {
    /// `state = value`; `+=` etc. are expanded into `value`. `held`: the
    /// event sets the state (`=`), so a refractory period holds it there;
    /// a jump (`+=`, ...) lets it evolve.
    Assign {
        state: usize,
        value: ExprId,
        span: Span,
        held: bool,
    },
    Emit {
        span: Span,
    },
    Refractory {
        duration: ExprId,
        span: Span,
    },
    /// `name = value` in a plasticity event: a value handed to the synapse.
    Output {
        name: String,
        value: ExprId,
        span: Span,
    },
}

#[derive(Clone, Debug)]
pub struct Event {
    pub trigger: Trigger,
    pub actions: Vec<Action>,
    pub span: Span,
}

/// A statement of a kind whose semantics a later stage provides.
#[derive(Clone, Debug)]
pub struct Pending {
    pub what: String,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Model {
    pub name: String,
    pub kind: ModelKind,
    pub span: Span,
    pub arena: Arena,
    pub params: Vec<Param>,
    pub states: Vec<State>,
    pub values: Vec<Value>,
    pub gates: Vec<Gate>,
    pub kinetics: Vec<Kinetic>,
    pub events: Vec<Event>,
    pub channels: Vec<String>,
    pub method: Option<(String, Span)>,
    pub pending: Vec<Pending>,
    /// The order in which initial values are computed (dependencies first).
    pub init_order: Vec<usize>,
    /// Names of values bound by events (`on spike(w: nS)`), by `Var::EventArg` index.
    pub event_args: Vec<String>,
    /// What a `density` model adds: its variable, grid, drift, diffusion and boundaries.
    pub density: Option<Density>,
    /// What a `field` model adds: its domain, kernels and convolutions.
    pub field: Option<Field>,
    /// `table V in [lo, hi], step = h`: rate tables for the kernel back ends.
    pub tables: Vec<RateTable>,
}

/// `table V in [lo, hi], step = h` (NEURON's `TABLE ... FROM lo TO hi`):
/// the kernel back ends tabulate every expensive quantity that depends on
/// state `state` alone (rates, steady states, gate propagators) at the
/// points `lo, lo + h, ..., hi` and interpolate linearly in between. The
/// bounds and step are constant expressions with the state's dimension,
/// evaluated when the kernel is built.
#[derive(Clone, Debug)]
pub struct RateTable {
    pub state: usize,
    pub lo: ExprId,
    pub hi: ExprId,
    pub step: ExprId,
    pub span: Span,
}

/// A neural field: states defined at every point of a periodic domain (a
/// ring, or a torus in 2D), coupled through convolutions with kernels.
/// Coordinates, the kernel's distance argument and each convolution's
/// result are states without ODEs that the runtime fills per cell.
#[derive(Clone, Debug, Default)]
pub struct Field {
    pub coords: Vec<Coord>,
    /// The state standing for a kernel's argument: the distance |x - y|.
    pub dist: usize,
    /// Each kernel's value at distance `dist`.
    pub kernels: Vec<(String, ExprId)>,
    pub convs: Vec<Conv>,
}

/// One periodic coordinate: `domain x in [lo, hi) periodic, cells = N`.
#[derive(Clone, Debug)]
pub struct Coord {
    pub state: usize,
    pub lo: ExprId,
    pub hi: ExprId,
    pub cells: Option<ExprId>,
    pub span: Span,
}

/// `conv(kernel, source)`: the integral of kernel(|x - y|) source(y) dy
/// over the domain, held in state `state`.
#[derive(Clone, Debug)]
pub struct Conv {
    pub kernel: usize,
    pub source: ExprId,
    pub state: usize,
    pub span: Span,
}

/// A population density (Fokker-Planck) model: the probability density
/// p(V, t) of one state variable obeys `dp/dt = -d/dV J`, with the flux
/// `J = drift(V) p - diffusion(V) dp/dV`. The variable is state 0 of the
/// model so that `drift` and `diffusion` are ordinary expressions in it.
#[derive(Clone, Debug)]
pub struct Density {
    /// The state that stands for the density's variable.
    pub var: usize,
    /// The grid's lower edge (reflecting) and upper edge (the threshold).
    pub lo: ExprId,
    pub hi: ExprId,
    /// Drift A(V) in [var]/time and diffusion D(V) in [var]^2/time.
    pub drift: ExprId,
    pub diffusion: ExprId,
    /// Parameters: the threshold (the grid's upper edge), where the absorbed
    /// flux is reinjected, and after how long.
    pub threshold: ExprId,
    pub reset: ExprId,
    pub refractory: ExprId,
    /// `cells = N` (default 400) and `grading = g` (default 1: uniform).
    pub cells: Option<ExprId>,
    pub grading: Option<ExprId>,
    /// The output's name (`output rate = flux at V_th`), and the state that
    /// holds its value of the previous step for drift and diffusion to read.
    pub output: String,
    pub output_state: usize,
    pub span: Span,
}

impl Model {
    pub fn new(name: String, kind: ModelKind, span: Span) -> Model {
        Model {
            name,
            kind,
            span,
            arena: Arena::default(),
            params: vec![],
            states: vec![],
            values: vec![],
            gates: vec![],
            kinetics: vec![],
            events: vec![],
            channels: vec![],
            method: None,
            pending: vec![],
            init_order: vec![],
            event_args: vec![],
            density: None,
            field: None,
            tables: vec![],
        }
    }

    pub fn param(&self, name: &str) -> Option<usize> {
        self.params.iter().position(|p| p.name == name)
    }

    pub fn state(&self, name: &str) -> Option<usize> {
        self.states.iter().position(|s| s.name == name)
    }

    pub fn value(&self, name: &str) -> Option<usize> {
        self.values.iter().position(|v| v.name == name)
    }

    /// The name of a variable as the user knows it.
    pub fn var_name(&self, v: Var) -> String {
        match v {
            Var::Param(i) => self.params.get(i).map(|p| p.name.clone()),
            Var::State(i) => self.states.get(i).map(|s| s.name.clone()),
            Var::Value(i) => self.values.get(i).map(|s| s.name.clone()),
            Var::Time => Some("t".into()),
            Var::EventArg(i) => self.event_args.get(i).cloned(),
        }
        .unwrap_or_else(|| "?".into())
    }

    /// Checks the IR invariants listed in the module doc. Returns the first
    /// violation found; used after every pass in tests.
    pub fn validate(&self) -> Result<(), String> {
        let n = self.arena.len() as u32;
        for i in 0..n {
            let id = ExprId(i);
            let mut forward = None;
            for_each_child(self.arena.kind(id), |c| {
                if c.0 >= i {
                    forward = Some(c.0);
                }
            });
            if let Some(c) = forward {
                return Err(format!("node {i} refers forward to {c}"));
            }
            if let NodeKind::Var(v) = self.arena.kind(id) {
                let ok = match v {
                    Var::Param(k) => *k < self.params.len(),
                    Var::State(k) => *k < self.states.len(),
                    Var::Value(k) => *k < self.values.len(),
                    Var::Time | Var::EventArg(_) => true,
                };
                if !ok {
                    return Err(format!("node {i} names a missing variable {v:?}"));
                }
            }
            if self.arena.ty(id) == Ty::Error {
                return Err(format!("node {i} has an error type"));
            }
        }
        for (k, p) in self.params.iter().enumerate() {
            if let Some(bad) = self.refs(p.value).into_iter().find(|v| match v {
                Var::Param(j) => *j >= k,
                _ => true,
            }) {
                return Err(format!("parameter {} depends on {bad:?}", p.name));
            }
        }
        for (k, v) in self.values.iter().enumerate() {
            if let Some(bad) = self.refs(v.expr).into_iter().find(|r| matches!(r, Var::Value(j) if *j >= k)) {
                return Err(format!("value {} depends on a later {bad:?}", v.name));
            }
        }
        for s in &self.states {
            if let (Some(rhs), Some(want)) = (s.rhs, s.dim.div(&crate::units::dims::time())) {
                if self.arena.ty(rhs) != Ty::Num(want) {
                    return Err(format!("dim of d{}/dt", s.name));
                }
            }
        }
        Ok(())
    }

    /// Whether `e` reads a variable for which `hit` holds, directly or
    /// through the definitions of the values it reads; `values[i]` is the
    /// expression value i stands for (the model's own, or an override).
    pub fn reads_through(&self, e: ExprId, values: &[ExprId], hit: impl Fn(Var) -> bool) -> bool {
        let mut stack = vec![e];
        let mut seen = vec![false; values.len()];
        while let Some(x) = stack.pop() {
            for v in self.refs(x) {
                if hit(v) {
                    return true;
                }
                if let Var::Value(k) = v {
                    if let (Some(done), Some(&def)) = (seen.get_mut(k), values.get(k)) {
                        if !*done {
                            *done = true;
                            stack.push(def);
                        }
                    }
                }
            }
        }
        false
    }

    /// The depth of the deepest expression of the model when every value
    /// it reads is replaced by its definition (a chain of 20,000 values is
    /// 20,000 deep). Each node is visited once, by an explicit stack (a
    /// value's definition may come after the nodes that read it: the
    /// experiment layer redefines inputs); a cycle counts as too deep.
    pub fn inlined_depth(&self) -> usize {
        const TOO_DEEP: usize = usize::MAX / 2;
        let n = self.arena.len();
        // 0: not visited, 1: in progress, 2: done
        let mut state = vec![0u8; n];
        let mut depth = vec![0usize; n];
        let children = |i: usize| -> Vec<usize> {
            let mut out = Vec::new();
            match self.arena.kind(ExprId(i as u32)) {
                NodeKind::Var(Var::Value(k)) => {
                    if let Some(v) = self.values.get(*k) {
                        out.push(v.expr.0 as usize);
                    }
                }
                kind => for_each_child(kind, |c| out.push(c.0 as usize)),
            }
            out
        };
        let mut deepest = 0;
        for root in 0..n {
            if state[root] != 0 {
                continue;
            }
            let mut stack = vec![(root, false)];
            while let Some((i, expanded)) = stack.pop() {
                if expanded {
                    let below = children(i)
                        .into_iter()
                        .map(|c| {
                            if c < n && state[c] == 2 {
                                depth[c]
                            } else if c < n {
                                TOO_DEEP
                            } else {
                                0
                            }
                        })
                        .max()
                        .unwrap_or(0);
                    depth[i] = below.saturating_add(1).min(TOO_DEEP);
                    state[i] = 2;
                    deepest = deepest.max(depth[i]);
                    continue;
                }
                if state[i] != 0 {
                    continue;
                }
                state[i] = 1;
                stack.push((i, true));
                for c in children(i) {
                    if c < n && state[c] == 0 {
                        stack.push((c, false));
                    }
                }
            }
        }
        deepest
    }

    /// `reads_through` the model's own value definitions.
    pub fn reads(&self, e: ExprId, hit: impl Fn(Var) -> bool) -> bool {
        let values: Vec<ExprId> = self.values.iter().map(|v| v.expr).collect();
        self.reads_through(e, &values, hit)
    }

    /// Variables an expression refers to directly (not through values), in
    /// the order a depth-first walk meets them. Each shared node is walked
    /// once, so the cost is linear in the expression's distinct nodes.
    pub fn refs(&self, id: ExprId) -> Vec<Var> {
        let mut out = Vec::new();
        let mut found = std::collections::HashSet::new();
        let mut walked = std::collections::HashSet::new();
        let mut stack = vec![id];
        while let Some(e) = stack.pop() {
            if !walked.insert(e) {
                continue;
            }
            if let NodeKind::Var(v) = self.arena.kind(e) {
                if found.insert(*v) {
                    out.push(*v);
                }
            }
            for_each_child(self.arena.kind(e), |c| stack.push(c));
        }
        out
    }
}
