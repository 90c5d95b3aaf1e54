//! A brain's problem: every region through the one kernel with its
//! sensitivities, and the sums over the connectome, with their
//! derivatives, formed each step from the histories of what the regions
//! sent (as `runtime::brain` forms them).

use super::{InitDiff, Observed, Problem, Trajectory};
use crate::diag::Diagnostic;
use crate::ir::eval::{eval, eval_values, Env};
use crate::ir::ExprId;
use crate::kernel;

/// A brain's part of a problem: every region steps through the one
/// kernel, and the sums over the connectome are formed each step from the
/// histories of what the regions sent and of its derivatives.
pub(super) struct BrainPart {
    pub(super) n: usize,
    /// Arrays per region besides the parameters of interest (spreads,
    /// values from files, the sums' row sums): (parameter, values).
    pub(super) per_region: Vec<(usize, Vec<f64>)>,
    /// Per sum: its edges and the kernel's parameter array it fills.
    pub(super) sums: Vec<(crate::runtime::brain::Edges, usize)>,
    /// The sent values' expressions, and their derivatives (direct, and
    /// through the states) per parameter of interest then per sum, for
    /// the history before t = 0.
    pub(super) sent: Vec<ExprId>,
    pub(super) sent_diff: Vec<Vec<InitDiff>>,
    /// The first output state (what each region sends) in the plain kernel.
    pub(super) first_output: usize,
    /// The region observed (None: the mean over the regions).
    pub(super) region: Option<usize>,
    /// Derived propagator entries (their derivative arrays come first).
    pub(super) propagators: usize,
}

impl Problem {
    /// A brain's trajectory at `theta`: every region through the one
    /// kernel, the sums and their derivatives formed each step from the
    /// histories of what the regions sent (as `runtime::brain` forms the
    /// sums: delays on the grid or interpolated, the initial value before
    /// t = 0), the observed state of one region or its mean over them.
    pub(super) fn simulate_brain(
        &self,
        b: &BrainPart,
        theta: &[f64],
        until: f64,
    ) -> Result<Trajectory, Box<Diagnostic>> {
        let m = &self.model;
        let (n, np) = (b.n, self.wrt.len());
        let sens = self.plain_why.is_none();
        let ns_model = m.states.len();
        let ns = if sens { self.kernel.states.len() / (np + 1) } else { self.kernel.states.len() };
        let mut base = self.base.clone();
        for (&q, &v) in self.wrt.iter().zip(theta) {
            base[q] = v;
        }
        // each region's parameters
        let region_params: Vec<Vec<f64>> = (0..n)
            .map(|i| {
                let mut params = base.clone();
                for (q, values) in &b.per_region {
                    params[*q] = values[i];
                }
                params
            })
            .collect();
        let nsums = b.sums.len();
        let mut states: Vec<Vec<f64>> = vec![vec![0.0; n]; self.kernel.states.len()];
        let mut values = Vec::new();
        // what each region sends at t = 0, and its derivatives: per sum,
        // then per (parameter, sum)
        let mut sent0 = vec![vec![0.0; n]; nsums];
        let mut dsent0 = vec![vec![0.0; n]; np * nsums];
        for (i, params) in region_params.iter().enumerate() {
            let y = self.simulate_initial(params);
            for (st, v) in y.iter().enumerate() {
                states[st][i] = *v;
            }
            if ns > ns_model && self.kernel.states[ns_model] == "refractory_until" {
                states[ns_model][i] = f64::NEG_INFINITY;
            }
            eval_values(m, 0.0, &y, params, &self.value_exprs, &mut values);
            let env = Env { t: 0.0, states: &y, params, values: &values, args: &[] };
            for (k, &e) in b.sent.iter().enumerate() {
                sent0[k][i] = eval(m, e, &env);
                states[b.first_output + k][i] = sent0[k][i];
            }
            for (j, per) in self.init_diff.iter().enumerate() {
                let mut dy = vec![0.0; ns_model];
                for (&st, (direct, through)) in m.init_order.iter().zip(per) {
                    let env = Env { t: 0.0, states: &y, params, values: &values, args: &[] };
                    let mut d = direct.map_or(0.0, |e| eval(m, e, &env));
                    for &(x, e) in through {
                        d += eval(m, e, &env) * dy[x];
                    }
                    dy[st] = d;
                }
                for (k, (direct, through)) in b.sent_diff[j].iter().enumerate() {
                    let mut d = direct.map_or(0.0, |e| eval(m, e, &env));
                    for &(x, e) in through {
                        d += eval(m, e, &env) * dy[x];
                    }
                    dsent0[j * nsums + k][i] = d;
                    states[ns + j * ns + b.first_output + k][i] = d;
                }
                for (st, v) in dy.into_iter().enumerate() {
                    states[ns + j * ns + st][i] = v;
                }
            }
        }
        // the arrays: parameters of interest, per region, propagators,
        // then per parameter the propagators' and sums' derivatives
        let per_neuron: Vec<(usize, Vec<f64>)> =
            self.wrt.iter().zip(theta).map(|(&q, &v)| (q, vec![v; n])).chain(b.per_region.iter().cloned()).collect();
        let mut arrays = kernel::param_arrays(&self.kernel, m, &base, &self.value_exprs, &per_neuron);
        let np_arrays = arrays.len();
        let ne = b.propagators + nsums;
        for da in &self.matrix_diff {
            let per: Vec<Vec<f64>> = region_params
                .iter()
                .map(|params| kernel::propagate::derived_derivatives(&self.kernel, m, params, &self.value_exprs, da))
                .collect();
            for e in 0..b.propagators {
                arrays.push(per.iter().map(|d| d.get(e).copied().unwrap_or(0.0)).collect());
            }
            for _ in 0..nsums {
                arrays.push(vec![0.0; n]);
            }
        }
        // histories: a ring of the last `ring` steps of what was sent (and
        // of its derivatives), slot m % ring holding step m
        let reach = b.sums.iter().map(|(e, _)| e.reach()).max().unwrap_or(0);
        let ring = reach + 2;
        let series = nsums * (1 + if sens { np } else { 0 });
        let mut hist: Vec<Vec<f64>> = vec![vec![0.0; ring * n]; series];
        let initial: Vec<&Vec<f64>> =
            sent0.iter().chain(dsent0.iter().take(if sens { np * nsums } else { 0 })).collect();
        for (h, x0) in hist.iter_mut().zip(&initial) {
            h[..n].copy_from_slice(x0);
        }
        // series c at step m (before 0: the initial value)
        let at = |hist: &[Vec<f64>], c: usize, m: isize, j: usize| -> f64 {
            if m <= 0 {
                initial[c][j]
            } else {
                hist[c][(m as usize % ring) * n + j]
            }
        };
        let emitting = self.kernel.events.len().max(1);
        let (mut idx, mut tim) = (vec![0i64; emitting * n], vec![0.0; emitting * n]);
        let mut out = Trajectory { dy: vec![Vec::new(); if sens { np } else { 0 }], ..Trajectory::default() };
        // the observed quantity and its derivatives at region i
        let regions: Vec<usize> = b.region.map_or_else(|| (0..n).collect(), |k| vec![k]);
        let mut row = vec![0.0; 1 + out.dy.len()];
        let mut sample = |states: &[Vec<f64>], t: f64, out: &mut Trajectory| {
            row.fill(0.0);
            for &i in &regions {
                match &self.observe {
                    Observed::State(st) => {
                        row[0] += states[*st][i];
                        for j in 0..out.dy.len() {
                            row[1 + j] += states[ns + j * ns + st][i];
                        }
                    }
                    Observed::Spikes(_) => {}
                    Observed::Value { value, direct, through } => {
                        let params = &region_params[i];
                        let y: Vec<f64> = states[..ns_model].iter().map(|a| a[i]).collect();
                        eval_values(m, t, &y, params, &self.value_exprs, &mut values);
                        let env = Env { t, states: &y, params, values: &values, args: &[] };
                        row[0] += values[*value];
                        for j in 0..out.dy.len() {
                            let mut x = eval(m, direct[j], &env);
                            for &(st, e) in &through[j] {
                                x += eval(m, e, &env) * states[ns + j * ns + st][i];
                            }
                            row[1 + j] += x;
                        }
                    }
                }
            }
            let scale = 1.0 / regions.len() as f64;
            out.t.push(t);
            out.y.push(row[0] * scale);
            for (j, d) in out.dy.iter_mut().enumerate() {
                d.push(row[1 + j] * scale);
            }
        };
        sample(&states, 0.0, &mut out);
        for step in 0..self.steps {
            if out.t.last().is_some_and(|&t| t >= until) {
                break;
            }
            // the sums of this step, and their derivatives
            for (s, (edges, array)) in b.sums.iter().enumerate() {
                for c in 0..1 + if sens { np } else { 0 } {
                    let series_c = if c == 0 { s } else { nsums + (c - 1) * nsums + s };
                    let target = if c == 0 { *array } else { np_arrays + (c - 1) * ne + b.propagators + s };
                    for (i, slot) in arrays[target].iter_mut().enumerate() {
                        let mut sum = 0.0;
                        for e in &edges.edges[edges.start[i]..edges.start[i + 1]] {
                            let back = step as isize - e.lag as isize;
                            let x = at(&hist, series_c, back, e.source as usize);
                            sum += e.weight
                                * if e.frac == 0.0 {
                                    x
                                } else {
                                    (1.0 - e.frac) * x + e.frac * at(&hist, series_c, back - 1, e.source as usize)
                                };
                        }
                        *slot = sum;
                    }
                }
            }
            let (t, t_next) = (step as f64 * self.dt, (step + 1) as f64 * self.dt);
            let sp: Vec<*mut f64> = states.iter_mut().map(|a| a.as_mut_ptr()).collect();
            let pp: Vec<*const f64> = arrays.iter().map(|a| a.as_ptr()).collect();
            // SAFETY: every state and parameter array holds n values and
            // lives through the call; the spike buffers hold n per event
            unsafe { self.code.call(&sp, &pp, n, (t, t_next), &mut idx, &mut tim) };
            let slot = ((step + 1) % ring) * n;
            for s in 0..nsums {
                hist[s][slot..slot + n].copy_from_slice(&states[b.first_output + s]);
                for j in 0..if sens { np } else { 0 } {
                    hist[nsums + j * nsums + s][slot..slot + n]
                        .copy_from_slice(&states[ns + j * ns + b.first_output + s]);
                }
            }
            if (step + 1) % self.every == 0 {
                if let Some(bad) =
                    states.iter().position(|a| a.iter().any(|x| !x.is_finite() && *x != f64::NEG_INFINITY))
                {
                    let what = if bad < ns {
                        format!("`{}` diverged", m.states.get(bad).map_or("a state", |x| x.name.as_str()))
                    } else {
                        "the sensitivities stopped being finite".to_string()
                    };
                    return Err(self.blew_up(&what, t_next, theta));
                }
                sample(&states, t_next, &mut out);
            }
        }
        Ok(out)
    }
}
