//! Model-based test of strings, keys and TTL: random command sequences, with time moving
//! forward, run through the real parser and state machine and against a plain `BTreeMap`
//! model; every reply must be what the model predicts.
//!
//! Writes go through `StateMachine::apply` with the entry time as the only clock; reads go
//! through `execute_read` on the newest published view, as the server runs them.

use std::collections::BTreeMap;

use bytes::Bytes;
use proptest::prelude::*;

use concord::command::{self, Command};
use concord::resp::Frame;
use concord::state_machine::{execute_read, Entry, StateMachine, WriteRequest};

const KEYS: &[&str] = &["a", "b", "c"];

#[derive(Clone, Debug)]
enum Operation {
    Set {
        key: usize,
        value: String,
    },
    SetWithTtl {
        key: usize,
        value: String,
        ttl_ms: i64,
    },
    Get {
        key: usize,
    },
    Del {
        key: usize,
    },
    Append {
        key: usize,
        suffix: String,
    },
    Incr {
        key: usize,
    },
    Strlen {
        key: usize,
    },
    Exists {
        key: usize,
    },
    Pexpire {
        key: usize,
        ttl_ms: i64,
    },
    Persist {
        key: usize,
    },
    Pttl {
        key: usize,
    },
    Getdel {
        key: usize,
    },
    Rename {
        from: usize,
        to: usize,
    },
    /// Let time pass without a command.
    Wait {
        elapsed_ms: u64,
    },
}

impl Operation {
    fn words(&self) -> Vec<String> {
        let key = |index: &usize| KEYS[*index].to_string();
        let words: Vec<String> = match self {
            Operation::Set { key: k, value } => vec!["SET".into(), key(k), value.clone()],
            Operation::SetWithTtl { key: k, value, ttl_ms } => {
                vec!["SET".into(), key(k), value.clone(), "PX".into(), ttl_ms.to_string()]
            }
            Operation::Get { key: k } => vec!["GET".into(), key(k)],
            Operation::Del { key: k } => vec!["DEL".into(), key(k)],
            Operation::Append { key: k, suffix } => vec!["APPEND".into(), key(k), suffix.clone()],
            Operation::Incr { key: k } => vec!["INCR".into(), key(k)],
            Operation::Strlen { key: k } => vec!["STRLEN".into(), key(k)],
            Operation::Exists { key: k } => vec!["EXISTS".into(), key(k)],
            Operation::Pexpire { key: k, ttl_ms } => {
                vec!["PEXPIRE".into(), key(k), ttl_ms.to_string()]
            }
            Operation::Persist { key: k } => vec!["PERSIST".into(), key(k)],
            Operation::Pttl { key: k } => vec!["PTTL".into(), key(k)],
            Operation::Getdel { key: k } => vec!["GETDEL".into(), key(k)],
            Operation::Rename { from, to } => vec!["RENAME".into(), key(from), key(to)],
            Operation::Wait { .. } => vec![],
        };
        words
    }
}

fn operation() -> impl Strategy<Value = Operation> {
    let key = 0..KEYS.len();
    let value = prop_oneof!["[a-z]{0,3}", (-3i64..1000).prop_map(|number| number.to_string())];
    prop_oneof![
        (key.clone(), value.clone()).prop_map(|(key, value)| Operation::Set { key, value }),
        (key.clone(), value.clone(), 1i64..3000)
            .prop_map(|(key, value, ttl_ms)| Operation::SetWithTtl { key, value, ttl_ms }),
        key.clone().prop_map(|key| Operation::Get { key }),
        key.clone().prop_map(|key| Operation::Del { key }),
        (key.clone(), "[a-z0-9]{0,2}").prop_map(|(key, suffix)| Operation::Append { key, suffix }),
        key.clone().prop_map(|key| Operation::Incr { key }),
        key.clone().prop_map(|key| Operation::Strlen { key }),
        key.clone().prop_map(|key| Operation::Exists { key }),
        (key.clone(), -100i64..3000).prop_map(|(key, ttl_ms)| Operation::Pexpire { key, ttl_ms }),
        key.clone().prop_map(|key| Operation::Persist { key }),
        key.clone().prop_map(|key| Operation::Pttl { key }),
        key.clone().prop_map(|key| Operation::Getdel { key }),
        (key.clone(), key).prop_map(|(from, to)| Operation::Rename { from, to }),
        (0u64..2500).prop_map(|elapsed_ms| Operation::Wait { elapsed_ms }),
    ]
}

/// The reference: each key's value and optional deadline, nothing else.
#[derive(Default)]
struct Model {
    entries: BTreeMap<usize, (Vec<u8>, Option<u64>)>,
}

impl Model {
    fn live(&mut self, key: usize, now_ms: u64) -> Option<&mut (Vec<u8>, Option<u64>)> {
        if self.entries.get(&key).is_some_and(|(_, deadline)| deadline.is_some_and(|d| d <= now_ms))
        {
            self.entries.remove(&key);
        }
        self.entries.get_mut(&key)
    }

    /// The reply Redis gives, and the model's change, for one operation at `now_ms`.
    fn execute(&mut self, operation: &Operation, now_ms: u64) -> Frame {
        match operation {
            Operation::Set { key, value } => {
                self.entries.insert(*key, (value.clone().into_bytes(), None));
                Frame::ok()
            }
            Operation::SetWithTtl { key, value, ttl_ms } => {
                let deadline = now_ms + *ttl_ms as u64;
                self.entries.insert(*key, (value.clone().into_bytes(), Some(deadline)));
                Frame::ok()
            }
            Operation::Get { key } => {
                self.live(*key, now_ms).map_or(Frame::Null, |(value, _)| Frame::bulk(value))
            }
            Operation::Del { key } | Operation::Exists { key } => {
                let exists = self.live(*key, now_ms).is_some();
                if matches!(operation, Operation::Del { .. }) {
                    self.entries.remove(key);
                }
                Frame::Integer(i64::from(exists))
            }
            Operation::Append { key, suffix } => match self.live(*key, now_ms) {
                Some((value, _)) => {
                    value.extend_from_slice(suffix.as_bytes());
                    Frame::Integer(value.len() as i64)
                }
                None => {
                    self.entries.insert(*key, (suffix.clone().into_bytes(), None));
                    Frame::Integer(suffix.len() as i64)
                }
            },
            Operation::Incr { key } => self.incr(*key, now_ms),
            Operation::Strlen { key } => {
                Frame::Integer(self.live(*key, now_ms).map_or(0, |(value, _)| value.len() as i64))
            }
            Operation::Pexpire { key, ttl_ms } => self.pexpire(*key, *ttl_ms, now_ms),
            Operation::Persist { key } => match self.live(*key, now_ms) {
                Some((_, deadline @ Some(_))) => {
                    *deadline = None;
                    Frame::Integer(1)
                }
                _ => Frame::Integer(0),
            },
            Operation::Pttl { key } => match self.live(*key, now_ms) {
                None => Frame::Integer(-2),
                Some((_, None)) => Frame::Integer(-1),
                Some((_, Some(deadline))) => Frame::Integer((*deadline - now_ms) as i64),
            },
            Operation::Getdel { key } => match self.live(*key, now_ms).cloned() {
                Some((value, _)) => {
                    self.entries.remove(key);
                    Frame::bulk(value)
                }
                None => Frame::Null,
            },
            Operation::Rename { from, to } => match self.live(*from, now_ms).cloned() {
                None => Frame::error("ERR no such key"),
                Some(entry) => {
                    self.entries.remove(from);
                    self.entries.insert(*to, entry);
                    Frame::ok()
                }
            },
            Operation::Wait { .. } => unreachable!("waits are not executed"),
        }
    }

    fn incr(&mut self, key: usize, now_ms: u64) -> Frame {
        let Some((value, _)) = self.live(key, now_ms) else {
            self.entries.insert(key, (b"1".to_vec(), None));
            return Frame::Integer(1);
        };
        let current = std::str::from_utf8(value).ok().and_then(|text| {
            let canonical = text.parse::<i64>().ok()?;
            (canonical.to_string() == text).then_some(canonical)
        });
        match current {
            None => Frame::error("ERR value is not an integer or out of range"),
            Some(current) => match current.checked_add(1) {
                None => Frame::error("ERR increment or decrement would overflow"),
                Some(next) => {
                    *value = next.to_string().into_bytes();
                    Frame::Integer(next)
                }
            },
        }
    }

    fn pexpire(&mut self, key: usize, ttl_ms: i64, now_ms: u64) -> Frame {
        if self.live(key, now_ms).is_none() {
            return Frame::Integer(0);
        }
        if ttl_ms <= 0 {
            self.entries.remove(&key);
        } else if let Some((_, deadline)) = self.entries.get_mut(&key) {
            *deadline = Some(now_ms + ttl_ms as u64);
        }
        Frame::Integer(1)
    }
}

/// Runs one operation on the real state machine at `now_ms`.
fn execute(
    state_machine: &mut StateMachine,
    index: &mut u64,
    words: &[String],
    now_ms: u64,
) -> Frame {
    let arguments = words.iter().map(|word| Bytes::copy_from_slice(word.as_bytes())).collect();
    let parsed = command::parse(arguments).expect("every modelled command is known");
    match parsed.command.expect("every modelled command parses") {
        Command::Write(write) => {
            *index += 1;
            let entry =
                Entry { leader_time_ms: now_ms, requests: vec![WriteRequest { db: 0, write }] };
            state_machine.apply(*index, &entry).remove(0)
        }
        Command::Read(read) => {
            let view = state_machine.view();
            execute_read(&view.keyspace, 0, now_ms, &read)
        }
        Command::Control(control) => panic!("{control:?} is not a keyspace command"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn strings_keys_and_ttls_behave_like_the_model(operations in prop::collection::vec(operation(), 1..80)) {
        let mut state_machine = StateMachine::new();
        let mut model = Model::default();
        let mut index = 0;
        let mut now_ms = 1_700_000_000_000u64;
        for (step, operation) in operations.iter().enumerate() {
            if let Operation::Wait { elapsed_ms } = operation {
                now_ms += elapsed_ms;
                continue;
            }
            let words = operation.words();
            let expected = model.execute(operation, now_ms);
            let actual = execute(&mut state_machine, &mut index, &words, now_ms);
            prop_assert_eq!(
                &actual, &expected,
                "step {} `{}` at t={}: expected {:?}, got {:?}", step, words.join(" "), now_ms, expected, actual
            );
        }
    }
}
