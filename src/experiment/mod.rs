//! The experiment: what to simulate and how, lowered and checked before
//! anything runs.
//!
//! Input: a compiled file ([`Compiled`]: its models as IR, its `simulate`
//! blocks as written) and [`Flags`], the settings given from outside the
//! file (the command line's `--dt`, `--set`, ... or the library API's
//! setters), each already parsed with a span into its own source. Output: a
//! [`Run`], every setting evaluated in SI with its unit checked, for one of
//! four bodies: a point model alone or as a population ([`point`]), a
//! network of populations with its connections, drives and recorders
//! ([`network`]), a population density ([`density`]) or a neural field
//! ([`field`]), or a brain: a node model looped over the nodes of a
//! connectome, coupled through delayed sums ([`brain`]).
//!
//! Stage invariants:
//! - `configure` reports every error a run can know before it simulates:
//!   settings with the wrong unit (E0307), impossible values (E0503),
//!   unknown names (E0201, E0504, E0505), inapplicable methods (E0402),
//!   models that cannot become kernels (E0404), sizes that cannot fit in
//!   memory (E0503); each with the span of the offending text, in the file
//!   or in the flag.
//! - `neuroc check` runs [`check`]: `configure` without flags for every
//!   `simulate` block and every network or brain model of the root file, so
//!   `check` and `run` agree on what is wrong.
//! - Nothing here allocates per neuron or per step: values spread over a
//!   population stay descriptions ([`Spread`]) until [`execute`] draws them.
//! - The only I/O is reading the data files a model names (connection
//!   tables), which `check` must see too.

pub mod brain;
pub mod cell;
mod connect;
pub mod connectome;
pub mod couple;
pub mod density;
pub mod execute;
pub mod field;
mod hybrid;
mod matfile;
pub mod network;
mod observe;
pub mod point;
pub(crate) mod settings;

pub use execute::{execute, Summary};
pub use settings::TableSpec;

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::source::Span;
use crate::syntax::ast::{self, ModelKind};
use crate::Compiled;
use settings::Ctx;

/// Settings given from outside the model file, parsed; every expression
/// carries a span into a source of its own (named after the flag), so
/// diagnostics point at the flag's text.
#[derive(Clone, Debug, Default)]
pub struct Flags {
    /// `--model NAME`: which model to run.
    pub model: Option<ast::Ident>,
    pub dt: Option<ast::Expr>,
    pub duration: Option<ast::Expr>,
    /// `--sample`: record every this long.
    pub sample: Option<ast::Expr>,
    pub method: Option<ast::Ident>,
    pub seed: Option<ast::Expr>,
    /// `--neurons N`: the size of a population of one point model.
    pub neurons: Option<ast::Expr>,
    /// `--cells N`: a density's grid.
    pub cells: Option<ast::Expr>,
    /// `--set NAME=VALUE`.
    pub set: Vec<(ast::Ident, ast::Expr)>,
    /// `--record NAME`.
    pub record: Vec<ast::Ident>,
    /// `--no-tables`: ignore the models' rate tables.
    pub no_tables: bool,
    /// `--table SPEC`.
    pub tables: Vec<TableSpec>,
    pub backend: Option<Backend>,
    pub threads: Option<ast::Expr>,
    /// Networks: keep every synapse in `synapses.csv`.
    pub keep_synapses: bool,
    /// Draw a progress bar on long runs.
    pub progress: bool,
}

/// Which engine runs the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Fused kernels compiled by Cranelift (the default).
    Jit,
    /// The same kernels, interpreted (the JIT's oracle).
    Interp,
    /// The reference interpreter: one neuron, events located by root
    /// finding, every method.
    Reference,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Jit => "jit",
            Backend::Interp => "interp",
            Backend::Reference => "reference",
        }
    }
}

/// An experiment ready to run.
#[derive(Clone, Debug)]
pub struct Run {
    /// The model simulated.
    pub target: String,
    pub kind: ModelKind,
    /// The `simulate` block, or the model's name.
    pub span: Span,
    /// Step and duration, SI seconds.
    pub dt: f64,
    pub duration: f64,
    pub seed: u64,
    /// Record every this many steps.
    pub sample_every: usize,
    pub progress: bool,
    pub body: Body,
    /// Every setting as it was resolved, for the manifest: (name, value
    /// with its unit).
    pub settings: Vec<(String, String)>,
}

/// What a run simulates.
#[derive(Clone, Debug)]
pub enum Body {
    Point(point::PointRun),
    Network(network::NetworkRun),
    Density(density::DensityRun),
    Field(field::FieldRun),
    Brain(Box<brain::BrainRun>),
    Cell(Box<cell::CellRun>),
}

/// The model `flags.model` names, or the first `simulate` block's, or the
/// file's only runnable model; with its `simulate` block, if any.
fn select<'a>(ctx: &mut Ctx<'a>, flags: &Flags) -> Option<(&'a ast::Model, Option<&'a ast::Simulate>)> {
    let c = ctx.c;
    let root_span = Span::new(c.root, 0..0);
    let block = match &flags.model {
        Some(name) => c.library.simulate.iter().find(|s| s.target.name == name.name),
        None => c.library.simulate.first(),
    };
    let (name, span) = match (&flags.model, block) {
        (Some(n), _) => (n.name.clone(), n.span),
        (None, Some(s)) => (s.target.name.clone(), s.target.span),
        (None, None) => {
            let root: Vec<&ast::Model> = c.library.root_models.iter().map(|&i| &c.library.models[i]).collect();
            let runnable: Vec<&&ast::Model> = root
                .iter()
                .filter(|m| matches!(m.kind, ModelKind::Neuron | ModelKind::Rate | ModelKind::Cell))
                .collect();
            match runnable.as_slice() {
                [one] => (one.name.name.clone(), one.name.span),
                [] if root.len() == 1 => (root[0].name.name.clone(), root[0].name.span),
                _ => {
                    let names: Vec<String> = root.iter().map(|m| m.name.name.clone()).collect();
                    ctx.fail(
                        Diagnostic::error(
                            Code::NoModel,
                            if names.is_empty() {
                                "this file has no model to run".to_string()
                            } else {
                                format!("which model? this file has {}", names.join(", "))
                            },
                        )
                        .at(root_span, "")
                        .help("choose one with `--model NAME`, or add `simulate NAME { dt = 0.01 ms, duration = 100 ms }`"),
                    );
                    return None;
                }
            }
        }
    };
    let Some(model) = c.library.get(&name) else {
        ctx.fail(no_model(c, &name, span, block.is_some() && flags.model.is_none()));
        return None;
    };
    Some((model, block))
}

/// E0502 for a model name that names nothing.
fn no_model(c: &Compiled, name: &str, span: Span, from_block: bool) -> Diagnostic {
    let names = c.library.all_names();
    let d = Diagnostic::error(Code::NoModel, format!("no model named `{name}`"))
        .at(span, if from_block { "named by this simulate block" } else { "not a model of this file or its imports" });
    match crate::diag::did_you_mean(name, names.iter().map(String::as_str)) {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None => d.help(format!("models here: {}", names.join(", "))),
    }
}

/// Lowers the experiment `flags` select: the model, its `simulate` block
/// and the flags, checked together.
pub fn configure(c: &Compiled, flags: &Flags) -> (Option<Run>, Diagnostics) {
    let mut ctx = Ctx::new(c);
    let run = select(&mut ctx, flags).and_then(|(model, block)| lower(&mut ctx, model, block, flags));
    let mut diags = ctx.diags;
    diags.sort();
    let run = run.filter(|_| !diags.has_errors());
    (run, diags)
}

/// One model with its block and the flags.
fn lower<'a>(ctx: &mut Ctx<'a>, model: &'a ast::Model, block: Option<&ast::Simulate>, flags: &Flags) -> Option<Run> {
    let name = &model.name;
    match model.kind {
        ModelKind::Network => network::configure(ctx, model, block, flags),
        ModelKind::Density => density::configure(ctx, &name.name, block, flags),
        ModelKind::Field => field::configure(ctx, &name.name, block, flags),
        ModelKind::Brain => brain::configure(ctx, model, block, flags),
        ModelKind::Cell => cell::configure(ctx, model, block, flags),
        ModelKind::Neuron | ModelKind::Rate | ModelKind::Synapse | ModelKind::Plasticity => {
            point::configure(ctx, &name.name, block, flags)
        }
        ModelKind::Channel => {
            ctx.fail(
                Diagnostic::error(Code::NotSimulatedYet, "channel models are not simulated alone")
                    .at(name.span, format!("`{}` is a channel", name.name))
                    .help("a channel runs inside a neuron: `neuron N { state V = -65 mV; use Channel; ... }`"),
            );
            None
        }
    }
}

/// What `check` adds to compiling: every `simulate` block of the root file
/// and every network or brain model there (with default settings when no
/// block names it) configured as `run` would, without flags.
pub fn check(c: &Compiled) -> Diagnostics {
    let mut out = Diagnostics::default();
    let mut done: Vec<&str> = Vec::new();
    for block in &c.library.simulate {
        let mut ctx = Ctx::new(c);
        match c.library.get(&block.target.name) {
            Some(model) => {
                if done.contains(&model.name.name.as_str()) {
                    ctx.fail(
                        Diagnostic::error(Code::Duplicate, format!("two simulate blocks for `{}`", block.target.name))
                            .at(block.target.span, "a second block")
                            .help("keep one `simulate` block per model"),
                    );
                } else {
                    lower(&mut ctx, model, Some(block), &Flags::default());
                }
                done.push(&model.name.name);
            }
            None => ctx.fail(no_model(c, &block.target.name, block.target.span, true)),
        }
        out.extend(ctx.diags);
    }
    for &i in &c.library.root_models {
        let model = &c.library.models[i];
        if done.contains(&model.name.name.as_str()) {
            continue;
        }
        let mut ctx = Ctx::new(c);
        match model.kind {
            ModelKind::Network => {
                network::configure(&mut ctx, model, None, &Flags::default());
            }
            ModelKind::Brain => {
                brain::configure(&mut ctx, model, None, &Flags::default());
            }
            ModelKind::Cell => {
                cell::configure(&mut ctx, model, None, &Flags::default());
            }
            _ => {}
        }
        out.extend(ctx.diags);
    }
    out
}

/// How many bytes a run may plan to hold: the least of the machine's
/// available memory (Linux's `MemAvailable`, else 16 GiB), what the cgroup
/// the process runs in may still use (`memory.max` less `memory.current`),
/// and the process's address-space limit (`ulimit -v`) less 512 MiB for
/// the program itself.
pub fn memory_budget() -> u64 {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let avail = read("/proc/meminfo")
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("MemAvailable:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kb| kb * 1024)
        })
        .unwrap_or(16 << 30);
    let cgroup = read("/sys/fs/cgroup/memory.max").and_then(|max| {
        let max = max.trim().parse::<u64>().ok()?;
        let used = read("/sys/fs/cgroup/memory.current").and_then(|u| u.trim().parse::<u64>().ok()).unwrap_or(0);
        Some(max.saturating_sub(used))
    });
    let address_space = read("/proc/self/limits").and_then(|s| {
        let line = s.lines().find(|l| l.starts_with("Max address space"))?;
        let soft = line.trim_start_matches("Max address space").split_whitespace().next()?;
        soft.parse::<u64>().ok().map(|b| b.saturating_sub(512 << 20))
    });
    [Some(avail), cgroup, address_space].into_iter().flatten().min().unwrap_or(avail)
}

/// E0503 when `bytes` exceed the memory budget.
pub(crate) fn fits(ctx: &mut Ctx, bytes: f64, what: &str, span: Span) -> Option<()> {
    let budget = memory_budget() as f64;
    if bytes.is_finite() && bytes <= budget {
        return Some(());
    }
    ctx.reject(
        format!("{what} would take {} of memory; {} is available", bytes_text(bytes), bytes_text(budget)),
        span,
        "too large for this machine",
        "make it smaller (fewer neurons, a lower connection probability or in-degree)",
    )
}

/// 1.5 GiB, 300 MiB, 12 KiB.
pub fn bytes_text(b: f64) -> String {
    if !b.is_finite() {
        return "more than any machine has".into();
    }
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut x = b;
    let mut k = 0;
    while x >= 1024.0 && k + 1 < units.len() {
        x /= 1024.0;
        k += 1;
    }
    if k == 0 {
        format!("{x:.0} B")
    } else {
        format!("{x:.1} {}", units[k])
    }
}
