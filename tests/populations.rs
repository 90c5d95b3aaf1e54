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

mod fields {
    use super::common::model_from_file;
    use neuroc::field::{dominant_mode, Config, Field, Stepper};
    use neuroc::ir::Model;

    fn ring(name: &str) -> Model {
        model_from_file("examples/neural_field_ring.neuro", name)
    }

    fn bind(m: &Model) -> Field<'_> {
        Field::bind(m, &vec![None; m.params.len()], &vec![None; m.values.len()])
            .unwrap_or_else(|d| panic!("{}", d.message))
    }

    /// A deterministic pseudo-random source profile.
    fn profile(n: usize) -> Vec<f64> {
        let mut s = neuroc::runtime::spikegen::SplitMix64::new(7);
        (0..n).map(|_| s.next_open01() - 0.3).collect()
    }

    #[test]
    fn fft_convolution_equals_the_direct_sum() {
        // 1D: the Mexican hat on 256 cells
        let m = ring("Turing");
        let f = bind(&m);
        let src = profile(f.cells());
        let (a, b) = (f.conv(0, &src), f.direct_conv(0, &src));
        let scale = b.iter().fold(0.0f64, |x, y| x.max(y.abs()));
        let err = a.iter().zip(&b).fold(0.0f64, |x, (p, q)| x.max((p - q).abs()));
        assert!(err <= 1e-12 * scale.max(1.0), "1D: max difference {err:e} (scale {scale})");
        // 2D: a sheet with unequal sides, so the axes cannot be swapped unnoticed
        let src2 = "field Sheet {
            domain x in [0 mm, 8 mm) periodic, cells = 32
            domain y in [0 mm, 6 mm) periodic, cells = 24
            kernel w(d) = exp(-d^2 / (2 * (0.7 mm)^2)) / 1 mm^2 - 0.3 * exp(-d / 2 mm) / 1 mm^2
            state u = 0
            du/dt = (-u + conv(w, u)) / 10 ms
        }";
        let c = neuroc::compile_source("sheet.neuro", src2, None);
        assert!(!c.diagnostics.has_errors(), "{}", c.render());
        let m2 = c.model("Sheet").unwrap().clone();
        let f2 = bind(&m2);
        assert_eq!(f2.cells(), 32 * 24);
        let src = profile(f2.cells());
        let (a, b) = (f2.conv(0, &src), f2.direct_conv(0, &src));
        let scale = b.iter().fold(0.0f64, |x, y| x.max(y.abs()));
        let err = a.iter().zip(&b).fold(0.0f64, |x, (p, q)| x.max((p - q).abs()));
        assert!(err <= 1e-12 * scale.max(1.0), "2D: max difference {err:e} (scale {scale})");
        // a constant source: the kernel's integral (Gaussian 2 pi s^2 minus
        // exponential 2 pi l^2 = 0.3 * 2 pi 4 mm^2 ... in 1/mm^2 units)
        let ones = vec![1.0; f2.cells()];
        let total = f2.conv(0, &ones)[0];
        let sum: f64 = f2.kernel[0].iter().sum();
        assert!((total - sum).abs() < 1e-12 * sum.abs().max(1.0));
    }

    #[test]
    fn turing_pattern_grows_at_the_kernels_critical_wavenumber() {
        let m = ring("Turing");
        let f = bind(&m);
        // the prediction: the mode where the sampled kernel's transform
        // peaks, against the analytic transform of the two Gaussians,
        // w_hat(k) = a_e exp(-k^2 s_e^2 / 2) - a_i exp(-k^2 s_i^2 / 2)
        let (mode, kc) = f.critical_mode(0);
        let (se, si): (f64, f64) = (0.5e-3, 1e-3);
        let kc_exact = (2.0 * (1.0 * si * si / (2.0 * se * se)).ln() / (si * si - se * se)).sqrt();
        let spacing = 2.0 * std::f64::consts::PI / 27.73e-3;
        assert!((kc - kc_exact).abs() < 0.5 * spacing, "predicted k {kc} vs analytic {kc_exact} (/m)");
        assert_eq!(mode, 6);
        let what = |k: f64| 2.0 * (-k * k * se * se / 2.0).exp() - (-k * k * si * si / 2.0).exp();
        for (k, w) in f.spectrum(0).into_iter().take(20) {
            assert!((w - what(k)).abs() < 1e-6, "w_hat({k}) = {w}, analytic {}", what(k));
        }
        // the simulation: a homogeneous state with 1e-3 noise
        let n = f.cells();
        let mut rng = neuroc::runtime::spikegen::SplitMix64::new(3);
        let noise: Vec<f64> = (0..n).map(|_| 0.3 + 1e-3 * (2.0 * rng.next_open01() - 1.0)).collect();
        let u = m.state("u").unwrap();
        let cfg = Config {
            dt: 0.5e-3,
            duration: 2.0,
            stepper: Stepper::Rk4,
            sample_every: 200,
            init_overrides: vec![(u, noise)],
        };
        let tr = f.simulate(&cfg).unwrap();
        let last = &tr.frames.last().unwrap()[0];
        let (lo, hi) = last.iter().fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        assert!(hi - lo > 0.05, "no pattern grew: u between {lo} and {hi}");
        let (m_pattern, _) = dominant_mode(last);
        println!("Turing: u in [{lo:.3}, {hi:.3}], {m_pattern} periods, predicted mode {mode} (k = {kc:.1} /m)");
        assert_eq!(
            m_pattern, mode,
            "the pattern has {m_pattern} periods, the linear stability analysis predicts {mode}"
        );
    }

    #[test]
    fn a_sheet_grows_a_pattern_at_the_critical_wavenumber_in_2d() {
        let m = model_from_file("examples/neural_field_sheet.neuro", "Sheet");
        let f = bind(&m);
        assert_eq!(f.shape, vec![64, 64]);
        let (mode, kc) = f.critical_mode(0);
        let len = 18.49e-3;
        let spacing = 2.0 * std::f64::consts::PI / len;
        // the analytic peak of a_e e^{-k^2 s_e^2/2} - a_i e^{-k^2 s_i^2/2}, in 2D as in 1D
        let (se, si): (f64, f64) = (0.5e-3, 1e-3);
        let kc_exact = (2.0 * (si * si / (2.0 * se * se)).ln() / (si * si - se * se)).sqrt();
        assert!((kc - kc_exact).abs() < 0.5 * spacing, "{kc} vs {kc_exact}");
        let n = f.cells();
        let mut rng = neuroc::runtime::spikegen::SplitMix64::new(11);
        let noise: Vec<f64> = (0..n).map(|_| 0.3 + 1e-3 * (2.0 * rng.next_open01() - 1.0)).collect();
        let u = m.state("u").unwrap();
        let cfg = Config {
            dt: 0.5e-3,
            duration: 1.0,
            stepper: Stepper::Rk4,
            sample_every: 2000,
            init_overrides: vec![(u, noise)],
        };
        let tr = f.simulate(&cfg).unwrap();
        let last = &tr.frames.last().unwrap()[0];
        let (lo, hi) = last.iter().fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        assert!(hi - lo > 0.05, "no pattern: {lo} to {hi}");
        // the 2D power spectrum's peak, as a radial wavenumber
        use rustfft::num_complex::Complex;
        let mean = last.iter().sum::<f64>() / n as f64;
        let mut grid: Vec<Complex<f64>> = last.iter().map(|&x| Complex::new(x - mean, 0.0)).collect();
        let mut planner = rustfft::FftPlanner::new();
        let fft = planner.plan_fft_forward(64);
        for r in 0..64 {
            fft.process(&mut grid[r * 64..(r + 1) * 64]);
        }
        let mut col = vec![Complex::new(0.0, 0.0); 64];
        for c in 0..64 {
            for r in 0..64 {
                col[r] = grid[r * 64 + c];
            }
            fft.process(&mut col);
            for r in 0..64 {
                grid[r * 64 + c] = col[r];
            }
        }
        let wrap = |i: usize| if i > 32 { i as f64 - 64.0 } else { i as f64 };
        let (best, _) = (0..n).map(|i| (i, grid[i].norm_sqr())).max_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
        let k_pattern = spacing * (wrap(best / 64).powi(2) + wrap(best % 64).powi(2)).sqrt();
        println!("sheet: pattern k = {k_pattern:.0} /m, predicted {kc:.0} /m (mode {mode}), spacing {spacing:.0} /m");
        assert!((k_pattern - kc).abs() <= spacing, "the pattern's wavenumber {k_pattern} vs the critical {kc}");
    }

    /// Circular mean position of a profile on a ring of length `len`.
    fn position(u: &[f64], len: f64) -> f64 {
        let n = u.len() as f64;
        let (mut c, mut s) = (0.0, 0.0);
        let floor = u.iter().cloned().fold(f64::MAX, f64::min);
        for (i, &x) in u.iter().enumerate() {
            let ang = 2.0 * std::f64::consts::PI * (i as f64 + 0.5) / n;
            c += (x - floor) * ang.cos();
            s += (x - floor) * ang.sin();
        }
        (s.atan2(c) / (2.0 * std::f64::consts::PI)).rem_euclid(1.0) * len
    }

    #[test]
    fn a_bump_stays_put_and_with_adaptation_travels() {
        let m = ring("Bump");
        let f = bind(&m);
        let cfg =
            Config { dt: 0.5e-3, duration: 0.5, stepper: Stepper::Rk4, sample_every: 100, init_overrides: vec![] };
        let tr = f.simulate(&cfg).unwrap();
        let active = |u: &[f64]| u.iter().filter(|&&x| x > 0.2).count();
        let last = &tr.frames.last().unwrap()[0];
        let mid = &tr.frames[tr.frames.len() / 2][0];
        assert!(active(last) > 5 && active(last) < 128, "not a bump: {} cells active", active(last));
        assert_eq!(active(last).abs_diff(active(mid)), 0, "the bump's width changes");
        let x = position(last, 20.0);
        println!("bump: {} cells above threshold, centre {x:.3} mm", active(last));
        assert!((x - 10.0).abs() < 0.1, "the bump drifted to {x} mm");

        let m = ring("Wave");
        let f = bind(&m);
        let cfg =
            Config { dt: 0.5e-3, duration: 1.0, stepper: Stepper::Rk4, sample_every: 100, init_overrides: vec![] };
        let tr = f.simulate(&cfg).unwrap();
        let pos: Vec<f64> = tr.frames.iter().map(|fr| position(&fr[0], 20.0)).collect();
        // unwrap around the ring, then speeds over the last 500 ms
        let mut x = vec![pos[0]];
        for w in pos.windows(2) {
            let mut d = w[1] - w[0];
            d -= 20.0 * (d / 20.0).round();
            x.push(x.last().unwrap() + d);
        }
        let speeds: Vec<f64> = x.windows(2).skip(5).map(|w| (w[1] - w[0]) / 0.05).collect(); // mm/s
        let mean = speeds.iter().sum::<f64>() / speeds.len() as f64;
        println!("wave: {mean:.2} mm/s, speeds {speeds:.2?}");
        assert!(mean > 5.0, "the wave does not travel: {mean} mm/s");
        assert!(speeds.iter().all(|s| (s / mean - 1.0).abs() < 0.05), "speed not constant: {speeds:?}");
        assert!(active(&tr.frames.last().unwrap()[0]) > 3, "the wave died out");
    }
}

#[test]
fn malformed_fields_are_diagnosed() {
    let good = "field F {
    domain x in [0 mm, 10 mm) periodic, cells = 64
    kernel w(d) = exp(-d / 1 mm) / 1 mm
    fn f(v) = v^2
    state u = 0
    du/dt = (-u + conv(w, f(u))) / 10 ms
}";
    let codes = |src: &str| -> Vec<&'static str> {
        let c = neuroc::compile_source("bad.neuro", src, None);
        c.diagnostics.list.iter().filter(|d| d.is_error()).map(|d| d.code.as_str()).collect()
    };
    assert!(codes(good).is_empty(), "{:?}", codes(good));
    for (old, new, code) in [
        ("[0 mm, 10 mm) periodic", "[0 mm, 10 mm]", "E0217"),
        ("[0 mm, 10 mm) periodic", "[0 mm, 10 mm) periodic, cell = 3", "E0217"),
        ("conv(w, f(u))", "conv(f, u)", "E0217"),
        ("conv(w, f(u))", "conv(w)", "E0206"),
        ("conv(w, f(u))", "conv(w, f(u)) / 1 mm", "E0301"),
        ("kernel w(d) = exp(-d / 1 mm) / 1 mm", "kernel w(d) = exp(-d) / 1 mm", "E0303"),
        ("    domain x in [0 mm, 10 mm) periodic, cells = 64\n", "", "E0217"),
        ("[0 mm, 10 mm)", "[0 mm, 10 ms)", "E0301"),
    ] {
        assert!(good.contains(old), "{old}");
        let src = good.replace(old, new);
        let got = codes(&src);
        assert!(got.contains(&code), "expected {code}, got {got:?} for\n{src}");
    }
    // a kernel that is infinite at distance 0 cannot be sampled
    let c = neuroc::compile_source("bad.neuro", &good.replace("exp(-d / 1 mm) / 1 mm", "1 / d"), None);
    assert!(!c.diagnostics.has_errors(), "{}", c.render());
    let m = c.model("F").unwrap();
    let e = neuroc::field::Field::bind(m, &vec![None; m.params.len()], &vec![None; m.values.len()])
        .err()
        .expect("an error");
    assert_eq!(e.code.as_str(), "E0217");
}

#[test]
fn renormalized_rate_matches_the_monte_carlo_where_first_order_fails() {
    use neuroc::runtime::population::{self, Backend, PopConfig};
    use neuroc::runtime::spikegen::{spread, Spread};
    let file = "examples/renormalized_rate.neuro";
    let steady = |name: &str| -> f64 {
        let m = model_from_file(file, name);
        let rec = run(&m, Method::Auto, &config(&m, 0.1, 150.0, &["r"]));
        *rec.traces[0].1.last().unwrap()
    };
    let (first, second) = (steady("FirstOrder"), steady("Renormalized"));
    // the Monte Carlo: 20,000 units, each with its own standard normal z
    let mut m = model_from_file(file, "Units");
    let plan = neuroc::schemes::derive_plan(&mut m, Method::Auto).0.expect("plan");
    let n = 20_000;
    let z = m.param("z").unwrap();
    let r = m.state("r").unwrap();
    let cfg = PopConfig {
        n,
        dt: 1e-4,
        duration: 0.15,
        per_neuron: vec![(z, spread(Spread::Normal(0.0, 1.0), n, 1, 1))],
        param_overrides: vec![None; m.params.len()],
        value_overrides: vec![None; m.values.len()],
        init_per_neuron: vec![],
        record: vec![],
        record_neurons: vec![0],
        sample_every: 100,
        mean_of: vec![r],
        threads: 2,
        backend: Backend::Jit,
        optimize: false,
        seed: 1,
    };
    let run = population::simulate(&m, &plan, &cfg).unwrap_or_else(|d| panic!("{}", d.message));
    let mc = *run.means[0].1.last().unwrap();
    // and the exact Gaussian average of phi, by quadrature
    let phi = |x: f64| 100.0 / (1.0 + (-(x - 10.0) / 2.0).exp());
    let h = 1e-3;
    let exact: f64 = (-8000..=8000)
        .map(|i| {
            let zz = i as f64 * h;
            phi(5.0 + 1.4 * zz) * (-zz * zz / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt() * h
        })
        .sum();
    println!("rates (Hz): first order {first:.4}, renormalized {second:.4}, Monte Carlo {mc:.4}, exact {exact:.4}");
    assert!((first / mc - 1.0).abs() > 0.10, "first order is not off: {first} vs {mc}");
    assert!((second / mc - 1.0).abs() < 0.02, "renormalized {second} vs Monte Carlo {mc}");
    assert!((second / exact - 1.0).abs() < 0.005, "renormalized {second} vs exact {exact}");
    assert!((mc / exact - 1.0).abs() < 0.015, "Monte Carlo {mc} vs exact {exact}");
    // the population mean does not depend on the thread count
    let one = population::simulate(&m, &plan, &PopConfig { threads: 1, ..cfg.clone() }).unwrap();
    assert_eq!(one.means[0].1.last().unwrap().to_bits(), mc.to_bits());
}

#[test]
fn second_review_inputs_are_diagnosed_not_panics() {
    let errors = |src: &str| -> Vec<&'static str> {
        let c = neuroc::compile_source("bad.neuro", src, None);
        let _ = c.render();
        c.diagnostics.list.iter().filter(|d| d.is_error()).map(|d| d.code.as_str()).collect()
    };
    // a domain named like a parameter: a duplicate, no panic
    let got = errors("field F {\n    parameter x = 1 mm\n    domain x in [0 mm, 10 mm) periodic, cells = 16\n    state u = 0\n    du/dt = -u / 1 ms\n}\n");
    assert!(got.contains(&"E0202"), "{got:?}");
    // a condition as the grid's bound
    let got = errors("density D {\n    variable V in [1 mV > 0 mV, V_th]\n    drift(V) = -V / 20 ms\n    diffusion = 1 mV^2 / 20 ms\n    threshold V_th = 20 mV, reset V_r = 10 mV\n}\n");
    assert!(got.contains(&"E0310"), "{got:?}");
    // a state beside the density that reads its variable
    let got = errors("density D {\n    state s = 0 mV\n    ds/dt = (V - s) / 10 ms\n    variable V in [-30 mV, V_th]\n    drift(V) = (s - V) / 20 ms\n    diffusion = 1 mV^2 / 20 ms\n    threshold V_th = 20 mV, reset V_r = 10 mV\n}\n");
    assert!(got.contains(&"E0216"), "{got:?}");
    // a driver with an event
    let got = errors("rate R {\n    state x = 0\n    dx/dt = -x / 1 s\n    on x >= 1 { x = 0 }\n}\ndensity D {\n    use R\n    variable V in [-30 mV, V_th]\n    drift(V) = (x * 1 mV - V) / 20 ms\n    diffusion = 1 mV^2 / 20 ms\n    threshold V_th = 20 mV, reset V_r = 10 mV\n}\n");
    assert!(got.contains(&"E0214"), "{got:?}");
    // conditions passed to expected() and conv()
    let got =
        errors("rate R {\n    fn phi(x) = x^2\n    state r = 0\n    dr/dt = (expected(phi, 1 > 0, 1) - r) / 1 s\n}\n");
    assert!(got.contains(&"E0310"), "{got:?}");
}
