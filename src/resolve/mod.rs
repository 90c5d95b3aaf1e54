//! Resolve: loads a file and everything it imports into a [`Library`] of
//! models. Diagnostics: E0202 (a model defined twice), E0204 (an import that
//! cannot be found).
//!
//! `import "x.neuro"` looks next to the importing file first, then in the
//! standard library, which is compiled into the binary so that `neuroc`
//! works from any directory. Each file is loaded once; import cycles are
//! harmless.

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::source::{FileId, SourceMap};
use crate::syntax::{self, ast};
use std::path::{Path, PathBuf};

/// The standard library: (file name, text).
pub const STDLIB: &[(&str, &str)] = &[
    ("hh.neuro", include_str!("../../stdlib/hh.neuro")),
    ("lif.neuro", include_str!("../../stdlib/lif.neuro")),
    ("wilson_cowan.neuro", include_str!("../../stdlib/wilson_cowan.neuro")),
    ("markov.neuro", include_str!("../../stdlib/markov.neuro")),
    ("traub.neuro", include_str!("../../stdlib/traub.neuro")),
    ("adex.neuro", include_str!("../../stdlib/adex.neuro")),
    ("izhikevich.neuro", include_str!("../../stdlib/izhikevich.neuro")),
    ("synapses.neuro", include_str!("../../stdlib/synapses.neuro")),
    ("plasticity.neuro", include_str!("../../stdlib/plasticity.neuro")),
    ("stdp.neuro", include_str!("../../stdlib/stdp.neuro")),
    ("lif_density.neuro", include_str!("../../stdlib/lif_density.neuro")),
    ("jansen_rit.neuro", include_str!("../../stdlib/jansen_rit.neuro")),
    ("bold.neuro", include_str!("../../stdlib/bold.neuro")),
    ("epileptor.neuro", include_str!("../../stdlib/epileptor.neuro")),
    ("wendling.neuro", include_str!("../../stdlib/wendling.neuro")),
    ("noise.neuro", include_str!("../../stdlib/noise.neuro")),
    ("calcium.neuro", include_str!("../../stdlib/calcium.neuro")),
];

/// Every model visible from the root file, and the `simulate` blocks of the
/// root file.
#[derive(Default)]
pub struct Library {
    pub models: Vec<ast::Model>,
    /// Models defined in the root file itself (indices into `models`).
    pub root_models: Vec<usize>,
    pub simulate: Vec<ast::Simulate>,
    /// Model names to indices into `models`, as `load` adds them.
    index: std::collections::HashMap<String, usize>,
}

impl Library {
    pub fn get(&self, name: &str) -> Option<&ast::Model> {
        if self.index.len() == self.models.len() {
            return self.index.get(name).and_then(|&i| self.models.get(i));
        }
        // models added by hand, not through `load`
        self.models.iter().find(|m| m.name.name == name)
    }

    pub fn all_names(&self) -> Vec<String> {
        self.models.iter().map(|m| m.name.name.clone()).collect()
    }

    pub fn names_of(&self, kind: ast::ModelKind) -> Vec<String> {
        self.models.iter().filter(|m| m.kind == kind).map(|m| m.name.name.clone()).collect()
    }
}

/// Parses `root` and its imports.
pub fn load(sources: &mut SourceMap, root: FileId) -> (Library, Diagnostics) {
    let mut diags = Diagnostics::default();
    let mut lib = Library::default();
    let mut loaded: Vec<String> = vec![key_of(sources, root)];
    let mut queue = vec![(root, true)];
    while let Some((file, is_root)) = queue.pop() {
        let text = sources.text(file).to_string();
        let (ast, d) = syntax::parse(file, &text);
        diags.extend(d);
        for item in ast.items {
            match item {
                ast::Item::Import(imp) => {
                    let (name, text, path) = match find_import(sources, file, &imp.path) {
                        Ok(found) => found,
                        Err(why) => {
                            let help = match why {
                                Missing => format!(
                                    "imports are looked up next to this file, then in the standard library ({})",
                                    STDLIB.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                                ),
                                _ => "import a .neuro file (UTF-8 text) next to this one, or a standard-library file"
                                    .into(),
                            };
                            diags.push(
                                Diagnostic::error(Code::ImportNotFound, why.message(&imp.path))
                                    .at(imp.span, "imported here")
                                    .help(help),
                            );
                            continue;
                        }
                    };
                    let key =
                        path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| format!("<stdlib>/{name}"));
                    if loaded.contains(&key) {
                        continue;
                    }
                    loaded.push(key);
                    let id = sources.add(name, text, path);
                    queue.push((id, false));
                }
                ast::Item::Model(m) => {
                    if let Some(prev) = lib.get(&m.name.name) {
                        diags.push(
                            Diagnostic::error(
                                Code::Duplicate,
                                format!("a model named `{}` already exists", m.name.name),
                            )
                            .at(m.name.span, "defined again here")
                            .with_label(prev.name.span, "first defined here")
                            .help("rename one of them"),
                        );
                        continue;
                    }
                    if is_root {
                        lib.root_models.push(lib.models.len());
                    }
                    lib.index.insert(m.name.name.clone(), lib.models.len());
                    lib.models.push(m);
                }
                ast::Item::Simulate(s) => {
                    if is_root {
                        lib.simulate.push(s);
                    }
                }
            }
        }
    }
    (lib, diags)
}

fn key_of(sources: &SourceMap, file: FileId) -> String {
    sources
        .path(file)
        .map(|p| crate::vfs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()).display().to_string())
        .unwrap_or_else(|| format!("<memory>/{}", sources.name(file)))
}

/// Why an import cannot be used.
#[derive(Clone, Copy, Debug, PartialEq)]
enum ImportProblem {
    Missing,
    Directory,
    ItSelf,
    /// Not UTF-8: the offset of the first invalid byte.
    NotText(usize),
    Unreadable,
}
use ImportProblem::*;

impl ImportProblem {
    fn message(self, path: &str) -> String {
        match self {
            Missing => format!("cannot find `{path}`"),
            Directory => format!("`{path}` is a directory, not a .neuro file"),
            ItSelf => format!("`{path}` is this file: a file cannot import itself"),
            NotText(at) => format!("`{path}` is not UTF-8 text (invalid byte at offset {at})"),
            Unreadable => format!("`{path}` cannot be read"),
        }
    }
}

/// Finds an import: (display name, text, path on disk if any). Next to the
/// importing file first (never the file itself), then in the standard
/// library. The reason when neither has it never quotes the file.
fn find_import(
    sources: &SourceMap,
    from: FileId,
    wanted: &str,
) -> Result<(String, String, Option<PathBuf>), ImportProblem> {
    let mut problem = Missing;
    if let Some(dir) = sources.path(from).and_then(Path::parent) {
        let candidate = dir.join(wanted);
        let is_self = crate::vfs::canonicalize(&candidate).ok().as_deref() == sources.path(from);
        if is_self {
            problem = ItSelf;
        } else if crate::vfs::is_dir(&candidate) {
            problem = Directory;
        } else if crate::vfs::is_file(&candidate) {
            match crate::vfs::read(&candidate) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => {
                        let canon = crate::vfs::canonicalize(&candidate).unwrap_or(candidate.clone());
                        return Ok((candidate.display().to_string(), text, Some(canon)));
                    }
                    Err(e) => problem = NotText(e.utf8_error().valid_up_to()),
                },
                Err(_) => problem = Unreadable,
            }
        }
    }
    let base = wanted.strip_prefix("stdlib/").unwrap_or(wanted);
    let base = if base.ends_with(".neuro") { base.to_string() } else { format!("{base}.neuro") };
    match STDLIB.iter().find(|(n, _)| *n == base) {
        Some((n, t)) if matches!(problem, Missing | ItSelf) => Ok((format!("<stdlib>/{n}"), t.to_string(), None)),
        _ => Err(problem),
    }
}
