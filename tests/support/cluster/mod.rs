//! The cluster tests' processes: a cluster of real `concord` nodes on loopback, each with its
//! own data directory and log file, wired through a [`Network`] of per-link proxies, and the
//! faults a test applies to processes: kill -9 and restart, SIGSTOP and SIGCONT, adding and
//! removing members.
//!
//! Every node gets the fast timeouts of [`TIMEOUTS_TOML`], so that elections and refused
//! requests take a fraction of a second instead of the production defaults' seconds. Each node
//! writes its log (level `warn`) to `node-<id>.log` in the cluster's directory; the directory
//! is removed when the cluster is dropped, unless the test is failing, in which case its path
//! is printed so the logs and data can be read.
//!
//! Ports: no port is picked by binding port 0 and releasing it. A node starts with
//! `--peer-port 0` and, the first time, `--port 0`, and reports the ports it bound (see
//! `support/process.rs`). Peers never dial a node's real peer port: node `i` reaches node `j`
//! through the proxy of link `i -> j`, and every node's own entry in `--peers` (the address
//! the membership carries, which members added later dial) is a proxy too, of the link
//! `0 -> j` that no fault touches. The proxies bind port 0 themselves in this process and
//! learn each node's real peer port whenever it (re)starts, so a restarted node may take any
//! free peer port. A restarted node asks for its old client port, since the clients of a
//! [`workload::Workload`] keep dialing it; if another process took that port meanwhile,
//! the node starts on a new one (printed), and [`Cluster::client_port`] names it.
//!
//! A node may run with its wall clock shifted (the clock-skew nemesis,
//! [`Cluster::start_with_clock_offsets`]): the harness preloads libfaketime (Debian's
//! `faketime`, which `scripts/test` installs) into that node's process with a fixed offset such
//! as `+40s` or `-40s`. Only the wall clock moves; the monotonic clock, which timers use, does
//! not, and the harness checks at start that the node's `TIME` shows the offset.
//!
//! Invariants: a [`Cluster`] kills every process it started when dropped (SIGKILL to each
//! node's process group, which kills a stopped one too), and its cleanup never panics, even
//! for a node that already exited; every node also has a parent-death signal, so an aborted
//! test binary leaves none behind. A method that waits for the cluster waits at most
//! [`WAIT_MAX`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub mod network;
pub mod workload;

pub use network::{Network, NodeId};

use super::process::{self, ChildProcess};

/// The node options every cluster test uses: elections within a second and errors within two.
const TIMEOUTS_TOML: &str = "\
election-timeout-min-ms = 300
election-timeout-max-ms = 600
heartbeat-interval-ms = 50
leader-wait-ms = 2000
commit-wait-ms = 2000
";

/// The longest the harness waits for a node to serve, a leader to exist, or a read to succeed.
pub const WAIT_MAX: Duration = Duration::from_secs(40);

/// How long an administrative or status request may take before the harness gives up on it.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The node that dials through a node's public proxy: anyone (see the module doc).
const ANYONE: NodeId = 0;

/// One node process and what it takes to start it again.
struct Member {
    /// The client port it listens on (0 until it first reported one).
    client_port: u16,
    /// Its real peer port, as it last reported it.
    peer_port: u16,
    /// The proxy every node may reach it through: its own entry in `--peers`.
    public_port: u16,
    /// Every argument but the ports.
    arguments: Vec<String>,
    process: Option<ChildProcess>,
    paused: bool,
    /// libfaketime's offset of this node's wall clock (`+40s`), if it runs skewed.
    clock_offset: Option<String>,
}

/// A running cluster of `concord` processes.
pub struct Cluster {
    pub network: Network,
    members: BTreeMap<NodeId, Member>,
    directory: tempfile::TempDir,
    config_path: PathBuf,
    cluster_id: String,
}

/// A number no other cluster of this process uses, for names.
fn unique_number() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl Cluster {
    /// Starts nodes `1..=size` (each with `extra` arguments) and waits until one leads.
    pub fn start(label: &str, size: u64, extra: &[&str]) -> Cluster {
        Cluster::start_with_clock_offsets(label, size, extra, &[])
    }

    /// [`Cluster::start`] with some nodes' wall clocks shifted: `(id, offset)` pairs, the
    /// offset in libfaketime's relative form (`+40s`, `-40s`). A restarted node keeps its offset.
    pub fn start_with_clock_offsets(
        label: &str,
        size: u64,
        extra: &[&str],
        clock_offsets: &[(NodeId, &str)],
    ) -> Cluster {
        let cluster_id = format!("{label}-{}-{}", std::process::id(), unique_number());
        let directory = super::temp_dir(&format!("cluster-{label}"));
        let config_path = directory.path().join("timeouts.toml");
        std::fs::write(&config_path, TIMEOUTS_TOML).unwrap();
        let mut cluster = Cluster {
            network: Network::new(),
            members: BTreeMap::new(),
            directory,
            config_path,
            cluster_id,
        };
        let ids: Vec<NodeId> = (1..=size).collect();
        let public_ports: BTreeMap<NodeId, u16> =
            ids.iter().map(|id| (*id, cluster.network.add_proxy(ANYONE, *id, 0))).collect();
        for id in &ids {
            let offset = clock_offsets.iter().find(|(skewed, _)| skewed == id);
            cluster.launch(*id, &public_ports, extra, false, offset.map(|(_, offset)| *offset));
        }
        cluster.wait_for_leader();
        for (id, offset) in clock_offsets {
            cluster.assert_clock_offset(*id, offset);
        }
        cluster
    }

    /// Starts node `id`; its peers list names every node of `public_ports`: itself at its
    /// public proxy, each other one through a new proxy for the link from `id`.
    fn launch(
        &mut self,
        id: NodeId,
        public_ports: &BTreeMap<NodeId, u16>,
        extra: &[&str],
        join: bool,
        clock_offset: Option<&str>,
    ) {
        let peers: Vec<String> = public_ports
            .iter()
            .map(|(peer, public)| {
                let port = if *peer == id { *public } else { self.network.add_proxy(id, *peer, 0) };
                format!("{peer}=127.0.0.1:{port}")
            })
            .collect();
        let data_dir = self.data_dir(id);
        let mut arguments: Vec<String> = [
            "serve",
            "--node-id",
            &id.to_string(),
            "--data-dir",
            data_dir.to_str().unwrap(),
            "--peers",
            &peers.join(","),
            "--cluster-id",
            &self.cluster_id,
            "--config",
            self.config_path.to_str().unwrap(),
            "--log-level",
            "warn",
        ]
        .iter()
        .map(|argument| argument.to_string())
        .collect();
        arguments.extend(extra.iter().map(|argument| argument.to_string()));
        if join {
            arguments.push("--join".into());
        }
        let member = Member {
            client_port: 0,
            peer_port: 0,
            public_port: public_ports[&id],
            arguments,
            process: None,
            paused: false,
            clock_offset: clock_offset.map(str::to_string),
        };
        self.members.insert(id, member);
        self.restart(id);
    }

    /// Every member the harness runs (killed ones included), in id order.
    pub fn ids(&self) -> Vec<NodeId> {
        self.members.keys().copied().collect()
    }

    pub fn client_port(&self, id: NodeId) -> u16 {
        self.members[&id].client_port
    }

    /// `(id, client port)` of every member.
    pub fn client_ports(&self) -> Vec<(NodeId, u16)> {
        self.members.iter().map(|(id, member)| (*id, member.client_port)).collect()
    }

    /// Starts node `id`'s process again on its data directory and waits until it serves.
    pub fn restart(&mut self, id: NodeId) {
        let log_path = self.directory.path().join(format!("node-{id}.log"));
        let wanted_port = self.members[&id].client_port;
        assert!(self.members[&id].process.is_none(), "node {id} is already running");
        let (mut process, listening) = match self.spawn(id, wanted_port, &log_path) {
            Ok(started) => started,
            Err(why) if wanted_port != 0 && log_tail(&log_path).contains("with --port") => {
                // Another process took the old client port while the node was down.
                println!("node {id}: client port {wanted_port} was taken ({why}); using a new one");
                self.spawn(id, 0, &log_path).unwrap_or_else(|why| {
                    panic!("node {id} did not start: {why}; see {log_path:?}")
                })
            }
            Err(why) => panic!("node {id} did not start: {why}; see {log_path:?}"),
        };
        let peer_port = listening.peer.expect("a cluster node has a peer port").port();
        self.network.set_target(id, peer_port);
        let member = self.members.get_mut(&id).unwrap();
        member.client_port = listening.client.port();
        member.peer_port = peer_port;
        let deadline = Instant::now() + WAIT_MAX;
        // The listeners open before recovery ends; PING answers only once the node serves.
        loop {
            if let Some(status) = process.try_wait() {
                panic!("node {id} exited during start-up with {status}; see {log_path:?}");
            }
            let ping = connect(member.client_port, ADMIN_TIMEOUT)
                .and_then(|mut connection| redis::cmd("PING").query::<String>(&mut connection));
            if ping.is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "node {id} did not serve; see {log_path:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
        member.process = Some(process);
        member.paused = false;
    }

    /// Spawns node `id` on client port `client_port` (0: any) and any peer port, and waits
    /// for the ports it reports.
    fn spawn(
        &self,
        id: NodeId,
        client_port: u16,
        log_path: &std::path::Path,
    ) -> Result<(ChildProcess, process::Listening), String> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(log_path).unwrap();
        let stdout_copy = log.try_clone().unwrap();
        let mut command = process::concord();
        command
            .args(&self.members[&id].arguments)
            .args(["--port", &client_port.to_string(), "--peer-port", "0"])
            .stdin(Stdio::null())
            .stderr(log);
        if let Some(offset) = &self.members[&id].clock_offset {
            // The library itself, not the `faketime` wrapper, so that the child is the node.
            command
                .env("LD_PRELOAD", libfaketime())
                .env("FAKETIME", offset)
                .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
        }
        let mut process = ChildProcess::spawn_node(command, Some(stdout_copy))
            .expect("the concord binary starts");
        let listening = process.listening(WAIT_MAX)?;
        Ok((process, listening))
    }

    /// Kills node `id` with SIGKILL: no shutdown code runs, as in a crash.
    pub fn kill(&mut self, id: NodeId) {
        let member = self.members.get_mut(&id).unwrap();
        let mut process = member.process.take().expect("a node is killed only while running");
        member.paused = false;
        process.kill();
    }

    /// Node `id`'s process id while the harness runs it.
    pub fn pid(&self, id: NodeId) -> Option<u32> {
        self.members[&id].process.as_ref().map(ChildProcess::id)
    }

    /// Node `id`'s exit status, if its process ended by itself (it is still counted as running
    /// until [`Cluster::kill`] or [`Cluster::restart`]).
    pub fn exit_status(&mut self, id: NodeId) -> Option<ExitStatus> {
        self.members.get_mut(&id).unwrap().process.as_mut()?.try_wait()
    }

    /// Node `id`'s real peer port, as it last reported it (peers reach it through proxies).
    pub fn peer_port(&self, id: NodeId) -> u16 {
        self.members[&id].peer_port
    }

    /// Freezes node `id` (SIGSTOP): it keeps its sockets and its belief about who leads.
    pub fn pause(&mut self, id: NodeId) {
        let member = self.members.get_mut(&id).unwrap();
        let process = member.process.as_mut().expect("a paused node runs");
        assert!(process.signal(libc::SIGSTOP), "node {id} cannot be paused: it exited");
        member.paused = true;
    }

    pub fn resume(&mut self, id: NodeId) {
        let member = self.members.get_mut(&id).unwrap();
        let process = member.process.as_mut().expect("a resumed node runs");
        assert!(process.signal(libc::SIGCONT), "node {id} cannot be resumed: it exited");
        member.paused = false;
    }

    /// Ends every fault: links pass, stopped nodes continue, killed nodes start again.
    pub fn heal(&mut self) {
        self.network.heal();
        for id in self.ids() {
            let member = &self.members[&id];
            if member.process.is_none() {
                self.restart(id);
            } else if member.paused {
                self.resume(id);
            }
        }
    }

    /// Starts node `id` with `--join`, its peers list naming itself and every member, and adds
    /// it with `CONCORD.ADDNODE`, sent to `via`. The others reach it at its public proxy,
    /// which the membership carries (the links to it are not faulted).
    pub fn add_node(&mut self, id: NodeId, via: NodeId) -> redis::RedisResult<String> {
        let mut public_ports: BTreeMap<NodeId, u16> =
            self.members.iter().map(|(id, member)| (*id, member.public_port)).collect();
        let public_port = self.network.add_proxy(ANYONE, id, 0);
        public_ports.insert(id, public_port);
        self.launch(id, &public_ports, &[], true, None);
        let address = format!("127.0.0.1:{public_port}");
        self.command(via, redis::cmd("CONCORD.ADDNODE").arg(id).arg(address))
    }

    /// Adds node `id`, which the harness runs already, with `CONCORD.ADDNODE` sent to `via`,
    /// at its public proxy (after `CONCORD.REMOVENODE`, to add it again).
    pub fn add_again(&self, id: NodeId, via: NodeId) -> redis::RedisResult<String> {
        let address = format!("127.0.0.1:{}", self.members[&id].public_port);
        self.command(via, redis::cmd("CONCORD.ADDNODE").arg(id).arg(address))
    }

    /// Waits until `condition` holds, for at most [`WAIT_MAX`]; panics with `what` otherwise,
    /// naming where the nodes' logs are.
    pub fn wait_until(&self, what: &str, mut condition: impl FnMut() -> bool) {
        let deadline = Instant::now() + WAIT_MAX;
        while !condition() {
            assert!(
                Instant::now() < deadline,
                "{what} never happened; logs in {:?}",
                self.directory()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Gives node `id` `value` for `flag` from its next start on, in place of the value it had
    /// (or beside its other arguments if it had none).
    pub fn set_flag(&mut self, id: NodeId, flag: &str, value: &str) {
        let arguments = &mut self.members.get_mut(&id).unwrap().arguments;
        match arguments.iter().position(|argument| argument == flag) {
            Some(at) => arguments[at + 1] = value.to_string(),
            None => arguments.extend([flag.to_string(), value.to_string()]),
        }
    }

    /// Node `id`'s data directory.
    pub fn data_dir(&self, id: NodeId) -> PathBuf {
        self.directory.path().join(format!("node-{id}"))
    }

    /// Node `id`'s log (its standard error).
    pub fn log_text(&self, id: NodeId) -> String {
        let text =
            std::fs::read(self.directory.path().join(format!("node-{id}.log"))).unwrap_or_default();
        String::from_utf8_lossy(&text).into_owned()
    }

    /// Stops node `id` for good and forgets it (after `CONCORD.REMOVENODE`).
    pub fn forget(&mut self, id: NodeId) {
        if self.members[&id].process.is_some() {
            self.kill(id);
        }
        self.members.remove(&id);
    }

    /// Sends one command to node `id` on a fresh connection.
    pub fn command<T: redis::FromRedisValue>(
        &self,
        id: NodeId,
        command: &redis::Cmd,
    ) -> redis::RedisResult<T> {
        let mut connection = connect(self.client_port(id), ADMIN_TIMEOUT)?;
        command.query(&mut connection)
    }

    /// The leader, if the running members that answer agree on one that says it leads.
    pub fn leader(&self) -> Option<NodeId> {
        let mut named = Vec::new();
        let mut leaders = Vec::new();
        for (id, member) in &self.members {
            if member.process.is_none() || member.paused {
                continue;
            }
            let Ok(info) = self.command::<String>(*id, redis::cmd("INFO").arg("replication"))
            else {
                continue;
            };
            let field = |name: &str| {
                info.lines()
                    .find_map(|line| line.strip_prefix(name))
                    .and_then(|value| value.trim().parse::<u64>().ok())
            };
            if let Some(leader) = field("concord_leader_id:") {
                named.push(leader);
            }
            if info.contains("concord_role:leader") {
                leaders.push((field("concord_term:").unwrap_or(0), *id));
            }
        }
        let (_, leader) = leaders.into_iter().max()?;
        let agreeing = named.iter().filter(|named| **named == leader).count();
        (agreeing * 2 > self.members.len()).then_some(leader)
    }

    /// Waits until a majority agrees on a leader, and returns it.
    pub fn wait_for_leader(&self) -> NodeId {
        let deadline = Instant::now() + WAIT_MAX;
        loop {
            if let Some(leader) = self.leader() {
                return leader;
            }
            assert!(
                Instant::now() < deadline,
                "no leader emerged; logs in {:?}",
                self.directory.path()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A member other than `not`, the lowest id first.
    pub fn other_than(&self, not: &[NodeId]) -> NodeId {
        *self.members.keys().find(|id| !not.contains(id)).expect("the cluster has another node")
    }

    /// Panics unless node `id`'s `TIME` is off this machine's clock by at least half of
    /// `offset` (`+40s`) in its direction: a skew nemesis that did not take would make a
    /// clock test pass while checking nothing.
    fn assert_clock_offset(&self, id: NodeId, offset: &str) {
        let seconds: i64 = offset
            .trim_end_matches('s')
            .trim_start_matches('+')
            .parse()
            .expect("a clock offset is whole seconds, as `+40s`");
        let (node_seconds, _): (i64, i64) =
            self.command(id, &redis::cmd("TIME")).expect("TIME answers");
        let ours =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
                as i64;
        let shift = node_seconds - ours;
        assert!(
            shift * seconds.signum() >= seconds.abs() / 2,
            "node {id} runs with FAKETIME={offset} but its clock is {shift} s off ours"
        );
    }

    /// The directory holding every node's data and log.
    pub fn directory(&self) -> &Path {
        self.directory.path()
    }
}

impl Drop for Cluster {
    /// Never panics: it runs while a failing test unwinds, and a panic there would abort the
    /// whole test binary and hide every other test's result.
    fn drop(&mut self) {
        for member in self.members.values_mut() {
            // Dropping the process kills its group, whether it runs, is stopped or is gone.
            drop(member.process.take());
        }
        if std::thread::panicking() {
            self.directory.disable_cleanup(true);
            let kept = self.directory.path();
            eprintln!("the failed cluster's data and node logs are kept in {kept:?}");
        }
    }
}

/// The last lines of a node's log.
fn log_tail(log_path: &std::path::Path) -> String {
    let text = std::fs::read(log_path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Where Debian's `faketime` package puts libfaketime.
fn libfaketime() -> &'static str {
    const CANDIDATES: [&str; 3] = [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/faketime/libfaketime.so.1",
    ];
    CANDIDATES
        .into_iter()
        .find(|path| std::path::Path::new(path).exists())
        .expect("libfaketime is installed (apt-get install faketime; scripts/test does it)")
}

/// A connection to the node serving on `port`, with every wait bounded by `timeout`.
pub fn connect(port: u16, timeout: Duration) -> redis::RedisResult<redis::Connection> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/"))?;
    let connection = client.get_connection_with_timeout(timeout)?;
    connection.set_read_timeout(Some(timeout))?;
    connection.set_write_timeout(Some(timeout))?;
    Ok(connection)
}
