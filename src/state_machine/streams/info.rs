//! The stream reads about consumer groups: XPENDING and XINFO STREAM, GROUPS, CONSUMERS, in
//! Redis 7.0's reply shapes (maps in RESP3, flat arrays in RESP2). Idle times are measured
//! against the view's time.

use bytes::Bytes;

use crate::command::streams::PendingRange;
use crate::command::{CommandError, Key};
use crate::resp::Frame;
use crate::store::stream::{ConsumerGroup, StreamId, StreamValue};
use crate::store::Db;

use super::{entries_frame, entry_frame, id_frame, stream_at};

fn field(name: &'static str, value: Frame) -> (Frame, Frame) {
    (Frame::Bulk(Bytes::from_static(name.as_bytes())), value)
}

fn integer(value: u64) -> Frame {
    Frame::Integer(i64::try_from(value).unwrap_or(i64::MAX))
}

fn idle_ms(now_ms: u64, since_ms: u64) -> Frame {
    integer(now_ms.saturating_sub(since_ms))
}

fn existing_stream<'a>(
    db: &'a Db,
    now_ms: u64,
    key: &Key,
) -> Result<&'a StreamValue, CommandError> {
    stream_at(db, key, now_ms)?.ok_or(CommandError::NoSuchKey)
}

pub(super) fn pending(
    db: &Db,
    now_ms: u64,
    key: &Key,
    group_name: &Bytes,
    range: Option<&PendingRange>,
) -> Result<Frame, CommandError> {
    let group = stream_at(db, key, now_ms)?.and_then(|stream| stream.group(group_name));
    let Some(group) = group else {
        return Err(CommandError::Other(
            format!(
                "NOGROUP No such key '{}' or consumer group '{}'",
                String::from_utf8_lossy(key),
                String::from_utf8_lossy(group_name)
            )
            .into(),
        ));
    };
    let Some(range) = range else {
        return Ok(pending_summary(group));
    };
    let mut items = Vec::new();
    let mut remaining = range.count;
    let entries: Box<dyn Iterator<Item = (StreamId, &Bytes, u64, u64)>> = match &range.consumer {
        Some(name) => {
            let Some(consumer) = group.consumers().get(name) else {
                return Ok(Frame::Array(vec![]));
            };
            Box::new(consumer.pending().range(range.start..).map(|id| {
                let entry = group.pending().get(id).expect("a consumer's id is in the group PEL");
                (*id, &entry.consumer, entry.delivery_time_ms, entry.delivery_count)
            }))
        }
        None => Box::new(group.pending().range(range.start..).map(|(id, entry)| {
            (*id, &entry.consumer, entry.delivery_time_ms, entry.delivery_count)
        })),
    };
    for (id, consumer, delivered_ms, count) in entries {
        if remaining == 0 || id > range.end {
            break;
        }
        let idle = now_ms as i64 - delivered_ms as i64;
        if range.min_idle_ms != 0 && idle < range.min_idle_ms {
            continue;
        }
        remaining -= 1;
        items.push(Frame::Array(vec![
            id_frame(id),
            Frame::Bulk(consumer.clone()),
            Frame::Integer(idle.max(0)),
            integer(count),
        ]));
    }
    Ok(Frame::Array(items))
}

fn pending_summary(group: &ConsumerGroup) -> Frame {
    let pending = group.pending();
    let (Some((first, _)), Some((last, _))) = (pending.iter().next(), pending.iter().next_back())
    else {
        return Frame::Array(vec![Frame::Integer(0), Frame::Null, Frame::Null, Frame::NullArray]);
    };
    let consumers = group
        .consumers()
        .iter()
        .filter(|(_, consumer)| !consumer.pending().is_empty())
        .map(|(name, consumer)| {
            Frame::Array(vec![
                Frame::Bulk(name.clone()),
                Frame::Bulk(Bytes::from(consumer.pending().len().to_string())),
            ])
        })
        .collect();
    Frame::Array(vec![
        integer(pending.len() as u64),
        id_frame(*first),
        id_frame(*last),
        Frame::Array(consumers),
    ])
}

fn entries_read_frame(group: &ConsumerGroup) -> Frame {
    group.entries_read.map_or(Frame::Null, integer)
}

fn lag_frame(stream: &StreamValue, group: &ConsumerGroup) -> Frame {
    stream.lag(group).map_or(Frame::Null, integer)
}

pub(super) fn groups(db: &Db, now_ms: u64, key: &Key) -> Result<Frame, CommandError> {
    let stream = existing_stream(db, now_ms, key)?;
    let groups = stream
        .groups()
        .iter()
        .map(|(name, group)| {
            Frame::Map(vec![
                field("name", Frame::Bulk(name.clone())),
                field("consumers", integer(group.consumers().len() as u64)),
                field("pending", integer(group.pending().len() as u64)),
                field("last-delivered-id", id_frame(group.last_delivered_id)),
                field("entries-read", entries_read_frame(group)),
                field("lag", lag_frame(stream, group)),
            ])
        })
        .collect();
    Ok(Frame::Array(groups))
}

pub(super) fn consumers(
    db: &Db,
    now_ms: u64,
    key: &Key,
    group_name: &Bytes,
) -> Result<Frame, CommandError> {
    let stream = existing_stream(db, now_ms, key)?;
    let Some(group) = stream.group(group_name) else {
        return Err(CommandError::Other(
            format!(
                "NOGROUP No such consumer group '{}' for key name '{}'",
                String::from_utf8_lossy(group_name),
                String::from_utf8_lossy(key)
            )
            .into(),
        ));
    };
    let consumers = group
        .consumers()
        .iter()
        .map(|(name, consumer)| {
            Frame::Map(vec![
                field("name", Frame::Bulk(name.clone())),
                field("pending", integer(consumer.pending().len() as u64)),
                field("idle", idle_ms(now_ms, consumer.seen_time_ms)),
            ])
        })
        .collect();
    Ok(Frame::Array(consumers))
}

pub(super) fn stream(
    db: &Db,
    now_ms: u64,
    key: &Key,
    full: Option<u64>,
) -> Result<Frame, CommandError> {
    let stream = existing_stream(db, now_ms, key)?;
    let mut fields = vec![
        field("length", integer(stream.len())),
        field("radix-tree-keys", integer(stream.node_count() as u64)),
        field("radix-tree-nodes", integer(radix_tree_nodes(stream))),
        field("last-generated-id", id_frame(stream.last_id())),
        field("max-deleted-entry-id", id_frame(stream.max_deleted_entry_id())),
        field("entries-added", integer(stream.entries_added())),
        field("recorded-first-entry-id", id_frame(stream.first_id())),
    ];
    let Some(count) = full else {
        fields.push(field("groups", integer(stream.groups().len() as u64)));
        let edge = |reverse| {
            stream
                .range(StreamId::MIN, StreamId::MAX, reverse, 1)
                .pop()
                .map_or(Frame::Null, entry_frame)
        };
        fields.push(field("first-entry", edge(false)));
        fields.push(field("last-entry", edge(true)));
        return Ok(Frame::Map(fields));
    };
    let limit = usize::try_from(count).unwrap_or(usize::MAX);
    let take = if limit == 0 { usize::MAX } else { limit };
    fields.push(field(
        "entries",
        entries_frame(stream.range(StreamId::MIN, StreamId::MAX, false, limit)),
    ));
    let groups = stream.groups().iter().map(|(name, group)| full_group(stream, name, group, take));
    let groups = groups.collect();
    fields.push(field("groups", Frame::Array(groups)));
    Ok(Frame::Map(fields))
}

/// One group as XINFO STREAM FULL shows it, with at most `take` pending entries for the
/// group and for each consumer.
fn full_group(stream: &StreamValue, name: &Bytes, group: &ConsumerGroup, take: usize) -> Frame {
    let pending = group
        .pending()
        .iter()
        .take(take)
        .map(|(id, entry)| {
            Frame::Array(vec![
                id_frame(*id),
                Frame::Bulk(entry.consumer.clone()),
                integer(entry.delivery_time_ms),
                integer(entry.delivery_count),
            ])
        })
        .collect();
    let consumers = group
        .consumers()
        .iter()
        .map(|(consumer_name, consumer)| {
            let pending = consumer
                .pending()
                .iter()
                .take(take)
                .map(|id| {
                    let entry = group.pending().get(id).expect("in the group PEL");
                    Frame::Array(vec![
                        id_frame(*id),
                        integer(entry.delivery_time_ms),
                        integer(entry.delivery_count),
                    ])
                })
                .collect();
            Frame::Map(vec![
                field("name", Frame::Bulk(consumer_name.clone())),
                field("seen-time", integer(consumer.seen_time_ms)),
                field("pel-count", integer(consumer.pending().len() as u64)),
                field("pending", Frame::Array(pending)),
            ])
        })
        .collect();
    Frame::Map(vec![
        field("name", Frame::Bulk(name.clone())),
        field("last-delivered-id", id_frame(group.last_delivered_id)),
        field("entries-read", entries_read_frame(group)),
        field("lag", lag_frame(stream, group)),
        field("pel-count", integer(group.pending().len() as u64)),
        field("pending", Frame::Array(pending)),
        field("consumers", Frame::Array(consumers)),
    ])
}

/// Redis reports the inner node count of its radix tree, which depends on how the node keys'
/// bytes branch; Concord has no radix tree and reports one node per stream node plus the
/// root, which is Redis's count for a stream of one node (see README, differences).
fn radix_tree_nodes(stream: &StreamValue) -> u64 {
    stream.node_count() as u64 + 1
}
