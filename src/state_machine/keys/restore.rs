//! DUMP on a view and RESTORE in apply.
//!
//! RESTORE checks in Redis's order (`restoreCommand`): the key's absence unless `REPLACE`
//! (`BUSYKEY`), then the TTL, then the payload's version and checksum, then its record. Only
//! then does it change anything: the old key goes (with `REPLACE`), and the new one is
//! stored unless its deadline has passed already, which Redis answers with `OK` and no key.
//! A relative TTL is counted from the entry's time, so every replica stores the same deadline.

use crate::command::keys::{RestoreCommand, BUSY_KEY, INVALID_TTL};
use crate::command::{parse_i64, CommandError, Key};
use crate::resp::Frame;
use crate::store::rdb::value as payload;
use crate::store::Db;

/// `DUMP key`: the value's payload, or nil; its expiry is not part of it, as in Redis.
pub(super) fn read_dump(db: &Db, now_ms: u64, key: &Key) -> Frame {
    Frame::bulk_or_null(db.get(key, now_ms).map(|entry| payload::dump(&entry.value).into()))
}

pub(super) fn apply_restore(
    db: &mut Db,
    now_ms: u64,
    restore: &RestoreCommand,
) -> Result<Frame, CommandError> {
    if !restore.replace && db.contains(&restore.key, now_ms) {
        return Err(BUSY_KEY);
    }
    let ttl = parse_i64(&restore.ttl).ok_or(CommandError::NotInteger)?;
    if ttl < 0 {
        return Err(INVALID_TTL);
    }
    let value = payload::restore(&restore.payload)
        .map_err(|refusal| CommandError::Other(format!("ERR {refusal}").into()))?;
    if restore.replace {
        db.remove(&restore.key, now_ms);
    }
    let deadline_ms = match (ttl, restore.absolute_ttl) {
        (0, _) => None,
        (ttl, true) => Some(ttl),
        // Redis adds its clock the same way, wrapping, so a TTL near the top of the range
        // lands in the past there too.
        (ttl, false) => Some(ttl.wrapping_add(now_ms as i64)),
    };
    if deadline_ms.is_some_and(|deadline| deadline <= now_ms as i64) {
        return Ok(Frame::ok());
    }
    let deadline_ms = deadline_ms.map(|deadline| deadline as u64);
    db.insert(restore.key.clone(), value, deadline_ms, now_ms);
    if let Some(idle_seconds) = restore.idle_seconds {
        let idle_ms = idle_seconds.saturating_mul(1000);
        db.set_touched_at(&restore.key, now_ms.saturating_sub(idle_ms));
    }
    Ok(Frame::ok())
}
