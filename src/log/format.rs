//! The on-disk encoding: segment headers, record frames, the small atomically replaced files
//! (vote, purged), and file names. `docs/format.md` describes every byte; this file is its
//! executable form. Everything is little-endian; every checksum is CRC-32C (Castagnoli).
//!
//! Pure functions only: no IO, so that the fuzz target and the tests can drive them directly.

use std::ops::Range;

use super::{Index, Term};

/// The first eight bytes of every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"CNCDLOG\0";
/// The first eight bytes of the vote file.
pub const VOTE_MAGIC: [u8; 8] = *b"CNCDVOTE";
/// The first eight bytes of the purged-marker file.
pub const PURGED_MAGIC: [u8; 8] = *b"CNCDPURG";
/// The one format version this code reads and writes, in every file header.
pub const FORMAT_VERSION: u32 = 1;

/// A segment header's length: magic, version, reserved, first index, reserved, checksum.
pub const SEGMENT_HEADER_BYTES: u64 = 32;
/// The frame before a record's payload: checksum, payload length, index, term.
pub const RECORD_HEADER_BYTES: u64 = 24;
/// A small file's bytes besides its payload: magic, version, length, checksum.
pub const SMALL_FILE_OVERHEAD_BYTES: usize = 20;

/// The name of the file holding the durable vote (term and candidate voted for).
pub const VOTE_FILE: &str = "vote";
/// The name of the file marking how far the log has been purged.
pub const PURGED_FILE: &str = "purged";
/// The suffix of a file being written before it is renamed into place; leftovers are deleted
/// on open.
pub const TEMPORARY_SUFFIX: &str = ".tmp";
const SEGMENT_SUFFIX: &str = ".segment";
const SEGMENT_NAME_DIGITS: usize = 20;

/// The name of the segment whose first record is `first_index`. Zero-padded, so that name
/// order is index order.
pub fn segment_name(first_index: Index) -> String {
    format!("{first_index:020}{SEGMENT_SUFFIX}")
}

/// The first index a segment file name declares, or `None` if it is not a segment's name.
pub fn parse_segment_name(name: &str) -> Option<Index> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != SEGMENT_NAME_DIGITS || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Why a segment header was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Fewer bytes than a whole header.
    TooShort,
    /// The first eight bytes are not `SEGMENT_MAGIC`: not a segment file.
    BadMagic,
    /// A format version other than `FORMAT_VERSION`; the value is the version found.
    UnsupportedVersion(u32),
    /// The header's checksum does not match its bytes.
    BadChecksum,
}

/// The header of a new segment whose first record will be `first_index`.
pub fn encode_segment_header(first_index: Index) -> [u8; SEGMENT_HEADER_BYTES as usize] {
    let mut header = [0u8; SEGMENT_HEADER_BYTES as usize];
    header[0..8].copy_from_slice(&SEGMENT_MAGIC);
    header[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    // Bytes 12..16 are reserved and zero in version 1.
    header[16..24].copy_from_slice(&first_index.to_le_bytes());
    // Bytes 24..28 are reserved and zero too; the checksum covers every byte before it.
    let checksum = crc32c::crc32c(&header[0..28]);
    header[28..32].copy_from_slice(&checksum.to_le_bytes());
    header
}

/// The first index a segment header declares. The version is checked before the checksum:
/// a later version may lay its header out differently, and should be named as such.
pub fn decode_segment_header(bytes: &[u8]) -> Result<Index, HeaderError> {
    if bytes.len() < SEGMENT_HEADER_BYTES as usize {
        return Err(HeaderError::TooShort);
    }
    if bytes[0..8] != SEGMENT_MAGIC {
        return Err(HeaderError::BadMagic);
    }
    let version = read_u32(bytes, 8);
    if version != FORMAT_VERSION {
        return Err(HeaderError::UnsupportedVersion(version));
    }
    if read_u32(bytes, 28) != crc32c::crc32c(&bytes[0..28]) {
        return Err(HeaderError::BadChecksum);
    }
    Ok(read_u64(bytes, 16))
}

/// Appends one framed record to `buffer`.
pub fn encode_record(buffer: &mut Vec<u8>, index: Index, term: Term, payload: &[u8]) {
    let start = buffer.len();
    let payload_bytes = u32::try_from(payload.len()).expect("record_bytes_max fits in u32");
    buffer.extend_from_slice(&[0; 4]);
    buffer.extend_from_slice(&payload_bytes.to_le_bytes());
    buffer.extend_from_slice(&index.to_le_bytes());
    buffer.extend_from_slice(&term.to_le_bytes());
    buffer.extend_from_slice(payload);
    let checksum = crc32c::crc32c(&buffer[start + 4..]);
    buffer[start..start + 4].copy_from_slice(&checksum.to_le_bytes());
}

/// The bytes a record with `payload_bytes` of payload occupies in a segment.
pub fn record_bytes(payload_bytes: usize) -> u64 {
    RECORD_HEADER_BYTES + payload_bytes as u64
}

/// What lies at one offset of a segment's bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A whole record whose checksum matches; `payload` is its range in the input.
    Record {
        /// The record's index, from its frame.
        index: Index,
        /// The record's term, from its frame.
        term: Term,
        /// Where the payload lies in the bytes decoded.
        payload: Range<usize>,
        /// The offset just past the record: where the next frame starts.
        end: usize,
    },
    /// The bytes end before the frame does (a short header or a short payload).
    Incomplete,
    /// The frame is whole but its checksum does not match.
    BadChecksum,
}

/// Decodes the frame at `offset` of `bytes`.
pub fn decode_record(bytes: &[u8], offset: usize) -> Frame {
    let header_end = offset.saturating_add(RECORD_HEADER_BYTES as usize);
    if header_end > bytes.len() {
        return Frame::Incomplete;
    }
    let payload_bytes = read_u32(bytes, offset + 4) as usize;
    let end = header_end.saturating_add(payload_bytes);
    if end > bytes.len() {
        return Frame::Incomplete;
    }
    if read_u32(bytes, offset) != crc32c::crc32c(&bytes[offset + 4..end]) {
        return Frame::BadChecksum;
    }
    Frame::Record {
        index: read_u64(bytes, offset + 8),
        term: read_u64(bytes, offset + 16),
        payload: header_end..end,
        end,
    }
}

/// Why a small file (vote, purged marker) was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SmallFileError {
    /// Fewer bytes than the fixed overhead.
    TooShort,
    /// The first eight bytes are not the magic the caller expected for this file.
    BadMagic,
    /// A format version other than `FORMAT_VERSION`; the value is the version found.
    UnsupportedVersion(u32),
    /// The length field does not match the file's size.
    BadLength,
    /// The checksum does not match the payload.
    BadChecksum,
}

/// The whole contents of a small file holding `payload`.
pub fn encode_small_file(magic: [u8; 8], payload: &[u8]) -> Vec<u8> {
    let length = u32::try_from(payload.len()).expect("small files hold small payloads");
    let mut bytes = Vec::with_capacity(payload.len() + SMALL_FILE_OVERHEAD_BYTES);
    bytes.extend_from_slice(&magic);
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&length.to_le_bytes());
    bytes.extend_from_slice(payload);
    let checksum = crc32c::crc32c(&bytes);
    bytes.extend_from_slice(&checksum.to_le_bytes());
    bytes
}

/// The payload of a small file. The file is replaced atomically, so any damage is corruption.
pub fn decode_small_file(magic: [u8; 8], bytes: &[u8]) -> Result<&[u8], SmallFileError> {
    if bytes.len() < SMALL_FILE_OVERHEAD_BYTES {
        return Err(SmallFileError::TooShort);
    }
    if bytes[0..8] != magic {
        return Err(SmallFileError::BadMagic);
    }
    let version = read_u32(bytes, 8);
    if version != FORMAT_VERSION {
        return Err(SmallFileError::UnsupportedVersion(version));
    }
    let length = read_u32(bytes, 12) as usize;
    if length != bytes.len() - SMALL_FILE_OVERHEAD_BYTES {
        return Err(SmallFileError::BadLength);
    }
    let checksummed = bytes.len() - 4;
    if read_u32(bytes, checksummed) != crc32c::crc32c(&bytes[..checksummed]) {
        return Err(SmallFileError::BadChecksum);
    }
    Ok(&bytes[16..checksummed])
}

/// The purged marker's payload: the index and term of the last purged record.
pub fn encode_purged(index: Index, term: Term) -> [u8; 16] {
    let mut payload = [0u8; 16];
    payload[0..8].copy_from_slice(&index.to_le_bytes());
    payload[8..16].copy_from_slice(&term.to_le_bytes());
    payload
}

/// Reads a purged marker's payload back; `None` if it is not 16 bytes.
pub fn decode_purged(payload: &[u8]) -> Option<(Index, Term)> {
    (payload.len() == 16).then(|| (read_u64(payload, 0), read_u64(payload, 8)))
}

/// The index field of the frame at `offset`, unchecked: a cheap filter before a checksum.
/// The caller guarantees that a whole frame header fits.
pub fn peek_index(bytes: &[u8], offset: usize) -> Index {
    read_u64(bytes, offset + 8)
}

fn read_u32(bytes: &[u8], offset: usize) -> u32 {
    u32::from_le_bytes(bytes[offset..offset + 4].try_into().expect("four bytes"))
}

fn read_u64(bytes: &[u8], offset: usize) -> u64 {
    u64::from_le_bytes(bytes[offset..offset + 8].try_into().expect("eight bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_is_crc32c_as_docs_format_md_says() {
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn a_record_round_trips_and_any_flipped_bit_is_detected() {
        let mut bytes = Vec::new();
        encode_record(&mut bytes, 7, 3, b"payload");
        assert_eq!(
            decode_record(&bytes, 0),
            Frame::Record { index: 7, term: 3, payload: 24..31, end: 31 }
        );
        for bit in 0..bytes.len() * 8 {
            let mut damaged = bytes.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            let frame = decode_record(&damaged, 0);
            assert!(
                matches!(frame, Frame::BadChecksum | Frame::Incomplete),
                "bit {bit} flipped decoded as {frame:?}"
            );
        }
    }

    #[test]
    fn segment_names_sort_in_index_order_and_parse_back() {
        assert_eq!(segment_name(42), "00000000000000000042.segment");
        assert_eq!(parse_segment_name(&segment_name(u64::MAX)), Some(u64::MAX));
        assert!(segment_name(9) < segment_name(10));
        assert_eq!(parse_segment_name("42.segment"), None);
        assert_eq!(parse_segment_name("0000000000000000004x.segment"), None);
    }

    #[test]
    fn a_header_of_another_version_is_named_as_such() {
        let mut header = encode_segment_header(5);
        assert_eq!(decode_segment_header(&header), Ok(5));
        header[8] = 9;
        assert_eq!(decode_segment_header(&header), Err(HeaderError::UnsupportedVersion(9)));
    }

    #[test]
    fn a_small_file_round_trips_and_refuses_damage() {
        let bytes = encode_small_file(VOTE_MAGIC, b"vote");
        assert_eq!(decode_small_file(VOTE_MAGIC, &bytes), Ok(&b"vote"[..]));
        assert_eq!(decode_small_file(PURGED_MAGIC, &bytes), Err(SmallFileError::BadMagic));
        for position in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[position] ^= 0x10;
            assert!(decode_small_file(VOTE_MAGIC, &damaged).is_err(), "byte {position}");
        }
    }
}
