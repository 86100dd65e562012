//! Golden bytes: the frozen encoding of every enum that reaches the log, a snapshot or a peer.
//!
//! The bytes of log entries, snapshots and peer frames are the postcard encoding of serde
//! derives (`docs/format.md`), so an enum's variant is stored as its position in the
//! declaration. These tests freeze that: for each persisted or transmitted enum,
//! - a function with an exhaustive `match` (no `_` arm) gives each variant its tag, so that a
//!   new variant does not compile until it is given one;
//! - a table holds one sample per variant and its bytes, as literal hex written once from the
//!   encoding of the day; a reordered variant or field changes them and fails;
//! - decoding the tag after the last sampled one must fail as an unknown variant, so that a
//!   variant given a tag but no sample fails too;
//! - `docs/format.md`'s tag tables must list exactly these variants and tags.
//!
//! Tags are append-only. A failure here is never fixed by editing the hex: a reorder or a
//! removal is a format change (a new format version and a fixture, see
//! `tests/fixtures/format/README.md`).

mod log;
mod peer;
mod snapshot;

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// One enum's frozen tags, checked: its name and each variant's name and tag, in tag order.
pub(crate) struct Checked {
    name: &'static str,
    variants: Vec<(String, u32)>,
}

/// Checks one enum: each sample encodes to its hex, its first byte is the tag `tag` gives it,
/// the samples cover the tags 0.. without a gap, and no variant follows the last one.
/// Returns the failures as text (empty when all hold), so that one run lists every change.
pub(crate) fn check<T: Serialize + DeserializeOwned + Debug>(
    name: &'static str,
    samples: Vec<(T, &str)>,
    tag: fn(&T) -> u32,
    failures: &mut Vec<String>,
) -> Checked {
    let mut variants = Vec::new();
    for (sample, expected) in &samples {
        let bytes = postcard::to_allocvec(sample).expect("a sample encodes");
        let actual = hex(&bytes);
        let variant = variant_name(sample);
        if actual != *expected {
            failures.push(format!(
                "{name}::{variant}: expected {expected}, encoded {actual} ({sample:?})"
            ));
        }
        let tag = tag(sample);
        if bytes.first().map(|&byte| u32::from(byte)) != Some(tag) {
            failures.push(format!("{name}::{variant}: tag {tag}, but serde wrote {actual}"));
        }
        variants.push((variant, tag));
    }
    variants.sort_by_key(|(_, tag)| *tag);
    for (position, (variant, tag)) in variants.iter().enumerate() {
        if *tag != position as u32 {
            failures.push(format!("{name}: no sample of tag {position} (next is {variant} {tag})"));
        }
    }
    // A tag past the last sample must be unknown to the enum: decoding it fails in serde's
    // variant check, not for want of bytes (the zeros decode as empty fields).
    let next = variants.len() as u8;
    let mut probe = vec![next];
    probe.extend([0u8; 256]);
    match postcard::take_from_bytes::<T>(&probe) {
        Err(postcard::Error::SerdeDeCustom) => {}
        other => failures.push(format!(
            "{name}: tag {next} is not refused as unknown ({other:?}): a variant has no sample"
        )),
    }
    Checked { name, variants }
}

/// Every checked enum, in the order `docs/format.md` lists them.
fn every_enum(failures: &mut Vec<String>) -> Vec<Checked> {
    let mut checked = log::enums(failures);
    checked.extend(snapshot::enums(failures));
    checked.extend(peer::enums(failures));
    checked
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The variant's name, as `Debug` prints it first.
fn variant_name(value: &impl Debug) -> String {
    let text = format!("{value:?}");
    text.split(|c: char| !c.is_alphanumeric() && c != '_').next().unwrap_or_default().to_string()
}

#[test]
fn every_persisted_enum_keeps_its_tags_and_bytes() {
    let mut failures = Vec::new();
    every_enum(&mut failures);
    assert!(
        failures.is_empty(),
        "the frozen format changed (a reorder or removal needs a new format version and a \
         fixture, see docs/format.md):\n{}",
        failures.join("\n")
    );
}

/// One enum's row of a tag table: `` | `Name` | where | 0 `First`, 1 `Second` | ``.
fn render_row(name: &str, variants: &[(String, u32)]) -> String {
    let tags: Vec<String> =
        variants.iter().map(|(variant, tag)| format!("{tag} `{variant}`")).collect();
    format!("| `{name}` | {} |", tags.join(", "))
}

/// `docs/format.md`'s tag tables: in its "Tags" section, every table row whose first cell is
/// an enum's name in backquotes and whose last cell lists its variants as ``0 `Name`, ...``.
fn documented_tags() -> Vec<(String, Vec<(String, u32)>)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/format.md"))
        .expect("docs/format.md is readable");
    let section = text.split("\n## Tags").nth(1).expect("docs/format.md has a Tags section");
    let section = section.split("\n## ").next().unwrap_or_default();
    let mut tables = Vec::new();
    for line in section.lines() {
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
        let (Some(name), Some(tags)) = (cells.first(), cells.last()) else { continue };
        let Some(name) = name.strip_prefix('`').and_then(|name| name.strip_suffix('`')) else {
            continue;
        };
        let variants = tags
            .split(',')
            .map(|entry| {
                let (tag, variant) = entry.trim().split_once(' ').unwrap_or_default();
                (variant.trim_matches('`').to_string(), tag.parse().unwrap_or(u32::MAX))
            })
            .collect();
        tables.push((name.to_string(), variants));
    }
    tables
}

#[test]
fn the_tag_tables_of_docs_format_md_match_the_code() {
    let mut failures = Vec::new();
    let code: Vec<(String, Vec<(String, u32)>)> = every_enum(&mut failures)
        .into_iter()
        .map(|checked| (checked.name.to_string(), checked.variants))
        .collect();
    let documented = documented_tags();
    let render = |tables: &[(String, Vec<(String, u32)>)]| {
        tables.iter().map(|(name, variants)| render_row(name, variants)).collect::<Vec<_>>()
    };
    let (code, documented) = (render(&code), render(&documented));
    let missing: Vec<&String> = code.iter().filter(|row| !documented.contains(row)).collect();
    let stale: Vec<&String> = documented.iter().filter(|row| !code.contains(row)).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "docs/format.md's tag tables differ from the code.\nRows the code has and the doc \
         lacks:\n{}\nRows the doc has and the code lacks:\n{}",
        missing.iter().map(|row| row.as_str()).collect::<Vec<_>>().join("\n"),
        stale.iter().map(|row| row.as_str()).collect::<Vec<_>>().join("\n")
    );
}
