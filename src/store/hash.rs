//! The hash value: fields and their values, in the two representations Redis 7.0 reports
//! through `OBJECT ENCODING`.
//!
//! - `listpack`: a small hash (at most [`LISTPACK_ENTRIES_MAX`] fields, every field and value at
//!   most [`LISTPACK_VALUE_BYTES_MAX`] bytes), kept as a persistent vector of pairs in insertion
//!   order. Redis keeps such a hash as one flat buffer in insertion order, so HGETALL, HKEYS,
//!   HVALS and HSCAN reply in the same order as Redis, and HSCAN returns everything in one page
//!   with cursor 0, as Redis does for a listpack. Lookups are linear, as in Redis, and bounded.
//! - `hashtable`: anything larger, kept as [`Members`] (fixed-hash order, scan cursors, O(log n)
//!   random fields). A hash converts when a write breaks a bound, and never converts back, even
//!   when it shrinks: Redis does not either, and `OBJECT ENCODING` reports Redis's
//!   classification (the bounds are Redis's compiled-in defaults, which redis-server 7.0.15
//!   reports in CONFIG GET: 512 entries, 64 bytes).
//!
//! Invariant: a stored hash is never empty; the state machine deletes the key with its last
//! field.

use bytes::Bytes;
use imbl::Vector;

use super::members::{Members, MembersPage};

/// The most fields a `listpack` hash holds (`hash-max-listpack-entries`).
pub const LISTPACK_ENTRIES_MAX: usize = 512;

/// The longest field or value a `listpack` hash holds (`hash-max-listpack-value`).
pub const LISTPACK_VALUE_BYTES_MAX: usize = 64;

/// A hash. Cloning is O(1).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum HashValue {
    /// Small: pairs in insertion order.
    Listpack(Vector<(Bytes, Bytes)>),
    /// Large: see [`Members`].
    Table(Members<Bytes>),
}

impl Default for HashValue {
    fn default() -> HashValue {
        HashValue::Listpack(Vector::new())
    }
}

impl HashValue {
    /// The number of fields.
    pub fn len(&self) -> usize {
        match self {
            HashValue::Listpack(pairs) => pairs.len(),
            HashValue::Table(members) => members.len(),
        }
    }

    /// Whether the hash has no field (a stored hash never does).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            HashValue::Listpack(_) => "listpack",
            HashValue::Table(_) => "hashtable",
        }
    }

    /// The value of `field`, or `None` if the hash has no such field.
    pub fn get(&self, field: &Bytes) -> Option<&Bytes> {
        match self {
            HashValue::Listpack(pairs) => {
                pairs.iter().find(|(stored, _)| stored == field).map(|(_, value)| value)
            }
            HashValue::Table(members) => members.get(field),
        }
    }

    /// Sets `field` to `value`; returns whether the field is new. A field or value longer than
    /// a listpack allows converts the hash before the write, and a field past the entry bound
    /// converts it after, as in Redis.
    pub fn insert(&mut self, field: &Bytes, value: Bytes) -> bool {
        if field.len() > LISTPACK_VALUE_BYTES_MAX || value.len() > LISTPACK_VALUE_BYTES_MAX {
            self.convert_to_table();
        }
        let value = Bytes::copy_from_slice(&value);
        let is_new = match self {
            HashValue::Listpack(pairs) => {
                match pairs.iter().position(|(stored, _)| stored == field) {
                    Some(index) => {
                        pairs.set(index, (pairs[index].0.clone(), value));
                        false
                    }
                    None => {
                        pairs.push_back((Bytes::copy_from_slice(field), value));
                        true
                    }
                }
            }
            HashValue::Table(members) => members.insert(field, value).is_none(),
        };
        if self.len() > LISTPACK_ENTRIES_MAX {
            self.convert_to_table();
        }
        is_new
    }

    /// Removes `field`; returns whether it was present.
    pub fn remove(&mut self, field: &Bytes) -> bool {
        match self {
            HashValue::Listpack(pairs) => {
                match pairs.iter().position(|(stored, _)| stored == field) {
                    Some(index) => {
                        pairs.remove(index);
                        true
                    }
                    None => false,
                }
            }
            HashValue::Table(members) => members.remove(field).is_some(),
        }
    }

    /// The field and value at `index` (`index < len()`) in an order fixed by the hash's
    /// history, for random choices.
    pub fn at(&self, index: usize) -> (&Bytes, &Bytes) {
        match self {
            HashValue::Listpack(pairs) => {
                let (field, value) = &pairs[index];
                (field, value)
            }
            HashValue::Table(members) => members.at(index),
        }
    }

    /// Every field and value, in the order HGETALL replies with.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&Bytes, &Bytes)> + '_> {
        match self {
            HashValue::Listpack(pairs) => {
                Box::new(pairs.iter().map(|(field, value)| (field, value)))
            }
            HashValue::Table(members) => Box::new(members.iter()),
        }
    }

    /// One HSCAN page. A listpack is returned whole with cursor 0, whatever the cursor and
    /// count, as Redis does.
    pub fn scan(&self, cursor: u64, count: usize) -> MembersPage<'_, Bytes> {
        match self {
            HashValue::Listpack(pairs) => MembersPage {
                members: pairs.iter().map(|(field, value)| (field, value)).collect(),
                next_cursor: 0,
            },
            HashValue::Table(members) => members.scan(cursor, count),
        }
    }

    fn convert_to_table(&mut self) {
        if let HashValue::Listpack(pairs) = self {
            let mut members = Members::default();
            for (field, value) in pairs.iter() {
                members.insert(field, value.clone());
            }
            *self = HashValue::Table(members);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(text: &str) -> Bytes {
        Bytes::copy_from_slice(text.as_bytes())
    }

    #[test]
    fn a_small_hash_is_a_listpack_in_insertion_order() {
        let mut hash = HashValue::default();
        for field in ["z", "a", "m"] {
            assert!(hash.insert(&bytes(field), bytes("1")));
        }
        assert!(hash.remove(&bytes("a")));
        assert!(hash.insert(&bytes("a"), bytes("2")));
        assert!(!hash.insert(&bytes("z"), bytes("3")));
        let fields: Vec<&Bytes> = hash.iter().map(|(field, _)| field).collect();
        assert_eq!(fields, [&bytes("z"), &bytes("m"), &bytes("a")]);
        assert_eq!(hash.encoding(), "listpack");
    }

    #[test]
    fn breaking_a_bound_converts_for_good() {
        let mut long = HashValue::default();
        long.insert(&bytes("f"), Bytes::from(vec![b'v'; 64]));
        assert_eq!(long.encoding(), "listpack");
        long.insert(&bytes("f"), Bytes::from(vec![b'v'; 65]));
        assert_eq!(long.encoding(), "hashtable");
        long.insert(&bytes("f"), bytes("short"));
        assert_eq!(long.encoding(), "hashtable");

        let mut many = HashValue::default();
        for index in 0..LISTPACK_ENTRIES_MAX {
            many.insert(&Bytes::from(format!("f{index}")), bytes("v"));
        }
        assert_eq!(many.encoding(), "listpack");
        many.insert(&bytes("one more"), bytes("v"));
        assert_eq!((many.encoding(), many.len()), ("hashtable", LISTPACK_ENTRIES_MAX + 1));
        assert_eq!(many.get(&bytes("f7")), Some(&bytes("v")));
    }
}
