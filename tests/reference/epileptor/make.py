"""Reference for tests/epilepsy.rs: one Epileptor node (Jirsa et al. 2014,
as TVB's `Epileptor`, TVB 2.x defaults) with x0 = -1.6, r = 0.00035, from
the initial state of stdlib/epileptor.neuro, solved with SciPy's DOP853
(rtol 1e-10, atol 1e-12, steps at most 0.5 time units) for 20000 units
(TVB's ms), sampled every 0.1.

    python3 make.py            # writes events.csv, prints the summary

A seizure is the time x1 spends above -1 (x1 stays below -1.27 between
seizures and above -0.73 during one, so any level in between gives the same
events to within a sample); onsets and offsets are linearly interpolated
between samples.
"""
import numpy as np
from scipy.integrate import solve_ivp

P = dict(a=1.0, b=3.0, c=1.0, d=5.0, r=0.00035, x0=-1.6, Iext=3.1, slope=0.0,
         Iext2=0.45, tau=10.0, aa=6.0, bb=2.0)
Y0 = [-1.6, -11.8, 3.0, -1.0, 0.0, 0.0]   # x1, y1, z, x2, y2, g
LEVEL = -1.0


def rhs(t, y, p=P):
    x1, y1, z, x2, y2, g = y
    f1 = (-p["a"] * x1**2 + p["b"] * x1) if x1 < 0 else (p["slope"] - x2 + 0.6 * (z - 4) ** 2)
    h = 4 * (x1 - p["x0"]) + (-0.1 * z**7 if z < 0 else 0.0)
    f2 = 0.0 if x2 < -0.25 else p["aa"] * (x2 + 0.25)
    return [y1 - z + p["Iext"] + f1 * x1,
            p["c"] - p["d"] * x1**2 - y1,
            p["r"] * (h - z),
            -y2 + x2 - x2**3 + p["Iext2"] + p["bb"] * g - 0.3 * (z - 3.5),
            (-y2 + f2) / p["tau"],
            -0.01 * (g - 0.1 * x1)]


def crossings(t, x, level):
    up, down = [], []
    for k in range(1, len(x)):
        a, b = x[k - 1] - level, x[k] - level
        if (a < 0) != (b < 0):
            tc = t[k - 1] + (t[k] - t[k - 1]) * a / (a - b)
            (up if a < 0 else down).append(tc)
    return up, down


def events(method="DOP853", rtol=1e-10, atol=1e-12, t_end=20000.0):
    sol = solve_ivp(rhs, (0, t_end), Y0, method=method, rtol=rtol, atol=atol,
                    max_step=0.5, dense_output=True)
    t = np.arange(0, t_end + 1e-9, 0.1)
    return crossings(t, sol.sol(t)[0], LEVEL)


if __name__ == "__main__":
    up, down = events()
    with open("events.csv", "w") as out:
        out.write("# Epileptor (TVB defaults, x0 = -1.6, r = 0.00035): seizures as x1 > -1; "
                  "SciPy DOP853 rtol 1e-10 (make.py); times in the model's unit (TVB: ms)\n")
        out.write("onset,offset\n")
        for k, on in enumerate(up):
            off = down[k] if k < len(down) else float("nan")
            out.write(f"{on:.4f},{off:.4f}\n")
    n = min(len(up), len(down))
    print("onsets", np.round(up, 2))
    print("offsets", np.round(down, 2))
    print("period", np.diff(up).mean(), "+-", np.diff(up).std())
    print("duration", np.mean(np.array(down[:n]) - np.array(up[:n])))
    # the same with a different integrator and tolerance
    up2, down2 = events(method="LSODA", rtol=1e-11, atol=1e-12)
    print("LSODA onsets - DOP853 onsets", np.max(np.abs(np.array(up2) - np.array(up))))
