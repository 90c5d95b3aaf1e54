//! Benchmark: what white noise inside neurons costs (`noise V =
//! white(...)`: a standard normal per neuron and step, drawn by the
//! worker that steps the neuron). Each model runs with and without the
//! noise in the same process, best of three; the budget is 30%.
//!
//!   cargo bench --bench noise
//!
//! - HH population: examples/hh_population.neuro, 20,000 neurons, 100 ms
//!   at dt = 0.01 ms, with rate tables (its own setting), 1 thread;
//! - CUBA: examples/cuba.neuro (4,000 LIF neurons, 1 s), 1 thread.
//!
//! Prints ns per neuron-step with and without noise, and their ratio.

use neuroc::Experiment;
use std::path::Path;

fn source(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).expect(path)
}

/// Best of three run-only seconds (compilation excluded).
fn seconds(text: &str, neurons: Option<&str>) -> f64 {
    let mut e = Experiment::from_source("bench.neuro", text, None).unwrap_or_else(|e| panic!("{e}"));
    if let Some(n) = neurons {
        e.neurons(n);
    }
    e.threads("1");
    (0..3).map(|_| e.run().unwrap_or_else(|e| panic!("{e}")).1.seconds).fold(f64::INFINITY, f64::min)
}

fn main() {
    let hh = source("examples/hh_population.neuro");
    let noisy_hh = hh.replace(
        "    spike when V crosses 0 mV upward",
        "    noise V = white(2 mV / sqrt(1 ms))\n    spike when V crosses 0 mV upward",
    );
    let cuba = source("examples/cuba.neuro");
    let noisy_cuba = cuba.replace(
        "    on spike exc(w: mV) { ge += w }",
        "    noise V = white(1 mV / sqrt(20 ms))\n    on spike exc(w: mV) { ge += w }",
    );
    assert_ne!(hh, noisy_hh);
    assert_ne!(cuba, noisy_cuba);
    println!("{:<16} {:>14} {:>14} {:>8}", "model", "ns/n-step", "with noise", "ratio");
    for (name, plain, noisy, neuron_steps, n) in [
        ("HH population", &hh, &noisy_hh, 20_000.0 * 10_000.0, Some("20000")),
        ("CUBA", &cuba, &noisy_cuba, 4_000.0 * 10_000.0, None),
    ] {
        let (a, b) = (seconds(plain, n), seconds(noisy, n));
        println!("{name:<16} {:>14.2} {:>14.2} {:>8.2}", a * 1e9 / neuron_steps, b * 1e9 / neuron_steps, b / a);
    }
}
