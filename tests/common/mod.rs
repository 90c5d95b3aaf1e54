//! Shared helpers for the integration tests.
#![allow(dead_code)]

use neuroc::ir::Model;
use neuroc::runtime::{self, Config, Probe, Recording};
use neuroc::schemes::{self, Method};
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
    c.model(name).unwrap_or_else(|| panic!("model {name} in {path}")).clone()
}

/// Compiles source text and returns the named model.
pub fn model_from_source(text: &str, name: &str) -> Model {
    let c = neuroc::compile_source("test.neuro", text, None);
    assert!(!c.diagnostics.has_errors(), "{}", c.render());
    c.model(name).unwrap_or_else(|| panic!("model {name}")).clone()
}

/// A configuration recording the named states or values.
pub fn config(m: &Model, dt_ms: f64, duration_ms: f64, record: &[&str]) -> Config {
    let mut cfg = Config::new(m, dt_ms * 1e-3, duration_ms * 1e-3);
    cfg.record = record
        .iter()
        .map(|r| match m.state(r) {
            Some(i) => Probe::State(i),
            None => Probe::Value(m.value(r).expect("recordable name")),
        })
        .collect();
    cfg
}

/// Derives the plan for `method` and runs.
pub fn run(m: &Model, method: Method, cfg: &Config) -> Recording {
    let mut m = m.clone();
    let (plan, d) = schemes::derive_plan(&mut m, method);
    let plan = plan.unwrap_or_else(|| panic!("no plan: {:?}", d.list.iter().map(|x| &x.message).collect::<Vec<_>>()));
    runtime::simulate(&m, &plan, cfg).unwrap_or_else(|d| panic!("simulation failed: {}", d.message))
}

/// Reads a numeric CSV (skipping `#` comments and the header) into rows.
pub fn read_csv(path: &std::path::Path) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').map(|x| x.trim().parse::<f64>().unwrap_or(f64::NAN)).collect())
        .collect()
}
