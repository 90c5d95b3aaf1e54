"""The STDP benchmark network of bench/stdp.rs in NEST (3.x), one thread.

8000 excitatory and 2000 inhibitory iaf_psc_exp neurons (NEST's defaults),
fixed in-degrees 800 (E) and 200 (I), delay 1.5 ms, independent Poisson
input per neuron; E -> E through stdp_synapse (lambda = 0.01, alpha = 1,
mu_plus = mu_minus = 1, tau_plus = 20 ms, Wmax = 40 pA, initial weight
20 pA) or, for the baseline, static_synapse with 20 pA.

    python bench/stdp_nest.py [seconds]

Prints one line per run: `static|plastic <build s> <simulate s> <E rate Hz>`.
"""
import sys
import time

import nest


def run(plastic, seconds):
    nest.ResetKernel()
    nest.set_verbosity("M_ERROR")
    nest.SetKernelStatus({"resolution": 0.1, "local_num_threads": 1, "rng_seed": 1})
    t0 = time.time()
    E = nest.Create("iaf_psc_exp", 8000)
    I = nest.Create("iaf_psc_exp", 2000)
    for pop in (E, I):
        pop.V_m = nest.random.uniform(-70.0, -55.0)
    noise = nest.Create("poisson_generator", params={"rate": 20000.0})
    nest.Connect(noise, E + I, syn_spec={"weight": 20.0})
    if plastic:
        nest.CopyModel("stdp_synapse", "plastic", {"lambda": 0.01, "alpha": 1.0, "mu_plus": 1.0, "mu_minus": 1.0,
                                                   "tau_plus": 20.0, "Wmax": 40.0})
        ee = {"synapse_model": "plastic", "weight": 20.0, "delay": 1.5}
    else:
        ee = {"weight": 20.0, "delay": 1.5}
    nest.Connect(E, E, {"rule": "fixed_indegree", "indegree": 800, "allow_autapses": False}, ee)
    nest.Connect(E, I, {"rule": "fixed_indegree", "indegree": 800, "allow_autapses": False},
                 {"weight": 20.0, "delay": 1.5})
    nest.Connect(I, E + I, {"rule": "fixed_indegree", "indegree": 200, "allow_autapses": False},
                 {"weight": -100.0, "delay": 1.5})
    rec = nest.Create("spike_recorder")
    nest.Connect(E, rec)
    t1 = time.time()
    nest.Simulate(seconds * 1000.0)
    t2 = time.time()
    rate = rec.n_events / 8000.0 / seconds
    print(f"{'plastic' if plastic else 'static'} {t1 - t0:.3f} {t2 - t1:.3f} {rate:.2f}", flush=True)


if __name__ == "__main__":
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    run(False, seconds)
    run(True, seconds)
