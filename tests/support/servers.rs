//! Server processes for black-box tests: a real `redis-server` and the `concord` binary, each
//! on a free loopback port with its own temporary directory, killed (and the directory
//! removed) when the handle drops, which also happens while a failing test unwinds.
//!
//! Invariants:
//! - A test never skips because `redis-server` is missing: [`ServerProcess::start_redis`]
//!   panics with instructions to install it.
//! - A server is handed out only after it answered `PING` with `+PONG`; a server that exits
//!   first fails the test with its exit status and the end of its log.
//!
//! - Concord binds port 0 itself and reports the port it got (see `support/process.rs`), so
//!   its start never races another process for a port. Every server runs in its own process
//!   group with a parent-death signal: it dies with the test process, even an aborted one.
//!
//! Caveats: redis-server cannot report a port it chose, so for it a free port is found by
//! binding port 0 and releasing it, and another process can take it before the server binds.
//! A start that fails with "address in use" is retried on a new port a few times.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::process::{self, ChildProcess};

/// How long a server may take from spawn to its first `+PONG`. Generous: a debug build on a
/// loaded two-core CI machine is slow to start, and a healthy start takes milliseconds.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// How many times a start is tried on a new port when the old one was taken meanwhile.
const START_ATTEMPTS_MAX: usize = 5;

/// The oldest Redis whose behaviour the scripts describe.
const REDIS_MAJOR_VERSION_MIN: u32 = 7;

pub const REDIS_INSTALL_HINT: &str = "install it with `apt-get install redis-server redis-tools` \
     (Redis 7.0 or newer; Debian 12 ships 7.0.15), or run ./scripts/test, which installs it";

/// Which server to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerKind {
    Redis,
    Concord,
}

/// A running server. Dropping it kills the process.
pub struct ServerProcess {
    kind: ServerKind,
    child: ChildProcess,
    address: SocketAddr,
    /// Concord's peer listener, when it has one.
    peer_address: Option<SocketAddr>,
    /// Concord's TLS client listener, when it has one.
    tls_address: Option<SocketAddr>,
    log_path: PathBuf,
    /// The options it was started with, so that `restart` starts it the same way.
    flags: Vec<String>,
    config: Option<String>,
    // Declared last so the process is killed before its directory is removed.
    _directory: tempfile::TempDir,
}

impl ServerProcess {
    /// Starts `redis-server` without persistence. Panics, with instructions, when it is not
    /// installed or older than Redis 7.
    pub fn start_redis() -> ServerProcess {
        let server = ServerProcess::start(ServerKind::Redis);
        let version = server.redis_version();
        let major: u32 =
            version.split('.').next().and_then(|major| major.parse().ok()).unwrap_or(0);
        assert!(
            major >= REDIS_MAJOR_VERSION_MIN,
            "redis-server {version} is too old: the differential scripts describe Redis \
             {REDIS_MAJOR_VERSION_MIN}.0 behaviour; {REDIS_INSTALL_HINT}"
        );
        server
    }

    /// Starts `redis-server` as [`ServerProcess::start_redis`] does, with extra command-line
    /// options (`--tls-port`, say).
    pub fn start_redis_with(flags: &[&str]) -> ServerProcess {
        let options = Options { flags, config: None, data_source: None };
        ServerProcess::start_with(ServerKind::Redis, &options)
    }

    /// Starts the `concord` binary built for this test run, on a fresh data directory.
    pub fn start_concord() -> ServerProcess {
        ServerProcess::start(ServerKind::Concord)
    }

    /// Starts Concord with extra command-line flags and, if given, a TOML config file with
    /// this text (written beside the data directory, which holds only Concord's own files).
    /// Flags may include `--data-dir` (to restart on the same directory) and `--log-level`,
    /// which then replace the defaults (a fresh directory, `warn`).
    pub fn start_concord_with(flags: &[&str], config: Option<&str>) -> ServerProcess {
        let options = Options { flags, config, data_source: None };
        ServerProcess::start_with(ServerKind::Concord, &options)
    }

    pub fn start(kind: ServerKind) -> ServerProcess {
        ServerProcess::start_with(kind, &Options::default())
    }

    /// Starts Concord on a copy of an existing data directory (a format fixture, say): the
    /// copy is the node's own, so the original is never touched.
    pub fn start_concord_on_copy_of(source: &Path, flags: &[&str]) -> ServerProcess {
        let options = Options { flags, config: None, data_source: Some(source) };
        ServerProcess::start_with(ServerKind::Concord, &options)
    }

    /// Where a Concord node keeps its data (inside its temporary directory).
    pub fn data_directory(&self) -> PathBuf {
        self._directory.path().join("data")
    }

    /// Kills the process with SIGKILL and waits for it, keeping its directory until drop.
    pub fn kill(&mut self) {
        self.child.kill();
    }

    fn start_with(kind: ServerKind, options: &Options) -> ServerProcess {
        if kind == ServerKind::Concord {
            return ServerProcess::start_concord_once(options);
        }
        let mut last_log = String::new();
        for _ in 0..START_ATTEMPTS_MAX {
            let directory = super::temp_dir(kind.label());
            let port = free_port();
            let log_path = directory.path().join("server.log");
            let child = spawn(kind, port, directory.path(), &log_path, options);
            let mut server = ServerProcess {
                kind,
                child,
                address: SocketAddr::from(([127, 0, 0, 1], port)),
                peer_address: None,
                tls_address: None,
                log_path,
                flags: options.flags.iter().map(|flag| flag.to_string()).collect(),
                config: options.config.map(str::to_string),
                _directory: directory,
            };
            match server.wait_until_ready() {
                Ok(()) => return server,
                Err(why) => {
                    last_log = server.log_tail();
                    if !last_log.to_ascii_lowercase().contains("in use") {
                        panic!("{} did not start: {why}\n{last_log}", kind.label());
                    }
                }
            }
        }
        panic!(
            "{} did not start in {START_ATTEMPTS_MAX} attempts: its port was always taken\n{last_log}",
            kind.label()
        );
    }

    /// Kills the process with SIGKILL and starts it again on the same port and data
    /// directory, with the same options; returns once it answers PING.
    pub fn restart(&mut self) {
        self.child.kill();
        let flags: Vec<&str> = self.flags.iter().map(String::as_str).collect();
        let options = Options { flags: &flags, config: self.config.as_deref(), data_source: None };
        let directory = self._directory.path().to_path_buf();
        self.child = spawn(self.kind, self.port(), &directory, &self.log_path, &options);
        if let Err(why) = self.wait_until_ready() {
            panic!("{} did not restart: {why}\n{}", self.kind.label(), self.log_tail());
        }
    }

    /// Concord on port 0: it reports the port it bound, so one attempt is enough.
    fn start_concord_once(options: &Options) -> ServerProcess {
        let kind = ServerKind::Concord;
        let directory = super::temp_dir(kind.label());
        let log_path = directory.path().join("server.log");
        let mut child = spawn(kind, 0, directory.path(), &log_path, options);
        let listening = match child.listening(STARTUP_TIMEOUT) {
            Ok(listening) => listening,
            Err(why) => {
                let tail = log_tail_of(&log_path, kind);
                panic!("concord did not start: {why}\n{tail}");
            }
        };
        let mut server = ServerProcess {
            kind,
            child,
            address: listening.client,
            peer_address: listening.peer,
            tls_address: listening.tls,
            log_path,
            flags: options.flags.iter().map(|flag| flag.to_string()).collect(),
            config: options.config.map(str::to_string),
            _directory: directory,
        };
        if let Err(why) = server.wait_until_ready() {
            panic!("concord did not start: {why}\n{}", server.log_tail());
        }
        server
    }

    pub fn kind(&self) -> ServerKind {
        self.kind
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Concord's peer listener, when it runs one (it was given `--peers` or `--join`).
    /// Concord's TLS client port, when it was started with one.
    pub fn tls_address(&self) -> Option<SocketAddr> {
        self.tls_address
    }

    pub fn peer_address(&self) -> Option<SocketAddr> {
        self.peer_address
    }

    /// The server's process id, for signals a test sends itself.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` to the server; `false` if it has exited.
    pub fn signal(&mut self, signal: libc::c_int) -> bool {
        self.child.signal(signal)
    }

    /// Waits at most `timeout` for the server to exit.
    pub fn wait_for_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.child.wait_timeout(timeout)
    }

    /// Everything the server wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log_path).unwrap_or_default()).into_owned()
    }

    /// A `redis` crate connection, as an application would open one.
    pub fn client(&self) -> redis::Connection {
        let client = redis::Client::open(format!("redis://{}/", self.address))
            .expect("a loopback address is a valid URL");
        client.get_connection().unwrap_or_else(|error| panic!("cannot connect: {error}"))
    }

    /// A plain TCP connection, for byte-exact exchanges; reads time out after 10 s.
    pub fn raw(&self) -> TcpStream {
        let stream = TcpStream::connect(self.address).expect("the server accepts connections");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("a timeout can be set");
        stream
    }

    /// The exit status if the process has ended.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait()
    }

    /// The last lines of the server's stdout and stderr, for failure messages.
    pub fn log_tail(&self) -> String {
        log_tail_of(&self.log_path, self.kind)
    }

    /// Polls `PING` until `+PONG`, or fails when the process exits or the startup time is up.
    fn wait_until_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let mut last_error = String::from("nothing tried yet");
        while Instant::now() < deadline {
            if let Some(status) = self.exit_status() {
                return Err(format!("it exited with {status} before answering PING"));
            }
            match request_once(self.address, b"*1\r\n$4\r\nPING\r\n") {
                Ok(reply) if reply == b"+PONG\r\n" => return Ok(()),
                // A node with a password refuses PING before AUTH, but it is serving.
                Ok(reply) if reply.starts_with(b"-NOAUTH") => return Ok(()),
                Ok(reply) => last_error = format!("PING got {}", super::render::escape(&reply)),
                Err(error) => last_error = error,
            }
            thread::sleep(Duration::from_millis(20));
        }
        Err(format!("no +PONG within {STARTUP_TIMEOUT:?} (last: {last_error})"))
    }

    /// Retries `FLUSHALL` until `+OK`: a server that answers PING may still be electing itself
    /// leader before it accepts writes. Also leaves the server empty.
    pub fn wait_until_accepting_writes(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Some(status) = self.exit_status() {
                return Err(format!(
                    "{} exited with {status}\n{}",
                    self.kind.label(),
                    self.log_tail()
                ));
            }
            match request_once(self.address, b"*1\r\n$8\r\nFLUSHALL\r\n") {
                Ok(reply) if reply == b"+OK\r\n" => return Ok(()),
                Ok(reply) => last = super::render::escape(&reply),
                Err(error) => last = error,
            }
            thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "{} never answered FLUSHALL with +OK within {STARTUP_TIMEOUT:?} (last: {last})",
            self.kind.label()
        ))
    }

    /// `redis_version` from `INFO server`.
    fn redis_version(&self) -> String {
        let reply = request_once(self.address, b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n")
            .unwrap_or_else(|error| panic!("INFO server failed on redis-server: {error}"));
        let text = String::from_utf8_lossy(&reply);
        text.lines()
            .find_map(|line| line.strip_prefix("redis_version:"))
            .map(|version| version.trim().to_string())
            .unwrap_or_else(|| panic!("INFO server has no redis_version: {text}"))
    }
}

/// The last lines of a server's log, for failure messages.
fn log_tail_of(log_path: &Path, kind: ServerKind) -> String {
    let text = std::fs::read(log_path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    let tail = &lines[lines.len().saturating_sub(30)..];
    format!("--- last lines of the {} log ---\n{}", kind.label(), tail.join("\n"))
}

impl ServerKind {
    pub fn label(self) -> &'static str {
        match self {
            ServerKind::Redis => "redis",
            ServerKind::Concord => "concord",
        }
    }
}

/// What a test asks of a Concord node beyond the defaults.
#[derive(Default)]
struct Options<'a> {
    flags: &'a [&'a str],
    config: Option<&'a str>,
    /// A data directory to copy in before the node starts.
    data_source: Option<&'a Path>,
}

/// Starts the server with stdout and stderr in `log_path` (Concord's stdout through a pipe, for
/// its listening line). `port` 0 lets Concord choose.
fn spawn(
    kind: ServerKind,
    port: u16,
    directory: &Path,
    log_path: &Path,
    options: &Options,
) -> ChildProcess {
    // Appending, so that the stdout copy and the server's own stderr never overwrite each other.
    let log = File::options()
        .create(true)
        .append(true)
        .open(log_path)
        .expect("the log file can be created in a fresh temp dir");
    let log_for_stderr = log.try_clone().expect("a file handle can be cloned");
    let port = port.to_string();
    let mut command = match kind {
        ServerKind::Redis => {
            let mut command = Command::new("redis-server");
            command.args(["--port", &port, "--bind", "127.0.0.1", "--save", ""]);
            command.args(["--appendonly", "no", "--daemonize", "no"]);
            command.arg("--dir").arg(directory);
            command.args(options.flags);
            command
        }
        ServerKind::Concord => {
            let mut command = process::concord();
            command.args(["serve", "--port", &port]);
            // Loopback, unless a test binds another address (protected mode's).
            if !options.flags.contains(&"--bind") {
                command.args(["--bind", "127.0.0.1"]);
            }
            if let Some(source) = options.data_source {
                copy_directory(source, &directory.join("data"));
            }
            // A test may bring its own data directory (to restart on it) and log level.
            if !options.flags.contains(&"--data-dir") {
                command.arg("--data-dir").arg(directory.join("data"));
            }
            if !options.flags.contains(&"--log-level") {
                command.args(["--log-level", "warn"]);
            }
            if let Some(config) = options.config {
                let path = directory.join("concord.toml");
                std::fs::write(&path, config).expect("the config file can be written");
                command.arg("--config").arg(path);
            }
            command.args(options.flags);
            command
        }
    };
    command.stdin(Stdio::null()).stderr(log_for_stderr);
    let started = match kind {
        ServerKind::Redis => {
            command.stdout(log);
            ChildProcess::spawn(command)
        }
        ServerKind::Concord => ChildProcess::spawn_node(command, Some(log)),
    };
    match started {
        Ok(child) => child,
        Err(error) if error.kind() == ErrorKind::NotFound && kind == ServerKind::Redis => {
            panic!("redis-server is not on PATH, and these tests compare against it: {REDIS_INSTALL_HINT}")
        }
        Err(error) => panic!("cannot start {}: {error}", kind.label()),
    }
}

/// Copies a directory tree (regular files and directories only).
pub fn copy_directory(source: &Path, destination: &Path) {
    std::fs::create_dir_all(destination)
        .unwrap_or_else(|error| panic!("cannot create {}: {error}", destination.display()));
    let entries = std::fs::read_dir(source)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", source.display()));
    for entry in entries {
        let entry = entry.expect("a directory entry can be read");
        let target = destination.join(entry.file_name());
        if entry.file_type().expect("a file type can be read").is_dir() {
            copy_directory(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target)
                .unwrap_or_else(|error| panic!("cannot copy {}: {error}", entry.path().display()));
        }
    }
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("the loopback interface can bind an ephemeral port")
}

/// Sends one request on a new connection and returns the first reply's bytes.
pub fn request_once(address: SocketAddr, request: &[u8]) -> Result<Vec<u8>, String> {
    let timeout = Duration::from_secs(2);
    let mut stream = TcpStream::connect_timeout(&address, timeout)
        .map_err(|error| format!("connect: {error}"))?;
    stream.set_read_timeout(Some(timeout)).map_err(|error| error.to_string())?;
    stream.write_all(request).map_err(|error| format!("write: {error}"))?;
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Ok(Some((_, used))) = super::reply::parse(&buffer) {
            buffer.truncate(used);
            return Ok(buffer);
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Err("connection closed before a reply".into()),
            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
            Err(error) => return Err(format!("read: {error}")),
        }
    }
}
