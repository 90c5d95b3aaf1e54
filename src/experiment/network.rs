//! A network: populations of point models, connections, drives and
//! recorders, lowered into a [`NetworkRun`] (the runtime's
//! [`Network`] and what to record).
//!
//! In order: the populations (E0212 for a model that is not a neuron or
//! rate model; 1 to 10^8 neurons); the statements (`parameter`, `connect`,
//! `drive`, `record`); synapse models named by `via` that the target
//! neuron does not use are inserted into it and lumped (one set of states
//! per neuron for all such synapses, when `runtime::network::lumpable`
//! proves it exact, else E0404); network parameters overridden by `--set`;
//! the `simulate` block (dt, duration, seed, `method`, parameters per neuron
//! and initial values spread over the populations); connections and drives
//! ([`super::connect`]); recorders; then the checks that need everything:
//! per-neuron parameters that other quantities are computed from (E0503),
//! the memory the connectivity will take (E0503), and each population's
//! plan and kernel (E0402, E0404).

use super::connect;
use super::settings::Ctx;
use super::{Body, Flags, Run};
use crate::diag::{Code, Diagnostic};
use crate::ir::{self, Method};
use crate::kernel;
use crate::runtime::network::{self, Network, Population};
use crate::runtime::spikegen::Spread;
use crate::schemes;
use crate::source::Span;
use crate::syntax::ast::{self, ModelKind};
use crate::units::{self, Dim};

/// A network's run.
#[derive(Clone, Debug)]
pub struct NetworkRun {
    pub network: Network,
    /// Initial values spread over every population that has the state.
    pub init: Vec<(String, Spread)>,
    /// Parameters spread over every population that has them (per neuron).
    pub params: Vec<(String, Spread)>,
    /// States sampled: (population, state, first neuron, end neuron).
    pub probes: Vec<(usize, usize, usize, usize)>,
    /// Binned population rates: (population, bin in s).
    pub rates: Vec<(usize, f64)>,
    /// `record lfp(P)`: (population, its synaptic current states).
    pub lfp: Vec<(usize, Vec<usize>)>,
    /// `record weights(P, every = ...)`: the plastic connections onto these
    /// populations, summarized every so many seconds.
    pub weights: Option<(Vec<usize>, f64)>,
    pub keep_synapses: bool,
    /// Threads; 0 lets the runtime choose from the work per step.
    pub threads: usize,
    /// The JIT (else the kernel interpreter).
    pub jit: bool,
    pub method: Method,
}

/// A `connect` statement with its populations resolved.
pub(super) struct PendingConnection<'a> {
    pub via: &'a ast::Ident,
    pub from: Vec<usize>,
    pub to: Vec<usize>,
    pub settings: &'a [ast::Binding],
    pub span: Span,
    pub file: Option<&'a (String, Span)>,
}

/// A `drive` statement with its populations resolved.
pub(super) struct PendingDrive<'a> {
    pub to: Vec<usize>,
    pub source: &'a ast::Ident,
    pub settings: &'a [ast::Binding],
    pub via: Option<&'a ast::Ident>,
    pub span: Span,
}

pub(super) fn configure(ctx: &mut Ctx, net: &ast::Model, block: Option<&ast::Simulate>, flags: &Flags) -> Option<Run> {
    let c = ctx.c;
    let span = block.map_or(net.name.span, |b| b.span);
    let mut pops = populations(ctx, net, flags)?;
    let names: Vec<String> = pops.iter().map(|p| p.name.clone()).collect();
    let mut conns: Vec<PendingConnection> = Vec::new();
    let mut drives: Vec<PendingDrive> = Vec::new();
    for stmt in &net.stmts {
        match &stmt.kind {
            ast::StmtKind::Connect { from, to, via, settings, file } => {
                let from = find_all(ctx, &names, from)?;
                let to = find_all(ctx, &names, to)?;
                conns.push(PendingConnection { via, from, to, settings, span: stmt.span, file: file.as_ref() });
            }
            ast::StmtKind::Drive { targets, source, settings, via } => {
                if !["poisson", "gamma", "spikes", "rate"].contains(&source.name.as_str()) {
                    ctx.fail(
                        Diagnostic::error(Code::NotSimulatedYet, format!("`{}` drives are not simulated yet", source.name))
                            .at(source.span, "not a generator")
                            .help("drive with `poisson(rate = ..., n = ..., w = ...) via PORT`, `spikes(times = at(5 ms, 12 ms), w = ...) via PORT`, or a rate model's input with `rate(of = POP, tau = ...) via INPUT`"),
                    );
                    return None;
                }
                let to = find_all(ctx, &names, targets)?;
                drives.push(PendingDrive { to, source, settings, via: via.as_ref(), span: stmt.span });
            }
            ast::StmtKind::Population { .. } | ast::StmtKind::Record(_) => {}
            ast::StmtKind::Parameter(bs) => ctx.scope.extend(bs.iter().cloned()),
            _ => {
                ctx.fail(
                    Diagnostic::error(Code::NotSimulatedYet, "this network statement is not simulated yet")
                        .at(stmt.span, "not simulated yet")
                        .help("networks run `population`, `connect`, `drive` and `record` statements today"),
                );
                return None;
            }
        }
    }
    insert_synapses(ctx, &mut pops, &conns)?;
    set_parameters(ctx, net, flags)?;
    let time = units::dims::time();
    let NetBlock { mut dt, mut duration, mut seed, mut method, init, params, constants, mut settings } =
        block_settings(ctx, &pops, block)?;
    // settings that only cells have do not reach them: the cell's own
    // `simulate` block sets them
    let names_set = init.iter().map(|x| &x.0).chain(params.iter().map(|x| &x.0)).chain(constants.iter().map(|x| &x.0));
    for name in names_set {
        let has = |p: &Population| p.model.param(name).is_some() || p.model.state(name).is_some();
        if let Some(cell) = pops.iter().find(|p| p.cells.is_some() && has(p)) {
            if !pops.iter().any(|p| p.cells.is_none() && has(p)) {
                return ctx.reject(
                    format!("`{name}` is set for the cells of `{}`, which take it from their own run", cell.name),
                    span,
                    "in this network's settings",
                    format!("set it in the cell's own block: `simulate {} {{ {name} = ... }}`", cell.model.name),
                );
            }
        }
    }
    for (name, v, at) in &constants {
        for p in &mut pops {
            set_constant(&mut p.model, name, *v, *at);
        }
    }
    // an input set per neuron becomes a parameter the input reads
    for (name, _) in &params {
        for p in &mut pops {
            if let (None, Some(v)) = (p.model.param(name), super::settings::input(&p.model, name)) {
                super::settings::input_as_param(&mut p.model, v);
            }
        }
    }
    if let Some(e) = &flags.dt {
        dt = ctx.constant(e, time, "`--dt`")?;
    }
    if let Some(e) = &flags.duration {
        duration = ctx.constant(e, time, "`--duration`")?;
    }
    ctx.time_grid((dt, duration), 1e9, block, flags, span)?;
    if let Some(e) = &flags.seed {
        seed = ctx.count(e, "`--seed`", 0, 1 << 53, "e.g. --seed 42")?;
    }
    if let Some(m) = &flags.method {
        method = Some((ctx.method(&m.name, m.span)?, m.span));
    }
    // a method asked for by the block or `--method` replaces each model's
    // own `method =`, and E0402 points at where it was asked for
    if let Some((m, at)) = method {
        pops.iter_mut().for_each(|p| p.model.method = Some((m.name().to_string(), at)));
    }
    if let Some(e) = &flags.neurons {
        return ctx.reject(
            "`--neurons` sets the size of a population of one model, not of a network",
            e.span,
            "not for networks",
            "change the sizes in the network's `population` statements (or make them parameters and use --set)",
        );
    }
    let threads = match &flags.threads {
        Some(e) => ctx.count(e, "`--threads`", 1, 1024, "e.g. --threads 4")? as usize,
        None => 0,
    };
    if flags.no_tables {
        pops.iter_mut().for_each(|p| p.model.tables.clear());
    }
    {
        let mut models: Vec<&mut ir::Model> = pops.iter_mut().map(|p| &mut p.model).collect();
        ctx.table_flags(&flags.tables, &mut models)?;
    }
    super::hybrid::no_density_connections(ctx, &pops, &conns)?;
    let connections = connect::connections(ctx, &pops, &conns, dt)?;
    let (drive_list, pending_readouts) = connect::drives(ctx, &pops, &drives, duration, seed)?;
    // spikes to rates: the inputs they set become parameters
    let readouts = super::hybrid::readouts(&mut pops, pending_readouts);
    let Recorders { probes, rates, every, weights, lfp } = recorders(ctx, net, &pops, &names)?;
    if let Some((targets, _)) = &weights {
        if let Some(&pi) = targets.iter().find(|&&pi| !connections.iter().any(|c| c.to == pi && c.stdp.is_some())) {
            return ctx.reject(
                format!("no connection onto `{}` has spike-timing dependent plasticity", pops[pi].name),
                span,
                "in this network's `record weights(...)`",
                "record the weights of a population that plastic connections end on",
            );
        }
    }
    let default_every = every.map_or(1, |e| ((e / dt).round() as usize).max(1));
    let sample_every = ctx.sample_every(flags.sample.as_ref(), dt, duration, default_every)?;
    spread_parameters_are_leaves(ctx, &pops, &params, span)?;
    let network = Network { name: net.name.name.clone(), populations: pops, connections, drives: drive_list, readouts };
    connect::fits(ctx, &network, dt, duration, span)?;
    let method = method.map_or(Method::Auto, |m| m.0);
    kernels(ctx, &network, &params, method, dt, span)?;
    settings.push(("method".into(), method.name().into()));
    for (name, e) in &flags.set {
        settings.push((name.name.clone(), c.sources.snippet(e.span).trim().to_string()));
    }
    Some(Run {
        target: net.name.name.clone(),
        kind: ModelKind::Network,
        span,
        dt,
        duration,
        seed,
        sample_every,
        progress: flags.progress,
        body: Body::Network(NetworkRun {
            network,
            init,
            params,
            probes,
            rates,
            weights,
            lfp,
            keep_synapses: flags.keep_synapses,
            threads,
            jit: flags.backend != Some(super::Backend::Interp),
            method,
        }),
        settings,
    })
}

/// What a network's `simulate` block says.
struct NetBlock {
    dt: f64,
    duration: f64,
    seed: u64,
    method: Option<(Method, Span)>,
    /// Initial values and parameters spread over every population that has
    /// them.
    init: Vec<(String, Spread)>,
    params: Vec<(String, Spread)>,
    /// Parameters (or inputs) set to a constant: (name, SI value, where).
    constants: Vec<(String, f64, Span)>,
    settings: Vec<(String, String)>,
}

/// Reads a network's `simulate` block: the time grid, the seed, the
/// method, and states and parameters set or spread per neuron.
fn block_settings(ctx: &mut Ctx, pops: &[Population], block: Option<&ast::Simulate>) -> Option<NetBlock> {
    let c = ctx.c;
    let time = units::dims::time();
    let mut b = NetBlock {
        dt: 1e-4,
        duration: 1.0,
        seed: 1,
        method: None,
        init: vec![],
        params: vec![],
        constants: vec![],
        settings: vec![],
    };
    for s in block.map_or(&[][..], |b| &b.settings[..]) {
        let key = s.name.name.as_str();
        b.settings.push((key.to_string(), c.sources.snippet(s.value.span).to_string()));
        let param_dim = pops.iter().find_map(|p| p.model.param(key).map(|i| p.model.params[i].dim));
        let state_dim = pops.iter().find_map(|p| p.model.state(key).map(|i| p.model.states[i].dim));
        // an input spread per neuron becomes a parameter (see `inputs_as_params`)
        let param_dim = param_dim
            .or_else(|| pops.iter().find_map(|p| super::settings::input(&p.model, key).map(|i| p.model.values[i].dim)));
        match key {
            "dt" => b.dt = ctx.constant(&s.value, time, "`dt`")?,
            "duration" => b.duration = ctx.constant(&s.value, time, "`duration`")?,
            "seed" => b.seed = ctx.count(&s.value, "`seed`", 0, 1 << 53, "e.g. `seed = 42`")?,
            "method" => {
                b.method = Some((ctx.method(c.sources.snippet(s.value.span).trim(), s.value.span)?, s.value.span))
            }
            _ if param_dim.is_some() || state_dim.is_some() => {
                // a state's initial value, else a parameter per neuron: a spread or a constant
                let dim = state_dim.or(param_dim).unwrap_or(Dim::NONE);
                let spread = match ctx.spread(&s.value, dim, &format!("`{key}`"))? {
                    Some(sp) => sp,
                    None if state_dim.is_none() => {
                        // a constant parameter is set in the models, not per neuron
                        let v = ctx.constant(&s.value, dim, &format!("`{key}`"))?;
                        b.constants.push((key.to_string(), v, s.value.span));
                        continue;
                    }
                    None => {
                        let v = ctx.finite(&s.value, dim, &format!("`{key}`"))?;
                        Spread::Linspace(v, v)
                    }
                };
                if state_dim.is_some() {
                    b.init.push((key.to_string(), spread));
                } else {
                    b.params.push((key.to_string(), spread));
                }
            }
            _ => {
                let mut known = vec!["dt", "duration", "seed", "method"];
                for p in pops {
                    known.extend(p.model.params.iter().map(|q| q.name.as_str()));
                    known.extend(
                        p.model.values.iter().filter(|v| v.kind == ir::ValueKind::Input).map(|v| v.name.as_str()),
                    );
                    known.extend(p.model.states.iter().map(|q| q.name.as_str()));
                }
                return ctx.unknown("network setting", &s.name, &known, "settings: dt, duration, seed, method, initial values `STATE = uniform(lo, hi)`, and parameters or inputs per neuron `tau_m = normal(20 ms, 2 ms)`");
            }
        }
    }
    Some(b)
}

/// Sets parameter or input `name` of `m`, if it has one, to the constant
/// `v` (SI).
fn set_constant(m: &mut ir::Model, name: &str, v: f64, at: Span) {
    if let Some(i) = m.param(name) {
        let dim = m.params[i].dim;
        m.params[i].value = m.arena.add(ir::NodeKind::Const(v), ir::Ty::Num(dim), at);
    } else if let Some(i) = super::settings::input(m, name) {
        let dim = m.values[i].dim;
        m.values[i].expr = m.arena.add(ir::NodeKind::Const(v), ir::Ty::Num(dim), at);
    }
}

/// The `population` statements.
fn populations(ctx: &mut Ctx, net: &ast::Model, flags: &Flags) -> Option<Vec<Population>> {
    let c = ctx.c;
    if flags.backend == Some(super::Backend::Reference) {
        return ctx.reject(
            "the reference interpreter simulates one neuron, not a network",
            net.name.span,
            "a network",
            "use --backend jit (the default) or interp",
        );
    }
    let mut pops: Vec<Population> = Vec::new();
    for stmt in &net.stmts {
        let ast::StmtKind::Population { name, size, model } = &stmt.kind else { continue };
        let Some(m) = c.model(&model.name) else {
            // reported by `compile` (an unknown or failed model)
            if c.library.get(&model.name).is_none() {
                ctx.fail(
                    Diagnostic::error(Code::UnknownModel, format!("no model named `{}`", model.name))
                        .at(model.span, "not found")
                        .help("define it in this file or import the file that defines it"),
                );
            }
            return None;
        };
        if m.kind == ModelKind::Density && *size != 1 {
            return ctx.reject(
                format!("a density stands for a whole population: `{}` cannot have {size} of them", name.name),
                stmt.span,
                "one density",
                format!("write `population {} = 1 x {}`", name.name, model.name),
            );
        }
        if !matches!(m.kind, ModelKind::Neuron | ModelKind::Rate | ModelKind::Cell | ModelKind::Density) {
            ctx.fail(
                Diagnostic::error(Code::WrongKind, format!("`{}` is a {}, not a neuron", model.name, m.kind.keyword()))
                    .at(model.span, "populations are made of neurons")
                    .help("use a neuron model, a cell, a rate model or a density"),
            );
            return None;
        }
        if pops.iter().any(|p| p.name == name.name) {
            ctx.fail(
                Diagnostic::error(Code::Duplicate, format!("two populations named `{}`", name.name))
                    .at(name.span, "defined again here")
                    .help("give each population its own name"),
            );
            return None;
        }
        if !(1..=100_000_000).contains(size) {
            return ctx.reject(
                format!("a population of {size} neurons"),
                stmt.span,
                "this population",
                "a population has from 1 to 100,000,000 neurons",
            );
        }
        let mut pop = Population::of(&name.name, m.clone(), *size as usize);
        if m.kind == ModelKind::Cell {
            pop.cells = Some(std::sync::Arc::new(super::cell::in_network(ctx, &model.name, pop.count, flags)?));
        }
        pops.push(pop);
    }
    if pops.is_empty() {
        return ctx.reject(
            format!("network `{}` has no populations", net.name.name),
            net.name.span,
            "nothing to simulate",
            "add one: `population E = 800 x LIF`",
        );
    }
    Some(pops)
}

fn find_all(ctx: &mut Ctx, names: &[String], ids: &[ast::Ident]) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    for id in ids {
        match names.iter().position(|n| *n == id.name) {
            Some(i) => out.push(i),
            None => {
                let mut d = Diagnostic::error(Code::UnknownName, format!("no population named `{}`", id.name))
                    .at(id.span, "not a population of this network");
                d = match crate::diag::did_you_mean(&id.name, names.iter().map(String::as_str)) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help(format!("populations: {}", names.join(", "))),
                };
                ctx.fail(d);
                return None;
            }
        }
    }
    Some(out)
}

/// Connections `via` a synapse model the target neuron does not use: the
/// synapse is inserted into the neuron (one set of states per neuron,
/// shared by all such synapses: lumping) when its kinetics allow it; the
/// neuron's `currents` then include the synapse's current.
fn insert_synapses(ctx: &mut Ctx, pops: &mut [Population], conns: &[PendingConnection]) -> Option<()> {
    let c = ctx.c;
    let mut inserted: Vec<Vec<ast::Ident>> = vec![Vec::new(); pops.len()];
    for conn in conns {
        let Some(syn) = c.library.get(&conn.via.name) else { continue };
        if syn.kind != ModelKind::Synapse {
            continue;
        }
        for &b in &conn.to {
            let has_port = pops[b].ports().iter().any(|(p, _)| *p == conn.via.name);
            if !has_port && pops[b].cells.is_some() {
                return ctx.reject(
                    format!("cell `{}` has no synapse site `{}`", pops[b].model.name, conn.via.name),
                    conn.via.span,
                    "not a site of the cell",
                    format!(
                        "connections into cells end at a synapse site: `synapse {0} = {0} on dend(at = 0.5)` in the cell, then `via {0}`",
                        conn.via.name
                    ),
                );
            }
            if !has_port && !inserted[b].iter().any(|x| x.name == conn.via.name) {
                inserted[b].push(conn.via.clone());
            }
        }
    }
    for (b, syns) in inserted.iter().enumerate() {
        if syns.is_empty() {
            continue;
        }
        for syn in syns {
            let sm = c.model(&syn.name)?;
            if let Err(why) = network::lumpable(sm) {
                ctx.fail(
                    Diagnostic::error(Code::NotInKernel, format!("synapse `{}` cannot be lumped: {why}", syn.name))
                        .at(syn.span, "a synapse model on a connection")
                        .help("synapses on connections share one set of states per target neuron, which needs linear kinetics; per-synapse states are not built yet"),
                );
                return None;
            }
        }
        let target = pops[b].model.name.clone();
        let mut with = c.library.get(&target)?.clone();
        with.stmts.push(ast::Stmt { kind: ast::StmtKind::Use(syns.clone()), span: syns[0].span });
        let (m, d) = ir::lower::lower_model(&c.library, &with);
        let errors = d.has_errors();
        ctx.diags.extend(d);
        let m = m.filter(|_| !errors)?;
        if !uses_currents(&m) {
            ctx.fail(
                Diagnostic::error(
                    Code::MissingAmbient,
                    format!("`{target}` has no `currents` in its equations to take the synapse's current"),
                )
                .at(syns[0].span, "a synapse model on a connection")
                .help("write the membrane equation with `currents` (the sum of inserted channels' and synapses' currents, outward positive): `dV/dt = (I_e - currents) / C_m`"),
            );
            return None;
        }
        pops[b].model = m;
    }
    Some(())
}

/// Whether a neuron's equations read `currents` (directly or through values).
fn uses_currents(m: &ir::Model) -> bool {
    let Some(c) = m.value("currents") else { return false };
    let mut exprs: Vec<ir::ExprId> = m.states.iter().filter_map(|s| s.rhs).collect();
    exprs.extend(m.values.iter().filter(|v| v.name != "currents").map(|v| v.expr));
    exprs.iter().any(|&e| m.refs(e).contains(&ir::Var::Value(c)))
}

/// `--set NAME=VALUE` of a network parameter: replaces its expression.
fn set_parameters(ctx: &mut Ctx, net: &ast::Model, flags: &Flags) -> Option<()> {
    for (name, value) in &flags.set {
        let Some(k) = ctx.scope.iter().position(|b| b.name.name == name.name) else {
            let names: Vec<String> = ctx.scope.iter().map(|b| b.name.name.clone()).collect();
            let mut d = Diagnostic::error(
                Code::UnknownOverride,
                format!("`{}` is not a parameter of `{}`", name.name, net.name.name),
            )
            .at(name.span, "unknown name");
            d = match crate::diag::did_you_mean(&name.name, names.iter().map(String::as_str)) {
                _ if names.is_empty() => d.help("this network has no parameters (`parameter K = 100` in the network)"),
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help(format!("parameters: {}", names.join(", "))),
            };
            ctx.fail(d);
            return None;
        };
        ctx.scope[k].value = value.clone();
    }
    Some(())
}

/// Recorders: `rate(E, bin = 1 ms)` (binned population rates, from the
/// spikes) and `V(E[0:10], every = 1 ms)` (sampled states); spikes are
/// always written. Returns the probes, the rates and the sampling period.
#[allow(clippy::type_complexity)]
fn recorders(ctx: &mut Ctx, net: &ast::Model, pops: &[Population], names: &[String]) -> Option<Recorders> {
    let time = units::dims::time();
    let mut rates: Vec<(usize, f64)> = Vec::new();
    let mut probes: Vec<(usize, usize, usize, usize)> = Vec::new();
    let mut every: Option<f64> = None;
    let mut weights: Option<(Vec<usize>, f64)> = None;
    let mut lfp: Vec<(usize, Vec<usize>)> = Vec::new();
    for stmt in &net.stmts {
        let ast::StmtKind::Record(list) = &stmt.kind else { continue };
        for probe in list {
            let pname = probe.name.name.as_str();
            let mut bin = 1e-3;
            let mut weights_every = 0.1;
            for b in &probe.settings {
                match (pname, b.name.name.as_str()) {
                    ("rate", "bin") => bin = ctx.constant(&b.value, time, "`bin`")?,
                    (_, "every") if pname != "rate" && pname != "spikes" => {
                        let e = ctx.constant(&b.value, time, "`every`")?;
                        if !(e > 0.0 && e.is_finite()) {
                            return ctx.reject(
                                "`every` must be a positive duration",
                                b.value.span,
                                "not positive",
                                "e.g. `every = 1 ms`",
                            );
                        }
                        if pname == "weights" {
                            weights_every = e;
                        } else {
                            every = Some(e);
                        }
                    }
                    _ => {
                        return ctx.unknown(
                            "recorder setting",
                            &b.name,
                            &["bin", "every"],
                            "`rate(E, bin = 1 ms)`; `V(E[0:10], every = 1 ms)`",
                        );
                    }
                }
            }
            if !(bin > 0.0 && bin.is_finite()) {
                return ctx.reject(
                    "a rate's bin must be a positive duration",
                    probe.name.span,
                    "this recorder",
                    "e.g. `rate(E, bin = 1 ms)`",
                );
            }
            for (target, range) in &probe.targets {
                let pi = find_all(ctx, names, std::slice::from_ref(target))?[0];
                match pname {
                    "spikes" => {}
                    // the LFP proxy, unless the neurons have a state `lfp`
                    "lfp" if pops[pi].model.state("lfp").is_none() => {
                        if range.is_some() {
                            return ctx.reject(
                                "`lfp(...)` sums over a whole population",
                                target.span,
                                "a range of neurons",
                                format!("write `lfp({})`", target.name),
                            );
                        }
                        // synaptic currents: states in A that an input port's spikes change
                        let m = &pops[pi].model;
                        let fed = |k: usize| {
                            m.events.iter().any(|e| {
                                matches!(e.trigger, ir::Trigger::Spike { port: Some(_), .. })
                                    && e.actions
                                        .iter()
                                        .any(|a| matches!(a, ir::Action::Assign { state, .. } if *state == k))
                            })
                        };
                        let currents: Vec<usize> = (0..m.states.len())
                            .filter(|&k| m.states[k].dim == units::dims::current() && fed(k))
                            .collect();
                        if currents.is_empty() || pops[pi].cells.is_some() {
                            return ctx.reject(
                                format!("`{}` has no synaptic current states for an LFP proxy", target.name),
                                target.span,
                                "this population",
                                "`lfp(P)` sums |I| over the states in A that P's input ports change (LIFExp's I_ex, I_in; Mazzoni et al. 2008)",
                            );
                        }
                        if !lfp.iter().any(|x| x.0 == pi) {
                            lfp.push((pi, currents));
                        }
                    }
                    // a neuron's own state `weights` is recorded as a state
                    "weights" if pops[pi].model.state("weights").is_none() => {
                        if range.is_some() {
                            return ctx.reject(
                                "`weights(...)` summarizes every plastic synapse onto a population",
                                target.span,
                                "a range of neurons",
                                format!("write `weights({})`", target.name),
                            );
                        }
                        let w = weights.get_or_insert_with(|| (Vec::new(), weights_every));
                        if w.1 != weights_every {
                            return ctx.reject(
                                "the weights are summarized at two intervals",
                                probe.name.span,
                                "a second `every`",
                                "give every `record weights(...)` the same `every`",
                            );
                        }
                        if !w.0.contains(&pi) {
                            w.0.push(pi);
                        }
                    }
                    "rate" if rates.iter().any(|&(p, _)| p == pi) => {
                        return ctx.reject(
                            format!("the rate of `{}` is recorded twice", target.name),
                            probe.name.span,
                            "a second recorder writing the same file",
                            "record one rate per population",
                        );
                    }
                    "rate" => rates.push((pi, bin)),
                    state if pops[pi].cells.is_some() => {
                        return ctx.reject(
                            format!("`{state}` of the cells of `{}` is not recorded in a network", target.name),
                            probe.name.span,
                            "a cell population",
                            "record spikes(...) or rate(...) of cells; V at a location is recorded in the cell's own run",
                        );
                    }
                    state => {
                        let m = &pops[pi].model;
                        let Some(si) = m.state(state) else {
                            let states: Vec<&str> = m.states.iter().map(|x| x.name.as_str()).collect();
                            ctx.fail(
                                Diagnostic::error(
                                    Code::UnknownRecord,
                                    format!("`{}` has no state `{state}` to record", m.name),
                                )
                                .at(probe.name.span, "not a state")
                                .help(format!("states: {}; or `spikes(...)`, `rate(...)`", states.join(", "))),
                            );
                            return None;
                        };
                        let n = pops[pi].count;
                        let (a, b) = match range {
                            Some((a, b)) => (*a as usize, *b as usize),
                            None => (0, n.min(10)),
                        };
                        if !(a < b && b <= n) {
                            return ctx.reject(
                                format!("neurons [{a}:{b}] are not within `{}` (0 to {n})", target.name),
                                target.span,
                                "this range",
                                format!("a range [first:end) within 0..{n}, e.g. `{}[0:10]`", target.name),
                            );
                        }
                        if b - a > 100_000 {
                            return ctx.reject(
                                format!("{} neurons sampled at every step", b - a),
                                target.span,
                                "too many columns",
                                "sample at most 100,000 neurons per recorder",
                            );
                        }
                        if probes.iter().any(|&(p, s, _, _)| p == pi && s == si) {
                            return ctx.reject(
                                format!("`{state}` of `{}` is recorded twice", target.name),
                                probe.name.span,
                                "a second recorder writing the same file",
                                format!("record one range: `{state}({}[a:b])`", target.name),
                            );
                        }
                        probes.push((pi, si, a, b));
                    }
                }
            }
        }
    }
    Some(Recorders { probes, rates, every, weights, lfp })
}

/// A network's `record` statements: states sampled (population, state,
/// first, end), binned rates (population, bin), the states' sampling
/// interval, and the populations whose plastic inputs are summarized.
struct Recorders {
    probes: Vec<(usize, usize, usize, usize)>,
    rates: Vec<(usize, f64)>,
    every: Option<f64>,
    weights: Option<(Vec<usize>, f64)>,
    lfp: Vec<(usize, Vec<usize>)>,
}

/// A parameter given per neuron reaches the kernels' arithmetic, not other
/// parameters or initial values computed from it: E0503 for those cases.
fn spread_parameters_are_leaves(
    ctx: &mut Ctx,
    pops: &[Population],
    params: &[(String, Spread)],
    span: Span,
) -> Option<()> {
    for (name, _) in params {
        for p in pops {
            let m = &p.model;
            let Some(i) = m.param(name) else { continue };
            let reads = |e: ir::ExprId| m.reads(e, |v| v == ir::Var::Param(i));
            let user = m
                .params
                .iter()
                .enumerate()
                .find(|(k, q)| *k != i && reads(q.value))
                .map(|(_, q)| format!("parameter `{}`", q.name))
                .or_else(|| {
                    m.states.iter().find(|st| reads(st.init)).map(|st| format!("the initial value of `{}`", st.name))
                });
            if let Some(user) = user {
                return ctx.reject(
                    format!("`{name}` cannot vary per neuron in `{}`: {user} is computed from it once", m.name),
                    span,
                    "this setting",
                    "spread the dependent quantity itself, or make it a derived value (`name = expr`), which the kernels evaluate per neuron",
                );
            }
        }
    }
    Some(())
}

/// Each population's plan and kernel, as the run will build them (E0402,
/// E0404 before anything runs).
fn kernels(
    ctx: &mut Ctx,
    net: &Network,
    params: &[(String, Spread)],
    method: Method,
    dt: f64,
    span: Span,
) -> Option<()> {
    for (pi, pop) in net.populations.iter().enumerate() {
        if pop.cells.is_some() || pop.model.kind == ModelKind::Density {
            continue; // built when the cell was configured; a density has no kernel
        }
        let mut m = pop.model.clone();
        let asked = m.method.as_ref().and_then(|(x, _)| Method::parse(x)).unwrap_or(method);
        let (plan, d) = schemes::derive_plan(&mut m, asked);
        ctx.diags.extend(d);
        let plan = plan?;
        let values = ir::eval::eval_params(&m, &[]);
        if let Some((p, v)) = m.params.iter().zip(&values).find(|(_, v)| !v.is_finite()) {
            ctx.fail(
                Diagnostic::error(Code::BadNumber, format!("parameter `{}` evaluates to {v}", p.name))
                    .at(p.span, "not a finite number")
                    .help("check the parameter's expression for an overflow or a division by zero"),
            );
            return None;
        }
        let per: Vec<usize> = params.iter().filter_map(|(name, _)| m.param(name)).collect();
        let mut ports: Vec<String> = Vec::new();
        let incoming = net.connections.iter().filter(|c| c.to == pi).map(|c| &c.port);
        let driven = net.drives.iter().filter(|d| d.to == pi).map(|d| &d.port);
        for port in incoming.chain(driven) {
            if !ports.contains(port) {
                ports.push(port.clone());
            }
        }
        if let Err(d) = kernel::check_tables(&m, &values, &per) {
            ctx.fail(*d);
            return None;
        }
        let no_values = vec![None; m.values.len()];
        if let Err(kernel::Unsupported(why)) = crate::runtime::population::kernel_depth(&m).and_then(|()| {
            // random parameters are per-step arrays, as in the run
            let mut noise = crate::ir::noise::noise_params(&m);
            // and the inputs readouts rewrite every step
            noise.extend(net.readouts.iter().filter(|r| r.to == pi).map(|r| r.param));
            let mut per = per.clone();
            for &p in &noise {
                if !per.contains(&p) {
                    per.push(p);
                }
            }
            let sig = kernel::Signature {
                params: &values,
                per_neuron: &per,
                value_overrides: &no_values,
                ports: &ports,
                outputs: &[],
                per_step: &noise,
            };
            kernel::build_full(&m, &plan, &sig, dt)
        }) {
            ctx.fail(
                Diagnostic::error(
                    Code::NotInKernel,
                    format!("population `{}` cannot run as a fused kernel: {why}", pop.name),
                )
                .at(span, "in this network")
                .help("every method runs in kernels; what is named above cannot be a kernel"),
            );
            return None;
        }
    }
    Some(())
}
