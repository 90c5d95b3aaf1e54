//! The library's one way in: [`Experiment`] compiles a file, takes
//! settings and overrides as text (each checked with its unit, each error
//! pointing into the text given), configures the run, and runs it into
//! memory ([`Results`]) or into an output folder (streamed, with a
//! `run.json` manifest). The command line, the tests and the benches are
//! its clients.
//!
//! ```no_run
//! use neuroc::Experiment;
//! let mut exp = Experiment::load("examples/hodgkin_huxley.neuro")?;
//! exp.set("I_amp", "8.5 uA/cm^2").duration("500 ms").record("V");
//! let (results, summary) = exp.run()?;
//! let v = results.table("V").and_then(|t| t.column("V")).expect("V was recorded");
//! println!("{}: {} samples, {} spikes", summary.model, v.len(), results.spikes().len());
//! # Ok::<(), neuroc::Error>(())
//! ```

use crate::diag::{self, Code, Diagnostic, Diagnostics};
use crate::experiment::{self, execute::Failure, Backend, Flags, Run, Summary, TableSpec};
use crate::output::{manifest::Status, FileSink, Format, MemorySink, Results};
use crate::source::{SourceMap, Span};
use crate::syntax::{self, ast};
use crate::Compiled;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Why the library could not do what was asked.
#[derive(Debug)]
pub struct Error {
    /// What went wrong in the model or the settings, with spans into
    /// `sources` (empty for file errors).
    pub diagnostics: Vec<Diagnostic>,
    /// A file could not be read or written.
    pub io: Option<String>,
    sources: SourceMap,
}

impl Error {
    pub(crate) fn io(message: String) -> Error {
        Error { diagnostics: vec![], io: Some(message), sources: SourceMap::new() }
    }

    /// The diagnostics as plain text (or the file error).
    pub fn render(&self) -> String {
        match &self.io {
            Some(e) => format!("error: {e}\n"),
            None => diag::render_plain(&self.sources, &self.diagnostics),
        }
    }

    /// Prints the error on stderr, in color when it is a terminal.
    pub fn eprint(&self) {
        match &self.io {
            Some(e) => eprintln!("error: {e}"),
            None => diag::render_stderr(&self.sources, &self.diagnostics),
        }
    }

    /// A file error (the command line's exit code 2), not a model error.
    pub fn is_io(&self) -> bool {
        self.io.is_some()
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::error::Error for Error {}

/// A compiled model file and the settings to run it with.
pub struct Experiment {
    compiled: Compiled,
    flags: Flags,
    /// Problems in settings given as text (parse errors), reported by
    /// `configure`.
    pending: Diagnostics,
    stop: Arc<AtomicBool>,
    command: Vec<String>,
    path: Option<PathBuf>,
}

impl Experiment {
    /// Reads and compiles a `.neuro` file (imports resolve next to it and in
    /// the standard library). Errors in the model are an [`Error`]; warnings
    /// stay available from [`Experiment::warnings`].
    pub fn load(path: impl AsRef<Path>) -> Result<Experiment, Error> {
        let path = path.as_ref();
        let text = read_source(path).map_err(Error::io)?;
        let canon = crate::vfs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let mut e = Experiment::from_source(&path.display().to_string(), &text, Some(canon))?;
        e.path = Some(path.to_path_buf());
        Ok(e)
    }

    /// Compiles source text (imports resolve next to `path` when given,
    /// and in the standard library).
    pub fn from_source(name: &str, text: &str, path: Option<PathBuf>) -> Result<Experiment, Error> {
        let compiled = crate::compile_source(name, text, path);
        if compiled.diagnostics.has_errors() {
            return Err(Error {
                diagnostics: compiled.diagnostics.list.clone(),
                io: None,
                sources: compiled.sources.clone(),
            });
        }
        Ok(Experiment {
            compiled,
            flags: Flags { progress: false, ..Flags::default() },
            pending: Diagnostics::default(),
            stop: Arc::new(AtomicBool::new(false)),
            command: Vec::new(),
            path: None,
        })
    }

    /// The compiled file.
    pub fn compiled(&self) -> &Compiled {
        &self.compiled
    }

    /// The compiler's warnings.
    pub fn warnings(&self) -> Vec<&Diagnostic> {
        self.compiled.diagnostics.list.iter().collect()
    }

    /// Renders diagnostics against this experiment's sources (the file and
    /// the settings given as text).
    pub fn render(&self, diagnostics: &[Diagnostic]) -> String {
        diag::render_plain(&self.compiled.sources, diagnostics)
    }

    /// Prints diagnostics on stderr against this experiment's sources.
    pub fn eprint(&self, diagnostics: &[Diagnostic]) {
        diag::render_stderr(&self.compiled.sources, diagnostics);
    }

    /// A setting's text as a source of its own, named after the flag.
    fn source(&mut self, label: &str, text: &str) -> crate::source::FileId {
        self.compiled.sources.add(label, text, None)
    }

    /// Parses `text` as an expression in a source named `label`.
    fn expr(&mut self, label: &str, text: &str) -> Option<ast::Expr> {
        let file = self.source(label, text);
        let (e, d) = syntax::parse_expr(file, text);
        self.pending.extend(d);
        e
    }

    fn ident(&mut self, label: &str, text: &str) -> ast::Ident {
        let file = self.source(label, text);
        ast::Ident { name: text.trim().to_string(), span: Span::new(file, 0..text.len()) }
    }

    /// Forgets every setting given so far: the next run uses the file's
    /// own `simulate` values again (for one compiled file run many times
    /// with different settings, as the Python package does).
    pub fn clear_settings(&mut self) -> &mut Self {
        self.flags = Flags { progress: false, ..Flags::default() };
        self.pending = Diagnostics::default();
        self
    }

    /// Which model to run (default: the first `simulate` block's, or the
    /// file's only model).
    pub fn model(&mut self, name: &str) -> &mut Self {
        self.flags.model = Some(self.ident("--model", name));
        self
    }

    /// The time step, with its unit: `"0.01 ms"`.
    pub fn dt(&mut self, text: &str) -> &mut Self {
        self.flags.dt = self.expr("--dt", text);
        self
    }

    /// The simulated time, with its unit: `"1 s"`.
    pub fn duration(&mut self, text: &str) -> &mut Self {
        self.flags.duration = self.expr("--duration", text);
        self
    }

    /// Record every this long, with its unit (default: every step).
    pub fn sample(&mut self, text: &str) -> &mut Self {
        self.flags.sample = self.expr("--sample", text);
        self
    }

    /// The integration method: `auto`, `rk4`, `exp_euler`, ...
    pub fn method(&mut self, name: &str) -> &mut Self {
        self.flags.method = Some(self.ident("--method", name));
        self
    }

    /// The seed of every random draw.
    pub fn seed(&mut self, text: &str) -> &mut Self {
        self.flags.seed = self.expr("--seed", text);
        self
    }

    /// The size of a population of the model.
    pub fn neurons(&mut self, text: &str) -> &mut Self {
        self.flags.neurons = self.expr("--neurons", text);
        self
    }

    /// A density's number of cells.
    pub fn cells(&mut self, text: &str) -> &mut Self {
        self.flags.cells = self.expr("--cells", text);
        self
    }

    /// Overrides a parameter or input: `set("I_amp", "8.5 uA/cm^2")`.
    pub fn set(&mut self, name: &str, value: &str) -> &mut Self {
        self.assign(&format!("{name}={value}"))
    }

    /// `NAME=VALUE` as written on the command line.
    pub fn assign(&mut self, text: &str) -> &mut Self {
        let file = self.source("--set", text);
        let Some((name, value)) = text.split_once('=') else {
            self.pending.push(
                Diagnostic::error(Code::UnknownOverride, format!("`--set {text}` needs NAME=VALUE"))
                    .at(Span::new(file, 0..text.len()), "no `=`")
                    .help("for example: --set I_ext=8.5uA/cm^2"),
            );
            return self;
        };
        let start = name.len() - name.trim_start().len();
        let ident =
            ast::Ident { name: name.trim().to_string(), span: Span::new(file, start..start + name.trim().len()) };
        // the value parsed where it stands in the text, so its spans do too
        let padded = format!("{}{value}", " ".repeat(name.len() + 1));
        if let Some(e) = self.expr("--set", &padded) {
            self.flags.set.push((ident, e));
        }
        self
    }

    /// Records a state or value (default: every state that is not a gate).
    pub fn record(&mut self, name: &str) -> &mut Self {
        let id = self.ident("--record", name);
        self.flags.record.push(id);
        self
    }

    /// Ignores the models' rate tables (`--no-tables`).
    pub fn no_tables(&mut self) -> &mut Self {
        self.flags.no_tables = true;
        self
    }

    /// A rate table given as `V in [-100 mV, 100 mV], step = 0.1 mV`.
    pub fn table(&mut self, spec: &str) -> &mut Self {
        let text = format!("table {spec}");
        let file = self.source("--table", &text);
        let (parsed, d) = syntax::parse_table(file, &text);
        let errors = d.has_errors();
        self.pending.extend(d);
        if let (Some((var, interval, settings)), false) = (parsed, errors) {
            let span = Span::new(file, 0..text.len());
            self.flags.tables.push(TableSpec { var, interval, settings, span });
        }
        self
    }

    pub fn backend(&mut self, backend: Backend) -> &mut Self {
        self.flags.backend = Some(backend);
        self
    }

    /// Threads (results do not depend on them).
    pub fn threads(&mut self, text: &str) -> &mut Self {
        self.flags.threads = self.expr("--threads", text);
        self
    }

    /// Networks: keep every synapse in the `synapses` table.
    pub fn keep_synapses(&mut self, keep: bool) -> &mut Self {
        self.flags.keep_synapses = keep;
        self
    }

    /// Draw a progress bar on stderr for long runs.
    pub fn progress(&mut self, on: bool) -> &mut Self {
        self.flags.progress = on;
        self
    }

    /// The command that started the run, for the manifest.
    pub fn command(&mut self, argv: Vec<String>) -> &mut Self {
        self.command = argv;
        self
    }

    /// Setting this flag stops a run at its next step; the run then ends
    /// as `interrupted`, its outputs complete up to that time.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Checks every setting against the model: the run, ready.
    pub fn configure(&self) -> Result<Run, Error> {
        if self.pending.has_errors() {
            return Err(self.error(self.pending.list.clone()));
        }
        let (run, d) = experiment::configure(&self.compiled, &self.flags);
        match run {
            Some(run) => Ok(run),
            None => {
                let mut list = d.list;
                if list.is_empty() {
                    list.push(
                        Diagnostic::internal("the run could not be configured")
                            .at(Span::new(self.compiled.root, 0..0), ""),
                    );
                }
                Err(self.error(list))
            }
        }
    }

    fn error(&self, diagnostics: Vec<Diagnostic>) -> Error {
        Error { diagnostics, io: None, sources: self.compiled.sources.clone() }
    }

    /// Runs and keeps every table in memory.
    pub fn run(&self) -> Result<(Results, Summary), Error> {
        let run = self.configure()?;
        let mut sink = MemorySink::new();
        let stop = self.stop.clone();
        match experiment::execute(&run, &mut sink, &move || stop.load(Ordering::Relaxed)) {
            Ok(s) => Ok((sink.into_results(), s)),
            Err(Failure::Model { diagnostic, .. }) => Err(self.error(vec![*diagnostic])),
            Err(Failure::Io(e)) => Err(Error::io(e.to_string())),
        }
    }

    /// Runs and keeps nothing but the summary (an MPI rank other than 0:
    /// rank 0 writes the tables).
    pub fn run_discarding(&self) -> Result<Summary, Error> {
        struct Discard;
        impl crate::output::Sink for Discard {
            fn open(&mut self, _: crate::output::Table) -> std::io::Result<crate::output::TableId> {
                Ok(0)
            }
            fn row(&mut self, _: crate::output::TableId, _: &[f64]) -> std::io::Result<()> {
                Ok(())
            }
        }
        let run = self.configure()?;
        let stop = self.stop.clone();
        match experiment::execute(&run, &mut Discard, &move || stop.load(Ordering::Relaxed)) {
            Ok(s) => Ok(s),
            Err(Failure::Model { diagnostic, .. }) => Err(self.error(vec![*diagnostic])),
            Err(Failure::Io(e)) => Err(Error::io(e.to_string())),
        }
    }

    /// Runs and streams every table to `dir` (see `output::files`): the
    /// summary and the files written. A simulation that fails still writes
    /// what it recorded, with `run.json` marked failed.
    pub fn run_to(&self, dir: &Path, format: Format) -> Result<(Summary, Vec<PathBuf>), Error> {
        let run = self.configure()?;
        let mut sink = FileSink::begin(dir, format, self.manifest(&run))
            .map_err(|e| Error::io(format!("cannot write to `{}`: {e}", dir.display())))?;
        let stop = self.stop.clone();
        let result = experiment::execute(&run, &mut sink, &move || stop.load(Ordering::Relaxed));
        match result {
            Ok(summary) => {
                let status = if summary.interrupted { Status::Interrupted } else { Status::Completed };
                match sink.finish(status, summary.t_reached, None) {
                    Ok(files) => Ok((summary, files)),
                    Err(e) => Err(Error::io(format!("cannot write to `{}`: {e}", dir.display()))),
                }
            }
            Err(Failure::Model { diagnostic, t_reached }) => {
                let message = format!("{}: {}", diagnostic.code.as_str(), diagnostic.message);
                let _ = sink.finish(Status::Failed, t_reached, Some(&message));
                Err(self.error(vec![*diagnostic]))
            }
            Err(Failure::Io(e)) => {
                sink.abandon(&e.to_string());
                Err(Error::io(format!("cannot write to `{}`: {e}", dir.display())))
            }
        }
    }

    /// What `neuroc explain` prints: the report of every model the file is
    /// about (its own, and the targets of its `simulate` blocks), or of
    /// `only`; `method` and `dt` as text override the file's.
    pub fn explain(
        &mut self,
        only: Option<&str>,
        method: Option<&str>,
        dt: Option<&str>,
        ir: bool,
    ) -> Result<String, Error> {
        let method = match method {
            Some(name) => match crate::schemes::Method::parse(name) {
                Some(m) => Some(m),
                None => {
                    let file = self.source("--method", name);
                    return Err(
                        self.error(vec![crate::ir::method::unknown_method(name, Span::new(file, 0..name.len()))])
                    );
                }
            },
            None => None,
        };
        let dt = match dt {
            Some(text) => {
                let e = self.expr("--dt", text);
                if self.pending.has_errors() {
                    return Err(self.error(self.pending.list.clone()));
                }
                let mut ctx = experiment::settings::Ctx::new(&self.compiled);
                let v = e.and_then(|e| ctx.constant(&e, crate::units::dims::time(), "`--dt`"));
                let v = v.filter(|v| *v > 0.0 && v.is_finite());
                match v {
                    Some(v) => Some(v),
                    None if ctx.diags.has_errors() => return Err(self.error(ctx.diags.list)),
                    None => {
                        let file = self.source("--dt", text);
                        return Err(self.error(vec![Diagnostic::error(
                            Code::BadSetting,
                            "`--dt` must be a positive duration",
                        )
                        .at(Span::new(file, 0..text.len()), "not positive")
                        .help("e.g. --dt 0.01ms")]));
                    }
                }
            }
            None => None,
        };
        let mut out = String::new();
        let mut errors = Vec::new();
        let mut shown = 0;
        for name in self.compiled.shown.clone() {
            if only.is_some_and(|n| n != name) {
                continue;
            }
            match crate::explain::report(&self.compiled, &name, method, dt, ir) {
                Some(Ok(text)) => out.push_str(&text),
                Some(Err(d)) => errors.push(d),
                None => continue,
            }
            shown += 1;
        }
        if let (0, Some(n)) = (shown, only) {
            let names = self.compiled.shown.join(", ");
            return Err(Error::io(format!("no model named `{n}` in this file (its models: {names})")));
        }
        if !errors.is_empty() {
            return Err(self.error(errors));
        }
        Ok(out)
    }

    /// What `neuroc analyze` computes: the fixed points of a rate model
    /// or a brain, their stability, a continuation in one parameter
    /// (`continuation`: `"P=0:2:101"`) or the critical coupling of a brain
    /// (`coupling`: `"K"` or `"K=0:2:201"`), each as written after its flag.
    pub fn analyze(
        &mut self,
        continuation: Option<&str>,
        coupling: Option<&str>,
    ) -> Result<crate::analyze::Report, Error> {
        let mut opts = crate::analyze::Options::default();
        for (flag, text, slot) in
            [("--continue", continuation, &mut opts.continuation), ("--coupling", coupling, &mut opts.coupling)]
        {
            let Some(text) = text else { continue };
            let file = self.source(flag, text);
            match crate::analyze::parse_sweep(text, Span::new(file, 0..text.len()), flag) {
                Ok(s) => *slot = Some(s),
                Err(d) => return Err(self.error(vec![*d])),
            }
        }
        let run = self.configure()?;
        crate::analyze::analyze(&run, &opts).map_err(|d| self.error(vec![*d]))
    }

    /// The model of the run with its sensitivities with respect to the
    /// parameters `params` (comma-separated names, as `--fit gNa,gK`
    /// writes them), observing the state `observe`: what
    /// `analyze --identifiability` and `fit` work on.
    pub fn problem(&mut self, params: &str, observe: &str) -> Result<crate::infer::Problem, Error> {
        let file = self.source("--parameters", params);
        let span = Span::new(file, 0..params.len());
        let names: Vec<String> = params.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        let run = self.configure()?;
        let p = crate::infer::Problem::new(&run, &names, observe.trim(), span).map_err(|d| self.error(vec![*d]))?;
        // log-parameters: relative changes of a zero mean nothing
        if let Some((name, _)) = p.names().iter().zip(p.values()).find(|(_, v)| *v == 0.0 || !v.is_finite()) {
            return Err(self.error(vec![Diagnostic::error(
                Code::NoSensitivity,
                format!(
                    "`{name}` is 0 here: its relative sensitivity and its fit in log-parameters need a nonzero value"
                ),
            )
            .at(span, "asked here")
            .help(format!("start it elsewhere with `--set {name}=...`"))]));
        }
        Ok(p)
    }

    /// What `neuroc analyze --identifiability P1,P2 --observe X --noise
    /// SD [--profile P]` computes: the Fisher information of the observed
    /// state sampled at every recorded step with Gaussian noise of SD
    /// `noise` (with the state's unit), at the parameters' values, and
    /// what it says; and the profile of each parameter in `profiles`
    /// (`NAME`, or `NAME=LO:HI:N` in its display unit; by default 21
    /// values over +/- 4 Cramer-Rao SDs in log, or a factor 2 each way).
    pub fn identifiability(
        &mut self,
        params: &str,
        observe: &str,
        noise: &str,
        profiles: &[String],
    ) -> Result<crate::infer::fisher::Report, Error> {
        let p = self.problem(params, observe)?;
        let sigma = self.observation_noise(&p, noise)?;
        let theta = p.values();
        let mut report = crate::infer::fisher::report(&p, &theta, sigma).map_err(|d| self.error(vec![*d]))?;
        let (units, _) = p.units();
        for spec in profiles {
            let file = self.source("--profile", spec);
            let span = Span::new(file, 0..spec.len());
            let bad = |why: String| {
                Diagnostic::error(Code::BadSetting, why)
                    .at(span, "this profile")
                    .help("--profile NAME, or NAME=LO:HI:N with LO and HI in the parameter's unit: --profile NaT.gbar=100:140:21")
            };
            let (name, range) = match spec.split_once('=') {
                Some((n, r)) => (n.trim(), Some(r)),
                None => (spec.trim(), None),
            };
            let Some(k) = report.names.iter().position(|n| n == name) else {
                return Err(self.error(vec![bad(format!("`{name}` is not among the parameters analyzed"))]));
            };
            let values: Vec<f64> = match range {
                Some(r) => {
                    let parts: Vec<&str> = r.split(':').map(str::trim).collect();
                    let nums: Option<Vec<f64>> = parts.iter().map(|x| x.parse::<f64>().ok()).collect();
                    match nums.as_deref() {
                        Some(&[lo, hi, n]) if lo < hi && (2.0..=1000.0).contains(&n) && n.fract() == 0.0 => {
                            let n = n as usize;
                            (0..n).map(|i| (lo + (hi - lo) * i as f64 / (n - 1) as f64) * units[k].1).collect()
                        }
                        _ => {
                            return Err(
                                self.error(vec![bad(format!("`{r}` is not LO:HI:N with LO < HI and 2 <= N <= 1000"))])
                            )
                        }
                    }
                }
                None => {
                    let sd = report.relative_sd[k];
                    let half = if sd.is_finite() && sd > 0.0 { (4.0 * sd).min(2f64.ln()) } else { 2f64.ln() };
                    (0..21).map(|i| theta[k] * (half * (i as f64 - 10.0) / 10.0).exp()).collect()
                }
            };
            let pr = crate::infer::fisher::profile(&p, &theta, sigma, k, &values).map_err(|d| self.error(vec![*d]))?;
            report.profiles.push(pr);
        }
        Ok(report)
    }

    /// What `neuroc fit --data FILE --fit P1,P2 --to X` computes: the
    /// parameters fitted to the CSV `data` (a `t_ms` column and the
    /// observed state's, as `run -o` writes them) by Levenberg-Marquardt
    /// from the model's values and `starts - 1` more random starts within a
    /// factor `range` of them.
    pub fn fit(
        &mut self,
        params: &str,
        observe: &str,
        data: &Path,
        starts: usize,
        range: f64,
    ) -> Result<(crate::infer::Problem, crate::infer::fit::Fit), Error> {
        let p = self.problem(params, observe)?;
        let text = std::fs::read_to_string(data)
            .map_err(|e| Error::io(format!("cannot read the data `{}`: {e}", data.display())))?;
        let values = crate::infer::fit::read_csv(&text, &p).map_err(|why| {
            self.error(vec![Diagnostic::error(Code::BadData, format!("`{}`: {why}", data.display())).help(
                "the data is a CSV with a `t_ms` column and the observed state's column in its display unit (`V_mV`), as `neuroc run -o` writes it",
            )])
        })?;
        let run = self.configure()?;
        crate::infer::fit::check(&p, &values, run.duration).map_err(|d| self.error(vec![*d]))?;
        let start = p.values();
        let mut opts = crate::infer::fit::Options::around(&start);
        if !(range.is_finite() && range > 1.0) {
            return Err(self.error(vec![Diagnostic::error(Code::BadSetting, format!("a range of {range}"))
                .help("--range is the factor each parameter may move from its start, above 1: --range 10")]));
        }
        opts.bounds =
            start.iter().map(|&x| if x > 0.0 { (x / range, x * range) } else { (x * range, x / range) }).collect();
        opts.extra_starts = starts.saturating_sub(1);
        opts.seed = run.seed;
        let f = crate::infer::fit::fit(&p, &values, &start, &opts).map_err(|d| self.error(vec![*d]))?;
        Ok((p, f))
    }

    /// The observation noise's SD in SI, checked to have the observed
    /// state's unit.
    fn observation_noise(&mut self, p: &crate::infer::Problem, text: &str) -> Result<f64, Error> {
        let Some(expr) = self.expr("--noise", text) else {
            return Err(self.error(self.pending.list.clone()));
        };
        let mut ctx = experiment::settings::Ctx::new(&self.compiled);
        let v = ctx.constant(&expr, p.observed_dim(), "the observation noise");
        let mut diags = ctx.diags.list;
        match v {
            Some(v) if v > 0.0 && v.is_finite() => Ok(v),
            Some(_) => {
                diags.push(
                    Diagnostic::error(Code::BadSetting, "the observation noise must be positive")
                        .at(expr.span, "this SD")
                        .help("the SD of the measurement errors, with the observed state's unit: --noise 1mV"),
                );
                Err(self.error(diags))
            }
            None => Err(self.error(diags)),
        }
    }

    /// The manifest's description of the run.
    fn manifest(&self, run: &Run) -> Value {
        let c = &self.compiled;
        let mut sources = Vec::new();
        for id in 0..c.sources.len() {
            let Some(path) = c.sources.path(id) else { continue };
            let text = c.sources.text(id);
            sources.push(json!({
                "file": path.display().to_string(),
                "fnv1a64": format!("{:016x}", crate::output::fnv1a64(text.as_bytes())),
            }));
        }
        let settings: serde_json::Map<String, Value> =
            run.settings.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        let backend = match &run.body {
            experiment::Body::Point(p) => p.backend.name(),
            experiment::Body::Brain(b) => b.node.backend.name(),
            experiment::Body::Network(n) if n.jit => "jit",
            experiment::Body::Network(_) => "interp",
            experiment::Body::Density(_) => "density (finite volumes)",
            experiment::Body::Field(_) => "field (FFT)",
            experiment::Body::Cell(_) => "cable (Hines, reference channels)",
        };
        json!({
            "model": run.target,
            "kind": run.kind.keyword(),
            "file": self.path.as_ref().map(|p| p.display().to_string()),
            "sources": sources,
            "dt_ms": run.dt * 1e3,
            "duration_ms": run.duration * 1e3,
            "seed": run.seed,
            "sample_every_steps": run.sample_every,
            "backend": backend,
            "settings": settings,
            "command": self.command,
        })
    }
}

/// An NMODL mechanism translated into a `.neuro` channel.
pub struct Imported {
    /// The channel's name (the mechanism's SUFFIX).
    pub name: String,
    /// The channel's `.neuro` text, checked by the compiler.
    pub text: String,
    /// What the translation left out or changed (TABLE, CONSERVE, ...).
    pub notes: Vec<String>,
}

/// Translates the NMODL file at `path` (a density mechanism: SUFFIX,
/// PARAMETER, STATE, ASSIGNED, BREAKPOINT, INITIAL, DERIVATIVE, KINETIC,
/// PROCEDURE, FUNCTION, USEION reading reversal potentials and writing
/// currents) into a `.neuro` channel, and compiles the result. What
/// cannot be translated is E0702 at its NMODL line.
pub fn import_nmodl(path: impl AsRef<Path>) -> Result<Imported, Error> {
    let path = path.as_ref();
    let text = read_source(path).map_err(Error::io)?;
    import_nmodl_text(&path.display().to_string(), &text)
}

/// [`import_nmodl`] on NMODL text named `name`.
pub fn import_nmodl_text(name: &str, text: &str) -> Result<Imported, Error> {
    let mut sources = SourceMap::new();
    let file = sources.add(name, text, None);
    let imported = crate::nmodl::import(file, text).map_err(|diagnostics| Error { diagnostics, io: None, sources })?;
    // the channel must compile: a failure here is neuroc's, not the file's
    let rhs = if imported.text.contains("\n    current ") { "-currents / 1 uF/cm^2" } else { "0 mV/ms" };
    // what the channel reads of its ions: concentrations as parameters, an
    // ion's current from a channel that carries none
    let mut extra = String::new();
    let mut uses = imported.name.clone();
    let mut channels = String::new();
    for a in &imported.ambient {
        match a.strip_prefix("i_") {
            Some(ion) => {
                channels += &format!("channel ImportCheck_{ion} {{\n    ion {ion}\n    current i = 0 mA/cm^2\n}}\n");
                uses += &format!(", ImportCheck_{ion}");
            }
            None => extra += &format!("    parameter {a} = 1 mM\n"),
        }
    }
    let check = format!(
        "{}\n{channels}neuron ImportCheck {{\n    state V = -65 mV\n{extra}    use {uses}\n    dV/dt = {rhs}\n}}\n",
        imported.text
    );
    let compiled = crate::compile_source(&format!("{name} (imported)"), &check, None);
    if compiled.diagnostics.has_errors() {
        let mut diagnostics = compiled.diagnostics.list.clone();
        diagnostics.insert(
            0,
            Diagnostic::internal(format!("the channel imported from {name} does not compile"))
                .at(Span::new(compiled.root, 0..0), "")
                .help("please report this with the .mod file"),
        );
        return Err(Error { diagnostics, io: None, sources: compiled.sources.clone() });
    }
    Ok(Imported { name: imported.name, text: imported.text, notes: imported.notes })
}

/// Reads a source file, or says why not.
pub fn read_source(path: &Path) -> Result<String, String> {
    if crate::vfs::is_dir(path) {
        return Err(format!("`{}` is a directory, not a .neuro file", path.display()));
    }
    let bytes = crate::vfs::read(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    String::from_utf8(bytes).map_err(|e| {
        format!("`{}` is not UTF-8 text (invalid byte at offset {})", path.display(), e.utf8_error().valid_up_to())
    })
}
