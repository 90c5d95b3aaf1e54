//! Forward sensitivities of a kernel: the derivative of one step with
//! respect to chosen parameters, built as more instructions of the same
//! kernel, so that the JIT compiles the model and its sensitivity
//! equations into one function.
//!
//! Input: a built [`Kernel`] whose parameters of interest are per-neuron
//! arrays (`Param(q)`), and its arrays whose derivatives are inputs of
//! the kernel too: derived propagators (see [`super::propagate`]), a
//! brain's sums over the other regions. Output: a kernel with the same
//! instructions followed by their derivatives (forward mode over the SSA
//! instructions: each instruction's derivative is built from its
//! operands' derivatives by the chain rule, once per parameter), whose
//! states are the model's states followed by, for each parameter j, the
//! derivative of every state with respect to it (`d(V)/d(gNa)`), and
//! whose parameter arrays are the original ones followed by, for each
//! parameter j, the derivative of each of those arrays with respect to it
//! (a propagator's filled by [`super::propagate::derived_derivatives`], a
//! sum's by the brain that forms it).
//!
//! What this differentiates is the discrete map of one step, the scheme
//! as it runs (exponential Euler, exact propagators, Runge-Kutta stages,
//! unrolled Newton iterations), not the continuous sensitivity equations:
//! the results equal the derivatives of the simulated trajectory, which is
//! what a fit of the simulated model to data needs, and they agree with
//! central finite differences of the simulation to rounding. Events: an
//! event that fires selects its assignments' values and their
//! derivatives; the firing itself is piecewise constant (its derivative is
//! zero almost everywhere), and the event's interpolated time is
//! differentiated like any value, so the refractory end `t_spike + t_ref`
//! carries d t_spike / d p = -(dV/dp) / (dV/dt) at the crossing: the
//! discrete form of the jump condition of hybrid systems (the saltation
//! matrix; Hiskens & Pai 2000, IEEE Trans. Circuits Syst. I 47:204).

use super::{eliminate_dead, kmath, Cmp, Inst, Kernel, Unsupported, Val};

/// The kernel with its forward sensitivities with respect to the
/// parameter arrays `wrt` (indices into `k.params`); `derived` lists the
/// arrays of `k.params` whose derivatives are given as arrays too.
pub fn augment(k: &Kernel, wrt: &[u32], derived: &[usize]) -> Result<Kernel, Unsupported> {
    if !k.tables.is_empty() {
        return Err(Unsupported(
            "sensitivities are not derived through rate tables (run without tables: `--no-tables`)".into(),
        ));
    }
    let ns = k.states.len();
    let np = k.params.len();
    let ne = derived.len();
    let mut t =
        Tape { insts: k.insts.clone(), zero: None, one: None, slopes: Default::default(), negated: Default::default() };
    let mut stores = k.stores.clone();
    let mut states = k.states.clone();
    let mut params = k.params.clone();
    for (j, &q) in wrt.iter().enumerate() {
        let p_name = k.params.get(q as usize).cloned().unwrap_or_default();
        let mut d: Vec<Option<Val>> = vec![None; k.insts.len()];
        for (v, inst) in k.insts.iter().enumerate() {
            let input = Input { j, q, ns, np, ne, derived };
            d[v] = t.derive(v as Val, inst, &d, &input)?;
        }
        for (s, name) in k.states.iter().enumerate() {
            let dv = match d[k.stores[s] as usize] {
                Some(dv) => dv,
                None => t.zero(),
            };
            stores.push(dv);
            states.push(format!("d({name})/d({p_name})"));
        }
        for &e in derived {
            params.push(format!("d({})/d({p_name})", k.params[e]));
        }
    }
    let out = Kernel {
        insts: t.insts,
        states,
        params,
        consumed: 0,
        stores,
        events: k.events.clone(),
        dt: k.dt,
        tables: Vec::new(),
        propagators: k.propagators.clone(),
    };
    Ok(eliminate_dead(out))
}

/// Where parameter j's derivatives read their inputs.
struct Input<'a> {
    j: usize,
    /// The parameter array differentiated by.
    q: u32,
    ns: usize,
    np: usize,
    ne: usize,
    derived: &'a [usize],
}

/// The instructions being appended to.
struct Tape {
    insts: Vec<Inst>,
    zero: Option<Val>,
    one: Option<Val>,
    /// The slope of each `Efun` operand, formed once for every parameter
    /// (it does not depend on which parameter is differentiated by).
    slopes: std::collections::HashMap<Val, Val>,
    /// `-v` of each quotient v, formed once.
    negated: std::collections::HashMap<Val, Val>,
}

impl Tape {
    fn push(&mut self, i: Inst) -> Val {
        self.insts.push(i);
        (self.insts.len() - 1) as Val
    }

    fn zero(&mut self) -> Val {
        match self.zero {
            Some(z) => z,
            None => {
                let z = self.push(Inst::Const(0.0));
                self.zero = Some(z);
                z
            }
        }
    }

    fn one(&mut self) -> Val {
        match self.one {
            Some(z) => z,
            None => {
                let z = self.push(Inst::Const(1.0));
                self.one = Some(z);
                z
            }
        }
    }

    fn constant(&mut self, c: f64) -> Val {
        self.push(Inst::Const(c))
    }

    fn add(&mut self, a: Option<Val>, b: Option<Val>) -> Option<Val> {
        match (a, b) {
            (Some(a), Some(b)) => Some(self.push(Inst::Add(a, b))),
            (a, None) => a,
            (None, b) => b,
        }
    }

    fn sub(&mut self, a: Option<Val>, b: Option<Val>) -> Option<Val> {
        match (a, b) {
            (Some(a), Some(b)) => Some(self.push(Inst::Sub(a, b))),
            (a, None) => a,
            (None, Some(b)) => Some(self.push(Inst::Neg(b))),
        }
    }

    /// x * dy.
    fn times(&mut self, x: Val, dy: Option<Val>) -> Option<Val> {
        dy.map(|dy| self.push(Inst::Mul(x, dy)))
    }

    /// mask ? a : b for derivatives (a missing one is zero).
    fn select(&mut self, mask: Val, a: Option<Val>, b: Option<Val>) -> Option<Val> {
        if a.is_none() && b.is_none() {
            return None;
        }
        let a = a.unwrap_or_else(|| self.zero());
        let b = b.unwrap_or_else(|| self.zero());
        Some(self.push(Inst::Select(mask, a, b)))
    }

    /// The derivative of instruction `v` (`inst`), given its operands'.
    fn derive(&mut self, v: Val, inst: &Inst, d: &[Option<Val>], at: &Input) -> Result<Option<Val>, Unsupported> {
        let dv = |x: Val| d[x as usize];
        Ok(match *inst {
            Inst::Const(_) | Inst::Time | Inst::TimeNext => None,
            Inst::State(s) => Some(self.push(Inst::State((at.ns + at.j * at.ns) as u32 + s))),
            Inst::Param(p) if p == at.q => Some(self.one()),
            Inst::Param(p) if at.derived.contains(&(p as usize)) => {
                let e = at.derived.iter().position(|&x| x == p as usize).unwrap_or(0);
                Some(self.push(Inst::Param((at.np + at.j * at.ne + e) as u32)))
            }
            Inst::Param(_) => None,
            // masks and steps are piecewise constant
            Inst::Step(_) | Inst::Cmp(..) | Inst::And(..) | Inst::Or(..) | Inst::Not(_) => None,
            Inst::Neg(a) => dv(a).map(|da| self.push(Inst::Neg(da))),
            Inst::Add(a, b) => self.add(dv(a), dv(b)),
            Inst::Sub(a, b) => self.sub(dv(a), dv(b)),
            Inst::Mul(a, b) => match (dv(a), dv(b)) {
                // a db + b da, the second product fused into the sum
                (Some(da), Some(db)) => {
                    let x = self.push(Inst::Mul(b, da));
                    Some(self.push(Inst::MulAdd(a, db, x)))
                }
                (da, db) => {
                    let (x, y) = (self.times(a, db), self.times(b, da));
                    self.add(x, y)
                }
            },
            Inst::MulAdd(a, b, c) => match (dv(a), dv(b), dv(c)) {
                // a db + (b da + dc), fused
                (Some(da), Some(db), Some(dc)) => {
                    let x = self.push(Inst::MulAdd(b, da, dc));
                    Some(self.push(Inst::MulAdd(a, db, x)))
                }
                (da, db, dc) => {
                    let (x, y) = (self.times(a, db), self.times(b, da));
                    let xy = self.add(x, y);
                    self.add(xy, dc)
                }
            },
            Inst::Div(a, b) => {
                // (da - v db) / b, the product fused into the difference
                let num = match (dv(a), dv(b)) {
                    (Some(da), Some(db)) => {
                        let minus_v = *self.negated.entry(v).or_insert_with_key(|&v| {
                            self.insts.push(Inst::Neg(v));
                            (self.insts.len() - 1) as Val
                        });
                        Some(self.push(Inst::MulAdd(minus_v, db, da)))
                    }
                    (da, db) => {
                        let vdb = self.times(v, db);
                        self.sub(da, vdb)
                    }
                };
                num.map(|n| self.push(Inst::Div(n, b)))
            }
            Inst::Min(a, b) => {
                let lt = self.push(Inst::Cmp(Cmp::Lt, a, b));
                self.select(lt, dv(a), dv(b))
            }
            Inst::Max(a, b) => {
                let gt = self.push(Inst::Cmp(Cmp::Gt, a, b));
                self.select(gt, dv(a), dv(b))
            }
            Inst::Sqrt(a) => dv(a).map(|da| {
                // 0 where sqrt is 0 (its slope is infinite there)
                let half = self.constant(0.5);
                let h = self.push(Inst::Mul(half, da));
                let q = self.push(Inst::Div(h, v));
                let zero = self.zero();
                let pos = self.push(Inst::Cmp(Cmp::Gt, v, zero));
                self.push(Inst::Select(pos, q, zero))
            }),
            Inst::Abs(a) => dv(a).map(|da| {
                let zero = self.zero();
                let neg = self.push(Inst::Cmp(Cmp::Lt, a, zero));
                let minus = self.push(Inst::Neg(da));
                self.push(Inst::Select(neg, minus, da))
            }),
            Inst::Exp(a) => self.times(v, dv(a)),
            Inst::Log(a) => dv(a).map(|da| self.push(Inst::Div(da, a))),
            Inst::Efun(a) => dv(a).map(|da| {
                let g = self.efun_slope(a);
                self.push(Inst::Mul(g, da))
            }),
            Inst::Select(c, a, b) => self.select(c, dv(a), dv(b)),
            Inst::Lookup { .. } => {
                return Err(Unsupported(
                    "sensitivities are not derived through rate tables (run without tables)".into(),
                ))
            }
        })
    }

    /// d/du of u / (e^u - 1), on the same two branches as
    /// [`kmath::efun`]: the series' slope -1/2 + u/6 near 0, else
    /// (D - u E) / D^2 with E = e^u, D = E - 1; 0 above u = 700, where
    /// the slope (-u e^-u) is below 1e-300 and E overflows.
    fn efun_slope(&mut self, u: Val) -> Val {
        if let Some(&s) = self.slopes.get(&u) {
            return s;
        }
        let sixth = self.constant(1.0 / 6.0);
        let half = self.constant(-0.5);
        let series = self.push(Inst::MulAdd(u, sixth, half));
        let e = self.push(Inst::Exp(u));
        let one = self.one();
        let den = self.push(Inst::Sub(e, one));
        let ue = self.push(Inst::Mul(u, e));
        let num = self.push(Inst::Sub(den, ue));
        let den2 = self.push(Inst::Mul(den, den));
        let direct = self.push(Inst::Div(num, den2));
        let abs = self.push(Inst::Abs(u));
        let small = self.constant(kmath::EFUN_SMALL);
        let near = self.push(Inst::Cmp(Cmp::Lt, abs, small));
        let slope = self.push(Inst::Select(near, series, direct));
        let big = self.constant(700.0);
        let over = self.push(Inst::Cmp(Cmp::Gt, u, big));
        let zero = self.zero();
        let s = self.push(Inst::Select(over, zero, slope));
        self.slopes.insert(u, s);
        s
    }
}
