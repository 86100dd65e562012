//! docs/configuration.md against the code it describes: the list of old parameter names must
//! be exactly the alias table CONFIG GET and CONFIG SET use, so that the page cannot drift (it
//! once listed test inputs such as `hz → abc` as aliases).

use std::collections::{BTreeMap, BTreeSet};

use concord::server::parameter_effects::{effect, Effect};
use concord::server::parameters::{lookup, Mutability, ALIASES, PARAMETERS};

const CONFIGURATION: &str = include_str!("../docs/configuration.md");

/// The `- \`old\` → \`new\`` lines of the alias list, in order.
fn documented_aliases() -> Vec<(String, String)> {
    let heading = "Old names, accepted as aliases";
    let start = CONFIGURATION.find(heading).expect("docs/configuration.md lists the aliases");
    CONFIGURATION[start..]
        .lines()
        .skip(1)
        .skip_while(|line| line.trim().is_empty())
        .take_while(|line| line.starts_with("- "))
        .map(|line| {
            let names: Vec<&str> = line.split('`').skip(1).step_by(2).collect();
            assert_eq!(names.len(), 2, "an alias line names two parameters: {line:?}");
            (names[0].to_string(), names[1].to_string())
        })
        .collect()
}

#[test]
fn the_documented_aliases_are_exactly_the_alias_table() {
    let documented = documented_aliases();
    let table: Vec<(String, String)> = ALIASES
        .iter()
        .map(|(alias, canonical)| (alias.to_string(), canonical.to_string()))
        .collect();
    assert_eq!(documented, table, "docs/configuration.md's alias list differs from ALIASES");
    for (alias, canonical) in &documented {
        assert!(lookup(alias.as_bytes()).is_some(), "{alias} is not accepted by CONFIG GET");
        assert!(lookup(canonical.as_bytes()).is_some(), "{canonical} is not a parameter");
    }
}

/// The lines of the section under `heading`, up to the next `## ` heading or the alias list.
fn section(heading: &str) -> Vec<&'static str> {
    let start = CONFIGURATION
        .find(&format!("## {heading}\n"))
        .unwrap_or_else(|| panic!("docs/configuration.md has no section {heading:?}"));
    CONFIGURATION[start..]
        .lines()
        .skip(1)
        .take_while(|line| !line.starts_with("## ") && !line.starts_with("Old names"))
        .collect()
}

/// The lines of section `heading` that begin with `prefix`, each with its newline.
fn lines_starting(heading: &str, prefix: &str) -> String {
    section(heading)
        .iter()
        .filter(|line| line.starts_with(prefix))
        .map(|line| format!("{line}\n"))
        .collect()
}

/// The names in backticks in the first column of a section's table rows (or its list items).
fn first_column_names(lines: &[&str]) -> BTreeSet<String> {
    lines
        .iter()
        .filter(|line| line.starts_with("| `") || line.starts_with("- `"))
        .flat_map(|line| {
            let first = line.trim_start_matches(['|', '-', ' ']).split(['|', ':']).next();
            first.unwrap_or_default().split('`').skip(1).step_by(2).map(str::to_string)
        })
        .collect()
}

/// What the code decides for every parameter, rendered as the docs list it, so that a failure
/// shows the lines to write.
fn expected_sections() -> (BTreeSet<String>, String, String, BTreeSet<String>) {
    let mut honoured = BTreeSet::new();
    let mut not_yet = String::new();
    let mut no_equivalent: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut fixed = BTreeSet::new();
    for parameter in PARAMETERS {
        if parameter.mutability != Mutability::Mutable {
            fixed.insert(parameter.name.to_string());
            continue;
        }
        match effect(parameter.name) {
            Effect::Honoured => {
                honoured.insert(parameter.name.to_string());
            }
            Effect::NotYet { accepted } => {
                not_yet.push_str(&format!("- `{}`: `{accepted}`\n", parameter.name));
            }
            Effect::NoEquivalent { instead } => {
                no_equivalent.entry(instead).or_default().push(parameter.name);
            }
        }
    }
    let mut table = String::new();
    for (instead, names) in no_equivalent {
        let names: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
        table.push_str(&format!("| {} | {instead} |\n", names.join(", ")));
    }
    (honoured, not_yet, table, fixed)
}

#[test]
fn the_documented_effect_of_every_parameter_is_the_code_s() {
    let (honoured, not_yet, no_equivalent, fixed) = expected_sections();
    let documented = first_column_names(&section("Parameters Concord honours"));
    assert_eq!(documented, honoured, "the honoured table differs from parameter_effects");
    let documented = lines_starting("Parameters not implemented yet", "- `");
    assert_eq!(documented, not_yet, "the not-yet list differs; it should read:\n{not_yet}");
    let documented = lines_starting("Parameters with no equivalent in Concord", "| `");
    assert_eq!(
        documented, no_equivalent,
        "the no-equivalent table differs; its rows should read:\n{no_equivalent}"
    );
    let mut documented = first_column_names(&section("Parameters CONFIG SET cannot change"));
    documented.extend(first_column_names(&section("Parameters that reflect Concord (read-only)")));
    assert_eq!(documented, fixed, "the parameters CONFIG SET cannot change differ");
}
