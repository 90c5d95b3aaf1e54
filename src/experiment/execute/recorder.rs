//! A point model's tables as the runtime hands on its samples: the
//! recorded neurons' probes, population means, spikes and event outputs
//! (and, for a brain, the traces kept for its functional connectivity and
//! its sensor signals).

use super::*;

/// The recorded neurons' probes, the population means, spikes and event
/// outputs.
pub(super) struct PointRecorder<'o, 'a> {
    pub(super) out: &'o mut Out<'a>,
    /// Per probe: its table, how many neurons, the display scale.
    pub(super) probes: Vec<(TableId, usize, f64)>,
    pub(super) means: Vec<(TableId, f64)>,
    pub(super) spikes: TableId,
    pub(super) outputs: Option<TableId>,
    pub(super) labels: Vec<String>,
    pub(super) count: u64,
    pub(super) steps: usize,
    pub(super) warnings: Vec<Diagnostic>,
    /// A brain's traces kept for its functional connectivity.
    pub(super) capture: Option<brain::Capture>,
    /// A brain's sensor signals: (table, where the probe's values start,
    /// the gain matrix (sensors x regions), the display scale, the row
    /// being built).
    pub(super) project: Option<(TableId, usize, crate::experiment::connectome::Matrix, f64, Vec<f64>)>,
    /// A population's spikes per neuron (empty unless a parameter is
    /// spread over it), for its rates against that parameter.
    pub(super) per_neuron: Vec<u64>,
}

impl Recorder for PointRecorder<'_, '_> {
    fn sample(&mut self, t: f64, values: &[f64]) {
        self.out.t = t;
        if let Some(c) = &mut self.capture {
            if t >= c.from - 1e-12 {
                for (i, s) in c.series.iter_mut().enumerate().take(c.width) {
                    s.push(values.get(c.offset + i).copied().unwrap_or(f64::NAN));
                }
            }
        }
        if let Some((id, offset, gain, scale, row)) = &mut self.project {
            row.clear();
            row.push(t * 1e3);
            for g in gain.data.chunks(gain.cols.max(1)) {
                let sum: f64 =
                    g.iter().enumerate().map(|(i, w)| w * values.get(*offset + i).copied().unwrap_or(f64::NAN)).sum();
                row.push(sum / *scale);
            }
            let (id, row) = (*id, std::mem::take(row));
            self.out.row(id, &row);
            if let Some(p) = &mut self.project {
                p.4 = row;
            }
        }
        let mut row = Vec::new();
        let mut k = 0;
        for &(id, width, scale) in &self.probes {
            row.clear();
            row.push(t * 1e3);
            row.extend((k..k + width).map(|i| values.get(i).copied().unwrap_or(f64::NAN) / scale));
            self.out.row(id, &row);
            k += width;
        }
        for (j, &(id, scale)) in self.means.iter().enumerate() {
            self.out.row(id, &[t * 1e3, values.get(k + j).copied().unwrap_or(f64::NAN) / scale]);
        }
    }

    fn spike(&mut self, neuron: usize, t: f64) {
        self.count += 1;
        if let Some(c) = self.per_neuron.get_mut(neuron) {
            *c += 1;
        }
        self.out.t = self.out.t.max(t);
        self.out.row(self.spikes, &[neuron as f64, t * 1e3]);
    }

    fn output(&mut self, name: &str, t: f64, value: f64) {
        let id = match self.outputs {
            Some(id) => id,
            None => {
                let columns = vec![
                    Column::label("name", self.labels.clone()),
                    Column::time(),
                    Column::headed("value".into(), "", 1.0, Style::Fixed),
                ];
                let id = self.out.open(Table { name: "outputs".into(), columns });
                self.outputs = Some(id);
                id
            }
        };
        let k = self.labels.iter().position(|l| l == name).unwrap_or(usize::MAX);
        self.out.row(id, &[k as f64, t * 1e3, value]);
    }

    fn stop(&self) -> bool {
        self.out.stop()
    }

    fn warning(&mut self, d: Diagnostic) {
        self.warnings.push(d);
    }
}

/// The tables of a point model's run: its probes for the recorded
/// neurons, the means of `mean_of`, spikes, event outputs.
pub(super) fn point_recorder<'o, 'a>(out: &'o mut Out<'a>, p: &PointRun, mean_of: &[usize]) -> PointRecorder<'o, 'a> {
    let m = &p.model;
    let mut probes = Vec::new();
    for probe in &p.record {
        let name = runtime::probe_name(m, probe);
        let (text, scale) = match probe {
            Probe::State(i) => display(&m.states[*i].unit, &m.states[*i].dim),
            Probe::Value(i) => display(&m.values[*i].unit, &m.values[*i].dim),
        };
        let mut columns = vec![Column::time()];
        if p.record_neurons == [0] {
            columns.push(Column::new(&name, &text, scale, Style::Fixed));
        } else {
            let u = header_unit(&text);
            for i in &p.record_neurons {
                columns.push(Column::headed(format!("{name}_{u}@{i}"), &text, scale, Style::Fixed));
            }
        }
        probes.push((out.open(Table { name: name.clone(), columns }), p.record_neurons.len(), scale));
    }
    let spikes = spikes_table(out);
    let mut means = Vec::new();
    for &s in mean_of {
        let st = &m.states[s];
        let (text, scale) = display(&st.unit, &st.dim);
        let name = format!("mean_{}", st.name);
        let columns = vec![
            Column::headed("t_ms".into(), "ms", 1e-3, Style::General),
            Column::new(&name, &text, scale, Style::General),
        ];
        means.push((out.open(Table { name, columns }), scale));
    }
    let mut labels: Vec<String> = Vec::new();
    for e in &m.events {
        for a in &e.actions {
            if let ir::Action::Output { name, .. } = a {
                if !labels.contains(name) {
                    labels.push(name.clone());
                }
            }
        }
    }
    PointRecorder {
        out,
        probes,
        means,
        spikes,
        outputs: None,
        labels,
        count: 0,
        steps: 0,
        warnings: vec![],
        capture: None,
        project: None,
        per_neuron: if p.n > 1 && !p.param_spreads.is_empty() { vec![0; p.n] } else { vec![] },
    }
}

/// A population with a parameter spread over its neurons: each neuron's
/// rate (spikes over the time run) against its value of the parameter, in
/// the parameter's order (`rate_by_I_amp.csv`: an f-I curve when the
/// parameter is a current), one table per spread parameter.
pub(super) fn rates_by_parameter(m: &ir::Model, per_neuron: &[(usize, Vec<f64>)], rec: &mut PointRecorder, ran: f64) {
    if rec.per_neuron.is_empty() || ran <= 0.0 {
        return;
    }
    for (q, values) in per_neuron {
        let Some(param) = m.params.get(*q) else { continue };
        if values.windows(2).all(|w| w[0] == w[1]) {
            continue; // the same everywhere: not a sweep
        }
        let (unit, scale) = display(&param.unit, &param.dim);
        let u = header_unit(&unit);
        let head = if u.is_empty() || u == "1" { param.name.clone() } else { format!("{}_{u}", param.name) };
        let columns = vec![
            Column::headed(head, &unit, scale, Style::General),
            Column::headed("rate_Hz".into(), "Hz", 1.0, Style::General),
        ];
        let id = rec.out.open(Table { name: format!("rate_by_{}", param.name.replace('.', "_")), columns });
        let mut order: Vec<usize> = (0..values.len().min(rec.per_neuron.len())).collect();
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        for i in order {
            rec.out.row(id, &[values[i] / scale, rec.per_neuron[i] as f64 / ran]);
        }
    }
}
