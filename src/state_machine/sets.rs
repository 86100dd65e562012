//! Execution of the set family.
//!
//! Every command reaches a stored value through [`set_at`] (or [`as_set`]), whose exhaustive
//! `match` on [`Value`] decides WRONGTYPE for sets. Commands over several keys check every
//! key's type before they look at any contents, as Redis does (`SINTER missing string` is
//! WRONGTYPE, not an empty reply). A write that would change nothing leaves the key untouched;
//! the last member's removal deletes the key. SPOP draws from the entry's replica-agreed
//! generator ([`ApplyContext::random`]); SRANDMEMBER, a read, from the node's.
//!
//! Reply order: an intset replies in ascending numeric order, as in Redis; a larger set in its
//! fixed hash order. Results of SUNION and SDIFF are built as a new set first and then listed,
//! as Redis builds them, so small integer results come out sorted too.

use bytes::Bytes;

use crate::command::hashes::ScanOptions;
use crate::command::sets::{SetOperation, SetRead, SetWrite};
use crate::command::{CommandError, DbIndex, Key};
use crate::resp::Frame;
use crate::store::{Db, Keyspace, SetValue, Value};

use super::hashes::{matches_pattern, random_indexes, scan_reply, RandomPick};
use super::{change_collection, ApplyContext, Random};

#[cfg(test)]
mod tests;

pub(super) fn read(keyspace: &Keyspace, db: DbIndex, now_ms: u64, read: &SetRead) -> Frame {
    let db = keyspace.db(db);
    let result = match read {
        SetRead::IsMember { key, member } => set_at(db, key, now_ms)
            .map(|set| Frame::Integer(i64::from(set.is_some_and(|set| set.contains(member))))),
        SetRead::MIsMember { key, members } => set_at(db, key, now_ms).map(|set| {
            let answers = members.iter().map(|member| {
                Frame::Integer(i64::from(set.is_some_and(|set| set.contains(member))))
            });
            Frame::Array(answers.collect())
        }),
        SetRead::Members { key } => set_at(db, key, now_ms).map(|set| {
            Frame::Set(set.into_iter().flat_map(SetValue::iter).map(Frame::Bulk).collect())
        }),
        SetRead::Card { key } => {
            set_at(db, key, now_ms).map(|set| Frame::Integer(set.map_or(0, SetValue::len) as i64))
        }
        SetRead::RandomMember { key, count } => random_members(db, key, now_ms, *count),
        SetRead::Combine { operation, keys } => combine(db, now_ms, *operation, keys, 0)
            .map(|members| Frame::Set(members.into_iter().map(Frame::Bulk).collect())),
        SetRead::InterCard { keys, limit } => {
            combine(db, now_ms, SetOperation::Intersection, keys, *limit)
                .map(|members| Frame::Integer(members.len() as i64))
        }
        SetRead::Scan { key, cursor, options } => scan(db, key, now_ms, *cursor, options),
    };
    result.unwrap_or_else(Frame::from)
}

pub(super) fn write(
    keyspace: &mut Keyspace,
    db: DbIndex,
    context: &ApplyContext,
    write: &SetWrite,
) -> Frame {
    let db = keyspace.db_mut(db);
    let now_ms = context.now_ms;
    let result = match write {
        SetWrite::Add { key, members } => apply_add(db, now_ms, key, members),
        SetWrite::Remove { key, members } => apply_remove(db, now_ms, key, members),
        SetWrite::Pop { key, count } => apply_pop(db, context, key, *count),
        SetWrite::Move { source, destination, member } => {
            apply_move(db, now_ms, source, destination, member)
        }
        SetWrite::Store { operation, destination, keys } => {
            apply_store(db, now_ms, *operation, destination, keys)
        }
    };
    result.unwrap_or_else(Frame::from)
}

/// The set in `value`, or WRONGTYPE. Exhaustive on purpose (see the module docs).
fn as_set(value: &Value) -> Result<&SetValue, CommandError> {
    match value {
        Value::Set(set) => Ok(set),
        Value::String(_)
        | Value::List(_)
        | Value::Hash(_)
        | Value::SortedSet(_)
        | Value::Stream(_) => Err(CommandError::WrongType),
    }
}

/// The live set at `key`: `None` if absent, WRONGTYPE if it holds another type.
fn set_at<'a>(db: &'a Db, key: &Key, now_ms: u64) -> Result<Option<&'a SetValue>, CommandError> {
    db.get(key, now_ms).map(|entry| as_set(&entry.value)).transpose()
}

fn apply_add(
    db: &mut Db,
    now_ms: u64,
    key: &Key,
    members: &[Bytes],
) -> Result<Frame, CommandError> {
    if set_at(db, key, now_ms)?.is_some_and(|set| members.iter().all(|member| set.contains(member)))
    {
        return Ok(Frame::Integer(0));
    }
    let added = change_collection::<SetValue, _>(db, key, now_ms, |set| {
        members.iter().filter(|member| set.insert(member)).count()
    });
    Ok(Frame::Integer(added as i64))
}

fn apply_remove(
    db: &mut Db,
    now_ms: u64,
    key: &Key,
    members: &[Bytes],
) -> Result<Frame, CommandError> {
    let Some(set) = set_at(db, key, now_ms)? else {
        return Ok(Frame::Integer(0));
    };
    if !members.iter().any(|member| set.contains(member)) {
        return Ok(Frame::Integer(0));
    }
    let removed = change_collection::<SetValue, _>(db, key, now_ms, |set| {
        members.iter().filter(|member| set.remove(member)).count()
    });
    Ok(Frame::Integer(removed as i64))
}

/// SPOP. Without a count: one member or nil. With one: a set reply, empty for a missing key or
/// a zero count; a count of at least the size takes the whole set (and deletes the key).
fn apply_pop(
    db: &mut Db,
    context: &ApplyContext,
    key: &Key,
    count: Option<u64>,
) -> Result<Frame, CommandError> {
    let now_ms = context.now_ms;
    let Some(set) = set_at(db, key, now_ms)? else {
        return Ok(if count.is_some() { Frame::Set(Vec::new()) } else { Frame::Null });
    };
    let size = set.len() as u64;
    match count {
        Some(0) => return Ok(Frame::Set(Vec::new())),
        Some(count) if count >= size => {
            let members = set.iter().map(Frame::Bulk).collect();
            db.remove(key, now_ms);
            return Ok(Frame::Set(members));
        }
        _ => {}
    }
    let mut random = context.random();
    let popped = change_collection::<SetValue, _>(db, key, now_ms, |set| {
        let draws = count.unwrap_or(1);
        let mut popped = Vec::with_capacity(draws as usize);
        for _ in 0..draws {
            let member = set.at(random.below(set.len() as u64) as usize);
            set.remove(&member);
            popped.push(member);
        }
        popped
    });
    Ok(match count {
        None => Frame::Bulk(popped.into_iter().next().expect("one member was popped")),
        Some(_) => Frame::Set(popped.into_iter().map(Frame::Bulk).collect()),
    })
}

/// SRANDMEMBER: as HRANDFIELD (see `hashes::random_fields`).
fn random_members(
    db: &Db,
    key: &Key,
    now_ms: u64,
    count: Option<i64>,
) -> Result<Frame, CommandError> {
    let set = set_at(db, key, now_ms)?;
    let mut random = Random::for_read(now_ms);
    let Some(count) = count else {
        let member = set.map(|set| set.at(random.below(set.len() as u64) as usize));
        return Ok(Frame::bulk_or_null(member));
    };
    let Some(set) = set.filter(|_| count != 0) else {
        return Ok(Frame::Array(Vec::new()));
    };
    let members: Vec<Frame> = match random_indexes(&mut random, set.len(), count)? {
        RandomPick::All => set.iter().map(Frame::Bulk).collect(),
        RandomPick::Indexes(indexes) => {
            indexes.into_iter().map(|index| Frame::Bulk(set.at(index))).collect()
        }
    };
    Ok(Frame::Array(members))
}

/// SMOVE, in Redis's order: a missing source is 0 (whatever the destination holds), then both
/// types, then the same-key case, then the member. As in Redis 7.0, the source always changes
/// (for WATCH) once the member leaves it, and the destination only if the member was new
/// there: moving a member the destination already holds leaves the destination untouched.
fn apply_move(
    db: &mut Db,
    now_ms: u64,
    source: &Key,
    destination: &Key,
    member: &Bytes,
) -> Result<Frame, CommandError> {
    let Some(source_entry) = db.get(source, now_ms) else {
        return Ok(Frame::Integer(0));
    };
    let source_set = as_set(&source_entry.value)?;
    set_at(db, destination, now_ms)?;
    if !source_set.contains(member) {
        return Ok(Frame::Integer(0));
    }
    if source == destination {
        return Ok(Frame::Integer(1));
    }
    change_collection::<SetValue, _>(db, source, now_ms, |set| set.remove(member));
    if !set_at(db, destination, now_ms)?.is_some_and(|set| set.contains(member)) {
        change_collection::<SetValue, _>(db, destination, now_ms, |set| set.insert(member));
    }
    Ok(Frame::Integer(1))
}

/// SINTERSTORE, SUNIONSTORE, SDIFFSTORE: the result replaces the destination (dropping its
/// time to live); an empty result deletes it.
fn apply_store(
    db: &mut Db,
    now_ms: u64,
    operation: SetOperation,
    destination: &Key,
    keys: &[Key],
) -> Result<Frame, CommandError> {
    let members = combine(db, now_ms, operation, keys, 0)?;
    let result = SetValue::from_members(&members);
    let size = result.len();
    if size == 0 {
        db.remove(destination, now_ms);
    } else {
        db.insert(destination.clone(), Value::Set(Box::new(result)), None, now_ms);
    }
    Ok(Frame::Integer(size as i64))
}

/// The members of an intersection (at most `limit` of them, unless 0), union or difference
/// of the sets at `keys`, after checking every key's type. A missing key is an empty set.
fn combine(
    db: &Db,
    now_ms: u64,
    operation: SetOperation,
    keys: &[Key],
    limit: usize,
) -> Result<Vec<Bytes>, CommandError> {
    let sets: Vec<Option<&SetValue>> =
        keys.iter().map(|key| set_at(db, key, now_ms)).collect::<Result<_, _>>()?;
    Ok(match operation {
        SetOperation::Intersection => intersection(&sets, limit),
        SetOperation::Union => {
            let mut union = SetValue::default();
            for member in sets.iter().flatten().flat_map(|set| set.iter()) {
                union.insert(&member);
            }
            union.iter().collect()
        }
        SetOperation::Difference => difference(&sets),
    })
}

/// Walks the smallest set and keeps the members every other set has, in the smallest set's
/// order, as Redis does.
fn intersection(sets: &[Option<&SetValue>], limit: usize) -> Vec<Bytes> {
    let Some(mut sets) = sets.iter().copied().collect::<Option<Vec<&SetValue>>>() else {
        return Vec::new();
    };
    sets.sort_by_key(|set| set.len());
    let Some((smallest, others)) = sets.split_first() else {
        return Vec::new();
    };
    let limit = if limit == 0 { usize::MAX } else { limit };
    smallest
        .iter()
        .filter(|member| others.iter().all(|set| set.contains(member)))
        .take(limit)
        .collect()
}

/// The members of the first set that no other set has, built as a new set and then listed.
fn difference(sets: &[Option<&SetValue>]) -> Vec<Bytes> {
    let Some((Some(first), others)) = sets.split_first() else {
        return Vec::new();
    };
    let kept: Vec<Bytes> = first
        .iter()
        .filter(|member| !others.iter().flatten().any(|set| set.contains(member)))
        .collect();
    SetValue::from_members(&kept).iter().collect()
}

/// SSCAN, with HSCAN's order of checks (see `hashes::scan`).
fn scan(
    db: &Db,
    key: &Key,
    now_ms: u64,
    cursor: u64,
    options: &Result<ScanOptions, CommandError>,
) -> Result<Frame, CommandError> {
    let Some(set) = set_at(db, key, now_ms)? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let options = options.clone()?;
    let (members, next_cursor) = set.scan(cursor, options.count);
    let items = members
        .into_iter()
        .filter(|member| matches_pattern(options.pattern.as_ref(), member))
        .map(Frame::Bulk)
        .collect();
    Ok(scan_reply(next_cursor, items))
}
