//! The operator's subcommands besides `serve`: `concord cluster` (a local cluster in one
//! command), `concord admin` (membership changes), `concord status` (every member's role,
//! term, log indexes and lag) and `concord import` (an RDB file's keys, in the child
//! `import`).
//!
//! `concord cluster --nodes N` is for trying Concord out: it starts N `concord serve` child
//! processes on loopback, each with its own data directory under one base directory, prints
//! every endpoint, and stops them all cleanly on Ctrl-C. The base directory remembers the
//! cluster (its id and size), so running the command again resumes the same cluster with its
//! data; asking for another size with an existing directory is refused rather than guessed at.
//!
//! The directory also lists the members' addresses (`endpoints`, one line per member: `ID
//! CLIENT_ADDRESS PEER_ADDRESS`), so that `concord status` and `concord admin` run beside it
//! need no `--port`: without one they ask the first member of a local cluster that answers
//! ([`resolve_target`]).
//!
//! `concord admin` and `concord status` are Redis clients: they send `CONCORD.*` commands to any
//! member (the member hands membership changes to the leader) and print the replies. The
//! client here is deliberately tiny (one request, one reply, RESP2) so that the command line
//! needs nothing but the binary.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

mod import;
mod trial_tls;

pub use import::run_import;
pub use trial_tls::TrialCertificates;

/// How long `concord cluster` waits for its children to stop after asking them to.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// The file of a local cluster's directory that lists its members' addresses.
pub const ENDPOINTS_FILE: &str = "endpoints";

/// How long [`resolve_target`] waits for a connection to each candidate.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// The address of a single node started with the defaults.
const DEFAULT_ADDRESS: &str = "127.0.0.1:6379";

/// The member `concord status` and `concord admin` talk to: `host:port` when a port was
/// given; otherwise the first member of the local cluster in `cluster_directory` (made by
/// `concord cluster`) that accepts a connection; with no local cluster there, a node on the
/// default port. When none answers, the error says which flag to give.
pub fn resolve_target(host: &str, port: Option<u16>, cluster_directory: &Path) -> Result<String> {
    if let Some(port) = port {
        return Ok(format!("{host}:{port}"));
    }
    let endpoints_file = cluster_directory.join(ENDPOINTS_FILE);
    let (candidates, tried) = match std::fs::read_to_string(&endpoints_file) {
        Ok(text) => {
            let clients: Vec<String> = text
                .lines()
                .filter_map(|line| line.split_whitespace().nth(1).map(str::to_string))
                .collect();
            (clients, format!("the local cluster's members in {}", endpoints_file.display()))
        }
        Err(_) => (vec![DEFAULT_ADDRESS.to_string()], format!("{DEFAULT_ADDRESS} (the default)")),
    };
    let answering = candidates.into_iter().find(|candidate| {
        candidate
            .parse()
            .is_ok_and(|address| TcpStream::connect_timeout(&address, PROBE_TIMEOUT).is_ok())
    });
    answering.ok_or_else(|| {
        Error::Config(format!(
            "no member answers at {tried}; give any member's Redis port with --port (and --host \
             if it runs elsewhere), or --dir for a local cluster's directory"
        ))
    })
}

/// Where and how `concord cluster` runs its members.
#[derive(Clone, Debug)]
pub struct LocalCluster {
    /// How many members to run.
    pub nodes: u64,
    /// Member N serves Redis clients on `client_port_base + N - 1`.
    pub client_port_base: u16,
    /// Member N listens for peers on `peer_port_base + N - 1`.
    pub peer_port_base: u16,
    /// The directory under which each member gets its data directory.
    pub directory: PathBuf,
    /// Extra `concord serve` options for every member (`--fsync every-second`).
    pub serve_arguments: Vec<String>,
    /// With TLS for clients: member N also serves TLS on `tls_port_base + N - 1`, with the
    /// throwaway certificates of [`TrialCertificates`].
    pub tls_port_base: Option<u16>,
}

fn io_error(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

/// Reads the cluster id and size the directory remembers, or records new ones.
fn cluster_identity(cluster: &LocalCluster) -> Result<String> {
    let directory = &cluster.directory;
    std::fs::create_dir_all(directory)
        .map_err(io_error(format!("creating {}", directory.display())))?;
    let identity_file = directory.join("cluster");
    match std::fs::read_to_string(&identity_file) {
        Ok(text) => {
            let (id, nodes) = text
                .trim()
                .split_once(' ')
                .and_then(|(id, nodes)| Some((id.to_string(), nodes.parse::<u64>().ok()?)))
                .ok_or_else(|| {
                    Error::Config(format!("{} is damaged; remove it", identity_file.display()))
                })?;
            if nodes != cluster.nodes {
                return Err(Error::Config(format!(
                    "{} holds a {nodes}-node cluster; run with --nodes {nodes}, or remove the \
                     directory to start a new cluster",
                    directory.display()
                )));
            }
            Ok(id)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
            let id = format!(
                "local-{:016x}",
                xxhash_rust::xxh3::xxh3_64(format!("{nanos} {}", std::process::id()).as_bytes(),)
            );
            std::fs::write(&identity_file, format!("{id} {}\n", cluster.nodes))
                .map_err(io_error(format!("writing {}", identity_file.display())))?;
            Ok(id)
        }
        Err(error) => Err(io_error(format!("reading {}", identity_file.display()))(error)),
    }
}

/// The local cluster's secret file, `cluster-secret` in its directory: made on first use from
/// 32 random bytes, readable by its owner only, so that the members admit one another and
/// nobody else who reaches their peer ports (`raft::peer_auth`).
fn cluster_secret(directory: &Path) -> Result<PathBuf> {
    let path = directory.join("cluster-secret");
    if path.exists() {
        return Ok(path);
    }
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).map_err(|error| {
        Error::Config(format!("no random bytes for the cluster secret: {error}"))
    })?;
    let text: String = random.iter().map(|byte| format!("{byte:02x}")).collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).map_err(io_error(format!("creating {}", path.display())))?;
    file.write_all(format!("{text}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_error(format!("writing {}", path.display())))?;
    Ok(path)
}

/// `--cluster-secret-file` and the local cluster's secret, unless the serve options name one.
fn secret_arguments(cluster: &LocalCluster) -> Result<Vec<std::ffi::OsString>> {
    let given = cluster.serve_arguments.iter().any(|argument| {
        argument == "--cluster-secret-file" || argument.starts_with("--cluster-secret-file=")
    });
    if given {
        return Ok(Vec::new());
    }
    let secret_file = cluster_secret(&cluster.directory)?;
    Ok(vec!["--cluster-secret-file".into(), secret_file.into_os_string()])
}

/// Starts the members, prints their endpoints and waits until Ctrl-C or until every member
/// exited; then stops the rest.
pub fn run_cluster(cluster: LocalCluster) -> Result<()> {
    if !(1..=9).contains(&cluster.nodes) {
        return Err(Error::Config("--nodes must be between 1 and 9".into()));
    }
    let cluster_id = cluster_identity(&cluster)?;
    let secret_arguments = secret_arguments(&cluster)?;
    let port = |base: u16, node: u64| base as u64 + node - 1;
    let peers: Vec<String> = (1..=cluster.nodes)
        .map(|node| format!("{node}=127.0.0.1:{}", port(cluster.peer_port_base, node)))
        .collect();
    let peers = peers.join(",");
    let endpoints: String = (1..=cluster.nodes)
        .map(|node| {
            let client = port(cluster.client_port_base, node);
            let peer = port(cluster.peer_port_base, node);
            format!("{node} 127.0.0.1:{client} 127.0.0.1:{peer}\n")
        })
        .collect();
    let endpoints_file = cluster.directory.join(ENDPOINTS_FILE);
    std::fs::write(&endpoints_file, endpoints)
        .map_err(io_error(format!("writing {}", endpoints_file.display())))?;
    let tls = match cluster.tls_port_base {
        Some(_) => Some(TrialCertificates::open_or_make(&cluster.directory.join("tls"))?),
        None => None,
    };
    let executable = std::env::current_exe().map_err(io_error("finding the concord binary"))?;
    let mut children: Vec<(u64, Child)> = Vec::new();
    for node in 1..=cluster.nodes {
        let data_dir = cluster.directory.join(format!("node-{node}"));
        let log_path = cluster.directory.join(format!("node-{node}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io_error(format!("opening {}", log_path.display())))?;
        let log_copy = log.try_clone().map_err(io_error("duplicating a log handle"))?;
        let tls_port = cluster.tls_port_base.map(|base| port(base, node));
        let tls_arguments = match (tls_port, &tls) {
            (Some(tls_port), Some(files)) => files.serve_arguments(tls_port),
            _ => Vec::new(),
        };
        let child = Command::new(&executable)
            .arg("serve")
            .args(["--node-id", &node.to_string()])
            .args(["--port", &port(cluster.client_port_base, node).to_string()])
            .args(["--peer-port", &port(cluster.peer_port_base, node).to_string()])
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--peers", &peers, "--cluster-id", &cluster_id])
            .args(&secret_arguments)
            .args(&tls_arguments)
            .args(&cluster.serve_arguments)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_copy)
            .spawn()
            .map_err(io_error(format!("starting node {node}")))?;
        println!(
            "node {node}: redis-cli -p {}  (peer port {}, data {}, log {})",
            port(cluster.client_port_base, node),
            port(cluster.peer_port_base, node),
            data_dir.display(),
            log_path.display()
        );
        if let (Some(tls_port), Some(files)) = (tls_port, &tls) {
            println!("node {node} over TLS: {}", files.redis_cli(tls_port));
        }
        children.push((node, child));
    }
    println!(
        "cluster {cluster_id}: {} nodes; `concord status --port {}` shows them; Ctrl-C stops them",
        cluster.nodes, cluster.client_port_base
    );
    supervise(children)
}

/// Waits for Ctrl-C (or for every child to exit), then asks each child to stop with SIGINT,
/// as a terminal's Ctrl-C would, and kills what is still running after [`STOP_TIMEOUT`].
#[allow(unsafe_code)]
fn supervise(mut children: Vec<(u64, Child)>) -> Result<()> {
    static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    extern "C" fn on_interrupt(_signal: libc::c_int) {
        INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_interrupt as *const () as usize);
        libc::signal(libc::SIGTERM, on_interrupt as *const () as usize);
    }
    while !INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
        children.retain_mut(|(node, child)| match child.try_wait() {
            Ok(Some(status)) => {
                println!("node {node} exited ({status}); see its log");
                false
            }
            _ => true,
        });
        if children.is_empty() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("stopping {} nodes", children.len());
    for (_, child) in &children {
        // SAFETY: kill(2) on our own child's pid; a child that already exited is harmless.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGINT);
        }
    }
    let deadline = Instant::now() + STOP_TIMEOUT;
    for (node, child) in &mut children {
        while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if child.try_wait().ok().flatten().is_none() {
            println!("node {node} did not stop in {STOP_TIMEOUT:?}; killing it");
            let _ = child.kill();
            let _ = child.wait();
        }
    }
    Ok(())
}

/// A reply, as the tiny client reads it.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// A simple string (`+OK`).
    Status(String),
    /// An error line, its whole text.
    Error(String),
    /// An integer.
    Integer(i64),
    /// A bulk string, lossily decoded as UTF-8; `None` for the null reply.
    Bulk(Option<String>),
    /// An array.
    Array(Vec<Reply>),
}

impl std::fmt::Display for Reply {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::Status(text) | Reply::Bulk(Some(text)) => write!(formatter, "{text}"),
            Reply::Error(text) => write!(formatter, "(error) {text}"),
            Reply::Integer(value) => write!(formatter, "{value}"),
            Reply::Bulk(None) => write!(formatter, "(nil)"),
            Reply::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    writeln!(formatter, "{}) {item}", index + 1)?;
                }
                Ok(())
            }
        }
    }
}

/// Sends one command to `address` and reads its reply.
pub fn request(address: &str, arguments: &[&str]) -> Result<Reply> {
    let context = format!("talking to {address}");
    let mut stream = TcpStream::connect(address).map_err(io_error(context.clone()))?;
    // Membership changes wait for a learner to catch up: allow them time.
    stream.set_read_timeout(Some(Duration::from_secs(600))).map_err(io_error(context.clone()))?;
    let mut command = format!("*{}\r\n", arguments.len());
    for argument in arguments {
        command.push_str(&format!("${}\r\n{argument}\r\n", argument.len()));
    }
    stream.write_all(command.as_bytes()).map_err(io_error(context.clone()))?;
    read_reply(&mut BufReader::new(stream)).map_err(io_error(context))
}

fn read_reply(reader: &mut impl BufRead) -> std::io::Result<Reply> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let line = line.trim_end_matches(['\r', '\n']);
    let bad =
        || std::io::Error::new(std::io::ErrorKind::InvalidData, format!("bad reply {line:?}"));
    let (kind, rest) = line.split_at_checked(1).ok_or_else(bad)?;
    let number = || rest.parse::<i64>().map_err(|_| bad());
    Ok(match kind {
        "+" => Reply::Status(rest.to_string()),
        "-" => Reply::Error(rest.to_string()),
        ":" => Reply::Integer(number()?),
        "$" if number()? < 0 => Reply::Bulk(None),
        "$" => {
            let mut bytes = vec![0; number()? as usize + 2];
            reader.read_exact(&mut bytes)?;
            bytes.truncate(bytes.len() - 2);
            Reply::Bulk(Some(String::from_utf8_lossy(&bytes).into_owned()))
        }
        "*" if number()? < 0 => Reply::Bulk(None),
        "*" => Reply::Array((0..number()?).map(|_| read_reply(reader)).collect::<Result<_, _>>()?),
        _ => return Err(bad()),
    })
}

/// `concord status`: one line per member.
pub fn run_status(address: &str) -> Result<()> {
    let reply = request(address, &["CONCORD.STATUS"])?;
    let Reply::Array(members) = reply else {
        return Err(Error::Remote(reply.to_string()));
    };
    let columns = [
        "id",
        "role",
        "term",
        "leader",
        "last_log_index",
        "commit_index",
        "applied_index",
        "snapshot_index",
        "lag",
        "storage",
    ];
    println!(
        "{:>4} {:<10} {:>6} {:>6} {:>10} {:>10} {:>10} {:>10} {:>8} {:<9}",
        "id",
        "role",
        "term",
        "leader",
        "last_log",
        "commit",
        "applied",
        "snapshot",
        "lag",
        "storage"
    );
    for member in members {
        let Reply::Array(fields) = member else { continue };
        let field = |name: &str| -> String {
            fields.chunks(2).find(|pair| pair[0] == Reply::Bulk(Some(name.to_string()))).map_or(
                String::from("-"),
                |pair| match &pair[1] {
                    Reply::Bulk(None) => "-".to_string(),
                    other => other.to_string(),
                },
            )
        };
        if field("error") != "-" {
            println!("{:>4} unreachable: {}", field("id"), field("error"));
            continue;
        }
        let values: Vec<String> = columns.iter().map(|column| field(column)).collect();
        println!(
            "{:>4} {:<10} {:>6} {:>6} {:>10} {:>10} {:>10} {:>10} {:>8} {:<9}",
            values[0],
            values[1],
            values[2],
            values[3],
            values[4],
            values[5],
            values[6],
            values[7],
            values[8],
            values[9]
        );
    }
    Ok(())
}

/// `concord admin ...`: one `CONCORD.*` command; prints the reply, fails on an error reply.
pub fn run_admin(address: &str, arguments: &[String]) -> Result<()> {
    let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();
    match request(address, &arguments)? {
        Reply::Error(text) => Err(Error::Remote(text)),
        reply => {
            println!("{reply}");
            Ok(())
        }
    }
}
