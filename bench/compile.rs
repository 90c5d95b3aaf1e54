//! Benchmark: how compile time and memory grow with model size, through the
//! library API (`Experiment::from_source`, which parses, lowers, checks
//! units, derives the schemes and configures the `simulate` block as
//! `neuroc check` does; then `run` for one step, which adds building the
//! kernel and the JIT).
//!
//!   cargo bench --bench compile
//!   NEUROC_BENCH_SCALE=0.2 cargo bench --bench compile     # smaller models
//!
//! Each case runs in a child process of its own, so its peak memory
//! (VmHWM) is its own. The last columns compare each size with the
//! smallest of its family, measured in the same run: the time ratio over
//! the size ratio is 1 for linear growth, 2 when doubling the size
//! quadruples the time.

#[path = "common.rs"]
mod common;
use common::peak_rss_mib;
use std::process::Command;
use std::time::Instant;

/// `n` independent linear states.
fn indep(n: usize) -> String {
    let mut s = String::from("rate Indep {\n    parameter tau = 10 ms\n");
    for i in 0..n {
        s += &format!("    state x{i} = {}\n    dx{i}/dt = -x{i} / tau + {} / tau\n", i % 7, i % 5);
    }
    s + "}\nsimulate Indep { dt = 0.1 ms, duration = 0.1 ms }\n"
}

/// A chain of `n` derived values feeding one state.
fn chain(n: usize) -> String {
    let mut s = String::from("rate Chain {\n    parameter tau = 10 ms\n    state x = 1\n    v0 = x\n");
    for i in 1..n {
        s += &format!("    v{i} = 0.5 * v{} + 0.5 * x\n", i - 1);
    }
    s + &format!("    dx/dt = -v{} / tau\n}}\nsimulate Chain {{ dt = 0.1 ms, duration = 0.1 ms }}\n", n - 1)
}

/// `n` Wilson-Cowan nodes, each excited by every other (a dense
/// connectome written as one model: n^2 terms).
fn wilson_cowan(n: usize) -> String {
    let mut s = String::from(
        "rate Brain {\n    parameter tau = 10 ms, c1 = 16, c2 = 12, c3 = 15, c4 = 3, G = 0.1\n    fn S(x, a, th) = 1 / (1 + exp(-a * (x - th))) - 1 / (1 + exp(a * th))\n",
    );
    for i in 0..n {
        s += &format!("    state E{i} = {}, I{i} = 0\n", 0.01 * (i % 10) as f64);
    }
    for i in 0..n {
        let terms: Vec<String> = (0..n)
            .filter(|&j| j != i)
            .map(|j| format!("{:.3} * E{j}", ((i * 31 + j * 17) % 97) as f64 / 97.0))
            .collect();
        s += &format!(
            "    dE{i}/dt = (-E{i} + (1 - E{i}) * S(c1 * E{i} - c2 * I{i} + 1.25 + G * ({}), 1.3, 4)) / tau\n",
            terms.join(" + ")
        );
        s += &format!("    dI{i}/dt = (-I{i} + (1 - I{i}) * S(c3 * E{i} - c4 * I{i}, 2, 3.7)) / tau\n");
    }
    s + "}\nsimulate Brain { dt = 0.1 ms, duration = 0.1 ms, method = rk4 }\n"
}

/// The child: compiles and runs one case, printing
/// `check_s run_s peak_mib source_bytes`.
fn child(family: &str, n: usize) {
    let src = match family {
        "indep" => indep(n),
        "chain" => chain(n),
        _ => wilson_cowan(n),
    };
    let start = Instant::now();
    let exp = match neuroc::Experiment::from_source("bench.neuro", &src, None) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let check = start.elapsed().as_secs_f64();
    let start = Instant::now();
    if let Err(e) = exp.run() {
        eprintln!("{e}");
        std::process::exit(1);
    }
    let run = start.elapsed().as_secs_f64();
    println!("{check} {run} {} {}", peak_rss_mib(), src.len());
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let (Some(family), Some(n)) = (std::env::var("NEUROC_BENCH_CASE").ok(), args.get(1)) {
        child(&family, n.parse().unwrap_or(1));
        return;
    }
    let scale: f64 = std::env::var("NEUROC_BENCH_SCALE").ok().and_then(|v| v.parse().ok()).unwrap_or(1.0);
    let sized = |n: usize| ((n as f64 * scale).round() as usize).max(2);
    let families: [(&str, &str, Vec<usize>); 3] = [
        ("indep", "states", vec![sized(1000), sized(5000), sized(10000), sized(20000)]),
        ("chain", "values", vec![sized(5000), sized(20000)]),
        ("wc", "nodes (n^2 terms)", vec![sized(10), sized(20), sized(40), sized(80)]),
    ];
    nmodl_imports();
    println!("compile cost against model size (each case in its own process)");
    println!(
        "{:<7} {:>7} {:<18} {:>10} {:>10} {:>10} {:>9} {:>11} {:>11}",
        "family", "size", "of", "source", "check s", "+run s", "peak MiB", "check/size", "run/size"
    );
    for (family, what, sizes) in families {
        let mut first: Option<(f64, f64, f64)> = None;
        for n in sizes {
            let exe = std::env::current_exe().expect("the bench's own path");
            let out = Command::new(exe).arg(n.to_string()).env("NEUROC_BENCH_CASE", family).output().expect("child");
            let text = String::from_utf8_lossy(&out.stdout);
            let v: Vec<f64> = text.split_whitespace().filter_map(|x| x.parse().ok()).collect();
            if !out.status.success() || v.len() < 4 {
                println!("{family:<7} {n:>7} {what:<18} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
                continue;
            }
            let (check, run, peak, bytes) = (v[0], v[1], v[2], v[3]);
            // the size that matters is the source's: wc's grows as n^2
            let (c0, r0, b0) = *first.get_or_insert((check, run, bytes));
            let growth = bytes / b0;
            println!(
                "{family:<7} {n:>7} {what:<18} {:>8.0}KB {check:>10.3} {run:>10.3} {peak:>9.0} {:>11.2} {:>11.2}",
                bytes / 1e3,
                (check / c0) / growth,
                (run / r0) / growth,
            );
        }
    }
}

/// `neuroc import` per mechanism: NMODL read, translated and the channel
/// compiled (the library call), median of 21 after one warm-up.
fn nmodl_imports() {
    println!("neuroc import per mechanism (tests/nmodl; parse, translate, compile the channel)");
    println!("{:<6} {:>8} {:>10}", "mod", "lines", "ms");
    for name in ["hh", "kv1", "ih", "nam", "cat", "cad"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/nmodl/{name}.mod"));
        let text = std::fs::read_to_string(&path).expect("the test mechanisms");
        let mut times: Vec<f64> = (0..22)
            .map(|_| {
                let start = std::time::Instant::now();
                neuroc::import_nmodl_text(name, &text).expect("imports");
                start.elapsed().as_secs_f64()
            })
            .skip(1)
            .collect();
        times.sort_by(f64::total_cmp);
        println!("{name:<6} {:>8} {:>10.2}", text.lines().count(), times[times.len() / 2] * 1e3);
    }
    println!();
}
