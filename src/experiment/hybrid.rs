//! Rates and spikes in one network, as configured: Poisson and gamma
//! drives whose rate follows a rate model's or density's state (`rate =
//! FACTOR * M.X`), readouts that turn a population's spikes into a rate
//! model's input (`drive M with rate(of = P, ...) via X`), and the rules
//! that keep densities out of spike connections. The runtime side is
//! `runtime::network::{drive, density}`.

use super::network::{PendingConnection, PendingDrive};
use super::settings::Ctx;
use crate::runtime::network::{self, Population, Readout};
use crate::syntax::ast::{self, ModelKind};
use crate::units::{self, Dim};

/// `drive M with rate(of = P, ...) via X` before X is made a parameter:
/// the target's input (index into its values) and the rest.
pub(super) struct PendingReadout {
    pub from: usize,
    pub to: usize,
    pub value: usize,
    pub gain: f64,
    pub kernel: network::RateKernel,
}

/// Whether `e` reads a population's state (`M.E`).
pub(super) fn has_member(e: &ast::Expr) -> bool {
    match &e.kind {
        ast::ExprKind::Member(..) => true,
        ast::ExprKind::Unary(_, a) => has_member(a),
        ast::ExprKind::Binary(_, a, b) => has_member(a) || has_member(b),
        _ => false,
    }
}

/// State `state` of model `m`, or E0503 naming its states.
pub(super) fn state_of(ctx: &mut Ctx, m: &crate::ir::Model, state: &ast::Ident) -> Option<usize> {
    let found = m.state(&state.name);
    if found.is_none() {
        let names: Vec<&str> = m.states.iter().map(|s| s.name.as_str()).collect();
        return ctx.reject(
            format!("`{}` has no state `{}`", m.name, state.name),
            state.span,
            "not a state",
            format!("its states: {}", names.join(", ")),
        );
    }
    found
}

/// `FACTOR * M.X`, `M.X * FACTOR` or `M.X`: (`M.X`, FACTOR).
pub(super) fn factor_times_member(e: &ast::Expr) -> Option<(&ast::Expr, Option<&ast::Expr>)> {
    let member = |x: &ast::Expr| matches!(x.kind, ast::ExprKind::Member(..));
    match &e.kind {
        ast::ExprKind::Member(..) => Some((e, None)),
        ast::ExprKind::Binary(ast::BinOp::Mul, a, b) if member(b) => Some((b, Some(a))),
        ast::ExprKind::Binary(ast::BinOp::Mul, a, b) if member(a) => Some((a, Some(b))),
        _ => None,
    }
}

/// `rate = FACTOR * M.X` (or `M.X * FACTOR`, or `M.X`): (population M,
/// state X, FACTOR in SI), with FACTOR X a rate.
pub(super) fn rate_of(ctx: &mut Ctx, pops: &[Population], e: &ast::Expr) -> Option<(usize, usize, f64)> {
    let form = "a rate that follows a rate model is `FACTOR * M.X`: a constant times a state of population M, e.g. `rate = 50 Hz * M.E`";
    let Some((member, factor)) = factor_times_member(e) else {
        return ctx.reject("this rate cannot follow a population", e.span, "not FACTOR * M.X", form);
    };
    let ast::ExprKind::Member(base, state) = &member.kind else { return None };
    let ast::ExprKind::Name(pop) = &base.kind else {
        return ctx.reject("this rate cannot follow a population", member.span, "not M.X", form);
    };
    let Some(pi) = pops.iter().position(|p| &p.name == pop) else {
        let names: Vec<&str> = pops.iter().map(|p| p.name.as_str()).collect();
        return ctx.reject(
            format!("no population `{pop}` in this network"),
            base.span,
            "unknown population",
            format!("its populations: {}", names.join(", ")),
        );
    };
    let m = &pops[pi].model;
    if !matches!(m.kind, ModelKind::Rate | ModelKind::Density) || pops[pi].count != 1 || pops[pi].cells.is_some() {
        return ctx.reject(
            format!("`{pop}` is not one rate model or density"),
            base.span,
            "a rate follows a rate model",
            "make it a population of one rate model: `population M = 1 x WilsonCowan`",
        );
    }
    let si = state_of(ctx, m, state)?;
    let want = units::dims::rate().div(&m.states[si].dim).unwrap_or(Dim::NONE);
    let f = match factor {
        Some(f) => ctx.finite(f, want, "the factor of a rate that follows a state")?,
        None if m.states[si].dim == units::dims::rate() => 1.0,
        None => {
            return ctx.reject(
                format!("`{}.{}` is not a rate", pop, state.name),
                member.span,
                "needs a factor",
                format!("multiply it by a constant in {}: `50 Hz * {pop}.{}`", units::pretty(&want), state.name),
            )
        }
    };
    Some((pi, si, f))
}

/// `drive M with rate(of = P, tau = 10 ms, gain = ..., kernel = exponential) via X`.
pub(super) fn readout(
    ctx: &mut Ctx,
    pops: &[Population],
    to: usize,
    d: &PendingDrive,
    via: &ast::Ident,
) -> Option<PendingReadout> {
    let m = &pops[to].model;
    let Some(value) = super::settings::input(m, &via.name) else {
        let inputs: Vec<&str> =
            m.values.iter().filter(|v| v.kind == crate::ir::ValueKind::Input).map(|v| v.name.as_str()).collect();
        return ctx.reject(
            format!("`{}` has no input `{}` for a rate to set", m.name, via.name),
            via.span,
            "not an input",
            if inputs.is_empty() {
                format!("declare one in `{}`: `input P = 0`", m.name)
            } else {
                format!("its inputs: {}", inputs.join(", "))
            },
        );
    };
    if pops[to].cells.is_some() {
        return ctx.reject(
            format!(
                "`{}` is a population of cells: a rate readout sets an input of a rate model, a density or a neuron",
                pops[to].name
            ),
            d.span,
            "cells have no such input",
            "read the spikes into a rate model's or a density's input",
        );
    }
    let xdim = m.values[value].dim;
    let (from, gain, kernel) =
        rate_settings(ctx, pops, d.settings, (xdim, &format!("input `{}`", via.name)), (d.source.span, d.span))?;
    Some(PendingReadout { from, to, value, gain, kernel })
}

/// The settings of `rate(of = P, tau = 10 ms, gain = ..., kernel = ...)`
/// (spikes to a rate) for a quantity of dimension `xdim` (`what`, for
/// messages): the population read, the gain in SI (1 when `xdim` is a rate
/// and none is given), the kernel. `source` is where `rate` is written,
/// `at` the statement.
pub(super) fn rate_settings(
    ctx: &mut Ctx,
    pops: &[Population],
    settings: &[ast::Binding],
    (xdim, what): (Dim, &str),
    (source, at): (crate::source::Span, crate::source::Span),
) -> Option<(usize, f64, network::RateKernel)> {
    let (mut from, mut tau, mut gain, mut kernel) = (None, None, None, "exponential".to_string());
    for st in settings {
        match st.name.name.as_str() {
            "of" => {
                let ast::ExprKind::Name(name) = &st.value.kind else {
                    return ctx.reject("`of` names a population", st.value.span, "not a name", "`of = E`");
                };
                match pops.iter().position(|p| &p.name == name) {
                    Some(pi) => from = Some(pi),
                    None => {
                        let names: Vec<&str> = pops.iter().map(|p| p.name.as_str()).collect();
                        return ctx.reject(
                            format!("no population `{name}` in this network"),
                            st.value.span,
                            "unknown population",
                            format!("its populations: {}", names.join(", ")),
                        );
                    }
                }
            }
            "tau" => {
                let t = ctx.finite(&st.value, units::dims::time(), "`tau`")?;
                if t <= 0.0 {
                    return ctx.reject("`tau` must be positive", st.value.span, "not positive", "e.g. `tau = 10 ms`");
                }
                tau = Some(t);
            }
            "gain" => {
                let want = xdim.div(&units::dims::rate()).unwrap_or(Dim::NONE);
                gain = Some(ctx.finite(&st.value, want, "`gain` (the input per unit of rate)")?);
            }
            "kernel" => {
                let ast::ExprKind::Name(name) = &st.value.kind else {
                    return ctx.reject("`kernel` is a name", st.value.span, "not a name", "exponential, alpha or bin");
                };
                kernel = name.clone();
            }
            _ => {
                return ctx.unknown(
                    "rate readout setting",
                    &st.name,
                    &["of", "tau", "gain", "kernel"],
                    "`rate(of = E, tau = 10 ms, gain = ...)`",
                )
            }
        }
    }
    let Some(from) = from else {
        return ctx.reject(
            "a rate readout needs the population it reads",
            source,
            "of which population?",
            "`rate(of = E, tau = 10 ms, gain = ...)`",
        );
    };
    if pops[from].count == 0 {
        return ctx.reject("an empty population has no rate", at, "empty", "read a population with neurons");
    }
    if matches!(pops[from].model.kind, ModelKind::Rate | ModelKind::Density) {
        return ctx.reject(
            format!("`{}` does not spike: a rate readout reads a population of neurons or cells", pops[from].name),
            source,
            "no spikes to read",
            format!(
                "read a rate model's or density's state directly: `rate = FACTOR * {}.X` in a Poisson drive",
                pops[from].name
            ),
        );
    }
    let gain = match gain {
        Some(g) => g,
        None if xdim == units::dims::rate() => 1.0,
        None => {
            return ctx.reject(
                format!("{what} is not a rate: a `gain` must say how a rate becomes it"),
                source,
                "needs a gain",
                format!("`gain = ...` in {}", units::pretty(&xdim.div(&units::dims::rate()).unwrap_or(Dim::NONE))),
            )
        }
    };
    let need_tau = |ctx: &mut Ctx| -> Option<f64> {
        match tau {
            Some(t) => Some(t),
            None => ctx.reject("this kernel needs its width", source, "no `tau`", "`tau = 10 ms`"),
        }
    };
    let kernel = match kernel.as_str() {
        "exponential" => network::RateKernel::Exponential(need_tau(ctx)?),
        "alpha" => network::RateKernel::Alpha(need_tau(ctx)?),
        "bin" => network::RateKernel::Bin,
        other => {
            return ctx.reject(
                format!("unknown rate kernel `{other}`"),
                source,
                "not a kernel",
                "exponential (default), alpha or bin",
            )
        }
    };
    Some((from, gain, kernel))
}

/// `gamma(..., k = K)`: the trains' shape (1 to 100); None for other
/// sources.
pub(super) fn gamma_shape(ctx: &mut Ctx, d: &PendingDrive) -> Option<Option<u32>> {
    if d.source.name != "gamma" {
        return Some(None);
    }
    let Some(st) = d.settings.iter().find(|st| st.name.name == "k") else {
        return ctx.reject(
            "a gamma drive needs its shape",
            d.source.span,
            "no `k`",
            "`gamma(rate = 20 Hz, k = 4, n = 100, w = ...)`: k = 1 is Poisson, larger k more regular (CV 1/sqrt(k))",
        );
    };
    let k = ctx.count(&st.value, "`k`", 1, 100, "the shape of the trains' intervals, 1 to 100: `k = 4`")?;
    Some(Some(k as u32))
}

/// E0503 for a connection to or from a density: it has no spikes.
pub(super) fn no_density_connections(ctx: &mut Ctx, pops: &[Population], conns: &[PendingConnection]) -> Option<()> {
    for c in conns {
        if let Some(&pi) = c.from.iter().chain(&c.to).find(|&&pi| pops[pi].model.kind == ModelKind::Density) {
            return ctx.reject(
                format!("`{}` is a density: it has no spikes to send or ports to receive", pops[pi].name),
                c.span,
                "a connection of a density",
                "couple a density through rates: `drive D with rate(of = E, ...) via INPUT` and `drive E with poisson(rate = K * D.rate, ...)`",
            );
        }
    }
    Some(())
}

/// The readouts, each input they set made a parameter of its model: one
/// parameter per input, however many readouts add into it.
pub(super) fn readouts(pops: &mut [Population], pending: Vec<PendingReadout>) -> Vec<Readout> {
    let mut made: Vec<((usize, usize), usize)> = Vec::new();
    pending
        .into_iter()
        .map(|r| {
            let param = match made.iter().find(|(key, _)| *key == (r.to, r.value)) {
                Some(&(_, p)) => p,
                None => {
                    let p = super::settings::input_as_param(&mut pops[r.to].model, r.value);
                    made.push(((r.to, r.value), p));
                    p
                }
            };
            Readout { from: r.from, to: r.to, param, gain: r.gain, kernel: r.kernel }
        })
        .collect()
}
