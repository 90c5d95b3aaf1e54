//! A cell's run: the cable solver streaming V at the probes into one
//! table, `V`, a column per location.

use super::{Out, Summary};
use crate::cable::sim::{self, Failure, Membrane, Setup};
use crate::diag::{Code, Diagnostic};
use crate::experiment::cell::CellRun;
use crate::experiment::Run;
use crate::output::{Column, Style, Table};
use crate::units;

pub(super) fn cell(run: &Run, c: &CellRun, out: &mut Out) -> Result<Summary, Box<Diagnostic>> {
    let mut columns = vec![Column::headed("t_ms".into(), "ms", 1e-3, Style::General)];
    for (label, _) in &c.probes {
        columns.push(Column::headed(format!("V_mV@{label}"), "mV", 1e-3, Style::General));
    }
    let id = out.open(Table { name: "V".into(), columns });
    let setup = Setup {
        tree: &c.tree,
        membranes: c
            .membranes
            .iter()
            .map(|m| Membrane {
                model: &m.model,
                plan: &m.plan,
                param_overrides: m.param_overrides.clone(),
                f: m.f,
                j: m.j,
            })
            .collect(),
        scheme: c.scheme,
        engine: c.engine,
        dt: run.dt,
        duration: run.duration,
        clamps: c.clamps.clone(),
        probes: c.probes.iter().map(|p| p.1).collect(),
        sample_every: run.sample_every,
    };
    let start = std::time::Instant::now();
    let mut row = Vec::with_capacity(c.probes.len() + 1);
    let stop = out.stop;
    let done = sim::simulate(
        &setup,
        |t, v| {
            row.clear();
            row.push(t * 1e3);
            row.extend(v.iter().map(|x| x * 1e3));
            out.row(id, &row);
            out.t = t;
        },
        stop,
    )
    .map_err(|f| failure(run, c, f))?;
    let steps = done.steps;
    let seconds = start.elapsed().as_secs_f64() - done.compile_seconds;
    let engine = match c.engine {
        sim::Engine::Reference => "channels on the reference interpreter".to_string(),
        sim::Engine::Kernel { jit } => format!(
            "channels in {} kernels ({} ops{})",
            if jit { "JIT" } else { "interpreted" },
            done.kernel_insts,
            if jit { format!(", jit {:.1} ms", done.compile_seconds * 1e3) } else { String::new() }
        ),
    };
    let n = c.tree.compartments();
    Ok(Summary {
        line: format!(
            "{}: {} sections, {n} compartments ({} nodes), {} ({steps} steps, dt = {} ms), {engine}, in {seconds:.3} s ({:.1} ns per compartment-step)",
            run.target,
            c.tree.sections.len(),
            c.tree.len(),
            c.scheme.name(),
            units::format_number(run.dt * 1e3),
            seconds * 1e9 / (steps.max(1) * n.max(1)) as f64
        ),
        steps,
        seconds,
        compile_seconds: done.compile_seconds,
        ..Summary::default()
    })
}

fn failure(run: &Run, c: &CellRun, f: Failure) -> Box<Diagnostic> {
    let (node, step, why) = match f {
        Failure::Diverged { node, step } => (node, step, None),
        Failure::Scheme { node, step, why } => (node, step, Some(why)),
        Failure::Kernel { membrane, why } => {
            return Box::new(
                Diagnostic::error(
                    Code::NotInKernel,
                    format!("the membrane of region `{}` cannot be a kernel: {why}", c.region_names[membrane]),
                )
                .at(run.span, "in this run")
                .help("run the cell with `--backend reference`"),
            )
        }
    };
    let (s, x) = c.tree.at[node];
    let place = format!("{}({})", c.tree.sections[s].name, units::format_number(x));
    let t = units::format_number(step as f64 * run.dt * 1e3);
    Box::new(match why {
        None => Diagnostic::error(Code::NumericalBlowUp, format!("V at {place} stopped being finite at step {step} (t = {t} ms)"))
            .at(run.span, "in this run")
            .help("a current too strong for the cell, or a channel that diverges: check the clamps' amplitudes and the channels' units"),
        Some(why) => Diagnostic::error(Code::SolverFailed, format!("the channels at {place} failed at step {step} (t = {t} ms): {why}"))
            .at(run.span, "in this run")
            .help("try a smaller dt"),
    })
}
