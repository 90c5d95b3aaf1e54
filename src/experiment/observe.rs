//! A brain's `observe` statements: an observation model (a `rate` model
//! with one input, such as `BalloonWindkessel`) run on every region,
//! driven by an expression of the region.
//!
//! ```text
//! observe bold = BalloonWindkessel(node.E)
//! ```
//!
//! The observer's statements are copied into the node model with every
//! name it declares prefixed by the observation's (`bold_s`, `bold_f`,
//! ..., `bold_bold`), so it is integrated in the node's kernel with the
//! node's method and step; its input (`bold_z`) reads the driving
//! expression, a value `__obsK` of the node.

use crate::diag::{Code, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::{self, Expr, ExprKind, ModelKind, StmtKind};
use std::collections::HashSet;

/// One `observe NAME = MODEL(EXPR)`.
pub struct Observe<'a> {
    pub name: &'a ast::Ident,
    pub model: &'a ast::Model,
    /// The driving expression in the node's own names.
    pub drive: Expr,
    pub span: Span,
}

impl Observe<'_> {
    /// The observer's input, prefixed.
    pub fn input(&self) -> Option<String> {
        self.model.stmts.iter().find_map(|s| match &s.kind {
            StmtKind::Input(bs) => bs.first().map(|b| format!("{}_{}", self.name.name, b.name.name)),
            _ => None,
        })
    }
}

pub fn drive_name(k: usize) -> String {
    format!("__obs{k}")
}

/// Takes `observe NAME = MODEL(EXPR)` apart.
pub fn analyze<'a>(lib: &'a crate::resolve::Library, b: &'a ast::Binding) -> Result<Observe<'a>, Box<Diagnostic>> {
    let help = "e.g. `observe bold = BalloonWindkessel(node.E)` (with `import \"bold.neuro\"`)";
    let bad = |span: Span, msg: &str, label: &str| {
        Box::new(Diagnostic::error(Code::BadCoupling, msg.to_string()).at(span, label.to_string()).help(help))
    };
    let ExprKind::Call(f, args) = &b.value.kind else {
        return Err(bad(b.value.span, "an observation is a model driven by the node", "not `Model(node.X)`"));
    };
    let ExprKind::Name(name) = &f.kind else {
        return Err(bad(f.span, "an observation is a model driven by the node", "not a model's name"));
    };
    let Some(model) = lib.get(name) else {
        return Err(Box::new(
            Diagnostic::error(Code::UnknownModel, format!("no model named `{name}`"))
                .at(f.span, "not found")
                .help("import the file that defines it: `import \"bold.neuro\"`"),
        ));
    };
    let inputs: usize = model
        .stmts
        .iter()
        .map(|s| match &s.kind {
            StmtKind::Input(bs) => bs.len(),
            _ => 0,
        })
        .sum();
    if model.kind != ModelKind::Rate || inputs != 1 {
        return Err(bad(f.span, "an observation model is a rate model with one input", "not one"));
    }
    let [arg] = &args[..] else {
        return Err(bad(b.value.span, "an observation model takes one argument, what drives it", "not one"));
    };
    let drive = super::couple::local(arg)?;
    Ok(Observe { name: &b.name, model, drive, span: b.value.span })
}

/// The observer's statements with its names prefixed and its input
/// declared as an input (the node reads the drive into it).
pub fn statements(o: &Observe) -> Result<Vec<ast::Stmt>, Box<Diagnostic>> {
    let mut declared: HashSet<String> = HashSet::new();
    for s in &o.model.stmts {
        match &s.kind {
            StmtKind::Parameter(bs) | StmtKind::Input(bs) => declared.extend(bs.iter().map(|b| b.name.name.clone())),
            StmtKind::State(ds) => declared.extend(ds.iter().map(|d| d.name.name.clone())),
            StmtKind::Derived(b) => {
                declared.insert(b.name.name.clone());
            }
            StmtKind::Fn(f) => {
                declared.insert(f.name.name.clone());
            }
            _ => {}
        }
    }
    let r = Renamer { prefix: &o.name.name, declared: &declared };
    let mut out = Vec::new();
    for s in &o.model.stmts {
        let kind = match &s.kind {
            StmtKind::Parameter(bs) => StmtKind::Parameter(bs.iter().map(|b| r.binding(b)).collect()),
            StmtKind::Input(bs) => StmtKind::Input(bs.iter().map(|b| r.binding(b)).collect()),
            StmtKind::State(ds) => StmtKind::State(
                ds.iter()
                    .map(|d| ast::StateDecl { name: r.ident(&d.name), init: d.init.as_ref().map(|e| r.expr(e, &[])) })
                    .collect(),
            ),
            StmtKind::Derived(b) => StmtKind::Derived(r.binding(b)),
            StmtKind::Fn(f) => StmtKind::Fn(ast::FnDef {
                name: r.ident(&f.name),
                params: f.params.clone(),
                body: r.expr(&f.body, &f.params),
            }),
            StmtKind::Ode { factor, state, rhs, method } => StmtKind::Ode {
                factor: factor.as_ref().map(|e| r.expr(e, &[])),
                state: r.ident(state),
                rhs: r.expr(rhs, &[]),
                method: method.clone(),
            },
            _ => {
                return Err(Box::new(
                    Diagnostic::error(Code::BadCoupling, "this statement cannot be part of an observation model")
                        .at(s.span, "not a parameter, input, state, value, fn or ODE")
                        .with_label(o.span, "observed here")
                        .help(
                            "an observation model is a plain rate model: parameters, one input, states, ODEs, values",
                        ),
                ))
            }
        };
        out.push(ast::Stmt { kind, span: s.span });
    }
    Ok(out)
}

/// Prefixes the names a model declares.
struct Renamer<'a> {
    prefix: &'a str,
    declared: &'a HashSet<String>,
}

impl Renamer<'_> {
    fn ident(&self, i: &ast::Ident) -> ast::Ident {
        ast::Ident { name: format!("{}_{}", self.prefix, i.name), span: i.span }
    }

    fn binding(&self, b: &ast::Binding) -> ast::Binding {
        ast::Binding { name: self.ident(&b.name), value: self.expr(&b.value, &[]) }
    }

    /// `e` with declared names prefixed, except a function's own
    /// parameters (`locals`).
    fn expr(&self, e: &Expr, locals: &[ast::Ident]) -> Expr {
        let kind = match &e.kind {
            ExprKind::Name(n) if self.declared.contains(n) && !locals.iter().any(|l| &l.name == n) => {
                ExprKind::Name(format!("{}_{n}", self.prefix))
            }
            ExprKind::Unary(op, a) => ExprKind::Unary(*op, Box::new(self.expr(a, locals))),
            ExprKind::Binary(op, a, b) => {
                ExprKind::Binary(*op, Box::new(self.expr(a, locals)), Box::new(self.expr(b, locals)))
            }
            ExprKind::Call(f, args) => {
                ExprKind::Call(Box::new(self.expr(f, locals)), args.iter().map(|a| self.expr(a, locals)).collect())
            }
            ExprKind::If(c, a, b) => ExprKind::If(
                Box::new(self.expr(c, locals)),
                Box::new(self.expr(a, locals)),
                Box::new(self.expr(b, locals)),
            ),
            ExprKind::Index(a, ix) => {
                ExprKind::Index(Box::new(self.expr(a, locals)), ix.iter().map(|x| self.expr(x, locals)).collect())
            }
            other => other.clone(),
        };
        Expr { kind, span: e.span }
    }
}
