//! The set algebra: ZUNION, ZINTER, ZDIFF, their STORE forms, and ZINTERCARD.
//!
//! Inputs may be sorted sets or plain sets (whose members count as score 1), and a missing key
//! is an empty input. Every input's type is checked before the options are (Redis reports
//! WRONGTYPE over a bad WEIGHTS or AGGREGATE).
//!
//! Floating-point results depend on the order of additions, so ZUNION and ZINTER visit inputs
//! as Redis does: from the smallest to the largest (a stable sort, so equal sizes keep the
//! order given). A weighted score that is NaN (`inf * 0`) counts as 0, and so does a SUM that
//! is NaN (`inf + -inf`), as in Redis.

use std::collections::HashMap;

use bytes::Bytes;

use crate::command::zsets::{Aggregate, CombineCommand, CombineOperation, CombineOptions};
use crate::command::{CommandError, Key};
use crate::resp::Frame;
use crate::store::{compare_scored, Db, SetValue, SortedSet, Value};

use super::{members_frame, store_set};

/// One input of the set algebra.
enum Input<'a> {
    Sorted(&'a SortedSet),
    /// A plain set: every member with score 1.
    Plain(&'a SetValue),
}

impl Input<'_> {
    fn len(&self) -> usize {
        match self {
            Input::Sorted(set) => set.len(),
            Input::Plain(set) => set.len(),
        }
    }

    fn score(&self, member: &Bytes) -> Option<f64> {
        match self {
            Input::Sorted(set) => set.score(member),
            Input::Plain(set) => set.contains(member).then_some(1.0),
        }
    }

    fn pairs(&self) -> Box<dyn Iterator<Item = (Bytes, f64)> + '_> {
        match self {
            Input::Sorted(set) => {
                Box::new(set.iter().map(|(member, score)| (member.clone(), score)))
            }
            Input::Plain(set) => Box::new(set.iter().map(|member| (member, 1.0))),
        }
    }
}

/// The input at `key`: `None` when absent, WRONGTYPE for a type that is not a set.
///
/// Plain sets are inputs too (each member with score 1).
fn input_at<'a>(db: &'a Db, key: &Key, now_ms: u64) -> Result<Option<Input<'a>>, CommandError> {
    let Some(entry) = db.get(key, now_ms) else { return Ok(None) };
    match &entry.value {
        Value::SortedSet(set) => Ok(Some(Input::Sorted(set))),
        Value::Set(set) => Ok(Some(Input::Plain(set))),
        Value::String(_) | Value::List(_) | Value::Hash(_) | Value::Stream(_) => {
            Err(CommandError::WrongType)
        }
    }
}

fn inputs<'a>(
    db: &'a Db,
    keys: &[Key],
    now_ms: u64,
) -> Result<Vec<Option<Input<'a>>>, CommandError> {
    keys.iter().map(|key| input_at(db, key, now_ms)).collect()
}

/// Indexes of the inputs from the smallest to the largest, as Redis orders them.
fn by_size(inputs: &[Option<Input<'_>>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..inputs.len()).collect();
    order.sort_by_key(|&index| inputs[index].as_ref().map_or(0, Input::len));
    order
}

fn weighted(score: f64, weight: f64) -> f64 {
    let product = score * weight;
    if product.is_nan() {
        0.0
    } else {
        product
    }
}

fn aggregate(total: f64, value: f64, how: Aggregate) -> f64 {
    match how {
        Aggregate::Sum => {
            let sum = total + value;
            if sum.is_nan() {
                0.0
            } else {
                sum
            }
        }
        Aggregate::Min => {
            if value < total {
                value
            } else {
                total
            }
        }
        Aggregate::Max => {
            if value > total {
                value
            } else {
                total
            }
        }
    }
}

/// The members and scores of the result, in no particular order.
fn combine(
    db: &Db,
    now_ms: u64,
    command: &CombineCommand,
) -> Result<(Vec<(Bytes, f64)>, CombineOptions), CommandError> {
    let inputs = inputs(db, &command.keys, now_ms)?;
    let options = command.options.clone()?;
    let result = match command.operation {
        CombineOperation::Union => union(&inputs, &options),
        CombineOperation::Inter => intersection(&inputs, &options),
        CombineOperation::Diff => difference(&inputs),
    };
    Ok((result, options))
}

fn union(inputs: &[Option<Input<'_>>], options: &CombineOptions) -> Vec<(Bytes, f64)> {
    let mut totals: HashMap<Bytes, f64> = HashMap::new();
    for index in by_size(inputs) {
        let Some(input) = &inputs[index] else { continue };
        for (member, score) in input.pairs() {
            let value = weighted(score, options.weights[index]);
            totals
                .entry(member)
                .and_modify(|total| *total = aggregate(*total, value, options.aggregate))
                .or_insert(value);
        }
    }
    totals.into_iter().collect()
}

fn intersection(inputs: &[Option<Input<'_>>], options: &CombineOptions) -> Vec<(Bytes, f64)> {
    if inputs.iter().any(|input| input.as_ref().is_none_or(|input| input.len() == 0)) {
        return Vec::new();
    }
    let order = by_size(inputs);
    let present = |index: usize| inputs[index].as_ref().expect("every input is present");
    let mut result = Vec::new();
    'members: for (member, score) in present(order[0]).pairs() {
        let mut total = weighted(score, options.weights[order[0]]);
        for &index in &order[1..] {
            let Some(score) = present(index).score(&member) else { continue 'members };
            total = aggregate(total, weighted(score, options.weights[index]), options.aggregate);
        }
        result.push((member, total));
    }
    result
}

fn difference(inputs: &[Option<Input<'_>>]) -> Vec<(Bytes, f64)> {
    let Some(first) = &inputs[0] else { return Vec::new() };
    let others = &inputs[1..];
    first
        .pairs()
        .filter(|(member, _)| others.iter().flatten().all(|other| other.score(member).is_none()))
        .collect()
}

/// ZUNION, ZINTER and ZDIFF: the result in sorted set order, scores exactly as computed.
pub(super) fn read_combine(
    db: &Db,
    now_ms: u64,
    command: &CombineCommand,
) -> Result<Frame, CommandError> {
    let (mut result, options) = combine(db, now_ms, command)?;
    result.sort_by(|(member, score), (other, other_score)| {
        compare_scored(*score, member, *other_score, other)
    });
    let pairs = result.iter().map(|(member, score)| (member, *score));
    Ok(members_frame(pairs, options.with_scores))
}

/// ZUNIONSTORE, ZINTERSTORE and ZDIFFSTORE: the destination is replaced by the result (a new
/// value, classified by its content as Redis converts it), or deleted when it is empty.
pub(super) fn apply_combine_store(
    db: &mut Db,
    now_ms: u64,
    destination: &Key,
    command: &CombineCommand,
) -> Result<Frame, CommandError> {
    let (result, _) = combine(db, now_ms, command)?;
    let stored = result.len();
    store_set(db, destination, SortedSet::from_distinct_pairs(result), now_ms);
    Ok(Frame::Integer(stored as i64))
}

/// ZINTERCARD: the size of the intersection, counting no further than a non-zero `limit`.
pub(super) fn read_intercard(
    db: &Db,
    now_ms: u64,
    keys: &[Key],
    limit: &Result<u64, CommandError>,
) -> Result<Frame, CommandError> {
    let inputs = inputs(db, keys, now_ms)?;
    let limit = limit.clone()?;
    if inputs.iter().any(|input| input.as_ref().is_none_or(|input| input.len() == 0)) {
        return Ok(Frame::Integer(0));
    }
    let order = by_size(&inputs);
    let present = |index: usize| inputs[index].as_ref().expect("every input is present");
    let mut count: u64 = 0;
    for (member, _) in present(order[0]).pairs() {
        if order[1..].iter().all(|&index| present(index).score(&member).is_some()) {
            count += 1;
            if count == limit {
                break;
            }
        }
    }
    Ok(Frame::Integer(count as i64))
}
