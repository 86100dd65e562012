//! Request decoding: the bytes a client sends, turned into argument vectors exactly as Redis 7.0
//! turns them (`processInlineBuffer` and `processMultibulkBuffer` in its `networking.c`).
//!
//! A request arrives in one of two shapes, chosen by its first byte:
//! - **Multibulk** (first byte `*`): `*<count>\r\n` then `count` bulk strings
//!   `$<length>\r\n<bytes>\r\n`. This is what every client library sends.
//! - **Inline** (any other first byte): one line ending in `\n` or `\r\n`, split into arguments
//!   like Redis's `sdssplitargs` (blanks separate, `"..."` with C escapes, `'...'`). This is
//!   what a person typing into `telnet` sends.
//!
//! A multibulk count of zero or less, and an inline line with no arguments, are consumed and
//! produce no request, as in Redis.
//!
//! The [`Decoder`] keeps its progress through a partly received request (which header line it
//! is reading, where each argument lies), so each call examines only bytes it has not examined
//! before: a 512 MiB bulk arriving in 16 KiB reads costs O(total), not O(total² / 16 KiB).
//! Bytes leave the caller's buffer only as a whole request, split off in one piece, and the
//! arguments are [`Bytes`] slices of that piece: no copy per argument.
//!
//! Invariants:
//! - Between calls the caller only appends to the buffer. The decoder remembers offsets into
//!   it, and asserts (in release builds too) that it has not shrunk.
//! - Nothing is allocated from a count the client claims before the bytes behind it have
//!   arrived: at most [`PREALLOCATED_ARGUMENTS_MAX`] argument slots are reserved up front.
//! - After a [`ProtocolError`] the decoder returns that same error forever: the stream has lost
//!   its framing, and Redis closes such a connection after sending the error line.
//!
//! Caveats, where Concord deliberately differs from Redis 7.0:
//! - Redis finds line ends with C's `strchr`, which stops at a NUL byte, so a NUL inside a
//!   header or inline line makes Redis wait for more input until the 64 KiB bound trips. Here
//!   a NUL is an ordinary byte: such a header is an invalid length, and an inline NUL is part
//!   of an argument.
//! - Redis's line-length bound applies to whatever happens to be buffered, so whether a long
//!   line is refused depends on how reads were chunked. Here a line is refused exactly when its
//!   first `inline_bytes_max + 1` bytes hold no line end, which is what Redis does when the line
//!   arrives in reads no larger than the bound.
//! - Redis 7.0 accepts up to 2³¹ − 1 arguments in one request. `arguments_max` defaults to
//!   1,048,576 (the bound of Redis 6.2 and earlier), and a count over it gets Redis's own
//!   `invalid multibulk length`, so no client sees a new error text.
//!
//! Like Redis, and on purpose for compatibility, the decoder does not check that the two bytes
//! after a bulk, or after a header's `\r`, are `\r\n`: it skips them.

use super::{parse_i64, Frame};
use bytes::{Buf, Bytes, BytesMut};
use std::borrow::Cow;
use std::ops::Range;

/// The most argument slots reserved before the arguments themselves have arrived.
const PREALLOCATED_ARGUMENTS_MAX: usize = 1024;

/// Redis refuses a request of more arguments than this before the client has authenticated.
const UNAUTHENTICATED_ARGUMENTS_MAX: u64 = 10;

/// Redis refuses a bulk string longer than this before the client has authenticated.
const UNAUTHENTICATED_BULK_BYTES_MAX: u64 = 16 * 1024;

/// Bounds on what one request may claim or contain; each maps to a Redis setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The longest bulk string argument accepted, in bytes (Redis's `proto-max-bulk-len`,
    /// default 512 MiB). A longer one is `Protocol error: invalid bulk length`.
    pub bulk_bytes_max: usize,
    /// The most arguments one multibulk request may have (default 1,048,576). More is
    /// `Protocol error: invalid multibulk length`.
    pub arguments_max: usize,
    /// The longest line without a line end that is still awaited: an inline command, or a
    /// `*<count>` or `$<length>` header (Redis's `PROTO_INLINE_MAX_SIZE`, 64 KiB). Past it the
    /// request is a "too big" protocol error.
    pub inline_bytes_max: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            bulk_bytes_max: 512 * 1024 * 1024,
            arguments_max: 1024 * 1024,
            inline_bytes_max: 64 * 1024,
        }
    }
}

/// A malformed request. The `Display` text is Redis's, after its `ERR ` prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// An inline line with no line end within `inline_bytes_max` bytes.
    #[error("Protocol error: too big inline request")]
    InlineRequestTooBig,
    /// An inline line whose quotes do not close, or close in the middle of an argument.
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    /// A `*<count>` header with no line end within `inline_bytes_max` bytes.
    #[error("Protocol error: too big mbulk count string")]
    MultibulkCountTooBig,
    /// A `*<count>` that is not a number or exceeds `arguments_max`.
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    /// A `*<count>` over 10 from a client that must authenticate first.
    #[error("Protocol error: unauthenticated multibulk length")]
    UnauthenticatedMultibulkLength,
    /// A `$<length>` header with no line end within `inline_bytes_max` bytes.
    #[error("Protocol error: too big bulk count string")]
    BulkCountTooBig,
    /// A header line inside a multibulk request that does not start with `$`.
    #[error("Protocol error: expected '$', got '{}'", printable(*found))]
    ExpectedBulk {
        /// The byte found where `$` was expected.
        found: u8,
    },
    /// A `$<length>` that is not a number, is negative, or exceeds `bulk_bytes_max`.
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    /// A `$<length>` over 16 KiB from a client that must authenticate first.
    #[error("Protocol error: unauthenticated bulk length")]
    UnauthenticatedBulkLength,
}

impl ProtocolError {
    /// The whole error line Redis sends for this error, without the leading `-` and trailing
    /// CRLF: `ERR Protocol error: ...`.
    ///
    /// One difference remains for [`ProtocolError::ExpectedBulk`] with a byte of 0x80 or more:
    /// Redis echoes the raw byte, which a Rust string cannot hold, so it appears here as the
    /// character with that Latin-1 code point.
    pub fn error_line(&self) -> String {
        format!("ERR {self}")
    }

    /// The error reply to send before closing the connection.
    pub fn to_frame(&self) -> Frame {
        Frame::Error(Cow::Owned(self.error_line()))
    }
}

/// The byte as Redis prints it in an error: `addReplyErrorFormat` turns CR and LF into spaces
/// so the reply stays one line.
fn printable(byte: u8) -> char {
    match byte {
        b'\r' | b'\n' => ' ',
        _ => char::from(byte),
    }
}

/// Decodes the requests of one connection, keeping its progress between reads.
#[derive(Debug, Default)]
pub struct Decoder {
    limits: Limits,
    authentication_required: bool,
    progress: Progress,
    /// Where each argument parsed so far lies in the buffer; reused from request to request.
    argument_spans: Vec<Range<usize>>,
    /// The buffer length at the last call that returned no request; the buffer must not shrink
    /// below it, because `progress` holds offsets into it.
    examined_bytes: usize,
    failure: Option<ProtocolError>,
}

/// How far into the pending request the decoder has got. Offsets count from the start of the
/// buffer, where the pending request always begins.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Progress {
    /// No byte of the next request has been seen.
    #[default]
    Start,
    /// Reading an inline line; `buffer[..scanned]` holds no `\n`.
    InlineLine { scanned: usize },
    /// Reading the `*<count>` line; `buffer[..scanned]` holds no `\r`.
    MultibulkCount { scanned: usize },
    /// Reading the `$<length>` line that starts at `line_start`; `buffer[line_start..scanned]`
    /// holds no `\r`.
    BulkLength { arguments_total: usize, line_start: usize, scanned: usize },
    /// Waiting for the body of a bulk string, `length` bytes from `body_start`, then CRLF.
    BulkBody { arguments_total: usize, body_start: usize, length: usize },
}

/// What one parsing step achieved.
enum Step {
    /// The buffer ends before the pending request does.
    NeedMore,
    /// Progress was made (a header or an argument parsed, or an empty request skipped).
    Continue,
    /// A whole request, split off the buffer.
    Request(Vec<Bytes>),
}

/// Where a line end was looked for.
enum LineSearch {
    /// The line ends at this offset (of its `\r` or `\n`).
    Found(usize),
    /// No line end yet; the buffer was examined up to this offset.
    NotYet(usize),
    /// No line end within the bound.
    TooLong,
}

impl Decoder {
    /// A decoder for a new connection.
    pub fn new(limits: Limits) -> Decoder {
        Decoder { limits, ..Decoder::default() }
    }

    /// While `required` is true, requests are held to Redis's bounds for clients that have not
    /// authenticated: at most 10 arguments and bulk strings of at most 16 KiB. The server sets
    /// it when a password is configured and clears it once `AUTH` (or `HELLO ... AUTH`)
    /// succeeds, before decoding the next request.
    pub fn set_authentication_required(&mut self, required: bool) {
        self.authentication_required = required;
    }

    /// Takes the next whole request off the front of `buffer`.
    ///
    /// Returns `Ok(None)` when `buffer` ends inside a request: the partial request stays in
    /// `buffer`, and the next call, after the caller has appended more bytes, resumes where this
    /// one stopped. Empty requests are consumed silently.
    ///
    /// # Panics
    ///
    /// If `buffer` is shorter than at the previous call that returned `Ok(None)`: between calls
    /// the caller may only append to it.
    pub fn decode(&mut self, buffer: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        if let Some(error) = self.failure {
            return Err(error);
        }
        assert!(
            buffer.len() >= self.examined_bytes,
            "the read buffer shrank from {} to {} bytes in the middle of a request",
            self.examined_bytes,
            buffer.len()
        );
        loop {
            let step = self.step(buffer).inspect_err(|error| self.failure = Some(*error))?;
            match step {
                Step::Continue => continue,
                Step::NeedMore => {
                    self.examined_bytes = buffer.len();
                    return Ok(None);
                }
                Step::Request(arguments) => {
                    self.examined_bytes = 0;
                    return Ok(Some(arguments));
                }
            }
        }
    }

    /// At least how many more bytes `buffer` needs before the pending request can be complete,
    /// when the decoder knows it: while a bulk string is arriving, the rest of that bulk and its
    /// CRLF. Zero otherwise. The server can reserve this much once instead of growing its
    /// buffer read by read; the amount is bounded by [`Limits::bulk_bytes_max`].
    pub fn missing_bytes(&self, buffer: &BytesMut) -> usize {
        match self.progress {
            Progress::BulkBody { body_start, length, .. } => {
                (body_start + length + 2).saturating_sub(buffer.len())
            }
            _ => 0,
        }
    }

    /// Advances through the pending request as far as one header line or one bulk string.
    fn step(&mut self, buffer: &mut BytesMut) -> Result<Step, ProtocolError> {
        match self.progress {
            Progress::Start => Ok(self.start_request(buffer)),
            Progress::InlineLine { scanned } => self.read_inline_line(buffer, scanned),
            Progress::MultibulkCount { scanned } => self.read_multibulk_count(buffer, scanned),
            Progress::BulkLength { arguments_total, line_start, scanned } => {
                self.read_bulk_length(buffer, arguments_total, line_start, scanned)
            }
            Progress::BulkBody { arguments_total, body_start, length } => {
                Ok(self.read_bulk_body(buffer, arguments_total, body_start, length))
            }
        }
    }

    /// Chooses the request's shape from its first byte, as Redis does.
    fn start_request(&mut self, buffer: &BytesMut) -> Step {
        match buffer.first() {
            None => return Step::NeedMore,
            Some(b'*') => self.progress = Progress::MultibulkCount { scanned: 1 },
            Some(_) => self.progress = Progress::InlineLine { scanned: 0 },
        }
        Step::Continue
    }

    fn read_inline_line(
        &mut self,
        buffer: &mut BytesMut,
        scanned: usize,
    ) -> Result<Step, ProtocolError> {
        let line_end = match self.find_line_end(buffer, 0, scanned, b'\n') {
            LineSearch::Found(line_end) => line_end,
            LineSearch::NotYet(scanned) => {
                self.progress = Progress::InlineLine { scanned };
                return Ok(Step::NeedMore);
            }
            LineSearch::TooLong => return Err(ProtocolError::InlineRequestTooBig),
        };
        let line = buffer.split_to(line_end + 1).freeze();
        self.progress = Progress::Start;
        let text_end =
            if line_end > 0 && line[line_end - 1] == b'\r' { line_end - 1 } else { line_end };
        let arguments = split_inline_arguments(&line.slice(..text_end))?;
        if arguments.is_empty() {
            return Ok(Step::Continue);
        }
        Ok(Step::Request(arguments))
    }

    fn read_multibulk_count(
        &mut self,
        buffer: &mut BytesMut,
        scanned: usize,
    ) -> Result<Step, ProtocolError> {
        let line_end = match self.find_header_end(buffer, 0, scanned) {
            LineSearch::Found(line_end) => line_end,
            LineSearch::NotYet(scanned) => {
                self.progress = Progress::MultibulkCount { scanned };
                return Ok(Step::NeedMore);
            }
            LineSearch::TooLong => return Err(ProtocolError::MultibulkCountTooBig),
        };
        let count = parse_i64(&buffer[1..line_end]).ok_or(ProtocolError::InvalidMultibulkLength)?;
        if count > 0 && count as u64 > self.limits.arguments_max as u64 {
            return Err(ProtocolError::InvalidMultibulkLength);
        }
        if self.authentication_required && count > 0 && count as u64 > UNAUTHENTICATED_ARGUMENTS_MAX
        {
            return Err(ProtocolError::UnauthenticatedMultibulkLength);
        }
        let body_start = line_end + 2;
        if count <= 0 {
            buffer.advance(body_start);
            self.progress = Progress::Start;
            return Ok(Step::Continue);
        }
        let arguments_total = usize::try_from(count).expect("count is at most arguments_max");
        self.start_arguments(arguments_total);
        self.progress =
            Progress::BulkLength { arguments_total, line_start: body_start, scanned: body_start };
        Ok(Step::Continue)
    }

    /// Prepares the argument list for a request of `arguments_total` arguments, none of which
    /// has arrived: reserve a few slots, never the claimed count.
    fn start_arguments(&mut self, arguments_total: usize) {
        self.argument_spans.clear();
        if self.argument_spans.capacity() > PREALLOCATED_ARGUMENTS_MAX {
            // A huge earlier request should not pin its argument list for the connection's life.
            self.argument_spans.shrink_to(PREALLOCATED_ARGUMENTS_MAX);
        }
        self.argument_spans.reserve(arguments_total.min(PREALLOCATED_ARGUMENTS_MAX));
    }

    fn read_bulk_length(
        &mut self,
        buffer: &BytesMut,
        arguments_total: usize,
        line_start: usize,
        scanned: usize,
    ) -> Result<Step, ProtocolError> {
        let line_end = match self.find_header_end(buffer, line_start, scanned) {
            LineSearch::Found(line_end) => line_end,
            LineSearch::NotYet(scanned) => {
                self.progress = Progress::BulkLength { arguments_total, line_start, scanned };
                return Ok(Step::NeedMore);
            }
            LineSearch::TooLong => return Err(ProtocolError::BulkCountTooBig),
        };
        if buffer[line_start] != b'$' {
            return Err(ProtocolError::ExpectedBulk { found: buffer[line_start] });
        }
        let length =
            parse_i64(&buffer[line_start + 1..line_end]).ok_or(ProtocolError::InvalidBulkLength)?;
        if length < 0 || length as u64 > self.limits.bulk_bytes_max as u64 {
            return Err(ProtocolError::InvalidBulkLength);
        }
        if self.authentication_required && length as u64 > UNAUTHENTICATED_BULK_BYTES_MAX {
            return Err(ProtocolError::UnauthenticatedBulkLength);
        }
        self.progress = Progress::BulkBody {
            arguments_total,
            body_start: line_end + 2,
            length: usize::try_from(length).expect("length is at most bulk_bytes_max"),
        };
        Ok(Step::Continue)
    }

    fn read_bulk_body(
        &mut self,
        buffer: &mut BytesMut,
        arguments_total: usize,
        body_start: usize,
        length: usize,
    ) -> Step {
        let body_end = body_start + length;
        // The two bytes after the body are skipped unchecked, as Redis skips them.
        let next_start = body_end + 2;
        if buffer.len() < next_start {
            return Step::NeedMore;
        }
        self.argument_spans.push(body_start..body_end);
        if self.argument_spans.len() < arguments_total {
            self.progress = Progress::BulkLength {
                arguments_total,
                line_start: next_start,
                scanned: next_start,
            };
            return Step::Continue;
        }
        self.progress = Progress::Start;
        let request = buffer.split_to(next_start).freeze();
        let arguments =
            self.argument_spans.iter().map(|span| request.slice(span.clone())).collect();
        Step::Request(arguments)
    }

    /// Finds the `\r` that ends a `*` or `$` header starting at `line_start`. Like Redis, the
    /// line counts as complete only once one more byte (its `\n`) has arrived too.
    fn find_header_end(&self, buffer: &BytesMut, line_start: usize, scanned: usize) -> LineSearch {
        match self.find_line_end(buffer, line_start, scanned, b'\r') {
            LineSearch::Found(line_end) if line_end + 1 >= buffer.len() => {
                LineSearch::NotYet(line_end)
            }
            search => search,
        }
    }

    /// Looks for `terminator` in the line starting at `line_start`, skipping the bytes before
    /// `scanned` that earlier calls already examined, and never further than the line bound.
    fn find_line_end(
        &self,
        buffer: &BytesMut,
        line_start: usize,
        scanned: usize,
        terminator: u8,
    ) -> LineSearch {
        let window_end = buffer
            .len()
            .min(line_start.saturating_add(self.limits.inline_bytes_max).saturating_add(1));
        let search_start = scanned.max(line_start);
        if search_start < window_end {
            if let Some(offset) = memchr::memchr(terminator, &buffer[search_start..window_end]) {
                return LineSearch::Found(search_start + offset);
            }
        }
        if buffer.len() - line_start > self.limits.inline_bytes_max {
            return LineSearch::TooLong;
        }
        LineSearch::NotYet(window_end.max(search_start))
    }
}

/// C's `isspace` in the C locale, which is what `sdssplitargs` skips between arguments.
fn is_blank(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Splits an inline command line (without its line end) into arguments, as Redis's
/// `sdssplitargs` does. An argument without quotes is a slice of `line`; a quoted one is copied,
/// because its escapes change its bytes.
fn split_inline_arguments(line: &Bytes) -> Result<Vec<Bytes>, ProtocolError> {
    let mut arguments = Vec::new();
    let mut position = 0;
    loop {
        while position < line.len() && is_blank(line[position]) {
            position += 1;
        }
        if position == line.len() {
            return Ok(arguments);
        }
        let (argument, next) = read_inline_argument(line, position)?;
        arguments.push(argument);
        position = next;
    }
}

/// Reads the argument starting at `start` (not a blank); returns it and where to continue.
fn read_inline_argument(line: &Bytes, start: usize) -> Result<(Bytes, usize), ProtocolError> {
    for position in start..line.len() {
        match line[position] {
            // Only these end an unquoted argument: `sdssplitargs` skips vertical tab and form
            // feed as leading blanks but keeps them inside an argument.
            b' ' | b'\n' | b'\r' | b'\t' => {
                return Ok((line.slice(start..position), position + 1));
            }
            b'"' | b'\'' => return read_quoted_argument(line, start, position),
            _ => {}
        }
    }
    Ok((line.slice(start..), line.len()))
}

/// Reads an argument whose unquoted prefix is `line[start..quote]` and whose quoted part opens
/// at `quote`. The closing quote ends the argument and must be followed by a blank or the end
/// of the line.
fn read_quoted_argument(
    line: &Bytes,
    start: usize,
    quote: usize,
) -> Result<(Bytes, usize), ProtocolError> {
    let mut argument = line[start..quote].to_vec();
    let closing_quote = line[quote];
    let double_quoted = closing_quote == b'"';
    let mut position = quote + 1;
    loop {
        let byte = *line.get(position).ok_or(ProtocolError::UnbalancedQuotes)?;
        let (value, width) = match (byte, line.get(position + 1).copied()) {
            (candidate, _) if candidate == closing_quote => break,
            // In single quotes the only escape is `\'`; any other backslash is literal.
            (b'\\', Some(b'\'')) if !double_quoted => (b'\'', 2),
            (b'\\', Some(escaped)) if double_quoted => match hex_escape(line, position) {
                Some(value) => (value, 4),
                None => (unescape(escaped), 2),
            },
            _ => (byte, 1),
        };
        argument.push(value);
        position += width;
    }
    if line.get(position + 1).is_some_and(|&next| !is_blank(next)) {
        return Err(ProtocolError::UnbalancedQuotes);
    }
    Ok((Bytes::from(argument), position + 1))
}

/// The byte of a `\xHH` escape at `position`, if two hex digits follow the `\x`.
fn hex_escape(line: &[u8], position: usize) -> Option<u8> {
    let escape = line.get(position..position + 4)?;
    if escape[1] != b'x' {
        return None;
    }
    let high = hex_digit_value(escape[2])?;
    let low = hex_digit_value(escape[3])?;
    Some(high * 16 + low)
}

fn hex_digit_value(byte: u8) -> Option<u8> {
    char::from(byte).to_digit(16).map(|value| u8::try_from(value).expect("a hex digit is below 16"))
}

/// The byte a backslash escape stands for inside double quotes; an unknown escape stands for
/// the escaped byte itself (so `\"` is `"` and `\\` is `\`).
fn unescape(escaped: u8) -> u8 {
    match escaped {
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'b' => 0x08,
        b'a' => 0x07,
        other => other,
    }
}
