//! The cluster tests' network: one TCP proxy per directed link between nodes, each of which can
//! pass traffic, drop it or block it, so that a test can partition, isolate, bridge and cut one
//! direction of a link while the nodes run unchanged.
//!
//! Node `i` lists peer `j` in its `--peers` at the port of the proxy for link `i -> j`, which
//! forwards to `j`'s real peer port. Concord dials one connection per ordered pair, and both the
//! requests of `i` and the responses of `j` travel on it, so the proxy judges each byte by the
//! direction it travels in: bytes from `i` to `j` follow the state of `(i, j)`, bytes from `j`
//! back to `i` the state of `(j, i)`. The states:
//! - [`Link::Pass`]: bytes flow.
//! - [`Link::Drop`]: connections carrying either direction are closed and new ones refused at
//!   once (accepted and closed), as when a host is unreachable and the kernel says so.
//! - [`Link::Block`]: bytes in this direction stop (the proxy stops reading, so TCP holds them
//!   back); the connection stays open, as on a link that silently loses packets. Unblocking
//!   delivers what was held, late: a delayed message is something Raft must tolerate too.
//!
//! Invariants: only 127.0.0.1 is ever dialed or bound; every proxy binds port 0 itself and keeps
//! its listener; every proxy thread ends within one poll interval of the network being dropped,
//! and dropping the network never panics (it may run while a failing test unwinds).
//!
//! Caveat: a chunk read just before a link's state changes is still delivered.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub type NodeId = u64;

/// How often an idle proxy thread looks at the link state and the stop flag.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// How long a proxy waits to reach a node's real peer port.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// What a directed link does with the bytes sent over it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Pass,
    Drop,
    Block,
}

/// The proxies of one cluster and the state of every directed link.
pub struct Network {
    shared: Arc<Shared>,
    acceptors: Vec<JoinHandle<()>>,
}

struct Shared {
    links: Mutex<HashMap<(NodeId, NodeId), Link>>,
    /// Each node's real peer port, which changes when it restarts on a port of its choice.
    targets: Mutex<HashMap<NodeId, u16>>,
    /// Open proxied connections: dialer, target, and both sockets, so that a drop can close
    /// them even while a pump thread is blocked writing to a stopped node.
    connections: Mutex<HashMap<u64, (NodeId, NodeId, TcpStream, TcpStream)>>,
    next_connection: AtomicU64,
    stop: AtomicBool,
}

impl Shared {
    fn link(&self, from: NodeId, to: NodeId) -> Link {
        *lock(&self.links).get(&(from, to)).unwrap_or(&Link::Pass)
    }

    fn target(&self, to: NodeId) -> Option<SocketAddr> {
        let port = *lock(&self.targets).get(&to)?;
        Some(SocketAddr::from(([127, 0, 0, 1], port)))
    }
}

/// Locks `mutex` even if a panicking thread poisoned it: the proxies' maps stay usable, and a
/// failing test's cleanup never panics again on them.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Network {
    /// Starts no proxies yet; [`Network::add_proxy`] adds one per directed link.
    pub fn new() -> Network {
        let shared = Shared {
            links: Mutex::new(HashMap::new()),
            targets: Mutex::new(HashMap::new()),
            connections: Mutex::new(HashMap::new()),
            next_connection: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        };
        Network { shared: Arc::new(shared), acceptors: Vec::new() }
    }

    /// Starts the proxy that node `from` dials to reach node `to`, and returns its port. The
    /// proxy binds port 0 itself and keeps its listener, so its port is never raced for.
    /// `target_port` is `to`'s real peer port if known (0: not yet, see
    /// [`Network::set_target`]); it is looked up again for every connection, so a node that
    /// restarts on another port stays reachable through the same proxy.
    pub fn add_proxy(&mut self, from: NodeId, to: NodeId, target_port: u16) -> u16 {
        if target_port != 0 {
            self.set_target(to, target_port);
        }
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port is free");
        listener.set_nonblocking(true).expect("a listener can be made non-blocking");
        let port = listener.local_addr().expect("a bound listener has an address").port();
        let shared = Arc::clone(&self.shared);
        self.acceptors.push(std::thread::spawn(move || accept_loop(&listener, &shared, from, to)));
        port
    }

    /// Records node `to`'s real peer port: every proxy to it forwards there from now on.
    pub fn set_target(&self, to: NodeId, port: u16) {
        lock(&self.shared.targets).insert(to, port);
    }

    /// Sets the link carrying bytes from `from` to `to`; a drop closes its connections now.
    pub fn set(&self, from: NodeId, to: NodeId, link: Link) {
        lock(&self.shared.links).insert((from, to), link);
        if link == Link::Drop {
            let connections = lock(&self.shared.connections);
            for (dialer, target, client, server) in connections.values() {
                if (*dialer, *target) == (from, to) || (*dialer, *target) == (to, from) {
                    let _ = client.shutdown(Shutdown::Both);
                    let _ = server.shutdown(Shutdown::Both);
                }
            }
        }
    }

    /// Drops both directions between `a` and `b`.
    pub fn cut(&self, a: NodeId, b: NodeId) {
        self.set(a, b, Link::Drop);
        self.set(b, a, Link::Drop);
    }

    /// Cuts every link between nodes of different groups; links inside a group, and links of
    /// nodes in no group, are left as they are.
    pub fn partition(&self, groups: &[&[NodeId]]) {
        for (index, group) in groups.iter().enumerate() {
            for other in &groups[index + 1..] {
                for a in group.iter() {
                    for b in other.iter() {
                        self.cut(*a, *b);
                    }
                }
            }
        }
    }

    /// Lets every link pass again.
    pub fn heal(&self) {
        lock(&self.shared.links).clear();
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        for (_, _, client, server) in lock(&self.shared.connections).values() {
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
        }
        for acceptor in self.acceptors.drain(..) {
            let _ = acceptor.join();
        }
    }
}

/// Accepts the dialer's connections until the network stops; each gets two pump threads.
fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>, from: NodeId, to: NodeId) {
    while !shared.stop.load(Ordering::Relaxed) {
        let client = match listener.accept() {
            Ok((client, _)) => client,
            Err(error) if error.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(POLL_INTERVAL);
                continue;
            }
            Err(_) => continue,
        };
        // A dropped link refuses: the dialer sees its connection closed before the handshake.
        if shared.link(from, to) == Link::Drop || shared.link(to, from) == Link::Drop {
            continue;
        }
        // A node that has not reported its port yet cannot be reached: as if it were down.
        let Some(target) = shared.target(to) else { continue };
        let Ok(server) = TcpStream::connect_timeout(&target, CONNECT_TIMEOUT) else { continue };
        if client.set_nonblocking(false).is_err() {
            continue;
        }
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let id = shared.next_connection.fetch_add(1, Ordering::Relaxed);
        let clones =
            (client.try_clone(), server.try_clone(), client.try_clone(), server.try_clone());
        let (Ok(client_copy), Ok(server_copy), Ok(client_reader), Ok(server_writer)) = clones
        else {
            continue;
        };
        lock(&shared.connections).insert(id, (from, to, client_copy, server_copy));
        let upstream = Arc::clone(shared);
        std::thread::spawn(move || pump(&upstream, client_reader, server_writer, (from, to), id));
        let downstream = Arc::clone(shared);
        std::thread::spawn(move || pump(&downstream, server, client, (to, from), id));
    }
}

/// Copies bytes from `source` to `destination` while the `direction` link passes them; closes
/// both sockets when either side closes, the link drops, or the network stops.
fn pump(
    shared: &Shared,
    mut source: TcpStream,
    mut destination: TcpStream,
    direction: (NodeId, NodeId),
    id: u64,
) {
    if source.set_read_timeout(Some(POLL_INTERVAL)).is_err() {
        let _ = destination.shutdown(Shutdown::Both);
        lock(&shared.connections).remove(&id);
        return;
    }
    let mut buffer = vec![0u8; 64 * 1024];
    while !shared.stop.load(Ordering::Relaxed) {
        match shared.link(direction.0, direction.1) {
            Link::Drop => break,
            Link::Block => {
                std::thread::sleep(POLL_INTERVAL);
                continue;
            }
            Link::Pass => {}
        }
        match source.read(&mut buffer) {
            Ok(0) => break,
            Ok(length) => {
                if destination.write_all(&buffer[..length]).is_err() {
                    break;
                }
            }
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let _ = source.shutdown(Shutdown::Both);
    let _ = destination.shutdown(Shutdown::Both);
    lock(&shared.connections).remove(&id);
}
