//! `explain` for a density: the grid, the flux discretization, the Péclet
//! numbers and the first rows of the operator, the stationary rate.

use crate::density;
use crate::diag::Diagnostic;
use crate::ir;
use crate::units;

/// `neuroc explain` for a density: the grid, the flux discretization, the
/// Péclet numbers and the first rows of the operator, the stationary rate.
pub fn density(m: &ir::Model) -> Result<String, Diagnostic> {
    use std::fmt::Write;
    let d = density::Density::bind(m, &vec![None; m.params.len()], &vec![None; m.values.len()])?;
    let grid = d.grid();
    let r0 = if d.feedback { d.stationary(0.0).map(|x| x.2).unwrap_or(0.0) } else { 0.0 };
    let (a, dd) = d.coefficients(&grid, 0.0, &d.base(r0))?;
    let var_index = m.density.as_ref().map_or(0, |x| x.var);
    let unit = m.states[var_index].unit.clone().unwrap_or(ir::UnitHint { text: String::new(), scale: 1.0 });
    let show = |x: f64| format!("{} {}", units::format_number(x / unit.scale), unit.text);
    let var = &m.states[var_index].name;
    let mut s = String::new();
    let _ = writeln!(s, "density {}: p({var}, t), Fokker-Planck", m.name);
    let _ =
        writeln!(s, "  dp/dt = -dJ/d{var} + r(t - t_ref) delta({var} - reset),  J = drift * p - diffusion * dp/d{var}");
    if let Some(def) = &m.density {
        let _ = writeln!(s, "  drift = {}", written(m, def.drift));
        let _ = writeln!(s, "  diffusion = {}", written(m, def.diffusion));
    }
    if d.feedback {
        let _ = writeln!(s, "  recurrent: drift or diffusion read the output of the previous step; the stationary rate is self-consistent");
    }
    let widths: Vec<f64> = (0..grid.cells()).map(|i| grid.width(i)).collect();
    let (hmin, hmax) = widths.iter().fold((f64::MAX, 0.0f64), |(a, b), &h| (a.min(h), b.max(h)));
    let _ = writeln!(
        s,
        "  grid: {} finite volumes on [{}, {}], widths {} to {}{}",
        grid.cells(),
        show(d.lo),
        show(d.threshold),
        show(hmin),
        show(hmax),
        if d.grading != 1.0 {
            format!(" (graded {}x toward the threshold)", units::format_number(d.grading))
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        s,
        "  fluxes: Scharfetter-Gummel, J_j = (D/h)[B(-Pe) p_(j-1) - B(Pe) p_j], Pe = A h / D, B(z) = z/(e^z - 1)"
    );
    let (pmin, pmax) = density::Fluxes::peclet_range(&grid, &a, &dd);
    let _ = writeln!(
        s,
        "    cell Peclet numbers at t = 0: {} to {} ({})",
        units::format_number(pmin),
        units::format_number(pmax),
        if pmin.abs().max(pmax.abs()) > 2.0 {
            "drift-dominated cells: upwind-like, first order there"
        } else {
            "resolved: second order"
        }
    );
    let _ = writeln!(
        s,
        "  boundaries: reflecting at {}; absorbing at {} (p = 0), the flux there is the output `{}`",
        show(d.lo),
        show(d.threshold),
        m.density.as_ref().map_or("rate", |x| x.output.as_str())
    );
    let _ = writeln!(
        s,
        "  reinjection: at {} (shared between the two nearest cells) after {} ms (a delay line)",
        show(d.reset),
        units::format_number(d.t_ref * 1e3)
    );
    let _ = writeln!(
        s,
        "  drift and diffusion {}",
        if d.time_dependent {
            "depend on time: re-evaluated at the faces every step"
        } else {
            "are constant in time: the operator is factored once"
        }
    );
    let _ = writeln!(s, "  time stepping: implicit (crank_nicolson by default, two backward_euler steps first; or backward_euler), one tridiagonal solve per step");
    let f = density::Fluxes::scharfetter_gummel(&grid, &a, &dd);
    let n = grid.cells();
    let _ = writeln!(s, "  operator M (dp/dt = M p), rows nearest the threshold, 1/ms:");
    for i in n.saturating_sub(3)..n {
        let h = grid.width(i);
        let lower = f.a[i] / h;
        let diag = -(f.b[i] + f.a[i + 1]) / h;
        let upper = if i + 1 < n { f.b[i + 1] / h } else { 0.0 };
        let _ = writeln!(
            s,
            "    cell {i:>5} at {:>10}: {:>12} {:>12} {:>12}",
            show(grid.center(i)),
            units::format_number(lower * 1e-3),
            units::format_number(diag * 1e-3),
            units::format_number(upper * 1e-3)
        );
    }
    match d.stationary(0.0) {
        Ok((_, _, r)) => {
            let _ = writeln!(s, "  stationary rate for the inputs at t = 0: {} Hz", units::format_number(r));
        }
        Err(e) => {
            let _ = writeln!(s, "  stationary rate: {}", e.message);
        }
    }
    Ok(s)
}

/// An expression as written: a value that only names another value
/// (`diffusion = diffusion`) is shown by that value's expression.
fn written(m: &ir::Model, mut e: ir::ExprId) -> String {
    // a chain of plain renamings is at most as long as the model's values
    for _ in 0..=m.values.len() {
        match m.arena.get(e).map(|n| &n.kind) {
            Some(ir::NodeKind::Var(ir::Var::Value(i))) => e = m.values[*i].expr,
            _ => break,
        }
    }
    ir::print_expr(m, e)
}
