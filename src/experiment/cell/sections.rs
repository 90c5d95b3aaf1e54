//! A cell's sections: from `section` statements or a morphology file,
//! each with its membrane and its segments (a fixed `nseg` or the
//! d_lambda rule).

use super::super::settings::Ctx;
use crate::cable::geometry::{self, Section};
use crate::diag::{Code, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::{self, StmtKind};
use crate::units::{dims, Dim};

/// The sections in declaration order, each parent before its children.
pub(super) fn sections(
    ctx: &mut Ctx,
    cell: &ast::Model,
    regions: &[String],
    ra: &[f64],
    cm: &[f64],
    d_lambda: f64,
) -> Option<Vec<Section>> {
    let mut out: Vec<Section> = Vec::new();
    let all = regions.iter().position(|r| r == "all");
    for stmt in &cell.stmts {
        let StmtKind::Section { name, settings } = &stmt.kind else { continue };
        if out.iter().any(|s| s.name == name.name) {
            ctx.fail(
                Diagnostic::error(Code::Duplicate, format!("two sections named `{}`", name.name))
                    .at(name.span, "a second section of this name")
                    .help("give each section its own name"),
            );
            return None;
        }
        let membrane = match regions.iter().position(|r| *r == name.name).or(all) {
            Some(k) => k,
            None => {
                return ctx.reject(
                    format!("section `{}` has no membrane", name.name),
                    name.span,
                    "no region names it",
                    format!("add `region {} {{ use Leak }}`, or `region all {{ ... }}` for every section", name.name),
                )
            }
        };
        let (mut length, mut diameter, mut parent, mut at, mut nseg) = (None, None, None, 1.0, None);
        for b in settings {
            let what = format!("`{}`", b.name.name);
            match b.name.name.as_str() {
                "length" => length = Some((ctx.constant(&b.value, dims::length(), &what)?, b.value.span)),
                "diameter" => diameter = Some((ctx.constant(&b.value, dims::length(), &what)?, b.value.span)),
                "at" => {
                    at = ctx.constant(&b.value, Dim::NONE, &what)?;
                    if !(0.0..=1.0).contains(&at) {
                        return ctx.reject(
                            "`at` is a position along the parent, from 0 to 1",
                            b.value.span,
                            "outside [0, 1]",
                            "e.g. `at = 1` (the parent's far end)",
                        );
                    }
                }
                "nseg" => nseg = Some(ctx.count(&b.value, "`nseg`", 1, 1_000_000, "e.g. `nseg = 11`")? as usize),
                "parent" => {
                    let ast::ExprKind::Name(p) = &b.value.kind else {
                        return ctx.reject(
                            "`parent` names a section declared before this one",
                            b.value.span,
                            "not a section name",
                            "e.g. `parent = soma`",
                        );
                    };
                    match out.iter().position(|s| s.name == *p) {
                        Some(i) => parent = Some(i),
                        None => {
                            let known: Vec<&str> = out.iter().map(|s| s.name.as_str()).collect();
                            let id = ast::Ident { name: p.clone(), span: b.value.span };
                            return ctx.unknown(
                                "parent section",
                                &id,
                                &known,
                                "a parent is a section declared before its children",
                            );
                        }
                    }
                }
                _ => {
                    return ctx.unknown(
                        "section setting",
                        &b.name,
                        &["length", "diameter", "parent", "at", "nseg"],
                        "a section takes length, diameter, parent, at and nseg",
                    )
                }
            }
        }
        let mut positive = |v: Option<(f64, Span)>, what: &str| match v {
            Some((x, _)) if x > 0.0 && x.is_finite() => Some(x),
            Some((_, sp)) => ctx.reject(
                format!("a section's {what} must be positive"),
                sp,
                "not positive",
                "e.g. `length = 100 um, diameter = 2 um`",
            ),
            None => ctx.reject(
                format!("section `{}` has no {what}", name.name),
                name.span,
                "missing",
                "e.g. `section dend(length = 100 um, diameter = 2 um, parent = soma)`",
            ),
        };
        let length = positive(length, "length")?;
        let diameter = positive(diameter, "diameter")?;
        if parent.is_none() && !out.is_empty() {
            return ctx.reject(
                format!("section `{}` has no parent: a cell is one tree, rooted at its first section", name.name),
                name.span,
                "no `parent`",
                format!("attach it: `parent = {}`", out[0].name),
            );
        }
        let nseg =
            nseg.unwrap_or_else(|| geometry::d_lambda_nseg(length, diameter, ra[membrane], cm[membrane], d_lambda));
        out.push(Section {
            name: name.name.clone(),
            length,
            diameter,
            parent: parent.map(|p| (p, at)),
            nseg,
            membrane,
            points: vec![],
        });
    }
    if let Some((path, full, span)) = morphology_file(ctx, cell) {
        if !out.is_empty() {
            return ctx.reject(
                "a cell takes its sections from `section` statements or from a morphology file, not both",
                span,
                "a morphology file",
                "remove the `section` statements, or the `morphology` line",
            );
        }
        let text = match crate::vfs::read_to_string(&full) {
            Ok(t) => t,
            Err(e) => {
                ctx.fail(
                    Diagnostic::error(Code::DataFile, format!("cannot read `{path}`: {e}"))
                        .at(span, "this file")
                        .help(format!("files are read relative to the model's file: {}", full.display())),
                );
                return None;
            }
        };
        let swc = match crate::cable::swc::read(&text) {
            Ok(s) => s,
            Err(why) => {
                ctx.fail(
                    Diagnostic::error(Code::DataFile, format!("`{path}` is not a morphology neuroc reads: {why}"))
                        .at(span, "this file")
                        .help(
                            "SWC: one point per line, `id type x y z radius parent`, micrometers, parents listed first",
                        ),
                );
                return None;
            }
        };
        let pick = |name: &str, kind: &str| {
            regions.iter().position(|r| r == name).or_else(|| regions.iter().position(|r| r == kind)).or(all)
        };
        match crate::cable::swc::sections(&swc, pick, |l, d, k| geometry::d_lambda_nseg(l, d, ra[k], cm[k], d_lambda)) {
            Ok(s) => out = s,
            Err(section) => {
                return ctx.reject(
                    format!("section `{section}` of `{path}` has no membrane"),
                    span,
                    "no region names it, its type, or `all`",
                    "add a region for its type (`region dend { ... }`: soma, axon, dend, apic) or `region all { ... }`",
                )
            }
        }
    }
    if out.is_empty() {
        return ctx.reject(
            format!("cell `{}` has no section", cell.name.name),
            cell.name.span,
            "no `section`",
            "e.g. `section soma(length = 20 um, diameter = 20 um)`",
        );
    }
    Some(out)
}

/// The cell's `morphology "FILE"`: (as written, resolved path, span).
fn morphology_file(ctx: &mut Ctx, cell: &ast::Model) -> Option<(String, std::path::PathBuf, Span)> {
    let entries = cell.stmts.iter().filter_map(|s| match &s.kind {
        StmtKind::Data(entries) => Some(entries.iter()),
        _ => None,
    });
    let first = entries.flatten().next()?;
    match first {
        ast::DataEntry::File { key, path, span } if key.name == "morphology" => {
            let base = ctx.c.sources.path(span.file).and_then(|p| p.parent().map(std::path::Path::to_path_buf));
            let full = base.map_or_else(|| std::path::PathBuf::from(path), |d| d.join(path));
            Some((path.clone(), full, *span))
        }
        ast::DataEntry::File { key, .. } => {
            ctx.unknown("file of a cell", key, &["morphology"], "a cell reads `morphology \"cell.swc\"`")
        }
        ast::DataEntry::Setting(b) => {
            ctx.unknown("statement of a cell", &b.name, &["morphology"], "a cell reads `morphology \"cell.swc\"`")
        }
    }
}
