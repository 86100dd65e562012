//! The keyspace: sixteen numbered databases of keys, their values and their expiry times.
//!
//! Every structure here is persistent (structurally shared: a database's keys are a
//! [`hash_trie::HashTrie`], the rest comes from the `imbl` crate): cloning a
//! [`Keyspace`] is O(number of databases) and yields an independent version, which is how the
//! state machine hands out MVCC read views. A writer that changes a shared node copies only
//! the path to it, so a view costs nothing until the keyspace moves on, and then only in
//! proportion to what changed. Values must therefore be cheap to clone: a string is `Bytes`,
//! and the collection types of later families wrap persistent collections.
//!
//! Keys are ordered by a fixed 64-bit hash of their bytes, then by the bytes. The order gives
//! SCAN a cursor with Redis's guarantees (the cursor is the hash where the next batch starts,
//! so a key present for a whole iteration is returned, whatever is added or removed), and the
//! fixed hash makes a cursor valid on every replica. Hash collisions only lengthen a batch.
//!
//! Invariants:
//! - The store never reads a clock: every operation that cares about expiry takes `now_ms`.
//! - A key whose expiry time is at or before `now_ms` does not exist for any operation. Reads
//!   skip it; writes through [`Db::value_mut`] delete it first (lazy expiry, decided by the
//!   entry's time, so replicas agree).
//! - `expires` holds exactly the keys that have an expiry time, ordered by that time, for
//!   active expiry.
//!
//! Deliberately absent: command semantics and reply shapes (the state machine's), IO.

pub mod bitmap;
mod db;
pub mod functions;
pub mod geo_search;
pub mod geohash;
pub mod list;
mod hash;
pub mod hash_trie;
pub mod hyperloglog;
mod members;
pub mod rdb;
pub mod scripts;
mod set;
pub mod stream;
mod string;
mod zset;

pub use crate::command::glob_match;
pub use db::{Db, Entry, HashedKey, ScanPage};
pub use hash::{HashValue, LISTPACK_ENTRIES_MAX, LISTPACK_VALUE_BYTES_MAX};
pub use list::ListValue;
pub use members::{scan_position, Members, MembersPage};
pub use set::{SetValue, INTSET_ENTRIES_MAX};
pub use string::{fits_string_limit, LongDouble, StringValue, STRING_BYTES_MAX};
pub use zset::{
    compare as compare_scored, Encoding as SortedSetEncoding, Inserted,
    ScanPage as SortedSetScanPage, SortedSet, LISTPACK_ENTRIES_MAX as ZSET_LISTPACK_ENTRIES_MAX,
    LISTPACK_VALUE_BYTES_MAX as ZSET_LISTPACK_VALUE_BYTES_MAX,
};

use crate::command::{DbIndex, DATABASES};

/// A stored value. Cloning is O(1) for every variant, and every variant serializes (snapshots
/// are a stream of serialized entries).
///
/// The collections are boxed so that a value is as small as a string (40 bytes, against 112
/// with a stream inline): every key's value sits inline in the keyspace's trie nodes, so its
/// size is paid per key, and again in every node a write copies. A box serializes as what it
/// holds, so the snapshot format does not see it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Value {
    /// A string, which may hold an integer.
    String(StringValue),
    /// A list.
    List(Box<ListValue>),
    /// A sorted set.
    SortedSet(Box<SortedSet>),
    /// A hash.
    Hash(Box<HashValue>),
    /// A set.
    Set(Box<SetValue>),
    // New variants go last: a snapshot stores a value by its variant's position.
    /// A stream.
    Stream(Box<stream::StreamValue>),
}

impl Value {
    /// The name `TYPE` reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::SortedSet(_) => "zset",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::Stream(_) => "stream",
        }
    }

    /// The name `OBJECT ENCODING` reports: Redis's classification of the value, which the
    /// representations follow (a listpack hash and an intset are stored as the small forms
    /// Redis uses, the rest as persistent maps), so the name is also the truth.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::String(string) => string.encoding(),
            Value::List(list) => list.encoding(),
            Value::SortedSet(set) => set.encoding_name(),
            Value::Hash(hash) => hash.encoding(),
            Value::Set(set) => set.encoding(),
            Value::Stream(_) => "stream",
        }
    }
}

/// A collection value (hash, set) that commands change in place and that never exists empty:
/// the last removal deletes its key.
pub trait Collection: Default {
    /// The collection inside `value`, if `value` holds this kind.
    fn in_value_mut(value: &mut Value) -> Option<&mut Self>;
    /// Wraps the collection as a value to store under its key.
    fn into_value(self) -> Value;
    /// Whether the collection has no member, so that its key must be deleted.
    fn is_empty(&self) -> bool;
}

impl Collection for HashValue {
    fn in_value_mut(value: &mut Value) -> Option<&mut HashValue> {
        match value {
            Value::Hash(hash) => Some(hash),
            _ => None,
        }
    }

    fn into_value(self) -> Value {
        Value::Hash(Box::new(self))
    }

    fn is_empty(&self) -> bool {
        HashValue::is_empty(self)
    }
}

impl Collection for SetValue {
    fn in_value_mut(value: &mut Value) -> Option<&mut SetValue> {
        match value {
            Value::Set(set) => Some(set),
            _ => None,
        }
    }

    fn into_value(self) -> Value {
        Value::Set(Box::new(self))
    }

    fn is_empty(&self) -> bool {
        SetValue::is_empty(self)
    }
}

/// All databases. Cloning is a cheap, independent version (an MVCC view).
#[derive(Clone, Debug, Default)]
pub struct Keyspace {
    databases: [Db; DATABASES],
    /// The Lua scripts cached by EVAL and SCRIPT LOAD (see `scripts`); FLUSHALL keeps them,
    /// as in Redis.
    scripts: scripts::ScriptCache,
    /// The function libraries FUNCTION LOAD loaded (see `functions`); FLUSHALL keeps them,
    /// as in Redis.
    functions: functions::FunctionLibraries,
    /// The ACL users (see `command::acl`): replicated state like the scripts, here so that a
    /// view's script checks its commands against the users as of the same entry. Shared, as a
    /// user change is rare and every view holds the table.
    users: std::sync::Arc<crate::command::acl::Users>,
}

impl Keyspace {
    /// An empty keyspace: every database empty.
    pub fn new() -> Keyspace {
        Keyspace::default()
    }

    /// The database `index`; the index was checked against `DATABASES` when parsed.
    pub fn db(&self, index: DbIndex) -> &Db {
        &self.databases[index]
    }

    /// The database `index`, to change it.
    pub fn db_mut(&mut self, index: DbIndex) -> &mut Db {
        &mut self.databases[index]
    }

    /// Two distinct databases at once, for MOVE and COPY ... DB.
    pub fn two_dbs_mut(&mut self, first: DbIndex, second: DbIndex) -> (&mut Db, &mut Db) {
        assert_ne!(first, second, "two_dbs_mut needs two distinct databases");
        if first < second {
            let (low, high) = self.databases.split_at_mut(second);
            (&mut low[first], &mut high[0])
        } else {
            let (low, high) = self.databases.split_at_mut(first);
            (&mut high[0], &mut low[second])
        }
    }

    /// Sets the version (log index) that every change from now on is stamped with.
    pub fn set_version(&mut self, version: u64) {
        for db in &mut self.databases {
            db.set_version(version);
        }
    }

    /// SWAPDB: exchanges two databases' contents, and marks both as exchanged at the current
    /// version, so that a WATCH on either sees the change. Swapping a database with itself
    /// changes nothing, so no watcher sees a change.
    pub fn swap(&mut self, first: DbIndex, second: DbIndex) {
        if first == second {
            return;
        }
        self.databases.swap(first, second);
        self.databases[first].mark_contents_exchanged();
        self.databases[second].mark_contents_exchanged();
    }

    /// FLUSHALL: empties every database.
    pub fn clear(&mut self) {
        for db in &mut self.databases {
            *db = Db::default();
        }
    }

    /// The databases, in index order.
    pub fn databases(&self) -> impl Iterator<Item = (DbIndex, &Db)> {
        self.databases.iter().enumerate()
    }

    /// The script cache.
    pub fn scripts(&self) -> &scripts::ScriptCache {
        &self.scripts
    }

    /// The script cache, to change it (in apply) or to restore it (from a snapshot).
    pub fn scripts_mut(&mut self) -> &mut scripts::ScriptCache {
        &mut self.scripts
    }

    /// The function libraries.
    pub fn functions(&self) -> &functions::FunctionLibraries {
        &self.functions
    }

    /// The function libraries, to change them (in apply) or restore them (from a snapshot).
    pub fn functions_mut(&mut self) -> &mut functions::FunctionLibraries {
        &mut self.functions
    }

    /// The ACL users.
    pub fn users(&self) -> &std::sync::Arc<crate::command::acl::Users> {
        &self.users
    }

    /// The ACL users, to change them (in apply) or restore them (from a snapshot).
    pub fn users_mut(&mut self) -> &mut crate::command::acl::Users {
        std::sync::Arc::make_mut(&mut self.users)
    }
}
