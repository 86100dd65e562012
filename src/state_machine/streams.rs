//! Execution of the stream family.
//!
//! Every command reaches a stored value through [`stream_at`] (or [`as_stream`]), whose
//! exhaustive `match` on [`Value`] decides WRONGTYPE for streams. Unlike the other
//! collections, a stream may be empty and still exist (XDEL, XTRIM and XGROUP CREATE ...
//! MKSTREAM leave or make one), as in Redis.
//!
//! Ids that XADD generates come from the entry's time (`now_ms`), delivery and seen times of
//! consumer groups too, so every replica assigns the same; reads (XPENDING's and XINFO's idle
//! times) use the view's time. The consumer-group writes are in `groups`, XINFO in `info`,
//! the blocking reads in `waiting`.

mod groups;
mod info;
pub(super) mod waiting;

use bytes::Bytes;

use crate::command::streams::{AddId, ReadFrom, StreamRead, StreamWrite};
use crate::command::{CommandError, DbIndex, Key};
use crate::resp::Frame;
use crate::store::stream::{StreamEntry, StreamId, StreamValue, Trim};
use crate::store::{Db, Keyspace, Value};

use super::ApplyContext;

const NOT_GREATER: CommandError = CommandError::other(
    "ERR The ID specified in XADD is equal or smaller than the target stream top item",
);
const EXHAUSTED: CommandError = CommandError::other(
    "ERR The stream has exhausted the last possible ID, unable to add more items",
);

pub(super) fn read(keyspace: &Keyspace, db: DbIndex, now_ms: u64, read: &StreamRead) -> Frame {
    let db = keyspace.db(db);
    let result = match read {
        StreamRead::Len { key } => stream_at(db, key, now_ms)
            .map(|stream| Frame::Integer(stream.map_or(0, StreamValue::len) as i64)),
        StreamRead::Range { key, start, end, count, reverse } => {
            read_range(db, now_ms, key, *start, *end, *count, *reverse)
        }
        StreamRead::Read { count, streams } => read_streams(db, now_ms, *count, streams),
        StreamRead::Pending { key, group, range } => {
            info::pending(db, now_ms, key, group, range.as_ref())
        }
        StreamRead::InfoStream { key, full } => info::stream(db, now_ms, key, *full),
        StreamRead::InfoGroups { key } => info::groups(db, now_ms, key),
        StreamRead::InfoConsumers { key, group } => info::consumers(db, now_ms, key, group),
        StreamRead::InfoHelp => Ok(help(crate::command::streams::XINFO_HELP)),
        StreamRead::GroupHelp => Ok(help(crate::command::streams::XGROUP_HELP)),
    };
    result.unwrap_or_else(Frame::from)
}

pub(super) fn write(
    keyspace: &mut Keyspace,
    db: DbIndex,
    context: &ApplyContext,
    write: &StreamWrite,
) -> Frame {
    let db = keyspace.db_mut(db);
    let now_ms = context.now_ms;
    let result = match write {
        StreamWrite::Add { key, no_make_stream, trim, id, pairs } => {
            apply_add(db, now_ms, key, *no_make_stream, trim.as_ref(), *id, pairs)
        }
        StreamWrite::Delete { key, ids } => apply_delete(db, now_ms, key, ids),
        StreamWrite::Trim { key, trim } => apply_trim(db, now_ms, key, trim),
        StreamWrite::SetId { key, last_id, entries_added, max_deleted_entry_id } => {
            apply_set_id(db, now_ms, key, *last_id, *entries_added, *max_deleted_entry_id)
        }
        StreamWrite::Group(write) => groups::write(db, now_ms, write),
    };
    result.unwrap_or_else(Frame::from)
}

fn help(lines: &[&'static str]) -> Frame {
    Frame::Array(lines.iter().map(|line| Frame::simple(line)).collect())
}

/// The stream in `value`, or WRONGTYPE. Exhaustive on purpose (see the module docs).
fn as_stream(value: &Value) -> Result<&StreamValue, CommandError> {
    match value {
        Value::Stream(stream) => Ok(stream),
        Value::String(_)
        | Value::List(_)
        | Value::Hash(_)
        | Value::Set(_)
        | Value::SortedSet(_) => Err(CommandError::WrongType),
    }
}

/// The live stream at `key`: `None` if absent, WRONGTYPE if it holds another type.
fn stream_at<'a>(
    db: &'a Db,
    key: &Key,
    now_ms: u64,
) -> Result<Option<&'a StreamValue>, CommandError> {
    db.get(key, now_ms).map(|entry| as_stream(&entry.value)).transpose()
}

/// The live stream at `key`, to change it; the caller checked it is one with [`stream_at`].
fn stream_mut<'a>(db: &'a mut Db, key: &Key, now_ms: u64) -> Option<&'a mut StreamValue> {
    match db.value_mut(key, now_ms)? {
        Value::Stream(stream) => Some(stream),
        _ => None,
    }
}

/// An entry as every stream reply shows it: its id, then its fields and values in one array.
fn entry_frame(entry: StreamEntry) -> Frame {
    let mut items = Vec::with_capacity(entry.pairs.len() * 2);
    for (field, value) in entry.pairs {
        items.push(Frame::Bulk(field));
        items.push(Frame::Bulk(value));
    }
    Frame::Array(vec![id_frame(entry.id), Frame::Array(items)])
}

fn id_frame(id: StreamId) -> Frame {
    Frame::Bulk(id.to_bytes())
}

fn entries_frame(entries: Vec<StreamEntry>) -> Frame {
    Frame::Array(entries.into_iter().map(entry_frame).collect())
}

fn read_range(
    db: &Db,
    now_ms: u64,
    key: &Key,
    start: StreamId,
    end: StreamId,
    count: Option<u64>,
    reverse: bool,
) -> Result<Frame, CommandError> {
    let Some(stream) = stream_at(db, key, now_ms)? else {
        return Ok(Frame::Array(vec![]));
    };
    match count {
        Some(0) => Ok(Frame::NullArray),
        count => {
            let count = usize::try_from(count.unwrap_or(0)).unwrap_or(usize::MAX);
            Ok(entries_frame(stream.range(start, end, reverse, count)))
        }
    }
}

/// XREAD: every stream's entries after its id, for the streams that have some; a null array
/// if none has.
fn read_streams(
    db: &Db,
    now_ms: u64,
    count: u64,
    streams: &[(Key, Result<ReadFrom, CommandError>)],
) -> Result<Frame, CommandError> {
    let mut after = Vec::with_capacity(streams.len());
    for (key, from) in streams {
        let stream = stream_at(db, key, now_ms)?;
        let id = match from.clone()? {
            ReadFrom::Last => stream.map_or(StreamId::MIN, StreamValue::last_id),
            ReadFrom::After(id) => id,
        };
        after.push((key, stream, id));
    }
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    let mut served = Vec::new();
    for (key, stream, id) in after {
        let Some(stream) = stream else { continue };
        let Some(start) = id.next() else { continue };
        if stream.edge_id(true).is_some_and(|last| last > id) {
            let entries = stream.range(start, StreamId::MAX, false, count);
            served.push((Frame::Bulk(key.clone()), entries_frame(entries)));
        }
    }
    Ok(if served.is_empty() { Frame::NullArray } else { Frame::KeyedArrays(served) })
}

#[allow(clippy::too_many_arguments)]
fn apply_add(
    db: &mut Db,
    now_ms: u64,
    key: &Key,
    no_make_stream: bool,
    trim: Option<&Trim>,
    id: AddId,
    pairs: &[(Bytes, Bytes)],
) -> Result<Frame, CommandError> {
    let existing = stream_at(db, key, now_ms)?;
    if existing.is_none() && no_make_stream {
        return Ok(Frame::Null);
    }
    let last = existing.map_or(StreamId::MIN, StreamValue::last_id);
    if last == StreamId::MAX {
        return Err(EXHAUSTED);
    }
    let new_id = next_id(last, id, now_ms)?;
    if existing.is_none() {
        db.insert(key.clone(), Value::Stream(Box::default()), None, now_ms);
    }
    let stream = stream_mut(db, key, now_ms).expect("the stream exists now");
    stream.append(new_id, pairs);
    if let Some(trim) = trim {
        stream.trim(trim);
    }
    Ok(id_frame(new_id))
}

/// The id XADD gives its entry after `last`, as Redis's `streamAppendItem` decides it.
fn next_id(last: StreamId, id: AddId, now_ms: u64) -> Result<StreamId, CommandError> {
    let id = match id {
        AddId::Auto if now_ms > last.ms => StreamId { ms: now_ms, seq: 0 },
        AddId::Auto => last.next().ok_or(EXHAUSTED)?,
        AddId::Partial(ms) if ms == last.ms => {
            StreamId { ms, seq: last.seq.checked_add(1).ok_or(NOT_GREATER)? }
        }
        AddId::Partial(ms) => StreamId { ms, seq: 0 },
        AddId::Explicit(id) => id,
    };
    if id <= last {
        return Err(NOT_GREATER);
    }
    Ok(id)
}

fn apply_delete(
    db: &mut Db,
    now_ms: u64,
    key: &Key,
    ids: &Result<Vec<StreamId>, CommandError>,
) -> Result<Frame, CommandError> {
    if stream_at(db, key, now_ms)?.is_none() {
        return Ok(Frame::Integer(0));
    }
    let ids = ids.clone()?;
    let present = stream_at(db, key, now_ms)?.expect("checked above");
    if !ids.iter().any(|id| present.contains(*id)) {
        return Ok(Frame::Integer(0));
    }
    let stream = stream_mut(db, key, now_ms).expect("checked above");
    let deleted = ids.iter().filter(|id| stream.delete(**id)).count();
    Ok(Frame::Integer(deleted as i64))
}

fn apply_trim(db: &mut Db, now_ms: u64, key: &Key, trim: &Trim) -> Result<Frame, CommandError> {
    let Some(stream) = stream_at(db, key, now_ms)? else {
        return Ok(Frame::Integer(0));
    };
    // Trimmed on an O(1) copy, stored only if something went: a trim that removes nothing
    // leaves the key untouched, so WATCH sees no change, as in Redis.
    let mut trimmed = stream.clone();
    let removed = trimmed.trim(trim);
    if removed > 0 {
        *stream_mut(db, key, now_ms).expect("checked above") = trimmed;
    }
    Ok(Frame::Integer(removed as i64))
}

fn apply_set_id(
    db: &mut Db,
    now_ms: u64,
    key: &Key,
    last_id: StreamId,
    entries_added: Option<u64>,
    max_deleted_entry_id: Option<StreamId>,
) -> Result<Frame, CommandError> {
    let Some(stream) = stream_at(db, key, now_ms)? else {
        return Err(CommandError::NoSuchKey);
    };
    if let Some(top) = stream.edge_id(true) {
        if last_id < top {
            return Err(CommandError::other(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if entries_added.is_some_and(|added| added < stream.len()) {
            return Err(CommandError::other(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    let stream = stream_mut(db, key, now_ms).expect("checked above");
    stream.set_counters(last_id, entries_added, max_deleted_entry_id);
    Ok(Frame::ok())
}
