//! RDB lengths and strings, written as Redis 7.0's `rdbSaveLen` and `rdbSaveRawString` write
//! them (with `rdbcompression yes`, Redis's default) and read as `rdbGenericLoadStringObject`
//! reads them.
//!
//! A length is 6 bits (`00xxxxxx`), 14 bits (`01xxxxxx xxxxxxxx`), 32 bits (`0x80` then big-endian)
//! or 64 bits (`0x81` then big-endian). A string is its length then its bytes, except that a
//! string of at most 11 bytes that is the canonical decimal form of an integer fitting 32 bits
//! is written as `0xc0`, `0xc1` or `0xc2` and the integer's 1, 2 or 4 bytes (little-endian),
//! and a string of more than 20 bytes that LZF shrinks by more than 4 bytes is written as
//! `0xc3`, the compressed length, the original length and the compressed bytes.

use super::lzf;

const ENCODED_INT8: u8 = 0xc0;
const ENCODED_INT16: u8 = 0xc1;
const ENCODED_INT32: u8 = 0xc2;
const ENCODED_LZF: u8 = 0xc3;

/// Appends a length.
pub fn write_length(output: &mut Vec<u8>, length: u64) {
    if length < 1 << 6 {
        output.push(length as u8);
    } else if length < 1 << 14 {
        output.extend_from_slice(&[0x40 | (length >> 8) as u8, length as u8]);
    } else if length <= u64::from(u32::MAX) {
        output.push(0x80);
        output.extend_from_slice(&(length as u32).to_be_bytes());
    } else {
        output.push(0x81);
        output.extend_from_slice(&length.to_be_bytes());
    }
}

/// Appends a string in the smallest of Redis's encodings that applies.
pub fn write(output: &mut Vec<u8>, bytes: &[u8]) {
    if bytes.len() <= 11 {
        if let Some(integer) = canonical_integer(bytes) {
            if let Ok(small) = i8::try_from(integer) {
                output.push(ENCODED_INT8);
                output.extend_from_slice(&small.to_le_bytes());
                return;
            }
            if let Ok(small) = i16::try_from(integer) {
                output.push(ENCODED_INT16);
                output.extend_from_slice(&small.to_le_bytes());
                return;
            }
            if let Ok(small) = i32::try_from(integer) {
                output.push(ENCODED_INT32);
                output.extend_from_slice(&small.to_le_bytes());
                return;
            }
        }
    }
    if bytes.len() > 20 {
        if let Some(compressed) = lzf::compress(bytes, bytes.len() - 4) {
            output.push(ENCODED_LZF);
            write_length(output, compressed.len() as u64);
            write_length(output, bytes.len() as u64);
            output.extend_from_slice(&compressed);
            return;
        }
    }
    write_length(output, bytes.len() as u64);
    output.extend_from_slice(bytes);
}

/// The integer whose decimal form `bytes` is exactly (no sign on zero, no leading zero, no
/// plus), as Redis's `string2ll` and `ll2string` round trip decides.
fn canonical_integer(bytes: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(bytes).ok()?;
    let integer: i64 = text.parse().ok()?;
    (integer.to_string() == text).then_some(integer)
}

/// Reads lengths and strings from a record, bounds-checked.
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes }
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The next byte.
    pub fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        Some(first)
    }

    /// How many bytes are left to read.
    pub fn remaining(&self) -> usize {
        self.bytes.len()
    }

    /// The next `count` bytes as they are (raw stream ids, binary doubles, times).
    pub fn raw(&mut self, count: usize) -> Option<&'a [u8]> {
        self.take(count)
    }

    fn take(&mut self, count: usize) -> Option<&'a [u8]> {
        if count > self.bytes.len() {
            return None;
        }
        let (taken, rest) = self.bytes.split_at(count);
        self.bytes = rest;
        Some(taken)
    }

    /// A length, or `None` if it is damaged or is a string's special encoding.
    pub fn length(&mut self) -> Option<u64> {
        match self.length_or_encoding()? {
            Length::Plain(length) => Some(length),
            Length::Encoded(_) => None,
        }
    }

    fn length_or_encoding(&mut self) -> Option<Length> {
        let first = self.byte()?;
        Some(match first >> 6 {
            0 => Length::Plain(u64::from(first & 0x3f)),
            1 => Length::Plain((u64::from(first & 0x3f) << 8) | u64::from(self.byte()?)),
            3 => Length::Encoded(first),
            _ => match first {
                0x80 => {
                    Length::Plain(u64::from(u32::from_be_bytes(self.take(4)?.try_into().ok()?)))
                }
                0x81 => Length::Plain(u64::from_be_bytes(self.take(8)?.try_into().ok()?)),
                _ => return None,
            },
        })
    }

    /// A string in any of its encodings, decoded.
    pub fn string(&mut self) -> Option<Vec<u8>> {
        match self.length_or_encoding()? {
            Length::Plain(length) => Some(self.take(usize::try_from(length).ok()?)?.to_vec()),
            Length::Encoded(ENCODED_INT8) => {
                Some(i8::from_le_bytes(self.take(1)?.try_into().ok()?).to_string().into_bytes())
            }
            Length::Encoded(ENCODED_INT16) => {
                Some(i16::from_le_bytes(self.take(2)?.try_into().ok()?).to_string().into_bytes())
            }
            Length::Encoded(ENCODED_INT32) => {
                Some(i32::from_le_bytes(self.take(4)?.try_into().ok()?).to_string().into_bytes())
            }
            Length::Encoded(ENCODED_LZF) => {
                let compressed = usize::try_from(self.length()?).ok()?;
                let length = usize::try_from(self.length()?).ok()?;
                lzf::decompress(self.take(compressed)?, length)
            }
            Length::Encoded(_) => None,
        }
    }
}

enum Length {
    Plain(u64),
    Encoded(u8),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(bytes: &[u8]) -> Vec<u8> {
        let mut output = Vec::new();
        write(&mut output, bytes);
        output
    }

    #[test]
    fn strings_take_redis_encodings() {
        assert_eq!(written(b"12"), vec![0xc0, 12]);
        assert_eq!(written(b"-129"), vec![0xc1, 0x7f, 0xff]);
        assert_eq!(written(b"100000"), vec![0xc2, 0xa0, 0x86, 0x01, 0x00]);
        assert_eq!(written(b"012"), vec![3, b'0', b'1', b'2'], "not canonical");
        assert_eq!(written(b"4294967296"), [&[10][..], b"4294967296"].concat(), "over 32 bits");
        assert_eq!(written(b"abc"), vec![3, b'a', b'b', b'c']);
        let long = vec![b'x'; 100];
        assert_eq!(written(&long)[0], 0xc3, "a compressible long string is compressed");
        for bytes in [&b"12"[..], b"-129", b"100000", b"abc", &long, b""] {
            assert_eq!(Reader::new(&written(bytes)).string().as_deref(), Some(bytes));
        }
    }

    #[test]
    fn lengths_take_six_fourteen_thirty_two_or_sixty_four_bits() {
        for (length, bytes) in [
            (63u64, vec![63u8]),
            (64, vec![0x40, 64]),
            (16383, vec![0x7f, 0xff]),
            (16384, vec![0x80, 0, 0, 0x40, 0]),
            (1 << 32, vec![0x81, 0, 0, 0, 1, 0, 0, 0, 0]),
        ] {
            let mut output = Vec::new();
            write_length(&mut output, length);
            assert_eq!(output, bytes);
            assert_eq!(Reader::new(&bytes).length(), Some(length));
        }
        assert_eq!(Reader::new(&[0x40]).length(), None, "a 14-bit length cut short");
        assert_eq!(Reader::new(&[5, b'a']).string(), None, "a string cut short");
    }
}
