//! Where things are on a cell: parameters per compartment (from the
//! distance to the soma), clamps, probes and the spike detector.

use super::super::settings::Ctx;
use super::MembraneRun;
use crate::cable::geometry::Tree;
use crate::cable::sim::Clamp;
use crate::diag::{Code, Diagnostic};
use crate::runtime::spikegen::Spread;
use crate::syntax::ast::{self, StmtKind};
use crate::units::{self, dims, format_number, Dim};

/// `Channel.param = expr` in a region (or in the cell, for every region
/// whose membrane has the parameter): the expression, which may read the
/// cell's parameters and `distance` (the path distance from the middle of
/// the root section), evaluated at every node of the region's sections.
pub(super) fn per_compartment(
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
        let span = value.span;
        let mut at = super::at::AtCompartment::new(ctx, cell, value, &membranes[first])?;
        if at.dim() != want {
            ctx.fail(
                Diagnostic::error(
                    Code::ValueDimension,
                    format!("`{}` is {}, but this is {}", target.name, units::pretty(&want), units::pretty(&at.dim())),
                )
                .at(span, "the wrong unit")
                .help(format!("give it in {}", settings_unit(&want))),
            );
            return None;
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
                *v = at.at(tree, node);
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
    super::super::settings::example_unit(d)
}

/// `spike when V(SECTION) crosses LEVEL`: the node (the section's middle;
/// plain `V` is the first section's) and the level; upward only.
pub(super) fn spike_detection(ctx: &mut Ctx, cell: &ast::Model, tree: &Tree) -> Option<Option<(usize, f64)>> {
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

/// (section index, position) from `sec` and an optional `at` setting.
pub(super) fn location(
    ctx: &mut Ctx,
    tree: &Tree,
    sec: &ast::Ident,
    settings: &[ast::Binding],
) -> Option<(usize, f64)> {
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
pub(super) type Probes = Vec<(String, usize)>;

/// Clamps of one cell, each with the spread of its amplitude over a
/// population of cells (`linspace(0.1 nA, 0.5 nA)`), if any.
pub(super) type Clamps = Vec<(Clamp, Option<Spread>)>;

pub(super) fn clamps_and_probes(ctx: &mut Ctx, cell: &ast::Model, tree: &Tree) -> Option<(Clamps, Probes)> {
    let mut clamps = Vec::new();
    let mut probes = Vec::new();
    let label = |tree: &Tree, s: usize, x: f64| format!("{}({})", tree.sections[s].name, units::format_number(x));
    for stmt in &cell.stmts {
        match &stmt.kind {
            // spike trains drive synapse sites (`super::sites`)
            StmtKind::Drive { source, .. } if matches!(source.name.as_str(), "spikes" | "poisson") => {}
            StmtKind::Drive { targets, source, settings, .. } => {
                if source.name != "IClamp" {
                    return ctx.reject(
                        format!("a cell is driven by `IClamp`, `spikes` or `poisson`, not `{}`", source.name),
                        source.span,
                        "unknown",
                        "e.g. `drive soma with IClamp(at = 0.5, delay = 5 ms, duration = 50 ms, amplitude = 0.1 nA)`, or a synapse site with `spikes(times = ..., w = ...)` or `poisson(rate = ..., n = ..., w = ...)`",
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
