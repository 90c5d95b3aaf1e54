//! A brain's `couple` statements, taken apart: what each node sends, over
//! which delays it is summed through the connectome, and what the sum
//! enters.
//!
//! ```text
//! couple node.P += K * sum_j(C[i, j] * node[j].E(t - delay[i, j]))
//! couple node.P += K * sum_j(C[i, j] * (node[j].E(t - delay[i, j]) - node.E))   # difference
//! couple node.p += sum_j(C[i, j] * S(node[j].eeg(t - delay[i, j])))             # sigmoid per edge
//! ```
//!
//! Inside `sum_j(...)`: one factor `C[i, j]` (the weights), factors
//! without nodes (parameters, constants), and at most one factor with
//! nodes, a sum of terms each reading either node j (`node[j].X`, at a
//! delay `t - delay[i, j]` (the edge's tract length over the speed), `t -
//! L[i, j] / speed`, `t - 5 ms`, or now) or node i (`node.X`). The terms
//! of node j form the signal every node sends, `sent`, computed once per
//! node and step inside its kernel; the terms of node i multiply the row
//! sum of the weights: `sum_j C[i,j] (s_j(t - d_ij) + l_i) = sum_j C[i,j]
//! s_j(t - d_ij) + l_i sum_j C[i,j]`. Outside the sums, `node.X` is node
//! i's own value. The rewritten right-hand side reads `__sumK` (the
//! delayed weighted sum, filled per node and step by the runtime) and
//! `__rowK` (the row sum), and is lowered inside the node model, so its
//! units are checked like any expression of it.

use crate::diag::{Code, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::{self, BinOp, Expr, ExprKind, UnOp};

/// When node j's signal is read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Delay {
    /// Now.
    None,
    /// The edge's delay: tract length over conduction speed.
    Edge,
    /// The same delay on every edge, seconds.
    Uniform(f64),
}

/// One `sum_j(...)`.
#[derive(Clone, Debug)]
pub struct Sum {
    /// What node j sends, its `node[j].X` written `X`.
    pub sent: Expr,
    pub delay: Delay,
    pub span: Span,
}

/// One `couple node.X += ...`, rewritten.
#[derive(Clone, Debug)]
pub struct Couple {
    /// The node's input it adds to.
    pub target: ast::Ident,
    /// The right-hand side in the node's own names (`__sumK`, `__rowK`).
    pub value: Expr,
    /// `-=`.
    pub negate: bool,
    pub span: Span,
}

pub fn sum_name(k: usize) -> String {
    format!("__sum{k}")
}

pub fn row_name(k: usize) -> String {
    format!("__row{k}")
}

pub fn sent_name(k: usize) -> String {
    format!("__sent{k}")
}

pub fn couple_name(k: usize) -> String {
    format!("__couple{k}")
}

/// Takes a `couple` statement apart, appending its sums to `sums`.
pub fn analyze(
    target: &[ast::Ident],
    op: ast::AssignOp,
    value: &Expr,
    span: Span,
    sums: &mut Vec<Sum>,
) -> Result<Couple, Box<Diagnostic>> {
    let target = match target {
        [node, x] if node.name == "node" => x.clone(),
        _ => {
            let at = target.first().map_or(span, |t| t.span);
            return Err(bad(
                at,
                "not `node.INPUT`",
                "a coupling adds to an input of every node: `couple node.P += ...`",
            ));
        }
    };
    let negate = match op {
        ast::AssignOp::Add => false,
        ast::AssignOp::Sub => true,
        _ => {
            return Err(bad(
                span,
                "couplings add to an input",
                "write `couple node.P += ...` (or `-=`): the input keeps its own value and the coupling adds to it",
            ))
        }
    };
    let value = rewrite(value, sums)?;
    Ok(Couple { target, value, negate, span })
}

/// An expression of the node itself (a noise's amplitude): `node.X` made
/// `X`; sums and other nodes are not allowed.
pub fn local(e: &Expr) -> Result<Expr, Box<Diagnostic>> {
    let mut sums = Vec::new();
    let out = rewrite(e, &mut sums)?;
    match sums.first() {
        Some(s) => {
            Err(bad(s.span, "a sum over the connectome", "a noise's amplitude reads the node itself (`node.E`)"))
        }
        None => Ok(out),
    }
}

pub fn xi_name(k: usize) -> String {
    format!("__xi{k}")
}

pub fn ou_name(k: usize) -> String {
    format!("__ou{k}")
}

fn bad(span: Span, label: &str, help: &str) -> Box<Diagnostic> {
    Box::new(
        Diagnostic::error(Code::BadCoupling, "this coupling cannot be computed over the connectome")
            .at(span, label)
            .help(help),
    )
}

fn expr(kind: ExprKind, span: Span) -> Expr {
    Expr { kind, span }
}

fn name(n: String, span: Span) -> Expr {
    expr(ExprKind::Name(n), span)
}

fn bin(op: BinOp, a: Expr, b: Expr, span: Span) -> Expr {
    expr(ExprKind::Binary(op, Box::new(a), Box::new(b)), span)
}

/// The right-hand side outside sums: `sum_j(...)` replaced, `node.X`
/// made `X`.
fn rewrite(e: &Expr, sums: &mut Vec<Sum>) -> Result<Expr, Box<Diagnostic>> {
    let kind = match &e.kind {
        ExprKind::Call(f, args) if is_name(f, "sum_j") => return sum(e, args, sums),
        ExprKind::Member(obj, x) if is_name(obj, "node") => ExprKind::Name(x.name.clone()),
        ExprKind::Index(obj, _) if is_name(obj, "node") => {
            return Err(bad(e.span, "node j outside a sum", "read other nodes inside `sum_j(C[i, j] * ...)`"))
        }
        ExprKind::Name(n) if matches!(n.as_str(), "C" | "L" | "delay" | "i" | "j") => {
            return Err(bad(
                e.span,
                "only inside `sum_j`",
                "the connectome's matrices are read in `sum_j(C[i, j] * ...)`",
            ))
        }
        ExprKind::Name(n) if n == "node" => {
            return Err(bad(e.span, "a node, not a value", "read one of its values: `node.E`"))
        }
        ExprKind::Unary(op, a) => ExprKind::Unary(*op, Box::new(rewrite(a, sums)?)),
        ExprKind::Binary(op, a, b) => ExprKind::Binary(*op, Box::new(rewrite(a, sums)?), Box::new(rewrite(b, sums)?)),
        ExprKind::Call(f, args) => {
            ExprKind::Call(f.clone(), args.iter().map(|a| rewrite(a, sums)).collect::<Result<_, _>>()?)
        }
        ExprKind::If(c, a, b) => {
            ExprKind::If(Box::new(rewrite(c, sums)?), Box::new(rewrite(a, sums)?), Box::new(rewrite(b, sums)?))
        }
        other => other.clone(),
    };
    Ok(expr(kind, e.span))
}

fn is_name(e: &Expr, n: &str) -> bool {
    matches!(&e.kind, ExprKind::Name(x) if x == n)
}

/// `M[i, j]`.
fn is_edge(e: &Expr, m: &str) -> bool {
    match &e.kind {
        ExprKind::Index(obj, ix) => is_name(obj, m) && ix.len() == 2 && is_name(&ix[0], "i") && is_name(&ix[1], "j"),
        _ => false,
    }
}

/// Which nodes an expression reads: (node j, node i).
fn reads(e: &Expr) -> (bool, bool) {
    let mut stack = vec![e];
    let (mut j, mut i) = (false, false);
    while let Some(e) = stack.pop() {
        match &e.kind {
            ExprKind::Index(obj, _) if is_name(obj, "node") => j = true,
            ExprKind::Member(obj, _) if is_name(obj, "node") => i = true,
            ExprKind::Unary(_, a) => stack.push(a),
            ExprKind::Binary(_, a, b) => stack.extend([&**a, &**b]),
            ExprKind::Call(f, args) => {
                stack.push(f);
                stack.extend(args);
            }
            ExprKind::Index(obj, ix) => {
                stack.push(obj);
                stack.extend(ix);
            }
            ExprKind::Member(obj, _) => stack.push(obj),
            ExprKind::If(c, a, b) => stack.extend([&**c, &**a, &**b]),
            _ => {}
        }
    }
    (j, i)
}

/// `a * b * c` as its factors.
fn factors(e: &Expr, out: &mut Vec<Expr>) {
    match &e.kind {
        ExprKind::Binary(BinOp::Mul, a, b) => {
            factors(a, out);
            factors(b, out);
        }
        _ => out.push(e.clone()),
    }
}

/// `a + b - c` as signed terms.
fn terms(e: &Expr, negative: bool, out: &mut Vec<(bool, Expr)>) {
    match &e.kind {
        ExprKind::Binary(BinOp::Add, a, b) => {
            terms(a, negative, out);
            terms(b, negative, out);
        }
        ExprKind::Binary(BinOp::Sub, a, b) => {
            terms(a, negative, out);
            terms(b, !negative, out);
        }
        ExprKind::Unary(UnOp::Neg, a) => terms(a, !negative, out),
        _ => out.push((negative, e.clone())),
    }
}

/// `sum_j(C[i, j] * ...)`: its [`Sum`], and what replaces it.
fn sum(call: &Expr, args: &[Expr], sums: &mut Vec<Sum>) -> Result<Expr, Box<Diagnostic>> {
    let span = call.span;
    let [arg] = args else {
        return Err(bad(span, "one argument", "`sum_j(C[i, j] * node[j].E)`"));
    };
    let mut fs = Vec::new();
    factors(arg, &mut fs);
    let weights = fs.iter().filter(|f| is_edge(f, "C")).count();
    if weights != 1 {
        return Err(bad(
            arg.span,
            if weights == 0 { "no `C[i, j]` factor" } else { "`C[i, j]` twice" },
            "a sum over the connectome weighs each edge once: `sum_j(C[i, j] * node[j].E(t - delay[i, j]))`",
        ));
    }
    let rest: Vec<Expr> = fs.into_iter().filter(|f| !is_edge(f, "C")).collect();
    let (scalars, with_nodes): (Vec<Expr>, Vec<Expr>) = rest.into_iter().partition(|f| reads(f) == (false, false));
    if with_nodes.len() > 1 {
        return Err(bad(
            with_nodes[1].span,
            "a second factor reading nodes",
            "write the edge's term as a sum of terms of node j and terms of node i, e.g. `C[i, j] * (node[j].E - node.E)`",
        ));
    }
    let scale = |e: Expr| scalars.iter().cloned().fold(e, |acc, s| bin(BinOp::Mul, s, acc, span));
    let mut parts = Vec::new();
    match with_nodes.into_iter().next() {
        Some(f) => terms(&f, false, &mut parts),
        None => parts.push((false, expr(ExprKind::Number { value: 1.0, unit: None }, span))),
    }
    let (mut sent, mut local): (Option<Expr>, Option<Expr>) = (None, None);
    let mut delay: Option<(Delay, Span)> = None;
    for (negative, term) in parts {
        let (j, i) = reads(&term);
        if j && i {
            return Err(bad(
                term.span,
                "reads node j and node i in one term",
                "the connectome sums products of an edge weight and node j's signal; terms of node i alone are allowed too (`node[j].E - node.E`)",
            ));
        }
        let body = if j { remote(&term, &mut delay)? } else { rewrite(&term, &mut Vec::new())? };
        let slot = if j { &mut sent } else { &mut local };
        *slot = Some(match (slot.take(), negative) {
            (None, false) => body,
            (None, true) => expr(ExprKind::Unary(UnOp::Neg, Box::new(body)), term.span),
            (Some(acc), neg) => bin(if neg { BinOp::Sub } else { BinOp::Add }, acc, body, term.span),
        });
    }
    let k = sums.len();
    let sent = sent.map(scale).unwrap_or_else(|| expr(ExprKind::Number { value: 0.0, unit: None }, span));
    sums.push(Sum { sent, delay: delay.map_or(Delay::None, |d| d.0), span });
    let s = name(sum_name(k), span);
    Ok(match local {
        Some(l) => bin(BinOp::Add, s, bin(BinOp::Mul, name(row_name(k), span), scale(l), span), span),
        None => s,
    })
}

/// A term of node j: `node[j].X(t - d)` made `X`, its delay checked to be
/// the sum's one.
fn remote(e: &Expr, delay: &mut Option<(Delay, Span)>) -> Result<Expr, Box<Diagnostic>> {
    let kind = match &e.kind {
        ExprKind::Call(f, args) if node_j(f).is_some() => {
            let x = node_j(f).unwrap_or_default();
            let [at] = &args[..] else {
                return Err(bad(e.span, "one time argument", "`node[j].E(t - delay[i, j])`"));
            };
            let d = when(at)?;
            match delay {
                Some((d0, s0)) if *d0 != d => {
                    let _ = s0;
                    return Err(bad(
                        at.span,
                        "another delay in the same sum",
                        "one sum reads its nodes at one delay; write a second `sum_j` for another",
                    ));
                }
                _ => *delay = Some((d, at.span)),
            }
            ExprKind::Name(x)
        }
        ExprKind::Member(..) if node_j(e).is_some() => {
            if let Some((d0, _)) = delay {
                if *d0 != Delay::None {
                    return Err(bad(
                        e.span,
                        "read now, elsewhere in the sum with a delay",
                        "give every read of node j the same delay",
                    ));
                }
            }
            *delay = Some((Delay::None, e.span));
            ExprKind::Name(node_j(e).unwrap_or_default())
        }
        ExprKind::Index(obj, _) if is_name(obj, "node") => {
            return Err(bad(e.span, "a node, not a value", "read one of its values: `node[j].E`"))
        }
        ExprKind::Index(obj, _) if is_name(obj, "C") || is_name(obj, "L") || is_name(obj, "delay") => {
            return Err(bad(
                e.span,
                "an edge's matrix inside node j's signal",
                "`C[i, j]` is a factor of the whole term; delays go in the time argument: `node[j].E(t - delay[i, j])`",
            ))
        }
        ExprKind::Unary(op, a) => ExprKind::Unary(*op, Box::new(remote(a, delay)?)),
        ExprKind::Binary(op, a, b) => ExprKind::Binary(*op, Box::new(remote(a, delay)?), Box::new(remote(b, delay)?)),
        ExprKind::Call(f, args) => {
            ExprKind::Call(f.clone(), args.iter().map(|a| remote(a, delay)).collect::<Result<_, _>>()?)
        }
        ExprKind::If(c, a, b) => {
            ExprKind::If(Box::new(remote(c, delay)?), Box::new(remote(a, delay)?), Box::new(remote(b, delay)?))
        }
        other => other.clone(),
    };
    Ok(expr(kind, e.span))
}

/// `node[j].X`: `X`.
fn node_j(e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Member(obj, x) => match &obj.kind {
            ExprKind::Index(n, ix) if is_name(n, "node") && ix.len() == 1 && is_name(&ix[0], "j") => {
                Some(x.name.clone())
            }
            _ => None,
        },
        _ => None,
    }
}

/// The time argument `t - d`: which delay `d` is.
fn when(at: &Expr) -> Result<Delay, Box<Diagnostic>> {
    let ExprKind::Binary(BinOp::Sub, t, d) = &at.kind else {
        return Err(bad(
            at.span,
            "not `t - delay`",
            "read node j in the past: `node[j].E(t - delay[i, j])`, `(t - 10 ms)`",
        ));
    };
    if !is_name(t, "t") {
        return Err(bad(at.span, "not `t - delay`", "read node j in the past: `node[j].E(t - delay[i, j])`"));
    }
    if is_edge(d, "delay") {
        return Ok(Delay::Edge);
    }
    if let ExprKind::Binary(BinOp::Div, l, v) = &d.kind {
        if is_edge(l, "L") && is_name(v, "speed") {
            return Ok(Delay::Edge);
        }
    }
    let (value, diags) = crate::ir::lower::lower_constant(d);
    match value {
        Some((v, dim)) if dim == crate::units::dims::time() && v >= 0.0 && v.is_finite() => Ok(Delay::Uniform(v)),
        Some((_, dim)) if dim != crate::units::dims::time() => Err(Box::new(
            Diagnostic::error(Code::DimensionMismatch, "a delay must be a time")
                .at(d.span, format!("this is {}", crate::ir::lower::quantity_desc(&dim)))
                .help("e.g. `node[j].E(t - 10 ms)` or `node[j].E(t - delay[i, j])`"),
        )),
        Some(_) => Err(bad(d.span, "a delay is a time of zero or more", "e.g. `t - 10 ms`")),
        None => Err(Box::new(diags.list.into_iter().next().unwrap_or_else(|| {
            Diagnostic::error(Code::BadCoupling, "a delay must be `delay[i, j]`, `L[i, j] / speed` or a constant time")
                .at(d.span, "not one of these")
                .help("e.g. `node[j].E(t - delay[i, j])`")
        }))),
    }
}
