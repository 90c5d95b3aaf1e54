//! `neuroc plot DIR`: SVG plots of what `run` wrote. Each `NAME.csv` with a
//! `t_ms` column becomes `NAME.svg` (a line plot); `spikes.csv` becomes
//! `spikes.svg` (a raster). SVG needs no fonts on the machine: the viewer
//! draws the text.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const W: f64 = 800.0;
const H: f64 = 360.0;
const LEFT: f64 = 84.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 50.0;

/// Plots every recording in `dir`; returns the files written.
pub fn plot_dir(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read `{}`: {e}", dir.display()))?;
    let mut csvs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    csvs.sort();
    let mut written = Vec::new();
    for csv in csvs {
        let text = std::fs::read_to_string(&csv).map_err(|e| format!("cannot read `{}`: {e}", csv.display()))?;
        let mut lines = text.lines();
        let Some(header) = lines.next() else { continue };
        let cols: Vec<&str> = header.split(',').collect();
        let rows: Vec<(f64, f64)> = lines
            .filter_map(|l| {
                let mut it = l.split(',');
                Some((it.next()?.trim().parse().ok()?, it.next()?.trim().parse().ok()?))
            })
            .collect();
        let svg = match cols.as_slice() {
            ["neuron", "t_ms"] => raster(&rows),
            ["t_ms", y] => line_plot(&rows, y),
            _ => continue,
        };
        let out = csv.with_extension("svg");
        std::fs::write(&out, svg).map_err(|e| format!("cannot write `{}`: {e}", out.display()))?;
        written.push(out);
    }
    if written.is_empty() {
        return Err(format!("no recordings (`t_ms,...` or `neuron,t_ms` CSV files) in `{}`", dir.display()));
    }
    Ok(written)
}

fn range(xs: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) =
        xs.filter(|x| x.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 * (1.0 + lo.abs()) {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}

fn frame(out: &mut String, x: (f64, f64), y: (f64, f64), xlabel: &str, ylabel: &str) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<rect x="{LEFT}" y="{TOP}" width="{}" height="{}" fill="none" stroke="black"/>
"#,
        W - LEFT - RIGHT,
        H - TOP - BOTTOM
    );
    for v in ticks(x) {
        let px = map(v, x, LEFT, W - RIGHT);
        let _ = writeln!(
            out,
            r#"<line x1="{px:.1}" y1="{:.1}" x2="{px:.1}" y2="{:.1}" stroke="black"/><text x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            H - BOTTOM,
            H - BOTTOM + 4.0,
            H - BOTTOM + 17.0,
            neuroc::units::format_number(v)
        );
    }
    for v in ticks(y) {
        let py = map(v, y, H - BOTTOM, TOP);
        let _ = writeln!(
            out,
            r#"<line x1="{:.1}" y1="{py:.1}" x2="{LEFT}" y2="{py:.1}" stroke="black"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 4.0,
            LEFT - 6.0,
            py + 4.0,
            neuroc::units::format_number(v)
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{xlabel}</text><text x="16" y="{:.1}" text-anchor="middle" transform="rotate(-90 16 {:.1})">{ylabel}</text>"#,
        LEFT + (W - LEFT - RIGHT) / 2.0,
        H - 12.0,
        TOP + (H - TOP - BOTTOM) / 2.0,
        TOP + (H - TOP - BOTTOM) / 2.0
    );
}

/// Round tick values (1, 2 or 5 times a power of ten apart) inside a range.
fn ticks(r: (f64, f64)) -> Vec<f64> {
    let span = r.1 - r.0;
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    let first = (r.0 / step).ceil() * step;
    (0..12)
        .map(|k| first + k as f64 * step)
        .take_while(|v| *v <= r.1 + 1e-9 * span)
        .map(|v| if v.abs() < 1e-12 * step { 0.0 } else { v })
        .collect()
}

fn map(v: f64, r: (f64, f64), lo: f64, hi: f64) -> f64 {
    lo + (v - r.0) / (r.1 - r.0) * (hi - lo)
}

fn line_plot(rows: &[(f64, f64)], ylabel: &str) -> String {
    let x = range(rows.iter().map(|r| r.0));
    let y = range(rows.iter().map(|r| r.1));
    let mut out = String::new();
    let ylabel = match ylabel.split_once('_') {
        Some((name, unit)) if !unit.is_empty() => format!("{name} ({})", unit.replace("_per_", "/")),
        _ => ylabel.to_string(),
    };
    frame(&mut out, x, y, "t (ms)", &ylabel);
    // at most ~4 points per pixel column
    let stride = (rows.len() / 3000).max(1);
    let mut pts = String::new();
    for r in rows.iter().step_by(stride).filter(|r| r.1.is_finite()) {
        let _ = write!(pts, "{:.1},{:.1} ", map(r.0, x, LEFT, W - RIGHT), map(r.1, y, H - BOTTOM, TOP));
    }
    let _ = writeln!(out, r#"<polyline points="{pts}" fill="none" stroke="steelblue" stroke-width="1.2"/>"#);
    out.push_str("</svg>\n");
    out
}

fn raster(rows: &[(f64, f64)]) -> String {
    let x = range(rows.iter().map(|r| r.1).chain([0.0]));
    let y = range(rows.iter().map(|r| r.0).chain([0.0]));
    let mut out = String::new();
    frame(&mut out, x, y, "t (ms)", "neuron");
    let stride = (rows.len() / 200_000).max(1);
    for r in rows.iter().step_by(stride) {
        let _ = writeln!(
            out,
            r#"<rect x="{:.1}" y="{:.1}" width="1.2" height="1.2" fill="black"/>"#,
            map(r.1, x, LEFT, W - RIGHT),
            map(r.0, y, H - BOTTOM, TOP)
        );
    }
    out.push_str("</svg>\n");
    out
}
