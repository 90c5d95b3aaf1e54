//! Benchmark: spike-timing dependent plasticity on a recurrent network of
//! 10,000 neurons, against a static network and against NEST's
//! `stdp_synapse` on the same machine, in the same run.
//!
//!   cargo bench --bench stdp                             # 0.2 s simulated
//!   NEUROC_BENCH_SECONDS=1 cargo bench --bench stdp
//!   NEST_PYTHON=/path/to/venv/bin/python cargo bench --bench stdp
//!
//! The network (bench/stdp_nest.py builds the same in NEST): 8000
//! excitatory and 2000 inhibitory `LIFExp` neurons (NEST's iaf_psc_exp),
//! fixed in-degrees 800 and 200, delay 1.5 ms, independent Poisson input;
//! E -> E through `STDPGutig` with mu = 1 (NEST's default multiplicative
//! stdp_synapse: lambda = 0.01, alpha = 1, w_max = 40 pA, starting at
//! 20 pA), or static at 20 pA for the baseline. One thread.
//!
//! Each synaptic event is a presynaptic spike at one synapse or a
//! postsynaptic spike reaching one: 2 x 800 per excitatory spike. Prints
//! run-only seconds, the rate, and the extra ns per synaptic event that
//! plasticity costs (plastic minus static, over the events), for neuroc
//! and, when NEST_PYTHON names a Python with NEST, for NEST.

use neuroc::Experiment;
use std::process::Command;

const NETWORK: &str = "import \"lif.neuro\"
import \"stdp.neuro\"
network Plastic {
    population E = 8000 x LIFExp
    population I = 2000 x LIFExp
    drive E, I with poisson(rate = 20 kHz, n = 1, w = 20 pA) via exc
    connect E -> E via exc (k = 800, w = 40 pA, delay = 1.5 ms, plasticity = STDPGutig, mu = 1, alpha = 1, lambda = 0.01, w_max = 1, w_init = 0.5)
    connect E -> I via exc (k = 800, w = 20 pA, delay = 1.5 ms)
    connect I -> E, I via inh (k = 200, w = -100 pA, delay = 1.5 ms)
}
simulate Plastic { dt = 0.1 ms, duration = DURATION, V = uniform(-70 mV, -55 mV) }
";

/// Run-only seconds and the excitatory rate (Hz) of one run.
fn neuroc(plastic: bool, seconds: f64) -> (f64, f64) {
    let mut text = NETWORK.replace("DURATION", &format!("{seconds} s"));
    if !plastic {
        text = text.replace(
            "w = 40 pA, delay = 1.5 ms, plasticity = STDPGutig, mu = 1, alpha = 1, lambda = 0.01, w_max = 1, w_init = 0.5",
            "w = 20 pA, delay = 1.5 ms",
        );
    }
    let mut e = Experiment::from_source("stdp.neuro", &text, None).unwrap_or_else(|e| panic!("{e}"));
    e.threads("1");
    let (r, summary) = e.run().unwrap_or_else(|e| panic!("{e}"));
    let excitatory = r.spikes().iter().filter(|s| s.0 < 8000).count();
    (summary.seconds, excitatory as f64 / 8000.0 / seconds)
}

/// NEST's (static, plastic) (seconds, rate), when NEST_PYTHON is set.
fn nest(seconds: f64) -> Option<[(f64, f64); 2]> {
    let python = std::env::var("NEST_PYTHON").ok()?;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/stdp_nest.py");
    let out = Command::new(python).arg(script).arg(seconds.to_string()).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let parse = |kind: &str| {
        let line = text.lines().find(|l| l.starts_with(kind))?;
        let f: Vec<f64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
        Some((*f.get(1)?, *f.get(2)?))
    };
    Some([parse("static")?, parse("plastic")?])
}

fn main() {
    let seconds: f64 = std::env::var("NEUROC_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(0.2);
    println!("STDP network, 10,000 neurons, 6.4 M plastic synapses, {seconds} s simulated, 1 thread");
    println!(
        "{:<8} {:>10} {:>10} {:>10} {:>10} {:>12}",
        "engine", "static s", "plastic s", "E rate", "events", "ns/event"
    );
    let ours = [neuroc(false, seconds), neuroc(true, seconds)];
    let mut rows = vec![("neuroc", ours)];
    if let Some(theirs) = nest(seconds) {
        rows.push(("NEST", theirs));
    }
    for (name, [(t0, _), (t1, rate)]) in &rows {
        let events = 2.0 * 800.0 * rate * 8000.0 * seconds;
        println!("{name:<8} {t0:>10.2} {t1:>10.2} {rate:>10.1} {:>10.2e} {:>12.1}", events, (t1 - t0) * 1e9 / events);
    }
    if rows.len() == 2 {
        println!("plastic run: NEST / neuroc = {:.2}", rows[1].1[1].0 / rows[0].1[1].0);
    }
}
