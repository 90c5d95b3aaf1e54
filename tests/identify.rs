//! Identifiability and fitting (issue 16): the Fisher information finds
//! a parameter pair that only appears as a product, FIM-based intervals
//! cover the truth at their nominal rate over noisy repeats, and
//! Levenberg-Marquardt recovers Hodgkin-Huxley's conductances from a
//! noisy voltage trace.

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
    assert!(d.message.contains("no state `y`"), "{d:?}");
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
