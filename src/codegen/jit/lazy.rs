//! What a step computes only when an event fires: a spiking neuron's
//! threshold interpolation, its reset values, its refractory end, its
//! spike's time. A neuron fires on a few steps in thousands, yet a kernel
//! without branches computes all of that on every step. The JIT splits a
//! whole kernel's body in four ([`Class`]) and emits the lazy part in a
//! block entered only when a lane of the body fires; otherwise each gated
//! select takes its other operand. The values are the same either way
//! (a select whose mask is false never reads its first operand), so the
//! kernel stays equal to the interpreter bit for bit.

use crate::kernel::{operands, Inst, Kernel};

/// How an instruction of a whole kernel is emitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Class {
    /// Before the branch, on every step.
    Eager,
    /// Only in the block where some lane fires.
    Lazy,
    /// A select on an event's mask: in the firing block a select, in the
    /// other its second operand; a parameter of the block where both meet.
    Gated,
    /// Reads a gated value: after the two blocks meet.
    After,
}

/// The classes of `k`'s instructions, when some are lazy and the split is
/// sound: no event, no lazy instruction, a gated select of masks, or a
/// state read after its new value is stored (the stores move after the
/// blocks meet) give `None`, and the body is emitted as before.
pub(super) fn plan(k: &Kernel, stores: &[(u32, usize)]) -> Option<Vec<Class>> {
    if k.events.is_empty() {
        return None;
    }
    let n = k.insts.len();
    let is_fire = |v: usize| k.events.iter().any(|ev| ev.fire as usize == v);
    let gated = |v: usize| matches!(k.insts[v], Inst::Select(c, ..) if is_fire(c as usize));
    // a gated select chooses numbers
    for v in (0..n).filter(|&v| gated(v)) {
        if let Inst::Select(_, a, b) = k.insts[v] {
            if k.insts[a as usize].is_mask() || k.insts[b as usize].is_mask() {
                return None;
            }
        }
    }
    // a state read after its store would read the new value as emitted now
    for &(s, after) in stores {
        if k.insts.iter().enumerate().any(|(v, i)| *i == Inst::State(s) && v > after) {
            return None;
        }
    }
    // what depends on a gated select
    let mut dep = vec![false; n];
    for v in 0..n {
        dep[v] = gated(v) || operands(&k.insts[v]).iter().any(|&o| dep[o as usize]);
    }
    // the branch reads every event's mask and the firing block writes the
    // emitted times: none of them may wait for a gated value; a gated
    // select's operands are eager, lazy, or (chained events) gated
    if k.events
        .iter()
        .any(|ev| dep[ev.fire as usize] || (ev.emits && dep[ev.time as usize] && !gated(ev.time as usize)))
    {
        return None;
    }
    for v in (0..n).filter(|&v| gated(v)) {
        if operands(&k.insts[v]).iter().any(|&o| dep[o as usize] && !gated(o as usize)) {
            return None;
        }
    }
    // lazy: used only by lazy instructions, as the first operand of a gated
    // select, or as an emitted spike's time; never stored, never a mask
    let mut hard = vec![false; n];
    for &s in &k.stores {
        hard[s as usize] = true;
    }
    for ev in &k.events {
        hard[ev.fire as usize] = true;
        if !ev.emits {
            hard[ev.time as usize] = true;
        }
    }
    let mut users: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
    for (u, inst) in k.insts.iter().enumerate() {
        for (pos, o) in operands(inst).into_iter().enumerate() {
            users[o as usize].push((u, pos));
        }
    }
    let emitted_time = |v: usize| k.events.iter().any(|ev| ev.emits && ev.time as usize == v);
    let mut lazy = vec![false; n];
    for v in (0..n).rev() {
        if dep[v] || hard[v] || is_fire(v) {
            continue;
        }
        let uses = &users[v];
        if uses.is_empty() && !emitted_time(v) {
            continue;
        }
        lazy[v] = uses.iter().all(|&(u, pos)| lazy[u] || (gated(u) && pos == 1 && only_first(&k.insts[u], v)));
    }
    if !lazy.iter().any(|&l| l) {
        return None;
    }
    Some(
        (0..n)
            .map(|v| {
                if gated(v) {
                    Class::Gated
                } else if dep[v] {
                    Class::After
                } else if lazy[v] {
                    Class::Lazy
                } else {
                    Class::Eager
                }
            })
            .collect(),
    )
}

/// Whether `v` is a select's first operand and neither of its others.
fn only_first(select: &Inst, v: usize) -> bool {
    matches!(*select, Inst::Select(c, a, b) if a as usize == v && b as usize != v && c as usize != v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::KEvent;

    /// x' = x + 1; fires at x >= 2; then x = x0 and t_spike = t + frac.
    fn kernel() -> Kernel {
        use Inst::*;
        Kernel {
            insts: vec![
                State(0),                          // 0 x
                Const(1.0),                        // 1
                Add(0, 1),                         // 2 x + 1
                Const(2.0),                        // 3
                Cmp(crate::kernel::Cmp::Ge, 2, 3), // 4 fire
                Sub(3, 0),                         // 5 threshold - x: the interpolation
                Div(5, 1),                         // 6
                Time,                              // 7
                Add(7, 6),                         // 8 spike time (lazy)
                Const(0.0),                        // 9 reset value
                Select(4, 9, 2),                   // 10 gated
                Mul(10, 1),                        // 11 after
            ],
            states: vec!["x".into()],
            params: vec![],
            consumed: 0,
            stores: vec![11],
            events: vec![KEvent { fire: 4, time: 8, emits: true }],
            dt: 1.0,
            tables: vec![],
            propagators: Default::default(),
        }
    }

    #[test]
    fn what_only_firing_needs_is_lazy() {
        let k = kernel();
        let c = plan(&k, &[(0, 11)]).expect("a plan");
        use Class::*;
        assert_eq!(c, vec![Eager, Eager, Eager, Eager, Eager, Lazy, Lazy, Lazy, Lazy, Lazy, Gated, After]);
        // a state read after its store: no plan
        let mut late = k.clone();
        late.insts.push(Inst::State(0));
        assert!(plan(&late, &[(0, 11)]).is_none());
    }
}
