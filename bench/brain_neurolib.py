"""The peer of bench/brain.rs: neurolib 0.6's Wilson-Cowan brain on the
same connectome and settings as examples/brain_wilson_cowan.neuro (K_gl =
0.6, signalV = 20 m/s, OU noise sigma_ou = 0.01, tau_ou = 5 ms, Euler at
dt = 0.1 ms, exc_ext = 0.65 on every node). Prints one line per run:
`neurolib run N: S s` (the first run includes numba's compilation).

    python bench/brain_neurolib.py examples/data/synthetic80 60000
"""
import resource
import sys
import time

import numpy as np
from neurolib.models.wc import WCModel

folder, duration_ms = sys.argv[1], float(sys.argv[2])
w = np.loadtxt(f"{folder}/weights.txt")
lengths = np.loadtxt(f"{folder}/tract_lengths.txt")
w = w / w.max()  # normalize = max
model = WCModel(Cmat=w, Dmat=lengths)
model.params["K_gl"] = 0.6
model.params["signalV"] = 20.0
model.params["sigma_ou"] = 0.01
model.params["tau_ou"] = 5.0
model.params["dt"] = 0.1
model.params["exc_ext"] = 0.65
model.params["duration"] = duration_ms
for k in range(2):
    t0 = time.perf_counter()
    model.run()
    print(f"neurolib run {k}: {time.perf_counter() - t0:.3f} s")
print(f"neurolib peak MiB: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}")
