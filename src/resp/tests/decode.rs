//! Specifications of request decoding. Golden cases are written as transcripts: each request
//! decoded, as `["arg" "arg"]` with bytes escaped, then the error line if decoding failed, then
//! how many bytes were left waiting.

use crate::resp::{Decoder, Limits, ProtocolError};
use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

/// Everything a decoder produced from one input.
#[derive(Debug, PartialEq)]
struct Outcome {
    requests: Vec<Vec<Bytes>>,
    error: Option<ProtocolError>,
    waiting_bytes: usize,
}

impl Outcome {
    fn transcript(&self) -> String {
        let mut parts: Vec<String> = self
            .requests
            .iter()
            .map(|request| {
                let arguments: Vec<String> = request
                    .iter()
                    .map(|argument| format!("\"{}\"", argument.escape_ascii()))
                    .collect();
                format!("[{}]", arguments.join(" "))
            })
            .collect();
        if let Some(error) = self.error {
            parts.push(error.error_line());
        }
        if self.waiting_bytes > 0 {
            parts.push(format!("(waiting with {} bytes)", self.waiting_bytes));
        }
        parts.join(" ")
    }
}

/// Decodes until the decoder needs more bytes or fails.
fn drain(decoder: &mut Decoder, buffer: &mut BytesMut, outcome: &mut Outcome) {
    while outcome.error.is_none() {
        match decoder.decode(buffer) {
            Ok(Some(request)) => outcome.requests.push(request),
            Ok(None) => break,
            Err(error) => outcome.error = Some(error),
        }
    }
}

/// Feeds `input` to a fresh decoder in the given pieces, decoding after each.
fn decode_in_pieces<'a>(limits: Limits, pieces: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
    let mut decoder = Decoder::new(limits);
    let mut buffer = BytesMut::new();
    let mut outcome = Outcome { requests: Vec::new(), error: None, waiting_bytes: 0 };
    for piece in pieces {
        buffer.extend_from_slice(piece);
        drain(&mut decoder, &mut buffer, &mut outcome);
        if outcome.error.is_some() {
            break;
        }
    }
    outcome.waiting_bytes = if outcome.error.is_some() { 0 } else { buffer.len() };
    outcome
}

fn decode_whole(limits: Limits, input: &[u8]) -> Outcome {
    decode_in_pieces(limits, [input])
}

fn small_limits() -> Limits {
    Limits { bulk_bytes_max: 5, arguments_max: 3, inline_bytes_max: 8 }
}

/// Input, and the transcript Redis 7.0 would produce for it.
const GOLDEN_CASES: &[(&[u8], &str)] = &[
    // Multibulk requests.
    (b"*1\r\n$4\r\nPING\r\n", r#"["PING"]"#),
    (b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n", r#"["SET" "key" "value"]"#),
    (b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n", r#"["GET" "a"] ["GET" "b"]"#),
    (b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", r#"["ECHO" ""]"#),
    (b"*2\r\n$4\r\nECHO\r\n$7\r\na\r\n\x00b\r\n\r\n", r#"["ECHO" "a\r\n\x00b\r\n"]"#),
    (b"*0\r\n*-1\r\n*-7\r\n*1\r\n$4\r\nPING\r\n", r#"["PING"]"#),
    // Like Redis, the two bytes after a bulk and after a header's CR are skipped unread.
    (b"*1\r\n$4\r\nPINGxy", r#"["PING"]"#),
    (b"*1\rx$4\ryPING\r\n", r#"["PING"]"#),
    // Partial requests wait, and consume nothing.
    (b"*2\r\n$3\r\nGET\r\n$1\r\n", "(waiting with 17 bytes)"),
    (b"*1\r\n$4\r\nPI", "(waiting with 10 bytes)"),
    (b"*1\r", "(waiting with 3 bytes)"),
    // Inline requests.
    (b"PING\r\n", r#"["PING"]"#),
    (b"PING\n", r#"["PING"]"#),
    (b"  SET  key\tvalue  \r\n", r#"["SET" "key" "value"]"#),
    (b"\r\n\n   \r\nPING\r\n", r#"["PING"]"#),
    (b"GET a\r\nGET b\n", r#"["GET" "a"] ["GET" "b"]"#),
    (b"a\rb\r\n", r#"["a" "b"]"#),
    (b"$3\r\n", r#"["$3"]"#),
    (b"PING", "(waiting with 4 bytes)"),
    (b"\x0bSET a\x0bb\x0c c\r\n", r#"["SET" "a\x0bb\x0c" "c"]"#),
    // Inline quoting, as sdssplitargs.
    (b"SET \"a b\" 'c d'\r\n", r#"["SET" "a b" "c d"]"#),
    (b"\"\\x41\\x4a\\n\\r\\t\\b\\a\\\\\\\"\\q\"\r\n", r#"["AJ\n\r\t\x08\x07\\\"q"]"#),
    (b"\"\\x4g\" \"\\xA\"\r\n", r#"["x4g" "xA"]"#),
    (b"'it\\'s' 'a\\b' 'say \"hi\"'\r\n", r#"["it\'s" "a\\b" "say \"hi\""]"#),
    (b"a\"b c\"  d'e'\r\n", r#"["ab c" "de"]"#),
    (b"\"\" ''\r\n", r#"["" ""]"#),
    (b"\"a\"\x0bb\r\n", r#"["a" "b"]"#),
    (b"\"a\x00b\"\r\n", r#"["a\x00b"]"#),
    (b"\"a\r\n", "ERR Protocol error: unbalanced quotes in request"),
    (b"\"a\"b\r\n", "ERR Protocol error: unbalanced quotes in request"),
    (b"'a\r\n", "ERR Protocol error: unbalanced quotes in request"),
    (b"'a'b\r\n", "ERR Protocol error: unbalanced quotes in request"),
    (b"'a'\"b\"\r\n", "ERR Protocol error: unbalanced quotes in request"),
    (b"\"a\\\"\r\n", "ERR Protocol error: unbalanced quotes in request"),
    (b"\"a\\\r\n", "ERR Protocol error: unbalanced quotes in request"),
    // Malformed multibulk headers.
    (b"*x\r\n", "ERR Protocol error: invalid multibulk length"),
    (b"*\r\n", "ERR Protocol error: invalid multibulk length"),
    (b"*01\r\n", "ERR Protocol error: invalid multibulk length"),
    (b"*+1\r\n", "ERR Protocol error: invalid multibulk length"),
    (b"*-0\r\n", "ERR Protocol error: invalid multibulk length"),
    (b"* 1\r\n", "ERR Protocol error: invalid multibulk length"),
    (b"*1 \r\n", "ERR Protocol error: invalid multibulk length"),
    (b"*99999999999999999999\r\n", "ERR Protocol error: invalid multibulk length"),
    (b"*1\x00\r\n", "ERR Protocol error: invalid multibulk length"),
    (b"*1\r\n+PING\r\n", "ERR Protocol error: expected '$', got '+'"),
    (b"*1\r\n\r\n", "ERR Protocol error: expected '$', got ' '"),
    (b"*1\r\n\n\r\n", "ERR Protocol error: expected '$', got ' '"),
    (b"*1\r\nPING\r\n", "ERR Protocol error: expected '$', got 'P'"),
    (b"*1\r\n$-1\r\n", "ERR Protocol error: invalid bulk length"),
    (b"*1\r\n$x\r\n", "ERR Protocol error: invalid bulk length"),
    (b"*1\r\n$\r\n", "ERR Protocol error: invalid bulk length"),
    (b"*1\r\n$04\r\n", "ERR Protocol error: invalid bulk length"),
    (b"*1\r\n$4 \r\n", "ERR Protocol error: invalid bulk length"),
    // The requests before a malformed one are decoded first.
    (
        b"*1\r\n$4\r\nPING\r\nPING\r\n*x\r\n",
        r#"["PING"] ["PING"] ERR Protocol error: invalid multibulk length"#,
    ),
];

#[test]
fn golden_requests_decode_as_redis_decodes_them() {
    for (input, expected) in GOLDEN_CASES {
        let outcome = decode_whole(Limits::default(), input);
        assert_eq!(outcome.transcript(), *expected, "input {:?}", input.escape_ascii().to_string());
    }
}

#[test]
fn every_golden_input_split_at_every_byte_decodes_the_same() {
    for (input, _) in GOLDEN_CASES {
        let whole = decode_whole(Limits::default(), input);
        for split in 0..=input.len() {
            let (head, tail) = input.split_at(split);
            let split_outcome = decode_in_pieces(Limits::default(), [head, tail]);
            assert_eq!(
                split_outcome.transcript(),
                whole.transcript(),
                "input {:?} split at {split}",
                input.escape_ascii().to_string()
            );
        }
        let byte_by_byte = decode_in_pieces(Limits::default(), input.chunks(1));
        assert_eq!(byte_by_byte.transcript(), whole.transcript());
    }
}

#[test]
fn a_long_pipeline_decodes_every_request_in_order() {
    let mut input = Vec::new();
    let mut expected = Vec::new();
    for index in 0..1000 {
        let key = format!("key:{index}");
        if index % 3 == 0 {
            input.extend_from_slice(format!("GET {key}\r\n").as_bytes());
            expected.push(vec![Bytes::from("GET"), Bytes::from(key)]);
        } else {
            let value = "v".repeat(index % 50);
            input.extend_from_slice(
                format!(
                    "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n",
                    key.len(),
                    value.len()
                )
                .as_bytes(),
            );
            expected.push(vec![Bytes::from("SET"), Bytes::from(key), Bytes::from(value)]);
        }
    }
    let whole = decode_whole(Limits::default(), &input);
    assert_eq!(whole.error, None);
    assert_eq!(whole.waiting_bytes, 0);
    assert_eq!(whole.requests, expected);
    let in_chunks = decode_in_pieces(Limits::default(), input.chunks(7));
    assert_eq!(in_chunks, whole);
}

#[test]
fn multibulk_arguments_are_slices_of_the_read_buffer_not_copies() {
    let mut buffer = BytesMut::from(&b"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n"[..]);
    let buffer_addresses = buffer.as_ptr_range();
    let request = Decoder::new(Limits::default()).decode(&mut buffer).unwrap().unwrap();
    for argument in &request {
        let argument_addresses = argument.as_ptr_range();
        assert!(
            buffer_addresses.start <= argument_addresses.start
                && argument_addresses.end <= buffer_addresses.end,
            "argument {argument:?} was copied out of the read buffer"
        );
    }
}

#[test]
fn a_bulk_of_exactly_the_limit_is_accepted_and_one_byte_more_is_refused() {
    let at_limit = decode_whole(small_limits(), b"*1\r\n$5\r\nhello\r\n");
    assert_eq!(at_limit.transcript(), r#"["hello"]"#);
    let over_limit = decode_whole(small_limits(), b"*1\r\n$6\r\n");
    assert_eq!(over_limit.error, Some(ProtocolError::InvalidBulkLength));
}

#[test]
fn a_request_of_exactly_the_argument_limit_is_accepted_and_one_more_is_refused() {
    let at_limit = decode_whole(small_limits(), b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
    assert_eq!(at_limit.transcript(), r#"["a" "b" "c"]"#);
    let over_limit = decode_whole(small_limits(), b"*4\r\n");
    assert_eq!(over_limit.error, Some(ProtocolError::InvalidMultibulkLength));
}

#[test]
fn the_default_limits_are_redis_defaults() {
    let limits = Limits::default();
    assert_eq!(limits.bulk_bytes_max, 512 * 1024 * 1024);
    assert_eq!(limits.arguments_max, 1_048_576);
    assert_eq!(limits.inline_bytes_max, 64 * 1024);
    let at_limit = decode_whole(limits, b"*1048576\r\n$536870912\r\n");
    assert_eq!(at_limit.error, None);
    let too_many = decode_whole(limits, b"*1048577\r\n");
    assert_eq!(too_many.error, Some(ProtocolError::InvalidMultibulkLength));
    let too_long = decode_whole(limits, b"*1\r\n$536870913\r\n");
    assert_eq!(too_long.error, Some(ProtocolError::InvalidBulkLength));
}

#[test]
fn lines_longer_than_the_inline_limit_are_refused_with_redis_texts() {
    // With an 8-byte bound, a line end may come at offset 8 at the latest.
    let cases: &[(&[u8], &str)] = &[
        (b"12345678", "(waiting with 8 bytes)"),
        (b"12345678\n", r#"["12345678"]"#),
        (b"1234567\r\n", r#"["1234567"]"#),
        (b"123456789", "ERR Protocol error: too big inline request"),
        (b"123456789\n", "ERR Protocol error: too big inline request"),
        (b"*1234567", "(waiting with 8 bytes)"),
        (b"*12345678", "ERR Protocol error: too big mbulk count string"),
        (b"*1\r\n$1234567", "(waiting with 12 bytes)"),
        (b"*1\r\n$12345678", "ERR Protocol error: too big bulk count string"),
        (b"*1\r\n$1\r\n", "(waiting with 8 bytes)"),
    ];
    for (input, expected) in cases {
        let outcome = decode_whole(small_limits(), input);
        assert_eq!(outcome.transcript(), *expected, "input {:?}", input.escape_ascii().to_string());
        let byte_by_byte = decode_in_pieces(small_limits(), input.chunks(1));
        assert_eq!(byte_by_byte.transcript(), *expected);
    }
}

#[test]
fn the_default_inline_limit_is_64_kib_of_line_without_a_line_end() {
    let mut line = vec![b'a'; 64 * 1024];
    assert_eq!(decode_whole(Limits::default(), &line).error, None);
    line.push(b'\n');
    assert_eq!(decode_whole(Limits::default(), &line).requests.len(), 1);
    line.pop();
    line.push(b'a');
    assert_eq!(
        decode_whole(Limits::default(), &line).error,
        Some(ProtocolError::InlineRequestTooBig)
    );
}

#[test]
fn a_huge_claimed_argument_count_reserves_nothing_up_front() {
    let limits = Limits { arguments_max: usize::MAX, ..Limits::default() };
    // Reserving slots for the claimed count would abort the test process.
    let outcome = decode_whole(limits, b"*9223372036854775807\r\n$1\r\na\r\n");
    assert_eq!(outcome.error, None);
    assert_eq!(outcome.waiting_bytes, 29);
}

#[test]
fn unauthenticated_clients_are_held_to_redis_pre_auth_bounds() {
    let decode_unauthenticated = |input: &[u8]| {
        let mut decoder = Decoder::new(Limits::default());
        decoder.set_authentication_required(true);
        let mut buffer = BytesMut::from(input);
        decoder.decode(&mut buffer)
    };
    assert_eq!(
        decode_unauthenticated(b"*11\r\n"),
        Err(ProtocolError::UnauthenticatedMultibulkLength)
    );
    assert_eq!(decode_unauthenticated(b"*10\r\n"), Ok(None));
    assert_eq!(
        decode_unauthenticated(b"*1\r\n$16385\r\n"),
        Err(ProtocolError::UnauthenticatedBulkLength)
    );
    assert_eq!(decode_unauthenticated(b"*1\r\n$16384\r\n"), Ok(None));
    // Redis checks the absolute bounds first.
    assert_eq!(decode_unauthenticated(b"*2000000\r\n"), Err(ProtocolError::InvalidMultibulkLength));
    assert_eq!(
        decode_unauthenticated(b"*1\r\n$999999999\r\n"),
        Err(ProtocolError::InvalidBulkLength)
    );
}

#[test]
fn authenticating_lifts_the_pre_auth_bounds_for_the_next_request() {
    let big_value = "x".repeat(20_000);
    let mut input = b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n".to_vec();
    input.extend_from_slice(format!("*2\r\n$4\r\nECHO\r\n$20000\r\n{big_value}\r\n").as_bytes());
    let mut buffer = BytesMut::from(&input[..]);
    let mut decoder = Decoder::new(Limits::default());
    decoder.set_authentication_required(true);
    let auth = decoder.decode(&mut buffer).unwrap().unwrap();
    assert_eq!(auth, vec![Bytes::from("AUTH"), Bytes::from("pw")]);
    decoder.set_authentication_required(false);
    let echo = decoder.decode(&mut buffer).unwrap().unwrap();
    assert_eq!(echo[1].len(), 20_000);
}

#[test]
fn after_a_protocol_error_the_decoder_keeps_returning_it() {
    let mut decoder = Decoder::new(Limits::default());
    let mut buffer = BytesMut::from(&b"*1\r\n+x\r\n"[..]);
    let error = ProtocolError::ExpectedBulk { found: b'+' };
    assert_eq!(decoder.decode(&mut buffer), Err(error));
    let mut fresh_buffer = BytesMut::from(&b"PING\r\n"[..]);
    assert_eq!(decoder.decode(&mut fresh_buffer), Err(error));
}

#[test]
fn missing_bytes_tells_how_much_of_a_pending_bulk_has_not_arrived() {
    let mut decoder = Decoder::new(Limits::default());
    let mut buffer = BytesMut::from(&b"*2\r\n$3\r\nSET\r\n$10\r\nabc"[..]);
    assert_eq!(decoder.missing_bytes(&buffer), 0);
    assert_eq!(decoder.decode(&mut buffer), Ok(None));
    assert_eq!(decoder.missing_bytes(&buffer), 7 + 2);
    buffer.extend_from_slice(b"defghij\r");
    assert_eq!(decoder.decode(&mut buffer), Ok(None));
    assert_eq!(decoder.missing_bytes(&buffer), 1);
    buffer.extend_from_slice(b"\n");
    assert!(decoder.decode(&mut buffer).unwrap().is_some());
    assert_eq!(decoder.missing_bytes(&buffer), 0);
}

#[test]
fn protocol_errors_carry_redis_exact_texts() {
    let cases = [
        (ProtocolError::InlineRequestTooBig, "Protocol error: too big inline request"),
        (ProtocolError::UnbalancedQuotes, "Protocol error: unbalanced quotes in request"),
        (ProtocolError::MultibulkCountTooBig, "Protocol error: too big mbulk count string"),
        (ProtocolError::InvalidMultibulkLength, "Protocol error: invalid multibulk length"),
        (
            ProtocolError::UnauthenticatedMultibulkLength,
            "Protocol error: unauthenticated multibulk length",
        ),
        (ProtocolError::BulkCountTooBig, "Protocol error: too big bulk count string"),
        (ProtocolError::ExpectedBulk { found: b'x' }, "Protocol error: expected '$', got 'x'"),
        (ProtocolError::ExpectedBulk { found: b'\r' }, "Protocol error: expected '$', got ' '"),
        (ProtocolError::InvalidBulkLength, "Protocol error: invalid bulk length"),
        (ProtocolError::UnauthenticatedBulkLength, "Protocol error: unauthenticated bulk length"),
    ];
    for (error, text) in cases {
        assert_eq!(error.to_string(), text);
        assert_eq!(error.error_line(), format!("ERR {text}"));
        assert_eq!(error.to_frame(), crate::resp::Frame::Error(format!("ERR {text}").into()));
    }
}

fn encode_multibulk(arguments: &[Vec<u8>]) -> Vec<u8> {
    let mut bytes = format!("*{}\r\n", arguments.len()).into_bytes();
    for argument in arguments {
        bytes.extend_from_slice(format!("${}\r\n", argument.len()).as_bytes());
        bytes.extend_from_slice(argument);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes
}

/// Splits `input` at the given fractions of its length, in order.
fn split_at_fractions(input: &[u8], fractions: &[f64]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> =
        fractions.iter().map(|fraction| (fraction * input.len() as f64) as usize).collect();
    points.sort_unstable();
    let mut pieces = Vec::new();
    let mut start = 0;
    for point in points.into_iter().chain([input.len()]) {
        pieces.push(input[start..point].to_vec());
        start = point;
    }
    pieces
}

proptest! {
    #[test]
    fn pipelined_multibulk_requests_split_anywhere_decode_to_their_arguments(
        requests in prop::collection::vec(
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..8),
            1..6,
        ),
        fractions in prop::collection::vec(0.0f64..1.0, 0..8),
    ) {
        let input: Vec<u8> = requests.iter().flat_map(|request| encode_multibulk(request)).collect();
        let pieces = split_at_fractions(&input, &fractions);
        let outcome = decode_in_pieces(Limits::default(), pieces.iter().map(Vec::as_slice));
        prop_assert_eq!(outcome.error, None);
        prop_assert_eq!(outcome.waiting_bytes, 0);
        let decoded: Vec<Vec<Vec<u8>>> = outcome
            .requests
            .iter()
            .map(|request| request.iter().map(|argument| argument.to_vec()).collect())
            .collect();
        prop_assert_eq!(decoded, requests);
    }

    #[test]
    fn arbitrary_bytes_split_anywhere_decode_the_same_as_whole(
        input in prop::collection::vec(
            prop_oneof![
                Just(b'*'), Just(b'$'), Just(b'\r'), Just(b'\n'), Just(b'"'), Just(b'\''),
                Just(b'\\'), Just(b' '), Just(b'1'), Just(b'-'), any::<u8>(),
            ],
            0..64,
        ),
        fractions in prop::collection::vec(0.0f64..1.0, 0..4),
    ) {
        let whole = decode_whole(small_limits(), &input);
        let pieces = split_at_fractions(&input, &fractions);
        let split = decode_in_pieces(small_limits(), pieces.iter().map(Vec::as_slice));
        prop_assert_eq!(split.transcript(), whole.transcript());
    }
}
