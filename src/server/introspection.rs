//! CONFIG and COMMAND: the replies that describe the node's settings and commands.
//!
//! Reply shapes follow Redis 7.0 exactly, including its quirks: in COMMAND INFO, flags,
//! categories, tips and key specifications are sets, and the subcommands are a set when there
//! are none but an array otherwise.
//!
//! The metadata itself is Redis 7.0's (generated, see `command::metadata`), so these replies
//! equal redis-server 7.0's byte for byte, with two deliberate differences: a container lists
//! only the subcommands Concord implements, and Redis lists subcommands (and, with no names,
//! commands) in its hash table's order, which changes from run to run, while Concord's order
//! is the table's.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::help::{help, COMMAND_HELP, CONFIG_HELP};
use super::Shared;
use crate::command::control::{CommandListFilter, ConfigCommand, IntrospectionCommand};
use crate::command::key_extraction::{command_keys, has_keys};
use crate::command::{
    all_commands, fits_arity, lookup, lookup_full_name, lookup_subcommand, AclCategories, Argument,
    ArgumentKind, BeginSearch, CommandFlags, CommandSpec, FindKeys, KeySpec,
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
        ConfigCommand::Help => help(CONFIG_HELP),
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
        IntrospectionCommand::Help => help(COMMAND_HELP),
    }
}

fn status_set<'a>(words: impl Iterator<Item = &'a str>) -> Frame {
    Frame::Set(words.map(|word| Frame::Simple(word.to_string().into())).collect())
}

fn field(name: &'static str) -> Frame {
    Frame::bulk(name)
}

/// One command's entry in COMMAND INFO.
pub(super) fn command_info(spec: &'static CommandSpec) -> Frame {
    let meta = spec.meta;
    let subcommands = if spec.subcommands.is_empty() {
        Frame::Set(Vec::new())
    } else {
        Frame::Array(spec.subcommands.iter().map(command_info).collect())
    };
    let categories: Vec<String> =
        meta.categories.names().map(|category| format!("@{category}")).collect();
    Frame::Array(vec![
        Frame::bulk(meta.name),
        Frame::Integer(i64::from(meta.arity)),
        status_set(meta.flags.names()),
        Frame::Integer(i64::from(meta.first_key)),
        Frame::Integer(i64::from(meta.last_key)),
        Frame::Integer(i64::from(meta.key_step)),
        status_set(categories.iter().map(String::as_str)),
        Frame::Set(meta.tips.iter().map(Frame::bulk).collect()),
        Frame::Set(meta.key_specs.iter().map(key_spec).collect()),
        subcommands,
    ])
}

/// One key specification, as Redis 7.0's COMMAND INFO shows it.
fn key_spec(spec: &KeySpec) -> Frame {
    let mut fields = Vec::with_capacity(4);
    if let Some(notes) = spec.notes {
        fields.push((field("notes"), Frame::bulk(notes)));
    }
    fields.push((field("flags"), status_set(spec.flags.names())));
    let integer = |name: &'static str, value: i32| (field(name), Frame::Integer(value.into()));
    let (begin_type, begin_spec) = match spec.begin_search {
        BeginSearch::Index(index) => ("index", vec![integer("index", index)]),
        BeginSearch::Keyword { keyword, start_from } => (
            "keyword",
            vec![(field("keyword"), Frame::bulk(keyword)), integer("startfrom", start_from)],
        ),
        BeginSearch::Unknown => ("unknown", Vec::new()),
    };
    let (find_type, find_spec) = match spec.find_keys {
        FindKeys::Range { last_key, key_step, limit } => (
            "range",
            vec![
                integer("lastkey", last_key),
                integer("keystep", key_step),
                integer("limit", limit),
            ],
        ),
        FindKeys::Keynum { keynum_index, first_key, key_step } => (
            "keynum",
            vec![
                integer("keynumidx", keynum_index),
                integer("firstkey", first_key),
                integer("keystep", key_step),
            ],
        ),
        FindKeys::Unknown => ("unknown", Vec::new()),
    };
    let search = |kind: &'static str, spec: Vec<(Frame, Frame)>| {
        Frame::Map(vec![(field("type"), field(kind)), (field("spec"), Frame::Map(spec))])
    };
    fields.push((field("begin_search"), search(begin_type, begin_spec)));
    fields.push((field("find_keys"), search(find_type, find_spec)));
    Frame::Map(fields)
}

/// One command's entry in COMMAND DOCS: Redis's fields in Redis's order, each only when set.
fn command_docs(spec: &'static CommandSpec) -> Frame {
    let docs = &spec.meta.docs;
    let mut fields = Vec::new();
    let mut text = |name: &'static str, value: Option<&'static str>| {
        if let Some(value) = value {
            fields.push((field(name), Frame::bulk(value)));
        }
    };
    text("summary", docs.summary);
    text("since", docs.since);
    text("group", Some(docs.group));
    text("complexity", docs.complexity);
    if !docs.doc_flags.is_empty() {
        fields.push((field("doc_flags"), status_set(docs.doc_flags.names())));
    }
    let mut text = |name: &'static str, value: Option<&'static str>| {
        if let Some(value) = value {
            fields.push((field(name), Frame::bulk(value)));
        }
    };
    text("deprecated_since", docs.deprecated_since);
    text("replaced_by", docs.replaced_by);
    if !docs.history.is_empty() {
        let history = docs.history.iter().map(|(version, change)| {
            Frame::Array(vec![Frame::bulk(*version), Frame::bulk(*change)])
        });
        fields.push((field("history"), Frame::Set(history.collect())));
    }
    if !docs.arguments.is_empty() {
        fields.push((field("arguments"), argument_list(docs.arguments)));
    }
    if !spec.subcommands.is_empty() {
        let subcommands =
            spec.subcommands.iter().map(|sub| (Frame::bulk(sub.name), command_docs(sub)));
        fields.push((field("subcommands"), Frame::Map(subcommands.collect())));
    }
    Frame::Map(fields)
}

fn argument_list(arguments: &[Argument]) -> Frame {
    Frame::Array(arguments.iter().map(argument_docs).collect())
}

fn argument_docs(argument: &Argument) -> Frame {
    let mut fields = vec![
        (field("name"), Frame::bulk(argument.name)),
        (field("type"), field(argument.kind.name())),
    ];
    if let Some(display_text) = argument.display_text {
        fields.push((field("display_text"), Frame::bulk(display_text)));
    }
    if let Some(index) = argument.key_spec_index {
        fields.push((field("key_spec_index"), Frame::Integer(i64::from(index))));
    }
    let texts = [
        ("token", argument.token),
        ("summary", argument.summary),
        ("since", argument.since),
        ("deprecated_since", argument.deprecated_since),
    ];
    for (name, value) in texts {
        if let Some(value) = value {
            fields.push((field(name), Frame::bulk(value)));
        }
    }
    if !argument.flags.is_empty() {
        fields.push((field("flags"), status_set(argument.flags.names())));
    }
    if matches!(argument.kind, ArgumentKind::OneOf | ArgumentKind::Block) {
        fields.push((field("arguments"), argument_list(argument.arguments)));
    }
    Frame::Map(fields)
}

/// Every command and subcommand name, filtered.
fn command_list(filter: Option<&CommandListFilter>) -> Frame {
    let category = match filter {
        Some(CommandListFilter::AclCategory(name)) => {
            match std::str::from_utf8(name).ok().and_then(AclCategories::from_name) {
                Some(category) => Some(category),
                None => return Frame::Array(Vec::new()),
            }
        }
        _ => None,
    };
    let mut names = Vec::new();
    for spec in all_commands() {
        for spec in std::iter::once(spec).chain(spec.subcommands.iter()) {
            let listed = match filter {
                None => true,
                Some(CommandListFilter::Module(_)) => false,
                Some(CommandListFilter::AclCategory(_)) => {
                    category.is_some_and(|category| spec.meta.categories.contains(category))
                }
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

/// COMMAND GETKEYS and GETKEYSANDFLAGS: the keys of a whole command, found as Redis 7.0 finds
/// them (see `command::key_extraction`), with Redis's errors in Redis's order.
fn get_keys(arguments: &[Bytes], with_flags: bool) -> Frame {
    let Some(mut spec) = lookup(&arguments[0]) else {
        return Frame::error("ERR Invalid command specified");
    };
    if !spec.subcommands.is_empty() && arguments.len() > 1 {
        match lookup_subcommand(spec, &arguments[1]) {
            Some(subcommand) => spec = subcommand,
            None => return Frame::error("ERR Invalid command specified"),
        }
    }
    if !has_keys(spec.meta) {
        return Frame::error("ERR The command has no key arguments");
    }
    if !fits_arity(spec, arguments.len()) {
        return Frame::error("ERR Invalid number of arguments specified for command");
    }
    let keys = command_keys(spec.meta, arguments);
    if keys.is_empty() {
        if spec.has_flag(CommandFlags::NO_MANDATORY_KEYS) {
            return Frame::Array(Vec::new());
        }
        return Frame::error("ERR Invalid arguments specified for command");
    }
    let keys = keys.into_iter().map(|key| {
        let name = Frame::Bulk(arguments[key.position].clone());
        if with_flags {
            Frame::Array(vec![name, status_set(key.flags.names())])
        } else {
            name
        }
    });
    Frame::Array(keys.collect())
}
