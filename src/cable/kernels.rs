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

use crate::codegen::jit;
use crate::ir::{ExprId, Model};
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
    pub compile_seconds: f64,
    pub instructions: usize,
}

impl MembraneKernel {
    /// The kernel of membrane `m` (V's equation `f`, its derivative `j`)
    /// with parameter values `params`, for the compartments `nodes`, all
    /// starting at `init` (the model's initial state); `per_lane` are the
    /// parameters that differ between compartments, with one value per
    /// lane.
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        m: &Model,
        params: &[f64],
        (f, j): (ExprId, ExprId),
        nodes: Vec<usize>,
        per_lane: &[(usize, Vec<f64>)],
        init: &[f64],
        dt: f64,
        jit_it: bool,
    ) -> Result<MembraneKernel, String> {
        let mut km = m.clone();
        let v = km.state("V").ok_or("a membrane without V")?;
        km.states[v].rhs = None;
        let (plan, d) = schemes::derive_plan(&mut km, Method::Auto);
        let plan = plan.ok_or_else(|| d.list.first().map_or("no plan".into(), |d| d.message.clone()))?;
        let none = vec![None; km.values.len()];
        let per_neuron: Vec<usize> = per_lane.iter().map(|(p, _)| *p).collect();
        let sig = Signature {
            params,
            per_neuron: &per_neuron,
            value_overrides: &none,
            ports: &[],
            outputs: &[f, j],
            per_step: &[],
        };
        let k = kernel::build_full(&km, &plan, &sig, dt).map_err(|kernel::Unsupported(why)| why)?;
        if !k.events.is_empty() {
            return Err("its channels have events; a cell's regions hold channels".into());
        }
        let code = if jit_it { Some(jit::compile(&k, false)?) } else { None };
        let exprs: Vec<ExprId> = km.values.iter().map(|v| v.expr).collect();
        let per = kernel::param_arrays(&k, &km, params, &exprs, per_lane);
        let lanes = nodes.len();
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
            kernel: k,
        })
    }

    /// One step from `t` to `t_next`: writes V of every lane from `v`
    /// (per node), advances the channels, and leaves f and J at the new
    /// state in `f` and `j` (per node).
    pub fn step(&mut self, v: &[f64], (t, t_next): (f64, f64), f: &mut [f64], j: &mut [f64]) {
        for (lane, &node) in self.nodes.iter().enumerate() {
            self.arrays[self.v][lane] = v[node];
        }
        let lanes = self.nodes.len();
        match &self.code {
            Some(code) => {
                let ptrs: Vec<*mut f64> = self.arrays.iter_mut().map(|a| a.as_mut_ptr()).collect();
                let pp: Vec<*const f64> = self.per.iter().map(|a| a.as_ptr()).collect();
                // SAFETY: one pointer per state and parameter array of the
                // kernel, each to `lanes` values; no events (channels do
                // not spike), so no spike buffers.
                unsafe { code.call(&ptrs, &pp, lanes, (t, t_next), &mut [], &mut []) };
            }
            None => {
                let mut arrays: Vec<&mut [f64]> = self.arrays.iter_mut().map(|a| a.as_mut_slice()).collect();
                let mut spikes = Vec::new();
                let pa: Vec<&[f64]> = self.per.iter().map(|a| a.as_slice()).collect();
                kernel::interp::step(&self.kernel, &mut arrays, &pa, t, t_next, &mut spikes);
            }
        }
        for (lane, &node) in self.nodes.iter().enumerate() {
            f[node] = self.arrays[self.f_out][lane];
            j[node] = self.arrays[self.j_out][lane];
        }
    }
}
