//! Redis's listpack (`listpack.c`), the flat buffer inside the DUMP records of small hashes
//! and sorted sets, of list nodes and of stream nodes: written as Redis 7.0 appends to one,
//! read with every length checked.
//!
//! A listpack is a 6-byte header (total bytes as 4 bytes little-endian, then the element count
//! as 2 bytes little-endian, or 65535 when there are that many or more), the elements, and a
//! terminator byte `0xff`. An element is its encoding and data, then its "backlen": the size of
//! encoding and data as a variable-length number written so it reads from right to left. An
//! element that is the canonical decimal form of an `i64` (`lpStringToInt64`: fewer than 21
//! bytes, no `+`, no leading zero, no `-0`) is stored as an integer in the smallest of the
//! 7-, 13-, 16-, 24-, 32- and 64-bit forms; anything else as a string with a 6-, 12- or 32-bit
//! length.
//!
//! Invariants:
//! - [`Writer`] produces the bytes Redis's `lpAppend` produces for the same elements in the
//!   same order, so a DUMP of a value Redis keeps as a listpack is Redis's, byte for byte.
//! - [`read`] accepts exactly what Redis's deep integrity check (`lpValidateIntegrity` with
//!   `deep`) accepts: the header's size equals the buffer's, every element lies inside it and
//!   its backlen matches, the terminator ends it, and the count is right (or 65535). It never
//!   panics and never allocates more than the buffer's size suggests.

use crate::resp::parse_i64;

/// Bytes of the header: total bytes (4) and element count (2).
const HEADER_BYTES: usize = 6;
/// The count a header holds when there are at least that many elements.
const COUNT_UNKNOWN: u16 = u16::MAX;
const TERMINATOR: u8 = 0xff;

/// One element as read back: Redis hands integers out as integers, and their decimal form is
/// the string they stand for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Element<'a> {
    /// An element stored in an integer encoding.
    Integer(i64),
    /// An element stored as a string.
    String(&'a [u8]),
}

impl Element<'_> {
    /// The bytes the element stands for.
    pub fn to_vec(self) -> Vec<u8> {
        match self {
            Element::Integer(integer) => itoa::Buffer::new().format(integer).as_bytes().to_vec(),
            Element::String(bytes) => bytes.to_vec(),
        }
    }

    /// The element as an integer, if it is stored as one.
    pub fn integer(self) -> Option<i64> {
        match self {
            Element::Integer(integer) => Some(integer),
            Element::String(_) => None,
        }
    }
}

/// Builds a listpack by appending, as `lpAppend` does.
#[derive(Clone, Debug)]
pub struct Writer {
    bytes: Vec<u8>,
    count: usize,
}

impl Default for Writer {
    fn default() -> Writer {
        Writer::new()
    }
}

impl Writer {
    /// An empty listpack.
    pub fn new() -> Writer {
        let mut bytes = vec![0; HEADER_BYTES];
        bytes.push(TERMINATOR);
        Writer { bytes, count: 0 }
    }

    /// The listpack's size in bytes so far (Redis's `lpBytes`), terminator included.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether no element was appended.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Appends `element`, as an integer when it spells one canonically (`lpStringToInt64`
    /// is Redis's `string2ll`; see the module docs).
    pub fn push(&mut self, element: &[u8]) {
        match parse_i64(element) {
            Some(integer) => self.push_integer(integer),
            None => {
                let mut encoded = Vec::with_capacity(element.len() + 5);
                let length = element.len();
                if length < 64 {
                    encoded.push(0x80 | length as u8);
                } else if length < 4096 {
                    encoded.extend_from_slice(&[0xe0 | (length >> 8) as u8, length as u8]);
                } else {
                    encoded.push(0xf0);
                    let length = u32::try_from(length).expect("a Redis string is below 4 GiB");
                    encoded.extend_from_slice(&length.to_le_bytes());
                }
                encoded.extend_from_slice(element);
                self.push_encoded(&encoded);
            }
        }
    }

    /// Appends an integer in its smallest encoding (`lpEncodeIntegerGetType`).
    pub fn push_integer(&mut self, integer: i64) {
        let mut encoded = Vec::with_capacity(9);
        if (0..=127).contains(&integer) {
            encoded.push(integer as u8);
        } else if (-4096..=4095).contains(&integer) {
            let unsigned = (integer as u64) & 0x1fff;
            encoded.extend_from_slice(&[0xc0 | (unsigned >> 8) as u8, unsigned as u8]);
        } else if (-32768..=32767).contains(&integer) {
            encoded.push(0xf1);
            encoded.extend_from_slice(&(integer as i16).to_le_bytes());
        } else if (-8_388_608..=8_388_607).contains(&integer) {
            encoded.push(0xf2);
            encoded.extend_from_slice(&(integer as i32).to_le_bytes()[..3]);
        } else if (i64::from(i32::MIN)..=i64::from(i32::MAX)).contains(&integer) {
            encoded.push(0xf3);
            encoded.extend_from_slice(&(integer as i32).to_le_bytes());
        } else {
            encoded.push(0xf4);
            encoded.extend_from_slice(&integer.to_le_bytes());
        }
        self.push_encoded(&encoded);
    }

    fn push_encoded(&mut self, encoded: &[u8]) {
        self.bytes.pop();
        self.bytes.extend_from_slice(encoded);
        write_backlen(&mut self.bytes, encoded.len());
        self.bytes.push(TERMINATOR);
        self.count += 1;
    }

    /// The finished listpack.
    pub fn finish(mut self) -> Vec<u8> {
        let total = u32::try_from(self.bytes.len()).expect("a listpack is below 4 GiB");
        self.bytes[..4].copy_from_slice(&total.to_le_bytes());
        let count = u16::try_from(self.count).unwrap_or(COUNT_UNKNOWN);
        self.bytes[4..6].copy_from_slice(&count.to_le_bytes());
        self.bytes
    }
}

/// Appends the backlen of an element whose encoding and data take `length` bytes.
fn write_backlen(output: &mut Vec<u8>, length: usize) {
    let length = length as u64;
    let groups = match length {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    };
    // The most significant group comes first and is the only one without the high bit, so a
    // reader going right to left knows where the number ends.
    for group in (0..groups).rev() {
        let bits = ((length >> (7 * group)) & 127) as u8;
        output.push(if group == groups - 1 { bits } else { bits | 128 });
    }
}

/// The size in bytes a backlen of `length` takes.
fn backlen_bytes(length: usize) -> usize {
    let mut scratch = Vec::with_capacity(5);
    write_backlen(&mut scratch, length);
    scratch.len()
}

/// Every element of the listpack `bytes`, or `None` if it is damaged (see the module docs).
pub fn read(bytes: &[u8]) -> Option<Vec<Element<'_>>> {
    if bytes.len() < HEADER_BYTES + 1 || bytes[bytes.len() - 1] != TERMINATOR {
        return None;
    }
    let total = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes"));
    if usize::try_from(total).ok()? != bytes.len() {
        return None;
    }
    let count = u16::from_le_bytes([bytes[4], bytes[5]]);
    let body = &bytes[HEADER_BYTES..bytes.len() - 1];
    let mut elements = Vec::new();
    let mut at = 0;
    while at < body.len() {
        let (element, encoded_bytes) = element_at(&body[at..])?;
        let backlen_start = at + encoded_bytes;
        let backlen_length = backlen_bytes(encoded_bytes);
        let backlen = body.get(backlen_start..backlen_start + backlen_length)?;
        let mut expected = Vec::with_capacity(5);
        write_backlen(&mut expected, encoded_bytes);
        if backlen != expected {
            return None;
        }
        elements.push(element);
        at = backlen_start + backlen_length;
    }
    if count != COUNT_UNKNOWN && usize::from(count) != elements.len() {
        return None;
    }
    Some(elements)
}

/// The element at the start of `bytes` and the size of its encoding and data.
fn element_at(bytes: &[u8]) -> Option<(Element<'_>, usize)> {
    let first = *bytes.first()?;
    let take = |start: usize, length: usize| bytes.get(start..start.checked_add(length)?);
    let string = |start: usize, length: usize| {
        take(start, length).map(|data| (Element::String(data), start + length))
    };
    let little_endian = |length: usize| -> Option<u64> {
        let data = take(1, length)?;
        Some(data.iter().rev().fold(0u64, |value, &byte| (value << 8) | u64::from(byte)))
    };
    let signed = |value: u64, bits: u32| -> i64 {
        let shift = 64 - bits;
        ((value << shift) as i64) >> shift
    };
    Some(match first {
        0x00..=0x7f => (Element::Integer(i64::from(first)), 1),
        0x80..=0xbf => return string(1, usize::from(first & 0x3f)),
        0xc0..=0xdf => {
            let value = (u64::from(first & 0x1f) << 8) | u64::from(*bytes.get(1)?);
            (Element::Integer(signed(value, 13)), 2)
        }
        0xe0..=0xef => {
            let length = (usize::from(first & 0x0f) << 8) | usize::from(*bytes.get(1)?);
            return string(2, length);
        }
        0xf0 => {
            let length = usize::try_from(little_endian(4)?).ok()?;
            return string(5, length);
        }
        0xf1 => (Element::Integer(signed(little_endian(2)?, 16)), 3),
        0xf2 => (Element::Integer(signed(little_endian(3)?, 24)), 4),
        0xf3 => (Element::Integer(signed(little_endian(4)?, 32)), 5),
        0xf4 => (Element::Integer(little_endian(8)? as i64), 9),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listpack(elements: &[&[u8]]) -> Vec<u8> {
        let mut writer = Writer::new();
        for element in elements {
            writer.push(element);
        }
        writer.finish()
    }

    #[test]
    fn integers_take_the_smallest_encoding_and_read_back() {
        let cases: &[(i64, &[u8])] = &[
            (0, &[0x00]),
            (127, &[0x7f]),
            (128, &[0xc0, 0x80]),
            (-1, &[0xdf, 0xff]),
            (-4096, &[0xd0, 0x00]),
            (4096, &[0xf1, 0x00, 0x10]),
            (-32768, &[0xf1, 0x00, 0x80]),
            (8_388_607, &[0xf2, 0xff, 0xff, 0x7f]),
            (-8_388_609, &[0xf3, 0xff, 0xff, 0x7f, 0xff]),
            (1 << 40, &[0xf4, 0, 0, 0, 0, 0, 1, 0, 0]),
            (i64::MIN, &[0xf4, 0, 0, 0, 0, 0, 0, 0, 0x80]),
        ];
        for &(integer, encoded) in cases {
            let text = integer.to_string();
            let bytes = listpack(&[text.as_bytes()]);
            assert_eq!(&bytes[6..6 + encoded.len()], encoded, "{integer}");
            assert_eq!(read(&bytes), Some(vec![Element::Integer(integer)]), "{integer}");
        }
    }

    #[test]
    fn strings_that_are_not_canonical_integers_stay_strings() {
        for text in [&b"-0"[..], b"01", b"+1", b"1a", b"", b"9223372036854775808", b"-"] {
            assert_eq!(parse_i64(text), None, "{text:?}");
            assert_eq!(read(&listpack(&[text])), Some(vec![Element::String(text)]));
        }
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        let long = vec![b'a'; 5000];
        let middle = vec![b'b'; 100];
        let both = listpack(&[&long, &middle]);
        let elements = read(&both).unwrap();
        assert_eq!(elements, vec![Element::String(&long), Element::String(&middle)]);
    }

    #[test]
    fn a_small_listpack_is_redis_bytes() {
        // The listpack inside the DUMP of `HSET h a 1` in redis-server 7.0.15.
        assert_eq!(listpack(&[b"a", b"1"]), b"\x0c\x00\x00\x00\x02\x00\x81a\x02\x01\x01\xff");
    }

    #[test]
    fn a_damaged_listpack_is_refused_never_a_panic() {
        let good = listpack(&[b"a", b"12345", &[b'z'; 200]]);
        for cut in 0..good.len() {
            assert_eq!(read(&good[..cut]), None, "cut at {cut}");
        }
        for at in 0..good.len() {
            for bit in 0..8 {
                let mut flipped = good.clone();
                flipped[at] ^= 1 << bit;
                let _ = read(&flipped);
            }
        }
        let mut wrong_count = good.clone();
        wrong_count[4] = 2;
        assert_eq!(read(&wrong_count), None);
    }
}
