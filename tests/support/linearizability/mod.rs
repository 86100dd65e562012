//! A linearizability checker for client histories of a key-value store, shared by the cluster
//! tests (real processes, injected faults) and the Maelstrom lin-kv tests.
//!
//! A test records every operation its clients invoke with a [`History`], then calls [`check`]
//! on [`History::operations`]. The model is a register per key whose value is
//! `Option<String>` (`None`: the key is absent); every key starts absent. Keys are checked
//! independently: linearizability is compositional (Herlihy & Wing's locality), so a history is
//! linearizable exactly when each key's sub-history is, and one search per key is far smaller
//! than one search over all keys.
//!
//! How to record:
//! - Call [`History::invoke`] just before sending a request and [`Pending::complete`] just
//!   after its reply arrives, so the recorded interval contains the moment the server acted.
//! - A request whose result the client never learned (a timeout, a lost connection, an
//!   "outcome unknown" error) completes with [`Outcome::Unknown`]: it may have taken effect at
//!   any moment after its invocation, or never. A [`Pending`] dropped without being completed
//!   is recorded the same way, so a cancelled or panicked client task cannot hide an operation.
//! - A request the server definitely did not apply (it said "not applied", or the request was
//!   never sent) is not part of the history: call [`Pending::discard`]. Recording it as
//!   Unknown would only weaken the check; recording it as done would be wrong.
//! - A failed compare-and-set is an observation (the value differed from `expected` at that
//!   moment), so it is recorded as [`Outcome::CasFailed`] and checked like a read.
//!
//! The search (Wing & Gong's, with Lowe's just-in-time linearization and a cache of visited
//! configurations, as in Knossos and Porcupine) lives in [`search`]; this file owns the types,
//! the recorder and the rendering of results.
//!
//! Invariants:
//! - `completed_ns` is `None` exactly when the outcome is [`Outcome::Unknown`], and an
//!   outcome always answers its call (a read gets [`Outcome::Read`], and so on). [`check`]
//!   asserts both: a malformed history is a bug in the test, not a finding about the server.
//! - [`check`] never reports success for a history it could not decide: running out of its
//!   search budget is the distinct error [`CheckError::TooLarge`], which a test must treat as
//!   a failure.
//!
//! Caveats:
//! - Times come from one `Instant` per [`History`]; histories recorded by different processes
//!   cannot be merged without a common clock.
//! - Operations whose intervals touch (one completes at the very nanosecond the next is
//!   invoked) are treated as concurrent, the lenient reading.
//! - Keys are `String`s, not bytes: the tests that use this write text keys and values.
#![allow(dead_code)]

mod search;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What a client asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    Read,
    Write(String),
    /// Makes the key absent.
    Delete,
    /// Sets `new` if the value is `expected` (`None`: the key is absent).
    Cas {
        expected: Option<String>,
        new: String,
    },
}

/// What the client learned about its call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The value a read observed (`None`: the key was absent).
    Read(Option<String>),
    /// A write or a delete took effect.
    Written,
    CasSucceeded,
    /// The value was not `expected` when the compare-and-set took effect.
    CasFailed,
    /// The client never learned the result: the call may have taken effect, or not.
    Unknown,
}

/// One recorded operation. Times are nanoseconds since the recording [`History`] was created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    pub client: u64,
    pub key: String,
    pub call: Call,
    pub outcome: Outcome,
    pub invoked_ns: u64,
    /// `None` exactly when `outcome` is [`Outcome::Unknown`].
    pub completed_ns: Option<u64>,
}

/// A thread-safe recorder of operations. Clones share one record and one time origin.
#[derive(Clone)]
pub struct History {
    shared: Arc<Recorder>,
}

struct Recorder {
    origin: Instant,
    /// A std mutex, not an async one: it is held only to push or copy, never across an await.
    operations: Mutex<Vec<Operation>>,
}

impl Default for History {
    fn default() -> Self {
        Self::new()
    }
}

impl History {
    pub fn new() -> Self {
        let recorder = Recorder { origin: Instant::now(), operations: Mutex::new(Vec::new()) };
        Self { shared: Arc::new(recorder) }
    }

    /// Starts an operation; call this just before the request is sent.
    pub fn invoke(&self, client: u64, key: impl Into<String>, call: Call) -> Pending {
        let operation = Operation {
            client,
            key: key.into(),
            call,
            outcome: Outcome::Unknown,
            invoked_ns: self.now_ns(),
            completed_ns: None,
        };
        Pending { history: self.clone(), operation: Some(operation) }
    }

    /// Every operation recorded so far, in order of invocation.
    pub fn operations(&self) -> Vec<Operation> {
        let mut operations =
            self.shared.operations.lock().expect("a recorder never panics while locked").clone();
        operations.sort_by_key(|operation| (operation.invoked_ns, operation.client));
        operations
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.shared.origin.elapsed().as_nanos()).expect("a test runs < 584 years")
    }

    fn record(&self, operation: Operation) {
        self.shared
            .operations
            .lock()
            .expect("a recorder never panics while locked")
            .push(operation);
    }
}

/// An invoked operation whose outcome is not recorded yet. Dropping it records
/// [`Outcome::Unknown`], because the request may have reached the server.
pub struct Pending {
    history: History,
    /// Always `Some` until `complete`, `discard` or `drop` takes it.
    operation: Option<Operation>,
}

impl Pending {
    /// Records the outcome; call this just after the reply arrived. [`Outcome::Unknown`]
    /// records no completion time, because the operation may take effect at any later moment.
    pub fn complete(mut self, outcome: Outcome) {
        let mut operation = self.operation.take().expect("a pending operation completes once");
        if outcome != Outcome::Unknown {
            operation.completed_ns = Some(self.history.now_ns());
        }
        operation.outcome = outcome;
        self.history.record(operation);
    }

    /// Forgets the operation: use this only when it definitely did not take effect.
    pub fn discard(mut self) {
        self.operation = None;
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(operation) = self.operation.take() {
            self.history.record(operation);
        }
    }
}

/// Bounds on the work [`check_with_limits`] may do.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Search states (new configurations reached) allowed per key before giving up. Memory
    /// grows with it: a state costs a cache entry of a few dozen bytes plus the part of the
    /// linearized-set bitset that is not a prefix of ones, which stays small when operations
    /// are placed roughly in time order.
    pub states_max_per_key: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { states_max_per_key: 2_000_000 }
    }
}

/// What a successful check covered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub keys: usize,
    pub operations: usize,
    pub unknown_operations: usize,
    pub states_explored: u64,
}

/// Why a check did not succeed. `Debug` prints the same text as `Display`, so that
/// `check(...).unwrap()` fails with a readable explanation.
pub enum CheckError {
    NotLinearizable(Violation),
    /// The search budget ran out: the history was neither proven linearizable nor refuted.
    TooLarge {
        key: String,
        operations: usize,
        states_explored: u64,
        states_max: u64,
    },
}

/// A key whose sub-history has no linearization, with the window where the search failed.
#[derive(Clone, Debug)]
pub struct Violation {
    pub key: String,
    /// Operations recorded on this key.
    pub operations_on_key: usize,
    /// How many operations the longest linearizable prefix found places.
    pub prefix_length: usize,
    /// The last operations of that prefix, in linearization order, each with the value it
    /// left behind.
    pub prefix_tail: Vec<(Operation, Option<String>)>,
    pub value_after_prefix: Option<String>,
    /// The operations that could be next in real time after that prefix; none of them can be
    /// placed there (each contradicts the value, or every continuation dead-ends).
    pub next_candidates: Vec<Operation>,
    /// The earliest invocation in the whole history, which rendered times are relative to.
    pub origin_ns: u64,
}

/// Checks `operations` (any order, any number of keys) with the default [`Limits`].
pub fn check(operations: &[Operation]) -> Result<Report, CheckError> {
    check_with_limits(operations, &Limits::default())
}

/// Checks `operations` key by key, in key order, and stops at the first key that fails.
pub fn check_with_limits(operations: &[Operation], limits: &Limits) -> Result<Report, CheckError> {
    let origin_ns = operations.iter().map(|operation| operation.invoked_ns).min().unwrap_or(0);
    let mut by_key: BTreeMap<&str, Vec<&Operation>> = BTreeMap::new();
    for operation in operations {
        assert_well_formed(operation);
        by_key.entry(operation.key.as_str()).or_default().push(operation);
    }
    let unknown_operations =
        operations.iter().filter(|operation| operation.outcome == Outcome::Unknown).count();
    let mut report = Report {
        keys: by_key.len(),
        operations: operations.len(),
        unknown_operations,
        states_explored: 0,
    };
    for (key, mut key_operations) in by_key {
        key_operations.sort_by_key(|operation| operation.invoked_ns);
        let prepared = search::prepare(&key_operations);
        match search::search(&prepared, limits.states_max_per_key) {
            search::Verdict::Linearizable { states_explored } => {
                report.states_explored += states_explored;
            }
            search::Verdict::NotLinearizable { dead_end } => {
                let violation = describe_violation(key, &key_operations, &prepared, &dead_end);
                return Err(CheckError::NotLinearizable(Violation { origin_ns, ..violation }));
            }
            search::Verdict::TooLarge { states_explored } => {
                return Err(CheckError::TooLarge {
                    key: key.to_string(),
                    operations: key_operations.len(),
                    states_explored,
                    states_max: limits.states_max_per_key,
                });
            }
        }
    }
    Ok(report)
}

/// Panics on an operation no correct recorder produces.
fn assert_well_formed(operation: &Operation) {
    let answers = matches!(
        (&operation.call, &operation.outcome),
        (_, Outcome::Unknown)
            | (Call::Read, Outcome::Read(_))
            | (Call::Write(_) | Call::Delete, Outcome::Written)
            | (Call::Cas { .. }, Outcome::CasSucceeded | Outcome::CasFailed)
    );
    assert!(answers, "malformed history: the outcome does not answer the call in {operation:?}");
    assert_eq!(
        operation.completed_ns.is_none(),
        operation.outcome == Outcome::Unknown,
        "malformed history: a completion time is required exactly for known outcomes in \
         {operation:?}"
    );
    if let Some(completed_ns) = operation.completed_ns {
        assert!(
            completed_ns >= operation.invoked_ns,
            "malformed history: completed before invoked in {operation:?}"
        );
    }
}

/// How many operations of the prefix a violation shows.
const PREFIX_TAIL_SHOWN: usize = 10;

fn describe_violation(
    key: &str,
    key_operations: &[&Operation],
    prepared: &search::Prepared,
    dead_end: &search::DeadEnd,
) -> Violation {
    let original = |candidate: usize| key_operations[prepared.source_of(candidate)].clone();
    let tail_start = dead_end.prefix.len().saturating_sub(PREFIX_TAIL_SHOWN);
    let prefix_tail = dead_end.prefix[tail_start..]
        .iter()
        .map(|&(candidate, value)| (original(candidate), prepared.value(value).clone()))
        .collect();
    Violation {
        key: key.to_string(),
        operations_on_key: key_operations.len(),
        prefix_length: dead_end.prefix.len(),
        prefix_tail,
        value_after_prefix: prepared.value(dead_end.value).clone(),
        next_candidates: dead_end.next_candidates.iter().map(|&c| original(c)).collect(),
        origin_ns: 0,
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "key {:?} is not linearizable ({} operations on it; times in ms from the first \
             invocation in the history).",
            self.key, self.operations_on_key
        )?;
        writeln!(
            f,
            "The longest linearizable prefix found places {} operations; its last {}, in \
             linearization order:",
            self.prefix_length,
            self.prefix_tail.len()
        )?;
        for (operation, value) in &self.prefix_tail {
            let line = render_operation(operation, self.origin_ns);
            writeln!(f, "  {line}  (value now {})", render_value(value))?;
        }
        writeln!(f, "Value after the prefix: {}", render_value(&self.value_after_prefix))?;
        writeln!(f, "None of these operations, next in real time, can be placed after it:")?;
        for operation in &self.next_candidates {
            writeln!(f, "  {}", render_operation(operation, self.origin_ns))?;
        }
        Ok(())
    }
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::NotLinearizable(violation) => violation.fmt(f),
            CheckError::TooLarge { key, operations, states_explored, states_max } => write!(
                f,
                "key {key:?} ({operations} operations) could not be decided: the search \
                 explored {states_explored} states, over its limit of {states_max}. This is \
                 not a pass."
            ),
        }
    }
}

impl fmt::Debug for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\n{self}")
    }
}

/// Writes a history to `path`, one operation a line, keys right-aligned in `key_width`
/// columns and times in ms from the first invocation: what a failed check leaves to read.
pub fn write_history(path: &std::path::Path, operations: &[Operation], key_width: usize) {
    let origin_ns = operations.first().map_or(0, |operation| operation.invoked_ns);
    let lines: Vec<String> = operations
        .iter()
        .map(|operation| {
            format!("{:>key_width$} {}", operation.key, render_operation(operation, origin_ns))
        })
        .collect();
    std::fs::write(path, lines.join("\n"))
        .unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
}

/// One line per operation: interval, client, call and outcome.
pub fn render_operation(operation: &Operation, origin_ns: u64) -> String {
    let milliseconds = |ns: u64| ns.saturating_sub(origin_ns) as f64 / 1e6;
    let completed = match operation.completed_ns {
        Some(completed_ns) => format!("{:>10.3}", milliseconds(completed_ns)),
        None => format!("{:>10}", "?"),
    };
    let call = match &operation.call {
        Call::Read => "read".to_string(),
        Call::Write(value) => format!("write {value:?}"),
        Call::Delete => "delete".to_string(),
        Call::Cas { expected, new } => format!("cas {} -> {new:?}", render_value(expected)),
    };
    let outcome = match &operation.outcome {
        Outcome::Read(value) => render_value(value),
        Outcome::Written => "ok".to_string(),
        Outcome::CasSucceeded => "succeeded".to_string(),
        Outcome::CasFailed => "failed".to_string(),
        Outcome::Unknown => "unknown".to_string(),
    };
    format!(
        "[{:>10.3} .. {completed}] client {:>3}: {call} => {outcome}",
        milliseconds(operation.invoked_ns),
        operation.client
    )
}

fn render_value(value: &Option<String>) -> String {
    match value {
        Some(value) => format!("{value:?}"),
        None => "absent".to_string(),
    }
}
