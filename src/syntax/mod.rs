//! Syntax: source text -> [`ast::File`] plus diagnostics. Never fails.
//!
//! Steps: a cheap pre-scan bounds nesting (so neither pest nor the later
//! recursive passes can exhaust the stack), then pest parses one top-level
//! item at a time; after an error the parser skips to the next line that
//! starts a top-level item and goes on. Diagnostics: E01xx.

pub mod ast;
mod lower;

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::source::{FileId, Span};
use pest::Parser as _;

#[derive(pest_derive::Parser)]
#[grammar = "grammar/neuro.pest"]
pub(crate) struct NeuroParser;

/// Brackets may nest this deep; beyond it the input is rejected (E0102).
pub const MAX_NESTING: usize = 64;
/// Operators allowed in one logical line (bounds expression-tree depth).
pub const MAX_OPERATORS: usize = 1000;

const TOP_LEVEL: &[&str] = &[
    "import",
    "simulate",
    "channel",
    "neuron",
    "synapse",
    "plasticity",
    "rate",
    "field",
    "density",
    "network",
    "brain",
];

/// Parses a whole file. Returns every item that parsed, and a diagnostic for
/// each part that did not.
pub fn parse(file: FileId, text: &str) -> (ast::File, Diagnostics) {
    let mut diags = Diagnostics::default();
    // a byte-order mark at the start is an editor's, not the user's
    let start = if text.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 };
    let odd = characters(file, text, start);
    if !odd.is_empty() {
        diags.list.extend(odd);
        return (ast::File::default(), diags);
    }
    if let Some(d) = prescan(file, text) {
        diags.push(d);
        return (ast::File::default(), diags);
    }
    if let Some(d) = unclosed(file, text) {
        diags.push(d);
        return (ast::File::default(), diags);
    }
    let mut items = Vec::new();
    let mut pos = skip_blank(text, start);
    while pos < text.len() {
        match parse_rule(Rule::item, &text[pos..]) {
            Ok(mut pairs) => {
                let Some(pair) = pairs.next() else { break };
                let end = pos + pair.as_span().end();
                let lw = lower::Lowerer::new(file, pos);
                if let Some(item) = lw.item(pair) {
                    items.push(item);
                }
                diags.list.extend(lw.finish());
                let after = skip_inline_blank(text, end);
                if after < text.len() && !text[after..].starts_with(['\n', '\r', ';']) {
                    diags.push(
                        Diagnostic::error(Code::Syntax, "expected the end of the line")
                            .at(span_at(file, text, after), "unexpected text after this item")
                            .help("put each top-level item (model, import, simulate) on its own line"),
                    );
                    pos = next_item_start(text, after);
                } else {
                    pos = skip_blank(text, after);
                }
            }
            Err(err) => {
                diags.push(syntax_error(file, text, pos, &err));
                let err_pos = pos + error_offset(&err);
                pos = next_item_start(text, err_pos.max(pos + 1));
            }
        }
    }
    (ast::File { items }, diags)
}

/// Parses `text` with pest. The first attempt keeps no record of what it
/// tried (that record costs about a third of the time of a parse); only a
/// text that fails is parsed again with it, for the message. pest's switch
/// for it is global, so the two steps hold a lock: another thread's parse
/// never sees it change.
fn parse_rule(rule: Rule, text: &str) -> Result<pest::iterators::Pairs<'_, Rule>, pest::error::Error<Rule>> {
    static DETAIL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _held = DETAIL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    pest::set_error_detail(false);
    NeuroParser::parse(rule, text).or_else(|_| {
        pest::set_error_detail(true);
        let detailed = NeuroParser::parse(rule, text);
        pest::set_error_detail(false);
        detailed
    })
}

/// Parses a lone expression (a `--set` value or a CLI argument).
pub fn parse_expr(file: FileId, text: &str) -> (Option<ast::Expr>, Diagnostics) {
    parse_alone(file, text, Rule::expr_only, |lw, p| Some(lw.expr(p)))
}

/// Parses a `table` statement on its own (`text` starts with `table`), as
/// `neuroc run --table` gets it: the state, the range and the settings.
pub fn parse_table(file: FileId, text: &str) -> (Option<(ast::Ident, ast::Interval, Vec<ast::Binding>)>, Diagnostics) {
    parse_alone(file, text, Rule::table_only, |lw, p| match lw.stmt(p)?.kind {
        ast::StmtKind::Table { var, interval, settings } => Some((var, interval, settings)),
        _ => None,
    })
}

/// Parses `text` with the rule `rule` (`SOI ~ x ~ EOI`) and lowers its one
/// inner pair with `lower`.
fn parse_alone<T>(
    file: FileId,
    text: &str,
    rule: Rule,
    lower: impl FnOnce(&lower::Lowerer, pest::iterators::Pair<Rule>) -> Option<T>,
) -> (Option<T>, Diagnostics) {
    let mut diags = Diagnostics::default();
    let odd = characters(file, text, 0);
    if !odd.is_empty() {
        diags.list.extend(odd);
        return (None, diags);
    }
    if let Some(d) = prescan(file, text) {
        diags.push(d);
        return (None, diags);
    }
    match parse_rule(rule, text) {
        Ok(mut pairs) => {
            let lw = lower::Lowerer::new(file, 0);
            let value = pairs.next().and_then(|p| p.into_inner().next()).and_then(|p| lower(&lw, p));
            diags.list.extend(lw.finish());
            (value, diags)
        }
        Err(err) => {
            diags.push(syntax_error(file, text, 0, &err));
            (None, diags)
        }
    }
}

/// Characters that look like something else or like nothing: named, with
/// what to write instead. Comments may hold anything.
fn odd_character(c: char) -> Option<(&'static str, &'static str)> {
    Some(match c {
        '\0' => ("NUL", "delete it: the file may be binary or damaged"),
        '\u{a0}' => ("NO-BREAK SPACE", "replace it with a plain space"),
        '\u{200b}' => {
            ("ZERO WIDTH SPACE", "delete it: it is invisible (copying from web pages or documents inserts it)")
        }
        '\u{200c}' => ("ZERO WIDTH NON-JOINER", "delete it: it is invisible"),
        '\u{200d}' => ("ZERO WIDTH JOINER", "delete it: it is invisible"),
        '\u{2060}' => ("WORD JOINER", "delete it: it is invisible"),
        '\u{feff}' => ("ZERO WIDTH NO-BREAK SPACE (a byte-order mark)", "delete it: it is invisible"),
        '\u{2212}' => ("MINUS SIGN", "write the ASCII `-`"),
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' => ("DASH", "write the ASCII `-`"),
        '\u{2018}' | '\u{2019}' => ("CURLY QUOTE", "names need no quotes; file names take `\"`"),
        '\u{201c}' | '\u{201d}' => ("CURLY DOUBLE QUOTE", "write the ASCII `\"`"),
        '\u{d7}' => ("MULTIPLICATION SIGN", "write `*`"),
        '\u{f7}' => ("DIVISION SIGN", "write `/`"),
        c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => ("CONTROL CHARACTER", "delete it"),
        _ => return None,
    })
}

/// E0101 for every odd character outside comments (at most ten).
fn characters(file: FileId, text: &str, start: usize) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut comment = false;
    for (i, c) in text.char_indices().skip_while(|(i, _)| *i < start) {
        match c {
            '#' => comment = true,
            '\n' => comment = false,
            _ if comment => {}
            _ => {
                if let Some((name, help)) = odd_character(c) {
                    out.push(
                        Diagnostic::error(Code::Syntax, format!("U+{:04X} {name} is not allowed here", c as u32))
                            .at(Span::new(file, i..i + c.len_utf8()), "here")
                            .help(help),
                    );
                    if out.len() == 10 {
                        break;
                    }
                }
            }
        }
    }
    out
}

/// A `{` that is never closed, found by indentation: the `}` that closes a
/// block stands at the indentation of the line that opened it, so a `}`
/// (or a top-level keyword at the start of a line) less indented than an
/// open `{` means that `{` was left open. Only when the file has more `{`
/// than `}`: other layouts are the parser's to judge.
fn unclosed(file: FileId, text: &str) -> Option<Diagnostic> {
    let code = |line: &str| line.split('#').next().unwrap_or("").to_string();
    let (opens, closes) =
        text.lines().map(code).fold((0, 0), |(o, c), l| (o + l.matches('{').count(), c + l.matches('}').count()));
    if opens <= closes {
        return None;
    }
    let mut stack: Vec<(usize, usize)> = Vec::new(); // (offset of `{`, indentation of its line)
    let mut offset = 0;
    let report = |at: usize| {
        Diagnostic::error(Code::Syntax, "this `{` is never closed")
            .at(Span::new(file, at..at + 1), "opened here")
            .help("close it with `}` on a line of its own, indented like the line that opens it")
    };
    for line in text.split_inclusive('\n') {
        let body = code(line);
        let indent = body.len() - body.trim_start().len();
        let first = body.trim_start();
        if indent == 0 && !stack.is_empty() && TOP_LEVEL.iter().any(|kw| first.starts_with(kw)) {
            return Some(report(stack[stack.len() - 1].0));
        }
        let mut in_string = false;
        for (k, ch) in body.char_indices() {
            match ch {
                '"' => in_string = !in_string,
                '{' if !in_string => stack.push((offset + k, indent)),
                '}' if !in_string => {
                    let leading = k == indent;
                    if leading {
                        if let Some(&(at, open_indent)) = stack.last() {
                            if open_indent > indent {
                                return Some(report(at));
                            }
                        }
                    }
                    stack.pop();
                }
                _ => {}
            }
        }
        offset += line.len();
    }
    stack.last().map(|&(at, _)| report(at))
}

/// Rejects inputs nested deeper than the compiler's recursion can take.
fn prescan(file: FileId, text: &str) -> Option<Diagnostic> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    // brackets inside which a line break does not end the expression
    let mut paren = 0usize;
    let mut operators = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                if bytes[i] != b'{' {
                    paren += 1;
                }
                if depth > MAX_NESTING {
                    return Some(
                        Diagnostic::error(Code::TooDeep, format!("brackets nested more than {MAX_NESTING} deep"))
                            .at(span_at(file, text, i), "this bracket is too deep")
                            .help("split the expression into named derived values"),
                    );
                }
            }
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                if bytes[i] != b'}' {
                    paren = paren.saturating_sub(1);
                }
            }
            b'\n' if paren == 0 && !continues(bytes, i) => operators = 0,
            b'+' | b'-' | b'*' | b'/' | b'^' | b'<' | b'>' | b'=' => {
                operators += 1;
            }
            b'i' if bytes[i..].starts_with(b"if") => operators += 1,
            b'n' if bytes[i..].starts_with(b"not") => operators += 1,
            _ => {}
        }
        if operators > MAX_OPERATORS {
            return Some(
                Diagnostic::error(Code::TooDeep, format!("more than {MAX_OPERATORS} operators in one expression"))
                    .at(span_at(file, text, i), "the expression is too long here")
                    .help("split the expression into named derived values"),
            );
        }
        i += 1;
    }
    None
}

/// Whether the line ending at `nl` continues on the next line (its last
/// significant character is an operator, comma, `then` or `else`).
fn continues(bytes: &[u8], nl: usize) -> bool {
    let line_start = bytes[..nl].iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let line = &bytes[line_start..nl];
    let code_end = line.iter().position(|&b| b == b'#').unwrap_or(line.len());
    let code = line[..code_end].trim_ascii_end();
    matches!(code.last(), Some(b'+' | b'-' | b'*' | b'/' | b'^' | b'<' | b'>' | b'=' | b',' | b'\\'))
        || code.ends_with(b"then")
        || code.ends_with(b"else")
        || code.ends_with(b"and")
        || code.ends_with(b"or")
}

fn skip_inline_blank(text: &str, mut pos: usize) -> usize {
    let bytes = text.as_bytes();
    while pos < bytes.len() && matches!(bytes[pos], b' ' | b'\t') {
        pos += 1;
    }
    if pos < bytes.len() && bytes[pos] == b'#' {
        while pos < bytes.len() && bytes[pos] != b'\n' {
            pos += 1;
        }
    }
    pos
}

fn skip_blank(text: &str, mut pos: usize) -> usize {
    let bytes = text.as_bytes();
    loop {
        pos = skip_inline_blank(text, pos);
        if pos < bytes.len() && matches!(bytes[pos], b'\n' | b'\r' | b';') {
            pos += 1;
        } else {
            return pos;
        }
    }
}

/// The start of the next line (after `from`) that begins with a top-level
/// keyword, or the end of the text.
fn next_item_start(text: &str, from: usize) -> usize {
    let mut pos = from.min(text.len());
    while !text.is_char_boundary(pos) {
        pos += 1;
    }
    while let Some(nl) = text[pos..].find('\n') {
        pos += nl + 1;
        let line = &text[pos..];
        let starts_item = TOP_LEVEL.iter().any(|kw| {
            line.starts_with(kw)
                && !line[kw.len()..].chars().next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        if starts_item {
            return pos;
        }
    }
    text.len()
}

/// A one-character span at `pos` (zero-width at the end of the text).
fn span_at(file: FileId, text: &str, pos: usize) -> Span {
    let pos = pos.min(text.len());
    let end = text[pos..].chars().next().map_or(pos, |c| pos + c.len_utf8());
    Span::new(file, pos..end)
}

fn error_offset(err: &pest::error::Error<Rule>) -> usize {
    match err.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((a, _)) => a,
    }
}

fn syntax_error(file: FileId, text: &str, base: usize, err: &pest::error::Error<Rule>) -> Diagnostic {
    let attempts = err.parse_attempts();
    let furthest = attempts.as_ref().map_or(0, |a| a.max_position).max(error_offset(err));
    let pos = base + furthest;
    let mut expected: Vec<String> = Vec::new();
    let at_furthest = furthest == error_offset(err);
    if let (true, pest::error::ErrorVariant::ParsingError { positives, .. }) = (at_furthest, &err.variant) {
        for r in positives {
            if let Some(name) = rule_name(*r) {
                expected.push(name.to_string());
            }
        }
    }
    if let Some(attempts) = attempts {
        for tok in attempts.expected_tokens() {
            let s = tok.to_string();
            let noise = s == "BUILTIN_RULE"
                || s.contains("..")
                || matches!(s.as_str(), "#" | "\\" | "\"" | "_" | ".")
                || (s.trim().is_empty() && s != "\n" && s != "\r\n");
            if !noise {
                let shown = match s.as_str() {
                    "\n" | "\r\n" => "end of line".to_string(),
                    _ => format!("`{s}`"),
                };
                expected.push(shown);
            }
        }
    }
    expected.sort();
    expected.dedup();
    if let Some(d) = unit_exponent(file, text, pos) {
        return d;
    }
    let found = describe_found(text, pos);
    let message = if expected.is_empty() {
        format!("unexpected {found}")
    } else {
        format!("expected {}, found {found}", join_or(&expected))
    };
    Diagnostic::error(Code::Syntax, message)
        .at(span_at(file, text, pos), "unexpected here")
        .help(syntax_help(text, pos, &expected))
}

/// `mV^0.5`: a unit's exponent written as a decimal.
fn unit_exponent(file: FileId, text: &str, pos: usize) -> Option<Diagnostic> {
    let before = &text[..pos.min(text.len())];
    let caret = before.rfind('^')?;
    let digits = &before[caret + 1..];
    let is_decimal = !digits.is_empty()
        && digits.trim_start_matches('-').chars().all(|c| c.is_ascii_digit() || c == '.')
        && text[caret..].chars().skip(1).take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '-').any(|c| c == '.');
    let unit_before = before[..caret].chars().last().is_some_and(|c| c.is_alphabetic());
    if !(is_decimal && unit_before) {
        return None;
    }
    let end = caret
        + 1
        + text[caret + 1..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
            .map(char::len_utf8)
            .sum::<usize>();
    Some(
        Diagnostic::error(Code::BadExponent, "a unit's exponent is a whole number or a fraction, not a decimal")
            .at(Span::new(file, caret + 1..end), "a decimal exponent")
            .help("write `mV^2`, `mV^-1` or a fraction in parentheses: `mV^(1/2)`"),
    )
}

fn describe_found(text: &str, pos: usize) -> String {
    let rest = &text[pos.min(text.len())..];
    match rest.chars().next() {
        None => "end of file".to_string(),
        Some('\n') | Some('\r') => "end of line".to_string(),
        Some(c) if c.is_alphanumeric() || c == '_' => {
            let word: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.').collect();
            format!("`{word}`")
        }
        Some(c) => format!("`{c}`"),
    }
}

fn syntax_help(text: &str, pos: usize, expected: &[String]) -> String {
    let before = text[..pos.min(text.len())].trim_end_matches([' ', '\t']);
    if expected.iter().any(|e| e == "`x`") {
        return "a population is `population NAME = SIZE x MODEL`, e.g. `population E = 800 x LIF`".into();
    }
    let after_number =
        before.ends_with(|c: char| c.is_ascii_digit()) && text[pos..].starts_with(|c: char| c.is_alphabetic());
    if after_number {
        return "a unit follows its number directly: `-65 mV`, `120 mS/cm^2`".into();
    }
    "see docs/language.md for the syntax of each statement".into()
}

fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [a] => a.clone(),
        [rest @ .., last] => {
            let shown: Vec<&str> = rest.iter().take(8).map(String::as_str).collect();
            if rest.len() > 8 {
                format!("{}, ... or {last}", shown.join(", "))
            } else {
                format!("{} or {last}", shown.join(", "))
            }
        }
    }
}

/// User-facing names of grammar rules that can appear in "expected ...".
fn rule_name(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::expr | Rule::paren | Rule::quantity | Rule::if_expr => "an expression",
        Rule::ident => "a name",
        Rule::number | Rule::integer => "a number",
        Rule::string => "a string",
        Rule::unit | Rule::unit_factor | Rule::unit_name => "a unit",
        Rule::model_kind => "a model kind (channel, neuron, synapse, ...)",
        Rule::import => "`import`",
        Rule::simulate => "`simulate`",
        Rule::model => "a model",
        Rule::ode_lhs => "`dX/dt`",
        Rule::assign_op => "an assignment (`=`, `+=`, ...)",
        Rule::direction => "`upward` or `downward`",
        Rule::EOI => "end of file",
        Rule::call_args => "`(`",
        Rule::binding | Rule::setting | Rule::sim_setting => "`name = value`",
        Rule::add | Rule::sub | Rule::mul | Rule::div | Rule::pow => "an operator",
        Rule::eq | Rule::ne | Rule::lt | Rule::le | Rule::gt | Rule::ge => "a comparison",
        _ => return None,
    })
}
