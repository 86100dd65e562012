//! The enums of snapshot files: a key's value in every type and encoding, and what a
//! reservation holds. A key frame's `store::Entry` (value, expiry, versions) and the metadata
//! frame are pinned whole as well.

use bytes::Bytes;

use super::{check, hex, Checked};
use crate::command::acl::Users;
use crate::command::lists::ListEnd;
use crate::raft::codec::MembershipRecord;
use crate::raft::snapshot::{decode_metadata, SnapshotMetadata};
use crate::state_machine::{Subscriptions, Taken, Waiters};
use crate::store::functions::{Function, FunctionFlags, FunctionLibraries, Library};
use crate::store::scripts::ScriptCache;
use crate::store::stream::{ConsumerGroup, StreamId, StreamValue};
use crate::store::{
    Db, HashValue, ListValue, SetValue, SortedSet, StringValue, Value, LISTPACK_VALUE_BYTES_MAX,
};

fn bytes(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

/// A hash in its table form: one value longer than a listpack allows.
fn hash_table() -> HashValue {
    let mut hash = HashValue::default();
    hash.insert(&bytes("f"), Bytes::from(vec![b'v'; LISTPACK_VALUE_BYTES_MAX + 1]));
    hash
}

/// A stream with an entry deleted, one of the same fields as the first, one of its own, and
/// a group with a consumer holding one pending entry.
fn small_stream() -> StreamValue {
    let id = |ms, seq| StreamId { ms, seq };
    let mut stream = StreamValue::default();
    stream.append(id(1, 0), &[(bytes("f"), bytes("v"))]);
    stream.append(id(2, 0), &[(bytes("f"), bytes("w"))]);
    stream.append(id(2, 1), &[(bytes("g"), bytes("x"))]);
    stream.delete(id(2, 0));
    let mut group = ConsumerGroup::new(id(1, 0), Some(1));
    group.touch_consumer(&bytes("c"), 7);
    group.deliver_new(id(1, 0), &bytes("c"), 7);
    stream.create_group(&bytes("g"), group);
    stream
}

fn small_hash() -> HashValue {
    let mut hash = HashValue::default();
    hash.insert(&bytes("f"), bytes("v"));
    hash
}

pub(super) fn enums(failures: &mut Vec<String>) -> Vec<Checked> {
    let list: ListValue = [bytes("a"), bytes("b")].into_iter().collect();
    let zset = SortedSet::from_distinct_pairs([(bytes("m"), 1.5), (bytes("n"), -2.0)]);
    let values = vec![
        (Value::String(StringValue::from_bytes(bytes("12"))), "000018"),
        (Value::List(Box::new(list)), "010201610162"),
        (Value::SortedSet(Box::new(zset)), "0202016e00000000000000c0016d000000000000f83f"),
        (Value::Hash(Box::new(small_hash())), "03000101660176"),
        (Value::Set(Box::new(SetValue::from_members(&[bytes("1"), bytes("2")]))), "0400020204"),
        (Value::Stream(Box::new(small_stream())), "0501010001000201020101016634120200000176030100017700010101016701780202010100020003010167010001010101000163070101016307010100"),
    ];
    let value_tag = |value: &Value| match value {
        Value::String(_) => 0,
        Value::List(_) => 1,
        Value::SortedSet(_) => 2,
        Value::Hash(_) => 3,
        Value::Set(_) => 4,
        Value::Stream(_) => 5,
    };
    let strings = vec![
        (StringValue::from_bytes(bytes("-12")), "0017"),
        (StringValue::from_bytes(bytes("embedded")), "0108656d626564646564"),
        (StringValue::from_bytes(bytes("r")).appended(b"aw"), "0203726177"),
    ];
    let string_tag = |value: &StringValue| match value {
        StringValue::Integer(_) => 0,
        StringValue::Bytes(_) => 1,
        StringValue::Raw(_) => 2,
    };
    let sets = vec![
        (SetValue::from_members(&[bytes("3"), bytes("-1")]), "00020106"),
        (SetValue::from_members(&[bytes("m"), bytes("3")]), "0102016d0133"),
    ];
    let set_tag = |value: &SetValue| match value {
        SetValue::Intset(_) => 0,
        SetValue::Table(_) => 1,
    };
    let hashes = vec![(small_hash(), "000101660176"), (hash_table(), "01010166417676767676767676767676767676767676767676767676767676767676767676767676767676767676767676767676767676767676767676767676767676767676")];
    let hash_tag = |value: &HashValue| match value {
        HashValue::Listpack(_) => 0,
        HashValue::Table(_) => 1,
    };
    let taken = vec![
        (
            Taken::List { key: bytes("k"), end: ListEnd::Right, elements: vec![bytes("a")] },
            "00016b01010161",
        ),
        (
            Taken::Move {
                source: bytes("a"),
                from: ListEnd::Left,
                destination: bytes("b"),
                to: ListEnd::Right,
                element: bytes("e"),
            },
            "010161000162010165",
        ),
        (
            Taken::Zset { key: bytes("z"), members: vec![(bytes("m"), 2.5)] },
            "02017a01016d0000000000000440",
        ),
    ];
    let taken_tag = |taken: &Taken| match taken {
        Taken::List { .. } => 0,
        Taken::Move { .. } => 1,
        Taken::Zset { .. } => 2,
    };
    vec![
        check("Value", values, value_tag, failures),
        check("StringValue", strings, string_tag, failures),
        check("SetValue", sets, set_tag, failures),
        check("HashValue", hashes, hash_tag, failures),
        check("Taken", taken, taken_tag, failures),
    ]
}

/// A key's entry with an expiry, as a key frame holds it, and a metadata frame.
#[test]
fn a_key_entry_and_the_snapshot_metadata_keep_their_bytes() {
    let mut db = Db::default();
    db.insert(
        bytes("k"),
        Value::String(StringValue::from_bytes(bytes("v"))),
        Some(4_102_444_800_000),
        1_700_000_000_000,
    );
    let entry = db.get(&bytes("k"), 1_700_000_000_000).expect("the key was just written");
    assert_eq!(
        hex(&postcard::to_allocvec(entry).unwrap()),
        "000101760180b08fe6b2770080d095ffbc31",
        "a key entry's bytes changed"
    );
    let metadata = SnapshotMetadata {
        last_applied: Some((12, 3)),
        membership_log_id: Some((1, 1)),
        membership: MembershipRecord {
            configs: vec![vec![1, 2]],
            nodes: vec![(1, "a:1".into()), (2, "b:2".into())],
        },
        applied_time_ms: 1_700_000_000_000,
        waiters: Waiters::default(),
        subscriptions: Subscriptions::default(),
        scripts: ScriptCache::default(),
        functions: FunctionLibraries::default(),
        users: Vec::new(),
    };
    // The bytes of versions 3 and 4, frozen while each was the current version: they still
    // read, with no subscribers (3) and no scripts (3 and 4).
    let version_3 = unhex("010c0301010101020102020103613a310203623a3280d095ffbc31000000");
    assert_eq!(decode_metadata(3, &version_3).unwrap(), metadata, "version 3 metadata");
    let version_4 = unhex("010c0301010101020102020103613a310203623a3280d095ffbc3100000000");
    assert_eq!(decode_metadata(4, &version_4).unwrap(), metadata, "version 4 metadata");
    let mut scripts = ScriptCache::default();
    scripts.insert(bytes("return 1"));
    let metadata = SnapshotMetadata { scripts, ..metadata };
    // Version 5's bytes, frozen when version 6 came: the same, with no function libraries.
    let version_5 = unhex("010c0301010101020102020103613a310203623a3280d095ffbc31000000000128653065316639666162666339643438303063383737613730336238323361633035373866663864620872657475726e2031");
    assert_eq!(decode_metadata(5, &version_5).unwrap(), metadata, "version 5 metadata");
    let mut functions = FunctionLibraries::default();
    let function = Function {
        name: bytes("f"),
        description: Some(bytes("d")),
        flags: FunctionFlags::NO_WRITES,
    };
    let library = Library {
        name: bytes("lib"),
        code: bytes("#!lua name=lib\nredis.register_function('f', function() end)"),
        functions: [(bytes("f"), function)].into_iter().collect(),
    };
    functions.join(vec![library], false).expect("nothing is loaded yet");
    let metadata = SnapshotMetadata { functions, ..metadata };
    // Version 6's bytes, frozen when version 7 came: the same, with only the default user.
    let version_6 = unhex(VERSION_6_METADATA);
    assert_eq!(decode_metadata(6, &version_6).unwrap(), metadata, "version 6 metadata");
    let mut users = Users::default();
    let rules = [bytes("on"), bytes(">pw"), bytes("~k*"), bytes("+@read"), bytes("(+set %W~w*)")];
    users.set_user(&bytes("alice"), &rules).expect("valid rules");
    let metadata = SnapshotMetadata { users: users.to_descriptions(), ..metadata };
    assert_eq!(
        hex(&postcard::to_allocvec(&metadata).unwrap()),
        "010c0301010101020102020103613a310203623a3280d095ffbc31000000000128653065316639666162666339643438303063383737613730336238323361633035373866663864620872657475726e203101036c6962036c69623b23216c7561206e616d653d6c69620a72656469732e72656769737465725f66756e6374696f6e282766272c2066756e6374696f6e282920656e6429010166016601016401010166036c69620205616c69636584016f6e202333306339353266616231323263336639373539663032613664393563333735386232343662346665653233393935376232643466656534366532363137306334207e6b2a2072657365746368616e6e656c73202d40616c6c202b4072656164202825577e772a2072657365746368616e6e656c73202d40616c6c202b736574290764656661756c74156f6e206e6f70617373207e2a20262a202b40616c6c",
        "the snapshot metadata's bytes changed"
    );
    assert_eq!(decode_metadata(7, &postcard::to_allocvec(&metadata).unwrap()).unwrap(), metadata);
}

/// The metadata frame of a version 6 snapshot with one script and one function library.
const VERSION_6_METADATA: &str = "010c0301010101020102020103613a310203623a3280d095ffbc31000000000128653065316639666162666339643438303063383737613730336238323361633035373866663864620872657475726e203101036c6962036c69623b23216c7561206e616d653d6c69620a72656469732e72656769737465725f66756e6374696f6e282766272c2066756e6374696f6e282920656e6429010166016601016401010166036c6962";

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).expect("hex digits"))
        .collect()
}
