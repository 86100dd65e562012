//! A closed-loop load generator for a replicated key-value store: Concord (or any Redis) over
//! RESP, or etcd over its v3 JSON gateway (HTTP/1.1). `bench/cluster-compare.sh` drives it.
//!
//! Each client owns one keep-alive TCP connection and has one batch in flight at a time: it
//! sends, waits for every answer, then sends the next (a closed loop, as etcd's `benchmark`
//! tool does). With `--pipeline 1`, the default, a batch is one request, so latency is the
//! time one request takes. Deeper pipelines are for bulk loading (`--operation load`), where
//! throughput is what matters; every request of a batch is then recorded with the batch's
//! latency.
//!
//! Clients are spread round-robin over `--targets` (a user with a client per node), or all
//! sent to the node that leads now (`--route leader`, found by asking each target: Concord's
//! `INFO replication`, etcd's `/v3/maintenance/status`). A client whose connection breaks
//! reconnects to the next target in the list, as a client library with several endpoints would.
//!
//! Operations: `write` (SET / put of a random key in the keyspace), `read` (GET / linearizable
//! range: `serializable` is left false), `load` (every key of the keyspace written once, in
//! order, split among the clients; a failed batch is retried until it succeeds).
//!
//! Failover (`--kill-leader-after-ms`, with `--pids target=pid,...`): once the load runs, the
//! generator finds the leader, kills its process with SIGKILL, and measures the time from the
//! moment `kill` returned to the first successful request that was *sent after* it. Requests
//! sent before the kill are not counted, since the dead leader may have committed them and
//! their answers can still arrive; one sent after it can only succeed through a new leader.
//! The run ends at that first success (or at `--duration-seconds`).
//!
//! Output: one line, JSON (`--format json`, the default) or aligned text: throughput, latency
//! percentiles in microseconds (from a log-linear histogram, within 1% of the true value),
//! errors with a few sample messages, and for reads how many keys were missing.
//!
//! Caveats: the generator shares the machine with the servers it measures; on a small
//! machine its own CPU use lowers both systems' numbers. After an error reply a client pauses
//! `ERROR_PAUSE` before its next request so that a node answering errors at once (no leader)
//! is not flooded; that pause also bounds the failover measurement's resolution.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// How long a client waits after an error before its next request.
const ERROR_PAUSE: Duration = Duration::from_millis(5);

/// How many distinct error messages are kept to show in the output.
const ERROR_SAMPLES_MAX: usize = 5;

/// Largest response body or line accepted, a bound against a confused peer.
const RESPONSE_BYTES_MAX: usize = 16 << 20;

#[derive(Parser, Debug)]
#[command(about = "Closed-loop load for Concord (RESP) or etcd (v3 JSON gateway)")]
struct Options {
    /// Wire protocol: `resp` (Concord) or `etcd` (etcd's v3 JSON gateway over HTTP/1.1).
    #[arg(long, value_enum)]
    protocol: Protocol,
    /// Nodes' client addresses, comma-separated: 127.0.0.1:7001,127.0.0.1:7002,...
    #[arg(long, value_delimiter = ',', required = true)]
    targets: Vec<SocketAddr>,
    /// `spread`: clients round-robin over the targets; `leader`: every client on the leader.
    #[arg(long, value_enum, default_value = "spread")]
    route: Route,
    /// Concurrent clients, each with its own connection.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// `write`, `read`, or `load` (write each key of the keyspace once).
    #[arg(long, value_enum, default_value = "write")]
    operation: Operation,
    /// Bytes in each written value.
    #[arg(long, default_value_t = 256)]
    value_bytes: usize,
    /// Stop after this long (for `write` and `read`; a time limit for `load`).
    #[arg(long)]
    duration_seconds: Option<f64>,
    /// Stop after this many requests (`write` and `read`); ignored by `load`.
    #[arg(long)]
    requests: Option<u64>,
    /// Keys are `key:0` .. `key:<keyspace - 1>`.
    #[arg(long, default_value_t = 100_000)]
    keyspace: u64,
    /// Requests each client sends before it waits for their answers.
    #[arg(long, default_value_t = 1)]
    pipeline: usize,
    /// Kill the leader this long after the load started and measure the failover.
    #[arg(long)]
    kill_leader_after_ms: Option<u64>,
    /// Which process serves each target, for the kill: 127.0.0.1:7001=1234,...
    #[arg(long, value_delimiter = ',')]
    pids: Vec<String>,
    /// How long a request (or batch) may take before the client gives up on it, counts an
    /// error, drops the connection and moves to the next target. The default is longer than
    /// etcd's request timeout (7 s) and Concord's commit wait (10 s), so servers time out first.
    #[arg(long, default_value_t = 15_000)]
    request_timeout_ms: u64,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Protocol {
    Resp,
    Etcd,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Route {
    Spread,
    Leader,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Operation {
    Write,
    Read,
    Load,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Json,
    Text,
}

/// What the clients share: the work still to hand out and the failover's two instants.
struct Shared {
    options: Options,
    /// The value every write stores, already in the form its protocol sends.
    value: Vec<u8>,
    /// Requests handed out so far (for `--requests`, and the next key for `load`).
    claimed: AtomicU64,
    deadline: Option<Instant>,
    stop: AtomicBool,
    killed_at: Mutex<Option<Instant>>,
    first_success_after_kill: Mutex<Option<Instant>>,
}

/// One client's tally, merged into the report at the end.
#[derive(Default)]
struct Tally {
    histogram: Histogram,
    succeeded: u64,
    errors: u64,
    misses: u64,
    error_samples: Vec<String>,
}

impl Tally {
    fn error(&mut self, message: String) {
        self.errors += 1;
        if self.error_samples.len() < ERROR_SAMPLES_MAX && !self.error_samples.contains(&message) {
            self.error_samples.push(message);
        }
    }

    fn merge(&mut self, other: Tally) {
        self.histogram.merge(&other.histogram);
        self.succeeded += other.succeeded;
        self.misses += other.misses;
        self.errors += other.errors;
        for message in other.error_samples {
            if self.error_samples.len() < ERROR_SAMPLES_MAX
                && !self.error_samples.contains(&message)
            {
                self.error_samples.push(message);
            }
        }
    }
}

#[tokio::main]
async fn main() {
    let options = Options::parse();
    assert!(options.clients > 0, "--clients must be at least 1");
    assert!(options.pipeline > 0, "--pipeline must be at least 1");
    if options.operation != Operation::Load {
        assert!(
            options.duration_seconds.is_some() || options.requests.is_some(),
            "give --duration-seconds or --requests"
        );
    }
    let targets = match options.route {
        Route::Spread => options.targets.clone(),
        Route::Leader => vec![find_leader(options.protocol, &options.targets)
            .await
            .expect("no target says it leads")],
    };
    let value = match options.protocol {
        Protocol::Resp => vec![b'x'; options.value_bytes],
        Protocol::Etcd => base64(&vec![b'x'; options.value_bytes]).into_bytes(),
    };
    // Every client connects before the clock starts, so setup is not measured.
    let connections = connect_all(&targets, options.clients).await;
    let started = Instant::now();
    let shared = Arc::new(Shared {
        deadline: options.duration_seconds.map(|s| started + Duration::from_secs_f64(s)),
        options,
        value,
        claimed: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        killed_at: Mutex::new(None),
        first_success_after_kill: Mutex::new(None),
    });
    let killer = shared.options.kill_leader_after_ms.map(|after_ms| {
        tokio::spawn(kill_leader(Arc::clone(&shared), Duration::from_millis(after_ms)))
    });
    let mut handles = Vec::new();
    for (client, (target_index, connection)) in connections.into_iter().enumerate() {
        let shared = Arc::clone(&shared);
        let targets = targets.clone();
        handles.push(tokio::spawn(async move {
            run_client(client as u64, shared, targets, target_index, connection).await
        }));
    }
    let mut total = Tally::default();
    for handle in handles {
        total.merge(handle.await.expect("a client panicked"));
    }
    let elapsed = started.elapsed();
    let killed = match killer {
        Some(handle) => handle.await.expect("the killer panicked"),
        None => None,
    };
    print_report(&shared, &total, elapsed, killed);
}

/// One connection per client, round-robin over the targets; a client whose connection failed
/// starts without one and connects (or counts the error) in its loop.
async fn connect_all(
    targets: &[SocketAddr],
    clients: usize,
) -> Vec<(usize, Option<BufReader<TcpStream>>)> {
    let mut connections = Vec::with_capacity(clients);
    for client in 0..clients {
        let target_index = client % targets.len();
        let connection = TcpStream::connect(targets[target_index]).await.ok().map(prepare);
        connections.push((target_index, connection));
    }
    connections
}

/// Sets TCP_NODELAY (requests are small and each waits for its answer) and buffers reads.
fn prepare(stream: TcpStream) -> BufReader<TcpStream> {
    stream.set_nodelay(true).expect("setting TCP_NODELAY on a fresh socket");
    BufReader::with_capacity(64 * 1024, stream)
}

/// One client's loop: claim a batch, send it, read its answers, record, until told to stop.
async fn run_client(
    client: u64,
    shared: Arc<Shared>,
    targets: Vec<SocketAddr>,
    mut target_index: usize,
    mut connection: Option<BufReader<TcpStream>>,
) -> Tally {
    let options = &shared.options;
    let mut tally = Tally::default();
    let mut random = SplitMix64(client.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5eed);
    let mut request = Vec::with_capacity(options.pipeline * (options.value_bytes * 2 + 128));
    let mut batch: Option<Vec<u64>> = None;
    while let Some(keys) = batch.take().or_else(|| claim(&shared, &mut random)) {
        let Some(stream) = connection.as_mut() else {
            match TcpStream::connect(targets[target_index]).await {
                Ok(stream) => connection = Some(prepare(stream)),
                Err(error) => {
                    tally.error(format!("connect {}: {error}", targets[target_index]));
                    target_index = (target_index + 1) % targets.len();
                    tokio::time::sleep(ERROR_PAUSE).await;
                }
            }
            batch = Some(keys);
            continue;
        };
        request.clear();
        for key in &keys {
            encode_request(options, &shared.value, *key, targets[target_index], &mut request);
        }
        let sent_at = Instant::now();
        let timeout = Duration::from_millis(options.request_timeout_ms);
        let outcome =
            tokio::time::timeout(timeout, exchange(options, stream, &request, keys.len())).await;
        let latency = sent_at.elapsed();
        let answers = outcome
            .unwrap_or_else(|_| Err(format!("no answer within {} ms", options.request_timeout_ms)));
        let connection_failed = answers.is_err();
        let failed = record(&shared, &mut tally, answers, keys.len(), sent_at, latency);
        if connection_failed {
            // The connection's state is unknown: drop it and try the next node.
            connection = None;
            target_index = (target_index + 1) % targets.len();
        }
        if failed {
            if options.operation == Operation::Load {
                batch = Some(keys);
            }
            tokio::time::sleep(ERROR_PAUSE).await;
        }
    }
    tally
}

/// Records one batch's answers; returns whether any request of it failed.
fn record(
    shared: &Shared,
    tally: &mut Tally,
    answers: Result<Vec<Answer>, String>,
    batch_size: usize,
    sent_at: Instant,
    latency: Duration,
) -> bool {
    let answers = match answers {
        Ok(answers) => answers,
        Err(message) => {
            for _ in 0..batch_size {
                tally.error(message.clone());
            }
            return true;
        }
    };
    let mut failed = false;
    for answer in answers {
        match answer {
            Answer::Done | Answer::Missing => {
                tally.succeeded += 1;
                tally.misses += u64::from(answer == Answer::Missing);
                tally.histogram.record(latency.as_micros() as u64);
                note_success(shared, sent_at);
            }
            Answer::Refused(message) => {
                tally.error(message);
                failed = true;
            }
        }
    }
    failed
}

/// For the failover measurement: the first success of a request sent after the kill.
fn note_success(shared: &Shared, sent_at: Instant) {
    let Some(killed_at) = *shared.killed_at.lock().expect("no panic while held") else {
        return;
    };
    if sent_at < killed_at {
        return;
    }
    let mut first = shared.first_success_after_kill.lock().expect("no panic while held");
    if first.is_none() {
        *first = Some(Instant::now());
        shared.stop.store(true, Ordering::SeqCst);
    }
}

/// The keys of the next batch, or `None` once the run is over.
fn claim(shared: &Shared, random: &mut SplitMix64) -> Option<Vec<u64>> {
    let options = &shared.options;
    if shared.stop.load(Ordering::SeqCst) || shared.deadline.is_some_and(|d| Instant::now() >= d) {
        return None;
    }
    let batch = options.pipeline as u64;
    let first = shared.claimed.fetch_add(batch, Ordering::SeqCst);
    let limit = match options.operation {
        Operation::Load => Some(options.keyspace),
        _ => options.requests,
    };
    let end = limit.map_or(first + batch, |limit| (first + batch).min(limit));
    if end <= first {
        return None;
    }
    Some(match options.operation {
        Operation::Load => (first..end).collect(),
        _ => (first..end).map(|_| random.next() % options.keyspace).collect(),
    })
}

/// Appends one request for `key` to `out`, in the protocol's wire form.
fn encode_request(
    options: &Options,
    value: &[u8],
    key: u64,
    target: SocketAddr,
    out: &mut Vec<u8>,
) {
    let key = format!("key:{key}");
    let write = options.operation != Operation::Read;
    match options.protocol {
        Protocol::Resp => {
            let arguments: &[&[u8]] =
                if write { &[b"SET", key.as_bytes(), value] } else { &[b"GET", key.as_bytes()] };
            out.extend_from_slice(format!("*{}\r\n", arguments.len()).as_bytes());
            for argument in arguments {
                out.extend_from_slice(format!("${}\r\n", argument.len()).as_bytes());
                out.extend_from_slice(argument);
                out.extend_from_slice(b"\r\n");
            }
        }
        Protocol::Etcd => {
            let key = base64(key.as_bytes());
            let (path, body) = if write {
                let value = std::str::from_utf8(value).expect("base64 is ASCII");
                ("/v3/kv/put", format!(r#"{{"key":"{key}","value":"{value}"}}"#))
            } else {
                // `serializable` is false by default: a linearizable read through the leader.
                ("/v3/kv/range", format!(r#"{{"key":"{key}"}}"#))
            };
            http_post(target, path, &body, out);
        }
    }
}

fn http_post(target: SocketAddr, path: &str, body: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(
        format!(
            "POST {path} HTTP/1.1\r\nHost: {target}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
}

/// How the server answered one request.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    /// The write was applied, or the read found its key.
    Done,
    /// The read found no such key.
    Missing,
    /// An error reply (the connection stays usable).
    Refused(String),
}

/// Sends a batch and reads its `count` answers; `Err` means the connection is broken.
async fn exchange(
    options: &Options,
    stream: &mut BufReader<TcpStream>,
    request: &[u8],
    count: usize,
) -> Result<Vec<Answer>, String> {
    stream.get_mut().write_all(request).await.map_err(|error| format!("send: {error}"))?;
    let mut answers = Vec::with_capacity(count);
    for _ in 0..count {
        let answer = match options.protocol {
            Protocol::Resp => read_resp(stream).await,
            Protocol::Etcd => read_http(stream, options.operation == Operation::Read).await,
        };
        answers.push(answer?);
    }
    Ok(answers)
}

async fn read_line(stream: &mut BufReader<TcpStream>) -> Result<String, String> {
    let mut line = Vec::new();
    let read = (&mut *stream)
        .take(RESPONSE_BYTES_MAX as u64)
        .read_until(b'\n', &mut line)
        .await
        .map_err(|error| format!("receive: {error}"))?;
    if read == 0 || !line.ends_with(b"\r\n") {
        return Err("connection closed".to_string());
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|_| "answer is not UTF-8".to_string())
}

async fn read_exact(stream: &mut BufReader<TcpStream>, length: usize) -> Result<Vec<u8>, String> {
    if length > RESPONSE_BYTES_MAX {
        return Err(format!("answer of {length} bytes is over the limit"));
    }
    let mut bytes = vec![0; length];
    stream.read_exact(&mut bytes).await.map_err(|error| format!("receive: {error}"))?;
    Ok(bytes)
}

/// One RESP reply: a status, an error, an integer or a bulk string (SET and GET answer no
/// other kind).
async fn read_resp(stream: &mut BufReader<TcpStream>) -> Result<Answer, String> {
    let line = read_line(stream).await?;
    match line.as_bytes().first() {
        Some(b'+' | b':') => Ok(Answer::Done),
        Some(b'-') => Ok(Answer::Refused(line[1..].to_string())),
        Some(b'$') if line == "$-1" => Ok(Answer::Missing),
        Some(b'$') => {
            let length: usize =
                line[1..].parse().map_err(|_| format!("bad bulk header {line:?}"))?;
            read_exact(stream, length + 2).await?;
            Ok(Answer::Done)
        }
        _ => Err(format!("unexpected reply {line:?}")),
    }
}

/// One HTTP/1.1 response, with a Content-Length or chunked body.
async fn read_http(stream: &mut BufReader<TcpStream>, is_read: bool) -> Result<Answer, String> {
    let status_line = read_line(stream).await?;
    let status = status_line.split(' ').nth(1).unwrap_or("").to_string();
    let mut content_length = None;
    let mut chunked = false;
    let mut closes = false;
    loop {
        let header = read_line(stream).await?;
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap_or((&header, ""));
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_ascii_lowercase());
        match name.as_str() {
            "content-length" => content_length = value.parse::<usize>().ok(),
            "transfer-encoding" => chunked = value.contains("chunked"),
            "connection" => closes = value == "close",
            _ => {}
        }
    }
    let body = match (chunked, content_length) {
        (true, _) => read_chunked(stream).await?,
        (false, Some(length)) => read_exact(stream, length).await?,
        (false, None) => return Err(format!("response without a length: {status_line:?}")),
    };
    let body = String::from_utf8_lossy(&body).into_owned();
    if closes {
        return Err(format!("server closed the connection after HTTP {status}: {body}"));
    }
    if status != "200" {
        return Ok(Answer::Refused(format!("HTTP {status}: {}", body.trim())));
    }
    // A range that found nothing has no `kvs` field (the gateway omits empty fields).
    Ok(if is_read && !body.contains("\"kvs\"") { Answer::Missing } else { Answer::Done })
}

async fn read_chunked(stream: &mut BufReader<TcpStream>) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let size_line = read_line(stream).await?;
        let size_text = size_line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_line:?}"))?;
        if size == 0 {
            // Trailers, if any, end with an empty line.
            while !read_line(stream).await?.is_empty() {}
            return Ok(body);
        }
        if body.len() + size > RESPONSE_BYTES_MAX {
            return Err("chunked body over the limit".to_string());
        }
        let mut chunk = read_exact(stream, size + 2).await?;
        chunk.truncate(size);
        body.extend_from_slice(&chunk);
    }
}

/// The target that says it leads now, asked over a fresh connection each.
async fn find_leader(protocol: Protocol, targets: &[SocketAddr]) -> Option<SocketAddr> {
    for target in targets {
        if let Ok(Ok(true)) =
            tokio::time::timeout(Duration::from_secs(2), is_leader(protocol, *target)).await
        {
            return Some(*target);
        }
    }
    None
}

async fn is_leader(protocol: Protocol, target: SocketAddr) -> Result<bool, String> {
    let stream = TcpStream::connect(target).await.map_err(|error| error.to_string())?;
    let mut stream = prepare(stream);
    match protocol {
        Protocol::Resp => {
            let request = b"*2\r\n$4\r\nINFO\r\n$11\r\nreplication\r\n";
            stream.get_mut().write_all(request).await.map_err(|error| error.to_string())?;
            let header = read_line(&mut stream).await?;
            let length: usize =
                header.trim_start_matches('$').parse().map_err(|_| header.clone())?;
            let body = read_exact(&mut stream, length + 2).await?;
            Ok(String::from_utf8_lossy(&body).contains("concord_role:leader"))
        }
        Protocol::Etcd => {
            let mut request = Vec::new();
            http_post(target, "/v3/maintenance/status", "{}", &mut request);
            stream.get_mut().write_all(&request).await.map_err(|error| error.to_string())?;
            // The body is read here rather than through read_http, which keeps only a verdict.
            let status_line = read_line(&mut stream).await?;
            let mut length = 0;
            loop {
                let header = read_line(&mut stream).await?;
                if header.is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().map_err(|_| header.clone())?;
                    }
                }
            }
            let body = read_exact(&mut stream, length).await?;
            let status: serde_json::Value =
                serde_json::from_slice(&body).map_err(|error| format!("{status_line}: {error}"))?;
            let member = &status["header"]["member_id"];
            Ok(!member.is_null() && *member == status["leader"])
        }
    }
}

/// Waits, finds the leader, SIGKILLs its process; returns the killed target.
async fn kill_leader(shared: Arc<Shared>, after: Duration) -> Option<SocketAddr> {
    tokio::time::sleep(after).await;
    let options = &shared.options;
    let pids: BTreeMap<SocketAddr, u32> = options
        .pids
        .iter()
        .map(|entry| {
            let (target, pid) = entry.split_once('=').expect("--pids entries are target=pid");
            (target.parse().expect("a socket address"), pid.parse().expect("a process id"))
        })
        .collect();
    let Some(leader) = find_leader(options.protocol, &options.targets).await else {
        eprintln!("cluster_load: found no leader to kill");
        shared.stop.store(true, Ordering::SeqCst);
        return None;
    };
    let pid =
        pids.get(&leader).unwrap_or_else(|| panic!("no --pids entry for the leader {leader}"));
    let status = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("running kill");
    assert!(status.success(), "kill -9 {pid} failed");
    *shared.killed_at.lock().expect("no panic while held") = Some(Instant::now());
    Some(leader)
}

fn print_report(shared: &Shared, total: &Tally, elapsed: Duration, killed: Option<SocketAddr>) {
    let options = &shared.options;
    let seconds = elapsed.as_secs_f64();
    let failover_ms = match (
        *shared.killed_at.lock().expect("no panic"),
        *shared.first_success_after_kill.lock().expect("no panic"),
    ) {
        (Some(killed_at), Some(first)) => Some(first.duration_since(killed_at).as_secs_f64() * 1e3),
        _ => None,
    };
    let report = serde_json::json!({
        "protocol": format!("{:?}", options.protocol).to_lowercase(),
        "operation": format!("{:?}", options.operation).to_lowercase(),
        "clients": options.clients,
        "pipeline": options.pipeline,
        "succeeded": total.succeeded,
        "errors": total.errors,
        "misses": total.misses,
        "seconds": (seconds * 1e3).round() / 1e3,
        "ops_per_second": (total.succeeded as f64 / seconds).round(),
        "p50_us": total.histogram.percentile(50.0),
        "p99_us": total.histogram.percentile(99.0),
        "max_us": total.histogram.max,
        "failover_ms": failover_ms.map(|ms| (ms * 10.0).round() / 10.0),
        "killed": killed.map(|target| target.to_string()),
        "error_samples": total.error_samples,
    });
    match options.format {
        Format::Json => println!("{report}"),
        Format::Text => {
            let fields: Vec<String> = report
                .as_object()
                .expect("built as an object")
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            println!("{}", fields.join("  "));
        }
    }
}

/// A log-linear latency histogram in microseconds: exact below 128, then 64 buckets per power
/// of two (within 1.6%, reported at the bucket's middle, so within 0.8%).
struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

const EXACT_BELOW: u64 = 128;
const BUCKETS_PER_OCTAVE: u64 = 64;

impl Default for Histogram {
    fn default() -> Self {
        Histogram { counts: vec![0; Self::index(u64::MAX) + 1], total: 0, max: 0 }
    }
}

impl Histogram {
    fn index(value: u64) -> usize {
        if value < EXACT_BELOW {
            return value as usize;
        }
        let octave = 63 - u64::from(value.leading_zeros()); // >= 7
        let shift = octave - 6;
        let mantissa = (value >> shift) - BUCKETS_PER_OCTAVE; // 0..64
        (EXACT_BELOW + (octave - 7) * BUCKETS_PER_OCTAVE + mantissa) as usize
    }

    /// The middle of bucket `index`'s range.
    fn value_at(index: usize) -> u64 {
        let index = index as u64;
        if index < EXACT_BELOW {
            return index;
        }
        let octave = (index - EXACT_BELOW) / BUCKETS_PER_OCTAVE + 7;
        let mantissa = (index - EXACT_BELOW) % BUCKETS_PER_OCTAVE + BUCKETS_PER_OCTAVE;
        let shift = octave - 6;
        (mantissa << shift) + (1 << shift) / 2
    }

    fn record(&mut self, micros: u64) {
        self.counts[Self::index(micros)] += 1;
        self.total += 1;
        self.max = self.max.max(micros);
    }

    fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    fn percentile(&self, percent: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((percent / 100.0) * self.total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (index, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Self::value_at(index).min(self.max);
            }
        }
        self.max
    }
}

/// SplitMix64: enough randomness to spread keys, with no dependency.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Standard base64 with padding, as etcd's JSON gateway expects for `bytes` fields.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for position in 0..4 {
            if position <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * position)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
