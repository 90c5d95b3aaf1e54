//! A population before its first step: the kernel built (and checked to
//! be shallow enough to build), rate tables' notes and excursions, and
//! every neuron's initial state.

use super::PopConfig;
use crate::diag::{Code, Diagnostic};
use crate::ir::eval::{eval, eval_params, eval_values, Env};
use crate::ir::{ExprId, Model};
use crate::kernel::{self, Kernel};
use crate::schemes::Plan;

/// Whether the model's expressions, with their values inlined, are shallow
/// enough for the kernel builder (which inlines them by recursion).
pub fn kernel_depth(m: &Model) -> Result<(), kernel::Unsupported> {
    let depth = m.inlined_depth();
    if depth > crate::ir::MAX_INLINED_DEPTH {
        return Err(kernel::Unsupported(format!(
            "its expressions nest {depth} deep through the derived values they read (kernels inline values, at most {} deep)",
            crate::ir::MAX_INLINED_DEPTH
        )));
    }
    Ok(())
}

/// Builds the kernel of a model for a population configuration.
pub fn build_kernel(m: &Model, plan: &Plan, cfg: &PopConfig) -> Result<(Kernel, Vec<f64>), Box<Diagnostic>> {
    let params = eval_params(m, &cfg.param_overrides);
    let per: Vec<usize> = per_neuron_with_noise(m, cfg).iter().map(|(p, _)| *p).collect();
    let noise = crate::ir::noise::noise_params(m);
    kernel::check_tables(m, &params, &per)?;
    let sig = kernel::Signature {
        params: &params,
        per_neuron: &per,
        value_overrides: &cfg.value_overrides,
        ports: &[],
        outputs: &[],
        per_step: &noise,
    };
    let k = kernel_depth(m)
        .and_then(|()| kernel::build_full(m, plan, &sig, cfg.dt))
        .map_err(|kernel::Unsupported(why)| {
            let help = if cfg.n > 1 {
                "kernels take every method (exp_euler, exact, kinetic, euler, rk2, heun, rk4, rk45, backward_euler, trapezoidal); what is named above cannot be a kernel"
            } else {
                "use `--backend reference`: the reference interpreter runs one neuron of any model"
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

/// The per-neuron parameters of a run: the configuration's, then the
/// model's white noises (`xi(X)`, filled at every step; zeros here).
pub(crate) fn per_neuron_with_noise(m: &Model, cfg: &PopConfig) -> Vec<(usize, Vec<f64>)> {
    let mut per = cfg.per_neuron.clone();
    for p in crate::ir::noise::noise_params(m) {
        if !per.iter().any(|(q, _)| *q == p) {
            per.push((p, vec![0.0; cfg.n]));
        }
    }
    per
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
pub(crate) fn initial_states(m: &Model, k: &Kernel, params: &[f64], cfg: &PopConfig) -> Vec<Vec<f64>> {
    let n = cfg.n;
    let exprs = value_exprs(m, cfg);
    let init_one = |p: &[f64]| {
        let mut y = vec![f64::NAN; m.states.len()];
        let mut values = Vec::new();
        for &i in &m.init_order {
            eval_values(m, 0.0, &y, p, &exprs, &mut values);
            y[i] = eval(m, m.states[i].init, &Env { t: 0.0, states: &y, params: p, values: &values, args: &[] });
        }
        crate::runtime::kinetic_steady_states(m, p, &exprs, &mut y);
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
    if k.states.get(m.states.len()).is_some_and(|s| s == "refractory_until") {
        // refractory_until: never refractory at the start
        out[m.states.len()].iter_mut().for_each(|x| *x = f64::NEG_INFINITY);
    }
    out
}

/// The expressions of values, with inputs overridden.
pub(crate) fn value_exprs(m: &Model, cfg: &PopConfig) -> Vec<ExprId> {
    m.values.iter().enumerate().map(|(i, v)| cfg.value_overrides.get(i).copied().flatten().unwrap_or(v.expr)).collect()
}

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
