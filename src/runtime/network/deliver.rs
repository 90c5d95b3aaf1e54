//! Delivering a step's spikes. A spike of neuron i at step s hands itself
//! to the recorder (global index: its population's offset + i) and adds
//! its weight, scaled by the connection's short-term plasticity when it
//! has one, to each target's port accumulator for step s + delay (at least
//! one step later), in the target population's ring buffer; the kernel
//! applies a step's summed input at the start of the step. A delay past
//! the run's end has no slot and is dropped.
//!
//! Here, on the calling thread while the workers wait: the recorder, the
//! short-term plasticity states (advanced spike by spike, in order, into
//! the step's scales), and the connections with spike-timing dependent
//! plasticity ([`Plastic`]), whose events at the synapses (presynaptic
//! spikes, postsynaptic spikes arriving back) run in time order, each
//! presynaptic one delivering its synapses' updated weights. The other
//! connections are delivered by the workers, each onto its own targets,
//! at the start of the next step ([`super::fanout`]).
//!
//! Order: population by population, each worker's chunk in turn, so
//! neuron by neuron: the order does not depend on the thread count.

use super::connect::Csr;
use super::stdp::{Plastic, Spike, SynEvent};
use super::step::Stepping;
use super::Network;
use crate::runtime::Recorder;

/// A connection's plasticity states per presynaptic neuron, and the time of
/// each neuron's last spike.
type StpState = (Vec<Vec<f64>>, Vec<f64>);

/// The plasticity states, and the connections with spike-timing
/// dependent plasticity.
pub(super) struct Delivery<'n> {
    net: &'n Network,
    /// Per connection with plasticity, its states.
    stp_state: Vec<Option<StpState>>,
    /// Per population, its outgoing connections with short-term plasticity.
    stp_of: Vec<Vec<usize>>,
    /// Per connection with spike-timing dependent plasticity, its state
    /// and its synapses.
    plastic: Vec<Option<(Plastic, Csr)>>,
    /// Scratch: a plastic connection's events of a step, and the spikes
    /// of its source and target populations.
    events: Vec<SynEvent>,
    spikes: (Vec<Spike>, Vec<Spike>),
    /// First global index of each population.
    offsets: &'n [usize],
    dt: f64,
}

impl<'n> Delivery<'n> {
    /// The delivery of `net`'s connections (`csrs`, per connection): those
    /// with spike-timing dependent plasticity are kept here, the others are
    /// handed back for the workers ([`super::fanout::Fanout`]).
    pub fn new(
        net: &'n Network,
        csrs: Vec<Csr>,
        offsets: &'n [usize],
        (dt, steps): (f64, usize),
    ) -> (Delivery<'n>, Vec<Option<Csr>>) {
        let mut rest = Vec::with_capacity(csrs.len());
        let mut plastic = Vec::with_capacity(csrs.len());
        for (c, mut csr) in net.connections.iter().zip(csrs) {
            let Some(rule) = c.stdp.clone() else {
                rest.push(Some(csr));
                plastic.push(None);
                continue;
            };
            let count = net.populations[c.to].count;
            let sources = csr.offsets.len().saturating_sub(1);
            // the weights move into the plastic state
            let p = Plastic::new(
                rule,
                (sources, count, csr.targets.len()),
                (c.w, csr.weights.take()),
                (csr.delay_steps, steps),
            );
            plastic.push(Some((p, csr)));
            rest.push(None);
        }
        let stp_state = net
            .connections
            .iter()
            .map(|c| {
                let n = net.populations[c.from].count;
                c.stp.as_ref().map(|s| (vec![s.initial(); n], vec![0.0; n]))
            })
            .collect();
        let stp_of = (0..net.populations.len())
            .map(|pi| {
                (0..net.connections.len())
                    .filter(|&ci| net.connections[ci].from == pi && net.connections[ci].stp.is_some())
                    .collect()
            })
            .collect();
        let delivery = Delivery {
            net,
            stp_state,
            stp_of,
            plastic,
            events: Vec::new(),
            spikes: (Vec::new(), Vec::new()),
            offsets,
            dt,
        };
        (delivery, rest)
    }

    /// The global index of population `pi`'s first neuron.
    pub fn offset(&self, pi: usize) -> usize {
        self.offsets[pi]
    }

    /// Bytes the plastic connections keep: their connectivity and states.
    pub fn bytes(&self) -> usize {
        self.plastic.iter().flatten().map(|(p, csr)| p.bytes() + csr.bytes()).sum()
    }

    /// Hands `rec` the mean, SD, min and max of the weights of each plastic
    /// connection onto `targets` at `now` (every arrival so far applied).
    pub fn stats(&mut self, now: f64, targets: &[usize], rec: &mut dyn Recorder) {
        for (ci, slot) in self.plastic.iter_mut().enumerate() {
            let Some((p, csr)) = slot else { continue };
            if !targets.contains(&self.net.connections[ci].to) {
                continue;
            }
            p.flush((&csr.offsets, &csr.targets), true);
            let n = p.w.len();
            // summed from the first weight, so that equal weights give SD 0
            let first = if n > 0 { p.delivered(0) } else { 0.0 };
            let (mut sum, mut lo, mut hi) = (0.0, f64::INFINITY, f64::NEG_INFINITY);
            for s in 0..n {
                let w = p.delivered(s);
                sum += w - first;
                lo = lo.min(w);
                hi = hi.max(w);
            }
            let mean = first + sum / n.max(1) as f64;
            let var = (0..n).map(|s| (p.delivered(s) - mean).powi(2)).sum::<f64>() / n.max(1) as f64;
            let stats = if n == 0 { [f64::NAN; 4] } else { [mean, var.sqrt(), lo, hi] };
            rec.weight_stats(ci, now, stats);
        }
    }

    /// Applies every arrival so far and hands `rec` every plastic
    /// synapse's weight (SI).
    pub fn weights(&mut self, rec: &mut dyn Recorder) {
        for (p, csr) in self.plastic.iter_mut().flatten() {
            p.flush((&csr.offsets, &csr.targets), true);
        }
        for (ci, (p, csr)) in self.plastic.iter().enumerate().filter_map(|(ci, p)| Some((ci, p.as_ref()?))) {
            let c = &self.net.connections[ci];
            for i in 0..csr.offsets.len().saturating_sub(1) {
                for s in csr.offsets[i]..csr.offsets[i + 1] {
                    let post = self.offsets[c.to] + csr.targets[s] as usize;
                    rec.weight(ci, self.offsets[c.from] + i, post, p.delivered(s));
                }
            }
        }
    }

    /// Hands `rec` the spikes of step `step`, delivers the plastic
    /// connections' and leaves the others in `st`'s pending spikes, with
    /// their short-term plasticity's scales, for the workers to deliver at
    /// the start of the next step. Only while the workers wait.
    pub fn step(&mut self, step: usize, st: &Stepping, rec: &mut dyn Recorder) {
        let mut pending = st.pending.write().unwrap_or_else(|e| e.into_inner());
        let pending = &mut *pending;
        pending.step = Some(step);
        pending.spikes.resize_with(st.views.len(), Vec::new);
        pending.scales.resize_with(self.net.connections.len(), Vec::new);
        pending.spikes.iter_mut().for_each(Vec::clear);
        pending.scales.iter_mut().for_each(Vec::clear);
        for pi in 0..st.views.len() {
            for out in &st.outputs {
                let out = out.lock().unwrap_or_else(|e| e.into_inner());
                for &(i, ts) in &out[pi] {
                    rec.spike(self.offsets[pi] + i, ts);
                    pending.spikes[pi].push(i as u32);
                    for &ci in &self.stp_of[pi] {
                        let stp = self.net.connections[ci].stp.as_deref();
                        if let (Some(stp), Some((ys, last))) = (stp, &mut self.stp_state[ci]) {
                            stp.advance(&mut ys[i], ts - last[i]);
                            last[i] = ts;
                            pending.scales[ci].push(stp.spike(&mut ys[i], ts));
                        }
                    }
                }
            }
        }
        for ci in 0..self.plastic.len() {
            if self.plastic[ci].is_some() {
                self.plastic_step(step, ci, st);
            }
        }
    }

    /// Plastic connection `ci`'s events of step `step`, in time order.
    fn plastic_step(&mut self, step: usize, ci: usize, st: &Stepping) {
        let c = &self.net.connections[ci];
        let Some((p, csr)) = self.plastic[ci].as_mut() else { return };
        let (pre, post) = &mut self.spikes;
        pre.clear();
        post.clear();
        for out in &st.outputs {
            let out = out.lock().unwrap_or_else(|e| e.into_inner());
            pre.extend_from_slice(&out[c.from]);
            post.extend_from_slice(&out[c.to]);
        }
        self.events.clear();
        p.events(step, self.dt, (pre, post), &mut self.events);
        let ring = &st.views[c.to].ring[csr.port];
        let slots = ring.len();
        let acc = (p.delay < slots).then(|| ring[(step + p.delay) % slots].0);
        for &(t, is_post, n) in &self.events {
            if is_post {
                p.post_spike(n as usize, t);
            } else {
                p.pre_spike((&csr.offsets, &csr.targets), n as usize, t, |j, w| {
                    if let Some(acc) = acc {
                        // SAFETY: the workers wait at the barrier; targets < count
                        unsafe { *acc.wrapping_add(j as usize) += w };
                    }
                });
            }
        }
        p.flush((&csr.offsets, &csr.targets), false);
    }
}
