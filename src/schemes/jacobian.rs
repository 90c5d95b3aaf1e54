//! The symbolic Jacobian ∂f_i/∂x_j of a model's right sides, sparse.
//!
//! Row i holds only the states f_i reads (through derived values); every
//! other entry is zero without being derived. Entries are derived when
//! first asked for, by one [`Differ`] for the whole model, so a derived
//! value read by many equations is differentiated once per state (and its
//! derivative becomes the value `∂a/∂x`, see `symbolic::diff`).

use crate::ir::{ExprId, Model, NodeKind, Ty, Var};
use crate::symbolic::Differ;
use crate::units::Dim;
use std::collections::HashSet;

/// One equation's row: the states it reads, ascending, and their entries
/// once derived (simplified).
struct Row {
    rhs: ExprId,
    cols: Vec<usize>,
    entries: Vec<Option<ExprId>>,
}

/// ∂f_i/∂x_j for the states with ODEs, derived on demand.
pub struct Jacobian {
    differ: Differ,
    rows: Vec<Option<Row>>,
    /// The constant 0 standing for every entry outside a row's states.
    zero: Option<ExprId>,
}

impl Jacobian {
    /// The structure of the Jacobian: which states each right side reads.
    /// Nothing is differentiated yet.
    pub fn new(m: &Model) -> Jacobian {
        let rows = m
            .states
            .iter()
            .map(|s| s.rhs.map(|rhs| (rhs, states_read(m, rhs))))
            .map(|r| r.map(|(rhs, cols)| Row { rhs, entries: vec![None; cols.len()], cols }))
            .collect();
        Jacobian { differ: Differ::sharing(), rows, zero: None }
    }

    /// Whether state i has an ODE (a row).
    pub fn has_row(&self, i: usize) -> bool {
        matches!(self.rows.get(i), Some(Some(_)))
    }

    /// The states row i may depend on, ascending: its nonzero pattern.
    pub fn cols(&self, i: usize) -> &[usize] {
        self.rows.get(i).and_then(|r| r.as_ref()).map_or(&[], |r| &r.cols)
    }

    /// ∂f_i/∂x_j, simplified; the constant 0 outside row i's states.
    pub fn entry(&mut self, m: &mut Model, i: usize, j: usize) -> Result<ExprId, String> {
        let Some(row) = self.rows.get(i).and_then(|r| r.as_ref()) else { return Ok(self.zero(m)) };
        let Ok(k) = row.cols.binary_search(&j) else { return Ok(self.zero(m)) };
        if let Some(e) = row.entries[k] {
            return Ok(e);
        }
        let rhs = row.rhs;
        let d = self.differ.derivative(m, rhs, Var::State(j))?;
        if let Some(Some(row)) = self.rows.get_mut(i) {
            row.entries[k] = Some(d);
        }
        Ok(d)
    }

    /// The constant 0 the Jacobian uses for the entries it leaves out.
    pub fn zero(&mut self, m: &mut Model) -> ExprId {
        *self.zero.get_or_insert_with(|| m.arena.add(NodeKind::Const(0.0), Ty::Num(Dim::NONE), m.span))
    }

    /// Whether `e` reads parameters at most (through values too).
    pub fn is_constant(&mut self, m: &Model, e: ExprId) -> bool {
        self.differ.is_constant(m, e)
    }
}

/// The states an expression reads, directly or through derived values,
/// ascending. Each node and value is walked once.
pub fn states_read(m: &Model, e: ExprId) -> Vec<usize> {
    let mut out = Vec::new();
    walk_reads(m, e, |v| {
        if let Var::State(i) = v {
            out.push(i);
        }
        false
    });
    out.sort_unstable();
    out.dedup();
    out
}

/// Whether `e` reads state i, directly or through derived values.
pub fn reads_state(m: &Model, e: ExprId, i: usize) -> bool {
    walk_reads(m, e, |v| v == Var::State(i))
}

/// Walks what `e` reads, through values, calling `hit` on each variable
/// (other than a value) until it returns true; returns whether it did.
pub(super) fn walk_reads(m: &Model, e: ExprId, mut hit: impl FnMut(Var) -> bool) -> bool {
    let mut seen = HashSet::new();
    let mut stack = vec![e];
    while let Some(x) = stack.pop() {
        if !seen.insert(x) {
            continue;
        }
        match m.arena.kind(x) {
            NodeKind::Var(Var::Value(k)) => {
                if let Some(v) = m.values.get(*k) {
                    stack.push(v.expr);
                }
            }
            NodeKind::Var(v) => {
                if hit(*v) {
                    return true;
                }
            }
            kind => crate::ir::for_each_child(kind, |c| stack.push(c)),
        }
    }
    false
}
