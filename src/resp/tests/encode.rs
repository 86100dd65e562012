//! Specifications of reply encoding: the bytes Redis 7.0 sends for each frame, in RESP2 and
//! RESP3, and C's `%.17g` for doubles.

use crate::resp::{encode, format_double, Frame, Protocol};
use bytes::{Bytes, BytesMut};

fn encoded(frame: &Frame, protocol: Protocol) -> String {
    let mut out = BytesMut::new();
    encode(frame, protocol, &mut out);
    out.escape_ascii().to_string()
}

/// Checks a frame's bytes in both protocols; the expected texts are written with
/// `escape_ascii`, so CRLF reads `\r\n`.
fn assert_encodes(frame: Frame, resp2: &str, resp3: &str) {
    assert_eq!(encoded(&frame, Protocol::Resp2), resp2, "RESP2 bytes of {frame:?}");
    assert_eq!(encoded(&frame, Protocol::Resp3), resp3, "RESP3 bytes of {frame:?}");
}

#[test]
fn simple_strings_errors_and_integers_are_the_same_in_both_protocols() {
    assert_encodes(Frame::ok(), r"+OK\r\n", r"+OK\r\n");
    assert_encodes(Frame::simple("PONG"), r"+PONG\r\n", r"+PONG\r\n");
    assert_encodes(
        Frame::error("WRONGTYPE Operation against a key holding the wrong kind of value"),
        r"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        r"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    assert_encodes(Frame::Integer(0), r":0\r\n", r":0\r\n");
    assert_encodes(Frame::Integer(-42), r":-42\r\n", r":-42\r\n");
    assert_encodes(
        Frame::Integer(i64::MIN),
        r":-9223372036854775808\r\n",
        r":-9223372036854775808\r\n",
    );
    assert_encodes(
        Frame::Integer(i64::MAX),
        r":9223372036854775807\r\n",
        r":9223372036854775807\r\n",
    );
}

#[test]
fn bulk_strings_are_length_prefixed_and_binary_safe() {
    assert_encodes(Frame::bulk("hello"), r"$5\r\nhello\r\n", r"$5\r\nhello\r\n");
    assert_encodes(Frame::bulk(""), r"$0\r\n\r\n", r"$0\r\n\r\n");
    assert_encodes(
        Frame::bulk(b"a\r\n\x00\xff"),
        r"$5\r\na\r\n\x00\xff\r\n",
        r"$5\r\na\r\n\x00\xff\r\n",
    );
}

#[test]
fn nulls_are_dollar_or_star_minus_one_in_resp2_and_underscore_in_resp3() {
    assert_encodes(Frame::Null, r"$-1\r\n", r"_\r\n");
    assert_encodes(Frame::NullArray, r"*-1\r\n", r"_\r\n");
    assert_encodes(Frame::bulk_or_null(None), r"$-1\r\n", r"_\r\n");
}

#[test]
fn arrays_nest_and_keep_their_elements_protocol() {
    assert_encodes(Frame::Array(vec![]), r"*0\r\n", r"*0\r\n");
    let nested = Frame::Array(vec![
        Frame::Integer(1),
        Frame::Array(vec![Frame::bulk("a"), Frame::Null]),
        Frame::Array(vec![]),
        Frame::Boolean(true),
    ]);
    assert_encodes(
        nested,
        r"*4\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n*0\r\n:1\r\n",
        r"*4\r\n:1\r\n*2\r\n$1\r\na\r\n_\r\n*0\r\n#t\r\n",
    );
}

#[test]
fn maps_are_flat_arrays_of_twice_their_length_in_resp2() {
    let map = Frame::Map(vec![
        (Frame::bulk("server"), Frame::bulk("concord")),
        (Frame::bulk("proto"), Frame::Integer(3)),
    ]);
    assert_encodes(
        map,
        r"*4\r\n$6\r\nserver\r\n$7\r\nconcord\r\n$5\r\nproto\r\n:3\r\n",
        r"%2\r\n$6\r\nserver\r\n$7\r\nconcord\r\n$5\r\nproto\r\n:3\r\n",
    );
    assert_encodes(Frame::Map(vec![]), r"*0\r\n", r"%0\r\n");
    let map_of_maps = Frame::Map(vec![(
        Frame::simple("inner"),
        Frame::Map(vec![(Frame::Integer(1), Frame::Double(1.5))]),
    )]);
    assert_encodes(
        map_of_maps,
        r"*2\r\n+inner\r\n*2\r\n:1\r\n$3\r\n1.5\r\n",
        r"%1\r\n+inner\r\n%1\r\n:1\r\n,1.5\r\n",
    );
}

#[test]
fn pairs_are_flat_in_resp2_and_arrays_of_pairs_in_resp3() {
    // As redis-server 7.0.15 answers ZRANGE z 0 -1 WITHSCORES for {a: 0.5, b: inf}.
    let pairs = Frame::Pairs(vec![
        (Frame::bulk("a"), Frame::Double(0.5)),
        (Frame::bulk("b"), Frame::Double(f64::INFINITY)),
    ]);
    assert_encodes(
        pairs,
        r"*4\r\n$1\r\na\r\n$3\r\n0.5\r\n$1\r\nb\r\n$3\r\ninf\r\n",
        r"*2\r\n*2\r\n$1\r\na\r\n,0.5\r\n*2\r\n$1\r\nb\r\n,inf\r\n",
    );
    assert_encodes(Frame::Pairs(vec![]), r"*0\r\n", r"*0\r\n");
}

#[test]
fn sets_and_pushes_are_arrays_in_resp2() {
    let members = vec![Frame::bulk("a"), Frame::bulk("b")];
    assert_encodes(
        Frame::Set(members.clone()),
        r"*2\r\n$1\r\na\r\n$1\r\nb\r\n",
        r"~2\r\n$1\r\na\r\n$1\r\nb\r\n",
    );
    assert_encodes(
        Frame::Push(vec![Frame::bulk("message"), Frame::bulk("channel"), Frame::bulk("hi")]),
        r"*3\r\n$7\r\nmessage\r\n$7\r\nchannel\r\n$2\r\nhi\r\n",
        r">3\r\n$7\r\nmessage\r\n$7\r\nchannel\r\n$2\r\nhi\r\n",
    );
}

#[test]
fn doubles_are_bulk_strings_in_resp2_and_comma_lines_in_resp3() {
    assert_encodes(Frame::Double(1.5), r"$3\r\n1.5\r\n", r",1.5\r\n");
    assert_encodes(
        Frame::Double(0.1),
        r"$19\r\n0.10000000000000001\r\n",
        r",0.10000000000000001\r\n",
    );
    assert_encodes(Frame::Double(f64::INFINITY), r"$3\r\ninf\r\n", r",inf\r\n");
    assert_encodes(Frame::Double(f64::NEG_INFINITY), r"$4\r\n-inf\r\n", r",-inf\r\n");
    assert_encodes(Frame::Double(f64::NAN), r"$3\r\nnan\r\n", r",nan\r\n");
    assert_encodes(Frame::Double(-0.0), r"$2\r\n-0\r\n", r",-0\r\n");
}

#[test]
fn booleans_are_integers_one_and_zero_in_resp2() {
    assert_encodes(Frame::Boolean(true), r":1\r\n", r"#t\r\n");
    assert_encodes(Frame::Boolean(false), r":0\r\n", r"#f\r\n");
}

#[test]
fn verbatim_strings_are_bulk_strings_of_their_text_alone_in_resp2() {
    let verbatim = Frame::Verbatim { format: *b"txt", text: Bytes::from("Some string") };
    assert_encodes(verbatim, r"$11\r\nSome string\r\n", r"=15\r\ntxt:Some string\r\n");
    let empty = Frame::Verbatim { format: *b"mkd", text: Bytes::new() };
    assert_encodes(empty, r"$0\r\n\r\n", r"=4\r\nmkd:\r\n");
}

#[test]
fn encoding_appends_to_what_the_buffer_already_holds() {
    let mut out = BytesMut::from(&b"+first\r\n"[..]);
    encode(&Frame::Integer(2), Protocol::Resp2, &mut out);
    assert_eq!(&out[..], b"+first\r\n:2\r\n");
}

/// C's `printf("%.17g")` output from glibc for each value, as Redis 7.0 sends it.
const PRINTF_17G: &[(f64, &str)] = &[
    (0.1, "0.10000000000000001"),
    (1.5, "1.5"),
    (1e20, "1e+20"),
    (123456789012345678.0, "1.2345678901234568e+17"),
    (1e-5, "1.0000000000000001e-05"),
    (0.0, "0"),
    (-0.0, "-0"),
    (3.0, "3"),
    (-3.0, "-3"),
    (1.0 / 3.0, "0.33333333333333331"),
    (2.0 / 3.0, "0.66666666666666663"),
    (1e16, "10000000000000000"),
    (1e17, "1e+17"),
    (12345678901234567.0, "12345678901234568"),
    (1e-4, "0.0001"),
    (0.00012345, "0.00012344999999999999"),
    (2.5e-5, "2.5000000000000001e-05"),
    (1e-300, "1e-300"),
    (5e-324, "4.9406564584124654e-324"),
    (f64::MAX, "1.7976931348623157e+308"),
    (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
    (100.0, "100"),
    (1234.5, "1234.5"),
    (-0.5, "-0.5"),
    (9007199254740993.0, "9007199254740992"),
    (0.3, "0.29999999999999999"),
    (0.1 + 0.2, "0.30000000000000004"),
    (1e21, "1e+21"),
    (123.456, "123.456"),
    (1.23456789012345, "1.23456789012345"),
    // Exact ties at the 18th digit round to even, as glibc does: 2^-25 and 3 × 2^-26.
    (1.0 / 33_554_432.0, "2.9802322387695312e-08"),
    (3.0 / 67_108_864.0, "4.4703483581542969e-08"),
    (f64::INFINITY, "inf"),
    (f64::NEG_INFINITY, "-inf"),
    (f64::NAN, "nan"),
];

#[test]
fn format_double_matches_c_printf_17g() {
    for &(value, expected) in PRINTF_17G {
        assert_eq!(format_double(value), expected, "%.17g of {value:e}");
    }
}

#[test]
fn format_double_prints_a_nan_with_its_sign_bit_set_as_glibc_does() {
    assert_eq!(format_double(-f64::NAN), "-nan");
}
