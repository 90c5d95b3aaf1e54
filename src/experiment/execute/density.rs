//! A population density's run: its rate and ODE states as it goes, p(V, t)
//! at about 200 times, and the final p(V).

use super::*;
use crate::density::{self, Density};

struct DensityRecorder<'o, 'a> {
    out: &'o mut Out<'a>,
    id: TableId,
    scale: f64,
    scales: Vec<f64>,
    last_rate: f64,
    row: Vec<f64>,
    /// p(V, t): its table (opened at the first snapshot), its columns, and
    /// the interval between snapshots (s).
    density: (Option<TableId>, Vec<Column>, f64),
}

impl Recorder for DensityRecorder<'_, '_> {
    fn sample(&mut self, t: f64, values: &[f64]) {
        self.out.t = t;
        self.last_rate = values[0];
        self.row.clear();
        self.row.extend([t * 1e3, values[0], values[1] / self.scale, values[2]]);
        self.row.extend(values[3..].iter().zip(&self.scales).map(|(v, s)| v / s));
        let row = std::mem::take(&mut self.row);
        self.out.row(self.id, &row);
        self.row = row;
    }

    fn spike(&mut self, _: usize, _: f64) {}

    fn stop(&self) -> bool {
        self.out.stop()
    }

    fn density_every(&self) -> Option<f64> {
        Some(self.density.2)
    }

    fn density(&mut self, t: f64, p: &[f64]) {
        let id = match self.density.0 {
            Some(id) => id,
            None => {
                let id = self.out.open(Table { name: "density_t".into(), columns: self.density.1.clone() });
                self.density.0 = Some(id);
                id
            }
        };
        self.row.clear();
        self.row.push(t * 1e3);
        // per unit of the variable, in its display unit (as density.csv)
        self.row.extend(p.iter().map(|x| x * self.scale));
        let row = std::mem::take(&mut self.row);
        self.out.row(id, &row);
        self.row = row;
    }
}

/// Runs a population density: `rate.csv` as it goes, `density_t.csv`
/// (p(V, t)) about 200 times, and `density.csv` (the final p(V)).
pub(super) fn run(run: &Run, d: &DensityRun, out: &mut Out) -> Result<Summary, Box<Diagnostic>> {
    let m = &d.model;
    let dens = Density::bind(m, &d.param_overrides, &d.value_overrides).map_err(Box::new)?;
    let def = m.density.as_ref().ok_or_else(|| Box::new(Diagnostic::internal("a density without its definition")))?;
    let var = &m.states[def.var];
    let unit = var.unit.clone().unwrap_or_else(|| {
        let (text, scale) = units::display_unit(&var.dim);
        ir::UnitHint { text, scale }
    });
    let u = header_unit(&unit.text);
    let general = |h: String, unit: &str, scale: f64| Column::headed(h, unit, scale, Style::General);
    let mut columns = vec![
        general("t_ms".into(), "ms", 1e-3),
        general(format!("{}_Hz", def.output), "Hz", 1.0),
        general(format!("mean_{}_{u}", var.name), &unit.text, unit.scale),
        general("refractory_fraction".into(), "", 1.0),
    ];
    let mut scales = Vec::new();
    for name in dens.ode_names() {
        let Some(st) = m.states.iter().find(|s| s.name == name) else { continue };
        let (text, scale) = match &st.unit {
            Some(u) if u.scale.is_finite() && u.scale != 0.0 => (u.text.clone(), u.scale),
            _ => units::display_unit(&st.dim),
        };
        let hu = header_unit(&text);
        let head = if hu.is_empty() || hu == "1" { name.clone() } else { format!("{name}_{hu}") };
        columns.push(general(head, &text, scale));
        scales.push(scale);
    }
    let id = out.open(Table { name: def.output.clone(), columns });
    // p(V, t) at about 200 times over the run, at least one sample apart
    let grid = dens.grid();
    let mut snapshot = vec![general("t_ms".into(), "ms", 1e-3)];
    snapshot.extend((0..grid.cells()).map(|i| {
        let v = units::format_number(grid.center(i) / unit.scale);
        general(format!("p_per_{u}@{}_{u}={v}", var.name), &format!("1/{}", unit.text), 1.0 / unit.scale)
    }));
    let every = (run.duration / 200.0).max(run.dt * run.sample_every.max(1) as f64);
    let mut rec = DensityRecorder {
        out,
        id,
        scale: unit.scale,
        scales,
        last_rate: f64::NAN,
        row: Vec::new(),
        density: (None, snapshot, every),
    };
    let cfg = density::Config {
        dt: run.dt,
        duration: run.duration,
        scheme: d.scheme,
        initial: d.initial,
        sample_every: run.sample_every,
        progress: false, // the run's bar is `Out`'s
    };
    let start = std::time::Instant::now();
    let end = dens.simulate_into(&cfg, &mut rec).map_err(Box::new)?;
    let wall = start.elapsed().as_secs_f64();
    let grid = end.grid.clone().unwrap_or(grid);
    let columns = vec![
        general(format!("{}_{u}", var.name), &unit.text, unit.scale),
        general(format!("p_per_{u}"), &format!("1/{}", unit.text), 1.0 / unit.scale),
    ];
    let last_rate = rec.last_rate;
    let id = rec.out.open(Table { name: "density".into(), columns });
    for (i, p) in end.final_p.iter().enumerate() {
        rec.out.row(id, &[grid.center(i) / unit.scale, p * unit.scale]);
    }
    let steps = end.outcome.steps;
    Ok(Summary {
        line: format!(
            "{}: {} cells, {} (dt = {} ms, {} steps) in {:.3} s ({:.2} us per step); rate {} Hz at the end{}; mass conserved to {:.1e}",
            m.name,
            grid.cells(),
            d.scheme.name(),
            units::format_number(run.dt * 1e3),
            steps,
            wall,
            wall / steps.max(1) as f64 * 1e6,
            units::format_number(last_rate),
            end.initial_rate.map_or(String::new(), |r| format!(" (stationary start: {} Hz)", units::format_number(r))),
            end.mass_error,
        ),
        steps,
        seconds: wall,
        ..Summary::default()
    })
}
