"""What the NEURON scripts of tests/neuron/ share: the ball-and-stick cell
of examples/ball_and_stick.neuro and the spike times of a V trace."""

from neuron import h


def ball_and_stick(name="", nseg=13):
    """A soma (L = diam = 20 um, nseg = 1) with NEURON's `hh` (el_hh set to
    the -54.387 mV of our stdlib `Leak`, its rate tables off as our rates
    are exact) and a dendrite (L = 500 um, diam = 2 um, `nseg` segments)
    with `pas` (g = 1e-4 S/cm2, e = -65 mV) attached at soma(1); Ra = 100
    ohm cm, cm = 1 uF/cm2. Returns (soma, dend)."""
    soma = h.Section(name=name + "soma")
    dend = h.Section(name=name + "dend")
    soma.L = soma.diam = 20
    soma.nseg = 1
    dend.L, dend.diam, dend.nseg = 500, 2, nseg
    dend.connect(soma(1), 0)
    for sec in (soma, dend):
        sec.Ra = 100
        sec.cm = 1
    soma.insert("hh")
    soma(0.5).hh.el = -54.387
    h.usetable_hh = 0
    dend.insert("pas")
    for seg in dend:
        seg.pas.g = 1e-4
        seg.pas.e = -65
    return soma, dend


def crossings(t, v, level=0.0):
    """Upward crossings of `level` by the trace v(t), linear between steps."""
    return [
        t[i - 1] + (t[i] - t[i - 1]) * (level - v[i - 1]) / (v[i] - v[i - 1])
        for i in range(1, len(v))
        if v[i - 1] < level <= v[i]
    ]


def run(sites, duration=60, dt=0.025, secondorder=2, celsius=6.3, v_init=-65):
    """Runs NEURON at a fixed step (Crank-Nicolson for `secondorder = 2`)
    recording V at each of `sites` (segments); returns (t, [V per site])."""
    h.celsius = celsius
    h.dt = dt
    h.secondorder = secondorder
    t = h.Vector().record(h._ref_t)
    vs = [h.Vector().record(seg._ref_v) for seg in sites]
    h.finitialize(v_init)
    h.continuerun(duration)
    return t, vs
