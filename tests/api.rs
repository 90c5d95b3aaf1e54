//! The library API (`neuroc::Experiment`) as a program would use it: the
//! same runs as the command line, results in memory with units, settings
//! as text checked like the file, outputs streamed safely into a folder.

mod common;

use neuroc::output::manifest;
use neuroc::{Experiment, Format};
use std::path::PathBuf;

fn tmp(name: &str) -> PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("neuroc-api-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn load(path: &str) -> Experiment {
    Experiment::load(common::repo(path)).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_run_in_memory_gives_tables_with_units() {
    let mut exp = load("examples/hodgkin_huxley.neuro");
    exp.set("I_amp", "8.5 uA/cm^2").duration("100 ms").sample("0.1 ms").record("V").record("NaT.m");
    let (results, summary) = exp.run().unwrap_or_else(|e| panic!("{e}"));
    let v = results.table("V").expect("V recorded");
    assert_eq!(v.columns[1].header, "V_mV");
    assert_eq!(v.columns[1].unit, "mV");
    assert_eq!(v.rows(), 1001, "0 to 100 ms every 0.1 ms");
    let volts = v.column_si("V").unwrap();
    assert!((volts[0] - -0.065).abs() < 1e-12, "V(0) = -65 mV, in SI volts: {}", volts[0]);
    let m = results.table("NaT.m").unwrap().column("NaT.m").unwrap();
    assert!(m.iter().all(|x| (0.0..=1.0).contains(x)), "a gate is a fraction");
    let spikes = results.spikes();
    // 8.5 uA/cm^2 is above the rheobase (about 6.2): a regular train
    assert!(spikes.len() >= 5, "{spikes:?}");
    assert_eq!(summary.spikes as usize, spikes.len());
    assert!(summary.line.contains("Squid"), "{}", summary.line);
}

/// The same run through the API and through the binary writes the same bytes.
#[test]
fn the_api_and_the_command_line_agree() {
    let cli = tmp("agree-cli");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_neuroc"))
        .args(["run", "examples/lif.neuro", "-q", "--duration", "200ms", "-o", cli.to_str().unwrap()])
        .current_dir(common::repo("."))
        .output()
        .unwrap();
    assert!(o.status.success());
    let api = tmp("agree-api");
    let mut exp = load("examples/lif.neuro");
    exp.duration("200 ms");
    let (_, files) = exp.run_to(&api, Format::Csv).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(files.len(), 2);
    for f in ["V.csv", "spikes.csv"] {
        assert_eq!(std::fs::read(cli.join(f)).unwrap(), std::fs::read(api.join(f)).unwrap(), "{f}");
    }
}

/// A setting given as text is checked like the file, and its error points
/// into that text.
#[test]
fn bad_settings_point_at_their_own_text() {
    for (what, expect) in [
        ("dt", "error[E0307]: `--dt` must be time"),
        ("duration", "--duration:1:1"),
        ("set", "error[E0504]: `I_ampp` is not a parameter or input"),
        ("set-unit", "--set:1:7"),
        ("method", "error[E0401]"),
        ("neurons", "error[E0503]: `--neurons` must be a whole number"),
        ("threads", "error[E0503]: `--threads` must be a whole number from 1"),
        ("record", "error[E0505]"),
    ] {
        let mut exp = load("examples/hodgkin_huxley.neuro");
        match what {
            "dt" => exp.dt("0.01 mV"),
            "duration" => exp.duration("-5 ms"),
            "set" => exp.set("I_ampp", "1 uA/cm^2"),
            "set-unit" => exp.set("I_amp", "8 mV"),
            "method" => exp.method("rk5"),
            "neurons" => exp.neurons("18446744073709551615"),
            "threads" => exp.threads("0"),
            _ => exp.record("Vm"),
        };
        let err = exp.configure().expect_err(what).render();
        assert!(err.contains(expect), "{what}: {err}");
        assert!(err.contains("help"), "{what}: {err}");
    }
}

#[test]
fn a_second_model_into_the_same_folder_leaves_no_stale_files() {
    let dir = tmp("stale");
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    let mut hh = load("examples/hodgkin_huxley.neuro");
    hh.duration("20 ms").record("V").record("NaT.m");
    hh.run_to(&dir, Format::Csv).unwrap_or_else(|e| panic!("{e}"));
    assert!(dir.join("NaT.m.csv").exists());
    let mut wc = load("examples/wilson_cowan.neuro");
    wc.duration("20 ms");
    wc.run_to(&dir, Format::Csv).unwrap_or_else(|e| panic!("{e}"));
    let mut names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
    names.sort();
    assert_eq!(names, ["E.csv", "I.csv", "notes.txt", "run.json", "spikes.csv"]);
    let m = manifest::read(&dir).unwrap();
    assert_eq!(m["status"], "completed");
    assert_eq!(m["run"]["model"], "WilsonCowan");
    assert_eq!(m["files"].as_array().unwrap().len(), 3);
    assert_eq!(m["t_reached_ms"], 20.0);
    let hash = m["run"]["sources"][0]["fnv1a64"].as_str().unwrap();
    assert_eq!(hash.len(), 16);
}

#[cfg(unix)]
#[test]
fn a_symlink_in_the_output_folder_is_not_followed() {
    let dir = tmp("symlink");
    let outside = tmp("symlink-outside").join("precious.csv");
    std::fs::write(&outside, "do not overwrite").unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("V.csv")).unwrap();
    let mut exp = load("examples/lif.neuro");
    exp.duration("10 ms");
    exp.run_to(&dir, Format::Csv).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "do not overwrite");
    assert!(std::fs::read_to_string(dir.join("V.csv")).unwrap().starts_with("t_ms,V_mV"));
}

/// A write that fails (here: a folder stands where a file must go) leaves
/// the previous run's complete files and a manifest marked failed.
#[test]
fn a_failed_write_keeps_the_previous_files_and_says_so() {
    let dir = tmp("failed");
    let mut exp = load("examples/lif.neuro");
    exp.duration("10 ms");
    exp.run_to(&dir, Format::Csv).unwrap_or_else(|e| panic!("{e}"));
    let before = std::fs::read(dir.join("V.csv")).unwrap();
    std::fs::remove_file(dir.join("spikes.csv")).unwrap();
    std::fs::create_dir(dir.join("spikes.csv")).unwrap();
    std::fs::write(dir.join("spikes.csv").join("x"), "").unwrap();
    let mut longer = load("examples/lif.neuro");
    longer.duration("20 ms");
    let err = longer.run_to(&dir, Format::Csv).expect_err("cannot rename over a folder");
    assert!(err.is_io(), "{err}");
    let m = manifest::read(&dir).unwrap();
    assert_eq!(m["status"], "failed", "{m}");
    assert!(m["error"].as_str().unwrap().contains("writing the files failed"), "{m}");
    // V.csv was renamed into place before spikes.csv failed: the manifest lists it
    let listed: Vec<&str> = m["files"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    let v = std::fs::read(dir.join("V.csv")).unwrap();
    if listed.contains(&"V.csv") {
        assert!(v.len() > before.len(), "the new, longer V.csv");
    } else {
        assert_eq!(v, before);
    }
    assert!(std::fs::read_dir(&dir).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().starts_with(".neuroc")));
}

/// The stop flag (Ctrl-C in the command line) ends a run at its next step;
/// the files hold the run up to then and the manifest says `interrupted`.
#[test]
fn a_stopped_run_is_marked_interrupted() {
    let dir = tmp("interrupted");
    let mut exp = load("examples/lif.neuro");
    exp.duration("1000 s");
    let stop = exp.stop_flag();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let (summary, _) = exp.run_to(&dir, Format::Csv).unwrap_or_else(|e| panic!("{e}"));
    stopper.join().unwrap();
    assert!(summary.interrupted);
    let m = manifest::read(&dir).unwrap();
    assert_eq!(m["status"], "interrupted");
    let t = m["t_reached_ms"].as_f64().unwrap();
    assert!(t > 0.0 && t < 1e6, "{t}");
    let rows = std::fs::read_to_string(dir.join("V.csv")).unwrap().lines().count() - 1;
    let last: f64 = std::fs::read_to_string(dir.join("V.csv"))
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((last - t).abs() < 0.2, "the last row is at the time reached: {last} vs {t}");
    assert_eq!(m["files"][0]["rows"].as_u64().unwrap() as usize, rows);
}

const LIF_INPUT: &str = "neuron LIF {
    parameter tau = 10 ms, E_L = -65 mV, V_th = -50 mV, R = 10 Mohm
    input I = 0 nA
    state V = -65 mV
    dV/dt = (E_L - V + R * I) / tau
    on V > V_th { V = E_L; emit spike }
}
network Net {
    population P = 5 x LIF
}
";

/// Spikes per neuron in `duration` for a LIF with input `i_na` nA: the
/// interspike interval is tau ln(RI / (RI - (V_th - E_L))).
fn lif_count(i_na: f64, duration_ms: f64) -> usize {
    let ri = 10.0 * i_na;
    if ri <= 15.0 {
        return 0;
    }
    (duration_ms / (10.0 * (ri / (ri - 15.0)).ln())).floor() as usize
}

/// An input spread over a population like a parameter, in a single model's
/// block and in a network's: each neuron fires at the rate its own input
/// gives; a range of neurons is recorded, each as its own run would be.
#[test]
fn inputs_spread_over_a_population_and_ranges_are_recorded() {
    let counts = |spikes: Vec<(usize, f64)>| {
        let mut c = vec![0usize; 5];
        spikes.iter().for_each(|&(i, _)| c[i] += 1);
        c
    };
    let expected: Vec<usize> = (0..5).map(|i| lif_count(i as f64, 203.0)).collect();
    assert!(expected[4] > 30 && expected[0] == 0, "{expected:?}");
    let src = format!("{LIF_INPUT}simulate LIF {{ n = 5, I = linspace(0 nA, 4 nA), duration = 203 ms }}\n");
    let mut exp = Experiment::from_source("lif.neuro", &src, None).unwrap_or_else(|e| panic!("{e}"));
    exp.record("V[1:4]");
    let (res, _) = exp.run().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(counts(res.spikes()), expected);
    let v = res.table("V").unwrap();
    let heads: Vec<&str> = v.columns.iter().map(|c| c.header.as_str()).collect();
    assert_eq!(heads, ["t_ms", "V_mV@1", "V_mV@2", "V_mV@3"]);
    for i in 1..4 {
        let mut one = Experiment::from_source("lif.neuro", &src, None).unwrap();
        one.neurons("1").set("I", &format!("{i} nA")).record("V");
        let (r1, _) = one.run().unwrap_or_else(|e| panic!("{e}"));
        let alone = r1.table("V").unwrap().column("V").unwrap().to_vec();
        let within = v.column(&format!("V_mV@{i}")).unwrap().to_vec();
        assert_eq!(alone.len(), within.len());
        let worst = alone.iter().zip(&within).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(worst < 1e-9, "neuron {i} differs from its own run by {worst} mV");
    }
    // --set wins over the block's spread
    let mut set = Experiment::from_source("lif.neuro", &src, None).unwrap();
    set.set("I", "3 nA");
    assert_eq!(counts(set.run().unwrap().0.spikes()), vec![lif_count(3.0, 203.0); 5]);
    // in a network's block; the network steps at 0.1 ms
    let net = format!("{LIF_INPUT}simulate Net {{ I = linspace(0 nA, 4 nA), duration = 203 ms, dt = 0.01 ms }}\n");
    let exp = Experiment::from_source("net.neuro", &net, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(counts(exp.run().unwrap_or_else(|e| panic!("{e}")).0.spikes()), expected);
}

/// A range that is not one of the population's is refused at the flag.
#[test]
fn a_recorded_range_outside_the_population_is_refused() {
    let src = format!("{LIF_INPUT}simulate LIF {{ n = 5 }}\n");
    for (probe, says) in [
        ("V[3:2]", "not a range"),
        ("V[0:6]", "not a range"),
        ("V[a:b]", "not a probe with a range"),
        ("V[0:2", "not a probe with a range"),
    ] {
        let mut exp = Experiment::from_source("lif.neuro", &src, None).unwrap();
        exp.record(probe);
        let err = exp.run().expect_err(probe).to_string();
        assert!(err.contains("E0503") && err.contains(says) && err.contains("--record"), "{probe}: {err}");
    }
    let mut exp = Experiment::from_source("lif.neuro", &src, None).unwrap();
    exp.record("V[0:2]").record("I[1:3]");
    let err = exp.run().expect_err("two ranges").to_string();
    assert!(err.contains("one range of neurons per run"), "{err}");
}

/// A channel's gates and parameters are set from a `simulate` block by
/// their qualified names, as `--set` and `--record` name them.
#[test]
fn a_block_sets_gates_and_channel_parameters() {
    let run = |block: &str| {
        let src = format!("import \"stdlib/traub.neuro\"\nsimulate HHTraub {{ duration = 10 ms, {block} }}\n");
        let path = common::repo("examples/x.neuro");
        let mut exp = Experiment::from_source("x.neuro", &src, Some(path)).unwrap_or_else(|e| panic!("{e}"));
        exp.record("V").record("NaTraub.m").record("NaTraub.h");
        exp.run().unwrap_or_else(|e| panic!("{block}: {e}")).0
    };
    let first = |r: &neuroc::output::memory::Results, name: &str| r.table(name).unwrap().column(name).unwrap()[0];
    let open = run("NaTraub.m = 0.5, NaTraub.h = 0");
    assert_eq!(first(&open, "NaTraub.m"), 0.5);
    assert_eq!(first(&open, "NaTraub.h"), 0.0);
    let rest = run("seed = 1");
    assert!(first(&rest, "NaTraub.m") < 0.1, "the default starts m at its steady state");
    // with the sodium conductance off, nothing fires whatever m starts at
    let blocked = run("NaTraub.g = 0 nS, NaTraub.m = 1");
    assert!(blocked.spikes().is_empty());
    assert!(!run("NaTraub.m = 1, NaTraub.h = 1").spikes().is_empty(), "m = h = 1 opens the sodium channel");
}

/// A spike train into a neuron with several `on spike` ports says which
/// one it reaches; the others do not see it.
#[test]
fn spike_drives_name_their_port() {
    let run = |settings: &str| {
        let src = format!(
            "import \"stdlib/traub.neuro\"\nsimulate HHTraub {{ spikes = at(1 ms, 2 ms), weight = 50 nS, duration = 20 ms{settings} }}\n"
        );
        let path = common::repo("examples/x.neuro");
        // `check` (in `from_source`) and `run` configure the block alike
        Experiment::from_source("x.neuro", &src, Some(path)).and_then(|e| e.run())
    };
    let err = run("").expect_err("two ports, none named").to_string();
    assert!(err.contains("several ports: exc, inh") && err.contains("port = exc"), "{err}");
    let err = run(", port = foo").expect_err("no such port").to_string();
    assert!(err.contains("no port `foo`") && err.contains("ports: exc, inh"), "{err}");
    let exc = run(", port = exc").unwrap_or_else(|e| panic!("{e}")).0;
    assert!(!exc.spikes().is_empty(), "50 nS of excitation fires the cell");
    let inh = run(", port = inh").unwrap_or_else(|e| panic!("{e}")).0;
    assert!(inh.spikes().is_empty(), "inhibition alone does not");
}

/// A divergence on the JIT names the state and the step, as the reference
/// interpreter does, for one neuron and for a neuron of a population.
#[test]
fn a_jit_divergence_names_the_state_and_the_step() {
    let src = "rate R {\n    parameter a = 1\n    state y = 1, x = 1\n    dy/dt = -y / 1 ms\n    dx/dt = a * x^2 / 1 ms\n}\nsimulate R { dt = 0.01 ms, duration = 10 ms }\n";
    use neuroc::Backend;
    let fail = |backend: Backend, neurons: &str, spread: bool| {
        let text = if spread { src.replace("10 ms }", "10 ms, n = 4, a = linspace(0, 2) }") } else { src.to_string() };
        let mut exp = Experiment::from_source("d.neuro", &text, None).unwrap();
        exp.backend(backend).neurons(neurons);
        exp.run().expect_err("x' = x^2 blows up").to_string()
    };
    let reference = fail(Backend::Reference, "1", false);
    assert!(reference.contains("`x` became inf at t = 1.03 ms"), "{reference}");
    let jit = fail(Backend::Jit, "1", false);
    assert!(jit.contains("E0506") && jit.contains("`x` stopped being finite at step 103 (t = 1.03 ms)"), "{jit}");
    assert!(jit.contains("this state diverged"), "{jit}");
    let interp = fail(Backend::Interp, "1", false);
    assert!(interp.contains("at step 103 (t = 1.03 ms)"), "{interp}");
    // a = 0, 2/3, 4/3, 2: neurons 1 to 3 blow up before the first check
    // (step 1000); the first of them is named, at 1 / (2/3) ms = 1.5 ms
    let pop = fail(Backend::Jit, "4", true);
    assert!(pop.contains("`x` of neuron 1 stopped being finite at step 15"), "{pop}");
}

/// A state that grows without bound under explicit Euler warns once, on
/// the reference interpreter and on the kernels, naming the state.
#[test]
fn a_state_past_1e100_warns_once() {
    use neuroc::Backend;
    let src = "rate R {\n    state y = 0, x = 1\n    dy/dt = -y / 1 ms\n    dx/dt = 3 * x / 1 ms\n}\nsimulate R { dt = 0.1 ms, duration = 100 ms, method = euler }\n";
    for (backend, neurons) in [(Backend::Reference, "1"), (Backend::Jit, "1"), (Backend::Interp, "3")] {
        let mut exp = Experiment::from_source("h.neuro", src, None).unwrap();
        exp.backend(backend).neurons(neurons);
        let (_, summary) = exp.run().unwrap_or_else(|e| panic!("{e}"));
        let w: Vec<&neuroc::diag::Diagnostic> =
            summary.warnings.iter().filter(|d| d.code == neuroc::diag::Code::StateGrewHuge).collect();
        assert_eq!(w.len(), 1, "{backend:?}: {:?}", summary.warnings);
        assert!(w[0].message.starts_with("`x`") && w[0].message.contains("grew past 1e100"), "{}", w[0].message);
    }
    // the same model at a stable step says nothing
    let mut exp = Experiment::from_source("h.neuro", &src.replace("3 * x", "-3 * x"), None).unwrap();
    let (_, summary) = exp.neurons("1").run().unwrap();
    assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);
}

/// Impossible sizes say how much they would take and what the limit is,
/// pointing at the setting or flag that asked for them.
#[test]
fn impossible_sizes_say_their_cost_and_limit() {
    let r = "rate R {\n    parameter k = 1\n    state x = 1\n    dx/dt = -k * x / 1 s\n}\n";
    let block = |b: &str| match Experiment::from_source("r.neuro", &format!("{r}simulate R {{ {b} }}\n"), None) {
        Ok(_) => panic!("{b} was accepted"),
        Err(e) => e.to_string(),
    };
    let e = block("n = 1e12");
    assert!(e.contains("18.2 TiB of memory") && e.contains("is available"), "{e}");
    let e = block("dt = 1e-9 ms, duration = 1e9 s");
    assert!(e.contains("is 1e21 steps, more than 1e10"), "{e}");
    let e = block("n = 10, k = normal(1, -1)");
    assert!(e.contains("standard deviation >= 0, not -1"), "{e}");
    let mut exp = Experiment::from_source("r.neuro", r, None).unwrap();
    let e = exp.neurons("1e12").run().expect_err("too many").to_string();
    assert!(e.contains("TiB of memory") && e.contains("--neurons:1:1"), "{e}");
    let mut exp = Experiment::from_source("r.neuro", r, None).unwrap();
    let e = exp.neurons("18446744073709551615").run().expect_err("beyond u64").to_string();
    assert!(e.contains("a whole number from 1 to 1e12"), "{e}");
}
