//! Tables streamed to an output folder, safely.
//!
//! A run writes every table into a fresh hidden folder inside the output
//! folder (`.neuroc-partial-PID-N`), so a file in the output folder is
//! either from the previous run, complete, or from this one, complete:
//! never half-written. The protocol:
//!
//! 1. `begin`: read the previous manifest (only its list of files is
//!    used), remove partial folders of runs whose process is gone, make
//!    this run's partial folder, and write `run.json` marked `running`.
//! 2. Tables are created in the partial folder with `create_new` (an
//!    existing name, such as a symlink, is an error, never followed) and
//!    streamed there.
//! 3. `finish`: complete each file, rename it into the output folder (a
//!    rename replaces a symlink at the destination; it does not write
//!    through it), remove the files the previous manifest listed that this
//!    run did not write again (a symlink is removed, not its target; other
//!    files are never touched), and write `run.json` with the status and
//!    the files. `abandon` (a write failed) removes the partial folder and
//!    leaves the previous files in place, with `run.json` marked `failed`.
//!
//! `run.json` itself is replaced by a rename, so it is always whole.
//! Killed by a signal that cannot be caught, a run leaves the previous
//! files, its partial folder (removed by the next run) and `run.json`
//! marked `running` with a pid that no longer exists.

use super::manifest::{self, Status};
use super::writer::TableWriter;
use super::{Format, Sink, Table, TableId};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

/// Streams tables into an output folder.
pub struct FileSink {
    dir: PathBuf,
    partial: PathBuf,
    format: Format,
    tables: Vec<Entry>,
    /// The tables' names, so that opening one is not a search of the others.
    names: HashSet<String>,
    previous: Vec<String>,
    run: Value,
    started: String,
}

/// A table, its writer while it is open, and its rows so far.
struct Entry {
    table: Table,
    writer: Option<TableWriter>,
    rows: u64,
}

const PARTIAL: &str = ".neuroc-partial-";

impl FileSink {
    /// Prepares `dir` for a run described by `run` (the manifest's `run`
    /// object) and marks it running.
    pub fn begin(dir: &Path, format: Format, run: Value) -> io::Result<FileSink> {
        std::fs::create_dir_all(dir)?;
        let previous = manifest::listed_files(dir);
        remove_stale_partials(dir);
        static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let partial = dir.join(format!("{PARTIAL}{}-{n}", std::process::id()));
        if std::fs::symlink_metadata(&partial).is_ok() {
            remove_entry(&partial)?;
        }
        std::fs::create_dir(&partial)?;
        let sink = FileSink {
            dir: dir.to_path_buf(),
            partial,
            format,
            tables: Vec::new(),
            names: HashSet::new(),
            previous,
            run,
            started: manifest::now_utc(),
        };
        sink.write_manifest(manifest::document(&sink.run, Status::Running, &sink.started, None, None))?;
        Ok(sink)
    }

    /// The output folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `NAME.csv`; a name too long for a file system (over 120 bytes) is
    /// cut at 100 and told apart by a hash of the whole (`run.json` maps
    /// tables to files).
    fn file_name(&self, table: &Table) -> String {
        let name = &table.name;
        if name.len() <= 120 {
            return format!("{name}.{}", self.format.extension());
        }
        let cut = (0..=100).rev().find(|&i| name.is_char_boundary(i)).unwrap_or(0);
        // FNV-1a: stable across runs and platforms
        let hash = name.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3));
        format!("{}-{hash:016x}.{}", &name[..cut], self.format.extension())
    }

    /// Completes every table, moves them into the folder, removes the
    /// previous run's files that were not written again, and records how
    /// the run ended (`t_reached` in seconds). Returns the files written.
    pub fn finish(mut self, status: Status, t_reached: f64, error: Option<&str>) -> io::Result<Vec<PathBuf>> {
        let result = self.commit();
        let (written, error) = match &result {
            Ok(w) => (w.clone(), error.map(str::to_string)),
            Err((w, e)) => (w.clone(), Some(format!("writing the files failed: {e}"))),
        };
        let status = if result.is_err() { Status::Failed } else { status };
        let end = manifest::now_utc();
        let mut doc =
            manifest::document(&self.run, status, &self.started, Some((&end, t_reached * 1e3)), error.as_deref());
        // a set: a run of 10,000 tables compared each with every file
        let written_names: HashSet<&std::ffi::OsStr> = written.iter().filter_map(|p| p.file_name()).collect();
        let files: Vec<Value> = self
            .tables
            .iter()
            .filter(|e| written_names.contains(std::ffi::OsStr::new(&self.file_name(&e.table))))
            .map(|e| {
                json!({
                    "name": self.file_name(&e.table),
                    "rows": e.rows,
                    "columns": e.table.columns.iter().map(|c| c.header.clone()).collect::<Vec<_>>(),
                    "units": e.table.columns.iter().map(|c| c.unit.clone()).collect::<Vec<_>>(),
                })
            })
            .collect();
        doc.insert("files".into(), Value::Array(files));
        let _ = std::fs::remove_dir_all(&self.partial);
        self.write_manifest(doc)?;
        match result {
            Ok(w) => Ok(w),
            Err((_, e)) => Err(e),
        }
    }

    /// Completes and renames every table, then removes what the previous
    /// run wrote and this one did not; on an error, the files already
    /// moved and the error.
    fn commit(&mut self) -> Result<Vec<PathBuf>, (Vec<PathBuf>, io::Error)> {
        let mut done = Vec::new();
        for k in 0..self.tables.len() {
            let name = self.file_name(&self.tables[k].table);
            let Some(w) = self.tables[k].writer.take() else { continue };
            let (from, to) = (self.partial.join(&name), self.dir.join(&name));
            if let Err(e) = w.finish().and_then(|_| std::fs::rename(&from, &to)) {
                return Err((done, e));
            }
            done.push(to);
        }
        let written: HashSet<&PathBuf> = done.iter().collect();
        for old in std::mem::take(&mut self.previous) {
            let path = self.dir.join(&old);
            if written.contains(&path) {
                continue;
            }
            if let Ok(meta) = std::fs::symlink_metadata(&path) {
                if meta.is_file() || meta.file_type().is_symlink() {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        Ok(done)
    }

    /// A write failed: the partial files go, the previous files stay, and
    /// `run.json` says what failed.
    pub fn abandon(self, error: &str) {
        let _ = std::fs::remove_dir_all(&self.partial);
        let end = manifest::now_utc();
        let mut doc = manifest::document(&self.run, Status::Failed, &self.started, Some((&end, 0.0)), Some(error));
        doc.insert("t_reached_ms".into(), Value::Null);
        let kept: Vec<Value> = self.previous.iter().map(|n| json!(n)).collect();
        doc.insert("files".into(), Value::Array(vec![]));
        doc.insert("kept_from_previous_run".into(), Value::Array(kept));
        let _ = self.write_manifest(doc);
    }

    /// Replaces `run.json` whole: written under a temporary name, then
    /// renamed over the old one.
    fn write_manifest(&self, doc: serde_json::Map<String, Value>) -> io::Result<()> {
        let tmp = self.partial.with_extension("json");
        if std::fs::symlink_metadata(&tmp).is_ok() {
            remove_entry(&tmp)?;
        }
        let text = serde_json::to_string_pretty(&Value::Object(doc)).map_err(io::Error::other)?;
        {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.write_all(b"\n")?;
        }
        std::fs::rename(&tmp, self.dir.join(manifest::NAME))
    }
}

impl Sink for FileSink {
    fn open(&mut self, table: Table) -> io::Result<TableId> {
        if !manifest::plain_name(&table.name) || table.name == "run" {
            return Err(io::Error::other(format!("`{}` cannot name an output file", table.name)));
        }
        if self.names.contains(&table.name) {
            return Err(io::Error::other(format!("two outputs named `{}`", table.name)));
        }
        let path = self.partial.join(self.file_name(&table));
        let w = TableWriter::create(&path, &table, self.format)?;
        self.names.insert(table.name.clone());
        self.tables.push(Entry { table, writer: Some(w), rows: 0 });
        Ok(self.tables.len() - 1)
    }

    fn row(&mut self, table: TableId, row: &[f64]) -> io::Result<()> {
        match self.tables.get_mut(table) {
            Some(Entry { writer: Some(w), rows, .. }) => {
                *rows += 1;
                w.row(row)
            }
            _ => Err(io::Error::other("a row for a table that is not open")),
        }
    }
}

/// Removes a file, a symlink (not its target) or a folder of ours.
fn remove_entry(path: &Path) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    }
}

/// Partial folders (and manifest drafts) left by runs whose process no
/// longer exists. Where process ids cannot be checked (no `/proc`), they
/// are left alone.
fn remove_stale_partials(dir: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(rest) = name.strip_prefix(PARTIAL) else { continue };
        let pid = rest.split(['-', '.']).next().and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| p != std::process::id() && !Path::new(&format!("/proc/{p}")).exists()) {
            let _ = remove_entry(&e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    // ok: the unwraps here are a test's
    use super::*;
    use crate::output::{Column, Style};

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("neuroc-files-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn table(name: &str) -> Table {
        Table { name: name.into(), columns: vec![Column::time(), Column::new("V", "mV", 1e-3, Style::Fixed)] }
    }

    fn write_run(dir: &Path, names: &[&str], rows: usize) -> Vec<PathBuf> {
        let mut s = FileSink::begin(dir, Format::Csv, json!({"model": "M"})).unwrap();
        for n in names {
            let t = s.open(table(n)).unwrap();
            for r in 0..rows {
                s.row(t, &[r as f64, -65.0]).unwrap();
            }
        }
        s.finish(Status::Completed, 1.0, None).unwrap()
    }

    #[test]
    fn a_second_run_replaces_its_files_and_removes_the_stale_ones_only() {
        let dir = tmp("stale");
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        write_run(&dir, &["V", "w"], 3);
        assert!(dir.join("w.csv").exists());
        write_run(&dir, &["V"], 5);
        assert!(!dir.join("w.csv").exists(), "a file of the previous run's manifest is removed");
        assert_eq!(std::fs::read_to_string(dir.join("notes.txt")).unwrap(), "mine", "other files are untouched");
        assert_eq!(std::fs::read_to_string(dir.join("V.csv")).unwrap().lines().count(), 6);
        let m = manifest::read(&dir).unwrap();
        assert_eq!(m["status"], "completed");
        assert_eq!(m["files"][0]["name"], "V.csv");
        assert_eq!(m["files"][0]["rows"], 5);
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(left.len(), 3, "V.csv, notes.txt, run.json: {left:?}");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_in_the_folder_is_replaced_not_followed() {
        let dir = tmp("symlink");
        let outside = tmp("symlink-target").join("precious.txt");
        std::fs::write(&outside, "keep me").unwrap();
        std::os::unix::fs::symlink(&outside, dir.join("V.csv")).unwrap();
        std::os::unix::fs::symlink(&outside, dir.join("run.json")).unwrap();
        write_run(&dir, &["V"], 2);
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep me");
        assert!(!std::fs::symlink_metadata(dir.join("V.csv")).unwrap().file_type().is_symlink());
        assert!(std::fs::read_to_string(dir.join("V.csv")).unwrap().starts_with("t_ms,V_mV"));
    }

    #[test]
    fn an_abandoned_run_keeps_the_previous_files_and_says_it_failed() {
        let dir = tmp("abandon");
        write_run(&dir, &["V"], 4);
        let before = std::fs::read(dir.join("V.csv")).unwrap();
        let mut s = FileSink::begin(&dir, Format::Csv, json!({"model": "M"})).unwrap();
        let t = s.open(table("V")).unwrap();
        s.row(t, &[0.0, 1.0]).unwrap();
        s.abandon("disk full");
        assert_eq!(std::fs::read(dir.join("V.csv")).unwrap(), before);
        let m = manifest::read(&dir).unwrap();
        assert_eq!(m["status"], "failed");
        assert_eq!(m["error"], "disk full");
        assert_eq!(m["kept_from_previous_run"][0], "V.csv");
        assert!(std::fs::read_dir(&dir).unwrap().flatten().all(|e| !e.file_name().to_string_lossy().starts_with('.')));
    }

    #[test]
    fn a_manifest_cannot_make_a_run_remove_files_elsewhere() {
        let dir = tmp("escape");
        let outside = tmp("escape-target").join("x.csv");
        std::fs::write(&outside, "keep").unwrap();
        let evil = json!({"files": [{"name": "../neuroc-files-escape-target/x.csv"}, {"name": outside.display().to_string()}]});
        std::fs::write(dir.join("run.json"), evil.to_string()).unwrap();
        write_run(&dir, &["V"], 1);
        assert!(outside.exists());
    }

    #[test]
    fn npy_tables_stream_through_a_side_file() {
        let dir = tmp("npy");
        let mut s = FileSink::begin(&dir, Format::Npy, json!({})).unwrap();
        let t = s.open(table("V")).unwrap();
        for r in 0..1000 {
            s.row(t, &[r as f64, -r as f64]).unwrap();
        }
        s.finish(Status::Completed, 1.0, None).unwrap();
        let a: ndarray::Array2<f64> = ndarray_npy::read_npy(dir.join("V.npy")).unwrap();
        assert_eq!(a.dim(), (1000, 2));
        assert_eq!(a[[999, 1]], -999.0);
    }
}
