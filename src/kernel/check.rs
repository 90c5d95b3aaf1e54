//! Rate tables' checks: the grids of a model's tables for given parameter
//! values, and E0218 for a malformed table, a table whose range differs
//! from neuron to neuron, or a tabulated value that is not finite on the
//! grid.

use super::{table, Kernel};
use crate::ir::eval::{eval, Env};
use crate::ir::{Model, Var};

/// The grids of a model's rate tables (`table V in [lo, hi], step = h`)
/// for parameter values `params`, or the span and reason of a bad one.
pub fn table_grids(m: &Model, params: &[f64]) -> Result<Vec<table::Grid>, (crate::source::Span, String)> {
    if m.tables.is_empty() {
        return Ok(Vec::new());
    }
    let values = crate::ir::eval::constant_values(m, params);
    let env = Env { t: 0.0, states: &[], params, values: &values, args: &[] };
    m.tables
        .iter()
        .map(|t| {
            let (lo, hi, step) = (eval(m, t.lo, &env), eval(m, t.hi, &env), eval(m, t.step, &env));
            table::Grid::new(lo, hi, step).map_err(|why| (t.span, why))
        })
        .collect()
}

/// E0218 for a rate table with a value that is not finite at one of its
/// points (a pole such as `(V + 40 mV) / (1 - exp(-(V + 40 mV) / 10 mV))`
/// at -40 mV): the interpolation would spread it over two intervals.
pub fn check_built_tables(m: &Model, k: &Kernel) -> Result<(), Box<crate::diag::Diagnostic>> {
    for t in &k.tables {
        let Some((col, at)) = t.first_non_finite() else { continue };
        let span = m.tables.iter().find(|s| s.state == t.state).map_or(m.span, |s| s.span);
        let unit = m.states[t.state].unit.as_ref();
        let shown = match unit {
            Some(u) if u.text != "degC" => crate::units::format_value(at, &u.text, u.scale),
            _ => crate::units::format_number(at),
        };
        return Err(Box::new(
            crate::diag::Diagnostic::error(
                crate::diag::Code::BadTable,
                format!("{} is not finite at {} = {shown}, a point of its rate table", t.names[col], t.arg_name),
            )
            .at(span, "this table")
            .help("a rate has a pole on the table's grid: write it with `vtrap` or `efun` (finite at the pole), or move the grid off the pole"),
        ));
    }
    Ok(())
}

/// E0218 for a rate table whose numbers make no grid, or whose range
/// uses a parameter spread over the population (`per_neuron`): one table
/// serves every neuron.
pub fn check_tables(m: &Model, params: &[f64], per_neuron: &[usize]) -> Result<(), Box<crate::diag::Diagnostic>> {
    for t in &m.tables {
        let spread = [t.lo, t.hi, t.step].iter().flat_map(|&e| crate::schemes::deps(m, e)).find_map(|v| match v {
            Var::Param(p) if per_neuron.contains(&p) => Some(p),
            _ => None,
        });
        if let Some(p) = spread {
            return Err(Box::new(
                crate::diag::Diagnostic::error(
                    crate::diag::Code::BadTable,
                    format!("this rate table's range uses `{}`, which differs from neuron to neuron", m.params[p].name),
                )
                .at(t.span, "one table for the whole population")
                .help(
                    "give the table a range that covers every neuron, with numbers or parameters the population shares",
                ),
            ));
        }
    }
    table_grids(m, params).map(|_| ()).map_err(|(span, why)| {
        Box::new(
            crate::diag::Diagnostic::error(crate::diag::Code::BadTable, format!("this rate table is malformed: {why}"))
                .at(span, "this table")
                .help("give a lower bound below the upper one and a positive step that divides the interval: `table V in [-100 mV, 100 mV], step = 0.1 mV`"),
        )
    })
}
