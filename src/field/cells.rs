//! Evaluates IR expressions over every cell of a field at once: each node
//! becomes an array, so the walk over the tree is paid once per stage, not
//! once per cell. The arithmetic is the reference interpreter's.

use crate::ir::{ExprId, Model, NodeKind, Var};
use crate::syntax::ast::BinOp;

/// Scratch arrays for one model, reused from stage to stage.
pub struct Cells {
    n: usize,
    /// Per node: the slot its array is in, once computed this round.
    memo: Vec<Option<usize>>,
    /// Per value: the slot of its array this round.
    value_slot: Vec<Option<usize>>,
    slots: Vec<Vec<f64>>,
    used: usize,
}

/// What the arrays read.
pub struct CellEnv<'a> {
    pub t: f64,
    /// One array per state (cells long).
    pub states: &'a [Vec<f64>],
    pub params: &'a [f64],
    /// The expression of every value (overrides applied).
    pub values: &'a [ExprId],
}

impl Cells {
    pub fn new(m: &Model, n: usize) -> Cells {
        Cells { n, memo: vec![None; m.arena.len()], value_slot: vec![None; m.values.len()], slots: Vec::new(), used: 0 }
    }

    /// Forgets this round's arrays (call when states or t changed).
    pub fn reset(&mut self) {
        self.memo.iter_mut().for_each(|x| *x = None);
        self.value_slot.iter_mut().for_each(|x| *x = None);
        self.used = 0;
    }

    /// The array of `id` over all cells, valid until the next `reset`.
    pub fn eval(&mut self, m: &Model, id: ExprId, env: &CellEnv) -> &[f64] {
        self.values_first(m, id, env);
        let slot = self.node(m, id, env);
        &self.slots[slot]
    }

    /// Computes the values `id` reads, through other values too, in the
    /// order of their indices (each reads only earlier ones), so that
    /// `node` recurses along one expression, never along a chain of values.
    fn values_first(&mut self, m: &Model, id: ExprId, env: &CellEnv) {
        let mut need = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut stack = vec![id];
        while let Some(x) = stack.pop() {
            if self.memo.get(x.0 as usize).copied().flatten().is_some() || !seen.insert(x) {
                continue;
            }
            match m.arena.kind(x) {
                NodeKind::Var(Var::Value(i)) => {
                    if let (Some(None), Some(&e)) = (self.value_slot.get(*i), env.values.get(*i)) {
                        need.push(*i);
                        stack.push(e);
                    }
                }
                kind => crate::ir::for_each_child(kind, |c| stack.push(c)),
            }
        }
        need.sort_unstable();
        need.dedup();
        for i in need {
            if let (Some(None), Some(&e)) = (self.value_slot.get(i), env.values.get(i)) {
                let s = self.node(m, e, env);
                self.value_slot[i] = Some(s);
            }
        }
    }

    fn slot(&mut self) -> usize {
        if self.used == self.slots.len() {
            self.slots.push(vec![0.0; self.n]);
        }
        self.used += 1;
        self.used - 1
    }

    fn node(&mut self, m: &Model, id: ExprId, env: &CellEnv) -> usize {
        if let Some(s) = self.memo.get(id.0 as usize).copied().flatten() {
            return s;
        }
        let out =
            match m.arena.kind(id).clone() {
                NodeKind::Const(v) => self.fill(v),
                NodeKind::Var(v) => match v {
                    Var::Param(i) => self.fill(env.params.get(i).copied().unwrap_or(f64::NAN)),
                    Var::Time => self.fill(env.t),
                    Var::EventArg(_) => self.fill(f64::NAN),
                    Var::State(i) => {
                        let s = self.slot();
                        match env.states.get(i) {
                            Some(src) => self.slots[s].copy_from_slice(src),
                            None => self.slots[s].iter_mut().for_each(|x| *x = f64::NAN),
                        }
                        s
                    }
                    Var::Value(i) => match self.value_slot.get(i).copied().flatten() {
                        Some(s) => s,
                        None => {
                            let s = match env.values.get(i) {
                                Some(&e) => self.node(m, e, env),
                                None => self.fill(f64::NAN),
                            };
                            if let Some(v) = self.value_slot.get_mut(i) {
                                *v = Some(s);
                            }
                            s
                        }
                    },
                },
                NodeKind::Neg(a) => {
                    let a = self.node(m, a, env);
                    self.map1(a, |x| -x)
                }
                NodeKind::Not(a) => {
                    let a = self.node(m, a, env);
                    self.map1(a, |x| if x == 0.0 { 1.0 } else { 0.0 })
                }
                NodeKind::Bin(op, a, b) => {
                    let a = self.node(m, a, env);
                    let b = self.node(m, b, env);
                    let t = |c: bool| if c { 1.0 } else { 0.0 };
                    match op {
                        BinOp::Add => self.map2(a, b, |x, y| x + y),
                        BinOp::Sub => self.map2(a, b, |x, y| x - y),
                        BinOp::Mul => self.map2(a, b, |x, y| x * y),
                        BinOp::Div => self.map2(a, b, |x, y| x / y),
                        BinOp::Pow => self.map2(a, b, |x, y| {
                            if y.fract() == 0.0 && y.abs() <= 16.0 {
                                x.powi(y as i32)
                            } else {
                                x.powf(y)
                            }
                        }),
                        BinOp::Lt => self.map2(a, b, |x, y| t(x < y)),
                        BinOp::Le => self.map2(a, b, |x, y| t(x <= y)),
                        BinOp::Gt => self.map2(a, b, |x, y| t(x > y)),
                        BinOp::Ge => self.map2(a, b, |x, y| t(x >= y)),
                        BinOp::Eq => self.map2(a, b, |x, y| t(x == y)),
                        BinOp::Ne => self.map2(a, b, |x, y| t(x != y)),
                        BinOp::And => self.map2(a, b, |x, y| t(x != 0.0 && y != 0.0)),
                        BinOp::Or => self.map2(a, b, |x, y| t(x != 0.0 || y != 0.0)),
                    }
                }
                NodeKind::Call(f, args) => {
                    let slots: Vec<usize> = args.iter().take(2).map(|&a| self.node(m, a, env)).collect();
                    let s = self.slot();
                    for k in 0..self.n {
                        let mut vals = [0.0; 2];
                        for (v, &sl) in vals.iter_mut().zip(&slots) {
                            *v = self.slots[sl][k];
                        }
                        self.slots[s][k] = f.eval(&vals[..slots.len()]);
                    }
                    s
                }
                NodeKind::If(c, a, b) => {
                    let (c, a, b) = (self.node(m, c, env), self.node(m, a, env), self.node(m, b, env));
                    let s = self.slot();
                    for k in 0..self.n {
                        self.slots[s][k] = if self.slots[c][k] != 0.0 { self.slots[a][k] } else { self.slots[b][k] };
                    }
                    s
                }
            };
        if let Some(x) = self.memo.get_mut(id.0 as usize) {
            *x = Some(out);
        }
        out
    }

    fn fill(&mut self, v: f64) -> usize {
        let s = self.slot();
        self.slots[s].iter_mut().for_each(|x| *x = v);
        s
    }

    fn map1(&mut self, a: usize, f: impl Fn(f64) -> f64) -> usize {
        let s = self.slot();
        let (src, dst) = two(&mut self.slots, a, s);
        for (d, x) in dst.iter_mut().zip(src.iter()) {
            *d = f(*x);
        }
        s
    }

    fn map2(&mut self, a: usize, b: usize, f: impl Fn(f64, f64) -> f64) -> usize {
        let s = self.slot();
        let mut out = std::mem::take(&mut self.slots[s]);
        for ((d, x), y) in out.iter_mut().zip(&self.slots[a]).zip(&self.slots[b]) {
            *d = f(*x, *y);
        }
        self.slots[s] = out;
        s
    }
}

/// `(&slots[a], &mut slots[b])` for a != b.
fn two(slots: &mut [Vec<f64>], a: usize, b: usize) -> (&[f64], &mut [f64]) {
    if a < b {
        let (l, r) = slots.split_at_mut(b);
        (&l[a], &mut r[0])
    } else {
        let (l, r) = slots.split_at_mut(a);
        (&r[0], &mut l[b])
    }
}
