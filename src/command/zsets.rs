//! The sorted set family: ZADD, ZRANGE and every other non-blocking command on sorted sets.
//!
//! Parsing finds every error Redis finds before it looks at a key, in Redis's order, so that a
//! malformed write never costs a log entry. Where Redis looks at the keys first and reads the
//! remaining options after (ZUNION, ZINTER, ZDIFF and their STORE forms, ZINTERCARD, ZSCAN),
//! the typed command carries the options' parse result and the state machine reports an error
//! in it only after the keys' types passed: a WRONGTYPE key wins over a bad option, as in Redis.
//!
//! Scores and bounds are read with C's `strtod` rules (see the `bounds` module).

mod bounds;
mod table;

pub use bounds::{parse_score, parse_sort_weight, LexBound, LexRange, ScoreBound, ScoreRange};
pub use table::COMMANDS;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::keys::{parse_cursor, parse_scan_options, INVALID_CURSOR};
use super::{is_keyword, parse_i64, Args, Command, CommandError, Key, Read, Write};
use bounds::{parse_lex_bound, parse_score_bound};

/// The sorted set commands that only read; outside a transaction they never enter the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ZsetRead {
    /// `ZSCORE key member`.
    Score {
        /// The key of the sorted set it reads.
        key: Key,
        /// The member whose score it replies with.
        member: Bytes,
    },
    /// `ZMSCORE key member [member ...]`.
    MScore {
        /// The key of the sorted set it reads.
        key: Key,
        /// The members in argument order; the reply has a score or nil for each, in that order.
        members: Vec<Bytes>,
    },
    /// `ZCARD key`.
    Card {
        /// The key of the sorted set whose member count it replies with.
        key: Key,
    },
    /// `ZCOUNT key min max`.
    Count {
        /// The key of the sorted set it reads.
        key: Key,
        /// The scores to count between, each bound inclusive unless given with `(`.
        range: ScoreRange,
    },
    /// `ZLEXCOUNT key min max`.
    LexCount {
        /// The key of the sorted set it reads.
        key: Key,
        /// The members to count between, by bytes: `[` inclusive, `(` exclusive, `-` and `+` open.
        range: LexRange,
    },
    /// `ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]`, and
    /// ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX and ZREVRANGEBYLEX.
    Range(RangeCommand),
    /// ZRANK, and ZREVRANK when `reverse`.
    Rank {
        /// The key of the sorted set it reads.
        key: Key,
        /// The member whose rank it replies with.
        member: Bytes,
        /// ZREVRANK: rank 0 is the highest score; `false` for ZRANK, where it is the lowest.
        reverse: bool,
    },
    /// `ZRANDMEMBER key [count [WITHSCORES]]`.
    RandMember {
        /// The key of the sorted set it draws from.
        key: Key,
        /// `None` without a count (one member or nil); positive for distinct members, negative
        /// for draws that may repeat.
        count: Option<i64>,
        /// `WITHSCORES`: reply with each member's score too; only with a count.
        with_scores: bool,
    },
    /// ZUNION, ZINTER and ZDIFF.
    Combine(CombineCommand),
    /// `ZINTERCARD numkeys key [key ...] [LIMIT limit]`; the limit waits for the type checks.
    InterCard {
        /// The keys to intersect, as many as `numkeys` said.
        keys: Vec<Key>,
        /// `LIMIT`, 0 for none (also when absent), or its error, reported after the types.
        limit: Result<u64, CommandError>,
    },
    /// `ZSCAN key cursor [MATCH pattern] [COUNT count]`; the options wait for the type check.
    Scan {
        /// The key of the sorted set it scans.
        key: Key,
        /// The cursor the client sent; 0 starts a new scan.
        cursor: u64,
        /// MATCH and COUNT, or the error they earned, reported after the key's type check.
        options: Result<ScanOptions, CommandError>,
    },
}

/// The sorted set commands that write, as they are stored in the log and applied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ZsetWrite {
    /// `ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]`.
    Add(AddCommand),
    /// `ZINCRBY key increment member`: ZADD INCR without conditions.
    IncrBy {
        /// The key of the sorted set it writes; an absent key starts as an empty one.
        key: Key,
        /// The amount added to the member's score, which starts at 0 when the member is new.
        increment: f64,
        /// The member whose score changes.
        member: Bytes,
    },
    /// `ZREM key member [member ...]`.
    Rem {
        /// The key of the sorted set it removes from; the key goes when its last member does.
        key: Key,
        /// The members to remove; one not there is not counted.
        members: Vec<Bytes>,
    },
    /// ZRANGESTORE.
    RangeStore {
        /// The key that receives the range, whatever it held; deleted if the range is empty.
        destination: Key,
        /// The source key and the range, as ZRANGE takes them without WITHSCORES.
        range: RangeCommand,
    },
    /// ZPOPMIN, ZPOPMAX and ZMPOP.
    Pop(PopCommand),
    /// ZREMRANGEBYRANK, ZREMRANGEBYSCORE and ZREMRANGEBYLEX.
    RemRange {
        /// The key of the sorted set it removes from.
        key: Key,
        /// The ranks, scores or members to remove, bounds as ZRANGE reads them.
        range: RangeSpec,
    },
    /// ZUNIONSTORE, ZINTERSTORE and ZDIFFSTORE.
    CombineStore {
        /// The key that receives the result, whatever it held; deleted if the result is empty.
        destination: Key,
        /// The operation, the source keys and the options (WEIGHTS, AGGREGATE; no WITHSCORES).
        combine: CombineCommand,
    },
}

/// `ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AddCommand {
    /// The key of the sorted set it writes; an absent key starts as an empty one.
    pub key: Key,
    /// `NX` or `XX`; `None` both adds and updates.
    pub condition: Option<AddCondition>,
    /// `GT` or `LT`; `None` updates whatever the new score.
    pub comparison: Option<AddComparison>,
    /// Reply with the number of members added or changed, not only added.
    pub count_changed: bool,
    /// Add the score to the current one and reply with the result (one pair only).
    pub increment: bool,
    /// The score-member pairs in argument order; the parser checked each score is a float.
    pub pairs: Vec<(f64, Bytes)>,
}

/// `NX` (only add new members) or `XX` (only update existing ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AddCondition {
    /// `NX`: only add new members, never update one.
    IfAbsent,
    /// `XX`: only update existing members, never add one.
    IfPresent,
}

/// `GT` or `LT`: update an existing member only if its new score is greater (or less).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AddComparison {
    /// `GT`: only when the new score is greater than the current one.
    Greater,
    /// `LT`: only when the new score is less than the current one.
    Less,
}

/// Which members a range selects.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum RangeSpec {
    /// By rank; negative ranks count from the end.
    Rank {
        /// The first rank, inclusive; counted from the highest score when `reverse`.
        start: i64,
        /// The last rank, inclusive; counted as `start` is.
        stop: i64,
    },
    /// By score (`BYSCORE`, ZRANGEBYSCORE, ZREMRANGEBYSCORE), bounds as `min`, `max`.
    Score(ScoreRange),
    /// By member (`BYLEX`, ZRANGEBYLEX, ZREMRANGEBYLEX), bounds as `min`, `max`.
    Lex(LexRange),
}

/// ZRANGE and its older forms, and the source half of ZRANGESTORE.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RangeCommand {
    /// The key of the sorted set it reads.
    pub key: Key,
    /// By rank, score or member, and the bounds.
    pub spec: RangeSpec,
    /// From the highest score down (REV, ZREVRANGE...); bounds are already swapped to min, max.
    pub reverse: bool,
    /// `LIMIT offset count` (score and lex ranges only); a negative count means no limit.
    pub limit: Option<(i64, i64)>,
    /// `WITHSCORES`: reply with each member's score too.
    pub with_scores: bool,
}

/// ZPOPMIN, ZPOPMAX and ZMPOP.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PopCommand {
    /// The keys to try in order; the first non-empty set is popped (one key for ZPOPMIN).
    pub keys: Vec<Key>,
    /// Pop the highest scores (ZPOPMAX, ZMPOP ... MAX); `false` pops the lowest.
    pub from_max: bool,
    /// How many to pop; `None` when ZPOPMIN/ZPOPMAX got no count (a flat reply).
    pub count: Option<u64>,
    /// ZMPOP's reply shape: the key and the nested pairs, or null when every set is empty.
    pub multiple_keys: bool,
}

/// What ZUNION, ZINTER and ZDIFF compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CombineOperation {
    /// ZUNION: the members of any input.
    Union,
    /// ZINTER: the members of every input; an absent key makes it empty.
    Inter,
    /// ZDIFF: the members of the first input that are in none of the others.
    Diff,
}

/// How scores of a member found in several inputs combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Aggregate {
    /// `SUM`, the default: add the weighted scores.
    Sum,
    /// `MIN`: the least weighted score.
    Min,
    /// `MAX`: the greatest weighted score.
    Max,
}

/// ZUNION, ZINTER, ZDIFF, or the inputs of their STORE forms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CombineCommand {
    /// Union, intersection or difference.
    pub operation: CombineOperation,
    /// The input keys, as many as `numkeys` said; a plain set counts as scores of 1.
    pub keys: Vec<Key>,
    /// The options, or the error they earned: Redis reports it after the keys' types.
    pub options: Result<CombineOptions, CombineOptionsError>,
}

/// A [`CommandError`] that travels in a write (the STORE forms), as its text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CombineOptionsError(pub String);

impl From<CombineOptionsError> for CommandError {
    fn from(error: CombineOptionsError) -> CommandError {
        CommandError::Other(error.0.into())
    }
}

/// The options after the keys of ZUNION, ZINTER, ZDIFF and their STORE forms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CombineOptions {
    /// One weight per key (all 1 by default).
    pub weights: Vec<f64>,
    /// `AGGREGATE SUM | MIN | MAX`: `Sum` when absent.
    pub aggregate: Aggregate,
    /// `WITHSCORES`: reply with each member's score too; never set for the STORE forms.
    pub with_scores: bool,
}

pub use super::keys::ScanOptions;

const NOT_A_FLOAT_BOUND: CommandError = CommandError::other("ERR min or max is not a float");
const NOT_A_LEX_BOUND: CommandError =
    CommandError::other("ERR min or max not valid string range item");

fn read(read: ZsetRead) -> Result<Command, CommandError> {
    Ok(Command::Read(Read::Zset(read)))
}

fn write(write: ZsetWrite) -> Result<Command, CommandError> {
    Ok(Command::Write(Write::Zset(write)))
}

fn next_score(args: &mut Args) -> Result<f64, CommandError> {
    parse_score(&args.next_bytes()?).ok_or(CommandError::NotFloat)
}

fn parse_zadd(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let mut words = args.rest().into_iter().peekable();
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    let (mut count_changed, mut increment) = (false, false);
    while let Some(word) = words.peek() {
        let flag = match word.to_ascii_uppercase().as_slice() {
            b"NX" => &mut nx,
            b"XX" => &mut xx,
            b"GT" => &mut gt,
            b"LT" => &mut lt,
            b"CH" => &mut count_changed,
            b"INCR" => &mut increment,
            _ => break,
        };
        *flag = true;
        words.next();
    }
    let rest: Vec<Bytes> = words.collect();
    if rest.is_empty() || rest.len() % 2 != 0 {
        return Err(CommandError::Syntax);
    }
    if nx && xx {
        return Err(CommandError::other(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (nx && (gt || lt)) || (gt && lt) {
        return Err(CommandError::other(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if increment && rest.len() > 2 {
        return Err(CommandError::other(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let mut pairs = Vec::with_capacity(rest.len() / 2);
    for pair in rest.chunks_exact(2) {
        pairs.push((parse_score(&pair[0]).ok_or(CommandError::NotFloat)?, pair[1].clone()));
    }
    let condition = match (nx, xx) {
        (true, _) => Some(AddCondition::IfAbsent),
        (_, true) => Some(AddCondition::IfPresent),
        _ => None,
    };
    let comparison = match (gt, lt) {
        (true, _) => Some(AddComparison::Greater),
        (_, true) => Some(AddComparison::Less),
        _ => None,
    };
    write(ZsetWrite::Add(AddCommand {
        key,
        condition,
        comparison,
        count_changed,
        increment,
        pairs,
    }))
}

fn parse_zincrby(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let increment = next_score(args)?;
    write(ZsetWrite::IncrBy { key, increment, member: args.next_bytes()? })
}

fn parse_zrem(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    write(ZsetWrite::Rem { key, members: args.rest() })
}

fn parse_zscore(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    read(ZsetRead::Score { key, member: args.next_bytes()? })
}

fn parse_zmscore(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    read(ZsetRead::MScore { key, members: args.rest() })
}

fn parse_zcard(args: &mut Args) -> Result<Command, CommandError> {
    read(ZsetRead::Card { key: args.next_bytes()? })
}

fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CommandError> {
    match (parse_score_bound(min), parse_score_bound(max)) {
        (Some(min), Some(max)) => Ok(ScoreRange { min, max }),
        _ => Err(NOT_A_FLOAT_BOUND),
    }
}

fn parse_lex_range(min: &Bytes, max: &Bytes) -> Result<LexRange, CommandError> {
    match (parse_lex_bound(min), parse_lex_bound(max)) {
        (Some(min), Some(max)) => Ok(LexRange { min, max }),
        _ => Err(NOT_A_LEX_BOUND),
    }
}

fn parse_zcount(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let range = parse_score_range(&args.next_bytes()?, &args.next_bytes()?)?;
    read(ZsetRead::Count { key, range })
}

fn parse_zlexcount(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let range = parse_lex_range(&args.next_bytes()?, &args.next_bytes()?)?;
    read(ZsetRead::LexCount { key, range })
}

fn parse_rank(args: &mut Args, reverse: bool) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    read(ZsetRead::Rank { key, member: args.next_bytes()?, reverse })
}

fn parse_zrank(args: &mut Args) -> Result<Command, CommandError> {
    parse_rank(args, false)
}

fn parse_zrevrank(args: &mut Args) -> Result<Command, CommandError> {
    parse_rank(args, true)
}

/// How a range is selected, before the arguments say (ZRANGE) or as the command fixes it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeKind {
    Rank,
    Score,
    Lex,
}

/// What the command name fixes about a range: its kind and direction (`None`: ZRANGE's
/// arguments decide), and whether it stores (ZRANGESTORE, where WITHSCORES is not an option).
#[derive(Clone, Copy)]
struct RangeForm {
    kind: Option<RangeKind>,
    reverse: Option<bool>,
    store: bool,
}

/// Redis's `zrangeGenericCommand`: the options first (in any order), then the conflicts
/// between them, then the bounds, which REV gives as max before min.
fn parse_range(args: &mut Args, form: RangeForm) -> Result<RangeCommand, CommandError> {
    let key = args.next_bytes()?;
    let (first, second) = (args.next_bytes()?, args.next_bytes()?);
    let (mut kind, mut reverse) = (form.kind, form.reverse);
    let (mut limit, mut with_scores) = (None, false);
    while let Some(option) = args.try_next() {
        if !form.store && is_keyword(&option, "WITHSCORES") {
            with_scores = true;
        } else if is_keyword(&option, "LIMIT") && args.remaining() >= 2 {
            limit = Some((args.next_i64()?, args.next_i64()?));
        } else if reverse.is_none() && is_keyword(&option, "REV") {
            reverse = Some(true);
        } else if kind.is_none() && is_keyword(&option, "BYLEX") {
            kind = Some(RangeKind::Lex);
        } else if kind.is_none() && is_keyword(&option, "BYSCORE") {
            kind = Some(RangeKind::Score);
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let kind = kind.unwrap_or(RangeKind::Rank);
    let reverse = reverse.unwrap_or(false);
    if limit.is_some() && kind == RangeKind::Rank {
        return Err(CommandError::other(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if with_scores && kind == RangeKind::Lex {
        return Err(CommandError::other(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let (min, max) =
        if reverse && kind != RangeKind::Rank { (second, first) } else { (first, second) };
    let spec = match kind {
        RangeKind::Rank => {
            let start = parse_i64(&min).ok_or(CommandError::NotInteger)?;
            let stop = parse_i64(&max).ok_or(CommandError::NotInteger)?;
            RangeSpec::Rank { start, stop }
        }
        RangeKind::Score => RangeSpec::Score(parse_score_range(&min, &max)?),
        RangeKind::Lex => RangeSpec::Lex(parse_lex_range(&min, &max)?),
    };
    Ok(RangeCommand { key, spec, reverse, limit, with_scores })
}

fn read_range(
    args: &mut Args,
    kind: Option<RangeKind>,
    reverse: Option<bool>,
) -> Result<Command, CommandError> {
    read(ZsetRead::Range(parse_range(args, RangeForm { kind, reverse, store: false })?))
}

fn parse_zrange(args: &mut Args) -> Result<Command, CommandError> {
    read_range(args, None, None)
}

fn parse_zrevrange(args: &mut Args) -> Result<Command, CommandError> {
    read_range(args, Some(RangeKind::Rank), Some(true))
}

fn parse_zrangebyscore(args: &mut Args) -> Result<Command, CommandError> {
    read_range(args, Some(RangeKind::Score), Some(false))
}

fn parse_zrevrangebyscore(args: &mut Args) -> Result<Command, CommandError> {
    read_range(args, Some(RangeKind::Score), Some(true))
}

fn parse_zrangebylex(args: &mut Args) -> Result<Command, CommandError> {
    read_range(args, Some(RangeKind::Lex), Some(false))
}

fn parse_zrevrangebylex(args: &mut Args) -> Result<Command, CommandError> {
    read_range(args, Some(RangeKind::Lex), Some(true))
}

fn parse_zrangestore(args: &mut Args) -> Result<Command, CommandError> {
    let destination = args.next_bytes()?;
    let range = parse_range(args, RangeForm { kind: None, reverse: None, store: true })?;
    write(ZsetWrite::RangeStore { destination, range })
}

fn parse_remrange(args: &mut Args, kind: RangeKind) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let (min, max) = (args.next_bytes()?, args.next_bytes()?);
    let range = match kind {
        RangeKind::Rank => {
            let start = parse_i64(&min).ok_or(CommandError::NotInteger)?;
            RangeSpec::Rank { start, stop: parse_i64(&max).ok_or(CommandError::NotInteger)? }
        }
        RangeKind::Score => RangeSpec::Score(parse_score_range(&min, &max)?),
        RangeKind::Lex => RangeSpec::Lex(parse_lex_range(&min, &max)?),
    };
    write(ZsetWrite::RemRange { key, range })
}

fn parse_zremrangebyrank(args: &mut Args) -> Result<Command, CommandError> {
    parse_remrange(args, RangeKind::Rank)
}

fn parse_zremrangebyscore(args: &mut Args) -> Result<Command, CommandError> {
    parse_remrange(args, RangeKind::Score)
}

fn parse_zremrangebylex(args: &mut Args) -> Result<Command, CommandError> {
    parse_remrange(args, RangeKind::Lex)
}

/// ZPOPMIN/ZPOPMAX: an optional count, which must not be negative.
fn parse_pop(args: &mut Args, from_max: bool) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let count = match args.try_next() {
        None => None,
        Some(count) => {
            let count = parse_i64(&count)
                .filter(|count| *count >= 0)
                .ok_or(CommandError::other("ERR value is out of range, must be positive"))?;
            Some(count as u64)
        }
    };
    args.finish()?;
    write(ZsetWrite::Pop(PopCommand { keys: vec![key], from_max, count, multiple_keys: false }))
}

fn parse_zpopmin(args: &mut Args) -> Result<Command, CommandError> {
    parse_pop(args, false)
}

fn parse_zpopmax(args: &mut Args) -> Result<Command, CommandError> {
    parse_pop(args, true)
}

/// A positive count or number of keys, with the error text Redis gives that argument.
fn positive(argument: &[u8], error: &'static str) -> Result<u64, CommandError> {
    parse_i64(argument)
        .filter(|value| *value >= 1)
        .map(|value| value as u64)
        .ok_or(CommandError::other(error))
}

/// `ZMPOP numkeys key [key ...] MIN | MAX [COUNT count]`.
pub(super) fn parse_zmpop(args: &mut Args) -> Result<Command, CommandError> {
    let numkeys = positive(&args.next_bytes()?, "ERR numkeys should be greater than 0")?;
    let mut rest = args.rest().into_iter();
    if numkeys >= rest.len() as u64 {
        return Err(CommandError::Syntax);
    }
    let keys: Vec<Key> = rest.by_ref().take(numkeys as usize).collect();
    let direction = rest.next().ok_or(CommandError::Syntax)?;
    let from_max = if is_keyword(&direction, "MIN") {
        false
    } else if is_keyword(&direction, "MAX") {
        true
    } else {
        return Err(CommandError::Syntax);
    };
    let mut count = None;
    while let Some(option) = rest.next() {
        match rest.len() {
            remaining if remaining > 0 && count.is_none() && is_keyword(&option, "COUNT") => {
                let value = rest.next().expect("one argument remains");
                count = Some(positive(&value, "ERR count should be greater than 0")?);
            }
            _ => return Err(CommandError::Syntax),
        }
    }
    let count = Some(count.unwrap_or(1));
    write(ZsetWrite::Pop(PopCommand { keys, from_max, count, multiple_keys: true }))
}

fn parse_zrandmember(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let Some(count) = args.try_next() else {
        return read(ZsetRead::RandMember { key, count: None, with_scores: false });
    };
    let count = parse_i64(&count).ok_or(CommandError::NotInteger)?;
    if count == i64::MIN {
        return Err(CommandError::other(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let with_scores = match args.try_next() {
        None => false,
        Some(option) if is_keyword(&option, "WITHSCORES") && args.is_empty() => true,
        Some(_) => return Err(CommandError::Syntax),
    };
    if with_scores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(CommandError::other("ERR value is out of range"));
    }
    read(ZsetRead::RandMember { key, count: Some(count), with_scores })
}

/// The number of keys of ZUNION and its relatives, and the keys.
fn parse_numkeys_and_keys(args: &mut Args, command: &str) -> Result<Vec<Key>, CommandError> {
    let numkeys = args.next_i64()?;
    if numkeys < 1 {
        return Err(CommandError::Other(
            format!("ERR at least 1 input key is needed for '{command}' command").into(),
        ));
    }
    if numkeys as u64 > args.remaining() as u64 {
        return Err(CommandError::Syntax);
    }
    (0..numkeys).map(|_| args.next_bytes()).collect()
}

/// The options after the keys of ZUNION, ZINTER, ZDIFF and their STORE forms.
fn parse_combine_options(
    args: &mut Args,
    operation: CombineOperation,
    keys: usize,
    store: bool,
) -> Result<CombineOptions, CommandError> {
    let mut options =
        CombineOptions { weights: vec![1.0; keys], aggregate: Aggregate::Sum, with_scores: false };
    let not_diff = operation != CombineOperation::Diff;
    while let Some(option) = args.try_next() {
        if not_diff && is_keyword(&option, "WEIGHTS") && args.remaining() >= keys {
            for weight in &mut options.weights {
                *weight = parse_score(&args.next_bytes()?)
                    .ok_or(CommandError::other("ERR weight value is not a float"))?;
            }
        } else if not_diff && is_keyword(&option, "AGGREGATE") && !args.is_empty() {
            let name = args.next_bytes()?;
            options.aggregate =
                [("SUM", Aggregate::Sum), ("MIN", Aggregate::Min), ("MAX", Aggregate::Max)]
                    .into_iter()
                    .find(|(keyword, _)| is_keyword(&name, keyword))
                    .ok_or(CommandError::Syntax)?
                    .1;
        } else if !store && is_keyword(&option, "WITHSCORES") {
            options.with_scores = true;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(options)
}

fn parse_combine(
    args: &mut Args,
    operation: CombineOperation,
    command: &str,
    store: bool,
) -> Result<CombineCommand, CommandError> {
    let keys = parse_numkeys_and_keys(args, command)?;
    let options = parse_combine_options(args, operation, keys.len(), store)
        .map_err(|error| CombineOptionsError(error.to_string()));
    Ok(CombineCommand { operation, keys, options })
}

fn parse_zunion(args: &mut Args) -> Result<Command, CommandError> {
    read(ZsetRead::Combine(parse_combine(args, CombineOperation::Union, "zunion", false)?))
}

fn parse_zinter(args: &mut Args) -> Result<Command, CommandError> {
    read(ZsetRead::Combine(parse_combine(args, CombineOperation::Inter, "zinter", false)?))
}

fn parse_zdiff(args: &mut Args) -> Result<Command, CommandError> {
    read(ZsetRead::Combine(parse_combine(args, CombineOperation::Diff, "zdiff", false)?))
}

fn combine_store(
    args: &mut Args,
    operation: CombineOperation,
    command: &str,
) -> Result<Command, CommandError> {
    let destination = args.next_bytes()?;
    let combine = parse_combine(args, operation, command, true)?;
    write(ZsetWrite::CombineStore { destination, combine })
}

fn parse_zunionstore(args: &mut Args) -> Result<Command, CommandError> {
    combine_store(args, CombineOperation::Union, "zunionstore")
}

fn parse_zinterstore(args: &mut Args) -> Result<Command, CommandError> {
    combine_store(args, CombineOperation::Inter, "zinterstore")
}

fn parse_zdiffstore(args: &mut Args) -> Result<Command, CommandError> {
    combine_store(args, CombineOperation::Diff, "zdiffstore")
}

fn parse_zintercard(args: &mut Args) -> Result<Command, CommandError> {
    let keys = parse_numkeys_and_keys(args, "zintercard")?;
    let mut limit = Ok(0);
    while let Some(option) = args.try_next() {
        if is_keyword(&option, "LIMIT") && !args.is_empty() {
            let value = args.next_bytes()?;
            limit = parse_i64(&value)
                .filter(|limit| *limit >= 0)
                .map(|limit| limit as u64)
                .ok_or(CommandError::other("ERR LIMIT can't be negative"));
            if limit.is_err() {
                break;
            }
        } else {
            limit = Err(CommandError::Syntax);
            break;
        }
    }
    read(ZsetRead::InterCard { keys, limit })
}

fn parse_zscan(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let cursor = parse_cursor(&args.next_bytes()?).ok_or(INVALID_CURSOR)?;
    let options = parse_scan_options(args, false).map(|(options, _)| options);
    read(ZsetRead::Scan { key, cursor, options })
}
