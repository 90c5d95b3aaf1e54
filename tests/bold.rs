//! The Balloon-Windkessel BOLD models of `stdlib/bold.neuro`, run through
//! the library API, against a high-accuracy SciPy solution of the same
//! equations (`tests/reference/bold/`, made by its `make.py`).

mod common;

use common::{read_csv, reference};
use neuroc::Experiment;

/// The standard library's BOLD models with the neural activity a 1 s
/// boxcar, z = 1 for 0 <= t < 1 s (every model's `input z = 0` replaced).
fn boxcar_source() -> String {
    let text = std::fs::read_to_string(common::repo("stdlib/bold.neuro")).unwrap();
    assert_eq!(text.matches("input z = 0").count(), 3, "one input per model");
    text.replace("input z = 0", "input z = step(t) - step(t - 1 s)")
}

/// `bold` of `model` sampled every `sample`, integrated with rk4 at `dt`
/// for 10 s: (t in s, bold).
fn run(model: &str, dt: &str, sample: &str) -> (Vec<f64>, Vec<f64>) {
    let mut exp = Experiment::from_source("boxcar.neuro", &boxcar_source(), None).unwrap_or_else(|e| panic!("{e}"));
    exp.model(model).dt(dt).duration("10 s").method("rk4").sample(sample).record("bold");
    let (results, _) = exp.run().unwrap_or_else(|e| panic!("{e}"));
    let table = results.table("bold").expect("bold recorded");
    let t = table.column_si("t").expect("time column").to_vec();
    let bold = table.column_si("bold").expect("bold column").to_vec();
    (t, bold)
}

/// The peak of a sampled curve: the largest sample refined by the parabola
/// through it and its neighbours (time, value).
fn peak(t: &[f64], x: &[f64]) -> (f64, f64) {
    let k = (1..x.len() - 1).max_by(|&a, &b| x[a].total_cmp(&x[b])).unwrap();
    let (a, b, c) = (x[k - 1], x[k], x[k + 1]);
    let h = t[k + 1] - t[k];
    let shift = 0.5 * (a - c) / (a - 2.0 * b + c);
    (t[k] + shift * h, b - 0.25 * (a - c) * shift)
}

/// The reference's peaks: (set, t_peak in s, peak), in the file's order
/// friston2000, stephan2007, tvb.
fn reference_peaks() -> Vec<(f64, f64)> {
    read_csv(&reference("bold/peaks.csv")).iter().map(|r| (r[1], r[2])).collect()
}

#[test]
fn a_one_second_boxcar_peaks_where_friston_2000_says() {
    let (t, bold) = run("BalloonWindkessel", "1 ms", "1 ms");
    let (tp, bp) = peak(&t, &bold);
    // the figures (Friston 2000 parameters), to 0.5 %
    assert!((tp / 3.376 - 1.0).abs() < 0.005, "peak at {tp} s");
    assert!((bp / 0.02523 - 1.0).abs() < 0.005, "peak {bp}");
    // our own reference (DOP853, rtol 1e-13) agrees with those figures to
    // their last digit; rk4 at 1 ms is far closer to it than 0.5 %: the
    // parabola through 1 ms samples places the peak within about 1e-5 s,
    // and the value is then exact to the integration error (~1e-10)
    let (rt, rb) = reference_peaks()[0];
    assert!((tp - rt).abs() < 1e-4, "peak at {tp} s, reference {rt} s");
    assert!((bp / rb - 1.0).abs() < 1e-7, "peak {bp}, reference {rb}");
    // at rest before the input; the post-stimulus undershoot (the balloon
    // empties more slowly than the flow falls) is deepest near 9.6 s, at
    // about -0.0056 in the reference
    assert_eq!(bold[0], 0.0);
    let (k, low) = bold.iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1)).unwrap();
    assert!((9.0..10.0).contains(&t[k]) && *low < -0.2 * bp, "undershoot {low} at {} s", t[k]);
}

#[test]
fn the_whole_response_matches_the_reference_and_rk4_converges_at_fourth_order() {
    let rows = read_csv(&reference("bold/friston2000_boxcar.csv"));
    // the reference every 0.01 s; ours every 0.1 s: row 10 k is our sample k
    let reference_at = |k: usize| rows[10 * k][5];
    let max_error = |dt: &str| {
        let (t, bold) = run("BalloonWindkessel", dt, "100 ms");
        assert_eq!(t.len(), 101);
        (0..t.len()).map(|k| (bold[k] - reference_at(k)).abs()).fold(0.0, f64::max)
    };
    let errors: Vec<f64> = ["100 ms", "50 ms", "25 ms"].iter().map(|dt| max_error(dt)).collect();
    // the peak is 0.025; rk4 at 100 ms is already within 1e-6 of it
    assert!(errors[0] < 1e-6, "{errors:?}");
    for pair in errors.windows(2) {
        // halving dt divides a fourth-order error by 16; 12..20 allows the
        // asymptotic regime's small higher-order terms
        let ratio = pair[0] / pair[1];
        assert!((12.0..20.0).contains(&ratio), "error ratio {ratio} ({errors:?})");
    }
}

#[test]
fn the_stephan_2007_and_tvb_parameter_sets_peak_as_the_reference() {
    let peaks = reference_peaks();
    for (model, (rt, rb)) in [("BalloonStephan2007", peaks[1]), ("BalloonTVB", peaks[2])] {
        let (t, bold) = run(model, "1 ms", "1 ms");
        let (tp, bp) = peak(&t, &bold);
        // as for Friston 2000 above: the same integration, other constants
        assert!((tp - rt).abs() < 1e-4, "{model}: peak at {tp} s, reference {rt} s");
        assert!((bp / rb - 1.0).abs() < 1e-7, "{model}: peak {bp}, reference {rb}");
    }
}
