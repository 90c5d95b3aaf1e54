//! NMODL text -> [`Mod`]: the blocks `neuroc import` translates, each
//! statement with its span. Syntax errors are E0701 at the place pest
//! stopped.

use crate::diag::{Code, Diagnostic};
use crate::source::{FileId, Span};
use pest::iterators::Pair;
use pest::Parser as _;

#[derive(pest_derive::Parser)]
#[grammar = "grammar/nmodl.pest"]
struct NmodlParser;

#[derive(Clone, Debug)]
pub enum Expr {
    Num(f64),
    Var(String, Span),
    Call(String, Vec<Expr>, Span),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Bin(String, Box<Expr>, Box<Expr>),
    /// `x[i]`: an array element (not translated).
    Index(String, Span),
    /// A string (printf's format).
    Str(Span),
}

#[derive(Clone, Debug)]
pub enum Stmt {
    Local(Vec<String>),
    Solve {
        name: String,
        method: Option<(String, String)>,
        span: Span,
    },
    Table,
    Conserve,
    Reaction {
        from: Vec<String>,
        to: Vec<String>,
        forward: Expr,
        backward: Expr,
        span: Span,
    },
    If {
        cond: Expr,
        then: Vec<Stmt>,
        otherwise: Vec<Stmt>,
    },
    Deriv {
        name: String,
        value: Expr,
        span: Span,
    },
    Assign {
        name: String,
        value: Expr,
        span: Span,
    },
    Call {
        name: String,
        args: Vec<Expr>,
        span: Span,
    },
    /// Something `import` cannot translate: what, and where.
    Unsupported(String, Span),
}

/// A declared variable: name, value (parameters), unit text, where.
#[derive(Clone, Debug)]
pub struct Decl {
    pub name: String,
    pub value: Option<f64>,
    pub unit: Option<String>,
    pub span: Span,
    /// Declared as an array (`x[4]`: not translated).
    pub array: bool,
}

/// A procedure or function: name, formal arguments, body.
#[derive(Clone, Debug)]
pub struct Routine {
    pub name: String,
    pub formals: Vec<String>,
    pub body: Vec<Stmt>,
    pub span: Span,
}

/// `USEION ion READ ... WRITE ...`.
#[derive(Clone, Debug, Default)]
pub struct Ion {
    pub name: String,
    pub read: Vec<(String, Span)>,
    pub write: Vec<(String, Span)>,
}

/// A parsed .mod file.
#[derive(Debug, Default)]
pub struct Mod {
    pub title: Option<String>,
    pub suffix: Option<(String, Span)>,
    pub ions: Vec<Ion>,
    pub nonspecific: Vec<(String, Span)>,
    pub parameters: Vec<Decl>,
    pub states: Vec<Decl>,
    pub assigned: Vec<Decl>,
    /// (user unit name, what it stands for), from UNITS.
    pub units: Vec<(String, String)>,
    pub breakpoint: Option<Vec<Stmt>>,
    pub initial: Option<Vec<Stmt>>,
    pub derivatives: Vec<Routine>,
    pub kinetics: Vec<Routine>,
    pub procedures: Vec<Routine>,
    pub functions: Vec<Routine>,
    /// Constructs that cannot be translated: what, and where.
    pub unsupported: Vec<(String, Span)>,
}

/// Parses `text` (file `file`) into a [`Mod`], or E0701 at the error.
pub fn parse(file: FileId, text: &str) -> Result<Mod, Box<Diagnostic>> {
    let mut pairs = NmodlParser::parse(Rule::file, text).map_err(|e| {
        let at = match e.location {
            pest::error::InputLocation::Pos(p) => p..(p + 1).min(text.len()),
            pest::error::InputLocation::Span((a, b)) => a..b,
        };
        let expected = match &e.variant {
            pest::error::ErrorVariant::ParsingError { positives, .. } if !positives.is_empty() => {
                let mut names: Vec<&str> = Vec::new();
                for name in positives.iter().map(describe) {
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
                names.truncate(6);
                format!("expected {}", names.join(", "))
            }
            _ => "not NMODL here".to_string(),
        };
        Box::new(
            Diagnostic::error(Code::NmodlSyntax, "this is not NMODL that `neuroc import` reads")
                .at(Span::new(file, at), expected)
                .help("neuroc reads the NMODL of NEURON's density mechanisms; check the block's braces and statements"),
        )
    })?;
    let mut m = Mod::default();
    let root = pairs.next().expect("the file rule"); // ok: the grammar guarantees this pair
    let span = |p: &Pair<Rule>| Span::new(file, p.as_span().start()..p.as_span().end());
    for b in root.into_inner() {
        let sp = span(&b);
        match b.as_rule() {
            Rule::title => m.title = Some(b.as_str().trim_start_matches("TITLE").trim().to_string()),
            Rule::verbatim => m.unsupported.push(("VERBATIM (C code)".into(), sp)),
            Rule::include => m.unsupported.push(("INCLUDE (another file's text)".into(), sp)),
            Rule::top_local => m.assigned.extend(b.into_inner().map(|item| {
                let span = Span::new(file, item.as_span().start()..item.as_span().end());
                let mut it = item.into_inner();
                let name = it.next().map_or(String::new(), |i| i.as_str().to_string());
                Decl { name, value: None, unit: None, span, array: it.next().is_some() }
            })),
            Rule::net_receive => m.unsupported.push(("NET_RECEIVE (synaptic events)".into(), sp)),
            Rule::unsupported_block => {
                let word = b.as_str().split_whitespace().next().unwrap_or("").to_string();
                m.unsupported.push((format!("a {word} block"), sp));
            }
            Rule::neuron_block => neuron(&mut m, b, file),
            Rule::units_block => {
                for d in b.into_inner() {
                    let parts: Vec<String> = d.into_inner().map(|p| p.as_str().to_string()).collect();
                    // `(mA) = (milliamp)`; a constant in a unit of its own:
                    // `FARADAY = (faraday) (coulomb)` keeps both, "faraday coulomb"
                    match parts.as_slice() {
                        [alias, meaning] => m.units.push((strip(alias), strip(meaning))),
                        [alias, meaning, target] => {
                            m.units.push((strip(alias), format!("{} {}", strip(meaning), strip(target))))
                        }
                        _ => {}
                    }
                }
            }
            Rule::parameter_block | Rule::constant_block => {
                m.parameters.extend(b.into_inner().map(|d| decl(d, file)));
            }
            Rule::state_block => m.states.extend(b.into_inner().map(|d| decl(d, file))),
            Rule::assigned_block => m.assigned.extend(b.into_inner().map(|d| decl(d, file))),
            Rule::breakpoint => m.breakpoint = Some(body(b.into_inner().next().expect("body"), file)), // ok: the grammar guarantees this pair
            Rule::initial => m.initial = Some(body(b.into_inner().next().expect("body"), file)), // ok: the grammar guarantees this pair
            Rule::derivative | Rule::kinetic => {
                let kinetic = b.as_rule() == Rule::kinetic;
                let mut it = b.into_inner();
                let name = it.next().expect("name").as_str().to_string(); // ok: the grammar guarantees this pair
                let stmts = body(it.next().expect("body"), file); // ok: the grammar guarantees this pair
                let r = Routine { name, formals: vec![], body: stmts, span: sp };
                if kinetic {
                    m.kinetics.push(r)
                } else {
                    m.derivatives.push(r)
                }
            }
            Rule::procedure | Rule::function => {
                let is_fn = b.as_rule() == Rule::function;
                let mut name = String::new();
                let mut formals = Vec::new();
                let mut stmts = Vec::new();
                for p in b.into_inner() {
                    match p.as_rule() {
                        Rule::ident => name = p.as_str().to_string(),
                        Rule::formals => {
                            let name = |f: Pair<Rule>| f.into_inner().next().expect("name").as_str().into(); // ok: the grammar guarantees this pair
                            formals = p.into_inner().map(name).collect()
                        }
                        Rule::body => stmts = body(p, file),
                        _ => {}
                    }
                }
                let r = Routine { name, formals, body: stmts, span: sp };
                if is_fn {
                    m.functions.push(r)
                } else {
                    m.procedures.push(r)
                }
            }
            _ => {}
        }
    }
    Ok(m)
}

/// What a grammar rule is, in a user's words (for E0701).
fn describe(r: &Rule) -> &'static str {
    match r {
        Rule::ident | Rule::word | Rule::idlist | Rule::local_item => "a name",
        Rule::number | Rule::signed => "a number",
        Rule::unit => "a unit in parentheses",
        Rule::expr | Rule::and_e | Rule::cmp | Rule::sum | Rule::product | Rule::unary | Rule::power => "an expression",
        Rule::body | Rule::raw_body => "`{`",
        Rule::kw_if => "`if`",
        Rule::kw_else => "`else`",
        Rule::EOI => "the end of the file",
        Rule::suffix | Rule::point_process | Rule::useion | Rule::nonspecific | Rule::range | Rule::global => {
            "a NEURON statement (SUFFIX, USEION, RANGE, ...)"
        }
        Rule::unit_def => "a unit definition `(mV) = (millivolt)`",
        Rule::param_decl | Rule::var_decl => "a declaration `name = value (unit)`",
        Rule::string => "a string",
        Rule::array => "`[`",
        _ => "a block or statement of NMODL",
    }
}

/// `(mV)` -> `mV`.
fn strip(s: &str) -> String {
    s.trim().trim_start_matches('(').trim_end_matches(')').trim().to_string()
}

fn neuron(m: &mut Mod, b: Pair<Rule>, file: FileId) {
    let span = |p: &Pair<Rule>| Span::new(file, p.as_span().start()..p.as_span().end());
    let names = |p: Pair<Rule>| -> Vec<(String, Span)> {
        p.into_inner()
            .flat_map(|l| l.into_inner())
            .map(|i| (i.as_str().to_string(), Span::new(file, i.as_span().start()..i.as_span().end())))
            .collect()
    };
    for s in b.into_inner() {
        let sp = span(&s);
        match s.as_rule() {
            Rule::suffix => {
                let i = s.into_inner().next().expect("name"); // ok: the grammar guarantees this pair
                m.suffix = Some((i.as_str().to_string(), sp));
            }
            Rule::point_process => {
                m.unsupported.push(("POINT_PROCESS (a point mechanism: only density mechanisms)".into(), sp))
            }
            Rule::useion => {
                let mut ion = Ion::default();
                for p in s.into_inner() {
                    let field = |p: Pair<Rule>| {
                        p.into_inner()
                            .flat_map(|l| l.into_inner())
                            .map(|i| (i.as_str().to_string(), Span::new(file, i.as_span().start()..i.as_span().end())))
                            .collect::<Vec<_>>()
                    };
                    match p.as_rule() {
                        Rule::ident => ion.name = p.as_str().to_string(),
                        Rule::read => ion.read = field(p),
                        Rule::write => ion.write = field(p),
                        _ => {}
                    }
                }
                m.ions.push(ion);
            }
            Rule::nonspecific => m.nonspecific.extend(names(s)),
            Rule::electrode => m.unsupported.push(("ELECTRODE_CURRENT".into(), sp)),
            Rule::pointer => m.unsupported.push(("POINTER (a variable of another mechanism)".into(), sp)),
            Rule::random => m.unsupported.push(("RANDOM (random streams)".into(), sp)),
            Rule::external => m.unsupported.push(("EXTERNAL (a variable of another mechanism)".into(), sp)),
            _ => {}
        }
    }
}

fn decl(d: Pair<Rule>, file: FileId) -> Decl {
    let span = Span::new(file, d.as_span().start()..d.as_span().end());
    let mut it = d.into_inner();
    let name = it.next().expect("name").as_str().to_string(); // ok: the grammar guarantees this pair
    let mut value = None;
    let mut unit = None;
    let mut array = false;
    for p in it {
        match p.as_rule() {
            Rule::array => array = true,
            Rule::signed if value.is_none() => value = p.as_str().replace(' ', "").parse().ok(),
            Rule::unit if unit.is_none() => unit = Some(strip(p.as_str())),
            _ => {}
        }
    }
    Decl { name, value, unit, span, array }
}

fn body(b: Pair<Rule>, file: FileId) -> Vec<Stmt> {
    let mut out = Vec::new();
    for s in b.into_inner() {
        if s.as_rule() == Rule::body {
            out.extend(body(s, file)); // a bare block: its statements in place
        } else if let Some(st) = stmt(s, file) {
            out.push(st);
        }
    }
    out
}

fn stmt(s: Pair<Rule>, file: FileId) -> Option<Stmt> {
    let span = Span::new(file, s.as_span().start()..s.as_span().end());
    Some(match s.as_rule() {
        Rule::local => {
            let items: Vec<Pair<Rule>> = s.into_inner().collect();
            if items.iter().any(|i| i.clone().into_inner().nth(1).is_some()) {
                Stmt::Unsupported("a LOCAL array".into(), span)
            } else {
                Stmt::Local(
                    items.iter().filter_map(|i| i.clone().into_inner().next()).map(|i| i.as_str().into()).collect(),
                )
            }
        }
        Rule::include => Stmt::Unsupported("INCLUDE (another file's text)".into(), span),
        Rule::solve => {
            let mut it = s.into_inner();
            let name = it.next().expect("name").as_str().to_string(); // ok: the grammar guarantees this pair
            let method =
                it.next().map(|k| (k.as_str().to_string(), it.next().map_or(String::new(), |m| m.as_str().into())));
            Stmt::Solve { name, method, span }
        }
        Rule::table => Stmt::Table,
        Rule::conserve => Stmt::Conserve,
        Rule::units_onoff | Rule::compartment => return None,
        Rule::verbatim => Stmt::Unsupported("VERBATIM (C code)".into(), span),
        Rule::loop_stmt => Stmt::Unsupported("a loop (FROM ... TO, while)".into(), span),
        Rule::flux => Stmt::Unsupported("a flux reaction (`~ A << (f)`, `~ A -> (k)`)".into(), span),
        Rule::protect => return stmt(s.into_inner().next()?, file),
        Rule::array_assign => Stmt::Unsupported("an array element".into(), span),
        Rule::watch_like => Stmt::Unsupported(format!("`{}`", s.as_str().trim()), span),
        Rule::reaction => {
            let mut it = s.into_inner();
            let side = |p: Pair<Rule>| p.into_inner().map(|i| i.as_str().to_string()).collect::<Vec<_>>();
            let from = side(it.next().expect("left")); // ok: the grammar guarantees this pair
            let to = side(it.next().expect("right")); // ok: the grammar guarantees this pair
            let forward = expr(it.next().expect("kf"), file); // ok: the grammar guarantees this pair
            let backward = expr(it.next().expect("kb"), file); // ok: the grammar guarantees this pair
            Stmt::Reaction { from, to, forward, backward, span }
        }
        Rule::if_stmt => {
            let mut it = s.into_inner().filter(|p| !matches!(p.as_rule(), Rule::kw_if | Rule::kw_else));
            let cond = expr(it.next().expect("condition"), file); // ok: the grammar guarantees this pair
            let then = body(it.next().expect("then"), file); // ok: the grammar guarantees this pair
            let otherwise = match it.next() {
                Some(p) if p.as_rule() == Rule::if_stmt => stmt(p, file).into_iter().collect(),
                Some(p) => body(p, file),
                None => vec![],
            };
            Stmt::If { cond, then, otherwise }
        }
        Rule::deriv_assign | Rule::assign => {
            let deriv = s.as_rule() == Rule::deriv_assign;
            let mut it = s.into_inner();
            let name = it.next().expect("name").as_str().to_string(); // ok: the grammar guarantees this pair
            let value = expr(it.next().expect("value"), file); // ok: the grammar guarantees this pair
            if deriv {
                Stmt::Deriv { name, value, span }
            } else {
                Stmt::Assign { name, value, span }
            }
        }
        Rule::call_stmt => {
            let call = s.into_inner().next().expect("call"); // ok: the grammar guarantees this pair
            match expr(call, file) {
                Expr::Call(name, args, span) => Stmt::Call { name, args, span },
                _ => return None,
            }
        }
        _ => return None,
    })
}

fn expr(p: Pair<Rule>, file: FileId) -> Expr {
    let span = Span::new(file, p.as_span().start()..p.as_span().end());
    match p.as_rule() {
        Rule::expr | Rule::and_e | Rule::cmp | Rule::sum | Rule::product => {
            let mut it = p.into_inner();
            let mut left = expr(it.next().expect("operand"), file); // ok: the grammar guarantees this pair
            while let Some(op) = it.next() {
                let right = expr(it.next().expect("operand"), file); // ok: the grammar guarantees this pair
                left = Expr::Bin(op.as_str().to_string(), Box::new(left), Box::new(right));
            }
            left
        }
        Rule::unary => {
            let parts: Vec<Pair<Rule>> = p.into_inner().collect();
            let (ops, last) = parts.split_at(parts.len() - 1);
            let mut e = expr(last[0].clone(), file);
            for op in ops.iter().rev() {
                e = if op.as_str() == "-" { Expr::Neg(Box::new(e)) } else { Expr::Not(Box::new(e)) };
            }
            e
        }
        Rule::power => {
            // a number's unit (`1 (ms)`) is NMODL's annotation for modlunit: not its value
            let mut it = p.into_inner().filter(|q| q.as_rule() != Rule::unit);
            let base = expr(it.next().expect("base"), file); // ok: the grammar guarantees this pair
            match it.next() {
                Some(e) => Expr::Bin("^".into(), Box::new(base), Box::new(expr(e, file))),
                None => base,
            }
        }
        Rule::number => Expr::Num(p.as_str().parse().unwrap_or(f64::NAN)),
        Rule::indexed => Expr::Index(p.as_str().to_string(), span),
        Rule::string => Expr::Str(span),
        Rule::ident => Expr::Var(p.as_str().to_string(), span),
        Rule::call => {
            let mut it = p.into_inner();
            let name = it.next().expect("name").as_str().to_string(); // ok: the grammar guarantees this pair
            Expr::Call(name, it.map(|a| expr(a, file)).collect(), span)
        }
        _ => Expr::Num(f64::NAN),
    }
}
