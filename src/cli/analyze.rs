//! `neuroc analyze FILE`: fixed points, their stability, a continuation or
//! the critical coupling, printed as text and optionally written as JSON.

use std::path::{Path, PathBuf};

pub(super) struct Args<'a> {
    pub model: Option<&'a str>,
    pub set: &'a [String],
    pub json: Option<&'a PathBuf>,
    pub continuation: Option<&'a str>,
    pub coupling: Option<&'a str>,
    /// (parameters, observed state) for `--identifiability`.
    pub identifiability: Option<(&'a str, &'a str)>,
    pub noise: &'a str,
    pub profiles: &'a [String],
    pub output: Option<&'a Path>,
    pub duration: Option<&'a str>,
}

pub(super) fn analyze(path: &Path, a: &Args) -> i32 {
    let mut exp = match super::load(path, a.model, a.set, a.duration) {
        Ok(e) => e,
        Err(code) => return code,
    };
    if let Some((params, observe)) = a.identifiability {
        return match exp.identifiability(params, observe, a.noise, a.profiles) {
            Ok(r) => {
                print!("{}", r.text());
                if let Some(dir) = a.output {
                    match r.write(dir) {
                        Ok(files) => println!("wrote {} files to {}", files.len(), dir.display()),
                        Err(e) => {
                            eprintln!("error: {e}");
                            return 2;
                        }
                    }
                }
                write_json(a.json, &r.json())
            }
            Err(e) => {
                e.eprint();
                if e.is_io() {
                    2
                } else {
                    1
                }
            }
        };
    }
    let report = match exp.analyze(a.continuation, a.coupling) {
        Ok(r) => r,
        Err(e) => {
            e.eprint();
            return if e.is_io() { 2 } else { 1 };
        }
    };
    print!("{}", report.text());
    write_json(a.json, &report.json())
}

/// Writes the report's JSON where `--json` asks; the exit code.
pub(super) fn write_json(out: Option<&PathBuf>, value: &serde_json::Value) -> i32 {
    if let Some(out) = out {
        let text = serde_json::to_string_pretty(value).unwrap_or_default();
        if let Err(e) = std::fs::write(out, text + "\n") {
            eprintln!("error: cannot write `{}`: {e}", out.display());
            return 2;
        }
    }
    0
}
