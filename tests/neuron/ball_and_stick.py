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

from cells import ball_and_stick, crossings, run

h.load_file("stdrun.hoc")
soma, dend = ball_and_stick(nseg=13)
stim = h.IClamp(soma(0.5))
stim.delay, stim.dur, stim.amp = 5, 40, 0.2
t, (v,) = run([soma(0.5)])
print("spike_ms")
for ts in crossings(t, v):
    print(repr(ts))
