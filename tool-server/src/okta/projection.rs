//! Okta's JSON parsed into only the fields a tool answers with.
//!
//! A page of 200 users is about 180 KB (380 KB if Okta sent every lifecycle link), of which a
//! listing shows a third. [`parse`] reads the whole body (every byte is still checked as JSON,
//! as strictly as serde_json does: the property tests and the `okta_projection` fuzz target
//! compare the two) but builds values only for the fields named in a [`Fields`] tree;
//! everything else, `_links` always and `_embedded` unless named, is skipped without
//! allocating, and so is every `null` (Okta's "not set"). A named field keeps its whole value;
//! a name under an array applies to each element (`target.alternateId` keeps the `alternateId`
//! of every target). A declared field of another type than declared is left out while parsing
//! ([`Fields::add_declared`]). [`parse_whole`] is the same reader for one whole object (a
//! `get_*` tool's answer): everything but `_links` (and `_embedded` unless asked for).

use std::borrow::Cow;

use serde_json::{Map, Number, Value};

/// Never kept unless named (`_embedded` only; `_links` never).
const LINKS: &str = "_links";
const EMBEDDED: &str = "_embedded";

/// Longest dotted path a caller may name.
pub const MAX_PATH_CHARS: usize = 200;
/// Most paths a caller may name.
pub const MAX_PATHS: usize = 50;

/// Which fields to keep: a tree of names; a node with no children keeps its whole value.
///
/// Children are a short list sorted by name, not a map: every key of every object Okta sends
/// is looked up here, and a scan that compares lengths first beats a tree of string comparisons
/// (which was 15% of a listing's CPU).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    children: Vec<(Box<str>, Fields)>,
    whole: bool,
    /// The type this node's value must have to be kept (a declared field's).
    expect: Expect,
    /// Set at the root when every declared type is checked here (no caller path overrode one).
    checks_types: bool,
}

/// The JSON type a declared field must have; a value of another type is left out rather than
/// break a client that validates against the tool's output schema.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Expect {
    /// Any value.
    #[default]
    Anything,
    /// A string.
    Text,
    /// `true` or `false`.
    Flag,
    /// An integer.
    Integer,
    /// An object (a declared field's parent).
    Object,
    /// An array (of objects with declared fields).
    Array,
}

impl Expect {
    /// Whether `value` has this type.
    pub fn accepts(self, value: &Value) -> bool {
        match self {
            Expect::Anything => true,
            Expect::Text => value.is_string(),
            Expect::Flag => value.is_boolean(),
            Expect::Integer => value.is_i64() || value.is_u64(),
            Expect::Object => value.is_object(),
            Expect::Array => value.is_array(),
        }
    }
}

impl Fields {
    /// Keeps everything (but `_links`, and `_embedded` unless named).
    pub fn everything() -> Self {
        Self {
            whole: true,
            ..Self::default()
        }
    }

    /// Keeps the given dotted paths.
    pub fn of<'a>(paths: impl IntoIterator<Item = &'a str>) -> Self {
        let mut fields = Self::default();
        for path in paths {
            fields.add(path);
        }
        fields
    }

    /// Adds a dotted path; a shorter path already kept whole makes it redundant, and a path
    /// kept whole replaces what was kept below it.
    pub fn add(&mut self, path: &str) {
        self.checks_types = false;
        self.insert(path, None);
    }

    /// Adds a declared field whose value must be of type `leaf` (a segment ending in `[]` is
    /// an array of objects: `target[].alternateId`); its parents must be objects (or arrays),
    /// else they are left out too. Only declared fields: the root then checks every type.
    pub fn add_declared(&mut self, path: &str, leaf: Expect) {
        if self.children.is_empty() && !self.whole {
            self.checks_types = true;
        }
        self.insert(path, Some(leaf));
    }

    fn insert(&mut self, path: &str, leaf: Option<Expect>) {
        let mut node = self;
        let mut parts = path.split('.').peekable();
        while let Some(part) = parts.next() {
            let (part, array) = match part.strip_suffix("[]") {
                Some(name) => (name, true),
                None => (part, false),
            };
            // A whole node keeps everything but `_embedded`, which must be named.
            if node.whole && part != EMBEDDED {
                return;
            }
            // Kept sorted by name, the order of the object a parse builds ([`Reader::object`]).
            let at = node.children.partition_point(|(name, _)| &**name < part);
            if node
                .children
                .get(at)
                .is_none_or(|(name, _)| &**name != part)
            {
                node.children.insert(at, (part.into(), Fields::default()));
            }
            node = &mut node.children[at].1;
            if let Some(leaf) = leaf {
                node.expect = match (parts.peek(), array) {
                    (None, _) => leaf,
                    (Some(_), true) => Expect::Array,
                    (Some(_), false) => Expect::Object,
                };
            }
        }
        node.whole = true;
        node.children.retain(|(key, _)| &**key == EMBEDDED);
    }

    /// Whether every declared field's type is checked while parsing (see [`Self::add_declared`]).
    pub fn checks_types(&self) -> bool {
        self.checks_types
    }

    /// Whether everything is kept.
    pub fn is_everything(&self) -> bool {
        self.whole
    }

    /// Whether `path` (dotted) is kept, wholly or in part.
    pub fn keeps(&self, path: &str) -> bool {
        let mut node = self;
        for part in path.split('.') {
            if node.whole {
                return true;
            }
            match node.get(part) {
                Some(child) => node = child,
                None => return false,
            }
        }
        true
    }

    /// Checks a caller's dotted path: names made of letters, digits, `_` and `-`, joined by
    /// single dots (Okta's property names, including custom profile attributes).
    pub fn check_path(path: &str) -> Result<(), String> {
        if path.is_empty() {
            return Err("a field name is empty".into());
        }
        if path.chars().count() > MAX_PATH_CHARS {
            return Err(format!(
                "the field name starting {:?} is longer than {MAX_PATH_CHARS} characters",
                path.chars().take(20).collect::<String>()
            ));
        }
        for part in path.split('.') {
            if part.is_empty() {
                return Err(format!(
                    "the field name {path:?} has an empty part (two dots, or a dot at an end)"
                ));
            }
            if let Some(bad) = part
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
            {
                return Err(format!(
                    "the field name {path:?} contains {bad:?}; use property names joined by \
                     dots, e.g. profile.mobilePhone"
                ));
            }
        }
        Ok(())
    }

    fn get(&self, key: &str) -> Option<&Fields> {
        self.position(key).map(|at| &self.children[at].1)
    }

    /// Where `key` is among the children (sorted by name).
    fn position(&self, key: &str) -> Option<usize> {
        let first = key.as_bytes().first();
        self.children.iter().position(|(name, _)| {
            name.len() == key.len() && name.as_bytes().first() == first && &**name == key
        })
    }

    /// What to keep of the value at `key`, and the type it must have.
    fn child(&self, key: &str) -> Option<(&Fields, Expect)> {
        if key == LINKS {
            None
        } else if key == EMBEDDED || !self.whole {
            self.get(key).map(|child| (child, child.expect))
        } else {
            Some((self, Expect::Anything))
        }
    }
}

/// Parses `body` (an object, or an array of them) keeping only `fields` of each object, and
/// leaving out `null`s.
pub fn parse(body: &[u8], fields: &Fields) -> Result<Value, ParseError> {
    parse_with(body, fields, false)
}

/// Parses a whole object for the `get_*` tools: everything but `_links`, and `_embedded` only
/// for a request that asked to `expand`; `null`s kept (one object's answer shows what is unset).
pub fn parse_whole(body: &[u8], keep_embedded: bool) -> Result<Value, ParseError> {
    let mut fields = Fields::everything();
    if keep_embedded {
        fields.add(EMBEDDED);
    }
    parse_with(body, &fields, true)
}

fn parse_with(body: &[u8], fields: &Fields, keep_nulls: bool) -> Result<Value, ParseError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| ParseError::at(body, e.valid_up_to(), "invalid UTF-8"))?;
    let mut reader = Reader {
        text,
        bytes: body,
        at: 0,
        depth: 0,
        keep_nulls,
    };
    let value = reader.value(fields)?;
    reader.whitespace();
    if reader.at != body.len() {
        return Err(reader.error("trailing characters"));
    }
    Ok(value)
}

/// Why Okta's answer is not JSON, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} at line {line} column {column}")]
pub struct ParseError {
    what: &'static str,
    line: usize,
    column: usize,
}

impl ParseError {
    fn at(body: &[u8], at: usize, what: &'static str) -> Self {
        let before = &body[..at.min(body.len())];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        Self { what, line, column }
    }
}

/// Deepest nesting of arrays and objects read (serde_json's limit too).
const MAX_DEPTH: usize = 128;

/// Named fields of one object that [`Reader::object`] collects on the stack (a user has 9, its
/// profile 5); more go to the heap. 12 × 32 bytes per nesting level at most.
const INLINE_SLOTS: usize = 12;

/// Bytes with the high bit of each lane, and with 1 in each lane (for the SWAR scan of strings).
const HIGH: u64 = 0x8080_8080_8080_8080;
const ONES: u64 = 0x0101_0101_0101_0101;

/// A JSON reader written for this one job: a page is mostly what a tool throws away (undeclared
/// profile attributes, `type`, `_links`), and serde_json's generic visitor spent most of a
/// listing's CPU getting through it. Everything is still checked as JSON (RFC 8259: grammar,
/// escapes, no control characters in strings, UTF-8), skipped parts included; only kept values
/// are built.
struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    depth: usize,
    keep_nulls: bool,
}

impl<'a> Reader<'a> {
    fn error(&self, what: &'static str) -> ParseError {
        ParseError::at(self.bytes, self.at, what)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8, what: &'static str) -> Result<(), ParseError> {
        self.whitespace();
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("nested too deep"));
        }
        self.at += 1;
        Ok(())
    }

    /// After an item of an array or object: `true` for another one, `false` at `close`.
    fn next_item(&mut self, close: u8) -> Result<bool, ParseError> {
        self.whitespace();
        match self.peek() {
            Some(b',') => {
                self.at += 1;
                Ok(true)
            }
            Some(byte) if byte == close => {
                self.at += 1;
                self.depth -= 1;
                Ok(false)
            }
            _ => Err(self.error(if close == b']' {
                "expected `,` or `]`"
            } else {
                "expected `,` or `}`"
            })),
        }
    }

    /// Whether a container that was just entered is empty (and then leaves it).
    fn closes_at_once(&mut self, close: u8) -> bool {
        self.whitespace();
        if self.peek() == Some(close) {
            self.at += 1;
            self.depth -= 1;
            true
        } else {
            false
        }
    }

    /// The value at the cursor, keeping `fields` of each object (and of each object in arrays).
    fn value(&mut self, fields: &Fields) -> Result<Value, ParseError> {
        self.whitespace();
        match self.peek() {
            Some(b'{') => self.object(fields),
            Some(b'[') => {
                self.enter()?;
                let mut items = Vec::new();
                if self.closes_at_once(b']') {
                    return Ok(Value::Array(items));
                }
                loop {
                    items.push(self.value(fields)?);
                    if !self.next_item(b']')? {
                        return Ok(Value::Array(items));
                    }
                }
            }
            Some(b'"') => Ok(Value::String(self.string()?.into_owned())),
            Some(b'-' | b'0'..=b'9') => {
                let start = self.at;
                self.number()?;
                serde_json::from_str::<Number>(&self.text[start..self.at])
                    .map(Value::Number)
                    .map_err(|_| ParseError::at(self.bytes, start, "number out of range"))
            }
            _ => self.literal().map(|known| match known {
                Literal::True => Value::Bool(true),
                Literal::False => Value::Bool(false),
                Literal::Null => Value::Null,
            }),
        }
    }

    fn object(&mut self, fields: &Fields) -> Result<Value, ParseError> {
        self.enter()?;
        if self.closes_at_once(b'}') {
            return Ok(Value::Object(Map::new()));
        }
        if fields.whole {
            return self.whole_object(fields);
        }
        // One slot per named field, in the children's (sorted) order. The map is filled from
        // the last name to the first: each insert then stops at the first key it compares
        // with, where inserting in Okta's order compared with most keys already there (a
        // tenth of a listing's CPU went to those string comparisons). A repeated key keeps
        // its last value, as serde_json does.
        // The key itself is not kept: a slot's name is its child's (the same text, escaped or
        // not, as `position` matched it).
        let mut inline: [Option<Value>; INLINE_SLOTS] = [const { None }; INLINE_SLOTS];
        let mut spilled = Vec::new();
        let slots = match inline.get_mut(..fields.children.len()) {
            Some(slots) => slots,
            None => {
                spilled.resize_with(fields.children.len(), || None);
                &mut spilled[..]
            }
        };
        loop {
            let key = self.key()?;
            match fields.position(&key).filter(|_| key != LINKS) {
                Some(at) => {
                    let child = &fields.children[at].1;
                    let value = self.value(child)?;
                    // Okta's `null`s say "not set": an absent field says the same in fewer bytes.
                    slots[at] = ((self.keep_nulls || !value.is_null())
                        && child.expect.accepts(&value))
                    .then_some(value);
                }
                None => self.skip()?,
            }
            if !self.next_item(b'}')? {
                let mut object = Map::new();
                for (at, slot) in slots.iter_mut().enumerate().rev() {
                    if let Some(value) = slot.take() {
                        object.insert(String::from(&*fields.children[at].0), value);
                    }
                }
                return Ok(Value::Object(object));
            }
        }
    }

    /// An object member's key and the `:` after it.
    fn key(&mut self) -> Result<Cow<'a, str>, ParseError> {
        self.whitespace();
        if self.peek() != Some(b'"') {
            return Err(self.error("expected a key"));
        }
        let key = self.string()?;
        self.expect(b':', "expected `:`")?;
        Ok(key)
    }

    /// The rest of an object kept whole (but `_links`, and `_embedded` unless named).
    fn whole_object(&mut self, fields: &Fields) -> Result<Value, ParseError> {
        let mut object = Map::new();
        loop {
            let key = self.key()?;
            match fields.child(&key) {
                Some((child, expect)) => {
                    let value = self.value(child)?;
                    // Okta's `null`s say "not set": an absent field says the same in fewer bytes.
                    if (self.keep_nulls || !value.is_null()) && expect.accepts(&value) {
                        object.insert(key.into_owned(), value);
                    }
                }
                None => self.skip()?,
            }
            if !self.next_item(b'}')? {
                return Ok(Value::Object(object));
            }
        }
    }

    /// Checks the value at the cursor and moves past it, building nothing.
    fn skip(&mut self) -> Result<(), ParseError> {
        self.whitespace();
        match self.peek() {
            Some(b'{') => {
                self.enter()?;
                if self.closes_at_once(b'}') {
                    return Ok(());
                }
                loop {
                    self.whitespace();
                    if self.peek() != Some(b'"') {
                        return Err(self.error("expected a key"));
                    }
                    self.skip_string()?;
                    self.expect(b':', "expected `:`")?;
                    self.skip()?;
                    if !self.next_item(b'}')? {
                        return Ok(());
                    }
                }
            }
            Some(b'[') => {
                self.enter()?;
                if self.closes_at_once(b']') {
                    return Ok(());
                }
                loop {
                    self.skip()?;
                    if !self.next_item(b']')? {
                        return Ok(());
                    }
                }
            }
            Some(b'"') => self.skip_string().map(drop),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => self.literal().map(drop),
        }
    }

    fn literal(&mut self) -> Result<Literal, ParseError> {
        let rest = &self.bytes[self.at..];
        let (known, len) = if rest.starts_with(b"true") {
            (Literal::True, 4)
        } else if rest.starts_with(b"false") {
            (Literal::False, 5)
        } else if rest.starts_with(b"null") {
            (Literal::Null, 4)
        } else if rest.is_empty() {
            return Err(self.error("unexpected end of the JSON"));
        } else {
            return Err(self.error("expected a value"));
        };
        self.at += len;
        Ok(known)
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        self.at - start
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> Result<(), ParseError> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        Ok(())
    }

    /// Moves past the string at the cursor; its content's range, and whether it has escapes.
    fn skip_string(&mut self) -> Result<(usize, usize, bool), ParseError> {
        self.at += 1;
        let start = self.at;
        let mut escaped = false;
        loop {
            // Eight bytes at a time to the next `"`, `\` or control character.
            while let Some(chunk) = self.bytes.get(self.at..self.at + 8) {
                let mut lanes = [0; 8];
                lanes.copy_from_slice(chunk);
                let x = u64::from_le_bytes(lanes);
                let quote = x ^ (ONES * u64::from(b'"'));
                let backslash = x ^ (ONES * u64::from(b'\\'));
                let found = (quote.wrapping_sub(ONES) & !quote)
                    | (backslash.wrapping_sub(ONES) & !backslash)
                    | (x.wrapping_sub(ONES * 0x20) & !x);
                // The lowest flagged lane is exact (borrows only run upwards).
                let found = found & HIGH;
                if found != 0 {
                    self.at += (found.trailing_zeros() / 8) as usize;
                    break;
                }
                self.at += 8;
            }
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok((start, self.at - 1, escaped));
                }
                Some(b'\\') => {
                    escaped = true;
                    self.at += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.at += 1
                        }
                        Some(b'u') => {
                            self.at += 1;
                            self.hex4()?;
                        }
                        _ => return Err(self.error("invalid escape")),
                    }
                }
                Some(0..=0x1f) => {
                    return Err(self.error("control character in a string"));
                }
                Some(_) => self.at += 1,
                None => return Err(self.error("unexpected end of a string")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u16, ParseError> {
        let digits = self
            .bytes
            .get(self.at..self.at + 4)
            .ok_or_else(|| self.error("unexpected end of a hex escape"))?;
        let mut value = 0u16;
        for &digit in digits {
            let nibble = (digit as char)
                .to_digit(16)
                .ok_or_else(|| self.error("invalid hex escape"))?;
            value = value << 4 | nibble as u16;
        }
        self.at += 4;
        Ok(value)
    }

    /// The string at the cursor, borrowed unless it has escapes.
    fn string(&mut self) -> Result<Cow<'a, str>, ParseError> {
        let (start, end, escaped) = self.skip_string()?;
        let text = self.text;
        let raw = &text[start..end];
        if !escaped {
            return Ok(Cow::Borrowed(raw));
        }
        unescape(raw)
            .map(Cow::Owned)
            .map_err(|what| ParseError::at(self.bytes, start, what))
    }
}

enum Literal {
    True,
    False,
    Null,
}

/// The text of a string whose escapes were already checked by [`Reader::skip_string`].
fn unescape(raw: &str) -> Result<String, &'static str> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let escaped = match chars.next() {
            Some('"') => '"',
            Some('\\') => '\\',
            Some('/') => '/',
            Some('b') => '\u{8}',
            Some('f') => '\u{c}',
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some('u') => {
                let high = hex_escape(&mut chars)?;
                let code = match high {
                    0xD800..=0xDBFF => {
                        if chars.next() != Some('\\') || chars.next() != Some('u') {
                            return Err("lone leading surrogate in hex escape");
                        }
                        let low = hex_escape(&mut chars)?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return Err("lone leading surrogate in hex escape");
                        }
                        0x10000 + ((u32::from(high) - 0xD800) << 10) + (u32::from(low) - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return Err("lone trailing surrogate in hex escape"),
                    other => u32::from(other),
                };
                char::from_u32(code).ok_or("invalid hex escape")?
            }
            _ => return Err("invalid escape"),
        };
        out.push(escaped);
    }
    Ok(out)
}

fn hex_escape(chars: &mut std::str::Chars<'_>) -> Result<u16, &'static str> {
    let mut value = 0u16;
    for _ in 0..4 {
        let nibble = chars
            .next()
            .and_then(|c| c.to_digit(16))
            .ok_or("invalid hex escape")?;
        value = value << 4 | nibble as u16;
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn page() -> Value {
        json!([
            {"id": "00u1", "status": "ACTIVE", "lastLogin": null,
             "profile": {"login": "a@example.com", "email": "a@example.com", "mobilePhone": "1",
                         "nested": {"deep": [1, 2]}},
             "credentials": {"provider": {"type": "OKTA"}},
             "_links": {"self": {"href": "https://example.okta.com/api/v1/users/00u1"}},
             "_embedded": {"group": {"profile": {"name": "Engineering"}}}},
            {"id": "00u2", "profile": {"login": "b\u{e9}@example.com", "_links": {}}},
            7, null, "text"
        ])
    }

    fn projected(fields: &Fields) -> Value {
        parse(&serde_json::to_vec(&page()).unwrap(), fields).unwrap()
    }

    fn stripped(mut value: Value, keep_embedded: bool) -> Value {
        match &mut value {
            Value::Object(map) => {
                map.remove(LINKS);
                if !keep_embedded {
                    map.remove(EMBEDDED);
                }
                let keys: Vec<String> = map.keys().cloned().collect();
                for key in keys {
                    let inner = map.remove(&key).unwrap_or(Value::Null);
                    map.insert(key, stripped(inner, keep_embedded));
                }
            }
            Value::Array(items) => {
                let taken = std::mem::take(items);
                *items = taken
                    .into_iter()
                    .map(|v| stripped(v, keep_embedded))
                    .collect();
            }
            _ => {}
        }
        value
    }

    #[test]
    fn a_whole_object_is_the_same_as_parsing_then_stripping() {
        let page = json!([
            {"id": "00u1", "status": "ACTIVE", "created": "2024-01-01T00:00:00.000Z",
             "profile": {"login": "a@example.com", "email": "a@example.com", "_links": {"x": 1},
                         "numbers": [1, -2, 3.5, 1e300, 18446744073709551615u64], "none": null,
                         "flag": false, "nested": [{"_embedded": {"g": 1}, "k": "v"}]},
             "credentials": {"provider": {"type": "OKTA", "name": "OKTA"}},
             "_links": {"self": {"href": "https://example.okta.com/api/v1/users/00u1"}},
             "_embedded": {"group": {"profile": {"name": "Engineering"}}}},
            "text with \"escapes\" \u{e9} \u{1F600}", 7, null, [], {}
        ]);
        let body = serde_json::to_vec(&page).unwrap();
        for keep in [false, true] {
            assert_eq!(
                parse_whole(&body, keep).unwrap(),
                stripped(page.clone(), keep),
                "{keep}"
            );
        }
        assert_eq!(
            parse_whole(&body, true).unwrap()[0]["_embedded"]["group"]["profile"]["name"],
            "Engineering"
        );
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value_as_serde_json_does() {
        let fields = Fields::of(["id", "status"]);
        let body =
            br#"[{"id": "first", "status": "A", "id": "second", "status": "B", "status": null}]"#;
        assert_eq!(parse(body, &fields).unwrap(), json!([{"id": "second"}]));
    }

    #[test]
    fn objects_with_more_named_fields_than_fit_inline_keep_them_all() {
        let names: Vec<String> = (0..INLINE_SLOTS + 5).map(|i| format!("f{i:02}")).collect();
        let fields = Fields::of(names.iter().map(String::as_str));
        // Okta's order is not ours: the keys come reversed, with others in between.
        let members: Vec<String> = (0..names.len())
            .rev()
            .map(|i| format!(r#""{}": {i}, "other{i}": {{"x": [{i}]}}"#, names[i]))
            .collect();
        let body = format!("[{{{}}}]", members.join(", "));
        let kept = parse(body.as_bytes(), &fields).unwrap();
        let kept = kept[0].as_object().unwrap();
        assert_eq!(kept.len(), names.len());
        for (i, name) in names.iter().enumerate() {
            assert_eq!(kept[name], json!(i), "{name}");
        }
    }

    #[test]
    fn keeps_only_the_named_fields_of_every_item() {
        let fields = Fields::of(["id", "status", "lastLogin", "profile.login"]);
        assert_eq!(
            projected(&fields),
            json!([
                {"id": "00u1", "status": "ACTIVE", "profile": {"login": "a@example.com"}},
                {"id": "00u2", "profile": {"login": "b\u{e9}@example.com"}},
                7, null, "text"
            ])
        );
    }

    #[test]
    fn a_named_object_is_kept_whole_minus_links() {
        let fields = Fields::of(["id", "profile"]);
        let value = projected(&fields);
        assert_eq!(value[0]["profile"]["nested"]["deep"], json!([1, 2]));
        assert_eq!(value[1]["profile"], json!({"login": "b\u{e9}@example.com"}));
        assert!(value[0].get("credentials").is_none());
    }

    #[test]
    fn a_listing_of_everything_is_the_whole_parse_without_nulls() {
        fn without_nulls(value: &mut Value) {
            match value {
                Value::Object(map) => {
                    map.retain(|_, v| !v.is_null());
                    map.values_mut().for_each(without_nulls);
                }
                Value::Array(items) => items.iter_mut().for_each(without_nulls),
                _ => {}
            }
        }
        let body = serde_json::to_vec(&page()).unwrap();
        let mut whole = parse_whole(&body, false).unwrap();
        without_nulls(&mut whole);
        assert_eq!(parse(&body, &Fields::everything()).unwrap(), whole);
        assert_eq!(whole[3], Value::Null, "items that are null stay");
    }

    #[test]
    fn embedded_only_when_named_and_links_never() {
        let fields = Fields::of(["id", "_embedded.group.profile.name", "_links"]);
        let value = projected(&fields);
        assert_eq!(
            value[0],
            json!({"id": "00u1", "_embedded": {"group": {"profile": {"name": "Engineering"}}}})
        );
    }

    #[test]
    fn embedded_can_be_named_when_everything_else_is_kept() {
        let mut fields = Fields::everything();
        fields.add("_embedded.group.profile.name");
        let value = projected(&fields);
        assert_eq!(
            value[0]["_embedded"]["group"]["profile"]["name"],
            "Engineering"
        );
        assert_eq!(value[0]["profile"]["mobilePhone"], "1");
        assert!(value[0].get("_links").is_none());
    }

    #[test]
    fn paths_merge_and_a_whole_parent_wins() {
        let mut fields = Fields::of(["profile.login", "profile.email"]);
        assert!(fields.keeps("profile.login") && !fields.keeps("profile.mobilePhone"));
        fields.add("profile");
        assert!(fields.keeps("profile.mobilePhone"));
        fields.add("profile.login");
        assert_eq!(fields, Fields::of(["profile"]));
        assert!(Fields::everything().keeps("anything.at.all"));
    }

    #[test]
    fn caller_paths_are_checked() {
        for good in ["profile.mobilePhone", "id", "profile.custom_attr-2"] {
            assert_eq!(Fields::check_path(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            ".",
            "profile.",
            ".id",
            "a..b",
            "profile login",
            "profile/login",
            "pr\u{f6}file",
            "a\u{202e}b",
        ] {
            assert!(Fields::check_path(bad).is_err(), "{bad:?}");
        }
        assert!(Fields::check_path(&"a".repeat(MAX_PATH_CHARS + 1)).is_err());
    }

    #[test]
    fn bad_json_is_an_error_even_inside_skipped_parts() {
        let fields = Fields::of(["id"]);
        for bad in [
            &b""[..],
            b"{",
            b"[1,]",
            b"{\"skipped\": {\"a\": }}",
            b"{\"skipped\": [1, 2}",
            b"{\"id\": 1} trailing",
            b"{\"skipped\": \"\\uZZZZ\"}",
            b"{\"a\" 1}",
        ] {
            assert!(
                parse(bad, &fields).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = format!("{{\"skipped\": {}}}", "[".repeat(100_000));
        assert!(parse(deep.as_bytes(), &fields).is_err());
    }

    #[test]
    fn escaped_keys_are_matched_by_their_value() {
        let body = br#"{"\u0069d": "00u1", "st\"atus": 1}"#;
        assert_eq!(
            parse(body, &Fields::of(["id"])).unwrap(),
            json!({"id": "00u1"})
        );
    }

    #[test]
    fn declared_types_are_checked_while_parsing() {
        let mut fields = Fields::default();
        fields.add_declared("id", Expect::Text);
        fields.add_declared("profile.login", Expect::Text);
        fields.add_declared("target[].alternateId", Expect::Text);
        fields.add_declared("count", Expect::Integer);
        fields.add_declared("any", Expect::Anything);
        assert!(fields.checks_types());
        let body = br#"[
            {"id": 5, "profile": {"login": "a", "x": 1}, "count": 2.5, "any": [1],
             "target": [{"alternateId": 1}, {"alternateId": "x", "type": "User"}, 3]},
            {"id": "00u2", "profile": "flat", "target": {"alternateId": "x"}, "count": 3}
        ]"#;
        assert_eq!(
            parse(body, &fields).unwrap(),
            json!([
                {"profile": {"login": "a"}, "target": [{}, {"alternateId": "x"}, 3], "any": [1]},
                {"id": "00u2", "count": 3}
            ])
        );
        fields.add("profile");
        assert!(
            !fields.checks_types(),
            "a caller's path may hide a declared one"
        );
        assert!(!Fields::of(["id"]).checks_types());
    }

    #[test]
    fn errors_say_what_and_where() {
        let fields = Fields::of(["id"]);
        for (body, expected) in [
            (
                &b"{\"a\": 1,\n \"b\" 2}"[..],
                "expected `:` at line 2 column 6",
            ),
            (b"[1, 2", "expected `,` or `]` at line 1 column 6"),
            (
                b"{\"a\": \"x\x01\"}",
                "control character in a string at line 1 column 9",
            ),
            (b"{\"id\": 1e999}", "number out of range at line 1 column 8"),
            (
                b"{\"id\": \"\\ud800\"}",
                "lone leading surrogate in hex escape at line 1 column 9",
            ),
            (b"\xff", "invalid UTF-8 at line 1 column 1"),
            (b"", "unexpected end of the JSON at line 1 column 1"),
        ] {
            let err = parse(body, &fields).unwrap_err();
            assert_eq!(
                err.to_string(),
                expected,
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(
            parse(deep.as_bytes(), &fields)
                .unwrap_err()
                .to_string()
                .starts_with("nested too deep")
        );
        let fine = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(fine.as_bytes(), &fields).is_ok());
    }

    #[test]
    fn strings_with_escapes_are_decoded() {
        let body =
            br#"{"id": "a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00 long enough to cross a word"}"#;
        assert_eq!(
            parse(body, &Fields::of(["id"])).unwrap()["id"],
            "a\"b\\c/d\u{8}\u{c}\n\r\t\u{e9}\u{1F600} long enough to cross a word"
        );
        assert!(
            parse(br#"{"skipped": "\ud800"}"#, &Fields::of(["id"])).is_ok(),
            "as serde_json"
        );
        assert!(parse(br#"{"skipped": "\x"}"#, &Fields::of(["id"])).is_err());
    }
}
