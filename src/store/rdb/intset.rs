//! Redis's intset (`intset.c`), the buffer inside the DUMP record of a set of integers
//! (`RDB_TYPE_SET_INTSET`): the width of every integer in bytes (2, 4 or 8) as 4 bytes
//! little-endian, the number of integers as 4 bytes little-endian, then the integers in
//! ascending order, each in that width, little-endian.
//!
//! Invariants:
//! - [`write()`] picks the smallest width that holds every integer, as Redis's `intsetAdd`
//!   upgrades it, so the bytes are Redis's for the same set.
//! - [`read()`] accepts what Redis's deep check (`intsetValidateIntegrity`) accepts: a known
//!   width, a size that is exactly header plus integers, and strictly ascending integers.

/// Bytes of the header: width and count.
const HEADER_BYTES: usize = 8;

/// The intset of `integers`, which must be strictly ascending.
pub fn write(integers: impl IntoIterator<Item = i64> + Clone) -> Vec<u8> {
    let width: usize = integers
        .clone()
        .into_iter()
        .map(|integer| {
            if i16::try_from(integer).is_ok() {
                2
            } else if i32::try_from(integer).is_ok() {
                4
            } else {
                8
            }
        })
        .max()
        .unwrap_or(2);
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&(width as u32).to_le_bytes());
    bytes.extend_from_slice(&[0; 4]);
    let mut count: u32 = 0;
    for integer in integers {
        bytes.extend_from_slice(&integer.to_le_bytes()[..width]);
        count += 1;
    }
    bytes[4..8].copy_from_slice(&count.to_le_bytes());
    bytes
}

/// The integers of the intset `bytes`, or `None` if it is damaged.
pub fn read(bytes: &[u8]) -> Option<Vec<i64>> {
    let header = bytes.get(..HEADER_BYTES)?;
    let width = u32::from_le_bytes(header[..4].try_into().expect("4 bytes"));
    let count = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
    let width = match width {
        2 | 4 | 8 => width as usize,
        _ => return None,
    };
    let body = &bytes[HEADER_BYTES..];
    if (count as usize).checked_mul(width)? != body.len() {
        return None;
    }
    let integers: Vec<i64> = body
        .chunks_exact(width)
        .map(|chunk| {
            let mut wide = [0u8; 8];
            wide[..width].copy_from_slice(chunk);
            let shift = 64 - 8 * width as u32;
            (i64::from_le_bytes(wide) << shift) >> shift
        })
        .collect();
    integers.windows(2).all(|pair| pair[0] < pair[1]).then_some(integers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_width_is_the_smallest_that_holds_every_integer() {
        // `SADD s 1 2 3` in redis-server 7.0.15.
        assert_eq!(write([1, 2, 3]), b"\x02\x00\x00\x00\x03\x00\x00\x00\x01\x00\x02\x00\x03\x00");
        for integers in [vec![-1, 70000], vec![i64::MIN, 0, i64::MAX], vec![-32768, 32767]] {
            assert_eq!(read(&write(integers.clone())), Some(integers));
        }
        assert_eq!(write([70000])[0], 4);
        assert_eq!(write([1 << 40])[0], 8);
    }

    #[test]
    fn a_damaged_intset_is_refused() {
        let good = write([1, 2, 300_000]);
        for cut in 0..good.len() {
            assert_eq!(read(&good[..cut]), None);
        }
        assert_eq!(read(&write([2, 1])), None, "descending");
        assert_eq!(read(&write([1, 1])), None, "repeated");
        let mut odd_width = good.clone();
        odd_width[0] = 3;
        assert_eq!(read(&odd_width), None);
    }
}
