//! The sorted set against a sorted `Vec` model: every operation, every rank, and MVCC
//! independence of clones.

use super::*;
use proptest::prelude::*;

fn member(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

/// The model: pairs kept sorted by (score, member).
#[derive(Clone, Default)]
struct Model {
    pairs: Vec<(Bytes, f64)>,
}

impl Model {
    fn insert(&mut self, member: Bytes, score: f64) {
        self.pairs.retain(|(existing, _)| *existing != member);
        self.pairs.push((member, score));
        self.sort();
    }

    fn remove(&mut self, member: &Bytes) -> Option<f64> {
        let position = self.pairs.iter().position(|(existing, _)| existing == member)?;
        Some(self.pairs.remove(position).1)
    }

    fn sort(&mut self) {
        self.pairs.sort_by(|(a, sa), (b, sb)| compare(*sa, a, *sb, b));
    }
}

#[derive(Clone, Debug)]
enum Operation {
    Insert(u8, i8),
    Remove(u8),
    Pop(u8, bool),
    RemoveRanks(u8, u8),
    Snapshot,
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        4 => (any::<u8>(), any::<i8>()).prop_map(|(m, s)| Operation::Insert(m, s)),
        2 => any::<u8>().prop_map(Operation::Remove),
        1 => (0u8..5, any::<bool>()).prop_map(|(c, max)| Operation::Pop(c, max)),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Operation::RemoveRanks(a, b)),
        1 => Just(Operation::Snapshot),
    ]
}

fn assert_matches(set: &SortedSet, model: &Model) {
    set.check();
    let pairs: Vec<(Bytes, f64)> = set.iter().map(|(m, s)| (m.clone(), s)).collect();
    assert_eq!(pairs, model.pairs);
    for (rank, (member, score)) in model.pairs.iter().enumerate() {
        assert_eq!(set.rank(member), Some(rank));
        assert_eq!(set.score(member), Some(*score));
        assert_eq!(set.select(rank), Some((member, *score)));
        let reversed: Vec<&Bytes> = set.iter_from(rank, true).map(|(m, _)| m).collect();
        let expected: Vec<&Bytes> = model.pairs[..=rank].iter().rev().map(|(m, _)| m).collect();
        assert_eq!(reversed, expected);
    }
    assert_eq!(set.select(model.pairs.len()), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn the_set_behaves_as_a_sorted_vec(operations in proptest::collection::vec(operation(), 1..120)) {
        let mut set = SortedSet::with_expected_len(1000);
        let mut model = Model::default();
        let mut snapshots = Vec::new();
        for operation in operations {
            match operation {
                Operation::Insert(m, s) => {
                    let name = member(&format!("m{}", m % 40));
                    set.insert(name.clone(), f64::from(s % 8));
                    model.insert(name, f64::from(s % 8));
                }
                Operation::Remove(m) => {
                    let name = member(&format!("m{}", m % 40));
                    prop_assert_eq!(set.remove(&name), model.remove(&name));
                }
                Operation::Pop(count, from_max) => {
                    let popped = set.pop(count as usize, from_max);
                    let count = (count as usize).min(model.pairs.len());
                    let expected: Vec<(Bytes, f64)> = if from_max {
                        model.pairs.split_off(model.pairs.len() - count).into_iter().rev().collect()
                    } else {
                        model.pairs.drain(..count).collect()
                    };
                    prop_assert_eq!(popped, expected);
                }
                Operation::RemoveRanks(a, b) => {
                    let (start, end) = (a as usize % 50, b as usize % 50);
                    let removed = set.remove_ranks(start, end);
                    let end = end.min(model.pairs.len());
                    let expected: Vec<(Bytes, f64)> =
                        if start < end { model.pairs.drain(start..end).collect() } else { vec![] };
                    prop_assert_eq!(removed, expected);
                }
                Operation::Snapshot => snapshots.push((set.clone(), model.clone())),
            }
            assert_matches(&set, &model);
        }
        for (snapshot, model) in &snapshots {
            assert_matches(snapshot, model);
        }
    }
}

#[test]
fn a_full_scan_returns_every_member_once_in_pages() {
    let mut set = SortedSet::new();
    for index in 0..1000 {
        set.insert(member(&format!("member:{index}")), f64::from(index));
    }
    assert_eq!(set.encoding(), Encoding::Skiplist);
    let mut seen = std::collections::HashSet::new();
    let mut cursor = 0;
    loop {
        let page = set.scan(cursor, 10);
        assert!(page.pairs.len() < 100, "pages stay near COUNT");
        for (member, score) in page.pairs {
            assert_eq!(set.score(&member), Some(score));
            assert!(seen.insert(member), "returned twice");
        }
        cursor = page.next_cursor;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(seen.len(), 1000);
}

#[test]
fn encoding_follows_redis_thresholds_and_never_reverts() {
    let mut set = SortedSet::new();
    for index in 0..128 {
        set.insert(member(&format!("m{index}")), 1.0);
    }
    assert_eq!(set.encoding_name(), "listpack");
    set.insert(member("one more"), 1.0);
    assert_eq!(set.encoding_name(), "skiplist");
    set.pop(100, false);
    assert_eq!(set.encoding_name(), "skiplist");
    let mut long = SortedSet::new();
    long.insert(member(&"x".repeat(64)), 1.0);
    assert_eq!(long.encoding_name(), "listpack");
    long.insert(member(&"x".repeat(65)), 1.0);
    assert_eq!(long.encoding_name(), "skiplist");
}

#[test]
fn a_listpack_stores_negative_zero_as_zero_and_a_skiplist_keeps_it() {
    let mut small = SortedSet::new();
    small.insert(member("a"), -0.0);
    assert!(small.score(&member("a")).unwrap().is_sign_positive());
    let mut large = SortedSet::with_expected_len(500);
    large.insert(member("a"), -0.0);
    assert!(large.score(&member("a")).unwrap().is_sign_negative());
    assert_eq!(large.insert(member("a"), 0.0), Inserted::Unchanged, "-0 equals 0");
}

#[test]
fn snapshots_round_trip_and_reclassify_by_content() {
    let mut set = SortedSet::new();
    set.insert(member(&"x".repeat(70)), 1.0);
    set.insert(member("b"), -0.0);
    set.remove(&member(&"x".repeat(70)));
    assert_eq!(set.encoding_name(), "skiplist");
    let text = toml::to_string(&Wrapper { set }).unwrap();
    let loaded = toml::from_str::<Wrapper>(&text).unwrap().set;
    assert_eq!(loaded.encoding_name(), "listpack");
    assert!(loaded.score(&member("b")).unwrap().is_sign_positive());
    assert!(toml::from_str::<Wrapper>("set = []").is_err());
}

/// TOML documents are tables, so the set travels as a field.
#[derive(serde::Serialize, serde::Deserialize)]
struct Wrapper {
    set: SortedSet,
}
