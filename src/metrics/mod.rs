//! Counters the node keeps about itself, reported by INFO (and later `/metrics`).
//!
//! Connection tasks count into a private [`LocalCommandStats`] while they execute a batch and
//! merge it into the shared [`CommandStats`] once per batch, so the hot path takes no shared
//! lock per command.
//!
//! Error replies are counted by their code as INFO errorstats shows them: every error reply a
//! client receives, elements of an EXEC reply included, under the first word of its message
//! (`ERR`, `WRONGTYPE`, `EXECABORT`, ...), or under `ERR` when the message has no space in its
//! first 32 bytes, as Redis 7.0 does. At most [`ERROR_CODES_MAX`] distinct codes are kept: a
//! script can make up any code, and the table must not grow without bound. A code beyond them
//! still counts in `total_error_replies`, not on a line of its own.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use parking_lot::Mutex;

/// The counters INFO commandstats shows for one command.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommandCounters {
    /// Executions, failed ones included; rejected ones are counted apart.
    pub calls: u64,
    /// Microseconds spent executing; for a write, its share of the time from proposal to reply.
    pub microseconds: u64,
    /// Refused before execution (wrong arity).
    pub rejected_calls: u64,
    /// Executed with an error reply.
    pub failed_calls: u64,
}

impl CommandCounters {
    fn add(&mut self, other: &CommandCounters) {
        self.calls += other.calls;
        self.microseconds += other.microseconds;
        self.rejected_calls += other.rejected_calls;
        self.failed_calls += other.failed_calls;
    }
}

/// How one command execution ended, for the counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Executed, with a reply that is not an error.
    Succeeded,
    /// Executed, with an error reply.
    Failed,
    /// Refused before execution (wrong arity).
    Rejected,
}

/// The most distinct error codes INFO errorstats keeps (the number Redis 7.2 keeps too).
pub const ERROR_CODES_MAX: usize = 128;

/// How far into an error message its code may end, as in Redis.
const ERROR_CODE_BYTES_MAX: usize = 32;

/// A connection's counts for the batch it is executing.
#[derive(Debug, Default)]
pub struct LocalCommandStats {
    counters: HashMap<&'static str, CommandCounters>,
    errors: HashMap<Box<str>, u64>,
}

impl LocalCommandStats {
    /// Counts one execution of `command` that took `elapsed`.
    pub fn record(&mut self, command: &'static str, elapsed: Duration, outcome: Outcome) {
        let counters = self.counters.entry(command).or_default();
        match outcome {
            Outcome::Rejected => counters.rejected_calls += 1,
            Outcome::Succeeded | Outcome::Failed => {
                counters.calls += 1;
                counters.microseconds += elapsed.as_micros() as u64;
                counters.failed_calls += u64::from(outcome == Outcome::Failed);
            }
        }
    }

    /// Counts one error reply with message `message` (without the leading `-`).
    pub fn record_error(&mut self, message: &str) {
        let code = error_code(message);
        match self.errors.get_mut(code) {
            Some(count) => *count += 1,
            None => {
                self.errors.insert(code.into(), 1);
            }
        }
    }
}

/// The code an error reply is counted under.
fn error_code(message: &str) -> &str {
    let head = &message.as_bytes()[..message.len().min(ERROR_CODE_BYTES_MAX)];
    match head.iter().position(|byte| *byte == b' ') {
        // A space is ASCII, so the code ends on a character boundary.
        Some(end) => &message[..end],
        None => "ERR",
    }
}

#[derive(Debug, Default)]
struct ErrorCounts {
    by_code: BTreeMap<Box<str>, u64>,
    total: u64,
}

/// Per-command counters for the whole node.
#[derive(Debug, Default)]
pub struct CommandStats {
    counters: Mutex<BTreeMap<&'static str, CommandCounters>>,
    errors: Mutex<ErrorCounts>,
}

impl CommandStats {
    /// Adds a connection's batch counts and empties them.
    pub fn merge(&self, local: &mut LocalCommandStats) {
        if !local.counters.is_empty() {
            let mut counters = self.counters.lock();
            for (command, counts) in local.counters.drain() {
                counters.entry(command).or_default().add(&counts);
            }
        }
        if !local.errors.is_empty() {
            let mut errors = self.errors.lock();
            for (code, count) in local.errors.drain() {
                errors.total += count;
                let room = errors.by_code.len() < ERROR_CODES_MAX;
                match errors.by_code.get_mut(&code) {
                    Some(counted) => *counted += count,
                    None if room => {
                        errors.by_code.insert(code, count);
                    }
                    None => {}
                }
            }
        }
    }

    /// Error replies by code, by code name (INFO errorstats).
    pub fn errors(&self) -> Vec<(Box<str>, u64)> {
        let errors = self.errors.lock();
        errors.by_code.iter().map(|(code, count)| (code.clone(), *count)).collect()
    }

    /// Every error reply counted (INFO stats `total_error_replies`).
    pub fn total_errors(&self) -> u64 {
        self.errors.lock().total
    }

    /// Every command's counters, by name.
    pub fn snapshot(&self) -> Vec<(&'static str, CommandCounters)> {
        self.counters.lock().iter().map(|(name, counters)| (*name, *counters)).collect()
    }

    /// The sum of calls over all commands.
    pub fn total_calls(&self) -> u64 {
        self.counters.lock().values().map(|counters| counters.calls).sum()
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        self.counters.lock().clear();
        *self.errors.lock() = ErrorCounts::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_counts_add_up_per_command() {
        let stats = CommandStats::default();
        let mut local = LocalCommandStats::default();
        local.record("get", Duration::from_micros(3), Outcome::Succeeded);
        local.record("get", Duration::from_micros(2), Outcome::Failed);
        local.record("set", Duration::ZERO, Outcome::Rejected);
        stats.merge(&mut local);
        stats.merge(&mut local);
        let snapshot = stats.snapshot();
        assert_eq!(
            snapshot,
            vec![
                (
                    "get",
                    CommandCounters {
                        calls: 2,
                        microseconds: 5,
                        rejected_calls: 0,
                        failed_calls: 1
                    }
                ),
                (
                    "set",
                    CommandCounters {
                        calls: 0,
                        microseconds: 0,
                        rejected_calls: 1,
                        failed_calls: 0
                    }
                ),
            ]
        );
    }

    #[test]
    fn errors_count_under_their_first_word_or_err() {
        let stats = CommandStats::default();
        let mut local = LocalCommandStats::default();
        local.record_error("WRONGTYPE Operation against a key holding the wrong kind of value");
        local.record_error("ERR syntax error");
        local.record_error("lower case");
        local.record_error("nospace");
        local.record_error("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 past the 32nd byte");
        stats.merge(&mut local);
        local.record_error("ERR again");
        stats.merge(&mut local);
        let errors: Vec<(String, u64)> =
            stats.errors().into_iter().map(|(code, count)| (code.into(), count)).collect();
        let expected = [("ERR", 4), ("WRONGTYPE", 1), ("lower", 1)];
        assert_eq!(errors, expected.map(|(code, count)| (code.to_string(), count)));
        assert_eq!(stats.total_errors(), 6);
        stats.reset();
        assert_eq!((stats.errors(), stats.total_errors()), (Vec::new(), 0));
    }

    #[test]
    fn distinct_error_codes_are_bounded_but_all_errors_are_counted() {
        let stats = CommandStats::default();
        let mut local = LocalCommandStats::default();
        for code in 0..ERROR_CODES_MAX + 10 {
            local.record_error(&format!("C{code} made up by a script"));
            stats.merge(&mut local);
        }
        local.record_error("C0 again");
        stats.merge(&mut local);
        let errors = stats.errors();
        assert_eq!(errors.len(), ERROR_CODES_MAX);
        assert!(errors.contains(&("C0".into(), 2)), "a kept code still counts");
        assert_eq!(stats.total_errors(), ERROR_CODES_MAX as u64 + 11);
    }
}
