//! Typed command metadata: what `COMMAND INFO` and `COMMAND DOCS` report about a command.
//!
//! A [`CommandMeta`] is pure data (arity, flags, key specifications, ACL categories, tips and
//! documentation), kept apart from argument parsing: a family's table pairs each command's
//! metadata with its parser. The metadata of every command Redis 7.0 also has is generated
//! from redis-server 7.0's own `COMMAND INFO` and `COMMAND DOCS` replies by
//! `scripts/gen-command-meta.py` into `redis_metadata.rs` (see docs/decisions.md); only
//! Concord's own commands (`CONCORD.*`, ...) write theirs by hand, with the same types.
//!
//! Invariant: every bitset lists its names in the order Redis 7.0 replies with them, so
//! iterating a set in bit order reproduces Redis's bytes. The generator checks each reply it
//! reads against that order and refuses a name it does not know.

/// Defines a bitset over a `u32` whose bits, in order, are the listed names.
macro_rules! name_bitset {
    ($(#[$doc:meta])* $type:ident { $($constant:ident = $name:literal,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $type(u32);

        impl $type {
            /// The names of the bits, bit 0 first: Redis's reply order.
            const NAMES: &'static [&'static str] = &[$($name,)*];
            /// The empty set.
            pub const NONE: $type = $type(0);
            name_bitset!(@constants $type, 0, $($constant = $name,)*);

            /// This set with the other's members added; `const` for the static tables.
            pub const fn with(self, other: $type) -> $type {
                $type(self.0 | other.0)
            }

            /// Whether every member of `other` is in this set.
            pub const fn contains(self, other: $type) -> bool {
                self.0 & other.0 == other.0
            }

            /// Whether the set has no member.
            pub const fn is_empty(self) -> bool {
                self.0 == 0
            }

            /// The member with this name, in any case.
            pub fn from_name(name: &str) -> Option<$type> {
                let position = Self::NAMES.iter().position(|known| known.eq_ignore_ascii_case(name))?;
                Some($type(1 << position))
            }

            /// Every member alone, with its name, in Redis's reply order.
            pub fn each() -> impl Iterator<Item = ($type, &'static str)> {
                Self::NAMES.iter().enumerate().map(|(bit, name)| ($type(1 << bit), *name))
            }

            /// The members' names, in Redis's reply order.
            pub fn names(self) -> impl Iterator<Item = &'static str> {
                Self::NAMES
                    .iter()
                    .enumerate()
                    .filter(move |(bit, _)| self.0 & (1 << bit) != 0)
                    .map(|(_, name)| *name)
            }
        }
    };
    (@constants $type:ident, $bit:expr, $constant:ident = $name:literal, $($rest:ident = $rest_name:literal,)*) => {
        #[doc = concat!("`", $name, "`, as Redis names it.")]
        pub const $constant: $type = $type(1 << $bit);
        name_bitset!(@constants $type, $bit + 1, $($rest = $rest_name,)*);
    };
    (@constants $type:ident, $bit:expr,) => {};
}

name_bitset! {
    /// Command flags, as `COMMAND INFO` lists them (Redis hides `may_replicate`, `sentinel`,
    /// `only_sentinel` and `protected`, so they are absent here too).
    CommandFlags {
        WRITE = "write",
        READONLY = "readonly",
        DENYOOM = "denyoom",
        MODULE = "module",
        ADMIN = "admin",
        PUBSUB = "pubsub",
        NOSCRIPT = "noscript",
        BLOCKING = "blocking",
        LOADING = "loading",
        STALE = "stale",
        SKIP_MONITOR = "skip_monitor",
        SKIP_SLOWLOG = "skip_slowlog",
        ASKING = "asking",
        FAST = "fast",
        NO_AUTH = "no_auth",
        NO_MANDATORY_KEYS = "no_mandatory_keys",
        NO_ASYNC_LOADING = "no_async_loading",
        NO_MULTI = "no_multi",
        MOVABLEKEYS = "movablekeys",
        ALLOW_BUSY = "allow_busy",
    }
}

name_bitset! {
    /// ACL categories, without their `@`, in Redis's order.
    AclCategories {
        KEYSPACE = "keyspace",
        READ = "read",
        WRITE = "write",
        SET = "set",
        SORTEDSET = "sortedset",
        LIST = "list",
        HASH = "hash",
        STRING = "string",
        BITMAP = "bitmap",
        HYPERLOGLOG = "hyperloglog",
        GEO = "geo",
        STREAM = "stream",
        PUBSUB = "pubsub",
        ADMIN = "admin",
        FAST = "fast",
        SLOW = "slow",
        BLOCKING = "blocking",
        DANGEROUS = "dangerous",
        CONNECTION = "connection",
        TRANSACTION = "transaction",
        SCRIPTING = "scripting",
    }
}

name_bitset! {
    /// The flags of a key specification: how the command uses the keys it finds.
    KeySpecFlags {
        RO = "RO",
        RW = "RW",
        OW = "OW",
        RM = "RM",
        ACCESS = "access",
        UPDATE = "update",
        INSERT = "insert",
        DELETE = "delete",
        NOT_KEY = "not_key",
        INCOMPLETE = "incomplete",
        VARIABLE_FLAGS = "variable_flags",
    }
}

name_bitset! {
    /// A command's documentation flags.
    DocFlags {
        DEPRECATED = "deprecated",
        SYSCMD = "syscmd",
    }
}

name_bitset! {
    /// A documented argument's flags.
    ArgumentFlags {
        OPTIONAL = "optional",
        MULTIPLE = "multiple",
        MULTIPLE_TOKEN = "multiple_token",
    }
}

/// Everything `COMMAND INFO` and `COMMAND DOCS` say about one command or subcommand.
#[derive(Debug)]
pub struct CommandMeta {
    /// The lowercase name; a subcommand's is `container|subcommand`.
    pub name: &'static str,
    /// Redis's arity: exact count if positive, minimum if negative, the name included (for a
    /// subcommand, the container's name and the subcommand's both count).
    pub arity: i32,
    /// The command's flags (`write`, `readonly`, `denyoom`, `fast`, ...), in COMMAND INFO.
    pub flags: CommandFlags,
    /// The legacy key positions (first, last, step); 0, 0, 0 when there are none.
    pub first_key: i32,
    /// The last key's position; negative counts from the end (-1: the last argument).
    pub last_key: i32,
    /// The distance between keys (2 for MSET's key-value pairs).
    pub key_step: i32,
    /// The ACL categories (`@string`, `@write`, ...), in COMMAND INFO.
    pub categories: AclCategories,
    /// Command tips (`nondeterministic_output`, `request_policy:all_shards`, ...).
    pub tips: &'static [&'static str],
    /// Redis 7.0's key specifications, in the order COMMAND INFO lists them.
    pub key_specs: &'static [KeySpec],
    /// What COMMAND DOCS reports.
    pub docs: Docs,
}

/// Where a command's keys are and how it uses them, as Redis 7.0 describes it.
#[derive(Debug)]
pub struct KeySpec {
    /// Redis's free-text remark on the keys, if any.
    pub notes: Option<&'static str>,
    /// How the command uses these keys (`RW`, `access`, `update`, ...).
    pub flags: KeySpecFlags,
    /// Where the search for the first key starts.
    pub begin_search: BeginSearch,
    /// How the keys after the first one are found.
    pub find_keys: FindKeys,
}

/// How to find the first key of a key specification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BeginSearch {
    /// At this argument position (the name is position 0).
    Index(i32),
    /// After the first `keyword` (in any case) searching from `start_from` (from the end when
    /// negative).
    Keyword {
        /// The keyword that comes just before the first key (`STORE`, `STREAMS`, ...).
        keyword: &'static str,
        /// The argument position the search starts at; negative searches back from the end.
        start_from: i32,
    },
    /// Only the command's own key-finding code knows (SORT's STORE).
    Unknown,
}

/// How to find the keys after the first one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FindKeys {
    /// Keys up to `last_key` (relative to the first key; from the end when negative), every
    /// `key_step`; with `last_key` -1, `limit` above 1 keeps only the first 1/limit of them.
    Range {
        /// The last key, relative to the first; from the end when negative.
        last_key: i32,
        /// The distance between keys.
        key_step: i32,
        /// With `last_key` -1, keep only the first 1/`limit` of the keys; 0 or 1 keeps them all.
        limit: i32,
    },
    /// The argument at `keynum_index` (relative to the first key's search position) counts
    /// the keys, which start `first_key` after it, every `key_step`.
    Keynum {
        /// The position of the argument that counts the keys, relative to the first key's search.
        keynum_index: i32,
        /// The first key's distance after that count argument.
        first_key: i32,
        /// The distance between keys.
        key_step: i32,
    },
    /// Only the command's own key-finding code knows.
    Unknown,
}

/// The part `COMMAND DOCS` reports.
#[derive(Debug)]
pub struct Docs {
    /// The one-line summary Redis's docs give.
    pub summary: Option<&'static str>,
    /// The Redis version that added the command.
    pub since: Option<&'static str>,
    /// `string`, `generic`, `server`, `connection`, ...
    pub group: &'static str,
    /// The time complexity, as Redis's docs state it.
    pub complexity: Option<&'static str>,
    /// Doc flags (`deprecated`, `syscmd`).
    pub doc_flags: DocFlags,
    /// The Redis version that deprecated the command, if any.
    pub deprecated_since: Option<&'static str>,
    /// What replaces a deprecated command, as Redis's docs say it.
    pub replaced_by: Option<&'static str>,
    /// (version, what changed), oldest first.
    pub history: &'static [(&'static str, &'static str)],
    /// The argument tree, in the order the syntax gives them.
    pub arguments: &'static [Argument],
}

/// The type of a documented argument, as `COMMAND DOCS` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgumentKind {
    /// `string`: any bytes.
    String,
    /// `integer`: a 64-bit signed integer.
    Integer,
    /// `double`: a floating-point number.
    Double,
    /// `key`: a key name.
    Key,
    /// `pattern`: a glob pattern.
    Pattern,
    /// `unix-time`: a Unix time, in seconds or milliseconds as the argument's name says.
    UnixTime,
    /// A keyword alone (`NOSAVE`); its `token` is the keyword.
    PureToken,
    /// Exactly one of the nested arguments.
    OneOf,
    /// The nested arguments, in order.
    Block,
}

impl ArgumentKind {
    /// The name `COMMAND DOCS` shows.
    pub fn name(self) -> &'static str {
        match self {
            ArgumentKind::String => "string",
            ArgumentKind::Integer => "integer",
            ArgumentKind::Double => "double",
            ArgumentKind::Key => "key",
            ArgumentKind::Pattern => "pattern",
            ArgumentKind::UnixTime => "unix-time",
            ArgumentKind::PureToken => "pure-token",
            ArgumentKind::OneOf => "oneof",
            ArgumentKind::Block => "block",
        }
    }
}

/// One documented argument, built with the `const` methods below so that argument trees are
/// plain statics.
#[derive(Debug)]
pub struct Argument {
    /// The argument's name in COMMAND DOCS (`seconds`, `unix-time-milliseconds`, ...).
    pub name: &'static str,
    /// Its type.
    pub kind: ArgumentKind,
    /// The name the syntax shows instead of `name`, when Redis gives one.
    pub display_text: Option<&'static str>,
    /// The index of the key specification that finds this argument (keys, and patterns that
    /// name keys, as SORT's `BY`).
    pub key_spec_index: Option<u32>,
    /// The keyword that introduces the argument (`AUTH` in `HELLO 3 AUTH user pass`).
    pub token: Option<&'static str>,
    /// A short description, when Redis gives one.
    pub summary: Option<&'static str>,
    /// The Redis version that added the argument, when later than the command.
    pub since: Option<&'static str>,
    /// The Redis version that deprecated the argument, if any.
    pub deprecated_since: Option<&'static str>,
    /// `optional`, `multiple` and `multiple_token`.
    pub flags: ArgumentFlags,
    /// Nested arguments of a `OneOf` or `Block`.
    pub arguments: &'static [Argument],
}

impl Argument {
    /// An argument with only a name and a type; the methods below add the rest.
    pub const fn new(name: &'static str, kind: ArgumentKind) -> Argument {
        Argument {
            name,
            kind,
            display_text: None,
            key_spec_index: None,
            token: None,
            summary: None,
            since: None,
            deprecated_since: None,
            flags: ArgumentFlags::NONE,
            arguments: &[],
        }
    }

    /// Sets `display_text`.
    pub const fn display_text(self, display_text: &'static str) -> Argument {
        Argument { display_text: Some(display_text), ..self }
    }

    /// Sets `key_spec_index`.
    pub const fn key_spec_index(self, index: u32) -> Argument {
        Argument { key_spec_index: Some(index), ..self }
    }

    /// Sets `token`.
    pub const fn token(self, token: &'static str) -> Argument {
        Argument { token: Some(token), ..self }
    }

    /// Sets `summary`.
    pub const fn summary(self, summary: &'static str) -> Argument {
        Argument { summary: Some(summary), ..self }
    }

    /// Sets `since`.
    pub const fn since(self, since: &'static str) -> Argument {
        Argument { since: Some(since), ..self }
    }

    /// Sets `deprecated_since`.
    pub const fn deprecated_since(self, version: &'static str) -> Argument {
        Argument { deprecated_since: Some(version), ..self }
    }

    /// Sets `flags`, replacing any already set.
    pub const fn flags(self, flags: ArgumentFlags) -> Argument {
        Argument { flags, ..self }
    }

    /// Adds the `optional` flag.
    pub const fn optional(self) -> Argument {
        Argument { flags: self.flags.with(ArgumentFlags::OPTIONAL), ..self }
    }

    /// Adds the `multiple` flag.
    pub const fn multiple(self) -> Argument {
        Argument { flags: self.flags.with(ArgumentFlags::MULTIPLE), ..self }
    }

    /// Sets the nested arguments, of a `OneOf` or `Block`.
    pub const fn arguments(self, arguments: &'static [Argument]) -> Argument {
        Argument { arguments, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bitset_names_its_members_in_redis_order() {
        let flags = CommandFlags::FAST.with(CommandFlags::WRITE).with(CommandFlags::DENYOOM);
        assert_eq!(flags.names().collect::<Vec<_>>(), ["write", "denyoom", "fast"]);
        assert_eq!(KeySpecFlags::from_name("ro"), Some(KeySpecFlags::RO));
        assert!(flags.contains(CommandFlags::WRITE) && !flags.contains(CommandFlags::READONLY));
    }
}
