//! From models back to data: forward sensitivities, the Fisher
//! information and identifiability, and fitting parameters to a trace.
//!
//! Input: a configured point run (a neuron or a rate model, one of it)
//! or brain run (a node model on every region of a connectome), the
//! parameters of interest and the observed state. Output: a
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

mod brain;
pub mod fisher;
pub mod fit;

use crate::codegen::jit;
use crate::diag::{Code, Diagnostic};
use crate::experiment::{Body, Run};
use crate::ir::eval::{eval, eval_params, eval_values, Env};
use crate::ir::{ExprId, Model, Var};
use crate::kernel::{self, Kernel};
use crate::source::Span;
use brain::BrainPart;

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
    /// A brain's regions and sums (None: one neuron or rate model).
    brain: Option<BrainPart>,
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
    /// The spike times: the kernel's state (added for it) holding the
    /// time of the last spike, whose derivatives are those of the spike
    /// time.
    Spikes(usize),
    Value {
        value: usize,
        direct: Vec<ExprId>,
        through: Vec<Vec<(usize, ExprId)>>,
    },
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
    /// The samples are spike times (`t` and `y` both), matched to data in
    /// order.
    pub spikes: bool,
    /// Where the simulation ended, s.
    pub end: f64,
}

impl Problem {
    /// The problem of `run` (a point run) for the parameters named in
    /// `wrt` and the state `observe`. `span` locates the request in the
    /// diagnostics (the command line).
    pub fn new(run: &Run, wrt: &[String], observe: &str, span: Span) -> Result<Problem, Box<Diagnostic>> {
        let refuse = |what: String, help: &str| {
            Box::new(Diagnostic::error(Code::NoSensitivity, what).at(span, "asked here").help(help.to_string()))
        };
        let (p, brain) = match &run.body {
            Body::Point(p) => (p, None),
            Body::Brain(b) => (&b.node, Some(&**b)),
            _ => {
                return Err(refuse(
                    format!(
                        "sensitivities are derived for neurons, rate models and brains of them; `{}` is a {}",
                        run.target,
                        run.kind.keyword()
                    ),
                    "analyze or fit one neuron, rate model or brain (`--model NAME`)",
                ))
            }
        };
        // a brain observes one region (`E[3]`) or the mean over them (`E`)
        let (observe, region) = match (brain, observe.strip_suffix(']').and_then(|x| x.split_once('['))) {
            (Some(b), Some((name, k))) => match k.trim().parse::<usize>() {
                Ok(k) if k < b.n => (name.trim(), Some(k)),
                _ => {
                    return Err(refuse(
                        format!("no region `{k}` in a brain of {} regions", b.n),
                        &format!(
                            "observe `{name}[k]`, k from 0 to {}, or `{name}` (the mean over the regions)",
                            b.n - 1
                        ),
                    ))
                }
            },
            _ => (observe, None),
        };
        if let Some(b) = brain {
            let why = if !b.noises.is_empty() {
                Some("noise")
            } else if !b.stimuli.is_empty() {
                Some("inputs that follow time series")
            } else if b.regions.is_some() {
                Some("regions that are networks")
            } else {
                None
            };
            if let Some(why) = why {
                return Err(refuse(
                    format!("`{}` has {why}; sensitivities are derived for brains of deterministic nodes", run.target),
                    "analyze the brain without them",
                ));
            }
        }
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
        // a brain's arrays per region, after the parameters of interest
        let mut per_region: Vec<(usize, Vec<f64>)> = Vec::new();
        let (mut sum_params, mut sent) = (Vec::new(), Vec::new());
        if let Some(b) = brain {
            let n = b.n;
            for (q, d, k) in &p.param_spreads {
                per_region.push((*q, crate::runtime::spikegen::spread(*d, n, run.seed, *k)));
            }
            for (q, values) in &b.node_values {
                match per_region.iter_mut().find(|(x, _)| x == q) {
                    Some(slot) => slot.1.clone_from(values),
                    None => per_region.push((*q, values.clone())),
                }
            }
            if let Some((q, _)) = per_region.iter().find(|(q, _)| ids.contains(q)) {
                return Err(refuse(
                    format!(
                        "`{}` differs between the regions; a parameter of interest is one value for all",
                        m.params[*q].name
                    ),
                    "analyze a parameter that the regions share",
                ));
            }
            let rows: Vec<f64> = b.weights.data.chunks(n.max(1)).map(|r| r.iter().sum()).collect();
            for sp in &b.sums {
                per_region.push((sp.row_param, rows.clone()));
                per_region.push((sp.sum_param, vec![0.0; n]));
                sum_params.push(sp.sum_param);
                sent.push(m.values[sp.sent].expr);
            }
        }
        let per_neuron: Vec<usize> = ids.iter().copied().chain(per_region.iter().map(|x| x.0)).collect();
        let sig = kernel::Signature {
            params: &base,
            per_neuron: &per_neuron,
            value_overrides: &p.value_overrides,
            ports: &[],
            outputs: &sent,
            per_step: &sum_params,
        };
        let unsupported = |kernel::Unsupported(why): kernel::Unsupported| refuse(format!("`{}`: {why}", m.name), "");
        let mut plain = kernel::build_full(&m, &p.plan, &sig, run.dt).map_err(unsupported)?;
        // spike times: a state holding the last one, stored when the spike
        // event fires (its derivatives are the spike time's)
        let spike_state = if observe == "spikes" {
            if brain.is_some() {
                return Err(refuse(
                    "a brain's regions do not spike: observe a state".into(),
                    "observe a state of the regions (`E`, `E[3]`)",
                ));
            }
            let emitting: Vec<&kernel::KEvent> = plain.events.iter().filter(|e| e.emits).collect();
            let [e] = emitting[..] else {
                return Err(refuse(
                    format!("`{}` has {} spike events: spike times are observed for one", m.name, emitting.len()),
                    "observe a state, or a model with one `emit spike`",
                ));
            };
            let (fire, time) = (e.fire, e.time);
            let at = plain.states.len();
            plain.insts.push(kernel::Inst::State(at as u32));
            let last = (plain.insts.len() - 1) as kernel::Val;
            plain.insts.push(kernel::Inst::Select(fire, time, last));
            plain.stores.push((plain.insts.len() - 1) as kernel::Val);
            plain.states.push("t_spike".into());
            Some(at)
        } else {
            None
        };
        let first_output = plain.states.len() - sent.len();
        // the arrays whose derivatives are inputs: the propagators', then
        // the sums' (the kernel's arrays: per-neuron ones, then propagators)
        let propagators = plain.propagators.entries.len();
        let mut derived: Vec<usize> = (per_neuron.len()..per_neuron.len() + propagators).collect();
        derived.extend(sum_params.iter().filter_map(|q| per_neuron.iter().position(|x| x == q)));
        let wrt_arrays: Vec<u32> = (0..ids.len() as u32).collect();
        let k = match plain_why {
            Some(_) => plain,
            None => match kernel::sensitivity::augment(&plain, &wrt_arrays, &derived) {
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
        let mut sent_diff = Vec::new();
        for &q in ids.iter().filter(|_| plain_why.is_none() && brain.is_some()) {
            let mut per = Vec::new();
            for &e in &sent {
                let fail = |why: String| refuse(format!("what a region sends: {why}"), "");
                let direct = crate::symbolic::diff(&mut dm, e, Var::Param(q)).map_err(fail)?;
                let mut through = Vec::new();
                for r in crate::schemes::deps(&dm, e) {
                    if let Var::State(st) = r {
                        through.push((st, crate::symbolic::diff(&mut dm, e, Var::State(st)).map_err(fail)?));
                    }
                }
                per.push((Some(direct), through));
            }
            sent_diff.push(per);
        }
        let observe = match (spike_state, state, value) {
            (Some(s), _, _) => Observed::Spikes(s),
            (None, Some(s), _) => Observed::State(s),
            (None, None, Some(v)) => {
                let e = value_exprs[v];
                if crate::schemes::deps(&dm, e).iter().any(|x| matches!(x, Var::Param(q) if sum_params.contains(q))) {
                    return Err(refuse(
                        format!("`{observe}` reads the coupling of the regions; observe a state, or a value of the states alone"),
                        "observe a state of the regions (`E`, `E[3]`) or an observer's signal (`bold_bold`)",
                    ));
                }
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
            (None, None, None) => {
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
            brain: brain.map(|b| BrainPart {
                n: b.n,
                per_region,
                sums: b
                    .sums
                    .iter()
                    .zip(&derived[propagators..])
                    .map(|(sp, &array)| {
                        (
                            crate::runtime::brain::Edges::new(b.n, &b.weights.data, &sp.delays, run.dt, b.interpolate),
                            array,
                        )
                    })
                    .collect(),
                sent,
                sent_diff,
                first_output,
                region,
                propagators,
            }),
            dt: run.dt,
            steps: (run.duration / run.dt).round().max(0.0) as usize,
            every: run.sample_every.max(1),
            span,
        })
    }

    /// The region of a brain observed (None: the mean over the regions,
    /// or not a brain).
    pub fn region(&self) -> Option<usize> {
        self.brain.as_ref().and_then(|b| b.region)
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
            Observed::Spikes(_) => "spikes",
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
            Observed::Spikes(_) => ("ms".to_string(), 1e-3),
        };
        (params, observed)
    }

    /// The observed state's dimension.
    pub fn observed_dim(&self) -> crate::units::Dim {
        match &self.observe {
            Observed::State(s) => self.model.states[*s].dim,
            Observed::Value { value, .. } => self.model.values[*value].dim,
            Observed::Spikes(_) => crate::units::dims::time(),
        }
    }

    /// Whether the problem observes spike times.
    pub fn spikes(&self) -> bool {
        matches!(self.observe, Observed::Spikes(_))
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
        if let Some(b) = &self.brain {
            return thetas.iter().map(|theta| self.simulate_brain(b, theta, until)).collect();
        }
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
                    Observed::Spikes(_) => {}
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
        let spike_state = match self.observe {
            Observed::Spikes(s) => Some(s),
            _ => None,
        };
        if spike_state.is_none() {
            sample(&states, 0.0, &mut out, &mut values);
        }
        let pp: Vec<*const f64> = arrays.iter().map(|a| a.as_ptr()).collect();
        let mut end = 0.0;
        for step in 0..self.steps {
            if end >= until {
                break;
            }
            let (t, t_next) = (step as f64 * self.dt, (step + 1) as f64 * self.dt);
            let sp: Vec<*mut f64> = states.iter_mut().map(|a| a.as_mut_ptr()).collect();
            // SAFETY: every state and parameter array holds n values and
            // lives through the call; the spike buffers hold n per event
            let count = unsafe { self.code.call(&sp, &pp, n, (t, t_next), &mut idx, &mut tim) };
            end = t_next;
            if let Some(st) = spike_state {
                // each spike's time and its derivatives, from the state that
                // holds the last one
                for s in 0..count {
                    let k = idx[s] as usize;
                    let o = &mut out[k];
                    o.t.push(tim[s]);
                    o.y.push(states[st][k]);
                    for (j, d) in o.dy.iter_mut().enumerate() {
                        d.push(states[ns + j * ns + st][k]);
                    }
                }
            }
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
                        return Err(self.blew_up(&what, t_next, theta));
                    }
                }
                if spike_state.is_none() {
                    sample(&states, t_next, &mut out, &mut values);
                }
            }
            // a sampled trace stops at its first sample at or after `until`
            if spike_state.is_none() {
                end = out[0].t.last().copied().unwrap_or(0.0);
            }
        }
        for o in &mut out {
            o.spikes = spike_state.is_some();
            o.end = end;
        }
        Ok(out)
    }

    /// E0506: `what` stopped being finite by `t` at `theta`.
    fn blew_up(&self, what: &str, t: f64, theta: &[f64]) -> Box<Diagnostic> {
        Box::new(
            Diagnostic::error(
                Code::NumericalBlowUp,
                format!("{what} at t = {} ms for {}", crate::units::format_number(t * 1e3), self.describe(theta)),
            )
            .at(self.span, "asked here")
            .help("start from parameters nearer the data, or bound them"),
        )
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
