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
use super::kernels::MembraneKernel;
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

/// A synapse at a node: a point neuron holding the synapse (V read from
/// the cable), whose V equation is minus its current in A, and the port
/// its spikes arrive on.
#[derive(Clone, Debug)]
pub struct Site {
    pub membrane: Membrane,
    pub port: String,
    /// The node in one cell.
    pub node: usize,
}

/// Everything a run of a cell needs.
pub struct Setup<'a> {
    /// The cells' nodes: copies of one cell, interleaved
    /// ([`Tree::replicate`]): node `i` is node `i / cells` of its cell.
    pub tree: std::borrow::Cow<'a, Tree>,
    pub cells: usize,
    pub membranes: &'a [Membrane],
    pub sites: &'a [Site],
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

/// A synapse site's two kernels over the cells: one that applies the
/// step's arriving weights and gives the current there (no dynamics), one
/// that advances the synapse over the step.
struct SiteKernels {
    event: MembraneKernel,
    step: MembraneKernel,
    /// The synapse model's states (the first arrays of both kernels).
    states: usize,
}

/// Runs the cell; `sink(t, V at the probes)` at t = 0 and every
/// `sample_every` steps; `stop()` is polled every step. Returns what was
/// done, or why it stopped: a node whose V stopped being finite (node,
/// step), or a channel scheme that failed. `inputs(step)` gives the
/// weights arriving at each site in each cell at the start of the step.
pub fn simulate(
    s: Setup,
    mut inputs: impl FnMut(usize) -> Option<Vec<Vec<f64>>>,
    mut sink: impl FnMut(f64, &[f64]),
    mut spike: impl FnMut(usize, f64),
    stop: &dyn Fn() -> bool,
) -> Result<Done, Failure> {
    let mut block = Block::new(s)?;
    let mut row = vec![0.0; block.s.probes.len()];
    block.probe(&mut row);
    sink(0.0, &row);
    let steps = (block.s.duration / block.s.dt).round() as usize;
    for step in 0..steps {
        if stop() {
            break;
        }
        let arriving = inputs(step);
        block.step(step, arriving.as_deref(), &mut spike)?;
        if (step + 1) % block.s.sample_every == 0 {
            block.probe(&mut row);
            sink((step + 1) as f64 * block.s.dt, &row);
        }
    }
    Ok(block.done)
}

/// A block of cells between steps: V at every node, the channels' states
/// (in kernels or per node), and the linear system's fixed parts.
pub struct Block<'a> {
    pub s: Setup<'a>,
    steppers: Vec<Stepper<'a>>,
    v_of: Vec<usize>,
    y: Vec<Vec<f64>>,
    v: Vec<f64>,
    /// f = dV/dt and df/dV of every node's membrane at the present state
    /// (0 where no membrane); the sites' currents (A, A/V) are their step
    /// kernels' outputs, per site and cell.
    f: Vec<f64>,
    j: Vec<f64>,
    kernels: Vec<MembraneKernel>,
    sites: Vec<SiteKernels>,
    cap: Vec<f64>,
    a: Vec<f64>,
    d0: Vec<f64>,
    d: Vec<f64>,
    b: Vec<f64>,
    pub done: Done,
}

impl<'a> Block<'a> {
    /// The block at t = 0: every membrane at its initial state, V from
    /// the first membrane's, kernels built (and compiled) when asked.
    pub fn new(s: Setup<'a>) -> Result<Block<'a>, Failure> {
        let n = s.tree.len();
        let cells = s.cells.max(1);
        let membranes: &'a [Membrane] = s.membranes;
        let mut steppers: Vec<Stepper<'a>> = membranes
            .iter()
            .map(|m| {
                let mut cfg = Config::new(&m.model, s.dt, s.duration);
                cfg.param_overrides = m.param_overrides.clone();
                Stepper::new(&m.model, &m.plan, &cfg)
            })
            .collect();
        let v_of: Vec<usize> = membranes.iter().map(|m| m.model.state("V").unwrap_or(0)).collect();
        let cm_of: Vec<f64> = membranes
            .iter()
            .zip(&steppers)
            .map(|(m, st)| m.model.param("Cm").map_or(f64::NAN, |p| st.param(p)))
            .collect();
        let inits: Vec<Vec<f64>> = steppers.iter_mut().map(initial_state).collect();
        let v0 = inits.first().and_then(|y| y.get(v_of[0]).copied()).unwrap_or(0.0);
        let tree = &s.tree;
        let y: Vec<Vec<f64>> = tree.membrane.iter().map(|m| m.map_or_else(Vec::new, |k| inits[k].clone())).collect();
        let v: Vec<f64> =
            (0..n).map(|i| tree.membrane[i].map_or(v0, |k| inits[k].get(v_of[k]).copied().unwrap_or(v0))).collect();
        let mut done = Done::default();
        let mut kernels = Vec::new();
        let mut sites = Vec::new();
        if let Engine::Kernel { jit } = s.engine {
            for (k, m) in membranes.iter().enumerate() {
                let nodes: Vec<usize> = (0..n).filter(|&i| tree.membrane[i] == Some(k)).collect();
                let per_lane: Vec<(usize, Vec<f64>)> = m
                    .per_compartment
                    .iter()
                    .map(|(p, values)| (*p, nodes.iter().map(|&i| values[i / cells]).collect()))
                    .collect();
                let mk = MembraneKernel::build(m, nodes, &per_lane, &inits[k], s.dt, jit, None)
                    .map_err(|why| Failure::Kernel { membrane: k, why })?;
                done.compile_seconds += mk.compile_seconds;
                done.kernel_insts += mk.instructions;
                kernels.push(mk);
            }
            for (q, site) in s.sites.iter().enumerate() {
                let nodes: Vec<usize> = (0..cells).map(|c| site.node * cells + c).collect();
                let mut st = Config::new(&site.membrane.model, s.dt, s.duration);
                st.param_overrides = site.membrane.param_overrides.clone();
                let init = initial_state(&mut Stepper::new(&site.membrane.model, &site.membrane.plan, &st));
                let fail = |why| Failure::Kernel { membrane: membranes.len() + q, why };
                let step =
                    MembraneKernel::build(&site.membrane, nodes.clone(), &[], &init, s.dt, jit, None).map_err(fail)?;
                let event = MembraneKernel::build(&site.membrane, nodes, &[], &init, s.dt, jit, Some(&site.port))
                    .map_err(fail)?;
                done.compile_seconds += step.compile_seconds + event.compile_seconds;
                done.kernel_insts += step.instructions;
                sites.push(SiteKernels { event, step, states: site.membrane.model.states.len() });
            }
        } else if !s.sites.is_empty() {
            let why = "synapse sites run in kernels, not on the reference interpreter".to_string();
            return Err(Failure::Kernel { membrane: membranes.len(), why });
        }
        let h = match s.scheme {
            Scheme::BackwardEuler => s.dt,
            Scheme::CrankNicolson => s.dt / 2.0,
        };
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
        let mut block = Block {
            steppers,
            v_of,
            y,
            v,
            f: vec![0.0; n],
            j: vec![0.0; n],
            kernels,
            sites,
            cap,
            a,
            d0,
            d: vec![0.0; n],
            b: vec![0.0; n],
            done,
            s,
        };
        block.eval(0.0);
        // the sites' currents at the initial state: their event kernels
        // with nothing arriving
        for sk in &mut block.sites {
            sk.event.step_lanes(&block.v, (0.0, 0.0));
            sk.step.take_outputs(&sk.event);
        }
        Ok(block)
    }

    /// Sets the parameters of membrane `k` that differ between
    /// compartments to node `i`'s.
    fn local(&mut self, k: usize, i: usize) {
        let cells = self.s.cells.max(1);
        for (p, values) in &self.s.membranes[k].per_compartment {
            self.steppers[k].set_param(*p, values[i / cells]);
        }
    }

    /// f and J of every compartment at the present state, on the
    /// reference interpreter.
    fn eval(&mut self, t: f64) {
        for i in 0..self.v.len() {
            let Some(k) = self.s.tree.membrane[i] else { continue };
            self.local(k, i);
            self.y[i][self.v_of[k]] = self.v[i];
            self.f[i] = self.steppers[k].expr(t, &self.y[i], self.s.membranes[k].f);
            self.j[i] = self.steppers[k].expr(t, &self.y[i], self.s.membranes[k].j);
        }
    }

    /// V at the probes.
    pub fn probe(&self, row: &mut [f64]) {
        for (r, &p) in row.iter_mut().zip(&self.s.probes) {
            *r = self.v[p];
        }
    }

    /// Step `step`: the weights `inputs[site][cell]` arriving now applied
    /// to the sites' synapses, V solved, the channels and synapses advanced
    /// at the new V; `spike(cell, t)` for each detected spike.
    pub fn step(
        &mut self,
        step: usize,
        inputs: Option<&[Vec<f64>]>,
        spike: &mut impl FnMut(usize, f64),
    ) -> Result<(), Failure> {
        let s = &self.s;
        let (tree, n) = (&s.tree, self.v.len());
        let t = step as f64 * s.dt;
        let mid = t + s.dt / 2.0;
        if let Some(inputs) = inputs {
            for (sk, w) in self.sites.iter_mut().zip(inputs) {
                if w.iter().any(|&x| x != 0.0) {
                    sk.event.take_states(&sk.step, sk.states);
                    sk.event.set_input(w);
                    sk.event.step_lanes(&self.v, (t, t));
                    sk.step.take_states(&sk.event, sk.states);
                    sk.step.take_outputs(&sk.event);
                }
            }
        }
        let (d, b, f, j, cap) = (&mut self.d, &mut self.b, &self.f, &self.j, &self.cap);
        // i = -Cm f and di/dV = -Cm J per area (both 0 at section ends),
        // and the axial currents (a parent is set before its children)
        for i in 0..n {
            d[i] = self.d0[i] - j[i] * cap[i];
            b[i] = f[i] * cap[i];
            let p = tree.parent[i];
            if p != usize::MAX {
                let flow = tree.g[i] * (self.v[p] - self.v[i]);
                b[i] += flow;
                b[p] -= flow;
            }
        }
        for sk in &self.sites {
            // each site adds its own current: several may share a node
            for (&i, (f, j)) in sk.step.nodes.iter().zip(sk.step.outputs()) {
                d[i] -= j;
                b[i] += f;
            }
        }
        for c in &s.clamps {
            if mid >= c.delay && mid < c.delay + c.duration {
                b[c.node] += c.amplitude;
            }
        }
        super::hines::solve(&tree.parent, &self.a, d, b);
        let times = if s.scheme == Scheme::CrankNicolson { 2.0 } else { 1.0 };
        if let Some((nodes, threshold)) = &s.detect {
            for (cell, &i) in nodes.iter().enumerate() {
                let (old, new) = (self.v[i], self.v[i] + times * b[i]);
                if old < *threshold && new >= *threshold {
                    // linear within the step, as the kernels locate events
                    spike(cell, t + s.dt * (threshold - old) / (new - old));
                    self.done.spikes += 1;
                }
            }
        }
        for (i, (v, db)) in self.v.iter_mut().zip(b.iter()).enumerate() {
            *v += times * db;
            if !v.is_finite() {
                return Err(Failure::Diverged { node: i, step: step + 1 });
            }
        }
        // the channels over the step at the new V, then f and J there
        let t_next = (step + 1) as f64 * s.dt;
        if self.kernels.is_empty() && !s.membranes.is_empty() {
            for i in 0..n {
                let Some(k) = self.s.tree.membrane[i] else { continue };
                self.local(k, i);
                let v_k = self.v_of[k];
                let yi = &mut self.y[i];
                yi[v_k] = self.v[i];
                let next = self.steppers[k].advance(t, yi, self.s.dt).map_err(|why| Failure::Scheme {
                    node: i,
                    step: step + 1,
                    why,
                })?;
                for (q, x) in next.into_iter().enumerate() {
                    if q != v_k {
                        yi[q] = x;
                    }
                }
            }
            self.eval(t_next);
        } else {
            for mk in &mut self.kernels {
                mk.step(&self.v, (t, t_next), &mut self.f, &mut self.j);
            }
        }
        for sk in &mut self.sites {
            sk.step.step_lanes(&self.v, (t, t_next));
        }
        self.done.steps = step + 1;
        Ok(())
    }
}

impl Failure {
    /// The step it happened at (0 for a kernel that could not be built).
    pub fn step(&self) -> usize {
        match self {
            Failure::Diverged { step, .. } | Failure::Scheme { step, .. } => *step,
            Failure::Kernel { .. } => 0,
        }
    }
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
