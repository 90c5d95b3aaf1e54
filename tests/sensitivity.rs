//! Forward sensitivities (issue 16): the derivative of the simulated
//! trajectory with respect to parameters, from the JIT-compiled kernel
//! with its sensitivity instructions, against central finite differences
//! of the same simulation, on Hodgkin-Huxley (exponential Euler gates and
//! rk4), Wilson-Cowan (rk4) and a LIF with resets and a refractory period
//! (exact propagator whose matrix reads the parameter).

mod common;
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

/// A brain: three Wilson-Cowan regions coupled through interpolated
/// delays. The sensitivities of one region's E and of the mean over the
/// regions, with respect to the global coupling and a node parameter,
/// carried through the sums and the histories of what the regions sent,
/// equal central finite differences; and the trajectory is the one
/// `neuroc run` writes.
#[test]
fn brain_sensitivities_equal_finite_differences() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("neuroc-sens-brain-{}", std::process::id()));
    let path = common::three_region_brain(&dir, "150 ms");
    let e = Experiment::load(&path).unwrap_or_else(|e| panic!("{}", e.render()));
    let run = e.configure().unwrap_or_else(|e| panic!("{}", e.render()));
    let names: Vec<String> = ["K", "c1", "tau"].iter().map(|s| s.to_string()).collect();
    for observe in ["E[1]", "E"] {
        let p = Problem::new(&run, &names, observe, Span::default()).unwrap_or_else(|d| panic!("{}", d.message));
        assert!(p.without_sensitivities().is_none());
        for (j, err) in against_differences(&p, 1e-5).into_iter().enumerate() {
            assert!(err < 1e-6, "{observe}: parameter {} differs from finite differences by {err:e}", names[j]);
        }
    }
    // an observer's signal, a value of the states: BOLD on region 0 over
    // 1 s, the regions at their fixed points (lower inputs)
    let bold = dir.join("bold.neuro");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("    couple node.P", "    observe bold = BalloonWindkessel(node.E)\n    couple node.P");
    let text = text.replace("duration = 150 ms", "duration = 1 s").replace("linspace(0.9, 1.6)", "linspace(0.3, 0.6)");
    std::fs::write(&bold, format!("import \"bold.neuro\"\n{text}")).unwrap();
    let e = Experiment::load(&bold).unwrap_or_else(|e| panic!("{}", e.render()));
    let bold_run = e.configure().unwrap_or_else(|e| panic!("{}", e.render()));
    let p = Problem::new(&bold_run, &names[..2], "bold_bold[0]", Span::default())
        .unwrap_or_else(|d| panic!("{}", d.message));
    // BOLD's `1 - q` cancels (q is 1 at rest): the differences need a
    // larger step than the states' before their rounding is small
    for (j, err) in against_differences(&p, 1e-3).into_iter().enumerate() {
        assert!(err < 2e-6, "bold: parameter {} differs from finite differences by {err:e}", names[j]);
    }
    // the trajectory is the brain's as it runs
    let p = Problem::new(&run, &names, "E[2]", Span::default()).unwrap_or_else(|d| panic!("{}", d.message));
    let traj = p.simulate(&p.values()).expect("simulates");
    let mut e = Experiment::load(&path).unwrap_or_else(|e| panic!("{}", e.render()));
    e.record("E[2:3]");
    let (r, _) = e.run().unwrap_or_else(|e| panic!("{}", e.render()));
    let t = r.table("E").expect("E recorded");
    let ran: Vec<f64> = t.data.column(1).to_vec();
    assert_eq!(ran.len(), traj.y.len());
    let worst = ran.iter().zip(&traj.y).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-12, "the problem's trajectory differs from the run by {worst:e}");
}

/// Spike times as the observation: each spike's interpolated time and
/// its derivatives (the jump condition at the crossing), against central
/// finite differences of the spike times, on the LIF (exact propagator,
/// resets, a refractory period that ends on a step) and HH (its spikes
/// after the current step, each carrying the ones before it).
#[test]
fn spike_time_sensitivities_equal_finite_differences() {
    let lif = problem("examples/lif.neuro", &[("duration", "150 ms")], &["tau_m", "R", "V_r", "E_L"], "spikes");
    let hh = problem(
        "examples/hodgkin_huxley.neuro",
        &[("duration", "60 ms")],
        &["NaT.gbar", "Kdr.gbar", "Leak.g", "C_m"],
        "spikes",
    );
    for (p, least) in [(&lif, 4), (&hh, 3)] {
        let t = p.simulate(&p.values()).expect("simulates");
        assert!(t.spikes && t.y.len() >= least, "{} spikes", t.y.len());
        assert_eq!(t.t, t.y, "the samples are the spike times");
        for (j, err) in against_differences(p, 1e-6).into_iter().enumerate() {
            assert!(err < 1e-6, "parameter {j}: relative difference {err:e}");
        }
    }
}
