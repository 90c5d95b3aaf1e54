//! Diagnostics: what every stage reports, and the one place they are rendered.
//!
//! A [`Diagnostic`] has a stable [`Code`], a message, a primary span with a
//! label, optional secondary labels, and a help line. Stages push diagnostics
//! into a [`Diagnostics`] list and keep going; the pipeline stops between
//! stages when an error is present. Rendering uses `codespan-reporting`.

mod codes;
mod suggest;

pub use codes::Code;
pub use suggest::did_you_mean;

use crate::source::{SourceMap, Span};
use codespan_reporting::diagnostic as cs;
use codespan_reporting::term::{self, termcolor};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: Code,
    pub message: String,
    pub primary: Option<(Span, String)>,
    pub secondary: Vec<(Span, String)>,
    pub help: Option<String>,
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: if code.as_str().starts_with('W') { Severity::Warning } else { Severity::Error },
            code,
            message: message.into(),
            primary: None,
            secondary: Vec::new(),
            help: None,
            notes: Vec::new(),
        }
    }

    /// Same as [`Diagnostic::error`]; the severity follows the code.
    pub fn warning(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(code, message)
    }

    pub fn at(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.primary = Some((span, label.into()));
        self
    }

    pub fn with_label(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.secondary.push((span, label.into()));
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// An internal fault, reported instead of panicking.
    pub fn internal(what: impl Into<String>) -> Diagnostic {
        Diagnostic::error(Code::Internal, format!("internal compiler error: {}", what.into()))
            .help("this is a bug in neuroc; please report it with the input that caused it")
    }

    fn to_codespan(&self) -> cs::Diagnostic<usize> {
        let mut d = match self.severity {
            Severity::Error => cs::Diagnostic::error(),
            Severity::Warning => cs::Diagnostic::warning(),
        }
        .with_code(self.code.as_str())
        .with_message(&self.message);
        let mut labels = Vec::new();
        if let Some((span, label)) = &self.primary {
            labels.push(cs::Label::primary(span.file, span.range()).with_message(label));
        }
        for (span, label) in &self.secondary {
            labels.push(cs::Label::secondary(span.file, span.range()).with_message(label));
        }
        let mut notes: Vec<String> = self.notes.clone();
        if let Some(help) = &self.help {
            notes.push(format!("help: {help}"));
        }
        d = d.with_labels(labels).with_notes(notes);
        d
    }
}

/// The diagnostics a stage (or the whole pipeline) produced.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    pub list: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.list.push(d);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.list.extend(other.list);
    }

    pub fn has_errors(&self) -> bool {
        self.list.iter().any(Diagnostic::is_error)
    }

    pub fn error_count(&self) -> usize {
        self.list.iter().filter(|d| d.is_error()).count()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Sorts by file and position so output is stable.
    pub fn sort(&mut self) {
        self.list
            .sort_by_key(|d| d.primary.as_ref().map(|(s, _)| (s.file, s.start, s.end)).unwrap_or((usize::MAX, 0, 0)));
    }
}

/// Renders diagnostics as plain text (no colors): what tests compare.
pub fn render_plain(sources: &SourceMap, diags: &[Diagnostic]) -> String {
    let mut buf = termcolor::NoColor::new(Vec::new());
    emit(&mut buf, sources, diags);
    String::from_utf8_lossy(buf.get_ref()).into_owned()
}

/// Renders diagnostics to stderr, colored when it is a terminal.
pub fn render_stderr(sources: &SourceMap, diags: &[Diagnostic]) {
    let choice = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        termcolor::ColorChoice::Auto
    } else {
        termcolor::ColorChoice::Never
    };
    let stream = termcolor::StandardStream::stderr(choice);
    let mut lock = stream.lock();
    emit(&mut lock, sources, diags);
}

fn emit(writer: &mut dyn termcolor::WriteColor, sources: &SourceMap, diags: &[Diagnostic]) {
    let config = term::Config::default();
    for d in diags {
        let rendered = term::emit(writer, &config, sources.files(), &d.to_codespan());
        if rendered.is_err() {
            // A span outside its file: print the message without a snippet.
            let mut text = format!("{}[{}]: {}\n", severity_word(d.severity), d.code.as_str(), d.message);
            if let Some(help) = &d.help {
                text.push_str(&format!("  = help: {help}\n"));
            }
            let _ = writer.write_all(text.as_bytes());
        }
    }
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}
