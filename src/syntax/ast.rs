//! The abstract syntax tree: what the user wrote, with a span on every node.
//! Nothing here is resolved or unit-checked; see `ir` for that.

use crate::source::Span;

#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Debug, Default)]
pub struct File {
    pub items: Vec<Item>,
}

#[derive(Clone, Debug)]
pub enum Item {
    Import(Import),
    Model(Model),
    Simulate(Simulate),
}

#[derive(Clone, Debug)]
pub struct Import {
    pub path: String,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    Channel,
    Neuron,
    Synapse,
    Plasticity,
    Rate,
    Field,
    Density,
    Network,
    Brain,
    /// A neuron with a morphology: sections, regions, the cable equation.
    Cell,
}

impl ModelKind {
    pub fn keyword(self) -> &'static str {
        match self {
            ModelKind::Channel => "channel",
            ModelKind::Neuron => "neuron",
            ModelKind::Synapse => "synapse",
            ModelKind::Plasticity => "plasticity",
            ModelKind::Rate => "rate",
            ModelKind::Field => "field",
            ModelKind::Density => "density",
            ModelKind::Network => "network",
            ModelKind::Brain => "brain",
            ModelKind::Cell => "cell",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Model {
    pub kind: ModelKind,
    pub name: Ident,
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Simulate {
    pub target: Ident,
    pub settings: Vec<Binding>,
    pub span: Span,
}

/// `name = value`
#[derive(Clone, Debug)]
pub struct Binding {
    pub name: Ident,
    pub value: Expr,
}

#[derive(Clone, Debug)]
pub struct StateDecl {
    pub name: Ident,
    pub init: Option<Expr>,
}

/// `fn name(a, b) = body`, also `kernel` and `drift(V) = ...`.
#[derive(Clone, Debug)]
pub struct FnDef {
    pub name: Ident,
    pub params: Vec<Ident>,
    pub body: Expr,
}

#[derive(Clone, Debug)]
pub struct Gate {
    pub name: Ident,
    pub power: Option<(u32, Span)>,
    pub bindings: Vec<Binding>,
}

#[derive(Clone, Debug)]
pub struct Reaction {
    pub from: Ident,
    pub to: Ident,
    pub forward: Expr,
    pub backward: Expr,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Upward,
    Downward,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssignOp {
    Set,
    Add,
    Sub,
    Mul,
    Div,
}

impl AssignOp {
    pub fn symbol(self) -> &'static str {
        match self {
            AssignOp::Set => "=",
            AssignOp::Add => "+=",
            AssignOp::Sub => "-=",
            AssignOp::Mul => "*=",
            AssignOp::Div => "/=",
        }
    }
}

#[derive(Clone, Debug)]
pub enum Trigger {
    /// `on spike` or `on spike(w: nS)`: a presynaptic event with a weight.
    Spike {
        /// `on spike exc(w: nS)`: the port connections name with `via exc`.
        port: Option<Ident>,
        weight: Option<(Ident, UnitExpr)>,
        span: Span,
    },
    Condition(Expr),
}

#[derive(Clone, Debug)]
pub enum Action {
    Assign { target: Ident, op: AssignOp, value: Expr, span: Span },
    Emit { what: Ident, span: Span },
    Refractory { duration: Expr, span: Span },
}

#[derive(Clone, Debug)]
pub struct Interval {
    pub lo: Expr,
    pub hi: Expr,
    pub lo_closed: bool,
    pub hi_closed: bool,
}

#[derive(Clone, Debug)]
pub struct Probe {
    pub name: Ident,
    pub targets: Vec<(Ident, Option<(u64, u64)>)>,
    pub settings: Vec<Binding>,
}

#[derive(Clone, Debug)]
pub enum BoundaryPart {
    Threshold(Binding),
    Reset(Binding),
    Refractory(Expr),
}

#[derive(Clone, Debug)]
pub enum DataEntry {
    File { key: Ident, path: String, span: Span },
    Setting(Binding),
}

#[derive(Clone, Debug)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum StmtKind {
    Parameter(Vec<Binding>),
    State(Vec<StateDecl>),
    Input(Vec<Binding>),
    Fn(FnDef),
    Gate(Gate),
    Current(Binding),
    /// `ion ca` (every current of the channel) or `ion na: ina` (the
    /// currents named): the ion that carries a channel's currents.
    Ion {
        ion: Ident,
        currents: Option<Vec<Ident>>,
    },
    Use(Vec<Ident>),
    Kinetic(Vec<Reaction>),
    /// `factor * dX/dt = rhs` (factor is usually absent)
    Ode {
        factor: Option<Expr>,
        state: Ident,
        rhs: Expr,
        /// `dX/dt = ... method rk4`
        method: Option<Ident>,
    },
    SpikeWhen {
        lhs: Expr,
        rhs: Expr,
        direction: Direction,
    },
    On {
        trigger: Trigger,
        actions: Vec<Action>,
    },
    Method(Ident),
    Population {
        name: Ident,
        size: u64,
        model: Ident,
    },
    Connect {
        from: Vec<Ident>,
        to: Vec<Ident>,
        via: Ident,
        /// `file "conn.csv"`: the synapses listed in a file, and its span.
        file: Option<(String, crate::source::Span)>,
        settings: Vec<Binding>,
    },
    Drive {
        targets: Vec<Ident>,
        source: Ident,
        settings: Vec<Binding>,
        /// `via PORT`: the input port of the targets.
        via: Option<Ident>,
    },
    Record(Vec<Probe>),
    Domain {
        var: Ident,
        interval: Interval,
        periodic: bool,
        settings: Vec<Binding>,
    },
    Kernel(FnDef),
    Variable {
        var: Ident,
        interval: Interval,
        settings: Vec<Binding>,
    },
    /// `table V in [lo, hi], step = h`: rate tables in a neuron's state.
    Table {
        var: Ident,
        interval: Interval,
        settings: Vec<Binding>,
    },
    Boundary(Vec<BoundaryPart>),
    Output {
        name: Ident,
        flux_at: Option<Ident>,
        value: Option<Expr>,
    },
    Couple {
        target: Vec<Ident>,
        op: AssignOp,
        value: Expr,
    },
    Observe(Binding),
    /// `noise node.E = white(sigma)` in a brain.
    Noise {
        target: Vec<Ident>,
        value: Expr,
    },
    Data(Vec<DataEntry>),
    /// `name(args) = body` without `fn`: a function-valued definition
    /// (`drift(V) = ...` in a density).
    DerivedFn(FnDef),
    /// `name = expr`: a derived value.
    Derived(Binding),
    /// `section NAME(length = ..., diameter = ..., parent = NAME, ...)` in a cell.
    Section {
        name: Ident,
        settings: Vec<Binding>,
    },
    /// `Channel.param = expr` in a cell's region: a parameter per
    /// compartment (the expression may read `distance`).
    SetParam {
        target: Ident,
        value: Expr,
    },
    /// `synapse NAME = MODEL on SECTION(at = X)` in a cell: a synapse
    /// model at a location, receiving spikes through its port `NAME`.
    Site {
        name: Ident,
        model: Ident,
        section: Ident,
        settings: Vec<Binding>,
    },
    /// `region 3 = MODEL { statements }` (or `region "label" = ...`) in a
    /// brain: a region whose node is a network, with its interfaces.
    BrainRegion {
        at: RegionRef,
        /// Where `at` is written.
        at_span: crate::source::Span,
        model: Ident,
        stmts: Vec<Stmt>,
    },
    /// `send rate(of = E, tau = 10 ms)` in a brain's region: what the
    /// region sends along its edges.
    Send {
        source: Ident,
        settings: Vec<Binding>,
    },
    /// `region NAME { statements }` in a cell: a membrane's statements
    /// (`use` of channels) for the sections the name selects.
    Region {
        name: Ident,
        /// `where CONDITION`: the compartments it holds in.
        selector: Option<Expr>,
        stmts: Vec<Stmt>,
    },
}

/// A brain's region: by its number (from 0) or its label.
#[derive(Clone, Debug, PartialEq)]
pub enum RegionRef {
    Index(u64),
    Label(String),
}

#[derive(Clone, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    Not,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Pow => "^",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::And => "and",
            BinOp::Or => "or",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(self, BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne)
    }
}

#[derive(Clone, Debug)]
pub enum ExprKind {
    /// A literal with an optional unit: `-65 mV` is `Neg(Number(65, mV))`.
    Number {
        value: f64,
        unit: Option<UnitExpr>,
    },
    Str(String),
    Bool(bool),
    Name(String),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Call(Box<Expr>, Vec<Expr>),
    Index(Box<Expr>, Vec<Expr>),
    Member(Box<Expr>, Ident),
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// Stands in where the parser could not build an expression.
    Error,
}

/// A unit as written: `mS/cm^2` is `[mS^1, cm^-2]`.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitExpr {
    pub factors: Vec<UnitFactor>,
    pub text: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct UnitFactor {
    pub name: String,
    /// (numerator, denominator), sign included.
    pub power: (i64, i64),
    pub span: Span,
}
