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
            Some(arr) => values.extend((a..b).map(|i| if st.owns(pi, i) { arr[i] } else { 0.0 })),
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
