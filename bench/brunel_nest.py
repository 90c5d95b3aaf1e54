"""NEST's run of examples/brunel2000.neuro's model A (BrunelSR), for the
ratio that `cargo bench --bench network` prints.

    python bench/brunel_nest.py [threads] [seconds] [g] [eta] [spread]

Brunel (2000): 10,000 excitatory and 2,500 inhibitory iaf_psc_delta neurons
(tau_m = 20 ms, theta = 20 mV, V_reset = 10 mV, t_ref = 2 ms, E_L = 0), each
receiving C_E = 1000 excitatory and C_I = 250 inhibitory inputs (fixed
in-degree, multapses allowed, no autapses) of J = 0.2 mV and -g J,
delay 1.5 ms, and a Poisson generator of eta nu_thr C_E (nu_thr = 5 Hz);
g = 3, eta = 2 (BrunelSR) unless given (BrunelAI: g = 5, eta = 2);
`spread` draws each synapse's weight (+-5%) and delay (1.4-1.6 ms). Also
prints the memory the connections took (peak RSS growth over Connect and
the first step, per synapse). Prints the mean rate and the seconds that
Simulate takes (the network built, the run only).
"""

import resource
import sys
import time

import nest

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
g = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0
eta = float(sys.argv[4]) if len(sys.argv) > 4 else 2.0
spread = len(sys.argv) > 5 and sys.argv[5] == "spread"

nest.ResetKernel()
nest.set_verbosity("M_ERROR")
nest.SetKernelStatus({"resolution": 0.1, "local_num_threads": threads, "rng_seed": 1})
J, CE, CI = 0.2, 1000, 250
params = {"tau_m": 20.0, "V_th": 20.0, "V_reset": 10.0, "t_ref": 2.0, "E_L": 0.0, "C_m": 250.0}
E = nest.Create("iaf_psc_delta", 10000, params=params)
I = nest.Create("iaf_psc_delta", 2500, params=params)
for pop in (E, I):
    pop.V_m = nest.random.uniform(0.0, 20.0)
nu_thr = 20.0 / (J * CE * 20.0)  # per ms
noise = nest.Create("poisson_generator", params={"rate": eta * nu_thr * CE * 1000.0})
nest.Connect(noise, E + I, syn_spec={"weight": J, "delay": 0.1})
conn = {"allow_autapses": False, "allow_multapses": True}
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if spread:
    # per-synapse weights and delays, drawn (NEST stores both per synapse either way)
    w = lambda m: nest.random.uniform(min(0.95 * m, 1.05 * m), max(0.95 * m, 1.05 * m))
    d = nest.random.uniform(1.4, 1.6)
    nest.Connect(E, E + I, dict(conn, rule="fixed_indegree", indegree=CE), {"weight": w(J), "delay": d})
    nest.Connect(I, E + I, dict(conn, rule="fixed_indegree", indegree=CI), {"weight": w(-g * J), "delay": d})
else:
    nest.Connect(E, E + I, dict(conn, rule="fixed_indegree", indegree=CE), {"weight": J, "delay": 1.5})
    nest.Connect(I, E + I, dict(conn, rule="fixed_indegree", indegree=CI), {"weight": -g * J, "delay": 1.5})
rec = nest.Create("spike_recorder")
nest.Connect(E + I, rec)
nest.Simulate(1.0)  # builds the connection tables, as a first step does
synapses = 12500 * (CE + CI)
bytes_per_synapse = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024 / synapses
start = time.perf_counter()
nest.Simulate(seconds * 1000.0 - 1.0)
run = time.perf_counter() - start
rate = rec.n_events / 12500 / seconds
print(f"NEST {nest.__version__} Brunel A (g = {g}, eta = {eta}): {rate:.1f} Hz, {bytes_per_synapse:.1f} B/synapse, {threads} thread(s), {run:.3f} s")
