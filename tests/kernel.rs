//! The fused kernels: the JIT against the kernel interpreter (bit for bit),
//! threads, and the kernels against the reference runtime; and what the
//! reference and population runtimes stream into a recorder.

mod common;
#[path = "kernel/segments.rs"]
mod segments;

use common::*;
use neuroc::runtime::population::{self, Backend, PopConfig};
use neuroc::runtime::{Outcome, Probe};
use neuroc::schemes::{self, Method};
use proptest::prelude::*;

fn pop_config(
    m: &neuroc::ir::Model,
    n: usize,
    dt_ms: f64,
    steps: usize,
    backend: Backend,
    threads: usize,
) -> PopConfig {
    PopConfig {
        n,
        dt: dt_ms * 1e-3,
        duration: steps as f64 * dt_ms * 1e-3,
        per_neuron: vec![],
        param_overrides: vec![None; m.params.len()],
        value_overrides: vec![None; m.values.len()],
        init_per_neuron: vec![],
        record: (0..m.states.len()).map(Probe::State).collect(),
        record_neurons: vec![0],
        sample_every: 1,
        mean_of: vec![],
        threads,
        backend,
        optimize: false,
        seed: 1,
    }
}

fn run_pop(m: &neuroc::ir::Model, method: Method, cfg: &PopConfig) -> population::PopRun {
    let mut m = m.clone();
    let (plan, _) = schemes::derive_plan(&mut m, method);
    population::simulate(&m, &plan.expect("plan"), cfg).unwrap_or_else(|d| panic!("{}", d.message))
}

/// Bit-for-bit equality of two runs: every recorded sample and every spike.
fn assert_identical(a: &population::PopRun, b: &population::PopRun, what: &str) {
    assert_eq!(a.spikes.len(), b.spikes.len(), "{what}: spike counts");
    for (x, y) in a.spikes.iter().zip(&b.spikes) {
        assert!(x.0 == y.0 && x.1.to_bits() == y.1.to_bits(), "{what}: spike {x:?} vs {y:?}");
    }
    for ((na, ta), (_, tb)) in a.rec.traces.iter().zip(&b.rec.traces) {
        for (k, (x, y)) in ta.iter().zip(tb).enumerate() {
            assert!(x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()), "{what}: {na} at sample {k}: {x} vs {y}");
        }
    }
}

#[test]
fn hh_population_jit_equals_interpreter_bit_for_bit() {
    let m = model_from_file("examples/hodgkin_huxley.neuro", "Squid");
    let i_amp = m.param("I_amp").unwrap();
    let n = 101; // odd: the scalar tail runs too
    let spread: Vec<f64> = (0..n).map(|i| 0.2 * i as f64 * 1e-2).collect(); // 0..20 uA/cm^2 in A/m^2
    for method in [Method::Auto, Method::Rk4, Method::Rk2, Method::Heun, Method::Euler] {
        let mut cfg = pop_config(&m, n, 0.025, 2000, Backend::Interp, 1);
        cfg.per_neuron = vec![(i_amp, spread.clone())];
        let interp = run_pop(&m, method, &cfg);
        cfg.backend = Backend::Jit;
        let jit = run_pop(&m, method, &cfg);
        assert!(interp.spikes.len() > 100, "{method:?}: only {} spikes", interp.spikes.len());
        assert_identical(&interp, &jit, &format!("HH {method:?}"));
    }
}

#[test]
fn every_stdlib_model_agrees_over_10000_steps() {
    let cases = [
        ("stdlib/hh.neuro", "HH"),
        ("stdlib/lif.neuro", "LIF"),
        ("stdlib/lif.neuro", "LIFExp"),
        ("stdlib/lif.neuro", "LIFAlpha"),
        ("stdlib/wilson_cowan.neuro", "WilsonCowan"),
        ("stdlib/adex.neuro", "AdEx"),
        ("stdlib/izhikevich.neuro", "Izhikevich"),
        ("stdlib/traub.neuro", "HHTraub"),
        ("stdlib/bold.neuro", "BalloonWindkessel"),
        ("stdlib/epileptor.neuro", "Epileptor"),
        ("stdlib/wendling.neuro", "Wendling"),
        ("examples/lif.neuro", "DrivenLIF"),
    ];
    for (file, name) in cases {
        let m = model_from_file(file, name);
        let cfg = pop_config(&m, 5, 0.02, 10_000, Backend::Interp, 1);
        let interp = run_pop(&m, Method::Auto, &cfg);
        let mut jcfg = cfg.clone();
        jcfg.backend = Backend::Jit;
        let jit = run_pop(&m, Method::Auto, &jcfg);
        assert_identical(&interp, &jit, name);
    }
}

#[test]
fn spiking_models_agree_when_driven() {
    for (file, name, input, value) in [
        ("stdlib/adex.neuro", "AdEx", "I_e", 700e-12),
        ("stdlib/izhikevich.neuro", "Izhikevich", "I", 10.0),
        ("stdlib/traub.neuro", "HHTraub", "I_e", 200e-12),
        ("stdlib/lif.neuro", "LIFExp", "I_e", 400e-12),
    ] {
        let src = std::fs::read_to_string(repo(file)).unwrap();
        // turn the input into a parameter spread over the population
        let src = src.replacen(&format!("input {input} ="), &format!("parameter {input} ="), 1);
        let m2 = model_from_source(&src, name);
        let p = m2.param(input).unwrap();
        let n = 7;
        let mut cfg = pop_config(&m2, n, 0.02, 10_000, Backend::Interp, 1);
        cfg.per_neuron = vec![(p, (0..n).map(|i| value * (0.5 + 0.25 * i as f64)).collect())];
        let interp = run_pop(&m2, Method::Auto, &cfg);
        cfg.backend = Backend::Jit;
        let jit = run_pop(&m2, Method::Auto, &cfg);
        assert!(!interp.spikes.is_empty(), "{name}: no spikes");
        assert_identical(&interp, &jit, name);
    }
}

#[test]
fn thread_count_does_not_change_results() {
    let m = model_from_file("examples/hodgkin_huxley.neuro", "Squid");
    let i_amp = m.param("I_amp").unwrap();
    let n = 1001;
    let spread: Vec<f64> = (0..n).map(|i| 20e-2 * i as f64 / (n - 1) as f64).collect();
    let mut cfg = pop_config(&m, n, 0.025, 1000, Backend::Jit, 1);
    cfg.per_neuron = vec![(i_amp, spread)];
    let one = run_pop(&m, Method::Auto, &cfg);
    cfg.threads = 2;
    let two = run_pop(&m, Method::Auto, &cfg);
    cfg.threads = 3; // chunks start at odd neurons: vector and scalar paths swap
    let three = run_pop(&m, Method::Auto, &cfg);
    assert_identical(&one, &two, "1 vs 2 threads");
    assert_identical(&one, &three, "1 vs 3 threads");
}

#[test]
fn kernel_spike_times_match_the_reference_runtime() {
    // Same scheme (RK4), same dt; the kernel interpolates crossings linearly
    // within a step, the reference locates them by root finding: they differ
    // by O(dt^2 V'') ~ 1e-4 ms at dt = 0.01 ms.
    let m = model_from_file("examples/hodgkin_huxley.neuro", "Squid");
    let reference = run(&m, Method::Rk4, &config(&m, 0.01, 200.0, &[]));
    let cfg = pop_config(&m, 1, 0.01, 20_000, Backend::Jit, 1);
    let jit = run_pop(&m, Method::Rk4, &cfg);
    assert_eq!(jit.spikes.len(), reference.spikes.len());
    for (a, b) in jit.spikes.iter().zip(&reference.spikes) {
        assert!((a.1 - b).abs() * 1e3 < 1e-3, "kernel {} ms vs reference {} ms", a.1 * 1e3, b * 1e3);
    }
}

/// Random smooth expressions in a rate model: the JIT and the kernel
/// interpreter agree bit for bit (same operations, same math functions).
fn expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("x".to_string()),
        Just("y".to_string()),
        (-3.0f64..3.0).prop_map(|c| format!("{c:.4}")),
        Just("k".to_string()),
    ];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} + {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} - {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} * {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} / (2 + {b} * {b}))")),
            inner.clone().prop_map(|a| format!("exp(0.5 * {a})")),
            inner.clone().prop_map(|a| format!("sqrt(1 + ({a})^2)")),
            inner.clone().prop_map(|a| format!("tanh({a})")),
            inner.clone().prop_map(|a| format!("vtrap({a}, 1.5)")),
            inner.clone().prop_map(|a| format!("abs({a})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("min({a}, {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("(if {a} > {b} then {a} else 2 * {b})")),
            inner.clone().prop_map(|a| format!("step({a}) * ({a})^3")),
            inner.clone().prop_map(|a| format!("log(1 + ({a})^2)")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("(sin({a}) + cos(3 * {b}) * tan({a}))")),
            inner.clone().prop_map(|a| format!("(atan({a}) + sinh({a}) / cosh({a}) + sign({a}))")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("(2 + ({a})^2)^(({b}) / 4)")),
        ]
    })
}

/// Model `R` of `src` under the kernel interpreter and the JIT, with
/// method 0, 1 or 2 (rk4, euler, rk2): equal bit for bit. A random model
/// may diverge (exp of a growing state): then both back ends must say so,
/// at the same neuron and time.
fn backends_agree(src: &str, method: usize) {
    let m = model_from_source(src, "R");
    let method = [Method::Rk4, Method::Euler, Method::Rk2][method];
    let cfg = pop_config(&m, 3, 1.0, 50, Backend::Interp, 1);
    let mut jcfg = cfg.clone();
    jcfg.backend = Backend::Jit;
    let run = |cfg: &PopConfig| {
        let mut mm = m.clone();
        let (plan, _) = schemes::derive_plan(&mut mm, method);
        population::simulate(&mm, &plan.expect("plan"), cfg)
    };
    match (run(&cfg), run(&jcfg)) {
        (Ok(interp), Ok(jit)) => assert_identical(&interp, &jit, src),
        (Err(a), Err(b)) => assert_eq!(a.message, b.message, "{src}"),
        (a, b) => panic!(
            "{src}: interpreter {:?}, JIT {:?}",
            a.map(|_| ()).map_err(|d| d.message),
            b.map(|_| ()).map_err(|d| d.message)
        ),
    }
}

proptest! {
    // a fixed seed: the same 60 models on every run, so CI cannot flake
    #![proptest_config(ProptestConfig {
        cases: 60,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x6e65_7572_6f63),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_models_jit_equals_interpreter(f in expr(), g in expr(), method in 0usize..3) {
        let src = format!(
            "rate R {{\n    parameter k = 0.7\n    state x = 0.2, y = -0.4\n    dx/dt = ({f}) / 1 s\n    dy/dt = (({g}) - y) / 1 s\n}}\n"
        );
        backends_agree(&src, method);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 40,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x0074_6162_6c65),
        ..ProptestConfig::default()
    })]

    /// Random models with a rate table in x: whatever the tabulation pass
    /// takes out of them, the two back ends still agree bit for bit, also
    /// where x leaves the table.
    #[test]
    fn random_tabulated_models_jit_equals_interpreter(f in expr(), g in expr(), method in 0usize..3) {
        let src = format!(
            "neuron R {{\n    parameter k = 0.7\n    state x = 0.2, y = -0.4\n    dx/dt = ({f}) / 1 s\n    dy/dt = (({g}) - y) / 1 s\n    table x in [-1, 1], step = 0.05\n}}\n"
        );
        backends_agree(&src, method);
    }
}

/// The JIT keeps what it compiled: the same kernel again shares the
/// machine code (and computes the same), a kernel that differs by one
/// constant gets code of its own.
#[test]
fn the_jit_reuses_a_kernel_it_compiled_before() {
    let kernel = |rate: &str| {
        let m = model_from_source(&format!("rate D {{\n    state y = 1\n    dy/dt = -y / {rate}\n}}\n"), "D");
        let cfg = pop_config(&m, 4, 1.0, 1, Backend::Jit, 1);
        let mut mm = m.clone();
        let (plan, _) = schemes::derive_plan(&mut mm, Method::Euler);
        population::build_kernel(&mm, &plan.unwrap(), &cfg).unwrap().0
    };
    let (a, b, c) = (kernel("7 s"), kernel("7 s"), kernel("8 s"));
    let first = neuroc::codegen::jit::compile(&a, false).unwrap();
    let again = neuroc::codegen::jit::compile(&b, false).unwrap();
    let other = neuroc::codegen::jit::compile(&c, false).unwrap();
    assert!(again.shares_code_with(&first));
    assert!(!other.shares_code_with(&first));
    let step = |code: &neuroc::codegen::jit::Compiled| {
        let mut y = vec![1.0; 4];
        let states = [y.as_mut_ptr()];
        // SAFETY: one state array of 4 values, no parameters, no events
        unsafe { code.call(&states, &[], 4, (0.0, 1.0), &mut [], &mut []) };
        y[0]
    };
    assert_eq!(step(&first).to_bits(), step(&again).to_bits());
    // one Euler step of 1 ms
    assert!((step(&first) - (1.0 - 1e-3 / 7.0)).abs() < 1e-15 && (step(&other) - (1.0 - 1e-3 / 8.0)).abs() < 1e-15);
}

/// exp and log on every kind of input, through the JIT and the kernel
/// interpreter: identical bits, and within 2 ulp of the platform's libm for
/// normal results.
#[test]
fn jit_math_functions_handle_every_input() {
    let m = model_from_source("rate F {\n    parameter a = 1\n    state y = 0, z = 0\n    dy/dt = log(a) / 1 s\n    dz/dt = exp(a) / 1 s\n}\n", "F");
    let mut inputs = vec![
        0.0,
        -0.0,
        -1.0,
        1.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        1e-310,
        5e-324,
        f64::MIN_POSITIVE,
        f64::MAX,
        708.9,
        709.5,
        -707.9,
        -745.0,
        1e-20,
        0.5,
    ];
    for i in 0..200 {
        inputs.push((i as f64 - 100.0) * 3.7);
        inputs.push(1.37f64.powi(i - 100));
    }
    let a = m.param("a").unwrap();
    let mut cfg = pop_config(&m, inputs.len(), 1000.0, 1, Backend::Interp, 1);
    cfg.per_neuron = vec![(a, inputs.clone())];
    cfg.record = vec![];
    let mut mm = m.clone();
    let (plan, _) = schemes::derive_plan(&mut mm, Method::Euler);
    let plan = plan.unwrap();
    let (k, _) = population::build_kernel(&mm, &plan, &cfg).unwrap();
    let jit = neuroc::codegen::jit::compile(&k, false).unwrap();
    let n = inputs.len();
    let mut ys_i = vec![0.0; n];
    let mut zs_i = vec![0.0; n];
    {
        let mut states: Vec<&mut [f64]> = vec![&mut ys_i, &mut zs_i];
        let params: Vec<&[f64]> = vec![&inputs];
        neuroc::kernel::interp::step(&k, &mut states, &params, 0.0, 1.0, &mut Vec::new());
    }
    let mut ys_j = vec![0.0; n];
    let mut zs_j = vec![0.0; n];
    let mut idx = vec![0i64; n];
    let mut tim = vec![0.0; n];
    // SAFETY: two state arrays and one parameter array of n values each.
    unsafe { jit.call(&[ys_j.as_mut_ptr(), zs_j.as_mut_ptr()], &[inputs.as_ptr()], n, (0.0, 1.0), &mut idx, &mut tim) };
    let ulps = |a: f64, b: f64| (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs();
    for (k, &x) in inputs.iter().enumerate() {
        for (name, i, j, want) in [("log", ys_i[k], ys_j[k], x.ln()), ("exp", zs_i[k], zs_j[k], x.exp())] {
            assert!(i.to_bits() == j.to_bits() || (i.is_nan() && j.is_nan()), "{name}({x}): interp {i} vs jit {j}");
            let normal =
                want.is_finite() && want.abs() >= f64::MIN_POSITIVE && (name == "log" || (-708.0..=709.0).contains(&x));
            if normal {
                assert!(ulps(i, want) <= 2, "{name}({x}) = {i}, libm {want}");
            } else if want.is_nan() {
                assert!(i.is_nan(), "{name}({x}) = {i}, expected NaN");
            }
        }
    }
}

/// A condition on time that becomes true exactly on a grid point fires once,
/// whatever the rounding of t + dt (the host gives the step's end time).
#[test]
fn time_condition_on_a_grid_point_fires() {
    let m = model_from_source("rate T {\n    state x = 0\n    on t >= 2.49 ms { x += 1 }\n}\n", "T");
    for backend in [Backend::Interp, Backend::Jit] {
        let cfg = pop_config(&m, 3, 0.01, 400, backend, 1);
        let r = run_pop(&m, Method::Auto, &cfg);
        let last = *r.rec.traces[0].1.last().unwrap();
        assert_eq!(last, 1.0, "{backend:?}");
    }
}

/// Inputs set from the command line, kinetic species starting at steady
/// state, recorded derived values, integer powers of negative numbers, and
/// divergence: the kernels handle them like the reference runtime.
#[test]
fn kernels_handle_overrides_kinetics_values_and_divergence() {
    // input override: no drive, no spikes
    let m = model_from_file("examples/lif.neuro", "DrivenLIF");
    let i = m.value("I").unwrap();
    let mut mm = m.clone();
    let zero = mm.arena.add(neuroc::ir::NodeKind::Const(0.0), neuroc::ir::Ty::Num(m.values[i].dim), m.span);
    let mut cfg = pop_config(&mm, 2, 0.1, 2000, Backend::Jit, 1);
    cfg.value_overrides[i] = Some(zero);
    assert!(run_pop(&mm, Method::Auto, &cfg).spikes.is_empty());

    // kinetic species integrated by rk4 in a kernel start at their steady state
    let src = "import \"markov.neuro\"\nimport \"hh.neuro\"\nneuron M {\n    parameter C = 1 uF/cm^2\n    state V = -65 mV\n    use NaMarkov, Kdr, Leak\n    input I = 10 uA/cm^2\n    dV/dt = (I - currents) / C\n    spike when V crosses 0 mV upward\n}\n";
    let m = model_from_source(src, "M");
    let mut cfg = pop_config(&m, 1, 0.01, 5000, Backend::Jit, 1);
    cfg.record = vec![Probe::State(0), Probe::Value(m.value("currents").unwrap())];
    let r = run_pop(&m, Method::Rk4, &cfg);
    assert!(r.spikes.len() >= 2, "{} spikes", r.spikes.len());
    assert!(r.rec.traces[1].1.iter().all(|v| v.is_finite()), "recorded currents");

    // (x - 1)^17 of a negative number
    let m = model_from_source("rate P {\n    state x = 0.1\n    dx/dt = ((x - 1)^17 - x) / 10 ms\n}\n", "P");
    let cfg = pop_config(&m, 1, 0.1, 10, Backend::Jit, 1);
    let r = run_pop(&m, Method::Rk4, &cfg);
    assert!(r.rec.traces[0].1.iter().all(|v| v.is_finite()));

    // divergence is an error, not silent infinities
    let m = model_from_source("rate B {\n    state x = 1\n    dx/dt = x^2 / 1 ms\n}\n", "B");
    let mut mm = m.clone();
    let (plan, _) = schemes::derive_plan(&mut mm, Method::Euler);
    let cfg = pop_config(&mm, 1, 0.1, 2000, Backend::Jit, 1);
    let err = population::simulate(&mm, &plan.unwrap(), &cfg).err().expect("diverges");
    assert_eq!(err.code, neuroc::diag::Code::NumericalBlowUp);
}

/// An exact block whose matrix uses a derived constant (`k = 2 / tau`).
#[test]
fn exact_blocks_with_derived_constants() {
    let m = model_from_source(
        "rate D {\n    parameter tau = 10 ms\n    k = 2 / tau\n    state x = 1\n    dx/dt = -k * x\n}\n",
        "D",
    );
    let cfg = pop_config(&m, 1, 0.5, 40, Backend::Jit, 1);
    let r = run_pop(&m, Method::Auto, &cfg);
    for (k, x) in r.rec.traces[0].1.iter().enumerate() {
        let exact = (-2.0 * k as f64 * 0.5 / 10.0).exp();
        assert!((x - exact).abs() < 1e-12, "step {k}: {x} vs {exact}");
    }
}

/// The HH population of `examples/hh_population.neuro` (rates tabulated
/// in V) with its table's source text replaced by `table`, or without
/// one.
fn tabulated_hh(table: Option<&str>) -> neuroc::ir::Model {
    let file = repo("examples/hh_population.neuro");
    let text = std::fs::read_to_string(&file).expect("example");
    let line = "table V in [-100 mV, 100 mV], step = 0.1 mV";
    assert!(text.contains(line), "the example tabulates its rates");
    let text = text.replace(line, table.unwrap_or(""));
    let c = neuroc::compile_source("hh_population.neuro", &text, Some(file));
    assert!(!c.diagnostics.has_errors(), "{}", c.render());
    c.model("SquidCell").expect("SquidCell").clone()
}

/// One neuron per current, `steps` steps of `dt_ms`, every state recorded.
fn tabulated_run(
    m: &neuroc::ir::Model,
    currents: &[f64],
    dt_ms: f64,
    steps: usize,
    backend: Backend,
) -> population::PopRun {
    let mut cfg = pop_config(m, currents.len(), dt_ms, steps, backend, 1);
    cfg.per_neuron = vec![(m.param("I_amp").unwrap(), currents.to_vec())];
    run_pop(m, Method::Auto, &cfg)
}

#[test]
fn rate_tables_jit_equals_interpreter_bit_for_bit() {
    // 20 down to 0 uA/cm^2 (neuron 0, the recorded one, fires); odd: the scalar tail runs too
    let currents: Vec<f64> = (0..101).map(|i| 0.2 * (100 - i) as f64 * 1e-2).collect();
    for table in [None, Some("table V in [-80 mV, 20 mV], step = 0.5 mV")] {
        // the example's table, and one that spikes leave (its end values hold)
        let m = match table {
            None => model_from_file("examples/hh_population.neuro", "SquidCell"),
            Some(t) => tabulated_hh(Some(t)),
        };
        let interp = tabulated_run(&m, &currents, 0.01, 3000, Backend::Interp);
        let jit = tabulated_run(&m, &currents, 0.01, 3000, Backend::Jit);
        assert_eq!(interp.tables.len(), 1, "{:?}", interp.tables);
        assert!(interp.spikes.len() > 100, "{table:?}: only {} spikes", interp.spikes.len());
        assert_identical(&interp, &jit, &format!("tabulated HH {table:?}"));
        let peak = jit.rec.traces[0].1.iter().fold(f64::MIN, |a, &v| a.max(v));
        if table.is_some() {
            assert!(peak > 0.03, "spikes cross the table's upper end: peak {peak} V");
        }
        // leaving the table is reported (W0401), by both back ends
        for r in [&interp, &jit] {
            let codes: Vec<&str> = r.warnings.iter().map(|d| d.code.as_str()).collect();
            assert_eq!(codes, if table.is_some() { vec!["W0401"] } else { vec![] }, "{table:?}");
        }
    }
}

/// Linear interpolation errs by h^2 f'' / 8: halving the table's step
/// quarters every column's reported error, and the trajectories approach
/// the exact kernel's as the step shrinks.
#[test]
fn rate_table_error_falls_as_the_step_squared() {
    let build = |m: &neuroc::ir::Model| {
        let mut m = m.clone();
        let (plan, _) = schemes::derive_plan(&mut m, Method::Auto);
        let params = neuroc::ir::eval::eval_params(&m, &[]);
        neuroc::kernel::build(&m, &plan.expect("plan"), &params, &[], &[], 1e-5).expect("kernel")
    };
    let steps = ["0.4 mV", "0.2 mV", "0.1 mV"];
    let errors: Vec<Vec<f64>> = steps
        .iter()
        .map(|h| {
            let k = build(&tabulated_hh(Some(&format!("table V in [-100 mV, 100 mV], step = {h}"))));
            assert_eq!(k.tables.len(), 1);
            assert_eq!(
                k.tables[0].cols, 9,
                "alpha, beta and (1 - e^(-(alpha + beta) dt)) / (alpha + beta) of three gates"
            );
            k.tables[0].errors.iter().map(|e| e.abs).collect()
        })
        .collect();
    for w in errors.windows(2) {
        for (c, (a, b)) in w[0].iter().zip(&w[1]).enumerate() {
            let ratio = a / b;
            assert!((3.6..4.4).contains(&ratio), "column {c}: error ratio {ratio} ({a} -> {b})");
        }
    }
    // the exact kernel has no table and more operations
    let exact_model = tabulated_hh(None);
    let exact = build(&exact_model);
    assert!(exact.tables.is_empty());
    let tabulated = build(&tabulated_hh(Some("table V in [-100 mV, 100 mV], step = 0.1 mV")));
    let mut names = tabulated.tables[0].names.clone();
    names.sort();
    let mut expected: Vec<String> = ["NaT.m", "NaT.h", "Kdr.n"]
        .iter()
        .flat_map(|g| ["alpha", "beta", "g"].map(|w| format!("{w} of {g}")))
        .collect();
    expected.sort();
    assert_eq!(names, expected);
    assert!(tabulated.insts.len() + 30 < exact.insts.len(), "{} vs {} ops", tabulated.insts.len(), exact.insts.len());
    // one exponential left: V's own propagator (its rate depends on the gates)
    let exps = tabulated
        .insts
        .iter()
        .filter(|i| matches!(i, neuroc::kernel::Inst::Exp(_) | neuroc::kernel::Inst::Efun(_)))
        .count();
    assert_eq!(exps, 1, "exponentials left in the kernel");
    // trajectories: 50 ms (40 of firing) against the exact kernel
    let currents: Vec<f64> = (0..8).map(|i| (19.0 - 2.0 * i as f64) * 1e-2).collect();
    let reference = tabulated_run(&exact_model, &currents, 0.01, 5000, Backend::Jit);
    let deviation = |h: &str| {
        let m = tabulated_hh(Some(&format!("table V in [-100 mV, 100 mV], step = {h}")));
        let r = tabulated_run(&m, &currents, 0.01, 5000, Backend::Jit);
        assert_eq!(r.spikes.len(), reference.spikes.len(), "{h}: spike count");
        let v = r.rec.traces[0].1.iter().zip(&reference.rec.traces[0].1).map(|(a, b)| (a - b).abs());
        let t = r.spikes.iter().zip(&reference.spikes).map(|(a, b)| {
            assert_eq!(a.0, b.0, "{h}: spike order");
            (a.1 - b.1).abs()
        });
        (v.fold(0.0, f64::max), t.fold(0.0, f64::max))
    };
    let (coarse, fine) = (deviation("0.4 mV"), deviation("0.1 mV"));
    assert!(reference.spikes.len() > 20, "{} spikes", reference.spikes.len());
    eprintln!("deviation from the exact kernel: {coarse:?} at 0.4 mV, {fine:?} at 0.1 mV");
    assert!(fine.0 < 1e-4 && fine.1 < 2e-6, "V within 0.1 mV, spikes within 2 us of the exact kernel: {fine:?}");
    for (what, c, f) in [("V", coarse.0, fine.0), ("spike times", coarse.1, fine.1)] {
        assert!(c / f > 10.0, "{what}: deviation {c} at 0.4 mV, {f} at 0.1 mV (16x expected)");
    }
}

/// The f-I curve of tabulated HH against NEURON's (which tabulates its
/// rates too), one neuron per current, 1 s each.
#[test]
fn rate_tables_keep_the_fi_curve_of_neuron() {
    let m = model_from_file("examples/hh_population.neuro", "SquidCell");
    let rows: Vec<Vec<f64>> = read_csv(&reference("hh/fI.csv")).into_iter().filter(|r| r[0] >= 6.0).collect();
    let currents: Vec<f64> = rows.iter().map(|r| r[0] * 1e-2).collect();
    let mut cfg = pop_config(&m, currents.len(), 0.01, 100_000, Backend::Jit, 1);
    cfg.per_neuron = vec![(m.param("I_amp").unwrap(), currents.clone())];
    cfg.record = vec![];
    // the example switches its current on at 10 ms, as the reference does
    let r = run_pop(&m, Method::Auto, &cfg);
    for (i, row) in rows.iter().enumerate() {
        let count =
            |a: f64, b: f64| r.spikes.iter().filter(|&&(k, t)| k == i && t * 1e3 >= a && t * 1e3 <= b).count() as f64;
        let rate = count(10.0, 1000.0) / 0.99;
        assert!((rate - row[2]).abs() <= 2.0, "I = {}: {rate} Hz vs NEURON {} Hz", row[0], row[2]);
        assert_eq!(count(500.0, 1000.0) > 0.0, row[0] > 6.0, "repetitive firing at {} uA/cm2", row[0]);
    }
}

#[test]
fn malformed_rate_tables_are_diagnosed() {
    let good = "import \"hh.neuro\"
neuron N {
    parameter lo = -100 mV
    state V = -65 mV
    use NaT, Kdr, Leak
    dV/dt = -currents / 1 uF/cm^2
    table V in [lo, 100 mV], step = 0.1 mV
}";
    let file = repo("examples/tabulated.neuro");
    let compile = |src: &str| neuroc::compile_source("tabulated.neuro", src, Some(file.clone()));
    let codes = |src: &str| -> Vec<&'static str> {
        compile(src).diagnostics.list.iter().filter(|d| d.is_error()).map(|d| d.code.as_str()).collect()
    };
    assert!(codes(good).is_empty(), "{:?}", codes(good));
    for (old, new, code) in [
        ("table V in", "table W in", "E0218"),
        ("table V in", "table lo in", "E0218"),
        (", step = 0.1 mV", "", "E0218"),
        ("step = 0.1 mV", "steps = 0.1 mV", "E0218"),
        ("step = 0.1 mV", "step = 0.1 ms", "E0307"),
        ("[lo, 100 mV]", "[lo, 100]", "E0307"),
        ("[lo, 100 mV]", "[V, 100 mV]", "E0214"),
        ("    table V", "    table V in [0 mV, 1 mV], step = 1 mV\n    table V", "E0218"),
        ("step = 0.1 mV", "step = 0.1 mV, step = 1 mV", "E0218"),
        ("[lo, 100 mV]", "[lo, 100 mV)", "E0218"),
    ] {
        assert!(good.contains(old), "{old}");
        let src = good.replace(old, new);
        let got = codes(&src);
        assert!(got.contains(&code), "expected {code}, got {got:?} for\n{src}");
    }
    // a table in a channel: V is the neuron's
    let in_channel = "channel C {\n    gate x { inf = 1 / (1 + exp(-V / 5 mV)); tau = 1 ms }\n    table V in [-100 mV, 100 mV], step = 1 mV\n    current i = 1 mS/cm^2 * x * V\n}\n";
    assert!(codes(in_channel).contains(&"E0214"), "{:?}", codes(in_channel));
    // numbers that make no grid: found when the kernel is built
    for (old, new) in [
        ("[lo, 100 mV]", "[100 mV, lo]"),
        ("step = 0.1 mV", "step = 0.03 mV"),
        ("step = 0.1 mV", "step = -0.1 mV"),
        ("step = 0.1 mV", "step = 1 nV"),
        ("parameter lo = -100 mV", "parameter lo = 100 mV"),
    ] {
        let src = good.replace(old, new);
        let c = compile(&src);
        assert!(!c.diagnostics.has_errors(), "{}", c.render());
        let m = c.model("N").unwrap().clone();
        let mut cfg = pop_config(&m, 4, 0.01, 10, Backend::Jit, 1);
        cfg.record = vec![];
        let mut mm = m.clone();
        let (plan, _) = schemes::derive_plan(&mut mm, Method::Auto);
        let err = population::simulate(&mm, &plan.unwrap(), &cfg).err().expect("an error");
        assert_eq!(err.code.as_str(), "E0218", "{new}: {}", err.message);
    }
    // a range that differs from neuron to neuron: one table cannot serve
    let c = compile(good);
    let mut m = c.model("N").unwrap().clone();
    let (plan, _) = schemes::derive_plan(&mut m, Method::Auto);
    let mut cfg = pop_config(&m, 4, 0.01, 10, Backend::Jit, 1);
    cfg.record = vec![];
    cfg.per_neuron = vec![(m.param("lo").unwrap(), vec![-0.1, -0.11, -0.12, -0.13])];
    let err = population::simulate(&m, plan.as_ref().unwrap(), &cfg).err().expect("an error");
    assert_eq!(err.code.as_str(), "E0218", "{}", err.message);
    // a rate with a pole on the grid (-40 mV is the 601st point): E0218,
    // not NaN spread over the two intervals around it
    let pole = "neuron P {
    state V = -65 mV, m = 0.05
    alpha = 0.1 /ms/mV * (V + 40 mV) / (1 - exp(-(V + 40 mV) / 10 mV))
    dm/dt = alpha * (1 - m) - 4 /ms * m
    dV/dt = -(V + 65 mV) / 10 ms
    table V in [-100 mV, 100 mV], step = 0.1 mV
}";
    let c = compile(pole);
    assert!(!c.diagnostics.has_errors(), "{}", c.render());
    let mut m = c.model("P").unwrap().clone();
    let (plan, _) = schemes::derive_plan(&mut m, Method::Auto);
    let mut cfg = pop_config(&m, 4, 0.01, 10, Backend::Jit, 1);
    cfg.record = vec![];
    let err = population::simulate(&m, &plan.unwrap(), &cfg).err().expect("an error");
    assert_eq!(err.code.as_str(), "E0218", "{}", err.message);
    assert!(err.message.contains("-40 mV"), "{}", err.message);
    // off the pole it runs
    let shifted = pole.replace("[-100 mV, 100 mV]", "[-100.05 mV, 99.95 mV]");
    let c = compile(&shifted);
    let mut m = c.model("P").unwrap().clone();
    let (plan, _) = schemes::derive_plan(&mut m, Method::Auto);
    if let Err(e) = population::simulate(&m, &plan.unwrap(), &cfg) {
        panic!("off the pole: {}", e.message);
    }
}

/// An event level that depends on V alone stays exact: the level at a
/// step's start must equal the one computed at the previous step's end, or
/// a crossing counts twice (found with a coarse table and a concave level).
#[test]
fn rate_tables_leave_event_levels_exact() {
    let src = "import \"hh.neuro\"
neuron N {
    parameter I_amp = 10 uA/cm^2
    state V = -65 mV
    use NaT, Kdr, Leak
    dV/dt = (I_amp - currents) / 1 uF/cm^2
    spike when log((V + 100 mV) / 1 mV) crosses 4.605170185988092 upward
    table V in [-95 mV, 95 mV], step = 10 mV
}";
    let m = model_from_source(src, "N");
    let currents: Vec<f64> = (0..64).map(|i| (7.0 + 0.5 * i as f64) * 1e-2).collect();
    let mut cfg = pop_config(&m, currents.len(), 0.01, 5000, Backend::Jit, 1);
    cfg.per_neuron = vec![(m.param("I_amp").unwrap(), currents)];
    cfg.record = vec![];
    let r = run_pop(&m, Method::Auto, &cfg);
    assert!(r.spikes.len() > 100, "{} spikes", r.spikes.len());
    assert!(r.tables[0].contains("9 columns"), "the level is not a column: {:?}", r.tables);
    let mut last: Vec<f64> = vec![f64::NEG_INFINITY; 64];
    for &(i, t) in &r.spikes {
        assert!(t - last[i] > 1e-3, "neuron {i} spiked at {} and {} ms", last[i] * 1e3, t * 1e3);
        last[i] = t;
    }
}

/// Exponential Euler's increment where r dt is tiny (1e-11): the kernels
/// use the series of (1 - e^{-u}) / r there instead of a cancelling
/// difference, and are exact for constant coefficients to 1e-12.
#[test]
fn exponential_euler_is_exact_for_slow_rates() {
    let m = model_from_source(
        "rate R {\n    parameter k = 1e-9 /ms\n    state x = 0\n    dx/dt = 1 /ms - k * x\n    method = exp_euler\n}\n",
        "R",
    );
    for backend in [Backend::Jit, Backend::Interp] {
        let r = run_pop(&m, Method::Auto, &pop_config(&m, 1, 0.01, 100, backend, 1));
        let x = *r.rec.traces[0].1.last().unwrap();
        let (a, k, t): (f64, f64, f64) = (1e3, 1e-6, 1e-3); // SI: 1 /ms, 1e-9 /ms, 1 ms
        let exact = a / k * -(-k * t).exp_m1();
        assert!(((x - exact) / exact).abs() < 1e-12, "{backend:?}: {x} vs {exact}");
    }
}

/// Bit equality of two series (NaN equal to NaN).
fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
}

/// The reference runtime hands on what it records as it goes: stopped
/// after k samples it has handed on the same first k samples and the
/// spikes up to there, and a long run's first spike arrives long before
/// the run would end.
#[test]
fn reference_runtime_streams_and_stops() {
    let mut m = model_from_file("examples/hodgkin_huxley.neuro", "Squid");
    let (plan, _) = schemes::derive_plan(&mut m, Method::Rk4);
    let plan = plan.expect("plan");
    let mut cfg = config(&m, 0.025, 60.0, &["V", "I_ext"]);
    cfg.sample_every = 4;
    let full = neuroc::runtime::simulate(&m, &plan, &cfg).unwrap();
    assert!(full.spikes.len() >= 3, "{} spikes", full.spikes.len());
    let k = 401; // t = 40 ms: two or three spikes in
    let mut rec = StopAfter::samples(k);
    let out = neuroc::runtime::simulate_into(&m, &plan, &cfg, &mut rec).unwrap();
    assert_eq!(out, Outcome { steps: (k - 1) * 4, stopped: true });
    assert!(same_bits(&rec.rec.t, &full.t[..k]));
    for ((name, got), (_, want)) in rec.rec.traces.iter().zip(&full.traces) {
        assert!(same_bits(got, &want[..k]), "{name}");
    }
    let n = rec.rec.spikes.len();
    assert!(n >= 1 && n < full.spikes.len(), "{n} of {} spikes", full.spikes.len());
    assert!(same_bits(&rec.rec.spikes, &full.spikes[..n]));
    assert!(full.spikes[n] > out.steps as f64 * cfg.dt, "a spike before the stop was not handed on");
    // 100 s are 4 million steps; the first spike comes after 10.x ms
    cfg.duration = 100.0;
    let mut rec = StopAfter::first_spike();
    let out = neuroc::runtime::simulate_into(&m, &plan, &cfg, &mut rec).unwrap();
    assert!(out.stopped && out.steps < 1000, "{out:?}");
    assert_eq!(rec.rec.spikes[0].to_bits(), full.spikes[0].to_bits());
}

/// Populations run in blocks of steps (2001 neurons: blocks of 524 steps,
/// so 3000 steps make six): the first neurons run alone (in one block)
/// give the same bits, so do 1 and 3 threads with means; stopped after k
/// samples (in the fourth block) the run has handed on the same
/// first k samples and the spikes up to there; a long run's first spike
/// arrives long before the run would end.
#[test]
fn population_streams_block_by_block_and_stops() {
    let m = model_from_file("examples/hodgkin_huxley.neuro", "Squid");
    let i_amp = m.param("I_amp").unwrap();
    let v = m.state("V").unwrap();
    let n = 2001;
    // neuron 0 gets the most current: it spikes, and it is recorded
    let spread: Vec<f64> = (0..n).map(|i| 20e-2 * (n - 1 - i) as f64 / (n - 1) as f64).collect();
    let mut cfg = pop_config(&m, n, 0.025, 3000, Backend::Jit, 3);
    cfg.per_neuron = vec![(i_amp, spread.clone())];
    cfg.mean_of = vec![v];
    cfg.sample_every = 7;
    assert_eq!(population::block_steps(n, 1), 524);
    let full = run_pop(&m, Method::Auto, &cfg);
    assert!(full.spikes.len() > 1000, "{} spikes", full.spikes.len());
    let alone = PopConfig { n: 3, per_neuron: vec![(i_amp, spread[..3].to_vec())], mean_of: vec![], ..cfg.clone() };
    let alone = run_pop(&m, Method::Auto, &alone);
    let first: Vec<(usize, f64)> = full.spikes.iter().copied().filter(|s| s.0 < 3).collect();
    assert!(!alone.spikes.is_empty());
    assert_eq!(alone.spikes.len(), first.len());
    assert!(alone.spikes.iter().zip(&first).all(|(a, b)| a.0 == b.0 && a.1.to_bits() == b.1.to_bits()));
    for ((name, a), (_, b)) in alone.rec.traces.iter().zip(&full.rec.traces) {
        assert!(same_bits(a, b), "{name}");
    }
    let one = run_pop(&m, Method::Auto, &PopConfig { threads: 1, ..cfg.clone() });
    assert_identical(&one, &full, "1 vs 3 threads");
    assert!(same_bits(&one.means[0].1, &full.means[0].1));
    assert_eq!(full.means[0].1.len(), full.rec.t.len());

    let mut mm = m.clone();
    let plan = schemes::derive_plan(&mut mm, Method::Auto).0.expect("plan");
    let k = 300; // the sample after step 2093, in the fourth block
    let mut rec = StopAfter::samples(k);
    let out = population::simulate_into(&mm, &plan, &cfg, &mut rec).unwrap();
    assert_eq!(out.outcome, Outcome { steps: (k - 1) * 7, stopped: true });
    assert!(same_bits(&rec.rec.t, &full.rec.t[..k]));
    let probes = cfg.record.len();
    assert_eq!(rec.rec.traces.len(), probes + 1);
    for (j, (_, got)) in rec.rec.traces.iter().enumerate() {
        let want = if j < probes { &full.rec.traces[j].1 } else { &full.means[0].1 };
        assert!(same_bits(got, &want[..k]), "trace {j}");
    }
    let handed = rec.rec.spikes.len();
    assert!(handed > 0 && handed < full.spikes.len());
    for (s, (i, t)) in full.spikes.iter().enumerate().take(handed) {
        assert!(rec.rec.spike_ids[s] == *i && rec.rec.spikes[s].to_bits() == t.to_bits(), "spike {s}");
    }
    assert!(full.spikes[handed].1 > out.outcome.steps as f64 * cfg.dt);
    // 100 s are 4 million steps (524 a block); the first spike
    // comes after 10.x ms
    cfg.duration = 100.0;
    let mut rec = StopAfter::first_spike();
    let out = population::simulate_into(&mm, &plan, &cfg, &mut rec).unwrap();
    assert!(out.outcome.stopped && out.outcome.steps < 1000, "{:?}", out.outcome);
    assert_eq!(rec.rec.spikes[0].to_bits(), full.spikes[0].1.to_bits());
}
