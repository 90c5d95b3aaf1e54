TITLE T-type calcium current with a GHK driving force

NEURON {
    SUFFIX cat
    USEION ca READ cai, cao WRITE ica
    RANGE pbar
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (mM) = (milli/liter)
    FARADAY = (faraday) (coulomb)
    R = (k-mole) (joule/degC)
}

PARAMETER {
    pbar = 0.0002 (cm/s)
}

STATE { m h }

ASSIGNED {
    v (mV)
    celsius (degC)
    cai (mM)
    cao (mM)
    ica (mA/cm2)
    minf hinf
    mtau (ms) htau (ms)
}

BREAKPOINT {
    SOLVE states METHOD cnexp
    ica = pbar * m * m * h * ghk(v, cai, cao)
}

INITIAL {
    rates(v)
    m = minf
    h = hinf
}

DERIVATIVE states {
    rates(v)
    m' = (minf - m) / mtau
    h' = (hinf - h) / htau
}

PROCEDURE rates(v (mV)) {
    minf = 1 / (1 + exp(-(v + 57) / 6.2))
    hinf = 1 / (1 + exp((v + 81) / 4))
    mtau = 0.612 + 1 / (exp(-(v + 132) / 16.7) + exp((v + 16.8) / 18.2))
    htau = 28 + exp(-(v + 22) / 10.5)
}

FUNCTION ghk(v (mV), ci (mM), co (mM)) (.001 coul/cm3) {
    LOCAL z, eci, eco
    z = (1e-3) * 2 * FARADAY * v / (R * (celsius + 273.15))
    eco = co * z / (exp(z) - 1)
    eci = ci * (-z) / (exp(-z) - 1)
    ghk = (.001) * 2 * FARADAY * (eci - eco)
}
