//! The subscriber table inside apply: what PUBLISH counts, who it names, and what removes a
//! subscriber.

use bytes::Bytes;

use super::Subscriptions;
use crate::command::pubsub::{Publish, SubscriberId, SubscriptionKind, SubscriptionWrite};
use crate::command::transactions::{Operation, Step, Transaction};
use crate::command::Write;
use crate::resp::Frame;
use crate::state_machine::{Entry, Output, Receiver, StateMachine, WriteRequest};

struct Machine {
    machine: StateMachine,
    index: u64,
}

impl Machine {
    fn new() -> Machine {
        Machine { machine: StateMachine::new(), index: 0 }
    }

    fn apply(&mut self, write: Write) -> Frame {
        self.index += 1;
        let entry = Entry { leader_time_ms: 1, requests: vec![WriteRequest { db: 0, write }] };
        self.machine.apply(self.index, &entry).remove(0)
    }

    fn subscribe(
        &mut self,
        subscriber: SubscriberId,
        kind: SubscriptionKind,
        names: &[&str],
    ) -> Frame {
        let names = names.iter().map(|name| bytes(name)).collect();
        self.apply(Write::Subscriptions(SubscriptionWrite::Subscribe { subscriber, kind, names }))
    }

    fn publish(&mut self, channel: &str) -> Frame {
        let publish = Publish { channel: bytes(channel), message: bytes("m") };
        self.apply(Write::Publish(publish))
    }

    fn table(&self) -> &Subscriptions {
        self.machine.subscriptions()
    }
}

fn bytes(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

fn subscriber(node: u64, connection: u64) -> SubscriberId {
    SubscriberId { node, incarnation: 7, connection }
}

fn pair(name: &str, count: i64) -> Frame {
    Frame::Array(vec![Frame::bulk(name), Frame::Integer(count)])
}

#[test]
fn publish_counts_every_node_s_subscribers_as_a_single_redis_would() {
    let mut machine = Machine::new();
    machine.subscribe(subscriber(1, 1), SubscriptionKind::Channel, &["news"]);
    machine.subscribe(subscriber(2, 1), SubscriptionKind::Channel, &["news"]);
    // One client through two matching patterns receives it twice, as in Redis 7.0.
    machine.subscribe(subscriber(3, 1), SubscriptionKind::Pattern, &["n*", "*s"]);
    machine.subscribe(subscriber(3, 1), SubscriptionKind::Channel, &["news"]);
    assert_eq!(machine.publish("news"), Frame::Integer(5));
    let outputs = machine.machine.take_outputs();
    let Some(Output::Message { receivers, .. }) = outputs.last() else {
        panic!("no message output: {outputs:?}")
    };
    let expected = vec![
        Receiver { subscriber: subscriber(1, 1), pattern: None },
        Receiver { subscriber: subscriber(2, 1), pattern: None },
        Receiver { subscriber: subscriber(3, 1), pattern: None },
        Receiver { subscriber: subscriber(3, 1), pattern: Some(bytes("*s")) },
        Receiver { subscriber: subscriber(3, 1), pattern: Some(bytes("n*")) },
    ];
    assert_eq!(receivers, &expected);
    assert_eq!(machine.publish("nothing"), Frame::Integer(1), "only n* matches");
    assert_eq!(machine.publish("other"), Frame::Integer(0));
    assert_eq!(machine.table().subscriber_counts(&[bytes("news"), bytes("x")]), vec![3, 0]);
    assert_eq!(machine.table().pattern_count(), 2);
    assert_eq!(machine.table().channels(None), vec![bytes("news")]);
}

#[test]
fn confirmations_carry_the_subscriber_s_count_after_each_name() {
    let mut machine = Machine::new();
    let me = subscriber(1, 1);
    assert_eq!(
        machine.subscribe(me, SubscriptionKind::Channel, &["a", "b", "a"]),
        Frame::Array(vec![pair("a", 1), pair("b", 2), pair("a", 2)])
    );
    assert_eq!(
        machine.subscribe(me, SubscriptionKind::Pattern, &["p*"]),
        Frame::Array(vec![pair("p*", 3)])
    );
    let unsubscribe_all_channels = SubscriptionWrite::Unsubscribe {
        subscriber: me,
        kind: SubscriptionKind::Channel,
        names: Vec::new(),
    };
    assert_eq!(
        machine.apply(Write::Subscriptions(unsubscribe_all_channels.clone())),
        Frame::Array(vec![pair("a", 2), pair("b", 1)])
    );
    assert_eq!(
        machine.apply(Write::Subscriptions(unsubscribe_all_channels)),
        Frame::Array(vec![Frame::Array(vec![Frame::Null, Frame::Integer(1)])]),
        "nothing to unsubscribe: one null name and the remaining count"
    );
}

#[test]
fn closed_connections_earlier_runs_and_removed_members_stop_being_counted() {
    let mut machine = Machine::new();
    machine.subscribe(subscriber(1, 1), SubscriptionKind::Channel, &["c"]);
    machine.subscribe(subscriber(1, 2), SubscriptionKind::Pattern, &["c*"]);
    let later_run = SubscriberId { node: 1, incarnation: 8, connection: 1 };
    machine.subscribe(later_run, SubscriptionKind::Channel, &["c"]);
    machine.subscribe(subscriber(2, 1), SubscriptionKind::Channel, &["c", "d"]);
    machine.subscribe(subscriber(3, 1), SubscriptionKind::Channel, &["c"]);
    assert_eq!(machine.publish("c"), Frame::Integer(5));
    let gone = SubscriptionWrite::UnsubscribeAll { subscriber: subscriber(2, 1) };
    assert_eq!(machine.apply(Write::Subscriptions(gone)), Frame::Integer(2));
    assert_eq!(machine.publish("c"), Frame::Integer(4));
    let restarted = SubscriptionWrite::ForgetEarlierRuns { node: 1, incarnation: 8 };
    assert_eq!(machine.apply(Write::Subscriptions(restarted)), Frame::Integer(2));
    assert_eq!(machine.publish("c"), Frame::Integer(2), "node 1's new run and node 3");
    let removed = SubscriptionWrite::ForgetNode { node: 3 };
    assert_eq!(machine.apply(Write::Subscriptions(removed)), Frame::Integer(1));
    assert_eq!(machine.publish("c"), Frame::Integer(1));
    assert_eq!(machine.table().subscriber_count(), 1);
    assert_eq!(machine.table().channels(None), vec![bytes("c")], "d left with its subscriber");
}

#[test]
fn a_publish_inside_exec_is_counted_in_its_step() {
    let mut machine = Machine::new();
    machine.subscribe(subscriber(2, 1), SubscriptionKind::Channel, &["c"]);
    let publish = Publish { channel: bytes("c"), message: bytes("m") };
    let transaction = Transaction {
        watched: Vec::new(),
        steps: vec![Step { db: 0, operation: Operation::Write(Write::Publish(publish)) }],
    };
    assert_eq!(
        machine.apply(Write::Transaction(Box::new(transaction))),
        Frame::Array(vec![Frame::Integer(1)])
    );
}

#[test]
fn the_table_survives_a_snapshot_round_trip_and_keeps_its_bytes() {
    let mut machine = Machine::new();
    machine.subscribe(subscriber(1, 3), SubscriptionKind::Channel, &["c"]);
    machine.subscribe(subscriber(1, 3), SubscriptionKind::Pattern, &["p*"]);
    let bytes = postcard::to_allocvec(machine.table()).unwrap();
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    assert_eq!(hex, "010107030101630102702a", "the subscriber table's bytes changed");
    let decoded: Subscriptions = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(&decoded, machine.table(), "the indexes are rebuilt from the subscribers");
}
