//! CRC-64 as Redis computes it (`crc64.c`): the Jones polynomial `0xad93d23594c935a9`,
//! reflected input and output, initial value 0, no final xor. Redis ends every DUMP and
//! FUNCTION DUMP payload with this checksum of the bytes before it, little-endian.
//!
//! Invariant: `crc64(0, b"123456789") == 0xe9c6d914c4b8d9ca`, Redis's own test vector.

/// The Jones polynomial, bit-reversed for the reflected (least significant bit first) form.
const POLYNOMIAL_REFLECTED: u64 = 0x95ac_9329_ac4b_c9b5;

/// The checksum of every byte value, computed at compile time.
const TABLE: [u64; 256] = table();

const fn table() -> [u64; 256] {
    let mut table = [0u64; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut crc = byte as u64;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ POLYNOMIAL_REFLECTED } else { crc >> 1 };
            bit += 1;
        }
        table[byte] = crc;
        byte += 1;
    }
    table
}

/// Continues the checksum `crc` over `bytes` (start with 0).
pub fn crc64(crc: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(crc, |crc, &byte| TABLE[((crc ^ u64::from(byte)) & 0xff) as usize] ^ (crc >> 8))
}

#[cfg(test)]
mod tests {
    use super::crc64;

    #[test]
    fn the_checksum_is_redis_crc64_jones() {
        assert_eq!(crc64(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
        assert_eq!(crc64(0, b""), 0);
        // Continuing a checksum is the same as checksumming the whole.
        assert_eq!(crc64(crc64(0, b"1234"), b"56789"), crc64(0, b"123456789"));
    }
}
