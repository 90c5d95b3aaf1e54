//! Benchmark: the LIF population density against a direct Monte Carlo of
//! LIF neurons, for the steady-state rate at mu = 20 mV, sigma = 5 mV
//! (Siegert: 27.3406 Hz).
//!
//!   cargo bench --bench density
//!
//! - density: the exact stationary solve of the 400-cell operator; the
//!   cost of one 400-cell Crank-Nicolson step; and time stepping from
//!   every neuron at reset until the rate is within 1% of its steady value.
//! - Monte Carlo: `neuroc run` of 1,000 delta-synapse LIF neurons driven by
//!   Poisson input with the same mean and variance (the network machinery,
//!   dt = 0.025 ms, 1 s). Its statistical error after T neuron-seconds is
//!   CV / sqrt(rate T), so 1% needs T = CV^2 / (1e-4 rate) neuron-seconds;
//!   the bench measures the wall time per neuron-second and multiplies.
//!   (Poisson input of finite jumps also biases the rate a few percent,
//!   an error no amount of sampling removes.)

use neuroc::density::{Config, Density, Initial, Scheme};
use std::process::Command;
use std::time::Instant;

const SIEGERT: f64 = 27.34056735308;
const CV: f64 = 0.5826358399;

fn density_model() -> neuroc::ir::Model {
    let c = neuroc::compile_source("bench.neuro", "import \"lif_density.neuro\"", None);
    assert!(!c.diagnostics.has_errors(), "{}", c.render());
    c.model("LIFDensity").expect("model").clone()
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::MAX;
    let mut out = None;
    for _ in 0..runs {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed().as_secs_f64());
        out = Some(r);
    }
    (best, out.expect("one run"))
}

fn main() {
    let m = density_model();
    let d = Density::bind(&m, &vec![None; m.params.len()], &vec![None; m.values.len()]).expect("bind");
    println!("LIF population density, mu = 20 mV, sigma = 5 mV, 400 cells; Siegert {SIEGERT} Hz\n");
    let (t_stat, (_, _, rate)) = best_of(20, || d.stationary(0.0).expect("stationary"));
    println!(
        "density, exact stationary solve:        {:>10.1} us   rate {rate:.4} Hz ({:+.3}%)",
        t_stat * 1e6,
        (rate / SIEGERT - 1.0) * 100.0
    );
    let steps = 20_000;
    let cfg = |duration: f64| Config {
        dt: 0.1e-3,
        duration,
        scheme: Scheme::CrankNicolson,
        initial: Initial::At(10e-3),
        sample_every: 1,
        progress: false,
    };
    let (t_run, tr) = best_of(3, || d.simulate(&cfg(steps as f64 * 0.1e-3)).expect("run"));
    let per_step = t_run / steps as f64;
    println!(
        "density, one 400-cell step (CN, 0.1 ms): {:>10.2} us   (mass conserved to {:.0e})",
        per_step * 1e6,
        tr.mass_error
    );
    // steps until the rate stays within 1% of the steady value
    let settled = tr.rate.iter().rposition(|r| (r / rate - 1.0).abs() > 0.01).map_or(0, |k| k + 1);
    let t_density = settled as f64 * per_step;
    println!(
        "density, from reset to within 1%:       {:>10.2} ms   ({settled} steps, {:.0} ms simulated)",
        t_density * 1e3,
        settled as f64 * 0.1
    );

    // the Monte Carlo, by the network machinery
    let src = "neuron DeltaLIF {\n    parameter tau = 20 ms, V_th = 20 mV, V_r = 10 mV, t_ref = 2 ms\n    state V = 0 mV\n    dV/dt = -V / tau\n    on spike exc(w: mV) { V += w }\n    on spike inh(w: mV) { V -= w }\n    on V >= V_th { V = V_r; emit spike; refractory t_ref }\n}\nnetwork Driven {\n    population P = 1000 x DeltaLIF\n    drive P with poisson(rate = 67.5 kHz, w = 0.1 mV) via exc\n    drive P with poisson(rate = 57.5 kHz, w = 0.1 mV) via inh\n}\nsimulate Driven { dt = 0.025 ms, duration = 1 s, seed = 1, V = uniform(0 mV, 20 mV) }\n";
    let dir =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("neuroc-bench-density-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("mc.neuro");
    std::fs::write(&file, src).expect("write");
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_neuroc"))
        .arg("run")
        .arg(&file)
        .arg("-o")
        .arg(dir.join("out"))
        .arg("-q")
        .output()
        .expect("run neuroc");
    let wall = t.elapsed().as_secs_f64();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let spikes = std::fs::read_to_string(dir.join("out/spikes.csv")).expect("spikes");
    let late = spikes
        .lines()
        .skip(1)
        .filter(|l| l.split(',').nth(1).and_then(|t| t.parse::<f64>().ok()).is_some_and(|t| t > 200.0))
        .count();
    let mc_rate = late as f64 / 1000.0 / 0.8;
    let per_neuron_second = wall / 1000.0;
    let needed = CV * CV / (1e-4 * SIEGERT);
    let t_mc = needed * per_neuron_second;
    println!(
        "\nMonte Carlo, 1000 neurons x 1 s:         {:>10.3} s    rate {mc_rate:.2} Hz ({:+.1}% against Siegert)",
        wall,
        (mc_rate / SIEGERT - 1.0) * 100.0
    );
    println!(
        "Monte Carlo, to 1% statistical error:    {:>10.3} s    ({needed:.0} neuron-seconds at {:.2} ms each)",
        t_mc,
        per_neuron_second * 1e3
    );
    println!("\nratio, Monte Carlo / density (stationary solve): {:>8.0}x", t_mc / t_stat);
    println!("ratio, Monte Carlo / density (time stepping):    {:>8.0}x   (target: at least 100x)", t_mc / t_density);
    let _ = std::fs::remove_dir_all(&dir);
}
