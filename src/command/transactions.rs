//! The transaction family: MULTI, EXEC, DISCARD, WATCH and UNWATCH, and [`Transaction`], the
//! one log request an EXEC becomes.
//!
//! The five commands are connection commands ([`Control::Transaction`](super::control::Control::Transaction)): the server keeps a
//! connection's queue and its watched keys, and never sends MULTI or WATCH to the log. What
//! reaches the log is the EXEC: one [`Transaction`] that carries every queued keyspace command
//! (reads included) with the database it runs in, and every watched key with what WATCH saw
//! of it. The state machine applies it as one request of one entry, so it is atomic and
//! isolated on every replica, and decides the watches there, on the live keyspace, at the
//! entry's time.
//!
//! What WATCH saw of a key is its version (the log index of its last change) or its absence,
//! and the version at which its database's contents were last exchanged by SWAPDB, which
//! changes a key without stamping it. The state machine fills these in (it owns versions); this
//! module only carries them.
//!
//! Deliberately absent: queueing and execution. The server queues; the state machine executes.

use serde::{Deserialize, Serialize};

use super::{Args, Command, CommandError, CommandSpec, DbIndex, Key};
use super::{Read, Write};
use crate::command::redis_metadata;

/// A transaction command as a client sends it.
#[derive(Clone, Debug, PartialEq)]
pub enum TransactionCommand {
    /// `MULTI`: start queueing the connection's commands.
    Multi,
    /// `EXEC`: send the queue to the log as one `Transaction`, unless a watched key changed.
    Exec,
    /// `DISCARD`: drop the queue and every watch.
    Discard,
    /// `WATCH key [key ...]`, in the connection's database.
    Watch {
        /// The keys to watch, in argument order.
        keys: Vec<Key>,
    },
    /// `UNWATCH`: forget every watched key of the connection.
    Unwatch,
}

/// What an EXEC asks the state machine to do: check the watched keys, then run the steps in
/// order on the live keyspace, all in one request of one entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transaction {
    /// The keys under WATCH at EXEC; if any changed since, no step runs and EXEC replies nil.
    pub watched: Vec<WatchedKey>,
    /// The queued commands, in the order they were queued.
    pub steps: Vec<Step>,
}

/// A key under WATCH and what WATCH saw of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchedKey {
    /// The database the key was watched in.
    pub db: DbIndex,
    /// The key watched.
    pub key: Key,
    /// The key's version, or `None` if it did not exist (or had expired).
    pub version: Option<u64>,
    /// The version at which the database's contents were last exchanged by SWAPDB.
    pub contents_version: u64,
}

/// One queued keyspace command and the database it runs in (a SELECT queued before it in the
/// same transaction changes that database).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The database it runs in.
    pub db: DbIndex,
    /// The queued command itself.
    pub operation: Operation,
}

/// A queued keyspace command: a read runs at the transaction's place in the log, like a write.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Operation {
    /// A queued read (GET, ...), answered from the live keyspace between the writes.
    Read(Read),
    /// A queued write.
    Write(Write),
}

/// EXEC's reply when a command was refused while queueing.
pub const EXEC_ABORTED: CommandError =
    CommandError::other("EXECABORT Transaction discarded because of previous errors.");
/// EXEC's reply on a connection that is not in MULTI.
pub const EXEC_WITHOUT_MULTI: CommandError = CommandError::other("ERR EXEC without MULTI");
/// DISCARD's reply on a connection that is not in MULTI.
pub const DISCARD_WITHOUT_MULTI: CommandError = CommandError::other("ERR DISCARD without MULTI");
/// MULTI's reply on a connection already in MULTI.
pub const NESTED_MULTI: CommandError = CommandError::other("ERR MULTI calls can not be nested");
/// WATCH's reply inside MULTI, where it is refused at once rather than queued.
pub const WATCH_INSIDE_MULTI: CommandError =
    CommandError::other("ERR WATCH inside MULTI is not allowed");
/// The reply to a command flagged `no_multi` (SHUTDOWN, ...) sent inside MULTI.
pub const NOT_ALLOWED_IN_MULTI: CommandError =
    CommandError::other("ERR Command not allowed inside a transaction");

/// EXEC's reply when EXEC itself was refused inside MULTI (a wrong argument count): the reason
/// without its code, after Redis's fixed words. The transaction is discarded.
pub fn exec_refused(reason: &CommandError) -> CommandError {
    let text = reason.to_string();
    let reason = text.strip_prefix("ERR ").unwrap_or(&text);
    CommandError::Other(format!("EXECABORT Transaction discarded because of: {reason}").into())
}

/// The transaction commands, each with its metadata and parser.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(&redis_metadata::MULTI, parse_multi),
    CommandSpec::new(&redis_metadata::EXEC, parse_exec),
    CommandSpec::new(&redis_metadata::DISCARD, parse_discard),
    CommandSpec::new(&redis_metadata::WATCH, parse_watch),
    CommandSpec::new(&redis_metadata::UNWATCH, parse_unwatch),
];

fn transaction(command: TransactionCommand) -> Result<Command, CommandError> {
    Ok(command.into())
}

fn parse_multi(_args: &mut Args) -> Result<Command, CommandError> {
    transaction(TransactionCommand::Multi)
}

fn parse_exec(_args: &mut Args) -> Result<Command, CommandError> {
    transaction(TransactionCommand::Exec)
}

fn parse_discard(_args: &mut Args) -> Result<Command, CommandError> {
    transaction(TransactionCommand::Discard)
}

fn parse_watch(args: &mut Args) -> Result<Command, CommandError> {
    transaction(TransactionCommand::Watch { keys: args.rest() })
}

fn parse_unwatch(_args: &mut Args) -> Result<Command, CommandError> {
    transaction(TransactionCommand::Unwatch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::control::Control;
    use crate::command::parse;
    use bytes::Bytes;

    fn parse_words(words: &[&str]) -> Result<Command, String> {
        let arguments = words.iter().map(|word| Bytes::copy_from_slice(word.as_bytes())).collect();
        parse(arguments).map_err(|error| error.to_string())?.command.map_err(|e| e.to_string())
    }

    #[test]
    fn the_five_commands_are_connection_commands() {
        assert_eq!(
            parse_words(&["multi"]),
            Ok(Command::Control(Control::Transaction(TransactionCommand::Multi)))
        );
        assert_eq!(
            parse_words(&["WATCH", "a", "b"]),
            Ok(Command::Control(Control::Transaction(TransactionCommand::Watch {
                keys: vec![Bytes::from("a"), Bytes::from("b")]
            })))
        );
        assert_eq!(
            parse_words(&["EXEC", "x"]),
            Err("ERR wrong number of arguments for 'exec' command".into())
        );
        assert_eq!(
            parse_words(&["WATCH"]),
            Err("ERR wrong number of arguments for 'watch' command".into())
        );
    }

    #[test]
    fn a_refused_exec_names_the_reason_without_its_code() {
        let reason = CommandError::WrongArity("exec".into());
        assert_eq!(
            exec_refused(&reason).to_string(),
            "EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' \
             command"
        );
    }
}
