//! Lua scripts on a 3-node cluster of real processes: a script that may write is one log entry
//! that every member runs, so after a batch of varied scripts (sent to any member, by EVAL and
//! by EVALSHA) every member must hold the same keyspace, key for key and value for value.
//! The scripts draw on what could make replicas disagree if a script were not deterministic:
//! SPOP and SRANDMEMBER (randomness), TIME and expiry (time), `math.random`, runtime errors in
//! the middle (writes before them stay), and scripts stopped by their instruction or memory
//! budget. Then every member restarts (two from a snapshot, one by replaying its log) and
//! EVALSHA still finds the cached scripts.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use support::cluster::workload::Random;
use support::cluster::{connect, Cluster, NodeId};

const BATCHES: u64 = 6;
const SCRIPTS_PER_BATCH: u64 = 60;
const KEYS: u64 = 8;
const TIMEOUT: Duration = Duration::from_secs(20);

/// Script bodies with `{k}` and `{l}` for two keys of the test's key set.
const TEMPLATES: &[&str] = &[
    "return redis.call('incrby', '{k}', ARGV[1])",
    "redis.call('set', '{k}', ARGV[1] .. ':' .. redis.call('time')[1]) return 1",
    "for i = 1, tonumber(ARGV[1]) % 7 do redis.call('rpush', '{l}:list', i) end \
     return redis.call('llen', '{l}:list')",
    "redis.call('sadd', '{k}:set', ARGV[1], ARGV[1] + 1, ARGV[1] + 2) \
     return redis.call('spop', '{k}:set')",
    "redis.call('sadd', '{k}:set', 'a', 'b', 'c', 'd') \
     return redis.call('srandmember', '{k}:set', -3)",
    "return redis.call('hincrby', '{k}:hash', 'f' .. (ARGV[1] % 3), ARGV[1])",
    "return redis.call('zincrby', '{k}:zset', ARGV[1], 'm' .. math.random(5))",
    "if redis.call('exists', '{k}') == 1 then return redis.call('del', '{k}') end \
     return redis.call('set', '{k}', ARGV[1], 'PX', 100000)",
    "redis.call('set', '{k}:before', ARGV[1]) local x = redis.call('incr', '{l}:list') \
     return x",
    "redis.call('set', '{l}:partial', ARGV[1]) return 1 + nil",
    "local ok = redis.pcall('incr', '{k}:hash') redis.call('set', '{l}:after', 'x') \
     return ok",
    "redis.call('expire', '{k}', 1000) return redis.call('ttl', '{k}')",
    "redis.call('lpush', '{l}:list', 'x') return redis.call('lpop', '{l}:list', 2)",
    "redis.call('set', '{k}:spent', ARGV[1]) while true do end",
    "redis.call('set', '{k}:heap', ARGV[1]) local t = {} \
     while true do t[#t + 1] = {1, 2, 3, 4, 5, 6, 7, 8} end",
];

fn key(random: &mut Random) -> String {
    format!("script:{}", random.below(KEYS))
}

fn body(random: &mut Random) -> String {
    // The budget-busting scripts are slow on purpose: draw them rarely.
    let index = random.below(TEMPLATES.len() as u64 * 4) as usize;
    let index = if index >= TEMPLATES.len() - 2 && index < TEMPLATES.len() {
        index
    } else {
        index % (TEMPLATES.len() - 2)
    };
    TEMPLATES[index].replace("{k}", &key(random)).replace("{l}", &key(random))
}

/// Every key of database 0 with its type, value and whether it expires; retried while the
/// member cannot serve reads yet (after a restart, until it hears from a leader).
fn keyspace(port: u16) -> BTreeMap<String, String> {
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let attempt = std::panic::catch_unwind(|| try_keyspace(port));
        match attempt {
            Ok(dump) => return dump,
            Err(panic) if std::time::Instant::now() > deadline => std::panic::resume_unwind(panic),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

fn try_keyspace(port: u16) -> BTreeMap<String, String> {
    let mut connection = connect(port, TIMEOUT).expect("the member accepts a connection");
    let mut keys: Vec<String> =
        redis::cmd("KEYS").arg("*").query(&mut connection).expect("KEYS answers");
    keys.sort();
    let mut dump = BTreeMap::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query(&mut connection).expect("TYPE");
        let value: Vec<String> = match kind.as_str() {
            "string" => vec![redis::cmd("GET").arg(&key).query(&mut connection).expect("GET")],
            "list" => redis::cmd("LRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .query(&mut connection)
                .expect("LRANGE"),
            "set" => {
                let mut members: Vec<String> =
                    redis::cmd("SMEMBERS").arg(&key).query(&mut connection).expect("SMEMBERS");
                members.sort();
                members
            }
            "hash" => {
                let mut pairs: Vec<String> =
                    redis::cmd("HGETALL").arg(&key).query(&mut connection).expect("HGETALL");
                let mut fields: Vec<String> = pairs.chunks(2).map(|pair| pair.join("=")).collect();
                fields.sort();
                pairs.clear();
                fields
            }
            "zset" => redis::cmd("ZRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .query(&mut connection)
                .expect("ZRANGE"),
            other => vec![format!("unexpected type {other}")],
        };
        let expiry: i64 =
            redis::cmd("PEXPIRETIME").arg(&key).query(&mut connection).expect("PEXPIRETIME");
        dump.insert(key, format!("{kind} {value:?} expires:{}", expiry > 0));
    }
    dump
}

fn assert_members_agree(cluster: &Cluster, when: &str) -> BTreeMap<String, String> {
    let dumps: Vec<(NodeId, BTreeMap<String, String>)> =
        cluster.client_ports().into_iter().map(|(id, port)| (id, keyspace(port))).collect();
    let (first_id, first) = &dumps[0];
    for (id, dump) in &dumps[1..] {
        assert_eq!(
            dump,
            first,
            "{when}: member {id}'s keyspace differs from member {first_id}'s; logs in {:?}",
            cluster.directory()
        );
    }
    first.clone()
}

#[test]
fn every_member_runs_each_script_to_the_same_keyspace_and_keeps_the_cache_over_a_restart() {
    let mut cluster = Cluster::start("scripting", 3, &[]);
    cluster.wait_for_leader();
    let seed = support::cluster::workload::seed();
    let mut random = Random::new(seed);
    let ports = cluster.client_ports();
    let mut connections: Vec<redis::Connection> = ports
        .iter()
        .map(|(_, port)| connect(*port, TIMEOUT).expect("each member accepts a connection"))
        .collect();
    let mut shas = Vec::new();
    let mut budget_errors = 0;
    let mut unknown_outcomes = 0;
    for batch in 0..BATCHES {
        for _ in 0..SCRIPTS_PER_BATCH {
            let body = body(&mut random);
            let argument = random.below(1000).to_string();
            let connection = &mut connections[random.below(ports.len() as u64) as usize];
            let reply: redis::RedisResult<redis::Value> = if random.below(2) == 0 {
                redis::cmd("EVAL").arg(&body).arg(0).arg(&argument).query(connection)
            } else {
                let loaded: redis::RedisResult<String> =
                    redis::cmd("SCRIPT").arg("LOAD").arg(&body).query(connection);
                loaded.and_then(|sha| {
                    shas.push(sha.clone());
                    redis::cmd("EVALSHA").arg(&sha).arg(0).arg(&argument).query(connection)
                })
            };
            if let Err(error) = reply {
                let text = error.to_string();
                if text.contains("budget") {
                    budget_errors += 1;
                } else if text.contains("may or may not have happened") {
                    // A leader change: whatever happened, it happened on every member alike.
                    unknown_outcomes += 1;
                } else {
                    assert!(
                        text.contains("script:") || text.contains("WRONGTYPE"),
                        "a script failed otherwise than by its own error: {text} ({body})"
                    );
                }
            }
        }
        assert_members_agree(&cluster, &format!("after batch {batch} (seed {seed})"));
    }
    println!(
        "seed {seed}: {} scripts, {budget_errors} stopped by their budget, {unknown_outcomes} of \
         unknown outcome",
        BATCHES * SCRIPTS_PER_BATCH
    );
    assert!(budget_errors > 0, "no script met its budget, so that went untested (seed {seed})");
    let before = assert_members_agree(&cluster, "before the restart");
    assert!(before.len() > KEYS as usize, "the scripts wrote too little to compare: {before:?}");
    drop(connections);
    // Members 1 and 2 restart from a snapshot (which carries the script cache), member 3 by
    // replaying its whole log (which runs every script again).
    for id in [1, 2] {
        let saved: String = cluster.command(id, &redis::cmd("SAVE")).expect("SAVE answers");
        assert_eq!(saved, "OK");
    }
    for id in cluster.ids() {
        cluster.kill(id);
    }
    for id in cluster.ids() {
        cluster.restart(id);
    }
    cluster.wait_for_leader();
    let after = assert_members_agree(&cluster, "after every member restarted");
    assert_eq!(after, before, "the restart changed the keyspace");
    let sha = shas.last().expect("some scripts were loaded");
    for (id, port) in cluster.client_ports() {
        let mut connection = connect(port, TIMEOUT).expect("the member accepts a connection");
        let exists: Vec<i64> =
            redis::cmd("SCRIPT").arg("EXISTS").arg(sha).query(&mut connection).expect("EXISTS");
        assert_eq!(exists, vec![1], "member {id} lost script {sha} over its restart");
        let reply: redis::RedisResult<redis::Value> =
            redis::cmd("EVALSHA").arg(sha).arg(0).arg("1").query(&mut connection);
        if let Err(error) = reply {
            assert!(!error.to_string().contains("NOSCRIPT"), "member {id}: {error}");
        }
    }
    assert_members_agree(&cluster, "after EVALSHA on every restarted member");
}

/// A library with a function of each kind: one that writes with randomness and time, one
/// stopped by its budget after a write, and a `no-writes` one that FCALL runs on a view.
const LIBRARY: &str = "#!lua name=cluster\n\
    redis.register_function('deal', function(keys, args)\n\
      redis.call('sadd', keys[1], 'a', 'b', 'c', 'd', args[1])\n\
      local popped = redis.call('spop', keys[1])\n\
      redis.call('hset', keys[1] .. ':dealt', popped, redis.call('time')[1] .. ':' .. math.random(100))\n\
      return popped\n\
    end)\n\
    redis.register_function('spend', function(keys, args)\n\
      redis.call('set', keys[1] .. ':spent', args[1]) while true do end\n\
    end)\n\
    redis.register_function{function_name = 'count', flags = {'no-writes'},\n\
      callback = function(keys) return redis.call('scard', keys[1]) end}";

/// A library is replicated state: loaded through one member, its functions are called through
/// every member (FCALL of a writing function is one entry run by all, so the keyspaces agree),
/// its `no-writes` function runs on any member, and all of it survives a restart of every
/// member, from a snapshot or from the log.
#[test]
fn a_library_loaded_through_one_member_is_called_through_every_member_and_survives_restarts() {
    let mut cluster = Cluster::start("functions", 3, &[]);
    cluster.wait_for_leader();
    let seed = support::cluster::workload::seed();
    let mut random = Random::new(seed);
    let ports = cluster.client_ports();
    let mut connections: Vec<redis::Connection> = ports
        .iter()
        .map(|(_, port)| connect(*port, TIMEOUT).expect("each member accepts a connection"))
        .collect();
    let name: String = redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg(LIBRARY)
        .query(&mut connections[0])
        .expect("FUNCTION LOAD answers");
    assert_eq!(name, "cluster");
    for call in 0..120u64 {
        let connection = &mut connections[random.below(ports.len() as u64) as usize];
        let key = key(&mut random);
        let function = match call % 20 {
            0 => "spend",
            1..=4 => "count",
            _ => "deal",
        };
        let reply: redis::RedisResult<redis::Value> =
            redis::cmd("FCALL").arg(function).arg(1).arg(&key).arg(call).query(connection);
        if let Err(error) = reply {
            let text = error.to_string();
            assert!(
                text.contains("budget") || text.contains("may or may not have happened"),
                "FCALL {function} failed otherwise than by its budget: {text}"
            );
        }
        let counted: redis::RedisResult<i64> =
            redis::cmd("FCALL_RO").arg("count").arg(1).arg(&key).query(connection);
        counted.expect("FCALL_RO of a no-writes function answers on every member");
    }
    let before = assert_members_agree(&cluster, &format!("after the calls (seed {seed})"));
    assert!(before.keys().any(|key| key.ends_with(":dealt")), "nothing was dealt: {before:?}");
    let dump = |port: u16| -> Vec<u8> {
        let mut connection = connect(port, TIMEOUT).expect("the member accepts a connection");
        redis::cmd("FUNCTION").arg("DUMP").query(&mut connection).expect("FUNCTION DUMP answers")
    };
    let dumps: Vec<Vec<u8>> = cluster.client_ports().iter().map(|(_, port)| dump(*port)).collect();
    assert!(dumps.iter().all(|each| *each == dumps[0]), "members dump different libraries");
    drop(connections);
    for id in [1, 2] {
        let saved: String = cluster.command(id, &redis::cmd("SAVE")).expect("SAVE answers");
        assert_eq!(saved, "OK");
    }
    for id in cluster.ids() {
        cluster.kill(id);
    }
    for id in cluster.ids() {
        cluster.restart(id);
    }
    cluster.wait_for_leader();
    let after = assert_members_agree(&cluster, "after every member restarted");
    assert_eq!(after, before, "the restart changed the keyspace");
    for (id, port) in cluster.client_ports() {
        let mut connection = connect(port, TIMEOUT).expect("the member accepts a connection");
        let dealt: redis::RedisResult<String> = redis::cmd("FCALL")
            .arg("deal")
            .arg(1)
            .arg(format!("after:restart:{id}"))
            .arg(id)
            .query(&mut connection);
        let dealt = dealt.unwrap_or_else(|error| panic!("member {id} lost the library: {error}"));
        assert!(["a", "b", "c", "d"].contains(&dealt.as_str()) || dealt == id.to_string());
        assert_eq!(dump(port), dumps[0], "member {id}'s libraries changed over its restart");
    }
    assert_members_agree(&cluster, "after FCALL on every restarted member");
}

/// A script's calls are checked against its user by every member, at the script's entry: a
/// write the user may not make changes no member's keyspace, though the script ran on all of
/// them. The denial, caught by `redis.pcall` and so absent from the reply, comes back with the
/// reply from the leader to the follower the client is connected to, and is in that member's
/// ACL LOG alone, as each Redis server logs its own clients.
#[test]
fn a_script_through_a_follower_is_denied_on_every_member_and_logged_where_its_client_is() {
    let cluster = Cluster::start("script-acl", 3, &[]);
    let leader = cluster.wait_for_leader();
    let follower = cluster.other_than(&[leader]);
    let mut set_user = redis::cmd("ACL");
    set_user.arg("SETUSER").arg("scripter").arg("on").arg(">pw").arg("~allowed*");
    set_user.arg("+eval").arg("+set");
    let created: String = cluster.command(leader, &set_user).expect("ACL SETUSER answers");
    assert_eq!(created, "OK");
    let deadline = std::time::Instant::now() + TIMEOUT;
    // The follower knows the user once it applied ACL SETUSER's entry. Asking with ACL GETUSER
    // rather than AUTH keeps a failed AUTH out of the ACL LOG the test reads below.
    let mut get_user = redis::cmd("ACL");
    get_user.arg("GETUSER").arg("scripter");
    while cluster
        .command::<redis::Value>(follower, &get_user)
        .map_or(true, |user| user == redis::Value::Nil)
    {
        assert!(std::time::Instant::now() < deadline, "member {follower} never knew the user");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut client = connect(cluster.client_port(follower), TIMEOUT).expect("a connection");
    let authed: String =
        redis::cmd("AUTH").arg("scripter").arg("pw").query(&mut client).expect("AUTH");
    assert_eq!(authed, "OK");
    let body = "local denied = redis.pcall('set', 'denied', '1') \
                redis.call('set', 'allowed', '1') return denied['err']";
    let reply: String = redis::cmd("EVAL").arg(body).arg(0).query(&mut client).expect("EVAL");
    assert!(reply.starts_with("ERR The user executing the script can't access"), "{reply}");
    let expected = BTreeMap::from([("allowed".to_string(), "string [\"1\"] expires:false".into())]);
    for (id, port) in cluster.client_ports() {
        // A member may apply the script's entry after the client had its reply.
        let mut held = keyspace(port);
        while held != expected && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            held = keyspace(port);
        }
        assert_eq!(held, expected, "member {id}'s keyspace after the script");
    }
    for id in cluster.ids() {
        let log: Vec<redis::Value> =
            cluster.command(id, redis::cmd("ACL").arg("LOG")).expect("ACL LOG answers");
        let text = format!("{log:?}");
        if id == follower {
            assert_eq!(log.len(), 1, "member {id}'s ACL LOG: {text}");
            for field in ["\"lua\"", "\"key\"", "\"denied\"", "\"scripter\""] {
                assert!(text.contains(field), "member {id}'s ACL LOG lacks {field}: {text}");
            }
        } else {
            assert!(log.is_empty(), "member {id} logged another member's client: {text}");
        }
    }
}
