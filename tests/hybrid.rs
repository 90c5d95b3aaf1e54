//! Hybrid spike-rate coupling (issue 16): a rate model inside a network,
//! rates into Poisson spikes (`drive P with poisson(rate = FACTOR * M.X,
//! ...)`) and spikes into a rate (`drive M with rate(of = P, ...) via
//! INPUT`), checked for the statistics of the spikes, the rate recovered,
//! the charge carried across, and the diagnostics of bad interfaces.

use neuroc::diag::Code;
use neuroc::Experiment;

fn run(text: &str) -> neuroc::Results {
    let e = Experiment::from_source("hybrid.neuro", text, None).unwrap_or_else(|e| panic!("{}", e.render()));
    e.run().unwrap_or_else(|e| panic!("{}", e.render())).0
}

/// The last row of table `name`, without its time column.
fn last_row(r: &neuroc::Results, name: &str) -> Vec<f64> {
    let t = r.table(name).unwrap_or_else(|| panic!("no table {name}"));
    let row = t.data.row(t.data.nrows() - 1);
    row.iter().skip(1).copied().collect()
}

/// A neuron that integrates the weights it receives (a charge, in pA s
/// per 1 ms of each weight), and a rate model relaxing from x0 to x_inf.
const MODELS: &str = "
neuron Counter {
    state c = 0 pA*s
    dc/dt = 0 pA
    on spike in(w: pA) { c += w * 1 ms }
}
rate Level {
    parameter x0 = 0.5, x_inf = 1, tau = 200 ms
    state x = x0
    dx/dt = (x_inf - x) / tau
}
";

#[test]
fn a_rate_becomes_poisson_trains_carrying_rate_times_n_times_w() {
    // rate 40 Hz * x(t), x from 0.5 to 1 with tau = 200 ms, n = 50 trains
    // of 2 pA: per neuron, a Poisson count of mean 50 * 40 Hz * int x dt
    let text = format!(
        "{MODELS}
network Hybrid {{
    population C = 400 x Counter
    population M = 1 x Level
    drive C with poisson(rate = 40 Hz * M.x, n = 50, w = 2 pA) via in
    record c(C[0:400], every = 1 s)
}}
simulate Hybrid {{ dt = 0.1 ms, duration = 2 s }}
"
    );
    let r = run(&text);
    let charge = last_row(&r, "c_C");
    assert_eq!(charge.len(), 400);
    // the rate the drive read at each step's start: x of the exact
    // propagator on the grid
    let (dt, tau, steps) = (1e-4, 0.2, 20_000);
    let integral: f64 = (0..steps).map(|s| 1.0 - 0.5 * (-(s as f64) * dt / tau).exp()).sum::<f64>() * dt;
    let mean_count = 50.0 * 40.0 * integral;
    // counts: each weight is 2 pA * 1 ms = 2e-3 pA s
    let counts: Vec<f64> = charge.iter().map(|c| c / 2e-3).collect();
    assert!(counts.iter().all(|c| (c - c.round()).abs() < 1e-6), "whole counts");
    // the mean charge per neuron and second: rate x n x w, within 1%
    let mean = counts.iter().sum::<f64>() / 400.0;
    assert!((mean / mean_count - 1.0).abs() < 0.01, "mean count {mean} vs {mean_count}");
    // and within 3 standard errors of the Poisson mean
    assert!((mean - mean_count).abs() < 3.0 * (mean_count / 400.0).sqrt(), "mean count {mean} vs {mean_count}");
    // Poisson dispersion: sum (c - mu)^2 / mu is chi-square with 400
    // degrees of freedom (mean 400, SD 28)
    let chi2: f64 = counts.iter().map(|c| (c - mean_count).powi(2) / mean_count).sum();
    assert!((chi2 - 400.0).abs() < 4.0 * 800f64.sqrt(), "chi-square {chi2} for 400 neurons");
}

/// Neurons that fire every T from phases spread uniformly: the
/// population's rate is 1/T at every moment, up to its granularity.
const CLOCKS: &str = "
neuron Clock {
    parameter T = 10 ms
    state ph = 0
    dph/dt = 1 / T
    on ph >= 1 { ph = ph - 1; emit spike }
}
rate Meter {
    input r_in = 0 Hz
    state n = 0
    dn/dt = r_in
}
";

fn clocks(kernel: &str) -> (Vec<f64>, usize) {
    let text = format!(
        "{CLOCKS}
network Read {{
    population S = 1000 x Clock
    population M = 1 x Meter
    drive M with rate(of = S, {kernel}) via r_in
    record n(M[0:1], every = 100 ms)
}}
simulate Read {{ dt = 0.1 ms, duration = 1 s, ph = uniform(0, 1) }}
"
    );
    let r = run(&text);
    let t = r.table("n_M").expect("n recorded");
    let n: Vec<f64> = (0..t.data.nrows()).map(|i| t.data[[i, 1]]).collect();
    (n, r.spikes().len())
}

#[test]
fn two_readouts_into_one_input_add_up() {
    // two halves of the clocks read into the same input: the same
    // integrated rate as all of them read at once (per neuron of each
    // half, so twice the per-neuron rate)
    let text = format!(
        "{CLOCKS}
network Read {{
    population A = 500 x Clock
    population B = 500 x Clock
    population M = 1 x Meter
    drive M with rate(of = A, kernel = bin) via r_in
    drive M with rate(of = B, kernel = bin) via r_in
    record n(M[0:1], every = 100 ms)
}}
simulate Read {{ dt = 0.1 ms, duration = 1 s, ph = uniform(0, 1) }}
"
    );
    let r = run(&text);
    let n = last_row(&r, "n_M")[0];
    let spikes_in_time = r.spikes().iter().filter(|(_, t)| *t < 999.95).count();
    // each half's spikes over its 500 neurons, summed
    assert!((n - spikes_in_time as f64 / 500.0).abs() < 0.05, "{n} vs {}", spikes_in_time as f64 / 500.0);
    assert!((n / 200.0 - 1.0).abs() < 0.02, "{n}");
}

#[test]
fn spikes_become_the_rate_they_carry() {
    // binned: the integrated rate is the spikes per neuron, exactly (the
    // last step's spikes reach the rate model at the next step)
    let (n, _) = clocks("kernel = bin");
    let text = format!(
        "{CLOCKS}
network Read {{
    population S = 1000 x Clock
    population M = 1 x Meter
    drive M with rate(of = S, kernel = bin) via r_in
}}
simulate Read {{ dt = 0.1 ms, duration = 999.9 ms, ph = uniform(0, 1) }}
"
    );
    let spikes_before_last_step = run(&text).spikes().len();
    let last = n[n.len() - 1];
    assert!((last - spikes_before_last_step as f64 / 1000.0).abs() < 1e-9, "{last} vs {spikes_before_last_step}");
    // exponential and alpha kernels: 100 Hz recovered within 1% over the
    // second half second, and the exponential's area is one (charge kept:
    // what is missing at the end is the filter's tail, rate x tau)
    for (kernel, tail) in [("tau = 10 ms", 1.0), ("kernel = alpha, tau = 5 ms", 1.0)] {
        let (n, spikes) = clocks(kernel);
        let rate = (n[10] - n[5]) / 0.5;
        assert!((rate / 100.0 - 1.0).abs() < 0.01, "{kernel}: {rate} Hz");
        let per_neuron = spikes as f64 / 1000.0;
        assert!((n[10] + tail - per_neuron).abs() < 0.05, "{kernel}: {} + {tail} vs {per_neuron}", n[10]);
    }
}

#[test]
fn a_rate_and_spikes_close_a_loop() {
    // Wilson-Cowan's E drives a LIF population (beside a background),
    // whose rate drives its P
    let text = |gain: &str| {
        format!(
            "
import \"wilson_cowan.neuro\"
import \"lif.neuro\"
network Loop {{
    population E = 400 x LIFExp
    population M = 1 x WilsonCowan
    drive E with poisson(rate = 1000 Hz, n = 1, w = 200 pA) via exc
    drive E with poisson(rate = 2000 Hz * M.E, n = 1, w = 200 pA) via exc
    drive M with rate(of = E, tau = 10 ms, gain = {gain}) via P
    record E(M[0:1], every = 10 ms)
}}
simulate Loop {{ dt = 0.1 ms, duration = 300 ms }}
"
        )
    };
    let closed = run(&text("0.05 s"));
    let open = run(&text("0 s"));
    let (e_closed, e_open) = (last_row(&closed, "E_M")[0], last_row(&open, "E_M")[0]);
    let rate = |r: &neuroc::Results| r.spikes().len() as f64 / 400.0 / 0.3;
    // open: P = 0 keeps E at 0 and the LIFs see the background alone;
    // closed: their rate lifts E, which lifts their rate
    assert!(e_open.abs() < 1e-12, "E open {e_open}");
    assert!(e_closed > 0.05, "E closed {e_closed}");
    assert!(rate(&closed) > 1.2 * rate(&open), "{} vs {} Hz", rate(&closed), rate(&open));
}

fn error(text: &str) -> neuroc::diag::Diagnostic {
    let err = match Experiment::from_source("hybrid.neuro", text, None) {
        Ok(e) => e.configure().map(|_| ()).expect_err("refused"),
        Err(e) => e,
    };
    err.diagnostics.into_iter().next().expect("a diagnostic")
}

#[test]
fn bad_interfaces_are_diagnosed() {
    let net = |drive: &str| {
        format!(
            "{MODELS}{CLOCKS}
network Bad {{
    population C = 10 x Counter
    population S = 10 x Clock
    population M = 1 x Meter
    population L = 1 x Level
    {drive}
}}
simulate Bad {{ dt = 0.1 ms, duration = 10 ms }}
"
        )
    };
    // a factor whose unit does not make a rate
    let d = error(&net("drive C with poisson(rate = 40 mV * L.x, n = 5, w = 2 pA) via in"));
    assert_eq!(d.code, Code::ValueDimension, "{d:?}");
    // a rate that follows a spiking population
    let d = error(&net("drive C with poisson(rate = 40 Hz * S.ph, n = 5, w = 2 pA) via in"));
    assert!(d.message.contains("not one rate model or density"), "{d:?}");
    let d = error(&net("drive C with poisson(rate = 40 Hz * L.y, n = 5, w = 2 pA) via in"));
    assert!(d.message.contains("no state `y`"), "{d:?}");
    let d = error(&net("drive C with poisson(rate = 40 Hz * Q.x, n = 5, w = 2 pA) via in"));
    assert!(d.message.contains("no population `Q`"), "{d:?}");
    // a readout into something that is not an input, of an unknown
    // population, with a gain of the wrong unit, or an unknown kernel
    let d = error(&net("drive M with rate(of = S, tau = 5 ms) via n"));
    assert!(d.message.contains("no input `n`"), "{d:?}");
    let d = error(&net("drive M with rate(of = Z, tau = 5 ms) via r_in"));
    assert!(d.message.contains("no population `Z`"), "{d:?}");
    let d = error(&net("drive M with rate(of = S, tau = 5 ms, gain = 2 s) via r_in"));
    assert_eq!(d.code, Code::ValueDimension, "{d:?}");
    let d = error(&net("drive M with rate(of = S, tau = 5 ms, kernel = boxcar) via r_in"));
    assert!(d.message.contains("unknown rate kernel `boxcar`"), "{d:?}");
    let d = error(&net("drive M with rate(of = S) via r_in"));
    assert!(d.message.contains("needs its width"), "{d:?}");
    let d = error(&net("drive L with rate(of = S, tau = 5 ms) via x0"));
    assert!(d.message.contains("no input `x0`"), "{d:?}");
    // a rate model does not spike; spike lists do not follow a rate
    let d = error(&net("drive M with rate(of = L, tau = 5 ms) via r_in"));
    assert!(d.message.contains("`L` does not spike"), "{d:?}");
    let d = error(&net("drive C with spikes(times = at(1 ms), rate = 40 Hz * L.x, w = 2 pA) via in"));
    assert!(d.message.contains("only a Poisson drive's rate can follow"), "{d:?}");
}

/// A density of LIF neurons whose input rate is set from a network, and
/// neurons firing every T with evenly spread phases (a steady rate).
const DENSITY: &str = "
density Pop {
    parameter tau = 20 ms, J = 0.1 mV, C = 1000
    input nu_in = 0 Hz
    mu = C * J * tau * nu_in
    sigma2 = C * J^2 * tau * nu_in
    variable V in [-40 mV, V_th] cells = 400
    drift(V) = (mu - V) / tau
    diffusion = sigma2 / (2 * tau) + 0.05 mV^2/ms
    threshold V_th = 20 mV, reset V_r = 10 mV, refractory 2 ms
    output nu = flux at V_th
}
neuron Clock {
    parameter T = 100 ms
    state ph = 0
    dph/dt = 1 / T
    on ph >= 1 { ph = ph - 1; emit spike }
}
neuron Counter {
    state c = 0 pA*s
    dc/dt = 0 pA
    on spike in(w: pA) { c += w * 1 ms }
}
";

#[test]
fn a_density_in_a_network_reaches_its_own_stationary_rate() {
    // 1000 clocks at 10 Hz, read through a 50 ms kernel into the
    // density's input; its rate settles where the density alone, at a
    // constant 10 Hz, is stationary
    let text = format!(
        "{DENSITY}
network Net {{
    population S = 1000 x Clock
    population D = 1 x Pop
    population C = 200 x Counter
    drive D with rate(of = S, tau = 50 ms) via nu_in
    drive C with poisson(rate = D.nu, n = 20, w = 1 pA) via in
    record nu(D[0:1], every = 0.1 ms), c(C[0:200], every = 0.1 ms)
}}
simulate Net {{ dt = 0.1 ms, duration = 1.5 s, ph = linspace(0, 1) }}
"
    );
    let r = run(&text);
    let nu = r.table("nu_D").expect("nu recorded");
    let trace: Vec<f64> = (0..nu.data.nrows()).map(|i| nu.data[[i, 1]]).collect();
    let settled = trace[trace.len() - 1];
    // the density alone, input held at 10 Hz, from its stationary state
    let mut alone = Experiment::from_source(
        "d.neuro",
        &format!("{DENSITY}\nsimulate Pop {{ dt = 0.1 ms, duration = 10 ms, initial = stationary }}\n"),
        None,
    )
    .unwrap_or_else(|e| panic!("{}", e.render()));
    alone.set("nu_in", "10 Hz");
    let (res, _) = alone.run().unwrap_or_else(|e| panic!("{}", e.render()));
    let stationary = res.table("nu").expect("rate").data[[0, 1]];
    assert!(stationary > 1.0, "{stationary} Hz");
    assert!((settled / stationary - 1.0).abs() < 0.005, "in the network {settled} Hz, alone {stationary} Hz");
    // its output drives Poisson trains: the charge each counter received
    // is n x w x the integral of the rate it read (one step late)
    let integral: f64 = trace[..trace.len() - 1].iter().sum::<f64>() * 1e-4;
    let charge = last_row(&r, "c_C");
    let mean = charge.iter().sum::<f64>() / charge.len() as f64;
    let expected = 20.0 * 1e-3 * integral; // pA s: n = 20, w * 1 ms = 1e-3 pA s
    assert!((mean / expected - 1.0).abs() < 0.01, "{mean} vs {expected} pA s");
}

#[test]
fn densities_refuse_spike_connections_and_counts() {
    let d = error(&format!(
        "{DENSITY}
network Bad {{
    population S = 10 x Clock
    population D = 1 x Pop
    connect D -> S via in (p = 0.1, w = 1 mV)
}}
simulate Bad {{ dt = 0.1 ms, duration = 10 ms }}
"
    ));
    assert!(d.message.contains("`D` is a density"), "{d:?}");
    let d = error(&format!(
        "{DENSITY}
network Bad {{
    population D = 5 x Pop
}}
simulate Bad {{ dt = 0.1 ms, duration = 10 ms }}
"
    ));
    assert!(d.message.contains("a density stands for a whole population"), "{d:?}");
}

#[test]
fn gamma_trains_are_regular_at_their_rate() {
    // 2000 counters, each fed one gamma train of shape k at 20 Hz for
    // 10 s: counts of mean 200 and Fano factor CV^2 = 1/k (renewal
    // theory), started in the stationary state; k = 1 is Poisson
    for (k, fano_want) in [(1, 1.0), (4, 0.25), (16, 0.0625)] {
        let text = format!(
            "{MODELS}
network G {{
    population C = 2000 x Counter
    drive C with gamma(rate = 20 Hz, k = {k}, n = 1, w = 1 pA) via in
    record c(C[0:2000], every = 10 s)
}}
simulate G {{ dt = 0.1 ms, duration = 10 s }}
"
        );
        let r = run(&text);
        let counts: Vec<f64> = last_row(&r, "c_C").iter().map(|c| c / 1e-3).collect();
        let n = counts.len() as f64;
        let mean = counts.iter().sum::<f64>() / n;
        let var = counts.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / (n - 1.0);
        let fano = var / mean;
        assert!((mean / 200.0 - 1.0).abs() < 0.01, "k = {k}: mean count {mean}");
        // the variance's sampling error is sqrt(2 / n) = 3% of it
        assert!((fano / fano_want - 1.0).abs() < 0.15, "k = {k}: Fano {fano}, want {fano_want}");
    }
    // a gamma drive needs its shape
    let d = error(&format!(
        "{MODELS}
network G {{
    population C = 10 x Counter
    drive C with gamma(rate = 20 Hz, n = 1, w = 1 pA) via in
}}
simulate G {{ dt = 0.1 ms, duration = 10 ms }}
"
    ));
    assert!(d.message.contains("needs its shape"), "{d:?}");
}

/// LIF neurons in Brunel's convention and their density twin, in a loop
/// and all spiking: the example (its header says why this regime).
const LOOP: &str = include_str!("../examples/hybrid_density_loop.neuro");

#[test]
fn a_spiking_population_and_its_density_in_a_loop_fire_as_the_spiking_network() {
    // all spiking: the population's recurrent input comes from itself;
    // hybrid: from its density twin (as Poisson trains), whose input is
    // the population's rate. Stationary rates from 0.4 s to 1.2 s. A step
    // of 0.025 ms: at 0.1 ms the spiking neurons miss threshold crossings
    // between steps and fire 3% less than the density says.
    let rate_of = |model: &str| {
        let mut e = Experiment::from_source("loop.neuro", LOOP, None).unwrap_or_else(|e| panic!("{}", e.render()));
        e.model(model).duration("1.2 s");
        let (r, _) = e.run().unwrap_or_else(|e| panic!("{}", e.render()));
        let spiking = r.spikes().iter().filter(|(_, t)| (400.0..1200.0).contains(t)).count() as f64 / 1600.0;
        let density = r.table("nu_D").map(|nu| {
            let rows: Vec<f64> = (0..nu.data.nrows())
                .filter(|&i| (400.0..1200.0).contains(&nu.data[[i, 0]]))
                .map(|i| nu.data[[i, 1]])
                .collect();
            rows.iter().sum::<f64>() / rows.len() as f64
        });
        (spiking, density)
    };
    let (all, _) = rate_of("Spiking");
    let (spiking, density) = rate_of("Hybrid");
    let density = density.expect("the density's rate");
    eprintln!("all spiking {all:.2} Hz; hybrid: spiking {spiking:.2} Hz, density {density:.2} Hz");
    assert!(all > 20.0, "the network fires: {all} Hz");
    assert!((spiking / all - 1.0).abs() < 0.03, "hybrid spiking {spiking} Hz vs all spiking {all} Hz");
    assert!((density / all - 1.0).abs() < 0.03, "density {density} Hz vs all spiking {all} Hz");
    // the loop matters: without the recurrent input the rate is lower
    let open = LOOP.replace("    connect P -> P via in (k = C, w = J, delay = 1.5 ms)\n", "");
    assert!(open.len() < LOOP.len());
    let mut e = Experiment::from_source("open.neuro", &open, None).unwrap_or_else(|e| panic!("{}", e.render()));
    e.model("Spiking").duration("1.2 s");
    let (r, _) = e.run().unwrap_or_else(|e| panic!("{}", e.render()));
    let alone = r.spikes().iter().filter(|(_, t)| (400.0..1200.0).contains(t)).count() as f64 / 1600.0;
    assert!(alone < 0.9 * all, "without the loop {alone} Hz, with it {all} Hz");
}

// ------------------------------------------------- networks as brain regions

/// A directory of its own under the target's temporary folder.
fn tmp(name: &str) -> std::path::PathBuf {
    let d =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("neuroc-hybrid-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A node that relaxes to its input rate (what it receives, low-pass
/// filtered with unit gain), and a column of LIF neurons with no drive of
/// its own.
const LEAKY_AND_COLUMN: &str = "
import \"lif.neuro\"
rate Leaky {
    parameter tau = 10 ms
    input p = 0 /s
    state x = 0 /s
    dx/dt = (p - x) / tau
}
network Column {
    population E = 200 x LIFExp
}
";

/// Two regions: region 0 a column driven by its node's input p, region 1
/// a node receiving only what region 0 sends (`w.csv`: 1 from 0 to 1).
fn two_regions(send: &str, drive_rate: &str) -> neuroc::Results {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let d = tmp(&format!("two-{}", RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)));
    std::fs::write(d.join("w.csv"), "0,0\n1,0\n").unwrap();
    let text = format!(
        "{LEAKY_AND_COLUMN}
brain B {{
    node = Leaky
    connectivity \"w.csv\"
    parameter K = 1
    couple node.p += K * sum_j(C[i, j] * node[j].x)
    region 0 = Column {{
        drive E with poisson(rate = {drive_rate}, n = 1, w = 40 pA) via exc
        {send}
    }}
}}
simulate B {{ dt = 0.1 ms, duration = 2 s, p = linspace(8000 /s, 0 /s) }}
"
    );
    let path = d.join("b.neuro");
    std::fs::write(&path, &text).unwrap();
    let mut e = Experiment::load(&path).unwrap_or_else(|e| panic!("{e}"));
    e.sample("1 ms");
    e.run().unwrap_or_else(|e| panic!("{e}")).0
}

/// Column `k` of table `name` as (t in ms, value) pairs.
fn column(r: &neuroc::Results, name: &str, k: usize) -> Vec<(f64, f64)> {
    let t = r.table(name).unwrap_or_else(|| panic!("no table {name}"));
    t.data.rows().into_iter().map(|row| (row[0], row[k])).collect()
}

/// Rates to spikes: the column in the brain, driven by its node's input,
/// is spike for spike the network alone driven at that rate. Spikes to
/// rates: the node fed by the column relaxes to the column's rate per
/// neuron times the gain, within 1% over the run (the rate crosses the
/// interface unchanged).
#[test]
fn a_network_region_meets_the_brain_at_both_interfaces() {
    let alone = run(&format!(
        "{LEAKY_AND_COLUMN}
network Alone {{
    population E = 200 x LIFExp
    drive E with poisson(rate = 8000 Hz, n = 1, w = 40 pA) via exc
}}
simulate Alone {{ dt = 0.1 ms, duration = 2 s }}
"
    ));
    let spikes = |r: &neuroc::Results, name: &str| -> Vec<(u64, u64)> {
        let t = r.table(name).unwrap_or_else(|| panic!("no table {name}"));
        t.data.rows().into_iter().map(|row| (row[0].to_bits(), row[1].to_bits())).collect()
    };
    let want = spikes(&alone, "spikes");
    assert!(want.len() > 10_000, "the column fires: {} spikes", want.len());
    for (send, gain) in
        [("send rate(of = E, tau = 5 ms)", 1.0), ("send rate(of = E, kernel = alpha, tau = 3 ms, gain = 0.5)", 0.5)]
    {
        let r = two_regions(send, "node.p");
        assert_eq!(spikes(&r, "spikes_r0"), want, "{send}: the column differs from the network alone");
        // the input it was handed, every sample: region 0's p
        assert!(column(&r, "region_r0", 1).iter().all(|&(_, p)| p == 8000.0));
        // after 200 ms: node 1's mean x against the column's rate
        let from = 200.0;
        let x: Vec<f64> = column(&r, "x", 2).into_iter().filter(|&(t, _)| t > from).map(|x| x.1).collect();
        let mean_x = x.iter().sum::<f64>() / x.len() as f64;
        let late = want.iter().filter(|s| f64::from_bits(s.1) > from).count();
        let rate = late as f64 / (200.0 * (2000.0 - from) * 1e-3);
        assert!((mean_x / (gain * rate) - 1.0).abs() < 0.01, "{send}: node 1 at {mean_x} /s, column at {rate} Hz");
    }
    // a factor on the node's value: twice p
    let r = two_regions("send rate(of = E, tau = 5 ms)", "2 * node.p");
    assert!(column(&r, "region_r0", 1).iter().all(|&(_, p)| p == 16000.0));
}

/// A region can be a density: what it sends is its output rate, which the
/// node fed by it follows.
#[test]
fn a_density_region_sends_its_output_rate() {
    let d = tmp("density-region");
    std::fs::write(d.join("w.csv"), "0,0\n1,0\n").unwrap();
    let text = format!(
        "{LEAKY_AND_COLUMN}
import \"lif_density.neuro\"
network Pool {{
    population D = 1 x LIFDensity
}}
brain B {{
    node = Leaky
    connectivity \"w.csv\"
    couple node.p += sum_j(C[i, j] * node[j].x)
    region 0 = Pool {{ send rate(of = D.rate) }}
}}
simulate B {{ dt = 0.1 ms, duration = 500 ms }}
"
    );
    let path = d.join("b.neuro");
    std::fs::write(&path, &text).unwrap();
    let mut e = Experiment::load(&path).unwrap_or_else(|e| panic!("{e}"));
    e.sample("1 ms");
    let r = e.run().unwrap_or_else(|e| panic!("{e}")).0;
    let sent = column(&r, "region_r0", 1);
    let x = column(&r, "x", 2);
    let (s_end, x_end) = (sent[sent.len() - 1].1, x[x.len() - 1].1);
    // mu = 20 mV at threshold, sigma = 5 mV: a few tens of Hz, stationary by then
    assert!(s_end > 5.0 && s_end < 100.0, "the density fires at {s_end} Hz");
    assert!((x_end / s_end - 1.0).abs() < 0.01, "node 1 at {x_end} /s, the density at {s_end} Hz");
}

/// The example: a spiking Jansen-Rit column in a brain of masses fires at
/// a few Hz, with the alpha rhythm of the mass model, and the rest of the
/// brain goes on much as with every region a mass.
#[test]
fn a_spiking_column_in_a_jansen_rit_brain_has_an_alpha_rhythm() {
    let mut e = Experiment::load(neuroc_repo("examples/brain_column.neuro")).unwrap_or_else(|e| panic!("{e}"));
    e.duration("1.5 s").sample("1 ms");
    let r = e.run().unwrap_or_else(|e| panic!("{e}")).0;
    let sent: Vec<f64> = column(&r, "region_l00", 2).into_iter().filter(|&(t, _)| t > 500.0).map(|x| x.1).collect();
    let mean = sent.iter().sum::<f64>() / sent.len() as f64;
    assert!((0.5..5.0).contains(&mean), "the pyramidal cells fire at {mean} Hz");
    // the strongest frequency of what it sends, 1 to 40 Hz in 0.5 Hz steps
    let power = |f: f64| {
        let (mut c, mut s) = (0.0, 0.0);
        for (k, x) in sent.iter().enumerate() {
            let ph = 2.0 * std::f64::consts::PI * f * k as f64 * 1e-3;
            c += (x - mean) * ph.cos();
            s += (x - mean) * ph.sin();
        }
        c * c + s * s
    };
    let peak = (2..=80).map(|k| k as f64 * 0.5).max_by(|a, b| power(*a).total_cmp(&power(*b))).unwrap();
    assert!((8.0..=13.0).contains(&peak), "the column's rhythm peaks at {peak} Hz");
}

fn neuroc_repo(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

#[test]
fn bad_regions_are_diagnosed() {
    let d = tmp("bad-regions");
    std::fs::write(d.join("w.csv"), "0,0\n1,0\n").unwrap();
    let brain = |region: &str| {
        let text = format!(
            "{LEAKY_AND_COLUMN}
brain B {{
    node = Leaky
    connectivity \"w.csv\"
    couple node.p += sum_j(C[i, j] * node[j].x)
    {region}
}}
simulate B {{ dt = 0.1 ms, duration = 10 ms }}
"
        );
        let path = d.join("b.neuro");
        std::fs::write(&path, &text).unwrap();
        let err = match Experiment::load(&path) {
            Ok(e) => e.configure().map(|_| ()).expect_err("refused"),
            Err(e) => e,
        };
        err.diagnostics.into_iter().next().expect("a diagnostic")
    };
    let ok_body = "drive E with poisson(rate = node.p, n = 1, w = 40 pA) via exc\n send rate(of = E, tau = 5 ms)";
    let cases = [
        (format!("region 2 = Column {{ {ok_body} }}"), Code::BadSetting, "region 2 of a brain of 2"),
        (format!("region \"V1\" = Column {{ {ok_body} }}"), Code::BadSetting, "no region labelled"),
        (format!("region 0 = Leaky {{ {ok_body} }}"), Code::BadSetting, "not a network"),
        (format!("region 0 = Nothing {{ {ok_body} }}"), Code::UnknownModel, "no model named `Nothing`"),
        (
            format!("region 0 = Column {{ {ok_body} }}\n region 0 = Column {{ {ok_body} }}"),
            Code::BadSetting,
            "already stood in for",
        ),
        ("region 0 = Column { drive E with poisson(rate = node.p, n = 1, w = 40 pA) via exc }".into(), Code::BadSetting, "must say what it sends"),
        (
            "region 0 = Column { drive E with poisson(rate = node.q, n = 1, w = 40 pA) via exc\n send rate(of = E, tau = 5 ms) }".into(),
            Code::BadSetting,
            "not a name of the node",
        ),
        (
            "region 0 = Column { drive E with poisson(rate = node.x, n = 1, w = 40 pA) via exc\n send rate(of = E, tau = 5 ms) }".into(),
            Code::BadSetting,
            "is a state",
        ),
        (
            "region 0 = Column { drive E with poisson(rate = 2 mV * node.p, n = 1, w = 40 pA) via exc\n send rate(of = E, tau = 5 ms) }".into(),
            Code::ValueDimension,
            "",
        ),
        (
            "region 0 = Column { drive E with poisson(rate = node.p, n = 1, w = 40 pA) via exc\n send rate(of = E, tau = 5 ms, gain = 1 mV) }".into(),
            Code::ValueDimension,
            "",
        ),
        (
            "region 0 = Column { drive E with poisson(rate = node.p, n = 1, w = 40 pA) via exc\n send rate(of = Q, tau = 5 ms) }".into(),
            Code::BadSetting,
            "no population `Q`",
        ),
        (
            "region 0 = Column { population F = 3 x LIFExp\n send rate(of = E, tau = 5 ms) }".into(),
            Code::BadSetting,
            "holds `drive` and `send`",
        ),
        ("region 0 = Column { send spikes(of = E) }".into(), Code::BadSetting, "sends a rate"),
        ("send rate(of = E, tau = 5 ms)".into(), Code::BadSetting, "belongs in a region"),
    ];
    for (region, code, words) in cases {
        let e = brain(&region);
        assert_eq!(e.code, code, "{region}: {}", e.message);
        assert!(e.message.contains(words), "{region}: {}", e.message);
        assert!(e.help.is_some(), "{region}: no help");
    }
}
