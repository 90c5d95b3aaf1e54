//! pest pairs -> AST. The grammar guarantees the shape of each pair; where a
//! pair is not what the grammar promises, the lowerer returns an `Error` node
//! and an internal diagnostic rather than panicking.

use super::ast::*;
use super::Rule;
use crate::diag::{Code, Diagnostic};
use crate::source::{FileId, Span};
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use std::cell::RefCell;
use std::sync::LazyLock;

pub(super) struct Lowerer {
    file: FileId,
    offset: usize,
    errs: RefCell<Vec<Diagnostic>>,
}

static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::or, Assoc::Left))
        .op(Op::infix(Rule::and, Assoc::Left))
        .op(Op::prefix(Rule::not))
        .op(Op::infix(Rule::eq, Assoc::Left)
            | Op::infix(Rule::ne, Assoc::Left)
            | Op::infix(Rule::lt, Assoc::Left)
            | Op::infix(Rule::le, Assoc::Left)
            | Op::infix(Rule::gt, Assoc::Left)
            | Op::infix(Rule::ge, Assoc::Left))
        .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
        .op(Op::infix(Rule::mul, Assoc::Left) | Op::infix(Rule::div, Assoc::Left))
        .op(Op::prefix(Rule::neg) | Op::prefix(Rule::pos))
        .op(Op::infix(Rule::pow, Assoc::Right))
        .op(Op::postfix(Rule::call_args) | Op::postfix(Rule::index) | Op::postfix(Rule::member))
});

impl Lowerer {
    pub(super) fn new(file: FileId, offset: usize) -> Lowerer {
        Lowerer { file, offset, errs: RefCell::new(Vec::new()) }
    }

    pub(super) fn finish(self) -> Vec<Diagnostic> {
        self.errs.into_inner()
    }

    fn span(&self, pair: &Pair<Rule>) -> Span {
        let s = pair.as_span();
        Span::new(self.file, self.offset + s.start()..self.offset + s.end())
    }

    fn ident(&self, pair: Pair<Rule>) -> Ident {
        Ident { name: pair.as_str().to_string(), span: self.span(&pair) }
    }

    fn internal(&self, pair: &Pair<Rule>, what: &str) {
        self.errs
            .borrow_mut()
            .push(Diagnostic::internal(format!("unexpected parse shape: {what}")).at(self.span(pair), ""));
    }

    pub(super) fn item(&self, pair: Pair<Rule>) -> Option<Item> {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::import => {
                let path = pair.into_inner().find(|p| p.as_rule() == Rule::string)?;
                Some(Item::Import(Import { path: string_text(&path), span }))
            }
            Rule::simulate => {
                let mut inner = pair.into_inner().filter(|p| p.as_rule() != Rule::kw_simulate);
                let target = self.ident(inner.next()?);
                let settings = inner.map(|p| self.binding(p)).collect();
                Some(Item::Simulate(Simulate { target, settings, span }))
            }
            Rule::model => {
                let mut inner = pair.into_inner();
                let kind_pair = inner.next()?;
                let kind = match kind_pair.into_inner().next()?.as_rule() {
                    Rule::kw_channel => ModelKind::Channel,
                    Rule::kw_neuron => ModelKind::Neuron,
                    Rule::kw_synapse => ModelKind::Synapse,
                    Rule::kw_plasticity => ModelKind::Plasticity,
                    Rule::kw_rate => ModelKind::Rate,
                    Rule::kw_field => ModelKind::Field,
                    Rule::kw_density => ModelKind::Density,
                    Rule::kw_network => ModelKind::Network,
                    Rule::kw_cell => ModelKind::Cell,
                    _ => ModelKind::Brain,
                };
                let name = self.ident(inner.next()?);
                let stmts = inner.filter_map(|p| self.stmt(p)).collect();
                Some(Item::Model(Model { kind, name, stmts, span }))
            }
            _ => {
                self.internal(&pair, "item");
                None
            }
        }
    }

    /// Children of a pair with keywords (`kw_*`) filtered out.
    fn parts<'i>(&self, pair: Pair<'i, Rule>) -> impl Iterator<Item = Pair<'i, Rule>> {
        pair.into_inner().filter(|p| !is_keyword(p.as_rule()))
    }

    // Long (about 260 lines) on purpose: one short match arm per statement
    // rule of the grammar, in the grammar's order.
    pub(super) fn stmt(&self, pair: Pair<Rule>) -> Option<Stmt> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let kind = match rule {
            Rule::parameter => StmtKind::Parameter(self.parts(pair).map(|p| self.binding(p)).collect()),
            Rule::input => StmtKind::Input(self.parts(pair).map(|p| self.binding(p)).collect()),
            Rule::state => StmtKind::State(
                self.parts(pair)
                    .map(|p| {
                        let mut it = p.into_inner();
                        let name = it.next().map(|n| self.ident(n));
                        let init = it.next().map(|e| self.expr(e));
                        StateDecl { name: name.unwrap_or_else(|| self.missing(span)), init }
                    })
                    .collect(),
            ),
            Rule::fn_def => StmtKind::Fn(self.fn_def(pair)?),
            Rule::kernel => StmtKind::Kernel(self.fn_def(pair)?),
            Rule::derived_fn => StmtKind::DerivedFn(self.fn_def(pair)?),
            Rule::gate => {
                let mut it = self.parts(pair);
                let name = self.ident(it.next()?);
                let mut power = None;
                let mut bindings = Vec::new();
                for p in it {
                    match p.as_rule() {
                        Rule::gate_power => {
                            let s = self.span(&p);
                            let text = p.into_inner().next().map(|i| i.as_str().to_string()).unwrap_or_default();
                            match text.parse::<u32>() {
                                Ok(n) => power = Some((n, s)),
                                Err(_) => self.errs.borrow_mut().push(
                                    Diagnostic::error(Code::BadNumber, "gate power is too large")
                                        .at(s, "this power")
                                        .help("gate powers are small integers such as `m^3`"),
                                ),
                            }
                        }
                        _ => bindings.push(self.binding(p)),
                    }
                }
                StmtKind::Gate(Gate { name, power, bindings })
            }
            Rule::current => {
                let mut it = self.parts(pair);
                let name = self.ident(it.next()?);
                let value = self.expr(it.next()?);
                StmtKind::Current(Binding { name, value })
            }
            Rule::ion_stmt => {
                let mut it = self.parts(pair).map(|p| self.ident(p));
                let ion = it.next()?;
                let named: Vec<Ident> = it.collect();
                StmtKind::Ion { ion, currents: (!named.is_empty()).then_some(named) }
            }
            Rule::use_stmt => StmtKind::Use(self.parts(pair).map(|p| self.ident(p)).collect()),
            Rule::kinetic => StmtKind::Kinetic(
                self.parts(pair)
                    .filter_map(|r| {
                        let span = self.span(&r);
                        let mut it = r.into_inner();
                        Some(Reaction {
                            from: self.ident(it.next()?),
                            to: self.ident(it.next()?),
                            forward: self.expr(it.next()?),
                            backward: self.expr(it.next()?),
                            span,
                        })
                    })
                    .collect(),
            ),
            Rule::ode => {
                let mut factor = None;
                let mut state = None;
                let mut rhs = None;
                let mut method = None;
                for p in pair.into_inner() {
                    match p.as_rule() {
                        Rule::ode_factor => {
                            let f = p.into_inner().next()?;
                            factor = Some(self.primary(f));
                        }
                        Rule::ode_lhs => state = p.into_inner().next().map(|i| self.ident(i)),
                        Rule::ode_method => method = self.parts(p).next().map(|i| self.ident(i)),
                        _ => rhs = Some(self.expr(p)),
                    }
                }
                StmtKind::Ode { factor, state: state?, rhs: rhs?, method }
            }
            Rule::spike_when => {
                let mut lhs = None;
                let mut rhs = None;
                let mut direction = Direction::Upward;
                for p in self.parts(pair) {
                    match p.as_rule() {
                        Rule::direction => {
                            if p.as_str() == "downward" {
                                direction = Direction::Downward;
                            }
                        }
                        _ if lhs.is_none() => lhs = Some(self.expr(p)),
                        _ => rhs = Some(self.expr(p)),
                    }
                }
                StmtKind::SpikeWhen { lhs: lhs?, rhs: rhs?, direction }
            }
            Rule::on_event => {
                let mut it = self.parts(pair);
                let trig = it.next()?;
                let trigger = if trig.as_rule() == Rule::spike_trigger {
                    let tspan = self.span(&trig);
                    let mut port = None;
                    let mut rest = Vec::new();
                    for p in self.parts(trig) {
                        if p.as_rule() == Rule::spike_port {
                            port = p.into_inner().next().map(|i| self.ident(i));
                        } else {
                            rest.push(p);
                        }
                    }
                    let mut tt = rest.into_iter();
                    let weight = match (tt.next(), tt.next()) {
                        (Some(n), Some(u)) => Some((self.ident(n), self.unit(u))),
                        _ => None,
                    };
                    Trigger::Spike { port, weight, span: tspan }
                } else {
                    Trigger::Condition(self.expr(trig))
                };
                let actions = it.filter_map(|a| self.action(a)).collect();
                StmtKind::On { trigger, actions }
            }
            Rule::method_stmt => StmtKind::Method(self.ident(self.parts(pair).next()?)),
            Rule::population => {
                let mut it = self.parts(pair);
                let name = self.ident(it.next()?);
                let size_pair = it.next()?;
                let size = size_pair.as_str().parse::<u64>().unwrap_or(u64::MAX);
                let model = self.ident(it.next()?);
                StmtKind::Population { name, size, model }
            }
            Rule::connect => {
                let mut it = self.parts(pair);
                let from = self.ident_list(it.next()?);
                let to = self.ident_list(it.next()?);
                let via = self.ident(it.next()?);
                let mut file = None;
                let mut settings = Vec::new();
                for part in it {
                    if part.as_rule() == Rule::connect_file {
                        let span = self.span(&part);
                        let text = part.into_inner().next().map(|s| s.as_str().trim_matches('"').to_string());
                        file = text.map(|t| (t, span));
                    } else {
                        settings = self.settings(part);
                    }
                }
                StmtKind::Connect { from, to, via, file, settings }
            }
            Rule::drive => {
                let mut it = self.parts(pair);
                let targets = self.ident_list(it.next()?);
                let source = self.ident(it.next()?);
                let mut settings = Vec::new();
                let mut via = None;
                for p in it {
                    if p.as_rule() == Rule::drive_via {
                        via = self.parts(p).next().map(|i| self.ident(i));
                    } else {
                        settings = self.settings(p);
                    }
                }
                StmtKind::Drive { targets, source, settings, via }
            }
            Rule::record => StmtKind::Record(self.parts(pair).filter_map(|p| self.probe(p)).collect()),
            Rule::domain => {
                let mut it = self.parts(pair);
                let var = self.ident(it.next()?);
                let interval = self.interval(it.next()?)?;
                let mut periodic = false;
                let mut settings = Vec::new();
                for p in it {
                    match p.as_rule() {
                        Rule::periodic => periodic = true,
                        _ => settings.push(self.binding(p)),
                    }
                }
                StmtKind::Domain { var, interval, periodic, settings }
            }
            Rule::variable_stmt => {
                let mut it = self.parts(pair);
                let var = self.ident(it.next()?);
                let interval = self.interval(it.next()?)?;
                let settings = it.map(|p| self.binding(p)).collect();
                StmtKind::Variable { var, interval, settings }
            }
            Rule::table_stmt => {
                let mut it = self.parts(pair);
                let var = self.ident(it.next()?);
                let interval = self.interval(it.next()?)?;
                let settings = it.map(|p| self.binding(p)).collect();
                StmtKind::Table { var, interval, settings }
            }
            Rule::boundary => StmtKind::Boundary(
                pair.into_inner()
                    .filter_map(|part| {
                        let mut it = part.into_inner();
                        let kw = it.next()?;
                        Some(match kw.as_rule() {
                            Rule::kw_refractory => BoundaryPart::Refractory(self.expr(it.next()?)),
                            Rule::kw_threshold => BoundaryPart::Threshold(Binding {
                                name: self.ident(it.next()?),
                                value: self.expr(it.next()?),
                            }),
                            _ => BoundaryPart::Reset(Binding {
                                name: self.ident(it.next()?),
                                value: self.expr(it.next()?),
                            }),
                        })
                    })
                    .collect(),
            ),
            Rule::output => {
                let mut it = self.parts(pair);
                let name = self.ident(it.next()?);
                let v = it.next()?;
                if v.as_rule() == Rule::flux_at {
                    let at = self.parts(v).next().map(|i| self.ident(i));
                    StmtKind::Output { name, flux_at: at, value: None }
                } else {
                    StmtKind::Output { name, flux_at: None, value: Some(self.expr(v)) }
                }
            }
            Rule::couple => {
                let mut it = self.parts(pair);
                let target = it.next()?.into_inner().map(|i| self.ident(i)).collect();
                let op = assign_op(it.next()?.as_str());
                let value = self.expr(it.next()?);
                StmtKind::Couple { target, op, value }
            }
            Rule::noise_stmt => {
                let mut it = self.parts(pair);
                let target = it.next()?.into_inner().map(|i| self.ident(i)).collect();
                let value = self.expr(it.next()?);
                StmtKind::Noise { target, value }
            }
            Rule::observe => StmtKind::Observe(self.binding(self.parts(pair).next()?)),
            Rule::data_clause => {
                let mut entries = Vec::new();
                let mut it = pair.into_inner().peekable();
                while let Some(p) = it.next() {
                    match p.as_rule() {
                        Rule::ident => {
                            let key = self.ident(p);
                            let s = it.next()?;
                            let span = key.span.join(self.span(&s));
                            entries.push(DataEntry::File { key, path: string_text(&s), span });
                        }
                        _ => entries.push(DataEntry::Setting(self.binding(p))),
                    }
                }
                StmtKind::Data(entries)
            }
            Rule::section => {
                let mut it = self.parts(pair);
                let name = self.ident(it.next()?);
                StmtKind::Section { name, settings: self.settings(it.next()?) }
            }
            Rule::site => {
                let mut it = self.parts(pair);
                let name = self.ident(it.next()?);
                let model = self.ident(it.next()?);
                let section = self.ident(it.next()?);
                let settings = it.next().map(|p| self.settings(p)).unwrap_or_default();
                StmtKind::Site { name, model, section, settings }
            }
            Rule::param_set => {
                let mut it = pair.into_inner();
                let q = it.next()?;
                let target = Ident { name: q.as_str().to_string(), span: self.span(&q) };
                StmtKind::SetParam { target, value: self.expr(it.next()?) }
            }
            Rule::region => {
                let mut it = self.parts(pair);
                let name = self.ident(it.next()?);
                let mut it = it.peekable();
                let selector = match it.peek() {
                    Some(p) if p.as_rule() == Rule::region_where => {
                        it.next()?.into_inner().find(|p| p.as_rule() == Rule::expr).map(|e| self.expr(e))
                    }
                    _ => None,
                };
                StmtKind::Region { name, selector, stmts: it.filter_map(|p| self.stmt(p)).collect() }
            }
            Rule::brain_region => {
                let mut it = self.parts(pair);
                let at_pair = it.next()?;
                let at_span = self.span(&at_pair);
                let at = if at_pair.as_rule() == Rule::string {
                    RegionRef::Label(string_text(&at_pair))
                } else {
                    RegionRef::Index(at_pair.as_str().trim().parse().unwrap_or(u64::MAX))
                };
                let model = self.ident(it.next()?);
                StmtKind::BrainRegion { at, at_span, model, stmts: it.filter_map(|p| self.stmt(p)).collect() }
            }
            Rule::send => {
                let mut it = self.parts(pair);
                let source = self.ident(it.next()?);
                StmtKind::Send { source, settings: self.settings(it.next()?) }
            }
            Rule::derived => {
                let mut it = pair.into_inner();
                let name = self.ident(it.next()?);
                let value = self.expr(it.next()?);
                StmtKind::Derived(Binding { name, value })
            }
            Rule::EOI => return None,
            _ => {
                self.internal(&pair, "statement");
                return None;
            }
        };
        Some(Stmt { kind, span })
    }

    fn missing(&self, span: Span) -> Ident {
        Ident { name: String::new(), span }
    }

    fn fn_def(&self, pair: Pair<Rule>) -> Option<FnDef> {
        let mut it = self.parts(pair);
        let name = self.ident(it.next()?);
        let params = it.next()?.into_inner().map(|p| self.ident(p)).collect();
        let body = self.expr(it.next()?);
        Some(FnDef { name, params, body })
    }

    fn ident_list(&self, pair: Pair<Rule>) -> Vec<Ident> {
        pair.into_inner().map(|p| self.ident(p)).collect()
    }

    fn settings(&self, pair: Pair<Rule>) -> Vec<Binding> {
        pair.into_inner().map(|p| self.binding(p)).collect()
    }

    fn probe(&self, pair: Pair<Rule>) -> Option<Probe> {
        let mut it = pair.into_inner();
        let name = self.ident(it.next()?);
        let mut targets = Vec::new();
        let mut settings = Vec::new();
        for p in it {
            if p.as_rule() == Rule::setting {
                settings.push(self.binding(p));
            } else {
                let mut t = p.into_inner();
                let id = self.ident(t.next()?);
                let range = match (t.next(), t.next()) {
                    (Some(a), Some(b)) => {
                        Some((a.as_str().parse().unwrap_or(u64::MAX), b.as_str().parse().unwrap_or(u64::MAX)))
                    }
                    _ => None,
                };
                targets.push((id, range));
            }
        }
        Some(Probe { name, targets, settings })
    }

    fn interval(&self, pair: Pair<Rule>) -> Option<Interval> {
        let mut it = pair.into_inner();
        let open = it.next()?;
        let lo = self.expr(it.next()?);
        let hi = self.expr(it.next()?);
        let close = it.next()?;
        Some(Interval { lo, hi, lo_closed: open.as_str() == "[", hi_closed: close.as_str() == "]" })
    }

    fn action(&self, pair: Pair<Rule>) -> Option<Action> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut it = self.parts(pair);
        Some(match rule {
            Rule::emit => Action::Emit { what: self.ident(it.next()?), span },
            Rule::refractory => Action::Refractory { duration: self.expr(it.next()?), span },
            _ => {
                let target = self.ident(it.next()?);
                let op = assign_op(it.next()?.as_str());
                let value = self.expr(it.next()?);
                Action::Assign { target, op, value, span }
            }
        })
    }

    fn binding(&self, pair: Pair<Rule>) -> Binding {
        let span = self.span(&pair);
        let mut it = pair.into_inner();
        let name = it.next().map(|p| self.ident(p)).unwrap_or_else(|| self.missing(span));
        let value = it.next().map(|p| self.expr(p)).unwrap_or(Expr { kind: ExprKind::Error, span });
        Binding { name, value }
    }

    pub(super) fn expr(&self, pair: Pair<Rule>) -> Expr {
        if pair.as_rule() != Rule::expr {
            return self.primary(pair);
        }
        self.pratt(pair.into_inner())
    }

    fn pratt(&self, pairs: Pairs<Rule>) -> Expr {
        PRATT
            .map_primary(|p| self.primary(p))
            .map_prefix(|op, rhs| {
                let span = self.span(&op).join(rhs.span);
                match op.as_rule() {
                    Rule::neg => Expr { kind: ExprKind::Unary(UnOp::Neg, Box::new(rhs)), span },
                    Rule::not => Expr { kind: ExprKind::Unary(UnOp::Not, Box::new(rhs)), span },
                    _ => rhs,
                }
            })
            .map_postfix(|lhs, op| {
                let span = lhs.span.join(self.span(&op));
                let kind = match op.as_rule() {
                    Rule::call_args => ExprKind::Call(Box::new(lhs), op.into_inner().map(|a| self.expr(a)).collect()),
                    Rule::index => ExprKind::Index(Box::new(lhs), op.into_inner().map(|a| self.expr(a)).collect()),
                    _ => match op.into_inner().next() {
                        Some(m) => ExprKind::Member(Box::new(lhs), self.ident(m)),
                        None => ExprKind::Error,
                    },
                };
                Expr { kind, span }
            })
            .map_infix(|lhs, op, rhs| {
                let span = lhs.span.join(rhs.span);
                let bin = match op.as_rule() {
                    Rule::or => BinOp::Or,
                    Rule::and => BinOp::And,
                    Rule::eq => BinOp::Eq,
                    Rule::ne => BinOp::Ne,
                    Rule::lt => BinOp::Lt,
                    Rule::le => BinOp::Le,
                    Rule::gt => BinOp::Gt,
                    Rule::ge => BinOp::Ge,
                    Rule::add => BinOp::Add,
                    Rule::sub => BinOp::Sub,
                    Rule::mul => BinOp::Mul,
                    Rule::div => BinOp::Div,
                    _ => BinOp::Pow,
                };
                Expr { kind: ExprKind::Binary(bin, Box::new(lhs), Box::new(rhs)), span }
            })
            .parse(pairs)
    }

    fn primary(&self, pair: Pair<Rule>) -> Expr {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::expr => return self.expr(pair),
            Rule::paren => match pair.into_inner().next() {
                Some(inner) => {
                    let mut e = self.expr(inner);
                    e.span = span;
                    return e;
                }
                None => ExprKind::Error,
            },
            Rule::quantity => {
                let mut it = pair.into_inner();
                let num = it.next();
                let text = num.as_ref().map(|n| n.as_str()).unwrap_or("0");
                let value = text.parse::<f64>().unwrap_or(f64::INFINITY);
                if !value.is_finite() {
                    self.errs.borrow_mut().push(
                        Diagnostic::error(Code::BadNumber, "number is too large to represent")
                            .at(span, "this literal overflows a 64-bit float")
                            .help("numbers must be below about 1.8e308; use a unit prefix or scientific notation"),
                    );
                }
                let unit = it.next().map(|u| self.unit(u));
                ExprKind::Number { value, unit }
            }
            Rule::string => ExprKind::Str(string_text(&pair)),
            Rule::boolean => ExprKind::Bool(pair.as_str() == "true"),
            Rule::ident => ExprKind::Name(pair.as_str().to_string()),
            Rule::if_expr => {
                let mut it = self.parts(pair);
                match (it.next(), it.next(), it.next()) {
                    (Some(c), Some(a), Some(b)) => {
                        ExprKind::If(Box::new(self.expr(c)), Box::new(self.expr(a)), Box::new(self.expr(b)))
                    }
                    _ => ExprKind::Error,
                }
            }
            _ => {
                self.internal(&pair, "expression");
                ExprKind::Error
            }
        };
        Expr { kind, span }
    }

    fn unit(&self, pair: Pair<Rule>) -> UnitExpr {
        let span = self.span(&pair);
        let text = pair.as_str().to_string();
        let mut factors = Vec::new();
        let mut sign = 1;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::unit_div => sign = -1,
                Rule::unit_mul => sign = 1,
                Rule::unit_factor => {
                    let fspan = self.span(&p);
                    let mut it = p.into_inner();
                    let name = it.next().map(|n| n.as_str().to_string()).unwrap_or_default();
                    let (mut num, den) = match it.next() {
                        None => (1, 1),
                        Some(e) => match parse_unit_exp(e.as_str()) {
                            Some(p) => p,
                            None => {
                                self.errs.borrow_mut().push(
                                    Diagnostic::error(
                                        Code::BadExponent,
                                        format!("unit exponent `{}` is not usable", e.as_str()),
                                    )
                                    .at(self.span(&e), "not a small integer or fraction")
                                    .help("unit exponents are small integers or fractions: `cm^2`, `s^(1/2)`"),
                                );
                                (1, 1)
                            }
                        },
                    };
                    num *= sign;
                    factors.push(UnitFactor { name, power: (num, den), span: fspan });
                    sign = 1;
                }
                _ => {}
            }
        }
        UnitExpr { factors, text, span }
    }
}

/// `2`, `-1`, `(1/2)`: numerator and denominator, each at most 1000 in size.
fn parse_unit_exp(s: &str) -> Option<(i64, i64)> {
    let s = s.trim_start_matches('(').trim_end_matches(')');
    let (num, den) = s.split_once('/').unwrap_or((s, "1"));
    let num = num.parse::<i64>().ok().filter(|n| n.abs() <= 1000)?;
    let den = den.parse::<i64>().ok().filter(|d| (1..=1000).contains(d))?;
    Some((num, den))
}

fn assign_op(s: &str) -> AssignOp {
    match s {
        "+=" => AssignOp::Add,
        "-=" => AssignOp::Sub,
        "*=" => AssignOp::Mul,
        "/=" => AssignOp::Div,
        _ => AssignOp::Set,
    }
}

fn string_text(pair: &Pair<Rule>) -> String {
    let s = pair.as_str();
    s.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(s).to_string()
}

fn is_keyword(rule: Rule) -> bool {
    format!("{rule:?}").starts_with("kw_")
}
