//! An expression flattened into straight-line code over registers, for
//! evaluating it many times with little overhead (a plasticity rule at
//! every synaptic event). Parameters are folded into constants and
//! constant subexpressions computed once; an `if` evaluates both branches
//! and selects, `and`/`or` both sides (the values are the same as the
//! tree-walking [`eval`](super::eval::eval), which the tests compare).
//!
//! Input: a model, one of its expressions (values inlined by the caller,
//! no event arguments) and the parameters' values. Output: a [`Tape`]
//! whose [`Tape::run`] reads the states and the time.

use super::eval::binary;
use super::{Builtin, ExprId, Model, NodeKind, Var};
use std::collections::HashMap;

#[derive(Clone, Copy, Debug)]
enum Op {
    Const(f64),
    State(u32),
    Time,
    Neg(u32),
    Not(u32),
    Bin(super::BinOp, u32, u32),
    Call1(Builtin, u32),
    Call2(Builtin, u32, u32),
    /// cond != 0 ? a : b
    Select(u32, u32, u32),
}

/// Straight-line code for one expression; the last register is its value.
#[derive(Clone, Debug)]
pub struct Tape {
    ops: Vec<Op>,
    /// The register of the value.
    out: usize,
}

impl Tape {
    /// Flattens `root`. `Err` for what a tape cannot read (a derived value
    /// not inlined, an event argument) or a call with more than two
    /// arguments.
    pub fn new(m: &Model, root: ExprId, params: &[f64]) -> Result<Tape, String> {
        let mut b = Build { m, params, ops: Vec::new(), memo: HashMap::new() };
        // post-order without recursion: (node, operands pushed?)
        let mut stack = vec![(root, false)];
        while let Some((id, ready)) = stack.pop() {
            if b.memo.contains_key(&id) {
                continue;
            }
            let kids = children(m.arena.kind(id));
            if !ready && !kids.is_empty() {
                stack.push((id, true));
                stack.extend(kids.into_iter().map(|k| (k, false)));
                continue;
            }
            let r = b.node(id)?;
            b.memo.insert(id, r);
        }
        let out = *b.memo.get(&root).ok_or("empty expression")? as usize;
        Ok(Tape { ops: b.ops, out })
    }

    /// The value, with `states` and `t`; `regs` is scratch for long tapes
    /// (short ones keep their registers on the stack).
    pub fn run(&self, states: &[f64], t: f64, regs: &mut Vec<f64>) -> f64 {
        const SHORT: usize = 32;
        if self.ops.len() <= SHORT {
            let mut file = [0.0; SHORT];
            self.fill(states, t, &mut file[..self.ops.len()]);
            return file[self.out];
        }
        regs.clear();
        regs.resize(self.ops.len(), 0.0);
        self.fill(states, t, regs);
        regs[self.out]
    }

    /// Computes every register into `regs` (one per op).
    fn fill(&self, states: &[f64], t: f64, regs: &mut [f64]) {
        for (k, op) in self.ops.iter().enumerate() {
            let r = |i: &u32| regs[*i as usize];
            regs[k] = match op {
                Op::Const(c) => *c,
                Op::State(s) => states[*s as usize],
                Op::Bin(super::BinOp::Add, a, b) => r(a) + r(b),
                Op::Bin(super::BinOp::Sub, a, b) => r(a) - r(b),
                Op::Bin(super::BinOp::Mul, a, b) => r(a) * r(b),
                _ => slow(op, regs, t),
            };
        }
    }
}

/// The ops `Tape::run` does not inline.
fn slow(op: &Op, regs: &[f64], t: f64) -> f64 {
    let r = |i: &u32| regs[*i as usize];
    match op {
        Op::Const(c) => *c,
        Op::State(_) => f64::NAN, // read by `run`
        Op::Time => t,
        Op::Neg(a) => -r(a),
        Op::Not(a) => f64::from(u8::from(r(a) == 0.0)),
        Op::Bin(op, a, b) => binary(*op, r(a), r(b)),
        Op::Call1(f, a) => f.eval(&[r(a)]),
        Op::Call2(f, a, b) => f.eval(&[r(a), r(b)]),
        Op::Select(c, a, b) => {
            if r(c) != 0.0 {
                r(a)
            } else {
                r(b)
            }
        }
    }
}

fn children(k: &NodeKind) -> Vec<ExprId> {
    match k {
        NodeKind::Const(_) | NodeKind::Var(_) => vec![],
        NodeKind::Neg(a) | NodeKind::Not(a) => vec![*a],
        NodeKind::Bin(_, a, b) => vec![*a, *b],
        NodeKind::Call(_, args) => args.clone(),
        NodeKind::If(c, a, b) => vec![*c, *a, *b],
    }
}

struct Build<'a> {
    m: &'a Model,
    params: &'a [f64],
    ops: Vec<Op>,
    memo: HashMap<ExprId, u32>,
}

impl Build<'_> {
    fn push(&mut self, op: Op) -> u32 {
        // constant operands fold now
        let c = |r: u32, ops: &[Op]| match ops[r as usize] {
            Op::Const(v) => Some(v),
            _ => None,
        };
        let folded = match op {
            Op::Neg(a) => c(a, &self.ops).map(|x| -x),
            Op::Not(a) => c(a, &self.ops).map(|x| f64::from(u8::from(x == 0.0))),
            Op::Bin(o, a, b) => c(a, &self.ops).zip(c(b, &self.ops)).map(|(x, y)| binary(o, x, y)),
            Op::Call1(f, a) => c(a, &self.ops).map(|x| f.eval(&[x])),
            Op::Call2(f, a, b) => c(a, &self.ops).zip(c(b, &self.ops)).map(|(x, y)| f.eval(&[x, y])),
            _ => None,
        };
        self.ops.push(folded.map_or(op, Op::Const));
        self.ops.len() as u32 - 1
    }

    fn node(&mut self, id: ExprId) -> Result<u32, String> {
        let r = |e: &ExprId| self.memo[e];
        let op = match self.m.arena.kind(id) {
            NodeKind::Const(v) => Op::Const(*v),
            NodeKind::Var(Var::Param(p)) => Op::Const(self.params.get(*p).copied().unwrap_or(f64::NAN)),
            NodeKind::Var(Var::State(s)) => Op::State(*s as u32),
            NodeKind::Var(Var::Time) => Op::Time,
            NodeKind::Var(Var::Value(_) | Var::EventArg(_)) => return Err("it reads a value it cannot see".into()),
            NodeKind::Neg(a) => Op::Neg(r(a)),
            NodeKind::Not(a) => Op::Not(r(a)),
            NodeKind::Bin(op, a, b) => Op::Bin(*op, r(a), r(b)),
            NodeKind::Call(f, args) => match args.as_slice() {
                [a] => Op::Call1(*f, r(a)),
                [a, b] => Op::Call2(*f, r(a), r(b)),
                _ => return Err(format!("`{}` takes {} arguments", f.name(), args.len())),
            },
            NodeKind::If(c, a, b) => Op::Select(r(c), r(a), r(b)),
        };
        Ok(self.push(op))
    }
}

#[cfg(test)]
mod tests {
    use super::Tape;
    use crate::ir::eval::{eval, eval_params, Env};

    /// A tape gives the tree walker's value on every action of a rule with
    /// calls, powers, conditions and folded parameters.
    #[test]
    fn tapes_evaluate_like_the_tree() {
        let src = "plasticity P {\n    parameter a = 0.3, mu = 0.4, w_max = 2\n    state x = 0.7, y = 1.5, w = 0.9\n    on spike pre { w = max(w - a * (w / w_max)^mu * y, 0); x = if w > 0.5 then exp(-x) + 2 * a else log(1 + y) }\n}\n";
        let c = crate::compile_source("p.neuro", src, None);
        let m = c.model("P").unwrap(); // ok: a test of a model it just compiled
        let params = eval_params(m, &[]);
        let mut regs = Vec::new();
        for states in [[0.7, 1.5, 0.9], [0.1, 0.0, 0.2], [2.0, 3.0, 1.9]] {
            for a in &m.events[0].actions {
                let crate::ir::Action::Assign { value, .. } = a else { continue };
                let tape = Tape::new(m, *value, &params).unwrap(); // ok: a test
                let env = Env { t: 0.0, states: &states, params: &params, values: &[], args: &[] };
                assert_eq!(tape.run(&states, 0.0, &mut regs).to_bits(), eval(m, *value, &env).to_bits());
            }
        }
    }
}
