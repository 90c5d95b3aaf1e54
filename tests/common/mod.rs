//! Shared helpers for the integration tests.
#![allow(dead_code)]

use neuroc::ir::Model;
use neuroc::runtime::{self, Config, Probe, Recorder, Recording};
use neuroc::schemes::{self, Method};
use std::path::PathBuf;

pub fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A file of `tests/reference/` (copied from the shared reference results; see its README).
pub fn reference(path: &str) -> PathBuf {
    repo("tests/reference").join(path)
}

/// Compiles a file of the repository and returns the named model.
pub fn model_from_file(path: &str, name: &str) -> Model {
    let p = repo(path);
    let text = std::fs::read_to_string(&p).expect("read model file");
    let c = neuroc::compile_source(path, &text, Some(p.canonicalize().expect("canonical path")));
    assert!(!c.diagnostics.has_errors(), "{}", c.render());
    c.model(name).unwrap_or_else(|| panic!("model {name} in {path}")).clone()
}

/// Compiles source text and returns the named model.
pub fn model_from_source(text: &str, name: &str) -> Model {
    let c = neuroc::compile_source("test.neuro", text, None);
    assert!(!c.diagnostics.has_errors(), "{}", c.render());
    c.model(name).unwrap_or_else(|| panic!("model {name}")).clone()
}

/// A configuration recording the named states or values.
pub fn config(m: &Model, dt_ms: f64, duration_ms: f64, record: &[&str]) -> Config {
    let mut cfg = Config::new(m, dt_ms * 1e-3, duration_ms * 1e-3);
    cfg.record = record
        .iter()
        .map(|r| match m.state(r) {
            Some(i) => Probe::State(i),
            None => Probe::Value(m.value(r).expect("recordable name")),
        })
        .collect();
    cfg
}

/// Derives the plan for `method` and runs.
pub fn run(m: &Model, method: Method, cfg: &Config) -> Recording {
    let mut m = m.clone();
    let (plan, d) = schemes::derive_plan(&mut m, method);
    let plan = plan.unwrap_or_else(|| panic!("no plan: {:?}", d.list.iter().map(|x| &x.message).collect::<Vec<_>>()));
    runtime::simulate(&m, &plan, cfg).unwrap_or_else(|d| panic!("simulation failed: {}", d.message))
}

/// A recorder that collects like [`Recording`] (and counts synapses), and
/// asks to stop once it holds `samples` samples, or at its first spike when
/// `on_spike`.
#[derive(Default)]
pub struct StopAfter {
    pub rec: Recording,
    pub samples: usize,
    pub on_spike: bool,
    pub synapses: Vec<(usize, usize, f64, f64)>,
}

impl StopAfter {
    pub fn samples(samples: usize) -> StopAfter {
        StopAfter { samples, ..StopAfter::default() }
    }

    pub fn first_spike() -> StopAfter {
        StopAfter { samples: usize::MAX, on_spike: true, ..StopAfter::default() }
    }
}

impl Recorder for StopAfter {
    fn sample(&mut self, t: f64, values: &[f64]) {
        self.rec.sample(t, values);
    }

    fn spike(&mut self, neuron: usize, t: f64) {
        self.rec.spike(neuron, t);
    }

    fn output(&mut self, name: &str, t: f64, value: f64) {
        self.rec.output(name, t, value);
    }

    fn synapse(&mut self, pre: usize, post: usize, weight: f64, delay: f64) {
        self.synapses.push((pre, post, weight, delay));
    }

    fn stop(&self) -> bool {
        self.rec.t.len() >= self.samples || (self.on_spike && !self.rec.spikes.is_empty())
    }
}

/// Reads a numeric CSV (skipping `#` comments and the header) into rows.
pub fn read_csv(path: &std::path::Path) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').map(|x| x.trim().parse::<f64>().unwrap_or(f64::NAN)).collect())
        .collect()
}

/// e^{u^2} (1 + erf u), the Siegert integrand: erf by its Taylor series
/// for |u| < 2.5, and for u <= -2.5 the continued fraction of
/// e^{x^2} erfc(x) = 1 / sqrt(pi) / (x + (1/2) / (x + 1 / (x + (3/2) / (x + ...))))
/// at x = -u, which keeps full relative accuracy far into the tail.
pub fn erfcx_neg(u: f64) -> f64 {
    let sqrt_pi = std::f64::consts::PI.sqrt();
    if u <= -2.5 {
        let x = -u;
        let mut frac = x;
        for k in (1..=80).rev() {
            frac = x + 0.5 * k as f64 / frac;
        }
        return 1.0 / (sqrt_pi * frac);
    }
    if u >= 2.5 {
        // erf u = 1 - erfc u, with erfc u tiny next to 2
        return 2.0 * (u * u).exp() - erfcx_neg(-u);
    }
    let (mut term, mut sum) = (u, u);
    for n in 1..60 {
        term *= -u * u / n as f64;
        sum += term / (2 * n + 1) as f64;
    }
    (u * u).exp() * (1.0 + 2.0 / sqrt_pi * sum)
}

/// The Siegert rate (Hz) of a LIF with tau = 20 ms, theta = 20 mV,
/// V_r = 10 mV, t_ref = 2 ms under white noise (mu, sigma in mV), and the
/// CV of its ISIs (Brunel 2000, eq. 21):
/// CV^2 = 2 pi (nu tau)^2 int_{y_r}^{y_th} e^{x^2} int_{-inf}^x e^{y^2} (1 + erf y)^2 dy dx.
pub fn siegert_cv(mu: f64, sigma: f64) -> (f64, f64) {
    siegert_cv_at(mu, sigma, 20.0, 10.0)
}

/// [`siegert_cv`] with threshold `theta` and reset `v_r` (mV).
pub fn siegert_cv_at(mu: f64, sigma: f64, theta: f64, v_r: f64) -> (f64, f64) {
    let (a, b) = ((v_r - mu) / sigma, (theta - mu) / sigma);
    let n = 4000;
    let h = (b - a) / n as f64;
    let mut s = erfcx_neg(a) + erfcx_neg(b);
    for k in 1..n {
        s += erfcx_neg(a + k as f64 * h) * if k % 2 == 1 { 4.0 } else { 2.0 };
    }
    let nu = 1.0 / (0.002 + 0.02 * std::f64::consts::PI.sqrt() * s * h / 3.0);
    // inner integral by the trapezoid rule, carried along x, from where its
    // integrand (~ e^{-y^2} / (pi y^2)) is negligible; e^{x^2} stays finite
    // for the grid's y_r >= -20
    let inner = |y: f64| erfcx_neg(y).powi(2) * (-y * y).exp();
    let dy = 1e-3;
    let (mut y, mut acc) = (a.min(-6.0) - 6.0, 0.0);
    let mut outer = 0.0;
    for k in 0..=n {
        let x = a + k as f64 * h;
        while y + dy <= x {
            acc += 0.5 * (inner(y) + inner(y + dy)) * dy;
            y += dy;
        }
        let at_x = acc + 0.5 * (inner(y) + inner(x)) * (x - y);
        let w = if k == 0 || k == n {
            1.0
        } else if k % 2 == 1 {
            4.0
        } else {
            2.0
        };
        outer += w * (x * x).exp() * at_x;
    }
    let cv2 = 2.0 * std::f64::consts::PI * (nu * 0.02).powi(2) * outer * h / 3.0;
    (nu, cv2.sqrt())
}

/// Brunel's self-consistent state for relative inhibition g and
/// nu_ext = 20 Hz at J = 0.1 mV (see [`mean_field_at`]).
pub fn mean_field(g: f64) -> (f64, f64) {
    mean_field_at(g, 2.0, 0.1)
}

/// Brunel's (2000) self-consistent state of model A (C_E = 1000, C_I =
/// 250, tau = 20 ms, theta = 20 mV, V_r = 10 mV, t_ref = 2 ms) for
/// relative inhibition g, external rate nu_ext = eta nu_thr (nu_thr =
/// theta / (C_E J tau) = 1 / J Hz with J in mV) and coupling J (mV):
/// mu = C_E J tau (nu_ext + nu (1 - g/4)), sigma^2 = C_E J^2 tau (nu_ext +
/// nu (1 + g^2/4)); returns the rate (Hz) and the CV of ISIs there.
pub fn mean_field_at(g: f64, eta: f64, j: f64) -> (f64, f64) {
    let (nu_ext, cjt) = (eta / j, 1000.0 * j * 0.02);
    let moments =
        |nu: f64| (cjt * (nu_ext + nu * (1.0 - g / 4.0)), (cjt * j * (nu_ext + nu * (1.0 + g * g / 4.0))).sqrt());
    let mut nu = 10.0;
    for _ in 0..2000 {
        let (mu, sigma) = moments(nu);
        nu = 0.95 * nu + 0.05 * siegert_cv(mu, sigma).0;
    }
    let (mu, sigma) = moments(nu);
    siegert_cv(mu, sigma)
}

/// Three Wilson-Cowan regions coupled through delays that fall between
/// steps (interpolated), written into `dir` with their connectome;
/// returns the model's path.
pub fn three_region_brain(dir: &std::path::Path, duration: &str) -> PathBuf {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("a folder");
    std::fs::write(dir.join("w.csv"), "0,1,0.5\n0.8,0,0\n0.3,0.6,0\n").expect("writes");
    std::fs::write(dir.join("l.csv"), "0,12.3,30\n12.3,0,7.7\n30,7.7,0\n").expect("writes");
    let path = dir.join("b.neuro");
    let text = format!(
        "import \"wilson_cowan.neuro\"
brain B {{
    node = WilsonCowan
    connectivity \"w.csv\", lengths \"l.csv\", speed = 3 m/s
    parameter K = 0.8
    couple node.P += K * sum_j(C[i, j] * node[j].E(t - delay[i, j]))
}}
simulate B {{ dt = 0.1 ms, duration = {duration}, method = rk4, P = linspace(0.9, 1.6) }}
"
    );
    std::fs::write(&path, text).expect("writes");
    path
}
