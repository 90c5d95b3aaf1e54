//! Synapses on cells and cells in networks: a synapse model at a location
//! of a cell (`synapse syn = ExpCond on dend(at = 0.9)`), driven by spike
//! trains in the cell's own run or by a network's connections and drives;
//! cells' spikes (`spike when`) delivered to other cells and to point
//! neurons. Checked against NEURON 9 on the same cells
//! (`tests/neuron/synapse_site.py`, `tests/neuron/cell_chain.py`, their
//! output in `tests/data/`), and for independence of the thread count.

use neuroc::Experiment;

/// The ball-and-stick cell of `examples/ball_and_stick.neuro` (nseg = 11
/// on the dendrite), with an exponential conductance synapse (tau = 5 ms,
/// E = 0 mV: NEURON's ExpSyn) at dend(0.9) and spikes detected at the
/// soma.
const CELL: &str = r#"import "hh.neuro"
import "synapses.neuro"

channel Pas {
    parameter g = 0.1 mS/cm^2
    parameter E = -65 mV
    current i = g * (V - E)
}

cell Pyr {
    parameter Cm = 1 uF/cm^2
    parameter Ra = 100 ohm*cm
    state V = -65 mV
    section soma(length = 20 um, diameter = 20 um)
    section dend(length = 500 um, diameter = 2 um, parent = soma, at = 1, nseg = 11)
    region soma { use NaT, Kdr, Leak }
    region dend { use Pas }
    synapse syn = ExpCond on dend(at = 0.9)
    spike when V(soma) crosses 0 mV
    DRIVE
}
"#;

fn cell(drive: &str) -> String {
    CELL.replace("DRIVE", drive)
}

fn run(src: &str, threads: &str) -> Vec<(usize, f64)> {
    let mut e = Experiment::from_source("cells.neuro", src, None).unwrap_or_else(|e| panic!("{e}"));
    e.threads(threads);
    let (r, _) = e.run().unwrap_or_else(|e| panic!("{e}"));
    r.spikes()
}

/// `cell,spike_ms` or `spike_ms` rows of NEURON's output.
fn neuron(data: &str) -> Vec<(usize, f64)> {
    let path = format!("{}/tests/data/{data}.csv", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .map(|l| match l.split_once(',') {
            Some((c, t)) => (c.parse().unwrap(), t.parse().unwrap()),
            None => (0, l.parse().unwrap()),
        })
        .collect()
}

fn assert_close(ours: &[(usize, f64)], theirs: &[(usize, f64)], tol: f64, what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}: {ours:?} vs NEURON {theirs:?}");
    for (a, b) in ours.iter().zip(theirs) {
        assert!(a.0 == b.0 && (a.1 - b.1).abs() < tol, "{what}: {a:?} vs NEURON {b:?}");
    }
}

/// Three spikes onto the dendrite's synapse (20 nS at 10, 30 and 32 ms)
/// fire the soma as NEURON's ExpSyn does on the same cell
/// (Crank-Nicolson): the two spike times to 1e-6 ms (they differ by about
/// 1e-9 ms). The events enter the synapse before the step's solve, as
/// NEURON delivers them, so the times agree to the step's rounding, not
/// to within a step.
#[test]
fn a_synapse_on_the_dendrite_fires_the_soma_as_in_neuron() {
    let src = cell("drive syn with spikes(times = at(10 ms, 30 ms, 32 ms), w = 20 nS)")
        + "simulate Pyr { dt = 0.025 ms, duration = 60 ms, method = crank_nicolson }\n";
    let ours = run(&src, "1");
    assert_close(&ours, &neuron("synapse_site_neuron"), 1e-6, "synapse site");
    // the kernel interpreter gives the same spikes
    let mut e = Experiment::from_source("cells.neuro", &src, None).unwrap();
    e.backend(neuroc::Backend::Interp);
    let (r, _) = e.run().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.spikes(), ours);
    // two sites at one location add their currents: two exponential
    // synapses of the same kinetics, 12 nS and 8 nS, are the one of 20 nS
    let two = cell("synapse syn2 = ExpCond on dend(at = 0.9)\n    drive syn with spikes(times = at(10 ms, 30 ms, 32 ms), w = 12 nS)\n    drive syn2 with spikes(times = at(10 ms, 30 ms, 32 ms), w = 8 nS)")
        + "simulate Pyr { dt = 0.025 ms, duration = 60 ms, method = crank_nicolson }\n";
    let both = run(&two, "1");
    assert_eq!(both.len(), ours.len(), "{both:?}");
    assert!(both.iter().zip(&ours).all(|(a, b)| (a.1 - b.1).abs() < 1e-9), "{both:?} vs {ours:?}");
    // a tenth of the weight fires once, only where two spikes sum (NEURON:
    // at 38.0436 ms); a fortieth never
    let weak = run(&src.replace("w = 20 nS", "w = 2 nS"), "1");
    assert!(weak.len() == 1 && (weak[0].1 - 38.0436).abs() < 1e-3, "{weak:?}");
    assert!(run(&src.replace("w = 20 nS", "w = 0.5 nS"), "1").is_empty());
}

/// Two cells in a network: A's synapse driven by the network, A's soma
/// spikes into B's synapse with a delay. A spikes as the cell alone does;
/// B as NEURON computes it with a NetCon of the same delay, one step
/// later: NEURON stamps a spike with the end of the step that crossed the
/// threshold, this engine (as NEST) delivers at the step that starts
/// `delay` after the step of the spike. With the delay one step longer,
/// the two agree to 1e-6 ms.
#[test]
fn a_chain_of_cells_spikes_as_in_neuron() {
    let net = |delay: &str| {
        cell("")
            + &format!(
                "network Chain {{
    population A = 1 x Pyr
    population B = 1 x Pyr
    drive A with spikes(times = at(10 ms, 30 ms, 32 ms), w = 20 nS) via syn
    connect A -> B via syn (rule = one_to_one, w = 20 nS, delay = {delay})
}}
simulate Chain {{ dt = 0.025 ms, duration = 60 ms }}
"
            )
    };
    let theirs = neuron("cell_chain_neuron");
    let late = run(&net("2.025 ms"), "1");
    assert_close(&late, &theirs, 1e-6, "chain, NEURON's delay + dt");
    let ours = run(&net("2 ms"), "1");
    for (a, b) in ours.iter().zip(&theirs) {
        let step = if a.0 == 1 { 0.025 } else { 0.0 };
        assert!(a.0 == b.0 && (a.1 + step - b.1).abs() < 1e-6, "{a:?} vs NEURON {b:?}");
    }
    // A alone, driven by its own spike train, spikes as in the network
    let alone = cell("drive syn with spikes(times = at(10 ms, 30 ms, 32 ms), w = 20 nS)")
        + "simulate Pyr { dt = 0.025 ms, duration = 60 ms }\n";
    let a: Vec<(usize, f64)> = ours.iter().filter(|s| s.0 == 0).copied().collect();
    assert_eq!(run(&alone, "1"), a);
}

/// A network of point neurons and cells: Poisson-driven LIF neurons onto
/// the cells' dendritic synapses, the cells' spikes onto the LIF neurons.
/// The same spikes for 1, 2 and 3 threads; the cells fire, and more input
/// makes them fire more.
#[test]
fn cells_and_point_neurons_in_one_network_on_threads() {
    let net = |rate: &str| {
        cell("")
            + &format!(
                r#"import "lif.neuro"
network Mixed {{
    population E = 40 x LIFExp
    population P = 6 x Pyr
    drive E with poisson(rate = {rate}, n = 100, w = 80 pA) via exc
    connect E -> P via syn (p = 0.5, w = 3 nS, delay = 1 ms)
    connect P -> E via exc (p = 0.3, w = 300 pA, delay = 2 ms)
    record spikes(E, P), rate(P, bin = 10 ms)
}}
simulate Mixed {{ dt = 0.025 ms, duration = 200 ms, seed = 3 }}
"#
            )
    };
    let src = net("20 Hz");
    let one = run(&src, "1");
    for threads in ["2", "3"] {
        assert_eq!(run(&src, threads), one, "{threads} threads");
    }
    let cells = |s: &[(usize, f64)]| s.iter().filter(|x| x.0 >= 40).count();
    assert!(cells(&one) > 0 && one.len() > cells(&one), "{one:?}");
    let more = run(&net("40 Hz"), "2");
    assert!(cells(&more) > cells(&one), "{} vs {}", cells(&more), cells(&one));
}

/// Poisson trains into a site, independent per cell: the same spikes on
/// any number of threads, and different cells fire differently.
#[test]
fn poisson_trains_into_a_population_of_cells() {
    let src = cell("drive syn with poisson(rate = 5 Hz, n = 100, w = 1.5 nS)")
        + "simulate Pyr { dt = 0.025 ms, duration = 200 ms, cells = 5, seed = 7 }\n";
    let one = run(&src, "1");
    assert_eq!(run(&src, "2"), one);
    assert_eq!(run(&src, "4"), one);
    let of = |c: usize| one.iter().filter(|s| s.0 == c).map(|s| s.1).collect::<Vec<_>>();
    assert!(!one.is_empty());
    assert!((1..5).any(|c| of(c) != of(0)), "{one:?}");
}

/// Bad sites and bad uses of cells in networks are diagnosed.
#[test]
fn bad_sites_are_diagnosed() {
    let alone = "simulate Pyr { duration = 10 ms }\n";
    let net = |body: &str| {
        format!(
            "import \"lif.neuro\"\nnetwork N {{\n    population E = 2 x LIF\n    population P = 2 x Pyr\n    {body}\n}}\nsimulate N {{ duration = 10 ms }}\n"
        )
    };
    let cases: Vec<(String, &str)> = vec![
        (cell("").replace("= ExpCond on", "= Pas on") + alone, "E0212"),
        (cell("").replace("on dend(at = 0.9)", "on dnd(at = 0.9)") + alone, "did you mean `dend`"),
        (cell("").replace("on dend(at = 0.9)", "on dend(at = 1.5)") + alone, "from 0 to 1"),
        (cell("").replace("on dend(at = 0.9)", "on dend(x = 0.5)") + alone, "`x`"),
        (cell("drive syx with spikes(times = at(1 ms), w = 1 nS)") + alone, "did you mean `syn`"),
        (cell("drive syn with spikes(times = at(1 ms), w = 1 mV)") + alone, "E0307"),
        (cell("drive syn with spikes(times = at(1 ms), w = 1 nS) via syn") + alone, "no `via`"),
        (cell("") + &net("connect E -> P via exc (p = 1, w = 1 nS)"), "its ports: syn"),
        (cell("") + &net("connect E -> P via ExpCond (p = 1, w = 1 nS)"), "no synapse site `ExpCond`"),
        (cell("") + &net("record V(P[0:1])"), "not recorded in a network"),
        (cell("").replace("spike when V(soma) crosses 0 mV", "") + &net(""), "no spike detector"),
        (cell("drive syn with spikes(times = at(1 ms), w = 1 nS)") + &net(""), "driven by the network"),
        (cell("synapse syn = AMPA on soma") + alone, "two synapse sites named `syn`"),
        (
            cell("synapse bad = Spiky on soma").replace(
                "cell Pyr",
                "synapse Spiky {\n    state g = 0 nS\n    dg/dt = -g / 5 ms\n    on spike(w: nS) { g += w }\n    on V_post > 0 mV { g = 0 nS }\n    current i = g * V_post\n}\ncell Pyr",
            ) + alone,
            "an event besides its spikes",
        ),
        (
            cell("")
                + "network M {\n    population P = 2 x Pyr\n}\nsimulate M { duration = 10 ms, Cm = 2 uF/cm^2 }\n",
            "take it from their own run",
        ),
    ];
    for (src, words) in cases {
        let text = neuroc::compile_source("bad.neuro", &src, None).render();
        assert!(text.contains("error") && text.contains(words) && text.contains("help"), "{words}: {text}");
    }
    // the reference interpreter has no synapse sites
    let mut e = Experiment::from_source("cells.neuro", &(cell("") + alone), None).unwrap();
    e.backend(neuroc::Backend::Reference);
    let err = e.run().map(|_| ()).unwrap_err().to_string();
    assert!(err.contains("synapse sites run in kernels"), "{err}");
}

/// `examples/cell_network.neuro`: cells and interneurons both fire, and
/// the interneurons' inhibition on the cells' somas lowers the cells'
/// rate.
#[test]
fn the_cell_network_example_inhibits_its_cells() {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cell_network.neuro")).unwrap();
    let rates = |src: &str| {
        let spikes = run(src, "2");
        let p = spikes.iter().filter(|s| s.0 < 40).count() as f64 / 40.0 / 0.5;
        let i = spikes.iter().filter(|s| s.0 >= 40).count() as f64 / 10.0 / 0.5;
        (p, i)
    };
    let (p, i) = rates(&src);
    assert!(p > 1.0 && i > 1.0, "P {p} Hz, I {i} Hz");
    let (p_free, _) = rates(&src.replace("via gaba (p = 0.5, w = 2 nS", "via gaba (p = 0.5, w = 0 nS"));
    assert!(p_free > 1.2 * p, "without inhibition {p_free} Hz, with {p} Hz");
}
