//! `neuroc build FILE`: a runner (or an object file and a C header), and
//! the runner's own command line, which is `neuroc run`'s without the file.

use super::{EmitArg, RunOpts};
use clap::{CommandFactory, FromArgMatches, Parser};
use neuroc::runner::{self, BuildOptions};
use std::path::PathBuf;

pub(super) fn build(file: &std::path::Path, output: Option<PathBuf>, emit: EmitArg, model: Option<String>) -> i32 {
    let object = emit == EmitArg::Obj;
    let output = output.unwrap_or_else(|| {
        let stem = file.file_stem().map(|s| s.to_os_string()).unwrap_or_else(|| "model".into());
        let p = PathBuf::from(stem);
        if object {
            p.with_extension("o")
        } else {
            p
        }
    });
    let opts = BuildOptions { file: file.to_path_buf(), output, model, emit_object: object, runtime: None };
    match runner::build(&opts) {
        Ok(built) => {
            let (setup, code, link) = built.seconds;
            let names: Vec<String> = built.files.iter().map(|p| p.display().to_string()).collect();
            println!(
                "wrote {}: {} kernel{}, {} file{} of the model carried (set-up {:.0} ms, code {:.0} ms, link {:.0} ms)",
                names.join(" and "),
                built.kernels,
                if built.kernels == 1 { "" } else { "s" },
                built.files_carried,
                if built.files_carried == 1 { "" } else { "s" },
                setup * 1e3,
                code * 1e3,
                link * 1e3
            );
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

/// A runner built by `neuroc build`: it runs its model.
#[derive(Parser)]
#[command(
    about = "Run the model this program was built from (by `neuroc build`).",
    long_about = "Runs the model this program was built from, with the kernels compiled when it was built, \
                  and writes what was recorded, exactly as `neuroc run MODEL` would. Every flag of \
                  `neuroc run` works here; every value takes its unit (`--duration 200ms`, `--set g=2nS`).\n\n\
                  Exit codes: 0 success, 1 the model or a setting has errors, 2 usage or file errors, \
                  130 interrupted by Ctrl-C."
)]
struct RunnerCli {
    #[command(flatten)]
    opts: Box<RunOpts>,
    /// fail, instead of compiling it now, when a setting changes a kernel's code so that it is not
    /// one this program was built with
    #[arg(long)]
    prebuilt_only: bool,
}

/// The runner's `main`: installs what the build packed, parses the flags,
/// runs the model.
///
/// # Safety
/// `registry` and `bundle` are what `neuroc build` linked into the program.
#[allow(dead_code)] // called by the runtime library (runner/), not by neuroc
pub unsafe fn runner_main(registry: *const u64, bundle: &[u8]) -> i32 {
    let started = match unsafe { runner::start(registry, bundle) } {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let name = std::env::args()
        .next()
        .and_then(|a| PathBuf::from(a).file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "runner".into());
    let about = format!(
        "Run {} (built by neuroc {}; {} kernels inside).",
        started.bundle.model.display(),
        started.bundle.version,
        started.kernels
    );
    let cmd = RunnerCli::command().bin_name(name).about(about);
    let parsed = match cmd.try_get_matches().and_then(|m| RunnerCli::from_arg_matches(&m)) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    neuroc::codegen::jit::prebuilt_only(parsed.prebuilt_only);
    let mut opts = parsed.opts;
    if opts.model.is_none() {
        opts.model = started.bundle.model_name.clone();
    }
    let code = super::run::run(&started.bundle.model, &opts);
    let (built_in, compiled) = neuroc::codegen::jit::kernel_origins();
    if compiled > 0 && !opts.quiet {
        eprintln!(
            "note: {compiled} kernel{} compiled now (a setting changed {}), {built_in} built in",
            if compiled == 1 { "" } else { "s" },
            if compiled == 1 { "its code" } else { "their code" }
        );
    }
    code
}
