//! The thin command-line layer: parses arguments, calls the library, prints
//! diagnostics and summaries. Exit codes: 0 ok, 1 diagnostics, 2 usage or I/O.

mod density;
mod field;
mod plot;

use clap::{Parser, Subcommand, ValueEnum};
use neuroc::diag::{self, Code, Diagnostic, Diagnostics};
use neuroc::ir::{self, NodeKind, Ty};
use neuroc::runtime::spikegen::Spread;
use neuroc::runtime::{self, output, Probe};
use neuroc::schemes::{self, Method};
use neuroc::source::Span;
use neuroc::syntax::ast::{self, ModelKind};
use neuroc::units::{self, Dim};
use neuroc::Compiled;
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    name = "neuroc",
    version,
    about = "Compile and run .neuro brain models: units checked, schemes derived.",
    long_about = "neuroc compiles .neuro models (channels, neurons, rate models, and more) with \
                  physical units checked at compile time, then simulates them.\n\n\
                  Examples:\n  \
                  neuroc check examples/hodgkin_huxley.neuro\n  \
                  neuroc run examples/hodgkin_huxley.neuro -o out/\n  \
                  neuroc run examples/hodgkin_huxley.neuro --set I_amp=8.5uA/cm^2 --duration 500ms\n  \
                  neuroc explain examples/hodgkin_huxley.neuro\n  \
                  neuroc plot out/\n\n\
                  Exit codes: 0 success, 1 the model has errors, 2 usage or file errors."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse, resolve and unit-check files; print diagnostics only.
    Check {
        /// .neuro files to check
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Simulate a model and write what was recorded.
    ///
    /// Settings come from the file's `simulate NAME { dt = ..., duration = ..., method = ... }`
    /// block; flags override them. Every duration takes a unit: `--dt 0.01ms`.
    Run {
        /// the .neuro file
        file: PathBuf,
        #[command(flatten)]
        opts: RunOpts,
    },
    /// Plot what `run` wrote: each `NAME.csv` becomes `NAME.svg` (spikes as a raster).
    Plot {
        /// the directory `run -o` wrote
        dir: PathBuf,
    },
    /// Print the resolved model: parameters in your units and SI, each
    /// state's equation, the class the analysis found, the method chosen and
    /// why, derived gate forms and exact propagators.
    Explain {
        file: PathBuf,
        /// only this model
        #[arg(long)]
        model: Option<String>,
        /// the method to explain (default: the model's, else auto)
        #[arg(long)]
        method: Option<String>,
        /// the step propagators are evaluated for, with a unit (default: the
        /// simulate block's, else 0.01ms)
        #[arg(long)]
        dt: Option<String>,
        /// also print the fused kernel and its Cranelift IR
        #[arg(long)]
        ir: bool,
    },
}

/// What a `simulate` setting spreads over the population.
#[derive(Clone, Copy)]
enum Target {
    Param(usize),
    State(usize),
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum BackendArg {
    Jit,
    Interp,
    Reference,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Csv,
    Npy,
}

pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match cli.command {
        Command::Check { files } => check(&files),
        Command::Run { file, opts } => run(&file, &opts),
        Command::Plot { dir } => match plot::plot_dir(&dir) {
            Ok(files) => {
                for f in &files {
                    println!("wrote {}", f.display());
                }
                0
            }
            Err(e) => {
                eprintln!("error: {e}");
                2
            }
        },
        Command::Explain { file, model, method, dt, ir } => {
            explain(&file, model.as_deref(), method.as_deref(), dt.as_deref(), ir)
        }
    }
}

/// Reads a source file, or says why not (exit code 2).
fn read(path: &Path) -> Result<String, i32> {
    if path.is_dir() {
        eprintln!("error: `{}` is a directory, not a .neuro file", path.display());
        return Err(2);
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot read `{}`: {e}", path.display());
            return Err(2);
        }
    };
    match String::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(e) => {
            eprintln!(
                "error: `{}` is not UTF-8 text (invalid byte at offset {})",
                path.display(),
                e.utf8_error().valid_up_to()
            );
            Err(2)
        }
    }
}

fn compile_path(path: &Path) -> Result<Compiled, i32> {
    let text = read(path)?;
    let canon = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    Ok(neuroc::compile_source(&path.display().to_string(), &text, Some(canon)))
}

fn report(c: &Compiled, diags: &[Diagnostic]) {
    diag::render_stderr(&c.sources, diags);
}

fn check(files: &[PathBuf]) -> i32 {
    let mut worst = 0;
    for f in files {
        let c = match compile_path(f) {
            Ok(c) => c,
            Err(code) => {
                worst = worst.max(code);
                continue;
            }
        };
        report(&c, &c.diagnostics.list);
        if c.diagnostics.has_errors() {
            eprintln!("{}: {} error(s)", f.display(), c.diagnostics.error_count());
            worst = worst.max(1);
        } else {
            let n = c.shown.len();
            println!("{}: ok ({n} model{})", f.display(), if n == 1 { "" } else { "s" });
        }
    }
    worst
}

#[derive(clap::Args)]
struct RunOpts {
    /// which model to run (default: the `simulate` block's, or the only one)
    #[arg(long)]
    model: Option<String>,
    /// time step, with a unit (default 0.01ms)
    #[arg(long)]
    dt: Option<String>,
    /// simulated time, with a unit (default 100ms)
    #[arg(long)]
    duration: Option<String>,
    /// integration method: auto (default), euler, rk2, rk4, rk45, backward_euler,
    /// trapezoidal, exp_euler (cnexp), exact, kinetic
    #[arg(long)]
    method: Option<String>,
    /// override a parameter or input: --set I_ext=8.5uA/cm^2 (repeatable)
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
    /// variables to record (default: the model's non-gate states)
    #[arg(long, num_args = 1..)]
    record: Vec<String>,
    /// record every this long, with a unit (default: every step)
    #[arg(long)]
    sample: Option<String>,
    /// output directory
    #[arg(short, long, default_value = "out")]
    output: PathBuf,
    /// output format
    #[arg(long, value_enum, default_value_t = FormatArg::Csv)]
    format: FormatArg,
    /// no progress bar
    #[arg(short, long)]
    quiet: bool,
    /// jit (default): Cranelift fused kernels; interp: the same kernels
    /// interpreted; reference: the reference interpreter (one neuron,
    /// events located by root finding, every method)
    #[arg(long, value_enum)]
    backend: Option<BackendArg>,
    /// threads (results do not depend on it). Default: every core for
    /// populations; for networks, more than one only when a step has enough
    /// work to pay for the synchronization (about 5 x 10^5 kernel operations)
    #[arg(long)]
    threads: Option<usize>,
    /// number of neurons (default: the simulate block's `n`, else 1)
    #[arg(long)]
    neurons: Option<usize>,
    /// networks: also write every synapse to synapses.csv (pre, post,
    /// weight, delay_ms; neurons numbered as in spikes.csv)
    #[arg(long)]
    save_synapses: bool,
    /// compute every rate exactly: ignore the models' `table V in [...]`
    /// statements (rate tables serve the jit and interp back ends; the
    /// reference back end never uses them)
    #[arg(long, conflicts_with = "table")]
    no_tables: bool,
    /// tabulate the rates in a state without editing the model, as the
    /// model's own `table` statement would (replacing it): --table "V in
    /// [-100 mV, 100 mV], step = 0.1 mV". For a network, every population
    /// whose neuron has the state (repeatable)
    #[arg(long, value_name = "SPEC")]
    table: Vec<String>,
}

/// Collects diagnostics of the run's configuration against the compiled file.
struct RunCtx {
    c: Compiled,
    diags: Diagnostics,
    /// Parameters a setting may refer to (a network's `parameter K = 100`).
    scope: Vec<ast::Binding>,
}

impl RunCtx {
    fn fail(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// A bad simulation setting (E0503) at `span`; `None` to return.
    fn reject<T>(
        &mut self,
        message: impl Into<String>,
        span: Span,
        label: impl Into<String>,
        help: impl Into<String>,
    ) -> Option<T> {
        self.fail(Diagnostic::error(Code::BadSetting, message).at(span, label).help(help));
        None
    }

    /// `--table SPEC`: adds (or replaces) a rate table in every model of
    /// `models` that has the state; E0218 when none has it.
    fn table_flags(&mut self, specs: &[String], models: &mut [&mut ir::Model]) -> Option<()> {
        for spec in specs {
            let text = format!("table {spec}");
            let file = self.arg_source("--table", &text);
            let (parsed, d) = neuroc::syntax::parse_table(file, &text);
            let errors = d.has_errors();
            self.diags.extend(d);
            let (var, interval, settings) = parsed?;
            if errors {
                return None;
            }
            let whole = Span::new(file, 0..text.len());
            let bad = |message: String, help: &str| {
                Diagnostic::error(Code::BadTable, message).at(whole, "this table").help(help.to_string())
            };
            let (step, form) = ir::lower::table_step(whole, &var, &interval, &settings);
            if !form.is_empty() {
                self.diags.extend(Diagnostics { list: form });
                return None;
            }
            let step = step?;
            let mut found = false;
            for m in models.iter_mut() {
                let Some(state) = m.states.iter().position(|st| st.name == var.name) else { continue };
                found = true;
                let dim = m.states[state].dim;
                let lo = self.constant(&interval.lo, dim, "the table's lower bound")?;
                let hi = self.constant(&interval.hi, dim, "the table's upper bound")?;
                let h = self.constant(step, dim, "the table's step")?;
                let mut node = |v: f64| m.arena.add(ir::NodeKind::Const(v), ir::Ty::Num(dim), whole);
                let (lo, hi, step) = (node(lo), node(hi), node(h));
                m.tables.retain(|t| t.state != state);
                m.tables.push(ir::RateTable { state, lo, hi, step, span: whole });
            }
            if !found {
                let names: Vec<&str> = models.iter().map(|m| m.name.as_str()).collect();
                self.fail(bad(
                    format!("no state `{}` in {}", var.name, names.join(", ")),
                    "name a state of the neuron, usually the membrane potential: --table \"V in [-100 mV, 100 mV], step = 0.1 mV\"",
                ));
                return None;
            }
        }
        Some(())
    }

    /// A CLI argument as a source file, so diagnostics can point into it.
    fn arg_source(&mut self, label: &str, text: &str) -> usize {
        self.c.sources.add(label, text, None)
    }

    /// Evaluates a constant given on the command line, with a dimension check.
    fn constant_arg(&mut self, label: &str, text: &str, want: Dim, what: &str) -> Option<f64> {
        let file = self.arg_source(label, text);
        let (expr, d) = neuroc::syntax::parse_expr(file, text);
        self.diags.extend(d);
        let expr = expr?;
        self.constant(&expr, want, what)
    }

    /// `linspace(lo, hi)`, `uniform(lo, hi)` or `normal(mean, sd)` in unit
    /// `want`: `Some(None)` when `expr` is not one of them, `None` (with a
    /// diagnostic) when it is one, badly formed.
    fn spread(&mut self, expr: &ast::Expr, want: Dim, what: &str) -> Option<Option<Spread>> {
        let ast::ExprKind::Call(f, args) = &expr.kind else { return Some(None) };
        let ast::ExprKind::Name(x) = &f.kind else { return Some(None) };
        if !matches!(x.as_str(), "linspace" | "uniform" | "normal") {
            return Some(None);
        }
        if args.len() != 2 {
            self.fail(
                Diagnostic::error(Code::BadSetting, format!("`{x}` takes two values"))
                    .at(expr.span, "a spread")
                    .help("`linspace(lo, hi)`, `uniform(lo, hi)` or `normal(mean, sd)`"),
            );
            return None;
        }
        let a = self.constant(&args[0], want, what)?;
        let c = self.constant(&args[1], want, what)?;
        Some(Some(match x.as_str() {
            "linspace" => Spread::Linspace(a, c),
            "uniform" => Spread::Uniform(a, c),
            _ => Spread::Normal(a, c),
        }))
    }

    fn constant(&mut self, expr: &ast::Expr, want: Dim, what: &str) -> Option<f64> {
        let (v, d) = if self.scope.is_empty() { ir::lower::lower_constant(expr) } else { self.scoped_constant(expr) };
        self.diags.extend(d);
        let (v, dim) = v?;
        if dim != want {
            self.fail(
                Diagnostic::error(
                    Code::ValueDimension,
                    format!(
                        "{what} must be {} ({}), not {}",
                        ir::lower::quantity_desc(&want),
                        units::pretty(&want),
                        units::pretty(&dim)
                    ),
                )
                .at(expr.span, format!("this is {}", ir::lower::quantity_desc(&dim)))
                .help(format!(
                    "give it a unit of {}, e.g. {}",
                    ir::lower::quantity_desc(&want),
                    example_unit(&want)
                )),
            );
            return None;
        }
        Some(v)
    }
}

impl RunCtx {
    /// A constant that may name the parameters in `scope`: lowered as one
    /// more parameter of a model holding them, so names and units are
    /// checked as everywhere else.
    fn scoped_constant(&self, expr: &ast::Expr) -> (Option<(f64, Dim)>, Diagnostics) {
        let span = expr.span;
        let value = ast::Binding { name: ast::Ident { name: "(setting)".into(), span }, value: expr.clone() };
        let mut stmts: Vec<ast::Stmt> = self
            .scope
            .iter()
            .map(|b| ast::Stmt { kind: ast::StmtKind::Parameter(vec![b.clone()]), span: b.name.span })
            .collect();
        stmts.push(ast::Stmt { kind: ast::StmtKind::Parameter(vec![value]), span });
        let model =
            ast::Model { kind: ModelKind::Rate, name: ast::Ident { name: "(settings)".into(), span }, stmts, span };
        let (m, d) = ir::lower::lower_model(&self.c.library, &model);
        let Some(m) = m else { return (None, d) };
        let params = neuroc::ir::eval::eval_params(&m, &[]);
        let out = m.param("(setting)").map(|i| (params[i], m.params[i].dim));
        (out, d)
    }
}

fn example_unit(d: &Dim) -> String {
    let (u, _) = units::display_unit(d);
    format!("1 {u}")
}

fn run(path: &Path, o: &RunOpts) -> i32 {
    let c = match compile_path(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    report(&c, &c.diagnostics.list);
    if c.diagnostics.has_errors() {
        return 1;
    }
    let mut ctx = RunCtx { c, diags: Diagnostics::default(), scope: Vec::new() };
    let result = configure_and_run(&mut ctx, o);
    if !ctx.diags.is_empty() {
        report(&ctx.c, &ctx.diags.list);
    }
    result.unwrap_or(1)
}

fn configure_and_run(ctx: &mut RunCtx, o: &RunOpts) -> Option<i32> {
    let c = &ctx.c;
    let root_span = Span::new(c.root, 0..0);
    let sim_block = match &o.model {
        Some(name) => c.library.simulate.iter().find(|s| &s.target.name == name).cloned(),
        None => c.library.simulate.first().cloned(),
    };
    let name = match (&o.model, &sim_block) {
        (Some(n), _) => n.clone(),
        (None, Some(s)) => s.target.name.clone(),
        (None, None) => {
            let root: Vec<&ast::Model> = c.library.root_models.iter().map(|&i| &c.library.models[i]).collect();
            let runnable: Vec<&&ast::Model> =
                root.iter().filter(|m| matches!(m.kind, ModelKind::Neuron | ModelKind::Rate)).collect();
            match runnable.as_slice() {
                [one] => one.name.name.clone(),
                [] if root.len() == 1 => root[0].name.name.clone(),
                _ => {
                    let names: Vec<String> = root.iter().map(|m| m.name.name.clone()).collect();
                    ctx.fail(
                        Diagnostic::error(
                            Code::NoModel,
                            if names.is_empty() { "this file has no model to run".to_string() } else { format!("which model? this file has {}", names.join(", ")) },
                        )
                        .at(root_span, "")
                        .help("choose one with `--model NAME`, or add `simulate NAME { dt = 0.01 ms, duration = 100 ms }`"),
                    );
                    return None;
                }
            }
        }
    };
    let Some(ast_model) = c.library.get(&name) else {
        let names = c.library.all_names();
        let mut d = Diagnostic::error(Code::NoModel, format!("no model named `{name}`"));
        d = match &sim_block {
            Some(s) if o.model.is_none() => d.at(s.target.span, "named by this simulate block"),
            _ => d.at(root_span, ""),
        };
        d = match diag::did_you_mean(&name, names.iter().map(String::as_str)) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None => d.help(format!("models here: {}", names.join(", "))),
        };
        ctx.fail(d);
        return None;
    };
    let kind = ast_model.kind;
    let model_span = ast_model.name.span;
    if kind == ModelKind::Network {
        let net = ast_model.clone();
        return run_network(ctx, o, &net, sim_block.as_ref());
    }
    if kind == ModelKind::Density {
        return density::run(ctx, o, &name, sim_block.as_ref());
    }
    if kind == ModelKind::Field {
        return field::run(ctx, o, &name, sim_block.as_ref());
    }
    if !matches!(kind, ModelKind::Neuron | ModelKind::Rate | ModelKind::Synapse | ModelKind::Plasticity) {
        let help = match kind {
            ModelKind::Channel => "a channel runs inside a neuron: `neuron N { state V = -65 mV; use Channel; ... }`",
            _ => "this kind parses and is checked; its simulation comes in a later release (see docs/language.md)",
        };
        ctx.fail(
            Diagnostic::error(Code::NotSimulatedYet, format!("{} models are not simulated yet", kind.keyword()))
                .at(model_span, format!("`{name}` is a {}", kind.keyword()))
                .help(help),
        );
        return None;
    }
    // every reachable model was lowered by `compile`; errors were reported
    let Some(model) = c.model(&name).cloned() else {
        return Some(1);
    };
    if let Some(p) = model.pending.first() {
        ctx.fail(
            Diagnostic::error(Code::NotSimulatedYet, format!("a {} is not simulated yet", p.what))
                .at(p.span, "not simulated yet")
                .help("kinetic schemes are checked but cannot run in this release"),
        );
        return None;
    }
    let mut model = model;
    if o.no_tables {
        model.tables.clear();
    }
    ctx.table_flags(&o.table, &mut [&mut model])?;

    // Settings: the simulate block, then flags.
    let mut dt = 1e-5;
    let mut duration = 0.1;
    let mut method = model.method.as_ref().and_then(|(m, _)| Method::parse(m)).unwrap_or(Method::Auto);
    let time = units::dims::time();
    let mut n_neurons: usize = 1;
    let mut seed: u64 = 1;
    let mut spike_train: Option<ast::Expr> = None;
    let mut weight_setting: Option<ast::Expr> = None;
    // parameters and initial values spread over the population
    let mut spreads: Vec<(Target, Spread)> = Vec::new();
    let mut block_constants: Vec<(usize, f64, Span)> = Vec::new();
    if let Some(s) = &sim_block {
        for b in &s.settings {
            let target = match (model.param(&b.name.name), model.state(&b.name.name)) {
                (Some(p), _) => Some(Target::Param(p)),
                (None, Some(s)) => Some(Target::State(s)),
                _ => None,
            };
            if let Some(target) = target {
                let dim = match target {
                    Target::Param(p) => model.params[p].dim,
                    Target::State(s) => model.states[s].dim,
                };
                let what = format!("`{}`", b.name.name);
                let dist = ctx.spread(&b.value, dim, &what)?;
                match (dist, target) {
                    (Some(d), _) => spreads.push((target, d)),
                    (None, Target::Param(p)) => {
                        let v = ctx.constant(&b.value, dim, &what)?;
                        block_constants.push((p, v, b.value.span));
                    }
                    (None, Target::State(_)) => {
                        let v = ctx.constant(&b.value, dim, &what)?;
                        spreads.push((target, Spread::Linspace(v, v)));
                    }
                }
                continue;
            }
            match b.name.name.as_str() {
                "n" => {
                    let v = ctx.constant(&b.value, Dim::NONE, "`n`")?;
                    if !(v >= 1.0 && v.fract() == 0.0 && v <= 1e9) {
                        return ctx.reject(
                            "`n` must be a whole number of neurons, at least 1",
                            b.value.span,
                            "not a neuron count",
                            "e.g. `n = 100000`",
                        );
                    }
                    n_neurons = v as usize;
                }
                "dt" => dt = ctx.constant(&b.value, time, "`dt`")?,
                "duration" => duration = ctx.constant(&b.value, time, "`duration`")?,
                "seed" => {
                    seed = ctx.constant(&b.value, Dim::NONE, "`seed`")? as u64;
                }
                "spikes" => spike_train = Some(b.value.clone()),
                "weight" => weight_setting = Some(b.value.clone()),
                "method" => match &b.value.kind {
                    ast::ExprKind::Name(n) if Method::parse(n).is_some() => method = Method::parse(n)?,
                    _ => {
                        let d = unknown_method(b.value.span, ctx.c.sources.snippet(b.value.span));
                        ctx.fail(d);
                        return None;
                    }
                },
                other => {
                    return ctx.reject(format!("unknown simulation setting `{other}`"), b.name.span, "not a setting", "settings: dt, duration, method, seed, n, spikes, weight, and parameters of the model (`I_amp = linspace(0 uA/cm^2, 20 uA/cm^2)`)");
                }
            }
        }
    }
    time_flags(ctx, o, &mut dt, &mut duration, 1e10, sim_block.as_ref().map_or(root_span, |s| s.span))?;
    if let Some(m) = &o.method {
        match Method::parse(m) {
            Some(x) => method = x,
            None => {
                let f = ctx.arg_source("--method", m);
                ctx.fail(unknown_method(Span::new(f, 0..m.len()), m));
                return None;
            }
        }
    }
    let sample_every = match &o.sample {
        Some(s) => {
            let every = ctx.constant_arg("--sample", s, time, "`--sample`")?;
            ((every / dt).round() as usize).max(1)
        }
        None => 1,
    };

    // Overrides.
    let mut param_overrides = vec![None; model.params.len()];
    let mut value_overrides = vec![None; model.values.len()];
    for (p, v, span) in &block_constants {
        let node = model.arena.add(NodeKind::Const(*v), Ty::Num(model.params[*p].dim), *span);
        param_overrides[*p] = Some(node);
    }
    if let Some(n) = o.neurons {
        n_neurons = n.max(1);
    }
    apply_sets(ctx, &mut model, &o.set, &mut param_overrides, &mut value_overrides)?;

    // What to record.
    let mut record = Vec::new();
    if o.record.is_empty() {
        for (i, s) in model.states.iter().enumerate() {
            if s.gate.is_none() {
                record.push(Probe::State(i));
            }
        }
    }
    for r in &o.record {
        if let Some(i) = model.state(r) {
            record.push(Probe::State(i));
        } else if let Some(i) = model.value(r) {
            record.push(Probe::Value(i));
        } else {
            let file = ctx.arg_source("--record", r);
            let mut names: Vec<String> = model.states.iter().map(|s| s.name.clone()).collect();
            names.extend(model.values.iter().map(|v| v.name.clone()));
            let mut d =
                Diagnostic::error(Code::UnknownRecord, format!("`{r}` is not a state or value of `{}`", model.name))
                    .at(Span::new(file, 0..r.len()), "cannot record this");
            d = match diag::did_you_mean(r, names.iter().map(String::as_str)) {
                Some(x) => d.help(format!("did you mean `{x}`?")),
                None => d.help(format!("recordable: {}", names.join(", "))),
            };
            ctx.fail(d);
            return None;
        }
    }

    // `--set` wins over a spread in the simulate block. Values are drawn
    // once, per quantity, from the seed.
    spreads.retain(|(t, _)| !matches!(t, Target::Param(p) if param_overrides[*p].is_some()));
    let mut per_neuron: Vec<(usize, Vec<f64>)> = Vec::new();
    let mut init_per_neuron: Vec<(usize, Vec<f64>)> = Vec::new();
    for (k, (target, dist)) in spreads.iter().enumerate() {
        let vals = runtime::spikegen::spread(*dist, n_neurons, seed, k as u64 + 1);
        match *target {
            // one neuron: a parameter is an override
            Target::Param(p) if n_neurons == 1 => {
                let node =
                    model.arena.add(NodeKind::Const(vals[0]), Ty::Num(model.params[p].dim), model.params[p].span);
                param_overrides[p] = Some(node);
            }
            Target::Param(p) => per_neuron.push((p, vals)),
            Target::State(s) => init_per_neuron.push((s, vals)),
        }
    }
    // A presynaptic spike train from the simulate block.
    let mut input_spikes: Vec<(f64, f64)> = Vec::new();
    if let Some(train) = &spike_train {
        let handler = model.events.iter().find_map(|e| match e.trigger {
            ir::Trigger::Spike { weight_dim, .. } => Some(weight_dim),
            _ => None,
        });
        let Some(weight_dim) = handler else {
            ctx.fail(
                Diagnostic::error(
                    Code::BadSetting,
                    format!("`{}` has no `on spike` event to receive spikes", model.name),
                )
                .at(train.span, "a spike train for a model that cannot receive it")
                .help("add `on spike(w: nS) { g += w }` to the model, or remove `spikes`"),
            );
            return None;
        };
        let w = match (&weight_setting, weight_dim) {
            (Some(e), Some(d)) => ctx.constant(e, d, "`weight`")?,
            (None, Some(d)) if !d.is_dimensionless() => {
                return ctx.reject(
                    "the spikes need a `weight`",
                    train.span,
                    "spikes without a weight",
                    format!("add `weight = ...` in {}", units::pretty(&d)),
                );
            }
            _ => 1.0,
        };
        let times = spike_times(ctx, train, duration, seed)?;
        input_spikes = times.into_iter().map(|t| (t, w)).collect();
    }
    let (plan, d) = schemes::derive_plan(&mut model, method);
    ctx.diags.extend(d);
    let plan = plan?;
    let cfg = runtime::Config {
        dt,
        duration,
        record: record.clone(),
        sample_every,
        param_overrides,
        value_overrides,
        rtol: 1e-8,
        progress: !o.quiet,
        input_spikes,
        init_overrides: init_per_neuron.iter().map(|(s, v)| (*s, v[0])).collect(),
    };
    // Which back end: the JIT unless asked otherwise; spike trains and
    // synapse or plasticity models run on the reference interpreter.
    let needs_reference = !cfg.input_spikes.is_empty() || matches!(kind, ModelKind::Synapse | ModelKind::Plasticity);
    if needs_reference && matches!(o.backend, Some(BackendArg::Jit | BackendArg::Interp)) {
        return ctx.reject(
            "spike trains and synapse models run on the reference interpreter",
            sim_block.as_ref().map_or(root_span, |s| s.span),
            "needs --backend reference",
            "drop --backend, or use --backend reference",
        );
    }
    let mut backend = if needs_reference { BackendArg::Reference } else { o.backend.unwrap_or(BackendArg::Jit) };
    if backend == BackendArg::Reference && (n_neurons > 1 || !per_neuron.is_empty()) {
        return ctx.reject(
            "the reference interpreter simulates one neuron",
            sim_block.as_ref().map_or(root_span, |s| s.span),
            format!("{n_neurons} neurons asked for"),
            "use --backend jit (the default) or interp for populations",
        );
    }
    let start = std::time::Instant::now();
    let mut backend_note = String::new();
    let mut pop_means: Vec<(String, Vec<f64>)> = Vec::new();
    let rec = loop {
        if backend == BackendArg::Reference {
            if !model.tables.is_empty() {
                backend_note = "; rate tables unused: the reference interpreter computes every rate".into();
            }
            match runtime::simulate(&model, &plan, &cfg) {
                Ok(r) => break r,
                Err(d) => {
                    ctx.fail(*d);
                    return None;
                }
            }
        }
        let pop = runtime::population::PopConfig {
            n: n_neurons,
            dt,
            duration,
            per_neuron: per_neuron.clone(),
            param_overrides: cfg.param_overrides.clone(),
            value_overrides: cfg.value_overrides.clone(),
            init_per_neuron: init_per_neuron.clone(),
            record: record.clone(),
            sample_every,
            // a population also records the mean of every recorded state
            mean_of: if n_neurons > 1 {
                record.iter().filter_map(|p| if let Probe::State(s) = p { Some(*s) } else { None }).collect()
            } else {
                vec![]
            },
            threads: o.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1),
            backend: if backend == BackendArg::Interp {
                runtime::population::Backend::Interp
            } else {
                runtime::population::Backend::Jit
            },
            optimize: false,
        };
        match runtime::population::simulate(&model, &plan, &pop) {
            Ok(r) => {
                backend_note = if backend == BackendArg::Jit {
                    format!(", jit {:.1} ms, {} kernel ops", r.compile_seconds * 1e3, r.kernel_insts)
                } else {
                    format!(", kernel interpreter, {} kernel ops", r.kernel_insts)
                };
                for note in &r.tables {
                    backend_note.push_str("; ");
                    backend_note.push_str(note);
                }
                for w in r.warnings {
                    ctx.fail(w);
                }
                pop_means = r.means;
                break r.rec;
            }
            Err(d) if o.backend.is_none() && n_neurons == 1 && d.code == Code::NotInKernel => {
                eprintln!("note: {}; running on the reference interpreter", d.message);
                backend = BackendArg::Reference;
            }
            Err(d) => {
                ctx.fail(*d);
                return None;
            }
        }
    };
    let wall = start.elapsed().as_secs_f64();
    let columns: Vec<output::Column> = record
        .iter()
        .zip(&rec.traces)
        .map(|(p, (name, samples))| {
            let (unit, dim) = match p {
                Probe::State(i) => (model.states[*i].unit.clone(), model.states[*i].dim),
                Probe::Value(i) => (model.values[*i].unit.clone(), model.values[*i].dim),
            };
            let (text, scale) = match unit {
                Some(u) if u.scale.is_finite() && u.scale != 0.0 && !u.text.contains("degC") => (u.text, u.scale),
                _ => units::display_unit(&dim),
            };
            output::Column { name, unit: text, scale, samples }
        })
        .collect();
    let format = match o.format {
        FormatArg::Csv => output::Format::Csv,
        FormatArg::Npy => output::Format::Npy,
    };
    let files = match output::write(&o.output, &rec, &columns, format) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: cannot write to `{}`: {e}", o.output.display());
            return Some(2);
        }
    };
    let mut files = files;
    for ((name, trace), s) in pop_means.iter().zip(record.iter().filter_map(|p| match p {
        Probe::State(s) => Some(*s),
        _ => None,
    })) {
        let st = &model.states[s];
        let (text, scale) = match &st.unit {
            Some(u) if u.scale.is_finite() && u.scale != 0.0 && !u.text.contains("degC") => (u.text.clone(), u.scale),
            _ => units::display_unit(&st.dim),
        };
        let u = output::header_unit(&text);
        let head = if u.is_empty() || u == "1" { name.clone() } else { format!("{name}_{u}") };
        let t_ms: Vec<f64> = rec.t.iter().map(|t| t * 1e3).collect();
        let vals: Vec<f64> = trace.iter().map(|v| v / scale).collect();
        match output::write_table(&o.output, name, &["t_ms".into(), head], &[&t_ms, &vals], format) {
            Ok(f) => files.push(f),
            Err(e) => {
                eprintln!("error: cannot write to `{}`: {e}", o.output.display());
                return Some(2);
            }
        }
    }
    if !rec.outputs.is_empty() {
        if let Err(e) = output::write_outputs(&o.output, &rec.outputs) {
            eprintln!("error: cannot write to `{}`: {e}", o.output.display());
            return Some(2);
        }
    }
    let who = if n_neurons > 1 { format!("{} x {}", n_neurons, model.name) } else { model.name.clone() };
    println!(
        "{}: {} spike{} in {} ms ({}, dt = {} ms, {} steps{backend_note}) in {:.3} s; wrote {} file{} to {}",
        who,
        rec.spikes.len(),
        if rec.spikes.len() == 1 { "" } else { "s" },
        units::format_number(duration * 1e3),
        plan.summary(method),
        units::format_number(dt * 1e3),
        rec.steps,
        wall,
        files.len(),
        if files.len() == 1 { "" } else { "s" },
        o.output.display()
    );
    Some(0)
}

/// `explain` for a network: its statements, each population's ports, and
/// for every connection how it is delivered (a port, or a synapse model
/// inserted into the target and lumped, or why it cannot be).
fn explain_network(ctx: &RunCtx, name: &str) -> String {
    use std::fmt::Write as _;
    let mut out = format!("network {name}\n");
    let Some(net) = ctx.c.library.get(name) else { return out };
    let mut models: Vec<(String, String)> = Vec::new(); // population -> model
    for stmt in &net.stmts {
        let text = ctx.c.sources.snippet(stmt.span).split_whitespace().collect::<Vec<_>>().join(" ");
        match &stmt.kind {
            ast::StmtKind::Population { name, model, .. } => {
                models.push((name.name.clone(), model.name.clone()));
                let ports = ctx.c.model(&model.name).map(neuroc::runtime::network::ports).unwrap_or_default();
                let ports: Vec<String> = ports
                    .iter()
                    .map(|(p, d)| match d {
                        Some(d) => format!("{p} ({})", units::pretty(d)),
                        None => p.clone(),
                    })
                    .collect();
                let _ = writeln!(out, "  {text}");
                if !ports.is_empty() {
                    let _ = writeln!(out, "    input ports: {}", ports.join(", "));
                }
            }
            ast::StmtKind::Connect { via, to, .. } => {
                let _ = writeln!(out, "  {text}");
                let how = match ctx.c.model(&via.name).filter(|m| m.kind == ModelKind::Synapse) {
                    Some(syn) => match neuroc::runtime::network::lumpable(syn) {
                        Ok(()) => format!(
                            "synapse `{}` inserted into each target neuron that lacks it; its synapses onto a neuron share one set of states (exact: linear kinetics, additive weight-linear spikes, linear currents); its current joins `currents`",
                            via.name
                        ),
                        Err(why) => format!("synapse `{}` cannot be lumped ({why}): E0404 when run", via.name),
                    },
                    None => {
                        let targets: Vec<String> = to
                            .iter()
                            .map(|t| match models.iter().find(|(p, _)| *p == t.name) {
                                Some((p, m)) => format!("{p} ({m})"),
                                None => t.name.clone(),
                            })
                            .collect();
                        format!("delivered to the input port `{}` of {}", via.name, targets.join(", "))
                    }
                };
                let _ = writeln!(out, "    {how}; stored by source (CSR), delayed through ring buffers");
            }
            ast::StmtKind::Parameter(_) | ast::StmtKind::Drive { .. } | ast::StmtKind::Record(_) => {
                let _ = writeln!(out, "  {text}");
            }
            _ => {
                let _ = writeln!(out, "  {text}    (not simulated yet)");
            }
        }
    }
    let _ = writeln!(
        out,
        "  each population runs as one fused kernel (see its neuron above); spikes are delivered in neuron order, so results do not depend on --threads"
    );
    out
}

/// `--sample`: every how many steps to record (at least one, at most the
/// whole run); `default` steps when not given. E0503 for a value that is not
/// a positive duration.
fn sample_steps(ctx: &mut RunCtx, o: &RunOpts, dt: f64, duration: f64, default: usize) -> Option<usize> {
    let steps = ((duration / dt).round() as usize).max(1);
    let Some(text) = &o.sample else { return Some(default.clamp(1, steps)) };
    let every = ctx.constant_arg("--sample", text, units::dims::time(), "`--sample`")?;
    if !(every > 0.0 && every.is_finite()) {
        let file = ctx.arg_source("--sample", text);
        return ctx.reject(
            "`--sample` must be a positive duration",
            Span::new(file, 0..text.len()),
            "not a positive duration",
            "e.g. --sample 1ms",
        );
    }
    Some(((every / dt).round() as usize).clamp(1, steps))
}

/// `--dt` and `--duration` over the simulate block's values, then the check
/// that the run is possible (at most `max_steps` steps); E0503 at `span`.
fn time_flags(
    ctx: &mut RunCtx,
    o: &RunOpts,
    dt: &mut f64,
    duration: &mut f64,
    max_steps: f64,
    span: Span,
) -> Option<()> {
    let time = units::dims::time();
    if let Some(t) = &o.dt {
        *dt = ctx.constant_arg("--dt", t, time, "`--dt`")?;
    }
    if let Some(t) = &o.duration {
        *duration = ctx.constant_arg("--duration", t, time, "`--duration`")?;
    }
    let (dt, duration) = (*dt, *duration);
    if !(dt > 0.0 && dt.is_finite() && duration >= 0.0 && duration.is_finite()) || duration / dt > max_steps {
        ctx.fail(
            Diagnostic::error(
                Code::BadSetting,
                format!(
                    "dt = {} ms and duration = {} ms cannot be simulated",
                    units::format_number(dt * 1e3),
                    units::format_number(duration * 1e3)
                ),
            )
            .at(span, "settings")
            .help(format!("dt must be positive, duration non-negative, and at most {max_steps:e} steps")),
        );
        return None;
    }
    Some(())
}

/// `--set NAME=VALUE` flags: overrides of parameters and inputs, checked
/// against the model's names and dimensions.
fn apply_sets(
    ctx: &mut RunCtx,
    model: &mut ir::Model,
    sets: &[String],
    param_overrides: &mut [Option<ir::ExprId>],
    value_overrides: &mut [Option<ir::ExprId>],
) -> Option<()> {
    for s in sets {
        let file = ctx.arg_source("--set", s);
        let Some((name, value)) = s.split_once('=') else {
            ctx.fail(
                Diagnostic::error(Code::UnknownOverride, format!("`--set {s}` needs NAME=VALUE"))
                    .at(Span::new(file, 0..s.len()), "no `=`")
                    .help("for example: --set I_ext=8.5uA/cm^2"),
            );
            return None;
        };
        let name = name.trim();
        let target = if let Some(i) = model.param(name) {
            Some((true, i, model.params[i].dim))
        } else if let Some(i) = model.values.iter().position(|v| v.name == name && v.kind == ir::ValueKind::Input) {
            Some((false, i, model.values[i].dim))
        } else {
            None
        };
        let Some((is_param, i, dim)) = target else {
            let mut names: Vec<String> = model.params.iter().map(|p| p.name.clone()).collect();
            names.extend(model.values.iter().filter(|v| v.kind == ir::ValueKind::Input).map(|v| v.name.clone()));
            let mut d = Diagnostic::error(
                Code::UnknownOverride,
                format!("`{name}` is not a parameter or input of `{}`", model.name),
            )
            .at(Span::new(file, 0..name.len()), "unknown name");
            d = match diag::did_you_mean(name, names.iter().map(String::as_str)) {
                Some(x) => d.help(format!("did you mean `{x}`?")),
                None => d.help(format!("parameters and inputs: {}", names.join(", "))),
            };
            ctx.fail(d);
            return None;
        };
        let offset = s.len() - value.len();
        let vtext = format!("{}{}", " ".repeat(offset), value);
        let vfile = ctx.arg_source("--set", &vtext);
        let (expr, d) = neuroc::syntax::parse_expr(vfile, &vtext);
        ctx.diags.extend(d);
        let expr = expr?;
        let v = ctx.constant(&expr, dim, &format!("`{name}`"))?;
        let node = model.arena.add(NodeKind::Const(v), Ty::Num(dim), expr.span);
        if is_param {
            param_overrides[i] = Some(node);
        } else {
            value_overrides[i] = Some(node);
        }
    }
    Some(())
}

/// The fused kernel of a model and the Cranelift IR it compiles to.
fn print_kernel(m: &neuroc::ir::Model, method: Method, dt: f64) {
    let mut m = m.clone();
    let (plan, _) = schemes::derive_plan(&mut m, method);
    let Some(plan) = plan else { return };
    let params = neuroc::ir::eval::eval_params(&m, &[]);
    match neuroc::kernel::build(&m, &plan, &params, &[], &[], dt) {
        Ok(k) => {
            println!("  fused kernel ({} ops, dt = {} ms):", k.insts.len(), units::format_number(dt * 1e3));
            for (i, inst) in k.insts.iter().enumerate() {
                println!("    v{i} = {inst:?}");
            }
            for (s, v) in k.states.iter().zip(&k.stores) {
                println!("    store {s} <- v{v}");
            }
            match neuroc::codegen::jit::compile(&k, false) {
                Ok(c) => {
                    println!("  Cranelift IR (compiled in {:.2} ms):", c.compile_seconds * 1e3);
                    print!("{}", c.ir);
                }
                Err(e) => println!("  JIT: {e}"),
            }
        }
        Err(neuroc::kernel::Unsupported(why)) => println!("  no fused kernel: {why}"),
    }
}

/// Runs a `network` model: its populations, connections, and the simulate
/// block's dt, duration, seed and initial-value spreads.
fn run_network(ctx: &mut RunCtx, o: &RunOpts, net: &ast::Model, sim: Option<&ast::Simulate>) -> Option<i32> {
    use neuroc::runtime::network::{self, Connection, NetConfig, Network, Population};
    let time = units::dims::time();
    let mut dt = 1e-4;
    let mut duration = 1.0;
    let mut seed = 1u64;
    let mut init: Vec<(String, Spread)> = Vec::new();
    let mut param_spreads: Vec<(String, Spread)> = Vec::new();
    let mut pops: Vec<Population> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for stmt in &net.stmts {
        if let ast::StmtKind::Population { name, size, model } = &stmt.kind {
            let Some(mut m) = ctx.c.model(&model.name).cloned() else { return Some(1) };
            if o.no_tables {
                m.tables.clear();
            }
            if m.kind != ModelKind::Neuron && m.kind != ModelKind::Rate {
                ctx.fail(
                    Diagnostic::error(
                        Code::WrongKind,
                        format!("`{}` is a {}, not a neuron", model.name, m.kind.keyword()),
                    )
                    .at(model.span, "populations are made of neurons")
                    .help("use a neuron model"),
                );
                return None;
            }
            names.push(name.name.clone());
            if !(1..=100_000_000).contains(size) {
                return ctx.reject(
                    format!("a population of {size} neurons"),
                    stmt.span,
                    "this population",
                    "a population has from 1 to 100,000,000 neurons",
                );
            }
            pops.push(Population { name: name.name.clone(), model: m, count: *size as usize });
        }
    }
    let find = |ctx: &mut RunCtx, names: &[String], id: &ast::Ident| -> Option<usize> {
        let found = names.iter().position(|n| *n == id.name);
        if found.is_none() {
            ctx.fail(
                Diagnostic::error(Code::UnknownName, format!("no population named `{}`", id.name))
                    .at(id.span, "not a population of this network")
                    .help(format!("populations: {}", names.join(", "))),
            );
        }
        found
    };
    // (port, source populations, target populations, settings, span, file)
    type Pending = (ast::Ident, Vec<usize>, Vec<usize>, Vec<ast::Binding>, Span, Option<(String, Span)>);
    let mut conns: Vec<Pending> = Vec::new();
    // (target populations, generator, settings, port, span)
    type PendingDrive = (Vec<usize>, ast::Ident, Vec<ast::Binding>, Option<ast::Ident>, Span);
    let mut drives_pending: Vec<PendingDrive> = Vec::new();
    for stmt in &net.stmts {
        match &stmt.kind {
            ast::StmtKind::Connect { from, to, via, settings, file } => {
                let mut a = Vec::new();
                for f in from {
                    a.push(find(ctx, &names, f)?);
                }
                let mut b = Vec::new();
                for t in to {
                    b.push(find(ctx, &names, t)?);
                }
                conns.push((via.clone(), a, b, settings.clone(), stmt.span, file.clone()));
            }
            ast::StmtKind::Drive { targets, source, settings, via } => {
                if source.name != "poisson" && source.name != "spikes" {
                    ctx.fail(
                        Diagnostic::error(
                            Code::NotSimulatedYet,
                            format!("`{}` drives are not simulated yet", source.name),
                        )
                        .at(source.span, "not a generator")
                        .help("drive with `poisson(rate = ..., n = ..., w = ...) via PORT` or `spikes(times = at(5 ms, 12 ms), w = ...) via PORT`"),
                    );
                    return None;
                }
                let mut b = Vec::new();
                for t in targets {
                    b.push(find(ctx, &names, t)?);
                }
                drives_pending.push((b, source.clone(), settings.clone(), via.clone(), stmt.span));
            }
            ast::StmtKind::Population { .. } | ast::StmtKind::Record(_) => {}
            ast::StmtKind::Parameter(bs) => ctx.scope.extend(bs.iter().cloned()),
            _ => {
                ctx.fail(
                    Diagnostic::error(Code::NotSimulatedYet, "this network statement is not simulated yet")
                        .at(stmt.span, "not simulated yet")
                        .help("networks run populations, `connect` and `record spikes(...)` today"),
                );
                return None;
            }
        }
    }
    // Connections `via` a synapse model the target neuron does not use: the
    // compiler inserts the synapse into the neuron (one set of states per
    // neuron, shared by all such synapses: lumping), when its kinetics are
    // linear; the neuron's `currents` then include the synapse's current.
    let mut inserted: Vec<Vec<ast::Ident>> = vec![Vec::new(); pops.len()];
    for (via, _, to, _, _, _) in &conns {
        let Some(syn) = ctx.c.library.get(&via.name) else { continue };
        if syn.kind != ModelKind::Synapse {
            continue;
        }
        for &b in to {
            let has_port = network::ports(&pops[b].model).iter().any(|(p, _)| *p == via.name);
            if !has_port && !inserted[b].iter().any(|x| x.name == via.name) {
                inserted[b].push(via.clone());
            }
        }
    }
    for (b, syns) in inserted.iter().enumerate() {
        if syns.is_empty() {
            continue;
        }
        for syn in syns {
            let Some(sm) = ctx.c.model(&syn.name).cloned() else { return Some(1) };
            if let Err(why) = network::lumpable(&sm) {
                ctx.fail(
                    Diagnostic::error(Code::NotInKernel, format!("synapse `{}` cannot be lumped: {why}", syn.name))
                        .at(syn.span, "a synapse model on a connection")
                        .help("synapses on connections share one set of states per target neuron, which needs linear kinetics; per-synapse states are not built yet"),
                );
                return None;
            }
        }
        let target = pops[b].model.name.clone();
        let Some(neuron_ast) = ctx.c.library.get(&target).cloned() else { return Some(1) };
        let mut with = neuron_ast.clone();
        with.stmts.push(ast::Stmt { kind: ast::StmtKind::Use(syns.clone()), span: syns[0].span });
        let (m, d) = ir::lower::lower_model(&ctx.c.library, &with);
        let errors = d.has_errors();
        ctx.diags.extend(d);
        let m = m.filter(|_| !errors)?;
        if !uses_currents(&m) {
            ctx.fail(
                Diagnostic::error(
                    Code::MissingAmbient,
                    format!("`{target}` has no `currents` in its equations to take the synapse's current"),
                )
                .at(syns[0].span, "a synapse model on a connection")
                .help("write the membrane equation with `currents` (the sum of inserted channels' and synapses' currents, outward positive): `dV/dt = (I_e - currents) / C_m`"),
            );
            return None;
        }
        pops[b].model = m;
    }
    // `--set NAME=VALUE` of a network parameter
    for text in &o.set {
        let Some((name, value)) = text.split_once('=') else {
            let file = ctx.arg_source("--set", text);
            ctx.fail(
                Diagnostic::error(Code::UnknownOverride, format!("`--set {text}` needs NAME=VALUE"))
                    .at(Span::new(file, 0..text.len()), "no `=`")
                    .help("for example: --set K=1600"),
            );
            return None;
        };
        let name = name.trim();
        let Some(k) = ctx.scope.iter().position(|b| b.name.name == name) else {
            let names: Vec<String> = ctx.scope.iter().map(|b| b.name.name.clone()).collect();
            let file = ctx.arg_source("--set", text);
            ctx.fail(
                Diagnostic::error(Code::UnknownOverride, format!("`{name}` is not a parameter of `{}`", net.name.name))
                    .at(Span::new(file, 0..name.len()), "unknown name")
                    .help(if names.is_empty() {
                        "this network has no parameters".to_string()
                    } else {
                        format!("parameters: {}", names.join(", "))
                    }),
            );
            return None;
        };
        let offset = text.len() - value.len();
        let vtext = format!("{}{}", " ".repeat(offset), value);
        let vfile = ctx.arg_source("--set", &vtext);
        let (expr, d) = neuroc::syntax::parse_expr(vfile, &vtext);
        ctx.diags.extend(d);
        ctx.scope[k].value = expr?;
    }
    if let Some(s) = sim {
        for b in &s.settings {
            match (b.name.name.as_str(), &b.value.kind) {
                ("dt", _) => dt = ctx.constant(&b.value, time, "`dt`")?,
                ("duration", _) => duration = ctx.constant(&b.value, time, "`duration`")?,
                ("seed", _) => seed = ctx.constant(&b.value, Dim::NONE, "`seed`")? as u64,
                // a parameter of some population: per neuron, from a spread or a constant
                (param, _)
                    if pops.iter().any(|p| p.model.param(param).is_some())
                        && !pops.iter().any(|p| p.model.state(param).is_some()) =>
                {
                    let dim = pops.iter().find_map(|p| p.model.param(param).map(|i| p.model.params[i].dim));
                    let dim = dim.unwrap_or(Dim::NONE);
                    let spread = match ctx.spread(&b.value, dim, &format!("`{param}`"))? {
                        Some(sp) => sp,
                        None => {
                            let v = ctx.constant(&b.value, dim, &format!("`{param}`"))?;
                            Spread::Linspace(v, v)
                        }
                    };
                    param_spreads.push((param.to_string(), spread));
                }
                (state, ast::ExprKind::Call(..)) => {
                    let Some(dim) = pops.iter().find_map(|p| p.model.state(state).map(|i| p.model.states[i].dim))
                    else {
                        return ctx.reject(
                            format!("no population has a state `{state}`"),
                            b.name.span,
                            "not a state",
                            "spread initial values of a state: `V = uniform(-70 mV, -50 mV)`",
                        );
                    };
                    let Some(spread) = ctx.spread(&b.value, dim, "the spread")? else {
                        return ctx.reject(
                            format!("`{state}` is spread by an unknown function"),
                            b.value.span,
                            "not a spread",
                            "`uniform(lo, hi)`, `normal(mean, sd)` or `linspace(lo, hi)`",
                        );
                    };
                    init.push((state.to_string(), spread));
                }
                (other, _) => {
                    return ctx.reject(format!("unknown network setting `{other}`"), b.name.span, "not a setting", "settings: dt, duration, seed, initial-value spreads `STATE = uniform(lo, hi)`, and parameters per neuron `tau_m = normal(20 ms, 2 ms)`");
                }
            }
        }
    }
    time_flags(ctx, o, &mut dt, &mut duration, 1e9, sim.map_or(net.span, |s| s.span))?;
    let mut connections = Vec::new();
    for (via, from, to, settings, span, file) in &conns {
        // `file "conn.csv"`: the synapses listed there, between one source
        // and one target population
        let table = match file {
            None => None,
            Some((path, fspan)) => {
                if from.len() != 1 || to.len() != 1 {
                    return ctx.reject(
                        "a connection file joins one population to one population",
                        *span,
                        "several populations",
                        "write one `connect A -> B via PORT file \"a_to_b.csv\"` per pair",
                    );
                }
                let base = ctx.c.sources.path(fspan.file).and_then(|p| p.parent().map(|d| d.to_path_buf()));
                let full = base.map_or_else(|| PathBuf::from(path), |d| d.join(path));
                match read_synapse_table(&full, pops[from[0]].count, pops[to[0]].count) {
                    Ok(t) => Some(std::sync::Arc::new(t)),
                    Err(why) => {
                        return ctx.reject(format!("cannot use `{}`: {why}", full.display()), *fspan, "this file", "a CSV with a header `pre,post[,weight][,delay_ms]` (neurons numbered within the source and the target population from 0, weights in SI units), or an NPY array of those columns");
                    }
                }
            }
        };
        for &b in to {
            let target = &pops[b].model;
            let wdim = port_weight(ctx, target, via)?;
            let (mut p, mut w, mut delay) = (1.0, 0.0, dt);
            let (mut w_spread, mut delay_range) = (None, None);
            let mut indegree: Option<f64> = None;
            let mut one_to_one = false;
            let mut stp: Option<std::sync::Arc<network::Stp>> = None;
            for s in settings {
                match s.name.name.as_str() {
                    "plasticity" => {
                        let model = match &s.value.kind {
                            ast::ExprKind::Name(n) => {
                                ctx.c.model(n).filter(|m| m.kind == ModelKind::Plasticity).cloned()
                            }
                            _ => None,
                        };
                        let Some(model) = model else {
                            ctx.fail(
                                Diagnostic::error(Code::UnknownModel, "`plasticity` names a plasticity model")
                                    .at(s.value.span, "not a plasticity model")
                                    .help("e.g. `plasticity = TMDepressing` after `import \"plasticity.neuro\"`"),
                            );
                            return None;
                        };
                        match network::Stp::new(&model) {
                            Ok(x) => stp = Some(std::sync::Arc::new(x)),
                            Err(why) => {
                                ctx.fail(
                                    Diagnostic::error(Code::NotInKernel, format!("plasticity `{}` cannot run on a connection: {why}", model.name))
                                        .at(s.value.span, "this plasticity")
                                        .help("connections integrate plasticity exactly between spikes, which needs equations linear with constant coefficients"),
                                );
                                return None;
                            }
                        }
                    }
                    "rule" => {
                        match &s.value.kind {
                            ast::ExprKind::Name(r) if r == "one_to_one" => one_to_one = true,
                            ast::ExprKind::Name(r) if r == "all_to_all" => p = 1.0,
                            _ => {
                                return ctx.reject("unknown connection rule", s.value.span, "not a rule", "`rule = one_to_one` or `rule = all_to_all`; `p = ...` or `k = ...` for random rules");
                            }
                        }
                    }
                    "p" => p = ctx.constant(&s.value, Dim::NONE, "`p`")?,
                    "k" => indegree = Some(ctx.constant(&s.value, Dim::NONE, "`k`")?),
                    "w" => {
                        let wd = wdim.unwrap_or(Dim::NONE);
                        match ctx.spread(&s.value, wd, "`w`")? {
                            Some(sp) => w_spread = Some(sp),
                            None => w = ctx.constant(&s.value, wd, "`w`")?,
                        }
                    }
                    "delay" => match ctx.spread(&s.value, time, "`delay`")? {
                        Some(Spread::Uniform(lo, hi)) if lo >= 0.0 && lo <= hi => delay_range = Some((lo, hi)),
                        Some(_) => {
                            return ctx.reject(
                                "random delays are drawn from `uniform(lo, hi)`",
                                s.value.span,
                                "not a bounded, non-negative range",
                                "the ring buffers are sized from the largest delay: `delay = uniform(1 ms, 3 ms)`",
                            );
                        }
                        None => {
                            delay = ctx.constant(&s.value, time, "`delay`")?;
                            if delay < 0.0 {
                                return ctx.reject(
                                    "a delay cannot be negative",
                                    s.value.span,
                                    "negative",
                                    "delays are rounded to whole steps, at least one",
                                );
                            }
                        }
                    },
                    other => {
                        return ctx.reject(
                            format!("unknown connection setting `{other}`"),
                            s.name.span,
                            "not a setting",
                            "connections take p (probability), k (in-degree) or rule, w (weight) and delay",
                        );
                    }
                }
            }
            if !(0.0..=1.0).contains(&p) {
                return ctx.reject(
                    format!("connection probability {p} is not in [0, 1]"),
                    *span,
                    "this connection",
                    "p is a probability",
                );
            }
            if one_to_one {
                if let Some(&a) = from.iter().find(|&&a| pops[a].count != pops[b].count) {
                    ctx.fail(
                        Diagnostic::error(
                            Code::BadSetting,
                            format!(
                                "one_to_one joins populations of equal size, not {} ({}) to {} ({})",
                                pops[a].name, pops[a].count, pops[b].name, pops[b].count
                            ),
                        )
                        .at(*span, "this connection")
                        .help("give both populations the same number of neurons"),
                    );
                    return None;
                }
            }
            if table.is_some()
                && (indegree.is_some() || one_to_one || p != 1.0 || w_spread.is_some() || delay_range.is_some())
            {
                ctx.fail(
                    Diagnostic::error(Code::BadSetting, "a connection from a file takes only `w` and `delay`")
                        .at(*span, "this connection")
                        .help(
                            "the file lists the synapses; `w` and `delay` apply where it has no weight or delay column",
                        ),
                );
                return None;
            }
            let rule = match indegree {
                _ if table.is_some() => network::Rule::Table,
                _ if one_to_one => network::Rule::OneToOne,
                Some(k) if k >= 0.0 && k.fract() == 0.0 && k * pops[b].count as f64 <= 2e9 => {
                    network::Rule::InDegree(k as usize)
                }
                Some(k) => {
                    return ctx.reject(
                        format!("in-degree {k} is not a whole number"),
                        *span,
                        "this connection",
                        "k is the number of sources of each target",
                    );
                }
                None => network::Rule::Probability(p),
            };
            for &a in from {
                connections.push(Connection {
                    from: a,
                    to: b,
                    port: via.name.clone(),
                    rule,
                    w,
                    delay,
                    w_spread,
                    delay_range,
                    table: table.clone(),
                    stp: stp.clone(),
                    span: *span,
                });
            }
        }
    }
    let mut drives = Vec::new();
    for (to, source, settings, via, span) in &drives_pending {
        let Some(via) = via else {
            ctx.fail(
                Diagnostic::error(Code::BadSetting, "a drive needs the port it feeds")
                    .at(*span, "which input port?")
                    .help(
                    "end it with `via PORT`, e.g. `drive E with poisson(rate = 20 Hz, n = 100, w = 0.1 mV) via exc`",
                ),
            );
            return None;
        };
        for &b in to {
            let target = &pops[b].model;
            let wdim = port_weight(ctx, target, via)?;
            let (mut rate, mut n, mut w) = (0.0, 1.0, 0.0);
            let mut times = None;
            let list = source.name == "spikes";
            for st in settings {
                match st.name.name.as_str() {
                    "rate" if !list => rate = ctx.constant(&st.value, units::dims::rate(), "`rate`")?,
                    "n" if !list => n = ctx.constant(&st.value, Dim::NONE, "`n`")?,
                    "times" if list => {
                        let mut ts = spike_times(ctx, &st.value, duration, seed)?;
                        ts.sort_by(f64::total_cmp);
                        times = Some(ts);
                    }
                    "w" => w = ctx.constant(&st.value, wdim.unwrap_or(Dim::NONE), "`w`")?,
                    other => {
                        return ctx.reject(format!("unknown drive setting `{other}`"), st.name.span, "not a setting", "`poisson(rate = ..., n = ..., w = ...)` or `spikes(times = at(5 ms, 12 ms), w = ...)` (also `regular(20 ms)`, `poisson(20 Hz)`)");
                    }
                }
            }
            if list && times.is_none() {
                return ctx.reject(
                    "a spike-list drive needs its `times`",
                    source.span,
                    "which times?",
                    "`spikes(times = at(5 ms, 12 ms), w = 1 nS)`",
                );
            }
            drives.push(network::Drive { to: b, port: via.name.clone(), rate, n, w, times: times.clone() });
        }
    }
    // Recorders: `rate(E, bin = 1 ms)` (binned population rates, from the
    // spikes) and `V(E[0:10], every = 1 ms)` (sampled states); spikes are
    // always written.
    let mut rate_probes: Vec<(usize, f64)> = Vec::new();
    let mut probes: Vec<(usize, usize, usize, usize)> = Vec::new();
    let mut every: Option<f64> = None;
    for stmt in &net.stmts {
        let ast::StmtKind::Record(list) = &stmt.kind else { continue };
        for probe in list {
            let pname = probe.name.name.as_str();
            let mut bin = 1e-3;
            for b in &probe.settings {
                match (pname, b.name.name.as_str()) {
                    ("rate", "bin") => bin = ctx.constant(&b.value, time, "`bin`")?,
                    (_, "every") if pname != "rate" && pname != "spikes" => {
                        every = Some(ctx.constant(&b.value, time, "`every`")?)
                    }
                    (_, other) => {
                        return ctx.reject(
                            format!("unknown recorder setting `{other}`"),
                            b.name.span,
                            "not a setting",
                            "`rate(E, bin = 1 ms)`; `V(E[0:10], every = 1 ms)`",
                        );
                    }
                }
            }
            if !(bin > 0.0 && bin.is_finite()) {
                return ctx.reject(
                    "a rate's bin must be a positive duration",
                    probe.name.span,
                    "this recorder",
                    "e.g. `rate(E, bin = 1 ms)`",
                );
            }
            for (target, range) in &probe.targets {
                let pi = find(ctx, &names, target)?;
                match pname {
                    "spikes" => {}
                    "rate" if rate_probes.iter().any(|&(p, _)| p == pi) => {
                        ctx.fail(
                            Diagnostic::error(
                                Code::BadSetting,
                                format!("the rate of `{}` is recorded twice", target.name),
                            )
                            .at(probe.name.span, "a second recorder writing the same file")
                            .help("record one rate per population"),
                        );
                        return None;
                    }
                    "rate" => rate_probes.push((pi, bin)),
                    state => {
                        let m = &pops[pi].model;
                        let Some(si) = m.state(state) else {
                            let states: Vec<&str> = m.states.iter().map(|x| x.name.as_str()).collect();
                            ctx.fail(
                                Diagnostic::error(
                                    Code::UnknownRecord,
                                    format!("`{}` has no state `{state}` to record", m.name),
                                )
                                .at(probe.name.span, "not a state")
                                .help(format!("states: {}; or `spikes(...)`, `rate(...)`", states.join(", "))),
                            );
                            return None;
                        };
                        let n = pops[pi].count;
                        let (a, b) = match range {
                            Some((a, b)) => (*a as usize, *b as usize),
                            None => (0, n.min(10)),
                        };
                        if !(a < b && b <= n) {
                            ctx.fail(
                                Diagnostic::error(
                                    Code::BadSetting,
                                    format!("neurons [{a}:{b}] are not within `{}` (0 to {n})", target.name),
                                )
                                .at(target.span, "this range")
                                .help(format!("a range [first:end) within 0..{n}, e.g. `{}[0:10]`", target.name)),
                            );
                            return None;
                        }
                        if probes.iter().any(|&(p, s, _, _)| p == pi && s == si) {
                            ctx.fail(
                                Diagnostic::error(
                                    Code::BadSetting,
                                    format!("`{state}` of `{}` is recorded twice", target.name),
                                )
                                .at(probe.name.span, "a second recorder writing the same file")
                                .help(format!("record one range: `{state}({}[a:b])`", target.name)),
                            );
                            return None;
                        }
                        probes.push((pi, si, a, b));
                    }
                }
            }
        }
    }
    let sample_every = match (&o.sample, every) {
        (Some(text), _) => ((ctx.constant_arg("--sample", text, time, "`--sample`")? / dt).round() as usize).max(1),
        (None, Some(e)) => ((e / dt).round() as usize).max(1),
        (None, None) => 1,
    };
    let probe_meta: Vec<(String, String, ir::State, usize)> = probes
        .iter()
        .map(|&(pi, si, a, _)| (names[pi].clone(), pops[pi].model.name.clone(), pops[pi].model.states[si].clone(), a))
        .collect();
    // A parameter given per neuron reaches the kernels' arithmetic, not other
    // parameters or initial values computed from it: refuse those cases.
    for (name, _) in &param_spreads {
        for p in &pops {
            let m = &p.model;
            let Some(i) = m.param(name) else { continue };
            let reads = |e: ir::ExprId| m.reads(e, |v| v == ir::Var::Param(i));
            let user = m
                .params
                .iter()
                .enumerate()
                .find(|(k, q)| *k != i && reads(q.value))
                .map(|(_, q)| format!("parameter `{}`", q.name))
                .or_else(|| {
                    m.states.iter().find(|st| reads(st.init)).map(|st| format!("the initial value of `{}`", st.name))
                });
            if let Some(user) = user {
                let span = sim.map_or(net.span, |s| s.span);
                ctx.fail(
                    Diagnostic::error(
                        Code::BadSetting,
                        format!("`{name}` cannot vary per neuron in `{}`: {user} is computed from it once", m.name),
                    )
                    .at(span, "this setting")
                    .help("spread the dependent quantity itself, or make it a derived value (`name = expr`), which the kernels evaluate per neuron"),
                );
                return None;
            }
        }
    }
    {
        let mut models: Vec<&mut ir::Model> = pops.iter_mut().map(|p| &mut p.model).collect();
        ctx.table_flags(&o.table, &mut models)?;
    }
    let network = Network { name: net.name.name.clone(), populations: pops, connections, drives };
    let keep_synapses = o.save_synapses;
    let threads = o.threads.unwrap_or(0); // 0: the runtime decides from the work per step
    let cfg = NetConfig {
        dt,
        duration,
        seed,
        jit: o.backend != Some(BackendArg::Interp),
        init,
        params: param_spreads,
        keep_synapses,
        threads,
        probes,
        sample_every,
    };
    let start = std::time::Instant::now();
    let mut run = match network::simulate(&network, &cfg, net.name.span) {
        Ok(r) => r,
        Err(d) => {
            ctx.fail(*d);
            return None;
        }
    };
    for w in std::mem::take(&mut run.warnings) {
        ctx.fail(w);
    }
    let wall = start.elapsed().as_secs_f64();
    let rec = runtime::Recording {
        spikes: run.spikes.iter().map(|s| s.1).collect(),
        spike_ids: run.spikes.iter().map(|s| s.0).collect(),
        ..runtime::Recording::default()
    };
    let format = match o.format {
        FormatArg::Csv => output::Format::Csv,
        FormatArg::Npy => output::Format::Npy,
    };
    if let Err(e) = output::write(&o.output, &rec, &[], format) {
        eprintln!("error: cannot write to `{}`: {e}", o.output.display());
        return Some(2);
    }
    // binned population rates
    for &(pi, bin) in &rate_probes {
        let bins = ((duration / bin - 1e-9).ceil().max(1.0) as usize).min(10_000_000);
        let mut counts = vec![0.0; bins];
        let (first, n) = (run.offsets[pi], network.populations[pi].count);
        for &(id, t) in &run.spikes {
            if id >= first && id < first + n {
                counts[((t / bin) as usize).min(bins - 1)] += 1.0;
            }
        }
        // the last bin may be shorter: it ends with the run
        let end = |k: usize| (k as f64 * bin).min(duration);
        let t_ms: Vec<f64> = (1..=bins).map(|k| end(k) * 1e3).collect();
        let hz: Vec<f64> = counts
            .iter()
            .enumerate()
            .map(|(k, c)| c / (n as f64 * (end(k + 1) - k as f64 * bin).max(1e-300)))
            .collect();
        let name = format!("rate_{}", network.populations[pi].name);
        if let Err(e) = output::write_table(&o.output, &name, &["t_ms".into(), "rate_Hz".into()], &[&t_ms, &hz], format)
        {
            eprintln!("error: cannot write to `{}`: {e}", o.output.display());
            return Some(2);
        }
    }
    // sampled states
    for (k, (pop, _, st, first)) in probe_meta.iter().enumerate() {
        let (text, scale) = match &st.unit {
            Some(u) if u.scale.is_finite() && u.scale != 0.0 && !u.text.contains("degC") => (u.text.clone(), u.scale),
            _ => units::display_unit(&st.dim),
        };
        let u = output::header_unit(&text);
        let samples = &run.probe_values[k];
        let width = samples.first().map_or(0, |r| r.len());
        let mut head = vec!["t_ms".to_string()];
        let mut cols: Vec<Vec<f64>> = vec![run.probe_t.iter().map(|t| t * 1e3).collect()];
        for j in 0..width {
            head.push(format!("{}_{u}@{}", st.name, first + j));
            cols.push(samples.iter().map(|r| r[j] / scale).collect());
        }
        let refs: Vec<&[f64]> = cols.iter().map(|c| c.as_slice()).collect();
        if let Err(e) = output::write_table(&o.output, &format!("{}_{pop}", st.name), &head, &refs, format) {
            eprintln!("error: cannot write to `{}`: {e}", o.output.display());
            return Some(2);
        }
    }
    if keep_synapses {
        if let Err(e) = write_synapses(&o.output.join("synapses.csv"), &run.synapse_table) {
            eprintln!("error: cannot write to `{}`: {e}", o.output.display());
            return Some(2);
        }
    }
    let rates: Vec<String> = network
        .populations
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let lo = run.offsets[k];
            let count = run.spikes.iter().filter(|s| s.0 >= lo && s.0 < lo + p.count).count();
            format!(
                "{} {} neurons {:.2} Hz",
                p.name,
                p.count,
                count as f64 / p.count as f64 / duration.max(f64::MIN_POSITIVE)
            )
        })
        .collect();
    let per_synapse = run.connectivity_bytes as f64 / run.synapses.max(1) as f64;
    let memory = peak_memory_mib().map_or(String::new(), |m| format!("; peak memory {m:.0} MiB"));
    let compiled =
        if cfg.jit { format!(" after {:.1} ms of JIT compilation", run.compile_seconds * 1e3) } else { String::new() };
    println!(
        "{}: {}; {} synapses ({per_synapse:.1} B each); {} ms (dt = {} ms) in {:.2} s{compiled}{memory}; wrote spikes \
         to {}",
        network.name,
        rates.join(", "),
        run.synapses,
        units::format_number(duration * 1e3),
        units::format_number(dt * 1e3),
        wall - run.compile_seconds,
        o.output.display()
    );
    for note in &run.tables {
        println!("  {note}");
    }
    Some(0)
}

/// synapses.csv: one row per synapse, weights in SI (V, S or A as the
/// port's unit), delays in ms.
fn write_synapses(path: &std::path::Path, table: &[(usize, usize, f64, f64)]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(f, "pre,post,weight,delay_ms")?;
    for &(pre, post, w, d) in table {
        writeln!(f, "{pre},{post},{w:e},{}", units::format_number(d * 1e3))?;
    }
    f.flush()
}

/// The process's peak resident memory (Linux: VmHWM), MiB.
fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse::<f64>().ok()?;
    Some(kb / 1024.0)
}

/// The weight unit of input port `via` of a target model (E0201 if it has
/// no such port).
/// Reads a connection file: CSV with a header naming `pre`, `post` and
/// optionally `weight` (SI) and `delay_ms`, or an NPY array with those
/// columns in that order. Indices are within the source (`na`) and target
/// (`nb`) populations.
fn read_synapse_table(path: &Path, na: usize, nb: usize) -> Result<neuroc::runtime::network::SynapseTable, String> {
    use neuroc::runtime::network;
    let rows: Vec<Vec<f64>>;
    let mut cols = vec!["pre".to_string(), "post".into(), "weight".into(), "delay_ms".into()];
    if path.extension().is_some_and(|e| e == "npy") {
        let arr: ndarray::Array2<f64> = ndarray_npy::read_npy(path).map_err(|e| e.to_string())?;
        if !(2..=4).contains(&arr.ncols()) {
            return Err(format!("the array has {} columns, not 2 to 4", arr.ncols()));
        }
        cols.truncate(arr.ncols());
        rows = arr.rows().into_iter().map(|r| r.to_vec()).collect();
    } else {
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        let mut lines = text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
        let header = lines.next().ok_or("the file is empty")?;
        cols = header.split(',').map(|c| c.trim().to_string()).collect();
        let mut out = Vec::new();
        for (k, line) in lines.enumerate() {
            let row: Result<Vec<f64>, _> = line.split(',').map(|x| x.trim().parse::<f64>()).collect();
            let row = row.map_err(|_| format!("row {} is not numbers: `{line}`", k + 1))?;
            if row.len() != cols.len() {
                return Err(format!("row {} has {} values, the header {}", k + 1, row.len(), cols.len()));
            }
            out.push(row);
        }
        rows = out;
    }
    let col = |name: &str| cols.iter().position(|c| c == name);
    let (Some(pre), Some(post)) = (col("pre"), col("post")) else {
        return Err(format!("no `pre` and `post` columns (the header is `{}`)", cols.join(",")));
    };
    if let Some(bad) = cols.iter().find(|c| !["pre", "post", "weight", "delay_ms"].contains(&c.as_str())) {
        return Err(format!("unknown column `{bad}`"));
    }
    let (wc, dc) = (col("weight"), col("delay_ms"));
    let mut t = network::SynapseTable {
        pairs: Vec::with_capacity(rows.len()),
        weights: wc.map(|_| Vec::with_capacity(rows.len())),
        delays: dc.map(|_| Vec::with_capacity(rows.len())),
    };
    for (k, r) in rows.iter().enumerate() {
        let index = |x: f64, n: usize, what: &str| -> Result<u32, String> {
            if x >= 0.0 && x.fract() == 0.0 && (x as usize) < n {
                Ok(x as u32)
            } else {
                Err(format!("row {}: {what} {x} is not a neuron of its population (0 to {})", k + 1, n - 1))
            }
        };
        t.pairs.push((index(r[pre], na, "pre")?, index(r[post], nb, "post")?));
        if let (Some(c), Some(w)) = (wc, t.weights.as_mut()) {
            if !r[c].is_finite() {
                return Err(format!("row {}: the weight is not a number", k + 1));
            }
            w.push(r[c]);
        }
        if let (Some(c), Some(d)) = (dc, t.delays.as_mut()) {
            if !(r[c] >= 0.0 && r[c] <= 1e6) {
                return Err(format!("row {}: the delay {} ms is not between 0 and 10^6 ms", k + 1, r[c]));
            }
            d.push(r[c] * 1e-3);
        }
    }
    Ok(t)
}

/// Whether a neuron's equations read `currents` (directly or through values).
fn uses_currents(m: &ir::Model) -> bool {
    let Some(c) = m.value("currents") else { return false };
    let mut exprs: Vec<ir::ExprId> = m.states.iter().filter_map(|s| s.rhs).collect();
    exprs.extend(m.values.iter().filter(|v| v.name != "currents").map(|v| v.expr));
    exprs.iter().any(|&e| m.refs(e).contains(&ir::Var::Value(c)))
}

fn port_weight(ctx: &mut RunCtx, target: &ir::Model, via: &ast::Ident) -> Option<Option<Dim>> {
    match neuroc::runtime::network::ports(target).into_iter().find(|(p, _)| *p == via.name) {
        Some((_, wdim)) => Some(wdim),
        None => {
            ctx.fail(
                Diagnostic::error(Code::UnknownName, format!("`{}` has no input port `{}`", target.name, via.name))
                    .at(via.span, "not a port of the target")
                    .help("declare it in the neuron: `on spike exc(w: nS) { g += w }`"),
            );
            None
        }
    }
}

/// The times of `spikes = regular(20 ms)`, `poisson(20 Hz)` or
/// `at(5 ms, 12 ms, ...)`, SI seconds.
fn spike_times(ctx: &mut RunCtx, e: &ast::Expr, duration: f64, seed: u64) -> Option<Vec<f64>> {
    let fail = |ctx: &mut RunCtx| {
        ctx.fail(
            Diagnostic::error(Code::BadSetting, "`spikes` is `regular(period)`, `poisson(rate)` or `at(t1, t2, ...)`")
                .at(e.span, "not a spike train")
                .help("e.g. `spikes = regular(20 ms)`, with `weight = 1 nS`"),
        );
        None
    };
    let ast::ExprKind::Call(f, args) = &e.kind else { return fail(ctx) };
    let ast::ExprKind::Name(name) = &f.kind else { return fail(ctx) };
    let time = units::dims::time();
    match (name.as_str(), args.as_slice()) {
        ("regular", [p]) => Some(runtime::spikegen::regular(ctx.constant(p, time, "the period")?, duration)),
        ("poisson", [r]) => {
            Some(runtime::spikegen::poisson(ctx.constant(r, units::dims::rate(), "the rate")?, duration, seed))
        }
        ("at", ts) if !ts.is_empty() => {
            let mut out = Vec::new();
            for t in ts {
                out.push(ctx.constant(t, time, "a spike time")?);
            }
            out.sort_by(f64::total_cmp);
            Some(out)
        }
        _ => fail(ctx),
    }
}

fn unknown_method(span: Span, name: &str) -> Diagnostic {
    schemes::unknown_method(name, span)
}

fn explain(path: &Path, only: Option<&str>, method: Option<&str>, dt: Option<&str>, ir: bool) -> i32 {
    let c = match compile_path(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    report(&c, &c.diagnostics.list);
    if c.diagnostics.has_errors() {
        return 1;
    }
    let mut ctx = RunCtx { c, diags: Diagnostics::default(), scope: Vec::new() };
    let asked = match method {
        Some(name) => match Method::parse(name) {
            Some(m) => Some(m),
            None => {
                let f = ctx.arg_source("--method", name);
                ctx.fail(unknown_method(Span::new(f, 0..name.len()), name));
                report(&ctx.c, &ctx.diags.list);
                return 1;
            }
        },
        None => None,
    };
    let mut shown = 0;
    let names = ctx.c.shown.clone();
    for name in &names {
        if only.is_some_and(|n| n != name) {
            continue;
        }
        let Some(m) = ctx.c.model(name).cloned() else { continue };
        let block = ctx.c.library.simulate.iter().find(|s| &s.target.name == name).cloned();
        let mut step = 1e-5;
        let mut block_method = None;
        for b in block.iter().flat_map(|s| s.settings.iter()) {
            match (b.name.name.as_str(), &b.value.kind) {
                ("dt", _) => {
                    if let Some(v) = ctx.constant(&b.value, units::dims::time(), "`dt`") {
                        step = v;
                    }
                }
                ("method", ast::ExprKind::Name(n)) => block_method = Method::parse(n),
                _ => {}
            }
        }
        if let Some(text) = dt {
            match ctx.constant_arg("--dt", text, units::dims::time(), "`--dt`") {
                Some(v) => step = v,
                None => {
                    report(&ctx.c, &ctx.diags.list);
                    return 1;
                }
            }
        }
        let model_method = m.method.as_ref().and_then(|(n, _)| Method::parse(n));
        let chosen = asked.or(block_method).or(model_method).unwrap_or(Method::Auto);
        if m.kind == ModelKind::Network {
            print!("{}", explain_network(&ctx, name));
            shown += 1;
            continue;
        }
        if m.density.is_some() {
            match density::explain(&m) {
                Ok(text) => print!("{text}"),
                Err(d) => ctx.fail(d),
            }
            shown += 1;
            continue;
        }
        if m.field.is_some() {
            print!("{}", field::explain(&m));
            shown += 1;
            continue;
        }
        print!("{}", neuroc::explain::explain(&m, chosen, step));
        if ir {
            print_kernel(&m, chosen, step);
        }
        shown += 1;
    }
    if !ctx.diags.is_empty() {
        report(&ctx.c, &ctx.diags.list);
    }
    if shown == 0 {
        if let Some(n) = only {
            eprintln!("error: no model named `{n}` in {}", path.display());
            return 2;
        }
    }
    0
}
