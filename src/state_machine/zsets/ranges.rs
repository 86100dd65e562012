//! Ranges of a sorted set: by rank, by score and by member bytes, in either direction, with
//! LIMIT; and the commands built on them (ZRANGE and its forms, ZRANGESTORE, ZREMRANGEBY*).
//!
//! Every range becomes an interval of ranks, found in O(log n) by the tree's "count the members
//! before this bound" walk, and is then read by iterating from its first rank.

use std::ops::Range;

use bytes::Bytes;

use crate::command::zsets::{LexRange, RangeCommand, RangeSpec, ScoreRange};
use crate::command::{CommandError, Key};
use crate::resp::Frame;
use crate::store::{Db, SortedSet};

use super::{change_set, members_frame, sorted_set_at, store_set};

/// The ranks of the members whose scores lie in `range`.
pub(super) fn score_ranks(set: &SortedSet, range: &ScoreRange) -> Range<usize> {
    let start = set.count_while(|score, _| range.is_below(score));
    let end = set.count_while(|score, _| range.is_not_above(score));
    start..end.max(start)
}

/// The ranks of the members that lie in the lexicographic `range`.
pub(super) fn lex_ranks(set: &SortedSet, range: &LexRange) -> Range<usize> {
    let start = set.count_while(|_, member| range.is_below(member));
    let end = set.count_while(|_, member| range.is_not_above(member));
    start..end.max(start)
}

/// Redis's reading of `start` and `stop` ranks, inclusive, negative counting from the end,
/// clamped to the set; counted from the top when `reverse`. Returns ascending ranks.
fn rank_ranks(length: usize, start: i64, stop: i64, reverse: bool) -> Range<usize> {
    let length_signed = length as i64;
    let start = if start < 0 { (length_signed + start).max(0) } else { start };
    let stop = if stop < 0 { length_signed + stop } else { stop };
    if start > stop || start >= length_signed {
        return 0..0;
    }
    let (start, stop) = (start as usize, stop.min(length_signed - 1) as usize);
    if reverse {
        length - 1 - stop..length - start
    } else {
        start..stop + 1
    }
}

/// The ascending ranks a range spec selects, before any LIMIT.
fn spec_ranks(set: &SortedSet, spec: &RangeSpec, reverse: bool) -> Range<usize> {
    match spec {
        RangeSpec::Rank { start, stop } => rank_ranks(set.len(), *start, *stop, reverse),
        RangeSpec::Score(range) => score_ranks(set, range),
        RangeSpec::Lex(range) => lex_ranks(set, range),
    }
}

/// Where a range's reply starts (a rank, read in the range's direction) and how many members
/// it holds, LIMIT applied: a negative offset selects nothing, a negative count everything.
fn selection(set: &SortedSet, range: &RangeCommand) -> (usize, usize) {
    let ranks = spec_ranks(set, &range.spec, range.reverse);
    let (offset, count) = match range.limit {
        None => (0, ranks.len()),
        Some((offset, _)) if offset < 0 => return (0, 0),
        Some((offset, count)) => {
            let offset = usize::try_from(offset).unwrap_or(usize::MAX).min(ranks.len());
            let left = ranks.len() - offset;
            let count = usize::try_from(count).map_or(left, |count| count.min(left));
            (offset, count)
        }
    };
    if count == 0 {
        return (0, 0);
    }
    let first = if range.reverse { ranks.end - 1 - offset } else { ranks.start + offset };
    (first, count)
}

/// The members (with scores) a range selects, in its direction.
fn selected<'a>(
    set: &'a SortedSet,
    range: &RangeCommand,
) -> impl Iterator<Item = (&'a Bytes, f64)> {
    let (first, count) = selection(set, range);
    set.iter_from(first, range.reverse).take(count)
}

/// ZRANGE, ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX, ZREVRANGEBYLEX.
pub(super) fn read_range(
    db: &Db,
    now_ms: u64,
    range: &RangeCommand,
) -> Result<Frame, CommandError> {
    let Some(set) = sorted_set_at(db, &range.key, now_ms)? else {
        return Ok(members_frame(std::iter::empty(), range.with_scores));
    };
    Ok(members_frame(selected(set, range), range.with_scores))
}

/// ZRANGESTORE: the destination is replaced (whatever its type) by the selected members, or
/// deleted when none are. Like Redis, the destination starts as a skiplist only when a rank
/// range already says it will hold more than a listpack's worth.
pub(super) fn apply_range_store(
    db: &mut Db,
    now_ms: u64,
    destination: &Key,
    range: &RangeCommand,
) -> Result<Frame, CommandError> {
    let result = match sorted_set_at(db, &range.key, now_ms)? {
        None => SortedSet::new(),
        Some(source) => {
            let expected = match range.spec {
                RangeSpec::Rank { .. } => selection(source, range).1,
                RangeSpec::Score(_) | RangeSpec::Lex(_) => 0,
            };
            let mut result = SortedSet::with_expected_len(expected);
            for (member, score) in selected(source, range) {
                result.insert(member.clone(), score);
            }
            result
        }
    };
    let stored = result.len();
    store_set(db, destination, result, now_ms);
    Ok(Frame::Integer(stored as i64))
}

/// ZREMRANGEBYRANK, ZREMRANGEBYSCORE and ZREMRANGEBYLEX.
pub(super) fn apply_remove_range(
    db: &mut Db,
    now_ms: u64,
    key: &Key,
    spec: &RangeSpec,
) -> Result<Frame, CommandError> {
    let Some(set) = sorted_set_at(db, key, now_ms)? else {
        return Ok(Frame::Integer(0));
    };
    let ranks = spec_ranks(set, spec, false);
    if ranks.is_empty() {
        return Ok(Frame::Integer(0));
    }
    let removed = change_set(db, key, now_ms, |set| set.remove_ranks(ranks.start, ranks.end).len());
    Ok(Frame::Integer(removed as i64))
}
