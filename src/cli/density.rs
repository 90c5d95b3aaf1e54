//! `neuroc run` for density models: settings, the solver, and its files
//! (`rate.csv`: t, rate, mean of the variable, refractory fraction;
//! `density.csv`: the final p(V) per cell).

use super::{apply_sets, FormatArg, RunCtx, RunOpts};
use neuroc::density::{self, Initial, Scheme};
use neuroc::diag::{Code, Diagnostic};
use neuroc::ir::{self, NodeKind, Ty};
use neuroc::runtime::output;
use neuroc::source::Span;
use neuroc::syntax::ast;
use neuroc::units;

pub(super) fn run(ctx: &mut RunCtx, o: &RunOpts, name: &str, sim: Option<&ast::Simulate>) -> Option<i32> {
    let Some(mut model) = ctx.c.model(name).cloned() else {
        return Some(1); // errors were reported by compile
    };
    let time = units::dims::time();
    let Some(var_index) = model.density.as_ref().map(|x| x.var) else {
        ctx.fail(
            Diagnostic::internal(format!("density `{name}` lowered without its definition"))
                .at(model.span, "this model"),
        );
        return None;
    };
    let var_dim = model.states[var_index].dim;
    let (mut dt, mut duration) = (0.05e-3, 0.2);
    let mut scheme = Scheme::CrankNicolson;
    let mut initial = Initial::Stationary;
    let mut param_overrides = vec![None; model.params.len()];
    let mut value_overrides: Vec<Option<ir::ExprId>> = vec![None; model.values.len()];
    let scheme_of = |ctx: &mut RunCtx, text: &str, span: Span| -> Option<Scheme> {
        let s = Scheme::parse(text);
        if s.is_none() {
            ctx.fail(
                Diagnostic::error(Code::UnknownMethod, format!("`{text}` is not a time scheme for a density"))
                    .at(span, "unknown")
                    .help(
                        "densities step implicitly: `method = crank_nicolson` (default) or `method = backward_euler`",
                    ),
            );
        }
        s
    };
    if let Some(s) = sim {
        for b in &s.settings {
            if let Some(p) = model.param(&b.name.name) {
                let v = ctx.constant(&b.value, model.params[p].dim, &format!("`{}`", b.name.name))?;
                param_overrides[p] =
                    Some(model.arena.add(NodeKind::Const(v), Ty::Num(model.params[p].dim), b.value.span));
                continue;
            }
            match b.name.name.as_str() {
                "dt" => dt = ctx.constant(&b.value, time, "`dt`")?,
                "duration" => duration = ctx.constant(&b.value, time, "`duration`")?,
                "method" => {
                    let text = ctx.c.sources.snippet(b.value.span).to_string();
                    scheme = scheme_of(ctx, text.trim(), b.value.span)?;
                }
                "initial" => match &b.value.kind {
                    ast::ExprKind::Name(n) if n == "stationary" => initial = Initial::Stationary,
                    _ => {
                        let v = ctx.constant(&b.value, var_dim, "`initial`")?;
                        if !v.is_finite() {
                            return ctx.reject(
                                "`initial` is not a number",
                                b.value.span,
                                "not finite",
                                "`initial = stationary`, or a value of the variable on the grid",
                            );
                        }
                        initial = Initial::At(v);
                    }
                },
                other => {
                    return ctx.reject(format!("unknown simulation setting `{other}`"), b.name.span, "not a setting", "density settings: dt, duration, method (crank_nicolson, backward_euler), initial (`stationary` or a value of the variable), and parameters of the model");
                }
            }
        }
    }
    if let Some(m) = &o.method {
        let f = ctx.arg_source("--method", m);
        scheme = scheme_of(ctx, m, Span::new(f, 0..m.len()))?;
    }
    let root = sim.map_or(model.span, |s| s.span);
    super::time_flags(ctx, o, &mut dt, &mut duration, 1e9, root)?;
    let sample_every = super::sample_steps(ctx, o, dt, duration, ((1e-3 / dt).round() as usize).max(1))?;
    apply_sets(ctx, &mut model, &o.set, &mut param_overrides, &mut value_overrides)?;
    let d = match density::Density::bind(&model, &param_overrides, &value_overrides) {
        Ok(d) => d,
        Err(e) => {
            ctx.fail(e);
            return None;
        }
    };
    if let Initial::At(v) = initial {
        if !(v >= d.lo && v <= d.threshold) {
            let span = sim.map_or(model.span, |s| s.span);
            return ctx.reject(
                "`initial` lies outside the grid",
                span,
                "these settings",
                "start the population between the grid's lower edge and the threshold",
            );
        }
    }
    let cfg = density::Config { dt, duration, scheme, initial, sample_every, progress: !o.quiet };
    let start = std::time::Instant::now();
    let trace = match d.simulate(&cfg) {
        Ok(t) => t,
        Err(e) => {
            ctx.fail(e);
            return None;
        }
    };
    let wall = start.elapsed().as_secs_f64();
    let steps = (duration / dt).round() as usize;
    let grid = trace.grid.clone().unwrap_or_else(|| d.grid());
    let unit = model.states[var_index].unit.clone().unwrap_or_else(|| {
        let (text, scale) = units::display_unit(&var_dim);
        ir::UnitHint { text, scale }
    });
    let u = output::header_unit(&unit.text);
    let format = match o.format {
        FormatArg::Csv => output::Format::Csv,
        FormatArg::Npy => output::Format::Npy,
    };
    let t_ms: Vec<f64> = trace.t.iter().map(|t| t * 1e3).collect();
    let mean: Vec<f64> = trace.mean.iter().map(|v| v / unit.scale).collect();
    let out_name = model.density.as_ref().map_or("rate", |x| x.output.as_str()).to_string();
    let var = model.states[var_index].name.clone();
    let centers: Vec<f64> = (0..grid.cells()).map(|i| grid.center(i) / unit.scale).collect();
    let p: Vec<f64> = trace.final_p.iter().map(|p| p * unit.scale).collect();
    let mut head =
        vec!["t_ms".into(), format!("{out_name}_Hz"), format!("mean_{var}_{u}"), "refractory_fraction".into()];
    let mut cols: Vec<Vec<f64>> = vec![t_ms, trace.rate.clone(), mean, trace.refractory.clone()];
    // the ODE states beside the density, in their units
    for (name, vals) in &trace.states {
        let Some(st) = model.states.iter().find(|s| &s.name == name) else { continue };
        let (text, scale) = match &st.unit {
            Some(u) if u.scale.is_finite() && u.scale != 0.0 => (u.text.clone(), u.scale),
            _ => units::display_unit(&st.dim),
        };
        let hu = output::header_unit(&text);
        head.push(if hu.is_empty() || hu == "1" { name.clone() } else { format!("{name}_{hu}") });
        cols.push(vals.iter().map(|v| v / scale).collect());
    }
    let refs: Vec<&[f64]> = cols.iter().map(|c| c.as_slice()).collect();
    let written = output::write_table(&o.output, &out_name, &head, &refs, format).and_then(|a| {
        let b = output::write_table(
            &o.output,
            "density",
            &[format!("{var}_{u}"), format!("p_per_{u}")],
            &[&centers, &p],
            format,
        )?;
        Ok([a, b])
    });
    if let Err(e) = written {
        eprintln!("error: cannot write to `{}`: {e}", o.output.display());
        return Some(2);
    }
    let last = trace.rate.last().copied().unwrap_or(f64::NAN);
    println!(
        "{}: {} cells, {} (dt = {} ms, {} steps) in {:.3} s ({:.2} us per step); rate {} Hz at the end{}; mass conserved to {:.1e}; wrote {out_name}.{ext} and density.{ext} to {}",
        model.name,
        grid.cells(),
        scheme.name(),
        units::format_number(dt * 1e3),
        steps,
        wall,
        wall / steps.max(1) as f64 * 1e6,
        units::format_number(last),
        trace.initial_rate.map_or(String::new(), |r| format!(" (stationary start: {} Hz)", units::format_number(r))),
        trace.mass_error,
        o.output.display(),
        ext = if matches!(format, output::Format::Csv) { "csv" } else { "npy" },
    );
    Some(0)
}

/// `neuroc explain` for a density: the grid, the flux discretization, the
/// Péclet numbers and the first rows of the operator, the stationary rate.
#[allow(clippy::result_large_err)]
pub(super) fn explain(m: &ir::Model) -> Result<String, Diagnostic> {
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
        let _ = writeln!(s, "  drift = {}", ir::print_expr(m, def.drift));
        let _ = writeln!(s, "  diffusion = {}", ir::print_expr(m, def.diffusion));
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
