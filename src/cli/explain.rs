//! `neuroc explain FILE`: what the compiler derived, and why.

use std::path::Path;

pub(super) fn explain(path: &Path, only: Option<&str>, method: Option<&str>, dt: Option<&str>, ir: bool) -> i32 {
    let mut exp = match neuroc::Experiment::load(path) {
        Ok(e) => e,
        Err(e) => {
            e.eprint();
            return if e.is_io() { 2 } else { 1 };
        }
    };
    let warnings: Vec<_> = exp.warnings().into_iter().cloned().collect();
    exp.eprint(&warnings);
    match exp.explain(only, method, dt, ir) {
        Ok(text) => {
            print!("{text}");
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
