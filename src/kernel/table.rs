//! Rate tables (NEURON's `TABLE`): the expensive quantities of a kernel
//! that depend on one value alone (the membrane potential at the start of
//! the step) are tabulated on a uniform grid and interpolated linearly.
//!
//! Which quantities: every number the kernel computes from the argument
//! and constants only, that contains an exponential, a logarithm, a square
//! root or a division, and that something outside that set reads (an
//! update, a condition, a store). Of those, a quantity that is cheap given
//! the others (`alpha + beta` when both are tabulated) is computed from
//! them instead of taking a column. For HH with `exp_euler` that leaves
//! alpha, beta and e^{-(alpha + beta) dt} per gate: nine columns in place
//! of nine exponentials and their divisions.
//!
//! The lookup, in both back ends (so they agree bit for bit):
//!
//! ```text
//! u = clamp((x - lo) * (1 / h), 0, rows - 1)    // NaN stays NaN
//! i = floor(u),  f = u - i
//! y = fma(f, dy[i], y[i])                       // dy[i] = y[i+1] - y[i]
//! ```
//!
//! Outside `[lo, hi]` the table holds its end values, as NEURON's do.

use super::{interp, Inst, Kernel, Val};

/// One table: `cols` functions of one value at `rows` points.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// The state the table is in, and its name.
    pub state: usize,
    pub arg_name: String,
    pub lo: f64,
    pub step: f64,
    /// `1 / step`, the multiplier of the lookup.
    pub inv_step: f64,
    pub rows: usize,
    pub cols: usize,
    /// What each column is (`alpha of NaT.m`, `g of NaT.h`, a derived
    /// value's name), or `column k`.
    pub names: Vec<String>,
    /// Row-major: row k holds, per column, the pair (y_k, y_{k+1} - y_k);
    /// the last row's differences are 0.
    pub data: Vec<f64>,
    /// Per column: the largest interpolation error found between the
    /// points, and the column's largest magnitude.
    pub errors: Vec<ColumnError>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ColumnError {
    /// max |interpolated - exact| over the middle and the first quarter
    /// of every interval.
    pub abs: f64,
    /// where it occurs (SI units of the argument)
    pub at: f64,
    /// max |y| over the table
    pub scale: f64,
}

impl ColumnError {
    /// The error relative to the column's scale.
    pub fn relative(&self) -> f64 {
        if self.scale > 0.0 {
            self.abs / self.scale
        } else {
            self.abs
        }
    }
}

impl Table {
    /// The largest relative error over the columns.
    pub fn worst_relative(&self) -> f64 {
        // NaN (a pole inside the table) is the worst
        self.errors.iter().map(ColumnError::relative).fold(0.0, |a, e| {
            if e.is_nan() || a.is_nan() {
                f64::NAN
            } else {
                a.max(e)
            }
        })
    }

    /// The first point where a column is not finite: (column, argument).
    pub fn first_non_finite(&self) -> Option<(usize, f64)> {
        (0..self.rows).find_map(|r| {
            (0..self.cols)
                .find(|&c| !self.data[(r * self.cols + c) * 2].is_finite())
                .map(|c| (c, self.lo + r as f64 * self.step))
        })
    }

    /// One line for a run's log: `rate table in V: 9 columns at 2001
    /// points 0.1 mV apart (282 KiB), interpolation error <= 3.8e-6`.
    pub fn summary(&self, m: &crate::ir::Model) -> String {
        format!(
            "rate table in {}: {} column{} at {} points {} apart ({} KiB), interpolation error <= {:.1e} of a column's scale",
            self.arg_name,
            self.cols,
            if self.cols == 1 { "" } else { "s" },
            self.rows,
            self.in_units(m, self.step),
            self.bytes().div_ceil(1024),
            self.worst_relative()
        )
    }

    /// The table for `explain`: its grid, then each column's range and
    /// largest interpolation error.
    pub fn describe(&self, m: &crate::ir::Model) -> String {
        use std::fmt::Write;
        let (_, hi) = self.range();
        let mut out = format!(
            "    {} in [{}, {}], step {}: {} points, {} column{} ({} KiB); outside the range the end values hold\n",
            self.arg_name,
            self.in_units(m, self.lo),
            self.in_units(m, hi),
            self.in_units(m, self.step),
            self.rows,
            self.cols,
            if self.cols == 1 { "" } else { "s" },
            self.bytes().div_ceil(1024)
        );
        let width = self.names.iter().map(|n| n.chars().count() + 1).max().unwrap_or(0);
        for (c, e) in self.errors.iter().enumerate() {
            let (lo, hi) = (0..self.rows)
                .map(|r| self.data[(r * self.cols + c) * 2])
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| (a.min(y), b.max(y)));
            let _ = writeln!(
                out,
                "      {:<width$} from {} to {} (SI); interpolation error {:.2e} ({:.1e} of its scale) at {} = {}",
                format!("{}:", self.names[c]),
                crate::units::format_number(lo),
                crate::units::format_number(hi),
                e.abs,
                e.relative(),
                self.arg_name,
                self.in_units(m, e.at)
            );
        }
        out
    }

    /// The argument's range, [lo, hi] (SI).
    pub fn range(&self) -> (f64, f64) {
        (self.lo, self.lo + (self.rows - 1) as f64 * self.step)
    }

    /// A value of the argument in its state's unit.
    pub fn in_units(&self, m: &crate::ir::Model, x: f64) -> String {
        match m.states.get(self.state).and_then(|s| s.unit.as_ref()) {
            Some(u) if u.text != "degC" => crate::units::format_value(x, &u.text, u.scale),
            _ => crate::units::format_number(x),
        }
    }

    /// Bytes of table data.
    pub fn bytes(&self) -> usize {
        self.data.len() * 8
    }

    /// The row and the fraction within it of argument `x` (see the module
    /// documentation; the JIT emits the same operations).
    pub fn locate(&self, x: f64) -> (usize, f64) {
        let top = (self.rows - 1) as f64;
        let u = super::kmath::fmin(super::kmath::fmax((x - self.lo) * self.inv_step, 0.0), top);
        let fl = u.floor();
        let frac = u - fl;
        (row_of(fl, self.rows), frac)
    }

    /// Column `col` at row `row`, fraction `frac`.
    pub fn interpolate(&self, row: usize, frac: f64, col: usize) -> f64 {
        let at = (row * self.cols + col) * 2;
        frac.mul_add(self.data[at + 1], self.data[at])
    }
}

/// The row of a floored, clamped position: the integer bits of
/// `fl + 2^52`, clamped again to the table (only a NaN gets there).
pub fn row_of(fl: f64, rows: usize) -> usize {
    let bits = (fl + TWO52).to_bits() & MANTISSA;
    (bits.min((rows - 1) as u64)) as usize
}

/// 2^52: adding it to an integer-valued double in [0, 2^52) puts the
/// integer in the low mantissa bits.
pub const TWO52: f64 = 4503599627370496.0;
pub const MANTISSA: u64 = (1 << 52) - 1;

/// What a table spans: `rows` points from `lo` with spacing `step`.
#[derive(Clone, Copy, Debug)]
pub struct Grid {
    pub lo: f64,
    pub step: f64,
    pub rows: usize,
}

/// The most points a table may have (NEURON's tables have about 200; at
/// 100,000 points and 30 columns a table takes 48 MB).
pub const MAX_ROWS: usize = 100_000;

impl Grid {
    /// The grid of `[lo, hi]` with spacing `step`, or why there is none.
    pub fn new(lo: f64, hi: f64, step: f64) -> Result<Grid, String> {
        if !(lo.is_finite() && hi.is_finite() && step.is_finite()) {
            return Err("its bounds and step must be finite".into());
        }
        if lo >= hi {
            return Err("its lower bound is not below its upper bound".into());
        }
        if step <= 0.0 {
            return Err("its step is not positive".into());
        }
        if !(1.0 / step).is_finite() {
            return Err("its step is too small to divide by".into());
        }
        let intervals = ((hi - lo) / step).round();
        if intervals < 1.0 || intervals + 1.0 > MAX_ROWS as f64 {
            return Err(format!("it would have {} points; a table has 2 to {MAX_ROWS}", point_count(intervals + 1.0)));
        }
        if ((hi - lo) / step - intervals).abs() > 1e-6 {
            return Err("its step does not divide the interval evenly".into());
        }
        Ok(Grid { lo, step, rows: intervals as usize + 1 })
    }
}

/// A number of points, as a whole number while it is one.
fn point_count(x: f64) -> String {
    if x < 1e15 {
        format!("{}", x as u64)
    } else {
        format!("{x:e}")
    }
}

/// Each `table` statement of `m` with the table kernel `k` built for it
/// (none when nothing costly depends on its state alone).
pub fn built<'a>(m: &'a crate::ir::Model, k: &'a Kernel) -> impl Iterator<Item = (usize, Option<&'a Table>)> + 'a {
    m.tables.iter().map(move |spec| (spec.state, k.tables.iter().find(|t| t.state == spec.state)))
}

/// What the kernel builder knows about its values: names for the columns,
/// and values that must stay exact (event levels at the start of a step).
pub struct Known<'a> {
    pub names: &'a std::collections::HashMap<Val, String>,
    pub exact: &'a std::collections::HashSet<Val>,
}

/// Replaces the expensive functions of `arg` in `k` (before dead-code
/// elimination) by lookups in a new table; returns how many columns it
/// took (0: nothing to tabulate, no table added).
// Long (about 160 lines) on purpose: one pass in the order of the
// algorithm (candidates, columns kept, grid evaluated, error measured,
// lookups spliced in), sharing its working sets; split, each piece would
// take most of them as arguments.
pub fn tabulate(k: &mut Kernel, arg: Val, grid: Grid, state: usize, arg_name: &str, known: Known) -> usize {
    let n = k.insts.len();
    let live = super::liveness(k);
    // which values depend on the argument (and constants) only
    #[derive(Clone, Copy, PartialEq)]
    enum Dep {
        Const,
        Arg,
        Other,
    }
    let mut dep = vec![Dep::Other; n];
    let mut expensive = vec![false; n];
    for (v, inst) in k.insts.iter().enumerate() {
        if v as Val == arg {
            dep[v] = Dep::Arg;
            continue;
        }
        dep[v] = match inst {
            Inst::Const(_) => Dep::Const,
            Inst::State(_) | Inst::Param(_) | Inst::Time | Inst::TimeNext | Inst::Lookup { .. } => Dep::Other,
            _ => {
                let ops = super::operands(inst);
                if ops.iter().any(|&o| dep[o as usize] == Dep::Other) {
                    Dep::Other
                } else if ops.iter().any(|&o| dep[o as usize] == Dep::Arg) {
                    Dep::Arg
                } else {
                    Dep::Const
                }
            }
        };
        if dep[v] == Dep::Arg {
            expensive[v] = matches!(inst, Inst::Exp(_) | Inst::Log(_) | Inst::Efun(_) | Inst::Sqrt(_) | Inst::Div(..));
        }
    }
    let in_set = |v: usize| dep[v] == Dep::Arg && !k.insts[v].is_mask();
    // candidates: numbers of the set read from outside it (or stored)
    let mut outside = vec![false; n];
    for (v, inst) in k.insts.iter().enumerate() {
        if !live[v] || in_set(v) {
            continue;
        }
        for o in super::operands(inst) {
            outside[o as usize] = true;
        }
    }
    for &s in &k.stores {
        outside[s as usize] = true;
    }
    for e in &k.events {
        outside[e.fire as usize] = true;
        outside[e.time as usize] = true;
    }
    // a candidate is a column unless it is cheap given the earlier columns
    let mut column = vec![false; n];
    let mut cost_given = vec![false; n]; // "needs an expensive operation"
    for v in 0..n {
        if !in_set(v) {
            continue;
        }
        let inner = super::operands(&k.insts[v])
            .iter()
            .any(|&o| in_set(o as usize) && !column[o as usize] && cost_given[o as usize]);
        cost_given[v] = expensive[v] || inner;
        if outside[v] && live[v] && cost_given[v] && v as Val != arg && !known.exact.contains(&(v as Val)) {
            column[v] = true;
        }
    }
    let cols: Vec<usize> = (0..n).filter(|&v| column[v]).collect();
    if cols.is_empty() {
        return 0;
    }
    // the columns at the grid's points, and between them for the error:
    // only the instructions they are computed from, in order
    let mut needed = vec![false; n];
    for &c in &cols {
        needed[c] = true;
    }
    for v in (0..n).rev() {
        if needed[v] && v as Val != arg {
            for o in super::operands(&k.insts[v]) {
                needed[o as usize] = true;
            }
        }
    }
    let order: Vec<usize> = (0..n).filter(|&v| needed[v] && v as Val != arg).collect();
    let mut vals = vec![f64::NAN; n];
    let eval_at = |x: f64, vals: &mut Vec<f64>| {
        vals[arg as usize] = x;
        for &v in &order {
            vals[v] = interp::apply(&k.insts[v], &|o| vals[o as usize]);
        }
    };
    let ncols = cols.len();
    let mut y = vec![0.0; grid.rows * ncols];
    for r in 0..grid.rows {
        eval_at(grid.lo + r as f64 * grid.step, &mut vals);
        for (c, &v) in cols.iter().enumerate() {
            y[r * ncols + c] = vals[v];
        }
    }
    let mut data = vec![0.0; grid.rows * ncols * 2];
    for r in 0..grid.rows {
        for c in 0..ncols {
            let here = y[r * ncols + c];
            let next = if r + 1 < grid.rows { y[(r + 1) * ncols + c] - here } else { 0.0 };
            data[(r * ncols + c) * 2] = here;
            data[(r * ncols + c) * 2 + 1] = next;
        }
    }
    let mut table = Table {
        state,
        arg_name: arg_name.to_string(),
        lo: grid.lo,
        step: grid.step,
        inv_step: 1.0 / grid.step,
        rows: grid.rows,
        cols: ncols,
        names: cols
            .iter()
            .enumerate()
            .map(|(c, v)| known.names.get(&(*v as Val)).cloned().unwrap_or_else(|| format!("column {c}")))
            .collect(),
        data,
        errors: Vec::new(),
    };
    let mut errors: Vec<ColumnError> = (0..ncols)
        .map(|c| ColumnError {
            abs: 0.0,
            at: grid.lo,
            scale: (0..grid.rows).map(|r| y[r * ncols + c].abs()).fold(0.0, f64::max),
        })
        .collect();
    // linear interpolation errs most near the middle of an interval
    for r in 0..grid.rows - 1 {
        for q in [0.5, 0.25] {
            let x = grid.lo + (r as f64 + q) * grid.step;
            eval_at(x, &mut vals);
            let (row, frac) = table.locate(x);
            for (c, &v) in cols.iter().enumerate() {
                // a removable singularity between the points ((V + 40 mV) /
                // (1 - exp(...)) at -40 mV) is NaN there and nowhere else
                if !vals[v].is_finite() {
                    continue;
                }
                let err = (table.interpolate(row, frac, c) - vals[v]).abs();
                if err > errors[c].abs || (err.is_nan() && !errors[c].abs.is_nan()) {
                    errors[c].abs = err;
                    errors[c].at = x;
                }
            }
        }
    }
    table.errors = errors;
    let id = k.tables.len() as u32;
    k.tables.push(table);
    for (c, &v) in cols.iter().enumerate() {
        k.insts[v] = Inst::Lookup { table: id, col: c as u32, at: arg };
    }
    ncols
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp() -> Table {
        // one column, y = x^2 at x = 0, 1, 2, 3
        let ys = [0.0, 1.0, 4.0, 9.0];
        let data = (0..4).flat_map(|r| [ys[r], if r < 3 { ys[r + 1] - ys[r] } else { 0.0 }]).collect();
        Table {
            state: 0,
            arg_name: "x".into(),
            lo: 0.0,
            step: 1.0,
            inv_step: 1.0,
            rows: 4,
            cols: 1,
            names: vec!["x^2".into()],
            data,
            errors: vec![],
        }
    }

    #[test]
    fn lookups_interpolate_and_hold_their_end_values() {
        let t = ramp();
        let at = |x: f64| {
            let (row, frac) = t.locate(x);
            t.interpolate(row, frac, 0)
        };
        assert_eq!(at(1.0), 1.0);
        assert_eq!(at(1.5), 2.5);
        assert_eq!(at(3.0), 9.0);
        assert_eq!(t.locate(3.0), (3, 0.0));
        // outside: the end values
        assert_eq!(at(-7.0), 0.0);
        assert_eq!(at(1e300), 9.0);
        assert_eq!(at(f64::INFINITY), 9.0);
        assert_eq!(at(f64::NEG_INFINITY), 0.0);
        // NaN stays NaN, and the row stays inside the table
        let (row, frac) = t.locate(f64::NAN);
        assert!(row < t.rows && frac.is_nan());
        assert!(at(f64::NAN).is_nan());
    }

    #[test]
    fn grids_are_checked() {
        let g = Grid::new(-0.1, 0.1, 1e-4).expect("grid"); // ok: a unit test of a valid grid
        assert_eq!(g.rows, 2001);
        for (lo, hi, step) in [
            (0.1, -0.1, 1e-4),
            (0.0, 0.0, 1e-4),
            (-0.1, 0.1, 0.0),
            (-0.1, 0.1, -1e-4),
            (-0.1, 0.1, 0.03),
            (-0.1, 0.1, 1e-9),
            (f64::NAN, 0.1, 1e-4),
            (-0.1, f64::INFINITY, 1e-4),
            (0.0, 1000.0 * 5e-324, 5e-324),
        ] {
            assert!(Grid::new(lo, hi, step).is_err(), "[{lo}, {hi}] step {step}");
        }
    }
}
