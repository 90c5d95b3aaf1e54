//! The thin command-line layer: parses arguments, calls the library
//! (`neuroc::Experiment`, `neuroc::compile_source`, `neuroc::plot`), prints
//! diagnostics and summaries. Exit codes: 0 ok, 1 the model or a setting
//! has errors, 2 usage or file errors, 130 interrupted (Ctrl-C).

mod analyze;
mod build;
// the runner's entry: called by the runtime library (runner/), not by neuroc
#[allow(unused_imports)]
pub use build::runner_main;
mod check;
mod explain;
mod fit;
mod run;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "neuroc",
    version,
    about = "Compile and run .neuro brain models: units checked, schemes derived.",
    long_about = "neuroc compiles .neuro models (channels, neurons, synapses, rate models, networks, \
                  population densities, neural fields) with physical units checked at compile time, \
                  derives how to integrate each equation, and simulates them with JIT-compiled kernels.\n\n\
                  Examples:\n  \
                  neuroc check examples/hodgkin_huxley.neuro\n  \
                  neuroc run examples/hodgkin_huxley.neuro -o out/\n  \
                  neuroc run examples/hodgkin_huxley.neuro --set I_amp=8.5uA/cm^2 --duration 500ms\n  \
                  neuroc run examples/hh_population.neuro --neurons 1000 --record V --sample 0.1ms\n  \
                  neuroc explain examples/hodgkin_huxley.neuro\n  \
                  neuroc analyze examples/wilson_cowan.neuro --continue P=0:2:101\n  \
                  neuroc analyze examples/lif.neuro --identifiability tau_m,R --observe V --noise 0.5mV\n  \
                  neuroc fit examples/hodgkin_huxley.neuro --data out/V.csv --fit NaT.gbar,Kdr.gbar --to V\n  \
                  neuroc plot out/\n\n\
                  Every value on the command line takes its unit (`--dt 0.01ms`, `--set g=2nS`); a wrong \
                  unit is reported like an error in the file, pointing at the flag.\n\n\
                  Exit codes: 0 success, 1 the model or a setting has errors, 2 usage or file errors, \
                  130 interrupted by Ctrl-C (the files hold the run up to that time)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse, resolve and unit-check files, and check their simulate blocks
    /// and networks as `run` would; print diagnostics only.
    Check {
        /// .neuro files to check
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Simulate a model and write what was recorded.
    ///
    /// Settings come from the file's `simulate NAME { dt = ..., duration = ..., method = ... }`
    /// block; flags override them. Every duration takes a unit: `--dt 0.01ms`. Files are
    /// written as the run goes, under temporary names, and renamed into the output folder when
    /// complete; `run.json` there says what ran, which files it wrote, and whether it completed.
    Run {
        /// the .neuro file
        file: PathBuf,
        #[command(flatten)]
        opts: Box<RunOpts>,
    },
    /// Compile a model once into a standalone executable (or an object file for C).
    ///
    /// The runner carries the model's kernels as machine code and the files the model reads
    /// (its source, imports and data files), and takes the flags of `neuroc run` (`--set`,
    /// `--duration`, `--threads`, `-o`, ...): it writes the same files with the same numbers,
    /// on a machine with neither neuroc nor the source. A setting that changes a kernel's
    /// code (a parameter the model folds in, `--dt`, `--method`) is compiled when the runner
    /// starts, as `neuroc run` would, unless the runner is given `--prebuilt-only`.
    ///
    /// Linking needs a C compiler driver (`cc`, or the one `CC` names) and the runtime library
    /// `libneuroc_runner.a` beside neuroc (`cargo build --release -p neuroc-runner`), or named
    /// by NEUROC_RUNTIME.
    ///
    ///   neuroc build examples/hodgkin_huxley.neuro -o hh
    ///   ./hh --set I_amp=8uA/cm^2 --duration 200ms -o out/
    ///   neuroc build examples/lif.neuro --emit obj -o lif.o   (writes lif.o and lif.h)
    Build {
        /// the .neuro file
        file: PathBuf,
        /// the executable (or object file) to write (default: the file's name, without .neuro)
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// `exe`: a runner; `obj`: the kernels as exported functions in an object file, with a
        /// C header beside it (FILE.h) describing each kernel's arrays
        #[arg(long, value_enum, default_value_t = EmitArg::Exe)]
        emit: EmitArg,
        /// which simulate block or model (as `run --model`)
        #[arg(long)]
        model: Option<String>,
    },
    /// Translate an NMODL mechanism (NEURON's .mod file) into a `.neuro` channel.
    ///
    /// Reads density mechanisms: SUFFIX, USEION (reversal potentials, currents and
    /// concentrations: GHK currents, calcium pools), NONSPECIFIC_CURRENT,
    /// PARAMETER/STATE/ASSIGNED with units, BREAKPOINT with SOLVE ... METHOD
    /// cnexp/derivimplicit/sparse, INITIAL, DERIVATIVE, KINETIC (~ reactions,
    /// CONSERVE), PROCEDURE (inlined), FUNCTION (an `fn`), if/else, TABLE (ignored: rates are
    /// computed exactly). VERBATIM, POINTER, NET_RECEIVE and POINT_PROCESS are E0702
    /// at their line. Writes the channel to `-o FILE`, or prints it.
    ///
    ///   neuroc import hh.mod -o hh.neuro
    ///   then, in a model: import "hh.neuro" and `use hh` in a neuron
    Import {
        /// the .mod file
        file: PathBuf,
        /// write the channel here instead of printing it
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Plot what `run` wrote: each `NAME.csv` becomes `NAME.svg` and `NAME.png` (spikes as a
    /// raster, a field's cells as a space-time image, a network's raster above each population
    /// rate as `raster_rate_P`); the PNG's font ships with neuroc.
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
    /// Fixed points of a rate model or a brain: their Jacobians'
    /// eigenvalues and types; for a rate model a continuation in one
    /// parameter (Hopf and real crossings); for a brain the collective modes
    /// of the connectome and the critical coupling (type, frequency, mode).
    Analyze {
        file: PathBuf,
        /// which model (default: the first `simulate` block's, or the only one)
        #[arg(long)]
        model: Option<String>,
        /// override a parameter or input: --set P=1.5 (repeatable)
        #[arg(long = "set", value_name = "NAME=VALUE", allow_hyphen_values = true)]
        set: Vec<String>,
        /// also write the report as JSON (SI values) to this file
        #[arg(long, value_name = "OUT.json")]
        json: Option<PathBuf>,
        /// a rate model: follow the fixed points as a parameter or input goes
        /// FROM..TO in STEPS values (numbers in its declared unit): --continue P=0:2:101
        #[arg(long = "continue", value_name = "NAME=FROM:TO:STEPS", allow_hyphen_values = true)]
        continuation: Option<String>,
        /// a brain: the coupling parameter to scan for the critical coupling
        /// (default: the only parameter its couplings read, 0 to 10 times its value in 51 steps),
        /// optionally with the range: --coupling K=0:2:201
        #[arg(long, value_name = "NAME[=FROM:TO:STEPS]", allow_hyphen_values = true)]
        coupling: Option<String>,
        /// a neuron, rate model or brain: which of these parameters the observed
        /// state identifies (Fisher information from the forward sensitivities, its
        /// eigen-directions, Cramer-Rao bounds, non-identifiable combinations):
        /// --identifiability NaT.gbar,Kdr.gbar --observe V --noise 1mV
        #[arg(long, value_name = "P1,P2,...", requires_all = ["observe", "noise"])]
        identifiability: Option<String>,
        /// the observed state for --identifiability (sampled at every recorded step);
        /// `spikes`: a neuron's spike times; a brain's: one region's, E[3], or the mean
        /// over the regions, E; or a value of the states (an observer's BOLD, bold_bold)
        #[arg(long, value_name = "STATE")]
        observe: Option<String>,
        /// the SD of the observation's errors, with the state's unit: --noise 1mV
        #[arg(long, value_name = "SD", allow_hyphen_values = true)]
        noise: Option<String>,
        /// with --identifiability: the profile of a parameter (the others refitted at each
        /// value, against the noise-free trace): NAME, or NAME=LO:HI:N in its unit (repeatable)
        #[arg(long, value_name = "NAME[=LO:HI:N]", requires = "identifiability")]
        profile: Vec<String>,
        /// with --identifiability: write the report, the eigenvalue spectrum and the
        /// profiles here as JSON and CSV, with their SVG plots
        #[arg(short, long, requires = "identifiability")]
        output: Option<PathBuf>,
        /// simulated time for --identifiability, with a unit (default: the simulate block's)
        #[arg(long, allow_hyphen_values = true)]
        duration: Option<String>,
    },
    /// Fit parameters of a neuron, rate model or brain to a recorded trace: least
    /// squares by Levenberg-Marquardt on the model's forward sensitivities, in
    /// log-parameters within bounds, from the model's values (and more random
    /// starts); prints the estimate with 95% confidence intervals from the
    /// Fisher information. The trace is a CSV with `t_ms` and the state's column
    /// (`V_mV`), as `neuroc run -o` writes it.
    ///
    /// Example: neuroc fit examples/hodgkin_huxley.neuro --data trace.csv --fit NaT.gbar,Kdr.gbar --to V
    Fit {
        file: PathBuf,
        /// the CSV trace to fit
        #[arg(long, value_name = "CSV")]
        data: PathBuf,
        /// the parameters to fit, comma-separated
        #[arg(long = "fit", value_name = "P1,P2,...")]
        params: String,
        /// the state the trace records (a brain's region: E[3], read from the column
        /// `E_1@3` that `run -o` writes), or `spikes`: spike times (`t_ms`, as in
        /// the `spikes.csv` that `run -o` writes)
        #[arg(long = "to", value_name = "STATE")]
        observe: String,
        /// which model (default: the first `simulate` block's, or the only one)
        #[arg(long)]
        model: Option<String>,
        /// override a parameter or input (also where the fit starts): --set NaT.gbar=100mS/cm^2
        #[arg(long = "set", value_name = "NAME=VALUE", allow_hyphen_values = true)]
        set: Vec<String>,
        /// simulated time, with a unit (at least the trace's length)
        #[arg(long, allow_hyphen_values = true)]
        duration: Option<String>,
        /// time step, with a unit
        #[arg(long, allow_hyphen_values = true)]
        dt: Option<String>,
        /// starting points: the model's values, then random ones within the bounds
        #[arg(long, default_value_t = 1)]
        starts: usize,
        /// bounds: each parameter within this factor of its starting value
        #[arg(long, default_value_t = 10.0)]
        range: f64,
        /// write `fit.csv` (t_ms, data, model, residual) and `fit.json` here
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum BackendArg {
    Jit,
    Interp,
    Reference,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum EmitArg {
    Exe,
    Obj,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Csv,
    Npy,
}

#[derive(clap::Args)]
struct RunOpts {
    /// which model to run (default: the first `simulate` block's, or the only one)
    #[arg(long)]
    model: Option<String>,
    /// time step, with a unit (default: the simulate block's, else 0.01ms; 0.1ms for networks)
    #[arg(long, allow_hyphen_values = true)]
    dt: Option<String>,
    /// simulated time, with a unit (default: the simulate block's, else 100ms; 1s for networks)
    #[arg(long, allow_hyphen_values = true)]
    duration: Option<String>,
    /// integration method: auto (default), euler, rk2, rk4, rk45, backward_euler,
    /// trapezoidal, exp_euler (cnexp), exact, kinetic; for densities crank_nicolson or
    /// backward_euler; for fields rk4 or euler
    #[arg(long)]
    method: Option<String>,
    /// override a parameter or input: --set I_ext=8.5uA/cm^2; for a network, one of its
    /// `parameter`s (repeatable)
    #[arg(long = "set", value_name = "NAME=VALUE", allow_hyphen_values = true)]
    set: Vec<String>,
    /// variables to record (default: the model's non-gate states)
    #[arg(long, num_args = 1..)]
    record: Vec<String>,
    /// record every this long, with a unit (default: every step)
    #[arg(long, allow_hyphen_values = true)]
    sample: Option<String>,
    /// output directory
    #[arg(short, long, default_value = "out")]
    output: PathBuf,
    /// output format
    #[arg(long, value_enum, default_value_t = FormatArg::Csv)]
    format: FormatArg,
    /// print nothing but errors and warnings (no summary, no progress bar)
    #[arg(short, long)]
    quiet: bool,
    /// jit (default): Cranelift fused kernels; interp: the same kernels
    /// interpreted; reference: the reference interpreter (one neuron,
    /// events located by root finding, every method)
    #[arg(long, value_enum)]
    backend: Option<BackendArg>,
    /// threads (results do not depend on it). Default: every core for
    /// populations; for networks, more than one only when a step has enough
    /// work to pay for the synchronization (about 10^5 operations per thread)
    #[arg(long, allow_hyphen_values = true)]
    threads: Option<String>,
    /// the seed of every random draw (default: the simulate block's, else 1)
    #[arg(long, allow_hyphen_values = true)]
    seed: Option<String>,
    /// number of neurons of a population of one model (default: the simulate block's `n`, else 1)
    #[arg(long, allow_hyphen_values = true)]
    neurons: Option<String>,
    /// a density's number of cells (default: its `cells`, else 400)
    #[arg(long, allow_hyphen_values = true)]
    cells: Option<String>,
    /// networks: also write every synapse to `synapses` (pre, post, weight in SI, delay_ms;
    /// neurons numbered as in spikes)
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

/// Loads `path` with what `analyze` and `fit` share: the model, `--set`
/// and `--duration`; warnings printed. On failure, the diagnostics printed
/// and the exit code.
fn load(
    path: &std::path::Path,
    model: Option<&str>,
    set: &[String],
    duration: Option<&str>,
) -> Result<neuroc::Experiment, i32> {
    let mut exp = match neuroc::Experiment::load(path) {
        Ok(e) => e,
        Err(e) => {
            e.eprint();
            return Err(if e.is_io() { 2 } else { 1 });
        }
    };
    let warnings: Vec<_> = exp.warnings().into_iter().cloned().collect();
    exp.eprint(&warnings);
    if let Some(m) = model {
        exp.model(m);
    }
    for s in set {
        exp.assign(s);
    }
    if let Some(d) = duration {
        exp.duration(d);
    }
    Ok(exp)
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
        Command::Check { files } => check::check(&files),
        Command::Run { file, opts } => run::run(&file, &opts),
        Command::Import { file, output } => match neuroc::import_nmodl(&file) {
            Ok(imported) => {
                for n in &imported.notes {
                    eprintln!("note: {n}");
                }
                match output {
                    None => {
                        print!("{}", imported.text);
                        0
                    }
                    Some(out) => match std::fs::write(&out, &imported.text) {
                        Ok(()) => {
                            println!("wrote channel `{}` to {}", imported.name, out.display());
                            0
                        }
                        Err(e) => {
                            eprintln!("error: cannot write {}: {e}", out.display());
                            2
                        }
                    },
                }
            }
            Err(e) => {
                e.eprint();
                if e.is_io() {
                    2
                } else {
                    1
                }
            }
        },
        Command::Build { file, output, emit, model } => build::build(&file, output, emit, model),
        Command::Plot { dir } => match neuroc::plot::plot_dir(&dir) {
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
        Command::Analyze {
            file,
            model,
            set,
            json,
            continuation,
            coupling,
            identifiability,
            observe,
            noise,
            profile,
            output,
            duration,
        } => analyze::analyze(
            &file,
            &analyze::Args {
                model: model.as_deref(),
                set: &set,
                json: json.as_ref(),
                continuation: continuation.as_deref(),
                coupling: coupling.as_deref(),
                identifiability: identifiability.as_deref().zip(observe.as_deref()),
                noise: noise.as_deref().unwrap_or(""),
                profiles: &profile,
                output: output.as_deref(),
                duration: duration.as_deref(),
            },
        ),
        Command::Fit { file, data, params, observe, model, set, duration, dt, starts, range, output } => fit::fit(
            &file,
            &fit::Args {
                data: &data,
                params: &params,
                observe: &observe,
                model: model.as_deref(),
                set: &set,
                duration: duration.as_deref(),
                dt: dt.as_deref(),
                starts,
                range,
                output: output.as_deref(),
            },
        ),
        Command::Explain { file, model, method, dt, ir } => {
            explain::explain(&file, model.as_deref(), method.as_deref(), dt.as_deref(), ir)
        }
    }
}
