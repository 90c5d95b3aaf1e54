//! `analyze`: fixed points, their stability, continuation and the critical
//! coupling, against closed forms (linear nodes, the delay equation) and
//! against simulations (Wilson-Cowan brain and node).

use neuroc::analyze::Report;
use neuroc::Experiment;
use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    let d =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("neuroc-analyze-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn csv(c: &[&[f64]]) -> String {
    c.iter().map(|r| r.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(",") + "\n").collect()
}

fn brain(exp: &mut Experiment, coupling: Option<&str>) -> neuroc::analyze::BrainReport {
    match exp.analyze(None, coupling).unwrap_or_else(|e| panic!("{e}")) {
        Report::Brain(b) => *b,
        Report::Rate(_) => panic!("not a brain"),
    }
}

/// Linear nodes `dx/dt = (-x + u) / tau` with `u = K sum_j C_ij x_j`: the
/// fixed point 0 loses stability where `K lambda_max(C) = 1`.
#[test]
fn linear_nodes_lose_stability_at_one_over_lambda_max() {
    let d = tmp("linear");
    let c: &[&[f64]] = &[&[0.0, 1.0, 0.5, 0.0], &[1.0, 0.0, 2.0, 0.3], &[0.5, 2.0, 0.0, 1.0], &[0.0, 0.3, 1.0, 0.0]];
    write(&d, "c.csv", &csv(c));
    let f = write(
        &d,
        "lin.neuro",
        "rate Lin {\n    input u = 0\n    state x = 0\n    dx/dt = (-x + u) / 10 ms\n}\nbrain Net {\n    node = Lin\n    connectivity \"c.csv\"\n    parameter K = 0.1\n    couple node.u += K * sum_j(C[i, j] * node[j].x)\n}\nsimulate Net { dt = 0.1 ms, duration = 10 ms }\n",
    );
    let mut exp = Experiment::load(&f).unwrap_or_else(|e| panic!("{e}"));
    let b = brain(&mut exp, None);
    // lambda_max of C by power iteration on C + 3 I (C's spectrum is in [-3, 3])
    let mut v = vec![1.0; 4];
    for _ in 0..2000 {
        let w: Vec<f64> = (0..4).map(|i| (0..4).map(|j| c[i][j] * v[j]).sum::<f64>() + 3.0 * v[i]).collect();
        let n = w.iter().map(|x| x * x).sum::<f64>().sqrt();
        v = w.iter().map(|x| x / n).collect();
    }
    let lmax: f64 = (0..4).map(|i| v[i] * (0..4).map(|j| c[i][j] * v[j]).sum::<f64>()).sum();
    let crit = b.critical.expect("a critical coupling");
    // bisection runs to rounding; the margin is linear in K here
    assert!((crit.k - 1.0 / lmax).abs() < 1e-6, "K_c = {} vs {}", crit.k, 1.0 / lmax);
    assert!(!crit.hopf);
    assert_eq!(crit.mode, Some(0), "the leading mode goes unstable");
    assert!((crit.overlap.unwrap() - 1.0).abs() < 1e-9);
    assert!(b.homogeneous);
}

/// A non-symmetric C: the modes are eigenvalues of a general matrix (here
/// with a real Perron root rho), and K_c = 1 / rho.
#[test]
fn a_non_symmetric_connectome_loses_stability_at_one_over_its_perron_root() {
    let d = tmp("nonsym");
    let c: &[&[f64]] = &[&[0.0, 2.0, 0.0], &[0.5, 0.0, 1.0], &[1.0, 0.0, 0.0]];
    write(&d, "c.csv", &csv(c));
    let f = write(
        &d,
        "lin.neuro",
        "rate Lin {\n    input u = 0\n    state x = 0\n    dx/dt = (-x + u) / 10 ms\n}\nbrain Net {\n    node = Lin\n    connectivity \"c.csv\"\n    parameter K = 0.1\n    couple node.u += K * sum_j(C[i, j] * node[j].x)\n}\nsimulate Net { dt = 0.1 ms, duration = 10 ms }\n",
    );
    let mut exp = Experiment::load(&f).unwrap_or_else(|e| panic!("{e}"));
    let b = brain(&mut exp, Some("K=0:2:41"));
    // the Perron root by power iteration (C is irreducible and aperiodic)
    let mut v = vec![1.0; 3];
    let mut rho = 0.0;
    for _ in 0..5000 {
        let w: Vec<f64> = (0..3).map(|i| (0..3).map(|j| c[i][j] * v[j]).sum()).collect();
        rho = w.iter().sum::<f64>() / v.iter().sum::<f64>();
        let n: f64 = w.iter().sum();
        v = w.iter().map(|x| x / n).collect();
    }
    let crit = b.critical.expect("a critical coupling");
    // bisection to rounding on a margin linear in K
    assert!((crit.k - 1.0 / rho).abs() < 1e-6, "K_c = {} vs {}", crit.k, 1.0 / rho);
    assert_eq!(crit.mode, Some(0));
    assert!((crit.overlap.unwrap() - 1.0).abs() < 1e-6, "the critical pattern is C's Perron vector");
}

/// `x' = -a x(t - tau)` as one node coupled to itself: stable for
/// `a tau < pi/2`, a Hopf there at frequency `1 / (4 tau)`.
#[test]
fn the_delay_equation_has_its_boundary_at_a_tau_half_pi() {
    let d = tmp("delay");
    write(&d, "one.csv", "1\n");
    let tau_ms = 10.0;
    let f = write(
        &d,
        "delay.neuro",
        &format!("rate D {{\n    input u = 0 /ms\n    state x = 1\n    dx/dt = u\n}}\nbrain Delay {{\n    node = D\n    connectivity \"one.csv\"\n    parameter a = 0.1 /ms\n    couple node.u -= a * sum_j(C[i, j] * node[j].x(t - {tau_ms} ms))\n}}\nsimulate Delay {{ dt = 0.1 ms, duration = 10 ms }}\n"),
    );
    let mut exp = Experiment::load(&f).unwrap_or_else(|e| panic!("{e}"));
    let b = brain(&mut exp, None);
    let crit = b.critical.expect("a critical delay coupling");
    let tau = tau_ms * 1e-3;
    // Chebyshev collocation converges spectrally: 1e-6 is far above its error
    assert!((crit.k * tau - std::f64::consts::FRAC_PI_2).abs() < 1e-6, "a tau = {}", crit.k * tau);
    assert!(crit.hopf);
    let f = crit.frequency.unwrap();
    assert!((f * 4.0 * tau - 1.0).abs() < 1e-6, "frequency {f} Hz");
}

/// Wilson-Cowan nodes on a small connectome, their inputs lowered by the
/// coupling (`P -= K sum C E`) from a stable focus: analyze's K_c is where
/// a small perturbation of the fixed point turns from decaying to growing.
#[test]
fn a_wilson_cowan_brain_loses_stability_where_simulations_say() {
    let d = tmp("wc");
    let c: &[&[f64]] = &[
        &[0.0, 1.0, 0.3, 0.0, 0.2],
        &[1.0, 0.0, 1.0, 0.4, 0.0],
        &[0.3, 1.0, 0.0, 1.0, 0.5],
        &[0.0, 0.4, 1.0, 0.0, 1.0],
        &[0.2, 0.0, 0.5, 1.0, 0.0],
    ];
    write(&d, "c.csv", &csv(c));
    let model = |k: f64, init: &str| {
        format!("import \"wilson_cowan.neuro\"\nbrain B {{\n    node = WilsonCowan\n    connectivity \"c.csv\"\n    parameter K = {k}\n    couple node.P -= K * sum_j(C[i, j] * node[j].E)\n}}\nsimulate B {{ dt = 0.05 ms, duration = 6000 ms, method = rk4, P = 2{init} }}\n")
    };
    let f = write(&d, "wc.neuro", &model(0.05, ""));
    let mut exp = Experiment::load(&f).unwrap_or_else(|e| panic!("{e}"));
    let b = brain(&mut exp, Some("K=0:0.5:101"));
    let crit = b.critical.expect("a critical coupling");
    assert!(crit.hopf, "the focus loses stability through a Hopf");
    let overlap = crit.overlap.expect("the overlap with the leading mode is reported");
    assert!((0.0..=1.0 + 1e-12).contains(&overlap));
    assert!(crit.mode.is_some());
    // perturbation amplitude (E peak to peak, summed over the nodes) early
    // and late
    let swing = |k: f64| {
        let x = &crit.x;
        // a pattern over the nodes, so every mode is perturbed
        let init = format!(", E = linspace({}, {}), I = {}", x[0] - 1e-3, x[0] + 2e-3, x[1]);
        let f = write(&d, "run.neuro", &model(k, &init));
        let mut e = Experiment::load(&f).unwrap_or_else(|e| panic!("{e}"));
        e.record("E[0:5]");
        let (res, _) = e.run().unwrap_or_else(|e| panic!("{e}"));
        let t = res.table("E").unwrap();
        let time = t.data.column(0).to_vec();
        let window = |lo: f64, hi: f64| {
            (1..=5)
                .map(|c| {
                    let w: Vec<f64> = time
                        .iter()
                        .zip(t.data.column(c))
                        .filter(|(t, _)| **t >= lo && **t < hi)
                        .map(|(_, e)| *e)
                        .collect();
                    w.iter().copied().fold(f64::MIN, f64::max) - w.iter().copied().fold(f64::MAX, f64::min)
                })
                .sum::<f64>()
        };
        // times in ms (the table's display unit)
        window(100.0, 600.0) / window(5400.0, 6000.0)
    };
    // 25% either side: growth rates of about ±0.6/s over 6 s
    assert!(swing(0.75 * crit.k) > 1.0, "below K_c the perturbation decays");
    assert!(swing(1.25 * crit.k) < 1.0, "above K_c it grows");
}

/// Wilson-Cowan's P continuation: the upper focus regains stability
/// through a Hopf; just before it, the simulated limit cycle has the
/// frequency of the pair crossing the axis.
#[test]
fn wilson_cowans_hopf_has_the_frequency_of_its_limit_cycle() {
    let d = tmp("hopf");
    let text =
        "import \"wilson_cowan.neuro\"\nsimulate WilsonCowan { dt = 0.05 ms, duration = 3000 ms, method = rk4 }\n";
    let f = write(&d, "wc.neuro", text);
    let mut exp = Experiment::load(&f).unwrap_or_else(|e| panic!("{e}"));
    let Report::Rate(r) = exp.analyze(Some("P=0:2:101"), None).unwrap_or_else(|e| panic!("{e}")) else {
        panic!("not a rate report")
    };
    let c = r.continuation.expect("a continuation");
    let hopf = c.crossings.iter().find(|x| x.hopf).expect("a Hopf");
    let onset = hopf.frequency.unwrap();
    let mut sim = Experiment::load(&f).unwrap();
    sim.set("P", &format!("{}", hopf.p - 0.02)).record("E");
    let (res, _) = sim.run().unwrap_or_else(|e| panic!("{e}"));
    let t = res.table("E").unwrap();
    let (time, e) = (t.data.column(0).to_vec(), t.data.column(1).to_vec());
    let tail: Vec<usize> = (0..time.len()).filter(|&i| time[i] > 2000.0).collect();
    let mean = tail.iter().map(|&i| e[i]).sum::<f64>() / tail.len() as f64;
    let ups: Vec<f64> = tail
        .windows(2)
        .filter(|w| e[w[0]] < mean && e[w[1]] >= mean)
        .map(|w| time[w[0]] + (mean - e[w[0]]) / (e[w[1]] - e[w[0]]) * (time[w[1]] - time[w[0]]))
        .collect();
    assert!(ups.len() > 10, "it oscillates");
    let freq = 1e3 * (ups.len() - 1) as f64 / (ups[ups.len() - 1] - ups[0]);
    // a few %: the cycle's frequency moves away from onset as it grows
    assert!((freq / onset - 1.0).abs() < 0.03, "simulated {freq} Hz, onset {onset} Hz");
}

/// Bad input is a diagnostic with a code, never a panic.
#[test]
fn what_cannot_be_analyzed_is_diagnosed() {
    let d = tmp("bad");
    // x^2 + 1 has no real root; x' = 1 none, and a singular Jacobian
    for (body, code) in [("dx/dt = (x * x + 1) / 1 s", "E0510"), ("dx/dt = 1 / 1 s", "E0511")] {
        let f = write(&d, "m.neuro", &format!("rate M {{\n    state x = 0\n    {body}\n}}\n"));
        let mut exp = Experiment::load(&f).unwrap_or_else(|e| panic!("{e}"));
        let err = exp.analyze(None, None).expect_err("no fixed point");
        assert!(err.render().contains(&format!("error[{code}]")), "{}", err.render());
    }
    let f = write(&d, "n.neuro", "import \"lif.neuro\"\n");
    let mut exp = Experiment::load(&f).unwrap_or_else(|e| panic!("{e}"));
    let err = exp.model("LIF").analyze(None, None).expect_err("a neuron");
    assert!(err.render().contains("error[E0512]"), "{}", err.render());
    let f = write(&d, "w.neuro", "import \"wilson_cowan.neuro\"\n");
    let mut exp = Experiment::load(&f).unwrap_or_else(|e| panic!("{e}"));
    let err = exp.model("WilsonCowan").analyze(Some("Z=0:1:10"), None).expect_err("no Z");
    assert!(err.render().contains("error[E0504]"), "{}", err.render());
    let err = exp.analyze(Some("P=0:1"), None).expect_err("bad range");
    assert!(err.render().contains("error[E0503]"), "{}", err.render());
}
