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

#[cfg(test)]
mod tests {
    use super::super::reply::parse;
    use super::*;

    fn reply(bytes: &[u8]) -> Reply {
        parse(bytes).unwrap().expect("a complete reply").0
    }

    fn agree(rule: Rule, expected: &[u8], actual: &[u8]) -> bool {
        replies_agree(&rule, &reply(expected), &reply(actual))
    }

    #[test]
    fn exact_means_every_byte() {
        assert!(agree(Rule::Exact, b"$1\r\na\r\n", b"$1\r\na\r\n"));
        assert!(!agree(Rule::Exact, b"$1\r\na\r\n", b"+a\r\n"));
        assert!(!agree(Rule::Exact, b"-ERR a\r\n", b"-ERR b\r\n"));
    }

    #[test]
    fn type_rule_compares_only_the_type_byte() {
        assert!(agree(Rule::Type, b":1\r\n", b":99\r\n"));
        assert!(agree(Rule::Type, b"$-1\r\n", b"$1\r\nx\r\n"));
        assert!(!agree(Rule::Type, b":1\r\n", b"$1\r\n1\r\n"));
    }

    #[test]
    fn shape_rule_compares_structure_not_contents() {
        let time_a = b"*2\r\n$10\r\n1700000000\r\n$6\r\n123456\r\n";
        let time_b = b"*2\r\n$10\r\n1700000001\r\n$5\r\n12345\r\n";
        assert!(agree(Rule::Shape, time_a, time_b));
        assert!(!agree(Rule::Shape, time_a, b"*1\r\n$1\r\n1\r\n"));
        assert!(!agree(Rule::Shape, b"$-1\r\n", b"$1\r\nx\r\n"));
    }

    #[test]
    fn int_rule_allows_the_tolerance_and_no_more() {
        assert!(agree(Rule::IntWithin(1), b":100\r\n", b":99\r\n"));
        assert!(!agree(Rule::IntWithin(1), b":100\r\n", b":98\r\n"));
        assert!(agree(Rule::IntWithin(1), b"*2\r\n:5\r\n$1\r\na\r\n", b"*2\r\n:6\r\n$1\r\na\r\n"));
        assert!(!agree(Rule::IntWithin(1), b"*2\r\n:5\r\n$1\r\na\r\n", b"*2\r\n:5\r\n$1\r\nb\r\n"));
        assert!(!agree(Rule::IntWithin(5), b":1\r\n", b"-ERR x\r\n"));
    }

    #[test]
    fn sorted_rule_ignores_order_but_not_duplicates() {
        let ab = b"*2\r\n$1\r\na\r\n$1\r\nb\r\n";
        let ba = b"*2\r\n$1\r\nb\r\n$1\r\na\r\n";
        let aa = b"*2\r\n$1\r\na\r\n$1\r\na\r\n";
        assert!(agree(Rule::Sorted, ab, ba));
        assert!(!agree(Rule::Sorted, ab, aa));
        assert!(!agree(Rule::Sorted, ab, b"~2\r\n$1\r\nb\r\n$1\r\na\r\n"));
        assert!(agree(
            Rule::Sorted,
            b"%2\r\n+a\r\n:1\r\n+b\r\n:2\r\n",
            b"%2\r\n+b\r\n:2\r\n+a\r\n:1\r\n"
        ));
        assert!(!agree(
            Rule::Sorted,
            b"%2\r\n+a\r\n:1\r\n+b\r\n:2\r\n",
            b"%2\r\n+b\r\n:1\r\n+a\r\n:2\r\n"
        ));
    }

    #[test]
    fn except_fields_rule_loosens_only_the_named_values() {
        let redis = b"%3\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:7\r\n";
        let other =
            b"%3\r\n$6\r\nserver\r\n$7\r\nconcord\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:9\r\n";
        let wrong_proto =
            b"%3\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:2\r\n$2\r\nid\r\n:7\r\n";
        let fields = vec![b"server".to_vec(), b"id".to_vec()];
        assert!(agree(Rule::ExceptFields(fields.clone()), redis, other));
        assert!(!agree(Rule::ExceptFields(fields.clone()), redis, wrong_proto));
        let resp2 = b"*4\r\n$6\r\nserver\r\n$5\r\nredis\r\n$2\r\nid\r\n:7\r\n";
        let resp2_other = b"*4\r\n$6\r\nserver\r\n$1\r\nx\r\n$2\r\nid\r\n:8\r\n";
        assert!(agree(Rule::ExceptFields(fields), resp2, resp2_other));
    }

    #[test]
    fn a_closed_connection_agrees_only_with_a_closed_connection() {
        let pong = Outcome::Reply(reply(b"+PONG\r\n"));
        assert!(outcomes_agree(&Rule::Exact, &Outcome::Closed, &Outcome::Closed));
        assert!(!outcomes_agree(&Rule::Exact, &Outcome::Closed, &pong));
        assert!(!outcomes_agree(&Rule::Ignore, &pong, &Outcome::Failed("timeout".into())));
    }
}
