"""The peer of bench/brain.rs's Jansen-Rit case: TVB's `JansenRit` model
(its own defaults) on the connectome of examples/data/synthetic76, coupled
by `SigmoidalJansenRit` (a = 0.5) with weights normalized by row sum,
conduction speed 4 m/s, `HeunDeterministic` at dt = 0.1 ms, a 1 ms
`TemporalAverage` monitor. Prints `tvb run: S s` and the peak memory.

    python bench/brain_tvb.py examples/data/synthetic76 10000
"""
import resource
import sys
import time

import numpy as np
from tvb.simulator import coupling, integrators, models, monitors, simulator
from tvb.datatypes import connectivity

folder, duration_ms = sys.argv[1], float(sys.argv[2])
w = np.loadtxt(f"{folder}/weights.txt")
lengths = np.loadtxt(f"{folder}/tract_lengths.txt")
centres = np.loadtxt(f"{folder}/centres.txt", usecols=(1, 2, 3))
labels = np.loadtxt(f"{folder}/centres.txt", usecols=(0,), dtype=str)
rows = w.sum(axis=1, keepdims=True)
w = np.divide(w, rows, out=np.zeros_like(w), where=rows != 0)
conn = connectivity.Connectivity(
    weights=w, tract_lengths=lengths, centres=centres, region_labels=labels, speed=np.array([4.0])
)
conn.configure()
sim = simulator.Simulator(
    model=models.JansenRit(),
    connectivity=conn,
    coupling=coupling.SigmoidalJansenRit(a=np.array([0.5])),
    integrator=integrators.HeunDeterministic(dt=0.1),
    monitors=(monitors.TemporalAverage(period=1.0),),
    simulation_length=duration_ms,
)
t0 = time.perf_counter()
sim.configure()
t1 = time.perf_counter()
(tavg,) = sim.run()
t2 = time.perf_counter()
print(f"tvb configure: {t1 - t0:.3f} s")
print(f"tvb run: {t2 - t1:.3f} s")
print(f"tvb peak MiB: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}")
