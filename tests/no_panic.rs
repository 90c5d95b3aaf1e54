//! No input makes the compiler panic: random text, mutated stdlib files,
//! pathological nesting and literals. Mutants that compile are also run for
//! a few steps, so the runtime is covered too.

use proptest::prelude::*;

const STDLIB: &[&str] = &[
    include_str!("../stdlib/hh.neuro"),
    include_str!("../stdlib/lif.neuro"),
    include_str!("../stdlib/wilson_cowan.neuro"),
    include_str!("../examples/hodgkin_huxley.neuro"),
    include_str!("../stdlib/lif_density.neuro"),
    include_str!("../examples/lif_density.neuro"),
    include_str!("../examples/neural_field_ring.neuro"),
    include_str!("../examples/renormalized_rate.neuro"),
    include_str!("../examples/nmda_coincidence.neuro"),
    include_str!("../stdlib/jansen_rit.neuro"),
    include_str!("../stdlib/epileptor.neuro"),
    // rate tables (coarse, so each mutant builds its table quickly)
    "import \"hh.neuro\"\nneuron T {\n    parameter lo = -100 mV\n    state V = -65 mV\n    use NaT, Kdr, Leak\n    dV/dt = (10 uA/cm^2 - currents) / 1 uF/cm^2\n    spike when V crosses 0 mV upward\n    table V in [lo, 100 mV], step = 2 mV\n}\n",
];

const TOKENS: &[&str] = &[
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    ",",
    ";",
    "\n",
    "=",
    "+=",
    "-",
    "+",
    "*",
    "/",
    "^",
    ">=",
    "<",
    "==",
    " mV",
    " ms",
    "/ms",
    " uF/cm^2",
    "^3",
    "x",
    "V",
    "t",
    "exp(",
    "vtrap(",
    "if ",
    " then ",
    " else ",
    "not ",
    " and ",
    "state ",
    "parameter ",
    "input ",
    "fn ",
    "gate ",
    "current ",
    "use ",
    "on ",
    "spike when ",
    " crosses ",
    "emit spike",
    "refractory ",
    "dV/dt",
    "dx/dt",
    "neuron ",
    "rate ",
    "channel ",
    "import \"",
    "\"",
    "1e308",
    "0.5",
    "-65",
    "#",
    "µ",
    "é",
    "\\\n",
    "population E = 10 x ",
    "simulate ",
    "kinetic {",
    "<->",
    "->",
    "table V in [",
    ", step = ",
];

/// Compiles, and runs any model that compiled for a few steps.
fn exercise(src: &str) {
    let c = neuroc::compile_source("fuzz.neuro", src, None);
    let _ = c.render();
    for m in &c.models {
        let none = (vec![None; m.params.len()], vec![None; m.values.len()]);
        if m.density.is_some() {
            if let Ok(d) = neuroc::density::Density::bind(m, &none.0, &none.1) {
                if d.cells <= 100_000 {
                    let _ = d.stationary(0.0);
                    for initial in [neuroc::density::Initial::Stationary, neuroc::density::Initial::At(d.reset)] {
                        let cfg = neuroc::density::Config {
                            dt: 1e-4,
                            duration: 1e-3,
                            scheme: neuroc::density::Scheme::CrankNicolson,
                            initial,
                            sample_every: 1,
                            progress: false,
                        };
                        let _ = d.simulate(&cfg);
                    }
                }
            }
            continue;
        }
        if m.field.is_some() {
            if let Ok(f) = neuroc::field::Field::bind(m, &none.0, &none.1) {
                if f.cells() <= 4096 {
                    let cfg = neuroc::field::Config {
                        dt: 1e-4,
                        duration: 5e-4,
                        stepper: neuroc::field::Stepper::Rk4,
                        sample_every: 1,
                        init_overrides: vec![],
                    };
                    let _ = f.simulate(&cfg);
                }
            }
            continue;
        }
        let _ = neuroc::explain::explain(m, neuroc::schemes::Method::Auto, 1e-4);
        if matches!(m.kind, neuroc::syntax::ast::ModelKind::Neuron | neuroc::syntax::ast::ModelKind::Rate)
            && m.pending.is_empty()
        {
            for method in ["auto", "euler", "rk4", "rk45", "trapezoidal", "exact"] {
                let mut m = m.clone();
                let method = neuroc::schemes::Method::parse(method).unwrap();
                let (plan, _) = neuroc::schemes::derive_plan(&mut m, method);
                let _ = neuroc::explain::explain(&m, method, 1e-4);
                if let Some(plan) = plan {
                    let cfg = neuroc::runtime::Config::new(&m, 1e-5, 1e-4);
                    let _ = neuroc::runtime::simulate(&m, &plan, &cfg);
                    // the fused kernels, interpreted and compiled
                    for backend in
                        [neuroc::runtime::population::Backend::Interp, neuroc::runtime::population::Backend::Jit]
                    {
                        let pop = neuroc::runtime::population::PopConfig {
                            n: 3,
                            dt: 1e-5,
                            duration: 5e-5,
                            per_neuron: vec![],
                            param_overrides: vec![None; m.params.len()],
                            value_overrides: vec![None; m.values.len()],
                            init_per_neuron: vec![],
                            record: vec![],
                            record_neurons: vec![0],
                            sample_every: 1,
                            mean_of: vec![],
                            threads: 2,
                            backend,
                            optimize: false,
                            seed: 1,
                        };
                        let _ = neuroc::runtime::population::simulate(&m, &plan, &pop);
                    }
                }
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize, usize),
    Insert(usize, usize),
    Duplicate(usize, usize),
    Swap(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0usize..40).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, t)| Mutation::Insert(a, t)),
        (any::<usize>(), 0usize..80).prop_map(|(a, n)| Mutation::Duplicate(a, n)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
    ]
}

fn char_boundary(s: &str, i: usize) -> usize {
    let mut i = i % (s.len() + 1);
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(src: &str, muts: &[Mutation]) -> String {
    let mut s = src.to_string();
    for m in muts {
        match *m {
            Mutation::Delete(a, n) => {
                let a = char_boundary(&s, a);
                let b = char_boundary(&s, (a + n).min(s.len()));
                if b >= a {
                    s.replace_range(a..b, "");
                }
            }
            Mutation::Insert(a, t) => {
                let a = char_boundary(&s, a);
                s.insert_str(a, TOKENS[t % TOKENS.len()]);
            }
            Mutation::Duplicate(a, n) => {
                let a = char_boundary(&s, a);
                let b = char_boundary(&s, (a + n).min(s.len()));
                if b >= a {
                    let piece = s[a..b].to_string();
                    s.insert_str(b, &piece);
                }
            }
            Mutation::Swap(a, b) => {
                let (a, b) = (char_boundary(&s, a), char_boundary(&s, b));
                let (a, b) = (a.min(b), a.max(b));
                let ca = s[a..].chars().next();
                let cb = s[b..].chars().next();
                if let (Some(x), Some(y)) = (ca, cb) {
                    if a + x.len_utf8() <= b {
                        let mut out = String::new();
                        out.push_str(&s[..a]);
                        out.push(y);
                        out.push_str(&s[a + x.len_utf8()..b]);
                        out.push(x);
                        out.push_str(&s[b + y.len_utf8()..]);
                        s = out;
                    }
                }
            }
        }
    }
    s
}

proptest! {
    // a fixed seed: the same cases on every run, so CI cannot flake
    #![proptest_config(ProptestConfig {
        cases: 1000,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x6e6f_7061_6e69),
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_stdlib_never_panics(file in 0usize..STDLIB.len(), muts in prop::collection::vec(mutation(), 1..6)) {
        exercise(&apply(STDLIB[file], &muts));
    }

    #[test]
    fn token_soup_never_panics(toks in prop::collection::vec(0usize..TOKENS.len(), 0..60)) {
        let src: String = toks.iter().map(|&t| TOKENS[t]).collect();
        exercise(&src);
        exercise(&format!("rate R {{\n    state x = 1\n    y = {src}\n    dx/dt = -x / 1 s\n}}\n"));
    }

    #[test]
    fn arbitrary_text_never_panics(src in "\\PC{0,200}") {
        exercise(&src);
    }
}

#[test]
fn deep_nesting_is_rejected_not_overflowed() {
    let deep = format!("rate R {{\n    state x = {}1{}\n}}\n", "(".repeat(100_000), ")".repeat(100_000));
    assert!(neuroc::check(&deep).contains("E0102"));
    let unclosed = format!("rate R {{ x = {}", "(".repeat(100_000));
    assert!(neuroc::check(&unclosed).contains("E0102"));
    let prefix = format!("rate R {{\n    y = {}1\n}}\n", "-".repeat(100_000));
    assert!(neuroc::check(&prefix).contains("E0102"));
    let power = format!("rate R {{\n    y = 2{}\n}}\n", "^2".repeat(100_000));
    assert!(neuroc::check(&power).contains("E0102"));
    let chain = format!("rate R {{\n    y = 1{}\n}}\n", " + 1".repeat(100_000));
    assert!(neuroc::check(&chain).contains("E0102"));
    let ifs = format!("rate R {{\n    y = {}1{}\n}}\n", "if true then ".repeat(20_000), " else 0".repeat(20_000));
    assert!(neuroc::check(&ifs).contains("E0102"));
}

#[test]
fn huge_literals_are_diagnosed() {
    let long = format!(
        "rate R {{\n    parameter a = {}\n    state x = 1\n    dx/dt = -a * x / 1 s\n}}\n",
        "9".repeat(100_000)
    );
    assert!(neuroc::check(&long).contains("E0103"));
    let overflow_after_units = "rate R {\n    parameter a = 1e300 GV\n    state x = 1\n    dx/dt = -x / 1 s\n}\n";
    assert!(neuroc::check(overflow_after_units).contains("E0103"));
}

#[test]
fn every_stdlib_and_example_file_is_clean() {
    for dir in ["stdlib", "examples"] {
        for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/").to_string() + dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|x| x != "neuro") {
                continue; // examples/data
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let c = neuroc::compile_source(&path.display().to_string(), &text, Some(path.canonicalize().unwrap()));
            assert!(c.diagnostics.is_empty(), "{}:\n{}", path.display(), c.render());
        }
    }
}

#[test]
fn long_models_are_not_rejected_as_too_complex() {
    // 400 one-line equations: the operator bound is per expression, not per model
    let mut src = String::from("rate Big {\n");
    for i in 0..400 {
        src.push_str(&format!("    state x{i} = 1\n    dx{i}/dt = -x{i} / 1 ms + 0.5 / 1 ms - 0.5 / 1 ms\n"));
    }
    src.push_str("}\n");
    assert_eq!(neuroc::check(&src), "");
}
