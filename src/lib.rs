//! # neuroc: a unit-checked modeling language and compiler for brain models
//!
//! The pipeline, one module per stage (see `docs/ARCHITECTURE.md`):
//!
//! ```text
//! .neuro text --syntax--> AST (+ E01xx)              src/syntax     (pest grammar in grammar/neuro.pest)
//!             --resolve--> Library of models         src/resolve    (imports, stdlib; E0202, E0204)
//!             --ir::lower--> typed IR per model       src/ir         (names, units, flattening; E02xx, E03xx)
//!             --experiment::configure--> a Run        src/experiment (settings, sizes, networks; E05xx)
//!                 using --schemes--> a Plan            src/schemes    (classes, methods; E0402) and src/symbolic
//!             --experiment::execute--> a runtime      src/runtime, src/density, src/field
//!                 point model: reference interpreter  src/runtime/stepper.rs (events by root finding)
//!                 or a fused kernel per step           src/kernel, src/codegen/jit (Cranelift, f64x2)
//!                 on N neurons or network populations  src/runtime/population.rs, src/runtime/network
//!             --output--> tables, files, run.json     src/output
//!             --analyze--> fixed points, stability    src/analyze    (rate models, brains; E0510-E0512)
//! ```
//!
//! The one way in is [`Experiment`] (`src/api.rs`): compile, configure,
//! run into memory or a folder, explain. The CLI, tests and benches are its
//! clients.
//!
//! Architecture invariants:
//! - No stage panics on user input: each returns its result and its
//!   diagnostics and keeps going after an error; the pipeline stops between
//!   stages when there is an error.
//! - Values are SI `f64` from the IR on; units are converted only when
//!   reading literals and when writing output.
//! - The library does no I/O except `resolve` reading imports, the API
//!   reading the root file, and `output` writing results.
//! - Compile cost is linear in the model; no user-chosen depth becomes
//!   Rust stack depth (`tests/scale.rs`).

// A Diagnostic is large, and errors are rare: passing it by value is fine.
#![allow(clippy::result_large_err)]

pub mod analyze;
mod api;
pub mod cable;
pub mod codegen;
pub mod density;
pub mod diag;
pub mod experiment;
pub mod explain;
pub mod field;
pub mod infer;
pub mod ir;
pub mod kernel;
pub mod nmodl;
pub mod output;
pub mod plot;
pub mod resolve;
pub mod runner;
pub mod runtime;
pub mod schemes;
pub mod source;
pub mod symbolic;
pub mod syntax;
pub mod units;
pub mod vfs;

pub use api::{import_nmodl, import_nmodl_text, read_source, Error, Experiment, Imported};
pub use experiment::{Backend, Summary};
pub use output::{Format, Results};

use diag::{Code, Diagnostic, Diagnostics};
use source::{FileId, SourceMap};

/// A compiled file: its sources, library, the IR of its models, and every
/// diagnostic.
pub struct Compiled {
    pub sources: SourceMap,
    pub root: FileId,
    pub library: resolve::Library,
    /// Every model of the file and its imports that lowered without errors.
    pub models: Vec<ir::Model>,
    /// The models the file is about: its own, and the targets of its
    /// `simulate` blocks (which may be imported).
    pub shown: Vec<String>,
    pub diagnostics: Diagnostics,
}

impl Compiled {
    pub fn model(&self, name: &str) -> Option<&ir::Model> {
        self.models.iter().find(|m| m.name == name)
    }

    /// The diagnostics rendered as plain text.
    pub fn render(&self) -> String {
        diag::render_plain(&self.sources, &self.diagnostics.list)
    }
}

/// Compiles source text given in memory (imports resolve against the
/// standard library, or next to `path` when given).
pub fn compile_source(name: &str, text: &str, path: Option<std::path::PathBuf>) -> Compiled {
    let mut sources = SourceMap::new();
    let root = sources.add(name, text, path);
    compile(sources, root)
}

/// Parses, resolves and lowers every model the root file can reach.
pub fn compile(mut sources: SourceMap, root: FileId) -> Compiled {
    let (mut library, mut diagnostics) = resolve::load(&mut sources, root);
    // `noise X = white(SIGMA)` in point models: a parameter and a term
    for model in &mut library.models {
        diagnostics.extend(ir::noise::graft(model));
    }
    if library.models.is_empty() && library.simulate.is_empty() && !diagnostics.has_errors() {
        diagnostics.push(
            Diagnostic::warning(Code::NoItems, "this file defines no models")
                .at(source::Span::new(root, 0..0), "empty")
                .help("a model starts with its kind and name: `neuron HH { ... }`; see docs/language.md"),
        );
    }
    let mut shown: Vec<String> = library.root_models.iter().map(|&i| library.models[i].name.name.clone()).collect();
    for s in &library.simulate {
        if !shown.contains(&s.target.name) {
            shown.push(s.target.name.clone());
        }
    }
    // Every reachable model is checked, so errors in imports surface too.
    let mut models = Vec::new();
    // a cell's regions are lowered as membranes (point neurons) of their own
    let is_synapse = |n: &str| library.get(n).is_some_and(|m| m.kind == syntax::ast::ModelKind::Synapse);
    let membranes: Vec<syntax::ast::Model> = library
        .models
        .iter()
        .filter(|m| m.kind == syntax::ast::ModelKind::Cell)
        .flat_map(|m| cable::membranes(m, &is_synapse))
        .collect();
    for model in library.models.iter().chain(&membranes) {
        let (m, d) = ir::lower::lower_model(&library, model);
        diagnostics.extend(d);
        if let Some(m) = m {
            // The schemes the model asks for must apply (E0402), also on `check`.
            if matches!(m.kind, syntax::ast::ModelKind::Neuron | syntax::ast::ModelKind::Rate) {
                let asked =
                    m.method.as_ref().and_then(|(n, _)| schemes::Method::parse(n)).unwrap_or(schemes::Method::Auto);
                let (_, d) = schemes::derive_plan(&mut m.clone(), asked);
                diagnostics.extend(d);
            }
            if let Err(e) = m.validate() {
                diagnostics.push(Diagnostic::internal(format!("IR invalid after lowering `{}`: {e}", m.name)));
            }
            models.push(m);
        }
    }
    shown.retain(|name| library.get(name).is_some());
    let mut c = Compiled { sources, root, library, models, shown, diagnostics };
    // What a run would reject, known now: every simulate block and network.
    if !c.diagnostics.has_errors() {
        let d = experiment::check(&c);
        c.diagnostics.extend(d);
    }
    c.diagnostics.sort();
    // A channel lowered alone and inside each neuron that uses it reports
    // its problems once.
    let mut seen = std::collections::HashSet::new();
    c.diagnostics.list.retain(|d| seen.insert((d.code, d.message.clone(), d.primary.as_ref().map(|p| p.0))));
    c
}

/// Checks source text and returns the rendered diagnostics (empty if clean).
pub fn check(text: &str) -> String {
    compile_source("input.neuro", text, None).render()
}

/// The API guide's example compiles (`cargo test` runs it as a doctest).
#[cfg(doctest)]
#[doc = include_str!("../docs/api.md")]
pub struct ApiGuide;
