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
//! Caveat: a hexadecimal mantissa longer than 16 digits is truncated rather than rounded with
//! its remaining digits; no client is known to send one.

use bytes::Bytes;
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

/// What `strtod` read from the start of a text.
struct Strtod {
    value: f64,
    /// How many bytes it read; 0 when the text does not start with a number.
    consumed: usize,
    /// `errno == ERANGE` with an infinite or zero result: the number overflowed or underflowed.
    out_of_range: bool,
}

impl Strtod {
    const NOTHING: Strtod = Strtod { value: 0.0, consumed: 0, out_of_range: false };
}

/// C's `strtod` without leading-space skipping: a sign, then `inf`/`infinity`/`nan`, a
/// hexadecimal float or a decimal one. `None` when nothing is a number.
fn strtod(text: &[u8]) -> Option<Strtod> {
    let (negative, sign_length) = match text.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let body = &text[sign_length..];
    let lowercase = |length: usize| body.get(..length).map(<[u8]>::to_ascii_lowercase);
    let (magnitude, length, out_of_range) = if lowercase(8).as_deref() == Some(b"infinity") {
        (f64::INFINITY, 8, false)
    } else if lowercase(3).as_deref() == Some(b"inf") {
        (f64::INFINITY, 3, false)
    } else if lowercase(3).as_deref() == Some(b"nan") {
        (f64::NAN, 3, false)
    } else if let Some(read) = hexadecimal(body) {
        read
    } else {
        decimal(body)?
    };
    let value = if negative { -magnitude } else { magnitude };
    Some(Strtod { value, consumed: sign_length + length, out_of_range })
}

/// The decimal form: digits with an optional point, then an optional exponent.
fn decimal(body: &[u8]) -> Option<(f64, usize, bool)> {
    let digits = |from: usize| body[from..].iter().take_while(|byte| byte.is_ascii_digit()).count();
    let integer_digits = digits(0);
    let mut length = integer_digits;
    let mut fraction_digits = 0;
    if body.get(length) == Some(&b'.') {
        fraction_digits = digits(length + 1);
        length += 1 + fraction_digits;
    }
    if integer_digits + fraction_digits == 0 {
        return None;
    }
    let mantissa_end = length;
    if matches!(body.get(length), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(body.get(length + 1), Some(b'+' | b'-')));
        let exponent_digits = digits(length + 1 + sign);
        if exponent_digits > 0 {
            length += 1 + sign + exponent_digits;
        }
    }
    let text = std::str::from_utf8(&body[..length]).expect("digits, points and signs are ASCII");
    let value: f64 = text.parse().expect("a decimal float that Rust's grammar accepts");
    let nonzero = body[..mantissa_end].iter().any(|byte| matches!(byte, b'1'..=b'9'));
    let out_of_range = value.is_infinite() || (value == 0.0 && nonzero);
    Some((value, length, out_of_range))
}

/// The hexadecimal form: `0x`, hex digits with an optional point, then an optional binary
/// exponent `p±digits`. `None` when no hex digit follows `0x` (strtod then reads just `0`).
fn hexadecimal(body: &[u8]) -> Option<(f64, usize, bool)> {
    if !matches!(body, [b'0', b'x' | b'X', ..]) {
        return None;
    }
    let mut mantissa: u64 = 0;
    let mut exponent: i64 = 0;
    let mut any_digit = false;
    let mut seen_point = false;
    let mut length = 2;
    while let Some(&byte) = body.get(length) {
        if byte == b'.' && !seen_point {
            seen_point = true;
        } else if let Some(digit) = (byte as char).to_digit(16) {
            any_digit = true;
            if mantissa >> 60 == 0 {
                mantissa = mantissa * 16 + u64::from(digit);
                if seen_point {
                    exponent -= 4;
                }
            } else if !seen_point {
                exponent += 4;
            }
        } else {
            break;
        }
        length += 1;
    }
    if !any_digit {
        return None;
    }
    if matches!(body.get(length), Some(b'p' | b'P')) {
        let sign_length = usize::from(matches!(body.get(length + 1), Some(b'+' | b'-')));
        let negative = body.get(length + 1) == Some(&b'-');
        let start = length + 1 + sign_length;
        let digits = body[start..].iter().take_while(|byte| byte.is_ascii_digit()).count();
        if digits > 0 {
            let magnitude = body[start..start + digits].iter().fold(0i64, |total, digit| {
                total.saturating_mul(10).saturating_add(i64::from(digit - b'0'))
            });
            exponent = exponent.saturating_add(if negative { -magnitude } else { magnitude });
            length = start + digits;
        }
    }
    let scale = exponent.clamp(-2000, 2000) as i32;
    // Two steps, so that a scale beyond f64's exponent range does not overflow on its own.
    let value = mantissa as f64 * 2f64.powi(scale / 2) * 2f64.powi(scale - scale / 2);
    let out_of_range = value.is_infinite() || (value == 0.0 && mantissa != 0);
    Some((value, length, out_of_range))
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
