//! SLOWLOG: the node's most recent commands that took at least `slowlog-log-slower-than`
//! microseconds, newest first, as Redis keeps them.
//!
//! What a command's time is: what the client waited for once the command was read, without
//! the time a blocking command spent blocked. Redis measures only the execution on its one
//! thread; Concord includes what makes a write a write here, its commit (the entry on a
//! majority, fsynced), because that is what an operator looking for slow commands needs to
//! see. A pipelined batch of writes commits as one proposal, and each of its commands is
//! charged an equal share of it, as INFO commandstats does.
//!
//! Each node keeps its own log, as each Redis instance does: it describes the commands this
//! node served, and is not replicated.
//!
//! Invariants:
//! - After each entry the log holds at most `slowlog-max-len` entries: a new entry pushes
//!   out the oldest.
//! - Entry ids grow by one per entry logged since the node started; SLOWLOG RESET empties
//!   the log but keeps counting, as in Redis.
//! - An entry keeps at most [`ARGUMENTS_MAX`] arguments of at most [`ARGUMENT_BYTES_MAX`]
//!   bytes each, so a huge command costs the log a bounded copy.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::resp::Frame;

/// The most arguments an entry keeps (the name included); a longer command keeps one fewer
/// and a last argument saying how many more it had, as Redis's `SLOWLOG_ENTRY_MAX_ARGC`.
pub const ARGUMENTS_MAX: usize = 32;

/// The most bytes an entry keeps of one argument, followed by a note of how many more it had,
/// as Redis's `SLOWLOG_ENTRY_MAX_STRING`.
pub const ARGUMENT_BYTES_MAX: usize = 128;

/// What an argument hidden from the log (a password) is logged as.
pub const REDACTED: &[u8] = b"(redacted)";

/// One logged command.
#[derive(Clone, Debug, PartialEq)]
struct Entry {
    id: u64,
    unix_seconds: i64,
    duration_us: u64,
    arguments: Vec<Bytes>,
    /// `ip:port` of the client.
    client_address: String,
    /// The client's name when the command ended; empty for none.
    client_name: Bytes,
}

/// The node's slow log.
#[derive(Debug, Default)]
pub struct SlowLog {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Newest first.
    entries: VecDeque<Entry>,
    next_id: u64,
}

/// A command as the log may record it: its arguments as sent (name first) and who sent it.
pub struct Logged<'a> {
    /// The arguments as the client sent them, the name first.
    pub arguments: &'a [Bytes],
    /// Positions in `arguments` to log as `(redacted)`.
    pub redacted: &'a [usize],
    /// `ip:port` of the client.
    pub client_address: String,
    /// The client's name; empty for none.
    pub client_name: Bytes,
}

impl SlowLog {
    /// Logs `command`, which took `duration`, then drops the oldest entries beyond
    /// `entries_max`. As in Redis, a lowered `slowlog-max-len` shortens the log only here, at
    /// the next entry.
    pub fn push(&self, command: Logged<'_>, duration: Duration, entries_max: usize) {
        let unix_seconds =
            SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs() as i64);
        let arguments = trimmed_arguments(command.arguments, command.redacted);
        let mut state = self.state.lock();
        let id = state.next_id;
        state.next_id += 1;
        state.entries.push_front(Entry {
            id,
            unix_seconds,
            duration_us: u64::try_from(duration.as_micros()).unwrap_or(u64::MAX),
            arguments,
            client_address: command.client_address,
            client_name: command.client_name,
        });
        state.entries.truncate(entries_max);
    }

    /// SLOWLOG LEN.
    pub fn len(&self) -> usize {
        self.state.lock().entries.len()
    }

    /// Whether the log holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// SLOWLOG RESET: every entry dropped; ids go on from where they were.
    pub fn reset(&self) {
        self.state.lock().entries.clear();
    }

    /// SLOWLOG GET: the newest `count` entries (every entry for `None`), newest first, each as
    /// Redis replies with it: id, Unix time, microseconds, arguments, address, name.
    pub fn newest(&self, count: Option<usize>) -> Frame {
        let state = self.state.lock();
        let count = count.unwrap_or(usize::MAX).min(state.entries.len());
        Frame::Array(state.entries.iter().take(count).map(entry_frame).collect())
    }
}

fn entry_frame(entry: &Entry) -> Frame {
    Frame::Array(vec![
        Frame::Integer(i64::try_from(entry.id).unwrap_or(i64::MAX)),
        Frame::Integer(entry.unix_seconds),
        Frame::Integer(i64::try_from(entry.duration_us).unwrap_or(i64::MAX)),
        Frame::Array(entry.arguments.iter().cloned().map(Frame::Bulk).collect()),
        Frame::Bulk(Bytes::from(entry.client_address.clone())),
        Frame::Bulk(entry.client_name.clone()),
    ])
}

/// The arguments as an entry keeps them: redacted ones replaced, at most [`ARGUMENTS_MAX`]
/// of them, each at most [`ARGUMENT_BYTES_MAX`] bytes, with notes of what was cut.
fn trimmed_arguments(arguments: &[Bytes], redacted: &[usize]) -> Vec<Bytes> {
    let kept = if arguments.len() > ARGUMENTS_MAX { ARGUMENTS_MAX - 1 } else { arguments.len() };
    let mut trimmed: Vec<Bytes> = arguments[..kept]
        .iter()
        .enumerate()
        .map(|(position, argument)| {
            if redacted.contains(&position) {
                Bytes::from_static(REDACTED)
            } else {
                trimmed_argument(argument)
            }
        })
        .collect();
    if kept < arguments.len() {
        let more = arguments.len() - kept;
        trimmed.push(Bytes::from(format!("... ({more} more arguments)")));
    }
    trimmed
}

fn trimmed_argument(argument: &Bytes) -> Bytes {
    if argument.len() <= ARGUMENT_BYTES_MAX {
        return argument.clone();
    }
    let more = argument.len() - ARGUMENT_BYTES_MAX;
    let mut trimmed = argument[..ARGUMENT_BYTES_MAX].to_vec();
    trimmed.extend_from_slice(format!("... ({more} more bytes)").as_bytes());
    Bytes::from(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logged<'a>(arguments: &'a [Bytes], redacted: &'a [usize]) -> Logged<'a> {
        Logged {
            arguments,
            redacted,
            client_address: "127.0.0.1:5000".into(),
            client_name: Bytes::new(),
        }
    }

    fn words(words: &[&str]) -> Vec<Bytes> {
        words.iter().map(|word| Bytes::copy_from_slice(word.as_bytes())).collect()
    }

    fn logged_arguments(log: &SlowLog) -> Vec<Vec<Bytes>> {
        log.state.lock().entries.iter().map(|entry| entry.arguments.clone()).collect()
    }

    #[test]
    fn the_log_keeps_the_newest_entries_and_counts_ids_across_resets() {
        let log = SlowLog::default();
        for word in ["a", "b", "c"] {
            log.push(logged(&words(&["ping", word]), &[]), Duration::ZERO, 2);
        }
        assert_eq!(logged_arguments(&log), [words(&["ping", "c"]), words(&["ping", "b"])]);
        log.reset();
        assert!(log.is_empty());
        log.push(logged(&words(&["ping"]), &[]), Duration::from_micros(7), 2);
        let state = log.state.lock();
        assert_eq!((state.entries[0].id, state.entries[0].duration_us), (3, 7));
    }

    #[test]
    fn long_commands_and_arguments_are_cut_as_redis_cuts_them() {
        let many: Vec<String> = (0..33).map(|number| number.to_string()).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let trimmed = trimmed_arguments(&words(&many), &[]);
        assert_eq!(trimmed.len(), ARGUMENTS_MAX);
        assert_eq!(trimmed[30], "30");
        assert_eq!(trimmed[31], "... (2 more arguments)");
        let long = "A".repeat(129);
        let trimmed = trimmed_arguments(&words(&["set", "k", &long]), &[]);
        assert_eq!(trimmed[2], format!("{}... (1 more bytes)", "A".repeat(128)));
        let exact = "A".repeat(128);
        assert_eq!(trimmed_arguments(&words(&[&exact]), &[])[0], exact);
    }

    #[test]
    fn redacted_arguments_are_replaced() {
        let trimmed = trimmed_arguments(&words(&["auth", "user", "secret"]), &[1, 2]);
        assert_eq!(trimmed, words(&["auth", "(redacted)", "(redacted)"]));
    }
}
