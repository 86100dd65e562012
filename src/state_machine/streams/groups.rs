//! Execution of the consumer-group writes: XGROUP, XREADGROUP, XACK, XCLAIM, XAUTOCLAIM.
//!
//! Each follows Redis 7.0's order of checks (key, type, group, then the arguments Redis reads
//! late) and its bookkeeping of the PEL, delivery counts and the group's `entries_read`.
//! Every time recorded is the entry's `now_ms`.

use bytes::Bytes;

use crate::command::streams::{
    ClaimDelivery, ClaimOptions, GroupStart, ReadGroupFrom, StreamGroupWrite,
};
use crate::command::{CommandError, Key};
use crate::resp::Frame;
use crate::store::stream::{ConsumerGroup, StreamId, StreamValue};
use crate::store::{Db, Value};

use super::{entries_frame, entry_frame, id_frame, stream_at, stream_mut};

const KEY_REQUIRED: CommandError = CommandError::other(
    "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
);

pub(super) fn write(
    db: &mut Db,
    now_ms: u64,
    write: &StreamGroupWrite,
) -> Result<Frame, CommandError> {
    match write {
        StreamGroupWrite::Create { key, group, start, make_stream, entries_read } => {
            create(db, now_ms, key, group, start, *make_stream, *entries_read)
        }
        StreamGroupWrite::SetId { key, group, settings } => {
            let (start, entries_read) = {
                existing_group(db, now_ms, key, group)?;
                settings.clone()?
            };
            let stream = stream_mut(db, key, now_ms).expect("checked above");
            let last_id = match start {
                GroupStart::Last => stream.last_id(),
                GroupStart::Id(id) => id,
            };
            let group = stream.group_mut(group).expect("checked above");
            group.last_delivered_id = last_id;
            group.entries_read = entries_read;
            Ok(Frame::ok())
        }
        StreamGroupWrite::Destroy { key, group } => {
            let stream = stream_at(db, key, now_ms)?.ok_or(KEY_REQUIRED)?;
            if stream.group(group).is_none() {
                return Ok(Frame::Integer(0));
            }
            stream_mut(db, key, now_ms).expect("checked above").destroy_group(group);
            Ok(Frame::Integer(1))
        }
        StreamGroupWrite::CreateConsumer { key, group, consumer } => {
            if existing_group(db, now_ms, key, group)?.consumers().contains_key(consumer) {
                return Ok(Frame::Integer(0));
            }
            let group = group_mut(db, now_ms, key, group);
            Ok(Frame::Integer(i64::from(group.create_consumer(consumer, now_ms))))
        }
        StreamGroupWrite::DeleteConsumer { key, group, consumer } => {
            if !existing_group(db, now_ms, key, group)?.consumers().contains_key(consumer) {
                return Ok(Frame::Integer(0));
            }
            let group = group_mut(db, now_ms, key, group);
            Ok(Frame::Integer(group.delete_consumer(consumer) as i64))
        }
        StreamGroupWrite::ReadGroup { group, consumer, count, no_ack, streams } => {
            read_group(db, now_ms, group, consumer, *count, *no_ack, streams)
        }
        StreamGroupWrite::Ack { key, group, ids } => acknowledge(db, now_ms, key, group, ids),
        StreamGroupWrite::Claim { key, group, consumer, options } => {
            claimed_group(db, now_ms, key, group)?;
            claim(db, now_ms, key, group, consumer, &options.clone()?)
        }
        StreamGroupWrite::AutoClaim {
            key,
            group,
            consumer,
            min_idle_ms,
            start,
            count,
            just_id,
        } => {
            claimed_group(db, now_ms, key, group)?;
            let claim = AutoClaim {
                min_idle_ms: *min_idle_ms,
                start: *start,
                count: *count,
                just_id: *just_id,
            };
            auto_claim(db, now_ms, key, group, consumer, &claim)
        }
    }
}

/// The group XGROUP SETID, CREATECONSUMER and DELCONSUMER work on, with Redis's errors for a
/// missing key or group.
fn existing_group<'a>(
    db: &'a Db,
    now_ms: u64,
    key: &Key,
    group: &Bytes,
) -> Result<&'a ConsumerGroup, CommandError> {
    let stream = stream_at(db, key, now_ms)?.ok_or(KEY_REQUIRED)?;
    stream.group(group).ok_or_else(|| {
        CommandError::Other(
            format!(
                "NOGROUP No such consumer group '{}' for key name '{}'",
                String::from_utf8_lossy(group),
                String::from_utf8_lossy(key)
            )
            .into(),
        )
    })
}

/// The group XCLAIM and XAUTOCLAIM work on, with their error for a missing key or group.
fn claimed_group(db: &Db, now_ms: u64, key: &Key, group: &Bytes) -> Result<(), CommandError> {
    match stream_at(db, key, now_ms)? {
        Some(stream) if stream.group(group).is_some() => Ok(()),
        _ => Err(no_key_or_group(key, group, "")),
    }
}

fn no_key_or_group(key: &Key, group: &Bytes, suffix: &str) -> CommandError {
    CommandError::Other(
        format!(
            "NOGROUP No such key '{}' or consumer group '{}'{suffix}",
            String::from_utf8_lossy(key),
            String::from_utf8_lossy(group)
        )
        .into(),
    )
}

/// The group, to change it; the caller checked that it exists.
fn group_mut<'a>(db: &'a mut Db, now_ms: u64, key: &Key, group: &Bytes) -> &'a mut ConsumerGroup {
    stream_mut(db, key, now_ms)
        .and_then(|stream| stream.group_mut(group))
        .expect("the caller checked the group exists")
}

fn create(
    db: &mut Db,
    now_ms: u64,
    key: &Key,
    group: &Bytes,
    start: &Result<GroupStart, CommandError>,
    make_stream: bool,
    entries_read: Option<u64>,
) -> Result<Frame, CommandError> {
    let stream = stream_at(db, key, now_ms)?;
    if stream.is_none() && !make_stream {
        return Err(KEY_REQUIRED);
    }
    let last_id = match start.clone()? {
        GroupStart::Last => stream.map_or(StreamId::MIN, StreamValue::last_id),
        GroupStart::Id(id) => id,
    };
    if stream.is_some_and(|stream| stream.group(group).is_some()) {
        return Err(CommandError::other("BUSYGROUP Consumer Group name already exists"));
    }
    if stream.is_none() {
        db.insert(key.clone(), Value::Stream(Box::default()), None, now_ms);
    }
    let stream = stream_mut(db, key, now_ms).expect("the stream exists now");
    stream.create_group(group, ConsumerGroup::new(last_id, entries_read));
    Ok(Frame::ok())
}

/// What XREADGROUP does with one stream once every stream was checked.
enum Serve {
    /// Deliver new entries after this id.
    New(StreamId),
    /// Re-read the consumer's pending entries after this id.
    History(StreamId),
    /// Nothing to serve now.
    Nothing,
}

pub(super) fn read_group(
    db: &mut Db,
    now_ms: u64,
    group: &Bytes,
    consumer: &Bytes,
    count: u64,
    no_ack: bool,
    streams: &[(Key, Result<ReadGroupFrom, CommandError>)],
) -> Result<Frame, CommandError> {
    let mut plans = Vec::with_capacity(streams.len());
    for (key, from) in streams {
        let stream = stream_at(db, key, now_ms)?;
        let Some(group_state) = stream.and_then(|stream| stream.group(group)) else {
            return Err(no_key_or_group(key, group, " in XREADGROUP with GROUP option"));
        };
        let stream = stream.expect("a group implies its stream");
        let plan = match from.clone()? {
            // The largest id is how Redis marks `>`, so asking for the history after it is `>`.
            ReadGroupFrom::History(id) if id != StreamId::MAX => Serve::History(id),
            _ => match stream.edge_id(true) {
                Some(top) if top > group_state.last_delivered_id => {
                    Serve::New(group_state.last_delivered_id)
                }
                _ => Serve::Nothing,
            },
        };
        plans.push((key, plan));
    }
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    let mut served = Vec::new();
    for (key, plan) in plans {
        // Redis looks the consumer up (creating it) only for a stream it serves.
        if matches!(plan, Serve::Nothing) {
            continue;
        }
        let stream = stream_mut(db, key, now_ms).expect("checked above");
        stream.group_mut(group).expect("checked above").touch_consumer(consumer, now_ms);
        let entries = match plan {
            Serve::Nothing => unreachable!("skipped above"),
            Serve::New(after) => deliver_new(stream, group, consumer, after, count, no_ack, now_ms),
            Serve::History(after) => deliver_history(stream, group, consumer, after, count, now_ms),
        };
        served.push((Frame::Bulk(key.clone()), entries));
    }
    Ok(if served.is_empty() { Frame::NullArray } else { Frame::KeyedArrays(served) })
}

/// Delivers the entries after `after` to `consumer`, moving the group's last delivered id
/// and its read counter as Redis's `streamReplyWithRange` does.
fn deliver_new(
    stream: &mut StreamValue,
    group: &Bytes,
    consumer: &Bytes,
    after: StreamId,
    count: usize,
    no_ack: bool,
    now_ms: u64,
) -> Frame {
    let Some(start) = after.next() else {
        return Frame::Array(vec![]);
    };
    let entries = stream.range(start, StreamId::MAX, false, count);
    for entry in &entries {
        let tombstones_ahead = stream.has_tombstones_from(entry.id);
        let estimate = stream.entries_read_at(entry.id);
        let any_added = stream.entries_added() > 0;
        let group = stream.group_mut(group).expect("checked by the caller");
        if entry.id > group.last_delivered_id {
            match group.entries_read {
                Some(read) if !tombstones_ahead => group.entries_read = Some(read + 1),
                _ if any_added => group.entries_read = estimate,
                _ => {}
            }
            group.last_delivered_id = entry.id;
        }
        if !no_ack {
            group.deliver_new(entry.id, consumer, now_ms);
        }
    }
    entries_frame(entries)
}

/// Re-reads the consumer's pending entries after `after`: a deleted entry shows as its id
/// with a null; one still there counts as delivered again.
fn deliver_history(
    stream: &mut StreamValue,
    group: &Bytes,
    consumer: &Bytes,
    after: StreamId,
    count: usize,
    now_ms: u64,
) -> Frame {
    let Some(start) = after.next() else {
        return Frame::Array(vec![]);
    };
    let group_state = stream.group(group).expect("checked by the caller");
    let ids: Vec<StreamId> = group_state
        .consumer_pending_from(consumer, start)
        .into_iter()
        .take(if count == 0 { usize::MAX } else { count })
        .collect();
    let mut items = Vec::with_capacity(ids.len());
    for id in ids {
        match stream.get(id) {
            Some(entry) => {
                items.push(entry_frame(entry));
                stream.group_mut(group).expect("checked").deliver_again(id, now_ms);
            }
            None => items.push(Frame::Array(vec![id_frame(id), Frame::NullArray])),
        }
    }
    Frame::Array(items)
}

fn acknowledge(
    db: &mut Db,
    now_ms: u64,
    key: &Key,
    group: &Bytes,
    ids: &Result<Vec<StreamId>, CommandError>,
) -> Result<Frame, CommandError> {
    let Some(group_state) = stream_at(db, key, now_ms)?.and_then(|stream| stream.group(group))
    else {
        return Ok(Frame::Integer(0));
    };
    let ids = ids.clone()?;
    if !ids.iter().any(|id| group_state.pending().contains_key(id)) {
        return Ok(Frame::Integer(0));
    }
    let group = group_mut(db, now_ms, key, group);
    Ok(Frame::Integer(ids.iter().filter(|id| group.acknowledge(**id)).count() as i64))
}

/// Redis's XCLAIM, after the key and group were found.
fn claim(
    db: &mut Db,
    now_ms: u64,
    key: &Key,
    group: &Bytes,
    consumer: &Bytes,
    options: &ClaimOptions,
) -> Result<Frame, CommandError> {
    let now = now_ms as i64;
    let stream = stream_mut(db, key, now_ms).expect("checked by the caller");
    let group_name = group;
    if let Some(last_id) = options.last_id {
        let group = stream.group_mut(group_name).expect("checked");
        if last_id > group.last_delivered_id {
            group.last_delivered_id = last_id;
        }
    }
    let delivery_time_ms = match options.delivery {
        Some(ClaimDelivery::Idle(idle)) => now.saturating_sub(idle),
        Some(ClaimDelivery::Time(time)) => time,
        None => now,
    };
    let delivery_time_ms =
        if (0..=now).contains(&delivery_time_ms) { delivery_time_ms as u64 } else { now_ms };
    let mut claimed = Vec::new();
    for &id in &options.ids {
        let exists = stream.contains(id);
        let entry = if exists { stream.get(id) } else { None };
        let group = stream.group_mut(group_name).expect("checked");
        let pending = group.pending().get(&id).cloned();
        if !exists {
            if pending.is_some() {
                group.acknowledge(id);
            }
            continue;
        }
        let (count, delivered_ms) = match (&pending, options.force) {
            (Some(pending), _) => (pending.delivery_count, Some(pending.delivery_time_ms)),
            (None, true) => (1, None),
            (None, false) => continue,
        };
        if let Some(delivered_ms) = delivered_ms {
            if options.min_idle_ms > 0 && now - (delivered_ms as i64) < options.min_idle_ms as i64 {
                continue;
            }
        }
        group.touch_consumer(consumer, now_ms);
        let count = match options.retry_count {
            Some(retry) if retry >= 0 => retry as u64,
            _ if !options.just_id => count + 1,
            _ => count,
        };
        group.claim(id, consumer, delivery_time_ms, count);
        claimed.push(match entry {
            Some(entry) if !options.just_id => entry_frame(entry),
            _ => id_frame(id),
        });
    }
    Ok(Frame::Array(claimed))
}

/// XAUTOCLAIM's arguments after the consumer.
struct AutoClaim {
    min_idle_ms: u64,
    start: StreamId,
    count: u64,
    just_id: bool,
}

/// Redis's XAUTOCLAIM: scans the PEL from `start`, examining at most ten times COUNT entries,
/// claims those idle long enough, drops those whose entry is gone (they count against COUNT),
/// and answers the id to continue from (0-0 at the end), the claimed entries and the ids
/// dropped.
fn auto_claim(
    db: &mut Db,
    now_ms: u64,
    key: &Key,
    group_name: &Bytes,
    consumer: &Bytes,
    claim: &AutoClaim,
) -> Result<Frame, CommandError> {
    let now = now_ms as i64;
    let stream = stream_mut(db, key, now_ms).expect("checked by the caller");
    let mut attempts = claim.count.saturating_mul(10);
    let candidates: Vec<StreamId> = stream
        .group(group_name)
        .expect("checked")
        .pending()
        .range(claim.start..)
        .map(|(id, _)| *id)
        .take(usize::try_from(attempts.saturating_add(1)).unwrap_or(usize::MAX))
        .collect();
    let mut count = claim.count;
    let (mut claimed, mut deleted) = (Vec::new(), Vec::new());
    let mut next = 0;
    while attempts > 0 && count > 0 && next < candidates.len() {
        attempts -= 1;
        let id = candidates[next];
        next += 1;
        let entry = stream.get(id);
        let group = stream.group_mut(group_name).expect("checked");
        let Some(entry) = entry else {
            group.acknowledge(id);
            deleted.push(id_frame(id));
            count -= 1;
            continue;
        };
        let pending = group.pending().get(&id).cloned().expect("a candidate is pending");
        if claim.min_idle_ms > 0
            && now - (pending.delivery_time_ms as i64) < claim.min_idle_ms as i64
        {
            continue;
        }
        group.touch_consumer(consumer, now_ms);
        let delivery_count = pending.delivery_count + u64::from(!claim.just_id);
        group.claim(id, consumer, now_ms, delivery_count);
        claimed.push(if claim.just_id { id_frame(id) } else { entry_frame(entry) });
        count -= 1;
    }
    let cursor = candidates.get(next).copied().unwrap_or(StreamId::MIN);
    Ok(Frame::Array(vec![id_frame(cursor), Frame::Array(claimed), Frame::Array(deleted)]))
}
