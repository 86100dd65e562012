//! Scores and range bounds as Redis reads them: C's `strtod`, with the checks each caller adds.
//!
//! Redis reads a score in two ways, and they accept different texts:
//! - [`parse_score`] (ZADD, ZINCRBY, WEIGHTS): the whole argument must be a number; no leading
//!   space, no NaN, and no value that overflows to infinity or underflows to zero (`1e400`,
//!   `1e-400`), though `inf` spelled out is fine.
//! - [`parse_score_bound`] (ZCOUNT, ZRANGEBYSCORE, ...): an optional `(` for an exclusive bound,
//!   then anything `strtod` reads to the end: leading spaces are skipped, overflow saturates to
//!   infinity, and an empty text (`(` alone) is 0.
//!
//! Both take C's hexadecimal floats (`0x10`, `0x1.8p3`), as `strtod` does.
//!
//! `strtod` itself is [`crate::command::strtod`].

use bytes::Bytes;

use crate::command::strtod::{strtod, Strtod};
use serde::{Deserialize, Serialize};

/// One end of a score range.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreBound {
    /// The score, possibly `-inf` or `+inf`.
    pub value: f64,
    /// Given with a leading `(`: the score itself is outside the range.
    pub exclusive: bool,
}

/// A score range, `min` to `max` as given (after REV's swap).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreRange {
    /// The low end: members below it are outside.
    pub min: ScoreBound,
    /// The high end: members above it are outside.
    pub max: ScoreBound,
}

impl ScoreRange {
    /// Whether `score` lies before the range's start.
    pub fn is_below(&self, score: f64) -> bool {
        if self.min.exclusive {
            score <= self.min.value
        } else {
            score < self.min.value
        }
    }

    /// Whether `score` lies at or before the range's end.
    pub fn is_not_above(&self, score: f64) -> bool {
        if self.max.exclusive {
            score < self.max.value
        } else {
            score <= self.max.value
        }
    }
}

/// One end of a lexicographic range: `-`, `+`, `[member` or `(member`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LexBound {
    /// `-`: before every member.
    Minimum,
    /// `+`: after every member.
    Maximum,
    /// `[member`: the member itself is inside the range.
    Inclusive(Bytes),
    /// `(member`: the member itself is outside the range.
    Exclusive(Bytes),
}

/// A lexicographic range, `min` to `max` as given (after REV's swap).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LexRange {
    /// The low end, compared byte by byte.
    pub min: LexBound,
    /// The high end, compared byte by byte.
    pub max: LexBound,
}

impl LexRange {
    /// Whether `member` lies before the range's start.
    pub fn is_below(&self, member: &[u8]) -> bool {
        match &self.min {
            LexBound::Minimum => false,
            LexBound::Maximum => true,
            LexBound::Inclusive(bound) => member < bound.as_ref(),
            LexBound::Exclusive(bound) => member <= bound.as_ref(),
        }
    }

    /// Whether `member` lies at or before the range's end.
    pub fn is_not_above(&self, member: &[u8]) -> bool {
        match &self.max {
            LexBound::Minimum => false,
            LexBound::Maximum => true,
            LexBound::Inclusive(bound) => member <= bound.as_ref(),
            LexBound::Exclusive(bound) => member < bound.as_ref(),
        }
    }
}

/// Reads a score as Redis's `getDoubleFromObject` does (see the module docs).
pub fn parse_score(text: &[u8]) -> Option<f64> {
    if text.first().is_some_and(|byte| is_c_space(*byte)) {
        return None;
    }
    let read = strtod(text)?;
    if read.consumed != text.len() || read.value.is_nan() || read.out_of_range {
        return None;
    }
    Some(read.value)
}

/// Reads a SORT weight as Redis's SORT does: `strtod` after any leading spaces, which must
/// read up to the end of the text or a NUL byte (C strings end there). NaN and a range error
/// (overflow, or underflow to zero or to a subnormal number, where glibc sets `ERANGE`) are
/// refused. A text that is empty up to its first NUL is 0: `strtod` reads nothing and stops at
/// the end.
pub fn parse_sort_weight(text: &[u8]) -> Option<f64> {
    let text = &text[..memchr::memchr(0, text).unwrap_or(text.len())];
    let start = text.iter().take_while(|byte| is_c_space(**byte)).count();
    let Some(read) = strtod(&text[start..]) else {
        return text.is_empty().then_some(0.0);
    };
    let subnormal = read.value != 0.0 && read.value.abs() < f64::MIN_POSITIVE;
    if start + read.consumed != text.len() || read.value.is_nan() || read.out_of_range || subnormal
    {
        return None;
    }
    Some(read.value)
}

/// Reads one end of a score range as Redis's `zslParseRange` does (see the module docs).
pub fn parse_score_bound(text: &[u8]) -> Option<ScoreBound> {
    let (exclusive, number) = match text {
        [b'(', rest @ ..] => (true, rest),
        _ => (false, text),
    };
    // C strings end at the first NUL byte.
    let number = &number[..memchr::memchr(0, number).unwrap_or(number.len())];
    let start = number.iter().take_while(|byte| is_c_space(**byte)).count();
    let read = strtod(&number[start..]).unwrap_or(Strtod::NOTHING);
    let consumed = if read.consumed == 0 { 0 } else { start + read.consumed };
    if consumed != number.len() || read.value.is_nan() {
        return None;
    }
    Some(ScoreBound { value: read.value, exclusive })
}

/// Reads one end of a lexicographic range as Redis's `zslParseLexRangeItem` does.
pub fn parse_lex_bound(text: &Bytes) -> Option<LexBound> {
    match text.first()? {
        b'+' if text.len() == 1 => Some(LexBound::Maximum),
        b'-' if text.len() == 1 => Some(LexBound::Minimum),
        b'[' => Some(LexBound::Inclusive(text.slice(1..))),
        b'(' => Some(LexBound::Exclusive(text.slice(1..))),
        _ => None,
    }
}

/// C's `isspace` in the C locale.
fn is_c_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_read_as_redis_zadd_reads_them() {
        let accepted: [(&str, f64); 10] = [
            ("1", 1.0),
            (".5", 0.5),
            ("5.", 5.0),
            ("-0", -0.0),
            ("+inf", f64::INFINITY),
            ("-Infinity", f64::NEG_INFINITY),
            ("0x10", 16.0),
            ("0x1.8p1", 3.0),
            ("1e-310", 1e-310),
            ("0e-400", 0.0),
        ];
        for (text, expected) in accepted {
            assert_eq!(parse_score(text.as_bytes()), Some(expected), "{text}");
        }
        for rejected in ["", " 1", "1 ", "nan", "1e400", "1e-400", "1x", "0x", "e5", "1e", "--1"] {
            assert_eq!(parse_score(rejected.as_bytes()), None, "{rejected:?}");
        }
    }

    #[test]
    fn range_bounds_read_as_redis_zslparserange_reads_them() {
        let bound = |text: &str| parse_score_bound(text.as_bytes());
        assert_eq!(bound("(1.5"), Some(ScoreBound { value: 1.5, exclusive: true }));
        assert_eq!(bound("("), Some(ScoreBound { value: 0.0, exclusive: true }));
        assert_eq!(bound(""), Some(ScoreBound { value: 0.0, exclusive: false }));
        assert_eq!(bound(" 7"), Some(ScoreBound { value: 7.0, exclusive: false }));
        assert_eq!(bound("1e400"), Some(ScoreBound { value: f64::INFINITY, exclusive: false }));
        for rejected in ["x", "(nan", "1.5x", "((1", "7 ", " "] {
            assert_eq!(bound(rejected), None, "{rejected:?}");
        }
    }

    #[test]
    fn lex_bounds_need_a_bracket_or_a_lone_sign() {
        let bound = |text: &'static str| parse_lex_bound(&Bytes::from_static(text.as_bytes()));
        assert_eq!(bound("-"), Some(LexBound::Minimum));
        assert_eq!(bound("+"), Some(LexBound::Maximum));
        assert_eq!(bound("[a"), Some(LexBound::Inclusive(Bytes::from_static(b"a"))));
        assert_eq!(bound("("), Some(LexBound::Exclusive(Bytes::new())));
        for rejected in ["", "a", "+a", "-a"] {
            assert_eq!(bound(rejected), None, "{rejected:?}");
        }
    }
}
