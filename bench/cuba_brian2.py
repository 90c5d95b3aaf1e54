"""CUBA (Brette et al. 2007, benchmark 2) in Brian2's C++ standalone mode,
as in Brian2's examples, for the same run as examples/cuba.neuro; prints
the run-only seconds (Brian2's own timing of the simulation loop,
compilation excluded) and the mean rates.

    python3.13 -m venv /tmp/brianenv && /tmp/brianenv/bin/pip install brian2
    /tmp/brianenv/bin/python bench/cuba_brian2.py [seconds] [threads]
"""

import sys
import tempfile

from brian2 import (
    NeuronGroup, PopulationRateMonitor, SpikeMonitor, Synapses, defaultclock, device, ms, mV, prefs, run,
    seed, set_device,
)

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
# Brian2 writes and compiles its C++ project in a folder of its own, never the repository's
project = tempfile.mkdtemp(prefix="cuba-brian2-")
set_device("cpp_standalone", directory=project, build_on_run=False)
prefs.devices.cpp_standalone.openmp_threads = threads if threads > 1 else 0
seed(1)
defaultclock.dt = 0.1 * ms
taum, taue, taui = 20 * ms, 5 * ms, 10 * ms
Vt, Vr, El = -50 * mV, -60 * mV, -49 * mV
eqs = """
dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
dge/dt = -ge/taue : volt
dgi/dt = -gi/taui : volt
"""
P = NeuronGroup(4000, eqs, threshold="v>Vt", reset="v = Vr", refractory=5 * ms, method="exact")
P.v = "Vr + rand() * (Vt - Vr)"
P.ge = 0 * mV
P.gi = 0 * mV
we = (60 * 0.27 / 10) * mV
wi = (-20 * 4.5 / 10) * mV
Ce = Synapses(P, P, on_pre="ge += we")
Ci = Synapses(P, P, on_pre="gi += wi")
Ce.connect("i<3200", p=0.02)
Ci.connect("i>=3200", p=0.02)
s_mon = SpikeMonitor(P)
run(seconds * 1000 * ms)
device.build(directory=project, run=True, compile=True, clean=True)
e = (s_mon.i < 3200).sum() / 3200 / seconds
i = (s_mon.i >= 3200).sum() / 800 / seconds
print(f"brian2 CUBA {seconds:g} s, {threads} thread(s): run {device._last_run_time:.3f} s; rates E {e:.2f} Hz, I {i:.2f} Hz")
