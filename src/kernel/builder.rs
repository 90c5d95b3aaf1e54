//! The kernel builder: IR expressions to SSA instructions.
//!
//! Input: expressions of a model, each read in a [`Frame`] (the values the
//! states and time have there). Output: instructions appended to one list,
//! with value numbering (an instruction that exists already is not pushed
//! again), constant folding through [`interp::apply`], and a few exact
//! rewrites (`x * 1`, `x + 0`, division by a constant, negations pushed
//! into their operands).
//!
//! Invariants: each (frame id, expression node) is built once and remembered,
//! so a subexpression shared in the IR's DAG costs one visit however often
//! it is read; the walk is iterative (no recursion whose depth the model
//! sets) and visits children left to right before their node, the order of
//! a recursive walk, so the instruction list is the same either way.

use super::{interp, Cmp, Inst, Unsupported, Val};
use crate::ir::{Builtin, ExprId, Model, NodeKind, Var};
use crate::syntax::ast::BinOp;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A fast hash for small integer keys (the multiply-rotate hash of
/// rustc's `FxHasher`): the builder hashes every node it visits, and the
/// standard library's SipHash would be most of its time.
#[derive(Default, Clone, Copy)]
pub(super) struct Fx(u64);

impl Fx {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.add(u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]));
        }
        for &b in words.remainder() {
            self.add(b as u64);
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map hashed with [`Fx`].
pub(super) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;

/// The values expressions see: states (old, a stage, or new) and time.
/// A frame borrows its base values and holds the few that differ from
/// them (a Runge-Kutta stage's block, an exact block's states at zero), so
/// making one costs what it changes, not the number of states. Its `id`
/// (from [`Builder::frame_id`]) names its memo: frames with one id must
/// have the same values.
pub(super) struct Frame<'a> {
    pub id: u32,
    base: &'a [Val],
    changed: FxMap<usize, Val>,
    pub t: Val,
}

impl<'a> Frame<'a> {
    pub fn new(id: u32, base: &'a [Val], t: Val) -> Frame<'a> {
        Frame { id, base, changed: FxMap::default(), t }
    }

    /// `base` with the states of `changed` replaced.
    pub fn with(id: u32, base: &'a [Val], changed: FxMap<usize, Val>, t: Val) -> Frame<'a> {
        Frame { id, base, changed, t }
    }

    pub fn state(&self, i: usize) -> Val {
        self.changed.get(&i).copied().unwrap_or(self.base[i])
    }
}

pub(super) struct Builder<'m> {
    pub m: &'m Model,
    pub params: &'m [f64],
    pub per_neuron: &'m [usize],
    /// Each parameter's per-neuron array, if it has one.
    slot_of: Vec<Option<u32>>,
    value_overrides: &'m [Option<ExprId>],
    pub insts: Vec<Inst>,
    numbering: FxMap<(u8, u64, u32, u32), Val>,
    /// Frame ids handed out.
    frames: u32,
    /// The model's values with the parameters' (for exact blocks' matrices).
    constant_values: Option<Vec<f64>>,
    /// (frame id, node) -> its value: each node is built once per frame.
    memo: FxMap<(u32, ExprId), Val>,
    /// Values of event arguments (a port's summed input).
    pub event_args: HashMap<usize, Val>,
    /// Names of values, for the columns of rate tables: derived values,
    /// gates' rates, exponential Euler's g.
    pub names: HashMap<Val, String>,
    /// Values a rate table must not hold: the event levels and conditions
    /// at the start of the step, which must equal the exact ones computed
    /// at the previous step's end (or a crossing would count twice).
    pub exact: HashSet<Val>,
    /// Exact blocks whose propagators are per-neuron arrays (after the
    /// per-neuron parameters, before the ports).
    pub propagators: super::propagate::Propagators,
    /// The first state array after the model's states and
    /// `refractory_until`: where hidden states start.
    pub hidden_base: u32,
    /// Hidden per-neuron states a scheme carries from step to step (rk45's
    /// step size): their names and new values, stored after
    /// `refractory_until` and before any outputs. They start at 0 (-inf
    /// in networks): a scheme reads a value that is not positive as unset.
    pub hidden: Vec<(String, Val)>,
}

impl<'m> Builder<'m> {
    pub fn new(
        m: &'m Model,
        params: &'m [f64],
        per_neuron: &'m [usize],
        value_overrides: &'m [Option<ExprId>],
    ) -> Builder<'m> {
        let mut slot_of = vec![None; m.params.len()];
        for (slot, &p) in per_neuron.iter().enumerate() {
            if let Some(s) = slot_of.get_mut(p) {
                s.get_or_insert(slot as u32);
            }
        }
        Builder {
            m,
            params,
            per_neuron,
            slot_of,
            value_overrides,
            insts: Vec::new(),
            numbering: FxMap::default(),
            frames: 0,
            constant_values: None,
            memo: FxMap::default(),
            event_args: HashMap::new(),
            names: HashMap::new(),
            exact: HashSet::new(),
            propagators: Default::default(),
            hidden_base: 0,
            hidden: Vec::new(),
        }
    }

    /// The parameter array of input port `k`: after the per-neuron
    /// parameters and the derived arrays.
    pub fn port_slot(&self, k: usize) -> u32 {
        (self.per_neuron.len() + self.propagators.entries.len() + k) as u32
    }

    /// The parameter array of derived array `i`.
    pub fn derived_slot(&self, i: usize) -> u32 {
        (self.per_neuron.len() + i) as u32
    }

    /// A new frame id.
    pub fn frame_id(&mut self) -> u32 {
        self.frames += 1;
        self.frames
    }

    /// The model's values (inputs with their overrides) for the
    /// parameters' values, computed once.
    pub fn constant_values(&mut self) -> &[f64] {
        let (m, params) = (self.m, self.params);
        let overrides = self.value_overrides;
        self.constant_values.get_or_insert_with(|| {
            let exprs: Vec<ExprId> = (m.values.iter().enumerate())
                .map(|(k, v)| overrides.get(k).copied().flatten().unwrap_or(v.expr))
                .collect();
            super::propagate::constant_values(m, params, &exprs)
        })
    }

    /// Whether parameter `p` has a per-neuron array.
    pub fn per_neuron(&self, p: usize) -> bool {
        self.slot_of.get(p).is_some_and(|s| s.is_some())
    }

    /// Names value `v` unless it has a name already.
    pub fn name(&mut self, v: Val, name: String) {
        self.names.entry(v).or_insert(name);
    }

    pub fn push_raw(&mut self, inst: Inst) -> Val {
        let key = inst.key();
        if let Some(v) = self.numbering.get(&key) {
            return *v;
        }
        let v = self.insts.len() as Val;
        self.insts.push(inst);
        self.numbering.insert(key, v);
        v
    }

    pub fn push(&mut self, inst: Inst) -> Val {
        self.push_raw(inst)
    }

    pub fn konst(&mut self, c: f64) -> Val {
        self.push_raw(Inst::Const(c))
    }

    /// a * b + c with one rounding, folded when all three are constant.
    pub fn mul_add(&mut self, a: Val, b: Val, c: Val) -> Val {
        match (self.as_const(a), self.as_const(b), self.as_const(c)) {
            (Some(x), Some(y), Some(z)) => self.konst(x.mul_add(y, z)),
            _ => self.push_raw(Inst::MulAdd(a, b, c)),
        }
    }

    pub fn as_const(&self, v: Val) -> Option<f64> {
        match self.insts[v as usize] {
            Inst::Const(c) => Some(c),
            _ => None,
        }
    }

    /// A unary operation, folded when its operand is constant. Negations
    /// are pushed into their operands (exact in IEEE arithmetic): --x = x,
    /// -((-a) - b) = a + b, -(x * c) = x * (-c).
    pub fn un(&mut self, op: fn(Val) -> Inst, a: Val) -> Val {
        let inst = op(a);
        if let Some(x) = self.as_const(a) {
            let folded = interp::apply(&inst, &|v| if v == a { x } else { f64::NAN });
            return self.konst(folded);
        }
        if let Inst::Neg(_) = inst {
            match self.insts[a as usize] {
                Inst::Neg(x) => return x,
                Inst::Sub(l, r) => {
                    if let Inst::Neg(x) = self.insts[l as usize] {
                        return self.bin(Inst::Add, x, r);
                    }
                    return self.bin(Inst::Sub, r, l);
                }
                Inst::Mul(x, c) if self.as_const(c).is_some() => {
                    let nc = self.konst(-self.as_const(c).unwrap_or(0.0));
                    return self.bin(Inst::Mul, x, nc);
                }
                _ => {}
            }
        }
        self.push_raw(inst)
    }

    /// A binary operation: folded on constants, x * 1 and x + 0 dropped,
    /// division by a constant turned into multiplication by its reciprocal.
    pub fn bin(&mut self, op: fn(Val, Val) -> Inst, a: Val, b: Val) -> Val {
        let inst = op(a, b);
        let (ca, cb) = (self.as_const(a), self.as_const(b));
        if let (Some(x), Some(y)) = (ca, cb) {
            let folded = interp::apply(&inst, &|v| if v == a { x } else { y });
            return self.konst(folded);
        }
        // (-x) * c = x * (-c)
        if let (Inst::Mul(..), Some(c)) = (inst, cb) {
            if let Inst::Neg(x) = self.insts[a as usize] {
                let nc = self.konst(-c);
                return self.bin(Inst::Mul, x, nc);
            }
        }
        match (inst, ca, cb) {
            (Inst::Mul(..), Some(1.0), _) | (Inst::Add(..), Some(0.0), _) => return b,
            (Inst::Mul(..), _, Some(1.0)) | (Inst::Add(..), _, Some(0.0)) | (Inst::Sub(..), _, Some(0.0)) => return a,
            (Inst::Div(..), _, Some(y)) if y != 0.0 && y.is_finite() => {
                let r = self.konst(1.0 / y);
                return self.push_raw(Inst::Mul(a, r));
            }
            _ => {}
        }
        self.push_raw(inst)
    }

    /// Whether value `k` (an input) has an override.
    pub fn value_overridden(&self, k: usize) -> bool {
        self.value_overrides.get(k).is_some_and(|o| o.is_some())
    }

    /// The expression a derived value (or an input) stands for.
    pub fn value_expr(&self, k: usize) -> Result<ExprId, Unsupported> {
        match self.value_overrides.get(k).copied().flatten() {
            Some(e) => Ok(e),
            None => self.m.values.get(k).map(|v| v.expr).ok_or_else(|| Unsupported("missing value".into())),
        }
    }

    /// Pushes the nodes `e` reads onto `stack`, the first on top (so built
    /// first), leaving out those built already.
    fn push_children(&self, e: ExprId, f: &Frame, stack: &mut Vec<(ExprId, bool)>) -> Result<(), Unsupported> {
        let mut push = |c: &ExprId| {
            if !self.memo.contains_key(&(f.id, *c)) {
                stack.push((*c, false));
            }
        };
        match self.m.arena.kind(e) {
            NodeKind::Var(Var::Value(k)) => push(&self.value_expr(*k)?),
            NodeKind::Const(_) | NodeKind::Var(_) => {}
            NodeKind::Neg(a) | NodeKind::Not(a) => push(a),
            NodeKind::Bin(_, a, b) => [b, a].into_iter().for_each(push),
            NodeKind::Call(_, args) => args.iter().rev().for_each(push),
            NodeKind::If(c, a, b) => [b, a, c].into_iter().for_each(push),
        }
        Ok(())
    }

    /// Builds expression `root` in frame `f`: every node after its
    /// children, each (frame, node) once. Leaves are not remembered, but
    /// still built in their turn, so that the instructions come in the
    /// order of a recursive walk.
    pub fn expr(&mut self, root: ExprId, f: &Frame) -> Result<Val, Unsupported> {
        let mut stack = vec![(root, false)];
        while let Some((e, children_done)) = stack.pop() {
            if children_done {
                let v = self.node(e, f)?;
                self.memo.insert((f.id, e), v);
            } else if self.is_leaf(e) {
                self.node(e, f)?;
            } else if !self.memo.contains_key(&(f.id, e)) {
                stack.push((e, true));
                self.push_children(e, f, &mut stack)?;
            }
        }
        self.built(root, f)
    }

    /// The value of a child of a node being built (built already; a leaf
    /// is looked up again, which pushes nothing new).
    fn built(&mut self, e: ExprId, f: &Frame) -> Result<Val, Unsupported> {
        if self.is_leaf(e) {
            return self.node(e, f);
        }
        Ok(self.memo[&(f.id, e)])
    }

    /// Whether node `e` is a constant or a variable other than a derived
    /// value: cheaper to look up again than to remember.
    fn is_leaf(&self, e: ExprId) -> bool {
        match self.m.arena.kind(e) {
            NodeKind::Const(_) => true,
            NodeKind::Var(v) => !matches!(v, Var::Value(_)),
            _ => false,
        }
    }

    /// Builds node `e` whose children are built.
    fn node(&mut self, e: ExprId, f: &Frame) -> Result<Val, Unsupported> {
        let m = self.m;
        Ok(match m.arena.kind(e) {
            // `true` and `false` are masks, not numbers
            NodeKind::Const(c) if m.arena.ty(e) == crate::ir::Ty::Bool => {
                let z = self.konst(0.0);
                self.push_raw(Inst::Cmp(if *c != 0.0 { Cmp::Eq } else { Cmp::Ne }, z, z))
            }
            NodeKind::Const(c) => self.konst(*c),
            NodeKind::Var(Var::Param(p)) => match self.slot_of.get(*p).copied().flatten() {
                Some(slot) => self.push(Inst::Param(slot)),
                None => self.konst(self.params.get(*p).copied().unwrap_or(f64::NAN)),
            },
            NodeKind::Var(Var::State(i)) => f.state(*i),
            NodeKind::Var(Var::Time) => f.t,
            NodeKind::Var(Var::Value(k)) => {
                let v = self.built(self.value_expr(*k)?, f)?;
                if let Some(value) = m.values.get(*k) {
                    self.name(v, value.name.clone());
                }
                v
            }
            NodeKind::Var(Var::EventArg(a)) => match self.event_args.get(a) {
                Some(v) => *v,
                None => return Err(Unsupported("presynaptic event arguments outside an input port".into())),
            },
            NodeKind::Neg(a) => {
                let a = self.built(*a, f)?;
                self.un(Inst::Neg, a)
            }
            NodeKind::Not(a) => {
                let a = self.built(*a, f)?;
                self.push_raw(Inst::Not(a))
            }
            NodeKind::Bin(op, a, b) => {
                let (x, y) = (self.built(*a, f)?, self.built(*b, f)?);
                self.binary(*op, x, y)?
            }
            NodeKind::Call(fun, args) => {
                let vals: Vec<Val> = args.iter().map(|a| self.built(*a, f)).collect::<Result<_, _>>()?;
                self.call(*fun, &vals)?
            }
            NodeKind::If(c, a, b) => {
                let (c, x, y) = (self.built(*c, f)?, self.built(*a, f)?, self.built(*b, f)?);
                if m.arena.ty(e) == crate::ir::Ty::Bool {
                    // an `if` of conditions: (c and x) or (not c and y)
                    let cx = self.push_raw(Inst::And(c, x));
                    let nc = self.push_raw(Inst::Not(c));
                    let ny = self.push_raw(Inst::And(nc, y));
                    self.push_raw(Inst::Or(cx, ny))
                } else {
                    self.push_raw(Inst::Select(c, x, y))
                }
            }
        })
    }

    fn binary(&mut self, op: BinOp, x: Val, y: Val) -> Result<Val, Unsupported> {
        Ok(match op {
            BinOp::Add => self.bin(Inst::Add, x, y),
            BinOp::Sub => self.bin(Inst::Sub, x, y),
            BinOp::Mul => self.bin(Inst::Mul, x, y),
            BinOp::Div => self.bin(Inst::Div, x, y),
            BinOp::Pow => self.pow(x, y)?,
            BinOp::Lt => self.push_raw(Inst::Cmp(Cmp::Lt, x, y)),
            BinOp::Le => self.push_raw(Inst::Cmp(Cmp::Le, x, y)),
            BinOp::Gt => self.push_raw(Inst::Cmp(Cmp::Gt, x, y)),
            BinOp::Ge => self.push_raw(Inst::Cmp(Cmp::Ge, x, y)),
            BinOp::Eq => self.push_raw(Inst::Cmp(Cmp::Eq, x, y)),
            BinOp::Ne => self.push_raw(Inst::Cmp(Cmp::Ne, x, y)),
            BinOp::And => self.push_raw(Inst::And(x, y)),
            BinOp::Or => self.push_raw(Inst::Or(x, y)),
        })
    }

    fn call(&mut self, fun: Builtin, vals: &[Val]) -> Result<Val, Unsupported> {
        let a = vals.first().copied().unwrap_or(0);
        Ok(match fun {
            Builtin::Exp => self.un(Inst::Exp, a),
            Builtin::Log => self.un(Inst::Log, a),
            Builtin::Log10 => {
                let l = self.un(Inst::Log, a);
                let c = self.konst(1.0 / std::f64::consts::LN_10);
                self.bin(Inst::Mul, l, c)
            }
            Builtin::Efun => self.un(Inst::Efun, a),
            Builtin::Sqrt => self.un(Inst::Sqrt, a),
            Builtin::Abs => self.un(Inst::Abs, a),
            Builtin::Step => self.un(Inst::Step, a),
            Builtin::Min => self.bin(Inst::Min, a, vals[1]),
            Builtin::Max => self.bin(Inst::Max, a, vals[1]),
            Builtin::Tanh => {
                // tanh x = 1 - 2 / (e^{2x} + 1)
                let two = self.konst(2.0);
                let x2 = self.bin(Inst::Mul, two, a);
                let e = self.un(Inst::Exp, x2);
                let one = self.konst(1.0);
                let d = self.bin(Inst::Add, e, one);
                let q = self.bin(Inst::Div, two, d);
                self.bin(Inst::Sub, one, q)
            }
            Builtin::Sin
            | Builtin::Cos
            | Builtin::Tan
            | Builtin::Atan
            | Builtin::Sinh
            | Builtin::Cosh
            | Builtin::Sign
            | Builtin::EfunPrime => match self.as_const(a) {
                // a constant folds through libm, as the reference computes it
                Some(x) => self.konst(fun.eval(&[x])),
                None => match self.composed(fun, a) {
                    Some(v) => v,
                    None => return Err(Unsupported(format!("`{}` in a kernel", fun.name()))),
                },
            },
        })
    }

    /// x^y: small integer powers by multiplication, else exp(y ln x) when x
    /// is constant.
    fn pow(&mut self, x: Val, y: Val) -> Result<Val, Unsupported> {
        match (self.as_const(x), self.as_const(y)) {
            (Some(a), Some(b)) => Ok(self.konst(a.powf(b))),
            (_, Some(p)) if p.fract() == 0.0 && p.abs() <= 1e6 => {
                let n = p.abs() as u32;
                let mut acc = self.konst(1.0);
                // square-and-multiply, low bit first
                let mut base = x;
                let mut e = n;
                let mut first = true;
                while e > 0 {
                    if e & 1 == 1 {
                        acc = if first { base } else { self.bin(Inst::Mul, acc, base) };
                        first = false;
                    }
                    e >>= 1;
                    if e > 0 {
                        base = self.bin(Inst::Mul, base, base);
                    }
                }
                if p < 0.0 {
                    let one = self.konst(1.0);
                    acc = self.bin(Inst::Div, one, acc);
                }
                Ok(acc)
            }
            (Some(a), None) if a > 0.0 => {
                let ln = self.konst(a.ln());
                let e = self.bin(Inst::Mul, y, ln);
                Ok(self.un(Inst::Exp, e))
            }
            // x^y = e^{y ln x}: defined for x > 0 (NaN for x < 0, as powf
            // with a non-integer exponent)
            _ => {
                let l = self.un(Inst::Log, x);
                let e = self.bin(Inst::Mul, y, l);
                Ok(self.un(Inst::Exp, e))
            }
        }
    }
}
