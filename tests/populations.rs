//! Neural masses and fields: Jansen-Rit against its reference trace,
//! neural fields against direct convolution and linear stability, and
//! renormalized rate equations against Monte Carlo.

mod common;

use common::{config, model_from_file, read_csv, reference, run};
use neuroc::schemes::Method;

/// Mean period of upward crossings of the trace's mean (linear
/// interpolation between samples), and the peak-to-peak amplitude.
fn period_and_amplitude(t: &[f64], x: &[f64]) -> (f64, f64) {
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    let mut ups = Vec::new();
    for k in 1..x.len() {
        if x[k - 1] < mean && x[k] >= mean {
            let f = (mean - x[k - 1]) / (x[k] - x[k - 1]);
            ups.push(t[k - 1] + f * (t[k] - t[k - 1]));
        }
    }
    assert!(ups.len() >= 3, "no oscillation");
    let period = (ups[ups.len() - 1] - ups[0]) / (ups.len() - 1) as f64;
    let (lo, hi) = x.iter().fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    (period, hi - lo)
}

#[test]
fn jansen_rit_alpha_rhythm_matches_the_reference() {
    // the reference: 20 s of transient from all zeros, then 2 s
    let m = model_from_file("examples/jansen_rit.neuro", "JansenRit");
    let cfg = config(&m, 0.1, 22_000.0, &["eeg"]);
    let rec = run(&m, Method::Rk4, &cfg);
    let (t, eeg) = (&rec.t, &rec.traces[0].1);
    let from = t.iter().position(|&x| x >= 20.0).unwrap();
    let (period, ptp) = period_and_amplitude(&t[from..], &eeg[from..]);
    let (freq, ptp_mv) = (1.0 / period, ptp * 1e3);
    // the README's figures, and the same measures of the reference trace
    assert!((freq / 10.938 - 1.0).abs() < 0.01, "frequency {freq} Hz");
    assert!((ptp_mv / 2.9461 - 1.0).abs() < 0.01, "peak to peak {ptp_mv} mV");
    let rows = read_csv(&reference("jansen_rit/trace_p220.csv"));
    let rt: Vec<f64> = rows.iter().map(|r| r[0]).collect();
    let rx: Vec<f64> = rows.iter().map(|r| r[7]).collect();
    let (rp, rptp) = period_and_amplitude(&rt, &rx);
    assert!((period / rp - 1.0).abs() < 0.01, "period {period} s vs the reference trace's {rp} s");
    // the reference samples at 1 kHz and so sees slightly less than the true extremes
    assert!((ptp_mv / rptp - 1.0).abs() < 0.01, "{ptp_mv} mV vs the reference trace's {rptp} mV");
}
