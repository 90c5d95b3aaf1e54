//! `expected(phi, m, v)`: renormalized rates, phi(m) + phi''(m) v / 2.

use super::*;

impl<'a> Lower<'a> {
    /// `expected(phi, m, v)`: the mean of phi(x) over inputs x with mean m
    /// and variance v, to second order (renormalized rate equations):
    /// phi(m) + phi''(m) v / 2, with phi'' derived symbolically. A hidden
    /// parameter stands for phi's argument while it is differentiated and
    /// is then replaced by m.
    pub(super) fn expected(&mut self, scope: &Scope, args: &'a [ast::Expr], span: Span) -> ExprId {
        let help = "`expected(phi, m, v)`: phi a function of one argument (`fn phi(x) = ...`), m the input's mean, v its variance";
        let [f, mean, var] = args else {
            self.err(
                Diagnostic::error(Code::Arity, format!("`expected` takes 3 arguments, not {}", args.len()))
                    .at(span, "here")
                    .help(help),
            );
            return self.error_node(span);
        };
        let fd = match &f.kind {
            ExprKind::Name(n) => match self.spaces[scope.space].entries.get(n.as_str()).map(|e| e.decl) {
                Some(Decl::Fn(fd)) if fd.params.len() == 1 => Some(fd),
                _ => None,
            },
            _ => None,
        };
        let Some(fd) = fd else {
            self.err(
                Diagnostic::error(
                    Code::UnknownFunction,
                    "the first argument of `expected` is a function of one argument",
                )
                .at(f.span, "not such a function")
                .help(help),
            );
            return self.error_node(span);
        };
        let m = self.expr(scope, mean);
        let v = self.expr(scope, var);
        let (Ty::Num(md), Ty::Num(vd)) = (self.m.arena.ty(m), self.m.arena.ty(v)) else {
            for x in [m, v] {
                if self.m.arena.ty(x) == Ty::Bool {
                    self.bool_as_number(x);
                }
            }
            return self.error_node(span);
        };
        if md.mul(&md) != Some(vd) {
            self.err(
                Diagnostic::error(
                    Code::DimensionMismatch,
                    format!(
                        "the variance must be the square of the mean's dimension ({}), not {}",
                        units::pretty(&md.mul(&md).unwrap_or(md)),
                        units::pretty(&vd)
                    ),
                )
                .at(var.span, "the variance")
                .with_label(mean.span, "the mean")
                .help("pass the variance s^2, not the standard deviation s"),
            );
            return self.error_node(span);
        }
        let k = self.m.params.len();
        // never read once substituted; 0 keeps the parameter checks quiet
        let zero = self.m.arena.add(NodeKind::Const(0.0), Ty::Num(md), f.span);
        self.m.params.push(crate::ir::Param {
            name: format!("({} argument)", fd.name.name),
            value: zero,
            dim: md,
            unit: None,
            span: f.span,
        });
        let x = self.m.arena.add(NodeKind::Var(Var::Param(k)), Ty::Num(md), f.span);
        let body = self.inline(scope, fd, &[x], f.span, span);
        if self.m.arena.ty(body) == Ty::Error {
            return self.error_node(span);
        }
        let second = crate::symbolic::diff(&mut self.m, body, Var::Param(k))
            .and_then(|d1| crate::symbolic::diff(&mut self.m, d1, Var::Param(k)));
        let d2 = match second {
            Ok(d2) => d2,
            Err(why) => {
                self.err(
                    Diagnostic::error(
                        Code::UnknownFunction,
                        format!("`{}` cannot be differentiated: {why}", fd.name.name),
                    )
                    .at(f.span, "needs a second derivative")
                    .help("`expected` needs phi'' symbolically; write phi with differentiable functions"),
                );
                return self.error_node(span);
            }
        };
        let at_m = crate::symbolic::substitute(&mut self.m, body, Var::Param(k), m);
        let d2_at_m = crate::symbolic::substitute(&mut self.m, d2, Var::Param(k), m);
        let half = self.m.arena.add(NodeKind::Const(0.5), Ty::Num(Dim::NONE), span);
        let hv = self.binary(ast::BinOp::Mul, half, v, span);
        let corr = self.binary(ast::BinOp::Mul, d2_at_m, hv, span);
        let sum = self.binary(ast::BinOp::Add, at_m, corr, span);
        crate::symbolic::simplify(&mut self.m, sum)
    }
}
