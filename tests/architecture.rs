//! Checks the rules of docs/architecture.md and STYLE.md that a compiler does not: the layering
//! of modules, the module docs, no `unwrap()` outside tests, and file sizes.

use std::collections::BTreeMap;
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

/// The file's text before its `#[cfg(test)]` module: the code that ships. Test files ship
/// nothing.
fn shipped_code<'a>(path: &Path, text: &'a str) -> &'a str {
    if is_test_file(path) {
        return "";
    }
    text.find("#[cfg(test)]").map_or(text, |position| &text[..position])
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
fn shipped_code_never_unwraps() {
    let mut offenders = Vec::new();
    for path in source_files() {
        let text = fs::read_to_string(&path).expect("readable");
        for (line_number, line) in shipped_code(&path, &text).lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if code.contains(".unwrap()") {
                offenders.push(format!("{}:{}", path.display(), line_number + 1));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "use `expect(\"why this holds\")` or a real error instead of unwrap():\n{}",
        offenders.join("\n")
    );
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
            let lines = shipped_code(&path, &text).lines().count();
            (lines > FILE_LINES_MAX).then(|| format!("{}: {lines} lines", path.display()))
        })
        .collect();
    assert!(large.is_empty(), "files over {FILE_LINES_MAX} non-test lines: {large:?}");
}
