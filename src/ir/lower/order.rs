//! The order declarations are lowered in, found before lowering them.
//!
//! Lowering asks for a parameter, derived value or state's initial value
//! where it is read, and lowers it then (`force`, `ensure_state_dim`): a
//! chain of 20,000 values would nest 20,000 lowerings. This pre-pass walks
//! the syntax instead, with explicit stacks: it follows each declaration's
//! names (through the bodies of the functions it calls) in the order
//! lowering meets them, and lists declarations in the order lowering would
//! finish them (depth-first post-order). Lowered in that order, each finds
//! what it reads already lowered, and params and values land in the same
//! order as before. A declaration met again while its own names are still
//! being followed is on a cycle; it is marked, and when lowering asks for
//! it from inside another declaration it reports the cycle (E0205) there,
//! as the nested lowering did. Names this pass cannot see (a channel's `V`,
//! `currents`) are lowered on demand as before, nested at most
//! `MAX_LOWERING` deep.

use super::*;
use std::collections::HashSet;

/// Declarations may be lowered inside each other at most this deep; the
/// pre-pass keeps it to one or two for everything it sees.
pub(super) const MAX_LOWERING: usize = 64;

/// A node of the dependency walk.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Item<'a> {
    /// A parameter or derived value of the space, by name.
    Decl(&'a str),
    /// A state (by index) whose initial value is written in its declaration.
    State(usize),
    /// A function: its body's names are read where it is called.
    Fn(&'a str),
}

/// One step of the walk through an expression's syntax.
enum Step<'a> {
    Expr(&'a ast::Expr),
    /// The names of a called function's body, after its arguments.
    Call(&'a str),
}

impl<'a> Lower<'a> {
    /// Lowers the parameters and derived values of `space` (and, with
    /// `states`, the initial values of the states `model` declares) in
    /// dependency order; the callers' loops then find them done.
    pub(super) fn lower_in_order(&mut self, space: usize, model: &'a ast::Model, states: bool) {
        let decls: HashMap<usize, &'a ast::StateDecl> = model
            .stmts
            .iter()
            .filter_map(|s| match &s.kind {
                ast::StmtKind::State(ds) => Some(ds.iter()),
                _ => None,
            })
            .flatten()
            .filter_map(|d| Some((self.state_index(space, &d.name.name)?, d)))
            .collect();
        let mut roots: Vec<Item<'a>> = Vec::new();
        for name in &self.spaces[space].order {
            let Some(e) = self.spaces[space].entries.get(name) else { continue };
            if let (Decl::Param { ast } | Decl::Value { ast, .. }, Slot::Todo) = (e.decl, e.slot) {
                roots.push(Item::Decl(ast.name.name.as_str()));
            }
        }
        if states {
            for stmt in &model.stmts {
                if let ast::StmtKind::State(ds) = &stmt.kind {
                    for d in ds {
                        if let Some(i) = self.state_index(space, &d.name.name) {
                            roots.push(Item::State(i));
                        }
                    }
                }
            }
        }
        let order = self.dependency_order(space, &decls, &roots);
        for item in order {
            match item {
                Item::Decl(name) => {
                    self.force(space, name);
                }
                Item::State(i) => {
                    if let Some(d) = decls.get(&i) {
                        self.state_init(space, d);
                    }
                }
                Item::Fn(_) => {}
            }
        }
    }

    /// Depth-first post-order over the declarations reachable from `roots`,
    /// marking the ones met again while on the stack.
    fn dependency_order(
        &mut self,
        space: usize,
        decls: &HashMap<usize, &'a ast::StateDecl>,
        roots: &[Item<'a>],
    ) -> Vec<Item<'a>> {
        let mut done: HashSet<Item<'a>> = HashSet::new();
        let mut open: HashSet<Item<'a>> = HashSet::new();
        let mut order = Vec::new();
        for &root in roots {
            if done.contains(&root) {
                continue;
            }
            // (item, what it reads, how many of those are followed)
            let mut stack = vec![(root, self.reads_of(space, decls, root), 0usize)];
            open.insert(root);
            while let Some((item, reads, next)) = stack.last_mut() {
                let Some(&target) = reads.get(*next) else {
                    let item = *item;
                    stack.pop();
                    open.remove(&item);
                    done.insert(item);
                    if !matches!(item, Item::Fn(_)) {
                        order.push(item);
                    }
                    continue;
                };
                *next += 1;
                if done.contains(&target) {
                    continue;
                }
                if open.contains(&target) {
                    match target {
                        Item::Decl(name) => {
                            self.cyclic.insert((space, name.to_string()));
                        }
                        Item::State(i) => {
                            self.cyclic_states.insert(i);
                        }
                        Item::Fn(_) => {} // recursion: `inline` reports it
                    }
                    continue;
                }
                open.insert(target);
                let reads = self.reads_of(space, decls, target);
                stack.push((target, reads, 0));
            }
        }
        order
    }

    /// What lowering `item` would ask for, in the order it would ask.
    fn reads_of(&self, space: usize, decls: &HashMap<usize, &'a ast::StateDecl>, item: Item<'a>) -> Vec<Item<'a>> {
        let entries = &self.spaces[space].entries;
        let (root, locals): (&'a ast::Expr, &'a [ast::Ident]) = match item {
            Item::Decl(name) => match entries.get(name).map(|e| e.decl) {
                Some(Decl::Param { ast } | Decl::Value { ast, .. }) => (&ast.value, &[]),
                _ => return vec![],
            },
            Item::State(i) => match decls.get(&i).and_then(|d| d.init.as_ref()) {
                Some(init) => (init, &[]),
                None => return vec![],
            },
            Item::Fn(name) => match entries.get(name).map(|e| e.decl) {
                Some(Decl::Fn(f)) => (&f.body, &f.params),
                _ => return vec![],
            },
        };
        let mut out = Vec::new();
        let mut steps = vec![Step::Expr(root)];
        while let Some(step) = steps.pop() {
            let n: &'a str = match step {
                Step::Call(n) => n,
                Step::Expr(e) => match &e.kind {
                    ExprKind::Name(n) if !locals.iter().any(|p| &p.name == n) => n.as_str(),
                    ExprKind::Unary(_, x) => {
                        steps.push(Step::Expr(x));
                        continue;
                    }
                    ExprKind::Binary(_, l, r) => {
                        steps.extend([Step::Expr(r), Step::Expr(l)]);
                        continue;
                    }
                    ExprKind::If(c, a, b) => {
                        steps.extend([Step::Expr(b), Step::Expr(a), Step::Expr(c)]);
                        continue;
                    }
                    ExprKind::Call(callee, args) => {
                        if let ExprKind::Name(f) = &callee.kind {
                            steps.push(Step::Call(f.as_str()));
                        }
                        steps.extend(args.iter().rev().map(Step::Expr));
                        continue;
                    }
                    _ => continue,
                },
            };
            let Some(entry) = entries.get(n) else { continue };
            match entry.decl {
                Decl::Param { .. } | Decl::Value { .. } if entry.slot == Slot::Todo => out.push(Item::Decl(n)),
                Decl::Fn(_) => out.push(Item::Fn(n)),
                Decl::State { index } if !self.init_tried.contains(&index) && decls.contains_key(&index) => {
                    out.push(Item::State(index))
                }
                _ => {}
            }
        }
        out
    }

    /// Whether a declaration asked for is not lowered after all, reported:
    /// it is on a cycle the pre-pass found and another declaration asks
    /// for it (E0205, as a nested lowering would find), or it is reached
    /// through too many nested lowerings (E0102).
    #[cold]
    pub(super) fn cut_short(&mut self, space: usize, name: &str, span: Span) -> bool {
        let prefix = self.spaces[space].prefix.clone();
        let d = if self.lowering > 1 && self.cyclic.contains(&(space, name.to_string())) {
            Diagnostic::error(Code::Cycle, format!("`{prefix}{name}` is defined in terms of itself"))
                .at(span, "this definition depends on itself")
                .help("break the cycle: one of the values must be a state (with an ODE) or a constant")
        } else if self.lowering > MAX_LOWERING {
            Diagnostic::error(
                Code::TooDeep,
                format!("`{prefix}{name}` is reached through more than {} other definitions", MAX_LOWERING),
            )
            .at(span, "defined here")
            .help("read it through fewer definitions in between")
        } else {
            return false;
        };
        self.err(d);
        self.set_slot(space, name, Slot::Failed);
        true
    }
}
