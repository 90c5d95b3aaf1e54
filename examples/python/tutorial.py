"""neuroc from Python: load a model, run it, sweep a parameter, plot.

    pip install ./python          # builds the package with maturin
    python examples/python/tutorial.py

Writes fi_curve.png beside itself when matplotlib is installed; prints
the numbers either way.
"""

import pathlib

import numpy as np

import neuroc

here = pathlib.Path(__file__).resolve().parent
examples = here.parent

# 1. Load and compile once; errors raise neuroc.NeurocError with the
#    rendered diagnostic.
hh = neuroc.load(str(examples / "hodgkin_huxley.neuro"))
print(hh, "defines", hh.models)

# 2. Run it: keyword arguments override the file's `simulate` block for
#    this run only. Tables come back as dicts of NumPy arrays, in the
#    columns' display units; `units` says which.
r = hh.run(duration="50 ms", record=["V"])
v = r["V"]
print(r.summary)
print("columns and units:", r.units("V"))
print(f"V from {v['V_mV'].min():.1f} to {v['V_mV'].max():.1f} mV; in SI:", r.si("V", "V")[:3])

# 3. A sweep in a loop: the f-I curve. Each run is one call; the model is
#    not compiled again.
amps = np.arange(0, 41, 5)
rates = []
for amp in amps:
    neurons, times = hh.run(duration="500 ms", set={"I_amp": f"{amp} uA/cm^2"}).spikes
    rates.append(len(times) / 0.5)
for amp, rate in zip(amps, rates):
    print(f"I = {amp:4.0f} uA/cm^2: {rate:5.1f} Hz")

# 4. A network: spikes as (neuron, time in ms) arrays.
cuba = neuroc.load(str(examples / "cuba.neuro"))
neurons, times = cuba.run(duration="200 ms", seed=1).spikes
print(f"CUBA: {len(times)} spikes from {len(np.unique(neurons))} neurons in 200 ms")

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
    ax[0].plot(v["t_ms"], v["V_mV"])
    ax[0].set(xlabel="t (ms)", ylabel="V (mV)", title="Hodgkin-Huxley")
    ax[1].plot(amps, rates, "o-")
    ax[1].set(xlabel="I (uA/cm^2)", ylabel="rate (Hz)", title="f-I curve")
    fig.tight_layout()
    fig.savefig(here / "fi_curve.png", dpi=100)
    print("wrote", here / "fi_curve.png")
except ImportError:
    pass
