"""The Python package's cost per run against the command line's, same
model, same machine, same run.

    pip install ./python && cargo build --release
    python bench/python_calls.py [repeats]

For a short run (HH, 1 ms), where the per-call costs show: the median
wall time of `Model.run` from Python (the file compiled once, at load;
each run still JIT-compiles its kernel) and of `neuroc run` as a process
(which reads, compiles and JIT-compiles every time and writes CSV files).
"""

import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import neuroc

root = pathlib.Path(__file__).resolve().parents[1]
hh = str(root / "examples" / "hodgkin_huxley.neuro")
binary = root / "target" / "release" / "neuroc"
repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 20


def median_seconds(f):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


start = time.perf_counter()
m = neuroc.load(hh)
load = time.perf_counter() - start
py = median_seconds(lambda: m.run(duration="1 ms", record=["V"]))
with tempfile.TemporaryDirectory() as out:
    cli = median_seconds(
        lambda: subprocess.run(
            [binary, "run", hh, "--duration", "1 ms", "-o", out, "-q"], check=True, capture_output=True
        )
    )
print(f"load (parse, check, derive): {load * 1e3:.1f} ms")
print(f"Model.run, HH 1 ms:          {py * 1e3:.1f} ms per call (median of {repeats})")
print(f"neuroc run, HH 1 ms:         {cli * 1e3:.1f} ms per process")
print(f"CLI / Python:                {cli / py:.2f}x")
