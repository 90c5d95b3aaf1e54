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

mod channels;
mod ions;
pub use channels::table_step;
mod density;
mod events;
mod expected;
mod expr;
mod field;
mod kinetic;
mod order;
mod states;
mod unit_text;

use super::*;
use crate::diag::{did_you_mean, Code, Diagnostic, Diagnostics};
use crate::resolve::Library;
use crate::syntax::ast::{self, ExprKind, UnOp};
use crate::units::{self, dims, lookup_unit, quantity_name, Dim, Rational};
use std::collections::HashMap;

/// Lowers one model of the library to IR.
pub fn lower_model(lib: &Library, model: &ast::Model) -> (Option<Model>, Diagnostics) {
    let mut lw = Lower::new(lib, Model::new(model.name.name.clone(), model.kind, model.span));
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
    /// Which ion carries which of its currents (`ion` statements).
    ions: Vec<ions::IonDecl>,
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
    /// The functions being inlined (innermost last), and where each was called.
    fn_stack: Vec<String>,
    fn_calls: Vec<Span>,
    /// Inlined bodies by (function, constant mode, arguments): a function
    /// called again with the same arguments is not lowered again.
    inlined: HashMap<(String, bool, Vec<ExprId>), ExprId>,
    /// How deep `expr` has recursed (at most `MAX_DEPTH`), and whether the
    /// expression being lowered was reported too deep already.
    nesting: usize,
    deep_reported: bool,
    /// How many declarations (`force`, `state_init`) are being lowered
    /// inside each other: one or two after the pre-pass (`order.rs`), at
    /// most `order::MAX_LOWERING`.
    lowering: usize,
    /// Declarations and states the pre-pass found on a cycle: asked for
    /// while another is lowered, they report the cycle (E0205).
    cyclic: std::collections::HashSet<(usize, String)>,
    cyclic_states: std::collections::HashSet<usize>,
    /// Parameter names to indices, for `hint_of` (the first `n` parameters).
    param_names: std::cell::RefCell<(usize, HashMap<String, usize>)>,
    /// The help line of E0201 for each unknown name of a space.
    unknown_help: std::cell::RefCell<HashMap<(usize, String), String>>,
    currents: Slot,
    /// Each ion's current (`i_ca`), summed once.
    ion_currents: HashMap<String, Slot>,
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
    /// The model being lowered (its state declarations, for models that
    /// no library holds: a cell's membranes).
    root: Option<&'a ast::Model>,
}

fn is_point(kind: ast::ModelKind) -> bool {
    use ast::ModelKind::*;
    matches!(kind, Channel | Neuron | Synapse | Plasticity | Rate | Field)
}

impl<'a> Lower<'a> {
    fn new(lib: &'a Library, m: Model) -> Lower<'a> {
        Lower {
            lib,
            m,
            diags: Diagnostics::default(),
            spaces: Vec::new(),
            hints: HashMap::new(),
            fn_stack: Vec::new(),
            fn_calls: Vec::new(),
            inlined: HashMap::new(),
            nesting: 0,
            deep_reported: false,
            lowering: 0,
            cyclic: std::collections::HashSet::new(),
            cyclic_states: std::collections::HashSet::new(),
            param_names: Default::default(),
            unknown_help: Default::default(),
            currents: Slot::Todo,
            ion_currents: HashMap::new(),
            state_space: HashMap::new(),
            init_tried: std::collections::HashSet::new(),
            init_busy: std::collections::HashSet::new(),
            implicit_species: std::collections::HashSet::new(),
            drivers: Vec::new(),
            constant_what: None,
            root: None,
        }
    }

    fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn run(&mut self, model: &'a ast::Model) {
        self.root = Some(model);
        self.spaces.push(Space {
            prefix: String::new(),
            entries: HashMap::new(),
            order: vec![],
            currents: vec![],
            ions: vec![],
        });
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
        self.check_ions(0);
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
        // every channel's names first, then their definitions: one channel
        // may read what another declares (a calcium pool's `ca_i`)
        let used: Vec<&'a ast::Model> = uses.into_iter().filter_map(|u| self.use_channel(model, u)).collect();
        for ch in used {
            self.lower_all(ch);
        }
        self.lower_all(model);
        if model.kind == ast::ModelKind::Neuron {
            self.rate_tables(model);
        }
    }

    fn declare(&mut self, space: usize, name: &ast::Ident, decl: Decl<'a>) -> bool {
        if let (Decl::Fn(_), true) = (decl, BUILTINS.contains(&name.name.as_str())) {
            self.err(
                Diagnostic::error(Code::Duplicate, format!("`{}` is a builtin function", name.name))
                    .at(name.span, "a second definition of a builtin")
                    .help(format!("give your function its own name, e.g. `my_{}`", name.name)),
            );
            return false;
        }
        // a channel (synapse) reads its host's `V` (`V_post`); declaring it
        // would make a second, unconnected potential
        let kind = match space {
            0 => Some(self.m.kind),
            _ => self.lib.get(self.spaces[space].prefix.trim_end_matches('.')).map(|m| m.kind),
        };
        let host_potential = matches!(
            (kind, name.name.as_str()),
            (Some(ast::ModelKind::Channel), "V") | (Some(ast::ModelKind::Synapse), "V_post")
        );
        if let (true, Decl::State { .. } | Decl::Param { .. } | Decl::Value { .. }) = (host_potential, decl) {
            let kind = kind.map_or("channel", |k| k.keyword());
            self.err(
                Diagnostic::error(
                    Code::Duplicate,
                    format!("`{}` is the membrane potential of the neuron that uses this {kind}", name.name),
                )
                .at(name.span, "declared here")
                .help(format!("a {kind} reads `{}` from its host neuron; remove this declaration", name.name)),
            );
            return false;
        }
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
                ast::StmtKind::Ion { ion, currents } => self.declare_ion(space, model, ion, currents.as_deref()),
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

    /// Lowers all declarations, ODEs, gates and events of the model in the
    /// last space registered for it.
    fn lower_all(&mut self, model: &'a ast::Model) {
        let space = self.space_of(model);
        self.lower_in_order(space, model, true);
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
        self.lowering += 1;
        let var = self.force_in(space, name);
        self.lowering -= 1;
        var
    }

    /// `force`, counted in `lowering`.
    fn force_in(&mut self, space: usize, name: &str) -> Option<Var> {
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
        if matches!(decl, Decl::Param { .. } | Decl::Value { .. }) && self.cut_short(space, name, span) {
            return None;
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
                    // target neurons (`on spike exc(w: nS)`), or a cell's
                    // synapse site
                    let is_port = self.lib.models.iter().any(|m| {
                        m.stmts.iter().any(|st| match &st.kind {
                            ast::StmtKind::On { trigger: ast::Trigger::Spike { port: Some(p), .. }, .. } => {
                                p.name == via.name
                            }
                            ast::StmtKind::Site { name, .. } => name.name == via.name,
                            _ => false,
                        })
                    });
                    if !is_port && self.lib.get(&via.name).is_none() {
                        self.err(
                            Diagnostic::error(
                                Code::UnknownModel,
                                format!("no input port or model named `{}`", via.name),
                            )
                            .at(via.span, "not found")
                            .help("`via` names an input port of the target neurons (`on spike exc(w: nS) { ... }`) or a synapse site of the target cells"),
                        );
                    }
                    self.m.pending.push(Pending { what: "connection".into(), span: stmt.span });
                }
                ast::StmtKind::BrainRegion { model: m, .. } => {
                    self.require_model(m);
                    self.m.pending.push(Pending { what: "region".into(), span: stmt.span });
                }
                other => self.m.pending.push(Pending { what: stmt_word(other).into(), span: stmt.span }),
            }
        }
        self.lower_in_order(0, model, false);
        let names = self.spaces[0].order.clone();
        for n in &names {
            self.force(0, n);
        }
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
        Noise { .. } => "noise",
        Observe(_) => "observation model",
        Data(_) => "data files",
        Drive { .. } => "drive",
        Record(_) => "recording",
        Derived(_) | DerivedFn(_) => "definition",
        Send { .. } => "send",
        _ => "statement",
    }
}

/// How deep functions may be inlined into each other (E0102 beyond).
pub const MAX_INLINE: usize = 256;

pub const BUILTINS: &[&str] = &[
    "exp", "log", "log10", "sqrt", "sin", "cos", "tan", "tanh", "sinh", "cosh", "atan", "abs", "min", "max", "step",
    "sign", "vtrap", "pow",
];

/// Lowers and evaluates a constant expression (a simulation setting or a
/// `--set` value): literals, units, arithmetic and builtins, no names.
pub fn lower_constant(e: &ast::Expr) -> (Option<(f64, Dim)>, Diagnostics) {
    let lib = Library::default();
    let mut lw = Lower::new(&lib, Model::new(String::new(), ast::ModelKind::Rate, e.span));
    lw.spaces.push(Space {
        prefix: String::new(),
        entries: HashMap::new(),
        order: vec![],
        currents: vec![],
        ions: vec![],
    });
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
