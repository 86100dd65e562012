//! C's `strtod` (glibc, C locale) reading a number from the start of a text: what Redis's
//! score parsing and Lua cjson's number tokens rest on.
//!
//! It reads an optional sign, then `inf`, `infinity` or `nan` (any case), a hexadecimal float
//! (`0x1.8p3`) or a decimal one, and says how many bytes it read and whether the value
//! overflowed or underflowed (`errno == ERANGE`). Leading spaces are the caller's business.
//!
//! Caveat: a hexadecimal mantissa longer than 16 digits is truncated rather than rounded with
//! its remaining digits; no client is known to send one.

/// What `strtod` read from the start of a text.
pub(crate) struct Strtod {
    /// The number read.
    pub value: f64,
    /// How many bytes it read; 0 when the text does not start with a number.
    pub consumed: usize,
    /// `errno == ERANGE` with an infinite or zero result: the number overflowed or underflowed.
    pub out_of_range: bool,
}

impl Strtod {
    pub const NOTHING: Strtod = Strtod { value: 0.0, consumed: 0, out_of_range: false };
}

/// C's `strtod` without leading-space skipping: a sign, then `inf`/`infinity`/`nan`, a
/// hexadecimal float or a decimal one. `None` when nothing is a number.
pub(crate) fn strtod(text: &[u8]) -> Option<Strtod> {
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
        (f64::NAN, 3 + nan_payload(&body[3..]), false)
    } else if let Some(read) = hexadecimal(body) {
        read
    } else {
        decimal(body)?
    };
    let value = if negative { -magnitude } else { magnitude };
    Some(Strtod { value, consumed: sign_length + length, out_of_range })
}

/// glibc's `nan(n-char-sequence)`: letters, digits and `_` between parentheses, read with the
/// `nan` before them.
fn nan_payload(rest: &[u8]) -> usize {
    let [b'(', inside @ ..] = rest else {
        return 0;
    };
    let length = inside.iter().take_while(|byte| byte.is_ascii_alphanumeric() || **byte == b'_');
    let length = length.count();
    if inside.get(length) == Some(&b')') {
        length + 2
    } else {
        0
    }
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
