//! Densities as populations of a network: a `density` model stepped on
//! the main thread between the network's steps, its inputs set by
//! readouts (spikes to rates) and its output read by drives (a rate to
//! Poisson spikes).
//!
//! Each step: the inputs the readouts set this step (from the spikes of
//! the step just taken) change the drift and diffusion, which are
//! evaluated again only when an input or time moved them; one implicit
//! step of the density ([`crate::density::Solver`]) gives the output rate,
//! which the drives read at the next step. The density starts with every
//! neuron at the reset. Its states are mirrored into the population's
//! state arrays (one unit), so `record NAME(D[0:1])` records the output.

use super::step::Stepping;
use super::Network;
use crate::density::{Density, Grid, Scheme, Solver};
use crate::diag::Diagnostic;
use crate::source::Span;
use crate::syntax::ast::ModelKind;

/// One density population.
struct Unit<'n> {
    d: Density<'n>,
    solver: Solver,
    grid: Grid,
    /// The scalar states (the output among them).
    y: Vec<f64>,
    /// Whether an input changed since the fluxes were computed.
    moved: bool,
}

/// The network's densities, by population.
pub(super) struct Densities<'n> {
    units: Vec<Option<Unit<'n>>>,
    dt: f64,
}

impl<'n> Densities<'n> {
    /// The densities of `net`, each starting with every neuron at its
    /// reset; their initial states written into `runners`' arrays.
    pub fn new(
        net: &'n Network,
        dt: f64,
        span: Span,
        runners: &mut [super::build::Runner],
    ) -> Result<Densities<'n>, Box<Diagnostic>> {
        let mut units = Vec::new();
        for (pi, p) in net.populations.iter().enumerate() {
            if p.model.kind != ModelKind::Density {
                units.push(None);
                continue;
            }
            let fail = |d: Diagnostic| Box::new(d.at(span, "in this network"));
            let d = Density::bind(&p.model, &[], &[]).map_err(fail)?;
            let grid = d.grid();
            let y = d.base(0.0);
            let f = d.fluxes(&grid, 0.0, &y).map_err(fail)?;
            let mut solver = Solver::new(grid.clone(), f, dt, Scheme::CrankNicolson, d.reset, d.t_ref);
            solver.start_at(d.reset);
            let mut y = y;
            y[d.variable()] = d.reset;
            for (arr, v) in runners[pi].states.iter_mut().zip(&y) {
                arr.iter_mut().for_each(|x| *x = *v);
            }
            units.push(Some(Unit { d, solver, grid, y, moved: false }));
        }
        Ok(Densities { units, dt })
    }

    /// Sets parameter `param` of density population `pop` (a readout's
    /// input).
    pub fn set(&mut self, pop: usize, param: usize, value: f64) {
        if let Some(Some(u)) = self.units.get_mut(pop) {
            if let Some(p) = u.d.params.get_mut(param) {
                if *p != value {
                    *p = value;
                    u.moved = true;
                }
            }
        }
    }

    /// Whether population `pop` is a density.
    pub fn is_density(&self, pop: usize) -> bool {
        matches!(self.units.get(pop), Some(Some(_)))
    }

    /// One step of every density, after step `step` of the network; their
    /// states mirrored into the populations' arrays. Only while the
    /// workers wait at the barrier.
    pub fn step(&mut self, step: usize, st: &Stepping) -> Result<(), Box<Diagnostic>> {
        let t = (step + 1) as f64 * self.dt;
        for (pi, u) in self.units.iter_mut().enumerate() {
            let Some(u) = u else { continue };
            if !u.d.ode.is_empty() {
                u.d.advance_odes(&mut u.y, t - self.dt, self.dt);
            }
            if u.moved || u.d.time_dependent {
                let f = u.d.fluxes(&u.grid, t, &u.y).map_err(Box::new)?;
                u.solver.set_fluxes(f);
                u.moved = false;
            }
            let out = u.d.output_state();
            u.y[out] = u.solver.step();
            let (m, _) = u.solver.mass();
            let var = u.d.variable();
            u.y[var] = u.solver.p.iter().enumerate().map(|(i, p)| p * u.grid.width(i) * u.grid.center(i)).sum::<f64>()
                / m.max(f64::MIN_POSITIVE);
            let view = &st.views[pi];
            for (s, v) in u.y.iter().enumerate() {
                if let Some(p) = view.states.get(s) {
                    // SAFETY: the workers wait at the barrier; one unit
                    unsafe { *p.0 = *v };
                }
            }
        }
        Ok(())
    }
}
