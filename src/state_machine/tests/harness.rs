//! A state machine driven the way a client drives a node, for the families' tests: each
//! command is parsed, then applied as its own entry (a write) or run on the newest view (a
//! read), at a clock the test moves.

use bytes::Bytes;

use crate::command::{parse, Command, Write};
use crate::resp::Frame;
use crate::state_machine::{execute_read, Entry, StateMachine, WriteRequest};

/// The entry time of the first command, in Unix milliseconds.
pub const START_MS: u64 = 1_700_000_000_000;

pub struct Harness {
    pub machine: StateMachine,
    next_index: u64,
    pub now_ms: u64,
}

impl Harness {
    pub fn new() -> Harness {
        Harness { machine: StateMachine::new(), next_index: 1, now_ms: START_MS }
    }

    /// Runs one command, as a client would send it, and returns its reply.
    pub fn run(&mut self, words: &[&str]) -> Frame {
        let arguments = words.iter().map(|word| Bytes::copy_from_slice(word.as_bytes())).collect();
        self.run_bytes(arguments)
    }

    /// Runs one command given as byte strings.
    pub fn run_bytes(&mut self, arguments: Vec<Bytes>) -> Frame {
        let command = match parse(arguments) {
            Ok(parsed) => parsed.command,
            Err(error) => return error.to_frame(),
        };
        match command {
            Ok(Command::Write(write)) => self.apply(write),
            Ok(Command::Read(read)) => {
                let view = self.machine.view();
                execute_read(&view.keyspace, 0, self.now_ms, &read)
            }
            Ok(Command::Control(control)) => panic!("{control:?} is not a data command"),
            Err(error) => error.to_frame(),
        }
    }

    /// Applies one write as its own entry, as the connection would propose it, and returns
    /// its reply.
    pub fn apply(&mut self, write: Write) -> Frame {
        let requests = vec![WriteRequest { db: 0, write }];
        let entry = Entry { leader_time_ms: self.now_ms, requests };
        let index = self.next_index;
        self.next_index += 1;
        self.machine.apply(index, &entry).remove(0)
    }

    /// Runs a command and checks its reply.
    #[track_caller]
    pub fn check(&mut self, words: &[&str], expected: Frame) {
        let reply = self.run(words);
        assert_eq!(reply, expected, "{words:?}: expected {expected:?}, got {reply:?}");
    }

    /// Runs commands that must succeed, to set up a case.
    #[track_caller]
    pub fn given(&mut self, commands: &[&[&str]]) {
        for words in commands {
            let reply = self.run(words);
            assert!(!reply.is_error(), "setup {words:?} failed: {reply:?}");
        }
    }
}

pub fn bulk(text: &str) -> Frame {
    Frame::bulk(text)
}

pub fn int(value: i64) -> Frame {
    Frame::Integer(value)
}

pub fn error(text: &'static str) -> Frame {
    Frame::error(text)
}

pub fn bulks(texts: &[&str]) -> Frame {
    Frame::Array(texts.iter().map(|text| bulk(text)).collect())
}

/// The bulk strings of an array or set reply, sorted: for replies whose order is unspecified.
#[track_caller]
pub fn sorted_bulks(frame: &Frame) -> Vec<String> {
    let items = match frame {
        Frame::Array(items) | Frame::Set(items) => items,
        other => panic!("expected an array or set, got {other:?}"),
    };
    let mut texts: Vec<String> = items
        .iter()
        .map(|item| match item {
            Frame::Bulk(bytes) => String::from_utf8(bytes.to_vec()).unwrap(),
            other => panic!("expected bulk strings, got {other:?}"),
        })
        .collect();
    texts.sort();
    texts
}

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
