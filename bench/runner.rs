//! Runners (`neuroc build`) against `neuroc run`, same models, same flags,
//! same machine, same run: build time, startup (a run of one step) and the
//! run time of a longer run, as the median wall time of whole processes.
//!
//!     cargo bench --bench runner [-- REPEATS]
//!
//! Builds the runtime library first (`cargo build --release -p
//! neuroc-runner`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const NEUROC: &str = env!("CARGO_BIN_EXE_neuroc");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn median(mut f: impl FnMut(), repeats: usize) -> f64 {
    let mut times: Vec<f64> = (0..repeats)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn ok(cmd: &mut Command) {
    let o = cmd.output().expect("start");
    assert!(o.status.success(), "{:?}: {}", cmd, String::from_utf8_lossy(&o.stderr));
}

fn main() {
    let repeats: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(9);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    ok(Command::new(cargo).args(["build", "-q", "--release", "-p", "neuroc-runner"]).current_dir(ROOT));
    let dir = std::env::temp_dir().join(format!("neuroc-bench-runner-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    println!("runners against `neuroc run` (median of {repeats} processes each; ratio = run / runner)");
    println!(
        "{:<16} {:>9} {:>10} {:>10} {:>7} {:>10} {:>10} {:>7}",
        "model", "build ms", "start run", "start rnr", "ratio", "long run", "long rnr", "ratio"
    );
    for (model, long) in [("hodgkin_huxley", "1s"), ("hh_population", "200ms"), ("cobahh", "1s")] {
        let file = Path::new(ROOT).join("examples").join(format!("{model}.neuro"));
        let exe: PathBuf = dir.join(model);
        let build =
            median(|| ok(Command::new(NEUROC).args(["build", file.to_str().unwrap(), "-o", exe.to_str().unwrap()])), 3);
        let run = |args: &[&str]| {
            let mut c = Command::new(NEUROC);
            c.args(["run", file.to_str().unwrap(), "-q", "-o"]).arg(dir.join("out-run")).args(args);
            ok(&mut c)
        };
        let runner = |args: &[&str]| {
            let mut c = Command::new(&exe);
            c.args(["-q", "--prebuilt-only", "-o"]).arg(dir.join("out-runner")).args(args);
            ok(&mut c)
        };
        let one_step = ["--duration", "0.1ms", "--dt", "0.1ms"];
        let step: Vec<&str> = if model == "cobahh" { one_step.to_vec() } else { vec!["--duration", "0.01ms"] };
        let start_run = median(|| run(&step), repeats);
        let start_runner = median(|| runner(&step), repeats);
        let long_run = median(|| run(&["--duration", long]), 3);
        let long_runner = median(|| runner(&["--duration", long]), 3);
        println!(
            "{model:<16} {:>9.0} {:>8.1}ms {:>8.1}ms {:>6.2}x {:>9.3}s {:>9.3}s {:>6.2}x",
            build * 1e3,
            start_run * 1e3,
            start_runner * 1e3,
            start_run / start_runner,
            long_run,
            long_runner,
            long_run / long_runner
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
