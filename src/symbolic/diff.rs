//! Differentiation: d expr / d var by the chain rule, through derived
//! values, with an explicit stack (no recursion, whatever the depth of the
//! expression or the length of a chain of values).
//!
//! A [`Differ`] remembers every derivative it built, per (node, variable),
//! so a subexpression shared by several equations, or by several entries of
//! a Jacobian, is differentiated once. A subexpression that cannot depend
//! on the variable (by a per-node summary of the states it reads) is not
//! walked at all. A [`Differ::sharing`] differ also gives each derived
//! value `a` that a derivative passes through a value of its own, `∂a/∂x`
//! ([`ValueKind::Derivative`]), so that equations reading `a` share one
//! derivative and a chain of values differentiates into a chain of values
//! rather than into one expression as deep as the chain.

use super::{simplify_memo, wrt_dim, Builder};
use crate::ir::{for_each_child, Builtin, ExprId, Model, NodeKind, Ty, Value, ValueKind, Var};
use crate::syntax::ast::BinOp;
use crate::units::Dim;
use std::collections::HashMap;

/// d expr / d wrt. Derived values are differentiated through their
/// definitions (inlined). Errors name what cannot be differentiated.
pub fn diff(m: &mut Model, e: ExprId, wrt: Var) -> Result<ExprId, String> {
    Differ::default().diff(m, e, wrt)
}

/// What a node may read, through the values it reads: states in
/// `lo..=hi` (none when `lo > hi`), parameters (`params`), and time, event
/// arguments or values it cannot see into (`varying`).
#[derive(Clone, Copy)]
struct Reads {
    lo: u32,
    hi: u32,
    params: bool,
    varying: bool,
}

impl Reads {
    const NOTHING: Reads = Reads { lo: u32::MAX, hi: 0, params: false, varying: false };
    const ANYTHING: Reads = Reads { lo: 0, hi: u32::MAX, params: true, varying: true };

    fn join(self, b: Reads) -> Reads {
        Reads {
            lo: self.lo.min(b.lo),
            hi: self.hi.max(b.hi),
            params: self.params || b.params,
            varying: self.varying || b.varying,
        }
    }

    /// Whether a node with these reads may depend on `wrt`.
    fn may_read(self, wrt: Var) -> bool {
        match wrt {
            Var::State(j) => u32::try_from(j).map_or(true, |j| self.lo <= j && j <= self.hi),
            Var::Param(_) => self.params || self.varying,
            Var::Time | Var::EventArg(_) => self.varying,
            Var::Value(_) => true,
        }
    }
}

/// Differentiates expressions of one model and remembers what it built.
/// Results stay valid while the model's arena and values only grow.
#[derive(Default)]
pub struct Differ {
    share: bool,
    /// d(node)/d(var), as built (not simplified).
    memo: HashMap<(ExprId, Var), ExprId>,
    /// What reading value k differentiates to, per variable.
    values: HashMap<(usize, Var), ExprId>,
    /// `simplify` results, per node.
    simple: HashMap<ExprId, ExprId>,
    /// Per node of the arena (those seen so far): what it may read.
    reads: Vec<Reads>,
}

impl Differ {
    /// A differ that gives the derivatives of derived values values of
    /// their own (`∂a/∂x`), appended to the model's values.
    pub fn sharing() -> Differ {
        Differ { share: true, ..Differ::default() }
    }

    /// `simplify`, remembered per node.
    pub fn simplify(&mut self, m: &mut Model, e: ExprId) -> ExprId {
        simplify_memo(m, e, &mut self.simple)
    }

    /// d e / d wrt, simplified.
    pub fn derivative(&mut self, m: &mut Model, e: ExprId, wrt: Var) -> Result<ExprId, String> {
        let d = self.diff(m, e, wrt)?;
        Ok(self.simplify(m, d))
    }

    /// Whether `e` reads parameters at most (no state, time or event
    /// argument, through the values it reads either).
    pub fn is_constant(&mut self, m: &Model, e: ExprId) -> bool {
        self.summarize(m);
        self.reads.get(e.0 as usize).is_some_and(|r| r.lo > r.hi && !r.varying)
    }

    /// Brings the per-node summaries up to the arena's length. Nodes refer
    /// to earlier nodes only, and a value's definition comes before the
    /// nodes that read it, so one pass in order suffices; a read of a value
    /// defined later (never made by lowering) is taken to read anything.
    fn summarize(&mut self, m: &Model) {
        for i in self.reads.len()..m.arena.len() {
            let id = ExprId(i as u32);
            let r = match m.arena.kind(id) {
                NodeKind::Const(_) => Reads::NOTHING,
                NodeKind::Var(Var::State(j)) => match u32::try_from(*j) {
                    Ok(j) => Reads { lo: j, hi: j, ..Reads::NOTHING },
                    Err(_) => Reads::ANYTHING,
                },
                NodeKind::Var(Var::Value(k)) => match m.values.get(*k) {
                    Some(v) if (v.expr.0 as usize) < i => self.reads[v.expr.0 as usize],
                    _ => Reads::ANYTHING,
                },
                NodeKind::Var(Var::Param(_)) => Reads { params: true, ..Reads::NOTHING },
                NodeKind::Var(_) => Reads { varying: true, ..Reads::NOTHING },
                kind => {
                    let mut r = Reads::NOTHING;
                    for_each_child(kind, |c| {
                        r = r.join(self.reads.get(c.0 as usize).copied().unwrap_or(Reads::ANYTHING))
                    });
                    r
                }
            };
            self.reads.push(r);
        }
    }

    /// d e / d wrt as built by the chain rule (constants folded, not
    /// simplified further).
    pub fn diff(&mut self, m: &mut Model, root: ExprId, wrt: Var) -> Result<ExprId, String> {
        self.summarize(m);
        let mut stack = vec![(root, false)];
        while let Some((e, ready)) = stack.pop() {
            if self.memo.contains_key(&(e, wrt)) {
                continue;
            }
            let r = if ready { self.combine(m, e, wrt)? } else { self.visit(m, e, wrt, &mut stack)? };
            if let Some(r) = r {
                self.memo.insert((e, wrt), r);
            }
        }
        self.memo.get(&(root, wrt)).copied().ok_or_else(|| "internal: derivative not built".to_string())
    }

    /// First visit of a node: its derivative when it needs none of its
    /// children's, else `None` after pushing the node and those children.
    fn visit(
        &mut self,
        m: &mut Model,
        e: ExprId,
        wrt: Var,
        stack: &mut Vec<(ExprId, bool)>,
    ) -> Result<Option<ExprId>, String> {
        let span = m.arena.span(e);
        let edim = m.arena.ty(e).dim().ok_or("a condition has no derivative")?;
        let out_dim = edim.div(&wrt_dim(m, wrt)).unwrap_or(Dim::NONE);
        let independent = self.reads.get(e.0 as usize).is_some_and(|r| !r.may_read(wrt));
        let mut kids: Vec<ExprId> = Vec::with_capacity(2);
        match m.arena.kind(e) {
            NodeKind::Var(v) if *v == wrt => return Ok(Some(Builder { m }.constant(1.0, Dim::NONE, span))),
            _ if independent => return Ok(Some(Builder { m }.constant(0.0, out_dim, span))),
            NodeKind::Const(_) => return Ok(Some(Builder { m }.constant(0.0, out_dim, span))),
            NodeKind::Var(Var::Value(k)) => {
                if let Some(d) = self.values.get(&(*k, wrt)) {
                    return Ok(Some(*d));
                }
                kids.push(m.values.get(*k).map(|v| v.expr).ok_or("missing value")?);
            }
            NodeKind::Var(_) => return Ok(Some(Builder { m }.constant(0.0, out_dim, span))),
            NodeKind::Not(_) => return Err("a condition has no derivative".into()),
            NodeKind::Neg(a) => kids.push(*a),
            NodeKind::Bin(_, a, b) | NodeKind::If(_, a, b) => kids.extend([*a, *b]),
            NodeKind::Call(f, args) => {
                kids.push(*args.first().ok_or("call without arguments")?);
                if matches!(f, Builtin::Min | Builtin::Max) {
                    kids.push(*args.get(1).ok_or("min/max needs two arguments")?);
                }
            }
        }
        stack.push((e, true));
        stack.extend(kids.into_iter().rev().map(|k| (k, false)));
        Ok(None)
    }

    /// The derivative of a child, built before its parent.
    fn of(&self, e: ExprId, wrt: Var) -> Result<ExprId, String> {
        self.memo.get(&(e, wrt)).copied().ok_or_else(|| "internal: derivative of a child missing".to_string())
    }

    /// Second visit: the children's derivatives are built; combine them.
    fn combine(&mut self, m: &mut Model, e: ExprId, wrt: Var) -> Result<Option<ExprId>, String> {
        let span = m.arena.span(e);
        let kind = m.arena.kind(e).clone();
        let r = match kind {
            NodeKind::Var(Var::Value(k)) => {
                let inner = m.values.get(k).map(|v| v.expr).ok_or("missing value")?;
                let d = self.of(inner, wrt)?;
                let d = if self.share { self.share_value(m, k, wrt, d) } else { d };
                self.values.insert((k, wrt), d);
                d
            }
            NodeKind::Neg(a) => {
                let da = self.of(a, wrt)?;
                Builder { m }.neg(da, span)
            }
            NodeKind::Bin(op, a, b) => {
                let (da, db) = (self.of(a, wrt)?, self.of(b, wrt)?);
                bin(m, e, op, a, b, da, db)?
            }
            NodeKind::Call(f, args) => {
                let u = *args.first().ok_or("call without arguments")?;
                let du = self.of(u, wrt)?;
                if matches!(f, Builtin::Min | Builtin::Max) {
                    let v = *args.get(1).ok_or("min/max needs two arguments")?;
                    let dv = self.of(v, wrt)?;
                    let same_const =
                        matches!((m.arena.as_const(du), m.arena.as_const(dv)), (Some(x), Some(y)) if x == y);
                    if du == dv || same_const {
                        du
                    } else {
                        let op = if f == Builtin::Min { BinOp::Le } else { BinOp::Ge };
                        let c = m.arena.add(NodeKind::Bin(op, u, v), Ty::Bool, span);
                        let t = m.arena.ty(du);
                        m.arena.add(NodeKind::If(c, du, dv), t, span)
                    }
                } else {
                    let outer = outer(m, e, f, u)?;
                    Builder { m }.mul(outer, du, span)
                }
            }
            NodeKind::If(c, a, b) => {
                let (da, db) = (self.of(a, wrt)?, self.of(b, wrt)?);
                let t = m.arena.ty(da);
                let same_const = matches!((m.arena.as_const(da), m.arena.as_const(db)), (Some(x), Some(y)) if x == y);
                if da == db || same_const {
                    da
                } else {
                    m.arena.add(NodeKind::If(c, da, db), t, span)
                }
            }
            NodeKind::Const(_) | NodeKind::Var(_) | NodeKind::Not(_) => return Ok(None),
        };
        Ok(Some(r))
    }

    /// What a read of value k differentiates to when its definition's
    /// derivative is `d`: `d` itself (simplified) when it is a constant or
    /// a single name, else a new value `∂k/∂wrt` defined as `d`, read here.
    fn share_value(&mut self, m: &mut Model, k: usize, wrt: Var, d: ExprId) -> ExprId {
        let d = self.simplify(m, d);
        if matches!(m.arena.kind(d), NodeKind::Const(_) | NodeKind::Var(_)) {
            return d;
        }
        let Some(of) = m.values.get(k) else { return d };
        let (name, span) = (format!("∂{}/∂{}", of.name, m.var_name(wrt)), of.span);
        let ty = m.arena.ty(d);
        let dim = ty.dim().unwrap_or(Dim::NONE);
        m.values.push(Value { name, kind: ValueKind::Derivative, expr: d, dim, unit: None, span });
        let read = m.arena.add(NodeKind::Var(Var::Value(m.values.len() - 1)), ty, span);
        self.summarize(m);
        read
    }
}

/// d(a op b) from da and db.
fn bin(m: &mut Model, e: ExprId, op: BinOp, a: ExprId, b: ExprId, da: ExprId, db: ExprId) -> Result<ExprId, String> {
    let span = m.arena.span(e);
    let mut bl = Builder { m };
    Ok(match op {
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
    })
}

/// f'(u) for a builtin of one argument, as an expression (`e` is f(u)).
fn outer(m: &mut Model, e: ExprId, f: Builtin, u: ExprId) -> Result<ExprId, String> {
    let span = m.arena.span(e);
    let mut bl = Builder { m };
    Ok(match f {
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
        Builtin::Min | Builtin::Max => return Err("min/max are differentiated by cases".into()),
    })
}
