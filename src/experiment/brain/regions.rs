//! Regions of a brain whose node is a network of spiking neurons (a
//! cortical column in a brain of neural masses):
//!
//! ```text
//! region 3 = Column {
//!     drive Pyr with poisson(rate = node.p, n = 100, w = 0.2 mV) via exc
//!     send rate(of = Pyr, tau = 5 ms)
//! }
//! ```
//!
//! Rates to spikes: a drive of the region's network whose rate is
//! `FACTOR * node.X` follows value X of the node model at that region
//! (an input, with what the couplings add to it), read every step; each
//! neuron receives `n` Poisson (or gamma) trains of that rate. Spikes to
//! rates: `send rate(of = P, ...)` filters P's spikes per neuron by a
//! causal kernel of unit area (exponential, alpha, or the step's bin),
//! times `gain`; that is what the region sends along its edges, in place
//! of every sum's `node[j].X` term. Units are checked at both ends: the
//! drive's rate is a rate, the sent value has the dimension of what the
//! node model sends.
//!
//! Every region's network is configured as it would run alone (its own
//! `simulate` block's spreads; `dt`, `duration` and `seed` the brain's),
//! and all of them become one network, each population renamed
//! `LABEL.P`, so that one session steps them all with the brain.

use super::super::settings::Ctx;
use super::super::{hybrid, Body, Flags};
use super::si_unit;
use crate::ir;
use crate::runtime::network::{Network, RateKernel, Spreads};
use crate::source::Span;
use crate::syntax::ast::{self, ModelKind};
use crate::units::{self, Dim};
use std::sync::Arc;

/// The networks standing in for nodes, as one network.
#[derive(Clone, Debug)]
pub struct Regions {
    pub network: Network,
    pub regions: Vec<Region>,
    /// The JIT (else the kernel interpreter).
    pub jit: bool,
    /// Notes for the run's summary.
    pub notes: Vec<String>,
}

/// One region stood in for by a network.
#[derive(Clone, Debug)]
pub struct Region {
    /// The node it stands in for.
    pub node: usize,
    /// Its label (the connectome's, else `rN`), for its tables.
    pub label: String,
    /// The network model's name.
    pub model: String,
    /// Its populations in [`Regions::network`]: `pops.0..pops.1`.
    pub pops: (usize, usize),
    /// Drives whose rate follows the node: (drive in the network, the
    /// node's value, the factor turning it into a rate).
    pub inputs: Vec<(usize, usize, f64)>,
    pub send: Send,
}

/// What a region sends: `gain` times the spikes of a population per
/// neuron, filtered by `kernel`, or times a state of a rate model or a
/// density (`state`: its output rate).
#[derive(Clone, Debug)]
pub struct Send {
    /// The population read (index into the network).
    pub pop: usize,
    pub state: Option<usize>,
    pub gain: f64,
    pub kernel: RateKernel,
}

/// The brain's `region N = NETWORK { ... }` statements, checked and
/// configured; `None` on errors, `Some(None)` when there are none.
pub(super) fn configure(
    ctx: &mut Ctx,
    brain: &ast::Model,
    node: &ir::Model,
    (sent_dims, labels, n): (&[Dim], &[String], usize),
    (dt, duration, seed): (f64, f64, u64),
    flags: &Flags,
) -> Option<Option<Regions>> {
    let stmts: Vec<&ast::Stmt> =
        brain.stmts.iter().filter(|s| matches!(s.kind, ast::StmtKind::BrainRegion { .. })).collect();
    if stmts.is_empty() {
        return Some(None);
    }
    let mut network = Network {
        name: brain.name.name.clone(),
        populations: Vec::new(),
        connections: Vec::new(),
        drives: Vec::new(),
        readouts: Vec::new(),
    };
    let mut regions: Vec<Region> = Vec::new();
    let mut notes = Vec::new();
    for stmt in stmts {
        let ast::StmtKind::BrainRegion { at, at_span, model, stmts: inner } = &stmt.kind else { continue };
        let i = region_index(ctx, at, *at_span, labels, n)?;
        if let Some(r) = regions.iter().find(|r| r.node == i) {
            return ctx.reject(
                format!("region {i} is already stood in for by `{}`", r.model),
                *at_span,
                "a second network for this region",
                "give each region one network",
            );
        }
        let label = labels.get(i).map_or_else(|| format!("r{i}"), |l| file_safe(l));
        let net = region_network(ctx, model, i)?;
        if net.stmts.iter().any(|s| matches!(s.kind, ast::StmtKind::Record(_))) {
            notes.push(format!(
                "region {i} (`{}`): the network's own `record` statements are not used in a brain; its spikes and rates go to spikes_{label} and region_{label}",
                model.name
            ));
        }
        let parts = interfaces(ctx, node, inner)?;
        let sub = configure_network(ctx, net, &parts, (dt, duration, seed), flags)?;
        let first = network.populations.len();
        // what it sends, with the dimension of what every node sends
        let xdim =
            match sent_dims {
                [] => {
                    return ctx.reject(
                        "this brain has no coupling for a region to send through",
                        stmt.span,
                        "a region with nothing to send along",
                        "add `couple node.X += K * sum_j(C[i, j] * node[j].Y(t - delay[i, j]))`",
                    )
                }
                [d, rest @ ..] if rest.iter().all(|x| x == d) => *d,
                _ => return ctx.reject(
                    "the brain's sums send values of different dimensions: one `send` cannot stand in for all",
                    stmt.span,
                    "in this region",
                    "write the couplings so that every `sum_j` sends the same kind of quantity (e.g. a firing rate)",
                ),
            };
        let what = format!("what `{}` sends ({})", node.name, ir::lower::quantity_desc(&xdim));
        let (send_stmt, send_settings) = parts.send;
        let mut send = send_of(ctx, &sub, send_settings, (xdim, &what), send_stmt)?;
        send.pop += first;
        let pops = (first, first + sub.populations.len());
        let drive0 = network.drives.len() + sub.drives.len() - parts.appended;
        let inputs = parts.inputs.iter().map(|&(k, v, f)| (drive0 + k, v, f)).collect();
        regions.push(Region { node: i, label: label.clone(), model: model.name.clone(), pops, inputs, send });
        append(&mut network, sub, &label);
    }
    regions.sort_by_key(|r| r.node);
    Some(Some(Regions { network, regions, jit: flags.backend != Some(super::super::Backend::Interp), notes }))
}

/// `send rate(of = P, tau = ..., gain = ..., kernel = ...)` (spikes of
/// P) or `send rate(of = D.nu, gain = ...)` (a state of a rate model or
/// density), for a quantity of dimension `xdim`.
fn send_of(
    ctx: &mut Ctx,
    net: &Network,
    settings: &[ast::Binding],
    (xdim, what): (Dim, &str),
    at: Span,
) -> Option<Send> {
    let of_state = settings.iter().find(|s| s.name.name == "of" && matches!(s.value.kind, ast::ExprKind::Member(..)));
    let Some(of) = of_state else {
        let (pop, gain, kernel) = hybrid::rate_settings(ctx, &net.populations, settings, (xdim, what), (at, at))?;
        return Some(Send { pop, state: None, gain, kernel });
    };
    let form = "`send rate(of = D.nu)`: the output rate of a density or a rate model's state D";
    let ast::ExprKind::Member(base, state) = &of.value.kind else { return None };
    let ast::ExprKind::Name(name) = &base.kind else {
        return ctx.reject("`of` names a population and its state", of.value.span, "not P.X", form);
    };
    let Some(pop) = net.populations.iter().position(|p| p.name == *name) else {
        let names: Vec<&str> = net.populations.iter().map(|p| p.name.as_str()).collect();
        return ctx.reject(
            format!("no population `{name}` in this network"),
            base.span,
            "unknown population",
            format!("its populations: {}", names.join(", ")),
        );
    };
    let m = &net.populations[pop].model;
    if !matches!(m.kind, ModelKind::Rate | ModelKind::Density) {
        return ctx.reject(
            format!("`{name}` is a population of neurons: send the rate of its spikes"),
            of.value.span,
            "not a rate model or density",
            format!("`send rate(of = {name}, tau = 10 ms)`"),
        );
    }
    let s = hybrid::state_of(ctx, m, state)?;
    let sdim = m.states[s].dim;
    let mut gain = None;
    for st in settings {
        match st.name.name.as_str() {
            "of" => {}
            "gain" => {
                let want = xdim.div(&sdim).unwrap_or(Dim::NONE);
                gain = Some(ctx.finite(&st.value, want, "`gain`")?);
            }
            _ => return ctx.unknown("setting of a state sent", &st.name, &["of", "gain"], form),
        }
    }
    let gain = match gain {
        Some(g) => g,
        None if sdim == xdim => 1.0,
        None => {
            return ctx.reject(
                format!("`{name}.{}` is not {what}: a `gain` must say how it becomes that", state.name),
                of.value.span,
                "needs a gain",
                format!("`gain = ...` in {}", units::pretty(&xdim.div(&sdim).unwrap_or(Dim::NONE))),
            )
        }
    };
    Some(Send { pop, state: Some(s), gain, kernel: RateKernel::Bin })
}

/// The node a region statement names: `region 3` (from 0) or
/// `region "rV1"` (a label of the connectome).
fn region_index(ctx: &mut Ctx, at: &ast::RegionRef, span: Span, labels: &[String], n: usize) -> Option<usize> {
    match at {
        ast::RegionRef::Index(k) if (*k as usize) < n && *k < u64::MAX => Some(*k as usize),
        ast::RegionRef::Index(k) => ctx.reject(
            format!("region {k} of a brain of {n} regions"),
            span,
            "no such region",
            format!("regions are numbered from 0 to {}", n.saturating_sub(1)),
        ),
        ast::RegionRef::Label(l) => match labels.iter().position(|x| x == l) {
            Some(i) => Some(i),
            None if labels.is_empty() => ctx.reject(
                format!("no region labelled \"{l}\": this brain's connectome has no labels"),
                span,
                "unknown label",
                "name the region by its number (from 0), or add `labels \"labels.txt\"`",
            ),
            None => {
                let close = crate::diag::did_you_mean(l, labels.iter().map(String::as_str));
                let shown: Vec<&str> = labels.iter().take(8).map(String::as_str).collect();
                ctx.reject(
                    format!("no region labelled \"{l}\""),
                    span,
                    "unknown label",
                    match close {
                        Some(c) => format!("did you mean \"{c}\"?"),
                        None => {
                            format!("its labels: {}{}", shown.join(", "), if labels.len() > 8 { ", ..." } else { "" })
                        }
                    },
                )
            }
        },
    }
}

/// A label as part of a file name: letters, digits, `-` and `_`.
fn file_safe(label: &str) -> String {
    label.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}

/// The network model a region names.
fn region_network<'a>(ctx: &mut Ctx<'a>, model: &ast::Ident, region: usize) -> Option<&'a ast::Model> {
    let Some(net) = ctx.c.library.get(&model.name) else {
        // E0201, reported when the brain was lowered
        return None;
    };
    if net.kind != ModelKind::Network {
        return ctx.reject(
            format!("`{}` is a {}, not a network", model.name, net.kind.keyword()),
            model.span,
            "a region stands in for its node with a network",
            format!("write a `network` of spiking populations (or leave region {region} to the node model)"),
        );
    }
    Some(net)
}

/// A region's statements: its drives (those that follow the node
/// rewritten to a placeholder rate the run sets every step) and its
/// `send`.
struct Interfaces<'a> {
    drives: Vec<ast::Stmt>,
    /// (index among the drives the statements make, the node's value,
    /// factor).
    inputs: Vec<(usize, usize, f64)>,
    /// How many drives the statements make.
    appended: usize,
    send: (Span, &'a [ast::Binding]),
}

fn interfaces<'a>(ctx: &mut Ctx, node: &ir::Model, stmts: &'a [ast::Stmt]) -> Option<Interfaces<'a>> {
    let mut out = Interfaces { drives: Vec::new(), inputs: Vec::new(), appended: 0, send: (Span::default(), &[]) };
    let mut send = None;
    for stmt in stmts {
        match &stmt.kind {
            ast::StmtKind::Drive { targets, source, settings, via } => {
                let mut settings = settings.clone();
                let follows = settings.iter().position(|s| s.name.name == "rate" && hybrid::has_member(&s.value));
                if let Some(k) = follows {
                    let (value, factor) = node_rate(ctx, node, &settings[k].value)?;
                    for t in 0..targets.len() {
                        out.inputs.push((out.appended + t, value, factor));
                    }
                    let span = settings[k].value.span;
                    let unit = si_unit(&units::dims::rate(), span);
                    settings[k].value = ast::Expr { kind: ast::ExprKind::Number { value: 0.0, unit }, span };
                }
                if source.name != "rate" {
                    out.appended += targets.len();
                }
                let kind = ast::StmtKind::Drive { targets: targets.clone(), source: source.clone(), settings, via: via.clone() };
                out.drives.push(ast::Stmt { kind, span: stmt.span });
            }
            ast::StmtKind::Send { source, settings } => {
                if send.is_some() {
                    return ctx.reject(
                        "a region sends one signal",
                        stmt.span,
                        "a second `send`",
                        "keep one `send rate(of = P, tau = ...)`",
                    );
                }
                if source.name != "rate" {
                    return ctx.reject(
                        format!("a region sends a rate, not `{}`", source.name),
                        source.span,
                        "not rate(...)",
                        "`send rate(of = P, tau = 10 ms)`: the spikes of population P per neuron, filtered",
                    );
                }
                send = Some((stmt.span, &settings[..]));
            }
            _ => {
                return ctx.reject(
                    "a brain's region holds `drive` and `send` statements",
                    stmt.span,
                    "not here",
                    "write the network's own statements in the network model; here, how the region meets the brain: `drive P with poisson(rate = node.X, ...) via PORT` and `send rate(of = P, tau = ...)`",
                )
            }
        }
    }
    let Some(send) = send else {
        let at = stmts.first().map_or(Span::default(), |s| s.span);
        return ctx.reject(
            "a region must say what it sends",
            at,
            "no `send`",
            "add `send rate(of = P, tau = 10 ms)`: the filtered rate of population P goes out along the region's edges",
        );
    };
    out.send = send;
    Some(out)
}

/// `FACTOR * node.X` (or `node.X * FACTOR`, or `node.X`): value X of the
/// node model and FACTOR in SI, with FACTOR X a rate.
fn node_rate(ctx: &mut Ctx, node: &ir::Model, e: &ast::Expr) -> Option<(usize, f64)> {
    let form =
        "a rate that follows the region's node is `FACTOR * node.X`: e.g. `rate = node.p` or `rate = 2 * node.p`";
    let Some((member, factor)) = hybrid::factor_times_member(e) else {
        return ctx.reject("this rate cannot follow the node", e.span, "not FACTOR * node.X", form);
    };
    let ast::ExprKind::Member(base, x) = &member.kind else { return None };
    if !matches!(&base.kind, ast::ExprKind::Name(b) if b == "node") {
        return ctx.reject("a region's drive follows its node: `node.X`", member.span, "not node.X", form);
    }
    let Some(v) = node.value(&x.name) else {
        let what = if node.state(&x.name).is_some() { "a state" } else { "not a name of the node" };
        let inputs: Vec<&str> =
            node.values.iter().filter(|v| v.kind == ir::ValueKind::Input).map(|v| v.name.as_str()).collect();
        return ctx.reject(
            format!("`{}` of `{}` is {what}: a drive follows one of its inputs or values", x.name, node.name),
            x.span,
            "not an input or value",
            format!("its inputs: {}", inputs.join(", ")),
        );
    };
    let dim = node.values[v].dim;
    let want = units::dims::rate().div(&dim).unwrap_or(Dim::NONE);
    let f = match factor {
        Some(f) => ctx.finite(f, want, "the factor of a rate that follows the node")?,
        None if dim == units::dims::rate() => 1.0,
        None => {
            return ctx.reject(
                format!("`node.{}` is {}, not a rate", x.name, ir::lower::quantity_desc(&dim)),
                member.span,
                "needs a factor",
                format!("multiply it by a constant in {}: `K * node.{}`", units::pretty(&want), x.name),
            )
        }
    };
    Some((v, f))
}

/// The region's network configured as it would run alone, with the
/// region's drives added and the brain's time grid and seed.
fn configure_network(
    ctx: &mut Ctx,
    net: &ast::Model,
    parts: &Interfaces,
    (dt, duration, seed): (f64, f64, u64),
    flags: &Flags,
) -> Option<Network> {
    let mut model = net.clone();
    model.stmts.extend(parts.drives.iter().cloned());
    let span = net.name.span;
    let time = |v: f64| ast::Expr {
        kind: ast::ExprKind::Number { value: v, unit: si_unit(&units::dims::time(), span) },
        span,
    };
    let binding = |name: &str, value: ast::Expr| ast::Binding { name: ast::Ident { name: name.into(), span }, value };
    let own = ctx.c.library.simulate.iter().find(|b| b.target.name == net.name.name);
    let mut block = own.cloned().unwrap_or(ast::Simulate { target: net.name.clone(), settings: Vec::new(), span });
    block.settings.retain(|s| !["dt", "duration", "seed"].contains(&s.name.name.as_str()));
    block.settings.push(binding("dt", time(dt)));
    block.settings.push(binding("duration", time(duration)));
    let seed = ast::Expr { kind: ast::ExprKind::Number { value: seed as f64, unit: None }, span };
    block.settings.push(binding("seed", seed));
    let sub_flags = Flags { backend: flags.backend, ..Flags::default() };
    // the network's parameters are its own: a context of their own
    let mut sub = Ctx::new(ctx.c);
    let run = super::super::network::configure(&mut sub, &model, Some(&block), &sub_flags);
    let failed = sub.diags.has_errors();
    ctx.diags.extend(sub.diags);
    let Body::Network(nr) = run?.body else { return None };
    if failed {
        return None;
    }
    let mut network = nr.network;
    if !nr.init.is_empty() || !nr.params.is_empty() {
        let spreads = Arc::new(Spreads { init: nr.init, params: nr.params });
        network.populations.iter_mut().for_each(|p| p.spreads = Some(spreads.clone()));
    }
    Some(network)
}

/// `sub` added to `into`, its populations renamed `LABEL.P` and every
/// index into them moved past those already there.
fn append(into: &mut Network, sub: Network, label: &str) {
    let at = into.populations.len();
    for mut p in sub.populations {
        p.name = format!("{label}.{}", p.name);
        into.populations.push(p);
    }
    into.connections.extend(sub.connections.into_iter().map(|mut c| {
        c.from += at;
        c.to += at;
        c
    }));
    into.drives.extend(sub.drives.into_iter().map(|mut d| {
        d.to += at;
        if let Some(r) = &mut d.rate_of {
            r.0 += at;
        }
        d
    }));
    into.readouts.extend(sub.readouts.into_iter().map(|mut r| {
        r.from += at;
        r.to += at;
        r
    }));
}
