//! Temporary: the runtimes' streaming entry points, as replays of their
//! collected results, until the runtimes stream themselves.

use crate::diag::Diagnostic;
use crate::ir::Model;
use crate::runtime::network::{self, NetConfig, Network};
use crate::runtime::{self, population, Outcome, Recorder};
use crate::schemes::Plan;
use crate::source::Span;

pub(super) fn reference_into(
    m: &Model,
    plan: &Plan,
    cfg: &runtime::Config,
    rec: &mut dyn Recorder,
) -> Result<Outcome, Box<Diagnostic>> {
    let r = runtime::simulate(m, plan, cfg)?;
    let mut spikes = r.spikes.iter().peekable();
    for (k, &t) in r.t.iter().enumerate() {
        while let Some(&&ts) = spikes.peek() {
            if ts > t {
                break;
            }
            rec.spike(0, ts);
            spikes.next();
        }
        let values: Vec<f64> = r.traces.iter().map(|tr| tr.1[k]).collect();
        rec.sample(t, &values);
    }
    for ts in spikes {
        rec.spike(0, *ts);
    }
    for (name, t, v) in &r.outputs {
        rec.output(name, *t, *v);
    }
    Ok(Outcome { steps: r.steps, stopped: false })
}

pub(super) struct PopOutcome {
    pub outcome: Outcome,
    pub compile_seconds: f64,
    pub kernel_insts: usize,
    pub tables: Vec<String>,
    pub warnings: Vec<Diagnostic>,
}

pub(super) fn population_into(
    m: &Model,
    plan: &Plan,
    cfg: &population::PopConfig,
    rec: &mut dyn Recorder,
) -> Result<PopOutcome, Box<Diagnostic>> {
    let r = population::simulate(m, plan, cfg)?;
    for (k, &t) in r.rec.t.iter().enumerate() {
        let mut values: Vec<f64> = r.rec.traces.iter().map(|tr| tr.1[k]).collect();
        values.extend(r.means.iter().map(|m| m.1[k]));
        rec.sample(t, &values);
    }
    for &(i, t) in &r.spikes {
        rec.spike(i, t);
    }
    Ok(PopOutcome {
        outcome: Outcome { steps: r.rec.steps, stopped: false },
        compile_seconds: r.compile_seconds,
        kernel_insts: r.kernel_insts,
        tables: r.tables,
        warnings: r.warnings,
    })
}

pub(super) struct NetOutcome {
    pub outcome: Outcome,
    pub synapses: usize,
    pub connectivity_bytes: usize,
    pub compile_seconds: f64,
    pub tables: Vec<String>,
    pub warnings: Vec<Diagnostic>,
}

pub(super) fn network_into(
    net: &Network,
    cfg: &NetConfig,
    span: Span,
    rec: &mut dyn Recorder,
) -> Result<NetOutcome, Box<Diagnostic>> {
    let r = network::simulate(net, cfg, span)?;
    for &(pre, post, w, d) in &r.synapse_table {
        rec.synapse(pre, post, w, d);
    }
    let mut spikes = r.spikes.iter().peekable();
    for (k, &t) in r.probe_t.iter().enumerate() {
        while let Some(&&(i, ts)) = spikes.peek() {
            if ts > t {
                break;
            }
            rec.spike(i, ts);
            spikes.next();
        }
        let values: Vec<f64> = r.probe_values.iter().flat_map(|p| p[k].iter().copied()).collect();
        rec.sample(t, &values);
    }
    for &(i, ts) in spikes {
        rec.spike(i, ts);
    }
    let steps = (cfg.duration / cfg.dt).round().max(0.0) as usize;
    Ok(NetOutcome {
        outcome: Outcome { steps, stopped: false },
        synapses: r.synapses,
        connectivity_bytes: r.connectivity_bytes,
        compile_seconds: r.compile_seconds,
        tables: r.tables,
        warnings: r.warnings,
    })
}
