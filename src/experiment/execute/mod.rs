//! Running a configured [`Run`]: what configuration left as descriptions
//! (spreads over a population, spike trains) is drawn, the runtime of the
//! run's body is called, and what it streams becomes tables in a [`Sink`],
//! in display units, as the run goes.
//!
//! The tables of each body (file names as `run -o DIR` writes them):
//! - point models: one `NAME` table per recorded variable (`t_ms`, the
//!   value; neuron 0 of a population), `mean_NAME` per recorded state of a
//!   population, `spikes` (`neuron`, `t_ms`), and `outputs` (`name`,
//!   `t_ms`, `value`) when events hand values on;
//! - networks: `spikes` (neurons numbered over all populations in order),
//!   `rate_POP` per rate recorder (`t_ms` at each bin's end, `rate_Hz`),
//!   `STATE_POP` per state recorder (`t_ms`, then one column per neuron),
//!   and `synapses` (`pre`, `post`, `weight` in SI, `delay_ms`) when kept;
//! - densities: the output's table (`t_ms`, the rate, the mean of the
//!   variable, the refractory fraction, the ODE states beside it) and
//!   `density` (the final p per cell);
//! - fields: per dynamic state, a space-time table on a ring (`t_ms`, then
//!   one column per cell) or the final frame on a sheet (x, y, value).

use super::density::DensityRun;
use super::field::FieldRun;
use super::network::NetworkRun;
use super::point::PointRun;
use super::{Backend, Body, Run};
use crate::diag::Diagnostic;
use crate::field::{self, Field};
use crate::ir::{self, Model};
use crate::output::{header_unit, Column, Sink, Style, Table, TableId};
use crate::runtime::network::NetConfig;
use crate::runtime::spikegen::spread;
use crate::runtime::{self, population, Probe, Recorder};
use crate::units;
use std::io;

mod brain;
mod cell;
mod density;
mod progress;
mod recorder;

use progress::Progress;
use recorder::point_recorder;

/// What a run did, for people and for the manifest.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub model: String,
    /// One line saying what ran and how long it took.
    pub line: String,
    /// Further lines (a network population's rate table).
    pub details: Vec<String>,
    /// Notes for the reader (a fallback to the reference interpreter).
    pub notes: Vec<String>,
    /// Warnings the run raised (W0401).
    pub warnings: Vec<Diagnostic>,
    pub steps: usize,
    /// Simulated time reached, s.
    pub t_reached: f64,
    /// Stopped before the end (Ctrl-C).
    pub interrupted: bool,
    pub spikes: u64,
    /// Wall-clock time of the simulation (compilation excluded), s.
    pub seconds: f64,
    pub compile_seconds: f64,
    /// Building a network before its first step (its connections drawn),
    /// JIT compilation excluded, s (not in `seconds`).
    pub build_seconds: f64,
}

/// Why a run did not complete.
#[derive(Debug)]
pub enum Failure {
    /// The simulation failed (E0506 divergence, E0403): what was recorded
    /// up to `t_reached` is in the sink.
    Model { diagnostic: Box<Diagnostic>, t_reached: f64 },
    /// Writing failed.
    Io(io::Error),
}

/// Runs `run`, streaming its tables into `sink`; `stop` is polled at least
/// once per step (Ctrl-C).
pub fn execute(run: &Run, sink: &mut dyn Sink, stop: &dyn Fn() -> bool) -> Result<Summary, Failure> {
    let progress = run.progress.then(|| Progress::new(run.duration));
    let mut out = Out { sink, error: None, stop, t: 0.0, progress };
    let start = std::time::Instant::now();
    let result = match &run.body {
        Body::Point(p) => point(run, p, &mut out),
        Body::Network(n) => network(run, n, &mut out),
        Body::Density(d) => density::run(run, d, &mut out),
        Body::Field(f) => field(run, f, &mut out),
        Body::Brain(b) => brain::brain(run, b, &mut out),
        Body::Cell(c) => cell::cell(run, c, &mut out),
    };
    if let Some(p) = out.progress.take() {
        p.finish();
    }
    if let Some(e) = out.error.take() {
        return Err(Failure::Io(e));
    }
    let mut summary = result.map_err(|d| Failure::Model { diagnostic: d, t_reached: out.t })?;
    summary.model = run.target.clone();
    summary.interrupted = summary.steps < ((run.duration / run.dt).round() as usize);
    summary.t_reached = summary.steps as f64 * run.dt;
    if summary.seconds == 0.0 {
        summary.seconds = start.elapsed().as_secs_f64();
    }
    Ok(summary)
}

/// The sink, the first write error (which stops the run), and the stop
/// signal.
struct Out<'a> {
    sink: &'a mut dyn Sink,
    error: Option<io::Error>,
    stop: &'a dyn Fn() -> bool,
    /// The last time a sample or spike was seen.
    t: f64,
    /// The progress bar of a run that asked for one.
    progress: Option<Progress>,
}

impl Out<'_> {
    fn open(&mut self, table: Table) -> TableId {
        match self.sink.open(table) {
            Ok(id) => id,
            Err(e) => {
                self.error.get_or_insert(e);
                usize::MAX
            }
        }
    }

    fn row(&mut self, id: TableId, row: &[f64]) {
        if self.error.is_some() {
            return;
        }
        if let Err(e) = self.sink.row(id, row) {
            self.error = Some(e);
        }
    }

    fn stop(&self) -> bool {
        if let Some(p) = &self.progress {
            p.tick(self.t);
        }
        self.error.is_some() || (self.stop)()
    }
}

/// A variable's display unit: the one it was written in, else the
/// dimension's usual one.
pub fn display(unit: &Option<ir::UnitHint>, dim: &units::Dim) -> (String, f64) {
    match unit {
        Some(u) if u.scale.is_finite() && u.scale != 0.0 && !u.text.contains("degC") => (u.text.clone(), u.scale),
        _ => units::display_unit(dim),
    }
}

fn spikes_table(out: &mut Out) -> TableId {
    out.open(Table { name: "spikes".into(), columns: vec![Column::index("neuron"), Column::time()] })
}

// ------------------------------------------------------------ point models

fn point(run: &Run, p: &PointRun, out: &mut Out) -> Result<Summary, Box<Diagnostic>> {
    let m = &p.model;
    // a population also records the mean of every recorded state
    let mean_of: Vec<usize> = if p.n > 1 {
        p.record.iter().filter_map(|r| if let Probe::State(s) = r { Some(*s) } else { None }).collect()
    } else {
        vec![]
    };
    let mut rec = point_recorder(out, p, &mean_of);
    let start = std::time::Instant::now();
    let mut summary = Summary::default();
    let backend_note = match p.backend {
        Backend::Reference => {
            let input_spikes = match &p.train {
                Some(s) => s.train.times(run.duration, run.seed).into_iter().map(|t| (t, s.weight)).collect(),
                None => Vec::new(),
            };
            let cfg = runtime::Config {
                dt: run.dt,
                duration: run.duration,
                record: p.record.clone(),
                sample_every: run.sample_every,
                param_overrides: p.param_overrides.clone(),
                value_overrides: p.value_overrides.clone(),
                rtol: 1e-8,
                progress: false, // the run's bar is `Out`'s
                input_spikes,
                input_port: p.train.as_ref().and_then(|s| s.port.clone()),
                init_overrides: p.init_spreads.iter().map(|(s, d, k)| (*s, spread(*d, 1, run.seed, *k)[0])).collect(),
            };
            let outcome = runtime::simulate_into(m, &p.plan, &cfg, &mut rec)?;
            rec.steps = outcome.steps;
            if m.tables.is_empty() {
                String::new()
            } else {
                "; rate tables unused: the reference interpreter computes every rate".into()
            }
        }
        Backend::Jit | Backend::Interp => {
            let per_neuron: Vec<(usize, Vec<f64>)> =
                p.param_spreads.iter().map(|(q, d, k)| (*q, spread(*d, p.n, run.seed, *k))).collect();
            let cfg = population::PopConfig {
                n: p.n,
                dt: run.dt,
                duration: run.duration,
                per_neuron: per_neuron.clone(),
                param_overrides: p.param_overrides.clone(),
                value_overrides: p.value_overrides.clone(),
                init_per_neuron: p.init_spreads.iter().map(|(s, d, k)| (*s, spread(*d, p.n, run.seed, *k))).collect(),
                record: p.record.clone(),
                record_neurons: p.record_neurons.clone(),
                sample_every: run.sample_every,
                mean_of,
                threads: p.threads,
                backend: if p.backend == Backend::Interp {
                    population::Backend::Interp
                } else {
                    population::Backend::Jit
                },
                optimize: false,
                seed: run.seed,
            };
            let r = population::simulate_into(m, &p.plan, &cfg, &mut rec)?;
            rec.steps = r.outcome.steps;
            recorder::rates_by_parameter(m, &per_neuron, &mut rec, r.outcome.steps as f64 * run.dt);
            summary.compile_seconds = r.compile_seconds;
            summary.warnings = r.warnings;
            let mut note = if p.backend == Backend::Jit {
                format!(", jit {:.1} ms, {} kernel ops", r.compile_seconds * 1e3, r.kernel_insts)
            } else {
                format!(", kernel interpreter, {} kernel ops", r.kernel_insts)
            };
            for t in &r.tables {
                note.push_str("; ");
                note.push_str(t);
            }
            note
        }
    };
    summary.seconds = start.elapsed().as_secs_f64();
    summary.steps = rec.steps;
    summary.spikes = rec.count;
    summary.notes = p.notes.clone();
    summary.warnings.append(&mut rec.warnings);
    let who = if p.n > 1 { format!("{} x {}", p.n, m.name) } else { m.name.clone() };
    summary.line = format!(
        "{who}: {} spike{} in {} ms ({}, dt = {} ms, {} steps{backend_note}) in {:.3} s",
        rec.count,
        if rec.count == 1 { "" } else { "s" },
        units::format_number(run.duration * 1e3),
        p.plan.summary(p.method),
        units::format_number(run.dt * 1e3),
        rec.steps,
        summary.seconds,
    );
    Ok(summary)
}

// ------------------------------------------------------------ networks

/// A population's rate, binned as the spikes arrive.
struct Binner {
    id: TableId,
    first: usize,
    n: usize,
    bin: f64,
    bins: usize,
    next: usize,
    count: f64,
}

impl Binner {
    /// Writes bins up to (not including) `upto`.
    fn flush(&mut self, out: &mut Out, upto: usize, horizon: f64) {
        while self.next < upto.min(self.bins) {
            let k = self.next;
            let end = |k: usize| (k as f64 * self.bin).min(horizon);
            let hz = self.count / (self.n as f64 * (end(k + 1) - k as f64 * self.bin).max(1e-300));
            out.row(self.id, &[end(k + 1) * 1e3, hz]);
            self.count = 0.0;
            self.next += 1;
        }
    }
}

struct NetRecorder<'o, 'a> {
    out: &'o mut Out<'a>,
    spikes: TableId,
    /// First global index of each population, and its spike count.
    offsets: Vec<usize>,
    counts: Vec<u64>,
    binners: Vec<Binner>,
    duration: f64,
    /// Per probe: its table, width and scale.
    probes: Vec<(TableId, usize, f64)>,
    synapses: Option<TableId>,
    /// Plastic synapses' weights at the end, and their summaries in time.
    weights: Option<TableId>,
    weight_stats: Option<TableId>,
    row: Vec<f64>,
}

impl Recorder for NetRecorder<'_, '_> {
    fn sample(&mut self, t: f64, values: &[f64]) {
        self.out.t = t;
        let mut at = 0;
        for &(id, width, scale) in &self.probes {
            self.row.clear();
            self.row.push(t * 1e3);
            self.row.extend(values.iter().skip(at).take(width).map(|v| v / scale));
            at += width;
            let row = std::mem::take(&mut self.row);
            self.out.row(id, &row);
            self.row = row;
        }
    }

    fn spike(&mut self, neuron: usize, t: f64) {
        self.out.t = self.out.t.max(t);
        self.out.row(self.spikes, &[neuron as f64, t * 1e3]);
        let pop = self.offsets.partition_point(|&o| o <= neuron).saturating_sub(1);
        if let Some(c) = self.counts.get_mut(pop) {
            *c += 1;
        }
        for b in &mut self.binners {
            if neuron >= b.first && neuron < b.first + b.n {
                let k = ((t / b.bin) as usize).min(b.bins - 1);
                b.flush(self.out, k, self.duration);
                b.count += 1.0;
            }
        }
    }

    fn synapse(&mut self, pre: usize, post: usize, weight: f64, delay: f64) {
        if let Some(id) = self.synapses {
            self.out.row(id, &[pre as f64, post as f64, weight, delay * 1e3]);
        }
    }

    fn weight_stats(&mut self, connection: usize, t: f64, stats: [f64; 4]) {
        if let Some(id) = self.weight_stats {
            let [mean, sd, lo, hi] = stats;
            self.out.row(id, &[t * 1e3, connection as f64, mean, sd, lo, hi]);
        }
    }

    fn weight(&mut self, connection: usize, pre: usize, post: usize, weight: f64) {
        if let Some(id) = self.weights {
            self.out.row(id, &[connection as f64, pre as f64, post as f64, weight]);
        }
    }

    fn stop(&self) -> bool {
        self.out.stop()
    }
}

/// Plastic synapses whose final weights a run saves without being asked.
const MAX_WEIGHTS_SAVED: f64 = 2e6;

fn network(run: &Run, n: &NetworkRun, out: &mut Out) -> Result<Summary, Box<Diagnostic>> {
    let net = &n.network;
    let spikes = spikes_table(out);
    let mut offsets = Vec::new();
    let mut total = 0;
    for p in &net.populations {
        offsets.push(total);
        total += p.count;
    }
    let mut binners = Vec::new();
    for &(pi, bin) in &n.rates {
        let columns = vec![
            Column::headed("t_ms".into(), "ms", 1e-3, Style::General),
            Column::headed("rate_Hz".into(), "Hz", 1.0, Style::General),
        ];
        let id = out.open(Table { name: format!("rate_{}", net.populations[pi].name), columns });
        let bins = ((run.duration / bin - 1e-9).ceil().max(1.0) as usize).min(10_000_000);
        binners.push(Binner { id, first: offsets[pi], n: net.populations[pi].count, bin, bins, next: 0, count: 0.0 });
    }
    let mut probes = Vec::new();
    for &(pi, si, a, b) in &n.probes {
        let pop = &net.populations[pi];
        let st = &pop.model.states[si];
        let (text, scale) = display(&st.unit, &st.dim);
        let u = header_unit(&text);
        let mut columns = vec![Column::headed("t_ms".into(), "ms", 1e-3, Style::General)];
        for j in a..b {
            columns.push(Column::headed(format!("{}_{u}@{j}", st.name), &text, scale, Style::General));
        }
        let id = out.open(Table { name: format!("{}_{}", st.name, pop.name), columns });
        probes.push((id, b - a, scale));
    }
    for (pi, states) in &n.lfp {
        let pop = &net.populations[*pi];
        // `recorders` gives at least one state; else amperes
        let (text, scale) = states
            .first()
            .map_or(("A".to_string(), 1.0), |&s| display(&pop.model.states[s].unit, &pop.model.states[s].dim));
        let columns = vec![
            Column::headed("t_ms".into(), "ms", 1e-3, Style::General),
            Column::headed(format!("lfp_{}", header_unit(&text)), &text, scale, Style::General),
        ];
        let id = out.open(Table { name: format!("lfp_{}", pop.name), columns });
        probes.push((id, 1, scale));
    }
    let synapses = n.keep_synapses.then(|| {
        let columns = vec![
            Column::index("pre"),
            Column::index("post"),
            Column::headed("weight".into(), "", 1.0, Style::Scientific),
            Column::headed("delay_ms".into(), "ms", 1e-3, Style::Short),
        ];
        out.open(Table { name: "synapses".into(), columns })
    });
    // every plastic weight at the end, unless there are millions (then on demand)
    let plastic: f64 = net
        .connections
        .iter()
        .filter(|c| c.stdp.is_some())
        .map(|c| crate::experiment::connect::expected_synapses(net, c))
        .sum();
    let save_weights = plastic > 0.0 && (n.keep_synapses || plastic <= MAX_WEIGHTS_SAVED);
    let weights = save_weights.then(|| {
        let columns = vec![
            Column::index("connection"),
            Column::index("pre"),
            Column::index("post"),
            Column::headed("weight".into(), "", 1.0, Style::Scientific),
        ];
        out.open(Table { name: "weights".into(), columns })
    });
    let weight_stats = n.weights.as_ref().map(|_| {
        let mut columns = vec![Column::headed("t_ms".into(), "ms", 1e-3, Style::General), Column::index("connection")];
        for q in ["mean", "sd", "min", "max"] {
            columns.push(Column::headed(q.into(), "", 1.0, Style::Scientific));
        }
        out.open(Table { name: "weight_stats".into(), columns })
    });
    let counts = vec![0; net.populations.len()];
    let mut rec = NetRecorder {
        out,
        spikes,
        offsets,
        counts,
        binners,
        duration: run.duration,
        probes,
        synapses,
        weights,
        weight_stats,
        row: Vec::new(),
    };
    let cfg = NetConfig {
        dt: run.dt,
        duration: run.duration,
        seed: run.seed,
        jit: n.jit,
        init: n.init.clone(),
        params: n.params.clone(),
        keep_synapses: n.keep_synapses,
        threads: n.threads,
        probes: n.probes.clone(),
        lfp: n.lfp.clone(),
        sample_every: run.sample_every,
        weights: n.weights.as_ref().map_or(vec![], |w| w.0.clone()),
        weights_every: n.weights.as_ref().map_or(1, |w| ((w.1 / run.dt).round() as usize).max(1)),
        method: n.method,
    };
    let start = std::time::Instant::now();
    let r = crate::runtime::network::simulate_into(net, &cfg, run.span, &mut rec)?;
    let wall = start.elapsed().as_secs_f64();
    let horizon = if r.outcome.stopped { r.outcome.steps as f64 * run.dt } else { run.duration };
    let mut binners = std::mem::take(&mut rec.binners);
    for b in &mut binners {
        let upto = if r.outcome.stopped { (horizon / b.bin).ceil() as usize } else { b.bins };
        b.flush(rec.out, upto, horizon);
    }
    let rates: Vec<String> = net
        .populations
        .iter()
        .zip(&rec.counts)
        .map(|(p, &count)| {
            if p.model.kind == crate::syntax::ast::ModelKind::Rate && count == 0 {
                return format!("{} ({} x rate model {})", p.name, p.count, p.model.name);
            }
            if p.model.kind == crate::syntax::ast::ModelKind::Density {
                return format!("{} (density {})", p.name, p.model.name);
            }
            format!(
                "{} {} neurons {:.2} Hz",
                p.name,
                p.count,
                count as f64 / p.count as f64 / horizon.max(f64::MIN_POSITIVE)
            )
        })
        .collect();
    let per_synapse = r.connectivity_bytes as f64 / r.synapses.max(1) as f64;
    let compiled = format!(
        " after {:.2} s building it{}",
        r.build_seconds,
        if n.jit { format!(" and {:.1} ms of JIT compilation", r.compile_seconds * 1e3) } else { String::new() }
    );
    let seconds = wall - r.compile_seconds - r.build_seconds;
    Ok(Summary {
        line: format!(
            "{}: {}; {} synapses ({per_synapse:.1} B each); {} ms (dt = {} ms) in {seconds:.2} s{compiled}",
            net.name,
            rates.join(", "),
            r.synapses,
            units::format_number(run.duration * 1e3),
            units::format_number(run.dt * 1e3),
        ),
        details: {
            let mut d = r.tables.clone();
            if plastic > 0.0 && !save_weights {
                d.push(format!(
                    "the weights of about {plastic:.2e} plastic synapses were not saved (more than {MAX_WEIGHTS_SAVED:.0e}): --save-synapses saves them in weights.csv"
                ));
            }
            d
        },
        warnings: r.warnings,
        steps: r.outcome.steps,
        spikes: rec.counts.iter().sum(),
        seconds,
        compile_seconds: r.compile_seconds,
        build_seconds: r.build_seconds,
        ..Summary::default()
    })
}

// ------------------------------------------------------------ fields

struct FieldRecorder<'o, 'a> {
    out: &'o mut Out<'a>,
    /// Per dynamic state: its table (rings only), and its scale.
    tables: Vec<(Option<TableId>, f64)>,
    cells: usize,
    row: Vec<f64>,
}

impl Recorder for FieldRecorder<'_, '_> {
    fn sample(&mut self, t: f64, values: &[f64]) {
        self.out.t = t;
        for (j, &(id, scale)) in self.tables.iter().enumerate() {
            let Some(id) = id else { continue };
            self.row.clear();
            self.row.push(t * 1e3);
            self.row.extend(values[j * self.cells..(j + 1) * self.cells].iter().map(|v| v / scale));
            let row = std::mem::take(&mut self.row);
            self.out.row(id, &row);
            self.row = row;
        }
    }

    fn spike(&mut self, _: usize, _: f64) {}

    fn stop(&self) -> bool {
        self.out.stop()
    }
}

fn field(run: &Run, fr: &FieldRun, out: &mut Out) -> Result<Summary, Box<Diagnostic>> {
    let m = &fr.model;
    let f = Field::bind(m, &fr.param_overrides, &fr.value_overrides).map_err(Box::new)?;
    let n = f.cells();
    let coords: Vec<(String, ir::UnitHint)> = m
        .field
        .iter()
        .flat_map(|fl| fl.coords.iter())
        .map(|c| {
            let s = &m.states[c.state];
            (s.name.clone(), s.unit.clone().unwrap_or(ir::UnitHint { text: "m".into(), scale: 1.0 }))
        })
        .collect();
    let dynamic = f.dynamic();
    let mut tables = Vec::new();
    let mut suffixes = Vec::new();
    for &s in &dynamic {
        let st = &m.states[s];
        let (text, scale) = match &st.unit {
            Some(u) if u.scale.is_finite() && u.scale != 0.0 => (u.text.clone(), u.scale),
            _ => units::display_unit(&st.dim),
        };
        let u = header_unit(&text);
        let suffix = if u.is_empty() || u == "1" { String::new() } else { format!("_{u}") };
        let id = (f.shape.len() == 1).then(|| {
            let (cname, cu) = &coords[0];
            let mut columns = vec![Column::headed("t_ms".into(), "ms", 1e-3, Style::General)];
            for i in 0..n {
                let at = units::format_number(f.center(i)[0] / cu.scale);
                columns.push(Column::headed(format!("{}{suffix}@{cname}={at}", st.name), &text, scale, Style::General));
            }
            out.open(Table { name: st.name.clone(), columns })
        });
        tables.push((id, scale));
        suffixes.push((suffix, text));
    }
    let init_overrides = fr.spreads.iter().map(|(s, d, k)| (*s, spread(*d, n, run.seed, *k))).collect();
    let cfg = field::Config {
        dt: run.dt,
        duration: run.duration,
        stepper: fr.stepper,
        sample_every: run.sample_every,
        init_overrides,
    };
    let mut rec = FieldRecorder { out, tables, cells: n, row: Vec::new() };
    let start = std::time::Instant::now();
    let (last, outcome) = f.simulate_into(&cfg, &mut rec).map_err(Box::new)?;
    let wall = start.elapsed().as_secs_f64();
    if f.shape.len() > 1 {
        // a sheet: the final frame as rows of (x, y, value)
        for (j, &s) in dynamic.iter().enumerate() {
            let st = &m.states[s];
            let (suffix, text) = &suffixes[j];
            let scale = rec.tables[j].1;
            let mut columns = Vec::new();
            for (cname, cu) in &coords {
                columns.push(Column::headed(
                    format!("{cname}_{}", header_unit(&cu.text)),
                    &cu.text,
                    cu.scale,
                    Style::General,
                ));
            }
            columns.push(Column::headed(format!("{}{suffix}", st.name), text, scale, Style::General));
            let id = rec.out.open(Table { name: st.name.clone(), columns });
            for (i, v) in last[j].iter().enumerate() {
                let mut row: Vec<f64> =
                    coords.iter().enumerate().map(|(axis, (_, cu))| f.center(i)[axis] / cu.scale).collect();
                row.push(v / scale);
                rec.out.row(id, &row);
            }
        }
    }
    let mut pattern = String::new();
    if let (Some(&s0), Some(first)) = (dynamic.first(), last.first()) {
        let first_axis: Vec<f64> = if f.shape.len() == 1 {
            first.clone()
        } else {
            let (n0, stride) = (f.shape[0], n / f.shape[0]);
            (0..n0).map(|i| first[i * stride..(i + 1) * stride].iter().sum::<f64>() / stride as f64).collect()
        };
        let (mode, _) = field::dominant_mode(&first_axis);
        pattern = format!("; final `{}` has {mode} periods along `{}`", m.states[s0].name, coords[0].0);
        if !f.kernel.is_empty() {
            pattern += &format!(" (the kernel's transform peaks at mode {})", f.critical_mode(0).0);
        }
    }
    let shape: Vec<String> = f.shape.iter().map(|n| n.to_string()).collect();
    Ok(Summary {
        line: format!(
            "{}: {} cells, {} ({} steps, dt = {} ms) in {wall:.3} s{pattern}",
            m.name,
            shape.join(" x "),
            if fr.stepper == field::Stepper::Rk4 { "rk4" } else { "euler" },
            outcome.steps,
            units::format_number(run.dt * 1e3),
        ),
        steps: outcome.steps,
        seconds: wall,
        ..Summary::default()
    })
}

/// The model a run simulates.
pub fn model_of(run: &Run) -> Option<&Model> {
    match &run.body {
        Body::Point(p) => Some(&p.model),
        Body::Density(d) => Some(&d.model),
        Body::Field(f) => Some(&f.model),
        Body::Brain(b) => Some(&b.node.model),
        Body::Network(_) | Body::Cell(_) => None,
    }
}
