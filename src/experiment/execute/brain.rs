//! Running a brain: the node population's tables, the regions' sums,
//! noises and time series handed to the runtime, and what is computed from
//! the traces (functional connectivity, sensor signals).

use super::{display, point_recorder, Backend, Out, Summary};
use crate::diag::Diagnostic;
use crate::experiment::brain::{BrainRun, FcSpec, NoiseKind};
use crate::experiment::Run;
use crate::output::{header_unit, Column, Style, Table};
use crate::runtime::spikegen::spread;
use crate::runtime::{self, population, Probe};

/// The samples of one probe for every region, from a time on.
pub(super) struct Capture {
    /// Where the probe's values start in a sample, and how many.
    pub(super) offset: usize,
    pub(super) width: usize,
    pub(super) from: f64,
    /// Per region, its samples.
    pub(super) series: Vec<Vec<f64>>,
}

pub(super) fn brain(run: &Run, b: &BrainRun, out: &mut Out) -> Result<Summary, Box<Diagnostic>> {
    let p = &b.node;
    let m = &p.model;
    let n = b.n;
    let mut per_neuron: Vec<(usize, Vec<f64>)> =
        p.param_spreads.iter().map(|(q, d, k)| (*q, spread(*d, n, run.seed, *k))).collect();
    for (q, values) in &b.node_values {
        match per_neuron.iter_mut().find(|(x, _)| x == q) {
            Some(slot) => slot.1.clone_from(values),
            None => per_neuron.push((*q, values.clone())),
        }
    }
    let rows: Vec<f64> = b.weights.data.chunks(n.max(1)).map(|r| r.iter().sum()).collect();
    let mut sums = Vec::new();
    for s in &b.sums {
        per_neuron.push((s.row_param, rows.clone()));
        per_neuron.push((s.sum_param, vec![0.0; n]));
        let sent = m.values[s.sent].expr;
        let edges = runtime::brain::Edges::new(n, &b.weights.data, &s.delays, run.dt, b.interpolate);
        sums.push(runtime::brain::SumConfig { edges, sent, slot: per_neuron.len() - 1 });
    }
    let mut noises = Vec::new();
    for (k, nz) in b.noises.iter().enumerate() {
        per_neuron.push((nz.param, vec![0.0; n]));
        let kind = match nz.kind {
            NoiseKind::White => runtime::brain::NoiseKind::White,
            NoiseKind::Ou { sigma, tau, mean } => runtime::brain::NoiseKind::Ou { sigma, tau, mean },
        };
        noises.push(runtime::brain::NoiseConfig { kind, slot: per_neuron.len() - 1, stream: k as u64 + 1 });
    }
    let mut stimuli = Vec::new();
    for st in &b.stimuli {
        let first = st.values[..n.min(st.values.len())].to_vec();
        match per_neuron.iter().position(|(q, _)| *q == st.param) {
            Some(k) => per_neuron[k].1 = first,
            None => per_neuron.push((st.param, first)),
        }
        let slot = per_neuron.iter().position(|(q, _)| *q == st.param).unwrap_or(0);
        stimuli.push(runtime::brain::StimulusConfig { slot, times: st.times.clone(), values: st.values.clone() });
    }
    let cfg = population::PopConfig {
        n,
        dt: run.dt,
        duration: run.duration,
        per_neuron,
        param_overrides: p.param_overrides.clone(),
        value_overrides: p.value_overrides.clone(),
        init_per_neuron: p.init_spreads.iter().map(|(s, d, k)| (*s, spread(*d, n, run.seed, *k))).collect(),
        record: p.record.clone(),
        record_neurons: p.record_neurons.clone(),
        sample_every: run.sample_every,
        mean_of: vec![],
        threads: p.threads,
        backend: if p.backend == Backend::Interp { population::Backend::Interp } else { population::Backend::Jit },
        optimize: false,
        seed: run.seed,
    };
    let mut rec = point_recorder(out, p, &[]);
    if let Some(fc) = &b.fc {
        let width = p.record_neurons.len();
        rec.capture = Some(Capture { offset: fc.probe * width, width, from: fc.from, series: vec![Vec::new(); width] });
    }
    if let Some(eeg) = &b.eeg {
        let (text, scale) = match &p.record[eeg.probe] {
            Probe::State(i) => display(&m.states[*i].unit, &m.states[*i].dim),
            Probe::Value(i) => display(&m.values[*i].unit, &m.values[*i].dim),
        };
        let mut columns = vec![Column::time()];
        let u = header_unit(&text);
        columns.extend(eeg.labels.iter().map(|l| Column::headed(format!("{l}_{u}"), &text, scale, Style::Fixed)));
        let id = rec.out.open(Table { name: format!("eeg_{}", eeg.name), columns });
        rec.project = Some((id, eeg.probe * p.record_neurons.len(), eeg.gain.clone(), scale, Vec::new()));
    }
    let start = std::time::Instant::now();
    let extras = runtime::brain::Extras { sums: &sums, noises: &noises, stimuli: &stimuli, seed: run.seed };
    let r = runtime::brain::simulate_into(m, &p.plan, &cfg, &extras, &mut rec)?;
    let seconds = start.elapsed().as_secs_f64();
    let mut details = Vec::new();
    if let (Some(fc), Some(c)) = (&b.fc, rec.capture.take()) {
        details.push(functional_connectivity(rec.out, b, fc, &c.series));
    }
    let steps = r.outcome.steps;
    let edges: usize = sums.iter().map(|s| s.edges.len()).sum();
    Ok(Summary {
        line: format!(
            "{}: {n} nodes of {}, {edges} edges, {} steps in {:.3} s ({:.1} ns per node-step), jit {:.1} ms, {} kernel ops",
            run.target,
            m.name,
            steps,
            seconds,
            seconds * 1e9 / (steps.max(1) * n.max(1)) as f64,
            r.compile_seconds * 1e3,
            r.kernel_insts
        ),
        steps,
        spikes: rec.count,
        seconds,
        compile_seconds: r.compile_seconds,
        notes: p.notes.clone(),
        warnings: r.warnings,
        details,
        ..Summary::default()
    })
}

/// Writes the Pearson correlation matrix of the regions' `series` as the
/// table `fc_NAME` (row i, column j: regions i and j) and says how it
/// compares with the weights and the empirical FC (Pearson over the pairs
/// i < j; the weights symmetrized).
fn functional_connectivity(out: &mut Out, b: &BrainRun, fc: &FcSpec, series: &[Vec<f64>]) -> String {
    let n = series.len();
    let samples = series.first().map_or(0, Vec::len);
    let z: Vec<Vec<f64>> = series
        .iter()
        .map(|x| {
            let m = x.iter().sum::<f64>() / x.len().max(1) as f64;
            let sd = (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt();
            x.iter().map(|v| (v - m) / sd).collect()
        })
        .collect();
    let mut matrix = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            matrix[i * n + j] = z[i].iter().zip(&z[j]).map(|(a, b)| a * b).sum::<f64>() / samples.max(1) as f64;
        }
    }
    let name = |i: usize| b.labels.get(i).cloned().unwrap_or_else(|| format!("r{i}"));
    let columns = (0..n).map(|j| Column::headed(name(j), "", 1.0, Style::Fixed)).collect();
    let id = out.open(Table { name: format!("fc_{}", fc.name), columns });
    for row in matrix.chunks(n.max(1)) {
        out.row(id, row);
    }
    let pairs = |m: &[f64]| -> Vec<f64> {
        (0..n).flat_map(|i| (i + 1..n).map(move |j| (i, j))).map(|(i, j)| 0.5 * (m[i * n + j] + m[j * n + i])).collect()
    };
    let fcp = pairs(&matrix);
    let mut line = format!(
        "functional connectivity of {} over {samples} samples: r(FC, SC) = {:.3}",
        fc.name,
        pearson(&fcp, &pairs(&b.weights.data))
    );
    if let Some(e) = &fc.empirical {
        line.push_str(&format!(", r(FC, empirical FC) = {:.3}", pearson(&fcp, &pairs(&e.data))));
    }
    line
}

/// Pearson's correlation of two equally long samples.
fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len()) as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}
