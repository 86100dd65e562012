//! Execution of the hash family.
//!
//! Every command reaches a stored value through [`hash_at`] (or [`as_hash`]), whose exhaustive
//! `match` on [`Value`] decides WRONGTYPE for hashes. A write that would change nothing (HDEL
//! of absent fields, HSETNX of a present one) leaves the key untouched, so that WATCH sees no
//! change, as in Redis; the last field's removal deletes the key.
//!
//! HRANDFIELD ... WITHVALUES replies with [`Frame::Pairs`]: a flat array in RESP2, an array of
//! field-value pairs in RESP3, as Redis 7.0 replies.

use bytes::Bytes;

use crate::command::hashes::{HashRead, HashWrite, RandomCount, ScanOptions};
use crate::command::{CommandError, DbIndex, Key};
use crate::resp::Frame;
use crate::store::{glob_match, Db, HashValue, Keyspace, LongDouble, Value};

use super::{change_collection, ApplyContext, Random};

#[cfg(test)]
mod tests;

const NOT_INTEGER: CommandError = CommandError::other("ERR hash value is not an integer");
const NOT_FLOAT: CommandError = CommandError::other("ERR hash value is not a float");
const INFINITE_INCREMENT: CommandError = CommandError::other("ERR value is NaN or Infinity");
const NAN_OR_INFINITY: CommandError =
    CommandError::other("ERR increment would produce NaN or Infinity");

/// The most items a random reply with repeats may hold. Redis would try to send any count the
/// client asks for, and a count near 2^62 would exhaust the node's memory; Concord refuses it.
pub(super) const RANDOM_REPLY_ITEMS_MAX: u64 = 1 << 24;

pub(super) const RANDOM_REPLY_TOO_LARGE: CommandError =
    CommandError::other("ERR value is out of range, the reply would be too large");

pub(super) fn read(keyspace: &Keyspace, db: DbIndex, now_ms: u64, read: &HashRead) -> Frame {
    let db = keyspace.db(db);
    let result = match read {
        HashRead::Get { key, field } => {
            hash_at(db, key, now_ms).map(|hash| Frame::bulk_or_null(field_of(hash, field)))
        }
        HashRead::MGet { key, fields } => hash_at(db, key, now_ms).map(|hash| {
            Frame::Array(
                fields.iter().map(|field| Frame::bulk_or_null(field_of(hash, field))).collect(),
            )
        }),
        HashRead::Len { key } => hash_at(db, key, now_ms)
            .map(|hash| Frame::Integer(hash.map_or(0, HashValue::len) as i64)),
        HashRead::Exists { key, field } => hash_at(db, key, now_ms)
            .map(|hash| Frame::Integer(i64::from(field_of(hash, field).is_some()))),
        HashRead::Keys { key } => hash_at(db, key, now_ms).map(|hash| {
            Frame::Array(all_pairs(hash).map(|(field, _)| Frame::Bulk(field.clone())).collect())
        }),
        HashRead::Values { key } => hash_at(db, key, now_ms).map(|hash| {
            Frame::Array(all_pairs(hash).map(|(_, value)| Frame::Bulk(value.clone())).collect())
        }),
        HashRead::GetAll { key } => hash_at(db, key, now_ms).map(|hash| {
            Frame::Map(
                all_pairs(hash)
                    .map(|(field, value)| (Frame::Bulk(field.clone()), Frame::Bulk(value.clone())))
                    .collect(),
            )
        }),
        HashRead::StrLen { key, field } => hash_at(db, key, now_ms).map(|hash| {
            Frame::Integer(field_of(hash, field).map_or(0, |value| value.len()) as i64)
        }),
        HashRead::RandomField { key, count } => random_fields(db, key, now_ms, *count),
        HashRead::Scan { key, cursor, options } => scan(db, key, now_ms, *cursor, options),
    };
    result.unwrap_or_else(Frame::from)
}

pub(super) fn write(
    keyspace: &mut Keyspace,
    db: DbIndex,
    context: &ApplyContext,
    write: &HashWrite,
) -> Frame {
    let db = keyspace.db_mut(db);
    let now_ms = context.now_ms;
    let result = match write {
        HashWrite::Set { key, pairs, reply_ok } => apply_set(db, now_ms, key, pairs, *reply_ok),
        HashWrite::SetNx { key, field, value } => apply_setnx(db, now_ms, key, field, value),
        HashWrite::Del { key, fields } => apply_del(db, now_ms, key, fields),
        HashWrite::IncrBy { key, field, increment } => {
            apply_incrby(db, now_ms, key, field, *increment)
        }
        HashWrite::IncrByFloat { key, field, increment } => {
            apply_incrbyfloat(db, now_ms, key, field, increment)
        }
    };
    result.unwrap_or_else(Frame::from)
}

/// The hash in `value`, or WRONGTYPE. Exhaustive on purpose (see the module docs).
fn as_hash(value: &Value) -> Result<&HashValue, CommandError> {
    match value {
        Value::Hash(hash) => Ok(hash),
        Value::String(_)
        | Value::List(_)
        | Value::Set(_)
        | Value::SortedSet(_)
        | Value::Stream(_) => Err(CommandError::WrongType),
    }
}

/// The live hash at `key`: `None` if absent, WRONGTYPE if it holds another type.
fn hash_at<'a>(db: &'a Db, key: &Key, now_ms: u64) -> Result<Option<&'a HashValue>, CommandError> {
    db.get(key, now_ms).map(|entry| as_hash(&entry.value)).transpose()
}

fn field_of(hash: Option<&HashValue>, field: &Bytes) -> Option<Bytes> {
    hash.and_then(|hash| hash.get(field)).cloned()
}

fn all_pairs(hash: Option<&HashValue>) -> impl Iterator<Item = (&Bytes, &Bytes)> {
    hash.into_iter().flat_map(HashValue::iter)
}

fn apply_set(
    db: &mut Db,
    now_ms: u64,
    key: &Key,
    pairs: &[(Bytes, Bytes)],
    reply_ok: bool,
) -> Result<Frame, CommandError> {
    hash_at(db, key, now_ms)?;
    let added = change_collection::<HashValue, _>(db, key, now_ms, |hash| {
        pairs.iter().filter(|(field, value)| hash.insert(field, value.clone())).count()
    });
    Ok(if reply_ok { Frame::ok() } else { Frame::Integer(added as i64) })
}

fn apply_setnx(
    db: &mut Db,
    now_ms: u64,
    key: &Key,
    field: &Bytes,
    value: &Bytes,
) -> Result<Frame, CommandError> {
    if hash_at(db, key, now_ms)?.is_some_and(|hash| hash.get(field).is_some()) {
        return Ok(Frame::Integer(0));
    }
    change_collection::<HashValue, _>(db, key, now_ms, |hash| hash.insert(field, value.clone()));
    Ok(Frame::Integer(1))
}

fn apply_del(db: &mut Db, now_ms: u64, key: &Key, fields: &[Bytes]) -> Result<Frame, CommandError> {
    let Some(hash) = hash_at(db, key, now_ms)? else {
        return Ok(Frame::Integer(0));
    };
    if !fields.iter().any(|field| hash.get(field).is_some()) {
        return Ok(Frame::Integer(0));
    }
    let removed = change_collection::<HashValue, _>(db, key, now_ms, |hash| {
        fields.iter().filter(|field| hash.remove(field)).count()
    });
    Ok(Frame::Integer(removed as i64))
}

/// HINCRBY: a missing field counts as 0; a present one must be exactly a decimal `i64`.
fn apply_incrby(
    db: &mut Db,
    now_ms: u64,
    key: &Key,
    field: &Bytes,
    increment: i64,
) -> Result<Frame, CommandError> {
    let current = match field_of(hash_at(db, key, now_ms)?, field) {
        None => 0,
        Some(value) => crate::command::parse_i64(&value).ok_or(NOT_INTEGER)?,
    };
    let updated = current.checked_add(increment).ok_or(CommandError::Overflow)?;
    let text = Bytes::copy_from_slice(itoa::Buffer::new().format(updated).as_bytes());
    change_collection::<HashValue, _>(db, key, now_ms, |hash| hash.insert(field, text));
    Ok(Frame::Integer(updated))
}

/// HINCRBYFLOAT in the long double arithmetic of INCRBYFLOAT: the increment first (Redis
/// reads it before the key), then the key and the field. The result is stored as the text it
/// replies with.
fn apply_incrbyfloat(
    db: &mut Db,
    now_ms: u64,
    key: &Key,
    field: &Bytes,
    increment: &Bytes,
) -> Result<Frame, CommandError> {
    let increment = LongDouble::parse(increment).ok_or(CommandError::NotFloat)?;
    // Adding zero keeps a finite value and refuses an infinite one.
    if increment.checked_add(LongDouble::from_i64(0)).is_none() {
        return Err(INFINITE_INCREMENT);
    }
    let current = match field_of(hash_at(db, key, now_ms)?, field) {
        None => LongDouble::from_i64(0),
        Some(value) => LongDouble::parse(&value).ok_or(NOT_FLOAT)?,
    };
    let text = current
        .checked_add(increment)
        .and_then(LongDouble::to_human_string)
        .ok_or(NAN_OR_INFINITY)?;
    let text = Bytes::from(text);
    change_collection::<HashValue, _>(db, key, now_ms, |hash| hash.insert(field, text.clone()));
    Ok(Frame::Bulk(text))
}

/// HRANDFIELD. Without a count: one field or nil. With one: a missing key or a zero count is
/// an empty array; a negative count draws `|count|` times with repeats; a positive count at
/// least the size returns the whole hash, and a smaller one distinct fields.
fn random_fields(
    db: &Db,
    key: &Key,
    now_ms: u64,
    count: Option<RandomCount>,
) -> Result<Frame, CommandError> {
    let hash = hash_at(db, key, now_ms)?;
    let mut random = Random::for_read(now_ms);
    let Some(RandomCount { count, with_values }) = count else {
        let field = hash.map(|hash| hash.at(random.below(hash.len() as u64) as usize).0.clone());
        return Ok(Frame::bulk_or_null(field));
    };
    let Some(hash) = hash.filter(|_| count != 0) else {
        return Ok(Frame::Array(Vec::new()));
    };
    let pairs: Vec<(&Bytes, &Bytes)> = match random_indexes(&mut random, hash.len(), count)? {
        RandomPick::All => hash.iter().collect(),
        RandomPick::Indexes(indexes) => indexes.into_iter().map(|index| hash.at(index)).collect(),
    };
    if with_values {
        let pairs = pairs
            .into_iter()
            .map(|(field, value)| (Frame::Bulk(field.clone()), Frame::Bulk(value.clone())));
        return Ok(Frame::Pairs(pairs.collect()));
    }
    Ok(Frame::Array(pairs.into_iter().map(|(field, _)| Frame::Bulk(field.clone())).collect()))
}

/// Which members a random reply with a count takes (see [`random_indexes`]).
pub(super) enum RandomPick {
    /// Every member, in iteration order.
    All,
    /// These positions of the dense order, in this order.
    Indexes(Vec<usize>),
}

/// The members a count of HRANDFIELD or SRANDMEMBER picks from `size` (> 0) members: a
/// negative count draws `|count|` positions uniformly with repeats; a positive count of at
/// least `size` takes everything; a smaller one `count` distinct positions (Floyd's
/// algorithm: O(count) draws, each position equally likely).
pub(super) fn random_indexes(
    random: &mut Random,
    size: usize,
    count: i64,
) -> Result<RandomPick, CommandError> {
    if count < 0 {
        let draws = count.unsigned_abs();
        if draws > RANDOM_REPLY_ITEMS_MAX {
            return Err(RANDOM_REPLY_TOO_LARGE);
        }
        return Ok(RandomPick::Indexes(
            (0..draws).map(|_| random.below(size as u64) as usize).collect(),
        ));
    }
    let count = count as u64;
    if count >= size as u64 {
        return Ok(RandomPick::All);
    }
    let count = count as usize;
    let mut chosen = std::collections::HashSet::with_capacity(count);
    let mut order = Vec::with_capacity(count);
    for upper in size - count..size {
        let candidate = random.below(upper as u64 + 1) as usize;
        let pick = if chosen.contains(&candidate) { upper } else { candidate };
        chosen.insert(pick);
        order.push(pick);
    }
    Ok(RandomPick::Indexes(order))
}

/// HSCAN: a missing key is an empty last page whatever the options; a key of another type is
/// WRONGTYPE; only then are the options' errors reported, as in Redis.
fn scan(
    db: &Db,
    key: &Key,
    now_ms: u64,
    cursor: u64,
    options: &Result<ScanOptions, CommandError>,
) -> Result<Frame, CommandError> {
    let Some(hash) = hash_at(db, key, now_ms)? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let options = options.clone()?;
    let page = hash.scan(cursor, options.count);
    let mut items = Vec::new();
    for (field, value) in page.members {
        if matches_pattern(options.pattern.as_ref(), field) {
            items.push(Frame::Bulk(field.clone()));
            items.push(Frame::Bulk(value.clone()));
        }
    }
    Ok(scan_reply(page.next_cursor, items))
}

pub(super) fn matches_pattern(pattern: Option<&Bytes>, member: &[u8]) -> bool {
    pattern.is_none_or(|pattern| glob_match(pattern, member, false))
}

/// `[cursor, [items]]`, the cursor as a bulk string, as every SCAN reply.
pub(super) fn scan_reply(next_cursor: u64, items: Vec<Frame>) -> Frame {
    Frame::Array(vec![Frame::bulk(itoa::Buffer::new().format(next_cursor)), Frame::Array(items)])
}
