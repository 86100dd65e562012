//! The Redis protocol front end: the TCP listener, one task per connection, and the state the
//! connections share (the client registry and the server's counters).
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

mod clients;
mod connection;
mod control;

pub use clients::{ClientInfo, ClientRegistry};

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::metrics::CommandStats;
use crate::node::Node;

/// What every connection task shares.
pub struct Shared {
    pub config: Config,
    pub node: Node,
    pub clients: ClientRegistry,
    pub command_stats: CommandStats,
    /// Set to true to stop the listener and every connection (SHUTDOWN, Ctrl-C).
    pub shutdown: watch::Sender<bool>,
}

/// A bound listener, ready to serve.
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl Server {
    /// Binds the listener and starts the node. A port in use is reported with the flag that
    /// chooses another one.
    pub async fn bind(config: Config) -> Result<Server> {
        let address = SocketAddr::new(config.bind, config.port);
        let listener = TcpListener::bind(address).await.map_err(|source| Error::Bind {
            address: address.to_string(),
            hint: if source.kind() == std::io::ErrorKind::AddrInUse {
                " (another process uses this port; choose another one with --port)"
            } else {
                ""
            },
            source,
        })?;
        let node = Node::start(&config);
        let (shutdown, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            config,
            node,
            clients: ClientRegistry::default(),
            command_stats: CommandStats::default(),
            shutdown,
        });
        Ok(Server { listener, shared })
    }

    /// The address the listener is bound to (useful with port 0).
    pub fn local_address(&self) -> Result<SocketAddr> {
        self.listener
            .local_addr()
            .map_err(|source| Error::Io { context: "reading the listener address".into(), source })
    }

    /// A sender that stops the server when it sends `true`.
    pub fn shutdown_handle(&self) -> watch::Sender<bool> {
        self.shared.shutdown.clone()
    }

    /// Accepts connections until shutdown.
    pub async fn run(self) -> Result<()> {
        let mut shutdown = self.shared.shutdown.subscribe();
        loop {
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                _ = shutdown.wait_for(|stopping| *stopping) => break,
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
            tokio::spawn(connection::serve(stream, peer, shared));
        }
        tracing::info!("server stopped accepting connections");
        Ok(())
    }
}
