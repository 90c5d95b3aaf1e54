//! A cell: its sections, regions, clamps and probes, its `simulate` block
//! and flags, lowered into a [`CellRun`]. Settings: `dt` (default
//! 0.025 ms), `duration` (100 ms), `method` (`backward_euler`, the
//! default, or `crank_nicolson`, alias `trapezoidal`), `d_lambda` (0.1:
//! the segments of a section without `nseg`), and the cell's parameters.

mod places;
mod sections;

use super::settings::Ctx;
use super::{Body, Flags, Run};
use crate::cable::geometry::Tree;
use crate::cable::sim::{Clamp, Engine, Scheme};
use crate::diag::{Code, Diagnostic};
use crate::ir::{NodeKind, Ty};
use crate::schemes::{self, Method};
use crate::source::Span;
use crate::syntax::ast::{self, StmtKind};
use crate::units::{dims, Dim};

/// A cell's run.
#[derive(Clone, Debug)]
pub struct CellRun {
    /// One cell's nodes.
    pub tree: Tree,
    /// Per region.
    pub membranes: Vec<MembraneRun>,
    pub engine: Engine,
    pub region_names: Vec<String>,
    pub scheme: Scheme,
    /// The clamps of one cell, each with its amplitude in every cell.
    pub clamps: Vec<(Clamp, Vec<f64>)>,
    /// (column label, node), in the first cell.
    pub probes: Vec<(String, usize)>,
    /// Identical cells side by side (their clamps' amplitudes may spread).
    pub cells: usize,
    /// Spike detection: the node (in one cell) and the threshold.
    pub detect: Option<(usize, f64)>,
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
    // the membranes' parameters, evaluated: cm and Ra per region
    let mut plans = Vec::new();
    let mut ra = Vec::new();
    let mut cm = Vec::new();
    let mut equations = Vec::new();
    for (m, over) in &mut membranes {
        if let Some(e) = m.events.first() {
            return ctx.reject(
                format!("a region's membrane has an event (in `{}`)", m.name),
                e.span,
                "an event inside a cell's region",
                "a cell's spikes are `spike when V(SECTION) crosses LEVEL` in the cell itself; its regions hold channels",
            );
        }
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
        // V is the cable's: the channels' plan leaves it out (the kernels and
        // the reference engine then advance the same blocks)
        m.states[v].rhs = None;
        let (plan, d) = schemes::derive_plan(m, Method::Auto);
        ctx.diags.extend(d);
        plans.push(plan?);
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
    let sections = sections::sections(ctx, cell, &region_names, &ra, &cm, d_lambda)?;
    let ra_of: Vec<f64> = sections.iter().map(|s| ra[s.membrane]).collect();
    let one = Tree::build(sections, &ra_of);
    let (clamps, probes) = places::clamps_and_probes(ctx, cell, &one)?;
    let detect = places::spike_detection(ctx, cell, &one)?;
    let states: usize = membranes.iter().map(|(m, _)| m.states.len()).max().unwrap_or(1);
    let nodes = (one.len() * cells) as f64;
    super::fits(ctx, nodes * (states + 8) as f64 * 8.0, &format!("{cells} cells of {} nodes", one.len()), span)?;
    let tree = one;
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
    let membranes = membranes
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
    let mut membranes = membranes;
    places::per_compartment(ctx, cell, &tree, &region_names, &mut membranes)?;
    let engine = match flags.backend {
        Some(super::Backend::Reference) => Engine::Reference,
        Some(super::Backend::Interp) => Engine::Kernel { jit: false },
        _ => Engine::Kernel { jit: true },
    };
    settings.push(("backend".into(), flags.backend.unwrap_or(super::Backend::Jit).name().into()));
    Some(Run {
        target: name.to_string(),
        kind: ast::ModelKind::Cell,
        span,
        dt,
        duration,
        seed,
        sample_every,
        progress: flags.progress,
        body: Body::Cell(Box::new(CellRun {
            tree,
            membranes,
            engine,
            region_names,
            scheme,
            clamps,
            probes,
            cells,
            detect,
            threads,
        })),
        settings,
    })
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
