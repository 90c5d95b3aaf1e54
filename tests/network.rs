//! Spiking networks against the Brette et al. (2007) benchmarks as run by
//! Brian2 and NEST (tests/reference/network/README.md).

mod common;

use common::{mean_field, mean_field_at, repo, siegert_cv};
use std::path::PathBuf;
use std::process::Command;

/// Writes `src` to a fresh directory and runs `neuroc run` on it with
/// `args`; returns the output and the output directory.
fn run_source(tag: &str, src: &str, args: &[&str]) -> (std::process::Output, PathBuf) {
    run_source_with(tag, src, args, &[])
}

/// `run_source` with environment variables set for the run.
fn run_source_with(tag: &str, src: &str, args: &[&str], envs: &[(&str, &str)]) -> (std::process::Output, PathBuf) {
    let dir =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("neuroc-net-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("net.neuro");
    std::fs::write(&file, src).unwrap();
    let out = dir.join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_neuroc"))
        .args(["run", file.to_str().unwrap(), "-o", out.to_str().unwrap()])
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    (o, out)
}

/// `run_source` that must succeed; returns spikes.csv as (neuron, t_ms).
fn spikes_of(tag: &str, src: &str, args: &[&str]) -> Vec<(usize, f64)> {
    let (o, out) = run_source(tag, src, args);
    assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    first_columns(&out.join("spikes.csv"))
}

/// The first two columns of a CSV file with a header, parsed.
fn first_columns<A: std::str::FromStr, B: std::str::FromStr>(path: &std::path::Path) -> Vec<(A, B)>
where
    A::Err: std::fmt::Debug,
    B::Err: std::fmt::Debug,
{
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let mut it = l.split(',');
            (it.next().unwrap().parse().unwrap(), it.next().unwrap().parse().unwrap())
        })
        .collect()
}

/// Runs an example with another seed; returns (E rate, I rate) in Hz and
/// the spikes.
fn rates(example: &str, seed: u32, tag: &str) -> (f64, f64, Vec<(usize, f64)>) {
    let text = std::fs::read_to_string(repo(example)).unwrap().replace("seed = 1", &format!("seed = {seed}"));
    let spikes = spikes_of(&format!("{tag}-{seed}"), &text, &[]);
    let e = spikes.iter().filter(|s| s.0 < 3200).count();
    let i = spikes.len() - e;
    (e as f64 / 3200.0, i as f64 / 800.0, spikes)
}

fn within(rate: f64, reference: f64, tol: f64) -> bool {
    ((rate - reference) / reference).abs() < tol
}

/// CUBA: LIF, current-based exponential synapses. Mean of Brian2 (6.16,
/// 5.72 Hz) and NEST (5.49, 5.59 Hz); within 15% for each seed (the two
/// engines differ by up to 11%, the rate depends on the random connectivity).
#[test]
fn cuba_rates_match_brian2_and_nest() {
    let (ref_e, ref_i) = ((6.16 + 5.49) / 2.0, (5.72 + 5.59) / 2.0);
    for seed in [1, 2, 3] {
        let (e, i, _) = rates("examples/cuba.neuro", seed, "cuba");
        assert!(within(e, ref_e, 0.15), "seed {seed}: E {e} Hz vs {ref_e}");
        assert!(within(i, ref_i, 0.15), "seed {seed}: I {i} Hz vs {ref_i}");
    }
}

/// COBAHH: Traub-Miles HH, conductance-based exponential synapses. Mean of
/// Brian2 (40.8, 37.8 Hz) and NEST (38.2, 38.3 Hz); within 15%.
#[test]
fn cobahh_rates_match_brian2_and_nest() {
    let (ref_e, ref_i) = ((40.8 + 38.2) / 2.0, (37.8 + 38.3) / 2.0);
    for seed in [1, 2] {
        let (e, i, _) = rates("examples/cobahh.neuro", seed, "cobahh");
        assert!(within(e, ref_e, 0.15), "seed {seed}: E {e} Hz vs {ref_e}");
        assert!(within(i, ref_i, 0.15), "seed {seed}: I {i} Hz vs {ref_i}");
    }
}

#[test]
fn same_seed_same_spikes() {
    let (_, _, a) = rates("examples/cuba.neuro", 7, "same-a");
    let (_, _, b) = rates("examples/cuba.neuro", 7, "same-b");
    assert_eq!(a, b);
    let (_, _, c) = rates("examples/cuba.neuro", 8, "same-c");
    assert_ne!(a, c);
}

/// A LIF driven by excitatory and inhibitory Poisson input (mu = 20 mV,
/// sigma = 5 mV in the diffusion limit) fires at the Siegert rate of
/// tests/reference/density/siegert_grid.csv, with its CV of ISIs.
#[test]
fn poisson_driven_lif_matches_siegert() {
    let grid = std::fs::read_to_string(repo("tests/reference/density/siegert_grid.csv")).unwrap();
    let row: Vec<f64> = grid
        .lines()
        .find(|l| l.starts_with("20,5,"))
        .unwrap()
        .split(',')
        .map(|x| x.parse().unwrap_or(f64::NAN))
        .collect();
    let (siegert, cv_ref) = (row[2], row[4]);
    let src = "neuron DeltaLIF {\n    parameter tau = 20 ms, V_th = 20 mV, V_r = 10 mV, t_ref = 2 ms\n    state V = 0 mV\n    dV/dt = -V / tau\n    on spike exc(w: mV) { V += w }\n    on spike inh(w: mV) { V -= w }\n    on V >= V_th { V = V_r; emit spike; refractory t_ref }\n}\nnetwork Driven {\n    population P = 300 x DeltaLIF\n    drive P with poisson(rate = 67.5 kHz, w = 0.1 mV) via exc\n    drive P with poisson(rate = 57.5 kHz, w = 0.1 mV) via inh\n}\nsimulate Driven { dt = 0.025 ms, duration = 1.5 s, seed = 1, V = uniform(0 mV, 20 mV) }\n";
    let mut per: Vec<Vec<f64>> = vec![Vec::new(); 300];
    for (id, t) in spikes_of("siegert", src, &[]) {
        per[id].push(t);
    }
    // skip the first 200 ms (the start from uniform V)
    let rate = per.iter().map(|s| s.iter().filter(|&&t| t > 200.0).count()).sum::<usize>() as f64 / 300.0 / 1.3;
    // shot noise and the discrete step bias the rate a few percent low (the
    // README's Monte Carlo sits 1% low at dt = 0.01 ms); 12,000 spikes give 1% noise
    assert!(((rate - siegert) / siegert).abs() < 0.06, "rate {rate} Hz vs Siegert {siegert} Hz");
    let mut cvs = Vec::new();
    for s in &per {
        let isi: Vec<f64> = s.windows(2).map(|w| w[1] - w[0]).collect();
        if isi.len() > 5 {
            let m = isi.iter().sum::<f64>() / isi.len() as f64;
            let sd = (isi.iter().map(|x| (x - m).powi(2)).sum::<f64>() / isi.len() as f64).sqrt();
            cvs.push(sd / m);
        }
    }
    let cv = cvs.iter().sum::<f64>() / cvs.len() as f64;
    assert!(((cv - cv_ref) / cv_ref).abs() < 0.1, "CV {cv} vs {cv_ref}");
}

/// Runs one network of examples/brunel2000.neuro for `ms` milliseconds;
/// returns every spike as (neuron, t_ms).
fn brunel(model: &str, ms: u32) -> Vec<(usize, f64)> {
    let text = std::fs::read_to_string(repo("examples/brunel2000.neuro")).unwrap();
    let text = text.replace("duration = 1 s", &format!("duration = {ms} ms"));
    spikes_of(&format!("brunel-{model}"), &text, &["--model", model])
}

/// Power of the population rate (0.5 ms bins after `from` ms) at its
/// strongest frequency, over the median power: a measure of oscillation.
fn oscillation(spikes: &[(usize, f64)], from: f64, to: f64) -> (f64, f64) {
    let bins = ((to - from) / 0.5) as usize;
    let mut h = vec![0.0; bins];
    for &(_, t) in spikes {
        if t > from && t < to {
            h[(((t - from) / 0.5) as usize).min(bins - 1)] += 1.0;
        }
    }
    let mean = h.iter().sum::<f64>() / bins as f64;
    let mut power: Vec<(f64, f64)> = (1..bins / 2)
        .map(|k| {
            let (mut re, mut im) = (0.0, 0.0);
            for (n, x) in h.iter().enumerate() {
                let ph = 2.0 * std::f64::consts::PI * (k * n) as f64 / bins as f64;
                re += (x - mean) * ph.cos();
                im -= (x - mean) * ph.sin();
            }
            (k as f64 / (bins as f64 * 0.5e-3), re * re + im * im)
        })
        .collect();
    let (f_peak, p_peak) = power.iter().cloned().fold((0.0, 0.0), |a, b| if b.1 > a.1 { b } else { a });
    power.sort_by(|a, b| a.1.total_cmp(&b.1));
    (f_peak, p_peak / power[power.len() / 2].1)
}

/// The rate and CV helpers against the reference grid (scipy's erfcx and
/// mpmath), wherever the neuron fires at all.
#[test]
fn siegert_helper_matches_the_reference_grid() {
    let grid = std::fs::read_to_string(repo("tests/reference/density/siegert_grid.csv")).unwrap();
    let mut checked = 0;
    for line in grid.lines().skip(2) {
        let v: Vec<f64> = line.split(',').map(|x| x.parse().unwrap_or(f64::NAN)).collect();
        if v[2] > 0.1 {
            let (nu, cv) = siegert_cv(v[0], v[1]);
            assert!((nu - v[2]).abs() < 1e-4 * v[2], "mu {} sigma {}: rate {nu} vs {}", v[0], v[1], v[2]);
            assert!((cv - v[4]).abs() < 1e-3 * v[4], "mu {} sigma {}: CV {cv} vs {}", v[0], v[1], v[4]);
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} grid points fire");
}

/// Rate (Hz per neuron), mean CV of ISIs (neurons with more than 5 spikes)
/// and the Fano factor of the population count in 1 ms bins, over
/// (`from`, `to`) ms, for `n` neurons.
fn statistics(spikes: &[(usize, f64)], n: usize, from: f64, to: f64) -> (f64, f64, f64) {
    let mut per: Vec<Vec<f64>> = vec![Vec::new(); n];
    let last = (to - from) as usize - 1;
    let mut bins = vec![0.0; last + 1];
    for &(i, t) in spikes {
        if t > from && t < to {
            per[i].push(t);
            bins[((t - from) as usize).min(last)] += 1.0;
        }
    }
    let rate = bins.iter().sum::<f64>() / n as f64 / ((to - from) * 1e-3);
    let cvs: Vec<f64> = per
        .iter()
        .filter(|s| s.len() > 5)
        .map(|s| {
            let isi: Vec<f64> = s.windows(2).map(|w| w[1] - w[0]).collect();
            let m = isi.iter().sum::<f64>() / isi.len() as f64;
            (isi.iter().map(|x| (x - m).powi(2)).sum::<f64>() / isi.len() as f64).sqrt() / m
        })
        .collect();
    let mean = bins.iter().sum::<f64>() / bins.len() as f64;
    let var = bins.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / bins.len() as f64;
    (rate, cvs.iter().sum::<f64>() / cvs.len() as f64, var / mean)
}

/// Brunel's model A written out plainly, sharing no code with the engine:
/// NEST's `iaf_psc_delta` on a 0.1 ms grid (V <- V e^{-dt/tau} + input;
/// input during the 2 ms refractory period is dropped), fixed in-degree
/// drawn per target, a spike of step n delivered at step n + 15, the
/// external drive a Poisson count per neuron and step. Returns (neuron,
/// step-end time in ms) of every spike.
fn plain_brunel(g: f64, ms: usize, seed: u64) -> Vec<(usize, f64)> {
    let mut state = seed;
    let mut next = move || {
        // SplitMix64 (Steele, Lea & Flood 2014)
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let (ne, n, delay, refractory) = (10_000, 12_500, 15, 20);
    let mut targets: Vec<Vec<u32>> = vec![Vec::new(); n];
    for post in 0..n {
        for (lo, count, k) in [(0, ne, 1000), (ne, n - ne, 250)] {
            let mut got = 0;
            while got < k {
                let pre = lo + (next() * count as f64) as usize;
                if pre != post {
                    targets[pre].push(post as u32);
                    got += 1;
                }
            }
        }
    }
    let mut v: Vec<f64> = (0..n).map(|_| 20.0 * next()).collect();
    let mut held = vec![0; n];
    let mut ring = vec![vec![0.0; n]; delay + 1];
    let (decay, no_input) = ((-0.1f64 / 20.0).exp(), (-2.0f64).exp()); // C_E nu_ext dt = 2
    let mut spikes = Vec::new();
    for step in 0..ms * 10 {
        let now = step % (delay + 1);
        let mut fired = Vec::new();
        for i in 0..n {
            let (mut count, mut p) = (0, next());
            while p > no_input {
                count += 1;
                p *= next();
            }
            let input = std::mem::take(&mut ring[now][i]) + 0.1 * count as f64;
            if held[i] > 0 {
                held[i] -= 1;
                continue;
            }
            v[i] = v[i] * decay + input;
            if v[i] >= 20.0 {
                v[i] = 10.0;
                held[i] = refractory;
                fired.push(i);
            }
        }
        let later = (step + delay) % (delay + 1);
        for &i in &fired {
            spikes.push((i, (step + 1) as f64 * 0.1));
            let w = if i < ne { 0.1 } else { -0.1 * g };
            for &j in &targets[i] {
                ring[later][j as usize] += w;
            }
        }
    }
    spikes
}

/// Brunel model A at J = 0.1 mV (half the paper's), g = 5, nu_ext = 2
/// nu_thr = 20 Hz. The rate settles at the mean-field prediction (within
/// 20%); the CV is near 0.4 with a fast (100-150 Hz) population
/// oscillation, which a plain simulation written out above finds too (and
/// NEST 3.10, in an independent check on 16 (g, eta) points, within 4%):
/// with the weaker coupling the network sits on the synchronous side. The
/// engine agrees with the plain simulation in rate, CV and synchrony.
#[test]
fn brunel_at_half_the_coupling_agrees_with_a_plain_simulation() {
    let text = std::fs::read_to_string(repo("examples/brunel2000.neuro"))
        .unwrap()
        .replace("J = 0.2 mV", "J = 0.1 mV")
        .replace("duration = 1 s", "duration = 500 ms");
    let spikes = spikes_of("brunel-half", &text, &["--model", "BrunelAI"]);
    let (predicted, cv_theory) = mean_field(5.0);
    let (rate, cv, fano) = statistics(&spikes, 12_500, 100.0, 500.0);
    let (plain_rate, plain_cv, plain_fano) = statistics(&plain_brunel(5.0, 500, 7), 12_500, 100.0, 500.0);
    let (f, ratio) = oscillation(&spikes, 100.0, 500.0);
    eprintln!(
        "J = 0.1 mV, g = 5: rate {rate:.2} Hz (mean field {predicted:.2}, plain {plain_rate:.2}), CV {cv:.2} (mean \
         field {cv_theory:.2}, plain {plain_cv:.2}), Fano (1 ms) {fano:.0} (plain {plain_fano:.0}), spectral peak {f:.0} \
         Hz at {ratio:.1}x the median"
    );
    assert!(((rate - predicted) / predicted).abs() < 0.2, "rate {rate} Hz vs mean field {predicted} Hz");
    assert!(((rate - plain_rate) / plain_rate).abs() < 0.05, "rate {rate} Hz vs plain {plain_rate} Hz");
    assert!((cv - plain_cv).abs() < 0.05, "CV {cv} vs plain {plain_cv}");
    // independent Poisson neurons would give 1; seeds spread it 90-150
    assert!(fano / plain_fano > 0.5 && fano / plain_fano < 2.0, "Fano {fano} vs plain {plain_fano}");
}

/// The four regimes of Brunel's (2000) Fig. 8 (J = 0.2 mV, D = 1.5 ms),
/// each with its signature, measured after a 200 ms transient (the CV of
/// ISIs over neurons with more than 5 spikes, the population count's Fano
/// factor in 1 ms bins, the strongest frequency of the population rate in
/// 0.5 ms bins and its power over the median):
/// - A, SR (g = 3, eta = 2): neurons fire regularly (CV < 0.2) at a high
///   rate, the population oscillates strongly;
/// - B, SI fast (g = 6, eta = 4): a fast population oscillation (above
///   100 Hz) of irregular neurons (CV > 0.8) firing well below it, at the
///   mean-field rate (within 10%);
/// - C, AI (g = 5, eta = 2): irregular (CV > 0.8), at the mean-field rate
///   (within 10%), less synchronous than A (Fano factor) and with a weaker
///   population oscillation than B (its spectral peak over the median: at
///   12,500 neurons the AI state keeps a damped oscillation, and the Fano
///   factor in 1 ms bins did not separate it from B across seeds, 106-145
///   against 140-197 for seeds 1-4, where the peaks' prominence did);
/// - D, SI slow (g = 4.5, eta = 0.9): a slow population oscillation (below
///   60 Hz), neurons firing irregularly (CV > 0.5) at a low rate (< 15 Hz).
#[test]
fn brunel_fig8_regimes_show_their_signatures() {
    let run = |model: &str, ms: u32| {
        let spikes = brunel(model, ms);
        let (rate, cv, fano) = statistics(&spikes, 12_500, 200.0, ms as f64);
        let (f, ratio) = oscillation(&spikes, 200.0, ms as f64);
        eprintln!(
            "{model}: rate {rate:.2} Hz, CV {cv:.2}, Fano (1 ms) {fano:.0}, spectral peak {f:.0} Hz at {ratio:.0}x"
        );
        (rate, cv, fano, f, ratio)
    };
    let (sr_rate, sr_cv, sr_fano, _, sr_ratio) = run("BrunelSR", 300);
    assert!(sr_rate > 100.0 && sr_cv < 0.2 && sr_ratio > 1000.0, "SR: {sr_rate} Hz, CV {sr_cv}, peak {sr_ratio}x");
    let (b_rate, b_cv, _, b_f, b_ratio) = run("BrunelSIFast", 500);
    let (b_mf, _) = mean_field_at(6.0, 4.0, 0.2);
    assert!(b_f > 100.0 && b_ratio > 50.0 && b_cv > 0.8, "SI fast: peak {b_f} Hz at {b_ratio}x, CV {b_cv}");
    assert!(b_rate < b_f / 2.0 && ((b_rate - b_mf) / b_mf).abs() < 0.1, "SI fast: {b_rate} Hz (mean field {b_mf})");
    let (ai_rate, ai_cv, ai_fano, _, ai_ratio) = run("BrunelAI", 600);
    let (ai_mf, _) = mean_field_at(5.0, 2.0, 0.2);
    assert!(ai_cv > 0.8, "AI: CV {ai_cv}");
    assert!(((ai_rate - ai_mf) / ai_mf).abs() < 0.1, "AI: {ai_rate} Hz vs mean field {ai_mf} Hz");
    assert!(ai_fano < sr_fano / 5.0, "AI Fano {ai_fano} vs SR {sr_fano}");
    assert!(ai_ratio < b_ratio, "AI's spectral peak at {ai_ratio}x the median vs SI fast's {b_ratio}x");
    let (d_rate, d_cv, _, d_f, d_ratio) = run("BrunelSISlow", 600);
    assert!(
        d_f < 60.0 && d_ratio > 50.0 && d_cv > 0.5 && d_rate < 15.0,
        "SI slow: {d_rate} Hz, CV {d_cv}, peak {d_f} Hz at {d_ratio}x"
    );
}

const RANDOM_NET: &str = "neuron Cell {
    parameter tau = 20 ms
    state V = 0 mV
    dV/dt = -V / tau
    on spike exc(w: mV) { V += w }
    on V >= 20 mV { V = 0 mV; emit spike }
}
network Random {
    population A = 200 x Cell
    population B = 100 x Cell
    connect A -> B via exc (k = 50, w = normal(1 mV, 0.2 mV), delay = uniform(1 ms, 3 ms))
}
simulate Random { dt = 0.1 ms, duration = 1 ms, seed = SEED }
";

/// Per-synapse weights and delays: their sample moments, the in-degree,
/// and the same synapses for the same seed (different for another).
#[test]
fn random_weights_and_delays_follow_their_distributions() {
    let table = |seed: u32| {
        let (o, out) =
            run_source(&format!("random{seed}"), &RANDOM_NET.replace("SEED", &seed.to_string()), &["--save-synapses"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read_to_string(out.join("synapses.csv")).unwrap()
    };
    let text = table(1);
    let rows: Vec<Vec<f64>> =
        text.lines().skip(1).map(|l| l.split(',').map(|x| x.parse().unwrap()).collect()).collect();
    assert_eq!(rows.len(), 100 * 50);
    let mut indegree = [0; 100];
    for r in &rows {
        assert!(r[0] < 200.0 && (200.0..300.0).contains(&r[1]), "pre {} post {}", r[0], r[1]);
        indegree[r[1] as usize - 200] += 1;
    }
    assert!(indegree.iter().all(|&k| k == 50), "in-degrees {indegree:?}");
    let n = rows.len() as f64;
    let mean = |c: usize| rows.iter().map(|r| r[c]).sum::<f64>() / n;
    let sd = |c: usize| (rows.iter().map(|r| (r[c] - mean(c)).powi(2)).sum::<f64>() / n).sqrt();
    // 5000 draws: standard errors 0.003 mV (mean) and 0.002 mV (sd) for the weights
    assert!((mean(2) * 1e3 - 1.0).abs() < 0.015 && (sd(2) * 1e3 - 0.2).abs() < 0.01, "{} {}", mean(2), sd(2));
    // delays on the 0.1 ms grid within [1, 3] ms, mean 2 ms (standard error 0.008 ms)
    assert!(rows.iter().all(|r| (1.0..=3.0).contains(&r[3]) && ((r[3] * 10.0).round() - r[3] * 10.0).abs() < 1e-9));
    assert!((mean(3) - 2.0).abs() < 0.04, "mean delay {}", mean(3));
    assert_eq!(text, table(1), "the same seed draws the same synapses");
    assert_ne!(text, table(2), "another seed draws other synapses");
}

/// The per-synapse delivery path (weights and delays stored per synapse)
/// gives the same spikes as the shared-weight path when every draw is the
/// same value.
#[test]
fn per_synapse_delivery_matches_shared_weights() {
    let cuba =
        std::fs::read_to_string(repo("examples/cuba.neuro")).unwrap().replace("duration = 1 s", "duration = 200 ms");
    let spread = cuba
        .replace("w = 1.62 mV)", "w = uniform(1.62 mV, 1.62 mV), delay = uniform(0.1 ms, 0.1 ms))")
        .replace("w = -9 mV)", "w = normal(-9 mV, 0 mV))");
    assert_ne!(cuba, spread);
    let fixed = spikes_of("fixed", &cuba, &[]);
    assert!(fixed.len() > 500, "too few spikes to compare");
    assert_eq!(fixed, spikes_of("spread", &spread, &[]));
}

/// Random delays must be bounded; spreads must be known functions, and
/// per-synapse weights drawn.
#[test]
fn bad_random_settings_are_diagnosed() {
    for (bad, code, tag) in [
        ("delay = uniform(1 ms, 3 ms)", "delay = normal(2 ms, 1 ms)", "normal-delay"),
        ("seed = SEED", "seed = 1, V = gauss(0 mV, 1 mV)", "unknown-spread"),
        ("w = normal(1 mV, 0.2 mV)", "w = linspace(0 mV, 1 mV)", "linspace-weight"),
    ] {
        let src = RANDOM_NET.replace("SEED", "1").replace(bad.replace("SEED", "1").as_str(), code);
        let (o, _) = run_source(tag, &src, &[]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{tag}: {err}");
        assert!(err.contains("error[E") && err.contains("help"), "{tag}: {err}");
    }
}

/// `rule = one_to_one` joins neuron i to neuron i; populations of other
/// sizes and unknown rules are diagnosed.
#[test]
fn one_to_one_joins_equal_indices() {
    let src = RANDOM_NET
        .replace("SEED", "1")
        .replace("population A = 200 x Cell", "population A = 100 x Cell")
        .replace("k = 50", "rule = one_to_one");
    let (o, out) = run_source("one-to-one", &src, &["--save-synapses"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows: Vec<(usize, usize)> = first_columns(&out.join("synapses.csv"));
    assert_eq!(rows, (0..100).map(|i| (i, 100 + i)).collect::<Vec<_>>());
    for (bad, tag) in [
        (RANDOM_NET.replace("k = 50", "rule = one_to_one"), "one-to-one-sizes"),
        (RANDOM_NET.replace("k = 50", "rule = ring"), "unknown-rule"),
    ] {
        let (o, _) = run_source(tag, &bad.replace("SEED", "1"), &[]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{tag}: {err}");
        assert!(err.contains("error[E0503]") && err.contains("help"), "{tag}: {err}");
    }
}

/// The same seed gives the same spikes on 1 and 2 threads (and on 3, which
/// splits the populations unevenly), for LIF and HH networks, with
/// per-synapse weights and delays and Poisson drives.
#[test]
fn spikes_do_not_depend_on_the_thread_count() {
    let cases = [
        ("examples/cuba.neuro", "200 ms"),
        ("examples/cobahh.neuro", "100 ms"),
        ("examples/brunel2000.neuro", "100 ms"),
    ];
    for (example, duration) in cases {
        let text = std::fs::read_to_string(repo(example))
            .unwrap()
            .replace("duration = 1 s", &format!("duration = {duration}"));
        let tag = example.trim_start_matches("examples/").trim_end_matches(".neuro");
        let one = spikes_of(&format!("{tag}-t1"), &text, &["--threads", "1"]);
        assert!(one.len() > 100, "{example}: only {} spikes", one.len());
        for threads in ["2", "3"] {
            let many = spikes_of(&format!("{tag}-t{threads}"), &text, &["--threads", threads]);
            assert_eq!(one.len(), many.len(), "{example}: spike counts with {threads} threads");
            for (a, b) in one.iter().zip(&many) {
                assert!(a.0 == b.0 && a.1 == b.1, "{example}, {threads} threads: {a:?} vs {b:?}");
            }
        }
    }
}

/// Every thread delivers onto its own targets and adds the drives to its
/// own neurons: the spikes are the same bit for bit on 1, 2, 3 and 4
/// threads for a network with every kind of delivery at once: short-term
/// plasticity, per-synapse weights and delays, fixed in-degree, Poisson and
/// gamma drives, spike-timing dependent plasticity sharing a port with
/// fixed synapses, one-step delays, and a population past 65,536 neurons
/// (4-byte targets); odd population sizes, so chunks are uneven.
#[test]
fn delivery_does_not_depend_on_the_thread_count() {
    let src = "import \"plasticity.neuro\"\nimport \"stdp.neuro\"\n\
neuron L {\n    parameter tau = 20 ms\n    state V = 0 mV\n    dV/dt = -V / tau\n    on spike exc(w: mV) { V += w }\n    on spike inh(w: mV) { V += w }\n    on V >= 20 mV { V = 10 mV; emit spike; refractory 2 ms }\n}\n\
network Mix {\n    population E = 401 x L\n    population I = 99 x L\n    population B = 70001 x L\n\
    connect E -> E, I via exc (p = 0.1, w = 0.4 mV, delay = 1.5 ms, plasticity = TMFacilitating)\n\
    connect E -> I via exc (p = 0.05, w = uniform(0.1 mV, 0.5 mV), delay = uniform(1 ms, 4 ms))\n\
    connect I -> E, I via inh (k = 20, w = -1.2 mV, delay = 2 ms)\n\
    connect E -> E via exc (k = 10, w = 0.2 mV, delay = 0.1 ms, plasticity = STDPAdditive)\n\
    connect E -> B via exc (k = 3, w = 12 mV, delay = 0.1 ms)\n\
    drive E, I with gamma(rate = 20 Hz, k = 4, n = 500, w = 0.2 mV) via exc\n\
    drive E with poisson(rate = 5 Hz, n = 100, w = 0.3 mV) via exc\n\
    record spikes(E, I, B)\n}\n\
simulate Mix { dt = 0.1 ms, duration = 200 ms, seed = 3, V = uniform(0 mV, 20 mV) }\n";
    let one = spikes_of("mix-t1", src, &["--threads", "1"]);
    assert!(one.len() > 1000, "only {} spikes", one.len());
    let big = one.iter().filter(|s| s.0 >= 500).count();
    assert!(big > 100, "the population past 65,536 neurons fired {big} spikes");
    for threads in ["2", "3", "4"] {
        let many = spikes_of(&format!("mix-t{threads}"), src, &["--threads", threads]);
        assert_eq!(one.len(), many.len(), "spike counts with {threads} threads");
        for (a, b) in one.iter().zip(&many) {
            assert!(a.0 == b.0 && a.1 == b.1, "{threads} threads: {a:?} vs {b:?}");
        }
    }
}

/// With several threads and no state the calling thread advances between
/// steps, a network runs in slices of its shortest delay (here 7 steps),
/// one barrier per slice, each step's spikes delivered during the next
/// slice: the spikes are still those of one thread, bit for bit, with
/// per-synapse delays, fixed in-degree, Poisson and gamma drives, 4-byte
/// targets, uneven chunks, and slices cut short at every 1000th step
/// (1000 is not a multiple of 7) and at the end. Targets stored as gaps
/// give the spikes of targets stored as indices, step by step.
#[test]
fn slices_of_the_shortest_delay_and_targets_as_gaps_do_not_change_the_spikes() {
    let src = "neuron L {\n    parameter tau = 20 ms\n    state V = 0 mV\n    dV/dt = -V / tau\n    on spike exc(w: mV) { V += w }\n    on spike inh(w: mV) { V += w }\n    on V >= 20 mV { V = 10 mV; emit spike; refractory 2 ms }\n}\n\
network Sliced {\n    population E = 401 x L\n    population I = 99 x L\n    population B = 70001 x L\n\
    connect E -> E, I via exc (p = 0.1, w = 0.4 mV, delay = 0.7 ms)\n\
    connect E -> I via exc (p = 0.05, w = uniform(0.1 mV, 0.5 mV), delay = uniform(0.9 ms, 4 ms))\n\
    connect I -> E, I via inh (k = 20, w = -1.2 mV, delay = 2 ms)\n\
    connect E -> B via exc (k = 3, w = 12 mV, delay = 0.8 ms)\n\
    connect B -> E via exc (k = 2, w = 0.05 mV, delay = 1.2 ms)\n\
    drive E, I with gamma(rate = 20 Hz, k = 4, n = 500, w = 0.2 mV) via exc\n\
    drive E with poisson(rate = 5 Hz, n = 100, w = 0.3 mV) via exc\n\
    record spikes(E, I, B), rate(E, bin = 1 ms)\n}\n\
simulate Sliced { dt = 0.1 ms, duration = 250.3 ms, seed = 5, V = uniform(0 mV, 20 mV) }\n";
    let one = spikes_of("sliced-t1", src, &["--threads", "1"]);
    assert!(one.len() > 1000, "only {} spikes", one.len());
    assert!(one.iter().any(|s| s.1 > 250.0), "no spike in the last slice");
    let big = one.iter().filter(|s| s.0 >= 500).count();
    assert!(big > 100, "the population past 65,536 neurons fired {big} spikes");
    for threads in ["2", "3", "4"] {
        let many = spikes_of(&format!("sliced-t{threads}"), src, &["--threads", threads]);
        assert_eq!(one.len(), many.len(), "spike counts with {threads} threads");
        for (a, b) in one.iter().zip(&many) {
            assert!(a.0 == b.0 && a.1 == b.1, "{threads} threads: {a:?} vs {b:?}");
        }
    }
    // the targets as indices instead of gaps (one- and two-byte gaps
    // above: p = 0.1 packed, k = 20 and k = 3 onto 70,001 drawn as gaps),
    // step by step: the same spikes
    for threads in ["1", "3"] {
        let tag = format!("indices-t{threads}");
        let envs = [("NEUROC_NO_GAPS", "1"), ("NEUROC_NO_SLICES", "1")];
        let (o, out) = run_source_with(&tag, src, &["--threads", threads], &envs);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(first_columns::<usize, f64>(&out.join("spikes.csv")), one, "indices on {threads} threads");
    }
}

/// Sampled states within slices: each worker samples its own neurons
/// after each sampled step and the calling thread puts them together, so
/// ranges across the workers' chunks, sampled every step or every few,
/// give the files of a run step by step on one thread, byte for byte.
#[test]
fn states_sampled_within_slices_are_those_of_steps() {
    let src = "neuron L {\n    parameter tau = 20 ms\n    state V = 0 mV\n    dV/dt = -V / tau\n    on spike exc(w: mV) { V += w }\n    on spike inh(w: mV) { V += w }\n    on V >= 20 mV { V = 10 mV; emit spike; refractory 2 ms }\n}\n\
network Sampled {\n    population E = 401 x L\n    population I = 99 x L\n\
    connect E -> E, I via exc (p = 0.1, w = 0.4 mV, delay = 0.7 ms)\n\
    connect I -> E, I via inh (k = 20, w = -1.2 mV, delay = 2 ms)\n\
    drive E, I with poisson(rate = 5 Hz, n = 500, w = 0.3 mV) via exc\n\
    record spikes(E, I), V(E[100:300], every = 0.3 ms), V(I[0:99])\n}\n\
simulate Sampled { dt = 0.1 ms, duration = 50.3 ms, seed = 5, V = uniform(0 mV, 20 mV) }\n";
    let (o, steps) = run_source_with("sampled-steps", src, &["--threads", "1"], &[("NEUROC_NO_SLICES", "1")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let read =
        |dir: &std::path::Path, f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    let v_e = read(&steps, "V_E.csv");
    assert!(v_e.lines().count() > 150, "V_E.csv has {} lines", v_e.lines().count());
    for threads in ["2", "3"] {
        let (o, sliced) = run_source(&format!("sampled-t{threads}"), src, &["--threads", threads]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        for f in ["V_E.csv", "V_I.csv", "spikes.csv"] {
            assert!(read(&sliced, f) == read(&steps, f), "{f} on {threads} threads differs from step by step");
        }
    }
}

/// `connect ... via Exc`, a synapse model the target neuron does not use:
/// the compiler inserts it into the neuron, one set of states shared by all
/// its synapses (lumping). The spikes equal those of the same network
/// written by hand with an input port, bit for bit.
#[test]
fn synapse_models_on_connections_are_lumped_into_the_target() {
    let src = "channel Leak {\n    parameter g = 10 nS, E = -70 mV\n    current i = g * (V - E)\n}\n\
synapse Exc {\n    parameter tau = 5 ms, E = 0 mV\n    state g = 0 nS\n    dg/dt = -g / tau\n    on spike(w: nS) { g += w }\n    current i = g * (V_post - E)\n}\n\
neuron Pacer {\n    parameter C = 200 pF, I_e = 300 pA\n    state V = -70 mV\n    use Leak\n    dV/dt = (I_e - currents) / C\n    on V >= -50 mV { V = -70 mV; emit spike; refractory 2 ms }\n}\n\
neuron Target {\n    parameter C = 200 pF\n    state V = -70 mV\n    use Leak\n    dV/dt = -currents / C\n    on V >= -50 mV { V = -70 mV; emit spike; refractory 2 ms }\n}\n\
neuron TargetPort {\n    parameter C = 200 pF, E_s = 0 mV, tau_s = 5 ms\n    state V = -70 mV, g = 0 nS\n    use Leak\n    dV/dt = -(currents + g * (V - E_s)) / C\n    dg/dt = -g / tau_s\n    on spike exc(w: nS) { g += w }\n    on V >= -50 mV { V = -70 mV; emit spike; refractory 2 ms }\n}\n\
network A {\n    population S = 5 x Pacer\n    population T = 3 x Target\n    connect S -> T via Exc (rule = all_to_all, w = 12 nS, delay = 1 ms)\n}\n\
network B {\n    population S = 5 x Pacer\n    population T = 3 x TargetPort\n    connect S -> T via exc (rule = all_to_all, w = 12 nS, delay = 1 ms)\n}\n\
simulate A { dt = 0.1 ms, duration = 500 ms, seed = 1, V = uniform(-70 mV, -50 mV) }\n\
simulate B { dt = 0.1 ms, duration = 500 ms, seed = 1, V = uniform(-70 mV, -50 mV) }\n";
    let a = spikes_of("lump-a", src, &["--model", "A"]);
    let b = spikes_of("lump-b", src, &["--model", "B"]);
    let targets = a.iter().filter(|s| s.0 >= 5).count();
    assert!(targets > 50, "the targets barely fire: {targets} spikes");
    assert_eq!(a, b);
    // a synapse whose spikes saturate cannot be lumped: E0404, named
    let saturating = src.replace("on spike(w: nS) { g += w }", "on spike(w: nS) { g += w * (1 - g / 50 nS) }");
    let (o, _) = run_source("lump-bad", &saturating, &["--model", "A"]);
    let text = String::from_utf8_lossy(&o.stderr).to_string() + &String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("E0404") && text.contains("cannot be lumped"), "{text}");
    // a target whose equations ignore `currents` cannot take the current
    let deaf = src.replace("    dV/dt = -currents / C\n", "    dV/dt = -(V + 70 mV) / 20 ms\n");
    let (o, _) = run_source("lump-deaf", &deaf, &["--model", "A"]);
    let text = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(text.contains("E0215") && text.contains("currents"), "{text}");
}

/// `record rate(E, bin = ...)` and `record V(E[a:b])`: the binned rate adds
/// up to the spike count, and a recorded neuron sits at its reset right
/// after each of its spikes (CUBA: V_r = -60 mV, 5 ms refractory).
#[test]
fn network_recorders_write_rates_and_states() {
    let text = std::fs::read_to_string(repo("examples/cuba.neuro"))
        .unwrap()
        .replace("duration = 1 s", "duration = 300 ms")
        .replace("    record spikes(E, I)", "    record spikes(E, I), rate(E, bin = 5 ms), V(E[0:4])");
    let (o, out) = run_source("recorders", &text, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let read = |f: &str| common::read_csv(&out.join(f));
    let spikes = read("spikes.csv");
    let rate = read("rate_E.csv");
    assert_eq!(rate.len(), 60);
    let counted: f64 = rate.iter().map(|r| r[1] * 3200.0 * 0.005).sum();
    let e_spikes = spikes.iter().filter(|s| s[0] < 3200.0).count() as f64;
    assert!((counted - e_spikes).abs() < 1e-6, "{counted} vs {e_spikes}");
    let v = read("V_E.csv");
    assert_eq!(v.len(), 3001, "every step and t = 0");
    assert_eq!(v[0].len(), 5, "t and four neurons");
    let mut checked = 0;
    for s in spikes.iter().filter(|s| s[0] < 4.0) {
        let (neuron, t) = (s[0] as usize, s[1]);
        let k = ((t / 0.1).ceil() as usize).min(v.len() - 1);
        assert!(
            (v[k][1 + neuron] + 60.0).abs() < 1e-9,
            "neuron {neuron} after its spike at {t} ms: {} mV",
            v[k][1 + neuron]
        );
        checked += 1;
    }
    assert!(checked > 0, "no recorded neuron spiked");
    // an unknown state, and a range past the population, are diagnosed
    for (rec, code) in [("W(E[0:4])", "E0505"), ("V(E[3190:3300])", "E0503")] {
        let bad = text.replace("V(E[0:4])", rec);
        let (o, _) = run_source("recorders-bad", &bad, &[]);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(o.status.code() == Some(1) && err.contains(code), "{rec}: {err}");
    }
}

/// Connections read from files reproduce a network exactly: CUBA's synapses
/// saved with `--save-synapses`, split per connection into local indices
/// (a CSV for three, an NPY array for one), give the same spikes.
#[test]
fn connections_from_files_reproduce_the_saved_network() {
    let text = std::fs::read_to_string(repo("examples/cuba.neuro"))
        .unwrap()
        .replace("duration = 1 s", "duration = 200 ms")
        .replace("w = 1.62 mV)", "w = normal(1.62 mV, 0.3 mV), delay = uniform(0.1 ms, 2 ms))");
    assert!(text.contains("normal(1.62 mV"), "{text}");
    let (o, out) = run_source("files-orig", &text, &["--save-synapses"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let original = spikes_of("files-orig2", &text, &[]);
    let table = common::read_csv(&out.join("synapses.csv"));
    let dir =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("neuroc-net-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // E is 0..3200, I 3200..4000; connections in declaration order
    let (e, i) = (0..3200usize, 3200..4000usize);
    let mut files = Vec::new();
    for (k, (src, dst)) in
        [(e.clone(), e.clone()), (e.clone(), i.clone()), (i.clone(), e.clone()), (i.clone(), i.clone())]
            .iter()
            .enumerate()
    {
        let rows: Vec<[f64; 4]> = table
            .iter()
            .map(|v| [v[0], v[1], v[2], v[3]])
            .filter(|r| src.contains(&(r[0] as usize)) && dst.contains(&(r[1] as usize)))
            .map(|r| [r[0] - src.start as f64, r[1] - dst.start as f64, r[2], r[3]])
            .collect();
        assert!(rows.len() > 1000, "connection {k}: {} synapses", rows.len());
        if k == 3 {
            let flat: Vec<f64> = rows.iter().flatten().copied().collect();
            let arr = ndarray::Array2::from_shape_vec((rows.len(), 4), flat).unwrap();
            let f = dir.join("c3.npy");
            ndarray_npy::write_npy(&f, &arr).unwrap();
            files.push(f);
        } else {
            let mut csv = String::from("pre,post,weight,delay_ms\n");
            for r in &rows {
                csv += &format!("{},{},{:e},{}\n", r[0], r[1], r[2], r[3]);
            }
            let f = dir.join(format!("c{k}.csv"));
            std::fs::write(&f, csv).unwrap();
            files.push(f);
        }
    }
    let f = |k: usize| files[k].to_str().unwrap().to_string();
    let from_files: String = text
        .lines()
        .map(|l| {
            if l.starts_with("    connect E -> E, I") {
                format!("    connect E -> E via exc file \"{}\"\n    connect E -> I via exc file \"{}\"\n", f(0), f(1))
            } else if l.starts_with("    connect I -> E, I") {
                format!("    connect I -> E via inh file \"{}\"\n    connect I -> I via inh file \"{}\"\n", f(2), f(3))
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    assert!(from_files.contains("file \""), "{from_files}");
    let replayed = spikes_of("files-replay", &from_files, &[]);
    assert!(original.len() > 500);
    assert_eq!(original, replayed);
    // a bad file is diagnosed with its row
    std::fs::write(dir.join("bad.csv"), "pre,post\n0,1\n5,9999\n").unwrap();
    let bad = from_files.replace(&f(0), dir.join("bad.csv").to_str().unwrap());
    let (o, _) = run_source("files-bad", &bad, &[]);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.code() == Some(1) && err.contains("row 2") && err.contains("E0219"), "{err}");
}

/// A log-log plot (SVG) of series over K, for the balanced-state figure.
fn loglog_svg(title: &str, ks: &[f64], series: &[(&str, &str, Vec<f64>)]) -> String {
    let (w, h, m) = (640.0, 420.0, 60.0);
    let all: Vec<f64> = series.iter().flat_map(|s| s.2.iter().copied()).filter(|v| *v > 0.0).collect();
    let (ylo, yhi) = all.iter().fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v.log10()), b.max(v.log10())));
    let (ylo, yhi) = (ylo.floor(), yhi.ceil());
    let (xlo, xhi) = (ks[0].log10(), ks[ks.len() - 1].log10());
    let x = |k: f64| m + (k.log10() - xlo) / (xhi - xlo) * (w - 2.0 * m);
    let y = |v: f64| h - m - (v.max(1e-300).log10() - ylo) / (yhi - ylo) * (h - 2.0 * m);
    let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{}\" y=\"20\" text-anchor=\"middle\">{title}</text>\n", w / 2.0);
    s += &format!("<line x1=\"{m}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"black\"/><line x1=\"{m}\" y1=\"{m}\" x2=\"{m}\" y2=\"{0}\" stroke=\"black\"/>\n", h - m, w - m);
    for &k in ks {
        s += &format!("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{k}</text>\n", x(k), h - m + 16.0);
    }
    for e in ylo as i32..=yhi as i32 {
        s += &format!("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">1e{e}</text>\n", m - 6.0, y(10f64.powi(e)) + 4.0);
    }
    s += &format!("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">in-degree K</text>\n", w / 2.0, h - 15.0);
    for (n, (name, color, vals)) in series.iter().enumerate() {
        let pts: Vec<String> = ks.iter().zip(vals).map(|(&k, &v)| format!("{:.1},{:.1}", x(k), y(v))).collect();
        s += &format!("<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>\n", pts.join(" "));
        s += &format!("<text x=\"{}\" y=\"{}\" fill=\"{color}\">{name}</text>\n", m + 10.0, m + 16.0 * n as f64);
    }
    s + "</svg>\n"
}

/// The balanced state (van Vreeswijk & Sompolinsky): with weights J0/sqrt(K)
/// the excitatory and inhibitory inputs grow like sqrt(K) while their sum
/// and its fluctuations stay of order one. K = 100 ... 1600 on
/// examples/balanced_state.neuro; the means and SDs of the recorded inputs
/// of 100 neurons over 100-300 ms go to target/tmp/balanced_state.{csv,svg}.
#[test]
fn balanced_state_inputs_cancel_as_k_grows() {
    let ks = [100.0, 200.0, 400.0, 800.0, 1600.0];
    let mut rows = Vec::new();
    for &k in &ks {
        let (o, out) = run_source(
            &format!("balanced-{k}"),
            &std::fs::read_to_string(repo("examples/balanced_state.neuro")).unwrap(),
            &["--set", &format!("K={k}")],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let read = |f: &str| -> Vec<Vec<f64>> {
            common::read_csv(&out.join(f)).into_iter().filter(|r| r[0] >= 100.0).collect()
        };
        let (e, i, x) = (read("I_e_E.csv"), read("I_i_E.csv"), read("I_x_E.csv"));
        let n = e[0].len() - 1;
        let mean = |a: &[Vec<f64>]| a.iter().map(|r| r[1..].iter().sum::<f64>()).sum::<f64>() / (a.len() * n) as f64;
        let (me, mi, mx) = (mean(&e), mean(&i), mean(&x));
        // the temporal SD of each neuron's total input, averaged over neurons
        let sd = (1..=n)
            .map(|j| {
                let tot: Vec<f64> = (0..e.len()).map(|t| e[t][j] + i[t][j] + x[t][j]).collect();
                let m = tot.iter().sum::<f64>() / tot.len() as f64;
                (tot.iter().map(|v| (v - m).powi(2)).sum::<f64>() / tot.len() as f64).sqrt()
            })
            .sum::<f64>()
            / n as f64;
        let spikes: Vec<(usize, f64)> = first_columns(&out.join("spikes.csv"));
        let late_e = spikes.iter().filter(|&&(id, t)| id < 4000 && t >= 100.0).count();
        let nu_e = late_e as f64 / 4000.0 / 0.2;
        rows.push((k, me, mi, mx, me + mi + mx, sd, nu_e));
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let mut csv = String::from("K,mean_exc_mV,mean_inh_mV,mean_ext_mV,mean_total_mV,sd_total_mV,rate_E_Hz\n");
    for r in &rows {
        csv += &format!("{},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3}\n", r.0, r.1, r.2, r.3, r.4, r.5, r.6);
    }
    std::fs::write(dir.join("balanced_state.csv"), &csv).unwrap();
    let svg = loglog_svg(
        "balanced state: inputs (mV) against the in-degree K, weights J0/sqrt(K)",
        &ks,
        &[
            ("excitatory mean", "firebrick", rows.iter().map(|r| r.1).collect()),
            ("|inhibitory mean|", "steelblue", rows.iter().map(|r| -r.2).collect()),
            ("total mean", "black", rows.iter().map(|r| r.4.abs()).collect()),
            ("total SD", "gray", rows.iter().map(|r| r.5).collect()),
        ],
    );
    std::fs::write(dir.join("balanced_state.svg"), svg).unwrap();
    println!("{csv}");
    let (first, last) = (rows[0], rows[rows.len() - 1]);
    // each mean input is K nu J0/sqrt(K) tau_s = sqrt(K) J0 nu tau_s: it grows
    for r in &rows {
        let want = r.0.sqrt() * 100.0 * r.6 * 0.002;
        assert!(
            (r.1 / want - 1.0).abs() < 0.05,
            "K = {}: excitatory mean {} mV, sqrt(K) J0 nu tau_s = {want}",
            r.0,
            r.1
        );
    }
    assert!(last.1 / first.1 > 4.0 && -last.2 / -first.2 > 4.0, "E and I inputs grow with K: {rows:?}");
    // ... while their sum stays of the order of the threshold, far below each
    for r in &rows {
        assert!(r.4.abs() < 25.0 && r.4.abs() < 0.3 * r.1, "K = {}: total {} mV against E {} mV", r.0, r.4, r.1);
    }
    let totals: Vec<f64> = rows.iter().map(|r| r.4).collect();
    let (tlo, thi) = totals.iter().fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    assert!(thi / tlo < 1.6, "the total mean input drifts with K: {totals:?}");
    // and its fluctuations grow far slower than the inputs themselves
    assert!(last.5 / first.5 < 2.0, "the SD of the total grows with K: {rows:?}");
}

/// `connect ... (plasticity = TMFacilitating)`: every weight a presynaptic
/// spike delivers is scaled by the Tsodyks-Markram release, the model's
/// states advanced exactly between that neuron's spikes. A target that
/// just accumulates its input shows the sum of w * release over the
/// spikes, against the recursion computed here from the spike times.
#[test]
fn short_term_plasticity_scales_the_weights_on_a_connection() {
    let src = "import \"plasticity.neuro\"\n\
neuron Pacer {\n    parameter tau = 20 ms, I = 25 mV\n    state V = 0 mV\n    dV/dt = (I - V) / tau\n    on V >= 20 mV { V = 0 mV; emit spike; refractory 2 ms }\n}\n\
neuron Acc {\n    state acc = 0 nS\n    on spike exc(w: nS) { acc += w }\n}\n\
network Stp {\n    population S = 3 x Pacer\n    population T = 3 x Acc\n    connect S -> T via exc (rule = one_to_one, w = 2 nS, delay = 1 ms, plasticity = TMFacilitating)\n    record acc(T[0:3])\n}\n\
simulate Stp { dt = 0.1 ms, duration = 400 ms, seed = 1, V = uniform(0 mV, 15 mV) }\n";
    let (o, out) = run_source("stp", src, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let spikes: Vec<(usize, f64)> = first_columns(&out.join("spikes.csv"));
    let acc = common::read_csv(&out.join("acc_T.csv"));
    let (u0, tau_rec, tau_fac) = (0.1, 100.0, 1000.0); // TMFacilitating, ms
    for n in 0..3 {
        let times: Vec<f64> = spikes.iter().filter(|s| s.0 == n).map(|s| s.1).collect();
        assert!(times.len() > 10, "neuron {n}: {} spikes", times.len());
        let (mut r, mut u, mut last, mut total) = (1.0f64, 0.0f64, 0.0f64, 0.0f64);
        let mut releases = Vec::new();
        for &t in &times {
            // delivered 1 ms later: only spikes whose delivery step is inside the run
            let dt = t - last;
            r = 1.0 - (1.0 - r) * (-dt / tau_rec).exp();
            u *= (-dt / tau_fac).exp();
            u += u0 * (1.0 - u);
            let release = u * r;
            r -= u * r;
            last = t;
            releases.push(release);
            if t + 1.0 < 399.9 {
                total += 2.0 * release;
            }
        }
        let got = acc.last().unwrap()[1 + n];
        assert!((got - total).abs() < 1e-9 * total, "neuron {n}: accumulated {got} nS, recursion {total} nS");
        // facilitation: later releases are larger than the first
        assert!(releases[5] > 2.0 * releases[0], "{releases:?}");
    }
    // a plasticity model that is not linear between spikes is refused
    let bad = src.replace("plasticity = TMFacilitating", "plasticity = Sat").replace(
        "network Stp",
        "plasticity Sat {\n    state R = 1\n    dR/dt = (1 - R * R) / 100 ms\n    on spike { release = R; R -= 0.5 * R }\n}\nnetwork Stp",
    );
    let (o, _) = run_source("stp-bad", &bad, &[]);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.code() == Some(1) && err.contains("E0404") && err.contains("not linear"), "{err}");
}

/// `drive P with spikes(times = ..., w = ...) via PORT`: every neuron of P
/// receives the listed spikes, each at the step that contains it.
#[test]
fn spike_list_drives_deliver_their_times() {
    let src = "neuron Acc {\n    state acc = 0 nS\n    on spike exc(w: nS) { acc += w }\n}\n\
network Listen {\n    population P = 4 x Acc\n    drive P with spikes(times = at(5 ms, 12.55 ms, 12.58 ms, 30 ms), w = 1.5 nS) via exc\n    drive P with spikes(times = regular(10 ms), w = 0.25 nS) via exc\n    record acc(P[0:4])\n}\n\
simulate Listen { dt = 0.1 ms, duration = 50 ms }\n";
    let (o, out) = run_source("spike-list", src, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let acc = common::read_csv(&out.join("acc_P.csv"));
    // the input of step k (from k dt to (k + 1) dt) shows at t = (k + 1) dt
    let want = |t_ms: f64| -> f64 {
        let listed = [5.0, 12.55, 12.58, 30.0]
            .iter()
            .filter(|&&s| (s / 0.1f64 + 1e-9).floor() * 0.1 + 0.1 <= t_ms + 1e-9)
            .count();
        let regular = (1..=5).filter(|k| (*k as f64 * 10.0) + 0.1 <= t_ms + 1e-9).count();
        1.5 * listed as f64 + 0.25 * regular as f64
    };
    for row in &acc {
        for n in 0..4 {
            assert!(
                (row[1 + n] - want(row[0])).abs() < 1e-9,
                "t = {} ms, neuron {n}: {} nS, want {}",
                row[0],
                row[1 + n],
                want(row[0])
            );
        }
    }
    assert!((acc.last().unwrap()[1] - (6.0 + 1.0)).abs() < 1e-9, "the spike at 50 ms falls after the last step");
    // a spike-list drive without times is diagnosed
    let (o, _) = run_source("spike-list-bad", &src.replace("spikes(times = regular(10 ms), w", "spikes(w"), &[]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs its `times`"));
}

/// Parameters per neuron in a network (`I = linspace(...)`, `tau = normal(...)`
/// in the simulate block): each pacemaker fires at the LIF rate of its own
/// drive, 1 / (t_ref + tau ln(I / (I - theta))); the same on 1 and 2 threads.
#[test]
fn network_parameters_vary_per_neuron() {
    let src = "neuron Pacer {\n    parameter tau = 20 ms, I = 25 mV\n    state V = 0 mV\n    dV/dt = (I - V) / tau\n    on V >= 20 mV { V = 0 mV; emit spike; refractory 2 ms }\n}\n\
network Ladder {\n    population P = 11 x Pacer\n    record spikes(P)\n}\n\
simulate Ladder { dt = 0.01 ms, duration = 1 s, I = linspace(21 mV, 41 mV) }\n";
    let one = spikes_of("ladder-1", src, &["--threads", "1"]);
    let two = spikes_of("ladder-2", src, &["--threads", "2"]);
    assert_eq!(one, two);
    for n in 0..11 {
        let i = 21.0 + 2.0 * n as f64;
        let period = 2.0 + 20.0 * (i / (i - 20.0)).ln();
        let count = one.iter().filter(|s| s.0 == n).count() as f64;
        let want = (1000.0 / period).floor();
        assert!((count - want).abs() <= 1.0, "neuron {n} (I = {i} mV): {count} spikes, want {want}");
    }
    // a spread of a parameter no population has is diagnosed
    let bad = src.replace("I = linspace(21 mV, 41 mV)", "J = linspace(21 mV, 41 mV)");
    let (o, _) = run_source("ladder-bad", &bad, &[]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("E0503"));
}

/// What the review of the network runtime found, as bad inputs: each is a
/// diagnostic, none a panic, a hang or a silently wrong file.
#[test]
fn network_settings_that_cannot_work_are_diagnosed() {
    let base = "neuron Acc {\n    parameter tau = 20 ms, E_L = 0 mV\n    state acc = E_L\n    dacc/dt = -acc / tau\n    on spike exc(w: mV) { acc += w }\n    on acc >= 20 mV { acc = 0 mV; emit spike }\n}\n\
network N {\n    population P = 20 x Acc\n    connect P -> P via exc (p = 0.5, w = 1 mV, delay = 1 ms)\n    drive P with poisson(rate = 1 kHz, w = 2 mV) via exc\n    record rate(P, bin = 3 ms)\n}\n\
simulate N { dt = 0.1 ms, duration = 10 ms }\n";
    let (o, out) = run_source("review-ok", base, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // 10 ms in 3 ms bins: four bins, the last 1 ms wide and ending at 10 ms
    let ends: Vec<f64> = common::read_csv(&out.join("rate_P.csv")).iter().map(|r| r[0]).collect();
    assert_eq!(ends, vec![3.0, 6.0, 9.0, 10.0]);
    let cases = [
        ("delay = 1 ms)", "delay = -1 ms)", "cannot be negative"),
        ("delay = 1 ms)", "delay = 1e6 s)", ""), // longer than the run: never arrives, no huge buffer
        ("population P = 20 x Acc", "population P = 0 x Acc", "a population of 0 neurons"),
        ("record rate(P, bin = 3 ms)", "record rate(P, bin = 3 ms), rate(P)", "recorded twice"),
        (
            "simulate N { dt = 0.1 ms, duration = 10 ms }",
            "simulate N { dt = 0.1 ms, duration = 10 ms, E_L = uniform(0 mV, 5 mV) }",
            "computed from it once",
        ),
    ];
    for (old, new, want) in cases {
        assert!(base.contains(old), "{old}");
        let (o, _) = run_source("review-bad", &base.replace(old, new), &[]);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        if want.is_empty() {
            assert!(o.status.success(), "{new}: {err}");
        } else {
            assert!(o.status.code() == Some(1) && err.contains(want), "{new}: {err}");
        }
    }
    let (o, _) = run_source("review-set", base, &["--set", "K"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs NAME=VALUE"));
}

/// COBAHH with its rates tabulated in V (`--table`, no edit of the
/// model): the rates stay within 15% of Brian2's and NEST's, the kernel
/// interpreter and the JIT give the same spikes, and a table that spikes
/// leave is reported (W0401) without failing the run.
#[test]
fn tabulated_cobahh_keeps_its_rates() {
    let cobahh = std::fs::read_to_string(repo("examples/cobahh.neuro")).unwrap();
    let table = ["--table", "V in [-100 mV, 100 mV], step = 0.1 mV"];
    let spikes = spikes_of("cobahh-table", &cobahh, &table);
    let e = spikes.iter().filter(|s| s.0 < 3200).count() as f64 / 3200.0;
    let i = (spikes.len() as f64 - e * 3200.0) / 800.0;
    let (ref_e, ref_i) = ((40.8 + 38.2) / 2.0, (37.8 + 38.3) / 2.0);
    assert!(within(e, ref_e, 0.15) && within(i, ref_i, 0.15), "E {e} Hz vs {ref_e}, I {i} Hz vs {ref_i}");
    // 50 ms on both kernel back ends: the same spikes
    let short = cobahh.replace("duration = 1 s", "duration = 50 ms");
    let (o, out) = run_source("cobahh-table-jit", &short, &table);
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(said.contains("  E: rate table in V: ") && said.contains("  I: rate table in V: "), "{said}");
    let jit: Vec<(usize, f64)> = first_columns(&out.join("spikes.csv"));
    let interp = spikes_of("cobahh-table-interp", &short, &[table[0], table[1], "--backend", "interp"]);
    assert!(jit.len() > 100 && jit == interp, "{} vs {} spikes", jit.len(), interp.len());
    // a table that the spikes leave: a warning, and the run completes
    let (o, _) = run_source("cobahh-table-narrow", &short, &["--table", "V in [-90 mV, 0 mV], step = 0.1 mV"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && err.contains("warning[W0401]") && err.contains("[-90 mV, 0 mV]"), "{err}");
}

/// A network built through the library: 400 delta-LIF neurons started
/// uniformly below threshold, connected recurrently (p = 0.05, 1.5 ms),
/// driven by Poisson input; V of neurons 0..5 and 398..400 sampled every
/// 10 steps; synapses kept.
fn small_network(
    duration: f64,
    threads: usize,
) -> (neuroc::runtime::network::Network, neuroc::runtime::network::NetConfig) {
    use neuroc::runtime::network::{Connection, Drive, NetConfig, Network, Population, Rule};
    use neuroc::runtime::spikegen::Spread;
    let src = "neuron DeltaLIF {\n    parameter tau = 20 ms, V_th = 20 mV, V_r = 10 mV, t_ref = 2 ms\n    state V = 0 mV\n    dV/dt = -V / tau\n    on spike exc(w: mV) { V += w }\n    on V >= V_th { V = V_r; emit spike; refractory t_ref }\n}\n";
    let c = neuroc::compile_source("net.neuro", src, None);
    assert!(!c.diagnostics.has_errors(), "{}", c.render());
    let model = c.model("DeltaLIF").unwrap().clone();
    let v = model.state("V").unwrap();
    let net = Network {
        name: "Small".into(),
        populations: vec![Population::of("P", model, 400)],
        connections: vec![Connection {
            from: 0,
            to: 0,
            port: "exc".into(),
            rule: Rule::Probability(0.05),
            w: 0.2e-3,
            delay: 1.5e-3,
            w_spread: None,
            delay_range: None,
            table: None,
            stp: None,
            stdp: None,
            span: Default::default(),
        }],
        drives: vec![Drive {
            to: 0,
            port: "exc".into(),
            rate: 5e3,
            n: 1.0,
            w: 0.2e-3,
            times: None,
            rate_of: None,
            shape: None,
        }],
        readouts: vec![],
    };
    let cfg = NetConfig {
        dt: 1e-4,
        duration,
        seed: 1,
        jit: true,
        init: vec![("V".into(), Spread::Uniform(0.0, 0.02))],
        params: vec![],
        keep_synapses: true,
        threads,
        probes: vec![(0, v, 0, 5), (0, v, 398, 400)],
        sample_every: 10,
        weights: vec![],
        lfp: vec![],
        weights_every: 1,
        method: neuroc::schemes::Method::Auto,
    };
    (net, cfg)
}

/// The network runtime hands on what it records as it goes: the synapses
/// while drawing them, then samples and spikes step by step; stopped after
/// k samples it has handed on the same first k samples and the spikes up to
/// there, and a long run's first spike arrives long before the run would
/// end. One and two threads agree.
#[test]
fn network_streams_and_stops() {
    use neuroc::runtime::network;
    let (net, cfg) = small_network(0.1, 2);
    let span = Default::default();
    let full = network::simulate(&net, &cfg, span).unwrap_or_else(|d| panic!("{}", d.message));
    assert!(full.spikes.len() > 100, "{} spikes", full.spikes.len());
    assert_eq!(full.synapse_table.len(), full.synapses);
    assert_eq!(full.probe_t.len(), 101);
    let (_, one_thread) = small_network(0.1, 1);
    let one = network::simulate(&net, &one_thread, span).unwrap();
    let bits = |s: &[(usize, f64)]| s.iter().map(|&(i, t)| (i, t.to_bits())).collect::<Vec<_>>();
    assert_eq!(bits(&one.spikes), bits(&full.spikes));

    let k = 51; // t = 50 ms
    let mut rec = common::StopAfter::samples(k);
    let out = network::simulate_into(&net, &cfg, span, &mut rec).unwrap();
    assert!(out.outcome.stopped && out.outcome.steps == (k - 1) * 10, "{:?}", out.outcome);
    assert_eq!(out.synapses, full.synapses);
    assert_eq!(rec.synapses, full.synapse_table);
    assert_eq!(network::probe_widths(&net, &cfg), vec![5, 2]);
    assert_eq!(rec.rec.t, full.probe_t[..k]);
    for s in 0..k {
        let want: Vec<f64> = full.probe_values.iter().flat_map(|rows| rows[s].iter().copied()).collect();
        let got: Vec<f64> = rec.rec.traces.iter().map(|(_, tr)| tr[s]).collect();
        assert_eq!(got, want, "sample {s}");
    }
    let handed: Vec<(usize, f64)> = rec.rec.spike_ids.iter().copied().zip(rec.rec.spikes.iter().copied()).collect();
    assert!(!handed.is_empty() && handed.len() < full.spikes.len());
    assert_eq!(bits(&handed), bits(&full.spikes[..handed.len()]));
    assert!(full.spikes[handed.len()].1 > out.outcome.steps as f64 * cfg.dt);
    // 1000 s are 10 million steps
    let (net, cfg) = small_network(1000.0, 2);
    let mut rec = common::StopAfter::first_spike();
    let out = network::simulate_into(&net, &cfg, span, &mut rec).unwrap();
    assert!(out.outcome.stopped && out.outcome.steps < 1000, "{:?}", out.outcome);
    assert_eq!(rec.rec.spikes[0].to_bits(), full.spikes[0].1.to_bits());
}
