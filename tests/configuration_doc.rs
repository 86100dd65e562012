//! docs/configuration.md against the code it describes: the list of old parameter names must
//! be exactly the alias table CONFIG GET and CONFIG SET use, so that the page cannot drift (it
//! once listed test inputs such as `hz → abc` as aliases).

use concord::server::parameters::{lookup, ALIASES};

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
