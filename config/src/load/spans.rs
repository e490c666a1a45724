//! Where a dotted key sits in the TOML text, from the parser's own spans.
//!
//! `toml_edit` keeps the byte span of every key, table header and value of
//! a document it parsed, so an error about `facilities[1].wave.size_max`
//! can point at the line that defines it (or its nearest enclosing key)
//! without a second, hand-written reading of the file.
//!
//! Never used on the success path: spans are only collected once an error
//! needs a line.

use std::ops::Range;

use toml_edit::{ImDocument, Item, Table, Value};

/// Every dotted path of a document with the byte offset where it is defined.
#[derive(Debug, Default)]
pub(crate) struct KeySpans {
    keys: Vec<(String, usize)>,
}

impl KeySpans {
    /// Parses `text`; `None` when it is not valid TOML.
    pub(crate) fn parse(text: &str) -> Option<KeySpans> {
        let doc = ImDocument::parse(text).ok()?;
        let mut spans = KeySpans::default();
        spans.table(doc.as_table(), "");
        Some(spans)
    }

    /// The 1-based line that defines `key` or its nearest enclosing key.
    pub(crate) fn line_of(&self, text: &str, key: &str) -> Option<usize> {
        if key.is_empty() {
            return None;
        }
        self.keys
            .iter()
            .filter(|(k, _)| encloses(k, key))
            .max_by_key(|(k, _)| k.len())
            .map(|(_, at)| line_col(text, *at).0)
    }

    /// The table header in effect at byte `offset`: the path of the last
    /// table (or array-of-tables element) whose header starts before it.
    fn header_before(&self, offset: usize) -> Option<&str> {
        self.keys
            .iter()
            .filter(|(k, at)| *at < offset && k.ends_with(HEADER_MARK))
            .max_by_key(|(_, at)| *at)
            .map(|(k, _)| &k[..k.len() - HEADER_MARK.len()])
    }

    fn push(&mut self, path: String, span: Option<Range<usize>>) {
        if let Some(span) = span {
            self.keys.push((path, span.start));
        }
    }

    fn table(&mut self, t: &Table, prefix: &str) {
        for (name, item) in t.iter() {
            let path = join(prefix, name);
            self.push(path.clone(), t.key(name).and_then(|k| k.span()));
            self.item(item, &path);
        }
    }

    fn item(&mut self, item: &Item, path: &str) {
        match item {
            Item::Table(t) => {
                self.header(t, path.to_string());
                self.table(t, path);
            }
            Item::ArrayOfTables(a) => {
                for (i, t) in a.iter().enumerate() {
                    let el = format!("{path}[{i}]");
                    self.header(t, el.clone());
                    self.table(t, &el);
                }
            }
            Item::Value(v) => self.value(v, path),
            Item::None => {}
        }
    }

    /// A table with a header of its own (`[a.b]` or `[[a]]`) is where the
    /// keys below it are defined; dotted and implicit tables have none.
    fn header(&mut self, t: &Table, path: String) {
        if !t.is_implicit() && !t.is_dotted() {
            self.push(path.clone(), t.span());
            self.push(format!("{path}{HEADER_MARK}"), t.span());
        }
    }

    fn value(&mut self, v: &Value, path: &str) {
        match v {
            Value::InlineTable(t) => {
                for (name, value) in t.iter() {
                    let p = join(path, name);
                    self.push(p.clone(), t.key(name).and_then(|k| k.span()));
                    self.value(value, &p);
                }
            }
            Value::Array(a) => {
                for (i, el) in a.iter().enumerate() {
                    let p = format!("{path}[{i}]");
                    self.push(p.clone(), el.span());
                    self.value(el, &p);
                }
            }
            _ => {}
        }
    }
}

/// Marks the entry of a table header (kept apart from the table's own path
/// so `line_of` never prefers it over a key).
const HEADER_MARK: &str = "\u{0}header";

/// The dotted key a syntax error at `offset` belongs to, as far as the
/// valid text before its line and the broken line's own key can tell.
pub(crate) fn key_at_error(text: &str, offset: usize) -> Option<String> {
    let line_start = text[..offset.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("").trim();
    let before = KeySpans::parse(&text[..line_start])?;
    let header = before
        .header_before(line_start.max(1))
        .unwrap_or("")
        .to_string();
    if let Some(rest) = line.strip_prefix('[') {
        // A broken header: name what it opens, if its name parses.
        let name = rest.trim_start_matches('[').split(']').next()?;
        return dotted(name);
    }
    let key = line
        .split_once('=')
        .and_then(|(k, _)| dotted(k))
        .unwrap_or_default();
    match (header.is_empty(), key.is_empty()) {
        (_, true) if header.is_empty() => None,
        (_, true) => Some(header),
        (true, false) => Some(key),
        (false, false) => Some(format!("{header}.{key}")),
    }
}

/// A TOML key (`a.b`, `"quoted".c`) as a dotted path, when it parses.
fn dotted(raw: &str) -> Option<String> {
    let keys = toml_edit::Key::parse(raw.trim()).ok()?;
    Some(
        keys.iter()
            .map(|k| k.get().to_string())
            .collect::<Vec<_>>()
            .join("."),
    )
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Whether `outer` is `inner` or one of its enclosing paths.
fn encloses(outer: &str, inner: &str) -> bool {
    inner == outer
        || (inner.starts_with(outer)
            && matches!(inner.as_bytes().get(outer.len()), Some(b'.' | b'[')))
}

/// 1-based line and column of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str =
        "a = 1\n[[facilities]]\nid = \"x\"\n[[facilities]]\nwave = { size_max = 0 }\n\
                        [[facilities.cutoffs]]\nat = \"1\"\n[routing.channel.web]\n\
                        max_splits = 0\nlist = [1,\n 2]\n";

    #[test]
    fn keys_follow_headers_arrays_and_inline_tables() {
        let s = KeySpans::parse(TEXT).unwrap();
        assert_eq!(s.line_of(TEXT, "a"), Some(1));
        assert_eq!(s.line_of(TEXT, "facilities[0].id"), Some(3));
        assert_eq!(s.line_of(TEXT, "facilities[0].lat"), Some(2));
        assert_eq!(s.line_of(TEXT, "facilities[1].wave.size_max"), Some(5));
        assert_eq!(s.line_of(TEXT, "facilities[1].cutoffs[0].at"), Some(7));
        assert_eq!(s.line_of(TEXT, "routing.channel.web.max_splits"), Some(9));
        assert_eq!(s.line_of(TEXT, "routing.channel.web.list[1]"), Some(11));
        assert_eq!(s.line_of(TEXT, "nowhere"), None);
        assert_eq!(s.line_of(TEXT, ""), None);
    }

    #[test]
    fn syntax_errors_name_the_key_of_their_line() {
        let text = "[routing]\nmax_splits = = 3\n";
        assert_eq!(
            key_at_error(text, 12).as_deref(),
            Some("routing.max_splits")
        );
        let text = "[[facilities]]\nid = 1\n[[facilities]]\nlat = \n";
        let at = text.rfind("lat").unwrap();
        assert_eq!(key_at_error(text, at).as_deref(), Some("facilities[1].lat"));
        assert_eq!(key_at_error("a = = 1\n", 4).as_deref(), Some("a"));
        assert_eq!(key_at_error("= 1\n", 0), None);
    }
}
