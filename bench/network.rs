//! Benchmark: the Brette et al. (2007) networks, examples/cuba.neuro and
//! examples/cobahh.neuro, run by the `neuroc` binary as a user runs them.
//!
//!   cargo bench --bench network                    # 1 s and 10 s simulated
//!   NEUROC_BENCH_SECONDS=1 cargo bench --bench network
//!
//! Per run it prints the run-only wall time (compilation excluded), the JIT
//! compile time, the peak memory of the process and the bytes per synapse,
//! as `neuroc run` reports them. Two kinds of ratio:
//! - against the reference interpreter back end (`--backend interp`), run
//!   here in the same session on a 50 ms slice and scaled;
//! - against Brian2 C++ standalone and NEST, 1 thread, from the figures in
//!   `tests/reference/network/README.md` (measured on this class of
//!   machine, not in this run: rerun them where you have them installed);
//! - against Brian2 C++ standalone measured here, in the same run, on the
//!   same number of threads, when `NEUROC_BRIAN2_PYTHON` names a Python
//!   that imports brian2 (`bench/cuba_brian2.py`, `bench/cobahh_brian2.py`:
//!   Brian2's own timing of its run loop, its C++ compilation excluded):
//!
//!   NEUROC_BRIAN2_PYTHON=/tmp/brianenv/bin/python cargo bench --bench network
//!
//! Each length runs on 1 and on 2 threads (`--threads`); the spikes are the
//! same (tests/network.rs checks it), only the wall time differs. Each row
//! gives ns per synaptic event (spikes x mean out-degree) and per
//! neuron-step, each the whole run seen one way. With Brian2 and 10 s
//! runs, CUBA on one thread then runs three times against Brian2,
//! alternated, and the best of each is compared.
//!
//! Then Brunel's model A (examples/brunel2000.neuro) in its SR and AI
//! regimes on 1 and 2 threads, with ns per synaptic event and per
//! neuron-step, and NEST's time measured in the same run when
//! `NEUROC_NEST_PYTHON` names a Python that imports nest:
//!
//!   NEUROC_NEST_PYTHON=/tmp/nestenv/bin/python NEUROC_BENCH_SECONDS=1 cargo bench --bench network
//!
//! After each regime, two one-thread copies run at once: on two free cores
//! each is as fast as alone, so 2 x (alone) / (the slower copy) is what
//! two cores give on this machine at that moment, the ceiling of the
//! 2-thread speed-up, printed beside it.
//!
//! `NEUROC_BENCH_SCALE=1` adds Brunel's model A scaled to 10^6 neurons
//! (1.25 G synapses, about 2.7 GiB): its build time and peak memory
//! against the connectivity plus the state.
//!
//! `COBAHH+tab` is COBAHH with its neuron's rates tabulated in V
//! (`--table "V in [-100 mV, 100 mV], step = 0.1 mV"`): Brian2 and NEST
//! compute every rate, so its ratios to them compare a tabulated run with
//! exact ones.

use std::path::Path;
use std::process::Command;

/// Brian2 C++ standalone and NEST run-only seconds, 1 thread, from the
/// reference README (1 s and 10 s simulated).
fn reference_seconds(model: &str, seconds: u32) -> Option<(f64, f64)> {
    match (model, seconds) {
        ("COBAHH" | "COBAHH+tab", 1) => Some((4.3, 30.0)),
        ("COBAHH" | "COBAHH+tab", 10) => Some((43.0, 255.0)),
        ("CUBA", 1) => Some((0.096, 0.76)),
        ("CUBA", 10) => Some((0.72, 8.0)),
        _ => None,
    }
}

struct Run {
    seconds: f64,
    /// Building the network (drawing its connections), before the run.
    build_seconds: f64,
    compile_ms: f64,
    peak_mib: f64,
    bytes_per_synapse: f64,
    /// Synapses, and spikes written to `spikes.csv`.
    synapses: f64,
    spikes: usize,
}

/// A file of the repository.
fn source(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).expect(path)
}

/// Runs the network of `text` for `duration` (a `.neuro` duration literal)
/// with `extra` flags, and reads `neuroc run`'s summary line.
fn run(text: &str, extra: &[&str], duration: &str, interp: bool, threads: usize) -> Run {
    run_in("", text, extra, duration, interp, threads)
}

/// [`run`] in a folder of its own, named by `tag` (runs at the same time).
fn run_in(tag: &str, text: &str, extra: &[&str], duration: &str, interp: bool, threads: usize) -> Run {
    let text = text.replace("duration = 1 s", &format!("duration = {duration}"));
    let dir =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("neuroc-bench-net-{}{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("net.neuro");
    std::fs::write(&file, text).expect("write model");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_neuroc"));
    let _ = std::fs::remove_dir_all(dir.join("out"));
    cmd.arg("run").arg(&file).arg("-o").arg(dir.join("out")).args(extra);
    if interp {
        cmd.args(["--backend", "interp"]);
    }
    cmd.args(["--threads", &threads.to_string()]);
    let out = cmd.output().expect("run neuroc");
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{line}{}", String::from_utf8_lossy(&out.stderr));
    let number_before = |marker: &str| -> f64 {
        let end = line.find(marker).unwrap_or_else(|| panic!("no `{marker}` in: {line}"));
        let start = line[..end].rfind([' ', '(']).map_or(0, |k| k + 1);
        line[start..end].trim().parse().unwrap_or(f64::NAN)
    };
    let after = |marker: &str| -> f64 {
        let start = line.find(marker).unwrap_or_else(|| panic!("no `{marker}` in: {line}")) + marker.len();
        line[start..].split_whitespace().next().and_then(|x| x.parse().ok()).unwrap_or(f64::NAN)
    };
    let spikes = std::fs::read_to_string(dir.join("out").join("spikes.csv")).map_or(0, |t| t.lines().count() - 1);
    Run {
        synapses: number_before(" synapses"),
        spikes,
        seconds: after(" ms) in "),
        build_seconds: number_before(" s building it"),
        compile_ms: if interp { 0.0 } else { number_before(" ms of JIT") },
        peak_mib: number_before(" MiB"),
        bytes_per_synapse: number_before(" B each"),
    }
}

fn main() {
    let lengths: Vec<u32> = match std::env::var("NEUROC_BENCH_SECONDS") {
        Ok(s) => s.split(',').filter_map(|x| x.trim().parse().ok()).collect(),
        Err(_) => vec![1, 10],
    };
    println!("networks, dt = 0.1 ms; reference figures (1 thread): tests/reference/network/README.md\n");
    println!(
        "{:<10} {:>6} {:>8} {:>9} {:>11} {:>9} {:>8} {:>9} {:>14} {:>10} {:>10} {:>10} {:>10}",
        "model",
        "sim s",
        "threads",
        "run s",
        "compile ms",
        "peak MiB",
        "B/syn",
        "ns/event",
        "ns/neuron-step",
        "interp x",
        "1 thr / n",
        "Brian2 x",
        "NEST x"
    );
    let brian2 = std::env::var("NEUROC_BRIAN2_PYTHON").ok();
    let mut brian2_seconds = std::collections::HashMap::new();
    let cobahh = source("examples/cobahh.neuro");
    let tabulated: &[&str] = &["--table", "V in [-100 mV, 100 mV], step = 0.1 mV"];
    let models = [
        ("CUBA", source("examples/cuba.neuro"), &[][..]),
        ("COBAHH", cobahh.clone(), &[][..]),
        ("COBAHH+tab", cobahh, tabulated),
    ];
    for (model, example, extra) in &models {
        // the interpreter baseline on a 50 ms slice, scaled per simulated second
        let slice = run(example, extra, "50 ms", true, 1).seconds / 0.05;
        for &length in &lengths {
            let mut one_thread = f64::NAN;
            for threads in [1, 2] {
                let r = run(example, extra, &format!("{length} s"), false, threads);
                if threads == 1 {
                    one_thread = r.seconds;
                }
                let per_second = r.seconds / length as f64;
                let (mut brian, nest) = reference_seconds(model, length).map_or((f64::NAN, f64::NAN), |(b, n)| (b, n));
                if let Some(py) = &brian2 {
                    let script = if model.starts_with("CUBA") { "cuba" } else { "cobahh" };
                    brian = *brian2_seconds
                        .entry((script, length, threads))
                        .or_insert_with(|| brian2_run(py, script, length, threads));
                }
                // both networks: 4000 neurons; events = spikes x mean out-degree
                let neurons = 4000.0;
                let events = r.spikes as f64 * r.synapses / neurons;
                let neuron_steps = neurons * f64::from(length) / 1e-4;
                println!(
                    "{:<10} {:>6} {:>8} {:>9.3} {:>11.1} {:>9.0} {:>8.1} {:>9.2} {:>14.3} {:>10.1} {:>10.2} {:>10.2} {:>10.2}",
                    model,
                    length,
                    threads,
                    r.seconds,
                    r.compile_ms,
                    r.peak_mib,
                    r.bytes_per_synapse,
                    r.seconds * 1e9 / events,
                    r.seconds * 1e9 / neuron_steps,
                    slice / per_second,
                    one_thread / r.seconds,
                    brian / r.seconds,
                    nest / r.seconds,
                );
            }
        }
    }
    println!(
        "\nratios above 1 mean neuroc is faster; {}; NEST ratios compare with another machine's run",
        if brian2.is_some() {
            "Brian2 measured here, in this run, on as many threads"
        } else {
            "Brian2 ratios compare with another machine's run (set NEUROC_BRIAN2_PYTHON to measure it here)"
        }
    );
    if let (Some(py), true) = (&brian2, lengths.contains(&10)) {
        cuba_pairs(py);
    }
    brunel(&lengths);
    if std::env::var("NEUROC_BENCH_SCALE").is_ok() {
        scale();
    }
}

/// Brunel's model A (AI) scaled to 1,000,000 neurons and 1.25 G synapses,
/// 100 ms on 2 threads (`NEUROC_BENCH_SCALE=1`; about 2.7 GiB and a minute):
/// the peak memory against the connectivity's bytes plus the neurons'
/// state (V and its parameter arrays, two input ports of 16 ring slots).
fn scale() {
    let text = source("examples/brunel2000.neuro")
        .replace("population E = 10000 x BrunelLIF", "population E = 800000 x BrunelLIF")
        .replace("population I = 2500 x BrunelLIF", "population I = 200000 x BrunelLIF")
        .replace("record spikes(E, I), rate(E, bin = 0.5 ms)", "record rate(E, bin = 0.5 ms)");
    let r = run(&text, &["--model", "BrunelAI"], "100 ms", false, 2);
    let neurons = 1e6;
    let connectivity = r.synapses * r.bytes_per_synapse / (1 << 20) as f64;
    let state = neurons * 8.0 * (4.0 + 2.0 * 16.0) / (1 << 20) as f64;
    println!(
        "\nBrunel A (AI), 10^6 neurons, {:.2e} synapses, 100 ms on 2 threads: {:.1} s after {:.1} s drawing the \
         connectivity, peak {:.0} MiB = {:.2} x (connectivity {:.0} MiB at {:.1} B/synapse + state {:.0} MiB)",
        r.synapses,
        r.seconds,
        r.build_seconds,
        r.peak_mib,
        r.peak_mib / (connectivity + state),
        connectivity,
        r.bytes_per_synapse,
        state
    );
}

/// CUBA 10 s on one thread against Brian2 (the target), three
/// times each, alternated: this machine's speed moves by a third from one
/// minute to the next, so each pair ran in the same moment, and the best
/// of each compares the two at their fastest.
fn cuba_pairs(python: &str) {
    let example = source("examples/cuba.neuro");
    println!("\nCUBA 10 s, 1 thread, against Brian2, alternated (run only):");
    let (mut ours, mut theirs) = (f64::INFINITY, f64::INFINITY);
    for pair in 1..=3 {
        let a = run(&example, &[], "10 s", false, 1).seconds;
        let b = brian2_run(python, "cuba", 10, 1);
        println!("  pair {pair}: neuroc {a:.3} s, Brian2 {b:.3} s: Brian2 / neuroc {:.2}", b / a);
        (ours, theirs) = (ours.min(a), theirs.min(b));
    }
    println!("  best of three: neuroc {ours:.3} s, Brian2 {theirs:.3} s: Brian2 / neuroc {:.2}", theirs / ours);
}

/// Brunel's model A (examples/brunel2000.neuro: 12,500 LIF neurons, 15.6
/// M synapses) in two of its regimes, BrunelSR (synchronous regular, about
/// 330 Hz: delivery-bound) and BrunelAI (asynchronous irregular, about 27
/// Hz), on 1 and 2 threads: the run time, ns per synaptic event and per
/// neuron-step, and the ratio to NEST measured here in the same run when
/// `NEUROC_NEST_PYTHON` names a Python with NEST (bench/brunel_nest.py).
fn brunel(lengths: &[u32]) {
    let example = source("examples/brunel2000.neuro");
    let nest = std::env::var("NEUROC_NEST_PYTHON").ok();
    println!(
        "\nBrunel model A, dt = 0.1 ms; NEST measured here: {}\n",
        nest.as_deref().unwrap_or("no (set NEUROC_NEST_PYTHON)")
    );
    println!(
        "{:<9} {:>6} {:>8} {:>9} {:>9} {:>6} {:>9} {:>14} {:>10} {:>9} {:>8}",
        "regime",
        "sim s",
        "threads",
        "run s",
        "peak MiB",
        "B/syn",
        "ns/event",
        "ns/neuron-step",
        "1 thr / n",
        "NEST s",
        "NEST x"
    );
    for (model, g_eta) in [("BrunelSR", ["3", "2"]), ("BrunelAI", ["5", "2"])] {
        for &length in lengths.iter().filter(|&&l| l <= 2) {
            let (mut one_thread, mut two_threads) = (f64::NAN, f64::NAN);
            for threads in [1, 2] {
                let r = run(&example, &["--model", model], &format!("{length} s"), false, threads);
                if threads == 1 {
                    one_thread = r.seconds;
                }
                let neurons = 12_500.0;
                let events = r.spikes as f64 * r.synapses / neurons;
                let neuron_steps = neurons * f64::from(length) / 1e-4;
                let nest_s = nest.as_deref().map_or(f64::NAN, |py| nest_seconds(py, threads, length, g_eta));
                println!(
                    "{:<9} {:>6} {:>8} {:>9.3} {:>9.0} {:>6.1} {:>9.3} {:>14.2} {:>10.2} {:>9.3} {:>8.2}",
                    model,
                    length,
                    threads,
                    r.seconds,
                    r.peak_mib,
                    r.bytes_per_synapse,
                    r.seconds * 1e9 / events,
                    r.seconds * 1e9 / neuron_steps,
                    one_thread / r.seconds,
                    nest_s,
                    nest_s / r.seconds,
                );
                if threads == 2 {
                    two_threads = one_thread / r.seconds;
                }
            }
            // what two cores give here: two one-thread runs at once, each
            // as fast as alone on two free cores (the ceiling of 2 threads)
            let copies: Vec<f64> = std::thread::scope(|s| {
                let runs: Vec<_> = (0..2)
                    .map(|k| {
                        let (example, duration) = (&example, format!("{length} s"));
                        s.spawn(move || {
                            run_in(&format!("-copy{k}"), example, &["--model", model], &duration, false, 1).seconds
                        })
                    })
                    .collect();
                runs.into_iter().map(|h| h.join().expect("a copy ran")).collect()
            });
            let slowest = copies.iter().copied().fold(0.0, f64::max);
            println!(
                "{:<9} two 1-thread runs at once: {:.3} s and {:.3} s: the two cores give {:.2}x one \
                 (2 threads gave {:.2}x, {:.0}% of that)",
                "",
                copies[0],
                copies[1],
                2.0 * one_thread / slowest,
                two_threads,
                100.0 * two_threads / (2.0 * one_thread / slowest)
            );
        }
    }
}

/// Brian2 C++ standalone's run-only seconds for bench/SCRIPT_brian2.py
/// (`cuba` or `cobahh`), `seconds` simulated on `threads` threads.
fn brian2_run(python: &str, script: &str, seconds: u32, threads: usize) -> f64 {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("bench/{script}_brian2.py"));
    let out = Command::new(python).arg(path).args([seconds.to_string(), threads.to_string()]).output();
    let Ok(out) = out else { return f64::NAN };
    let text = String::from_utf8_lossy(&out.stdout);
    // "... run 0.447 s; rates ..."
    text.split("run ").nth(1).and_then(|x| x.split_whitespace().next()).and_then(|x| x.parse().ok()).unwrap_or(f64::NAN)
}

/// NEST's run-only seconds for Brunel A with (g, eta) (bench/brunel_nest.py).
fn nest_seconds(python: &str, threads: usize, seconds: u32, g_eta: [&str; 2]) -> f64 {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/brunel_nest.py");
    let out = Command::new(python).arg(script).args([threads.to_string(), seconds.to_string()]).args(g_eta).output();
    let Ok(out) = out else { return f64::NAN };
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().rsplit(' ').nth(1).and_then(|x| x.parse().ok()).unwrap_or(f64::NAN)
}
