//! `explain` for a neural field: the grid, the kernels' transforms and the
//! critical wavenumber.

use crate::field;
use crate::ir;
use crate::units;

/// The grid, the kernels' transforms and the critical wavenumber.
pub fn field(m: &ir::Model) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let f = match field::Field::bind(m, &vec![None; m.params.len()], &vec![None; m.values.len()]) {
        Ok(f) => f,
        Err(d) => return format!("  (cannot set the field up: {})\n", d.message),
    };
    let Some(def) = &m.field else { return s };
    let _ = writeln!(s, "field {}", m.name);
    for (p, v) in m.params.iter().zip(&f.params) {
        let (text, scale) = match &p.unit {
            Some(u) if u.scale.is_finite() && u.scale != 0.0 => (u.text.clone(), u.scale),
            _ => units::display_unit(&p.dim),
        };
        let text = if text == "1" { String::new() } else { format!(" {text}") };
        let _ = writeln!(s, "  parameter {} = {}{text}", p.name, units::format_number(v / scale));
    }
    for v in &m.values {
        let _ = writeln!(s, "  {} = {}", v.name, crate::ir::print_expr(m, v.expr));
    }
    for st in m.states.iter().filter(|st| st.rhs.is_some()) {
        let _ = writeln!(s, "  state {}: initially {}", st.name, crate::ir::print_expr(m, st.init));
        let _ = writeln!(s, "    d{}/dt = {}", st.name, crate::ir::print_expr(m, st.rhs.unwrap_or(st.init)));
    }
    for c in &def.convs {
        let _ = writeln!(
            s,
            "  conv({}, {}) = integral of {}(|x - y|) times the source at y, over the domain",
            def.kernels[c.kernel].0,
            crate::ir::print_expr(m, c.source),
            def.kernels[c.kernel].0
        );
    }
    let _ = writeln!(s, "  method: rk4 (or euler) over all cells at once");
    let shape: Vec<String> = f.shape.iter().map(|n| n.to_string()).collect();
    let unit = m.states[def.coords[0].state].unit.clone().unwrap_or(ir::UnitHint { text: "m".into(), scale: 1.0 });
    let _ = writeln!(
        s,
        "  field grid: {} cells ({}), periodic, cell size {} {}",
        f.cells(),
        shape.join(" x "),
        units::format_number(f.h[0] / unit.scale),
        unit.text
    );
    let _ = writeln!(s, "  convolutions: by FFT (rustfft), the kernel sampled at minimum-image distances times the cell volume; each RK4 stage convolves afresh");
    for (k, (name, _)) in def.kernels.iter().enumerate() {
        let (mode, kc) = f.critical_mode(k);
        let w0 = f.spectrum(k)[0].1;
        let _ = writeln!(
            s,
            "  kernel {name}: integral {}; Fourier transform peaks at mode {mode} (k = {} rad/{}, wavelength {} {}): a homogeneous state with enough gain destabilizes there first",
            units::format_number(w0),
            units::format_number(kc * unit.scale),
            unit.text,
            units::format_number(2.0 * std::f64::consts::PI / kc / unit.scale),
            unit.text
        );
    }
    s
}
