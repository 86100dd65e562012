//! `concord maelstrom g-counter` as Maelstrom drives it: one synchronous client per node
//! (`--concurrency 1n`), Maelstrom's operation mix (half adds with a delta drawn from 0..=4,
//! zeros included, half reads), `seq-kv` choosing states at random, a partition between nodes
//! and a heal, then one final read per node that must succeed and lie between the sum of the
//! acknowledged adds and the sum of all attempted ones (Maelstrom's g-counter checker).
//!
//! A client that gets no answer within [`MAELSTROM_CLIENT_TIMEOUT`] gives up, records the add
//! as indefinite and is replaced by a new client, as Jepsen does; a node that answers the old
//! one later is silenced by the harness, as by Maelstrom, and its final read then fails.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::support::maelstrom_services as services;
use super::{Cluster, Random, MAELSTROM_CLIENT_TIMEOUT};

/// A client's request in flight.
struct InFlight {
    msg_id: u64,
    /// The delta of an add; `None` for a read.
    delta: Option<u64>,
    sent_at: Instant,
}

struct Client {
    name: String,
    node: String,
    in_flight: Option<InFlight>,
}

/// The sums Maelstrom's checker compares final reads with.
#[derive(Default)]
struct Sums {
    acknowledged: u64,
    indefinite: u64,
    answered: u64,
    given_up: u64,
}

/// Completes `client`'s request if it was answered or timed out; a timed-out client is
/// replaced by a fresh one, as Jepsen reopens a client after an indefinite operation.
fn complete(cluster: &mut Cluster, client: &mut Client, sums: &mut Sums, next_client: &mut u64) {
    let Some(in_flight) = &client.in_flight else { return };
    let delta = in_flight.delta;
    match cluster.replies.remove(&in_flight.msg_id) {
        Some(reply) => {
            sums.answered += 1;
            let body = &reply["body"];
            match (body["type"].as_str(), delta) {
                (Some("add_ok"), Some(delta)) => sums.acknowledged += delta,
                (Some("read_ok"), None) => {}
                (Some("error"), Some(delta)) if body["code"] != 11 => sums.indefinite += delta,
                (Some("error"), _) => {}
                _ => panic!("{} got an answer that does not fit: {reply}", client.name),
            }
            client.in_flight = None;
        }
        None if in_flight.sent_at.elapsed() > MAELSTROM_CLIENT_TIMEOUT => {
            sums.given_up += 1;
            sums.indefinite += delta.unwrap_or(0);
            *next_client += 1;
            client.name = format!("c{next_client}");
            client.in_flight = None;
        }
        None => {}
    }
}

#[test]
fn g_counter_under_maelstroms_mix_answers_every_client_in_time_and_final_reads_count_all() {
    let nodes = ["n1", "n2", "n3"];
    let mut cluster = Cluster::start("g-counter", nodes.len());
    cluster.seq_kv = services::SequentialKv::like_maelstrom(0x2545_f491_4f6c_dd1d);
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let mut next_client = nodes.len() as u64;
    let mut clients: Vec<Client> = nodes
        .iter()
        .enumerate()
        .map(|(index, node)| Client {
            name: format!("c{}", index + 1),
            node: node.to_string(),
            in_flight: None,
        })
        .collect();
    let mut sums = Sums::default();
    let start = Instant::now();
    // Long enough for a client to give up (5 s) and for its node to answer it after that.
    let run = Duration::from_secs(7);
    while start.elapsed() < run {
        let partitioned =
            (Duration::from_secs(2)..Duration::from_secs(4)).contains(&start.elapsed());
        cluster.heal();
        if partitioned {
            cluster.partition("n1", "n2");
            cluster.partition("n1", "n3");
        }
        for client in clients.iter_mut().filter(|client| client.in_flight.is_none()) {
            let (body, delta) = if random.below(2) == 0 {
                let delta = random.below(5);
                (json!({"type": "add", "delta": delta}), Some(delta))
            } else {
                (json!({"type": "read"}), None)
            };
            let msg_id = cluster.send_as(&client.name, &client.node, body);
            client.in_flight = Some(InFlight { msg_id, delta, sent_at: Instant::now() });
        }
        // About Maelstrom's --rate 100 over three clients.
        cluster.pump(Instant::now() + Duration::from_millis(30), None);
        for client in &mut clients {
            complete(&mut cluster, client, &mut sums, &mut next_client);
        }
    }
    cluster.heal();
    let deadline = Instant::now() + MAELSTROM_CLIENT_TIMEOUT + Duration::from_secs(1);
    while clients.iter().any(|client| client.in_flight.is_some()) && Instant::now() < deadline {
        cluster.pump(Instant::now() + Duration::from_millis(20), None);
        for client in &mut clients {
            complete(&mut cluster, client, &mut sums, &mut next_client);
        }
    }
    // Let the last flushes land, then one final read per node, each from a fresh client.
    cluster.pump(Instant::now() + Duration::from_millis(500), None);
    let low = sums.acknowledged;
    let high = sums.acknowledged + sums.indefinite;
    eprintln!(
        "g-counter: {} answered, {} given up; acknowledged {low}, indefinite {}",
        sums.answered, sums.given_up, sums.indefinite
    );
    for node in nodes {
        next_client += 1;
        let msg_id = cluster.send_as(&format!("c{next_client}"), node, json!({"type": "read"}));
        cluster.pump_until(Instant::now() + MAELSTROM_CLIENT_TIMEOUT, |replies| {
            replies.contains_key(&msg_id)
        });
        let reply: Option<Value> = cluster.replies.remove(&msg_id);
        let reply = reply.unwrap_or_else(|| {
            panic!("{node}'s final read got no answer; silenced nodes: {:?}", cluster.silenced)
        });
        let value = reply["body"]["value"].as_u64();
        assert!(
            value.is_some_and(|value| (low..=high).contains(&value)),
            "{node}'s final read must lie in {low}..={high}: {reply}"
        );
    }
    cluster.assert_none_silenced();
    assert_eq!(sums.given_up, 0, "every request is answered before Maelstrom's client gives up");
}
