//! `SLOWLOG ...`: the node's log of slow commands (see `server::slowlog`).

use super::{control, Control};
use crate::command::redis_metadata;
use crate::command::{parse_i64, Args, Command, CommandError, CommandSpec};

/// A `SLOWLOG` subcommand.
#[derive(Clone, Debug, PartialEq)]
pub enum SlowLogCommand {
    /// `SLOWLOG GET [count]`: the newest entries, newest first.
    Get {
        /// How many entries at most; `None` for every one (`-1`).
        count: Option<usize>,
    },
    /// `SLOWLOG LEN`: how many entries the log holds.
    Len,
    /// `SLOWLOG RESET`: empty the log.
    Reset,
    /// `SLOWLOG HELP`.
    Help,
}

/// How many entries `SLOWLOG GET` replies with when given no count, as in Redis.
pub const GET_COUNT_DEFAULT: usize = 10;

pub(super) const CONTAINER: CommandSpec =
    CommandSpec::new(&redis_metadata::SLOWLOG, no_subcommand).subcommands(SUBCOMMANDS);

static SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new(&redis_metadata::SLOWLOG_GET, parse_get),
    CommandSpec::new(&redis_metadata::SLOWLOG_LEN, parse_len),
    CommandSpec::new(&redis_metadata::SLOWLOG_RESET, parse_reset),
    CommandSpec::new(&redis_metadata::SLOWLOG_HELP, parse_help),
];

/// The container alone is caught by its arity (-2) before this could run.
fn no_subcommand(_args: &mut Args) -> Result<Command, CommandError> {
    Err(CommandError::WrongArity("slowlog".into()))
}

fn slowlog(command: SlowLogCommand) -> Result<Command, CommandError> {
    control(Control::SlowLog(command))
}

/// Redis takes any integer from -1 up as the count, -1 meaning every entry, and answers
/// anything else, a non-number included, with the same line.
fn parse_get(args: &mut Args) -> Result<Command, CommandError> {
    let count = match args.rest().as_slice() {
        [] => Some(GET_COUNT_DEFAULT),
        [count] => match parse_i64(count) {
            Some(-1) => None,
            Some(count) if count >= 0 => Some(usize::try_from(count).unwrap_or(usize::MAX)),
            _ => {
                return Err(CommandError::other("ERR count should be greater than or equal to -1"))
            }
        },
        _ => return Err(CommandError::SubcommandMisused { command: "slowlog", subcommand: None }),
    };
    slowlog(SlowLogCommand::Get { count })
}

fn parse_len(_args: &mut Args) -> Result<Command, CommandError> {
    slowlog(SlowLogCommand::Len)
}

fn parse_reset(_args: &mut Args) -> Result<Command, CommandError> {
    slowlog(SlowLogCommand::Reset)
}

fn parse_help(_args: &mut Args) -> Result<Command, CommandError> {
    slowlog(SlowLogCommand::Help)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::control::tests::parse_control;

    #[test]
    fn get_takes_one_count_from_minus_one_up() {
        let get = |count| Ok(Control::SlowLog(SlowLogCommand::Get { count }));
        assert_eq!(parse_control(&["SLOWLOG", "GET"]), get(Some(10)));
        assert_eq!(parse_control(&["slowlog", "get", "-1"]), get(None));
        assert_eq!(parse_control(&["SLOWLOG", "GET", "0"]), get(Some(0)));
        let refused = Err("ERR count should be greater than or equal to -1".to_string());
        for count in ["-2", "abc", "1.5", "+1", "99999999999999999999"] {
            assert_eq!(parse_control(&["SLOWLOG", "GET", count]), refused);
        }
        assert_eq!(
            parse_control(&["SLOWLOG", "get", "1", "2"]),
            Err("ERR unknown subcommand or wrong number of arguments for 'get'. Try SLOWLOG HELP."
                .into())
        );
        assert_eq!(
            parse_control(&["SLOWLOG", "LEN", "x"]),
            Err("ERR wrong number of arguments for 'slowlog|len' command".into())
        );
    }
}
