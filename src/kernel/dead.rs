//! Dead-code elimination: instructions nothing stored or tested depends
//! on are dropped, the rest renumbered in their order.

use super::{Inst, Kernel, Val};

/// The operands of an instruction.
pub fn operands(inst: &Inst) -> Vec<Val> {
    use Inst::*;
    match *inst {
        Const(_) | State(_) | Param(_) | Time | TimeNext => vec![],
        Lookup { at, .. } => vec![at],
        Neg(a) | Sqrt(a) | Abs(a) | Exp(a) | Log(a) | Efun(a) | Step(a) | Not(a) => vec![a],
        Add(a, b) | Sub(a, b) | Mul(a, b) | Div(a, b) | Min(a, b) | Max(a, b) | Cmp(_, a, b) | And(a, b) | Or(a, b) => {
            vec![a, b]
        }
        Select(c, a, b) => vec![c, a, b],
        MulAdd(a, b, c) => vec![a, b, c],
    }
}

/// Which instructions something stored or tested depends on.
pub fn liveness(k: &Kernel) -> Vec<bool> {
    let mut live = vec![false; k.insts.len()];
    let mut stack: Vec<Val> = k.stores.clone();
    for e in &k.events {
        stack.push(e.fire);
        stack.push(e.time);
    }
    while let Some(v) = stack.pop() {
        if !std::mem::replace(&mut live[v as usize], true) {
            stack.extend(operands(&k.insts[v as usize]));
        }
    }
    live
}

/// Drops instructions nothing stored or tested depends on (rewrites leave
/// some behind) and renumbers the rest, keeping their order.
pub fn eliminate_dead(mut k: Kernel) -> Kernel {
    let live = liveness(&k);
    let mut new_index = vec![0 as Val; k.insts.len()];
    let mut insts = Vec::new();
    for (i, inst) in k.insts.iter().enumerate() {
        if !live[i] {
            continue;
        }
        let r = |v: Val| new_index[v as usize];
        use Inst::*;
        let renamed = match *inst {
            Const(_) | State(_) | Param(_) | Time | TimeNext => *inst,
            Neg(a) => Neg(r(a)),
            Sqrt(a) => Sqrt(r(a)),
            Abs(a) => Abs(r(a)),
            Exp(a) => Exp(r(a)),
            Log(a) => Log(r(a)),
            Efun(a) => Efun(r(a)),
            Step(a) => Step(r(a)),
            Not(a) => Not(r(a)),
            Add(a, b) => Add(r(a), r(b)),
            Sub(a, b) => Sub(r(a), r(b)),
            Mul(a, b) => Mul(r(a), r(b)),
            Div(a, b) => Div(r(a), r(b)),
            Min(a, b) => Min(r(a), r(b)),
            Max(a, b) => Max(r(a), r(b)),
            Cmp(c, a, b) => Cmp(c, r(a), r(b)),
            And(a, b) => And(r(a), r(b)),
            Or(a, b) => Or(r(a), r(b)),
            Select(c, a, b) => Select(r(c), r(a), r(b)),
            MulAdd(a, b, c) => MulAdd(r(a), r(b), r(c)),
            Lookup { table, col, at } => Lookup { table, col, at: r(at) },
        };
        new_index[i] = insts.len() as Val;
        insts.push(renamed);
    }
    k.stores = k.stores.iter().map(|&v| new_index[v as usize]).collect();
    for e in &mut k.events {
        e.fire = new_index[e.fire as usize];
        e.time = new_index[e.time as usize];
    }
    k.insts = insts;
    k
}
