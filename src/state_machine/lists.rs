//! Execution of the list family.
//!
//! Every command reaches a list through `store::list` (`list_at`, `push`, `pop`,
//! `move_element`), whose exhaustive `as_list` is the one place that decides WRONGTYPE for
//! lists. A change that turns out to change nothing (LREM without a match, LINSERT without the
//! pivot, a pop of 0 elements) is found on the read-only list first, so the key's version is
//! stamped, and WATCH fires, only when Redis would signal a modification.
//!
//! Replies follow Redis 7.0, including the null rules of the count forms: LPOP/RPOP with a
//! count and LMPOP answer a missing key with the null array (`*-1` in RESP2, `_` in RESP3), and
//! LPOP with a count of 0 on an existing list with the empty array.

use bytes::Bytes;

use crate::command::lists::{InsertPlace, ListEnd, ListRead, ListWrite, PositionCommand};
use crate::command::{parse_i64, CommandError, DbIndex, Key};
use crate::resp::Frame;
use crate::store::list::{self, list_at, list_at_mut};
use crate::store::{Db, Keyspace};

use super::ApplyContext;

#[cfg(test)]
mod tests;

const INDEX_OUT_OF_RANGE: CommandError = CommandError::other("ERR index out of range");

pub(super) fn read(keyspace: &Keyspace, db: DbIndex, now_ms: u64, read: &ListRead) -> Frame {
    let db = keyspace.db(db);
    let result = match read {
        ListRead::Len { key } => list_at(db, key, now_ms)
            .map(|list| Frame::Integer(list.map_or(0, |list| list.len()) as i64)),
        ListRead::Range { key, start, end } => list_at(db, key, now_ms).map(|list| {
            let elements =
                list.map(|list| list.range(*start, *end).cloned().map(Frame::Bulk).collect());
            Frame::Array(elements.unwrap_or_default())
        }),
        ListRead::Index { key, index } => read_index(db, now_ms, key, index),
        ListRead::Position(position) => read_position(db, now_ms, position),
    };
    result.unwrap_or_else(Frame::from)
}

pub(super) fn write(
    keyspace: &mut Keyspace,
    db: DbIndex,
    context: &ApplyContext,
    write: &ListWrite,
) -> Frame {
    let db = keyspace.db_mut(db);
    let now_ms = context.now_ms;
    let result = match write {
        ListWrite::Push { key, end, elements, only_if_exists } => {
            list::push(db, key, *end, elements, *only_if_exists, now_ms)
                .map(|length| Frame::Integer(length as i64))
        }
        ListWrite::Pop { key, end, count } => apply_pop(db, now_ms, key, *end, *count),
        ListWrite::Set { key, index, element } => apply_set(db, now_ms, key, index, element),
        ListWrite::Remove { key, count, element } => apply_remove(db, now_ms, key, *count, element),
        ListWrite::Trim { key, start, end } => apply_trim(db, now_ms, key, *start, *end),
        ListWrite::Insert { key, place, pivot, element } => {
            apply_insert(db, now_ms, key, *place, pivot, element)
        }
        ListWrite::Move { source, destination, from, to } => {
            list::move_element(db, source, destination, *from, *to, now_ms).map(Frame::bulk_or_null)
        }
        ListWrite::MultiPop { keys, end, count } => apply_multi_pop(db, now_ms, keys, *end, *count),
    };
    result.unwrap_or_else(Frame::from)
}

fn bulk_array(elements: Vec<Bytes>) -> Frame {
    Frame::Array(elements.into_iter().map(Frame::Bulk).collect())
}

/// LINDEX: the key's type is checked before the index is parsed, as in Redis.
fn read_index(db: &Db, now_ms: u64, key: &Key, index: &Bytes) -> Result<Frame, CommandError> {
    let Some(list) = list_at(db, key, now_ms)? else {
        return Ok(Frame::Null);
    };
    let index = parse_i64(index).ok_or(CommandError::NotInteger)?;
    Ok(Frame::bulk_or_null(list.get(index).cloned()))
}

/// LPOS: one position or nil without COUNT, an array of positions with it.
fn read_position(db: &Db, now_ms: u64, position: &PositionCommand) -> Result<Frame, CommandError> {
    let list = list_at(db, &position.key, now_ms)?;
    let limit = match position.count {
        None => Some(1),
        Some(0) => None,
        Some(count) => Some(count),
    };
    let compared_max = (position.compared_max > 0).then_some(position.compared_max);
    let found = list.map(|list| {
        list.find(&position.element, position.from, position.skip, limit, compared_max)
    });
    let found = found.unwrap_or_default();
    Ok(match position.count {
        None => found.first().map_or(Frame::Null, |index| Frame::Integer(*index as i64)),
        Some(_) => {
            Frame::Array(found.into_iter().map(|index| Frame::Integer(index as i64)).collect())
        }
    })
}

/// LPOP and RPOP. Without a count: one element or nil. With one: an array, or the null array
/// for a missing key.
fn apply_pop(
    db: &mut Db,
    now_ms: u64,
    key: &Key,
    end: ListEnd,
    count: Option<u64>,
) -> Result<Frame, CommandError> {
    let popped = list::pop(db, key, end, count.unwrap_or(1), now_ms)?;
    Ok(match (popped, count) {
        (None, None) => Frame::Null,
        (None, Some(_)) => Frame::NullArray,
        (Some(mut elements), None) => Frame::bulk_or_null(elements.pop()),
        (Some(elements), Some(_)) => bulk_array(elements),
    })
}

/// LSET, in Redis's order: the key must exist, hold a list, and then the index must be an
/// integer within it.
fn apply_set(
    db: &mut Db,
    now_ms: u64,
    key: &Key,
    index: &Bytes,
    element: &Bytes,
) -> Result<Frame, CommandError> {
    let list = list_at(db, key, now_ms)?.ok_or(CommandError::NoSuchKey)?;
    let index = parse_i64(index).ok_or(CommandError::NotInteger)?;
    if list.position(index).is_none() {
        return Err(INDEX_OUT_OF_RANGE);
    }
    let list = list_at_mut(db, key, now_ms)?.expect("the list was just found live");
    list.set(index, Bytes::copy_from_slice(element));
    Ok(Frame::ok())
}

/// LREM: a positive count removes the first matches from the head, a negative one from the
/// tail (i64::MIN included: there are never that many), zero every match.
fn apply_remove(
    db: &mut Db,
    now_ms: u64,
    key: &Key,
    count: i64,
    element: &Bytes,
) -> Result<Frame, CommandError> {
    let Some(list) = list_at(db, key, now_ms)? else {
        return Ok(Frame::Integer(0));
    };
    let from = if count < 0 { ListEnd::Right } else { ListEnd::Left };
    let limit = (count != 0).then_some(count.unsigned_abs());
    let positions = list.find(element, from, 0, limit, None);
    if !positions.is_empty() {
        let list = list_at_mut(db, key, now_ms)?.expect("the list was just found live");
        list.remove_positions(&positions);
        list::delete_if_empty(db, key, now_ms);
    }
    Ok(Frame::Integer(positions.len() as i64))
}

/// LTRIM: a range that keeps nothing deletes the key. A missing key is fine.
fn apply_trim(
    db: &mut Db,
    now_ms: u64,
    key: &Key,
    start: i64,
    end: i64,
) -> Result<Frame, CommandError> {
    if let Some(list) = list_at_mut(db, key, now_ms)? {
        list.trim(start, end);
        list::delete_if_empty(db, key, now_ms);
    }
    Ok(Frame::ok())
}

/// LINSERT: the new length, -1 if the pivot is not in the list, 0 if the key is missing.
fn apply_insert(
    db: &mut Db,
    now_ms: u64,
    key: &Key,
    place: InsertPlace,
    pivot: &Bytes,
    element: &Bytes,
) -> Result<Frame, CommandError> {
    let Some(list) = list_at(db, key, now_ms)? else {
        return Ok(Frame::Integer(0));
    };
    let Some(&pivot_position) = list.find(pivot, ListEnd::Left, 0, Some(1), None).first() else {
        return Ok(Frame::Integer(-1));
    };
    let position = match place {
        InsertPlace::Before => pivot_position,
        InsertPlace::After => pivot_position + 1,
    };
    let list = list_at_mut(db, key, now_ms)?.expect("the list was just found live");
    list.insert(position, Bytes::copy_from_slice(element));
    Ok(Frame::Integer(list.len() as i64))
}

/// LMPOP: the first key holding a list gives up to `count` elements, as `[key, [elements]]`.
/// Keys are looked at in order, so a key of another type is WRONGTYPE only if no list came
/// before it. No list at all is the null array.
fn apply_multi_pop(
    db: &mut Db,
    now_ms: u64,
    keys: &[Key],
    end: ListEnd,
    count: u64,
) -> Result<Frame, CommandError> {
    for key in keys {
        if let Some(popped) = list::pop(db, key, end, count, now_ms)? {
            return Ok(Frame::Array(vec![Frame::Bulk(key.clone()), bulk_array(popped)]));
        }
    }
    Ok(Frame::NullArray)
}
