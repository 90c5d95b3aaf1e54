: The Hodgkin-Huxley sodium channel as an 8-state kinetic scheme (states
: mXhY: X of the three m particles and Y of the one h particle open), the
: same scheme as NaMarkov in stdlib/markov.neuro, for bench/kernels.rs.
NEURON {
    SUFFIX nam
    USEION na READ ena WRITE ina
    RANGE gbar
}
UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}
PARAMETER {
    gbar = 0.12 (S/cm2)
}
ASSIGNED {
    v (mV)
    ena (mV)
    ina (mA/cm2)
    celsius (degC)
    am (/ms)
    bm (/ms)
    ah (/ms)
    bh (/ms)
}
STATE { m0h0 m1h0 m2h0 m3h0 m0h1 m1h1 m2h1 m3h1 }
BREAKPOINT {
    SOLVE kin METHOD sparse
    ina = gbar * m3h1 * (v - ena)
}
INITIAL {
    SOLVE kin STEADYSTATE sparse
}
KINETIC kin {
    rates(v)
    ~ m0h0 <-> m1h0 (3 * am, bm)
    ~ m1h0 <-> m2h0 (2 * am, 2 * bm)
    ~ m2h0 <-> m3h0 (am, 3 * bm)
    ~ m0h1 <-> m1h1 (3 * am, bm)
    ~ m1h1 <-> m2h1 (2 * am, 2 * bm)
    ~ m2h1 <-> m3h1 (am, 3 * bm)
    ~ m0h0 <-> m0h1 (ah, bh)
    ~ m1h0 <-> m1h1 (ah, bh)
    ~ m2h0 <-> m2h1 (ah, bh)
    ~ m3h0 <-> m3h1 (ah, bh)
    CONSERVE m0h0 + m1h0 + m2h0 + m3h0 + m0h1 + m1h1 + m2h1 + m3h1 = 1
}
PROCEDURE rates(v (mV)) {
    LOCAL q10
    q10 = 3^((celsius - 6.3) / 10)
    am = q10 * 0.1 * vtrap(-(v + 40), 10)
    bm = q10 * 4 * exp(-(v + 65) / 18)
    ah = q10 * 0.07 * exp(-(v + 65) / 20)
    bh = q10 * 1 / (1 + exp(-(v + 35) / 10))
}
FUNCTION vtrap(x, y) {
    if (fabs(x / y) < 1e-6) {
        vtrap = y * (1 - x / y / 2)
    } else {
        vtrap = x / (exp(x / y) - 1)
    }
}
