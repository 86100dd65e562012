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
//! A node may run with its wall clock shifted (the clock-skew nemesis,
//! [`Cluster::start_with_clock_offsets`]): the harness preloads libfaketime (Debian's
//! `faketime`, which `scripts/test` installs) into that node's process with a fixed offset such
//! as `+40s` or `-40s`. Only the wall clock moves; the monotonic clock, which timers use, does
//! not, and the harness checks at start that the node's `TIME` shows the offset.
//!
//! Invariants: a [`Cluster`] kills every process it started when dropped (after a SIGCONT, so a
//! stopped one dies too); a method that waits for the cluster waits at most [`WAIT_MAX`].

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use super::network::{Link, Network, NodeId};

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

/// One node process and what it takes to start it again.
struct Member {
    client_port: u16,
    peer_port: u16,
    arguments: Vec<String>,
    process: Option<Child>,
    paused: bool,
    /// libfaketime's offset of this node's wall clock (`+40s`), if it runs skewed.
    clock_offset: Option<String>,
}

/// A running cluster of `concord` processes.
pub struct Cluster {
    pub network: Network,
    members: BTreeMap<NodeId, Member>,
    directory: PathBuf,
    config_path: PathBuf,
    cluster_id: String,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
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
        let unique = free_port();
        let cluster_id = format!("{label}-{}-{unique}", std::process::id());
        let directory = std::env::temp_dir().join(format!("concord-cluster-{cluster_id}"));
        let _ = std::fs::remove_dir_all(&directory);
        std::fs::create_dir_all(&directory).unwrap();
        let config_path = directory.join("timeouts.toml");
        std::fs::write(&config_path, TIMEOUTS_TOML).unwrap();
        let mut cluster = Cluster {
            network: Network::new(),
            members: BTreeMap::new(),
            directory,
            config_path,
            cluster_id,
        };
        let ids: Vec<NodeId> = (1..=size).collect();
        let peer_ports: BTreeMap<NodeId, u16> = ids.iter().map(|id| (*id, free_port())).collect();
        for id in &ids {
            let offset = clock_offsets.iter().find(|(skewed, _)| skewed == id);
            cluster.launch(*id, &peer_ports, extra, false, offset.map(|(_, offset)| *offset));
        }
        cluster.wait_for_leader();
        for (id, offset) in clock_offsets {
            cluster.assert_clock_offset(*id, offset);
        }
        cluster
    }

    /// Starts node `id`; its peers list names every node of `peer_ports` (itself included),
    /// each other one through a new proxy for the link from `id`.
    fn launch(
        &mut self,
        id: NodeId,
        peer_ports: &BTreeMap<NodeId, u16>,
        extra: &[&str],
        join: bool,
        clock_offset: Option<&str>,
    ) {
        let peers: Vec<String> = peer_ports
            .iter()
            .map(|(peer, port)| {
                let port =
                    if *peer == id { *port } else { self.network.add_proxy(id, *peer, *port) };
                format!("{peer}=127.0.0.1:{port}")
            })
            .collect();
        let client_port = free_port();
        let data_dir = self.directory.join(format!("node-{id}"));
        let mut arguments: Vec<String> = [
            "serve",
            "--node-id",
            &id.to_string(),
            "--port",
            &client_port.to_string(),
            "--peer-port",
            &peer_ports[&id].to_string(),
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
            client_port,
            peer_port: peer_ports[&id],
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
        let log_path = self.directory.join(format!("node-{id}.log"));
        let member = self.members.get_mut(&id).unwrap();
        assert!(member.process.is_none(), "node {id} is already running");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_concord"));
        command.args(&member.arguments).stdout(Stdio::null()).stderr(log);
        if let Some(offset) = &member.clock_offset {
            // The library itself, not the `faketime` wrapper, so that the child is the node.
            command
                .env("LD_PRELOAD", libfaketime())
                .env("FAKETIME", offset)
                .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
        }
        let process = command.spawn().expect("the concord binary starts");
        member.process = Some(process);
        member.paused = false;
        let deadline = Instant::now() + WAIT_MAX;
        // The listener opens before recovery ends; PING answers only once the node serves.
        loop {
            if let Some(status) = member.process.as_mut().unwrap().try_wait().unwrap() {
                panic!("node {id} exited during start-up with {status}; see {log_path:?}");
            }
            let ping = connect(member.client_port, ADMIN_TIMEOUT)
                .and_then(|mut connection| redis::cmd("PING").query::<String>(&mut connection));
            if ping.is_ok() {
                return;
            }
            assert!(Instant::now() < deadline, "node {id} did not serve; see {log_path:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills node `id` with SIGKILL: no shutdown code runs, as in a crash.
    pub fn kill(&mut self, id: NodeId) {
        let member = self.members.get_mut(&id).unwrap();
        let mut process = member.process.take().expect("a node is killed only while running");
        if member.paused {
            signal(&process, libc::SIGCONT);
            member.paused = false;
        }
        process.kill().unwrap();
        process.wait().unwrap();
    }

    /// Freezes node `id` (SIGSTOP): it keeps its sockets and its belief about who leads.
    pub fn pause(&mut self, id: NodeId) {
        let member = self.members.get_mut(&id).unwrap();
        signal(member.process.as_ref().expect("a paused node runs"), libc::SIGSTOP);
        member.paused = true;
    }

    pub fn resume(&mut self, id: NodeId) {
        let member = self.members.get_mut(&id).unwrap();
        signal(member.process.as_ref().expect("a resumed node runs"), libc::SIGCONT);
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
    /// it with `CONCORD.ADDNODE`, sent to `via`. The others reach it at its real peer port,
    /// which the membership carries.
    pub fn add_node(&mut self, id: NodeId, via: NodeId) -> redis::RedisResult<String> {
        let mut peer_ports: BTreeMap<NodeId, u16> =
            self.members.iter().map(|(id, member)| (*id, member.peer_port)).collect();
        let peer_port = free_port();
        peer_ports.insert(id, peer_port);
        self.launch(id, &peer_ports, &[], true, None);
        let address = format!("127.0.0.1:{peer_port}");
        self.command(via, redis::cmd("CONCORD.ADDNODE").arg(id).arg(address))
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
            assert!(Instant::now() < deadline, "no leader emerged; logs in {:?}", self.directory);
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
        let ours = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let shift = node_seconds - ours;
        assert!(
            shift * seconds.signum() >= seconds.abs() / 2,
            "node {id} runs with FAKETIME={offset} but its clock is {shift} s off ours"
        );
    }

    /// The directory holding every node's data and log.
    pub fn directory(&self) -> &PathBuf {
        &self.directory
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for member in self.members.values_mut() {
            if let Some(mut process) = member.process.take() {
                signal(&process, libc::SIGCONT);
                let _ = process.kill();
                let _ = process.wait();
            }
        }
        if std::thread::panicking() {
            eprintln!("the failed cluster's data and node logs are kept in {:?}", self.directory);
        } else {
            let _ = std::fs::remove_dir_all(&self.directory);
        }
    }
}

fn signal(process: &Child, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(process.id()).expect("a pid fits pid_t");
    // SAFETY: kill(2) only sends a signal to a process this harness started and still owns.
    let result = unsafe { libc::kill(pid, signal) };
    assert_eq!(result, 0, "kill({pid}, {signal}) failed: {}", std::io::Error::last_os_error());
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
