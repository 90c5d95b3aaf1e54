//! `neuroc explain`: the resolved model as the compiler sees it, with values
//! in the user's units and in SI, and what was derived (gate forms).

use crate::ir::{self, Action, GateForm, Model, Trigger, ValueKind};
use crate::symbolic::Builder;
use crate::units::{self, format_number, format_value};
use std::fmt::Write;

/// A readable report of one model.
pub fn explain(model: &Model) -> String {
    let mut m = model.clone();
    let mut out = String::new();
    let _ = writeln!(out, "{} {}", m.kind.keyword(), m.name);
    let params = crate::codegen::interp::eval_params(&m, &[]);
    if !m.params.is_empty() {
        let _ = writeln!(out, "  parameters:");
        for (p, v) in m.params.iter().zip(&params) {
            let si = format!("{} {}", format_number(*v), units::pretty(&p.dim));
            let user = match &p.unit {
                Some(u) if u.text == "degC" => format!("{} degC", format_number(v - 273.15)),
                Some(u) => format_value(*v, &u.text, u.scale),
                None => format_number(*v),
            };
            let _ = writeln!(
                out,
                "    {:<14} = {:<18} [{}; SI {}]",
                p.name,
                user,
                ir::lower::quantity_desc(&p.dim),
                si.trim()
            );
        }
    }
    let _ = writeln!(out, "  states:");
    for i in 0..m.states.len() {
        let s = m.states[i].clone();
        let unit = s
            .unit
            .as_ref()
            .map(|u| u.text.clone())
            .unwrap_or_else(|| units::pretty(&s.dim));
        let _ = writeln!(
            out,
            "    {} [{}, {}]",
            s.name,
            ir::lower::quantity_desc(&s.dim),
            unit
        );
        let _ = writeln!(out, "      initial: {}", ir::print_expr(&m, s.init));
        if let Some(g) = s.gate.and_then(|g| m.gates.get(g).cloned()) {
            let local = s.name.rsplit('.').next().unwrap_or(&s.name).to_string();
            let _ = writeln!(
                out,
                "      gate of {} (power {}), {} form",
                g.channel,
                g.power,
                form_name(&g.form)
            );
            let span = g.span;
            let (inf, tau) = match g.form {
                GateForm::AlphaBeta { alpha, beta } => {
                    let _ = writeln!(out, "        alpha = {}", ir::print_expr(&m, alpha));
                    let _ = writeln!(out, "        beta  = {}", ir::print_expr(&m, beta));
                    let mut b = Builder { m: &mut m };
                    let sum = b.add(alpha, beta, span);
                    let inf = b.div(alpha, sum, span);
                    let one = b.constant(1.0, units::Dim::NONE, span);
                    let tau = b.div(one, sum, span);
                    (inf, tau)
                }
                GateForm::InfTau { inf, tau } => (inf, tau),
            };
            let _ = writeln!(
                out,
                "      derived: {local}_inf = {}",
                ir::print_expr(&m, inf)
            );
            let _ = writeln!(
                out,
                "               tau_{local} = {}",
                ir::print_expr(&m, tau)
            );
        }
        match s.rhs {
            Some(r) => {
                let _ = writeln!(out, "      d{}/dt = {}", s.name, ir::print_expr(&m, r));
            }
            None => {
                let _ = writeln!(out, "      (no ODE)");
            }
        }
    }
    if !m.values.is_empty() {
        let _ = writeln!(out, "  values (in evaluation order):");
        for v in &m.values {
            let kind = match v.kind {
                ValueKind::Derived => "derived",
                ValueKind::Input => "input",
                ValueKind::Current => "current",
            };
            let _ = writeln!(
                out,
                "    {} ({kind}, {}) = {}",
                v.name,
                ir::lower::quantity_desc(&v.dim),
                ir::print_expr(&m, v.expr)
            );
        }
    }
    if !m.events.is_empty() {
        let _ = writeln!(out, "  events:");
        for e in &m.events {
            let head = match &e.trigger {
                Trigger::Crossing { level, direction } => format!(
                    "when {} crosses 0 {:?}",
                    ir::print_expr(&m, *level),
                    direction
                )
                .to_lowercase(),
                Trigger::Condition { cond, .. } => format!("on {}", ir::print_expr(&m, *cond)),
                Trigger::Spike { .. } => "on a presynaptic spike".into(),
            };
            let acts: Vec<String> = e
                .actions
                .iter()
                .map(|a| match a {
                    Action::Assign { state, value, .. } => {
                        format!("{} = {}", m.states[*state].name, ir::print_expr(&m, *value))
                    }
                    Action::Emit { .. } => "emit spike".into(),
                    Action::Refractory { duration, .. } => {
                        format!("refractory {}", ir::print_expr(&m, *duration))
                    }
                    Action::Output { name, value, .. } => {
                        format!("{name} = {}", ir::print_expr(&m, *value))
                    }
                })
                .collect();
            let _ = writeln!(out, "    {head}: {}", acts.join("; "));
        }
    }
    if !m.pending.is_empty() {
        let _ = writeln!(
            out,
            "  not simulated yet: {}",
            m.pending
                .iter()
                .map(|p| p.what.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    out
}

fn form_name(f: &GateForm) -> &'static str {
    match f {
        GateForm::AlphaBeta { .. } => "alpha/beta",
        GateForm::InfTau { .. } => "inf/tau",
    }
}
