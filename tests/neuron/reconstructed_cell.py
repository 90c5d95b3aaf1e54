"""NEURON's run of examples/reconstructed_cell.neuro, for tests/cable.rs.

The SWC file is read by the rules neuroc states (src/cable/swc.rs; a
three-point soma is a 2r x 2r cylinder, a section is an unbranched run of
one type, children of the soma attach at soma(0.5), other sections at
their parent's end and start with their parent point), and each section
gets NEURON 3-D points at its arc lengths with their diameters, so NEURON
computes the segments' areas and axial resistances from its own 3-D
geometry. nseg by the d_lambda rule at 100 Hz, d_lambda = 0.1, with the
mean of the section's point diameters (as neuroc). hh (tables off,
el = -54.387 mV) in soma, axon and apical sections, pas (1e-4 S/cm2,
-65 mV) in basal ones; Ra = 100 ohm cm, cm = 1 uF/cm2; IClamp 0.5 nA at
soma(0.5) from 5 ms for 40 ms; Crank-Nicolson, dt = 0.025 ms, 60 ms.
Prints the soma's upward crossings of 0 mV (ms).

    venv/bin/python tests/neuron/reconstructed_cell.py > tests/data/reconstructed_cell_neuron.csv
"""

import math
import os

from neuron import h

from cells import crossings, run

here = os.path.dirname(os.path.abspath(__file__))
pts, index = [], {}
for line in open(os.path.join(here, "../../examples/data/cell.swc")):
    line = line.split("#")[0].split()
    if not line:
        continue
    i, t, x, y, z, r, p = int(line[0]), int(line[1]), *map(float, line[2:6]), int(line[6])
    index[i] = len(pts)
    pts.append((t, (x, y, z), r, index[p] if p >= 0 else None))
n = len(pts)
children = [[] for _ in range(n)]
for i, (_, _, _, p) in enumerate(pts):
    if p is not None:
        children[p].append(i)
dist = lambda a, b: math.dist(pts[a][1], pts[b][1])
names = {1: "soma", 2: "axon", 3: "dend", 4: "apic"}
sections = []  # (name, kind, parent, [(arc, diam)])
section_of = [None] * n
soma_pts = [i for i in range(n) if pts[i][0] == 1]
assert len(soma_pts) == 3, "this script knows the three-point soma"
d = 2 * pts[0][2]
sections.append(("soma", "soma", None, [(0, d), (d, d)]))
for i in soma_pts:
    section_of[i] = 0
counts = {}
for i in range(n):
    if section_of[i] is not None:
        continue
    q = pts[i][3]
    if not (section_of[q] == 0 or len(children[q]) > 1 or pts[q][0] != pts[i][0]):
        continue
    kind = names.get(pts[i][0], f"type{pts[i][0]}")
    k = counts.get(kind, 0)
    counts[kind] = k + 1
    if section_of[q] == 0:
        parent, points, arc = (0, 0.5), [(0, 2 * pts[i][2])], 0.0
    else:
        arc = dist(q, i)
        parent, points = (section_of[q], 1.0), [(0, 2 * pts[q][2]), (arc, 2 * pts[i][2])]
    s = len(sections)
    section_of[i] = s
    last = i
    while len(children[last]) == 1 and pts[children[last][0]][0] == pts[i][0]:
        c = children[last][0]
        arc += dist(last, c)
        points.append((arc, 2 * pts[c][2]))
        section_of[c] = s
        last = c
    sections.append((f"{kind}_{k}", kind, parent, points))

h.load_file("stdrun.hoc")
secs = []
for name, kind, parent, points in sections:
    sec = h.Section(name=name)
    for arc, diam in points:
        sec.pt3dadd(arc, 0, 0, diam)
    sec.Ra, sec.cm = 100, 1
    length = points[-1][0]
    mean_d = sum(p[1] for p in points) / len(points)
    lam = 1e5 * math.sqrt(mean_d / (4 * math.pi * 100 * sec.Ra * sec.cm))
    sec.nseg = int((length / (0.1 * lam) + 0.9) / 2) * 2 + 1
    if parent is not None:
        sec.connect(secs[parent[0]](parent[1]), 0)
    if kind == "dend":
        sec.insert("pas")
        for seg in sec:
            seg.pas.g, seg.pas.e = 1e-4, -65
    else:
        sec.insert("hh")
        for seg in sec:
            seg.hh.el = -54.387
    secs.append(sec)
soma = secs[0]
stim = h.IClamp(soma(0.5))
stim.delay, stim.dur, stim.amp = 5, 40, 0.5
h.usetable_hh = 0
t, (v,) = run([soma(0.5)])
print("spike_ms")
for ts in crossings(t, v):
    print(repr(ts))
