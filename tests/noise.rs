//! White noise inside models (`noise X = white(SIGMA)`): a LIF driven by
//! white noise fires at the Siegert rate with the first-passage CV of its
//! ISIs (corrected for the discrete threshold of a time-stepped run), an
//! Ornstein-Uhlenbeck state has its stationary variance and correlation
//! time, the numbers do not depend on the thread count, and bad noises are
//! diagnosed.

mod common;

use common::{siegert_cv, siegert_cv_at};
use neuroc::Experiment;

/// Brunel's (2000) LIF: tau = 20 ms, theta = 20 mV, V_r = 10 mV, t_ref =
/// 2 ms, `tau dV/dt = mu - V + sigma sqrt(tau) xi(t)`.
fn lif(mu: f64, sigma: f64) -> String {
    format!(
        "neuron NoisyLIF {{
    parameter tau = 20 ms, mu = {mu} mV, sigma = {sigma} mV, theta = 20 mV, V_r = 10 mV
    state V = V_r
    dV/dt = (mu - V) / tau
    noise V = white(sigma / sqrt(tau))
    on V >= theta {{ V = V_r; emit spike; refractory 2 ms }}
}}
"
    )
}

fn run(src: &str, settings: &[(&str, &str)]) -> neuroc::Results {
    let mut e = Experiment::from_source("noise.neuro", src, None).unwrap_or_else(|e| panic!("{e}"));
    for (k, v) in settings {
        match *k {
            "neurons" => e.neurons(v),
            "threads" => e.threads(v),
            "dt" => e.dt(v),
            "duration" => e.duration(v),
            "record" => e.record(v),
            "sample" => e.sample(v),
            _ => e.set(k, v),
        };
    }
    e.run().unwrap_or_else(|e| panic!("{e}")).0
}

/// Rate (Hz) and CV of the ISIs after `skip` ms of `n` neurons' spikes.
fn rate_cv(spikes: &[(usize, f64)], n: usize, skip: f64, end: f64) -> (f64, f64) {
    let mut last = vec![f64::NAN; n];
    let (mut count, mut isis) = (0usize, Vec::new());
    for &(i, t) in spikes.iter().filter(|s| s.1 >= skip) {
        count += 1;
        if last[i].is_finite() {
            isis.push(t - last[i]);
        }
        last[i] = t;
    }
    let mean = isis.iter().sum::<f64>() / isis.len() as f64;
    let var = isis.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / isis.len() as f64;
    (count as f64 / n as f64 / ((end - skip) * 1e-3), var.sqrt() / mean)
}

/// At three (mu, sigma) points the stationary rate is within 2% of the
/// Siegert formula and the CV of the ISIs within 3% of Brunel's (2000)
/// integral, both taken with the threshold raised by beta sigma
/// sqrt(dt / tau), beta = |zeta(1/2)| / sqrt(2 pi) = 0.5826: the
/// continuity correction of a barrier checked only at the steps (Broadie,
/// Glasserman & Kou 1997; sigma sqrt(dt / tau) is the SD of V's step
/// increment). They agree to about 0.1% at dt = 0.1 and 0.025 ms. The
/// uncorrected formula is farther off, and its bias halves as dt falls
/// fourfold (order sqrt(dt)).
#[test]
fn a_noisy_lif_fires_at_the_siegert_rate() {
    let (n, end, skip) = (2000, 2200.0, 200.0);
    let beta = 1.460_354_508_809_586_8 / (2.0 * std::f64::consts::PI).sqrt();
    for (mu, sigma) in [(20.0, 5.0), (10.0, 10.0), (30.0, 10.0)] {
        let mut rates = Vec::new();
        for dt in [0.1, 0.025] {
            let r = run(&lif(mu, sigma), &[("neurons", "2000"), ("dt", &format!("{dt} ms")), ("duration", "2200 ms")]);
            let (rate, cv) = rate_cv(&r.spikes(), n, skip, end);
            let shift = beta * sigma * (dt / 20.0f64).sqrt();
            let (nu, cv_ref) = siegert_cv_at(mu, sigma, 20.0 + shift, 10.0);
            let off = |x: f64, y: f64| (x - y).abs() / y;
            assert!(off(rate, nu) < 0.02, "mu {mu} sigma {sigma} dt {dt}: {rate} Hz vs {nu} Hz (corrected Siegert)");
            assert!(off(cv, cv_ref) < 0.03, "mu {mu} sigma {sigma} dt {dt}: CV {cv} vs {cv_ref}");
            rates.push(rate);
        }
        let (nu0, _) = siegert_cv(mu, sigma);
        let (coarse, fine) = ((rates[0] - nu0).abs(), (rates[1] - nu0).abs());
        assert!(fine < coarse * 0.75, "mu {mu} sigma {sigma}: bias {coarse} Hz at 0.1 ms, {fine} Hz at 0.025 ms");
    }
}

/// `dx/dt = -x / tau` with `noise x = white(s)`: the stationary variance
/// s^2 tau / 2 and the correlation at lag tau, e^-1 (a correlation time of
/// tau), within 2%, over 10,000 neurons for 1 s.
#[test]
fn an_ornstein_uhlenbeck_state_has_its_variance_and_correlation_time() {
    let src = "rate OU {
    parameter tau = 10 ms, s = 2 / sqrt(1 ms)
    state x = 0
    dx/dt = -x / tau
    noise x = white(s)
}
simulate OU { dt = 0.1 ms, duration = 500 ms }
";
    let n = 10_000;
    let r = run(src, &[("neurons", "10000"), ("record", "x[0:10000]"), ("sample", "10 ms"), ("duration", "1 s")]);
    let data = &r.table("x").unwrap().data;
    // rows every 10 ms = tau; the first 100 ms (10 tau) are the transient
    let rows: Vec<Vec<f64>> = (10..data.nrows()).map(|k| data.row(k).iter().skip(1).copied().collect()).collect();
    assert_eq!(rows[0].len(), n);
    let all: Vec<f64> = rows.iter().flatten().copied().collect();
    let mean = all.iter().sum::<f64>() / all.len() as f64;
    let var = all.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / all.len() as f64;
    let want = 4.0 * 10.0 / 2.0; // s^2 tau / 2, s = 2 per sqrt(ms), tau = 10 ms
    assert!((var - want).abs() / want < 0.02, "variance {var} vs {want}");
    let lagged: f64 =
        rows.windows(2).map(|w| w[0].iter().zip(&w[1]).map(|(a, b)| (a - mean) * (b - mean)).sum::<f64>()).sum();
    let corr = lagged / ((rows.len() - 1) * n) as f64 / var;
    let tau_est = -10.0 / corr.ln();
    assert!((tau_est - 10.0).abs() / 10.0 < 0.02, "correlation {corr} at 10 ms: time {tau_est} ms");
    assert!(mean.abs() < 0.05, "mean {mean}");
}

/// The same spikes for 1, 2 and 3 threads, in a population and in a
/// network (noisy LIF neurons with recurrent inhibition); a different seed
/// changes them.
#[test]
fn noise_does_not_depend_on_the_thread_count() {
    let pop = lif(15.0, 5.0) + "simulate NoisyLIF { dt = 0.1 ms, duration = 300 ms }\n";
    let spikes = |threads: &str| run(&pop, &[("neurons", "500"), ("threads", threads)]).spikes();
    let one = spikes("1");
    assert!(one.len() > 100, "{}", one.len());
    assert_eq!(spikes("2"), one);
    assert_eq!(spikes("3"), one);
    let net = lif(15.0, 5.0).replace("    on V >= theta", "    on spike inh(w: mV) { V += w }\n    on V >= theta")
        + "network N {
    population P = 300 x NoisyLIF
    connect P -> P via inh (p = 0.1, w = -0.5 mV, delay = 1 ms)
}
simulate N { dt = 0.1 ms, duration = 300 ms, seed = 4 }
";
    let spikes = |threads: &str| run(&net, &[("threads", threads)]).spikes();
    let one = spikes("1");
    assert!(one.len() > 100, "{}", one.len());
    assert_eq!(spikes("2"), one);
    assert_eq!(spikes("3"), one);
    let other = run(&net.replace("seed = 4", "seed = 5"), &[]).spikes();
    assert_ne!(other, one);
}

/// Bad noises are diagnosed: not `white(...)`, a state without an ODE, a
/// sigma of the wrong unit, two noises on one state, and noise where it
/// does not run (the reference interpreter, a cell's membrane, a brain's
/// node, a density's neuron).
#[test]
fn bad_noises_are_diagnosed() {
    let neuron = |noise: &str| {
        format!(
            "neuron N {{\n    parameter tau = 20 ms, s = 1 mV / sqrt(1 ms)\n    state V = 0 mV, W = 0 mV\n    dV/dt = -V / tau\n    {noise}\n}}\n"
        )
    };
    for (src, words) in [
        (neuron("noise V = ou(s, tau)"), "E0207"),
        (neuron("noise U = white(s)"), "E0208"),
        (neuron("noise W = white(s)"), "E0208"),
        (neuron("noise V = white(1 mV)"), "E0301"),
        (neuron("noise V = white(s)\n    noise V = white(s)"), "two noises on `V`"),
    ] {
        let text = neuroc::compile_source("bad.neuro", &src, None).render();
        assert!(text.contains(words) && text.contains("help"), "{words}: {text}");
    }
    let ok = neuron("noise V = white(s)") + "simulate N { duration = 10 ms }\n";
    let mut e = Experiment::from_source("n.neuro", &ok, None).unwrap();
    e.backend(neuroc::Backend::Reference);
    let err = e.run().map(|_| ()).unwrap_err().to_string();
    assert!(err.contains("runs in kernels"), "{err}");
    let channel = "channel Leaky {\n    parameter g = 0.1 mS/cm^2, E = -65 mV, tau = 5 ms, s = 0.01 mS/cm^2 / sqrt(1 ms)\n    state x = 0 mS/cm^2\n    dx/dt = -x / tau\n    noise x = white(s)\n    current i = (g + x) * (V - E)\n}\n";
    let cell = format!(
        "{channel}cell C {{\n    parameter Cm = 1 uF/cm^2\n    state V = -65 mV\n    section soma(length = 20 um, diameter = 20 um)\n    region all {{ use Leaky }}\n}}\nsimulate C {{ duration = 1 ms }}\n"
    );
    let text = neuroc::compile_source("c.neuro", &cell, None).render();
    assert!(text.contains("in a cell are not simulated yet") && text.contains("help"), "{text}");
    let density = lif(15.0, 5.0)
        + "density D {\n    use NoisyLIF\n    variable V in [-40 mV, theta] cells = 100\n}\nsimulate D { duration = 1 ms }\n";
    let text = neuroc::compile_source("d.neuro", &density, None).render();
    assert!(text.contains("draws random numbers") && text.contains("help"), "{text}");
}

/// The stdlib's point-conductance channel (Destexhe et al. 2001) inside a
/// neuron: its noises become the neuron's (`PointConductance.xi(ge)`),
/// and the two conductances have their means and SDs within 2%.
#[test]
fn point_conductances_have_their_means_and_sds() {
    let src = "import \"noise.neuro\"
neuron Clamped {
    state V = -65 mV
    use PointConductance
}
simulate Clamped { dt = 0.1 ms, duration = 300 ms }
";
    for (state, mean, sd) in [("PointConductance.ge", 0.0346, 0.0087), ("PointConductance.gi", 0.1646, 0.0191)] {
        let r = run(src, &[("neurons", "10000"), ("record", &format!("{state}[0:10000]")), ("sample", "20 ms")]);
        let data = &r.table(state).unwrap().data;
        // after 100 ms (10 tau_i), samples 20 ms apart are nearly independent
        let all: Vec<f64> =
            (5..data.nrows()).flat_map(|k| data.row(k).iter().skip(1).copied().collect::<Vec<_>>()).collect();
        let m = all.iter().sum::<f64>() / all.len() as f64;
        let s = (all.iter().map(|x| (x - m).powi(2)).sum::<f64>() / all.len() as f64).sqrt();
        assert!((m - mean).abs() / mean < 0.02, "{state}: mean {m} vs {mean} mS/cm^2");
        assert!((s - sd).abs() / sd < 0.02, "{state}: SD {s} vs {sd} mS/cm^2");
    }
}

/// Escape noise, `on hazard(rho)`: with a constant hazard of 50 Hz and a
/// refractory period of 5 ms, each free step fires with probability p =
/// 1 - exp(-rho dt), so an ISI is t_ref plus a geometric number of steps:
/// its mean t_ref + dt / p (within 1%, over ISIs that start early enough
/// not to be cut by the end of the run), its CV sqrt(1 - p) dt / p over
/// that (within 2%), and the shortest t_ref + dt.
#[test]
fn escape_noise_fires_with_its_hazard() {
    let src = "neuron Escape {
    parameter rho = 50 Hz, t_ref = 5 ms
    on hazard(rho) { emit spike; refractory t_ref }
}
simulate Escape { dt = 0.1 ms, duration = 2 s }
";
    let spikes = run(src, &[("neurons", "2000")]).spikes();
    let mut per = vec![Vec::new(); 2000];
    for (i, t) in spikes {
        per[i].push(t);
    }
    let isi: Vec<f64> = per.iter().flat_map(|s| s.windows(2).filter(|w| w[0] < 1700.0).map(|w| w[1] - w[0])).collect();
    let m = isi.iter().sum::<f64>() / isi.len() as f64;
    let sd = (isi.iter().map(|x| (x - m).powi(2)).sum::<f64>() / isi.len() as f64).sqrt();
    let p = 1.0 - (-50.0f64 * 1e-4).exp();
    let (want_m, want_sd) = (5.0 + 0.1 / p, (1.0 - p).sqrt() * 0.1 / p);
    assert!((m - want_m).abs() / want_m < 0.01, "mean ISI {m} ms vs {want_m} ms");
    assert!((sd / m - want_sd / want_m).abs() / (want_sd / want_m) < 0.02, "CV {} vs {}", sd / m, want_sd / want_m);
    let shortest = isi.iter().cloned().fold(f64::INFINITY, f64::min);
    assert!((shortest - 5.1).abs() < 1e-6, "shortest ISI {shortest} ms");
}

/// The stdlib's GIF neuron (NEST's `gif_psc_exp`): silent at rest (its
/// hazard there is e^-70 per second), firing under a current, less with
/// threshold adaptation, and the same spikes on 1 and 2 threads, alone
/// and in a network.
#[test]
fn gif_neurons_fire_adapt_and_do_not_depend_on_threads() {
    let src = "import \"noise.neuro\"\nsimulate GIFPscExp { dt = 0.1 ms, duration = 500 ms, I_e = 150 pA }\n";
    let count = |set: &[(&str, &str)]| run(src, set).spikes().len();
    let rest = count(&[("neurons", "200"), ("I_e", "0 pA")]);
    let driven = count(&[("neurons", "200")]);
    let adapting = count(&[("neurons", "200"), ("q_sfa", "5 mV")]);
    assert!(rest == 0 && driven > 200 && adapting < driven * 3 / 4, "{rest}, {driven}, {adapting}");
    let one = run(src, &[("neurons", "300"), ("threads", "1")]).spikes();
    assert_eq!(run(src, &[("neurons", "300"), ("threads", "2")]).spikes(), one);
    let net = "import \"noise.neuro\"
network G {
    population P = 300 x GIFPscExp
    connect P -> P via inh (p = 0.1, w = -20 pA, delay = 1 ms)
}
simulate G { dt = 0.1 ms, duration = 300 ms, I_e = 150 pA }
";
    let one = run(net, &[("threads", "1")]).spikes();
    assert!(one.len() > 100);
    assert_eq!(run(net, &[("threads", "2")]).spikes(), one);
    assert_eq!(run(net, &[("threads", "3")]).spikes(), one);
    // the reference interpreter does not draw
    let mut e = Experiment::from_source("g.neuro", src, None).unwrap();
    e.backend(neuroc::Backend::Reference);
    let err = e.run().map(|_| ()).unwrap_err().to_string();
    assert!(err.contains("runs in kernels"), "{err}");
}

/// NEST's `pp_psc_delta` as the stdlib's `PPPscDelta` (I_e = 250 pA, 400
/// neurons for 20 s): without reset, V settles and the neuron is a
/// Bernoulli process with a dead time, whose rate is 1 / (d + dt / p),
/// p = 1 - exp(-rate dt), within 1%; with reset, and with reset and
/// adaptation, the rate within 2% and the ISIs' CV within 3% of NEST
/// 3.10's on the same settings (`tests/nest/pp_psc_delta.py`, its output
/// in `tests/data/pp_psc_delta_nest.csv`).
#[test]
fn point_process_neurons_fire_as_nests_pp_psc_delta() {
    let src = "import \"noise.neuro\"\nsimulate PPPscDelta { dt = 0.1 ms, duration = 20 s, I_e = 250 pA }\n";
    let nest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/pp_psc_delta_nest.csv")).unwrap();
    for line in nest.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (rate, cv): (f64, f64) = (f[1].parse().unwrap(), f[2].parse().unwrap());
        let set: &[(&str, &str)] = match f[0] {
            "no_reset" => &[("with_reset", "0")],
            "reset" => &[],
            "adapting" => &[("q_sfa", "2 mV")],
            other => panic!("unknown case {other}"),
        };
        let settings: Vec<(&str, &str)> = [("neurons", "400")].into_iter().chain(set.iter().copied()).collect();
        let spikes = run(src, &settings).spikes();
        let mut per: Vec<Vec<f64>> = vec![Vec::new(); 400];
        for &(n, t) in &spikes {
            per[n].push(t);
        }
        let isis: Vec<f64> =
            per.iter().flat_map(|ts| ts.windows(2).map(|w| w[1] - w[0]).collect::<Vec<f64>>()).collect();
        let mean = isis.iter().sum::<f64>() / isis.len() as f64;
        let sd = (isis.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / isis.len() as f64).sqrt();
        let ours = (spikes.len() as f64 / 400.0 / 20.0, sd / mean);
        assert!(
            (ours.0 / rate - 1.0).abs() < 0.02 && (ours.1 / cv - 1.0).abs() < 0.03,
            "{}: {ours:?} vs NEST {rate}, {cv}",
            f[0]
        );
        if f[0] == "no_reset" {
            // V = I_e tau_m / C_m = 10 mV: the hazard is c_2 exp(c_3 10 mV)
            let hazard = 1.238 * 2.5f64.exp();
            let p = -(-hazard * 1e-4).exp_m1();
            let theory = 1.0 / (1e-3 + 1e-4 / p);
            assert!((ours.0 / theory - 1.0).abs() < 0.01, "{} vs {theory}", ours.0);
        }
    }
}

/// `normal(MEAN, SD)` and `uniform(LO, HI)` in an event's actions draw
/// anew at every firing, per neuron: 500,000 draws of each have their
/// means and SDs within 1%, and successive draws of a neuron are
/// uncorrelated.
#[test]
fn events_draw_random_numbers() {
    let src = "neuron Draws {
    state next = 1 ms, a = 0 mV, b = 0
    on t >= next { next += 1 ms; a = normal(5 mV, 2 mV); b = uniform(-1, 3) }
}
simulate Draws { dt = 0.1 ms, duration = 501 ms }
";
    for (state, mean, sd) in [("a", 5.0, 2.0), ("b", 1.0, 4.0 / 12f64.sqrt())] {
        let r = run(src, &[("neurons", "1000"), ("record", &format!("{state}[0:1000]")), ("sample", "1 ms")]);
        let data = &r.table(state).unwrap().data;
        let rows: Vec<Vec<f64>> = (2..data.nrows()).map(|k| data.row(k).iter().skip(1).copied().collect()).collect();
        let all: Vec<f64> = rows.iter().flatten().copied().collect();
        assert_eq!(all.len(), 500 * 1000);
        let m = all.iter().sum::<f64>() / all.len() as f64;
        let s = (all.iter().map(|x| (x - m).powi(2)).sum::<f64>() / all.len() as f64).sqrt();
        assert!((m - mean).abs() < 0.01 * sd.max(mean.abs()) && (s - sd).abs() / sd < 0.01, "{state}: {m} +- {s}");
        let lag: f64 = rows.windows(2).flat_map(|w| w[0].iter().zip(&w[1]).map(|(x, y)| (x - m) * (y - m))).sum();
        let corr = lag / ((rows.len() - 1) * 1000) as f64 / (s * s);
        assert!(corr.abs() < 0.01, "{state}: lag-1 correlation {corr}");
        assert!(rows[0].iter().any(|&x| x != rows[0][0]), "{state}: every neuron drew the same");
    }
}

/// Multiplicative noise runs (its coefficient changes every step, so the
/// state is not given an exact propagator: exponential Euler keeps a
/// positive state positive); a noisy population that diverges is
/// reported (E0506), not a panic; a draw in a port's actions is refused
/// (they run at every step, with or without a spike).
#[test]
fn multiplicative_noise_divergence_and_draws_in_ports() {
    let src = "rate G {\n    parameter tau = 10 ms, s = 0.5 / sqrt(1 ms)\n    state x = 1\n    dx/dt = (1 - x) / tau\n    noise x = white(s * x)\n}\nsimulate G { dt = 0.1 ms, duration = 200 ms }\n";
    let r = run(src, &[("neurons", "100"), ("record", "x[0:100]")]);
    let data = &r.table("x").unwrap().data;
    assert!(data.rows().into_iter().all(|r| r.iter().skip(1).all(|v| v.is_finite() && *v > 0.0)));
    assert!(data.row(data.nrows() - 1).iter().skip(1).any(|&v| (v - 1.0).abs() > 0.05), "no noise");
    let text = neuroc::compile_source("g.neuro", src, None);
    let explained = neuroc::explain::report(&text, "G", None, None, false).unwrap().unwrap();
    assert!(explained.contains("method: exp_euler"), "{explained}");
    let wild = "rate W {\n    parameter s = 1 / sqrt(1 ms)\n    state x = 1\n    dx/dt = x / 0.1 ms\n    noise x = white(s)\n}\nsimulate W { dt = 0.1 ms, duration = 500 ms }\n";
    let mut e = Experiment::from_source("w.neuro", wild, None).unwrap();
    e.neurons("10");
    let err = e.run().map(|_| ()).unwrap_err().to_string();
    assert!(err.contains("E0506") || err.contains("diverged"), "{err}");
    let port = "neuron P {\n    state g = 0 nS\n    dg/dt = -g / 5 ms\n    on spike exc(w: nS) { g += normal(w, 0.1 nS) }\n}\n";
    let text = neuroc::compile_source("p.neuro", port, None).render();
    assert!(text.contains("error") && text.contains("normal"), "{text}");
}
