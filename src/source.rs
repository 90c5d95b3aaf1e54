//! Source files and spans.
//!
//! Every file the compiler reads (the user's, an import, the stdlib, or a
//! synthetic one such as a `--set` value) gets a [`FileId`] in one
//! [`SourceMap`]. A [`Span`] is a byte range in one file; every AST and IR node
//! carries one, so every diagnostic can point at the user's text.

use codespan_reporting::files::{Files, SimpleFiles};
use std::ops::Range;

/// Index of a file in the [`SourceMap`].
pub type FileId = usize;

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, range: Range<usize>) -> Span {
        Span { file, start: clamp_u32(range.start), end: clamp_u32(range.end.max(range.start)) }
    }

    pub fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    /// The smallest span covering both (same file assumed; else `self`).
    pub fn join(self, other: Span) -> Span {
        if self.file != other.file {
            return self;
        }
        Span { file: self.file, start: self.start.min(other.start), end: self.end.max(other.end) }
    }
}

fn clamp_u32(x: usize) -> u32 {
    u32::try_from(x).unwrap_or(u32::MAX)
}

/// All source text the compiler has seen in one session.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    files: SimpleFiles<String, String>,
    paths: Vec<Option<std::path::PathBuf>>,
}

impl SourceMap {
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    /// Adds a file; `path` is where it came from on disk, if anywhere.
    pub fn add(
        &mut self,
        name: impl Into<String>,
        text: impl Into<String>,
        path: Option<std::path::PathBuf>,
    ) -> FileId {
        self.paths.push(path);
        self.files.add(name.into(), text.into())
    }

    /// How many files (they are numbered from 0).
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    pub fn text(&self, file: FileId) -> &str {
        self.files.get(file).map(|f| f.source().as_str()).unwrap_or("")
    }

    pub fn name(&self, file: FileId) -> &str {
        self.files.get(file).map(|f| f.name().as_str()).unwrap_or("<unknown>")
    }

    pub fn path(&self, file: FileId) -> Option<&std::path::Path> {
        self.paths.get(file).and_then(|p| p.as_deref())
    }

    /// The text a span covers ("" if out of range).
    pub fn snippet(&self, span: Span) -> &str {
        self.text(span.file).get(span.range()).unwrap_or("")
    }

    /// 1-based (line, column) of a byte offset.
    pub fn line_col(&self, file: FileId, offset: usize) -> (usize, usize) {
        let text = self.text(file);
        let offset = offset.min(text.len());
        let Ok(line) = self.files.line_index(file, offset) else {
            return (1, 1);
        };
        let col = self.files.column_number(file, line, offset).unwrap_or(1);
        (line + 1, col)
    }

    pub(crate) fn files(&self) -> &SimpleFiles<String, String> {
        &self.files
    }
}
