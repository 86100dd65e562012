//! Black-box durability tests: the real `concord` binary, killed with SIGKILL at random moments
//! while clients write, restarted, and checked against what the clients were told.
//!
//! The promise under test: every write acknowledged with a reply is present, with its value,
//! after every restart; nothing that was never written appears. A write that was sent but not
//! answered when the node died may or may not be there, and both are correct.
//!
//! `CONCORD_SOAK_SECONDS` lengthens the kill loop (default: a few seconds, to keep the suite
//! fast); the counts are printed either way (`cargo test --test durability -- --nocapture`).

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::servers::ServerProcess;
use support::small_disk::SmallDisk;

/// Starts a node on `data_dir` (created if missing) with `extra` flags; it answers PING.
fn start(data_dir: &Path, extra: &[&str]) -> ServerProcess {
    let data_dir = data_dir.to_str().expect("temporary paths are UTF-8");
    let flags: Vec<&str> = ["--data-dir", data_dir].iter().chain(extra).copied().collect();
    ServerProcess::start_concord_with(&flags, None)
}

/// A temporary directory and the data directory inside it, which does not exist yet.
fn data_directory(label: &str) -> (tempfile::TempDir, PathBuf) {
    let directory = support::temp_dir(label);
    let data = directory.path().join("data");
    (directory, data)
}

/// What one writer was told, and what it may have left behind.
#[derive(Default)]
struct Ledger {
    /// key → value, for every SET that was answered OK.
    acknowledged: HashMap<String, String>,
    /// key → value, for every SET that was sent (acknowledged or not).
    attempted: HashMap<String, String>,
    /// Per writer: the highest INCR reply received, and the INCRs sent.
    counters: HashMap<String, (i64, i64)>,
}

/// One writer: SETs of fresh keys and INCRs of its own counter until `stop` or an error.
fn write_until_error(
    port: u16,
    writer: usize,
    round: usize,
    stop: &AtomicBool,
    ledger: &Mutex<Ledger>,
) {
    let Ok(client) = redis::Client::open(format!("redis://127.0.0.1:{port}/")) else { return };
    let Ok(mut connection) = client.get_connection() else { return };
    let counter = format!("counter:{writer}");
    for sequence in 0.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let key = format!("key:{writer}:{round}:{sequence}");
        let value = format!("value-{writer}-{round}-{sequence}-{}", "x".repeat(sequence % 64));
        ledger.lock().unwrap().attempted.insert(key.clone(), value.clone());
        let reply: redis::RedisResult<String> =
            redis::cmd("SET").arg(&key).arg(&value).query(&mut connection);
        match reply {
            Ok(ok) => {
                assert_eq!(ok, "OK");
                ledger.lock().unwrap().acknowledged.insert(key, value);
            }
            Err(_) => return,
        }
        ledger.lock().unwrap().counters.entry(counter.clone()).or_default().1 += 1;
        match redis::cmd("INCR").arg(&counter).query::<i64>(&mut connection) {
            Ok(count) => {
                let mut ledger = ledger.lock().unwrap();
                let entry = ledger.counters.get_mut(&counter).expect("inserted above");
                entry.0 = entry.0.max(count);
            }
            Err(_) => return,
        }
    }
}

/// Checks the node's whole keyspace against the ledger; returns the keys checked.
fn check_against_ledger(node: &ServerProcess, ledger: &Ledger) -> usize {
    let mut client = node.client();
    for (key, value) in &ledger.acknowledged {
        let stored: Option<String> = redis::cmd("GET").arg(key).query(&mut client).unwrap();
        assert_eq!(stored.as_ref(), Some(value), "acknowledged write of {key} lost or changed");
    }
    let keys: Vec<String> = redis::cmd("KEYS").arg("key:*").query(&mut client).unwrap();
    for key in &keys {
        let stored: String = redis::cmd("GET").arg(key).query(&mut client).unwrap();
        let attempted = ledger.attempted.get(key);
        assert_eq!(attempted, Some(&stored), "{key} holds a value that was never written");
    }
    for (counter, (acknowledged, sent)) in &ledger.counters {
        let stored: Option<i64> = redis::cmd("GET").arg(counter).query(&mut client).unwrap();
        let stored = stored.unwrap_or(0);
        assert!(
            (*acknowledged..=*sent).contains(&stored),
            "{counter} is {stored}, but {acknowledged} increments were acknowledged and {sent} sent"
        );
    }
    keys.len()
}

#[test]
fn acknowledged_writes_survive_every_kill_and_nothing_unwritten_appears() {
    let soak_seconds: u64 =
        std::env::var("CONCORD_SOAK_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(6);
    let (_data_dir, data_dir) = data_directory("kill");
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let deadline = Instant::now() + Duration::from_secs(soak_seconds);
    let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ u64::from(std::process::id());
    let mut restarts = 0;
    // A small snapshot trigger so that kills land before, during and after snapshots.
    let extra = ["--snapshot-log-bytes", "1048576"];
    while Instant::now() < deadline {
        let mut node = start(&data_dir, &extra);
        let checked = check_against_ledger(&node, &ledger.lock().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..8)
            .map(|writer| {
                let (stop, ledger, port) = (Arc::clone(&stop), Arc::clone(&ledger), node.port());
                std::thread::spawn(move || {
                    write_until_error(port, writer, restarts, &stop, &ledger)
                })
            })
            .collect();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(50 + seed % 400));
        node.kill();
        stop.store(true, Ordering::Relaxed);
        for writer in writers {
            writer.join().unwrap();
        }
        restarts += 1;
        let ledger = ledger.lock().unwrap();
        println!(
            "restart {restarts}: {checked} keys checked; {} acknowledged, {} attempted so far",
            ledger.acknowledged.len(),
            ledger.attempted.len()
        );
    }
    let node = start(&data_dir, &extra);
    let ledger = ledger.lock().unwrap();
    let present = check_against_ledger(&node, &ledger);
    let unacknowledged_present = present - ledger.acknowledged.len();
    println!(
        "after {restarts} kills: {} acknowledged writes all present, {} sent but unanswered \
         (of which {unacknowledged_present} present), 0 phantom keys",
        ledger.acknowledged.len(),
        ledger.attempted.len() - ledger.acknowledged.len(),
    );
    assert!(restarts >= 3 && !ledger.acknowledged.is_empty(), "the test wrote too little");
}

fn info_field(client: &mut redis::Connection, field: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg("persistence").query(client).unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("INFO persistence lacks {field}:\n{info}"))
}

#[test]
fn a_restart_loads_the_snapshot_and_replays_the_log_tail() {
    let (_data_dir, data_dir) = data_directory("snapshot");
    let mut node = start(&data_dir, &["--snapshot-log-bytes", "1048576"]);
    let mut client = node.client();
    for index in 0..200 {
        let _: () =
            redis::cmd("SET").arg(format!("before:{index}")).arg(index).query(&mut client).unwrap();
    }
    let _: () =
        redis::cmd("SET").arg("ttl").arg("v").arg("EX").arg(1000).query(&mut client).unwrap();
    let before_save: u64 = redis::cmd("LASTSAVE").query(&mut client).unwrap();
    let reply: String = redis::cmd("SAVE").query(&mut client).unwrap();
    assert_eq!(reply, "OK");
    assert!(info_field(&mut client, "concord_snapshot_index") > 0, "SAVE wrote no snapshot");
    assert_eq!(info_field(&mut client, "rdb_saves"), 1);
    assert!(redis::cmd("LASTSAVE").query::<u64>(&mut client).unwrap() >= before_save);
    // 2 MiB of log after the snapshot: enough to trigger one by log size, and a tail.
    let big = "b".repeat(100_000);
    for index in 0..20 {
        let _: () =
            redis::cmd("SET").arg(format!("big:{index}")).arg(&big).query(&mut client).unwrap();
    }
    for index in 0..100 {
        let _: () = redis::cmd("INCR").arg("after").query(&mut client).unwrap();
        let _: () = redis::cmd("DEL").arg(format!("before:{index}")).query(&mut client).unwrap();
    }
    node.kill();
    let node = start(&data_dir, &[]);
    let mut client = node.client();
    assert!(info_field(&mut client, "concord_snapshot_index") > 0);
    assert_eq!(redis::cmd("DBSIZE").query::<u64>(&mut client).unwrap(), 100 + 1 + 20 + 1);
    assert_eq!(redis::cmd("GET").arg("after").query::<u64>(&mut client).unwrap(), 100);
    assert_eq!(redis::cmd("GET").arg("before:150").query::<u64>(&mut client).unwrap(), 150);
    assert_eq!(redis::cmd("GET").arg("big:19").query::<String>(&mut client).unwrap(), big);
    let ttl: i64 = redis::cmd("TTL").arg("ttl").query(&mut client).unwrap();
    assert!((900..=1000).contains(&ttl), "the expiry did not survive the restart: TTL {ttl}");
}

#[test]
fn background_save_answers_like_redis_and_is_reported() {
    let (_data_dir, data_dir) = data_directory("bgsave");
    let node = start(&data_dir, &[]);
    let mut client = node.client();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut client).unwrap();
    let reply: String = redis::cmd("BGSAVE").query(&mut client).unwrap();
    assert_eq!(reply, "Background saving started");
    let deadline = Instant::now() + Duration::from_secs(10);
    while info_field(&mut client, "rdb_saves") == 0 {
        assert!(Instant::now() < deadline, "BGSAVE never finished");
        std::thread::sleep(Duration::from_millis(10));
    }
    let error = redis::cmd("BGSAVE").arg("NOW").query::<String>(&mut client).unwrap_err();
    assert!(error.to_string().contains("syntax error"), "{error}");
}

fn start_fails(data_dir: &Path) -> String {
    let output = support::process::concord()
        .args(["--port", "0", "--data-dir", data_dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success(), "concord started on a data directory it must refuse");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_data_directory_of_an_unknown_format_version_is_refused_with_a_clear_error() {
    let (_data_dir, data_dir) = data_directory("format");
    std::fs::create_dir_all(&data_dir).unwrap();
    std::fs::write(data_dir.join("FORMAT"), "concord-data-format 99\n").unwrap();
    let stderr = start_fails(&data_dir);
    assert!(
        stderr.contains("data format version 99") && stderr.contains("only version 1"),
        "{stderr}"
    );
}

#[test]
fn a_missing_or_empty_data_directory_starts_fresh_and_a_foreign_one_is_refused() {
    let (_missing, missing) = data_directory("missing");
    let mut node = start(&missing, &[]);
    let mut client = node.client();
    assert_eq!(redis::cmd("DBSIZE").query::<u64>(&mut client).unwrap(), 0);
    node.kill();
    assert!(missing.join("FORMAT").is_file());

    // An empty directory, as an earlier in-memory build of Concord left it, is upgraded.
    let (_empty, empty) = data_directory("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let mut node = start(&empty, &[]);
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut node.client()).unwrap();
    node.kill();
    let mut node = start(&empty, &[]);
    assert_eq!(redis::cmd("GET").arg("k").query::<String>(&mut node.client()).unwrap(), "v");
    node.kill();

    let (_foreign, foreign) = data_directory("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("dump.rdb"), "REDIS0011").unwrap();
    let stderr = start_fails(&foreign);
    assert!(stderr.contains("not a Concord data directory"), "{stderr}");
}

/// Every key's observable state: type, value, expiry deadline and OBJECT ENCODING.
fn dump_keyspace(client: &mut redis::Connection) -> Vec<String> {
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(client).unwrap();
    keys.sort();
    keys.into_iter()
        .map(|key| {
            let kind: String = redis::cmd("TYPE").arg(&key).query(client).unwrap();
            let value: Vec<String> = match kind.as_str() {
                "string" => vec![redis::cmd("GET").arg(&key).query(client).unwrap()],
                "list" => redis::cmd("LRANGE").arg(&key).arg(0).arg(-1).query(client).unwrap(),
                "zset" => redis::cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query(client)
                    .unwrap(),
                other => panic!("the test does not know type {other} yet"),
            };
            let deadline: i64 = redis::cmd("PEXPIRETIME").arg(&key).query(client).unwrap();
            let encoding: String =
                redis::cmd("OBJECT").arg("ENCODING").arg(&key).query(client).unwrap();
            format!("{key} {kind} {encoding} expires={deadline} {value:?}")
        })
        .collect()
}

/// Writes many keys of every type, small and large encodings, some with a deadline; `round`
/// changes which keys are touched, so that a second call makes a log tail of changes.
fn write_every_type(client: &mut redis::Connection, round: u64) {
    let mut pipe = redis::pipe();
    for index in 0..2_000u64 {
        let key = format!("string:{}", (index * 7 + round * 13) % 2_500);
        match index % 4 {
            0 => pipe.cmd("SET").arg(&key).arg(index * round + 1),
            1 => pipe.cmd("SET").arg(&key).arg(format!("short-{index}")),
            2 => pipe.cmd("SET").arg(&key).arg("x".repeat(60 + index as usize % 50)),
            _ => pipe.cmd("SET").arg(&key).arg(index).arg("EX").arg(10_000 + index),
        };
        pipe.ignore();
    }
    for index in 0..200u64 {
        let key = format!("list:{}", (index + round * 31) % 250);
        let length = if index % 10 == 0 { 1_000 } else { 1 + index % 20 };
        let elements: Vec<String> =
            (0..length).map(|element| format!("e{element}-{round}")).collect();
        pipe.cmd("RPUSH").arg(&key).arg(&elements).ignore();
        if index % 3 == 0 {
            pipe.cmd("LPOP").arg(&key).ignore();
        }
        if index % 5 == 0 {
            pipe.cmd("PEXPIRE").arg(&key).arg(5_000_000 + index).ignore();
        }
    }
    for index in 0..200u64 {
        let key = format!("zset:{}", (index + round * 17) % 250);
        // Sorted sets only grow here: Redis never converts a skiplist back while running.
        let members = if index % 10 == 0 { 300 } else { 1 + index % 30 };
        let mut command = redis::cmd("ZADD");
        command.arg(&key);
        for member in 0..members {
            let name = if index % 7 == 0 && member == 0 {
                format!("long-member-{}", "m".repeat(80))
            } else {
                format!("m{member}")
            };
            command.arg(member as f64 * 1.5 - round as f64).arg(name);
        }
        pipe.add_command(command).ignore();
        if index % 4 == 0 {
            pipe.cmd("EXPIRE").arg(&key).arg(20_000 + index).ignore();
        }
    }
    for index in 0..50u64 {
        pipe.cmd("DEL").arg(format!("string:{}", (index * 11 + round) % 2_500)).ignore();
    }
    let _: () = pipe.query(client).unwrap();
}

#[test]
fn a_snapshot_plus_a_log_tail_restores_every_type_exactly() {
    let (_data_dir, data_dir) = data_directory("every-type");
    let mut node = start(&data_dir, &[]);
    let mut client = node.client();
    write_every_type(&mut client, 1);
    let reply: String = redis::cmd("SAVE").query(&mut client).unwrap();
    assert_eq!(reply, "OK");
    write_every_type(&mut client, 2);
    let before = dump_keyspace(&mut client);
    assert!(before.len() > 2_500, "the test wrote too few keys: {}", before.len());
    node.kill();
    let node = start(&data_dir, &[]);
    let mut client = node.client();
    assert!(info_field(&mut client, "concord_snapshot_index") > 0, "no snapshot was loaded");
    let after = dump_keyspace(&mut client);
    let differences: Vec<_> =
        before.iter().zip(&after).filter(|(before, after)| before != after).take(5).collect();
    assert!(
        before.len() == after.len() && differences.is_empty(),
        "{} keys before, {} after; first differences (before, after): {differences:#?}",
        before.len(),
        after.len()
    );
}

/// `fsync = every-second` acknowledges a write once it is in the operating system's page
/// cache (written, not synced). So a crash of the process (SIGKILL here) or a clean restart
/// loses nothing acknowledged; only a crash of the machine may lose the last second or so,
/// which a test cannot produce without a pluggable disk and is documented instead.
#[test]
fn every_second_mode_keeps_every_acknowledged_write_across_a_process_crash_and_a_restart() {
    let (_data_dir, data_dir) = data_directory("every-second");
    let mut node = start(&data_dir, &["--fsync", "every-second"]);
    let mut client = node.client();
    let info: String = redis::cmd("INFO").arg("persistence").query(&mut client).unwrap();
    assert!(info.contains("every-second"), "INFO does not report the relaxed mode:\n{info}");
    for index in 0..500 {
        let _: () =
            redis::cmd("SET").arg(format!("k{index}")).arg(index).query(&mut client).unwrap();
    }
    node.kill();
    let mut node = start(&data_dir, &["--fsync", "every-second"]);
    let mut client = node.client();
    assert_eq!(redis::cmd("DBSIZE").query::<u64>(&mut client).unwrap(), 500);
    assert_eq!(redis::cmd("GET").arg("k499").query::<u64>(&mut client).unwrap(), 499);
    for index in 500..1_000 {
        let _: () =
            redis::cmd("SET").arg(format!("k{index}")).arg(index).query(&mut client).unwrap();
    }
    // A clean stop (SIGINT, as Ctrl-C) syncs what the log holds before the process ends.
    assert!(node.signal(libc::SIGINT), "concord exited before the SIGINT");
    let deadline = Instant::now() + Duration::from_secs(20);
    while node.exit_status().is_none() {
        assert!(Instant::now() < deadline, "concord did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(node);
    let node = start(&data_dir, &[]);
    let mut client = node.client();
    assert_eq!(redis::cmd("DBSIZE").query::<u64>(&mut client).unwrap(), 1_000);
    assert_eq!(redis::cmd("GET").arg("k999").query::<u64>(&mut client).unwrap(), 999);
}

fn info_line(client: &mut redis::Connection, field: &str) -> String {
    let info: String = redis::cmd("INFO").arg("persistence").query(client).unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .map(|value| value.trim().to_string())
        .unwrap_or_else(|| panic!("INFO persistence lacks {field}:\n{info}"))
}

/// Sends SET until one is refused with MISCONF (the first may be held by the log thread and
/// answered as "outcome unknown"); returns the refusal's text.
fn set_until_refused(client: &mut redis::Connection) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    for attempt in 0.. {
        assert!(Instant::now() < deadline, "writes were never refused on the full disk");
        let reply =
            redis::cmd("SET").arg(format!("refused:{attempt}")).arg("x").query::<String>(client);
        match reply {
            Err(error) if error.to_string().contains("MISCONF") => return error.to_string(),
            Err(error) if error.to_string().contains("may or may not") => {}
            other => panic!("a write on a full disk answered {other:?}"),
        }
    }
    unreachable!()
}

#[test]
fn a_full_disk_refuses_writes_with_misconf_serves_reads_and_recovers_without_a_restart() {
    let disk = SmallDisk::mount("full-disk", 4 * 1024 * 1024);
    let data_dir = disk.path().join("data");
    let mut node = start(&data_dir, &[]);
    let mut client = node.client();
    for index in 0..100 {
        let _: () =
            redis::cmd("SET").arg(format!("k{index}")).arg(index).query(&mut client).unwrap();
    }
    disk.fill();
    // Writes go on into the zeros the log wrote ahead of its records (preallocation, 1 MiB);
    // the first write that needs more cannot be written: it is held (outcome unknown), and
    // later ones are refused.
    let big = "h".repeat(100_000);
    let mut taken = 0;
    let (held_key, held) = loop {
        let key = format!("big:{taken}");
        match redis::cmd("SET").arg(&key).arg(&big).query::<String>(&mut client) {
            Ok(_) => {
                taken += 1;
                assert!(taken <= 20, "{taken} writes of 100 kB succeeded on a full disk");
            }
            Err(error) => break (key, Err::<String, _>(error)),
        }
    };
    assert!(
        matches!(&held, Err(error) if error.to_string().contains("may or may not")
            || error.to_string().contains("MISCONF")),
        "the write that found the disk full answered {held:?}"
    );
    let refusal = set_until_refused(&mut client);
    let expected = format!(
        "Concord cannot write its log in {}: no space left on device; writes are refused \
         until space is freed, reads still work",
        data_dir.display()
    );
    assert!(refusal.contains(&expected), "expected MISCONF {expected:?}, got {refusal:?}");
    // Reads still work, and every acknowledged write is there.
    assert_eq!(redis::cmd("GET").arg("k42").query::<u64>(&mut client).unwrap(), 42);
    assert_eq!(redis::cmd("DBSIZE").query::<u64>(&mut client).unwrap(), 100 + taken);
    assert_eq!(info_line(&mut client, "concord_storage_status"), "disk-full");
    assert_eq!(info_line(&mut client, "aof_last_write_status"), "err");
    let save = redis::cmd("SAVE").query::<String>(&mut client).unwrap_err().to_string();
    assert!(save.contains("snapshot could not be written"), "SAVE answered {save}");
    let bgsave = redis::cmd("BGSAVE").query::<String>(&mut client).unwrap_err().to_string();
    assert!(bgsave.contains("snapshot could not be written"), "BGSAVE answered {bgsave}");
    assert!(node.exit_status().is_none(), "concord exited on a full disk");
    let status = support::process::concord()
        .args(["status", "--port", &node.port().to_string()])
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains("disk-full"), "concord status does not show the full disk:\n{status}");

    // Space is back: writes succeed again, without a restart, and the held one was applied.
    disk.free();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "writes were still refused after space was freed");
        match redis::cmd("SET").arg("after").arg("space").query::<String>(&mut client) {
            Ok(reply) if reply == "OK" => break,
            Err(error) if error.to_string().contains("MISCONF") => {
                std::thread::sleep(Duration::from_millis(50))
            }
            other => panic!("a write after space was freed answered {other:?}"),
        }
    }
    assert_eq!(info_line(&mut client, "concord_storage_status"), "ok");
    assert_eq!(redis::cmd("GET").arg(&held_key).query::<String>(&mut client).unwrap(), big);
    assert_eq!(redis::cmd("SAVE").query::<String>(&mut client).unwrap(), "OK");
    node.kill();
    let node = start(&data_dir, &[]);
    let mut client = node.client();
    for index in 0..100 {
        let value: u64 = redis::cmd("GET").arg(format!("k{index}")).query(&mut client).unwrap();
        assert_eq!(value, index, "acknowledged write of k{index} lost");
    }
    for index in 0..taken {
        let value: String =
            redis::cmd("GET").arg(format!("big:{index}")).query(&mut client).unwrap();
        assert_eq!(value, big, "acknowledged write of big:{index} lost");
    }
    assert_eq!(redis::cmd("GET").arg("after").query::<String>(&mut client).unwrap(), "space");
}

#[test]
fn a_snapshot_that_finds_the_disk_full_fails_save_and_the_node_keeps_running() {
    let disk = SmallDisk::mount("full-save", 4 * 1024 * 1024);
    let data_dir = disk.path().join("data");
    let mut node = start(&data_dir, &[]);
    let mut client = node.client();
    let value = "v".repeat(1_000);
    for index in 0..200 {
        let _: () =
            redis::cmd("SET").arg(format!("k{index}")).arg(&value).query(&mut client).unwrap();
    }
    disk.fill();
    let error = redis::cmd("SAVE").query::<String>(&mut client).unwrap_err().to_string();
    assert!(
        error.contains("snapshot could not be written") && error.contains("No space left"),
        "SAVE on a full disk answered {error}"
    );
    assert!(node.exit_status().is_none(), "concord exited after a failed snapshot");
    assert_eq!(info_line(&mut client, "rdb_last_bgsave_status"), "err");
    assert_eq!(redis::cmd("GET").arg("k7").query::<String>(&mut client).unwrap(), value);
    disk.free();
    assert_eq!(redis::cmd("SAVE").query::<String>(&mut client).unwrap(), "OK");
    assert_eq!(info_line(&mut client, "rdb_last_bgsave_status"), "ok");
    let _: () = redis::cmd("SET").arg("after").arg("save").query(&mut client).unwrap();
}
