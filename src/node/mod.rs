//! The node: where consensus, the state machine and the read path meet.
//!
//! Front ends (the Redis server, Maelstrom's lin-kv) talk to a [`Node`] only: they submit
//! writes with [`Node::write`] and get replies once the writes were committed and applied, and
//! they obtain read views with [`Node::read_view`]. Nothing above this module knows openraft.
//! With several members, writes and reads are routed to the leader (`routing`); the pipeline
//! below runs on the leader.
//!
//! The files, each with one job; imports between them go one way (`membership` uses
//! `routing`; no sibling imports back):
//! - `routing`: [`Node::write`], [`Node::read_view`], read rounds, leader retry, forwarding;
//! - `pipeline`: the commit pipeline below, from `Node::propose`'s queue to the replies;
//! - `membership`: adding, removing and transferring, every member's status;
//! - `background`: the log-size snapshot trigger and active expiry;
//! - `deliveries`: pub/sub messages and deferred replies of blocking commands.
//!
//! The commit pipeline, as a loop with numbered steps:
//! 1. Wait until the previous entry is flushed (openraft was told it is durable), then for at
//!    least one proposal (a connection's run of pipelined writes), then take every proposal
//!    already waiting, up to `entry_proposals_max`: group commit. Nobody waits for a timer;
//!    openraft 0.9 appends one entry at a time and waits for its fsync, so forming the next
//!    entry only when the previous one is durable makes it carry every write that arrived
//!    during that fsync, and the batch grows with the number of clients.
//! 2. Register the proposals' reply channels under a fresh ticket and stamp them with the
//!    node's clock (`leader_time_ms`) into one [`Entry`](crate::state_machine::Entry).
//! 3. Hand the entry to openraft (`client_write`), which appends it to the write-ahead log,
//!    waits for the log thread's fsync, commits it and applies it to the state machine.
//! 4. Apply hands the replies to the proposals waiting under the ticket, in order, as soon as
//!    the entry is applied ([`raft::DeliverReplies`]); openraft's own reply is the fallback,
//!    and carries errors. At most `ENTRIES_IN_FLIGHT_MAX` entries are between steps 2 and 4 at
//!    once, so applying and answering entries overlaps making the next one durable.
//!
//! Reads are linearizable through a read index: [`Node::read_view`] joins the next read round
//! (`routing`), in which the leader confirms its leadership with a quorum and names the index
//! a read must observe and its own time (a lone node needs no network for it), waits until
//! this node applied it, and reads on a view at or after it, judging expiry by the leader's
//! time. A reader whose view is too old publishes a new one (O(1)) and raises a flag
//! that makes apply publish after each batch while readers keep coming.
//!
//! Active expiry runs beside the pipeline: every `active_expire_interval_ms` it looks in the
//! live keyspace's expiry index for keys whose deadline passed by the node's clock and
//! proposes their deletion as an ordinary write, bounded per cycle. Apply deletes only keys
//! that have expired by the entry's time, so the proposer's clock never decides what exists on
//! a replica.
//!
//! Snapshots are triggered here: when the log grew by `snapshot_log_bytes` since the last one,
//! and by [`Node::save`] / [`Node::background_save`] (SAVE, BGSAVE).
//!
//! A full disk (see `raft::log_store`): while the log thread waits for space to append an
//! entry, openraft's core waits with it, so the node works around openraft rather than
//! through it:
//! - new writes are refused with [`NodeError::DiskFull`] (Redis's `MISCONF`) before they are
//!   proposed, in [`Node::write`] and again in the pipeline for those already queued;
//! - the writes of the entry that is waiting get "outcome unknown": they are applied once
//!   space is back, unless the node is restarted first;
//! - a lone node serves reads at its applied index without a read round (which would wait
//!   for the core): nothing can commit without its log, and every acknowledged write was
//!   applied before it was acknowledged, so that index covers every write a read must see.
//!   A cluster member whose log waits fails its reads at once (it cannot apply what the
//!   others commit); reads through members that can write succeed. A leader whose log waits
//!   sends no heartbeats (its core waits too), so the others elect a member that can write;
//! - SAVE and BGSAVE are refused (the snapshot would need the core and the disk), and
//!   [`Node::storage_status`] reports the condition for INFO and `concord status`.
//!
//! Writes are accepted again as soon as the log thread's retried append is durable.
//!
//! Errors follow the definite/indefinite rule: [`NodeError::Stopped`],
//! [`NodeError::NotLeader`], [`NodeError::Unavailable`], [`NodeError::Refused`] and
//! [`NodeError::DiskFull`] mean the write was not applied; [`NodeError::OutcomeUnknown`] and
//! [`NodeError::StorageFailed`] mean it may or may not have been; [`NodeError::is_definite`]
//! says which, and every caller that splits errors so asks it.

mod background;
mod membership;
mod pipeline;
mod routing;
mod deliveries;
mod time;

pub use deliveries::{Delivery, Mailbox, ServedReply, SubscriptionKind, TooManySubscriptions};

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, watch};

use crate::command::blocking::BlockingWrite;
use crate::command::pubsub::{SubscriberId, SubscriptionWrite};
use crate::command::Write;
use crate::config::{Config, FsyncMode};
use crate::error::{Error, Result};
pub use crate::raft::peer::{AdminRequest, NodeStatus};
use crate::raft::peer::{BoxFuture, NodeService, PeerHandler, Transport};
use crate::raft::tcp::{self, Identity, TcpTransport};
pub use crate::raft::NodeError;
use crate::raft::{self, LogFigures, Raft, SharedState};
use crate::resp::Frame;
use crate::state_machine::{LogIndex, Subscriptions, View, WriteRequest};

/// Proposes the removal of the subscriptions of every connection cut off for overflowing
/// its message queue, as soon as it is cut off: from then on it receives nothing, so PUBLISH
/// must stop counting it (Redis frees such a client at once).
/// Ends when openraft stops.
async fn forget_cut_off_subscribers(node: Node) {
    let mut metrics = node.raft.metrics();
    loop {
        tokio::select! {
            cut_off = node.deliveries.cut_off() => {
                for subscriber in cut_off {
                    node.forget_subscriber(subscriber);
                }
            }
            changed = metrics.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

/// How long a closed connection's failed unsubscribe waits before it is proposed again.
const FORGET_SUBSCRIBER_RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// How long a shutdown waits for openraft's core while the log waits for disk space: the
/// core waits with it and would never stop. Every acknowledged write is durable already.
const SHUTDOWN_WAIT_ON_FULL_DISK: Duration = Duration::from_secs(2);

/// The state of the node's storage, for INFO and `concord status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageStatus {
    /// The log is written and synced as usual.
    Ok,
    /// The disk is full: writes are refused until an append succeeds again. The text is the
    /// error, naming the file.
    DiskFull(String),
    /// The log failed (a failed fsync, say) and the node is stopping.
    Failed(String),
}

impl StorageStatus {
    /// The word INFO and `concord status` show: `ok`, `disk-full` or `failed`.
    pub fn name(&self) -> &'static str {
        match self {
            StorageStatus::Ok => "ok",
            StorageStatus::DiskFull(_) => "disk-full",
            StorageStatus::Failed(_) => "failed",
        }
    }
}

/// A view to read from, with the time reads on it use for expiry.
#[derive(Clone, Debug)]
pub struct ReadView {
    /// The state at or after the read index.
    pub view: Arc<View>,
    /// The leader's time as the read round brought it, advanced by this node's monotonic
    /// clock since; never earlier than the view's entry time (see `routing`).
    pub now_ms: u64,
}

/// What INFO persistence and LASTSAVE report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersistenceStatus {
    /// When the log is synced to disk (`fsync` in the configuration).
    pub fsync: FsyncMode,
    /// The last log index this node applied.
    pub applied_index: LogIndex,
    /// The last log index the newest snapshot covers.
    pub snapshot_index: LogIndex,
    /// When the last snapshot was written or loaded (LASTSAVE); 0 if none.
    pub last_save_unix_seconds: u64,
    /// Snapshots this process wrote.
    pub saves: u64,
    /// Whether a snapshot is being written now.
    pub snapshot_in_progress: bool,
    /// Whether the last snapshot attempt failed.
    pub last_snapshot_failed: bool,
    /// How long the last snapshot took to write, in milliseconds.
    pub last_snapshot_duration_ms: u64,
    /// How many keys the last snapshot holds.
    pub last_snapshot_keys: u64,
    /// The last snapshot file's size, in bytes.
    pub last_snapshot_bytes: u64,
    /// Log bytes appended since the newest snapshot (what triggers the next one).
    pub log_bytes_since_snapshot: u64,
}

/// What routing to the leader needs: this node's id, the transport to its peers, the waits,
/// and the read rounds (see `routing`).
struct Routing {
    id: raft::NodeId,
    /// Whether other members existed at start (or may be added): writes and reads are then
    /// routed to the leader, and a proposal waits for its commit at most `commit_wait`. A lone
    /// node that gains members later has peers from then on (see `Node::has_peers`).
    had_peers_at_start: bool,
    transport: Arc<dyn Transport>,
    leader_wait: Duration,
    commit_wait: Duration,
    read_rounds: mpsc::Sender<routing::ReadWaiter>,
    /// Raised while this leader hands its leadership over: it proposes nothing and runs no
    /// read round, since both would renew the followers' leases and make them refuse the
    /// target's vote. Requests wait, within `leader_wait`, for the new leader.
    transferring: std::sync::atomic::AtomicBool,
    /// The times this node hands out and reads at (see `time`).
    time: Arc<time::Time>,
}

/// A handle on the running node; cheap to clone, one per connection.
#[derive(Clone)]
pub struct Node {
    routing: Arc<Routing>,
    proposals: mpsc::Sender<pipeline::PendingWrite>,
    raft: Raft,
    shared: Arc<SharedState>,
    log_figures: Arc<LogFigures>,
    fatal: watch::Receiver<Option<String>>,
    /// Raised while the log waits for disk space (see the module doc).
    disk_full: watch::Receiver<Option<String>>,
    fsync: FsyncMode,
    started_unix_seconds: u64,
    /// Routes applied entries' outputs (messages, served waiters) to this node's connections.
    deliveries: Arc<deliveries::Deliveries>,
    /// The incarnation of this node's data directory (`raft::identity`).
    incarnation: raft::identity::Incarnation,
    /// The port this node serves Redis clients on (0 without a listener), which members
    /// report to each other so that a follower can name its leader's (`raft::NodeStatus`).
    client_port: u16,
    data_directory: Arc<raft::DataDirectory>,
    /// The peer handshake's authentication, on a node with a peer port.
    peer_authentication: Option<Arc<raft::peer_auth::PeerAuthentication>>,
}

impl Node {
    /// Opens the data directory, recovers the newest snapshot and the log tail, becomes the
    /// leader of its one-member cluster, and starts the commit pipeline, snapshot trigger and
    /// active expiry on the current Tokio runtime. Returns once every recovered entry is
    /// applied, so the first read sees everything acknowledged before the restart.
    pub async fn start(config: &Config) -> Result<Node> {
        let peer_listener = Node::bind_peer_listener(config).await?;
        Node::start_on(config, peer_listener).await
    }

    /// Binds the peer port of a node with peers (`None` for a node that runs alone).
    /// Called before anything else starts, so that a taken port fails the start at once and
    /// before the data directory is opened.
    pub async fn bind_peer_listener(config: &Config) -> Result<Option<tokio::net::TcpListener>> {
        if !config.has_peer_port() {
            return Ok(None);
        }
        let address = std::net::SocketAddr::new(config.bind, config.peer_listen_port()?);
        let listener =
            tokio::net::TcpListener::bind(address).await.map_err(|source| Error::Bind {
                address: format!("the peer port {address}"),
                hint: if source.kind() == std::io::ErrorKind::AddrInUse {
                    "; another process uses this port, choose another one with --peer-port"
                } else {
                    ""
                },
                source,
            })?;
        Ok(Some(listener))
    }

    /// [`Node::start`] with the peer listener already bound: peers are served on it over TCP.
    pub async fn start_on(
        config: &Config,
        peer_listener: Option<tokio::net::TcpListener>,
    ) -> Result<Node> {
        let (directory, stored) = raft::open_data_directory(config)?;
        let identity = tcp_identity(config, &directory, &stored)?;
        let transport: Arc<dyn Transport> = if !config.has_peer_port() {
            Arc::new(raft::network::NoPeers)
        } else {
            let listed = config.peers.clone();
            Arc::new(TcpTransport::new(identity.clone(), listed, config.peer_frame_bytes_max))
        };
        let listener = peer_listener.map(|listener| (listener, identity));
        Node::start_in(config, directory, stored, transport, listener).await
    }

    /// [`Node::start`] on a given transport (the Maelstrom adapter and the in-process test
    /// network bring their own); with a listener, TCP peers are served on it.
    pub async fn start_with_transport(
        config: &Config,
        transport: Arc<dyn Transport>,
        peer_listener: Option<tokio::net::TcpListener>,
    ) -> Result<Node> {
        let (directory, stored) = raft::open_data_directory(config)?;
        let listener = match peer_listener {
            Some(listener) => Some((listener, tcp_identity(config, &directory, &stored)?)),
            None => None,
        };
        Node::start_in(config, directory, stored, transport, listener).await
    }

    /// Starts the node on its opened data directory.
    async fn start_in(
        config: &Config,
        directory: raft::DataDirectory,
        stored: raft::StoredIdentity,
        transport: Arc<dyn Transport>,
        peer_listener: Option<(tokio::net::TcpListener, Identity)>,
    ) -> Result<Node> {
        let started_unix_seconds = unix_seconds();
        let waiting: pipeline::Waiting = Arc::default();
        let deliver = pipeline::deliver_replies(Arc::clone(&waiting));
        let opened = raft::open(config, directory, deliver, Arc::clone(&transport)).await?;
        let has_peers = config.lists_peers() || !opened.sole_voter;
        if !has_peers {
            wait_until_recovered(&opened.raft, config.node_id, opened.recovery_target).await?;
        }
        let (proposals, receiver) = mpsc::channel(config.proposal_queue_max);
        let (read_rounds, read_waiters) = mpsc::channel(routing::READ_WAITERS_MAX);
        // The start time names this run of the node in the replicated waiter table.
        let deliveries = Arc::new(deliveries::Deliveries::new(
            config.node_id,
            clock_ms(),
            config.subscriber_queue_messages_max,
            config.subscriptions_max,
        ));
        opened.shared.set_output_sink(Arc::clone(&deliveries) as _);
        let disk_full = opened.log_figures.disk_full.subscribe();
        let time = Arc::new(time::Time::new(opened.shared.progress.term_start.subscribe()));
        let node = Node {
            routing: Arc::new(Routing {
                id: config.node_id,
                had_peers_at_start: has_peers,
                transport,
                leader_wait: Duration::from_millis(config.leader_wait_ms),
                commit_wait: Duration::from_millis(config.commit_wait_ms),
                read_rounds,
                transferring: std::sync::atomic::AtomicBool::new(false),
                time: Arc::clone(&time),
            }),
            proposals,
            raft: opened.raft.clone(),
            shared: opened.shared,
            log_figures: opened.log_figures,
            fatal: opened.fatal,
            disk_full,
            fsync: config.fsync,
            started_unix_seconds,
            deliveries,
            incarnation: stored.incarnation,
            client_port: config.port,
            data_directory: Arc::new(opened.data_directory),
            peer_authentication: peer_listener
                .as_ref()
                .map(|(_, identity)| Arc::clone(&identity.authentication)),
        };
        node.spawn_tasks(config, opened.raft, receiver, waiting, read_waiters, peer_listener);
        if has_peers {
            tokio::spawn({
                let node = node.clone();
                async move { node.forget_earlier_runs().await }
            });
        } else {
            node.forget_earlier_runs().await;
        }
        tokio::spawn(background::run_active_expiry(
            node.clone(),
            Duration::from_millis(config.active_expire_interval_ms),
            config.active_expire_keys_per_cycle,
        ));
        Ok(node)
    }

    /// Starts the node's own tasks: the commit pipeline, read rounds, membership upkeep, the
    /// peer listener if there is one, and the snapshot trigger.
    fn spawn_tasks(
        &self,
        config: &Config,
        raft: Raft,
        proposals: mpsc::Receiver<pipeline::PendingWrite>,
        waiting: pipeline::Waiting,
        read_waiters: mpsc::Receiver<routing::ReadWaiter>,
        peer_listener: Option<(tokio::net::TcpListener, Identity)>,
    ) {
        let flushed = self.log_figures.flushed_ticket.subscribe();
        tokio::spawn(pipeline::run_pipeline(
            raft,
            proposals,
            config.entry_proposals_max,
            waiting,
            pipeline::Signals {
                flushed,
                disk_full: self.disk_full.clone(),
                data_directory: self.data_directory.path().display().to_string(),
                time: Arc::clone(&self.routing.time),
                term_wait: self.routing.leader_wait,
            },
        ));
        tokio::spawn(routing::run_read_rounds(self.clone(), read_waiters));
        tokio::spawn(forget_cut_off_subscribers(self.clone()));
        tokio::spawn(membership::learn_member_addresses(self.clone()));
        if self.routing.had_peers_at_start {
            tokio::spawn(membership::report_leadership(self.clone()));
            tokio::spawn(membership::meet_members(self.clone()));
        }
        if let Some((listener, identity)) = peer_listener {
            let handler = PeerHandler::new(self.raft.clone(), Arc::new(self.clone()));
            tokio::spawn(tcp::serve(listener, identity, handler, config.peer_frame_bytes_max));
        }
        tokio::spawn(background::run_snapshot_trigger(self.clone(), config.snapshot_log_bytes));
    }

    /// The handler of requests from peers, for a transport that delivers them itself.
    pub fn peer_handler(&self) -> PeerHandler {
        PeerHandler::new(self.raft.clone(), Arc::new(self.clone()))
    }

    /// Clients blocked or subscribed through an earlier run of this node lost their
    /// connections with it: remove them from the replicated waiter and subscriber tables, so
    /// that no push is given to them and no PUBLISH counts them.
    async fn forget_earlier_runs(&self) {
        let waiter = self.deliveries.waiter(0);
        let (node, incarnation) = (waiter.node, waiter.incarnation);
        let writes = vec![
            WriteRequest {
                db: 0,
                write: Write::Blocking(BlockingWrite::ForgetEarlierRuns { node, incarnation }),
            },
            WriteRequest {
                db: 0,
                write: Write::Subscriptions(SubscriptionWrite::ForgetEarlierRuns {
                    node,
                    incarnation,
                }),
            },
        ];
        // In a cluster the leader may not be known yet: keep trying until it is.
        loop {
            match self.write(writes.clone()).await {
                Ok(_) => return,
                Err(NodeError::Unavailable(_)) if self.has_peers() => {
                    tokio::time::sleep(Duration::from_secs(1)).await
                }
                Err(error) => {
                    tracing::warn!(%error, "could not forget the blocked clients of earlier runs");
                    return;
                }
            }
        }
    }

    /// Registers connection `connection` for messages and for the deferred replies served to
    /// `waiter_number` (see `deliveries`); dropping the mailbox unregisters it.
    pub fn mailbox(&self, connection: u64, waiter_number: u64) -> Mailbox {
        self.deliveries.open(connection, waiter_number)
    }

    /// The name connection `connection` of this run of the node has as a blocked client.
    pub fn waiter(&self, connection: u64) -> crate::state_machine::WaiterId {
        self.deliveries.waiter(connection)
    }

    /// PUBSUB CHANNELS, NUMSUB and NUMPAT: `question` on the replicated subscriber table,
    /// after a read round, so that every member answers for the whole cluster and the answer
    /// includes every subscription confirmed before the command arrived.
    pub async fn pubsub_query<T>(
        &self,
        question: impl FnOnce(&Subscriptions) -> T,
    ) -> Result<T, NodeError> {
        self.read_view().await?;
        Ok(self.shared.with_subscriptions(question))
    }

    /// A connection with subscriptions went away (closed, killed, cut off): proposes their
    /// removal from the replicated table in the background, again every second while it
    /// fails (no leader, outcome unknown; a second removal does nothing), until it is applied
    /// or the node stops. A node that stops before leaves them to its next start
    /// (`forget_earlier_runs`).
    pub fn forget_subscriber(&self, subscriber: SubscriberId) {
        let node = self.clone();
        tokio::spawn(async move {
            let write = Write::Subscriptions(SubscriptionWrite::UnsubscribeAll { subscriber });
            loop {
                match node.write(vec![WriteRequest { db: 0, write: write.clone() }]).await {
                    Ok(_) | Err(NodeError::Stopped) => return,
                    Err(error) => {
                        tracing::debug!(%error, client = subscriber.connection,
                            "could not remove a closed connection's subscriptions yet");
                        tokio::time::sleep(FORGET_SUBSCRIBER_RETRY_INTERVAL).await;
                    }
                }
            }
        });
    }

    /// The newest view this node published, without a read round: it may be behind the
    /// cluster, so it only serves hints (where to run an FCALL), never a read's reply.
    pub fn latest_view(&self) -> Arc<crate::state_machine::View> {
        self.shared.views.load()
    }

    /// The ACL users as of the newest applied entry that changed them.
    pub fn users(&self) -> &crate::state_machine::UsersHandle {
        &self.shared.users
    }

    /// How this node's peer handshakes authenticate: `None` without a peer port, else whether
    /// it has a cluster secret and how many handshakes failed authentication.
    pub fn peer_authentication(&self) -> Option<(bool, u64)> {
        let authentication = self.peer_authentication.as_ref()?;
        Some((authentication.has_secret(), authentication.refusals()))
    }

    /// The index of the newest applied entry.
    pub fn applied_index(&self) -> LogIndex {
        self.shared.progress.applied_index.load(Ordering::Acquire)
    }

    /// SAVE: takes a snapshot of everything applied now and returns once it is durable (and
    /// the log below it removed).
    /// A snapshot that fails (a full disk) is an error for the caller only: the node goes on.
    pub async fn save(&self) -> Result<(), NodeError> {
        let target = self.applied_index();
        let persistence = &self.shared.persistence;
        let failures = persistence.failures.load(Ordering::Relaxed);
        // Three watches say everything SAVE waits for: an attempt ended (written, failed or
        // installed), openraft took in a new snapshot (only then does it take a new trigger,
        // since it ignores one while it builds), or the disk filled.
        let mut ended = persistence.attempts_ended.subscribe();
        let mut metrics = self.raft.metrics();
        let mut disk_full = self.disk_full.clone();
        loop {
            if persistence.snapshot_index.load(Ordering::Relaxed) >= target {
                return Ok(());
            }
            if let Some(error) = self.disk_full_error() {
                return Err(NodeError::SnapshotFailed(error.to_string()));
            }
            if persistence.failures.load(Ordering::Relaxed) != failures {
                let reason = persistence.last_error.lock().clone();
                return Err(NodeError::SnapshotFailed(reason));
            }
            if !persistence.in_progress.load(Ordering::Relaxed) {
                // Harmless if openraft is building already: it ignores the trigger, and the
                // end of that build wakes this loop to ask again.
                self.raft.trigger().snapshot().await.map_err(fatal_error)?;
            }
            tokio::select! {
                changed = ended.changed() => changed.map_err(|_| NodeError::Stopped)?,
                changed = metrics.changed() => changed.map_err(|_| NodeError::Stopped)?,
                full = disk_full.wait_for(Option::is_some) => {
                    full.map_err(|_| NodeError::Stopped)?;
                }
            }
        }
    }

    /// BGSAVE: starts a snapshot and returns at once; `false` if one is already being written.
    /// Refused at once while the log waits for disk space, since it could only fail.
    pub async fn background_save(&self) -> Result<bool, NodeError> {
        if let Some(error) = self.disk_full_error() {
            return Err(NodeError::SnapshotFailed(error.to_string()));
        }
        if self.shared.persistence.in_progress.load(Ordering::Relaxed) {
            return Ok(false);
        }
        let node = self.clone();
        tokio::spawn(async move {
            if let Err(error) = node.save().await {
                tracing::error!(%error, "background save failed");
            }
        });
        Ok(true)
    }

    /// The snapshot and log figures for INFO persistence and LASTSAVE. The last save time is
    /// the newest snapshot's, or the start of this process if there is none.
    pub fn persistence(&self) -> PersistenceStatus {
        let persistence = &self.shared.persistence;
        let load = |value: &std::sync::atomic::AtomicU64| value.load(Ordering::Relaxed);
        let last_save = load(&persistence.last_save_unix_seconds);
        PersistenceStatus {
            fsync: self.fsync,
            applied_index: self.applied_index(),
            snapshot_index: load(&persistence.snapshot_index),
            last_save_unix_seconds: if last_save == 0 {
                self.started_unix_seconds
            } else {
                last_save
            },
            saves: load(&persistence.saves),
            snapshot_in_progress: persistence.in_progress.load(Ordering::Relaxed),
            last_snapshot_failed: persistence.last_failed.load(Ordering::Relaxed),
            last_snapshot_duration_ms: load(&persistence.last_duration_ms),
            last_snapshot_keys: load(&persistence.last_keys),
            last_snapshot_bytes: load(&persistence.last_bytes),
            log_bytes_since_snapshot: load(&self.log_figures.bytes_since_purge),
        }
    }

    /// Resolves with the reason once storage failed; the node must then stop, since nothing it
    /// acknowledges could be trusted.
    pub async fn storage_failure(&self) -> String {
        let mut fatal = self.fatal.clone();
        let reason = match fatal.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone(),
            Err(_) => None,
        };
        match reason {
            Some(reason) => reason,
            None => std::future::pending().await,
        }
    }

    /// The refusal of a write while the log waits for disk space, or `None` if it does not.
    fn disk_full_error(&self) -> Option<NodeError> {
        let reason = self.disk_full.borrow().clone()?;
        Some(disk_full_error(&self.data_directory.path().display().to_string(), &reason))
    }

    /// Whether the log is healthy, waits for disk space, or failed.
    pub fn storage_status(&self) -> StorageStatus {
        if let Some(reason) = self.fatal.borrow().clone() {
            return StorageStatus::Failed(reason);
        }
        match self.disk_full.borrow().clone() {
            Some(reason) => StorageStatus::DiskFull(reason),
            None => StorageStatus::Ok,
        }
    }

    /// Stops consensus; the log thread syncs whatever it holds and ends. While the log waits
    /// for disk space, openraft's core waits with it, so the wait for it is bounded.
    pub async fn shutdown(&self) {
        let stopping = self.raft.shutdown();
        if self.disk_full.borrow().is_none() {
            if let Err(error) = stopping.await {
                tracing::warn!(%error, "consensus did not stop cleanly");
            }
            return;
        }
        if tokio::time::timeout(SHUTDOWN_WAIT_ON_FULL_DISK, stopping).await.is_err() {
            tracing::warn!(
                "stopping with an entry still waiting for disk space; it was never acknowledged"
            );
        }
    }
}

impl NodeService for Node {
    fn write(
        &self,
        requests: Vec<WriteRequest>,
    ) -> BoxFuture<'static, Result<Vec<Frame>, NodeError>> {
        let node = self.clone();
        Box::pin(async move {
            // A forwarded write is proposed here or refused, never forwarded again: two nodes
            // with different ideas of the leader must not bounce a write between them.
            let leading = node.raft.metrics().borrow().current_leader == Some(node.routing.id);
            if !leading || node.routing.transferring.load(Ordering::Acquire) {
                return Err(NodeError::NotLeader);
            }
            node.propose(requests).await
        })
    }

    fn admin(&self, request: AdminRequest) -> BoxFuture<'static, Result<String, NodeError>> {
        let node = self.clone();
        Box::pin(async move { node.admin_as_leader(request).await })
    }

    fn read_index(&self) -> BoxFuture<'static, Result<raft::peer::ReadPoint, NodeError>> {
        let node = self.clone();
        Box::pin(async move { node.leader_read_index().await })
    }

    fn incarnation(&self) -> raft::identity::Incarnation {
        self.incarnation
    }

    fn client_port(&self) -> u16 {
        self.client_port
    }
}

/// Who this node is at the TCP handshake, and the peers its data directory knows.
fn tcp_identity(
    config: &Config,
    directory: &raft::DataDirectory,
    stored: &raft::StoredIdentity,
) -> Result<Identity> {
    let secret = match &config.cluster_secret_file {
        Some(path) => Some(raft::peer_auth::ClusterSecret::load(path)?),
        None => None,
    };
    Ok(Identity {
        cluster_id: config.cluster_id.clone(),
        node_id: config.node_id,
        incarnation: stored.incarnation,
        known_peers: Arc::new(raft::identity::KnownPeers::open(directory)?),
        authentication: Arc::new(raft::peer_auth::PeerAuthentication::new(secret)),
    })
}

/// [`NodeError::DiskFull`] for the log error `reason` under `data_directory`.
fn disk_full_error(data_directory: &str, reason: &str) -> NodeError {
    let cause = if reason.contains(&format!("(os error {})", libc::EDQUOT)) {
        "disk quota exceeded"
    } else {
        "no space left on device"
    };
    NodeError::DiskFull { data_directory: data_directory.to_string(), cause: cause.to_string() }
}

fn fatal_error(fatal: openraft::error::Fatal<raft::NodeId>) -> NodeError {
    match fatal {
        openraft::error::Fatal::StorageError(error) => NodeError::StorageFailed(error.to_string()),
        other => NodeError::OutcomeUnknown(other.to_string()),
    }
}

/// Waits until this node leads its cluster and has applied everything the log held at start,
/// reporting progress every second for a long recovery.
async fn wait_until_recovered(raft: &Raft, node_id: raft::NodeId, target: LogIndex) -> Result<()> {
    let started = Instant::now();
    let mut metrics = raft.metrics();
    loop {
        let (leader, applied) = {
            let current = metrics.borrow_and_update();
            (current.current_leader, current.last_applied.map_or(0, |log_id| log_id.index))
        };
        if leader == Some(node_id) && applied >= target {
            tracing::info!(applied, elapsed_ms = started.elapsed().as_millis() as u64, "recovered");
            return Ok(());
        }
        match tokio::time::timeout(Duration::from_secs(1), metrics.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(Error::Storage("consensus stopped during recovery".into())),
            Err(_) => {
                tracing::info!(applied, target, leader = ?leader, "recovering: replaying the log")
            }
        }
    }
}

fn unix_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}

/// The node's wall clock in Unix milliseconds. Only the node reads it; the state machine gets
/// time from entries.
pub fn clock_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as u64)
}
