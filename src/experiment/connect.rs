//! A network's `connect` and `drive` statements as the runtime's
//! [`Connection`]s and [`Drive`]s, connection files read and checked, and
//! the memory the connectivity will take estimated before it is drawn.

use super::hybrid;
use super::network::{PendingConnection, PendingDrive};
use super::point::{parse_train, Train};
use super::settings::Ctx;
use crate::diag::{Code, Diagnostic};
use crate::runtime::network::{self, Connection, Drive, Network, Population, Rule, SynapseTable};
use crate::runtime::spikegen::Spread;
use crate::source::Span;
use crate::syntax::ast::{self, ModelKind};
use crate::units::{self, Dim};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Every `connect` statement, for each target population.
pub(super) fn connections(
    ctx: &mut Ctx,
    pops: &[Population],
    pending: &[PendingConnection],
    dt: f64,
) -> Option<Vec<Connection>> {
    let c = ctx.c;
    let mut out = Vec::new();
    for conn in pending {
        let span = conn.span;
        let table = match conn.file {
            None => None,
            Some((path, fspan)) => {
                if conn.from.len() != 1 || conn.to.len() != 1 {
                    return ctx.reject(
                        "a connection file joins one population to one population",
                        span,
                        "several populations",
                        "write one `connect A -> B via PORT file \"a_to_b.csv\"` per pair",
                    );
                }
                let base = c.sources.path(fspan.file).and_then(|p| p.parent().map(Path::to_path_buf));
                let full = base.map_or_else(|| PathBuf::from(path), |d| d.join(path));
                match read_synapse_table(&full, pops[conn.from[0]].count, pops[conn.to[0]].count) {
                    Ok(t) => Some(Arc::new(t)),
                    Err(why) => {
                        ctx.fail(
                            Diagnostic::error(Code::DataFile, format!("cannot use `{}`: {why}", full.display()))
                                .at(*fspan, "this file")
                                .help("a CSV with a header `pre,post[,weight][,delay_ms]` (neurons numbered within the source and the target population from 0, weights in SI units), or an NPY array of those columns; read relative to the model's file"),
                        );
                        return None;
                    }
                }
            }
        };
        for &b in &conn.to {
            let wdim = port_weight(ctx, &pops[b], conn.via)?;
            let ConnSettings { p, w, delay, w_spread, delay_range, indegree, one_to_one, stp, stdp } =
                settings_of(ctx, conn.settings, wdim, dt)?;
            let delays_per_synapse =
                delay_range.is_some() || table.as_ref().is_some_and(|t: &Arc<SynapseTable>| t.delays.is_some());
            if stdp.is_some() && delays_per_synapse {
                return ctx.reject(
                    "a connection with spike-timing dependent plasticity takes one delay",
                    span,
                    "delays per synapse",
                    "give it `delay = 1.5 ms` (the delay is dendritic, as in NEST's stdp_synapse: postsynaptic spikes reach the synapse after it)",
                );
            }
            if one_to_one {
                if let Some(&a) = conn.from.iter().find(|&&a| pops[a].count != pops[b].count) {
                    return ctx.reject(
                        format!(
                            "one_to_one joins populations of equal size, not {} ({}) to {} ({})",
                            pops[a].name, pops[a].count, pops[b].name, pops[b].count
                        ),
                        span,
                        "this connection",
                        "give both populations the same number of neurons",
                    );
                }
            }
            if table.is_some()
                && (indegree.is_some() || one_to_one || p != 1.0 || w_spread.is_some() || delay_range.is_some())
            {
                return ctx.reject(
                    "a connection from a file takes only `w` and `delay`",
                    span,
                    "this connection",
                    "the file lists the synapses; `w` and `delay` apply where it has no weight or delay column",
                );
            }
            let rule = match indegree {
                _ if table.is_some() => Rule::Table,
                _ if one_to_one => Rule::OneToOne,
                Some((k, kspan)) => {
                    if k as f64 * pops[b].count as f64 > 4e9 {
                        return ctx.reject(
                            format!("{k} sources for each of {} neurons", pops[b].count),
                            kspan,
                            "too many synapses",
                            "a connection holds at most 4 x 10^9 synapses",
                        );
                    }
                    Rule::InDegree(k as usize)
                }
                None => Rule::Probability(p),
            };
            for &a in &conn.from {
                out.push(Connection {
                    from: a,
                    to: b,
                    port: conn.via.name.clone(),
                    rule,
                    w,
                    delay,
                    w_spread,
                    delay_range,
                    table: table.clone(),
                    stp: stp.clone(),
                    stdp: stdp.clone(),
                    span,
                });
            }
        }
    }
    Some(out)
}

/// A connection's settings.
struct ConnSettings {
    p: f64,
    w: f64,
    delay: f64,
    w_spread: Option<Spread>,
    delay_range: Option<(f64, f64)>,
    indegree: Option<(u64, Span)>,
    one_to_one: bool,
    stp: Option<Arc<network::Stp>>,
    stdp: Option<Arc<network::Stdp>>,
}

/// Reads `(p = ..., k = ..., rule = ..., w = ..., delay = ..., plasticity =
/// ...)` with the weight in the target port's unit `wdim`; other names set
/// the plasticity model's parameters.
fn settings_of(ctx: &mut Ctx, settings: &[ast::Binding], wdim: Option<Dim>, dt: f64) -> Option<ConnSettings> {
    let time = units::dims::time();
    let (mut p, mut w, mut delay) = (1.0, 0.0, dt);
    let (mut w_spread, mut delay_range) = (None, None);
    let mut indegree: Option<(u64, Span)> = None;
    let mut one_to_one = false;
    let mut named = settings.iter().filter(|s| s.name.name == "plasticity");
    let mut rule = match named.next() {
        Some(s) => Some((plasticity_model(ctx, &s.value)?, s.value.span)),
        None => None,
    };
    if let Some(again) = named.next() {
        return ctx.reject(
            "a connection has one `plasticity`",
            again.name.span,
            "a second one",
            "write one rule; a rule combining several is its own `plasticity` model",
        );
    }
    let w_given = settings.iter().any(|s| s.name.name == "w");
    for s in settings {
        match s.name.name.as_str() {
            "plasticity" => {}
            "rule" => match &s.value.kind {
                ast::ExprKind::Name(r) if r == "one_to_one" => one_to_one = true,
                ast::ExprKind::Name(r) if r == "all_to_all" => p = 1.0,
                _ => {
                    return ctx.reject(
                        "unknown connection rule",
                        s.value.span,
                        "not a rule",
                        "`rule = one_to_one` or `rule = all_to_all`; `p = ...` or `k = ...` for random rules",
                    );
                }
            },
            "p" => {
                p = ctx.constant(&s.value, Dim::NONE, "`p`")?;
                if !(0.0..=1.0).contains(&p) {
                    return ctx.reject(
                        format!("connection probability {p} is not in [0, 1]"),
                        s.value.span,
                        "not a probability",
                        "p is a probability",
                    );
                }
            }
            "k" => {
                let k = ctx.count(
                    &s.value,
                    "the in-degree `k`",
                    0,
                    1 << 31,
                    "k is the number of sources of each target: `k = 100`",
                )?;
                indegree = Some((k, s.value.span));
            }
            "w" => {
                let wd = wdim.unwrap_or(Dim::NONE);
                match ctx.spread(&s.value, wd, "`w`")? {
                    Some(Spread::Linspace(..)) => {
                        return ctx.reject(
                            "weights per synapse are drawn from `normal(mean, sd)` or `uniform(lo, hi)`",
                            s.value.span,
                            "an even spread has no order over the synapses",
                            "draw them, as `w = normal(1 mV, 0.2 mV)`, or give one weight, as `w = 1 mV`",
                        );
                    }
                    Some(sp) => w_spread = Some(sp),
                    None => w = ctx.finite(&s.value, wd, "`w`")?,
                }
            }
            "delay" => match ctx.spread(&s.value, time, "`delay`")? {
                Some(Spread::Uniform(lo, hi)) if lo >= 0.0 && lo <= hi => delay_range = Some((lo, hi)),
                Some(_) => {
                    return ctx.reject(
                        "random delays are drawn from `uniform(lo, hi)`",
                        s.value.span,
                        "not a bounded, non-negative range",
                        "the ring buffers are sized from the largest delay: `delay = uniform(1 ms, 3 ms)`",
                    );
                }
                None => {
                    delay = ctx.finite(&s.value, time, "`delay`")?;
                    if delay < 0.0 {
                        return ctx.reject(
                            "a delay cannot be negative",
                            s.value.span,
                            "negative",
                            "delays are rounded to whole steps, at least one",
                        );
                    }
                }
            },
            name => {
                let param = rule.as_ref().and_then(|(m, _)| m.param(name).map(|i| (i, m.params[i].dim)));
                if let (Some((i, dim)), Some((m, _))) = (param, rule.as_mut()) {
                    let v = ctx.constant(&s.value, dim, &format!("`{name}`"))?;
                    m.params[i].value =
                        m.arena.add(crate::ir::NodeKind::Const(v), crate::ir::Ty::Num(dim), s.value.span);
                    continue;
                }
                let mut known = vec!["p", "k", "rule", "w", "delay", "plasticity"];
                if let Some((m, _)) = &rule {
                    known.extend(m.params.iter().map(|q| q.name.as_str()));
                }
                return ctx.unknown(
                    "connection setting",
                    &s.name,
                    &known,
                    "connections take p (probability), k (in-degree) or rule, w (weight), delay, plasticity, and the plasticity model's parameters",
                );
            }
        }
    }
    let (mut stp, mut stdp) = (None, None);
    if let Some((model, at)) = rule {
        if network::is_stdp(&model) {
            let rule = timing_rule(ctx, &model, at, wdim)?;
            if !rule.relative && !w_given {
                w = rule.w_init; // the rule's own initial weight, in the port's unit
            }
            stdp = Some(rule);
        } else {
            stp = Some(short_term(ctx, &model, at)?);
        }
    }
    Some(ConnSettings { p, w, delay, w_spread, delay_range, indegree, one_to_one, stp, stdp })
}

/// `plasticity = TMDepressing`: the plasticity model named (to be set up by
/// the connection's other settings).
fn plasticity_model(ctx: &mut Ctx, value: &ast::Expr) -> Option<crate::ir::Model> {
    let model = match &value.kind {
        ast::ExprKind::Name(n) => ctx.c.model(n).filter(|m| m.kind == ModelKind::Plasticity),
        _ => None,
    };
    let Some(model) = model else {
        ctx.fail(
            Diagnostic::error(Code::UnknownModel, "`plasticity` names a plasticity model")
                .at(value.span, "not a plasticity model")
                .help("e.g. `plasticity = TMDepressing` after `import \"plasticity.neuro\"`, or `STDPPair` from \"stdp.neuro\""),
        );
        return None;
    };
    Some(model.clone())
}

/// Short-term plasticity, which the runtime integrates exactly between a
/// presynaptic neuron's spikes.
fn short_term(ctx: &mut Ctx, model: &crate::ir::Model, at: Span) -> Option<Arc<network::Stp>> {
    match network::Stp::new(model) {
        Ok(x) => Some(Arc::new(x)),
        Err(why) => {
            ctx.fail(
                Diagnostic::error(Code::NotInKernel, format!("plasticity `{}` cannot run on a connection: {why}", model.name))
                    .at(at, "this plasticity")
                    .help("connections integrate plasticity exactly between spikes, which needs equations linear with constant coefficients"),
            );
            None
        }
    }
}

/// A spike-timing dependent rule (`on spike pre`, `on spike post`, a
/// weight `w`) whose weight fits the port's unit `wdim`.
fn timing_rule(ctx: &mut Ctx, model: &crate::ir::Model, at: Span, wdim: Option<Dim>) -> Option<Arc<network::Stdp>> {
    let rule = match network::Stdp::new(model) {
        Ok(x) => x,
        Err(why) => {
            ctx.fail(
                Diagnostic::error(Code::NotInKernel, format!("plasticity `{}` cannot run on a connection: {why}", model.name))
                    .at(at, "this plasticity")
                    .help("a spike-timing dependent rule has a weight `w` and traces per neuron, linear between spikes, changed by `on spike pre { ... }` and `on spike post { ... }` (see stdlib/stdp.neuro)"),
            );
            return None;
        }
    };
    let dim = rule.weight_dim();
    if !rule.relative && Some(dim) != wdim {
        ctx.fail(
            Diagnostic::error(
                Code::DimensionMismatch,
                format!(
                    "the weight `w` of `{}` is in {}, but the port takes {}",
                    model.name,
                    units::pretty(&dim),
                    wdim.map_or("no weight".to_string(), |d| units::pretty(&d))
                ),
            )
            .at(at, "this plasticity")
            .help("give `w` the port's unit, or make it dimensionless: a factor of the connection's `w`"),
        );
        return None;
    }
    Some(Arc::new(rule))
}

/// The weight unit of input port `via` of a target model (E0201 if it has
/// no such port).
fn port_weight(ctx: &mut Ctx, target: &Population, via: &ast::Ident) -> Option<Option<Dim>> {
    let ports = target.ports();
    match ports.iter().find(|(p, _)| *p == via.name) {
        Some((_, wdim)) => Some(*wdim),
        None => {
            let names: Vec<&str> = ports.iter().map(|(p, _)| p.as_str()).collect();
            let mut d = Diagnostic::error(
                Code::UnknownName,
                format!("`{}` has no input port `{}`", target.model.name, via.name),
            )
            .at(via.span, "not a port of the target");
            d = match crate::diag::did_you_mean(&via.name, names.iter().copied()) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None if names.is_empty() && target.cells.is_some() => {
                    d.help("give the cell a synapse site: `synapse ampa = AMPA on dend(at = 0.5)`")
                }
                None if names.is_empty() => d.help("declare one in the neuron: `on spike exc(w: nS) { g += w }`"),
                None => d.help(format!("its ports: {}", names.join(", "))),
            };
            ctx.fail(d);
            None
        }
    }
}

/// Every `drive` statement, for each target population.
pub(super) fn drives(
    ctx: &mut Ctx,
    pops: &[Population],
    pending: &[PendingDrive],
    duration: f64,
    seed: u64,
) -> Option<(Vec<Drive>, Vec<hybrid::PendingReadout>)> {
    let mut out = Vec::new();
    let mut readouts = Vec::new();
    for d in pending {
        let Some(via) = d.via else {
            return ctx.reject(
                "a drive needs the port it feeds",
                d.span,
                "which input port?",
                "end it with `via PORT`, e.g. `drive E with poisson(rate = 20 Hz, n = 100, w = 0.1 mV) via exc`",
            );
        };
        if d.source.name == "rate" {
            for &b in &d.to {
                readouts.push(hybrid::readout(ctx, pops, b, d, via)?);
            }
            continue;
        }
        // `rate = FACTOR * M.X`: a rate that follows a rate model's state
        let follows = d.settings.iter().find(|st| st.name.name == "rate" && hybrid::has_member(&st.value));
        let rate_of = match follows {
            Some(st) => Some(hybrid::rate_of(ctx, pops, &st.value)?),
            None => None,
        };
        if rate_of.is_some() && !["poisson", "gamma"].contains(&d.source.name.as_str()) {
            return ctx.reject(
                "only a Poisson drive's rate can follow a population",
                d.source.span,
                "not poisson(...)",
                "`drive E with poisson(rate = 50 Hz * M.E, n = 100, w = ...) via PORT`",
            );
        }
        let shape = hybrid::gamma_shape(ctx, d)?;
        let settings: Vec<ast::Binding> = d
            .settings
            .iter()
            .filter(|st| !(rate_of.is_some() && st.name.name == "rate") && st.name.name != "k")
            .cloned()
            .collect();
        for &b in &d.to {
            let wdim = port_weight(ctx, &pops[b], via)?;
            let (rate, n, w, times) = drive_settings(ctx, d.source, &settings, wdim, duration, seed)?;
            if shape.is_some() && n * pops[b].count as f64 > 1e8 {
                return ctx.reject(
                    format!("{} gamma trains into `{}`", n * pops[b].count as f64, pops[b].name),
                    d.span,
                    "each train keeps its own state",
                    "at most 10^8 gamma trains per drive; a Poisson drive has no such limit",
                );
            }
            out.push(Drive { to: b, port: via.name.clone(), rate, n, w, times, rate_of, shape });
        }
    }
    Some((out, readouts))
}

/// A drive's settings: `poisson(rate = ..., n = ..., w = ...)` or
/// `spikes(times = ..., w = ...)`, with `w` in `wdim`: (rate, n, w, times).
pub(super) fn drive_settings(
    ctx: &mut Ctx,
    source: &ast::Ident,
    settings: &[ast::Binding],
    wdim: Option<Dim>,
    duration: f64,
    seed: u64,
) -> Option<(f64, f64, f64, Option<Vec<f64>>)> {
    let list = source.name == "spikes";
    let (mut rate, mut n, mut w) = (0.0, 1.0, 0.0);
    let mut times = None;
    for st in settings {
        match st.name.name.as_str() {
            "rate" if !list => {
                rate = ctx.finite(&st.value, units::dims::rate(), "`rate`")?;
                if rate < 0.0 {
                    return ctx.reject("a rate cannot be negative", st.value.span, "negative", "e.g. `rate = 20 Hz`");
                }
            }
            "n" if !list => {
                n = ctx.count(
                    &st.value,
                    "`n`",
                    0,
                    1_000_000_000,
                    "the number of independent trains per neuron: `n = 100`",
                )? as f64;
            }
            "times" if list => {
                let train = parse_train(ctx, &st.value)?;
                if let Train::Regular(p) = train {
                    if duration / p > 1e8 {
                        return ctx.reject(
                            "this train has too many spikes",
                            st.value.span,
                            "too many",
                            "at most 10^8 spikes",
                        );
                    }
                }
                times = Some(train.times(duration, seed));
            }
            "w" => w = ctx.finite(&st.value, wdim.unwrap_or(Dim::NONE), "`w`")?,
            _ => {
                let known = if list { vec!["times", "w"] } else { vec!["rate", "n", "w"] };
                return ctx.unknown("drive setting", &st.name, &known, "`poisson(rate = ..., n = ..., w = ...)` or `spikes(times = at(5 ms, 12 ms), w = ...)` (also `regular(20 ms)`, `poisson(20 Hz)`)");
            }
        }
    }
    if list && times.is_none() {
        return ctx.reject(
            "a spike-list drive needs its `times`",
            source.span,
            "which times?",
            "`spikes(times = at(5 ms, 12 ms), w = 1 nS)`",
        );
    }
    Some((rate, n, w, times))
}

/// E0503 when the populations' states and the connectivity would not fit in
/// memory: per synapse a 4-byte target (all the connections are drawn
/// before narrow targets replace them), plus 8 for a drawn weight and 4
/// for a drawn delay.
pub(super) fn fits(ctx: &mut Ctx, net: &Network, dt: f64, duration: f64, span: Span) -> Option<()> {
    let mut bytes = 0.0;
    for p in &net.populations {
        let arrays = p.model.states.len() as f64 + 2.0;
        bytes += p.count as f64 * arrays * 8.0;
    }
    for c in &net.connections {
        let (na, nb) = (net.populations[c.from].count as f64, net.populations[c.to].count as f64);
        let synapses = expected_synapses(net, c);
        let per = 4.0 + if c.w_spread.is_some() { 8.0 } else { 0.0 } + if c.delay_range.is_some() { 4.0 } else { 0.0 };
        bytes += synapses * per + (na + 1.0) * 8.0;
        if c.stdp.is_some() {
            // a weight per synapse, traces per neuron (after, before, time),
            // up to 64 arrivals per target, and the weights saved at the end
            bytes += synapses * (8.0 + 32.0) + (na + nb) * 8.0 * 8.0 + nb * 64.0 * 32.0;
        }
        // the ring buffer of the target's port: one slot per step of delay
        let longest = c.delay_range.map_or(c.delay, |r| r.1).min(duration);
        bytes += nb * 8.0 * ((longest / dt).ceil() + 2.0);
    }
    super::fits(ctx, bytes, &format!("network `{}`", net.name), span)
}

/// The number of synapses a connection is expected to draw.
pub(super) fn expected_synapses(net: &Network, c: &Connection) -> f64 {
    let (na, nb) = (net.populations[c.from].count as f64, net.populations[c.to].count as f64);
    match c.rule {
        Rule::Probability(p) => na * nb * p,
        Rule::InDegree(k) => nb * k as f64,
        Rule::OneToOne => na.min(nb),
        Rule::Table => c.table.as_ref().map_or(0.0, |t| t.pairs.len() as f64),
    }
}

/// Reads a connection file: CSV with a header naming `pre`, `post` and
/// optionally `weight` (SI) and `delay_ms`, or an NPY array with those
/// columns in that order. Indices are within the source (`na`) and target
/// (`nb`) populations.
pub(super) fn read_synapse_table(path: &Path, na: usize, nb: usize) -> Result<SynapseTable, String> {
    if crate::vfs::is_dir(path) {
        return Err("it is a directory".into());
    }
    let rows: Vec<Vec<f64>>;
    let mut cols = vec!["pre".to_string(), "post".into(), "weight".into(), "delay_ms".into()];
    if path.extension().is_some_and(|e| e == "npy") {
        use ndarray_npy::ReadNpyExt;
        let bytes = crate::vfs::read(path).map_err(|e| e.to_string())?;
        let arr = ndarray::Array2::<f64>::read_npy(bytes.as_slice()).map_err(|e| e.to_string())?;
        if !(2..=4).contains(&arr.ncols()) {
            return Err(format!("the array has {} columns, not 2 to 4", arr.ncols()));
        }
        cols.truncate(arr.ncols());
        rows = arr.rows().into_iter().map(|r| r.to_vec()).collect();
    } else {
        let bytes = crate::vfs::read(path).map_err(|e| e.to_string())?;
        let text = String::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_string())?;
        let mut lines = text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
        let header = lines.next().ok_or("the file is empty")?;
        cols = header.split(',').map(|c| c.trim().to_string()).collect();
        let mut out = Vec::new();
        for (k, line) in lines.enumerate() {
            let row: Result<Vec<f64>, _> = line.split(',').map(|x| x.trim().parse::<f64>()).collect();
            let row = row.map_err(|_| format!("row {} is not numbers", k + 1))?;
            if row.len() != cols.len() {
                return Err(format!("row {} has {} values, the header {}", k + 1, row.len(), cols.len()));
            }
            out.push(row);
        }
        rows = out;
    }
    let col = |name: &str| cols.iter().position(|c| c == name);
    let (Some(pre), Some(post)) = (col("pre"), col("post")) else {
        return Err(format!("no `pre` and `post` columns (the header is `{}`)", cols.join(",")));
    };
    if let Some(bad) = cols.iter().find(|c| !["pre", "post", "weight", "delay_ms"].contains(&c.as_str())) {
        return Err(format!("unknown column `{bad}`"));
    }
    let (wc, dc) = (col("weight"), col("delay_ms"));
    let mut t = SynapseTable {
        pairs: Vec::with_capacity(rows.len()),
        weights: wc.map(|_| Vec::with_capacity(rows.len())),
        delays: dc.map(|_| Vec::with_capacity(rows.len())),
    };
    for (k, r) in rows.iter().enumerate() {
        let index = |x: f64, n: usize, what: &str| -> Result<u32, String> {
            if x >= 0.0 && x.fract() == 0.0 && (x as usize) < n {
                Ok(x as u32)
            } else {
                Err(format!("row {}: {what} {x} is not a neuron of its population (0 to {})", k + 1, n - 1))
            }
        };
        t.pairs.push((index(r[pre], na, "pre")?, index(r[post], nb, "post")?));
        if let (Some(c), Some(w)) = (wc, t.weights.as_mut()) {
            if !r[c].is_finite() {
                return Err(format!("row {}: the weight is not a number", k + 1));
            }
            w.push(r[c]);
        }
        if let (Some(c), Some(d)) = (dc, t.delays.as_mut()) {
            if !(r[c] >= 0.0 && r[c] <= 1e6) {
                return Err(format!("row {}: the delay {} ms is not between 0 and 10^6 ms", k + 1, r[c]));
            }
            d.push(r[c] * 1e-3);
        }
    }
    Ok(t)
}
