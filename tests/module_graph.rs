//! The crate's modules import each other without cycles (issue 11): for the library and
//! the `wgact` tooling, every `crate::<module>` a top-level module names is an edge, and
//! the graph must be acyclic. A child module naming its parent (`softmax::kernels` using
//! `crate::softmax`) is the same node and does not count.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level module name -> the top-level modules its files name as `crate::<name>`.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if path.file_name().unwrap() != "bin" {
                    stack.push(path);
                }
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel: PathBuf = path.strip_prefix(src).unwrap().to_path_buf();
            let first = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy();
            let node = first.trim_end_matches(".rs").to_string();
            if node == "lib" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let deps = graph.entry(node.clone()).or_default();
            for name in crate_paths(&text) {
                if name != node {
                    deps.insert(name);
                }
            }
        }
    }
    graph
}

/// The first segment after every `crate::` in `text`, including inside `use crate::{a, b::c}`.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                let item = item.trim();
                if item.contains("::") {
                    out.insert(ident(item));
                }
            }
        } else {
            let name = ident(rest);
            // `crate::Foo` is a root re-export, not a module.
            if name.starts_with(|c: char| c.is_ascii_lowercase()) {
                out.insert(name);
            }
        }
    }
    out
}

fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    // Depth-first search with an explicit path; a back edge closes a cycle.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

fn assert_acyclic(package: &str) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(package)
        .join("src");
    let graph = module_graph(&src);
    assert!(graph.len() > 5, "read too few modules in {}", src.display());
    if let Some(c) = cycle(&graph) {
        panic!("import cycle in {package}/src: {}", c.join(" -> "));
    }
}

#[test]
fn library_modules_have_no_import_cycles() {
    assert_acyclic(".");
}

#[test]
fn tooling_modules_have_no_import_cycles() {
    assert_acyclic("wgact");
}

#[test]
fn a_cycle_is_reported() {
    let mut graph = BTreeMap::new();
    graph.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    graph.insert("b".to_string(), BTreeSet::from(["c".to_string()]));
    graph.insert("c".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(cycle(&graph).unwrap(), ["a", "b", "c", "a"]);
    let deps = crate_paths("use crate::{gpu::Gpu, Error};\nuse crate::tensor::Tensor;");
    assert_eq!(
        deps,
        BTreeSet::from(["gpu".to_string(), "tensor".to_string()])
    );
}
