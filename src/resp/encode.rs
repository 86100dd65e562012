//! Reply encoding: a [`Frame`] written as the exact bytes Redis 7.0 sends for it, in the
//! protocol the connection speaks.
//!
//! RESP3 types are written with their own markers (`%` map, `~` set, `,` double, `#` boolean,
//! `=` verbatim, `>` push, `_` null). For RESP2 they are lowered as Redis 7.0's `addReply*`
//! functions lower them: a map becomes a flat array of keys and values, a set or push an
//! array, a double a bulk string, a boolean the integer 1 or 0, a verbatim string a bulk string
//! of its text alone.
//!
//! Doubles are formatted as C's `printf("%.17g")`, which Redis 7.0 uses for every double reply
//! (so `0.1` is sent as `0.10000000000000001`; Redis 7.2 moved to shortest round-trip output).
//!
//! Invariant: encoding allocates nothing but the growth of the output buffer; numbers are
//! formatted on the stack.
//!
//! Deliberately absent: any check that a simple string or error holds no CR or LF. Frames are
//! built by Concord's own code, never from client bytes without escaping, and the command layer
//! owns that rule.

use super::{Frame, Protocol};
use bytes::{BufMut, BytesMut};
use std::fmt::Write;

/// Appends the bytes of `frame`, as `protocol` spells it, to `out`.
pub fn encode(frame: &Frame, protocol: Protocol, out: &mut BytesMut) {
    let resp3 = protocol == Protocol::Resp3;
    match frame {
        Frame::Simple(text) => write_line(out, b'+', text.as_bytes()),
        Frame::Error(text) => write_line(out, b'-', text.as_bytes()),
        Frame::Integer(value) => write_line(out, b':', itoa::Buffer::new().format(*value)),
        Frame::Bulk(bytes) => write_bulk(out, bytes),
        Frame::Null if resp3 => out.put_slice(b"_\r\n"),
        Frame::Null => out.put_slice(b"$-1\r\n"),
        Frame::NullArray if resp3 => out.put_slice(b"_\r\n"),
        Frame::NullArray => out.put_slice(b"*-1\r\n"),
        Frame::Array(items) => write_aggregate(out, b'*', items, protocol),
        Frame::Set(items) => write_aggregate(out, if resp3 { b'~' } else { b'*' }, items, protocol),
        Frame::Push(items) => {
            write_aggregate(out, if resp3 { b'>' } else { b'*' }, items, protocol)
        }
        Frame::Map(pairs) => write_map(out, pairs, protocol),
        Frame::Pairs(pairs) => write_pairs(out, pairs, protocol),
        Frame::KeyedArrays(pairs) if resp3 => write_map(out, pairs, protocol),
        Frame::KeyedArrays(pairs) => write_pair_arrays(out, pairs, protocol),
        Frame::Double(value) => {
            let text = DoubleText::new(*value);
            if resp3 {
                write_line(out, b',', text.as_bytes());
            } else {
                write_bulk(out, text.as_bytes());
            }
        }
        Frame::Boolean(value) if resp3 => out.put_slice(if *value { b"#t\r\n" } else { b"#f\r\n" }),
        Frame::Boolean(value) => out.put_slice(if *value { b":1\r\n" } else { b":0\r\n" }),
        Frame::Verbatim { format, text } if resp3 => {
            write_length_line(out, b'=', text.len() + format.len() + 1);
            out.put_slice(format);
            out.put_u8(b':');
            out.put_slice(text);
            out.put_slice(b"\r\n");
        }
        Frame::Verbatim { text, .. } => write_bulk(out, text),
        Frame::BigNumber(text) if resp3 => write_line(out, b'(', text),
        Frame::BigNumber(text) => write_bulk(out, text),
        Frame::LongDouble(value) => {
            let text = format_human_long_double(*value);
            if resp3 {
                write_line(out, b',', text);
            } else {
                write_bulk(out, text.as_bytes());
            }
        }
    }
}

/// Formats `value` as Redis's `addReplyHumanLongDouble` does: `%.17Lf` of the value (which a
/// long double holds exactly), then trailing zeros and a trailing point removed, and `-0`
/// written `0`. Rust prints the exact value rounded with ties to even, as glibc does.
pub fn format_human_long_double(value: f64) -> String {
    let mut text = format!("{value:.17}");
    if text.contains('.') {
        let kept = text.trim_end_matches('0').trim_end_matches('.').len();
        text.truncate(kept);
    }
    if text == "-0" {
        text = "0".to_owned();
    }
    text
}

/// Formats `value` exactly as C's `printf("%.17g", value)` does with glibc, the way Redis 7.0
/// sends doubles: 17 significant digits, correctly rounded (ties to even); trailing zeros
/// dropped; the exponent form (`1e+20`, `1.0000000000000001e-05`) when the decimal exponent is
/// below -4 or at least 17; `inf`, `-inf`, `nan`, and `-nan` for a NaN whose sign bit is set.
pub fn format_double(value: f64) -> String {
    let text = DoubleText::new(value);
    std::str::from_utf8(text.as_bytes()).expect("%.17g output is ASCII").to_owned()
}

fn write_line(out: &mut BytesMut, marker: u8, text: impl AsRef<[u8]>) {
    let text = text.as_ref();
    out.reserve(text.len() + 3);
    out.put_u8(marker);
    out.put_slice(text);
    out.put_slice(b"\r\n");
}

fn write_length_line(out: &mut BytesMut, marker: u8, length: usize) {
    write_line(out, marker, itoa::Buffer::new().format(length));
}

fn write_bulk(out: &mut BytesMut, bytes: &[u8]) {
    write_length_line(out, b'$', bytes.len());
    out.reserve(bytes.len() + 2);
    out.put_slice(bytes);
    out.put_slice(b"\r\n");
}

fn write_aggregate(out: &mut BytesMut, marker: u8, items: &[Frame], protocol: Protocol) {
    write_length_line(out, marker, items.len());
    for item in items {
        encode(item, protocol, out);
    }
}

fn write_map(out: &mut BytesMut, pairs: &[(Frame, Frame)], protocol: Protocol) {
    match protocol {
        Protocol::Resp3 => write_length_line(out, b'%', pairs.len()),
        Protocol::Resp2 => write_length_line(out, b'*', pairs.len() * 2),
    }
    for (key, value) in pairs {
        encode(key, protocol, out);
        encode(value, protocol, out);
    }
}

fn write_pairs(out: &mut BytesMut, pairs: &[(Frame, Frame)], protocol: Protocol) {
    match protocol {
        Protocol::Resp3 => write_length_line(out, b'*', pairs.len()),
        Protocol::Resp2 => write_length_line(out, b'*', pairs.len() * 2),
    }
    for (first, second) in pairs {
        if protocol == Protocol::Resp3 {
            write_length_line(out, b'*', 2);
        }
        encode(first, protocol, out);
        encode(second, protocol, out);
    }
}

/// Pairs as an array of two-element arrays, whatever the protocol (the items inside are
/// still written in `protocol`).
fn write_pair_arrays(out: &mut BytesMut, pairs: &[(Frame, Frame)], protocol: Protocol) {
    write_length_line(out, b'*', pairs.len());
    for (first, second) in pairs {
        write_length_line(out, b'*', 2);
        encode(first, protocol, out);
        encode(second, protocol, out);
    }
}

/// The significant digits of `%.17g`.
const SIGNIFICANT_DIGITS: usize = 17;

/// Room for the longest `%.17g` output: a sign, 17 digits, a point and `e-308` make 25 bytes,
/// and the fixed form with four leading zeros (`-0.0001234...`) makes 23.
const DOUBLE_TEXT_BYTES_MAX: usize = 32;

/// A double formatted as `%.17g`, held on the stack.
struct DoubleText {
    bytes: [u8; DOUBLE_TEXT_BYTES_MAX],
    length: usize,
}

impl DoubleText {
    fn new(value: f64) -> DoubleText {
        let mut text = DoubleText { bytes: [0; DOUBLE_TEXT_BYTES_MAX], length: 0 };
        if value.is_nan() {
            // glibc prints the sign of a NaN, and x86 arithmetic makes NaNs with it set.
            text.push_slice(if value.is_sign_negative() { b"-nan" } else { b"nan" });
        } else if value.is_infinite() {
            text.push_slice(if value > 0.0 { b"inf" } else { b"-inf" });
        } else {
            let scientific = Scientific::new(value);
            if value.is_sign_negative() {
                text.push_slice(b"-");
            }
            // The rule of C's %g: the exponent form only outside -4 <= exponent < precision.
            if (-4..SIGNIFICANT_DIGITS as i32).contains(&scientific.exponent) {
                text.push_fixed(&scientific);
            } else {
                text.push_exponential(&scientific);
            }
        }
        text
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.length]
    }

    fn push_slice(&mut self, bytes: &[u8]) {
        self.bytes[self.length..self.length + bytes.len()].copy_from_slice(bytes);
        self.length += bytes.len();
    }

    /// Writes `digits` with a decimal point after `integer_digits` of them, dropping trailing
    /// zeros of the fraction and the point itself when no fraction is left.
    fn push_digits_with_point(&mut self, digits: &[u8], integer_digits: usize) {
        let (integer, fraction) = digits.split_at(integer_digits);
        self.push_slice(integer);
        let significant_fraction =
            fraction.len() - fraction.iter().rev().take_while(|&&digit| digit == b'0').count();
        if significant_fraction > 0 {
            self.push_slice(b".");
            self.push_slice(&fraction[..significant_fraction]);
        }
    }

    fn push_fixed(&mut self, scientific: &Scientific) {
        if scientific.exponent >= 0 {
            let integer_digits = scientific.exponent as usize + 1;
            self.push_digits_with_point(&scientific.digits, integer_digits);
        } else {
            // Between 1e-4 and 1: "0.", then zeros up to the first significant digit.
            let mut padded = [b'0'; SIGNIFICANT_DIGITS + 4];
            let leading_zeros = scientific.exponent.unsigned_abs() as usize;
            padded[leading_zeros..leading_zeros + SIGNIFICANT_DIGITS]
                .copy_from_slice(&scientific.digits);
            self.push_digits_with_point(&padded[..leading_zeros + SIGNIFICANT_DIGITS], 1);
        }
    }

    fn push_exponential(&mut self, scientific: &Scientific) {
        self.push_digits_with_point(&scientific.digits, 1);
        self.push_slice(if scientific.exponent < 0 { b"e-" } else { b"e+" });
        let magnitude = scientific.exponent.unsigned_abs();
        // C prints at least two exponent digits.
        if magnitude < 10 {
            self.push_slice(b"0");
        }
        self.push_slice(itoa::Buffer::new().format(magnitude).as_bytes());
    }
}

/// A finite double's magnitude as 17 correctly rounded significant digits and a decimal
/// exponent: `digits[0].digits[1..] × 10^exponent`.
struct Scientific {
    digits: [u8; SIGNIFICANT_DIGITS],
    exponent: i32,
}

impl Scientific {
    /// Rust's `{:.16e}` rounds exactly (ties to even), as glibc's printf does, so its digits
    /// are the digits `%.17g` chooses; only the layout differs.
    fn new(value: f64) -> Scientific {
        let mut text = StackText::default();
        write!(text, "{:.16e}", value.abs()).expect("a finite double fits in 32 bytes");
        let formatted = text.as_bytes();
        let exponent_marker =
            formatted.iter().position(|&byte| byte == b'e').expect("{:e} output has an exponent");
        let mut digits = [b'0'; SIGNIFICANT_DIGITS];
        let mantissa = formatted[..exponent_marker].iter().filter(|byte| byte.is_ascii_digit());
        for (slot, &digit) in digits.iter_mut().zip(mantissa) {
            *slot = digit;
        }
        let exponent = std::str::from_utf8(&formatted[exponent_marker + 1..])
            .ok()
            .and_then(|text| text.parse().ok())
            .expect("{:e} output has a decimal exponent");
        Scientific { digits, exponent }
    }
}

/// A `fmt::Write` target on the stack, for formatting without allocating.
#[derive(Default)]
struct StackText {
    bytes: [u8; DOUBLE_TEXT_BYTES_MAX],
    length: usize,
}

impl StackText {
    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.length]
    }
}

impl Write for StackText {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        let end = self.length + text.len();
        let slot = self.bytes.get_mut(self.length..end).ok_or(std::fmt::Error)?;
        slot.copy_from_slice(text.as_bytes());
        self.length = end;
        Ok(())
    }
}
