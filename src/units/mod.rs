//! Units and dimensions.
//!
//! A [`Dim`] is a vector of rational exponents over the seven SI base units
//! (m, kg, s, A, K, mol, cd), so `sqrt(ms)` has a dimension. Unit names are
//! looked up in one table ([`lookup_unit`]): SI units and the derived units
//! neuroscience uses, with the prefixes p n u µ m c k M G. Every literal is
//! folded to SI `f64` at compile time; kernels never convert units.
//! [`pretty`] prints a dimension back in readable units.

mod rational;

pub use rational::Rational;

use std::fmt;

pub const BASE_NAMES: [&str; 7] = ["m", "kg", "s", "A", "K", "mol", "cd"];

/// Exponents over (m, kg, s, A, K, mol, cd).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Dim(pub [Rational; 7]);

impl Dim {
    pub const NONE: Dim = Dim([Rational::ZERO; 7]);

    pub const fn base(index: usize) -> Dim {
        let mut d = [Rational::ZERO; 7];
        d[index] = Rational::ONE;
        Dim(d)
    }

    pub fn from_ints(e: [i64; 7]) -> Dim {
        let mut d = [Rational::ZERO; 7];
        for (slot, v) in d.iter_mut().zip(e) {
            *slot = Rational::int(v);
        }
        Dim(d)
    }

    pub fn is_dimensionless(&self) -> bool {
        *self == Dim::NONE
    }

    /// `None` when an exponent overflows.
    pub fn mul(&self, other: &Dim) -> Option<Dim> {
        let mut out = [Rational::ZERO; 7];
        for (o, (a, b)) in out.iter_mut().zip(self.0.iter().zip(other.0.iter())) {
            *o = a.checked_add(*b)?;
        }
        Some(Dim(out))
    }

    pub fn div(&self, other: &Dim) -> Option<Dim> {
        self.mul(&other.powr(Rational::int(-1))?)
    }

    pub fn powr(&self, p: Rational) -> Option<Dim> {
        let mut out = [Rational::ZERO; 7];
        for (o, a) in out.iter_mut().zip(self.0.iter()) {
            *o = a.checked_mul(p)?;
        }
        Some(Dim(out))
    }

    pub fn inv(&self) -> Option<Dim> {
        self.powr(Rational::int(-1))
    }
}

pub mod dims {
    use super::Dim;
    pub fn time() -> Dim {
        Dim::from_ints([0, 0, 1, 0, 0, 0, 0])
    }
    pub fn voltage() -> Dim {
        Dim::from_ints([2, 1, -3, -1, 0, 0, 0])
    }
    pub fn current() -> Dim {
        Dim::from_ints([0, 0, 0, 1, 0, 0, 0])
    }
    pub fn temperature() -> Dim {
        Dim::from_ints([0, 0, 0, 0, 1, 0, 0])
    }
    pub fn rate() -> Dim {
        Dim::from_ints([0, 0, -1, 0, 0, 0, 0])
    }
    pub fn length() -> Dim {
        Dim::from_ints([1, 0, 0, 0, 0, 0, 0])
    }
    pub fn velocity() -> Dim {
        Dim::from_ints([1, 0, -1, 0, 0, 0, 0])
    }
    /// F/m^2 (membrane capacitance per area).
    pub fn specific_capacitance() -> Dim {
        Dim::from_ints([-4, -1, 4, 2, 0, 0, 0])
    }
    /// ohm m (axial resistivity).
    pub fn resistivity() -> Dim {
        Dim::from_ints([3, 1, -3, -2, 0, 0, 0])
    }
}

/// A unit name resolved: its factor to SI, dimension and (for degC) offset.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UnitDef {
    pub scale: f64,
    pub dim: Dim,
    /// Added after scaling (only `degC`: 273.15 K).
    pub offset: f64,
}

/// The units without prefixes: (name, scale to SI, dimension exponents).
const UNITS: &[(&str, f64, [i64; 7])] = &[
    ("s", 1.0, [0, 0, 1, 0, 0, 0, 0]),
    ("m", 1.0, [1, 0, 0, 0, 0, 0, 0]),
    ("g", 1e-3, [0, 1, 0, 0, 0, 0, 0]),
    ("A", 1.0, [0, 0, 0, 1, 0, 0, 0]),
    ("K", 1.0, [0, 0, 0, 0, 1, 0, 0]),
    ("mol", 1.0, [0, 0, 0, 0, 0, 1, 0]),
    ("cd", 1.0, [0, 0, 0, 0, 0, 0, 1]),
    ("Hz", 1.0, [0, 0, -1, 0, 0, 0, 0]),
    ("V", 1.0, [2, 1, -3, -1, 0, 0, 0]),
    ("S", 1.0, [-2, -1, 3, 2, 0, 0, 0]),
    ("F", 1.0, [-2, -1, 4, 2, 0, 0, 0]),
    ("ohm", 1.0, [2, 1, -3, -2, 0, 0, 0]),
    ("Ω", 1.0, [2, 1, -3, -2, 0, 0, 0]),
    ("C", 1.0, [0, 0, 1, 1, 0, 0, 0]),
    ("M", 1e3, [-3, 0, 0, 0, 0, 1, 0]),
    ("L", 1e-3, [3, 0, 0, 0, 0, 0, 0]),
    ("W", 1.0, [2, 1, -3, 0, 0, 0, 0]),
    ("J", 1.0, [2, 1, -2, 0, 0, 0, 0]),
    ("N", 1.0, [1, 1, -2, 0, 0, 0, 0]),
    ("Pa", 1.0, [-1, 1, -2, 0, 0, 0, 0]),
];

const PREFIXES: &[(&str, f64)] = &[
    ("p", 1e-12),
    ("n", 1e-9),
    ("u", 1e-6),
    ("µ", 1e-6),
    ("μ", 1e-6),
    ("m", 1e-3),
    ("c", 1e-2),
    ("k", 1e3),
    ("M", 1e6),
    ("G", 1e9),
];

/// Resolves one unit name (`mV`, `uF`, `Mohm`, `degC`).
pub fn lookup_unit(name: &str) -> Option<UnitDef> {
    if name == "degC" {
        return Some(UnitDef { scale: 1.0, dim: dims::temperature(), offset: 273.15 });
    }
    let base = |n: &str| UNITS.iter().find(|(u, _, _)| *u == n).map(|(_, s, d)| (*s, Dim::from_ints(*d)));
    if let Some((scale, dim)) = base(name) {
        return Some(UnitDef { scale, dim, offset: 0.0 });
    }
    for (p, f) in PREFIXES {
        if let Some(rest) = name.strip_prefix(p) {
            if let Some((scale, dim)) = base(rest) {
                return Some(UnitDef { scale: scale * f, dim, offset: 0.0 });
            }
        }
    }
    None
}

/// Every unit name without prefixes, for "did you mean".
pub fn unit_names() -> Vec<String> {
    let mut names: Vec<String> = vec!["degC".into()];
    for (u, _, _) in UNITS {
        names.push((*u).into());
        for (p, _) in PREFIXES.iter().filter(|(p, _)| p.is_ascii()) {
            names.push(format!("{p}{u}"));
        }
    }
    names
}

/// A readable name of what a dimension measures, if it has a common one.
pub fn quantity_name(d: &Dim) -> Option<&'static str> {
    let table: &[([i64; 7], &str)] = &[
        ([0; 7], "dimensionless"),
        ([0, 0, 1, 0, 0, 0, 0], "time"),
        ([0, 0, -1, 0, 0, 0, 0], "rate"),
        ([1, 0, 0, 0, 0, 0, 0], "length"),
        ([2, 0, 0, 0, 0, 0, 0], "area"),
        ([2, 1, -3, -1, 0, 0, 0], "voltage"),
        ([2, 1, -4, -1, 0, 0, 0], "voltage per time"),
        ([0, 0, 0, 1, 0, 0, 0], "current"),
        ([-2, 0, 0, 1, 0, 0, 0], "current density"),
        ([-2, -1, 3, 2, 0, 0, 0], "conductance"),
        ([-4, -1, 3, 2, 0, 0, 0], "conductance density"),
        ([-2, -1, 4, 2, 0, 0, 0], "capacitance"),
        ([-4, -1, 4, 2, 0, 0, 0], "capacitance density"),
        ([2, 1, -3, -2, 0, 0, 0], "resistance"),
        ([0, 0, 1, 1, 0, 0, 0], "charge"),
        ([0, 0, 0, 0, 1, 0, 0], "temperature"),
        ([-3, 0, 0, 0, 0, 1, 0], "concentration"),
        ([0, 1, 0, 0, 0, 0, 0], "mass"),
        ([1, 0, -1, 0, 0, 0, 0], "speed"),
        ([-2, -1, 2, 1, 0, 0, 0], "rate per voltage"),
    ];
    table.iter().find(|(e, _)| Dim::from_ints(*e) == *d).map(|(_, n)| *n)
}

/// The dimension written with SI units: `V`, `A/m^2`, `S/m^2`, `1/s`.
pub fn pretty(d: &Dim) -> String {
    if d.is_dimensionless() {
        return "1".into();
    }
    let named: &[(&str, [i64; 7])] = &[
        ("V", [2, 1, -3, -1, 0, 0, 0]),
        ("A", [0, 0, 0, 1, 0, 0, 0]),
        ("S", [-2, -1, 3, 2, 0, 0, 0]),
        ("F", [-2, -1, 4, 2, 0, 0, 0]),
        ("ohm", [2, 1, -3, -2, 0, 0, 0]),
        ("C", [0, 0, 1, 1, 0, 0, 0]),
        ("s", [0, 0, 1, 0, 0, 0, 0]),
        ("m", [1, 0, 0, 0, 0, 0, 0]),
        ("kg", [0, 1, 0, 0, 0, 0, 0]),
        ("mol", [0, 0, 0, 0, 0, 1, 0]),
        ("K", [0, 0, 0, 0, 1, 0, 0]),
        ("m^2", [2, 0, 0, 0, 0, 0, 0]),
        ("mol/m^3", [-3, 0, 0, 0, 0, 1, 0]),
    ];
    let divisors: &[(&str, [i64; 7])] = &[
        ("m^2", [2, 0, 0, 0, 0, 0, 0]),
        ("s", [0, 0, 1, 0, 0, 0, 0]),
        ("V", [2, 1, -3, -1, 0, 0, 0]),
        ("m^3", [3, 0, 0, 0, 0, 0, 0]),
    ];
    if let Some((n, _)) = named.iter().find(|(_, e)| Dim::from_ints(*e) == *d) {
        return (*n).into();
    }
    for (n, e) in named {
        let u = Dim::from_ints(*e);
        if u.inv().as_ref() == Some(d) {
            return format!("1/{n}");
        }
        for (dn, de) in divisors {
            if u.div(&Dim::from_ints(*de)).as_ref() == Some(d) {
                return format!("{n}/{dn}");
            }
        }
    }
    for (dn, de) in divisors {
        for (dn2, de2) in divisors {
            if let Some(both) = Dim::from_ints(*de).mul(&Dim::from_ints(*de2)) {
                if both.inv().as_ref() == Some(d) {
                    return format!("1/({dn}*{dn2})");
                }
            }
        }
    }
    let mut parts = Vec::new();
    for (i, e) in d.0.iter().enumerate() {
        if !e.is_zero() {
            if *e == Rational::ONE {
                parts.push(BASE_NAMES[i].to_string());
            } else {
                parts.push(format!("{}^{}", BASE_NAMES[i], e));
            }
        }
    }
    parts.join("*")
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&pretty(self))
    }
}

/// A unit to show values of a dimension in: (text, SI value of one unit).
/// Used for CSV headers and `explain` when the user gave no unit.
pub fn display_unit(d: &Dim) -> (String, f64) {
    let table: &[([i64; 7], &str, f64)] = &[
        ([2, 1, -3, -1, 0, 0, 0], "mV", 1e-3),
        ([0, 0, 1, 0, 0, 0, 0], "ms", 1e-3),
        ([0, 0, -1, 0, 0, 0, 0], "Hz", 1.0),
        ([-2, 0, 0, 1, 0, 0, 0], "uA/cm^2", 1e-2),
        ([-4, -1, 3, 2, 0, 0, 0], "mS/cm^2", 10.0),
        ([-4, -1, 4, 2, 0, 0, 0], "uF/cm^2", 1e-2),
        ([0, 0, 0, 1, 0, 0, 0], "nA", 1e-9),
        ([-2, -1, 3, 2, 0, 0, 0], "nS", 1e-9),
        ([-2, -1, 4, 2, 0, 0, 0], "pF", 1e-12),
        ([2, 1, -3, -2, 0, 0, 0], "Mohm", 1e6),
        ([1, 0, 0, 0, 0, 0, 0], "um", 1e-6),
        ([-3, 0, 0, 0, 0, 1, 0], "mM", 1.0),
    ];
    for (e, n, s) in table {
        if Dim::from_ints(*e) == *d {
            return ((*n).into(), *s);
        }
    }
    (pretty(d), 1.0)
}

/// Formats an SI value in a unit: `-65 mV`.
pub fn format_value(si: f64, unit: &str, scale: f64) -> String {
    let v = si / scale;
    let shown = format_number(v);
    if unit == "1" || unit.is_empty() {
        shown
    } else {
        format!("{shown} {unit}")
    }
}

/// Shortest readable form of a float: `120`, `0.1`, `-54.387`, `1e-12`.
pub fn format_number(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if (1e-4..1e7).contains(&a) {
        let s = format!("{:.10}", v);
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        // 12 significant digits, trailing zeros of the mantissa dropped
        let s = format!("{v:.11e}");
        match s.split_once('e') {
            Some((mant, exp)) => format!("{}e{exp}", mant.trim_end_matches('0').trim_end_matches('.')),
            None => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixed_units_fold_to_si() {
        let mv = lookup_unit("mV").unwrap(); // ok: unit test
        assert_eq!(mv.scale, 1e-3);
        assert_eq!(mv.dim, dims::voltage());
        let ms_cm2 = lookup_unit("mS").unwrap().scale / lookup_unit("cm").unwrap().scale.powi(2); // ok: unit test
        assert!((ms_cm2 - 10.0).abs() < 1e-12);
        assert_eq!(lookup_unit("Mohm").unwrap().scale, 1e6); // ok: unit test
        assert_eq!(lookup_unit("µF").unwrap().scale, 1e-6); // ok: unit test
        assert_eq!(lookup_unit("mM").unwrap().scale, 1.0); // ok: unit test
        assert!(lookup_unit("mV2").is_none());
        assert!(lookup_unit("tau").is_none());
    }

    #[test]
    fn pretty_names_dimensions() {
        assert_eq!(pretty(&dims::voltage()), "V");
        let cd = Dim::from_ints([-2, 0, 0, 1, 0, 0, 0]);
        assert_eq!(pretty(&cd), "A/m^2");
        assert_eq!(pretty(&dims::rate()), "1/s");
        let half = dims::time().powr(Rational::new(1, 2).unwrap()).unwrap(); // ok: unit test
        assert_eq!(pretty(&half), "s^1/2");
    }
}
