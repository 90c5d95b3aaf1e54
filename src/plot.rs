//! `neuroc plot DIR`: SVG plots of what `run` wrote. `spikes.csv` becomes a
//! raster; a `t_ms` column and one more a line plot; several columns of one
//! quantity (`V_mV@0`, `V_mV@1`, ...) overlaid lines, or, past a dozen (a
//! field's cells), a space-time image; several quantities one plot each
//! (`NAME-COLUMN.svg`); `x, y, value` columns (a sheet) an image; any other
//! two columns (`V_mV,p_per_mV`) a line plot against the first. SVG needs
//! no fonts on the machine: the viewer draws the text. Each plot is also
//! drawn as a PNG (800 x 360, plotters' bitmap back end) with the font the
//! project ships (`assets/fonts/DejaVuSans.ttf`, compiled in), so PNGs
//! come out the same on a machine without fonts. Beside a network's
//! `spikes.csv`, each `rate_P.csv` also gives `raster_rate_P.svg`/`.png`:
//! the raster above the population rate, on one time axis. A square
//! table with named columns (a functional connectivity) is a matrix image;
//! columns headed `Q@NAME=VALUE` (a density's p(V, t)) an image against
//! NAME.

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
                    out.push((csv.with_extension("svg"), space_time(&rows, &quantity(ys[0]), cell_axis(ys))));
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
            [x, y] if !is_matrix(&cols, &rows) => {
                out.push((csv.with_extension("svg"), line_plot(&column(1), &label(x), y)))
            }
            _ if is_matrix(&cols, &rows) => out.push((csv.with_extension("svg"), matrix(&rows))),
            ["pre", "post", "weight", ..] => {
                let (m, n) = connectivity(&rows);
                // the last block of postsynaptic neurons on top, as the axis counts
                let flipped: Vec<Vec<f64>> = m.into_iter().rev().collect();
                let labels = ("presynaptic neuron", "postsynaptic neuron (summed weight)");
                out.push((csv.with_extension("svg"), matrix_in(&flipped, ((0.0, n), (0.0, n)), labels)));
            }
            _ => continue,
        }
        for (file, svg) in out {
            std::fs::write(&file, svg).map_err(|e| format!("cannot write `{}`: {e}", file.display()))?;
            written.push(file);
        }
        // the same figures as PNG
        for (file, fig) in figures(&csv, &cols, &rows) {
            png(&file, &fig)?;
            written.push(file);
        }
    }
    raster_and_rates(dir, &mut written)?;
    if written.is_empty() {
        return Err(format!("no recordings (`t_ms,...` or `neuron,t_ms` CSV files) in `{}`", dir.display()));
    }
    Ok(written)
}

/// A network's spikes above and a population's rate below, on one time
/// axis: `raster_rate_P.svg` and `.png` for each `rate_P.csv` beside a
/// `spikes.csv`.
fn raster_and_rates(dir: &Path, written: &mut Vec<PathBuf>) -> Result<(), String> {
    // two columns: `neuron,t_ms` (spikes) or `t_ms,...` (a rate in time)
    let read = |p: &Path| -> Result<Option<Vec<Vec<f64>>>, String> {
        let Ok(text) = std::fs::read_to_string(p) else { return Ok(None) };
        let mut lines = text.lines();
        let head: Vec<&str> = lines.next().map_or(vec![], |h| h.split(',').collect());
        if head.len() != 2 || !head.contains(&"t_ms") {
            return Ok(None);
        }
        numbers(p, lines, 2).map(Some)
    };
    let Some(spikes) = read(&dir.join("spikes.csv"))? else { return Ok(()) };
    let mut rates: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read `{}`: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "csv")
                && p.file_stem().and_then(|s| s.to_str()).is_some_and(|s| s.starts_with("rate_"))
        })
        .collect();
    rates.sort();
    let dots: Vec<(f64, f64)> = spikes.iter().map(|r| (r[0], r[1])).collect();
    for rate_csv in rates {
        let Some(rate) = read(&rate_csv)? else { continue };
        let pop = rate_csv.file_stem().and_then(|s| s.to_str()).unwrap_or("rate_").trim_start_matches("rate_");
        let line: Vec<(f64, f64)> = rate.iter().map(|r| (r[0], r[1])).collect();
        let x = range(dots.iter().map(|r| r.1).chain(line.iter().map(|r| r.0)).chain([0.0]));
        let ylabel = format!("rate of {pop} (Hz)");
        // SVG: the two panels nested in one figure twice as tall
        let top = raster_in(&dots, x);
        let bottom = line_plot_in(&line, x, "t (ms)", &ylabel);
        let svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{}\">\n{}<g transform=\"translate(0 {H})\">\n{}</g>\n</svg>\n",
            2.0 * H,
            top,
            bottom
        );
        let file = dir.join(format!("raster_rate_{pop}.svg"));
        std::fs::write(&file, svg).map_err(|e| format!("cannot write `{}`: {e}", file.display()))?;
        written.push(file);
        let file = dir.join(format!("raster_rate_{pop}.png"));
        let stride = (dots.len() / 200_000).max(1);
        let upper = Figure {
            x,
            y: range(dots.iter().map(|r| r.0).chain([0.0])),
            xlabel: "t (ms)".into(),
            ylabel: "neuron".into(),
            marks: vec![Mark::Dots(dots.iter().step_by(stride).map(|r| (r.1, r.0)).collect())],
        };
        let lower = Figure {
            x,
            y: range(line.iter().map(|r| r.1).chain([0.0])),
            xlabel: "t (ms)".into(),
            ylabel,
            marks: vec![Mark::Line(line.clone(), 0)],
        };
        png_panels(&file, &[upper, lower])?;
        written.push(file);
    }
    Ok(())
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
    // `NAME_UNIT`, the unit's `/` written `_per_` (`I_amp_uA_per_cm2`):
    // the unit is the last word and the words `per` joins to it
    let words: Vec<&str> = column.split('_').collect();
    let mut at = words.len().saturating_sub(1);
    while at >= 2 && words[at - 1] == "per" {
        at -= 2;
    }
    if at == 0 {
        return column.to_string();
    }
    format!("{} ({})", words[..at].join("_"), words[at..].join("_").replace("_per_", "/"))
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
/// The axis of columns headed `Q@NAME=VALUE` (a density's `p_per_mV@V_mV=-29.9`,
/// evenly spaced): its label and the range the cells cover; `None` for
/// plain cell numbers (`u@0`).
fn cell_axis(ys: &[&str]) -> Option<(String, (f64, f64))> {
    let parse = |c: &str| -> Option<(String, f64)> {
        let (name, value) = c.split_once('@')?.1.split_once('=')?;
        Some((name.to_string(), value.parse().ok()?))
    };
    let first = parse(ys.first()?)?;
    let last = parse(ys.last()?)?;
    let n = ys.len() as f64;
    let half = (last.1 - first.1) / (n - 1.0).max(1.0) / 2.0;
    (first.0 == last.0 && last.1 > first.1).then(|| (label(&first.0), (first.1 - half, last.1 + half)))
}

fn space_time(rows: &[Vec<f64>], quantity: &str, axis: Option<(String, (f64, f64))>) -> String {
    let cells = rows.first().map_or(0, |r| r.len() - 1);
    let t = range(rows.iter().map(|r| r[0]));
    let v = range(rows.iter().flat_map(|r| r[1..].iter().copied()));
    let mut out = String::new();
    let (name, y) = axis.unwrap_or_else(|| ("cell".into(), (0.0, cells as f64)));
    frame(&mut out, t, y, "t (ms)", &format!("{name} ({}: blue low, red high)", label(quantity)));
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

/// A network's synapses (`pre, post, weight, ...`) as a matrix of summed
/// weights, post (rows) by pre (columns), in at most 100 x 100 blocks of
/// neurons; and the number of neurons it spans.
fn connectivity(rows: &[Vec<f64>]) -> (Vec<Vec<f64>>, f64) {
    let n = rows.iter().map(|r| r[0].max(r[1])).fold(0.0f64, f64::max) + 1.0;
    let b = (n as usize).clamp(1, 100);
    let mut m = vec![vec![0.0; b]; b];
    for r in rows {
        let (pre, post) = ((r[0] / n * b as f64) as usize, (r[1] / n * b as f64) as usize);
        if let Some(cell) = m.get_mut(post.min(b - 1)).and_then(|row| row.get_mut(pre.min(b - 1))) {
            *cell += r[2];
        }
    }
    (m, n)
}

/// Whether a table is a square matrix (a functional connectivity: as
/// many rows as columns, headed by names, not a time column).
fn is_matrix(cols: &[&str], rows: &[Vec<f64>]) -> bool {
    cols.len() >= 3 && rows.len() == cols.len() && cols[0] != "t_ms" && !cols[0].starts_with('x')
}

/// A square matrix as an image: row 0 on top, column 0 on the left.
fn matrix(rows: &[Vec<f64>]) -> String {
    let n = rows.len() as f64;
    matrix_in(rows, ((0.0, n), (0.0, n)), ("column", "row (blue low, red high; row 0 on top)"))
}

/// A matrix as an image over the axes' ranges `x` (columns) and `y`
/// (rows, the first on top), with their labels.
fn matrix_in(rows: &[Vec<f64>], (x, y): ((f64, f64), (f64, f64)), (xl, yl): (&str, &str)) -> String {
    let n = rows.len();
    let v = range(rows.iter().flat_map(|r| r.iter().copied()));
    let mut out = String::new();
    frame(&mut out, x, y, xl, yl);
    let cols = rows.first().map_or(1, Vec::len).max(1);
    let (w, h) = ((W - LEFT - RIGHT) / cols as f64, (H - TOP - BOTTOM) / n.max(1) as f64);
    for (i, r) in rows.iter().enumerate() {
        for (j, &x) in r.iter().enumerate() {
            let _ = writeln!(
                out,
                r#"<rect x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="{}"/>"#,
                LEFT + j as f64 * w,
                TOP + i as f64 * h,
                w + 0.3,
                h + 0.3,
                color(x, v)
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
    line_plot_in(rows, range(rows.iter().map(|r| r.0)), xlabel, ylabel)
}

/// [`line_plot`] over the time range `x`.
fn line_plot_in(rows: &[(f64, f64)], x: (f64, f64), xlabel: &str, ylabel: &str) -> String {
    let y = range(rows.iter().map(|r| r.1).chain([0.0]));
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
    raster_in(rows, range(rows.iter().map(|r| r.1).chain([0.0])))
}

/// [`raster`] over the time range `x`.
fn raster_in(rows: &[(f64, f64)], x: (f64, f64)) -> String {
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

/// A figure for the bitmap back end: axes, labels and what is drawn.
struct Figure {
    x: (f64, f64),
    y: (f64, f64),
    xlabel: String,
    ylabel: String,
    marks: Vec<Mark>,
}

enum Mark {
    /// A line through points, in the k-th color.
    Line(Vec<(f64, f64)>, usize),
    /// Dots (a raster).
    Dots(Vec<(f64, f64)>),
    /// Cells of width w and height h (data units) centered at (x, y),
    /// colored by value over `range`.
    Cells { w: f64, h: f64, cells: Vec<(f64, f64, f64)>, range: (f64, f64) },
}

/// The PNG figures of one CSV (the same choices as the SVG ones).
fn figures(csv: &Path, cols: &[&str], rows: &[Vec<f64>]) -> Vec<(PathBuf, Figure)> {
    let stem = csv.with_extension("");
    let line = |k: usize| -> Vec<(f64, f64)> {
        let stride = (rows.len() / 3000).max(1);
        rows.iter().step_by(stride).map(|r| (r[0], r[k])).filter(|p| p.1.is_finite()).collect()
    };
    let fig = |x: (f64, f64), y: (f64, f64), xl: &str, yl: &str, marks: Vec<Mark>| Figure {
        x,
        y,
        xlabel: xl.to_string(),
        ylabel: yl.to_string(),
        marks,
    };
    let xr = || range(rows.iter().map(|r| r[0]));
    let yr = |k: usize| range(rows.iter().map(|r| r[k]));
    let mut out = Vec::new();
    match cols {
        ["neuron", "t_ms"] => {
            let stride = (rows.len() / 200_000).max(1);
            let dots: Vec<(f64, f64)> = rows.iter().step_by(stride).map(|r| (r[1], r[0])).collect();
            let x = range(rows.iter().map(|r| r[1]).chain([0.0]));
            let y = range(rows.iter().map(|r| r[0]).chain([0.0]));
            out.push((csv.with_extension("png"), fig(x, y, "t (ms)", "neuron", vec![Mark::Dots(dots)])));
        }
        ["t_ms", y] => {
            out.push((csv.with_extension("png"), fig(xr(), yr(1), "t (ms)", &label(y), vec![Mark::Line(line(1), 0)])))
        }
        ["t_ms", ys @ ..] if !ys.is_empty() => {
            let quantity = |c: &str| c.split('@').next().unwrap_or(c).to_string();
            let same = ys.iter().all(|c| quantity(c) == quantity(ys[0]));
            let all = range(rows.iter().flat_map(|r| r[1..].iter().copied()));
            if same && ys.len() > 12 {
                let cells = ys.len();
                let (ts, cs) = (rows.len().div_ceil(200).max(1), cells.div_ceil(128).max(1));
                let t = xr();
                let w = (t.1 - t.0) / rows.len().div_ceil(ts).max(1) as f64;
                let (name, y) = cell_axis(ys).unwrap_or_else(|| ("cell".into(), (0.0, cells as f64)));
                let per_cell = (y.1 - y.0) / cells as f64;
                let mut c = Vec::new();
                for r in rows.iter().step_by(ts) {
                    for j in (1..=cells).step_by(cs) {
                        c.push((r[0], y.0 + (j as f64 - 0.5) * per_cell, r[j]));
                    }
                }
                let mark = Mark::Cells { w: w.max(f64::MIN_POSITIVE), h: cs as f64 * per_cell, cells: c, range: all };
                let yl = format!("{name} ({}: blue low, red high)", label(&quantity(ys[0])));
                out.push((csv.with_extension("png"), fig(t, y, "t (ms)", &yl, vec![mark])));
            } else if same {
                let marks = (1..=ys.len()).map(|k| Mark::Line(line(k), k - 1)).collect();
                out.push((csv.with_extension("png"), fig(xr(), all, "t (ms)", &label(&quantity(ys[0])), marks)));
            } else {
                for (k, y) in ys.iter().enumerate() {
                    let file = PathBuf::from(format!("{}-{}.png", stem.display(), y.replace(['/', '@'], "_")));
                    out.push((file, fig(xr(), yr(k + 1), "t (ms)", &label(y), vec![Mark::Line(line(k + 1), 0)])));
                }
            }
        }
        [x, y, v] if x.starts_with('x') && y.starts_with('y') => {
            let distinct = |k: usize| {
                let mut v: Vec<f64> = rows.iter().map(|r| r[k]).filter(|x| x.is_finite()).collect();
                v.sort_by(f64::total_cmp);
                v.dedup();
                v.len().max(1) as f64
            };
            let (xs, ys) = (xr(), yr(1));
            let (w, h) = ((xs.1 - xs.0) / distinct(0), (ys.1 - ys.0) / distinct(1));
            let cells = rows.iter().take(1_000_000).map(|r| (r[0], r[1], r[2])).collect();
            let mark = Mark::Cells { w, h, cells, range: yr(2) };
            let yl = format!("y ({}: blue low, red high)", label(v));
            out.push((csv.with_extension("png"), fig(xs, ys, "x", &yl, vec![mark])));
        }
        [x, y] if !is_matrix(cols, rows) => {
            out.push((csv.with_extension("png"), fig(xr(), yr(1), &label(x), &label(y), vec![Mark::Line(line(1), 0)])))
        }
        ["pre", "post", "weight", ..] => {
            let (m, n) = connectivity(rows);
            let b = m.len();
            let size = n / b as f64;
            let cells = m
                .iter()
                .enumerate()
                .flat_map(|(i, r)| {
                    r.iter().enumerate().map(move |(j, &v)| ((j as f64 + 0.5) * size, (i as f64 + 0.5) * size, v))
                })
                .collect();
            let all = range(m.iter().flat_map(|r| r.iter().copied()));
            let mark = Mark::Cells { w: size, h: size, cells, range: all };
            let yl = "postsynaptic neuron (summed weight)";
            out.push((csv.with_extension("png"), fig((0.0, n), (0.0, n), "presynaptic neuron", yl, vec![mark])));
        }
        _ if is_matrix(cols, rows) => {
            let n = rows.len();
            let cells = rows
                .iter()
                .enumerate()
                .flat_map(|(i, r)| r.iter().enumerate().map(move |(j, &v)| (j as f64 + 0.5, (n - i) as f64 - 0.5, v)))
                .collect();
            let all = range(rows.iter().flat_map(|r| r.iter().copied()));
            let mark = Mark::Cells { w: 1.0, h: 1.0, cells, range: all };
            let yl = "row (blue low, red high; row 0 on top)";
            out.push((csv.with_extension("png"), fig((0.0, n as f64), (0.0, n as f64), "column", yl, vec![mark])));
        }
        _ => {}
    }
    out
}

/// The shipped font, registered with plotters once.
fn font() -> Result<(), String> {
    static DONE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = DONE.get_or_init(|| {
        plotters::style::register_font(
            "sans-serif",
            plotters::style::FontStyle::Normal,
            include_bytes!("../assets/fonts/DejaVuSans.ttf"),
        )
        .is_ok()
    });
    if *ok {
        Ok(())
    } else {
        Err("the shipped font could not be read".into())
    }
}

/// Draws `fig` into the PNG `file`.
fn png(file: &Path, fig: &Figure) -> Result<(), String> {
    png_panels(file, std::slice::from_ref(fig))
}

/// Draws `figs` one above the other into the PNG `file`, each 800 x 360.
fn png_panels(file: &Path, figs: &[Figure]) -> Result<(), String> {
    use plotters::prelude::*;
    font()?;
    let fail = |e: &dyn std::fmt::Display| format!("cannot draw `{}`: {e}", file.display());
    let root = BitMapBackend::new(file, (W as u32, H as u32 * figs.len().max(1) as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    for (area, fig) in root.split_evenly((figs.len().max(1), 1)).iter().zip(figs) {
        draw(area, fig).map_err(|e| fail(&e))?;
    }
    root.present().map_err(|e| fail(&e))?;
    Ok(())
}

/// Draws `fig` on `area`.
fn draw(
    area: &plotters::drawing::DrawingArea<plotters::prelude::BitMapBackend<'_>, plotters::coord::Shift>,
    fig: &Figure,
) -> Result<(), String> {
    use plotters::prelude::*;
    let fail = |e: &dyn std::fmt::Display| e.to_string();
    let palette = [
        RGBColor(70, 130, 180),
        RGBColor(178, 34, 34),
        RGBColor(46, 139, 87),
        RGBColor(255, 140, 0),
        RGBColor(128, 0, 128),
        RGBColor(128, 128, 128),
    ];
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(fig.x.0..fig.x.1, fig.y.0..fig.y.1)
        .map_err(|e| fail(&e))?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(fig.xlabel.as_str())
        .y_desc(fig.ylabel.as_str())
        .x_label_formatter(&|v| format!("{v}"))
        .y_label_formatter(&|v| format!("{v}"))
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 14))
        .draw()
        .map_err(|e| fail(&e))?;
    for mark in &fig.marks {
        match mark {
            Mark::Line(pts, k) => {
                let color = palette[k % palette.len()];
                chart.draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(1))).map_err(|e| fail(&e))?;
            }
            Mark::Dots(pts) => {
                chart.draw_series(pts.iter().map(|&p| Circle::new(p, 1, BLACK.filled()))).map_err(|e| fail(&e))?;
            }
            Mark::Cells { w, h, cells, range } => {
                let shade = |v: f64| {
                    let f = ((v - range.0) / (range.1 - range.0)).clamp(0.0, 1.0);
                    let f = if f.is_finite() { f } else { 0.0 };
                    RGBColor((255.0 * f) as u8, (80.0 * (1.0 - (2.0 * f - 1.0).abs())) as u8, (255.0 * (1.0 - f)) as u8)
                };
                chart
                    .draw_series(cells.iter().map(|&(x, y, v)| {
                        // a little wider than a cell: no seams where pixels round
                        let (hw, hh) = (0.55 * w, 0.55 * h);
                        Rectangle::new([(x - hw, y - hh), (x + hw, y + hh)], shade(v).filled())
                    }))
                    .map_err(|e| fail(&e))?;
            }
        }
    }
    Ok(())
}
