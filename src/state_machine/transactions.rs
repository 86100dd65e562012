//! Execution of a transaction (EXEC) inside apply, and what WATCH records for it.
//!
//! A [`Transaction`] is one request of one entry. Apply first decides the watches: if any
//! watched key is not what WATCH saw, the reply is the null array and nothing runs. Otherwise
//! every step runs in order on the live keyspace at the entry's time, reads included, and the
//! reply is the array of their replies; a step that fails (WRONGTYPE, ...) has its error in the
//! array and the others still run, as in Redis. No reader sees a state between two steps,
//! because views are published only between entries.
//!
//! What WATCH sees of a key ([`watch`]) is its version (the log index of its last change), or
//! its absence, plus its database's contents version (see `Db::contents_version`). At apply
//! the key is unchanged when all of these hold:
//! - it is present with the same version, or absent as it was: a write stamps a new version,
//!   even one that leaves the same value (as Redis's SET touches a key), while TOUCH and
//!   commands that fail or change nothing do not; a key that expired since is absent, so it
//!   counts as changed, as in Redis;
//! - if SWAPDB exchanged its database since, it was absent then and is absent now.
//!   Redis's FLUSHDB and FLUSHALL conflict exactly with the watched keys that existed; the
//!   version check gives the same answer.
//!
//! Caveat, a deliberate difference from Redis: a key absent at WATCH that is created and
//! deleted again before EXEC (or brought in and taken away again by two SWAPDBs) does not fail
//! EXEC; Redis fails it. What the transaction saw (the key absent) still holds, so the outcome
//! is the same as if it had run right after WATCH; detecting it would need a tombstone for
//! every deleted key.

#[cfg(test)]
mod tests;

use crate::command::transactions::{Operation, Transaction, WatchedKey};
use crate::command::{DbIndex, Key, Write};
use crate::resp::Frame;
use crate::store::{Entry, Keyspace};

use super::{execute_read_as, execute_write, ApplyContext};

/// What WATCH records of `key` in database `db` of a view, at the view's read time.
pub fn watch(keyspace: &Keyspace, db: DbIndex, key: Key, now_ms: u64) -> WatchedKey {
    let database = keyspace.db(db);
    let version = database.get(&key, now_ms).map(Entry::version);
    WatchedKey { db, key, version, contents_version: database.contents_version() }
}

/// Applies an EXEC: the null array if a watched key changed, else the array of the steps'
/// replies.
pub(super) fn execute(
    keyspace: &mut Keyspace,
    context: &ApplyContext,
    transaction: &Transaction,
) -> Frame {
    if !transaction.watched.iter().all(|watched| is_unchanged(keyspace, context.now_ms, watched)) {
        return Frame::NullArray;
    }
    let replies = transaction
        .steps
        .iter()
        .enumerate()
        .map(|(step_index, step)| match &step.operation {
            Operation::Read(read) => {
                execute_read_as(keyspace, step.db, context.now_ms, read, context.script_user)
            }
            // The log is input: a transaction nested in one (which the server never builds) is
            // answered with an error on every replica alike, not a panic.
            Operation::Write(Write::Transaction(_)) => {
                crate::command::transactions::NESTED_MULTI.to_frame()
            }
            Operation::Write(write) => {
                execute_write(keyspace, step.db, &context.for_step(step_index), write)
            }
        })
        .collect();
    Frame::Array(replies)
}

/// Whether a watched key is still what WATCH saw (see the module docs).
fn is_unchanged(keyspace: &Keyspace, now_ms: u64, watched: &WatchedKey) -> bool {
    let database = keyspace.db(watched.db);
    let version = database.get(&watched.key, now_ms).map(Entry::version);
    if database.contents_version() != watched.contents_version {
        return version.is_none() && watched.version.is_none();
    }
    version == watched.version
}

/// Whether a transaction may leave a whole database for the previous view to free.
pub(super) fn may_free_a_database(transaction: &Transaction) -> bool {
    transaction.steps.iter().any(|step| match &step.operation {
        Operation::Write(write) => super::may_free_a_database(write),
        Operation::Read(_) => false,
    })
}
