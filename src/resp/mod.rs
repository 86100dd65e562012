//! RESP, the Redis serialization protocol: bytes in, requests out; frames in, bytes out.
//!
//! This module owns the wire format and nothing above it. It turns the bytes a client sends
//! into requests (an argument vector of binary-safe byte strings, from either a multibulk
//! array or an inline command line), and turns reply [`Frame`]s into bytes for the protocol
//! version the connection negotiated (RESP2, or RESP3 after `HELLO 3`).
//!
//! Invariants:
//! - A request that has only partly arrived yields nothing and stays in the read buffer: bytes
//!   are consumed only as whole requests. The [`Decoder`] remembers how far it has parsed, so
//!   each byte is examined once however many reads a request takes to arrive.
//! - Every size the decoder accepts has a bound from [`Limits`]: a bulk string's length, the
//!   number of arguments, the length of an inline command. A request over a bound is a
//!   [`ProtocolError`] with Redis's own text, never an allocation of the claimed size.
//! - Arguments are [`Bytes`] slices of the connection's read buffer: no copy per argument
//!   (except inline arguments with quotes, whose escapes change their bytes).
//!
//! Caveat: a slice keeps the whole buffer allocation it came from alive. Code that keeps an
//! argument for long (the store keeping a value) should copy a small argument out, or one
//! 10-byte value can pin a 64 KiB read buffer.
//!
//! Deliberately absent: any knowledge of command names, arities or semantics (that is the
//! `command` module's job), and any socket IO (the `server` module reads and writes).

mod decode;
mod encode;
mod integer;
#[cfg(test)]
mod tests;

pub use decode::{Decoder, Limits, ProtocolError};
pub use encode::{encode, format_double, format_human_long_double};
pub use integer::parse_i64;

use bytes::Bytes;
use std::borrow::Cow;

/// The protocol version a connection speaks; `HELLO` switches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2, which every connection speaks until HELLO 3.
    #[default]
    Resp2,
    /// RESP3, after HELLO 3.
    Resp3,
}

impl Protocol {
    /// The number `HELLO` reports for this version.
    pub fn version(self) -> i64 {
        match self {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        }
    }
}

/// One reply value, in RESP3's vocabulary. The encoder lowers the RESP3-only types to their
/// RESP2 forms (a map becomes a flat array, a double a bulk string, and so on) exactly as
/// Redis 7 does, so command code builds one reply for both protocols.
///
/// Frames are serializable because a follower forwards writes to the leader and carries the
/// leader's replies back to its client.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Frame {
    /// A simple string (`+OK`). Must not contain `\r` or `\n`.
    Simple(Cow<'static, str>),
    /// An error line (`-ERR ...`), the whole text including its code prefix
    /// (`ERR`, `WRONGTYPE`, ...). Must not contain `\r` or `\n`.
    Error(Cow<'static, str>),
    /// An integer (`:1`).
    Integer(i64),
    /// A bulk string: any bytes.
    Bulk(Bytes),
    /// The null reply: `$-1` in RESP2, `_` in RESP3.
    Null,
    /// The null array: `*-1` in RESP2, `_` in RESP3.
    NullArray,
    /// An array of frames.
    Array(Vec<Frame>),
    /// A map: a flat array of keys and values in RESP2.
    Map(Vec<(Frame, Frame)>),
    /// A set: an array in RESP2.
    Set(Vec<Frame>),
    /// Pairs (ZRANGE ... WITHSCORES, HRANDFIELD ... WITHVALUES): an array of two-element
    /// arrays in RESP3, one flat array of both halves in RESP2, as Redis 7.0 replies.
    Pairs(Vec<(Frame, Frame)>),
    /// A double: a bulk string in RESP2, formatted as Redis formats it.
    Double(f64),
    /// A boolean: the integer 1 or 0 in RESP2.
    Boolean(bool),
    /// A verbatim string with its three-letter format (`txt`, `mkd`): a bulk string in RESP2.
    Verbatim {
        /// The format: three ASCII letters.
        format: [u8; 3],
        /// The text.
        text: Bytes,
    },
    /// An out-of-band push (pub/sub messages): an array in RESP2.
    Push(Vec<Frame>),
    /// A double Redis sends as a long double in its human form (`%.17Lf`, trailing zeros
    /// dropped: GEOPOS and WITHCOORD coordinates): a bulk string in RESP2, a double in RESP3.
    LongDouble(f64),
    /// A map in RESP3; in RESP2 an array of two-element `[key, value]` arrays, as Redis 7.0
    /// replies to XREAD and XREADGROUP (one pair per stream).
    KeyedArrays(Vec<(Frame, Frame)>),
    /// A big number, its decimal text (`(12345...` in RESP3): a bulk string in RESP2. Only a
    /// script returns one (`{big_number=...}`). Must not contain `\r` or `\n`.
    BigNumber(Bytes),
}

impl Frame {
    /// The `+OK` reply.
    pub const fn ok() -> Frame {
        Frame::Simple(Cow::Borrowed("OK"))
    }

    /// A simple string from a static text.
    pub const fn simple(text: &'static str) -> Frame {
        Frame::Simple(Cow::Borrowed(text))
    }

    /// An error from a static text, which must carry its code prefix (`ERR ...`).
    pub const fn error(text: &'static str) -> Frame {
        Frame::Error(Cow::Borrowed(text))
    }

    /// A bulk string copied from a byte slice.
    pub fn bulk(bytes: impl AsRef<[u8]>) -> Frame {
        Frame::Bulk(Bytes::copy_from_slice(bytes.as_ref()))
    }

    /// A bulk string, or the null reply when absent.
    pub fn bulk_or_null(bytes: Option<Bytes>) -> Frame {
        bytes.map_or(Frame::Null, Frame::Bulk)
    }

    /// Whether this frame is an error reply.
    pub fn is_error(&self) -> bool {
        matches!(self, Frame::Error(_))
    }

    /// Whether this frame is a null reply, of either RESP2 kind.
    pub fn is_null(&self) -> bool {
        matches!(self, Frame::Null | Frame::NullArray)
    }
}
