//! Networks spread over MPI processes (issue 19; the `mpi` feature, run
//! by `.ci/run` where Open MPI is installed): `mpirun -np N neuroc run`
//! writes the same files, bit for bit, as one process, for CUBA (also
//! with per-synapse weights and delays), COBAHH and Brunel's model A with
//! its Poisson drives, sampled states and rates, each rank holding the
//! synapses onto its own neurons; spikes exchanged every step (CUBA,
//! COBAHH: delays of one step) or once per minimum delay (Brunel: 15
//! steps; the drawn delays: 5); and what cannot be spread yet is refused
//! on every rank.
#![cfg(feature = "mpi")]

use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("neuroc-mpi-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `neuroc run` with `args`, under `mpirun -np ranks` (0: without it).
fn command(ranks: usize, args: &[&str]) -> Command {
    let exe = env!("CARGO_BIN_EXE_neuroc");
    let mut c = if ranks == 0 {
        Command::new(exe)
    } else {
        let mut c = Command::new("mpirun");
        c.args(["--oversubscribe", "-np", &ranks.to_string(), exe]);
        c
    };
    c.arg("run").args(args);
    // CI runs as root
    c.env("OMPI_ALLOW_RUN_AS_ROOT", "1").env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    c
}

/// [`command`], quiet, run.
fn run(ranks: usize, args: &[&str]) -> std::process::Output {
    command(ranks, args).arg("-q").output().expect("mpirun and neuroc start")
}

/// The files a run wrote, by name (run.json, which holds the command,
/// left out).
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    out
}

fn same_over_ranks(name: &str, model: &str, extra: &[&str], ranks: &[usize]) {
    let base = tmp(name);
    let one = base.join("one");
    let mut args = vec![model, "-o", one.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = run(0, &args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let want = files(&one);
    assert!(want.iter().any(|(n, data)| n.starts_with("spikes") && data.len() > 1000), "{name}: few spikes");
    for &np in ranks {
        let dir = base.join(format!("np{np}"));
        let mut args = vec![model, "-o", dir.to_str().unwrap()];
        args.extend_from_slice(extra);
        let o = run(np, &args);
        assert!(o.status.success(), "{name}, {np} ranks: {}", String::from_utf8_lossy(&o.stderr));
        let got = files(&dir);
        assert_eq!(
            got.iter().map(|f| &f.0).collect::<Vec<_>>(),
            want.iter().map(|f| &f.0).collect::<Vec<_>>(),
            "{name}, {np} ranks: other files"
        );
        for ((file, a), (_, b)) in got.iter().zip(&want) {
            assert!(a == b, "{name}, {np} ranks: {file} differs from one process");
        }
    }
}

#[test]
fn cuba_is_the_same_on_one_two_and_four_ranks() {
    same_over_ranks("cuba", &format!("{ROOT}/examples/cuba.neuro"), &["--duration", "200ms"], &[1, 2, 4]);
}

#[test]
fn per_synapse_weights_and_delays_are_the_same_on_three_ranks() {
    // CUBA with each synapse's weight and delay drawn (by probability,
    // uniform; by in-degree, normal): each rank draws only its synapses
    // (those onto its own neurons), each value by its synapse's key (the
    // place in the connection's stream of the draw that made it), and gets
    // the values one process draws
    let dir = tmp("spread-model");
    let text = std::fs::read_to_string(format!("{ROOT}/examples/cuba.neuro"))
        .unwrap()
        .replace(
            "connect E -> E, I via exc (p = 0.02, w = 1.62 mV)",
            "connect E -> E, I via exc (p = 0.02, w = uniform(1 mV, 2.2 mV), delay = uniform(0.5 ms, 3 ms))",
        )
        .replace(
            "connect I -> E, I via inh (p = 0.02, w = -9 mV)",
            "connect I -> E, I via inh (k = 16, w = normal(-9 mV, 1 mV), delay = uniform(0.2 ms, 1 ms))",
        );
    assert!(text.contains("uniform(1 mV") && text.contains("normal(-9 mV"));
    let model = dir.join("cuba.neuro");
    std::fs::write(&model, text).unwrap();
    same_over_ranks("spread", model.to_str().unwrap(), &["--duration", "200ms"], &[3]);
}

/// Each rank holds its share of the synapses and neurons, and no more:
/// Brunel's model A at 20,000 neurons with each synapse's weight and delay
/// drawn (2 x 10^7 synapses of 14 bytes, 280 MB in one process). Rank 0's
/// peak (what `run` prints: VmHWM) against one process's, which a rank
/// that drew or held the whole connection would reach; a few tens of MiB
/// (the program, Open MPI) are every process's.
#[test]
fn a_rank_holds_its_share_of_the_synapses() {
    let dir = tmp("share-model");
    let text = std::fs::read_to_string(format!("{ROOT}/examples/brunel2000.neuro"))
        .unwrap()
        .replace("population E = 10000 x", "population E = 16000 x")
        .replace("population I = 2500 x", "population I = 4000 x")
        .replace(
            "(k = 1000, w = J, delay = 1.5 ms)",
            "(k = 800, w = normal(0.2 mV, 0.02 mV), delay = uniform(1 ms, 2 ms))",
        )
        .replace(
            "(k = 250, w = -g * J, delay = 1.5 ms)",
            "(k = 200, w = normal(-1 mV, 0.1 mV), delay = uniform(1 ms, 2 ms))",
        );
    assert!(text.contains("16000 x") && text.contains("k = 800, w = normal"));
    let model = dir.join("brunel.neuro");
    std::fs::write(&model, text).unwrap();
    let peak = |ranks: usize| {
        let out = dir.join(format!("np{ranks}"));
        let args = [model.to_str().unwrap(), "--model", "BrunelAI", "--duration", "10ms", "-o", out.to_str().unwrap()];
        let o = command(ranks, &args).output().expect("mpirun and neuroc start");
        assert!(o.status.success(), "{ranks} ranks: {}", String::from_utf8_lossy(&o.stderr));
        let said = String::from_utf8_lossy(&o.stdout);
        assert!(said.contains("20000000 synapses"), "{ranks} ranks: {said}");
        let mib =
            said.split("peak memory ").nth(1).and_then(|r| r.split(' ').next()).and_then(|m| m.parse::<f64>().ok());
        mib.unwrap_or_else(|| panic!("{ranks} ranks: no peak memory in {said}"))
    };
    let one = peak(0);
    assert!(one > 280.0, "one process holds the 280 MB of synapses: {one} MiB");
    for (ranks, share) in [(2, 0.6), (4, 0.4)] {
        let rank = peak(ranks);
        assert!(rank < share * one, "rank 0 of {ranks}: {rank} MiB against {one} MiB in one process");
    }
}

#[test]
fn cobahh_is_the_same_on_two_ranks() {
    same_over_ranks("cobahh", &format!("{ROOT}/examples/cobahh.neuro"), &["--duration", "50ms"], &[2]);
}

#[test]
fn brunel_with_poisson_drives_states_and_rates_is_the_same_on_two_and_three_ranks() {
    // BrunelAI, with sampled membrane potentials on both sides of a rank's
    // boundary and a binned rate
    let dir = tmp("brunel-model");
    let text = std::fs::read_to_string(format!("{ROOT}/examples/brunel2000.neuro")).unwrap().replace(
        "    record spikes(E, I), rate(E, bin = 0.5 ms)",
        "    record spikes(E, I), rate(E, bin = 0.5 ms), V(E[4995:5005], every = 1 ms), V(I[0:3], every = 1 ms)",
    );
    assert!(text.contains("V(E[4995:5005]"));
    let model = dir.join("brunel.neuro");
    std::fs::write(&model, text).unwrap();
    let model = model.to_str().unwrap().to_string();
    same_over_ranks("brunel", &model, &["--model", "BrunelAI", "--duration", "30ms"], &[2, 3]);
}

#[test]
fn what_cannot_be_spread_is_refused_on_every_rank() {
    let dir = tmp("refused");
    let o = run(
        2,
        &[&format!("{ROOT}/examples/hybrid_wilson_cowan.neuro"), "--duration", "5ms", "-o", dir.to_str().unwrap()],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.matches("cannot be spread over MPI processes yet").count(), 2, "{err}");
}

/// Rank 0 that cannot write its folder stops every rank (none waits on
/// it), and a brain whose region is a network runs whole on every rank.
#[test]
fn ranks_stop_together_and_brains_run_whole_on_each() {
    let exe = env!("CARGO_BIN_EXE_neuroc");
    let o = Command::new("timeout")
        .args(["120", "mpirun", "--oversubscribe", "-np", "2", exe, "run", &format!("{ROOT}/examples/cuba.neuro")])
        .args(["--duration", "20ms", "-q", "-o", "/proc/neuroc-cannot-write-here"])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .output()
        .expect("timeout and mpirun start");
    assert_ne!(o.status.code(), Some(124), "the ranks hung");
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot write"), "{}", String::from_utf8_lossy(&o.stderr));
    same_over_ranks("column", &format!("{ROOT}/examples/brain_column.neuro"), &["--duration", "200ms"], &[2]);
}
