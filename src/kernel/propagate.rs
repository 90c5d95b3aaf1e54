//! Exact propagators that vary per neuron: exact blocks (y' = A y + b(t),
//! Rotter & Diesmann 1999) whose matrix A reads parameters given per
//! neuron (a spread membrane or synaptic time constant).
//!
//! Input: the plan's exact blocks, which parameters have per-neuron arrays,
//! and which of those the runtime rewrites every step (a brain's coupling
//! sums, noises and time series). Output: [`Propagators`], the blocks whose
//! matrix varies per neuron and the kernel's *derived* per-neuron arrays,
//! one for each entry of Phi = e^{A dt} or Psi = int_0^dt e^{A s} ds that can
//! be nonzero and can differ between neurons; and [`param_arrays`], which every runtime calls to fill the
//! kernel's parameter arrays, derived ones included, from each neuron's
//! parameters.
//!
//! Invariants: a kernel's parameter arrays are its per-neuron parameters,
//! then the derived arrays, then its ports' inputs. An entry left out is
//! zero for every neuron (no path from its row to its column in A's
//! pattern of nonzeros) or the same for every neuron (no row of A that its
//! row reaches reads a per-neuron parameter: a synaptic current whose time
//! constant is not spread, beside a spread membrane), and is folded in as a
//! constant. The propagators are those of
//! [`linalg::propagators`] for the kernel's `dt`, as the reference runtime
//! computes them, once per distinct value of the per-neuron parameters the
//! matrices read, not once per neuron. A matrix that reads something that
//! changes every step is refused: its propagators would have to be
//! computed at every step.

use super::builder::Builder;
use super::{Kernel, Unsupported};
use crate::ir::eval::{eval, eval_values, Env};
use crate::ir::{ExprId, Model, NodeKind, Var};
use crate::schemes::{linalg, Block, Plan};
use std::collections::{HashMap, HashSet};

/// Which propagator a derived array holds an entry of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// Phi = e^{A dt}: multiplies the old states.
    Phi,
    /// Psi = int_0^dt e^{A s} ds: multiplies the forcing b.
    Psi,
}

/// One derived per-neuron array: entry (`row`, `col`) of `which`
/// propagator of per-neuron block `block`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub block: u32,
    pub which: Which,
    pub row: u32,
    pub col: u32,
}

/// The matrix A of an exact block: `size` x `size` expressions, row-major
/// over the block's states.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    pub size: usize,
    pub a: Vec<ExprId>,
}

/// The exact blocks of a kernel whose matrix varies per neuron.
#[derive(Clone, Debug, Default)]
pub struct Propagators {
    /// Each block's matrix A (blocks with the same matrix expressions
    /// share one).
    pub blocks: Vec<Matrix>,
    /// The derived arrays, in the kernel's order (after the per-neuron
    /// parameters).
    pub entries: Vec<Entry>,
    /// The per-neuron parameters the matrices read, ascending: neurons
    /// with the same values of these share their propagators.
    pub reads: Vec<usize>,
}

impl Propagators {
    /// The per-neuron block with matrix `a`, if `a` varies per neuron.
    pub(super) fn block_of(&self, a: &[ExprId]) -> Option<usize> {
        self.blocks.iter().position(|b| b.a.as_slice() == a)
    }

    /// The derived array of entry (`row`, `col`) of `which` of `block`
    /// (its index among the derived arrays); `None` where the entry is
    /// zero for every neuron.
    pub(super) fn slot(&self, block: usize, which: Which, row: usize, col: usize) -> Option<usize> {
        let want = Entry { block: block as u32, which, row: row as u32, col: col as u32 };
        self.entries.iter().position(|e| *e == want)
    }

    /// The name of derived array `i`, for the kernel's list of arrays:
    /// `Phi[V, I_syn]`.
    pub(super) fn name(&self, m: &Model, states: &[Vec<usize>], i: usize) -> String {
        let e = self.entries[i];
        let st = &states[e.block as usize];
        let name = |r: u32| st.get(r as usize).map_or("?", |&s| m.states[s].name.as_str());
        format!("{:?}[{}, {}]", e.which, name(e.row), name(e.col))
    }
}

/// What the walk through an exact block's matrix found first that keeps
/// it from being constant for each neuron over the run.
enum Varying {
    /// A per-neuron parameter the runtime rewrites every step, reached
    /// through the input of this name if any.
    PerStep(usize, Option<String>),
    /// A state, the time or an event's argument, through an input if any.
    Other(Var, Option<String>),
}

/// Classifies the plan's exact blocks: those whose matrix reads a
/// per-neuron parameter become per-neuron blocks with their derived arrays.
/// Refuses a matrix that reads a parameter in `per_step` or anything else
/// that changes during the run (through an input's override).
pub(super) fn plan(
    b: &Builder,
    plan: &Plan,
    per_step: &[usize],
) -> Result<(Propagators, Vec<Vec<usize>>), Unsupported> {
    let m = b.m;
    let mut out = Propagators::default();
    let mut block_states = Vec::new();
    let mut reads = HashSet::new();
    for block in &plan.blocks {
        let Block::Exact { states, a } = block else { continue };
        let k = states.len();
        let mut per = Vec::new();
        // rows of A that read a per-neuron parameter
        let mut row_reads = vec![false; k];
        for (idx, &e) in a.iter().enumerate() {
            let mut mine = Vec::new();
            if let Some(v) = walk(b, e, per_step, &mut mine)? {
                return Err(refuse(m, states, v));
            }
            row_reads[idx / k] |= !mine.is_empty();
            for p in mine {
                if !per.contains(&p) {
                    per.push(p);
                }
            }
        }
        if per.is_empty() || out.block_of(a).is_some() {
            continue;
        }
        reads.extend(per);
        let bi = out.blocks.len() as u32;
        let pattern = reach(m, a, k);
        // row r of e^{A t} depends on the rows of A reachable from r: where
        // none reads a per-neuron parameter, the row is folded as constants
        let varies: Vec<bool> = (0..k).map(|r| (0..k).any(|i| pattern[r * k + i] && row_reads[i])).collect();
        for which in [Which::Phi, Which::Psi] {
            for (idx, &nonzero) in pattern.iter().enumerate() {
                if nonzero && varies[idx / k] {
                    out.entries.push(Entry { block: bi, which, row: (idx / k) as u32, col: (idx % k) as u32 });
                }
            }
        }
        out.blocks.push(Matrix { size: states.len(), a: a.clone() });
        block_states.push(states.clone());
    }
    out.reads = reads.into_iter().collect();
    out.reads.sort_unstable();
    Ok((out, block_states))
}

/// Walks what `e` reads, through values with their overrides: the
/// per-neuron parameters it reads go into `per`; the first thing it reads
/// that changes during the run, if any, is returned.
fn walk(b: &Builder, e: ExprId, per_step: &[usize], per: &mut Vec<usize>) -> Result<Option<Varying>, Unsupported> {
    let m = b.m;
    let mut seen = HashSet::new();
    // (node, the overridden input it was reached through)
    let mut stack: Vec<(ExprId, Option<usize>)> = vec![(e, None)];
    while let Some((x, via)) = stack.pop() {
        if !seen.insert(x) {
            continue;
        }
        let via_name = || via.and_then(|k| m.values.get(k)).map(|v| v.name.clone());
        match m.arena.kind(x) {
            NodeKind::Var(Var::Value(k)) => {
                let overridden = b.value_overridden(*k);
                stack.push((b.value_expr(*k)?, if overridden && via.is_none() { Some(*k) } else { via }));
            }
            NodeKind::Var(Var::Param(p)) => {
                if per_step.contains(p) {
                    return Ok(Some(Varying::PerStep(*p, via_name())));
                }
                if b.per_neuron(*p) && !per.contains(p) {
                    per.push(*p);
                }
            }
            NodeKind::Var(v) => return Ok(Some(Varying::Other(*v, via_name()))),
            kind => crate::ir::for_each_child(kind, |c| stack.push((c, via))),
        }
    }
    Ok(None)
}

/// E0404's reason for an exact block whose matrix changes during the run.
fn refuse(m: &Model, states: &[usize], v: Varying) -> Unsupported {
    let names: Vec<String> = states.iter().map(|&s| format!("`{}`", m.states[s].name)).collect();
    let what = match v {
        Varying::PerStep(p, via) => {
            let p = &m.params[p].name;
            match via {
                Some(input) => format!("the input `{input}`, which the runtime sets at every step (from `{p}`)"),
                None => format!("`{p}`, which the runtime sets at every step"),
            }
        }
        Varying::Other(var, via) => {
            let var = match var {
                Var::State(s) => format!("the state `{}`", m.states[s].name),
                Var::Time => "the time".to_string(),
                _ => "an event's argument".to_string(),
            };
            match via {
                Some(input) => format!("the input `{input}`, which reads {var} and so changes every step"),
                None => format!("{var}, which changes every step"),
            }
        }
    };
    Unsupported(format!(
        "the matrix A of the exact block of {} reads {what}, but kernels compute exact propagators once per \
         neuron, before the run",
        names.join(", ")
    ))
}

/// Which entries of e^{A t} can be nonzero, row-major: (r, c) where c is
/// reachable from r along A's structural nonzeros (r itself included).
/// The same holds for int e^{A s} ds, whose series starts with I.
fn reach(m: &Model, a: &[ExprId], k: usize) -> Vec<bool> {
    let mut r: Vec<bool> = (0..k * k).map(|idx| idx / k == idx % k || m.arena.as_const(a[idx]) != Some(0.0)).collect();
    // transitive closure (Warshall): blocks are small
    for via in 0..k {
        for i in 0..k {
            if r[i * k + via] {
                for j in 0..k {
                    if r[via * k + j] {
                        r[i * k + j] = true;
                    }
                }
            }
        }
    }
    r
}

/// The matrix A of an exact block for parameters `params` and the model's
/// values `values` (computed from them).
pub(super) fn matrix(m: &Model, a: &[ExprId], k: usize, params: &[f64], values: &[f64]) -> linalg::Mat {
    let env = Env { t: 0.0, states: &[], params, values, args: &[] };
    linalg::Mat { n: k, a: a.iter().map(|e| eval(m, *e, &env)).collect() }
}

/// The values of the model's derived values and inputs where they do not
/// depend on states or time: `value_exprs` are their expressions, with
/// inputs' overrides.
pub(super) fn constant_values(m: &Model, params: &[f64], value_exprs: &[ExprId]) -> Vec<f64> {
    let states = vec![f64::NAN; m.states.len()];
    let mut out = Vec::new();
    eval_values(m, f64::NAN, &states, params, value_exprs, &mut out);
    out
}

/// The kernel's parameter arrays before its ports: `per_neuron`'s arrays,
/// in order, then the derived arrays of [`Propagators`], computed for each
/// neuron from its parameters (`params` with its per-neuron values set) and
/// the model's values (`value_exprs`: their expressions, with inputs'
/// overrides). Every runtime fills its arrays through this function, so
/// that populations, networks and brains cannot drift apart.
pub fn param_arrays(
    k: &Kernel,
    m: &Model,
    params: &[f64],
    value_exprs: &[ExprId],
    per_neuron: &[(usize, Vec<f64>)],
) -> Vec<Vec<f64>> {
    let mut out: Vec<Vec<f64>> = per_neuron.iter().map(|(_, v)| v.clone()).collect();
    let pr = &k.propagators;
    if pr.entries.is_empty() {
        return out;
    }
    let n = per_neuron.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
    // neurons are independent: shared out over the cores, each share with
    // its own cache (100,000 distinct neurons take some 0.7 s on one)
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let threads = cores.min(n.div_ceil(MIN_NEURONS)).max(1);
    let size = n.div_ceil(threads).max(1);
    let pieces: Vec<Vec<f64>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let range = (t * size).min(n)..((t + 1) * size).min(n);
                scope.spawn(move || entries_of(k, m, params, value_exprs, per_neuron, range))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    });
    let width = pr.entries.len();
    let mut derived = vec![vec![0.0; n]; width];
    for (t, piece) in pieces.iter().enumerate() {
        for (r, row) in piece.chunks(width).enumerate() {
            for (arr, v) in derived.iter_mut().zip(row) {
                arr[t * size + r] = *v;
            }
        }
    }
    out.extend(derived);
    out
}

/// Neurons per thread at least when filling derived arrays.
const MIN_NEURONS: usize = 4096;

/// The derived entries of the neurons `range`, neuron by neuron (each
/// neuron's entries in the order of [`Propagators::entries`]), computed
/// once per distinct value of the parameters the matrices read.
fn entries_of(
    k: &Kernel,
    m: &Model,
    params: &[f64],
    value_exprs: &[ExprId],
    per_neuron: &[(usize, Vec<f64>)],
    range: std::ops::Range<usize>,
) -> Vec<f64> {
    let pr = &k.propagators;
    let mut out = Vec::with_capacity(range.len() * pr.entries.len());
    let mut cache: HashMap<Vec<u64>, Vec<f64>> = HashMap::new();
    let mut p = params.to_vec();
    for i in range {
        for (q, vals) in per_neuron {
            if let (Some(slot), Some(v)) = (p.get_mut(*q), vals.get(i)) {
                *slot = *v;
            }
        }
        let key: Vec<u64> = pr.reads.iter().map(|&q| p.get(q).map_or(0, |v| v.to_bits())).collect();
        out.extend_from_slice(cache.entry(key).or_insert_with(|| entries_for(k, m, &p, value_exprs)));
    }
    out
}

/// Every derived entry of `k` for one neuron's parameters.
fn entries_for(k: &Kernel, m: &Model, params: &[f64], value_exprs: &[ExprId]) -> Vec<f64> {
    let pr = &k.propagators;
    let values = constant_values(m, params, value_exprs);
    let props: Vec<(linalg::Mat, linalg::Mat)> =
        pr.blocks.iter().map(|b| linalg::propagators(&matrix(m, &b.a, b.size, params, &values), k.dt)).collect();
    pr.entries
        .iter()
        .map(|e| {
            let (phi, psi) = &props[e.block as usize];
            let mat = if e.which == Which::Phi { phi } else { psi };
            mat.get(e.row as usize, e.col as usize)
        })
        .collect()
}

/// dA/dp for each per-neuron block of `k` (row-major, as the blocks'
/// matrices), differentiated symbolically into `m`'s arena (whose values
/// should hold the run's expressions, inputs' overrides included). Built
/// once; [`derived_derivatives`] evaluates them for each parameter point.
pub fn matrix_derivatives(k: &Kernel, m: &mut Model, wrt: usize) -> Result<Vec<Vec<ExprId>>, String> {
    k.propagators
        .blocks
        .iter()
        .map(|b| b.a.iter().map(|&e| crate::symbolic::diff(m, e, Var::Param(wrt))).collect())
        .collect()
}

/// The derivatives of one neuron's derived entries (in the order of
/// [`Propagators::entries`]) with respect to the parameter whose
/// [`matrix_derivatives`] are `da`, for the parameter values `params`:
/// those of Phi = e^{A dt} and Psi = int_0^dt e^{A s} ds are the upper
/// right blocks of the propagators of [[A, dA/dp], [0, A]] (Van Loan
/// 1978), exact as the propagators themselves are.
pub fn derived_derivatives(
    k: &Kernel,
    m: &Model,
    params: &[f64],
    value_exprs: &[ExprId],
    da: &[Vec<ExprId>],
) -> Vec<f64> {
    let pr = &k.propagators;
    if pr.entries.is_empty() {
        return Vec::new();
    }
    let values = constant_values(m, params, value_exprs);
    let props: Vec<_> = pr
        .blocks
        .iter()
        .zip(da)
        .map(|(b, da)| {
            let n = b.size;
            let a = matrix(m, &b.a, n, params, &values);
            let d = matrix(m, da, n, params, &values);
            let mut big = linalg::Mat::zeros(2 * n);
            for i in 0..n {
                for j in 0..n {
                    big.set(i, j, a.get(i, j));
                    big.set(n + i, n + j, a.get(i, j));
                    big.set(i, n + j, d.get(i, j));
                }
            }
            (n, linalg::propagators(&big, k.dt))
        })
        .collect();
    pr.entries
        .iter()
        .map(|e| {
            let (n, (phi, psi)) = &props[e.block as usize];
            let mat = if e.which == Which::Phi { phi } else { psi };
            mat.get(e.row as usize, n + e.col as usize)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block's pattern: x' = -x + y, y' = -y, z' = x - z: Phi[y, x] and
    /// Phi[x, z] (no path) are zero, Phi[z, y] (z <- x <- y) is not.
    #[test]
    fn reach_is_the_transitive_closure_of_the_pattern() {
        let c = crate::compile_source("t.neuro", "rate R {\n    state x = 0\n    dx/dt = -x / 1 s\n}\n", None);
        let mut m = c.model("R").expect("the model").clone(); // ok: unit test
        let span = crate::source::Span::default();
        let ty = crate::ir::Ty::Num(crate::units::Dim::NONE);
        let zero = m.arena.add(NodeKind::Const(0.0), ty, span);
        let one = m.arena.add(NodeKind::Const(1.0), ty, span);
        let minus = m.arena.add(NodeKind::Const(-1.0), ty, span);
        let a = vec![minus, one, zero, zero, minus, zero, one, zero, minus];
        let r = reach(&m, &a, 3);
        assert_eq!(r, vec![true, true, false, false, true, false, true, true, true]);
        // and the propagators agree: the left-out entries are zero
        let mat = matrix(&m, &a, 3, &[], &[]);
        let (phi, psi) = linalg::propagators(&mat, 0.1);
        for (idx, &nonzero) in r.iter().enumerate() {
            let (i, j) = (idx / 3, idx % 3);
            assert_eq!(nonzero, phi.get(i, j) != 0.0, "Phi[{i}, {j}]");
            assert_eq!(nonzero, psi.get(i, j) != 0.0, "Psi[{i}, {j}]");
        }
    }
}
