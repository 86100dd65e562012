//! A stream used as a work queue on a 3-node cluster of real processes, under faults:
//! producers XADD through varying members while the consumers of one group read with
//! XREADGROUP (`>` with and without BLOCK, and their own pending entries with `0`), claim with
//! XCLAIM and XAUTOCLAIM, and XACK through followers. During the run the leader is killed with
//! SIGKILL and restarted, one link is cut, and later the new leader is cut off from both
//! others. Every request and its outcome is recorded; at the end, with every fault healed, the
//! history must show:
//!
//! 1. every acknowledged XADD's entry, and every entry a consumer was given, is in the stream on
//!    every member, with its fields; and the stream holds nothing no producer sent;
//! 2. no entry was given out twice through `>`, and no consumer read an entry from its own
//!    pending list that a claim could not have given it (after a claim moved the entry to
//!    another consumer, only a later claim moves it back);
//! 3. no entry of an acknowledged XACK is pending afterwards;
//! 4. every member holds the same keyspace: the same keys, each with the same DUMP, TTL, and
//!    for streams XINFO STREAM FULL, XINFO GROUPS and XPENDING (without the idle times, which
//!    are measured from the time of the read).
//!
//! How outcomes are recorded: a reply is a known outcome. An error saying "the command was not
//! applied" means nothing happened, and the request is forgotten. Any other error, a timeout
//! or a lost connection is an unknown outcome: a read through `>` that may have happened may
//! have given its consumer any entry, and a claim that may have happened may have moved any of
//! its entries (XAUTOCLAIM: any entry at all) to its consumer. The checks accept every
//! history a correct cluster can produce under those rules, so a failure is a real violation.
//!
//! The run is bounded by request counts per client and by progress (the faults advance after
//! a number of acknowledged XADDs), never by timing thresholds; waits are bounded only by a
//! hang guard.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::Value;
use support::cluster::workload::{self, Random};
use support::cluster::{connect, Cluster, NodeId, WAIT_MAX};

const STREAM: &str = "queue";
const GROUP: &str = "workers";
const PRODUCERS: u64 = 2;
const CONSUMERS: u64 = 3;
/// The most requests one producer or consumer sends, whatever happens.
const REQUESTS_MAX: u64 = 1_500;
/// Acknowledged XADDs between one fault and the next.
const XADDS_PER_PHASE: u64 = 25;
/// A client's connect, read and write timeout: longer than a blocked read's BLOCK plus the
/// nodes' leader and commit waits (2 s each), so a node usually answers before it passes.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(8);
const BLOCK_MS: u64 = 300;
/// The pause after a failed connection attempt, so that a dead node is not dialed in a loop.
const RECONNECT_PAUSE: Duration = Duration::from_millis(50);

type EntryId = String;
type Fields = Vec<String>;

/// Who did a request and what it could have done to the group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// XREADGROUP with `>`: new entries given to the consumer.
    New,
    /// XREADGROUP with `0`: the consumer's own pending entries.
    OwnPending,
    /// XCLAIM or XAUTOCLAIM: pending entries moved to the consumer.
    Claim,
}

/// One request of a consumer that gave (or may have given) it entries. Times are from the
/// start of the run.
#[derive(Clone, Debug)]
struct Receipt {
    consumer: String,
    kind: Kind,
    invoked: Duration,
    /// `None`: the outcome is unknown.
    completed: Option<Duration>,
    /// The entries, if known: the reply's for a known outcome, the claimed ids for an XCLAIM
    /// of unknown outcome, `None` (any entry) otherwise.
    entries: Option<Vec<(EntryId, Fields)>>,
}

impl Receipt {
    /// The receipt in a few words: who, what, when, and which entries.
    fn describe(&self) -> String {
        let completed = self.completed.map_or("unknown".to_string(), |at| format!("{at:?}"));
        let entries = self.entries.as_ref().map_or("any entries".to_string(), |entries| {
            let ids: Vec<&str> = entries.iter().map(|(id, _)| id.as_str()).collect();
            ids.join(" ")
        });
        format!(
            "{} {:?} from {:?} to {completed}: {entries}",
            self.consumer, self.kind, self.invoked
        )
    }

    fn may_include(&self, id: &str) -> bool {
        self.entries.as_ref().is_none_or(|entries| entries.iter().any(|(entry, _)| entry == id))
    }

    fn includes(&self, id: &str) -> bool {
        self.completed.is_some() && self.may_include(id)
    }
}

/// Everything the clients were told.
#[derive(Default)]
struct Records {
    /// Every XADD sent, by its fields, with its id if it was acknowledged.
    added: BTreeMap<Fields, Option<EntryId>>,
    receipts: Vec<Receipt>,
    /// The ids of every acknowledged XACK.
    acknowledged: BTreeSet<EntryId>,
}

/// The shared record of a run, and the clients' view of the cluster.
struct Run {
    /// The seed of every client's choices (`CONCORD_CLUSTER_SEED` repeats a run's choices).
    seed: u64,
    origin: Instant,
    records: Mutex<Records>,
    ports: Vec<(NodeId, u16)>,
    /// The leader as the test last saw it: XACK goes to another member.
    leader: AtomicU64,
    xadds_acknowledged: AtomicU64,
    stop: AtomicBool,
}

impl Run {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn records(&self) -> std::sync::MutexGuard<'_, Records> {
        self.records.lock().expect("no client panics while holding the records")
    }
}

/// One client's connections, one per member, opened when first needed and dropped after any
/// error that was not a server reply (a late reply must not answer the next request).
struct Connections {
    open: BTreeMap<u16, redis::Connection>,
}

/// Why a request got no reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    /// The error proves the command did not happen (or it was never sent).
    NotApplied,
    /// It may or may not have happened.
    Unknown,
}

impl Connections {
    /// Sends `command` to the member on `port`.
    fn query(&mut self, port: u16, command: &redis::Cmd) -> Result<Value, Failure> {
        let connection = match self.open.entry(port) {
            std::collections::btree_map::Entry::Occupied(open) => open.into_mut(),
            std::collections::btree_map::Entry::Vacant(vacant) => {
                match connect(port, CLIENT_TIMEOUT) {
                    Ok(connection) => vacant.insert(connection),
                    Err(_) => {
                        std::thread::sleep(RECONNECT_PAUSE);
                        return Err(Failure::NotApplied);
                    }
                }
            }
        };
        match command.query::<Value>(connection) {
            Ok(value) => Ok(value),
            Err(error) => {
                if error.code().is_none() {
                    self.open.remove(&port);
                }
                if error.to_string().contains("the command was not applied") {
                    Err(Failure::NotApplied)
                } else {
                    Err(Failure::Unknown)
                }
            }
        }
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Value::SimpleString(text) => text.clone(),
        Value::Int(number) => number.to_string(),
        other => panic!("expected a string, got {other:?}"),
    }
}

fn array(value: &Value) -> &[Value] {
    match value {
        Value::Array(items) => items,
        other => panic!("expected an array, got {other:?}"),
    }
}

/// The entries of a stream reply: `[[id, [field, value, ...]], ...]`.
fn entries_of(value: &Value) -> Vec<(EntryId, Fields)> {
    array(value)
        .iter()
        .map(|entry| {
            let [id, fields] = array(entry) else { panic!("an entry is [id, fields]: {entry:?}") };
            (text(id), array(fields).iter().map(text).collect())
        })
        .collect()
}

/// The entries of an XREADGROUP reply for the one stream read (nil: none).
fn read_entries(value: &Value) -> Vec<(EntryId, Fields)> {
    match value {
        Value::Nil => Vec::new(),
        reply => {
            let [stream] = array(reply) else { panic!("one stream was read: {reply:?}") };
            let [_, entries] = array(stream) else { panic!("a stream is [key, entries]") };
            entries_of(entries)
        }
    }
}

fn random_member(run: &Run, random: &mut Random) -> u16 {
    run.ports[random.below(run.ports.len() as u64) as usize].1
}

fn follower(run: &Run, random: &mut Random) -> u16 {
    let leader = run.leader.load(Ordering::Relaxed);
    let followers: Vec<u16> =
        run.ports.iter().filter(|(id, _)| *id != leader).map(|(_, port)| *port).collect();
    followers[random.below(followers.len() as u64) as usize]
}

fn run_producer(run: &Run, producer: u64) {
    let mut random = Random::new(run.seed ^ (producer + 1) << 32);
    let mut connections = Connections { open: BTreeMap::new() };
    for sequence in 0..REQUESTS_MAX {
        if run.stop.load(Ordering::Relaxed) {
            return;
        }
        let fields: Fields =
            vec!["producer".into(), producer.to_string(), "n".into(), sequence.to_string()];
        run.records().added.insert(fields.clone(), None);
        let command = redis::cmd("XADD").arg(STREAM).arg("*").arg(&fields).clone();
        match connections.query(random_member(run, &mut random), &command) {
            Ok(id) => {
                run.records().added.insert(fields, Some(text(&id)));
                run.xadds_acknowledged.fetch_add(1, Ordering::Relaxed);
            }
            Err(Failure::NotApplied) => {
                run.records().added.remove(&fields);
            }
            Err(Failure::Unknown) => {}
        }
    }
}

/// Sends one request that gives `consumer` entries, and records what it gave.
fn receive(
    run: &Run,
    connections: &mut Connections,
    port: u16,
    kind: Kind,
    consumer: &str,
    command: &redis::Cmd,
    claimed: Option<Vec<EntryId>>,
) -> Vec<(EntryId, Fields)> {
    let invoked = run.now();
    let reply = connections.query(port, command);
    let completed = run.now();
    let (completed, entries) = match reply {
        Ok(value) => {
            let entries = match kind {
                Kind::New | Kind::OwnPending => read_entries(&value),
                Kind::Claim if claimed.is_some() => entries_of(&value),
                // XAUTOCLAIM: [next id, entries, deleted ids].
                Kind::Claim => entries_of(&array(&value)[1]),
            };
            (Some(completed), Some(entries))
        }
        Err(Failure::NotApplied) => return Vec::new(),
        Err(Failure::Unknown) => {
            let claimed = claimed.map(|ids| ids.into_iter().map(|id| (id, Vec::new())).collect());
            (None, claimed)
        }
    };
    let receipt = Receipt { consumer: consumer.to_string(), kind, invoked, completed, entries };
    let given = receipt.completed.and(receipt.entries.clone()).unwrap_or_default();
    run.records().receipts.push(receipt);
    given
}

/// Acknowledges `entries` through a follower, half of the time: the rest stay pending, for
/// the claims to move.
fn maybe_acknowledge(
    run: &Run,
    connections: &mut Connections,
    random: &mut Random,
    entries: &[(EntryId, Fields)],
) {
    if entries.is_empty() || random.below(2) == 0 {
        return;
    }
    let ids: Vec<&EntryId> = entries.iter().map(|(id, _)| id).collect();
    let command = redis::cmd("XACK").arg(STREAM).arg(GROUP).arg(&ids).clone();
    if connections.query(follower(run, random), &command).is_ok() {
        run.records().acknowledged.extend(ids.into_iter().cloned());
    }
}

/// Up to three pending entries of the group, from any consumer (empty if the read failed).
fn some_pending(connections: &mut Connections, port: u16) -> Vec<EntryId> {
    let command = redis::cmd("XPENDING").arg(STREAM).arg(GROUP).arg("-").arg("+").arg(3).clone();
    match connections.query(port, &command) {
        Ok(value) => array(&value).iter().map(|pending| text(&array(pending)[0])).collect(),
        Err(_) => Vec::new(),
    }
}

fn run_consumer(run: &Run, index: u64) {
    let consumer = format!("consumer-{index}");
    let mut random = Random::new(run.seed ^ (index + 7) << 40);
    let mut connections = Connections { open: BTreeMap::new() };
    for _ in 0..REQUESTS_MAX {
        if run.stop.load(Ordering::Relaxed) {
            return;
        }
        let port = random_member(run, &mut random);
        let mut read = redis::cmd("XREADGROUP");
        read.arg("GROUP").arg(GROUP).arg(&consumer).arg("COUNT").arg(5);
        let given = match random.below(6) {
            choice @ 0..=2 => {
                if choice > 0 {
                    read.arg("BLOCK").arg(BLOCK_MS);
                }
                read.arg("STREAMS").arg(STREAM).arg(">");
                receive(run, &mut connections, port, Kind::New, &consumer, &read, None)
            }
            3 => {
                read.arg("STREAMS").arg(STREAM).arg("0");
                receive(run, &mut connections, port, Kind::OwnPending, &consumer, &read, None)
            }
            4 => {
                let mut claim = redis::cmd("XAUTOCLAIM");
                claim.arg(STREAM).arg(GROUP).arg(&consumer).arg(0).arg("0-0").arg("COUNT").arg(3);
                receive(run, &mut connections, port, Kind::Claim, &consumer, &claim, None)
            }
            _ => {
                let ids = some_pending(&mut connections, port);
                if ids.is_empty() {
                    continue;
                }
                let mut claim = redis::cmd("XCLAIM");
                claim.arg(STREAM).arg(GROUP).arg(&consumer).arg(0).arg(&ids);
                receive(run, &mut connections, port, Kind::Claim, &consumer, &claim, Some(ids))
            }
        };
        maybe_acknowledge(run, &mut connections, &mut random, &given);
    }
}

/// Waits until `count` XADDs in all were acknowledged.
fn wait_for_xadds(run: &Run, count: u64, cluster: &Cluster) {
    let started = Instant::now();
    while run.xadds_acknowledged.load(Ordering::Relaxed) < count {
        assert!(
            started.elapsed() < WAIT_MAX,
            "the producers got no more than {} XADDs acknowledged of the {count} awaited; \
             logs in {:?}",
            run.xadds_acknowledged.load(Ordering::Relaxed),
            cluster.directory()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The faults, each after another [`XADDS_PER_PHASE`] acknowledged XADDs: kill the leader,
/// restart it, cut one link of the new leader, heal, cut the leader off from both others, heal.
fn run_faults(cluster: &mut Cluster, run: &Run) {
    let mut target = XADDS_PER_PHASE;
    let mut next_phase = |cluster: &mut Cluster| {
        wait_for_xadds(run, target, cluster);
        target += XADDS_PER_PHASE;
        run.leader.store(cluster.wait_for_leader(), Ordering::Relaxed);
    };
    next_phase(cluster);
    let killed = cluster.wait_for_leader();
    cluster.kill(killed);
    next_phase(cluster);
    cluster.restart(killed);
    next_phase(cluster);
    let leader = cluster.wait_for_leader();
    cluster.network.cut(leader, cluster.other_than(&[leader]));
    next_phase(cluster);
    cluster.network.heal();
    next_phase(cluster);
    let leader = cluster.wait_for_leader();
    let others: Vec<NodeId> = cluster.ids().into_iter().filter(|id| *id != leader).collect();
    cluster.network.partition(&[&[leader], &others]);
    next_phase(cluster);
    cluster.heal();
    next_phase(cluster);
}

/// `command`'s reply from the member on `port`, retried until it answers (after the heal a
/// member may still be catching up or electing), for at most [`WAIT_MAX`].
fn read_from(port: u16, command: &redis::Cmd) -> Value {
    let started = Instant::now();
    loop {
        let reply =
            connect(port, CLIENT_TIMEOUT).and_then(|mut connection| command.query(&mut connection));
        match reply {
            Ok(value) => return value,
            Err(error) => {
                assert!(started.elapsed() < WAIT_MAX, "member on {port} did not answer: {error}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// What a member shows of its keyspace: each key's type, DUMP and TTL, and for a stream what
/// XINFO and XPENDING show of its groups, idle times left out.
fn keyspace(port: u16) -> BTreeMap<String, Vec<String>> {
    let mut keys: Vec<String> =
        array(&read_from(port, redis::cmd("KEYS").arg("*"))).iter().map(text).collect();
    keys.sort();
    let mut shown = BTreeMap::new();
    for key in keys {
        let mut views = Vec::new();
        let kind = text(&read_from(port, redis::cmd("TYPE").arg(&key)));
        for command in [redis::cmd("DUMP").arg(&key), redis::cmd("PTTL").arg(&key)] {
            views.push(format!("{:?}", read_from(port, command)));
        }
        if kind == "stream" {
            let full =
                redis::cmd("XINFO").arg("STREAM").arg(&key).arg("FULL").arg("COUNT").arg(0).clone();
            views.push(format!("{:?}", read_from(port, &full)));
            views.push(format!(
                "{:?}",
                read_from(port, redis::cmd("XINFO").arg("GROUPS").arg(&key))
            ));
            for group in groups(port, &key) {
                let summary = redis::cmd("XPENDING").arg(&key).arg(&group).clone();
                views.push(format!("{:?}", read_from(port, &summary)));
                let pending = pending_entries(port, &key, &group);
                views.push(format!("{pending:?}"));
            }
        }
        shown.insert(format!("{kind} {key}"), views);
    }
    shown
}

fn groups(port: u16, key: &str) -> Vec<String> {
    let groups = read_from(port, redis::cmd("XINFO").arg("GROUPS").arg(key));
    array(&groups).iter().map(|group| text(&array(group)[1])).collect()
}

/// Every pending entry of `group` as `(id, consumer, deliveries)`.
fn pending_entries(port: u16, key: &str, group: &str) -> Vec<(EntryId, String, i64)> {
    let command =
        redis::cmd("XPENDING").arg(key).arg(group).arg("-").arg("+").arg(1_000_000).clone();
    array(&read_from(port, &command))
        .iter()
        .map(|pending| {
            let [id, consumer, _idle, deliveries] = array(pending) else {
                panic!("a pending entry is [id, consumer, idle, deliveries]: {pending:?}")
            };
            let Value::Int(deliveries) = deliveries else { panic!("deliveries: {deliveries:?}") };
            (text(id), text(consumer), *deliveries)
        })
        .collect()
}

/// Check 2 of the module doc: every entry of each consumer's own-pending read was the
/// consumer's to read. Returns the violations.
fn misdeliveries(receipts: &[Receipt]) -> Vec<String> {
    let mut wrong = Vec::new();
    let mut given_new: BTreeMap<&str, Vec<&Receipt>> = BTreeMap::new();
    for receipt in receipts.iter().filter(|receipt| receipt.kind == Kind::New) {
        if receipt.completed.is_some() {
            for (id, _) in receipt.entries.iter().flatten() {
                given_new.entry(id).or_default().push(receipt);
            }
        }
    }
    for (id, givers) in &given_new {
        if givers.len() > 1 {
            let givers: Vec<String> = givers.iter().map(|giver| giver.describe()).collect();
            wrong
                .push(format!("{id} was given out through `>` {} times: {givers:?}", givers.len()));
        }
    }
    for read in receipts.iter().filter(|receipt| receipt.kind == Kind::OwnPending) {
        let Some(completed) = read.completed else { continue };
        for (id, _) in read.entries.iter().flatten() {
            // The last consumer known to hold the entry before this read began.
            let holder = receipts
                .iter()
                .filter(|other| {
                    other.includes(id) && other.completed.expect("known") < read.invoked
                })
                .max_by_key(|other| other.completed);
            // A read through `>` or a claim by this consumer, begun before this read ended.
            let could_give = |other: &&Receipt| {
                other.kind != Kind::OwnPending
                    && other.consumer == read.consumer
                    && other.may_include(id)
                    && other.invoked < completed
            };
            let explained = match holder {
                Some(holder) if holder.consumer == read.consumer => true,
                // Only a claim after the holder got it can have moved it to this consumer.
                Some(holder) => receipts.iter().filter(could_give).any(|claim| {
                    claim.kind == Kind::Claim
                        && claim.completed.is_none_or(|done| done > holder.invoked)
                }),
                None => receipts.iter().filter(could_give).any(|_| true),
            };
            if !explained {
                wrong.push(format!(
                    "{} read {id} from its pending entries ({}), but the last known holder was \
                     {} and no claim since can have given it",
                    read.consumer,
                    read.describe(),
                    holder.map_or("nobody".to_string(), Receipt::describe),
                ));
            }
        }
    }
    wrong
}

/// Checks 1 and 3 of the module doc against one member's stream and pending entries.
fn lost_or_invented(
    records: &Records,
    stream: &[(EntryId, Fields)],
    pending: &[(EntryId, String, i64)],
) -> Vec<String> {
    let mut wrong = Vec::new();
    let held: BTreeMap<&EntryId, &Fields> =
        stream.iter().map(|(id, fields)| (id, fields)).collect();
    for (fields, id) in &records.added {
        if let Some(id) = id {
            if held.get(id) != Some(&fields) {
                wrong.push(format!("acknowledged XADD {id} {fields:?} is not in the stream"));
            }
        }
    }
    for (id, fields) in &held {
        if !records.added.contains_key(*fields) {
            wrong.push(format!("the stream holds {id} {fields:?}, which no producer sent"));
        }
    }
    for receipt in records.receipts.iter().filter(|receipt| receipt.completed.is_some()) {
        for (id, fields) in receipt.entries.iter().flatten() {
            if held.get(id) != Some(&fields) {
                wrong.push(format!(
                    "{} was given {id} {fields:?}, which is not in the stream",
                    receipt.consumer
                ));
            }
        }
    }
    for (id, consumer, _) in pending {
        if records.acknowledged.contains(id) {
            wrong.push(format!("{id} was acknowledged, but is still pending for {consumer}"));
        }
    }
    wrong
}

/// Checks 1, 3 and 4 of the module doc on every member, after the heal. Returns the violations.
fn check_members(cluster: &Cluster, records: &Records) -> Vec<String> {
    let mut wrong = Vec::new();
    let mut views = Vec::new();
    for (id, port) in cluster.client_ports() {
        let stream =
            entries_of(&read_from(port, redis::cmd("XRANGE").arg(STREAM).arg("-").arg("+")));
        let pending = pending_entries(port, STREAM, GROUP);
        wrong.extend(
            lost_or_invented(records, &stream, &pending)
                .into_iter()
                .map(|why| format!("member {id}: {why}")),
        );
        views.push((id, keyspace(port)));
    }
    let (first, first_view) = &views[0];
    for (id, view) in &views[1..] {
        for key in first_view.keys().chain(view.keys()).collect::<BTreeSet<_>>() {
            if first_view.get(key) != view.get(key) {
                wrong.push(format!(
                    "members {first} and {id} differ on {key}:\n  {:?}\n  {:?}",
                    first_view.get(key),
                    view.get(key)
                ));
            }
        }
    }
    wrong
}

#[test]
fn a_stream_work_queue_loses_no_entry_and_gives_none_twice_across_leader_crashes_and_partitions() {
    let mut cluster = Cluster::start("stream-faults", 3, &[]);
    let leader = cluster.wait_for_leader();
    let created: Value = cluster
        .command(
            leader,
            redis::cmd("XGROUP").arg("CREATE").arg(STREAM).arg(GROUP).arg("$").arg("MKSTREAM"),
        )
        .expect("XGROUP CREATE answers");
    assert_eq!(created, Value::Okay);
    let seed = workload::seed();
    let run = Arc::new(Run {
        seed,
        origin: Instant::now(),
        records: Mutex::new(Records::default()),
        ports: cluster.client_ports(),
        leader: AtomicU64::new(leader),
        xadds_acknowledged: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    let mut clients = Vec::new();
    for producer in 0..PRODUCERS {
        let run = Arc::clone(&run);
        clients.push(std::thread::spawn(move || run_producer(&run, producer)));
    }
    for consumer in 0..CONSUMERS {
        let run = Arc::clone(&run);
        clients.push(std::thread::spawn(move || run_consumer(&run, consumer)));
    }
    run_faults(&mut cluster, &run);
    run.stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().expect("a client thread never panics");
    }
    cluster.heal();
    cluster.wait_for_leader();

    let records = run.records();
    // The history alone shows these; the members are read only after them.
    let misdelivered = misdeliveries(&records.receipts);
    assert!(
        misdelivered.is_empty(),
        "seed {seed}: entries given to a consumer that was not to get them:\n{}",
        misdelivered.join("\n")
    );
    let wrong = check_members(&cluster, &records);
    let acknowledged = records.added.values().filter(|id| id.is_some()).count();
    let given: usize = records
        .receipts
        .iter()
        .filter(|receipt| receipt.completed.is_some())
        .map(|receipt| receipt.entries.as_ref().map_or(0, Vec::len))
        .sum();
    let unknown = records.receipts.iter().filter(|receipt| receipt.completed.is_none()).count();
    println!(
        "seed {seed}: {acknowledged} XADDs acknowledged of {} sent; {} receipts ({unknown} of \
         unknown outcome) giving {given} entries; {} entries acknowledged",
        records.added.len(),
        records.receipts.len(),
        records.acknowledged.len()
    );
    assert!(
        wrong.is_empty(),
        "seed {seed}: {} violations; logs in {:?}:\n{}",
        wrong.len(),
        cluster.directory(),
        wrong.join("\n")
    );
    assert!(
        given > 0 && !records.acknowledged.is_empty(),
        "the consumers got too little to check anything"
    );
}
