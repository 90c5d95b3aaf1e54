//! `neuroc import`: NMODL mechanisms written from their published
//! equations (tests/nmodl/*.mod) translated into channels, each run in a
//! single compartment against the hand-written `.neuro` channel: the same
//! membrane potential to 1e-9 (relative). What cannot be imported is
//! E0702 at its NMODL line.

mod common;

use common::repo;
use neuroc::Experiment;

/// The channel imported from `tests/nmodl/NAME.mod`.
fn imported(name: &str) -> neuroc::Imported {
    neuroc::import_nmodl(repo(&format!("tests/nmodl/{name}.mod"))).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The membrane potential (mV) of neuron `model` in `text` under a 10
/// uA/cm^2 step from 5 ms on, for 100 ms, every step.
fn trace(text: &str, model: &str) -> Vec<f64> {
    let mut e = Experiment::from_source("test.neuro", text, None).unwrap_or_else(|e| panic!("{e}"));
    e.model(model).record("V");
    let (r, _) = e.run().unwrap_or_else(|e| panic!("{e}"));
    r.table("V").expect("V").column("V").expect("column").to_vec()
}

/// [`trace`] at temperature `celsius`.
fn trace_at(text: &str, model: &str, celsius: &str) -> Vec<f64> {
    let mut e = Experiment::from_source("test.neuro", text, None).unwrap_or_else(|e| panic!("{e}"));
    e.model(model).record("V").set("celsius", celsius);
    let (r, _) = e.run().unwrap_or_else(|e| panic!("{e}"));
    r.table("V").expect("V").column("V").expect("column").to_vec()
}

/// A neuron using `channels`, in a source that defines them.
fn cell(name: &str, channels: &str, drive: &str) -> String {
    format!(
        "neuron {name} {{\n    parameter C_m = 1 uF/cm^2\n    state V = -65 mV\n    use {channels}\n    input I_ext = \
         {drive} * step(t - 5 ms)\n    dV/dt = (I_ext - currents) / C_m\n}}\nsimulate {name} {{ dt = 0.01 ms, \
         duration = 100 ms }}\n"
    )
}

/// The largest difference between the two traces, relative to the
/// largest |V|, and the trace's range (so a flat trace cannot pass).
fn compare(a: &[f64], b: &[f64]) -> (f64, f64) {
    assert_eq!(a.len(), b.len());
    let scale = a.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let diff = a.iter().zip(b).fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
    let (lo, hi) = a.iter().fold((f64::MAX, f64::MIN), |(l, h), &x| (l.min(x), h.max(x)));
    (diff / scale, hi - lo)
}

#[test]
fn hodgkin_huxley_matches_the_standard_library() {
    let hh = imported("hh");
    assert_eq!(hh.name, "hh");
    assert!(hh.notes.iter().any(|n| n.contains("TABLE")), "{:?}", hh.notes);
    // sodium and potassium carry their currents; the leak is nonspecific
    assert!(hh.text.contains("\n    ion na: ina\n    ion k: ik\n"), "{}", hh.text);
    let text = format!(
        "import \"hh.neuro\"\n{}\n{}{}",
        hh.text,
        cell("Mine", "NaT, Kdr, Leak", "10 uA/cm^2"),
        cell("Theirs", "hh", "10 uA/cm^2")
    );
    let (rel, range) = compare(&trace(&text, "Mine"), &trace(&text, "Theirs"));
    eprintln!("hh: max |dV| / max |V| = {rel:.2e} over a {range:.0} mV range");
    assert!(range > 100.0, "no spikes: {range} mV");
    assert!(rel < 1e-9, "{rel}");
    // the imported parameters answer to --set under their NMODL names
    let mut e = Experiment::from_source("test.neuro", &text, None).unwrap();
    e.model("Theirs").set("hh.gnabar", "0 S/cm^2").record("V");
    let (r, _) = e.run().unwrap_or_else(|e| panic!("{e}"));
    let v = r.table("V").unwrap().column("V").unwrap().to_vec();
    assert!(v.iter().all(|&x| x < 0.0), "no sodium, no spike");
}

#[test]
fn kv1_with_q10_matches_a_gate_with_inf_and_tau() {
    let kv = imported("kv1");
    let mine = "channel Kv1 {\n    parameter gbar = 10 mS/cm^2, E = -77 mV\n    gate n^4 {\n        inf = 1 / (1 + \
                exp(-(V + 30 mV) / 8 mV))\n        tau = 2 ms + 8 ms / (exp((V + 40 mV) / 20 mV) + exp(-(V + 40 mV) \
                / 20 mV))\n        q10 = 2.3, T0 = 22 degC\n    }\n    current i = gbar * n^4 * (V - E)\n}\n";
    let text = format!(
        "import \"hh.neuro\"\n{mine}{}\n{}{}",
        kv.text,
        cell("Mine", "NaT, Kv1, Leak", "10 uA/cm^2"),
        cell("Theirs", "NaT, kv1, Leak", "10 uA/cm^2")
    );
    // at 30 degC, above the kinetics' 22: the q10 must be applied alike
    let (a, b) = (trace_at(&text, "Mine", "30 degC"), trace_at(&text, "Theirs", "30 degC"));
    let (rel, range) = compare(&a, &b);
    eprintln!("kv1: {rel:.2e} over {range:.0} mV");
    assert!(range > 50.0 && rel < 1e-9, "{rel}, {range}");
}

#[test]
fn ih_matches_a_hand_written_gate() {
    let ih = imported("ih");
    let mine = "channel Ih {\n    parameter gbar = 0.1 mS/cm^2, E = -30 mV\n    gate q {\n        inf = 1 / (1 + \
                exp((V + 80 mV) / 6 mV))\n        tau = 1 ms / (exp(-14.59 - 0.086 /mV * V) + exp(-1.87 + 0.0701 /mV \
                * V))\n    }\n    current i = gbar * q * (V - E)\n}\n";
    // hyperpolarized, where Ih opens: the sag
    let text = format!(
        "import \"hh.neuro\"\n{mine}{}\n{}{}",
        ih.text,
        cell("Mine", "Ih, Leak", "-3 uA/cm^2"),
        cell("Theirs", "hcn, Leak", "-3 uA/cm^2")
    );
    let (a, b) = (trace(&text, "Mine"), trace(&text, "Theirs"));
    let (rel, range) = compare(&a, &b);
    eprintln!("ih: {rel:.2e} over {range:.1} mV");
    assert!(range > 5.0 && rel < 1e-9, "{rel}, {range}");
}

#[test]
fn markov_sodium_matches_the_standard_library_scheme() {
    let nam = imported("nam");
    assert!(nam.notes.iter().any(|n| n.contains("CONSERVE")), "{:?}", nam.notes);
    let text = format!(
        "import \"hh.neuro\"\nimport \"markov.neuro\"\n{}\n{}{}",
        nam.text,
        cell("Mine", "NaMarkov, Kdr, Leak", "10 uA/cm^2"),
        cell("Theirs", "nam, Kdr, Leak", "10 uA/cm^2")
    );
    let (rel, range) = compare(&trace(&text, "Mine"), &trace(&text, "Theirs"));
    eprintln!("nam: {rel:.2e} over {range:.0} mV");
    assert!(range > 100.0 && rel < 1e-9, "{rel}, {range}");
}

/// A relay-like cell with sodium, potassium, a T-type calcium current and
/// a calcium pool: hyperpolarized from 20 to 120 ms, then released.
fn calcium_cell(name: &str, channels: &str) -> String {
    format!(
        "neuron {name} {{\n    parameter C_m = 1 uF/cm^2, ca_o = 2 mM\n    state V = -70 mV\n    use {channels}\n    \
         input I_ext = -2 uA/cm^2 * step(t - 20 ms) * step(120 ms - t)\n    dV/dt = (I_ext - currents) / C_m\n}}\n"
    )
}

#[test]
fn a_ghk_calcium_current_and_a_calcium_pool_match_the_standard_library() {
    let (cat, cad) = (imported("cat"), imported("cad"));
    assert!(cat.text.contains("\n    ion ca\n"), "{}", cat.text);
    assert!(cad.text.contains("\n    ca_i = "), "the pool computes ca_i: {}", cad.text);
    let text = format!(
        "import \"hh.neuro\"\nimport \"calcium.neuro\"\n{}\n{}\n{}{}",
        cat.text,
        cad.text,
        calcium_cell("Mine", "NaT, Kdr, Leak, CaT, CaPool"),
        calcium_cell("Theirs", "NaT, Kdr, Leak, cat, cad")
    );
    let run = |model: &str, ca: &str| {
        let mut e = Experiment::from_source("test.neuro", &text, None).unwrap_or_else(|e| panic!("{e}"));
        e.model(model).record("V").record(ca).dt("0.01 ms").duration("300 ms");
        let (r, _) = e.run().unwrap_or_else(|e| panic!("{e}"));
        let v = r.table("V").expect("V").column("V").expect("column").to_vec();
        let c = r.table(ca).expect("ca").column(ca).expect("column").to_vec();
        (v, c)
    };
    // a PARAMETER with the ion's name gives way to the ion's (NEURON's rule)
    let shadowed = neuroc::import_nmodl_text(
        "cat.mod",
        &std::fs::read_to_string(repo("tests/nmodl/cat.mod"))
            .unwrap()
            .replace("    pbar = 0.0002 (cm/s)\n", "    pbar = 0.0002 (cm/s)\n    cao = 7 (mM)\n"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(!shadowed.text.contains("parameter cao") && shadowed.text.contains("ca_o / (1 mM)"), "{}", shadowed.text);
    assert!(shadowed.notes.iter().any(|n| n.contains("`cao`")), "{:?}", shadowed.notes);
    let ((v1, c1), (v2, c2)) = (run("Mine", "CaPool.ca_i"), run("Theirs", "cad.ca_i"));
    let (rel, range) = compare(&v1, &v2);
    let (crel, crange) = compare(&c1, &c2);
    eprintln!("cat + cad: V {rel:.2e} over {range:.0} mV; ca_i {crel:.2e} over {crange:.2e} mM");
    assert!(range > 20.0 && rel < 1e-9, "{rel}, {range}");
    // calcium enters: the pool rises far above its resting 100 nM
    assert!(crange > 1e-3 && crel < 1e-9, "{crel}, {crange}");
}

/// Each diagnostic's code and the 1-based line it points at.
fn refused(name: &str, text: &str) -> Vec<(String, usize)> {
    let Err(e) = neuroc::import_nmodl_text(name, text) else { panic!("{name} was imported") };
    let rendered = e.render();
    assert!(rendered.contains("help:"), "{rendered}");
    e.diagnostics
        .iter()
        .map(|d| {
            let line = d.primary.as_ref().map_or(0, |(sp, _)| text[..sp.start as usize].matches('\n').count() + 1);
            (d.code.as_str().to_string(), line)
        })
        .collect()
}

#[test]
fn what_cannot_be_imported_is_diagnosed_at_its_line() {
    // ions: a variable of an ion that is none of its four, a mechanism
    // reading the current it writes
    let cat = std::fs::read_to_string(repo("tests/nmodl/cat.mod")).unwrap();
    let own = cat.replace("USEION ca READ cai, cao WRITE ica", "USEION ca READ cai, cao, ica WRITE ica");
    assert_eq!(refused("cat.mod", &own), vec![("E0702".into(), 5)]);
    let odd = cat.replace("USEION ca READ cai, cao WRITE ica", "USEION ca READ cai, cao, cax WRITE ica");
    assert_eq!(refused("cat.mod", &odd), vec![("E0702".into(), 5)]);
    // C code, pointers, events, point processes
    let base = std::fs::read_to_string(repo("tests/nmodl/ih.mod")).unwrap();
    let cases = [
        ("VERBATIM\n  double x = 1;\nENDVERBATIM\n", "E0702"),
        ("NEURON { POINTER vgat }\n", "E0702"),
        ("NET_RECEIVE (w) {\n    q = q + w\n}\n", "E0702"),
        ("NEURON { POINT_PROCESS Syn }\n", "E0702"),
    ];
    let lines = base.lines().count() + 2;
    for (extra, code) in cases {
        let text = format!("{base}\n{extra}");
        let got = refused("ih.mod", &text);
        assert_eq!(got, vec![(code.to_string(), lines)], "{extra}: {got:?}");
    }
    // arrays, loops and flux reactions, each at its line
    let kin = std::fs::read_to_string(repo("tests/nmodl/nam.mod")).unwrap();
    let arrays = [
        ("STATE { m0h0 m1h0 m2h0 m3h0 m0h1 m1h1 m2h1 m3h1 }", "STATE { m0h0 m1h0 m2h0 m3h0 m0h1 m1h1 m2h1 m3h1 c[4] }"),
        ("    rates(v)\n    ~ m0h0", "    rates(v)\n    FROM i = 0 TO 3 { c[i] = 0 }\n    ~ m0h0"),
        ("    rates(v)\n    ~ m0h0", "    rates(v)\n    ~ m0h0 << (1)\n    ~ m0h0"),
    ];
    for (from, to) in arrays {
        assert!(kin.contains(from), "{from}");
        let text = kin.replacen(from, to, 1);
        let line = text[..text.find(to).unwrap()].matches('\n').count()
            + 1
            + to[..to.rfind('\n').map_or(0, |k| k)].matches('\n').count();
        let got = refused("nam.mod", &text);
        assert_eq!(got, vec![("E0702".to_string(), line)], "{to}: {got:?}");
    }
    // a syntax error, an unknown unit, a name read before it is assigned
    let got = refused("bad.mod", &base.replace("q' = (qinf - q) / qtau", "q' = (qinf - q) / "));
    assert_eq!(got[0].0, "E0701", "{got:?}");
    let got = refused("bad.mod", &base.replace("eh = -30 (mV)", "eh = -30 (furlong)"));
    assert_eq!(got, vec![("E0703".into(), 23)], "{got:?}");
    let got = refused("bad.mod", &base.replace("q' = (qinf - q) / qtau", "q' = (qinf - q) / qtau2"));
    assert_eq!(got, vec![("E0703".into(), 47)], "{got:?}");
}

/// What real .mod files carry besides the equations: ontology tags,
/// numbers with units in expressions, printf, PROTECT, LOCAL at file
/// level, rates per ms, bare blocks. The channel computes what the
/// equations say: a gate relaxing to 0.5 with tau = 2 ms.
#[test]
fn the_trimmings_of_real_files_are_read() {
    let text = "NEURON {\n    SUFFIX trim\n    REPRESENTS NCIT:C17008\n    USEION k READ ek WRITE ik REPRESENTS CHEBI:29103\n    \
                RANGE gbar\n}\nUNITS { (mA) = (milliamp) (mV) = (millivolt) (S) = (siemens) }\nLOCAL scratch\n\
                PARAMETER { gbar = 0.001 (S/cm2) rate = 0.5 (/ms) }\nSTATE { n }\nASSIGNED { v (mV) ek (mV) ik (mA/cm2) }\n\
                INITIAL { n = 0 printf(\"n = %g\\n\", n) }\nBREAKPOINT {\n    SOLVE states METHOD cnexp\n    \
                { ik = gbar * n * (v - ek) }\n}\nDERIVATIVE states {\n    PROTECT scratch = 1 (ms)\n    \
                n' = (0.5 - n) * rate / (scratch * 1 (/ms))\n}\n";
    let imported = neuroc::import_nmodl_text("trim.mod", text).unwrap_or_else(|e| panic!("{e}"));
    assert!(imported.notes.iter().any(|n| n.contains("printf")), "{:?}", imported.notes);
    let src = format!(
        "{}\n{}",
        imported.text,
        cell("Cell", "trim", "0 uA/cm^2").replace("duration = 100 ms", "duration = 10 ms")
    );
    let mut e = Experiment::from_source("t.neuro", &src, None).unwrap_or_else(|e| panic!("{e}"));
    e.model("Cell").record("trim.n");
    let (r, _) = e.run().unwrap_or_else(|e| panic!("{e}"));
    let table = r.tables.iter().find(|t| t.name.contains("trim.n")).expect("trim.n recorded");
    let n = table.data.column(1).to_vec();
    // n(t) = 0.5 (1 - exp(-t / 2 ms)) at t = 10 ms
    let exact = 0.5 * (1.0 - (-10.0f64 / 2.0).exp());
    assert!((n[n.len() - 1] - exact).abs() < 1e-6, "{} vs {exact}", n[n.len() - 1]);
}

#[test]
fn the_command_line_writes_a_channel_a_model_can_import() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("nmodl-cli");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_neuroc"))
        .args(["import"])
        .arg(repo("tests/nmodl/hh.mod"))
        .arg("-o")
        .arg(dir.join("hh_imported.neuro"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("note: TABLE"));
    std::fs::write(
        dir.join("model.neuro"),
        format!("import \"hh_imported.neuro\"\n{}", cell("Cell", "hh", "10 uA/cm^2")),
    )
    .unwrap();
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_neuroc"))
        .arg("run")
        .arg(dir.join("model.neuro"))
        .arg("-o")
        .arg(dir.join("out"))
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success() && line.contains("spikes"), "{line}{}", String::from_utf8_lossy(&run.stderr));
    // a file that is not NMODL: exit 1 with the diagnostic; a missing one: exit 2
    std::fs::write(dir.join("bad.mod"), "NEURON { SUFFIX x\n").unwrap();
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_neuroc"))
        .arg("import")
        .arg(dir.join("bad.mod"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("E0701"));
    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_neuroc"))
        .arg("import")
        .arg(dir.join("none.mod"))
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
}
