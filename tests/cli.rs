//! The `neuroc` binary, run as a user would.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn neuroc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_neuroc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run neuroc")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("neuroc-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn check_accepts_every_stdlib_and_example_file() {
    let mut files: Vec<String> = Vec::new();
    for dir in ["stdlib", "examples"] {
        for e in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)).unwrap() {
            let path = e.unwrap().path();
            if path.extension().is_some_and(|x| x == "neuro") {
                files.push(path.display().to_string());
            }
        }
    }
    let args: Vec<&str> = std::iter::once("check").chain(files.iter().map(String::as_str)).collect();
    let o = neuroc(&args);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(text(&o).matches(": ok").count(), files.len());
}

#[test]
fn run_hh_example_writes_csv_with_units() {
    let out = tmp("hh");
    let o = neuroc(&["run", "examples/hodgkin_huxley.neuro", "-o", out.to_str().unwrap(), "--sample", "0.1ms"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("13 spikes"), "{}", text(&o));
    let v = std::fs::read_to_string(out.join("V.csv")).unwrap();
    assert_eq!(v.lines().next(), Some("t_ms,V_mV"));
    assert_eq!(v.lines().count(), 1 + 2001);
    assert!(v.lines().nth(1).unwrap().starts_with("0,-65"));
    let spikes = std::fs::read_to_string(out.join("spikes.csv")).unwrap();
    assert_eq!(spikes.lines().next(), Some("neuron,t_ms"));
    assert_eq!(spikes.lines().count(), 14);
}

#[test]
fn set_overrides_a_parameter_with_units() {
    let out = tmp("set");
    // below the repetitive-firing threshold (6.2 uA/cm^2): at most a couple of onset spikes
    let o = neuroc(&[
        "run",
        "examples/hodgkin_huxley.neuro",
        "-o",
        out.to_str().unwrap(),
        "--set",
        "I_amp=2uA/cm^2",
        "--dt",
        "0.02ms",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains(" 0 spikes"), "{}", text(&o));
    // same in other units: 0.02 nA per 1000 um^2 is 2 uA/cm^2
    let o = neuroc(&[
        "run",
        "examples/hodgkin_huxley.neuro",
        "-o",
        out.to_str().unwrap(),
        "--set",
        "I_amp=0.02nA/(1000um^2)",
        "--dt",
        "0.02ms",
    ]);
    assert!(o.status.success() && text(&o).contains(" 0 spikes"), "{}", text(&o));
}

#[test]
fn set_with_wrong_unit_is_a_diagnostic() {
    let o =
        neuroc(&["run", "examples/hodgkin_huxley.neuro", "-o", tmp("badset").to_str().unwrap(), "--set", "I_amp=8mV"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("E0307"), "{}", text(&o));
}

#[test]
fn set_unknown_name_suggests() {
    let o = neuroc(&[
        "run",
        "examples/hodgkin_huxley.neuro",
        "-o",
        tmp("unk").to_str().unwrap(),
        "--set",
        "I_amq=8uA/cm^2",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(t.contains("E0504") && t.contains("I_amp"), "{t}");
}

#[test]
fn dt_without_time_unit_is_rejected() {
    let o = neuroc(&["run", "examples/lif.neuro", "-o", tmp("dt").to_str().unwrap(), "--dt", "0.1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("E0307"), "{}", text(&o));
}

#[test]
fn unknown_method_and_record() {
    let o = neuroc(&["run", "examples/lif.neuro", "-o", tmp("m").to_str().unwrap(), "--method", "rk5"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("E0401") && text(&o).contains("rk4"), "{}", text(&o));
    let o = neuroc(&["run", "examples/lif.neuro", "-o", tmp("r").to_str().unwrap(), "--record", "W"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("E0505"), "{}", text(&o));
}

#[test]
fn npy_output_and_recorded_values() {
    let out = tmp("npy");
    let o = neuroc(&[
        "run",
        "examples/hodgkin_huxley.neuro",
        "-o",
        out.to_str().unwrap(),
        "--format",
        "npy",
        "--duration",
        "20ms",
        "--record",
        "V",
        "NaT.m",
        "I_ext",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    for f in ["V.npy", "NaT.m.npy", "I_ext.npy", "spikes.npy"] {
        let bytes = std::fs::read(out.join(f)).unwrap();
        assert!(bytes.starts_with(b"\x93NUMPY"), "{f}");
    }
}

#[test]
fn euler_method_flag() {
    let out = tmp("euler");
    let o = neuroc(&[
        "run",
        "examples/wilson_cowan.neuro",
        "-o",
        out.to_str().unwrap(),
        "--method",
        "euler",
        "--dt",
        "0.01ms",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("euler"));
    let e = std::fs::read_to_string(out.join("E.csv")).unwrap();
    assert_eq!(e.lines().next(), Some("t_ms,E"));
}

#[test]
fn explain_shows_derived_gate_forms_and_values_in_user_units() {
    let o = neuroc(&["explain", "examples/hodgkin_huxley.neuro"]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("NaT.gbar"), "{t}");
    assert!(t.contains("120 mS/cm^2"), "{t}");
    assert!(t.contains("m_inf"), "{t}");
    assert!(t.contains("tau_m"), "{t}");
    assert!(t.contains("dV/dt"), "{t}");
}

#[test]
fn missing_file_directory_and_non_utf8() {
    let o = neuroc(&["check", "no/such/file.neuro"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("cannot read"));
    let o = neuroc(&["check", "examples"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("directory"));
    let d = tmp("bytes");
    let bad = d.join("bad.neuro");
    std::fs::write(&bad, b"rate R {\n \xff\xfe }\n").unwrap();
    let o = neuroc(&["check", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("UTF-8"), "{}", text(&o));
}

#[test]
fn empty_file_warns_and_cannot_run() {
    let d = tmp("empty");
    let f = d.join("empty.neuro");
    std::fs::write(&f, "").unwrap();
    let o = neuroc(&["check", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o).contains("W0101"), "{}", text(&o));
    let o = neuroc(&["run", f.to_str().unwrap(), "-o", d.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("E0502"), "{}", text(&o));
}

#[test]
fn model_with_errors_exits_1() {
    let d = tmp("err");
    let f = d.join("bad.neuro");
    std::fs::write(&f, "rate R {\n    state x = 1 mV + 1 ms\n}\n").unwrap();
    let o = neuroc(&["check", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("E0301"));
}

#[test]
fn later_kinds_are_checked_but_not_simulated_yet() {
    let d = tmp("net");
    // a brain without its node model: `check` and `run` say so alike
    let f = d.join("net.neuro");
    std::fs::write(&f, "brain Whole {\n    parameter G = 0.1\n}\nsimulate Whole { dt = 0.1 ms, duration = 1 s }\n")
        .unwrap();
    for args in [vec!["check", f.to_str().unwrap()], vec!["run", f.to_str().unwrap(), "-o", d.to_str().unwrap()]] {
        let o = neuroc(&args);
        assert_eq!(o.status.code(), Some(1));
        assert!(text(&o).contains("E0503") && text(&o).contains("without a node model"), "{}", text(&o));
    }
    // a network statement without simulation yet
    let g = d.join("drive.neuro");
    std::fs::write(
        &g,
        "import \"lif.neuro\"\nnetwork Net {\n    population E = 80 x LIF\n    drive E with sinusoidal(rate = 20 Hz, n = 100, w = 0.1 mV)\n}\nsimulate Net { dt = 0.1 ms, duration = 10 ms }\n",
    )
    .unwrap();
    let o = neuroc(&["run", g.to_str().unwrap(), "-o", d.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("E0501"), "{}", text(&o));
}

#[test]
fn help_teaches() {
    let o = neuroc(&["--help"]);
    assert!(o.status.success());
    let t = text(&o);
    assert!(t.contains("Examples") && t.contains("run"), "{t}");
    let o = neuroc(&["run", "--help"]);
    assert!(text(&o).contains("--set"));
    let o = neuroc(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn set_input_and_record_values_on_the_jit() {
    let out = tmp("setinput");
    let o = neuroc(&["run", "examples/lif.neuro", "-o", out.to_str().unwrap(), "--set", "I=0nA"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains(" 0 spikes") && text(&o).contains("jit"), "{}", text(&o));
    let o = neuroc(&[
        "run",
        "examples/hodgkin_huxley.neuro",
        "-o",
        out.to_str().unwrap(),
        "--neurons",
        "3",
        "--duration",
        "20ms",
        "--record",
        "V",
        "currents",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let c = std::fs::read_to_string(out.join("currents.csv")).unwrap();
    assert!(c.lines().skip(1).all(|l| !l.contains("NaN")), "{c}");
}

#[test]
fn population_from_the_simulate_block() {
    let out = tmp("pop");
    let o = neuroc(&[
        "run",
        "examples/hh_population.neuro",
        "-o",
        out.to_str().unwrap(),
        "--neurons",
        "200",
        "--duration",
        "60ms",
        "--threads",
        "2",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let spikes = std::fs::read_to_string(out.join("spikes.csv")).unwrap();
    // neurons above the rheobase fire, neuron 0 (0 uA/cm^2) does not
    let ids: std::collections::BTreeSet<u64> =
        spikes.lines().skip(1).filter_map(|l| l.split(',').next()?.parse().ok()).collect();
    assert!(!ids.contains(&0) && ids.contains(&199) && ids.len() > 100, "{} neurons spiked", ids.len());
}

#[test]
fn plot_writes_svg_and_png_for_each_recording() {
    let out = tmp("plot");
    let o = neuroc(&["run", "examples/lif.neuro", "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let o = neuroc(&["plot", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    for f in ["V.svg", "spikes.svg"] {
        let svg = std::fs::read_to_string(out.join(f)).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{f}");
    }
    let v = std::fs::read_to_string(out.join("V.svg")).unwrap();
    assert!(v.contains("<polyline") && v.contains("V (mV)"));
    // and PNGs, drawn with the shipped font (no system font needed): the
    // signature, 800 x 360 in the header, and more than a blank image
    for f in ["V.png", "spikes.png"] {
        let png = std::fs::read(out.join(f)).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{f}");
        assert_eq!(&png[12..16], b"IHDR");
        let (w, h) =
            (u32::from_be_bytes(png[16..20].try_into().unwrap()), u32::from_be_bytes(png[20..24].try_into().unwrap()));
        assert_eq!((w, h), (800, 360), "{f}");
        assert!(png.len() > 5_000, "{f}: {} bytes", png.len());
    }
    // a network: its raster above its population rate, on one time axis
    let net = tmp("plot-net");
    let o = neuroc(&[
        "run",
        "examples/brunel2000.neuro",
        "--model",
        "BrunelAI",
        "--duration",
        "60ms",
        "-o",
        net.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = neuroc(&["plot", net.to_str().unwrap()]);
    assert!(o.status.success() && text(&o).contains("raster_rate_E.png"), "{}", text(&o));
    let svg = std::fs::read_to_string(net.join("raster_rate_E.svg")).unwrap();
    assert!(
        svg.contains("<rect x=")
            && svg.contains("<polyline")
            && svg.contains("rate of E (Hz)")
            && svg.contains("neuron")
    );
    let png = std::fs::read(net.join("raster_rate_E.png")).unwrap();
    let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!(h, 720, "two panels");
    let empty = tmp("plot-empty");
    let o = neuroc(&["plot", empty.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("no recordings"));
}

/// A population with a parameter spread over it writes each neuron's rate
/// against the parameter (`rate_by_mu.csv`, in the parameter's order): for
/// LIF neurons the f-I curve 1 / (t_ref + tau ln(mu / (mu - theta))),
/// within the count's resolution over 1 s; `plot` draws it against mu.
#[test]
fn a_population_writes_its_rate_against_a_spread_parameter() {
    let d = tmp("rate-by");
    let f = d.join("fi.neuro");
    std::fs::write(
        &f,
        "neuron L {\n    parameter tau = 10 ms, theta = 10 mV, t_ref = 2 ms, mu = 0 mV\n    state V = 0 mV\n    \
         dV/dt = (mu - V) / tau\n    on V >= theta { V = 0 mV; emit spike; refractory t_ref }\n}\n\
         simulate L { dt = 0.01 ms, duration = 1 s, neurons = 36, mu = linspace(5 mV, 40 mV) }\n",
    )
    .unwrap();
    let out = d.join("out");
    let o = neuroc(&["run", f.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let table = std::fs::read_to_string(out.join("rate_by_mu.csv")).unwrap();
    let mut lines = table.lines();
    assert_eq!(lines.next(), Some("mu_mV,rate_Hz"));
    let rows: Vec<(f64, f64)> = lines
        .map(|l| {
            let (a, b) = l.split_once(',').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect();
    assert_eq!(rows.len(), 36);
    assert!(rows.windows(2).all(|w| w[0].0 < w[1].0), "in the parameter's order");
    for &(mu, rate) in &rows {
        let f = if mu > 10.0 { 1.0 / (2e-3 + 10e-3 * (mu / (mu - 10.0)).ln()) } else { 0.0 };
        assert!((rate - f).abs() <= 1.5, "mu = {mu} mV: {rate} Hz vs {f} Hz");
    }
    assert!(rows[35].1 > 100.0, "the strongest drive fires fast");
    let o = neuroc(&["plot", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let svg = std::fs::read_to_string(out.join("rate_by_mu.svg")).unwrap();
    assert!(svg.contains("mu (mV)") && svg.contains("rate (Hz)"), "axis labels");
}

/// A brain's functional connectivity (`fc_x.csv`, a square matrix of
/// correlations) is drawn as a matrix image, row 0 on top.
#[test]
fn plot_draws_a_functional_connectivity_as_a_matrix() {
    let d = tmp("fc-plot");
    std::fs::write(d.join("w.csv"), "0 0 0\n1 0 0\n0 0 0\n").unwrap();
    let f = d.join("b.neuro");
    std::fs::write(
        &f,
        "rate Lin {\n    parameter tau = 10 ms\n    input u = 0, v = 0\n    state x = 0\n    dx/dt = (-x + u + v) / tau\n}\n\
         brain B {\n    node = Lin\n    connectivity \"w.csv\"\n    couple node.v += 2 * sum_j(C[i, j] * node[j].x(t - 2 ms))\n    \
         noise node.u = ou(0.1 / sqrt(1 ms), 5 ms)\n}\nsimulate B { dt = 0.1 ms, duration = 1 s, method = euler, fc = x, seed = 3 }\n",
    )
    .unwrap();
    let out = d.join("out");
    let o = neuroc(&["run", f.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let o = neuroc(&["plot", out.to_str().unwrap()]);
    assert!(o.status.success() && text(&o).contains("fc_x.png"), "{}", text(&o));
    let svg = std::fs::read_to_string(out.join("fc_x.svg")).unwrap();
    // the plot's frame and nine cells
    assert_eq!(svg.matches("<rect x=").count(), 1 + 9, "{svg}");
    assert!(svg.contains("row 0 on top"));
    let png = std::fs::read(out.join("fc_x.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // and a network's synapses as its connectivity matrix (blocks of neurons)
    let net = d.join("net");
    let o =
        neuroc(&["run", "examples/cuba.neuro", "--duration", "5ms", "--save-synapses", "-o", net.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let o = neuroc(&["plot", net.to_str().unwrap()]);
    assert!(o.status.success() && text(&o).contains("synapses.png"), "{}", text(&o));
    let svg = std::fs::read_to_string(net.join("synapses.svg")).unwrap();
    assert_eq!(svg.matches("<rect x=").count(), 1 + 100 * 100, "4000 neurons in 100 x 100 blocks");
    assert!(svg.contains("presynaptic neuron") && svg.contains("postsynaptic neuron (summed weight)"));
}

/// A density run also writes p(V, t) (`density_t.csv`, about 200 times
/// over the run, columns headed by V): each snapshot holds the mass not in
/// the refractory state (at most one), the last one is the final density
/// of `density.csv`, and `plot` draws it as an image against V in mV.
#[test]
fn a_density_writes_and_plots_p_of_v_and_t() {
    let out = tmp("density-t");
    let o = neuroc(&["run", "examples/lif_density.neuro", "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let read = |f: &str| -> (Vec<String>, Vec<Vec<f64>>) {
        let t = std::fs::read_to_string(out.join(f)).unwrap();
        let mut lines = t.lines();
        let head = lines.next().unwrap().split(',').map(String::from).collect();
        (head, lines.map(|l| l.split(',').map(|x| x.parse().unwrap()).collect()).collect())
    };
    let (head, rows) = read("density_t.csv");
    let (_, last) = read("density.csv");
    assert_eq!(head.len(), 1 + last.len(), "one column per cell");
    assert!(head[1].starts_with("p_per_mV@V_mV=") && rows.len() > 150 && rows.len() < 260, "{} rows", rows.len());
    let dv = last[1][0] - last[0][0];
    for r in &rows {
        let mass: f64 = r[1..].iter().sum::<f64>() * dv;
        assert!(mass > 0.9 && mass <= 1.0 + 1e-9, "t = {} ms: mass {mass}", r[0]);
    }
    let end = rows.last().unwrap();
    assert!((end[0] - 220.0).abs() < 1e-9, "the last snapshot at the end: {}", end[0]);
    for (p, cell) in end[1..].iter().zip(&last) {
        assert!((p - cell[1]).abs() <= 1e-9 * cell[1].abs().max(1e-30), "{p} vs {}", cell[1]);
    }
    let o = neuroc(&["plot", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let svg = std::fs::read_to_string(out.join("density_t.svg")).unwrap();
    assert!(svg.contains("V (mV) (p (1/mV): blue low, red high)") && svg.contains("<rect"), "axis label");
    assert!(out.join("density_t.png").exists());
}

#[test]
fn overflowing_parameter_is_reported() {
    let d = tmp("overflow");
    let f = d.join("o.neuro");
    std::fs::write(&f, "rate O {\n    parameter p = 1e308 * 1e308\n    state x = 1\n    dx/dt = -p * x / 1 s\n}\n")
        .unwrap();
    for backend in ["jit", "reference"] {
        let o = neuroc(&["run", f.to_str().unwrap(), "-o", d.to_str().unwrap(), "--backend", backend]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(text(&o).contains("E0103"), "{}", text(&o));
    }
}

#[test]
fn spike_trains_drive_synapses_and_plasticity() {
    let d = tmp("trains");
    let tm = d.join("tm.neuro");
    std::fs::write(&tm, "import \"plasticity.neuro\"\nsimulate TMDepressing { dt = 0.1 ms, duration = 200 ms, spikes = regular(20 ms) }\n").unwrap();
    let o = neuroc(&["run", tm.to_str().unwrap(), "-o", d.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let out = std::fs::read_to_string(d.join("outputs.csv")).unwrap();
    assert_eq!(out.lines().next(), Some("name,t_ms,value"));
    assert_eq!(out.lines().count(), 1 + 10);
    assert!(out.lines().nth(1).unwrap().starts_with("release,20,0.5"));
    let syn = d.join("syn.neuro");
    std::fs::write(&syn, "import \"synapses.neuro\"\nsimulate ExpCond { dt = 0.1 ms, duration = 100 ms, spikes = at(10 ms, 30 ms), weight = 2 mV }\n").unwrap();
    let o = neuroc(&["run", syn.to_str().unwrap(), "-o", d.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("E0307") && text(&o).contains("weight"), "{}", text(&o));
}

#[test]
fn random_spreads_are_seeded_and_reproducible() {
    let d = tmp("spread");
    let f = d.join("pop.neuro");
    let write = |seed: u32| {
        std::fs::write(
            &f,
            format!(
                "import \"lif.neuro\"\nsimulate LIF {{\n    n = 500, seed = {seed}\n    V = uniform(-70 mV, -51 mV)\n    R = normal(100 Mohm, 5 Mohm)\n    dt = 0.1 ms, duration = 20 ms\n}}\n"
            ),
        )
        .unwrap();
    };
    let run = |out: &str| {
        let o = neuroc(&["run", f.to_str().unwrap(), "-o", d.join(out).to_str().unwrap(), "--threads", "2"]);
        assert!(o.status.success(), "{}", text(&o));
        std::fs::read_to_string(d.join(out).join("spikes.csv")).unwrap()
    };
    write(1);
    let a = run("a");
    let b = run("b");
    write(2);
    let c = run("c");
    // LIF neurons with no input relax from their random start; none spike,
    // but neuron 0's trace starts at its own draw
    assert_eq!(a, b, "same seed, same output");
    let va = std::fs::read_to_string(d.join("a").join("V.csv")).unwrap();
    let vc = std::fs::read_to_string(d.join("c").join("V.csv")).unwrap();
    let start = |s: &str| s.lines().nth(1).unwrap().split(',').nth(1).unwrap().parse::<f64>().unwrap();
    assert!((-70.0..-51.0).contains(&start(&va)), "{}", start(&va));
    assert_ne!(start(&va), start(&vc), "a different seed draws differently");
    let _ = c;
}

#[test]
fn network_errors_name_ports_and_populations() {
    let d = tmp("neterr");
    let f = d.join("n.neuro");
    let model = "neuron P {\n    state V = 0 mV\n    dV/dt = -V / 10 ms\n    on spike exc(w: mV) { V += w }\n    on V >= 1 mV { V = 0 mV; emit spike }\n}\n";
    std::fs::write(&f, format!("{model}network N {{\n    population A = 10 x P\n    connect A -> A via inh (p = 0.5, w = 1 mV)\n}}\nsimulate N {{ dt = 0.1 ms, duration = 5 ms }}\n")).unwrap();
    let o = neuroc(&["run", f.to_str().unwrap(), "-o", d.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("no input port or model named `inh`"), "{}", text(&o));
    std::fs::write(&f, format!("{model}network N {{\n    population A = 10 x P\n    connect A -> B via exc (p = 0.5, w = 1 mV)\n}}\nsimulate N {{ dt = 0.1 ms, duration = 5 ms }}\n")).unwrap();
    let o = neuroc(&["run", f.to_str().unwrap(), "-o", d.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("no population named `B`"), "{}", text(&o));
    std::fs::write(&f, format!("{model}network N {{\n    population A = 10 x P\n    connect A -> A via exc (p = 0.5, w = 1 nS)\n}}\nsimulate N {{ dt = 0.1 ms, duration = 5 ms }}\n")).unwrap();
    let o = neuroc(&["run", f.to_str().unwrap(), "-o", d.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("E0307"), "{}", text(&o));
}

#[test]
fn density_and_field_examples_run_and_write_their_files() {
    let d = tmp("populations");
    let o = neuroc(&["run", "examples/lif_density.neuro", "-o", d.to_str().unwrap(), "-q"]);
    assert!(o.status.success(), "{}", text(&o));
    let rate = std::fs::read_to_string(d.join("rate.csv")).unwrap();
    assert!(rate.starts_with("t_ms,rate_Hz,mean_V_mV,refractory_fraction\n"), "{rate}");
    assert_eq!(rate.lines().count(), 1 + 220, "one row per 1 ms bin");
    let last: f64 = rate.lines().last().unwrap().split(',').nth(1).unwrap().parse().unwrap();
    assert!((last - 27.34).abs() < 0.2, "final rate {last}");
    assert!(std::fs::read_to_string(d.join("density.csv")).unwrap().lines().count() == 401);
    let o = neuroc(&["explain", "examples/lif_density.neuro"]);
    assert!(text(&o).contains("Scharfetter-Gummel") && text(&o).contains("stationary rate"), "{}", text(&o));
    // a bad scheme name for a density is E0401
    let o = neuroc(&["run", "examples/lif_density.neuro", "-o", d.to_str().unwrap(), "--method", "rk4"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("E0401"), "{}", text(&o));

    // a second model into its own folder: a run replaces what the last one
    // wrote into the same folder
    let density_dir = d.clone();
    let d = tmp("populations-field");
    let o = neuroc(&[
        "run",
        "examples/neural_field_ring.neuro",
        "--model",
        "Turing",
        "-o",
        d.to_str().unwrap(),
        "--duration",
        "50ms",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let u = std::fs::read_to_string(d.join("u.csv")).unwrap();
    let header = u.lines().next().unwrap();
    assert_eq!(header.split(',').count(), 257, "t_ms and 256 cells");
    assert_eq!(u.lines().count(), 1 + 51);
    let o = neuroc(&["explain", "examples/neural_field_ring.neuro", "--model", "Turing"]);
    assert!(text(&o).contains("peaks at mode 6"), "{}", text(&o));
    // plots: the field as a space-time image, the density's columns one by one
    for dir in [&d, &density_dir] {
        let o = neuroc(&["plot", dir.to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o));
    }
    for (dir, f) in [
        (&d, "u.svg"),
        (&density_dir, "rate-rate_Hz.svg"),
        (&density_dir, "rate-mean_V_mV.svg"),
        (&density_dir, "density.svg"),
    ] {
        let svg = std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{f}");
    }
    assert!(std::fs::read_to_string(d.join("u.svg")).unwrap().matches("<rect").count() > 1000, "an image of cells");
    // odd files do not make `plot` panic: a lone `t_ms` column, short rows
    let odd = tmp("plot-odd");
    std::fs::write(odd.join("a.csv"), "t_ms\n1\n2\n").unwrap();
    std::fs::write(odd.join("b.csv"), "t_ms,V_mV,W_mV\n1,2\n3,NaN,4\n").unwrap();
    std::fs::write(odd.join("c.csv"), "x_mm,y_mm,u\n").unwrap();
    let o = neuroc(&["plot", odd.to_str().unwrap()]);
    assert!(o.status.code().is_some_and(|c| c <= 2), "{}", text(&o));
    // a density started outside its grid, and a bad --sample
    let o =
        neuroc(&["run", "examples/lif_density.neuro", "--model", "FromLIF", "-o", d.to_str().unwrap(), "--sample=0ms"]);
    assert!(text(&o).contains("positive duration"), "{}", text(&o));
}

#[test]
fn explain_describes_a_network() {
    let o = neuroc(&["explain", "examples/cuba.neuro"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("network CUBA") && t.contains("delivered to the input port `exc` of E (CubaLIF), I (CubaLIF)"),
        "{t}"
    );
    assert!(!t.contains("not simulated yet"), "{t}");
}

/// `run` says what its rate table is; `--no-tables` and the reference back
/// end compute exactly and say so; `explain` lists the columns.
#[test]
fn rate_tables_on_the_command_line() {
    let out = tmp("tables");
    let o_dir = out.to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "examples/hh_population.neuro", "--duration", "20ms", "-o", o_dir];
        args.extend_from_slice(extra);
        let o = neuroc(&args);
        assert!(o.status.success(), "{}", text(&o));
        text(&o)
    };
    let tabulated = run(&["--neurons", "10"]);
    assert!(tabulated.contains("rate table in V: 9 columns at 2001 points 0.1 mV apart"), "{tabulated}");
    let exact = run(&["--neurons", "10", "--no-tables"]);
    assert!(!exact.contains("rate table"), "{exact}");
    let reference = run(&["--neurons", "1", "--backend", "reference"]);
    assert!(reference.contains("rate tables unused"), "{reference}");
    let o = neuroc(&["explain", "examples/hh_population.neuro"]);
    let t = text(&o);
    assert!(t.contains("rate tables") && t.contains("alpha of NaT.m:") && t.contains("g of Kdr.n:"), "{t}");
    // --table tabulates a model that has no table statement
    let hh = |spec: &str| {
        neuroc(&["run", "examples/hodgkin_huxley.neuro", "--method", "auto", "-o", o_dir, "--table", spec])
    };
    let o = hh("V in [-100 mV, 100 mV], step = 0.5 mV");
    assert!(o.status.success() && text(&o).contains("rate table in V: 9 columns at 401 points"), "{}", text(&o));
    for (spec, code) in [
        ("W in [-100 mV, 100 mV], step = 0.5 mV", "E0218"),
        ("V in [-100 mV, 100 ms], step = 0.5 mV", "E0307"),
        ("V in [-100 mV, 100 mV), step = 0.5 mV", "E0218"),
        ("V in [-100 mV, 100 mV], steps = 0.5 mV", "E0218"),
        ("V in [-100 mV, 100 mV], step = 0.3 mV", "E0218"),
        ("V in [-100 mV, 100 mV", "E0101"),
    ] {
        let o = hh(spec);
        assert!(!o.status.success() && text(&o).contains(code), "{spec}: {}", text(&o));
    }
    let o = neuroc(&["run", "examples/hh_population.neuro", "--no-tables", "--table", "V in [-1 V, 1 V], step = 1 mV"]);
    assert!(!o.status.success() && text(&o).contains("cannot be used with"), "{}", text(&o));
}

/// `import` says why a file cannot be used: a directory, the file itself,
/// bytes that are not text (never printed), or nothing there.
#[test]
fn import_problems_are_told_apart() {
    let d = tmp("imports");
    std::fs::create_dir_all(d.join("folder.neuro")).unwrap();
    std::fs::write(d.join("binary.neuro"), [0x6eu8, 0x65, 0xff, 0xfe, 0x00, 0x53, 0x45, 0x43, 0x52, 0x45, 0x54])
        .unwrap();
    let body = "neuron N {\n    state V = -65 mV\n    dV/dt = -V / 10 ms\n}\n";
    for (import, expect) in [
        ("folder.neuro", "is a directory"),
        ("me.neuro", "a file cannot import itself"),
        ("binary.neuro", "is not UTF-8 text (invalid byte at offset 2)"),
        ("nowhere.neuro", "cannot find `nowhere.neuro`"),
    ] {
        let f = d.join("me.neuro");
        std::fs::write(&f, format!("import \"{import}\"\n{body}")).unwrap();
        let o = neuroc(&["check", f.to_str().unwrap()]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{t}");
        assert!(t.contains("E0204") && t.contains(expect), "{import}: {t}");
        assert!(!t.contains("SECRET"), "the content of a refused file is never printed: {t}");
    }
}

/// Resident memory of a process, KiB (Linux).
#[cfg(target_os = "linux")]
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// A run of 10^8 ms streams its outputs (memory stays flat) and Ctrl-C
/// stops it with the files complete up to then and `run.json` marked
/// interrupted.
#[cfg(target_os = "linux")]
#[test]
fn a_very_long_run_streams_and_stops_on_ctrl_c() {
    let d = tmp("ctrl-c");
    let mut child = Command::new(env!("CARGO_BIN_EXE_neuroc"))
        .args(["run", "examples/lif.neuro", "--duration", "1e8ms", "--sample", "1ms", "-q", "-o", d.to_str().unwrap()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .spawn()
        .unwrap();
    let pid = child.id();
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let early = rss_kib(pid).expect("the run is going");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let late = rss_kib(pid).expect("the run is still going");
    // a run that kept its trace would grow by megabytes per second
    assert!(late < early + 4096, "memory grew from {early} KiB to {late} KiB");
    let m = neuroc::output::manifest::read(&d).expect("a manifest from the start");
    assert_eq!(m["status"], "running");
    assert!(!d.join("V.csv").exists(), "nothing half-written in the folder while running");
    Command::new("kill").args(["-INT", &pid.to_string()]).status().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let m = neuroc::output::manifest::read(&d).unwrap();
    assert_eq!(m["status"], "interrupted", "{m}");
    let t = m["t_reached_ms"].as_f64().unwrap();
    assert!(t > 100.0, "it ran for a while: {t} ms");
    let v = std::fs::read_to_string(d.join("V.csv")).unwrap();
    let last: f64 = v.lines().last().unwrap().split(',').next().unwrap().parse().unwrap();
    assert!(t - last <= 1.0 + 1e-9 && last <= t, "complete up to the time reached: last row {last} ms, reached {t} ms");
    assert_eq!(m["files"][0]["rows"].as_u64().unwrap() as usize, v.lines().count() - 1);
}

/// Killed while writing, a run leaves the previous run's complete files in
/// place, nothing truncated beside them, and `run.json` marked running by
/// a process that is gone; the next run cleans up after it.
#[cfg(target_os = "linux")]
#[test]
fn a_killed_run_never_leaves_a_truncated_file() {
    let d = tmp("killed");
    let o = neuroc(&["run", "examples/lif.neuro", "--duration", "50ms", "-q", "-o", d.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let before = std::fs::read(d.join("V.csv")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_neuroc"))
        .args(["run", "examples/lif.neuro", "--duration", "1e7ms", "-q", "-o", d.to_str().unwrap()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .spawn()
        .unwrap();
    // wait until it is writing (its partial folder holds a growing V.csv)
    let partial = || {
        std::fs::read_dir(&d)
            .unwrap()
            .flatten()
            .find(|e| e.file_name().to_string_lossy().starts_with(".neuroc-partial"))
    };
    let start = std::time::Instant::now();
    while start.elapsed().as_secs() < 20 {
        let size = partial().and_then(|p| std::fs::metadata(p.path().join("V.csv")).ok()).map_or(0, |m| m.len());
        if size > 1 << 20 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(std::fs::read(d.join("V.csv")).unwrap(), before, "the previous V.csv, whole");
    let m = neuroc::output::manifest::read(&d).unwrap();
    assert_eq!(m["status"], "running", "killed: no one could mark it");
    let pid = m["pid"].as_u64().unwrap();
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "by a process that is gone");
    assert!(partial().is_some());
    let o = neuroc(&["run", "examples/lif.neuro", "--duration", "20ms", "-q", "-o", d.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(partial().is_none(), "the next run removes the killed run's partial folder");
    assert_eq!(neuroc::output::manifest::read(&d).unwrap()["status"], "completed");
}

const NET_LIF: &str = "neuron LIF {
    parameter tau = 10 ms, E_L = -65 mV, V_th = -50 mV, R = 10 Mohm
    input I = 2 nA
    state V = -65 mV
    dV/dt = (E_L - V + R * I) / tau
    on V > V_th { V = E_L; emit spike }
}
network Net {
    population P = 3 x LIF
}
";

/// A method that does not apply, asked for on the command line or in a
/// block, for a neuron or a network: E0402 points at where it was asked.
#[test]
fn a_method_that_does_not_apply_points_at_the_flag_or_setting() {
    let dir = tmp("method-at");
    let file = dir.join("m.neuro");
    for (model, tail, flag) in [
        ("LIF", "", true),
        ("Net", "", true),
        ("LIF", "simulate LIF { method = kinetic }\n", false),
        ("Net", "simulate Net { method = kinetic }\n", false),
    ] {
        std::fs::write(&file, format!("{NET_LIF}{tail}")).unwrap();
        let mut args = vec!["run", file.to_str().unwrap(), "--model", model, "-o", dir.to_str().unwrap()];
        if flag {
            args.extend(["--method", "kinetic"]);
        }
        let o = neuroc(&args);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{t}");
        assert!(t.contains("E0402") && t.contains("method asked for here"), "{t}");
        let at = if flag { "--method:1:1" } else { "simulate" };
        assert!(t.contains(at), "{model} {flag}: E0402 should point at {at}: {t}");
    }
}

/// A network's populations integrate with their model's `method =`, which
/// a block's `method` or `--method` replaces: the same spikes as asking for
/// that method outright, and other spikes than the automatic choice.
#[test]
fn networks_honour_the_models_method() {
    let dir = tmp("net-method");
    let spikes = |src: &str, extra: &[&str]| {
        let file = dir.join("n.neuro");
        std::fs::write(&file, src).unwrap();
        let out = dir.join("out");
        let mut args = vec!["run", file.to_str().unwrap(), "-q", "--model", "Net", "-o", out.to_str().unwrap()];
        args.extend(extra);
        let o = neuroc(&args);
        assert!(o.status.success(), "{}", text(&o));
        std::fs::read_to_string(out.join("spikes.csv")).unwrap()
    };
    let euler_model = NET_LIF.replace("neuron LIF {", "neuron LIF {\n    method = euler");
    let auto = spikes(NET_LIF, &[]);
    let own = spikes(&euler_model, &[]);
    let flag = spikes(NET_LIF, &["--method", "euler"]);
    let block = spikes(&format!("{NET_LIF}simulate Net {{ method = euler }}\n"), &[]);
    assert!(auto.lines().count() > 10, "{auto}");
    assert_ne!(own, auto, "euler and the exact propagator give other spike times");
    assert_eq!(own, flag);
    assert_eq!(own, block);
    // and `--method` replaces the model's own
    assert_eq!(spikes(&euler_model, &["--method", "exact"]), auto);
}

/// A damaged table is refused, naming the file and line, not drawn.
#[test]
fn plot_refuses_a_malformed_csv() {
    for (name, content, line) in [
        ("V.csv", "t_ms,V_mV\n0,1\n1,abc\n", "line 3"),
        ("V.csv", "t_ms,V_mV\n0,1\n2\n", "line 3"),
        ("spikes.csv", "neuron,t_ms\n0,1,2\n", "line 2"),
        ("V.csv", "t_ms,V_mV\n0,1\n\u{0}1,2\n", "line 3"),
    ] {
        let dir = tmp("plot-bad");
        std::fs::write(dir.join(name), content).unwrap();
        let o = neuroc(&["plot", dir.to_str().unwrap()]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{t}");
        assert!(t.contains(name) && t.contains(line) && t.contains("not 2 comma-separated numbers"), "{t}");
        assert!(!dir.join(name.replace("csv", "svg")).exists(), "nothing drawn");
    }
}

/// A density's grid is set from the command line, and checked there.
#[test]
fn cells_flag_sets_a_densitys_grid() {
    let out = tmp("cells");
    let o = neuroc(&[
        "run",
        "examples/lif_density.neuro",
        "--cells",
        "100",
        "--duration",
        "10ms",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("100 cells"), "{}", text(&o));
    let rows = std::fs::read_to_string(out.join("density.csv")).unwrap().lines().count();
    assert_eq!(rows, 101, "a header and one row per cell");
    let o = neuroc(&["run", "examples/lif_density.neuro", "--cells", "2", "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("E0503") && text(&o).contains("--cells:1:1"), "{}", text(&o));
}

/// `-q` prints nothing on success, for every kind of run.
#[test]
fn quiet_runs_print_nothing() {
    let d = tmp("quiet");
    for (file, model) in [
        ("examples/lif.neuro", None),
        ("examples/brunel2000.neuro", Some("BrunelAI")),
        ("examples/lif_density.neuro", None),
        ("examples/neural_field_ring.neuro", Some("Bump")),
    ] {
        let mut args = vec!["run", file, "-q", "--duration", "5ms", "-o", d.to_str().unwrap()];
        if let Some(m) = model {
            args.extend(["--model", m]);
        }
        let o = neuroc(&args);
        assert!(o.status.success(), "{file}: {}", text(&o));
        assert_eq!(text(&o), "", "{file} printed with -q");
    }
}

/// `neuroc analyze` on the Wilson-Cowan example: text on stdout, the same
/// report as JSON; a bad continuation flag is a diagnostic (exit 1).
#[test]
fn analyze_prints_and_writes_json() {
    let d = tmp("analyze");
    let json = d.join("wc.json");
    let o =
        neuroc(&["analyze", "examples/wilson_cowan.neuro", "--continue", "P=1:2:21", "--json", json.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("unstable focus") && out.contains("Hopf at P = "), "{out}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["kind"], "rate");
    let crossings = v["continuation"]["crossings"].as_array().unwrap();
    assert!(crossings.iter().any(|c| c["type"] == "hopf" && c["frequency_hz"].as_f64().unwrap() > 0.0));
    let o = neuroc(&["analyze", "examples/wilson_cowan.neuro", "--continue", "P=1:2"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("error[E0503]"), "{}", text(&o));
}

#[test]
fn fit_and_identifiability_from_the_command_line() {
    // a trace written by `run`, fitted back from 20% off, with the plots
    let dir = tmp("fit");
    let out = dir.join("lif");
    let o = neuroc(&["run", "examples/lif.neuro", "--duration", "100ms", "-o", out.to_str().unwrap(), "-q"]);
    assert!(o.status.success(), "{}", text(&o));
    let fitted = dir.join("fit");
    let o = neuroc(&[
        "fit",
        "examples/lif.neuro",
        "--data",
        out.join("V.csv").to_str().unwrap(),
        "--fit",
        "tau_m,R",
        "--to",
        "V",
        "--duration",
        "100ms",
        "--set",
        "tau_m=24ms",
        "-o",
        fitted.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("tau_m          = 20 ms"), "{}", text(&o));
    for f in ["fit.csv", "fit.json"] {
        assert!(fitted.join(f).exists(), "{f}");
    }
    assert!(std::fs::read_dir(&fitted).unwrap().any(|e| e.unwrap().path().extension().is_some_and(|x| x == "svg")));
    // the report, its profile and its files
    let report = dir.join("id");
    let o = neuroc(&[
        "analyze",
        "examples/lif.neuro",
        "--identifiability",
        "tau_m,R",
        "--observe",
        "V",
        "--noise",
        "0.5mV",
        "--duration",
        "100ms",
        "--profile",
        "R",
        "-o",
        report.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("Cramer-Rao") && text(&o).contains("profile of R"), "{}", text(&o));
    for f in ["identifiability.json", "eigen.csv", "eigen.svg", "profile_R.csv", "profile_R.svg"] {
        assert!(report.join(f).exists(), "{f}");
    }
    // bad requests: a noise in the wrong unit, data that is not there
    let o =
        neuroc(&["analyze", "examples/lif.neuro", "--identifiability", "tau_m", "--observe", "V", "--noise", "1ms"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("E0307"), "{}", text(&o));
    let o = neuroc(&["fit", "examples/lif.neuro", "--data", "no/such.csv", "--fit", "tau_m", "--to", "V"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("cannot read the data"), "{}", text(&o));
}
