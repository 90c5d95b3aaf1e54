//! One table streamed to one file. CSV rows are written as they come; an
//! NPY array's header holds its shape, which is known only at the end, so
//! its values go to a side file first and `finish` writes the header and
//! copies them after it (the same bytes `ndarray-npy` writes).

use super::{push_cell, Column, Format, Table};
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

pub(crate) struct TableWriter {
    format: Format,
    /// Where the table is being written (a temporary name).
    path: PathBuf,
    out: BufWriter<File>,
    columns: Vec<Column>,
    pub(crate) rows: u64,
    line: String,
}

/// Creates a new file, failing if the name exists: a name that exists in a
/// folder this run just made is a symlink or a file someone raced in, and
/// is never followed or overwritten.
fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

impl TableWriter {
    /// Starts `table` at `path` (which must not exist).
    pub(crate) fn create(path: &Path, table: &Table, format: Format) -> io::Result<TableWriter> {
        let file = match format {
            Format::Csv => create_new(path)?,
            Format::Npy => create_new(&data_path(path))?,
        };
        let mut w = TableWriter {
            format,
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 16, file),
            columns: table.columns.clone(),
            rows: 0,
            line: String::new(),
        };
        if format == Format::Csv {
            let head: Vec<&str> = table.columns.iter().map(|c| c.header.as_str()).collect();
            writeln!(w.out, "{}", head.join(","))?;
        }
        Ok(w)
    }

    pub(crate) fn row(&mut self, row: &[f64]) -> io::Result<()> {
        self.rows += 1;
        match self.format {
            Format::Csv => {
                self.line.clear();
                for (k, (&v, column)) in row.iter().zip(&self.columns).enumerate() {
                    if k > 0 {
                        self.line.push(',');
                    }
                    push_cell(&mut self.line, v, column);
                }
                self.line.push('\n');
                self.out.write_all(self.line.as_bytes())
            }
            Format::Npy => {
                for &v in row.iter().chain(std::iter::repeat(&f64::NAN)).take(self.columns.len()) {
                    self.out.write_all(&v.to_le_bytes())?;
                }
                Ok(())
            }
        }
    }

    /// Completes the file at its temporary path.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        self.out.flush()?;
        if self.format == Format::Npy {
            let data = data_path(&self.path);
            let mut f = BufWriter::new(create_new(&self.path)?);
            f.write_all(&npy_header(self.rows, self.columns.len()))?;
            let mut src = File::open(&data)?;
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = src.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                f.write_all(&buf[..n])?;
            }
            f.flush()?;
            std::fs::remove_file(&data)?;
        }
        Ok(())
    }
}

fn data_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".data");
    PathBuf::from(p)
}

/// The NPY 1.0 header of a C-ordered little-endian f64 array of shape
/// (rows, cols): magic, version, length, the dict padded with spaces and a
/// newline to a multiple of 64 bytes (at least one pad byte).
pub(crate) fn npy_header(rows: u64, cols: usize) -> Vec<u8> {
    let dict = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({rows}, {cols})}}");
    let prefix = 10; // magic (6) + version (2) + header length (2)
    let unpadded = prefix + dict.len() + 1;
    let total = unpadded + (64 - unpadded % 64);
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&((total - prefix) as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.resize(total - 1, b' ');
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn npy_header_is_what_ndarray_npy_writes() {
        for (rows, cols) in [(0usize, 2usize), (11, 2), (123456, 7), (1, 1)] {
            let arr = ndarray::Array2::<f64>::zeros((rows, cols));
            let dir = std::env::temp_dir().join(format!("neuroc-npy-{}-{rows}", std::process::id()));
            ndarray_npy::write_npy(&dir, &arr).expect("write npy"); // ok: a test
            let bytes = std::fs::read(&dir).expect("read npy"); // ok: a test
            let _ = std::fs::remove_file(&dir);
            let h = super::npy_header(rows as u64, cols);
            assert_eq!(&bytes[..h.len()], &h[..], "shape ({rows}, {cols})");
            assert_eq!(bytes.len(), h.len() + rows * cols * 8);
        }
    }
}
