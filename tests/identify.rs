//! Identifiability and fitting (issue 16): the Fisher information finds
//! a parameter pair that only appears as a product, FIM-based intervals
//! cover the truth at their nominal rate over noisy repeats, and
//! Levenberg-Marquardt recovers Hodgkin-Huxley's conductances from a
//! noisy voltage trace.

mod common;
use neuroc::diag::Code;
use neuroc::infer::{fisher, fit, Problem};
use neuroc::runtime::stream::{layers, Stream};
use neuroc::source::Span;
use neuroc::Experiment;
use std::path::Path;

fn problem_from(e: &Experiment, wrt: &[&str], observe: &str) -> Result<Problem, Box<neuroc::diag::Diagnostic>> {
    let run = e.configure().unwrap_or_else(|e| panic!("{}", e.render()));
    let names: Vec<String> = wrt.iter().map(|s| s.to_string()).collect();
    Problem::new(&run, &names, observe, Span::default())
}

fn source(text: &str) -> Experiment {
    Experiment::from_source("t.neuro", text, None).unwrap_or_else(|e| panic!("{}", e.render()))
}

const PRODUCT: &str = "rate Product {
    parameter a = 2
    parameter b = 30 Hz
    parameter c = 5 Hz
    state x = 1
    dx/dt = -a * b * x + c * (1 - x)
}
simulate Product { dt = 0.1 ms, duration = 100 ms }
";

#[test]
fn a_product_is_structurally_non_identifiable_and_the_rest_is_not() {
    let e = source(PRODUCT);
    let p = problem_from(&e, &["a", "b", "c"], "x").expect("a problem");
    let r = fisher::report(&p, &p.values(), 0.01).expect("a report");
    assert_eq!(r.structural.len(), 1, "{}", r.text());
    let (v, symmetry) = &r.structural[0];
    // the direction (1, -1, 0) / sqrt 2 in log-parameters
    let s = std::f64::consts::FRAC_1_SQRT_2;
    assert!((v[0] - s).abs() < 1e-6 && (v[1] + s).abs() < 1e-6 && v[2].abs() < 1e-6, "{v:?}");
    assert_eq!(*symmetry, Some(true), "{}", r.text());
    assert!(r.relative_sd[0].is_infinite() && r.relative_sd[1].is_infinite());
    assert!(r.relative_sd[2].is_finite(), "{}", r.text());
    assert!(r.text().contains("only a * b can be known"), "{}", r.text());
    // without b, a and c are identifiable
    let p = problem_from(&e, &["a", "c"], "x").expect("a problem");
    let r = fisher::report(&p, &p.values(), 0.01).expect("a report");
    assert!(r.structural.is_empty(), "{}", r.text());
    assert!(r.relative_sd.iter().all(|s| s.is_finite() && *s < 0.1), "{}", r.text());
}

#[test]
fn a_parameter_that_changes_nothing_is_reported() {
    // c only reaches y, which is not observed
    let e = source(
        "rate Two {\n    parameter k = 20 Hz\n    parameter c = 5 Hz\n    state x = 1, y = 0\n    dx/dt = -k * x\n    dy/dt = c * x - k * y\n}\nsimulate Two { dt = 0.1 ms, duration = 50 ms }\n",
    );
    let p = problem_from(&e, &["k", "c"], "x").expect("a problem");
    let r = fisher::report(&p, &p.values(), 0.01).expect("a report");
    assert_eq!(r.structural.len(), 1, "{}", r.text());
    assert!(r.structural[0].0[1].abs() > 0.999, "{:?}", r.structural);
    // c does appear in the equations: not a symmetry of the model, but of
    // what is observed
    assert_eq!(r.structural[0].1, Some(false));
    assert!(r.text().contains("nothing of c"), "{}", r.text());
}

const RELAX: &str = "rate Relax {
    parameter tau = 10 ms
    parameter x_inf = 2
    parameter x0 = 0.5
    state x = x0
    dx/dt = (x_inf - x) / tau
}
simulate Relax { dt = 0.1 ms, duration = 40 ms }
";

/// Data from the model at `truth` every `every` samples, plus Gaussian
/// noise of SD `sigma` from stream `repeat`.
fn noisy(p: &Problem, truth: &[f64], every: usize, sigma: f64, repeat: usize) -> fit::Data {
    let t = p.simulate(truth).expect("simulates");
    let mut g = Stream::new(2026, 99, repeat);
    let l = layers();
    let mut data = fit::Data::default();
    for k in (every..t.t.len()).step_by(every) {
        data.t.push(t.t[k]);
        data.y.push(t.y[k] + sigma * g.normal(l));
    }
    data
}

#[test]
fn fisher_intervals_cover_the_truth_at_their_rate() {
    let e = source(RELAX);
    let p = problem_from(&e, &["tau", "x_inf", "x0"], "x").expect("a problem");
    let truth = p.values();
    let start: Vec<f64> = truth.iter().map(|x| x * 1.3).collect();
    let opts = fit::Options::around(&truth);
    let repeats = 100;
    let mut covered = vec![0; truth.len()];
    for rep in 0..repeats {
        let data = noisy(&p, &truth, 10, 0.05, rep);
        let f = fit::fit(&p, &data, &start, &opts).expect("fits");
        assert!(f.converged, "repeat {rep}");
        #[allow(clippy::needless_range_loop)]
        for j in 0..truth.len() {
            if f.ci95[j].0 <= truth[j] && truth[j] <= f.ci95[j].1 {
                covered[j] += 1;
            }
        }
    }
    eprintln!("coverage of tau, x_inf, x0: {covered:?} of {repeats}");
    for (j, c) in covered.iter().enumerate() {
        assert!((90..=98).contains(c), "parameter {j}: {c} of {repeats} intervals cover the truth");
    }
}

#[test]
fn hodgkin_huxley_conductances_are_recovered_from_a_noisy_trace() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hodgkin_huxley.neuro");
    let mut e = Experiment::load(&path).unwrap_or_else(|e| panic!("{}", e.render()));
    e.duration("50 ms");
    let p = problem_from(&e, &["NaT.gbar", "Kdr.gbar"], "V").expect("a problem");
    let truth = p.values();
    // 1 mV of noise every 0.1 ms
    let data = noisy(&p, &truth, 10, 1e-3, 0);
    let start = [truth[0] * 0.8, truth[1] * 1.25];
    let f = fit::fit(&p, &data, &start, &fit::Options::around(&start)).expect("fits");
    eprintln!("{}", f.text(&p));
    #[allow(clippy::needless_range_loop)]
    for j in 0..2 {
        let err = (f.theta[j] - truth[j]).abs() / truth[j];
        assert!(err < 0.02, "{}: {:.3}% off", f.names[j], 100.0 * err);
        assert!(f.ci95[j].0 < f.theta[j] && f.theta[j] < f.ci95[j].1);
    }
    // the residuals are the noise
    assert!((f.sigma / 1e-3 - 1.0).abs() < 0.1, "residual SD {} mV", f.sigma * 1e3);
}

#[test]
fn bad_requests_are_diagnosed() {
    let e = source(RELAX);
    let err = |r: Result<Problem, Box<neuroc::diag::Diagnostic>>| match r {
        Ok(_) => panic!("accepted"),
        Err(d) => d,
    };
    let d = err(problem_from(&e, &["tau", "nope"], "x"));
    assert_eq!(d.code, Code::NoSensitivity);
    assert!(d.message.contains("no parameter `nope`") && d.help.as_deref().unwrap_or("").contains("tau"), "{d:?}");
    let d = err(problem_from(&e, &["tau"], "y"));
    assert_eq!(d.code, Code::NoSensitivity);
    assert!(d.message.contains("no state or value `y`"), "{d:?}");
    let d = err(problem_from(&e, &["tau", "tau"], "x"));
    assert!(d.message.contains("named twice"), "{d:?}");
    // a parameter computed from the one of interest
    let derived = source("rate D {\n    parameter tau = 10 ms\n    parameter tau2 = 2 * tau\n    state x = 1\n    dx/dt = -x / tau2\n}\nsimulate D { dt = 0.1 ms, duration = 10 ms }\n");
    let d = err(problem_from(&derived, &["tau"], "x"));
    assert!(d.message.contains("computed from `tau`"), "{d:?}");
    // a network
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cuba.neuro");
    let net = Experiment::load(&path).unwrap_or_else(|e| panic!("{}", e.render()));
    let d = err(problem_from(&net, &["tau_m"], "V"));
    assert_eq!(d.code, Code::NoSensitivity);
    // too few data points
    let p = problem_from(&e, &["tau", "x_inf"], "x").expect("a problem");
    let data = fit::Data { t: vec![0.001, 0.002], y: vec![1.0, 1.1] };
    let d = fit::check(&p, &data, 0.04).expect_err("refused");
    assert_eq!(d.code, Code::BadData);
    let data = fit::Data { t: vec![0.001, 0.002, 0.5], y: vec![1.0, 1.1, 1.2] };
    let d = fit::check(&p, &data, 0.04).expect_err("refused");
    assert!(d.message.contains("outside the run"), "{d:?}");
}

#[test]
fn a_trace_written_by_run_is_fitted_through_the_library_api() {
    // the trace `neuroc run -o` writes, fitted from 15% off by
    // `Experiment::fit` (what `neuroc fit` calls)
    let dir = std::env::temp_dir().join(format!("neuroc-fit-{}", std::process::id()));
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/lif.neuro");
    let mut e = Experiment::load(&path).unwrap_or_else(|e| panic!("{}", e.render()));
    e.duration("100 ms").record("V");
    e.run_to(&dir, neuroc::output::Format::Csv).unwrap_or_else(|e| panic!("{}", e.render()));
    let mut e = Experiment::load(&path).unwrap_or_else(|e| panic!("{}", e.render()));
    e.duration("100 ms").set("tau_m", "23 ms").set("R", "85 Mohm");
    let (p, f) = e.fit("tau_m, R", "V", &dir.join("V.csv"), 1, 10.0).unwrap_or_else(|e| panic!("{}", e.render()));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(p.names(), ["tau_m", "R"]);
    // the CSV holds about 10 significant digits
    assert!((f.theta[0] / 20e-3 - 1.0).abs() < 1e-6, "{}", f.text(&p));
    assert!((f.theta[1] / 100e6 - 1.0).abs() < 1e-6, "{}", f.text(&p));
    // a column in another unit is refused with E0514
    let bad = std::env::temp_dir().join(format!("neuroc-fit-bad-{}.csv", std::process::id()));
    std::fs::write(&bad, "t_ms,V_V\n0,-0.07\n1,-0.069\n2,-0.068\n").expect("writes");
    let err = e.fit("tau_m", "V", &bad, 1, 10.0).map(|_| ()).expect_err("refused");
    let _ = std::fs::remove_file(&bad);
    assert_eq!(err.diagnostics[0].code, Code::BadData);
    assert!(err.render().contains("`V_V` is not in mV"), "{}", err.render());
}

/// The report of `examples/identifiability_hh.neuro`'s model `model`.
fn clamp_report(model: &str, wrt: &[&str], observe: &str, noise: &str, set: &[(&str, &str)]) -> fisher::Report {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/identifiability_hh.neuro");
    let mut e = Experiment::load(&path).unwrap_or_else(|e| panic!("{}", e.render()));
    e.model(model);
    for (k, v) in set {
        e.set(k, v);
    }
    e.identifiability(&wrt.join(","), observe, noise, &[]).unwrap_or_else(|e| panic!("{}", e.render()))
}

#[test]
fn voltage_clamp_identifies_what_current_clamp_cannot() {
    let all = ["NaT.gbar", "Kdr.gbar", "Leak.g"];
    // current clamp with the current and capacitance unknown: one exact
    // symmetry, every parameter scaled together
    let mut five = all.to_vec();
    five.extend(["C_m", "I_amp"]);
    let r = clamp_report("SquidCurrentClamp", &five, "V", "1 mV", &[]);
    assert_eq!(r.structural.len(), 1, "{}", r.text());
    let (v, symmetry) = &r.structural[0];
    assert!(v.iter().all(|x| (x - 1.0 / 5f64.sqrt()).abs() < 1e-6), "{v:?}");
    assert_eq!(*symmetry, Some(true));
    assert!(r.text().contains("only the ratios of NaT.gbar, Kdr.gbar, Leak.g, C_m, I_amp"), "{}", r.text());
    // with them known: spikes identify the conductances; below threshold
    // sodium is known several times less precisely
    let spiking = clamp_report("SquidCurrentClamp", &all, "V", "1 mV", &[]);
    let below = clamp_report("SquidCurrentClamp", &all, "V", "1 mV", &[("I_amp", "2 uA/cm^2")]);
    assert!(spiking.structural.is_empty() && below.structural.is_empty());
    assert!(below.relative_sd[0] > 3.0 * spiking.relative_sd[0], "{}\n{}", spiking.text(), below.text());
    // voltage clamp, observed through the clamp current (a derived value)
    let clamp = clamp_report("SquidVoltageClamp", &all, "I_clamp", "0.1 uA/cm^2", &[]);
    assert!(clamp.structural.is_empty(), "{}", clamp.text());
    assert!(clamp.relative_sd.iter().all(|&s| s < 1e-3), "{}", clamp.text());
    // the active conductances over a hundred times better than from spikes
    for j in 0..2 {
        assert!(clamp.relative_sd[j] < spiking.relative_sd[j] / 100.0, "{}", clamp.text());
    }
}

#[test]
fn a_derived_value_is_observed_with_its_derivatives() {
    // the clamp current's sensitivities against central differences
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/identifiability_hh.neuro");
    let mut e = Experiment::load(&path).unwrap_or_else(|e| panic!("{}", e.render()));
    e.model("SquidVoltageClamp");
    let p = e.problem("NaT.gbar,Kdr.gbar,Leak.g", "I_clamp").unwrap_or_else(|e| panic!("{}", e.render()));
    let theta = p.values();
    let at = p.simulate(&theta).expect("simulates");
    for j in 0..3 {
        let h = 1e-6 * theta[j];
        let mut up = theta.clone();
        up[j] += h;
        let mut down = theta.clone();
        down[j] -= h;
        let (a, b) = (p.simulate(&up).expect("simulates"), p.simulate(&down).expect("simulates"));
        let scale = at.dy[j].iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let worst = (0..at.y.len()).map(|k| ((a.y[k] - b.y[k]) / (2.0 * h) - at.dy[j][k]).abs()).fold(0.0f64, f64::max);
        assert!(worst < 1e-6 * scale, "parameter {j}: {worst:e} of {scale:e}");
    }
}

#[test]
fn conductances_are_recovered_from_another_simulators_trace() {
    // Brian2's converged RK4 trace of the same squid axon
    // (tests/reference/hh/, 200 ms, 13 spikes), fitted from 20% off
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut e =
        Experiment::load(root.join("examples/hodgkin_huxley.neuro")).unwrap_or_else(|e| panic!("{}", e.render()));
    e.set("NaT.gbar", "96 mS/cm^2").set("Kdr.gbar", "43.2 mS/cm^2").set("Leak.g", "0.36 mS/cm^2");
    let data = root.join("tests/reference/hh/trace_converged.csv");
    let (p, f) = e.fit("NaT.gbar,Kdr.gbar,Leak.g", "V", &data, 1, 10.0).unwrap_or_else(|e| panic!("{}", e.render()));
    eprintln!("{}", f.text(&p));
    for (j, want) in [120e-3 * 1e4, 36e-3 * 1e4, 0.3e-3 * 1e4].iter().enumerate() {
        // S/m^2; the difference is the scheme's (rk4 at 0.01 ms)
        assert!((f.theta[j] / want - 1.0).abs() < 0.005, "{}: {} vs {want}", f.names[j], f.theta[j]);
    }
    assert!(f.sigma < 0.05e-3, "residual SD {} mV", f.sigma * 1e3);
}

#[test]
fn profiles_match_the_fisher_bounds_and_stay_flat_where_nothing_is_known() {
    // an identifiable model: the profile's 95% interval is the Cramer-Rao
    // one (the model is nearly linear in its parameters at this noise)
    let mut e = source(RELAX);
    let r =
        e.identifiability("tau,x_inf,x0", "x", "0.01", &["tau".into()]).unwrap_or_else(|e| panic!("{}", e.render()));
    let pr = &r.profiles[0];
    let (lo, hi) = (pr.interval.0.expect("a lower end"), pr.interval.1.expect("an upper end"));
    let tau = r.values[0];
    let half = 1.96 * r.relative_sd[0] * tau;
    assert!(((hi - lo) / (2.0 * half) - 1.0).abs() < 0.05, "profile [{lo}, {hi}], Cramer-Rao +/- {half}");
    assert!(lo < tau && tau < hi);
    // a product: a's profile is flat (b takes up every change of a)
    let mut e = source(PRODUCT);
    let r = e.identifiability("a,b,c", "x", "0.01", &["a".into()]).unwrap_or_else(|e| panic!("{}", e.render()));
    let pr = &r.profiles[0];
    assert_eq!(pr.interval, (None, None), "{}", r.text());
    assert!(pr.points.iter().all(|(_, c)| *c < 1e-6), "{:?}", pr.points);
    // a bad profile is a diagnostic
    let err = e.identifiability("a,c", "x", "0.01", &["b".into()]).map(|_| ()).expect_err("refused");
    assert!(err.render().contains("not among the parameters analyzed"), "{}", err.render());
    let err = e.identifiability("a,c", "x", "0.01", &["a=2:1:5".into()]).map(|_| ()).expect_err("refused");
    assert_eq!(err.diagnostics[0].code, Code::BadSetting);
    // a grid that misses the point: chi-square counted from its least
    // value, an interval only where the profile dips below the threshold
    let mut e = source(RELAX);
    let r = e
        .identifiability("tau,x_inf", "x", "0.01", &["tau=11:12:5".into()])
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let pr = &r.profiles[0];
    assert!(
        pr.points.iter().any(|(_, c)| *c == 0.0) && pr.points.windows(2).all(|w| w[0].0 < w[1].0),
        "{:?}",
        pr.points
    );
    assert!(pr.interval.0.is_none(), "{:?}", pr.interval);
    // a parameter at 0 has no relative sensitivity
    let mut e = source("rate Z {\n    parameter k = 10 Hz, b = 0\n    state x = 1\n    dx/dt = -k * x + b * k\n}\nsimulate Z { dt = 0.1 ms, duration = 10 ms }\n");
    let err = e.identifiability("k,b", "x", "0.01", &[]).map(|_| ()).expect_err("refused");
    assert!(err.render().contains("`b` is 0 here"), "{}", err.render());
}

#[test]
fn a_model_without_sensitivities_is_fitted_derivative_free() {
    // a Markov sodium channel (kinetic scheme): no sensitivities, so no
    // Fisher report, but a fit by Nelder-Mead with intervals from central
    // differences
    let text = "
import \"markov.neuro\"
import \"hh.neuro\"
neuron M {
    parameter C_m = 1 uF/cm^2, I_amp = 10 uA/cm^2
    state V = -65 mV
    use NaMarkov, Kdr, Leak
    dV/dt = (I_amp * step(t - 2 ms) - currents) / C_m
}
simulate M { dt = 0.01 ms, duration = 20 ms, method = rk4 }
";
    let mut e = source(text);
    let err = e.identifiability("NaMarkov.gbar,Kdr.gbar", "V", "1 mV", &[]).map(|_| ()).expect_err("refused");
    assert_eq!(err.diagnostics[0].code, Code::NoSensitivity);
    assert!(err.render().contains("kinetic schemes"), "{}", err.render());
    let p = e.problem("NaMarkov.gbar,Kdr.gbar", "V").unwrap_or_else(|e| panic!("{}", e.render()));
    assert!(p.without_sensitivities().is_some());
    let truth = p.values();
    let data = noisy(&p, &truth, 10, 0.5e-3, 3);
    let start = [truth[0] * 0.85, truth[1] * 1.15];
    let f = fit::fit(&p, &data, &start, &fit::Options::around(&start)).expect("fits");
    eprintln!("{}", f.text(&p));
    assert!(f.derivative_free.is_some() && f.converged);
    #[allow(clippy::needless_range_loop)]
    for j in 0..2 {
        let err = (f.theta[j] - truth[j]).abs() / truth[j];
        assert!(err < 0.02, "{}: {:.3}% off", f.names[j], 100.0 * err);
        assert!(f.relative_sd[j].is_finite() && f.relative_sd[j] < 0.05);
    }
}

/// A brain's coupling and a node parameter fitted to one region's trace
/// as `neuroc run -o` writes it (`E@1`), through the brain's
/// sensitivities, from 20% off.
#[test]
fn a_brain_is_fitted_to_one_region_of_its_run() {
    let dir = std::env::temp_dir().join(format!("neuroc-fit-brain-{}", std::process::id()));
    let path = common::three_region_brain(&dir, "200 ms");
    let mut e = Experiment::load(&path).unwrap_or_else(|e| panic!("{}", e.render()));
    e.record("E[0:3]");
    let out = dir.join("out");
    e.run_to(&out, neuroc::output::Format::Csv).unwrap_or_else(|e| panic!("{}", e.render()));
    let mut e = Experiment::load(&path).unwrap_or_else(|e| panic!("{}", e.render()));
    e.set("K", "0.64").set("c1", "19");
    let (p, f) = e.fit("K, c1", "E[1]", &out.join("E.csv"), 1, 10.0).unwrap_or_else(|e| panic!("{}", e.render()));
    let _ = std::fs::remove_dir_all(&dir);
    assert!((f.theta[0] / 0.8 - 1.0).abs() < 1e-5, "{}", f.text(&p));
    assert!((f.theta[1] / 16.0 - 1.0).abs() < 1e-5, "{}", f.text(&p));
}

/// Spike times as the data: HH's sodium and potassium conductances fitted
/// to the 13 spike times of Brian2's converged RK4 run of the same squid
/// axon (`tests/reference/hh/spikes_converged.csv`, 200 ms) from 20% off,
/// through the spike times' sensitivities.
#[test]
fn conductances_are_recovered_from_another_simulators_spike_times() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // the reference's column is `spike_t_ms`: as `run -o` writes spikes
    let dir = std::env::temp_dir().join(format!("neuroc-fit-spikes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a folder");
    let text = std::fs::read_to_string(root.join("tests/reference/hh/spikes_converged.csv")).expect("reads");
    let data = dir.join("spikes.csv");
    std::fs::write(&data, text.replacen("spike_t_ms", "t_ms", 1)).expect("writes");
    let mut e =
        Experiment::load(root.join("examples/hodgkin_huxley.neuro")).unwrap_or_else(|e| panic!("{}", e.render()));
    e.set("NaT.gbar", "96 mS/cm^2").set("Kdr.gbar", "43.2 mS/cm^2");
    let (p, f) = e.fit("NaT.gbar,Kdr.gbar", "spikes", &data, 1, 10.0).unwrap_or_else(|e| panic!("{}", e.render()));
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("{}", f.text(&p));
    assert_eq!(f.residuals.len(), 13);
    for (j, want) in [120e-3 * 1e4, 36e-3 * 1e4].iter().enumerate() {
        assert!((f.theta[j] / want - 1.0).abs() < 0.01, "{}: {} vs {want}", f.names[j], f.theta[j]);
    }
    // the spike times within 0.1 ms
    assert!(f.residuals.iter().all(|r| r.abs() < 1e-4), "{:?}", f.residuals);
}

/// From spike times alone, a LIF's voltage scale and offset are not
/// identifiable: scaling E_L, V_th, V_r and R together, or shifting the
/// three voltages, leaves every spike time as it is. Its voltage trace
/// tells them apart. (A varying input, so that the
/// intervals differ; a constant one gives equal intervals, two numbers.)
#[test]
fn spike_times_cannot_tell_a_lifs_voltage_scale() {
    let text = "
neuron L {
    parameter tau_m = 20 ms, E_L = -70 mV, V_th = -50 mV, V_r = -65 mV, R = 100 Mohm
    state V = E_L
    input I = 0.25 nA + 0.15 nA * sin(2 * 3.14159 * t / 37 ms)
    dV/dt = (E_L - V + R * I) / tau_m
    on V >= V_th { V = V_r; emit spike }
}
simulate L { dt = 0.1 ms, duration = 400 ms }
";
    let report = |wrt: &str, observe: &str, noise: &str| {
        let mut e = Experiment::from_source("lif.neuro", text, None).unwrap_or_else(|e| panic!("{}", e.render()));
        e.identifiability(wrt, observe, noise, &[]).unwrap_or_else(|e| panic!("{}", e.render()))
    };
    let spikes = report("tau_m,R,E_L,V_th,V_r", "spikes", "0.1 ms");
    assert!(spikes.samples >= 10, "{} spikes", spikes.samples);
    // two directions unseen: every voltage and R scaled together, and the
    // three voltages shifted together (V with them); tau_m in neither
    assert_eq!(spikes.structural.len(), 2, "two directions unseen: {:?}", spikes.eigen);
    let unseen: Vec<&Vec<f64>> = spikes.structural.iter().map(|(v, _)| v).collect();
    assert!(unseen.iter().all(|v| v[0].abs() < 1e-6), "{unseen:?}");
    let (e_l, v_th, v_r) = (-70.0, -50.0, -65.0);
    let shift: Vec<f64> = vec![0.0, 0.0, 1.0 / e_l, 1.0 / v_th, 1.0 / v_r];
    for want in [vec![0.0, 0.5, 0.5, 0.5, 0.5], shift] {
        let norm = want.iter().map(|x| x * x).sum::<f64>().sqrt();
        // its part in the unseen plane (the structural vectors are orthonormal)
        let within: f64 =
            unseen.iter().map(|v| v.iter().zip(&want).map(|(a, b)| a * b / norm).sum::<f64>().powi(2)).sum();
        assert!((within - 1.0).abs() < 1e-6, "{want:?} lies {within} in the unseen plane {unseen:?}");
    }
    // (the kernels restart a reset neuron at the end of its step, so V
    // does not depend on V_th in between crossings: left out here)
    let trace = report("tau_m,R,E_L,V_r", "V", "0.5 mV");
    assert!(trace.structural.is_empty(), "the trace identifies all: {:?}", trace.eigen);
}
