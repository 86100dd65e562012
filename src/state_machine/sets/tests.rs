//! The set family through parse → apply / execute_read, with every reply as redis-server
//! 7.0.15 gave it for the same commands (orderless replies compared sorted).

use std::collections::BTreeSet;

use proptest::prelude::*;

use crate::resp::Frame;
use crate::state_machine::test_harness::{
    bulk, bulks, error, int, sorted_bulks, Harness, WRONGTYPE,
};

fn set_of(texts: &[&str]) -> Frame {
    Frame::Set(texts.iter().map(|text| bulk(text)).collect())
}

#[test]
fn sadd_srem_and_membership() {
    let mut redis = Harness::new();
    redis.check(&["SADD", "s", "a", "b", "a"], int(2));
    redis.check(&["SADD", "s", "a"], int(0));
    redis.check(&["SISMEMBER", "s", "a"], int(1));
    redis.check(&["SISMEMBER", "s", "z"], int(0));
    redis.check(&["SMISMEMBER", "s", "a", "z"], Frame::Array(vec![int(1), int(0)]));
    redis.check(&["SMISMEMBER", "missing", "a"], Frame::Array(vec![int(0)]));
    redis.check(&["SCARD", "s"], int(2));
    redis.check(&["SREM", "s", "z"], int(0));
    redis.check(&["SREM", "s", "a", "b", "a"], int(2));
    redis.check(&["EXISTS", "s"], int(0));
    redis.check(&["SMEMBERS", "s"], set_of(&[]));
    redis.check(&["SCARD", "s"], int(0));
}

#[test]
fn intsets_reply_in_numeric_order_and_convert_like_redis() {
    let mut redis = Harness::new();
    redis.given(&[&["SADD", "i", "5", "3", "-1", "10"]]);
    redis.check(&["SMEMBERS", "i"], set_of(&["-1", "3", "5", "10"]));
    redis.check(
        &["SSCAN", "i", "77", "COUNT", "1"],
        Frame::Array(vec![bulk("0"), bulks(&["-1", "3", "5", "10"])]),
    );
    redis.check(&["OBJECT", "ENCODING", "i"], bulk("intset"));
    redis.given(&[&["SADD", "i", "01"]]);
    redis.check(&["OBJECT", "ENCODING", "i"], bulk("hashtable"));
    redis.given(&[&["SREM", "i", "01"]]);
    redis.check(&["OBJECT", "ENCODING", "i"], bulk("hashtable"));
    redis.given(&[&["SADD", "x", "-9223372036854775808", "9223372036854775807"]]);
    redis.check(&["OBJECT", "ENCODING", "x"], bulk("intset"));

    let numbers: Vec<String> = (1..=513).map(|n| n.to_string()).collect();
    let mut words = vec!["SADD", "big"];
    words.extend(numbers[..512].iter().map(String::as_str));
    redis.given(&[&words]);
    redis.check(&["OBJECT", "ENCODING", "big"], bulk("intset"));
    redis.given(&[&["SADD", "big", "513"]]);
    redis.check(&["OBJECT", "ENCODING", "big"], bulk("hashtable"));
}

#[test]
fn stored_results_and_smove_destinations_are_classified_afresh() {
    let mut redis = Harness::new();
    redis.given(&[&["SADD", "s", "1", "2", "3", "a"], &["SADD", "t", "1", "2", "3"]]);
    redis.check(&["SINTERSTORE", "u", "s", "t"], int(3));
    redis.check(&["OBJECT", "ENCODING", "u"], bulk("intset"));
    redis.check(&["SMOVE", "s", "new", "a"], int(1));
    redis.check(&["OBJECT", "ENCODING", "new"], bulk("hashtable"));
    redis.check(&["SMOVE", "s", "new2", "1"], int(1));
    redis.check(&["OBJECT", "ENCODING", "new2"], bulk("intset"));
}

#[test]
fn smove_follows_redis_order_of_checks() {
    let mut redis = Harness::new();
    redis.given(&[&["SET", "str", "x"], &["SADD", "s", "a", "b"], &["SADD", "d", "c"]]);
    redis.check(&["SMOVE", "missing", "str", "a"], int(0));
    redis.check(&["SMOVE", "str", "missing", "a"], error(WRONGTYPE));
    redis.check(&["SMOVE", "s", "str", "a"], error(WRONGTYPE));
    redis.check(&["SMOVE", "s", "s", "a"], int(1));
    redis.check(&["SMOVE", "s", "s", "z"], int(0));
    redis.check(&["SMOVE", "s", "d", "z"], int(0));
    redis.check(&["SMOVE", "s", "d", "a"], int(1));
    redis.check(&["SMOVE", "s", "d", "b"], int(1));
    redis.check(&["EXISTS", "s"], int(0));
    assert_eq!(sorted_bulks(&redis.run(&["SMEMBERS", "d"])), ["a", "b", "c"]);
}

#[test]
fn spop_shapes_and_deletion() {
    let mut redis = Harness::new();
    redis.check(&["SPOP", "s"], Frame::Null);
    redis.check(&["SPOP", "s", "0"], set_of(&[]));
    redis.check(&["SPOP", "s", "2"], set_of(&[]));
    redis.check(&["SPOP", "s", "-1"], error("ERR value is out of range, must be positive"));
    redis.given(&[&["SADD", "s", "1", "2", "3"]]);
    redis.check(&["SPOP", "s", "0"], set_of(&[]));
    let Frame::Set(one) = redis.run(&["SPOP", "s", "1"]) else {
        panic!("SPOP with a count replies a set")
    };
    assert_eq!(one.len(), 1);
    let Frame::Bulk(popped) = redis.run(&["SPOP", "s"]) else {
        panic!("SPOP replies a bulk string")
    };
    assert_ne!(Frame::Bulk(popped), one[0], "a popped member is gone");
    redis.check(&["SCARD", "s"], int(1));
    let rest = redis.run(&["SPOP", "s", "10"]);
    assert_eq!(sorted_bulks(&rest).len(), 1);
    redis.check(&["EXISTS", "s"], int(0));
    redis.given(&[&["SADD", "s", "a"]]);
    redis.check(&["SPOP", "s"], bulk("a"));
    redis.check(&["EXISTS", "s"], int(0));
}

#[test]
fn spop_chooses_the_same_members_on_every_replica() {
    let run = || {
        let mut redis = Harness::new();
        let members: Vec<String> = (0..100).map(|n| format!("m{n}")).collect();
        let mut words = vec!["SADD", "s"];
        words.extend(members.iter().map(String::as_str));
        redis.given(&[&words]);
        (redis.run(&["SPOP", "s", "10"]), redis.run(&["SPOP", "s"]), redis.run(&["SMEMBERS", "s"]))
    };
    assert_eq!(run(), run());
}

#[test]
fn srandmember_shapes() {
    let mut redis = Harness::new();
    redis.check(&["SRANDMEMBER", "s"], Frame::Null);
    redis.check(&["SRANDMEMBER", "s", "5"], bulks(&[]));
    redis.check(&["SRANDMEMBER", "s", "-5"], bulks(&[]));
    redis.given(&[&["SADD", "s", "3", "1", "2"]]);
    redis.check(&["SRANDMEMBER", "s", "0"], bulks(&[]));
    redis.check(&["SRANDMEMBER", "s", "3"], bulks(&["1", "2", "3"]));
    let distinct = sorted_bulks(&redis.run(&["SRANDMEMBER", "s", "2"]));
    assert!(distinct.len() == 2 && distinct[0] != distinct[1], "{distinct:?}");
    let repeated = sorted_bulks(&redis.run(&["SRANDMEMBER", "s", "-50"]));
    assert_eq!(repeated.len(), 50);
    assert!(repeated.iter().all(|member| ["1", "2", "3"].contains(&member.as_str())));
    redis.check(&["SCARD", "s"], int(3));
}

#[test]
fn random_members_are_uniform() {
    let mut redis = Harness::new();
    let members: Vec<String> = (0..10).map(|n| format!("m{n}")).collect();
    let mut words = vec!["SADD", "s"];
    words.extend(members.iter().map(String::as_str));
    redis.given(&[&words, &["SREM", "s", "m3"], &["SADD", "s", "m3"]]);
    let draws = sorted_bulks(&redis.run(&["SRANDMEMBER", "s", "-100000"]));
    for member in &members {
        let count = draws.iter().filter(|draw| *draw == member).count();
        assert!((9_000..11_000).contains(&count), "{member} drawn {count} times of 100000");
    }
}

#[test]
fn set_algebra() {
    let mut redis = Harness::new();
    redis.given(&[
        &["SADD", "a", "1", "2", "3", "x"],
        &["SADD", "b", "2", "3", "4"],
        &["SADD", "c", "3", "5"],
    ]);
    assert_eq!(sorted_bulks(&redis.run(&["SINTER", "a", "b"])), ["2", "3"]);
    redis.check(&["SINTER", "a", "b", "c"], set_of(&["3"]));
    redis.check(&["SINTER", "a", "missing"], set_of(&[]));
    redis.check(&["SUNION", "b", "c", "missing"], set_of(&["2", "3", "4", "5"]));
    assert_eq!(sorted_bulks(&redis.run(&["SDIFF", "a", "b", "missing"])), ["1", "x"]);
    redis.check(&["SDIFF", "missing", "a"], set_of(&[]));
    redis.check(&["SINTERCARD", "2", "a", "b"], int(2));
    redis.check(&["SINTERCARD", "2", "a", "b", "LIMIT", "1"], int(1));
    redis.check(&["SINTERCARD", "2", "a", "b", "LIMIT", "0"], int(2));
    redis.check(&["SINTERCARD", "2", "a", "missing"], int(0));
    redis.check(&["SUNIONSTORE", "u", "b", "c"], int(4));
    redis.check(&["SMEMBERS", "u"], set_of(&["2", "3", "4", "5"]));
    redis.check(&["SDIFFSTORE", "u", "a", "b"], int(2));
    redis.check(&["OBJECT", "ENCODING", "u"], bulk("hashtable"));
    redis.given(&[&["PEXPIRE", "u", "100000"]]);
    redis.check(&["SINTERSTORE", "u", "b", "c"], int(1));
    redis.check(&["PTTL", "u"], int(-1));
    redis.check(&["SINTERSTORE", "u", "a", "missing"], int(0));
    redis.check(&["EXISTS", "u"], int(0));
}

#[test]
fn multi_key_commands_check_every_type_first() {
    let mut redis = Harness::new();
    redis.given(&[&["SET", "str", "x"], &["SADD", "s", "a"]]);
    for words in [
        &["SINTER", "missing", "str"][..],
        &["SINTER", "str", "missing"],
        &["SUNION", "missing", "str"],
        &["SDIFF", "missing", "str"],
        &["SDIFF", "str", "missing"],
        &["SINTERSTORE", "u", "missing", "str"],
        &["SUNIONSTORE", "u", "str", "s"],
        &["SDIFFSTORE", "u", "missing", "str"],
        &["SINTERCARD", "2", "missing", "str"],
    ] {
        redis.check(words, error(WRONGTYPE));
    }
    redis.check(&["SINTERCARD", "1", "str", "LIMIT", "-1"], error("ERR LIMIT can't be negative"));
}

#[test]
fn set_commands_refuse_other_types_and_other_commands_refuse_sets() {
    let mut redis = Harness::new();
    redis.given(&[&["SET", "str", "x"], &["HSET", "hash", "f", "v"], &["SADD", "s", "m"]]);
    for key in ["str", "hash"] {
        for words in [
            &["SADD", key, "m"][..],
            &["SREM", key, "m"],
            &["SISMEMBER", key, "m"],
            &["SMISMEMBER", key, "m"],
            &["SMEMBERS", key],
            &["SCARD", key],
            &["SPOP", key],
            &["SPOP", key, "0"],
            &["SRANDMEMBER", key],
            &["SRANDMEMBER", key, "0"],
            &["SSCAN", key, "0"],
        ] {
            redis.check(words, error(WRONGTYPE));
        }
    }
    for words in
        [&["GET", "s"][..], &["INCRBYFLOAT", "s", "1"], &["HGET", "s", "f"], &["HLEN", "s"]]
    {
        redis.check(words, error(WRONGTYPE));
    }
}

#[test]
fn keyspace_commands_work_on_sets() {
    let mut redis = Harness::new();
    redis.given(&[&["SADD", "s", "1", "2"]]);
    redis.check(&["TYPE", "s"], Frame::simple("set"));
    redis.check(&["COPY", "s", "c"], int(1));
    redis.given(&[&["SADD", "c", "x"]]);
    redis.check(&["OBJECT", "ENCODING", "s"], bulk("intset"));
    redis.check(&["OBJECT", "ENCODING", "c"], bulk("hashtable"));
    redis.check(&["SCARD", "s"], int(2));
    redis.check(&["RENAME", "c", "r"], Frame::ok());
    redis.check(&["SCARD", "r"], int(3));
    let Frame::Array(page) = redis.run(&["SCAN", "0", "TYPE", "set", "COUNT", "100"]) else {
        panic!("SCAN replies an array");
    };
    assert_eq!(sorted_bulks(&page[1]), ["r", "s"]);
    redis.check(&["PEXPIRE", "s", "10"], int(1));
    redis.now_ms += 10;
    redis.check(&["SISMEMBER", "s", "1"], int(0));
    redis.check(&["SADD", "s", "9"], int(1));
    redis.check(&["SCARD", "s"], int(1));
    redis.check(&["DEL", "s", "r"], int(2));
}

#[test]
fn a_full_sscan_returns_every_member_present_throughout() {
    let mut redis = Harness::new();
    let members: Vec<String> = (0..1000).map(|n| format!("stable:{n}")).collect();
    let mut words = vec!["SADD", "s"];
    words.extend(members.iter().map(String::as_str));
    redis.given(&[&words]);
    let mut seen = BTreeSet::new();
    let mut cursor = "0".to_owned();
    let mut round = 0;
    loop {
        redis.given(&[&["SADD", "s", &format!("new:{round}"), &format!("other:{round}")]]);
        redis.given(&[&["SREM", "s", &format!("new:{}", round / 2)]]);
        round += 1;
        let Frame::Array(parts) = redis.run(&["SSCAN", "s", &cursor, "COUNT", "9"]) else {
            panic!("SSCAN replies an array");
        };
        seen.extend(sorted_bulks(&parts[1]));
        let Frame::Bulk(next) = &parts[0] else { panic!("the cursor is a bulk string") };
        cursor = String::from_utf8(next.to_vec()).unwrap();
        if cursor == "0" {
            break;
        }
    }
    for member in &members {
        assert!(seen.contains(member), "{member} was never returned");
    }
}

#[derive(Clone, Debug)]
enum SetOperationStep {
    Add(Vec<u16>),
    Remove(Vec<u16>),
    Pop(u8),
    Move(u16),
}

fn set_step() -> impl Strategy<Value = SetOperationStep> {
    // Members 0..600 are integers (intset until the 513th); 600.. become strings below.
    let members = || prop::collection::vec(0..700u16, 1..20);
    prop_oneof![
        members().prop_map(SetOperationStep::Add),
        members().prop_map(SetOperationStep::Remove),
        (0..5u8).prop_map(SetOperationStep::Pop),
        (0..700u16).prop_map(SetOperationStep::Move),
    ]
}

fn member_name(member: u16) -> String {
    if member >= 600 {
        format!("m{member}")
    } else {
        member.to_string()
    }
}

proptest! {
    /// Replies and contents of two sets agree with `BTreeSet` models, through intset and
    /// hashtable forms, SPOP and SMOVE; the algebra agrees with the models' algebra.
    #[test]
    fn sets_behave_like_sets(steps in prop::collection::vec(set_step(), 1..80)) {
        let mut redis = Harness::new();
        let mut model: BTreeSet<String> = BTreeSet::new();
        let mut other: BTreeSet<String> = BTreeSet::new();
        for step in steps {
            match step {
                SetOperationStep::Add(members) => {
                    let names: Vec<String> = members.iter().map(|&m| member_name(m)).collect();
                    let mut words = vec!["SADD", "s"];
                    words.extend(names.iter().map(String::as_str));
                    let added = names.iter().filter(|name| model.insert((*name).clone())).count();
                    prop_assert_eq!(redis.run(&words), Frame::Integer(added as i64));
                }
                SetOperationStep::Remove(members) => {
                    let names: Vec<String> = members.iter().map(|&m| member_name(m)).collect();
                    let mut words = vec!["SREM", "s"];
                    words.extend(names.iter().map(String::as_str));
                    let removed = names.iter().filter(|name| model.remove(*name)).count();
                    prop_assert_eq!(redis.run(&words), Frame::Integer(removed as i64));
                }
                SetOperationStep::Pop(count) => {
                    let popped = sorted_bulks(&redis.run(&["SPOP", "s", &count.to_string()]));
                    prop_assert_eq!(popped.len(), model.len().min(usize::from(count)));
                    for member in popped {
                        prop_assert!(model.remove(&member), "{} popped but not a member", member);
                    }
                }
                SetOperationStep::Move(member) => {
                    let name = member_name(member);
                    let moved = model.remove(&name);
                    if moved {
                        other.insert(name.clone());
                    }
                    let reply = redis.run(&["SMOVE", "s", "o", &name]);
                    prop_assert_eq!(reply, Frame::Integer(i64::from(moved)));
                }
            }
            prop_assert_eq!(redis.run(&["SCARD", "s"]), Frame::Integer(model.len() as i64));
        }
        // A BTreeSet iterates sorted, as `sorted_bulks` lists a reply.
        let expected = |set: BTreeSet<&String>| set.into_iter().cloned().collect::<Vec<String>>();
        let members = redis.run(&["SMEMBERS", "s"]);
        prop_assert_eq!(sorted_bulks(&members), expected(model.iter().collect()));
        let inter = redis.run(&["SINTER", "s", "o"]);
        prop_assert_eq!(sorted_bulks(&inter), expected(model.intersection(&other).collect()));
        let union = redis.run(&["SUNION", "s", "o"]);
        prop_assert_eq!(sorted_bulks(&union), expected(model.union(&other).collect()));
        let difference = redis.run(&["SDIFF", "o", "s"]);
        prop_assert_eq!(sorted_bulks(&difference), expected(other.difference(&model).collect()));
    }
}
