//! `explain` for a cell: its sections, regions and the compartment table
//! the discretization made (NEURON's layout; see `crate::cable::geometry`).

use crate::cable::geometry;
use crate::experiment::{self, Body, Flags};
use crate::syntax::ast;
use crate::units::format_number;
use crate::Compiled;
use std::fmt::Write as _;

/// The cell as configured (its `simulate` block, default flags): totals,
/// each membrane, and one row per node: section, index, position, length,
/// diameter, area, axial resistance to the parent node, lambda at 100 Hz.
pub fn cell(c: &Compiled, name: &str) -> String {
    let mut out = format!("cell {name}\n");
    let flags = Flags {
        model: Some(ast::Ident { name: name.into(), span: crate::source::Span::new(c.root, 0..0) }),
        ..Flags::default()
    };
    let (run, diags) = experiment::configure(c, &flags);
    let Some(Body::Cell(cell)) = run.map(|r| r.body) else {
        for d in diags.list.iter().filter(|d| d.is_error()) {
            let _ = writeln!(out, "  cannot lay out the cell: {}", d.message);
        }
        return out;
    };
    let cell = &cell.cells;
    let t = &cell.tree;
    let _ = writeln!(
        out,
        "  {} sections, {} compartments, {} nodes, membrane area {} um^2; V by {}",
        t.sections.len(),
        t.compartments(),
        t.len(),
        format_number((t.total_area() * 1e12 * 1e3).round() / 1e3),
        cell.scheme.name()
    );
    for (k, m) in cell.membranes.iter().enumerate() {
        let _ = writeln!(
            out,
            "  region {}: membrane `{}` ({} states; `explain --model {}` shows it)",
            cell.region_names[k],
            m.model.name,
            m.model.states.len(),
            m.model.name
        );
    }
    for (site, name) in cell.sites.iter().zip(&cell.site_names) {
        let (s, x) = t.at[site.node];
        let _ = writeln!(
            out,
            "  synapse {name}: `{}` at {}({}), node {} (`explain --model {}` shows it)",
            site.port,
            t.sections[s].name,
            format_number((x * 1e4).round() / 1e4),
            site.node,
            site.membrane.model.name
        );
    }
    let _ = writeln!(out, "  compartments (nodes of zero area are section ends):");
    let _ = writeln!(
        out,
        "    {:<12} {:>5} {:>8} {:>10} {:>9} {:>12} {:>12} {:>10}  region",
        "section", "node", "x", "length um", "diam um", "area um^2", "r_axial MOhm", "lambda um"
    );
    for i in 0..t.len() {
        let (s, x) = t.at[i];
        let sec = &t.sections[s];
        let (length, lambda) = match t.membrane[i] {
            Some(k) => {
                let params = crate::ir::eval::eval_params(&cell.membranes[k].model, &cell.membranes[k].param_overrides);
                let get = |n: &str| cell.membranes[k].model.param(n).map(|p| params[p]);
                let l = geometry::lambda_ac(sec.diameter, get("Ra").unwrap_or(0.354), get("Cm").unwrap_or(f64::NAN));
                (sec.length / sec.nseg as f64, l)
            }
            None => (0.0, f64::NAN),
        };
        let r = if t.parent[i] == usize::MAX { f64::NAN } else { 1.0 / t.g[i] };
        let show = |v: f64, scale: f64| {
            if v.is_finite() {
                format_number((v * scale * 1e3).round() / 1e3)
            } else {
                "-".into()
            }
        };
        let _ = writeln!(
            out,
            "    {:<12} {:>5} {:>8} {:>10} {:>9} {:>12} {:>12} {:>10}  {}",
            sec.name,
            i,
            format!("{x:.4}"),
            show(length, 1e6),
            show(t.diameter(i), 1e6),
            show(t.area[i], 1e12),
            show(r, 1e-6),
            show(lambda, 1e6),
            t.membrane[i].map_or("-", |k| cell.region_names[k].as_str())
        );
    }
    out
}
