//! Populations: N copies of a point model advanced by a fused kernel, on the
//! kernel interpreter or the JIT, in structure-of-arrays state.
//!
//! Neurons of one population are independent (networks come later), so a
//! run splits the neurons into contiguous chunks, one per thread, and each
//! thread advances its chunk through all steps. Spikes are merged in
//! (step, neuron) order, so the output does not depend on the number of
//! threads; the JIT's vector and scalar paths compute the same IEEE
//! operations, so it does not depend on where chunks start either.

use super::{Probe, Recording};
use crate::codegen::jit;
use crate::diag::{Code, Diagnostic};
use crate::ir::eval::{eval, eval_params, eval_values, Env};
use crate::ir::{ExprId, Model};
use crate::kernel::{self, Kernel};
use crate::schemes::Plan;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The kernel interpreter (the JIT's oracle).
    Interp,
    /// Cranelift native code.
    Jit,
}

#[derive(Clone, Debug)]
pub struct PopConfig {
    pub n: usize,
    /// Step and duration, SI seconds.
    pub dt: f64,
    pub duration: f64,
    /// Parameters that differ per neuron: (parameter, value for each neuron).
    pub per_neuron: Vec<(usize, Vec<f64>)>,
    /// Constant parameter overrides (`--set`).
    pub param_overrides: Vec<Option<ExprId>>,
    /// Input overrides (`--set` of an input).
    pub value_overrides: Vec<Option<ExprId>>,
    /// Initial values that differ per neuron: (state, value for each neuron).
    pub init_per_neuron: Vec<(usize, Vec<f64>)>,
    /// States of neuron 0 to record at every `sample_every`-th step.
    pub record: Vec<Probe>,
    pub sample_every: usize,
    /// States whose mean over the whole population is recorded at every
    /// sample (summed in fixed blocks of neurons, so the result does not
    /// depend on the thread count).
    pub mean_of: Vec<usize>,
    pub threads: usize,
    pub backend: Backend,
    /// Cranelift's `opt_level = "speed"` instead of `"none"`.
    pub optimize: bool,
}

/// What a population run produced, with how long the compilation took.
pub struct PopRun {
    pub rec: Recording,
    /// (neuron, time) of every spike, in (step, neuron) order.
    pub spikes: Vec<(usize, f64)>,
    pub compile_seconds: f64,
    pub kernel_insts: usize,
    /// One line per rate table (see [`kernel::table::Table::summary`]).
    pub tables: Vec<String>,
    /// W0401 when a lookup fell outside a rate table.
    pub warnings: Vec<Diagnostic>,
    pub ir: Option<String>,
    /// `mean_of`'s population means, one trace per state, at `rec.t`.
    pub means: Vec<(String, Vec<f64>)>,
}

/// Neurons per partial sum of a population mean; thread chunks are
/// multiples of it.
const MEAN_BLOCK: usize = 256;

/// Builds the kernel of a model for a population configuration.
pub fn build_kernel(m: &Model, plan: &Plan, cfg: &PopConfig) -> Result<(Kernel, Vec<f64>), Box<Diagnostic>> {
    let params = eval_params(m, &cfg.param_overrides);
    let per: Vec<usize> = cfg.per_neuron.iter().map(|(p, _)| *p).collect();
    kernel::check_tables(m, &params, &per)?;
    let k =
        kernel::build(m, plan, &params, &per, &cfg.value_overrides, cfg.dt).map_err(|kernel::Unsupported(why)| {
            let help = if cfg.n > 1 {
                "kernels support the methods exp_euler, exact, euler, rk2 and rk4; choose one with `--method`"
            } else {
                "use `--backend reference`, or a method the kernels support: exp_euler, exact, euler, rk2, rk4"
            };
            Box::new(
                Diagnostic::error(Code::NotInKernel, format!("`{}` cannot run as a fused kernel: {why}", m.name))
                    .at(m.span, "this model")
                    .help(help),
            )
        })?;
    kernel::check_built_tables(m, &k)?;
    Ok((k, params))
}

/// What each of the model's rate tables became: its summary, or that
/// nothing depends on its state alone.
pub fn table_notes(m: &Model, k: &Kernel) -> Vec<String> {
    kernel::table::built(m, k)
        .map(|(state, t)| match t {
            Some(t) => t.summary(m),
            None => {
                format!("rate table in {}: nothing costly depends on it alone, no table built", m.states[state].name)
            }
        })
        .collect()
}

/// Initial states of every neuron, as arrays (SoA).
fn initial_states(m: &Model, k: &Kernel, params: &[f64], cfg: &PopConfig) -> Vec<Vec<f64>> {
    let n = cfg.n;
    let exprs = value_exprs(m, cfg);
    let init_one = |p: &[f64]| {
        let mut y = vec![f64::NAN; m.states.len()];
        let mut values = Vec::new();
        for &i in &m.init_order {
            eval_values(m, 0.0, &y, p, &exprs, &mut values);
            y[i] = eval(m, m.states[i].init, &Env { t: 0.0, states: &y, params: p, values: &values, args: &[] });
        }
        super::kinetic_steady_states(m, p, &exprs, &mut y);
        y
    };
    // kinetic species start at a steady state that depends on every rate
    let varies = !cfg.per_neuron.is_empty()
        && (!m.kinetics.is_empty()
            || m.states.iter().any(|s| {
                crate::schemes::deps(m, s.init)
                    .iter()
                    .any(|v| matches!(v, crate::ir::Var::Param(p) if cfg.per_neuron.iter().any(|(q, _)| q == p)))
            }));
    let mut out = vec![vec![0.0; n]; k.states.len()];
    if varies {
        let mut p = params.to_vec();
        for i in 0..n {
            for (q, vals) in &cfg.per_neuron {
                p[*q] = vals[i];
            }
            for (s, v) in init_one(&p).into_iter().enumerate() {
                out[s][i] = v;
            }
        }
    } else {
        let y = init_one(params);
        for (s, v) in y.into_iter().enumerate() {
            out[s].iter_mut().for_each(|x| *x = v);
        }
    }
    for (s, vals) in &cfg.init_per_neuron {
        if let Some(arr) = out.get_mut(*s) {
            for (x, v) in arr.iter_mut().zip(vals) {
                *x = *v;
            }
        }
    }
    if k.states.len() > m.states.len() {
        // refractory_until: never refractory at the start
        out[m.states.len()].iter_mut().for_each(|x| *x = f64::NEG_INFINITY);
    }
    out
}

/// The expressions of values, with inputs overridden.
fn value_exprs(m: &Model, cfg: &PopConfig) -> Vec<ExprId> {
    m.values.iter().enumerate().map(|(i, v)| cfg.value_overrides.get(i).copied().flatten().unwrap_or(v.expr)).collect()
}

/// What one thread returns: spikes as (step, neuron, time), the recording
/// (made by the first chunk only), and the first neuron found diverged, if
/// any, with the step.
/// A chunk's spikes, its recording (chunk 0 only), where it diverged, and
/// per sample, per `mean_of` state, its block sums.
/// Last, the first lookup outside a rate table: (table, step, neuron, value).
type ChunkResult = (Vec<(usize, usize, f64)>, Recording, Option<(usize, usize)>, Vec<Vec<Vec<f64>>>, Option<Excursion>);

/// A rate table's argument outside its range: (table, step, neuron, value).
pub(crate) type Excursion = (usize, usize, usize, f64);

/// The first neuron whose argument of a table of `k` lies outside the
/// table (NaN excepted: divergence is reported on its own), as (table,
/// neuron, value); `state(i)` gives state array i.
pub(crate) fn excursion<'a>(k: &Kernel, state: impl Fn(usize) -> Option<&'a [f64]>) -> Option<(usize, usize, f64)> {
    k.tables.iter().enumerate().find_map(|(ti, t)| {
        let (lo, hi) = t.range();
        let arr = state(t.state)?;
        arr.iter().position(|&v| v < lo || v > hi).map(|i| (ti, i, arr[i]))
    })
}

/// W0401 for the earliest excursion of any chunk.
pub(crate) fn excursion_warning(m: &Model, k: &Kernel, first: Excursion, dt: f64) -> Diagnostic {
    let (ti, step, neuron, value) = first;
    let t = &k.tables[ti];
    let (lo, hi) = t.range();
    let span = m.tables.iter().find(|s| s.state == t.state).map_or(m.span, |s| s.span);
    Diagnostic::warning(
        Code::TableRangeLeft,
        format!(
            "{} left its rate table's range [{}, {}]: neuron {neuron} had {} = {} at t = {} ms",
            t.arg_name,
            t.in_units(m, lo),
            t.in_units(m, hi),
            t.arg_name,
            t.in_units(m, value),
            crate::units::format_number(step as f64 * dt * 1e3)
        ),
    )
    .at(span, "this table")
    .help("outside its range a table holds its end values: widen the range, or run with --no-tables")
}

/// Runs a population.
pub fn simulate(m: &Model, plan: &Plan, cfg: &PopConfig) -> Result<PopRun, Box<Diagnostic>> {
    let (k, params) = build_kernel(m, plan, cfg)?;
    super::check_params(m, &params)?;
    let (compiled, ir) = match cfg.backend {
        Backend::Jit => {
            let c = jit::compile(&k, cfg.optimize).map_err(|e| {
                Box::new(Diagnostic::internal(format!("JIT compilation failed: {e}")).at(m.span, "this model"))
            })?;
            let ir = c.ir.clone();
            (Some(c), Some(ir))
        }
        Backend::Interp => (None, None),
    };
    let mut states = initial_states(m, &k, &params, cfg);
    let per: Vec<Vec<f64>> = cfg.per_neuron.iter().map(|(_, v)| v.clone()).collect();
    let steps = (cfg.duration / cfg.dt).round().max(0.0) as usize;
    let n = cfg.n;
    let mut chunk = n.div_ceil(cfg.threads.clamp(1, n.max(1))).max(1);
    if !cfg.mean_of.is_empty() {
        chunk = chunk.div_ceil(MEAN_BLOCK) * MEAN_BLOCK;
    }
    // as many threads as non-empty chunks
    let threads = n.div_ceil(chunk).max(1);
    let every = cfg.sample_every.max(1);
    let emitting = k.events.iter().filter(|e| e.emits).count().max(1);

    // Split the arrays into per-thread chunks.
    let mut state_chunks: Vec<Vec<&mut [f64]>> = (0..threads).map(|_| Vec::new()).collect();
    for arr in states.iter_mut() {
        for (c, piece) in arr.chunks_mut(chunk).enumerate() {
            if let Some(v) = state_chunks.get_mut(c) {
                v.push(piece);
            }
        }
    }
    let param_chunks: Vec<Vec<&[f64]>> = (0..threads)
        .map(|c| per.iter().map(|arr| &arr[(c * chunk).min(n)..((c + 1) * chunk).min(n)]).collect())
        .collect();
    let record = &cfg.record;
    let n_model_states = m.states.len();
    // parameters of neuron 0, for values recorded from it
    let mut params0 = params.clone();
    for (p, vals) in &cfg.per_neuron {
        if let Some(v) = vals.first() {
            params0[*p] = *v;
        }
    }
    let exprs = value_exprs(m, cfg);
    let results: Vec<ChunkResult> = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for (c, (mut sts, prs)) in state_chunks.into_iter().zip(param_chunks).enumerate() {
            let k = &k;
            let compiled = compiled.as_ref();
            let (params0, exprs) = (&params0, &exprs);
            handles.push(scope.spawn(move || {
                let base = c * chunk;
                let len = sts.first().map_or(0, |s| s.len());
                let mut spikes: Vec<(usize, usize, f64)> = Vec::new();
                let mut rec = Recording::default();
                let mut idx = vec![0i64; len * emitting];
                let mut tim = vec![0.0f64; len * emitting];
                let mut step_spikes = Vec::new();
                let mut values = Vec::new();
                let mut block_sums: Vec<Vec<Vec<f64>>> = Vec::new();
                let mut sample = |rec: &mut Recording, sts: &[&mut [f64]], t: f64| {
                    if !cfg.mean_of.is_empty() {
                        block_sums.push(
                            cfg.mean_of
                                .iter()
                                .map(|&s| {
                                    sts.get(s)
                                        .map_or(vec![], |a| a.chunks(MEAN_BLOCK).map(|b| b.iter().sum()).collect())
                                })
                                .collect(),
                        );
                    }
                    if c != 0 || len == 0 {
                        return;
                    }
                    rec.t.push(t);
                    let y0: Vec<f64> = sts.iter().take(n_model_states).map(|a| a[0]).collect();
                    if record.iter().any(|p| matches!(p, Probe::Value(_))) {
                        eval_values(m, t, &y0, params0, exprs, &mut values);
                    }
                    for (slot, p) in record.iter().enumerate() {
                        if rec.traces.len() <= slot {
                            rec.traces.push((String::new(), Vec::new()));
                        }
                        let v = match p {
                            Probe::State(s) => y0.get(*s).copied().unwrap_or(f64::NAN),
                            Probe::Value(i) => values.get(*i).copied().unwrap_or(f64::NAN),
                        };
                        rec.traces[slot].1.push(v);
                    }
                };
                let diverged = |sts: &[&mut [f64]]| {
                    sts.iter().take(n_model_states).find_map(|a| a.iter().position(|v| !v.is_finite()))
                };
                // the tables read the states at the start of each step:
                // look for arguments outside them until the first is found
                let mut left: Option<Excursion> = None;
                sample(&mut rec, &sts, 0.0);
                for step in 0..steps {
                    if left.is_none() && !k.tables.is_empty() {
                        left = excursion(k, |i| sts.get(i).map(|a| &a[..])).map(|(ti, i, v)| (ti, step, base + i, v));
                    }
                    let t = step as f64 * cfg.dt;
                    let t_next = (step + 1) as f64 * cfg.dt;
                    match compiled {
                        Some(code) => {
                            let sp: Vec<*mut f64> = sts.iter_mut().map(|s| s.as_mut_ptr()).collect();
                            let pp: Vec<*const f64> = prs.iter().map(|s| s.as_ptr()).collect();
                            // SAFETY: one pointer per kernel array, each with `len` values;
                            // spike buffers hold len * emitting entries.
                            let count = unsafe { code.call(&sp, &pp, len, (t, t_next), &mut idx, &mut tim) };
                            for s in 0..count {
                                spikes.push((step, base + idx[s] as usize, tim[s]));
                            }
                        }
                        None => {
                            step_spikes.clear();
                            kernel::interp::step(k, &mut sts, &prs, t, t_next, &mut step_spikes);
                            spikes.extend(step_spikes.iter().map(|&(i, ts)| (step, base + i, ts)));
                        }
                    }
                    if (step + 1) % every == 0 {
                        sample(&mut rec, &sts, t_next);
                    }
                    // a diverged neuron stops the run (checked every 1000 steps and at the end)
                    if (step + 1) % 1000 == 0 || step + 1 == steps {
                        if let Some(i) = diverged(&sts) {
                            return (spikes, rec, Some((base + i, step + 1)), vec![], None);
                        }
                    }
                }
                (spikes, rec, None, block_sums, left)
            }));
        }
        // a thread that panicked reports itself as diverged at step 0,
        // which the caller turns into a diagnostic instead of missing spikes
        handles
            .into_iter()
            .enumerate()
            .map(|(c, h)| {
                h.join().unwrap_or_else(|_| (Vec::new(), Recording::default(), Some((c * chunk, 0)), Vec::new(), None))
            })
            .collect()
    });
    if let Some((i, step)) = results.iter().filter_map(|r| r.2).min_by_key(|x| x.1) {
        return Err(Box::new(
            Diagnostic::error(
                Code::NumericalBlowUp,
                format!(
                    "neuron {i} diverged (a state is not finite) by t = {} ms",
                    crate::units::format_number(step as f64 * cfg.dt * 1e3)
                ),
            )
            .at(m.span, "in this model")
            .help("try a smaller --dt, or --backend reference to see which state and when"),
        ));
    }
    let mut all: Vec<(usize, usize, f64)> = Vec::new();
    let mut rec = Recording { steps, ..Recording::default() };
    let mut means: Vec<(String, Vec<f64>)> = cfg
        .mean_of
        .iter()
        .map(|&s| (format!("mean_{}", m.states.get(s).map_or("?", |x| x.name.as_str())), vec![]))
        .collect();
    let samples = results.first().map_or(0, |r| r.3.len());
    for k in 0..samples {
        for (j, (_, trace)) in means.iter_mut().enumerate() {
            let total: f64 = results.iter().flat_map(|r| r.3.get(k).and_then(|x| x.get(j)).into_iter().flatten()).sum();
            trace.push(total / n.max(1) as f64);
        }
    }
    let warnings: Vec<Diagnostic> = results
        .iter()
        .filter_map(|r| r.4)
        .min_by_key(|x| (x.1, x.2))
        .map(|first| excursion_warning(m, &k, first, cfg.dt))
        .into_iter()
        .collect();
    for (c, (s, r, _, _, _)) in results.into_iter().enumerate() {
        all.extend(s);
        if c == 0 {
            rec.t = r.t;
            rec.traces = r.traces;
        }
    }
    for (slot, p) in cfg.record.iter().enumerate() {
        if let Some(tr) = rec.traces.get_mut(slot) {
            tr.0 = super::probe_name(m, p);
        } else {
            rec.traces.push((super::probe_name(m, p), vec![]));
        }
    }
    all.sort_by_key(|&(step, i, _)| (step, i));
    rec.spikes = all.iter().map(|x| x.2).collect();
    rec.spike_ids = all.iter().map(|x| x.1).collect();
    let spikes = all.iter().map(|&(_, i, t)| (i, t)).collect();
    Ok(PopRun {
        rec,
        spikes,
        compile_seconds: compiled.as_ref().map_or(0.0, |c| c.compile_seconds),
        kernel_insts: k.insts.len(),
        tables: table_notes(m, &k),
        warnings,
        means,
        ir,
    })
}
