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
//! the synapse at t + d. At each synapse the events run in time order: a
//! postsynaptic arrival updates `w` reading the presynaptic traces just
//! before it; a presynaptic spike updates `w` reading the postsynaptic
//! traces just before it, and the synapse delivers the updated weight. An
//! event reads the other side's traces strictly before its time: two
//! events at the same time do not see each other, and at a tie the
//! arrival's update comes first, as in NEST.
//!
//! As in NEST, an arrival's update is made when it is needed: at the
//! presynaptic neuron's next spike (each target keeps its arrivals, with
//! its traces just before each), so that the per-synapse work runs along
//! the source's synapses in memory order. Every target's arrivals are
//! also applied to all synapses (a flush) when they grow past 64 per
//! target, and at the end, before the weights are saved: the weights are
//! those of the events in time order, whenever they are applied.
//!
//! The events' actions run as [`Tape`]s: straight-line code with the
//! rule's parameters folded in; per synapse only the actions up to the
//! last assignment to `w` run, the traces' jumps once per neuron.

use super::synapse::{initial_values, Linear};
use crate::ir::eval::eval_params;
use crate::ir::tape::Tape;
use crate::ir::{Action, ExprId, Model, Trigger, Var};

/// One side's part of a rule: its traces and its event.
#[derive(Clone, Debug)]
pub struct SideRule {
    /// The model's states kept per neuron of this side, in model order.
    states: Vec<usize>,
    linear: Linear,
    init: Vec<f64>,
    /// The event's assignments (state, value), in order, up to the last
    /// one to `w`: run per synapse.
    actions: Vec<(usize, Tape)>,
    /// Its assignments to this side's traces, run once per neuron.
    traces: Vec<(usize, Tape)>,
}

/// A spike-timing dependent rule, checked and ready to run.
#[derive(Clone, Debug)]
pub struct Stdp {
    model: Model,
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
        if let Some(v) = model.values.iter().find(|v| v.kind == crate::ir::ValueKind::Input) {
            return Err(format!(
                "it has an input `{}`: a rule reads only its traces, its weight and its parameters",
                v.name
            ));
        }
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
            let tape = |(s, e): &(usize, ExprId)| Tape::new(&model, *e, &params).map(|t| (*s, t));
            let last_w = acts.iter().rposition(|a| a.0 == w).map_or(0, |k| k + 1);
            let actions = acts[..last_w].iter().map(tape).collect::<Result<_, _>>()?;
            let traces = traces.iter().map(tape).collect::<Result<_, _>>()?;
            sides.push(SideRule { states, linear, init, actions, traces });
        }
        let post = sides.pop().ok_or("no postsynaptic side")?;
        let pre = sides.pop().ok_or("no presynaptic side")?;
        let w_init = init[w];
        if !init.iter().all(|x| x.is_finite()) {
            return Err("its initial values are not finite".into());
        }
        let relative = model.states[w].dim == crate::units::Dim::NONE;
        Ok(Stdp { model, w, relative, w_init, pre, post })
    }

    /// The dimension of `w`.
    pub fn weight_dim(&self) -> crate::units::Dim {
        self.model.states[self.w].dim
    }

    /// Runs `actions` on `full`, the model's states (the traces of both
    /// sides and `w`), at `t`; returns `w`.
    fn run(&self, actions: &[(usize, Tape)], full: &mut [f64], t: f64, regs: &mut Vec<f64>) -> f64 {
        for (s, tape) in actions {
            full[*s] = tape.run(full, t, regs);
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

/// Two times closer than this (s) are the same event time (NEST's
/// `stdp_eps`, 1e-6 ms).
const SAME_TIME: f64 = 1e-9;

impl Traces {
    fn new(rule: &SideRule, count: usize) -> Traces {
        let after: Vec<f64> = (0..count).flat_map(|_| rule.init.iter().copied()).collect();
        Traces { width: rule.init.len(), before: after.clone(), after, last: vec![0.0; count] }
    }

    /// Neuron `i`'s traces at `t`, without a jump at `t` itself (before a
    /// first spike, `before` holds the initial values as `after` does).
    fn at(&self, rule: &SideRule, i: usize, t: f64, out: &mut [f64]) {
        let r = i * self.width..(i + 1) * self.width;
        if (t - self.last[i]).abs() <= SAME_TIME {
            out.copy_from_slice(&self.before[r]);
        } else {
            out.copy_from_slice(&self.after[r]);
            rule.linear.advance(out, t - self.last[i]);
        }
    }

    /// Neuron `i`'s traces at `t`, advanced from its last spike (which is
    /// before `t`).
    fn since_last(&self, rule: &SideRule, i: usize, t: f64, out: &mut [f64]) {
        out.copy_from_slice(&self.after[i * self.width..(i + 1) * self.width]);
        rule.linear.advance(out, t - self.last[i]);
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
/// the traces of both sides, and each target's arrivals not yet applied.
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
    /// Per source: its synapses have taken every arrival numbered below.
    done: Vec<u64>,
    /// Per target: the arrivals not yet applied to every synapse.
    arrivals: Vec<Arrivals>,
    /// The number the next arrival gets.
    next: u64,
    pending: usize,
    /// The delay in steps.
    pub delay: usize,
    /// Per arrival step (modulo the slots: delay + 1, or fewer when the
    /// run is shorter): (target, time at the synapse).
    back: Vec<Vec<(u32, f64)>>,
    /// Steps in the run: arrivals after its end are not kept.
    steps: usize,
    /// Bytes of per-synapse weights moved here from the connectivity
    /// (counted there already).
    moved: usize,
    /// Scratch: the model's states, one side's traces, the tapes' registers.
    full: Vec<f64>,
    own: Vec<f64>,
    other: Vec<f64>,
    regs: Vec<f64>,
}

/// A spike of a step: (neuron, time).
pub(super) type Spike = (usize, f64);

/// A synaptic event at a plastic connection: (time at the synapse,
/// postsynaptic?, neuron).
pub(super) type SynEvent = (f64, bool, u32);

/// A target's arrivals not yet applied to every synapse: their times,
/// numbers, and the target's traces just before each (`post.width` per
/// arrival).
#[derive(Clone, Default)]
struct Arrivals {
    times: Vec<f64>,
    numbers: Vec<u64>,
    traces: Vec<f64>,
}

impl Plastic {
    /// The state of a connection with `sources` presynaptic neurons onto
    /// `targets` neurons, `n` synapses; `weights` are the connection's
    /// per-synapse weights when it draws them; `delay` in steps, of a run
    /// of `steps`.
    pub fn new(
        rule: std::sync::Arc<Stdp>,
        (sources, targets, n): (usize, usize, usize),
        (w, weights): (f64, Option<Vec<f64>>),
        (delay, steps): (usize, usize),
    ) -> Plastic {
        let moved = weights.as_ref().map_or(0, |ws| ws.len() * 8);
        let (init, scale, scales) = match (rule.relative, weights) {
            (true, ws) => (vec![rule.w_init; n], w, ws),
            (false, Some(ws)) => (ws, 1.0, None),
            (false, None) => (vec![w; n], 1.0, None),
        };
        let width = rule.pre.init.len().max(rule.post.init.len());
        Plastic {
            pre: Traces::new(&rule.pre, sources),
            post: Traces::new(&rule.post, targets),
            done: vec![0; sources],
            arrivals: vec![Arrivals::default(); targets],
            next: 0,
            pending: 0,
            full: vec![0.0; rule.model.states.len()],
            own: vec![0.0; width],
            other: vec![0.0; width],
            regs: Vec::new(),
            rule,
            w: init,
            scale,
            scales,
            delay,
            // an arrival after the run's end has no slot
            back: vec![Vec::new(); delay.min(steps + 1) + 1],
            steps,
            moved,
        }
    }

    /// Bytes beyond the static connection's: the weights, their scales,
    /// the traces and the arrivals kept.
    pub fn bytes(&self) -> usize {
        let traces = (self.pre.after.len() + self.post.after.len()) * 2 + self.pre.last.len() + self.post.last.len();
        let scales = self.scales.as_ref().map_or(0, Vec::len);
        let arrivals: usize =
            self.arrivals.iter().map(|a| a.times.capacity() + a.numbers.capacity() + a.traces.capacity()).sum();
        (self.w.len() + scales + traces + self.done.len() + arrivals) * 8 - self.moved
    }

    /// The weight synapse `k` delivers, in SI.
    pub fn delivered(&self, k: usize) -> f64 {
        self.scales.as_ref().map_or(self.scale, |s| s[k]) * self.w[k]
    }

    /// Step `step`'s events at the synapses: this step's presynaptic spikes
    /// (at their times) and the postsynaptic spikes arriving now, merged in
    /// time order into `events`; this step's postsynaptic spikes queued
    /// for step + delay.
    pub fn events(&mut self, step: usize, dt: f64, (pre, post): (&[Spike], &[Spike]), events: &mut Vec<SynEvent>) {
        let slots = self.back.len();
        events.extend(pre.iter().map(|&(i, t)| (t, false, i as u32)));
        events.extend(self.back[step % slots].drain(..).map(|(j, t)| (t, true, j)));
        if self.delay < slots && step + self.delay < self.steps {
            let lag = self.delay as f64 * dt;
            self.back[(step + self.delay) % slots].extend(post.iter().map(|&(j, t)| (j as u32, t + lag)));
        }
        events.sort_by(|a, b| a.0.total_cmp(&b.0));
        // at a tie, arrivals first: move each arrival before the
        // presynaptic spikes within SAME_TIME of it
        for k in 1..events.len() {
            let mut m = k;
            while m > 0 && events[m].1 && !events[m - 1].1 && events[m].0 - events[m - 1].0 <= SAME_TIME {
                events.swap(m - 1, m);
                m -= 1;
            }
        }
    }

    /// A postsynaptic spike of `j` reaching its synapses at `t`: kept with
    /// the traces just before it, and the traces' jumps.
    pub fn post_spike(&mut self, j: usize, t: f64) {
        let rule = &*self.rule;
        let nq = rule.post.init.len();
        self.post.since_last(&rule.post, j, t, &mut self.own[..nq]);
        if !rule.post.actions.is_empty() {
            let a = &mut self.arrivals[j];
            a.times.push(t);
            a.numbers.push(self.next);
            a.traces.extend_from_slice(&self.own[..nq]);
            self.next += 1;
            self.pending += 1;
        }
        jump(rule, &rule.post, &mut self.post, (&mut self.full, &mut self.regs), &self.own[..nq], j, t);
    }

    /// A presynaptic spike of `i` at `t`: each outgoing synapse takes its
    /// target's arrivals since the last time, then the spike's update, and
    /// hands its weight to `deliver(target, weight in SI)`.
    pub fn pre_spike(
        &mut self,
        (offsets, targets): (&[usize], &[u32]),
        i: usize,
        t: f64,
        mut deliver: impl FnMut(u32, f64),
    ) {
        let rule = self.rule.clone();
        let rule = &*rule;
        let (np, nq) = (rule.pre.init.len(), rule.post.init.len());
        self.pre.since_last(&rule.pre, i, t, &mut self.own[..np]);
        for k in offsets[i]..offsets[i + 1] {
            let j = targets[k] as usize;
            self.catch_up(i, k, j);
            self.post.at(&rule.post, j, t, &mut self.other[..nq]);
            set(&mut self.full, &rule.pre.states, &self.own[..np]);
            set(&mut self.full, &rule.post.states, &self.other[..nq]);
            self.full[rule.w] = self.w[k];
            self.w[k] = rule.run(&rule.pre.actions, &mut self.full, t, &mut self.regs);
            deliver(targets[k], self.scales.as_ref().map_or(self.scale, |s| s[k]) * self.w[k]);
        }
        self.done[i] = self.next;
        jump(rule, &rule.pre, &mut self.pre, (&mut self.full, &mut self.regs), &self.own[..np], i, t);
    }

    /// Synapse `k` (from `i` onto `j`) takes `j`'s arrivals numbered from
    /// `done[i]` on, each reading `i`'s traces just before it.
    fn catch_up(&mut self, i: usize, k: usize, j: usize) {
        let rule = &*self.rule;
        let (np, nq) = (rule.pre.init.len(), rule.post.init.len());
        let arrivals = &self.arrivals[j];
        let from = arrivals.numbers.partition_point(|&q| q < self.done[i]);
        if from == arrivals.times.len() {
            return;
        }
        let mut w = self.w[k];
        for (a, &b) in arrivals.times.iter().enumerate().skip(from) {
            self.pre.at(&rule.pre, i, b, &mut self.other[..np]);
            set(&mut self.full, &rule.pre.states, &self.other[..np]);
            set(&mut self.full, &rule.post.states, &arrivals.traces[a * nq..(a + 1) * nq]);
            self.full[rule.w] = w;
            w = rule.run(&rule.post.actions, &mut self.full, b, &mut self.regs);
        }
        self.w[k] = w;
    }

    /// Every synapse takes its target's arrivals so far, which are then
    /// dropped; done when they pass 64 per target (`force`: always).
    pub fn flush(&mut self, (offsets, targets): (&[usize], &[u32]), force: bool) {
        if self.pending == 0 || (!force && self.pending <= 64 * self.arrivals.len()) {
            return;
        }
        for i in 0..self.done.len() {
            for (k, &j) in targets.iter().enumerate().take(offsets[i + 1]).skip(offsets[i]) {
                self.catch_up(i, k, j as usize);
            }
            self.done[i] = self.next;
        }
        for a in &mut self.arrivals {
            a.times.clear();
            a.numbers.clear();
            a.traces.clear();
        }
        self.pending = 0;
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
fn jump(
    rule: &Stdp,
    side: &SideRule,
    traces: &mut Traces,
    (full, regs): (&mut [f64], &mut Vec<f64>),
    before: &[f64],
    i: usize,
    t: f64,
) {
    set(full, &side.states, before);
    rule.run(&side.traces, full, t, regs);
    let mut after = [0.0; 8];
    let n = side.states.len();
    if n <= after.len() {
        for (a, &s) in after.iter_mut().zip(&side.states) {
            *a = full[s];
        }
        traces.jump(i, t, before, &after[..n]);
    } else {
        let after: Vec<f64> = side.states.iter().map(|&s| full[s]).collect();
        traces.jump(i, t, before, &after);
    }
}
