//! The front end at scale: models far larger or deeper than anyone writes
//! by hand compile without exhausting the stack, deep nesting is a
//! diagnostic, and the IR grows in proportion to the model. Models are
//! built here as text; sizes are counts, never times.

use neuroc::diag::Code;
use neuroc::schemes::{self, Method};
use neuroc::Experiment;

/// `n` states, each decaying on its own.
fn independent(n: usize) -> String {
    let mut s = String::from("rate Indep {\n    parameter tau = 10 ms\n");
    for i in 0..n {
        s.push_str(&format!("    state x{i} = {}\n", i % 7));
    }
    for i in 0..n {
        s.push_str(&format!("    dx{i}/dt = -x{i} / tau + {} / tau\n", i % 5));
    }
    s.push_str("}\nsimulate Indep { dt = 0.1 ms, duration = 1 ms }\n");
    s
}

/// One state read through a chain of `n` derived values, each defined by
/// the one before.
fn chain(n: usize) -> String {
    let mut s = String::from("rate Chain {\n    parameter tau = 10 ms\n    state x = 1\n    v0 = x\n");
    for i in 1..n {
        s.push_str(&format!("    v{i} = 0.5 * v{} + 0.5 * x\n", i - 1));
    }
    s.push_str(&format!("    dx/dt = -v{} / tau\n}}\nsimulate Chain {{ dt = 0.1 ms, duration = 1 ms }}\n", n - 1));
    s
}

/// Functions calling each other `n` deep, each adding `levels` levels.
fn fn_chain(n: usize, levels: usize) -> String {
    let mut s = String::from("rate Fns {\n    parameter tau = 10 ms\n    state x = 1\n    fn f0(a) = a\n");
    let tail = " + 1".repeat(levels);
    for i in 1..n {
        s.push_str(&format!("    fn f{i}(a) = f{}(a){tail}\n", i - 1));
    }
    s.push_str(&format!("    dx/dt = -f{}(x) / tau\n}}\n", n - 1));
    s
}

/// Compiles through the library's one way in; the diagnostics if it fails.
fn compile(src: &str) -> Result<Experiment, neuroc::Error> {
    Experiment::from_source("scale.neuro", src, None)
}

fn codes(err: &neuroc::Error) -> Vec<Code> {
    err.diagnostics.iter().map(|d| d.code).collect()
}

#[test]
fn ten_thousand_independent_states_check() {
    let exp = compile(&independent(10_000)).unwrap_or_else(|e| panic!("{}", e.render()));
    let m = exp.compiled().model("Indep").expect("lowered");
    assert_eq!(m.states.len(), 10_000);
}

#[test]
fn a_chain_of_twenty_thousand_values_checks() {
    let exp = compile(&chain(20_000)).unwrap_or_else(|e| panic!("{}", e.render()));
    let m = exp.compiled().model("Chain").expect("lowered");
    assert_eq!(m.values.len(), 20_000);
    // lowered in dependency order: value k reads value k - 1
    assert!(m.values.iter().enumerate().all(|(k, v)| v.name == format!("v{k}")));
    assert!(m.validate().is_ok());
}

#[test]
fn a_long_chain_of_values_runs_on_the_reference_interpreter() {
    // too deep for the kernel builder, which inlines values: the one neuron
    // runs on the reference interpreter, which evaluates them in order
    let mut exp = compile(&chain(5_000)).unwrap_or_else(|e| panic!("{}", e.render()));
    exp.duration("1 ms").record("x");
    let (results, _) = exp.run().unwrap_or_else(|e| panic!("{}", e.render()));
    let x = results.table("x").and_then(|t| t.column_si("x")).expect("x recorded");
    // every value is x, so dx/dt = -x / tau: x(1 ms) = exp(-0.1), to the
    // scheme's accuracy at dt = 0.1 ms (exact or RK4: far below 1e-6)
    let last = *x.last().expect("samples");
    assert!((last - (-0.1f64).exp()).abs() < 1e-6, "{last}");
}

#[test]
fn functions_calling_each_other_3000_deep_give_one_diagnostic() {
    let err = compile(&fn_chain(3000, 1)).err().expect("rejected");
    assert_eq!(codes(&err), vec![Code::TooDeep], "{}", err.render());
    let text = err.render();
    assert!(text.contains("functions call each other too deeply"), "{text}");
    assert!(text.contains("256"), "{text}");
}

#[test]
fn functions_calling_each_other_200_deep_are_inlined() {
    let exp = compile(&fn_chain(200, 1)).unwrap_or_else(|e| panic!("{}", e.render()));
    assert!(exp.compiled().model("Fns").is_some());
}

#[test]
fn an_expression_deeper_than_max_depth_is_a_diagnostic() {
    // 100 functions of 20 levels each: 2000 levels once inlined, within the
    // inlining limit and the parser's, beyond MAX_DEPTH
    const { assert!(100 * 20 > neuroc::ir::MAX_DEPTH) };
    let err = compile(&fn_chain(100, 20)).err().expect("rejected");
    assert_eq!(codes(&err), vec![Code::TooDeep], "{}", err.render());
    let text = err.render();
    assert!(text.contains(&format!("more than {} levels deep", neuroc::ir::MAX_DEPTH)), "{text}");
    // just within the limit it compiles
    let ok = compile(&fn_chain(60, 20));
    assert!(ok.is_ok(), "{}", ok.err().map(|e| e.render()).unwrap_or_default());
}

#[test]
fn a_long_cycle_of_values_is_one_cycle_diagnostic() {
    let mut s = String::from("rate Cycle {\n    state x = 1\n    v0 = v9999 + x\n");
    for i in 1..10_000 {
        s.push_str(&format!("    v{i} = v{} + 1\n", i - 1));
    }
    s.push_str("    dx/dt = -v9999 / 1 s\n}\n");
    let err = compile(&s).err().expect("rejected");
    assert_eq!(codes(&err), vec![Code::Cycle], "{}", err.render());
    assert!(err.render().contains("`v0` is defined in terms of itself"), "{}", err.render());
}

/// Nodes of the model's IR after lowering and after deriving its plan, and
/// the instructions of its kernel (0 when it has none).
fn sizes(src: &str, name: &str) -> [usize; 3] {
    let c = neuroc::compile_source("scale.neuro", src, None);
    assert!(!c.diagnostics.has_errors(), "{}", c.render());
    let mut m = c.model(name).expect("lowered").clone();
    let lowered = m.arena.len();
    let (plan, d) = schemes::derive_plan(&mut m, Method::Auto);
    let plan = plan.unwrap_or_else(|| panic!("{d:?}"));
    let params = neuroc::ir::eval::eval_params(&m, &[]);
    let ops = neuroc::runtime::population::kernel_depth(&m)
        .and_then(|()| neuroc::kernel::build(&m, &plan, &params, &[], &[], 1e-4))
        .map_or(0, |k| k.insts.len());
    [lowered, m.arena.len(), ops]
}

#[test]
fn the_ir_grows_in_proportion_to_the_model() {
    // 4x the model: at most 4.5x the nodes and instructions (a fixed part
    // does not grow)
    for (kind, small, large) in [
        ("independent", sizes(&independent(1000), "Indep"), sizes(&independent(4000), "Indep")),
        ("chain", sizes(&chain(1000), "Chain"), sizes(&chain(4000), "Chain")),
    ] {
        for (what, a, b) in
            [("lowered", small[0], large[0]), ("with its plan", small[1], large[1]), ("kernel ops", small[2], large[2])]
        {
            let ratio = b as f64 / a.max(1) as f64;
            assert!(ratio <= 4.5, "{kind}, {what}: {a}, then {b} (x{ratio:.2})");
        }
    }
    // the independent states have a kernel of about one operation per state
    let ops = sizes(&independent(4000), "Indep")[2];
    assert!((4000..40_000).contains(&ops), "{ops} kernel ops");
}

#[test]
fn a_shared_value_is_differentiated_once() {
    // every state reads the same nonlinear value: its derivative by each
    // state is derived once, as the value ∂s/∂x_i, and read by that row
    let n = 2000;
    let mut src = String::from("rate Shared {\n    parameter tau = 10 ms\n");
    for i in 0..n {
        src.push_str(&format!("    state x{i} = 1\n"));
    }
    src.push_str("    s = x0 * x0\n");
    for i in 0..n {
        src.push_str(&format!("    dx{i}/dt = -x{i} * s / tau\n"));
    }
    src.push_str("}\n");
    let c = neuroc::compile_source("scale.neuro", &src, None);
    assert!(!c.diagnostics.has_errors(), "{}", c.render());
    let mut m = c.model("Shared").expect("lowered").clone();
    let before = m.arena.len();
    let (plan, _) = schemes::derive_plan(&mut m, Method::Auto);
    assert!(plan.is_some());
    let derivatives: Vec<&str> =
        m.values.iter().filter(|v| v.kind == neuroc::ir::ValueKind::Derivative).map(|v| v.name.as_str()).collect();
    assert_eq!(derivatives, vec!["∂s/∂x0"]);
    // a bounded number of nodes per state for the whole analysis
    let per_state = (m.arena.len() - before) as f64 / n as f64;
    assert!(per_state < 40.0, "{per_state} nodes per state");
}

/// The kernel of a model under `auto` (one neuron's step, dt 0.1 ms).
fn kernel(src: &str, name: &str) -> neuroc::kernel::Kernel {
    let c = neuroc::compile_source("scale.neuro", src, None);
    assert!(!c.diagnostics.has_errors(), "{}", c.render());
    let mut m = c.model(name).expect("lowered").clone();
    let (plan, d) = schemes::derive_plan(&mut m, Method::Auto);
    let plan = plan.unwrap_or_else(|| panic!("{d:?}"));
    let params = neuroc::ir::eval::eval_params(&m, &[]);
    neuroc::kernel::build(&m, &plan, &params, &[], &[], 1e-4).unwrap_or_else(|e| panic!("{}", e.0))
}

#[test]
fn no_function_of_the_jit_grows_with_the_model() {
    // 4x the states: the segments grow about 4x, but each stays the same
    // size. With every state stored at the kernel's end, the last segment
    // loaded and stored every new value: a function growing with the model,
    // whose register allocation grew as its square (10,000 states: 4 s)
    use neuroc::codegen::jit;
    use neuroc::kernel::segment;
    let measure = |n: usize| {
        let k = kernel(&independent(n), "Indep");
        let cut = segment::cut(&k, jit::SEGMENT_WEIGHT);
        // the values a segment passes or stores
        let busiest = cut.list.iter().map(|s| s.imports.len() + s.exports.len() + s.stores.len()).max();
        let code = jit::compile(&k, false).expect("jit");
        [cut.list.len(), busiest.unwrap_or(0), code.largest_function, code.clif_insts]
    };
    let (small, large) = (measure(2000), measure(8000));
    for (what, a, b, most) in [
        ("segments", small[0], large[0], 4.5),
        ("values passed or stored by one segment", small[1], large[1], 1.1),
        ("Cranelift instructions in the largest function", small[2], large[2], 1.1),
        ("Cranelift instructions", small[3], large[3], 4.5),
    ] {
        let ratio = b as f64 / a.max(1) as f64;
        assert!(ratio <= most, "{what}: {a} for 2000 states, {b} for 8000 (x{ratio:.2})");
    }
    assert!(small[0] > 1, "2000 states are cut ({} segment)", small[0]);
}
