//! `neuroc run` and `explain` for neural fields. A ring writes one file per
//! state, `NAME.csv`: a row per sample, `t_ms` then one column per cell (a
//! space-time plot); a sheet writes `NAME.csv` with the final frame as
//! rows of (x, y, value).

use super::{apply_sets, FormatArg, RunCtx, RunOpts};
use neuroc::diag::{Code, Diagnostic};
use neuroc::field::{self, Stepper};
use neuroc::ir::{self, NodeKind, Ty};
use neuroc::runtime::{output, spikegen};
use neuroc::source::Span;
use neuroc::syntax::ast;
use neuroc::units;

fn stepper(ctx: &mut RunCtx, text: &str, span: Span) -> Option<Stepper> {
    match text {
        "rk4" | "auto" => Some(Stepper::Rk4),
        "euler" => Some(Stepper::Euler),
        _ => {
            ctx.fail(
                Diagnostic::error(Code::UnknownMethod, format!("`{text}` is not a method for a field"))
                    .at(span, "unknown")
                    .help("fields step with `method = rk4` (default) or `method = euler`"),
            );
            None
        }
    }
}

pub(super) fn run(ctx: &mut RunCtx, o: &RunOpts, name: &str, sim: Option<&ast::Simulate>) -> Option<i32> {
    let Some(mut model) = ctx.c.model(name).cloned() else {
        return Some(1);
    };
    let time = units::dims::time();
    let (mut dt, mut duration, mut seed) = (0.5e-3, 0.5, 1u64);
    let mut method = Stepper::Rk4;
    let mut param_overrides = vec![None; model.params.len()];
    let mut value_overrides: Vec<Option<ir::ExprId>> = vec![None; model.values.len()];
    let mut spreads = Vec::new();
    if let Some(s) = sim {
        for b in &s.settings {
            let what = format!("`{}`", b.name.name);
            if let Some(p) = model.param(&b.name.name) {
                let v = ctx.constant(&b.value, model.params[p].dim, &what)?;
                param_overrides[p] =
                    Some(model.arena.add(NodeKind::Const(v), Ty::Num(model.params[p].dim), b.value.span));
                continue;
            }
            if let Some(st) = model.state(&b.name.name).filter(|&i| model.states[i].rhs.is_some()) {
                let dim = model.states[st].dim;
                match ctx.spread(&b.value, dim, &what)? {
                    Some(d) => spreads.push((st, d)),
                    None => {
                        let v = ctx.constant(&b.value, dim, &what)?;
                        spreads.push((st, spikegen::Spread::Linspace(v, v)));
                    }
                }
                continue;
            }
            match b.name.name.as_str() {
                "dt" => dt = ctx.constant(&b.value, time, "`dt`")?,
                "duration" => duration = ctx.constant(&b.value, time, "`duration`")?,
                "seed" => seed = ctx.constant(&b.value, units::Dim::NONE, "`seed`")? as u64,
                "method" => {
                    let text = ctx.c.sources.snippet(b.value.span).trim().to_string();
                    method = stepper(ctx, &text, b.value.span)?;
                }
                other => {
                    return ctx.reject(format!("unknown simulation setting `{other}`"), b.name.span, "not a setting", "field settings: dt, duration, method (rk4, euler), seed, parameters, and states' initial values per cell (`u = uniform(0.29, 0.31)`)");
                }
            }
        }
    }
    if let Some(m) = &o.method {
        let f = ctx.arg_source("--method", m);
        method = stepper(ctx, m, Span::new(f, 0..m.len()))?;
    }
    let root = sim.map_or(model.span, |s| s.span);
    super::time_flags(ctx, o, &mut dt, &mut duration, 1e8, root)?;
    let sample_every = super::sample_steps(ctx, o, dt, duration, ((1e-3 / dt).round() as usize).max(1))?;
    apply_sets(ctx, &mut model, &o.set, &mut param_overrides, &mut value_overrides)?;
    let f = match field::Field::bind(&model, &param_overrides, &value_overrides) {
        Ok(f) => f,
        Err(e) => {
            ctx.fail(e);
            return None;
        }
    };
    let n = f.cells();
    let init_overrides =
        spreads.iter().enumerate().map(|(k, (s, d))| (*s, spikegen::spread(*d, n, seed, k as u64 + 1))).collect();
    let cfg = field::Config { dt, duration, stepper: method, sample_every, init_overrides };
    let start = std::time::Instant::now();
    let trace = match f.simulate(&cfg) {
        Ok(t) => t,
        Err(e) => {
            ctx.fail(e);
            return None;
        }
    };
    let wall = start.elapsed().as_secs_f64();
    let format = match o.format {
        FormatArg::Csv => output::Format::Csv,
        FormatArg::Npy => output::Format::Npy,
    };
    let coords: Vec<(String, ir::UnitHint)> = model
        .field
        .iter()
        .flat_map(|fl| fl.coords.iter())
        .map(|c| {
            let s = &model.states[c.state];
            (s.name.clone(), s.unit.clone().unwrap_or(ir::UnitHint { text: "m".into(), scale: 1.0 }))
        })
        .collect();
    let mut written = 0;
    for (j, &s) in trace.states.iter().enumerate() {
        let st = &model.states[s];
        let (unit_text, scale) = match &st.unit {
            Some(u) if u.scale.is_finite() && u.scale != 0.0 => (u.text.clone(), u.scale),
            _ => units::display_unit(&st.dim),
        };
        let u = output::header_unit(&unit_text);
        let suffix = if u.is_empty() || u == "1" { String::new() } else { format!("_{u}") };
        let result = if f.shape.len() == 1 {
            let (cname, cu) = &coords[0];
            let mut head = vec!["t_ms".to_string()];
            let mut cols: Vec<Vec<f64>> = vec![trace.t.iter().map(|t| t * 1e3).collect()];
            for i in 0..n {
                head.push(format!("{}{suffix}@{cname}={}", st.name, units::format_number(f.center(i)[0] / cu.scale)));
                cols.push(trace.frames.iter().map(|fr| fr[j][i] / scale).collect());
            }
            let refs: Vec<&[f64]> = cols.iter().map(|c| c.as_slice()).collect();
            output::write_table(&o.output, &st.name, &head, &refs, format)
        } else {
            let last = trace.frames.last().map(|fr| fr[j].clone()).unwrap_or_default();
            let mut head = Vec::new();
            let mut cols = Vec::new();
            for (axis, (cname, cu)) in coords.iter().enumerate() {
                head.push(format!("{cname}_{}", output::header_unit(&cu.text)));
                cols.push((0..n).map(|i| f.center(i)[axis] / cu.scale).collect::<Vec<f64>>());
            }
            head.push(format!("{}{suffix}", st.name));
            cols.push(last.iter().map(|v| v / scale).collect());
            let refs: Vec<&[f64]> = cols.iter().map(|c| c.as_slice()).collect();
            output::write_table(&o.output, &st.name, &head, &refs, format)
        };
        if let Err(e) = result {
            eprintln!("error: cannot write to `{}`: {e}", o.output.display());
            return Some(2);
        }
        written += 1;
    }
    let steps = (duration / dt).round() as usize;
    let shape: Vec<String> = f.shape.iter().map(|n| n.to_string()).collect();
    let mut pattern = String::new();
    if let (Some(&s0), Some(fr)) = (trace.states.first(), trace.frames.last()) {
        let first_axis: Vec<f64> = if f.shape.len() == 1 {
            fr[0].clone()
        } else {
            let (n0, stride) = (f.shape[0], n / f.shape[0]);
            (0..n0).map(|i| fr[0][i * stride..(i + 1) * stride].iter().sum::<f64>() / stride as f64).collect()
        };
        let (m, _) = field::dominant_mode(&first_axis);
        pattern = format!("; final `{}` has {m} periods along `{}`", model.states[s0].name, coords[0].0);
        if !f.kernel.is_empty() {
            pattern += &format!(" (the kernel's transform peaks at mode {})", f.critical_mode(0).0);
        }
    }
    println!(
        "{}: {} cells, {} ({} steps, dt = {} ms) in {:.3} s{pattern}; wrote {written} file{} to {}",
        model.name,
        shape.join(" x "),
        if method == Stepper::Rk4 { "rk4" } else { "euler" },
        steps,
        units::format_number(dt * 1e3),
        wall,
        if written == 1 { "" } else { "s" },
        o.output.display()
    );
    Some(0)
}

/// The grid, the kernels' transforms and the critical wavenumber.
pub(super) fn explain(m: &ir::Model) -> String {
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
        let _ = writeln!(s, "  {} = {}", v.name, neuroc::ir::print_expr(m, v.expr));
    }
    for st in m.states.iter().filter(|st| st.rhs.is_some()) {
        let _ = writeln!(s, "  state {}: initially {}", st.name, neuroc::ir::print_expr(m, st.init));
        let _ = writeln!(s, "    d{}/dt = {}", st.name, neuroc::ir::print_expr(m, st.rhs.unwrap_or(st.init)));
    }
    for c in &def.convs {
        let _ = writeln!(
            s,
            "  conv({}, {}) = integral of {}(|x - y|) times the source at y, over the domain",
            def.kernels[c.kernel].0,
            neuroc::ir::print_expr(m, c.source),
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
