//! `CONFIG ...` and `COMMAND ...`: the node describing its settings and its commands.
//!
//! Parsing here is only about shape; the values of CONFIG SET are validated by the server's
//! parameter table, which knows each parameter's type, and COMMAND's lookups read the command
//! table when they run.

use bytes::Bytes;

use super::{control, Control};
use crate::command::{is_keyword, Args, Argument, Command, CommandError, CommandSpec};

#[derive(Clone, Debug, PartialEq)]
pub enum ConfigCommand {
    Get {
        patterns: Vec<Bytes>,
    },
    /// Parameter/value pairs, in request order.
    Set {
        pairs: Vec<(Bytes, Bytes)>,
    },
    ResetStat,
    Rewrite,
    Help,
}

#[derive(Clone, Debug, PartialEq)]
pub enum IntrospectionCommand {
    /// COMMAND alone, or COMMAND INFO with no names: every command.
    Info {
        names: Vec<Bytes>,
    },
    Docs {
        names: Vec<Bytes>,
    },
    Count,
    List {
        filter: Option<CommandListFilter>,
    },
    /// The whole command whose keys are wanted, name first.
    GetKeys {
        arguments: Vec<Bytes>,
        with_flags: bool,
    },
    Help,
}

#[derive(Clone, Debug, PartialEq)]
pub enum CommandListFilter {
    Module(Bytes),
    AclCategory(Bytes),
    Pattern(Bytes),
}

const ADMIN_FLAGS: &[&str] = &["admin", "noscript", "loading", "stale"];
const ADMIN_CATEGORIES: &[&str] = &["@admin", "@slow", "@dangerous"];
const COMMAND_FLAGS: &[&str] = &["loading", "stale"];
const COMMAND_CATEGORIES: &[&str] = &["@slow", "@connection"];
const MULTIPLE_PARAMETERS: &str = "O(N) when N is the number of configuration parameters provided";
const ALL_COMMANDS: &str = "O(N) where N is the total number of Redis commands";
const LOOKED_UP: &str = "O(N) where N is the number of commands to look up";
const HELP_SUMMARY: &str = "Show helpful text about the different subcommands";

pub(super) const CONFIG_CONTAINER: CommandSpec = CommandSpec::new("config", -2, no_subcommand)
    .categories(&["@slow"])
    .docs(
        "server",
        "A container for server configuration commands",
        "2.0.0",
        "Depends on subcommand.",
    )
    .subcommands(CONFIG_SUBCOMMANDS);

static CONFIG_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("config|get", -3, parse_config_get)
        .flags(ADMIN_FLAGS)
        .categories(ADMIN_CATEGORIES)
        .docs("server", "Get the values of configuration parameters", "2.0.0", MULTIPLE_PARAMETERS)
        .arguments(&[Argument::block("parameter", &[Argument::string("parameter")]).multiple()]),
    CommandSpec::new("config|set", -4, parse_config_set)
        .flags(ADMIN_FLAGS)
        .categories(ADMIN_CATEGORIES)
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .docs(
            "server",
            "Set configuration parameters to the given values",
            "2.0.0",
            MULTIPLE_PARAMETERS,
        )
        .arguments(&[Argument::block(
            "parameter_value",
            &[Argument::string("parameter"), Argument::string("value")],
        )
        .multiple()]),
    CommandSpec::new("config|resetstat", 2, parse_config_resetstat)
        .flags(ADMIN_FLAGS)
        .categories(ADMIN_CATEGORIES)
        .docs("server", "Reset the stats returned by INFO", "2.0.0", "O(1)"),
    CommandSpec::new("config|rewrite", 2, parse_config_rewrite)
        .flags(ADMIN_FLAGS)
        .categories(ADMIN_CATEGORIES)
        .docs(
            "server",
            "Rewrite the configuration file with the in memory configuration",
            "2.8.0",
            "O(1)",
        ),
    CommandSpec::new("config|help", 2, parse_config_help)
        .flags(COMMAND_FLAGS)
        .categories(&["@slow"])
        .docs("server", HELP_SUMMARY, "5.0.0", "O(1)"),
];

pub(super) const COMMAND_CONTAINER: CommandSpec = CommandSpec::new("command", -1, parse_command)
    .flags(COMMAND_FLAGS)
    .categories(COMMAND_CATEGORIES)
    .tips(&["nondeterministic_output_order"])
    .docs("server", "Get array of Redis command details", "2.8.13", ALL_COMMANDS)
    .subcommands(COMMAND_SUBCOMMANDS);

static COMMAND_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("command|info", -2, parse_command_info)
        .flags(COMMAND_FLAGS)
        .categories(COMMAND_CATEGORIES)
        .tips(&["nondeterministic_output_order"])
        .docs(
            "server",
            "Get array of specific Redis command details, or all when no argument is given.",
            "2.8.13",
            LOOKED_UP,
        )
        .arguments(&[Argument::string("command-name").optional().multiple()]),
    CommandSpec::new("command|docs", -2, parse_command_docs)
        .flags(COMMAND_FLAGS)
        .categories(COMMAND_CATEGORIES)
        .tips(&["nondeterministic_output_order"])
        .docs("server", "Get array of specific Redis command documentation", "7.0.0", LOOKED_UP)
        .arguments(&[Argument::string("command-name").optional().multiple()]),
    CommandSpec::new("command|count", 2, parse_command_count)
        .flags(COMMAND_FLAGS)
        .categories(COMMAND_CATEGORIES)
        .docs("server", "Get total number of Redis commands", "2.8.13", "O(1)"),
    CommandSpec::new("command|list", -2, parse_command_list)
        .flags(COMMAND_FLAGS)
        .categories(COMMAND_CATEGORIES)
        .tips(&["nondeterministic_output_order"])
        .docs("server", "Get an array of Redis command names", "7.0.0", ALL_COMMANDS)
        .arguments(&[Argument::one_of(
            "filterby",
            &[
                Argument::string("module-name").token("MODULE"),
                Argument::string("category").token("ACLCAT"),
                Argument::new("pattern", crate::command::ArgumentKind::Pattern).token("PATTERN"),
            ],
        )
        .token("FILTERBY")
        .optional()]),
    CommandSpec::new("command|getkeys", -4, parse_command_getkeys)
        .flags(COMMAND_FLAGS)
        .categories(COMMAND_CATEGORIES)
        .docs(
            "server",
            "Extract keys given a full Redis command",
            "2.8.13",
            "O(N) where N is the number of arguments to the command",
        )
        .arguments(GETKEYS_ARGUMENTS),
    CommandSpec::new("command|getkeysandflags", -4, parse_command_getkeysandflags)
        .flags(COMMAND_FLAGS)
        .categories(COMMAND_CATEGORIES)
        .docs(
            "server",
            "Extract keys and access flags given a full Redis command",
            "7.0.0",
            "O(N) where N is the number of arguments to the command",
        )
        .arguments(GETKEYS_ARGUMENTS),
    CommandSpec::new("command|help", 2, parse_command_help)
        .flags(COMMAND_FLAGS)
        .categories(COMMAND_CATEGORIES)
        .docs("server", HELP_SUMMARY, "5.0.0", "O(1)"),
];

static GETKEYS_ARGUMENTS: &[Argument] =
    &[Argument::string("command"), Argument::string("arg").optional().multiple()];

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
