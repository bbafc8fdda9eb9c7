//! The harness's module graph, read from its sources: which top-level module
//! names which (`crate::x`). Its test keeps the graph free of cycles, so each
//! module can be read, tested and replaced without the ones that use it.
//! `cargo test --lib architecture -- --nocapture` prints the graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each top-level module of `src` and the top-level modules it names.
pub fn module_graph(src: &Path) -> std::io::Result<BTreeMap<String, BTreeSet<String>>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|extension| extension != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).expect("below src");
            let first = relative.components().next().expect("a file");
            let module = Path::new(first.as_os_str())
                .file_stem()
                .expect("a name")
                .to_string_lossy()
                .to_string();
            if module == "lib" || module == "main" {
                continue;
            }
            // Code only: comments may name paths that are not imports.
            let text: String = std::fs::read_to_string(&path)?
                .lines()
                .filter(|line| !line.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            let named = graph.entry(module.clone()).or_default();
            // `crate::a::…`, and `use crate::{a, b::c}` naming several at once.
            for (at, _) in text.match_indices("crate::") {
                let rest = &text[at + "crate::".len()..];
                let names: Vec<&str> = match rest.strip_prefix('{') {
                    Some(group) => group[..group.find('}').unwrap_or(group.len())]
                        .split(',')
                        .map(str::trim)
                        .collect(),
                    None => vec![rest],
                };
                for name in names.into_iter().map(leading_name) {
                    if !name.is_empty() && name != module {
                        named.insert(name.to_string());
                    }
                }
            }
        }
    }
    Ok(graph)
}

/// The identifier `text` starts with.
fn leading_name(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// A cycle in `graph`, if there is one: the modules in order, the first repeated last.
pub fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    // Depth-first search, colouring modules on the path.
    fn visit(
        module: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|on_path| on_path == module) {
            let mut cycle = path[start..].to_vec();
            cycle.push(module.to_string());
            return Some(cycle);
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.to_string());
        for next in graph.get(module).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, done, path) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(module.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|module| visit(module, graph, &mut done, &mut Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_harness_modules_import_each_other_without_cycles() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("harness/src");
        let graph = module_graph(&src).unwrap();
        for (module, named) in &graph {
            let named: Vec<&str> = named.iter().map(String::as_str).collect();
            println!("{module} -> {}", named.join(", "));
        }
        assert!(graph.contains_key("run") && graph["run"].contains("checking"));
        if let Some(cycle) = find_cycle(&graph) {
            panic!("an import cycle: {}", cycle.join(" -> "));
        }
    }

    #[test]
    fn a_cycle_is_found() {
        let graph: BTreeMap<String, BTreeSet<String>> = [
            ("a", vec!["b"]),
            ("b", vec!["c"]),
            ("c", vec!["a"]),
            ("d", vec![]),
        ]
        .into_iter()
        .map(|(module, named)| {
            (
                module.to_string(),
                named.into_iter().map(String::from).collect(),
            )
        })
        .collect();
        assert_eq!(find_cycle(&graph).unwrap(), ["a", "b", "c", "a"]);
    }
}
