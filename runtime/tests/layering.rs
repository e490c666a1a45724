//! The layering of `runtime/src`, measured from the code's own imports
//! (`crate::<module>` paths outside comments and test modules): no import
//! cycle between its top-level modules except the actix shells and their
//! registry (`shell` <-> `shared`, retired with the shells), and none of
//! the back-edges ARCHITECTURE.md rules out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module -> the top-level modules it names.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files: Vec<(String, String)> = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(&root).unwrap();
                let top = rel.components().next().unwrap().as_os_str();
                let top = top.to_string_lossy().trim_end_matches(".rs").to_string();
                files.push((top, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    let modules: BTreeSet<String> = files.iter().map(|(m, _)| m.clone()).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, text) in &files {
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let edges = graph.entry(module.clone()).or_default();
        for line in code.lines() {
            let line = line.split("//").next().unwrap_or("");
            for (i, _) in line.match_indices("crate::") {
                let name: String = line[i + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if &name != module && modules.contains(&name) {
                    edges.insert(name);
                }
            }
        }
    }
    graph
}

/// The modules reachable from `from` (itself excluded unless on a cycle).
fn reachable(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<&str> = graph[from].iter().map(String::as_str).collect();
    while let Some(m) = todo.pop() {
        if seen.insert(m.to_string()) {
            todo.extend(graph.get(m).into_iter().flatten().map(String::as_str));
        }
    }
    seen
}

#[test]
fn the_only_import_cycle_is_the_shells_and_their_registry() {
    let graph = imports();
    let on_cycles: BTreeSet<String> = graph
        .keys()
        .filter(|m| reachable(&graph, m).contains(*m))
        .cloned()
        .collect();
    let expected: BTreeSet<String> = ["shared", "shell"].map(String::from).into();
    assert_eq!(
        on_cycles, expected,
        "modules on an import cycle; graph: {graph:#?}"
    );
}

#[test]
fn lower_layers_never_name_the_layers_above() {
    let graph = imports();
    for (low, above) in [
        (
            "metrics",
            &["facade", "shell", "shared", "http", "hosted", "host"][..],
        ),
        (
            "persist",
            &["facade", "shell", "shared", "http", "hosted"][..],
        ),
        (
            "validate",
            &["facade", "shell", "shared", "http", "hosted", "host"][..],
        ),
        (
            "idempotency",
            &["facade", "shell", "shared", "http", "hosted", "host"][..],
        ),
        ("host", &["facade", "shell", "shared", "http", "hosted"][..]),
    ] {
        let names = reachable(&graph, low);
        for a in above {
            assert!(!names.contains(*a), "{low} reaches {a}: {:?}", graph[low]);
        }
    }
}
