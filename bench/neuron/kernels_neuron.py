"""NEURON's side of bench/kernels.rs: N one-compartment HH cells, with the
`hh` mechanism (gates) or with the 8-state kinetic sodium channel `nam`
(nam.mod, KINETIC ... METHOD sparse) plus `hh` with its sodium off; fixed
step, CVode off, one thread. Prints ns per compartment-step for both.

    python kernels_neuron.py N STEPS DT_MS
(run from a folder where `nrnivmodl` compiled nam.mod)
"""
import sys
import time

from neuron import h

n, steps, dt = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
h.load_file("stdrun.hoc")


def cells(markov):
    secs = []
    for i in range(n):
        s = h.Section(name=f"c{i}")
        s.L = s.diam = 10.0 / 3.141592653589793 ** 0.5  # 100 um^2 area... any size
        s.nseg = 1
        s.cm = 1.0
        s.insert("hh")
        s.ena, s.ek = 50.0, -77.0
        if markov:
            s.insert("nam")
            s.gnabar_hh = 0.0
            s.gbar_nam = 0.12
        secs.append(s)
    stims = []
    for i, s in enumerate(secs):
        st = h.IClamp(s(0.5))
        st.delay, st.dur = 0.0, 1e9
        # 10 uA/cm^2 on the section's area, in nA
        st.amp = 10.0 * (6.0 + 2.0 * (i % 5)) / 10.0 * s(0.5).area() * 1e-5
        stims.append(st)
    return secs, stims


for markov in (False, True):
    secs, stims = cells(markov)
    h.celsius = 6.3
    h.dt = dt
    h.cvode_active(0)
    h.finitialize(-65.0)
    t0 = time.perf_counter()
    h.continuerun(steps * dt)
    wall = time.perf_counter() - t0
    name = "markov" if markov else "gates"
    print(f"{name} ns_per_compartment_step {wall / (n * steps) * 1e9:.2f}")
    del secs, stims
