//! Benchmark: a cell of about 1,000 compartments (issue 14): a soma with
//! `NEUROC_BENCH_DENDS` dendrites of `NEUROC_BENCH_NSEG` segments, HH
//! channels everywhere, a current clamp at the soma, backward Euler,
//! dt = 0.025 ms; ns per compartment-step of the channels as JIT kernels
//! and on the reference interpreter, and NEURON 9 on the same cell in the
//! same run (`NEURON_PYTHON=/path/venv/bin/python`, `pip install neuron`).
//!
//!   cargo bench --bench cable                    # 9 x 111 + 1 = 1000, 1 s
//!   NEUROC_BENCH_STEPS=4000 cargo bench --bench cable

#[path = "common.rs"]
mod common;
use common::peak_rss_mib;
use neuroc::{Backend, Experiment};
use std::process::Command;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn source(dends: usize, nseg: usize, tables: bool) -> String {
    let mut s = String::from(
        "import \"hh.neuro\"\ncell Tree {\n    parameter Cm = 1 uF/cm^2, Ra = 100 ohm*cm\n    state V = -65 mV\n    section soma(length = 20 um, diameter = 20 um)\n",
    );
    for k in 0..dends {
        s += &format!("    section dend{k}(length = 200 um, diameter = 2 um, parent = soma, nseg = {nseg})\n");
    }
    if tables {
        // rate tables on NEURON's grid for hh (-100 to 100 mV, 200 intervals)
        s += "    table V in [-100 mV, 100 mV], step = 1 mV\n";
    }
    s += "    region all { use NaT, Kdr, Leak }\n    drive soma with IClamp(amplitude = 1 nA)\n    record V(soma)\n}\n";
    s
}

/// (ns per compartment-step, compile ms, soma spikes).
fn ours(src: &str, backend: Backend, steps: usize, dt_ms: f64) -> (f64, f64, usize) {
    let mut e = Experiment::from_source("tree.neuro", src, None).unwrap_or_else(|e| panic!("{e}"));
    e.backend(backend)
        .dt(&format!("{dt_ms} ms"))
        .duration(&format!("{} ms", steps as f64 * dt_ms))
        .sample(&format!("{dt_ms} ms"));
    let (r, summary) = e.run().unwrap_or_else(|e| panic!("{e}"));
    let v = r.table("V").unwrap().data.column(1).to_vec();
    let spikes = v.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
    let compartments: usize = summary
        .line
        .split(" compartments")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    (summary.seconds / (steps * compartments) as f64 * 1e9, summary.compile_seconds * 1e3, spikes)
}

fn neuron(dends: usize, nseg: usize, steps: usize, dt_ms: f64) -> Option<(f64, usize)> {
    let python = std::env::var("NEURON_PYTHON").ok()?;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/neuron/cable_neuron.py");
    let out = Command::new(python)
        .arg(script)
        .args([dends.to_string(), nseg.to_string(), steps.to_string(), dt_ms.to_string()])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("cell "))?;
    let mut it = line.split_whitespace().skip(1);
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// A population of `cells` ball-and-stick cells (the example's cell, a
/// spread of clamp amplitudes so that they fire at different rates) on
/// `threads` threads: (ns per compartment-step, compartments, spikes).
fn population(cells: usize, threads: usize, steps: usize, dt_ms: f64) -> (f64, usize, u64) {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/ball_and_stick.neuro")).unwrap();
    let src = src
        .replace("amplitude = 0.2 nA)", "amplitude = linspace(0.1 nA, 0.5 nA))\n    spike when V(soma) crosses 0 mV")
        .replace("delay = 5 ms, duration = 40 ms, ", "")
        .replace("method = crank_nicolson }", &format!("method = backward_euler, cells = {cells} }}"));
    let mut e = Experiment::from_source("bs.neuro", &src, None).unwrap_or_else(|e| panic!("{e}"));
    e.threads(&threads.to_string()).dt(&format!("{dt_ms} ms")).duration(&format!("{} ms", steps as f64 * dt_ms));
    let (_, summary) = e.run().unwrap_or_else(|e| panic!("{e}"));
    let compartments = cells * 14;
    (summary.seconds / (steps * compartments) as f64 * 1e9, compartments, summary.spikes)
}

fn neuron_population(cells: usize, steps: usize, dt_ms: f64) -> Option<(f64, usize)> {
    let python = std::env::var("NEURON_PYTHON").ok()?;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/neuron/cable_neuron.py");
    let out = Command::new(python)
        .arg(script)
        .args(["population".to_string(), cells.to_string(), steps.to_string(), dt_ms.to_string()])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("population "))?;
    let mut it = line.split_whitespace().skip(1);
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// Seconds to compile a cell of about `n` compartments (soma and HH
/// dendrites of 100 segments) from source to its first step: parse,
/// check, lay out, build and JIT the kernels, one step.
fn compile_time(n: usize) -> f64 {
    let src = source(n / 100, 100, false);
    let start = std::time::Instant::now();
    let mut e = Experiment::from_source("tree.neuro", &src, None).unwrap_or_else(|e| panic!("{e}"));
    e.dt("0.025 ms").duration("0.025 ms");
    e.run().unwrap_or_else(|e| panic!("{e}"));
    start.elapsed().as_secs_f64()
}

fn main() {
    let (small, large) = (compile_time(1000), compile_time(10_000));
    println!(
        "compile to the first step: 1,000 compartments {:.3} s, 10,000 compartments {:.3} s ({:.1}x for 10x; goal: under 2 s and linear)",
        small,
        large,
        large / small
    );
    let (dends, nseg) = (env("NEUROC_BENCH_DENDS", 9), env("NEUROC_BENCH_NSEG", 111));
    let steps = env("NEUROC_BENCH_STEPS", 40_000);
    let dt = 0.025;
    let n = 1 + dends * nseg;
    println!("cell: soma + {dends} HH dendrites x {nseg} segments = {n} compartments, {steps} steps of {dt} ms, backward Euler, one thread");
    let src = source(dends, nseg, false);
    let (exact, compile, spikes) = ours(&src, Backend::Jit, steps, dt);
    println!("neuroc, JIT kernels, exact rates:{exact:>7.1} ns/compartment-step  (compile {compile:.1} ms, {spikes} soma spikes)");
    let (jit, compile, spikes) = ours(&source(dends, nseg, true), Backend::Jit, steps, dt);
    println!("neuroc, JIT kernels, rate tables:{jit:>7.1} ns/compartment-step  (compile {compile:.1} ms, {spikes} soma spikes)");
    let ref_steps = (steps / 20).max(1);
    let (reference, _, _) = ours(&src, Backend::Reference, ref_steps, dt);
    println!(
        "neuroc, reference interpreter:  {reference:>8.1} ns/compartment-step  ({ref_steps} steps; {:.1}x the JIT)",
        reference / jit
    );
    match neuron(dends, nseg, steps, dt) {
        Some((ns, spikes)) => println!(
            "NEURON 9 (hh tables on):         {ns:>7.1} ns/compartment-step  ({spikes} soma spikes) -> neuroc {:.2}x faster with tables as NEURON's (goal: 2x), {:.2}x with exact rates",
            ns / jit,
            ns / exact
        ),
        None => println!("NEURON: not measured (set NEURON_PYTHON to a Python with `pip install neuron`)"),
    }
    let (cells, psteps) = (env("NEUROC_BENCH_CELLS", 1000), env("NEUROC_BENCH_POP_STEPS", 40_000));
    println!("population: {cells} ball-and-stick cells (14 compartments each), {psteps} steps of {dt} ms, backward Euler, exact rates");
    let (one, comps, spikes) = population(cells, 1, psteps, dt);
    println!("neuroc, 1 thread:   {one:>7.1} ns/compartment-step  ({comps} compartments, {spikes} spikes)");
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads > 1 {
        let (many, _, s) = population(cells, threads, psteps, dt);
        println!(
            "neuroc, {threads} threads:  {many:>7.1} ns/compartment-step  ({s} spikes; {:.2}x the one thread)",
            one / many
        );
    }
    match neuron_population(cells, psteps, dt) {
        Some((ns, spikes)) => println!(
            "NEURON 9, 1 thread: {ns:>7.1} ns/compartment-step  ({spikes} spikes, hh tables off) -> neuroc {:.2}x faster on one thread",
            ns / one
        ),
        None => println!("NEURON: not measured"),
    }
    println!("peak memory: {:.0} MiB", peak_rss_mib());
}
