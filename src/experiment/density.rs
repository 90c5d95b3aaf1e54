//! A population density: its `simulate` block and flags lowered into a
//! [`DensityRun`]. Settings: `dt`, `duration`, `method` (`crank_nicolson`,
//! the default, or `backward_euler`), `initial` (`stationary` or a value of
//! the variable), `cells` (or `--cells`), and the model's parameters.

use super::point::apply_sets;
use super::settings::Ctx;
use super::{Body, Flags, Run};
use crate::density::{Density, Initial, Scheme};
use crate::diag::{Code, Diagnostic};
use crate::ir::{self, ExprId, NodeKind, Ty};
use crate::source::Span;
use crate::syntax::ast;
use crate::units;

/// A density's run.
#[derive(Clone, Debug)]
pub struct DensityRun {
    pub model: ir::Model,
    pub param_overrides: Vec<Option<ExprId>>,
    pub value_overrides: Vec<Option<ExprId>>,
    pub scheme: Scheme,
    pub initial: Initial,
}

fn scheme(ctx: &mut Ctx, text: &str, span: Span) -> Option<Scheme> {
    let s = Scheme::parse(text);
    if s.is_none() {
        ctx.fail(
            Diagnostic::error(Code::UnknownMethod, format!("`{text}` is not a time scheme for a density"))
                .at(span, "unknown")
                .help("densities step implicitly: `method = crank_nicolson` (default) or `method = backward_euler`"),
        );
    }
    s
}

pub(super) fn configure(ctx: &mut Ctx, name: &str, block: Option<&ast::Simulate>, flags: &Flags) -> Option<Run> {
    let c = ctx.c;
    let mut model = c.model(name)?.clone();
    let span = block.map_or(model.span, |b| b.span);
    let Some(def) = model.density.clone() else {
        ctx.fail(
            Diagnostic::internal(format!("density `{name}` lowered without its definition"))
                .at(model.span, "this model"),
        );
        return None;
    };
    let var_dim = model.states[def.var].dim;
    let time = units::dims::time();
    let (mut dt, mut duration) = (0.05e-3, 0.2);
    let mut method = Scheme::CrankNicolson;
    let mut initial = Initial::Stationary;
    let mut settings = Vec::new();
    let mut param_overrides = vec![None; model.params.len()];
    let mut value_overrides: Vec<Option<ExprId>> = vec![None; model.values.len()];
    let mut cells: Option<&ast::Expr> = None;
    for b in block.map_or(&[][..], |b| &b.settings[..]) {
        settings.push((b.name.name.clone(), c.sources.snippet(b.value.span).to_string()));
        if let Some(p) = model.param(&b.name.name) {
            let v = ctx.constant(&b.value, model.params[p].dim, &format!("`{}`", b.name.name))?;
            param_overrides[p] = Some(model.arena.add(NodeKind::Const(v), Ty::Num(model.params[p].dim), b.value.span));
            continue;
        }
        match b.name.name.as_str() {
            "dt" => dt = ctx.constant(&b.value, time, "`dt`")?,
            "duration" => duration = ctx.constant(&b.value, time, "`duration`")?,
            "method" => method = scheme(ctx, c.sources.snippet(b.value.span).trim(), b.value.span)?,
            "cells" => cells = Some(&b.value),
            "initial" => match &b.value.kind {
                ast::ExprKind::Name(n) if n == "stationary" => initial = Initial::Stationary,
                _ => initial = Initial::At(ctx.finite(&b.value, var_dim, "`initial`")?),
            },
            _ => {
                let mut known = vec!["dt", "duration", "method", "initial", "cells"];
                known.extend(model.params.iter().map(|p| p.name.as_str()));
                return ctx.unknown("simulation setting", &b.name, &known, "density settings: dt, duration, method (crank_nicolson, backward_euler), initial (`stationary` or a value of the variable), cells, and parameters of the model");
            }
        }
    }
    if let Some(m) = &flags.method {
        method = scheme(ctx, &m.name, m.span)?;
    }
    if let Some(e) = &flags.dt {
        dt = ctx.constant(e, time, "`--dt`")?;
    }
    if let Some(e) = &flags.duration {
        duration = ctx.constant(e, time, "`--duration`")?;
    }
    ctx.time_grid((dt, duration), 1e9, block, flags, span)?;
    let sample_every = ctx.sample_every(flags.sample.as_ref(), dt, duration, ((1e-3 / dt).round() as usize).max(1))?;
    if let Some(e) = flags.cells.as_ref().or(cells) {
        let n = ctx.count(e, "`cells`", 4, 10_000_000, "e.g. `cells = 400`")?;
        let node = model.arena.add(NodeKind::Const(n as f64), Ty::Num(units::Dim::NONE), e.span);
        if let Some(d) = model.density.as_mut() {
            d.cells = Some(node);
        }
    }
    apply_sets(ctx, &mut model, &flags.set, &mut param_overrides, &mut value_overrides)?;
    for (n, e) in &flags.set {
        settings.push((n.name.clone(), c.sources.snippet(e.span).trim().to_string()));
    }
    let d = match Density::bind(&model, &param_overrides, &value_overrides) {
        Ok(d) => d,
        Err(e) => {
            ctx.fail(e);
            return None;
        }
    };
    if let Initial::At(v) = initial {
        if !(v >= d.lo && v <= d.threshold) {
            return ctx.reject(
                "`initial` lies outside the grid",
                span,
                "these settings",
                "start the population between the grid's lower edge and the threshold",
            );
        }
    }
    if d.t_ref / dt > 1e8 {
        return ctx.reject(
            format!("the refractory period is {:e} steps long", d.t_ref / dt),
            span,
            "these settings",
            "the delay line holds one slot per step: use a larger dt or a shorter refractory period",
        );
    }
    settings.push(("method".into(), method.name().into()));
    Some(Run {
        target: name.to_string(),
        kind: ast::ModelKind::Density,
        span,
        dt,
        duration,
        seed: 1,
        sample_every,
        progress: flags.progress,
        body: Body::Density(DensityRun { model, param_overrides, value_overrides, scheme: method, initial }),
        settings,
    })
}
