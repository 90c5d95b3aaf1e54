"""NEST 3.x references for spike-timing dependent plasticity (tests/stdp.rs).

Two parrot neurons, pre and post, each driven by a spike generator, joined
by a plastic synapse; after the spikes, one presynaptic spike 1 s later
makes NEST apply its last facilitations (its contributions are below
1e-20). Rules and cases:

- stdp_synapse with mu_plus = mu_minus = 0 (additive) and lambda = 0.01,
  alpha = 1.05, tau_plus = tau_minus = 20 ms, one pair at lags -45..60 ms
  and delays 1 and 2.5 ms, including the lag -delay (coincident at the
  synapse);
- spike trains with stdp_synapse additive, with mu = 0.4 (Guetig),
  stdp_nn_symm_synapse (nearest spike) and stdp_triplet_synapse (all to
  all, Pfister & Gerstner's visual-cortex parameters, A2_plus = 5e-3).

Weights are divided by Wmax = 100 (initial weight 50), which is how the
`.neuro` rules count them (stdp_triplet_synapse's amplitudes are in weight
units, not relative to Wmax: its changes divided by 100 are the `.neuro`
rule's with the amplitudes divided by 100). Writes one row per case:
`case,delay_ms,pre_ms,post_ms,w` with the parrots' spike times (as NEST
records them) separated by spaces.

    python tests/nest/stdp.py > tests/data/stdp_nest.csv
"""
import nest

nest.set_verbosity("M_ERROR")
TRAIN_PRE = [10.0, 23.0, 41.0, 60.0, 62.5, 90.0]
TRAIN_POST = [15.0, 18.0, 47.0, 52.0, 61.0, 88.0]


def run(model, params, pre, post, delay, post_params=None):
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": 0.1})
    a, b = nest.Create("parrot_neuron", 2)
    if post_params:
        b.set(post_params)
    for n, times in ((a, pre + [max(pre) + 1000.0]), (b, post)):
        g = nest.Create("spike_generator", params={"spike_times": times})
        nest.Connect(g, n, syn_spec={"delay": 0.1})
    rec = nest.Create("spike_recorder")
    nest.Connect(a + b, rec)
    nest.CopyModel(model, "rule", dict(params, Wmax=100.0))
    # port 1 of a parrot does not repeat the spikes it receives
    nest.Connect(a, b, syn_spec={"synapse_model": "rule", "weight": 50.0, "delay": delay, "receptor_type": 1})
    nest.Simulate(max(pre) + 1100.0)
    ev = rec.get("events")
    times = lambda n: [t for s, t in zip(ev["senders"], ev["times"]) if s == n.global_id]
    w = nest.GetConnections(a, b).get("weight") / 100.0
    return times(a)[:-1], times(b), w


additive = {"lambda": 0.01, "alpha": 1.05, "mu_plus": 0.0, "mu_minus": 0.0, "tau_plus": 20.0}
rows = ["case,delay_ms,pre_ms,post_ms,w"]
for delay in (1.0, 2.5):
    for lag in (-45.0, -12.3, -2.5, -1.0, -0.2, 0.0, 0.4, 3.3, 17.0, 60.0):
        pre, post, w = run("stdp_synapse", additive, [50.0], [round(50.0 + lag, 1)], delay)
        rows.append(f"pair,{delay},{' '.join(map(str, pre))},{' '.join(map(str, post))},{w!r}")
cases = [
    ("additive", "stdp_synapse", additive, None),
    ("gutig", "stdp_synapse", dict(additive, mu_plus=0.4, mu_minus=0.4), None),
    ("nearest", "stdp_nn_symm_synapse", {"lambda": 0.01, "alpha": 1.05, "mu_plus": 0.0, "mu_minus": 0.0,
                                         "tau_plus": 20.0}, None),
    ("triplet", "stdp_triplet_synapse", {"tau_plus": 16.8, "tau_plus_triplet": 101.0, "Aplus": 5e-3,
                                          "Aplus_triplet": 6.2e-3, "Aminus": 7e-3, "Aminus_triplet": 2.3e-4},
     {"tau_minus": 33.7, "tau_minus_triplet": 125.0}),
]
for name, model, params, post_params in cases:
    pre, post, w = run(model, params, TRAIN_PRE, TRAIN_POST, 1.5, post_params)
    rows.append(f"{name},1.5,{' '.join(map(str, pre))},{' '.join(map(str, post))},{w!r}")
print("\n".join(rows))
