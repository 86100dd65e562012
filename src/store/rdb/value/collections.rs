//! The records of sets, hashes and sorted sets: their compact forms (intset, listpack) and
//! their plain forms (a count, then the members), written and read as Redis 7.0 does.
//!
//! Reading builds the value by inserting in payload order, so it takes the representation
//! Redis would convert to on loading: a plain hash or set small enough becomes a listpack or an
//! intset, a sorted set is classified by its content (`SortedSet::from_distinct_pairs`), and a
//! compact record over the entry bound becomes the large form.

use bytes::Bytes;

use super::super::{intset, listpack, string};
use super::{read_count, TYPE_HASH, TYPE_HASH_LISTPACK, TYPE_SET, TYPE_SET_INTSET};
use super::{TYPE_ZSET, TYPE_ZSET_2, TYPE_ZSET_LISTPACK};
use crate::command::parse_f64;
use crate::resp::format_double;
use crate::store::{HashValue, SetValue, SortedSet, SortedSetEncoding};

pub(super) fn write_set(record: &mut Vec<u8>, set: &SetValue) {
    match set {
        SetValue::Intset(integers) => {
            record.push(TYPE_SET_INTSET);
            string::write(record, &intset::write(integers.iter().copied()));
        }
        SetValue::Table(_) => {
            record.push(TYPE_SET);
            string::write_length(record, set.len() as u64);
            for member in set.iter() {
                string::write(record, &member);
            }
        }
    }
}

pub(super) fn read_intset(blob: &[u8]) -> Option<SetValue> {
    let integers = intset::read(blob)?;
    if integers.is_empty() {
        return None;
    }
    let mut set = SetValue::default();
    for integer in integers {
        set.insert(&Bytes::copy_from_slice(itoa::Buffer::new().format(integer).as_bytes()));
    }
    Some(set)
}

pub(super) fn read_plain_set(record: &mut string::Reader) -> Option<SetValue> {
    let count = read_count(record)?;
    let mut set = SetValue::default();
    for _ in 0..count {
        if !set.insert(&Bytes::from(record.string()?)) {
            return None;
        }
    }
    (!set.is_empty()).then_some(set)
}

pub(super) fn write_hash(record: &mut Vec<u8>, hash: &HashValue) {
    match hash {
        HashValue::Listpack(pairs) => {
            record.push(TYPE_HASH_LISTPACK);
            let mut writer = listpack::Writer::new();
            for (field, value) in pairs {
                writer.push(field);
                writer.push(value);
            }
            string::write(record, &writer.finish());
        }
        HashValue::Table(_) => {
            record.push(TYPE_HASH);
            string::write_length(record, hash.len() as u64);
            for (field, value) in hash.iter() {
                string::write(record, field);
                string::write(record, value);
            }
        }
    }
}

/// A hash from field-value pairs in order; `None` if a field repeats or there is none.
pub(super) fn hash_from_pairs(
    pairs: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>,
) -> Option<HashValue> {
    let mut hash = HashValue::default();
    for (field, value) in pairs {
        if !hash.insert(&Bytes::from(field), Bytes::from(value)) {
            return None;
        }
    }
    (!hash.is_empty()).then_some(hash)
}

pub(super) fn read_listpack_hash(blob: &[u8]) -> Option<HashValue> {
    hash_from_pairs(pairs(listpack::read(blob)?)?)
}

/// The elements of a listpack or ziplist taken two by two; `None` if their number is odd.
pub(super) fn pairs(elements: Vec<listpack::Element>) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    if elements.len() % 2 != 0 {
        return None;
    }
    Some(elements.chunks_exact(2).map(|pair| (pair[0].to_vec(), pair[1].to_vec())).collect())
}

pub(super) fn read_plain_hash(record: &mut string::Reader) -> Option<HashValue> {
    let count = read_count(record)?;
    let mut pairs = Vec::new();
    for _ in 0..count {
        pairs.push((record.string()?, record.string()?));
    }
    hash_from_pairs(pairs)
}

pub(super) fn write_sorted_set(record: &mut Vec<u8>, set: &SortedSet) {
    match set.encoding() {
        SortedSetEncoding::Listpack => {
            record.push(TYPE_ZSET_LISTPACK);
            let mut writer = listpack::Writer::new();
            for (member, score) in set.iter() {
                writer.push(member);
                push_score(&mut writer, score);
            }
            string::write(record, &writer.finish());
        }
        SortedSetEncoding::Skiplist => {
            record.push(TYPE_ZSET_2);
            string::write_length(record, set.len() as u64);
            for (member, score) in set.iter_from(set.len().saturating_sub(1), true) {
                string::write(record, member);
                record.extend_from_slice(&score.to_le_bytes());
            }
        }
    }
}

/// A score as `zzlInsertAt` stores it: an integer when `double2ll` says the double is one
/// (`-0` included, which so becomes `0`), otherwise `d2string`'s text.
fn push_score(writer: &mut listpack::Writer, score: f64) {
    let half = (i64::MAX / 2) as f64;
    if (-half..=half).contains(&score) && score == (score as i64) as f64 {
        writer.push_integer(score as i64);
    } else {
        writer.push(format_double(score).as_bytes());
    }
}

/// A sorted set from member-score pairs; `None` if a member repeats, a score is NaN, or
/// there is no pair.
fn sorted_set_from_pairs(pairs: Vec<(Bytes, f64)>) -> Option<SortedSet> {
    if pairs.is_empty() || pairs.iter().any(|(_, score)| score.is_nan()) {
        return None;
    }
    let mut members: Vec<&Bytes> = pairs.iter().map(|(member, _)| member).collect();
    members.sort_unstable();
    if members.windows(2).any(|pair| pair[0] == pair[1]) {
        return None;
    }
    Some(SortedSet::from_distinct_pairs(pairs))
}

/// Member-score pairs from a listpack's or ziplist's elements, scores as `zzlGetScore` reads
/// them.
pub(super) fn sorted_set_from_elements(elements: Vec<listpack::Element>) -> Option<SortedSet> {
    let mut pairs = Vec::with_capacity(elements.len() / 2);
    for pair in pairs_of(&elements)? {
        let score = match pair[1] {
            listpack::Element::Integer(integer) => integer as f64,
            listpack::Element::String(text) => parse_f64(text)?,
        };
        pairs.push((Bytes::from(pair[0].to_vec()), score));
    }
    sorted_set_from_pairs(pairs)
}

fn pairs_of<'a, 'b>(
    elements: &'b [listpack::Element<'a>],
) -> Option<std::slice::ChunksExact<'b, listpack::Element<'a>>> {
    (elements.len() % 2 == 0).then(|| elements.chunks_exact(2))
}

pub(super) fn read_listpack_sorted_set(blob: &[u8]) -> Option<SortedSet> {
    sorted_set_from_elements(listpack::read(blob)?)
}

pub(super) fn read_plain_sorted_set(kind: u8, record: &mut string::Reader) -> Option<SortedSet> {
    let count = read_count(record)?;
    let mut pairs = Vec::new();
    for _ in 0..count {
        let member = Bytes::from(record.string()?);
        let score = match kind {
            TYPE_ZSET_2 => f64::from_le_bytes(record.raw(8)?.try_into().ok()?),
            TYPE_ZSET => read_text_score(record)?,
            _ => return None,
        };
        pairs.push((member, score));
    }
    sorted_set_from_pairs(pairs)
}

/// `rdbLoadDoubleValue`: a length byte (253 NaN, 254 `inf`, 255 `-inf`) and that many bytes
/// of text.
fn read_text_score(record: &mut string::Reader) -> Option<f64> {
    match record.byte()? {
        253 => Some(f64::NAN),
        254 => Some(f64::INFINITY),
        255 => Some(f64::NEG_INFINITY),
        length => parse_f64(record.raw(usize::from(length))?),
    }
}
