//! NMODL's names, units, functions and numbers in `.neuro` spelling: the
//! words `.neuro` keeps for itself, NEURON's default reversal potentials,
//! the builtin functions, NEURON's unit names, and literals that read back
//! exactly.

use std::fmt::Write as _;

/// Names the `.neuro` language keeps for itself.
pub(super) const RESERVED: &[&str] = &[
    "parameter",
    "state",
    "input",
    "gate",
    "current",
    "use",
    "spike",
    "on",
    "kinetic",
    "method",
    "fn",
    "if",
    "then",
    "else",
    "and",
    "or",
    "not",
    "true",
    "false",
    "emit",
    "refractory",
    "when",
    "crosses",
    "t",
    "pi",
    "celsius",
    "V",
    "currents",
    "import",
    "channel",
    "neuron",
    "synapse",
    "rate",
    "in",
    "step",
    "exp",
    "log",
    "ln",
    "sqrt",
    "abs",
    "min",
    "max",
    "pow",
    "sin",
    "cos",
    "tan",
    "tanh",
    "sinh",
    "cosh",
    "atan",
    "log10",
    "sign",
    "vtrap",
];

/// NEURON's default reversal potentials (mV) for its ions.
pub(super) fn default_reversal(ion: &str) -> f64 {
    match ion {
        "na" => 50.0,
        "k" => -77.0,
        "ca" => 132.457_934, // Nernst at cai = 5e-5 mM, cao = 2 mM, 6.3 degC
        _ => 0.0,
    }
}

/// Builtin NMODL functions and their `.neuro` names.
pub(super) fn builtin(name: &str) -> Option<&'static str> {
    Some(match name {
        "exp" => "exp",
        "log" => "log",
        "log10" => "log10",
        "sqrt" => "sqrt",
        "fabs" => "abs",
        "sin" => "sin",
        "cos" => "cos",
        "tan" => "tan",
        "tanh" => "tanh",
        "sinh" => "sinh",
        "cosh" => "cosh",
        "atan" => "atan",
        "pow" => "pow",
        "fmin" => "min",
        "fmax" => "max",
        _ => return None,
    })
}

/// A unit of NMODL (`S/cm2`, `/ms`, `mho/cm2`, `degC`) in `.neuro`
/// spelling, `None` for a plain number, `Err` for one neuroc does not
/// know.
pub(super) fn unit(text: &str, aliases: &[(String, String)]) -> Result<Option<String>, String> {
    let t = text.trim();
    if t.is_empty() || t == "1" {
        return Ok(None);
    }
    let mut out = String::new();
    for (k, part) in t.split('/').enumerate() {
        if k > 0 {
            out.push('/');
        }
        let part = part.trim();
        if part.is_empty() {
            continue; // `/ms`: a rate, written `/ms` in .neuro too
        }
        for (j, factor) in part.split(['-', ' ', '*']).filter(|f| !f.is_empty()).enumerate() {
            if j > 0 {
                out.push('*');
            }
            let digits = factor.trim_start_matches(|c: char| c.is_ascii_alphabetic() || c == '_');
            let name = &factor[..factor.len() - digits.len()];
            if name.is_empty() {
                out.push_str(factor); // a number
                continue;
            }
            let alias = aliases.iter().find(|(a, _)| a == name).map(|(_, b)| b.as_str());
            let mapped = map_unit(alias.unwrap_or(name)).or_else(|| map_unit(name));
            let Some(mapped) = mapped else { return Err(name.to_string()) };
            out.push_str(&mapped);
            if !digits.is_empty() {
                write!(out, "^{digits}").ok();
            }
        }
    }
    Ok(Some(out))
}

/// One unit name of NEURON's units library, in `.neuro` spelling.
fn map_unit(name: &str) -> Option<String> {
    let direct = match name {
        "milliamp" => "mA",
        "microamp" => "uA",
        "nanoamp" => "nA",
        "millivolt" => "mV",
        "volt" => "V",
        "siemens" | "mho" => "S",
        "mmho" => "mS",
        "umho" => "uS",
        "millimolar" => "mM",
        "micromolar" => "uM",
        "molar" => "M",
        "micron" | "microns" => "um",
        "millisecond" => "ms",
        "millimho" => "mS",
        "liter" => "L",
        "second" => "s",
        "degC" => "degC",
        "coulomb" => "C",
        "faraday" => "C",
        "joule" => "J",
        "kelvin" => "K",
        _ => "",
    };
    if !direct.is_empty() {
        return Some(direct.to_string());
    }
    crate::units::lookup_unit(name).map(|_| name.to_string())
}

/// A name safe in `.neuro`: a reserved one gets `_`.
pub(super) fn safe(name: &str) -> String {
    if RESERVED.contains(&name) {
        format!("{name}_")
    } else {
        name.to_string()
    }
}

/// A number as a `.neuro` literal that reads back exactly.
pub(super) fn number(x: f64) -> String {
    let s = format!("{x:?}");
    if s.contains('e') || s.contains('.') || s.contains("inf") || s.contains("NaN") {
        s
    } else {
        format!("{s}.0")
    }
}
