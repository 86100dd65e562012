//! The list value, and the list operations that more than one command needs (push, pop, move).
//!
//! A list is an `imbl::Vector` of elements: a relaxed radix-balanced tree, persistent like the
//! rest of the keyspace. Pushing or popping at either end is O(1) amortized, indexing, splitting
//! and inserting in the middle O(log n), and cloning O(1). A change to a list that an MVCC view
//! still holds copies only the path to the changed leaf (a few hundred bytes), never the list.
//! docs/decisions.md has the measurements behind the choice.
//!
//! The operations at the bottom of this file ([`push`], [`pop`], [`move_element`]) work on a
//! [`Db`] and keep its invariants: a list is never stored empty (the pop that takes the last
//! element deletes the key, as Redis does), a list's time to live survives changes to it, and a
//! key of another type is WRONGTYPE before anything changes. They take everything they need as
//! arguments, so a blocking pop served inside apply (BLPOP, BLMOVE) can call them as they are.
//!
//! Invariants:
//! - A stored `ListValue` is never empty.
//! - Elements are copied out of the request on the way in ([`push`], [`ListValue::set`]
//!   callers), so a stored element never pins a connection's read buffer.
//!
//! Caveats: `OBJECT ENCODING` reports `quicklist` for every list, as Redis 7.0 does (it has no
//! other list encoding); the memory layout behind the name is Concord's own.

use bytes::Bytes;
use imbl::Vector;

use super::{Db, Value};
use crate::command::lists::ListEnd;
use crate::command::{CommandError, Key};

/// A list value. Cloning is O(1).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ListValue {
    elements: Vector<Bytes>,
}

impl ListValue {
    /// An empty list.
    pub fn new() -> ListValue {
        ListValue::default()
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.elements.len()
    }

    /// Whether the list has no element (a stored list never does).
    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }

    /// The name `OBJECT ENCODING` reports (see the module docs).
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Every element, from the head.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Bytes> + ExactSizeIterator {
        self.elements.iter()
    }

    /// Adds `element` at `end`. The caller owns the bytes (see the module invariants).
    pub fn push(&mut self, end: ListEnd, element: Bytes) {
        match end {
            ListEnd::Left => self.elements.push_front(element),
            ListEnd::Right => self.elements.push_back(element),
        }
    }

    /// Removes and returns the element at `end`.
    pub fn pop(&mut self, end: ListEnd) -> Option<Bytes> {
        match end {
            ListEnd::Left => self.elements.pop_front(),
            ListEnd::Right => self.elements.pop_back(),
        }
    }

    /// The position of a Redis index (negative counts from the tail), if it is in the list.
    pub fn position(&self, index: i64) -> Option<usize> {
        let length = self.elements.len() as i64;
        let position = if index < 0 { length.checked_add(index)? } else { index };
        (0..length).contains(&position).then_some(position as usize)
    }

    /// LINDEX: the element at a Redis index.
    pub fn get(&self, index: i64) -> Option<&Bytes> {
        self.elements.get(self.position(index)?)
    }

    /// LSET: replaces the element at a Redis index; `false` if the index is out of range.
    pub fn set(&mut self, index: i64, element: Bytes) -> bool {
        match self.position(index) {
            Some(position) => {
                self.elements.set(position, element);
                true
            }
            None => false,
        }
    }

    /// The positions `start..=end` that a Redis range (LRANGE, LTRIM) selects: negative
    /// indexes count from the tail, a start before the head is the head, an end past the tail
    /// is the tail, and a range that selects nothing is `None`.
    fn clamp_range(&self, start: i64, end: i64) -> Option<(usize, usize)> {
        let length = self.elements.len() as i64;
        let resolve = |index: i64| if index < 0 { length + index } else { index };
        let start = resolve(start).max(0);
        let end = resolve(end);
        if start > end || start >= length {
            return None;
        }
        Some((start as usize, end.min(length - 1) as usize))
    }

    /// LRANGE: the elements from `start` to `end` inclusive (see `clamp_range`), found in
    /// O(log n) and then read in order.
    pub fn range(&self, start: i64, end: i64) -> impl Iterator<Item = &Bytes> {
        let range = match self.clamp_range(start, end) {
            Some((first, last)) => first..last + 1,
            None => 0..0,
        };
        self.elements.focus().narrow(range).into_iter()
    }

    /// LTRIM: keeps only the elements from `start` to `end` inclusive; may leave the list
    /// empty, which the caller must then delete.
    pub fn trim(&mut self, start: i64, end: i64) {
        match self.clamp_range(start, end) {
            Some((first, last)) => {
                self.elements.truncate(last + 1);
                self.elements = self.elements.skip(first);
            }
            None => self.elements.clear(),
        }
    }

    /// The positions (from the head) of elements equal to `element`, searching from `from`:
    /// the first `skip` matches are passed over, at most `limit` are reported (`None`: all),
    /// and at most `compared_max` elements are compared (`None`: all). LPOS, and LREM's search.
    pub fn find(
        &self,
        element: &[u8],
        from: ListEnd,
        skip: u64,
        limit: Option<u64>,
        compared_max: Option<u64>,
    ) -> Vec<usize> {
        if limit == Some(0) {
            return Vec::new();
        }
        let length = self.elements.len();
        let compared = compared_max.map_or(length, |max| length.min(max as usize));
        let mut found = Vec::new();
        let mut skipped = 0;
        let mut visit = |position: usize, candidate: &Bytes| {
            if candidate.as_ref() != element {
                return true;
            }
            if skipped < skip {
                skipped += 1;
                return true;
            }
            found.push(position);
            limit.is_none_or(|limit| (found.len() as u64) < limit)
        };
        match from {
            ListEnd::Left => {
                for (position, candidate) in self.elements.iter().enumerate().take(compared) {
                    if !visit(position, candidate) {
                        break;
                    }
                }
            }
            ListEnd::Right => {
                let reversed = self.elements.iter().enumerate().rev().take(compared);
                for (position, candidate) in reversed {
                    if !visit(position, candidate) {
                        break;
                    }
                }
            }
        }
        found
    }

    /// Removes the elements at `positions` (each in range, any order, no repeats).
    ///
    /// A few removals cost O(log n) each and leave the rest of the tree shared with any view;
    /// many rebuild the list once in O(n), which is cheaper than many splits.
    pub fn remove_positions(&mut self, positions: &[usize]) {
        if positions.len() <= REMOVALS_ONE_BY_ONE_MAX {
            let mut sorted = positions.to_vec();
            sorted.sort_unstable_by(|first, second| second.cmp(first));
            for position in sorted {
                self.elements.remove(position);
            }
            return;
        }
        let mut removed = vec![false; self.elements.len()];
        for position in positions {
            removed[*position] = true;
        }
        self.elements = self
            .elements
            .iter()
            .zip(removed)
            .filter(|(_, removed)| !removed)
            .map(|(element, _)| element.clone())
            .collect();
    }

    /// LINSERT at a position: the new element takes position `position`.
    pub fn insert(&mut self, position: usize, element: Bytes) {
        self.elements.insert(position, element);
    }
}

impl FromIterator<Bytes> for ListValue {
    fn from_iter<I: IntoIterator<Item = Bytes>>(elements: I) -> ListValue {
        ListValue { elements: elements.into_iter().collect() }
    }
}

/// Up to this many removals, LREM removes one element at a time (see `remove_positions`).
const REMOVALS_ONE_BY_ONE_MAX: usize = 32;

/// The list in `value`, or WRONGTYPE. Exhaustive on purpose: a new value type does not compile
/// until it says whether it is a list.
pub fn as_list(value: &Value) -> Result<&ListValue, CommandError> {
    match value {
        Value::List(list) => Ok(list),
        Value::String(_)
        | Value::Hash(_)
        | Value::Set(_)
        | Value::SortedSet(_)
        | Value::Stream(_) => Err(CommandError::WrongType),
    }
}

/// The live list at `key`: `None` if absent, WRONGTYPE if it holds another type.
pub fn list_at<'a>(
    db: &'a Db,
    key: &Key,
    now_ms: u64,
) -> Result<Option<&'a ListValue>, CommandError> {
    db.get(key, now_ms).map(|entry| as_list(&entry.value)).transpose()
}

/// The live list at `key` for changing it; the key's version is stamped (WATCH sees a change),
/// so callers check with [`list_at`] first when the change may turn out to be none. The type is
/// checked before anything is stamped: a WRONGTYPE error leaves the key as it was.
pub fn list_at_mut<'a>(
    db: &'a mut Db,
    key: &Key,
    now_ms: u64,
) -> Result<Option<&'a mut ListValue>, CommandError> {
    if list_at(db, key, now_ms)?.is_none() {
        return Ok(None);
    }
    match db.value_mut(key, now_ms) {
        Some(Value::List(list)) => Ok(Some(list)),
        _ => unreachable!("the key was just found holding a live list"),
    }
}

/// Deletes `key` if its list is empty, keeping the invariant that empty lists do not exist.
pub fn delete_if_empty(db: &mut Db, key: &Key, now_ms: u64) {
    if list_at(db, key, now_ms).is_ok_and(|list| list.is_some_and(ListValue::is_empty)) {
        db.remove(key, now_ms);
    }
}

/// LPUSH and its relatives: pushes each element at `end` in turn and returns the new length.
/// A missing key gets a new list unless `only_if_exists`, in which case nothing happens and
/// the length is 0. The elements are copied out of the request.
pub fn push(
    db: &mut Db,
    key: &Key,
    end: ListEnd,
    elements: &[Bytes],
    only_if_exists: bool,
    now_ms: u64,
) -> Result<usize, CommandError> {
    let owned = elements.iter().map(|element| Bytes::copy_from_slice(element));
    if list_at(db, key, now_ms)?.is_none() {
        if only_if_exists {
            return Ok(0);
        }
        let mut list = ListValue::new();
        owned.for_each(|element| list.push(end, element));
        let length = list.len();
        db.insert(key.clone(), Value::List(Box::new(list)), None, now_ms);
        return Ok(length);
    }
    let list = list_at_mut(db, key, now_ms)?.expect("the list was just found live");
    owned.for_each(|element| list.push(end, element));
    Ok(list.len())
}

/// LPOP and RPOP: up to `count` elements from `end`, in the order they were popped. `None` if
/// the key is absent. A count of 0 changes nothing. The key is deleted once empty.
pub fn pop(
    db: &mut Db,
    key: &Key,
    end: ListEnd,
    count: u64,
    now_ms: u64,
) -> Result<Option<Vec<Bytes>>, CommandError> {
    let Some(list) = list_at(db, key, now_ms)? else {
        return Ok(None);
    };
    let taken = count.min(list.len() as u64) as usize;
    if taken == 0 {
        return Ok(Some(Vec::new()));
    }
    let list = list_at_mut(db, key, now_ms)?.expect("the list was just found live");
    let popped = (0..taken).map(|_| list.pop(end).expect("count is within the length")).collect();
    delete_if_empty(db, key, now_ms);
    Ok(Some(popped))
}

/// LMOVE and RPOPLPUSH: pops an element from `from` of `source` and pushes it at `to` of
/// `destination`, which may be the same list (a rotation). `None` if the source is absent, in
/// which case the destination's type is not looked at, as in Redis. Both types are checked
/// before anything changes; the destination keeps its time to live, or is created without one.
pub fn move_element(
    db: &mut Db,
    source: &Key,
    destination: &Key,
    from: ListEnd,
    to: ListEnd,
    now_ms: u64,
) -> Result<Option<Bytes>, CommandError> {
    if list_at(db, source, now_ms)?.is_none() {
        return Ok(None);
    }
    let destination_exists = list_at(db, destination, now_ms)?.is_some();
    let list = list_at_mut(db, source, now_ms)?.expect("the source was just found live");
    let element = list.pop(from).expect("stored lists are never empty");
    if destination_exists || source == destination {
        let target = list_at_mut(db, destination, now_ms)?.expect("the destination is live");
        target.push(to, element.clone());
    } else {
        let mut target = ListValue::new();
        target.push(to, element.clone());
        db.insert(destination.clone(), Value::List(Box::new(target)), None, now_ms);
    }
    delete_if_empty(db, source, now_ms);
    Ok(Some(element))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(elements: &[&'static str]) -> ListValue {
        elements.iter().map(|element| Bytes::from_static(element.as_bytes())).collect()
    }

    fn texts<'a>(elements: impl Iterator<Item = &'a Bytes>) -> Vec<String> {
        elements.map(|element| String::from_utf8(element.to_vec()).unwrap()).collect()
    }

    #[test]
    fn ranges_clamp_like_lrange() {
        let abcde = list(&["a", "b", "c", "d", "e"]);
        let cases: [(i64, i64, &[&str]); 8] = [
            (0, -1, &["a", "b", "c", "d", "e"]),
            (-100, 100, &["a", "b", "c", "d", "e"]),
            (1, 2, &["b", "c"]),
            (-2, -1, &["d", "e"]),
            (5, 2, &[]),
            (-2, -3, &[]),
            (10, 20, &[]),
            (i64::MIN, i64::MAX, &["a", "b", "c", "d", "e"]),
        ];
        for (start, end, expected) in cases {
            assert_eq!(texts(abcde.range(start, end)), expected, "LRANGE {start} {end}");
            let mut trimmed = abcde.clone();
            trimmed.trim(start, end);
            assert_eq!(texts(trimmed.iter()), expected, "LTRIM {start} {end}");
        }
    }

    #[test]
    fn indexes_count_from_the_tail_when_negative() {
        let abc = list(&["a", "b", "c"]);
        assert_eq!(abc.get(-1), Some(&Bytes::from_static(b"c")));
        assert_eq!(abc.get(-3), Some(&Bytes::from_static(b"a")));
        assert_eq!(abc.get(-4), None);
        assert_eq!(abc.get(3), None);
        assert_eq!(abc.get(i64::MIN), None);
    }

    #[test]
    fn find_skips_limits_and_stops_comparing() {
        let list = list(&["a", "b", "c", "a", "b", "c", "a"]);
        assert_eq!(list.find(b"a", ListEnd::Left, 0, None, None), vec![0, 3, 6]);
        assert_eq!(list.find(b"a", ListEnd::Right, 1, None, None), vec![3, 0]);
        assert_eq!(list.find(b"a", ListEnd::Left, 0, Some(2), None), vec![0, 3]);
        assert_eq!(list.find(b"a", ListEnd::Left, 0, None, Some(4)), vec![0, 3]);
        assert_eq!(list.find(b"a", ListEnd::Right, 0, None, Some(3)), vec![6]);
        assert_eq!(list.find(b"z", ListEnd::Left, 0, None, None), Vec::<usize>::new());
    }

    #[test]
    fn removing_many_positions_rebuilds_the_same_list() {
        let elements: Vec<Bytes> = (0..200).map(|index| Bytes::from(format!("{index}"))).collect();
        let mut few: ListValue = elements.iter().cloned().collect();
        let mut many = few.clone();
        few.remove_positions(&[5, 1, 199]);
        assert_eq!(few.len(), 197);
        assert_eq!(few.get(1), Some(&Bytes::from_static(b"2")));
        let evens: Vec<usize> = (0..200).step_by(2).collect();
        many.remove_positions(&evens);
        assert_eq!(many.len(), 100);
        assert!(many.iter().all(|element| element.last().unwrap() % 2 == 1));
    }

    #[test]
    fn a_view_keeps_the_old_list_after_a_change() {
        let mut current: ListValue =
            (0..10_000).map(|index| Bytes::from(format!("{index}"))).collect();
        let view = current.clone();
        current.push(ListEnd::Left, Bytes::from_static(b"new"));
        current.set(5000, Bytes::from_static(b"changed"));
        assert_eq!(view.len(), 10_000);
        assert_eq!(view.get(0), Some(&Bytes::from_static(b"0")));
        assert_eq!(view.get(4999), Some(&Bytes::from_static(b"4999")));
    }

    #[test]
    fn popping_the_last_element_deletes_the_key() {
        let mut db = Db::default();
        let key = Bytes::from_static(b"k");
        push(&mut db, &key, ListEnd::Right, &[Bytes::from_static(b"a")], false, 0).unwrap();
        let popped = pop(&mut db, &key, ListEnd::Left, 5, 0).unwrap();
        assert_eq!(popped, Some(vec![Bytes::from_static(b"a")]));
        assert!(db.is_empty());
    }

    #[test]
    fn moving_within_one_list_of_one_element_keeps_it() {
        let mut db = Db::default();
        let key = Bytes::from_static(b"k");
        push(&mut db, &key, ListEnd::Right, &[Bytes::from_static(b"a")], false, 0).unwrap();
        let moved = move_element(&mut db, &key, &key, ListEnd::Left, ListEnd::Right, 0).unwrap();
        assert_eq!(moved, Some(Bytes::from_static(b"a")));
        assert_eq!(list_at(&db, &key, 0).unwrap().map(ListValue::len), Some(1));
    }
}
