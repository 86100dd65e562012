//! Execution of the string family.
//!
//! Every command reaches a stored value through [`string_at`] (or [`as_string`]), whose
//! exhaustive `match` on [`Value`] is the one place that decides WRONGTYPE for strings: a new
//! value type does not compile until it is given its arm there.
//!
//! Time to live follows Redis: commands that change a value in place (INCR and its relatives,
//! INCRBYFLOAT, APPEND, SETRANGE) keep the key's expiry; commands that set a value (SET without
//! KEEPTTL, GETSET, MSET, SETNX) drop it; SETEX, PSETEX and SET with an expiry set it. A
//! deadline at or before the entry's time deletes the key at once, as Redis does.

use bytes::Bytes;

use crate::command::strings::{
    expiry_from_argument, invalid_expire_time, Expiry, LcsCommand, LcsOptions, LcsReply,
    SetCommand, SetCondition, SetVariant, StringRead, StringWrite, TtlChange,
};
use crate::command::{CommandError, DbIndex, Key};
use crate::resp::Frame;
use crate::store::{
    fits_string_limit, Db, Keyspace, LongDouble, StringValue, Value, STRING_BYTES_MAX,
};

use super::ApplyContext;

#[cfg(test)]
mod tests;

const STRING_TOO_LONG: CommandError =
    CommandError::other("ERR string exceeds maximum allowed size (proto-max-bulk-len)");

pub(super) fn read(keyspace: &Keyspace, db: DbIndex, now_ms: u64, read: &StringRead) -> Frame {
    let db = keyspace.db(db);
    let result = match read {
        StringRead::Get { key } => string_at(db, key, now_ms)
            .map(|value| Frame::bulk_or_null(value.map(StringValue::to_bytes))),
        StringRead::MGet { keys } => Ok(mget(db, keys, now_ms)),
        StringRead::StrLen { key } => string_at(db, key, now_ms)
            .map(|value| Frame::Integer(value.map_or(0, StringValue::len) as i64)),
        StringRead::GetRange { key, start, end } => string_at(db, key, now_ms).map(|value| {
            Frame::Bulk(value.map_or_else(Bytes::new, |value| value.range(*start, *end)))
        }),
        StringRead::Lcs(lcs) => longest_common_subsequence(db, lcs, now_ms),
    };
    result.unwrap_or_else(Frame::from)
}

pub(super) fn write(
    keyspace: &mut Keyspace,
    db: DbIndex,
    context: &ApplyContext,
    write: &StringWrite,
) -> Frame {
    let db = keyspace.db_mut(db);
    let now_ms = context.now_ms;
    let result = match write {
        StringWrite::Set(set) => apply_set(db, now_ms, set),
        StringWrite::GetDel { key } => apply_getdel(db, now_ms, key),
        StringWrite::GetEx { key, change } => apply_getex(db, now_ms, key, change.as_ref()),
        StringWrite::MSet { pairs, only_if_none_exist } => {
            Ok(apply_mset(db, now_ms, pairs, *only_if_none_exist))
        }
        StringWrite::Append { key, suffix } => apply_append(db, now_ms, key, suffix),
        StringWrite::SetRange { key, offset, patch } => {
            apply_setrange(db, now_ms, key, *offset, patch)
        }
        StringWrite::IncrBy { key, increment } => apply_incrby(db, now_ms, key, *increment),
        StringWrite::IncrByFloat { key, increment } => {
            apply_incrbyfloat(db, now_ms, key, increment)
        }
        StringWrite::CompareAndSet { key, expected, new, create_if_absent } => {
            apply_compare_and_set(db, now_ms, key, expected, new, *create_if_absent)
        }
    };
    result.unwrap_or_else(Frame::from)
}

/// The string in `value`, or WRONGTYPE. Exhaustive on purpose (see the module docs).
fn as_string(value: &Value) -> Result<&StringValue, CommandError> {
    match value {
        Value::String(string) => Ok(string),
        Value::List(_)
        | Value::Hash(_)
        | Value::Set(_)
        | Value::SortedSet(_)
        | Value::Stream(_) => Err(CommandError::WrongType),
    }
}

/// The live string at `key`: `None` if absent, WRONGTYPE if it holds another type.
pub(super) fn string_at<'a>(
    db: &'a Db,
    key: &Key,
    now_ms: u64,
) -> Result<Option<&'a StringValue>, CommandError> {
    db.get(key, now_ms).map(|entry| as_string(&entry.value)).transpose()
}

/// Replaces the value at `key`, keeping its time to live (or creating it without one).
fn store_keeping_ttl(db: &mut Db, key: &Key, value: StringValue, now_ms: u64) {
    db.insert_keep_ttl(key.clone(), Value::String(value), now_ms);
}

/// MGET: a key that is absent or not a string is nil, never an error.
fn mget(db: &Db, keys: &[Key], now_ms: u64) -> Frame {
    let values = keys.iter().map(|key| {
        let string = db.get(key, now_ms).and_then(|entry| as_string(&entry.value).ok());
        Frame::bulk_or_null(string.map(StringValue::to_bytes))
    });
    Frame::Array(values.collect())
}

/// SET and its special cases, in Redis's order: the expire time, then (with GET) the old
/// value's type, then the condition.
fn apply_set(db: &mut Db, now_ms: u64, set: &SetCommand) -> Result<Frame, CommandError> {
    let deadline = match set.expiry {
        Some(Expiry::KeepTtl) | None => None,
        Some(expiry) => Some(deadline_ms(expiry, now_ms, set.variant.name())?),
    };
    let previous =
        if set.get { string_at(db, &set.key, now_ms)?.map(StringValue::to_bytes) } else { None };
    // A plain SET overwrites whatever is there: only NX and XX need to look first.
    let refused = match set.condition {
        Some(SetCondition::IfAbsent) => db.contains(&set.key, now_ms),
        Some(SetCondition::IfPresent) => !db.contains(&set.key, now_ms),
        None => false,
    };
    if !refused {
        let value = Value::String(StringValue::from_bytes(set.value.clone()));
        match (set.expiry, deadline) {
            (Some(Expiry::KeepTtl), _) => {
                db.insert_keep_ttl(set.key.clone(), value, now_ms);
            }
            (_, Some(deadline)) if deadline <= now_ms => {
                db.remove(&set.key, now_ms);
            }
            (_, deadline) => {
                db.insert(set.key.clone(), value, deadline, now_ms);
            }
        }
    }
    Ok(match (set.variant, set.get, refused) {
        (SetVariant::SetNx, _, refused) => Frame::Integer(i64::from(!refused)),
        (_, true, _) => Frame::bulk_or_null(previous),
        (_, false, true) => Frame::Null,
        (_, false, false) => Frame::ok(),
    })
}

fn apply_getdel(db: &mut Db, now_ms: u64, key: &Key) -> Result<Frame, CommandError> {
    let Some(value) = string_at(db, key, now_ms)?.map(StringValue::to_bytes) else {
        return Ok(Frame::Null);
    };
    db.remove(key, now_ms);
    Ok(Frame::Bulk(value))
}

/// GETEX: the key's type is checked before the expire time, as in Redis, so a missing key
/// answers nil even with an invalid time.
fn apply_getex(
    db: &mut Db,
    now_ms: u64,
    key: &Key,
    change: Option<&TtlChange>,
) -> Result<Frame, CommandError> {
    let Some(value) = string_at(db, key, now_ms)?.map(StringValue::to_bytes) else {
        return Ok(Frame::Null);
    };
    match change {
        None => {}
        Some(TtlChange::Persist) => {
            db.set_expiry(key, None, now_ms);
        }
        Some(TtlChange::Expire { unit, amount }) => {
            let expiry = expiry_from_argument(*unit, amount, "getex")?;
            let deadline = deadline_ms(expiry, now_ms, "getex")?;
            if deadline <= now_ms {
                db.remove(key, now_ms);
            } else {
                db.set_expiry(key, Some(deadline), now_ms);
            }
        }
    }
    Ok(Frame::Bulk(value))
}

/// MSET, or MSETNX when `only_if_none_exist` (which counts keys of every type as existing).
/// A key given twice takes its last value.
fn apply_mset(db: &mut Db, now_ms: u64, pairs: &[(Key, Bytes)], only_if_none_exist: bool) -> Frame {
    if only_if_none_exist && pairs.iter().any(|(key, _)| db.contains(key, now_ms)) {
        return Frame::Integer(0);
    }
    for (key, value) in pairs {
        let value = Value::String(StringValue::from_bytes(value.clone()));
        db.insert(key.clone(), value, None, now_ms);
    }
    if only_if_none_exist {
        Frame::Integer(1)
    } else {
        Frame::ok()
    }
}

/// CONCORD.CAS: 1 if `new` was set, 0 if the value differed from `expected`, nil if the key
/// is absent (and not created). A set replaces the value as SET does, dropping any time to
/// live: the caller asked for exactly this value, not for an edit of the old one.
fn apply_compare_and_set(
    db: &mut Db,
    now_ms: u64,
    key: &Key,
    expected: &Bytes,
    new: &Bytes,
    create_if_absent: bool,
) -> Result<Frame, CommandError> {
    let matches = match string_at(db, key, now_ms)? {
        None if !create_if_absent => return Ok(Frame::Null),
        None => true,
        Some(current) => current.to_bytes() == *expected,
    };
    if matches {
        let value = Value::String(StringValue::from_bytes(new.clone()));
        db.insert(key.clone(), value, None, now_ms);
    }
    Ok(Frame::Integer(i64::from(matches)))
}

fn apply_append(
    db: &mut Db,
    now_ms: u64,
    key: &Key,
    suffix: &Bytes,
) -> Result<Frame, CommandError> {
    let appended = match string_at(db, key, now_ms)? {
        // A new key is stored as SET would store it (int, embstr or raw by content).
        None => StringValue::from_bytes(suffix.clone()),
        Some(current) => {
            if !fits_string_limit(current.len() as u64, suffix.len() as u64) {
                return Err(STRING_TOO_LONG);
            }
            current.appended(suffix)
        }
    };
    let length = appended.len();
    store_keeping_ttl(db, key, appended, now_ms);
    Ok(Frame::Integer(length as i64))
}

/// SETRANGE: an empty patch changes nothing (and creates no key), but still reports the length.
fn apply_setrange(
    db: &mut Db,
    now_ms: u64,
    key: &Key,
    offset: u64,
    patch: &Bytes,
) -> Result<Frame, CommandError> {
    let current = string_at(db, key, now_ms)?;
    if patch.is_empty() {
        return Ok(Frame::Integer(current.map_or(0, StringValue::len) as i64));
    }
    if !fits_string_limit(offset, patch.len() as u64) {
        return Err(STRING_TOO_LONG);
    }
    let offset = usize::try_from(offset).expect("offsets within the size limit fit in usize");
    let patched = match current {
        Some(current) => current.with_range_replaced(offset, patch),
        None => StringValue::Raw(Bytes::new()).with_range_replaced(offset, patch),
    };
    let length = patched.len();
    store_keeping_ttl(db, key, patched, now_ms);
    Ok(Frame::Integer(length as i64))
}

fn apply_incrby(
    db: &mut Db,
    now_ms: u64,
    key: &Key,
    increment: i64,
) -> Result<Frame, CommandError> {
    let current = match string_at(db, key, now_ms)? {
        None => 0,
        Some(value) => value.to_integer().ok_or(CommandError::NotInteger)?,
    };
    let updated = current.checked_add(increment).ok_or(CommandError::Overflow)?;
    store_keeping_ttl(db, key, StringValue::Integer(updated), now_ms);
    Ok(Frame::Integer(updated))
}

/// INCRBYFLOAT in x87 long double arithmetic (see [`LongDouble`]). The stored value is read
/// before the increment, as in Redis; the result is stored as the text it replies with.
fn apply_incrbyfloat(
    db: &mut Db,
    now_ms: u64,
    key: &Key,
    increment: &Bytes,
) -> Result<Frame, CommandError> {
    let current = match string_at(db, key, now_ms)? {
        None => LongDouble::from_i64(0),
        Some(value) => value.to_long_double().ok_or(CommandError::NotFloat)?,
    };
    let increment = LongDouble::parse(increment).ok_or(CommandError::NotFloat)?;
    let text = current
        .checked_add(increment)
        .and_then(LongDouble::to_human_string)
        .ok_or(CommandError::other("ERR increment would produce NaN or Infinity"))?;
    let text = Bytes::from(text);
    store_keeping_ttl(db, key, StringValue::Bytes(text.clone()), now_ms);
    Ok(Frame::Bulk(text))
}

/// Resolves an expiry option to a Unix time in milliseconds, against the entry's time. A
/// relative time that overflows is an invalid expire time, named after `command`.
pub(super) fn deadline_ms(expiry: Expiry, now_ms: u64, command: &str) -> Result<u64, CommandError> {
    let now = now_ms as i64;
    let deadline = match expiry {
        Expiry::Seconds(seconds) => seconds.checked_mul(1000).and_then(|ms| ms.checked_add(now)),
        Expiry::Milliseconds(ms) => ms.checked_add(now),
        Expiry::UnixSeconds(seconds) => seconds.checked_mul(1000),
        Expiry::UnixMilliseconds(ms) => Some(ms),
        Expiry::KeepTtl => unreachable!("KEEPTTL is not a deadline"),
    };
    match deadline {
        Some(deadline) if deadline > 0 => Ok(deadline as u64),
        _ => Err(invalid_expire_time(command)),
    }
}

/// LCS: both keys must hold strings (or be absent, reading as empty) before the options are
/// looked at, as in Redis.
fn longest_common_subsequence(
    db: &Db,
    lcs: &LcsCommand,
    now_ms: u64,
) -> Result<Frame, CommandError> {
    let not_strings = || CommandError::other("ERR The specified keys must contain string values");
    let first = string_at(db, &lcs.first, now_ms).map_err(|_| not_strings())?;
    let second = string_at(db, &lcs.second, now_ms).map_err(|_| not_strings())?;
    let options = lcs.options.clone()?;
    let first = first.map_or_else(Bytes::new, StringValue::to_bytes);
    let second = second.map_or_else(Bytes::new, StringValue::to_bytes);
    // Redis bounds the table's memory (4 bytes a cell) by proto-max-bulk-len.
    let cells = (first.len() as u64 + 1).saturating_mul(second.len() as u64 + 1);
    if cells.saturating_mul(4) > STRING_BYTES_MAX {
        return Err(CommandError::other(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    Ok(lcs_reply(&first, &second, &options))
}

/// One run of consecutive matching bytes: positions in the first and second string.
struct MatchRun {
    first_start: usize,
    first_end: usize,
    second_start: usize,
    second_end: usize,
}

impl MatchRun {
    fn length(&self) -> usize {
        self.first_end - self.first_start + 1
    }

    fn to_frame(&self, with_length: bool) -> Frame {
        let range = |start: usize, end: usize| {
            Frame::Array(vec![Frame::Integer(start as i64), Frame::Integer(end as i64)])
        };
        let mut items = vec![
            range(self.first_start, self.first_end),
            range(self.second_start, self.second_end),
        ];
        if with_length {
            items.push(Frame::Integer(self.length() as i64));
        }
        Frame::Array(items)
    }
}

/// The classic dynamic program: `table[i][j]` is the LCS length of the first `i` bytes of
/// `first` and the first `j` of `second`. Walking back from the end, a match steps
/// diagonally and otherwise the walk moves along the longer neighbour, preferring to shorten
/// `second` on ties: Redis's walk, so that the same subsequence and ranges come out.
fn lcs_reply(first: &[u8], second: &[u8], options: &LcsOptions) -> Frame {
    let width = second.len() + 1;
    let mut table = vec![0u32; (first.len() + 1) * width];
    for i in 1..=first.len() {
        for j in 1..=second.len() {
            table[i * width + j] = if first[i - 1] == second[j - 1] {
                table[(i - 1) * width + j - 1] + 1
            } else {
                table[(i - 1) * width + j].max(table[i * width + j - 1])
            };
        }
    }
    let length = table[first.len() * width + second.len()];
    if options.reply == LcsReply::Length {
        return Frame::Integer(i64::from(length));
    }
    let mut subsequence = Vec::with_capacity(length as usize);
    let mut runs = Vec::new();
    let mut run: Option<MatchRun> = None;
    let (mut i, mut j) = (first.len(), second.len());
    while i > 0 && j > 0 {
        if first[i - 1] == second[j - 1] {
            subsequence.push(first[i - 1]);
            // A match right after a match always extends the run backwards.
            match &mut run {
                Some(run) => (run.first_start, run.second_start) = (i - 1, j - 1),
                None => {
                    run = Some(MatchRun {
                        first_start: i - 1,
                        first_end: i - 1,
                        second_start: j - 1,
                        second_end: j - 1,
                    })
                }
            }
            (i, j) = (i - 1, j - 1);
        } else {
            if table[(i - 1) * width + j] > table[i * width + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            runs.extend(run.take());
        }
    }
    runs.extend(run.take());
    if options.reply == LcsReply::Subsequence {
        subsequence.reverse();
        return Frame::Bulk(Bytes::from(subsequence));
    }
    let matches = runs
        .iter()
        .filter(|run| run.length() as u64 >= options.min_match_length)
        .map(|run| run.to_frame(options.with_match_length))
        .collect();
    Frame::Map(vec![
        (Frame::bulk("matches"), Frame::Array(matches)),
        (Frame::bulk("len"), Frame::Integer(i64::from(length))),
    ])
}
