//! Tests of the linearizability checker in `tests/support/linearizability/`: hand-written histories
//! known to be linearizable or not, histories generated from a simulated linearizable register
//! (which must pass) and the same histories with one read made stale (which must fail), and a
//! history of the size the cluster tests record.
//!
//! Hand-written histories use one key, `k`, unless a test is about keys, and times in ms.

mod support;

use std::time::Instant;

use support::linearizability::{
    check, check_with_limits, Call, CheckError, History, Limits, Operation, Outcome, Report,
    Violation,
};

const NS_PER_MS: u64 = 1_000_000;

fn operation(client: u64, call: Call, outcome: Outcome, from_ms: u64, to_ms: u64) -> Operation {
    Operation {
        client,
        key: "k".to_string(),
        call,
        outcome,
        invoked_ns: from_ms * NS_PER_MS,
        completed_ns: Some(to_ms * NS_PER_MS),
    }
}

fn write(client: u64, value: &str, from_ms: u64, to_ms: u64) -> Operation {
    operation(client, Call::Write(value.to_string()), Outcome::Written, from_ms, to_ms)
}

fn delete(client: u64, from_ms: u64, to_ms: u64) -> Operation {
    operation(client, Call::Delete, Outcome::Written, from_ms, to_ms)
}

fn read(client: u64, observed: Option<&str>, from_ms: u64, to_ms: u64) -> Operation {
    let outcome = Outcome::Read(observed.map(str::to_string));
    operation(client, Call::Read, outcome, from_ms, to_ms)
}

fn cas_call(expected: Option<&str>, new: &str) -> Call {
    Call::Cas { expected: expected.map(str::to_string), new: new.to_string() }
}

fn cas(client: u64, expected: Option<&str>, new: &str, succeeded: bool) -> CasBuilder {
    CasBuilder { client, call: cas_call(expected, new), succeeded }
}

struct CasBuilder {
    client: u64,
    call: Call,
    succeeded: bool,
}

impl CasBuilder {
    fn at(self, from_ms: u64, to_ms: u64) -> Operation {
        let outcome = if self.succeeded { Outcome::CasSucceeded } else { Outcome::CasFailed };
        operation(self.client, self.call, outcome, from_ms, to_ms)
    }
}

/// An operation whose client never learned the result, invoked at `from_ms`.
fn unknown(client: u64, call: Call, from_ms: u64) -> Operation {
    Operation {
        outcome: Outcome::Unknown,
        completed_ns: None,
        ..operation(client, call, Outcome::Unknown, from_ms, from_ms)
    }
}

fn on_key(key: &str, operation: Operation) -> Operation {
    Operation { key: key.to_string(), ..operation }
}

fn assert_linearizable(operations: &[Operation]) -> Report {
    match check(operations) {
        Ok(report) => report,
        Err(error) => panic!("expected a linearizable history, got:{error:?}"),
    }
}

fn assert_not_linearizable(operations: &[Operation]) -> Violation {
    match check(operations) {
        Err(CheckError::NotLinearizable(violation)) => violation,
        Err(error) => panic!("expected a violation, got:{error:?}"),
        Ok(report) => panic!("expected a violation, but the history passed: {report:?}"),
    }
}

#[test]
fn a_sequential_history_that_reads_its_own_writes_is_linearizable() {
    let report = assert_linearizable(&[
        read(1, None, 0, 1),
        write(1, "a", 2, 3),
        read(2, Some("a"), 4, 5),
        write(2, "b", 6, 7),
        read(1, Some("b"), 8, 9),
        delete(1, 10, 11),
        read(2, None, 12, 13),
    ]);
    assert_eq!((report.keys, report.operations, report.unknown_operations), (1, 7, 0));
    assert!(report.states_explored >= 7, "each operation is a state: {report:?}");
}

#[test]
fn a_read_of_a_value_nobody_wrote_is_a_violation() {
    assert_not_linearizable(&[write(1, "a", 0, 1), read(2, Some("z"), 2, 3)]);
}

#[test]
fn a_read_that_misses_a_completed_write_is_a_violation() {
    // Write 1 completes, then a read that starts later still sees the old value.
    assert_not_linearizable(&[
        write(1, "old", 0, 1),
        write(1, "new", 2, 3),
        read(2, Some("old"), 4, 5),
    ]);
    assert_not_linearizable(&[write(1, "new", 0, 1), read(2, None, 2, 3)]);
}

#[test]
fn a_read_concurrent_with_a_write_may_see_either_value() {
    assert_linearizable(&[write(1, "a", 0, 1), write(1, "b", 2, 10), read(2, Some("a"), 3, 4)]);
    assert_linearizable(&[write(1, "a", 0, 1), write(1, "b", 2, 10), read(2, Some("b"), 3, 4)]);
}

#[test]
fn concurrent_writes_are_ordered_by_what_later_reads_see() {
    // Only the order a, then b fits: the reads see a, then b, then b again.
    let writes = [write(1, "a", 0, 100), write(2, "b", 0, 100)];
    let mut linearizable = writes.to_vec();
    linearizable.extend([
        read(3, Some("a"), 10, 20),
        read(3, Some("b"), 30, 40),
        read(3, Some("b"), 200, 210),
    ]);
    assert_linearizable(&linearizable);
    // Seeing a after b needs a to take effect twice.
    let mut violation = writes.to_vec();
    violation.extend([
        read(3, Some("a"), 10, 20),
        read(3, Some("b"), 30, 40),
        read(3, Some("a"), 50, 60),
    ]);
    assert_not_linearizable(&violation);
}

#[test]
fn a_read_seeing_the_old_value_after_another_read_saw_the_new_one_is_a_violation() {
    // The new-old inversion: both reads overlap the write, but the second starts after the
    // first completed, so it cannot see an older value.
    assert_not_linearizable(&[
        write(1, "old", 0, 1),
        write(1, "new", 5, 100),
        read(2, Some("new"), 10, 20),
        read(3, Some("old"), 30, 40),
    ]);
}

#[test]
fn two_clients_seeing_two_writes_in_opposite_orders_is_a_violation() {
    assert_not_linearizable(&[
        write(1, "a", 0, 100),
        write(2, "b", 0, 100),
        read(3, Some("a"), 10, 20),
        read(3, Some("b"), 30, 40),
        read(4, Some("b"), 10, 20),
        read(4, Some("a"), 30, 40),
    ]);
}

#[test]
fn compare_and_set_outcomes_must_agree_with_the_value() {
    assert_linearizable(&[
        write(1, "a", 0, 1),
        cas(2, Some("a"), "b", true).at(2, 3),
        cas(3, Some("a"), "c", false).at(4, 5),
        cas(3, None, "c", false).at(6, 7),
        read(1, Some("b"), 8, 9),
        delete(1, 10, 11),
        cas(2, None, "d", true).at(12, 13),
        read(1, Some("d"), 14, 15),
    ]);
    // Two sequential compare-and-sets from the same value cannot both succeed.
    assert_not_linearizable(&[
        write(1, "a", 0, 1),
        cas(2, Some("a"), "b", true).at(2, 3),
        cas(3, Some("a"), "c", true).at(4, 5),
    ]);
    // A failed compare-and-set observed that the value was not `expected`.
    assert_not_linearizable(&[write(1, "a", 0, 1), cas(2, Some("a"), "b", false).at(2, 3)]);
    assert_not_linearizable(&[cas(2, None, "b", false).at(2, 3)]);
}

#[test]
fn a_failed_compare_and_set_may_take_effect_while_a_concurrent_write_holds_another_value() {
    assert_linearizable(&[
        write(1, "a", 0, 1),
        write(3, "z", 20, 30),
        cas(2, Some("a"), "b", false).at(10, 40),
        write(3, "a", 50, 60),
        read(1, Some("a"), 70, 80),
    ]);
}

#[test]
fn an_unknown_write_may_be_seen_by_a_later_read_or_never() {
    let unknown_write = unknown(1, Call::Write("x".to_string()), 0);
    assert_linearizable(&[unknown_write.clone(), read(2, Some("x"), 100, 110)]);
    assert_linearizable(&[unknown_write.clone(), read(2, None, 100, 110)]);
    // It may also take effect long after its invocation.
    assert_linearizable(&[unknown_write, read(2, None, 100, 110), read(2, Some("x"), 200, 210)]);
}

#[test]
fn operations_whose_intervals_touch_are_concurrent() {
    // The clock cannot order a completion and an invocation at the same nanosecond.
    assert_linearizable(&[write(1, "a", 0, 10), read(2, None, 10, 20)]);
}

#[test]
fn an_unknown_write_of_a_value_someone_else_also_wrote_may_never_have_happened() {
    // "a" is seen before the Unknown write of "a" is invoked, which is fine: the completed
    // write explains it, so the Unknown one must not be assumed to have happened by then.
    assert_linearizable(&[
        write(1, "a", 0, 1),
        read(2, Some("a"), 2, 3),
        write(1, "b", 4, 5),
        unknown(3, Call::Write("a".to_string()), 6),
        read(2, Some("b"), 10, 11),
    ]);
}

#[test]
fn unknown_writes_nobody_observes_may_be_needed_by_a_failed_compare_and_set() {
    // The failed compare-and-set needs the value to differ from "a" at some moment inside its
    // interval; only the Unknown write of an unobserved value can have made it so.
    assert_linearizable(&[
        write(1, "a", 0, 1),
        unknown(2, Call::Write("unobserved".to_string()), 2),
        cas(3, Some("a"), "c", false).at(10, 20),
        write(1, "a", 30, 31),
        read(3, Some("a"), 40, 41),
    ]);
    assert_not_linearizable(&[
        write(1, "a", 0, 1),
        cas(3, Some("a"), "c", false).at(10, 20),
        write(1, "a", 30, 31),
    ]);
}

#[test]
fn an_unknown_write_does_not_excuse_a_read_of_a_value_nobody_wrote() {
    assert_not_linearizable(&[
        unknown(1, Call::Write("x".to_string()), 0),
        read(2, Some("y"), 100, 110),
    ]);
}

#[test]
fn after_an_unknown_write_is_seen_the_old_value_cannot_come_back() {
    assert_not_linearizable(&[
        write(1, "old", 0, 1),
        unknown(1, Call::Write("new".to_string()), 2),
        read(2, Some("new"), 10, 20),
        read(2, Some("old"), 30, 40),
    ]);
}

#[test]
fn a_value_seen_before_its_unknown_write_was_invoked_is_a_violation() {
    assert_not_linearizable(&[
        read(2, Some("x"), 10, 20),
        unknown(1, Call::Write("x".to_string()), 30),
    ]);
}

#[test]
fn unknown_writes_of_repeated_values_and_unknown_compare_and_sets_are_placed_only_if_needed() {
    // Values repeat (as in Maelstrom's lin-kv), so the unknown writes cannot be pinned to one
    // reader; the failed compare-and-set keeps every unknown write in the search.
    assert_linearizable(&[
        write(1, "1", 0, 1),
        unknown(2, Call::Write("2".to_string()), 2),
        unknown(3, Call::Write("1".to_string()), 3),
        read(4, Some("2"), 10, 11),
        cas(4, Some("2"), "3", false).at(12, 13),
        read(4, Some("1"), 14, 15),
        unknown(5, cas_call(Some("1"), "4"), 16),
        read(4, Some("4"), 20, 21),
        unknown(5, Call::Delete, 22),
        read(4, Some("4"), 30, 31),
    ]);
    // Once "4" is read, the unknown compare-and-set took effect; "1" cannot be read again
    // unless an unknown write of "1" took effect after it, and none was invoked after it.
    assert_not_linearizable(&[
        write(1, "1", 0, 1),
        unknown(5, cas_call(Some("1"), "4"), 16),
        cas(4, Some("9"), "3", false).at(17, 18),
        read(4, Some("4"), 20, 21),
        read(4, Some("1"), 30, 31),
    ]);
}

#[test]
fn keys_are_checked_independently() {
    // On one key this would be a stale read; on two keys each history is trivially fine.
    assert_linearizable(&[on_key("k1", write(1, "a", 0, 1)), on_key("k2", read(2, None, 2, 3))]);
    let violation = assert_not_linearizable(&[
        on_key("k1", write(1, "a", 0, 1)),
        on_key("k1", read(2, Some("a"), 2, 3)),
        on_key("k2", write(1, "b", 0, 1)),
        on_key("k2", read(2, None, 2, 3)),
    ]);
    assert_eq!(violation.key, "k2");
    assert_eq!(violation.operations_on_key, 2);
}

#[test]
fn a_violation_shows_the_key_the_prefix_and_the_operations_that_could_not_follow_it() {
    let violation = assert_not_linearizable(&[
        write(1, "a", 0, 1),
        write(7, "b", 2, 3),
        read(9, Some("a"), 4, 5),
    ]);
    assert_eq!(violation.prefix_length, 2, "{violation}");
    assert_eq!(violation.value_after_prefix.as_deref(), Some("b"), "{violation}");
    assert_eq!(violation.next_candidates, vec![read(9, Some("a"), 4, 5)], "{violation}");
    let text = violation.to_string();
    for expected in
        ["key \"k\"", "client   7: write \"b\" => ok", "client   9: read => \"a\"", "4.000"]
    {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn a_search_over_its_state_limit_is_an_error_not_a_pass() {
    // Twelve concurrent writes, then a read of a value none of them wrote: refuting it means
    // trying every order of the writes, far more than 50 states.
    let mut operations: Vec<Operation> =
        (0..12).map(|client| write(client, &format!("v{client}"), 0, 100)).collect();
    operations.push(read(12, Some("nobody's"), 200, 210));
    let limits = Limits { states_max_per_key: 50 };
    match check_with_limits(&operations, &limits) {
        Err(CheckError::TooLarge { key, states_explored, .. }) => {
            assert_eq!(key, "k");
            assert!(states_explored > 50);
        }
        other => panic!("expected TooLarge, got {:?}", other.map_err(|error| error.to_string())),
    }
}

#[test]
fn the_recorder_times_operations_and_records_abandoned_ones_as_unknown() {
    let history = History::new();
    history.invoke(1, "k", Call::Write("a".to_string())).complete(Outcome::Written);
    drop(history.invoke(2, "k", Call::Write("b".to_string())));
    history.invoke(3, "k", Call::Write("c".to_string())).discard();
    let clone = history.clone();
    std::thread::spawn(move || clone.invoke(4, "k", Call::Read).complete(Outcome::Read(None)))
        .join()
        .unwrap();
    let operations = history.operations();
    let clients: Vec<u64> = operations.iter().map(|operation| operation.client).collect();
    assert_eq!(clients, [1, 2, 4], "the discarded operation is not recorded");
    assert!(operations[0].completed_ns.unwrap() >= operations[0].invoked_ns);
    assert_eq!((&operations[1].outcome, operations[1].completed_ns), (&Outcome::Unknown, None));
    // Whatever the abandoned write of "b" did, "a" was written before the read started, so
    // reading nothing is stale; the recorded history must show that.
    assert_not_linearizable(&operations);
}

/// A xorshift64* generator: tiny, and reproducible from a seed printed on failure.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// The shape of a generated history.
#[derive(Clone, Copy, Debug)]
struct Shape {
    operations: usize,
    keys: usize,
    clients: usize,
    unknown_percent: u64,
    /// `None`: every written value is unique. `Some(n)`: values repeat, drawn from n.
    value_pool: Option<u64>,
}

/// A generated operation with the moment it took effect in the simulated register.
struct Simulated {
    operation: Operation,
    /// `None`: an Unknown operation that never took effect.
    effect_ns: Option<u64>,
}

/// Runs a linearizable register: clients issue operations one at a time with random
/// intervals; each takes effect at a random moment inside its interval (or, for some Unknown
/// ones, never), and outcomes are computed in the order of those moments.
fn simulate(seed: u64, shape: Shape) -> Vec<Simulated> {
    let mut rng = Rng::new(seed);
    let mut client_free_ns = vec![0u64; shape.clients];
    let mut written: Vec<Vec<String>> = vec![Vec::new(); shape.keys];
    let mut simulated = Vec::with_capacity(shape.operations);
    for index in 0..shape.operations {
        let client = (0..shape.clients).min_by_key(|&client| client_free_ns[client]).unwrap();
        let key = rng.below(shape.keys as u64) as usize;
        let value = match shape.value_pool {
            Some(pool) => format!("v{}", rng.below(pool)),
            None => format!("v{index}"),
        };
        let call = match rng.below(10) {
            0..=3 => Call::Read,
            4..=6 => Call::Write(value.clone()),
            7 => Call::Delete,
            _ => {
                let recent = &written[key][written[key].len().saturating_sub(3)..];
                let choice = rng.below(recent.len() as u64 + 1) as usize;
                Call::Cas { expected: recent.get(choice).cloned(), new: value.clone() }
            }
        };
        if matches!(call, Call::Write(_) | Call::Cas { .. }) {
            written[key].push(value);
        }
        let invoked_ns = client_free_ns[client] + rng.below(200_000);
        let duration_ns =
            10_000 + if rng.percent(5) { rng.below(5_000_000) } else { rng.below(1_000_000) };
        let completed_ns = invoked_ns + duration_ns;
        client_free_ns[client] = completed_ns;
        let is_unknown = rng.percent(shape.unknown_percent);
        let effect_ns =
            (!is_unknown || rng.percent(50)).then(|| invoked_ns + rng.below(duration_ns + 1));
        let operation = Operation {
            client: client as u64,
            key: format!("key{key}"),
            call,
            outcome: Outcome::Unknown,
            invoked_ns,
            completed_ns: (!is_unknown).then_some(completed_ns),
        };
        simulated.push(Simulated { operation, effect_ns });
    }
    apply_in_effect_order(&mut simulated);
    simulated
}

/// Fills in the outcomes of known operations by applying every operation that took effect in
/// the order it did.
fn apply_in_effect_order(simulated: &mut [Simulated]) {
    let mut order: Vec<usize> =
        (0..simulated.len()).filter(|&i| simulated[i].effect_ns.is_some()).collect();
    order.sort_by_key(|&i| simulated[i].effect_ns);
    let mut registers: std::collections::HashMap<String, Option<String>> = Default::default();
    for index in order {
        let operation = &mut simulated[index].operation;
        let value = registers.entry(operation.key.clone()).or_default();
        let outcome = match &operation.call {
            Call::Read => Outcome::Read(value.clone()),
            Call::Write(new) => {
                *value = Some(new.clone());
                Outcome::Written
            }
            Call::Delete => {
                *value = None;
                Outcome::Written
            }
            Call::Cas { expected, new } if value == expected => {
                *value = Some(new.clone());
                Outcome::CasSucceeded
            }
            Call::Cas { .. } => Outcome::CasFailed,
        };
        if operation.completed_ns.is_some() {
            operation.outcome = outcome;
        }
    }
}

fn operations_of(simulated: &[Simulated]) -> Vec<Operation> {
    simulated.iter().map(|simulated| simulated.operation.clone()).collect()
}

/// Makes one completed read return a value it cannot have seen, and says which. With unique
/// values, the preferred mutation is a stale read: a value whose completed writer finished
/// before a completed overwrite began, which itself finished before the read began. Otherwise
/// the read returns a value nobody wrote.
fn corrupt_one_read(seed: u64, operations: &mut [Operation], unique_values: bool) -> String {
    let mut rng = Rng::new(seed ^ 0xDEAD_BEEF);
    let reads: Vec<usize> = (0..operations.len())
        .filter(|&i| operations[i].call == Call::Read && operations[i].completed_ns.is_some())
        .collect();
    assert!(!reads.is_empty(), "seed {seed}: the history has no completed read");
    let start = rng.below(reads.len() as u64) as usize;
    for offset in 0..reads.len() {
        let read_index = reads[(start + offset) % reads.len()];
        let stale = if unique_values { stale_value_for(operations, read_index) } else { None };
        if let Some(stale) = stale {
            operations[read_index].outcome = Outcome::Read(Some(stale.clone()));
            return format!("stale read of {stale:?}: {:?}", operations[read_index]);
        }
    }
    let read_index = reads[start];
    operations[read_index].outcome = Outcome::Read(Some("never written".to_string()));
    format!("read of a value nobody wrote: {:?}", operations[read_index])
}

/// A value the read at `read_index` cannot see, if its key's history proves one (see
/// `corrupt_one_read`).
fn stale_value_for(operations: &[Operation], read_index: usize) -> Option<String> {
    let read = &operations[read_index];
    let completed_writers: Vec<&Operation> = operations
        .iter()
        .filter(|operation| operation.key == read.key && operation.completed_ns.is_some())
        .filter(|operation| matches!(operation.outcome, Outcome::Written | Outcome::CasSucceeded))
        .collect();
    for overwrite in &completed_writers {
        if overwrite.completed_ns? >= read.invoked_ns {
            continue;
        }
        for earlier in &completed_writers {
            let value = match &earlier.call {
                Call::Write(value) | Call::Cas { new: value, .. } => value,
                _ => continue,
            };
            if earlier.completed_ns? < overwrite.invoked_ns
                && read.outcome != Outcome::Read(Some(value.clone()))
            {
                return Some(value.clone());
            }
        }
    }
    None
}

const SMALL: Shape =
    Shape { operations: 1_500, keys: 4, clients: 10, unknown_percent: 5, value_pool: None };

#[test]
fn histories_of_a_simulated_linearizable_register_pass() {
    let shapes = [
        SMALL,
        Shape { value_pool: Some(5), ..SMALL },
        Shape { operations: 600, unknown_percent: 20, ..SMALL },
    ];
    for shape in shapes {
        for seed in 1..=12 {
            let operations = operations_of(&simulate(seed, shape));
            if let Err(error) = check(&operations) {
                panic!("seed {seed}, {shape:?}: a linearizable history failed:{error:?}");
            }
        }
    }
}

#[test]
fn a_simulated_history_with_one_corrupted_read_fails() {
    let shapes = [SMALL, Shape { value_pool: Some(5), ..SMALL }];
    for shape in shapes {
        for seed in 1..=12 {
            let mut operations = operations_of(&simulate(seed, shape));
            let mutation = corrupt_one_read(seed, &mut operations, shape.value_pool.is_none());
            match check(&operations) {
                Err(CheckError::NotLinearizable(_)) => {}
                other => panic!(
                    "seed {seed}, {shape:?}: expected a violation after the {mutation}, got {:?}",
                    other.map_err(|error| error.to_string())
                ),
            }
        }
    }
}

#[test]
fn a_history_of_twenty_thousand_operations_is_decided() {
    let shape =
        Shape { operations: 20_000, keys: 20, clients: 30, unknown_percent: 3, value_pool: None };
    for (seed, shape) in [(7, shape), (8, Shape { value_pool: Some(5), keys: 50, ..shape })] {
        let operations = operations_of(&simulate(seed, shape));
        let started = Instant::now();
        let report =
            check(&operations).unwrap_or_else(|error| panic!("seed {seed}, {shape:?}:{error:?}"));
        eprintln!("seed {seed}, {shape:?}: {report:?} in {:?}", started.elapsed());
        assert_eq!(report.operations, 20_000);
    }
}
