//! Golden `explain` output: what the analysis found for each state, the
//! method chosen and why, and the derived formulas.

mod common;

use neuroc::schemes::Method;

fn explain(file: &str, model: &str, dt_ms: f64) -> String {
    let m = common::model_from_file(file, model);
    neuroc::explain::explain(&m, Method::Auto, dt_ms * 1e-3)
}

#[test]
fn explain_hh() {
    insta::assert_snapshot!("hh", explain("stdlib/hh.neuro", "HH", 0.01));
}

#[test]
fn explain_lif() {
    insta::assert_snapshot!("lif", explain("stdlib/lif.neuro", "LIF", 0.1));
}

#[test]
fn explain_lif_alpha_synapse() {
    insta::assert_snapshot!("lif_alpha", explain("stdlib/lif.neuro", "LIFAlpha", 0.1));
}

#[test]
fn explain_adex() {
    insta::assert_snapshot!("adex", explain("stdlib/adex.neuro", "AdEx", 0.1));
}

#[test]
fn explain_markov_sodium() {
    let src = "import \"markov.neuro\"\nneuron Cell {\n    parameter C_m = 1 uF/cm^2\n    state V = -65 mV\n    use NaMarkov\n    dV/dt = -currents / C_m\n}\n";
    let m = common::model_from_source(src, "Cell");
    insta::assert_snapshot!("markov", neuroc::explain::explain(&m, Method::Auto, 1e-5));
}

#[test]
fn explain_reports_a_method_that_does_not_apply() {
    let m = common::model_from_file("stdlib/hh.neuro", "HH");
    let text = neuroc::explain::explain(&m, Method::Exact, 1e-5);
    assert!(text.contains("E0402"), "{text}");
}

/// A density shows its drift and its diffusion as written, not the name
/// of the value that holds them.
#[test]
fn explain_density_prints_the_diffusion() {
    let mut exp = neuroc::Experiment::load(common::repo("examples/lif_density.neuro")).unwrap();
    let text = exp.explain(Some("LIFStep"), None, None, false).unwrap_or_else(|e| panic!("{e}"));
    assert!(text.contains("  drift = (mu - V) / tau\n"), "{text}");
    assert!(text.contains("  diffusion = sigma^2 / (2 * tau)\n"), "{text}");
}
