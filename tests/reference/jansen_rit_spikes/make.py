"""Reference for tests/epilepsy.rs: where the Jansen-Rit column turns from a
resting background into rhythmic epileptic-like spikes as the excitatory
gain A rises, with a constant input p = 90 /s (the mean of the noisy input
of Wendling et al. 2000, Biol Cybern 83:367).

    python3 make.py            # writes spikes.csv, prints the threshold

The stdlib JansenRit equations and constants (B = 22 mV, a = 100 /s,
b = 50 /s, C = 135, e0 = 2.5 /s, v0 = 6 mV, r = 0.56 /mV), from all zeros,
solved with SciPy's DOP853 (rtol 1e-10, atol 1e-12, steps at most 1 ms) for
20 s. A spike is an upward crossing of 8 mV by y1 - y2 after t = 2 s (the
resting level is below 2 mV, a spike peaks above 11 mV), located by linear
interpolation between samples 0.5 ms apart.
"""
import numpy as np
from scipy.integrate import solve_ivp

P = 90.0
A_VALUES = [3.25, 3.5, 3.58, 3.6, 3.8, 4.0]


def rhs(A, p, B=22.0, a=100.0, b=50.0, C=135.0, e0=2.5, v0=6.0, r=0.56):
    def S(v):
        return 2 * e0 / (1 + np.exp(r * (v0 - v)))

    def f(t, y):
        y0, y1, y2, y3, y4, y5 = y
        return [y3, y4, y5,
                A * a * S(y1 - y2) - 2 * a * y3 - a * a * y0,
                A * a * (p + 0.8 * C * S(C * y0)) - 2 * a * y4 - a * a * y1,
                B * b * 0.25 * C * S(0.25 * C * y0) - 2 * b * y5 - b * b * y2]
    return f


def spikes(A, p=P, t_end=20.0):
    s = solve_ivp(rhs(A, p), (0, t_end), [0.0] * 6, method="DOP853", rtol=1e-10,
                  atol=1e-12, max_step=1e-3, dense_output=True)
    t = np.arange(2.0, t_end, 5e-4)
    y = s.sol(t)
    e = y[1] - y[2]
    k = np.where((e[:-1] < 8.0) & (e[1:] >= 8.0))[0]
    return t[k] + (t[k + 1] - t[k]) * (8.0 - e[k]) / (e[k + 1] - e[k])


if __name__ == "__main__":
    with open("spikes.csv", "w") as out:
        out.write("# Jansen-Rit, p = 90 /s constant, from zeros, 20 s; spikes = y1 - y2 up through "
                  "8 mV after 2 s (make.py)\n")
        out.write("A_mV,spikes,mean_interval_s\n")
        for A in A_VALUES:
            ts = spikes(A)
            mean = np.diff(ts).mean() if len(ts) > 2 else float("nan")
            out.write(f"{A},{len(ts)},{mean:.6f}\n")
            print(A, len(ts), mean)
    lo, hi = 3.5, 3.6
    for _ in range(20):
        mid = 0.5 * (lo + hi)
        if len(spikes(mid)) > 0:
            hi = mid
        else:
            lo = mid
    print(f"threshold: A between {lo:.6f} and {hi:.6f} mV")
