//! The metadata of the commands Redis 7.0 does not have, written by hand with the same types
//! as the generated `redis_metadata`: Concord's own `CONCORD.*` commands, and `CLIENT SETINFO`,
//! which redis-py sends on connect and Redis has only from 7.2 (its 7.2 description, less the
//! cluster routing tips a single endpoint does not need).

use super::metadata::{
    AclCategories, Argument, ArgumentKind, BeginSearch, CommandFlags, CommandMeta, DocFlags, Docs,
    FindKeys, KeySpec, KeySpecFlags,
};

const ADMIN_FLAGS: CommandFlags = CommandFlags::ADMIN
    .with(CommandFlags::NOSCRIPT)
    .with(CommandFlags::LOADING)
    .with(CommandFlags::STALE);
const ADMIN_CATEGORIES: AclCategories =
    AclCategories::ADMIN.with(AclCategories::SLOW).with(AclCategories::DANGEROUS);

/// An administrative command of the cluster: no keys, no tips.
const fn admin(
    name: &'static str,
    arity: i32,
    summary: &'static str,
    complexity: &'static str,
    arguments: &'static [Argument],
) -> CommandMeta {
    CommandMeta {
        name,
        arity,
        flags: ADMIN_FLAGS,
        first_key: 0,
        last_key: 0,
        key_step: 0,
        categories: ADMIN_CATEGORIES,
        tips: &[],
        key_specs: &[],
        docs: docs("server", summary, "0.1.0", complexity, arguments),
    }
}

const fn docs(
    group: &'static str,
    summary: &'static str,
    since: &'static str,
    complexity: &'static str,
    arguments: &'static [Argument],
) -> Docs {
    Docs {
        summary: Some(summary),
        since: Some(since),
        group,
        complexity: Some(complexity),
        doc_flags: DocFlags::NONE,
        deprecated_since: None,
        replaced_by: None,
        history: &[],
        arguments,
    }
}

const NODE_ID: Argument = Argument::new("node-id", ArgumentKind::Integer);

/// `CONCORD.STATUS`: every member's role, term, log indexes and lag.
pub static CONCORD_STATUS: CommandMeta = admin(
    "concord.status",
    1,
    "Show every cluster member's role, term, log indexes and lag",
    "O(N) where N is the number of members",
    &[],
);

/// `CONCORD.ADDNODE node-id peer-address`: add a node, as a learner until it caught up.
pub static CONCORD_ADDNODE: CommandMeta = admin(
    "concord.addnode",
    3,
    "Add a node to the cluster: a learner until it caught up, then a voter",
    "O(1)",
    &[NODE_ID, Argument::new("peer-address", ArgumentKind::String)],
);

/// `CONCORD.REMOVENODE node-id`: remove a member from the cluster.
pub static CONCORD_REMOVENODE: CommandMeta =
    admin("concord.removenode", 2, "Remove a node from the cluster", "O(1)", &[NODE_ID]);

/// `CONCORD.TRANSFERLEADER node-id`: hand leadership to another voter.
pub static CONCORD_TRANSFERLEADER: CommandMeta =
    admin("concord.transferleader", 2, "Hand leadership to another voter", "O(1)", &[NODE_ID]);

/// `CONCORD.CAS key expected value`: compare-and-set on a string, in one apply step.
pub static CONCORD_CAS: CommandMeta = CommandMeta {
    name: "concord.cas",
    arity: 4,
    flags: CommandFlags::WRITE.with(CommandFlags::DENYOOM).with(CommandFlags::FAST),
    first_key: 1,
    last_key: 1,
    key_step: 1,
    categories: AclCategories::WRITE.with(AclCategories::STRING).with(AclCategories::FAST),
    tips: &[],
    key_specs: &[KeySpec {
        notes: None,
        flags: KeySpecFlags::RW.with(KeySpecFlags::ACCESS).with(KeySpecFlags::UPDATE),
        begin_search: BeginSearch::Index(1),
        find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
    }],
    docs: docs(
        "string",
        "Sets the string value of a key only if it currently equals an expected value. \
         Replies 1 if set, 0 if the value differed, nil if the key does not exist.",
        "0.1.0",
        "O(N) where N is the length of the expected value.",
        &[
            Argument::new("key", ArgumentKind::Key).key_spec_index(0),
            Argument::new("expected", ArgumentKind::String),
            Argument::new("value", ArgumentKind::String),
        ],
    ),
};

/// `CLIENT SETINFO LIB-NAME name | LIB-VER version`, from Redis 7.2, which the generated 7.0
/// metadata lacks.
pub static CLIENT_SETINFO: CommandMeta = CommandMeta {
    name: "client|setinfo",
    arity: 4,
    flags: CommandFlags::NOSCRIPT.with(CommandFlags::LOADING).with(CommandFlags::STALE),
    first_key: 0,
    last_key: 0,
    key_step: 0,
    categories: AclCategories::SLOW.with(AclCategories::CONNECTION),
    tips: &[],
    key_specs: &[],
    docs: docs(
        "connection",
        "Set client or connection specific info",
        "7.2.0",
        "O(1)",
        &[Argument::new("attr", ArgumentKind::OneOf).arguments(&[
            Argument::new("libname", ArgumentKind::String).token("LIB-NAME"),
            Argument::new("libver", ArgumentKind::String).token("LIB-VER"),
        ])],
    ),
};

/// Every command here: the ones whose metadata is not generated from Redis.
pub static ALL: &[&CommandMeta] = &[
    &CONCORD_STATUS,
    &CONCORD_ADDNODE,
    &CONCORD_REMOVENODE,
    &CONCORD_TRANSFERLEADER,
    &CONCORD_CAS,
    &CLIENT_SETINFO,
];
