"""NEURON's run of the two-cell network of tests/cell_networks.rs
(`a_chain_of_cells_spikes_as_in_neuron`).

Two copies, A and B, of the ball-and-stick cell of synapse_site.py (hh
soma with el_hh = -54.387 mV and its tables off; dendrite L = 500 um,
diam = 2 um, nseg = 11, pas g = 1e-4 S/cm2, e = -65 mV; Ra = 100 ohm cm,
cm = 1 uF/cm2, celsius = 6.3 degC), each with an ExpSyn (tau = 5 ms, e =
0 mV) at dend(0.9). A's synapse receives events of 0.02 uS (20 nS) at
10, 30 and 32 ms; a NetCon from A's soma(0.5) V (threshold 0 mV, delay 2
ms, weight 0.02 uS) drives B's. v_init = -65 mV; fixed step dt = 0.025
ms, backward Euler (secondorder = 0, NEURON's default); 60 ms. Writes
every spike as `cell,spike_ms` (A = 0, B = 1) in time order, the times
of the upward crossings of 0 mV at the somas by linear interpolation
between steps.

    python -m venv venv && venv/bin/pip install neuron
    venv/bin/python tests/neuron/cell_chain.py > tests/data/cell_chain_neuron.csv
"""

from neuron import h

from cells import ball_and_stick, crossings, run

h.load_file("stdrun.hoc")


def cell(name):
    soma, dend = ball_and_stick(name, nseg=11)
    syn = h.ExpSyn(dend(0.9))
    syn.tau, syn.e = 5, 0
    return soma, dend, syn


a_soma, a_dend, a_syn = cell("A_")
b_soma, b_dend, b_syn = cell("B_")
stim = h.NetCon(None, a_syn)
stim.weight[0] = 0.02
link = h.NetCon(a_soma(0.5)._ref_v, b_syn, sec=a_soma)
link.threshold, link.delay, link.weight[0] = 0, 2, 0.02


def events():
    for t_ev in (10, 30, 32):
        stim.event(t_ev)


fih = h.FInitializeHandler(events)
t, (va, vb) = run([a_soma(0.5), b_soma(0.5)], secondorder=0)
spikes = sorted([(ts, 0) for ts in crossings(t, va)] + [(ts, 1) for ts in crossings(t, vb)])
print("cell,spike_ms")
for ts, k in spikes:
    print(f"{k},{ts!r}")
