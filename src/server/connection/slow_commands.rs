//! SLOWLOG, and what enters it: every command that ran, once its time is known, if it took at
//! least `slowlog-log-slower-than` (see `server::slowlog` for what the time includes).
//!
//! A command enters the log as the client sent it, with Redis's exceptions: EXEC is not
//! logged (the commands it ran are, each on its own), commands refused before they ran (an
//! unknown command, a wrong argument count, NOAUTH) are not, a blocking command that timed
//! out is not, and passwords are logged as `(redacted)`: AUTH's arguments, HELLO's
//! `AUTH username password`, and CONFIG SET's values of `requirepass`, `masterauth` and
//! `masteruser`.

use std::time::Duration;

use bytes::Bytes;

use super::Connection;
use crate::command::control::SlowLogCommand;
use crate::command::{is_keyword, parse_i64, CommandFlags, CommandSpec};
use crate::resp::Frame;
use crate::server::help::{help, SLOWLOG_HELP};
use crate::server::parameters::{self, Mutability};
use crate::server::slowlog::Logged;

/// The parameters whose values CONFIG SET never shows in SLOWLOG, as Redis's sensitive ones.
const SENSITIVE_PARAMETERS: &[&str] = &["requirepass", "masterauth", "masteruser"];

impl Connection {
    /// Runs a SLOWLOG subcommand.
    pub(super) fn execute_slowlog(&self, command: SlowLogCommand) -> Frame {
        let log = &self.shared.slow_log;
        match command {
            SlowLogCommand::Get { count } => log.newest(count),
            SlowLogCommand::Len => Frame::Integer(log.len() as i64),
            SlowLogCommand::Reset => {
                log.reset();
                Frame::ok()
            }
            SlowLogCommand::Help => help(SLOWLOG_HELP),
        }
    }

    /// Logs a command that ran and took `elapsed`, if that is long enough. The threshold is
    /// one atomic load, so a command that is not slow costs nothing more.
    pub(super) fn log_if_slow(
        &self,
        spec: &'static CommandSpec,
        arguments: &[Bytes],
        elapsed: Duration,
    ) {
        let settings = &self.shared.settings;
        let Some(threshold) = settings.slowlog_threshold() else {
            return;
        };
        if elapsed < threshold || spec.has_flag(CommandFlags::SKIP_SLOWLOG) {
            return;
        }
        let redacted = redacted_positions(spec.name, arguments);
        let command = Logged {
            arguments,
            redacted: &redacted,
            client_address: self.client.peer.to_string(),
            client_name: self.client.name.lock().clone().unwrap_or_default(),
        };
        self.shared.slow_log.push(command, elapsed, settings.slowlog_max_len());
    }
}

/// The positions of the arguments (the name at 0) that SLOWLOG shows as `(redacted)`, found
/// as Redis finds them while it parses: AUTH's once their count is right, HELLO's AUTH pair
/// for each AUTH option read before any syntax error, and the value of each sensitive
/// parameter in CONFIG SET up to the first parameter it refuses by name.
pub(super) fn redacted_positions(name: &str, arguments: &[Bytes]) -> Vec<usize> {
    match name {
        "auth" if (2..=3).contains(&arguments.len()) => (1..arguments.len()).collect(),
        "hello" => hello_redacted(arguments),
        "config|set" => config_set_redacted(arguments),
        _ => Vec::new(),
    }
}

fn hello_redacted(arguments: &[Bytes]) -> Vec<usize> {
    let version_is_valid = arguments.get(1).and_then(|version| parse_i64(version));
    if arguments.len() < 2 || !matches!(version_is_valid, Some(2 | 3)) {
        return Vec::new();
    }
    let mut redacted = Vec::new();
    let mut position = 2;
    while position < arguments.len() {
        let more = arguments.len() - 1 - position;
        let option = &arguments[position];
        if is_keyword(option, "AUTH") && more >= 2 {
            redacted.extend([position + 1, position + 2]);
            position += 3;
        } else if is_keyword(option, "SETNAME") && more >= 1 {
            position += 2;
        } else {
            break;
        }
    }
    redacted
}

fn config_set_redacted(arguments: &[Bytes]) -> Vec<usize> {
    let mut redacted = Vec::new();
    for (pair, name) in arguments.iter().skip(2).step_by(2).enumerate() {
        let Some(parameter) = parameters::lookup(name) else {
            break;
        };
        if parameter.mutability != Mutability::Mutable {
            break;
        }
        if SENSITIVE_PARAMETERS.contains(&parameter.name) {
            redacted.push(2 + pair * 2 + 1);
        }
    }
    redacted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn positions(words: &[&str]) -> Vec<usize> {
        let arguments: Vec<Bytes> =
            words.iter().map(|word| Bytes::copy_from_slice(word.as_bytes())).collect();
        let parsed = crate::command::parse_request(&arguments).expect("a known command");
        redacted_positions(parsed.spec.name, &arguments)
    }

    /// What redis-server 7.0.15 showed as `(redacted)` for these same commands.
    #[test]
    fn passwords_are_redacted_where_redis_redacts_them() {
        assert_eq!(positions(&["AUTH", "secret"]), [1]);
        assert_eq!(positions(&["AUTH", "user", "secret"]), [1, 2]);
        assert!(positions(&["AUTH", "a", "b", "c"]).is_empty());
        assert_eq!(positions(&["HELLO", "2", "AUTH", "default", "secret"]), [3, 4]);
        assert_eq!(positions(&["HELLO", "2", "SETNAME", "x", "AUTH", "u", "p"]), [5, 6]);
        assert!(positions(&["HELLO", "2", "AUTH", "default"]).is_empty());
        assert!(positions(&["HELLO", "9", "AUTH", "u", "p"]).is_empty());
        assert_eq!(
            positions(&[
                "CONFIG",
                "SET",
                "masteruser",
                "x",
                "masterauth",
                "y",
                "requirepass",
                "",
                "maxclients",
                "1000"
            ]),
            [3, 5, 7]
        );
        assert!(positions(&["CONFIG", "SET", "nosuch", "1", "requirepass", "x"]).is_empty());
        assert!(positions(&["SET", "requirepass", "x"]).is_empty());
    }
}
