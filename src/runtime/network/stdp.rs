//! Spike-timing dependent plasticity on a connection (`plasticity =
//! STDPPair`): a `plasticity` model with `on spike pre { ... }` and `on
//! spike post { ... }` whose state `w` is each synapse's weight.
//!
//! The model's other states are traces, each kept per neuron of one side:
//! a state the presynaptic event changes belongs to the presynaptic
//! neuron, one the postsynaptic event changes to the postsynaptic neuron
//! (all-to-all pairing with `x += 1`, nearest-spike with `x = 1`, triplet
//! rules with two traces per side). Between spikes the traces evolve
//! linearly and are advanced exactly from each neuron's last spike, so a
//! rule costs one exponential per trace and synaptic event. Only `w` is
//! per synapse.
//!
//! Timing, as NEST's `stdp_synapse` documents it: the whole delay d is
//! dendritic. A presynaptic spike at t reaches the synapse at t (its
//! weight reaches the target at t + d); a postsynaptic spike at t reaches
//! the synapse at t + d. Events at the synapse run in time order: the
//! presynaptic event updates `w` of each outgoing synapse (reading the
//! postsynaptic traces as they were just before), then the synapse
//! delivers the updated weight; the postsynaptic event updates `w` of each
//! incoming synapse. An event reads the other side's traces strictly
//! before its time: two events at the same time do not see each other,
//! as in NEST. Updates are applied when they happen (NEST applies a
//! facilitation at the next presynaptic spike; the weights delivered are
//! the same, the weights saved at the end include facilitations after the
//! last presynaptic spike).

use super::synapse::{initial_values, Linear};
use crate::ir::eval::{eval, eval_params, Env};
use crate::ir::{Action, ExprId, Model, Trigger, Var};

/// One side's part of a rule: its traces and its event.
#[derive(Clone, Debug)]
pub struct SideRule {
    /// The model's states kept per neuron of this side, in model order.
    states: Vec<usize>,
    linear: Linear,
    init: Vec<f64>,
    /// The event's assignments (state, value), in order, run per synapse.
    actions: Vec<(usize, ExprId)>,
    /// Its assignments to this side's traces, run once per neuron.
    traces: Vec<(usize, ExprId)>,
}

/// A spike-timing dependent rule, checked and ready to run.
#[derive(Clone, Debug)]
pub struct Stdp {
    model: Model,
    params: Vec<f64>,
    /// The weight state.
    w: usize,
    /// `w` is dimensionless: each synapse delivers the connection's `w`
    /// times it. Else `w` is the weight itself (the port's unit), and the
    /// connection's `w` its initial value.
    pub relative: bool,
    /// `w`'s initial value from the model.
    pub w_init: f64,
    pre: SideRule,
    post: SideRule,
}

/// Whether `m` is a spike-timing dependent rule: an event on `pre` or `post`.
pub fn is_stdp(m: &Model) -> bool {
    m.events.iter().any(|e| matches!(&e.trigger, Trigger::Spike { port: Some(p), .. } if p == "pre" || p == "post"))
}

impl Stdp {
    /// Checks a rule (its parameters as set in `m`): a state `w` without an
    /// equation, events only on `pre` and `post` that assign states, traces
    /// that belong to one side, linear traces. `Err` says what breaks.
    pub fn new(m: &Model) -> Result<Stdp, String> {
        let mut model = m.clone();
        let params = eval_params(&model, &[]);
        let w = model.state("w").ok_or("it has no state `w`, the synapse's weight")?;
        if model.states[w].rhs.is_some() {
            return Err("`w` has an equation: a synapse's weight changes only at spikes".into());
        }
        let mut pre = Vec::new();
        let mut post = Vec::new();
        for e in &m.events {
            let side = match &e.trigger {
                Trigger::Spike { port: Some(p), arg: None, .. } if p == "pre" => &mut pre,
                Trigger::Spike { port: Some(p), arg: None, .. } if p == "post" => &mut post,
                Trigger::Spike { port: Some(p), arg: None, .. } => {
                    return Err(format!("`on spike {p}`: its events are `on spike pre` and `on spike post`"))
                }
                Trigger::Spike { arg: Some(_), .. } => {
                    return Err("its events take no weight: the weight is `w`".into());
                }
                _ => return Err("its events are `on spike pre` and `on spike post`".into()),
            };
            for a in &e.actions {
                match a {
                    Action::Assign { state, value, .. } => side.push((*state, inline(&mut model, *value))),
                    Action::Output { name, .. } => {
                        return Err(format!("`{name} = ...` hands a value on; here the synapse's weight is `w`"))
                    }
                    _ => return Err("its events only assign states".into()),
                }
            }
        }
        // each trace to the side whose event changes it
        let n = model.states.len();
        let mut side_of = vec![None; n];
        for (acts, side) in [(&pre, 0), (&post, 1)] {
            for &(s, _) in acts.iter().filter(|a| a.0 != w) {
                match side_of[s] {
                    Some(other) if other != side => {
                        return Err(format!(
                            "`{}` changes at both pre- and postsynaptic spikes: a trace belongs to one side",
                            model.states[s].name
                        ))
                    }
                    _ => side_of[s] = Some(side),
                }
            }
        }
        let init = initial_values(&model, &params);
        let mut sides = Vec::new();
        for (side, acts) in [(0, pre), (1, post)] {
            let states: Vec<usize> = (0..n).filter(|&s| s != w && side_of[s].unwrap_or(0) == side).collect();
            let linear = Linear::of(&mut model, &params, &states)?;
            let traces: Vec<(usize, ExprId)> = acts.iter().filter(|a| states.contains(&a.0)).copied().collect();
            for &(s, e) in &traces {
                let foreign = model.refs(e).into_iter().find_map(|v| match v {
                    Var::State(k) if !states.contains(&k) => Some(k),
                    _ => None,
                });
                if let Some(k) = foreign {
                    return Err(format!(
                        "the jump of `{}` reads `{}`: a trace is kept per neuron, so it may read only its own side's traces",
                        model.states[s].name, model.states[k].name
                    ));
                }
            }
            let init = states.iter().map(|&s| init[s]).collect();
            sides.push(SideRule { states, linear, init, actions: acts, traces });
        }
        let post = sides.pop().ok_or("no postsynaptic side")?;
        let pre = sides.pop().ok_or("no presynaptic side")?;
        let w_init = init[w];
        if !init.iter().all(|x| x.is_finite()) {
            return Err("its initial values are not finite".into());
        }
        let relative = model.states[w].dim == crate::units::Dim::NONE;
        Ok(Stdp { model, params, w, relative, w_init, pre, post })
    }

    /// The dimension of `w`.
    pub fn weight_dim(&self) -> crate::units::Dim {
        self.model.states[self.w].dim
    }

    /// Runs `side`'s event for one synapse: `full` holds the model's states
    /// (the traces of both sides and `w`); returns the new `w`.
    fn run(&self, actions: &[(usize, ExprId)], full: &mut [f64], t: f64) -> f64 {
        for &(s, e) in actions {
            let env = Env { t, states: full, params: &self.params, values: &[], args: &[] };
            full[s] = eval(&self.model, e, &env);
        }
        full[self.w]
    }
}

/// `e` with every derived value replaced by its expression.
fn inline(model: &mut Model, mut e: ExprId) -> ExprId {
    for _ in 0..=model.values.len() {
        let values: Vec<usize> =
            model.refs(e).into_iter().filter_map(|v| if let Var::Value(k) = v { Some(k) } else { None }).collect();
        if values.is_empty() {
            break;
        }
        for k in values {
            let x = model.values[k].expr;
            e = crate::symbolic::substitute(model, e, Var::Value(k), x);
        }
    }
    e
}

/// One side's traces, per neuron: the values after its last spike, the
/// values just before it, and its time (0 before any spike).
struct Traces {
    width: usize,
    after: Vec<f64>,
    before: Vec<f64>,
    last: Vec<f64>,
}

/// Two times closer than this (s) are the same event time.
const SAME_TIME: f64 = 1e-12;

impl Traces {
    fn new(rule: &SideRule, count: usize) -> Traces {
        let after: Vec<f64> = (0..count).flat_map(|_| rule.init.iter().copied()).collect();
        Traces { width: rule.init.len(), before: after.clone(), after, last: vec![0.0; count] }
    }

    /// Neuron `i`'s traces at `t`, without a jump at `t` itself.
    fn at(&self, rule: &SideRule, i: usize, t: f64, out: &mut [f64]) {
        let r = i * self.width..(i + 1) * self.width;
        if (t - self.last[i]).abs() <= SAME_TIME && self.last[i] > 0.0 {
            out.copy_from_slice(&self.before[r]);
        } else {
            out.copy_from_slice(&self.after[r]);
            rule.linear.advance(out, t - self.last[i]);
        }
    }

    /// Neuron `i` spiked at `t`: its traces were `before` and are `after`.
    fn jump(&mut self, i: usize, t: f64, before: &[f64], after: &[f64]) {
        let r = i * self.width..(i + 1) * self.width;
        self.before[r.clone()].copy_from_slice(before);
        self.after[r].copy_from_slice(after);
        self.last[i] = t;
    }
}

/// A plastic connection's state during a run: the weights (CSR order),
/// the traces of both sides, the synapses by target (CSC), and the
/// postsynaptic spikes on their way back to the synapses.
pub(super) struct Plastic {
    rule: std::sync::Arc<Stdp>,
    /// Per synapse, in CSR order.
    pub w: Vec<f64>,
    /// What each synapse delivers is `scale * w` (`scales[k] * w` when the
    /// connection draws its weights).
    pub scale: f64,
    pub scales: Option<Vec<f64>>,
    pre: Traces,
    post: Traces,
    /// Synapses onto target j: `into[into_offsets[j]..into_offsets[j + 1]]`,
    /// each (synapse index, source).
    into_offsets: Vec<usize>,
    into: Vec<(u32, u32)>,
    /// The delay in steps.
    pub delay: usize,
    /// Per arrival step (modulo delay + 1): (target, time at the synapse).
    back: Vec<Vec<(u32, f64)>>,
    /// Scratch: the model's states, and one side's traces.
    full: Vec<f64>,
    own: Vec<f64>,
    other: Vec<f64>,
}

/// A spike of a step: (neuron, time).
pub(super) type Spike = (usize, f64);

/// A synaptic event at a plastic connection: (time at the synapse,
/// postsynaptic?, neuron).
pub(super) type SynEvent = (f64, bool, u32);

impl Plastic {
    /// The state of a connection whose synapses are `(offsets, targets)`
    /// (CSR by source) onto `targets_count` neurons; `weights` are the
    /// connection's per-synapse weights when it draws them.
    pub fn new(
        rule: std::sync::Arc<Stdp>,
        (offsets, targets): (&[usize], &[u32]),
        targets_count: usize,
        (w, weights): (f64, Option<&Vec<f64>>),
        delay: usize,
    ) -> Plastic {
        let sources = offsets.len().saturating_sub(1);
        let mut into_offsets = vec![0usize; targets_count + 1];
        for &j in targets {
            into_offsets[j as usize + 1] += 1;
        }
        for j in 0..targets_count {
            into_offsets[j + 1] += into_offsets[j];
        }
        let mut fill = into_offsets.clone();
        let mut into = vec![(0u32, 0u32); targets.len()];
        for i in 0..sources {
            for (k, &j) in targets.iter().enumerate().take(offsets[i + 1]).skip(offsets[i]) {
                into[fill[j as usize]] = (k as u32, i as u32);
                fill[j as usize] += 1;
            }
        }
        let n = targets.len();
        let (init, scale, scales) = match (rule.relative, weights) {
            (true, ws) => (vec![rule.w_init; n], w, ws.cloned()),
            (false, Some(ws)) => (ws.clone(), 1.0, None),
            (false, None) => (vec![w; n], 1.0, None),
        };
        Plastic {
            pre: Traces::new(&rule.pre, sources),
            post: Traces::new(&rule.post, targets_count),
            full: vec![0.0; rule.model.states.len()],
            own: vec![0.0; rule.pre.init.len().max(rule.post.init.len())],
            other: vec![0.0; rule.pre.init.len().max(rule.post.init.len())],
            rule,
            w: init,
            scale,
            scales,
            into_offsets,
            into,
            delay,
            back: vec![Vec::new(); delay + 1],
        }
    }

    /// Bytes per synapse beyond the static connection's: the weight and the
    /// synapse's place by target.
    pub fn bytes(&self) -> usize {
        self.w.len() * 8 + self.into.len() * 8 + self.into_offsets.len() * 8
    }

    /// The weight synapse `k` delivers, in SI.
    pub fn delivered(&self, k: usize) -> f64 {
        self.scales.as_ref().map_or(self.scale, |s| s[k]) * self.w[k]
    }

    /// Step `step`'s events at the synapses: this step's presynaptic spikes
    /// (at their times) and the postsynaptic spikes arriving now, merged in
    /// time order into `events`; this step's postsynaptic spikes queued
    /// for step + delay.
    pub fn events(
        &mut self,
        step: usize,
        dt: f64,
        (pre, post): (&[Spike], &[Spike]),
        events: &mut Vec<SynEvent>,
    ) {
        let slots = self.back.len();
        events.extend(pre.iter().map(|&(i, t)| (t, false, i as u32)));
        events.extend(self.back[step % slots].drain(..).map(|(j, t)| (t, true, j)));
        let lag = self.delay as f64 * dt;
        self.back[(step + self.delay) % slots].extend(post.iter().map(|&(j, t)| (j as u32, t + lag)));
        events.sort_by(|a, b| a.0.total_cmp(&b.0));
    }

    /// A presynaptic spike of `i` at `t`: each outgoing synapse's weight
    /// updated, then handed to `deliver(target, weight in SI)`.
    pub fn pre_spike(
        &mut self,
        (offsets, targets): (&[usize], &[u32]),
        i: usize,
        t: f64,
        mut deliver: impl FnMut(u32, f64),
    ) {
        let rule = &*self.rule;
        let (np, nq) = (rule.pre.init.len(), rule.post.init.len());
        self.pre.at(&rule.pre, i, t, &mut self.own[..np]);
        for k in offsets[i]..offsets[i + 1] {
            let j = targets[k] as usize;
            self.post.at(&rule.post, j, t, &mut self.other[..nq]);
            set(&mut self.full, &rule.pre.states, &self.own[..np]);
            set(&mut self.full, &rule.post.states, &self.other[..nq]);
            self.full[rule.w] = self.w[k];
            self.w[k] = rule.run(&rule.pre.actions, &mut self.full, t);
            deliver(targets[k], self.scales.as_ref().map_or(self.scale, |s| s[k]) * self.w[k]);
        }
        jump(rule, &rule.pre, &mut self.pre, &mut self.full, &self.own[..np], i, t);
    }

    /// A postsynaptic spike of `j` reaching its synapses at `t`: each
    /// incoming synapse's weight updated.
    pub fn post_spike(&mut self, j: usize, t: f64) {
        let rule = &*self.rule;
        let (np, nq) = (rule.pre.init.len(), rule.post.init.len());
        self.post.at(&rule.post, j, t, &mut self.own[..nq]);
        for &(k, i) in &self.into[self.into_offsets[j]..self.into_offsets[j + 1]] {
            self.pre.at(&rule.pre, i as usize, t, &mut self.other[..np]);
            set(&mut self.full, &rule.pre.states, &self.other[..np]);
            set(&mut self.full, &rule.post.states, &self.own[..nq]);
            self.full[rule.w] = self.w[k as usize];
            self.w[k as usize] = rule.run(&rule.post.actions, &mut self.full, t);
        }
        jump(rule, &rule.post, &mut self.post, &mut self.full, &self.own[..nq], j, t);
    }
}

/// `full[states[k]] = values[k]`.
fn set(full: &mut [f64], states: &[usize], values: &[f64]) {
    for (&s, &v) in states.iter().zip(values) {
        full[s] = v;
    }
}

/// Neuron `i` of `side` spiked at `t` with traces `before`: its trace
/// jumps, run once.
fn jump(rule: &Stdp, side: &SideRule, traces: &mut Traces, full: &mut [f64], before: &[f64], i: usize, t: f64) {
    set(full, &side.states, before);
    rule.run(&side.traces, full, t);
    let after: Vec<f64> = side.states.iter().map(|&s| full[s]).collect();
    traces.jump(i, t, before, &after);
}
