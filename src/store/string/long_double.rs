//! INCRBYFLOAT's arithmetic: the x86-64 C `long double` (80-bit extended precision), in
//! software.
//!
//! Redis reads both operands of INCRBYFLOAT with `strtold`, adds them as `long double`, and
//! stores the sum printed with `%.17Lf` minus trailing zeros. On x86-64 a `long double` has a
//! 64-bit significand (explicit integer bit) and a 15-bit exponent, so `0.1 + 0.2` prints as
//! `0.3` where an `f64` would give `0.30000000000000004`. Replies must be byte-identical, so
//! Concord reproduces each of the three steps exactly rather than approximating them:
//!
//! - **Parsing** turns the decimal (or `0x` hexadecimal) text into an exact big integer times
//!   a power of two or five, and rounds that exact value once to 64 significant bits, ties to
//!   even, with the format's subnormal range: the correctly rounded result glibc's `strtold`
//!   returns. Results that overflow to infinity or underflow to zero are refused, as Redis's
//!   `string2ld` refuses `ERANGE` results.
//! - **Addition** aligns both significands exactly in a big integer and rounds the exact sum
//!   once, as the x87 unit does in round-to-nearest.
//! - **Formatting** multiplies the exact binary value by 10^17 and rounds once, ties to even,
//!   which is what glibc's `printf` does with `%.17Lf`.
//!
//! A double-double would be smaller but cannot round exactly like the 64-bit significand in
//! every case (its 106 bits round differently near ties), so exact big-integer arithmetic is
//! used instead. Its cost is proportional to the operands' size: at most a few thousand digits,
//! since Redis refuses float strings of 5,120 bytes or more and the exponent range is bounded.
//! The big integer is the handful of operations this needs, kept private here.

use std::cmp::Ordering;

/// Strings this long or longer are not floats to Redis (`MAX_LONG_DOUBLE_CHARS`).
const TEXT_BYTES_MAX: usize = 5 * 1024;

/// Bits in the significand of an x87 extended-precision number.
const SIGNIFICAND_BITS: u64 = 64;

/// The exponent of the last significand bit of the smallest subnormal number (2^-16445).
const EXPONENT_MIN: i64 = -16445;

/// The exponent of the last significand bit of the largest finite number: (2^64 - 1) * 2^16320.
const EXPONENT_MAX: i64 = 16320;

/// Digits of a decimal number outside this many orders of magnitude overflow or underflow
/// whatever they are; the bound only spares the exact computation, which decides the rest.
const DECIMAL_ORDER_LIMIT: i64 = 5000;

/// A finite or infinite 80-bit extended-precision number: `(-1)^negative * significand *
/// 2^exponent`. A nonzero finite number is normalized: its significand's top bit is set, or its
/// exponent is the smallest, -16445 (a subnormal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LongDouble {
    negative: bool,
    magnitude: Magnitude,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Magnitude {
    Finite { significand: u64, exponent: i64 },
    Infinite,
}

impl LongDouble {
    /// Reads `text` as Redis's `string2ld` does: `strtold` syntax (decimal, `0x` hexadecimal,
    /// `inf`, `infinity`), no leading space, nothing left over, no NaN, and no result that
    /// overflowed to infinity or underflowed to zero.
    pub fn parse(text: &[u8]) -> Option<LongDouble> {
        if text.is_empty() || text.len() >= TEXT_BYTES_MAX {
            return None;
        }
        let (negative, unsigned) = match text[0] {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        if unsigned.eq_ignore_ascii_case(b"inf") || unsigned.eq_ignore_ascii_case(b"infinity") {
            return Some(LongDouble { negative, magnitude: Magnitude::Infinite });
        }
        let exact = if unsigned.len() > 2 && unsigned[..2].eq_ignore_ascii_case(b"0x") {
            parse_hexadecimal(&unsigned[2..])?
        } else {
            parse_decimal(unsigned)?
        };
        let rounded = exact.round(negative);
        let refused = match rounded.magnitude {
            Magnitude::Infinite => true,
            Magnitude::Finite { significand, .. } => significand == 0 && !exact.is_zero(),
        };
        (!refused).then_some(rounded)
    }

    /// The exact value of an integer (every `i64` fits in 64 significant bits).
    pub fn from_i64(integer: i64) -> LongDouble {
        let exact = Exact { integer: BigUint::from_u64(integer.unsigned_abs()), exponent: 0 };
        exact.round(integer < 0)
    }

    /// The correctly rounded sum, or `None` if it is not finite (an operand was infinite, or
    /// the sum overflowed), which INCRBYFLOAT refuses.
    pub fn checked_add(self, other: LongDouble) -> Option<LongDouble> {
        let Magnitude::Finite { significand: a, exponent: a_exponent } = self.magnitude else {
            return None;
        };
        let Magnitude::Finite { significand: b, exponent: b_exponent } = other.magnitude else {
            return None;
        };
        if a == 0 || b == 0 {
            // IEEE: x + 0 = x, and the sum of two zeros is -0 only if both are -0.
            let negative = if a == 0 && b == 0 {
                self.negative && other.negative
            } else if a == 0 {
                other.negative
            } else {
                self.negative
            };
            let significand = a.max(b);
            let exponent = if a == 0 { b_exponent } else { a_exponent };
            return Some(LongDouble {
                negative,
                magnitude: Magnitude::Finite { significand, exponent },
            });
        }
        let exponent = a_exponent.min(b_exponent);
        let aligned_a = BigUint::from_u64(a).shifted_left((a_exponent - exponent) as u64);
        let aligned_b = BigUint::from_u64(b).shifted_left((b_exponent - exponent) as u64);
        let (negative, integer) = if self.negative == other.negative {
            (self.negative, aligned_a.add(&aligned_b))
        } else {
            match aligned_a.cmp(&aligned_b) {
                Ordering::Greater => (self.negative, aligned_a.sub(&aligned_b)),
                Ordering::Less => (other.negative, aligned_b.sub(&aligned_a)),
                // An exact zero sum is +0 in round-to-nearest.
                Ordering::Equal => (false, BigUint::zero()),
            }
        };
        let sum = Exact { integer, exponent }.round(negative);
        matches!(sum.magnitude, Magnitude::Finite { .. }).then_some(sum)
    }

    /// The text Redis stores for an INCRBYFLOAT result: `%.17Lf`, then trailing zeros and a
    /// trailing point removed, and `-0` written `0`. `None` for an infinity, which Redis
    /// refuses to store.
    pub fn to_human_string(self) -> Option<String> {
        let Magnitude::Finite { significand, exponent } = self.magnitude else {
            return None;
        };
        const FRACTION_DIGITS: usize = 17;
        let scaled = BigUint::from_u64(significand).multiplied_by_power_of_ten(FRACTION_DIGITS);
        // The value times 10^17, rounded to an integer with ties to even.
        let rounded = if exponent >= 0 {
            scaled.shifted_left(exponent as u64)
        } else {
            scaled.rounded_right_shift(exponent.unsigned_abs(), false)
        };
        let digits = rounded.to_decimal();
        let digits = format!("{digits:0>width$}", width = FRACTION_DIGITS + 1);
        let (integer_part, fraction) = digits.split_at(digits.len() - FRACTION_DIGITS);
        let fraction = fraction.trim_end_matches('0');
        let mut text = String::with_capacity(digits.len() + 2);
        if self.negative {
            text.push('-');
        }
        text.push_str(integer_part);
        if !fraction.is_empty() {
            text.push('.');
            text.push_str(fraction);
        }
        if text == "-0" {
            text = "0".to_owned();
        }
        Some(text)
    }
}

/// A nonnegative value known exactly: `integer * 2^exponent`, before rounding.
struct Exact {
    integer: BigUint,
    exponent: i64,
}

impl Exact {
    fn is_zero(&self) -> bool {
        self.integer.is_zero()
    }

    /// Rounds to the nearest extended-precision number, ties to even, overflowing to infinity.
    fn round(&self, negative: bool) -> LongDouble {
        if self.is_zero() {
            let magnitude = Magnitude::Finite { significand: 0, exponent: 0 };
            return LongDouble { negative, magnitude };
        }
        let bits = self.integer.bit_length() as i64;
        // Drop bits beyond the significand's 64, and below the subnormal quantum.
        let shift = (bits - SIGNIFICAND_BITS as i64).max(EXPONENT_MIN - self.exponent);
        let (significand, exponent) = if shift <= 0 {
            let significand = self.integer.low_u64() << shift.unsigned_abs();
            (significand, self.exponent + shift)
        } else {
            let rounded = self.integer.rounded_right_shift(shift as u64, false);
            let exponent = self.exponent + shift;
            if rounded.bit_length() > SIGNIFICAND_BITS {
                // Rounding carried into a 65th bit: 2^64 is 2^63 one exponent up.
                (1 << 63, exponent + 1)
            } else {
                (rounded.low_u64(), exponent)
            }
        };
        if significand == 0 {
            let magnitude = Magnitude::Finite { significand: 0, exponent: 0 };
            return LongDouble { negative, magnitude };
        }
        if exponent > EXPONENT_MAX {
            return LongDouble { negative, magnitude: Magnitude::Infinite };
        }
        LongDouble { negative, magnitude: Magnitude::Finite { significand, exponent } }
    }
}

/// `digits[.digits][e[+-]digits]`, with at least one digit before the exponent.
fn parse_decimal(text: &[u8]) -> Option<Exact> {
    let (digits, fraction_digits, rest) = split_mantissa(text, u8::is_ascii_digit)?;
    let written_exponent = match rest {
        [] => 0,
        [b'e' | b'E', exponent @ ..] => parse_exponent(exponent)?,
        _ => return None,
    };
    let mut integer = BigUint::zero();
    let mut significant_digits = 0i64;
    for &digit in digits.iter().skip_while(|&&digit| digit == b'0' || digit == b'.') {
        if digit != b'.' {
            integer.multiply_add(10, u64::from(digit - b'0'));
            significant_digits += 1;
        }
    }
    let power_of_ten = written_exponent - fraction_digits as i64;
    if integer.is_zero() {
        return Some(Exact { integer, exponent: 0 });
    }
    // The value lies in [10^(order - 1), 10^order).
    let order = significant_digits + power_of_ten;
    if order > DECIMAL_ORDER_LIMIT {
        // Overflows: any huge exact value rounds to infinity.
        return Some(Exact { integer: BigUint::from_u64(1), exponent: EXPONENT_MAX + 64 });
    }
    if order < -DECIMAL_ORDER_LIMIT {
        // Underflows: a value this far below the smallest subnormal rounds to zero; a sticky
        // bit keeps it distinguishable from a written zero.
        return Some(Exact { integer: BigUint::from_u64(1), exponent: EXPONENT_MIN - 64 });
    }
    if power_of_ten >= 0 {
        let integer = integer.multiplied_by_power_of_ten(power_of_ten as usize);
        return Some(Exact { integer, exponent: 0 });
    }
    // value = integer / 10^k = (integer / 5^k) * 2^-k. Scale up first so that the quotient
    // keeps at least 66 bits (64 and a rounding bit, plus one), and fold any remainder into a
    // sticky bit: the lowest bit of a quotient shifted up once more.
    let k = power_of_ten.unsigned_abs();
    // An upper bound on the bits of 5^k: log2(5) < 7/3. Integer arithmetic, so that no
    // platform's floating point can change the scale (it could not change the result anyway).
    let divisor_bits = (k as i64).saturating_mul(7) / 3 + 1;
    let scale = (divisor_bits + 67 - integer.bit_length() as i64).max(0) as u64;
    let (quotient, remainder_is_zero) = integer.shifted_left(scale).divided_by_power_of_five(k);
    let sticky = u64::from(!remainder_is_zero);
    let integer = quotient.shifted_left(1).add(&BigUint::from_u64(sticky));
    Some(Exact { integer, exponent: -(scale as i64) - k as i64 - 1 })
}

/// `hexdigits[.hexdigits][p[+-]digits]` after `0x`, as C99 hexadecimal floating constants.
fn parse_hexadecimal(text: &[u8]) -> Option<Exact> {
    let (digits, fraction_digits, rest) = split_mantissa(text, u8::is_ascii_hexdigit)?;
    let written_exponent = match rest {
        [] => 0,
        [b'p' | b'P', exponent @ ..] => parse_exponent(exponent)?,
        _ => return None,
    };
    let mut integer = BigUint::zero();
    for &digit in digits.iter().filter(|&&digit| digit != b'.') {
        let value = (digit as char).to_digit(16).expect("only hex digits were accepted");
        integer.multiply_add(16, u64::from(value));
    }
    let exponent = written_exponent.saturating_sub(4 * fraction_digits as i64);
    // Far outside the range, only the direction matters (and the exact shift would be huge).
    let exponent = exponent.clamp(EXPONENT_MIN - 2 * TEXT_BYTES_MAX as i64 * 4, EXPONENT_MAX + 64);
    Some(Exact { integer, exponent })
}

/// Splits `digits[.digits]` off the front of `text`: the mantissa (point included), the number
/// of digits after the point, and the rest. `None` if there is no digit at all.
fn split_mantissa(text: &[u8], is_digit: fn(&u8) -> bool) -> Option<(&[u8], usize, &[u8])> {
    let integer_digits = text.iter().take_while(|byte| is_digit(byte)).count();
    let mut end = integer_digits;
    let mut fraction_digits = 0;
    if text.get(end) == Some(&b'.') {
        fraction_digits = text[end + 1..].iter().take_while(|byte| is_digit(byte)).count();
        end += 1 + fraction_digits;
    }
    if integer_digits + fraction_digits == 0 {
        return None;
    }
    Some((&text[..end], fraction_digits, &text[end..]))
}

/// `[+-]digits`, saturating far beyond any exponent that can matter.
fn parse_exponent(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let magnitude = digits
        .iter()
        .fold(0i64, |value, digit| (value * 10 + i64::from(digit - b'0')).min(1 << 40));
    Some(if negative { -magnitude } else { magnitude })
}

/// An unsigned big integer: little-endian 64-bit limbs, no trailing zero limbs.
#[derive(Clone, Debug, PartialEq, Eq)]
struct BigUint {
    limbs: Vec<u64>,
}

impl BigUint {
    fn zero() -> BigUint {
        BigUint { limbs: Vec::new() }
    }

    fn from_u64(value: u64) -> BigUint {
        let mut number = BigUint { limbs: vec![value] };
        number.trim();
        number
    }

    fn trim(&mut self) {
        while self.limbs.last() == Some(&0) {
            self.limbs.pop();
        }
    }

    fn is_zero(&self) -> bool {
        self.limbs.is_empty()
    }

    fn bit_length(&self) -> u64 {
        match self.limbs.last() {
            None => 0,
            Some(top) => 64 * (self.limbs.len() as u64 - 1) + u64::from(64 - top.leading_zeros()),
        }
    }

    fn bit(&self, index: u64) -> bool {
        let limb = self.limbs.get((index / 64) as usize).copied().unwrap_or(0);
        (limb >> (index % 64)) & 1 == 1
    }

    /// Whether any bit below `index` is set.
    fn any_bit_below(&self, index: u64) -> bool {
        let whole_limbs = (index / 64) as usize;
        if self.limbs.iter().take(whole_limbs).any(|&limb| limb != 0) {
            return true;
        }
        let partial_bits = index % 64;
        partial_bits > 0
            && self
                .limbs
                .get(whole_limbs)
                .is_some_and(|&limb| limb & ((1 << partial_bits) - 1) != 0)
    }

    /// The lowest 64 bits.
    fn low_u64(&self) -> u64 {
        self.limbs.first().copied().unwrap_or(0)
    }

    /// `self = self * factor + addend`.
    fn multiply_add(&mut self, factor: u64, addend: u64) {
        let mut carry = u128::from(addend);
        for limb in &mut self.limbs {
            let product = u128::from(*limb) * u128::from(factor) + carry;
            *limb = product as u64;
            carry = product >> 64;
        }
        if carry != 0 {
            self.limbs.push(carry as u64);
        }
        self.trim();
    }

    fn multiplied_by_power_of_ten(mut self, mut power: usize) -> BigUint {
        // 10^19 is the largest power of ten below 2^64.
        while power > 0 {
            let step = power.min(19);
            self.multiply_add(10u64.pow(step as u32), 0);
            power -= step;
        }
        self
    }

    /// `floor(self / 5^power)`, and whether the division was exact.
    fn divided_by_power_of_five(mut self, mut power: u64) -> (BigUint, bool) {
        // 5^27 is the largest power of five below 2^64. Nested floors compose:
        // floor(floor(x / a) / b) = floor(x / ab), exact only if every step is.
        let mut exact = true;
        while power > 0 {
            let step = power.min(27);
            exact &= self.divide_in_place(5u64.pow(step as u32)) == 0;
            power -= step;
        }
        (self, exact)
    }

    /// Divides in place by a nonzero `divisor`; returns the remainder.
    fn divide_in_place(&mut self, divisor: u64) -> u64 {
        let mut remainder = 0u128;
        for limb in self.limbs.iter_mut().rev() {
            let current = (remainder << 64) | u128::from(*limb);
            *limb = (current / u128::from(divisor)) as u64;
            remainder = current % u128::from(divisor);
        }
        self.trim();
        remainder as u64
    }

    fn shifted_left(&self, bits: u64) -> BigUint {
        if self.is_zero() {
            return BigUint::zero();
        }
        let whole_limbs = (bits / 64) as usize;
        let partial_bits = bits % 64;
        let mut limbs = vec![0; whole_limbs];
        let mut carry = 0;
        for &limb in &self.limbs {
            if partial_bits == 0 {
                limbs.push(limb);
            } else {
                limbs.push(limb << partial_bits | carry);
                carry = limb >> (64 - partial_bits);
            }
        }
        limbs.push(carry);
        let mut number = BigUint { limbs };
        number.trim();
        number
    }

    /// `self / 2^bits` rounded to the nearest integer, ties to even; `sticky` says that the
    /// true value is slightly above `self` (so a tie is not a tie).
    fn rounded_right_shift(&self, bits: u64, sticky: bool) -> BigUint {
        let whole_limbs = (bits / 64) as usize;
        let partial_bits = bits % 64;
        let mut limbs: Vec<u64> = self.limbs.iter().skip(whole_limbs).copied().collect();
        if partial_bits > 0 {
            for index in 0..limbs.len() {
                let next = limbs.get(index + 1).copied().unwrap_or(0);
                limbs[index] = limbs[index] >> partial_bits | next << (64 - partial_bits);
            }
        }
        let mut quotient = BigUint { limbs };
        quotient.trim();
        let half = bits > 0 && self.bit(bits - 1);
        let above_half = (bits > 1 && self.any_bit_below(bits - 1)) || sticky;
        if half && (above_half || quotient.bit(0)) {
            quotient.multiply_add(1, 1);
        }
        quotient
    }

    fn add(&self, other: &BigUint) -> BigUint {
        let length = self.limbs.len().max(other.limbs.len());
        let mut limbs = Vec::with_capacity(length + 1);
        let mut carry = false;
        for index in 0..length {
            let a = self.limbs.get(index).copied().unwrap_or(0);
            let b = other.limbs.get(index).copied().unwrap_or(0);
            let (sum, first_carry) = a.overflowing_add(b);
            let (sum, second_carry) = sum.overflowing_add(u64::from(carry));
            limbs.push(sum);
            carry = first_carry || second_carry;
        }
        limbs.push(u64::from(carry));
        let mut number = BigUint { limbs };
        number.trim();
        number
    }

    /// `self - other`; `self` must not be smaller.
    fn sub(&self, other: &BigUint) -> BigUint {
        assert!(*self >= *other, "big integer subtraction would go below zero");
        let mut limbs = Vec::with_capacity(self.limbs.len());
        let mut borrow = false;
        for (index, &a) in self.limbs.iter().enumerate() {
            let b = other.limbs.get(index).copied().unwrap_or(0);
            let (difference, first_borrow) = a.overflowing_sub(b);
            let (difference, second_borrow) = difference.overflowing_sub(u64::from(borrow));
            limbs.push(difference);
            borrow = first_borrow || second_borrow;
        }
        let mut number = BigUint { limbs };
        number.trim();
        number
    }

    fn to_decimal(&self) -> String {
        const CHUNK: u64 = 10_000_000_000_000_000_000;
        let mut rest = self.clone();
        let mut chunks = Vec::new();
        while !rest.is_zero() {
            chunks.push(rest.divide_in_place(CHUNK));
        }
        let mut text = chunks.pop().map_or_else(|| "0".to_owned(), |top| top.to_string());
        for chunk in chunks.iter().rev() {
            text.push_str(&format!("{chunk:019}"));
        }
        text
    }
}

impl PartialOrd for BigUint {
    fn partial_cmp(&self, other: &BigUint) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for BigUint {
    fn cmp(&self, other: &BigUint) -> Ordering {
        self.limbs
            .len()
            .cmp(&other.limbs.len())
            .then_with(|| self.limbs.iter().rev().cmp(other.limbs.iter().rev()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(terms: &[&str]) -> Option<String> {
        let mut total = LongDouble::from_i64(0);
        for term in terms {
            total = total.checked_add(LongDouble::parse(term.as_bytes())?)?;
        }
        total.to_human_string()
    }

    #[test]
    fn decimal_fractions_add_as_in_long_double() {
        assert_eq!(sum(&["0.1", "0.2"]).as_deref(), Some("0.3"));
        assert_eq!(sum(&["10.5", "0.1"]).as_deref(), Some("10.6"));
        assert_eq!(sum(&["5.0e3"]).as_deref(), Some("5000"));
        assert_eq!(sum(&["1.5", "0.5"]).as_deref(), Some("2"));
    }

    #[test]
    fn formatting_rounds_ties_to_even_at_the_seventeenth_digit() {
        // 2^-18 and 3 * 2^-18 end in a 5 at the eighteenth decimal place.
        assert_eq!(sum(&["0.000003814697265625"]).as_deref(), Some("0.00000381469726562"));
        assert_eq!(sum(&["0.000011444091796875"]).as_deref(), Some("0.00001144409179688"));
    }

    #[test]
    fn negative_zero_and_tiny_negatives_print_as_zero() {
        assert_eq!(sum(&["-0"]).as_deref(), Some("0"));
        assert_eq!(sum(&["-1e-20"]).as_deref(), Some("0"));
        let negative_zero = LongDouble::parse(b"-0").unwrap();
        assert_eq!(
            negative_zero.checked_add(negative_zero).unwrap().to_human_string().unwrap(),
            "0"
        );
    }

    #[test]
    fn strtold_syntax_is_accepted_and_nothing_else() {
        for accepted in ["+1.5", ".5", "5.", "0x10", "0X1.8p1", "1E3", "1e+3", "-inf", "Infinity"] {
            assert!(LongDouble::parse(accepted.as_bytes()).is_some(), "{accepted}");
        }
        for refused in
            ["", " 1", "1 ", "1e", "e1", ".", "nan", "-nan", "0x", "1.2.3", "inf1", "1\0"]
        {
            assert!(LongDouble::parse(refused.as_bytes()).is_none(), "{refused:?}");
        }
    }

    #[test]
    fn results_out_of_range_are_refused_but_subnormals_are_not() {
        assert!(LongDouble::parse(b"1e5000").is_none());
        assert!(LongDouble::parse(b"1e-5000").is_none());
        assert!(LongDouble::parse(b"0x1p-16446").is_none(), "half the smallest subnormal");
        assert!(LongDouble::parse(b"0x1p-16445").is_some(), "the smallest subnormal");
        assert!(LongDouble::parse(b"1e-4940").is_some());
        assert!(LongDouble::parse(b"0e99999").is_some(), "a written zero is not an underflow");
        assert!(LongDouble::parse(&vec![b'1'; TEXT_BYTES_MAX]).is_none());
    }

    #[test]
    fn infinity_and_overflow_have_no_sum() {
        let one = LongDouble::from_i64(1);
        assert_eq!(one.checked_add(LongDouble::parse(b"inf").unwrap()), None);
        let big = LongDouble::parse(b"1e4932").unwrap();
        assert_eq!(big.checked_add(big), None);
    }

    #[test]
    fn large_values_print_every_integer_digit() {
        let text = sum(&["1e308", "1e308"]).unwrap();
        assert_eq!(text.len(), 309);
        assert!(text.starts_with("19999999999999999999337175931169129132"), "{text}");
        assert_eq!(sum(&["9223372036854775807", "1"]).as_deref(), Some("9223372036854775808"));
    }

    #[test]
    fn every_i64_converts_exactly() {
        for integer in [0, 1, -1, i64::MAX, i64::MIN, 1 << 62] {
            let text = LongDouble::from_i64(integer).to_human_string().unwrap();
            assert_eq!(text, integer.to_string());
        }
    }
}
