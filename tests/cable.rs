//! Cells: the cable equation on sections, against closed forms (Rall's
//! sealed-end cable), its convergence orders in space and time, and the
//! squid giant axon's conduction velocity (Hodgkin & Huxley 1952).

use neuroc::Experiment;

const PAS: &str =
    "channel Pas {\n    parameter g = 0.1 mS/cm^2\n    parameter E = -65 mV\n    current i = g * (V - E)\n}\n";

/// A sealed cable of 2000 um, d = 2 um, Ra = 100 ohm cm, Cm = 1 uF/cm^2,
/// g = 1e-4 S/cm^2, with `nseg` segments and 0.1 nA into its 0 end; V
/// recorded at x = 0, 0.25, 0.5, 0.75, 1. Returns (t ms, V mV per probe).
fn cable(nseg: usize, dt_ms: f64, duration_ms: f64, method: &str, delay_ms: f64) -> (Vec<f64>, Vec<Vec<f64>>) {
    let src = format!(
        "{PAS}cell Cable {{
    parameter Cm = 1 uF/cm^2, Ra = 100 ohm*cm
    state V = -65 mV
    section cable(length = 2000 um, diameter = 2 um, nseg = {nseg})
    region all {{ use Pas }}
    drive cable with IClamp(at = 0, delay = {delay_ms} ms, amplitude = 0.1 nA)
    record V(cable, at = 0), V(cable, at = 0.25), V(cable, at = 0.5), V(cable, at = 0.75), V(cable, at = 1)
}}
simulate Cable {{ dt = {dt_ms} ms, duration = {duration_ms} ms, method = {method} }}
"
    );
    let e = Experiment::from_source("cable.neuro", &src, None).unwrap_or_else(|e| panic!("{e}"));
    let (r, _) = e.run().unwrap_or_else(|e| panic!("{e}"));
    let t = r.table("V").unwrap().data.column(0).to_vec();
    let v = (1..6).map(|k| r.table("V").unwrap().data.column(k).to_vec()).collect();
    (t, v)
}

/// lambda = sqrt(d Rm / (4 Ra)), Rin = r_a lambda coth(L / lambda).
fn closed_form() -> (f64, f64) {
    let (d, l, ra, rm): (f64, f64, f64, f64) = (2e-4, 0.2, 100.0, 1e4); // cm, cm, ohm cm, ohm cm^2
    let lambda = (d * rm / (4.0 * ra)).sqrt();
    let r_a = 4.0 * ra / (std::f64::consts::PI * d * d);
    (lambda, r_a * lambda / (l / lambda).tanh())
}

#[test]
fn a_sealed_cable_matches_rall() {
    let (lambda, rin) = closed_form();
    assert!((rin / 1e6 - 226.66).abs() < 0.01, "the closed form itself: {} MOhm", rin / 1e6);
    let (t, v) = cable(201, 0.025, 200.0, "backward_euler", 0.0);
    // steady state: V(x) - E = V0 cosh((L - x) / lambda) / cosh(L / lambda)
    let v0 = 0.1e-9 * rin * 1e3; // mV
    for (k, at) in [0.0, 0.25, 0.5, 0.75, 1.0].into_iter().enumerate() {
        // the node that holds `at`: an end, or the center of its segment
        let x = if at == 0.0 || at == 1.0 { at } else { ((at * 201.0f64).floor() + 0.5) / 201.0 };
        let want = v0 * ((0.2 - 0.2 * x) / lambda).cosh() / (0.2 / lambda).cosh();
        let got = v[k].last().unwrap() + 65.0;
        assert!((got / want - 1.0).abs() < 2e-3, "x = {x}: {got} mV vs {want} mV");
    }
    let r_in = (v[0].last().unwrap() + 65.0) / 0.1; // mV / nA = MOhm
    assert!((r_in / (rin / 1e6) - 1.0).abs() < 2e-3, "Rin {r_in} MOhm");
    // charging: V(inf) - V(t) decays with tau_m = Cm / g = 10 ms once the
    // faster modes (tau_1 = 4.5 ms) are gone: the slope over 50-80 ms
    let at = |ms: f64| t.iter().position(|&x| x >= ms - 1e-9).unwrap();
    let vinf = *v[2].last().unwrap();
    let (a, b) = (at(50.0), at(80.0));
    let tau = (t[b] - t[a]) / ((vinf - v[2][a]) / (vinf - v[2][b])).ln();
    // backward Euler's own decay per step: tau_BE = dt / ln(1 + dt / tau)
    let tau_be = 0.025 / (1.0 + 0.025 / 10.0f64).ln();
    assert!((tau / tau_be - 1.0).abs() < 1e-2, "tau {tau} ms (backward Euler's {tau_be} ms)");
    assert!((tau / 10.0 - 1.0).abs() < 1e-2, "tau {tau} ms");
}

/// Second order in space (segment length); in time, second order for
/// Crank-Nicolson and first for backward Euler (self-convergence at a
/// fixed grid, 2 ms into the response).
#[test]
fn the_cable_converges_at_its_orders() {
    let (_, rin) = closed_form();
    let err = |nseg: usize| {
        let (_, v) = cable(nseg, 0.05, 120.0, "backward_euler", 0.0);
        ((v[0].last().unwrap() + 65.0) / 0.1 - rin / 1e6).abs()
    };
    let (e1, e2, e3) = (err(5), err(11), err(23));
    // dx ratios 11/5 and 23/11: the error falls as dx^2
    let p1 = (e1 / e2).ln() / (11.0f64 / 5.0).ln();
    let p2 = (e2 / e3).ln() / (23.0f64 / 11.0).ln();
    assert!((p1 - 2.0).abs() < 0.2 && (p2 - 2.0).abs() < 0.2, "space orders {p1}, {p2} ({e1:e}, {e2:e}, {e3:e})");
    for (method, order) in [("backward_euler", 1.0), ("crank_nicolson", 2.0)] {
        let at2 = |dt: f64| {
            let (t, v) = cable(21, dt, 2.0, method, 0.0);
            assert!((t.last().unwrap() - 2.0).abs() < 1e-9);
            *v[0].last().unwrap()
        };
        let (a, b, c) = (at2(0.1), at2(0.05), at2(0.025));
        let p = ((a - b) / (b - c)).abs().log2();
        assert!((p - order).abs() < 0.15, "{method}: order {p}");
    }
}

/// The squid giant axon (d = 476 um, Ra = 35.4 ohm cm, HH channels at
/// 18.5 degC) conducts at 18.8 m/s, Hodgkin & Huxley's computed value.
#[test]
fn the_squid_axon_conducts_at_hodgkin_and_huxleys_speed() {
    let src = "import \"hh.neuro\"
cell Squid {
    parameter Cm = 1 uF/cm^2, Ra = 35.4 ohm*cm
    parameter celsius = 18.5 degC
    state V = -65 mV
    section axon(length = 3 cm, diameter = 476 um, nseg = 600)
    region all { use NaT, Kdr, Leak }
    drive axon with IClamp(at = 0, delay = 0.1 ms, duration = 0.2 ms, amplitude = 50 uA)
    record V(axon, at = 0.3), V(axon, at = 0.7)
}
simulate Squid { dt = 0.005 ms, duration = 4 ms, method = crank_nicolson }
";
    let e = Experiment::from_source("squid.neuro", src, None).unwrap_or_else(|e| panic!("{e}"));
    let (r, _) = e.run().unwrap_or_else(|e| panic!("{e}"));
    let data = &r.table("V").unwrap().data;
    let t = data.column(0).to_vec();
    let crossing = |k: usize| {
        let v = data.column(k).to_vec();
        let i = v.windows(2).position(|w| w[0] < 0.0 && w[1] >= 0.0).expect("an action potential");
        t[i] + (t[i + 1] - t[i]) * (0.0 - v[i]) / (v[i + 1] - v[i])
    };
    let (t1, t2) = (crossing(1), crossing(2));
    let speed = 0.4 * 3e-2 / ((t2 - t1) * 1e-3); // m/s
    assert!((speed / 18.8 - 1.0).abs() < 0.02, "{speed} m/s");
}

/// Bad cells are diagnostics with a code, a span and a help line.
#[test]
fn bad_cells_are_diagnosed() {
    let cell = |body: &str| {
        format!("{PAS}cell C {{\n    parameter Cm = 1 uF/cm^2, Ra = 100 ohm*cm\n    state V = -65 mV\n{body}}}\n")
    };
    let ok = "    section soma(length = 20 um, diameter = 20 um)\n    region all { use Pas }\n";
    assert!(!neuroc::compile_source("c.neuro", &cell(ok), None).diagnostics.has_errors());
    for (body, code, words) in [
        ("    section soma(length = 20 um, diameter = 20 um)\n", "E0503", "has no region"),
        ("    section soma(length = 20 um)\n    region all { use Pas }\n", "E0503", "has no diameter"),
        ("    section soma(length = 20 mV, diameter = 20 um)\n    region all { use Pas }\n", "E0307", "length"),
        ("    section soma(length = -2 um, diameter = 20 um)\n    region all { use Pas }\n", "E0503", "positive"),
        ("    section soma(length = 20 um, diameter = 2 um)\n    section d(length = 20 um, diameter = 2 um, parent = axon)\n    region all { use Pas }\n", "E0503", "parent section `axon`"),
        ("    section soma(length = 20 um, diameter = 2 um)\n    section d(length = 20 um, diameter = 2 um)\n    region all { use Pas }\n", "E0503", "no parent"),
        ("    section soma(length = 20 um, diameter = 2 um, parent = soma)\n    region all { use Pas }\n", "E0503", "parent section `soma`"),
        ("    section soma(length = 20 um, diameter = 2 um)\n    region soma { use Pas }\n    section d(length = 20 um, diameter = 2 um, parent = soma)\n", "E0503", "section `d` has no membrane"),
        (&format!("{ok}    drive soma with IClamp(amplitude = 1 mV)\n"), "E0307", "amplitude"),
        (&format!("{ok}    drive dend with IClamp(amplitude = 1 nA)\n"), "E0503", "unknown section `dend`"),
        (&format!("{ok}    record V(soma, at = 2)\n"), "E0503", "from 0 to 1"),
        (&format!("{ok}    record m(soma)\n"), "E0503", "only `V`"),
        ("    section soma(length = 20 um, diameter = 20 um)\n    region all { use Pas; spike when V crosses 0 mV }\n", "E0503", "event"),
        (&format!("{ok}    spike when V crosses 0 mV\n    spike when V(soma) crosses 10 mV\n"), "E0503", "one spike detector"),
        ("    section soma(length = 20 um, diameter = 20 um)\n    region all { use Nope }\n", "E0203", "Nope"),
    ] {
        let c = neuroc::compile_source("c.neuro", &cell(body), None);
        let text = c.render();
        assert!(c.diagnostics.has_errors(), "{body}: no error");
        assert!(text.contains(code) && text.contains(words) && text.contains("help"), "{body}: {text}");
    }
    // Ra must be positive
    let bad_ra = cell(ok).replace("Ra = 100 ohm*cm", "Ra = 0 ohm*cm");
    let text = neuroc::compile_source("c.neuro", &bad_ra, None).render();
    assert!(text.contains("E0503") && text.contains("`Ra` must be positive"), "{text}");
    // a setting for a channel only the second region uses
    let two = format!(
        "{PAS}channel Kx {{\n    parameter gx = 1 mS/cm^2\n    current i = gx * (V + 80 mV)\n}}\ncell C {{\n    parameter Cm = 1 uF/cm^2\n    state V = -65 mV\n    section soma(length = 20 um, diameter = 20 um)\n    section d(length = 50 um, diameter = 2 um, parent = soma)\n    region soma {{ use Pas }}\n    region d {{ use Kx }}\n}}\nsimulate C {{ Kx.gx = 2 mS/cm^2, duration = 1 ms }}\n"
    );
    let c = neuroc::compile_source("c.neuro", &two, None);
    assert!(!c.diagnostics.has_errors(), "{}", c.render());
    // a parameter per compartment and for the whole run at once
    let both = format!(
        "{}simulate C {{ Pas.g = 0.2 mS/cm^2 }}\n",
        cell("    section soma(length = 20 um, diameter = 20 um)\n    region all { use Pas; Pas.g = 0.1 mS/cm^2 }\n")
    );
    let text = neuroc::compile_source("c.neuro", &both, None).render();
    assert!(text.contains("E0503") && text.contains("also for the whole run"), "{text}");
    // a method a cell does not have
    let src = format!("{}simulate C {{ method = rk4 }}\n", cell(ok));
    let text = neuroc::compile_source("c.neuro", &src, None).render();
    assert!(text.contains("E0401") && text.contains("not a method for a cell"), "{text}");
}

/// The channels as fused kernels (one per region, over its compartments):
/// JIT = kernel interpreter bit for bit, and both follow the reference
/// interpreter (the same schemes; exponential Euler written two ways) to
/// 1e-9 of the voltage range, through spikes, on a ball-and-stick cell.
#[test]
fn channel_kernels_follow_the_reference() {
    let run = |backend: neuroc::Backend| {
        let mut e = Experiment::load(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/ball_and_stick.neuro"))
            .unwrap_or_else(|e| panic!("{e}"));
        e.backend(backend).duration("30 ms");
        let (r, _) = e.run().unwrap_or_else(|e| panic!("{e}"));
        r.table("V").unwrap().data.clone()
    };
    let (jit, interp, reference) =
        (run(neuroc::Backend::Jit), run(neuroc::Backend::Interp), run(neuroc::Backend::Reference));
    assert!(jit.iter().zip(interp.iter()).all(|(a, b)| a.to_bits() == b.to_bits()), "JIT differs from the interpreter");
    let soma = reference.column(1).to_vec();
    assert!(soma.iter().any(|&v| v > 0.0), "the soma fires");
    let worst = jit.iter().zip(reference.iter()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-9 * 100.0, "kernels differ from the reference by {worst:e} mV");
}

/// The soma's upward crossings of 0 mV (ms, linear within the step) in
/// `examples/EXAMPLE.neuro`, against NEURON's in `tests/data/DATA.csv`:
/// the same count, each within `tol` ms.
fn spikes_match_neuron(example: &str, data: &str, tol: f64) {
    let root = env!("CARGO_MANIFEST_DIR");
    let text = std::fs::read_to_string(format!("{root}/tests/data/{data}.csv")).unwrap();
    let neuron: Vec<f64> = text.lines().skip(1).map(|l| l.trim().parse().unwrap()).collect();
    assert_eq!(neuron.len(), 3);
    let mut e = Experiment::load(format!("{root}/examples/{example}.neuro")).unwrap();
    e.sample("0.025 ms");
    let (r, _) = e.run().unwrap_or_else(|e| panic!("{e}"));
    let data = &r.table("V").unwrap().data;
    let (t, v) = (data.column(0).to_vec(), data.column(1).to_vec());
    let ours: Vec<f64> = (1..v.len())
        .filter(|&i| v[i - 1] < 0.0 && v[i] >= 0.0)
        .map(|i| t[i - 1] + (t[i] - t[i - 1]) * (0.0 - v[i - 1]) / (v[i] - v[i - 1]))
        .collect();
    assert_eq!(ours.len(), neuron.len(), "{example}: {ours:?} vs NEURON {neuron:?}");
    for (a, b) in ours.iter().zip(&neuron) {
        assert!((a - b).abs() < tol, "{example}: spike at {a} ms, NEURON {b} ms");
    }
}

/// The ball-and-stick example against NEURON 9 on the same cell
/// (`tests/neuron/ball_and_stick.py`, its output kept in
/// `tests/data/ball_and_stick_neuron.csv`): the same spike times. The
/// issue asks for 0.1 ms; the schemes are NEURON's, so they agree to
/// about 1e-9 ms, asserted to 1e-6 ms (NEURON's di/dV is a difference
/// quotient, ours exact).
#[test]
fn ball_and_stick_spikes_as_in_neuron() {
    spikes_match_neuron("ball_and_stick", "ball_and_stick_neuron", 1e-6);
}

/// `explain` on a cell prints its compartment table.
#[test]
fn explain_prints_the_compartment_table() {
    let c = neuroc::compile_source(
        "bs.neuro",
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/ball_and_stick.neuro")).unwrap(),
        None,
    );
    let text = neuroc::explain::report(&c, "BallStick", None, None, false).unwrap().unwrap();
    // the dendrite: 13 segments by the d_lambda rule (lambda_100 = 398.942 um)
    assert!(text.contains("2 sections, 14 compartments, 17 nodes"), "{text}");
    assert!(text.contains("r_axial MOhm") && text.contains("398.942"), "{text}");
    assert_eq!(text.lines().filter(|l| l.trim_start().starts_with("dend")).count(), 14, "{text}");
}

/// The reconstructed cell (`examples/data/cell.swc`, its sections read
/// from the file with 3-D points) spikes as NEURON 9 computes it on the
/// same sections from its own 3-D geometry
/// (`tests/neuron/reconstructed_cell.py`): within 1e-5 ms.
#[test]
fn a_cell_from_swc_spikes_as_in_neuron() {
    spikes_match_neuron("reconstructed_cell", "reconstructed_cell_neuron", 1e-5);
}

/// Bad morphology files are diagnosed (E0219 with the line).
#[test]
fn bad_morphologies_are_diagnosed() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("neuroc-swc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (swc, words) in [
        ("1 1 0 0 0 5 -1\n2 3 10 0 0 1 9\n", "line 2: parent 9"),
        ("1 1 0 0 0 5 -1\n2 3 10 0 0\n", "line 2: expected 7 fields"),
        ("1 1 0 0 0 0 -1\n", "positive"),
        ("", "no points"),
    ] {
        std::fs::write(dir.join("c.swc"), swc).unwrap();
        let src = format!("{PAS}cell C {{\n    parameter Cm = 1 uF/cm^2\n    state V = -65 mV\n    morphology \"c.swc\"\n    region all {{ use Pas }}\n}}\n");
        let path = dir.join("c.neuro");
        std::fs::write(&path, &src).unwrap();
        let c = neuroc::compile_source("c.neuro", &src, Some(path));
        let text = c.render();
        assert!(text.contains("E0219") && text.contains(words) && text.contains("help"), "{swc:?}: {text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A population of ball-and-stick cells (`cells = 5`, clamp amplitudes
/// spread by `linspace`, spikes detected at the soma): each cell spikes
/// as the same cell run alone with its amplitude, and 1, 2 or 3 threads
/// write the same spikes and traces.
#[test]
fn a_population_of_cells_on_threads() {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/ball_and_stick.neuro")).unwrap();
    let population = src
        .replace("amplitude = 0.2 nA)", "amplitude = linspace(0.1 nA, 0.5 nA))\n    spike when V(soma) crosses 0 mV")
        .replace("method = crank_nicolson }", "method = crank_nicolson, cells = 5 }");
    let run = |threads: &str| {
        let mut e = Experiment::from_source("bs.neuro", &population, None).unwrap_or_else(|e| panic!("{e}"));
        e.threads(threads);
        let (r, _) = e.run().unwrap_or_else(|e| panic!("{e}"));
        (r.spikes(), r.table("V").unwrap().data.clone())
    };
    let (one, v1) = run("1");
    for threads in ["2", "3"] {
        let (s, v) = run(threads);
        assert_eq!(s, one, "{threads} threads");
        assert!(v.iter().zip(v1.iter()).all(|(a, b)| a.to_bits() == b.to_bits()), "{threads} threads: traces");
    }
    // cell 1 has 0.2 nA, the example's own amplitude: the example's spikes
    let alone = src.replace("amplitude = 0.2 nA)", "amplitude = 0.2 nA)\n    spike when V(soma) crosses 0 mV");
    let e = Experiment::from_source("bs.neuro", &alone, None).unwrap();
    let (r, _) = e.run().unwrap_or_else(|e| panic!("{e}"));
    let cell1: Vec<f64> = one.iter().filter(|s| s.0 == 1).map(|s| s.1).collect();
    let single: Vec<f64> = r.spikes().iter().map(|s| s.1).collect();
    assert_eq!(single.len(), 3);
    assert_eq!(cell1, single);
    // more current, more spikes
    let count = |c: usize| one.iter().filter(|s| s.0 == c).count();
    assert!(count(0) <= count(2) && count(2) <= count(4) && count(4) > count(1), "{one:?}");
}

/// A channel's parameter per compartment, from the distance to the soma:
/// a constant expression gives the uniform cable's voltages; a leak that
/// grows along the dendrite lowers the input resistance; kernels and the
/// reference interpreter agree.
#[test]
fn parameters_vary_with_distance() {
    let cable = |set: &str, backend: neuroc::Backend| {
        let src = format!(
            "{PAS}cell C {{
    parameter Cm = 1 uF/cm^2, Ra = 100 ohm*cm
    state V = -65 mV
    section soma(length = 20 um, diameter = 20 um)
    section dend(length = 1000 um, diameter = 2 um, parent = soma, nseg = 51)
    region all {{ use Pas{set} }}
    drive soma with IClamp(amplitude = 0.05 nA)
    record V(soma), V(dend, at = 1)
}}
simulate C {{ dt = 0.1 ms, duration = 100 ms }}
"
        );
        let mut e = Experiment::from_source("c.neuro", &src, None).unwrap_or_else(|e| panic!("{e}"));
        e.backend(backend);
        let (r, _) = e.run().unwrap_or_else(|e| panic!("{e}"));
        r.table("V").unwrap().data.clone()
    };
    let jit = neuroc::Backend::Jit;
    let uniform = cable("", jit);
    let same = cable("; Pas.g = 0.1 mS/cm^2 * (1 + 0 * distance / 1 um)", jit);
    assert!(uniform.iter().zip(same.iter()).all(|(a, b)| (a - b).abs() < 1e-9), "a constant per compartment");
    let growing = "; Pas.g = 0.1 mS/cm^2 * (1 + distance / 250 um)";
    let (k, r) = (cable(growing, jit), cable(growing, neuroc::Backend::Reference));
    assert!(k.iter().zip(r.iter()).all(|(a, b)| (a - b).abs() < 1e-9), "kernels vs reference");
    let rise = |d: &ndarray::Array2<f64>| d[[d.nrows() - 1, 1]] + 65.0;
    assert!(rise(&k) < 0.8 * rise(&uniform), "{} mV vs {} mV", rise(&k), rise(&uniform));
    // NEURON with g_pas set per segment from h.distance (tests/neuron/distance_leak.py)
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/distance_leak_neuron.csv")).unwrap();
    let neuron: Vec<f64> = text.lines().nth(1).unwrap().split(',').map(|x| x.trim().parse().unwrap()).collect();
    let last = k.nrows() - 1;
    for (col, want) in [(1, neuron[0]), (2, neuron[1])] {
        assert!((k[[last, col]] - want).abs() < 1e-6, "column {col}: {} mV, NEURON {want} mV", k[[last, col]]);
    }
    // a per-compartment expression reads the run's value of a cell parameter
    let scaled = |setting: &str| {
        let src = format!(
            "{PAS}cell C {{
    parameter Cm = 1 uF/cm^2, Ra = 100 ohm*cm, gscale = 1
    state V = -65 mV
    section soma(length = 20 um, diameter = 20 um)
    section dend(length = 1000 um, diameter = 2 um, parent = soma, nseg = 51)
    region all {{ use Pas; Pas.g = gscale * 0.1 mS/cm^2 * (1 + distance / 250 um) }}
    drive soma with IClamp(amplitude = 0.05 nA)
    record V(soma), V(dend, at = 1)
}}
simulate C {{ dt = 0.1 ms, duration = 100 ms{setting} }}
"
        );
        let (r, _) = Experiment::from_source("c.neuro", &src, None).unwrap().run().unwrap_or_else(|e| panic!("{e}"));
        r.table("V").unwrap().data.clone()
    };
    let (one, two) = (scaled(""), scaled(", gscale = 2"));
    assert!(one.iter().zip(k.iter()).all(|(a, b)| (a - b).abs() < 1e-9), "gscale = 1 is the growing leak");
    assert!(rise(&two) < 0.7 * rise(&one), "twice the leak: {} mV vs {} mV", rise(&two), rise(&one));
    // a wrong unit, an unknown parameter
    for (set, words) in [("; Pas.g = 1 mV", "E0307"), ("; Pas.gg = 1 mS/cm^2", "Pas.g")] {
        let src = format!("{PAS}cell C {{\n    parameter Cm = 1 uF/cm^2\n    state V = -65 mV\n    section soma(length = 20 um, diameter = 20 um)\n    region all {{ use Pas{set} }}\n}}\n");
        let text = neuroc::compile_source("c.neuro", &src, None).render();
        assert!(text.contains(words) && text.contains("help"), "{set}: {text}");
    }
}

/// Regions chosen by a condition on the compartment's place: the
/// compartments beyond 500 um taking another membrane give the voltages
/// of one membrane whose leak is set per compartment by the same
/// condition; a condition on the diameter picks the thin dendrite as its
/// name does; conditions that cannot hold or are not conditions are
/// diagnosed.
#[test]
fn regions_chosen_by_a_condition() {
    let run = |regions: &str| {
        let src = format!(
            "{PAS}cell C {{
    parameter Cm = 1 uF/cm^2, Ra = 100 ohm*cm
    state V = -65 mV
    section soma(length = 20 um, diameter = 20 um)
    section dend(length = 1000 um, diameter = 1 um, parent = soma, nseg = 40)
    {regions}
    drive soma with IClamp(amplitude = 0.05 nA)
    record V(soma), V(dend, at = 1)
}}
simulate C {{ dt = 0.1 ms, duration = 50 ms }}
"
        );
        let (r, _) = Experiment::from_source("c.neuro", &src, None)
            .unwrap_or_else(|e| panic!("{e}"))
            .run()
            .unwrap_or_else(|e| panic!("{e}"));
        r.table("V").unwrap().data.clone()
    };
    let close =
        |a: &ndarray::Array2<f64>, b: &ndarray::Array2<f64>| a.iter().zip(b.iter()).all(|(x, y)| (x - y).abs() < 1e-9);
    let far = run("region all { use Pas }\n    region far where distance > 500 um { use Pas; Pas.g = 0.4 mS/cm^2 }");
    let per = run("region all { use Pas; Pas.g = if distance > 500 um then 0.4 mS/cm^2 else 0.1 mS/cm^2 }");
    let uniform = run("region all { use Pas }");
    assert!(close(&far, &per), "a region by distance = a parameter by distance");
    assert!(!close(&far, &uniform), "the far region changes the cell");
    let by_name = run("region soma { use Pas }\n    region dend { use Pas; Pas.g = 0.3 mS/cm^2 }");
    let by_diameter =
        run("region all { use Pas }\n    region thin where diameter < 1.5 um { use Pas; Pas.g = 0.3 mS/cm^2 }");
    assert!(close(&by_name, &by_diameter), "a region by diameter = the thin section by name");
    for (regions, words) in [
        ("region all { use Pas }\n    region r where distance > 5 mm { use Pas }", "holds in no compartment"),
        ("region all { use Pas }\n    region r where distance > 5 mV { use Pas }", "E03"),
        ("region all { use Pas }\n    region r where distance { use Pas }", "takes a condition"),
    ] {
        let src = format!("{PAS}cell C {{\n    parameter Cm = 1 uF/cm^2\n    state V = -65 mV\n    section soma(length = 20 um, diameter = 20 um)\n    {regions}\n}}\nsimulate C {{ duration = 1 ms }}\n");
        let text = neuroc::compile_source("c.neuro", &src, None).render();
        assert!(text.contains(words) && text.contains("help"), "{regions}: {text}");
    }
}
