//! The Cranelift back end: compiles a [`Kernel`] to one native function
//! that advances a range of neurons one step.
//!
//! ```text
//! fn(states: *const *mut f64, params: *const *const f64, n: i64, t: f64,
//!    t_next: f64, spike_idx: *mut i64, spike_t: *mut f64) -> i64   // number of spikes
//! ```
//!
//! The loop body is the kernel's instructions, emitted twice: on `f64x2`
//! vectors (two neurons per iteration, the widest Cranelift's x86-64 back
//! end takes) and on scalars for an odd last neuron. The math functions are
//! the same straight-line operations as [`kmath`](crate::kernel::kmath), so
//! the JIT and the kernel interpreter agree bit for bit. Spikes are written
//! as a compact list (neuron index, time) without branches: every lane
//! stores, the count advances by the lane's fire bit.

use crate::kernel::{kmath, table, Cmp, Inst, Kernel, Val};
use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{
    types, AbiParam, BlockArg, Endianness, InstBuilder, MemFlagsData, Type, UserFuncName, Value,
};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{Linkage, Module};
use std::collections::HashMap;

/// The native entry point of a kernel.
pub type KernelFn = unsafe extern "C" fn(*const *mut f64, *const *const f64, i64, f64, f64, *mut i64, *mut f64) -> i64;

/// A compiled kernel; owns its code.
pub struct Compiled {
    _module: JITModule,
    func: KernelFn,
    /// The Cranelift IR, for `explain --ir`.
    pub ir: String,
    /// Compilation time, seconds.
    pub compile_seconds: f64,
    n_states: usize,
    n_params: usize,
    /// The rate tables the code reads (their addresses are baked in).
    _tables: Vec<Box<[f64]>>,
}

// The code is immutable after finalization and the function is pure over its
// arguments, so it may be called from several threads at once.
unsafe impl Send for Compiled {}
unsafe impl Sync for Compiled {}

impl Compiled {
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
        let count = unsafe {
            (self.func)(
                states.as_ptr(),
                params.as_ptr(),
                n as i64,
                t,
                t_next,
                spike_idx.as_mut_ptr(),
                spike_t.as_mut_ptr(),
            )
        };
        count.max(0) as usize
    }
}

/// Compiles a kernel. `speed` selects Cranelift's `opt_level = "speed"`.
pub fn compile(kernel: &Kernel, speed: bool) -> Result<Compiled, String> {
    let start = std::time::Instant::now();
    let mut flags = settings::builder();
    let set =
        |f: &mut settings::Builder, k: &str, v: &str| f.set(k, v).map_err(|e| format!("cranelift setting {k}: {e}"));
    set(&mut flags, "opt_level", if speed { "speed" } else { "none" })?;
    set(&mut flags, "use_colocated_libcalls", "false")?;
    set(&mut flags, "is_pic", "false")?;
    let isa = cranelift_native::builder()
        .map_err(|e| format!("this machine is not supported by Cranelift: {e}"))?
        .finish(settings::Flags::new(flags))
        .map_err(|e| format!("cranelift: {e}"))?;
    let mut module = JITModule::new(JITBuilder::with_isa(isa, cranelift_module::default_libcall_names()));
    let ptr = types::I64;
    let mut sig = module.make_signature();
    for ty in [ptr, ptr, types::I64, types::F64, types::F64, ptr, ptr] {
        sig.params.push(AbiParam::new(ty));
    }
    sig.returns.push(AbiParam::new(types::I64));
    let id = module.declare_function("neuroc_kernel", Linkage::Local, &sig).map_err(|e| e.to_string())?;
    let mut ctx = module.make_context();
    ctx.func.signature = sig;
    ctx.func.name = UserFuncName::user(0, id.as_u32());
    let mut fctx = FunctionBuilderContext::new();
    let tables: Vec<Box<[f64]>> = kernel.tables.iter().map(|t| t.data.clone().into_boxed_slice()).collect();
    let table_addrs: Vec<i64> = tables.iter().map(|t| t.as_ptr() as i64).collect();
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        emit_function(&mut b, kernel, &table_addrs);
        b.finalize(module.isa().frontend_config());
    }
    let ir = ctx.func.display().to_string();
    ctx.set_disasm(std::env::var_os("NEUROC_DISASM").is_some());
    module.define_function(id, &mut ctx).map_err(|e| format!("cranelift could not compile the kernel: {e:?}"))?;
    if let Some(code) = ctx.compiled_code().and_then(|c| c.vcode.as_ref()) {
        if std::env::var_os("NEUROC_DISASM").is_some() {
            eprintln!("{code}");
        }
    }
    module.finalize_definitions().map_err(|e| e.to_string())?;
    let code = module.get_finalized_function(id);
    // SAFETY: the function was declared with exactly this signature.
    let func = unsafe { std::mem::transmute::<*const u8, KernelFn>(code) };
    Ok(Compiled {
        _module: module,
        func,
        ir,
        compile_seconds: start.elapsed().as_secs_f64(),
        n_states: kernel.states.len(),
        n_params: kernel.params.len(),
        _tables: tables,
    })
}

fn emit_function(b: &mut FunctionBuilder, k: &Kernel, table_addrs: &[i64]) {
    use cranelift_codegen::ir::condcodes::IntCC;
    let entry = b.create_block();
    let head4 = b.create_block();
    let body4 = b.create_block();
    let head2 = b.create_block();
    let body2 = b.create_block();
    let tail_check = b.create_block();
    let tail_body = b.create_block();
    let exit = b.create_block();
    b.append_block_params_for_function_params(entry);
    let i4 = b.append_block_param(head4, types::I64);
    let c4 = b.append_block_param(head4, types::I64);
    let ih2 = b.append_block_param(head2, types::I64);
    let ch2 = b.append_block_param(head2, types::I64);
    let it = b.append_block_param(tail_check, types::I64);
    let ct = b.append_block_param(tail_check, types::I64);
    let c_exit = b.append_block_param(exit, types::I64);
    let arg = BlockArg::Value;

    b.switch_to_block(entry);
    let p = b.block_params(entry).to_vec();
    let (states_pp, params_pp, n, t, t_next, sidx, stime) = (p[0], p[1], p[2], p[3], p[4], p[5], p[6]);
    let flags = MemFlagsData::new().with_notrap();
    let state_ptrs: Vec<Value> =
        (0..k.states.len()).map(|s| b.ins().load(types::I64, flags, states_pp, (8 * s) as i32)).collect();
    let param_ptrs: Vec<Value> =
        (0..k.params.len()).map(|s| b.ins().load(types::I64, flags, params_pp, (8 * s) as i32)).collect();
    let ptrs = Ptrs { states: &state_ptrs, params: &param_ptrs, t, t_next, sidx, stime, tables: table_addrs };
    let zero = b.ins().iconst(types::I64, 0);
    b.ins().jump(head4, &[arg(zero), arg(zero)]);

    // Four neurons at a time: two independent f64x2 groups, interleaved
    // instruction by instruction so the CPU can overlap their latencies.
    b.switch_to_block(head4);
    let next4 = b.ins().iadd_imm_s(i4, 4);
    let room4 = b.ins().icmp(IntCC::SignedLessThanOrEqual, next4, n);
    b.ins().brif(room4, body4, &[], head2, &[arg(i4), arg(c4)]);
    b.switch_to_block(body4);
    let count = emit_body(b, k, Lanes::Two, 2, i4, c4, &ptrs);
    b.ins().jump(head4, &[arg(next4), arg(count)]);

    // Then two, then one.
    b.switch_to_block(head2);
    let next2 = b.ins().iadd_imm_s(ih2, 2);
    let room2 = b.ins().icmp(IntCC::SignedLessThanOrEqual, next2, n);
    b.ins().brif(room2, body2, &[], tail_check, &[arg(ih2), arg(ch2)]);
    b.switch_to_block(body2);
    let count = emit_body(b, k, Lanes::Two, 1, ih2, ch2, &ptrs);
    b.ins().jump(tail_check, &[arg(next2), arg(count)]);

    b.switch_to_block(tail_check);
    let more = b.ins().icmp(IntCC::SignedLessThan, it, n);
    b.ins().brif(more, tail_body, &[], exit, &[arg(ct)]);
    b.switch_to_block(tail_body);
    let count = emit_body(b, k, Lanes::One, 1, it, ct, &ptrs);
    b.ins().jump(exit, &[arg(count)]);

    b.switch_to_block(exit);
    b.ins().return_(&[c_exit]);
    b.seal_all_blocks();
}

/// The function's pointers and time, shared by every body.
struct Ptrs<'a> {
    states: &'a [Value],
    params: &'a [Value],
    t: Value,
    t_next: Value,
    sidx: Value,
    stime: Value,
    /// Each rate table's address.
    tables: &'a [i64],
}

#[derive(Clone, Copy, PartialEq)]
enum Lanes {
    One,
    Two,
}

impl Lanes {
    fn num(self) -> Type {
        match self {
            Lanes::One => types::F64,
            Lanes::Two => types::F64X2,
        }
    }
    fn int(self) -> Type {
        match self {
            Lanes::One => types::I64,
            Lanes::Two => types::I64X2,
        }
    }
}

/// Emits the kernel for `groups` groups of `lanes` neurons starting at
/// index `i`; returns the new spike count.
fn emit_body(
    b: &mut FunctionBuilder,
    k: &Kernel,
    lanes: Lanes,
    groups: usize,
    i: Value,
    count: Value,
    p: &Ptrs,
) -> Value {
    let flags = MemFlagsData::new().with_notrap();
    let width = if lanes == Lanes::Two { 2 } else { 1 };
    let offsets: Vec<Value> = (0..groups)
        .map(|g| {
            let ig = b.ins().iadd_imm_s(i, (g * width) as i64);
            b.ins().ishl_imm_u(ig, 3)
        })
        .collect();
    let mut e =
        Emitter { b, lanes, g: 0, vals: vec![Vec::with_capacity(k.insts.len()); groups], located: HashMap::new() };
    for inst in &k.insts {
        for (g, &offset) in offsets.iter().enumerate() {
            e.g = g;
            let v = match *inst {
                Inst::State(s) => {
                    let addr = e.b.ins().iadd(p.states[s as usize], offset);
                    e.b.ins().load(lanes.num(), flags, addr, 0)
                }
                Inst::Param(s) => {
                    let addr = e.b.ins().iadd(p.params[s as usize], offset);
                    e.b.ins().load(lanes.num(), flags, addr, 0)
                }
                Inst::Time => e.splat(p.t),
                Inst::TimeNext => e.splat(p.t_next),
                Inst::Lookup { table, col, at } => {
                    e.lookup(&k.tables[table as usize], p.tables[table as usize], at, col)
                }
                ref other => e.inst(other),
            };
            e.vals[g].push(v);
        }
    }
    for (g, &offset) in offsets.iter().enumerate() {
        for (s, &v) in k.stores.iter().enumerate() {
            let addr = e.b.ins().iadd(p.states[s], offset);
            let val = e.vals[g][v as usize];
            e.b.ins().store(flags, val, addr, 0);
        }
    }
    let mut count = count;
    for (g, _) in offsets.iter().enumerate() {
        for ev in k.events.iter().filter(|ev| ev.emits) {
            let fire = e.vals[g][ev.fire as usize];
            let time = e.vals[g][ev.time as usize];
            for lane in 0..width {
                let (bit, tl) = if lanes == Lanes::Two {
                    let m = e.b.ins().extractlane(fire, lane as u8);
                    let bit = e.b.ins().band_imm_u(m, 1);
                    (bit, e.b.ins().extractlane(time, lane as u8))
                } else {
                    (e.b.ins().uextend(types::I64, fire), time)
                };
                let slot = e.b.ins().ishl_imm_u(count, 3);
                let ia = e.b.ins().iadd(p.sidx, slot);
                let ta = e.b.ins().iadd(p.stime, slot);
                let idx = e.b.ins().iadd_imm_s(i, (g * width + lane) as i64);
                e.b.ins().store(flags, idx, ia, 0);
                e.b.ins().store(flags, tl, ta, 0);
                count = e.b.ins().iadd(count, bit);
            }
        }
    }
    count
}

struct Emitter<'a, 'b> {
    b: &'a mut FunctionBuilder<'b>,
    lanes: Lanes,
    /// The group being emitted, and each group's values.
    g: usize,
    vals: Vec<Vec<Value>>,
    /// (table address, argument, group) -> the fraction within the row and
    /// each lane's row address: computed once for all of a table's columns.
    located: HashMap<(i64, Val, usize), (Value, Vec<Value>)>,
}

impl Emitter<'_, '_> {
    fn v(&self, x: u32) -> Value {
        self.vals[self.g][x as usize]
    }

    fn splat(&mut self, scalar: Value) -> Value {
        match self.lanes {
            Lanes::One => scalar,
            Lanes::Two => self.b.ins().splat(types::F64X2, scalar),
        }
    }

    fn konst(&mut self, c: f64) -> Value {
        // Not cached across the body: a constant kept live would be spilled
        // and reloaded; a fresh load from the constant pool costs the same
        // and needs no register in between.
        let v = match self.lanes {
            Lanes::One => self.b.ins().f64const(c),
            Lanes::Two => {
                // one load from the constant pool, not a move and a shuffle
                let mut bytes = c.to_le_bytes().to_vec();
                bytes.extend_from_slice(&c.to_le_bytes());
                let handle = self.b.func.dfg.constants.insert(cranelift_codegen::ir::ConstantData::from(bytes));
                self.b.ins().vconst(types::F64X2, handle)
            }
        };
        v
    }

    fn int_konst(&mut self, c: i64) -> Value {
        let s = self.b.ins().iconst(types::I64, c);
        match self.lanes {
            Lanes::One => s,
            Lanes::Two => self.b.ins().splat(types::I64X2, s),
        }
    }

    fn bits_to_int(&mut self, x: Value) -> Value {
        let f = MemFlagsData::new().with_endianness(Endianness::Little);
        self.b.ins().bitcast(self.lanes.int(), f, x)
    }

    fn bits_to_float(&mut self, x: Value) -> Value {
        let f = MemFlagsData::new().with_endianness(Endianness::Little);
        self.b.ins().bitcast(self.lanes.num(), f, x)
    }

    /// A mask (i8 for one lane, i64x2 for two) selecting between numbers.
    fn select(&mut self, mask: Value, a: Value, c: Value) -> Value {
        match self.lanes {
            Lanes::One => self.b.ins().select(mask, a, c),
            Lanes::Two => {
                let m = self.bits_to_float(mask);
                self.b.ins().bitselect(m, a, c)
            }
        }
    }

    fn cmp(&mut self, cc: FloatCC, a: Value, c: Value) -> Value {
        self.b.ins().fcmp(cc, a, c)
    }

    /// Column `col` of a rate table at the argument `at`: the operations of
    /// `Table::locate` and `Table::interpolate`, the row found once per
    /// table and group. With two lanes each lane's (y, dy) pair is one
    /// 16-byte load; two unpacks make the y and dy vectors.
    fn lookup(&mut self, t: &table::Table, addr: i64, at: Val, col: u32) -> Value {
        let flags = MemFlagsData::new().with_notrap().with_readonly();
        let key = (addr, at, self.g);
        let (frac, rows) = match self.located.get(&key) {
            Some(found) => found.clone(),
            None => {
                let x = self.v(at);
                let lo = self.konst(t.lo);
                let d = self.b.ins().fsub(x, lo);
                let inv = self.konst(t.inv_step);
                let u = self.b.ins().fmul(d, inv);
                let zero = self.konst(0.0);
                let u = self.b.ins().fmax(u, zero);
                let top = self.konst((t.rows - 1) as f64);
                let u = self.b.ins().fmin(u, top);
                let fl = self.b.ins().floor(u);
                let frac = self.b.ins().fsub(u, fl);
                let two52 = self.konst(table::TWO52);
                let shifted = self.b.ins().fadd(fl, two52);
                let bits = self.bits_to_int(shifted);
                let lanes = if self.lanes == Lanes::Two { 2 } else { 1 };
                let base = self.b.ins().iconst(types::I64, addr);
                let last = self.b.ins().iconst(types::I64, (t.rows - 1) as i64);
                let row_bytes = (t.cols * 16) as i64;
                let rows: Vec<Value> = (0..lanes)
                    .map(|lane| {
                        let li =
                            if self.lanes == Lanes::Two { self.b.ins().extractlane(bits, lane as u8) } else { bits };
                        let li = self.b.ins().band_imm_u(li, table::MANTISSA as i64);
                        let li = self.b.ins().umin(li, last);
                        let off = self.b.ins().imul_imm_u(li, row_bytes);
                        self.b.ins().iadd(base, off)
                    })
                    .collect();
                self.located.insert(key, (frac, rows.clone()));
                (frac, rows)
            }
        };
        let offset = (col * 16) as i32;
        let (y, dy) = match self.lanes {
            Lanes::One => {
                let y = self.b.ins().load(types::F64, flags, rows[0], offset);
                let dy = self.b.ins().load(types::F64, flags, rows[0], offset + 8);
                (y, dy)
            }
            Lanes::Two => {
                let little = MemFlagsData::new().with_endianness(Endianness::Little);
                let pairs: Vec<Value> = rows
                    .iter()
                    .map(|&r| {
                        let p = self.b.ins().load(types::F64X2, flags, r, offset);
                        self.b.ins().bitcast(types::I8X16, little, p)
                    })
                    .collect();
                // bytes 0-7 of each pair (punpcklqdq), then bytes 8-15 (punpckhqdq)
                let low: Vec<u8> = (0..8).chain(16..24).collect();
                let high: Vec<u8> = (8..16).chain(24..32).collect();
                let mut unpack = |mask: Vec<u8>| {
                    let imm = self.b.func.dfg.immediates.push(cranelift_codegen::ir::ConstantData::from(mask));
                    let v = self.b.ins().shuffle(pairs[0], pairs[1], imm);
                    self.b.ins().bitcast(types::F64X2, little, v)
                };
                (unpack(low), unpack(high))
            }
        };
        self.b.ins().fma(frac, dy, y)
    }

    fn exp(&mut self, x: Value) -> Value {
        let lo = self.konst(kmath::EXP_LO);
        let hi = self.konst(kmath::EXP_HI);
        let xc = x;
        let log2e = self.konst(kmath::LOG2E);
        let shifter = self.konst(kmath::SHIFTER);
        let t = self.b.ins().fma(xc, log2e, shifter);
        let kf = self.b.ins().fsub(t, shifter);
        let ln2hi = self.konst(kmath::LN2_HI);
        let ln2lo = self.konst(kmath::LN2_LO);
        let nk = self.b.ins().fneg(kf);
        let r0 = self.b.ins().fma(nk, ln2hi, xc);
        let r = self.b.ins().fma(nk, ln2lo, r0);
        let p = self.exp_poly(r);
        let tb = self.bits_to_int(t);
        let sb = self.int_konst(kmath::SHIFTER.to_bits() as i64);
        let ki = self.b.ins().isub(tb, sb);
        let k1023 = self.int_konst(1023);
        let kb = self.b.ins().iadd(ki, k1023);
        let sh = self.b.ins().ishl_imm_u(kb, 52);
        let scale = self.bits_to_float(sh);
        let y = self.b.ins().fmul(p, scale);
        let over = self.cmp(FloatCC::GreaterThan, x, hi);
        let inf = self.konst(f64::INFINITY);
        let y = self.select(over, inf, y);
        let under = self.cmp(FloatCC::LessThan, x, lo);
        let z = self.konst(0.0);
        self.select(under, z, y)
    }

    /// ln x, the operations of `kmath::log`.
    fn log(&mut self, x: Value) -> Value {
        let minpos = self.konst(f64::MIN_POSITIVE);
        let small = self.cmp(FloatCC::LessThan, x, minpos);
        let two54 = self.konst(kmath::TWO54);
        let xsc = self.b.ins().fmul(x, two54);
        let xs = self.select(small, xsc, x);
        let bits = self.bits_to_int(xs);
        let mant = self.int_konst(0x000f_ffff_ffff_ffff);
        let one_bits = self.int_konst(0x3ff0_0000_0000_0000);
        let mb = self.b.ins().band(bits, mant);
        let mb = self.b.ins().bor(mb, one_bits);
        let m = self.bits_to_float(mb);
        let eb = self.b.ins().ushr_imm_u(bits, 52);
        let magic = self.int_konst(0x4330_0000_0000_0000);
        let eb = self.b.ins().bor(eb, magic);
        let ebf = self.bits_to_float(eb);
        let bias = self.konst(kmath::EXP_BIAS_SHIFT);
        let e0 = self.b.ins().fsub(ebf, bias);
        let k54 = self.konst(54.0);
        let zero = self.konst(0.0);
        let adj = self.select(small, k54, zero);
        let e1 = self.b.ins().fsub(e0, adj);
        let sqrt2 = self.konst(std::f64::consts::SQRT_2);
        let big = self.cmp(FloatCC::GreaterThan, m, sqrt2);
        let half = self.konst(0.5);
        let mh = self.b.ins().fmul(m, half);
        let m = self.select(big, mh, m);
        let one = self.konst(1.0);
        let zero = self.konst(0.0);
        let inc = self.select(big, one, zero);
        let e = self.b.ins().fadd(e1, inc);
        let one = self.konst(1.0);
        let f = self.b.ins().fsub(m, one);
        let two = self.konst(2.0);
        let den = self.b.ins().fadd(two, f);
        let s = self.b.ins().fdiv(f, den);
        let z = self.b.ins().fmul(s, s);
        let p = self.log_poly(z);
        let r = self.b.ins().fmul(z, p);
        let fr = self.b.ins().fsub(f, r);
        let t = self.b.ins().fmul(s, fr);
        let nt = self.b.ins().fneg(t);
        let ln2lo = self.konst(kmath::LN2_LO);
        let lo = self.b.ins().fma(e, ln2lo, nt);
        let nlo = self.b.ins().fneg(lo);
        let inner = self.b.ins().fsub(f, nlo);
        let ln2hi = self.konst(kmath::LN2_HI);
        let y = self.b.ins().fma(e, ln2hi, inner);
        let zero = self.konst(0.0);
        let is_zero = self.cmp(FloatCC::Equal, x, zero);
        let ninf = self.konst(f64::NEG_INFINITY);
        let y = self.select(is_zero, ninf, y);
        let inf = self.konst(f64::INFINITY);
        let is_inf = self.cmp(FloatCC::Equal, x, inf);
        let inf = self.konst(f64::INFINITY);
        let y = self.select(is_inf, inf, y);
        let zero = self.konst(0.0);
        let neg = self.cmp(FloatCC::LessThan, x, zero);
        let nan = self.konst(f64::NAN);
        let y = self.select(neg, nan, y);
        let is_nan = self.cmp(FloatCC::Unordered, x, x);
        self.select(is_nan, x, y)
    }

    fn log_poly(&mut self, z: Value) -> Value {
        let c: Vec<Value> = kmath::LOG_C.iter().map(|&x| self.konst(x)).collect();
        let ins = |e: &mut Self, a: Value, m: Value, x: Value| e.b.ins().fma(m, x, a);
        let z2 = self.b.ins().fmul(z, z);
        let z4 = self.b.ins().fmul(z2, z2);
        let z8 = self.b.ins().fmul(z4, z4);
        let p01 = ins(self, c[0], c[1], z);
        let p23 = ins(self, c[2], c[3], z);
        let p45 = ins(self, c[4], c[5], z);
        let p67 = ins(self, c[6], c[7], z);
        let p89 = ins(self, c[8], c[9], z);
        let q0 = ins(self, p01, p23, z2);
        let q1 = ins(self, p45, p67, z2);
        let s0 = ins(self, q0, q1, z4);
        ins(self, s0, p89, z8)
    }

    fn exp_poly(&mut self, r: Value) -> Value {
        let c: Vec<Value> = kmath::EXP_C.iter().map(|&x| self.konst(x)).collect();
        // a + m x, fused (as f64::mul_add in kmath)
        let ins = |e: &mut Self, a: Value, m: Value, x: Value| e.b.ins().fma(m, x, a);
        let r2 = self.b.ins().fmul(r, r);
        let r4 = self.b.ins().fmul(r2, r2);
        let r8 = self.b.ins().fmul(r4, r4);
        let p01 = ins(self, c[0], c[1], r);
        let p23 = ins(self, c[2], c[3], r);
        let p45 = ins(self, c[4], c[5], r);
        let p67 = ins(self, c[6], c[7], r);
        let p89 = ins(self, c[8], c[9], r);
        let pab = ins(self, c[10], c[11], r);
        let pcd = ins(self, c[12], c[13], r);
        let q0 = ins(self, p01, p23, r2);
        let q1 = ins(self, p45, p67, r2);
        let q2 = ins(self, p89, pab, r2);
        let s0 = ins(self, q0, q1, r4);
        let s1 = ins(self, q2, pcd, r4);
        ins(self, s0, s1, r8)
    }

    fn inst(&mut self, inst: &Inst) -> Value {
        match *inst {
            Inst::Const(c) => self.konst(c),
            Inst::Neg(a) => {
                let a = self.v(a);
                self.b.ins().fneg(a)
            }
            Inst::Add(a, c) => {
                let (a, c) = (self.v(a), self.v(c));
                self.b.ins().fadd(a, c)
            }
            Inst::Sub(a, c) => {
                let (a, c) = (self.v(a), self.v(c));
                self.b.ins().fsub(a, c)
            }
            Inst::Mul(a, c) => {
                let (a, c) = (self.v(a), self.v(c));
                self.b.ins().fmul(a, c)
            }
            Inst::Div(a, c) => {
                let (a, c) = (self.v(a), self.v(c));
                self.b.ins().fdiv(a, c)
            }
            Inst::Min(a, c) => {
                let (a, c) = (self.v(a), self.v(c));
                self.b.ins().fmin(a, c)
            }
            Inst::Max(a, c) => {
                let (a, c) = (self.v(a), self.v(c));
                self.b.ins().fmax(a, c)
            }
            Inst::Sqrt(a) => {
                let a = self.v(a);
                self.b.ins().sqrt(a)
            }
            Inst::Abs(a) => {
                let a = self.v(a);
                self.b.ins().fabs(a)
            }
            Inst::Exp(a) => {
                let a = self.v(a);
                self.exp(a)
            }
            Inst::Log(a) => {
                let a = self.v(a);
                self.log(a)
            }
            Inst::Efun(a) => {
                // |u| < 1e-4 ? 1 - u/2 + u^2/12 : u / (e^u - 1)
                let u = self.v(a);
                let e = self.exp(u);
                let one = self.konst(1.0);
                let em1 = self.b.ins().fsub(e, one);
                let direct = self.b.ins().fdiv(u, em1);
                let half = self.konst(0.5);
                let uh = self.b.ins().fmul(u, half);
                let s0 = self.b.ins().fsub(one, uh);
                let uu = self.b.ins().fmul(u, u);
                let twelfth = self.konst(1.0 / 12.0);
                let q = self.b.ins().fmul(uu, twelfth);
                let series = self.b.ins().fadd(s0, q);
                let au = self.b.ins().fabs(u);
                let small_c = self.konst(kmath::EFUN_SMALL);
                let small = self.cmp(FloatCC::LessThan, au, small_c);
                self.select(small, series, direct)
            }
            Inst::Step(a) => {
                let x = self.v(a);
                let z = self.konst(0.0);
                let one = self.konst(1.0);
                let ge = self.cmp(FloatCC::GreaterThanOrEqual, x, z);
                self.select(ge, one, z)
            }
            Inst::Cmp(c, a, d) => {
                let (a, d) = (self.v(a), self.v(d));
                let cc = match c {
                    Cmp::Lt => FloatCC::LessThan,
                    Cmp::Le => FloatCC::LessThanOrEqual,
                    Cmp::Gt => FloatCC::GreaterThan,
                    Cmp::Ge => FloatCC::GreaterThanOrEqual,
                    Cmp::Eq => FloatCC::Equal,
                    Cmp::Ne => FloatCC::NotEqual,
                };
                self.cmp(cc, a, d)
            }
            Inst::And(a, c) => {
                let (a, c) = (self.v(a), self.v(c));
                self.b.ins().band(a, c)
            }
            Inst::Or(a, c) => {
                let (a, c) = (self.v(a), self.v(c));
                self.b.ins().bor(a, c)
            }
            Inst::Not(a) => {
                let a = self.v(a);
                match self.lanes {
                    Lanes::One => self.b.ins().bxor_imm_u(a, 1),
                    Lanes::Two => self.b.ins().bnot(a),
                }
            }
            Inst::Select(m, a, c) => {
                let (m, a, c) = (self.v(m), self.v(a), self.v(c));
                self.select(m, a, c)
            }
            Inst::State(_) | Inst::Param(_) | Inst::Time | Inst::TimeNext | Inst::Lookup { .. } => self.konst(f64::NAN),
        }
    }
}
