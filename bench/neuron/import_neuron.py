"""`neuroc import` against NEURON itself: each mechanism of tests/nmodl/
compiled by NEURON's nrnivmodl and run there with CVODE at tight
tolerances, and imported by neuroc and run with rk4 at a small step, in
one compartment (cm = 1 uF/cm2, a current step at 5 ms); prints the
largest difference of V over 100 ms.

    pip install neuron numpy          # in a venv of its own
    cargo build --release
    python bench/neuron/import_neuron.py
"""

import pathlib
import shutil
import subprocess
import sys
import tempfile

import numpy as np

root = pathlib.Path(__file__).resolve().parents[2]
neuroc = root / "target" / "release" / "neuroc"
work = pathlib.Path(tempfile.mkdtemp(prefix="neuroc-import-"))
for name in ["hh", "kv1", "ih", "nam", "cat", "cad"]:
    shutil.copy(root / "tests" / "nmodl" / f"{name}.mod", work)
# NEURON has an `hh` of its own (el = -54.3 mV): ours runs there as `hhmod`
(work / "hhmod.mod").write_text((work / "hh.mod").read_text().replace("SUFFIX hh", "SUFFIX hhmod"))
(work / "hh.mod").rename(work / "hh.mod.txt")
nrnivmodl = shutil.which("nrnivmodl") or str(pathlib.Path(sys.executable).parent / "nrnivmodl")
built = subprocess.run([nrnivmodl], cwd=work, capture_output=True, text=True)
if built.returncode != 0:
    raise SystemExit(built.stdout + built.stderr)

from neuron import h  # noqa: E402  (after the mechanisms are built)

lib = next(p for p in [work / "x86_64" / "libnrnmech.so", work / "x86_64" / ".libs" / "libnrnmech.so"] if p.exists())
if not h.nrn_load_dll(str(lib)):
    raise SystemExit(f"cannot load {lib}")
h.load_file("stdrun.hoc")

# (mechanisms with their NEURON settings, neuroc --set flags, step uA/cm2)
cases = {
    "hh": ({"hhmod": {}}, [], 10.0),
    "kv1": ({"hhmod": {"gkbar_hhmod": 0.0}, "kv1": {}}, ["hh.gkbar=0S/cm^2"], 10.0),
    "ih": (
        {"hhmod": {"gnabar_hhmod": 0.0, "gkbar_hhmod": 0.0}, "hcn": {}},
        ["hh.gnabar=0S/cm^2", "hh.gkbar=0S/cm^2"],
        -3.0,
    ),
    "nam": ({"hhmod": {"gnabar_hhmod": 0.0}, "nam": {}}, ["hh.gnabar=0S/cm^2"], 10.0),
    # a GHK calcium current into a calcium pool (cao: NEURON's default 2 mM)
    "cat": ({"hhmod": {}, "cat": {}, "cad": {}}, [], 10.0),
}
times = np.arange(0.0, 100.0 + 1e-9, 0.1)


def neuron_trace(mechs, amp):
    soma = h.Section(name="soma")
    soma.L = soma.diam = (100.0 / np.pi) ** 0.5  # 100 um2
    soma.cm = 1.0
    for mech, params in mechs.items():
        soma.insert(mech)
        for k, val in params.items():
            setattr(soma(0.5), k, val)
    h.usetable_hhmod = 0
    stim = h.IClamp(soma(0.5))
    stim.delay, stim.dur = 5.0, 1e9
    stim.amp = amp * 100e-8 * 1e3  # uA/cm2 x 100 um2, in nA
    t = h.Vector(times)
    v = h.Vector()
    v.record(soma(0.5)._ref_v, t)
    h.cvode.active(1)
    h.cvode.atol(1e-10)
    h.cvode.rtol(1e-10)
    h.finitialize(-65.0)
    h.continuerun(100.0)
    out = np.array(v)
    del stim, soma
    return out


def neuroc_trace(name, flags, amp):
    channels = [{"hh": "hh", "kv1": "kv1", "ih": "hcn", "nam": "nam", "cat": "cat, cad"}[name]]
    if name != "hh":
        channels.insert(0, "hh")
    imports = []
    for c in sorted({"hh", name} | ({"cad"} if name == "cat" else set())):
        out = work / f"{c}_imported.neuro"
        mod = work / (f"{c}.mod.txt" if c == "hh" else f"{c}.mod")
        subprocess.run([neuroc, "import", mod, "-o", out], check=True, capture_output=True)
        imports.append(f'import "{out.name}"')
    model = work / f"{name}_cell.neuro"
    model.write_text(
        "\n".join(imports)
        + f"""
neuron Cell {{
    parameter C_m = 1 uF/cm^2, ca_o = 2 mM
    state V = -65 mV
    use {", ".join(channels)}
    input I_ext = {amp} uA/cm^2 * step(t - 5 ms)
    dV/dt = (I_ext - currents) / C_m
}}
simulate Cell {{ dt = 0.001 ms, duration = 100 ms, method = rk4 }}
"""
    )
    out = work / f"{name}_out"
    args = [neuroc, "run", model, "-o", out, "--record", "V", "--sample", "0.1ms", "-q"]
    for f in flags:
        args += ["--set", f]
    subprocess.run(args, check=True)
    data = np.loadtxt(out / "V.csv", delimiter=",", skiprows=1)
    return data[:, 1]


print(f"{'mechanism':<10} {'max |dV| (mV)':>14} {'V range (mV)':>13}")
for name, (mechs, flags, amp) in cases.items():
    a = neuron_trace(mechs, amp)
    b = neuroc_trace(name, flags, amp)
    n = min(len(a), len(b))
    print(f"{name:<10} {np.abs(a[:n] - b[:n]).max():>14.2e} {a.max() - a.min():>13.1f}")
