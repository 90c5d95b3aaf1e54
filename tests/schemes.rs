//! The derived schemes against closed-form solutions, their orders of
//! convergence, and the references of tests/reference/hh.

mod common;

use common::*;
use neuroc::schemes::Method;

/// Error at t_end of x(t) for a model with one recorded state.
fn final_error(src: &str, name: &str, method: Method, dt_ms: f64, t_end_ms: f64, exact: f64) -> f64 {
    let m = model_from_source(src, name);
    let rec = run(&m, method, &config(&m, dt_ms, t_end_ms, &["x"]));
    let last = *rec.traces[0].1.last().unwrap();
    (last - exact).abs()
}

/// log2 of successive error ratios as dt halves.
fn orders(errors: &[f64]) -> Vec<f64> {
    errors.windows(2).map(|w| (w[0] / w[1]).log2()).collect()
}

const LOGISTIC: &str = "rate Logistic {\n    state x = 0.1\n    dx/dt = x * (1 - x) / 1 s\n}\n";

#[test]
fn explicit_and_implicit_methods_converge_at_their_order() {
    // x(t) = 1 / (1 + 9 e^{-t}), t in seconds
    let exact = 1.0 / (1.0 + 9.0 * (-2.0f64).exp());
    for (method, order, dts) in [
        (Method::Euler, 1.0, [100.0, 50.0, 25.0]),
        (Method::Rk2, 2.0, [100.0, 50.0, 25.0]),
        (Method::Heun, 2.0, [100.0, 50.0, 25.0]),
        (Method::Rk4, 4.0, [200.0, 100.0, 50.0]),
        (Method::BackwardEuler, 1.0, [100.0, 50.0, 25.0]),
        (Method::Trapezoidal, 2.0, [100.0, 50.0, 25.0]),
    ] {
        let errs: Vec<f64> =
            dts.iter().map(|&dt| final_error(LOGISTIC, "Logistic", method, dt, 2000.0, exact)).collect();
        for p in orders(&errs) {
            // the asymptotic regime is reached within 0.2 of the order at these steps
            assert!((p - order).abs() < 0.2, "{method:?}: measured order {p} (errors {errs:?})");
        }
    }
}

#[test]
fn rk45_meets_its_tolerance_at_any_step() {
    let exact = 1.0 / (1.0 + 9.0 * (-2.0f64).exp());
    for dt in [500.0, 100.0, 10.0] {
        let e = final_error(LOGISTIC, "Logistic", Method::Rk45, dt, 2000.0, exact);
        // rtol 1e-8 per internal step, a few hundred steps at most
        assert!(e < 1e-7, "dt {dt} ms: error {e}");
    }
}

#[test]
fn varying_input_orders_of_exponential_euler_and_exact() {
    // dx/dt = sin(t) - x, x(0) = 0: x = (sin t - cos t + e^{-t}) / 2. Exponential
    // Euler freezes the input at the step's start (order 1); the exact
    // propagator reads it at the step's middle (order 2).
    let src = "rate Forced {\n    state x = 0\n    dx/dt = (sin(t / 1 s) - x) / 1 s\n}\n";
    let exact = (2.0f64.sin() - 2.0f64.cos() + (-2.0f64).exp()) / 2.0;
    for (method, order) in [(Method::ExpEuler, 1.0), (Method::Exact, 2.0)] {
        let errs: Vec<f64> =
            [100.0, 50.0, 25.0].iter().map(|&dt| final_error(src, "Forced", method, dt, 2000.0, exact)).collect();
        for p in orders(&errs) {
            assert!((p - order).abs() < 0.15, "{method:?}: order {p} ({errs:?})");
        }
    }
}

/// Biexponential synapse x' = -x / tau_r, g' = x / tau_r - g / tau_d: a
/// linear 2x2 system, integrated exactly at any step, including the
/// degenerate case tau_r = tau_d.
#[test]
fn exact_propagator_solves_linear_2x2_system_at_any_step() {
    for (tau_r, tau_d) in [(2.0f64, 10.0f64), (5.0, 5.0)] {
        let src = format!(
            "synapse Biexp {{\n    parameter tau_r = {tau_r} ms, tau_d = {tau_d} ms\n    state x = 1, g = 0\n    dx/dt = -x / tau_r\n    dg/dt = x / tau_r - g / tau_d\n}}\nneuron Host {{\n    parameter tau_r = {tau_r} ms, tau_d = {tau_d} ms\n    state x = 1, g = 0\n    dx/dt = -x / tau_r\n    dg/dt = x / tau_r - g / tau_d\n}}\n"
        );
        let m = model_from_source(&src, "Host");
        for dt in [0.01, 0.1, 1.0, 10.0] {
            let rec = run(&m, Method::Exact, &config(&m, dt, 100.0, &["g"]));
            let mut worst: f64 = 0.0;
            for (t, g) in rec.t.iter().zip(&rec.traces[0].1) {
                let t = t * 1e3;
                let exact = if tau_r == tau_d {
                    t / tau_r * (-t / tau_r).exp()
                } else {
                    tau_d / (tau_d - tau_r) * ((-t / tau_d).exp() - (-t / tau_r).exp())
                };
                worst = worst.max((g - exact).abs());
            }
            // relative to the peak (about 0.5): 1e-12
            assert!(worst < 1e-12, "tau {tau_r}/{tau_d}, dt {dt} ms: error {worst}");
        }
    }
}

#[test]
fn exact_propagator_solves_subthreshold_lif() {
    let src = "neuron Sub {\n    parameter tau_m = 20 ms, E_L = -70 mV, R = 100 Mohm\n    state V = -60 mV\n    input I = 0.1 nA\n    dV/dt = (E_L - V + R * I) / tau_m\n}\n";
    let m = model_from_source(src, "Sub");
    for dt in [0.01, 0.1, 1.0, 10.0] {
        let rec = run(&m, Method::Auto, &config(&m, dt, 200.0, &["V"]));
        for (t, v) in rec.t.iter().zip(&rec.traces[0].1) {
            let v_inf = -0.07 + 1e8 * 0.1e-9;
            let exact = v_inf + (-0.06 - v_inf) * (-t / 0.02).exp();
            assert!(((v - exact) / exact).abs() < 1e-12, "dt {dt}: {v} vs {exact}");
        }
    }
}

/// LIF with V_r = E_L under constant current: spikes every
/// t_ref + tau ln(RI / (RI - (V_th - E_L))), located to 1e-6 ms at dt = 0.1 ms.
#[test]
fn lif_spike_times_are_exact_between_grid_points() {
    let m = model_from_file("examples/lif.neuro", "DrivenLIF");
    let rec = run(&m, Method::Auto, &config(&m, 0.1, 500.0, &[]));
    let tau = 20.0;
    let first = tau * (25.0f64 / 5.0).ln();
    let isi = 2.0 + first;
    assert!(rec.spikes.len() >= 10);
    for (k, t) in rec.spikes.iter().enumerate() {
        let expected = first + k as f64 * isi;
        assert!((t * 1e3 - expected).abs() < 1e-6, "spike {k}: {} ms vs {expected} ms", t * 1e3);
    }
}

/// The 5th spike of the HH example: first order under auto (exponential
/// Euler), second under trapezoidal, fourth under RK4.
#[test]
fn hh_spike_time_converges_at_the_schemes_order() {
    let m = model_from_file("examples/hodgkin_huxley.neuro", "Squid");
    let fifth = |method: Method, dt: f64| {
        let rec = run(&m, method, &config(&m, dt, 75.0, &[]));
        rec.spikes[4] * 1e3
    };
    let reference: Vec<f64> = read_csv(&reference("hh/spikes_converged.csv")).iter().map(|r| r[0]).collect();
    let auto: Vec<f64> = [0.02, 0.01, 0.005].iter().map(|&dt| (fifth(Method::Auto, dt) - reference[4]).abs()).collect();
    assert!(auto[1] < 0.4, "auto at dt = 0.01 ms: error {} ms", auto[1]);
    for p in orders(&auto) {
        assert!((p - 1.0).abs() < 0.15, "auto: order {p} ({auto:?})");
    }
    // higher orders against our own converged solution (the reference has 6 decimals)
    let converged = fifth(Method::Rk4, 0.0025);
    assert!((converged - reference[4]).abs() < 2e-6, "rk4 converged {converged} vs {}", reference[4]);
    let trap: Vec<f64> =
        [0.02, 0.01, 0.005].iter().map(|&dt| (fifth(Method::Trapezoidal, dt) - converged).abs()).collect();
    for p in orders(&trap) {
        assert!((p - 2.0).abs() < 0.2, "trapezoidal: order {p} ({trap:?})");
    }
    let rk4: Vec<f64> = [0.04, 0.02, 0.01].iter().map(|&dt| (fifth(Method::Rk4, dt) - converged).abs()).collect();
    for p in orders(&rk4) {
        assert!((p - 4.0).abs() < 0.5, "rk4: order {p} ({rk4:?})");
    }
}

/// The f-I curve at dt = 0.01 ms against NEURON's (rate tables on there).
#[test]
fn hh_fi_curve_matches_neuron() {
    let m = model_from_file("examples/hodgkin_huxley.neuro", "Squid");
    let i_amp = m.param("I_amp").unwrap();
    let rows = read_csv(&reference("hh/fI.csv"));
    for row in rows.iter().filter(|r| r[0] >= 6.0) {
        let mut mm = m.clone();
        let node = mm.arena.add(
            neuroc::ir::NodeKind::Const(row[0] * 1e-2),
            neuroc::ir::Ty::Num(mm.params[i_amp].dim),
            mm.params[i_amp].span,
        );
        let mut cfg = config(&mm, 0.01, 1000.0, &[]);
        cfg.param_overrides[i_amp] = Some(node);
        let rec = run(&mm, Method::Auto, &cfg);
        let in_window = |a: f64, b: f64| rec.spikes.iter().filter(|&&t| t * 1e3 >= a && t * 1e3 <= b).count() as f64;
        let rate = in_window(10.0, 1000.0) / 0.99;
        let steady = in_window(500.0, 1000.0) / 0.5;
        // the tolerance: 2 spikes per second
        assert!((rate - row[2]).abs() <= 2.0, "I = {}: {rate} Hz vs NEURON {} Hz", row[0], row[2]);
        if row[0] <= 6.0 {
            assert_eq!(steady, 0.0, "repetitive firing at {} uA/cm2", row[0]);
        } else {
            assert!(steady > 0.0, "no repetitive firing at {} uA/cm2", row[0]);
        }
    }
}

/// Voltage clamp: the 8-state Markov sodium channel carries the same current
/// as the m^3 h gates, and its occupancies sum to 1.
#[test]
fn markov_sodium_equals_hh_sodium_under_voltage_clamp() {
    let src = "import \"hh.neuro\"\nimport \"markov.neuro\"\nneuron Clamp {\n    state V = -65 mV\n    use NaT, NaMarkov\n    on t >= 5 ms { V = -20 mV }\n    on t >= 15 ms { V = -50 mV }\n    on t >= 25 ms { V = 10 mV }\n    on t >= 32 ms { V = -80 mV }\n}\n";
    let m = model_from_source(src, "Clamp");
    let species: Vec<String> = ["m0h0", "m1h0", "m2h0", "m3h0", "m0h1", "m1h1", "m2h1", "m3h1"]
        .iter()
        .map(|s| format!("NaMarkov.{s}"))
        .collect();
    let mut probes = vec!["NaT.i", "NaMarkov.i"];
    probes.extend(species.iter().map(String::as_str));
    let rec = run(&m, Method::Auto, &config(&m, 0.025, 40.0, &probes));
    let peak = rec.traces[0].1.iter().fold(0.0f64, |a, x| a.max(x.abs()));
    for k in 0..rec.t.len() {
        let (a, b) = (rec.traces[0].1[k], rec.traces[1].1[k]);
        assert!((a - b).abs() <= 1e-6 * peak, "t = {} ms: {a} vs {b}", rec.t[k] * 1e3);
        let sum: f64 = rec.traces[2..].iter().map(|(_, tr)| tr[k]).sum();
        assert!((sum - 1.0).abs() < 1e-12, "occupancy sum {sum}");
    }
}

/// A gate with `q10 = 3, T0 = 6.3 degC` at 16.3 degC relaxes three times
/// faster: x(t) = 1 - exp(-3 (t - t_on) / tau).
#[test]
fn gate_q10_scales_its_time_constant() {
    let src = "channel G {\n    gate x { inf = if V > 0 mV then 1 else 0; tau = 3 ms; q10 = 3; T0 = 6.3 degC }\n    current i = 1 mS/cm^2 * x * (V - 0 mV)\n}\nneuron N {\n    parameter celsius = 16.3 degC\n    state V = -65 mV\n    use G\n    on t >= 1 ms { V = 10 mV }\n}\n";
    let m = model_from_source(src, "N");
    let rec = run(&m, Method::Auto, &config(&m, 0.1, 10.0, &["G.x"]));
    for (t, x) in rec.t.iter().zip(&rec.traces[0].1) {
        let t = t * 1e3;
        let exact = if t <= 1.0 { 0.0 } else { 1.0 - (-(t - 1.0) / 1.0).exp() };
        // exponential Euler is exact for a gate at constant V
        assert!((x - exact).abs() < 1e-12, "t = {t}: {x} vs {exact}");
    }
}

/// An input that switches inside a step: the step is split at the switch
/// and each piece sees the input from the correct side, under every scheme.
#[test]
fn input_switch_inside_a_step_is_resolved() {
    let src = "rate Switch {\n    parameter t_on = 0.55 ms\n    input u = if t > t_on then 1 else 0\n    state x = 0\n    dx/dt = (u - x) / 1 ms\n}\n";
    let m = model_from_source(src, "Switch");
    let exact = 1.0 - (-0.45f64).exp();
    for method in [Method::Auto, Method::ExpEuler, Method::Exact, Method::Rk4] {
        let rec = run(&m, method, &config(&m, 1.0, 1.0, &["x"]));
        let x = rec.traces[0].1[1];
        // exponential Euler and exact are exact for a piecewise-constant input
        let tol = if method == Method::Rk4 { 1e-3 } else { 1e-12 };
        assert!((x - exact).abs() < tol, "{method:?}: {x} vs {exact}");
    }
}

/// Events on the reference runtime: a strict `<` fires once; two events at
/// the same time both fire; one spike per firing however many `emit`s; an
/// input switch through a derived value still splits the step.
#[test]
fn reference_event_edge_cases() {
    let once = "rate D {\n    state x = 1, c = 0\n    dx/dt = -1 / 1 ms\n    on x < 0.25 { c += 1; emit spike; emit spike }\n}\n";
    let m = model_from_source(once, "D");
    let rec = run(&m, Method::Auto, &config(&m, 0.05, 2.0, &["c"]));
    assert_eq!(*rec.traces[0].1.last().unwrap(), 1.0);
    assert_eq!(rec.spikes.len(), 1);
    assert!((rec.spikes[0] * 1e3 - 0.75).abs() < 1e-9, "{}", rec.spikes[0] * 1e3);

    let both = "rate Two {\n    state x = 0, c = 0\n    dx/dt = 1 / 1 ms\n    spike when x crosses 0.55 upward\n    on x >= 0.55 { c += 1 }\n}\n";
    let m = model_from_source(both, "Two");
    let rec = run(&m, Method::Auto, &config(&m, 0.1, 1.0, &["c"]));
    assert_eq!(rec.spikes.len(), 1);
    assert_eq!(*rec.traces[0].1.last().unwrap(), 1.0);

    let via = "rate Via {\n    parameter t_on = 0.55 ms\n    s = t - t_on\n    input u = step(s)\n    state x = 0\n    dx/dt = (u - x) / 1 ms\n}\n";
    let m = model_from_source(via, "Via");
    let rec = run(&m, Method::Auto, &config(&m, 1.0, 1.0, &["x"]));
    let exact = 1.0 - (-0.45f64).exp();
    assert!((rec.traces[0].1[1] - exact).abs() < 1e-12, "{}", rec.traces[0].1[1]);
}
