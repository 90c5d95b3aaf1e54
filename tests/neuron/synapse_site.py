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

h.load_file("stdrun.hoc")
soma = h.Section(name="soma")
dend = h.Section(name="dend")
soma.L = soma.diam = 20
soma.nseg = 1
dend.L, dend.diam, dend.nseg = 500, 2, 11
dend.connect(soma(1), 0)
for sec in (soma, dend):
    sec.Ra = 100
    sec.cm = 1
soma.insert("hh")
soma(0.5).hh.el = -54.387
dend.insert("pas")
for seg in dend:
    seg.pas.g = 1e-4
    seg.pas.e = -65
syn = h.ExpSyn(dend(0.9))
syn.tau, syn.e = 5, 0
nc = h.NetCon(None, syn)
nc.weight[0] = 0.02


def events():
    for t_ev in (10, 30, 32):
        nc.event(t_ev)


fih = h.FInitializeHandler(events)
h.celsius = 6.3
h.usetable_hh = 0
h.dt = 0.025
h.secondorder = 2
t = h.Vector().record(h._ref_t)
v = h.Vector().record(soma(0.5)._ref_v)
vd = h.Vector().record(dend(0.9)._ref_v)
h.finitialize(-65)
h.continuerun(60)
print("spike_ms")
for i in range(1, len(v)):
    if v[i - 1] < 0 <= v[i]:
        print(repr(t[i - 1] + (t[i] - t[i - 1]) * (0 - v[i - 1]) / (v[i] - v[i - 1])))
