//! One native function: the loop over neurons (four, then two, then one
//! at a time) and its bodies, for a whole kernel or for one segment.
//!
//! A segment's function takes one more argument, the scratch block: slot
//! `s` of neuron `i` of the chunk at `scratch + 8 (s CHUNK + i)`. It reads
//! the values of earlier segments from their slots (a leaf such as a state
//! or a constant is read again instead), stores the values later segments
//! read into theirs, stores each state where [`segment::cut`] says (after
//! the last instruction that needs its old value), and only the last
//! segment writes the spikes. Every segment runs the same loop over the same
//! neurons, so a neuron takes the same path (vector or scalar) in each and
//! a mask comes back in the form it was stored (i64x2 lanes of all ones,
//! or a scalar widened to i64).

use super::emit::{Emitter, Lanes, TableBase};
use super::lazy::Class;
use crate::kernel::{operands, segment, Inst, Kernel, Val};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, BlockArg, InstBuilder, MemFlagsData, Value};
use cranelift_frontend::FunctionBuilder;
use std::collections::HashMap;
use std::ops::Range;

/// Neurons a segmented kernel advances through all its segments at once:
/// the scratch block holds this many values per slot.
pub const CHUNK: usize = 64;

/// What one function computes: a whole kernel, or one of its segments.
pub(super) struct Piece<'k> {
    pub k: &'k Kernel,
    pub insts: Range<usize>,
    /// The slot of each value it reads from an earlier segment.
    pub imports: HashMap<Val, u32>,
    /// The slot of each of its values a later segment reads (indexed from
    /// `insts.start`).
    pub exports: Vec<Option<u32>>,
    /// The states it stores, each after an instruction (the kernel's
    /// length: at the end), in that order.
    pub stores: &'k [(u32, usize)],
    /// Whether it writes the spikes.
    pub finishes: bool,
    /// Whether it is a segment: a scratch block after the usual
    /// arguments, the arrays' addresses read where they are used.
    pub segment: bool,
    /// A whole kernel's split around its events ([`super::lazy`]).
    pub lazy: Option<Vec<Class>>,
}

/// The arrays' addresses: loaded once at entry (a whole kernel), or read
/// from the table of pointers at each body that uses them (a segment, so
/// that hundreds of addresses are not kept live through the loop).
enum Arrays {
    Loaded(Vec<Value>),
    Table(Value),
}

/// The function's pointers and time, shared by every body.
struct Ptrs<'a> {
    states: Arrays,
    params: Arrays,
    t: Value,
    t_next: Value,
    /// `t` and `t_next` in both lanes, splatted once before the loop.
    t2: Value,
    t_next2: Value,
    sidx: Value,
    stime: Value,
    /// Where each rate table lies.
    tables: &'a [TableBase],
    scratch: Option<Value>,
    /// The constant pool's address.
    pool: Option<Value>,
}

pub(super) fn emit_function(b: &mut FunctionBuilder, piece: &Piece, tables: &[TableBase]) {
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
    let k = piece.k;
    let flags = MemFlagsData::new().with_notrap();
    let (states, params) = if piece.segment {
        (Arrays::Table(states_pp), Arrays::Table(params_pp))
    } else {
        let state_ptrs: Vec<Value> =
            (0..k.states.len()).map(|s| b.ins().load(types::I64, flags, states_pp, (8 * s) as i32)).collect();
        let param_ptrs: Vec<Value> =
            (0..k.params.len()).map(|s| b.ins().load(types::I64, flags, params_pp, (8 * s) as i32)).collect();
        (Arrays::Loaded(state_ptrs), Arrays::Loaded(param_ptrs))
    };
    let scratch = p.get(7).copied().filter(|_| piece.segment);
    // the constant pool's address, in a register through the loop
    let pool = match tables.last() {
        Some(TableBase::Address(a)) => Some(b.ins().iconst(types::I64, *a)),
        Some(TableBase::Symbol(gv)) => Some(b.ins().symbol_value(types::I64, *gv)),
        None => None,
    };

    let t2 = b.ins().splat(types::F64X2, t);
    let t_next2 = b.ins().splat(types::F64X2, t_next);
    let ptrs = Ptrs { states, params, t, t_next, t2, t_next2, sidx, stime, tables, scratch, pool };
    let zero = b.ins().iconst(types::I64, 0);
    b.ins().jump(head4, &[arg(zero), arg(zero)]);

    // Four neurons at a time: two independent f64x2 groups, interleaved
    // instruction by instruction so the CPU can overlap their latencies.
    b.switch_to_block(head4);
    let next4 = b.ins().iadd_imm_s(i4, 4);
    let room4 = b.ins().icmp(IntCC::SignedLessThanOrEqual, next4, n);
    b.ins().brif(room4, body4, &[], head2, &[arg(i4), arg(c4)]);
    b.switch_to_block(body4);
    let count = emit_body(b, piece, Lanes::Two, 2, i4, c4, &ptrs);
    b.ins().jump(head4, &[arg(next4), arg(count)]);

    // Then two, then one.
    b.switch_to_block(head2);
    let next2 = b.ins().iadd_imm_s(ih2, 2);
    let room2 = b.ins().icmp(IntCC::SignedLessThanOrEqual, next2, n);
    b.ins().brif(room2, body2, &[], tail_check, &[arg(ih2), arg(ch2)]);
    b.switch_to_block(body2);
    let count = emit_body(b, piece, Lanes::Two, 1, ih2, ch2, &ptrs);
    b.ins().jump(tail_check, &[arg(next2), arg(count)]);

    b.switch_to_block(tail_check);
    let more = b.ins().icmp(IntCC::SignedLessThan, it, n);
    b.ins().brif(more, tail_body, &[], exit, &[arg(ct)]);
    b.switch_to_block(tail_body);
    let count = emit_body(b, piece, Lanes::One, 1, it, ct, &ptrs);
    b.ins().jump(exit, &[arg(count)]);

    b.switch_to_block(exit);
    b.ins().return_(&[c_exit]);
    b.seal_all_blocks();
}

/// Addresses within one body: each group's byte offset, and (for
/// segments) the arrays' and the scratch block's addresses read so far.
struct Addresses {
    offsets: Vec<Value>,
    /// (parameter array?, index) -> address.
    arrays: HashMap<(bool, u32), Value>,
    scratch: Vec<Option<Value>>,
}

impl Addresses {
    fn array(&mut self, b: &mut FunctionBuilder, arrays: &Arrays, param: bool, s: u32) -> Value {
        match arrays {
            Arrays::Loaded(ptrs) => ptrs[s as usize],
            Arrays::Table(pp) => *self.arrays.entry((param, s)).or_insert_with(|| {
                let flags = MemFlagsData::new().with_notrap();
                b.ins().load(types::I64, flags, *pp, (8 * s) as i32)
            }),
        }
    }

    /// Group `g`'s first neuron in the array at `base`: the address of
    /// group 0's, and how many bytes further (one register for every
    /// group's index, the groups told apart by the displacement).
    fn element(&self, b: &mut FunctionBuilder, base: Value, g: usize, lanes: Lanes) -> (Value, i32) {
        let width = if lanes == Lanes::Two { 2 } else { 1 };
        (b.ins().iadd(base, self.offsets[0]), (g * width * 8) as i32)
    }

    /// Group `g`'s first neuron in the scratch block.
    fn scratch(&mut self, b: &mut FunctionBuilder, p: &Ptrs, g: usize) -> Value {
        let base = p.scratch.expect("a segment's function has a scratch block"); // ok: Piece::segment set with it
        *self.scratch[g].get_or_insert_with(|| b.ins().iadd(base, self.offsets[g]))
    }
}

/// The byte offset of a slot within the scratch block.
fn slot_offset(slot: u32) -> i32 {
    (slot as usize * CHUNK * 8) as i32 // ok: compile checks the slot count fits
}

/// A leaf read from memory or the arguments, for group `e.g`.
fn leaf(e: &mut Emitter, p: &Ptrs, at: &mut Addresses, inst: &Inst) -> Option<Value> {
    let flags = MemFlagsData::new().with_notrap();
    Some(match *inst {
        Inst::State(s) => {
            let base = at.array(e.b, &p.states, false, s);
            let (addr, disp) = at.element(e.b, base, e.g, e.lanes);
            e.b.ins().load(e.lanes.num(), flags, addr, disp)
        }
        Inst::Param(s) => {
            let base = at.array(e.b, &p.params, true, s);
            let (addr, disp) = at.element(e.b, base, e.g, e.lanes);
            e.b.ins().load(e.lanes.num(), flags, addr, disp)
        }
        Inst::Time => match e.lanes {
            Lanes::One => p.t,
            Lanes::Two => p.t2,
        },
        Inst::TimeNext => match e.lanes {
            Lanes::One => p.t_next,
            Lanes::Two => p.t_next2,
        },
        _ => return None,
    })
}

/// In a segment, makes operand `o` of instruction `u` available to group
/// `e.g`: at hand if computed in this segment within the window, else read
/// again (a leaf) or loaded from its slot, once per window.
fn operand(e: &mut Emitter, piece: &Piece, p: &Ptrs, at: &mut Addresses, o: Val, u: usize) {
    let d = o as usize;
    let start = piece.insts.start;
    if d >= start && !segment::through_slot(d, u, true) {
        return;
    }
    if let Some(&(_, since)) = e.resolved[e.g].get(&o) {
        if u - since <= segment::WINDOW {
            return;
        }
    }
    let inst = &piece.k.insts[d];
    let value = match leaf(e, p, at, inst) {
        Some(x) => x,
        None if matches!(inst, Inst::Const(_)) => e.inst(inst),
        None => {
            let slot = if d >= start { piece.exports[d - start] } else { piece.imports.get(&o).copied() };
            let slot = slot.expect("a value read from afar has a slot"); // ok: segment::cut gives it one
            let flags = MemFlagsData::new().with_notrap();
            let base = at.scratch(e.b, p, e.g);
            let off = slot_offset(slot);
            match (inst.is_mask(), e.lanes) {
                (true, Lanes::One) => {
                    let wide = e.b.ins().load(types::I64, flags, base, off);
                    e.b.ins().icmp_imm_s(IntCC::NotEqual, wide, 0)
                }
                (true, Lanes::Two) => e.b.ins().load(types::I64X2, flags, base, off),
                (false, lanes) => e.b.ins().load(lanes.num(), flags, base, off),
            }
        }
    };
    e.resolved[e.g].insert(o, (value, u));
}

/// Stores group `e.g`'s value of `inst` into `slot`.
fn export(e: &mut Emitter, p: &Ptrs, at: &mut Addresses, inst: &Inst, value: Value, slot: u32) {
    let flags = MemFlagsData::new().with_notrap();
    let base = at.scratch(e.b, p, e.g);
    let stored = match (inst.is_mask(), e.lanes) {
        (true, Lanes::One) => e.b.ins().uextend(types::I64, value),
        _ => value,
    };
    e.b.ins().store(flags, stored, base, slot_offset(slot));
}

/// Each constant's byte offset in [`jit::constant_pool`](super::constant_pool)
/// (-1 for other instructions).
fn pool_offsets(k: &Kernel) -> Vec<i32> {
    let mut next = 0;
    k.insts
        .iter()
        .map(|inst| match inst {
            Inst::Const(_) => {
                next += 16;
                next - 16
            }
            _ => -1,
        })
        .collect()
}

/// Emits the piece for `groups` groups of `lanes` neurons starting at
/// index `i`; returns the new spike count.
fn emit_body(
    b: &mut FunctionBuilder,
    piece: &Piece,
    lanes: Lanes,
    groups: usize,
    i: Value,
    count: Value,
    p: &Ptrs,
) -> Value {
    let k = piece.k;
    let width = if lanes == Lanes::Two { 2 } else { 1 };
    let offsets: Vec<Value> = (0..groups)
        .map(|g| {
            let ig = b.ins().iadd_imm_s(i, (g * width) as i64);
            b.ins().ishl_imm_u(ig, 3)
        })
        .collect();
    let mut at = Addresses { offsets, arrays: HashMap::new(), scratch: vec![None; groups] };
    let mut e = Emitter {
        b,
        lanes,
        g: 0,
        vals: vec![Vec::with_capacity(piece.insts.len()); groups],
        start: piece.insts.start,
        resolved: vec![HashMap::new(); groups],
        located: HashMap::new(),
        insts: &k.insts,
        pool: p.pool.map(|base| (base, pool_offsets(k))),
        loaded: HashMap::new(),
        reads: 0,
    };
    if let Some(classes) = &piece.lazy {
        return emit_split(&mut e, piece, p, &mut at, classes, (i, count));
    }
    let mut stored = 0;
    for v in piece.insts.clone() {
        let inst = &k.insts[v];
        let here = stored;
        while stored < piece.stores.len() && piece.stores[stored].1 == v {
            stored += 1;
        }
        for g in 0..groups {
            e.g = g;
            if piece.segment {
                for o in operands(inst) {
                    operand(&mut e, piece, p, &mut at, o, v);
                }
            }
            let value = match leaf(&mut e, p, &mut at, inst) {
                Some(x) => x,
                None => match *inst {
                    Inst::Lookup { table, col, at: arg } => {
                        e.lookup(&k.tables[table as usize], (table as usize, p.tables[table as usize]), arg, col)
                    }
                    ref other => e.inst(other),
                },
            };
            if let Some(slot) = piece.exports[v - piece.insts.start] {
                export(&mut e, p, &mut at, inst, value, slot);
            }
            e.vals[g].push(value);
            for &(s, _) in &piece.stores[here..stored] {
                store(&mut e, piece, p, &mut at, s, v);
            }
        }
    }
    for g in 0..groups {
        e.g = g;
        for &(s, _) in &piece.stores[stored..] {
            store(&mut e, piece, p, &mut at, s, piece.insts.end);
        }
    }
    if piece.finishes {
        consume(&mut e, piece, p, &mut at);
        finish(&mut e, piece, p, &mut at, i, count)
    } else {
        count
    }
}

/// Emits group `e.g`'s value of instruction `v` of a whole kernel.
fn emit_one(e: &mut Emitter, k: &Kernel, p: &Ptrs, at: &mut Addresses, v: usize) {
    let inst = k.insts[v];
    let value = match leaf(e, p, at, &inst) {
        Some(x) => x,
        None => match inst {
            Inst::Lookup { table, col, at: arg } => {
                e.lookup(&k.tables[table as usize], (table as usize, p.tables[table as usize]), arg, col)
            }
            ref other => e.inst(other),
        },
    };
    e.vals[e.g][v] = value;
}

/// A whole kernel split around its events ([`super::lazy`]): the eager
/// instructions; a branch on whether any lane of the body fires; in the
/// firing block the lazy instructions, the gated selects and the spikes;
/// in the other the selects' second operands; where they meet, the rest
/// and the stores.
fn emit_split(
    e: &mut Emitter,
    piece: &Piece,
    p: &Ptrs,
    at: &mut Addresses,
    classes: &[Class],
    (i, count): (Value, Value),
) -> Value {
    let k = piece.k;
    let groups = at.offsets.len();
    let n = k.insts.len();
    for g in 0..groups {
        e.vals[g] = vec![Value::from_u32(u32::MAX); n];
    }
    let each = |e: &mut Emitter, at: &mut Addresses, class: Class| {
        for v in (0..n).filter(|&v| classes[v] == class) {
            for g in 0..groups {
                e.g = g;
                emit_one(e, k, p, at, v);
            }
        }
    };
    let (early, firing_only) = store_places(k, classes);
    // the eager part, each early store as soon as its value and every
    // read of the state are emitted (the value then holds no register)
    for v in (0..n).filter(|&v| classes[v] == Class::Eager) {
        for g in 0..groups {
            e.g = g;
            emit_one(e, k, p, at, v);
        }
        for (s, _) in early.iter().enumerate().filter(|&(_, &at_v)| at_v == Some(v)) {
            for g in 0..groups {
                e.g = g;
                store(e, piece, p, at, s as u32, piece.insts.end);
            }
        }
    }
    // does any lane of any group fire an event?
    // (the masks of every group and event or-ed, then one test)
    let mut any: Option<Value> = None;
    for g in 0..groups {
        e.g = g;
        for ev in &k.events {
            let mask = e.v(ev.fire);
            any = Some(match any {
                None => mask,
                Some(a) => e.b.ins().bor(a, mask),
            });
        }
    }
    let any = any.expect("a split kernel has events"); // ok: lazy::plan requires them
    let any = match e.lanes {
        Lanes::One => any,
        Lanes::Two => e.b.ins().vany_true(any),
    };
    let gated: Vec<usize> = (0..n).filter(|&v| classes[v] == Class::Gated).collect();
    let firing = e.b.create_block();
    let quiet = e.b.create_block();
    let meet = e.b.create_block();
    let num = e.lanes.num();
    for _ in 0..gated.len() * groups {
        e.b.append_block_param(meet, num);
    }
    let count_at_meet = e.b.append_block_param(meet, types::I64);
    e.b.ins().brif(any, firing, &[], quiet, &[]);
    // firing: the lazy part, the selects, the spikes
    e.b.switch_to_block(firing);
    let located = e.located.clone();
    each(e, at, Class::Lazy);
    each(e, at, Class::Gated);
    for s in (0..k.stores.len()).filter(|&s| firing_only[s]) {
        for g in 0..groups {
            e.g = g;
            store(e, piece, p, at, s as u32, piece.insts.end);
        }
    }
    let fired = if piece.finishes { finish(e, piece, p, at, i, count) } else { count };
    let mut args: Vec<BlockArg> = Vec::new();
    for &v in &gated {
        for g in 0..groups {
            args.push(BlockArg::Value(e.vals[g][v]));
        }
    }
    args.push(BlockArg::Value(fired));
    e.b.ins().jump(meet, &args);
    // values the firing block computed do not reach the others
    e.located = located;
    // quiet: each select's second operand
    e.b.switch_to_block(quiet);
    let mut args: Vec<BlockArg> = Vec::new();
    for &v in &gated {
        // a chain of gated selects (several events) ends at an eager value
        let mut other = v;
        while classes[other] == Class::Gated {
            let Inst::Select(_, _, b) = k.insts[other] else { unreachable!("a gated instruction is a select") }; // ok: lazy::plan
            other = b as usize;
        }
        for g in 0..groups {
            e.g = g;
            args.push(BlockArg::Value(e.v(other as u32)));
        }
    }
    args.push(BlockArg::Value(count));
    e.b.ins().jump(meet, &args);
    // where they meet
    e.b.switch_to_block(meet);
    let params = e.b.block_params(meet).to_vec();
    for (j, &v) in gated.iter().enumerate() {
        for g in 0..groups {
            e.vals[g][v] = params[j * groups + g];
        }
    }
    each(e, at, Class::After);
    for g in 0..groups {
        e.g = g;
        for &(s, _) in piece.stores.iter().filter(|&&(s, _)| early[s as usize].is_none() && !firing_only[s as usize]) {
            store(e, piece, p, at, s, piece.insts.end);
        }
    }
    consume(e, piece, p, at);
    count_at_meet
}

/// Where a split kernel stores each state, if not where the two blocks
/// meet: eagerly, after instruction `Some(v)`, when its new value is eager
/// and every read of the state is eager and at or before `v`; or only in
/// the firing block, when a neuron that does not fire keeps the value it
/// has (a gated select whose other operand is the state itself).
fn store_places(k: &Kernel, classes: &[Class]) -> (Vec<Option<usize>>, Vec<bool>) {
    let reads =
        |s: usize| k.insts.iter().enumerate().filter(move |(_, i)| **i == Inst::State(s as u32)).map(|(v, _)| v);
    let early = (0..k.stores.len())
        .map(|s| {
            let value = k.stores[s] as usize;
            if classes[value] != Class::Eager || reads(s).any(|v| classes[v] != Class::Eager) {
                return None;
            }
            Some(reads(s).fold(value, usize::max))
        })
        .collect();
    let firing_only = (0..k.stores.len())
        .map(|s| {
            let mut other = k.stores[s] as usize;
            if classes[other] != Class::Gated {
                return false;
            }
            while classes[other] == Class::Gated {
                let Inst::Select(_, _, b) = k.insts[other] else { return false };
                other = b as usize;
            }
            k.insts[other] == Inst::State(s as u32)
        })
        .collect();
    (early, firing_only)
}

/// Stores group `e.g`'s new value of state `s`, read at instruction `u`.
fn store(e: &mut Emitter, piece: &Piece, p: &Ptrs, at: &mut Addresses, s: u32, u: usize) {
    let v = piece.k.stores[s as usize];
    if piece.segment {
        operand(e, piece, p, at, v, u);
    }
    let base = at.array(e.b, &p.states, false, s);
    let (addr, disp) = at.element(e.b, base, e.g, e.lanes);
    let val = e.v(v);
    e.b.ins().store(MemFlagsData::new().with_notrap(), val, addr, disp);
}

/// The last piece's zeros over the inputs the kernel consumes
/// ([`Kernel::consumed`]), after every read of them (earlier segments run
/// before it on the same neurons).
fn consume(e: &mut Emitter, piece: &Piece, p: &Ptrs, at: &mut Addresses) {
    let k = piece.k;
    let groups = at.offsets.len();
    // one zero for every store (Cranelift makes each constant anew)
    let zero = e.konst(0.0);
    for s in k.params.len().saturating_sub(k.consumed)..k.params.len() {
        for g in 0..groups {
            e.g = g;
            let base = at.array(e.b, &p.params, true, s as u32);
            let (addr, disp) = at.element(e.b, base, g, e.lanes);
            e.b.ins().store(MemFlagsData::new().with_notrap(), zero, addr, disp);
        }
    }
}

/// The last piece's spikes, written as a compact list without branches:
/// every lane stores, the count advances by its fire bit.
fn finish(e: &mut Emitter, piece: &Piece, p: &Ptrs, at: &mut Addresses, i: Value, count: Value) -> Value {
    let k = piece.k;
    let flags = MemFlagsData::new().with_notrap();
    let width = if e.lanes == Lanes::Two { 2 } else { 1 };
    let groups = at.offsets.len();
    let mut count = count;
    for g in 0..groups {
        e.g = g;
        for ev in k.events.iter().filter(|ev| ev.emits) {
            if piece.segment {
                operand(e, piece, p, at, ev.fire, piece.insts.end);
                operand(e, piece, p, at, ev.time, piece.insts.end);
            }
            let fire = e.v(ev.fire);
            let time = e.v(ev.time);
            for lane in 0..width {
                let (bit, tl) = if e.lanes == Lanes::Two {
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
