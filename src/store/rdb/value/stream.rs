//! A stream's record, `RDB_TYPE_STREAM_LISTPACKS_2` (19) as Redis 7.0 writes it (RDB 10;
//! Redis 7.2's type 21, which adds a consumer's active time, is RDB 11 and so is refused by
//! the version check before this code runs):
//!
//! 1. the number of nodes, then for each its first id (16 bytes: milliseconds and sequence,
//!    big-endian, as an RDB string) and its listpack (an RDB string);
//! 2. the number of live entries, the last id, the first id, the largest deleted id (each id
//!    two lengths) and the number of entries ever added;
//! 3. the number of groups, then for each its name, last delivered id, entries read (a length;
//!    `u64::MAX` is Redis's -1, unknown), its PEL (count, then raw 16-byte id, delivery time as
//!    8 bytes little-endian milliseconds, delivery count) and its consumers (count, then name,
//!    seen time, and their PEL as raw ids).
//!
//! A node's listpack is Redis's (`streamAppendItem`): the master entry (live count, deleted
//! count, the first entry's field count and names, 0), then per entry its flags (1 deleted,
//! 2 same fields as the master entry), the id's differences from the node's first id, the
//! field count and fields unless flagged same, the values, and the entry's element count.
//! Concord's nodes open and close where Redis's would and keep deleted entries, so the
//! listpacks are Redis's bytes for the same history.
//!
//! Type 15 (Redis 5 and 6) lacks the first id, the largest deleted id, the added count and
//! the groups' entries read; they are derived as Redis derives them when loading.

use bytes::Bytes;
use imbl::{OrdMap, OrdSet};

use super::super::{listpack, string};
use super::{read_count, TYPE_STREAM_LISTPACKS_2};
use crate::store::stream::{
    Consumer, ConsumerGroup, Node, PendingEntry, RestoredEntry, StreamId, StreamValue,
};

const FLAG_DELETED: i64 = 1;
const FLAG_SAME_FIELDS: i64 = 2;
/// Redis's `SCG_INVALID_ENTRIES_READ` (-1) as a length.
const ENTRIES_READ_UNKNOWN: u64 = u64::MAX;

pub(super) fn write(record: &mut Vec<u8>, stream: &StreamValue) {
    record.push(TYPE_STREAM_LISTPACKS_2);
    string::write_length(record, stream.node_count() as u64);
    for node in stream.nodes() {
        string::write(record, &raw_id(node.first()));
        string::write(record, &node_listpack(node));
    }
    string::write_length(record, stream.len());
    for id in [stream.last_id(), stream.first_id(), stream.max_deleted_entry_id()] {
        write_id(record, id);
    }
    string::write_length(record, stream.entries_added());
    string::write_length(record, stream.groups().len() as u64);
    for (name, group) in stream.groups() {
        string::write(record, name);
        write_id(record, group.last_delivered_id);
        string::write_length(record, group.entries_read.unwrap_or(ENTRIES_READ_UNKNOWN));
        string::write_length(record, group.pending().len() as u64);
        for (id, entry) in group.pending() {
            record.extend_from_slice(&raw_id(*id));
            record.extend_from_slice(&entry.delivery_time_ms.to_le_bytes());
            string::write_length(record, entry.delivery_count);
        }
        string::write_length(record, group.consumers().len() as u64);
        for (name, consumer) in group.consumers() {
            string::write(record, name);
            record.extend_from_slice(&consumer.seen_time_ms.to_le_bytes());
            string::write_length(record, consumer.pending().len() as u64);
            for id in consumer.pending() {
                record.extend_from_slice(&raw_id(*id));
            }
        }
    }
}

/// An id as Redis's radix trees key it: milliseconds then sequence, big-endian.
fn raw_id(id: StreamId) -> [u8; 16] {
    let mut raw = [0; 16];
    raw[..8].copy_from_slice(&id.ms.to_be_bytes());
    raw[8..].copy_from_slice(&id.seq.to_be_bytes());
    raw
}

fn write_id(record: &mut Vec<u8>, id: StreamId) {
    string::write_length(record, id.ms);
    string::write_length(record, id.seq);
}

fn node_listpack(node: &Node) -> Vec<u8> {
    let mut writer = listpack::Writer::new();
    let master = node.master_fields();
    writer.push_integer(node.live() as i64);
    writer.push_integer(node.deleted() as i64);
    writer.push_integer(master.len() as i64);
    for field in master {
        writer.push(field);
    }
    writer.push_integer(0);
    for entry in node.entries() {
        let pairs = entry.pairs();
        let same = pairs.len() == master.len()
            && pairs.iter().zip(master).all(|((field, _), master)| field == master);
        let flags =
            if entry.deleted { FLAG_DELETED } else { 0 } | if same { FLAG_SAME_FIELDS } else { 0 };
        writer.push_integer(flags);
        writer.push_integer(entry.id.ms.wrapping_sub(node.first().ms) as i64);
        writer.push_integer(entry.id.seq.wrapping_sub(node.first().seq) as i64);
        let mut element_count = pairs.len() as i64 + 3;
        if !same {
            writer.push_integer(pairs.len() as i64);
            element_count += pairs.len() as i64 + 1;
        }
        for (field, value) in &pairs {
            if !same {
                writer.push(field);
            }
            writer.push(value);
        }
        writer.push_integer(element_count);
    }
    writer.finish()
}

pub(super) fn read(kind: u8, record: &mut string::Reader) -> Option<StreamValue> {
    let node_count = read_count(record)?;
    let mut nodes = Vec::new();
    for _ in 0..node_count {
        let key = record.string()?;
        let first = parse_raw_id(&key)?;
        nodes.push(read_node(first, &record.string()?)?);
    }
    let length = record.length()?;
    let last_id = read_id(record)?;
    let (first_id, max_deleted_entry_id, entries_added) = if kind == TYPE_STREAM_LISTPACKS_2 {
        (read_id(record)?, read_id(record)?, record.length()?)
    } else {
        let first_live = nodes.iter().flat_map(|node| node.live_entries()).next();
        (first_live.map_or(StreamId::default(), |entry| entry.id), StreamId::default(), length)
    };
    let group_count = read_count(record)?;
    let mut groups = Vec::new();
    for _ in 0..group_count {
        groups.push(read_group(kind, record)?);
    }
    let mut stream = StreamValue::from_parts(
        nodes,
        length,
        last_id,
        first_id,
        max_deleted_entry_id,
        entries_added,
        groups,
    )?;
    if kind != TYPE_STREAM_LISTPACKS_2 {
        let names: Vec<Bytes> = stream.groups().keys().cloned().collect();
        for name in names {
            let last_delivered = stream.group(&name)?.last_delivered_id;
            let estimate = stream.entries_read_at(last_delivered);
            stream.group_mut(&name)?.entries_read = estimate;
        }
    }
    Some(stream)
}

fn parse_raw_id(raw: &[u8]) -> Option<StreamId> {
    if raw.len() != 16 {
        return None;
    }
    let ms = u64::from_be_bytes(raw[..8].try_into().ok()?);
    let seq = u64::from_be_bytes(raw[8..].try_into().ok()?);
    Some(StreamId { ms, seq })
}

fn read_id(record: &mut string::Reader) -> Option<StreamId> {
    Some(StreamId { ms: record.length()?, seq: record.length()? })
}

/// One node: its listpack checked element by element, as Redis's deep check does, and the
/// entries' flags agreeing with the master entry's counts.
fn read_node(first: StreamId, listpack_bytes: &[u8]) -> Option<Node> {
    let elements = listpack::read(listpack_bytes)?;
    let mut cursor = elements.into_iter();
    let live = u64::try_from(cursor.next()?.integer()?).ok()?;
    let deleted = u64::try_from(cursor.next()?.integer()?).ok()?;
    let master_count = usize::try_from(cursor.next()?.integer()?).ok()?;
    let mut master = Vec::new();
    for _ in 0..master_count {
        master.push(Bytes::from(cursor.next()?.to_vec()));
    }
    if cursor.next()?.integer()? != 0 {
        return None;
    }
    let mut entries = Vec::new();
    for _ in 0..live.checked_add(deleted)? {
        entries.push(read_entry(first, &master, &mut cursor)?);
    }
    let flagged = entries.iter().filter(|(_, deleted, _)| *deleted).count() as u64;
    let first_matches = entries.first().is_some_and(|(id, _, pairs)| {
        *id == first
            && pairs.len() == master.len()
            && pairs.iter().zip(&master).all(|((field, _), master)| field == master)
    });
    if cursor.next().is_some() || flagged != deleted || !first_matches {
        return None;
    }
    Node::from_entries(&entries)
}

fn read_entry<'a>(
    first: StreamId,
    master: &[Bytes],
    cursor: &mut impl Iterator<Item = listpack::Element<'a>>,
) -> Option<RestoredEntry> {
    let flags = cursor.next()?.integer()?;
    let ms = first.ms.wrapping_add(cursor.next()?.integer()? as u64);
    let seq = first.seq.wrapping_add(cursor.next()?.integer()? as u64);
    let same = flags & FLAG_SAME_FIELDS != 0;
    let mut pairs = Vec::new();
    if same {
        for field in master {
            pairs.push((field.clone(), Bytes::from(cursor.next()?.to_vec())));
        }
    } else {
        let count = usize::try_from(cursor.next()?.integer()?).ok()?;
        for _ in 0..count {
            let field = Bytes::from(cursor.next()?.to_vec());
            pairs.push((field, Bytes::from(cursor.next()?.to_vec())));
        }
    }
    let expected_count = pairs.len() as i64 + 3 + if same { 0 } else { pairs.len() as i64 + 1 };
    if cursor.next()?.integer()? != expected_count {
        return None;
    }
    Some((StreamId { ms, seq }, flags & FLAG_DELETED != 0, pairs))
}

fn read_group(kind: u8, record: &mut string::Reader) -> Option<(Bytes, ConsumerGroup)> {
    let name = Bytes::from(record.string()?);
    let last_delivered_id = read_id(record)?;
    let entries_read = match kind {
        TYPE_STREAM_LISTPACKS_2 => {
            Some(record.length()?).filter(|&read| read != ENTRIES_READ_UNKNOWN)
        }
        _ => None,
    };
    let mut unowned = std::collections::BTreeMap::new();
    for _ in 0..read_count(record)? {
        let id = parse_raw_id(record.raw(16)?)?;
        let delivery_time_ms = u64::from_le_bytes(record.raw(8)?.try_into().ok()?);
        let delivery_count = record.length()?;
        if unowned.insert(id, (delivery_time_ms, delivery_count)).is_some() {
            return None;
        }
    }
    let mut pending = OrdMap::new();
    let mut consumers = OrdMap::new();
    for _ in 0..read_count(record)? {
        let consumer = Bytes::from(record.string()?);
        let seen_time_ms = u64::from_le_bytes(record.raw(8)?.try_into().ok()?);
        let mut held = OrdSet::new();
        for _ in 0..read_count(record)? {
            let id = parse_raw_id(record.raw(16)?)?;
            // An id no consumer may hold twice, and one the group's PEL must list.
            let (delivery_time_ms, delivery_count) = unowned.remove(&id)?;
            let entry =
                PendingEntry { consumer: consumer.clone(), delivery_time_ms, delivery_count };
            pending.insert(id, entry);
            held.insert(id);
        }
        if consumers.insert(consumer, Consumer::new(seen_time_ms, held)).is_some() {
            return None;
        }
    }
    if !unowned.is_empty() {
        return None;
    }
    Some((name, ConsumerGroup::from_parts(last_delivered_id, entries_read, pending, consumers)?))
}
