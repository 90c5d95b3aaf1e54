//! The object-file back end: the JIT's kernel functions, built the same
//! way ([`jit::define_kernel`]), written by cranelift-object into a
//! relocatable object (ELF on Linux, Mach-O on macOS) that the system's
//! linker takes.
//!
//! Two shapes:
//! - [`runner_object`]: a runner's kernels, a registry the runtime looks
//!   them up in by their [`jit::Key`], the bundle of the model's files, and
//!   `main`, which hands both to `neuroc_runner_main` in the runtime
//!   library (`runner/`);
//! - [`library_object`]: one exported function per kernel, whole (never
//!   cut into segments), for a C or C++ program to call.

use super::jit::{self, define_kernel, Recorded, Tables, REGISTRY_MAGIC, SEGMENT_WEIGHT};
use crate::kernel::Kernel;
use cranelift_codegen::ir::{types, AbiParam, InstBuilder, UserFuncName};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::{DataDescription, DataId, FuncId, Linkage, Module};
use cranelift_object::{ObjectBuilder, ObjectModule};

fn module(speed: bool, name: &str) -> Result<ObjectModule, String> {
    let builder = ObjectBuilder::new(jit::isa(speed, true)?, name, cranelift_module::default_libcall_names())
        .map_err(|e| format!("cranelift-object: {e}"))?;
    Ok(ObjectModule::new(builder))
}

fn emit(module: ObjectModule) -> Result<Vec<u8>, String> {
    module.finish().emit().map_err(|e| format!("the object file could not be written: {e}"))
}

/// Defines a kernel's rate tables, then its constant pool
/// ([`jit::constant_pool`]), as read-only data, 16-byte aligned.
fn tables(module: &mut ObjectModule, kernel: &Kernel, prefix: &str) -> Result<Vec<DataId>, String> {
    let pool = jit::constant_pool(kernel);
    kernel
        .tables
        .iter()
        .map(|t| t.data.as_slice())
        .chain([pool.as_slice()])
        .enumerate()
        .map(|(j, values)| {
            let id = module
                .declare_data(&format!("{prefix}_table{j}"), Linkage::Local, false, false)
                .map_err(|e| e.to_string())?;
            let mut data = DataDescription::new();
            data.define(values.iter().flat_map(|x| x.to_le_bytes()).collect());
            data.set_align(16);
            module.define_data(id, &data).map_err(|e| e.to_string())?;
            Ok(id)
        })
        .collect()
}

/// The object of a runner. Its kernels are compiled as runs compile them
/// (`opt_level = "none"`: every run's kernels are; one recorded with
/// `speed` would be the same arithmetic, Cranelift's optimizations keep
/// IEEE semantics, in code that is not optimized).
pub fn runner_object(kernels: &[Recorded], bundle: &[u8]) -> Result<Vec<u8>, String> {
    let mut main = module(false, "neuroc_runner")?;
    // the registry's words, and where each kernel's function addresses go
    let mut words = vec![REGISTRY_MAGIC, kernels.len() as u64];
    let mut addresses: Vec<(usize, FuncId)> = Vec::new();
    for (i, r) in kernels.iter().enumerate() {
        let name = format!("neuroc_k{i}");
        let t = tables(&mut main, &r.kernel, &name)?;
        let d =
            define_kernel(&mut main, &r.kernel, (&name, Linkage::Local), SEGMENT_WEIGHT, &Tables::Symbols(&t), false)?;
        let (k0, k1, k2, k3) = r.key;
        words.extend([k0, k1 as u64, k2 as u64, k3 as u64]);
        words.extend([r.kernel.states.len() as u64, r.kernel.params.len() as u64, d.slots as u64, d.ids.len() as u64]);
        for id in d.ids {
            addresses.push((words.len(), id));
            words.push(0);
        }
    }
    let registry = main.declare_data("neuroc_prebuilt", Linkage::Local, true, false).map_err(|e| e.to_string())?;
    let mut data = DataDescription::new();
    data.define(words.iter().flat_map(|w| w.to_le_bytes()).collect());
    data.set_align(8);
    for (at, id) in addresses {
        let f = main.declare_func_in_data(id, &mut data);
        data.write_function_addr((at * 8) as u32, f);
    }
    main.define_data(registry, &data).map_err(|e| e.to_string())?;
    let bundle_id = main.declare_data("neuroc_bundle", Linkage::Local, false, false).map_err(|e| e.to_string())?;
    let mut data = DataDescription::new();
    data.define(bundle.to_vec().into_boxed_slice());
    main.define_data(bundle_id, &data).map_err(|e| e.to_string())?;
    define_main(&mut main, registry, (bundle_id, bundle.len()))?;
    emit(main)
}

/// `int main(int argc, char **argv)`: returns
/// `neuroc_runner_main(registry, bundle, bundle_len)`.
fn define_main(module: &mut ObjectModule, registry: DataId, (bundle, len): (DataId, usize)) -> Result<(), String> {
    let ptr = types::I64;
    let mut sig = module.make_signature();
    sig.params.push(AbiParam::new(types::I32));
    sig.params.push(AbiParam::new(ptr));
    sig.returns.push(AbiParam::new(types::I32));
    let id = module.declare_function("main", Linkage::Export, &sig).map_err(|e| e.to_string())?;
    let mut callee = module.make_signature();
    callee.params.extend([AbiParam::new(ptr), AbiParam::new(ptr), AbiParam::new(ptr)]);
    callee.returns.push(AbiParam::new(types::I32));
    let runtime = module.declare_function("neuroc_runner_main", Linkage::Import, &callee).map_err(|e| e.to_string())?;
    let mut ctx = module.make_context();
    ctx.func.signature = sig;
    ctx.func.name = UserFuncName::user(0, id.as_u32());
    let reg = module.declare_data_in_func(registry, &mut ctx.func);
    let bun = module.declare_data_in_func(bundle, &mut ctx.func);
    let call = module.declare_func_in_func(runtime, &mut ctx.func);
    let frontend = module.isa().frontend_config();
    let mut fctx = FunctionBuilderContext::new();
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        b.seal_block(entry);
        let r = b.ins().symbol_value(ptr, reg);
        let d = b.ins().symbol_value(ptr, bun);
        let n = b.ins().iconst(ptr, len as i64);
        let inst = b.ins().call(call, &[r, d, n]);
        let code = b.inst_results(inst)[0];
        b.ins().return_(&[code]);
        b.finalize(frontend);
    }
    module.define_function(id, &mut ctx).map_err(|e| format!("cranelift could not compile `main`: {e:?}"))?;
    Ok(())
}

/// One object with each kernel as an exported function of the given name,
/// whole, with [`jit::KernelFn`]'s signature.
pub fn library_object(kernels: &[(String, &Kernel)], speed: bool) -> Result<Vec<u8>, String> {
    let mut m = module(speed, "neuroc_kernels")?;
    for (name, kernel) in kernels {
        let t = tables(&mut m, kernel, name)?;
        define_kernel(&mut m, kernel, (name, Linkage::Export), usize::MAX, &Tables::Symbols(&t), false)?;
    }
    emit(m)
}
