//! Writes a [`Recording`](super::Recording): one file per recorded variable
//! (`t_ms,V_mV`) and `spikes.csv` (`neuron,t_ms`), as CSV or NPY. Values are
//! converted from SI to each variable's display unit here, and only here.

use super::Recording;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Npy,
}

/// One recorded column: its name, display unit and SI value of that unit.
pub struct Column<'a> {
    pub name: &'a str,
    pub unit: String,
    pub scale: f64,
    pub samples: &'a [f64],
}

/// `uA/cm^2` -> `uA_per_cm2`, for headers and file names.
pub fn header_unit(unit: &str) -> String {
    unit.replace('/', "_per_").replace('^', "").replace('*', "_").replace('µ', "u")
}

fn header(name: &str, unit: &str) -> String {
    if unit.is_empty() || unit == "1" {
        name.to_string()
    } else {
        format!("{name}_{}", header_unit(unit))
    }
}

/// Writes every column and the spikes into `dir`; returns the files written.
pub fn write(dir: &Path, rec: &Recording, columns: &[Column], format: Format) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for c in columns {
        let file = dir.join(format!("{}.{}", c.name, ext(format)));
        let rows: Vec<[f64; 2]> = rec.t.iter().zip(c.samples).map(|(t, v)| [t * 1e3, v / c.scale]).collect();
        match format {
            Format::Csv => write_csv(&file, &["t_ms".into(), header(c.name, &c.unit)], &rows)?,
            Format::Npy => write_npy(&file, &rows)?,
        }
        written.push(file);
    }
    let spikes: Vec<[f64; 2]> = rec
        .spikes
        .iter()
        .enumerate()
        .map(|(k, t)| [rec.spike_ids.get(k).copied().unwrap_or(0) as f64, t * 1e3])
        .collect();
    let file = dir.join(format!("spikes.{}", ext(format)));
    match format {
        Format::Csv => {
            let mut w = std::io::BufWriter::new(std::fs::File::create(&file)?);
            writeln!(w, "neuron,t_ms")?;
            for [n, t] in &spikes {
                writeln!(w, "{},{}", *n as u64, fmt(*t))?;
            }
            w.flush()?;
        }
        Format::Npy => write_npy(&file, &spikes)?,
    }
    written.push(file);
    Ok(written)
}

/// `outputs.csv`: values events handed on (`release` of a plasticity
/// model), one row per event: `name,t_ms,value`.
pub fn write_outputs(dir: &Path, outputs: &[(String, f64, f64)]) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let file = dir.join("outputs.csv");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&file)?);
    writeln!(w, "name,t_ms,value")?;
    for (name, t, v) in outputs {
        writeln!(w, "{name},{},{}", fmt(t * 1e3), fmt(*v))?;
    }
    w.flush()?;
    Ok(file)
}

fn ext(f: Format) -> &'static str {
    match f {
        Format::Csv => "csv",
        Format::Npy => "npy",
    }
}

fn fmt(v: f64) -> String {
    format!("{v:.9}").trim_end_matches('0').trim_end_matches('.').to_string()
}

fn write_csv(file: &Path, head: &[String], rows: &[[f64; 2]]) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(file)?);
    writeln!(w, "{}", head.join(","))?;
    for [a, b] in rows {
        writeln!(w, "{},{}", fmt(*a), fmt(*b))?;
    }
    w.flush()
}

fn write_npy(file: &Path, rows: &[[f64; 2]]) -> std::io::Result<()> {
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    let arr =
        ndarray::Array2::from_shape_vec((rows.len(), 2), flat).map_err(|e| std::io::Error::other(e.to_string()))?;
    ndarray_npy::write_npy(file, &arr).map_err(|e| std::io::Error::other(e.to_string()))
}

/// A table of equally long columns as `NAME.csv` (with `head` as its
/// header) or `NAME.npy` (rows x columns); values already in display units.
pub fn write_table(
    dir: &Path,
    name: &str,
    head: &[String],
    columns: &[&[f64]],
    format: Format,
) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let file = dir.join(format!("{name}.{}", ext(format)));
    let rows = columns.first().map_or(0, |c| c.len());
    match format {
        Format::Csv => {
            let mut w = std::io::BufWriter::new(std::fs::File::create(&file)?);
            writeln!(w, "{}", head.join(","))?;
            for r in 0..rows {
                let line: Vec<String> = columns.iter().map(|c| fmt_any(c[r])).collect();
                writeln!(w, "{}", line.join(","))?;
            }
            w.flush()?;
        }
        Format::Npy => {
            let flat: Vec<f64> = (0..rows).flat_map(|r| columns.iter().map(move |c| c[r])).collect();
            let arr = ndarray::Array2::from_shape_vec((rows, columns.len()), flat)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            ndarray_npy::write_npy(&file, &arr).map_err(|e| std::io::Error::other(e.to_string()))?;
        }
    }
    Ok(file)
}

/// Nine decimals, or scientific notation for values that would round to 0.
fn fmt_any(v: f64) -> String {
    if v != 0.0 && v.abs() < 1e-6 {
        format!("{v:e}")
    } else {
        fmt(v)
    }
}
