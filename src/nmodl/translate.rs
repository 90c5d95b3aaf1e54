//! A parsed .mod file -> the text of an equivalent `.neuro` channel.
//!
//! NMODL computes with plain numbers, each in its variable's declared unit
//! (v in mV, a conductance in S/cm2, time in ms). The channel does the
//! same: every NMODL name becomes a plain number, `(V / 1 mV)` for `v`,
//! `(gbar / (1 S/cm^2))` for a parameter with a unit, and every derived
//! value is such a number; the units come back at the edges, where the
//! channel meets the neuron: `dX/dt = (...) / 1 ms`, rates per ms, and
//! `current i = (...) * 1 mA/cm^2`. So the translation does not depend on
//! whether the file's units are consistent, and neuroc checks the edges.
//!
//! Straight-line code becomes one derived value per assignment (a name
//! assigned again gets `_2`, `_3`, ...); a PROCEDURE is inlined where it
//! is called (once per set of arguments); a FUNCTION becomes an `fn`;
//! `if` becomes `if ... then ... else`.

use super::names::{builtin, default_reversal, number, safe, unit, RESERVED};
use super::parse::{Decl, Expr, Mod, Routine, Stmt};
use crate::diag::{Code, Diagnostic};
use crate::source::Span;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

/// The translation: the channel's name and text, and notes for the user.
pub struct Imported {
    pub name: String,
    pub text: String,
    pub notes: Vec<String>,
    /// The ion names the channel reads but does not compute (`ca_i`,
    /// `ca_o`, `i_ca`): what a neuron using it must supply.
    pub ambient: Vec<String>,
}

struct Translator<'m> {
    m: &'m Mod,
    /// NMODL names of the model's own variables -> their number.
    base: HashMap<String, String>,
    /// Names taken in the channel.
    taken: HashSet<String>,
    /// The derived values and equations, in order.
    lines: Vec<String>,
    kinetic: Vec<String>,
    /// States given an initial value by INITIAL.
    initial: HashMap<String, String>,
    steady: bool,
    states: HashMap<String, Option<String>>,
    /// Procedures already inlined: (name and arguments) -> the names they set.
    memo: HashMap<String, Vec<(String, String)>>,
    /// FUNCTIONs as `fn`s: NMODL name -> `.neuro` name.
    functions: HashMap<String, String>,
    fn_lines: Vec<String>,
    notes: Vec<String>,
    depth: usize,
    /// NMODL names whose `.neuro` name is not their safe form: a
    /// concentration the mechanism computes as a STATE (`cai` -> `ca_i`).
    renames: HashMap<String, String>,
}

fn unsupported(what: &str, span: Span, help: &str) -> Diagnostic {
    Diagnostic::error(Code::NmodlUnsupported, format!("{what} cannot be imported"))
        .at(span, "not translated")
        .help(help.to_string())
}

impl<'m> Translator<'m> {
    /// The `.neuro` name of an NMODL state.
    fn neuro_name(&self, nmodl: &str) -> String {
        self.renames.get(nmodl).cloned().unwrap_or_else(|| safe(nmodl))
    }

    fn fresh(&mut self, base: &str) -> String {
        let first = safe(base);
        if self.taken.insert(first.clone()) {
            return first;
        }
        let free = (2..).map(|k| format!("{}_{k}", base)).find(|n| self.taken.insert(n.clone()));
        free.expect("a free name") // ok: an unbounded range of names always has a free one
    }

    fn lookup(&self, env: &HashMap<String, String>, name: &str, span: Span) -> Result<String, Box<Diagnostic>> {
        env.get(name).or_else(|| self.base.get(name)).cloned().ok_or_else(|| {
            Box::new(
                Diagnostic::error(Code::NmodlName, format!("`{name}` has no value here"))
                    .at(span, "not a parameter, state, ion variable or value assigned before")
                    .help("neuroc translates straight-line code: a name must be assigned before it is read"),
            )
        })
    }

    fn expr(&mut self, e: &Expr, env: &HashMap<String, String>) -> Result<String, Box<Diagnostic>> {
        Ok(match e {
            Expr::Num(x) => number(*x),
            Expr::Var(name, span) => self.lookup(env, name, *span)?,
            Expr::Str(span) => {
                return Err(Box::new(unsupported("a string", *span, "strings are only printf's, which neuroc drops")))
            }
            Expr::Index(what, span) => {
                return Err(Box::new(unsupported(
                    &format!("the array element `{what}`"),
                    *span,
                    "neuroc's channels have no arrays: write the elements as names of their own",
                )))
            }
            Expr::Neg(a) => format!("(-{})", self.expr(a, env)?),
            Expr::Not(a) => format!("(not {})", self.expr(a, env)?),
            Expr::Bin(op, a, b) => {
                let op = match op.as_str() {
                    "&&" => "and",
                    "||" => "or",
                    o => o,
                };
                format!("({} {op} {})", self.expr(a, env)?, self.expr(b, env)?)
            }
            Expr::Call(name, args, span) => {
                let args: Vec<String> = args.iter().map(|a| self.expr(a, env)).collect::<Result<_, _>>()?;
                let f = match builtin(name) {
                    Some(b) => b.to_string(),
                    None => self.function(name, *span)?,
                };
                format!("{f}({})", args.join(", "))
            }
        })
    }

    /// The `fn` of FUNCTION `name`, translated on first use.
    fn function(&mut self, name: &str, span: Span) -> Result<String, Box<Diagnostic>> {
        if let Some(f) = self.functions.get(name) {
            return Ok(f.clone());
        }
        let Some(r) = self.m.functions.iter().find(|f| f.name == name) else {
            let what = if self.m.procedures.iter().any(|p| p.name == name) { "a PROCEDURE" } else { "unknown" };
            return Err(Box::new(
                Diagnostic::error(Code::NmodlName, format!("`{name}` is {what}: not a function neuroc knows"))
                    .at(span, "called here")
                    .help(
                        "the builtins are exp, log, log10, sqrt, fabs, pow, the trigonometric functions, fmin and fmax",
                    ),
            ));
        };
        if self.depth > 16 {
            return Err(Box::new(unsupported("a recursive FUNCTION", r.span, "write it without recursion")));
        }
        let fname = if RESERVED.contains(&name) || builtin(name).is_some() {
            self.fresh(&format!("{name}_mod"))
        } else {
            self.fresh(name)
        };
        self.functions.insert(name.to_string(), fname.clone());
        // the arguments: plain names of their own, which hide the model's
        let formals: Vec<String> = r.formals.iter().map(|f| format!("{f}_arg")).collect();
        let mut env: HashMap<String, String> = r.formals.iter().cloned().zip(formals.iter().cloned()).collect();
        self.depth += 1;
        let result = self.substitute(&r.body, &mut env);
        self.depth -= 1;
        result?;
        let Some(value) = env.get(name).cloned() else {
            return Err(Box::new(
                Diagnostic::error(Code::NmodlName, format!("FUNCTION `{name}` never assigns its value"))
                    .at(r.span, "here")
                    .help(format!("assign `{name} = ...` in its body")),
            ));
        };
        self.fn_lines.push(format!("fn {fname}({}) = {value}", formals.join(", ")));
        Ok(fname)
    }

    /// Statements evaluated by substitution (a FUNCTION's body, an `if`'s
    /// branch): each assignment rewrites the name's expression in `env`.
    fn substitute(&mut self, stmts: &[Stmt], env: &mut HashMap<String, String>) -> Result<(), Box<Diagnostic>> {
        for s in stmts {
            match s {
                Stmt::Local(_) | Stmt::Table | Stmt::Conserve => {}
                Stmt::Assign { name, value, .. } => {
                    let v = self.expr(value, env)?;
                    env.insert(name.clone(), v);
                }
                Stmt::If { cond, then, otherwise } => {
                    let c = self.expr(cond, env)?;
                    let (mut a, mut b) = (env.clone(), env.clone());
                    self.substitute(then, &mut a)?;
                    self.substitute(otherwise, &mut b)?;
                    let names: HashSet<&String> = a.keys().chain(b.keys()).collect();
                    let mut merged = Vec::new();
                    for n in names {
                        let (x, y) = (a.get(n), b.get(n));
                        if x != y {
                            let (Some(x), Some(y)) = (x, y) else { continue };
                            merged.push((n.clone(), format!("(if {c} then {x} else {y})")));
                        }
                    }
                    env.extend(merged);
                }
                Stmt::Unsupported(what, span) => {
                    return Err(Box::new(unsupported(what, *span, "rewrite it in NMODL without it")))
                }
                Stmt::Solve { span, .. } | Stmt::Deriv { span, .. } | Stmt::Reaction { span, .. } => {
                    return Err(Box::new(unsupported("this statement in a FUNCTION or an `if`", *span, "move it out")))
                }
                Stmt::Call { name, span, .. } => {
                    return Err(Box::new(unsupported(
                        &format!("calling `{name}` from a FUNCTION or an `if`"),
                        *span,
                        "call procedures from the top of a block",
                    )))
                }
            }
        }
        Ok(())
    }

    /// Statements at the top of a block: each assignment a derived value.
    fn block(&mut self, stmts: &[Stmt], env: &mut HashMap<String, String>, what: Block) -> Result<(), Box<Diagnostic>> {
        for s in stmts {
            match s {
                Stmt::Local(_) => {}
                Stmt::Table => {
                    let note = "TABLE statements are ignored: neuroc computes the rates exactly (or tabulates them with --table)";
                    if !self.notes.iter().any(|n| n == note) {
                        self.notes.push(note.into());
                    }
                }
                Stmt::Conserve => {
                    let note = "CONSERVE is implied: a kinetic scheme conserves its total occupancy";
                    if !self.notes.iter().any(|n| n == note) {
                        self.notes.push(note.into());
                    }
                }
                Stmt::Assign { name, value, span } => {
                    let v = self.expr(value, env)?;
                    if self.states.contains_key(name) {
                        if what != Block::Initial {
                            return Err(Box::new(unsupported(
                                &format!("assigning the STATE `{name}` outside INITIAL"),
                                *span,
                                "give states ODEs in a DERIVATIVE block or reactions in a KINETIC block",
                            )));
                        }
                        self.initial.insert(name.clone(), v);
                        continue;
                    }
                    let dv = self.fresh(name);
                    self.lines.push(format!("{dv} = {v}"));
                    env.insert(name.clone(), dv);
                }
                Stmt::If { .. } => {
                    let mut sub = env.clone();
                    self.substitute(std::slice::from_ref(s), &mut sub)?;
                    let mut changed: Vec<(String, String)> =
                        sub.into_iter().filter(|(k, v)| env.get(k) != Some(v)).collect();
                    changed.sort();
                    for (k, v) in changed {
                        if self.states.contains_key(&k) {
                            if what == Block::Initial {
                                self.initial.insert(k, v);
                            }
                            continue;
                        }
                        let dv = self.fresh(&k);
                        self.lines.push(format!("{dv} = {v}"));
                        env.insert(k, dv);
                    }
                }
                Stmt::Deriv { name, value, span } => {
                    let Some(unit) = self.states.get(name).cloned() else {
                        return Err(Box::new(
                            Diagnostic::error(Code::NmodlName, format!("`{name}'` for `{name}`, which is not a STATE"))
                                .at(*span, "here")
                                .help("declare it in the STATE block"),
                        ));
                    };
                    if what != Block::Derivative {
                        return Err(Box::new(unsupported("a derivative outside a DERIVATIVE block", *span, "move it")));
                    }
                    let v = self.expr(value, env)?;
                    let scale = unit.map_or(String::new(), |u| format!(" * (1 {u})"));
                    self.lines.push(format!("d{}/dt = {v}{scale} / 1 ms", self.neuro_name(name)));
                }
                Stmt::Reaction { from, to, forward, backward, span } => {
                    if what != Block::Kinetic {
                        return Err(Box::new(unsupported("a reaction outside a KINETIC block", *span, "move it")));
                    }
                    if let Some(sp) = from.iter().chain(to).find(|s| s.contains('[')) {
                        return Err(Box::new(unsupported(
                            &format!("the array species `{sp}`"),
                            *span,
                            "neuroc's channels have no arrays: write the elements as names of their own",
                        )));
                    }
                    if from.len() != 1
                        || to.len() != 1
                        || from.iter().chain(to).any(|s| s.starts_with(|c: char| c.is_ascii_digit()))
                    {
                        return Err(Box::new(unsupported(
                            "a reaction between more than two species",
                            *span,
                            "neuroc's kinetic schemes move occupancy between two species per reaction",
                        )));
                    }
                    for sp in from.iter().chain(to) {
                        if !self.states.contains_key(sp) {
                            return Err(Box::new(
                                Diagnostic::error(Code::NmodlName, format!("species `{sp}` is not a STATE"))
                                    .at(*span, "in this reaction")
                                    .help("declare every species in the STATE block"),
                            ));
                        }
                        if self.states[sp].is_some() {
                            return Err(Box::new(unsupported(
                                &format!("the species `{sp}` with a unit (a concentration)"),
                                *span,
                                "neuroc's kinetic schemes hold occupancies (fractions), not concentrations",
                            )));
                        }
                    }
                    let (f, b) = (self.expr(forward, env)?, self.expr(backward, env)?);
                    self.kinetic.push(format!("{} <-> {} ({f} / 1 ms, {b} / 1 ms)", safe(&from[0]), safe(&to[0])));
                }
                Stmt::Solve { name, method, span } => self.solve(name, method.as_ref(), *span, env, what)?,
                Stmt::Call { name, args, span } => self.call(name, args, *span, env)?,
                Stmt::Unsupported(what, span) => {
                    return Err(Box::new(unsupported(what, *span, "rewrite the mechanism without it")))
                }
            }
        }
        Ok(())
    }

    fn solve(
        &mut self,
        name: &str,
        method: Option<&(String, String)>,
        span: Span,
        env: &mut HashMap<String, String>,
        what: Block,
    ) -> Result<(), Box<Diagnostic>> {
        let kinetic = self.m.kinetics.iter().find(|k| k.name == name);
        let derivative = self.m.derivatives.iter().find(|k| k.name == name);
        let steady = method.is_some_and(|(k, _)| k == "STEADYSTATE");
        match (what, kinetic, derivative) {
            (Block::Initial, Some(_), _) if steady => {
                self.steady = true;
                Ok(())
            }
            (Block::Breakpoint, Some(k), _) => {
                if let Some((_, m)) = method {
                    if m != "sparse" && !m.is_empty() {
                        self.notes.push(format!("METHOD {m} for `{name}`: neuroc integrates the scheme its own way"));
                    }
                }
                let body = k.body.clone();
                self.block(&body, env, Block::Kinetic)
            }
            (Block::Breakpoint, None, Some(d)) => {
                if let Some((_, m)) = method {
                    if !matches!(m.as_str(), "cnexp" | "derivimplicit" | "euler" | "") {
                        self.notes.push(format!("METHOD {m} for `{name}`: neuroc chooses each equation's method"));
                    }
                }
                let body = d.body.clone();
                self.block(&body, env, Block::Derivative)
            }
            _ => Err(Box::new(unsupported(
                &format!("SOLVE {name}{}", method.map_or(String::new(), |(k, m)| format!(" {k} {m}"))),
                span,
                "SOLVE a DERIVATIVE or KINETIC block in BREAKPOINT, or a KINETIC block's STEADYSTATE in INITIAL",
            ))),
        }
    }

    /// A PROCEDURE called with `args`: inlined once per set of arguments.
    fn call(
        &mut self,
        name: &str,
        args: &[Expr],
        span: Span,
        env: &mut HashMap<String, String>,
    ) -> Result<(), Box<Diagnostic>> {
        if name == "printf" {
            let note = "printf statements are dropped";
            if !self.notes.iter().any(|n| n == note) {
                self.notes.push(note.into());
            }
            return Ok(());
        }
        let Some(p) = self.m.procedures.iter().find(|p| p.name == name) else {
            if self.m.functions.iter().any(|f| f.name == name) || builtin(name).is_some() {
                return Ok(()); // a function called for nothing
            }
            return Err(Box::new(
                Diagnostic::error(Code::NmodlName, format!("no PROCEDURE `{name}`"))
                    .at(span, "called here")
                    .help("define it in the file"),
            ));
        };
        if p.formals.len() != args.len() {
            return Err(Box::new(
                Diagnostic::error(Code::NmodlName, format!("`{name}` takes {} arguments", p.formals.len()))
                    .at(span, format!("{} given", args.len()))
                    .help("match the PROCEDURE's arguments"),
            ));
        }
        let actual: Vec<String> = args.iter().map(|a| self.expr(a, env)).collect::<Result<_, _>>()?;
        let key = format!("{name}({})", actual.join(", "));
        if let Some(sets) = self.memo.get(&key) {
            env.extend(sets.iter().cloned());
            return Ok(());
        }
        if self.depth > 16 {
            return Err(Box::new(unsupported("a recursive PROCEDURE", span, "write it without recursion")));
        }
        let p: Routine = p.clone();
        let mut inner = env.clone();
        for (f, a) in p.formals.iter().zip(&actual) {
            inner.insert(f.clone(), a.clone());
        }
        let locals: HashSet<String> = p
            .body
            .iter()
            .filter_map(|s| if let Stmt::Local(n) = s { Some(n.clone()) } else { None })
            .flatten()
            .chain(p.formals.iter().cloned())
            .collect();
        self.depth += 1;
        let r = self.block(&p.body, &mut inner, Block::Procedure);
        self.depth -= 1;
        r?;
        let sets: Vec<(String, String)> =
            inner.into_iter().filter(|(k, v)| !locals.contains(k) && env.get(k) != Some(v)).collect();
        env.extend(sets.iter().cloned());
        self.memo.insert(key, sets);
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Block {
    Initial,
    Breakpoint,
    Derivative,
    Kinetic,
    Procedure,
}

/// Translates `m` into a channel; every problem a diagnostic.
pub fn translate(m: &Mod, whole: Span) -> Result<Imported, Vec<Diagnostic>> {
    let mut errors: Vec<Diagnostic> = m
        .unsupported
        .iter()
        .map(|(what, span)| unsupported(what, *span, "neuroc imports density mechanisms written in NMODL alone"))
        .collect();
    let Some((name, _)) = m.suffix.clone() else {
        if !errors.is_empty() {
            return Err(errors); // a POINT_PROCESS or ARTIFICIAL_CELL, said already
        }
        errors.push(
            Diagnostic::error(Code::NmodlUnsupported, "no SUFFIX: not a density mechanism")
                .at(Span::new(whole.file, 0..0), "the NEURON block names none")
                .help("add `NEURON { SUFFIX name }`"),
        );
        return Err(errors);
    };
    let mut t = Translator {
        m,
        base: HashMap::new(),
        taken: RESERVED.iter().map(|s| s.to_string()).collect(),
        lines: Vec::new(),
        kinetic: Vec::new(),
        initial: HashMap::new(),
        steady: false,
        states: HashMap::new(),
        memo: HashMap::new(),
        functions: HashMap::new(),
        fn_lines: Vec::new(),
        notes: Vec::new(),
        depth: 0,
        renames: HashMap::new(),
    };
    t.base.insert("v".into(), "(V / 1 mV)".into());
    t.base.insert("celsius".into(), "((celsius - 0 degC) / 1 K)".into());
    t.base.insert("t".into(), "(t / 1 ms)".into());
    t.base.insert("PI".into(), number(std::f64::consts::PI));
    // NEURON's constants (nrnunits, 2019 SI values)
    for (alias, meaning) in &m.units {
        let mut words = meaning.split_whitespace();
        let (what, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        match (what, target) {
            ("faraday", "" | "coulomb" | "coulombs" | "coul") => {
                t.base.insert(alias.clone(), number(96_485.332_123_310_02));
            }
            ("faraday", "kilocoulombs" | "kilocoulomb") => {
                t.base.insert(alias.clone(), number(96.485_332_123_310_02));
            }
            ("k-mole", "" | "joule/degC" | "joule/degK" | "joule/K") => {
                t.base.insert(alias.clone(), number(8.314_462_618_153_24));
            }
            _ => {}
        }
    }
    let mut params: Vec<String> = Vec::new();
    let mut currents: Vec<(String, Span)> = m.nonspecific.clone();
    // the ion the channel's currents carry, the ion names it reads from its
    // neuron, and the concentrations it computes as ASSIGNED values
    let mut carried: Vec<(String, String)> = Vec::new();
    let mut ambient: Vec<String> = Vec::new();
    let mut computed: Vec<(String, String, Span)> = Vec::new();
    // NEURON hands ion variables over in fixed units (mM, mA/cm2, mV),
    // whatever unit a file declares them in
    let is_state = |v: &str| m.states.iter().any(|s| s.name == v);
    for ion in &m.ions {
        let x = &ion.name;
        let concentration = |v: &str| {
            if *v == format!("{x}i") {
                Some(format!("{x}_i"))
            } else if *v == format!("{x}o") {
                Some(format!("{x}_o"))
            } else {
                None
            }
        };
        let writes = |v: &str| ion.write.iter().any(|(w, _)| w == v);
        for (v, span) in &ion.read {
            if *v == format!("e{x}") {
                if !m.parameters.iter().any(|p| &p.name == v) {
                    params.push(format!("parameter {v} = {} mV", number(default_reversal(x))));
                    t.base.insert(v.clone(), format!("({v} / 1 mV)"));
                    t.taken.insert(v.clone());
                }
                if ion.write.iter().any(|(w, _)| concentration(w).is_some()) {
                    t.notes.push(format!(
                        "`{v}` is a parameter: NEURON would recompute it from the concentrations this mechanism \
                         writes (the Nernst equation); write `E = R T / (z F) ln(c_o / c_i)` in the channel for that"
                    ));
                }
            } else if *v == format!("i{x}") {
                if writes(v) {
                    errors.push(unsupported(
                        &format!("reading its own current `{v}`"),
                        *span,
                        "a mechanism reads the currents of the others",
                    ));
                    continue;
                }
                let name = format!("i_{x}");
                t.base.insert(v.clone(), format!("({name} / (1 mA/cm^2))"));
                t.taken.insert(name.clone());
                ambient.push(name);
            } else if let Some(name) = concentration(v) {
                if !writes(v) {
                    t.base.insert(v.clone(), format!("({name} / (1 mM))"));
                    t.taken.insert(name.clone());
                    ambient.push(name);
                }
            } else {
                errors.push(unsupported(
                    &format!("reading `{v}` of the ion `{x}`"),
                    *span,
                    &format!("a mechanism reads an ion's reversal potential `e{x}`, current `i{x}` and concentrations `{x}i`, `{x}o`"),
                ));
            }
        }
        for (v, span) in &ion.write {
            if *v == format!("i{x}") {
                carried.push((x.clone(), safe(v)));
                currents.push((v.clone(), *span));
            } else if let Some(name) = concentration(v) {
                t.taken.insert(name.clone());
                if is_state(v) {
                    t.renames.insert(v.clone(), name);
                } else {
                    computed.push((v.clone(), name, *span));
                }
            } else {
                errors.push(unsupported(
                    &format!("writing `{v}` of the ion `{x}`"),
                    *span,
                    &format!("a mechanism writes an ion's current `i{x}` or its concentrations `{x}i`, `{x}o`"),
                ));
            }
        }
    }
    let unit_of = |d: &Decl, errors: &mut Vec<Diagnostic>| -> Option<String> {
        match unit(d.unit.as_deref().unwrap_or(""), &m.units) {
            Ok(u) => u,
            Err(bad) => {
                errors.push(
                    Diagnostic::error(Code::NmodlName, format!("unknown unit `{bad}`"))
                        .at(d.span, "declared here")
                        .help(
                        "declare it in the UNITS block as one of NEURON's units (milliamp, millivolt, siemens, ...)",
                    ),
                );
                None
            }
        }
    };
    for d in m.parameters.iter().chain(&m.states).chain(&m.assigned).filter(|d| d.array) {
        errors.push(unsupported(
            &format!("the array `{}`", d.name),
            d.span,
            "neuroc's channels have no arrays: write the elements as names of their own",
        ));
    }
    for p in &m.parameters {
        if ambient.iter().any(|a| a.replace('_', "") == p.name) {
            // `cao = 2 (mM)` beside `USEION ca READ cao`: NEURON's value is the ion's
            t.notes.push(format!(
                "the PARAMETER `{}` is the ion's concentration the mechanism reads: the neuron's `{}`",
                p.name,
                ambient.iter().find(|a| a.replace('_', "") == p.name).map_or("", String::as_str)
            ));
            continue;
        }
        if matches!(p.name.as_str(), "v" | "celsius" | "t" | "dt") {
            if p.name == "celsius" {
                t.notes.push("`celsius` in PARAMETER is NEURON's global temperature: the neuron's `celsius`".into());
            }
            continue;
        }
        let u = unit_of(p, &mut errors);
        let n = safe(&p.name);
        t.taken.insert(n.clone());
        let value = p.value.unwrap_or(0.0);
        match u.as_deref() {
            Some("degC") => {
                params.push(format!("parameter {n} = {} degC", number(value)));
                t.base.insert(p.name.clone(), format!("(({n} - 0 degC) / 1 K)"));
            }
            Some(u) => {
                params.push(format!("parameter {n} = {} {u}", number(value)));
                t.base.insert(p.name.clone(), format!("({n} / (1 {u}))"));
            }
            None => {
                params.push(format!("parameter {n} = {}", number(value)));
                t.base.insert(p.name.clone(), n);
            }
        }
    }
    for s in &m.states {
        let u = unit_of(s, &mut errors);
        let n = t.neuro_name(&s.name);
        t.taken.insert(n.clone());
        t.base.insert(s.name.clone(), u.as_ref().map_or(n.clone(), |u| format!("({n} / (1 {u}))")));
        t.states.insert(s.name.clone(), u);
    }
    for (c, _) in &currents {
        t.taken.insert(safe(c));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut env = HashMap::new();
    let fail = |r: Result<(), Box<Diagnostic>>, errors: &mut Vec<Diagnostic>| {
        if let Err(d) = r {
            errors.push(*d);
        }
    };
    if let Some(init) = &m.initial {
        let r = t.block(init, &mut env, Block::Initial);
        fail(r, &mut errors);
    }
    let Some(bp) = &m.breakpoint else {
        errors.push(
            Diagnostic::error(Code::NmodlUnsupported, "no BREAKPOINT block: the mechanism has no current")
                .at(Span::new(whole.file, 0..0), "")
                .help("add a BREAKPOINT block that assigns its currents"),
        );
        return Err(errors);
    };
    let r = t.block(bp, &mut env, Block::Breakpoint);
    fail(r, &mut errors);
    if !errors.is_empty() {
        // a current left unassigned by a failed block would only repeat it
        return Err(errors);
    }
    let mut current_lines = Vec::new();
    for (c, span) in &currents {
        match env.get(c) {
            Some(v) => current_lines.push(format!("current {} = {v} * 1 mA/cm^2", safe(c))),
            None => errors.push(
                Diagnostic::error(Code::NmodlName, format!("the current `{c}` is never assigned"))
                    .at(*span, "declared here")
                    .help("assign it in BREAKPOINT"),
            ),
        }
    }
    for (v, name, span) in &computed {
        match env.get(v) {
            Some(value) => current_lines.push(format!("{name} = {value} * (1 mM)")),
            None => errors.push(
                Diagnostic::error(Code::NmodlName, format!("the concentration `{v}` is written but never assigned"))
                    .at(*span, "declared here")
                    .help("assign it in BREAKPOINT or in the DERIVATIVE block BREAKPOINT solves"),
            ),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // the text
    let mut out = String::new();
    writeln!(out, "# Imported by `neuroc import` from NMODL (SUFFIX {name}).").ok();
    if let Some(title) = &m.title {
        writeln!(out, "# TITLE {title}").ok();
    }
    writeln!(
        out,
        "# As in NMODL, every name below is a plain number in its NMODL unit: (V / 1 mV)\n\
         # is NMODL's v, rates are per ms and currents in mA/cm^2; units return at the\n\
         # edges (dX/dt, kinetic rates, currents), where neuroc checks them."
    )
    .ok();
    for n in &t.notes {
        writeln!(out, "# Note: {n}.").ok();
    }
    writeln!(out, "channel {} {{", safe(&name)).ok();
    // which ion carries which current: `ion ca` when one ion carries them all
    match carried.as_slice() {
        [(x, _)] if m.nonspecific.is_empty() => writeln!(out, "    ion {x}").ok(),
        _ => carried.iter().map(|(x, c)| writeln!(out, "    ion {x}: {c}").ok()).last().flatten(),
    };
    for p in &params {
        writeln!(out, "    {p}").ok();
    }
    let mut species: HashSet<String> = HashSet::new();
    for line in &t.kinetic {
        for w in line.split(" <-> ").take(2) {
            species.insert(w.split(' ').next().unwrap_or("").to_string());
        }
    }
    for s in &m.states {
        let n = t.neuro_name(&s.name);
        let unit = t.states[&s.name].clone();
        let init = t.initial.get(&s.name).cloned();
        if species.contains(&n) && init.is_none() && t.steady {
            continue; // starts at the scheme's steady state
        }
        let value = init.unwrap_or_else(|| {
            // NEURON starts a state at its PARAMETER `name0`, if any, else 0
            let start = format!("{}0", s.name);
            t.base.get(&start).cloned().unwrap_or_else(|| "0.0".into())
        });
        match unit {
            Some(u) => writeln!(out, "    state {n} = {value} * (1 {u})").ok(),
            None => writeln!(out, "    state {n} = {value}").ok(),
        };
    }
    for f in &t.fn_lines {
        writeln!(out, "    {f}").ok();
    }
    for l in &t.lines {
        writeln!(out, "    {l}").ok();
    }
    if !t.kinetic.is_empty() {
        writeln!(out, "    kinetic {{").ok();
        for k in &t.kinetic {
            writeln!(out, "        {k}").ok();
        }
        writeln!(out, "    }}").ok();
    }
    for c in &current_lines {
        writeln!(out, "    {c}").ok();
    }
    writeln!(out, "}}").ok();
    Ok(Imported { name: safe(&name), text: out, notes: t.notes, ambient })
}
