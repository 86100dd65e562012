//! The model test: random appends, syncs, truncations, purges, votes, injected write and sync
//! failures, clean reopens and crashes with torn writes, run against the log on the simulated
//! disk and against a map of what the log may hold.
//!
//! The property: while the log is healthy it holds exactly the model's records; after every
//! crash and recovery it holds at least everything it had called durable (`durable_index`,
//! truncations and purges that returned), and no record that was never appended at that
//! index. A failed operation poisons the log; from then on every operation must fail, and
//! the recovered log may reflect the failed operation or not. The exception is an append that
//! finds the disk full: the log keeps a prefix of the batch, stays healthy, and must then hold
//! exactly the model's records up to that prefix.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

#[derive(Clone, Debug)]
enum Operation {
    Append {
        count: u8,
        term_step: u8,
        payload_bytes: u8,
    },
    Sync,
    /// Truncate this many records from the end.
    Truncate {
        back: u8,
    },
    /// Purge up to this many records before the end, or past the end.
    Purge {
        back: u8,
        past_end: bool,
    },
    SaveVote {
        vote: u8,
    },
    FailWrite {
        after: u8,
    },
    FailSync {
        after: u8,
    },
    Reopen,
    Crash {
        seed: u64,
    },
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        6 => (1..5u8, 0..2u8, 0..40u8).prop_map(|(count, term_step, payload_bytes)| {
            Operation::Append { count, term_step, payload_bytes }
        }),
        3 => Just(Operation::Sync),
        1 => (0..6u8).prop_map(|back| Operation::Truncate { back }),
        1 => (0..8u8, proptest::bool::weighted(0.2))
            .prop_map(|(back, past_end)| Operation::Purge { back, past_end }),
        1 => any::<u8>().prop_map(|vote| Operation::SaveVote { vote }),
        1 => (0..6u8).prop_map(|after| Operation::FailWrite { after }),
        1 => (0..4u8).prop_map(|after| Operation::FailSync { after }),
        1 => Just(Operation::Reopen),
        2 => any::<u64>().prop_map(|seed| Operation::Crash { seed }),
    ]
}

/// What the log may hold.
#[derive(Debug, Default)]
struct Model {
    /// Every record the log may hold, by index: exactly its records while it is healthy, plus
    /// whatever a failed operation may have left once it is poisoned.
    records: BTreeMap<Index, Record>,
    first_index: Index,
    next_index: Index,
    last_term: Term,
    /// Every record below this index must survive a crash: the log said so.
    durable_next: Index,
    /// The purged ids recovery may report (one, unless a purge failed).
    purged: Vec<Option<RecordId>>,
    /// The votes recovery may report (one, unless saving a vote failed).
    votes: Vec<Option<Bytes>>,
    poisoned: bool,
    /// `durable_index` when the log was poisoned; it must not move after that.
    durable_when_poisoned: Option<Index>,
}

impl Model {
    /// Rebuilds the model from a freshly recovered log, which is the truth from now on.
    fn reset(&mut self, log: &Log) {
        self.records = everything(log).into_iter().map(|record| (record.index, record)).collect();
        self.first_index = log.first_index();
        self.next_index = log.next_index();
        self.last_term = log.last_id().map_or(0, |id| id.term);
        self.durable_next = log.next_index();
        self.purged = vec![log.purged_id()];
        self.votes = vec![log.vote().cloned()];
        self.poisoned = false;
    }

    fn expected_records(&self) -> Vec<Record> {
        self.records.range(self.first_index..self.next_index).map(|(_, r)| r.clone()).collect()
    }
}

fn payload(index: Index, term: Term, bytes: u8) -> Bytes {
    Bytes::from((0..bytes).map(|byte| (index as u8) ^ (term as u8) ^ byte).collect::<Vec<u8>>())
}

fn options() -> LogOptions {
    LogOptions {
        segment_bytes_max: 200,
        cache_bytes_max: 150,
        record_bytes_max: 64,
        preallocate_bytes: 50,
    }
}

fn reopen(disk: &SimulatedDisk) -> Log {
    disk.clear_faults();
    match Log::open(Arc::new(disk.clone()), options()) {
        Ok(log) => log,
        Err(error) => panic!("recovery failed after a crash the log must survive: {error}"),
    }
}

/// Checks a recovered log against what the model allows.
fn check_recovered(log: &Log, model: &Model) {
    assert!(model.purged.contains(&log.purged_id()), "purged {:?}", log.purged_id());
    assert!(model.votes.contains(&log.vote().cloned()), "vote {:?}", log.vote());
    assert!(
        log.next_index() >= model.durable_next,
        "lost durable records: recovered up to {} but {} were durable",
        log.next_index(),
        model.durable_next
    );
    for record in everything(log) {
        assert_eq!(
            model.records.get(&record.index),
            Some(&record),
            "recovered a record never appended at {}",
            record.index
        );
    }
}

/// Applies one operation to the log and the model.
fn step(log: &mut Log, disk: &SimulatedDisk, model: &mut Model, operation: &Operation) {
    let result = match *operation {
        Operation::Append { count, term_step, payload_bytes } => {
            let term = model.last_term + Term::from(term_step);
            let batch: Vec<Record> = (model.next_index..model.next_index + Index::from(count))
                .map(|index| Record { index, term, payload: payload(index, term, payload_bytes) })
                .collect();
            let mut result = log.append(&batch);
            if !model.poisoned {
                for record in &batch {
                    model.records.insert(record.index, record.clone());
                }
                if result.is_ok() {
                    model.next_index += Index::from(count);
                    model.last_term = term;
                }
                if let Err(LogError::NoSpace { .. }) = result {
                    // A full disk: the log holds a prefix of the batch and is still healthy,
                    // so the checks of a success apply to that prefix.
                    assert!(log.next_index() < model.next_index + Index::from(count));
                    if log.next_index() > model.next_index {
                        model.last_term = term;
                    }
                    model.next_index = log.next_index();
                    model.records.retain(|&index, _| index < model.next_index);
                    result = Ok(());
                }
            }
            result
        }
        Operation::Sync => {
            let result = log.sync();
            if result.is_ok() {
                assert_eq!(log.durable_index(), model.next_index.checked_sub(1));
            }
            result
        }
        Operation::Truncate { back } => truncate(log, model, back),
        Operation::Purge { back, past_end } => match purge(log, model, back, past_end) {
            Some(result) => result,
            None => return,
        },
        Operation::SaveVote { vote } => {
            let result = log.save_vote(&[vote]);
            if !model.poisoned {
                model.votes.push(Some(Bytes::from(vec![vote])));
                if result.is_ok() {
                    model.votes = vec![Some(Bytes::from(vec![vote]))];
                }
            }
            result
        }
        Operation::FailWrite { after } => {
            disk.fail_write(u64::from(after), Fault::NoSpace);
            return;
        }
        Operation::FailSync { after } => {
            disk.fail_sync(u64::from(after), Fault::DeviceError);
            return;
        }
        Operation::Reopen | Operation::Crash { .. } => unreachable!("handled by the caller"),
    };
    match result {
        Ok(()) => {
            assert!(!model.poisoned, "{operation:?} succeeded on a poisoned log");
            let durable_next = log.durable_index().map_or(0, |index| index + 1);
            if !matches!(operation, Operation::Truncate { .. }) {
                assert!(durable_next >= model.durable_next, "durable_index went back");
            }
            model.durable_next = durable_next;
            assert_eq!(log.next_index(), model.next_index);
            assert_eq!(log.first_index(), model.first_index);
            assert_eq!(everything(log), model.expected_records());
        }
        Err(LogError::Poisoned { .. }) => {
            if !model.poisoned {
                model.poisoned = true;
                model.durable_when_poisoned = log.durable_index();
            }
        }
        Err(error) => panic!("{operation:?} failed unexpectedly: {error}"),
    }
}

fn truncate(log: &mut Log, model: &mut Model, back: u8) -> Result<(), LogError> {
    let index = model.next_index.saturating_sub(Index::from(back)).max(model.first_index);
    let result = log.truncate(index);
    if model.poisoned {
        return result;
    }
    if result.is_ok() {
        model.records.retain(|&key, _| key < index);
        if index < model.next_index {
            model.next_index = index;
            model.last_term = match index.checked_sub(1) {
                Some(previous) if previous >= model.first_index => model.records[&previous].term,
                _ => model.purged[0].map_or(0, |purged| purged.term),
            };
        }
    } else {
        // A truncation that failed part way may have removed records at `index` and after.
        model.durable_next = model.durable_next.min(index);
    }
    result
}

/// Purges, unless the model has nothing to purge (`None`).
fn purge(
    log: &mut Log,
    model: &mut Model,
    back: u8,
    past_end: bool,
) -> Option<Result<(), LogError>> {
    let upto = if past_end {
        RecordId { index: model.next_index + Index::from(back), term: model.last_term }
    } else {
        let last = model.next_index.checked_sub(1 + Index::from(back))?;
        if last < model.first_index {
            return None;
        }
        RecordId { index: last, term: model.records[&last].term }
    };
    let result = log.purge(upto);
    if model.poisoned {
        return Some(result);
    }
    model.purged.push(Some(upto));
    if result.is_ok() {
        model.purged = vec![Some(upto)];
        model.first_index = upto.index + 1;
        if upto.index >= model.next_index {
            model.next_index = upto.index + 1;
            model.last_term = upto.term;
        }
        model.records.retain(|&key, _| key > upto.index);
    }
    Some(result)
}

fn run(operations: &[Operation]) {
    let disk = SimulatedDisk::new();
    let mut log = reopen(&disk);
    let mut model = Model::default();
    model.reset(&log);
    for operation in operations {
        match *operation {
            Operation::Reopen | Operation::Crash { .. } => {
                drop(log);
                if let Operation::Crash { seed } = *operation {
                    disk.crash(seed);
                }
                log = reopen(&disk);
                check_recovered(&log, &model);
                if matches!(operation, Operation::Reopen) && !model.poisoned {
                    assert_eq!(everything(&log), model.expected_records(), "a clean reopen");
                }
                model.reset(&log);
            }
            _ => step(&mut log, &disk, &mut model, operation),
        }
        if model.poisoned {
            assert!(matches!(log.sync(), Err(LogError::Poisoned { .. })));
            assert_eq!(log.durable_index(), model.durable_when_poisoned, "durable_index moved");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_log_never_loses_a_durable_record_nor_invents_one(
        operations in proptest::collection::vec(operation(), 1..60)
    ) {
        run(&operations);
    }
}
