//! Golden diagnostics: each bad input and its rendered message, side by side
//! in `tests/snapshots/`. One helper, `check`, for every case.

fn check(name: &str, src: &str) {
    let rendered = neuroc::check(src);
    assert!(!rendered.is_empty(), "{name}: expected a diagnostic");
    insta::assert_snapshot!(name, format!("{src}\n---- diagnostics ----\n{rendered}"));
}

#[test]
fn syntax_error_names_expected_tokens() {
    check("syntax_expected", "neuron N {\n    parameter tau 20 ms\n}\n");
}

#[test]
fn syntax_error_recovers_and_reports_later_items() {
    check("syntax_recovery", "rate A {\n    state x = 0 +\n}\n\nrate B {\n    state y = 1\n    dy/dt = -y / tua\n}\n");
}

#[test]
fn unknown_identifier_suggests() {
    check("unknown_name", "rate R {\n    parameter tau = 10 ms\n    state x = 0\n    dx/dt = -x / tua\n}\n");
}

#[test]
fn unknown_unit() {
    check("unknown_unit", "rate R {\n    parameter g = 3 mQ\n    state x = 0\n    dx/dt = -x * g\n}\n");
}

#[test]
fn unit_misspelled_suggests() {
    check("unit_typo", "rate R {\n    parameter tau = 10 mss\n    state x = 1\n    dx/dt = -x / tau\n}\n");
}

#[test]
fn glued_division_reads_as_unit() {
    check("glued_division", "rate R {\n    parameter tau = 10 ms\n    state x = 1\n    dx/dt = -x * 1/tau\n}\n");
}

#[test]
fn adding_voltage_and_time() {
    check("mv_plus_ms", "rate R {\n    state x = 0\n    y = 1 mV + 2 ms\n    dx/dt = y / 1 mV / 1 s\n}\n");
}

#[test]
fn exp_of_dimensioned_argument() {
    check("exp_dimensioned", "neuron N {\n    state V = -65 mV\n    a = exp(V)\n    dV/dt = -V * a / 10 ms\n}\n");
}

#[test]
fn ode_right_side_wrong_dimension() {
    check(
        "ode_dimension",
        "neuron N {\n    parameter C = 1 uF/cm^2\n    state V = -65 mV\n    input I = 1 uA/cm^2\n    dV/dt = I - V / 10 ms * C\n}\n",
    );
}

#[test]
fn ode_missing_capacitance() {
    check(
        "ode_missing_capacitance",
        "neuron N {\n    parameter g = 0.3 mS/cm^2\n    state V = -65 mV\n    dV/dt = -g * V\n}\n",
    );
}

#[test]
fn state_without_initial_value() {
    check("no_initial_value", "neuron N {\n    state V\n    dV/dt = -V / 10 ms\n}\n");
}

#[test]
fn duplicate_definition() {
    check(
        "duplicate",
        "rate R {\n    parameter tau = 10 ms\n    state x = 1\n    parameter tau = 20 ms\n    dx/dt = -x / tau\n}\n",
    );
}

#[test]
fn cyclic_derived_values() {
    check("cycle", "rate R {\n    state x = 1\n    a = b + x\n    b = 2 * a\n    dx/dt = -a / 1 s\n}\n");
}

#[test]
fn wrong_number_of_arguments() {
    check("arity", "rate R {\n    fn f(u, w) = u * w\n    state x = 1\n    dx/dt = -f(x) / 1 s\n}\n");
}

#[test]
fn builtin_wrong_number_of_arguments() {
    check("arity_builtin", "rate R {\n    state x = 1\n    dx/dt = -exp(x, 2) / 1 s\n}\n");
}

#[test]
fn gate_without_rates() {
    check(
        "gate_incomplete",
        "channel K {\n    parameter g = 36 mS/cm^2\n    gate n {\n        alpha = 0.1 /ms\n    }\n    current i = g * n^4 * (V + 77 mV)\n}\n",
    );
}

#[test]
fn gate_rate_wrong_dimension() {
    check(
        "gate_dimension",
        "channel K {\n    gate n {\n        alpha = 0.1\n        beta = 0.125 /ms\n    }\n    current i = 1 mS/cm^2 * n * V\n}\n",
    );
}

#[test]
fn unknown_channel_in_use() {
    check(
        "unknown_channel",
        "import \"hh.neuro\"\n\nneuron N {\n    parameter C = 1 uF/cm^2\n    state V = -65 mV\n    use NaX, Kdr\n    dV/dt = -currents / C\n}\n",
    );
}

#[test]
fn use_of_a_neuron_as_channel() {
    check(
        "use_wrong_kind",
        "import \"lif.neuro\"\n\nneuron N {\n    state V = -65 mV\n    use LIF\n    dV/dt = -V / 10 ms\n}\n",
    );
}

#[test]
fn import_of_missing_file() {
    check("import_missing", "import \"nowhere.neuro\"\n\nrate R {\n    state x = 1\n    dx/dt = -x / 1 s\n}\n");
}

#[test]
fn non_constant_exponent_on_dimensioned_base() {
    check(
        "nonconstant_exponent",
        "neuron N {\n    parameter n = 2\n    state V = -65 mV\n    a = V^n\n    dV/dt = -a / 1 mV / 10 ms\n}\n",
    );
}

#[test]
fn irrational_exponent_on_dimensioned_base() {
    check("bad_exponent", "neuron N {\n    state V = -65 mV\n    a = V^0.3183\n    dV/dt = -V / 10 ms\n}\n");
}

#[test]
fn event_assigns_a_parameter() {
    check(
        "assign_parameter",
        "neuron N {\n    parameter V_th = -50 mV\n    state V = -65 mV\n    dV/dt = (-40 mV - V) / 10 ms\n    on V >= V_th { V_th = -40 mV }\n}\n",
    );
}

#[test]
fn ode_for_a_parameter() {
    check(
        "ode_not_state",
        "rate R {\n    parameter tau = 10 ms\n    state x = 1\n    dx/dt = -x / tau\n    dtau/dt = 1\n}\n",
    );
}

#[test]
fn event_assignment_wrong_unit() {
    check(
        "assign_dimension",
        "neuron N {\n    state V = -65 mV\n    dV/dt = (-40 mV - V) / 10 ms\n    on V >= -50 mV { V += 1 nS }\n}\n",
    );
}

#[test]
fn event_condition_is_a_number() {
    check(
        "condition_number",
        "neuron N {\n    state V = -65 mV\n    dV/dt = (-40 mV - V) / 10 ms\n    on V { emit spike }\n}\n",
    );
}

#[test]
fn comparison_used_as_number() {
    check(
        "bool_as_number",
        "neuron N {\n    state V = -65 mV\n    s = (V > 0 mV) * 2\n    dV/dt = -V / 10 ms * s\n}\n",
    );
}

#[test]
fn if_branches_disagree() {
    check(
        "if_branches",
        "neuron N {\n    state V = -65 mV\n    I = if t > 10 ms then 1 nA else 0 mV\n    dV/dt = -V / 10 ms\n}\n",
    );
}

#[test]
fn unknown_function_suggests() {
    check("unknown_function", "rate R {\n    state x = 1\n    dx/dt = -expp(x) / 1 s\n}\n");
}

#[test]
fn refractory_needs_time() {
    check(
        "refractory_dimension",
        "neuron N {\n    state V = -65 mV\n    dV/dt = (-40 mV - V) / 10 ms\n    on V >= -50 mV { V = -65 mV; refractory 2 mV }\n}\n",
    );
}

#[test]
fn channels_with_different_current_kinds() {
    check(
        "current_dimension",
        "channel A {\n    current i = 1 mS/cm^2 * (V + 60 mV)\n}\nchannel B {\n    current i = 1 nS * (V + 60 mV)\n}\nneuron N {\n    parameter C = 1 uF/cm^2\n    state V = -65 mV\n    use A, B\n    dV/dt = -currents / C\n}\n",
    );
}

#[test]
fn channel_in_neuron_without_voltage() {
    check(
        "missing_voltage",
        "channel L {\n    parameter g = 0.3 mS/cm^2\n    current i = g * (V + 54 mV)\n}\nneuron N {\n    parameter C = 1 uF/cm^2\n    state U = -65 mV\n    use L\n    dU/dt = -currents / C\n}\n",
    );
}

#[test]
fn network_statement_in_a_neuron() {
    check("not_here", "neuron N {\n    state V = -65 mV\n    dV/dt = -V / 10 ms\n    population E = 100 x N\n}\n");
}

#[test]
fn model_defined_twice() {
    check(
        "duplicate_model",
        "rate R {\n    state x = 1\n    dx/dt = -x / 1 s\n}\nrate R {\n    state y = 1\n    dy/dt = -y / 1 s\n}\n",
    );
}

#[test]
fn state_that_never_changes_warns() {
    check("never_changes", "rate R {\n    state x = 1, y = 2\n    dx/dt = -x / 1 s\n}\n");
}

#[test]
fn brackets_nested_too_deep() {
    let src = format!("rate R {{\n    state x = {}1{}\n}}\n", "(".repeat(70), ")".repeat(70));
    check("too_deep", &src);
}

#[test]
fn number_too_large() {
    check("huge_number", "rate R {\n    parameter a = 1e999\n    state x = 1\n    dx/dt = -a * x / 1 s\n}\n");
}

#[test]
fn unknown_method() {
    check("unknown_method", "rate R {\n    method = rk5\n    state x = 1\n    dx/dt = -x / 1 s\n}\n");
}

#[test]
fn parameter_depending_on_state() {
    check(
        "parameter_not_constant",
        "neuron N {\n    state V = -65 mV\n    parameter E = V + 1 mV\n    dV/dt = (E - V) / 10 ms\n}\n",
    );
}

#[test]
fn unknown_model_in_network() {
    check("unknown_model", "network Net {\n    population E = 100 x LFI\n}\nneuron LIF {\n    state V = -65 mV\n    dV/dt = -V / 10 ms\n}\n");
}

#[test]
fn method_that_does_not_apply() {
    check("method_not_applicable", "rate R {\n    state x = 0.5\n    dx/dt = x * (1 - x) / 1 s  method exact\n}\n");
}

#[test]
fn q10_without_reference_temperature() {
    check(
        "q10_alone",
        "channel K {\n    gate n { inf = 0.5; tau = 1 ms; q10 = 3 }\n    current i = 1 mS/cm^2 * n * V\n}\n",
    );
}

#[test]
fn unit_hides_a_parameter() {
    check("unit_shadows_name", "rate R {\n    parameter N = 4\n    state x = 1\n    dx/dt = -x * 2/N / 1 s\n}\n");
}

#[test]
fn unit_exponent_out_of_range() {
    check("unit_exponent", "rate R {\n    parameter a = 1 ms^(1/0)\n    state x = 1\n    dx/dt = -x / a\n}\n");
}

#[test]
fn rate_table_in_something_that_is_not_a_state() {
    check(
        "table_not_state",
        "neuron N {\n    parameter g = 1 mS/cm^2\n    state V = -65 mV\n    dV/dt = -g * V / 1 uF/cm^2\n    table g in [-100 mV, 100 mV], step = 1 mV\n}\n",
    );
}

#[test]
fn rate_table_without_step() {
    check(
        "table_without_step",
        "neuron N {\n    state V = -65 mV\n    dV/dt = -V / 10 ms\n    table V in [-100 mV, 100 mV]\n}\n",
    );
}

// ------------------------------------------------ what `run` would reject, `check` reports

#[test]
fn simulate_setting_with_the_wrong_unit() {
    check(
        "simulate_dt_unit",
        "neuron N {\n    state V = -65 mV\n    dV/dt = -V / 10 ms\n}\nsimulate N { dt = 0.1 mV }\n",
    );
}

#[test]
fn simulate_negative_step() {
    check(
        "simulate_negative_dt",
        "neuron N {\n    state V = -65 mV\n    dV/dt = -V / 10 ms\n}\nsimulate N { dt = -0.1 ms }\n",
    );
}

#[test]
fn simulate_step_longer_than_the_run() {
    check(
        "simulate_dt_above_duration",
        "neuron N {\n    state V = -65 mV\n    dV/dt = -V / 10 ms\n}\nsimulate N { dt = 2 ms, duration = 1 ms }\n",
    );
}

#[test]
fn simulate_names_a_missing_model() {
    check(
        "simulate_missing_model",
        "neuron N {\n    state V = -65 mV\n    dV/dt = -V / 10 ms\n}\nsimulate M { dt = 0.1 ms }\n",
    );
}

#[test]
fn simulate_unknown_setting() {
    check(
        "simulate_unknown_setting",
        "neuron N {\n    state V = -65 mV\n    dV/dt = -V / 10 ms\n}\nsimulate N { dt = 0.1 ms, durration = 1 s }\n",
    );
}

#[test]
fn division_by_constant_zero() {
    check("division_by_zero", "neuron N {\n    state V = -65 mV\n    dV/dt = -V / 0 ms\n}\n");
}

#[test]
fn brain_names_missing_models_files_and_wrong_units() {
    check(
        "brain_statics",
        "import \"jansen_rit.neuro\"\nbrain B {\n    node = JansenRitt\n    connectivity \"nope/weights.csv\", speed = 20 mV\n}\n",
    );
}

/// A neuron with an input port, for the network cases.
const CELL: &str = "neuron Cell {\n    state V = 0 mV\n    dV/dt = -V / 10 ms\n    on spike exc(w: mV) { V += w }\n    on V >= 20 mV { V = 0 mV; emit spike }\n}\n";

#[test]
fn network_statics() {
    let net = |body: &str| {
        format!("{CELL}network Net {{\n    population E = 80 x Cell\n{body}}}\nsimulate Net {{ dt = 0.1 ms, duration = 10 ms }}\n")
    };
    check("network_population", &net("    connect E -> F via exc (p = 0.1, w = 0.1 mV)\n"));
    check("network_probability", &net("    connect E -> E via exc (p = 1.5, w = 0.1 mV)\n"));
    check("network_weight_unit", &net("    connect E -> E via exc (p = 0.1, w = 0.1 nS)\n"));
    check("network_delay_unit", &net("    connect E -> E via exc (p = 0.1, w = 0.1 mV, delay = 1 mV)\n"));
    check("network_connection_setting", &net("    connect E -> E via exc (p = 0.1, w = 0.1 mV, dealy = 1 ms)\n"));
    check("network_drive_rate", &net("    drive E with poisson(rate = -20 Hz, n = 10, w = 0.1 mV) via exc\n"));
    check("network_drive_n", &net("    drive E with poisson(rate = 20 Hz, n = 2.5, w = 0.1 mV) via exc\n"));
    check("network_record_range", &net("    record V(E[70:90])\n"));
    check("network_connection_file", &net("    connect E -> E via exc file \"missing.csv\" (w = 0.1 mV)\n"));
}

// ------------------------------------------------ what new users hit

#[test]
fn invisible_and_lookalike_characters_are_named() {
    check("zero_width_space", "neuron N {\n    state V = -65\u{200b} mV\n    dV/dt = -V / 10 ms\n}\n");
    check("unicode_minus", "neuron N {\n    state V = \u{2212}65 mV\n    dV/dt = -V / 10 ms\n}\n");
    check("nul_byte", "neuron N {\n    state V = -65 mV\n    dV/dt = -V / 10 ms\n}\0\n");
}

#[test]
fn a_byte_order_mark_is_accepted() {
    assert_eq!(neuroc::check("\u{feff}neuron N {\n    state V = -65 mV\n    dV/dt = -V / 10 ms\n}\n"), "");
}

#[test]
fn an_unclosed_brace_is_reported_where_it_opens() {
    check("unclosed_model", "neuron N {\n    state V = -65 mV\n    dV/dt = -V / 10 ms\n\nneuron M {\n    state V = -65 mV\n    dV/dt = -V / 10 ms\n}\n");
    check(
        "unclosed_gate",
        "channel C {\n    parameter g = 1 mS/cm^2\n    gate n {\n        alpha = 0.1 /ms\n        beta = 0.1 /ms\n    current i = g * n * (V + 77 mV)\n}\n\nneuron N {\n    state V = -65 mV\n    use C\n    dV/dt = -currents / 1 uF/cm^2\n}\n",
    );
}

#[test]
fn decimal_unit_exponent() {
    check("decimal_unit_exponent", "rate R {\n    parameter a = 2 mV^0.5\n    state x = 0\n    dx/dt = -x / 1 ms\n}\n");
}

#[test]
fn celsius_with_an_exponent() {
    check("celsius_squared", "rate R {\n    parameter T = 37 degC^2\n    state x = 0\n    dx/dt = -x / 1 ms\n}\n");
}

#[test]
fn a_function_named_like_a_builtin() {
    check("builtin_shadowed", "rate R {\n    fn exp(x) = x\n    state x = 1\n    dx/dt = -exp(x) / 1 ms\n}\n");
}

#[test]
fn a_channel_that_declares_the_membrane_potential() {
    check(
        "channel_declares_v",
        "channel C {\n    state V = 0 mV\n    current i = 1 uA/cm^2\n}\nneuron N {\n    state V = -65 mV\n    use C\n    dV/dt = -currents / 1 uF/cm^2\n}\n",
    );
}

#[test]
fn population_written_with_of_shows_the_statement() {
    check(
        "population_of",
        "neuron N {\n    state V = 0 mV\n    dV/dt = -V / 10 ms\n}\nnetwork Net {\n    population P = 5 of N\n}\n",
    );
}

/// A state named `s` beside rates in 1/s: `2 /s` warns once and says how
/// to write the unit unambiguously; `2 s^-1` and `2 Hz` are silent.
#[test]
fn a_state_named_s_has_an_unambiguous_rate_unit() {
    let src = |k: &str| format!("rate R {{\n    parameter k = {k}\n    state s = 1\n    ds/dt = -k * s\n}}\n");
    let warned = neuroc::check(&src("2 /s"));
    assert!(warned.contains("W0301") && warned.contains("`s^-1`"), "{warned}");
    for quiet in ["2 s^-1", "2 Hz", "2 / 1 s"] {
        assert_eq!(neuroc::check(&src(quiet)), "", "{quiet}");
    }
}

/// For inputs too long to show: the rendered diagnostics alone, with a
/// line saying how the source was built.
fn check_generated(name: &str, how: &str, src: &str) {
    let rendered = neuroc::check(src);
    assert!(!rendered.is_empty(), "{name}: expected a diagnostic");
    insta::assert_snapshot!(name, format!("{how}\n---- diagnostics ----\n{rendered}"));
}

/// `fn f0(a) = a`, then `fn fK(a) = f(K-1)(a)` plus `levels` times ` + 1`,
/// for K up to `n - 1`, and an ODE calling the last.
fn function_chain(n: usize, levels: usize) -> String {
    let mut src = String::from("rate Fns {\n    state x = 1\n    fn f0(a) = a\n");
    for k in 1..n {
        src.push_str(&format!("    fn f{k}(a) = f{}(a){}\n", k - 1, " + 1".repeat(levels)));
    }
    src.push_str(&format!("    dx/dt = -f{}(x) / 1 s\n}}\n", n - 1));
    src
}

#[test]
fn functions_calling_each_other_too_deeply() {
    check_generated(
        "calls_too_deep",
        "300 functions, each calling the one before: fn fK(a) = f(K-1)(a) + 1",
        &function_chain(300, 1),
    );
}

#[test]
fn expression_too_deep_once_inlined() {
    check_generated(
        "expression_too_deep",
        "100 functions, each calling the one before and adding 20 levels: fn fK(a) = f(K-1)(a) + 1 + ... + 1",
        &function_chain(100, 20),
    );
}

/// A comparison whose right side starts with a minus (`x < -0.25`, as in the
/// Epileptor's piecewise terms) is a comparison, not the `<->` of a reaction.
#[test]
fn less_than_a_negative_number_parses() {
    let src = "rate R {\n    state x = 0\n    F = if x < -0.25 then 0 else x + 0.25\n    G = if x <-1 then 1 else 0\n    dx/dt = (1 - x + F + G) / 1 s\n}\n";
    assert_eq!(neuroc::check(src), "", "no diagnostics");
}

#[test]
fn ion_concentrations_need_one_source() {
    let channel = "channel CaT {\n    ion ca\n    parameter pbar = 0.2 mm/s\n    current i = pbar * 2 * 96485 C/mol * (ca_i - ca_o)\n}\n";
    // nobody declares them
    check(
        "ion_undeclared",
        &format!("{channel}neuron Cell {{\n    state V = -65 mV\n    use CaT\n    dV/dt = -currents / 1 uF/cm^2\n}}\n"),
    );
    // the neuron and a pool both declare ca_i; ca_o is not a concentration
    check(
        "ion_two_sources",
        &format!(
            "{channel}channel Pool {{\n    state ca_i = 50 nM\n    dca_i/dt = -ca_i / 100 ms\n}}\n\
             neuron Cell {{\n    parameter ca_i = 50 nM, ca_o = 2 mV\n    state V = -65 mV\n    use CaT, Pool\n    \
             dV/dt = -currents / 1 uF/cm^2\n}}\n"
        ),
    );
}

#[test]
fn ion_currents_need_a_channel_that_carries_them() {
    check(
        "ion_current_uncarried",
        "channel Pool {\n    parameter depth = 0.1 um\n    state ca_i = 50 nM\n    \
         dca_i/dt = -i_ca / (2 * 96485 C/mol * depth)\n}\nchannel K {\n    ion k: ik\n    ion ca\n    \
         current ik = 1 mS/cm^2 * (V + 80 mV)\n    current il = 1 mS/cm^2 * V\n}\n\
         neuron Cell {\n    state V = -65 mV\n    use Pool, K\n    dV/dt = -currents / 1 uF/cm^2\n}\n\
         rate R {\n    ion ca\n    state x = 0\n    dx/dt = -x / 1 ms\n}\n",
    );
}

#[test]
fn a_concentration_computed_from_the_current_it_drives_is_a_cycle() {
    check(
        "ion_cycle",
        "channel CaT {\n    ion ca\n    current i = 1 mS/cm^2 * (V - 100 mV) * ca_i / 1 mM\n}\n\
         channel Pool {\n    ca_i = 0.1 mM - i_ca * 1 mM*cm^2/mA\n}\n\
         neuron Cell {\n    parameter ca_o = 2 mM\n    state V = -65 mV\n    use CaT, Pool\n    \
         dV/dt = -currents / 1 uF/cm^2\n}\n",
    );
}

/// Every diagnostic code has its section in docs/errors.md.
#[test]
fn every_code_is_documented() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/errors.md")).unwrap();
    for code in neuroc::diag::Code::ALL {
        let c = code.as_str();
        assert!(doc.contains(&format!("\n## {c}\n")), "{c} has no section in docs/errors.md");
        assert!(doc.contains(&format!("[{c}](#{})", c.to_lowercase())), "{c} is not in the table of docs/errors.md");
    }
}
