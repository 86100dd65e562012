//! Execution of the keyspace family: reads on a view, writes in apply (DUMP and RESTORE in
//! the child `restore`).
//!
//! Time is the caller's `now_ms` (a read's view time or the entry's time), never a clock.
//! Replies follow Redis 7.0 exactly, with these deliberate differences:
//! - OBJECT IDLETIME counts from the last write or TOUCH, not the last access: reads cannot
//!   change replicated state (see `store::Entry::idle_ms`).
//! - OBJECT FREQ always gives Redis's "not an LFU policy" error: Concord never evicts, so it is
//!   always under Redis's default policy, and it tracks no access frequency.
//! - OBJECT REFCOUNT reports Redis's shared-integer count (`i32::MAX`) for every integer string
//!   from 0 to 9999, including the copy COPY makes (for which Redis reports 1).
//! - RANDOMKEY draws from a per-node seed; reads never enter the log, so no replica needs to
//!   make the same choice.

mod restore;
#[cfg(test)]
mod tests;

use bytes::Bytes;

use crate::command::keys::{
    invalid_expire_time, ExpireCommand, KeyRead, KeyWrite, ObjectQuestion, ScanCommand,
    TimeToLiveForm, FREQUENCY_NOT_TRACKED, OBJECT_HELP, SAME_OBJECT,
};
use crate::command::{CommandError, DbIndex, Key, Write, DATABASES};
use crate::resp::Frame;
use crate::store::{glob_match, Db, Keyspace, StringValue, Value};

use super::reclaim::drop_later;
use super::{ApplyContext, Random};

/// Redis shares the integers below this among all keys (when no maxmemory is set, its
/// default), and reports such a value's reference count as `i32::MAX`.
const SHARED_INTEGERS: i64 = 10_000;

pub(super) fn read(keyspace: &Keyspace, db: DbIndex, now_ms: u64, read: &KeyRead) -> Frame {
    let db = keyspace.db(db);
    match read {
        KeyRead::Exists { keys } => count(keys.iter().filter(|key| db.contains(key, now_ms))),
        KeyRead::Type { key } => {
            Frame::simple(db.get(key, now_ms).map_or("none", |entry| entry.value.type_name()))
        }
        KeyRead::Keys { pattern } => {
            let pattern = (pattern.as_ref() != b"*").then_some(pattern);
            Frame::Array(
                db.iter(now_ms)
                    .filter(|(key, _)| matches_pattern(pattern, key))
                    .map(|(key, _)| Frame::Bulk(Bytes::copy_from_slice(key)))
                    .collect(),
            )
        }
        KeyRead::Scan(scan) => read_scan(db, now_ms, scan),
        KeyRead::RandomKey => {
            let key = db.random_key(Random::for_read(now_ms).next_u64(), now_ms);
            Frame::bulk_or_null(key.map(Bytes::copy_from_slice))
        }
        KeyRead::TimeToLive { key, form } => read_time_to_live(db, now_ms, key, *form),
        KeyRead::Object { key, question } => read_object(db, now_ms, key, *question),
        KeyRead::ObjectHelp => {
            Frame::Array(OBJECT_HELP.iter().map(|line| Frame::simple(line)).collect())
        }
        KeyRead::DbSize => Frame::Integer(db.len() as i64),
        KeyRead::Dump { key } => restore::read_dump(db, now_ms, key),
    }
}

pub(super) fn write(
    keyspace: &mut Keyspace,
    db: DbIndex,
    context: &ApplyContext,
    write: &KeyWrite,
) -> Frame {
    let now_ms = context.now_ms;
    let result = match write {
        KeyWrite::Del { keys } => {
            let db = keyspace.db_mut(db);
            Ok(count(keys.iter().filter(|key| db.remove(key, now_ms).is_some())))
        }
        KeyWrite::Touch { keys } => {
            let db = keyspace.db_mut(db);
            Ok(count(keys.iter().filter(|key| db.touch(key, now_ms))))
        }
        KeyWrite::Rename { source, destination, only_if_absent } => {
            apply_rename(keyspace.db_mut(db), now_ms, source, destination, *only_if_absent)
        }
        KeyWrite::Copy { source, destination, db: target, replace } => {
            let target = target.unwrap_or(db);
            apply_copy(keyspace, now_ms, (db, source), (target, destination), *replace)
        }
        KeyWrite::Move { key, db: target } => apply_move(keyspace, now_ms, key, db, *target),
        KeyWrite::Expire(expire) => apply_expire(keyspace.db_mut(db), now_ms, expire),
        KeyWrite::Persist { key } => Ok(apply_persist(keyspace.db_mut(db), now_ms, key)),
        KeyWrite::FlushDb => {
            drop_later(keyspace.db_mut(db).take_all());
            Ok(Frame::ok())
        }
        KeyWrite::FlushAll => {
            let old: Vec<Db> = (0..DATABASES).map(|db| keyspace.db_mut(db).take_all()).collect();
            drop_later(old);
            Ok(Frame::ok())
        }
        KeyWrite::SwapDb { first, second } => {
            keyspace.swap(*first, *second);
            Ok(Frame::ok())
        }
        KeyWrite::DeleteExpired { keys } => {
            let db = keyspace.db_mut(db);
            Ok(count(keys.iter().filter(|key| db.remove_if_expired(key, now_ms))))
        }
        KeyWrite::Restore(restore) => restore::apply_restore(keyspace.db_mut(db), now_ms, restore),
    };
    result.unwrap_or_else(Frame::from)
}

/// Whether applying `write` may leave a whole database for the previous view to free: the
/// state machine then frees that view off the apply path (see [`drop_later`]).
pub(super) fn may_free_a_database(write: &Write) -> bool {
    matches!(write, Write::Key(KeyWrite::FlushDb | KeyWrite::FlushAll))
}

fn count<T>(items: impl Iterator<Item = T>) -> Frame {
    Frame::Integer(items.count() as i64)
}

/// Whether `key` matches a KEYS or SCAN pattern; `None` is Redis's special case for `*`, which
/// matches every key, even the empty one.
fn matches_pattern(pattern: Option<&Bytes>, key: &[u8]) -> bool {
    pattern.is_none_or(|pattern| glob_match(pattern, key, false))
}

/// One SCAN page: the keys visited from the cursor that pass MATCH and TYPE, and the cursor
/// to continue from. Filters run after the visit, so a page may be empty before the end.
fn read_scan(db: &Db, now_ms: u64, scan: &ScanCommand) -> Frame {
    let page = db.scan(scan.cursor, scan.count, now_ms);
    let keys = page
        .entries
        .into_iter()
        .filter(|(key, _)| matches_pattern(scan.pattern.as_ref(), key))
        .filter(|(_, entry)| {
            scan.type_name.as_ref().is_none_or(|wanted| {
                wanted.eq_ignore_ascii_case(entry.value.type_name().as_bytes())
            })
        })
        .map(|(key, _)| Frame::Bulk(Bytes::copy_from_slice(key)))
        .collect();
    let mut cursor = itoa::Buffer::new();
    Frame::Array(vec![Frame::bulk(cursor.format(page.next_cursor)), Frame::Array(keys)])
}

/// TTL and friends: -2 for a missing key, -1 for a key without expiry. The seconds forms round
/// to the nearest second, half up, as Redis does.
fn read_time_to_live(db: &Db, now_ms: u64, key: &Key, form: TimeToLiveForm) -> Frame {
    let Some(entry) = db.get(key, now_ms) else {
        return Frame::Integer(-2);
    };
    let Some(deadline_ms) = entry.expires_at_ms() else {
        return Frame::Integer(-1);
    };
    let milliseconds = match form {
        TimeToLiveForm::RemainingSeconds | TimeToLiveForm::RemainingMilliseconds => {
            deadline_ms.saturating_sub(now_ms)
        }
        TimeToLiveForm::UnixSeconds | TimeToLiveForm::UnixMilliseconds => deadline_ms,
    };
    let reply = match form {
        TimeToLiveForm::RemainingSeconds | TimeToLiveForm::UnixSeconds => {
            milliseconds.saturating_add(500) / 1000
        }
        TimeToLiveForm::RemainingMilliseconds | TimeToLiveForm::UnixMilliseconds => milliseconds,
    };
    Frame::Integer(i64::try_from(reply).unwrap_or(i64::MAX))
}

/// OBJECT's questions about a key; a missing key is the null reply for every one of them.
fn read_object(db: &Db, now_ms: u64, key: &Key, question: ObjectQuestion) -> Frame {
    let Some(entry) = db.get(key, now_ms) else {
        return Frame::Null;
    };
    match question {
        ObjectQuestion::Encoding => Frame::bulk(entry.value.encoding()),
        ObjectQuestion::Frequency => FREQUENCY_NOT_TRACKED.to_frame(),
        ObjectQuestion::IdleTime => Frame::Integer((entry.idle_ms(now_ms) / 1000) as i64),
        ObjectQuestion::ReferenceCount => Frame::Integer(reference_count(&entry.value)),
    }
}

fn reference_count(value: &Value) -> i64 {
    match value {
        Value::String(StringValue::Integer(integer)) if (0..SHARED_INTEGERS).contains(integer) => {
            i64::from(i32::MAX)
        }
        _ => 1,
    }
}

/// RENAME and RENAMENX: the value moves with its expiry; a missing source is an error even
/// when renamed to itself.
fn apply_rename(
    db: &mut Db,
    now_ms: u64,
    source: &Key,
    destination: &Key,
    only_if_absent: bool,
) -> Result<Frame, CommandError> {
    if !db.contains(source, now_ms) {
        return Err(CommandError::NoSuchKey);
    }
    let done = if only_if_absent { Frame::Integer(1) } else { Frame::ok() };
    if source == destination {
        return Ok(if only_if_absent { Frame::Integer(0) } else { done });
    }
    if only_if_absent && db.contains(destination, now_ms) {
        return Ok(Frame::Integer(0));
    }
    let entry = db.remove(source, now_ms).expect("the source was just found live");
    db.insert(destination.clone(), entry.value.clone(), entry.expires_at_ms(), now_ms);
    Ok(done)
}

/// COPY: the destination gets the value (shared structurally, so O(1)) and its expiry.
fn apply_copy(
    keyspace: &mut Keyspace,
    now_ms: u64,
    (source_db, source): (DbIndex, &Key),
    (target_db, destination): (DbIndex, &Key),
    replace: bool,
) -> Result<Frame, CommandError> {
    if source_db == target_db && source == destination {
        return Err(SAME_OBJECT);
    }
    let Some(entry) = keyspace.db(source_db).get(source, now_ms) else {
        return Ok(Frame::Integer(0));
    };
    let (value, expires_at_ms) = (entry.value.clone(), entry.expires_at_ms());
    let target = keyspace.db_mut(target_db);
    if !replace && target.contains(destination, now_ms) {
        return Ok(Frame::Integer(0));
    }
    target.insert(destination.clone(), value, expires_at_ms, now_ms);
    Ok(Frame::Integer(1))
}

/// MOVE: only when the key exists here and not in the target database.
fn apply_move(
    keyspace: &mut Keyspace,
    now_ms: u64,
    key: &Key,
    source_db: DbIndex,
    target_db: DbIndex,
) -> Result<Frame, CommandError> {
    if source_db == target_db {
        return Err(SAME_OBJECT);
    }
    let (source, target) = keyspace.two_dbs_mut(source_db, target_db);
    if !source.contains(key, now_ms) || target.contains(key, now_ms) {
        return Ok(Frame::Integer(0));
    }
    let entry = source.remove(key, now_ms).expect("the key was just found live");
    target.insert(key.clone(), entry.value.clone(), entry.expires_at_ms(), now_ms);
    Ok(Frame::Integer(1))
}

/// EXPIRE and friends, in Redis's order: the deadline's overflow, the key, the condition, and
/// last a deadline already past, which deletes the key (and still replies 1).
fn apply_expire(db: &mut Db, now_ms: u64, expire: &ExpireCommand) -> Result<Frame, CommandError> {
    let base_ms = if expire.relative { now_ms as i64 } else { 0 };
    let deadline_ms =
        expire.time_ms.checked_add(base_ms).ok_or_else(|| invalid_expire_time(expire))?;
    let Some(entry) = db.get(&expire.key, now_ms) else {
        return Ok(Frame::Integer(0));
    };
    // A key without expiry counts as expiring at infinity for GT and LT.
    let current_ms =
        entry.expires_at_ms().map(|current| i64::try_from(current).unwrap_or(i64::MAX));
    let condition = expire.condition;
    let refused = (condition.if_none && current_ms.is_some())
        || (condition.if_some && current_ms.is_none())
        || (condition.if_later && current_ms.is_none_or(|current| deadline_ms <= current))
        || (condition.if_earlier && current_ms.is_some_and(|current| deadline_ms >= current));
    if refused {
        return Ok(Frame::Integer(0));
    }
    if deadline_ms <= now_ms as i64 {
        db.remove(&expire.key, now_ms);
    } else {
        db.set_expiry(&expire.key, Some(deadline_ms as u64), now_ms);
    }
    Ok(Frame::Integer(1))
}

fn apply_persist(db: &mut Db, now_ms: u64, key: &Key) -> Frame {
    let has_expiry = db.get(key, now_ms).is_some_and(|entry| entry.expires_at_ms().is_some());
    if has_expiry {
        db.set_expiry(key, None, now_ms);
    }
    Frame::Integer(i64::from(has_expiry))
}
