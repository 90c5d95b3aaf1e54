"""COBAHH (Brette et al. 2007, benchmark 3) in Brian2's C++ standalone mode,
as in Brian2's examples, for the same run as examples/cobahh.neuro; prints
the run-only seconds (Brian2's own timing of the simulation loop,
compilation excluded) and the mean rates.

    python3.13 -m venv /tmp/brianenv && /tmp/brianenv/bin/pip install brian2
    /tmp/brianenv/bin/python bench/cobahh_brian2.py [seconds] [threads]
"""

import sys
import tempfile

from brian2 import (
    Equations, NeuronGroup, SpikeMonitor, Synapses, cm, defaultclock, device, exp, exprel, ms, msiemens, mV,
    nS, prefs, run, seed, set_device, siemens, ufarad, umetre,
)

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
# Brian2 writes and compiles its C++ project in a folder of its own, never the repository's
project = tempfile.mkdtemp(prefix="cobahh-brian2-")
set_device("cpp_standalone", directory=project, build_on_run=False)
prefs.devices.cpp_standalone.openmp_threads = threads if threads > 1 else 0
seed(1)
defaultclock.dt = 0.1 * ms
area = 20000 * umetre**2
Cm = (1 * ufarad * cm**-2) * area
gl = (5e-5 * siemens * cm**-2) * area
El, EK, ENa = -60 * mV, -90 * mV, 50 * mV
g_na = (100 * msiemens * cm**-2) * area
g_kd = (30 * msiemens * cm**-2) * area
VT = -63 * mV
taue, taui = 5 * ms, 10 * ms
Ee, Ei = 0 * mV, -80 * mV
we, wi = 6 * nS, 67 * nS
eqs = Equations("""
dv/dt = (gl*(El-v)+ge*(Ee-v)+gi*(Ei-v)-g_na*(m*m*m)*h*(v-ENa)-g_kd*(n*n*n*n)*(v-EK))/Cm : volt
dm/dt = alpha_m*(1-m)-beta_m*m : 1
dn/dt = alpha_n*(1-n)-beta_n*n : 1
dh/dt = alpha_h*(1-h)-beta_h*h : 1
dge/dt = -ge*(1./taue) : siemens
dgi/dt = -gi*(1./taui) : siemens
alpha_m = 0.32*(mV**-1)*4*mV/exprel((13*mV-v+VT)/(4*mV))/ms : Hz
beta_m = 0.28*(mV**-1)*5*mV/exprel((v-VT-40*mV)/(5*mV))/ms : Hz
alpha_h = 0.128*exp((17*mV-v+VT)/(18*mV))/ms : Hz
beta_h = 4./(1+exp((40*mV-v+VT)/(5*mV)))/ms : Hz
alpha_n = 0.032*(mV**-1)*5*mV/exprel((15*mV-v+VT)/(5*mV))/ms : Hz
beta_n = .5*exp((10*mV-v+VT)/(40*mV))/ms : Hz
""")
P = NeuronGroup(4000, model=eqs, threshold="v>-20*mV", refractory=3 * ms, method="exponential_euler")
Ce = Synapses(P, P, on_pre="ge+=we")
Ci = Synapses(P, P, on_pre="gi+=wi")
Ce.connect("i<3200", p=0.02)
Ci.connect("i>=3200", p=0.02)
P.v = "El + (randn() * 5 - 5)*mV"
P.ge = "(randn() * 1.5 + 4) * 10.*nS"
P.gi = "(randn() * 12 + 20) * 10.*nS"
s_mon = SpikeMonitor(P)
run(seconds * 1000 * ms)
device.build(directory=project, run=True, compile=True, clean=True)
e = (s_mon.i < 3200).sum() / 3200 / seconds
i = (s_mon.i >= 3200).sum() / 800 / seconds
print(
    f"brian2 COBAHH {seconds:g} s, {threads} thread(s): run {device._last_run_time:.3f} s; rates E {e:.2f} Hz, I {i:.2f} Hz"
)
