//! The kernel interpreter: runs a [`Kernel`] neuron by neuron in Rust. It
//! is the oracle the JIT is compared with, bit for bit.

use super::{kmath, Cmp, Inst, Kernel, Val};

/// The value of one instruction given its operands' values.
pub fn apply(inst: &Inst, get: &dyn Fn(Val) -> f64) -> f64 {
    let truth = |b: bool| if b { 1.0 } else { 0.0 };
    match *inst {
        Inst::Const(c) => c,
        // inputs, and table lookups: read by `step`, never folded
        Inst::State(_) | Inst::Param(_) | Inst::Time | Inst::TimeNext | Inst::Lookup { .. } => f64::NAN,
        Inst::Neg(a) => -get(a),
        Inst::Add(a, b) => get(a) + get(b),
        Inst::Sub(a, b) => get(a) - get(b),
        Inst::Mul(a, b) => get(a) * get(b),
        Inst::Div(a, b) => get(a) / get(b),
        Inst::Min(a, b) => kmath::fmin(get(a), get(b)),
        Inst::Max(a, b) => kmath::fmax(get(a), get(b)),
        Inst::Sqrt(a) => get(a).sqrt(),
        Inst::Abs(a) => get(a).abs(),
        Inst::Exp(a) => kmath::exp(get(a)),
        Inst::Log(a) => kmath::log(get(a)),
        Inst::Efun(a) => kmath::efun(get(a)),
        Inst::Step(a) => truth(get(a) >= 0.0),
        Inst::Cmp(c, a, b) => {
            let (x, y) = (get(a), get(b));
            truth(match c {
                Cmp::Lt => x < y,
                Cmp::Le => x <= y,
                Cmp::Gt => x > y,
                Cmp::Ge => x >= y,
                Cmp::Eq => x == y,
                Cmp::Ne => x != y,
                // unordered (a NaN) counts as true
                Cmp::NotLt => x.partial_cmp(&y) != Some(std::cmp::Ordering::Less),
                Cmp::NotGt => x.partial_cmp(&y) != Some(std::cmp::Ordering::Greater),
            })
        }
        Inst::And(a, b) => truth(get(a) != 0.0 && get(b) != 0.0),
        Inst::Or(a, b) => truth(get(a) != 0.0 || get(b) != 0.0),
        Inst::Not(a) => truth(get(a) == 0.0),
        Inst::MulAdd(a, b, c) => get(a).mul_add(get(b), get(c)),
        Inst::Select(c, a, b) => {
            if get(c) != 0.0 {
                get(a)
            } else {
                get(b)
            }
        }
    }
}

/// Spikes of one step: (neuron, time).
pub type Spikes = Vec<(usize, f64)>;

/// Advances the neurons one step from `t` to `t_next` (the grid's next
/// point, so that consecutive steps agree on their shared end).
/// `states[k][i]` is state k of neuron i; `params[k][i]` likewise.
pub fn step(kernel: &Kernel, states: &mut [&mut [f64]], params: &[&[f64]], t: f64, t_next: f64, spikes: &mut Spikes) {
    let n = states.first().map_or(0, |s| s.len());
    let mut vals = vec![0.0f64; kernel.insts.len()];
    for i in 0..n {
        for (v, inst) in kernel.insts.iter().enumerate() {
            vals[v] = match *inst {
                Inst::State(k) => states[k as usize][i],
                Inst::Param(k) => params[k as usize][i],
                Inst::Time => t,
                Inst::TimeNext => t_next,
                Inst::Lookup { table, col, at } => {
                    let tab = &kernel.tables[table as usize];
                    let (row, frac) = tab.locate(vals[at as usize]);
                    tab.interpolate(row, frac, col as usize)
                }
                ref other => apply(other, &|x| vals[x as usize]),
            };
        }
        for (k, &v) in kernel.stores.iter().enumerate() {
            states[k][i] = vals[v as usize];
        }
        for e in &kernel.events {
            if e.emits && vals[e.fire as usize] != 0.0 {
                spikes.push((i, vals[e.time as usize]));
            }
        }
    }
}
