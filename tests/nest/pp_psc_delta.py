"""NEST 3.x reference rates for `pp_psc_delta` (tests/noise.rs).

1000 neurons for 20 s at dt = 0.1 ms, I_e = 250 pA, NEST's defaults
otherwise, in three settings: without reset, with reset (the default),
and with reset and an adaptation jump q_sfa = 2 mV (tau_sfa = 34 ms).
Writes `case,rate_Hz,cv` (the mean rate over neurons, the CV of all
ISIs pooled).

    python tests/nest/pp_psc_delta.py > tests/data/pp_psc_delta_nest.csv
"""
import nest
import numpy as np

nest.set_verbosity("M_ERROR")
print("case,rate_Hz,cv")
for case, params in [
    ("no_reset", {"with_reset": False}),
    ("reset", {"with_reset": True}),
    ("adapting", {"with_reset": True, "tau_sfa": [34.0], "q_sfa": [2.0]}),
]:
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": 0.1, "rng_seed": 7})
    n = nest.Create("pp_psc_delta", 1000, params=dict(params, I_e=250.0))
    rec = nest.Create("spike_recorder")
    nest.Connect(n, rec)
    nest.Simulate(20000.0)
    ev = rec.get("events")
    isis = []
    for s in np.unique(ev["senders"]):
        t = np.sort(ev["times"][ev["senders"] == s])
        isis.extend(np.diff(t))
    isis = np.array(isis)
    print(f"{case},{len(ev['times']) / 1000 / 20.0:.4f},{isis.std() / isis.mean():.4f}", flush=True)
