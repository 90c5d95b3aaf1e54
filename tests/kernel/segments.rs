//! Kernels cut into segments: the JIT's functions per segment, values
//! passed through the scratch block, against the kernel interpreter; and
//! the JIT's work growing linearly with the kernel.

use super::*;
use neuroc::codegen::jit::{self, Compiled};
use neuroc::kernel::{segment, Kernel};

/// A ring of `n` Wilson-Cowan units, each driven by its two neighbours:
/// its kernel grows linearly with `n`.
fn wc_ring(n: usize) -> String {
    let mut s = String::from(
        "rate Ring {\n    parameter tau = 10 ms, G = 0.3\n    \
         fn S(x, a, th) = 1 / (1 + exp(-a * (x - th))) - 1 / (1 + exp(a * th))\n",
    );
    for i in 0..n {
        s += &format!("    state E{i} = {}, I{i} = 0\n", 0.01 * (i % 10) as f64);
    }
    for i in 0..n {
        let (l, r) = ((i + n - 1) % n, (i + 1) % n);
        s += &format!(
            "    dE{i}/dt = (-E{i} + (1 - E{i}) * S(16 * E{i} - 12 * I{i} + 1.25 + G * (E{l} + E{r}), 1.3, 4)) / tau\n"
        );
        s += &format!("    dI{i}/dt = (-I{i} + (1 - I{i}) * S(15 * E{i} - 3 * I{i}, 2, 3.7)) / tau\n");
    }
    s + "}\n"
}

/// The kernel of `m` under `method` for `n` neurons (with `spread` over
/// the population when given).
fn kernel_of(m: &neuroc::ir::Model, method: Method, n: usize, dt_ms: f64, spread: Option<(usize, Vec<f64>)>) -> Kernel {
    let mut m = m.clone();
    let (plan, _) = schemes::derive_plan(&mut m, method);
    let mut cfg = pop_config(&m, n, dt_ms, 1, Backend::Interp, 1);
    cfg.per_neuron = spread.into_iter().collect();
    population::build_kernel(&m, &plan.expect("plan"), &cfg).unwrap_or_else(|d| panic!("{}", d.message)).0
}

/// States to start from, different per neuron: V near rest, the others
/// (gates, rates) small, no refractory period running.
fn initial(k: &Kernel, n: usize) -> Vec<Vec<f64>> {
    k.states
        .iter()
        .map(|name| {
            (0..n)
                .map(|i| match name.as_str() {
                    "V" => -65e-3 + 1e-3 * (i % 7) as f64,
                    "refractory_until" => f64::NEG_INFINITY,
                    _ => 0.05 + 0.01 * (i % 5) as f64,
                })
                .collect()
        })
        .collect()
}

/// The final states and the spikes (step, neuron, time's bits), sorted.
type Run = (Vec<Vec<f64>>, Vec<(usize, usize, u64)>);

/// Steps `k` `steps` times from `init` with parameter arrays `params`: by
/// the kernel interpreter (`code` None) or by compiled code.
fn run_kernel(k: &Kernel, code: Option<&Compiled>, init: &[Vec<f64>], params: &[Vec<f64>], steps: usize) -> Run {
    let mut states = init.to_vec();
    let n = states[0].len();
    let emitting = k.events.iter().filter(|e| e.emits).count().max(1);
    let (mut idx, mut tim) = (vec![0i64; n * emitting], vec![0.0; n * emitting]);
    let mut spikes = Vec::new();
    for s in 0..steps {
        let (t, t_next) = (s as f64 * k.dt, (s + 1) as f64 * k.dt);
        match code {
            None => {
                let mut st: Vec<&mut [f64]> = states.iter_mut().map(|v| v.as_mut_slice()).collect();
                let pa: Vec<&[f64]> = params.iter().map(|v| v.as_slice()).collect();
                let mut fired = Vec::new();
                neuroc::kernel::interp::step(k, &mut st, &pa, t, t_next, &mut fired);
                spikes.extend(fired.into_iter().map(|(i, at)| (s, i, at.to_bits())));
            }
            Some(c) => {
                let st: Vec<*mut f64> = states.iter_mut().map(|v| v.as_mut_ptr()).collect();
                let pa: Vec<*const f64> = params.iter().map(|v| v.as_ptr()).collect();
                // SAFETY: one array of n values per state and per parameter,
                // room for n spikes per emitting event.
                let count = unsafe { c.call(&st, &pa, n, (t, t_next), &mut idx, &mut tim) };
                spikes.extend((0..count).map(|j| (s, idx[j] as usize, tim[j].to_bits())));
            }
        }
    }
    spikes.sort();
    (states, spikes)
}

fn assert_same(a: &Run, b: &Run, what: &str) {
    assert_eq!(a.1, b.1, "{what}: spikes");
    for (s, (x, y)) in a.0.iter().zip(&b.0).enumerate() {
        for (i, (p, q)) in x.iter().zip(y).enumerate() {
            assert!(
                p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan()),
                "{what}: state {s} of neuron {i}: {p} vs {q}"
            );
        }
    }
}

/// Segments of about 20 instructions (dozens of functions, values and
/// masks passed through slots, two chunks of neurons with every path of
/// the loop, spikes renumbered per chunk) give the interpreter's results
/// bit for bit, as the uncut kernel does.
#[test]
fn kernels_cut_into_small_segments_equal_the_interpreter() {
    let n = 103; // a chunk of 64, then 39 = 4 * 9 + 2 + 1: every path of the loop
    let hh = model_from_file("examples/hodgkin_huxley.neuro", "Squid");
    let spread = |m: &neuroc::ir::Model| (m.param("I_amp").unwrap(), (0..n).map(|i| 0.2e-2 * i as f64).collect());
    let tabulated = tabulated_hh(Some("table V in [-100 mV, 100 mV], step = 0.1 mV"));
    let ring = model_from_source(&wc_ring(3), "Ring");
    let cases = [
        ("HH rk4", kernel_of(&hh, Method::Rk4, n, 0.025, Some(spread(&hh))), 2000),
        ("tabulated HH", kernel_of(&tabulated, Method::Auto, n, 0.025, Some(spread(&tabulated))), 2000),
        ("ring rk4", kernel_of(&ring, Method::Rk4, n, 0.1, None), 200),
    ];
    let mut masks_passed = false;
    for (what, k, steps) in cases {
        let cut = segment::cut(&k, 20);
        masks_passed |= cut.list.iter().flat_map(|s| &s.imports).any(|(v, _)| k.insts[*v as usize].is_mask());
        let params: Vec<Vec<f64>> = if k.params.is_empty() { vec![] } else { vec![spread(&hh).1] };
        let init = initial(&k, n);
        let interp = run_kernel(&k, None, &init, &params, steps);
        let whole = jit::compile(&k, false).expect("jit");
        let cut_code = jit::compile_segmented(&k, false, 20).expect("segmented jit");
        assert_eq!(whole.segments, 1, "{what}: a small kernel is one function");
        assert!(cut_code.segments >= 10, "{what}: only {} segments", cut_code.segments);
        assert_same(&interp, &run_kernel(&k, Some(&whole), &init, &params, steps), &format!("{what}, whole"));
        assert_same(&interp, &run_kernel(&k, Some(&cut_code), &init, &params, steps), &format!("{what}, cut"));
        if what != "ring rk4" {
            assert!(interp.1.len() > 100, "{what}: only {} spikes", interp.1.len());
        }
    }
    assert!(masks_passed, "some segment reads a mask from an earlier one");
}

/// A ring of N and of 4N units: the kernel, the number of segments, the
/// Cranelift instructions and the scratch slots grow 4 times (at most
/// 4.5), and no segment weighs more than the limit (plus one instruction).
#[test]
fn jit_work_grows_linearly_with_the_kernel() {
    let measure = |units: usize| {
        let m = model_from_source(&wc_ring(units), "Ring");
        let k = kernel_of(&m, Method::Rk4, 2, 0.1, None);
        let cut = segment::cut(&k, jit::SEGMENT_WEIGHT);
        let heaviest = cut.list.iter().map(|s| k.insts[s.insts.clone()].iter().map(segment::weight).sum::<usize>());
        assert!(heaviest.max().unwrap_or(0) <= jit::SEGMENT_WEIGHT + 60, "a segment over the limit");
        let code = jit::compile(&k, false).expect("jit");
        // and the code computes what the interpreter does
        let init = initial(&k, 2);
        assert_same(&run_kernel(&k, None, &init, &[], 20), &run_kernel(&k, Some(&code), &init, &[], 20), "ring");
        [k.insts.len(), code.segments, code.clif_insts, cut.slots.max(1)]
    };
    let small = measure(16);
    let big = measure(64);
    for (what, (a, b)) in
        ["kernel instructions", "segments", "Cranelift instructions", "slots"].iter().zip(small.iter().zip(&big))
    {
        let ratio = *b as f64 / *a as f64;
        assert!(ratio <= 4.5, "{what}: {a} for 16 units, {b} for 64 ({ratio:.2}x)");
    }
    assert!(small[1] > 1, "the small ring is cut too ({} segment)", small[1]);
}

/// A network's neuron reads its ports' inputs and, compiled, clears them
/// as it reads them ([`Kernel::consumed`]): whole, split around its events
/// and cut into segments, the states and spikes are the interpreter's bit
/// for bit, and every input slot is zero after each step.
#[test]
fn compiled_kernels_clear_the_inputs_they_consume() {
    let m = model_from_file("examples/cuba.neuro", "CubaLIF");
    let mut m2 = m.clone();
    let (plan, _) = schemes::derive_plan(&mut m2, Method::Auto);
    let plan = plan.expect("plan");
    let (_, params) =
        population::build_kernel(&m2, &plan, &pop_config(&m2, 1, 0.1, 1, Backend::Interp, 1)).expect("kernel");
    let ports = ["exc".to_string(), "inh".to_string()];
    let overrides = vec![None; m2.values.len()];
    let k = neuroc::kernel::build_with_ports(&m2, &plan, &params, &[], &overrides, &ports, 1e-4).expect("kernel");
    let k = Kernel { consumed: ports.len(), ..k };
    assert_eq!(k.params.len(), 2, "the two ports' inputs are its parameters");
    let n = 103;
    // inputs that make some neurons fire: different per neuron and step
    let input = |s: usize, port: usize, i: usize| {
        if port == 0 {
            1e-3 * ((i + s) % 7) as f64
        } else {
            -2e-3 * f64::from(u8::from((i * s).is_multiple_of(3)))
        }
    };
    let init: Vec<Vec<f64>> = k
        .states
        .iter()
        .map(|name| {
            (0..n)
                .map(|i| {
                    if name == "V" {
                        -60e-3 + 1e-4 * i as f64
                    } else if name == "refractory_until" {
                        f64::NEG_INFINITY
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect();
    let steps = 400;
    let run = |code: Option<&Compiled>| -> Run {
        let mut states = init.clone();
        let mut inputs = vec![vec![0.0; n]; ports.len()];
        let (mut idx, mut tim) = (vec![0i64; n], vec![0.0; n]);
        let mut spikes = Vec::new();
        for s in 0..steps {
            for (p, slot) in inputs.iter_mut().enumerate() {
                for (i, x) in slot.iter_mut().enumerate() {
                    *x += input(s, p, i);
                }
            }
            let (t, t_next) = (s as f64 * k.dt, (s + 1) as f64 * k.dt);
            match code {
                None => {
                    let mut st: Vec<&mut [f64]> = states.iter_mut().map(|v| v.as_mut_slice()).collect();
                    let pa: Vec<&[f64]> = inputs.iter().map(|v| v.as_slice()).collect();
                    let mut fired = Vec::new();
                    neuroc::kernel::interp::step(&k, &mut st, &pa, t, t_next, &mut fired);
                    spikes.extend(fired.into_iter().map(|(i, at)| (s, i, at.to_bits())));
                    // the interpreter leaves the clearing to its caller
                    inputs.iter_mut().for_each(|v| v.fill(0.0));
                }
                Some(c) => {
                    let st: Vec<*mut f64> = states.iter_mut().map(|v| v.as_mut_ptr()).collect();
                    let pa: Vec<*const f64> = inputs.iter_mut().map(|v| v.as_mut_ptr().cast_const()).collect();
                    // SAFETY: one array of n values per state and per input
                    // (writable: the kernel clears them), room for n spikes.
                    let count = unsafe { c.call(&st, &pa, n, (t, t_next), &mut idx, &mut tim) };
                    spikes.extend((0..count).map(|j| (s, idx[j] as usize, tim[j].to_bits())));
                    for (p, slot) in inputs.iter().enumerate() {
                        assert!(slot.iter().all(|&x| x == 0.0), "port {p}'s input is left after step {s}");
                    }
                }
            }
        }
        spikes.sort();
        (states, spikes)
    };
    let interp = run(None);
    assert!(interp.1.len() > 50, "only {} spikes", interp.1.len());
    let whole = jit::compile(&k, false).expect("jit");
    assert_same(&interp, &run(Some(&whole)), "whole");
    let cut = jit::compile_segmented(&k, false, 8).expect("segmented jit");
    assert!(cut.segments >= 2, "only {} segment", cut.segments);
    assert_same(&interp, &run(Some(&cut)), "cut");
}
