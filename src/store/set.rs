//! The set value, in the two representations Redis 7.0 reports through `OBJECT ENCODING`.
//!
//! - `intset`: a set whose members are all canonical decimal `i64`s (Redis's `string2ll`
//!   forms: no `+`, no leading zero, no `-0`) and at most [`INTSET_ENTRIES_MAX`] of them, kept
//!   as a persistent sorted vector of integers. Redis keeps such a set as a sorted integer
//!   array, so SMEMBERS, SSCAN and the set-algebra replies come out in ascending numeric order
//!   as in Redis, and SSCAN returns everything in one page with cursor 0.
//! - `hashtable`: anything else, kept as [`Members`]. A set converts when a member that is not
//!   an integer arrives or it grows past the bound, and never converts back. Redis 7.0 has no
//!   listpack sets (7.2 added them), so a set of a few strings is `hashtable`, as 7.0.15 says.
//!
//! Invariant: a stored set is never empty; the state machine deletes the key with its last
//! member.

use bytes::Bytes;
use imbl::Vector;

use super::members::{Members, MembersPage};
use crate::command::parse_i64;

/// The most members an `intset` holds (`set-max-intset-entries`).
pub const INTSET_ENTRIES_MAX: usize = 512;

/// A set. Cloning is O(1).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum SetValue {
    /// Small and all integers: sorted ascending.
    Intset(Vector<i64>),
    /// See [`Members`].
    Table(Members<()>),
}

impl Default for SetValue {
    fn default() -> SetValue {
        SetValue::Intset(Vector::new())
    }
}

/// A member as an intset stores it: a canonical decimal `i64` of at most 20 bytes.
fn as_integer(member: &[u8]) -> Option<i64> {
    (member.len() <= 20).then(|| parse_i64(member)).flatten()
}

fn integer_bytes(integer: i64) -> Bytes {
    Bytes::copy_from_slice(itoa::Buffer::new().format(integer).as_bytes())
}

impl SetValue {
    /// A set of `members` built as Redis builds a stored result (SINTERSTORE and friends):
    /// one insert at a time into a new set.
    pub fn from_members<'a>(members: impl IntoIterator<Item = &'a Bytes>) -> SetValue {
        let mut set = SetValue::default();
        for member in members {
            set.insert(member);
        }
        set
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        match self {
            SetValue::Intset(integers) => integers.len(),
            SetValue::Table(members) => members.len(),
        }
    }

    /// Whether the set has no member (a stored set never does).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            SetValue::Intset(_) => "intset",
            SetValue::Table(_) => "hashtable",
        }
    }

    /// Whether `member` is in the set.
    pub fn contains(&self, member: &Bytes) -> bool {
        match self {
            SetValue::Intset(integers) => {
                as_integer(member).is_some_and(|integer| integers.binary_search(&integer).is_ok())
            }
            SetValue::Table(members) => members.get(member).is_some(),
        }
    }

    /// Adds `member`; returns whether it is new.
    pub fn insert(&mut self, member: &Bytes) -> bool {
        if let SetValue::Intset(integers) = self {
            let Some(integer) = as_integer(member) else {
                self.convert_to_table();
                return self.insert(member);
            };
            let Err(index) = integers.binary_search(&integer) else {
                return false;
            };
            integers.insert(index, integer);
            if integers.len() > INTSET_ENTRIES_MAX {
                self.convert_to_table();
            }
            return true;
        }
        match self {
            SetValue::Table(members) => members.insert(member, ()).is_none(),
            SetValue::Intset(_) => unreachable!("handled above"),
        }
    }

    /// Removes `member`; returns whether it was present.
    pub fn remove(&mut self, member: &Bytes) -> bool {
        match self {
            SetValue::Intset(integers) => {
                let found =
                    as_integer(member).and_then(|integer| integers.binary_search(&integer).ok());
                found.map(|index| integers.remove(index)).is_some()
            }
            SetValue::Table(members) => members.remove(member).is_some(),
        }
    }

    /// The member at `index` (`index < len()`) in an order fixed by the set's history, for
    /// random choices.
    pub fn at(&self, index: usize) -> Bytes {
        match self {
            SetValue::Intset(integers) => integer_bytes(integers[index]),
            SetValue::Table(members) => members.at(index).0.clone(),
        }
    }

    /// Every member, in the order SMEMBERS replies with.
    pub fn iter(&self) -> Box<dyn Iterator<Item = Bytes> + '_> {
        match self {
            SetValue::Intset(integers) => {
                Box::new(integers.iter().map(|&integer| integer_bytes(integer)))
            }
            SetValue::Table(members) => Box::new(members.iter().map(|(member, ())| member.clone())),
        }
    }

    /// One SSCAN page: the members and the cursor to continue from. An intset is returned
    /// whole with cursor 0, whatever the cursor and count, as Redis does.
    pub fn scan(&self, cursor: u64, count: usize) -> (Vec<Bytes>, u64) {
        match self {
            SetValue::Intset(_) => (self.iter().collect(), 0),
            SetValue::Table(members) => {
                let MembersPage { members, next_cursor } = members.scan(cursor, count);
                (members.into_iter().map(|(member, ())| member.clone()).collect(), next_cursor)
            }
        }
    }

    fn convert_to_table(&mut self) {
        if let SetValue::Intset(integers) = self {
            let mut members = Members::default();
            for &integer in integers.iter() {
                members.insert(&integer_bytes(integer), ());
            }
            *self = SetValue::Table(members);
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
    fn canonical_integers_make_a_sorted_intset() {
        let mut set = SetValue::default();
        for member in ["5", "3", "-1", "10", "3"] {
            set.insert(&bytes(member));
        }
        assert_eq!(set.encoding(), "intset");
        assert_eq!(set.iter().collect::<Vec<_>>(), ["-1", "3", "5", "10"].map(bytes));
        assert!(set.contains(&bytes("10")) && !set.contains(&bytes("010")));
    }

    #[test]
    fn a_non_canonical_integer_or_the_513th_member_converts_for_good() {
        for odd in ["01", "+1", "-0", "0x", "9223372036854775808", " 1"] {
            let mut set = SetValue::from_members(&[bytes("1"), bytes(odd)]);
            assert_eq!((set.encoding(), set.len()), ("hashtable", 2), "{odd}");
            set.remove(&bytes(odd));
            assert_eq!(set.encoding(), "hashtable", "{odd}");
        }
        let members: Vec<Bytes> =
            (0..=INTSET_ENTRIES_MAX).map(|i| Bytes::from(i.to_string())).collect();
        assert_eq!(SetValue::from_members(&members[..INTSET_ENTRIES_MAX]).encoding(), "intset");
        let set = SetValue::from_members(&members);
        assert_eq!(set.encoding(), "hashtable");
        assert!(set.contains(&bytes("512")));
    }
}
