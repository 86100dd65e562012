//! Execution of the keyspace family.

use crate::command::keys::{KeyRead, KeyWrite};
use crate::command::DbIndex;
use crate::resp::Frame;
use crate::store::Keyspace;

use super::ApplyContext;

pub(super) fn read(keyspace: &Keyspace, db: DbIndex, now_ms: u64, read: &KeyRead) -> Frame {
    let db = keyspace.db(db);
    match read {
        KeyRead::Exists { keys } => {
            Frame::Integer(keys.iter().filter(|key| db.contains(key, now_ms)).count() as i64)
        }
        KeyRead::DbSize => Frame::Integer(db.len() as i64),
    }
}

pub(super) fn write(
    keyspace: &mut Keyspace,
    db: DbIndex,
    context: &ApplyContext,
    write: &KeyWrite,
) -> Frame {
    let now_ms = context.now_ms;
    let db = keyspace.db_mut(db);
    match write {
        KeyWrite::Del { keys } => {
            Frame::Integer(keys.iter().filter(|key| db.remove(key, now_ms).is_some()).count() as i64)
        }
        KeyWrite::DeleteExpired { keys } => Frame::Integer(
            keys.iter().filter(|key| db.remove_if_expired(key, now_ms)).count() as i64,
        ),
    }
}
