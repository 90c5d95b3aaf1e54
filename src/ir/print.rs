//! Prints IR expressions back as readable formulas (SI numbers), for
//! `explain` and for tests.

use super::{ExprId, Model, NodeKind};
use crate::syntax::ast::BinOp;
use crate::units::format_number;

/// Prints expressions of one model.
pub struct Printer<'m> {
    pub model: &'m Model,
}

/// Prints one expression of a model.
pub fn print_expr(model: &Model, id: ExprId) -> String {
    Printer { model }.expr(id)
}

fn prec(op: BinOp) -> u8 {
    match op {
        BinOp::Or => 1,
        BinOp::And => 2,
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne => 4,
        BinOp::Add | BinOp::Sub => 5,
        BinOp::Mul | BinOp::Div => 6,
        BinOp::Pow => 8,
    }
}

/// Expressions up to this depth print by recursion; deeper ones by
/// [`Printer::deep`], which writes the same text with an explicit stack.
const RECURSION_DEPTH: usize = 256;

/// A piece of the output still to write, for [`Printer::deep`].
enum Piece {
    Text(&'static str),
    Node(ExprId, u8),
}

impl Printer<'_> {
    pub fn expr(&self, id: ExprId) -> String {
        if self.model.arena.depth(id) <= RECURSION_DEPTH {
            self.at(id, 0)
        } else {
            self.deep(id)
        }
    }

    /// The text `at(id, 0)` would give, written left to right into one
    /// buffer: linear in the output, for any depth.
    fn deep(&self, id: ExprId) -> String {
        let a = &self.model.arena;
        let mut out = String::new();
        let mut todo = vec![Piece::Node(id, 0)];
        while let Some(piece) = todo.pop() {
            let (id, min) = match piece {
                Piece::Text(t) => {
                    out.push_str(t);
                    continue;
                }
                Piece::Node(id, min) => (id, min),
            };
            let paren = self.node_prec(id) < min;
            if paren {
                out.push('(');
                todo.push(Piece::Text(")"));
            }
            // pieces are pushed last first
            match a.kind(id) {
                NodeKind::Const(v) => out.push_str(&format_number(*v)),
                NodeKind::Var(v) => out.push_str(&self.model.var_name(*v)),
                NodeKind::Neg(x) => {
                    out.push('-');
                    todo.push(Piece::Node(*x, 8));
                }
                NodeKind::Not(x) => {
                    out.push_str("not ");
                    todo.push(Piece::Node(*x, 4));
                }
                NodeKind::Bin(op, l, r) => {
                    let q = prec(*op);
                    let (lmin, rmin) = match op {
                        BinOp::Pow => (q + 1, q),
                        _ => (q, q + 1),
                    };
                    todo.push(Piece::Node(*r, rmin));
                    match op {
                        BinOp::Pow => todo.push(Piece::Text(op.symbol())),
                        _ => todo.extend([Piece::Text(" "), Piece::Text(op.symbol()), Piece::Text(" ")]),
                    }
                    todo.push(Piece::Node(*l, lmin));
                }
                NodeKind::Call(f, args) => {
                    out.push_str(f.name());
                    out.push('(');
                    todo.push(Piece::Text(")"));
                    for (k, x) in args.iter().enumerate().rev() {
                        todo.push(Piece::Node(*x, 0));
                        if k > 0 {
                            todo.push(Piece::Text(", "));
                        }
                    }
                }
                NodeKind::If(c, x, y) => {
                    out.push_str("if ");
                    todo.extend([
                        Piece::Node(*y, 0),
                        Piece::Text(" else "),
                        Piece::Node(*x, 0),
                        Piece::Text(" then "),
                        Piece::Node(*c, 0),
                    ]);
                }
            }
        }
        out
    }

    fn node_prec(&self, id: ExprId) -> u8 {
        match self.model.arena.kind(id) {
            NodeKind::Bin(op, _, _) => prec(*op),
            NodeKind::Neg(_) => 7,
            NodeKind::Not(_) => 3,
            NodeKind::If(..) => 0,
            NodeKind::Const(v) if *v < 0.0 => 7,
            _ => 9,
        }
    }

    fn at(&self, id: ExprId, min: u8) -> String {
        let a = &self.model.arena;
        let p = self.node_prec(id);
        let s = match a.kind(id) {
            NodeKind::Const(v) => format_number(*v),
            NodeKind::Var(v) => self.model.var_name(*v),
            NodeKind::Neg(x) => format!("-{}", self.at(*x, 8)),
            NodeKind::Not(x) => format!("not {}", self.at(*x, 4)),
            NodeKind::Bin(op, l, r) => {
                let q = prec(*op);
                let (lmin, rmin) = match op {
                    BinOp::Pow => (q + 1, q),
                    _ => (q, q + 1),
                };
                let sep = if matches!(op, BinOp::Pow) { "" } else { " " };
                format!("{}{sep}{}{sep}{}", self.at(*l, lmin), op.symbol(), self.at(*r, rmin))
            }
            NodeKind::Call(f, args) => {
                let args: Vec<String> = args.iter().map(|x| self.at(*x, 0)).collect();
                format!("{}({})", f.name(), args.join(", "))
            }
            NodeKind::If(c, x, y) => {
                format!("if {} then {} else {}", self.at(*c, 0), self.at(*x, 0), self.at(*y, 0))
            }
        };
        if p < min {
            format!("({s})")
        } else {
            s
        }
    }
}
