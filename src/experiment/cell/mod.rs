//! A cell: its sections, regions, clamps and probes, its `simulate` block
//! and flags, lowered into a [`CellRun`]. Settings: `dt` (default
//! 0.025 ms), `duration` (100 ms), `method` (`backward_euler`, the
//! default, or `crank_nicolson`, alias `trapezoidal`), `d_lambda` (0.1:
//! the segments of a section without `nseg`), and the cell's parameters.

mod at;
mod places;
mod sections;
pub mod sites;

use super::settings::Ctx;
use super::{Body, Flags, Run};
use crate::cable::geometry::Tree;
use crate::cable::population::Cells;
use crate::cable::sim::{Clamp, Engine, Scheme, Site};
use crate::diag::{Code, Diagnostic};
use crate::ir::{NodeKind, Ty};
use crate::schemes::{self, Method};
use crate::source::Span;
use crate::syntax::ast::{self, StmtKind};
use crate::units::{dims, Dim};

/// A cell's run.
#[derive(Clone, Debug)]
pub struct CellRun {
    pub cells: Cells,
    /// (column label, node), in the first cell.
    pub probes: Vec<(String, usize)>,
    /// Spike trains into the synapse sites.
    pub drives: Vec<sites::SiteDrive>,
    /// Cells are run in this many blocks, one per thread.
    pub threads: usize,
}

/// A region's membrane as a run needs it.
pub type MembraneRun = crate::cable::sim::Membrane;

fn none() -> Dim {
    Dim::NONE
}

pub(super) fn configure(ctx: &mut Ctx, cell: &ast::Model, block: Option<&ast::Simulate>, flags: &Flags) -> Option<Run> {
    let c = ctx.c;
    let name = &cell.name.name;
    let span = block.map_or(cell.name.span, |b| b.span);
    let regions = crate::cable::regions(cell);
    if regions.is_empty() {
        return ctx.reject(
            format!("cell `{name}` has no region: its sections have no membrane"),
            cell.name.span,
            "no `region`",
            "give the sections a membrane: `region all { use Leak }` (or one region per section name)",
        );
    }
    for (what, example) in [("V", "state V = -65 mV"), ("Cm", "parameter Cm = 1 uF/cm^2")] {
        let found = cell.stmts.iter().any(|s| match &s.kind {
            StmtKind::State(d) => what == "V" && d.iter().any(|d| d.name.name == "V"),
            StmtKind::Parameter(b) => b.iter().any(|b| b.name.name == what),
            _ => false,
        });
        if !found {
            return ctx.reject(
                format!("cell `{name}` does not declare `{what}`"),
                cell.name.span,
                "missing",
                format!("a cell declares its membrane potential and capacitance: `{example}`"),
            );
        }
    }
    // membranes, with the block's and the flags' parameter settings
    let mut membranes = Vec::new();
    let mut region_names = Vec::new();
    for (rname, _, _) in &regions {
        let model = c.model(&crate::cable::membrane_name(name, &rname.name))?.clone();
        let overrides = vec![None; model.params.len()];
        membranes.push((model, overrides));
        region_names.push(rname.name.clone());
    }
    // the synapse sites' models take the same settings, until split off
    let site_list = crate::cable::sites(cell);
    for (k, site) in site_list.iter().enumerate() {
        if let Some(first) = site_list[..k].iter().find(|s| s.name.name == site.name.name) {
            ctx.fail(
                Diagnostic::error(Code::Duplicate, format!("two synapse sites named `{}`", site.name.name))
                    .at(site.name.span, "a second site of this name")
                    .with_label(first.name.span, "the first")
                    .help("give each site its own name: it is the port spikes are sent to"),
            );
            return None;
        }
        sites::is_synapse(ctx, site)?;
        let model = c.model(&crate::cable::site_name(name, &site.name.name))?.clone();
        let overrides = vec![None; model.params.len()];
        membranes.push((model, overrides));
    }
    let time = dims::time();
    let (mut dt, mut duration, mut d_lambda) = (0.025e-3, 0.1, 0.1);
    let (mut cells, mut seed) = (1usize, 1u64);
    let mut scheme = Scheme::BackwardEuler;
    let mut settings = Vec::new();
    let sets: Vec<(&ast::Ident, &ast::Expr)> = block
        .map_or(&[][..], |b| &b.settings[..])
        .iter()
        .map(|b| (&b.name, &b.value))
        .chain(flags.set.iter().map(|(n, e)| (n, e)))
        .collect();
    for (key, value) in sets {
        settings.push((key.name.clone(), c.sources.snippet(value.span).trim().to_string()));
        if let Some(dim) = membranes.iter().find_map(|(m, _)| m.param(&key.name).map(|p| m.params[p].dim)) {
            let v = ctx.constant(value, dim, &format!("`{}`", key.name))?;
            for (m, over) in &mut membranes {
                if let Some(p) = m.param(&key.name) {
                    over[p] = Some(m.arena.add(NodeKind::Const(v), Ty::Num(dim), value.span));
                }
            }
            continue;
        }
        match key.name.as_str() {
            "dt" => dt = ctx.constant(value, time, "`dt`")?,
            "duration" => duration = ctx.constant(value, time, "`duration`")?,
            "cells" => cells = ctx.count(value, "`cells`", 1, 100_000_000, "e.g. `cells = 1000`")? as usize,
            "seed" => seed = ctx.count(value, "`seed`", 0, 1 << 53, "e.g. `seed = 42`")?,
            "d_lambda" => {
                d_lambda = ctx.constant(value, none(), "`d_lambda`")?;
                if !(d_lambda > 0.0 && d_lambda.is_finite()) {
                    return ctx.reject(
                        "`d_lambda` must be positive",
                        value.span,
                        "here",
                        "NEURON's usual value: `d_lambda = 0.1`",
                    );
                }
            }
            "method" => scheme = cell_scheme(ctx, c.sources.snippet(value.span).trim(), value.span)?,
            _ => {
                let mut known = vec!["dt", "duration", "method", "d_lambda", "cells", "seed"];
                let mut params: Vec<String> =
                    membranes.iter().flat_map(|(m, _)| m.params.iter().map(|p| p.name.clone())).collect();
                params.sort();
                params.dedup();
                known.extend(params.iter().map(String::as_str));
                return ctx.unknown(
                    "setting",
                    key,
                    &known,
                    "a cell's settings: dt, duration, method, d_lambda and its parameters",
                );
            }
        }
    }
    if let Some(e) = &flags.dt {
        dt = ctx.constant(e, time, "`--dt`")?;
    }
    if let Some(e) = &flags.duration {
        duration = ctx.constant(e, time, "`--duration`")?;
    }
    if let Some(m) = &flags.method {
        scheme = cell_scheme(ctx, &m.name, m.span)?;
    }
    if let Some(e) = &flags.neurons {
        cells = ctx.count(e, "`--neurons`", 1, 100_000_000, "e.g. `--neurons 1000`")? as usize;
    }
    if let Some(e) = &flags.seed {
        seed = ctx.count(e, "`--seed`", 0, 1 << 53, "e.g. `--seed 42`")?;
    }
    ctx.time_grid((dt, duration), 1e8, block, flags, span)?;
    let sample_every =
        ctx.sample_every(flags.sample.as_ref(), dt, duration, ((0.1e-3 / dt).round() as usize).max(1))?;
    let site_models = membranes.split_off(region_names.len());
    // the membranes' parameters, evaluated: cm and Ra per region
    let mut plans = Vec::new();
    let mut ra = Vec::new();
    let mut cm = Vec::new();
    let mut equations = Vec::new();
    for (m, _) in membranes.iter().chain(site_models.iter()) {
        if let Some(&p) = crate::ir::noise::noise_params(m).first() {
            return ctx.reject(
                format!(
                    "random draws (white or escape noise) in a cell are not simulated yet (`{}` in `{}`)",
                    m.params[p].name, m.name
                ),
                m.params[p].span,
                "noise in a cell's membrane or synapse",
                "cells are deterministic for now; drive a synapse site with Poisson trains for irregular input",
            );
        }
    }
    for (m, over) in &mut membranes {
        if let Some(e) = m.events.first() {
            return ctx.reject(
                format!("a region's membrane has an event (in `{}`)", m.name),
                e.span,
                "an event inside a cell's region",
                "a cell's spikes are `spike when V(SECTION) crosses LEVEL` in the cell itself; its regions hold channels",
            );
        }
        let (plan, f, j) = equations_of(ctx, m)?;
        plans.push(plan);
        equations.push((f, j));
        let params = crate::ir::eval::eval_params(m, over);
        let get = |n: &str| m.param(n).map(|p| params[p]);
        for name in ["Cm", "Ra"] {
            if let Some(p) = m.param(name).filter(|&p| !(params[p] > 0.0 && params[p].is_finite())) {
                return ctx.reject(
                    format!("`{name}` must be positive, not {}", params[p]),
                    m.params[p].span,
                    "not a positive value",
                    "e.g. `parameter Cm = 1 uF/cm^2, Ra = 100 ohm*cm`",
                );
            }
        }
        cm.push(get("Cm").unwrap_or(f64::NAN));
        ra.push(get("Ra").unwrap_or(0.354));
        if let Some(p) = m.param("Ra") {
            if m.params[p].dim != dims::resistivity() {
                return ctx.reject(
                    "`Ra` is the axial resistivity: its unit is ohm cm",
                    m.params[p].span,
                    "not a resistivity",
                    "e.g. `parameter Ra = 100 ohm*cm`",
                );
            }
        }
        if let Some(p) = m.param("Cm") {
            if m.params[p].dim != dims::specific_capacitance() {
                return ctx.reject(
                    "`Cm` is the membrane capacitance per area: its unit is uF/cm^2",
                    m.params[p].span,
                    "not a capacitance per area",
                    "e.g. `parameter Cm = 1 uF/cm^2`",
                );
            }
        }
    }
    // regions chosen by a condition are not chosen by name
    let selectors = crate::cable::selectors(cell);
    let mut by_name = region_names.clone();
    for &(k, _) in &selectors {
        by_name[k] = String::new();
    }
    let sections = sections::sections(ctx, cell, &by_name, &ra, &cm, d_lambda)?;
    let ra_of: Vec<f64> = sections.iter().map(|s| ra[s.membrane]).collect();
    let one = Tree::build(sections, &ra_of);
    let (clamps, probes) = places::clamps_and_probes(ctx, cell, &one)?;
    let detect = places::spike_detection(ctx, cell, &one)?;
    let states: usize = membranes.iter().map(|(m, _)| m.states.len()).max().unwrap_or(1);
    let nodes = (one.len() * cells) as f64;
    super::fits(ctx, nodes * (states + 8) as f64 * 8.0, &format!("{cells} cells of {} nodes", one.len()), span)?;
    let mut tree = one;
    let clamps: Vec<(Clamp, Vec<f64>)> = clamps
        .into_iter()
        .enumerate()
        .map(|(k, (c, sp))| {
            let amps = match sp {
                Some(sp) => crate::runtime::spikegen::spread(sp, cells, seed, 100 + k as u64),
                None => vec![c.amplitude; cells],
            };
            (c, amps)
        })
        .collect();
    let threads = ctx.threads(flags)?;
    settings.push(("method".into(), scheme.name().into()));
    settings.push(("compartments".into(), (tree.compartments() * cells).to_string()));
    settings.push(("cells".into(), cells.to_string()));
    let mut membranes = membranes
        .into_iter()
        .zip(plans)
        .zip(equations)
        .map(|(((model, param_overrides), plan), (f, j))| MembraneRun {
            model,
            plan,
            param_overrides,
            f,
            j,
            per_compartment: vec![],
        })
        .collect::<Vec<_>>();
    at::select(ctx, cell, &mut tree, &selectors, &membranes[0])?;
    places::per_compartment(ctx, cell, &tree, &region_names, &mut membranes)?;
    let engine = match flags.backend {
        Some(super::Backend::Reference) => Engine::Reference,
        Some(super::Backend::Interp) => Engine::Kernel { jit: false },
        _ => Engine::Kernel { jit: true },
    };
    settings.push(("backend".into(), flags.backend.unwrap_or(super::Backend::Jit).name().into()));
    // the synapse sites
    let mut sites = Vec::new();
    let mut ports = Vec::new();
    for (site, (mut model, param_overrides)) in site_list.iter().zip(site_models) {
        let (node, port, wdim) = sites::place(ctx, site, &tree, &model)?;
        let (plan, f, j) = equations_of(ctx, &mut model)?;
        let membrane = MembraneRun { model, plan, param_overrides, f, j, per_compartment: vec![] };
        sites.push(Site { membrane, port, node });
        ports.push((site.name.name.clone(), wdim));
    }
    if engine == Engine::Reference && !sites.is_empty() {
        return ctx.reject(
            "synapse sites run in kernels, not on the reference interpreter",
            site_list[0].span,
            "a synapse site",
            "run the cell with `--backend jit` (the default) or `--backend interp`",
        );
    }
    let drives = sites::drives(ctx, cell, &ports, (duration, seed))?;
    let cells = Cells {
        tree,
        membranes,
        region_names,
        sites,
        site_names: ports.into_iter().map(|p| p.0).collect(),
        scheme,
        engine,
        clamps,
        count: cells,
        detect,
    };
    Some(Run {
        target: name.to_string(),
        kind: ast::ModelKind::Cell,
        span,
        dt,
        duration,
        seed,
        sample_every,
        progress: flags.progress,
        body: Body::Cell(Box::new(CellRun { cells, probes, drives, threads })),
        settings,
    })
}

/// A membrane's V equation f and its derivative df/dV, and the plan of
/// its other states (V is the cable's, so the plan leaves it out; the
/// kernels and the reference engine then advance the same blocks).
fn equations_of(
    ctx: &mut Ctx,
    m: &mut crate::ir::Model,
) -> Option<(crate::schemes::Plan, crate::ir::ExprId, crate::ir::ExprId)> {
    let v = m.state("V")?;
    let f = m.states[v].rhs?;
    // df/dV while V still has its equation
    let j = match schemes::Jacobian::new(m).entry(m, v, v) {
        Ok(j) => j,
        Err(why) => {
            return ctx.reject(
                format!("the membrane current of `{}` cannot be differentiated by V: {why}", m.name),
                m.span,
                "this region",
                "the cable solver needs di/dV; write the channels' currents with differentiable functions",
            )
        }
    };
    m.states[v].rhs = None;
    let (plan, d) = schemes::derive_plan(m, Method::Auto);
    ctx.diags.extend(d);
    Some((plan?, f, j))
}

fn cell_scheme(ctx: &mut Ctx, text: &str, span: Span) -> Option<Scheme> {
    match text {
        "backward_euler" | "auto" => Some(Scheme::BackwardEuler),
        "crank_nicolson" | "trapezoidal" | "implicit" => Some(Scheme::CrankNicolson),
        _ => {
            ctx.fail(
                Diagnostic::error(Code::UnknownMethod, format!("`{text}` is not a method for a cell"))
                    .at(span, "unknown")
                    .help("a cell's V steps by `backward_euler` (default) or `crank_nicolson` (alias `trapezoidal`); its channels keep their own schemes"),
            );
            None
        }
    }
}

/// Cell `name` as a population of `count` cells in a network: its
/// sections, regions, sites, clamps and spike detector, configured as for
/// its own run (with its own `simulate` block, if any, for its method,
/// d_lambda and parameters; the network's step and duration apply). Its sites are driven by the network (`drive`, `connect`), its
/// spikes come from its `spike when` (E0503 without one).
pub(super) fn in_network(ctx: &mut Ctx, name: &str, count: usize, flags: &Flags) -> Option<Cells> {
    let c = ctx.c;
    let cell = c.library.get(name)?;
    let size = ast::Expr { kind: ast::ExprKind::Number { value: count as f64, unit: None }, span: cell.name.span };
    let own = Flags { backend: flags.backend, neurons: Some(size), ..Flags::default() };
    let block = c.library.simulate.iter().find(|s| s.target.name == name);
    let run = configure(ctx, cell, block, &own)?;
    let Body::Cell(run) = run.body else { return None };
    if run.cells.detect.is_none() {
        return ctx.reject(
            format!("cell `{name}` in a network has no spike detector"),
            cell.name.span,
            "no `spike when`",
            "say where its spikes come from: `spike when V(soma) crosses 0 mV`",
        );
    }
    if let Some(d) =
        cell.stmts.iter().find(|s| matches!(&s.kind, StmtKind::Drive { source, .. } if source.name != "IClamp"))
    {
        return ctx.reject(
            "in a network, a cell's synapse sites are driven by the network",
            d.span,
            "a spike train in the cell",
            "drive the population instead: `drive C with poisson(rate = 10 Hz, n = 100, w = 1 nS) via SITE`",
        );
    }
    Some(run.cells)
}
