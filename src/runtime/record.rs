//! What the runtimes hand out while they run: every runtime (the reference
//! interpreter, populations, networks, densities, fields) pushes its
//! samples, spikes and event outputs into a [`Recorder`] as the simulation
//! advances, instead of collecting them, so a run's memory does not grow
//! with its length. The experiment layer's recorders turn these into
//! tables (files streamed to disk, or arrays in memory); [`Recording`] is
//! the plain in-memory recorder the tests use.
//!
//! Order: samples and spikes arrive in time order; spikes of one step in
//! neuron order (so they do not depend on the number of threads). Values
//! are SI. A recorder asks the run to stop by returning `true` from
//! [`Recorder::stop`] (Ctrl-C, or a write that failed); the runtimes check
//! it at least once per step and return an [`Outcome`] with `stopped` set.

/// Receives what a run produces, as it is produced.
pub trait Recorder {
    /// The configured probes' values at time `t`, in the order the run's
    /// configuration lists them.
    fn sample(&mut self, t: f64, values: &[f64]);
    /// A spike of neuron `neuron` (its index over the whole run: within
    /// the population, or over every population of a network) at `t`.
    fn spike(&mut self, neuron: usize, t: f64);
    /// A value an event handed on (`release = u * R` in a plasticity model).
    fn output(&mut self, _name: &str, _t: f64, _value: f64) {}
    /// A synapse of a network (pre, post as global indices, weight in SI,
    /// delay in s), when the configuration asks to keep them.
    fn synapse(&mut self, _pre: usize, _post: usize, _weight: f64, _delay: f64) {}
    /// A plastic synapse's weight (SI) at the end of a network run:
    /// connection (index in the network's connections), global pre and post.
    fn weight(&mut self, _connection: usize, _pre: usize, _post: usize, _weight: f64) {}
    /// A plastic connection's weights (SI) at `t`: mean, SD, min, max.
    fn weight_stats(&mut self, _connection: usize, _t: f64, _stats: [f64; 4]) {}
    /// Whether the run should stop now.
    fn stop(&self) -> bool {
        false
    }
    /// A population density's p per cell (SI: per unit of its variable)
    /// at `t`, handed on every [`Recorder::density_every`] seconds.
    fn density(&mut self, _t: f64, _p: &[f64]) {}
    /// How often (s) the recorder wants a density's p(V, t); `None`: never.
    fn density_every(&self) -> Option<f64> {
        None
    }
    /// A warning found while running (W0501, a state past 1e100).
    fn warning(&mut self, _d: crate::diag::Diagnostic) {}
}

/// Values past this are reported once (W0501): a state that grows without
/// bound, usually an explicit method at too large a step, long before it
/// overflows to infinity (E0506).
pub const HUGE: f64 = 1e100;

/// W0501 for state `state` (of neuron `neuron` in a population of more
/// than one) at `value` by time `t` (s).
pub fn huge_warning(
    m: &crate::ir::Model,
    state: usize,
    neuron: Option<usize>,
    value: f64,
    t: f64,
    dt: f64,
) -> crate::diag::Diagnostic {
    let st = &m.states[state];
    let who = neuron.map_or(String::new(), |i| format!(" of neuron {i}"));
    crate::diag::Diagnostic::warning(
        crate::diag::Code::StateGrewHuge,
        format!(
            "`{}`{who} grew past 1e100 ({value:.3e} SI) by t = {} ms",
            st.name,
            crate::units::format_number(t * 1e3)
        ),
    )
    .at(st.span, "this state")
    .help(format!(
        "it is growing without bound: an explicit method at dt = {} ms may be unstable here (try a smaller --dt or --method auto), or the model has no stable state",
        crate::units::format_number(dt * 1e3)
    ))
}

/// How far a run got.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Outcome {
    /// Steps completed.
    pub steps: usize,
    /// The recorder asked to stop before the last step.
    pub stopped: bool,
}

/// Everything a run produced, in memory. Times in SI seconds, values in SI.
#[derive(Clone, Debug, Default)]
pub struct Recording {
    pub t: Vec<f64>,
    /// (name, samples) for each probe.
    pub traces: Vec<(String, Vec<f64>)>,
    pub spikes: Vec<f64>,
    /// The neuron of each spike (empty for a single neuron: all 0).
    pub spike_ids: Vec<usize>,
    pub steps: usize,
    /// Values events hand on (`release = u * R` in a plasticity model):
    /// (name, time, value).
    pub outputs: Vec<(String, f64, f64)>,
    /// Warnings the run found (W0501).
    pub warnings: Vec<crate::diag::Diagnostic>,
}

impl Recording {
    /// An empty recording whose traces are named (one per probe).
    pub fn named(names: impl IntoIterator<Item = String>) -> Recording {
        Recording { traces: names.into_iter().map(|n| (n, Vec::new())).collect(), ..Recording::default() }
    }
}

impl Recorder for Recording {
    fn sample(&mut self, t: f64, values: &[f64]) {
        self.t.push(t);
        if self.traces.len() < values.len() {
            self.traces.resize(values.len(), (String::new(), Vec::new()));
        }
        for (trace, &v) in self.traces.iter_mut().zip(values) {
            trace.1.push(v);
        }
    }

    fn spike(&mut self, neuron: usize, t: f64) {
        self.spikes.push(t);
        self.spike_ids.push(neuron);
    }

    fn warning(&mut self, d: crate::diag::Diagnostic) {
        self.warnings.push(d);
    }

    fn output(&mut self, name: &str, t: f64, value: f64) {
        self.outputs.push((name.to_string(), t, value));
    }
}
