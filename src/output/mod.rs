//! Outputs: what a run records, as tables, streamed to files or kept in
//! memory.
//!
//! Every output of every model kind is a [`Table`]: a name (the file stem:
//! `V`, `spikes`, `rate_E`) and columns, each with the header the CSV file
//! carries (`V_mV`), its display unit and that unit's SI value. The
//! experiment layer opens tables in a [`Sink`] and hands it rows as the run
//! goes, in display units; a sink never holds more than a row's worth of
//! unwritten data unless it keeps results on purpose.
//!
//! - [`files::FileSink`] streams each table to a file in an output folder,
//!   safely: temporary names renamed into place only when complete,
//!   symlinks never followed, and a `run.json` manifest that says what ran,
//!   what was written and whether the run completed.
//! - [`memory::MemorySink`] keeps every table as an array: [`Results`].
//!
//! The text of numbers is fixed here (`Style`), so files written by every
//! back end and every model kind read the same.

pub mod files;
pub mod manifest;
pub mod memory;
mod writer;

pub use files::FileSink;
pub use memory::{MemorySink, ResultTable, Results};

/// File format of every table of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated text with a header row.
    Csv,
    /// NumPy `.npy`: one 2-D array of f64, rows x columns (the header row
    /// is in the manifest).
    Npy,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Npy => "npy",
        }
    }
}

/// How a column's numbers are written as CSV text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// A whole number (a neuron index).
    Index,
    /// Nine decimals, trailing zeros trimmed (times, traces).
    Fixed,
    /// As `Fixed`, but scientific notation for magnitudes below 1e-6 that
    /// would print as 0.
    General,
    /// Always scientific (`1.5e-10`): weights in SI.
    Scientific,
    /// Up to ten decimals, scientific outside [1e-4, 1e7) (as messages
    /// print numbers).
    Short,
    /// The name the value indexes in the column's `labels` (`release`).
    Label,
}

/// One column of a table.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// The header as written in the CSV file: `V_mV`, `t_ms`, `neuron`.
    pub header: String,
    /// Its display unit (`mV`; empty for plain numbers and indices).
    pub unit: String,
    /// The SI value of one display unit (1e-3 for mV): multiply a value by
    /// it to get SI.
    pub scale: f64,
    pub style: Style,
    /// The names a `Label` column's values index.
    pub labels: Vec<String>,
}

impl Column {
    /// A column of `quantity` in `unit`, its header `quantity_unit` (just
    /// `quantity` for plain numbers).
    pub fn new(quantity: &str, unit: &str, scale: f64, style: Style) -> Column {
        Column { header: header(quantity, unit), unit: unit.to_string(), scale, style, labels: vec![] }
    }

    /// Time in ms, the first column of every trace.
    pub fn time() -> Column {
        Column::new("t", "ms", 1e-3, Style::Fixed)
    }

    /// A neuron index.
    pub fn index(name: &str) -> Column {
        Column { header: name.to_string(), unit: String::new(), scale: 1.0, style: Style::Index, labels: vec![] }
    }

    /// A column with its header as given.
    pub fn headed(header: String, unit: &str, scale: f64, style: Style) -> Column {
        Column { header, unit: unit.to_string(), scale, style, labels: vec![] }
    }

    /// Names, stored as indices into `labels`.
    pub fn label(name: &str, labels: Vec<String>) -> Column {
        Column { header: name.to_string(), unit: String::new(), scale: 1.0, style: Style::Label, labels }
    }
}

/// A table's name and columns.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
}

/// The handle of a table opened in a sink.
pub type TableId = usize;

/// Where tables go as they are recorded.
pub trait Sink {
    /// Opens a table; its rows follow.
    fn open(&mut self, table: Table) -> std::io::Result<TableId>;
    /// One row: one value per column, in display units.
    fn row(&mut self, table: TableId, row: &[f64]) -> std::io::Result<()>;
}

/// `uA/cm^2` -> `uA_per_cm2`, for headers and file names.
pub fn header_unit(unit: &str) -> String {
    unit.replace('/', "_per_").replace('^', "").replace('*', "_").replace('µ', "u")
}

/// `V` in `mV` -> `V_mV`; a plain number keeps its name.
pub fn header(name: &str, unit: &str) -> String {
    let u = header_unit(unit);
    if u.is_empty() || u == "1" {
        name.to_string()
    } else {
        format!("{name}_{u}")
    }
}

/// A value of a column as CSV text.
pub fn cell_text(v: f64, column: &Column) -> String {
    match column.style {
        Style::Label => column.labels.get(v as usize).cloned().unwrap_or_else(|| "?".into()),
        s => number_text(v, s),
    }
}

/// Appends a value of a column as CSV text to `out` (what `cell_text`
/// gives, without its allocations for the common fixed-point case).
pub fn push_cell(out: &mut String, v: f64, column: &Column) {
    match column.style {
        Style::Fixed => push_fixed(out, v),
        Style::General if v == 0.0 || v.abs() >= 1e-6 => push_fixed(out, v),
        _ => out.push_str(&cell_text(v, column)),
    }
}

/// Appends `fixed(v)`: from the integer number of nanounits when that
/// is certainly the correctly rounded one, else through `format!`.
fn push_fixed(out: &mut String, v: f64) {
    // below 1e6, v * 1e9 < 1e15 is within 1/16 of the exact product, so
    // a fraction more than 0.1 from one half rounds as the exact one does
    let x = v.abs() * 1e9;
    let small = v.abs() < 1e6; // false for NaN too
    if !small || ((x - x.floor()) - 0.5).abs() < 0.1 {
        out.push_str(&fixed(v));
        return;
    }
    let nano = x.round() as u64;
    if v.is_sign_negative() {
        out.push('-');
    }
    let (whole, mut part) = (nano / 1_000_000_000, nano % 1_000_000_000);
    // the digits right to left: the fraction's without its trailing
    // zeros, the point, the whole part's
    let mut digits = [0u8; 32];
    let mut k = digits.len();
    if part != 0 {
        let mut places = 9;
        while part % 10 == 0 {
            part /= 10;
            places -= 1;
        }
        for _ in 0..places {
            k -= 1;
            digits[k] = b'0' + (part % 10) as u8;
            part /= 10;
        }
        k -= 1;
        digits[k] = b'.';
    }
    let mut w = whole;
    loop {
        k -= 1;
        digits[k] = b'0' + (w % 10) as u8;
        w /= 10;
        if w == 0 {
            break;
        }
    }
    out.extend(digits[k..].iter().map(|&d| d as char));
}

/// A number as CSV text in a style.
pub fn number_text(v: f64, style: Style) -> String {
    match style {
        Style::Index | Style::Label => format!("{}", v as u64),
        Style::Fixed => fixed(v),
        Style::General if v != 0.0 && v.abs() < 1e-6 => format!("{v:e}"),
        Style::General => fixed(v),
        Style::Scientific => format!("{v:e}"),
        Style::Short => crate::units::format_number(v),
    }
}

fn fixed(v: f64) -> String {
    format!("{v:.9}").trim_end_matches('0').trim_end_matches('.').to_string()
}

/// 64-bit FNV-1a: the digest of source files in manifests (to tell whether
/// a model changed since a run, not to resist tampering).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_before() {
        assert_eq!(number_text(-65.0, Style::Fixed), "-65");
        assert_eq!(number_text(0.1234567891, Style::Fixed), "0.123456789");
        assert_eq!(number_text(3e-10, Style::Fixed), "0");
        assert_eq!(number_text(3e-8, Style::General), "3e-8");
        assert_eq!(number_text(12.0, Style::Index), "12");
        assert_eq!(header("V", "mV"), "V_mV");
        assert_eq!(header("I", "uA/cm^2"), "I_uA_per_cm2");
        assert_eq!(header("m", ""), "m");
        assert_eq!(header("m", "1"), "m");
    }

    #[test]
    fn the_fast_fixed_text_is_the_formatted_one() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut values = vec![0.0, -0.0, 1.0, -65.0, 0.5e-9, -0.5e-9, 1.5e-9, 2.5e-9, 1e6, 999_999.999_999_999_5];
        values.extend([f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e300, 3e-10, -3e-10, 0.123_456_789_5]);
        for _ in 0..200_000 {
            let bits = next();
            // numbers of every size, and decimals near a rounding tie
            let scale = 10f64.powi((bits % 24) as i32 - 14);
            values.push((next() as f64 / u64::MAX as f64 - 0.5) * scale);
            values.push(((next() % 2_000_000) as f64 + 0.5) * 1e-9 * if bits & 1 == 0 { 1.0 } else { -1.0 });
        }
        let mut out = String::new();
        for v in values {
            out.clear();
            push_fixed(&mut out, v);
            assert_eq!(out, fixed(v), "{v:e}");
        }
    }
}
