//! DUMPs taken from redis-server 7.0.15, compared byte for byte with Concord's, and damaged
//! payloads that must be refused without a panic.

use super::*;
use crate::command::lists::ListEnd;
use crate::store::stream::{ConsumerGroup, StreamId};
use crate::store::{HashValue, ListValue, SetValue, SortedSet};

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).expect("hex digits"))
        .collect()
}

fn bytes(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

fn string_value(bytes: &[u8]) -> Value {
    Value::String(StringValue::from_bytes(Bytes::copy_from_slice(bytes)))
}

fn restored_bytes(payload: &[u8]) -> Option<Bytes> {
    match restore(payload) {
        Ok(Value::String(string)) => Some(string.to_bytes()),
        _ => None,
    }
}

/// DUMPs taken from redis-server 7.0.15 after `SET k <value>`.
fn redis_string_dumps() -> Vec<(Vec<u8>, Vec<u8>)> {
    let long = vec![b'x'; 100];
    vec![
        (b"12".to_vec(), b"\x00\xc0\x0c\x0a\x00<*\xf8Q\\\x04\xbc\xd5".to_vec()),
        (b"abc".to_vec(), b"\x00\x03abc\x0a\x00\xd9\xac0=Ar\xa2\xe2".to_vec()),
        (b"4294967296".to_vec(), b"\x00\x0a4294967296\x0a\x00\xa5\xa3\x89\xc8\x1a\x8cFV".to_vec()),
        (long, b"\x00\xc3\x09@d\x01xx\xe0W\x00\x01xx\x0a\x00]\xb7\xf6c\xbb\x08b_".to_vec()),
    ]
}

/// `HSET h a 1 b hello` in redis-server 7.0.15.
const REDIS_HASH: &str = "101616000000040081610201018162028568656c6c6f06ff0a00e8c5fe99ee07955d";
/// `SADD s 1 2 3 -70000`.
const REDIS_INTSET: &str =
    "0b18040000000400000090eefeff0100000002000000030000000a00a8b63c622cbf2c9c";
/// `ZADD z 1 a 2.5 b -3 c inf d -0 e 0.1 f` (a listpack, LZF-compressed).
const REDIS_ZSET: &str = "11c3363f183f0000000c00816302dffd02816502000181660293302e3130e00500173114\
                          816102010181620283322e350481640283696e6604ff0a004f0ab74daae28422";
/// `RPUSH l a 1 hello 300 -5`.
const REDIS_LIST: &str =
    "1201021919000000050081610201018568656c6c6f06c12c02dffb02ff0a003da2172c0565d5a6";
/// `XADD x 1-1 f v g 12`, `XADD x 1-2 f w g 13`, `XADD x 5-0 other 1`, `XDEL x 1-2`,
/// `XGROUP CREATE x grp 0`, `XREADGROUP GROUP grp alice COUNT 1 STREAMS x >`.
const REDIS_STREAM: &str = "13011000000000000000010000000000000001404343000000190002010101020181\
    660281670200010201000100018176020c0105010301000101018177020d01050100010401dfff020101856f7468\
    65720601010601ff02050001010102030103677270010181ffffffffffffffff01000000000000000100000000000000\
    01d134844fa2010000010105616c696365d134844fa201000001000000000000000100000000000000010a00605c4b72\
    08e693dd";

fn redis_payloads() -> Vec<Vec<u8>> {
    let mut payloads: Vec<Vec<u8>> =
        redis_string_dumps().into_iter().map(|(_, dump)| dump).collect();
    for text in [REDIS_HASH, REDIS_INTSET, REDIS_ZSET, REDIS_LIST, REDIS_STREAM] {
        payloads.push(hex(text));
    }
    payloads
}

#[test]
fn a_string_dumps_byte_for_byte_as_redis_and_restores() {
    for (value, redis) in redis_string_dumps() {
        assert_eq!(dump(&string_value(&value)), redis, "DUMP of {value:?}");
        assert_eq!(restored_bytes(&redis).as_deref(), Some(&value[..]), "RESTORE of {value:?}");
    }
    let appended = Value::String(StringValue::Raw(Bytes::from_static(b"12")));
    assert_eq!(dump(&appended), dump(&string_value(b"12")), "a raw string spelling an integer");
}

#[test]
fn small_collections_dump_byte_for_byte_as_redis() {
    let mut hash = HashValue::default();
    hash.insert(&bytes("a"), bytes("1"));
    hash.insert(&bytes("b"), bytes("hello"));
    assert_eq!(dump(&Value::Hash(Box::new(hash))), hex(REDIS_HASH));

    let set = SetValue::from_members(&[bytes("1"), bytes("2"), bytes("3"), bytes("-70000")]);
    assert_eq!(dump(&Value::Set(Box::new(set))), hex(REDIS_INTSET));

    let mut zset = SortedSet::new();
    for (member, score) in
        [("a", 1.0), ("b", 2.5), ("c", -3.0), ("d", f64::INFINITY), ("e", -0.0), ("f", 0.1)]
    {
        zset.insert(bytes(member), score);
    }
    assert_eq!(dump(&Value::SortedSet(Box::new(zset))), hex(REDIS_ZSET));

    let mut list = ListValue::new();
    for element in ["a", "1", "hello", "300", "-5"] {
        list.push(ListEnd::Right, bytes(element));
    }
    assert_eq!(dump(&Value::List(Box::new(list))), hex(REDIS_LIST));
}

#[test]
fn a_stream_with_a_group_dumps_byte_for_byte_as_redis() {
    let mut stream = crate::store::stream::StreamValue::default();
    let id = |ms, seq| StreamId { ms, seq };
    stream.append(id(1, 1), &[(bytes("f"), bytes("v")), (bytes("g"), bytes("12"))]);
    stream.append(id(1, 2), &[(bytes("f"), bytes("w")), (bytes("g"), bytes("13"))]);
    stream.append(id(5, 0), &[(bytes("other"), bytes("1"))]);
    stream.delete(id(1, 2));
    stream.set_counters(id(5, 0), None, Some(id(1, 2)));
    stream.create_group(&bytes("grp"), ConsumerGroup::new(StreamId::default(), Some(0)));
    let group = stream.group_mut(&bytes("grp")).unwrap();
    group.create_consumer(&bytes("alice"), 1_796_630_394_065);
    group.deliver_new(id(1, 1), &bytes("alice"), 1_796_630_394_065);
    group.last_delivered_id = id(1, 1);
    group.entries_read = None;
    assert_eq!(dump(&Value::Stream(Box::new(stream))), hex(REDIS_STREAM));
}

#[test]
fn large_collections_dump_and_restore_to_the_same_value() {
    let mut zset = SortedSet::new();
    let mut hash = HashValue::default();
    let mut list = ListValue::new();
    let mut set = SetValue::default();
    for index in 0..3000 {
        let member = Bytes::from(format!("member-{index}"));
        zset.insert(member.clone(), index as f64 / 3.0);
        hash.insert(&member, Bytes::from(index.to_string()));
        list.push(ListEnd::Right, member.clone());
        set.insert(&member);
    }
    for value in [
        Value::SortedSet(Box::new(zset)),
        Value::Hash(Box::new(hash)),
        Value::List(Box::new(list)),
        Value::Set(Box::new(set)),
    ] {
        let encoding = value.encoding();
        let restored = restore(&dump(&value)).expect("a DUMP restores");
        assert_eq!((restored.encoding(), &restored), (encoding, &value));
    }
}

#[test]
fn every_redis_payload_restores_and_dumps_back_to_its_bytes() {
    for payload in redis_payloads() {
        let value = restore(&payload).expect("a payload of redis-server restores");
        assert_eq!(dump(&value), payload, "{value:?}");
    }
    let Ok(Value::Stream(stream)) = restore(&hex(REDIS_STREAM)) else { panic!("a stream") };
    assert_eq!((stream.len(), stream.groups().len()), (2, 1));
}

#[test]
fn duplicates_and_empty_collections_are_bad_data() {
    let mut duplicate = vec![TYPE_SET, 2];
    for member in ["a", "a"] {
        string::write(&mut duplicate, member.as_bytes());
    }
    assert_eq!(restore(&super::super::seal(duplicate)).err(), Some(PayloadError::BadDataFormat));
    for kind in [TYPE_SET, TYPE_HASH, TYPE_LIST, TYPE_ZSET_2, TYPE_LIST_QUICKLIST_2] {
        let empty = super::super::seal(vec![kind, 0]);
        assert_eq!(restore(&empty).err(), Some(PayloadError::BadDataFormat), "type {kind}");
    }
    let mut nan = vec![TYPE_ZSET_2, 1];
    string::write(&mut nan, b"m");
    nan.extend_from_slice(&f64::NAN.to_le_bytes());
    assert_eq!(restore(&super::super::seal(nan)).err(), Some(PayloadError::BadDataFormat));
    let module = super::super::seal(vec![7, 0]);
    assert_eq!(restore(&module).err(), Some(PayloadError::BadDataFormat));
}

#[test]
fn a_damaged_payload_is_an_error_never_a_panic() {
    assert_eq!(restore(b"bad").err(), Some(PayloadError::VersionOrChecksum));
    assert_eq!(restore(&super::super::seal(vec![])).err(), Some(PayloadError::BadDataFormat));
    // redis-server 7.0.15 answers OK to this one and stores "a".
    let trailing = super::super::seal(vec![TYPE_STRING, 1, b'a', b'b']);
    assert_eq!(restored_bytes(&trailing).as_deref(), Some(&b"a"[..]), "bytes after the record");
    let huge_count = super::super::seal(vec![TYPE_SET, 0x81, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
    assert_eq!(restore(&huge_count).err(), Some(PayloadError::BadDataFormat));
    for redis in redis_payloads() {
        let record = &redis[..redis.len() - 10];
        for cut in 0..record.len() {
            // Resealed, so that the record itself is what is damaged, not the checksum.
            assert!(restore(&super::super::seal(record[..cut].to_vec())).is_err(), "cut {cut}");
            let _ = restore(&redis[..cut]);
        }
        for at in 0..record.len() {
            for bit in 0..8 {
                let mut flipped = record.to_vec();
                flipped[at] ^= 1 << bit;
                if let Ok(value) = restore(&super::super::seal(flipped.clone())) {
                    // Whatever a damaged record decodes to is a value that dumps and restores.
                    assert_eq!(restore(&dump(&value)).as_ref(), Ok(&value));
                }
                let mut unsealed_flip = redis.clone();
                unsealed_flip[at] ^= 1 << bit;
                assert_eq!(
                    restore(&unsealed_flip).err(),
                    Some(PayloadError::VersionOrChecksum),
                    "a flipped bit breaks the checksum"
                );
            }
        }
    }
}
