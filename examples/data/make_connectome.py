"""A synthetic connectome for the brain examples: N regions on two
hemispheric ellipsoids, tract lengths from their distances and weights
falling off with length (an exponential distance rule, as measured in
macaque and mouse tracer data: Ercsey-Ravasz et al. 2013, Neuron 80:184),
made sparse and symmetric. Not a measured human connectome; free to
redistribute (generated here, CC0). Deterministic: run it again for the
same files.

    python3 examples/data/make_connectome.py 80 examples/data/synthetic80
"""
import math
import os
import random
import sys

n = int(sys.argv[1])
out = sys.argv[2]
rng = random.Random(20261205)
half = n // 2
centres = []
labels = []
for h, side in enumerate((-1.0, 1.0)):
    for k in range(half if h == 0 else n - half):
        # golden-angle points on a half ellipsoid (mm)
        m = half if h == 0 else n - half
        z = 1.0 - 2.0 * (k + 0.5) / m
        r = math.sqrt(1.0 - z * z)
        phi = k * math.pi * (3.0 - math.sqrt(5.0))
        x = side * (10.0 + 35.0 * abs(r * math.cos(phi)))
        y = 70.0 * r * math.sin(phi)
        centres.append((x, y, 50.0 * z))
        labels.append(f"{'lr'[h]}{k:02d}")
dist = [[math.dist(a, b) for b in centres] for a in centres]
lam = 40.0  # mm, the length scale of the distance rule
w = [[0.0] * n for _ in range(n)]
lengths = [[0.0] * n for _ in range(n)]
for i in range(n):
    for j in range(i + 1, n):
        # tracts are longer than straight lines; crossing the midline costs more
        cross = (i < half) != (j < half)
        L = dist[i][j] * (1.25 if not cross else 1.5)
        p = math.exp(-L / lam)
        if rng.random() < min(1.0, 2.5 * p):
            v = p * rng.lognormvariate(0.0, 0.5)
            w[i][j] = w[j][i] = v
        lengths[i][j] = lengths[j][i] = L
mx = max(max(r) for r in w)
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "weights.txt"), "w") as f:
    for r in w:
        f.write(" ".join(f"{v / mx:.6g}" for v in r) + "\n")
with open(os.path.join(out, "tract_lengths.txt"), "w") as f:
    for r in lengths:
        f.write(" ".join(f"{v:.4f}" for v in r) + "\n")
with open(os.path.join(out, "centres.txt"), "w") as f:
    for lab, c in zip(labels, centres):
        f.write(f"{lab} {c[0]:.3f} {c[1]:.3f} {c[2]:.3f}\n")
