//! Checks the rules of docs/architecture.md and STYLE.md that a compiler does not: the layering
//! of modules, no import circles between sibling files, a module doc on every folder module,
//! and the sizes of files and functions. The rules a compiler can check are lints instead, in
//! `src/lib.rs` and `src/main.rs`: no `unwrap()` in shipped code, docs on public items, and
//! `unsafe` only where a function allows it, with a `SAFETY:` comment.
//!
//! Every check reads code through [`rust_source`]: comments, literals and `#[cfg(test)]` items
//! are blanked first, wherever they stand in a file.

#[path = "architecture/rust_source.rs"]
mod rust_source;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The top-level modules from the bottom layer up: each may use only those before it.
const LAYERS: &[&str] = &[
    "error",
    "resp",
    "command",
    "store",
    "state_machine",
    "log",
    "config",
    "logging",
    "metrics",
    "raft",
    "node",
    "server",
    "maelstrom",
    "cli",
];

/// Non-test lines a source file may have (STYLE.md: "well under 1,000").
const FILE_LINES_MAX: usize = 1000;

/// Lines a function in shipped code may span, from `fn` to its closing brace: one a reader
/// takes in without scrolling back.
const FUNCTION_LINES_MAX: usize = 80;

fn source_files() -> Vec<PathBuf> {
    fn walk(directory: &Path, files: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(directory).expect("src/ is readable") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                files.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    files.sort();
    files
}

/// The top-level module a file belongs to (`src/node/mod.rs` → `node`), if any.
fn module_of(path: &Path) -> Option<String> {
    let relative = path.strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")).join("src")).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    Some(first.trim_end_matches(".rs").to_string())
}

/// Whether a file holds only tests (`tests.rs`, or anything under a `tests/` folder of src/).
fn is_test_file(path: &Path) -> bool {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let relative = path.strip_prefix(&source).unwrap_or(path);
    relative.components().any(|component| component.as_os_str() == "tests")
        || path.file_name().is_some_and(|name| name == "tests.rs")
}

/// The code of a file that ships: comments, literals and `#[cfg(test)]` items blanked
/// (see [`rust_source`]), lines kept. Test files ship nothing.
fn shipped_code(path: &Path, text: &str) -> String {
    if is_test_file(path) {
        return String::new();
    }
    rust_source::blank_test_items(&rust_source::blank_literals_and_comments(text))
}

#[test]
fn lower_layers_never_import_higher_ones() {
    let rank: BTreeMap<&str, usize> =
        LAYERS.iter().enumerate().map(|(rank, name)| (*name, rank)).collect();
    let mut violations = Vec::new();
    for path in source_files() {
        let Some(module) = module_of(&path) else { continue };
        let Some(&own_rank) = rank.get(module.as_str()) else { continue };
        let text = fs::read_to_string(&path).expect("source is readable");
        for (line_number, line) in shipped_code(&path, &text).lines().enumerate() {
            for (other, &other_rank) in &rank {
                let imports = line.contains(&format!("crate::{other}::"))
                    || line.contains(&format!("crate::{other};"))
                    || line.contains(&format!("crate::{{{other}"));
                if imports && other_rank > own_rank {
                    violations.push(format!(
                        "{}:{}: `{module}` uses the higher layer `{other}`",
                        path.display(),
                        line_number + 1
                    ));
                }
            }
        }
    }
    assert!(violations.is_empty(), "layering violations:\n{}", violations.join("\n"));
}

#[test]
fn every_module_file_opens_with_a_module_doc() {
    let missing: Vec<String> = source_files()
        .into_iter()
        .filter(|path| {
            let name = path.file_name().and_then(|name| name.to_str()).unwrap_or("");
            name == "mod.rs" || name == "lib.rs"
        })
        .filter(|path| !fs::read_to_string(path).expect("readable").starts_with("//!"))
        .map(|path| path.display().to_string())
        .collect();
    assert!(missing.is_empty(), "module files without a `//!` doc: {missing:?}");
}

#[test]
fn source_files_stay_small() {
    let large: Vec<String> = source_files()
        .into_iter()
        .filter_map(|path| {
            let text = fs::read_to_string(&path).expect("readable");
            // A generated table is data, not code to read: its generator is the code, and a
            // test regenerates the file and fails when it differs.
            if text.lines().take(3).any(|line| line.contains("Do not edit:")) {
                return None;
            }
            if is_test_file(&path) {
                return None;
            }
            let code = rust_source::blank_literals_and_comments(&text);
            let lines = code.lines().count() - rust_source::test_item_lines(&code);
            (lines > FILE_LINES_MAX).then(|| format!("{}: {lines} lines", path.display()))
        })
        .collect();
    assert!(large.is_empty(), "files over {FILE_LINES_MAX} non-test lines: {large:?}");
}

/// The sibling modules that `code` names through `parent` (the `super::` path of the siblings'
/// parent module) or through that module's own `crate::` path: `use super::{info, connection::Connection}` names `info`
/// and `connection`.
fn sibling_imports(
    code: &str,
    siblings: &BTreeSet<String>,
    parent: &str,
    crate_path: &str,
) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    let prefixes = [parent.to_string(), format!("{crate_path}::")];
    for prefix in &prefixes {
        let mut rest = code;
        while let Some(found) = rest.find(prefix.as_str()) {
            let after = &rest[found + prefix.len()..];
            let group = match after.strip_prefix('{') {
                Some(inside) => &inside[..inside.find('}').unwrap_or(inside.len())],
                None => {
                    after.split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or("")
                }
            };
            for item in group.split(',') {
                let name: String = item
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if siblings.contains(&name) {
                    named.insert(name);
                }
            }
            rest = after;
        }
    }
    named
}

/// The `crate::…` path of the module that a directory of src/ is (`src/server/connection` →
/// `crate::server::connection`).
fn crate_path(directory: &Path) -> String {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let relative = directory.strip_prefix(&source).unwrap_or(directory);
    let mut path = String::from("crate");
    for component in relative.components() {
        path.push_str("::");
        path.push_str(&component.as_os_str().to_string_lossy());
    }
    path
}

/// A circle in `imports` (module → the siblings it imports), as `a → b → a`, if there is one.
fn find_circle(imports: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        module: &str,
        imports: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|seen| seen == module) {
            let mut circle = path[start..].to_vec();
            circle.push(module.to_string());
            return Some(circle);
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.to_string());
        for next in imports.get(module).into_iter().flatten() {
            if let Some(circle) = visit(next, imports, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(module.to_string());
        None
    }
    let mut done = BTreeSet::new();
    imports.keys().find_map(|module| visit(module, imports, &mut Vec::new(), &mut done))
}

/// The child modules of every module of src/ that is a directory, by directory: its files
/// (`x.rs`, or `x/mod.rs` as `x`) other than `mod.rs`, each with the text of the file.
fn modules_by_directory() -> BTreeMap<PathBuf, BTreeMap<String, PathBuf>> {
    let mut directories: BTreeMap<PathBuf, BTreeMap<String, PathBuf>> = BTreeMap::new();
    for path in source_files() {
        let Some(parent) = path.parent() else { continue };
        let name = path.file_stem().and_then(|stem| stem.to_str()).unwrap_or("").to_string();
        let (directory, name) = if name == "mod" {
            let Some(grandparent) = parent.parent() else { continue };
            let child = parent.file_name().and_then(|name| name.to_str()).unwrap_or("");
            (grandparent.to_path_buf(), child.to_string())
        } else {
            (parent.to_path_buf(), name)
        };
        directories.entry(directory).or_default().insert(name, path);
    }
    directories
}

/// The siblings that the module in `path` imports: a module that is a directory imports what
/// any of its files does (a file `depth` modules below the siblings' parent names it through
/// `super::` written `depth` times).
fn module_imports(path: &Path, siblings: &BTreeSet<String>, crate_path: &str) -> BTreeSet<String> {
    let files: Vec<(PathBuf, usize)> = match path.file_name() {
        Some(name) if name == "mod.rs" => {
            let directory = path.parent().expect("a mod.rs is in a directory");
            source_files()
                .into_iter()
                .filter(|file| file.starts_with(directory))
                .map(|file| {
                    let below =
                        file.strip_prefix(directory).expect("under it").components().count();
                    let depth = if file.ends_with("mod.rs") { below } else { below + 1 };
                    (file, depth)
                })
                .collect()
        }
        _ => vec![(path.to_path_buf(), 1)],
    };
    let mut named = BTreeSet::new();
    for (file, depth) in files {
        let text = fs::read_to_string(&file).expect("source is readable");
        let code = shipped_code(&file, &text);
        named.extend(sibling_imports(&code, siblings, &"super::".repeat(depth), crate_path));
    }
    named
}

#[test]
fn no_file_imports_a_sibling_that_imports_it_back() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut circles = Vec::new();
    for (directory, children) in modules_by_directory() {
        if directory == source {
            continue; // the top-level modules are ordered by LAYERS instead
        }
        let siblings: BTreeSet<String> = children.keys().cloned().collect();
        let crate_path = crate_path(&directory);
        let imports: BTreeMap<String, BTreeSet<String>> = children
            .iter()
            .map(|(name, path)| {
                let mut named = module_imports(path, &siblings, &crate_path);
                named.remove(name);
                (name.clone(), named)
            })
            .collect();
        if let Some(circle) = find_circle(&imports) {
            circles.push(format!("{}: {}", directory.display(), circle.join(" → ")));
        }
    }
    assert!(
        circles.is_empty(),
        "sibling modules that import each other (move the shared part down, or make one a \
         child of the other):\n{}",
        circles.join("\n")
    );
}

#[test]
fn functions_in_shipped_code_stay_short() {
    let mut long = Vec::new();
    for path in source_files() {
        let text = fs::read_to_string(&path).expect("readable");
        let code = shipped_code(&path, &text);
        for function in rust_source::functions(&code) {
            if function.lines > FUNCTION_LINES_MAX {
                long.push(format!(
                    "{}:{}: `{}` has {} lines",
                    path.display(),
                    function.line,
                    function.name,
                    function.lines
                ));
            }
        }
    }
    assert!(long.is_empty(), "functions over {FUNCTION_LINES_MAX} lines:\n{}", long.join("\n"));
}
