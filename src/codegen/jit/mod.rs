//! The Cranelift back end: compiles a [`Kernel`] to one native function
//! that advances a range of neurons one step.
//!
//! ```text
//! fn(states: *const *mut f64, params: *const *const f64, n: i64, t: f64,
//!    t_next: f64, spike_idx: *mut i64, spike_t: *mut f64) -> i64   // number of spikes
//! ```
//!
//! A kernel heavier than [`SEGMENT_WEIGHT`] (a network of rate units
//! written as one model: tens of thousands of instructions) becomes one
//! such function per segment ([`segment`]), each with a scratch block
//! as a last argument through which values pass to later segments; the
//! host runs them in turn over chunks of [`CHUNK`] neurons (`body`).
//! Cranelift's register allocator costs more than linearly in a function's
//! size, so many small functions compile in time linear in the kernel,
//! where one huge function took minutes. A kernel within the weight is one
//! function, as before.
//!
//! The loop body is the kernel's instructions, emitted twice: on `f64x2`
//! vectors (two neurons per iteration, the widest Cranelift's x86-64 back
//! end takes) and on scalars for an odd last neuron. The math functions are
//! the same straight-line operations as [`kmath`](crate::kernel::kmath), so
//! the JIT and the kernel interpreter agree bit for bit. Spikes are written
//! as a compact list (neuron index, time) without branches: every lane
//! stores, the count advances by the lane's fire bit.

mod body;
mod emit;
mod lazy;

pub use crate::kernel::segment::SEGMENT_WEIGHT;
pub use body::CHUNK;

use crate::kernel::{segment, Kernel};
use body::Piece;
use cranelift_codegen::ir::{types, AbiParam, Signature, UserFuncName};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{DataId, FuncId, Linkage, Module};
use emit::TableBase;
use std::cell::RefCell;
use std::collections::HashMap;

/// The native entry point of a kernel.
pub type KernelFn = unsafe extern "C" fn(*const *mut f64, *const *const f64, i64, f64, f64, *mut i64, *mut f64) -> i64;

/// The native entry point of one segment: a [`KernelFn`] with the scratch
/// block last.
type SegmentFn =
    unsafe extern "C" fn(*const *mut f64, *const *const f64, i64, f64, f64, *mut i64, *mut f64, *mut f64) -> i64;

/// The code: one function, or the segments' functions in order.
#[derive(Clone)]
enum Code {
    Whole(KernelFn),
    Segments { funcs: Vec<SegmentFn>, slots: usize },
}

/// What the machine code needs alive: its module (the memory it is in)
/// and the rate tables it reads.
struct Owned {
    /// None for kernels linked into the program ([`install_prebuilt`]).
    _module: Option<JITModule>,
    _tables: Vec<Box<[f64]>>,
}

/// A compiled kernel; its copies share the code.
#[derive(Clone)]
pub struct Compiled {
    _owned: std::sync::Arc<Owned>,
    code: Code,
    /// The Cranelift IR, for `explain --ir` (empty unless
    /// [`Options::keep_ir`]).
    pub ir: String,
    /// Compilation time, seconds.
    pub compile_seconds: f64,
    /// How many functions the kernel became (1: not cut).
    pub segments: usize,
    /// Cranelift instructions over all of them (the back end's work).
    pub clif_insts: usize,
    /// Cranelift instructions of the largest of them: the register
    /// allocator's time grows faster than linearly in it, so it must not
    /// grow with the kernel.
    pub largest_function: usize,
    n_states: usize,
    n_params: usize,
}

// The code is immutable after finalization and the function is pure over its
// arguments, so it may be called from several threads at once; the module
// and tables are only kept alive, never touched.
unsafe impl Send for Owned {}
unsafe impl Sync for Owned {}

impl Compiled {
    /// Whether `other` runs the same machine code (one came from the
    /// other, or from [`compile`]'s cache).
    pub fn shares_code_with(&self, other: &Compiled) -> bool {
        std::sync::Arc::ptr_eq(&self._owned, &other._owned)
    }

    /// Advances neurons `0..n` of the arrays one step from time `t` to `t_next`.
    ///
    /// # Safety
    /// `states` and `params` must hold the kernel's numbers of pointers, each
    /// to at least `n` f64; `spike_idx` and `spike_t` room for
    /// `n * emitting events` entries.
    pub unsafe fn call(
        &self,
        states: &[*mut f64],
        params: &[*const f64],
        n: usize,
        (t, t_next): (f64, f64),
        spike_idx: &mut [i64],
        spike_t: &mut [f64],
    ) -> usize {
        assert!(states.len() == self.n_states && params.len() == self.n_params, "kernel called with wrong arrays"); // ok: a caller bug, never user input
        let (funcs, slots) = match &self.code {
            Code::Whole(func) => {
                let count = unsafe {
                    func(
                        states.as_ptr(),
                        params.as_ptr(),
                        n as i64,
                        t,
                        t_next,
                        spike_idx.as_mut_ptr(),
                        spike_t.as_mut_ptr(),
                    )
                };
                return count.max(0) as usize;
            }
            Code::Segments { funcs, slots } => (funcs, *slots),
        };
        SCRATCH.with(|cell| {
            let mut scratch = cell.borrow_mut();
            let need = slots.max(1) * CHUNK;
            if scratch.len() < need {
                scratch.resize(need, 0.0);
            }
            // SAFETY: as for the whole function, on the chunk's neurons; the
            // scratch block holds every slot for CHUNK neurons.
            unsafe { call_segments(funcs, states, params, n, (t, t_next), (spike_idx, spike_t), &mut scratch) }
        })
    }
}

thread_local! {
    /// Each thread's scratch block for segmented kernels, kept between calls.
    static SCRATCH: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// Runs the segments in turn over chunks of [`CHUNK`] neurons; the last
/// writes the chunk's spikes, numbered within the chunk, renumbered here.
///
/// # Safety
/// As [`Compiled::call`]; `scratch` holds at least slots * CHUNK values.
unsafe fn call_segments(
    funcs: &[SegmentFn],
    states: &[*mut f64],
    params: &[*const f64],
    n: usize,
    (t, t_next): (f64, f64),
    (spike_idx, spike_t): (&mut [i64], &mut [f64]),
    scratch: &mut [f64],
) -> usize {
    let mut chunk_states = states.to_vec();
    let mut chunk_params = params.to_vec();
    let mut count = 0;
    let mut start = 0;
    while start < n {
        let len = CHUNK.min(n - start);
        for (to, from) in chunk_states.iter_mut().zip(states) {
            *to = from.wrapping_add(start);
        }
        for (to, from) in chunk_params.iter_mut().zip(params) {
            *to = from.wrapping_add(start);
        }
        let (sidx, stime) = (spike_idx[count..].as_mut_ptr(), spike_t[count..].as_mut_ptr());
        let mut fired = 0;
        for f in funcs {
            // only the last segment writes spikes; the others return 0
            fired = unsafe {
                f(
                    chunk_states.as_ptr(),
                    chunk_params.as_ptr(),
                    len as i64,
                    t,
                    t_next,
                    sidx,
                    stime,
                    scratch.as_mut_ptr(),
                )
            };
        }
        let fired = fired.max(0) as usize;
        for idx in &mut spike_idx[count..count + fired] {
            *idx += start as i64;
        }
        count += fired;
        start += len;
    }
    count
}

/// How to compile a kernel.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Cranelift's `opt_level = "speed"` (else `"none"`).
    pub speed: bool,
    /// The most a segment weighs ([`segment::cut`]).
    pub weight: usize,
    /// Keep the Cranelift IR as text ([`Compiled::ir`], for `explain --ir`).
    pub keep_ir: bool,
}

/// Compiles a kernel. `speed` selects Cranelift's `opt_level = "speed"`.
///
/// The process keeps the last [`CACHED`] kernels compiled this way: the
/// same kernel again (a run repeated from a library or Python loop, a
/// sweep over parameters that stay parameters) shares the code compiled
/// before, and its `compile_seconds` is what the lookup took.
pub fn compile(kernel: &Kernel, speed: bool) -> Result<Compiled, String> {
    let start = std::time::Instant::now();
    // the kernel's identity: a hash of everything it holds, as Debug prints it
    let key = key_of(kernel, speed);
    if let Some(list) = RECORDING.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        if !list.iter().any(|r| r.key == key) {
            list.push(Recorded { key, kernel: kernel.clone(), speed });
        }
    }
    if let Some(mut c) = prebuilt(key) {
        c.compile_seconds = start.elapsed().as_secs_f64();
        PREBUILT_USED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return Ok(c);
    }
    if PREBUILT_ONLY.load(std::sync::atomic::Ordering::Relaxed) {
        return Err("this kernel is not one the runner was built with (a setting changed its code: a parameter \
                    the model folds in, the time step or the method); run without --prebuilt-only to compile it"
            .into());
    }
    JIT_COMPILED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    static CACHE: std::sync::Mutex<Vec<(Key, Compiled)>> = std::sync::Mutex::new(Vec::new());
    let hit = CACHE.lock().unwrap_or_else(|e| e.into_inner()).iter().find(|(k, _)| *k == key).map(|(_, c)| c.clone());
    if let Some(mut c) = hit {
        c.compile_seconds = start.elapsed().as_secs_f64();
        return Ok(c);
    }
    let c = compile_with(kernel, Options { speed, weight: SEGMENT_WEIGHT, keep_ir: false })?;
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() >= CACHED {
        cache.remove(0);
    }
    cache.push((key, c.clone()));
    Ok(c)
}

/// A kernel's identity in [`compile`]'s cache: a hash of its text and its
/// sizes (instructions, states, parameters).
pub type Key = (u64, usize, usize, usize);

/// A kernel [`compile`] was asked for while [`record`] was on.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub key: Key,
    pub kernel: Kernel,
    pub speed: bool,
}

static RECORDING: std::sync::Mutex<Option<Vec<Recorded>>> = std::sync::Mutex::new(None);

/// Starts (or, with `false`, stops) recording every kernel [`compile`] is
/// asked for; what was recorded since the last start is returned, in
/// order, each kernel once. `neuroc build` records a run's kernels to
/// compile them into an object file.
pub fn record(on: bool) -> Vec<Recorded> {
    let mut slot = RECORDING.lock().unwrap_or_else(|e| e.into_inner());
    let taken = slot.take().unwrap_or_default();
    if on {
        *slot = Some(Vec::new());
    }
    taken
}

/// The kernels linked into this program by `neuroc build`, found by key.
static PREBUILT: std::sync::OnceLock<Vec<(Key, Compiled)>> = std::sync::OnceLock::new();
static PREBUILT_USED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static PREBUILT_ONLY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes [`compile`] refuse a kernel that is not among the prebuilt ones
/// (a runner's `--prebuilt-only`).
pub fn prebuilt_only(on: bool) {
    PREBUILT_ONLY.store(on, std::sync::atomic::Ordering::Relaxed);
}
static JIT_COMPILED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many kernels [`compile`] took from the program's prebuilt ones, and
/// how many it compiled (or found in its cache) since the process began.
pub fn kernel_origins() -> (usize, usize) {
    use std::sync::atomic::Ordering::Relaxed;
    (PREBUILT_USED.load(Relaxed), JIT_COMPILED.load(Relaxed))
}

fn prebuilt(key: Key) -> Option<Compiled> {
    PREBUILT.get()?.iter().find(|(k, _)| *k == key).map(|(_, c)| c.clone())
}

/// The first word of a prebuilt-kernel registry: "NEUROCK1".
pub const REGISTRY_MAGIC: u64 = u64::from_le_bytes(*b"NEUROCK1");

/// Makes [`compile`] answer with the kernels of a registry that
/// [`object::emit`](crate::codegen::object) wrote and the linker placed:
/// words `MAGIC, count`, then per kernel `key (4 words), states, params,
/// slots (0: one whole function), functions, function addresses...`.
/// Returns how many kernels it holds; a second call changes nothing.
///
/// # Safety
/// `registry` must point at such a registry, its addresses at functions
/// compiled with [`KernelFn`]'s signature (or, cut, with a segment's).
pub unsafe fn install_prebuilt(registry: *const u64) -> Result<usize, String> {
    let word = |i: usize| unsafe { registry.add(i).read() };
    if registry.is_null() || word(0) != REGISTRY_MAGIC {
        return Err("the program's kernel registry is damaged".into());
    }
    let count = word(1) as usize;
    let mut list = Vec::with_capacity(count);
    let mut at = 2;
    for _ in 0..count {
        let key = (word(at), word(at + 1) as usize, word(at + 2) as usize, word(at + 3) as usize);
        let (n_states, n_params, slots, n_funcs) =
            (word(at + 4) as usize, word(at + 5) as usize, word(at + 6) as usize, word(at + 7) as usize);
        let addrs: Vec<*const u8> = (0..n_funcs).map(|j| word(at + 8 + j) as *const u8).collect();
        at += 8 + n_funcs;
        let code = if slots == 0 {
            // SAFETY: the registry's writer declared the function so.
            Code::Whole(unsafe { std::mem::transmute::<*const u8, KernelFn>(addrs[0]) })
        } else {
            let funcs =
                addrs.iter().map(|&a| unsafe { std::mem::transmute::<*const u8, SegmentFn>(a) }).collect::<Vec<_>>();
            Code::Segments { funcs, slots }
        };
        let compiled = Compiled {
            _owned: std::sync::Arc::new(Owned { _module: None, _tables: Vec::new() }),
            code,
            ir: String::new(),
            compile_seconds: 0.0,
            segments: n_funcs,
            clif_insts: 0,
            largest_function: 0,
            n_states,
            n_params,
        };
        list.push((key, compiled));
    }
    let n = list.len();
    let _ = PREBUILT.set(list);
    Ok(n)
}

/// The processor features Cranelift compiles for on this machine (the
/// boolean ISA flags that are on: `has_sse41`, `has_avx`, `has_fma`...).
pub fn host_features() -> Result<Vec<String>, String> {
    let isa = isa(false, true)?;
    Ok(isa.isa_flags().iter().filter(|f| f.as_bool() == Some(true)).map(|f| f.name.to_string()).collect())
}

/// What makes prebuilt kernels usable by this build: the keys of
/// [`key_of`] (the hasher and the kernels' Debug text, probed on an empty
/// kernel), the chunk of segmented kernels and the weight they are cut at.
pub fn build_id() -> u64 {
    let probe = Kernel {
        insts: Vec::new(),
        states: vec!["x".into()],
        params: Vec::new(),
        consumed: 0,
        stores: Vec::new(),
        events: Vec::new(),
        dt: 1.0,
        tables: Vec::new(),
        propagators: Default::default(),
    };
    let (h, ..) = key_of(&probe, false);
    h ^ (CHUNK as u64).rotate_left(17) ^ (SEGMENT_WEIGHT as u64).rotate_left(41)
}

/// The key [`compile`] files a kernel under.
pub fn key_of(kernel: &Kernel, speed: bool) -> Key {
    use std::hash::Hasher as _;
    struct Hash(std::collections::hash_map::DefaultHasher);
    impl std::fmt::Write for Hash {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.write(s.as_bytes());
            Ok(())
        }
    }
    let mut h = Hash(std::collections::hash_map::DefaultHasher::new());
    let _ = std::fmt::Write::write_fmt(&mut h, format_args!("{speed} {SEGMENT_WEIGHT} {kernel:?}"));
    (h.0.finish(), kernel.insts.len(), kernel.states.len(), kernel.params.len())
}

/// How many compiled kernels [`compile`] keeps.
pub const CACHED: usize = 32;

/// [`compile`], cutting the kernel into segments of at most `weight`
/// (tests force small segments).
pub fn compile_segmented(kernel: &Kernel, speed: bool, weight: usize) -> Result<Compiled, String> {
    compile_with(kernel, Options { speed, weight, keep_ir: false })
}

/// Cranelift's target: this machine, optimizing for speed or not; `pic`
/// for code an executable links (an object file), else for the JIT.
pub(crate) fn isa(speed: bool, pic: bool) -> Result<OwnedTargetIsa, String> {
    let mut flags = settings::builder();
    let set =
        |f: &mut settings::Builder, k: &str, v: &str| f.set(k, v).map_err(|e| format!("cranelift setting {k}: {e}"));
    set(&mut flags, "opt_level", if speed { "speed" } else { "none" })?;
    set(&mut flags, "use_colocated_libcalls", "false")?;
    set(&mut flags, "is_pic", if pic { "true" } else { "false" })?;
    cranelift_native::builder()
        .map_err(|e| format!("this machine is not supported by Cranelift: {e}"))?
        .finish(settings::Flags::new(flags))
        .map_err(|e| format!("cranelift: {e}"))
}

/// The kernel's constants, each twice (an `f64x2`), in the order of its
/// instructions: the last of the arrays [`Tables`] gives, after the rate
/// tables. A vector body reads a constant from here where it is used, so
/// that x86 takes it as an instruction's memory operand
/// ([`emit::Emitter::arg`]).
pub(crate) fn constant_pool(kernel: &Kernel) -> Vec<f64> {
    let mut pool: Vec<f64> = kernel
        .insts
        .iter()
        .filter_map(|inst| match *inst {
            crate::kernel::Inst::Const(c) => Some([c, c]),
            _ => None,
        })
        .flatten()
        .collect();
    if pool.is_empty() {
        pool.extend([0.0, 0.0]);
    }
    pool
}

/// Where the functions of [`define_kernel`] find the rate tables (and,
/// last, the [`constant_pool`]).
pub(crate) enum Tables<'a> {
    /// In this process, at these addresses (the JIT).
    Addresses(&'a [i64]),
    /// As data symbols of the module (an object file).
    Symbols(&'a [DataId]),
}

/// A kernel defined in a module: its functions in order, and the slots
/// its segments pass values through (0: one whole function).
pub(crate) struct Defined {
    pub ids: Vec<FuncId>,
    pub slots: usize,
    ir: String,
    clif_insts: usize,
    largest: usize,
}

/// A kernel function's signature ([`KernelFn`]; a segment's, `whole`
/// false, has the scratch block last).
pub(crate) fn signature<M: Module>(module: &M, whole: bool) -> Signature {
    let ptr = types::I64;
    let mut sig = module.make_signature();
    for ty in [ptr, ptr, types::I64, types::F64, types::F64, ptr, ptr] {
        sig.params.push(AbiParam::new(ty));
    }
    if !whole {
        sig.params.push(AbiParam::new(ptr));
    }
    sig.returns.push(AbiParam::new(types::I64));
    sig
}

/// Cuts a kernel into segments of at most `weight` and defines one
/// function per segment in `module`, named `name` (one function) or
/// `name_J`, with `linkage`.
pub(crate) fn define_kernel<M: Module>(
    module: &mut M,
    kernel: &Kernel,
    (name, linkage): (&str, Linkage),
    weight: usize,
    tables: &Tables,
    keep_ir: bool,
) -> Result<Defined, String> {
    let cut = segment::cut(kernel, weight);
    let whole = cut.list.len() == 1;
    if cut.slots.saturating_mul(CHUNK * 8) > i32::MAX as usize {
        return Err(format!("the kernel passes {} values between its segments, too many", cut.slots));
    }
    let sig = signature(module, whole);
    let mut out = Functions { keep_ir, ir: String::new(), clif_insts: 0, largest: 0, ids: Vec::new() };
    let last = cut.list.len() - 1;
    for (j, seg) in cut.list.iter().enumerate() {
        let piece = Piece {
            k: kernel,
            insts: seg.insts.clone(),
            imports: seg.imports.iter().copied().collect::<HashMap<_, _>>(),
            exports: {
                let mut slots = vec![None; seg.insts.len()];
                for &(v, slot) in &seg.exports {
                    slots[v as usize - seg.insts.start] = Some(slot);
                }
                slots
            },
            stores: &seg.stores,
            finishes: j == last,
            segment: !whole,
            lazy: if whole && std::env::var_os("NEUROC_NO_LAZY").is_none() {
                lazy::plan(kernel, &seg.stores)
            } else {
                None
            },
        };
        let name = if whole { name.to_string() } else { format!("{name}_{j}") };
        define(module, (&name, linkage), &sig, &piece, tables, &mut out)?;
    }
    let slots = if whole { 0 } else { cut.slots.max(1) };
    Ok(Defined { ids: out.ids, slots, ir: out.ir, clif_insts: out.clif_insts, largest: out.largest })
}

/// Compiles a kernel as `opts` say.
pub fn compile_with(kernel: &Kernel, opts: Options) -> Result<Compiled, String> {
    let start = std::time::Instant::now();
    let mut module =
        JITModule::new(JITBuilder::with_isa(isa(opts.speed, false)?, cranelift_module::default_libcall_names()));
    let mut tables: Vec<Box<[f64]>> = kernel.tables.iter().map(|t| t.data.clone().into_boxed_slice()).collect();
    tables.push(constant_pool(kernel).into_boxed_slice());
    let table_addrs: Vec<i64> = tables.iter().map(|t| t.as_ptr() as i64).collect();
    let defined = define_kernel(
        &mut module,
        kernel,
        ("neuroc_kernel", Linkage::Local),
        opts.weight,
        &Tables::Addresses(&table_addrs),
        opts.keep_ir,
    )?;
    module.finalize_definitions().map_err(|e| e.to_string())?;
    let code = if defined.slots == 0 {
        let code = module.get_finalized_function(defined.ids[0]);
        // SAFETY: the function was declared with exactly this signature.
        Code::Whole(unsafe { std::mem::transmute::<*const u8, KernelFn>(code) })
    } else {
        let funcs = defined
            .ids
            .iter()
            .map(|&id| {
                let code = module.get_finalized_function(id);
                // SAFETY: each segment was declared with exactly this signature.
                unsafe { std::mem::transmute::<*const u8, SegmentFn>(code) }
            })
            .collect();
        Code::Segments { funcs, slots: defined.slots }
    };
    Ok(Compiled {
        _owned: std::sync::Arc::new(Owned { _module: Some(module), _tables: tables }),
        code,
        ir: defined.ir,
        compile_seconds: start.elapsed().as_secs_f64(),
        segments: defined.ids.len(),
        clif_insts: defined.clif_insts,
        largest_function: defined.largest,
        n_states: kernel.states.len(),
        n_params: kernel.params.len(),
    })
}

/// What the functions defined so far add up to.
struct Functions {
    keep_ir: bool,
    ir: String,
    clif_insts: usize,
    largest: usize,
    ids: Vec<FuncId>,
}

/// Declares, builds and compiles the function of one piece.
fn define<M: Module>(
    module: &mut M,
    (name, linkage): (&str, Linkage),
    sig: &Signature,
    piece: &Piece,
    tables: &Tables,
    out: &mut Functions,
) -> Result<(), String> {
    let id = module.declare_function(name, linkage, sig).map_err(|e| e.to_string())?;
    let mut ctx = module.make_context();
    ctx.func.signature = sig.clone();
    ctx.func.name = UserFuncName::user(0, id.as_u32());
    let bases: Vec<TableBase> = match tables {
        Tables::Addresses(addrs) => addrs.iter().map(|&a| TableBase::Address(a)).collect(),
        Tables::Symbols(ids) => {
            ids.iter().map(|&d| TableBase::Symbol(module.declare_data_in_func(d, &mut ctx.func))).collect()
        }
    };
    let mut fctx = FunctionBuilderContext::new();
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        body::emit_function(&mut b, piece, &bases);
        b.finalize(module.isa().frontend_config());
    }
    if out.keep_ir {
        out.ir.push_str(&ctx.func.display().to_string());
    }
    let insts = ctx.func.layout.blocks().map(|b| ctx.func.layout.block_insts(b).count()).sum::<usize>();
    out.clif_insts += insts;
    out.largest = out.largest.max(insts);
    ctx.set_disasm(std::env::var_os("NEUROC_DISASM").is_some());
    module.define_function(id, &mut ctx).map_err(|e| format!("cranelift could not compile the kernel: {e:?}"))?;
    if let Some(code) = ctx.compiled_code().and_then(|c| c.vcode.as_ref()) {
        if std::env::var_os("NEUROC_DISASM").is_some() {
            eprintln!("{code}");
        }
    }
    out.ids.push(id);
    Ok(())
}
