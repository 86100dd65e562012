//! The trie against a model (an ordered map by `(hash, key)`), with hash functions that
//! force long shared prefixes and full collisions, and with views taken between operations.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

/// How a test hashes its keys: the real hash, or ones made to collide.
#[derive(Clone, Copy, Debug)]
enum Hashing {
    /// xxh3, as the keyspace uses.
    Real,
    /// Only the top and bottom 4 bits of xxh3 survive: every pair shares a long prefix, so
    /// chains run to the last level, and many hashes collide fully.
    Sparse,
    /// A handful of values: nearly every key collides.
    Few,
}

fn hash(hashing: Hashing, key: &[u8]) -> u64 {
    let real = xxhash_rust::xxh3::xxh3_64(key);
    match hashing {
        Hashing::Real => real,
        Hashing::Sparse => real & 0xF000_0000_0000_000F,
        Hashing::Few => real % 3 * 0x5555_5555_5555_5555,
    }
}

#[derive(Clone, Debug)]
enum Operation {
    Insert(u8, u32),
    Remove(u8),
    /// Take a view, and check it later against the model as it was.
    View,
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        4 => (0u8..48, any::<u32>()).prop_map(|(key, value)| Operation::Insert(key, value)),
        3 => (0u8..48).prop_map(Operation::Remove),
        1 => Just(Operation::View),
    ]
}

fn hashing() -> impl Strategy<Value = Hashing> {
    prop_oneof![Just(Hashing::Real), Just(Hashing::Sparse), Just(Hashing::Few)]
}

fn key_bytes(key: u8) -> Bytes {
    Bytes::from(format!("key:{key}"))
}

type Model = BTreeMap<(u64, Bytes), u32>;

/// Checks the module's invariants below `node` and returns the number of entries there.
fn check_node(node: &Node<u32>, depth: u32, prefix: &[u32]) -> usize {
    assert_eq!(node.entries_map & node.children_map, 0, "a slot holds an entry and a child");
    assert_eq!(node.entries.len(), node.entries_map.count_ones() as usize);
    assert_eq!(node.children.len(), node.children_map.count_ones() as usize);
    let on_path = |hash: u64| {
        prefix.iter().enumerate().all(|(level, slot)| chunk(hash, level as u32) == *slot)
    };
    let mut count = 0;
    for item in &node.entries {
        assert!(on_path(item.hash), "an entry off its path");
        assert!(node.entries_map & (1 << chunk(item.hash, depth)) != 0, "an entry in another slot");
        count += 1;
    }
    let mut slots = node.children_map;
    for child in &node.children {
        let slot = slots.trailing_zeros();
        slots &= slots - 1;
        let mut path = prefix.to_vec();
        path.push(slot);
        let below = match child {
            Child::Node(child) => check_node(child, depth + 1, &path),
            Child::Collision { hash, entries } => {
                assert_eq!(depth, LAST_DEPTH, "a collision above the last level");
                assert!(path.iter().enumerate().all(|(level, s)| chunk(*hash, level as u32) == *s));
                entries.len()
            }
        };
        assert!(below >= 2, "a child with fewer than two entries (not canonical)");
        count += below;
    }
    count
}

fn check(trie: &HashTrie<u32>, model: &Model, hashing: Hashing) {
    assert_eq!(check_node(&trie.root, 0, &[]), trie.len());
    assert_eq!(trie.len(), model.len());
    let walked: Vec<(u64, Bytes, u32)> =
        trie.iter().map(|(hash, key, value)| (hash, key.clone(), *value)).collect();
    let expected: Vec<(u64, Bytes, u32)> =
        model.iter().map(|((hash, key), value)| (*hash, key.clone(), *value)).collect();
    assert_eq!(walked, expected, "iteration is not in (hash, key) order");
    for key in 0..48 {
        let bytes = key_bytes(key);
        let hash = hash(hashing, &bytes);
        assert_eq!(trie.get(hash, &bytes), model.get(&(hash, bytes.clone())));
    }
}

fn check_range(trie: &HashTrie<u32>, model: &Model, start: u64) {
    let walked: Vec<(u64, Bytes)> =
        trie.iter_from(start).map(|(hash, key, _)| (hash, key.clone())).collect();
    let expected: Vec<(u64, Bytes)> =
        model.range((start, Bytes::new())..).map(|((hash, key), _)| (*hash, key.clone())).collect();
    assert_eq!(walked, expected, "iter_from({start:#x})");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn agrees_with_an_ordered_map(
        hashing in hashing(),
        operations in proptest::collection::vec(operation(), 1..200),
        starts in proptest::collection::vec(any::<u64>(), 4),
    ) {
        let mut trie = HashTrie::default();
        let mut model = Model::new();
        let mut views = Vec::new();
        for operation in operations {
            match operation {
                Operation::Insert(key, value) => {
                    let bytes = key_bytes(key);
                    let hash = hash(hashing, &bytes);
                    let owned = bytes.clone();
                    let replaced = trie.insert(hash, &bytes, move || owned, value);
                    prop_assert_eq!(replaced, model.insert((hash, bytes), value));
                }
                Operation::Remove(key) => {
                    let bytes = key_bytes(key);
                    let hash = hash(hashing, &bytes);
                    prop_assert_eq!(trie.remove(hash, &bytes), model.remove(&(hash, bytes)));
                }
                Operation::View => views.push((trie.clone(), model.clone())),
            }
            if let Some(value) = trie.get_mut(hash(hashing, &key_bytes(0)), &key_bytes(0)) {
                *value = value.wrapping_add(1);
                *model.get_mut(&(hash(hashing, &key_bytes(0)), key_bytes(0))).unwrap() = *value;
            }
        }
        check(&trie, &model, hashing);
        for (view, as_then) in &views {
            check(view, as_then, hashing);
        }
        let mut starts = starts;
        starts.extend(model.keys().map(|(hash, _)| *hash));
        starts.extend(model.keys().map(|(hash, _)| hash.wrapping_add(1)));
        starts.push(0);
        starts.push(u64::MAX);
        for start in starts {
            check_range(&trie, &model, start);
        }
    }
}

#[test]
fn the_shape_does_not_depend_on_the_order_of_changes() {
    let keys: Vec<Bytes> = (0..2000).map(|index| Bytes::from(format!("k{index}"))).collect();
    let build = |order: &mut dyn Iterator<Item = &Bytes>| {
        let mut trie = HashTrie::default();
        for key in order {
            let owned = key.clone();
            trie.insert(hash(Hashing::Sparse, key), key, move || owned, 0u32);
        }
        trie
    };
    let forward = build(&mut keys.iter());
    let mut backward = build(&mut keys.iter().rev());
    // Insert and remove extra keys: removal restores the canonical shape.
    for index in 2000..3000 {
        let key = Bytes::from(format!("k{index}"));
        let owned = key.clone();
        backward.insert(hash(Hashing::Sparse, &key), &key, move || owned, 0);
    }
    for index in 2000..3000 {
        let key = Bytes::from(format!("k{index}"));
        backward.remove(hash(Hashing::Sparse, &key), &key);
    }
    fn shape(node: &Node<u32>, out: &mut Vec<(u64, u64)>) {
        out.push((node.entries_map, node.children_map));
        for child in &node.children {
            if let Child::Node(child) = child {
                shape(child, out);
            }
        }
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    shape(&forward.root, &mut a);
    shape(&backward.root, &mut b);
    assert_eq!(a, b);
}

#[test]
fn a_million_keys_sit_about_four_levels_deep() {
    let mut trie = HashTrie::default();
    for index in 0..1_000_000u32 {
        let key = Bytes::from(format!("key:{index}"));
        let owned = key.clone();
        trie.insert(xxhash_rust::xxh3::xxh3_64(&key), &key, move || owned, index);
    }
    fn deepest(node: &Node<u32>) -> u32 {
        node.children
            .iter()
            .map(|child| match child {
                Child::Node(child) => 1 + deepest(child),
                Child::Collision { .. } => 1,
            })
            .max()
            .unwrap_or(0)
    }
    let depth = deepest(&trie.root);
    assert!((3..=7).contains(&depth), "depth {depth}");
    assert_eq!(trie.len(), 1_000_000);
}
