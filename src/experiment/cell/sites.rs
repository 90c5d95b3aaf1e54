//! Synapse sites of a cell, `synapse ampa = AMPA on dend(at = 0.9)`: a
//! synapse model at a location, whose port is the site's name; and the
//! spike trains that drive them in a cell's own run, `drive ampa with
//! spikes(times = at(10 ms), w = 1 nS)` or `poisson(rate = ..., n = ...,
//! w = ...)` (independent trains per cell).

use super::super::connect::drive_settings;
use super::super::settings::Ctx;
use crate::cable::geometry::Tree;
use crate::diag::{Code, Diagnostic};
use crate::ir::{Model, Trigger};
use crate::runtime::network::{self, poisson_count};
use crate::runtime::spikegen::SplitMix64;
use crate::syntax::ast::{self, ModelKind, StmtKind};
use crate::units::Dim;

/// E0212 when a site's model is not a synapse.
pub(super) fn is_synapse(ctx: &mut Ctx, site: &crate::cable::Site) -> Option<()> {
    match ctx.c.library.get(&site.model.name) {
        Some(s) if s.kind == ModelKind::Synapse => {}
        Some(s) => {
            ctx.fail(
                Diagnostic::error(Code::WrongKind, format!("`{}` is a {}, not a synapse", site.model.name, s.kind.keyword()))
                    .at(site.model.span, "a synapse site holds a synapse")
                    .help("e.g. `synapse ampa = AMPA on dend(at = 0.9)` with AMPA from synapses.neuro; channels go in a `region`"),
            );
            return None;
        }
        None => return None, // reported by `compile`
    }
    Some(())
}

/// A site's place and port: (node in one cell, the port of its synapse
/// model, the port's weight unit).
pub(super) fn place(
    ctx: &mut Ctx,
    site: &crate::cable::Site,
    tree: &Tree,
    m: &Model,
) -> Option<(usize, String, Option<Dim>)> {
    let (s, x) = super::places::location(ctx, tree, site.section, site.settings)?;
    if let Some(b) = site.settings.iter().find(|b| b.name.name != "at") {
        return ctx.unknown("synapse site setting", &b.name, &["at"], "a site is a section and `at` (0 to 1)");
    }
    let other =
        m.events.iter().find(|e| !matches!(&e.trigger, Trigger::Spike { port: Some(p), .. } if *p == site.model.name));
    if let Some(e) = other {
        return ctx.reject(
            format!("synapse `{}` has an event besides its spikes", site.model.name),
            e.span,
            "not an arriving spike",
            "a synapse at a site changes with its equations and `on spike(w: ...) { ... }`; threshold events belong to the cell (`spike when V(soma) crosses 0 mV`)",
        );
    }
    let ports = network::ports(m);
    let Some((port, wdim)) = ports.into_iter().find(|(p, _)| *p == site.model.name) else {
        return ctx.reject(
            format!("synapse `{}` receives no spikes", site.model.name),
            site.model.span,
            "no `on spike(w: ...)` event",
            "a synapse at a site needs `on spike(w: nS) { g += w }`",
        );
    };
    Some((tree.node_at(s, x), port, wdim))
}

/// Spike trains into a site in a cell's own run.
#[derive(Clone, Debug)]
pub struct SiteDrive {
    pub site: usize,
    pub rate: f64,
    pub n: f64,
    pub w: f64,
    /// `spikes(times = ...)`: the same times into every cell.
    pub times: Option<Vec<f64>>,
}

/// The cell's `drive SITE with spikes(...)` and `poisson(...)`.
pub(super) fn drives(
    ctx: &mut Ctx,
    cell: &ast::Model,
    sites: &[(String, Option<Dim>)],
    (duration, seed): (f64, u64),
) -> Option<Vec<SiteDrive>> {
    let mut out = Vec::new();
    for stmt in &cell.stmts {
        let StmtKind::Drive { targets, source, settings, via } = &stmt.kind else { continue };
        if !matches!(source.name.as_str(), "spikes" | "poisson") {
            continue;
        }
        if let Some(v) = via {
            return ctx.reject(
                "a synapse site is its own port: no `via`",
                v.span,
                "not needed",
                "e.g. `drive ampa with spikes(times = at(10 ms), w = 1 nS)`",
            );
        }
        for t in targets {
            let Some(site) = sites.iter().position(|(n, _)| *n == t.name) else {
                let known: Vec<&str> = sites.iter().map(|(n, _)| n.as_str()).collect();
                return ctx.unknown(
                    "synapse site",
                    t,
                    &known,
                    "spike trains drive a synapse site: `synapse ampa = AMPA on dend(at = 0.5)`, then `drive ampa with ...`",
                );
            };
            let (rate, n, w, times) = drive_settings(ctx, source, settings, sites[site].1, duration, seed)?;
            out.push(SiteDrive { site, rate, n, w, times });
        }
    }
    Some(out)
}

/// The weights arriving at each site in each cell of the block `c0..c1`
/// at each step: spike times in [t, t + dt) count at the step (as in a
/// network's drives), Poisson counts from a stream per drive and cell, so
/// that a cell's input does not depend on the blocks.
pub fn inputs(
    drives: &[SiteDrive],
    sites: usize,
    (c0, c1): (usize, usize),
    dt: f64,
    seed: u64,
) -> impl FnMut(usize) -> Option<Vec<Vec<f64>>> + '_ {
    let mut rngs: Vec<Vec<SplitMix64>> = (0..drives.len())
        .map(|k| {
            (c0..c1)
                .map(|c| {
                    let stream = (0x5eed_0000 + k as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9)
                        ^ (c as u64 + 1).wrapping_mul(0x94d0_49bb_1331_11eb);
                    SplitMix64::new(seed ^ stream)
                })
                .collect()
        })
        .collect();
    move |step| {
        if drives.is_empty() {
            return None;
        }
        let mut w = vec![vec![0.0; c1 - c0]; sites];
        let (t, t_next) = (step as f64 * dt, (step + 1) as f64 * dt);
        for (k, d) in drives.iter().enumerate() {
            match &d.times {
                Some(times) => {
                    let (a, b) = (t - 1e-12 * dt, t_next - 1e-12 * dt);
                    let count = times.partition_point(|&s| s < b) - times.partition_point(|&s| s < a);
                    w[d.site].iter_mut().for_each(|x| *x += d.w * count as f64);
                }
                None => {
                    let lambda = d.n * d.rate * dt;
                    for (x, rng) in w[d.site].iter_mut().zip(&mut rngs[k]) {
                        *x += d.w * poisson_count(rng, lambda) as f64;
                    }
                }
            }
        }
        Some(w)
    }
}
