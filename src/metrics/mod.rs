//! Counters the node keeps about itself, reported by INFO (and later `/metrics`).
//!
//! Connection tasks count into a private [`LocalCommandStats`] while they execute a batch and
//! merge it into the shared [`CommandStats`] once per batch, so the hot path takes no shared
//! lock per command.

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

/// A connection's counts for the batch it is executing.
#[derive(Debug, Default)]
pub struct LocalCommandStats {
    counters: HashMap<&'static str, CommandCounters>,
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
}

/// Per-command counters for the whole node.
#[derive(Debug, Default)]
pub struct CommandStats {
    counters: Mutex<BTreeMap<&'static str, CommandCounters>>,
}

impl CommandStats {
    /// Adds a connection's batch counts and empties them.
    pub fn merge(&self, local: &mut LocalCommandStats) {
        if local.counters.is_empty() {
            return;
        }
        let mut counters = self.counters.lock();
        for (command, counts) in local.counters.drain() {
            counters.entry(command).or_default().add(&counts);
        }
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
}
