//! Time stepping of a cell (the NEURON book, ch. 4; Hines & Carnevale
//! 1997): per step, the membrane current of every compartment and its
//! slope di/dV at the present V and channel states, then one linear solve
//! for the new V of every node (the Hines elimination), then the channel
//! states advanced over the step at the new V by their own schemes
//! (gates by exponential Euler, kinetic schemes by theirs). The channel
//! states thus live half a step off V (staggered), which makes the
//! Crank-Nicolson variant second order in time.
//!
//! - Backward Euler: `cm A (V' - V) / dt = -(i + g (V' - V)) A + axial +
//!   injected`, first order, L-stable.
//! - Crank-Nicolson: the same system with dt / 2 gives the half-step V;
//!   the full step is twice its change (NEURON's `secondorder = 2`).
//!
//! Current clamps are read at the middle of the step. The membrane
//! current and its slope come from V's equation in the membrane model,
//! f = -currents / Cm, and its derivative df/dV, derived symbolically
//! (NEURON takes a difference quotient over 1 uV instead).

use super::geometry::Tree;
use crate::ir::{ExprId, Model};
use crate::runtime::{initial_state, Config, Stepper};
use crate::schemes::Plan;

/// How V advances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    BackwardEuler,
    CrankNicolson,
}

impl Scheme {
    pub fn name(self) -> &'static str {
        match self {
            Scheme::BackwardEuler => "backward_euler",
            Scheme::CrankNicolson => "crank_nicolson",
        }
    }
}

/// A current clamp at a node: `amplitude` (A) from `delay` for `duration`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Clamp {
    pub node: usize,
    pub delay: f64,
    pub duration: f64,
    pub amplitude: f64,
}

/// A region's membrane as a run needs it.
#[derive(Clone, Debug)]
pub struct Membrane {
    /// The region's point neuron with V's equation removed (V is the
    /// cable's), and the plan of its channels.
    pub model: Model,
    pub plan: Plan,
    pub param_overrides: Vec<Option<ExprId>>,
    /// V's equation f = -currents / Cm, and df/dV.
    pub f: ExprId,
    pub j: ExprId,
    /// Parameters that differ between compartments: (parameter, value at
    /// each node of one cell).
    pub per_compartment: Vec<(usize, Vec<f64>)>,
}

/// What runs the channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// The reference interpreter, compartment by compartment.
    Reference,
    /// A fused kernel per membrane over its compartments: JIT-compiled,
    /// or on the kernel interpreter.
    Kernel { jit: bool },
}

/// Everything a run of a cell needs.
pub struct Setup<'a> {
    /// The cells' nodes: copies of one cell, interleaved
    /// ([`Tree::replicate`]): node `i` is node `i / cells` of its cell.
    pub tree: &'a Tree,
    pub cells: usize,
    pub membranes: &'a [Membrane],
    pub scheme: Scheme,
    pub engine: Engine,
    pub dt: f64,
    pub duration: f64,
    pub clamps: Vec<Clamp>,
    /// Nodes whose V is recorded.
    pub probes: Vec<usize>,
    pub sample_every: usize,
    /// Spike detection: the node of each cell whose upward crossings of
    /// the threshold (V) are spikes.
    pub detect: Option<(Vec<usize>, f64)>,
}

/// What a finished run reports.
#[derive(Clone, Debug, Default)]
pub struct Done {
    pub steps: usize,
    pub spikes: u64,
    pub compile_seconds: f64,
    pub kernel_insts: usize,
}

/// Runs the cell; `sink(t, V at the probes)` at t = 0 and every
/// `sample_every` steps; `stop()` is polled every step. Returns what was
/// done, or why it stopped: a node whose V stopped being finite (node,
/// step), or a channel scheme that failed.
pub fn simulate(
    s: &Setup,
    mut sink: impl FnMut(f64, &[f64]),
    mut spike: impl FnMut(usize, f64),
    stop: &dyn Fn() -> bool,
) -> Result<Done, Failure> {
    let tree = s.tree;
    let n = tree.len();
    let mut steppers: Vec<Stepper> = s
        .membranes
        .iter()
        .map(|m| {
            let mut cfg = Config::new(&m.model, s.dt, s.duration);
            cfg.param_overrides = m.param_overrides.clone();
            Stepper::new(&m.model, &m.plan, &cfg)
        })
        .collect();
    let v_of: Vec<usize> = s.membranes.iter().map(|m| m.model.state("V").unwrap_or(0)).collect();
    let cm_of: Vec<f64> = s
        .membranes
        .iter()
        .zip(&steppers)
        .map(|(m, st)| m.model.param("Cm").map_or(f64::NAN, |p| st.param(p)))
        .collect();
    // initial states per membrane, and V everywhere from the first
    let inits: Vec<Vec<f64>> = steppers.iter_mut().map(initial_state).collect();
    let v0 = inits.first().and_then(|y| y.get(v_of[0]).copied()).unwrap_or(0.0);
    let mut y: Vec<Vec<f64>> = tree.membrane.iter().map(|m| m.map_or_else(Vec::new, |k| inits[k].clone())).collect();
    let mut v: Vec<f64> =
        (0..n).map(|i| tree.membrane[i].map_or(v0, |k| inits[k].get(v_of[k]).copied().unwrap_or(v0))).collect();
    // f and df/dV of every compartment at the present state
    let (mut f, mut j) = (vec![0.0; n], vec![0.0; n]);
    let cells = s.cells.max(1);
    let local = |steppers: &mut [Stepper], k: usize, i: usize| {
        for (p, values) in &s.membranes[k].per_compartment {
            steppers[k].set_param(*p, values[i / cells]);
        }
    };
    let eval = |steppers: &mut [Stepper], y: &mut [Vec<f64>], v: &[f64], t: f64, f: &mut [f64], j: &mut [f64]| {
        for i in 0..n {
            let Some(k) = tree.membrane[i] else { continue };
            local(steppers, k, i);
            y[i][v_of[k]] = v[i];
            f[i] = steppers[k].expr(t, &y[i], s.membranes[k].f);
            j[i] = steppers[k].expr(t, &y[i], s.membranes[k].j);
        }
    };
    eval(&mut steppers, &mut y, &v, 0.0, &mut f, &mut j);
    let mut done = Done::default();
    let mut kernels = Vec::new();
    if let Engine::Kernel { jit } = s.engine {
        for (k, m) in s.membranes.iter().enumerate() {
            let nodes: Vec<usize> = (0..n).filter(|&i| tree.membrane[i] == Some(k)).collect();
            let params = crate::ir::eval::eval_params(&m.model, &m.param_overrides);
            let per_lane: Vec<(usize, Vec<f64>)> = m
                .per_compartment
                .iter()
                .map(|(p, values)| (*p, nodes.iter().map(|&i| values[i / cells]).collect()))
                .collect();
            let mk = super::kernels::MembraneKernel::build(
                &m.model,
                &params,
                (m.f, m.j),
                nodes,
                &per_lane,
                &inits[k],
                s.dt,
                jit,
            )
            .map_err(|why| Failure::Kernel { membrane: k, why })?;
            done.compile_seconds += mk.compile_seconds;
            done.kernel_insts += mk.instructions;
            kernels.push(mk);
        }
    }
    let steps = (s.duration / s.dt).round() as usize;
    let h = match s.scheme {
        Scheme::BackwardEuler => s.dt,
        Scheme::CrankNicolson => s.dt / 2.0,
    };
    let (mut d, mut b) = (vec![0.0; n], vec![0.0; n]);
    // what does not change from step to step: each node's capacitance,
    // the matrix's coupling to the parent, and its diagonal's capacitive
    // and axial part
    let cap: Vec<f64> = (0..n).map(|i| tree.membrane[i].map_or(0.0, |k| tree.area[i] * cm_of[k])).collect();
    let a: Vec<f64> = (0..n).map(|i| if tree.parent[i] == usize::MAX { 0.0 } else { -tree.g[i] }).collect();
    let mut d0: Vec<f64> = cap.iter().map(|c| c / h).collect();
    for i in 0..n {
        if tree.parent[i] != usize::MAX {
            d0[i] += tree.g[i];
            d0[tree.parent[i]] += tree.g[i];
        }
    }
    let mut row = vec![0.0; s.probes.len()];
    let record = |v: &[f64], row: &mut Vec<f64>| {
        for (r, &p) in row.iter_mut().zip(&s.probes) {
            *r = v[p];
        }
    };
    record(&v, &mut row);
    sink(0.0, &row);
    for step in 0..steps {
        if stop() {
            break;
        }
        let t = step as f64 * s.dt;
        let mid = t + s.dt / 2.0;
        // i = -Cm f and di/dV = -Cm J per area (both 0 at section ends),
        // and the axial currents (a parent is set before its children)
        for i in 0..n {
            d[i] = d0[i] - j[i] * cap[i];
            b[i] = f[i] * cap[i];
            let p = tree.parent[i];
            if p != usize::MAX {
                let flow = tree.g[i] * (v[p] - v[i]);
                b[i] += flow;
                b[p] -= flow;
            }
        }
        for c in &s.clamps {
            if mid >= c.delay && mid < c.delay + c.duration {
                b[c.node] += c.amplitude;
            }
        }
        super::hines::solve(&tree.parent, &a, &mut d, &mut b);
        let times = if s.scheme == Scheme::CrankNicolson { 2.0 } else { 1.0 };
        if let Some((nodes, threshold)) = &s.detect {
            for (cell, &i) in nodes.iter().enumerate() {
                let (old, new) = (v[i], v[i] + times * b[i]);
                if old < *threshold && new >= *threshold {
                    // linear within the step, as the kernels locate events
                    spike(cell, t + s.dt * (threshold - old) / (new - old));
                    done.spikes += 1;
                }
            }
        }
        for i in 0..n {
            v[i] += times * b[i];
            if !v[i].is_finite() {
                return Err(Failure::Diverged { node: i, step: step + 1 });
            }
        }
        // the channels over the step at the new V, then f and J there
        let t_next = (step + 1) as f64 * s.dt;
        if kernels.is_empty() {
            for i in 0..n {
                let Some(k) = tree.membrane[i] else { continue };
                local(&mut steppers, k, i);
                let yi = &mut y[i];
                yi[v_of[k]] = v[i];
                let next =
                    steppers[k].advance(t, yi, s.dt).map_err(|why| Failure::Scheme { node: i, step: step + 1, why })?;
                for (q, x) in next.into_iter().enumerate() {
                    if q != v_of[k] {
                        yi[q] = x;
                    }
                }
            }
            eval(&mut steppers, &mut y, &v, t_next, &mut f, &mut j);
        } else {
            for mk in &mut kernels {
                mk.step(&v, (t, t_next), &mut f, &mut j);
            }
        }
        done.steps = step + 1;
        if (step + 1) % s.sample_every == 0 {
            record(&v, &mut row);
            sink(t_next, &row);
        }
    }
    Ok(done)
}

/// Why a cell's run stopped.
#[derive(Clone, Debug, PartialEq)]
pub enum Failure {
    Diverged {
        node: usize,
        step: usize,
    },
    Scheme {
        node: usize,
        step: usize,
        why: String,
    },
    /// A membrane that cannot be a kernel.
    Kernel {
        membrane: usize,
        why: String,
    },
}
