//! A configured node model as a vector field `dx/dt = f(x; p, S)`, with
//! its Jacobian `∂f/∂x` from the symbolic derivatives the implicit methods
//! use (`schemes::jacobian::Jacobian`), and for a brain's node the
//! coupling's linearization: `∂f/∂S_k` (how the node's right sides move
//! with its `k`-th delayed sum) and `∂s_k/∂x` (how what it sends moves
//! with its states).
//!
//! Input: a [`PointRun`] (the model with its parameter and value
//! overrides: `--set`, block constants, and for a brain the couplings
//! added to their inputs), and optionally a *knob*: one parameter or input
//! whose value the analysis varies (continuation, the coupling scan).
//! Output: a [`System`] that evaluates `f`, `∂f/∂x` and the coupling terms
//! at any state and parameter vector, with the IR evaluator.
//!
//! Invariants: the overrides are written into the model's values before
//! differentiating, so derivatives see exactly what the kernel computes;
//! the values are evaluated in an order that respects what each reads
//! (overrides may read values declared after them), computed once here.
//! Time is 0: the analysis is of the autonomous system.

use crate::experiment::point::PointRun;
use crate::ir::eval::{eval, Env};
use crate::ir::{self, ExprId, Model, NodeKind, Ty, Var};
use crate::schemes::jacobian::{states_read, Jacobian};
use crate::symbolic::Differ;
use crate::syntax::ast::BinOp;
use nalgebra::DMatrix;

/// What the analysis varies.
#[derive(Clone, Copy, Debug)]
pub enum Knob {
    Param(usize),
    /// An input (a value), made a parameter of its own for the analysis.
    Input(usize),
}

/// One `sum_j` of a brain's couplings, as the node sees it.
#[derive(Clone, Debug)]
pub struct SumTerm {
    /// The parameters `__sumK` and `__rowK`.
    pub sum_param: usize,
    pub row_param: usize,
    /// What the node sends, and its derivatives (state, ∂s/∂x).
    sent: ExprId,
    dsent: Vec<(usize, ExprId)>,
    /// ∂f_s/∂S per state.
    dfds: Vec<ExprId>,
}

/// A node model ready to evaluate.
pub struct System {
    pub m: Model,
    /// Values in an order where each comes after the values it reads.
    order: Vec<usize>,
    /// Those of `order` what the nodes send reads.
    sent_order: Vec<usize>,
    rhs: Vec<ExprId>,
    /// Per row: (column, ∂f_row/∂x_col).
    jac: Vec<Vec<(usize, ExprId)>>,
    pub sums: Vec<SumTerm>,
    /// The parameter the knob sets.
    pub knob: Option<usize>,
    overrides: Vec<Option<ExprId>>,
    /// What the analysis leaves out (events, time).
    pub notes: Vec<String>,
}

impl System {
    /// The model of `p` with its overrides, `sums` (sum parameter, row
    /// parameter, sent value) for a brain's node, `targets` (input, coupling
    /// value, negated) so an input knob keeps the coupling added to it.
    pub fn new(
        p: &PointRun,
        sums: &[(usize, usize, usize)],
        targets: &[(usize, usize, bool)],
        knob: Option<Knob>,
    ) -> Result<System, String> {
        let mut m = p.model.clone();
        let mut overrides = p.param_overrides.clone();
        overrides.resize(m.params.len(), None);
        let mut values = p.value_overrides.clone();
        values.resize(m.values.len(), None);
        let knob = match knob {
            None => None,
            Some(Knob::Param(i)) => Some(i),
            Some(Knob::Input(v)) => {
                let (dim, unit, span) = (m.values[v].dim, m.values[v].unit.clone(), m.values[v].span);
                let q = m.params.len();
                let zero = m.arena.add(NodeKind::Const(0.0), Ty::Num(dim), span);
                m.params.push(ir::Param { name: format!("__knob_{}", m.values[v].name), value: zero, dim, unit, span });
                overrides.push(None);
                let base = m.arena.add(NodeKind::Var(Var::Param(q)), Ty::Num(dim), span);
                let e = match targets.iter().find(|t| t.0 == v) {
                    Some(&(_, cv, negate)) => {
                        let c = m.arena.add(NodeKind::Var(Var::Value(cv)), Ty::Num(dim), span);
                        let op = if negate { BinOp::Sub } else { BinOp::Add };
                        m.arena.add(NodeKind::Bin(op, base, c), Ty::Num(dim), span)
                    }
                    None => base,
                };
                values[v] = Some(e);
                Some(q)
            }
        };
        for (v, e) in values.iter().enumerate() {
            if let Some(e) = e {
                m.values[v].expr = *e;
            }
        }
        let mut notes = Vec::new();
        if !m.events.is_empty() {
            notes.push(format!("`{}` has events; the analysis ignores them (the flow between events only)", m.name));
        }
        let mut rhs = Vec::new();
        for s in &m.states {
            match s.rhs {
                Some(r) => rhs.push(r),
                None => return Err(format!("state `{}` has no differential equation", s.name)),
            }
        }
        if rhs.iter().any(|&r| m.reads(r, |v| v == Var::Time)) {
            notes.push("the right sides read time; they are evaluated at t = 0".into());
        }
        let mut j = Jacobian::new(&m);
        let mut jac = Vec::new();
        for i in 0..rhs.len() {
            let mut row = Vec::new();
            for c in j.cols(i).to_vec() {
                row.push((c, j.entry(&mut m, i, c)?));
            }
            jac.push(row);
        }
        let mut differ = Differ::sharing();
        let mut terms = Vec::new();
        for &(sum_param, row_param, sent_value) in sums {
            let sent = m.values[sent_value].expr;
            let mut dsent = Vec::new();
            for t in states_read(&m, sent) {
                dsent.push((t, differ.derivative(&mut m, sent, Var::State(t))?));
            }
            let mut dfds = Vec::new();
            for &r in &rhs {
                dfds.push(differ.derivative(&mut m, r, Var::Param(sum_param))?);
            }
            terms.push(SumTerm { sum_param, row_param, sent, dsent, dfds });
        }
        let order = value_order(&m)?;
        let mut needed = vec![false; m.values.len()];
        let mut stack: Vec<usize> = terms.iter().flat_map(|t| direct_value_reads(&m, t.sent)).collect();
        while let Some(v) = stack.pop() {
            if !std::mem::replace(&mut needed[v], true) {
                stack.extend(direct_value_reads(&m, m.values[v].expr));
            }
        }
        let sent_order = order.iter().copied().filter(|&v| needed[v]).collect();
        Ok(System { m, order, sent_order, rhs, jac, sums: terms, knob, overrides, notes })
    }

    /// Number of states.
    pub fn dim(&self) -> usize {
        self.rhs.len()
    }

    /// The parameters, the knob (if any) at `knob`.
    pub fn params(&self, knob: Option<f64>) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.m.params.len());
        for (i, p) in self.m.params.iter().enumerate() {
            let v = match (self.knob, knob) {
                (Some(q), Some(v)) if q == i => v,
                _ => {
                    let e = self.overrides.get(i).copied().flatten().unwrap_or(p.value);
                    eval(&self.m, e, &Env { t: 0.0, states: &[], params: &out, values: &[], args: &[] })
                }
            };
            out.push(v);
        }
        out
    }

    /// The knob's value as configured (before the analysis sets it).
    pub fn knob_value(&self, p: &PointRun, knob: Knob) -> f64 {
        match knob {
            Knob::Param(i) => self.params(None)[i],
            Knob::Input(v) => {
                let e = p.value_overrides.get(v).copied().flatten().unwrap_or(p.model.values[v].expr);
                let base = match p.model.arena.kind(e) {
                    // a brain's input: the base the coupling is added to
                    NodeKind::Bin(BinOp::Add | BinOp::Sub, b, c)
                        if matches!(p.model.arena.kind(*c), NodeKind::Var(Var::Value(k))
                            if p.model.values[*k].name.starts_with("__couple")) =>
                    {
                        *b
                    }
                    _ => e,
                };
                let params = crate::ir::eval::eval_params(&p.model, &p.param_overrides);
                let states = vec![f64::NAN; p.model.states.len()];
                let vals = crate::ir::eval::constant_values(&p.model, &params);
                eval(&p.model, base, &Env { t: 0.0, states: &states, params: &params, values: &vals, args: &[] })
            }
        }
    }

    /// Every value at state `x`.
    pub fn values(&self, x: &[f64], params: &[f64]) -> Vec<f64> {
        self.values_of(&self.order, x, params)
    }

    /// The values what the node sends reads (the others NaN).
    pub fn sent_values(&self, x: &[f64], params: &[f64]) -> Vec<f64> {
        self.values_of(&self.sent_order, x, params)
    }

    fn values_of(&self, order: &[usize], x: &[f64], params: &[f64]) -> Vec<f64> {
        let mut vals = vec![f64::NAN; self.m.values.len()];
        for &k in order {
            let v = eval(&self.m, self.m.values[k].expr, &Env { t: 0.0, states: x, params, values: &vals, args: &[] });
            vals[k] = v;
        }
        vals
    }

    fn at(&self, e: ExprId, x: &[f64], params: &[f64], vals: &[f64]) -> f64 {
        eval(&self.m, e, &Env { t: 0.0, states: x, params, values: vals, args: &[] })
    }

    /// f(x) into `out`.
    pub fn rhs(&self, x: &[f64], params: &[f64], vals: &[f64], out: &mut [f64]) {
        for (o, &r) in out.iter_mut().zip(&self.rhs) {
            *o = self.at(r, x, params, vals);
        }
    }

    /// ∂f/∂x at x.
    pub fn jacobian(&self, x: &[f64], params: &[f64], vals: &[f64]) -> DMatrix<f64> {
        let n = self.dim();
        let mut a = DMatrix::zeros(n, n);
        for (i, row) in self.jac.iter().enumerate() {
            for &(c, e) in row {
                a[(i, c)] = self.at(e, x, params, vals);
            }
        }
        a
    }

    /// What the node sends through sum k.
    pub fn sent(&self, k: usize, x: &[f64], params: &[f64], vals: &[f64]) -> f64 {
        self.at(self.sums[k].sent, x, params, vals)
    }

    /// Sum k's linearization at x: (∂f/∂S_k, ∂s_k/∂x).
    pub fn coupling(&self, k: usize, x: &[f64], params: &[f64], vals: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let s = &self.sums[k];
        let b = s.dfds.iter().map(|&e| self.at(e, x, params, vals)).collect();
        let mut g = vec![0.0; self.dim()];
        for &(t, e) in &s.dsent {
            g[t] = self.at(e, x, params, vals);
        }
        (b, g)
    }
}

/// The values in an order where each follows those it reads (depth-first,
/// explicit stack). Lowering keeps declaration order, but an override may
/// read a value declared after the one it replaces.
fn value_order(m: &Model) -> Result<Vec<usize>, String> {
    let n = m.values.len();
    let reads: Vec<Vec<usize>> = m.values.iter().map(|v| direct_value_reads(m, v.expr)).collect();
    // 0 unseen, 1 on the stack, 2 done
    let mut mark = vec![0u8; n];
    let mut order = Vec::with_capacity(n);
    for root in 0..n {
        if mark[root] != 0 {
            continue;
        }
        let mut stack = vec![(root, 0usize)];
        mark[root] = 1;
        while let Some(&mut (v, ref mut next)) = stack.last_mut() {
            if let Some(&w) = reads[v].get(*next) {
                *next += 1;
                match mark[w] {
                    0 => {
                        mark[w] = 1;
                        stack.push((w, 0));
                    }
                    1 => return Err(format!("the value `{}` reads itself", m.values[w].name)),
                    _ => {}
                }
            } else {
                mark[v] = 2;
                order.push(v);
                stack.pop();
            }
        }
    }
    Ok(order)
}

/// The values an expression reads directly (not through other values).
fn direct_value_reads(m: &Model, e: ExprId) -> Vec<usize> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![e];
    while let Some(x) = stack.pop() {
        if !seen.insert(x) {
            continue;
        }
        match m.arena.kind(x) {
            NodeKind::Var(Var::Value(k)) => out.push(*k),
            kind => ir::for_each_child(kind, |c| stack.push(c)),
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}
