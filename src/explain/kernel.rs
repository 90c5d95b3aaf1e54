//! `explain --ir`: the fused kernel of a model, instruction by
//! instruction, and the Cranelift IR it compiles to.

use crate::codegen::jit;
use crate::schemes::{self, Method};
use crate::units;

/// The fused kernel of a model and the Cranelift IR it compiles to.
pub fn kernel(m: &crate::ir::Model, method: Method, dt: f64) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let mut m = m.clone();
    let (plan, _) = schemes::derive_plan(&mut m, method);
    let Some(plan) = plan else { return out };
    let params = crate::ir::eval::eval_params(&m, &[]);
    // random parameters are per-step arrays, as in a run
    let noise = crate::ir::noise::noise_params(&m);
    let sig = crate::kernel::Signature {
        params: &params,
        per_neuron: &noise,
        value_overrides: &[],
        ports: &[],
        outputs: &[],
        per_step: &noise,
    };
    let built =
        crate::runtime::population::kernel_depth(&m).and_then(|()| crate::kernel::build_full(&m, &plan, &sig, dt));
    match built {
        Ok(k) => {
            let _ =
                writeln!(out, "  fused kernel ({} ops, dt = {} ms):", k.insts.len(), units::format_number(dt * 1e3));
            for (i, inst) in k.insts.iter().enumerate() {
                let _ = writeln!(out, "    v{i} = {inst:?}");
            }
            for (s, v) in k.states.iter().zip(&k.stores) {
                let _ = writeln!(out, "    store {s} <- v{v}");
            }
            let opts = jit::Options { speed: false, weight: jit::SEGMENT_WEIGHT, keep_ir: true };
            match jit::compile_with(&k, opts) {
                Ok(c) => {
                    let _ = writeln!(out, "  Cranelift IR (compiled in {:.2} ms):", c.compile_seconds * 1e3);
                    out.push_str(&c.ir);
                }
                Err(e) => {
                    let _ = writeln!(out, "  JIT: {e}");
                }
            }
        }
        Err(crate::kernel::Unsupported(why)) => {
            let _ = writeln!(out, "  no fused kernel: {why}");
        }
    }
    out
}
