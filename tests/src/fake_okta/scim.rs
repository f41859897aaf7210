//! The SCIM-style expressions of Okta's `filter` and `search` parameters, parsed once and evaluated
//! against the JSON of any object.
//!
//! Every list endpoint shares this one evaluator, so an expression means the same thing on users,
//! groups, apps, zones and log events (as it does in Okta). What differs per endpoint is which
//! attributes may be named (`filter` on users only takes a handful) and whether string values
//! compare case-insensitively (`search` does, `filter` does not); the caller decides both.
//!
//! Grammar (operators and keywords are case-insensitive, attribute names are not):
//! ```text
//! expr       := and_expr ("or" and_expr)*
//! and_expr   := unary ("and" unary)*
//! unary      := "not" unary | "(" expr ")" | comparison
//! comparison := ATTRIBUTE "pr" | ATTRIBUTE OP VALUE
//! OP         := eq | ne | sw | ew | co | gt | ge | lt | le
//! VALUE      := "json string" | number | true | false | null
//! ```
//! Attributes are dotted paths (`profile.department`, `target.id`); an array anywhere on the path
//! matches when any of its elements does. When both sides of a comparison are ISO 8601 date-times
//! they compare chronologically, otherwise strings compare lexicographically.

use chrono::{DateTime, Utc};
use serde_json::Value;
use std::cmp::Ordering;

/// Longest expression accepted; Okta rejects long ones too, and it bounds parse work.
const MAX_EXPRESSION_BYTES: usize = 4096;
/// Deepest nesting of parentheses and `not`; keeps recursion bounded on hostile input.
const MAX_DEPTH: usize = 32;

/// Why an expression was rejected, with the byte position where the problem was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ScimError {
    /// Human-readable reason, suitable for an `errorCauses` entry.
    pub message: String,
}

impl ScimError {
    fn at(position: usize, message: impl std::fmt::Display) -> Self {
        Self {
            message: format!("{message} at position {position}"),
        }
    }
}

/// How string values compare in `eq`, `ne`, `sw`, `ew`, `co` and the orderings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseRule {
    /// Byte-exact (Okta's `filter`).
    Sensitive,
    /// ASCII case folded (Okta's `search`).
    Insensitive,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Eq,
    Ne,
    Sw,
    Ew,
    Co,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Operator {
    fn parse(word: &str) -> Option<Self> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => Operator::Eq,
            "ne" => Operator::Ne,
            "sw" => Operator::Sw,
            "ew" => Operator::Ew,
            "co" => Operator::Co,
            "gt" => Operator::Gt,
            "ge" => Operator::Ge,
            "lt" => Operator::Lt,
            "le" => Operator::Le,
            _ => return None,
        })
    }
}

/// A literal on the right of an operator.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A string, with its date-time reading when it is one.
    String(String, Option<DateTime<Utc>>),
    Number(f64),
    Bool(bool),
    Null,
}

/// A parsed expression tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Present(String),
    Compare(String, Operator, Literal),
}

/// A parsed `filter` or `search` expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    root: Expr,
}

impl Filter {
    /// Parses an expression; any syntax error is an `Err` (Okta's 400 "Invalid search criteria").
    pub fn parse(input: &str) -> Result<Self, ScimError> {
        if input.len() > MAX_EXPRESSION_BYTES {
            return Err(ScimError {
                message: format!("expression longer than {MAX_EXPRESSION_BYTES} bytes"),
            });
        }
        let tokens = tokenize(input)?;
        let mut parser = Parser {
            tokens,
            position: 0,
            end: input.len(),
        };
        let root = parser.expr(0)?;
        if let Some(token) = parser.peek() {
            return Err(ScimError::at(
                token.start,
                format!("unexpected '{}'", token.text()),
            ));
        }
        Ok(Self { root })
    }

    /// Every attribute path the expression names, for per-endpoint allowlists.
    pub fn attributes(&self) -> Vec<&str> {
        let mut out = Vec::new();
        collect_attributes(&self.root, &mut out);
        out
    }

    /// Whether `doc` satisfies the expression.
    pub fn matches(&self, doc: &Value, case: CaseRule) -> bool {
        evaluate(&self.root, doc, case)
    }

    /// Whether every comparison uses `eq` (some Okta endpoints support nothing else).
    pub fn uses_only_eq(&self) -> bool {
        fn walk(expr: &Expr) -> bool {
            match expr {
                Expr::And(a, b) | Expr::Or(a, b) => walk(a) && walk(b),
                Expr::Not(_) | Expr::Present(_) => false,
                Expr::Compare(_, operator, _) => *operator == Operator::Eq,
            }
        }
        walk(&self.root)
    }

    /// Parses and checks that only `allowed` attributes are named (exact names).
    pub fn parse_restricted(input: &str, allowed: &[&str]) -> Result<Self, ScimError> {
        let filter = Self::parse(input)?;
        if let Some(bad) = filter
            .attributes()
            .into_iter()
            .find(|attribute| !allowed.contains(attribute))
        {
            return Err(ScimError {
                message: format!(
                    "attribute '{bad}' is not supported here; supported: {}",
                    allowed.join(", ")
                ),
            });
        }
        Ok(filter)
    }
}

fn collect_attributes<'a>(expr: &'a Expr, out: &mut Vec<&'a str>) {
    match expr {
        Expr::And(a, b) | Expr::Or(a, b) => {
            collect_attributes(a, out);
            collect_attributes(b, out);
        }
        Expr::Not(inner) => collect_attributes(inner, out),
        Expr::Present(path) | Expr::Compare(path, _, _) => out.push(path),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum TokenKind {
    Open,
    Close,
    Word(String),
    Quoted(String),
}

#[derive(Debug, Clone)]
struct Token {
    kind: TokenKind,
    start: usize,
}

impl Token {
    fn text(&self) -> String {
        match &self.kind {
            TokenKind::Open => "(".into(),
            TokenKind::Close => ")".into(),
            TokenKind::Word(w) => w.clone(),
            TokenKind::Quoted(q) => format!("\"{q}\""),
        }
    }
}

fn tokenize(input: &str) -> Result<Vec<Token>, ScimError> {
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '(' {
            chars.next();
            tokens.push(Token {
                kind: TokenKind::Open,
                start,
            });
        } else if c == ')' {
            chars.next();
            tokens.push(Token {
                kind: TokenKind::Close,
                start,
            });
        } else if c == '"' {
            chars.next();
            let value = read_string(&mut chars, start)?;
            tokens.push(Token {
                kind: TokenKind::Quoted(value),
                start,
            });
        } else {
            let mut word = String::new();
            while let Some(&(_, c)) = chars.peek() {
                if c.is_whitespace() || c == '(' || c == ')' || c == '"' {
                    break;
                }
                word.push(c);
                chars.next();
            }
            tokens.push(Token {
                kind: TokenKind::Word(word),
                start,
            });
        }
    }
    Ok(tokens)
}

/// Reads a JSON string body after its opening quote.
fn read_string(
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
    start: usize,
) -> Result<String, ScimError> {
    let mut value = String::new();
    loop {
        let Some((position, c)) = chars.next() else {
            return Err(ScimError::at(start, "unterminated string"));
        };
        match c {
            '"' => return Ok(value),
            '\\' => {
                let Some((_, escaped)) = chars.next() else {
                    return Err(ScimError::at(position, "unterminated escape"));
                };
                match escaped {
                    '"' => value.push('"'),
                    '\\' => value.push('\\'),
                    '/' => value.push('/'),
                    'b' => value.push('\u{8}'),
                    'f' => value.push('\u{c}'),
                    'n' => value.push('\n'),
                    'r' => value.push('\r'),
                    't' => value.push('\t'),
                    'u' => value.push(read_unicode_escape(chars, position)?),
                    other => {
                        return Err(ScimError::at(
                            position,
                            format!("invalid escape '\\{other}'"),
                        ));
                    }
                }
            }
            c if (c as u32) < 0x20 => {
                return Err(ScimError::at(position, "control character in string"));
            }
            c => value.push(c),
        }
    }
}

fn read_hex4(
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
    position: usize,
) -> Result<u32, ScimError> {
    let mut code = 0u32;
    for _ in 0..4 {
        let digit = chars
            .next()
            .and_then(|(_, c)| c.to_digit(16))
            .ok_or_else(|| ScimError::at(position, "invalid \\u escape"))?;
        code = code * 16 + digit;
    }
    Ok(code)
}

fn read_unicode_escape(
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
    position: usize,
) -> Result<char, ScimError> {
    let high = read_hex4(chars, position)?;
    let code = if (0xD800..0xDC00).contains(&high) {
        // A surrogate pair: the low half must follow as another \u escape.
        let backslash = chars.next().map(|(_, c)| c);
        let u = chars.next().map(|(_, c)| c);
        if backslash != Some('\\') || u != Some('u') {
            return Err(ScimError::at(position, "unpaired surrogate in \\u escape"));
        }
        let low = read_hex4(chars, position)?;
        if !(0xDC00..0xE000).contains(&low) {
            return Err(ScimError::at(position, "unpaired surrogate in \\u escape"));
        }
        0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
    } else {
        high
    };
    char::from_u32(code).ok_or_else(|| ScimError::at(position, "invalid \\u escape"))
}

struct Parser {
    tokens: Vec<Token>,
    position: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.position)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.position).cloned();
        if token.is_some() {
            self.position += 1;
        }
        token
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token { kind: TokenKind::Word(w), .. }) if w.eq_ignore_ascii_case(keyword))
    }

    fn expr(&mut self, depth: usize) -> Result<Expr, ScimError> {
        let mut left = self.and_expr(depth)?;
        while self.peek_keyword("or") {
            self.next();
            let right = self.and_expr(depth)?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self, depth: usize) -> Result<Expr, ScimError> {
        let mut left = self.unary(depth)?;
        while self.peek_keyword("and") {
            self.next();
            let right = self.unary(depth)?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, ScimError> {
        if depth >= MAX_DEPTH {
            let at = self.peek().map_or(self.end, |t| t.start);
            return Err(ScimError::at(at, "expression nested too deeply"));
        }
        let Some(token) = self.next() else {
            return Err(ScimError::at(self.end, "expected an expression"));
        };
        match token.kind {
            TokenKind::Open => {
                let inner = self.expr(depth + 1)?;
                match self.next() {
                    Some(Token {
                        kind: TokenKind::Close,
                        ..
                    }) => Ok(inner),
                    Some(other) => Err(ScimError::at(
                        other.start,
                        format!("expected ')' but found '{}'", other.text()),
                    )),
                    None => Err(ScimError::at(self.end, "missing ')'")),
                }
            }
            TokenKind::Word(word) if word.eq_ignore_ascii_case("not") => {
                Ok(Expr::Not(Box::new(self.unary(depth + 1)?)))
            }
            TokenKind::Word(word) => self.comparison(word, token.start),
            TokenKind::Close | TokenKind::Quoted(_) => Err(ScimError::at(
                token.start,
                format!("expected an attribute but found '{}'", token.text()),
            )),
        }
    }

    fn comparison(&mut self, attribute: String, start: usize) -> Result<Expr, ScimError> {
        if !is_attribute_path(&attribute) {
            return Err(ScimError::at(
                start,
                format!("invalid attribute name '{attribute}'"),
            ));
        }
        let Some(op_token) = self.next() else {
            return Err(ScimError::at(self.end, "expected an operator"));
        };
        let TokenKind::Word(op_word) = &op_token.kind else {
            return Err(ScimError::at(
                op_token.start,
                format!("expected an operator but found '{}'", op_token.text()),
            ));
        };
        if op_word.eq_ignore_ascii_case("pr") {
            return Ok(Expr::Present(attribute));
        }
        let Some(operator) = Operator::parse(op_word) else {
            return Err(ScimError::at(
                op_token.start,
                format!(
                    "unrecognized attribute operator '{op_word}'. Expected: eq,ne,sw,ew,co,gt,ge,lt,le,pr"
                ),
            ));
        };
        let Some(value_token) = self.next() else {
            return Err(ScimError::at(self.end, "expected a value"));
        };
        let literal = match value_token.kind {
            TokenKind::Quoted(text) => {
                let date = parse_date(&text);
                Literal::String(text, date)
            }
            TokenKind::Word(word) => parse_bare_literal(&word).ok_or_else(|| {
                ScimError::at(value_token.start, format!("invalid value '{word}'"))
            })?,
            TokenKind::Open | TokenKind::Close => {
                return Err(ScimError::at(
                    value_token.start,
                    format!("expected a value but found '{}'", value_token.text()),
                ));
            }
        };
        Ok(Expr::Compare(attribute, operator, literal))
    }
}

fn is_attribute_path(word: &str) -> bool {
    !word.is_empty()
        && word.split('.').all(|segment| {
            let mut chars = segment.chars();
            matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$' || c == '-')
        })
}

fn parse_bare_literal(word: &str) -> Option<Literal> {
    match word.to_ascii_lowercase().as_str() {
        "true" => return Some(Literal::Bool(true)),
        "false" => return Some(Literal::Bool(false)),
        "null" => return Some(Literal::Null),
        _ => {}
    }
    let looks_numeric = word
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'));
    if !looks_numeric {
        return None;
    }
    word.parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .map(Literal::Number)
}

fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    // Only full date-times count: a bare "2026" must stay a string.
    if text.len() < 20 || !text.contains('T') {
        return None;
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// Every value at `path` in `doc`, flattening arrays met on the way.
pub fn lookup<'a>(doc: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut current = vec![doc];
    for segment in path.split('.') {
        let mut next = Vec::new();
        for value in current {
            collect_field(value, segment, &mut next);
        }
        if next.is_empty() {
            return next;
        }
        current = next;
    }
    let mut out = Vec::new();
    for value in current {
        match value {
            Value::Array(items) => out.extend(items.iter()),
            other => out.push(other),
        }
    }
    out
}

fn collect_field<'a>(value: &'a Value, segment: &str, out: &mut Vec<&'a Value>) {
    match value {
        Value::Object(map) => {
            if let Some(found) = map.get(segment) {
                out.push(found);
            }
        }
        Value::Array(items) => {
            for item in items {
                collect_field(item, segment, out);
            }
        }
        _ => {}
    }
}

fn evaluate(expr: &Expr, doc: &Value, case: CaseRule) -> bool {
    match expr {
        Expr::And(a, b) => evaluate(a, doc, case) && evaluate(b, doc, case),
        Expr::Or(a, b) => evaluate(a, doc, case) || evaluate(b, doc, case),
        Expr::Not(inner) => !evaluate(inner, doc, case),
        Expr::Present(path) => lookup(doc, path).into_iter().any(is_present),
        Expr::Compare(path, Operator::Ne, literal) => !lookup(doc, path)
            .into_iter()
            .any(|value| compare(value, Operator::Eq, literal, case)),
        Expr::Compare(path, Operator::Eq, Literal::Null) => {
            let values = lookup(doc, path);
            values.is_empty() || values.iter().all(|v| v.is_null())
        }
        Expr::Compare(path, operator, literal) => lookup(doc, path)
            .into_iter()
            .any(|value| compare(value, *operator, literal, case)),
    }
}

fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
        _ => true,
    }
}

fn compare(value: &Value, operator: Operator, literal: &Literal, case: CaseRule) -> bool {
    match (value, literal) {
        (Value::String(actual), Literal::String(expected, expected_date)) => {
            if let (Some(expected_date), Some(actual_date)) = (expected_date, parse_date(actual))
                && let Some(result) = ordering_matches(actual_date.cmp(expected_date), operator)
            {
                return result;
            }
            compare_strings(actual, expected, operator, case)
        }
        (Value::Number(actual), Literal::Number(expected)) => actual
            .as_f64()
            .and_then(|a| a.partial_cmp(expected))
            .and_then(|ordering| ordering_matches(ordering, operator))
            .unwrap_or(false),
        (Value::Bool(actual), Literal::Bool(expected)) => {
            operator == Operator::Eq && actual == expected
        }
        (Value::Null, Literal::Null) => operator == Operator::Eq,
        _ => false,
    }
}

/// The result of an ordering-style operator, or `None` for string-only operators.
fn ordering_matches(ordering: Ordering, operator: Operator) -> Option<bool> {
    Some(match operator {
        Operator::Eq => ordering == Ordering::Equal,
        Operator::Ne => ordering != Ordering::Equal,
        Operator::Gt => ordering == Ordering::Greater,
        Operator::Ge => ordering != Ordering::Less,
        Operator::Lt => ordering == Ordering::Less,
        Operator::Le => ordering != Ordering::Greater,
        Operator::Sw | Operator::Ew | Operator::Co => return None,
    })
}

fn compare_strings(actual: &str, expected: &str, operator: Operator, case: CaseRule) -> bool {
    let (actual, expected) = match case {
        CaseRule::Sensitive => (actual.to_owned(), expected.to_owned()),
        CaseRule::Insensitive => (actual.to_ascii_lowercase(), expected.to_ascii_lowercase()),
    };
    match operator {
        Operator::Sw => actual.starts_with(&expected),
        Operator::Ew => actual.ends_with(&expected),
        Operator::Co => actual.contains(&expected),
        other => ordering_matches(actual.as_str().cmp(expected.as_str()), other).unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "id": "00u1",
            "status": "ACTIVE",
            "lastUpdated": "2026-02-03T04:05:06.000Z",
            "profile": {"firstName": "Ada", "lastName": "Smith", "department": "Engineering",
                        "mobilePhone": null, "title": ""},
            "score": 7,
            "flag": true,
            "target": [{"id": "00uA", "type": "User"}, {"id": "0oaB", "type": "AppInstance"}]
        })
    }

    fn check(expression: &str) -> bool {
        Filter::parse(expression)
            .unwrap_or_else(|e| panic!("{expression}: {e}"))
            .matches(&user(), CaseRule::Sensitive)
    }

    #[test]
    fn operators() {
        assert!(check(r#"status eq "ACTIVE""#));
        assert!(!check(r#"status eq "active""#));
        assert!(check(r#"status ne "SUSPENDED""#));
        assert!(check(r#"profile.lastName sw "Sm""#));
        assert!(check(r#"profile.lastName ew "ith""#));
        assert!(check(r#"profile.department co "gine""#));
        assert!(check(r#"lastUpdated gt "2026-01-01T00:00:00.000Z""#));
        assert!(check(r#"lastUpdated ge "2026-02-03T04:05:06Z""#));
        assert!(check(r#"lastUpdated lt "2027-01-01T00:00:00.000Z""#));
        assert!(check(r#"lastUpdated le "2026-02-03T04:05:06.000Z""#));
        assert!(!check(r#"lastUpdated gt "2026-02-03T04:05:06Z""#));
        assert!(check("score gt 5 and score le 7"));
        assert!(check("flag eq true"));
        assert!(check("profile.mobilePhone eq null"));
        assert!(check("profile.nickName eq null"));
        assert!(check("profile.firstName pr"));
        assert!(!check("profile.title pr"));
        assert!(!check("profile.mobilePhone pr"));
        assert!(!check("profile.nickName pr"));
    }

    #[test]
    fn logic_and_precedence() {
        // and binds tighter than or.
        assert!(check(
            r#"status eq "X" and status eq "Y" or status eq "ACTIVE""#
        ));
        assert!(!check(
            r#"status eq "X" and (status eq "Y" or status eq "ACTIVE")"#
        ));
        assert!(check(r#"not (status eq "SUSPENDED")"#));
        assert!(check(
            r#"(status eq "ACTIVE") AND (profile.firstName Eq "Ada")"#
        ));
    }

    #[test]
    fn arrays_match_any_element() {
        assert!(check(r#"target.id eq "0oaB""#));
        assert!(check(r#"target.id eq "00uA" and target.id eq "0oaB""#));
        assert!(!check(r#"target.id eq "nope""#));
        assert!(check(r#"target.id ne "nope""#));
    }

    #[test]
    fn case_rule() {
        let filter = Filter::parse(r#"profile.department eq "engineering""#).unwrap();
        assert!(!filter.matches(&user(), CaseRule::Sensitive));
        assert!(filter.matches(&user(), CaseRule::Insensitive));
    }

    #[test]
    fn string_escapes() {
        let filter = Filter::parse(r#"profile.lastName eq "Sm\u0069th\"""#).unwrap();
        assert_eq!(
            filter.root,
            Expr::Compare(
                "profile.lastName".into(),
                Operator::Eq,
                Literal::String("Smith\"".into(), None)
            )
        );
        assert!(Filter::parse(r#"a eq "\ud83d\ude00""#).is_ok());
        assert!(Filter::parse(r#"a eq "\ud83d""#).is_err());
    }

    #[test]
    fn malformed_expressions_are_errors() {
        for bad in [
            "",
            "   ",
            "status",
            "status eq",
            r#"status eqq "ACTIVE""#,
            r#"status eq "ACTIVE"#,
            r#"status eq ACTIVE"#,
            r#"(status eq "ACTIVE""#,
            r#"status eq "ACTIVE")"#,
            r#"status eq "ACTIVE" and"#,
            r#"status eq "ACTIVE" status eq "X""#,
            r#""status" eq "ACTIVE""#,
            r#"sta!tus eq "ACTIVE""#,
            r#"a..b eq "x""#,
            r#"a eq "\q""#,
            "a eq 1e999",
            "()",
            "not",
        ] {
            assert!(Filter::parse(bad).is_err(), "{bad:?} should not parse");
        }
        let deep = format!("{}a pr{}", "(".repeat(100), ")".repeat(100));
        assert!(Filter::parse(&deep).is_err());
        let nots = format!("{}a pr", "not ".repeat(100));
        assert!(Filter::parse(&nots).is_err());
        assert!(Filter::parse(&"a pr or ".repeat(1000)).is_err());
        // Weird but valid UTF-8 is just data.
        assert!(Filter::parse("profile.firstName eq \"Zoë 🦀\"").is_ok());
    }

    #[test]
    fn restricted_attributes() {
        let allowed = ["status", "lastUpdated"];
        assert!(Filter::parse_restricted(r#"status eq "ACTIVE""#, &allowed).is_ok());
        let err = Filter::parse_restricted(r#"profile.department eq "x""#, &allowed).unwrap_err();
        assert!(
            err.message.contains("profile.department"),
            "{}",
            err.message
        );
    }
}
