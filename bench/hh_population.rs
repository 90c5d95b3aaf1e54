//! Benchmark: the HH population (examples/hh_population.neuro) on every
//! back end, with ratios measured in this one run.
//!
//!   cargo bench --bench hh_population            # N = 100000, 1000 steps
//!   NEUROC_BENCH_N=20000 NEUROC_BENCH_STEPS=200 cargo bench --bench hh_population
//!
//! Baselines written by hand in Rust, for the same scheme (exponential
//! Euler for the gates and for V, dt = 0.01 ms): one with libm `exp`
//! (scalar), one with the kernels' polynomial exp compiled for the CPU's
//! vector extensions (AVX2/AVX-512 + FMA where present), which LLVM
//! auto-vectorizes: the native ceiling Cranelift is compared with.
//!
//! The example tabulates its rates in V (`table V in [-100 mV, 100 mV],
//! step = 0.1 mV`); the JIT is timed with the tables and without them
//! (every rate computed exactly, as the two hand loops above do), and a
//! third hand loop reads a table of the same spacing (alpha, beta and
//! e^{-(alpha + beta) dt} per gate, interpolated linearly), compiled for
//! the CPU's vector extensions: like against like for the tabulated JIT.

#[path = "common.rs"]
mod common;
use common::peak_rss_mib;
use neuroc::kernel::kmath;
use neuroc::runtime::population::{self, Backend, PopConfig};
use neuroc::schemes::{self, Method};
use std::time::Instant;

/// The current switches on at the start (the example waits 10 ms): the
/// timed steps are of firing neurons, whose V sweeps the whole table.
const T_ON: f64 = 0.0;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

// The squid axon's constants, SI: F/m^2, S/m^2, V.
const C: f64 = 0.01;
const GNA: f64 = 1200.0;
const GK: f64 = 360.0;
const GL: f64 = 3.0;
const ENA: f64 = 0.05;
const EK: f64 = -0.077;
const EL: f64 = -0.054387;

/// V after one exponential-Euler step, given the gates and the input.
#[inline(always)]
fn membrane(v: f64, (m, h, n): (f64, f64, f64), input: f64, dt: f64, exp: &impl Fn(f64) -> f64) -> f64 {
    let gna = GNA * m * m * m * h;
    let gk = GK * n * n * n * n;
    let g = gna + gk + GL;
    let vinf = (gna * ENA + gk * EK + GL * EL + input) / g;
    vinf + (v - vinf) * exp(-g / C * dt)
}

/// The hand loops' neurons: V (volts) and the three gates.
struct Cells {
    v: Vec<f64>,
    m: Vec<f64>,
    h: Vec<f64>,
    n: Vec<f64>,
}

impl Cells {
    /// `n` neurons at rest.
    fn at_rest(n: usize) -> Cells {
        Cells { v: vec![-0.065; n], m: vec![0.0529324852; n], h: vec![0.5961207; n], n: vec![0.3176769; n] }
    }
}

/// One hand-written HH step, with the rates computed (`tab` = None) or
/// read from a table, and a chosen exp.
#[inline(always)]
fn hand_step(c: &mut Cells, amp: &[f64], t: f64, dt: f64, tab: Option<&HandTable>, exp: impl Fn(f64) -> f64) {
    match tab {
        None => hh_step(c, amp, t, dt, exp),
        Some(tab) => hh_step_table(c, amp, t, dt, tab, exp),
    }
}

/// Hand-written HH step (SI units), exponential Euler, with a chosen exp.
#[inline(always)]
fn hh_step(c: &mut Cells, amp: &[f64], t: f64, dt: f64, exp: impl Fn(f64) -> f64) {
    let Cells { v, m, h, n } = c;
    let on = if t >= T_ON { 1.0 } else { 0.0 };
    for i in 0..v.len() {
        let vm = v[i] * 1e3; // mV
        let efun = |u: f64| if u.abs() < 1e-4 { 1.0 - u * 0.5 + u * u / 12.0 } else { u / (exp(u) - 1.0) };
        let am = 1e3 * 0.1 * 10.0 * efun(-(vm + 40.0) / 10.0);
        let bm = 1e3 * 4.0 * exp(-(vm + 65.0) / 18.0);
        let ah = 1e3 * 0.07 * exp(-(vm + 65.0) / 20.0);
        let bh = 1e3 / (1.0 + exp(-(vm + 35.0) / 10.0));
        let an = 1e3 * 0.01 * 10.0 * efun(-(vm + 55.0) / 10.0);
        let bn = 1e3 * 0.125 * exp(-(vm + 65.0) / 80.0);
        let gate = |x: f64, a: f64, b: f64| {
            let s = a + b;
            let inf = a / s;
            inf + (x - inf) * exp(-s * dt)
        };
        let (mi, hi, ni) = (m[i], h[i], n[i]);
        v[i] = membrane(v[i], (mi, hi, ni), amp[i] * on, dt, &exp);
        m[i] = gate(mi, am, bm);
        h[i] = gate(hi, ah, bh);
        n[i] = gate(ni, an, bn);
    }
}

/// The hand loop's rate table: per row of V (mV, from -100 in steps of
/// 0.1), for m, h, n: (alpha, beta, e^{-(alpha + beta) dt}) and the
/// differences to the next row.
struct HandTable {
    /// per row: 9 values, then their 9 differences to the next row
    rows: Vec<[f64; 18]>,
}

const TAB_LO: f64 = -100.0;
const TAB_STEP: f64 = 0.1;

fn hand_table(dt: f64) -> HandTable {
    let rows = 2001;
    let efun = |u: f64| if u.abs() < 1e-4 { 1.0 - u * 0.5 + u * u / 12.0 } else { u / (u.exp() - 1.0) };
    let mut y = vec![0.0; rows * 9];
    for r in 0..rows {
        let vm = TAB_LO + r as f64 * TAB_STEP;
        let rates = [
            (1e3 * 0.1 * 10.0 * efun(-(vm + 40.0) / 10.0), 1e3 * 4.0 * (-(vm + 65.0) / 18.0).exp()),
            (1e3 * 0.07 * (-(vm + 65.0) / 20.0).exp(), 1e3 / (1.0 + (-(vm + 35.0) / 10.0).exp())),
            (1e3 * 0.01 * 10.0 * efun(-(vm + 55.0) / 10.0), 1e3 * 0.125 * (-(vm + 65.0) / 80.0).exp()),
        ];
        for (g, (a, b)) in rates.into_iter().enumerate() {
            y[r * 9 + 3 * g] = a;
            y[r * 9 + 3 * g + 1] = b;
            y[r * 9 + 3 * g + 2] = (-(a + b) * dt).exp();
        }
    }
    let rows = (0..rows)
        .map(|r| {
            let mut row = [0.0; 18];
            for c in 0..9 {
                row[c] = y[r * 9 + c];
                row[9 + c] = if r + 1 < rows { y[(r + 1) * 9 + c] - y[r * 9 + c] } else { 0.0 };
            }
            row
        })
        .collect();
    HandTable { rows }
}

/// Hand-written HH step with tabulated rates; V's own propagator exact.
#[inline(always)]
fn hh_step_table(c: &mut Cells, amp: &[f64], t: f64, dt: f64, tab: &HandTable, exp: impl Fn(f64) -> f64) {
    let Cells { v, m, h, n } = c;
    let on = if t >= T_ON { 1.0 } else { 0.0 };
    let top = (tab.rows.len() - 1) as f64;
    for i in 0..v.len() {
        let u = ((v[i] * 1e3 - TAB_LO) * (1.0 / TAB_STEP)).clamp(0.0, top);
        let fl = u.floor();
        let f = u - fl;
        let row = &tab.rows[fl as usize];
        let col = |c: usize| f.mul_add(row[9 + c], row[c]);
        let gate = |x: f64, c: usize| {
            let (a, b, e) = (col(c), col(c + 1), col(c + 2));
            let inf = a / (a + b);
            inf + (x - inf) * e
        };
        let (mi, hi, ni) = (m[i], h[i], n[i]);
        v[i] = membrane(v[i], (mi, hi, ni), amp[i] * on, dt, &exp);
        m[i] = gate(mi, 0);
        h[i] = gate(hi, 3);
        n[i] = gate(ni, 6);
    }
}

/// `hand_step` with the kernels' polynomial exp, compiled for a CPU's
/// vector extensions (LLVM auto-vectorizes the loop).
macro_rules! native_step {
    ($name:ident, $features:literal) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        unsafe fn $name(c: &mut Cells, amp: &[f64], t: f64, dt: f64, tab: Option<&HandTable>) {
            hand_step(c, amp, t, dt, tab, kmath::exp)
        }
    };
}
native_step!(hand_step_avx512, "avx512f,avx512dq,avx2,fma");
native_step!(hand_step_avx2, "avx2,fma");

fn time_per_neuron_step(n: usize, steps: usize, mut f: impl FnMut(usize)) -> f64 {
    // one warm-up step
    f(0);
    let start = Instant::now();
    for s in 1..=steps {
        f(s);
    }
    start.elapsed().as_secs_f64() * 1e9 / (n * steps) as f64
}

fn main() {
    let n = env("NEUROC_BENCH_N", 100_000);
    let steps = env("NEUROC_BENCH_STEPS", 1000);
    let dt = 1e-5;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/hh_population.neuro");
    let text = std::fs::read_to_string(path).expect("examples/hh_population.neuro");
    assert!(text.contains("parameter t_on = 10 ms"), "the example's t_on");
    let text = text.replace("parameter t_on = 10 ms", "parameter t_on = 0 ms");

    // Source to first simulated step: parse, check, derive, JIT-compile.
    let t_front = Instant::now();
    let c = neuroc::compile_source(path, &text, Some(std::path::PathBuf::from(path)));
    let mut m = c.model("SquidCell").expect("model").clone();
    let (plan, _) = schemes::derive_plan(&mut m, Method::Auto);
    let plan = plan.expect("plan");
    let front_ms = t_front.elapsed().as_secs_f64() * 1e3;
    assert!(!m.tables.is_empty(), "the example tabulates its rates");
    let mut exact = m.clone();
    exact.tables.clear();
    let amp_param = m.param("I_amp").expect("I_amp");
    let amps: Vec<f64> = (0..n).map(|i| 0.2 * i as f64 / (n.max(2) - 1) as f64).collect();
    let cfg = |backend, threads, optimize, steps: usize| PopConfig {
        n,
        dt,
        duration: steps as f64 * dt,
        per_neuron: vec![(amp_param, amps.clone())],
        param_overrides: vec![None; m.params.len()],
        value_overrides: vec![None; m.values.len()],
        init_per_neuron: vec![],
        record: vec![],
        record_neurons: vec![0],
        sample_every: 1,
        mean_of: vec![],
        threads,
        backend,
        optimize,
        seed: 1,
    };
    let t_build = Instant::now();
    let (kernel, _) = population::build_kernel(&m, &plan, &cfg(Backend::Jit, 1, false, 1)).expect("kernel");
    let table_ms = t_build.elapsed().as_secs_f64() * 1e3;
    let (exact_kernel, _) = population::build_kernel(&exact, &plan, &cfg(Backend::Jit, 1, false, 1)).expect("kernel");
    let mut compile = Vec::new();
    for (k, opt) in [(&kernel, false), (&kernel, true), (&exact_kernel, false)] {
        let c = neuroc::codegen::jit::compile(k, opt).expect("jit");
        compile.push(c.compile_seconds * 1e3);
    }
    let run = |model: &neuroc::ir::Model, backend, threads, optimize, steps: usize| {
        let start = Instant::now();
        let r = population::simulate(model, &plan, &cfg(backend, threads, optimize, steps)).expect("run");
        let wall = start.elapsed().as_secs_f64() - r.compile_seconds;
        (wall * 1e9 / (n * steps) as f64, r.spikes.len())
    };
    let (jit_none, spikes_jit) = run(&m, Backend::Jit, 1, false, steps);
    let (jit_speed, _) = run(&m, Backend::Jit, 1, true, steps);
    let (jit_2t, _) = run(&m, Backend::Jit, 2, false, steps);
    let (jit_exact, _) = run(&exact, Backend::Jit, 1, false, steps);
    let (jit_exact_speed, _) = run(&exact, Backend::Jit, 1, true, steps);
    let interp_steps = (steps / 50).max(2);
    let (interp, _) = run(&m, Backend::Interp, 1, false, interp_steps);

    // Hand-written baselines: exact rates and a table, scalar libm and
    // compiled for the CPU's widest vectors.
    let tab = hand_table(dt);
    let hand = |tab: Option<&HandTable>| {
        let mut c = Cells::at_rest(n);
        time_per_neuron_step(n, steps, |s| hand_step(&mut c, &amps, s as f64 * dt, dt, tab, f64::exp))
    };
    let (libm, table_libm) = (hand(None), hand(Some(&tab)));
    type NativeStep = unsafe fn(&mut Cells, &[f64], f64, f64, Option<&HandTable>);
    #[allow(unused_mut)]
    let mut cpu: Option<(NativeStep, &str)> = None;
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512dq")
            && is_x86_feature_detected!("fma")
        {
            cpu = Some((hand_step_avx512, "AVX-512 + FMA"));
        } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            cpu = Some((hand_step_avx2, "AVX2 + FMA"));
        }
    }
    let vectorized = |tab: Option<&HandTable>| match cpu {
        Some((f, name)) => {
            let mut c = Cells::at_rest(n);
            // SAFETY: the CPU has the features the function is compiled for.
            (time_per_neuron_step(n, steps, |s| unsafe { f(&mut c, &amps, s as f64 * dt, dt, tab) }), name)
        }
        None => (f64::NAN, "none"),
    };
    let native = vectorized(None);
    let table_native = vectorized(Some(&tab)).0;

    println!("HH population: N = {n}, {steps} steps of {} ms ({} spikes under the JIT)", dt * 1e3, spikes_jit);
    println!(
        "  source to first step: front end + schemes {front_ms:.2} ms, + kernel with its rate table {table_ms:.2} ms, + JIT {:.2} ms = {:.2} ms",
        compile[0],
        front_ms + table_ms + compile[0]
    );
    let t = &kernel.tables[0];
    println!(
        "  JIT compile time: {:.2} ms (opt none), {:.2} ms (opt speed); {} kernel ops; without tables {:.2} ms, {} ops",
        compile[0],
        compile[1],
        kernel.insts.len(),
        compile[2],
        exact_kernel.insts.len()
    );
    println!(
        "  rate table: {} columns x {} rows ({} KiB); largest interpolation error {:.1e} of a column's scale",
        t.cols,
        t.rows,
        t.bytes().div_ceil(1024),
        t.worst_relative()
    );
    println!("  ns per neuron-step:");
    println!("    JIT f64x2, tables, opt none   {jit_none:8.2}");
    println!("    JIT f64x2, tables, opt speed  {jit_speed:8.2}");
    println!("    JIT, tables, 2 threads        {jit_2t:8.2}   (speed-up {:.2}x)", jit_none / jit_2t);
    println!("    JIT f64x2, exact, opt none    {jit_exact:8.2}");
    println!("    JIT f64x2, exact, opt speed   {jit_exact_speed:8.2}");
    println!("    kernel interpreter, tables    {interp:8.2}   ({interp_steps} steps)");
    println!("    hand Rust, exact, libm exp    {libm:8.2}");
    println!("    hand Rust, exact, {:<14} {:8.2}   (LLVM auto-vectorized)", native.1, native.0);
    println!("    hand Rust, tables, libm exp   {table_libm:8.2}");
    println!("    hand Rust, tables, {:<13} {:8.2}   (LLVM auto-vectorized)", native.1, table_native);
    // "1.70x faster" or "1.33x slower": how `ours` compares with `theirs`
    let ratio = |ours: f64, theirs: f64| {
        if ours <= theirs {
            format!("{:.2}x faster", theirs / ours)
        } else {
            format!("{:.2}x slower", ours / theirs)
        }
    };
    println!("  ratios (JIT with tables unless said):");
    println!("    JIT vs hand exact libm loop:        {}", ratio(jit_none, libm));
    println!("    JIT vs hand exact vectorized loop:  {}", ratio(jit_none, native.0));
    println!("    JIT vs hand tabulated libm loop:    {}", ratio(jit_none, table_libm));
    println!("    JIT vs hand tabulated vectorized:   {}", ratio(jit_none, table_native));
    println!("    JIT exact vs hand exact libm loop:  {}", ratio(jit_exact, libm));
    println!("    JIT exact vs hand exact vectorized: {}", ratio(jit_exact, native.0));
    println!("    tables vs exact (JIT):              {}", ratio(jit_none, jit_exact));
    println!("    JIT vs kernel interpreter:          {}", ratio(jit_none, interp));
    println!("  peak memory: {:.1} MiB (state {:.1} MiB)", peak_rss_mib(), (n * 6 * 8) as f64 / 1048576.0);
}
