//! The enums of log entries: `Write`, every nested enum a write carries, and `Read` (a
//! transaction carries its queued reads through the log).
//!
//! Samples are parsed from commands where a command makes them, so that a row reads as what a
//! client sent; the rest are built by hand.

use bytes::Bytes;

use super::{check, Checked};
use crate::command::acl::script::UserWrite;
use crate::command::acl::AclWrite;
use crate::command::bitmaps::{
    BitOperation, BitmapRead, BitmapWrite, Field, FieldOperation, Overflow,
};
use crate::command::blocking::{Block, BlockingPop, BlockingWrite, WaiterId};
use crate::command::geo::{GeoRead, GeoWrite, SearchForm};
use crate::command::hashes::{HashRead, HashWrite};
use crate::command::hyperloglog::{HyperLogLogRead, HyperLogLogWrite};
use crate::command::keys::{KeyRead, KeyWrite, ObjectQuestion, TimeToLiveForm};
use crate::command::lists::{InsertPlace, ListEnd, ListRead, ListWrite};
use crate::command::pubsub::{SubscriptionKind, SubscriptionWrite};
use crate::command::scripting::functions::{
    FunctionCall, FunctionRead, FunctionWrite, RestorePolicy,
};
use crate::command::scripting::{Invocation, ScriptRead, ScriptSource, ScriptWrite};
use crate::command::sets::{SetOperation, SetRead, SetWrite};
use crate::command::streams::{
    AddId, ClaimDelivery, GroupStart, ReadFrom, ReadGroupFrom, StreamGroupWrite, StreamRead,
    StreamWrite,
};
use crate::command::strings::{
    Expiry, ExpiryUnit, LcsReply, SetCondition, SetVariant, StringRead, StringWrite, TtlChange,
};
use crate::command::transactions::{Operation, Step, Transaction};
use crate::command::zsets::{
    AddComparison, AddCondition, Aggregate, CombineOperation, LexBound, RangeSpec, ZsetRead,
    ZsetWrite,
};
use crate::command::{parse, Command, Read, Write};
use crate::store::stream::{StreamId, TrimStrategy};

/// The command a client would send, parsed.
fn parsed(line: &str) -> Command {
    let arguments = line.split(' ').map(|word| Bytes::copy_from_slice(word.as_bytes())).collect();
    parse(arguments).unwrap().command.unwrap()
}

fn write(line: &str) -> Write {
    match parsed(line) {
        Command::Write(write) => write,
        other => panic!("{line:?} is not a write: {other:?}"),
    }
}

fn read(line: &str) -> Read {
    match parsed(line) {
        Command::Read(read) => read,
        other => panic!("{line:?} is not a read: {other:?}"),
    }
}

/// Rows of `(command, hex)`, each command parsed and narrowed to the enum under test.
fn rows<T>(table: &[(&str, &'static str)], narrow: fn(&str) -> T) -> Vec<(T, &'static str)> {
    table.iter().map(|(line, hex)| (narrow(line), *hex)).collect()
}

const WAITER: WaiterId = WaiterId { node: 1, incarnation: 7, connection: 3 };

fn block(line: &str) -> Block {
    match write(line) {
        Write::Blocking(BlockingWrite::Block(block)) => Block { waiter: WAITER, ..block },
        other => panic!("{line:?} is not blocking: {other:?}"),
    }
}

pub(super) fn enums(failures: &mut Vec<String>) -> Vec<Checked> {
    vec![
        write_enum(failures),
        string_write(failures),
        key_write(failures),
        list_write(failures),
        zset_write(failures),
        hash_write(failures),
        set_write(failures),
        blocking_write(failures),
        subscription_write(failures),
        bitmap_write(failures),
        hyperloglog_write(failures),
        script_enums(failures),
        function_enums(failures),
        read_enum(failures),
        bitmap_read(failures),
        hyperloglog_read(failures),
        geo_write(failures),
        geo_read(failures),
        stream_write(failures),
        stream_group_write(failures),
        stream_read(failures),
        stream_parts(failures),
        search_form(failures),
        string_read(failures),
        key_read(failures),
        list_read(failures),
        zset_read(failures),
        hash_read(failures),
        set_read(failures),
        operation(failures),
        leaves(failures),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn write_enum(failures: &mut Vec<String>) -> Vec<Checked> {
    let transaction = Write::Transaction(Box::new(Transaction {
        watched: Vec::new(),
        steps: vec![
            Step { db: 0, operation: Operation::Write(write("SET k v")) },
            Step { db: 1, operation: Operation::Read(read("GET k")) },
        ],
    }));
    let samples = vec![
        (write("SET k v"), "0000016b017600000000"),
        (write("DEL k"), "010001016b"),
        (write("LPUSH k a"), "0200016b0001016100"),
        (write("ZADD k 1 m"), "0300016b0000000001000000000000f03f016d"),
        (write("HSET k f v"), "0400016b010166017600"),
        (write("SADD k m"), "0500016b01016d"),
        (write("SORT k"), "06016b00000000000000"),
        (transaction, "07000200010000016b01760000000001000000016b"),
        (Write::Blocking(BlockingWrite::ExpireReservations), "0806"),
        (write("PUBLISH channel message"), "09076368616e6e656c076d657373616765"),
        (
            Write::Subscriptions(SubscriptionWrite::UnsubscribeAll { subscriber: WAITER }),
            "0a02010703",
        ),
        (write("SETBIT k 7 1"), "0b00016b0701"),
        (write("PFADD k a"), "0c00016b010161"),
        (write("SCRIPT FLUSH"), "0d02"),
        (write("GEOADD k 1 2 m"), "0e00016b000001000000000000f03f0000000000000040016d"),
        (write("XADD k 1-2 f v"), "0f00016b00000201020101660176"),
        (write("ACL DELUSER u"), "1001010175"),
        (
            Write::AsUser(Box::new(UserWrite {
                user: Bytes::from_static(b"u"),
                write: write("SCRIPT FLUSH"),
            })),
            "1101750d02",
        ),
    ];
    let tag = |write: &Write| match write {
        Write::String(_) => 0,
        Write::Key(_) => 1,
        Write::List(_) => 2,
        Write::Zset(_) => 3,
        Write::Hash(_) => 4,
        Write::Set(_) => 5,
        Write::Sort(_) => 6,
        Write::Transaction(_) => 7,
        Write::Blocking(_) => 8,
        Write::Publish(_) => 9,
        Write::Subscriptions(_) => 10,
        Write::Bitmap(_) => 11,
        Write::HyperLogLog(_) => 12,
        Write::Script(_) => 13,
        Write::Geo(_) => 14,
        Write::Stream(_) => 15,
        Write::Acl(_) => 16,
        Write::AsUser(_) => 17,
    };
    vec![check("Write", samples, tag, failures), acl_write(failures)]
}

/// ACL SETUSER carries its rules with the password hashed, never as typed.
fn acl_write(failures: &mut Vec<String>) -> Checked {
    let narrow = |write: Write| match write {
        Write::Acl(write) => write,
        other => panic!("not an ACL write: {other:?}"),
    };
    let samples = vec![
        (narrow(write("ACL SETUSER u on >p")), "00017502026f6e412331343864653963356137613434643139653536636439616531613535346266363738343761666230633538663665313266613239616337646466636139393430"),
        (narrow(write("ACL DELUSER u")), "01010175"),
        (AclWrite::DefaultPassword { hash: None }, "0200"),
    ];
    let tag = |write: &AclWrite| match write {
        AclWrite::SetUser { .. } => 0,
        AclWrite::DelUser { .. } => 1,
        AclWrite::DefaultPassword { .. } => 2,
    };
    check("AclWrite", samples, tag, failures)
}

/// A script request carries its body or SHA, its keys and its arguments.
fn script_enums(failures: &mut Vec<String>) -> Vec<Checked> {
    let invocation = Invocation {
        keys: vec![Bytes::from_static(b"k")],
        arguments: vec![Bytes::from_static(b"a")],
    };
    let body = ScriptSource::Body(Bytes::from_static(b"return 1"));
    let sha = ScriptSource::Sha(Bytes::from_static(b"e0e1f9fabfc9d4800c877a703b823ac0578ff8db"));
    let writes = vec![
        (
            ScriptWrite::Run { source: body.clone(), invocation: invocation.clone() },
            "00000872657475726e203101016b010161",
        ),
        (ScriptWrite::Load { body: Bytes::from_static(b"return 1") }, "010872657475726e2031"),
        (ScriptWrite::Flush, "02"),
        (ScriptWrite::Function(FunctionWrite::Flush), "0303"),
    ];
    let write_tag = |write: &ScriptWrite| match write {
        ScriptWrite::Run { .. } => 0,
        ScriptWrite::Load { .. } => 1,
        ScriptWrite::Flush => 2,
        ScriptWrite::Function(_) => 3,
    };
    let reads = vec![
        (
            ScriptRead::Run { source: sha.clone(), invocation },
            "0001286530653166396661626663396434383030633837376137303362383233616330353738666638646201016b010161",
        ),
        (ScriptRead::Exists { shas: vec![Bytes::from_static(b"a")] }, "01010161"),
        (ScriptRead::Function(FunctionRead::Dump), "0202"),
    ];
    let read_tag = |read: &ScriptRead| match read {
        ScriptRead::Run { .. } => 0,
        ScriptRead::Exists { .. } => 1,
        ScriptRead::Function(_) => 2,
    };
    let sources = vec![
        (body, "000872657475726e2031"),
        (
            sha,
            "012865306531663966616266633964343830306338373761373033623832336163303537386666386462",
        ),
    ];
    let source_tag = |source: &ScriptSource| match source {
        ScriptSource::Body(_) => 0,
        ScriptSource::Sha(_) => 1,
    };
    vec![
        check("ScriptWrite", writes, write_tag, failures),
        check("ScriptRead", reads, read_tag, failures),
        check("ScriptSource", sources, source_tag, failures),
    ]
}

/// A function request: FCALL names the function and carries numkeys, keys and arguments as
/// given; the FUNCTION subcommands carry what they change.
fn function_enums(failures: &mut Vec<String>) -> Vec<Checked> {
    let call = FunctionCall {
        function: Bytes::from_static(b"f"),
        arguments: vec![Bytes::from_static(b"1"), Bytes::from_static(b"k")],
    };
    let writes = vec![
        (FunctionWrite::Call(call.clone()), "000166020131016b"),
        (FunctionWrite::Load { code: Bytes::from_static(b"c"), replace: true }, "01016301"),
        (FunctionWrite::Delete { library: Bytes::from_static(b"l") }, "02016c"),
        (FunctionWrite::Flush, "03"),
        (
            FunctionWrite::Restore {
                payload: Bytes::from_static(b"p"),
                policy: RestorePolicy::Replace,
            },
            "04017001",
        ),
    ];
    let write_tag = |write: &FunctionWrite| match write {
        FunctionWrite::Call(_) => 0,
        FunctionWrite::Load { .. } => 1,
        FunctionWrite::Delete { .. } => 2,
        FunctionWrite::Flush => 3,
        FunctionWrite::Restore { .. } => 4,
    };
    let reads = vec![
        (FunctionRead::Call { call, read_only_command: true }, "000166020131016b01"),
        (
            FunctionRead::List { pattern: Some(Bytes::from_static(b"p*")), with_code: true },
            "010102702a01",
        ),
        (FunctionRead::Dump, "02"),
        (FunctionRead::Stats, "03"),
    ];
    let read_tag = |read: &FunctionRead| match read {
        FunctionRead::Call { .. } => 0,
        FunctionRead::List { .. } => 1,
        FunctionRead::Dump => 2,
        FunctionRead::Stats => 3,
    };
    let policies = vec![
        (RestorePolicy::Append, "00"),
        (RestorePolicy::Replace, "01"),
        (RestorePolicy::Flush, "02"),
    ];
    let policy_tag = |policy: &RestorePolicy| match policy {
        RestorePolicy::Append => 0,
        RestorePolicy::Replace => 1,
        RestorePolicy::Flush => 2,
    };
    vec![
        check("FunctionWrite", writes, write_tag, failures),
        check("FunctionRead", reads, read_tag, failures),
        check("RestorePolicy", policies, policy_tag, failures),
    ]
}

fn subscription_write(failures: &mut Vec<String>) -> Vec<Checked> {
    let names = vec![Bytes::from_static(b"news"), Bytes::from_static(b"n*")];
    let samples = vec![
        (
            SubscriptionWrite::Subscribe {
                subscriber: WAITER,
                kind: SubscriptionKind::Channel,
                names: names.clone(),
            },
            "000107030002046e657773026e2a",
        ),
        (
            SubscriptionWrite::Unsubscribe {
                subscriber: WAITER,
                kind: SubscriptionKind::Pattern,
                names: Vec::new(),
            },
            "010107030100",
        ),
        (SubscriptionWrite::UnsubscribeAll { subscriber: WAITER }, "02010703"),
        (SubscriptionWrite::ForgetEarlierRuns { node: 1, incarnation: 7 }, "030107"),
        (SubscriptionWrite::ForgetNode { node: 2 }, "0402"),
    ];
    let tag = |write: &SubscriptionWrite| match write {
        SubscriptionWrite::Subscribe { .. } => 0,
        SubscriptionWrite::Unsubscribe { .. } => 1,
        SubscriptionWrite::UnsubscribeAll { .. } => 2,
        SubscriptionWrite::ForgetEarlierRuns { .. } => 3,
        SubscriptionWrite::ForgetNode { .. } => 4,
    };
    let kinds = vec![(SubscriptionKind::Channel, "00"), (SubscriptionKind::Pattern, "01")];
    let kind_tag = |kind: &SubscriptionKind| match kind {
        SubscriptionKind::Channel => 0,
        SubscriptionKind::Pattern => 1,
    };
    vec![
        check("SubscriptionWrite", samples, tag, failures),
        check("SubscriptionKind", kinds, kind_tag, failures),
    ]
}

fn string_write(failures: &mut Vec<String>) -> Vec<Checked> {
    let narrow = |line: &str| match write(line) {
        Write::String(write) => write,
        other => panic!("{line:?} is not a string write: {other:?}"),
    };
    let samples = rows(
        &[
            ("SET k v EX 10 NX GET", "00016b017601000100140100"),
            ("GETDEL k", "01016b"),
            ("GETEX k PX 5", "02016b0101010135"),
            ("MSETNX k v", "0301016b017601"),
            ("APPEND k v", "04016b0176"),
            ("SETRANGE k 2 v", "05016b020176"),
            ("DECRBY k 2", "06016b03"),
            ("INCRBYFLOAT k 1.5", "07016b03312e35"),
            ("CONCORD.CAS k old new", "08016b036f6c64036e657700"),
        ],
        narrow,
    );
    let tag = |write: &StringWrite| match write {
        StringWrite::Set(_) => 0,
        StringWrite::GetDel { .. } => 1,
        StringWrite::GetEx { .. } => 2,
        StringWrite::MSet { .. } => 3,
        StringWrite::Append { .. } => 4,
        StringWrite::SetRange { .. } => 5,
        StringWrite::IncrBy { .. } => 6,
        StringWrite::IncrByFloat { .. } => 7,
        StringWrite::CompareAndSet { .. } => 8,
    };
    vec![check("StringWrite", samples, tag, failures)]
}

fn key_write(failures: &mut Vec<String>) -> Vec<Checked> {
    let narrow = |line: &str| match write(line) {
        Write::Key(write) => write,
        other => panic!("{line:?} is not a key write: {other:?}"),
    };
    let mut samples = rows(
        &[
            ("DEL a b", "000201610162"),
            ("TOUCH a", "01010161"),
            ("RENAMENX a b", "020161016201"),
            ("COPY a b DB 2 REPLACE", "0301610162010201"),
            ("MOVE k 1", "04016b01"),
            ("PEXPIREAT k 100 GT", "05016bc801000000000100"),
            ("PERSIST k", "06016b"),
            ("FLUSHDB", "07"),
            ("FLUSHALL", "08"),
            ("SWAPDB 0 1", "090001"),
        ],
        narrow,
    );
    samples.extend(rows(
        &[("RESTORE k 5 payload REPLACE IDLETIME 7", "0b016b0135077061796c6f61640100010700")],
        narrow,
    ));
    samples.push((KeyWrite::DeleteExpired { keys: vec![Bytes::from_static(b"k")] }, "0a01016b"));
    let tag = |write: &KeyWrite| match write {
        KeyWrite::Del { .. } => 0,
        KeyWrite::Touch { .. } => 1,
        KeyWrite::Rename { .. } => 2,
        KeyWrite::Copy { .. } => 3,
        KeyWrite::Move { .. } => 4,
        KeyWrite::Expire(_) => 5,
        KeyWrite::Persist { .. } => 6,
        KeyWrite::FlushDb => 7,
        KeyWrite::FlushAll => 8,
        KeyWrite::SwapDb { .. } => 9,
        KeyWrite::DeleteExpired { .. } => 10,
        KeyWrite::Restore(_) => 11,
    };
    vec![check("KeyWrite", samples, tag, failures)]
}

fn list_write(failures: &mut Vec<String>) -> Vec<Checked> {
    let narrow = |line: &str| match write(line) {
        Write::List(write) => write,
        other => panic!("{line:?} is not a list write: {other:?}"),
    };
    let samples = rows(
        &[
            ("RPUSHX k a b", "00016b01020161016201"),
            ("LPOP k 2", "01016b000102"),
            ("LSET k -1 v", "02016b022d310176"),
            ("LREM k -2 v", "03016b030176"),
            ("LTRIM k 1 -1", "04016b0201"),
            ("LINSERT k AFTER p v", "05016b0101700176"),
            ("LMOVE a b LEFT RIGHT", "06016101620001"),
            ("LMPOP 2 a b RIGHT COUNT 3", "0702016101620103"),
        ],
        narrow,
    );
    let tag = |write: &ListWrite| match write {
        ListWrite::Push { .. } => 0,
        ListWrite::Pop { .. } => 1,
        ListWrite::Set { .. } => 2,
        ListWrite::Remove { .. } => 3,
        ListWrite::Trim { .. } => 4,
        ListWrite::Insert { .. } => 5,
        ListWrite::Move { .. } => 6,
        ListWrite::MultiPop { .. } => 7,
    };
    vec![check("ListWrite", samples, tag, failures)]
}

fn zset_write(failures: &mut Vec<String>) -> Vec<Checked> {
    let narrow = |line: &str| match write(line) {
        Write::Zset(write) => write,
        other => panic!("{line:?} is not a sorted-set write: {other:?}"),
    };
    let samples = rows(
        &[
            ("ZADD k XX GT CH 1.5 m", "00016b01010100010001000000000000f83f016d"),
            ("ZINCRBY k 2 m", "01016b0000000000000040016d"),
            ("ZREM k m", "02016b01016d"),
            (
                "ZRANGESTORE d k (1 +inf BYSCORE LIMIT 0 2",
                "030164016b01000000000000f03f01000000000000f07f000001000400",
            ),
            ("ZPOPMAX k 2", "0401016b01010200"),
            ("ZREMRANGEBYLEX k [a (c", "05016b02020161030163"),
            (
                "ZINTERSTORE d 2 a b WEIGHTS 1 2 AGGREGATE MAX",
                "0601640102016101620002000000000000f03f00000000000000400200",
            ),
        ],
        narrow,
    );
    let tag = |write: &ZsetWrite| match write {
        ZsetWrite::Add(_) => 0,
        ZsetWrite::IncrBy { .. } => 1,
        ZsetWrite::Rem { .. } => 2,
        ZsetWrite::RangeStore { .. } => 3,
        ZsetWrite::Pop(_) => 4,
        ZsetWrite::RemRange { .. } => 5,
        ZsetWrite::CombineStore { .. } => 6,
    };
    vec![check("ZsetWrite", samples, tag, failures)]
}

fn hash_write(failures: &mut Vec<String>) -> Vec<Checked> {
    let narrow = |line: &str| match write(line) {
        Write::Hash(write) => write,
        other => panic!("{line:?} is not a hash write: {other:?}"),
    };
    let samples = rows(
        &[
            ("HMSET k f v", "00016b010166017601"),
            ("HSETNX k f v", "01016b01660176"),
            ("HDEL k f g", "02016b0201660167"),
            ("HINCRBY k f -3", "03016b016605"),
            ("HINCRBYFLOAT k f 0.5", "04016b016603302e35"),
        ],
        narrow,
    );
    let tag = |write: &HashWrite| match write {
        HashWrite::Set { .. } => 0,
        HashWrite::SetNx { .. } => 1,
        HashWrite::Del { .. } => 2,
        HashWrite::IncrBy { .. } => 3,
        HashWrite::IncrByFloat { .. } => 4,
    };
    vec![check("HashWrite", samples, tag, failures)]
}

fn set_write(failures: &mut Vec<String>) -> Vec<Checked> {
    let narrow = |line: &str| match write(line) {
        Write::Set(write) => write,
        other => panic!("{line:?} is not a set write: {other:?}"),
    };
    let samples = rows(
        &[
            ("SADD k m n", "00016b02016d016e"),
            ("SREM k m", "01016b01016d"),
            ("SPOP k 2", "02016b0102"),
            ("SMOVE a b m", "0301610162016d"),
            ("SDIFFSTORE d a b", "040201640201610162"),
        ],
        narrow,
    );
    let tag = |write: &SetWrite| match write {
        SetWrite::Add { .. } => 0,
        SetWrite::Remove { .. } => 1,
        SetWrite::Pop { .. } => 2,
        SetWrite::Move { .. } => 3,
        SetWrite::Store { .. } => 4,
    };
    vec![check("SetWrite", samples, tag, failures)]
}

fn blocking_write(failures: &mut Vec<String>) -> Vec<Checked> {
    let samples = vec![
        (BlockingWrite::Block(block("BLPOP a b 0")), "000107030002016101620000"),
        (BlockingWrite::Unblock { waiter: WAITER }, "01010703"),
        (BlockingWrite::ForgetEarlierRuns { node: 1, incarnation: 7 }, "020107"),
        (BlockingWrite::BlockWithReservation(block("BZPOPMAX k 1.5")), "030107030301016b01dc0b"),
        (BlockingWrite::Delivered { waiter: WAITER }, "04010703"),
        (BlockingWrite::Cancel { waiter: WAITER }, "05010703"),
        (BlockingWrite::ExpireReservations, "06"),
        (BlockingWrite::ForgetNode { node: 3 }, "0703"),
    ];
    let tag = |write: &BlockingWrite| match write {
        BlockingWrite::Block(_) => 0,
        BlockingWrite::Unblock { .. } => 1,
        BlockingWrite::ForgetEarlierRuns { .. } => 2,
        BlockingWrite::BlockWithReservation(_) => 3,
        BlockingWrite::Delivered { .. } => 4,
        BlockingWrite::Cancel { .. } => 5,
        BlockingWrite::ExpireReservations => 6,
        BlockingWrite::ForgetNode { .. } => 7,
    };
    let pops = rows(
        &[
            ("BRPOP a 0", "0001016101"),
            ("BLMOVE a b RIGHT LEFT 0", "01016101620100"),
            ("BLMPOP 0 1 a LEFT COUNT 2", "020101610002"),
            ("BZPOPMIN a 0", "0301016100"),
            ("BZMPOP 0 1 a MAX COUNT 2", "040101610102"),
            ("XREAD COUNT 2 BLOCK 0 STREAMS a b $ 1-2", "05020201610000016200010102"),
            ("XREADGROUP GROUP g c NOACK BLOCK 5 STREAMS a >", "0601670163000101016100"),
        ],
        |line| block(line).pop,
    );
    let pop_tag = |pop: &BlockingPop| match pop {
        BlockingPop::List { .. } => 0,
        BlockingPop::Move { .. } => 1,
        BlockingPop::ListMany { .. } => 2,
        BlockingPop::Zset { .. } => 3,
        BlockingPop::ZsetMany { .. } => 4,
        BlockingPop::Streams { .. } => 5,
        BlockingPop::StreamGroup { .. } => 6,
    };
    vec![
        check("BlockingWrite", samples, tag, failures),
        check("BlockingPop", pops, pop_tag, failures),
    ]
}

fn read_enum(failures: &mut Vec<String>) -> Vec<Checked> {
    let samples = rows(
        &[
            ("GET k", "0000016b"),
            ("EXISTS k", "010001016b"),
            ("LLEN k", "0200016b"),
            ("ZCARD k", "0302016b"),
            ("HLEN k", "0402016b"),
            ("SCARD k", "0503016b"),
            ("SORT_RO k", "06016b00000000000000"),
            ("GETBIT k 7", "0700016b07"),
            ("PFCOUNT k", "080001016b"),
            ("SCRIPT EXISTS a", "0901010161"),
        ],
        read,
    );
    let mut samples = samples;
    samples.push((read("GEOPOS k m"), "0a00016b01016d"));
    samples.push((read("XLEN k"), "0b00016b"));
    let tag = |read: &Read| match read {
        Read::String(_) => 0,
        Read::Key(_) => 1,
        Read::List(_) => 2,
        Read::Zset(_) => 3,
        Read::Hash(_) => 4,
        Read::Set(_) => 5,
        Read::Sort(_) => 6,
        Read::Bitmap(_) => 7,
        Read::HyperLogLog(_) => 8,
        Read::Script(_) => 9,
        Read::Geo(_) => 10,
        Read::Stream(_) => 11,
    };
    vec![check("Read", samples, tag, failures)]
}

fn string_read(failures: &mut Vec<String>) -> Vec<Checked> {
    let narrow = |line: &str| match read(line) {
        Read::String(read) => read,
        other => panic!("{line:?} is not a string read: {other:?}"),
    };
    let samples = rows(
        &[
            ("GET k", "00016b"),
            ("MGET a b", "010201610162"),
            ("STRLEN k", "02016b"),
            ("GETRANGE k 0 -1", "03016b0001"),
            ("LCS a b IDX MINMATCHLEN 2 WITHMATCHLEN", "040161016200020201"),
        ],
        narrow,
    );
    let tag = |read: &StringRead| match read {
        StringRead::Get { .. } => 0,
        StringRead::MGet { .. } => 1,
        StringRead::StrLen { .. } => 2,
        StringRead::GetRange { .. } => 3,
        StringRead::Lcs(_) => 4,
    };
    vec![check("StringRead", samples, tag, failures)]
}

fn key_read(failures: &mut Vec<String>) -> Vec<Checked> {
    let narrow = |line: &str| match read(line) {
        Read::Key(read) => read,
        other => panic!("{line:?} is not a key read: {other:?}"),
    };
    let samples = rows(
        &[
            ("EXISTS a b", "000201610162"),
            ("TYPE k", "01016b"),
            ("KEYS a*", "0202612a"),
            ("SCAN 5 MATCH a* COUNT 20 TYPE list", "03050102612a1401046c697374"),
            ("RANDOMKEY", "04"),
            ("PTTL k", "05016b01"),
            ("OBJECT FREQ k", "06016b01"),
            ("OBJECT HELP", "07"),
            ("DBSIZE", "08"),
            ("DUMP k", "09016b"),
        ],
        narrow,
    );
    let tag = |read: &KeyRead| match read {
        KeyRead::Exists { .. } => 0,
        KeyRead::Type { .. } => 1,
        KeyRead::Keys { .. } => 2,
        KeyRead::Scan(_) => 3,
        KeyRead::RandomKey => 4,
        KeyRead::TimeToLive { .. } => 5,
        KeyRead::Object { .. } => 6,
        KeyRead::ObjectHelp => 7,
        KeyRead::DbSize => 8,
        KeyRead::Dump { .. } => 9,
    };
    vec![check("KeyRead", samples, tag, failures)]
}

fn list_read(failures: &mut Vec<String>) -> Vec<Checked> {
    let narrow = |line: &str| match read(line) {
        Read::List(read) => read,
        other => panic!("{line:?} is not a list read: {other:?}"),
    };
    let samples = rows(
        &[
            ("LLEN k", "00016b"),
            ("LRANGE k 0 -1", "01016b0001"),
            ("LINDEX k -1", "02016b022d31"),
            ("LPOS k v RANK -1 COUNT 2 MAXLEN 10", "03016b0176010001020a"),
        ],
        narrow,
    );
    let tag = |read: &ListRead| match read {
        ListRead::Len { .. } => 0,
        ListRead::Range { .. } => 1,
        ListRead::Index { .. } => 2,
        ListRead::Position(_) => 3,
    };
    vec![check("ListRead", samples, tag, failures)]
}

fn zset_read(failures: &mut Vec<String>) -> Vec<Checked> {
    let narrow = |line: &str| match read(line) {
        Read::Zset(read) => read,
        other => panic!("{line:?} is not a sorted-set read: {other:?}"),
    };
    let samples = rows(
        &[
            ("ZSCORE k m", "00016b016d"),
            ("ZMSCORE k m n", "01016b02016d016e"),
            ("ZCARD k", "02016b"),
            ("ZCOUNT k -inf (5", "03016b000000000000f0ff00000000000000144001"),
            ("ZLEXCOUNT k - +", "04016b0001"),
            ("ZRANGE k 0 -1 REV WITHSCORES", "05016b000001010001"),
            ("ZREVRANK k m", "06016b016d01"),
            ("ZRANDMEMBER k -3 WITHSCORES", "07016b010501"),
            (
                "ZUNION 2 a b AGGREGATE MIN WITHSCORES",
                "080002016101620002000000000000f03f000000000000f03f0101",
            ),
            ("ZINTERCARD 2 a b LIMIT 5", "0902016101620005"),
            ("ZSCAN k 0 MATCH m* COUNT 5", "0a016b000001026d2a05"),
        ],
        narrow,
    );
    let tag = |read: &ZsetRead| match read {
        ZsetRead::Score { .. } => 0,
        ZsetRead::MScore { .. } => 1,
        ZsetRead::Card { .. } => 2,
        ZsetRead::Count { .. } => 3,
        ZsetRead::LexCount { .. } => 4,
        ZsetRead::Range(_) => 5,
        ZsetRead::Rank { .. } => 6,
        ZsetRead::RandMember { .. } => 7,
        ZsetRead::Combine(_) => 8,
        ZsetRead::InterCard { .. } => 9,
        ZsetRead::Scan { .. } => 10,
    };
    vec![check("ZsetRead", samples, tag, failures)]
}

fn hash_read(failures: &mut Vec<String>) -> Vec<Checked> {
    let narrow = |line: &str| match read(line) {
        Read::Hash(read) => read,
        other => panic!("{line:?} is not a hash read: {other:?}"),
    };
    let samples = rows(
        &[
            ("HGET k f", "00016b0166"),
            ("HMGET k f g", "01016b0201660167"),
            ("HLEN k", "02016b"),
            ("HEXISTS k f", "03016b0166"),
            ("HKEYS k", "04016b"),
            ("HVALS k", "05016b"),
            ("HGETALL k", "06016b"),
            ("HSTRLEN k f", "07016b0166"),
            ("HRANDFIELD k -2 WITHVALUES", "08016b010301"),
            ("HSCAN k 0 MATCH f* COUNT 5", "09016b00000102662a05"),
        ],
        narrow,
    );
    let tag = |read: &HashRead| match read {
        HashRead::Get { .. } => 0,
        HashRead::MGet { .. } => 1,
        HashRead::Len { .. } => 2,
        HashRead::Exists { .. } => 3,
        HashRead::Keys { .. } => 4,
        HashRead::Values { .. } => 5,
        HashRead::GetAll { .. } => 6,
        HashRead::StrLen { .. } => 7,
        HashRead::RandomField { .. } => 8,
        HashRead::Scan { .. } => 9,
    };
    vec![check("HashRead", samples, tag, failures)]
}

fn set_read(failures: &mut Vec<String>) -> Vec<Checked> {
    let narrow = |line: &str| match read(line) {
        Read::Set(read) => read,
        other => panic!("{line:?} is not a set read: {other:?}"),
    };
    let samples = rows(
        &[
            ("SISMEMBER k m", "00016b016d"),
            ("SMISMEMBER k m n", "01016b02016d016e"),
            ("SMEMBERS k", "02016b"),
            ("SCARD k", "03016b"),
            ("SRANDMEMBER k -2", "04016b0103"),
            ("SINTER a b", "05000201610162"),
            ("SINTERCARD 2 a b LIMIT 3", "06020161016203"),
            ("SSCAN k 0 MATCH m* COUNT 5", "07016b000001026d2a05"),
        ],
        narrow,
    );
    let tag = |read: &SetRead| match read {
        SetRead::IsMember { .. } => 0,
        SetRead::MIsMember { .. } => 1,
        SetRead::Members { .. } => 2,
        SetRead::Card { .. } => 3,
        SetRead::RandomMember { .. } => 4,
        SetRead::Combine { .. } => 5,
        SetRead::InterCard { .. } => 6,
        SetRead::Scan { .. } => 7,
    };
    vec![check("SetRead", samples, tag, failures)]
}

fn operation(failures: &mut Vec<String>) -> Vec<Checked> {
    let samples = vec![
        (Operation::Read(read("GET k")), "000000016b"),
        (Operation::Write(write("DEL k")), "01010001016b"),
    ];
    let tag = |operation: &Operation| match operation {
        Operation::Read(_) => 0,
        Operation::Write(_) => 1,
    };
    vec![check("Operation", samples, tag, failures)]
}

/// The small enums inside commands: options, ends, units and bounds.
fn leaves(failures: &mut Vec<String>) -> Vec<Checked> {
    let bytes = Bytes::from_static(b"m");
    vec![
        check(
            "ListEnd",
            vec![(ListEnd::Left, "00"), (ListEnd::Right, "01")],
            |end| match end {
                ListEnd::Left => 0,
                ListEnd::Right => 1,
            },
            failures,
        ),
        check(
            "InsertPlace",
            vec![(InsertPlace::Before, "00"), (InsertPlace::After, "01")],
            |place| match place {
                InsertPlace::Before => 0,
                InsertPlace::After => 1,
            },
            failures,
        ),
        check(
            "SetVariant",
            vec![
                (SetVariant::Set, "00"),
                (SetVariant::SetNx, "01"),
                (SetVariant::SetEx, "02"),
                (SetVariant::PSetEx, "03"),
                (SetVariant::GetSet, "04"),
            ],
            |variant| match variant {
                SetVariant::Set => 0,
                SetVariant::SetNx => 1,
                SetVariant::SetEx => 2,
                SetVariant::PSetEx => 3,
                SetVariant::GetSet => 4,
            },
            failures,
        ),
        check(
            "SetCondition",
            vec![(SetCondition::IfAbsent, "00"), (SetCondition::IfPresent, "01")],
            |condition| match condition {
                SetCondition::IfAbsent => 0,
                SetCondition::IfPresent => 1,
            },
            failures,
        ),
        check(
            "Expiry",
            vec![
                (Expiry::Seconds(10), "0014"),
                (Expiry::Milliseconds(-1), "0101"),
                (Expiry::UnixSeconds(100), "02c801"),
                (Expiry::UnixMilliseconds(100_000), "03c09a0c"),
                (Expiry::KeepTtl, "04"),
            ],
            |expiry| match expiry {
                Expiry::Seconds(_) => 0,
                Expiry::Milliseconds(_) => 1,
                Expiry::UnixSeconds(_) => 2,
                Expiry::UnixMilliseconds(_) => 3,
                Expiry::KeepTtl => 4,
            },
            failures,
        ),
        check(
            "ExpiryUnit",
            vec![
                (ExpiryUnit::Seconds, "00"),
                (ExpiryUnit::Milliseconds, "01"),
                (ExpiryUnit::UnixSeconds, "02"),
                (ExpiryUnit::UnixMilliseconds, "03"),
            ],
            |unit| match unit {
                ExpiryUnit::Seconds => 0,
                ExpiryUnit::Milliseconds => 1,
                ExpiryUnit::UnixSeconds => 2,
                ExpiryUnit::UnixMilliseconds => 3,
            },
            failures,
        ),
        check(
            "TtlChange",
            vec![
                (TtlChange::Persist, "00"),
                (
                    TtlChange::Expire { unit: ExpiryUnit::Seconds, amount: bytes.clone() },
                    "0100016d",
                ),
            ],
            |change| match change {
                TtlChange::Persist => 0,
                TtlChange::Expire { .. } => 1,
            },
            failures,
        ),
        check(
            "LcsReply",
            vec![
                (LcsReply::Subsequence, "00"),
                (LcsReply::Length, "01"),
                (LcsReply::Indexes, "02"),
            ],
            |reply| match reply {
                LcsReply::Subsequence => 0,
                LcsReply::Length => 1,
                LcsReply::Indexes => 2,
            },
            failures,
        ),
        check(
            "TimeToLiveForm",
            vec![
                (TimeToLiveForm::RemainingSeconds, "00"),
                (TimeToLiveForm::RemainingMilliseconds, "01"),
                (TimeToLiveForm::UnixSeconds, "02"),
                (TimeToLiveForm::UnixMilliseconds, "03"),
            ],
            |form| match form {
                TimeToLiveForm::RemainingSeconds => 0,
                TimeToLiveForm::RemainingMilliseconds => 1,
                TimeToLiveForm::UnixSeconds => 2,
                TimeToLiveForm::UnixMilliseconds => 3,
            },
            failures,
        ),
        check(
            "ObjectQuestion",
            vec![
                (ObjectQuestion::Encoding, "00"),
                (ObjectQuestion::Frequency, "01"),
                (ObjectQuestion::IdleTime, "02"),
                (ObjectQuestion::ReferenceCount, "03"),
            ],
            |question| match question {
                ObjectQuestion::Encoding => 0,
                ObjectQuestion::Frequency => 1,
                ObjectQuestion::IdleTime => 2,
                ObjectQuestion::ReferenceCount => 3,
            },
            failures,
        ),
        check(
            "SetOperation",
            vec![
                (SetOperation::Intersection, "00"),
                (SetOperation::Union, "01"),
                (SetOperation::Difference, "02"),
            ],
            |operation| match operation {
                SetOperation::Intersection => 0,
                SetOperation::Union => 1,
                SetOperation::Difference => 2,
            },
            failures,
        ),
        check(
            "AddCondition",
            vec![(AddCondition::IfAbsent, "00"), (AddCondition::IfPresent, "01")],
            |condition| match condition {
                AddCondition::IfAbsent => 0,
                AddCondition::IfPresent => 1,
            },
            failures,
        ),
        check(
            "AddComparison",
            vec![(AddComparison::Greater, "00"), (AddComparison::Less, "01")],
            |comparison| match comparison {
                AddComparison::Greater => 0,
                AddComparison::Less => 1,
            },
            failures,
        ),
        check(
            "RangeSpec",
            rows(
                &[
                    ("ZREMRANGEBYRANK k 0 -1", "000001"),
                    ("ZREMRANGEBYSCORE k (1 5", "01000000000000f03f01000000000000144000"),
                    ("ZREMRANGEBYLEX k - (m", "020003016d"),
                ],
                |line| match write(line) {
                    Write::Zset(ZsetWrite::RemRange { range, .. }) => range,
                    other => panic!("{line:?} is not a range removal: {other:?}"),
                },
            ),
            |range| match range {
                RangeSpec::Rank { .. } => 0,
                RangeSpec::Score(_) => 1,
                RangeSpec::Lex(_) => 2,
            },
            failures,
        ),
        check(
            "LexBound",
            vec![
                (LexBound::Minimum, "00"),
                (LexBound::Maximum, "01"),
                (LexBound::Inclusive(bytes.clone()), "02016d"),
                (LexBound::Exclusive(bytes), "03016d"),
            ],
            |bound| match bound {
                LexBound::Minimum => 0,
                LexBound::Maximum => 1,
                LexBound::Inclusive(_) => 2,
                LexBound::Exclusive(_) => 3,
            },
            failures,
        ),
        check(
            "CombineOperation",
            vec![
                (CombineOperation::Union, "00"),
                (CombineOperation::Inter, "01"),
                (CombineOperation::Diff, "02"),
            ],
            |operation| match operation {
                CombineOperation::Union => 0,
                CombineOperation::Inter => 1,
                CombineOperation::Diff => 2,
            },
            failures,
        ),
        check(
            "Aggregate",
            vec![(Aggregate::Sum, "00"), (Aggregate::Min, "01"), (Aggregate::Max, "02")],
            |aggregate| match aggregate {
                Aggregate::Sum => 0,
                Aggregate::Min => 1,
                Aggregate::Max => 2,
            },
            failures,
        ),
    ]
}

fn bitmap_write(failures: &mut Vec<String>) -> Vec<Checked> {
    let narrow = |line: &str| match write(line) {
        Write::Bitmap(write) => write,
        other => panic!("{line:?} is not a bitmap write: {other:?}"),
    };
    let samples = rows(
        &[
            ("SETBIT k 7 1", "00016b0701"),
            ("BITOP XOR d a b", "010201640201610162"),
            (
                "BITFIELD k GET i5 #2 OVERFLOW SAT SET u3 1 -1 INCRBY i64 0 2",
                "02016b030001050a010003010101020140000401",
            ),
        ],
        narrow,
    );
    let tag = |write: &BitmapWrite| match write {
        BitmapWrite::SetBit { .. } => 0,
        BitmapWrite::Operation { .. } => 1,
        BitmapWrite::Fields { .. } => 2,
    };
    let field = Field { signed: false, bits: 3, offset: 1 };
    let operations = vec![
        (FieldOperation::Get(field), "00000301"),
        (FieldOperation::Set { field, value: -1, overflow: Overflow::Wrap }, "010003010100"),
        (FieldOperation::IncrBy { field, increment: 2, overflow: Overflow::Fail }, "020003010402"),
    ];
    let operation_tag = |operation: &FieldOperation| match operation {
        FieldOperation::Get(_) => 0,
        FieldOperation::Set { .. } => 1,
        FieldOperation::IncrBy { .. } => 2,
    };
    let overflows =
        vec![(Overflow::Wrap, "00"), (Overflow::Saturate, "01"), (Overflow::Fail, "02")];
    let overflow_tag = |overflow: &Overflow| match overflow {
        Overflow::Wrap => 0,
        Overflow::Saturate => 1,
        Overflow::Fail => 2,
    };
    let operations_of_bitop = vec![
        (BitOperation::And, "00"),
        (BitOperation::Or, "01"),
        (BitOperation::Xor, "02"),
        (BitOperation::Not, "03"),
    ];
    let bitop_tag = |operation: &BitOperation| match operation {
        BitOperation::And => 0,
        BitOperation::Or => 1,
        BitOperation::Xor => 2,
        BitOperation::Not => 3,
    };
    vec![
        check("BitmapWrite", samples, tag, failures),
        check("FieldOperation", operations, operation_tag, failures),
        check("Overflow", overflows, overflow_tag, failures),
        check("BitOperation", operations_of_bitop, bitop_tag, failures),
    ]
}

fn bitmap_read(failures: &mut Vec<String>) -> Vec<Checked> {
    let narrow = |line: &str| match read(line) {
        Read::Bitmap(read) => read,
        other => panic!("{line:?} is not a bitmap read: {other:?}"),
    };
    let samples = rows(
        &[
            ("GETBIT k 7", "00016b07"),
            ("BITCOUNT k 0 -1 BIT", "01016b030130022d3103424954"),
            ("BITPOS k 1 2", "02016b01010132"),
            ("BITFIELD_RO k GET i8 0", "03016b01010800"),
        ],
        narrow,
    );
    let tag = |read: &BitmapRead| match read {
        BitmapRead::GetBit { .. } => 0,
        BitmapRead::Count { .. } => 1,
        BitmapRead::Position { .. } => 2,
        BitmapRead::Fields { .. } => 3,
    };
    vec![check("BitmapRead", samples, tag, failures)]
}

fn hyperloglog_write(failures: &mut Vec<String>) -> Vec<Checked> {
    let narrow = |line: &str| match write(line) {
        Write::HyperLogLog(write) => write,
        other => panic!("{line:?} is not a HyperLogLog write: {other:?}"),
    };
    let samples = rows(
        &[
            ("PFADD k a", "00016b010161"),
            ("PFMERGE d s", "010164010173"),
            ("PFDEBUG GETREG k", "0206474554524547016b"),
        ],
        narrow,
    );
    let tag = |write: &HyperLogLogWrite| match write {
        HyperLogLogWrite::Add { .. } => 0,
        HyperLogLogWrite::Merge { .. } => 1,
        HyperLogLogWrite::Debug { .. } => 2,
    };
    vec![check("HyperLogLogWrite", samples, tag, failures)]
}

fn hyperloglog_read(failures: &mut Vec<String>) -> Vec<Checked> {
    let narrow = |line: &str| match read(line) {
        Read::HyperLogLog(read) => read,
        other => panic!("{line:?} is not a HyperLogLog read: {other:?}"),
    };
    let samples = rows(&[("PFCOUNT a b", "000201610162"), ("PFSELFTEST", "01")], narrow);
    let tag = |read: &HyperLogLogRead| match read {
        HyperLogLogRead::Count { .. } => 0,
        HyperLogLogRead::SelfTest => 1,
    };
    vec![check("HyperLogLogRead", samples, tag, failures)]
}

fn geo_write(failures: &mut Vec<String>) -> Vec<Checked> {
    let narrow = |line: &str| match write(line) {
        Write::Geo(write) => write,
        other => panic!("{line:?} is not a geo write: {other:?}"),
    };
    let samples = rows(
        &[
            ("GEOADD k XX CH 1 2 m", "00016b01010101000000000000f03f0000000000000040016d"),
            (
                "GEOSEARCHSTORE d k FROMMEMBER m BYRADIUS 1 m",
                "0105070164016b0a46524f4d4d454d424552016d0842595241444955530131016d",
            ),
        ],
        narrow,
    );
    let tag = |write: &GeoWrite| match write {
        GeoWrite::Add { .. } => 0,
        GeoWrite::SearchStore(_) => 1,
    };
    vec![check("GeoWrite", samples, tag, failures)]
}

fn geo_read(failures: &mut Vec<String>) -> Vec<Checked> {
    let narrow = |line: &str| match read(line) {
        Read::Geo(read) => read,
        other => panic!("{line:?} is not a geo read: {other:?}"),
    };
    let samples = rows(
        &[
            ("GEOPOS k m", "00016b01016d"),
            ("GEOHASH k m", "01016b01016d"),
            ("GEODIST k a b km", "02016b016101620000000000408f40"),
            ("GEORADIUS_RO k 1 2 3 m", "030205016b013101320133016d"),
        ],
        narrow,
    );
    let tag = |read: &GeoRead| match read {
        GeoRead::Position { .. } => 0,
        GeoRead::Hash { .. } => 1,
        GeoRead::Distance { .. } => 2,
        GeoRead::Search(_) => 3,
    };
    vec![check("GeoRead", samples, tag, failures)]
}

fn search_form(failures: &mut Vec<String>) -> Vec<Checked> {
    let samples = vec![
        (SearchForm::Radius, "00"),
        (SearchForm::RadiusByMember, "01"),
        (SearchForm::RadiusReadOnly, "02"),
        (SearchForm::RadiusByMemberReadOnly, "03"),
        (SearchForm::Search, "04"),
        (SearchForm::SearchStore, "05"),
    ];
    let tag = |form: &SearchForm| match form {
        SearchForm::Radius => 0,
        SearchForm::RadiusByMember => 1,
        SearchForm::RadiusReadOnly => 2,
        SearchForm::RadiusByMemberReadOnly => 3,
        SearchForm::Search => 4,
        SearchForm::SearchStore => 5,
    };
    vec![check("SearchForm", samples, tag, failures)]
}

fn stream_write(failures: &mut Vec<String>) -> Vec<Checked> {
    let narrow = |line: &str| match write(line) {
        Write::Stream(write) => write,
        other => panic!("{line:?} is not a stream write: {other:?}"),
    };
    let samples = rows(
        &[
            ("XADD k NOMKSTREAM MAXLEN ~ 5 LIMIT 9 2-* f v", "00016b01010005010901020101660176"),
            ("XDEL k 1-2", "01016b00010102"),
            ("XTRIM k MINID 1-2", "02016b0101020000"),
            ("XSETID k 5-0 ENTRIESADDED 3 MAXDELETEDID 1-1", "03016b05000103010101"),
            ("XACK k g 1-2", "0406016b016700010102"),
        ],
        narrow,
    );
    let tag = |write: &StreamWrite| match write {
        StreamWrite::Add { .. } => 0,
        StreamWrite::Delete { .. } => 1,
        StreamWrite::Trim { .. } => 2,
        StreamWrite::SetId { .. } => 3,
        StreamWrite::Group(_) => 4,
    };
    vec![check("StreamWrite", samples, tag, failures)]
}

fn stream_group_write(failures: &mut Vec<String>) -> Vec<Checked> {
    let narrow = |line: &str| match write(line) {
        Write::Stream(StreamWrite::Group(write)) => write,
        other => panic!("{line:?} is not a stream group write: {other:?}"),
    };
    let samples = rows(
        &[
            ("XGROUP CREATE k g $ MKSTREAM ENTRIESREAD 3", "00016b01670000010103"),
            ("XGROUP SETID k g 1-2 ENTRIESREAD 2", "01016b0167000101020102"),
            ("XGROUP DESTROY k g", "02016b0167"),
            ("XGROUP CREATECONSUMER k g c", "03016b01670163"),
            ("XGROUP DELCONSUMER k g c", "04016b01670163"),
            (
                "XREADGROUP GROUP g c COUNT 2 NOACK STREAMS k j > 1-2",
                "0501670163020102016b0000016a00010102",
            ),
            ("XACK k g 1-2", "06016b016700010102"),
            (
                "XCLAIM k g c 10 1-2 IDLE 5 RETRYCOUNT 2 FORCE JUSTID LASTID 3-4",
                "07016b01670163000a01010201000a01040101010304",
            ),
            ("XAUTOCLAIM k g c 10 1-2 COUNT 5 JUSTID", "08016b016701630a01020501"),
        ],
        narrow,
    );
    let tag = |write: &StreamGroupWrite| match write {
        StreamGroupWrite::Create { .. } => 0,
        StreamGroupWrite::SetId { .. } => 1,
        StreamGroupWrite::Destroy { .. } => 2,
        StreamGroupWrite::CreateConsumer { .. } => 3,
        StreamGroupWrite::DeleteConsumer { .. } => 4,
        StreamGroupWrite::ReadGroup { .. } => 5,
        StreamGroupWrite::Ack { .. } => 6,
        StreamGroupWrite::Claim { .. } => 7,
        StreamGroupWrite::AutoClaim { .. } => 8,
    };
    vec![check("StreamGroupWrite", samples, tag, failures)]
}

fn stream_read(failures: &mut Vec<String>) -> Vec<Checked> {
    let narrow = |line: &str| match read(line) {
        Read::Stream(read) => read,
        other => panic!("{line:?} is not a stream read: {other:?}"),
    };
    let samples = rows(
        &[
            ("XLEN k", "00016b"),
            (
                "XREVRANGE k + (1-2 COUNT 3",
                "01016b0103ffffffffffffffffff01ffffffffffffffffff01010301",
            ),
            ("XREAD COUNT 2 STREAMS k j $ 1-2", "020202016b0000016a00010102"),
            (
                "XPENDING k g IDLE 5 - + 10 c",
                "03016b0167010a0000ffffffffffffffffff01ffffffffffffffffff010a010163",
            ),
            ("XINFO STREAM k FULL COUNT 3", "04016b0103"),
            ("XINFO GROUPS k", "05016b"),
            ("XINFO CONSUMERS k g", "06016b0167"),
            ("XINFO HELP", "07"),
            ("XGROUP HELP", "08"),
        ],
        narrow,
    );
    let tag = |read: &StreamRead| match read {
        StreamRead::Len { .. } => 0,
        StreamRead::Range { .. } => 1,
        StreamRead::Read { .. } => 2,
        StreamRead::Pending { .. } => 3,
        StreamRead::InfoStream { .. } => 4,
        StreamRead::InfoGroups { .. } => 5,
        StreamRead::InfoConsumers { .. } => 6,
        StreamRead::InfoHelp => 7,
        StreamRead::GroupHelp => 8,
    };
    vec![check("StreamRead", samples, tag, failures)]
}

/// The small enums inside the stream commands.
fn stream_parts(failures: &mut Vec<String>) -> Vec<Checked> {
    let id = StreamId { ms: 1, seq: 2 };
    let strategies = vec![(TrimStrategy::MaxLen(5), "0005"), (TrimStrategy::MinId(id), "010102")];
    let strategy_tag = |value: &TrimStrategy| match value {
        TrimStrategy::MaxLen(_) => 0,
        TrimStrategy::MinId(_) => 1,
    };
    let add_ids =
        vec![(AddId::Auto, "00"), (AddId::Partial(2), "0102"), (AddId::Explicit(id), "020102")];
    let add_id_tag = |value: &AddId| match value {
        AddId::Auto => 0,
        AddId::Partial(_) => 1,
        AddId::Explicit(_) => 2,
    };
    let read_froms = vec![(ReadFrom::Last, "00"), (ReadFrom::After(id), "010102")];
    let read_from_tag = |value: &ReadFrom| match value {
        ReadFrom::Last => 0,
        ReadFrom::After(_) => 1,
    };
    let starts = vec![(GroupStart::Last, "00"), (GroupStart::Id(id), "010102")];
    let start_tag = |value: &GroupStart| match value {
        GroupStart::Last => 0,
        GroupStart::Id(_) => 1,
    };
    let group_froms = vec![(ReadGroupFrom::New, "00"), (ReadGroupFrom::History(id), "010102")];
    let group_from_tag = |value: &ReadGroupFrom| match value {
        ReadGroupFrom::New => 0,
        ReadGroupFrom::History(_) => 1,
    };
    let deliveries = vec![(ClaimDelivery::Idle(5), "000a"), (ClaimDelivery::Time(5), "010a")];
    let delivery_tag = |value: &ClaimDelivery| match value {
        ClaimDelivery::Idle(_) => 0,
        ClaimDelivery::Time(_) => 1,
    };
    vec![
        check("TrimStrategy", strategies, strategy_tag, failures),
        check("AddId", add_ids, add_id_tag, failures),
        check("ReadFrom", read_froms, read_from_tag, failures),
        check("GroupStart", starts, start_tag, failures),
        check("ReadGroupFrom", group_froms, group_from_tag, failures),
        check("ClaimDelivery", deliveries, delivery_tag, failures),
    ]
}
