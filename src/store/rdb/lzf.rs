//! LZF, the compression Redis applies to RDB strings longer than 20 bytes (`lzf_c.c` and
//! `lzf_d.c` as Redis 7.0 builds them: a 2^16-slot hash table, the "very fast" hashing and
//! re-hashing after a match). A payload is only byte for byte Redis's if its strings are
//! compressed the same way, so [`compress`] makes the same choices Redis's compressor makes,
//! match for match.
//!
//! The format: a control byte `000LLLLL` is followed by `L + 1` literal bytes; `LLLooooo
//! oooooooo` is a back reference of `L + 2` bytes (L from 1 to 6) at distance `o + 1`; `111ooooo
//! LLLLLLLL oooooooo` the same with `L + 9` bytes.
//!
//! Invariant: `decompress(&compress(input, n)?, input.len()) == input`.
//!
//! Caveat: Redis leaves its hash table uninitialised and checks every candidate before using
//! it; this table starts empty. The two give different output only if stack garbage happens
//! to point into the input at three equal bytes, which Redis's own tests never see.

/// Literal runs are at most this long.
const LITERALS_MAX: usize = 1 << 5;
/// Back references reach at most this far back.
const DISTANCE_MAX: usize = 1 << 13;
/// Back references are at most this long, less 2.
const REFERENCE_MAX: usize = (1 << 8) + (1 << 3);
/// The hash table's size is `1 << HASH_BITS`.
const HASH_BITS: u32 = 16;

fn first(input: &[u8], at: usize) -> u32 {
    (u32::from(input[at]) << 8) | u32::from(input[at + 1])
}

fn next(hash: u32, input: &[u8], at: usize) -> u32 {
    (hash << 8) | u32::from(input[at + 2])
}

fn slot(hash: u32) -> usize {
    ((hash >> (3 * 8 - HASH_BITS)).wrapping_sub(hash.wrapping_mul(5)) & ((1 << HASH_BITS) - 1))
        as usize
}

/// The compressed bytes being written: literal runs, each behind a control byte reserved
/// when the run starts and filled in when it ends.
struct Output {
    bytes: Vec<u8>,
    /// How many bytes are written, the current run's control byte included.
    written: usize,
    /// How many literals the current run holds.
    literals: usize,
    /// The most bytes the output may take.
    limit: usize,
}

impl Output {
    fn new(limit: usize) -> Output {
        // Room for the few bytes the end may write past `limit` before its check fails.
        Output { bytes: vec![0u8; limit + 4], written: 1, literals: 0, limit }
    }

    /// Appends a literal, ending the run when it is full.
    fn literal(&mut self, byte: u8) {
        self.bytes[self.written] = byte;
        self.written += 1;
        self.literals += 1;
        if self.literals == LITERALS_MAX {
            self.bytes[self.written - self.literals - 1] = (self.literals - 1) as u8;
            self.literals = 0;
            self.written += 1;
        }
    }

    /// Ends the current run: fills in its control byte, or takes back its reserved byte if it
    /// holds no literal.
    fn end_run(&mut self) {
        self.bytes[self.written - self.literals - 1] = (self.literals as u8).wrapping_sub(1);
        self.written -= usize::from(self.literals == 0);
    }

    /// Appends a back reference of `length + 2` bytes at `distance + 1` bytes back, then
    /// reserves the next run's control byte.
    fn reference(&mut self, distance: usize, length: usize) {
        if length < 7 {
            self.bytes[self.written] = ((distance >> 8) + (length << 5)) as u8;
            self.written += 1;
        } else {
            self.bytes[self.written] = ((distance >> 8) + (7 << 5)) as u8;
            self.bytes[self.written + 1] = (length - 7) as u8;
            self.written += 2;
        }
        self.bytes[self.written] = distance as u8;
        self.written += 2;
        self.literals = 0;
    }
}

/// Compresses `input` into at most `output_max` bytes, or `None` if it does not fit (then
/// Redis stores the string as it is).
pub fn compress(input: &[u8], output_max: usize) -> Option<Vec<u8>> {
    if input.len() < 3 || output_max == 0 {
        // Redis compresses only strings longer than 20 bytes; these never reach here.
        return None;
    }
    let mut table: Vec<Option<usize>> = vec![None; 1 << HASH_BITS];
    let mut output = Output::new(output_max);
    let end = input.len();
    let mut at = 0usize;
    let mut hash = first(input, at);
    while at + 2 < end {
        hash = next(hash, input, at);
        let candidate = table[slot(hash)].replace(at);
        let matched = candidate.filter(|&earlier| {
            at - earlier - 1 < DISTANCE_MAX
                && earlier > 0
                && input[earlier + 2] == input[at + 2]
                && input[earlier] == input[at]
                && input[earlier + 1] == input[at + 1]
        });
        let Some(earlier) = matched else {
            if output.written >= output.limit {
                return None;
            }
            output.literal(input[at]);
            at += 1;
            continue;
        };
        let written = output.written;
        let limit = output.limit;
        if written + 3 + 1 >= limit && written - usize::from(output.literals == 0) + 3 + 1 >= limit
        {
            return None;
        }
        output.end_run();
        let length = match_length(input, earlier, at, (end - at - 2).min(REFERENCE_MAX)) - 2;
        output.reference(at - earlier - 1, length);
        at += length + 2;
        if at + 2 >= end {
            break;
        }
        // Hash the last two positions of the match, as the "very fast" variant does.
        at -= 2;
        hash = first(input, at);
        for _ in 0..2 {
            hash = next(hash, input, at);
            table[slot(hash)] = Some(at);
            at += 1;
        }
    }
    if output.written + 3 > output.limit {
        return None;
    }
    for &byte in &input[at..] {
        output.literal(byte);
    }
    output.end_run();
    let mut bytes = output.bytes;
    bytes.truncate(output.written);
    Some(bytes)
}

/// How many bytes from `at` equal those from `earlier`, as Redis's compressor counts them:
/// the first three are known to match; past 16 candidates it compares 16 positions before it
/// looks at `length_max`, so a match may run two bytes past it.
fn match_length(input: &[u8], earlier: usize, at: usize, length_max: usize) -> usize {
    let same = |length: usize| input[earlier + length] == input[at + length];
    let mut length = 2;
    if length_max > 16 {
        for _ in 0..16 {
            length += 1;
            if !same(length) {
                return length;
            }
        }
    }
    loop {
        length += 1;
        if !(length < length_max && same(length)) {
            return length;
        }
    }
}

/// Decompresses `input` into exactly `length` bytes, or `None` if it is not valid LZF of
/// that length.
pub fn decompress(input: &[u8], length: usize) -> Option<Vec<u8>> {
    let mut output = Vec::with_capacity(length);
    let mut at = 0;
    while at < input.len() {
        let control = usize::from(input[at]);
        at += 1;
        if control < LITERALS_MAX {
            let run = input.get(at..at + control + 1)?;
            if output.len() + run.len() > length {
                return None;
            }
            output.extend_from_slice(run);
            at += control + 1;
            continue;
        }
        let mut count = control >> 5;
        if count == 7 {
            count += usize::from(*input.get(at)?);
            at += 1;
        }
        let back = ((control & 0x1f) << 8) + usize::from(*input.get(at)?) + 1;
        at += 1;
        count += 2;
        if back > output.len() || output.len() + count > length {
            return None;
        }
        let start = output.len() - back;
        for offset in 0..count {
            output.push(output[start + offset]);
        }
    }
    (output.len() == length).then_some(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The library of `super::tests::REDIS_DUMP`, compressed as redis-server 7.0.15 did.
    #[test]
    fn compression_is_byte_for_byte_redis() {
        let input = super::super::tests::LIBRARY;
        let compressed = compress(input, input.len() - 4).expect("this input compresses");
        let dump = super::super::tests::redis_dump();
        assert_eq!(compressed, &dump[6..dump.len() - 10], "Redis's compressed bytes");
        assert_eq!(decompress(&compressed, input.len()).as_deref(), Some(input));
    }

    #[test]
    fn what_is_compressed_decompresses_to_itself() {
        let inputs: Vec<Vec<u8>> = vec![
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec(),
            (0..5000u32).map(|number| (number % 251) as u8).collect(),
            (0..3000u32).map(|number| (number * 7 % 13) as u8).collect(),
            b"abcabcabcabcabcabcabcabcabcXabcabcabcabcabcabc".repeat(40),
        ];
        for input in inputs {
            if let Some(compressed) = compress(&input, input.len() - 4) {
                assert_eq!(decompress(&compressed, input.len()), Some(input.clone()));
            }
        }
        assert_eq!(compress(&(0..200u8).collect::<Vec<_>>(), 196), None, "incompressible");
    }

    #[test]
    fn damaged_input_is_refused() {
        assert_eq!(decompress(b"\x05ab", 6), None, "a literal run past the end");
        assert_eq!(decompress(b"\x00a\x20\x05", 4), None, "a reference before the start");
        assert_eq!(decompress(b"\x01ab", 3), None, "shorter than promised");
    }
}
