//! Deciding whether two replies to the same line agree, under the line's [`Rule`].
//!
//! Byte equality is the default and the goal; every other rule exists for a reply that cannot be
//! equal between two servers (a clock, an id, a hash table's order) and is as strict as that
//! reply allows.

use super::reply::{Outcome, Reply, Value};
use super::script::Rule;

/// Whether `actual` agrees with `expected` under `rule`.
pub fn outcomes_agree(rule: &Rule, expected: &Outcome, actual: &Outcome) -> bool {
    match (expected, actual) {
        // A failure (timeout, garbage) never agrees with anything: even under `~ignore` it
        // leaves the connection unusable and must be reported.
        (Outcome::Failed(_), _) | (_, Outcome::Failed(_)) => false,
        (Outcome::Closed, Outcome::Closed) => true,
        (Outcome::Reply(expected), Outcome::Reply(actual)) => replies_agree(rule, expected, actual),
        // A reply against a closed connection differs even under `~ignore`: the rule waives
        // the contents of a reply, not its arrival.
        _ => false,
    }
}

/// Whether two replies agree under `rule`.
pub fn replies_agree(rule: &Rule, expected: &Reply, actual: &Reply) -> bool {
    match rule {
        Rule::Exact => expected.raw == actual.raw,
        Rule::Ignore => true,
        Rule::Type => expected.type_byte() == actual.type_byte(),
        Rule::Shape => same_shape(expected, actual),
        Rule::IntWithin(tolerance) => equal_within(expected, actual, *tolerance),
        Rule::Sorted => same_multiset(expected, actual),
        Rule::ExceptFields(fields) => equal_except_fields(expected, actual, fields),
    }
}

/// Same type bytes, same nullness and same aggregate lengths, all the way down.
fn same_shape(expected: &Reply, actual: &Reply) -> bool {
    if expected.type_byte() != actual.type_byte() {
        return false;
    }
    match (&expected.value, &actual.value) {
        (Value::Bulk(expected), Value::Bulk(actual)) => expected.is_some() == actual.is_some(),
        (Value::Array(None), Value::Array(None)) => true,
        (Value::Map(expected), Value::Map(actual)) => {
            expected.len() == actual.len()
                && expected.iter().zip(actual).all(|(expected, actual)| {
                    same_shape(&expected.0, &actual.0) && same_shape(&expected.1, &actual.1)
                })
        }
        _ => match (expected.elements(), actual.elements()) {
            (Some(expected), Some(actual)) => {
                expected.len() == actual.len()
                    && expected
                        .iter()
                        .zip(actual)
                        .all(|(expected, actual)| same_shape(expected, actual))
            }
            (None, None) => true,
            _ => false,
        },
    }
}

/// Exact, except that integers anywhere may differ by up to `tolerance`.
fn equal_within(expected: &Reply, actual: &Reply, tolerance: i64) -> bool {
    match (&expected.value, &actual.value) {
        (Value::Integer(expected), Value::Integer(actual)) => {
            expected.abs_diff(*actual) <= tolerance.unsigned_abs()
        }
        (Value::Map(expected_pairs), Value::Map(actual_pairs)) => {
            expected_pairs.len() == actual_pairs.len()
                && expected_pairs.iter().zip(actual_pairs).all(|(expected, actual)| {
                    equal_within(&expected.0, &actual.0, tolerance)
                        && equal_within(&expected.1, &actual.1, tolerance)
                })
        }
        _ => match (expected.elements(), actual.elements()) {
            (Some(expected_elements), Some(actual_elements)) => {
                expected.type_byte() == actual.type_byte()
                    && expected_elements.len() == actual_elements.len()
                    && expected_elements
                        .iter()
                        .zip(actual_elements)
                        .all(|(expected, actual)| equal_within(expected, actual, tolerance))
            }
            _ => expected.raw == actual.raw,
        },
    }
}

/// Aggregates compared as multisets of their elements' bytes (pairs, for maps); anything
/// else exactly.
fn same_multiset(expected: &Reply, actual: &Reply) -> bool {
    if expected.type_byte() != actual.type_byte() {
        return false;
    }
    match (sorted_items(expected), sorted_items(actual)) {
        (Some(expected), Some(actual)) => expected == actual,
        _ => expected.raw == actual.raw,
    }
}

/// The raw bytes of an aggregate's elements (a map's key and value bytes concatenated), sorted.
pub fn sorted_items(reply: &Reply) -> Option<Vec<Vec<u8>>> {
    let mut items: Vec<Vec<u8>> = match &reply.value {
        Value::Map(pairs) => pairs
            .iter()
            .map(|(key, value)| [key.raw.as_slice(), value.raw.as_slice()].concat())
            .collect(),
        _ => reply.elements()?.iter().map(|element| element.raw.clone()).collect(),
    };
    items.sort();
    Some(items)
}

/// A map (or a RESP2 flat key/value array) compared exactly, except that the values of the
/// named fields need only have the same RESP type.
fn equal_except_fields(expected: &Reply, actual: &Reply, fields: &[Vec<u8>]) -> bool {
    if expected.type_byte() != actual.type_byte() {
        return false;
    }
    // A list of maps (ACL LOG's entries): each element under the same rule.
    if let (Value::Array(Some(expected)), Value::Array(Some(actual))) =
        (&expected.value, &actual.value)
    {
        let is_map = |reply: &Reply| matches!(reply.value, Value::Map(_) | Value::Array(Some(_)));
        if !expected.is_empty() && expected.iter().all(is_map) {
            return expected.len() == actual.len()
                && expected.iter().zip(actual).all(|(e, a)| equal_except_fields(e, a, fields));
        }
    }
    match (pairs_of(expected), pairs_of(actual)) {
        (Some(expected), Some(actual)) => {
            expected.len() == actual.len()
                && expected.iter().zip(&actual).all(
                    |((expected_key, expected_value), (actual_key, actual_value))| {
                        expected_key.raw == actual_key.raw
                            && if expected_key.text().is_some_and(|key| {
                                fields.iter().any(|field| field.as_slice() == key)
                            }) {
                                expected_value.type_byte() == actual_value.type_byte()
                            } else {
                                expected_value.raw == actual_value.raw
                            }
                    },
                )
        }
        _ => expected.raw == actual.raw,
    }
}

fn pairs_of(reply: &Reply) -> Option<Vec<(&Reply, &Reply)>> {
    match &reply.value {
        Value::Map(pairs) => Some(pairs.iter().map(|(key, value)| (key, value)).collect()),
        Value::Array(Some(elements)) if elements.len() % 2 == 0 => {
            Some(elements.chunks(2).map(|pair| (&pair[0], &pair[1])).collect())
        }
        _ => None,
    }
}

/// What a rule compares, for failure messages.
pub fn describe(rule: &Rule) -> Option<String> {
    match rule {
        Rule::Exact => None,
        Rule::Type => Some("compared only the RESP type (~type)".into()),
        Rule::Shape => Some("compared types and aggregate lengths (~shape)".into()),
        Rule::IntWithin(tolerance) => {
            Some(format!("integers may differ by up to {tolerance} (~int)"))
        }
        Rule::Sorted => Some("compared as sorted multisets (~sorted)".into()),
        Rule::ExceptFields(fields) => Some(format!(
            "compared all but the values of {} (~except-fields)",
            fields
                .iter()
                .map(|field| String::from_utf8_lossy(field).into_owned())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Rule::Ignore => Some("not compared (~ignore), but must arrive".into()),
    }
}
