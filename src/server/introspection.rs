//! CONFIG and COMMAND: the replies that describe the node's settings and commands.
//!
//! Reply shapes follow Redis 7.0 exactly, including its quirks: in COMMAND INFO, flags,
//! categories, tips and key specifications are sets, and the subcommands are a set when there
//! are none but an array otherwise.
//!
//! Caveats: key specifications are derived from the table's first/last/step positions (one
//! `index` + `range` spec per command with keys), and COMMAND DOCS omits `history` and
//! `doc_flags`. Commands whose arguments the table does not document have no `arguments`.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::Shared;
use crate::command::control::{CommandListFilter, ConfigCommand, IntrospectionCommand};
use crate::command::{
    all_commands, lookup, lookup_full_name, lookup_subcommand, Argument, ArgumentKind, CommandSpec,
};
use crate::resp::Frame;
use crate::store::glob_match;

pub(super) fn execute_config(shared: &Shared, command: ConfigCommand) -> Frame {
    match command {
        ConfigCommand::Get { patterns } => config_get(shared, &patterns),
        ConfigCommand::Set { pairs } => match shared.settings.set(&pairs) {
            Ok(()) => Frame::ok(),
            Err(error) => error.to_frame(),
        },
        ConfigCommand::ResetStat => {
            shared.command_stats.reset();
            shared.clients.reset_counters();
            Frame::ok()
        }
        ConfigCommand::Rewrite => match &shared.config.config_file {
            None => Frame::error("ERR The server is running without a config file"),
            Some(_) => Frame::error(
                "ERR CONFIG REWRITE is not supported yet: Concord's config file is TOML; edit it \
                 to keep runtime changes",
            ),
        },
        ConfigCommand::Help => super::control::help(CONFIG_HELP),
    }
}

/// A name without glob characters is looked up exactly (and reported as the client spelled
/// it); a pattern is matched against every name, aliases included, ignoring case. A
/// parameter appears once however many patterns match it.
fn config_get(shared: &Shared, patterns: &[Bytes]) -> Frame {
    let values = shared.settings.values();
    let mut found: BTreeMap<Vec<u8>, (Bytes, String)> = BTreeMap::new();
    for pattern in patterns {
        let is_glob = pattern.iter().any(|byte| matches!(byte, b'*' | b'?' | b'['));
        if !is_glob {
            if let Some(parameter) = super::parameters::lookup(pattern) {
                let value = values.get(parameter.name).cloned().unwrap_or_default();
                found.entry(pattern.to_ascii_lowercase()).or_insert((pattern.clone(), value));
            }
            continue;
        }
        for (name, parameter) in super::parameters::all_names() {
            if glob_match(pattern, name.as_bytes(), true) {
                let value = values.get(parameter.name).cloned().unwrap_or_default();
                found
                    .entry(name.as_bytes().to_vec())
                    .or_insert((Bytes::from_static(name.as_bytes()), value));
            }
        }
    }
    Frame::Map(
        found.into_values().map(|(name, value)| (Frame::Bulk(name), Frame::bulk(value))).collect(),
    )
}

pub(super) fn execute_command(command: IntrospectionCommand) -> Frame {
    match command {
        IntrospectionCommand::Info { names } if names.is_empty() => {
            Frame::Array(all_commands().into_iter().map(command_info).collect())
        }
        IntrospectionCommand::Info { names } => Frame::Array(
            names
                .iter()
                .map(|name| lookup_full_name(name).map_or(Frame::Null, command_info))
                .collect(),
        ),
        IntrospectionCommand::Docs { names } => {
            let specs: Vec<&'static CommandSpec> = if names.is_empty() {
                all_commands()
            } else {
                names.iter().filter_map(|name| lookup_full_name(name)).collect()
            };
            Frame::Map(
                specs
                    .into_iter()
                    .map(|spec| (Frame::bulk(spec.name), command_docs(spec)))
                    .collect(),
            )
        }
        IntrospectionCommand::Count => Frame::Integer(all_commands().len() as i64),
        IntrospectionCommand::List { filter } => command_list(filter.as_ref()),
        IntrospectionCommand::GetKeys { arguments, with_flags } => get_keys(&arguments, with_flags),
        IntrospectionCommand::Help => super::control::help(COMMAND_HELP),
    }
}

fn status_set(words: &[&str]) -> Frame {
    Frame::Set(words.iter().map(|word| Frame::Simple((*word).to_string().into())).collect())
}

/// One command's entry in COMMAND INFO.
pub(super) fn command_info(spec: &'static CommandSpec) -> Frame {
    let subcommands = if spec.subcommands.is_empty() {
        Frame::Set(Vec::new())
    } else {
        Frame::Array(spec.subcommands.iter().map(command_info).collect())
    };
    Frame::Array(vec![
        Frame::bulk(spec.name),
        Frame::Integer(i64::from(spec.arity)),
        status_set(spec.flags),
        Frame::Integer(i64::from(spec.first_key)),
        Frame::Integer(i64::from(spec.last_key)),
        Frame::Integer(i64::from(spec.key_step)),
        status_set(spec.categories),
        Frame::Set(spec.tips.iter().map(Frame::bulk).collect()),
        Frame::Set(key_specs(spec)),
        subcommands,
    ])
}

/// The key specification Redis would give a command whose keys are `first..=last` by `step`.
fn key_specs(spec: &CommandSpec) -> Vec<Frame> {
    if spec.first_key == 0 {
        return Vec::new();
    }
    let last_key = if spec.last_key < 0 { spec.last_key } else { spec.last_key - spec.first_key };
    let field = |name: &'static str| Frame::bulk(name);
    vec![Frame::Map(vec![
        (field("flags"), status_set(spec.key_flags)),
        (
            field("begin_search"),
            Frame::Map(vec![
                (field("type"), field("index")),
                (
                    field("spec"),
                    Frame::Map(vec![(field("index"), Frame::Integer(spec.first_key.into()))]),
                ),
            ]),
        ),
        (
            field("find_keys"),
            Frame::Map(vec![
                (field("type"), field("range")),
                (
                    field("spec"),
                    Frame::Map(vec![
                        (field("lastkey"), Frame::Integer(last_key.into())),
                        (field("keystep"), Frame::Integer(spec.key_step.into())),
                        (field("limit"), Frame::Integer(0)),
                    ]),
                ),
            ]),
        ),
    ])]
}

/// One command's entry in COMMAND DOCS.
fn command_docs(spec: &'static CommandSpec) -> Frame {
    let field = |name: &'static str| Frame::bulk(name);
    let mut docs = vec![
        (field("summary"), Frame::bulk(spec.summary)),
        (field("since"), Frame::bulk(spec.since)),
        (field("group"), Frame::bulk(spec.group)),
        (field("complexity"), Frame::bulk(spec.complexity)),
    ];
    if !spec.arguments.is_empty() {
        docs.push((
            field("arguments"),
            Frame::Array(spec.arguments.iter().map(argument_docs).collect()),
        ));
    }
    if !spec.subcommands.is_empty() {
        let subcommands =
            spec.subcommands.iter().map(|sub| (Frame::bulk(sub.name), command_docs(sub)));
        docs.push((field("subcommands"), Frame::Map(subcommands.collect())));
    }
    Frame::Map(docs)
}

fn argument_docs(argument: &Argument) -> Frame {
    let field = |name: &'static str| Frame::bulk(name);
    let mut docs = vec![
        (field("name"), Frame::bulk(argument.name)),
        (field("type"), Frame::bulk(argument.kind.name())),
    ];
    if let ArgumentKind::Key(index) = argument.kind {
        docs.push((field("key_spec_index"), Frame::Integer(i64::from(index))));
    }
    if let Some(token) = argument.token {
        docs.push((field("token"), Frame::bulk(token)));
    }
    if let Some(since) = argument.since {
        docs.push((field("since"), Frame::bulk(since)));
    }
    let flags: Vec<&str> = [("optional", argument.optional), ("multiple", argument.multiple)]
        .iter()
        .filter(|(_, set)| *set)
        .map(|(name, _)| *name)
        .collect();
    if !flags.is_empty() {
        docs.push((field("flags"), status_set(&flags)));
    }
    if !argument.arguments.is_empty() {
        docs.push((
            field("arguments"),
            Frame::Array(argument.arguments.iter().map(argument_docs).collect()),
        ));
    }
    Frame::Map(docs)
}

/// Every command and subcommand name, filtered.
fn command_list(filter: Option<&CommandListFilter>) -> Frame {
    let mut names = Vec::new();
    for spec in all_commands() {
        for spec in std::iter::once(spec).chain(spec.subcommands.iter()) {
            let listed = match filter {
                None => true,
                Some(CommandListFilter::Module(_)) => false,
                Some(CommandListFilter::AclCategory(category)) => spec
                    .categories
                    .iter()
                    .any(|listed| listed.as_bytes()[1..].eq_ignore_ascii_case(category)),
                Some(CommandListFilter::Pattern(pattern)) => {
                    glob_match(pattern, spec.name.as_bytes(), true)
                }
            };
            if listed {
                names.push(Frame::bulk(spec.name));
            }
        }
    }
    Frame::Array(names)
}

/// COMMAND GETKEYS: the keys of a whole command, by its table positions.
fn get_keys(arguments: &[Bytes], with_flags: bool) -> Frame {
    let Some(mut spec) = lookup(&arguments[0]) else {
        return Frame::error("ERR Invalid command specified");
    };
    if !spec.subcommands.is_empty() {
        match arguments.get(1).and_then(|name| lookup_subcommand(spec, name)) {
            Some(subcommand) => spec = subcommand,
            None => return Frame::error("ERR Invalid command specified"),
        }
    }
    let count = arguments.len() as i64;
    let arity = i64::from(spec.arity);
    if (arity > 0 && count != arity) || (arity < 0 && count < -arity) {
        return Frame::error("ERR Invalid number of arguments specified for command");
    }
    if spec.first_key == 0 {
        return Frame::error("ERR The command has no key arguments");
    }
    let last =
        if spec.last_key < 0 { count + i64::from(spec.last_key) } else { i64::from(spec.last_key) };
    let step = i64::from(spec.key_step.max(1));
    let mut keys = Vec::new();
    let mut position = i64::from(spec.first_key);
    while position <= last.min(count - 1) {
        let key = Frame::Bulk(arguments[position as usize].clone());
        keys.push(if with_flags {
            Frame::Array(vec![key, status_set(spec.key_flags)])
        } else {
            key
        });
        position += step;
    }
    Frame::Array(keys)
}

const CONFIG_HELP: &[&str] = &[
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern> [<pattern> ...]",
    "    Return the parameters matching the glob-like patterns, with their values.",
    "SET <parameter> <value> [<parameter> <value> ...]",
    "    Set parameters; all of them change, or none. See docs/configuration.md for which",
    "    ones Concord honours.",
    "RESETSTAT",
    "    Reset the statistics INFO reports.",
    "REWRITE",
    "    Write the running configuration to the config file (not supported yet).",
    "HELP",
    "    Print this help.",
];

const COMMAND_HELP: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Describe every command.",
    "COUNT",
    "    Return the number of commands.",
    "DOCS [<command-name> ...]",
    "    Return the documentation of the named commands, or of all.",
    "GETKEYS <full-command>",
    "    Return the keys a whole command would access.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys a whole command would access, with their access flags.",
    "INFO [<command-name> ...]",
    "    Describe the named commands, or all.",
    "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
    "    Return the command names, optionally filtered.",
    "HELP",
    "    Print this help.",
];
