//! Cells: neurons with a morphology, and the cable equation on them.
//!
//! A `cell` model declares sections (cylinders with a length, a diameter
//! and the point of their parent they attach to) and regions (the
//! membrane of the sections a region names: channels in `use`). This
//! module holds what the compiler and the runtime do with them:
//! - [`membranes`]: each region as a point neuron of its own (the cell's
//!   parameters and states, the region's statements, and the membrane
//!   equation `dV/dt = -currents / cm`), lowered like any neuron, so the
//!   channels' schemes, units and errors are the point neuron's;
//! - [`geometry`]: sections cut into segments (a fixed `nseg` or the
//!   d_lambda rule) and the tree of nodes NEURON builds from them;
//! - [`hines`]: the O(N) elimination on that tree;
//! - [`sim`]: the time stepping, backward Euler or Crank-Nicolson with the
//!   channels' states staggered half a step, as NEURON does.

pub mod geometry;
pub mod hines;
pub mod kernels;
pub mod population;
pub mod sim;
pub mod swc;

use crate::syntax::ast::{self, BinOp, Expr, ExprKind, Ident, ModelKind, Stmt, StmtKind, UnOp};

/// The name of region `region`'s membrane model in cell `cell`.
pub fn membrane_name(cell: &str, region: &str) -> String {
    format!("{cell}:{region}")
}

/// The name of synapse site `site`'s model in cell `cell`.
pub fn site_name(cell: &str, site: &str) -> String {
    format!("{cell}@{site}")
}

/// The synapse sites of a cell: (name, model, section, settings, span).
pub fn sites(cell: &ast::Model) -> Vec<Site<'_>> {
    cell.stmts
        .iter()
        .filter_map(|s| match &s.kind {
            StmtKind::Site { name, model, section, settings } => {
                Some(Site { name, model, section, settings, span: s.span })
            }
            _ => None,
        })
        .collect()
}

/// `synapse NAME = MODEL on SECTION(settings)` in a cell.
pub struct Site<'a> {
    pub name: &'a Ident,
    pub model: &'a Ident,
    pub section: &'a Ident,
    pub settings: &'a [ast::Binding],
    pub span: crate::source::Span,
}

/// The conditions of the regions chosen by one: (region index, condition).
pub fn selectors(cell: &ast::Model) -> Vec<(usize, &Expr)> {
    let all = cell.stmts.iter().filter_map(|s| match &s.kind {
        StmtKind::Region { selector, .. } => Some(selector.as_ref()),
        _ => None,
    });
    all.enumerate().filter_map(|(k, c)| c.map(|c| (k, c))).collect()
}

/// The regions of a cell: (name, statements, span).
pub fn regions(cell: &ast::Model) -> Vec<(&Ident, &[Stmt], crate::source::Span)> {
    cell.stmts
        .iter()
        .filter_map(|s| match &s.kind {
            StmtKind::Region { name, stmts, .. } => Some((name, &stmts[..], s.span)),
            _ => None,
        })
        .collect()
}

/// Each region of `cell` as a point neuron, and each synapse site whose
/// model `is_synapse` as one holding the synapse (see [`site_equation`]): the cell's parameters, states,
/// inputs, definitions, `method` and rate `table`s, the region's statements, and (when the cell
/// has `state V` and `parameter cm`) `dV/dt = -currents / cm`.
pub fn membranes(cell: &ast::Model, is_synapse: &dyn Fn(&str) -> bool) -> Vec<ast::Model> {
    let shared: Vec<Stmt> = cell
        .stmts
        .iter()
        .filter(|s| {
            matches!(
                s.kind,
                StmtKind::Parameter(_)
                    | StmtKind::State(_)
                    | StmtKind::Input(_)
                    | StmtKind::Fn(_)
                    | StmtKind::Derived(_)
                    | StmtKind::Method(_)
                    | StmtKind::Table { .. }
            )
        })
        .cloned()
        .collect();
    let has_v = shared.iter().any(|s| matches!(&s.kind, StmtKind::State(d) if d.iter().any(|d| d.name.name == "V")));
    let has_cm =
        shared.iter().any(|s| matches!(&s.kind, StmtKind::Parameter(b) if b.iter().any(|b| b.name.name == "Cm")));
    let mut out: Vec<ast::Model> = regions(cell)
        .into_iter()
        .map(|(name, stmts, span)| {
            let mut all = shared.clone();
            // per-compartment parameters are the cell's to set, not the membrane's
            all.extend(stmts.iter().filter(|s| !matches!(s.kind, StmtKind::SetParam { .. })).cloned());
            if has_v && has_cm {
                all.push(membrane_equation(span));
            }
            ast::Model {
                kind: ModelKind::Neuron,
                name: Ident { name: membrane_name(&cell.name.name, &name.name), span: name.span },
                stmts: all,
                span,
            }
        })
        .collect();
    // each synapse site: the synapse inserted into a point neuron whose V
    // is the cable's, its current an absolute one (`currents / (1 F)`
    // is the current in A, numerically)
    for site in sites(cell).into_iter().filter(|s| is_synapse(&s.model.name)) {
        let span = site.span;
        let mut all = shared.clone();
        all.push(Stmt { kind: StmtKind::Use(vec![site.model.clone()]), span });
        if has_v {
            all.push(site_equation(span));
        }
        out.push(ast::Model {
            kind: ModelKind::Neuron,
            name: Ident { name: site_name(&cell.name.name, &site.name.name), span: site.name.span },
            stmts: all,
            span,
        });
    }
    out
}

/// `dV/dt = -currents / (1 F)`, spanning the site: f is minus the
/// synapse's current in A.
fn site_equation(span: crate::source::Span) -> Stmt {
    let name = |n: &str| Expr { kind: ExprKind::Name(n.into()), span };
    let farad = ast::UnitExpr {
        factors: vec![ast::UnitFactor { name: "F".into(), power: (1, 1), span }],
        text: "F".into(),
        span,
    };
    let one = Expr { kind: ExprKind::Number { value: 1.0, unit: Some(farad) }, span };
    let ratio = Expr { kind: ExprKind::Binary(BinOp::Div, Box::new(name("currents")), Box::new(one)), span };
    let rhs = Expr { kind: ExprKind::Unary(UnOp::Neg, Box::new(ratio)), span };
    Stmt { kind: StmtKind::Ode { factor: None, state: Ident { name: "V".into(), span }, rhs, method: None }, span }
}

/// `dV/dt = -currents / cm`, spanning the region.
fn membrane_equation(span: crate::source::Span) -> Stmt {
    let name = |n: &str| Expr { kind: ExprKind::Name(n.into()), span };
    let ratio = Expr { kind: ExprKind::Binary(BinOp::Div, Box::new(name("currents")), Box::new(name("Cm"))), span };
    let rhs = Expr { kind: ExprKind::Unary(UnOp::Neg, Box::new(ratio)), span };
    Stmt { kind: StmtKind::Ode { factor: None, state: Ident { name: "V".into(), span }, rhs, method: None }, span }
}
