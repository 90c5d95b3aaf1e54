"""NEURON's run of the synapse-site cell of tests/cable.rs
(`a_synapse_on_the_dendrite_fires_the_soma_as_in_neuron`).

The ball-and-stick cell of ball_and_stick.py (hh soma with el_hh =
-54.387 mV and its tables off; dendrite L = 500 um, diam = 2 um, nseg =
11, pas g = 1e-4 S/cm2, e = -65 mV; Ra = 100 ohm cm, cm = 1 uF/cm2,
celsius = 6.3 degC), no clamp, and an ExpSyn (tau = 5 ms, e = 0 mV) at
dend(0.9) receiving events of weight 0.02 uS (20 nS) at 10, 30 and 32 ms
(NetCon.event, delivered at those times on the step grid); v_init = -65
mV; fixed step dt = 0.025 ms; Crank-Nicolson (secondorder = 2); 60 ms.
Writes the soma's upward crossings of 0 mV (linear interpolation between
steps) as `spike_ms`.

    python -m venv venv && venv/bin/pip install neuron
    venv/bin/python tests/neuron/synapse_site.py > tests/data/synapse_site_neuron.csv
"""

from neuron import h

from cells import ball_and_stick, crossings, run

h.load_file("stdrun.hoc")
soma, dend = ball_and_stick(nseg=11)
syn = h.ExpSyn(dend(0.9))
syn.tau, syn.e = 5, 0
nc = h.NetCon(None, syn)
nc.weight[0] = 0.02


def events():
    for t_ev in (10, 30, 32):
        nc.event(t_ev)


fih = h.FInitializeHandler(events)
t, (v,) = run([soma(0.5)])
print("spike_ms")
for ts in crossings(t, v):
    print(repr(ts))
