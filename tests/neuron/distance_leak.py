"""NEURON's run of the cell in tests/cable.rs `parameters_vary_with_distance`:
a soma (20 x 20 um, nseg 1) and a dendrite (1000 um, 2 um, nseg 51) at
soma(1), `pas` everywhere (e = -65 mV) with g = 1e-4 S/cm2 times
(1 + distance / 250 um), distance measured from soma(0.5) to each
segment's center (h.distance); Ra = 100 ohm cm, cm = 1 uF/cm2; 0.05 nA
into soma(0.5) from t = 0; backward Euler, dt = 0.1 ms, 100 ms. Prints V
at soma(0.5) and dend(1) at the end (mV).

    venv/bin/python tests/neuron/distance_leak.py > tests/data/distance_leak_neuron.csv
"""

from neuron import h

h.load_file("stdrun.hoc")
soma = h.Section(name="soma")
dend = h.Section(name="dend")
soma.L = soma.diam = 20
dend.L, dend.diam, dend.nseg = 1000, 2, 51
dend.connect(soma(1), 0)
h.distance(0, soma(0.5))
for sec in (soma, dend):
    sec.Ra, sec.cm = 100, 1
    sec.insert("pas")
    for seg in sec:
        seg.pas.e = -65
        seg.pas.g = 1e-4 * (1 + h.distance(seg) / 250)
stim = h.IClamp(soma(0.5))
stim.delay, stim.dur, stim.amp = 0, 1e9, 0.05
h.dt = 0.1
h.secondorder = 0
vs = h.Vector().record(soma(0.5)._ref_v)
vd = h.Vector().record(dend(1)._ref_v)
h.finitialize(-65)
h.continuerun(100)
print("v_soma_mV,v_dend_end_mV")
print(f"{vs[-1]!r},{vd[-1]!r}")
