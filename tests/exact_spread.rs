//! Exact integration (Rotter & Diesmann) with time constants spread over
//! the neurons: the kernels compute each neuron's propagators from its own
//! parameters once, before the run (`kernel::propagate`). Checked against
//! the reference runtime run neuron by neuron, against the kernel with the
//! same parameters folded in, and against closed forms, in populations,
//! networks and brains.

mod common;

use common::*;
use neuroc::ir::{Model, NodeKind, Ty};
use neuroc::runtime::population::{self, Backend, PopConfig, PopRun};
use neuroc::runtime::{Probe, Recording};
use neuroc::schemes::{self, Method};
use neuroc::Experiment;

/// `LIFExp` (V, I_ex, I_in: one 3x3 exact block) with `I_e` a parameter,
/// so that it can be spread too (it drives V through the forcing b).
fn lif_exp() -> Model {
    let src = std::fs::read_to_string(repo("stdlib/lif.neuro")).expect("stdlib");
    let src = src.replacen("input I_e =", "parameter I_e =", 1);
    model_from_source(&src, "LIFExp")
}

/// Per-neuron values (SI) of tau_m, tau_syn_ex, C_m and I_e. Neuron 3
/// has tau_m == tau_syn_ex (the degenerate case of the closed form), and
/// so has neuron 5, at a longer time constant.
fn spread_values(i_e: [f64; 6]) -> Vec<(&'static str, Vec<f64>)> {
    vec![
        ("tau_m", vec![5e-3, 10e-3, 20e-3, 2e-3, 15e-3, 40e-3]),
        ("tau_syn_ex", vec![1e-3, 2e-3, 3e-3, 2e-3, 0.5e-3, 40e-3]),
        ("C_m", vec![250e-12, 200e-12, 300e-12, 250e-12, 100e-12, 250e-12]),
        ("I_e", i_e.to_vec()),
    ]
}

const N: usize = 6;
/// I_ex at t = 0, so that the synaptic current moves V.
const I_EX0: f64 = 50e-12;

/// The population of [`N`] neurons with `values` spread, under `method
/// exact`, recording V and I_ex of every neuron.
fn population_run(m: &Model, values: &[(&str, Vec<f64>)], backend: Backend, dt: f64, steps: usize) -> PopRun {
    let mut m = m.clone();
    let (plan, _) = schemes::derive_plan(&mut m, Method::Exact);
    let plan = plan.expect("an exact plan");
    let i_ex = m.state("I_ex").expect("I_ex");
    let cfg = PopConfig {
        n: N,
        dt,
        duration: steps as f64 * dt,
        per_neuron: values.iter().map(|(p, v)| (m.param(p).expect("parameter"), v.clone())).collect(),
        param_overrides: vec![None; m.params.len()],
        value_overrides: vec![None; m.values.len()],
        init_per_neuron: vec![(i_ex, vec![I_EX0; N])],
        record: vec![Probe::State(m.state("V").expect("V")), Probe::State(i_ex)],
        record_neurons: (0..N).collect(),
        sample_every: 1,
        mean_of: vec![],
        threads: 2,
        backend,
        optimize: false,
        seed: 1,
    };
    population::simulate(&m, &plan, &cfg).unwrap_or_else(|d| panic!("{}", d.message))
}

/// `m` with parameter `name` set to `v` (SI).
fn set_param(m: &mut Model, overrides: &mut [Option<neuroc::ir::ExprId>], name: &str, v: f64) {
    let p = m.param(name).expect("parameter");
    let dim = m.params[p].dim;
    overrides[p] = Some(m.arena.add(NodeKind::Const(v), Ty::Num(dim), m.params[p].span));
}

/// Neuron `i` alone on the reference runtime, with its parameters.
fn reference_run(m: &Model, values: &[(&str, Vec<f64>)], i: usize, dt: f64, steps: usize) -> Recording {
    let mut m = m.clone();
    let mut cfg = config(&m, dt * 1e3, steps as f64 * dt * 1e3, &["V", "I_ex"]);
    for (p, v) in values {
        set_param(&mut m, &mut cfg.param_overrides, p, v[i]);
    }
    cfg.init_overrides = vec![(m.state("I_ex").expect("I_ex"), I_EX0)];
    run(&m, Method::Exact, &cfg)
}

/// Whether `a` and `b` agree to `rel` of `scale` at every sample.
fn assert_close(a: &[f64], b: &[f64], rel: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: sample counts");
    let scale = b.iter().fold(0.0f64, |s, x| s.max(x.abs()));
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= rel * scale, "{what} at sample {k}: {x} vs {y} (scale {scale})");
    }
}

/// Below threshold, each neuron's V and I_ex follow the reference runtime
/// with that neuron's parameters, sample by sample over 300 ms: both
/// compute the same propagators by `linalg::propagators` and differ only in
/// the order of a few sums (1e-16 a step, some 1e-13 over 3000 steps), so
/// 1e-10 of the state's scale. The JIT equals the kernel interpreter.
#[test]
fn spread_time_constants_match_the_reference_neuron_by_neuron() {
    let m = lif_exp();
    let values = spread_values([0.0, 50e-12, 100e-12, 150e-12, -100e-12, 40e-12]);
    let (dt, steps) = (0.1e-3, 3000);
    let interp = population_run(&m, &values, Backend::Interp, dt, steps);
    let jit = population_run(&m, &values, Backend::Jit, dt, steps);
    assert!(interp.spikes.is_empty(), "subthreshold: {:?}", interp.spikes);
    for ((name, x), (_, y)) in interp.rec.traces.iter().zip(&jit.rec.traces) {
        assert!(x.iter().zip(y).all(|(a, b)| a.to_bits() == b.to_bits()), "{name}: JIT and interpreter differ");
    }
    for i in 0..N {
        let r = reference_run(&m, &values, i, dt, steps);
        let (v, i_ex) = (&jit.rec.traces[i].1, &jit.rec.traces[N + i].1);
        assert_close(v, &r.traces[0].1, 1e-10, &format!("V of neuron {i}"));
        assert_close(i_ex, &r.traces[1].1, 1e-10, &format!("I_ex of neuron {i}"));
        // the synaptic current moved V away from its steady state by more
        // than the tolerance
        let v_inf = -70e-3 + values[3].1[i] * values[0].1[i] / values[2].1[i];
        assert!((v[steps] - v_inf).abs() < 1e-4, "neuron {i} settles at {v_inf}: {}", v[steps]);
        let bump = v.iter().map(|x| (x - v_inf).abs()).fold(0.0, f64::max);
        assert!(bump > 1e-5 && bump > 1e4 * 1e-10 * v_inf.abs(), "neuron {i}: bump {bump}");
    }
}

/// Driven to spike, the spread population is, neuron by neuron, the same
/// kernel with that neuron's parameters folded in as constants: the same
/// spikes and the same samples (the derived arrays hold the same
/// propagators the constant folding computes). Spike times agree with the
/// reference runtime as far as the two event schemes allow: the kernel
/// interpolates crossings linearly and releases the refractory hold at a
/// step boundary, the reference finds crossings by root finding and
/// restarts at them.
#[test]
fn spiking_with_spread_time_constants_is_the_folded_kernel_per_neuron() {
    let m = lif_exp();
    let values = spread_values([1000e-12, 450e-12, 300e-12, 2500e-12, 150e-12, 130e-12]);
    let (dt, steps) = (0.1e-3, 3000);
    let spread = population_run(&m, &values, Backend::Jit, dt, steps);
    for i in 0..N {
        let mut one = m.clone();
        let mut overrides = vec![None; one.params.len()];
        for (p, v) in &values {
            set_param(&mut one, &mut overrides, p, v[i]);
        }
        let (plan, _) = schemes::derive_plan(&mut one, Method::Exact);
        let cfg = PopConfig {
            n: 1,
            dt,
            duration: steps as f64 * dt,
            per_neuron: vec![],
            param_overrides: overrides,
            value_overrides: vec![None; one.values.len()],
            init_per_neuron: vec![(one.state("I_ex").expect("I_ex"), vec![I_EX0])],
            record: vec![Probe::State(0), Probe::State(1)],
            record_neurons: vec![0],
            sample_every: 1,
            mean_of: vec![],
            threads: 1,
            backend: Backend::Jit,
            optimize: false,
            seed: 1,
        };
        let folded = population::simulate(&one, &plan.expect("plan"), &cfg).unwrap_or_else(|d| panic!("{}", d.message));
        let mine: Vec<f64> = spread.spikes.iter().filter(|s| s.0 == i).map(|s| s.1).collect();
        let theirs: Vec<f64> = folded.spikes.iter().map(|s| s.1).collect();
        assert!(mine.len() >= 3, "neuron {i} fires: {mine:?}");
        assert_eq!(mine, theirs, "neuron {i}: spikes");
        assert_eq!(spread.rec.traces[i].1, folded.rec.traces[0].1, "neuron {i}: V");
        assert_eq!(spread.rec.traces[N + i].1, folded.rec.traces[1].1, "neuron {i}: I_ex");
        let r = reference_run(&m, &values, i, dt, steps);
        // the first crossing: linear interpolation against root finding,
        // O(dt^2 V'' / V'), below 0.4 us here
        assert!((mine[0] - r.spikes[0]).abs() < 0.02 * dt, "neuron {i}: first spike {mine:?} vs {:?}", r.spikes);
        // each interval: the kernel releases the hold at the first step
        // after the refractory period, up to a step later than the
        // reference, so its intervals are longer by [0, dt) (and over
        // 300 ms a neuron can fire once less)
        assert!(r.spikes.len().abs_diff(mine.len()) <= 1, "neuron {i}: {mine:?} vs {:?}", r.spikes);
        for (k, (a, b)) in mine.windows(2).zip(r.spikes.windows(2)).enumerate() {
            let late = ((a[1] - a[0]) - (b[1] - b[0])) / dt;
            assert!((-0.02..1.0).contains(&late), "neuron {i}, interval {k}: {late} steps longer");
        }
    }
}

/// A network population with spread tau_m and tau_syn_ex (neuron 0 with
/// the two equal) under `method = exact`, driven through its `exc` port:
/// each neuron's V is the reference runtime's for its parameters and the
/// same input spikes (ports read their arrays after the derived ones), to
/// 1e-10 of V.
#[test]
fn network_population_with_spread_time_constants_runs_exactly() {
    let src = "import \"stdlib/lif.neuro\"
network One {
    population P = 6 x LIFExp
    drive P with spikes(times = at(10 ms, 30 ms, 32 ms), w = 100 pA) via exc
    record V(P[0:6], every = 0.1 ms)
}
simulate One { dt = 0.1 ms, duration = 60 ms, method = exact, tau_m = linspace(5 ms, 20 ms), tau_syn_ex = linspace(5 ms, 10 ms) }
";
    let exp =
        Experiment::from_source("net.neuro", src, Some(repo("examples/net.neuro"))).unwrap_or_else(|e| panic!("{e}"));
    let (res, _) = exp.run().unwrap_or_else(|e| panic!("{e}"));
    assert!(res.spikes().is_empty(), "subthreshold");
    let table = res.table("V_P").expect("V of P");
    let m = model_from_file("stdlib/lif.neuro", "LIFExp");
    let lin = |lo: f64, hi: f64| (0..6).map(|i| lo + (hi - lo) * i as f64 / 5.0).collect::<Vec<f64>>();
    let (tau_m, tau_syn) = (lin(5e-3, 20e-3), lin(5e-3, 10e-3));
    for i in 0..6 {
        let mut one = m.clone();
        let mut cfg = config(&one, 0.1, 60.0, &["V"]);
        set_param(&mut one, &mut cfg.param_overrides, "tau_m", tau_m[i]);
        set_param(&mut one, &mut cfg.param_overrides, "tau_syn_ex", tau_syn[i]);
        cfg.input_spikes = vec![(10e-3, 100e-12), (30e-3, 100e-12), (32e-3, 100e-12)];
        cfg.input_port = Some("exc".into());
        let r = run(&one, Method::Exact, &cfg);
        let ours: Vec<f64> = table.column_si(&format!("V_mV@{i}")).expect("column").to_vec();
        assert_close(&ours, &r.traces[0].1, 1e-10, &format!("V of neuron {i}"));
        let swing = ours.iter().fold(f64::MIN, |a, &b| a.max(b)) + 70e-3;
        assert!(swing > 1e-3, "neuron {i}: the input moves V by {swing} V");
    }
}

/// Writes `files` into a fresh temporary directory and loads `main`.
fn load(tag: &str, files: &[(&str, &str)]) -> Result<Experiment, String> {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("neuroc-exact-spread-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temporary directory");
    for (name, text) in files {
        std::fs::write(d.join(name), text).expect("write");
    }
    Experiment::load(d.join(files[0].0)).map_err(|e| e.to_string())
}

/// Brain nodes with a spread time constant under `method = exact`: x' =
/// (y - x + u) / tau, y' = -y / (2 tau), with y(0) = 1 and no coupling,
/// is x = 2 (e^{-t / 2 tau} - e^{-t / tau}) for each node's tau.
#[test]
fn brain_nodes_with_a_spread_time_constant_follow_the_closed_form() {
    let node = "rate Lin {\n    parameter tau = 10 ms\n    input u = 0\n    state x = 0, y = 1\n    dx/dt = (y - x + u) / tau\n    dy/dt = -y / (2 * tau)\n}\n";
    let brain = format!("{node}brain B {{\n    node = Lin\n    connectivity \"w.csv\"\n    couple node.u += sum_j(C[i, j] * node[j].x)\n}}\nsimulate B {{ dt = 0.1 ms, duration = 50 ms, method = exact, tau = linspace(5 ms, 20 ms) }}\n");
    let mut exp = load("brain", &[("b.neuro", &brain), ("w.csv", "0,0,0,0\n0,0,0,0\n0,0,0,0\n0,0,0,0\n")])
        .unwrap_or_else(|e| panic!("{e}"));
    exp.record("x[0:4]");
    let (res, _) = exp.run().unwrap_or_else(|e| panic!("{e}"));
    let t = res.table("x").expect("x");
    let time = t.column_si("t").expect("time").to_vec();
    for k in 0..4 {
        let tau = 5e-3 + 15e-3 * k as f64 / 3.0;
        let x = t.data.column(k + 1).to_vec();
        let exact: Vec<f64> = time.iter().map(|&s| 2.0 * ((-s / (2.0 * tau)).exp() - (-s / tau).exp())).collect();
        // propagators accurate to 1e-15, 500 steps
        assert_close(&x, &exact, 1e-12, &format!("x of node {k}"));
    }
}

/// A matrix that reads a coupling (an input the runtime sets at every
/// step) cannot be propagated once per node: E0404, naming the input.
#[test]
fn a_matrix_reading_a_coupling_is_refused_by_name() {
    let node = "rate Lin {\n    parameter tau = 10 ms\n    input u = 0 /ms\n    state x = 1\n    dx/dt = -x / tau - u * x\n}\n";
    let brain = format!("{node}brain B {{\n    node = Lin\n    connectivity \"w.csv\"\n    couple node.u += 0.001 /ms * sum_j(C[i, j] * node[j].x)\n}}\nsimulate B {{ dt = 0.1 ms, duration = 5 ms, method = exact }}\n");
    let e = load("coupled", &[("b.neuro", &brain), ("w.csv", "0,1\n1,0\n")])
        .and_then(|e| e.run().map(|_| ()).map_err(|e| e.to_string()));
    let err = e.expect_err("refused");
    assert!(err.contains("E0404") && err.contains("the input `u`, which the runtime sets at every step"), "{err}");
}

/// An input set for the run (`--set`) that enters the matrix: the kernel
/// and the reference runtime both propagate with its value, the closed
/// form V = V0 e^{-g t / C} (they read its default, 0, before).
#[test]
fn an_input_in_the_matrix_is_read_with_its_override() {
    let mut m = model_from_source(
        "neuron Leak {\n    parameter C = 1 nF\n    state V = 10 mV\n    input g = 0 nS\n    dV/dt = -g * V / C\n}\n",
        "Leak",
    );
    let g = m.value("g").expect("g");
    let node = m.arena.add(NodeKind::Const(50e-9), Ty::Num(m.values[g].dim), m.values[g].span);
    let mut cfg = config(&m, 0.1, 20.0, &["V"]);
    cfg.value_overrides[g] = Some(node);
    let exact: Vec<f64> = (0..=200).map(|k| 10e-3 * (-(k as f64) * 1e-4 * 50.0).exp()).collect();
    let reference = run(&m, Method::Exact, &cfg);
    assert_close(&reference.traces[0].1, &exact, 1e-12, "reference");
    let (plan, _) = schemes::derive_plan(&mut m, Method::Exact);
    let pcfg = PopConfig {
        n: 1,
        dt: 1e-4,
        duration: 20e-3,
        per_neuron: vec![],
        param_overrides: vec![None; m.params.len()],
        value_overrides: cfg.value_overrides.clone(),
        init_per_neuron: vec![],
        record: vec![Probe::State(0)],
        record_neurons: vec![0],
        sample_every: 1,
        mean_of: vec![],
        threads: 1,
        backend: Backend::Jit,
        optimize: false,
        seed: 1,
    };
    let kernel = population::simulate(&m, &plan.expect("plan"), &pcfg).unwrap_or_else(|d| panic!("{}", d.message));
    assert_close(&kernel.rec.traces[0].1, &exact, 1e-12, "kernel");
}

/// `param_arrays` shares the propagators of neurons with the same
/// parameters: 100,000 neurons with 10 distinct time constants cost 10
/// matrix exponentials (well under a second), and equal neurons get equal
/// entries.
#[test]
fn many_neurons_with_few_distinct_time_constants_share_their_propagators() {
    let mut m = lif_exp();
    let (plan, _) = schemes::derive_plan(&mut m, Method::Exact);
    let plan = plan.expect("plan");
    let tau_m = m.param("tau_m").expect("tau_m");
    let params = neuroc::ir::eval::eval_params(&m, &[]);
    let k = neuroc::kernel::build(&m, &plan, &params, &[tau_m], &[], 1e-4).expect("kernel");
    // only V's row reads tau_m: its entries of Phi and Psi (V reaches V,
    // I_ex, I_in) vary per neuron; the currents' rows are folded in
    let derived = ["Phi[V, V]", "Phi[V, I_ex]", "Phi[V, I_in]", "Psi[V, V]", "Psi[V, I_ex]", "Psi[V, I_in]"];
    assert_eq!(k.params, [&["tau_m"][..], &derived[..]].concat(), "the kernel's arrays");
    let n = 100_000;
    let per = vec![(tau_m, (0..n).map(|i| 1e-3 * (1 + i % 10) as f64).collect::<Vec<f64>>())];
    let exprs: Vec<_> = m.values.iter().map(|v| v.expr).collect();
    let start = std::time::Instant::now();
    let arrays = neuroc::kernel::param_arrays(&k, &m, &params, &exprs, &per);
    let seconds = start.elapsed().as_secs_f64();
    assert_eq!(arrays.len(), k.params.len());
    assert!(seconds < 1.0, "{seconds} s");
    let phi_vv = k.params.iter().position(|p| p == "Phi[V, V]").expect("Phi[V, V]");
    for i in [0, 7, 12_345, 99_999] {
        let tau = per[0].1[i];
        assert_eq!(arrays[phi_vv][i], arrays[phi_vv][i % 10]);
        // e^{-dt / tau_m}: the scaling and squaring of `linalg::expm` on
        // the SI matrix (1 / C_m is 4e9 /F) squares some 20 times, each
        // doubling the rounding error: 2e-10 relative
        let exact = (-1e-4 / tau).exp();
        assert!((arrays[phi_vv][i] / exact - 1.0).abs() < 1e-9, "neuron {i}: {} vs {exact}", arrays[phi_vv][i]);
    }
}
