//! Expressions of a compartment's place, evaluated at every node: the
//! value of a per-compartment parameter (`Ih.gbar = 2 mS/cm^2 *
//! exp(distance / 300 um)`) and the selector of a region (`region distal
//! where distance > 300 um { ... }`). Each is lowered as a model of the
//! cell's parameters (with the run's values), `distance` (the path from
//! the middle of the first section, um), `diameter` (the section's at the
//! node) and the value, checked for units like any model.

use super::super::settings::Ctx;
use super::MembraneRun;
use crate::cable::geometry::Tree;
use crate::ir::{ExprId, Model, NodeKind, Ty};
use crate::syntax::ast::{self, StmtKind};
use crate::units::{dims, Dim};

/// An expression of a compartment's place.
pub(super) struct AtCompartment {
    pub m: Model,
    overrides: Vec<Option<ExprId>>,
    distance: usize,
    diameter: usize,
    /// The value's parameter.
    pub out: usize,
}

impl AtCompartment {
    /// `value` in cell `cell`, with the run's values of the parameters
    /// that `run` (a membrane of the cell) has set.
    pub fn new(ctx: &mut Ctx, cell: &ast::Model, value: &ast::Expr, run: &MembraneRun) -> Option<AtCompartment> {
        let span = value.span;
        let um = ast::UnitExpr {
            factors: vec![ast::UnitFactor { name: "um".into(), power: (1, 1), span }],
            text: "um".into(),
            span,
        };
        let zero = ast::Expr { kind: ast::ExprKind::Number { value: 0.0, unit: Some(um) }, span };
        let mut stmts: Vec<ast::Stmt> =
            cell.stmts.iter().filter(|s| matches!(s.kind, StmtKind::Parameter(_))).cloned().collect();
        for (name, e) in [("distance", zero.clone()), ("diameter", zero), ("(value)", value.clone())] {
            let binding = ast::Binding { name: ast::Ident { name: name.into(), span }, value: e };
            stmts.push(ast::Stmt { kind: StmtKind::Parameter(vec![binding]), span });
        }
        let model = ast::Model {
            kind: ast::ModelKind::Rate,
            name: ast::Ident { name: "(compartment)".into(), span },
            stmts,
            span,
        };
        let (m, d) = crate::ir::lower::lower_model(&ctx.c.library, &model);
        ctx.diags.extend(d);
        let mut m = m?;
        let (distance, diameter, out) = (m.param("distance")?, m.param("diameter")?, m.param("(value)")?);
        // the run's values of the cell's parameters (simulate block, --set)
        let mut overrides = vec![None; m.params.len()];
        let run_params = crate::ir::eval::eval_params(&run.model, &run.param_overrides);
        let set: Vec<(usize, f64, Dim)> = (0..m.params.len())
            .filter_map(|q| {
                let mp = run.model.param(&m.params[q].name)?;
                run.param_overrides[mp].map(|_| (q, run_params[mp], m.params[q].dim))
            })
            .collect();
        for (q, v, dim) in set {
            overrides[q] = Some(m.arena.add(NodeKind::Const(v), Ty::Num(dim), span));
        }
        Some(AtCompartment { m, overrides, distance, diameter, out })
    }

    /// The value's unit.
    pub fn dim(&self) -> Dim {
        self.m.params[self.out].dim
    }

    /// The value at node `node` of `tree`.
    pub fn at(&mut self, tree: &Tree, node: usize) -> f64 {
        let span = self.m.span;
        let length = Ty::Num(dims::length());
        let d = self.m.arena.add(NodeKind::Const(tree.distance(node)), length, span);
        let w = self.m.arena.add(NodeKind::Const(tree.diameter(node)), length, span);
        self.overrides[self.distance] = Some(d);
        self.overrides[self.diameter] = Some(w);
        crate::ir::eval::eval_params(&self.m, &self.overrides)[self.out]
    }
}

/// `region NAME where CONDITION { ... }`: the compartments where the
/// condition holds take that region's membrane (over the membrane their
/// section's name gave them; a later region over an earlier one).
/// `selectors` are (membrane, condition). A condition true nowhere is
/// E0503.
pub(super) fn select(
    ctx: &mut Ctx,
    cell: &ast::Model,
    tree: &mut Tree,
    selectors: &[(usize, &ast::Expr)],
    run: &MembraneRun,
) -> Option<()> {
    for &(k, cond) in selectors {
        let span = cond.span;
        let is_condition = match &cond.kind {
            ast::ExprKind::Binary(op, _, _) => {
                !matches!(op, ast::BinOp::Add | ast::BinOp::Sub | ast::BinOp::Mul | ast::BinOp::Div | ast::BinOp::Pow)
            }
            ast::ExprKind::Unary(op, _) => *op == ast::UnOp::Not,
            ast::ExprKind::Bool(_) => true,
            _ => false,
        };
        if !is_condition {
            return ctx.reject(
                "a region's `where` takes a condition",
                span,
                "not a comparison",
                "compare the place: `where distance > 300 um`, `where diameter < 1 um and distance < 200 um`",
            );
        }
        let num = |v: f64| ast::Expr { kind: ast::ExprKind::Number { value: v, unit: None }, span };
        let value =
            ast::Expr { kind: ast::ExprKind::If(Box::new(cond.clone()), Box::new(num(1.0)), Box::new(num(0.0))), span };
        let mut at = AtCompartment::new(ctx, cell, &value, run)?;
        let mut chosen = 0;
        for node in 0..tree.len() {
            if tree.membrane[node].is_some() && at.at(tree, node) == 1.0 {
                tree.membrane[node] = Some(k);
                chosen += 1;
            }
        }
        if chosen == 0 {
            return ctx.reject(
                "this region's condition holds in no compartment",
                span,
                "never true",
                "`distance` is the path length from the middle of the first section, `diameter` the section's at the compartment",
            );
        }
    }
    Some(())
}
