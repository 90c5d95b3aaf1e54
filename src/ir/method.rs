//! Integration methods by name: the one table of names and aliases that
//! `method =` statements, `simulate` blocks and `--method` are checked
//! against (E0401), and that `schemes` derives plans for. Part of the IR
//! because a model records the method asked for, per state and per model.

use crate::diag::{Code, Diagnostic};
use crate::source::Span;

/// Integration methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Auto,
    Euler,
    Rk2,
    /// Explicit trapezoid: with noise held over the step, stochastic Heun.
    Heun,
    Rk4,
    Rk45,
    BackwardEuler,
    Trapezoidal,
    ExpEuler,
    Exact,
    Kinetic,
    /// Backward Euler on a kinetic scheme: one linear solve per step.
    KineticImplicit,
}

/// (name, method, what it is), in the order `--help` and errors list them.
pub const METHODS: &[(&str, Method, &str)] = &[
    ("auto", Method::Auto, "chosen per equation from its form"),
    ("euler", Method::Euler, "forward Euler, order 1"),
    ("rk2", Method::Rk2, "explicit midpoint, order 2"),
    ("heun", Method::Heun, "explicit trapezoid, order 2 (with noise: stochastic Heun)"),
    ("rk4", Method::Rk4, "classic Runge-Kutta, order 4"),
    ("rk45", Method::Rk45, "adaptive Dormand-Prince 5(4) within each step"),
    ("backward_euler", Method::BackwardEuler, "implicit, order 1, Newton on the Jacobian"),
    ("trapezoidal", Method::Trapezoidal, "implicit Crank-Nicolson, order 2"),
    ("implicit", Method::Trapezoidal, "same as trapezoidal"),
    ("exp_euler", Method::ExpEuler, "exponential Euler for dx/dt = a - b x"),
    ("cnexp", Method::ExpEuler, "same as exp_euler (NEURON's name)"),
    ("exact", Method::Exact, "exact propagator for linear constant-coefficient systems"),
    ("kinetic", Method::Kinetic, "matrix exponential of a kinetic scheme's rates"),
    ("kinetic_implicit", Method::KineticImplicit, "backward Euler on a kinetic scheme, order 1, one linear solve"),
    ("sparse", Method::KineticImplicit, "same as kinetic_implicit (NEURON's name)"),
];

impl Method {
    pub fn parse(s: &str) -> Option<Method> {
        METHODS.iter().find(|(n, _, _)| *n == s).map(|(_, m, _)| *m)
    }

    pub fn name(self) -> &'static str {
        METHODS.iter().find(|(_, m, _)| *m == self).map_or("?", |(n, _, _)| n)
    }

    /// Classical order of accuracy in the step.
    pub fn order(self) -> u32 {
        match self {
            Method::Euler | Method::BackwardEuler | Method::ExpEuler | Method::KineticImplicit | Method::Auto => 1,
            Method::Rk2 | Method::Heun | Method::Trapezoidal => 2,
            Method::Rk4 => 4,
            Method::Rk45 => 5,
            Method::Exact | Method::Kinetic => 0,
        }
    }
}

/// E0401 with the list of methods.
pub fn unknown_method(name: &str, span: Span) -> Diagnostic {
    let names: Vec<&str> = METHODS.iter().map(|(n, _, _)| *n).collect();
    let d =
        Diagnostic::error(Code::UnknownMethod, format!("unknown integration method `{name}`")).at(span, "not a method");
    match crate::diag::did_you_mean(name, names.iter().copied()) {
        Some(s) => d.help(format!("did you mean `{s}`? methods: {}", names.join(", "))),
        None => d.help(format!("methods: {}", names.join(", "))),
    }
}
