//! Symbolic algebra on the IR: constant-folding builders, simplification,
//! and differentiation (chain rule through derived values).
//!
//! Every function creates new nodes bottom-up in the model's arena, so the
//! IR invariants hold afterwards; results carry the span of the node they
//! came from. Differentiation is what later stages build on: Jacobians for
//! implicit methods, gate analysis, sensitivities for identifiability.
//!
//! No walk here recurses: each keeps its own stack, and remembers its
//! result per node, so the cost is linear in the distinct nodes it meets
//! and the depth of an expression is never the depth of the Rust stack.

mod diff;

pub use diff::{diff, Differ};

use crate::ir::{for_each_child, Builtin, ExprId, Model, NodeKind, Ty, Var};
use crate::source::Span;
use crate::syntax::ast::BinOp;
use crate::units::{Dim, Rational};
use std::collections::HashMap;

/// Builds nodes with types computed from their children and constants
/// folded (`0 * x = 0`, `1 * x = x`, `x + 0 = x`, `2 * 3 = 6`).
pub struct Builder<'m> {
    pub m: &'m mut Model,
}

impl Builder<'_> {
    fn dim(&self, id: ExprId) -> Dim {
        self.m.arena.ty(id).dim().unwrap_or(Dim::NONE)
    }

    pub fn constant(&mut self, v: f64, dim: Dim, span: Span) -> ExprId {
        self.m.arena.add(NodeKind::Const(v), Ty::Num(dim), span)
    }

    fn is(&self, id: ExprId, v: f64) -> bool {
        self.m.arena.as_const(id) == Some(v)
    }

    pub fn add(&mut self, a: ExprId, b: ExprId, span: Span) -> ExprId {
        let d = self.dim(a);
        if let NodeKind::Neg(nb) = *self.m.arena.kind(b) {
            return self.sub(a, nb, span);
        }
        match (self.m.arena.as_const(a), self.m.arena.as_const(b)) {
            (Some(x), Some(y)) => self.constant(x + y, d, span),
            (Some(0.0), _) => b,
            (_, Some(0.0)) => a,
            _ => self.m.arena.add(NodeKind::Bin(BinOp::Add, a, b), Ty::Num(d), span),
        }
    }

    pub fn sub(&mut self, a: ExprId, b: ExprId, span: Span) -> ExprId {
        let d = self.dim(a);
        match (self.m.arena.as_const(a), self.m.arena.as_const(b)) {
            (Some(x), Some(y)) => self.constant(x - y, d, span),
            (_, Some(0.0)) => a,
            (Some(0.0), _) => self.neg(b, span),
            _ if a == b => self.constant(0.0, d, span),
            _ => self.m.arena.add(NodeKind::Bin(BinOp::Sub, a, b), Ty::Num(d), span),
        }
    }

    pub fn neg(&mut self, a: ExprId, span: Span) -> ExprId {
        let d = self.dim(a);
        match self.m.arena.kind(a).clone() {
            NodeKind::Const(x) => self.constant(-x, d, span),
            NodeKind::Neg(inner) => inner,
            // -((-x) * y) = x * y, -((-x) / y) = x / y
            NodeKind::Bin(op @ (BinOp::Mul | BinOp::Div), l, r) if matches!(self.m.arena.kind(l), NodeKind::Neg(_)) => {
                let NodeKind::Neg(inner) = *self.m.arena.kind(l) else { return a };
                self.m.arena.add(NodeKind::Bin(op, inner, r), Ty::Num(d), span)
            }
            _ => self.m.arena.add(NodeKind::Neg(a), Ty::Num(d), span),
        }
    }

    pub fn mul(&mut self, a: ExprId, b: ExprId, span: Span) -> ExprId {
        let d = self.dim(a).mul(&self.dim(b)).unwrap_or(Dim::NONE);
        if self.is(a, 0.0) || self.is(b, 0.0) {
            return self.constant(0.0, d, span);
        }
        match (self.m.arena.as_const(a), self.m.arena.as_const(b)) {
            (Some(x), Some(y)) => self.constant(x * y, d, span),
            (Some(x), _) if x == 1.0 && self.dim(a).is_dimensionless() => b,
            (_, Some(y)) if y == 1.0 && self.dim(b).is_dimensionless() => a,
            (Some(x), _) if x == -1.0 && self.dim(a).is_dimensionless() => self.neg(b, span),
            (_, Some(y)) if y == -1.0 && self.dim(b).is_dimensionless() => self.neg(a, span),
            _ => self.m.arena.add(NodeKind::Bin(BinOp::Mul, a, b), Ty::Num(d), span),
        }
    }

    pub fn div(&mut self, a: ExprId, b: ExprId, span: Span) -> ExprId {
        let d = self.dim(a).div(&self.dim(b)).unwrap_or(Dim::NONE);
        if self.is(a, 0.0) {
            return self.constant(0.0, d, span);
        }
        match (self.m.arena.as_const(a), self.m.arena.as_const(b)) {
            (Some(x), Some(y)) => self.constant(x / y, d, span),
            (_, Some(y)) if y == 1.0 && self.dim(b).is_dimensionless() => a,
            _ => self.m.arena.add(NodeKind::Bin(BinOp::Div, a, b), Ty::Num(d), span),
        }
    }

    /// `a ^ p` for a constant exponent.
    pub fn powi(&mut self, a: ExprId, p: f64, span: Span) -> ExprId {
        if p == 0.0 {
            return self.constant(1.0, Dim::NONE, span);
        }
        if p == 1.0 {
            return a;
        }
        let d = Rational::from_f64(p, 100).and_then(|q| self.dim(a).powr(q)).unwrap_or(Dim::NONE);
        if let Some(x) = self.m.arena.as_const(a) {
            return self.constant(x.powf(p), d, span);
        }
        let e = self.constant(p, Dim::NONE, span);
        self.m.arena.add(NodeKind::Bin(BinOp::Pow, a, e), Ty::Num(d), span)
    }

    pub fn call(&mut self, f: Builtin, args: Vec<ExprId>, dim: Dim, span: Span) -> ExprId {
        if let Some(vals) = args.iter().map(|a| self.m.arena.as_const(*a)).collect::<Option<Vec<f64>>>() {
            return self.constant(f.eval(&vals), dim, span);
        }
        self.m.arena.add(NodeKind::Call(f, args), Ty::Num(dim), span)
    }
}

/// The dimension of a variable one differentiates by.
fn wrt_dim(m: &Model, v: Var) -> Dim {
    match v {
        Var::Param(i) => m.params.get(i).map(|p| p.dim),
        Var::State(i) => m.states.get(i).map(|s| s.dim),
        Var::Value(i) => m.values.get(i).map(|s| s.dim),
        Var::Time => Some(crate::units::dims::time()),
        Var::EventArg(_) => None,
    }
    .unwrap_or(Dim::NONE)
}

/// Rebuilds an expression through the folding builders.
pub fn simplify(m: &mut Model, e: ExprId) -> ExprId {
    simplify_memo(m, e, &mut HashMap::new())
}

/// `simplify` with a memo that may outlive one call: the result for a node
/// depends on the node alone.
pub(crate) fn simplify_memo(m: &mut Model, e: ExprId, memo: &mut HashMap<ExprId, ExprId>) -> ExprId {
    let leaf = |m: &Model, e: ExprId| matches!(m.arena.kind(e), NodeKind::Const(_) | NodeKind::Var(_)).then_some(e);
    rebuild(m, e, memo, leaf, |m, e, kids| {
        let span = m.arena.span(e);
        let ty = m.arena.ty(e);
        let kid = |i: usize| kids.get(i).copied().unwrap_or(e);
        match m.arena.kind(e).clone() {
            NodeKind::Const(_) | NodeKind::Var(_) => e,
            NodeKind::Neg(_) => Builder { m }.neg(kid(0), span),
            NodeKind::Bin(op, _, _) => {
                let (a, b) = (kid(0), kid(1));
                let mut bl = Builder { m };
                match op {
                    BinOp::Add => bl.add(a, b, span),
                    BinOp::Sub => bl.sub(a, b, span),
                    BinOp::Mul => bl.mul(a, b, span),
                    BinOp::Div => bl.div(a, b, span),
                    BinOp::Pow => match bl.m.arena.as_const(b) {
                        Some(p) => bl.powi(a, p, span),
                        None => bl.m.arena.add(NodeKind::Bin(op, a, b), ty, span),
                    },
                    _ => bl.m.arena.add(NodeKind::Bin(op, a, b), ty, span),
                }
            }
            NodeKind::Call(f, _) => {
                let dim = ty.dim().unwrap_or(Dim::NONE);
                Builder { m }.call(f, kids.to_vec(), dim, span)
            }
            NodeKind::If(..) => {
                let (c, a, b) = (kid(0), kid(1), kid(2));
                let same_const = matches!((m.arena.as_const(a), m.arena.as_const(b)), (Some(x), Some(y)) if x == y);
                if a == b || same_const {
                    a
                } else {
                    m.arena.add(NodeKind::If(c, a, b), ty, span)
                }
            }
            NodeKind::Not(_) => m.arena.add(NodeKind::Not(kid(0)), ty, span),
        }
    })
}

/// `e` with every occurrence of `var` replaced by the expression `with`,
/// rebuilt through the folding builders.
pub fn substitute(m: &mut Model, e: ExprId, var: Var, with: ExprId) -> ExprId {
    let leaf = |m: &Model, e: ExprId| match m.arena.kind(e) {
        NodeKind::Var(v) if *v == var => Some(with),
        NodeKind::Const(_) | NodeKind::Var(_) => Some(e),
        _ => None,
    };
    rebuild(m, e, &mut HashMap::new(), leaf, |m, e, kids| {
        let span = m.arena.span(e);
        let ty = m.arena.ty(e);
        let kid = |i: usize| kids.get(i).copied().unwrap_or(e);
        match m.arena.kind(e).clone() {
            NodeKind::Const(_) | NodeKind::Var(_) => e,
            NodeKind::Neg(_) => Builder { m }.neg(kid(0), span),
            NodeKind::Not(_) => m.arena.add(NodeKind::Not(kid(0)), ty, span),
            NodeKind::Bin(op, _, _) => {
                let (a, b) = (kid(0), kid(1));
                let mut bl = Builder { m };
                match op {
                    BinOp::Add => bl.add(a, b, span),
                    BinOp::Sub => bl.sub(a, b, span),
                    BinOp::Mul => bl.mul(a, b, span),
                    BinOp::Div => bl.div(a, b, span),
                    _ => bl.m.arena.add(NodeKind::Bin(op, a, b), ty, span),
                }
            }
            NodeKind::Call(f, _) => {
                let dim = ty.dim().unwrap_or(Dim::NONE);
                Builder { m }.call(f, kids.to_vec(), dim, span)
            }
            NodeKind::If(..) => m.arena.add(NodeKind::If(kid(0), kid(1), kid(2)), ty, span),
        }
    })
}

/// Rebuilds the expression under `root` bottom-up with an explicit stack
/// (children first, in order, each shared node once): `leaf` gives the
/// result for nodes it handles alone, `node` combines a node with its
/// children's results. Results are kept in `memo`.
fn rebuild(
    m: &mut Model,
    root: ExprId,
    memo: &mut HashMap<ExprId, ExprId>,
    leaf: impl Fn(&Model, ExprId) -> Option<ExprId>,
    mut node: impl FnMut(&mut Model, ExprId, &[ExprId]) -> ExprId,
) -> ExprId {
    let mut stack = vec![(root, false)];
    let mut kids = Vec::new();
    while let Some((e, ready)) = stack.pop() {
        if memo.contains_key(&e) {
            continue;
        }
        if !ready {
            if let Some(r) = leaf(m, e) {
                memo.insert(e, r);
                continue;
            }
            stack.push((e, true));
            let at = stack.len();
            for_each_child(m.arena.kind(e), |c| stack.push((c, false)));
            stack[at..].reverse();
            continue;
        }
        kids.clear();
        for_each_child(m.arena.kind(e), |c| kids.push(memo.get(&c).copied().unwrap_or(c)));
        let r = node(m, e, &kids);
        memo.insert(e, r);
    }
    memo.get(&root).copied().unwrap_or(root)
}
