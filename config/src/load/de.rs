//! A serde deserializer over a parsed `toml::Value` that knows where it is,
//! so that a wrong type or an unknown key is reported with its dotted path
//! (`facilities[2].wave.size_max`), not only a byte span.
//!
//! The path is a chain of stack references, rendered only on error.

use std::fmt;

use serde::de::{
    self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Unexpected, Visitor,
};
use toml::Value;

/// Where a value sits in the document.
#[derive(Clone, Copy)]
pub(crate) enum Path<'p> {
    /// The document itself.
    Root,
    /// `parent.key`
    Key(&'p Path<'p>, &'p str),
    /// `parent[index]`
    Index(&'p Path<'p>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Key(parent, key) => {
                if !matches!(parent, Path::Root) {
                    write!(f, "{parent}.")?;
                }
                f.write_str(&key_part(key))
            }
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

/// One key as it appears in a dotted path: bare when TOML allows it
/// (`A-Z a-z 0-9 _ -`), quoted otherwise.
pub(crate) fn key_part(key: &str) -> String {
    if !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        key.to_string()
    } else {
        format!("{key:?}")
    }
}

/// A deserialization error and, once known, the dotted key it belongs to.
#[derive(Debug)]
pub(crate) struct DeError {
    /// Dotted path of the offending key; `None` until the error leaves the
    /// value it was raised in.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
    /// Set by `missing_field`: the key is the field inside the current path.
    missing: Option<&'static str>,
}

impl DeError {
    /// Attaches `path` unless a deeper path is already attached.
    fn at(mut self, path: &Path<'_>) -> Self {
        if self.key.is_none() {
            self.key = Some(match self.missing.take() {
                Some(field) => Path::Key(path, field).to_string(),
                None => path.to_string(),
            });
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

fn one_of(names: &[&str]) -> String {
    if names.is_empty() {
        "none are allowed here".to_string()
    } else {
        let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        format!("expected one of {}", quoted.join(", "))
    }
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            key: None,
            message: msg.to_string(),
            missing: None,
        }
    }

    fn missing_field(field: &'static str) -> Self {
        DeError {
            key: None,
            message: format!("required key `{field}` is missing"),
            missing: Some(field),
        }
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Self::custom(format_args!("unknown key `{field}`, {}", one_of(expected)))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Self::custom(format_args!(
            "unknown value {variant:?}, {}",
            one_of(expected)
        ))
    }
}

/// Deserializes one value at one path.
pub(crate) struct ValueDe<'a, 'p> {
    value: &'a Value,
    path: &'p Path<'p>,
}

impl<'a, 'p> ValueDe<'a, 'p> {
    /// A deserializer for `value`, found at `path`.
    pub(crate) fn new(value: &'a Value, path: &'p Path<'p>) -> Self {
        ValueDe { value, path }
    }
}

/// Deserializes `T` from the whole document.
pub(crate) fn from_value<T: de::DeserializeOwned>(value: &Value) -> Result<T, DeError> {
    let root = Path::Root;
    T::deserialize(ValueDe::new(value, &root)).map_err(|e| e.at(&root))
}

impl<'de> de::Deserializer<'de> for ValueDe<'_, '_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Value::String(s) => visitor.visit_str(s),
            Value::Integer(i) => visitor.visit_i64(*i),
            Value::Float(x) => visitor.visit_f64(*x),
            Value::Boolean(b) => visitor.visit_bool(*b),
            Value::Datetime(d) => Err(de::Error::invalid_type(
                Unexpected::Other(&format!("date/time {d}")),
                &visitor,
            )),
            Value::Array(items) => {
                let len = items.len();
                let mut seq = SeqDe {
                    iter: items.iter().enumerate(),
                    path: self.path,
                };
                let out = visitor.visit_seq(&mut seq)?;
                if seq.iter.next().is_some() {
                    return Err(de::Error::invalid_length(len, &"fewer elements"));
                }
                Ok(out)
            }
            Value::Table(table) => visitor.visit_map(MapDe {
                iter: table.iter(),
                pending: None,
                path: self.path,
            }),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        // A key that is present is `Some`: TOML has no null.
        visitor.visit_some(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.value {
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

struct SeqDe<'a, 'p> {
    iter: std::iter::Enumerate<std::slice::Iter<'a, Value>>,
    path: &'p Path<'p>,
}

impl<'de> SeqAccess<'de> for &mut SeqDe<'_, '_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.iter.next() {
            None => Ok(None),
            Some((i, value)) => {
                let path = Path::Index(self.path, i);
                seed.deserialize(ValueDe::new(value, &path))
                    .map(Some)
                    .map_err(|e| e.at(&path))
            }
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct MapDe<'a, 'p> {
    iter: toml::map::Iter<'a>,
    pending: Option<(&'a str, &'a Value)>,
    path: &'p Path<'p>,
}

impl<'de> MapAccess<'de> for MapDe<'_, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.iter.next() {
            None => Ok(None),
            Some((key, value)) => {
                self.pending = Some((key.as_str(), value));
                let path = Path::Key(self.path, key);
                let de: de::value::StrDeserializer<'_, DeError> = key.as_str().into_deserializer();
                seed.deserialize(de).map(Some).map_err(|e| e.at(&path))
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let (key, value) = self
            .pending
            .take()
            .ok_or_else(|| <DeError as de::Error>::custom("value requested before its key"))?;
        let path = Path::Key(self.path, key);
        seed.deserialize(ValueDe::new(value, &path))
            .map_err(|e| e.at(&path))
    }
}
