//! Delivering a step's spikes. A spike of neuron i at step s hands itself
//! to the recorder (global index: its population's offset + i) and adds
//! its weight, scaled by the connection's short-term plasticity when it
//! has one, to each target's port accumulator for step s + delay (at least
//! one step later), in the target population's ring buffer; the kernel
//! applies a step's summed input at the start of the step. A delay past
//! the run's end has no slot and is dropped.
//!
//! Order: population by population, each worker's chunk in turn, so
//! neuron by neuron: the order does not depend on the thread count, and
//! the sums in the ring (and the plasticity states) are added in it.
//!
//! A connection with spike-timing dependent plasticity ([`Plastic`])
//! delivers apart, after the others: its step's events at the synapses
//! (presynaptic spikes, postsynaptic spikes arriving back) run in time
//! order, each presynaptic one delivering its synapses' updated weights.

use super::connect::Csr;
use super::stdp::{Plastic, Spike, SynEvent};
use super::step::Stepping;
use super::Network;
use crate::runtime::Recorder;

/// A connection's plasticity states per presynaptic neuron, and the time of
/// each neuron's last spike.
type StpState = (Vec<Vec<f64>>, Vec<f64>);

/// The connectivity and plasticity states, by source population.
pub(super) struct Delivery<'n> {
    net: &'n Network,
    /// Per source population, its connections' CSR, in connection order.
    csrs: Vec<Vec<Csr>>,
    /// Per source population, the indices of its connections.
    conn_of: Vec<Vec<usize>>,
    /// Per connection with plasticity, its states.
    stp_state: Vec<Option<StpState>>,
    /// Per connection with spike-timing dependent plasticity, its state
    /// and its place in `csrs`.
    plastic: Vec<Option<(Plastic, (usize, usize))>>,
    /// Scratch: a plastic connection's events of a step, and the spikes
    /// of its source and target populations.
    events: Vec<SynEvent>,
    spikes: (Vec<Spike>, Vec<Spike>),
    /// First global index of each population.
    offsets: &'n [usize],
    dt: f64,
}

impl<'n> Delivery<'n> {
    pub fn new(
        net: &'n Network,
        mut csrs: Vec<Vec<Csr>>,
        offsets: &'n [usize],
        (dt, steps): (f64, usize),
    ) -> Delivery<'n> {
        let conn_of: Vec<Vec<usize>> = (0..net.populations.len())
            .map(|pi| net.connections.iter().enumerate().filter(|(_, c)| c.from == pi).map(|(k, _)| k).collect())
            .collect();
        let plastic = net
            .connections
            .iter()
            .enumerate()
            .map(|(ci, c)| {
                let rule = c.stdp.clone()?;
                let k = conn_of[c.from].iter().position(|&x| x == ci)?;
                let csr: &mut Csr = &mut csrs[c.from][k];
                let count = net.populations[c.to].count;
                let sources = csr.offsets.len().saturating_sub(1);
                // the weights move into the plastic state (`spike` skips the connection)
                let p = Plastic::new(
                    rule,
                    (sources, count, csr.targets.len()),
                    (c.w, csr.weights.take()),
                    (csr.delay_steps, steps),
                );
                Some((p, (c.from, k)))
            })
            .collect();
        let stp_state = net
            .connections
            .iter()
            .map(|c| {
                let n = net.populations[c.from].count;
                c.stp.as_ref().map(|s| (vec![s.initial(); n], vec![0.0; n]))
            })
            .collect();
        Delivery {
            net,
            csrs,
            conn_of,
            stp_state,
            plastic,
            events: Vec::new(),
            spikes: (Vec::new(), Vec::new()),
            offsets,
            dt,
        }
    }

    /// Bytes the plastic connections keep beyond their connectivity.
    pub fn plastic_bytes(&self) -> usize {
        self.plastic.iter().flatten().map(|(p, _)| p.bytes()).sum()
    }

    /// Hands `rec` the mean, SD, min and max of the weights of each plastic
    /// connection onto `targets` at `now` (every arrival so far applied).
    pub fn stats(&mut self, now: f64, targets: &[usize], rec: &mut dyn Recorder) {
        for (ci, slot) in self.plastic.iter_mut().enumerate() {
            let Some((p, (from, k))) = slot else { continue };
            if !targets.contains(&self.net.connections[ci].to) {
                continue;
            }
            let csr = &self.csrs[*from][*k];
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
        for (p, (from, k)) in self.plastic.iter_mut().flatten() {
            let csr = &self.csrs[*from][*k];
            p.flush((&csr.offsets, &csr.targets), true);
        }
        for (ci, (p, (from, k))) in self.plastic.iter().enumerate().filter_map(|(ci, p)| Some((ci, p.as_ref()?))) {
            let c = &self.net.connections[ci];
            let csr = &self.csrs[*from][*k];
            for i in 0..csr.offsets.len().saturating_sub(1) {
                for s in csr.offsets[i]..csr.offsets[i + 1] {
                    let post = self.offsets[c.to] + csr.targets[s] as usize;
                    rec.weight(ci, self.offsets[c.from] + i, post, p.delivered(s));
                }
            }
        }
    }

    /// Hands `rec` and the rings the spikes of step `step`. Only while the
    /// workers wait at the barrier.
    pub fn step(&mut self, step: usize, st: &Stepping, rec: &mut dyn Recorder) {
        for pi in 0..st.views.len() {
            for out in &st.outputs {
                let out = out.lock().unwrap_or_else(|e| e.into_inner());
                for &(i, ts) in &out[pi] {
                    rec.spike(self.offsets[pi] + i, ts);
                    self.spike(step, pi, i, ts, st);
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
        let Some((p, (from, k))) = self.plastic[ci].as_mut() else { return };
        let csr = &self.csrs[*from][*k];
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
                        unsafe { *acc.add(j as usize) += w };
                    }
                });
            }
        }
        p.flush((&csr.offsets, &csr.targets), false);
    }

    /// Neuron `i` of population `pi` spiked at `ts` during step `step`: its
    /// weight into every target's ring.
    fn spike(&mut self, step: usize, pi: usize, i: usize, ts: f64, st: &Stepping) {
        for (k, &ci) in self.conn_of[pi].iter().enumerate() {
            let c = &self.net.connections[ci];
            if c.stdp.is_some() {
                continue; // delivered by `plastic_step`
            }
            let csr = &self.csrs[pi][k];
            let ring = &st.views[c.to].ring[csr.port];
            let slots = ring.len();
            let range = csr.offsets[i]..csr.offsets[i + 1];
            let scale = match (&c.stp, &mut self.stp_state[ci]) {
                (Some(stp), Some((ys, last))) => {
                    stp.advance(&mut ys[i], ts - last[i]);
                    last[i] = ts;
                    stp.spike(&mut ys[i], ts)
                }
                _ => 1.0,
            };
            // SAFETY: the workers wait at the barrier; targets < count
            unsafe {
                match (&csr.weights, &csr.delays) {
                    (None, None) if csr.delay_steps >= slots => {} // after the end
                    (None, None) => {
                        let acc = ring[(step + csr.delay_steps) % slots].0;
                        let w = c.w * scale;
                        for &j in &csr.targets[range] {
                            *acc.add(j as usize) += w;
                        }
                    }
                    (weights, delays) => {
                        for k in range {
                            let d = delays.as_ref().map_or(csr.delay_steps, |d| d[k] as usize);
                            if d >= slots {
                                continue; // arrives after the end
                            }
                            let w = weights.as_ref().map_or(c.w, |w| w[k]) * scale;
                            *ring[(step + d) % slots].0.add(csr.targets[k] as usize) += w;
                        }
                    }
                }
            }
        }
    }
}
