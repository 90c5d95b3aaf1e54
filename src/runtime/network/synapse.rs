//! Synapse models on a network's connections: which ports a model
//! receives spikes on ([`ports`]), whether a synapse model's copies onto one
//! neuron can be lumped into one ([`lumpable`]), and short-term plasticity
//! ([`Stp`]): its states per presynaptic neuron, advanced exactly between
//! spikes, and the `release` that scales each weight delivered.

use crate::ir::eval::{eval, eval_params, eval_values, Env};
use crate::ir::{ExprId, Model, Trigger};

/// The ports of a model's `on spike PORT(w)` events: (port, weight dimension).
pub fn ports(m: &Model) -> Vec<(String, Option<crate::units::Dim>)> {
    m.events
        .iter()
        .filter_map(|e| match &e.trigger {
            Trigger::Spike { port: Some(p), weight_dim, .. } => Some((p.clone(), *weight_dim)),
            _ => None,
        })
        .collect()
}

/// Whether every synapse of this model onto one neuron can share one set of
/// states (lumping, as NEST and Brian2 do for linear synapses): the state
/// equations are linear in the synapse's states, a spike adds to them an
/// amount linear in its weight and independent of them, and the currents
/// are linear in them. Then the sum of the synapses' states obeys the same
/// equations as each one. `Err` says what breaks it.
pub fn lumpable(m: &Model) -> Result<(), String> {
    use crate::ir::{Action, NodeKind, ValueKind, Var};
    let mut m = m.clone();
    let own: Vec<usize> = (0..m.states.len()).filter(|&i| m.states[i].name != "V_post").collect();
    // through values too: a state hidden behind a derived value counts
    let mentions_own = |m: &Model, e: ExprId| m.reads(e, |v| matches!(v, Var::State(k) if own.contains(&k)));
    if m.events.iter().any(|e| !matches!(e.trigger, Trigger::Spike { .. })) {
        return Err("it has events other than `on spike`".into());
    }
    let params = eval_params(&m, &[]);
    for &s in &own {
        let env = Env { t: 0.0, states: &[], params: &params, values: &[], args: &[] };
        if eval(&m, m.states[s].init, &env) != 0.0 {
            return Err(format!("`{}` does not start at 0", m.states[s].name));
        }
    }
    let linear_in_own = |m: &mut Model, e: ExprId, what: &str| -> Result<(), String> {
        for &u in &own {
            let d = crate::symbolic::diff(m, e, Var::State(u)).map_err(|why| format!("{what}: {why}"))?;
            if mentions_own(m, d) {
                return Err(format!("{what} is not linear in `{}`", m.states[u].name));
            }
        }
        Ok(())
    };
    for &s in &own {
        if let Some(rhs) = m.states[s].rhs {
            let what = format!("d{}/dt", m.states[s].name);
            linear_in_own(&mut m, rhs, &what)?;
            // a constant term would grow with the number of synapses lumped
            let at_zero = (0..own.len()).fold(rhs, |e, k| {
                let zero = m.arena.add(NodeKind::Const(0.0), m.arena.ty(e), m.span);
                crate::symbolic::substitute(&mut m, e, Var::State(own[k]), zero)
            });
            if !matches!(m.arena.kind(at_zero), NodeKind::Const(c) if *c == 0.0) {
                return Err(format!("d{}/dt does not vanish with the synapse's states", m.states[s].name));
            }
        }
    }
    let events: Vec<(Vec<Action>, Option<usize>)> = m
        .events
        .iter()
        .filter_map(|e| match e.trigger {
            Trigger::Spike { arg, .. } => Some((e.actions.clone(), arg)),
            _ => None,
        })
        .collect();
    for (actions, arg) in events {
        for a in actions {
            let Action::Assign { state, value, held, .. } = a else { continue };
            let name = m.states[state].name.clone();
            if held {
                return Err(format!("a spike sets `{name}` instead of adding to it"));
            }
            // value = state + increment, the increment free of the states:
            // d value / d state = 1, d value / d other states = 0
            for &u in &own {
                let d =
                    crate::symbolic::diff(&mut m, value, Var::State(u)).map_err(|why| format!("`{name}`: {why}"))?;
                let want = if u == state { 1.0 } else { 0.0 };
                if !matches!(m.arena.kind(d), NodeKind::Const(c) if *c == want) {
                    return Err(format!("a spike's increment of `{name}` depends on the synapse's state"));
                }
            }
            let inc = value;
            if let Some(k) = arg {
                let d =
                    crate::symbolic::diff(&mut m, inc, Var::EventArg(k)).map_err(|why| format!("`{name}`: {why}"))?;
                if m.refs(d).iter().any(|v| matches!(v, Var::EventArg(_))) {
                    return Err(format!("a spike's increment of `{name}` is not linear in its weight"));
                }
            }
        }
    }
    let currents: Vec<(String, ExprId)> =
        m.values.iter().filter(|v| v.kind == ValueKind::Current).map(|v| (v.name.clone(), v.expr)).collect();
    for (name, e) in currents {
        linear_in_own(&mut m, e, &format!("current `{name}`"))?;
        // and zero without the synapse's states: else it would count once, not per synapse
        let at_zero = own.iter().fold(e, |x, &k| {
            let zero = m.arena.add(NodeKind::Const(0.0), m.arena.ty(m.states[k].init), m.span);
            crate::symbolic::substitute(&mut m, x, Var::State(k), zero)
        });
        let at_zero = crate::symbolic::simplify(&mut m, at_zero);
        if !matches!(m.arena.kind(at_zero), NodeKind::Const(c) if *c == 0.0) {
            return Err(format!("current `{name}` does not vanish with the synapse's states"));
        }
    }
    Ok(())
}

/// States that evolve linearly with constant coefficients between spikes,
/// y' = A y + b, advanced exactly over any interval.
#[derive(Clone, Debug)]
pub struct Linear {
    a: crate::schemes::linalg::Mat,
    b: Vec<f64>,
    /// The states do not couple (A is diagonal, as for Tsodyks-Markram and
    /// STDP traces): each advances in closed form, without a matrix
    /// exponential.
    diagonal: bool,
}

impl Linear {
    /// The dynamics of `states` of `model` (in that order; a state without
    /// an equation stays put). `Err` when an equation reads `t`, a state
    /// outside `states`, or is not linear with constant coefficients.
    pub fn of(model: &mut Model, params: &[f64], states: &[usize]) -> Result<Linear, String> {
        use crate::ir::{NodeKind, Var};
        use crate::schemes::linalg::Mat;
        let n = states.len();
        let mut a = Mat::zeros(n);
        let mut b = vec![0.0; n];
        let zeros = vec![0.0; model.states.len()];
        let mut vals = Vec::new();
        let exprs: Vec<ExprId> = model.values.iter().map(|v| v.expr).collect();
        eval_values(model, 0.0, &zeros, params, &exprs, &mut vals);
        for (i, &si) in states.iter().enumerate() {
            let Some(rhs) = model.states[si].rhs else { continue };
            if model.refs(rhs).contains(&Var::Time) {
                return Err("its equations read `t`: they must be autonomous between spikes".into());
            }
            for j in 0..model.states.len() {
                let d = crate::symbolic::diff(model, rhs, Var::State(j)).map_err(|e| e.to_string())?;
                let constant = matches!(model.arena.kind(d), NodeKind::Const(_));
                let varies = model.refs(d).iter().any(|v| matches!(v, Var::State(_) | Var::Time | Var::Value(_)));
                if varies && !constant {
                    return Err(format!("d{}/dt is not linear with constant coefficients", model.states[si].name));
                }
                let env = Env { t: 0.0, states: &zeros, params, values: &vals, args: &[] };
                let aij = eval(model, d, &env);
                match states.iter().position(|&s| s == j) {
                    Some(k) => a.set(i, k, aij),
                    None if aij != 0.0 => {
                        return Err(format!(
                            "d{}/dt reads `{}`, which is kept apart from it",
                            model.states[si].name, model.states[j].name
                        ))
                    }
                    None => {}
                }
            }
            let env = Env { t: 0.0, states: &zeros, params, values: &vals, args: &[] };
            b[i] = eval(model, rhs, &env);
        }
        if !a.a.iter().chain(&b).all(|x| x.is_finite()) {
            return Err("its coefficients are not finite".into());
        }
        let diagonal = (0..n).all(|i| (0..n).all(|j| i == j || a.get(i, j) == 0.0));
        Ok(Linear { a, b, diagonal })
    }

    /// Advances `y` over `h` seconds without spikes, exactly.
    pub fn advance(&self, y: &mut [f64], h: f64) {
        if h <= 0.0 {
            return;
        }
        if self.diagonal {
            // y' = a y + b: y(h) = y + (e^{ah} - 1)(y + b/a), y e^{ah} for
            // b = 0, or y + b h for a = 0
            for (i, yi) in y.iter_mut().enumerate() {
                let (a, b) = (self.a.get(i, i), self.b[i]);
                *yi = if a == 0.0 {
                    *yi + b * h
                } else if b == 0.0 {
                    *yi * (a * h).exp() // a decaying trace
                } else {
                    *yi + (a * h).exp_m1() * (*yi + b / a)
                };
            }
            return;
        }
        let (phi, psi) = crate::schemes::linalg::propagators(&self.a, h);
        let n = y.len();
        let old = y.to_vec();
        for (i, yi) in y.iter_mut().enumerate() {
            *yi = (0..n).map(|j| phi.get(i, j) * old[j] + psi.get(i, j) * self.b[j]).sum();
        }
    }
}

/// Initial values of `model`'s states under `params`.
pub(super) fn initial_values(model: &Model, params: &[f64]) -> Vec<f64> {
    let mut init = vec![0.0; model.states.len()];
    for &s in &model.init_order {
        let env = Env { t: 0.0, states: &init, params, values: &[], args: &[] };
        init[s] = eval(model, model.states[s].init, &env);
    }
    init
}

/// Short-term plasticity on a connection (`plasticity = TsodyksMarkram`):
/// a `plasticity` model whose states evolve linearly between spikes, kept
/// per presynaptic neuron (its dynamics depend only on that neuron's
/// spikes), advanced exactly over each interspike interval, and whose
/// spike event's `release` scales the weight delivered.
#[derive(Clone, Debug)]
pub struct Stp {
    model: Model,
    params: Vec<f64>,
    linear: Linear,
    init: Vec<f64>,
    actions: Vec<crate::ir::Action>,
}

impl Stp {
    pub fn new(m: &Model) -> Result<Stp, String> {
        let mut model = m.clone();
        let params = eval_params(&model, &[]);
        let all: Vec<usize> = (0..model.states.len()).collect();
        let linear = Linear::of(&mut model, &params, &all)?;
        let init = initial_values(&model, &params);
        let event = model
            .events
            .iter()
            .find(|e| matches!(e.trigger, Trigger::Spike { .. }))
            .ok_or("it has no `on spike` event")?;
        if matches!(event.trigger, Trigger::Spike { arg: Some(_), .. }) {
            return Err("its `on spike` takes a weight; on a connection the weight is the connection's".into());
        }
        let actions = event.actions.clone();
        if !init.iter().all(|x| x.is_finite()) {
            return Err("its initial values are not finite".into());
        }
        Ok(Stp { model, params, linear, init, actions })
    }

    pub fn initial(&self) -> Vec<f64> {
        self.init.clone()
    }

    /// Advances `y` over `h` seconds without spikes, exactly.
    pub fn advance(&self, y: &mut [f64], h: f64) {
        self.linear.advance(y, h);
    }

    /// A presynaptic spike: runs the event in order; returns its `release`
    /// (1 when the event hands none on).
    pub fn spike(&self, y: &mut [f64], t: f64) -> f64 {
        use crate::ir::Action;
        let mut release = 1.0;
        for a in &self.actions {
            let env = Env { t, states: y, params: &self.params, values: &[], args: &[] };
            match a {
                Action::Assign { state, value, .. } => {
                    let v = eval(&self.model, *value, &env);
                    y[*state] = v;
                }
                Action::Output { value, .. } => release = eval(&self.model, *value, &env),
                _ => {}
            }
        }
        release
    }
}

#[cfg(test)]
mod tests {
    use super::Stp;

    /// The closed form for uncoupled states equals the general propagator.
    #[test]
    fn diagonal_plasticity_advances_like_the_matrix_exponential() {
        let src = "plasticity P {\n    parameter U = 0.1, tau_rec = 100 ms, tau_fac = 1000 ms\n    state R = 1, u = 0\n    dR/dt = (1 - R) / tau_rec\n    du/dt = -u / tau_fac\n    on spike { u += U * (1 - u); release = u * R; R -= u * R }\n}\n";
        let c = crate::compile_source("p.neuro", src, None);
        let fast = Stp::new(c.model("P").unwrap()).unwrap(); // ok: a test of a model it just compiled
        assert!(fast.linear.diagonal);
        let general = Stp { linear: super::Linear { diagonal: false, ..fast.linear.clone() }, ..fast.clone() };
        for h in [1e-4, 3.7e-3, 0.05, 2.0] {
            let (mut a, mut b) = (vec![0.3, 0.8], vec![0.3, 0.8]);
            fast.advance(&mut a, h);
            general.advance(&mut b, h);
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < 1e-13, "h = {h}: {x} vs {y}");
            }
        }
    }
}
