//! Blocking stream reads: XREAD and XREADGROUP with BLOCK, as `state_machine::blocking` runs
//! them.
//!
//! A blocking read is first the non-blocking read, with its errors in Redis's order. When
//! that finds nothing, it waits: [`Attempt::Wait`] names each stream with the id it waits to
//! see an entry after. For XREAD that is the id it was given, with `$` resolved to the
//! stream's last id now (0-0 for a missing stream), as Redis resolves it when the command
//! blocks. For XREADGROUP it is the stream's last id now: the reader waits for an entry
//! added after it, and is then served from the group's last delivered id, as Redis serves
//! it when XADD signals the key.
//!
//! Serving a waiter from one stream ([`serve_read`], [`serve_group`]) answers only that
//! stream, as Redis does, with at most [`BLOCKED_COUNT_DEFAULT`] entries when the command had
//! no COUNT. An XREADGROUP waiter whose stream is gone (deleted, expired, of another type
//! now) or whose group was destroyed is answered Redis 7.0's error and leaves the table; an
//! XREAD waiter stays blocked through all of that, as in Redis.
//!
//! Caveats: waiters are served from the state of their streams, not from the writes Redis
//! signals, so two rare cases differ. A transaction that adds an entry and deletes it again
//! serves nothing here, where Redis answers the XREAD waiter an empty list of entries; and a
//! signal without a new entry (XGROUP DESTROY of another group) does the same in Redis.

use bytes::Bytes;

use crate::command::streams::{ReadFrom, ReadGroupFrom};
use crate::command::{CommandError, Key};
use crate::resp::Frame;
use crate::store::stream::{StreamId, StreamValue};
use crate::store::Db;

use super::{entries_frame, groups, read_streams, stream_at};

/// How many entries a waiter served after blocking gets per stream when its command gave no
/// COUNT: Redis's `XREAD_BLOCK_DEFAULT_COUNT`, so that a low id does not bring a huge reply.
pub const BLOCKED_COUNT_DEFAULT: u64 = 1000;

const KEY_GONE: &str = "UNBLOCKED the stream key no longer exists";
const GROUP_GONE: &str = "NOGROUP the consumer group this client was blocked on no longer exists";

/// What a blocking stream read does when it is applied.
#[derive(Debug, PartialEq)]
pub enum Attempt {
    /// The reply now: entries, or the error the command earned.
    Answered(Frame),
    /// Nothing to read: wait on each stream for an entry after this id.
    Wait(Vec<(Key, StreamId)>),
}

/// XREAD with BLOCK, when it is applied.
pub fn read(
    db: &Db,
    now_ms: u64,
    count: u64,
    streams: &[(Key, Result<ReadFrom, CommandError>)],
) -> Attempt {
    match read_streams(db, now_ms, count, streams) {
        Ok(Frame::NullArray) => {}
        Ok(reply) => return Attempt::Answered(reply),
        Err(error) => return Attempt::Answered(error.into()),
    }
    let waits = streams.iter().map(|(key, from)| {
        let after = match from {
            Ok(ReadFrom::After(id)) => *id,
            // `read_streams` answered the error of any id that had one.
            Ok(ReadFrom::Last) | Err(_) => last_id(db, key, now_ms),
        };
        (key.clone(), after)
    });
    Attempt::Wait(waits.collect())
}

/// XREADGROUP with BLOCK and `>` for every stream, when it is applied.
pub fn read_group(
    db: &mut Db,
    now_ms: u64,
    group: &Bytes,
    consumer: &Bytes,
    count: u64,
    no_ack: bool,
    keys: &[Key],
) -> Attempt {
    let streams: Vec<_> = keys.iter().map(|key| (key.clone(), Ok(ReadGroupFrom::New))).collect();
    match groups::read_group(db, now_ms, group, consumer, count, no_ack, &streams) {
        Ok(Frame::NullArray) => {}
        Ok(reply) => return Attempt::Answered(reply),
        Err(error) => return Attempt::Answered(error.into()),
    }
    Attempt::Wait(keys.iter().map(|key| (key.clone(), last_id(db, key, now_ms))).collect())
}

/// Serves an XREAD waiter from `key` if it has an entry after `after`.
pub fn serve_read(db: &Db, now_ms: u64, count: u64, key: &Key, after: StreamId) -> Option<Frame> {
    let stream = stream_at(db, key, now_ms).ok().flatten()?;
    let start = after.next()?;
    if stream.edge_id(true).is_none_or(|top| top <= after) {
        return None;
    }
    let count = usize::try_from(blocked_count(count)).unwrap_or(usize::MAX);
    let entries = stream.range(start, StreamId::MAX, false, count);
    Some(Frame::KeyedArrays(vec![(Frame::Bulk(key.clone()), entries_frame(entries))]))
}

/// Serves an XREADGROUP waiter from `key` if an entry was added after `seen` (the stream's
/// last id when it blocked) that the group has not delivered yet; answers Redis's error if
/// the stream or the group is gone.
#[allow(clippy::too_many_arguments)]
pub fn serve_group(
    db: &mut Db,
    now_ms: u64,
    group: &Bytes,
    consumer: &Bytes,
    count: u64,
    no_ack: bool,
    key: &Key,
    seen: StreamId,
) -> Option<Frame> {
    let Ok(Some(stream)) = stream_at(db, key, now_ms) else {
        return Some(Frame::error(KEY_GONE));
    };
    let Some(group_state) = stream.group(group) else {
        return Some(Frame::error(GROUP_GONE));
    };
    let top = stream.edge_id(true)?;
    if top <= seen || top <= group_state.last_delivered_id {
        return None;
    }
    let streams = [(key.clone(), Ok(ReadGroupFrom::New))];
    let count = blocked_count(count);
    let reply = groups::read_group(db, now_ms, group, consumer, count, no_ack, &streams);
    Some(reply.unwrap_or_else(Frame::from))
}

fn blocked_count(count: u64) -> u64 {
    if count == 0 {
        BLOCKED_COUNT_DEFAULT
    } else {
        count
    }
}

/// The stream's last id, 0-0 when there is no stream at `key`.
fn last_id(db: &Db, key: &Key, now_ms: u64) -> StreamId {
    stream_at(db, key, now_ms).ok().flatten().map_or(StreamId::MIN, StreamValue::last_id)
}
