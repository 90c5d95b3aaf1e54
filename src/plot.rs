//! `neuroc plot DIR`: SVG plots of what `run` wrote. `spikes.csv` becomes a
//! raster; a `t_ms` column and one more a line plot; several columns of one
//! quantity (`V_mV@0`, `V_mV@1`, ...) overlaid lines, or, past a dozen (a
//! field's cells), a space-time image; several quantities one plot each
//! (`NAME-COLUMN.svg`); `x, y, value` columns (a sheet) an image; any other
//! two columns (`V_mV,p_per_mV`) a line plot against the first. SVG needs
//! no fonts on the machine: the viewer draws the text.

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
        let rows = numbers(&csv, lines, cols.len())?;
        let column = |k: usize| -> Vec<(f64, f64)> { rows.iter().map(|r| (r[0], r[k])).collect() };
        let stem = csv.with_extension("");
        let mut out: Vec<(PathBuf, String)> = Vec::new();
        match cols.as_slice() {
            ["neuron", "t_ms"] => out.push((csv.with_extension("svg"), raster(&column(1)))),
            ["t_ms", y] => out.push((csv.with_extension("svg"), line_plot(&column(1), "t (ms)", y))),
            ["t_ms", ys @ ..] if !ys.is_empty() => {
                let quantity = |c: &str| c.split('@').next().unwrap_or(c).to_string();
                let same = ys.iter().all(|c| quantity(c) == quantity(ys[0]));
                if same && ys.len() > 12 {
                    out.push((csv.with_extension("svg"), space_time(&rows, &quantity(ys[0]))));
                } else if same {
                    out.push((csv.with_extension("svg"), lines_plot(&rows, &quantity(ys[0]))));
                } else {
                    for (k, y) in ys.iter().enumerate() {
                        let file = PathBuf::from(format!("{}-{}.svg", stem.display(), y.replace(['/', '@'], "_")));
                        out.push((file, line_plot(&column(k + 1), "t (ms)", y)));
                    }
                }
            }
            [x, y, v] if x.starts_with('x') && y.starts_with('y') => {
                out.push((csv.with_extension("svg"), sheet(&rows, v)))
            }
            [x, y] => out.push((csv.with_extension("svg"), line_plot(&column(1), &label(x), y))),
            _ => continue,
        }
        for (file, svg) in out {
            std::fs::write(&file, svg).map_err(|e| format!("cannot write `{}`: {e}", file.display()))?;
            written.push(file);
        }
    }
    if written.is_empty() {
        return Err(format!("no recordings (`t_ms,...` or `neuron,t_ms` CSV files) in `{}`", dir.display()));
    }
    Ok(written)
}

/// The rows of a table, each `width` numbers; a row that is not is an
/// error naming the file and line (a plot of a damaged file would mislead).
fn numbers<'a>(csv: &Path, lines: impl Iterator<Item = &'a str>, width: usize) -> Result<Vec<Vec<f64>>, String> {
    let mut rows = Vec::new();
    for (k, l) in lines.enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        let row: Option<Vec<f64>> = l.split(',').map(|x| x.trim().parse().ok()).collect();
        match row {
            Some(r) if r.len() == width => rows.push(r),
            _ => {
                let shown = l.chars().take(60).collect::<String>().escape_debug().to_string();
                return Err(format!(
                    "`{}` line {}: `{shown}` is not {width} comma-separated numbers; it is not a table `run` wrote",
                    csv.display(),
                    k + 2
                ));
            }
        }
    }
    Ok(rows)
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
            crate::units::format_number(v)
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
            crate::units::format_number(v)
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

/// `V_mV` -> `V (mV)`, `p_per_mV` -> `p (1/mV)`.
fn label(column: &str) -> String {
    if let Some(unit) = column.strip_prefix("p_per_") {
        return format!("p (1/{unit})");
    }
    match column.split_once('_') {
        Some((name, unit)) if !unit.is_empty() => format!("{name} ({})", unit.replace("_per_", "/")),
        _ => column.to_string(),
    }
}

const COLORS: [&str; 6] = ["steelblue", "firebrick", "seagreen", "darkorange", "purple", "gray"];

/// Several columns of one quantity against t, overlaid.
fn lines_plot(rows: &[Vec<f64>], ylabel: &str) -> String {
    let x = range(rows.iter().map(|r| r[0]));
    let y = range(rows.iter().flat_map(|r| r[1..].iter().copied()));
    let mut out = String::new();
    frame(&mut out, x, y, "t (ms)", &label(ylabel));
    let stride = (rows.len() / 3000).max(1);
    let ncols = rows.first().map_or(1, |r| r.len());
    for k in 1..ncols {
        let mut pts = String::new();
        for r in rows.iter().step_by(stride).filter(|r| r[k].is_finite()) {
            let _ = write!(pts, "{:.1},{:.1} ", map(r[0], x, LEFT, W - RIGHT), map(r[k], y, H - BOTTOM, TOP));
        }
        let color = COLORS[(k - 1) % COLORS.len()];
        let _ = writeln!(out, r#"<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="1"/>"#);
    }
    out.push_str("</svg>\n");
    out
}

/// Blue (low) to red (high).
fn color(v: f64, r: (f64, f64)) -> String {
    let f = ((v - r.0) / (r.1 - r.0)).clamp(0.0, 1.0);
    format!("rgb({},{},{})", (255.0 * f) as u8, (80.0 * (1.0 - (2.0 * f - 1.0).abs())) as u8, (255.0 * (1.0 - f)) as u8)
}

/// A field on a ring over time: t across, the cell up, the value as color
/// (at most 200 times and 128 cells drawn).
fn space_time(rows: &[Vec<f64>], quantity: &str) -> String {
    let cells = rows.first().map_or(0, |r| r.len() - 1);
    let t = range(rows.iter().map(|r| r[0]));
    let v = range(rows.iter().flat_map(|r| r[1..].iter().copied()));
    let mut out = String::new();
    frame(&mut out, t, (0.0, cells as f64), "t (ms)", &format!("cell ({}: blue low, red high)", label(quantity)));
    let (ts, cs) = (rows.len().div_ceil(200).max(1), cells.div_ceil(128).max(1));
    let (w, h) = ((W - LEFT - RIGHT) / rows.len().div_ceil(ts) as f64, (H - TOP - BOTTOM) / cells.div_ceil(cs) as f64);
    for (i, r) in rows.iter().step_by(ts).enumerate() {
        for (j, c) in (1..=cells).step_by(cs).enumerate() {
            let _ = writeln!(
                out,
                r#"<rect x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="{}"/>"#,
                LEFT + i as f64 * w,
                H - BOTTOM - (j + 1) as f64 * h,
                w + 0.3,
                h + 0.3,
                color(r[c], v)
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

/// A sheet's final frame: rows `x, y, value`.
fn sheet(rows: &[Vec<f64>], quantity: &str) -> String {
    let x = range(rows.iter().map(|r| r[0]));
    let y = range(rows.iter().map(|r| r[1]));
    let v = range(rows.iter().map(|r| r[2]));
    // cells along each axis: the distinct coordinates
    let distinct = |k: usize| {
        let mut v: Vec<f64> = rows.iter().map(|r| r[k]).filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        v.dedup();
        v.len().max(1) as f64
    };
    let (w, h) = ((W - LEFT - RIGHT) / distinct(0), (H - TOP - BOTTOM) / distinct(1));
    let mut out = String::new();
    frame(&mut out, x, y, "x", &format!("y ({}: blue low, red high)", label(quantity)));
    for r in rows.iter().take(1_000_000) {
        let _ = writeln!(
            out,
            r#"<rect x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="{}"/>"#,
            map(r[0], x, LEFT, W - RIGHT) - w / 2.0,
            map(r[1], y, H - BOTTOM, TOP) - h / 2.0,
            w + 0.3,
            h + 0.3,
            color(r[2], v)
        );
    }
    out.push_str("</svg>\n");
    out
}

fn line_plot(rows: &[(f64, f64)], xlabel: &str, ylabel: &str) -> String {
    let x = range(rows.iter().map(|r| r.0));
    let y = range(rows.iter().map(|r| r.1));
    let mut out = String::new();
    frame(&mut out, x, y, xlabel, &label(ylabel));
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
