//! `neuroc build`: runners that write what `neuroc run` writes, bit for
//! bit, on a folder with neither neuroc nor the model; object files a C
//! program calls; and the errors of a build.
//!
//! The runners link with `libneuroc_runner.a`, which the first test to
//! need it builds (`cargo build --release -p neuroc-runner`, a few
//! seconds once neuroc's library is built).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const NEUROC: &str = env!("CARGO_BIN_EXE_neuroc");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A fresh folder; tests that build the same example get folders of their own.
fn tmp(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let k = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("neuroc-runners-{}-{k}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The runtime library beside the neuroc binary, built once.
fn runtime() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let lib = Path::new(NEUROC).parent().unwrap().join("libneuroc_runner.a");
        let release = Path::new(NEUROC).parent().unwrap().file_name().is_some_and(|n| n == "release");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-q", "-p", "neuroc-runner"]).current_dir(ROOT);
        if release {
            cmd.arg("--release");
        }
        let o = cmd.output().expect("run cargo");
        assert!(o.status.success(), "building the runtime library failed:\n{}", text(&o));
        assert!(lib.is_file(), "{} was not built", lib.display());
        lib
    })
}

fn neuroc(args: &[&str], dir: &Path) -> Output {
    runtime();
    Command::new(NEUROC).args(args).current_dir(dir).output().expect("run neuroc")
}

/// Copies the examples (models and their data) to a folder of their own.
fn copy_examples(to: &Path) {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let p = e.unwrap().path();
            let target = to.join(p.file_name().unwrap());
            if p.is_dir() {
                copy(&p, &target);
            } else {
                std::fs::copy(&p, &target).unwrap();
            }
        }
    }
    copy(&Path::new(ROOT).join("examples"), to);
}

/// Builds a runner of `example` from a copy of the examples, deletes the
/// copy, and moves the runner to an empty folder: what it runs, it
/// carries.
fn runner(example: &str) -> (PathBuf, PathBuf) {
    let work = tmp(&format!("build-{example}"));
    let models = work.join("models");
    copy_examples(&models);
    let exe = work.join(example);
    let o = neuroc(&["build", &format!("models/{example}.neuro"), "-o", example], &work);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("wrote"), "{}", text(&o));
    std::fs::remove_dir_all(&models).unwrap();
    let alone = work.join("alone");
    std::fs::create_dir_all(&alone).unwrap();
    let moved = alone.join(example);
    std::fs::rename(&exe, &moved).unwrap();
    (moved, alone)
}

/// Runs a runner with no environment (no PATH: no neuroc, no cc) in its
/// own folder.
fn run_alone(exe: &Path, dir: &Path, args: &[&str]) -> Output {
    Command::new(exe).args(args).current_dir(dir).env_clear().output().expect("start the runner")
}

/// The data files of an output folder, by name.
fn outputs(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv" || x == "npy"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    files.sort();
    files
}

/// `neuroc run` and the runner, with the same flags, write the same bytes.
fn same_as_run(example: &str, flags: &[&str]) {
    let (exe, alone) = runner(example);
    let mut args = vec!["--prebuilt-only", "-q", "-o", "out"];
    args.extend_from_slice(flags);
    let o = run_alone(&exe, &alone, &args);
    assert!(o.status.success(), "{example}: {}", text(&o));
    let reference = tmp(&format!("run-{example}"));
    let model = Path::new(ROOT).join("examples").join(format!("{example}.neuro"));
    let mut run = vec!["run", model.to_str().unwrap(), "-q", "-o", "out"];
    run.extend_from_slice(flags);
    let o = neuroc(&run, &reference);
    assert!(o.status.success(), "{example}: {}", text(&o));
    let (a, b) = (outputs(&alone.join("out")), outputs(&reference.join("out")));
    assert!(!a.is_empty(), "{example}: the runner wrote no data");
    assert_eq!(
        a.iter().map(|f| &f.0).collect::<Vec<_>>(),
        b.iter().map(|f| &f.0).collect::<Vec<_>>(),
        "{example}: other files"
    );
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(x == y, "{example}: {name} differs between the runner and neuroc run");
    }
}

#[test]
fn a_runner_writes_what_run_writes_for_hodgkin_huxley() {
    same_as_run("hodgkin_huxley", &["--duration", "60ms"]);
}

#[test]
fn a_runner_writes_what_run_writes_for_a_population() {
    same_as_run("hh_population", &["--duration", "40ms", "--neurons", "64", "--format", "npy"]);
}

#[test]
fn a_runner_writes_what_run_writes_for_cobahh_on_two_threads() {
    same_as_run("cobahh", &["--duration", "50ms", "--threads", "2"]);
}

#[test]
fn a_runner_carries_its_data_files() {
    // a brain read from a connectome folder next to the model
    same_as_run("brain_jansen_rit", &["--duration", "200ms"]);
}

#[test]
fn a_runner_steps_a_network_inside_a_brain() {
    // a region of spiking neurons: its network's kernels prebuilt too
    same_as_run("brain_column", &["--duration", "100ms"]);
}

#[test]
fn a_setting_that_changes_a_kernel_compiles_it_unless_prebuilt_only() {
    let (exe, alone) = runner("hodgkin_huxley");
    let set = ["--set", "I_amp=12uA/cm^2", "--duration", "30ms", "-o", "set"];
    let strict: Vec<&str> = ["--prebuilt-only"].iter().chain(&set).copied().collect();
    let o = run_alone(&exe, &alone, &strict);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("not one the runner was built with"), "{}", text(&o));
    let o = run_alone(&exe, &alone, &set);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("1 kernel compiled now"), "{}", text(&o));
    let reference = tmp("run-set");
    let model = Path::new(ROOT).join("examples/hodgkin_huxley.neuro");
    let mut run = vec!["run", model.to_str().unwrap()];
    run.extend_from_slice(&set);
    assert!(neuroc(&run, &reference).status.success());
    assert_eq!(outputs(&alone.join("set")), outputs(&reference.join("set")));
}

#[test]
fn a_runner_reports_bad_flags_like_run() {
    let (exe, alone) = runner("lif");
    let o = run_alone(&exe, &alone, &["--duration", "5 mV"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("E0"), "a diagnostic with its code: {}", text(&o));
    let o = run_alone(&exe, &alone, &["--no-such-flag"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = run_alone(&exe, &alone, &["--help"]);
    assert!(o.status.success());
    assert!(text(&o).contains("--set") && text(&o).contains("--prebuilt-only"), "{}", text(&o));
}

#[test]
fn an_object_file_runs_from_c_as_the_model_does() {
    let dir = tmp("object");
    let model = Path::new(ROOT).join("examples/lif.neuro");
    let o = neuroc(&["build", model.to_str().unwrap(), "--emit", "obj", "-o", "lif.o"], &dir);
    assert!(o.status.success(), "{}", text(&o));
    let header = std::fs::read_to_string(dir.join("lif.h")).unwrap();
    assert!(header.contains("int64_t lif_kernel0(") && header.contains("\"V\", \"refractory_until\""), "{header}");
    // a C program steps one neuron from rest for 500 ms and prints its spikes
    std::fs::write(
        dir.join("main.c"),
        r#"#include <stdio.h>
#include "lif.h"
int main(void) {
    double v = -0.070, until = 0.0;
    double *states[LIF_KERNEL0_N_STATES] = {&v, &until};
    int64_t idx[1];
    double ts[1];
    for (long k = 0; k < 5000; k++)
        if (lif_kernel0(states, 0, 1, k * LIF_KERNEL0_DT, (k + 1) * LIF_KERNEL0_DT, idx, ts) > 0)
            printf("%.12f\n", ts[0] * 1e3);
    return 0;
}
"#,
    )
    .unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let o = Command::new(&cc).args(["-O2", "main.c", "lif.o", "-o", "lif"]).current_dir(&dir).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let o = Command::new(dir.join("lif")).output().unwrap();
    let from_c: Vec<f64> = String::from_utf8_lossy(&o.stdout).lines().map(|l| l.parse().unwrap()).collect();
    let o = neuroc(&["run", model.to_str().unwrap(), "-q", "-o", "out"], &dir);
    assert!(o.status.success(), "{}", text(&o));
    let csv = std::fs::read_to_string(dir.join("out/spikes.csv")).unwrap();
    let from_run: Vec<f64> = csv.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse().unwrap()).collect();
    assert!(from_run.len() > 10, "the LIF fires: {csv}");
    assert_eq!(from_c.len(), from_run.len(), "C: {from_c:?}\nrun: {from_run:?}");
    for (c, r) in from_c.iter().zip(&from_run) {
        // spikes.csv prints 9 decimals of a millisecond
        assert!((c - r).abs() < 1e-8, "spike at {c} ms from C, {r} ms from run");
    }
}

#[test]
fn build_errors_are_diagnostics() {
    let dir = tmp("errors");
    std::fs::write(dir.join("bad.neuro"), "neuron N {\n    state V = 1 mV\n    dV/dt = V\n}\n").unwrap();
    let o = neuroc(&["build", "bad.neuro"], &dir);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("error[E") && text(&o).contains("bad.neuro:3"), "{}", text(&o));
    let o = neuroc(&["build", "missing.neuro"], &dir);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let density = Path::new(ROOT).join("examples/lif_density.neuro");
    let o = neuroc(&["build", density.to_str().unwrap(), "--emit", "obj"], &dir);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("no compiled kernel"), "{}", text(&o));
    let lif = Path::new(ROOT).join("examples/lif.neuro");
    let o = Command::new(NEUROC)
        .args(["build", lif.to_str().unwrap(), "-o", "x"])
        .current_dir(&dir)
        .env("NEUROC_RUNTIME", dir.join("nowhere.a"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("nowhere.a` does not exist"), "{}", text(&o));
    let o = Command::new(NEUROC)
        .args(["build", lif.to_str().unwrap(), "-o", "x"])
        .current_dir(&dir)
        .env("CC", "no-such-compiler")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("cannot start the linker `no-such-compiler`"), "{}", text(&o));
}

#[test]
fn a_density_runner_needs_no_kernel() {
    same_as_run("lif_density", &["--duration", "20ms"]);
}
