//! The LFP proxy of spiking networks (`record lfp(P)`): the sum over a
//! population of the absolute synaptic currents (Mazzoni, Panzeri,
//! Logothetis & Brunel 2008), sampled with the states.

use neuroc::Experiment;

const NET: &str = "import \"lif.neuro\"
network Net {
    population E = 200 x LIFExp
    population I = 50 x LIFExp
    drive E, I with poisson(rate = 9 kHz, n = 1, w = 40 pA) via exc
    connect E -> E, I via exc (p = 0.1, w = 30 pA, delay = 1.5 ms)
    connect I -> E, I via inh (p = 0.1, w = -120 pA, delay = 1.5 ms)
    RECORD
}
simulate Net { dt = 0.1 ms, duration = 200 ms, V = uniform(-70 mV, -55 mV) }
";

/// `lfp(E)` is, at every sample, the sum over E of |I_ex| + |I_in|
/// recorded neuron by neuron; it moves with the network's activity.
#[test]
fn the_lfp_proxy_sums_the_absolute_synaptic_currents() {
    let src =
        NET.replace("RECORD", "record lfp(E)\n    record I_ex(E[0:200], every = 0.5 ms)\n    record I_in(E[0:200])");
    let e = Experiment::from_source("lfp.neuro", &src, None).unwrap_or_else(|e| panic!("{e}"));
    let (r, _) = e.run().unwrap_or_else(|e| panic!("{e}"));
    let lfp = r.table("lfp_E").unwrap();
    let (ex, inh) = (r.table("I_ex_E").unwrap(), r.table("I_in_E").unwrap());
    assert_eq!(lfp.rows(), 401);
    assert_eq!((ex.rows(), inh.rows()), (401, 401));
    let values = lfp.column("lfp").unwrap().to_vec();
    for (k, value) in values.iter().enumerate() {
        let sum: f64 = (1..=200).map(|j| ex.data[[k, j]].abs() + inh.data[[k, j]].abs()).sum();
        assert!((value - sum).abs() <= 1e-9 * sum.max(1.0), "sample {k}: {value} vs {sum}");
    }
    let late = &values[200..];
    let mean = late.iter().sum::<f64>() / late.len() as f64;
    let sd = (late.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / late.len() as f64).sqrt();
    assert!(mean > 0.0 && sd > 0.01 * mean, "mean {mean} pA, sd {sd} pA");
}

/// A population without synaptic current states (states in A that an
/// input port changes), or a range, is diagnosed.
#[test]
fn an_lfp_needs_synaptic_currents() {
    let cuba = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cuba.neuro")).unwrap();
    let adex = "import \"adex.neuro\"\nnetwork A {\n    population P = 10 x AdEx\n    record lfp(P)\n}\nsimulate A { duration = 10 ms }\n";
    for (bad, words) in [
        (cuba.replace("record spikes(E, I)", "record lfp(E)"), "LFP proxy"),
        // AdEx's adaptation current is not synaptic
        (adex.to_string(), "LFP proxy"),
        (NET.replace("RECORD", "record lfp(E[0:10])"), "whole population"),
    ] {
        let text = match Experiment::from_source("bad.neuro", &bad, None).and_then(|e| e.run().map(|_| ())) {
            Err(e) => e.to_string(),
            Ok(()) => "ran".into(),
        };
        assert!(text.contains("E0503") && text.contains(words) && text.contains("help"), "{text}");
    }
}
