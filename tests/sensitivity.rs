//! Forward sensitivities (issue 16): the derivative of the simulated
//! trajectory with respect to parameters, from the JIT-compiled kernel
//! with its sensitivity instructions, against central finite differences
//! of the same simulation, on Hodgkin-Huxley (exponential Euler gates and
//! rk4), Wilson-Cowan (rk4) and a LIF with resets and a refractory period
//! (exact propagator whose matrix reads the parameter).

use neuroc::infer::{Problem, Trajectory};
use neuroc::source::Span;
use neuroc::Experiment;
use std::path::Path;

fn problem(file: &str, settings: &[(&str, &str)], wrt: &[&str], observe: &str) -> Problem {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let mut e = Experiment::load(&path).unwrap_or_else(|e| panic!("{}", e.render()));
    for (k, v) in settings {
        match *k {
            "duration" => e.duration(v),
            "method" => e.method(v),
            "dt" => e.dt(v),
            _ => e.set(k, v),
        };
    }
    let run = e.configure().unwrap_or_else(|e| panic!("{}", e.render()));
    let names: Vec<String> = wrt.iter().map(|s| s.to_string()).collect();
    Problem::new(&run, &names, observe, Span::default()).unwrap_or_else(|d| panic!("{}", d.message))
}

/// The largest difference between the sensitivities and central finite
/// differences (step `rel` of each parameter), relative to the largest
/// sensitivity, per parameter.
fn against_differences(p: &Problem, rel: f64) -> Vec<f64> {
    let theta = p.values();
    let at = p.simulate(&theta).expect("simulates");
    (0..theta.len())
        .map(|j| {
            let h = rel * theta[j].abs();
            let run = |s: f64| -> Trajectory {
                let mut th = theta.clone();
                th[j] += s * h;
                p.simulate(&th).expect("simulates")
            };
            let (plus, minus) = (run(1.0), run(-1.0));
            let scale = at.dy[j].iter().fold(0.0f64, |a, x| a.max(x.abs()));
            assert!(scale > 0.0, "parameter {j} has no effect");
            let worst = (0..at.y.len())
                .map(|k| ((plus.y[k] - minus.y[k]) / (2.0 * h) - at.dy[j][k]).abs())
                .fold(0.0f64, f64::max);
            worst / scale
        })
        .collect()
}

#[test]
fn hodgkin_huxley_sensitivities_equal_finite_differences() {
    // 30 ms: the step at 10 ms and three spikes
    let p = problem(
        "examples/hodgkin_huxley.neuro",
        &[("duration", "30 ms")],
        &["NaT.gbar", "Kdr.gbar", "Leak.g", "C_m"],
        "V",
    );
    let t = p.simulate(&p.values()).expect("simulates");
    let peaks = t.y.windows(3).filter(|w| w[1] > w[0] && w[1] >= w[2] && w[1] > 0.0).count();
    assert!(peaks >= 2, "{peaks} spikes");
    for (j, err) in against_differences(&p, 1e-6).into_iter().enumerate() {
        eprintln!("parameter {j}: {err:e}");
        assert!(err < 1e-6, "parameter {j}: relative difference {err:e}");
    }
}

#[test]
fn wilson_cowan_sensitivities_equal_finite_differences() {
    let p = problem("examples/wilson_cowan.neuro", &[("duration", "100 ms")], &["tau", "c1", "th_e", "a_e"], "E");
    for (j, err) in against_differences(&p, 1e-6).into_iter().enumerate() {
        eprintln!("parameter {j}: {err:e}");
        assert!(err < 1e-6, "parameter {j}: relative difference {err:e}");
    }
}

#[test]
fn lif_with_resets_sensitivities_equal_finite_differences() {
    // 0.25 nA: a spike every 34 ms; tau_m enters the exact propagator,
    // t_ref the refractory end, V_r the reset
    let p = problem("examples/lif.neuro", &[("duration", "150 ms")], &["tau_m", "R", "V_r", "E_L"], "V");
    let t = p.simulate(&p.values()).expect("simulates");
    let resets = t.y.windows(2).filter(|w| w[1] < w[0] - 0.01).count();
    assert!(resets >= 3, "{resets} resets");
    for (j, err) in against_differences(&p, 1e-6).into_iter().enumerate() {
        eprintln!("parameter {j}: {err:e}");
        assert!(err < 1e-6, "parameter {j}: relative difference {err:e}");
    }
}

/// A population of parameter points stepped together by the one kernel
/// (f64x2 lanes, an odd neuron on the scalar tail) gives each point the
/// trajectory and sensitivities it gets alone, bit for bit: HH, and a LIF
/// whose neurons spike and reset at different times.
#[test]
fn a_population_of_points_gives_each_its_own_sensitivities() {
    let cases = [
        problem("examples/hodgkin_huxley.neuro", &[("duration", "25 ms")], &["NaT.gbar", "Kdr.gbar", "Leak.g"], "V"),
        problem("examples/lif.neuro", &[("duration", "120 ms")], &["tau_m", "R", "V_r"], "V"),
    ];
    for p in &cases {
        let theta = p.values();
        let points: Vec<Vec<f64>> = [1.0, 0.9, 1.1, 0.95, 1.05]
            .iter()
            .enumerate()
            .map(|(k, f)| {
                theta.iter().enumerate().map(|(j, x)| x * if j == k % theta.len() { *f } else { 1.0 }).collect()
            })
            .collect();
        let together = p.simulate_many(&points).expect("simulates");
        assert_eq!(together.len(), points.len());
        for (point, got) in points.iter().zip(&together) {
            let alone = p.simulate(point).expect("simulates");
            assert_eq!(got.t, alone.t);
            assert!(got.y.iter().zip(&alone.y).all(|(a, b)| a.to_bits() == b.to_bits()), "{:?}", p.names());
            for (a, b) in got.dy.iter().zip(&alone.dy) {
                assert!(a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()), "{:?}", p.names());
            }
        }
        // the points differ: so do their trajectories
        assert!(together[1].y != together[2].y);
    }
}
