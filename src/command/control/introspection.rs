//! `CONFIG ...` and `COMMAND ...`: the node describing its settings and its commands.
//!
//! Parsing here is only about shape; the values of CONFIG SET are validated by the server's
//! parameter table, which knows each parameter's type, and COMMAND's lookups read the command
//! table when they run.

use bytes::Bytes;

use super::{control, Control};
use crate::command::redis_metadata;
use crate::command::{is_keyword, Args, Command, CommandError, CommandSpec};

/// A `CONFIG` subcommand: the node's runtime parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigCommand {
    /// `CONFIG GET parameter [parameter ...]`.
    Get {
        /// The glob patterns of parameter names, in argument order.
        patterns: Vec<Bytes>,
    },
    /// Parameter/value pairs, in request order.
    Set {
        /// The parameter-value pairs, unchecked: the server's parameter table validates them.
        pairs: Vec<(Bytes, Bytes)>,
    },
    /// `CONFIG RESETSTAT`: zero the command statistics and the client counters.
    ResetStat,
    /// `CONFIG REWRITE`: refused, since Concord's config file is TOML and is not rewritten.
    Rewrite,
    /// `CONFIG HELP`.
    Help,
}

/// A `COMMAND` subcommand: the node describing its command table.
#[derive(Clone, Debug, PartialEq)]
pub enum IntrospectionCommand {
    /// COMMAND alone, or COMMAND INFO with no names: every command.
    Info {
        /// The command names to describe, in argument order; an unknown one gets nil.
        names: Vec<Bytes>,
    },
    /// `COMMAND DOCS [command-name ...]`.
    Docs {
        /// The command names to document; empty for every command.
        names: Vec<Bytes>,
    },
    /// `COMMAND COUNT`: how many commands the table holds.
    Count,
    /// `COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]`.
    List {
        /// Which command names to list; `None` lists every one.
        filter: Option<CommandListFilter>,
    },
    /// The whole command whose keys are wanted, name first.
    GetKeys {
        /// The command and its arguments, as a client would send them.
        arguments: Vec<Bytes>,
        /// COMMAND GETKEYSANDFLAGS, which also gives each key's flags; `false` for COMMAND GETKEYS.
        with_flags: bool,
    },
    /// `COMMAND HELP`.
    Help,
}

/// COMMAND LIST's one `FILTERBY` filter.
#[derive(Clone, Debug, PartialEq)]
pub enum CommandListFilter {
    /// `MODULE name`: the commands of a module; Concord has none, so it lists nothing.
    Module(Bytes),
    /// `ACLCAT category`: the commands in that ACL category.
    AclCategory(Bytes),
    /// `PATTERN pattern`: the command names that match the glob pattern.
    Pattern(Bytes),
}

pub(super) const CONFIG_CONTAINER: CommandSpec =
    CommandSpec::new(&redis_metadata::CONFIG, no_subcommand).subcommands(CONFIG_SUBCOMMANDS);

static CONFIG_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new(&redis_metadata::CONFIG_GET, parse_config_get),
    CommandSpec::new(&redis_metadata::CONFIG_SET, parse_config_set),
    CommandSpec::new(&redis_metadata::CONFIG_RESETSTAT, parse_config_resetstat),
    CommandSpec::new(&redis_metadata::CONFIG_REWRITE, parse_config_rewrite),
    CommandSpec::new(&redis_metadata::CONFIG_HELP, parse_config_help),
];

pub(super) const COMMAND_CONTAINER: CommandSpec =
    CommandSpec::new(&redis_metadata::COMMAND, parse_command).subcommands(COMMAND_SUBCOMMANDS);

static COMMAND_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new(&redis_metadata::COMMAND_INFO, parse_command_info),
    CommandSpec::new(&redis_metadata::COMMAND_DOCS, parse_command_docs),
    CommandSpec::new(&redis_metadata::COMMAND_COUNT, parse_command_count),
    CommandSpec::new(&redis_metadata::COMMAND_LIST, parse_command_list),
    CommandSpec::new(&redis_metadata::COMMAND_GETKEYS, parse_command_getkeys),
    CommandSpec::new(&redis_metadata::COMMAND_GETKEYSANDFLAGS, parse_command_getkeysandflags),
    CommandSpec::new(&redis_metadata::COMMAND_HELP, parse_command_help),
];

/// The container alone is caught by its arity (-2) before this could run.
fn no_subcommand(_args: &mut Args) -> Result<Command, CommandError> {
    Err(CommandError::WrongArity("config".into()))
}

fn config(command: ConfigCommand) -> Result<Command, CommandError> {
    control(Control::Config(command))
}

fn introspection(command: IntrospectionCommand) -> Result<Command, CommandError> {
    control(Control::Command(command))
}

fn parse_config_get(args: &mut Args) -> Result<Command, CommandError> {
    config(ConfigCommand::Get { patterns: args.rest() })
}

/// An odd number of arguments after SET is a syntax error in Redis 7.0, not an arity error.
fn parse_config_set(args: &mut Args) -> Result<Command, CommandError> {
    let arguments = args.rest();
    if arguments.len() % 2 != 0 {
        return Err(CommandError::Syntax);
    }
    let pairs = arguments.chunks(2).map(|pair| (pair[0].clone(), pair[1].clone())).collect();
    config(ConfigCommand::Set { pairs })
}

fn parse_config_resetstat(_args: &mut Args) -> Result<Command, CommandError> {
    config(ConfigCommand::ResetStat)
}

fn parse_config_rewrite(_args: &mut Args) -> Result<Command, CommandError> {
    config(ConfigCommand::Rewrite)
}

fn parse_config_help(_args: &mut Args) -> Result<Command, CommandError> {
    config(ConfigCommand::Help)
}

/// COMMAND with no subcommand: every command's info. (With arguments, the first one is a
/// subcommand and `parse_subcommand` dispatches before this runs.)
fn parse_command(_args: &mut Args) -> Result<Command, CommandError> {
    introspection(IntrospectionCommand::Info { names: Vec::new() })
}

fn parse_command_info(args: &mut Args) -> Result<Command, CommandError> {
    introspection(IntrospectionCommand::Info { names: args.rest() })
}

fn parse_command_docs(args: &mut Args) -> Result<Command, CommandError> {
    introspection(IntrospectionCommand::Docs { names: args.rest() })
}

fn parse_command_count(_args: &mut Args) -> Result<Command, CommandError> {
    introspection(IntrospectionCommand::Count)
}

fn parse_command_help(_args: &mut Args) -> Result<Command, CommandError> {
    introspection(IntrospectionCommand::Help)
}

fn parse_command_list(args: &mut Args) -> Result<Command, CommandError> {
    let arguments = args.rest();
    let filter = match &arguments[..] {
        [] => None,
        [filterby, kind, value] if is_keyword(filterby, "FILTERBY") => {
            if is_keyword(kind, "MODULE") {
                Some(CommandListFilter::Module(value.clone()))
            } else if is_keyword(kind, "ACLCAT") {
                Some(CommandListFilter::AclCategory(value.clone()))
            } else if is_keyword(kind, "PATTERN") {
                Some(CommandListFilter::Pattern(value.clone()))
            } else {
                return Err(CommandError::Syntax);
            }
        }
        _ => return Err(CommandError::Syntax),
    };
    introspection(IntrospectionCommand::List { filter })
}

fn parse_command_getkeys(args: &mut Args) -> Result<Command, CommandError> {
    introspection(IntrospectionCommand::GetKeys { arguments: args.rest(), with_flags: false })
}

fn parse_command_getkeysandflags(args: &mut Args) -> Result<Command, CommandError> {
    introspection(IntrospectionCommand::GetKeys { arguments: args.rest(), with_flags: true })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::control::tests::parse_control;

    #[test]
    fn config_set_needs_pairs() {
        assert_eq!(
            parse_control(&["CONFIG", "SET", "hz"]),
            Err("ERR wrong number of arguments for 'config|set' command".into())
        );
        assert_eq!(
            parse_control(&["CONFIG", "SET", "hz", "1", "maxmemory"]),
            Err("ERR syntax error".into())
        );
        assert_eq!(
            parse_control(&["config", "set", "hz", "1"]),
            Ok(Control::Config(ConfigCommand::Set {
                pairs: vec![(Bytes::from("hz"), Bytes::from("1"))]
            }))
        );
    }

    #[test]
    fn command_alone_lists_everything_and_subcommands_dispatch() {
        assert_eq!(
            parse_control(&["COMMAND"]),
            Ok(Control::Command(IntrospectionCommand::Info { names: vec![] }))
        );
        assert_eq!(
            parse_control(&["COMMAND", "COUNT"]),
            Ok(Control::Command(IntrospectionCommand::Count))
        );
        assert_eq!(
            parse_control(&["COMMAND", "LIST", "FILTERBY", "FOO", "x"]),
            Err("ERR syntax error".into())
        );
        assert_eq!(
            parse_control(&["COMMAND", "GETKEYS", "get"]),
            Err("ERR wrong number of arguments for 'command|getkeys' command".into())
        );
    }
}
