//! A cell's run: the cable solver streaming V at the probes into one
//! table, `V`, a column per location.

use super::{Out, Summary};
use crate::cable::sim::{self, Failure};
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
    let cells = &c.cells;
    let spikes_id = cells.detect.is_some().then(|| super::spikes_table(out));
    // blocks of cells, one per thread; each block is a forest of its cells,
    // stepped alone (cells do not interact), so the results do not depend
    // on the number of threads
    let n_cells = cells.count;
    let blocks = c.threads.clamp(1, n_cells);
    let ranges: Vec<(usize, usize)> =
        (0..blocks).map(|k| (k * n_cells / blocks, (k + 1) * n_cells / blocks)).filter(|r| r.1 > r.0).collect();
    let probes: Vec<usize> = c.probes.iter().map(|p| p.1).collect();
    let setup = |r: (usize, usize)| {
        let mut s = cells.block(r, run.dt, run.duration, if r.0 == 0 { &probes } else { &[] });
        s.sample_every = run.sample_every;
        s
    };
    let inputs = |r| super::super::cell::sites::inputs(&c.drives, cells.sites.len(), r, run.dt, run.seed);
    let start = std::time::Instant::now();
    // the caller's stop signal, polled by the first block and passed on
    let (stop, halt) = (out.stop, std::sync::atomic::AtomicBool::new(false));
    let halted = || halt.load(std::sync::atomic::Ordering::Relaxed);
    let mut row = Vec::with_capacity(c.probes.len() + 1);
    let mut first_spikes = Vec::new();
    let results = std::thread::scope(|scope| {
        let others: Vec<_> = ranges
            .iter()
            .skip(1)
            .map(|&r| {
                let (s, input) = (setup(r), inputs(r));
                scope.spawn(move || {
                    let mut spikes = Vec::new();
                    let done = sim::simulate(s, input, |_, _| {}, |cell, t| spikes.push((r.0 + cell, t)), &halted);
                    (done, spikes)
                })
            })
            .collect();
        let first = sim::simulate(
            setup(ranges[0]),
            inputs(ranges[0]),
            |t, v| {
                row.clear();
                row.push(t * 1e3);
                row.extend(v.iter().map(|x| x * 1e3));
                out.row(id, &row);
                out.t = t;
            },
            |cell, t| first_spikes.push((cell, t)),
            &|| {
                let s = stop();
                if s {
                    halt.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                s
            },
        );
        let mut all = vec![(first, std::mem::take(&mut first_spikes))];
        for h in others {
            let why = "a worker thread stopped (a bug in neuroc)".to_string();
            all.push(h.join().unwrap_or_else(|_| (Err(Failure::Scheme { node: 0, step: 0, why }), vec![])));
        }
        all
    });
    let mut spikes = Vec::new();
    let mut done = sim::Done::default();
    for (k, (result, s)) in results.into_iter().enumerate() {
        let d = result.map_err(|f| failure(run, c, f, ranges[k]))?;
        done.steps = d.steps;
        done.spikes += d.spikes;
        done.compile_seconds = done.compile_seconds.max(d.compile_seconds);
        done.kernel_insts = d.kernel_insts;
        spikes.extend(s);
    }
    // in time order, ties by cell: the same file for any number of threads
    spikes.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    if let Some(table) = spikes_id {
        for (cell, t) in spikes {
            out.row(table, &[cell as f64, t * 1e3]);
        }
    }
    let steps = done.steps;
    let seconds = start.elapsed().as_secs_f64() - done.compile_seconds;
    let engine = match cells.engine {
        sim::Engine::Reference => "channels on the reference interpreter".to_string(),
        sim::Engine::Kernel { jit } => format!(
            "channels in {} kernels ({} ops{})",
            if jit { "JIT" } else { "interpreted" },
            done.kernel_insts,
            if jit { format!(", jit {:.1} ms", done.compile_seconds * 1e3) } else { String::new() }
        ),
    };
    let n = cells.compartments();
    Ok(Summary {
        line: format!(
            "{}: {}{} sections, {n} compartments ({} nodes), {} ({steps} steps, dt = {} ms), {engine}, {} thread{}, in {seconds:.3} s ({:.1} ns per compartment-step){}",
            run.target,
            if n_cells > 1 { format!("{n_cells} cells of ") } else { String::new() },
            cells.tree.sections.len(),
            cells.tree.len() * n_cells,
            cells.scheme.name(),
            units::format_number(run.dt * 1e3),
            ranges.len(),
            if ranges.len() == 1 { "" } else { "s" },
            seconds * 1e9 / (steps.max(1) * n.max(1)) as f64,
            if cells.detect.is_some() { format!(", {} spikes", done.spikes) } else { String::new() }
        ),
        steps,
        seconds,
        compile_seconds: done.compile_seconds,
        spikes: done.spikes,
        ..Summary::default()
    })
}

fn failure(run: &Run, c: &CellRun, f: Failure, (c0, c1): (usize, usize)) -> Box<Diagnostic> {
    let (node, step, why) = match f {
        Failure::Diverged { node, step } => (node, step, None),
        Failure::Scheme { node, step, why } => (node, step, Some(why)),
        Failure::Kernel { membrane, why } => {
            return Box::new(
                Diagnostic::error(
                    Code::NotInKernel,
                    format!("the membrane of {} cannot be a kernel: {why}", c.cells.membrane_name(membrane)),
                )
                .at(run.span, "in this run")
                .help("run the cell with `--backend reference`"),
            )
        }
    };
    // the block's cells are interleaved: node i is node i / count of its cell
    let (section, x, cell) = c.cells.place(node, (c0, c1));
    let of = if c.cells.count > 1 { format!(" of cell {cell}") } else { String::new() };
    let place = format!("{section}({}){of}", units::format_number(x));
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
