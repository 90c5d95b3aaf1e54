//! Segments: a big kernel cut into consecutive pieces of bounded weight,
//! so that a back end whose cost grows faster than linearly in the size of
//! a function (Cranelift's register allocator) compiles several small
//! functions instead of one huge one.
//!
//! Input: a [`Kernel`] and a weight limit. Output: [`Segments`]: contiguous
//! ranges of the instruction list in order, each with the values it reads
//! from earlier segments (`imports`) and the values it computes that later
//! segments read (`exports`), each such value in a numbered scratch slot,
//! and the states it stores (`stores`). The last segment also tests the
//! events.
//!
//! In a cut kernel a state is stored as soon as that is safe: right after
//! the later of the instruction that computes its new value and the last
//! instruction that reads its old one (every block reads the old state,
//! and a segment reads a state again from its array rather than through a
//! slot, so no instruction after the store may read it). A state whose new
//! value is itself a leaf, or whose old value the events read, is stored
//! at the end. So a new value does not wait in a slot for the last
//! segment: with the stores at the end, a model of 10,000 independent
//! states made a last function of 10,000 loads and stores that took the
//! register allocator longer than all the others together, growing as
//! its square.
//!
//! Invariants: a kernel whose weight is within the limit is one segment
//! with no imports or exports; leaves (`Const`, `State`, `Param`, `Time`,
//! `TimeNext`) are never passed through a slot, a segment reads them
//! again; a value read more than [`WINDOW`] instructions after it was
//! computed goes through a slot even within its segment; a slot is reused
//! only by a value exported after the last segment that reads its previous
//! value; no instruction after a state's store reads that state (a kernel
//! within the limit stores every state at the end, in order); cutting, the
//! lists and the slots are linear in the kernel's size (a value is stored
//! once, and loaded at most once per read).

use super::{operands, Inst, Kernel, Val};
use std::ops::Range;

/// The default weight of a segment: about this many back-end
/// instructions per neuron (see [`weight`]). Measured on a network of 80
/// Wilson-Cowan units (62,000 instructions): 500 to 2000 compile within
/// 20% of each other and run within 10%, 4000 and more compile slower.
pub const SEGMENT_WEIGHT: usize = 2000;

/// About how many back-end instructions an instruction becomes: the
/// inlined math functions are polynomials, a table lookup locates a row.
pub fn weight(inst: &Inst) -> usize {
    match inst {
        Inst::Exp(_) => 45,
        Inst::Log(_) => 60,
        Inst::Efun(_) => 60,
        Inst::Lookup { .. } => 12,
        Inst::Step(_) => 4,
        _ => 1,
    }
}

/// How far back (in instructions) a segment reads a value it holds; from
/// further it reads the value again (a leaf) or from its slot, so that no
/// value stays live across a whole segment (a state read by every
/// equation would, and the register allocator's work with it).
pub const WINDOW: usize = 64;

/// Whether a value is read again rather than passed between segments.
pub fn is_leaf(inst: &Inst) -> bool {
    matches!(inst, Inst::Const(_) | Inst::State(_) | Inst::Param(_) | Inst::Time | Inst::TimeNext)
}

/// One segment of a kernel.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    /// The instructions it computes.
    pub insts: Range<usize>,
    /// Values of earlier segments it reads, with their slots, in order of
    /// first reading.
    pub imports: Vec<(Val, u32)>,
    /// Values it computes that later segments (or the stores and events)
    /// read, or that it reads itself from afar, with their slots, in order.
    pub exports: Vec<(Val, u32)>,
    /// The states it stores, each with the instruction after which it is
    /// stored (the kernel's length: at the end, after the last
    /// instruction), in that order.
    pub stores: Vec<(u32, usize)>,
}

/// A kernel's segments and the number of scratch slots they pass values
/// through.
#[derive(Clone, Debug, PartialEq)]
pub struct Segments {
    pub list: Vec<Segment>,
    pub slots: usize,
}

/// Cuts `k` before an instruction that would take a segment's weight over
/// `limit` (a segment holds at least one instruction).
pub fn cut(k: &Kernel, limit: usize) -> Segments {
    let n = k.insts.len();
    // the segment of each instruction
    let mut seg_of = vec![0u32; n];
    let mut ranges: Vec<Range<usize>> = Vec::new();
    let (mut begin, mut acc) = (0, 0);
    for (i, inst) in k.insts.iter().enumerate() {
        let w = weight(inst);
        if acc > 0 && acc + w > limit {
            ranges.push(begin..i);
            begin = i;
            acc = 0;
        }
        acc += w;
        seg_of[i] = ranges.len() as u32;
    }
    ranges.push(begin..n);
    if ranges.len() == 1 {
        let stores = (0..k.stores.len() as u32).map(|s| (s, n)).collect();
        return Segments { list: vec![Segment { insts: 0..n, imports: vec![], exports: vec![], stores }], slots: 0 };
    }
    let last = (ranges.len() - 1) as u32;
    let store_after = store_points(k);
    // who reads what through a slot; the stores and events are read at the
    // end of the last segment
    let mut reads = Reads {
        seg_of: &seg_of,
        imports: vec![Vec::new(); ranges.len()],
        slotted: vec![false; n],
        last_reader: vec![0; n],
        imported_by: vec![u32::MAX; n],
    };
    // the stores in order: a store reads its value after its instruction
    let mut stores: Vec<(u32, usize)> = store_after.iter().enumerate().map(|(s, &at)| (s as u32, at)).collect();
    stores.sort_by_key(|&(s, at)| (at, s));
    let mut next = stores.iter().peekable();
    for (u, inst) in k.insts.iter().enumerate() {
        for o in operands(inst) {
            reads.read(k, o, u, seg_of[u]);
        }
        while let Some(&(s, _)) = next.next_if(|st| st.1 == u) {
            reads.read(k, k.stores[s as usize], u, seg_of[u]);
        }
    }
    let tested = k.events.iter().flat_map(|e| [e.fire, e.time]);
    for v in next.map(|&(s, _)| k.stores[s as usize]).chain(tested) {
        reads.read(k, v, n, last);
    }
    let mut segments = assign_slots(&ranges, reads);
    for (s, at) in stores {
        let seg = seg_of.get(at).copied().unwrap_or(last);
        segments.list[seg as usize].stores.push((s, at));
    }
    segments
}

/// After which instruction each state is stored in a cut kernel: the later
/// of its new value and the last reading of its old value, or the end
/// (`k.insts.len()`) when its new value is a leaf (read again at the
/// store, so it must come before any state's store) or the end reads its
/// old value (a store or an event's value that is the state itself).
fn store_points(k: &Kernel) -> Vec<usize> {
    let n = k.insts.len();
    let mut last_read = vec![0usize; k.stores.len()];
    let mut note = |d: Val, u: usize| {
        if let Inst::State(s) = k.insts[d as usize] {
            let r = &mut last_read[s as usize];
            *r = (*r).max(u);
        }
    };
    for (u, inst) in k.insts.iter().enumerate() {
        note(u as Val, u);
        for o in operands(inst) {
            note(o, u);
        }
    }
    for v in k.stores.iter().copied().chain(k.events.iter().flat_map(|e| [e.fire, e.time])) {
        note(v, n);
    }
    let at = |(&v, &r): (&Val, &usize)| if is_leaf(&k.insts[v as usize]) { n } else { (v as usize).max(r) };
    k.stores.iter().zip(&last_read).map(at).collect()
}

/// Whether instruction `u` reads `o` through its slot rather than as a
/// value at hand: `o` comes from another segment, or from more than
/// [`WINDOW`] instructions back.
pub fn through_slot(o: usize, u: usize, same_segment: bool) -> bool {
    !same_segment || u - o > WINDOW
}

/// The values read through slots, and by which segments.
struct Reads<'a> {
    seg_of: &'a [u32],
    /// Per segment, the values of earlier segments it reads, in order.
    imports: Vec<Vec<Val>>,
    /// Whether a value is read through a slot (so has one).
    slotted: Vec<bool>,
    /// The last segment that reads it.
    last_reader: Vec<u32>,
    /// The last segment that listed it as an import.
    imported_by: Vec<u32>,
}

impl Reads<'_> {
    fn read(&mut self, k: &Kernel, o: Val, u: usize, reader: u32) {
        let d = o as usize;
        if is_leaf(&k.insts[d]) || !through_slot(d, u, self.seg_of[d] == reader) {
            return;
        }
        self.slotted[d] = true;
        self.last_reader[d] = reader;
        if self.seg_of[d] != reader && self.imported_by[d] != reader {
            self.imported_by[d] = reader;
            self.imports[reader as usize].push(o);
        }
    }
}

/// Gives each passed value a slot, reusing the slots of values no later
/// segment reads.
fn assign_slots(ranges: &[Range<usize>], reads: Reads) -> Segments {
    let count = ranges.len();
    let (exported, imports) = (&reads.slotted, &reads.imports);
    // values whose slot frees once segment s is done
    let mut dying: Vec<Vec<Val>> = vec![Vec::new(); count];
    for (v, &e) in exported.iter().enumerate() {
        if e {
            dying[reads.last_reader[v] as usize].push(v as Val);
        }
    }
    let mut slot_of = std::collections::HashMap::new();
    let mut free: Vec<u32> = Vec::new();
    let mut slots = 0u32;
    let mut list = Vec::with_capacity(count);
    for (s, range) in ranges.iter().enumerate() {
        if s > 0 {
            free.extend(dying[s - 1].iter().rev().map(|v| slot_of[v]));
        }
        let mut exports = Vec::new();
        for v in range.clone().filter(|&v| exported[v]) {
            let slot = free.pop().unwrap_or_else(|| {
                slots += 1;
                slots - 1
            });
            slot_of.insert(v as Val, slot);
            exports.push((v as Val, slot));
        }
        let imports = imports[s].iter().map(|v| (*v, slot_of[v])).collect();
        list.push(Segment { insts: range.clone(), imports, exports, stores: Vec::new() });
    }
    Segments { list, slots: slots as usize }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::KEvent;

    /// x' = x * x + x, twice; stored.
    fn small() -> Kernel {
        use Inst::*;
        Kernel {
            insts: vec![State(0), Mul(0, 0), Add(1, 0), Exp(2), Mul(3, 2), Add(4, 1), Const(2.0), Mul(5, 6)],
            states: vec!["x".into()],
            params: vec![],
            consumed: 0,
            stores: vec![7],
            events: vec![KEvent { fire: 4, time: 5, emits: true }],
            dt: 1e-4,
            tables: vec![],
            propagators: Default::default(),
        }
    }

    #[test]
    fn a_light_kernel_is_one_segment() {
        let s = cut(&small(), SEGMENT_WEIGHT);
        assert_eq!(s.list, vec![Segment { insts: 0..8, imports: vec![], exports: vec![], stores: vec![(0, 8)] }]);
        assert_eq!(s.slots, 0);
    }

    #[test]
    fn values_pass_once_and_slots_are_reused() {
        // one instruction a segment (the exp alone over the limit)
        let s = cut(&small(), 1);
        assert_eq!(s.list.len(), 8);
        let seg = |i: usize| &s.list[i];
        // State and Const are leaves: read again, never passed
        assert!(seg(1).imports.is_empty());
        assert_eq!(seg(1).exports, vec![(1, 0)]);
        assert_eq!(seg(2).imports, vec![(1, 0)]);
        // the event's fire (4) and time (5) go to the last segment
        let last: Vec<Val> = seg(7).imports.iter().map(|x| x.0).collect();
        assert_eq!(last, vec![5, 4]);
        // every import was exported earlier into the same slot
        for (i, sg) in s.list.iter().enumerate() {
            for &(v, slot) in &sg.imports {
                let from = s.list[..i].iter().find(|p| p.insts.contains(&(v as usize))).expect("defined earlier");
                assert!(from.exports.contains(&(v, slot)));
            }
        }
        assert!(s.slots <= 4, "{} slots", s.slots);
    }

    /// x' = e^y and y' = e^x y, each computed before the other's last
    /// reading of the old state; z' = x (a leaf). One instruction a
    /// segment.
    #[test]
    fn states_are_stored_after_the_last_reading_of_their_old_value() {
        use Inst::*;
        let k = Kernel {
            insts: vec![State(0), State(1), Exp(1), Exp(0), Mul(3, 1)],
            states: vec!["x".into(), "y".into(), "z".into()],
            stores: vec![2, 4, 0],
            events: vec![],
            ..small()
        };
        let s = cut(&k, 1);
        let stores: Vec<&[(u32, usize)]> = s.list.iter().map(|sg| sg.stores.as_slice()).collect();
        // y after its last reading (4, where its new value is computed);
        // x, read again by z's store, at the end (5) with z, in order
        let none: &[(u32, usize)] = &[];
        assert_eq!(stores, vec![none, none, none, none, &[(1, 4), (0, 5), (2, 5)][..]]);
        // x's new value (2) waits in a slot for the end
        assert_eq!(s.list[4].imports, vec![(3, 1), (2, 0)]);
        // with z' = y, x goes out after its last reading (3), y at the end
        let k = Kernel { stores: vec![2, 4, 1], ..k };
        let s = cut(&k, 1);
        assert_eq!(s.list[3].stores, vec![(0, 3)]);
        assert_eq!(s.list[4].stores, vec![(1, 5), (2, 5)]);
    }

    /// e^x, a chain of WINDOW + 10 additions, their sum times e^x (read
    /// from afar), and the exp of that.
    fn far() -> Kernel {
        use Inst::*;
        let mut insts = vec![State(0), Exp(0)];
        for _ in 0..WINDOW + 10 {
            insts.push(Add(insts.len() as Val - 1, 0));
        }
        insts.push(Mul(1, insts.len() as Val - 1));
        insts.push(Exp(insts.len() as Val - 1));
        Kernel { stores: vec![insts.len() as Val - 1], insts, events: vec![], ..small() }
    }

    #[test]
    fn values_read_from_afar_have_slots_in_cut_kernels_only() {
        let k = far();
        let whole = cut(&k, usize::MAX);
        assert_eq!((whole.list.len(), whole.slots), (1, 0));
        // the last exp alone in a second segment: e^x (value 1) is read
        // more than WINDOW later in the first, through a slot
        let s = cut(&k, 1 + 45 + WINDOW + 10 + 1);
        assert_eq!(s.list.len(), 2);
        assert_eq!(s.list[0].exports, vec![(1, 0), (WINDOW as Val + 12, 1)]);
        assert_eq!(s.list[1].imports, vec![(WINDOW as Val + 12, 1)]);
    }
}
