//! `concord import FILE.rdb`: loads an RDB file written by redis-server into a running node,
//! or through any member into a cluster, as RESTORE commands, which go through the log like
//! any write.
//!
//! 1. The whole file is read and checked first (`store::rdb::file::read`: every value decoded,
//!    the checksum compared). A damaged or truncated file is refused with the byte offset of
//!    the record at fault, and nothing is sent.
//! 2. The file's items go out in batches of at most [`BATCH_ITEMS_MAX`] items and about
//!    [`BATCH_BYTES_MAX`] bytes, pipelined on one connection: `SELECT` when the database
//!    changes, `RESTORE key ttl payload ABSTTL` for a key, `FUNCTION RESTORE payload` for a
//!    library (each with `REPLACE` under `--replace`). The node commits a pipelined run of
//!    writes as few log entries, so a batch costs a few fsyncs, not one per key. The next
//!    batch is sent only once every reply of the previous one came back: never more than one
//!    batch is in flight.
//! 3. The first refused command stops the import, and the error says how many items were
//!    stored before it, which key it was, at which byte of the file, and the node's reply.
//!    An import is not a transaction (a file's keys in one entry would be an unbounded entry):
//!    the items before the refused one stay, and the error says so.
//!
//! A key's expiry is sent as the file's absolute time (`ABSTTL`), so a key that expired
//! before the import is not stored, as redis-server skips such keys when it loads a file.
//! The summary (items, databases, time, keys per second) goes to stdout, progress to stderr
//! when it is a terminal.

use std::collections::BTreeSet;
use std::io::{BufReader, IsTerminal, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{io_error, read_reply, Reply};
use crate::error::{Error, Result};
use crate::store::rdb::file::{self, Item};

/// The most items one pipelined batch holds.
pub const BATCH_ITEMS_MAX: usize = 1000;
/// A batch is closed once its commands reach this many bytes (so one huge value is a batch of
/// its own, and a batch of small ones stays small).
pub const BATCH_BYTES_MAX: usize = 4 << 20;

/// `concord import FILE`: see the module doc.
pub fn run_import(address: &str, path: &Path, replace: bool) -> Result<()> {
    let started = Instant::now();
    let bytes = std::fs::read(path).map_err(io_error(format!("reading {}", path.display())))?;
    let items = file::read(&bytes).map_err(|error| {
        Error::Import(format!("{} is refused, nothing was imported: {error}", path.display()))
    })?;
    let mut session = Session::open(address, replace)?;
    let progress = Progress::new(items.len());
    let mut sent = 0;
    while sent < items.len() {
        let batch = next_batch(&items[sent..]);
        session.run_batch(batch).map_err(|failure| failure.into_error(sent, items.len()))?;
        sent += batch.len();
        progress.show(sent);
    }
    progress.finish();
    println!("{}", summary(path, &items, started.elapsed()));
    Ok(())
}

/// The items of the next batch: at least one, at most [`BATCH_ITEMS_MAX`], and no more once
/// their payloads reach [`BATCH_BYTES_MAX`].
fn next_batch<'items, 'file>(items: &'items [Item<'file>]) -> &'items [Item<'file>] {
    let mut bytes = 0;
    let mut count = 0;
    for item in items.iter().take(BATCH_ITEMS_MAX) {
        count += 1;
        bytes += item.size_bytes();
        if bytes >= BATCH_BYTES_MAX {
            break;
        }
    }
    &items[..count]
}

fn summary(path: &Path, items: &[Item], elapsed: Duration) -> String {
    let databases: BTreeSet<u64> = items
        .iter()
        .filter_map(|item| match item {
            Item::Key(key) => Some(key.database),
            Item::Library { .. } => None,
        })
        .collect();
    let keys = items.iter().filter(|item| matches!(item, Item::Key(_))).count();
    let libraries = items.len() - keys;
    let seconds = elapsed.as_secs_f64();
    let rate = if seconds > 0.0 { keys as f64 / seconds } else { 0.0 };
    format!(
        "imported {keys} keys into {} databases and {libraries} function libraries from {} \
         in {seconds:.1} s ({rate:.0} keys/s)",
        databases.len(),
        path.display()
    )
}

/// Why a batch stopped: the connection failed, or the node refused an item.
enum Failure {
    Io(Error),
    Refused { index: usize, description: String, reply: String },
}

impl Failure {
    /// The error for a failure in the batch that starts after `before` stored items.
    fn into_error(self, before: usize, total: usize) -> Error {
        match self {
            Failure::Io(error) => Error::Import(format!(
                "{error}; {before} of {total} items were imported before the connection failed, \
                 and those of the last batch may be too"
            )),
            Failure::Refused { index, description, reply } => Error::Import(format!(
                "the node refused {description}: {reply}; the {} items before it, of {total}, \
                 were imported",
                before + index
            )),
        }
    }
}

/// One connection to the node, and the database it has selected.
struct Session {
    stream: TcpStream,
    replies: BufReader<TcpStream>,
    address: String,
    replace: bool,
    selected: u64,
}

impl Session {
    fn open(address: &str, replace: bool) -> Result<Session> {
        let context = format!("connecting to {address}");
        let stream = TcpStream::connect(address).map_err(io_error(context.clone()))?;
        // A batch of large values can take a while to commit on a busy node.
        stream.set_read_timeout(Some(Duration::from_secs(600))).map_err(io_error(&context))?;
        let replies = BufReader::new(stream.try_clone().map_err(io_error(context))?);
        Ok(Session { stream, replies, address: address.to_string(), replace, selected: 0 })
    }

    /// Sends the batch's commands in one write, then reads one reply per command; the first
    /// error reply is the failure (the replies after it are left unread: the import stops).
    fn run_batch(&mut self, batch: &[Item]) -> Result<(), Failure> {
        let mut request = Vec::new();
        // For each command sent, the index of the item it is for, and whether it is the
        // SELECT before that item.
        let mut sent: Vec<(usize, bool)> = Vec::with_capacity(batch.len() + 1);
        for (index, item) in batch.iter().enumerate() {
            if let Item::Key(key) = item {
                if key.database != self.selected {
                    encode(&mut request, &[b"SELECT", key.database.to_string().as_bytes()]);
                    sent.push((index, true));
                    self.selected = key.database;
                }
            }
            self.encode_item(&mut request, item);
            sent.push((index, false));
        }
        let failed =
            |source| Failure::Io(io_error(format!("importing into {}", self.address))(source));
        self.stream.write_all(&request).map_err(failed)?;
        for (index, is_select) in sent {
            let reply = read_reply(&mut self.replies).map_err(failed)?;
            if matches!(reply, Reply::Status(_)) {
                continue;
            }
            let reply = match reply {
                Reply::Error(text) => text,
                other => format!("the unexpected reply {other}"),
            };
            let description = match (&batch[index], is_select) {
                (Item::Key(key), true) => format!("SELECT {}", key.database),
                (item, _) => describe(item),
            };
            return Err(Failure::Refused { index, description, reply });
        }
        Ok(())
    }

    fn encode_item(&self, request: &mut Vec<u8>, item: &Item) {
        let payload = item.payload();
        let replace: &[&[u8]] = if self.replace { &[b"REPLACE"] } else { &[] };
        match item {
            Item::Key(key) => {
                let ttl = key.expires_at_ms.unwrap_or(0).to_string();
                let mut words: Vec<&[u8]> = vec![b"RESTORE", &key.key, ttl.as_bytes(), &payload];
                words.push(b"ABSTTL");
                words.extend_from_slice(replace);
                encode(request, &words);
            }
            Item::Library { .. } => {
                let mut words: Vec<&[u8]> = vec![b"FUNCTION", b"RESTORE", &payload];
                words.extend_from_slice(replace);
                encode(request, &words);
            }
        }
    }
}

/// An item as an error names it: which key of which database, and where in the file.
fn describe(item: &Item) -> String {
    match item {
        Item::Key(key) => format!(
            "key {:?} of database {} (at byte {} of the file)",
            String::from_utf8_lossy(&key.key),
            key.database,
            key.offset
        ),
        Item::Library { offset, .. } => format!("the function library at byte {offset}"),
    }
}

/// Appends one command in RESP: an array of bulk strings.
fn encode(output: &mut Vec<u8>, words: &[&[u8]]) {
    output.extend_from_slice(format!("*{}\r\n", words.len()).as_bytes());
    for word in words {
        output.extend_from_slice(format!("${}\r\n", word.len()).as_bytes());
        output.extend_from_slice(word);
        output.extend_from_slice(b"\r\n");
    }
}

/// A one-line progress count on stderr, shown only when stderr is a terminal.
struct Progress {
    total: usize,
    visible: bool,
}

impl Progress {
    fn new(total: usize) -> Progress {
        Progress { total, visible: std::io::stderr().is_terminal() }
    }

    fn show(&self, done: usize) {
        if self.visible {
            let percent = done * 100 / self.total.max(1);
            eprint!("\r{done} of {} items imported ({percent}%)", self.total);
        }
    }

    fn finish(&self) {
        if self.visible {
            eprintln!();
        }
    }
}
