TITLE Kv1-style delayed rectifier: n^4, sigmoid activation, bell-shaped tau

NEURON {
    SUFFIX kv1
    USEION k READ ek WRITE ik
    RANGE gbar, vhalf, slope
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}

PARAMETER {
    gbar = 0.01 (S/cm2)
    vhalf = -30 (mV)
    slope = 8 (mV)
    tau0 = 2 (ms)
    q10 = 2.3
    temp = 22 (degC)       : the temperature the kinetics were measured at
}

STATE { n }

ASSIGNED {
    v (mV)
    ek (mV)
    ik (mA/cm2)
    celsius (degC)
    ninf
    ntau (ms)
    qt
}

BREAKPOINT {
    SOLVE states METHOD cnexp
    ik = gbar * n^4 * (v - ek)
}

INITIAL {
    trates(v)
    n = ninf
}

DERIVATIVE states {
    trates(v)
    n' = (ninf - n) / ntau
}

PROCEDURE trates(v (mV)) {
    qt = q10^((celsius - temp) / 10)
    ninf = 1 / (1 + exp(-(v - vhalf) / slope))
    ntau = tau0 + 8 / (exp((v + 40) / 20) + exp(-(v + 40) / 20))
    ntau = ntau / qt
}
