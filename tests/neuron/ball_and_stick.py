"""NEURON's run of examples/ball_and_stick.neuro, for tests/cable.rs.

The same cell as the example: a soma (L = 20 um, diam = 20 um, nseg = 1)
with NEURON's `hh` (el_hh set to the -54.387 mV of our stdlib `Leak`, and
its rate tables off: usetable_hh = 0, as our rates are exact), a
dendrite (L = 500 um, diam = 2 um, nseg = 13: what the d_lambda rule gives
at 100 Hz and d_lambda = 0.1) with `pas` (g = 1e-4 S/cm2, e = -65 mV)
attached at soma(1); Ra = 100 ohm cm, cm = 1 uF/cm2, celsius = 6.3 degC;
an IClamp at soma(0.5) of 0.2 nA from 5 ms for 40 ms; v_init = -65 mV;
fixed step dt = 0.025 ms, Crank-Nicolson (secondorder = 2), 60 ms.
Writes the soma's upward crossings of 0 mV (linear interpolation between
steps) as `spike_ms`, one per line.

    python -m venv venv && venv/bin/pip install neuron
    venv/bin/python tests/neuron/ball_and_stick.py > tests/data/ball_and_stick_neuron.csv
"""

from neuron import h

h.load_file("stdrun.hoc")
soma = h.Section(name="soma")
dend = h.Section(name="dend")
soma.L = soma.diam = 20
soma.nseg = 1
dend.L, dend.diam, dend.nseg = 500, 2, 13
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
stim = h.IClamp(soma(0.5))
stim.delay, stim.dur, stim.amp = 5, 40, 0.2
h.celsius = 6.3
h.usetable_hh = 0  # exact rates, as ours (NEURON tabulates them by default)
h.dt = 0.025
h.secondorder = 2
t = h.Vector().record(h._ref_t)
v = h.Vector().record(soma(0.5)._ref_v)
h.finitialize(-65)
h.continuerun(60)
print("spike_ms")
for i in range(1, len(v)):
    if v[i - 1] < 0 <= v[i]:
        print(repr(t[i - 1] + (t[i] - t[i - 1]) * (0 - v[i - 1]) / (v[i] - v[i - 1])))
