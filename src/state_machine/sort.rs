//! Execution of SORT and SORT_RO.
//!
//! A sort runs in four steps, each a pure function of the keyspace version it reads:
//!
//! 1. The value at the key must be a list, a set or a sorted set (WRONGTYPE otherwise); a
//!    missing key sorts as an empty list.
//! 2. LIMIT becomes the first and last position to output ([`output_range`]), with Redis's
//!    clamping.
//! 3. The elements are collected. Unsorted (a BY pattern without `*`), a list or sorted set
//!    keeps its own order (reversed by DESC) and only the limited range is read; a set keeps
//!    its iteration order, which DESC does not change.
//! 4. Otherwise the elements are sorted: by number (the element, or the value BY finds for it;
//!    a missing one is 0), ties broken by the elements' bytes; or with ALPHA by bytes (a
//!    missing BY value first, ties kept in collection order). The sort is stable, as glibc's
//!    `qsort` (a merge sort) is for Redis.
//!
//! Then every GET pattern is looked up for each element in the range ([`lookup`]), or the
//! element itself is output. With STORE the output becomes a list (a missing GET value is the
//! empty string) that replaces the destination, whatever it held, without a time to live; an
//! empty output deletes the destination instead.
//!
//! Redis sorts a set before storing it even when told not to sort (BY nosort ... STORE), by
//! ALPHA and without BY, so that the stored list is the same on replicas whose hash tables
//! iterate differently; Concord does the same, for the same reason.
//!
//! Caveats:
//! - A sorted set that is sorted (not BY nosort) is collected in score order, where Redis
//!   collects it in hash-table order. Only ALPHA with BY leaves ties in collection order, so
//!   only there can the order of elements with equal BY values differ from Redis's (which is
//!   not predictable either).
//! - With BY and a LIMIT narrower than the value, Redis sorts with a partial quicksort that is
//!   not stable; Concord's stable sort can order ALPHA BY ties differently there too.
//! - An unsorted set of more than a few integers is listed in Concord's fixed hash order, not in
//!   Redis's hash-table order (see `store::set`).
//! - Redis reads `errno` after `strtod` without clearing it, so once a weight is out of range
//!   a later numeric SORT on the same server can fail with the same error until something else
//!   clears `errno`. Concord judges each weight on its own.

use bytes::Bytes;

use crate::command::lists::ListEnd;
use crate::command::sort::{c_string, star_position, SortCommand};
use crate::command::zsets::parse_sort_weight;
use crate::command::{CommandError, DbIndex, Key};
use crate::resp::Frame;
use crate::store::{Db, Keyspace, ListValue, SetValue, SortedSet, Value};

use super::ApplyContext;

#[cfg(test)]
mod tests;

const NOT_A_NUMBER: CommandError =
    CommandError::other("ERR One or more scores can't be converted into double");

/// SORT_RO.
pub(super) fn read(keyspace: &Keyspace, db: DbIndex, now_ms: u64, command: &SortCommand) -> Frame {
    sort(keyspace.db(db), now_ms, command).map_or_else(Frame::from, output_reply)
}

/// SORT, with or without STORE.
pub(super) fn write(
    keyspace: &mut Keyspace,
    db: DbIndex,
    context: &ApplyContext,
    command: &SortCommand,
) -> Frame {
    let db = keyspace.db_mut(db);
    let now_ms = context.now_ms;
    let output = match sort(db, now_ms, command) {
        Ok(output) => output,
        Err(error) => return error.into(),
    };
    match &command.store {
        None => output_reply(output),
        Some(destination) => store(db, now_ms, destination, output),
    }
}

/// The value a sort reads, after the type check.
#[derive(Clone, Copy)]
enum Sortable<'a> {
    List(&'a ListValue),
    Set(&'a SetValue),
    SortedSet(&'a SortedSet),
}

impl Sortable<'_> {
    fn len(self) -> usize {
        match self {
            Sortable::List(list) => list.len(),
            Sortable::Set(set) => set.len(),
            Sortable::SortedSet(set) => set.len(),
        }
    }
}

/// The sortable value in `value`, or WRONGTYPE. Exhaustive, so a new type must decide.
fn as_sortable(value: &Value) -> Result<Sortable<'_>, CommandError> {
    match value {
        Value::List(list) => Ok(Sortable::List(list)),
        Value::Set(set) => Ok(Sortable::Set(set)),
        Value::SortedSet(set) => Ok(Sortable::SortedSet(set)),
        Value::String(_) | Value::Hash(_) | Value::Stream(_) => Err(CommandError::WrongType),
    }
}

/// Runs the sort and returns its output: one item per element in the range, or one per GET
/// pattern and element; `None` where a GET pattern found nothing.
fn sort(db: &Db, now_ms: u64, command: &SortCommand) -> Result<Vec<Option<Bytes>>, CommandError> {
    let value = db.get(&command.key, now_ms).map(|entry| as_sortable(&entry.value)).transpose()?;
    let mut unsorted = command.unsorted;
    let mut alpha = command.alpha;
    let mut by = command.by.as_ref();
    if unsorted && command.store.is_some() && matches!(value, Some(Sortable::Set(_))) {
        // See the module docs: a stored set is always sorted.
        (unsorted, alpha, by) = (false, true, None);
    }
    let length = value.map_or(0, Sortable::len) as i64;
    let (mut start, mut end) = output_range(command.limit, length);
    let mut elements = match value {
        None => Vec::new(),
        Some(value) if unsorted => {
            let collected = collect_in_order(value, command.descending, start, end);
            if matches!(value, Sortable::List(_) | Sortable::SortedSet(_)) {
                // Only the range was read: it now starts at position 0.
                (start, end) = (0, end - start);
            }
            collected
        }
        Some(value) => collect_in_order(value, false, 0, length - 1),
    };
    if !unsorted {
        let order = Order { by, alpha, descending: command.descending };
        elements = sort_elements(db, now_ms, elements, &order)?;
    }
    let chosen = if end >= start { &elements[start as usize..=end as usize] } else { &[] };
    Ok(output(db, now_ms, chosen, &command.gets))
}

/// LIMIT as Redis turns it into the first and last position to output, for a value of
/// `length` elements: a negative offset is 0, a negative count means "to the end", and a range
/// past the end is empty (`end < start`).
fn output_range(limit: Option<(i64, i64)>, length: i64) -> (i64, i64) {
    let (offset, count) = limit.unwrap_or((0, -1));
    let mut start = offset.max(0);
    let mut end = if count < 0 { length - 1 } else { start.saturating_add(count) - 1 };
    if start >= length {
        (start, end) = (length - 1, length - 2);
    }
    (start, end.min(length - 1))
}

/// The elements of `value` in its own order: for a list or sorted set only positions
/// `start..=end` (from the tail when `descending`), for a set all of them in iteration order.
fn collect_in_order(value: Sortable, descending: bool, start: i64, end: i64) -> Vec<Bytes> {
    let skip = start.max(0) as usize;
    let take = (end - start + 1).max(0) as usize;
    match value {
        Sortable::List(list) if descending => {
            list.iter().rev().skip(skip).take(take).cloned().collect()
        }
        Sortable::List(list) => list.iter().skip(skip).take(take).cloned().collect(),
        Sortable::SortedSet(_) if take == 0 => Vec::new(),
        Sortable::SortedSet(set) if descending => set
            .iter_from(set.len() - 1 - skip, true)
            .take(take)
            .map(|(member, _)| member.clone())
            .collect(),
        Sortable::SortedSet(set) => {
            set.iter_from(skip, false).take(take).map(|(member, _)| member.clone()).collect()
        }
        Sortable::Set(set) => set.iter().collect(),
    }
}

/// How to sort: what to compare, and in which direction.
struct Order<'a> {
    by: Option<&'a Bytes>,
    alpha: bool,
    descending: bool,
}

/// Sorts the elements (see the module docs for the rules), stably.
fn sort_elements(
    db: &Db,
    now_ms: u64,
    elements: Vec<Bytes>,
    order: &Order,
) -> Result<Vec<Bytes>, CommandError> {
    let weight_of = |element: &Bytes| match order.by {
        Some(pattern) => lookup(db, now_ms, pattern, element),
        None => Some(element.clone()),
    };
    let direct = |ordering: std::cmp::Ordering| {
        if order.descending {
            ordering.reverse()
        } else {
            ordering
        }
    };
    if order.alpha {
        let mut keyed: Vec<(Option<Bytes>, Bytes)> =
            elements.into_iter().map(|element| (weight_of(&element), element)).collect();
        keyed.sort_by(|first, second| direct(first.0.cmp(&second.0)));
        return Ok(keyed.into_iter().map(|(_, element)| element).collect());
    }
    let mut keyed = Vec::with_capacity(elements.len());
    for element in elements {
        let weight = match weight_of(&element) {
            Some(text) => parse_sort_weight(&text).ok_or(NOT_A_NUMBER)?,
            None => 0.0,
        };
        keyed.push((weight, element));
    }
    keyed.sort_by(|(first_weight, first), (second_weight, second)| {
        let ordering = first_weight.partial_cmp(second_weight).expect("weights are never NaN");
        direct(ordering.then_with(|| first.cmp(second)))
    });
    Ok(keyed.into_iter().map(|(_, element)| element).collect())
}

/// The output items for the chosen elements: each element, or each GET pattern's value.
fn output(db: &Db, now_ms: u64, chosen: &[Bytes], gets: &[Bytes]) -> Vec<Option<Bytes>> {
    if gets.is_empty() {
        return chosen.iter().cloned().map(Some).collect();
    }
    let mut items = Vec::with_capacity(chosen.len() * gets.len());
    for element in chosen {
        items.extend(gets.iter().map(|pattern| lookup(db, now_ms, pattern, element)));
    }
    items
}

/// What a BY or GET pattern finds for `element`, as Redis's pattern lookup does: `#` is the
/// element itself; otherwise the first `*` is replaced by the element to make a key, whose
/// string value is the result, unless a `->field` follows the `*`, in which case the key must
/// hold a hash and the result is that field. A pattern without `*`, a missing key or field,
/// or a key of another type finds nothing.
fn lookup(db: &Db, now_ms: u64, pattern: &Bytes, element: &Bytes) -> Option<Bytes> {
    let searched = c_string(pattern);
    if searched == b"#" {
        return Some(element.clone());
    }
    let star = star_position(pattern)?;
    // The arrow counts only when something follows it (before any NUL byte).
    let arrow = memchr::memmem::find(&searched[star + 1..], b"->")
        .map(|offset| star + 1 + offset)
        .filter(|&arrow| arrow + 2 < searched.len());
    let key_end = arrow.unwrap_or(pattern.len());
    let mut key = Vec::with_capacity(key_end - 1 + element.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(element);
    key.extend_from_slice(&pattern[star + 1..key_end]);
    let entry = db.get(&Key::from(key), now_ms)?;
    match (arrow, &entry.value) {
        (Some(arrow), Value::Hash(hash)) => hash.get(&pattern.slice(arrow + 2..)).cloned(),
        (None, Value::String(string)) => Some(string.to_bytes()),
        _ => None,
    }
}

fn output_reply(items: Vec<Option<Bytes>>) -> Frame {
    Frame::Array(items.into_iter().map(Frame::bulk_or_null).collect())
}

/// STORE: the output replaces the destination as a list, or deletes it when empty.
fn store(db: &mut Db, now_ms: u64, destination: &Key, items: Vec<Option<Bytes>>) -> Frame {
    let length = items.len() as i64;
    if items.is_empty() {
        db.remove(destination, now_ms);
    } else {
        let mut list = ListValue::new();
        for item in items {
            list.push(ListEnd::Right, item.unwrap_or_default());
        }
        db.insert(destination.clone(), Value::List(Box::new(list)), None, now_ms);
    }
    Frame::Integer(length)
}
