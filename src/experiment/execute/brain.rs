//! Running a brain: the node population's tables, the regions' sums,
//! noises and time series handed to the runtime, and what is computed from
//! the traces (functional connectivity, sensor signals).

use super::{display, point_recorder, Backend, Out, Summary};
use crate::diag::Diagnostic;
use crate::experiment::brain::regions::Regions;
use crate::experiment::brain::{BrainRun, FcSpec, NoiseKind};
use crate::experiment::Run;
use crate::output::{header_unit, Column, Style, Table};
use crate::runtime::brain::StandIns;
use crate::runtime::network;
use crate::runtime::spikegen::spread;
use crate::runtime::{self, population, Outcome, Probe, Recorder};

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
    let mut details = Vec::new();
    let r = match &b.regions {
        None => runtime::brain::simulate_into(m, &p.plan, &cfg, &extras, None, &mut rec)?,
        Some(regions) => {
            let (r, tables) = with_regions(run, regions, |stand_ins| {
                runtime::brain::simulate_into(m, &p.plan, &cfg, &extras, Some(stand_ins), &mut rec)
            })?;
            details.extend(write_regions(rec.out, run, regions, tables));
            r
        }
    };
    let seconds = start.elapsed().as_secs_f64();
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

/// What the regions' networks produced: per region, its spikes (neuron
/// within the region's network, t) and its samples (t, the rates of the
/// drives that follow the node, the rate it sent).
struct RegionTables {
    spikes: Vec<Vec<(usize, f64)>>,
    rows: Vec<Vec<Vec<f64>>>,
}

/// Runs `brain` with the regions' networks standing in for their nodes:
/// one session of the networks, stepped by the brain.
fn with_regions<T>(
    run: &Run,
    regions: &Regions,
    brain: impl FnOnce(&mut dyn StandIns) -> Result<T, Box<Diagnostic>>,
) -> Result<(T, RegionTables), Box<Diagnostic>> {
    let cfg = network::NetConfig {
        dt: run.dt,
        duration: run.duration,
        seed: run.seed,
        jit: regions.jit,
        init: Vec::new(),
        params: Vec::new(),
        keep_synapses: false,
        threads: 1,
        probes: Vec::new(),
        lfp: Vec::new(),
        sample_every: run.sample_every,
        weights: Vec::new(),
        weights_every: 1,
        method: crate::ir::Method::Auto,
    };
    let mut spikes = SpikeList::default();
    let mut brain = Some(brain);
    let mut result = None;
    let mut rows = Vec::new();
    network::simulate_stepped(&regions.network, &cfg, run.span, &mut spikes, &mut |session| {
        let mut columns = Columns::new(regions, session, run);
        let Some(brain) = brain.take() else { return Ok(Outcome { steps: 0, stopped: true }) };
        let r = brain(&mut columns);
        rows = std::mem::take(&mut columns.rows);
        let steps = columns.steps;
        result = Some(r);
        Ok(Outcome { steps, stopped: false })
    })?;
    let r = result.unwrap_or_else(|| {
        Err(Box::new(Diagnostic::internal("the regions' networks were not stepped").at(run.span, "this run")))
    })?;
    // each region's spikes, numbered within its network
    let offsets: Vec<usize> = regions
        .network
        .populations
        .iter()
        .scan(0, |at, p| {
            let first = *at;
            *at += p.count;
            Some(first)
        })
        .collect();
    let total: usize = regions.network.populations.iter().map(|p| p.count).sum();
    let mut per_region = vec![Vec::new(); regions.regions.len()];
    for (g, t) in spikes.0 {
        let Some(r) = regions.regions.iter().position(|r| {
            let end = offsets.get(r.pops.1).copied().unwrap_or(total);
            g >= offsets[r.pops.0] && g < end
        }) else {
            continue;
        };
        per_region[r].push((g - offsets[regions.regions[r].pops.0], t));
    }
    Ok((r, RegionTables { spikes: per_region, rows }))
}

/// The tables of the regions' networks (`spikes_LABEL`, `region_LABEL`),
/// and a line per region for the summary.
fn write_regions(out: &mut Out, run: &Run, regions: &Regions, tables: RegionTables) -> Vec<String> {
    let mut lines = Vec::new();
    for (k, r) in regions.regions.iter().enumerate() {
        let id = out.open(Table {
            name: format!("spikes_{}", r.label),
            columns: vec![Column::index("neuron"), Column::time()],
        });
        for &(i, t) in &tables.spikes[k] {
            out.row(id, &[i as f64, t * 1e3]);
        }
        let mut columns = vec![Column::time()];
        for (d, _) in r.inputs.iter().enumerate() {
            columns.push(Column::headed(format!("input{}_rate_Hz", d + 1), "Hz", 1.0, Style::Fixed));
        }
        columns.push(Column::headed("sent_rate_Hz".to_string(), "Hz", 1.0, Style::Fixed));
        let id = out.open(Table { name: format!("region_{}", r.label), columns });
        for row in &tables.rows[k] {
            out.row(id, row);
        }
        // each population's rate over the run
        let t = tables.rows[k].last().map_or(run.duration, |row| row[0] * 1e-3).max(run.dt);
        let pops = &regions.network.populations[r.pops.0..r.pops.1];
        let mut first = 0;
        let rates: Vec<String> = pops
            .iter()
            .map(|p| {
                let (a, b) = (first, first + p.count);
                first = b;
                let count = tables.spikes[k].iter().filter(|(i, _)| (a..b).contains(i)).count();
                let name = p.name.split_once('.').map_or(p.name.as_str(), |x| x.1);
                format!("{name} {} x {:.2} Hz", p.count, count as f64 / (p.count.max(1) as f64 * t))
            })
            .collect();
        let read = &regions.network.populations[r.send.pop].name;
        lines.push(format!(
            "region {} ({}) is `{}`: {}; sends the rate of {}",
            r.node,
            r.label,
            r.model,
            rates.join(", "),
            read.split_once('.').map_or(read.as_str(), |x| x.1)
        ));
    }
    lines
}

/// A network's spikes, kept.
#[derive(Default)]
struct SpikeList(Vec<(usize, f64)>);

impl Recorder for SpikeList {
    fn sample(&mut self, _: f64, _: &[f64]) {}

    fn spike(&mut self, neuron: usize, t: f64) {
        self.0.push((neuron, t));
    }
}

/// The regions' networks standing in for their nodes, stepped with the
/// brain: each step, the drives that follow a node take its value, the
/// networks step, and each region sends its filtered rate.
struct Columns<'r, 's, 'p, 'n> {
    regions: &'r Regions,
    nodes: Vec<usize>,
    session: &'s mut network::Session<'p, 'n>,
    /// Per region, its filter's stages.
    filters: Vec<[f64; 2]>,
    /// Per region, the neurons whose spikes it sends.
    sizes: Vec<f64>,
    dt: f64,
    every: usize,
    /// Per region, its samples: t (ms), the drives' rates (Hz), the rate
    /// it sent (Hz).
    rows: Vec<Vec<Vec<f64>>>,
    inputs: Vec<f64>,
    steps: usize,
}

impl<'r, 's, 'p, 'n> Columns<'r, 's, 'p, 'n> {
    fn new(regions: &'r Regions, session: &'s mut network::Session<'p, 'n>, run: &Run) -> Self {
        Columns {
            nodes: regions.regions.iter().map(|r| r.node).collect(),
            filters: vec![[0.0; 2]; regions.regions.len()],
            sizes: regions.regions.iter().map(|r| regions.network.populations[r.send.pop].count as f64).collect(),
            rows: vec![Vec::new(); regions.regions.len()],
            regions,
            session,
            dt: run.dt,
            every: run.sample_every.max(1),
            inputs: Vec::new(),
            steps: 0,
        }
    }
}

impl StandIns for Columns<'_, '_, '_, '_> {
    fn regions(&self) -> &[usize] {
        &self.nodes
    }

    fn start(&mut self, sent: &mut [f64]) {
        // the filters start at rest: nothing has been sent yet
        sent.fill(0.0);
    }

    fn step(
        &mut self,
        step: usize,
        value: &mut dyn FnMut(usize, usize) -> f64,
        sent: &mut [f64],
    ) -> Result<(), Box<Diagnostic>> {
        self.inputs.clear();
        for region in &self.regions.regions {
            for &(drive, v, factor) in &region.inputs {
                let rate = (factor * value(region.node, v)).max(0.0);
                self.session.set_rate(drive, rate);
                self.inputs.push(rate);
            }
        }
        self.session.step()?;
        self.steps = step + 1;
        let per = sent.len() / self.nodes.len().max(1);
        let due = (step + 1).is_multiple_of(self.every);
        let mut at = 0;
        for (r, region) in self.regions.regions.iter().enumerate() {
            let send = &region.send;
            let rate = match send.state {
                Some(s) => self.session.state(send.pop, s),
                None => {
                    let x = self.session.spike_count(send.pop) as f64 / (self.sizes[r].max(1.0) * self.dt);
                    send.kernel.filter(&mut self.filters[r], x, self.dt)
                }
            };
            sent[r * per..(r + 1) * per].fill(send.gain * rate);
            if due {
                let mut row = vec![(step + 1) as f64 * self.dt * 1e3];
                row.extend_from_slice(&self.inputs[at..at + region.inputs.len()]);
                row.push(rate);
                self.rows[r].push(row);
            }
            at += region.inputs.len();
        }
        Ok(())
    }
}
