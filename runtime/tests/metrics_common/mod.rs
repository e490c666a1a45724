//! A small reader of the Prometheus text format for the `metrics_*` tests:
//! families (`# TYPE`, `# HELP`) and samples (name, labels, value).
#![allow(dead_code)]

use std::collections::BTreeMap;

/// One sample line.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed exposition.
#[derive(Debug, Default)]
pub struct Exposition {
    /// Family name to `# TYPE` word.
    pub types: BTreeMap<String, String>,
    /// Family name to `# HELP` text.
    pub helps: BTreeMap<String, String>,
    pub samples: Vec<Sample>,
}

fn labels(s: &str) -> BTreeMap<String, String> {
    // name="value",name="value" (values here never hold '"' or ',').
    let mut out = BTreeMap::new();
    for part in s.split("\",") {
        let part = part.trim_end_matches('"');
        if let Some((k, v)) = part.split_once("=\"") {
            out.insert(k.to_string(), v.to_string());
        }
    }
    out
}

/// Parses the text; panics on a line it cannot read.
pub fn parse(text: &str) -> Exposition {
    let mut e = Exposition::default();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, ty) = rest.split_once(' ').expect("TYPE name type");
            e.types.insert(name.to_string(), ty.to_string());
        } else if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP name text");
            e.helps.insert(name.to_string(), help.to_string());
        } else if line.starts_with('#') {
            continue;
        } else {
            let (series, value) = line.rsplit_once(' ').expect("sample: series value");
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                v => v
                    .parse()
                    .unwrap_or_else(|_| panic!("bad value in {line:?}")),
            };
            let (name, labels) = match series.split_once('{') {
                Some((n, l)) => (n.to_string(), labels(l.trim_end_matches('}'))),
                None => (series.to_string(), BTreeMap::new()),
            };
            e.samples.push(Sample {
                name,
                labels,
                value,
            });
        }
    }
    e
}

impl Exposition {
    /// Samples of a series name whose labels include every `(k, v)`.
    pub fn find(&self, name: &str, want: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                want.iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    /// The sum of the matching samples.
    pub fn sum(&self, name: &str, want: &[(&str, &str)]) -> f64 {
        self.find(name, want).iter().map(|s| s.value).sum()
    }

    /// The family a sample name belongs to (`_bucket`, `_sum`, `_count` of
    /// a histogram map to the histogram).
    pub fn family<'a>(&self, sample: &'a str) -> &'a str {
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = sample.strip_suffix(suffix) {
                if self.types.get(base).map(String::as_str) == Some("histogram") {
                    return base;
                }
            }
        }
        sample
    }
}
