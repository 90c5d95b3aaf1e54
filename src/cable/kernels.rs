//! The channels of a cell as fused kernels: one kernel per membrane
//! (region), its lanes the region's compartments, built by the same
//! [`crate::kernel`] as a population's and compiled by the same JIT.
//!
//! The kernel is the membrane model with V's equation removed (V is the
//! cable solver's), so one step advances every channel state at the V
//! the solver wrote, by the channel's own scheme, and two outputs give
//! what the next solve needs at the new state: f = dV/dt = -currents / Cm
//! and its derivative J = df/dV, derived symbolically (so i = -Cm f and
//! di/dV = -Cm J).

use super::sim::Membrane;
use crate::codegen::jit;
use crate::ir::ExprId;
use crate::kernel::{self, Kernel, Signature};
use crate::schemes::{self, Method};

/// A membrane's kernel over its compartments.
pub struct MembraneKernel {
    kernel: Kernel,
    code: Option<jit::Compiled>,
    /// Parameter arrays, one value per lane (per-compartment parameters,
    /// then derived propagators).
    per: Vec<Vec<f64>>,
    /// State arrays in the kernel's order, one value per lane.
    arrays: Vec<Vec<f64>>,
    /// The node of each lane.
    pub nodes: Vec<usize>,
    v: usize,
    f_out: usize,
    j_out: usize,
    /// Input ports (the last parameter arrays).
    ports: usize,
    pub compile_seconds: f64,
    pub instructions: usize,
}

impl MembraneKernel {
    /// The kernel of membrane `m` for the compartments `nodes`, all
    /// starting at `init` (the model's initial state); `per_lane` are the
    /// parameters that differ between compartments, with one value per
    /// lane. With a `port`, the kernel of a synapse's arriving spikes:
    /// the weights summed into [`MembraneKernel::set_input`] applied by
    /// the port's event, no dynamics, and f and J at the result.
    pub fn build(
        m: &Membrane,
        nodes: Vec<usize>,
        per_lane: &[(usize, Vec<f64>)],
        init: &[f64],
        dt: f64,
        jit_it: bool,
        port: Option<&str>,
    ) -> Result<MembraneKernel, String> {
        let params = crate::ir::eval::eval_params(&m.model, &m.param_overrides);
        let mut km = m.model.clone();
        let v = km.state("V").ok_or("a membrane without V")?;
        km.states[v].rhs = None;
        let ports: Vec<String> = port.map(str::to_string).into_iter().collect();
        if port.is_some() {
            km.states.iter_mut().for_each(|s| s.rhs = None);
        }
        let (plan, d) = schemes::derive_plan(&mut km, Method::Auto);
        let plan = plan.ok_or_else(|| d.list.first().map_or("no plan".into(), |d| d.message.clone()))?;
        let none = vec![None; km.values.len()];
        let per_neuron: Vec<usize> = per_lane.iter().map(|(p, _)| *p).collect();
        let sig = Signature {
            params: &params,
            per_neuron: &per_neuron,
            value_overrides: &none,
            ports: &ports,
            outputs: &[m.f, m.j],
            per_step: &[],
        };
        let k = kernel::build_full(&km, &plan, &sig, dt).map_err(|kernel::Unsupported(why)| why)?;
        if !k.events.is_empty() {
            return Err("its channels have events; a cell's regions hold channels".into());
        }
        let code = if jit_it { Some(jit::compile(&k, false)?) } else { None };
        let exprs: Vec<ExprId> = km.values.iter().map(|v| v.expr).collect();
        let lanes = nodes.len();
        let mut per = kernel::param_arrays(&k, &km, &params, &exprs, per_lane);
        per.extend(ports.iter().map(|_| vec![0.0; lanes]));
        let arrays = (0..k.states.len()).map(|s| vec![init.get(s).copied().unwrap_or(0.0); lanes]).collect();
        let n = k.states.len();
        Ok(MembraneKernel {
            compile_seconds: code.as_ref().map_or(0.0, |c| c.compile_seconds),
            instructions: k.insts.len(),
            code,
            per,
            arrays,
            nodes,
            v,
            f_out: n - 2,
            j_out: n - 1,
            ports: ports.len(),
            kernel: k,
        })
    }

    /// The weights arriving at the port this step, one per lane (read by
    /// the next [`MembraneKernel::step`], then cleared).
    pub fn set_input(&mut self, w: &[f64]) {
        if let Some(input) = self.per.last_mut().filter(|_| self.ports > 0) {
            input.copy_from_slice(w);
        }
    }

    /// The first `count` state arrays (the model's states) from `other`,
    /// a kernel of the same model over the same lanes.
    pub fn take_states(&mut self, other: &MembraneKernel, count: usize) {
        for (mine, theirs) in self.arrays.iter_mut().zip(&other.arrays).take(count) {
            mine.copy_from_slice(theirs);
        }
    }

    /// One step from `t` to `t_next`: writes V of every lane from `v`
    /// (per node), advances the channels, and leaves f and J at the new
    /// state in `f` and `j` (per node).
    pub fn step(&mut self, v: &[f64], (t, t_next): (f64, f64), f: &mut [f64], j: &mut [f64]) {
        self.step_lanes(v, (t, t_next));
        for (lane, &node) in self.nodes.iter().enumerate() {
            f[node] = self.arrays[self.f_out][lane];
            j[node] = self.arrays[self.j_out][lane];
        }
    }

    /// f and J of each lane, as the last step left them.
    pub fn outputs(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.arrays[self.f_out].iter().copied().zip(self.arrays[self.j_out].iter().copied())
    }

    /// The outputs f and J of `other`, a kernel of the same model over the
    /// same lanes.
    pub fn take_outputs(&mut self, other: &MembraneKernel) {
        self.arrays[self.f_out].copy_from_slice(&other.arrays[other.f_out]);
        self.arrays[self.j_out].copy_from_slice(&other.arrays[other.j_out]);
    }

    /// [`MembraneKernel::step`], leaving f and J in the kernel's outputs.
    pub fn step_lanes(&mut self, v: &[f64], (t, t_next): (f64, f64)) {
        for (lane, &node) in self.nodes.iter().enumerate() {
            self.arrays[self.v][lane] = v[node];
        }
        let lanes = self.nodes.len();
        match &self.code {
            Some(code) => {
                let ptrs: Vec<*mut f64> = self.arrays.iter_mut().map(|a| a.as_mut_ptr()).collect();
                let pp: Vec<*const f64> = self.per.iter().map(|a| a.as_ptr()).collect();
                // SAFETY: one pointer per state and parameter array of the
                // kernel, each to `lanes` values; no events (`build` refuses
                // a kernel with any), so no spike buffers.
                unsafe { code.call(&ptrs, &pp, lanes, (t, t_next), &mut [], &mut []) };
            }
            None => {
                let mut arrays: Vec<&mut [f64]> = self.arrays.iter_mut().map(|a| a.as_mut_slice()).collect();
                let mut spikes = Vec::new();
                let pa: Vec<&[f64]> = self.per.iter().map(|a| a.as_slice()).collect();
                kernel::interp::step(&self.kernel, &mut arrays, &pa, t, t_next, &mut spikes);
            }
        }
        if self.ports > 0 {
            self.per.last_mut().into_iter().for_each(|w| w.iter_mut().for_each(|x| *x = 0.0));
        }
    }
}
