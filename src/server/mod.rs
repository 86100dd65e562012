//! The Redis protocol front end: the TCP listener and the TLS listener, one task per
//! connection, and the state the connections share (the client registry and the server's
//! counters). A TLS connection is served by the same code as a plain one, over the stream its
//! handshake produced (see `stream` and `tls`).
//!
//! A connection task reads whatever bytes arrived, decodes every complete request in them,
//! executes the requests in order, and writes all their replies with one write call: a
//! pipelined batch costs one read and one write, not one per command. Consecutive writes in a
//! batch are proposed together (one proposal, so one place in one log entry); a read that
//! follows a write waits for the write's reply first, so a client always reads its own writes.
//!
//! Invariants:
//! - Replies leave in request order, each after its command was executed (for a write: applied).
//! - A bad request gets an error reply and the connection goes on; only a protocol error (the
//!   byte stream can no longer be framed) closes it, after the error reply, as Redis does.
//! - Every per-client buffer is bounded (`client_query_buffer_limit`, `proto_max_bulk_len`), and
//!   so is the number of clients (`max_clients`).
//!
//! Deliberately absent: consensus and storage. The server reaches them only through `Node`.

mod acl;
mod clients;
mod connection;
mod cross_protocol;
mod help;
mod info;
mod introspection;
pub mod monitor;
pub mod parameter_effects;
pub mod parameters;
mod pause;
mod protected_mode;
mod replication;
mod settings;
pub mod slowlog;
mod stream;
pub mod tls;

pub use clients::{BufferUsage, ClientInfo, ClientRegistry, Waiting};
pub use settings::RuntimeSettings;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::metrics::CommandStats;
use crate::node::Node;

/// The version Concord reports as `redis_version` and in HELLO: the Redis release whose
/// behaviour it reproduces, so that client libraries which gate features on the server version
/// enable the ones Concord has. Concord's own version is `concord_version` in INFO server.
pub const REDIS_VERSION: &str = "7.0.15";

/// How long SHUTDOWN and Ctrl-C wait for connection tasks to close their sockets.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// What every connection task shares.
pub struct Shared {
    /// The options the node started with; what may change at runtime is in `settings`.
    pub config: Config,
    /// The parameters CONFIG GET and CONFIG SET read and change at runtime.
    pub settings: RuntimeSettings,
    /// When the server started, for uptime.
    pub started_at: Instant,
    /// The Unix time of the start, in seconds: what LASTSAVE reports while no snapshot exists.
    pub started_unix_seconds: u64,
    /// This server's member of the cluster: writes, reads and status go through it.
    pub node: Node,
    /// Every connected client, for CLIENT LIST, CLIENT KILL and INFO clients.
    pub clients: ClientRegistry,
    /// Per-command call counts and times, for INFO commandstats.
    pub command_stats: CommandStats,
    /// The commands that took longest, for SLOWLOG.
    pub slow_log: slowlog::SlowLog,
    /// This node's ACL LOG: its clients' denials and failed logins.
    pub acl_log: acl::AclLog,
    /// The cross-protocol guard's warnings, at most one a minute.
    pub cross_protocol_warnings: cross_protocol::Warnings,
    /// The clients in MONITOR mode, fed every command this node's clients run.
    pub monitors: monitor::Monitors,
    /// CLIENT PAUSE: whether this node's clients' commands are held, and until when.
    pub pause: pause::ClientPause,
    /// Set to true to stop the listener and every connection (SHUTDOWN, Ctrl-C).
    pub shutdown: watch::Sender<bool>,
}

/// How long a TLS client may take over its handshake before it is closed, so that a client
/// which connects and sends nothing holds no task for long.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A bound listener, ready to serve.
pub struct Server {
    listener: Option<TcpListener>,
    tls_listener: Option<TcpListener>,
    shared: Arc<Shared>,
}

/// The node's listeners, bound before anything else happens (see [`Listeners::bind`]).
pub struct Listeners {
    /// The plaintext client listener; `None` on a node that serves TLS only.
    client: Option<TcpListener>,
    tls: Option<TcpListener>,
    peer: Option<TcpListener>,
}

/// What the node prints on stdout once its listeners are bound, as one line a script or a
/// test harness can parse: `concord listening client=127.0.0.1:6379 peer=127.0.0.1:17001`
/// (`peer=none` for a node that runs alone), followed by ` tls=127.0.0.1:6380` on a node with
/// a TLS port (`client=none` when it serves TLS only). With `--port 0` or `--peer-port 0` it
/// is how the ports the system chose are learned.
pub const LISTENING_LINE_PREFIX: &str = "concord listening";

impl Listeners {
    /// Binds the client listener, then the peer listener of a clustered node. A port in use is
    /// reported with the flag that chooses another one. Nothing else is touched yet: a node
    /// that cannot listen fails before it opens (or creates) its data directory.
    /// The TLS certificates are loaded first, so that a bad one is reported before any port
    /// is bound.
    pub async fn bind(config: &Config) -> Result<Listeners> {
        if config.tls_port.is_some() {
            RuntimeSettings::new(config).start_tls().map_err(Error::Config)?;
        }
        let client = match config.serves_plaintext() {
            true => Some(bind_client_listener(config, config.port, "--port").await?),
            false => None,
        };
        let tls = match config.tls_port {
            Some(port) => Some(bind_client_listener(config, port, "--tls-port").await?),
            None => None,
        };
        let peer = Node::bind_peer_listener(config).await?;
        Ok(Listeners { client, tls, peer })
    }

    /// The address the plaintext client listener is bound to (with the real port when 0 was
    /// asked for); `None` on a node that serves TLS only.
    pub fn client_address(&self) -> Result<Option<SocketAddr>> {
        self.client.as_ref().map(local_address).transpose()
    }

    /// The address the TLS listener is bound to, or `None` without TLS.
    pub fn tls_address(&self) -> Result<Option<SocketAddr>> {
        self.tls.as_ref().map(local_address).transpose()
    }

    /// The address the peer listener is bound to, or `None` without a peer listener.
    pub fn peer_address(&self) -> Result<Option<SocketAddr>> {
        self.peer.as_ref().map(local_address).transpose()
    }

    /// The line of [`LISTENING_LINE_PREFIX`].
    pub fn listening_line(&self) -> Result<String> {
        let named = |address: Option<SocketAddr>| {
            address.map_or("none".to_string(), |address| address.to_string())
        };
        let client = named(self.client_address()?);
        let peer = named(self.peer_address()?);
        let mut line = format!("{LISTENING_LINE_PREFIX} client={client} peer={peer}");
        if let Some(tls) = self.tls_address()? {
            line.push_str(&format!(" tls={tls}"));
        }
        Ok(line)
    }
}

/// Binds a client listener (plaintext or TLS) on `port`; a port in use is reported with the
/// flag that chooses another.
async fn bind_client_listener(config: &Config, port: u16, flag: &str) -> Result<TcpListener> {
    let address = SocketAddr::new(config.bind, port);
    TcpListener::bind(address).await.map_err(|source| Error::Bind {
        address: address.to_string(),
        hint: if source.kind() == std::io::ErrorKind::AddrInUse {
            if flag == "--tls-port" {
                "; another process uses this port, choose another one with --tls-port"
            } else {
                "; another process uses this port, choose another one with --port"
            }
        } else {
            ""
        },
        source,
    })
}

fn local_address(listener: &TcpListener) -> Result<SocketAddr> {
    listener
        .local_addr()
        .map_err(|source| Error::Io { context: "reading the listener address".into(), source })
}

impl Server {
    /// Binds the listeners, then starts the node: [`Listeners::bind`], then [`Server::start`].
    pub async fn bind(config: Config) -> Result<Server> {
        let listeners = Listeners::bind(&config).await?;
        Server::start(config, listeners).await
    }

    /// Starts the node (recovering the data directory) behind listeners that are already
    /// bound. Connections that arrive meanwhile wait in the listen backlog and are served once
    /// recovery ended, so a client never reads from a node that has not recovered. The
    /// configuration records the ports actually bound (they differ from it with port 0), so
    /// that INFO, CONFIG GET and the membership name the real ones.
    pub async fn start(mut config: Config, listeners: Listeners) -> Result<Server> {
        config.port = listeners.client_address()?.map_or(0, |address| address.port());
        if let Some(tls) = listeners.tls_address()? {
            config.tls_port = Some(tls.port());
        }
        if let Some(peer) = listeners.peer_address()? {
            config.peer_port = Some(peer.port());
        }
        let settings = RuntimeSettings::new(&config);
        settings.start_tls().map_err(Error::Config)?;
        let node = Node::start_on(&config, listeners.peer).await?;
        let (listener, tls_listener) = (listeners.client, listeners.tls);
        let (shutdown, _) = watch::channel(false);
        let started_unix_seconds =
            SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs());
        let shared = Arc::new(Shared {
            config,
            settings,
            started_at: Instant::now(),
            started_unix_seconds,
            node,
            clients: ClientRegistry::default(),
            command_stats: CommandStats::default(),
            slow_log: slowlog::SlowLog::default(),
            acl_log: acl::AclLog::default(),
            cross_protocol_warnings: cross_protocol::Warnings::default(),
            monitors: monitor::Monitors::default(),
            pause: pause::ClientPause::default(),
            shutdown,
        });
        Ok(Server { listener, tls_listener, shared })
    }

    /// The address the plaintext listener is bound to (useful with port 0), or, on a node
    /// that serves TLS only, the TLS listener's.
    pub fn local_address(&self) -> Result<SocketAddr> {
        let listener = self.listener.as_ref().or(self.tls_listener.as_ref());
        local_address(listener.expect("a node has a plaintext or a TLS listener"))
    }

    /// A sender that stops the server when it sends `true`.
    pub fn shutdown_handle(&self) -> watch::Sender<bool> {
        self.shared.shutdown.clone()
    }

    /// Accepts connections until shutdown.
    pub async fn run(self) -> Result<()> {
        let mut shutdown = self.shared.shutdown.subscribe();
        tokio::spawn(acl::propose_pending_passwords(Arc::clone(&self.shared)));
        tokio::spawn(acl::close_connections_of_deleted_users(Arc::clone(&self.shared)));
        let mut failure = None;
        loop {
            let (accepted, tls) = tokio::select! {
                accepted = accept(self.listener.as_ref()) => (accepted, false),
                accepted = accept(self.tls_listener.as_ref()) => (accepted, true),
                _ = shutdown.wait_for(|stopping| *stopping) => break,
                reason = self.shared.node.storage_failure() => {
                    // Writes in flight were answered with the error; stop serving anyone.
                    tracing::error!(%reason, "storage failed, stopping the node");
                    failure = Some(reason);
                    let _ = self.shared.shutdown.send(true);
                    break;
                }
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Running out of file descriptors must not stop the listener for good.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            };
            let shared = Arc::clone(&self.shared);
            if tls {
                tokio::spawn(serve_tls(stream, peer, shared));
            } else {
                tokio::spawn(connection::serve(stream::ClientStream::Plain(stream), peer, shared));
            }
        }
        tracing::info!("server stopped accepting connections");
        drop(self.listener);
        drop(self.tls_listener);
        // Every connection task watches the same signal and closes its socket; give them a
        // moment so that clients see a clean close rather than a reset at process exit.
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        while !self.shared.clients.is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.shared.node.shutdown().await;
        match failure {
            Some(reason) => Err(Error::Storage(reason)),
            None => Ok(()),
        }
    }
}

/// The next connection on `listener`; never, without one.
async fn accept(
    listener: Option<&TcpListener>,
) -> std::io::Result<(tokio::net::TcpStream, SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}

/// Serves a connection of the TLS port once its handshake succeeded. A failed handshake
/// (plaintext on the TLS port, an untrusted or expired client certificate, no common
/// version) closes the connection before anything is read as a command, and is logged with
/// the client's address and rustls's reason, as Redis logs it.
async fn serve_tls(stream: tokio::net::TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let Some(config) = shared.settings.tls_config() else {
        tracing::error!(client = %peer, "a TLS connection arrived without a TLS configuration");
        return;
    };
    let mut shutdown = shared.shutdown.subscribe();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream));
    let stream = tokio::select! {
        finished = handshake => finished,
        _ = shutdown.wait_for(|stopping| *stopping) => return,
    };
    match stream {
        Ok(Ok(stream)) => {
            connection::serve(stream::ClientStream::Tls(Box::new(stream)), peer, shared).await;
        }
        Ok(Err(error)) => {
            tracing::info!(client = %peer, %error, "closed a TLS connection whose handshake failed");
        }
        Err(_) => tracing::info!(
            client = %peer,
            "closed a TLS connection that did not finish its handshake within {}s",
            TLS_HANDSHAKE_TIMEOUT.as_secs()
        ),
    }
}
