//! The compact encodings of Redis before 7.0 that Redis 7.0 still reads in a RESTORE payload:
//! the ziplist (`ziplist.c`: lists before 3.2, quicklist nodes from 3.2 to 6.2, small hashes
//! and sorted sets before 7.0) and the zipmap (`zipmap.c`: small hashes before 2.6). Concord
//! never writes them.
//!
//! A ziplist is its total bytes (4, little-endian), the offset of its last entry (4), its
//! entry count (2, 65535 when unknown), the entries and `0xff`. An entry is the previous
//! entry's size (1 byte, or `0xfe` and 4 bytes), an encoding (a string with a 6-, 14- or
//! 32-bit length; an integer of 8, 16, 24, 32 or 64 bits; or 0 to 12 inside the encoding
//! byte), and its data. A zipmap is a count byte, then for each pair the field's length (1
//! byte, or 254 and 4 bytes), the field, the value's length, a free-space byte, the value and
//! that much free space, then `0xff`.
//!
//! Invariant: every size read is checked against the buffer, as Redis's deep integrity checks
//! do (`ziplistValidateIntegrity`, `zipmapValidateIntegrity`), and a damaged buffer is `None`.

use bytes::Bytes;

use super::super::listpack::Element;
use super::collections::{hash_from_pairs, pairs, sorted_set_from_elements};
use crate::command::lists::ListEnd;
use crate::store::{HashValue, ListValue, SortedSet};

const ZIPLIST_HEADER_BYTES: usize = 10;
const END: u8 = 0xff;

/// The entries of a ziplist, or `None` if it is damaged.
pub fn ziplist(bytes: &[u8]) -> Option<Vec<Element<'_>>> {
    let header = bytes.get(..ZIPLIST_HEADER_BYTES)?;
    let total = u32::from_le_bytes(header[..4].try_into().expect("4 bytes"));
    let tail = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes"));
    let count = u16::from_le_bytes([header[8], header[9]]);
    if usize::try_from(total).ok()? != bytes.len() || bytes.last() != Some(&END) {
        return None;
    }
    let end = bytes.len() - 1;
    let mut at = ZIPLIST_HEADER_BYTES;
    let mut previous_size = 0;
    let mut last_start = ZIPLIST_HEADER_BYTES;
    let mut elements = Vec::new();
    while at < end {
        let (element, size) = entry(&bytes[at..end], previous_size)?;
        elements.push(element);
        last_start = at;
        previous_size = size;
        at += size;
    }
    let tail_matches = usize::try_from(tail).ok()? == last_start;
    let count_matches = count == u16::MAX || usize::from(count) == elements.len();
    (at == end && tail_matches && count_matches).then_some(elements)
}

/// The entry at the start of `bytes` and its whole size; its recorded previous size must be
/// `previous_size`.
fn entry(bytes: &[u8], previous_size: usize) -> Option<(Element<'_>, usize)> {
    let (recorded, mut at) = match *bytes.first()? {
        0xfe => (u32::from_le_bytes(bytes.get(1..5)?.try_into().ok()?) as usize, 5),
        END => return None,
        small => (usize::from(small), 1),
    };
    if recorded != previous_size {
        return None;
    }
    let encoding = *bytes.get(at)?;
    at += 1;
    let take = |start: usize, length: usize| bytes.get(start..start.checked_add(length)?);
    let integer = |start: usize, length: usize| -> Option<i64> {
        let data = take(start, length)?;
        let value = data.iter().rev().fold(0u64, |value, &byte| (value << 8) | u64::from(byte));
        let shift = 64 - 8 * length as u32;
        Some(((value << shift) as i64) >> shift)
    };
    let (length, element) = match encoding >> 6 {
        0 => {
            let length = usize::from(encoding & 0x3f);
            (length, Element::String(take(at, length)?))
        }
        1 => {
            let length = (usize::from(encoding & 0x3f) << 8) | usize::from(*bytes.get(at)?);
            at += 1;
            (length, Element::String(take(at, length)?))
        }
        2 if encoding == 0x80 => {
            let length = u32::from_be_bytes(take(at, 4)?.try_into().ok()?) as usize;
            at += 4;
            (length, Element::String(take(at, length)?))
        }
        2 => return None,
        _ => match encoding {
            0xc0 => (2, Element::Integer(integer(at, 2)?)),
            0xd0 => (4, Element::Integer(integer(at, 4)?)),
            0xe0 => (8, Element::Integer(integer(at, 8)?)),
            0xf0 => (3, Element::Integer(integer(at, 3)?)),
            0xfe => (1, Element::Integer(integer(at, 1)?)),
            0xf1..=0xfd => (0, Element::Integer(i64::from(encoding & 0x0f) - 1)),
            _ => return None,
        },
    };
    Some((element, at + length))
}

/// `RDB_TYPE_LIST_ZIPLIST`: a whole list in one ziplist.
pub(super) fn read_ziplist_list(bytes: &[u8]) -> Option<ListValue> {
    let mut list = ListValue::new();
    for element in ziplist(bytes)? {
        list.push(ListEnd::Right, Bytes::from(element.to_vec()));
    }
    (!list.is_empty()).then_some(list)
}

/// `RDB_TYPE_HASH_ZIPLIST`: fields and values alternating.
pub(super) fn read_ziplist_hash(bytes: &[u8]) -> Option<HashValue> {
    hash_from_pairs(pairs(ziplist(bytes)?)?)
}

/// `RDB_TYPE_ZSET_ZIPLIST`: members and scores alternating, lowest first.
pub(super) fn read_ziplist_sorted_set(bytes: &[u8]) -> Option<SortedSet> {
    sorted_set_from_elements(ziplist(bytes)?)
}

/// `RDB_TYPE_HASH_ZIPMAP`: a zipmap's pairs.
pub(super) fn read_zipmap(bytes: &[u8]) -> Option<HashValue> {
    let mut at = 1; // The count byte is only a hint (254 or more means "count them").
    let mut pairs = Vec::new();
    loop {
        if *bytes.get(at)? == END {
            break;
        }
        let (field_length, after) = zipmap_length(bytes, at)?;
        let field = bytes.get(after..after.checked_add(field_length)?)?;
        at = after + field_length;
        let (value_length, after) = zipmap_length(bytes, at)?;
        let free = usize::from(*bytes.get(after)?);
        let value = bytes.get(after + 1..(after + 1).checked_add(value_length)?)?;
        at = after + 1 + value_length + free;
        pairs.push((field.to_vec(), value.to_vec()));
    }
    if at + 1 != bytes.len() {
        return None;
    }
    hash_from_pairs(pairs)
}

fn zipmap_length(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    match *bytes.get(at)? {
        254 => {
            let length = u32::from_le_bytes(bytes.get(at + 1..at + 5)?.try_into().ok()?);
            Some((length as usize, at + 5))
        }
        END => None,
        small => Some((usize::from(small), at + 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ziplist of "a", 7, 300 and "hello", as Redis 6.2's `ziplistPush` writes it.
    fn sample_ziplist() -> Vec<u8> {
        let mut body = Vec::new();
        let entries: [&[u8]; 4] =
            [&[0x01, b'a'], &[0xf8], &[0xc0, 0x2c, 0x01], &[0x05, b'h', b'e', b'l', b'l', b'o']];
        let mut previous = 0;
        let mut last = 0;
        for entry in entries {
            last = ZIPLIST_HEADER_BYTES + body.len();
            body.push(previous as u8);
            body.extend_from_slice(entry);
            previous = entry.len() + 1;
        }
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&((ZIPLIST_HEADER_BYTES + body.len() + 1) as u32).to_le_bytes());
        bytes.extend_from_slice(&(last as u32).to_le_bytes());
        bytes.extend_from_slice(&4u16.to_le_bytes());
        bytes.extend_from_slice(&body);
        bytes.push(END);
        bytes
    }

    #[test]
    fn a_ziplist_reads_its_strings_and_integers() {
        let bytes = sample_ziplist();
        let elements = ziplist(&bytes).unwrap();
        assert_eq!(
            elements,
            vec![
                Element::String(b"a"),
                Element::Integer(7),
                Element::Integer(300),
                Element::String(b"hello")
            ]
        );
        for cut in 0..bytes.len() {
            assert_eq!(ziplist(&bytes[..cut]), None);
        }
        for at in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x40;
            let _ = ziplist(&flipped);
        }
    }

    #[test]
    fn a_zipmap_reads_its_pairs_and_skips_free_space() {
        let bytes = b"\x02\x01a\x02\x00xy\x01b\x01\x02z\x00\x00\xff";
        let hash = read_zipmap(bytes).unwrap();
        let pairs: Vec<(&[u8], &[u8])> = hash.iter().map(|(f, v)| (&f[..], &v[..])).collect();
        assert_eq!(pairs, vec![(&b"a"[..], &b"xy"[..]), (b"b", b"z")]);
        for cut in 0..bytes.len() {
            assert_eq!(read_zipmap(&bytes[..cut]), None);
        }
    }
}
