//! The `concord` command line: `concord serve` (the default) runs a node; `concord maelstrom
//! <workload>` runs a node for Jepsen Maelstrom (`concord::maelstrom`).
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used)]

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use concord::config::Config;
use concord::error::Result;
use concord::server::{Listeners, Server};

/// jemalloc, as in Redis: INFO's `used_memory` is read from its counters (see
/// docs/decisions.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Concord: a Redis-compatible database that does not lose acknowledged writes.
///
/// Run `concord` (or `concord serve`) to start a node on 127.0.0.1:6379 that redis-cli and
/// every Redis client library can talk to.
#[derive(Parser, Debug)]
#[command(name = "concord", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a node (the default when no subcommand is given).
    Serve(Box<ServeArgs>),
    /// Run a node for Jepsen Maelstrom on stdin/stdout: `echo`, `unique-ids`, `broadcast`,
    /// `g-counter`, `kafka`, `txn-rw-register` or `lin-kv` (see docs/maelstrom.md).
    Maelstrom {
        /// The Maelstrom workload to serve.
        workload: String,
    },
    /// Start a local cluster on loopback, for trying Concord out; Ctrl-C stops it, and running
    /// it again resumes it.
    Cluster(ClusterArgs),
    /// Change a running cluster: `add-node ID HOST:PEER_PORT`, `remove-node ID`,
    /// `transfer-leader ID`. Any member takes them.
    Admin {
        #[command(flatten)]
        target: TargetArgs,
        #[command(subcommand)]
        change: AdminChange,
    },
    /// Show every member's role, term, commit and applied index, and lag.
    Status {
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Load an RDB file written by redis-server (SAVE, BGSAVE, redis-cli --rdb) into a node
    /// or a cluster, through the log in bounded batches. The whole file is checked first: a
    /// damaged one is refused with the byte offset, and nothing is imported.
    Import {
        /// The RDB file.
        file: PathBuf,
        /// Replace keys (and function libraries) that exist; without it they stop the import.
        #[arg(long)]
        replace: bool,
        #[command(flatten)]
        target: TargetArgs,
    },
}

/// Options of `concord cluster`.
#[derive(Args, Debug)]
struct ClusterArgs {
    /// How many members: 3 or 5 for fault tolerance, 1 to 9 accepted.
    #[arg(long, default_value_t = 3)]
    nodes: u64,
    /// Member N serves Redis clients on this port plus N - 1.
    #[arg(long, default_value_t = 7001)]
    port: u16,
    /// Member N listens for peers on this port plus N - 1.
    #[arg(long, default_value_t = 17001)]
    peer_port: u16,
    /// Where the members keep their data and logs.
    #[arg(long, value_name = "DIR", default_value = "concord-cluster")]
    dir: PathBuf,
    /// Serve clients over TLS too, with throwaway certificates made in DIR/tls (a CA, a server
    /// and a client certificate), and print how to connect with `redis-cli --tls`.
    #[arg(long)]
    tls: bool,
    /// With --tls, member N serves TLS on this port plus N - 1.
    #[arg(long, default_value_t = 7101)]
    tls_port: u16,
    /// Options passed to every member's `concord serve` (after `--`).
    #[arg(last = true)]
    serve: Vec<String>,
}

/// The member a command-line request goes to.
#[derive(Args, Debug)]
struct TargetArgs {
    /// Host of any member.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Redis port of that member [default: the first answering member of the local cluster in
    /// --dir, else 6379].
    #[arg(long, short = 'p')]
    port: Option<u16>,
    /// The directory of a local `concord cluster`, used when no --port is given.
    #[arg(long, value_name = "DIR", default_value = "concord-cluster")]
    dir: PathBuf,
}

impl TargetArgs {
    fn address(&self) -> Result<String> {
        concord::cli::resolve_target(&self.host, self.port, &self.dir)
    }
}

#[derive(Subcommand, Debug)]
enum AdminChange {
    /// Add node ID, reachable by peers at HOST:PEER_PORT (start it with --join first); returns
    /// once it caught up and votes.
    AddNode { id: u64, address: String },
    /// Remove node ID from the cluster.
    RemoveNode { id: u64 },
    /// Hand leadership to node ID.
    TransferLeader { id: u64 },
}

impl AdminChange {
    fn arguments(&self) -> Vec<String> {
        match self {
            AdminChange::AddNode { id, address } => {
                vec!["CONCORD.ADDNODE".into(), id.to_string(), address.clone()]
            }
            AdminChange::RemoveNode { id } => vec!["CONCORD.REMOVENODE".into(), id.to_string()],
            AdminChange::TransferLeader { id } => {
                vec!["CONCORD.TRANSFERLEADER".into(), id.to_string()]
            }
        }
    }
}

/// Options of `concord serve`. Each one overrides the key of the same name in the config file.
#[derive(Args, Debug, Default)]
struct ServeArgs {
    /// Address to listen on for Redis clients [default: 127.0.0.1].
    #[arg(long, value_name = "ADDRESS")]
    bind: Option<IpAddr>,

    /// TCP port to listen on for Redis clients [default: 6379]. 0 lets the system choose;
    /// beside a fixed --tls-port, 0 serves TLS clients only (as Redis's `port 0`).
    #[arg(long)]
    port: Option<u16>,

    /// TCP port for TLS clients (Redis tls-port); 0 lets the system choose [default: no TLS].
    #[arg(long, value_name = "PORT")]
    tls_port: Option<u16>,

    /// The server's certificate chain, PEM (Redis tls-cert-file).
    #[arg(long, value_name = "FILE")]
    tls_cert_file: Option<PathBuf>,

    /// The certificate's private key, unencrypted PEM (Redis tls-key-file).
    #[arg(long, value_name = "FILE")]
    tls_key_file: Option<PathBuf>,

    /// CA certificates that client certificates must chain to, PEM (Redis tls-ca-cert-file).
    #[arg(long, value_name = "FILE")]
    tls_ca_cert_file: Option<PathBuf>,

    /// A directory of PEM CA certificates (Redis tls-ca-cert-dir).
    #[arg(long, value_name = "DIR")]
    tls_ca_cert_dir: Option<PathBuf>,

    /// Whether TLS clients must present a certificate (Redis tls-auth-clients) [default: yes].
    #[arg(long, value_name = "yes|no|optional", value_parser = ["yes", "no", "optional"])]
    tls_auth_clients: Option<String>,

    /// TLS versions offered: "TLSv1.2 TLSv1.3" or one of them (Redis tls-protocols)
    /// [default: both].
    #[arg(long, value_name = "VERSIONS")]
    tls_protocols: Option<String>,

    /// TLS 1.3 suites, colon-separated OpenSSL names (Redis tls-ciphersuites) [default: all
    /// that rustls offers].
    #[arg(long, value_name = "LIST")]
    tls_ciphersuites: Option<String>,

    /// TLS 1.2 suites, colon-separated OpenSSL names (Redis tls-ciphers) [default: all that
    /// rustls offers].
    #[arg(long, value_name = "LIST")]
    tls_ciphers: Option<String>,

    /// Directory for the node's durable state [default: ./concord-data].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// When writes are acknowledged: `always` (after fsync, the default) or `every-second`
    /// (relaxed: fsync about once a second; a machine crash may lose the last second).
    #[arg(long, value_name = "MODE", value_parser = ["always", "every-second"])]
    fsync: Option<String>,

    /// Log bytes written since the last snapshot that trigger a new one [default: 268435456].
    #[arg(long, value_name = "BYTES")]
    snapshot_log_bytes: Option<u64>,

    /// This node's Raft id [default: 1].
    #[arg(long, value_name = "ID")]
    node_id: Option<u64>,

    /// Every cluster member, this node included: `1=HOST:PORT,2=HOST:PORT,3=HOST:PORT`, the
    /// addresses this node dials each peer at [default: none, a single node].
    #[arg(long, value_name = "LIST")]
    peers: Option<String>,

    /// TCP port for peer traffic, on --bind [default: the port of this node in --peers].
    #[arg(long, value_name = "PORT")]
    peer_port: Option<u16>,

    /// The cluster's name, checked when peers connect [default: concord].
    #[arg(long, value_name = "NAME")]
    cluster_id: Option<String>,

    /// A file holding the cluster secret peers prove they know at every handshake (the secret
    /// itself is never a flag) [default: none, peers are admitted by cluster id].
    #[arg(long, value_name = "FILE")]
    cluster_secret_file: Option<std::path::PathBuf>,

    /// Do not bootstrap a cluster on an empty data directory; wait to be added with
    /// `concord admin add-node`.
    #[arg(long)]
    join: bool,

    /// TOML config file; keys are the long flag names (`port = 6380`, `max-clients = 100`).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Log filter: error, warn, info, debug, trace, or a tracing directive [default: info].
    #[arg(long, value_name = "LEVEL")]
    log_level: Option<String>,

    /// How log lines look on stderr: `text` (coloured only on a terminal) or `json` (one
    /// object a line, for log shippers) [default: text].
    #[arg(long, value_name = "FORMAT", value_parser = ["text", "json"])]
    log_format: Option<String>,

    /// Most client connections at once (Redis maxclients) [default: 10000].
    #[arg(long, value_name = "COUNT")]
    max_clients: Option<usize>,

    /// Password clients must give with AUTH (Redis requirepass) [default: none].
    #[arg(long, value_name = "PASSWORD")]
    requirepass: Option<String>,

    /// Refuse clients from other addresses than loopback while the default user needs no
    /// password (Redis protected-mode) [default: yes].
    #[arg(long, value_name = "yes|no", value_parser = ["yes", "no"])]
    protected_mode: Option<String>,
}

impl ServeArgs {
    fn into_config(self) -> Result<Config> {
        let mut config = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if let Some(bind) = self.bind {
            config.bind = bind;
        }
        if let Some(port) = self.port {
            config.port = port;
        }
        self.apply_tls(&mut config);
        if let Some(data_dir) = self.data_dir {
            config.data_dir = data_dir;
        }
        if let Some(fsync) = self.fsync {
            config.fsync = concord::config::FsyncMode::parse(&fsync).expect("clap checked it");
        }
        if let Some(bytes) = self.snapshot_log_bytes {
            config.snapshot_log_bytes = bytes;
        }
        if let Some(node_id) = self.node_id {
            config.node_id = node_id;
        }
        if let Some(peers) = self.peers {
            config.peers = concord::config::parse_peers(&peers)?;
        }
        if let Some(peer_port) = self.peer_port {
            config.peer_port = Some(peer_port);
        }
        if let Some(cluster_id) = self.cluster_id {
            config.cluster_id = cluster_id;
        }
        if let Some(file) = self.cluster_secret_file {
            config.cluster_secret_file = Some(file);
        }
        if self.join {
            config.join = true;
        }
        if let Some(log_level) = self.log_level {
            config.log_level = log_level;
        }
        if let Some(log_format) = self.log_format {
            config.log_format =
                concord::config::LogFormat::parse(&log_format).expect("clap checked it");
        }
        if let Some(max_clients) = self.max_clients {
            config.max_clients = max_clients;
        }
        if let Some(requirepass) = self.requirepass {
            config.requirepass = Some(requirepass);
        }
        if let Some(protected_mode) = self.protected_mode {
            config.protected_mode = protected_mode == "yes";
        }
        config.validate()?;
        Ok(config)
    }

    /// The `--tls-*` flags, over the file's keys.
    fn apply_tls(&self, config: &mut Config) {
        if let Some(port) = self.tls_port {
            config.tls_port = Some(port);
        }
        let files = [
            (&self.tls_cert_file, &mut config.tls_cert_file),
            (&self.tls_key_file, &mut config.tls_key_file),
            (&self.tls_ca_cert_file, &mut config.tls_ca_cert_file),
            (&self.tls_ca_cert_dir, &mut config.tls_ca_cert_dir),
        ];
        for (flag, field) in files {
            if flag.is_some() {
                field.clone_from(flag);
            }
        }
        if let Some(authentication) = &self.tls_auth_clients {
            config.tls_auth_clients =
                concord::config::TlsAuthClients::parse(authentication).expect("clap checked it");
        }
        let texts = [
            (&self.tls_protocols, &mut config.tls_protocols),
            (&self.tls_ciphersuites, &mut config.tls_ciphersuites),
            (&self.tls_ciphers, &mut config.tls_ciphers),
        ];
        for (flag, field) in texts {
            if flag.is_some() {
                field.clone_from(flag);
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Serve(serve)) => serve.into_config().and_then(run),
        Some(Command::Maelstrom { workload }) => {
            // Maelstrom keeps stdout for messages; logs go to stderr: warnings, and the Maelstrom
            // module's bounded "still waiting" lines (src/maelstrom/waits.rs).
            let filter = std::env::var("CONCORD_LOG")
                .unwrap_or_else(|_| "warn,concord::maelstrom=info".into());
            concord::logging::init(&filter, concord::config::LogFormat::Text);
            concord::maelstrom::Config::from_environment()
                .and_then(|config| concord::maelstrom::run(&workload, config))
        }
        Some(Command::Cluster(cluster)) => concord::cli::run_cluster(concord::cli::LocalCluster {
            nodes: cluster.nodes,
            client_port_base: cluster.port,
            peer_port_base: cluster.peer_port,
            directory: cluster.dir,
            serve_arguments: cluster.serve,
            tls_port_base: cluster.tls.then_some(cluster.tls_port),
        }),
        Some(Command::Admin { target, change }) => target
            .address()
            .and_then(|address| concord::cli::run_admin(&address, &change.arguments())),
        Some(Command::Status { target }) => {
            target.address().and_then(|address| concord::cli::run_status(&address))
        }
        Some(Command::Import { file, replace, target }) => {
            target.address().and_then(|address| concord::cli::run_import(&address, &file, replace))
        }
        None => cli.serve.into_config().and_then(run),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("concord: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: Config) -> Result<()> {
    concord::logging::init(&config.log_level, config.log_format);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|source| {
            concord::error::Error::Io { context: "starting the async runtime".into(), source }
        })?;
    runtime.block_on(async {
        // Registered before anything starts, so that a stop asked for during recovery is not
        // the default action (an exit without a clean stop) but a shutdown once serving.
        let stop = StopSignals::register()?;
        let listeners = Listeners::bind(&config).await?;
        announce(&listeners.listening_line()?)?;
        let server = Server::start(config, listeners).await?;
        tracing::info!(address = %server.local_address()?, "concord is ready to accept connections");
        let shutdown = server.shutdown_handle();
        tokio::spawn(async move {
            let signal = stop.received().await;
            tracing::info!(signal, "received a signal to stop, shutting down");
            let _ = shutdown.send(true);
        });
        server.run().await
    })
}

/// Prints the listening line on stdout, at once (stdout may be a pipe, which buffers).
fn announce(line: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}").and_then(|()| stdout.flush()).map_err(|source| {
        concord::error::Error::Io { context: "printing the listening line".into(), source }
    })
}

/// SIGINT (Ctrl-C) and SIGTERM (what service managers and `kill` send): both stop the node
/// the same way, with the same log lines.
struct StopSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn register() -> Result<StopSignals> {
        use tokio::signal::unix::{signal, SignalKind};
        let register = |kind: SignalKind| {
            signal(kind).map_err(|source| concord::error::Error::Io {
                context: "registering the stop signals".into(),
                source,
            })
        };
        Ok(StopSignals {
            interrupt: register(SignalKind::interrupt())?,
            terminate: register(SignalKind::terminate())?,
        })
    }

    /// Waits for either signal and returns its name.
    async fn received(mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }
}
