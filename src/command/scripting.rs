//! The scripting family: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT LOAD | EXISTS | FLUSH |
//! KILL | HELP, as typed commands.
//!
//! A script that may write is a [`Write::Script`]: one request of one log entry that carries
//! the script's body (EVAL) or its SHA1 (EVALSHA) with its keys and arguments, and apply runs
//! it on every replica (`state_machine::scripting`). A script that cannot write (EVAL_RO,
//! EVALSHA_RO, or an EVAL whose shebang says `flags=no-writes`) is a [`Read::Script`] that runs
//! on a read view, without a log entry. SCRIPT LOAD and SCRIPT FLUSH change the replicated
//! script cache, so they are writes too; SCRIPT EXISTS reads it.
//!
//! Invariants:
//! - A SHA carried to the state machine is 40 lowercase hexadecimal digits; anything else is
//!   answered NOSCRIPT here, before it costs a log entry, as Redis answers it.
//!
//! Deliberately absent: running scripts (the state machine does) and SCRIPT DEBUG (Concord has
//! no Lua debugger).

use bytes::Bytes;
use serde::{Deserialize, Serialize};

pub mod functions;

use super::{Args, Command, CommandError, CommandSpec, Key, Read, Write};
use crate::command::redis_metadata;

/// A script to run and what it runs on: the part of EVAL and EVALSHA after the script.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Invocation {
    /// The keys (`KEYS` inside the script).
    pub keys: Vec<Key>,
    /// The other arguments (`ARGV` inside the script).
    pub arguments: Vec<Bytes>,
}

/// Which script to run: its body, or the SHA1 of a body in the script cache.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ScriptSource {
    /// EVAL's body; running it also puts it in the script cache.
    Body(Bytes),
    /// EVALSHA's SHA1: 40 lowercase hexadecimal digits.
    Sha(Bytes),
}

/// A scripting command that goes through the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ScriptWrite {
    /// EVAL or EVALSHA of a script that may write.
    Run {
        /// The script.
        source: ScriptSource,
        /// Its keys and arguments.
        invocation: Invocation,
    },
    /// `SCRIPT LOAD body`: compile it and keep it in the cache; replies its SHA1.
    Load {
        /// The script's body.
        body: Bytes,
    },
    /// `SCRIPT FLUSH [ASYNC|SYNC]`: empty the cache (both modes are the same here).
    Flush,
    /// A FUNCTION subcommand that changes the libraries, or FCALL (see `functions`).
    Function(functions::FunctionWrite),
}

/// A scripting command that only reads: it runs on a view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ScriptRead {
    /// EVAL_RO, EVALSHA_RO, or EVAL of a `flags=no-writes` script: writes are refused.
    Run {
        /// The script.
        source: ScriptSource,
        /// Its keys and arguments.
        invocation: Invocation,
    },
    /// `SCRIPT EXISTS sha [sha ...]`: 1 or 0 for each.
    Exists {
        /// The SHAs asked about, lowercased.
        shas: Vec<Bytes>,
    },
    /// A FUNCTION subcommand that reads the libraries, or FCALL_RO (see `functions`).
    Function(functions::FunctionRead),
}

/// A scripting command the connection answers itself.
#[derive(Clone, Debug, PartialEq)]
pub enum ScriptControl {
    /// `SCRIPT KILL`: no script is ever running while a connection could ask (see the module
    /// doc of `state_machine::scripting`), so it is always NOTBUSY.
    Kill,
    /// `SCRIPT HELP`.
    Help,
    /// `FUNCTION KILL`: NOTBUSY, as SCRIPT KILL.
    FunctionKill,
    /// `FUNCTION HELP`.
    FunctionHelp,
}

/// EVALSHA's reply for a SHA the cache does not hold.
pub const NO_SCRIPT: CommandError =
    CommandError::other("NOSCRIPT No matching script. Please use EVAL.");
/// SCRIPT KILL's reply: nothing runs.
pub const NOT_BUSY: CommandError =
    CommandError::other("NOTBUSY No scripts in execution right now.");

/// SCRIPT HELP's lines, as Redis 7.0 prints them, less SCRIPT DEBUG, which Concord lacks.
pub const HELP: &[&str] = &[
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
];

/// The flags a script's shebang line (`#!lua flags=no-writes,...`) may set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScriptFlags {
    /// `no-writes`: the script may only read; it may run on a view.
    pub no_writes: bool,
}

/// A body's shebang: its flags and how many bytes of the first line to skip (the line feed
/// stays, so that line numbers in errors are the user's). A body without a shebang has the
/// defaults and nothing to skip.
pub fn shebang(body: &[u8]) -> Result<(ScriptFlags, usize), CommandError> {
    if !body.starts_with(b"#!") {
        return Ok((ScriptFlags::default(), 0));
    }
    let Some(length) = body.iter().position(|byte| *byte == b'\n') else {
        return Err(CommandError::other("ERR Invalid script shebang"));
    };
    let line = String::from_utf8_lossy(&body[..length]);
    let mut words = line.split(' ').filter(|word| !word.is_empty());
    let engine = words.next().unwrap_or_default();
    if engine != "#!lua" {
        let text = format!("ERR Unexpected engine in script shebang: {engine}");
        return Err(CommandError::Other(text.into()));
    }
    let mut flags = ScriptFlags::default();
    for option in words {
        let Some(list) = option.strip_prefix("flags=") else {
            let text = format!("ERR Unknown lua shebang option: {option}");
            return Err(CommandError::Other(text.into()));
        };
        for flag in list.split(',').filter(|flag| !flag.is_empty()) {
            match flag {
                "no-writes" => flags.no_writes = true,
                "allow-oom" | "allow-stale" | "no-cluster" | "allow-cross-slot-keys" => {}
                other => {
                    let text = format!("ERR Unexpected flag in script shebang: {other}");
                    return Err(CommandError::Other(text.into()));
                }
            }
        }
    }
    Ok((flags, length))
}

/// The scripting commands, each with its metadata and parser.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(&redis_metadata::EVAL, parse_eval),
    CommandSpec::new(&redis_metadata::EVALSHA, parse_evalsha),
    CommandSpec::new(&redis_metadata::EVAL_RO, parse_eval_ro),
    CommandSpec::new(&redis_metadata::EVALSHA_RO, parse_evalsha_ro),
    CommandSpec::new(&redis_metadata::SCRIPT, no_subcommand).subcommands(SCRIPT_SUBCOMMANDS),
];

static SCRIPT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new(&redis_metadata::SCRIPT_LOAD, parse_script_load),
    CommandSpec::new(&redis_metadata::SCRIPT_EXISTS, parse_script_exists),
    CommandSpec::new(&redis_metadata::SCRIPT_FLUSH, parse_script_flush),
    CommandSpec::new(&redis_metadata::SCRIPT_KILL, parse_script_kill),
    CommandSpec::new(&redis_metadata::SCRIPT_HELP, parse_script_help),
];

/// The container alone is caught by its arity (-2) before this could run.
fn no_subcommand(_args: &mut Args) -> Result<Command, CommandError> {
    Err(CommandError::WrongArity("script".into()))
}

/// `numkeys key... arg...`, with Redis's errors for a bad count.
fn parse_invocation(args: &mut Args) -> Result<Invocation, CommandError> {
    let count = args.next_i64()?;
    if count < 0 {
        return Err(CommandError::other("ERR Number of keys can't be negative"));
    }
    if count as u64 > args.remaining() as u64 {
        return Err(CommandError::other("ERR Number of keys can't be greater than number of args"));
    }
    let mut arguments = args.rest();
    let keys = arguments.drain(..count as usize).collect();
    Ok(Invocation { keys, arguments })
}

/// A SHA as the cache holds it: 40 lowercase hexadecimal digits, or NOSCRIPT.
fn parse_sha(sha: &[u8]) -> Result<Bytes, CommandError> {
    if sha.len() != 40 {
        return Err(NO_SCRIPT);
    }
    Ok(Bytes::from(sha.to_ascii_lowercase()))
}

fn parse_eval(args: &mut Args) -> Result<Command, CommandError> {
    let body = args.next_bytes()?;
    let invocation = parse_invocation(args)?;
    // A body whose shebang is wrong still goes to apply, which answers its error: the check
    // here only decides where it runs.
    let read_only = shebang(&body).map(|(flags, _)| flags.no_writes).unwrap_or(false);
    let source = ScriptSource::Body(body);
    Ok(if read_only {
        Command::Read(Read::Script(ScriptRead::Run { source, invocation }))
    } else {
        Command::Write(Write::Script(ScriptWrite::Run { source, invocation }))
    })
}

fn parse_evalsha(args: &mut Args) -> Result<Command, CommandError> {
    let sha = args.next_bytes()?;
    let invocation = parse_invocation(args)?;
    let source = ScriptSource::Sha(parse_sha(&sha)?);
    Ok(Command::Write(Write::Script(ScriptWrite::Run { source, invocation })))
}

fn parse_eval_ro(args: &mut Args) -> Result<Command, CommandError> {
    let source = ScriptSource::Body(args.next_bytes()?);
    let invocation = parse_invocation(args)?;
    Ok(Command::Read(Read::Script(ScriptRead::Run { source, invocation })))
}

fn parse_evalsha_ro(args: &mut Args) -> Result<Command, CommandError> {
    let sha = args.next_bytes()?;
    let invocation = parse_invocation(args)?;
    let source = ScriptSource::Sha(parse_sha(&sha)?);
    Ok(Command::Read(Read::Script(ScriptRead::Run { source, invocation })))
}

fn parse_script_load(args: &mut Args) -> Result<Command, CommandError> {
    let body = args.next_bytes()?;
    args.finish()?;
    Ok(Command::Write(Write::Script(ScriptWrite::Load { body })))
}

fn parse_script_exists(args: &mut Args) -> Result<Command, CommandError> {
    let shas = args.rest().iter().map(|sha| Bytes::from(sha.to_ascii_lowercase())).collect();
    Ok(Command::Read(Read::Script(ScriptRead::Exists { shas })))
}

fn parse_script_flush(args: &mut Args) -> Result<Command, CommandError> {
    let mode_error = || CommandError::other("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
    match args.remaining() {
        0 => {}
        1 => {
            let mode = args.next_bytes()?;
            if !super::is_keyword(&mode, "sync") && !super::is_keyword(&mode, "async") {
                return Err(mode_error());
            }
        }
        _ => return Err(mode_error()),
    }
    Ok(Command::Write(Write::Script(ScriptWrite::Flush)))
}

fn parse_script_kill(args: &mut Args) -> Result<Command, CommandError> {
    args.finish()?;
    Ok(Command::Control(ScriptControl::Kill.into()))
}

fn parse_script_help(args: &mut Args) -> Result<Command, CommandError> {
    args.finish()?;
    Ok(Command::Control(ScriptControl::Help.into()))
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
    fn eval_splits_keys_from_arguments_and_refuses_bad_counts() {
        let Ok(Command::Write(Write::Script(ScriptWrite::Run { invocation, .. }))) =
            parse_words(&["EVAL", "return 1", "1", "k", "a"])
        else {
            panic!("EVAL should be a script write");
        };
        assert_eq!(invocation.keys, vec![Bytes::from("k")]);
        assert_eq!(invocation.arguments, vec![Bytes::from("a")]);
        assert_eq!(
            parse_words(&["EVAL", "return 1", "-1"]).unwrap_err(),
            "ERR Number of keys can't be negative"
        );
        assert_eq!(
            parse_words(&["EVAL", "return 1", "2", "k"]).unwrap_err(),
            "ERR Number of keys can't be greater than number of args"
        );
        assert_eq!(
            parse_words(&["EVAL", "return 1", "x"]).unwrap_err(),
            "ERR value is not an integer or out of range"
        );
    }

    #[test]
    fn read_only_scripts_are_reads() {
        let no_writes = "#!lua flags=no-writes\nreturn 1";
        assert!(matches!(parse_words(&["EVAL", no_writes, "0"]), Ok(Command::Read(_))));
        assert!(matches!(parse_words(&["EVAL_RO", "return 1", "0"]), Ok(Command::Read(_))));
        assert!(matches!(parse_words(&["EVAL", "return 1", "0"]), Ok(Command::Write(_))));
    }

    #[test]
    fn a_sha_of_the_wrong_length_is_noscript_at_once() {
        assert_eq!(parse_words(&["EVALSHA", "abc", "0"]).unwrap_err(), NO_SCRIPT.to_string());
    }

    #[test]
    fn shebangs_are_checked_as_redis_does() {
        assert_eq!(shebang(b"return 1").unwrap(), (ScriptFlags::default(), 0));
        assert_eq!(shebang(b"#!lua\nreturn 1").unwrap().1, 5);
        assert!(shebang(b"#!lua flags=no-writes,allow-oom\nx").unwrap().0.no_writes);
        let error = |body: &[u8]| shebang(body).unwrap_err().to_string();
        assert_eq!(error(b"#!luax\n"), "ERR Unexpected engine in script shebang: #!luax");
        assert_eq!(error(b"#!lua name=x\n"), "ERR Unknown lua shebang option: name=x");
        assert_eq!(error(b"#!lua flags=bogus\n"), "ERR Unexpected flag in script shebang: bogus");
    }
}
