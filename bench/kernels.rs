//! Benchmark: kernels for every model (issue 20). ns per neuron-step of
//! an HH population (one thread, dt = 0.025 ms, NEURON's default) with
//! the gate sodium channel (`NaT`, exponential Euler) and with the 8-state
//! kinetic `NaMarkov` (uniformization, the default, and backward Euler,
//! `kinetic_implicit`: NEURON's `sparse`), and of the gate model under every
//! method the kernels take; JIT compile time for each; ratios in this run.
//!
//!   cargo bench --bench kernels                   # N = 10000, 2000 steps
//!   NEUROC_BENCH_N=2000 NEUROC_BENCH_STEPS=400 cargo bench --bench kernels
//!   NEURON_PYTHON=/path/venv/bin/python cargo bench --bench kernels
//!
//! With `NEURON_PYTHON` (a Python with `pip install neuron`), the same
//! cells run in NEURON: `bench/neuron/nam.mod` (the same 8-state scheme as
//! an NMODL KINETIC block, METHOD sparse) is compiled with `nrnivmodl` in a
//! temporary folder and `bench/neuron/kernels_neuron.py` times one
//! compartment per cell, CVode off, one thread.

#[path = "common.rs"]
mod common;
use common::peak_rss_mib;
use neuroc::runtime::population::{self, Backend, PopConfig};
use neuroc::schemes::{self, Method};
use std::process::Command;
use std::time::Instant;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// An HH cell with the sodium channel `na`, driven by 6 to 14 uA/cm^2.
fn hh_with(na: &str) -> neuroc::ir::Model {
    let src = format!(
        "import \"markov.neuro\"\nimport \"hh.neuro\"\nneuron M {{\n    parameter C = 1 uF/cm^2\n    parameter I = 10 uA/cm^2\n    state V = -65 mV\n    use {na}, Kdr, Leak\n    dV/dt = (I - currents) / C\n    spike when V crosses 0 mV upward\n}}\n"
    );
    let c = neuroc::compile_source("bench.neuro", &src, None);
    assert!(!c.diagnostics.has_errors(), "{}", c.render());
    c.model("M").unwrap_or_else(|| panic!("no model M")).clone()
}

/// `m` with the species of its kinetic schemes under `method`, as a
/// channel's `method =` statement puts them.
fn species_by(mut m: neuroc::ir::Model, method: &str) -> neuroc::ir::Model {
    for i in 0..m.states.len() {
        if m.states[i].kinetic.is_some() {
            m.states[i].method = Some((method.to_string(), m.span));
        }
    }
    m
}

/// (ns per neuron-step, compile seconds, spikes per neuron per second).
fn time(m: &neuroc::ir::Model, method: Method, n: usize, steps: usize, dt_ms: f64) -> (f64, f64, f64) {
    let mut m = m.clone();
    let (plan, _) = schemes::derive_plan(&mut m, method);
    let plan = plan.unwrap_or_else(|| panic!("no plan for {method:?}"));
    let i = m.param("I").unwrap_or_else(|| panic!("no I"));
    let cfg = PopConfig {
        n,
        dt: dt_ms * 1e-3,
        duration: steps as f64 * dt_ms * 1e-3,
        per_neuron: vec![(i, (0..n).map(|k| (6.0 + 2.0 * (k % 5) as f64) * 1e-2).collect())],
        param_overrides: vec![None; m.params.len()],
        value_overrides: vec![None; m.values.len()],
        init_per_neuron: vec![],
        record: vec![],
        record_neurons: vec![],
        sample_every: steps,
        mean_of: vec![],
        threads: 1,
        backend: Backend::Jit,
        optimize: false,
        seed: 1,
    };
    let start = Instant::now();
    let r = population::simulate(&m, &plan, &cfg).unwrap_or_else(|d| panic!("{method:?}: {}", d.message));
    let wall = start.elapsed().as_secs_f64() - r.compile_seconds;
    let rate = r.spikes.len() as f64 / n as f64 / (steps as f64 * dt_ms * 1e-3);
    if std::env::var("NEUROC_BENCH_VERBOSE").is_ok() {
        eprintln!("{method:?}: {} kernel instructions", r.kernel_insts);
    }
    (wall / (n * steps) as f64 * 1e9, r.compile_seconds, rate)
}

/// NEURON's ns per compartment-step (gates, markov), when asked for.
fn neuron(n: usize, steps: usize, dt_ms: f64) -> Option<(f64, f64)> {
    let python = std::env::var("NEURON_PYTHON").ok()?;
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/neuron");
    let dir =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("neuroc-bench-neuron-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    std::fs::copy(here.join("nam.mod"), dir.join("nam.mod")).ok()?;
    let bin = std::path::Path::new(&python).parent()?;
    let built = Command::new(bin.join("nrnivmodl")).current_dir(&dir).output().ok()?;
    if !built.status.success() {
        eprintln!("nrnivmodl failed:\n{}", String::from_utf8_lossy(&built.stderr));
        return None;
    }
    let out = Command::new(&python)
        .arg(here.join("kernels_neuron.py"))
        .args([n.to_string(), steps.to_string(), dt_ms.to_string()])
        .current_dir(&dir)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let read = |what: &str| {
        text.lines().find(|l| l.starts_with(what)).and_then(|l| l.split_whitespace().nth(2)?.parse::<f64>().ok())
    };
    let _ = std::fs::remove_dir_all(&dir);
    match (read("gates"), read("markov")) {
        (Some(g), Some(m)) => Some((g, m)),
        _ => {
            eprintln!("NEURON run failed:\n{text}\n{}", String::from_utf8_lossy(&out.stderr));
            None
        }
    }
}

fn main() {
    let n = env("NEUROC_BENCH_N", 10_000);
    let steps = env("NEUROC_BENCH_STEPS", 2000);
    let dt = 0.025;
    println!("HH population, {n} neurons x {steps} steps, dt = {dt} ms, one thread (JIT)");
    println!("{:<34} {:>16} {:>12} {:>10}", "model / method", "ns/neuron-step", "compile ms", "spikes/s");
    let (gates, markov) = (hh_with("NaT"), hh_with("NaMarkov"));
    let sparse = species_by(markov.clone(), "kinetic_implicit");
    let (mut base, mut kinetic, mut implicit) = (f64::NAN, f64::NAN, f64::NAN);
    let runs: [(&str, &neuroc::ir::Model, Method); 9] = [
        ("NaT gates, auto (exp_euler)", &gates, Method::Auto),
        ("NaMarkov, auto (kinetic)", &markov, Method::Auto),
        ("NaMarkov, kinetic_implicit", &sparse, Method::Auto),
        ("NaT gates, euler", &gates, Method::Euler),
        ("NaT gates, rk4", &gates, Method::Rk4),
        ("NaT gates, heun", &gates, Method::Heun),
        ("NaT gates, backward_euler", &gates, Method::BackwardEuler),
        ("NaT gates, trapezoidal", &gates, Method::Trapezoidal),
        ("NaT gates, rk45", &gates, Method::Rk45),
    ];
    for (k, (name, m, method)) in runs.into_iter().enumerate() {
        let (ns, compile, rate) = time(m, method, n, steps, dt);
        if k == 0 {
            base = ns;
        }
        if k == 1 {
            kinetic = ns;
        }
        if k == 2 {
            implicit = ns;
        }
        println!("{name:<34} {ns:>16.1} {:>12.2} {rate:>10.1}   ({:.2}x the gates)", compile * 1e3, ns / base);
    }
    println!(
        "NaMarkov / NaT gates: {:.2}x exact (uniformization), {:.2}x backward Euler (goal: at most 2x)",
        kinetic / base,
        implicit / base
    );
    match neuron(n, steps, dt) {
        Some((g, m)) => {
            println!("NEURON 9, same cells (one compartment each, fixed step, one thread):");
            println!("  hh (gates):            {g:>10.1} ns/compartment-step  -> neuroc {:.2}x faster", g / base);
            println!(
                "  nam (KINETIC, sparse): {m:>10.1} ns/compartment-step  -> neuroc {:.2}x faster with the same scheme (kinetic_implicit; goal: 3x), {:.2}x with the exact propagator",
                m / implicit,
                m / kinetic
            );
        }
        None => println!("NEURON: not measured (set NEURON_PYTHON to a Python with `pip install neuron`)"),
    }
    println!("peak memory: {:.0} MiB", peak_rss_mib());
}
