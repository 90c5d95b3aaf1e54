//! The files a model reads (its source, its imports, its data files), read
//! from disk, or from the copies a runner carries.
//!
//! `neuroc build` records every file the compiler and a run read
//! ([`record`]) and packs them into the runner ([`crate::runner`]); the
//! runner installs them ([`install`]) so the same paths answer with the
//! same bytes on a machine that has none of the files. Everything that
//! reads a model's files goes through here.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// What a path was when it was recorded.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    File(Vec<u8>),
    Dir,
    /// Nothing was there (an import looked for beside the model before
    /// the standard library): a runner does not ask its own disk.
    Missing,
    /// What `canonicalize` answered.
    Canonical(PathBuf),
}

type Files = BTreeMap<(PathBuf, u8), Entry>;

/// The kind of each entry in the map's key: a path can be both a file (or
/// directory) and have a canonical form.
fn kind(e: &Entry) -> u8 {
    match e {
        Entry::File(_) | Entry::Dir | Entry::Missing => 0,
        Entry::Canonical(_) => 1,
    }
}

static INSTALLED: OnceLock<Files> = OnceLock::new();
static RECORDING: Mutex<Option<Files>> = Mutex::new(None);

/// Answers every later read of these paths from these entries (a runner,
/// at start). A second call changes nothing.
pub fn install(entries: Vec<(PathBuf, Entry)>) {
    let files = entries.into_iter().map(|(p, e)| ((p, kind(&e)), e)).collect();
    let _ = INSTALLED.set(files);
}

/// Starts (or, with `false`, stops) recording what is read; returns what
/// was recorded since the last start.
pub fn record(on: bool) -> Vec<(PathBuf, Entry)> {
    let mut slot = RECORDING.lock().unwrap_or_else(|e| e.into_inner());
    let taken = slot.take().unwrap_or_default();
    if on {
        *slot = Some(Files::new());
    }
    taken.into_iter().map(|((p, _), e)| (p, e)).collect()
}

fn installed(path: &Path, k: u8) -> Option<&'static Entry> {
    INSTALLED.get()?.get(&(path.to_path_buf(), k))
}

fn note(path: &Path, e: Entry) {
    if let Some(files) = RECORDING.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        files.insert((path.to_path_buf(), kind(&e)), e);
    }
}

/// Records that nothing is at `path`, when nothing is.
fn note_missing(path: &Path) {
    if !path.exists() {
        note(path, Entry::Missing);
    }
}

/// The bytes of a file.
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    match installed(path, 0) {
        Some(Entry::File(bytes)) => return Ok(bytes.clone()),
        Some(_) => return Err(io::Error::new(io::ErrorKind::NotFound, "not a file the runner carries")),
        None => {}
    }
    let bytes = std::fs::read(path).inspect_err(|_| note_missing(path))?;
    note(path, Entry::File(bytes.clone()));
    Ok(bytes)
}

/// A file as UTF-8 text.
pub fn read_to_string(path: &Path) -> io::Result<String> {
    String::from_utf8(read(path)?).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Whether the path is a file.
pub fn is_file(path: &Path) -> bool {
    match installed(path, 0) {
        Some(Entry::File(_)) => true,
        Some(_) => false,
        None => {
            note_missing(path);
            path.is_file()
        }
    }
}

/// Whether the path is a directory (recorded as one when it is).
pub fn is_dir(path: &Path) -> bool {
    if let Some(e) = installed(path, 0) {
        return *e == Entry::Dir;
    }
    let dir = path.is_dir();
    if dir {
        note(path, Entry::Dir);
    } else {
        note_missing(path);
    }
    dir
}

/// Whether the path exists, as a file or a directory.
pub fn exists(path: &Path) -> bool {
    match installed(path, 0) {
        Some(e) => *e != Entry::Missing,
        None => {
            note_missing(path);
            path.exists()
        }
    }
}

/// Whether the file can be opened for reading (without reading it).
pub fn readable(path: &Path) -> bool {
    match installed(path, 0) {
        Some(e) => matches!(e, Entry::File(_)),
        None => std::fs::File::open(path).is_ok(),
    }
}

/// The canonical path, as the file system gave it when recorded.
pub fn canonicalize(path: &Path) -> io::Result<PathBuf> {
    if let Some(Entry::Canonical(c)) = installed(path, 1) {
        return Ok(c.clone());
    }
    let c = path.canonicalize()?;
    note(path, Entry::Canonical(c.clone()));
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recording_keeps_what_was_read_and_only_that() {
        let dir = std::env::temp_dir().join(format!("neuroc-vfs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a.txt"), dir.join("b.txt"));
        std::fs::write(&a, "one").unwrap();
        std::fs::write(&b, "two").unwrap();
        record(true);
        assert_eq!(read_to_string(&a).unwrap(), "one");
        assert!(is_dir(&dir));
        let got = record(false);
        assert!(got.contains(&(a.clone(), Entry::File(b"one".to_vec()))));
        assert!(got.contains(&(dir.clone(), Entry::Dir)));
        assert!(!got.iter().any(|(p, _)| p == &b), "an unread file is not recorded");
        record(true);
        assert!(read(&dir.join("missing")).is_err());
        assert!(!is_file(&dir.join("gone.neuro")));
        let got = record(false);
        assert!(got.contains(&(dir.join("missing"), Entry::Missing)));
        assert!(got.contains(&(dir.join("gone.neuro"), Entry::Missing)));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
