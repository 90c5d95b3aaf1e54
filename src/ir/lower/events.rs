//! Events: `spike when`, `on CONDITION { ... }`, `on spike PORT(w) { ... }`,
//! their actions and the dimension of every assignment.

use super::*;

impl<'a> Lower<'a> {
    pub(super) fn spike_when(
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

    // Long (about 185 lines) on purpose: an event's trigger, its arguments
    // and each kind of action, lowered in order into one `Event`.
    pub(super) fn on_event(
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
                // `on hazard(RHO)`, grafted into `RHO > escape(K)`
                let hazard = matches!(&c.kind, ast::ExprKind::Binary(ast::BinOp::Gt, _, rhs)
                    if matches!(&rhs.kind, ast::ExprKind::Name(n) if crate::ir::noise::is_escape_param(n)));
                let level = match self.m.arena.kind(cond).clone() {
                    NodeKind::Bin(ast::BinOp::Ge | ast::BinOp::Gt, a, b) => {
                        Some(self.binary(ast::BinOp::Sub, a, b, c.span))
                    }
                    NodeKind::Bin(ast::BinOp::Le | ast::BinOp::Lt, a, b) => {
                        Some(self.binary(ast::BinOp::Sub, b, a, c.span))
                    }
                    _ => None,
                };
                if hazard {
                    Trigger::Hazard { cond }
                } else {
                    Trigger::Condition { cond, level }
                }
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
}
