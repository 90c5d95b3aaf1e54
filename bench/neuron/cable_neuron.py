"""NEURON's times for bench/cable.rs. `population CELLS STEPS DT_MS`: that
many ball-and-stick cells as in examples/ball_and_stick.neuro (hh tables
off, el = -54.387 mV; pas dendrite of 13 segments), each with an IClamp
for the whole run from 0.1 to 0.5 nA (evenly spread), backward Euler;
prints `population <ns per compartment-step> <spikes>`.

Otherwise, the cell: a soma (20 x 20 um, nseg 1)
with `dends` dendrites (200 um, 2 um, `nseg` each) at soma(1), `hh`
everywhere (its default rate tables), Ra = 100 ohm cm, cm = 1 uF/cm2; an
IClamp of 1 nA at the soma for the whole run; fixed step, backward Euler
(secondorder = 0), cvode off, one thread. Prints
`cell <ns per compartment-step> <soma spikes>`.

    python cable_neuron.py DENDS NSEG STEPS DT_MS
"""

import sys
import time

from neuron import h

h.load_file("stdrun.hoc")
if sys.argv[1] == "population":
    cells, steps, dt = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    h.usetable_hh = 0
    keep, counters = [], []
    for k in range(cells):
        soma = h.Section(name=f"soma{k}")
        dend = h.Section(name=f"dend{k}")
        soma.L = soma.diam = 20
        dend.L, dend.diam, dend.nseg = 500, 2, 13
        dend.connect(soma(1), 0)
        for sec in (soma, dend):
            sec.Ra, sec.cm = 100, 1
        soma.insert("hh")
        soma(0.5).hh.el = -54.387
        dend.insert("pas")
        for seg in dend:
            seg.pas.g, seg.pas.e = 1e-4, -65
        stim = h.IClamp(soma(0.5))
        stim.delay, stim.dur = 0, 1e9
        stim.amp = 0.1 + 0.4 * k / max(cells - 1, 1)
        nc = h.NetCon(soma(0.5)._ref_v, None, sec=soma)
        nc.threshold = 0
        counters.append(h.Vector())
        nc.record(counters[-1])
        keep += [soma, dend, stim, nc]
    h.dt = dt
    h.secondorder = 0
    h.cvode_active(0)
    h.finitialize(-65)
    start = time.perf_counter()
    h.continuerun(steps * dt)
    wall = time.perf_counter() - start
    print(f"population {wall / (steps * cells * 14) * 1e9} {sum(len(c) for c in counters)}")
    sys.exit(0)
dends, nseg, steps, dt = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
soma = h.Section(name="soma")
soma.L = soma.diam = 20
secs = [soma]
for k in range(dends):
    d = h.Section(name=f"dend{k}")
    d.L, d.diam, d.nseg = 200, 2, nseg
    d.connect(soma(1), 0)
    secs.append(d)
for s in secs:
    s.Ra, s.cm = 100, 1
    s.insert("hh")
stim = h.IClamp(soma(0.5))
stim.delay, stim.dur, stim.amp = 0, 1e9, 1.0
h.dt = dt
h.secondorder = 0
h.cvode_active(0)
v = h.Vector().record(soma(0.5)._ref_v)
h.finitialize(-65)
start = time.perf_counter()
h.continuerun(steps * dt)
wall = time.perf_counter() - start
spikes = sum(1 for i in range(1, len(v)) if v[i - 1] < 0 <= v[i])
print(f"cell {wall / (steps * (1 + dends * nseg)) * 1e9} {spikes}")
