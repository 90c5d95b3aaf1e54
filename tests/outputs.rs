//! Outputs do not change by accident: every example and every runnable
//! standard-library model is run through the binary (durations shortened to
//! keep the suite fast) and each file it writes is compared, byte for byte by
//! a 64-bit FNV-1a digest, with `tests/golden/outputs.txt`.
//!
//! The digests were written by the binary before the experiment layer moved
//! into the library; a refactoring must leave them unchanged. A deliberate
//! change of results is re-blessed with `NEUROC_BLESS=1 cargo test --release
//! --test outputs`, and the commit says why.

use std::path::{Path, PathBuf};
use std::process::Command;

/// (case name, arguments after `run FILE -o DIR`).
const CASES: &[(&str, &str, &str)] = &[
    ("hh", "examples/hodgkin_huxley.neuro", ""),
    ("hh_reference", "examples/hodgkin_huxley.neuro", "--backend reference --duration 50ms --sample 0.1ms"),
    ("hh_interp", "examples/hodgkin_huxley.neuro", "--backend interp --duration 50ms"),
    ("hh_set", "examples/hodgkin_huxley.neuro", "--set I_amp=8.5uA/cm^2 --duration 80ms --record V NaT.m"),
    ("hh_population", "examples/hh_population.neuro", "--neurons 501 --duration 20ms --threads 2"),
    ("hh_population_interp", "examples/hh_population.neuro", "--neurons 101 --duration 10ms --backend interp"),
    ("hh_population_no_tables", "examples/hh_population.neuro", "--neurons 101 --duration 10ms --no-tables"),
    ("lif", "examples/lif.neuro", ""),
    ("lif_npy", "examples/lif.neuro", "--format npy --duration 100ms"),
    ("lif_reference", "examples/lif.neuro", "--backend reference"),
    ("wilson_cowan", "examples/wilson_cowan.neuro", ""),
    ("jansen_rit", "examples/jansen_rit.neuro", "--duration 500ms"),
    ("nmda", "examples/nmda_coincidence.neuro", ""),
    ("units", "examples/renormalized_rate.neuro", "--model Units --neurons 2000 --duration 20ms"),
    ("first_order", "examples/renormalized_rate.neuro", "--model FirstOrder"),
    ("renormalized", "examples/renormalized_rate.neuro", "--model Renormalized"),
    ("cuba", "examples/cuba.neuro", "--duration 100ms"),
    ("cuba_synapses", "examples/cuba.neuro", "--duration 20ms --save-synapses --threads 2"),
    ("cuba_npy_synapses", "examples/cuba.neuro", "--duration 20ms --format npy --save-synapses --threads 2"),
    ("cobahh", "examples/cobahh.neuro", "--duration 50ms"),
    ("cobahh_table", "examples/cobahh.neuro", "--duration 20ms --table V in [-100 mV, 100 mV], step = 0.1 mV"),
    ("brunel_ai", "examples/brunel2000.neuro", "--model BrunelAI --duration 30ms"),
    ("brunel_sr", "examples/brunel2000.neuro", "--model BrunelSR --duration 30ms --backend interp"),
    ("balanced", "examples/balanced_state.neuro", "--duration 50ms"),
    ("density_step", "examples/lif_density.neuro", "--model LIFStep --duration 50ms"),
    ("density_from_lif", "examples/lif_density.neuro", "--model FromLIF --duration 50ms"),
    ("density_brunel", "examples/lif_density.neuro", "--model BrunelAI --duration 50ms --method backward_euler"),
    ("field_turing", "examples/neural_field_ring.neuro", "--model Turing --duration 100ms"),
    ("field_bump", "examples/neural_field_ring.neuro", "--model Bump --duration 100ms"),
    ("field_wave", "examples/neural_field_ring.neuro", "--model Wave --duration 100ms"),
    ("field_sheet", "examples/neural_field_sheet.neuro", "--duration 20ms"),
    ("stdlib_hh", "tests/golden/stdlib_models.neuro", "--model HH --duration 50ms --set I_ext=10uA/cm^2"),
    ("stdlib_lif", "tests/golden/stdlib_models.neuro", "--model LIF --duration 100ms --set I=0.3nA"),
    ("stdlib_lifexp", "tests/golden/stdlib_models.neuro", "--model LIFExp --duration 100ms --set I_e=400pA"),
    ("stdlib_lifalpha", "tests/golden/stdlib_models.neuro", "--model LIFAlpha --duration 100ms --set I_e=400pA"),
    ("stdlib_adex", "tests/golden/stdlib_models.neuro", "--model AdEx --duration 200ms --set I_e=700pA"),
    ("stdlib_izhikevich", "tests/golden/stdlib_models.neuro", "--model Izhikevich --duration 200ms --set I=10mV/ms"),
    ("stdlib_traub", "tests/golden/stdlib_models.neuro", "--model HHTraub --duration 50ms"),
    ("stdlib_wilson_cowan", "tests/golden/stdlib_models.neuro", "--model WilsonCowan --duration 100ms"),
    ("stdlib_jansen_rit", "tests/golden/stdlib_models.neuro", "--model JansenRit --duration 200ms"),
    ("stdlib_density", "tests/golden/stdlib_models.neuro", "--model LIFDensity --duration 20ms"),
    ("hybrid_wc", "examples/hybrid_wilson_cowan.neuro", "--duration 100ms"),
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// 64-bit FNV-1a.
fn digest(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

/// Splits a case's flags on spaces, except that `--table`'s value (which
/// holds spaces) runs to the end.
fn flags(text: &str) -> Vec<String> {
    match text.split_once("--table ") {
        Some((head, spec)) => {
            let mut v: Vec<String> = head.split_whitespace().map(String::from).collect();
            v.push("--table".into());
            v.push(spec.to_string());
            v
        }
        None => text.split_whitespace().map(String::from).collect(),
    }
}

/// Runs one case into a fresh folder; returns its `file digest` lines.
fn run_case(name: &str, file: &str, args: &str, out: &Path) -> Vec<String> {
    let _ = std::fs::remove_dir_all(out);
    let o = Command::new(env!("CARGO_BIN_EXE_neuroc"))
        .args(["run", file, "-o", out.to_str().unwrap_or("out"), "-q"])
        .args(flags(args))
        .current_dir(repo())
        .output()
        .expect("run neuroc");
    assert!(
        o.status.success(),
        "case {name}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(out)
        .expect("output folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n != "run.json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let bytes = std::fs::read(p).expect("read output");
            let fname = p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            format!("{name} {fname} {} {:016x}", bytes.len(), digest(&bytes))
        })
        .collect()
}

#[test]
fn every_example_and_stdlib_model_writes_the_blessed_outputs() {
    let root = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("neuroc-outputs-{}", std::process::id()));
    let mut lines = Vec::new();
    for (name, file, args) in CASES {
        lines.extend(run_case(name, file, args, &root.join(name)));
    }
    let _ = std::fs::remove_dir_all(&root);
    let golden = repo().join("tests/golden/outputs.txt");
    let got = lines.join("\n") + "\n";
    if std::env::var_os("NEUROC_BLESS").is_some() {
        std::fs::write(&golden, &got).expect("write golden digests");
        return;
    }
    let want = std::fs::read_to_string(&golden).expect("tests/golden/outputs.txt");
    let (want, got): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let missing: Vec<&&str> = want.iter().filter(|l| !got.contains(l)).collect();
    let extra: Vec<&&str> = got.iter().filter(|l| !want.contains(l)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "outputs changed.\nexpected but not written:\n  {}\nwritten but not expected:\n  {}",
        missing.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("\n  "),
        extra.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("\n  ")
    );
}
