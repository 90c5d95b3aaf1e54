//! `neuroc import`: NMODL mechanisms (NEURON's .mod files) as `.neuro`
//! channels. [`parse`] reads the NMODL subset of density mechanisms into
//! blocks and statements; [`translate`] writes the channel. Diagnostics:
//! E0701 (syntax), E0702 (a construct neuroc cannot translate, with its
//! NMODL line), E0703 (a name or unit without a meaning).

mod names;
pub mod parse;
pub mod translate;

pub use translate::Imported;

use crate::diag::Diagnostic;
use crate::source::{FileId, Span};

/// Translates the NMODL text of `file` into a channel.
pub fn import(file: FileId, text: &str) -> Result<Imported, Vec<Diagnostic>> {
    let m = parse::parse(file, text).map_err(|d| vec![*d])?;
    translate::translate(&m, Span::new(file, 0..text.len()))
}
