//! Expressions: literals with units, names, operators with their
//! dimension rules, builtins, and `fn` inlining.

use super::*;

impl<'a> Lower<'a> {
    /// Lowers an expression. The recursion follows the expression (through
    /// inlined functions too) and stops at `MAX_DEPTH` levels, as does the
    /// depth of the IR it builds: deeper is E0102.
    pub(super) fn expr(&mut self, scope: &Scope, e: &'a ast::Expr) -> ExprId {
        if self.nesting >= MAX_DEPTH {
            return self.too_deep(e.span);
        }
        self.nesting += 1;
        let mut id = self.expr_kind(scope, e);
        self.nesting -= 1;
        if self.m.arena.depth(id) > MAX_DEPTH {
            id = self.too_deep(e.span);
        }
        if self.nesting == 0 {
            self.deep_reported = false;
        }
        id
    }

    /// E0102, once per expression lowered (its other too-deep parts are
    /// left unreported).
    #[cold]
    fn too_deep(&mut self, span: Span) -> ExprId {
        if std::mem::replace(&mut self.deep_reported, true) {
            return self.error_node(span);
        }
        let inlined = if self.fn_stack.is_empty() { "" } else { " (functions are inlined where they are called)" };
        let mut d = Diagnostic::error(
            Code::TooDeep,
            format!("this expression nests more than {MAX_DEPTH} levels deep{inlined}"),
        )
        .at(span, "too deep here")
        .help("split it into named derived values (`a = ...`, `b = ...`): a value read by name counts as one level");
        if let Some(&outer) = self.fn_calls.first() {
            d = d.with_label(outer, "inlined from this call");
        }
        self.err(d);
        self.error_node(span)
    }

    fn expr_kind(&mut self, scope: &Scope, e: &'a ast::Expr) -> ExprId {
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

    pub(super) fn error_node(&mut self, span: Span) -> ExprId {
        self.m.arena.add(NodeKind::Const(f64::NAN), Ty::Error, span)
    }

    pub(super) fn bool_as_number(&mut self, id: ExprId) {
        self.err(
            Diagnostic::error(Code::BooleanAsNumber, "a condition is used as a number")
                .at(self.m.arena.span(id), "this is true or false, not a number")
                .help("use `if cond then a else b`, or `step(x)` for a 0/1 switch"),
        );
    }

    pub(super) fn name(&mut self, scope: &Scope, n: &str, span: Span) -> ExprId {
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
                _ => match self.ion_symbol(scope.space, n, span) {
                    Some(Some(v)) => v,
                    Some(None) => return self.error_node(span),
                    None => {
                        let d = self.unknown_name(scope.space, n, span, scope.locals);
                        self.err(d);
                        return self.error_node(span);
                    }
                },
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

    pub(super) fn unknown_name(&self, space: usize, n: &str, span: Span, locals: &[(String, ExprId)]) -> Diagnostic {
        let d = Diagnostic::error(Code::UnknownName, format!("unknown name `{n}`")).at(span, "not defined");
        // the same unknown name (outside functions) gets the same help: it
        // is searched for among the space's names once
        let key = (space, n.to_string());
        if locals.is_empty() {
            if let Some(help) = self.unknown_help.borrow().get(&key) {
                return d.help(help.clone());
            }
        }
        let mut candidates: Vec<&str> = self.spaces[space].entries.keys().map(String::as_str).collect();
        candidates.extend(locals.iter().map(|(k, _)| k.as_str()));
        candidates.push("t");
        if space == 0 && !self.m.channels.is_empty() {
            candidates.push("currents");
        }
        let help = if let Some(s) = did_you_mean(n, candidates.into_iter()) {
            format!("did you mean `{s}`?")
        } else if n == "currents" {
            "`currents` is the sum of the currents of the channels in `use`; this model uses none".to_string()
        } else if lookup_unit(n).is_some() {
            format!("`{n}` is a unit; units follow a number: `1 {n}`")
        } else {
            "declare it as a `parameter`, `state`, `input` or derived value (`name = expr`)".to_string()
        };
        if locals.is_empty() {
            self.unknown_help.borrow_mut().insert(key, help.clone());
        }
        d.help(help)
    }

    pub(super) fn call(&mut self, scope: &Scope, callee: &'a ast::Expr, args: &'a [ast::Expr], span: Span) -> ExprId {
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

    pub(super) fn arity_error(
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

    pub(super) fn inline(
        &mut self,
        scope: &Scope,
        f: &'a ast::FnDef,
        args: &[ExprId],
        callee: Span,
        span: Span,
    ) -> ExprId {
        if f.params.len() != args.len() {
            return self.arity_error(&f.name.name, f.params.len(), args.len(), callee, span, Some(f.name.span));
        }
        let key = format!("{}{}", self.spaces[scope.space].prefix, f.name.name);
        if self.fn_stack.len() >= MAX_INLINE {
            return self.calls_too_deep(f, callee, span);
        }
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
        // the same function of the same arguments is the same expression
        let memo = (key.clone(), scope.mode == Mode::Constant, args.to_vec());
        if let Some(&body) = self.inlined.get(&memo) {
            return body;
        }
        let locals: Vec<(String, ExprId)> = f.params.iter().map(|p| p.name.clone()).zip(args.iter().copied()).collect();
        self.fn_stack.push(key);
        self.fn_calls.push(callee);
        let before = self.diags.list.len();
        let inner = Scope { space: scope.space, locals: &locals, mode: scope.mode };
        let body = self.expr(&inner, &f.body);
        self.fn_stack.pop();
        self.fn_calls.pop();
        if self.diags.list.len() == before {
            self.inlined.insert(memo, body);
        }
        // errors inside the body: point at the call too (the innermost
        // calls, when functions call each other deeply)
        for d in &mut self.diags.list[before..] {
            let calls = d.secondary.iter().filter(|(_, l)| l.starts_with("in this call of")).count();
            if d.code != Code::TooDeep && calls < 8 && !d.secondary.iter().any(|(s, _)| *s == callee) {
                d.secondary.push((callee, format!("in this call of `{}`", f.name.name)));
            }
        }
        body
    }

    /// E0102 for the call that would inline functions more than
    /// `MAX_INLINE` deep, pointing at the outermost call of the chain too.
    #[cold]
    fn calls_too_deep(&mut self, f: &ast::FnDef, callee: Span, span: Span) -> ExprId {
        let outer = self.fn_calls.first().copied();
        let mut d = Diagnostic::error(Code::TooDeep, "functions call each other too deeply")
            .at(callee, format!("this call of `{}` would be the {}th inside each other", f.name.name, MAX_INLINE + 1))
            .help(format!(
                "functions are inlined where they are called, at most {MAX_INLINE} calls deep; compute an inner result once as a named derived value and use it"
            ));
        if let Some(o) = outer {
            d = d.with_label(o, "the outermost call");
        }
        self.err(d);
        self.error_node(span)
    }

    pub(super) fn builtin(&mut self, name: &str, args: &[ExprId], callee: Span, span: Span) -> ExprId {
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

    pub(super) fn mismatch(&mut self, what: &str, a: ExprId, b: ExprId, span: Span) -> ExprId {
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
    pub(super) fn binary(&mut self, op: ast::BinOp, l: ExprId, r: ExprId, span: Span) -> ExprId {
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
            Div if self.const_fold(r) == Some(0.0) => {
                self.err(
                    Diagnostic::error(Code::DivisionByZero, "division by zero")
                        .at(self.m.arena.span(r), "this is 0")
                        .with_label(span, "divided here")
                        .help("a time constant, capacitance or scale must not be zero; check the value and its unit"),
                );
                return self.error_node(span);
            }
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

    pub(super) fn exponent_overflow(&mut self, span: Span) -> ExprId {
        self.err(
            Diagnostic::error(Code::BadExponent, "unit exponents grow too large")
                .at(span, "here")
                .help("simplify the expression"),
        );
        self.error_node(span)
    }

    /// The value of an expression made of literals only.
    pub(super) fn const_fold(&self, id: ExprId) -> Option<f64> {
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
}
