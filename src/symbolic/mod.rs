//! Symbolic algebra on the IR: constant-folding builders, simplification,
//! and differentiation (chain rule through derived values).
//!
//! Every function creates new nodes bottom-up in the model's arena, so the
//! IR invariants hold afterwards; results carry the span of the node they
//! came from. Differentiation is what later stages build on: Jacobians for
//! implicit methods, gate analysis, sensitivities for identifiability.

use crate::ir::{Builtin, ExprId, Model, NodeKind, Ty, Var};
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

/// d expr / d wrt, simplified. Derived values are differentiated through
/// their definitions. Errors name what cannot be differentiated.
pub fn diff(m: &mut Model, e: ExprId, wrt: Var) -> Result<ExprId, String> {
    let mut memo = HashMap::new();
    Diff { wrt, memo: &mut memo }.go(m, e)
}

struct Diff<'a> {
    wrt: Var,
    memo: &'a mut HashMap<ExprId, ExprId>,
}

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

impl Diff<'_> {
    fn go(&mut self, m: &mut Model, e: ExprId) -> Result<ExprId, String> {
        if let Some(d) = self.memo.get(&e) {
            return Ok(*d);
        }
        let span = m.arena.span(e);
        let edim = m.arena.ty(e).dim().ok_or("a condition has no derivative")?;
        let out_dim = edim.div(&wrt_dim(m, self.wrt)).unwrap_or(Dim::NONE);
        let kind = m.arena.kind(e).clone();
        let r = match kind {
            NodeKind::Const(_) => Builder { m }.constant(0.0, out_dim, span),
            NodeKind::Var(v) if v == self.wrt => Builder { m }.constant(1.0, Dim::NONE, span),
            NodeKind::Var(Var::Value(k)) => {
                let inner = m.values.get(k).map(|v| v.expr).ok_or("missing value")?;
                self.go(m, inner)?
            }
            NodeKind::Var(_) => Builder { m }.constant(0.0, out_dim, span),
            NodeKind::Neg(a) => {
                let da = self.go(m, a)?;
                Builder { m }.neg(da, span)
            }
            NodeKind::Bin(op, a, b) => {
                let da = self.go(m, a)?;
                let db = self.go(m, b)?;
                let mut bl = Builder { m };
                match op {
                    BinOp::Add => bl.add(da, db, span),
                    BinOp::Sub => bl.sub(da, db, span),
                    BinOp::Mul => {
                        let x = bl.mul(da, b, span);
                        let y = bl.mul(a, db, span);
                        bl.add(x, y, span)
                    }
                    BinOp::Div => {
                        // d(a/b) = da/b - a*db/b^2
                        let x = bl.div(da, b, span);
                        let ab = bl.mul(a, db, span);
                        let b2 = bl.mul(b, b, span);
                        let y = bl.div(ab, b2, span);
                        bl.sub(x, y, span)
                    }
                    BinOp::Pow => {
                        if let Some(p) = bl.m.arena.as_const(b) {
                            // p a^(p-1) da
                            let ap = bl.powi(a, p - 1.0, span);
                            let c = bl.constant(p, Dim::NONE, span);
                            let t = bl.mul(c, ap, span);
                            bl.mul(t, da, span)
                        } else {
                            // a^b (db ln a + b da / a)
                            let ln = bl.call(Builtin::Log, vec![a], Dim::NONE, span);
                            let x = bl.mul(db, ln, span);
                            let bda = bl.mul(b, da, span);
                            let y = bl.div(bda, a, span);
                            let s = bl.add(x, y, span);
                            bl.mul(e, s, span)
                        }
                    }
                    _ => return Err(format!("`{}` has no derivative", op.symbol())),
                }
            }
            NodeKind::Call(f, args) => {
                let u = *args.first().ok_or("call without arguments")?;
                let du = self.go(m, u)?;
                let udim = m.arena.ty(u).dim().unwrap_or(Dim::NONE);
                let mut bl = Builder { m };
                let outer = match f {
                    Builtin::Exp => e,
                    Builtin::Log => {
                        let one = bl.constant(1.0, Dim::NONE, span);
                        bl.div(one, u, span)
                    }
                    Builtin::Log10 => {
                        let c = bl.constant(std::f64::consts::LN_10, Dim::NONE, span);
                        let d = bl.mul(u, c, span);
                        let one = bl.constant(1.0, Dim::NONE, span);
                        bl.div(one, d, span)
                    }
                    Builtin::Sqrt => {
                        let two = bl.constant(2.0, Dim::NONE, span);
                        let d = bl.mul(two, e, span);
                        let one = bl.constant(1.0, Dim::NONE, span);
                        bl.div(one, d, span)
                    }
                    Builtin::Sin => bl.call(Builtin::Cos, vec![u], Dim::NONE, span),
                    Builtin::Cos => {
                        let s = bl.call(Builtin::Sin, vec![u], Dim::NONE, span);
                        bl.neg(s, span)
                    }
                    Builtin::Tan => {
                        let c = bl.call(Builtin::Cos, vec![u], Dim::NONE, span);
                        let c2 = bl.mul(c, c, span);
                        let one = bl.constant(1.0, Dim::NONE, span);
                        bl.div(one, c2, span)
                    }
                    Builtin::Tanh => {
                        let t2 = bl.mul(e, e, span);
                        let one = bl.constant(1.0, Dim::NONE, span);
                        bl.sub(one, t2, span)
                    }
                    Builtin::Sinh => bl.call(Builtin::Cosh, vec![u], Dim::NONE, span),
                    Builtin::Cosh => bl.call(Builtin::Sinh, vec![u], Dim::NONE, span),
                    Builtin::Atan => {
                        let u2 = bl.mul(u, u, span);
                        let one = bl.constant(1.0, Dim::NONE, span);
                        let d = bl.add(one, u2, span);
                        let one = bl.constant(1.0, Dim::NONE, span);
                        bl.div(one, d, span)
                    }
                    Builtin::Abs => bl.call(Builtin::Sign, vec![u], Dim::NONE, span),
                    Builtin::Step | Builtin::Sign => bl.constant(0.0, Dim::NONE, span),
                    Builtin::Efun => bl.call(Builtin::EfunPrime, vec![u], Dim::NONE, span),
                    Builtin::EfunPrime => return Err("vtrap/efun can be differentiated once only".into()),
                    Builtin::Min | Builtin::Max => {
                        let v = *args.get(1).ok_or("min/max needs two arguments")?;
                        let dv = self.go(m, v)?;
                        let op = if f == Builtin::Min { BinOp::Le } else { BinOp::Ge };
                        let c = m.arena.add(NodeKind::Bin(op, u, v), Ty::Bool, span);
                        let t = m.arena.ty(du);
                        let r = m.arena.add(NodeKind::If(c, du, dv), t, span);
                        self.memo.insert(e, r);
                        return Ok(r);
                    }
                };
                let _ = udim;
                bl.mul(outer, du, span)
            }
            NodeKind::If(c, a, b) => {
                let da = self.go(m, a)?;
                let db = self.go(m, b)?;
                let t = m.arena.ty(da);
                let same_const = matches!((m.arena.as_const(da), m.arena.as_const(db)), (Some(x), Some(y)) if x == y);
                if da == db || same_const {
                    da
                } else {
                    m.arena.add(NodeKind::If(c, da, db), t, span)
                }
            }
            NodeKind::Not(_) => return Err("a condition has no derivative".into()),
        };
        self.memo.insert(e, r);
        Ok(r)
    }
}

/// Rebuilds an expression through the folding builders.
pub fn simplify(m: &mut Model, e: ExprId) -> ExprId {
    let mut memo = HashMap::new();
    simplify_memo(m, e, &mut memo)
}

fn simplify_memo(m: &mut Model, e: ExprId, memo: &mut HashMap<ExprId, ExprId>) -> ExprId {
    if let Some(r) = memo.get(&e) {
        return *r;
    }
    let span = m.arena.span(e);
    let ty = m.arena.ty(e);
    let r = match m.arena.kind(e).clone() {
        NodeKind::Const(_) | NodeKind::Var(_) => e,
        NodeKind::Neg(a) => {
            let a = simplify_memo(m, a, memo);
            Builder { m }.neg(a, span)
        }
        NodeKind::Bin(op, a, b) => {
            let a = simplify_memo(m, a, memo);
            let b = simplify_memo(m, b, memo);
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
        NodeKind::Call(f, args) => {
            let args: Vec<ExprId> = args.into_iter().map(|a| simplify_memo(m, a, memo)).collect();
            let dim = ty.dim().unwrap_or(Dim::NONE);
            Builder { m }.call(f, args, dim, span)
        }
        NodeKind::If(c, a, b) => {
            let c = simplify_memo(m, c, memo);
            let a = simplify_memo(m, a, memo);
            let b = simplify_memo(m, b, memo);
            let same_const = matches!((m.arena.as_const(a), m.arena.as_const(b)), (Some(x), Some(y)) if x == y);
            if a == b || same_const {
                a
            } else {
                m.arena.add(NodeKind::If(c, a, b), ty, span)
            }
        }
        NodeKind::Not(a) => {
            let a = simplify_memo(m, a, memo);
            m.arena.add(NodeKind::Not(a), ty, span)
        }
    };
    memo.insert(e, r);
    r
}

/// `e` with every occurrence of `var` replaced by the expression `with`,
/// rebuilt through the folding builders.
pub fn substitute(m: &mut Model, e: ExprId, var: Var, with: ExprId) -> ExprId {
    let mut memo = HashMap::new();
    substitute_memo(m, e, var, with, &mut memo)
}

fn substitute_memo(m: &mut Model, e: ExprId, var: Var, with: ExprId, memo: &mut HashMap<ExprId, ExprId>) -> ExprId {
    if let Some(r) = memo.get(&e) {
        return *r;
    }
    let span = m.arena.span(e);
    let ty = m.arena.ty(e);
    let mut sub = |m: &mut Model, x: ExprId| substitute_memo(m, x, var, with, memo);
    let r = match m.arena.kind(e).clone() {
        NodeKind::Var(v) if v == var => with,
        NodeKind::Const(_) | NodeKind::Var(_) => e,
        NodeKind::Neg(a) => {
            let a = sub(m, a);
            Builder { m }.neg(a, span)
        }
        NodeKind::Not(a) => {
            let a = sub(m, a);
            m.arena.add(NodeKind::Not(a), ty, span)
        }
        NodeKind::Bin(op, a, b) => {
            let (a, b) = (sub(m, a), sub(m, b));
            let mut bl = Builder { m };
            match op {
                BinOp::Add => bl.add(a, b, span),
                BinOp::Sub => bl.sub(a, b, span),
                BinOp::Mul => bl.mul(a, b, span),
                BinOp::Div => bl.div(a, b, span),
                _ => bl.m.arena.add(NodeKind::Bin(op, a, b), ty, span),
            }
        }
        NodeKind::Call(f, args) => {
            let args: Vec<ExprId> = args.into_iter().map(|a| sub(m, a)).collect();
            let dim = ty.dim().unwrap_or(Dim::NONE);
            Builder { m }.call(f, args, dim, span)
        }
        NodeKind::If(c, a, b) => {
            let (c, a, b) = (sub(m, c), sub(m, a), sub(m, b));
            m.arena.add(NodeKind::If(c, a, b), ty, span)
        }
    };
    memo.insert(e, r);
    r
}
