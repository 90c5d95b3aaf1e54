"""The Python package against the library it wraps: load, run, arrays
and units, errors as exceptions, sweeps in a loop, threads."""

import pathlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import neuroc

ROOT = pathlib.Path(__file__).resolve().parents[2]
HH = str(ROOT / "examples" / "hodgkin_huxley.neuro")
CUBA = str(ROOT / "examples" / "cuba.neuro")


def test_load_and_run_give_numpy_arrays_with_units():
    m = neuroc.load(HH)
    assert "Squid" in m.models
    r = m.run(duration="20 ms", record=["V"])
    assert r.model == "Squid"
    assert "V" in r.tables and "V" in r
    v = r["V"]
    t, V = v["t_ms"], v["V_mV"]
    assert isinstance(V, np.ndarray) and V.dtype == np.float64
    assert len(t) == len(V) > 100
    assert t[0] == 0.0 and abs(t[-1] - 20.0) < 1e-9
    assert np.all(np.diff(t) > 0)
    # resting near -65 mV, and a spike overshoots 0 mV
    assert -70.0 < V[0] < -60.0 and V.max() > 20.0
    assert r.units("V") == {"t_ms": "ms", "V_mV": "mV"}
    # SI: volts
    assert np.allclose(r.si("V", "V"), V * 1e-3)
    assert "20 ms" in r.summary


def test_spikes_are_two_arrays_step_by_step():
    r = neuroc.load(CUBA).run(duration="100 ms", seed=3)
    neurons, times = r.spikes
    assert neurons.dtype == np.int64 and times.dtype == np.float64
    assert len(neurons) == len(times) > 100
    assert neurons.min() >= 0 and neurons.max() < 4000
    # step by step (within a step of 0.1 ms, by neuron)
    assert np.all(np.diff(times) > -0.1) and times[-1] <= 100.0


def test_the_same_seed_gives_the_same_spikes_and_another_does_not():
    m = neuroc.load(CUBA)
    a = m.run(duration="50 ms", seed=1).spikes
    b = m.run(duration="50 ms", seed=1).spikes
    c = m.run(duration="50 ms", seed=2).spikes
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert len(a[0]) != len(c[0]) or not np.array_equal(a[1], c[1])


def test_a_sweep_in_a_loop_gives_the_f_i_curve_and_settings_do_not_leak():
    m = neuroc.load(HH)
    counts = []
    for amp in [0, 5, 10, 20, 40]:
        r = m.run(duration="100 ms", set={"I_amp": f"{amp} uA/cm^2"})
        counts.append(len(r.spikes[0]))
    assert counts[0] == 0, counts
    assert counts == sorted(counts) and counts[-1] > counts[1], counts
    # a plain number is a plain number: a current density needs its unit
    with pytest.raises(neuroc.NeurocError, match="E0307"):
        m.run(duration="100 ms", set={"I_amp": 40.0})
    # each run starts from the file's own settings again
    first = m.run(duration="30 ms", record=["V"])["V"]["V_mV"]
    m.run(duration="30 ms", set={"I_amp": "40 uA/cm^2"})
    again = m.run(duration="30 ms", record=["V"])["V"]["V_mV"]
    assert np.array_equal(first, again)


def test_errors_raise_with_the_rendered_diagnostic():
    m = neuroc.load(HH)
    with pytest.raises(neuroc.NeurocError) as e:
        m.run(set={"nope": "1 mV"})
    text = str(e.value)
    assert "error[E0504]" in text and "nope" in text and "help:" in text
    with pytest.raises(neuroc.NeurocError) as e:
        m.run(duration="5 mV")
    assert "error[E" in str(e.value)
    # a unit error in the model, with its span
    bad = "neuron N {\n    parameter tau = 10 ms\n    state V = 0 mV\n    dV/dt = V * tau\n}\n"
    with pytest.raises(neuroc.NeurocError) as e:
        neuroc.compile(bad, name="bad.neuro")
    text = str(e.value)
    assert "error[E0304]" in text and "bad.neuro:4" in text
    with pytest.raises(neuroc.NeurocError) as e:
        neuroc.load(str(ROOT / "no-such-file.neuro"))
    assert "no-such-file.neuro" in str(e.value)
    with pytest.raises(KeyError):
        m.run(duration="1 ms")["nope"]


def test_compile_from_text():
    src = (
        "neuron Decay {\n    parameter tau = 10 ms\n    state x = 1\n    dx/dt = -x / tau\n}\n"
        "simulate Decay { dt = 0.01 ms, duration = 20 ms }\n"
    )
    r = neuroc.compile(src).run(record=["x"])
    t, x = r["x"]["t_ms"], r["x"]["x"]
    # the exact propagator: e^(-t / tau)
    assert np.allclose(x, np.exp(-t / 10.0), rtol=1e-12, atol=1e-14)


def test_a_network_gives_the_same_spikes_on_any_number_of_threads():
    m = neuroc.load(CUBA)
    one = m.run(duration="100 ms", seed=5, threads=1).spikes
    for threads in (2, 3):
        many = m.run(duration="100 ms", seed=5, threads=threads).spikes
        assert np.array_equal(one[0], many[0]) and np.array_equal(one[1], many[1]), threads


def test_runs_release_the_gil_and_go_at_once_on_threads():
    # another Python thread keeps counting while a run goes
    m = neuroc.load(CUBA)
    ticks = []
    stop = threading.Event()

    def count():
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.001)

    t = threading.Thread(target=count)
    t.start()
    m.run(duration="300 ms", threads=1)
    stop.set()
    t.join()
    assert len(ticks) > 10, len(ticks)
    # runs of separate models on threads give what they give one by one
    seeds = [1, 2, 3, 4]
    alone = [neuroc.load(CUBA).run(duration="50 ms", seed=s, threads=1).spikes for s in seeds]
    models = [neuroc.load(CUBA) for _ in seeds]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda ms: ms[0].run(duration="50 ms", seed=ms[1], threads=1).spikes, zip(models, seeds)))
    for a, b in zip(alone, together):
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
