//! `explain` for a network: its statements, each population's ports, and
//! how each connection is delivered.

use crate::syntax::ast::{self, ModelKind};
use crate::units;
use crate::Compiled;

/// `explain` for a network: its statements, each population's ports, and
/// for every connection how it is delivered (a port, or a synapse model
/// inserted into the target and lumped, or why it cannot be).
pub fn network(c: &Compiled, name: &str) -> String {
    use std::fmt::Write as _;
    let mut out = format!("network {name}\n");
    let Some(net) = c.library.get(name) else { return out };
    let mut models: Vec<(String, String)> = Vec::new(); // population -> model
    for stmt in &net.stmts {
        let text = c.sources.snippet(stmt.span).split_whitespace().collect::<Vec<_>>().join(" ");
        match &stmt.kind {
            ast::StmtKind::Population { name, model, .. } => {
                models.push((name.name.clone(), model.name.clone()));
                let ports = c.model(&model.name).map(crate::runtime::network::ports).unwrap_or_default();
                let ports: Vec<String> = ports
                    .iter()
                    .map(|(p, d)| match d {
                        Some(d) => format!("{p} ({})", units::pretty(d)),
                        None => p.clone(),
                    })
                    .collect();
                let _ = writeln!(out, "  {text}");
                let cell = c.library.get(&model.name).filter(|m| m.kind == ModelKind::Cell);
                if let Some(cell) = cell {
                    let sites: Vec<String> = crate::cable::sites(cell)
                        .iter()
                        .map(|s| format!("{} ({} on {})", s.name.name, s.model.name, s.section.name))
                        .collect();
                    let _ = writeln!(
                        out,
                        "    cells with a morphology (`explain --model {}`), in blocks per thread; synapse sites as input ports: {}",
                        model.name,
                        if sites.is_empty() { "none".to_string() } else { sites.join(", ") }
                    );
                } else if !ports.is_empty() {
                    let _ = writeln!(out, "    input ports: {}", ports.join(", "));
                }
            }
            ast::StmtKind::Connect { via, to, .. } => {
                let _ = writeln!(out, "  {text}");
                let into_cells = to.iter().any(|t| {
                    models
                        .iter()
                        .any(|(p, m)| *p == t.name && c.library.get(m).is_some_and(|m| m.kind == ModelKind::Cell))
                });
                let how = match c.model(&via.name).filter(|m| m.kind == ModelKind::Synapse && !into_cells) {
                    Some(syn) => match crate::runtime::network::lumpable(syn) {
                        Ok(()) => format!(
                            "synapse `{}` inserted into each target neuron that lacks it; its synapses onto a neuron share one set of states (exact: linear kinetics, additive weight-linear spikes, linear currents); its current joins `currents`",
                            via.name
                        ),
                        Err(why) => format!("synapse `{}` cannot be lumped ({why}): E0404 when run", via.name),
                    },
                    _ => {
                        let targets: Vec<String> = to
                            .iter()
                            .map(|t| match models.iter().find(|(p, _)| *p == t.name) {
                                Some((p, m)) => format!("{p} ({m})"),
                                None => t.name.clone(),
                            })
                            .collect();
                        format!("delivered to the input port `{}` of {}", via.name, targets.join(", "))
                    }
                };
                let _ = writeln!(out, "    {how}; stored by source (CSR), delayed through ring buffers");
            }
            ast::StmtKind::Parameter(_) | ast::StmtKind::Drive { .. } | ast::StmtKind::Record(_) => {
                let _ = writeln!(out, "  {text}");
            }
            _ => {
                let _ = writeln!(out, "  {text}    (not simulated yet)");
            }
        }
    }
    let _ = writeln!(
        out,
        "  each population runs as one fused kernel (see its neuron above); spikes are delivered in neuron order, so results do not depend on --threads"
    );
    out
}
