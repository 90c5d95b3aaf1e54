TITLE A calcium pool: influx from ica, first-order decay

NEURON {
    SUFFIX cad
    USEION ca READ ica WRITE cai
    RANGE depth, taur, cainf
}

UNITS {
    (mM) = (milli/liter)
    (um) = (micron)
    (mA) = (milliamp)
    FARADAY = (faraday) (coulomb)
}

PARAMETER {
    depth = 0.1 (um)
    taur = 200 (ms)
    cainf = 1e-4 (mM)
}

STATE { ca (mM) }

ASSIGNED {
    ica (mA/cm2)
    cai (mM)
}

INITIAL {
    ca = cainf
    cai = ca
}

BREAKPOINT {
    SOLVE state METHOD derivimplicit
}

DERIVATIVE state {
    ca' = -(10000) * ica / (2 * FARADAY * depth) + (cainf - ca) / taur
    cai = ca
}
