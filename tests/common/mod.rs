//! Shared helpers for the integration tests.
#![allow(dead_code)]

use neuroc::ir::Model;
use neuroc::runtime::{self, Config, Method, Probe, Recording};
use std::path::PathBuf;

pub fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A file of `../shared/reference/`.
pub fn reference(path: &str) -> PathBuf {
    repo("../shared/reference").join(path)
}

/// Compiles a file of the repository and returns the named model.
pub fn model_from_file(path: &str, name: &str) -> Model {
    let p = repo(path);
    let text = std::fs::read_to_string(&p).expect("read model file");
    let c = neuroc::compile_source(path, &text, Some(p.canonicalize().expect("canonical path")));
    assert!(!c.diagnostics.has_errors(), "{}", c.render());
    c.model(name)
        .unwrap_or_else(|| panic!("model {name} in {path}"))
        .clone()
}

/// Compiles source text and returns the named model.
pub fn model_from_source(text: &str, name: &str) -> Model {
    let c = neuroc::compile_source("test.neuro", text, None);
    assert!(!c.diagnostics.has_errors(), "{}", c.render());
    c.model(name)
        .unwrap_or_else(|| panic!("model {name}"))
        .clone()
}

pub fn config(m: &Model, dt_ms: f64, duration_ms: f64, method: Method, record: &[&str]) -> Config {
    Config {
        dt: dt_ms * 1e-3,
        duration: duration_ms * 1e-3,
        method,
        record: record
            .iter()
            .map(|r| match m.state(r) {
                Some(i) => Probe::State(i),
                None => Probe::Value(m.value(r).expect("recordable name")),
            })
            .collect(),
        sample_every: 1,
        param_overrides: vec![None; m.params.len()],
        value_overrides: vec![None; m.values.len()],
        progress: false,
    }
}

pub fn run(m: &Model, cfg: &Config) -> Recording {
    runtime::simulate(m, cfg).unwrap_or_else(|d| panic!("simulation failed: {}", d.message))
}

/// Reads a numeric CSV (skipping `#` comments and the header) into rows.
pub fn read_csv(path: &std::path::Path) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split(',')
                .map(|x| x.trim().parse::<f64>().unwrap_or(f64::NAN))
                .collect()
        })
        .collect()
}
