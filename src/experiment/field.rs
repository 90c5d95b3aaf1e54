//! A neural field: its `simulate` block and flags lowered into a
//! [`FieldRun`]. Settings: `dt`, `duration`, `method` (`rk4`, the default,
//! or `euler`), `seed`, parameters, and states' initial values per cell
//! (`u = uniform(0.29, 0.31)`).

use super::point::apply_sets;
use super::settings::Ctx;
use super::{Body, Flags, Run};
use crate::diag::{Code, Diagnostic};
use crate::field::{Field, Stepper};
use crate::ir::{self, ExprId, NodeKind, Ty};
use crate::runtime::spikegen::Spread;
use crate::source::Span;
use crate::syntax::ast;
use crate::units;

/// A field's run.
#[derive(Clone, Debug)]
pub struct FieldRun {
    pub model: ir::Model,
    pub param_overrides: Vec<Option<ExprId>>,
    pub value_overrides: Vec<Option<ExprId>>,
    pub stepper: Stepper,
    /// Initial values per cell: (state, spread, stream).
    pub spreads: Vec<(usize, Spread, u64)>,
    /// Cells per axis.
    pub shape: Vec<usize>,
}

fn stepper(ctx: &mut Ctx, text: &str, span: Span) -> Option<Stepper> {
    match text {
        "rk4" | "auto" => Some(Stepper::Rk4),
        "euler" => Some(Stepper::Euler),
        _ => {
            ctx.fail(
                Diagnostic::error(Code::UnknownMethod, format!("`{text}` is not a method for a field"))
                    .at(span, "unknown")
                    .help("fields step with `method = rk4` (default) or `method = euler`"),
            );
            None
        }
    }
}

pub(super) fn configure(ctx: &mut Ctx, name: &str, block: Option<&ast::Simulate>, flags: &Flags) -> Option<Run> {
    let c = ctx.c;
    let mut model = c.model(name)?.clone();
    let span = block.map_or(model.span, |b| b.span);
    let time = units::dims::time();
    let (mut dt, mut duration, mut seed) = (0.5e-3, 0.5, 1u64);
    let mut method = Stepper::Rk4;
    let mut param_overrides = vec![None; model.params.len()];
    let mut value_overrides: Vec<Option<ExprId>> = vec![None; model.values.len()];
    let mut spreads = Vec::new();
    let mut settings = Vec::new();
    for b in block.map_or(&[][..], |b| &b.settings[..]) {
        settings.push((b.name.name.clone(), c.sources.snippet(b.value.span).to_string()));
        let what = format!("`{}`", b.name.name);
        if let Some(p) = model.param(&b.name.name) {
            let v = ctx.constant(&b.value, model.params[p].dim, &what)?;
            param_overrides[p] = Some(model.arena.add(NodeKind::Const(v), Ty::Num(model.params[p].dim), b.value.span));
            continue;
        }
        if let Some(st) = model.state(&b.name.name).filter(|&i| model.states[i].rhs.is_some()) {
            let dim = model.states[st].dim;
            match ctx.spread(&b.value, dim, &what)? {
                Some(d) => spreads.push((st, d)),
                None => {
                    let v = ctx.finite(&b.value, dim, &what)?;
                    spreads.push((st, Spread::Linspace(v, v)));
                }
            }
            continue;
        }
        match b.name.name.as_str() {
            "dt" => dt = ctx.constant(&b.value, time, "`dt`")?,
            "duration" => duration = ctx.constant(&b.value, time, "`duration`")?,
            "seed" => seed = ctx.count(&b.value, "`seed`", 0, 1 << 53, "e.g. `seed = 42`")?,
            "method" => method = stepper(ctx, c.sources.snippet(b.value.span).trim(), b.value.span)?,
            _ => {
                let mut known = vec!["dt", "duration", "method", "seed"];
                known.extend(model.params.iter().map(|p| p.name.as_str()));
                known.extend(model.states.iter().filter(|s| s.rhs.is_some()).map(|s| s.name.as_str()));
                return ctx.unknown("simulation setting", &b.name, &known, "field settings: dt, duration, method (rk4, euler), seed, parameters, and states' initial values per cell (`u = uniform(0.29, 0.31)`)");
            }
        }
    }
    if let Some(m) = &flags.method {
        method = stepper(ctx, &m.name, m.span)?;
    }
    if let Some(e) = &flags.dt {
        dt = ctx.constant(e, time, "`--dt`")?;
    }
    if let Some(e) = &flags.duration {
        duration = ctx.constant(e, time, "`--duration`")?;
    }
    if let Some(e) = &flags.seed {
        seed = ctx.count(e, "`--seed`", 0, 1 << 53, "e.g. --seed 42")?;
    }
    ctx.time_grid((dt, duration), 1e8, block, flags, span)?;
    let sample_every = ctx.sample_every(flags.sample.as_ref(), dt, duration, ((1e-3 / dt).round() as usize).max(1))?;
    apply_sets(ctx, &mut model, &flags.set, &mut param_overrides, &mut value_overrides)?;
    for (n, e) in &flags.set {
        settings.push((n.name.clone(), c.sources.snippet(e.span).trim().to_string()));
    }
    let shape = match Field::bind(&model, &param_overrides, &value_overrides) {
        Ok(f) => f.shape.clone(),
        Err(e) => {
            ctx.fail(e);
            return None;
        }
    };
    let cells: f64 = shape.iter().map(|&n| n as f64).product();
    let dynamic = model.states.iter().filter(|s| s.rhs.is_some()).count();
    super::fits(
        ctx,
        cells * (model.states.len() + 6 * dynamic) as f64 * 8.0,
        &format!("a field of {cells} cells"),
        span,
    )?;
    let spreads = spreads.into_iter().enumerate().map(|(k, (s, d))| (s, d, k as u64 + 1)).collect();
    settings.push(("method".into(), if method == Stepper::Rk4 { "rk4" } else { "euler" }.into()));
    Some(Run {
        target: name.to_string(),
        kind: ast::ModelKind::Field,
        span,
        dt,
        duration,
        seed,
        sample_every,
        progress: flags.progress,
        body: Body::Field(FieldRun { model, param_overrides, value_overrides, stepper: method, spreads, shape }),
        settings,
    })
}
