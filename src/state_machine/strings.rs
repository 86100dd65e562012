//! Execution of the string family.

use crate::command::strings::{Expiry, SetCommand, SetCondition, StringRead, StringWrite};
use crate::command::{CommandError, DbIndex};
use crate::resp::Frame;
use crate::store::{Keyspace, StringValue, Value};

use super::ApplyContext;

pub(super) fn read(keyspace: &Keyspace, db: DbIndex, now_ms: u64, read: &StringRead) -> Frame {
    let db = keyspace.db(db);
    match read {
        StringRead::Get { key } => match db.get(key, now_ms).map(|entry| &entry.value) {
            None => Frame::Null,
            Some(Value::String(string)) => Frame::Bulk(string.to_bytes()),
        },
    }
}

pub(super) fn write(
    keyspace: &mut Keyspace,
    db: DbIndex,
    context: &ApplyContext,
    write: &StringWrite,
) -> Frame {
    let result = match write {
        StringWrite::Set(set) => apply_set(keyspace, db, context, set),
    };
    result.unwrap_or_else(Frame::from)
}

fn apply_set(
    keyspace: &mut Keyspace,
    db: DbIndex,
    context: &ApplyContext,
    set: &SetCommand,
) -> Result<Frame, CommandError> {
    let db = keyspace.db_mut(db);
    let now_ms = context.now_ms;
    let previous = db.get(&set.key, now_ms);
    let previous_value = previous.map(|entry| match &entry.value {
        Value::String(string) => string.to_bytes(),
    });
    let exists = previous.is_some();
    let reply_unchanged = || {
        if set.get {
            Frame::bulk_or_null(previous_value.clone())
        } else {
            Frame::Null
        }
    };
    match set.condition {
        Some(SetCondition::IfAbsent) if exists => return Ok(reply_unchanged()),
        Some(SetCondition::IfPresent) if !exists => return Ok(reply_unchanged()),
        _ => {}
    }
    let value = Value::String(StringValue::from_bytes(set.value.clone()));
    match set.expiry {
        Some(Expiry::KeepTtl) => {
            db.insert_keep_ttl(set.key.clone(), value, now_ms);
        }
        expiry => {
            let deadline = expiry.map(|expiry| deadline_ms(expiry, now_ms, "set")).transpose()?;
            db.insert(set.key.clone(), value, deadline, now_ms);
        }
    }
    Ok(if set.get { Frame::bulk_or_null(previous_value) } else { Frame::ok() })
}

/// Resolves an expiry option to a Unix time in milliseconds, against the entry's time.
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
        _ => Err(crate::command::strings::invalid_expire_time(command)),
    }
}
