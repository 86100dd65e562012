//! Bit-level operations on string bytes, as Redis's `bitops.c` defines them.
//!
//! A bitmap is not a type of its own: it is a string, read as bits with the most significant
//! bit of byte 0 as bit 0. These are pure functions over byte slices; the state machine
//! decides which value they run on, how it grows, and the replies.
//!
//! Invariants: every function here is total over its inputs (offsets past the end read as
//! zero bits) and never allocates more than its result.

pub use crate::command::bitmaps::{BitOperation, Overflow};

/// The bit at `offset`; bits past the end are 0.
pub fn bit(bytes: &[u8], offset: u64) -> bool {
    let byte = offset >> 3;
    match usize::try_from(byte).ok().and_then(|byte| bytes.get(byte)) {
        Some(value) => value & (0x80 >> (offset & 7)) != 0,
        None => false,
    }
}

/// Sets the bit at `offset` to `on`; `bytes` must be long enough to hold it.
pub fn set_bit(bytes: &mut [u8], offset: u64, on: bool) {
    let byte = usize::try_from(offset >> 3).expect("the caller grew the string to the offset");
    let mask = 0x80 >> (offset & 7);
    if on {
        bytes[byte] |= mask;
    } else {
        bytes[byte] &= !mask;
    }
}

/// The number of set bits in `bytes`.
pub fn popcount(bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(8);
    let mut count: u64 = 0;
    for chunk in &mut chunks {
        let word = u64::from_ne_bytes(chunk.try_into().expect("chunks of 8"));
        count += u64::from(word.count_ones());
    }
    count + chunks.remainder().iter().map(|byte| u64::from(byte.count_ones())).sum::<u64>()
}

/// The number of set bits from bit `start` to bit `end`, both inclusive and inside `bytes`.
pub fn count_bits(bytes: &[u8], start: u64, end: u64) -> u64 {
    let (first, last) = ((start >> 3) as usize, (end >> 3) as usize);
    let mut count = popcount(&bytes[first..=last]);
    // Take out the bits of the edge bytes that lie outside the range.
    let before = bytes[first] & !(0xffu8 >> (start & 7));
    let after = bytes[last] & (0x7fu8 >> (end & 7));
    count -= u64::from(before.count_ones()) + u64::from(after.count_ones());
    count
}

/// The first bit equal to `value` from bit `start` to bit `end` (both inclusive and inside
/// `bytes`), or `None`.
pub fn position(bytes: &[u8], value: bool, start: u64, end: u64) -> Option<u64> {
    let (first, last) = ((start >> 3) as usize, (end >> 3) as usize);
    for (index, &stored) in bytes.iter().enumerate().take(last + 1).skip(first) {
        // Look for a 1 in the byte (inverted when looking for a 0), masking the range's edges.
        let mut byte = if value { stored } else { !stored };
        if index == first {
            byte &= 0xffu8 >> (start & 7);
        }
        if index == last {
            byte &= !(0x7fu8 >> (end & 7));
        }
        if byte != 0 {
            return Some(index as u64 * 8 + u64::from(byte.leading_zeros()));
        }
    }
    None
}

/// The `bits`-wide unsigned field at bit `offset` (bits past the end of `bytes` are 0);
/// `bits` is 1 to 64.
pub fn unsigned_field(bytes: &[u8], offset: u64, bits: u32) -> u64 {
    let mut value: u64 = 0;
    for index in 0..u64::from(bits) {
        value = (value << 1) | u64::from(bit(bytes, offset + index));
    }
    value
}

/// The `bits`-wide two's complement field at bit `offset`.
pub fn signed_field(bytes: &[u8], offset: u64, bits: u32) -> i64 {
    let value = unsigned_field(bytes, offset, bits);
    if bits < 64 && value & (1 << (bits - 1)) != 0 {
        (value | (u64::MAX << bits)) as i64
    } else {
        value as i64
    }
}

/// Writes the low `bits` bits of `value` at bit `offset`; `bytes` must hold them.
pub fn set_field(bytes: &mut [u8], offset: u64, bits: u32, value: u64) {
    for index in 0..u64::from(bits) {
        let on = value & (1 << (u64::from(bits) - 1 - index)) != 0;
        set_bit(bytes, offset + index, on);
    }
}

/// `value + increment` for an unsigned `bits`-wide field (1 to 63): the result, or `None` if
/// it overflows under [`Overflow::Fail`]. Redis's `checkUnsignedBitfieldOverflow`.
pub fn unsigned_add(value: u64, increment: i64, bits: u32, overflow: Overflow) -> Option<u64> {
    let max = (1u64 << bits) - 1;
    let max_increment = max.wrapping_sub(value) as i64;
    let min_increment = (value as i64).wrapping_neg();
    let wrapped = value.wrapping_add(increment as u64) & max;
    if value > max || (increment > 0 && increment > max_increment) {
        match overflow {
            Overflow::Wrap => Some(wrapped),
            Overflow::Saturate => Some(max),
            Overflow::Fail => None,
        }
    } else if increment < 0 && increment < min_increment {
        match overflow {
            Overflow::Wrap => Some(wrapped),
            Overflow::Saturate => Some(0),
            Overflow::Fail => None,
        }
    } else {
        Some(value.wrapping_add(increment as u64))
    }
}

/// `value + increment` for a signed `bits`-wide field (1 to 64): the result, or `None` if it
/// overflows under [`Overflow::Fail`]. Redis's `checkSignedBitfieldOverflow`.
pub fn signed_add(value: i64, increment: i64, bits: u32, overflow: Overflow) -> Option<i64> {
    let max: i64 = if bits == 64 { i64::MAX } else { (1i64 << (bits - 1)) - 1 };
    let min = -max - 1;
    // These may wrap; they are only used once `value` is known to be in range.
    let max_increment = (max as u64).wrapping_sub(value as u64) as i64;
    let min_increment = min.wrapping_sub(value);
    let wrapped = {
        let sum = (value as u64).wrapping_add(increment as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if sum & (1 << (bits - 1)) != 0 {
                (sum | mask) as i64
            } else {
                (sum & !mask) as i64
            }
        } else {
            sum as i64
        }
    };
    let too_big = value > max
        || (bits != 64 && increment > max_increment)
        || (value >= 0 && increment > 0 && increment > max_increment);
    let too_small = value < min
        || (bits != 64 && increment < min_increment)
        || (value < 0 && increment < 0 && increment < min_increment);
    if too_big || too_small {
        match overflow {
            Overflow::Wrap => Some(wrapped),
            Overflow::Saturate => Some(if too_big { max } else { min }),
            Overflow::Fail => None,
        }
    } else {
        Some(value.wrapping_add(increment))
    }
}

/// BITOP over `sources`, each padded with zero bytes to the longest: the result, as long as
/// the longest source.
pub fn combine(operation: BitOperation, sources: &[&[u8]]) -> Vec<u8> {
    let length = sources.iter().map(|source| source.len()).max().unwrap_or(0);
    let byte = |source: &[u8], index: usize| source.get(index).copied().unwrap_or(0);
    let mut result = Vec::with_capacity(length);
    for index in 0..length {
        let first = byte(sources[0], index);
        let rest = sources[1..].iter().map(|source| byte(source, index));
        let output = match operation {
            BitOperation::And => rest.fold(first, |output, byte| output & byte),
            BitOperation::Or => rest.fold(first, |output, byte| output | byte),
            BitOperation::Xor => rest.fold(first, |output, byte| output ^ byte),
            BitOperation::Not => !first,
        };
        result.push(output);
    }
    result
}

#[cfg(test)]
mod tests;
