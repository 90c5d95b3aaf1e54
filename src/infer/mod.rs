//! From models back to data: forward sensitivities, the Fisher
//! information and identifiability, and fitting parameters to a trace.
//!
//! Input: a configured point run (a neuron or a rate model, one of it),
//! the parameters of interest and the observed state. Output: a
//! [`Problem`] that simulates the model and the derivative of its
//! trajectory with respect to the parameters in one JIT-compiled kernel
//! ([`crate::kernel::sensitivity`]), for any parameter values without
//! recompiling (the parameters of interest are read from per-neuron
//! arrays, so new values are new array contents). [`fisher`] builds the
//! Fisher information and the identifiability report on it; [`fit`] the
//! Levenberg-Marquardt fit.
//!
//! Invariants: the trajectory and its sensitivities are those of the
//! scheme as it runs (the same kernel instructions as `neuroc run` with
//! the same method and step, without rate tables), so they agree with
//! central finite differences of the simulation to rounding; initial
//! values that depend on the parameters start with their derivatives
//! (differentiated symbolically through the initial expressions).

pub mod fisher;
pub mod fit;

use crate::codegen::jit;
use crate::diag::{Code, Diagnostic};
use crate::experiment::{Body, Run};
use crate::ir::eval::{eval, eval_params, eval_values, Env};
use crate::ir::{ExprId, Model, Var};
use crate::kernel::{self, Kernel};
use crate::source::Span;

/// A model, its parameters of interest and its observed state, compiled
/// once with its sensitivity equations.
pub struct Problem {
    model: Model,
    kernel: Kernel,
    code: jit::Compiled,
    /// The parameters of interest (indices into the model's parameters).
    wrt: Vec<usize>,
    /// What is observed.
    observe: Observed,
    /// Every parameter's value (SI) as the run configures it.
    base: Vec<f64>,
    value_exprs: Vec<ExprId>,
    /// d(initial state i)/d(parameter j) as expressions, per j then i
    /// (None: zero), for the states in initialization order.
    init_diff: Vec<Vec<InitDiff>>,
    /// Why the kernel has no sensitivities (None: it has them).
    plain_why: Option<String>,
    /// Per parameter of interest, dA/dp of each per-neuron exact block
    /// (empty without sensitivities).
    matrix_diff: Vec<Vec<Vec<ExprId>>>,
    dt: f64,
    steps: usize,
    every: usize,
    span: Span,
}

/// What a problem observes: a state, or a value computed from the states
/// (an input, a derived value such as a clamp current) with its
/// derivatives, d v/d p and (state, d v/d state), per parameter.
enum Observed {
    State(usize),
    Value { value: usize, direct: Vec<ExprId>, through: Vec<Vec<(usize, ExprId)>> },
}

/// An initial value's derivative with respect to one parameter: its
/// direct part, and its parts through the states it reads (state, d
/// init / d state).
type InitDiff = (Option<ExprId>, Vec<(usize, ExprId)>);

/// A simulated trajectory of the observed state and its sensitivities.
#[derive(Clone, Debug, Default)]
pub struct Trajectory {
    /// Sample times, s (the start included).
    pub t: Vec<f64>,
    /// The observed state at each sample (SI).
    pub y: Vec<f64>,
    /// d y / d parameter j at each sample: `dy[j][k]`.
    pub dy: Vec<Vec<f64>>,
}

impl Problem {
    /// The problem of `run` (a point run) for the parameters named in
    /// `wrt` and the state `observe`. `span` locates the request in the
    /// diagnostics (the command line).
    pub fn new(run: &Run, wrt: &[String], observe: &str, span: Span) -> Result<Problem, Box<Diagnostic>> {
        let refuse = |what: String, help: &str| {
            Box::new(Diagnostic::error(Code::NoSensitivity, what).at(span, "asked here").help(help.to_string()))
        };
        let Body::Point(p) = &run.body else {
            return Err(refuse(
                format!(
                    "sensitivities are derived for neurons and rate models run alone; `{}` is a {}",
                    run.target,
                    run.kind.keyword()
                ),
                "analyze or fit one neuron or rate model (`--model NAME`)",
            ));
        };
        let mut m = p.model.clone();
        m.tables.clear();
        // why the sensitivities cannot be derived (the problem then only
        // simulates: fits fall back to a derivative-free method)
        let mut plain_why = (!m.kinetics.is_empty()).then(|| {
            format!(
                "`{}` has kinetic schemes, whose initial occupancies are steady states of every rate; their sensitivities are not derived",
                m.name
            )
        });
        if !crate::ir::noise::noise_params(&m).is_empty() {
            return Err(refuse(
                format!("`{}` has noise inside it; sensitivities are derived for deterministic models", m.name),
                "remove the `noise` lines to analyze or fit the deterministic model",
            ));
        }
        let mut ids = Vec::new();
        for name in wrt {
            let Some(q) = m.params.iter().position(|x| &x.name == name) else {
                let known: Vec<&str> = m.params.iter().map(|x| x.name.as_str()).collect();
                return Err(refuse(
                    format!("`{}` has no parameter `{name}`", m.name),
                    &format!("its parameters: {}", known.join(", ")),
                ));
            };
            if ids.contains(&q) {
                return Err(refuse(format!("`{name}` is named twice"), "name each parameter once"));
            }
            ids.push(q);
        }
        if ids.is_empty() {
            return Err(refuse("no parameter named".into(), "name the parameters, separated by commas: gNa,gK"));
        }
        // a parameter computed from one of interest would be folded in at
        // its value before the change
        for (q, par) in m.params.iter().enumerate() {
            let expr = p.param_overrides.get(q).copied().flatten().unwrap_or(par.value);
            let reads = crate::schemes::deps(&m, expr);
            if let Some(&j) = ids.iter().find(|&&j| reads.contains(&Var::Param(j))) {
                return Err(refuse(
                    format!("parameter `{}` is computed from `{}`", par.name, m.params[j].name),
                    "name parameters that no other parameter is computed from, or set the computed one with `--set`",
                ));
            }
        }
        let state = m.states.iter().position(|s| s.name == observe);
        let value = m.values.iter().position(|v| v.name == observe);
        let base = eval_params(&m, &p.param_overrides);
        let value_exprs: Vec<ExprId> = m
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| p.value_overrides.get(i).copied().flatten().unwrap_or(v.expr))
            .collect();
        let sig = kernel::Signature {
            params: &base,
            per_neuron: &ids,
            value_overrides: &p.value_overrides,
            ports: &[],
            outputs: &[],
            per_step: &[],
        };
        let unsupported = |kernel::Unsupported(why): kernel::Unsupported| refuse(format!("`{}`: {why}", m.name), "");
        let plain = kernel::build_full(&m, &p.plan, &sig, run.dt).map_err(unsupported)?;
        let derived = ids.len()..ids.len() + plain.propagators.entries.len();
        let wrt_arrays: Vec<u32> = (0..ids.len() as u32).collect();
        let k = match plain_why {
            Some(_) => plain,
            None => match kernel::sensitivity::augment(&plain, &wrt_arrays, derived) {
                Ok(k) => k,
                Err(kernel::Unsupported(why)) => {
                    plain_why = Some(format!("`{}`: {why}", m.name));
                    plain
                }
            },
        };
        let code = jit::compile(&k, false).map_err(|e| {
            Box::new(Diagnostic::internal(format!("JIT compilation failed: {e}")).at(m.span, "this model"))
        })?;
        // the initial values' derivatives, symbolically
        let mut dm = m.clone();
        for (v, &e) in value_exprs.iter().enumerate() {
            dm.values[v].expr = e;
        }
        let mut matrix_diff = Vec::new();
        for &q in ids.iter().filter(|_| plain_why.is_none()) {
            let da = kernel::propagate::matrix_derivatives(&k, &mut dm, q)
                .map_err(|why| refuse(format!("an exact propagator's matrix: {why}"), ""))?;
            matrix_diff.push(da);
        }
        let mut init_diff = Vec::new();
        for &q in ids.iter().filter(|_| plain_why.is_none()) {
            let mut per = Vec::new();
            for &i in &m.init_order {
                let e = dm.states[i].init;
                let direct = crate::symbolic::diff(&mut dm, e, Var::Param(q))
                    .map_err(|why| refuse(format!("the initial value of `{}`: {why}", m.states[i].name), ""))?;
                let mut through = Vec::new();
                for s in crate::schemes::deps(&dm, e) {
                    if let Var::State(s) = s {
                        let d = crate::symbolic::diff(&mut dm, e, Var::State(s))
                            .map_err(|why| refuse(format!("the initial value of `{}`: {why}", m.states[i].name), ""))?;
                        through.push((s, d));
                    }
                }
                per.push((Some(direct), through));
            }
            init_diff.push(per);
        }
        let observe = match (state, value) {
            (Some(s), _) => Observed::State(s),
            (None, Some(v)) => {
                let e = value_exprs[v];
                let fail = |why: String| refuse(format!("the value `{observe}`: {why}"), "");
                let mut direct = Vec::new();
                let mut through = Vec::new();
                for &q in ids.iter().filter(|_| plain_why.is_none()) {
                    direct.push(crate::symbolic::diff(&mut dm, e, Var::Param(q)).map_err(fail)?);
                    let mut per = Vec::new();
                    for r in crate::schemes::deps(&dm, e) {
                        if let Var::State(s) = r {
                            per.push((s, crate::symbolic::diff(&mut dm, e, Var::State(s)).map_err(fail)?));
                        }
                    }
                    through.push(per);
                }
                Observed::Value { value: v, direct, through }
            }
            (None, None) => {
                let known: Vec<&str> =
                    m.states.iter().map(|s| s.name.as_str()).chain(m.values.iter().map(|v| v.name.as_str())).collect();
                return Err(refuse(
                    format!("`{}` has no state or value `{observe}` to observe", m.name),
                    &format!("its states and values: {}", known.join(", ")),
                ));
            }
        };
        Ok(Problem {
            model: dm,
            kernel: k,
            code,
            wrt: ids,
            observe,
            base,
            value_exprs,
            init_diff,
            plain_why,
            matrix_diff,
            dt: run.dt,
            steps: (run.duration / run.dt).round().max(0.0) as usize,
            every: run.sample_every.max(1),
            span,
        })
    }

    /// Why the sensitivities are not derived for this model, if they are
    /// not: the problem then simulates the trajectory alone.
    pub fn without_sensitivities(&self) -> Option<&str> {
        self.plain_why.as_deref()
    }

    /// The parameters of interest's names.
    pub fn names(&self) -> Vec<String> {
        self.wrt.iter().map(|&q| self.model.params[q].name.clone()).collect()
    }

    /// The parameters of interest's values as the run sets them (SI).
    pub fn values(&self) -> Vec<f64> {
        self.wrt.iter().map(|&q| self.base[q]).collect()
    }

    /// The observed variable's name.
    pub fn observed(&self) -> &str {
        match &self.observe {
            Observed::State(s) => &self.model.states[*s].name,
            Observed::Value { value, .. } => &self.model.values[*value].name,
        }
    }

    /// The display unit of each parameter of interest and its scale (the
    /// displayed number is SI / scale: `mV`, 1e-3), and the observed
    /// state's.
    pub fn units(&self) -> (Vec<(String, f64)>, (String, f64)) {
        let display = |unit: &Option<crate::ir::UnitHint>, dim: &crate::units::Dim| {
            crate::experiment::execute::display(unit, dim)
        };
        let params = self.wrt.iter().map(|&q| display(&self.model.params[q].unit, &self.model.params[q].dim)).collect();
        let observed = match &self.observe {
            Observed::State(s) => display(&self.model.states[*s].unit, &self.model.states[*s].dim),
            Observed::Value { value, .. } => display(&self.model.values[*value].unit, &self.model.values[*value].dim),
        };
        (params, observed)
    }

    /// The observed state's dimension.
    pub fn observed_dim(&self) -> crate::units::Dim {
        match &self.observe {
            Observed::State(s) => self.model.states[*s].dim,
            Observed::Value { value, .. } => self.model.values[*value].dim,
        }
    }

    /// Where the request was made.
    pub fn span(&self) -> Span {
        self.span
    }

    /// Simulates the model at `theta` (the parameters of interest, SI) and
    /// its sensitivities. A trajectory that stops being finite is E0506.
    pub fn simulate(&self, theta: &[f64]) -> Result<Trajectory, Box<Diagnostic>> {
        self.simulate_until(theta, f64::INFINITY)
    }

    /// [`Problem::simulate`] up to the first recorded step at or after
    /// `until` (s), or the run's end.
    pub fn simulate_until(&self, theta: &[f64], until: f64) -> Result<Trajectory, Box<Diagnostic>> {
        let mut one = self.simulate_many_until(&[theta.to_vec()], until)?;
        Ok(one.remove(0))
    }

    /// The model and its sensitivities at every point of `thetas` at once:
    /// a population of the model, one neuron per point, stepped together
    /// by the one kernel (f64x2 lanes over neurons, as any population
    /// runs). Each trajectory is the one [`Problem::simulate`] gives at its
    /// point, bit for bit. A trajectory that stops being finite is E0506.
    pub fn simulate_many(&self, thetas: &[Vec<f64>]) -> Result<Vec<Trajectory>, Box<Diagnostic>> {
        self.simulate_many_until(thetas, f64::INFINITY)
    }

    fn simulate_many_until(&self, thetas: &[Vec<f64>], until: f64) -> Result<Vec<Trajectory>, Box<Diagnostic>> {
        let m = &self.model;
        let np = self.wrt.len();
        let n = thetas.len();
        let points: Vec<Vec<f64>> = thetas
            .iter()
            .map(|theta| {
                let mut params = self.base.clone();
                for (&q, &v) in self.wrt.iter().zip(theta) {
                    params[q] = v;
                }
                params
            })
            .collect();
        // initial states and their derivatives, neuron by neuron
        let ns_model = m.states.len();
        let mut values = Vec::new();
        let sens = self.plain_why.is_none();
        let ns = if sens { self.kernel.states.len() / (np + 1) } else { self.kernel.states.len() };
        let mut states: Vec<Vec<f64>> = vec![vec![0.0; n]; self.kernel.states.len()];
        for (k, params) in points.iter().enumerate() {
            let y = self.simulate_initial(params);
            for (s, v) in y.iter().enumerate() {
                states[s][k] = *v;
            }
            if ns > ns_model && self.kernel.states[ns_model] == "refractory_until" {
                states[ns_model][k] = f64::NEG_INFINITY;
            }
            for (j, per) in self.init_diff.iter().enumerate() {
                let mut dy = vec![0.0; ns_model];
                for (&i, (direct, through)) in m.init_order.iter().zip(per) {
                    eval_values(m, 0.0, &y, params, &self.value_exprs, &mut values);
                    let env = Env { t: 0.0, states: &y, params, values: &values, args: &[] };
                    let mut d = direct.map_or(0.0, |e| eval(m, e, &env));
                    for &(s, e) in through {
                        d += eval(m, e, &env) * dy[s];
                    }
                    dy[i] = d;
                }
                for (s, v) in dy.into_iter().enumerate() {
                    states[ns + j * ns + s][k] = v;
                }
            }
        }
        // parameter arrays: the parameters of interest, the derived
        // propagators, their derivatives; one entry per neuron
        let per_neuron: Vec<(usize, Vec<f64>)> =
            self.wrt.iter().map(|&q| (q, points.iter().map(|p| p[q]).collect())).collect();
        let mut arrays = kernel::param_arrays(&self.kernel, m, &self.base, &self.value_exprs, &per_neuron);
        for da in &self.matrix_diff {
            let per: Vec<Vec<f64>> = points
                .iter()
                .map(|params| kernel::propagate::derived_derivatives(&self.kernel, m, params, &self.value_exprs, da))
                .collect();
            for e in 0..per.first().map_or(0, Vec::len) {
                arrays.push(per.iter().map(|d| d[e]).collect());
            }
        }
        let emitting = self.kernel.events.len().max(1);
        let (mut idx, mut tim) = (vec![0i64; emitting * n], vec![0.0; emitting * n]);
        let mut out: Vec<Trajectory> = (0..n)
            .map(|_| Trajectory { dy: vec![Vec::new(); if sens { np } else { 0 }], ..Trajectory::default() })
            .collect();
        let sample = |states: &[Vec<f64>], t: f64, out: &mut [Trajectory], values: &mut Vec<f64>| {
            for (k, o) in out.iter_mut().enumerate() {
                o.t.push(t);
                match &self.observe {
                    Observed::State(s) => {
                        o.y.push(states[*s][k]);
                        for (j, d) in o.dy.iter_mut().enumerate() {
                            d.push(states[ns + j * ns + s][k]);
                        }
                    }
                    Observed::Value { value, direct, through } => {
                        let params = &points[k];
                        let y: Vec<f64> = states[..ns_model].iter().map(|a| a[k]).collect();
                        eval_values(m, t, &y, params, &self.value_exprs, values);
                        let env = Env { t, states: &y, params, values, args: &[] };
                        o.y.push(values[*value]);
                        for (j, d) in o.dy.iter_mut().enumerate() {
                            let mut x = eval(m, direct[j], &env);
                            for &(s, e) in &through[j] {
                                x += eval(m, e, &env) * states[ns + j * ns + s][k];
                            }
                            d.push(x);
                        }
                    }
                }
            }
        };
        sample(&states, 0.0, &mut out, &mut values);
        let pp: Vec<*const f64> = arrays.iter().map(|a| a.as_ptr()).collect();
        for step in 0..self.steps {
            if out[0].t.last().is_some_and(|&t| t >= until) {
                break;
            }
            let (t, t_next) = (step as f64 * self.dt, (step + 1) as f64 * self.dt);
            let sp: Vec<*mut f64> = states.iter_mut().map(|a| a.as_mut_ptr()).collect();
            // SAFETY: every state and parameter array holds n values and
            // lives through the call; the spike buffers hold n per event
            unsafe { self.code.call(&sp, &pp, n, (t, t_next), &mut idx, &mut tim) };
            if (step + 1) % self.every == 0 {
                for (k, theta) in thetas.iter().enumerate() {
                    let bad = |range: std::ops::Range<usize>| {
                        states[range].iter().enumerate().any(|(s, a)| !a[k].is_finite() && !(ns_model..ns).contains(&s))
                    };
                    let what = if bad(0..ns) {
                        Some(format!("`{}` diverged", self.observed()))
                    } else if bad(ns..states.len()) {
                        Some(
                            "the sensitivities stopped being finite (a derivative that is infinite on the trajectory)"
                                .to_string(),
                        )
                    } else {
                        None
                    };
                    if let Some(what) = what {
                        return Err(Box::new(
                            Diagnostic::error(
                                Code::NumericalBlowUp,
                                format!(
                                    "{what} at t = {} ms for {}",
                                    crate::units::format_number(t_next * 1e3),
                                    self.describe(theta)
                                ),
                            )
                            .at(self.span, "asked here")
                            .help("start from parameters nearer the data, or bound them"),
                        ));
                    }
                }
                sample(&states, t_next, &mut out, &mut values);
            }
        }
        Ok(out)
    }

    /// The initial states for every parameter's value `params` (SI).
    fn simulate_initial(&self, params: &[f64]) -> Vec<f64> {
        let m = &self.model;
        let mut y = vec![f64::NAN; m.states.len()];
        let mut values = Vec::new();
        for &i in &m.init_order {
            eval_values(m, 0.0, &y, params, &self.value_exprs, &mut values);
            y[i] = eval(m, m.states[i].init, &Env { t: 0.0, states: &y, params, values: &values, args: &[] });
        }
        crate::runtime::kinetic_steady_states(m, params, &self.value_exprs, &mut y);
        y
    }

    /// `gNa = 120 mS/cm^2, gK = 36 mS/cm^2` for `theta`.
    pub fn describe(&self, theta: &[f64]) -> String {
        let (units, _) = self.units();
        self.names()
            .iter()
            .zip(theta)
            .zip(units)
            .map(|((n, v), (u, f))| format!("{n} = {} {u}", sig(v / f)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `x` with 6 significant digits, trailing zeros dropped (`120.000012`,
/// `0.3`, `2.82334e-10`).
pub(crate) fn sig(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let e = x.abs().log10().floor() as i32;
    if !(-4..6).contains(&e) {
        return format!("{x:.5e}");
    }
    let s = format!("{x:.*}", (5 - e).max(0) as usize);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// `120 mS/cm^2`, or `16` for a plain number.
pub(crate) fn with_unit(x: f64, unit: &str) -> String {
    if unit.is_empty() || unit == "1" {
        sig(x)
    } else {
        format!("{} {unit}", sig(x))
    }
}
