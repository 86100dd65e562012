//! Running a differential script against two servers and collecting every disagreement.
//!
//! The *expected* server is Redis; the *actual* server is the one under test. Each script line
//! is sent to both over raw TCP, one reply is read from each, and the two are compared under
//! the line's rule. A script keeps running after a mismatch, so one run reports all of them;
//! only after [`MISMATCHES_PER_SCRIPT_MAX`] does it stop, because by then later lines mostly
//! repeat the first failure.
//!
//! Invariants:
//! - Every script starts on fresh connections with `FLUSHALL` (compared) and `HELLO 2` (not
//!   compared: its reply names the server), so scripts do not depend on each other.
//! - A connection that one server closed, or that timed out, is reopened fresh before the next
//!   request on it; its state (protocol, database, name) is then the default again.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use super::compare::{describe, outcomes_agree};
use super::render::{escape, escape_truncated};
use super::reply::{Outcome, ReplyReader, Value};
use super::script::{encode_request, Line, Rule, Step};

/// A script stops after this many mismatches; the report says so.
pub const MISMATCHES_PER_SCRIPT_MAX: usize = 25;

/// How long one reply may take. Far above any healthy reply; it bounds a hung server.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A script stops after this many failed reads (timeouts, garbage): the server is hung.
const FAILED_READS_PER_SCRIPT_MAX: usize = 3;

/// `@scan-all` gives up after this many calls: a cursor that never returns to 0 is a bug.
const SCAN_CALLS_MAX: usize = 100_000;

/// One server as the differ sees it.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub label: String,
    pub address: SocketAddr,
}

/// What running one script found.
#[derive(Debug, Default)]
pub struct ScriptReport {
    pub name: String,
    pub lines_run: usize,
    pub mismatches: Vec<String>,
    /// Why the script stopped early, if it did.
    pub stopped: Option<String>,
}

/// Runs scripts against an expected (Redis) and an actual endpoint.
pub struct Differ {
    pub expected: Endpoint,
    pub actual: Endpoint,
    /// Print every line with both replies (`CONCORD_DIFF_VERBOSE=1`).
    pub verbose: bool,
}

impl Differ {
    /// Runs one parsed script.
    pub fn run(&self, name: &str, lines: &[Line]) -> ScriptReport {
        let mut run = ScriptRun {
            differ: self,
            report: ScriptReport { name: name.to_string(), ..ScriptReport::default() },
            connections: BTreeMap::new(),
            current: String::from("main"),
            failed_reads: 0,
        };
        run.setup();
        for line in lines {
            if let Some(why) = run.stop_reason() {
                run.report.stopped = Some(why);
                break;
            }
            run.step(line);
            run.report.lines_run += 1;
        }
        run.report
    }
}

/// A client connection opened to both servers under one name.
struct PairedConnection {
    sides: [Side; 2],
}

/// One side's socket and its unread bytes; `None` once the server closed it or it failed.
struct Side {
    address: SocketAddr,
    stream: Option<TcpStream>,
    reader: ReplyReader,
}

impl Side {
    fn open(address: SocketAddr) -> Side {
        Side { address, stream: None, reader: ReplyReader::new() }
    }

    /// Sends bytes, reopening the connection first if the server had closed it.
    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        if self.stream.is_none() {
            let stream = TcpStream::connect_timeout(&self.address, READ_TIMEOUT)
                .map_err(|error| format!("cannot connect to {}: {error}", self.address))?;
            stream
                .set_read_timeout(Some(READ_TIMEOUT))
                .and_then(|()| stream.set_write_timeout(Some(READ_TIMEOUT)))
                .and_then(|()| stream.set_nodelay(true))
                .map_err(|error| error.to_string())?;
            self.stream = Some(stream);
            self.reader = ReplyReader::new();
        }
        let stream = self.stream.as_mut().expect("opened above");
        // A write to a connection the server already closed may fail; the read that follows
        // reports the close, which is what the comparison is about.
        let _ = stream.write_all(bytes);
        Ok(())
    }

    fn read(&mut self) -> Outcome {
        let Some(stream) = self.stream.as_mut() else {
            return Outcome::Closed;
        };
        let outcome = self.reader.read(stream);
        if !matches!(outcome, Outcome::Reply(_)) {
            self.stream = None;
        }
        outcome
    }
}

struct ScriptRun<'a> {
    differ: &'a Differ,
    report: ScriptReport,
    connections: BTreeMap<String, PairedConnection>,
    current: String,
    failed_reads: usize,
}

impl ScriptRun<'_> {
    fn setup(&mut self) {
        let flushall = Line {
            number: 0,
            text: "FLUSHALL (script setup)".into(),
            step: Step::Command { rule: Rule::Exact, args: vec![b"FLUSHALL".to_vec()] },
        };
        let hello = Line {
            number: 0,
            text: "HELLO 2 (script setup)".into(),
            step: Step::Command {
                rule: Rule::Ignore,
                args: vec![b"HELLO".to_vec(), b"2".to_vec()],
            },
        };
        self.step(&flushall);
        self.step(&hello);
    }

    fn stop_reason(&self) -> Option<String> {
        if self.report.mismatches.len() >= MISMATCHES_PER_SCRIPT_MAX {
            return Some(format!(
                "stopped after {MISMATCHES_PER_SCRIPT_MAX} mismatches; later lines were not run"
            ));
        }
        if self.failed_reads >= FAILED_READS_PER_SCRIPT_MAX {
            return Some(format!(
                "stopped after {FAILED_READS_PER_SCRIPT_MAX} failed reads (timeouts or malformed \
                 replies); later lines were not run"
            ));
        }
        None
    }

    fn connection(&mut self) -> &mut PairedConnection {
        let (expected, actual) = (self.differ.expected.address, self.differ.actual.address);
        self.connections.entry(self.current.clone()).or_insert_with(|| PairedConnection {
            sides: [Side::open(expected), Side::open(actual)],
        })
    }

    fn step(&mut self, line: &Line) {
        match &line.step {
            Step::Command { rule, args } => self.exchange(line, rule, Some(&encode_request(args))),
            Step::Raw { rule, bytes } => self.exchange(line, rule, Some(bytes)),
            Step::Read { rule } => self.exchange(line, rule, None),
            Step::Send { args } => self.send(line, &encode_request(args)),
            Step::SendRaw { bytes } => self.send(line, bytes),
            Step::Connection { name } => self.current = name.clone(),
            Step::Reconnect => {
                let name = self.current.clone();
                self.connections.remove(&name);
            }
            Step::Sleep { duration } => thread::sleep(*duration),
            Step::ScanAll { args } => self.scan_all(line, args),
        }
    }

    fn send(&mut self, line: &Line, bytes: &[u8]) {
        let labels = self.labels();
        let mut errors = Vec::new();
        for (side, label) in self.connection().sides.iter_mut().zip(labels) {
            if let Err(error) = side.send(bytes) {
                errors.push(format!("{label}: {error}"));
            }
        }
        if !errors.is_empty() {
            self.failed_reads += 1;
            let detail = errors.join("\n    ");
            self.mismatch(line, None, &format!("    {detail}"));
        }
    }

    /// Sends (unless only reading), reads one reply from each side and compares them.
    fn exchange(&mut self, line: &Line, rule: &Rule, request: Option<&[u8]>) {
        if let Some(request) = request {
            self.send(line, request);
        }
        let connection = self.connection();
        let expected = connection.sides[0].read();
        let actual = connection.sides[1].read();
        for outcome in [&expected, &actual] {
            if matches!(outcome, Outcome::Failed(_)) {
                self.failed_reads += 1;
            }
        }
        if self.differ.verbose {
            self.print_verbose(line, &[render_outcome(&expected), render_outcome(&actual)]);
        }
        if !outcomes_agree(rule, &expected, &actual) {
            let detail = self.render_pair(&render_outcome(&expected), &render_outcome(&actual));
            self.mismatch(line, describe(rule), &detail);
        }
    }

    /// `@scan-all`: iterates the cursor to 0 on each side alone, then compares the sets.
    fn scan_all(&mut self, line: &Line, args: &[Vec<u8>]) {
        let (cursor_index, items_per_element) = Step::scan_layout(args);
        let mut results = Vec::new();
        for index in 0..2 {
            let result = self.scan_one_side(index, args, cursor_index, items_per_element);
            results.push(result);
        }
        let rendered: Vec<String> = results
            .iter()
            .map(|result| match result {
                Ok(items) => render_items(items),
                Err(outcome) => render_outcome(outcome),
            })
            .collect();
        if self.differ.verbose {
            self.print_verbose(line, &rendered);
        }
        let agree = match (&results[0], &results[1]) {
            (Ok(expected), Ok(actual)) => expected == actual,
            (Err(expected), Err(actual)) => outcomes_agree(&Rule::Exact, expected, actual),
            _ => false,
        };
        if !agree {
            let mut detail = self.render_pair(&rendered[0], &rendered[1]);
            if let (Ok(expected), Ok(actual)) = (&results[0], &results[1]) {
                detail.push_str(&render_difference(expected, actual));
            }
            let rule = "compared the sorted, deduplicated union of every SCAN page (@scan-all)";
            self.mismatch(line, Some(rule.into()), &detail);
        }
    }

    /// The sorted, deduplicated items one side's full iteration returned, or the first reply
    /// that was not a well-formed SCAN page.
    fn scan_one_side(
        &mut self,
        index: usize,
        args: &[Vec<u8>],
        cursor_index: usize,
        items_per_element: usize,
    ) -> Result<Vec<Vec<u8>>, Outcome> {
        let mut cursor = b"0".to_vec();
        let mut items = Vec::new();
        for _ in 0..SCAN_CALLS_MAX {
            let mut request = args.to_vec();
            request.insert(cursor_index, cursor.clone());
            let side = &mut self.connection().sides[index];
            side.send(&encode_request(&request)).map_err(Outcome::Failed)?;
            let outcome = side.read();
            let Outcome::Reply(reply) = &outcome else {
                return Err(outcome);
            };
            let page = match &reply.value {
                Value::Array(Some(page)) if page.len() == 2 => page,
                _ => return Err(outcome),
            };
            let (Some(next), Some(elements)) = (page[0].text(), page[1].elements()) else {
                return Err(outcome);
            };
            if elements.len() % items_per_element != 0 {
                return Err(outcome);
            }
            for element in elements.chunks(items_per_element) {
                items.push(element.iter().flat_map(|item| item.raw.clone()).collect());
            }
            cursor = next.to_vec();
            if cursor == b"0" {
                items.sort();
                items.dedup();
                return Ok(items);
            }
        }
        Err(Outcome::Failed(format!(
            "the cursor did not return to 0 within {SCAN_CALLS_MAX} calls"
        )))
    }

    fn labels(&self) -> [String; 2] {
        [self.differ.expected.label.clone(), self.differ.actual.label.clone()]
    }

    fn render_pair(&self, expected: &str, actual: &str) -> String {
        let [expected_label, actual_label] = self.labels();
        let width = expected_label.len().max(actual_label.len());
        format!(
            "    expected ({expected_label:>width$}): {expected}\n    \
             actual   ({actual_label:>width$}): {actual}"
        )
    }

    fn mismatch(&mut self, line: &Line, rule: Option<String>, detail: &str) {
        let connection = if self.current == "main" {
            String::new()
        } else {
            format!(" [on @conn {}]", self.current)
        };
        let mut message = format!(
            "{}:{}{connection}: {}\n{detail}",
            self.report.name,
            line.number,
            shorten(&line.text)
        );
        if let Some(rule) = rule {
            message.push_str(&format!("\n    ({rule})"));
        }
        self.report.mismatches.push(message);
    }

    fn print_verbose(&self, line: &Line, rendered: &[String]) {
        let [expected_label, actual_label] = self.labels();
        println!(
            "{}:{} [{}] {}\n    {expected_label}: {}\n    {actual_label}: {}",
            self.report.name, line.number, self.current, line.text, rendered[0], rendered[1]
        );
    }
}

/// Script lines longer than this are cut in messages (a long MSET says little after its start).
const LINE_CHARS_SHOWN_MAX: usize = 160;

fn shorten(text: &str) -> String {
    match text.char_indices().nth(LINE_CHARS_SHOWN_MAX) {
        Some((end, _)) => format!("{} ...", &text[..end]),
        None => text.to_string(),
    }
}

fn render_outcome(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Reply(reply) => escape_truncated(&reply.raw),
        Outcome::Closed => "(the server closed the connection)".into(),
        Outcome::Failed(why) => format!("(no reply: {why})"),
    }
}

/// How many items of a SCAN result a message shows.
const ITEMS_SHOWN_MAX: usize = 20;

fn render_items(items: &[Vec<u8>]) -> String {
    format!("{} items: {}", items.len(), render_list(items))
}

fn render_list<'a>(items: impl IntoIterator<Item = &'a Vec<u8>>) -> String {
    let items: Vec<&Vec<u8>> = items.into_iter().collect();
    let shown: Vec<String> = items.iter().take(ITEMS_SHOWN_MAX).map(|item| escape(item)).collect();
    let more = items.len().saturating_sub(ITEMS_SHOWN_MAX);
    let suffix = if more > 0 { format!(", ... ({more} more)") } else { String::new() };
    format!("[{}{suffix}]", shown.join(", "))
}

/// What one sorted item list has that the other lacks, which is what a reader wants to see.
fn render_difference(expected: &[Vec<u8>], actual: &[Vec<u8>]) -> String {
    let missing: Vec<&Vec<u8>> =
        expected.iter().filter(|item| actual.binary_search(item).is_err()).collect();
    let unexpected: Vec<&Vec<u8>> =
        actual.iter().filter(|item| expected.binary_search(item).is_err()).collect();
    let mut out = String::new();
    if !missing.is_empty() {
        out.push_str(&format!("\n    missing from actual: {}", render_list(missing)));
    }
    if !unexpected.is_empty() {
        out.push_str(&format!("\n    not in expected: {}", render_list(unexpected)));
    }
    out
}

/// The report for a whole run, empty when everything agreed.
pub fn summarize(reports: &[ScriptReport]) -> Option<String> {
    let failing: Vec<&ScriptReport> = reports
        .iter()
        .filter(|report| !report.mismatches.is_empty() || report.stopped.is_some())
        .collect();
    if failing.is_empty() {
        return None;
    }
    let mismatch_count: usize = failing.iter().map(|report| report.mismatches.len()).sum();
    let mut out =
        format!("{mismatch_count} mismatches in {} of {} scripts:\n", failing.len(), reports.len());
    for report in failing {
        out.push_str(&format!(
            "\n=== {} ({} mismatches, {} lines run) ===\n",
            report.name,
            report.mismatches.len(),
            report.lines_run
        ));
        for mismatch in &report.mismatches {
            out.push_str(mismatch);
            out.push('\n');
        }
        if let Some(why) = &report.stopped {
            out.push_str(&format!("{}: {why}\n", report.name));
        }
    }
    Some(out)
}
