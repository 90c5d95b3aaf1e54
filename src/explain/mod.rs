//! `neuroc explain`: the resolved model as the compiler sees it: values in
//! the user's units and in SI, each state's equation, the class the
//! analysis found, the method chosen and why, and what was derived (gate
//! forms, exact propagators as expressions and as numbers for the step).

mod cell;
mod density;
mod field;
mod kernel;
mod network;

pub use cell::cell;
pub use density::density;
pub use field::field;
pub use kernel::kernel;
pub use network::network;

use crate::diag::Diagnostic;
use crate::ir::{self, Action, GateForm, Model, Trigger, ValueKind};
use crate::schemes::{self, Block, Method};
use crate::syntax::ast::{self, ModelKind};
use crate::units::{self, format_number, format_value};
use crate::Compiled;
use std::fmt::Write;

/// What `neuroc explain` prints for model `name` of a compiled file, by its
/// kind. `method` and `dt` (SI seconds) override the model's `simulate`
/// block, which overrides the model's own `method =` (default `auto`, and
/// 0.01 ms); `ir` adds the fused kernel and its Cranelift IR. `None` when
/// the file has no such model.
pub fn report(
    c: &Compiled,
    name: &str,
    method: Option<Method>,
    dt: Option<f64>,
    ir: bool,
) -> Option<Result<String, Diagnostic>> {
    if c.library.get(name).is_some_and(|m| m.kind == ModelKind::Cell) {
        return Some(Ok(cell(c, name)));
    }
    let m = c.model(name)?;
    let block = c.library.simulate.iter().find(|s| s.target.name == name);
    let mut step = 1e-5;
    let mut block_method = None;
    for b in block.iter().flat_map(|s| s.settings.iter()) {
        match (b.name.name.as_str(), &b.value.kind) {
            ("dt", _) => {
                if let (Some((v, d)), _) = ir::lower::lower_constant(&b.value) {
                    if d == units::dims::time() {
                        step = v;
                    }
                }
            }
            ("method", ast::ExprKind::Name(n)) => block_method = Method::parse(n),
            _ => {}
        }
    }
    let step = dt.unwrap_or(step);
    let model_method = m.method.as_ref().and_then(|(n, _)| Method::parse(n));
    let chosen = method.or(block_method).or(model_method).unwrap_or(Method::Auto);
    Some(if m.kind == ModelKind::Network {
        Ok(network(c, name))
    } else if m.density.is_some() {
        density(m)
    } else if m.field.is_some() {
        Ok(field(m))
    } else {
        let mut text = explain(m, chosen, step);
        if ir {
            text.push_str(&kernel(m, chosen, step));
        }
        Ok(text)
    })
}

/// A readable report of one model, with the schemes `method` derives and
/// propagators evaluated for the step `dt` (SI seconds).
// Long (about 190 lines) on purpose: the report's sections in the order
// they are printed, each a few lines writing into the same string.
#[allow(clippy::needless_range_loop)] // `r` indexes the rows of two matrices
pub fn explain(model: &Model, method: Method, dt: f64) -> String {
    let mut m = model.clone();
    let mut out = String::new();
    let _ = writeln!(out, "{} {}", m.kind.keyword(), m.name);
    let params = crate::ir::eval::eval_params(&m, &[]);
    if !m.params.is_empty() {
        let _ = writeln!(out, "  parameters:");
        // `(phi argument)`: the compiler's placeholder while deriving `expected`
        for (p, v) in m.params.iter().zip(&params).filter(|(p, _)| !p.name.starts_with('(')) {
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
    let (plan, diags) = schemes::derive_plan(&mut m, method);
    let _ = writeln!(out, "  states:");
    for i in 0..m.states.len() {
        let s = m.states[i].clone();
        let unit = s.unit.as_ref().map(|u| u.text.clone()).unwrap_or_else(|| units::pretty(&s.dim));
        let _ = writeln!(out, "    {} [{}, {}]", s.name, ir::lower::quantity_desc(&s.dim), unit);
        if s.kinetic.is_some() && m.arena.as_const(s.init).is_some_and(f64::is_nan) {
            let _ = writeln!(out, "      initial: steady state of its kinetic scheme");
        } else {
            // a constant (no names) is shown in the state's unit
            let constant = m.refs(s.init).is_empty().then(|| {
                let env = crate::ir::eval::Env { t: 0.0, states: &[], params: &params, values: &[], args: &[] };
                crate::ir::eval::eval(&m, s.init, &env)
            });
            let init = match (constant, &s.unit) {
                (Some(v), Some(u)) if u.text != "degC" => format_value(v, &u.text, u.scale),
                _ => ir::print_expr(&m, s.init),
            };
            let _ = writeln!(out, "      initial: {init}");
        }
        if let Some(g) = s.gate.and_then(|g| m.gates.get(g).cloned()) {
            let _ = writeln!(out, "      gate of {} (power {}), {} form", g.channel, g.power, form_name(&g.form));
            match g.form {
                GateForm::AlphaBeta { alpha, beta } => {
                    let _ = writeln!(out, "        alpha = {}", ir::print_expr(&m, alpha));
                    let _ = writeln!(out, "        beta  = {}", ir::print_expr(&m, beta));
                }
                GateForm::InfTau { inf, tau } => {
                    let _ = writeln!(out, "        inf = {}", ir::print_expr(&m, inf));
                    let _ = writeln!(out, "        tau = {}", ir::print_expr(&m, tau));
                }
            }
            for (name, e) in schemes::gate_formulas(&mut m, &g.form, &s.name, g.span) {
                let _ = writeln!(out, "      derived: {name} = {}", ir::print_expr(&m, e));
            }
        }
        match s.rhs {
            Some(r) => {
                let _ = writeln!(out, "      d{}/dt = {}", s.name, ir::print_expr(&m, r));
            }
            None => {
                let _ = writeln!(out, "      (no ODE)");
            }
        }
        if let Some(r) = plan.as_ref().and_then(|p| p.report.iter().find(|r| r.state == i)) {
            if r.class != schemes::Class::NoOde {
                let _ = writeln!(out, "      class: {}", r.class.describe());
                let _ = writeln!(out, "      method: {} ({})", r.method.name(), r.reason);
                for (name, e) in &r.formulas {
                    let _ = writeln!(out, "        {name} = {}", ir::print_expr(&m, *e));
                }
                let noise = s.rhs.and_then(|e| {
                    let refs = m.refs(e);
                    ir::noise::noise_params(&m).into_iter().find(|&p| refs.contains(&ir::Var::Param(p)))
                });
                if let Some(p) = noise {
                    let how = match r.method {
                        schemes::Method::Euler => "Euler-Maruyama",
                        schemes::Method::Heun => "stochastic Heun (Stratonovich for multiplicative noise)",
                        schemes::Method::Exact => "the exact propagator with the noise's step integral held (an OU step's variance exact to O((dt/tau)^2))",
                        _ => "the method above with the noise held over the step: first order in the noise",
                    };
                    let _ = writeln!(
                        out,
                        "      noise: white, `{}` a standard normal over sqrt(dt) per neuron and step, held over the step: {how}",
                        m.params[p].name
                    );
                }
            }
        }
    }
    for k in &m.kinetics {
        let _ = writeln!(out, "  kinetic scheme of {} ({} species, occupancies sum to 1):", k.channel, k.species.len());
        for r in &k.reactions {
            let _ = writeln!(
                out,
                "    {} <-> {}: forward {}, backward {}",
                m.states[r.from].name,
                m.states[r.to].name,
                ir::print_expr(&m, r.forward),
                ir::print_expr(&m, r.backward)
            );
        }
    }
    if let Some(plan) = &plan {
        for note in plan.blocks.iter().filter_map(|b| crate::kernel::scheme_note(&m, &params, b, dt)) {
            let _ = writeln!(out, "  {note}");
        }
        for b in &plan.blocks {
            if let Block::Exact { states, a } = b {
                let values = crate::ir::eval::constant_values(&m, &params);
                let env = crate::ir::eval::Env { t: 0.0, states: &[], params: &params, values: &values, args: &[] };
                let k = states.len();
                let mat =
                    schemes::linalg::Mat { n: k, a: a.iter().map(|e| crate::ir::eval::eval(&m, *e, &env)).collect() };
                let (phi, psi) = schemes::linalg::propagators(&mat, dt);
                let names: Vec<&str> = states.iter().map(|&i| m.states[i].name.as_str()).collect();
                let _ = writeln!(
                    out,
                    "  exact propagator of ({}) for dt = {} ms: y(t+dt) = P y(t) + Q b (SI)",
                    names.join(", "),
                    format_number(dt * 1e3)
                );
                for r in 0..k {
                    let row: Vec<String> = (0..k).map(|c| format!("{:.12e}", phi.get(r, c))).collect();
                    let qrow: Vec<String> = (0..k).map(|c| format!("{:.12e}", psi.get(r, c))).collect();
                    let _ = writeln!(
                        out,
                        "    P[{}] = [{}]   Q[{}] = [{}]",
                        names[r],
                        row.join(", "),
                        names[r],
                        qrow.join(", ")
                    );
                }
            }
        }
    }
    for d in &diags.list {
        let _ = writeln!(out, "  scheme error [{}]: {}", d.code.as_str(), d.message);
    }
    if !m.values.is_empty() {
        let _ = writeln!(out, "  values (in evaluation order):");
        for v in &m.values {
            let kind = match v.kind {
                ValueKind::Derived => "derived",
                ValueKind::Input => "input",
                ValueKind::Current => "current",
                ValueKind::Derivative => "derivative",
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
                Trigger::Crossing { level, direction } => {
                    let dir = match direction {
                        crate::syntax::ast::Direction::Upward => "upward",
                        crate::syntax::ast::Direction::Downward => "downward",
                    };
                    format!("when {} crosses 0 {dir}", ir::print_expr(&m, *level))
                }
                Trigger::Condition { cond, .. } => format!("when {} becomes true", ir::print_expr(&m, *cond)),
                Trigger::Hazard { cond } => format!(
                    "escape noise: in each step where {} (an exponential draw over dt: probability 1 - exp(-hazard dt), the hazard at the step's start; not while refractory)",
                    ir::print_expr(&m, *cond)
                ),
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
                    Action::Refractory { duration, .. } => format!("refractory {}", ir::print_expr(&m, *duration)),
                    Action::Output { name, value, .. } => format!("{name} = {}", ir::print_expr(&m, *value)),
                })
                .collect();
            let _ = writeln!(out, "    {head}: {}", acts.join("; "));
        }
        let _ = writeln!(
            out,
            "    (the reference runtime locates crossing times by root finding; kernels interpolate within the step)"
        );
    }
    if !m.tables.is_empty() {
        let _ = writeln!(
            out,
            "  rate tables (jit and interp back ends, dt = {} ms; `--no-tables` computes exactly):",
            format_number(dt * 1e3)
        );
        let _ = write!(out, "{}", describe_tables(&m, plan.as_ref(), &params, dt));
    }
    if !m.pending.is_empty() {
        // a network's, field's, density's or brain's statements: the run
        // configures them (`neuroc run`, `check`)
        let _ = writeln!(
            out,
            "  configured by the run: {}",
            m.pending.iter().map(|p| p.what.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    out
}

/// What the kernel tabulates for each `table` statement, and how well.
fn describe_tables(m: &Model, plan: Option<&schemes::Plan>, params: &[f64], dt: f64) -> String {
    if let Err(d) = crate::kernel::check_tables(m, params, &[]) {
        return format!("    {}\n", d.message);
    }
    let Some(plan) = plan else { return "    not built: the model has no integration plan\n".into() };
    let built =
        crate::runtime::population::kernel_depth(m).and_then(|()| crate::kernel::build(m, plan, params, &[], &[], dt));
    match built {
        Ok(k) => match crate::kernel::check_built_tables(m, &k) {
            Err(d) => format!("    {}\n", d.message),
            Ok(()) => crate::kernel::table::built(m, &k)
                .map(|(state, t)| match t {
                    Some(t) => t.describe(m),
                    None => {
                        format!("    {}: nothing costly depends on it alone; no table is built\n", m.states[state].name)
                    }
                })
                .collect(),
        },
        Err(crate::kernel::Unsupported(why)) => format!("    not built: no fused kernel ({why})\n"),
    }
}

fn form_name(f: &GateForm) -> &'static str {
    match f {
        GateForm::AlphaBeta { .. } => "alpha/beta",
        GateForm::InfTau { .. } => "inf/tau",
    }
}
