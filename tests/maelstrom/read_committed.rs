//! A small read-committed checker for `txn-rw-register` histories, in the spirit of Elle but far
//! simpler. It relies on the history writing each value at most once per key, so that every read
//! names exactly the transaction whose write it saw.
//!
//! What it checks, on completed transactions (the harness loses none):
//!
//! - **Garbage read**: a read returns a value no transaction wrote to that key.
//! - **G1b (intermediate read)**: a read returns a value another transaction wrote to the key but
//!   overwrote later in the same transaction.
//! - **Internal consistency**: after a transaction writes a key, its reads of that key return its
//!   own latest write; before, they never return a value it writes later.
//! - **G0 / G1c (cycles)**: no cycle among these dependency edges between transactions:
//!   - write-read `W → R`: R read a value W wrote (exact, since values are unique);
//!   - write-write `W → T` when T read W's value of a key and then wrote that key itself
//!     ("writes follow reads": T's write must be the later version);
//!   - write-write `W → F` when F's write is the key's final value once every node converged,
//!     and W also wrote the key (the final value is the last version).
//!
//! G1a (aborted read) cannot be told apart here: the node never aborts, and the harness loses no
//! replies, so every write in the history committed. The inferred write-write edges are a subset
//! of the real version order, so the checker can miss a G0 cycle but never invents one.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

pub type Key = i64;
pub type RegisterValue = i64;

/// One completed micro-operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Read { key: Key, value: Option<RegisterValue> },
    Write { key: Key, value: RegisterValue },
}

/// Parses a `txn_ok`'s `txn` field.
pub fn parse(txn: &Value) -> Vec<Operation> {
    let operations = txn.as_array().unwrap_or_else(|| panic!("txn is a list: {txn}"));
    operations
        .iter()
        .map(|operation| {
            let key = operation[1].as_i64().unwrap_or_else(|| panic!("integer key: {operation}"));
            match operation[0].as_str() {
                Some("r") => Operation::Read { key, value: operation[2].as_i64() },
                Some("w") => Operation::Write { key, value: operation[2].as_i64().unwrap() },
                _ => panic!("unknown micro-operation {operation}"),
            }
        })
        .collect()
}

/// Who wrote a value of a key: the transaction's index, and whether it was that transaction's
/// last write to the key.
#[derive(Debug, Clone, Copy)]
struct Writer {
    transaction: usize,
    is_final: bool,
}

/// Every write in the history, by (key, value). Panics if a value is written twice to a key,
/// since the checker's reasoning would no longer hold.
fn writers(history: &[Vec<Operation>]) -> HashMap<(Key, RegisterValue), Writer> {
    let mut writers = HashMap::new();
    for (transaction, operations) in history.iter().enumerate() {
        for (position, operation) in operations.iter().enumerate() {
            let Operation::Write { key, value } = *operation else { continue };
            let is_final = !operations[position + 1..]
                .iter()
                .any(|later| matches!(later, Operation::Write { key: other, .. } if *other == key));
            let previous = writers.insert((key, value), Writer { transaction, is_final });
            assert!(previous.is_none(), "the history must write {value} to key {key} only once");
        }
    }
    writers
}

/// Every anomaly found, described in a sentence each; empty when the history is read committed.
/// `final_values` maps each key to the value every node holds after convergence.
pub fn check(
    history: &[Vec<Operation>],
    final_values: &BTreeMap<Key, RegisterValue>,
) -> Vec<String> {
    let writers = writers(history);
    let mut anomalies = Vec::new();
    let mut edges: Vec<BTreeMap<usize, &'static str>> = vec![BTreeMap::new(); history.len()];
    for (reader, operations) in history.iter().enumerate() {
        let mut own_writes: BTreeMap<Key, RegisterValue> = BTreeMap::new();
        let mut external_reads: BTreeMap<Key, usize> = BTreeMap::new();
        for operation in operations {
            match *operation {
                Operation::Write { key, value } => {
                    if let Some(&writer) = external_reads.get(&key) {
                        edges[writer].insert(reader, "ww (writes follow reads)");
                    }
                    own_writes.insert(key, value);
                }
                Operation::Read { key, value } => {
                    if let Some(&own) = own_writes.get(&key) {
                        if value != Some(own) {
                            anomalies.push(format!(
                                "internal: T{reader} wrote {own} to key {key} but read {value:?}"
                            ));
                        }
                        continue;
                    }
                    let Some(value) = value else { continue };
                    match writers.get(&(key, value)) {
                        None => anomalies
                            .push(format!("garbage read: T{reader} read {value} from key {key}, never written")),
                        Some(writer) if writer.transaction == reader => anomalies.push(format!(
                            "internal: T{reader} read {value} from key {key} before writing it"
                        )),
                        Some(writer) if !writer.is_final => anomalies.push(format!(
                            "G1b: T{reader} read {value} from key {key}, an intermediate write of T{}",
                            writer.transaction
                        )),
                        Some(writer) => {
                            edges[writer.transaction].insert(reader, "wr");
                            external_reads.insert(key, writer.transaction);
                        }
                    }
                }
            }
        }
    }
    add_final_value_edges(history, final_values, &writers, &mut edges, &mut anomalies);
    if let Some(cycle) = find_cycle(&edges) {
        anomalies.push(format!("G0/G1c: dependency cycle {cycle}"));
    }
    anomalies
}

/// Adds `W → F` for every other final writer W of a key whose converged value F wrote.
fn add_final_value_edges(
    history: &[Vec<Operation>],
    final_values: &BTreeMap<Key, RegisterValue>,
    writers: &HashMap<(Key, RegisterValue), Writer>,
    edges: &mut [BTreeMap<usize, &'static str>],
    anomalies: &mut Vec<String>,
) {
    for (&key, &value) in final_values {
        let Some(last) = writers.get(&(key, value)) else {
            anomalies.push(format!("garbage final value: key {key} holds {value}, never written"));
            continue;
        };
        for (transaction, operations) in history.iter().enumerate() {
            let wrote_key =
                operations.iter().any(|operation| matches!(operation, Operation::Write { key: other, .. } if *other == key));
            if wrote_key && transaction != last.transaction {
                edges[transaction].entry(last.transaction).or_insert("ww (final value)");
            }
        }
    }
}

/// A cycle in the graph, written `T1 -wr-> T4 -ww-> T1`, if there is one. Iterative depth-first
/// search with three colours, so deep histories cannot overflow the stack.
fn find_cycle(edges: &[BTreeMap<usize, &'static str>]) -> Option<String> {
    #[derive(Clone, Copy, PartialEq)]
    enum Colour {
        Unvisited,
        OnPath,
        Done,
    }
    let mut colour = vec![Colour::Unvisited; edges.len()];
    for start in 0..edges.len() {
        if colour[start] != Colour::Unvisited {
            continue;
        }
        // The path from `start`, each with the iterator over its remaining successors.
        let mut path = vec![(start, edges[start].iter())];
        colour[start] = Colour::OnPath;
        while let Some((node, successors)) = path.last_mut() {
            let node = *node;
            match successors.next() {
                Some((&next, _)) if colour[next] == Colour::OnPath => {
                    let position = path.iter().position(|(on_path, _)| *on_path == next).unwrap();
                    let mut cycle: Vec<usize> =
                        path[position..].iter().map(|(id, _)| *id).collect();
                    cycle.push(next);
                    return Some(
                        cycle
                            .windows(2)
                            .map(|pair| format!("T{} -{}-> ", pair[0], edges[pair[0]][&pair[1]]))
                            .collect::<String>()
                            + &format!("T{next}"),
                    );
                }
                Some((&next, _)) if colour[next] == Colour::Unvisited => {
                    colour[next] = Colour::OnPath;
                    path.push((next, edges[next].iter()));
                }
                Some(_) => {}
                None => {
                    colour[node] = Colour::Done;
                    path.pop();
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn history(transactions: &[Value]) -> Vec<Vec<Operation>> {
        transactions.iter().map(parse).collect()
    }

    #[test]
    fn a_read_committed_history_has_no_anomalies() {
        let history = history(&[
            json!([["w", 1, 10], ["w", 2, 20]]),
            json!([["r", 1, 10], ["w", 1, 11], ["r", 1, 11]]),
            json!([["r", 2, 20], ["r", 1, null]]),
        ]);
        let anomalies = check(&history, &BTreeMap::from([(1, 11), (2, 20)]));
        assert!(anomalies.is_empty(), "expected none, got {anomalies:?}");
    }

    #[test]
    fn reading_an_intermediate_write_is_g1b() {
        let history = history(&[json!([["w", 1, 10], ["w", 1, 11]]), json!([["r", 1, 10]])]);
        let anomalies = check(&history, &BTreeMap::new());
        assert!(
            anomalies.iter().any(|text| text.starts_with("G1b")),
            "expected G1b: {anomalies:?}"
        );
    }

    #[test]
    fn reading_a_value_never_written_is_a_garbage_read() {
        let anomalies = check(&history(&[json!([["r", 1, 99]])]), &BTreeMap::new());
        assert!(anomalies.iter().any(|text| text.starts_with("garbage read")), "{anomalies:?}");
    }

    #[test]
    fn two_transactions_reading_each_others_writes_is_g1c() {
        let history =
            history(&[json!([["w", 1, 10], ["r", 2, 20]]), json!([["w", 2, 20], ["r", 1, 10]])]);
        let anomalies = check(&history, &BTreeMap::new());
        assert!(
            anomalies.iter().any(|text| text.starts_with("G0/G1c")),
            "expected a cycle: {anomalies:?}"
        );
    }

    #[test]
    fn writes_ordered_both_ways_on_two_keys_is_g0() {
        // T0 and T1 both write keys 1 and 2; key 1 ends with T1's value and key 2 with T0's.
        let history =
            history(&[json!([["w", 1, 10], ["w", 2, 20]]), json!([["w", 1, 11], ["w", 2, 21]])]);
        let anomalies = check(&history, &BTreeMap::from([(1, 11), (2, 20)]));
        assert!(
            anomalies.iter().any(|text| text.starts_with("G0/G1c")),
            "expected a cycle: {anomalies:?}"
        );
    }

    #[test]
    fn a_transaction_not_seeing_its_own_write_is_internally_inconsistent() {
        let history = history(&[json!([["w", 1, 10], ["r", 1, null]])]);
        let anomalies = check(&history, &BTreeMap::new());
        assert!(anomalies.iter().any(|text| text.starts_with("internal")), "{anomalies:?}");
    }
}
