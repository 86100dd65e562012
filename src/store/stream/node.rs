//! One node of a stream: a run of consecutive entries packed in one byte buffer, as Redis
//! packs them in one listpack under one radix-tree key.
//!
//! Redis's node boundaries are observable: `XADD`/`XTRIM` with `~` remove only whole nodes,
//! and `XINFO STREAM` reports the node count as `radix-tree-keys`. So a node here opens and
//! closes where Redis's would: a new node starts when the last one holds
//! [`NODE_ENTRIES_MAX`] entries, deleted ones included, or when its listpack plus the new
//! entry's fields and values would reach [`NODE_BYTES_MAX`] bytes (Redis's defaults for
//! `stream-node-max-entries` and `stream-node-max-bytes`). The listpack size is computed with
//! listpack's element sizes (integers, strings, back-lengths), element for element as Redis
//! lays out a stream node, without building the listpack.
//!
//! The buffer holds the entries in id order, each as: a flags byte (bit 0 deleted, bit 1 same
//! fields as the node's first entry), the millisecond delta from the node's first id and the
//! sequence number as varints, then either the values alone (same fields) or a varint pair
//! count and the field-value pairs, every string a varint length and its bytes. A deleted
//! entry stays in the buffer, flagged, until the whole node goes, as in Redis.
//!
//! Invariant: `live + deleted` entries are in `data`, `live > 0` for a node in a stream, and
//! every id in the node lies between `first` and `last`, both of which were appended to it.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::StreamId;

/// The most entries, deleted ones included, in one node (`stream-node-max-entries`).
pub const NODE_ENTRIES_MAX: u64 = 100;

/// The listpack bytes at which a node closes (`stream-node-max-bytes`).
pub const NODE_BYTES_MAX: u64 = 4096;

const FLAG_DELETED: u8 = 1;
const FLAG_SAME_FIELDS: u8 = 2;

/// A node's entries and what Redis's listpack would record about them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// The first id appended (the radix-tree key), even once that entry is deleted.
    first: StreamId,
    /// The last id appended, even once that entry is deleted.
    last: StreamId,
    /// The entries not deleted.
    live: u64,
    /// The entries deleted but still in the buffer.
    deleted: u64,
    /// The field names of the first entry: later entries with the same names store only
    /// their values.
    master_fields: Vec<Bytes>,
    /// The listpack's size in bytes without its two counters (live and deleted), whose sizes
    /// change with their values.
    listpack_bytes_without_counters: u64,
    /// The entries, encoded as the module doc says.
    data: Vec<u8>,
}

/// An entry as a DUMP payload or an RDB file gives it: its id, whether it is deleted, and
/// its field-value pairs.
pub type RestoredEntry = (StreamId, bool, Vec<(Bytes, Bytes)>);

/// One entry read out of a node.
#[derive(Clone, Copy, Debug)]
pub struct EntryRef<'a> {
    /// The entry's id.
    pub id: StreamId,
    /// Whether the entry was deleted (XDEL or an exact trim) but is still in its node.
    pub deleted: bool,
    /// Where the entry's flags byte is in the node's buffer, to mark it deleted.
    offset: usize,
    fields: FieldsRef<'a>,
}

#[derive(Clone, Copy, Debug)]
enum FieldsRef<'a> {
    /// The values of the node's master fields.
    Same { master: &'a [Bytes], values: &'a [u8] },
    /// Field-value pairs of their own.
    Own { count: usize, pairs: &'a [u8] },
}

impl EntryRef<'_> {
    /// The entry's field-value pairs, in the order XADD gave them.
    pub fn pairs(&self) -> Vec<(Bytes, Bytes)> {
        match self.fields {
            FieldsRef::Same { master, values } => {
                let mut cursor = Cursor { data: values, position: 0 };
                master.iter().map(|field| (field.clone(), cursor.bytes())).collect()
            }
            FieldsRef::Own { count, pairs } => {
                let mut cursor = Cursor { data: pairs, position: 0 };
                (0..count).map(|_| (cursor.bytes(), cursor.bytes())).collect()
            }
        }
    }
}

impl Node {
    /// A node holding one entry: the first of its node.
    pub fn new(id: StreamId, pairs: &[(Bytes, Bytes)]) -> Node {
        let master_fields: Vec<Bytes> = pairs.iter().map(|(field, _)| field.clone()).collect();
        // The listpack header and end byte, then the master entry after its two counters:
        // the field count, the field names, and the master terminator 0.
        let mut bytes = 6 + 1 + integer_bytes(pairs.len() as i64) + integer_bytes(0);
        bytes += master_fields.iter().map(|field| string_bytes(field)).sum::<u64>();
        let mut node = Node {
            first: id,
            last: id,
            live: 0,
            deleted: 0,
            master_fields,
            listpack_bytes_without_counters: bytes,
            data: Vec::new(),
        };
        node.append(id, pairs);
        node
    }

    /// Whether an entry with these pairs must start a new node rather than join this one.
    pub fn is_full_for(&self, pairs: &[(Bytes, Bytes)]) -> bool {
        let fields_bytes: u64 =
            pairs.iter().map(|(field, value)| (field.len() + value.len()) as u64).sum();
        self.listpack_bytes() + fields_bytes >= NODE_BYTES_MAX
            || self.live + self.deleted >= NODE_ENTRIES_MAX
    }

    /// Appends an entry whose id is above every id in the node.
    pub fn append(&mut self, id: StreamId, pairs: &[(Bytes, Bytes)]) {
        assert!(self.live + self.deleted == 0 || id > self.last, "stream ids only grow");
        let same = pairs.len() == self.master_fields.len()
            && pairs.iter().zip(&self.master_fields).all(|((field, _), master)| field == master);
        let ms_delta = id.ms.wrapping_sub(self.first.ms);
        let seq_delta = id.seq.wrapping_sub(self.first.seq);
        // Listpack: flags, ms-diff, seq-diff, [field count, fields,] values, lp-count.
        let mut bytes = integer_bytes(if same { FLAG_SAME_FIELDS as i64 } else { 0 })
            + integer_bytes(ms_delta as i64)
            + integer_bytes(seq_delta as i64);
        let mut element_count = pairs.len() as i64 + 3;
        if !same {
            bytes += integer_bytes(pairs.len() as i64);
            bytes += pairs.iter().map(|(field, _)| string_bytes(field)).sum::<u64>();
            element_count += pairs.len() as i64 + 1;
        }
        bytes += pairs.iter().map(|(_, value)| string_bytes(value)).sum::<u64>();
        bytes += integer_bytes(element_count);
        self.listpack_bytes_without_counters += bytes;

        self.data.push(if same { FLAG_SAME_FIELDS } else { 0 });
        put_varint(&mut self.data, ms_delta);
        put_varint(&mut self.data, id.seq);
        if same {
            for (_, value) in pairs {
                put_bytes(&mut self.data, value);
            }
        } else {
            put_varint(&mut self.data, pairs.len() as u64);
            for (field, value) in pairs {
                put_bytes(&mut self.data, field);
                put_bytes(&mut self.data, value);
            }
        }
        self.last = id;
        self.live += 1;
    }

    /// Gives back the buffer's spare capacity, once the node is closed for appends.
    pub fn shrink(&mut self) {
        self.data.shrink_to_fit();
    }

    /// The first id appended to the node.
    pub fn first(&self) -> StreamId {
        self.first
    }

    /// The last id appended to the node.
    pub fn last(&self) -> StreamId {
        self.last
    }

    /// The entries not deleted.
    pub fn live(&self) -> u64 {
        self.live
    }

    /// The entries deleted but still in the node.
    pub fn deleted(&self) -> u64 {
        self.deleted
    }

    /// The first entry's field names, which later entries with the same names leave out.
    pub fn master_fields(&self) -> &[Bytes] {
        &self.master_fields
    }

    /// A node of these entries (id, whether deleted, pairs), as a DUMP payload or an RDB file
    /// gives them; `None` unless the ids increase and some entry is live.
    pub fn from_entries(entries: &[RestoredEntry]) -> Option<Node> {
        let ((first, _, first_pairs), rest) = entries.split_first()?;
        if entries.windows(2).any(|pair| pair[0].0 >= pair[1].0) {
            return None;
        }
        let mut node = Node::new(*first, first_pairs);
        for (id, _, pairs) in rest {
            node.append(*id, pairs);
        }
        for (id, deleted, _) in entries {
            if *deleted {
                node.delete(*id);
            }
        }
        node.is_consistent().then_some(node)
    }

    /// Every entry in the node, deleted ones included, in id order.
    pub fn entries(&self) -> NodeEntries<'_> {
        NodeEntries { node: self, cursor: Cursor { data: &self.data, position: 0 }, failed: false }
    }

    /// The live entries, in id order.
    pub fn live_entries(&self) -> impl Iterator<Item = EntryRef<'_>> {
        self.entries().filter(|entry| !entry.deleted)
    }

    /// Marks the live entry `id` deleted; returns whether there was one.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some(offset) = self.live_entries().find(|entry| entry.id == id).map(|e| e.offset)
        else {
            return false;
        };
        self.mark_deleted(offset);
        true
    }

    /// Marks the first `count` live entries deleted (an exact trim inside a node).
    pub fn delete_first(&mut self, count: u64) {
        let offsets: Vec<usize> =
            self.live_entries().take(count as usize).map(|entry| entry.offset).collect();
        for offset in offsets {
            self.mark_deleted(offset);
        }
    }

    /// Marks the live entries below `id` deleted; returns how many.
    pub fn delete_below(&mut self, id: StreamId) -> u64 {
        let offsets: Vec<usize> = self
            .live_entries()
            .take_while(|entry| entry.id < id)
            .map(|entry| entry.offset)
            .collect();
        for &offset in &offsets {
            self.mark_deleted(offset);
        }
        offsets.len() as u64
    }

    fn mark_deleted(&mut self, offset: usize) {
        self.data[offset] |= FLAG_DELETED;
        self.live -= 1;
        self.deleted += 1;
    }

    /// The size of Redis's listpack for this node.
    fn listpack_bytes(&self) -> u64 {
        self.listpack_bytes_without_counters
            + integer_bytes(self.live as i64)
            + integer_bytes(self.deleted as i64)
    }

    /// Checks the invariants of a node read from a snapshot: the buffer decodes to exactly
    /// `live + deleted` entries in increasing id order between `first` and `last`.
    pub fn is_consistent(&self) -> bool {
        let mut previous: Option<StreamId> = None;
        let (mut live, mut deleted) = (0, 0);
        let mut entries = self.entries();
        for entry in entries.by_ref() {
            if previous.is_some_and(|previous| previous >= entry.id) || entry.id > self.last {
                return false;
            }
            previous = Some(entry.id);
            if entry.deleted {
                deleted += 1;
            } else {
                live += 1;
            }
        }
        !entries.failed
            && previous == Some(self.last)
            && self.entries().next().map(|entry| entry.id) == Some(self.first)
            && live == self.live
            && deleted == self.deleted
            && live > 0
    }
}

/// The entries of a node in id order; stops (and sets `failed`) at a malformed buffer, which
/// only a corrupt snapshot could hold.
pub struct NodeEntries<'a> {
    node: &'a Node,
    cursor: Cursor<'a>,
    /// Whether the buffer ended in the middle of an entry.
    failed: bool,
}

impl<'a> Iterator for NodeEntries<'a> {
    type Item = EntryRef<'a>;

    fn next(&mut self) -> Option<EntryRef<'a>> {
        let cursor = &mut self.cursor;
        if cursor.position >= cursor.data.len() {
            return None;
        }
        let offset = cursor.position;
        let flags = cursor.data[offset];
        cursor.position += 1;
        let ms = self.node.first.ms.wrapping_add(cursor.varint());
        let seq = cursor.varint();
        let start = cursor.position;
        let fields = if flags & FLAG_SAME_FIELDS != 0 {
            for _ in &self.node.master_fields {
                cursor.skip_bytes();
            }
            match cursor.data.get(start..cursor.position) {
                Some(values) => FieldsRef::Same { master: &self.node.master_fields, values },
                None => {
                    self.failed = true;
                    return None;
                }
            }
        } else {
            let count = cursor.varint() as usize;
            let pairs_start = cursor.position;
            for _ in 0..count.saturating_mul(2) {
                cursor.skip_bytes();
                if cursor.position > cursor.data.len() {
                    break;
                }
            }
            match cursor.data.get(pairs_start..cursor.position) {
                Some(pairs) => FieldsRef::Own { count, pairs },
                None => {
                    self.failed = true;
                    return None;
                }
            }
        };
        Some(EntryRef {
            id: StreamId { ms, seq },
            deleted: flags & FLAG_DELETED != 0,
            offset,
            fields,
        })
    }
}

/// A reader over an entry buffer. Reads past the end yield zeros and move the position past
/// the end, which the iterator reports as a malformed buffer.
struct Cursor<'a> {
    data: &'a [u8],
    position: usize,
}

impl Cursor<'_> {
    fn varint(&mut self) -> u64 {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&byte) = self.data.get(self.position) else {
                self.position = self.data.len() + 1;
                return 0;
            };
            self.position += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
        }
        value
    }

    fn bytes(&mut self) -> Bytes {
        let length = self.varint() as usize;
        let end = self.position.saturating_add(length);
        let bytes = self.data.get(self.position..end).map(Bytes::copy_from_slice);
        self.position = end;
        bytes.unwrap_or_default()
    }

    fn skip_bytes(&mut self) {
        let length = self.varint() as usize;
        self.position = self.position.saturating_add(length);
    }
}

fn put_varint(buffer: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        buffer.push((value as u8) | 0x80);
        value >>= 7;
    }
    buffer.push(value as u8);
}

fn put_bytes(buffer: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(buffer, bytes.len() as u64);
    buffer.extend_from_slice(bytes);
}

/// The bytes of a listpack integer element, its back-length included.
fn integer_bytes(value: i64) -> u64 {
    let encoded = match value {
        0..=127 => 1,
        -4096..=4095 => 2,
        -32768..=32767 => 3,
        -8_388_608..=8_388_607 => 4,
        -2_147_483_648..=2_147_483_647 => 5,
        _ => 9,
    };
    encoded + 1
}

/// The bytes of a listpack string element, its back-length included; a string that reads as
/// a canonical integer is stored as that integer, as listpack does.
fn string_bytes(string: &[u8]) -> u64 {
    if let Some(value) = canonical_integer(string) {
        return integer_bytes(value);
    }
    let length = string.len() as u64;
    let encoded = match length {
        0..=63 => 1 + length,
        64..=4095 => 2 + length,
        _ => 5 + length,
    };
    let back_length = match encoded {
        0..=127 => 1,
        128..=16383 => 2,
        16384..=2_097_151 => 3,
        2_097_152..=268_435_455 => 4,
        _ => 5,
    };
    encoded + back_length
}

/// The integer a string spells in Redis's canonical form (no sign but `-`, no leading zero,
/// at most 20 bytes), as `lpStringToInt64` accepts it.
fn canonical_integer(string: &[u8]) -> Option<i64> {
    if string.is_empty() || string.len() > 20 {
        return None;
    }
    let text = std::str::from_utf8(string).ok()?;
    let value: i64 = text.parse().ok()?;
    (value.to_string() == text).then_some(value)
}
