//! YAML reading helpers of the sweep config (entries, keys, typed scalars, each error naming
//! its dotted path) and the flow-depth scan that refuses pathological nesting before the YAML
//! parser sees it.

use serde_yaml_ng::Value as Yaml;

use super::{ConfigError, invalid};
use crate::json::Json;

pub(super) fn key_str<'a>(k: &'a Yaml, path: &str) -> Result<&'a str, ConfigError> {
    k.as_str()
        .ok_or_else(|| invalid(path, format!("keys must be strings, found {}", describe(k))))
}

pub(super) fn describe(v: &Yaml) -> String {
    match v {
        Yaml::Null => "null".into(),
        Yaml::Bool(b) => format!("the boolean {b}"),
        Yaml::Number(n) => format!("the number {n}"),
        Yaml::String(s) => format!("the string {s:?}"),
        Yaml::Sequence(_) => "a list".into(),
        Yaml::Mapping(_) => "a mapping".into(),
        Yaml::Tagged(t) => format!("a value tagged {}", t.tag),
    }
}

pub(super) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// A mapping's entries with string keys, or an error naming `path`.
pub(super) fn entries<'a>(
    v: &'a Yaml,
    path: &str,
) -> Result<Vec<(&'a str, &'a Yaml)>, ConfigError> {
    let m = v.as_mapping().ok_or_else(|| {
        invalid(
            if path.is_empty() {
                "sweep config"
            } else {
                path
            },
            format!("must be a mapping, found {}", describe(v)),
        )
    })?;
    m.iter()
        .map(|(k, val)| Ok((key_str(k, path)?, val)))
        .collect()
}

pub(super) fn check_keys(
    items: &[(&str, &Yaml)],
    path: &str,
    allowed: &[&str],
) -> Result<(), ConfigError> {
    for (k, _) in items {
        if !allowed.contains(k) {
            return Err(ConfigError::UnknownKey {
                path: join(path, k),
                supported: allowed.join(", "),
            });
        }
    }
    Ok(())
}

pub(super) fn lookup<'a>(items: &[(&str, &'a Yaml)], key: &str) -> Option<&'a Yaml> {
    items.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// YAML to sweeplab's JSON value (`.nan`/`.inf` become non-finite floats).
pub fn yaml_to_json(v: &Yaml, path: &str) -> Result<Json, ConfigError> {
    Ok(match v {
        Yaml::Null => Json::Null,
        Yaml::Bool(b) => Json::Bool(*b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Json::Int(i)
            } else if let Some(f) = n.as_f64() {
                Json::Float(f)
            } else {
                return Err(invalid(path, format!("number {n} is out of range")));
            }
        }
        Yaml::String(s) => Json::Str(s.clone()),
        Yaml::Sequence(items) => Json::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, x)| yaml_to_json(x, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Mapping(_) => Json::Object(
            entries(v, path)?
                .into_iter()
                .map(|(k, x)| Ok((k.to_string(), yaml_to_json(x, &join(path, k))?)))
                .collect::<Result<_, ConfigError>>()?,
        ),
        Yaml::Tagged(t) => {
            return Err(invalid(
                path,
                format!("YAML tags such as {} are not supported", t.tag),
            ));
        }
    })
}

pub(super) fn number(v: &Yaml, path: &str) -> Result<f64, ConfigError> {
    v.as_f64().filter(|x| x.is_finite()).ok_or_else(|| {
        invalid(
            path,
            format!("must be a finite number, found {}", describe(v)),
        )
    })
}

pub(super) fn is_int(v: &Yaml) -> bool {
    v.is_i64() || v.is_u64()
}

pub(super) fn integer(v: &Yaml, path: &str) -> Result<i64, ConfigError> {
    if let Some(i) = v.as_i64() {
        return Ok(i);
    }
    match v.as_f64() {
        Some(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
        _ => Err(invalid(
            path,
            format!("must be an integer, found {}", describe(v)),
        )),
    }
}

pub(super) fn count(v: &Yaml, path: &str) -> Result<usize, ConfigError> {
    let i = integer(v, path)?;
    usize::try_from(i).map_err(|_| invalid(path, format!("must be >= 0, found {i}")))
}

pub(super) fn string(v: &Yaml, path: &str) -> Result<String, ConfigError> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| invalid(path, format!("must be a string, found {}", describe(v))))
}

// ------------------------------------------------------------------ nesting depth

/// The deepest nesting of YAML flow collections (`[...]`, `{...}`) a sweep config may have.
/// serde_yaml_ng refuses documents nested deeper than 128 levels anyway, but only after its
/// parser has read the whole document, and that parser takes time quadratic in the flow
/// depth (100,000 levels: about half a minute). [`check_flow_depth`] refuses such text first.
const MAX_FLOW_DEPTH: usize = 128;

/// Refuses YAML whose flow collections nest deeper than [`MAX_FLOW_DEPTH`], in one linear
/// pass, before the YAML parser sees it.
///
/// A light scan, not a YAML parser: it follows quoted scalars (`'...'`, `"..."`), comments
/// and block scalars (`|`, `>`) so that brackets inside them do not count, counts every
/// bracket inside a flow collection, and in block context only a bracket that starts a node
/// (so `name: f[x]` is a plain scalar). Text it misreads can only be refused for holding
/// more than [`MAX_FLOW_DEPTH`] unclosed brackets, which serde_yaml_ng would refuse as well
/// were they real nesting.
pub(super) fn check_flow_depth(text: &str) -> Result<(), ConfigError> {
    /// Where a scan stands between characters.
    #[derive(Clone, Copy, PartialEq)]
    enum Quote {
        None,
        Single,
        Double,
    }
    let mut depth = 0usize;
    let mut quote = Quote::None;
    // Block scalar being skipped: (indent of its header line, indent of its content once seen).
    let mut block_scalar: Option<(usize, Option<usize>)> = None;
    // The previous line (in block context) ended inside a plain scalar, so this line may
    // continue it (`key: a` / `  [b` is the scalar "a [b").
    let mut plain_open = false;
    for (line_no, line) in text.split('\n').enumerate() {
        let b = line.as_bytes();
        let indent = b.iter().take_while(|c| **c == b' ').count();
        let blank = b.iter().all(|c| c.is_ascii_whitespace());
        if let Some((header, content)) = block_scalar {
            if blank {
                continue;
            }
            match content {
                Some(c) if indent >= c => continue,
                None if indent > header => {
                    block_scalar = Some((header, Some(indent)));
                    continue;
                }
                _ => block_scalar = None,
            }
        }
        let doc_marker = (line.starts_with("---") || line.starts_with("..."))
            && b.get(3).is_none_or(|c| c.is_ascii_whitespace());
        if doc_marker && quote == Quote::None {
            depth = 0;
            plain_open = false;
            continue;
        }
        // At the start of a line a node may start, unless the line may continue a plain
        // scalar or the line is inside a flow collection (where only punctuation counts).
        let continuation = depth == 0 && plain_open && indent > 0 && !blank;
        let mut node_start = !continuation;
        if depth == 0 && !blank && !continuation {
            plain_open = false;
        }
        // Right after a closing quote, where `{"a":b}` may put its colon.
        let mut after_quote = false;
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            let next = b.get(i + 1).copied();
            let next_blank = next.is_none_or(|n| n.is_ascii_whitespace());
            match quote {
                Quote::Single => {
                    if c == b'\'' {
                        if next == Some(b'\'') {
                            i += 1;
                        } else {
                            quote = Quote::None;
                            node_start = false;
                            after_quote = true;
                        }
                    }
                    i += 1;
                    continue;
                }
                Quote::Double => {
                    if c == b'\\' {
                        i += 1;
                    } else if c == b'"' {
                        quote = Quote::None;
                        node_start = false;
                        after_quote = true;
                    }
                    i += 1;
                    continue;
                }
                Quote::None => {}
            }
            if c == b' ' || c == b'\t' || c == b'\r' {
                i += 1;
                continue;
            }
            if c == b'#' && (i == 0 || b[i - 1].is_ascii_whitespace()) {
                break;
            }
            let flow = depth > 0;
            let closed_quote = std::mem::take(&mut after_quote);
            match c {
                b'[' | b'{' if flow || node_start => {
                    depth += 1;
                    if depth > MAX_FLOW_DEPTH {
                        return Err(ConfigError::Yaml(format!(
                            "line {}: flow collections ([...] or {{...}}) nested more than \
                             {MAX_FLOW_DEPTH} levels deep; a sweep config needs a few levels \
                             (the YAML reader refuses more than 128)",
                            line_no + 1
                        )));
                    }
                    node_start = true;
                }
                b']' | b'}' if flow => {
                    depth -= 1;
                    node_start = false;
                }
                b',' if flow => node_start = true,
                b'\'' if node_start => quote = Quote::Single,
                b'"' if node_start => quote = Quote::Double,
                b'|' | b'>' if node_start && !flow => {
                    block_scalar = Some((indent, None));
                    break;
                }
                b'-' | b'?' if node_start && next_blank => {}
                b':' if next_blank
                    || (flow
                        && (closed_quote
                            || matches!(next, Some(b',' | b'[' | b']' | b'{' | b'}')))) =>
                {
                    node_start = true;
                    plain_open = false;
                }
                b'&' | b'!' if node_start => {
                    // An anchor or tag: the node (and what may start it) follows.
                    while i + 1 < b.len() && !b[i + 1].is_ascii_whitespace() {
                        if flow && matches!(b[i + 1], b',' | b'{' | b'}') {
                            break;
                        }
                        i += 1;
                    }
                }
                _ => {
                    if node_start && !flow {
                        plain_open = true;
                    }
                    node_start = false;
                }
            }
            i += 1;
        }
    }
    Ok(())
}
