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

/// Evaluates one expression; truth values are 1.0 and 0.0.
pub fn eval(m: &Model, id: ExprId, env: &Env) -> f64 {
    let get = |xs: &[f64], i: usize| xs.get(i).copied().unwrap_or(f64::NAN);
    match m.arena.kind(id) {
        NodeKind::Const(v) => *v,
        NodeKind::Var(v) => match *v {
            Var::Param(i) => get(env.params, i),
            Var::State(i) => get(env.states, i),
            Var::Value(i) => get(env.values, i),
            Var::Time => env.t,
            Var::EventArg(i) => get(env.args, i),
        },
        NodeKind::Neg(a) => -eval(m, *a, env),
        NodeKind::Not(a) => truth(eval(m, *a, env) == 0.0),
        NodeKind::Bin(op, a, b) => {
            let x = eval(m, *a, env);
            match op {
                BinOp::And => return truth(x != 0.0 && eval(m, *b, env) != 0.0),
                BinOp::Or => return truth(x != 0.0 || eval(m, *b, env) != 0.0),
                _ => {}
            }
            let y = eval(m, *b, env);
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
                BinOp::And | BinOp::Or => f64::NAN,
            }
        }
        NodeKind::Call(f, args) => {
            let mut vals = [0.0f64; 2];
            for (slot, a) in vals.iter_mut().zip(args) {
                *slot = eval(m, *a, env);
            }
            f.eval(&vals[..args.len().min(2)])
        }
        NodeKind::If(c, a, b) => {
            if eval(m, *c, env) != 0.0 {
                eval(m, *a, env)
            } else {
                eval(m, *b, env)
            }
        }
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

/// Evaluates every derived value and input, in dependency order, into `out`.
pub fn eval_values(m: &Model, t: f64, states: &[f64], params: &[f64], exprs: &[ExprId], out: &mut Vec<f64>) {
    out.clear();
    for e in exprs {
        let env = Env { t, states, params, values: out, args: &[] };
        let v = eval(m, *e, &env);
        out.push(v);
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
