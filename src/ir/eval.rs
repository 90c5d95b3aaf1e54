//! The IR evaluator: computes IR expressions by walking the arena. The
//! reference runtime's arithmetic, and the way every other stage evaluates
//! constants (parameters, initial values, exact propagator matrices).
//! Clarity over speed: it is the oracle for every faster back end.

use crate::ir::{ExprId, Model, NodeKind, Var};
use crate::syntax::ast::BinOp;

/// The values an expression can read.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    pub t: f64,
    pub states: &'a [f64],
    pub params: &'a [f64],
    pub values: &'a [f64],
    pub args: &'a [f64],
}

/// Expressions at most this deep are evaluated by plain recursion (the
/// fast path); deeper ones by [`eval_deep`] with an explicit stack.
const RECURSION_DEPTH: usize = 256;

/// Evaluates one expression; truth values are 1.0 and 0.0.
pub fn eval(m: &Model, id: ExprId, env: &Env) -> f64 {
    if m.arena.depth(id) <= RECURSION_DEPTH {
        eval_shallow(m, id, env)
    } else {
        eval_deep(m, id, env)
    }
}

/// The recursive evaluator, for expressions at most `RECURSION_DEPTH` deep
/// (the recursion follows the expression, so its depth is bounded).
fn eval_shallow(m: &Model, id: ExprId, env: &Env) -> f64 {
    let rec = |e: ExprId| eval_shallow(m, e, env);
    match m.arena.kind(id) {
        NodeKind::Const(v) => *v,
        NodeKind::Var(v) => read(env, *v),
        NodeKind::Neg(a) => -rec(*a),
        NodeKind::Not(a) => truth(rec(*a) == 0.0),
        NodeKind::Bin(op, a, b) => {
            let x = rec(*a);
            match op {
                BinOp::And => return truth(x != 0.0 && rec(*b) != 0.0),
                BinOp::Or => return truth(x != 0.0 || rec(*b) != 0.0),
                _ => {}
            }
            binary(*op, x, rec(*b))
        }
        NodeKind::Call(f, args) => {
            let mut vals = [0.0f64; 2];
            for (slot, a) in vals.iter_mut().zip(args) {
                *slot = rec(*a);
            }
            f.eval(&vals[..args.len().min(2)])
        }
        NodeKind::If(c, a, b) => {
            if rec(*c) != 0.0 {
                rec(*a)
            } else {
                rec(*b)
            }
        }
    }
}

/// What is left to do for one node in [`eval_deep`].
enum Task {
    /// Evaluate the node.
    Visit(ExprId),
    /// Its operands are on the value stack: combine them.
    Apply(ExprId),
    /// The condition of an `if` is on the stack: evaluate one branch.
    Branch(ExprId, ExprId),
    /// The left side of `and` (`or`) is on the stack: the right side is
    /// evaluated only when it decides the result.
    And(ExprId),
    Or(ExprId),
    /// Turn the number on the stack into a truth value.
    Truth,
}

/// The same evaluation as the recursive one, with explicit stacks: the
/// same operations in the same order, for expressions of any depth.
pub fn eval_deep(m: &Model, id: ExprId, env: &Env) -> f64 {
    let mut tasks = vec![Task::Visit(id)];
    let mut vals: Vec<f64> = Vec::new();
    fn pop(vals: &mut Vec<f64>) -> f64 {
        vals.pop().unwrap_or(f64::NAN)
    }
    while let Some(task) = tasks.pop() {
        match task {
            Task::Visit(e) => match m.arena.kind(e) {
                NodeKind::Const(v) => vals.push(*v),
                NodeKind::Var(v) => vals.push(read(env, *v)),
                NodeKind::Neg(a) | NodeKind::Not(a) => tasks.extend([Task::Apply(e), Task::Visit(*a)]),
                NodeKind::Bin(BinOp::And, a, b) => tasks.extend([Task::And(*b), Task::Visit(*a)]),
                NodeKind::Bin(BinOp::Or, a, b) => tasks.extend([Task::Or(*b), Task::Visit(*a)]),
                NodeKind::Bin(_, a, b) => tasks.extend([Task::Apply(e), Task::Visit(*b), Task::Visit(*a)]),
                NodeKind::Call(_, args) => {
                    tasks.push(Task::Apply(e));
                    tasks.extend(args.iter().take(2).rev().map(|a| Task::Visit(*a)));
                }
                NodeKind::If(c, a, b) => tasks.extend([Task::Branch(*a, *b), Task::Visit(*c)]),
            },
            Task::Apply(e) => {
                let v = match m.arena.kind(e) {
                    NodeKind::Neg(_) => -pop(&mut vals),
                    NodeKind::Not(_) => truth(pop(&mut vals) == 0.0),
                    NodeKind::Bin(op, _, _) => {
                        let y = pop(&mut vals);
                        let x = pop(&mut vals);
                        binary(*op, x, y)
                    }
                    NodeKind::Call(f, args) => {
                        let k = args.len().min(2);
                        let mut a = [0.0f64; 2];
                        for slot in a[..k].iter_mut().rev() {
                            *slot = pop(&mut vals);
                        }
                        f.eval(&a[..k])
                    }
                    _ => f64::NAN,
                };
                vals.push(v);
            }
            Task::Branch(a, b) => {
                let c = pop(&mut vals);
                tasks.push(Task::Visit(if c != 0.0 { a } else { b }));
            }
            Task::And(b) => {
                if pop(&mut vals) != 0.0 {
                    tasks.extend([Task::Truth, Task::Visit(b)]);
                } else {
                    vals.push(0.0);
                }
            }
            Task::Or(b) => {
                if pop(&mut vals) != 0.0 {
                    vals.push(1.0);
                } else {
                    tasks.extend([Task::Truth, Task::Visit(b)]);
                }
            }
            Task::Truth => {
                let x = pop(&mut vals);
                vals.push(truth(x != 0.0));
            }
        }
    }
    pop(&mut vals)
}

fn read(env: &Env, v: Var) -> f64 {
    let get = |xs: &[f64], i: usize| xs.get(i).copied().unwrap_or(f64::NAN);
    match v {
        Var::Param(i) => get(env.params, i),
        Var::State(i) => get(env.states, i),
        Var::Value(i) => get(env.values, i),
        Var::Time => env.t,
        Var::EventArg(i) => get(env.args, i),
    }
}

pub(crate) fn binary(op: BinOp, x: f64, y: f64) -> f64 {
    match op {
        BinOp::Add => x + y,
        BinOp::Sub => x - y,
        BinOp::Mul => x * y,
        BinOp::Div => x / y,
        BinOp::Pow => pow(x, y),
        BinOp::Lt => truth(x < y),
        BinOp::Le => truth(x <= y),
        BinOp::Gt => truth(x > y),
        BinOp::Ge => truth(x >= y),
        BinOp::Eq => truth(x == y),
        BinOp::Ne => truth(x != y),
        BinOp::And => truth(x != 0.0 && y != 0.0),
        BinOp::Or => truth(x != 0.0 || y != 0.0),
    }
}

/// `x^y` with integer powers done by multiplication (exact for `m^3`).
fn pow(x: f64, y: f64) -> f64 {
    if y.fract() == 0.0 && y.abs() <= 16.0 {
        x.powi(y as i32)
    } else {
        x.powf(y)
    }
}

fn truth(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// Evaluates the parameters in order (each may use the earlier ones).
/// `overrides[i]`, when set, replaces parameter i's expression.
pub fn eval_params(m: &Model, overrides: &[Option<ExprId>]) -> Vec<f64> {
    let mut out = Vec::with_capacity(m.params.len());
    for (i, p) in m.params.iter().enumerate() {
        let expr = overrides.get(i).copied().flatten().unwrap_or(p.value);
        let env = Env { t: 0.0, states: &[], params: &out, values: &[], args: &[] };
        let v = eval(m, expr, &env);
        out.push(v);
    }
    out
}

/// The values that depend on parameters only (others come out NaN): what a
/// constant matrix entry built from derived values needs.
pub fn constant_values(m: &Model, params: &[f64]) -> Vec<f64> {
    let states = vec![f64::NAN; m.states.len()];
    let exprs: Vec<ExprId> = m.values.iter().map(|v| v.expr).collect();
    let mut out = Vec::new();
    eval_values(m, f64::NAN, &states, params, &exprs, &mut out);
    out
}

/// Evaluates every derived value and input into `out`. The model's own
/// values come in dependency order; an override (a brain's coupling added
/// to an input) may read a value after it, so with overrides the values
/// are evaluated again until none changes.
pub fn eval_values(m: &Model, t: f64, states: &[f64], params: &[f64], exprs: &[ExprId], out: &mut Vec<f64>) {
    out.clear();
    out.resize(exprs.len(), f64::NAN);
    let pass = |out: &mut Vec<f64>| {
        let mut changed = false;
        for (i, e) in exprs.iter().enumerate() {
            let v = eval(m, *e, &Env { t, states, params, values: out, args: &[] });
            changed |= v.to_bits() != out[i].to_bits();
            out[i] = v;
        }
        changed
    };
    pass(out);
    let overridden = exprs.iter().zip(&m.values).any(|(e, v)| *e != v.expr);
    if overridden {
        for _ in 0..exprs.len() {
            if !pass(out) {
                break;
            }
        }
    }
}

/// Parameters evaluated with their overrides, and every value's expression
/// with its override: what a model bound to a run reads.
pub fn bind(
    m: &Model,
    param_overrides: &[Option<ExprId>],
    value_overrides: &[Option<ExprId>],
) -> (Vec<f64>, Vec<ExprId>) {
    let params = eval_params(m, param_overrides);
    let values =
        m.values.iter().enumerate().map(|(i, v)| value_overrides.get(i).copied().flatten().unwrap_or(v.expr)).collect();
    (params, values)
}
