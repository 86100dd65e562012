//! The clock-skew nemesis: a real 3-node cluster in which one node's wall clock runs tens of
//! seconds ahead and another's tens of seconds behind (libfaketime, see
//! `support/cluster/`), with keys that expire in every checked history.
//!
//! Concord's rule is that time comes from the leader: an entry carries the leader's time, and
//! a read on any member judges expiry by the leader's time as its read round brought it, tied
//! to the log (see `node::time`), not by the reading node's own clock. So every member must
//! answer GET, EXISTS and PTTL as the leader would, whatever its own clock says, and a member
//! that once led with a fast clock must not keep that clock's time afterwards.
//!
//! The keys, each written once (`SET key value PX ttl`) with a value of its own, so that
//! EXISTS and PTTL, which show only whether the key exists, are reads of that one value:
//! - **lasting** keys live 600 s, longer than any run plus any offset, so no acknowledged one
//!   may ever be seen absent; every one is read again on every member at the end;
//! - **expiring** keys live 20 s (longer than the run: a correct member sees them, but a
//!   member 40 s ahead would call them gone) or 0.2 to 2 s (they expire during the run). Each
//!   is recorded as its write plus a delete whose outcome is unknown, invoked with the write:
//!   the key may vanish at any moment after it was written, but once one read saw it gone, no
//!   later read anywhere may see it again.
//!
//! Every read goes to a random recent key on some member, so the same key is read on the
//! leader and on both skewed followers within a few milliseconds. The histories are checked by
//! `linearizability/`; PTTL must also never exceed the TTL written.
//!
//! Run: `cargo test --release --test cluster_clock -- --nocapture` (the counts are printed).
//! `CONCORD_CLUSTER_SOAK_SECONDS` and `CONCORD_CLUSTER_SEED` work as in `tests/cluster.rs`.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use support::cluster::workload::{load_duration, seed, Random};
use support::cluster::{connect, Cluster, NodeId, WAIT_MAX};
use support::linearizability::{check, write_history, Call, History, Outcome};

/// How far the skewed nodes' clocks are off: ahead and behind by more than the 20 s keys live.
const CLOCK_AHEAD: &str = "+40s";
const CLOCK_BEHIND: &str = "-40s";

/// The lasting keys' TTL: no run and no offset comes near it.
const LASTING_TTL_MS: u64 = 600_000;

/// The longer expiring keys' TTL: longer than a run, shorter than the offsets.
const TWENTY_SECONDS_MS: u64 = 20_000;

/// The load of one scenario when `CONCORD_CLUSTER_SOAK_SECONDS` is not set.
const DEFAULT_LOAD: Duration = Duration::from_secs(6);

/// A client's connect, read and write timeout: longer than the nodes' own waits (2 s).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(3);

/// Reads pick among this many most recently written keys.
const RECENT_KEYS: usize = 48;

/// Final reads are recorded as clients with ids from here up, one per node.
const FINAL_READER_BASE: u64 = 1_000;

/// A key some client wrote (or tried to).
#[derive(Clone, Debug)]
struct Written {
    key: String,
    value: String,
    ttl_ms: u64,
    lasting: bool,
}

/// Clients running against the cluster, sharing the keys written so far.
struct Load {
    history: History,
    written: Arc<Mutex<Vec<Written>>>,
    stop: Arc<AtomicBool>,
    clients: Vec<JoinHandle<Tally>>,
    seed: u64,
}

#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    writes_acknowledged: u64,
    reads_answered: u64,
    reads_absent: u64,
    errors: u64,
}

impl Load {
    /// One writer and two readers on each member.
    fn start(cluster: &Cluster, seed: u64, short_keys: bool) -> Load {
        let load = Load {
            history: History::new(),
            written: Arc::default(),
            stop: Arc::new(AtomicBool::new(false)),
            clients: Vec::new(),
            seed,
        };
        let mut clients = Vec::new();
        for (index, (_, port)) in cluster.client_ports().into_iter().enumerate() {
            for role in 0..3u64 {
                let client = index as u64 * 3 + role;
                let (history, written, stop) =
                    (load.history.clone(), Arc::clone(&load.written), Arc::clone(&load.stop));
                let random = Random::new(seed ^ (client + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                clients.push(std::thread::spawn(move || {
                    let client = Client { id: client, port, history, written, stop, random };
                    if role == 0 {
                        client.write_keys(short_keys)
                    } else {
                        client.read_keys()
                    }
                }));
            }
        }
        Load { clients, ..load }
    }

    fn stop(&mut self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        let mut tally = Tally::default();
        for client in self.clients.drain(..) {
            let client = client.join().expect("a client thread never panics");
            tally.writes_acknowledged += client.writes_acknowledged;
            tally.reads_answered += client.reads_answered;
            tally.reads_absent += client.reads_absent;
            tally.errors += client.errors;
        }
        tally
    }
}

struct Client {
    id: u64,
    port: u16,
    history: History,
    written: Arc<Mutex<Vec<Written>>>,
    stop: Arc<AtomicBool>,
    random: Random,
}

impl Client {
    /// Writes fresh keys until stopped: lasting ones, 20 s ones and (with `short_keys`) ones
    /// of 0.2 to 2 s.
    fn write_keys(mut self, short_keys: bool) -> Tally {
        let mut tally = Tally::default();
        let mut connection = None;
        let mut sequence = 0u64;
        while !self.stop.load(Ordering::Relaxed) {
            let Some(open) = self.connection(&mut connection) else { continue };
            sequence += 1;
            let kinds = if short_keys { 3 } else { 2 };
            let (lasting, ttl_ms) = match self.random.below(kinds) {
                0 => (true, LASTING_TTL_MS),
                1 => (false, TWENTY_SECONDS_MS),
                _ => (false, 200 + self.random.below(1800)),
            };
            let written = Written {
                key: format!("t{ttl_ms}-c{}-{sequence}", self.id),
                value: format!("v{}-{sequence}", self.id),
                ttl_ms,
                lasting,
            };
            self.written.lock().unwrap().push(written.clone());
            let call = Call::Write(written.value.clone());
            let write = self.history.invoke(self.id, &written.key, call);
            // Expiry: a delete that may happen at any moment after the write, or not at all.
            let expiry =
                (!lasting).then(|| self.history.invoke(self.id, &written.key, Call::Delete));
            let reply = redis::cmd("SET")
                .arg(&written.key)
                .arg(&written.value)
                .arg("PX")
                .arg(ttl_ms)
                .query::<String>(open);
            match reply {
                Ok(reply) => {
                    assert_eq!(reply, "OK", "SET answered something else");
                    write.complete(Outcome::Written);
                    tally.writes_acknowledged += 1;
                }
                Err(error) if error.to_string().contains("the command was not applied") => {
                    write.discard();
                    if let Some(expiry) = expiry {
                        expiry.discard();
                    }
                    tally.errors += 1;
                }
                Err(error) => {
                    write.complete(Outcome::Unknown);
                    tally.errors += 1;
                    if error.code().is_none() {
                        connection = None;
                    }
                }
            }
        }
        tally
    }

    /// Reads recent keys with GET, EXISTS or PTTL until stopped.
    fn read_keys(mut self) -> Tally {
        let mut tally = Tally::default();
        let mut connection = None;
        while !self.stop.load(Ordering::Relaxed) {
            let target = {
                let written = self.written.lock().unwrap();
                if written.is_empty() {
                    None
                } else {
                    let recent = written.len().min(RECENT_KEYS);
                    let pick = written.len() - 1 - self.random.below(recent as u64) as usize;
                    Some(written[pick].clone())
                }
            };
            let Some(target) = target else {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            };
            let Some(open) = self.connection(&mut connection) else { continue };
            let read = self.history.invoke(self.id, &target.key, Call::Read);
            match read_presence(open, &target, self.random.below(3)) {
                Ok(observed) => {
                    tally.reads_answered += 1;
                    tally.reads_absent += u64::from(observed.is_none());
                    read.complete(Outcome::Read(observed));
                }
                Err(error) => {
                    read.discard();
                    tally.errors += 1;
                    if error.code().is_none() {
                        connection = None;
                    }
                }
            }
        }
        tally
    }

    fn connection<'a>(
        &self,
        connection: &'a mut Option<redis::Connection>,
    ) -> Option<&'a mut redis::Connection> {
        if connection.is_none() {
            match connect(self.port, CLIENT_TIMEOUT) {
                Ok(opened) => *connection = Some(opened),
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(50));
                    return None;
                }
            }
        }
        connection.as_mut()
    }
}

/// The key's value as GET (`how` 0), EXISTS (1) or PTTL (2) shows it: the value written, or
/// `None` when the key is absent. Panics on a PTTL no correct node gives.
fn read_presence(
    connection: &mut redis::Connection,
    target: &Written,
    how: u64,
) -> redis::RedisResult<Option<String>> {
    let present = match how {
        0 => return redis::cmd("GET").arg(&target.key).query(connection),
        1 => redis::cmd("EXISTS").arg(&target.key).query::<i64>(connection)? == 1,
        _ => {
            let remaining_ms = redis::cmd("PTTL").arg(&target.key).query::<i64>(connection)?;
            assert!(
                remaining_ms == -2 || (0..=target.ttl_ms as i64).contains(&remaining_ms),
                "PTTL {} answered {remaining_ms}; the key was written with PX {}",
                target.key,
                target.ttl_ms
            );
            remaining_ms >= 0
        }
    };
    Ok(present.then(|| target.value.clone()))
}

/// Runs `fault` round after round while the load lasts; at least one round.
fn repeat_faults(mut fault: impl FnMut()) {
    let deadline = Instant::now() + load_duration(DEFAULT_LOAD);
    let mut first = true;
    while first || Instant::now() < deadline {
        fault();
        first = false;
    }
}

fn sleep_between(random: &mut Random, minimum_ms: u64, maximum_ms: u64) {
    let spread = maximum_ms - minimum_ms + 1;
    std::thread::sleep(Duration::from_millis(minimum_ms + random.below(spread)));
}

/// Node 2 runs ahead, node 3 behind, node 1 on this machine's clock.
fn skewed_cluster(label: &str) -> Cluster {
    Cluster::start_with_clock_offsets(label, 3, &[], &[(2, CLOCK_AHEAD), (3, CLOCK_BEHIND)])
}

/// Makes node `target` lead (a transfer, retried until it holds).
fn lead_with(cluster: &Cluster, target: NodeId) {
    let deadline = Instant::now() + WAIT_MAX;
    loop {
        let leader = cluster.wait_for_leader();
        if leader == target {
            return;
        }
        let _ = cluster.command::<String>(leader, redis::cmd("CONCORD.TRANSFERLEADER").arg(target));
        assert!(Instant::now() < deadline, "node {target} never took the lead");
    }
}

/// Stops the load, heals, reads every lasting key on every member (recorded), and checks the
/// whole history.
fn finish(scenario: &str, cluster: &mut Cluster, mut load: Load) {
    let tally = load.stop();
    cluster.heal();
    let lasting: Vec<Written> =
        load.written.lock().unwrap().iter().filter(|written| written.lasting).cloned().collect();
    for (id, port) in cluster.client_ports() {
        read_all_on(cluster, id, port, &lasting, &load.history);
    }
    let operations = load.history.operations();
    match check(&operations) {
        Ok(report) => println!("{scenario} (seed {}): {tally:?}; {report:?}", load.seed),
        Err(error) => {
            let path = cluster.directory().join("history.txt");
            write_history(&path, &operations, 24);
            panic!(
                "{scenario} (seed {}): the history is not linearizable ({tally:?}):{error:?}\n\
                 the whole history is in {path:?}, the node logs beside it",
                load.seed
            )
        }
    }
    assert!(
        tally.writes_acknowledged > 0 && tally.reads_answered > tally.reads_absent,
        "{scenario}: the clients got too few answers to check anything: {tally:?}"
    );
}

/// Reads each of `keys` on node `id` until it answers, recording every read.
fn read_all_on(cluster: &Cluster, id: NodeId, port: u16, keys: &[Written], history: &History) {
    let deadline = Instant::now() + WAIT_MAX;
    let mut connection = None;
    for written in keys {
        loop {
            assert!(
                Instant::now() < deadline,
                "node {id} did not serve the final reads within {WAIT_MAX:?}; logs in {:?}",
                cluster.directory()
            );
            if connection.is_none() {
                connection = connect(port, CLIENT_TIMEOUT).ok();
            }
            let Some(open) = connection.as_mut() else {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            };
            let read = history.invoke(FINAL_READER_BASE + id, &written.key, Call::Read);
            match redis::cmd("GET").arg(&written.key).query::<Option<String>>(open) {
                Ok(value) => {
                    read.complete(Outcome::Read(value));
                    break;
                }
                Err(_) => {
                    read.discard();
                    connection = None;
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }
}

/// The reported case: the leader keeps the machine's clock, one follower runs 40 s ahead (it
/// called acknowledged 20 s keys gone) and one 40 s behind (it kept showing expired keys),
/// while followers are paused and resumed.
#[test]
fn followers_whose_clocks_run_ahead_or_behind_answer_reads_as_the_leader_would() {
    let mut cluster = skewed_cluster("clock-followers");
    lead_with(&cluster, 1);
    let seed = seed();
    let load = Load::start(&cluster, seed, true);
    let mut random = Random::new(seed);
    repeat_faults(|| {
        sleep_between(&mut random, 300, 800);
        let follower = 2 + random.below(2);
        if cluster.leader() == Some(follower) {
            return;
        }
        cluster.pause(follower);
        sleep_between(&mut random, 100, 400);
        cluster.resume(follower);
    });
    finish("clock-followers", &mut cluster, load);
}

/// Leaders with different clocks: the leader is killed again and again, so leadership passes
/// between the fast, the slow and the true clock. Time may jump forward with a fast leader
/// (20 s keys may then expire), but never back below an applied entry's time, and no lasting
/// key may vanish.
#[test]
fn leaders_with_skewed_clocks_taking_turns_lose_no_lasting_key_and_revive_no_expired_one() {
    let mut cluster = skewed_cluster("clock-leaders");
    let seed = seed();
    let load = Load::start(&cluster, seed, false);
    let mut random = Random::new(seed);
    repeat_faults(|| {
        sleep_between(&mut random, 300, 900);
        let leader = cluster.wait_for_leader();
        cluster.kill(leader);
        sleep_between(&mut random, 300, 900);
        cluster.restart(leader);
    });
    finish("clock-leaders", &mut cluster, load);
}

/// A member that led with a fast clock and then lost the lead answers as the new leader does.
/// While node 2 (40 s ahead) leads, reads on every member run by its clock, with no write in
/// between; once node 1 (the machine's clock) leads, a key it writes to live 5 s is read on
/// every member at once. If the time node 2 handed out stayed with node 2 (or anyone), that
/// member would call the key gone while the others show it: time handed out to reads must
/// never run ahead of what the next leader starts from.
#[test]
fn a_member_that_led_with_a_fast_clock_answers_as_the_next_leader_does() {
    let cluster = skewed_cluster("clock-former-leader");
    lead_with(&cluster, 2);
    for id in cluster.ids() {
        for _ in 0..20 {
            let _: Option<String> =
                cluster.command(id, redis::cmd("GET").arg("probe")).expect("a read answers");
        }
    }
    lead_with(&cluster, 1);
    for round in 0..10 {
        let key = format!("five-seconds-{round}");
        let _: () = cluster
            .command(1, redis::cmd("SET").arg(&key).arg("v").arg("PX").arg(5_000))
            .expect("the write is acknowledged");
        for id in cluster.ids() {
            let value: Option<String> =
                cluster.command(id, redis::cmd("GET").arg(&key)).expect("a read answers");
            assert_eq!(
                value.as_deref(),
                Some("v"),
                "node {id} calls {key} gone right after node 1 wrote it to live 5 s"
            );
        }
    }
}
