//! AST -> IR for one model: name resolution, `fn` inlining, channel
//! flattening, and dimension checking, in one walk.
//!
//! Pre: the file parsed and its imports were loaded into a [`Library`].
//! Post: an [`ir::Model`](super::Model) satisfying `Model::validate`, or
//! diagnostics (E02xx names, E03xx units) explaining why not.
//!
//! Declarations are collected first (so order in the file does not matter),
//! then lowered on demand: asking for a parameter or derived value lowers it
//! and its dependencies first, which yields dependency order and finds
//! cycles (E0205).

use super::*;
use crate::diag::{did_you_mean, Code, Diagnostic, Diagnostics};
use crate::resolve::Library;
use crate::syntax::ast::{self, ExprKind, UnOp};
use crate::units::{self, dims, lookup_unit, quantity_name, Dim, Rational};
use std::collections::HashMap;

/// Lowers one model of the library to IR.
pub fn lower_model(lib: &Library, model: &ast::Model) -> (Option<Model>, Diagnostics) {
    let mut lw = Lower {
        lib,
        m: Model::new(model.name.name.clone(), model.kind, model.span),
        diags: Diagnostics::default(),
        spaces: Vec::new(),
        hints: HashMap::new(),
        fn_stack: Vec::new(),
        currents: Slot::Todo,
        state_space: HashMap::new(),
        init_tried: std::collections::HashSet::new(),
        init_busy: std::collections::HashSet::new(),
        implicit_species: std::collections::HashSet::new(),
        drivers: Vec::new(),
        constant_what: None,
    };
    lw.run(model);
    let Lower { m, diags, .. } = lw;
    if diags.has_errors() {
        (None, diags)
    } else {
        (Some(m), diags)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Slot {
    Todo,
    Busy,
    Done(usize),
    Failed,
}

#[derive(Clone, Copy)]
enum Decl<'a> {
    Param {
        ast: &'a ast::Binding,
    },
    State {
        index: usize,
    },
    Value {
        ast: &'a ast::Binding,
        kind: ValueKind,
    },
    Fn(&'a ast::FnDef),
    /// Resolves to another namespace's symbol (a channel's `V`).
    Alias {
        space: usize,
        name: &'static str,
    },
    /// An alias after resolution.
    Resolved(Var),
}

struct Entry<'a> {
    decl: Decl<'a>,
    slot: Slot,
    span: Span,
}

/// The symbols of the model itself (space 0) or of one used channel.
struct Space<'a> {
    prefix: String,
    entries: HashMap<String, Entry<'a>>,
    order: Vec<String>,
    /// The channel's `current` names, in order.
    currents: Vec<String>,
}

/// What a density takes from the neuron it is derived from (`use N`).
struct DensityNeuron<'a> {
    model: &'a ast::Model,
    factor: Option<&'a ast::Expr>,
    rhs: &'a ast::Expr,
    threshold: &'a ast::Expr,
    reset: &'a ast::Expr,
    refractory: Option<&'a ast::Expr>,
}

/// Whether an expression may depend on things that change in time.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Constant,
    Dynamic,
}

struct Scope<'s> {
    space: usize,
    locals: &'s [(String, ExprId)],
    mode: Mode,
}

struct Lower<'a> {
    lib: &'a Library,
    m: Model,
    diags: Diagnostics,
    spaces: Vec<Space<'a>>,
    /// The unit text of literals and names, for messages in the user's units.
    hints: HashMap<ExprId, String>,
    fn_stack: Vec<String>,
    currents: Slot,
    /// The space each state was declared in.
    state_space: HashMap<usize, usize>,
    /// States whose initial value was lowered (or tried).
    init_tried: std::collections::HashSet<usize>,
    init_busy: std::collections::HashSet<usize>,
    /// Kinetic species not declared as states: they start at steady state.
    implicit_species: std::collections::HashSet<usize>,
    /// Rate models a density `use`s: their states live in space 0.
    drivers: Vec<&'a ast::Model>,
    /// What a constant expression being lowered is, when it is not a
    /// parameter (for the message when it reads a state).
    constant_what: Option<&'static str>,
}

fn is_point(kind: ast::ModelKind) -> bool {
    use ast::ModelKind::*;
    matches!(kind, Channel | Neuron | Synapse | Plasticity | Rate | Field)
}

impl<'a> Lower<'a> {
    fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn run(&mut self, model: &'a ast::Model) {
        self.spaces.push(Space { prefix: String::new(), entries: HashMap::new(), order: vec![], currents: vec![] });
        if model.kind == ast::ModelKind::Density {
            self.density(model);
            return;
        }
        if !is_point(model.kind) {
            self.structural(model);
            return;
        }
        // Ambient symbols a standalone channel or synapse sees.
        match model.kind {
            ast::ModelKind::Channel => self.synthetic_state(0, "V", model.name.span),
            ast::ModelKind::Synapse => self.synthetic_state(0, "V_post", model.name.span),
            _ => {}
        }
        self.collect(0, model);
        if model.kind == ast::ModelKind::Field {
            self.field_domain(model);
        }
        // Channels in `use`.
        let uses: Vec<&'a ast::Ident> = model
            .stmts
            .iter()
            .filter_map(|s| match &s.kind {
                ast::StmtKind::Use(names) => Some(names.iter()),
                _ => None,
            })
            .flatten()
            .collect();
        for u in uses {
            self.use_channel(model, u);
        }
        self.lower_all(model);
        if model.kind == ast::ModelKind::Neuron {
            self.rate_tables(model);
        }
    }

    /// `table V in [lo, hi], step = h`: the state, and its bounds and step
    /// as constant expressions in the state's dimension. The numbers are
    /// checked when the kernel is built (they may use parameters).
    fn rate_tables(&mut self, model: &'a ast::Model) {
        let constant = Scope { space: 0, locals: &[], mode: Mode::Constant };
        for stmt in &model.stmts {
            let ast::StmtKind::Table { var, interval, settings } = &stmt.kind else { continue };
            let Some(state) = self.state_index(0, &var.name) else {
                self.err(
                    Diagnostic::error(Code::BadTable, format!("`{}` is not a state of this neuron", var.name))
                        .at(var.span, "a table's argument is a state")
                        .help("tabulate the rates in the membrane potential: `table V in [-100 mV, 100 mV], step = 0.1 mV`"),
                );
                continue;
            };
            if let Some(prev) = self.m.tables.iter().find(|t| t.state == state) {
                let prev = prev.span;
                self.err(
                    Diagnostic::error(Code::BadTable, format!("two tables in `{}`", var.name))
                        .at(stmt.span, "second table")
                        .with_label(prev, "first table")
                        .help("keep one `table` per state"),
                );
                continue;
            }
            let dim = self.m.states[state].dim;
            let what = |w: &str| format!("the table's {w}");
            self.constant_what = Some("a table's range and step");
            let lo = self.expr(&constant, &interval.lo);
            let lo = self.expect_dim(lo, dim, &what("lower bound"), interval.lo.span);
            let hi = self.expr(&constant, &interval.hi);
            let hi = self.expect_dim(hi, dim, &what("upper bound"), interval.hi.span);
            let (step, form) = table_step(stmt.span, var, interval, settings);
            for d in form {
                self.err(d);
            }
            let step = step.and_then(|e| {
                let id = self.expr(&constant, e);
                self.expect_dim(id, dim, &what("step"), e.span)
            });
            self.constant_what = None;
            if let (Some(lo), Some(hi), Some(step)) = (lo, hi, step) {
                self.m.tables.push(crate::ir::RateTable { state, lo, hi, step, span: stmt.span });
            }
        }
    }

    /// A voltage the model can read although it does not declare it.
    fn synthetic_state(&mut self, space: usize, name: &str, span: Span) {
        let init = self.m.arena.add(NodeKind::Const(0.0), Ty::Num(dims::voltage()), span);
        let index = self.m.states.len();
        self.m.states.push(State {
            name: name.to_string(),
            init,
            dim: dims::voltage(),
            unit: Some(UnitHint { text: "mV".into(), scale: 1e-3 }),
            span,
            rhs: None,
            rhs_span: span,
            gate: None,
            kinetic: None,
            method: None,
        });
        self.spaces[space]
            .entries
            .insert(name.to_string(), Entry { decl: Decl::State { index }, slot: Slot::Done(index), span });
    }

    fn declare(&mut self, space: usize, name: &ast::Ident, decl: Decl<'a>) -> bool {
        if let Some(prev) = self.spaces[space].entries.get(&name.name) {
            let prev_span = prev.span;
            self.err(
                Diagnostic::error(Code::Duplicate, format!("`{}` is defined twice", name.name))
                    .at(name.span, "defined again here")
                    .with_label(prev_span, "first defined here")
                    .help("give each parameter, state, value and function its own name"),
            );
            return false;
        }
        let slot = match decl {
            Decl::State { index } => Slot::Done(index),
            _ => Slot::Todo,
        };
        let sp = &mut self.spaces[space];
        sp.entries.insert(name.name.clone(), Entry { decl, slot, span: name.span });
        sp.order.push(name.name.clone());
        true
    }

    fn add_state(&mut self, space: usize, name: &ast::Ident) -> Option<usize> {
        let index = self.m.states.len();
        if !self.declare(space, name, Decl::State { index }) {
            return None;
        }
        let prefix = self.spaces[space].prefix.clone();
        self.state_space.insert(index, space);
        self.m.states.push(State {
            name: format!("{prefix}{}", name.name),
            init: ExprId(u32::MAX),
            dim: Dim::NONE,
            unit: None,
            span: name.span,
            rhs: None,
            rhs_span: name.span,
            gate: None,
            kinetic: None,
            method: None,
        });
        Some(index)
    }

    /// Registers every declaration of a model in a space.
    fn collect(&mut self, space: usize, model: &'a ast::Model) {
        for stmt in &model.stmts {
            match &stmt.kind {
                ast::StmtKind::Parameter(bs) => {
                    for b in bs {
                        self.declare(space, &b.name, Decl::Param { ast: b });
                    }
                }
                ast::StmtKind::Input(bs) => {
                    for b in bs {
                        self.declare(space, &b.name, Decl::Value { ast: b, kind: ValueKind::Input });
                    }
                }
                ast::StmtKind::Derived(b) if STATEMENT_WORDS.contains(&b.name.name.as_str()) => {
                    self.err(
                        Diagnostic::error(Code::Syntax, format!("`{}` needs a name", b.name.name))
                            .at(b.name.span, "a statement keyword, not a name")
                            .help(format!("write `{} x = ...`", b.name.name)),
                    );
                }
                ast::StmtKind::Derived(b) => {
                    self.declare(space, &b.name, Decl::Value { ast: b, kind: ValueKind::Derived });
                }
                ast::StmtKind::Current(b) => {
                    if self.declare(space, &b.name, Decl::Value { ast: b, kind: ValueKind::Current }) {
                        self.spaces[space].currents.push(b.name.name.clone());
                    }
                }
                ast::StmtKind::Fn(f) | ast::StmtKind::DerivedFn(f) => {
                    self.declare(space, &f.name, Decl::Fn(f));
                }
                ast::StmtKind::State(decls) => {
                    for d in decls {
                        self.add_state(space, &d.name);
                    }
                }
                ast::StmtKind::Gate(g) => {
                    self.add_state(space, &g.name);
                }
                ast::StmtKind::Variable { .. } | ast::StmtKind::Boundary(_) | ast::StmtKind::Output { .. }
                    if model.kind == ast::ModelKind::Density => {}
                ast::StmtKind::Domain { .. } if model.kind == ast::ModelKind::Field => {}
                ast::StmtKind::Table { .. } if model.kind == ast::ModelKind::Neuron && space == 0 => {}
                ast::StmtKind::Table { .. } => self.err(
                    Diagnostic::error(
                        Code::NotHere,
                        format!("rate tables belong in neurons, not in a `{}`", model.kind.keyword()),
                    )
                    .at(stmt.span, "not allowed here")
                    .help("put `table V in [-100 mV, 100 mV], step = 0.1 mV` in the neuron; it covers its channels' rates too"),
                ),
                ast::StmtKind::Kernel(f) if model.kind == ast::ModelKind::Field => {
                    self.declare(space, &f.name, Decl::Fn(f));
                }
                ast::StmtKind::Use(_)
                | ast::StmtKind::Ode { .. }
                | ast::StmtKind::SpikeWhen { .. }
                | ast::StmtKind::On { .. }
                | ast::StmtKind::Method(_) => {}
                ast::StmtKind::Kinetic(reactions) => {
                    for r in reactions {
                        for sp in [&r.from, &r.to] {
                            let known = self.spaces[space].entries.contains_key(&sp.name);
                            if !known {
                                if let Some(i) = self.add_state(space, sp) {
                                    self.implicit_species.insert(i);
                                }
                            }
                        }
                    }
                }
                _ => self.err(
                    Diagnostic::error(
                        Code::NotHere,
                        format!("this statement does not belong in a `{}`", model.kind.keyword()),
                    )
                    .at(stmt.span, "not allowed here")
                    .help("populations, connections, domains and the like belong in network, field, density or brain models"),
                ),
            }
        }
    }

    fn use_channel(&mut self, host: &'a ast::Model, name: &'a ast::Ident) {
        let Some(ch) = self.lib.get(&name.name) else {
            let mut d = Diagnostic::error(Code::UnknownModel, format!("no channel named `{}`", name.name))
                .at(name.span, "not found");
            let candidates = self.lib.names_of(ast::ModelKind::Channel);
            d = match did_you_mean(&name.name, candidates.iter().map(String::as_str)) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => {
                    d.help("define the channel in this file or import the file that defines it: `import \"hh.neuro\"`")
                }
            };
            self.err(d);
            return;
        };
        if !matches!(ch.kind, ast::ModelKind::Channel | ast::ModelKind::Synapse) {
            self.err(
                Diagnostic::error(
                    Code::WrongKind,
                    format!("`{}` is a {}, not a channel or synapse", name.name, ch.kind.keyword()),
                )
                .at(name.span, "`use` takes channels and synapses")
                .with_label(ch.name.span, "defined here"),
            );
            return;
        }
        if host.kind != ast::ModelKind::Neuron {
            self.err(
                Diagnostic::error(Code::NotHere, "only neurons `use` channels")
                    .at(name.span, "used here")
                    .help("move the `use` into a neuron model"),
            );
            return;
        }
        if self.m.channels.contains(&name.name) {
            self.err(
                Diagnostic::error(Code::Duplicate, format!("channel `{}` is used twice", name.name))
                    .at(name.span, "used again here"),
            );
            return;
        }
        self.m.channels.push(name.name.clone());
        let space = self.spaces.len();
        self.spaces.push(Space {
            prefix: format!("{}.", name.name),
            entries: HashMap::new(),
            order: vec![],
            currents: vec![],
        });
        self.collect(space, ch);
        // The host's V and temperature, unless the channel declares its own;
        // a synapse reads the host's V as `V_post`.
        for ambient in ["V", "celsius", "V_post"] {
            if ambient == "V_post" && ch.kind != ast::ModelKind::Synapse {
                continue;
            }
            let e = Entry {
                decl: Decl::Alias { space: 0, name: if ambient == "celsius" { "celsius" } else { "V" } },
                slot: Slot::Todo,
                span: name.span,
            };
            self.spaces[space].entries.entry(ambient.to_string()).or_insert(e);
        }
        self.lower_all(ch);
        // lower_all of the channel used `space` via the spaces stack below
        let _ = space;
    }

    /// Lowers all declarations, ODEs, gates and events of the model in the
    /// last space registered for it.
    fn lower_all(&mut self, model: &'a ast::Model) {
        let space = self.space_of(model);
        let names: Vec<String> = self.spaces[space].order.clone();
        for name in &names {
            self.force(space, name);
        }
        for stmt in &model.stmts {
            match &stmt.kind {
                ast::StmtKind::State(decls) => {
                    for d in decls {
                        self.state_init(space, d);
                    }
                }
                ast::StmtKind::Gate(g) => self.gate(space, g, stmt.span),
                ast::StmtKind::Kinetic(reactions) => self.kinetic(space, reactions, stmt.span),
                _ => {}
            }
        }
        for stmt in &model.stmts {
            match &stmt.kind {
                ast::StmtKind::Ode { factor, state, rhs, method } => {
                    self.ode(space, factor.as_ref(), state, rhs, stmt.span);
                    if let (Some(m), Some(i)) = (method, self.state_index(space, &state.name)) {
                        if self.check_method(&m.name, m.span) {
                            self.m.states[i].method = Some((m.name.clone(), m.span));
                        }
                    }
                }
                ast::StmtKind::SpikeWhen { lhs, rhs, direction } => {
                    self.spike_when(space, lhs, rhs, *direction, stmt.span)
                }
                ast::StmtKind::On { trigger, actions } => self.on_event(space, model.kind, trigger, actions, stmt.span),
                ast::StmtKind::Method(m) if self.check_method(&m.name, m.span) => {
                    if space == 0 {
                        self.m.method = Some((m.name.clone(), m.span));
                    } else {
                        // a channel's method applies to its own states only
                        for (&i, &sp) in &self.state_space {
                            if sp == space && self.m.states[i].method.is_none() {
                                self.m.states[i].method = Some((m.name.clone(), m.span));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        if space == 0 {
            self.finish_states();
        }
    }

    /// Whether `name` is an integration method; reports E0401 if not.
    fn check_method(&mut self, name: &str, span: Span) -> bool {
        if super::method::Method::parse(name).is_some() {
            return true;
        }
        self.err(super::method::unknown_method(name, span));
        false
    }

    /// The space a model's declarations were collected in: the model itself
    /// is space 0, a channel the space with its prefix.
    fn space_of(&self, model: &ast::Model) -> usize {
        let prefix = format!("{}.", model.name.name);
        self.spaces.iter().position(|s| s.prefix == prefix).unwrap_or(0)
    }

    /// Lowers a declaration on demand; returns the variable it became.
    fn force(&mut self, space: usize, name: &str) -> Option<Var> {
        let (decl, slot, span) = {
            let e = self.spaces.get(space)?.entries.get(name)?;
            (e.decl, e.slot, e.span)
        };
        let var_of = |decl: &Decl, i: usize| match decl {
            Decl::Param { .. } => Var::Param(i),
            Decl::State { .. } => Var::State(i),
            Decl::Resolved(v) => *v,
            _ => Var::Value(i),
        };
        match slot {
            Slot::Done(i) => return Some(var_of(&decl, i)),
            Slot::Failed => return None,
            Slot::Busy => {
                let prefix = self.spaces[space].prefix.clone();
                self.err(
                    Diagnostic::error(Code::Cycle, format!("`{prefix}{name}` is defined in terms of itself"))
                        .at(span, "this definition depends on itself")
                        .help("break the cycle: one of the values must be a state (with an ODE) or a constant"),
                );
                self.set_slot(space, name, Slot::Failed);
                return None;
            }
            Slot::Todo => {}
        }
        self.set_slot(space, name, Slot::Busy);
        let prefix = self.spaces[space].prefix.clone();
        let result = match decl {
            Decl::Param { ast } => {
                let scope = Scope { space, locals: &[], mode: Mode::Constant };
                let value = self.expr(&scope, &ast.value);
                match self.m.arena.ty(value) {
                    Ty::Num(dim) => {
                        let unit = self.hint_of(&ast.value);
                        self.m.params.push(Param {
                            name: format!("{prefix}{name}"),
                            value,
                            dim,
                            unit,
                            span: ast.name.span,
                        });
                        Some(self.m.params.len() - 1)
                    }
                    Ty::Bool => {
                        self.bool_as_number(value);
                        None
                    }
                    Ty::Error => None,
                }
            }
            Decl::Value { ast, kind } => {
                let scope = Scope { space, locals: &[], mode: Mode::Dynamic };
                let expr = self.expr(&scope, &ast.value);
                match self.m.arena.ty(expr) {
                    Ty::Num(dim) => {
                        let unit = self.hint_of(&ast.value);
                        self.m.values.push(Value {
                            name: format!("{prefix}{name}"),
                            kind,
                            expr,
                            dim,
                            unit,
                            span: ast.name.span,
                        });
                        Some(self.m.values.len() - 1)
                    }
                    Ty::Bool => {
                        self.bool_as_number(expr);
                        None
                    }
                    Ty::Error => None,
                }
            }
            Decl::Alias { space: target, name: target_name } => {
                let var = if target_name == "celsius" && !self.spaces[target].entries.contains_key("celsius") {
                    Some(Var::Param(self.ambient_celsius(span)))
                } else {
                    self.force(target, target_name)
                };
                match var {
                    Some(v) => {
                        if let Some(e) = self.spaces[space].entries.get_mut(name) {
                            e.decl = Decl::Resolved(v);
                            e.slot = Slot::Done(0);
                        }
                    }
                    None => {
                        if target_name == "V" {
                            self.err(
                                Diagnostic::error(Code::MissingAmbient, "this channel needs a membrane potential `V`")
                                    .at(span, "used in a neuron without a state `V`")
                                    .help("declare the membrane potential as `state V = -65 mV` in the neuron"),
                            );
                        }
                        self.set_slot(space, name, Slot::Failed);
                    }
                }
                return var;
            }
            Decl::Fn(_) | Decl::State { .. } | Decl::Resolved(_) => {
                self.set_slot(space, name, Slot::Todo);
                return None;
            }
        };
        self.set_slot(space, name, result.map_or(Slot::Failed, Slot::Done));
        result.map(|i| var_of(&decl, i))
    }

    fn set_slot(&mut self, space: usize, name: &str, slot: Slot) {
        if let Some(e) = self.spaces.get_mut(space).and_then(|s| s.entries.get_mut(name)) {
            e.slot = slot;
        }
    }

    fn state_index(&self, space: usize, name: &str) -> Option<usize> {
        match self.spaces.get(space)?.entries.get(name)?.decl {
            Decl::State { index } => Some(index),
            _ => None,
        }
    }

    fn state_init(&mut self, space: usize, d: &'a ast::StateDecl) {
        let Some(index) = self.state_index(space, &d.name.name) else {
            return;
        };
        if !self.init_tried.insert(index) {
            return;
        }
        let Some(init) = &d.init else {
            self.err(
                Diagnostic::error(Code::NoInitialValue, format!("state `{}` has no initial value", d.name.name))
                    .at(d.name.span, "needs a value at t = 0")
                    .help(format!("give it one, with its unit: `state {} = -65 mV`", d.name.name)),
            );
            return;
        };
        let scope = Scope { space, locals: &[], mode: Mode::Dynamic };
        self.init_busy.insert(index);
        let e = self.expr(&scope, init);
        self.init_busy.remove(&index);
        match self.m.arena.ty(e) {
            Ty::Num(dim) => {
                let unit = self.hint_of(init);
                let s = &mut self.m.states[index];
                s.init = e;
                s.dim = dim;
                s.unit = unit;
            }
            Ty::Bool => self.bool_as_number(e),
            Ty::Error => {}
        }
    }

    fn gate(&mut self, space: usize, g: &'a ast::Gate, span: Span) {
        let Some(index) = self.state_index(space, &g.name.name) else {
            return;
        };
        let scope = Scope { space, locals: &[], mode: Mode::Dynamic };
        let mut fields: HashMap<&str, (ExprId, Span)> = HashMap::new();
        for b in &g.bindings {
            let key = b.name.name.as_str();
            if !matches!(key, "alpha" | "beta" | "inf" | "tau" | "q10" | "T0") {
                self.err(
                    Diagnostic::error(Code::BadGate, format!("a gate has no field `{key}`"))
                        .at(b.name.span, "unknown gate field")
                        .help("a gate is given by `alpha` and `beta` (rates), or by `inf` and `tau`; optionally `q10` and `T0`"),
                );
                continue;
            }
            if fields.contains_key(key) {
                self.err(
                    Diagnostic::error(Code::Duplicate, format!("gate field `{key}` given twice"))
                        .at(b.name.span, "given again here"),
                );
                continue;
            }
            let e = self.expr(&scope, &b.value);
            fields.insert(key, (e, b.name.span));
        }
        let rate = dims::rate();
        let want = |k: &str| match k {
            "alpha" | "beta" => (rate, "a rate (1/time), e.g. `0.1 /ms`"),
            "inf" => (Dim::NONE, "dimensionless (a fraction between 0 and 1)"),
            "q10" => (Dim::NONE, "a plain number (the rate factor per 10 degrees)"),
            "T0" => (dims::temperature(), "a temperature, e.g. `6.3 degC`"),
            _ => (dims::time(), "a time, e.g. `5 ms`"),
        };
        for (k, (e, s)) in fields.iter() {
            let (d, words) = want(k);
            if let Ty::Num(have) = self.m.arena.ty(*e) {
                if have != d {
                    let desc = self.describe(*e);
                    self.err(
                        Diagnostic::error(Code::GateDimension, format!("gate `{k}` must be {words}"))
                            .at(self.m.arena.span(*e), format!("this is {desc}"))
                            .with_label(*s, format!("`{k}` of gate `{}`", g.name.name))
                            .help("alpha and beta are rates in 1/time; inf is a fraction; tau is a time"),
                    );
                    return;
                }
            } else {
                let (e, ty) = (*e, self.m.arena.ty(*e));
                if ty == Ty::Bool {
                    self.bool_as_number(e);
                }
                return;
            }
        }
        let form = match (fields.get("alpha"), fields.get("beta"), fields.get("inf"), fields.get("tau")) {
            (Some(a), Some(b), None, None) => GateForm::AlphaBeta { alpha: a.0, beta: b.0 },
            (None, None, Some(i), Some(t)) => GateForm::InfTau { inf: i.0, tau: t.0 },
            _ => {
                self.err(
                    Diagnostic::error(
                        Code::BadGate,
                        format!("gate `{}` needs `alpha` and `beta`, or `inf` and `tau`", g.name.name),
                    )
                    .at(g.name.span, "incomplete gate")
                    .help("for example: `gate h { alpha = 0.07 /ms * exp(-(V + 65 mV) / 20 mV); beta = 1 /ms / (1 + exp(-(V + 35 mV) / 10 mV)) }`"),
                );
                return;
            }
        };
        // Temperature: rates scale by q10^((celsius - T0) / 10 K).
        let form = match (fields.get("q10").copied(), fields.get("T0").copied()) {
            (None, None) => form,
            (Some((q, _)), Some((t0, _))) => {
                let celsius = self.name(&scope, "celsius", span);
                let diff = self.binary(ast::BinOp::Sub, celsius, t0, span);
                let ten = self.m.arena.add(NodeKind::Const(10.0), Ty::Num(dims::temperature()), span);
                let expo = self.binary(ast::BinOp::Div, diff, ten, span);
                let factor = self.binary(ast::BinOp::Pow, q, expo, span);
                match form {
                    GateForm::AlphaBeta { alpha, beta } => GateForm::AlphaBeta {
                        alpha: self.binary(ast::BinOp::Mul, alpha, factor, span),
                        beta: self.binary(ast::BinOp::Mul, beta, factor, span),
                    },
                    GateForm::InfTau { inf, tau } => {
                        GateForm::InfTau { inf, tau: self.binary(ast::BinOp::Div, tau, factor, span) }
                    }
                }
            }
            (q, t) => {
                let at = q.or(t).map_or(g.name.span, |x| x.1);
                self.err(
                    Diagnostic::error(Code::BadGate, "`q10` and `T0` go together")
                        .at(at, "given alone")
                        .help("give both: `q10 = 3, T0 = 6.3 degC` (rates scale by q10^((celsius - T0) / 10 K))"),
                );
                return;
            }
        };
        // dx/dt and x(0) from the gate's form; synthesized nodes carry the gate's span.
        let a = &mut self.m.arena;
        let x = a.add(NodeKind::Var(Var::State(index)), Ty::Num(Dim::NONE), g.name.span);
        let one = a.add(NodeKind::Const(1.0), Ty::Num(Dim::NONE), span);
        let (rhs, init) = match form {
            GateForm::AlphaBeta { alpha, beta } => {
                let one_minus = a.add(NodeKind::Bin(ast::BinOp::Sub, one, x), Ty::Num(Dim::NONE), span);
                let up = a.add(NodeKind::Bin(ast::BinOp::Mul, alpha, one_minus), Ty::Num(rate), span);
                let down = a.add(NodeKind::Bin(ast::BinOp::Mul, beta, x), Ty::Num(rate), span);
                let rhs = a.add(NodeKind::Bin(ast::BinOp::Sub, up, down), Ty::Num(rate), span);
                let sum = a.add(NodeKind::Bin(ast::BinOp::Add, alpha, beta), Ty::Num(rate), span);
                let init = a.add(NodeKind::Bin(ast::BinOp::Div, alpha, sum), Ty::Num(Dim::NONE), span);
                (rhs, init)
            }
            GateForm::InfTau { inf, tau } => {
                let diff = a.add(NodeKind::Bin(ast::BinOp::Sub, inf, x), Ty::Num(Dim::NONE), span);
                let rhs = a.add(NodeKind::Bin(ast::BinOp::Div, diff, tau), Ty::Num(rate), span);
                (rhs, inf)
            }
        };
        let channel = match self.spaces[space].prefix.trim_end_matches('.') {
            "" => self.m.name.clone(),
            p => p.to_string(),
        };
        self.m.gates.push(Gate { state: index, channel, power: g.power.map_or(1, |p| p.0), form, span });
        let gi = self.m.gates.len() - 1;
        let s = &mut self.m.states[index];
        s.init = init;
        s.dim = Dim::NONE;
        s.rhs = Some(rhs);
        s.rhs_span = span;
        s.gate = Some(gi);
    }

    /// A kinetic scheme: species occupancies with
    /// `dX/dt = sum of (in-flux - out-flux)` built from the reactions.
    fn kinetic(&mut self, space: usize, reactions: &'a [ast::Reaction], span: Span) {
        let scope = Scope { space, locals: &[], mode: Mode::Dynamic };
        let mut species: Vec<usize> = Vec::new();
        let mut lowered = Vec::new();
        for r in reactions {
            let mut ends = [0usize; 2];
            for (k, sp) in [&r.from, &r.to].into_iter().enumerate() {
                let Some(i) = self.state_index(space, &sp.name) else {
                    self.err(
                        Diagnostic::error(
                            Code::OdeNotState,
                            format!("`{}` in a kinetic scheme is not a state", sp.name),
                        )
                        .at(sp.span, "already defined as something else")
                        .help(
                            "species of a kinetic scheme are occupancies: use a fresh name, or declare it with `state`",
                        ),
                    );
                    return;
                };
                if !self.implicit_species.contains(&i)
                    && self.ensure_state_dim(i).is_some_and(|d| !d.is_dimensionless())
                {
                    self.err(
                        Diagnostic::error(Code::ValueDimension, format!("species `{}` must be dimensionless", sp.name))
                            .at(sp.span, "an occupancy: a fraction of channels, without unit")
                            .help("kinetic schemes move fractions that sum to 1; drop the unit of its `state`"),
                    );
                    return;
                }
                ends[k] = i;
                if !species.contains(&i) {
                    species.push(i);
                }
            }
            let f = self.expr(&scope, &r.forward);
            let b = self.expr(&scope, &r.backward);
            for (e, which) in [(f, "forward"), (b, "backward")] {
                match self.m.arena.ty(e) {
                    Ty::Num(d) if d == dims::rate() => {}
                    Ty::Num(_) => {
                        let desc = self.describe(e);
                        self.err(
                            Diagnostic::error(
                                Code::GateDimension,
                                format!("a {which} rate must be a rate (1/time), not {desc}"),
                            )
                            .at(self.m.arena.span(e), format!("this is {desc}"))
                            .help("write reaction rates with a unit of 1/time, e.g. `0.1 /ms`"),
                        );
                        return;
                    }
                    Ty::Bool => {
                        self.bool_as_number(e);
                        return;
                    }
                    Ty::Error => return,
                }
            }
            lowered.push(Reaction { from: ends[0], to: ends[1], forward: f, backward: b, span: r.span });
        }
        let k = self.m.kinetics.len();
        let none = Ty::Num(Dim::NONE);
        let rate = Ty::Num(dims::rate());
        let mut rhs: HashMap<usize, ExprId> = HashMap::new();
        for r in &lowered {
            let a = &mut self.m.arena;
            let x_from = a.add(NodeKind::Var(Var::State(r.from)), none, r.span);
            let x_to = a.add(NodeKind::Var(Var::State(r.to)), none, r.span);
            let out = a.add(NodeKind::Bin(ast::BinOp::Mul, r.forward, x_from), rate, r.span);
            let back = a.add(NodeKind::Bin(ast::BinOp::Mul, r.backward, x_to), rate, r.span);
            let flux = a.add(NodeKind::Bin(ast::BinOp::Sub, out, back), rate, r.span);
            for (sp, op) in [(r.from, ast::BinOp::Sub), (r.to, ast::BinOp::Add)] {
                let next = match rhs.get(&sp) {
                    Some(prev) => self.m.arena.add(NodeKind::Bin(op, *prev, flux), rate, r.span),
                    None if op == ast::BinOp::Add => flux,
                    None => self.m.arena.add(NodeKind::Neg(flux), rate, r.span),
                };
                rhs.insert(sp, next);
            }
        }
        let channel = match self.spaces[space].prefix.trim_end_matches('.') {
            "" => self.m.name.clone(),
            p => p.to_string(),
        };
        for &i in &species {
            let implicit = self.implicit_species.contains(&i);
            // NaN marks "start at the scheme's steady state" for the runtime
            let init = implicit.then(|| self.m.arena.add(NodeKind::Const(f64::NAN), none, span));
            let s = &mut self.m.states[i];
            if let Some(init) = init {
                s.init = init;
                s.dim = Dim::NONE;
            }
            if s.rhs.is_some() {
                continue;
            }
            s.rhs = rhs.get(&i).copied();
            s.rhs_span = span;
            s.kinetic = Some(k);
        }
        self.m.kinetics.push(Kinetic { channel, species, reactions: lowered, span });
    }

    fn ode(&mut self, space: usize, factor: Option<&'a ast::Expr>, state: &ast::Ident, rhs: &'a ast::Expr, span: Span) {
        let scope = Scope { space, locals: &[], mode: Mode::Dynamic };
        let Some(index) = self.state_index(space, &state.name) else {
            let what = match self.spaces[space].entries.get(&state.name).map(|e| e.decl) {
                Some(Decl::Param { .. }) => "a parameter",
                Some(Decl::Value { kind: ValueKind::Input, .. }) => "an input",
                Some(Decl::Value { .. }) => "a derived value",
                Some(Decl::Fn(_)) => "a function",
                _ => "not declared",
            };
            self.err(
                Diagnostic::error(Code::OdeNotState, format!("`d{}/dt`: `{}` is not a state", state.name, state.name))
                    .at(state.span, format!("`{}` is {what}", state.name))
                    .help(format!("declare it as a state with an initial value: `state {} = ...`", state.name)),
            );
            // still check the right side for other errors
            self.expr(&scope, rhs);
            return;
        };
        if self.m.states[index].rhs.is_some() {
            let prev = self.m.states[index].rhs_span;
            self.err(
                Diagnostic::error(Code::DuplicateOde, format!("state `{}` has two ODEs", state.name))
                    .at(span, "second ODE")
                    .with_label(prev, "first ODE"),
            );
            return;
        }
        let mut e = self.expr(&scope, rhs);
        if let Some(f) = factor {
            let fe = self.expr(&scope, f);
            e = self.binary(ast::BinOp::Div, e, fe, span);
        }
        let Ty::Num(have) = self.m.arena.ty(e) else {
            if self.m.arena.ty(e) == Ty::Bool {
                self.bool_as_number(e);
            }
            return;
        };
        let Some(sdim) = self.ensure_state_dim(index) else {
            return; // no initial value: reported there, dimension unknown
        };
        let Some(want) = sdim.div(&dims::time()) else {
            return;
        };
        if have != want {
            let sunit = self.m.states[index].unit.as_ref().map(|u| u.text.clone());
            let want_desc = match &sunit {
                Some(u) => format!("{u}/ms"),
                None => units::pretty(&want),
            };
            let want_q = quantity_desc(&want);
            let have_desc = self.describe(e);
            self.err(
                Diagnostic::error(
                    Code::OdeDimension,
                    format!("`d{}/dt` must be in {want_desc} ({want_q}), but the right side is {have_desc}", state.name),
                )
                .at(self.m.arena.span(e), format!("this is {have_desc}"))
                .with_label(
                    state.span,
                    format!("`{}` is {}", state.name, sunit.unwrap_or_else(|| quantity_desc(&sdim))),
                )
                .help("the right side of dX/dt must have the unit of X per time; check for a missing capacitance or time constant"),
            );
            return;
        }
        let s = &mut self.m.states[index];
        s.rhs = Some(e);
        s.rhs_span = span;
    }

    fn spike_when(
        &mut self,
        space: usize,
        lhs: &'a ast::Expr,
        rhs: &'a ast::Expr,
        direction: ast::Direction,
        span: Span,
    ) {
        let scope = Scope { space, locals: &[], mode: Mode::Dynamic };
        let l = self.expr(&scope, lhs);
        let r = self.expr(&scope, rhs);
        let level = self.binary(ast::BinOp::Sub, l, r, span);
        if self.m.arena.ty(level) == Ty::Error {
            return;
        }
        self.m.events.push(Event {
            trigger: Trigger::Crossing { level, direction },
            actions: vec![Action::Emit { span }],
            span,
        });
    }

    fn on_event(
        &mut self,
        space: usize,
        kind: ast::ModelKind,
        trigger: &'a ast::Trigger,
        actions: &'a [ast::Action],
        span: Span,
    ) {
        let mut locals: Vec<(String, ExprId)> = Vec::new();
        let trig = match trigger {
            ast::Trigger::Spike { weight, port, .. } => {
                let mut weight_dim = None;
                let mut arg_index = None;
                if let Some((w, unit)) = weight {
                    let (_, dim) = self.unit(unit);
                    let d = dim.unwrap_or(Dim::NONE);
                    weight_dim = Some(d);
                    let arg = self.m.event_args.len();
                    arg_index = Some(arg);
                    self.m.event_args.push(w.name.clone());
                    let node = self.m.arena.add(NodeKind::Var(Var::EventArg(arg)), Ty::Num(d), w.span);
                    self.hints.insert(node, unit.text.clone());
                    locals.push((w.name.clone(), node));
                }
                // a synapse inside a neuron receives on a port named after it
                let port = match port {
                    Some(p) => Some(p.name.clone()),
                    None if space != 0 && kind == ast::ModelKind::Synapse => {
                        Some(self.spaces[space].prefix.trim_end_matches('.').to_string())
                    }
                    None => None,
                };
                Trigger::Spike { weight_dim, arg: arg_index, port }
            }
            ast::Trigger::Condition(c) => {
                let scope = Scope { space, locals: &[], mode: Mode::Dynamic };
                let cond = self.expr(&scope, c);
                match self.m.arena.ty(cond) {
                    Ty::Bool => {}
                    Ty::Num(_) => {
                        self.err(
                            Diagnostic::error(Code::NotBoolean, "an event needs a condition")
                                .at(c.span, "this is a number, not a condition")
                                .help("compare it: `on V >= V_th { ... }`"),
                        );
                        return;
                    }
                    Ty::Error => return,
                }
                let level = match self.m.arena.kind(cond).clone() {
                    NodeKind::Bin(ast::BinOp::Ge | ast::BinOp::Gt, a, b) => {
                        Some(self.binary(ast::BinOp::Sub, a, b, c.span))
                    }
                    NodeKind::Bin(ast::BinOp::Le | ast::BinOp::Lt, a, b) => {
                        Some(self.binary(ast::BinOp::Sub, b, a, c.span))
                    }
                    _ => None,
                };
                Trigger::Condition { cond, level }
            }
        };
        let scope = Scope { space, locals: &locals, mode: Mode::Dynamic };
        let mut out = Vec::new();
        for a in actions {
            match a {
                ast::Action::Emit { what, span } => {
                    if what.name != "spike" {
                        self.err(
                            Diagnostic::error(Code::UnknownName, format!("cannot emit `{}`", what.name))
                                .at(what.span, "only `spike` can be emitted")
                                .help("write `emit spike`"),
                        );
                    }
                    out.push(Action::Emit { span: *span });
                }
                ast::Action::Refractory { duration, span } => {
                    let d = self.expr(&scope, duration);
                    if let Ty::Num(dim) = self.m.arena.ty(d) {
                        if dim != dims::time() {
                            let desc = self.describe(d);
                            self.err(
                                Diagnostic::error(Code::ValueDimension, "a refractory period must be a time")
                                    .at(duration.span, format!("this is {desc}"))
                                    .help("write it with a time unit: `refractory 2 ms`"),
                            );
                        }
                    } else if self.m.arena.ty(d) == Ty::Bool {
                        self.bool_as_number(d);
                    }
                    out.push(Action::Refractory { duration: d, span: *span });
                }
                ast::Action::Assign { target, op, value, span } => {
                    let v = self.expr(&scope, value);
                    let Some(index) = self.state_index(space, &target.name) else {
                        if kind == ast::ModelKind::Plasticity
                            && *op == ast::AssignOp::Set
                            && !self.spaces[space].entries.contains_key(&target.name)
                        {
                            out.push(Action::Output { name: target.name.clone(), value: v, span: *span });
                            continue;
                        }
                        let what = match self.spaces[space].entries.get(&target.name).map(|e| e.decl) {
                            Some(Decl::Param { .. }) => Some("a parameter"),
                            Some(Decl::Value { kind: ValueKind::Input, .. }) => Some("an input"),
                            Some(Decl::Value { .. }) => Some("a derived value"),
                            Some(Decl::Fn(_)) => Some("a function"),
                            _ => None,
                        };
                        let d = match what {
                            Some(w) => Diagnostic::error(
                                Code::AssignNotState,
                                format!("an event cannot change `{}`: it is {w}", target.name),
                            )
                            .at(target.span, format!("{w}, constant during the run"))
                            .help("events change states only; to make it change, declare it as a `state`"),
                            None => self.unknown_name(space, &target.name, target.span, &locals),
                        };
                        self.err(d);
                        continue;
                    };
                    let sdim = self.m.states[index].dim;
                    let want = if matches!(op, ast::AssignOp::Mul | ast::AssignOp::Div) { Dim::NONE } else { sdim };
                    if let Ty::Num(have) = self.m.arena.ty(v) {
                        if have != want {
                            let have_s = self.describe(v);
                            let sunit = self.m.states[index]
                                .unit
                                .as_ref()
                                .map(|u| u.text.clone())
                                .unwrap_or_else(|| units::pretty(&sdim));
                            let msg = if want == sdim {
                                format!("`{}` is in {sunit}, but `{}` gives it {have_s}", target.name, op.symbol())
                            } else {
                                format!("`{}` scales `{}` by a plain number, not {have_s}", op.symbol(), target.name)
                            };
                            self.err(
                                Diagnostic::error(Code::ValueDimension, msg)
                                    .at(value_span(&self.m.arena, v), format!("this is {have_s}"))
                                    .with_label(target.span, format!("{sunit} ({})", quantity_desc(&sdim)))
                                    .help(
                                        "the new value must have the state's unit (for `*=` and `/=`: a plain number)",
                                    ),
                            );
                            continue;
                        }
                    }
                    let x = self.m.arena.add(NodeKind::Var(Var::State(index)), Ty::Num(sdim), target.span);
                    let value = match op {
                        ast::AssignOp::Set => v,
                        ast::AssignOp::Add => self.binary(ast::BinOp::Add, x, v, *span),
                        ast::AssignOp::Sub => self.binary(ast::BinOp::Sub, x, v, *span),
                        ast::AssignOp::Mul => self.binary(ast::BinOp::Mul, x, v, *span),
                        ast::AssignOp::Div => self.binary(ast::BinOp::Div, x, v, *span),
                    };
                    match self.m.arena.ty(value) {
                        Ty::Num(d) if d == sdim => out.push(Action::Assign {
                            state: index,
                            value,
                            span: *span,
                            held: *op == ast::AssignOp::Set,
                        }),
                        Ty::Num(_) => {
                            let have = self.describe(v);
                            let sunit = self.m.states[index]
                                .unit
                                .as_ref()
                                .map(|u| u.text.clone())
                                .unwrap_or_else(|| units::pretty(&sdim));
                            self.err(
                                Diagnostic::error(
                                    Code::ValueDimension,
                                    format!("`{}` is {sunit}, but it is assigned {have}", target.name),
                                )
                                .at(value_span(&self.m.arena, v), format!("this is {have}"))
                                .with_label(target.span, format!("{sunit} ({})", quantity_desc(&sdim)))
                                .help("the new value must have the state's unit (for `*=` and `/=`: a plain number)"),
                            );
                        }
                        Ty::Bool => self.bool_as_number(value),
                        Ty::Error => {}
                    }
                }
            }
        }
        self.m.events.push(Event { trigger: trig, actions: out, span });
    }

    /// After every declaration is lowered: the initial-value order, and
    /// warnings for states that never change.
    fn finish_states(&mut self) {
        let assigned: Vec<usize> = self
            .m
            .events
            .iter()
            .flat_map(|e| e.actions.iter())
            .filter_map(|a| match a {
                Action::Assign { state, .. } => Some(*state),
                _ => None,
            })
            .collect();
        let synthetic = matches!(self.m.kind, ast::ModelKind::Channel | ast::ModelKind::Synapse);
        // after an error an ODE may be missing only because it failed to lower
        let quiet = self.diags.has_errors();
        for (i, s) in self.m.states.iter().enumerate() {
            if quiet {
                break;
            }
            let filled = self.m.field.as_ref().is_some_and(|f| {
                i == f.dist || f.coords.iter().any(|c| c.state == i) || f.convs.iter().any(|c| c.state == i)
            }) || self.m.density.as_ref().is_some_and(|d| i == d.var || i == d.output_state);
            let changes = s.rhs.is_some() || assigned.contains(&i);
            let runtime_fills = (synthetic && i == 0) || filled;
            if !changes && !runtime_fills && s.init != ExprId(u32::MAX) {
                self.diags.push(
                    Diagnostic::warning(Code::StateNeverChanges, format!("state `{}` never changes", s.name))
                        .at(s.span, "no ODE and no event changes it")
                        .help(format!("add `d{}/dt = ...`, or make it a `parameter`", s.name)),
                );
            }
        }
        if self.m.states.iter().any(|s| s.init == ExprId(u32::MAX)) {
            return; // reported already
        }
        // Initial values may refer to other states (gates start at their
        // steady state at V(0)): order them, and find cycles.
        let n = self.m.states.len();
        let mut deps: Vec<Vec<usize>> = Vec::with_capacity(n);
        for s in &self.m.states {
            deps.push(self.state_deps(s.init));
        }
        let mut mark = vec![0u8; n];
        let mut order = Vec::new();
        for start in 0..n {
            if let Err(i) = visit(start, &deps, &mut mark, &mut order) {
                let s = &self.m.states[i];
                self.diags.push(
                    Diagnostic::error(Code::Cycle, format!("the initial value of `{}` depends on itself", s.name))
                        .at(self.m.arena.span(s.init), "cyclic initial value")
                        .help("give one of the states a value that does not depend on the others"),
                );
                return;
            }
        }
        self.m.init_order = order;

        fn visit(i: usize, deps: &[Vec<usize>], mark: &mut [u8], order: &mut Vec<usize>) -> Result<(), usize> {
            match mark[i] {
                2 => return Ok(()),
                1 => return Err(i),
                _ => {}
            }
            mark[i] = 1;
            for &d in &deps[i] {
                visit(d, deps, mark, order)?;
            }
            mark[i] = 2;
            order.push(i);
            Ok(())
        }
    }

    /// States an expression depends on, through derived values too.
    fn state_deps(&self, id: ExprId) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stack = vec![id];
        let mut seen_values = Vec::new();
        while let Some(e) = stack.pop() {
            match self.m.arena.kind(e) {
                NodeKind::Var(Var::State(i)) => {
                    if !out.contains(i) {
                        out.push(*i)
                    }
                }
                NodeKind::Var(Var::Value(v)) => {
                    if !seen_values.contains(v) {
                        seen_values.push(*v);
                        if let Some(val) = self.m.values.get(*v) {
                            stack.push(val.expr);
                        }
                    }
                }
                _ => stack.extend(self.m.arena.children(e)),
            }
        }
        out
    }

    /// Network, field, density and brain models: their parameters are
    /// lowered and checked; the rest is recorded for the stages that
    /// simulate them. Model names they refer to must exist.
    fn structural(&mut self, model: &'a ast::Model) {
        for stmt in &model.stmts {
            match &stmt.kind {
                ast::StmtKind::Parameter(bs) => {
                    for b in bs {
                        self.declare(0, &b.name, Decl::Param { ast: b });
                    }
                }
                ast::StmtKind::Population { model: m, .. } => {
                    self.require_model(m);
                    self.m.pending.push(Pending { what: "population".into(), span: stmt.span });
                }
                ast::StmtKind::Connect { via, .. } => {
                    // `via` names a synapse model, or an input port of the
                    // target neurons (`on spike exc(w: nS)`)
                    let is_port = self.lib.models.iter().any(|m| {
                        m.stmts.iter().any(|st| {
                            matches!(&st.kind, ast::StmtKind::On { trigger: ast::Trigger::Spike { port: Some(p), .. }, .. } if p.name == via.name)
                        })
                    });
                    if !is_port && self.lib.get(&via.name).is_none() {
                        self.err(
                            Diagnostic::error(
                                Code::UnknownModel,
                                format!("no input port or model named `{}`", via.name),
                            )
                            .at(via.span, "not found")
                            .help("`via` names an input port of the target neurons (`on spike exc(w: nS) { ... }`)"),
                        );
                    }
                    self.m.pending.push(Pending { what: "connection".into(), span: stmt.span });
                }
                other => self.m.pending.push(Pending { what: stmt_word(other).into(), span: stmt.span }),
            }
        }
        let names = self.spaces[0].order.clone();
        for n in &names {
            self.force(0, n);
        }
    }

    /// A population density: `variable V in [lo, V_th] cells = N`, `drift`
    /// and `diffusion` (values, or functions of the variable), `threshold`,
    /// `reset`, `refractory` and `output rate = flux at V_th`. The variable
    /// becomes state 0 so drift and diffusion lower as ordinary expressions.
    /// With `use N` (a one-dimensional neuron), the drift is N's dV/dt, the
    /// boundaries come from N's `on V >= V_th { V = V_r; ...; refractory T }`,
    /// and the diffusion from the inputs declared `white(mean, sd, tau)`.
    fn density(&mut self, model: &'a ast::Model) {
        let mut variable = None;
        let mut threshold: Option<&'a ast::Binding> = None;
        let mut reset: Option<&'a ast::Binding> = None;
        let mut refractory: Option<&'a ast::Expr> = None;
        let mut output: Option<(&'a ast::Ident, Option<&'a ast::Ident>, Span)> = None;
        let mut uses: Vec<&'a ast::Ident> = Vec::new();
        // inputs `I = white(mean, sd, tau)`: (input, sd, tau)
        let mut noisy: Vec<(&'a ast::Ident, &'a ast::Expr, &'a ast::Expr)> = Vec::new();
        for stmt in &model.stmts {
            match &stmt.kind {
                ast::StmtKind::Variable { var, interval, settings } => {
                    if variable.is_some() {
                        self.err(
                            Diagnostic::error(Code::BadDensity, "a density has one variable")
                                .at(stmt.span, "second variable")
                                .help("a Fokker-Planck density here is one-dimensional: keep one `variable`"),
                        );
                    }
                    variable = Some((var, interval, settings, stmt.span));
                }
                ast::StmtKind::Boundary(parts) => {
                    for part in parts {
                        match part {
                            ast::BoundaryPart::Threshold(b) => {
                                self.declare(0, &b.name, Decl::Param { ast: b });
                                threshold = Some(b);
                            }
                            ast::BoundaryPart::Reset(b) => {
                                self.declare(0, &b.name, Decl::Param { ast: b });
                                reset = Some(b);
                            }
                            ast::BoundaryPart::Refractory(e) => refractory = Some(e),
                        }
                    }
                }
                ast::StmtKind::Output { name, flux_at, value } => {
                    if value.is_some() {
                        self.err(
                            Diagnostic::error(Code::BadDensity, "a density's output is the flux at its threshold")
                                .at(stmt.span, "not a flux")
                                .help("write `output rate = flux at V_th`"),
                        );
                    }
                    output = Some((name, flux_at.as_ref(), stmt.span));
                }
                ast::StmtKind::Use(names) => uses.extend(names.iter()),
                ast::StmtKind::Input(bs) => {
                    for b in bs {
                        if let ExprKind::Call(f, args) = &b.value.kind {
                            if matches!(&f.kind, ExprKind::Name(n) if n == "white") && args.len() == 3 {
                                noisy.push((&b.name, &args[1], &args[2]));
                            }
                        }
                    }
                }
                ast::StmtKind::Gate(_)
                | ast::StmtKind::On { .. }
                | ast::StmtKind::SpikeWhen { .. }
                | ast::StmtKind::Kinetic(_)
                | ast::StmtKind::Current(_) => self.err(
                    Diagnostic::error(Code::NotHere, "this statement does not belong in a `density`")
                        .at(stmt.span, "not allowed here")
                        .help("a density is defined by `variable`, `drift`, `diffusion`, `threshold`/`reset`/`refractory` and `output` (or `use` of a one-dimensional neuron); the compiler derives its dynamics"),
                ),
                _ => {}
            }
        }
        let missing = |what: &str, example: &str| {
            Diagnostic::error(Code::BadDensity, format!("density `{}` has no {what}", model.name.name))
                .at(model.name.span, format!("{what} missing"))
                .help(format!("add `{example}`"))
        };
        let Some((var, interval, settings, _)) = variable else {
            self.err(missing("variable", "variable V in [-30 mV, V_th] cells = 400"));
            return;
        };
        // `use` of rate models: their states and equations run beside the
        // density and drive it; `use` of a neuron: the density derives from it
        let lib = self.lib;
        let drivers: Vec<&'a ast::Model> =
            uses.iter().filter_map(|u| lib.get(&u.name)).filter(|m| m.kind == ast::ModelKind::Rate).collect();
        uses.retain(|u| lib.get(&u.name).is_none_or(|m| m.kind != ast::ModelKind::Rate));
        let neuron = match uses.as_slice() {
            [] => None,
            [one] => match self.density_neuron(one, var) {
                Some(n) => Some(n),
                None => return,
            },
            [_, second, ..] => {
                self.err(
                    Diagnostic::error(Code::BadDensity, "a density is derived from one neuron")
                        .at(second.span, "a second neuron")
                        .help("keep one `use`"),
                );
                return;
            }
        };
        if neuron.is_none() && (threshold.is_none() || reset.is_none()) {
            self.err(missing("threshold and reset", "threshold V_th = 20 mV, reset V_r = 10 mV, refractory 2 ms"));
            return;
        }
        // Everything else the model declares (parameters, inputs, values,
        // functions), then what the neuron declares that the density does not.
        self.collect(0, model);
        for d in &drivers {
            // a driver runs its states and equations only
            if let Some(st) = d.stmts.iter().find(|st| {
                matches!(
                    st.kind,
                    ast::StmtKind::Gate(_)
                        | ast::StmtKind::Kinetic(_)
                        | ast::StmtKind::On { .. }
                        | ast::StmtKind::SpikeWhen { .. }
                        | ast::StmtKind::Method(_)
                        | ast::StmtKind::Use(_)
                )
            }) {
                self.err(
                    Diagnostic::error(
                        Code::NotHere,
                        format!("`{}` cannot drive a density: it has gates, events, kinetics or channels", d.name.name),
                    )
                    .at(st.span, "not supported beside a density")
                    .help("a rate model that drives a density has parameters, inputs, values and ODEs only"),
                );
                return;
            }
            if let Some(n) = &neuron {
                let names = |m: &ast::Model| -> Vec<String> {
                    m.stmts
                        .iter()
                        .flat_map(|st| match &st.kind {
                            ast::StmtKind::Parameter(bs) | ast::StmtKind::Input(bs) => {
                                bs.iter().map(|b| b.name.name.clone()).collect()
                            }
                            ast::StmtKind::Derived(b) => vec![b.name.name.clone()],
                            ast::StmtKind::Fn(f) => vec![f.name.name.clone()],
                            _ => vec![],
                        })
                        .collect()
                };
                let theirs = names(n.model);
                if let Some(clash) = names(d).into_iter().find(|x| theirs.contains(x)) {
                    self.err(
                        Diagnostic::error(
                            Code::Duplicate,
                            format!("`{clash}` is declared by both `{}` and `{}`", d.name.name, n.model.name.name),
                        )
                        .at(d.name.span, "a driver")
                        .help("rename one of them; a density sees both models' names"),
                    );
                    return;
                }
            }
            self.collect(0, d);
        }
        self.drivers = drivers.clone();
        if let Some(n) = &neuron {
            self.collect_missing(n.model);
        }
        let constant = Scope { space: 0, locals: &[], mode: Mode::Constant };
        let lo = self.expr(&constant, &interval.lo);
        let hi = self.expr(&constant, &interval.hi);
        let (Ty::Num(vdim), Ty::Num(hdim)) = (self.m.arena.ty(lo), self.m.arena.ty(hi)) else {
            for b in [lo, hi] {
                if self.m.arena.ty(b) == Ty::Bool {
                    self.bool_as_number(b);
                }
            }
            return;
        };
        if vdim != hdim {
            self.err(
                Diagnostic::error(Code::DimensionMismatch, "the variable's bounds differ in dimension")
                    .at(interval.lo.span, units::pretty(&vdim))
                    .with_label(interval.hi.span, units::pretty(&hdim))
                    .help("give both bounds the same kind of unit: `[-30 mV, V_th]`"),
            );
            return;
        }
        // the variable, as state 0
        let init = self.m.arena.add(NodeKind::Const(f64::NAN), Ty::Num(vdim), var.span);
        let unit = self.hint_of(&interval.lo).or_else(|| self.hint_of(&interval.hi));
        let index = self.m.states.len();
        self.m.states.push(State {
            name: var.name.clone(),
            init,
            dim: vdim,
            unit,
            span: var.span,
            rhs: None,
            rhs_span: var.span,
            gate: None,
            kinetic: None,
            method: None,
        });
        if !self.declare(0, var, Decl::State { index }) {
            return;
        }
        // the output, readable in drift and diffusion (a recurrent
        // population): the rate of the step before
        let out_ident = match output {
            Some((name, _, _)) => name.clone(),
            None => ast::Ident { name: "rate".into(), span: model.name.span },
        };
        let rate_dim = Dim::NONE.div(&dims::time()).unwrap_or(Dim::NONE);
        let out_state = self.filled_state(
            &out_ident.name,
            rate_dim,
            Some(UnitHint { text: "Hz".into(), scale: 1.0 }),
            out_ident.span,
        );
        if !self.declare(0, &out_ident, Decl::State { index: out_state }) {
            return;
        }
        // the ODE states of the density itself and of the models driving it
        let with_odes: Vec<&'a ast::Model> = std::iter::once(model).chain(drivers.iter().copied()).collect();
        for src in &with_odes {
            for stmt in &src.stmts {
                if let ast::StmtKind::State(decls) = &stmt.kind {
                    for d in decls {
                        self.state_init(0, d);
                    }
                }
            }
        }
        let names = self.spaces[0].order.clone();
        for n in &names {
            self.force(0, n);
        }
        let per_time = |d: Dim| d.div(&dims::time());
        let (Some(drift_dim), Some(diffusion_dim)) = (per_time(vdim), vdim.mul(&vdim).and_then(per_time)) else {
            return;
        };
        let declares = |lw: &Self, name: &str| {
            model.stmts.iter().any(|s| match &s.kind {
                ast::StmtKind::Derived(b) => b.name.name == name,
                ast::StmtKind::DerivedFn(f) | ast::StmtKind::Fn(f) => f.name.name == name,
                _ => false,
            }) || (lw.spaces[0].entries.contains_key(name) && neuron.is_none())
        };
        let drift = match &neuron {
            Some(n) if !declares(self, "drift") => {
                let dynamic = Scope { space: 0, locals: &[], mode: Mode::Dynamic };
                let mut e = self.expr(&dynamic, n.rhs);
                if let Some(f) = n.factor {
                    let fe = self.expr(&dynamic, f);
                    e = self.binary(ast::BinOp::Div, e, fe, n.rhs.span);
                }
                self.expect_dim(e, drift_dim, &format!("`{}`'s d{}/dt", n.model.name.name, var.name), n.rhs.span)
            }
            _ => self.density_term(model, "drift", var, index, drift_dim),
        };
        let diffusion = match (&neuron, drift) {
            (Some(_), Some(drift)) if !declares(self, "diffusion") => {
                self.white_diffusion(model, drift, &noisy, diffusion_dim)
            }
            (Some(_), None) => None,
            _ => self.density_term(model, "diffusion", var, index, diffusion_dim),
        };
        // threshold and reset: the boundary's parameters, or the neuron's event
        let bound = |lw: &mut Self, b: &'a ast::Binding| -> Option<ExprId> {
            match lw.force(0, &b.name.name)? {
                Var::Param(i) if lw.m.params[i].dim == vdim => {
                    Some(lw.m.arena.add(NodeKind::Var(Var::Param(i)), Ty::Num(vdim), b.name.span))
                }
                Var::Param(i) => {
                    let have = lw.m.params[i].dim;
                    lw.err(
                        Diagnostic::error(
                            Code::ValueDimension,
                            format!("`{}` must have the variable's dimension ({})", b.name.name, units::pretty(&vdim)),
                        )
                        .at(b.value.span, format!("this is {}", units::pretty(&have)))
                        .help(format!("give it the unit of `{}`", var.name)),
                    );
                    None
                }
                _ => None,
            }
        };
        let from_neuron = |lw: &mut Self, e: &'a ast::Expr, what: &str| -> Option<ExprId> {
            let id = lw.expr(&constant, e);
            lw.expect_dim(id, vdim, what, e.span)
        };
        let (th, rs, threshold_name) = match (&neuron, threshold, reset) {
            (_, Some(t), Some(r)) => (bound(self, t), bound(self, r), Some(t.name.name.clone())),
            (Some(n), _, _) => {
                let name = match &n.threshold.kind {
                    ExprKind::Name(x) => Some(x.clone()),
                    _ => None,
                };
                (from_neuron(self, n.threshold, "the threshold"), from_neuron(self, n.reset, "the reset"), name)
            }
            _ => return,
        };
        let refractory = match (refractory, neuron.as_ref().and_then(|n| n.refractory)) {
            (Some(e), _) | (None, Some(e)) => {
                let id = self.expr(&constant, e);
                self.expect_dim(id, dims::time(), "the refractory period", e.span)
            }
            (None, None) => Some(self.m.arena.add(NodeKind::Const(0.0), Ty::Num(dims::time()), model.name.span)),
        };
        let (mut cells, mut grading) = (None, None);
        for b in settings {
            let id = self.expr(&constant, &b.value);
            let slot = match b.name.name.as_str() {
                "cells" => &mut cells,
                "grading" => &mut grading,
                other => {
                    self.err(
                        Diagnostic::error(Code::BadDensity, format!("unknown grid setting `{other}`"))
                            .at(b.name.span, "not a grid setting")
                            .help("grid settings: `cells = 400` (how many finite volumes), `grading = 4` (cells at the threshold this many times finer than at the lower edge)"),
                    );
                    continue;
                }
            };
            *slot = self.expect_dim(id, Dim::NONE, &format!("`{}`", b.name.name), b.value.span);
        }
        if let Some((name, Some(at), span)) = output {
            if threshold_name.as_deref() != Some(at.name.as_str()) {
                let th_text = threshold_name.clone().unwrap_or_else(|| "the threshold".into());
                self.err(
                    Diagnostic::error(Code::BadDensity, format!("the output is the flux at the threshold `{th_text}`"))
                        .at(at.span, "not the threshold")
                        .with_label(span, "this output")
                        .help(format!("write `output {} = flux at {th_text}`", name.name)),
                );
                return;
            }
        }
        let reads_var = |lw: &Self, e: ExprId| lw.m.reads(e, |v| v == Var::State(index));
        for src in &with_odes {
            for stmt in &src.stmts {
                if let ast::StmtKind::Ode { factor, state, rhs, .. } = &stmt.kind {
                    if state.name == var.name || state.name == out_ident.name {
                        self.err(
                            Diagnostic::error(Code::NotHere, format!("`d{}/dt` does not belong in a `density`", state.name))
                                .at(stmt.span, "not allowed here")
                                .help("the density's variable moves by its drift and diffusion, and its output is the threshold flux: write `drift(V) = ...` instead"),
                        );
                        continue;
                    }
                    self.ode(0, factor.as_ref(), state, rhs, stmt.span);
                    let read = self.state_index(0, &state.name).and_then(|i| {
                        let st = &self.m.states[i];
                        st.rhs
                            .filter(|&r| reads_var(self, r))
                            .or(Some(st.init).filter(|&e| e != ExprId(u32::MAX) && reads_var(self, e)))
                    });
                    if read.is_some() {
                        self.err(
                            Diagnostic::error(Code::BadDensity, format!("`{}` reads the density's variable `{}`", state.name, var.name))
                                .at(stmt.span, "an equation beside the density")
                                .help(format!("states beside a density are the same for the whole population: they cannot depend on `{}`", var.name)),
                        );
                    }
                }
            }
        }
        if let (Some(drift), Some(diffusion), Some(th), Some(reset), Some(refractory)) =
            (drift, diffusion, th, rs, refractory)
        {
            self.m.density = Some(crate::ir::Density {
                var: index,
                lo,
                hi,
                drift,
                diffusion,
                threshold: th,
                reset,
                refractory,
                cells,
                grading,
                output: out_ident.name.clone(),
                output_state: out_state,
                span: model.span,
            });
            self.finish_states();
        }
    }

    /// The neuron of `use N` in a density: one state (the density's
    /// variable) with an ODE, and a threshold event that resets it.
    fn density_neuron(&mut self, name: &ast::Ident, var: &ast::Ident) -> Option<DensityNeuron<'a>> {
        let lib = self.lib;
        let Some(nm) = lib.get(&name.name) else {
            self.require_model(name);
            return None;
        };
        let fail = |lw: &mut Self, msg: String, help: &str| {
            lw.err(Diagnostic::error(Code::BadDensity, msg).at(name.span, "this neuron").help(help.to_string()));
        };
        if nm.kind != ast::ModelKind::Neuron {
            self.err(
                Diagnostic::error(Code::WrongKind, format!("`{}` is a {}, not a neuron", name.name, nm.kind.keyword()))
                    .at(name.span, "not a neuron")
                    .help("a density is derived from a one-dimensional `neuron`"),
            );
            return None;
        }
        let states: Vec<&'a ast::Ident> = nm
            .stmts
            .iter()
            .flat_map(|s| match &s.kind {
                ast::StmtKind::State(ds) => ds.iter().map(|d| &d.name).collect::<Vec<_>>(),
                ast::StmtKind::Gate(g) => vec![&g.name],
                _ => vec![],
            })
            .collect();
        if states.len() != 1
            || nm.stmts.iter().any(|s| matches!(s.kind, ast::StmtKind::Use(_) | ast::StmtKind::Kinetic(_)))
        {
            fail(
                self,
                format!("`{}` is not one-dimensional: it has {} states", name.name, states.len()),
                "a density needs a neuron with one state (its membrane potential) and no channels",
            );
            return None;
        }
        if states[0].name != var.name {
            self.err(
                Diagnostic::error(
                    Code::BadDensity,
                    format!("the density's variable is `{}`, the neuron's state is `{}`", var.name, states[0].name),
                )
                .at(var.span, "not the neuron's state")
                .help(format!("name the variable after the neuron's state: `variable {} in [...]`", states[0].name)),
            );
            return None;
        }
        let ode = nm.stmts.iter().find_map(|s| match &s.kind {
            ast::StmtKind::Ode { factor, state, rhs, .. } if state.name == var.name => Some((factor.as_ref(), rhs)),
            _ => None,
        });
        let Some((factor, rhs)) = ode else {
            fail(self, format!("`{}` has no d{}/dt", name.name, var.name), "the drift is the neuron's dV/dt");
            return None;
        };
        // on V >= V_th { V = V_r; emit spike; refractory t_ref }
        let event = nm.stmts.iter().find_map(|s| {
            let ast::StmtKind::On { trigger: ast::Trigger::Condition(cond), actions } = &s.kind else { return None };
            let ExprKind::Binary(ast::BinOp::Ge | ast::BinOp::Gt, l, r) = &cond.kind else { return None };
            if !matches!(&l.kind, ExprKind::Name(n) if *n == var.name) {
                return None;
            }
            let reset = actions.iter().find_map(|a| match a {
                ast::Action::Assign { target, op: ast::AssignOp::Set, value, .. } if target.name == var.name => {
                    Some(value)
                }
                _ => None,
            })?;
            let refr = actions.iter().find_map(|a| match a {
                ast::Action::Refractory { duration, .. } => Some(duration),
                _ => None,
            });
            Some((r.as_ref(), reset, refr))
        });
        let Some((threshold, reset, refractory)) = event else {
            fail(
                self,
                format!("`{}` has no threshold event that resets `{}`", name.name, var.name),
                "the neuron needs `on V >= V_th { V = V_r; emit spike; refractory t_ref }`",
            );
            return None;
        };
        Some(DensityNeuron { model: nm, factor, rhs, threshold, reset, refractory })
    }

    /// Declares what a used neuron declares and the density does not:
    /// parameters, inputs, values and functions (the density's own win).
    fn collect_missing(&mut self, nm: &'a ast::Model) {
        for stmt in &nm.stmts {
            match &stmt.kind {
                ast::StmtKind::Parameter(bs) => {
                    for b in bs {
                        if !self.spaces[0].entries.contains_key(&b.name.name) {
                            self.declare(0, &b.name, Decl::Param { ast: b });
                        }
                    }
                }
                ast::StmtKind::Input(bs) => {
                    for b in bs {
                        if !self.spaces[0].entries.contains_key(&b.name.name) {
                            self.declare(0, &b.name, Decl::Value { ast: b, kind: ValueKind::Input });
                        }
                    }
                }
                ast::StmtKind::Derived(b) if !self.spaces[0].entries.contains_key(&b.name.name) => {
                    self.declare(0, &b.name, Decl::Value { ast: b, kind: ValueKind::Derived });
                }
                ast::StmtKind::Fn(f) if !self.spaces[0].entries.contains_key(&f.name.name) => {
                    self.declare(0, &f.name, Decl::Fn(f));
                }
                _ => {}
            }
        }
    }

    /// The diffusion of white-noise inputs `I = white(mean, sd, tau)`: each
    /// adds (d drift / d I)^2 sd^2 tau / 2, the derivative symbolic.
    fn white_diffusion(
        &mut self,
        model: &ast::Model,
        drift: ExprId,
        noisy: &[(&'a ast::Ident, &'a ast::Expr, &'a ast::Expr)],
        want: Dim,
    ) -> Option<ExprId> {
        if noisy.is_empty() {
            self.err(
                Diagnostic::error(Code::BadDensity, format!("density `{}` has no noise", model.name.name))
                    .at(model.name.span, "no diffusion")
                    .help("declare the neuron's input as white noise in the density, `input I = white(0.2 nA, 0.05 nA, 20 ms)`: the input is mean + sd sqrt(tau) xi(t); or give `diffusion = ...`"),
            );
            return None;
        }
        let dynamic = Scope { space: 0, locals: &[], mode: Mode::Dynamic };
        let mut total: Option<ExprId> = None;
        for (input, sd, tau) in noisy {
            let Some(Var::Value(i)) = self.force(0, &input.name) else {
                if !self.diags.has_errors() {
                    self.err(
                        Diagnostic::internal(format!("noisy input `{}` did not lower to a value", input.name))
                            .at(input.span, "this input"),
                    );
                }
                return None;
            };
            let slope = match crate::symbolic::diff(&mut self.m, drift, Var::Value(i)) {
                Ok(d) => d,
                Err(why) => {
                    self.err(
                        Diagnostic::internal(format!("d drift / d {}: {why}", input.name)).at(input.span, "this input"),
                    );
                    return None;
                }
            };
            let sd_id = self.expr(&dynamic, sd);
            let tau_id = self.expr(&dynamic, tau);
            let idim = self.m.values[i].dim;
            self.expect_dim(sd_id, idim, "the noise's standard deviation", sd.span)?;
            self.expect_dim(tau_id, dims::time(), "the noise's time scale", tau.span)?;
            let span = input.span;
            let sq = self.binary(ast::BinOp::Mul, slope, slope, span);
            let sd2 = self.binary(ast::BinOp::Mul, sd_id, sd_id, span);
            let a = self.binary(ast::BinOp::Mul, sq, sd2, span);
            let b = self.binary(ast::BinOp::Mul, a, tau_id, span);
            let half = self.m.arena.add(NodeKind::Const(0.5), Ty::Num(Dim::NONE), span);
            let term = self.binary(ast::BinOp::Mul, half, b, span);
            total = Some(match total {
                Some(t) => self.binary(ast::BinOp::Add, t, term, span),
                None => term,
            });
        }
        let total = total?;
        let total = crate::symbolic::simplify(&mut self.m, total);
        self.expect_dim(total, want, "the derived diffusion", self.m.arena.span(total))
    }

    /// `expected(phi, m, v)`: the mean of phi(x) over inputs x with mean m
    /// and variance v, to second order (renormalized rate equations):
    /// phi(m) + phi''(m) v / 2, with phi'' derived symbolically. A hidden
    /// parameter stands for phi's argument while it is differentiated and
    /// is then replaced by m.
    fn expected(&mut self, scope: &Scope, args: &'a [ast::Expr], span: Span) -> ExprId {
        let help = "`expected(phi, m, v)`: phi a function of one argument (`fn phi(x) = ...`), m the input's mean, v its variance";
        let [f, mean, var] = args else {
            self.err(
                Diagnostic::error(Code::Arity, format!("`expected` takes 3 arguments, not {}", args.len()))
                    .at(span, "here")
                    .help(help),
            );
            return self.error_node(span);
        };
        let fd = match &f.kind {
            ExprKind::Name(n) => match self.spaces[scope.space].entries.get(n.as_str()).map(|e| e.decl) {
                Some(Decl::Fn(fd)) if fd.params.len() == 1 => Some(fd),
                _ => None,
            },
            _ => None,
        };
        let Some(fd) = fd else {
            self.err(
                Diagnostic::error(
                    Code::UnknownFunction,
                    "the first argument of `expected` is a function of one argument",
                )
                .at(f.span, "not such a function")
                .help(help),
            );
            return self.error_node(span);
        };
        let m = self.expr(scope, mean);
        let v = self.expr(scope, var);
        let (Ty::Num(md), Ty::Num(vd)) = (self.m.arena.ty(m), self.m.arena.ty(v)) else {
            for x in [m, v] {
                if self.m.arena.ty(x) == Ty::Bool {
                    self.bool_as_number(x);
                }
            }
            return self.error_node(span);
        };
        if md.mul(&md) != Some(vd) {
            self.err(
                Diagnostic::error(
                    Code::DimensionMismatch,
                    format!(
                        "the variance must be the square of the mean's dimension ({}), not {}",
                        units::pretty(&md.mul(&md).unwrap_or(md)),
                        units::pretty(&vd)
                    ),
                )
                .at(var.span, "the variance")
                .with_label(mean.span, "the mean")
                .help("pass the variance s^2, not the standard deviation s"),
            );
            return self.error_node(span);
        }
        let k = self.m.params.len();
        // never read once substituted; 0 keeps the parameter checks quiet
        let zero = self.m.arena.add(NodeKind::Const(0.0), Ty::Num(md), f.span);
        self.m.params.push(crate::ir::Param {
            name: format!("({} argument)", fd.name.name),
            value: zero,
            dim: md,
            unit: None,
            span: f.span,
        });
        let x = self.m.arena.add(NodeKind::Var(Var::Param(k)), Ty::Num(md), f.span);
        let body = self.inline(scope, fd, &[x], f.span, span);
        if self.m.arena.ty(body) == Ty::Error {
            return self.error_node(span);
        }
        let second = crate::symbolic::diff(&mut self.m, body, Var::Param(k))
            .and_then(|d1| crate::symbolic::diff(&mut self.m, d1, Var::Param(k)));
        let d2 = match second {
            Ok(d2) => d2,
            Err(why) => {
                self.err(
                    Diagnostic::error(
                        Code::UnknownFunction,
                        format!("`{}` cannot be differentiated: {why}", fd.name.name),
                    )
                    .at(f.span, "needs a second derivative")
                    .help("`expected` needs phi'' symbolically; write phi with differentiable functions"),
                );
                return self.error_node(span);
            }
        };
        let at_m = crate::symbolic::substitute(&mut self.m, body, Var::Param(k), m);
        let d2_at_m = crate::symbolic::substitute(&mut self.m, d2, Var::Param(k), m);
        let half = self.m.arena.add(NodeKind::Const(0.5), Ty::Num(Dim::NONE), span);
        let hv = self.binary(ast::BinOp::Mul, half, v, span);
        let corr = self.binary(ast::BinOp::Mul, d2_at_m, hv, span);
        let sum = self.binary(ast::BinOp::Add, at_m, corr, span);
        crate::symbolic::simplify(&mut self.m, sum)
    }

    /// A state the runtime fills (a coordinate, a distance, a convolution).
    fn filled_state(&mut self, name: &str, dim: Dim, unit: Option<UnitHint>, span: Span) -> usize {
        let init = self.m.arena.add(NodeKind::Const(f64::NAN), Ty::Num(dim), span);
        self.m.states.push(State {
            name: name.to_string(),
            init,
            dim,
            unit,
            span,
            rhs: None,
            rhs_span: span,
            gate: None,
            kinetic: None,
            method: None,
        });
        self.m.states.len() - 1
    }

    /// A field's `domain` statements: one periodic coordinate each (one or
    /// two), declared as states the runtime fills with each cell's centre.
    fn field_domain(&mut self, model: &'a ast::Model) {
        let constant = Scope { space: 0, locals: &[], mode: Mode::Constant };
        let mut field = crate::ir::Field::default();
        let mut coord_dim = None;
        for stmt in &model.stmts {
            let ast::StmtKind::Domain { var, interval, periodic, settings } = &stmt.kind else { continue };
            if !periodic || !interval.lo_closed || interval.hi_closed {
                self.err(
                    Diagnostic::error(Code::BadField, "a field's domain is periodic: `[lo, hi) periodic`")
                        .at(stmt.span, "not a periodic domain")
                        .help(format!("write `domain {} in [0 mm, 10 mm) periodic, cells = 256`", var.name)),
                );
                continue;
            }
            let lo = self.expr(&constant, &interval.lo);
            let hi = self.expr(&constant, &interval.hi);
            let (Ty::Num(d), Ty::Num(dh)) = (self.m.arena.ty(lo), self.m.arena.ty(hi)) else { continue };
            if d != dh || coord_dim.is_some_and(|c| c != d) {
                self.err(
                    Diagnostic::error(Code::DimensionMismatch, "a field's coordinates and bounds share one dimension")
                        .at(stmt.span, units::pretty(&d))
                        .help("give every bound the same kind of unit, e.g. mm"),
                );
                continue;
            }
            let mut cells = None;
            for b in settings {
                if b.name.name != "cells" {
                    self.err(
                        Diagnostic::error(Code::BadField, format!("unknown domain setting `{}`", b.name.name))
                            .at(b.name.span, "not a domain setting")
                            .help("a domain has one setting: `cells = 256`"),
                    );
                    continue;
                }
                let id = self.expr(&constant, &b.value);
                cells = self.expect_dim(id, Dim::NONE, "`cells`", b.value.span);
            }
            let unit = self.hint_of(&interval.hi).or_else(|| self.hint_of(&interval.lo));
            let state = self.filled_state(&var.name, d, unit, var.span);
            if self.declare(0, var, Decl::State { index: state }) {
                coord_dim = Some(d);
                field.coords.push(crate::ir::Coord { state, lo, hi, cells, span: stmt.span });
            }
        }
        let Some(d) = coord_dim else {
            if !self.diags.has_errors() {
                self.err(
                    Diagnostic::error(Code::BadField, format!("field `{}` has no domain", model.name.name))
                        .at(model.name.span, "no domain")
                        .help("add `domain x in [0 mm, 10 mm) periodic, cells = 256` (and a second for a 2D sheet)"),
                );
            }
            return;
        };
        if field.coords.len() > 2 {
            self.err(
                Diagnostic::error(Code::BadField, "fields have one or two coordinates")
                    .at(field.coords[2].span, "a third coordinate")
                    .help("a ring has one `domain`, a sheet two"),
            );
            return;
        }
        let unit = self.m.states[field.coords[0].state].unit.clone();
        field.dist = self.filled_state("|x - y|", d, unit, model.name.span);
        self.m.field = Some(field);
    }

    /// `conv(w, source)` in a field: the kernel's value at the distance
    /// (lowered once per kernel), and the source as a per-cell expression;
    /// the result is a filled state of dimension [w][source][x]^n.
    fn conv(&mut self, scope: &Scope, args: &'a [ast::Expr], span: Span) -> ExprId {
        let help = "write `conv(w, f(u))` with `kernel w(d) = ...` declared in the field";
        let [k, source] = args else {
            self.err(Diagnostic::error(Code::Arity, "`conv` takes a kernel and a source").at(span, "here").help(help));
            return self.error_node(span);
        };
        let ExprKind::Name(kname) = &k.kind else {
            self.err(
                Diagnostic::error(Code::BadField, "the first argument of `conv` is a kernel's name")
                    .at(k.span, "not a kernel")
                    .help(help),
            );
            return self.error_node(span);
        };
        let Some(field) = self.m.field.clone() else { return self.error_node(span) };
        let kernel = match field.kernels.iter().position(|(n, _)| n == kname) {
            Some(i) => i,
            None => {
                let decl = self.spaces[0].entries.get(kname.as_str()).map(|e| e.decl);
                let is_kernel = self.lib.get(&self.m.name).is_some_and(|m| {
                    m.stmts.iter().any(|s| matches!(&s.kind, ast::StmtKind::Kernel(f) if f.name.name == *kname))
                });
                let Some(Decl::Fn(f)) = decl.filter(|_| is_kernel) else {
                    self.err(
                        Diagnostic::error(Code::BadField, format!("`{kname}` is not a kernel of this field"))
                            .at(k.span, "not a kernel")
                            .help("declare it: `kernel w(d) = 2 * exp(-d^2 / (2 * (0.5 mm)^2)) / 1 mm`"),
                    );
                    return self.error_node(span);
                };
                let dist_dim = self.m.states[field.dist].dim;
                let d = self.m.arena.add(NodeKind::Var(Var::State(field.dist)), Ty::Num(dist_dim), f.name.span);
                let top = Scope { space: 0, locals: &[], mode: Mode::Dynamic };
                let body = self.inline(&top, f, &[d], f.name.span, f.name.span);
                if self.m.arena.ty(body) == Ty::Error {
                    return self.error_node(span);
                }
                if let Some(fl) = self.m.field.as_mut() {
                    fl.kernels.push((kname.clone(), body));
                }
                field.kernels.len()
            }
        };
        let src = self.expr(scope, source);
        let kbody = self.m.field.as_ref().map(|f| f.kernels[kernel].1).unwrap_or(src);
        let (Ty::Num(kd), Ty::Num(sd)) = (self.m.arena.ty(kbody), self.m.arena.ty(src)) else {
            for x in [kbody, src] {
                if self.m.arena.ty(x) == Ty::Bool {
                    self.bool_as_number(x);
                }
            }
            return self.error_node(span);
        };
        let x = self.m.states[field.dist].dim;
        let mut dim = kd.mul(&sd);
        for _ in 0..field.coords.len() {
            dim = dim.and_then(|d| d.mul(&x));
        }
        let Some(dim) = dim else { return self.error_node(span) };
        let state = self.filled_state(&format!("conv({kname}, ...)"), dim, None, span);
        if let Some(fl) = self.m.field.as_mut() {
            fl.convs.push(crate::ir::Conv { kernel, source: src, state, span });
        }
        self.m.arena.add(NodeKind::Var(Var::State(state)), Ty::Num(dim), span)
    }

    /// `drift` or `diffusion`: a value, or a function of the variable alone.
    fn density_term(
        &mut self,
        model: &'a ast::Model,
        name: &str,
        var: &ast::Ident,
        index: usize,
        want: Dim,
    ) -> Option<ExprId> {
        let dynamic = Scope { space: 0, locals: &[], mode: Mode::Dynamic };
        let decl = self.spaces[0].entries.get(name).map(|e| (e.decl, e.span));
        let v = self.m.arena.add(NodeKind::Var(Var::State(index)), Ty::Num(self.m.states[index].dim), var.span);
        let (id, span) = match decl {
            Some((Decl::Fn(f), span)) => (self.inline(&dynamic, f, &[v], f.name.span, f.name.span), span),
            Some((Decl::Value { .. }, span)) => match self.force(0, name) {
                Some(x) => {
                    let ty = self.m.values.get(match x {
                        Var::Value(i) => i,
                        _ => return None,
                    });
                    let ty = ty.map(|v| Ty::Num(v.dim)).unwrap_or(Ty::Error);
                    (self.m.arena.add(NodeKind::Var(x), ty, span), span)
                }
                None => return None,
            },
            _ => {
                let example =
                    if name == "drift" { "drift(V) = (mu - V) / tau" } else { "diffusion = sigma^2 / (2 * tau)" };
                self.err(
                    Diagnostic::error(Code::BadDensity, format!("density `{}` has no {name}", model.name.name))
                        .at(model.name.span, format!("{name} missing"))
                        .help(format!("add `{example}`")),
                );
                return None;
            }
        };
        let what = format!("the {name}");
        self.expect_dim(id, want, &what, span)
    }

    /// `Some(id)` when `id` has dimension `want`; else E0307.
    fn expect_dim(&mut self, id: ExprId, want: Dim, what: &str, span: Span) -> Option<ExprId> {
        match self.m.arena.ty(id) {
            Ty::Num(d) if d == want => Some(id),
            Ty::Num(d) => {
                self.err(
                    Diagnostic::error(
                        Code::ValueDimension,
                        format!(
                            "{what} must be {} ({}), not {}",
                            quantity_desc(&want),
                            units::pretty(&want),
                            units::pretty(&d)
                        ),
                    )
                    .at(span, format!("this is {}", quantity_desc(&d)))
                    .help(format!("check its units: {what} is in {}", units::pretty(&want))),
                );
                None
            }
            Ty::Bool => {
                self.bool_as_number(id);
                None
            }
            Ty::Error => None,
        }
    }

    fn require_model(&mut self, name: &ast::Ident) {
        if self.lib.get(&name.name).is_none() {
            let all = self.lib.all_names();
            let mut d = Diagnostic::error(Code::UnknownModel, format!("no model named `{}`", name.name))
                .at(name.span, "not found");
            if let Some(s) = did_you_mean(&name.name, all.iter().map(String::as_str)) {
                d = d.help(format!("did you mean `{s}`?"));
            } else {
                d = d.help("define it in this file or import the file that defines it");
            }
            self.err(d);
        }
    }

    // ------------------------------------------------------------ expressions

    fn expr(&mut self, scope: &Scope, e: &'a ast::Expr) -> ExprId {
        let span = e.span;
        match &e.kind {
            ExprKind::Number { value, unit } => {
                let (mut v, mut dim) = (*value, Dim::NONE);
                if let Some(u) = unit {
                    let (def, d) = self.unit(u);
                    let Some(d) = d else {
                        return self.error_node(span);
                    };
                    v = v * def.0 + def.1;
                    dim = d;
                    if !v.is_finite() {
                        self.err(
                            Diagnostic::error(Code::BadNumber, "this value overflows after unit conversion")
                                .at(span, "too large in SI units")
                                .help("use a smaller number or a different prefix"),
                        );
                        return self.error_node(span);
                    }
                }
                let id = self.m.arena.add(NodeKind::Const(v), Ty::Num(dim), span);
                if let Some(u) = unit {
                    self.hints.insert(id, u.text.clone());
                }
                id
            }
            ExprKind::Bool(b) => self.m.arena.add(NodeKind::Const(if *b { 1.0 } else { 0.0 }), Ty::Bool, span),
            ExprKind::Name(n) => self.name(scope, n, span),
            ExprKind::Unary(UnOp::Neg, inner) if has_offset_unit(inner) => {
                // `-10 degC` is 263.15 K: negate the number, then convert
                let ExprKind::Number { value, unit: Some(u) } = &inner.kind else {
                    return self.error_node(span);
                };
                let ((scale, offset), dim) = self.unit(u);
                let Some(dim) = dim else { return self.error_node(span) };
                let id = self.m.arena.add(NodeKind::Const(-value * scale + offset), Ty::Num(dim), span);
                self.hints.insert(id, u.text.clone());
                id
            }
            ExprKind::Unary(UnOp::Neg, x) => {
                let x = self.expr(scope, x);
                match self.m.arena.ty(x) {
                    Ty::Num(d) => {
                        let id = self.m.arena.add(NodeKind::Neg(x), Ty::Num(d), span);
                        if let Some(h) = self.hints.get(&x).cloned() {
                            self.hints.insert(id, h);
                        }
                        id
                    }
                    Ty::Bool => {
                        self.bool_as_number(x);
                        self.error_node(span)
                    }
                    Ty::Error => self.error_node(span),
                }
            }
            ExprKind::Unary(UnOp::Not, x) => {
                let x = self.expr(scope, x);
                match self.m.arena.ty(x) {
                    Ty::Bool => self.m.arena.add(NodeKind::Not(x), Ty::Bool, span),
                    Ty::Num(_) => {
                        self.err(
                            Diagnostic::error(Code::NotBoolean, "`not` needs a condition")
                                .at(self.m.arena.span(x), "this is a number")
                                .help("compare it first: `not (V > 0 mV)`"),
                        );
                        self.error_node(span)
                    }
                    Ty::Error => self.error_node(span),
                }
            }
            ExprKind::Binary(op, l, r) => {
                let l = self.expr(scope, l);
                let r = self.expr(scope, r);
                self.binary(*op, l, r, span)
            }
            ExprKind::If(c, a, b) => {
                let c = self.expr(scope, c);
                let a = self.expr(scope, a);
                let b = self.expr(scope, b);
                match self.m.arena.ty(c) {
                    Ty::Bool => {}
                    Ty::Num(_) => {
                        self.err(
                            Diagnostic::error(Code::NotBoolean, "`if` needs a condition")
                                .at(self.m.arena.span(c), "this is a number, not a condition")
                                .help("compare it: `if t > 10 ms then ... else ...`"),
                        );
                        return self.error_node(span);
                    }
                    Ty::Error => return self.error_node(span),
                }
                match (self.m.arena.ty(a), self.m.arena.ty(b)) {
                    (Ty::Num(x), Ty::Num(y)) if x == y => self.m.arena.add(NodeKind::If(c, a, b), Ty::Num(x), span),
                    (Ty::Bool, Ty::Bool) => self.m.arena.add(NodeKind::If(c, a, b), Ty::Bool, span),
                    (Ty::Error, _) | (_, Ty::Error) => self.error_node(span),
                    _ => {
                        let (da, db) = (self.describe(a), self.describe(b));
                        self.err(
                            Diagnostic::error(
                                Code::DimensionMismatch,
                                format!("the branches of `if` differ: {da} and {db}"),
                            )
                            .at(self.m.arena.span(b), format!("this is {db}"))
                            .with_label(self.m.arena.span(a), format!("this is {da}"))
                            .help("both branches must have the same dimension"),
                        );
                        self.error_node(span)
                    }
                }
            }
            ExprKind::Call(callee, args) => self.call(scope, callee, args, span),
            ExprKind::Str(_) => {
                self.err(
                    Diagnostic::error(Code::NotHere, "a string is not a value")
                        .at(span, "strings name data files in `brain` models only")
                        .help("remove the quotes if you meant a name"),
                );
                self.error_node(span)
            }
            ExprKind::Index(..) | ExprKind::Member(..) => {
                self.err(
                    Diagnostic::error(Code::NotHere, "indexing and `.` are not available in this kind of model")
                        .at(span, "only `brain` and `network` models have indexed nodes")
                        .help("refer to a channel's value by its plain name inside the channel"),
                );
                self.error_node(span)
            }
            ExprKind::Error => self.error_node(span),
        }
    }

    fn error_node(&mut self, span: Span) -> ExprId {
        self.m.arena.add(NodeKind::Const(f64::NAN), Ty::Error, span)
    }

    fn bool_as_number(&mut self, id: ExprId) {
        self.err(
            Diagnostic::error(Code::BooleanAsNumber, "a condition is used as a number")
                .at(self.m.arena.span(id), "this is true or false, not a number")
                .help("use `if cond then a else b`, or `step(x)` for a 0/1 switch"),
        );
    }

    /// Resolves a unit: (scale, offset) and its dimension, or reports it.
    fn unit(&mut self, u: &ast::UnitExpr) -> ((f64, f64), Option<Dim>) {
        let mut scale = 1.0;
        let mut dim = Dim::NONE;
        let mut offset = 0.0;
        for f in &u.factors {
            let Some(def) = lookup_unit(&f.name) else {
                let mut d =
                    Diagnostic::error(Code::UnknownUnit, format!("unknown unit `{}`", f.name)).at(f.span, "not a unit");
                let names = units::unit_names();
                let known_name = self.spaces.iter().any(|s| s.entries.contains_key(&f.name));
                let op = unit_operator_before(u, f);
                d = if known_name || (op.is_some() && did_you_mean(&f.name, names.iter().map(String::as_str)).is_none())
                {
                    let op = op.unwrap_or('*');
                    d.help(format!(
                        "a name written straight after a number is read as its unit; to use the value `{0}`, put spaces around `{op}`: `x {op} {0}`",
                        f.name
                    ))
                } else if let Some(s) = did_you_mean(&f.name, names.iter().map(String::as_str)) {
                    d.help(format!("did you mean `{s}`?"))
                } else {
                    d.help(
                        "units are SI names with an optional prefix: mV, ms, uF/cm^2, mS/cm^2, nA, Mohm, Hz, mM, degC",
                    )
                };
                self.err(d);
                return ((f64::NAN, 0.0), None);
            };
            // `2/N`: a name glued to an operator is likely meant as a value
            let glued =
                unit_operator_before(u, f).is_some() || (u.text.starts_with('/') && f.span.start == u.span.start + 1);
            if glued && self.spaces.iter().any(|s| s.entries.contains_key(&f.name)) {
                self.diags.push(
                    Diagnostic::warning(
                        Code::UnitShadowsName,
                        format!("`{}` here is the unit, not the value declared with that name", f.name),
                    )
                    .at(f.span, "read as a unit")
                    .help(format!(
                        "a name written straight after a number is its unit; to use the value `{0}`, put spaces around the operator: `x / {0}`",
                        f.name
                    )),
                );
            }
            let combined = Rational::new(f.power.0, f.power.1)
                .and_then(|p| Some((p, def.dim.powr(p)?)))
                .and_then(|(p, fd)| Some((p, dim.mul(&fd)?)));
            let Some((p, nd)) = combined else {
                self.err(
                    Diagnostic::error(Code::BadExponent, "unit exponents grow too large")
                        .at(u.span, "this unit")
                        .help("write units with small integer or fractional powers, e.g. `cm^2`, `s^(1/2)`"),
                );
                return ((f64::NAN, 0.0), None);
            };
            dim = nd;
            scale *= def.scale.powf(p.to_f64());
            if u.factors.len() == 1 && p == Rational::ONE {
                offset = def.offset;
            }
        }
        ((scale, offset), Some(dim))
    }

    fn name(&mut self, scope: &Scope, n: &str, span: Span) -> ExprId {
        if let Some((_, id)) = scope.locals.iter().rev().find(|(k, _)| k == n) {
            return *id;
        }
        let entry = self.spaces.get(scope.space).and_then(|s| s.entries.get(n)).map(|e| e.decl);
        let var = match entry {
            Some(Decl::Fn(_)) => {
                self.err(
                    Diagnostic::error(Code::Arity, format!("`{n}` is a function; call it with arguments"))
                        .at(span, "a function, not a value")
                        .help(format!("write `{n}(...)`")),
                );
                return self.error_node(span);
            }
            Some(_) => match self.force(scope.space, n) {
                Some(v) => v,
                None => return self.error_node(span),
            },
            None => match n {
                "t" => Var::Time,
                "pi" => return self.m.arena.add(NodeKind::Const(std::f64::consts::PI), Ty::Num(Dim::NONE), span),
                "celsius" if scope.space == 0 => {
                    // the model's temperature: 6.3 degC unless it declares one
                    let idx = self.ambient_celsius(span);
                    Var::Param(idx)
                }
                "currents" if scope.space == 0 && !self.m.channels.is_empty() => match self.currents_value(span) {
                    Some(i) => Var::Value(i),
                    None => return self.error_node(span),
                },
                _ => {
                    let d = self.unknown_name(scope.space, n, span, scope.locals);
                    self.err(d);
                    return self.error_node(span);
                }
            },
        };
        if scope.mode == Mode::Constant && !matches!(var, Var::Param(_)) {
            let d = match self.constant_what {
                Some(what) => {
                    Diagnostic::error(Code::NotHere, format!("{what} cannot depend on `{n}`, which changes in time"))
                        .at(span, "not a constant")
                        .help("write it with numbers, units and parameters")
                }
                None => Diagnostic::error(
                    Code::NotHere,
                    format!("a parameter cannot depend on `{n}`, which changes in time"),
                )
                .at(span, "not a constant")
                .help("make the dependent quantity a derived value: `name = expr` without `parameter`"),
            };
            self.err(d);
            return self.error_node(span);
        }
        let (ty, hint) = match var {
            Var::Param(i) => {
                self.m.params.get(i).map(|p| (Ty::Num(p.dim), p.unit.clone())).unwrap_or((Ty::Error, None))
            }
            Var::State(i) => match self.ensure_state_dim(i) {
                Some(d) => (Ty::Num(d), self.m.states[i].unit.clone()),
                None => (Ty::Error, None),
            },
            Var::Value(i) => {
                self.m.values.get(i).map(|v| (Ty::Num(v.dim), v.unit.clone())).unwrap_or((Ty::Error, None))
            }
            Var::Time => (Ty::Num(dims::time()), Some(UnitHint { text: "ms".into(), scale: 1e-3 })),
            Var::EventArg(_) => (Ty::Error, None),
        };
        let id = self.m.arena.add(NodeKind::Var(var), ty, span);
        if let Some(h) = hint {
            self.hints.insert(id, h.text);
        }
        id
    }

    /// A state's dimension, lowering its initial value first if needed
    /// (states may be used above their declaration; gates are dimensionless).
    fn ensure_state_dim(&mut self, index: usize) -> Option<Dim> {
        let s = self.m.states.get(index)?;
        if s.gate.is_some() || s.init != ExprId(u32::MAX) {
            return Some(s.dim);
        }
        let space = *self.state_space.get(&index)?;
        let local = s.name.strip_prefix(self.spaces[space].prefix.as_str())?.to_string();
        match self.find_state_decl(space, &local)? {
            StateSource::Gate => Some(Dim::NONE),
            StateSource::Decl(d) => {
                if self.init_busy.contains(&index) {
                    let span = self.m.states[index].span;
                    self.err(
                        Diagnostic::error(Code::Cycle, format!("the initial value of `{local}` depends on itself"))
                            .at(span, "cyclic initial value")
                            .help("give the state an initial value that does not refer to itself"),
                    );
                    return None;
                }
                self.state_init(space, d);
                let s = &self.m.states[index];
                (s.init != ExprId(u32::MAX)).then_some(s.dim)
            }
        }
    }

    fn find_state_decl(&self, space: usize, n: &str) -> Option<StateSource<'a>> {
        let model = if space == 0 {
            self.lib.get(&self.m.name)?
        } else {
            let name = self.spaces[space].prefix.trim_end_matches('.');
            self.lib.get(name)?
        };
        // a density's states may come from the rate models it `use`s
        let extra = if space == 0 { self.drivers.as_slice() } else { &[] };
        for s in model.stmts.iter().chain(extra.iter().flat_map(|m| m.stmts.iter())) {
            match &s.kind {
                ast::StmtKind::State(ds) => {
                    if let Some(d) = ds.iter().find(|d| d.name.name == n) {
                        return Some(StateSource::Decl(d));
                    }
                }
                ast::StmtKind::Gate(g) if g.name.name == n => return Some(StateSource::Gate),
                ast::StmtKind::Kinetic(rs) if rs.iter().any(|r| r.from.name == n || r.to.name == n) => {
                    return Some(StateSource::Gate)
                }
                _ => {}
            }
        }
        None
    }

    fn ambient_celsius(&mut self, span: Span) -> usize {
        if let Some(i) = self.m.param("celsius") {
            return i;
        }
        let value = self.m.arena.add(NodeKind::Const(273.15 + 6.3), Ty::Num(dims::temperature()), span);
        self.m.params.push(Param {
            name: "celsius".into(),
            value,
            dim: dims::temperature(),
            unit: Some(UnitHint { text: "degC".into(), scale: 1.0 }),
            span,
        });
        self.m.params.len() - 1
    }

    /// `currents`: the sum of the currents of every channel in `use`.
    fn currents_value(&mut self, span: Span) -> Option<usize> {
        match self.currents {
            Slot::Done(i) => return Some(i),
            Slot::Failed | Slot::Busy => return None,
            Slot::Todo => {}
        }
        self.currents = Slot::Busy;
        let mut sum: Option<ExprId> = None;
        let mut first: Option<(Dim, Span, String)> = None;
        let mut failed = false;
        for sp in 1..self.spaces.len() {
            let names = self.spaces[sp].currents.clone();
            for c in names {
                let Some(Var::Value(i)) = self.force(sp, &c) else {
                    failed = true;
                    continue;
                };
                let (dim, vspan, vname) = {
                    let v = &self.m.values[i];
                    (v.dim, v.span, v.name.clone())
                };
                if let Some((d0, s0, n0)) = &first {
                    if *d0 != dim {
                        self.err(
                            Diagnostic::error(
                                Code::CurrentDimension,
                                format!("channel currents disagree: `{n0}` is {} but `{vname}` is {}", quantity_desc(d0), quantity_desc(&dim)),
                            )
                            .at(vspan, units::pretty(&dim))
                            .with_label(*s0, units::pretty(d0))
                            .help("all channels of one neuron must give currents of one kind (e.g. all densities in uA/cm^2)"),
                        );
                        self.currents = Slot::Failed;
                        return None;
                    }
                } else {
                    first = Some((dim, vspan, vname.clone()));
                }
                let var = self.m.arena.add(NodeKind::Var(Var::Value(i)), Ty::Num(dim), span);
                sum = Some(match sum {
                    None => var,
                    Some(s) => self.m.arena.add(NodeKind::Bin(ast::BinOp::Add, s, var), Ty::Num(dim), span),
                });
            }
        }
        let (Some(expr), Some((dim, _, _))) = (sum, first) else {
            if failed {
                self.currents = Slot::Failed;
                return None;
            }
            self.err(
                Diagnostic::error(Code::UnknownName, "`currents` is used, but no channel defines a current")
                    .at(span, "nothing to sum")
                    .help("each channel in `use` needs a `current i = ...`"),
            );
            self.currents = Slot::Failed;
            return None;
        };
        self.m.values.push(Value { name: "currents".into(), kind: ValueKind::Current, expr, dim, unit: None, span });
        let i = self.m.values.len() - 1;
        self.currents = Slot::Done(i);
        Some(i)
    }

    fn unknown_name(&self, space: usize, n: &str, span: Span, locals: &[(String, ExprId)]) -> Diagnostic {
        let mut candidates: Vec<String> = self.spaces[space].entries.keys().cloned().collect();
        candidates.extend(locals.iter().map(|(k, _)| k.clone()));
        candidates.push("t".into());
        if space == 0 && !self.m.channels.is_empty() {
            candidates.push("currents".into());
        }
        let mut d = Diagnostic::error(Code::UnknownName, format!("unknown name `{n}`")).at(span, "not defined");
        if let Some(s) = did_you_mean(n, candidates.iter().map(String::as_str)) {
            d = d.help(format!("did you mean `{s}`?"));
        } else if n == "currents" {
            d = d.help("`currents` is the sum of the currents of the channels in `use`; this model uses none");
        } else if lookup_unit(n).is_some() {
            d = d.help(format!("`{n}` is a unit; units follow a number: `1 {n}`"));
        } else {
            d = d.help("declare it as a `parameter`, `state`, `input` or derived value (`name = expr`)");
        }
        d
    }

    fn call(&mut self, scope: &Scope, callee: &'a ast::Expr, args: &'a [ast::Expr], span: Span) -> ExprId {
        let ExprKind::Name(fname) = &callee.kind else {
            self.err(
                Diagnostic::error(Code::UnknownFunction, "only named functions can be called")
                    .at(callee.span, "not a function name"),
            );
            return self.error_node(span);
        };
        if fname == "conv" && self.m.field.is_some() {
            return self.conv(scope, args, span);
        }
        if fname == "white" && self.m.kind == ast::ModelKind::Density && args.len() == 3 {
            // `input I = white(mean, sd, tau)`: the input's value is its mean;
            // the density derives its diffusion from sd and tau
            return self.expr(scope, &args[0]);
        }
        if fname == "expected" && !self.spaces[scope.space].entries.contains_key("expected") {
            return self.expected(scope, args, span);
        }
        let user = match self.spaces.get(scope.space).and_then(|s| s.entries.get(fname.as_str())).map(|e| e.decl) {
            Some(Decl::Fn(f)) => Some(f),
            Some(_) => {
                self.err(
                    Diagnostic::error(Code::UnknownFunction, format!("`{fname}` is a value, not a function"))
                        .at(callee.span, "cannot be called")
                        .help("define a function with `fn name(x) = ...`"),
                );
                return self.error_node(span);
            }
            None => None,
        };
        let arg_ids: Vec<ExprId> = args.iter().map(|a| self.expr(scope, a)).collect();
        if arg_ids.iter().any(|a| self.m.arena.ty(*a) == Ty::Error) {
            return self.error_node(span);
        }
        if let Some(f) = user {
            return self.inline(scope, f, &arg_ids, callee.span, span);
        }
        self.builtin(fname, &arg_ids, callee.span, span)
    }

    fn arity_error(
        &mut self,
        name: &str,
        want: usize,
        got: usize,
        callee: Span,
        span: Span,
        def: Option<Span>,
    ) -> ExprId {
        let mut d = Diagnostic::error(
            Code::Arity,
            format!(
                "`{name}` takes {want} argument{}, but {got} {} given",
                plural(want),
                if got == 1 { "was" } else { "were" }
            ),
        )
        .at(span, format!("{got} argument{}", plural(got)))
        .help(format!("call it with {want} argument{}", plural(want)));
        if let Some(s) = def {
            d = d.with_label(s, "defined here");
        } else {
            d = d.with_label(callee, "builtin function");
        }
        self.err(d);
        self.error_node(span)
    }

    fn inline(&mut self, scope: &Scope, f: &'a ast::FnDef, args: &[ExprId], callee: Span, span: Span) -> ExprId {
        if f.params.len() != args.len() {
            return self.arity_error(&f.name.name, f.params.len(), args.len(), callee, span, Some(f.name.span));
        }
        let key = format!("{}{}", self.spaces[scope.space].prefix, f.name.name);
        if self.fn_stack.contains(&key) {
            self.err(
                Diagnostic::error(Code::Cycle, format!("function `{}` calls itself", f.name.name))
                    .at(callee, "recursive call")
                    .with_label(f.name.span, "defined here")
                    .help("functions are inlined and cannot be recursive"),
            );
            return self.error_node(span);
        }
        if args.iter().any(|a| self.m.arena.ty(*a) == Ty::Bool) {
            let a = args.iter().find(|a| self.m.arena.ty(**a) == Ty::Bool).copied().unwrap_or(args[0]);
            self.bool_as_number(a);
            return self.error_node(span);
        }
        let locals: Vec<(String, ExprId)> = f.params.iter().map(|p| p.name.clone()).zip(args.iter().copied()).collect();
        self.fn_stack.push(key);
        let before = self.diags.list.len();
        let inner = Scope { space: scope.space, locals: &locals, mode: scope.mode };
        let body = self.expr(&inner, &f.body);
        self.fn_stack.pop();
        // errors inside the body: point at the call too
        for d in &mut self.diags.list[before..] {
            if !d.secondary.iter().any(|(s, _)| *s == callee) {
                d.secondary.push((callee, format!("in this call of `{}`", f.name.name)));
            }
        }
        body
    }

    fn builtin(&mut self, name: &str, args: &[ExprId], callee: Span, span: Span) -> ExprId {
        let one = |b| (b, 1usize);
        let (b, n) = match name {
            "exp" => one(Builtin::Exp),
            "log" | "ln" => one(Builtin::Log),
            "log10" => one(Builtin::Log10),
            "sin" => one(Builtin::Sin),
            "cos" => one(Builtin::Cos),
            "tan" => one(Builtin::Tan),
            "tanh" => one(Builtin::Tanh),
            "sinh" => one(Builtin::Sinh),
            "cosh" => one(Builtin::Cosh),
            "atan" => one(Builtin::Atan),
            "sqrt" => one(Builtin::Sqrt),
            "abs" => one(Builtin::Abs),
            "step" => one(Builtin::Step),
            "sign" => one(Builtin::Sign),
            "min" => (Builtin::Min, 2),
            "max" => (Builtin::Max, 2),
            "vtrap" => (Builtin::Efun, 2),
            "pow" => (Builtin::Exp, 2),
            _ => {
                let mut names: Vec<String> = BUILTINS.iter().map(|s| s.to_string()).collect();
                for sp in &self.spaces {
                    for (k, e) in &sp.entries {
                        if matches!(e.decl, Decl::Fn(_)) {
                            names.push(k.clone());
                        }
                    }
                }
                let mut d = Diagnostic::error(Code::UnknownFunction, format!("unknown function `{name}`"))
                    .at(callee, "not a function");
                d = match did_you_mean(name, names.iter().map(String::as_str)) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => {
                        d.help(format!("builtins: {}; define your own with `fn name(x) = ...`", BUILTINS.join(", ")))
                    }
                };
                self.err(d);
                return self.error_node(span);
            }
        };
        if args.len() != n {
            return self.arity_error(name, n, args.len(), callee, span, None);
        }
        if let Some(a) = args.iter().find(|a| self.m.arena.ty(**a) == Ty::Bool) {
            self.bool_as_number(*a);
            return self.error_node(span);
        }
        let dims_of: Vec<Dim> = args.iter().filter_map(|a| self.m.arena.ty(*a).dim()).collect();
        match name {
            "pow" => self.binary(ast::BinOp::Pow, args[0], args[1], span),
            "vtrap" => {
                // vtrap(x, y) = x / (exp(x / y) - 1) = y * efun(x / y)
                if dims_of[0] != dims_of[1] {
                    return self.mismatch("vtrap", args[0], args[1], span);
                }
                let u = self.binary(ast::BinOp::Div, args[0], args[1], span);
                let e = self.m.arena.add(NodeKind::Call(Builtin::Efun, vec![u]), Ty::Num(Dim::NONE), span);
                self.binary(ast::BinOp::Mul, args[1], e, span)
            }
            "min" | "max" => {
                if dims_of[0] != dims_of[1] {
                    return self.mismatch(name, args[0], args[1], span);
                }
                self.m.arena.add(NodeKind::Call(b, args.to_vec()), Ty::Num(dims_of[0]), span)
            }
            "sqrt" => match dims_of[0].powr(Rational::new(1, 2).unwrap_or(Rational::ONE)) {
                Some(d) => self.m.arena.add(NodeKind::Call(b, args.to_vec()), Ty::Num(d), span),
                None => self.error_node(span),
            },
            "abs" => self.m.arena.add(NodeKind::Call(b, args.to_vec()), Ty::Num(dims_of[0]), span),
            "step" | "sign" => self.m.arena.add(NodeKind::Call(b, args.to_vec()), Ty::Num(Dim::NONE), span),
            _ => {
                if !dims_of[0].is_dimensionless() {
                    let desc = self.describe(args[0]);
                    self.err(
                        Diagnostic::error(
                            Code::NeedsDimensionless,
                            format!("`{name}` needs a dimensionless argument, not {desc}"),
                        )
                        .at(self.m.arena.span(args[0]), format!("this is {desc}"))
                        .with_label(callee, format!("`{name}` of a dimensioned value"))
                        .help(format!(
                            "divide by a scale of the same unit, e.g. `{name}(x / {})`",
                            self.hints.get(&args[0]).map(|h| format!("1 {h}")).unwrap_or_else(|| "(1 mV)".into())
                        )),
                    );
                    return self.error_node(span);
                }
                self.m.arena.add(NodeKind::Call(b, args.to_vec()), Ty::Num(Dim::NONE), span)
            }
        }
    }

    fn mismatch(&mut self, what: &str, a: ExprId, b: ExprId, span: Span) -> ExprId {
        let (da, db) = (self.describe(a), self.describe(b));
        self.err(
            Diagnostic::error(Code::DimensionMismatch, format!("the arguments of `{what}` differ: {da} and {db}"))
                .at(self.m.arena.span(b), format!("this is {db}"))
                .with_label(self.m.arena.span(a), format!("this is {da}"))
                .help("both arguments must have the same dimension"),
        );
        self.error_node(span)
    }

    /// A checked binary operation.
    fn binary(&mut self, op: ast::BinOp, l: ExprId, r: ExprId, span: Span) -> ExprId {
        use ast::BinOp::*;
        let (tl, tr) = (self.m.arena.ty(l), self.m.arena.ty(r));
        if tl == Ty::Error || tr == Ty::Error {
            return self.error_node(span);
        }
        if matches!(op, And | Or) {
            for (t, id) in [(tl, l), (tr, r)] {
                if t != Ty::Bool {
                    self.err(
                        Diagnostic::error(
                            Code::NotBoolean,
                            format!("`{}` needs conditions on both sides", op.symbol()),
                        )
                        .at(self.m.arena.span(id), "this is a number")
                        .help("compare numbers first: `V > 0 mV and t > 5 ms`"),
                    );
                    return self.error_node(span);
                }
            }
            return self.m.arena.add(NodeKind::Bin(op, l, r), Ty::Bool, span);
        }
        for id in [l, r] {
            if self.m.arena.ty(id) == Ty::Bool {
                self.bool_as_number(id);
                return self.error_node(span);
            }
        }
        let (Some(dl), Some(dr)) = (tl.dim(), tr.dim()) else {
            return self.error_node(span);
        };
        let ty = match op {
            Add | Sub | Lt | Le | Gt | Ge | Eq | Ne => {
                if dl != dr {
                    let (a, b) = (self.describe(l), self.describe(r));
                    let verb = match op {
                        Add => "add",
                        Sub => "subtract",
                        _ => "compare",
                    };
                    let (prep, x, y) =
                        if op == Sub { ("from", b.clone(), a.clone()) } else { ("and", a.clone(), b.clone()) };
                    self.err(
                        Diagnostic::error(Code::DimensionMismatch, format!("cannot {verb} {x} {prep} {y}"))
                            .at(self.m.arena.span(r), format!("this is {b}"))
                            .with_label(self.m.arena.span(l), format!("this is {a}"))
                            .help(format!("both sides of `{}` must have the same dimension", op.symbol())),
                    );
                    return self.error_node(span);
                }
                if op.is_comparison() {
                    Ty::Bool
                } else {
                    Ty::Num(dl)
                }
            }
            Mul => match dl.mul(&dr) {
                Some(d) => Ty::Num(d),
                None => return self.exponent_overflow(span),
            },
            Div => match dl.div(&dr) {
                Some(d) => Ty::Num(d),
                None => return self.exponent_overflow(span),
            },
            Pow => {
                if !dr.is_dimensionless() {
                    let desc = self.describe(r);
                    self.err(
                        Diagnostic::error(
                            Code::NeedsDimensionless,
                            format!("an exponent must be dimensionless, not {desc}"),
                        )
                        .at(self.m.arena.span(r), format!("this is {desc}"))
                        .help("divide the exponent by a scale of the same unit"),
                    );
                    return self.error_node(span);
                }
                if dl.is_dimensionless() {
                    Ty::Num(Dim::NONE)
                } else {
                    let Some(p) = self.const_fold(r) else {
                        let desc = self.describe(l);
                        self.err(
                            Diagnostic::error(
                                Code::NonConstantExponent,
                                format!("the exponent of a dimensioned base ({desc}) must be a constant number"),
                            )
                            .at(self.m.arena.span(r), "not a constant")
                            .with_label(self.m.arena.span(l), format!("this is {desc}"))
                            .help("the result's unit depends on the exponent, so it must be known at compile time: write a number such as `^3` or `^0.5`"),
                        );
                        return self.error_node(span);
                    };
                    let Some(q) = Rational::from_f64(p, 100) else {
                        self.err(
                            Diagnostic::error(
                                Code::BadExponent,
                                format!("exponent {p} of a dimensioned base is not a simple fraction"),
                            )
                            .at(self.m.arena.span(r), "use an integer or a fraction like 1/2")
                            .help("units can only be raised to rational powers with small denominators"),
                        );
                        return self.error_node(span);
                    };
                    match dl.powr(q) {
                        Some(d) => Ty::Num(d),
                        None => return self.exponent_overflow(span),
                    }
                }
            }
            And | Or => Ty::Bool,
        };
        self.m.arena.add(NodeKind::Bin(op, l, r), ty, span)
    }

    fn exponent_overflow(&mut self, span: Span) -> ExprId {
        self.err(
            Diagnostic::error(Code::BadExponent, "unit exponents grow too large")
                .at(span, "here")
                .help("simplify the expression"),
        );
        self.error_node(span)
    }

    /// The value of an expression made of literals only.
    fn const_fold(&self, id: ExprId) -> Option<f64> {
        let a = &self.m.arena;
        Some(match a.kind(id) {
            NodeKind::Const(v) => *v,
            NodeKind::Neg(x) => -self.const_fold(*x)?,
            NodeKind::Bin(op, l, r) => {
                let (x, y) = (self.const_fold(*l)?, self.const_fold(*r)?);
                match op {
                    ast::BinOp::Add => x + y,
                    ast::BinOp::Sub => x - y,
                    ast::BinOp::Mul => x * y,
                    ast::BinOp::Div => x / y,
                    ast::BinOp::Pow => x.powf(y),
                    _ => return None,
                }
            }
            _ => return None,
        })
    }

    /// The unit hint of a declaration's value, when it is a literal or a
    /// name with one.
    fn hint_of(&self, e: &ast::Expr) -> Option<UnitHint> {
        match &e.kind {
            ExprKind::Number { unit: Some(u), .. } => {
                let mut scale = 1.0;
                for f in &u.factors {
                    let def = lookup_unit(&f.name)?;
                    scale *= def.scale.powf(f.power.0 as f64 / f.power.1 as f64);
                }
                let offset = if u.factors.len() == 1 { lookup_unit(&u.factors[0].name)?.offset } else { 0.0 };
                if offset != 0.0 {
                    return Some(UnitHint { text: u.text.clone(), scale: 1.0 });
                }
                Some(UnitHint { text: u.text.clone(), scale })
            }
            ExprKind::Unary(UnOp::Neg, x) => self.hint_of(x),
            ExprKind::Name(n) => {
                let i = self.m.param(n)?;
                self.m.params[i].unit.clone()
            }
            ExprKind::Binary(ast::BinOp::Add | ast::BinOp::Sub, l, r) => self.hint_of(l).or_else(|| self.hint_of(r)),
            _ => None,
        }
    }

    /// How to show an expression's unit in a message: the user's own units
    /// where known, with what the dimension measures.
    fn describe(&self, id: ExprId) -> String {
        let ty = self.m.arena.ty(id);
        let Some(dim) = ty.dim() else {
            return "a condition".into();
        };
        let own = self.user_units(id, 0);
        let q = quantity_desc(&dim);
        let si = units::pretty(&dim);
        match own {
            Some(u) if u != "1" => {
                let u = if u.starts_with('/') { format!("1{u}") } else { u };
                if u == si || dim.is_dimensionless() || q == si {
                    format!("{u} ({q})")
                } else {
                    format!("{u} ({q}, {si})")
                }
            }
            _ if dim.is_dimensionless() => "dimensionless".into(),
            _ if q == si => si,
            _ => format!("{si} ({q})"),
        }
    }

    fn user_units(&self, id: ExprId, depth: usize) -> Option<String> {
        if depth > 6 {
            return None;
        }
        if let Some(h) = self.hints.get(&id) {
            return Some(h.clone());
        }
        let a = &self.m.arena;
        match a.kind(id) {
            NodeKind::Neg(x) => self.user_units(*x, depth + 1),
            NodeKind::Bin(ast::BinOp::Add | ast::BinOp::Sub, l, r) => {
                self.user_units(*l, depth + 1).or_else(|| self.user_units(*r, depth + 1))
            }
            NodeKind::Bin(op @ (ast::BinOp::Mul | ast::BinOp::Div), l, r) => {
                let dl = a.ty(*l).dim()?;
                let dr = a.ty(*r).dim()?;
                let lu = if dl.is_dimensionless() { None } else { Some(self.user_units(*l, depth + 1)?) };
                let ru = if dr.is_dimensionless() { None } else { Some(self.user_units(*r, depth + 1)?) };
                match (lu, ru, op) {
                    (Some(x), Some(y), ast::BinOp::Mul) => Some(format!("{x}*{y}")),
                    (Some(x), Some(y), _) => {
                        Some(if y.contains(['*', '/']) { format!("{x}/({y})") } else { format!("{x}/{y}") })
                    }
                    (Some(x), None, _) => Some(x),
                    (None, Some(y), ast::BinOp::Mul) => Some(y),
                    (None, Some(y), _) => {
                        Some(if y.contains(['*', '/']) { format!("1/({y})") } else { format!("1/{y}") })
                    }
                    (None, None, _) => Some("1".into()),
                }
            }
            NodeKind::If(_, x, _) => self.user_units(*x, depth + 1),
            NodeKind::Const(_) if a.ty(id).dim().is_some_and(|d| d.is_dimensionless()) => Some("1".into()),
            _ => None,
        }
    }
}

fn has_offset_unit(e: &ast::Expr) -> bool {
    matches!(&e.kind, ExprKind::Number { unit: Some(u), .. }
        if u.factors.len() == 1 && lookup_unit(&u.factors[0].name).is_some_and(|d| d.offset != 0.0))
}

/// Keywords that begin statements; `parameter = 3` is a mistake, not a
/// derived value named `parameter`.
const STATEMENT_WORDS: &[&str] = &["parameter", "state", "input", "fn", "gate", "current", "use", "kinetic", "method"];

/// The operator written right before a unit factor (`/` in `1/tau`).
fn unit_operator_before(u: &ast::UnitExpr, f: &ast::UnitFactor) -> Option<char> {
    let offset = (f.span.start.checked_sub(u.span.start)?) as usize;
    u.text.get(..offset)?.chars().last().filter(|c| matches!(c, '/' | '*'))
}

enum StateSource<'a> {
    Decl(&'a ast::StateDecl),
    Gate,
}

fn value_span(a: &Arena, id: ExprId) -> Span {
    a.span(id)
}

/// The form of a `table` statement (or `--table`): a closed range and one
/// setting, `step`. Returns the step's expression (when there is exactly
/// one) and E0218 for whatever is wrong; `span` is the whole statement.
pub fn table_step<'s>(
    span: Span,
    var: &ast::Ident,
    interval: &ast::Interval,
    settings: &'s [ast::Binding],
) -> (Option<&'s ast::Expr>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    if !interval.lo_closed || !interval.hi_closed {
        diags.push(
            Diagnostic::error(Code::BadTable, "a table's range includes both ends")
                .at(span, "an open end")
                .help(format!("write it closed: `table {} in [-100 mV, 100 mV], step = 0.1 mV`", var.name)),
        );
    }
    let mut step = None;
    for b in settings {
        if b.name.name != "step" {
            diags.push(
                Diagnostic::error(Code::BadTable, format!("unknown table setting `{}`", b.name.name))
                    .at(b.name.span, "not a table setting")
                    .help("a table has one setting, the spacing of its points: `step = 0.1 mV`"),
            );
        } else if step.is_some() {
            diags.push(
                Diagnostic::error(Code::BadTable, "a table has one `step`")
                    .at(b.name.span, "a second step")
                    .help("keep one: `step = 0.1 mV`"),
            );
        } else {
            step = Some(&b.value);
        }
    }
    if step.is_none() {
        diags.push(
            Diagnostic::error(Code::BadTable, "a table needs the spacing of its points")
                .at(span, "no `step`")
                .help(format!("add it: `table {} in [-100 mV, 100 mV], step = 0.1 mV`", var.name)),
        );
    }
    (step, diags)
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// What a dimension measures, or its SI form when it has no common name.
pub fn quantity_desc(d: &Dim) -> String {
    quantity_name(d).map(str::to_string).unwrap_or_else(|| units::pretty(d))
}

fn stmt_word(s: &ast::StmtKind) -> &'static str {
    use ast::StmtKind::*;
    match s {
        State(_) => "state",
        Ode { .. } => "ODE",
        Domain { .. } => "domain",
        Kernel(_) => "kernel",
        Variable { .. } => "density variable",
        Boundary(_) => "boundary condition",
        Output { .. } => "output",
        Couple { .. } => "coupling",
        Observe(_) => "observation model",
        Data(_) => "data files",
        Drive { .. } => "drive",
        Record(_) => "recording",
        Derived(_) | DerivedFn(_) => "definition",
        _ => "statement",
    }
}

pub const BUILTINS: &[&str] = &[
    "exp", "log", "log10", "sqrt", "sin", "cos", "tan", "tanh", "sinh", "cosh", "atan", "abs", "min", "max", "step",
    "sign", "vtrap", "pow",
];

/// Lowers and evaluates a constant expression (a simulation setting or a
/// `--set` value): literals, units, arithmetic and builtins, no names.
pub fn lower_constant(e: &ast::Expr) -> (Option<(f64, Dim)>, Diagnostics) {
    let lib = Library::default();
    let mut lw = Lower {
        lib: &lib,
        m: Model::new(String::new(), ast::ModelKind::Rate, e.span),
        diags: Diagnostics::default(),
        spaces: vec![Space { prefix: String::new(), entries: HashMap::new(), order: vec![], currents: vec![] }],
        hints: HashMap::new(),
        fn_stack: Vec::new(),
        currents: Slot::Todo,
        state_space: HashMap::new(),
        init_tried: std::collections::HashSet::new(),
        init_busy: std::collections::HashSet::new(),
        implicit_species: std::collections::HashSet::new(),
        drivers: Vec::new(),
        constant_what: None,
    };
    let scope = Scope { space: 0, locals: &[], mode: Mode::Constant };
    let id = lw.expr(&scope, e);
    let result = match lw.m.arena.ty(id) {
        Ty::Num(d) if !lw.diags.has_errors() => {
            let env = crate::ir::eval::Env { t: 0.0, states: &[], params: &[], values: &[], args: &[] };
            Some((crate::ir::eval::eval(&lw.m, id, &env), d))
        }
        Ty::Bool => {
            lw.bool_as_number(id);
            None
        }
        _ => None,
    };
    (result, lw.diags)
}
