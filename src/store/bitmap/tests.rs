//! The bit functions against a naive model: a vector of booleans.

use proptest::prelude::*;

use super::*;

fn bits_of(bytes: &[u8]) -> Vec<bool> {
    (0..bytes.len() as u64 * 8).map(|offset| bit(bytes, offset)).collect()
}

/// A naive BITFIELD increment: exact arithmetic in i128, then the overflow rule.
fn model_add(
    signed: bool,
    bits: u32,
    value: i128,
    increment: i128,
    overflow: Overflow,
) -> Option<i128> {
    let (min, max) = if signed {
        (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
    } else {
        (0, (1i128 << bits) - 1)
    };
    let sum = value + increment;
    if (min..=max).contains(&sum) {
        return Some(sum);
    }
    match overflow {
        Overflow::Fail => None,
        Overflow::Saturate => Some(if sum > max { max } else { min }),
        Overflow::Wrap => {
            let modulus = 1i128 << bits;
            let wrapped = sum.rem_euclid(modulus);
            Some(if signed && wrapped > max { wrapped - modulus } else { wrapped })
        }
    }
}

fn overflows() -> impl Strategy<Value = Overflow> {
    prop_oneof![Just(Overflow::Wrap), Just(Overflow::Saturate), Just(Overflow::Fail)]
}

#[test]
fn bit_offsets_are_limited_by_the_string_size_limit() {
    assert_eq!(crate::command::bitmaps::BIT_OFFSET_BYTES_MAX, crate::store::STRING_BYTES_MAX);
}

proptest! {
    #[test]
    fn fields_read_back_what_was_written(
        bytes in proptest::collection::vec(any::<u8>(), 16..24),
        offset in 0u64..64,
        bits in 1u32..=64,
        value: u64,
    ) {
        let mut bytes = bytes;
        let before = bits_of(&bytes);
        set_field(&mut bytes, offset, bits, value);
        let mask = if bits == 64 { u64::MAX } else { (1 << bits) - 1 };
        prop_assert_eq!(unsigned_field(&bytes, offset, bits), value & mask);
        let after = bits_of(&bytes);
        for (index, (old, new)) in before.iter().zip(&after).enumerate() {
            let inside = (offset..offset + u64::from(bits)).contains(&(index as u64));
            prop_assert!(inside || old == new, "bit {} outside the field changed", index);
        }
        let signed = signed_field(&bytes, offset, bits);
        let expected = ((value & mask) as i128) - if bits < 64 && value & (1 << (bits - 1)) != 0 {
            1i128 << bits
        } else if bits == 64 && value >> 63 == 1 {
            1i128 << 64
        } else {
            0
        };
        prop_assert_eq!(i128::from(signed), expected);
    }

    #[test]
    fn unsigned_increments_follow_the_model(
        bits in 1u32..=63, value: u64, increment: i64, overflow in overflows(),
    ) {
        let value = value & ((1 << bits) - 1);
        let expected = model_add(false, bits, value.into(), increment.into(), overflow);
        let actual = unsigned_add(value, increment, bits, overflow).map(i128::from);
        prop_assert_eq!(actual, expected);
    }

    #[test]
    fn signed_increments_follow_the_model(
        bits in 1u32..=64, value: i64, increment: i64, overflow in overflows(),
    ) {
        let value = if bits == 64 { value } else { value.rem_euclid(1 << bits) - (1 << (bits - 1)) };
        let expected = model_add(true, bits, value.into(), increment.into(), overflow);
        let actual = signed_add(value, increment, bits, overflow).map(i128::from);
        prop_assert_eq!(actual, expected);
    }

    #[test]
    fn counts_and_positions_follow_the_model(
        bytes in proptest::collection::vec(any::<u8>(), 1..40),
        start: u16, length: u16, value: bool,
    ) {
        let bits = bits_of(&bytes);
        let start = u64::from(start) % bits.len() as u64;
        let end = (start + u64::from(length)).min(bits.len() as u64 - 1);
        let range = &bits[start as usize..=end as usize];
        prop_assert_eq!(count_bits(&bytes, start, end), range.iter().filter(|bit| **bit).count() as u64);
        let expected = range.iter().position(|bit| *bit == value).map(|index| start + index as u64);
        prop_assert_eq!(position(&bytes, value, start, end), expected);
        prop_assert_eq!(popcount(&bytes), bits.iter().filter(|bit| **bit).count() as u64);
    }

    #[test]
    fn combining_follows_the_model(
        sources in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..12), 1..4),
    ) {
        let slices: Vec<&[u8]> = sources.iter().map(|source| &source[..]).collect();
        let length = sources.iter().map(Vec::len).max().unwrap();
        for operation in [BitOperation::And, BitOperation::Or, BitOperation::Xor, BitOperation::Not] {
            let result = combine(operation, &slices);
            prop_assert_eq!(result.len(), length);
            for offset in 0..length as u64 * 8 {
                let inputs: Vec<bool> = slices.iter().map(|source| bit(source, offset)).collect();
                let expected = match operation {
                    BitOperation::And => inputs.iter().all(|bit| *bit),
                    BitOperation::Or => inputs.iter().any(|bit| *bit),
                    BitOperation::Xor => inputs.iter().filter(|bit| **bit).count() % 2 == 1,
                    BitOperation::Not => !inputs[0],
                };
                prop_assert_eq!(bit(&result, offset), expected);
            }
        }
    }
}
