//! Synapses and short-term plasticity driven by presynaptic spike trains,
//! against closed forms.

mod common;

use common::*;
use neuroc::ir::eval::{eval, eval_params, eval_values, Env};
use neuroc::runtime;
use neuroc::schemes::{self, Method};

fn model(file: &str, name: &str) -> neuroc::ir::Model {
    model_from_file(file, name)
}

fn drive(m: &neuroc::ir::Model, dt_ms: f64, t_ms: f64, record: &[&str], spikes: &[(f64, f64)]) -> runtime::Recording {
    let mut cfg = config(m, dt_ms, t_ms, record);
    cfg.input_spikes = spikes.iter().map(|&(t, w)| (t * 1e-3, w)).collect();
    let mut m = m.clone();
    let (plan, _) = schemes::derive_plan(&mut m, Method::Auto);
    runtime::simulate(&m, &plan.unwrap(), &cfg).unwrap_or_else(|d| panic!("{}", d.message))
}

/// g jumps by w at the spike and decays exactly: w e^{-(t - t_s) / tau}.
#[test]
fn exponential_conductance_is_exact_between_spikes() {
    let m = model("stdlib/synapses.neuro", "ExpCond");
    let w = 2e-9;
    let rec = drive(&m, 0.1, 50.0, &["g"], &[(10.0, w), (25.05, w)]);
    for (t, g) in rec.t.iter().zip(&rec.traces[0].1) {
        let t = t * 1e3;
        let mut exact = 0.0;
        for ts in [10.0, 25.05] {
            if t >= ts {
                exact += w * (-(t - ts) / 5.0).exp();
            }
        }
        assert!((g - exact).abs() <= 1e-12 * w, "t = {t}: {g} vs {exact}");
    }
}

/// The alpha and biexponential conductances peak at w.
#[test]
fn alpha_and_biexponential_peak_at_the_weight() {
    for (name, t_peak) in [("AlphaCond", 2.0), ("BiexpCond", 0.5 * 5.0 / 4.5 * (10.0f64).ln())] {
        let m = model("stdlib/synapses.neuro", name);
        let w = 1e-9;
        let rec = drive(&m, 0.001, 20.0, &["g"], &[(1.0, w)]);
        let (k, peak) =
            rec.traces[0].1.iter().enumerate().fold((0, 0.0f64), |a, (k, &g)| if g > a.1 { (k, g) } else { a });
        // sampled every 1 us: the peak value is exact to (1e-3 / tau)^2 relative
        assert!((peak - w).abs() < 1e-6 * w, "{name}: peak {peak}");
        assert!((rec.t[k] * 1e3 - 1.0 - t_peak).abs() < 2e-3, "{name}: peak at {} ms", rec.t[k] * 1e3 - 1.0);
    }
}

/// The NMDA magnesium block is Jahr & Stevens' 1 / (1 + [Mg]/3.57 mM e^{-0.062 V/mV}).
#[test]
fn nmda_magnesium_block_matches_jahr_stevens() {
    let m = model("stdlib/synapses.neuro", "NMDA");
    let params = eval_params(&m, &[]);
    let exprs: Vec<_> = m.values.iter().map(|v| v.expr).collect();
    let block = m.value("block").unwrap();
    let v_post = m.state("V_post").unwrap();
    let mut values = Vec::new();
    for mv in [-100.0, -80.0, -65.0, -40.0, -20.0, 0.0, 20.0, 40.0] {
        let mut y = vec![0.0; m.states.len()];
        y[v_post] = mv * 1e-3;
        eval_values(&m, 0.0, &y, &params, &exprs, &mut values);
        let b =
            eval(&m, m.values[block].expr, &Env { t: 0.0, states: &y, params: &params, values: &values, args: &[] });
        let want = 1.0 / (1.0 + 1.0 / 3.57 * (-0.062 * mv).exp());
        assert!((b - want).abs() < 1e-12, "V = {mv} mV: {b} vs {want}");
    }
}

/// Under a regular train of period T the release per spike settles at the
/// closed form u+ R-, with u+ = U / (1 - (1 - U) e^{-T/tau_fac}) and
/// R- = (1 - e^{-T/tau_rec}) / (1 - (1 - u+) e^{-T/tau_rec}).
#[test]
fn tsodyks_markram_steady_state_matches_the_closed_form() {
    let period = 20.0; // ms
    let train: Vec<(f64, f64)> = (0..150).map(|k| (5.0 + k as f64 * period, 0.0)).collect();
    for (name, u_big, tau_rec, tau_fac) in [
        ("TsodyksMarkram", 0.5, 800.0, 10.0),
        ("TMFacilitating", 0.1, 100.0, 1000.0),
        ("TMDepressing", 0.5, 800.0, 0.0),
    ] {
        let m = model("stdlib/plasticity.neuro", name);
        let rec = drive(&m, 0.1, 5.0 + 150.0 * period, &[], &train);
        let release: Vec<f64> = rec.outputs.iter().filter(|o| o.0 == "release").map(|o| o.2).collect();
        assert_eq!(release.len(), 150, "{name}");
        let ef = if tau_fac > 0.0 { (-period / tau_fac).exp() } else { 0.0 };
        let er = (-period / tau_rec).exp();
        let u_plus = u_big / (1.0 - (1.0 - u_big) * ef);
        let r_minus = (1.0 - er) / (1.0 - (1.0 - u_plus) * er);
        let want = u_plus * r_minus;
        let last = release[release.len() - 1];
        assert!(((last - want) / want).abs() < 1e-6, "{name}: {last} vs {want}");
        // the first spike releases U of a full pool
        assert!((release[0] - u_big).abs() < 1e-12, "{name}: first release {}", release[0]);
    }
}

#[test]
fn every_stdlib_synapse_can_be_lumped_and_a_saturating_one_cannot() {
    let c = neuroc::compile_source("t.neuro", "import \"synapses.neuro\"", None);
    assert!(!c.diagnostics.has_errors(), "{}", c.render());
    for name in ["ExpCond", "AlphaCond", "BiexpCond", "AMPA", "GABA_A", "GABA_B", "NMDA", "ExpCurr"] {
        let m = c.model(name).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(neuroc::runtime::network::lumpable(m), Ok(()), "{name}");
    }
    let bad = [
        ("on spike(w: nS) { g += w * (1 - g / 10 nS) }", "depends on the synapse's state"),
        ("on spike(w: nS) { g = w }", "sets"),
        ("on spike(w: nS) { g += w^2 / 1 nS }", "not linear in its weight"),
    ];
    for (event, why) in bad {
        let src = format!(
            "synapse S {{\n    parameter tau = 5 ms, E = 0 mV\n    state g = 0 nS\n    dg/dt = -g / tau\n    {event}\n    current i = g * (V_post - E)\n}}\n"
        );
        let c = neuroc::compile_source("t.neuro", &src, None);
        assert!(!c.diagnostics.has_errors(), "{}", c.render());
        let got = neuroc::runtime::network::lumpable(c.model("S").unwrap());
        assert!(got.as_ref().is_err_and(|e| e.contains(why)), "{event}: {got:?}");
    }
    // nonlinear kinetics: a conductance that saturates between spikes
    let src = "synapse S {\n    parameter tau = 5 ms, E = 0 mV\n    state g = 0 nS\n    dg/dt = -g * g / (tau * 1 nS)\n    on spike(w: nS) { g += w }\n    current i = g * (V_post - E)\n}\n";
    let c = neuroc::compile_source("t.neuro", src, None);
    let got = neuroc::runtime::network::lumpable(c.model("S").unwrap());
    assert!(got.as_ref().is_err_and(|e| e.contains("not linear")), "{got:?}");
}

#[test]
fn nmda_coincidence_example_conducts_only_with_a_spike_and_depolarization() {
    let m = common::model_from_file("examples/nmda_coincidence.neuro", "Cell");
    let mut cfg = common::config(&m, 0.05, 1400.0, &["V", "NMDA.i", "NMDA.block"]);
    cfg.input_spikes = vec![(0.05, 1e-9), (1.0, 1e-9)]; // as the example's simulate block
    let rec = common::run(&m, neuroc::schemes::Method::Auto, &cfg);
    let (t, v, i, block) = (&rec.t, &rec.traces[0].1, &rec.traces[1].1, &rec.traces[2].1);
    let peak = |lo: f64, hi: f64| -> f64 {
        t.iter().zip(i).filter(|(x, _)| **x >= lo && **x < hi).map(|(_, y)| y.abs()).fold(0.0, f64::max)
    };
    let pre_only = peak(0.0, 0.7);
    let depol_only = peak(0.7, 1.0);
    let both = peak(1.0, 1.2);
    assert!(both > 4.0 * pre_only, "spike + depolarization {both:e} A vs spike alone {pre_only:e} A");
    assert!(depol_only < 0.01 * both, "depolarization alone {depol_only:e} A vs both {both:e} A");
    // the depolarized membrane is near -30 mV, the rest -80 mV
    let at = |s: f64| v[t.iter().position(|&x| x >= s).unwrap()];
    assert!((at(0.69) + 0.080).abs() < 1e-3 && (at(0.99) + 0.030).abs() < 2e-3, "{} {}", at(0.69), at(0.99));
    // the block is the Jahr-Stevens formula at the recorded V
    for (vv, b) in v.iter().zip(block) {
        let want = 1.0 / (1.0 + 1.0 / 3.57 * (-0.062 * vv * 1e3).exp());
        assert!((b - want).abs() < 1e-12, "block {b} vs {want} at {vv} V");
    }
}
