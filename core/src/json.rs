//! A JSON value that keeps what Python's `json` module writes.
//!
//! Optuna writes its journal with Python's `json.dumps`, which emits the bare tokens `NaN`,
//! `Infinity` and `-Infinity` and escapes every non-ASCII character (`ensure_ascii=True`).
//! `serde_json::Value` can hold neither non-finite floats nor the int/float distinction that
//! Optuna relies on (`3` vs `3.0`), so the journal and the exporters use this [`Json`] type.
//!
//! [`Json::parse`] is a small iterative parser that accepts what Python's `json.loads` accepts
//! (the grammar of `json/scanner.py` and `json/decoder.py`, strict mode):
//!
//! * `NaN`, `Infinity` and `-Infinity`;
//! * integers of any size (those outside `i64` become floats) and floats whose exponent
//!   overflows (`1e400` is `Infinity`, as Python's `float()` makes it);
//! * lone UTF-16 surrogate escapes such as `"\ud800"`, which Python keeps in its `str` and
//!   writes back as the same escape. A Rust `String` cannot hold them, so each lone surrogate
//!   becomes U+FFFD (the replacement character): the value is readable, and writing it back
//!   gives valid JSON (`"\ufffd"`) that Python reads, but the surrogate itself is not kept;
//! * duplicate object keys: the last value wins, at the first key's position (a Python
//!   `dict`), in time linear in the number of keys.
//!
//! Nesting is bounded by [`MAX_DEPTH`] for every input, so no text can exhaust the stack:
//! deeper documents are an error, never an abort.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};

/// The deepest nesting of arrays and objects that [`Json::parse`] accepts (1000 levels).
///
/// Python's `json` module has no limit of its own: its scanner recurses, so what it reads and
/// writes is bounded by the interpreter's recursion limit, 1000 by default
/// (`sys.getrecursionlimit()`). Deeper text is refused with a [`JsonError`] that says so. The
/// parser itself does not recurse; the bound keeps the recursive walks over a [`Json`] (drop,
/// clone, comparison, writing) well inside a 2 MiB thread stack, even in a debug build.
pub const MAX_DEPTH: usize = 1000;

/// A JSON document with ordered object keys and non-finite floats.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// `null` (Python `None`).
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer literal (no `.` or exponent in the text).
    Int(i64),
    /// A float literal, including `NaN` and `±Infinity`.
    Float(f64),
    /// A string.
    Str(String),
    /// An array.
    Array(Vec<Json>),
    /// An object; keys keep their order of appearance.
    Object(Vec<(String, Json)>),
}

/// A JSON text that could not be parsed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct JsonError(pub String);

impl Json {
    /// Parses one JSON document as Python's `json.loads` does (see the module
    /// documentation): `NaN` and `±Infinity`, big integers, lone surrogate escapes (as
    /// U+FFFD) and duplicate keys (the last wins) are accepted; nesting deeper than
    /// [`MAX_DEPTH`] and a leading byte order mark (which `json.loads` refuses in a `str`) are
    /// errors. The error names what was expected and where, in Python's words.
    pub fn parse(text: &str) -> Result<Json, JsonError> {
        Parser::new(text).document()
    }

    /// Looks a key up in an object (`None` for other values or a missing key).
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(pairs) => pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The number as `f64`, for `Int` and `Float`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Int(i) => Some(*i as f64),
            Json::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The integer, for `Int` and for a `Float` with an integral value.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Json::Int(i) => Some(*i),
            Json::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 => {
                Some(*f as i64)
            }
            _ => None,
        }
    }

    /// The string slice, for `Str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, for `Bool`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The elements, for `Array`.
    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The key/value pairs, for `Object`.
    pub fn as_object(&self) -> Option<&[(String, Json)]> {
        match self {
            Json::Object(o) => Some(o),
            _ => None,
        }
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }

    /// Serialises like Python's `json.dumps(v, separators=(",", ":"))`.
    pub fn to_compact(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, ",", ":");
        out
    }

    /// Serialises like Python's `json.dumps(v)` (separators `", "` and `": "`).
    pub fn to_python_default(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, ", ", ": ");
        out
    }

    fn write(&self, out: &mut String, item_sep: &str, key_sep: &str) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(true) => out.push_str("true"),
            Json::Bool(false) => out.push_str("false"),
            Json::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Json::Float(f) => out.push_str(&py_float_repr(*f)),
            Json::Str(s) => write_py_string(out, s),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(item_sep);
                    }
                    item.write(out, item_sep, key_sep);
                }
                out.push(']');
            }
            Json::Object(pairs) => {
                out.push('{');
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push_str(item_sep);
                    }
                    write_py_string(out, k);
                    out.push_str(key_sep);
                    v.write(out, item_sep, key_sep);
                }
                out.push('}');
            }
        }
    }
}

/// Whether `a` and `b` are the same document whatever the order of object keys: arrays
/// element by element, objects key by key, and `leaf` decides for any other two values
/// (scalars, or values of different kinds).
pub fn equal_unordered(a: &Json, b: &Json, leaf: &dyn Fn(&Json, &Json) -> bool) -> bool {
    match (a, b) {
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal_unordered(p, q, leaf))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, v)| {
                    y.iter()
                        .find(|(k2, _)| k2 == k)
                        .is_some_and(|(_, w)| equal_unordered(v, w, leaf))
                })
        }
        _ => leaf(a, b),
    }
}

/// Builds a `Json::Object` from `(key, value)` pairs.
pub fn obj<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Json)>) -> Json {
    Json::Object(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
}

/// Formats a float exactly as Python's `repr(float)` does (and therefore `json.dumps`):
/// the shortest digits that round-trip, `1e-05` / `1e+16` style exponents outside
/// `1e-4 <= |x| < 1e16`, a trailing `.0` on integral values, and `NaN` / `Infinity`.
pub fn py_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.to_string();
    }
    // `{:e}` gives the shortest round-trip digits, e.g. "1.2345e-5".
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (sci.as_str(), 0),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if f < 0.0 { "-" } else { "" };
    let n = digits.len() as i32;
    if (-4..16).contains(&exp) {
        // Positional notation.
        let point = exp + 1; // digits before the decimal point
        let body = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if point >= n {
            format!("{}{}.0", digits, "0".repeat((point - n) as usize))
        } else {
            let (a, b) = digits.split_at(point as usize);
            format!("{a}.{b}")
        };
        format!("{sign}{body}")
    } else {
        let m = if n == 1 {
            digits
        } else {
            let (a, b) = digits.split_at(1);
            format!("{a}.{b}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{m}e{esign}{:02}", exp.abs())
    }
}

fn write_py_string(out: &mut String, s: &str) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The pairs of an object being read, with Python's `dict` semantics for duplicate keys:
/// the last value wins, at the position where the key first appeared. Small objects are
/// searched linearly; from [`ObjectBuilder::INDEX_FROM`] keys on, a hash index keeps the
/// duplicate check O(1) per key, so an object of n keys takes O(n).
#[derive(Default)]
struct ObjectBuilder {
    pairs: Vec<(String, Json)>,
    index: Option<HashMap<String, usize>>,
}

impl ObjectBuilder {
    /// The number of keys from which a hash index replaces the linear search.
    const INDEX_FROM: usize = 16;

    fn insert(&mut self, key: String, value: Json) {
        if self.index.is_none() && self.pairs.len() >= Self::INDEX_FROM {
            let mut index = HashMap::with_capacity(self.pairs.len() * 2);
            for (i, (k, _)) in self.pairs.iter().enumerate() {
                index.insert(k.clone(), i);
            }
            self.index = Some(index);
        }
        let slot = match &mut self.index {
            Some(index) => match index.get(&key) {
                Some(&i) => Some(i),
                None => {
                    index.insert(key.clone(), self.pairs.len());
                    None
                }
            },
            None => self.pairs.iter().position(|(k, _)| *k == key),
        };
        match slot.and_then(|i| self.pairs.get_mut(i)) {
            Some(pair) => pair.1 = value,
            None => self.pairs.push((key, value)),
        }
    }

    fn finish(self) -> Json {
        Json::Object(self.pairs)
    }
}

/// An array or object whose elements are still being read.
enum Frame {
    Array(Vec<Json>),
    /// The pairs so far and the key whose value is being read.
    Object(ObjectBuilder, String),
}

/// The iterative reader behind [`Json::parse`]: open arrays and objects live on a heap
/// stack of [`Frame`]s, so the depth of the text never reaches the thread's stack.
struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            text,
            bytes: text.as_bytes(),
            pos: 0,
        }
    }

    /// An error at byte offset `at`, worded like Python's `JSONDecodeError`
    /// (`msg: line L column C (char N)`, counted in characters).
    fn error_at(&self, msg: &str, at: usize) -> JsonError {
        let at = at.min(self.text.len());
        let before = self.text.get(..at).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |l| l.chars().count()) + 1;
        let char_index = before.chars().count();
        JsonError(format!(
            "{msg}: line {line} column {column} (char {char_index})"
        ))
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn rest_starts_with(&self, lit: &str) -> bool {
        self.bytes
            .get(self.pos..)
            .is_some_and(|r| r.starts_with(lit.as_bytes()))
    }

    /// The whole text: one value between optional whitespace.
    fn document(mut self) -> Result<Json, JsonError> {
        if self.text.starts_with('\u{feff}') {
            return Err(JsonError(
                "Unexpected UTF-8 BOM (decode using utf-8-sig): line 1 column 1 (char 0)"
                    .to_string(),
            ));
        }
        let value = self.value()?;
        self.skip_ws();
        if self.pos != self.bytes.len() {
            return Err(self.error_at("Extra data", self.pos));
        }
        Ok(value)
    }

    /// Opens an array or object one level deeper than `depth` levels, refusing more than
    /// [`MAX_DEPTH`].
    fn check_depth(&self, depth: usize) -> Result<(), JsonError> {
        if depth >= MAX_DEPTH {
            let msg = format!(
                "Nesting too deep: more than {MAX_DEPTH} levels of arrays and objects \
                 (Python's json stops at its recursion limit, 1000 by default)"
            );
            return Err(self.error_at(&msg, self.pos));
        }
        Ok(())
    }

    /// Reads `"key" :` (after `{` or `,` and whitespace), leaving the position after the colon.
    fn key(&mut self) -> Result<String, JsonError> {
        if self.peek() != Some(b'"') {
            return Err(self.error_at(
                "Expecting property name enclosed in double quotes",
                self.pos,
            ));
        }
        self.pos += 1;
        let key = self.string()?;
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Err(self.error_at("Expecting ':' delimiter", self.pos));
        }
        self.pos += 1;
        Ok(key)
    }

    /// Enters the array or object whose opening bracket is next, `depth` levels deep; when
    /// `close` follows (after whitespace), reads it too and says the container is empty.
    fn open(&mut self, depth: usize, close: u8) -> Result<bool, JsonError> {
        self.check_depth(depth)?;
        self.pos += 1;
        self.skip_ws();
        let empty = self.peek() == Some(close);
        if empty {
            self.pos += 1;
        }
        Ok(empty)
    }

    /// Reads one value (arrays and objects included) starting after optional whitespace.
    fn value(&mut self) -> Result<Json, JsonError> {
        let mut stack: Vec<Frame> = Vec::new();
        'value: loop {
            self.skip_ws();
            let mut value = match self.peek() {
                Some(b'[') => {
                    if self.open(stack.len(), b']')? {
                        Json::Array(Vec::new())
                    } else {
                        stack.push(Frame::Array(Vec::new()));
                        continue 'value;
                    }
                }
                Some(b'{') => {
                    if self.open(stack.len(), b'}')? {
                        Json::Object(Vec::new())
                    } else {
                        let key = self.key()?;
                        stack.push(Frame::Object(ObjectBuilder::default(), key));
                        continue 'value;
                    }
                }
                _ => self.scalar()?,
            };
            // A value is complete: hand it to the open array or object, closing those that end.
            loop {
                let Some(frame) = stack.pop() else {
                    return Ok(value);
                };
                self.skip_ws();
                let next = self.peek();
                self.pos += 1;
                value = match frame {
                    Frame::Array(mut items) => {
                        items.push(value);
                        match next {
                            Some(b',') => {
                                stack.push(Frame::Array(items));
                                continue 'value;
                            }
                            Some(b']') => Json::Array(items),
                            _ => return Err(self.error_at("Expecting ',' delimiter", self.pos - 1)),
                        }
                    }
                    Frame::Object(mut pairs, key) => {
                        pairs.insert(key, value);
                        match next {
                            Some(b',') => {
                                self.skip_ws();
                                let key = self.key()?;
                                stack.push(Frame::Object(pairs, key));
                                continue 'value;
                            }
                            Some(b'}') => pairs.finish(),
                            _ => return Err(self.error_at("Expecting ',' delimiter", self.pos - 1)),
                        }
                    }
                };
            }
        }
    }

    /// A string, number or constant at the current position.
    fn scalar(&mut self) -> Result<Json, JsonError> {
        let start = self.pos;
        let constants: [(&str, Json); 6] = [
            ("null", Json::Null),
            ("true", Json::Bool(true)),
            ("false", Json::Bool(false)),
            ("NaN", Json::Float(f64::NAN)),
            ("Infinity", Json::Float(f64::INFINITY)),
            ("-Infinity", Json::Float(f64::NEG_INFINITY)),
        ];
        match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                return self.string().map(Json::Str);
            }
            Some(b'-' | b'0'..=b'9') => {
                if self.rest_starts_with("-Infinity") {
                    self.pos += "-Infinity".len();
                    return Ok(Json::Float(f64::NEG_INFINITY));
                }
                return self.number();
            }
            _ => {}
        }
        for (lit, value) in constants {
            if self.rest_starts_with(lit) {
                self.pos += lit.len();
                return Ok(value);
            }
        }
        Err(self.error_at("Expecting value", start))
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    /// A number: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?` (Python's `NUMBER_RE`).
    /// Without fraction or exponent it is an `Int` when it fits in `i64`, else a `Float`.
    fn number(&mut self) -> Result<Json, JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error_at("Expecting value", start)),
        }
        let mut is_float = false;
        if self.peek() == Some(b'.') && matches!(self.bytes.get(self.pos + 1), Some(b'0'..=b'9')) {
            self.pos += 1;
            self.digits();
            is_float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            let mut p = self.pos + 1;
            if let Some(b'+' | b'-') = self.bytes.get(p) {
                p += 1;
            }
            if let Some(b'0'..=b'9') = self.bytes.get(p) {
                self.pos = p;
                self.digits();
                is_float = true;
            }
        }
        let literal = self.text.get(start..self.pos).unwrap_or_default();
        if !is_float && let Ok(i) = literal.parse::<i64>() {
            return Ok(Json::Int(i));
        }
        literal
            .parse::<f64>()
            .map(Json::Float)
            .map_err(|_| self.error_at("Expecting value", start))
    }

    /// Four hex digits at `at`, as a UTF-16 code unit.
    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = self.bytes.get(at..at + 4)?;
        digits.iter().try_fold(0u32, |acc, &b| {
            let d = (b as char).to_digit(16)?;
            Some(acc * 16 + d)
        })
    }

    /// The rest of a string whose opening quote has been read; leaves the position after
    /// the closing quote.
    fn string(&mut self) -> Result<String, JsonError> {
        let begin = self.pos - 1;
        let mut out = String::new();
        let mut chunk = self.pos;
        loop {
            let Some(b) = self.peek() else {
                return Err(self.error_at("Unterminated string starting at", begin));
            };
            match b {
                b'"' => {
                    let tail = self.text.get(chunk..self.pos).unwrap_or_default();
                    self.pos += 1;
                    if out.is_empty() {
                        return Ok(tail.to_string());
                    }
                    out.push_str(tail);
                    return Ok(out);
                }
                b'\\' => {
                    out.push_str(self.text.get(chunk..self.pos).unwrap_or_default());
                    let esc_at = self.pos;
                    let Some(e) = self.bytes.get(self.pos + 1).copied() else {
                        return Err(self.error_at("Unterminated string starting at", begin));
                    };
                    self.pos += 2;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{08}'),
                        b'f' => out.push('\u{0c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let unit = self.hex4(self.pos).ok_or_else(|| {
                                self.error_at("Invalid \\uXXXX escape", esc_at + 1)
                            })?;
                            self.pos += 4;
                            let mut code = unit;
                            if (0xd800..0xdc00).contains(&unit)
                                && self.bytes.get(self.pos..self.pos + 2) == Some(b"\\u")
                            {
                                let low = self.hex4(self.pos + 2).ok_or_else(|| {
                                    self.error_at("Invalid \\uXXXX escape", self.pos + 1)
                                })?;
                                if (0xdc00..0xe000).contains(&low) {
                                    code = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
                                    self.pos += 6;
                                }
                            }
                            // A lone surrogate (which Python keeps) has no `char`: U+FFFD.
                            out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                        }
                        _ => return Err(self.error_at("Invalid \\escape", esc_at)),
                    }
                    chunk = self.pos;
                }
                0x00..=0x1f => return Err(self.error_at("Invalid control character at", self.pos)),
                _ => self.pos += 1,
            }
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(i64::try_from(v).map_or(Json::Float(v as f64), Json::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::Str(v))
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        Json::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Json>()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        // Python keeps the last duplicate key (at the first one's position).
        let mut pairs = ObjectBuilder::default();
        while let Some((k, v)) = map.next_entry::<String, Json>()? {
            pairs.insert(k, v);
        }
        Ok(pairs.finish())
    }
}

/// `impl From<T> for E` as the variant `E::V(value)`, for each `T => V` listed (the scalar
/// conversions of [`Json`] and [`ParamValue`](crate::distributions::ParamValue)).
macro_rules! from_variants {
    ($enum:ident { $($t:ty => $variant:ident),* $(,)? }) => {
        $(
            impl From<$t> for $enum {
                fn from(v: $t) -> Self {
                    $enum::$variant(v)
                }
            }
        )*
    };
}
pub(crate) use from_variants;

from_variants!(Json { f64 => Float, i64 => Int, bool => Bool, String => Str });

impl From<&str> for Json {
    fn from(v: &str) -> Self {
        Json::Str(v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_matches_python() {
        let cases = [
            (0.0001, "0.0001"),
            (1e-5, "1e-05"),
            (0.1, "0.1"),
            (3.0, "3.0"),
            (100.0, "100.0"),
            (1e16, "1e+16"),
            (1234567890123456.0, "1234567890123456.0"),
            (0.03333333333333333, "0.03333333333333333"),
            (-2.5e-7, "-2.5e-07"),
            (1.5e300, "1.5e+300"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
            (123.456, "123.456"),
        ];
        for (v, want) in cases {
            assert_eq!(py_float_repr(v), want, "repr of {v:e}");
        }
    }

    #[test]
    fn parses_python_tokens_and_keeps_int_float_distinction() {
        let v = Json::parse(r#"{"a":NaN,"b":-Infinity,"c":3,"d":3.0,"e":"x\u00e9"}"#).unwrap();
        assert!(v.get("a").unwrap().as_f64().unwrap().is_nan());
        assert_eq!(v.get("b"), Some(&Json::Float(f64::NEG_INFINITY)));
        assert_eq!(v.get("c"), Some(&Json::Int(3)));
        assert_eq!(v.get("d"), Some(&Json::Float(3.0)));
        assert_eq!(v.get("e").unwrap().as_str(), Some("xé"));
    }

    #[test]
    fn writes_like_python_json_dumps() {
        let v = obj([
            ("op_code", Json::Int(7)),
            ("v", Json::Float(f64::NAN)),
            ("s", Json::from("é\"\n")),
            ("l", Json::Array(vec![Json::Null, Json::Bool(true)])),
        ]);
        assert_eq!(
            v.to_compact(),
            r#"{"op_code":7,"v":NaN,"s":"\u00e9\"\n","l":[null,true]}"#
        );
        assert_eq!(
            Json::Array(vec![Json::Int(1), Json::Float(2.0)]).to_python_default(),
            "[1, 2.0]"
        );
    }

    /// Runs `f` on a thread with a `kib` KiB stack and returns its result: a test that
    /// recursed per nesting level would overflow it and abort.
    fn on_small_stack<T: Send + 'static>(kib: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(kib * 1024)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap()
    }

    fn nested(depth: usize, inner: &str) -> String {
        format!("{}{inner}{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        // 60,000 levels once aborted the process (the NaN fallback recursed without a
        // limit); no depth may reach the thread's stack now, not even a 64 KiB one.
        let errors = on_small_stack(64, || {
            let objects = format!("{}NaN{}", "{\"a\":".repeat(60_000), "}".repeat(60_000));
            [
                nested(60_000, "NaN"),
                nested(60_000, "1"),
                nested(60_000, ""),
                objects,
                "[".repeat(200_000),
            ]
            .iter()
            .map(|text| Json::parse(text).unwrap_err().0)
            .collect::<Vec<_>>()
        });
        for err in errors {
            assert!(err.contains("Nesting too deep"), "{err}");
            assert!(
                err.contains(&format!("more than {MAX_DEPTH} levels")),
                "{err}"
            );
        }
    }

    #[test]
    fn nesting_up_to_max_depth_is_accepted_with_or_without_nan() {
        // Python's json reads an attribute nested 130 deep (its only bound is the recursion
        // limit); serde_json's 128 once refused it unless it held a NaN.
        for inner in ["1", "NaN", "-Infinity", "\"s\""] {
            let text = nested(130, inner);
            let v = Json::parse(&text).unwrap();
            assert_eq!(v.to_compact(), text);
        }
        let deepest = nested(MAX_DEPTH - 1, "{\"k\":Infinity}");
        let too_deep = nested(MAX_DEPTH + 1, "");
        // Parsing, writing, comparing, cloning and dropping the deepest accepted value fit a
        // thread stack of 1 MiB in a debug build (a test thread has 2 MiB).
        let (round_trip, equal, err) = on_small_stack(1024, move || {
            let v = Json::parse(&deepest).unwrap();
            let copy = v.clone();
            let equal = copy == v;
            let round_trip = v.to_compact() == deepest;
            drop((v, copy));
            (round_trip, equal, Json::parse(&too_deep).unwrap_err().0)
        });
        assert!(round_trip && equal);
        assert!(err.contains("Nesting too deep"), "{err}");
        assert!(Json::parse(&nested(MAX_DEPTH, "")).is_ok());
    }

    #[test]
    fn objects_with_many_keys_parse_in_linear_time() {
        // 200,000 keys (3.2 MB; Python reads it in 0.4 s) once took minutes: each key was
        // checked against every earlier one.
        let n = 200_000;
        let mut text = String::from("{");
        for i in 0..n {
            let _ = write!(text, "\"key_{i:07}\":{i},");
        }
        text.push_str("\"key_0000007\":\"last\"}");
        let started = std::time::Instant::now();
        let v = Json::parse(&text).unwrap();
        let took = started.elapsed();
        let pairs = v.as_object().unwrap();
        assert_eq!(pairs.len(), n);
        assert_eq!(pairs[7], ("key_0000007".to_string(), Json::from("last")));
        assert_eq!(pairs[n - 1].1, Json::Int(n as i64 - 1));
        assert!(took.as_secs() < 20, "took {took:?}");
    }

    #[test]
    fn duplicate_keys_keep_the_last_value_at_the_first_position() {
        // Python's dict: `json.loads('{"a":1,"b":2,"a":3}')` is `{"a": 3, "b": 2}`.
        let v = Json::parse(r#"{"a":1,"b":2,"a":3}"#).unwrap();
        assert_eq!(v, obj([("a", Json::Int(3)), ("b", Json::Int(2))]));
        // The same once the object is large enough to be indexed.
        let keys: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        let text = format!("{{{},\"k3\":-1,\"k39\":-2}}", keys.join(","));
        let v = Json::parse(&text).unwrap();
        let pairs = v.as_object().unwrap();
        assert_eq!(pairs.len(), 40);
        assert_eq!(pairs[3], ("k3".to_string(), Json::Int(-1)));
        assert_eq!(pairs[39], ("k39".to_string(), Json::Int(-2)));
        // serde's path (Json inside other serde documents) keeps the same semantics.
        let v: Json = serde_json::from_str(&text).unwrap();
        assert_eq!(v.as_object().unwrap()[3].1, Json::Int(-1));
    }

    #[test]
    fn lone_surrogates_become_the_replacement_character() {
        // Python writes lone surrogates (ensure_ascii) and reads them back; a Rust String
        // cannot hold one, so it becomes U+FFFD, which writes back as valid JSON.
        let v =
            Json::parse(r#"{"a":"\ud800","b":"x\udfffy","c":"\ud800\u0041","d":"\ud83d\ude00"}"#)
                .unwrap();
        assert_eq!(v.get("a").unwrap().as_str(), Some("\u{fffd}"));
        assert_eq!(v.get("b").unwrap().as_str(), Some("x\u{fffd}y"));
        assert_eq!(v.get("c").unwrap().as_str(), Some("\u{fffd}A"));
        assert_eq!(v.get("d").unwrap().as_str(), Some("\u{1f600}"));
        assert_eq!(
            v.to_compact(),
            r#"{"a":"\ufffd","b":"x\ufffdy","c":"\ufffdA","d":"\ud83d\ude00"}"#
        );
        assert_eq!(Json::parse(&v.to_compact()).unwrap(), v);
    }

    #[test]
    fn numbers_read_as_python_reads_them() {
        let v = Json::parse(
            "[-9223372036854775808, 9223372036854775807, 9223372036854775808, \
             -99999999999999999999, 1e400, -1E+2, 0.5e-3, -0, 10]",
        )
        .unwrap();
        assert_eq!(
            v,
            Json::Array(vec![
                Json::Int(i64::MIN),
                Json::Int(i64::MAX),
                Json::Float(9223372036854775808.0),
                Json::Float(-99999999999999999999.0),
                Json::Float(f64::INFINITY),
                Json::Float(-100.0),
                Json::Float(0.0005),
                Json::Int(0),
                Json::Int(10),
            ])
        );
        let v = Json::parse(" \t\r\n{\"s\": \"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\"} \n").unwrap();
        assert_eq!(v.get("s").unwrap().as_str(), Some("\"\\/\u{8}\u{c}\n\r\té"));
    }

    #[test]
    fn malformed_text_is_an_error_naming_what_and_where() {
        let cases = [
            ("", "Expecting value: line 1 column 1 (char 0)"),
            ("[1,]", "Expecting value: line 1 column 4 (char 3)"),
            ("[1 2]", "Expecting ',' delimiter: line 1 column 4 (char 3)"),
            ("{\"a\" 1}", "Expecting ':' delimiter"),
            (
                "{1: 2}",
                "Expecting property name enclosed in double quotes",
            ),
            (
                "{\"a\": 1,}",
                "Expecting property name enclosed in double quotes",
            ),
            ("[1]\n[2]", "Extra data: line 2 column 1 (char 4)"),
            ("\"a\u{1}\"", "Invalid control character at"),
            ("\"\\x\"", "Invalid \\escape"),
            ("\"\\u12g4\"", "Invalid \\uXXXX escape"),
            (
                "\"abc",
                "Unterminated string starting at: line 1 column 1 (char 0)",
            ),
            ("-NaN", "Expecting value"),
            ("nan", "Expecting value"),
            ("01", "Extra data"),
            ("1.", "Extra data"),
            ("\u{feff}{}", "Unexpected UTF-8 BOM"),
        ];
        for (text, want) in cases {
            let err = Json::parse(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn rejects_malformed() {
        assert!(Json::parse("{\"a\":").is_err());
        assert!(Json::parse("{\"a\": NaN").is_err());
    }
}
