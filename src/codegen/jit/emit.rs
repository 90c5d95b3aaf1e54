//! The instructions of a kernel in Cranelift IR, for one group of one or
//! two neurons: arithmetic, masks, and `exp`, `log`, `efun` and table
//! lookups inlined as the operations of [`kmath`] and [`table`].

use crate::kernel::{kmath, table, Cmp, Inst, Val};
use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, Block, Endianness, GlobalValue, InstBuilder, MemFlagsData, Type, Value};
use cranelift_frontend::FunctionBuilder;
use std::collections::HashMap;

/// One neuron (scalars) or two (`f64x2` vectors) per group.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Lanes {
    One,
    Two,
}

impl Lanes {
    pub fn num(self) -> Type {
        match self {
            Lanes::One => types::F64,
            Lanes::Two => types::F64X2,
        }
    }
    pub fn int(self) -> Type {
        match self {
            Lanes::One => types::I64,
            Lanes::Two => types::I64X2,
        }
    }
}

/// Emits instructions for the groups of a loop body, one group at a time.
/// Where a rate table lies: at an address known now (the JIT), or at a
/// data symbol the linker places (an object file).
#[derive(Clone, Copy)]
pub(super) enum TableBase {
    Address(i64),
    Symbol(GlobalValue),
}

pub(super) struct Emitter<'a, 'b> {
    pub b: &'a mut FunctionBuilder<'b>,
    pub lanes: Lanes,
    /// The group being emitted, and each group's values of the
    /// instructions from `start` on (those of the function's piece).
    pub g: usize,
    pub vals: Vec<Vec<Value>>,
    pub start: usize,
    /// In a segment, each group's values of operands not at hand: read
    /// again (leaves) or from a slot, at the instruction given, and
    /// reused within [`WINDOW`](crate::kernel::segment::WINDOW) of it.
    pub resolved: Vec<HashMap<Val, (Value, usize)>>,
    /// (table address, argument, group) -> the fraction within the row and
    /// each lane's row address: computed once for all of a table's columns.
    pub located: HashMap<(usize, Val, usize), (Value, Vec<Value>)>,
    /// The kernel's instructions, to see which operands are constants.
    pub insts: &'a [Inst],
    /// The constant pool's address and each constant's offset in it.
    pub pool: Option<(Value, Vec<i32>)>,
    /// The constants loaded lately: the value, its block, and the count of
    /// operands read when it was loaded.
    pub loaded: HashMap<Val, (Value, Block, u32)>,
    pub reads: u32,
}

/// Operands read within which a constant loaded for one group serves the
/// next: the groups of a body are emitted instruction by instruction.
const SHARED_WITHIN: u32 = 4;

impl Emitter<'_, '_> {
    pub fn v(&self, x: u32) -> Value {
        match self.resolved[self.g].get(&x) {
            Some(&(v, _)) => v,
            None => self.vals[self.g][x as usize - self.start],
        }
    }

    /// The operands of a commutative operation, a constant second: x86
    /// then reads it from the constant pool as the instruction's memory
    /// operand, with no load and no register of its own.
    fn commuted(&mut self, a: Val, c: Val) -> (Value, Value) {
        let konst = |x: Val| matches!(self.insts.get(x as usize), Some(Inst::Const(_)));
        if konst(a) && !konst(c) {
            let x = self.v(c);
            (x, self.arg(a))
        } else {
            self.args(a, c)
        }
    }

    /// Operand `x` of an instruction emitted next. A constant of a vector
    /// body is loaded from the pool here, just before its one use, so
    /// Cranelift folds the load into the instruction (a memory operand)
    /// where x86 allows one, and no constant holds a register meanwhile.
    fn arg(&mut self, x: Val) -> Value {
        self.reads += 1;
        if let (Lanes::Two, Some((base, offsets))) = (self.lanes, &self.pool) {
            if let Some(&off) = offsets.get(x as usize).filter(|&&off| off >= 0) {
                let (base, block) = (*base, self.b.current_block());
                if let Some(&(value, at, read)) = self.loaded.get(&x) {
                    if Some(at) == block && self.reads - read <= SHARED_WITHIN {
                        return value;
                    }
                }
                let flags = MemFlagsData::new().with_notrap().with_readonly();
                let value = self.b.ins().load(types::F64X2, flags, base, off);
                if let Some(block) = block {
                    self.loaded.insert(x, (value, block, self.reads));
                }
                return value;
            }
        }
        self.v(x)
    }

    /// Two operands, the second loaded last (see [`Self::arg`]).
    fn args(&mut self, a: Val, c: Val) -> (Value, Value) {
        let a = self.arg(a);
        (a, self.arg(c))
    }

    pub fn konst(&mut self, c: f64) -> Value {
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

    pub fn int_konst(&mut self, c: i64) -> Value {
        let s = self.b.ins().iconst(types::I64, c);
        match self.lanes {
            Lanes::One => s,
            Lanes::Two => self.b.ins().splat(types::I64X2, s),
        }
    }

    pub fn bits_to_int(&mut self, x: Value) -> Value {
        let f = MemFlagsData::new().with_endianness(Endianness::Little);
        self.b.ins().bitcast(self.lanes.int(), f, x)
    }

    pub fn bits_to_float(&mut self, x: Value) -> Value {
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
    pub fn lookup(&mut self, t: &table::Table, (index, base): (usize, TableBase), at: Val, col: u32) -> Value {
        let flags = MemFlagsData::new().with_notrap().with_readonly();
        let key = (index, at, self.g);
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
                let base = match base {
                    TableBase::Address(addr) => self.b.ins().iconst(types::I64, addr),
                    TableBase::Symbol(gv) => self.b.ins().symbol_value(types::I64, gv),
                };
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

    pub fn inst(&mut self, inst: &Inst) -> Value {
        match *inst {
            Inst::Const(c) => self.konst(c),
            Inst::Neg(a) => {
                let a = self.v(a);
                self.b.ins().fneg(a)
            }
            Inst::Add(a, c) => {
                let (a, c) = self.commuted(a, c);
                self.b.ins().fadd(a, c)
            }
            Inst::Sub(a, c) => {
                let (a, c) = self.args(a, c);
                self.b.ins().fsub(a, c)
            }
            Inst::Mul(a, c) => {
                let (a, c) = self.commuted(a, c);
                self.b.ins().fmul(a, c)
            }
            Inst::Div(a, c) => {
                let (a, c) = self.args(a, c);
                self.b.ins().fdiv(a, c)
            }
            Inst::Min(a, c) => {
                let (a, c) = self.args(a, c);
                self.b.ins().fmin(a, c)
            }
            Inst::Max(a, c) => {
                let (a, c) = self.args(a, c);
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
                let (a, d) = self.args(a, d);
                let cc = match c {
                    Cmp::Lt => FloatCC::LessThan,
                    Cmp::Le => FloatCC::LessThanOrEqual,
                    Cmp::Gt => FloatCC::GreaterThan,
                    Cmp::Ge => FloatCC::GreaterThanOrEqual,
                    Cmp::Eq => FloatCC::Equal,
                    Cmp::Ne => FloatCC::NotEqual,
                    Cmp::NotLt => FloatCC::UnorderedOrGreaterThanOrEqual,
                    Cmp::NotGt => FloatCC::UnorderedOrLessThanOrEqual,
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
                let m = self.v(m);
                let (a, c) = self.args(a, c);
                self.select(m, a, c)
            }
            Inst::MulAdd(a, m, c) => {
                let (a, m, c) = (self.v(a), self.v(m), self.v(c));
                self.b.ins().fma(a, m, c)
            }
            Inst::State(_) | Inst::Param(_) | Inst::Time | Inst::TimeNext | Inst::Lookup { .. } => self.konst(f64::NAN),
        }
    }
}
