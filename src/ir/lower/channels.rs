//! Channels flattened into a neuron (`use`), gates turned into ODEs and
//! initial values (with q10), `currents`, the ambient temperature, and
//! rate tables.

use super::*;

impl<'a> Lower<'a> {
    /// `table V in [lo, hi], step = h`: the state, and its bounds and step
    /// as constant expressions in the state's dimension. The numbers are
    /// checked when the kernel is built (they may use parameters).
    pub(super) fn rate_tables(&mut self, model: &'a ast::Model) {
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

    /// Declares a used channel's names in a space of its own; returns the
    /// channel, to be lowered once every channel is declared.
    pub(super) fn use_channel(&mut self, host: &'a ast::Model, name: &'a ast::Ident) -> Option<&'a ast::Model> {
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
            return None;
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
            return None;
        }
        if host.kind != ast::ModelKind::Neuron {
            self.err(
                Diagnostic::error(Code::NotHere, "only neurons `use` channels")
                    .at(name.span, "used here")
                    .help("move the `use` into a neuron model"),
            );
            return None;
        }
        if self.m.channels.contains(&name.name) {
            self.err(
                Diagnostic::error(Code::Duplicate, format!("channel `{}` is used twice", name.name))
                    .at(name.span, "used again here"),
            );
            return None;
        }
        self.m.channels.push(name.name.clone());
        let space = self.spaces.len();
        self.spaces.push(Space {
            prefix: format!("{}.", name.name),
            entries: HashMap::new(),
            order: vec![],
            currents: vec![],
            ions: vec![],
        });
        self.collect(space, ch);
        self.check_ions(space);
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
        Some(ch)
    }

    pub(super) fn gate(&mut self, space: usize, g: &'a ast::Gate, span: Span) {
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

    pub(super) fn ambient_celsius(&mut self, span: Span) -> usize {
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
    pub(super) fn currents_value(&mut self, span: Span) -> Option<usize> {
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
