//! Execution of the sorted set family.
//!
//! Every command reaches a stored value through [`sorted_set_at`] (or [`as_sorted_set`]),
//! whose exhaustive `match` on [`Value`] is the one place that decides WRONGTYPE for sorted
//! sets. The set algebra (ZUNION and its relatives) also reads plain sets, through
//! `combine::input_at`.
//!
//! A write decides what it will change on the stored set before it takes the set for
//! changing: a write that changes nothing (ZADD NX of existing members, ZREM of absent ones)
//! leaves the key's version alone, so that it does not abort a WATCH, as in Redis. A write
//! that empties a set deletes the key: empty sorted sets never exist.
//!
//! Replies with scores use [`Frame::Double`] (a bulk string in RESP2, formatted as `%.17g`) and,
//! for member-score lists, [`Frame::Pairs`] (flat in RESP2, pairs in RESP3), as Redis 7.0 does.
//!
//! Caveats:
//! - ZRANDMEMBER with a negative count (repetitions allowed) is refused beyond
//!   [`RANDOM_REPEATS_MAX`] members with Redis's `ERR value is out of range`, where Redis would
//!   try to build a reply of any size (a count of -2^62 would exhaust its memory).
//! - Lexicographic ranges assume, as Redis documents, that all members share one score; on a
//!   set with mixed scores their result may differ from Redis's (both are unspecified).

mod combine;
mod ranges;
#[cfg(test)]
mod tests;

use bytes::Bytes;

use crate::command::zsets::{AddCommand, AddComparison, AddCondition, PopCommand, ScanOptions};
use crate::command::zsets::{ZsetRead, ZsetWrite};
use crate::command::{CommandError, DbIndex, Key};
use crate::resp::{format_double, Frame};
use crate::store::{glob_match, Db, Keyspace, SortedSet, SortedSetEncoding, Value};

use super::{ApplyContext, Random};

/// The most members ZRANDMEMBER returns with a negative count (see the module docs).
pub const RANDOM_REPEATS_MAX: u64 = 1 << 20;

const NAN_SCORE: CommandError = CommandError::other("ERR resulting score is not a number (NaN)");

pub(super) fn read(keyspace: &Keyspace, db: DbIndex, now_ms: u64, read: &ZsetRead) -> Frame {
    let db = keyspace.db(db);
    let result = match read {
        ZsetRead::Score { key, member } => sorted_set_at(db, key, now_ms)
            .map(|set| score_frame(set.and_then(|set| set.score(member)))),
        ZsetRead::MScore { key, members } => sorted_set_at(db, key, now_ms).map(|set| {
            let scores =
                members.iter().map(|member| score_frame(set.and_then(|set| set.score(member))));
            Frame::Array(scores.collect())
        }),
        ZsetRead::Card { key } => sorted_set_at(db, key, now_ms)
            .map(|set| Frame::Integer(set.map_or(0, SortedSet::len) as i64)),
        ZsetRead::Count { key, range } => sorted_set_at(db, key, now_ms).map(|set| {
            Frame::Integer(set.map_or(0, |set| ranges::score_ranks(set, range).len()) as i64)
        }),
        ZsetRead::LexCount { key, range } => sorted_set_at(db, key, now_ms).map(|set| {
            Frame::Integer(set.map_or(0, |set| ranges::lex_ranks(set, range).len()) as i64)
        }),
        ZsetRead::Range(range) => ranges::read_range(db, now_ms, range),
        ZsetRead::Rank { key, member, reverse } => sorted_set_at(db, key, now_ms).map(|set| {
            let rank = set.and_then(|set| {
                let rank = set.rank(member)?;
                Some(if *reverse { set.len() - 1 - rank } else { rank })
            });
            rank.map_or(Frame::Null, |rank| Frame::Integer(rank as i64))
        }),
        ZsetRead::RandMember { key, count, with_scores } => {
            read_random_members(db, now_ms, key, *count, *with_scores)
        }
        ZsetRead::Combine(combine) => combine::read_combine(db, now_ms, combine),
        ZsetRead::InterCard { keys, limit } => combine::read_intercard(db, now_ms, keys, limit),
        ZsetRead::Scan { key, cursor, options } => read_scan(db, now_ms, key, *cursor, options),
    };
    result.unwrap_or_else(Frame::from)
}

pub(super) fn write(
    keyspace: &mut Keyspace,
    db: DbIndex,
    context: &ApplyContext,
    write: &ZsetWrite,
) -> Frame {
    let db = keyspace.db_mut(db);
    let now_ms = context.now_ms;
    let result = match write {
        ZsetWrite::Add(add) => apply_add(db, now_ms, add),
        ZsetWrite::IncrBy { key, increment, member } => {
            let add = AddCommand {
                key: key.clone(),
                condition: None,
                comparison: None,
                count_changed: false,
                increment: true,
                pairs: vec![(*increment, member.clone())],
            };
            apply_add(db, now_ms, &add)
        }
        ZsetWrite::Rem { key, members } => apply_rem(db, now_ms, key, members),
        ZsetWrite::RangeStore { destination, range } => {
            ranges::apply_range_store(db, now_ms, destination, range)
        }
        ZsetWrite::Pop(pop) => apply_pop(db, now_ms, pop),
        ZsetWrite::RemRange { key, range } => ranges::apply_remove_range(db, now_ms, key, range),
        ZsetWrite::CombineStore { destination, combine } => {
            combine::apply_combine_store(db, now_ms, destination, combine)
        }
    };
    result.unwrap_or_else(Frame::from)
}

/// The sorted set in `value`, or WRONGTYPE. Exhaustive on purpose (see the module docs).
fn as_sorted_set(value: &Value) -> Result<&SortedSet, CommandError> {
    match value {
        Value::SortedSet(set) => Ok(set),
        Value::String(_) | Value::List(_) | Value::Hash(_) | Value::Set(_) | Value::Stream(_) => {
            Err(CommandError::WrongType)
        }
    }
}

/// The live sorted set at `key`: `None` if absent, WRONGTYPE if it holds another type.
pub(super) fn sorted_set_at<'a>(
    db: &'a Db,
    key: &Key,
    now_ms: u64,
) -> Result<Option<&'a SortedSet>, CommandError> {
    db.get(key, now_ms).map(|entry| as_sorted_set(&entry.value)).transpose()
}

/// Changes the sorted set at `key`, which the caller found live, and deletes the key if the
/// change emptied it.
fn change_set<R>(
    db: &mut Db,
    key: &Key,
    now_ms: u64,
    change: impl FnOnce(&mut SortedSet) -> R,
) -> R {
    let Some(Value::SortedSet(set)) = db.value_mut(key, now_ms) else {
        panic!("the caller found a live sorted set at the key");
    };
    let result = change(set);
    let emptied = set.is_empty();
    if emptied {
        db.remove(key, now_ms);
    }
    result
}

/// Stores `set` at `key` as a new value without a time to live, or deletes the key when the
/// set is empty (the STORE commands).
pub(super) fn store_set(db: &mut Db, key: &Key, set: SortedSet, now_ms: u64) {
    if set.is_empty() {
        db.remove(key, now_ms);
    } else {
        db.insert(key.clone(), Value::SortedSet(Box::new(set)), None, now_ms);
    }
}

fn score_frame(score: Option<f64>) -> Frame {
    score.map_or(Frame::Null, Frame::Double)
}

/// Members alone, or members with their scores as pairs.
fn members_frame<'a>(pairs: impl Iterator<Item = (&'a Bytes, f64)>, with_scores: bool) -> Frame {
    if with_scores {
        Frame::Pairs(
            pairs
                .map(|(member, score)| (Frame::Bulk(member.clone()), Frame::Double(score)))
                .collect(),
        )
    } else {
        Frame::Array(pairs.map(|(member, _)| Frame::Bulk(member.clone())).collect())
    }
}

/// What ZADD does to one member, decided against the set as it is before the change.
enum AddStep {
    Skip,
    Set { score: f64, added: bool, changed: bool },
}

/// One pair of ZADD (Redis's `zsetAdd`): the conditions, then INCR's sum (NaN is an error).
fn plan_add_step(
    add: &AddCommand,
    current: Option<f64>,
    score: f64,
) -> Result<AddStep, CommandError> {
    let Some(current) = current else {
        return Ok(match add.condition {
            Some(AddCondition::IfPresent) => AddStep::Skip,
            _ => AddStep::Set { score, added: true, changed: false },
        });
    };
    if add.condition == Some(AddCondition::IfAbsent) {
        return Ok(AddStep::Skip);
    }
    let score = if add.increment { current + score } else { score };
    if score.is_nan() {
        return Err(NAN_SCORE);
    }
    let refused = match add.comparison {
        Some(AddComparison::Greater) => score <= current,
        Some(AddComparison::Less) => score >= current,
        None => false,
    };
    Ok(if refused {
        AddStep::Skip
    } else {
        AddStep::Set { score, added: false, changed: score != current }
    })
}

/// ZADD and ZINCRBY. Every pair is decided first (a pair may name a member an earlier pair
/// added), then the changes are applied in order, so the set converts encoding exactly where
/// Redis's would.
fn apply_add(db: &mut Db, now_ms: u64, add: &AddCommand) -> Result<Frame, CommandError> {
    let existing = sorted_set_at(db, &add.key, now_ms)?;
    let exists = existing.is_some();
    let mut planned: Vec<(Bytes, f64)> = Vec::new();
    let (mut added, mut changed, mut reply_score) = (0i64, 0i64, None);
    for (score, member) in &add.pairs {
        let earlier = planned.iter().rev().find(|(planned_member, _)| planned_member == member);
        let current =
            earlier.map(|(_, score)| *score).or_else(|| existing.and_then(|set| set.score(member)));
        if let AddStep::Set { score, added: is_new, changed: is_changed } =
            plan_add_step(add, current, *score)?
        {
            added += i64::from(is_new);
            changed += i64::from(is_changed);
            reply_score = Some(score);
            if is_new || is_changed {
                planned.push((member.clone(), score));
            }
        }
    }
    if !planned.is_empty() {
        if exists {
            change_set(db, &add.key, now_ms, |set| {
                for (member, score) in planned {
                    set.insert(member, score);
                }
            });
        } else {
            let mut set = SortedSet::new();
            for (member, score) in planned {
                set.insert(member, score);
            }
            db.insert(add.key.clone(), Value::SortedSet(Box::new(set)), None, now_ms);
        }
    }
    Ok(if add.increment {
        score_frame(reply_score)
    } else {
        Frame::Integer(if add.count_changed { added + changed } else { added })
    })
}

fn apply_rem(
    db: &mut Db,
    now_ms: u64,
    key: &Key,
    members: &[Bytes],
) -> Result<Frame, CommandError> {
    let Some(set) = sorted_set_at(db, key, now_ms)? else {
        return Ok(Frame::Integer(0));
    };
    if !members.iter().any(|member| set.score(member).is_some()) {
        return Ok(Frame::Integer(0));
    }
    let removed = change_set(db, key, now_ms, |set| {
        members.iter().filter(|member| set.remove(member).is_some()).count()
    });
    Ok(Frame::Integer(removed as i64))
}

/// The key a pop took members from, and those members with their scores, in pop order.
pub(super) type Popped = (Key, Vec<(Bytes, f64)>);

/// The members popped from the first non-empty sorted set among `keys`, with its key; `None`
/// when every key is absent. A key of another type before the first non-empty set is
/// WRONGTYPE; keys after it are not looked at, as in Redis.
///
/// The one pop that ZPOPMIN, ZPOPMAX and ZMPOP share, and that the blocking pops will call
/// when they serve a waiting client inside apply.
pub(super) fn pop_first_nonempty(
    db: &mut Db,
    now_ms: u64,
    keys: &[Key],
    from_max: bool,
    count: u64,
) -> Result<Option<Popped>, CommandError> {
    let mut found = None;
    for key in keys {
        if sorted_set_at(db, key, now_ms)?.is_some() {
            found = Some(key);
            break;
        }
    }
    let Some(key) = found else { return Ok(None) };
    if count == 0 {
        return Ok(Some((key.clone(), Vec::new())));
    }
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    let popped = change_set(db, key, now_ms, |set| set.pop(count, from_max));
    Ok(Some((key.clone(), popped)))
}

/// Adds popped `members` back to the sorted set at `key` (a blocking pop's reservation put
/// back): each with its score, unless the member is there again. A key that meanwhile holds
/// another type cannot take them, and they are dropped, as the write that replaced it would
/// have dropped them.
pub(super) fn put_back_members(db: &mut Db, key: &Key, members: Vec<(Bytes, f64)>, now_ms: u64) {
    match sorted_set_at(db, key, now_ms) {
        Err(_) => {}
        Ok(None) => {
            let mut set = SortedSet::new();
            for (member, score) in members {
                set.insert(member, score);
            }
            store_set(db, key, set, now_ms);
        }
        Ok(Some(set)) => {
            let absent: Vec<(Bytes, f64)> =
                members.into_iter().filter(|(member, _)| set.score(member).is_none()).collect();
            if !absent.is_empty() {
                change_set(db, key, now_ms, |set| {
                    for (member, score) in absent {
                        set.insert(member, score);
                    }
                });
            }
        }
    }
}

fn apply_pop(db: &mut Db, now_ms: u64, pop: &PopCommand) -> Result<Frame, CommandError> {
    let popped = pop_first_nonempty(db, now_ms, &pop.keys, pop.from_max, pop.count.unwrap_or(1))?;
    let pair =
        |(member, score): &(Bytes, f64)| (Frame::Bulk(member.clone()), Frame::Double(*score));
    Ok(match popped {
        None if pop.multiple_keys => Frame::NullArray,
        None if pop.count.is_some() => Frame::Pairs(Vec::new()),
        None => Frame::Array(Vec::new()),
        Some((key, popped)) if pop.multiple_keys => {
            let pairs = popped.iter().map(|popped| {
                let (member, score) = pair(popped);
                Frame::Array(vec![member, score])
            });
            Frame::Array(vec![Frame::Bulk(key), Frame::Array(pairs.collect())])
        }
        Some((_, popped)) if pop.count.is_some() => Frame::Pairs(popped.iter().map(pair).collect()),
        Some((_, popped)) => Frame::Array(
            popped.iter().flat_map(|popped| <[Frame; 2]>::from(pair(popped))).collect(),
        ),
    })
}

/// ZRANDMEMBER. Randomness comes from [`Random::for_read`]: a read need not agree with other
/// replicas, only differ between calls.
fn read_random_members(
    db: &Db,
    now_ms: u64,
    key: &Key,
    count: Option<i64>,
    with_scores: bool,
) -> Result<Frame, CommandError> {
    let set = sorted_set_at(db, key, now_ms)?;
    let mut random = Random::for_read(now_ms);
    let Some(count) = count else {
        let member = set.map(|set| {
            let rank = random.below(set.len() as u64) as usize;
            set.select(rank).expect("a rank below the length").0.clone()
        });
        return Ok(Frame::bulk_or_null(member));
    };
    let Some(set) = set.filter(|_| count != 0) else {
        return Ok(Frame::Array(Vec::new()));
    };
    let length = set.len() as u64;
    let ranks: Vec<usize> = if count < 0 {
        let repeats = count.unsigned_abs();
        if repeats > RANDOM_REPEATS_MAX {
            return Err(CommandError::other("ERR value is out of range"));
        }
        (0..repeats).map(|_| random.below(length) as usize).collect()
    } else if count as u64 >= length {
        // The whole set, from the highest score down, as Redis 7.0 returns it.
        return Ok(members_frame(set.iter_from(set.len() - 1, true), with_scores));
    } else {
        distinct_ranks(&mut random, set.len(), count as usize)
    };
    let pairs = ranks.into_iter().map(|rank| set.select(rank).expect("a rank below the length"));
    Ok(members_frame(pairs, with_scores))
}

/// `count` distinct ranks below `length` (`count < length`), in random order.
fn distinct_ranks(random: &mut Random, length: usize, count: usize) -> Vec<usize> {
    if count * 3 > length {
        // Many of them: a partial Fisher-Yates shuffle of every rank.
        let mut ranks: Vec<usize> = (0..length).collect();
        for index in 0..count {
            let pick = index + random.below((length - index) as u64) as usize;
            ranks.swap(index, pick);
        }
        ranks.truncate(count);
        ranks
    } else {
        let mut chosen = std::collections::HashSet::with_capacity(count);
        let mut ranks = Vec::with_capacity(count);
        while ranks.len() < count {
            let rank = random.below(length as u64) as usize;
            if chosen.insert(rank) {
                ranks.push(rank);
            }
        }
        ranks
    }
}

/// ZSCAN: the cursor was read at parse time; the key's type is checked before the options,
/// as in Redis.
fn read_scan(
    db: &Db,
    now_ms: u64,
    key: &Key,
    cursor: u64,
    options: &Result<ScanOptions, CommandError>,
) -> Result<Frame, CommandError> {
    let set = sorted_set_at(db, key, now_ms)?;
    let options = options.clone()?;
    let (pairs, next_cursor, encoding) = match set {
        None => (Vec::new(), 0, SortedSetEncoding::Listpack),
        Some(set) => {
            let page = set.scan(cursor, options.count);
            (page.pairs, page.next_cursor, set.encoding())
        }
    };
    let mut items = Vec::with_capacity(pairs.len() * 2);
    for (member, score) in pairs {
        if options.pattern.as_ref().is_none_or(|pattern| glob_match(pattern, &member, false)) {
            items.push(Frame::Bulk(member));
            items.push(Frame::Bulk(Bytes::from(scan_score_text(score, encoding))));
        }
    }
    let mut cursor_text = itoa::Buffer::new();
    Ok(Frame::Array(vec![Frame::bulk(cursor_text.format(next_cursor)), Frame::Array(items)]))
}

/// ZSCAN prints scores as stored: a listpack holds an integral score strictly between -2^63
/// and 2^63 as an integer (so `1e17` scans as `100000000000000000` and `-0` as `0`); every
/// other score is printed as `%.17g`.
fn scan_score_text(score: f64, encoding: SortedSetEncoding) -> String {
    const TWO_TO_THE_63: f64 = 9_223_372_036_854_775_808.0;
    let integral = score.fract() == 0.0 && score > -TWO_TO_THE_63 && score < TWO_TO_THE_63;
    if encoding == SortedSetEncoding::Listpack && integral {
        itoa::Buffer::new().format(score as i64).to_owned()
    } else {
        format_double(score)
    }
}
