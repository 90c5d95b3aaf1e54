//! A corpus of malformed and extreme inputs, each checked and run (for a
//! few ms) by the binary under an address-space limit (`ulimit -v`): no
//! panic, abort or signal, exit code 0, 1 or 2, and every error with a code
//! and a source span. The cases cover every construct and model kind,
//! numeric extremes, sizes far beyond the machine, and runs that blow up.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The address-space limit of each child, in KiB (3 GiB): a request that
/// is not checked against the memory budget aborts on allocation.
const LIMIT_KB: u64 = 3 << 20;

/// A case: its name, its source, and flags for `run` (after
/// `run FILE -q -o DIR`; `--duration 2ms` unless the flags name one).
struct Case {
    name: String,
    src: String,
    flags: Vec<String>,
}

fn case(name: &str, src: &str) -> Case {
    Case { name: name.into(), src: src.into(), flags: vec![] }
}

fn with_flags(name: &str, src: &str, flags: &[&str]) -> Case {
    Case { name: name.into(), src: src.into(), flags: flags.iter().map(|s| s.to_string()).collect() }
}

const LIF: &str = "neuron LIF {\n    parameter tau = 10 ms, V_th = -50 mV\n    state V = -65 mV\n    input I = 2 nA\n    dV/dt = (-65 mV - V + 10 Mohm * I) / tau\n    on spike exc(w: mV) { V += w }\n    on V > V_th { V = -65 mV; emit spike; refractory 2 ms }\n}\n";

fn net(body: &str) -> String {
    format!("{LIF}network Net {{\n{body}\n}}\n")
}

fn rate(body: &str) -> String {
    format!("rate R {{\n{body}\n}}\n")
}

fn neuron(body: &str) -> String {
    format!("neuron N {{\n{body}\n}}\n")
}

const DENSITY: &str = "density D {\n    parameter tau = 20 ms, sigma = 5 mV, mu = 15 mV\n    variable V in [-30 mV, V_th] cells = 100\n    drift(V) = (mu - V) / tau\n    diffusion = sigma^2 / (2 * tau)\n    threshold V_th = 20 mV, reset V_r = 10 mV, refractory 2 ms\n    output rate = flux at V_th\n}\n";

const FIELD: &str = "field F {\n    domain x in [0 mm, 10 mm) periodic, cells = 64\n    parameter tau = 10 ms\n    kernel w(d) = exp(-d^2 / (2 * 1 mm^2)) / 1 mm\n    state u = 0.1\n    tau * du/dt = -u + conv(w, u)\n}\n";

fn syntax_cases() -> Vec<Case> {
    let deep_parens =
        format!("rate R {{\n    state x = {}1{}\n    dx/dt = -x / 1 s\n}}\n", "(".repeat(5000), ")".repeat(5000));
    let deep_if = {
        let mut e = String::from("1");
        for _ in 0..3000 {
            e = format!("if x > 0 then {e} else 0");
        }
        rate(&format!("    state x = 1\n    y = {e}\n    dx/dt = -x * y / 1 s"))
    };
    let long_sum =
        rate(&format!("    state x = 1\n    y = {}\n    dx/dt = -x * y / 1 s", vec!["x"; 20000].join(" + ")));
    let many_states = {
        let mut b = String::new();
        for i in 0..2000 {
            b.push_str(&format!("    state x{i} = 1\n    dx{i}/dt = -x{i} / 1 s\n"));
        }
        rate(&b)
    };
    let fn_chain = {
        let mut b = String::from("    fn f0(a) = a\n");
        for i in 1..600 {
            b.push_str(&format!("    fn f{i}(a) = f{}(a) + 1\n", i - 1));
        }
        b.push_str("    state x = 1\n    dx/dt = -x * f599(1) / 1 s\n");
        rate(&b)
    };
    vec![
        case("empty", ""),
        case("only_comment", "# nothing here\n"),
        case("bom", "\u{feff}rate R {\n    state x = 1\n    dx/dt = -x / 1 s\n}\n"),
        case("nul", "rate R {\n    state x = 1\u{0}\n    dx/dt = -x / 1 s\n}\n"),
        case("zero_width", "rate R {\n    state x\u{200b} = 1\n    dx/dt = -x / 1 s\n}\n"),
        case("unicode_minus", "rate R {\n    state x = \u{2212}1\n    dx/dt = -x / 1 s\n}\n"),
        case("unclosed_brace", "rate R {\n    state x = 1\n    dx/dt = -x / 1 s\n\nrate S {\n    state y = 1\n}\n"),
        case("extra_brace", "rate R {\n    state x = 1\n    dx/dt = -x / 1 s\n}\n}\n"),
        case("gate_missing_brace", "channel C {\n    parameter g = 1 mS/cm^2\n    gate m {\n        alpha = 1 /ms\n        beta = 1 /ms\n    current i = g * m * (V - 0 mV)\n}\n"),
        case("keyword_as_name", "rate if {\n    state x = 1\n}\n"),
        case("missing_rhs", "rate R {\n    state x =\n    dx/dt = -x / 1 s\n}\n"),
        case("dangling_operator", "rate R {\n    state x = 1 +\n    dx/dt = -x / 1 s\n}\n"),
        case("double_equals", "rate R {\n    state x == 1\n}\n"),
        case("unknown_kind", "cortex C {\n    state x = 1\n}\n"),
        case("deep_parens", &deep_parens),
        case("deep_if", &deep_if),
        case("long_sum", &long_sum),
        case("many_states", &many_states),
        case("fn_chain_600", &fn_chain),
        case("fn_recursive", &rate("    fn f(a) = f(a) + 1\n    state x = 1\n    dx/dt = -x * f(1) / 1 s")),
        case("fn_mutual", &rate("    fn f(a) = g(a)\n    fn g(a) = f(a)\n    state x = 1\n    dx/dt = -x * f(1) / 1 s")),
        case("value_cycle", &rate("    a = b\n    b = a\n    state x = 1\n    dx/dt = -x * a / 1 s")),
        case("fn_wrong_arity", &rate("    fn f(a, b) = a + b\n    state x = 1\n    dx/dt = -x * f(1) / 1 s")),
        case("fn_named_builtin", &rate("    fn exp(a) = a\n    state x = 1\n    dx/dt = -x / 1 s")),
        case("duplicate_state", &rate("    state x = 1\n    state x = 2\n    dx/dt = -x / 1 s")),
        case("ode_of_parameter", &rate("    parameter k = 1\n    state x = 1\n    dk/dt = -k / 1 s")),
        case("two_odes", &rate("    state x = 1\n    dx/dt = -x / 1 s\n    dx/dt = x / 1 s")),
        case("import_missing", "import \"no_such_file.neuro\"\nrate R {\n    state x = 1\n}\n"),
        case("import_self", "import \"corpus_case.neuro\"\nrate R {\n    state x = 1\n    dx/dt = -x / 1 s\n}\n"),
        case("import_dir", "import \".\"\nrate R {\n    state x = 1\n}\n"),
        case("very_long_name", &rate(&format!("    state {} = 1", "x".repeat(100_000)))),
        case("tabs_and_crlf", "rate R {\r\n\tstate x = 1\r\n\tdx/dt = -x / 1 s\r\n}\r\n"),
    ]
}

fn unit_cases() -> Vec<Case> {
    vec![
        case("degc_squared", &rate("    parameter T = 37 degC^2\n    state x = 1\n    dx/dt = -x / 1 s")),
        case("decimal_exponent", &rate("    parameter a = 1 mV^0.5\n    state x = 1\n    dx/dt = -x / 1 s")),
        case("huge_exponent", &rate("    parameter a = 1 mV^100000\n    state x = 1\n    dx/dt = -x / 1 s")),
        case("exponent_div_zero", &rate("    parameter a = 1 ms^(1/0)\n    state x = 1\n    dx/dt = -x / 1 s")),
        case("unknown_unit", &rate("    parameter a = 3 mQ\n    state x = 1\n    dx/dt = -x / 1 s")),
        case("mv_plus_ms", &rate("    state x = 1\n    y = 1 mV + 2 ms\n    dx/dt = -x / 1 s")),
        case("exp_of_volts", &neuron("    state V = -65 mV\n    a = exp(V)\n    dV/dt = -V * a / 10 ms")),
        case("ode_wrong_dim", &neuron("    state V = -65 mV\n    dV/dt = V")),
        case("condition_as_number", &rate("    state x = 1\n    dx/dt = (x > 0) / 1 s")),
        case("number_as_condition", &rate("    state x = 1\n    dx/dt = if x then 1 / 1 s else 0 / 1 s")),
        case("divide_by_zero", &rate("    state x = 1\n    dx/dt = -x / 0 ms")),
        case("zero_over_zero", &rate("    parameter a = 0 / 0\n    state x = 1\n    dx/dt = -x * a / 1 s")),
        case("log_negative", &rate("    parameter a = log(-1)\n    state x = 1\n    dx/dt = -x * a / 1 s")),
        case("exp_overflow", &rate("    parameter a = exp(1000)\n    state x = 1\n    dx/dt = -x * a / 1 s")),
        case("literal_1e400", &rate("    parameter a = 1e400\n    state x = 1\n    dx/dt = -x * a / 1 s")),
        case("literal_tiny", &rate("    parameter a = 1e-400 s\n    state x = 1\n    dx/dt = -x / a")),
        case(
            "sqrt_of_volts",
            &rate("    parameter a = sqrt(4 mV)\n    state x = 1\n    dx/dt = -x * a / 1 mV^0.5 / 1 s"),
        ),
        case("pow_dimensioned_exponent", &rate("    state x = 1\n    dx/dt = -x ^ (1 ms) / 1 s")),
        case("unit_hides_name", &rate("    parameter s = 2\n    state x = 1\n    dx/dt = -x * 2 /s")),
    ]
}

fn kind_cases() -> Vec<Case> {
    let chan = |body: &str| {
        format!("channel C {{\n{body}\n}}\nneuron N {{\n    state V = -65 mV\n    use C\n    dV/dt = -currents / 1 uF/cm^2\n}}\n")
    };
    vec![
        case("channel_declares_v", &chan("    state V = 0 mV\n    current i = 1 uA/cm^2")),
        case("channel_gate_bad_rate", &chan("    parameter g = 1 mS/cm^2\n    gate m {\n        alpha = 1 mV\n        beta = 1 /ms\n    }\n    current i = g * m * (V - 0 mV)")),
        case("channel_current_wrong_dim", &chan("    current i = 1 mV")),
        case("channel_no_current", &chan("    parameter g = 1 mS/cm^2")),
        case("gate_power_huge", &chan("    parameter g = 1 mS/cm^2\n    gate m^1000000 {\n        alpha = 1 /ms\n        beta = 1 /ms\n    }\n    current i = g * m * (V - 0 mV)")),
        case("use_missing_channel", &neuron("    state V = -65 mV\n    use Nothing\n    dV/dt = -V / 10 ms")),
        case("neuron_two_thresholds", &neuron("    state V = -65 mV\n    dV/dt = (-65 mV - V) / 10 ms + 3 mV/ms\n    on V > -50 mV { V = -65 mV; emit spike }\n    on V > -50 mV { V = -70 mV }")),
        case("event_assigns_parameter", &neuron("    parameter a = 1 mV\n    state V = -65 mV\n    dV/dt = -V / 10 ms\n    on V > 0 mV { a = 2 mV }")),
        case("refractory_negative", &neuron("    state V = -65 mV\n    dV/dt = (-40 mV - V) / 10 ms\n    on V > -50 mV { V = -65 mV; emit spike; refractory -2 ms }")),
        case("event_loop", &rate("    state x = 0\n    dx/dt = 1 / 1 ms\n    on x >= 1 { x = 0.999999 }")),
        case("synapse_no_spike", "synapse S {\n    state g = 0 nS\n    dg/dt = -g / 5 ms\n    current i = g * (V_post - 0 mV)\n}\n"),
        case("synapse_weight_unit", "synapse S {\n    state g = 0 nS\n    dg/dt = -g / 5 ms\n    on spike(w: mV) { g += w }\n    current i = g * (V_post - 0 mV)\n}\n"),
        case("plasticity_bad", "plasticity P {\n    state R = 1\n    dR/dt = (1 - R) / 0 ms\n    on spike { release = R; R -= R }\n}\n"),
        case("kinetic_no_steady_state", "channel K {\n    parameter g = 1 mS/cm^2\n    kinetic {\n        C <-> O (1 /ms, 1 /ms)\n        D <-> E (1 /ms, 1 /ms)\n    }\n    current i = g * O * (V - 0 mV)\n}\nneuron N {\n    state V = -65 mV\n    use K\n    dV/dt = -currents / 1 uF/cm^2\n}\n"),
        case("density_good", DENSITY),
        case("density_no_threshold", "density D {\n    variable V in [-30 mV, 20 mV] cells = 100\n    drift(V) = -V / 20 ms\n    diffusion = 1 mV^2 / 20 ms\n}\n"),
        case("density_negative_diffusion", &DENSITY.replace("sigma^2 / (2 * tau)", "-sigma^2 / (2 * tau)")),
        case("density_cells_huge", &DENSITY.replace("cells = 100", "cells = 1e12")),
        case("density_cells_two", &DENSITY.replace("cells = 100", "cells = 2")),
        case("density_empty_interval", &DENSITY.replace("[-30 mV, V_th]", "[30 mV, V_th]")),
        case("density_wrong_units", &DENSITY.replace("diffusion = sigma^2 / (2 * tau)", "diffusion = sigma / tau")),
        case("field_good", FIELD),
        case("field_cells_huge", &FIELD.replace("cells = 64", "cells = 1e10")),
        case("field_no_domain", &FIELD.replace("    domain x in [0 mm, 10 mm) periodic, cells = 64\n", "")),
        case("field_kernel_wrong_unit", &FIELD.replace("/ 1 mm\n", "\n")),
        case("field_empty_domain", &FIELD.replace("[0 mm, 10 mm)", "[10 mm, 0 mm)")),
        case("brain_missing_model", "brain B {\n    parameter speed = 20 mV\n    region A x Nothing\n}\n"),
        case("brain_bare", "brain B {\n}\n"),
        case("jansen_rit_wrong_units", "rate JR {\n    parameter A = 3.25 mV, a = 100 /s\n    state y0 = 0 mV, y3 = 0 mV/s\n    dy0/dt = y3\n    dy3/dt = A * a - y0\n}\n"),
    ]
}

fn network_cases() -> Vec<Case> {
    vec![
        case("net_good", &net("    population P = 10 x LIF\n    connect P -> P via exc (p = 0.1, w = 0.1 mV, delay = 1 ms)\n    record spikes(P)")),
        case("net_population_huge", &net("    population P = 10000000000000 x LIF")),
        case("net_population_zero", &net("    population P = 0 x LIF")),
        case("net_unknown_model", &net("    population P = 10 x Nothing")),
        case("net_unknown_population", &net("    population P = 10 x LIF\n    connect Q -> P via exc (p = 0.1, w = 0.1 mV)")),
        case("net_unknown_port", &net("    population P = 10 x LIF\n    connect P -> P via nope (p = 0.1, w = 0.1 mV)")),
        case("net_all_to_all_huge", &net("    population P = 40000 x LIF\n    connect P -> P via exc (all_to_all, w = 0.1 mV)")),
        case("net_k_huge", &net("    population P = 100 x LIF\n    connect P -> P via exc (k = 1e9, w = 0.1 mV)")),
        case("net_k_fraction", &net("    population P = 100 x LIF\n    connect P -> P via exc (k = 2.5, w = 0.1 mV)")),
        case("net_p_above_one", &net("    population P = 100 x LIF\n    connect P -> P via exc (p = 1.5, w = 0.1 mV)")),
        case("net_p_negative", &net("    population P = 100 x LIF\n    connect P -> P via exc (p = -0.1, w = 0.1 mV)")),
        case("net_weight_wrong_unit", &net("    population P = 100 x LIF\n    connect P -> P via exc (p = 0.1, w = 0.1 nS)")),
        case("net_delay_negative", &net("    population P = 100 x LIF\n    connect P -> P via exc (p = 0.1, w = 0.1 mV, delay = -1 ms)")),
        case("net_delay_huge", &net("    population P = 100 x LIF\n    connect P -> P via exc (p = 0.1, w = 0.1 mV, delay = 1e9 s)")),
        case("net_poisson_negative_rate", &net("    population P = 10 x LIF\n    drive P with poisson(rate = -5 Hz, n = 10, w = 0.1 mV) via exc")),
        case("net_poisson_fractional_n", &net("    population P = 10 x LIF\n    drive P with poisson(rate = 5 Hz, n = 2.5, w = 0.1 mV) via exc")),
        case("net_poisson_huge_n", &net("    population P = 10 x LIF\n    drive P with poisson(rate = 5 Hz, n = 1e15, w = 0.1 mV) via exc")),
        case("net_spikes_unsorted", &net("    population P = 10 x LIF\n    drive P with spikes(times = at(5 ms, 1 ms), w = 0.1 mV) via exc")),
        case("net_spikes_negative", &net("    population P = 10 x LIF\n    drive P with spikes(times = at(-5 ms), w = 0.1 mV) via exc")),
        case("net_record_range_outside", &net("    population P = 10 x LIF\n    record V(P[0:100])")),
        case("net_record_unknown_state", &net("    population P = 10 x LIF\n    record W(P[0:2])")),
        case("net_record_bin_zero", &net("    population P = 10 x LIF\n    record rate(P, bin = 0 ms)")),
        case("net_connection_file_missing", &net("    population P = 10 x LIF\n    connect P -> P via exc file \"missing.csv\" (w = 0.1 mV)")),
        case("net_empty", &net("")),
        case("net_self_model", "network Net {\n    population P = 10 x Net\n}\n"),
        case("net_block_unknown_setting", &format!("{}simulate Net {{ bogus = 1 }}\n", net("    population P = 10 x LIF"))),
        case("net_block_method_kinetic", &format!("{}simulate Net {{ method = kinetic }}\n", net("    population P = 10 x LIF"))),
        case("net_block_spread_wrong_unit", &format!("{}simulate Net {{ V = uniform(0 ms, 1 ms) }}\n", net("    population P = 10 x LIF"))),
    ]
}

fn simulate_cases() -> Vec<Case> {
    let r = rate("    parameter k = 1\n    state x = 1\n    dx/dt = -k * x / 1 s");
    let sim = |block: &str| format!("{r}simulate R {{ {block} }}\n");
    vec![
        case("sim_dt_voltage", &sim("dt = 0.1 mV")),
        case("sim_dt_negative", &sim("dt = -0.1 ms")),
        case("sim_dt_zero", &sim("dt = 0 ms")),
        case("sim_duration_negative", &sim("duration = -1 s")),
        case("sim_duration_huge_steps", &sim("dt = 1e-9 ms, duration = 1e9 s")),
        case("sim_missing_model", &format!("{r}simulate Nothing {{ dt = 0.1 ms }}\n")),
        case("sim_unknown_method", &sim("method = magic")),
        case("sim_n_huge", &sim("n = 1e12")),
        case("sim_n_zero", &sim("n = 0")),
        case("sim_n_fraction", &sim("n = 2.5")),
        case("sim_seed_negative", &sim("seed = -1")),
        case("sim_spread_wrong_unit", &sim("n = 10, k = linspace(1 ms, 2 ms)")),
        case("sim_normal_negative_sd", &sim("n = 10, k = normal(1, -1)")),
        case("sim_spikes_without_port", &sim("spikes = regular(1 ms)")),
        case("sim_weight_alone", &sim("weight = 1 nS")),
        case("sim_regular_zero", &format!("{LIF}simulate LIF {{ spikes = regular(0 ms), weight = 1 mV }}\n")),
        case("sim_poisson_huge", &format!("{LIF}simulate LIF {{ spikes = poisson(1e12 Hz), weight = 1 mV }}\n")),
        case("sim_at_unsorted", &format!("{LIF}simulate LIF {{ spikes = at(5 ms, 1 ms), weight = 1 mV }}\n")),
        case("sim_port_unknown", &format!("{LIF}simulate LIF {{ spikes = at(1 ms), weight = 1 mV, port = inh }}\n")),
        case("sim_channel_gate_unknown", &sim("Foo.m = 0")),
        case("sim_input_spread", &format!("{LIF}simulate LIF {{ n = 4, I = linspace(0 nA, 3 nA) }}\n")),
        case("sim_duplicate_setting", &sim("dt = 0.1 ms, dt = 0.2 ms")),
    ]
}

fn flag_cases() -> Vec<Case> {
    let r = rate("    parameter k = 1\n    state x = 1\n    dx/dt = -k * x / 1 s");
    let hh = "import \"hh.neuro\"\n";
    vec![
        with_flags("flag_neurons_max", &r, &["--neurons", "18446744073709551615"]),
        with_flags("flag_neurons_1e12", &r, &["--neurons", "1e12"]),
        with_flags("flag_threads_zero", &r, &["--threads", "0"]),
        with_flags("flag_dt_unitless", &r, &["--dt", "0.1"]),
        with_flags("flag_dt_above_duration", &r, &["--dt", "5 ms", "--duration", "1 ms"]),
        with_flags("flag_sample_zero", &r, &["--sample", "0 ms"]),
        with_flags("flag_sample_negative", &r, &["--sample", "-1 ms"]),
        with_flags("flag_set_unknown", &r, &["--set", "q=1"]),
        with_flags("flag_set_wrong_unit", &r, &["--set", "k=1 mV"]),
        with_flags("flag_set_garbage", &r, &["--set", "k=((("]),
        with_flags("flag_record_range", &r, &["--neurons", "3", "--record", "x[0:99]"]),
        with_flags("flag_method_kinetic", &r, &["--method", "kinetic"]),
        with_flags("flag_table_bad", hh, &["--model", "HH", "--table", "V in [0 mV, -1 mV], step = 0 mV"]),
        with_flags(
            "flag_table_tiny_step",
            hh,
            &["--model", "HH", "--table", "V in [-100 mV, 100 mV], step = 1e-12 mV"],
        ),
        with_flags("flag_cells_huge", DENSITY, &["--cells", "1e15"]),
        with_flags("flag_duration_nan", &r, &["--duration", "0/0 ms"]),
        with_flags("flag_seed_huge", &r, &["--seed", "1e300"]),
        with_flags("flag_model_unknown", &r, &["--model", "Nope"]),
        with_flags("blow_up_x_squared", &rate("    state x = 1\n    dx/dt = x^2 / 1 ms"), &["--duration", "10 ms"]),
        with_flags(
            "blow_up_population",
            &rate("    state x = 1\n    dx/dt = x^2 / 1 ms"),
            &["--duration", "10 ms", "--neurons", "100"],
        ),
        with_flags(
            "blow_up_euler",
            &rate("    state x = 1\n    dx/dt = 3 * x / 1 ms"),
            &["--method", "euler", "--dt", "1 ms", "--duration", "1 s"],
        ),
        with_flags(
            "blow_up_network",
            &net("    population P = 10 x LIF\n    connect P -> P via exc (all_to_all, w = 1e300 mV)"),
            &["--duration", "20 ms"],
        ),
    ]
}

fn cases() -> Vec<Case> {
    let mut all = syntax_cases();
    all.extend(unit_cases());
    all.extend(kind_cases());
    all.extend(network_cases());
    all.extend(simulate_cases());
    all.extend(flag_cases());
    all
}

/// Runs `neuroc ARGS` under the address-space limit, killing it after a
/// minute; returns (exit code, stderr + stdout).
fn neuroc(dir: &Path, args: &[String]) -> (Option<i32>, String) {
    let child = Command::new("bash")
        .arg("-c")
        .arg(format!("ulimit -v {LIMIT_KB}; exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_neuroc"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn neuroc");
    // the pipes are drained while the child runs (an error can quote a
    // long line), and a child past the minute is killed
    let pid = child.id();
    let (done, waited) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    let out = match waited.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => out.expect("output"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            return (Some(-1), "ran for more than a minute".into());
        }
    };
    let text = format!("{}{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
    (out.status.code(), text)
}

/// What is wrong with a run's output, if anything: a signal or a code other
/// than 0, 1, 2; a panic; an error without a code or without a span.
fn problems(code: Option<i32>, text: &str) -> Vec<String> {
    let mut found = Vec::new();
    match code {
        Some(0..=2) => {}
        Some(-1) => found.push("ran for more than a minute".into()),
        other => found.push(format!("exit {other:?} (a signal or a panic)")),
    }
    if text.contains("panicked") || text.contains("E0999") {
        found.push("a panic or an internal error".into());
    }
    let lines: Vec<&str> = text.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        if !l.starts_with("error") {
            continue;
        }
        let coded = l.starts_with("error[E") && l.as_bytes().get(11) == Some(&b']');
        if !coded {
            found.push(format!("an error without a code: {l}"));
            continue;
        }
        let block = lines[i + 1..].iter().take_while(|x| !x.is_empty());
        if !block.clone().any(|x| x.contains("┌─")) {
            found.push(format!("an error without a span: {l}"));
        }
    }
    found
}

#[test]
fn malformed_and_extreme_inputs_never_crash() {
    let cases = cases();
    assert!(cases.len() >= 100, "{} cases", cases.len());
    let root: PathBuf =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("neuroc-corpus-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    // imports of the standard library resolve from the case's folder
    let stdlib = Path::new(env!("CARGO_MANIFEST_DIR")).join("stdlib");
    let mut failures = Vec::new();
    let mut outcomes = [0usize; 3];
    for c in &cases {
        let dir = root.join(&c.name);
        std::fs::create_dir_all(&dir).unwrap();
        for f in std::fs::read_dir(&stdlib).unwrap().flatten() {
            std::fs::copy(f.path(), dir.join(f.file_name())).unwrap();
        }
        std::fs::write(dir.join("corpus_case.neuro"), &c.src).unwrap();
        let check = vec!["check".to_string(), "corpus_case.neuro".into()];
        let mut run: Vec<String> =
            ["run", "corpus_case.neuro", "-q", "-o", "out"].iter().map(|s| s.to_string()).collect();
        if !c.flags.iter().any(|f| f == "--duration") {
            run.extend(["--duration".into(), "2ms".into()]);
        }
        run.extend(c.flags.iter().cloned());
        for args in [check, run] {
            let start = Instant::now();
            let (code, text) = neuroc(&dir, &args);
            eprintln!("{} {}: exit {code:?} in {:.2} s", c.name, args[0], start.elapsed().as_secs_f64());
            if let Some(k) = code.filter(|k| (0..=2).contains(k)) {
                outcomes[k as usize] += 1;
            }
            for p in problems(code, &text) {
                failures.push(format!("{} ({}): {p}\n{text}", c.name, args[0]));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&root);
    assert!(failures.is_empty(), "{} problems:\n{}", failures.len(), failures.join("\n---\n"));
    // the corpus is mostly bad input: most runs are refused with a diagnostic
    assert!(outcomes[1] > cases.len(), "exit codes 0/1/2: {outcomes:?}");
}
