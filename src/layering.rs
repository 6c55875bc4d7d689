//! The layering of CONTRIBUTING.md, checked: every `crate::X` a module's source names must
//! be one of the modules below it in [`LAYERS`]. A new top-level module has to be placed in
//! the table, and the table itself must stay acyclic. (Test-only: it reads the sources.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each top-level module and the modules it may use. `main.rs` and `lib.rs` tie them
/// together, and this file names them all in its own test: those are not checked.
const LAYERS: &[(&str, &[&str])] = &[
    ("schema", &[]),
    ("passwords", &[]),
    ("settings", &[]),
    ("render", &[]),
    ("table", &[]),
    ("causes", &[]),
    ("inventory", &[]),
    ("logging", &["settings"]),
    ("host", &["settings"]),
    ("server", &["passwords", "schema", "settings"]),
    ("fixture", &["passwords", "schema"]),
    ("migrate", &["passwords", "schema", "settings"]),
    ("playbook", &["causes", "host", "render", "settings"]),
    ("remote", &["causes", "host", "inventory", "settings"]),
    ("verify", &["host", "schema", "settings", "table"]),
    (
        "init",
        &[
            "host",
            "inventory",
            "passwords",
            "playbook",
            "render",
            "settings",
        ],
    ),
    ("ops", &["host", "init", "playbook", "settings", "verify"]),
    (
        "deploy",
        &[
            "causes",
            "host",
            "init",
            "inventory",
            "playbook",
            "remote",
            "settings",
        ],
    ),
    ("cli", &["init", "settings"]),
    (
        "commands",
        &[
            "causes",
            "cli",
            "deploy",
            "fixture",
            "host",
            "init",
            "inventory",
            "logging",
            "migrate",
            "ops",
            "passwords",
            "playbook",
            "remote",
            "render",
            "schema",
            "server",
            "settings",
            "table",
            "verify",
        ],
    ),
    ("layering", &[]),
];

/// The top-level modules named by `crate::NAME` and `crate::{A, B::…}` in `text`.
fn crate_refs(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level names of the group: those at brace depth 0.
            let mut depth = 0usize;
            let mut start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && depth == 0 && !c.is_whitespace() => {
                        out.insert(ident(&group[j..]));
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident(rest));
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn modules_use_only_the_layers_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let layers: BTreeMap<&str, &[&str]> = LAYERS.iter().copied().collect();
    let mut wrong = Vec::new();
    for e in std::fs::read_dir(&src).unwrap().flatten() {
        let p = e.path();
        let name = p.file_stem().unwrap().to_string_lossy().to_string();
        if ["main", "lib", "layering"].contains(&name.as_str())
            || (p.is_file() && p.extension().map_or(true, |x| x != "rs"))
        {
            continue;
        }
        let allowed = layers
            .get(name.as_str())
            .unwrap_or_else(|| panic!("src/{name}: place it in layering::LAYERS"));
        let mut files = Vec::new();
        if p.is_dir() {
            sources(&p, &mut files);
        } else {
            files.push(p.clone());
        }
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            for r in crate_refs(&text) {
                if r != name && !allowed.contains(&r.as_str()) && layers.contains_key(r.as_str()) {
                    wrong.push(format!("{} uses crate::{r}", f.display()));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "modules reaching above their layer (CONTRIBUTING.md's layering; move the shared piece down):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_layers_are_acyclic() {
    let layers: BTreeMap<&str, &[&str]> = LAYERS.iter().copied().collect();
    // Each module's allowed uses must all come before it in the table.
    for (i, (name, uses)) in LAYERS.iter().enumerate() {
        for u in *uses {
            let at = LAYERS.iter().position(|(n, _)| n == u);
            assert!(
                at.is_some_and(|at| at < i),
                "{name} may use {u}, which is not listed before it"
            );
        }
    }
    assert_eq!(layers.len(), LAYERS.len(), "a module is listed twice");
}

/// The sibling modules `text` (one file of folder module `top`) names: `super::X` and
/// `crate::TOP::X`, in the code before its tests.
fn sibling_refs(text: &str, top: Option<&str>) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or(text);
    let mut out = BTreeSet::new();
    let mut prefixes = vec!["super::".to_string()];
    if let Some(t) = top {
        prefixes.push(format!("crate::{t}::"));
    }
    for p in &prefixes {
        for (i, _) in code.match_indices(p.as_str()) {
            let rest = &code[i + p.len()..];
            let mut names = Vec::new();
            if let Some(group) = rest.strip_prefix('{') {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                names.extend(group.split(',').map(|s| s.trim().to_string()));
            } else {
                names.push(rest.to_string());
            }
            for n in names {
                let id: String = n
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                out.insert(id);
            }
        }
    }
    out
}

/// A cycle in `edges`, if there is one.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == n) {
            let mut cycle = path[at..].to_vec();
            cycle.push(n.to_string());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for m in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for n in edges.keys() {
        if let Some(c) = visit(n, edges, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

/// Inside every folder module, the files use each other without a cycle (`mod.rs` ties
/// them together and is not counted).
#[test]
fn modules_inside_a_folder_form_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut dirs = vec![src.clone()];
    let mut cycles = Vec::new();
    while let Some(dir) = dirs.pop() {
        let top = dir
            .strip_prefix(&src)
            .ok()
            .filter(|r| r.components().count() == 1)
            .map(|r| r.display().to_string());
        let mut names = BTreeSet::new();
        let mut files = Vec::new();
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            let stem = p.file_stem().unwrap().to_string_lossy().to_string();
            if p.is_dir() {
                dirs.push(p.clone());
                names.insert(stem.clone());
                files.push((stem, p.join("mod.rs")));
            } else if p.extension().is_some_and(|x| x == "rs") && stem != "mod" {
                names.insert(stem.clone());
                files.push((stem, p));
            }
        }
        if dir == src {
            continue;
        }
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (name, file) in files {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            let refs = sibling_refs(&text, top.as_deref());
            edges.insert(
                name.clone(),
                refs.into_iter()
                    .filter(|r| names.contains(r) && *r != name)
                    .collect(),
            );
        }
        if let Some(c) = find_cycle(&edges) {
            cycles.push(format!("{}: {}", dir.display(), c.join(" → ")));
        }
    }
    assert!(
        cycles.is_empty(),
        "files that use each other in a circle (move what both need into a module of its own):\n{}",
        cycles.join("\n")
    );
}

#[test]
fn references_are_read_from_paths_and_groups() {
    let refs = crate_refs(
        "use crate::host::fs;\nuse crate::{settings::{A, B}, schema};\nlet x = crate::verify::x();",
    );
    let want: BTreeSet<String> = ["host", "settings", "schema", "verify"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(refs, want);
}
