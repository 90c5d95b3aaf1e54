TITLE Ih, the hyperpolarization-activated cation current

COMMENT
 One activation gate, after Huguenard & McCormick (1992): steady state
 1 / (1 + exp((v + 80) / 6)), time constant
 1 / (exp(-14.59 - 0.086 v) + exp(-1.87 + 0.0701 v)) ms.
ENDCOMMENT

NEURON {
    SUFFIX hcn
    NONSPECIFIC_CURRENT ih
    RANGE gbar, eh
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}

PARAMETER {
    gbar = 0.0001 (S/cm2)
    eh = -30 (mV)
}

STATE { q }

ASSIGNED {
    v (mV)
    ih (mA/cm2)
    qinf
    qtau (ms)
}

INITIAL {
    rates(v)
    q = qinf
}

BREAKPOINT {
    SOLVE states METHOD derivimplicit
    ih = gbar * q * (v - eh)
}

DERIVATIVE states {
    rates(v)
    q' = (qinf - q) / qtau
}

PROCEDURE rates(v (mV)) {
    qinf = 1 / (1 + exp((v + 80) / 6))
    qtau = 1 / (exp(-14.59 - 0.086 * v) + exp(-1.87 + 0.0701 * v))
}
