//! The payload of a key's `DUMP` and `RESTORE`: one value record (its RDB type byte, then the
//! value), sealed with the version and checksum as every payload is ([`super::seal`]).
//!
//! What DUMP writes for each type, as redis-server 7.0 does under its default thresholds
//! (which Concord's values follow, so the record type is the one `OBJECT ENCODING` names):
//!
//! | value | record |
//! |---|---|
//! | string | `RDB_TYPE_STRING` (0): the string, integer-encoded or LZF-compressed by Redis's rules |
//! | list | `RDB_TYPE_LIST_QUICKLIST_2` (18): listpack nodes cut where RPUSH would cut them ([`list`]) |
//! | set, `intset` | `RDB_TYPE_SET_INTSET` (11): the intset ([`super::intset`]) |
//! | set, `hashtable` | `RDB_TYPE_SET` (2): the count, then each member |
//! | hash, `listpack` | `RDB_TYPE_HASH_LISTPACK` (16): fields and values in insertion order |
//! | hash, `hashtable` | `RDB_TYPE_HASH` (4): the count, then each field and value |
//! | zset, `listpack` | `RDB_TYPE_ZSET_LISTPACK` (17): members and scores, lowest first |
//! | zset, `skiplist` | `RDB_TYPE_ZSET_2` (5): the count, then members and binary scores, highest first |
//! | stream | `RDB_TYPE_STREAM_LISTPACKS_2` (19): its nodes, counters and groups ([`stream`]) |
//!
//! RESTORE reads those and the older records Redis 7.0 still reads: plain lists (1), zsets
//! with text scores (3), zipmap hashes (9), ziplist lists, zsets and hashes (10, 12, 13) and
//! quicklists of ziplists (14) ([`legacy`]).
//!
//! Invariants:
//! - For the encodings whose layout Redis fixes (strings, intsets, listpack hashes and sorted
//!   sets, skiplist sorted sets, lists built by pushing at the tail), a DUMP is redis-server's
//!   bytes for the same value. Plain sets and hashes come out in Concord's member order; Redis's
//!   own order there depends on its per-process hash seed, so no two Redis processes agree
//!   either, and only the content is comparable.
//! - A payload is read with every length bounds-checked; a damaged or unknown record, a
//!   duplicate member, a NaN score or an empty collection is [`PayloadError::BadDataFormat`],
//!   never a panic. Bytes after the record are ignored, as redis-server ignores them. No
//!   allocation is sized by a count read from the payload before the elements it counts were
//!   read.
//!
//! Caveats: a list's node boundaries are those of a list built by RPUSH; a list Redis built by
//! LPUSH or LINSERT may be cut elsewhere, so its DUMP differs in bytes while RESTORE gives the
//! same list either way. Module values (6, 7) are refused, as Redis refuses them without the
//! module.

mod collections;
pub mod legacy;
pub mod list;
pub mod stream;

use super::{string, unseal, PayloadError};
use crate::store::{StringValue, Value};
use bytes::Bytes;

/// `RDB_TYPE_STRING`: a string record.
pub const TYPE_STRING: u8 = 0;
/// `RDB_TYPE_LIST`: a list as its count and elements (before Redis 3.2).
pub const TYPE_LIST: u8 = 1;
/// `RDB_TYPE_SET`: a set as its count and members.
pub const TYPE_SET: u8 = 2;
/// `RDB_TYPE_ZSET`: a sorted set with scores as text (before Redis 3.0).
pub const TYPE_ZSET: u8 = 3;
/// `RDB_TYPE_HASH`: a hash as its count, fields and values.
pub const TYPE_HASH: u8 = 4;
/// `RDB_TYPE_ZSET_2`: a sorted set with binary scores.
pub const TYPE_ZSET_2: u8 = 5;
/// `RDB_TYPE_HASH_ZIPMAP`: a hash as a zipmap (before Redis 2.6).
pub const TYPE_HASH_ZIPMAP: u8 = 9;
/// `RDB_TYPE_LIST_ZIPLIST`: a list as one ziplist (before Redis 3.2).
pub const TYPE_LIST_ZIPLIST: u8 = 10;
/// `RDB_TYPE_SET_INTSET`: a set of integers as an intset.
pub const TYPE_SET_INTSET: u8 = 11;
/// `RDB_TYPE_ZSET_ZIPLIST`: a sorted set as a ziplist (before Redis 7.0).
pub const TYPE_ZSET_ZIPLIST: u8 = 12;
/// `RDB_TYPE_HASH_ZIPLIST`: a hash as a ziplist (before Redis 7.0).
pub const TYPE_HASH_ZIPLIST: u8 = 13;
/// `RDB_TYPE_LIST_QUICKLIST`: a list as ziplist nodes (Redis 3.2 to 6.2).
pub const TYPE_LIST_QUICKLIST: u8 = 14;
/// `RDB_TYPE_HASH_LISTPACK`: a hash as a listpack.
pub const TYPE_HASH_LISTPACK: u8 = 16;
/// `RDB_TYPE_ZSET_LISTPACK`: a sorted set as a listpack.
pub const TYPE_ZSET_LISTPACK: u8 = 17;
/// `RDB_TYPE_LIST_QUICKLIST_2`: a list as listpack (or plain) nodes.
pub const TYPE_LIST_QUICKLIST_2: u8 = 18;
/// `RDB_TYPE_STREAM_LISTPACKS`: a stream without first id, tombstone and counters (Redis 5, 6).
pub const TYPE_STREAM_LISTPACKS: u8 = 15;
/// `RDB_TYPE_STREAM_LISTPACKS_2`: a stream as Redis 7.0 writes it.
pub const TYPE_STREAM_LISTPACKS_2: u8 = 19;

/// The DUMP payload of `value`, as redis-server 7.0 writes it.
pub fn dump(value: &Value) -> Vec<u8> {
    let mut record = Vec::new();
    match value {
        Value::String(string) => {
            record.push(TYPE_STRING);
            string::write(&mut record, &string.to_bytes());
        }
        Value::List(list) => list::write(&mut record, list),
        Value::SortedSet(set) => collections::write_sorted_set(&mut record, set),
        Value::Hash(hash) => collections::write_hash(&mut record, hash),
        Value::Set(set) => collections::write_set(&mut record, set),
        Value::Stream(stream) => stream::write(&mut record, stream),
    }
    super::seal(record)
}

/// The value a RESTORE payload holds: the version and checksum are checked first (Redis's
/// "DUMP payload version or checksum are wrong"), then the record is decoded.
pub fn restore(payload: &[u8]) -> Result<Value, PayloadError> {
    let mut record = string::Reader::new(unseal(payload)?);
    let kind = record.byte().ok_or(PayloadError::BadDataFormat)?;
    // Bytes after the record are ignored, as `restoreCommand` ignores them: it reads one
    // object and never looks further.
    read_value(kind, &mut record).ok_or(PayloadError::BadDataFormat)
}

/// The value of a record of type `kind`, or `None` if it is damaged or of a type Redis 7.0
/// does not read either.
pub(super) fn read_value(kind: u8, record: &mut string::Reader) -> Option<Value> {
    Some(match kind {
        TYPE_STRING => Value::String(StringValue::from_bytes(Bytes::from(record.string()?))),
        TYPE_LIST_QUICKLIST_2 | TYPE_LIST_QUICKLIST => {
            Value::List(Box::new(list::read(kind, record)?))
        }
        TYPE_LIST => Value::List(Box::new(list::read_plain(record)?)),
        TYPE_LIST_ZIPLIST => Value::List(Box::new(legacy::read_ziplist_list(&record.string()?)?)),
        TYPE_SET => Value::Set(Box::new(collections::read_plain_set(record)?)),
        TYPE_SET_INTSET => Value::Set(Box::new(collections::read_intset(&record.string()?)?)),
        TYPE_HASH => Value::Hash(Box::new(collections::read_plain_hash(record)?)),
        TYPE_HASH_LISTPACK => {
            Value::Hash(Box::new(collections::read_listpack_hash(&record.string()?)?))
        }
        TYPE_HASH_ZIPLIST => Value::Hash(Box::new(legacy::read_ziplist_hash(&record.string()?)?)),
        TYPE_HASH_ZIPMAP => Value::Hash(Box::new(legacy::read_zipmap(&record.string()?)?)),
        TYPE_ZSET_2 | TYPE_ZSET => {
            Value::SortedSet(Box::new(collections::read_plain_sorted_set(kind, record)?))
        }
        TYPE_ZSET_LISTPACK => {
            Value::SortedSet(Box::new(collections::read_listpack_sorted_set(&record.string()?)?))
        }
        TYPE_ZSET_ZIPLIST => {
            Value::SortedSet(Box::new(legacy::read_ziplist_sorted_set(&record.string()?)?))
        }
        TYPE_STREAM_LISTPACKS_2 | TYPE_STREAM_LISTPACKS => {
            Value::Stream(Box::new(stream::read(kind, record)?))
        }
        _ => return None,
    })
}

/// Reads a count of elements that each take at least one byte, so a count larger than what is
/// left of the record is damaged before anything is allocated for it.
fn read_count(record: &mut string::Reader) -> Option<usize> {
    let count = usize::try_from(record.length()?).ok()?;
    (count <= record.remaining()).then_some(count)
}

#[cfg(test)]
mod tests;
