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
                format!("`{x}({}, {})` is empty", units::format_number(a), units::format_number(c)),
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
    pub fn method(&mut self, name: &str, span: Span) -> Option<Method> {
        let m = Method::parse(name);
        if m.is_none() {
            self.fail(ir::method::unknown_method(name, span));
        }
        m
    }

    /// `dt` and `duration` checked: a positive finite step, a non-negative
    /// finite duration, at least one step and at most `max_steps`.
    pub fn time_grid(&mut self, dt: f64, duration: f64, max_steps: f64, span: Span) -> Option<()> {
        let fine = dt > 0.0 && dt.is_finite() && duration >= 0.0 && duration.is_finite();
        if !fine || duration / dt > max_steps {
            return self.reject(
                format!(
                    "dt = {} ms and duration = {} ms cannot be simulated",
                    units::format_number(dt * 1e3),
                    units::format_number(duration * 1e3)
                ),
                span,
                "settings",
                format!("dt must be positive, duration non-negative, and at most {max_steps:e} steps"),
            );
        }
        if duration > 0.0 && dt > duration {
            return self.reject(
                format!(
                    "the step dt = {} ms is longer than the whole run ({} ms): no step would be taken",
                    units::format_number(dt * 1e3),
                    units::format_number(duration * 1e3)
                ),
                span,
                "settings",
                "shorten dt or lengthen the duration",
            );
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
