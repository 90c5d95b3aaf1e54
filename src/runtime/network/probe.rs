//! Probes: a network's sampled states. A probe `(population, state, a, b)`
//! samples neurons a..b of one state array (clamped to the population);
//! a sample hands the recorder every probe's values concatenated, in the
//! order of `NetConfig::probes` ([`probe_widths`] says how many each),
//! then one value per LFP proxy (`NetConfig::lfp`): the sum over the
//! population of the absolute values of its synaptic current states
//! (Mazzoni et al. 2008).

use super::step::Stepping;
use super::{NetConfig, Network};
use crate::runtime::Recorder;
use std::sync::RwLock;

/// A probe: (population, state, first neuron, end).
type Probe = (usize, usize, usize, usize);

/// The probes as the workers sample them within slices of steps
/// ([`super::slice`]): each its own neurons after each sampled step, into
/// one of two buffers as its spikes; the calling thread puts a sample
/// together from every worker's part when it records the slice.
pub(super) struct Sampled<'r> {
    pub probes: &'r [Probe],
    pub every: usize,
    /// Per worker, its values of a slice's samples: per sample, per
    /// probe, its neurons of the probe's range.
    pub values: Vec<[RwLock<Vec<f64>>; 2]>,
}

impl Sampled<'_> {
    /// Whether the states after step `step` are sampled.
    pub fn after(&self, step: usize) -> bool {
        !self.probes.is_empty() && (step + 1).is_multiple_of(self.every.max(1))
    }
}

/// Probe `p`'s neurons, clamped to its population (of `count`), within
/// `chunk`.
fn within((_, _, a, b): Probe, count: usize, (ca, cb): (usize, usize)) -> std::ops::Range<usize> {
    let (a, b) = (a.min(count), b.min(count).max(a.min(count)));
    a.max(ca)..b.min(cb).max(a.max(ca))
}

/// Worker `w`'s part of a sample: per probe, its own neurons' values (NaN
/// for a state the kernel does not have), appended to `out`. Only for
/// this worker's chunks, while it steps them.
pub(super) fn own_part(st: &Stepping, w: usize, out: &mut Vec<f64>) {
    for &p in st.sampled.probes {
        let Some(view) = st.views.get(p.0) else { continue };
        let range = within(p, view.count, st.chunk(p.0, w));
        match view.states.get(p.1) {
            // SAFETY: the worker's own chunk, which it alone touches while
            // the slice runs
            Some(arr) => out.extend(range.map(|i| unsafe { *arr.0.wrapping_add(i) })),
            None => out.extend(std::iter::repeat_n(f64::NAN, range.len())),
        }
    }
}

/// Sample `m` of a slice, put together from every worker's part
/// (`parts`, in worker order) into `values`: probe by probe, worker by
/// worker (so neuron by neuron), as [`sample`] reads it.
pub(super) fn assemble<G: std::ops::Deref<Target = Vec<f64>>>(
    st: &Stepping,
    parts: &[Option<G>],
    m: usize,
    values: &mut Vec<f64>,
) {
    let widths = |w: usize| {
        st.sampled
            .probes
            .iter()
            .map(move |&p| st.views.get(p.0).map_or(0, |v| within(p, v.count, st.chunk(p.0, w)).len()))
    };
    values.clear();
    for (k, &p) in st.sampled.probes.iter().enumerate() {
        if st.views.get(p.0).is_none() {
            continue;
        }
        for (w, part) in parts.iter().flatten().enumerate() {
            let at = m * widths(w).sum::<usize>() + widths(w).take(k).sum::<usize>();
            values.extend_from_slice(&part[at..at + widths(w).nth(k).unwrap_or(0)]);
        }
    }
}

/// How many values each probe contributes to a sample: its neuron range
/// clamped to its population (0 for a population that does not exist).
pub fn probe_widths(net: &Network, cfg: &NetConfig) -> Vec<usize> {
    cfg.probes
        .iter()
        .map(|&(pi, _, a, b)| {
            let n = net.populations.get(pi).map_or(0, |p| p.count);
            b.min(n).saturating_sub(a.min(n))
        })
        .chain(cfg.lfp.iter().map(|_| 1))
        .collect()
}

/// Hands `rec` the probes' values at `t` (`values` is scratch space). A
/// state the population's kernel does not have reads NaN. Only while the
/// workers wait at the barrier.
pub(super) fn sample(cfg: &NetConfig, st: &Stepping, t: f64, values: &mut Vec<f64>, rec: &mut dyn Recorder) {
    values.clear();
    for &(pi, s, a, b) in &cfg.probes {
        let Some(view) = st.views.get(pi) else { continue };
        let n = view.count;
        let (a, b) = (a.min(n), b.min(n).max(a.min(n)));
        // SAFETY: the workers wait at the barrier
        match unsafe { view.state(s) } {
            // spread over processes: each rank gives its own neurons'
            // values, and zeros summed in from the others leave them exact
            Some(arr) => values.extend((a..b).map(|i| if st.owns(pi, i) { arr[i - view.first] } else { 0.0 })),
            None => values.extend(std::iter::repeat_n(f64::NAN, b - a)),
        }
    }
    if let Some(r) = st.ranks() {
        r.sum(values);
    }
    for (pi, states) in &cfg.lfp {
        let Some(view) = st.views.get(*pi) else {
            values.push(f64::NAN);
            continue;
        };
        // SAFETY: the workers wait at the barrier
        let sum = states
            .iter()
            .map(|&s| unsafe { view.state(s) }.map_or(f64::NAN, |a| a.iter().map(|x| x.abs()).sum::<f64>()));
        values.push(sum.sum());
    }
    rec.sample(t, values);
}
