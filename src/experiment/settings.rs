//! Settings as values: constants with their units checked, spreads over a
//! population, whole counts, methods, the run's time grid, and `--table`.
//! Every setting of a `simulate` block, a network statement or a flag goes
//! through [`Ctx`], so each is checked once, the same way, with its span.

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::ir::{self, Method};
use crate::runtime::spikegen::Spread;
use crate::source::Span;
use crate::syntax::ast;
use crate::units::{self, Dim};
use crate::Compiled;

/// Collects the diagnostics of one experiment's configuration.
pub(crate) struct Ctx<'c> {
    pub c: &'c Compiled,
    pub diags: Diagnostics,
    /// Parameters a setting may refer to (a network's `parameter K = 100`).
    pub scope: Vec<ast::Binding>,
}

impl<'c> Ctx<'c> {
    pub fn new(c: &'c Compiled) -> Ctx<'c> {
        Ctx { c, diags: Diagnostics::default(), scope: Vec::new() }
    }

    pub fn fail(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// A bad simulation setting (E0503) at `span`; `None` to return.
    pub fn reject<T>(
        &mut self,
        message: impl Into<String>,
        span: Span,
        label: impl Into<String>,
        help: impl Into<String>,
    ) -> Option<T> {
        self.fail(Diagnostic::error(Code::BadSetting, message).at(span, label).help(help));
        None
    }

    /// E0503 for a setting that is none of `known`, with the closest one.
    pub fn unknown<T>(&mut self, what: &str, name: &ast::Ident, known: &[&str], help: &str) -> Option<T> {
        let d = Diagnostic::error(Code::BadSetting, format!("unknown {what} `{}`", name.name))
            .at(name.span, "not a setting");
        let d = match crate::diag::did_you_mean(&name.name, known.iter().copied()) {
            Some(s) => d.help(format!("did you mean `{s}`? {help}")),
            None => d.help(help.to_string()),
        };
        self.fail(d);
        None
    }

    /// A constant expression in unit `want` (E0307 otherwise). It may name
    /// the parameters in `scope`.
    pub fn constant(&mut self, expr: &ast::Expr, want: Dim, what: &str) -> Option<f64> {
        let (v, d) = if self.scope.is_empty() { ir::lower::lower_constant(expr) } else { self.scoped_constant(expr) };
        self.diags.extend(d);
        let (v, dim) = v?;
        if dim != want {
            self.fail(
                Diagnostic::error(
                    Code::ValueDimension,
                    format!(
                        "{what} must be {} ({}), not {}",
                        ir::lower::quantity_desc(&want),
                        units::pretty(&want),
                        units::pretty(&dim)
                    ),
                )
                .at(expr.span, format!("this is {}", ir::lower::quantity_desc(&dim)))
                .help(format!(
                    "give it a unit of {}, e.g. {}",
                    ir::lower::quantity_desc(&want),
                    example_unit(&want)
                )),
            );
            return None;
        }
        Some(v)
    }

    /// A constant that may name the parameters in `scope`: lowered as one
    /// more parameter of a model holding them, so names and units are
    /// checked as everywhere else.
    fn scoped_constant(&self, expr: &ast::Expr) -> (Option<(f64, Dim)>, Diagnostics) {
        let span = expr.span;
        let value = ast::Binding { name: ast::Ident { name: "(setting)".into(), span }, value: expr.clone() };
        let mut stmts: Vec<ast::Stmt> = self
            .scope
            .iter()
            .map(|b| ast::Stmt { kind: ast::StmtKind::Parameter(vec![b.clone()]), span: b.name.span })
            .collect();
        stmts.push(ast::Stmt { kind: ast::StmtKind::Parameter(vec![value]), span });
        let model = ast::Model {
            kind: ast::ModelKind::Rate,
            name: ast::Ident { name: "(settings)".into(), span },
            stmts,
            span,
        };
        let (m, d) = ir::lower::lower_model(&self.c.library, &model);
        let Some(m) = m else { return (None, d) };
        let params = ir::eval::eval_params(&m, &[]);
        let out = m.param("(setting)").map(|i| (params[i], m.params[i].dim));
        (out, d)
    }

    /// A finite constant: NaN and infinities are E0503.
    pub fn finite(&mut self, expr: &ast::Expr, want: Dim, what: &str) -> Option<f64> {
        let v = self.constant(expr, want, what)?;
        if !v.is_finite() {
            return self.reject(format!("{what} is not a finite number"), expr.span, "not finite", "give a number");
        }
        Some(v)
    }

    /// A whole number from `lo` to `hi` (E0503 otherwise).
    pub fn count(&mut self, expr: &ast::Expr, what: &str, lo: u64, hi: u64, example: &str) -> Option<u64> {
        let v = self.constant(expr, Dim::NONE, what)?;
        if !(v.fract() == 0.0 && v >= lo as f64 && v <= hi as f64) {
            return self.reject(
                format!("{what} must be a whole number from {lo} to {}", units::format_number(hi as f64)),
                expr.span,
                format!("{} is not", units::format_number(v)),
                example.to_string(),
            );
        }
        Some(v as u64)
    }

    /// `linspace(lo, hi)`, `uniform(lo, hi)` or `normal(mean, sd)` in unit
    /// `want`: `Some(None)` when `expr` is not one of them, `None` (with a
    /// diagnostic) when it is one, badly formed.
    pub fn spread(&mut self, expr: &ast::Expr, want: Dim, what: &str) -> Option<Option<Spread>> {
        let ast::ExprKind::Call(f, args) = &expr.kind else { return Some(None) };
        let ast::ExprKind::Name(x) = &f.kind else { return Some(None) };
        if !matches!(x.as_str(), "linspace" | "uniform" | "normal") {
            return Some(None);
        }
        if args.len() != 2 {
            return self.reject(
                format!("`{x}` takes two values"),
                expr.span,
                "a spread",
                "`linspace(lo, hi)`, `uniform(lo, hi)` or `normal(mean, sd)`",
            );
        }
        let a = self.finite(&args[0], want, what)?;
        let c = self.finite(&args[1], want, what)?;
        let bad = match x.as_str() {
            "uniform" => a > c,
            "normal" => c < 0.0,
            _ => false,
        };
        if bad {
            return self.reject(
                if x == "normal" {
                    format!("`normal` needs a standard deviation >= 0, not {}", units::format_number(c))
                } else {
                    format!(
                        "`uniform({}, {})` is empty: lo is above hi",
                        units::format_number(a),
                        units::format_number(c)
                    )
                },
                expr.span,
                if x == "normal" { "a negative standard deviation" } else { "lo above hi" },
                "`uniform(lo, hi)` with lo <= hi; `normal(mean, sd)` with sd >= 0",
            );
        }
        Some(Some(match x.as_str() {
            "linspace" => Spread::Linspace(a, c),
            "uniform" => Spread::Uniform(a, c),
            _ => Spread::Normal(a, c),
        }))
    }

    /// A method named by a setting or a flag (E0401 otherwise).
    /// `--threads`, else the machine's cores.
    pub fn threads(&mut self, flags: &super::Flags) -> Option<usize> {
        match &flags.threads {
            Some(e) => Some(self.count(e, "`--threads`", 1, 1024, "e.g. --threads 4")? as usize),
            None => Some(std::thread::available_parallelism().map_or(1, |n| n.get())),
        }
    }

    pub fn method(&mut self, name: &str, span: Span) -> Option<Method> {
        let m = Method::parse(name);
        if m.is_none() {
            self.fail(ir::method::unknown_method(name, span));
        }
        m
    }

    /// `dt` and `duration` checked: a positive finite step, a non-negative
    /// finite duration, no longer step than the run, at most `max_steps`
    /// steps. Each error points at where the value came from: the flag, or
    /// the `simulate` block's setting, or `fallback`.
    pub fn time_grid(
        &mut self,
        (dt, duration): (f64, f64),
        max_steps: f64,
        block: Option<&ast::Simulate>,
        flags: &super::Flags,
        fallback: Span,
    ) -> Option<()> {
        let at = |flag: &Option<ast::Expr>, key: &str| {
            flag.as_ref()
                .map(|e| e.span)
                .or_else(|| block.and_then(|b| b.settings.iter().find(|s| s.name.name == key)).map(|s| s.value.span))
        };
        let (dt_at, dur_at) =
            (at(&flags.dt, "dt").unwrap_or(fallback), at(&flags.duration, "duration").unwrap_or(fallback));
        let ms = |x: f64| units::format_number(x * 1e3);
        if !(dt > 0.0 && dt.is_finite()) {
            return self.reject(
                format!("the step dt = {} ms is not a positive duration", ms(dt)),
                dt_at,
                "dt",
                "e.g. `dt = 0.1 ms`",
            );
        }
        if !(duration >= 0.0 && duration.is_finite()) {
            return self.reject(
                format!("the duration {} ms is not a duration", ms(duration)),
                dur_at,
                "duration",
                "e.g. `duration = 1 s`",
            );
        }
        if duration / dt > max_steps {
            self.fail(
                Diagnostic::error(
                    Code::BadSetting,
                    format!(
                        "{} ms in steps of {} ms is {} steps, more than {}",
                        ms(duration),
                        ms(dt),
                        units::format_number((duration / dt).round()),
                        units::format_number(max_steps)
                    ),
                )
                .at(dur_at, "duration")
                .with_label(dt_at, "dt")
                .help("shorten the run or lengthen the step"),
            );
            return None;
        }
        if duration > 0.0 && dt > duration {
            self.fail(
                Diagnostic::error(
                    Code::BadSetting,
                    format!(
                        "the step dt = {} ms is longer than the whole run ({} ms): no step would be taken",
                        ms(dt),
                        ms(duration)
                    ),
                )
                .at(dt_at, "dt")
                .with_label(dur_at, "duration")
                .help("shorten dt or lengthen the duration"),
            );
            return None;
        }
        Some(())
    }

    /// Every how many steps to record (`--sample`), within 1 and the whole
    /// run; `default` steps when not given.
    pub fn sample_every(
        &mut self,
        sample: Option<&ast::Expr>,
        dt: f64,
        duration: f64,
        default: usize,
    ) -> Option<usize> {
        let steps = ((duration / dt).round() as usize).max(1);
        let Some(e) = sample else { return Some(default.clamp(1, steps)) };
        let every = self.constant(e, units::dims::time(), "`--sample`")?;
        if !(every > 0.0 && every.is_finite()) {
            return self.reject(
                "`--sample` must be a positive duration",
                e.span,
                "not a positive duration",
                "e.g. --sample 1ms",
            );
        }
        Some(((every / dt).round() as usize).clamp(1, steps))
    }

    /// `--table SPEC`: adds (or replaces) a rate table in every model of
    /// `models` that has the state; E0218 when none has it.
    pub fn table_flags(&mut self, specs: &[TableSpec], models: &mut [&mut ir::Model]) -> Option<()> {
        for spec in specs {
            let whole = spec.span;
            let (step, form) = ir::lower::table_step(whole, &spec.var, &spec.interval, &spec.settings);
            if !form.is_empty() {
                self.diags.extend(Diagnostics { list: form });
                return None;
            }
            let step = step?;
            let mut found = false;
            for m in models.iter_mut() {
                let Some(state) = m.states.iter().position(|st| st.name == spec.var.name) else { continue };
                found = true;
                let dim = m.states[state].dim;
                let lo = self.constant(&spec.interval.lo, dim, "the table's lower bound")?;
                let hi = self.constant(&spec.interval.hi, dim, "the table's upper bound")?;
                let h = self.constant(step, dim, "the table's step")?;
                let mut node = |v: f64| m.arena.add(ir::NodeKind::Const(v), ir::Ty::Num(dim), whole);
                let (lo, hi, step) = (node(lo), node(hi), node(h));
                m.tables.retain(|t| t.state != state);
                m.tables.push(ir::RateTable { state, lo, hi, step, span: whole });
            }
            if !found {
                let names: Vec<&str> = models.iter().map(|m| m.name.as_str()).collect();
                self.fail(
                    Diagnostic::error(Code::BadTable, format!("no state `{}` in {}", spec.var.name, names.join(", ")))
                        .at(whole, "this table")
                        .help("name a state of the neuron, usually the membrane potential: --table \"V in [-100 mV, 100 mV], step = 0.1 mV\""),
                );
                return None;
            }
        }
        Some(())
    }
}

/// A rate table given on the command line (`--table`), parsed.
#[derive(Clone, Debug)]
pub struct TableSpec {
    pub var: ast::Ident,
    pub interval: ast::Interval,
    pub settings: Vec<ast::Binding>,
    pub span: Span,
}

pub(crate) fn example_unit(d: &Dim) -> String {
    let (u, _) = units::display_unit(d);
    format!("1 {u}")
}

/// The index of input `name` of `model`, if it has one.
pub(crate) fn input(model: &ir::Model, name: &str) -> Option<usize> {
    model.values.iter().position(|v| v.name == name && v.kind == ir::ValueKind::Input)
}

/// Turns input `v` into a parameter of the same name that the input reads,
/// so that it can differ per neuron like any parameter (a spread of an
/// input). The parameter's own value is never used: the spread sets it.
pub(crate) fn input_as_param(model: &mut ir::Model, v: usize) -> usize {
    let (name, dim, unit, span) = {
        let val = &model.values[v];
        (val.name.clone(), val.dim, val.unit.clone(), val.span)
    };
    let zero = model.arena.add(ir::NodeKind::Const(0.0), ir::Ty::Num(dim), span);
    let p = model.params.len();
    model.params.push(ir::Param { name, value: zero, dim, unit, span });
    let read = model.arena.add(ir::NodeKind::Var(ir::Var::Param(p)), ir::Ty::Num(dim), span);
    model.values[v].expr = read;
    p
}
