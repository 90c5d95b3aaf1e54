//! A cell: its sections, regions, clamps and probes, its `simulate` block
//! and flags, lowered into a [`CellRun`]. Settings: `dt` (default
//! 0.025 ms), `duration` (100 ms), `method` (`backward_euler`, the
//! default, or `crank_nicolson`, alias `trapezoidal`), `d_lambda` (0.1:
//! the segments of a section without `nseg`), and the cell's parameters.

use super::settings::Ctx;
use super::{Body, Flags, Run};
use crate::cable::geometry::{self, Section, Tree};
use crate::cable::sim::{Clamp, Engine, Scheme};
use crate::diag::{Code, Diagnostic};
use crate::ir::{self, ExprId, NodeKind, Ty};
use crate::runtime::spikegen::Spread;
use crate::schemes::{self, Method, Plan};
use crate::source::Span;
use crate::syntax::ast::{self, StmtKind};
use crate::units::{self, dims, format_number, Dim};

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
#[derive(Clone, Debug)]
pub struct MembraneRun {
    pub model: ir::Model,
    pub plan: Plan,
    pub param_overrides: Vec<Option<ExprId>>,
    /// V's equation f = -currents / Cm.
    pub f: ExprId,
    /// df/dV.
    pub j: ExprId,
    /// Parameters set per compartment (`NaT.gbar = ... distance ...`):
    /// (parameter, value at each node of one cell).
    pub per_compartment: Vec<(usize, Vec<f64>)>,
}

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
    let sections = sections(ctx, cell, &region_names, &ra, &cm, d_lambda)?;
    let ra_of: Vec<f64> = sections.iter().map(|s| ra[s.membrane]).collect();
    let one = Tree::build(sections, &ra_of);
    let (clamps, probes) = clamps_and_probes(ctx, cell, &one)?;
    let detect = spike_detection(ctx, cell, &one)?;
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
    let threads = match &flags.threads {
        Some(e) => ctx.count(e, "`--threads`", 1, 1024, "e.g. --threads 4")? as usize,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
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
    per_compartment(ctx, cell, &tree, &region_names, &mut membranes)?;
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

/// The sections in declaration order, each parent before its children.
fn sections(
    ctx: &mut Ctx,
    cell: &ast::Model,
    regions: &[String],
    ra: &[f64],
    cm: &[f64],
    d_lambda: f64,
) -> Option<Vec<Section>> {
    let mut out: Vec<Section> = Vec::new();
    let all = regions.iter().position(|r| r == "all");
    for stmt in &cell.stmts {
        let StmtKind::Section { name, settings } = &stmt.kind else { continue };
        if out.iter().any(|s| s.name == name.name) {
            ctx.fail(
                Diagnostic::error(Code::Duplicate, format!("two sections named `{}`", name.name))
                    .at(name.span, "a second section of this name")
                    .help("give each section its own name"),
            );
            return None;
        }
        let membrane = match regions.iter().position(|r| *r == name.name).or(all) {
            Some(k) => k,
            None => {
                return ctx.reject(
                    format!("section `{}` has no membrane", name.name),
                    name.span,
                    "no region names it",
                    format!("add `region {} {{ use Leak }}`, or `region all {{ ... }}` for every section", name.name),
                )
            }
        };
        let (mut length, mut diameter, mut parent, mut at, mut nseg) = (None, None, None, 1.0, None);
        for b in settings {
            let what = format!("`{}`", b.name.name);
            match b.name.name.as_str() {
                "length" => length = Some((ctx.constant(&b.value, dims::length(), &what)?, b.value.span)),
                "diameter" => diameter = Some((ctx.constant(&b.value, dims::length(), &what)?, b.value.span)),
                "at" => {
                    at = ctx.constant(&b.value, Dim::NONE, &what)?;
                    if !(0.0..=1.0).contains(&at) {
                        return ctx.reject(
                            "`at` is a position along the parent, from 0 to 1",
                            b.value.span,
                            "outside [0, 1]",
                            "e.g. `at = 1` (the parent's far end)",
                        );
                    }
                }
                "nseg" => nseg = Some(ctx.count(&b.value, "`nseg`", 1, 1_000_000, "e.g. `nseg = 11`")? as usize),
                "parent" => {
                    let ast::ExprKind::Name(p) = &b.value.kind else {
                        return ctx.reject(
                            "`parent` names a section declared before this one",
                            b.value.span,
                            "not a section name",
                            "e.g. `parent = soma`",
                        );
                    };
                    match out.iter().position(|s| s.name == *p) {
                        Some(i) => parent = Some(i),
                        None => {
                            let known: Vec<&str> = out.iter().map(|s| s.name.as_str()).collect();
                            let id = ast::Ident { name: p.clone(), span: b.value.span };
                            return ctx.unknown(
                                "parent section",
                                &id,
                                &known,
                                "a parent is a section declared before its children",
                            );
                        }
                    }
                }
                _ => {
                    return ctx.unknown(
                        "section setting",
                        &b.name,
                        &["length", "diameter", "parent", "at", "nseg"],
                        "a section takes length, diameter, parent, at and nseg",
                    )
                }
            }
        }
        let mut positive = |v: Option<(f64, Span)>, what: &str| match v {
            Some((x, _)) if x > 0.0 && x.is_finite() => Some(x),
            Some((_, sp)) => ctx.reject(
                format!("a section's {what} must be positive"),
                sp,
                "not positive",
                "e.g. `length = 100 um, diameter = 2 um`",
            ),
            None => ctx.reject(
                format!("section `{}` has no {what}", name.name),
                name.span,
                "missing",
                "e.g. `section dend(length = 100 um, diameter = 2 um, parent = soma)`",
            ),
        };
        let length = positive(length, "length")?;
        let diameter = positive(diameter, "diameter")?;
        if parent.is_none() && !out.is_empty() {
            return ctx.reject(
                format!("section `{}` has no parent: a cell is one tree, rooted at its first section", name.name),
                name.span,
                "no `parent`",
                format!("attach it: `parent = {}`", out[0].name),
            );
        }
        let nseg =
            nseg.unwrap_or_else(|| geometry::d_lambda_nseg(length, diameter, ra[membrane], cm[membrane], d_lambda));
        out.push(Section {
            name: name.name.clone(),
            length,
            diameter,
            parent: parent.map(|p| (p, at)),
            nseg,
            membrane,
            points: vec![],
        });
    }
    if let Some((path, full, span)) = morphology_file(ctx, cell) {
        if !out.is_empty() {
            return ctx.reject(
                "a cell takes its sections from `section` statements or from a morphology file, not both",
                span,
                "a morphology file",
                "remove the `section` statements, or the `morphology` line",
            );
        }
        let text = match std::fs::read_to_string(&full) {
            Ok(t) => t,
            Err(e) => {
                ctx.fail(
                    Diagnostic::error(Code::DataFile, format!("cannot read `{path}`: {e}"))
                        .at(span, "this file")
                        .help(format!("files are read relative to the model's file: {}", full.display())),
                );
                return None;
            }
        };
        let swc = match crate::cable::swc::read(&text) {
            Ok(s) => s,
            Err(why) => {
                ctx.fail(
                    Diagnostic::error(Code::DataFile, format!("`{path}` is not a morphology neuroc reads: {why}"))
                        .at(span, "this file")
                        .help(
                            "SWC: one point per line, `id type x y z radius parent`, micrometers, parents listed first",
                        ),
                );
                return None;
            }
        };
        let pick = |name: &str, kind: &str| {
            regions.iter().position(|r| r == name).or_else(|| regions.iter().position(|r| r == kind)).or(all)
        };
        match crate::cable::swc::sections(&swc, pick, |l, d, k| geometry::d_lambda_nseg(l, d, ra[k], cm[k], d_lambda)) {
            Ok(s) => out = s,
            Err(section) => {
                return ctx.reject(
                    format!("section `{section}` of `{path}` has no membrane"),
                    span,
                    "no region names it, its type, or `all`",
                    "add a region for its type (`region dend { ... }`: soma, axon, dend, apic) or `region all { ... }`",
                )
            }
        }
    }
    if out.is_empty() {
        return ctx.reject(
            format!("cell `{}` has no section", cell.name.name),
            cell.name.span,
            "no `section`",
            "e.g. `section soma(length = 20 um, diameter = 20 um)`",
        );
    }
    Some(out)
}

/// `Channel.param = expr` in a region (or in the cell, for every region
/// whose membrane has the parameter): the expression, which may read the
/// cell's parameters and `distance` (the path distance from the middle of
/// the root section), evaluated at every node of the region's sections.
fn per_compartment(
    ctx: &mut Ctx,
    cell: &ast::Model,
    tree: &Tree,
    regions: &[String],
    membranes: &mut [MembraneRun],
) -> Option<()> {
    let region_sets = crate::cable::regions(cell).into_iter().enumerate().flat_map(|(k, (_, stmts, _))| {
        stmts.iter().filter_map(move |s| match &s.kind {
            StmtKind::SetParam { target, value } => Some((Some(k), target, value)),
            _ => None,
        })
    });
    let cell_sets = cell.stmts.iter().filter_map(|s| match &s.kind {
        StmtKind::SetParam { target, value } => Some((None, target, value)),
        _ => None,
    });
    let sets: Vec<_> = cell_sets.chain(region_sets).collect();
    if sets.is_empty() {
        return Some(());
    }
    let shared: Vec<ast::Stmt> =
        cell.stmts.iter().filter(|s| matches!(s.kind, StmtKind::Parameter(_))).cloned().collect();
    for (region, target, value) in sets {
        let applies: Vec<usize> = match region {
            Some(k) => vec![k],
            None => (0..membranes.len()).filter(|&k| membranes[k].model.param(&target.name).is_some()).collect(),
        };
        let Some(&first) = applies.first() else {
            return ctx.reject(
                format!("no region's membrane has a parameter `{}`", target.name),
                target.span,
                "unknown parameter",
                "name a parameter of a channel the region uses, e.g. `NaT.gbar = 60 mS/cm^2`",
            );
        };
        let Some(p) = membranes[first].model.param(&target.name) else {
            let known: Vec<String> = membranes[first].model.params.iter().map(|p| p.name.clone()).collect();
            let known: Vec<&str> = known.iter().map(String::as_str).collect();
            return ctx.unknown(
                &format!("parameter of region `{}`", regions[first]),
                target,
                &known,
                "a region sets its channels' parameters by their qualified names",
            );
        };
        let want = membranes[first].model.params[p].dim;
        // a model of the cell's parameters, `distance` and the value
        let span = value.span;
        let um = ast::UnitExpr {
            factors: vec![ast::UnitFactor { name: "um".into(), power: (1, 1), span }],
            text: "um".into(),
            span,
        };
        let zero = ast::Expr { kind: ast::ExprKind::Number { value: 0.0, unit: Some(um) }, span };
        let mut stmts = shared.clone();
        for (name, e) in [("distance", zero), ("(value)", value.clone())] {
            stmts.push(ast::Stmt {
                kind: StmtKind::Parameter(vec![ast::Binding {
                    name: ast::Ident { name: name.into(), span },
                    value: e,
                }]),
                span,
            });
        }
        let model = ast::Model {
            kind: ast::ModelKind::Rate,
            name: ast::Ident { name: "(compartment)".into(), span },
            stmts,
            span,
        };
        let (m, d) = crate::ir::lower::lower_model(&ctx.c.library, &model);
        ctx.diags.extend(d);
        let mut m = m?;
        let (dist, out) = (m.param("distance")?, m.param("(value)")?);
        if m.params[out].dim != want {
            ctx.fail(
                Diagnostic::error(
                    Code::ValueDimension,
                    format!(
                        "`{}` is {}, but this is {}",
                        target.name,
                        units::pretty(&want),
                        units::pretty(&m.params[out].dim)
                    ),
                )
                .at(span, "the wrong unit")
                .help(format!("give it in {}", settings_unit(&want))),
            );
            return None;
        }
        // the run's values of the cell's parameters (simulate block, --set)
        let mut overrides = vec![None; m.params.len()];
        let run_params = crate::ir::eval::eval_params(&membranes[first].model, &membranes[first].param_overrides);
        let set: Vec<(usize, f64, Dim)> = (0..m.params.len())
            .filter_map(|q| {
                let mp = membranes[first].model.param(&m.params[q].name)?;
                membranes[first].param_overrides[mp].map(|_| (q, run_params[mp], m.params[q].dim))
            })
            .collect();
        for (q, value, dim) in set {
            overrides[q] = Some(m.arena.add(crate::ir::NodeKind::Const(value), Ty::Num(dim), span));
        }
        for k in applies {
            let Some(pk) = membranes[k].model.param(&target.name) else { continue };
            if membranes[k].param_overrides[pk].is_some() {
                return ctx.reject(
                    format!("`{}` is set per compartment and also for the whole run", target.name),
                    target.span,
                    "set per compartment here",
                    "keep one: the per-compartment expression may read the cell's parameters instead",
                );
            }
            let in_exact = membranes[k].plan.blocks.iter().any(|b| match b {
                crate::schemes::Block::Exact { a, .. } => {
                    a.iter().any(|&e| crate::schemes::deps(&membranes[k].model, e).contains(&crate::ir::Var::Param(pk)))
                }
                _ => false,
            });
            if in_exact {
                return ctx.reject(
                    format!("`{}` enters an exact propagator, which is computed once per membrane", target.name),
                    target.span,
                    "per compartment",
                    "give the channel state another method (`method = rk4` in the channel), or keep this parameter uniform",
                );
            }
            let mut values = vec![f64::NAN; tree.len()];
            for (node, v) in values.iter_mut().enumerate() {
                if tree.membrane[node] != Some(k) {
                    continue;
                }
                let at = m.arena.add(crate::ir::NodeKind::Const(tree.distance(node)), Ty::Num(dims::length()), span);
                overrides[dist] = Some(at);
                *v = crate::ir::eval::eval_params(&m, &overrides)[out];
                if !v.is_finite() {
                    return ctx.reject(
                        format!(
                            "`{}` is not a finite number at {} um from the soma",
                            target.name,
                            format_number(tree.distance(node) * 1e6)
                        ),
                        span,
                        "not finite there",
                        "check the expression for a division by zero or an overflow",
                    );
                }
            }
            membranes[k].per_compartment.retain(|(q, _)| *q != pk);
            membranes[k].per_compartment.push((pk, values));
        }
    }
    Some(())
}

fn settings_unit(d: &Dim) -> String {
    super::settings::example_unit(d)
}

/// `spike when V(SECTION) crosses LEVEL`: the node (the section's middle;
/// plain `V` is the first section's) and the level; upward only.
fn spike_detection(ctx: &mut Ctx, cell: &ast::Model, tree: &Tree) -> Option<Option<(usize, f64)>> {
    let mut found = cell.stmts.iter().filter_map(|s| match &s.kind {
        StmtKind::SpikeWhen { lhs, rhs, direction } => Some((lhs, rhs, *direction, s.span)),
        _ => None,
    });
    let Some((lhs, rhs, direction, span)) = found.next() else {
        return Some(None);
    };
    if let Some((_, _, _, second)) = found.next() {
        return ctx.reject(
            "a cell has one spike detector",
            second,
            "a second `spike when`",
            "keep one `spike when V(SECTION) crosses LEVEL`",
        );
    }
    let help = "e.g. `spike when V(soma) crosses 0 mV`";
    let section = match &lhs.kind {
        ast::ExprKind::Name(v) if v == "V" => 0,
        ast::ExprKind::Call(f, args) if matches!(&f.kind, ast::ExprKind::Name(v) if v == "V") => {
            match args.as_slice() {
                [ast::Expr { kind: ast::ExprKind::Name(sec), span }] => {
                    let id = ast::Ident { name: sec.clone(), span: *span };
                    location(ctx, tree, &id, &[])?.0
                }
                _ => return ctx.reject("a cell's spikes are read from `V(SECTION)`", lhs.span, "not a location", help),
            }
        }
        _ => return ctx.reject("a cell's spikes are read from `V` at a section", lhs.span, "not V", help),
    };
    if direction == ast::Direction::Downward {
        return ctx.reject("a cell's spikes are upward crossings", span, "downward", help);
    }
    let level = ctx.constant(rhs, dims::voltage(), "the spike level")?;
    Some(Some((tree.node_at(section, 0.5), level)))
}

/// The cell's `morphology "FILE"`: (as written, resolved path, span).
fn morphology_file(ctx: &mut Ctx, cell: &ast::Model) -> Option<(String, std::path::PathBuf, Span)> {
    let entries = cell.stmts.iter().filter_map(|s| match &s.kind {
        StmtKind::Data(entries) => Some(entries.iter()),
        _ => None,
    });
    let first = entries.flatten().next()?;
    match first {
        ast::DataEntry::File { key, path, span } if key.name == "morphology" => {
            let base = ctx.c.sources.path(span.file).and_then(|p| p.parent().map(std::path::Path::to_path_buf));
            let full = base.map_or_else(|| std::path::PathBuf::from(path), |d| d.join(path));
            Some((path.clone(), full, *span))
        }
        ast::DataEntry::File { key, .. } => {
            ctx.unknown("file of a cell", key, &["morphology"], "a cell reads `morphology \"cell.swc\"`")
        }
        ast::DataEntry::Setting(b) => {
            ctx.unknown("statement of a cell", &b.name, &["morphology"], "a cell reads `morphology \"cell.swc\"`")
        }
    }
}

/// (section index, position) from `sec` and an optional `at` setting.
fn location(ctx: &mut Ctx, tree: &Tree, sec: &ast::Ident, settings: &[ast::Binding]) -> Option<(usize, f64)> {
    let Some(s) = tree.sections.iter().position(|s| s.name == sec.name) else {
        let known: Vec<&str> = tree.sections.iter().map(|s| s.name.as_str()).collect();
        return ctx.unknown("section", sec, &known, "a location is a section and `at` (0 to 1)");
    };
    let mut x = 0.5;
    if let Some(b) = settings.iter().find(|b| b.name.name == "at") {
        x = ctx.constant(&b.value, Dim::NONE, "`at`")?;
        if !(0.0..=1.0).contains(&x) {
            return ctx.reject(
                "`at` is a position along the section, from 0 to 1",
                b.value.span,
                "outside [0, 1]",
                "e.g. `at = 0.5`",
            );
        }
    }
    Some((s, x))
}

/// Probes: (column label, node).
type Probes = Vec<(String, usize)>;

/// Clamps of one cell, each with the spread of its amplitude over a
/// population of cells (`linspace(0.1 nA, 0.5 nA)`), if any.
type Clamps = Vec<(Clamp, Option<Spread>)>;

fn clamps_and_probes(ctx: &mut Ctx, cell: &ast::Model, tree: &Tree) -> Option<(Clamps, Probes)> {
    let mut clamps = Vec::new();
    let mut probes = Vec::new();
    let label = |tree: &Tree, s: usize, x: f64| format!("{}({})", tree.sections[s].name, units::format_number(x));
    for stmt in &cell.stmts {
        match &stmt.kind {
            StmtKind::Drive { targets, source, settings, .. } => {
                if source.name != "IClamp" {
                    return ctx.reject(
                        format!("a cell is driven by `IClamp`, not `{}`", source.name),
                        source.span,
                        "unknown",
                        "e.g. `drive soma with IClamp(at = 0.5, delay = 5 ms, duration = 50 ms, amplitude = 0.1 nA)`",
                    );
                }
                let (mut delay, mut duration, mut amplitude, mut spread) = (0.0, f64::INFINITY, None, None);
                for b in settings {
                    let what = format!("`{}`", b.name.name);
                    match b.name.name.as_str() {
                        "at" => {}
                        "delay" => delay = ctx.constant(&b.value, dims::time(), &what)?,
                        "duration" => duration = ctx.constant(&b.value, dims::time(), &what)?,
                        "amplitude" => match ctx.spread(&b.value, dims::current(), &what)? {
                            Some(sp) => {
                                amplitude = Some(0.0);
                                spread = Some(sp);
                            }
                            None => amplitude = Some(ctx.constant(&b.value, dims::current(), &what)?),
                        },
                        _ => {
                            return ctx.unknown(
                                "IClamp setting",
                                &b.name,
                                &["at", "delay", "duration", "amplitude"],
                                "IClamp takes at, delay, duration and amplitude",
                            )
                        }
                    }
                }
                let Some(amplitude) = amplitude else {
                    return ctx.reject(
                        "an IClamp needs its `amplitude`",
                        source.span,
                        "no amplitude",
                        "e.g. `amplitude = 0.1 nA`",
                    );
                };
                for t in targets {
                    let (s, x) = location(ctx, tree, t, settings)?;
                    clamps.push((Clamp { node: tree.node_at(s, x), delay, duration, amplitude }, spread));
                }
            }
            StmtKind::Record(list) => {
                for p in list {
                    if p.name.name != "V" {
                        return ctx.reject(
                            format!("only `V` is recorded at a location of a cell, not `{}`", p.name.name),
                            p.name.span,
                            "not V",
                            "e.g. `record V(soma, at = 0.5)`",
                        );
                    }
                    for (t, _) in &p.targets {
                        let (s, x) = location(ctx, tree, t, &p.settings)?;
                        probes.push((label(tree, s, x), tree.node_at(s, x)));
                    }
                }
            }
            _ => {}
        }
    }
    if probes.is_empty() {
        probes.push((label(tree, 0, 0.5), tree.node_at(0, 0.5)));
    }
    Some((clamps, probes))
}
