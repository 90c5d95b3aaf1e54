//! `neuroc run FILE`: configure the experiment from the file and the
//! flags, run it into the output folder, print what happened.

use super::{BackendArg, FormatArg, RunOpts};
use neuroc::{Backend, Experiment, Format};
use std::path::Path;

pub(super) fn run(path: &Path, o: &RunOpts) -> i32 {
    let mut exp = match Experiment::load(path) {
        Ok(e) => e,
        Err(e) => {
            e.eprint();
            return if e.is_io() { 2 } else { 1 };
        }
    };
    let warnings: Vec<_> = exp.warnings().into_iter().cloned().collect();
    exp.eprint(&warnings);
    if let Some(m) = &o.model {
        exp.model(m);
    }
    if let Some(t) = &o.dt {
        exp.dt(t);
    }
    if let Some(t) = &o.duration {
        exp.duration(t);
    }
    if let Some(m) = &o.method {
        exp.method(m);
    }
    if let Some(t) = &o.sample {
        exp.sample(t);
    }
    if let Some(t) = &o.seed {
        exp.seed(t);
    }
    if let Some(t) = &o.neurons {
        exp.neurons(t);
    }
    if let Some(t) = &o.cells {
        exp.cells(t);
    }
    if let Some(t) = &o.threads {
        exp.threads(t);
    }
    for s in &o.set {
        exp.assign(s);
    }
    for r in &o.record {
        exp.record(r);
    }
    if o.no_tables {
        exp.no_tables();
    }
    for t in &o.table {
        exp.table(t);
    }
    if let Some(b) = o.backend {
        exp.backend(match b {
            BackendArg::Jit => Backend::Jit,
            BackendArg::Interp => Backend::Interp,
            BackendArg::Reference => Backend::Reference,
        });
    }
    exp.keep_synapses(o.save_synapses).progress(!o.quiet).command(std::env::args().collect());
    let stop = exp.stop_flag();
    // Ctrl-C (and SIGTERM): stop at the next step, keep what was written
    let _ = ctrlc::set_handler(move || stop.store(true, std::sync::atomic::Ordering::Relaxed));
    let format = match o.format {
        FormatArg::Csv => Format::Csv,
        FormatArg::Npy => Format::Npy,
    };
    // spread over MPI processes: rank 0 writes, the others only run; and
    // all of them stop here together when rank 0 cannot write
    if let Some(r) = neuroc::runtime::network::ranks::Ranks::world() {
        let unwritable = (r.rank == 0).then(|| writable(&o.output)).and_then(Result::err);
        if r.any(unwritable.is_some()) {
            if let Some(e) = unwritable {
                eprintln!("error: cannot write to `{}`: {e}", o.output.display());
            }
            return 2;
        }
        if r.rank != 0 {
            exp.progress(false);
            return match exp.run_discarding() {
                Ok(_) => 0,
                Err(e) => {
                    e.eprint();
                    1
                }
            };
        }
    }
    match exp.run_to(&o.output, format) {
        Ok((summary, files)) => {
            for n in &summary.notes {
                eprintln!("note: {n}");
            }
            exp.eprint(&summary.warnings);
            if !o.quiet {
                let memory = peak_memory_mib().map_or(String::new(), |m| format!("; peak memory {m:.0} MiB"));
                let n = files.len();
                println!(
                    "{}{memory}; wrote {n} file{} to {}",
                    summary.line,
                    if n == 1 { "" } else { "s" },
                    o.output.display()
                );
                for d in &summary.details {
                    println!("  {d}");
                }
            }
            if summary.interrupted {
                eprintln!(
                    "interrupted at t = {} ms: the files hold the run up to then ({} says `interrupted`)",
                    neuroc::units::format_number(summary.t_reached * 1e3),
                    o.output.join("run.json").display()
                );
                return 130;
            }
            0
        }
        Err(e) => {
            e.eprint();
            if e.is_io() {
                2
            } else {
                1
            }
        }
    }
}

/// Whether files can be written in `dir` (made if missing).
fn writable(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let probe = dir.join(format!(".neuroc-probe-{}", std::process::id()));
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(&probe)
}

/// The process's peak resident memory (Linux: VmHWM), MiB.
fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse::<f64>().ok()?;
    Some(kb / 1024.0)
}
