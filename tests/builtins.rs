//! The builtins composed from kernel instructions (`src/kernel/trig.rs`):
//! sin, cos, tan, atan, sinh, cosh, sign and efun_prime of varying
//! arguments, through the kernel interpreter and the JIT (identical bits)
//! over dense samples of their domains, against Rust's libm and against
//! 200-bit values; and a population using them against the reference
//! runtime.

mod common;

use common::*;
use neuroc::ir::{Builtin, Model, NodeKind};
use neuroc::runtime::population::{self, Backend, PopConfig};
use neuroc::runtime::spikegen::SplitMix64;
use neuroc::runtime::Probe;
use neuroc::schemes::{self, Method};
use std::sync::OnceLock;

/// The functions of the test kernel, one state each.
const FUNS: [&str; 8] = ["sin", "cos", "tan", "atan", "sinh", "cosh", "sign", "efun_prime"];

/// The accurate range of sin, cos and tan (see `src/kernel/trig.rs`).
const TRIG_ACCURATE: f64 = 2e8;
/// From here on sin, cos and tan are NaN: 2^51.
const TRIG_NAN: f64 = 2251799813685248.0;

/// Distance in units in the last place, counting across zero (-0 = +0).
fn ulps(a: f64, b: f64) -> u64 {
    let ord = |x: f64| {
        let b = x.to_bits() as i64;
        if b < 0 {
            i64::MIN - b
        } else {
            b
        }
    };
    (ord(a) - ord(b)).unsigned_abs()
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Every function of [`FUNS`] at every input, by the kernel interpreter,
/// after checking that the JIT gives the same bits (both lanes of its
/// vectors and its scalar tail: the count is odd).
fn evaluate(inputs: &[f64]) -> Vec<Vec<f64>> {
    let states: Vec<String> = (0..FUNS.len()).map(|k| format!("y{k} = 0")).collect();
    // efun_prime has no name in the language (it enters through the
    // Jacobians of vtrap): its equation is written with `sign` and its
    // call swapped below
    let eqs: String = FUNS
        .iter()
        .enumerate()
        .map(|(k, f)| format!("    dy{k}/dt = {}(a) / 1 s\n", if *f == "efun_prime" { "sign" } else { f }))
        .collect();
    let src = format!("rate F {{\n    parameter a = 1\n    state {}\n{eqs}}}\n", states.join(", "));
    let mut m = model_from_source(&src, "F");
    swap_call(&mut m, index("efun_prime"), Builtin::EfunPrime);
    let n = inputs.len();
    assert!(n % 2 == 1, "an odd count, so that the JIT's scalar tail runs too");
    let cfg = PopConfig {
        n,
        dt: 1.0,
        duration: 1.0,
        per_neuron: vec![(m.param("a").expect("a"), inputs.to_vec())],
        param_overrides: vec![None; m.params.len()],
        value_overrides: vec![None; m.values.len()],
        init_per_neuron: vec![],
        record: vec![],
        record_neurons: vec![0],
        sample_every: 1,
        mean_of: vec![],
        threads: 1,
        backend: Backend::Interp,
        optimize: false,
        seed: 1,
    };
    let mut mm = m.clone();
    let (plan, _) = schemes::derive_plan(&mut mm, Method::Euler);
    let (k, _) = population::build_kernel(&mm, &plan.expect("plan"), &cfg).expect("kernel");
    // one Euler step of 1 s from -0: y = -0 + f(a) keeps every bit of f(a),
    // the sign of a zero included
    let mut by_interp = vec![vec![-0.0; n]; FUNS.len()];
    {
        let mut st: Vec<&mut [f64]> = by_interp.iter_mut().map(|v| v.as_mut_slice()).collect();
        neuroc::kernel::interp::step(&k, &mut st, &[inputs], 0.0, 1.0, &mut Vec::new());
    }
    // Cranelift without and with its optimizer (which must not reassociate)
    for speed in [false, true] {
        let jit = neuroc::codegen::jit::compile(&k, speed).expect("jit");
        let mut by_jit = vec![vec![-0.0; n]; FUNS.len()];
        let ptrs: Vec<*mut f64> = by_jit.iter_mut().map(|v| v.as_mut_ptr()).collect();
        let (mut idx, mut tim) = (vec![0i64; n], vec![0.0; n]);
        // SAFETY: one array of n values per state and per parameter.
        unsafe { jit.call(&ptrs, &[inputs.as_ptr()], n, (0.0, 1.0), &mut idx, &mut tim) };
        for (f, (a, b)) in FUNS.iter().zip(by_interp.iter().zip(&by_jit)) {
            for (x, (i, j)) in inputs.iter().zip(a.iter().zip(b)) {
                assert!(same(*i, *j), "{f}({x:e}): interpreter {i:e}, JIT {j:e} (optimized: {speed})");
            }
        }
    }
    by_interp
}

/// The rows of a file of numbers in `tests/builtins/` (lines starting
/// with `#` are comments).
fn table(name: &str) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(repo(&format!("tests/builtins/{name}"))).expect("table");
    let number = |v: &str| v.trim().parse::<f64>().unwrap_or_else(|_| panic!("{name}: {v}"));
    text.lines().filter(|l| !l.starts_with('#')).map(|l| l.split(',').map(number).collect()).collect()
}

/// Replaces the call `f(a)` in `dy/dt = f(a) / 1 s` of state `k` by
/// `fun(a)`: new nodes, the old ones' types and spans.
fn swap_call(m: &mut Model, k: usize, fun: Builtin) {
    let rhs = m.states[k].rhs.expect("an ODE");
    let NodeKind::Bin(op, call, per) = m.arena.kind(rhs).clone() else { panic!("f(a) / 1 s") };
    let NodeKind::Call(_, args) = m.arena.kind(call).clone() else { panic!("a call") };
    let (ty, span) = (m.arena.ty(call), m.arena.span(call));
    let new_call = m.arena.add(NodeKind::Call(fun, args), ty, span);
    let (ty, span) = (m.arena.ty(rhs), m.arena.span(rhs));
    m.states[k].rhs = Some(m.arena.add(NodeKind::Bin(op, new_call, per), ty, span));
    m.validate().expect("valid model");
}

/// The inputs: dense linear and logarithmic samples, random points near
/// multiples of pi/2, the hardest reductions, and special values; and each
/// function's value at each, computed once for all the tests.
fn sample() -> &'static (Vec<f64>, Vec<Vec<f64>>) {
    static SAMPLE: OnceLock<(Vec<f64>, Vec<Vec<f64>>)> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let mut x = vec![
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            5e-324,
            -5e-324,
            1e-310,
            f64::MIN_POSITIVE,
            1e-200,
            f64::MAX,
            -f64::MAX,
            TRIG_NAN,
            -TRIG_NAN,
            TRIG_NAN * (1.0 - f64::EPSILON),
            709.0,
            709.5,
            710.47,
            710.48,
            -710.47,
            -710.48,
            1e300,
        ];
        // linear over the cores of the domains
        for (lo, hi, n) in [(-10.0, 10.0, 40_000), (-720.0, 720.0, 20_000), (-2e8, 2e8, 10_000)] {
            x.extend((0..=n).map(|i| lo + (hi - lo) * i as f64 / n as f64));
        }
        // logarithmic, both signs, from subnormals to 1e308
        let n = 20_000;
        for i in 0..=n {
            let v = 10f64.powf(-320.0 + 628.0 * i as f64 / n as f64);
            x.extend([v, -v]);
        }
        // near multiples of pi/2, small k and k up to the accurate range's end
        let mut rng = SplitMix64::new(20);
        for i in 0..4_000 {
            let k = if i < 2_000 { i as f64 } else { (rng.next_open01() * 1.27e8).round() };
            let c = k * std::f64::consts::FRAC_PI_2;
            for d in -2i64..=2 {
                let v = f64::from_bits((c.to_bits() as i64 + d) as u64);
                x.extend([v, -v]);
            }
        }
        if x.len() % 2 == 0 {
            x.push(0.5);
        }
        let y = evaluate(&x);
        (x, y)
    })
}

/// The worst ulp distance of `f` from `want` over the inputs that `keep`
/// keeps, with the input where it occurs.
fn worst(f: usize, want: fn(f64) -> f64, keep: impl Fn(f64) -> bool) -> (u64, f64) {
    let (x, y) = sample();
    let mut w = (0, f64::NAN);
    for (&a, &v) in x.iter().zip(&y[f]) {
        if keep(a) {
            let u = if v.is_nan() && want(a).is_nan() { 0 } else { ulps(v, want(a)) };
            if u > w.0 {
                w = (u, a);
            }
        }
    }
    w
}

fn index(name: &str) -> usize {
    FUNS.iter().position(|f| *f == name).expect("function")
}

#[test]
fn sin_cos_tan_are_within_their_ulp_bounds_up_to_2e8() {
    // glibc's sin and cos are within 1 ulp of the exact values and ours
    // too (fdlibm's polynomials, a reduction exact to 2^-130); measured
    // worst: see the module doc of trig.rs
    for (name, want, bound) in [("sin", f64::sin as fn(f64) -> f64, 1), ("cos", f64::cos, 1), ("tan", f64::tan, 2)] {
        let (u, at) = worst(index(name), want, |a| a.abs() <= TRIG_ACCURATE);
        eprintln!("{name}: worst {u} ulp at {at:e}");
        assert!(u <= bound, "{name}: {u} ulp at {at:e}");
    }
}

/// The hard cases of the reduction by pi/2: doubles whose distance to a
/// multiple of pi/2 is down to 2^-60.5 (`tests/builtins/near_pi_2_mpmath.csv`,
/// with values by mpmath; glibc itself is 2 ulp off at some of them, e.g.
/// sin(115689413.36222704)), against the exact values.
#[test]
fn sin_cos_tan_are_accurate_next_to_multiples_of_pi_2() {
    let rows = table("near_pi_2_mpmath.csv");
    let mut x: Vec<f64> = rows.iter().flat_map(|r| [r[0], -r[0]]).collect();
    x.push(0.5);
    let y = evaluate(&x);
    let mut w = [(0, 0.0); 3];
    for (k, r) in rows.iter().enumerate() {
        for (sign, at) in [(1.0, 2 * k), (-1.0, 2 * k + 1)] {
            // sin and tan are odd, cos even
            let want = [sign * r[1], r[2], sign * r[3]];
            for (j, f) in ["sin", "cos", "tan"].iter().enumerate() {
                let got = y[index(f)][at];
                if r[0] <= TRIG_ACCURATE {
                    let u = ulps(got, want[j]);
                    if u > w[j].0 {
                        w[j] = (u, x[at]);
                    }
                } else if j < 2 {
                    let ulp_x = f64::from_bits(r[0].to_bits() + 1) - r[0];
                    assert!((got - want[j]).abs() <= ulp_x + 4e-16, "{f}({:e}) = {got:e}, exact {:e}", x[at], want[j]);
                }
            }
        }
    }
    for ((f, bound), (u, at)) in [("sin", 1), ("cos", 1), ("tan", 2)].into_iter().zip(w) {
        eprintln!("{f} near multiples of pi/2: worst {u} ulp at {at:e}");
        assert!(u <= bound, "{f}: {u} ulp at {at:e}");
    }
}

#[test]
fn sin_cos_tan_keep_zeros_and_give_nan_where_they_should() {
    let (x, y) = sample();
    let (s, c, t) = (&y[index("sin")], &y[index("cos")], &y[index("tan")]);
    for (k, &a) in x.iter().enumerate() {
        if a == 0.0 {
            assert!(same(s[k], a) && same(t[k], a) && c[k] == 1.0, "sin, tan, cos of {a}: {} {} {}", s[k], t[k], c[k]);
        }
        if a.is_nan() || a.abs() >= TRIG_NAN {
            assert!(s[k].is_nan() && c[k].is_nan() && t[k].is_nan(), "at {a:e}: {} {} {}", s[k], c[k], t[k]);
        } else if a.abs() > TRIG_ACCURATE {
            // the reduced argument is off by at most ulp(x)/2: the error is
            // within ulp(x) (what x itself is uncertain by) plus rounding
            let ulp_x = f64::from_bits(a.abs().to_bits() + 1) - a.abs();
            for (v, want) in [(s[k], a.sin()), (c[k], a.cos())] {
                assert!(v.abs() <= 1.0, "{v} at {a:e}");
                assert!((v - want).abs() <= ulp_x + 4e-16, "{v} vs {want} at {a:e} (ulp {ulp_x:e})");
            }
        }
    }
}

#[test]
fn atan_is_within_1_ulp_everywhere() {
    let (u, at) = worst(index("atan"), f64::atan, |_| true);
    eprintln!("atan: worst {u} ulp at {at:e}");
    assert!(u <= 1, "atan: {u} ulp at {at:e}");
    let (x, y) = sample();
    for (&a, &v) in x.iter().zip(&y[index("atan")]) {
        if a == 0.0 || a.is_infinite() {
            assert!(same(v, a.atan()), "atan({a}) = {v}");
        }
    }
}

#[test]
fn sinh_and_cosh_are_within_their_ulp_bounds_and_overflow_as_libm() {
    for (name, want, bound, big) in [("sinh", f64::sinh as fn(f64) -> f64, 3, 5), ("cosh", f64::cosh, 3, 5)] {
        let f = index(name);
        let (u, at) = worst(f, want, |a| a.abs() <= 709.0);
        eprintln!("{name}: worst {u} ulp at {at:e} for |x| <= 709");
        assert!(u <= bound, "{name}: {u} ulp at {at:e}");
        let (u, at) = worst(f, want, |a| a.abs() > 709.0 && want(a).is_finite());
        eprintln!("{name}: worst {u} ulp at {at:e} beyond 709");
        assert!(u <= big, "{name}: {u} ulp at {at:e}");
        let (x, y) = sample();
        for (&a, &v) in x.iter().zip(&y[f]) {
            if want(a).is_infinite() || a.is_nan() || a == 0.0 {
                assert!(same(v, want(a)), "{name}({a:e}) = {v:e}, libm {:e}", want(a));
            }
        }
    }
}

#[test]
fn sign_is_what_the_reference_evaluates() {
    let (x, y) = sample();
    for (&a, &v) in x.iter().zip(&y[index("sign")]) {
        let want = Builtin::Sign.eval(&[a]);
        assert!(same(v, want), "sign({a:e}) = {v}, reference {want}");
    }
}

/// efun_prime against values computed with mpmath at 200 bits
/// (`tests/builtins/efun_prime_mpmath.csv`: 2659 points, every 0.01 on
/// [-10, 10], logarithmic from 1e-8 to 1e3 in magnitude, out to the
/// underflow), and against the reference runtime's formula over the dense
/// sample.
#[test]
fn efun_prime_is_within_3_ulp_of_200_bit_values() {
    let rows: Vec<(f64, f64)> = table("efun_prime_mpmath.csv").iter().map(|r| (r[0], r[1])).collect();
    let mut u: Vec<f64> = rows.iter().map(|r| r.0).collect();
    u.extend([f64::INFINITY, f64::NEG_INFINITY, f64::NAN, -0.0, 5e-324, 1e-30]);
    let y = evaluate(&u);
    let got = &y[index("efun_prime")];
    let mut w = (0, 0.0);
    for (&(a, want), &v) in rows.iter().zip(got.iter()) {
        if want.abs() >= f64::MIN_POSITIVE {
            let d = ulps(v, want);
            if d > w.0 {
                w = (d, a);
            }
        } else {
            // subnormal results: absolute accuracy
            assert!((v - want).abs() <= 1e-320, "efun_prime({a}) = {v:e}, exact {want:e}");
        }
    }
    eprintln!("efun_prime: worst {} ulp at {}", w.0, w.1);
    assert!(w.0 <= 3, "efun_prime: {} ulp at {}", w.0, w.1);
    let n = rows.len();
    assert_eq!(got[n], -0.0, "the limit 0 at +inf");
    assert_eq!(got[n + 1], -1.0, "the limit -1 at -inf");
    assert!(got[n + 2].is_nan());
    assert_eq!(got[n + 3], -0.5);
    assert_eq!(got[n + 4], -0.5);
    // the reference's formula cancels near |u| = 1e-3 (a relative error up
    // to ~1e-12 there) and is exact at its series
    let (x, y) = sample();
    for (&a, &v) in x.iter().zip(&y[index("efun_prime")]) {
        let want = neuroc::ir::efun_prime(a);
        if want.is_finite() && want.abs() >= f64::MIN_POSITIVE {
            assert!((v - want).abs() <= 1e-11 * want.abs(), "efun_prime({a:e}) = {v:e}, reference {want:e}");
        }
    }
}

/// Four driven phase oscillators with different frequencies,
/// dtheta/dt = omega + K sin(Omega t - theta), and a state following
/// cos theta and atan: the population's kernel (interpreter and JIT)
/// against the reference runtime, neuron by neuron, same method and step.
#[test]
fn phase_oscillators_match_the_reference_runtime() {
    let src = |omega: f64| {
        format!(
            "rate Phase {{\n    parameter omega = {omega}, K = 30, Omega = 50\n    state theta = 0.3, x = 0\n    \
             dtheta/dt = (omega + K * sin(Omega * t / 1 s - theta)) / 1 s\n    \
             dx/dt = (cos(theta) + atan(x) - x) / 20 ms\n}}\n"
        )
    };
    let omegas = [20.0, 45.0, 50.0, 80.0];
    let (dt_ms, steps) = (0.1, 20_000);
    let m = model_from_source(&src(omegas[0]), "Phase");
    let mut cfg = PopConfig {
        n: omegas.len(),
        dt: dt_ms * 1e-3,
        duration: steps as f64 * dt_ms * 1e-3,
        per_neuron: vec![(m.param("omega").expect("omega"), omegas.to_vec())],
        param_overrides: vec![None; m.params.len()],
        value_overrides: vec![None; m.values.len()],
        init_per_neuron: vec![],
        record: (0..m.states.len()).map(Probe::State).collect(),
        record_neurons: (0..omegas.len()).collect(),
        sample_every: 100,
        mean_of: vec![],
        threads: 1,
        backend: Backend::Interp,
        optimize: false,
        seed: 1,
    };
    let mut mm = m.clone();
    let (plan, _) = schemes::derive_plan(&mut mm, Method::Rk4);
    let plan = plan.expect("plan");
    let interp = population::simulate(&mm, &plan, &cfg).unwrap_or_else(|d| panic!("{}", d.message));
    cfg.backend = Backend::Jit;
    let jit = population::simulate(&mm, &plan, &cfg).unwrap_or_else(|d| panic!("{}", d.message));
    for ((name, a), (_, b)) in interp.rec.traces.iter().zip(&jit.rec.traces) {
        assert!(a.iter().zip(b).all(|(p, q)| same(*p, *q)), "{name}: JIT differs from the interpreter");
    }
    for (i, &omega) in omegas.iter().enumerate() {
        let mi = model_from_source(&src(omega), "Phase");
        let mut rc = config(&mi, dt_ms, steps as f64 * dt_ms, &["theta", "x"]);
        rc.sample_every = 100;
        let reference = run(&mi, Method::Rk4, &rc);
        for (k, state) in ["theta", "x"].iter().enumerate() {
            let kernel = &interp.rec.traces.iter().find(|(n, _)| *n == format!("{state}@{i}")).expect("trace").1;
            let want = &reference.traces[k].1;
            assert_eq!(kernel.len(), want.len(), "{state}@{i}: samples");
            // the same RK4 steps; libm's sin and cos against the kernel's
            // differ by an ulp, which the dynamics carry on at ~1e-14
            let scale = want.iter().fold(0.0f64, |s, v| s.max(v.abs()));
            for (p, q) in kernel.iter().zip(want) {
                assert!((p - q).abs() <= 1e-10 * scale, "{state}@{i}: kernel {p} vs reference {q}");
            }
        }
        let last = reference.traces[0].1.last().copied().unwrap_or(0.0);
        assert!(last > 30.0, "theta@{i} ends at {last}: the phase must wind (arguments well past 2 pi)");
    }
}
