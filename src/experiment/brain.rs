//! What of a `brain` model can be checked before brains run: the node
//! model it names exists and is a rate or neuron model, the data files it
//! names exist and are readable files, and its settings have their units
//! (`speed` a velocity).

use super::settings::Ctx;
use crate::diag::{Code, Diagnostic};
use crate::syntax::ast::{self, ModelKind};
use crate::units;
use std::path::{Path, PathBuf};

pub(super) fn check(ctx: &mut Ctx, model: &ast::Model) {
    let c = ctx.c;
    for stmt in &model.stmts {
        match &stmt.kind {
            ast::StmtKind::Derived(b) if b.name.name == "node" => node(ctx, &b.value),
            ast::StmtKind::Data(entries) => {
                for e in entries {
                    match e {
                        ast::DataEntry::File { key, path, span } => {
                            let base = c.sources.path(span.file).and_then(|p| p.parent().map(Path::to_path_buf));
                            let full = base.map_or_else(|| PathBuf::from(path), |d| d.join(path));
                            if let Some(why) = unreadable(&full) {
                                ctx.fail(
                                    Diagnostic::error(Code::DataFile, format!("`{path}` ({}) {why}", key.name))
                                        .at(*span, "this file")
                                        .help(format!(
                                            "data files are read relative to the model's file: {}",
                                            full.display()
                                        )),
                                );
                            }
                        }
                        ast::DataEntry::Setting(b) => setting(ctx, b),
                    }
                }
            }
            _ => {}
        }
    }
}

/// `node = JansenRit` (or `JansenRit(...)`): a rate or neuron model.
fn node(ctx: &mut Ctx, value: &ast::Expr) {
    let name = match &value.kind {
        ast::ExprKind::Name(n) => Some((n.as_str(), value.span)),
        ast::ExprKind::Call(f, _) => match &f.kind {
            ast::ExprKind::Name(n) => Some((n.as_str(), f.span)),
            _ => None,
        },
        _ => None,
    };
    let Some((name, span)) = name else { return };
    match ctx.c.library.get(name) {
        Some(m) if matches!(m.kind, ModelKind::Rate | ModelKind::Neuron) => {}
        Some(m) => ctx.fail(
            Diagnostic::error(Code::WrongKind, format!("`{name}` is a {}, not a node model", m.kind.keyword()))
                .at(span, "a brain's nodes are rate or neuron models")
                .help("name a neural mass such as `JansenRit` or `WilsonCowan`"),
        ),
        None => {
            let names = ctx.c.library.all_names();
            let mut d = Diagnostic::error(Code::UnknownModel, format!("no model named `{name}`")).at(span, "not found");
            d = match crate::diag::did_you_mean(name, names.iter().map(String::as_str)) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => {
                    d.help("define it in this file or import the file that defines it: `import \"jansen_rit.neuro\"`")
                }
            };
            ctx.fail(d);
        }
    }
}

/// A setting of a data clause: `speed` is a velocity; others are plain
/// constants that must evaluate.
fn setting(ctx: &mut Ctx, b: &ast::Binding) {
    match b.name.name.as_str() {
        "speed" => {
            if let Some(v) = ctx.constant(&b.value, units::dims::velocity(), "`speed`") {
                if !(v > 0.0 && v.is_finite()) {
                    ctx.reject::<()>(
                        "a conduction speed must be positive",
                        b.value.span,
                        "not positive",
                        "e.g. `speed = 3 m/s`",
                    );
                }
            }
        }
        _ => {
            let _ = crate::ir::lower::lower_constant(&b.value);
        }
    }
}

/// Why a data file cannot be used, if it cannot.
fn unreadable(path: &Path) -> Option<&'static str> {
    match std::fs::metadata(path) {
        Err(_) => Some("does not exist"),
        Ok(m) if m.is_dir() => Some("is a directory, not a file"),
        Ok(_) => std::fs::File::open(path).err().map(|_| "cannot be read"),
    }
}
