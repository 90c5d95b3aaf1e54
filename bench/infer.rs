//! Benchmark: what sensitivities and fits cost (issue 16).
//!
//!   cargo bench --bench infer
//!
//! - one HH neuron (examples/hodgkin_huxley.neuro, rk4, dt = 0.01 ms),
//!   1 s: the plain run through `Experiment::run` (V recorded every
//!   0.1 ms) against `Problem::simulate` with the sensitivities of 1, 2 and
//!   3 conductances (the same kernel with its derivative instructions),
//!   best of three; the goal is at most (1 + parameters) x the plain run;
//! - 1,000 HH neurons, 100 ms: a population run against
//!   `Problem::simulate_many` (the neurons stepped together with the
//!   sensitivities of 1, 2 and 3 conductances); same goal;
//! - a fit of the three conductances (NaT.gbar, Kdr.gbar, Leak.g) to a 1 s
//!   trace with 1 mV of noise, from 10% off; the goal is under 10 s on one
//!   core.

use neuroc::infer::{fit, Problem};
use neuroc::runtime::stream::{layers, Stream};
use neuroc::source::Span;
use neuroc::Experiment;
use std::path::Path;
use std::time::Instant;

fn best<T>(f: impl Fn() -> T) -> f64 {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// One line of the sensitivities' table: k parameters took `s` seconds.
fn row(k: usize, s: f64, plain: f64) {
    println!(
        "{:<34} {:>9.3} {:>9.2} {:>7}",
        format!("with sensitivities of {k}"),
        s,
        s / plain,
        format!("<= {}", k + 1)
    );
}

fn main() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hodgkin_huxley.neuro");
    let mut e = Experiment::load(&path).unwrap_or_else(|e| panic!("{}", e.render()));
    e.duration("1 s").sample("0.1 ms").record("V");
    let plain = best(|| e.run().unwrap_or_else(|e| panic!("{}", e.render())));
    println!("HH neuron, 1 s at dt = 0.01 ms (100,000 steps), 1 thread");
    println!("{:<34} {:>9} {:>9} {:>7}", "", "s", "x plain", "goal");
    println!("{:<34} {:>9.3} {:>9.2} {:>7}", "plain run (Experiment::run)", plain, 1.0, "");
    let all = ["NaT.gbar", "Kdr.gbar", "Leak.g"];
    for k in 1..=3 {
        let names: Vec<String> = all[..k].iter().map(|s| s.to_string()).collect();
        let run = e.configure().unwrap_or_else(|e| panic!("{}", e.render()));
        let p = Problem::new(&run, &names, "V", Span::default()).unwrap_or_else(|d| panic!("{}", d.message));
        let theta = p.values();
        let s = best(|| p.simulate(&theta).expect("simulates"));
        row(k, s, plain);
    }
    // a population: 1,000 HH neurons stepped together, plain (a population
    // run) against the same neurons with their sensitivities
    // (`Problem::simulate_many`, one parameter point per neuron)
    let n = 1000;
    let mut pop = Experiment::load(&path).unwrap_or_else(|e| panic!("{}", e.render()));
    pop.duration("100 ms").sample("1 ms").neurons(&n.to_string()).record("V[0:1]").threads("1");
    let plain_pop = best(|| pop.run().unwrap_or_else(|e| panic!("{}", e.render())));
    println!();
    println!("HH population, {n} neurons, 100 ms at dt = 0.01 ms, 1 thread");
    println!("{:<34} {:>9.3} {:>9.2} {:>7}", "plain run (population)", plain_pop, 1.0, "");
    let mut point = Experiment::load(&path).unwrap_or_else(|e| panic!("{}", e.render()));
    point.duration("100 ms").sample("1 ms");
    let run = point.configure().unwrap_or_else(|e| panic!("{}", e.render()));
    for k in 1..=3 {
        let names: Vec<String> = all[..k].iter().map(|s| s.to_string()).collect();
        let p = Problem::new(&run, &names, "V", Span::default()).unwrap_or_else(|d| panic!("{}", d.message));
        let points = vec![p.values(); n];
        let s = best(|| p.simulate_many(&points).expect("simulates"));
        row(k, s, plain_pop);
    }
    println!();
    // the fit
    let run = e.configure().unwrap_or_else(|e| panic!("{}", e.render()));
    let names: Vec<String> = all.iter().map(|s| s.to_string()).collect();
    let t0 = Instant::now();
    let p = Problem::new(&run, &names, "V", Span::default()).unwrap_or_else(|d| panic!("{}", d.message));
    let compile = t0.elapsed().as_secs_f64();
    let truth = p.values();
    let traj = p.simulate(&truth).expect("simulates");
    let mut g = Stream::new(7, 1, 0);
    let l = layers();
    let data = fit::Data { t: traj.t.clone(), y: traj.y.iter().map(|y| y + 1e-3 * g.normal(l)).collect() };
    let start: Vec<f64> = truth.iter().zip([0.9, 1.1, 0.9]).map(|(x, f)| x * f).collect();
    let t1 = Instant::now();
    let f = fit::fit(&p, &data, &start, &fit::Options::around(&start)).expect("fits");
    let secs = t1.elapsed().as_secs_f64();
    println!(
        "fit of 3 conductances to a 1 s trace ({} points): {:.2} s ({} iterations) after {:.3} s of compilation; goal < 10 s",
        data.t.len(),
        secs,
        f.iterations,
        compile
    );
    #[allow(clippy::needless_range_loop)]
    for j in 0..3 {
        println!(
            "  {:<10} {:+.3}% from the truth, 95% CI +/- {:.3}%",
            f.names[j],
            100.0 * (f.theta[j] / truth[j] - 1.0),
            196.0 * f.relative_sd[j]
        );
    }
}
