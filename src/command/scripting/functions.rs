//! Redis 7.0 functions as typed commands: FUNCTION LOAD | LIST | DELETE | DUMP | RESTORE |
//! FLUSH | STATS | KILL | HELP, FCALL and FCALL_RO.
//!
//! The libraries are replicated state (`store::functions`), so every FUNCTION subcommand that
//! changes them is a write through the log, and those that read them (LIST, DUMP, STATS) are
//! reads of a view. FCALL is a write: one request of one entry that names the function and
//! carries its arguments, run by apply on every replica, as EVALSHA is. FCALL_RO is a read.
//! An FCALL of a function flagged `no-writes` is still parsed as a write here, because only the
//! libraries know the flag; the connection runs it on a view instead when the libraries say
//! the function cannot write (see `server::connection`).
//!
//! Invariants:
//! - The numkeys checks of FCALL are made where the function is looked up (in the state
//!   machine), because Redis answers "Function not found" before it looks at numkeys.
//!
//! Deliberately absent: running anything (the state machine does), and FUNCTION KILL finding a
//! function to kill (see `state_machine::scripting`).

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{ScriptControl, ScriptRead, ScriptWrite};
use crate::command::redis_metadata;
use crate::command::{is_keyword, Args, Command, CommandError, CommandSpec, Read, Write};

/// A function to call and its arguments, as FCALL and FCALL_RO name them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    /// The function's name.
    pub function: Bytes,
    /// Everything after the name: numkeys, the keys, the other arguments (checked where the
    /// function is found).
    pub arguments: Vec<Bytes>,
}

/// What FUNCTION RESTORE does with the libraries already loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestorePolicy {
    /// Keep them; a library or function name in both is an error (the default).
    Append,
    /// Keep them, but a library of the same name is replaced.
    Replace,
    /// Drop them all first.
    Flush,
}

/// A function command that goes through the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FunctionWrite {
    /// FCALL of a function that may write.
    Call(FunctionCall),
    /// `FUNCTION LOAD [REPLACE] code`: replies the library's name.
    Load {
        /// The library's code, its `#!lua name=...` line first.
        code: Bytes,
        /// Whether a library of the same name is replaced rather than an error.
        replace: bool,
    },
    /// `FUNCTION DELETE library`.
    Delete {
        /// The library's name.
        library: Bytes,
    },
    /// `FUNCTION FLUSH [ASYNC|SYNC]`: both modes are the same here.
    Flush,
    /// `FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]`.
    Restore {
        /// A FUNCTION DUMP payload (checked in apply, with Redis's errors).
        payload: Bytes,
        /// What happens to the libraries already loaded.
        policy: RestorePolicy,
    },
}

/// A function command that only reads: it runs on a view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FunctionRead {
    /// FCALL_RO, or FCALL of a `no-writes` function: writes are refused.
    Call {
        /// The function and its arguments.
        call: FunctionCall,
        /// Whether the client sent FCALL_RO, which refuses a function without `no-writes`.
        read_only_command: bool,
    },
    /// `FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]`.
    List {
        /// Only the libraries whose name matches this glob pattern.
        pattern: Option<Bytes>,
        /// Whether each library's code is in the reply.
        with_code: bool,
    },
    /// `FUNCTION DUMP`.
    Dump,
    /// `FUNCTION STATS`.
    Stats,
}

/// FUNCTION HELP's lines, as Redis 7.0 prints them.
pub const HELP: &[&str] = &[
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
];

/// The function commands, each with its metadata and parser.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(&redis_metadata::FCALL, parse_fcall),
    CommandSpec::new(&redis_metadata::FCALL_RO, parse_fcall_ro),
    CommandSpec::new(&redis_metadata::FUNCTION, no_subcommand).subcommands(FUNCTION_SUBCOMMANDS),
];

static FUNCTION_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new(&redis_metadata::FUNCTION_LOAD, parse_load),
    CommandSpec::new(&redis_metadata::FUNCTION_LIST, parse_list),
    CommandSpec::new(&redis_metadata::FUNCTION_DELETE, parse_delete),
    CommandSpec::new(&redis_metadata::FUNCTION_DUMP, parse_dump),
    CommandSpec::new(&redis_metadata::FUNCTION_RESTORE, parse_restore),
    CommandSpec::new(&redis_metadata::FUNCTION_FLUSH, parse_flush),
    CommandSpec::new(&redis_metadata::FUNCTION_STATS, parse_stats),
    CommandSpec::new(&redis_metadata::FUNCTION_KILL, parse_kill),
    CommandSpec::new(&redis_metadata::FUNCTION_HELP, parse_help),
];

fn write(write: FunctionWrite) -> Command {
    Command::Write(Write::Script(ScriptWrite::Function(write)))
}

fn read(read: FunctionRead) -> Command {
    Command::Read(Read::Script(ScriptRead::Function(read)))
}

/// The container alone is caught by its arity (-2) before this could run.
fn no_subcommand(_args: &mut Args) -> Result<Command, CommandError> {
    Err(CommandError::WrongArity("function".into()))
}

/// The reply Redis gives a subcommand with arguments it does not take.
fn misused() -> CommandError {
    CommandError::SubcommandMisused { command: "function", subcommand: None }
}

fn parse_call(args: &mut Args) -> Result<FunctionCall, CommandError> {
    let function = args.next_bytes()?;
    Ok(FunctionCall { function, arguments: args.rest() })
}

fn parse_fcall(args: &mut Args) -> Result<Command, CommandError> {
    Ok(write(FunctionWrite::Call(parse_call(args)?)))
}

fn parse_fcall_ro(args: &mut Args) -> Result<Command, CommandError> {
    Ok(read(FunctionRead::Call { call: parse_call(args)?, read_only_command: true }))
}

/// `[REPLACE] code`: every argument but the last is an option, as Redis reads them.
fn parse_load(args: &mut Args) -> Result<Command, CommandError> {
    let mut replace = false;
    while args.remaining() > 1 {
        let option = args.next_bytes()?;
        if !is_keyword(&option, "replace") {
            let text = format!("ERR Unknown option given: {}", String::from_utf8_lossy(&option));
            return Err(CommandError::Other(text.into()));
        }
        replace = true;
    }
    let code = args.next_bytes()?;
    Ok(write(FunctionWrite::Load { code, replace }))
}

fn parse_list(args: &mut Args) -> Result<Command, CommandError> {
    let mut pattern = None;
    let mut with_code = false;
    while let Some(argument) = args.try_next() {
        if !with_code && is_keyword(&argument, "withcode") {
            with_code = true;
        } else if pattern.is_none() && is_keyword(&argument, "libraryname") {
            let Some(given) = args.try_next() else {
                return Err(CommandError::other("ERR library name argument was not given"));
            };
            pattern = Some(given);
        } else {
            let text = format!("ERR Unknown argument {}", String::from_utf8_lossy(&argument));
            return Err(CommandError::Other(text.into()));
        }
    }
    Ok(read(FunctionRead::List { pattern, with_code }))
}

fn parse_delete(args: &mut Args) -> Result<Command, CommandError> {
    let library = args.next_bytes()?;
    args.finish()?;
    Ok(write(FunctionWrite::Delete { library }))
}

fn parse_dump(args: &mut Args) -> Result<Command, CommandError> {
    args.finish()?;
    Ok(read(FunctionRead::Dump))
}

fn parse_restore(args: &mut Args) -> Result<Command, CommandError> {
    if args.remaining() > 2 {
        return Err(misused());
    }
    let payload = args.next_bytes()?;
    let policy =
        match args.try_next() {
            None => RestorePolicy::Append,
            Some(policy) if is_keyword(&policy, "append") => RestorePolicy::Append,
            Some(policy) if is_keyword(&policy, "replace") => RestorePolicy::Replace,
            Some(policy) if is_keyword(&policy, "flush") => RestorePolicy::Flush,
            Some(_) => return Err(CommandError::other(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            )),
        };
    Ok(write(FunctionWrite::Restore { payload, policy }))
}

fn parse_flush(args: &mut Args) -> Result<Command, CommandError> {
    if args.remaining() > 1 {
        return Err(misused());
    }
    if let Some(mode) = args.try_next() {
        if !is_keyword(&mode, "sync") && !is_keyword(&mode, "async") {
            return Err(CommandError::other("ERR FUNCTION FLUSH only supports SYNC|ASYNC option"));
        }
    }
    Ok(write(FunctionWrite::Flush))
}

fn parse_stats(args: &mut Args) -> Result<Command, CommandError> {
    args.finish()?;
    Ok(read(FunctionRead::Stats))
}

fn parse_kill(args: &mut Args) -> Result<Command, CommandError> {
    args.finish()?;
    Ok(Command::Control(ScriptControl::FunctionKill.into()))
}

fn parse_help(args: &mut Args) -> Result<Command, CommandError> {
    args.finish()?;
    Ok(Command::Control(ScriptControl::FunctionHelp.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::parse;

    fn parse_words(words: &[&str]) -> Result<Command, String> {
        let arguments = words.iter().map(|word| Bytes::copy_from_slice(word.as_bytes())).collect();
        let parsed = parse(arguments).map_err(|error| error.to_string())?;
        parsed.command.map_err(|error| error.to_string())
    }

    #[test]
    fn fcall_is_a_write_and_fcall_ro_a_read() {
        assert!(matches!(parse_words(&["FCALL", "f", "0"]), Ok(Command::Write(_))));
        assert!(matches!(parse_words(&["FCALL_RO", "f", "0"]), Ok(Command::Read(_))));
        assert!(matches!(parse_words(&["FUNCTION", "LIST"]), Ok(Command::Read(_))));
        assert!(matches!(parse_words(&["FUNCTION", "FLUSH", "async"]), Ok(Command::Write(_))));
    }

    #[test]
    fn options_are_refused_with_redis_texts() {
        assert_eq!(
            parse_words(&["FUNCTION", "LOAD", "bogus", "code"]).unwrap_err(),
            "ERR Unknown option given: bogus"
        );
        assert_eq!(
            parse_words(&["FUNCTION", "LIST", "LIBRARYNAME"]).unwrap_err(),
            "ERR library name argument was not given"
        );
        assert_eq!(
            parse_words(&["FUNCTION", "LIST", "WITHCODE", "WITHCODE"]).unwrap_err(),
            "ERR Unknown argument WITHCODE"
        );
        assert_eq!(
            parse_words(&["FUNCTION", "FLUSH", "x"]).unwrap_err(),
            "ERR FUNCTION FLUSH only supports SYNC|ASYNC option"
        );
        assert!(parse_words(&["FUNCTION", "RESTORE", "p", "FLUSH", "x"])
            .unwrap_err()
            .starts_with("ERR unknown subcommand or wrong number of arguments for 'RESTORE'"));
    }
}
