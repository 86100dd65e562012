use bytes::Bytes;
use proptest::prelude::*;

use super::*;

fn id(ms: u64, seq: u64) -> StreamId {
    StreamId { ms, seq }
}

fn pair(field: &str, value: &str) -> (Bytes, Bytes) {
    (Bytes::copy_from_slice(field.as_bytes()), Bytes::copy_from_slice(value.as_bytes()))
}

fn stream_of(count: u64) -> StreamValue {
    let mut stream = StreamValue::default();
    for ms in 1..=count {
        stream.append(id(ms, 0), &[pair("f", &ms.to_string())]);
    }
    stream
}

#[test]
fn a_node_closes_at_one_hundred_entries_as_redis_default_says() {
    let stream = stream_of(250);
    assert_eq!(stream.node_count(), 3);
    assert_eq!(stream.len(), 250);
    assert!(stream.is_consistent());
}

#[test]
fn a_node_closes_when_its_listpack_would_reach_4096_bytes() {
    let mut stream = StreamValue::default();
    let big = "y".repeat(1000);
    for ms in 1..=8 {
        stream.append(id(ms, 0), &[pair("f", &big)]);
    }
    assert!(stream.node_count() >= 2, "8 KB of values cannot share one 4 KB node");
    assert!(stream.is_consistent());
}

#[test]
fn entries_keep_their_own_fields_and_those_of_the_master() {
    let mut stream = StreamValue::default();
    stream.append(id(1, 0), &[pair("a", "1"), pair("b", "2")]);
    stream.append(id(1, 1), &[pair("a", "3"), pair("b", "4")]);
    stream.append(id(2, 0), &[pair("c", "5")]);
    let all = stream.range(StreamId::MIN, StreamId::MAX, false, 0);
    assert_eq!(all[1].pairs, vec![pair("a", "3"), pair("b", "4")]);
    assert_eq!(all[2].pairs, vec![pair("c", "5")]);
    let reversed = stream.range(StreamId::MIN, StreamId::MAX, true, 2);
    assert_eq!(reversed.iter().map(|entry| entry.id).collect::<Vec<_>>(), vec![id(2, 0), id(1, 1)]);
}

#[test]
fn deleting_every_entry_of_a_node_removes_the_node_and_keeps_the_counters() {
    let mut stream = stream_of(150);
    for ms in 1..=100 {
        assert!(stream.delete(id(ms, 0)));
    }
    assert!(!stream.delete(id(1, 0)), "an entry is deleted once");
    assert_eq!(stream.node_count(), 1);
    assert_eq!(stream.first_id(), id(101, 0));
    assert_eq!(stream.max_deleted_entry_id(), id(100, 0));
    assert_eq!(stream.entries_added(), 150);
    assert!(stream.is_consistent());
}

#[test]
fn approximate_trimming_removes_only_whole_nodes() {
    let mut stream = stream_of(250);
    let approximate = Trim { strategy: TrimStrategy::MaxLen(120), approximate: true, limit: 0 };
    assert_eq!(stream.trim(&approximate), 100);
    assert_eq!(stream.len(), 150);
    let exact = Trim { strategy: TrimStrategy::MaxLen(120), approximate: false, limit: 0 };
    assert_eq!(stream.trim(&exact), 30);
    assert_eq!(stream.first_id(), id(131, 0));
    let minimum = Trim { strategy: TrimStrategy::MinId(id(200, 0)), approximate: false, limit: 0 };
    assert_eq!(stream.trim(&minimum), 69);
    assert_eq!(stream.first_id(), id(200, 0));
    assert!(stream.is_consistent());
}

#[test]
fn a_snapshot_of_a_stream_reads_back_equal() {
    let mut stream = stream_of(120);
    stream.delete(id(5, 0));
    let mut group = ConsumerGroup::new(id(3, 0), None);
    group.touch_consumer(&Bytes::from_static(b"c"), 9);
    group.deliver_new(id(2, 0), &Bytes::from_static(b"c"), 9);
    stream.create_group(&Bytes::from_static(b"g"), group);
    let bytes = postcard::to_allocvec(&stream).unwrap();
    let back: StreamValue = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(back, stream);
    assert!(back.is_consistent());
}

#[derive(Clone, Debug)]
enum Operation {
    Deliver { entry: u8, consumer: u8 },
    Acknowledge { entry: u8 },
    Claim { entry: u8, consumer: u8 },
    DeleteConsumer { consumer: u8 },
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        (0u8..20, 0u8..4).prop_map(|(entry, consumer)| Operation::Deliver { entry, consumer }),
        (0u8..20).prop_map(|entry| Operation::Acknowledge { entry }),
        (0u8..20, 0u8..4).prop_map(|(entry, consumer)| Operation::Claim { entry, consumer }),
        (0u8..4).prop_map(|consumer| Operation::DeleteConsumer { consumer }),
    ]
}

proptest! {
    /// The PEL against a model: a map from entry to its holder. After any sequence of
    /// deliveries, acknowledgements, claims and consumer deletions, the group's PEL and every
    /// consumer's PEL say exactly what the model says.
    #[test]
    fn the_pending_entries_list_matches_a_model(operations in prop::collection::vec(operation(), 0..60)) {
        let name = |consumer: u8| Bytes::from(format!("c{consumer}"));
        let mut group = ConsumerGroup::new(StreamId::MIN, None);
        let mut model: std::collections::BTreeMap<u8, u8> = std::collections::BTreeMap::new();
        for operation in operations {
            match operation {
                Operation::Deliver { entry, consumer } => {
                    group.touch_consumer(&name(consumer), 1);
                    group.deliver_new(id(u64::from(entry), 0), &name(consumer), 1);
                    model.insert(entry, consumer);
                }
                Operation::Acknowledge { entry } => {
                    let acknowledged = group.acknowledge(id(u64::from(entry), 0));
                    prop_assert_eq!(acknowledged, model.remove(&entry).is_some());
                }
                Operation::Claim { entry, consumer } => {
                    group.touch_consumer(&name(consumer), 2);
                    group.claim(id(u64::from(entry), 0), &name(consumer), 2, 1);
                    model.insert(entry, consumer);
                }
                Operation::DeleteConsumer { consumer } => {
                    let held = model.values().filter(|holder| **holder == consumer).count();
                    prop_assert_eq!(group.delete_consumer(&name(consumer)), held as u64);
                    model.retain(|_, holder| *holder != consumer);
                }
            }
            prop_assert!(group.is_consistent());
            let pending: Vec<(StreamId, Bytes)> = group
                .pending()
                .iter()
                .map(|(id, entry)| (*id, entry.consumer.clone()))
                .collect();
            let expected: Vec<(StreamId, Bytes)> = model
                .iter()
                .map(|(entry, consumer)| (id(u64::from(*entry), 0), name(*consumer)))
                .collect();
            prop_assert_eq!(pending, expected);
        }
    }
}
