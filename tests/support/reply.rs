//! Reading one RESP2/RESP3 reply off a socket, keeping its exact bytes.
//!
//! The differential test compares replies byte for byte, so this reader never normalizes
//! anything: a [`Reply`] carries the raw bytes it was parsed from (and so does every element
//! nested in it), and the parsed [`Value`] exists only for the looser comparisons a script asks
//! for (`~type`, `~sorted`, ...).
//!
//! The parser is deliberately independent of Concord's own `resp` module: a test oracle that
//! shares the code it checks would share its bugs too.
//!
//! Caveats: RESP3 attributes (`|`) are rejected as unsupported; no Redis 7.0 command in the
//! scripts sends them.

use std::io::{ErrorKind, Read};
use std::net::TcpStream;

/// One reply, with the exact bytes it arrived as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub raw: Vec<u8>,
    pub value: Value,
}

/// The parsed shape of a reply. Strings stay bytes: Redis keys and values are binary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `+OK`
    Simple(Vec<u8>),
    /// `-ERR ...`
    Error(Vec<u8>),
    /// `:42`
    Integer(i64),
    /// `$3\r\nfoo`, or `$-1` (None).
    Bulk(Option<Vec<u8>>),
    /// `*2 ...`, or `*-1` (None).
    Array(Option<Vec<Reply>>),
    /// RESP3 `_`
    Null,
    /// RESP3 `#t` / `#f`
    Boolean(bool),
    /// RESP3 `,1.5`, kept as text: the formatting is what the test compares.
    Double(Vec<u8>),
    /// RESP3 `(123...`
    BigNumber(Vec<u8>),
    /// RESP3 `!5\r\nERR x`
    BulkError(Vec<u8>),
    /// RESP3 `=7\r\ntxt:abc`, including the format prefix.
    Verbatim(Vec<u8>),
    /// RESP3 `%`: key/value pairs in the order they came.
    Map(Vec<(Reply, Reply)>),
    /// RESP3 `~`
    Set(Vec<Reply>),
    /// RESP3 `>`
    Push(Vec<Reply>),
}

impl Reply {
    /// The RESP type marker byte (`+`, `$`, `%`, ...).
    pub fn type_byte(&self) -> u8 {
        self.raw[0]
    }

    /// The elements of an array, set or push reply; None for anything else.
    pub fn elements(&self) -> Option<&[Reply]> {
        match &self.value {
            Value::Array(Some(elements)) | Value::Set(elements) | Value::Push(elements) => {
                Some(elements)
            }
            _ => None,
        }
    }

    /// The bytes of a simple or bulk string; None for anything else.
    pub fn text(&self) -> Option<&[u8]> {
        match &self.value {
            Value::Simple(text) | Value::Bulk(Some(text)) | Value::Verbatim(text) => Some(text),
            _ => None,
        }
    }
}

/// Why the bytes on the wire are not a reply.
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed(pub String);

/// The result of parsing something at an offset: `Ok(None)` while the buffer holds only its
/// beginning, else the thing and the offset just after it.
pub type Parsed<T> = Result<Option<(T, usize)>, Malformed>;

/// Parses one reply from the start of `buffer`. Returns `Ok(None)` when the buffer holds only
/// the beginning of a reply, and the reply with the number of bytes it used otherwise.
pub fn parse(buffer: &[u8]) -> Parsed<Reply> {
    parse_at(buffer, 0, 0)
}

/// Nesting deeper than this is a harness bug or a server gone wrong, not a real reply.
const DEPTH_MAX: usize = 64;

/// A bulk length over this is not something the scripts ever ask for.
const BULK_BYTES_MAX: usize = 64 * 1024 * 1024;

fn parse_at(buffer: &[u8], start: usize, depth: usize) -> Parsed<Reply> {
    if depth > DEPTH_MAX {
        return Err(Malformed(format!("replies nested deeper than {DEPTH_MAX}")));
    }
    let Some(&type_byte) = buffer.get(start) else {
        return Ok(None);
    };
    let Some((line, after_line)) = line_at(buffer, start + 1) else {
        return Ok(None);
    };
    let value_end = match type_byte {
        b'+' => (Value::Simple(line.to_vec()), after_line),
        b'-' => (Value::Error(line.to_vec()), after_line),
        b':' => (Value::Integer(parse_integer(line)?), after_line),
        b'_' if line.is_empty() => (Value::Null, after_line),
        b'#' if line == b"t" || line == b"f" => (Value::Boolean(line == b"t"), after_line),
        b',' => (Value::Double(line.to_vec()), after_line),
        b'(' => (Value::BigNumber(line.to_vec()), after_line),
        b'$' | b'!' | b'=' => match blob_at(buffer, line, after_line)? {
            None => return Ok(None),
            Some((blob, end)) => (blob_value(type_byte, blob)?, end),
        },
        b'*' | b'~' | b'>' | b'%' => {
            match aggregate_at(buffer, type_byte, line, after_line, depth)? {
                None => return Ok(None),
                Some(value_end) => value_end,
            }
        }
        b'|' => return Err(Malformed("RESP3 attributes are not supported".into())),
        _ => {
            return Err(Malformed(format!(
                "unknown reply type byte {}",
                super::render::escape(&[type_byte])
            )))
        }
    };
    let (value, end) = value_end;
    let raw = buffer[start..end].to_vec();
    Ok(Some((Reply { raw, value }, end)))
}

/// The line starting at `start` (without its CRLF) and the offset after the CRLF.
fn line_at(buffer: &[u8], start: usize) -> Option<(&[u8], usize)> {
    let rest = buffer.get(start..)?;
    let newline = rest.windows(2).position(|pair| pair == b"\r\n")?;
    Some((&rest[..newline], start + newline + 2))
}

fn parse_integer(text: &[u8]) -> Result<i64, Malformed> {
    std::str::from_utf8(text).ok().and_then(|text| text.parse().ok()).ok_or_else(|| {
        Malformed(format!("expected an integer, got {}", super::render::escape(text)))
    })
}

/// A length-prefixed string: `None` inside when it is the RESP2 null (`$-1`).
fn blob_at<'a>(
    buffer: &'a [u8],
    length_text: &[u8],
    body_start: usize,
) -> Parsed<Option<&'a [u8]>> {
    let length = parse_integer(length_text)?;
    if length == -1 {
        return Ok(Some((None, body_start)));
    }
    let length = usize::try_from(length)
        .ok()
        .filter(|length| *length <= BULK_BYTES_MAX)
        .ok_or_else(|| Malformed(format!("bad bulk length {length}")))?;
    let body_end = body_start + length;
    if buffer.len() < body_end + 2 {
        return Ok(None);
    }
    if &buffer[body_end..body_end + 2] != b"\r\n" {
        return Err(Malformed(format!("bulk string of length {length} is not followed by CRLF")));
    }
    Ok(Some((Some(&buffer[body_start..body_end]), body_end + 2)))
}

fn blob_value(type_byte: u8, blob: Option<&[u8]>) -> Result<Value, Malformed> {
    match (type_byte, blob) {
        (b'$', blob) => Ok(Value::Bulk(blob.map(<[u8]>::to_vec))),
        (b'!', Some(blob)) => Ok(Value::BulkError(blob.to_vec())),
        (b'=', Some(blob)) => Ok(Value::Verbatim(blob.to_vec())),
        _ => Err(Malformed("a null length is valid only for `$`".into())),
    }
}

fn aggregate_at(
    buffer: &[u8],
    type_byte: u8,
    count_text: &[u8],
    mut offset: usize,
    depth: usize,
) -> Parsed<Value> {
    let count = parse_integer(count_text)?;
    if count == -1 && type_byte == b'*' {
        return Ok(Some((Value::Array(None), offset)));
    }
    let count =
        usize::try_from(count).map_err(|_| Malformed(format!("bad aggregate length {count}")))?;
    let items = if type_byte == b'%' { count * 2 } else { count };
    let mut elements = Vec::with_capacity(items.min(1024));
    for _ in 0..items {
        match parse_at(buffer, offset, depth + 1)? {
            None => return Ok(None),
            Some((element, end)) => {
                elements.push(element);
                offset = end;
            }
        }
    }
    let value = match type_byte {
        b'*' => Value::Array(Some(elements)),
        b'~' => Value::Set(elements),
        b'>' => Value::Push(elements),
        _ => {
            let mut pairs = Vec::with_capacity(count);
            let mut elements = elements.into_iter();
            while let (Some(key), Some(value)) = (elements.next(), elements.next()) {
                pairs.push((key, value));
            }
            Value::Map(pairs)
        }
    };
    Ok(Some((value, offset)))
}

/// What came back when a reply was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Reply(Reply),
    /// The server closed the connection (EOF or reset) before any byte of a reply.
    Closed,
    /// Anything else: a timeout, a malformed reply, an IO error. The connection is unusable.
    Failed(String),
}

/// A socket with the bytes read past the last reply.
pub struct ReplyReader {
    buffer: Vec<u8>,
}

impl ReplyReader {
    pub fn new() -> ReplyReader {
        ReplyReader { buffer: Vec::new() }
    }

    /// Reads exactly one reply; bytes after it stay buffered for the next call.
    pub fn read(&mut self, stream: &mut TcpStream) -> Outcome {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match parse(&self.buffer) {
                Err(Malformed(why)) => {
                    return Outcome::Failed(format!(
                        "malformed reply ({why}): {}",
                        super::render::escape_truncated(&self.buffer)
                    ))
                }
                Ok(Some((reply, used))) => {
                    self.buffer.drain(..used);
                    return Outcome::Reply(reply);
                }
                Ok(None) => {}
            }
            match stream.read(&mut chunk) {
                Ok(0) if self.buffer.is_empty() => return Outcome::Closed,
                Ok(0) => {
                    return Outcome::Failed(format!(
                        "connection closed in the middle of a reply: {}",
                        super::render::escape_truncated(&self.buffer)
                    ))
                }
                Ok(read) => self.buffer.extend_from_slice(&chunk[..read]),
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error)
                    if self.buffer.is_empty()
                        && matches!(
                            error.kind(),
                            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                        ) =>
                {
                    return Outcome::Closed
                }
                Err(error)
                    if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    return Outcome::Failed(format!(
                        "no complete reply before the read timeout (received so far: {})",
                        super::render::escape_truncated(&self.buffer)
                    ))
                }
                Err(error) => return Outcome::Failed(format!("read failed: {error}")),
            }
        }
    }
}
