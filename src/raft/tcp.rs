//! The TCP transport between nodes: length-prefixed frames, a checked handshake, one
//! multiplexed connection per peer, reconnects with backoff.
//!
//! Wire format (all integers big-endian):
//! 1. The dialing node sends the 8 bytes [`MAGIC`], then a frame holding a [`Hello`]: protocol
//!    version, cluster id, its own node id, the node id it means to reach, its data
//!    directory's incarnation and a fresh challenge.
//! 2. The listening node answers with a frame holding a [`Welcome`]: [`Welcome::Prove`], its
//!    own challenge and its proof of the cluster secret, or refused with the reason. A
//!    connection that does not start with the magic, names another cluster or another node is
//!    refused and logged with the reason, so that a misconfigured peer list or a stray client
//!    on the peer port is obvious in the log.
//! 3. The dialer checks the listener's proof and answers with a [`DialerProof`]: its own proof,
//!    or why it refuses the listener. Proofs and what they cover are [`super::peer_auth`]; a
//!    node without a cluster secret sends none and admits only peers without one.
//! 4. The listener checks the dialer's proof, then its incarnation, and answers with a second
//!    [`Welcome`]: accepted with its own incarnation, refused for authentication
//!    ([`Welcome::Unauthenticated`]) or another reason, or refused because it knows the
//!    dialer's node id with another incarnation ([`Welcome::Replaced`]). The dialer checks
//!    the listener's incarnation in turn and drops a connection to a replaced member; both
//!    checks are [`super::identity::KnownPeers::check`].
//! 5. Then each side sends frames: `u32` payload length, then the `postcard` encoding of
//!    `(request id, PeerRequest)` from the dialer or `(request id, PeerResponse)` back.
//!    Responses may come in any order; the id matches them to their requests.
//!
//! Bounds: a frame longer than `peer_frame_bytes_max` closes the connection (a handshake
//! frame is bounded much lower, since nothing is trusted before it); a connection serves at
//! most [`REQUESTS_IN_FLIGHT_MAX`] requests at once and stops reading until one finishes; a
//! dialer queues at most as many frames as that before callers wait.
//!
//! Addresses: a node dials a peer at the address in its own `peers` list when the list has
//! one, and only otherwise at the address the cluster membership carries (a node added
//! later), so that a proxy placed on a link is never bypassed.
//!
//! Caveats: one connection per direction per pair of nodes, so a large snapshot chunk delays
//! the heartbeats behind it by its transfer time (chunks are 3 MiB by default).

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::logging::{Episode, Report};

use super::identity::{parse_member_address, CheckError, Incarnation, KnownPeers};
use super::peer::{BoxFuture, CallError, PeerHandler, PeerRequest, PeerResponse, Transport};
use super::peer_auth::{self, Challenge, PeerAuthentication, Proof, Role, Transcript};
use super::NodeId;

/// The first bytes of every peer connection.
pub const MAGIC: [u8; 8] = *b"CONCORD\x01";

/// The peer protocol version; a node refuses a dialer that speaks another, so that nodes of
/// different versions never misread each other's messages. Version 2: the read-index answer
/// carries the leader's time ([`super::peer::ReadPoint`]). Version 3: the handshake carries
/// both sides' data directory incarnations, and `PeerRequest::Incarnation` exists. Version 4:
/// a forwarded reply may hold `Frame::LongDouble` (GEOPOS coordinates inside an EXEC).
/// Version 5: a member's status carries its Redis client port (`NodeStatus::client_port`).
/// Version 6: a forwarded reply may hold `Frame::KeyedArrays` (XREAD and XREADGROUP).
/// Version 7: the handshake authenticates both sides ([`super::peer_auth`]).
/// Version 8: a forwarded reply may hold `Frame::BigNumber` (a script's `{big_number=...}`).
pub const PROTOCOL_VERSION: u32 = 8;

/// The longest handshake frame accepted, before the dialer is known.
const HANDSHAKE_BYTES_MAX: usize = 4096;

/// How long a dialer or a listener waits for the other side's handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// The most requests one connection has in flight; see the module doc.
pub const REQUESTS_IN_FLIGHT_MAX: usize = 1024;

/// The first and the longest wait before dialing a peer again after a failed attempt.
const BACKOFF_MIN: Duration = Duration::from_millis(20);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The dialer's introduction.
#[derive(Debug, Serialize, Deserialize)]
pub struct Hello {
    /// The dialer's `PROTOCOL_VERSION`; the listener refuses any other.
    pub protocol_version: u32,
    /// The cluster the dialer belongs to; the listener refuses another.
    pub cluster_id: String,
    /// The dialer's node id.
    pub from: NodeId,
    /// The node id the dialer means to reach; the listener refuses if it is not that node.
    pub to: NodeId,
    /// The incarnation of the dialer's data directory.
    pub incarnation: Incarnation,
    /// The dialer's challenge, fresh for this connection, which the listener's proof covers.
    pub challenge: Challenge,
}

impl Hello {
    /// What both sides' proofs cover once the listener answered with `listener_challenge`.
    /// The listener answers with a challenge only to a `Hello` that names this protocol version,
    /// its cluster and itself, so the `Hello` holds what both sides agree on.
    pub fn transcript<'a>(&'a self, listener_challenge: &'a Challenge) -> Transcript<'a> {
        Transcript {
            protocol_version: self.protocol_version,
            cluster_id: &self.cluster_id,
            from: self.from,
            to: self.to,
            dialer_challenge: &self.challenge,
            listener_challenge,
        }
    }
}

/// The listener's answer to a [`Hello`].
#[derive(Debug, Serialize, Deserialize)]
pub enum Welcome {
    /// Accepted; the listener's own incarnation follows, for the dialer to check.
    Accepted {
        /// The listener's data directory incarnation.
        incarnation: Incarnation,
    },
    /// Refused; the text says why (another cluster, node or protocol version).
    Refused(String),
    /// The listener knows the dialer's node id with another incarnation: the dialer runs on a
    /// wiped or replaced data directory and must be removed and added again.
    Replaced {
        /// The cluster in which the dialer's node id is already a member.
        cluster_id: String,
    },
    /// The listener's first answer to a well-formed `Hello`: its challenge, and its proof of
    /// the cluster secret (`None` if it has no secret).
    Prove {
        /// The listener's challenge, fresh for this connection.
        challenge: Challenge,
        /// The listener's proof for the handshake's transcript.
        proof: Option<Proof>,
    },
    /// Refused because the dialer's proof failed or the two sides disagree on having a secret;
    /// the text says which.
    Unauthenticated(String),
}

/// The dialer's answer to [`Welcome::Prove`].
#[derive(Debug, Serialize, Deserialize)]
pub enum DialerProof {
    /// The listener's proof passed: the dialer's own proof (`None` if it has no secret).
    Proof(Option<Proof>),
    /// The listener's proof failed, or the two sides disagree on having a secret.
    Refused(String),
}

/// Who this node is, as the handshake checks it, and whom it knows.
#[derive(Clone, Debug)]
pub struct Identity {
    /// The cluster this node belongs to.
    pub cluster_id: String,
    /// This node's id.
    pub node_id: NodeId,
    /// This node's data directory incarnation.
    pub incarnation: Incarnation,
    /// The incarnations recorded for peers, which a peer's handshake is checked against.
    pub known_peers: Arc<KnownPeers>,
    /// The cluster secret, if this node has one, and the count of refused proofs.
    pub authentication: Arc<PeerAuthentication>,
}

fn invalid(reason: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, reason.into())
}

/// Encodes `value` as one frame: length, then postcard bytes.
pub fn encode_frame(value: &impl Serialize) -> io::Result<Vec<u8>> {
    let mut frame = vec![0u8; 4];
    let mut frame = postcard::to_io(value, std::mem::take(&mut frame))
        .map_err(|error| invalid(format!("encoding a peer frame: {error}")))?;
    let length =
        u32::try_from(frame.len() - 4).map_err(|_| invalid("a peer frame is longer than 4 GiB"))?;
    frame[..4].copy_from_slice(&length.to_be_bytes());
    Ok(frame)
}

/// Reads one frame of at most `bytes_max` bytes and decodes it.
async fn read_frame<T: DeserializeOwned>(
    reader: &mut (impl AsyncReadExt + Unpin),
    bytes_max: usize,
    buffer: &mut Vec<u8>,
) -> io::Result<T> {
    let length = reader.read_u32().await? as usize;
    if length > bytes_max {
        return Err(invalid(format!(
            "a peer frame of {length} bytes exceeds the {bytes_max}-byte bound"
        )));
    }
    buffer.resize(length, 0);
    reader.read_exact(buffer).await?;
    decode_payload(buffer)
}

/// Decodes a frame's payload; bytes from a peer are untrusted until decoded (fuzzed by
/// `fuzz/fuzz_targets/peer_frame.rs`).
pub fn decode_payload<T: DeserializeOwned>(payload: &[u8]) -> io::Result<T> {
    postcard::from_bytes(payload)
        .map_err(|error| invalid(format!("undecodable peer frame: {error}")))
}

// ---------------------------------------------------------------------------------------------
// Dialing side.

/// The callers waiting for responses on one connection, by request id; `None` once the
/// connection closed.
type Pending = Arc<Mutex<Option<HashMap<u64, oneshot::Sender<PeerResponse>>>>>;

/// One established connection to a peer.
struct Connection {
    frames: mpsc::Sender<Vec<u8>>,
    pending: Pending,
}

impl Connection {
    fn is_closed(&self) -> bool {
        self.frames.is_closed() || self.pending.lock().is_none()
    }
}

/// The state of the link to one peer.
#[derive(Default)]
struct Link {
    connection: Option<Arc<Connection>>,
    /// No dial before this instant, after a failure.
    retry_at: Option<Instant>,
    backoff: Duration,
    last_error: String,
}

/// The TCP [`Transport`]; cheap to share (calls hold the dialer while they run).
pub struct TcpTransport {
    dialer: Arc<Dialer>,
}

/// What the TCP transport's calls share.
struct Dialer {
    identity: Identity,
    frame_bytes_max: usize,
    /// Addresses from this node's own `peers` list: always preferred.
    listed: BTreeMap<NodeId, String>,
    /// Addresses the cluster membership carries, for peers the list does not name.
    learned: RwLock<BTreeMap<NodeId, String>>,
    links: Mutex<HashMap<NodeId, Arc<tokio::sync::Mutex<Link>>>>,
    next_request_id: AtomicU64,
    /// Whether a peer's [`Welcome::Replaced`] was logged already.
    reported_replaced: std::sync::atomic::AtomicBool,
    /// The replaced incarnation last logged for each peer that presented one.
    reported_replaced_peers: Mutex<HashMap<NodeId, Incarnation>>,
    /// Per peer, the episode of failed calls going on, if any (see `crate::logging`).
    unreachable: Mutex<HashMap<NodeId, Episode>>,
}

impl TcpTransport {
    /// A transport for the node `identity` names, dialing the peers in `listed` at their
    /// listed addresses.
    pub fn new(
        identity: Identity,
        listed: BTreeMap<NodeId, String>,
        frame_bytes_max: usize,
    ) -> TcpTransport {
        let dialer = Dialer {
            identity,
            frame_bytes_max,
            listed,
            learned: RwLock::default(),
            links: Mutex::default(),
            next_request_id: AtomicU64::new(1),
            reported_replaced: std::sync::atomic::AtomicBool::new(false),
            reported_replaced_peers: Mutex::default(),
            unreachable: Mutex::default(),
        };
        TcpTransport { dialer: Arc::new(dialer) }
    }
}

impl Dialer {
    fn address_of(&self, target: NodeId) -> Option<String> {
        self.listed.get(&target).cloned().or_else(|| self.learned.read().get(&target).cloned())
    }

    fn link(&self, target: NodeId) -> Arc<tokio::sync::Mutex<Link>> {
        Arc::clone(self.links.lock().entry(target).or_default())
    }

    /// The live connection to `target`, dialing it if there is none and the backoff allows.
    async fn connection(&self, target: NodeId) -> Result<Arc<Connection>, CallError> {
        let link = self.link(target);
        let mut link = link.lock().await;
        if let Some(connection) = &link.connection {
            if !connection.is_closed() {
                return Ok(Arc::clone(connection));
            }
            link.connection = None;
        }
        let unreachable = |reason: String| CallError::Unreachable { target, reason };
        if let Some(retry_at) = link.retry_at {
            if Instant::now() < retry_at {
                return Err(unreachable(format!("waiting to redial after: {}", link.last_error)));
            }
        }
        let address = self
            .address_of(target)
            .ok_or_else(|| unreachable("no address is known for it".into()))?;
        match self.dial(target, &address).await {
            Ok(connection) => {
                let connection = Arc::new(connection);
                *link = Link { connection: Some(Arc::clone(&connection)), ..Link::default() };
                Ok(connection)
            }
            Err(error) => {
                link.backoff = (link.backoff * 2).clamp(BACKOFF_MIN, BACKOFF_MAX);
                link.retry_at = Some(Instant::now() + link.backoff);
                link.last_error = format!("dialing {address}: {error}");
                Err(unreachable(link.last_error.clone()))
            }
        }
    }

    /// Connects to `address`, checks the handshake and starts the connection's two tasks.
    async fn dial(&self, target: NodeId, address: &str) -> io::Result<Connection> {
        let handshake = async {
            let mut stream = TcpStream::connect(address).await?;
            stream.set_nodelay(true)?;
            let hello = Hello {
                protocol_version: PROTOCOL_VERSION,
                cluster_id: self.identity.cluster_id.clone(),
                from: self.identity.node_id,
                to: target,
                incarnation: self.identity.incarnation,
                challenge: peer_auth::challenge()?,
            };
            let mut bytes = MAGIC.to_vec();
            bytes.extend(encode_frame(&hello)?);
            stream.write_all(&bytes).await?;
            let mut buffer = Vec::new();
            let welcome = read_frame(&mut stream, HANDSHAKE_BYTES_MAX, &mut buffer).await?;
            let proof = self.answer_challenge(&hello, welcome)?;
            stream.write_all(&encode_frame(&proof)?).await?;
            if let DialerProof::Refused(reason) = proof {
                return Err(invalid(reason));
            }
            match read_frame(&mut stream, HANDSHAKE_BYTES_MAX, &mut buffer).await? {
                Welcome::Accepted { incarnation } => {
                    self.check_listener(target, incarnation)?;
                    Ok(stream)
                }
                Welcome::Refused(reason) => Err(invalid(format!("the peer refused us: {reason}"))),
                Welcome::Unauthenticated(reason) => {
                    self.identity.authentication.refused();
                    Err(invalid(format!("the peer refused us: {reason}")))
                }
                Welcome::Replaced { cluster_id } => {
                    Err(invalid(self.replaced(target, &cluster_id)))
                }
                Welcome::Prove { .. } => Err(invalid("the peer asked for a second proof")),
            }
        };
        let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "handshake timed out"))??;
        let (reader, writer) = stream.into_split();
        let (frames, queued) = mpsc::channel(REQUESTS_IN_FLIGHT_MAX);
        let pending = Arc::new(Mutex::new(Some(HashMap::new())));
        tokio::spawn(write_frames(writer, queued));
        tokio::spawn(read_responses(reader, Arc::clone(&pending), self.frame_bytes_max, target));
        Ok(Connection { frames, pending })
    }

    /// The dialer's answer to the listener's first [`Welcome`]: its proof if the listener's
    /// passed, the refusal to send it if not; `Err` if the listener refused the `Hello`.
    fn answer_challenge(&self, hello: &Hello, welcome: Welcome) -> io::Result<DialerProof> {
        let (challenge, proof) = match welcome {
            Welcome::Prove { challenge, proof } => (challenge, proof),
            Welcome::Refused(reason) => {
                return Err(invalid(format!("the peer refused us: {reason}")));
            }
            other => return Err(invalid(format!("the peer answered {other:?} before a proof"))),
        };
        let transcript = hello.transcript(&challenge);
        let authentication = &self.identity.authentication;
        Ok(match authentication.check(Role::Listener, &transcript, proof.as_ref()) {
            Ok(()) => DialerProof::Proof(authentication.prove(Role::Dialer, &transcript)),
            Err(reason) => DialerProof::Refused(reason),
        })
    }

    /// Checks the incarnation a listener answered with: a replaced member is never talked to.
    fn check_listener(&self, target: NodeId, incarnation: Incarnation) -> io::Result<()> {
        match self.identity.known_peers.check(target, incarnation) {
            Ok(()) => Ok(()),
            Err(CheckError::Replaced(replaced)) => {
                // Once per incarnation: the dialer tries again every second until an operator
                // acts, and the failed calls are counted by `observe` anyway.
                let mut reported = self.reported_replaced_peers.lock();
                if reported.insert(target, incarnation) != Some(incarnation) {
                    tracing::warn!(peer = target, "not talking to node {target}: {replaced}");
                }
                Err(invalid(format!("refused node {target}: {replaced}")))
            }
            Err(CheckError::Storage(error)) => {
                Err(invalid(format!("recording node {target}'s incarnation failed: {error}")))
            }
        }
    }

    /// The message for a peer's answer that this node's directory is not the member's; logged
    /// as an error once, since nothing but an operator can end it.
    fn replaced(&self, target: NodeId, cluster_id: &str) -> String {
        let node_id = self.identity.node_id;
        let message = format!(
            "this node's data directory is new but node {node_id} is already a member of \
             cluster {cluster_id:?} with another data directory (node {target} says so); remove \
             it with CONCORD.REMOVENODE {node_id} and add it again with CONCORD.ADDNODE"
        );
        if !self.reported_replaced.swap(true, Ordering::Relaxed) {
            tracing::error!("{message}");
        }
        message
    }

    async fn call_once(
        &self,
        target: NodeId,
        request: PeerRequest,
    ) -> Result<PeerResponse, CallError> {
        let connection = self.connection(target).await?;
        let id = self.next_request_id.fetch_add(1, Ordering::Relaxed);
        let frame = encode_frame(&(id, &request))
            .map_err(|error| CallError::Unreachable { target, reason: error.to_string() })?;
        let (sender, receiver) = oneshot::channel();
        match connection.pending.lock().as_mut() {
            Some(pending) => pending.insert(id, sender),
            None => {
                return Err(CallError::Unreachable { target, reason: "connection closed".into() })
            }
        };
        let lost = |reason: &str| CallError::Lost { target, reason: reason.to_string() };
        if connection.frames.send(frame).await.is_err() {
            return Err(lost("the connection closed while sending"));
        }
        receiver.await.map_err(|_| lost("the connection closed before the answer"))
    }

    /// Logs the episodes of failed calls to `target`: its first failure, a reminder while it
    /// lasts, and its end with the count (an unreachable peer is an expected fault, not an
    /// error).
    fn observe(&self, target: NodeId, result: &Result<PeerResponse, CallError>) {
        let now = Instant::now();
        let mut unreachable = self.unreachable.lock();
        let episode = unreachable.entry(target).or_default();
        match result {
            Ok(_) => {
                if let Some(report) = episode.recovered(now) {
                    let summary = report.summary();
                    tracing::warn!(
                        peer = target,
                        "node {target} answers again: calls to it failed {summary}"
                    );
                }
            }
            Err(error) => match episode.fault(now) {
                Some(Report::Began) => {
                    tracing::warn!(peer = target, %error, "cannot reach node {target}")
                }
                Some(report) => {
                    let summary = report.summary();
                    tracing::warn!(peer = target, %error, "cannot reach node {target}: failed {summary}");
                }
                None => {}
            },
        }
    }
}

impl Transport for TcpTransport {
    fn call(
        &self,
        target: NodeId,
        request: PeerRequest,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<PeerResponse, CallError>> {
        let dialer = Arc::clone(&self.dialer);
        Box::pin(async move {
            let result = tokio::time::timeout(timeout, dialer.call_once(target, request))
                .await
                .unwrap_or_else(|_| {
                    Err(CallError::Lost { target, reason: format!("no answer in {timeout:?}") })
                });
            dialer.observe(target, &result);
            result
        })
    }

    fn learn_address(&self, target: NodeId, stored: &str) {
        let (address, incarnation) = parse_member_address(stored);
        // The membership names this node too; its own incarnation is in IDENTITY, not PEERS.
        let is_peer = target != self.dialer.identity.node_id;
        if let (Some(incarnation), true) = (incarnation, is_peer) {
            if let Err(error) = self.dialer.identity.known_peers.learn(target, incarnation) {
                tracing::error!(peer = target, %error, "recording node {target}'s incarnation");
            }
        }
        if !self.dialer.listed.contains_key(&target) && !address.is_empty() {
            self.dialer.learned.write().insert(target, address.to_string());
        }
    }

    fn forget_incarnation(&self, target: NodeId) -> crate::error::Result<()> {
        self.dialer.identity.known_peers.forget(target)
    }

    fn refused_as_replaced(&self) -> bool {
        self.dialer.reported_replaced.load(Ordering::Relaxed)
    }
}

/// Writes queued frames, flushing whenever the queue runs empty (many small frames share one
/// system call under load).
async fn write_frames(writer: OwnedWriteHalf, mut queued: mpsc::Receiver<Vec<u8>>) {
    let mut writer = BufWriter::with_capacity(64 * 1024, writer);
    while let Some(frame) = queued.recv().await {
        if writer.write_all(&frame).await.is_err() {
            return;
        }
        if queued.is_empty() && writer.flush().await.is_err() {
            return;
        }
    }
}

/// Hands each response to its caller; on any error, fails every pending call as lost.
async fn read_responses(
    reader: OwnedReadHalf,
    pending: Pending,
    frame_bytes_max: usize,
    target: NodeId,
) {
    let mut reader = tokio::io::BufReader::with_capacity(64 * 1024, reader);
    let mut buffer = Vec::new();
    let error = loop {
        match read_frame::<(u64, PeerResponse)>(&mut reader, frame_bytes_max, &mut buffer).await {
            Ok((id, response)) => {
                let waiter = pending.lock().as_mut().and_then(|pending| pending.remove(&id));
                if let Some(waiter) = waiter {
                    let _ = waiter.send(response);
                }
            }
            Err(error) => break error,
        }
    };
    if error.kind() != io::ErrorKind::UnexpectedEof {
        tracing::info!(peer = target, %error, "peer connection closed");
    }
    // Dropping the senders tells every waiting caller that its answer is lost.
    pending.lock().take();
}

// ---------------------------------------------------------------------------------------------
// Listening side.

/// Accepts peer connections until the process ends, answering each request with `handler`.
pub async fn serve(
    listener: TcpListener,
    identity: Identity,
    handler: PeerHandler,
    frame_bytes_max: usize,
) {
    loop {
        let (stream, address) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accepting a peer connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let identity = identity.clone();
        let handler = handler.clone();
        tokio::spawn(async move {
            match accept(stream, &identity).await {
                Ok((stream, from)) => {
                    tracing::debug!(peer = from, %address, "peer connected");
                    serve_connection(stream, handler, frame_bytes_max).await;
                }
                Err(reason) => {
                    tracing::warn!(%address, %reason, "refused a connection on the peer port");
                }
            }
        });
    }
}

/// Checks the dialer's magic and [`Hello`]; answers [`Welcome`].
async fn accept(mut stream: TcpStream, identity: &Identity) -> Result<(TcpStream, NodeId), String> {
    let handshake = async {
        let mut magic = [0u8; 8];
        stream.read_exact(&mut magic).await.map_err(|error| format!("no handshake: {error}"))?;
        if magic != MAGIC {
            return Err(format!(
                "not a Concord peer: it began with {:?}",
                String::from_utf8_lossy(&magic)
            ));
        }
        let mut buffer = Vec::new();
        let hello: Hello = match read_frame(&mut stream, HANDSHAKE_BYTES_MAX, &mut buffer).await {
            Ok(hello) => hello,
            Err(error) => {
                let reason = undecodable_hello(&buffer, error);
                // `Refused` has the same place and shape in every version's `Welcome`, so a
                // dialer of another version learns why too.
                if let Ok(frame) = encode_frame(&Welcome::Refused(reason.clone())) {
                    let _ = stream.write_all(&frame).await;
                }
                return Err(reason);
            }
        };
        let refusal = if hello.protocol_version != PROTOCOL_VERSION {
            Some(format!(
                "node {} speaks peer protocol {}, this node speaks {PROTOCOL_VERSION}",
                hello.from, hello.protocol_version
            ))
        } else if hello.cluster_id != identity.cluster_id {
            Some(format!(
                "node {} belongs to cluster {:?}, this node to cluster {:?}",
                hello.from, hello.cluster_id, identity.cluster_id
            ))
        } else if hello.to != identity.node_id {
            Some(format!(
                "node {} meant to reach node {}, but this is node {} (check its peers list)",
                hello.from, hello.to, identity.node_id
            ))
        } else {
            None
        };
        // A refused dialer may have closed already; the refusal is logged here either way.
        if let Some(reason) = refusal {
            let _ = send(&mut stream, &Welcome::Refused(reason.clone())).await;
            return Err(reason);
        }
        if let Err(reason) = authenticate(&mut stream, &hello, identity, &mut buffer).await {
            let _ = send(&mut stream, &Welcome::Unauthenticated(reason.clone())).await;
            return Err(reason);
        }
        let welcome = check_dialer(&hello, identity)
            .unwrap_or(Welcome::Accepted { incarnation: identity.incarnation });
        send(&mut stream, &welcome).await?;
        match welcome {
            Welcome::Accepted { .. } => Ok(hello.from),
            Welcome::Refused(reason) | Welcome::Unauthenticated(reason) => Err(reason),
            Welcome::Replaced { .. } => Err(format!(
                "node {} presents another data directory than the one this node knows for it \
                 (incarnation {:016x}, known {:016x}); remove it with CONCORD.REMOVENODE {} and \
                 add it again with CONCORD.ADDNODE",
                hello.from,
                hello.incarnation,
                identity.known_peers.get(hello.from).unwrap_or_default(),
                hello.from
            )),
            Welcome::Prove { .. } => unreachable!("check_dialer answers no challenge"),
        }
    };
    let from = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
        .await
        .map_err(|_| "the handshake timed out".to_string())??;
    stream.set_nodelay(true).map_err(|error| error.to_string())?;
    Ok((stream, from))
}

/// Sends one handshake frame.
async fn send(stream: &mut TcpStream, welcome: &Welcome) -> Result<(), String> {
    let frame = encode_frame(welcome).map_err(|error| error.to_string())?;
    stream.write_all(&frame).await.map_err(|error| error.to_string())
}

/// The listener's side of the challenge-response ([`super::peer_auth`]): sends its challenge
/// and proof, reads the dialer's answer and checks it. `Err` holds why the dialer is refused
/// (or why it refused this node).
async fn authenticate(
    stream: &mut TcpStream,
    hello: &Hello,
    identity: &Identity,
    buffer: &mut Vec<u8>,
) -> Result<(), String> {
    let challenge = peer_auth::challenge().map_err(|error| error.to_string())?;
    let transcript = hello.transcript(&challenge);
    let authentication = &identity.authentication;
    let proof = authentication.prove(Role::Listener, &transcript);
    send(stream, &Welcome::Prove { challenge, proof }).await?;
    let answer = read_frame(stream, HANDSHAKE_BYTES_MAX, buffer)
        .await
        .map_err(|error| format!("node {} sent no proof: {error}", hello.from))?;
    match answer {
        DialerProof::Proof(proof) => {
            authentication.check(Role::Dialer, &transcript, proof.as_ref())
        }
        DialerProof::Refused(reason) => {
            authentication.refused();
            Err(format!("node {} refused this node: {reason}", hello.from))
        }
    }
}

/// Why a dialer's [`Hello`] did not decode: a dialer of another protocol version sends another
/// shape, but every version's `Hello` begins with the version, so that is named when it differs.
fn undecodable_hello(payload: &[u8], error: io::Error) -> String {
    match postcard::take_from_bytes::<u32>(payload) {
        Ok((version, _)) if version != PROTOCOL_VERSION => {
            format!(
                "the dialer speaks peer protocol {version}, this node speaks {PROTOCOL_VERSION}"
            )
        }
        _ => format!("bad handshake: {error}"),
    }
}

/// The refusal of an otherwise well-formed [`Hello`] whose incarnation is not the one this
/// node knows for the dialer.
fn check_dialer(hello: &Hello, identity: &Identity) -> Option<Welcome> {
    match identity.known_peers.check(hello.from, hello.incarnation) {
        Ok(()) => None,
        Err(CheckError::Replaced(_)) => {
            Some(Welcome::Replaced { cluster_id: identity.cluster_id.clone() })
        }
        Err(CheckError::Storage(error)) => Some(Welcome::Refused(format!(
            "node {} could not record the dialer's incarnation: {error}",
            identity.node_id
        ))),
    }
}

/// Reads requests and answers each on its own task, at most [`REQUESTS_IN_FLIGHT_MAX`] at once.
async fn serve_connection(stream: TcpStream, handler: PeerHandler, frame_bytes_max: usize) {
    let (reader, writer) = stream.into_split();
    let (frames, queued) = mpsc::channel(REQUESTS_IN_FLIGHT_MAX);
    tokio::spawn(write_frames(writer, queued));
    let in_flight = Arc::new(Semaphore::new(REQUESTS_IN_FLIGHT_MAX));
    let mut reader = tokio::io::BufReader::with_capacity(64 * 1024, reader);
    let mut buffer = Vec::new();
    loop {
        let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else { return };
        let (id, request) =
            match read_frame::<(u64, PeerRequest)>(&mut reader, frame_bytes_max, &mut buffer).await
            {
                Ok(message) => message,
                Err(error) => {
                    if error.kind() != io::ErrorKind::UnexpectedEof {
                        tracing::info!(%error, "closing a peer connection");
                    }
                    return;
                }
            };
        let handler = handler.clone();
        let frames = frames.clone();
        tokio::spawn(async move {
            let response = handler.handle(request).await;
            match encode_frame(&(id, response)) {
                Ok(frame) => {
                    let _ = frames.send(frame).await;
                }
                Err(error) => tracing::error!(%error, "could not encode a peer response"),
            }
            drop(permit);
        });
    }
}
