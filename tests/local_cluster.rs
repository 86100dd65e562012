//! `concord cluster --tls`, the local trial cluster, as a user starts it: three members come up,
//! replicate, authenticate one another with the cluster secret it made for them, serve
//! `redis-cli --tls` with the throwaway certificates it made and printed, and stop on Ctrl-C
//! (SIGINT to the supervisor).

mod support;

use std::net::TcpListener;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::cluster::connect;
use support::process::ChildProcess;

const WAIT: Duration = Duration::from_secs(60);

/// A base port with `count` free ports from it on, for the members' fixed ports.
fn free_run(count: u16) -> u16 {
    for _ in 0..1000 {
        let base = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let Some(last) = base.checked_add(count) else { continue };
        if (base..last).all(|port| TcpListener::bind(("127.0.0.1", port)).is_ok()) {
            return base;
        }
    }
    panic!("no run of {count} free ports");
}

fn wait_for<T>(what: &str, mut attempt: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(value) = attempt() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn query<T: redis::FromRedisValue>(port: u16, command: &redis::Cmd) -> Option<T> {
    let mut connection = connect(port, Duration::from_secs(5)).ok()?;
    command.query(&mut connection).ok()
}

#[test]
fn a_local_cluster_replicates_with_a_secret_and_certificates_of_its_own_and_stops_on_ctrl_c() {
    let directory = support::temp_dir("local-cluster");
    let (client_base, peer_base, tls_base) = (free_run(3), free_run(3), free_run(3));
    let mut command = support::process::concord();
    command
        .args(["cluster", "--nodes", "3"])
        .args(["--port", &client_base.to_string(), "--peer-port", &peer_base.to_string()])
        .arg("--dir")
        .arg(directory.path())
        .args(["--tls", "--tls-port", &tls_base.to_string()])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(directory.path().join("supervisor.out")).unwrap())
        .stderr(Stdio::null());
    let mut supervisor = ChildProcess::spawn(command).expect("concord cluster starts");
    let ports: Vec<u16> = (client_base..client_base + 3).collect();

    let set = redis::cmd("SET").arg("trial").arg("kept").clone();
    let ok: String = wait_for("a write through member 1", || query(ports[0], &set));
    assert_eq!(ok, "OK");
    for port in &ports {
        let value: String = wait_for("the write on every member", || {
            query::<Option<String>>(*port, redis::cmd("GET").arg("trial")).flatten()
        });
        assert_eq!(value, "kept", "member on port {port}");
        let info: String = query(*port, redis::cmd("INFO").arg("replication")).unwrap();
        assert!(info.contains("concord_peer_auth:secret\r\n"), "{info}");
        assert!(info.contains("concord_peer_auth_refusals:0\r\n"), "{info}");
    }
    let secret = directory.path().join("cluster-secret");
    let metadata = std::fs::metadata(&secret).expect("concord cluster made a secret file");
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&metadata.permissions()) & 0o777, 0o600);
    assert_eq!(metadata.len(), 65, "32 random bytes in hex and a line ending");

    // Each member over TLS, with the command line the supervisor printed for it.
    let printed = std::fs::read_to_string(directory.path().join("supervisor.out")).unwrap();
    for node in 1..=3u16 {
        let line = printed
            .lines()
            .find_map(|line| line.strip_prefix(&format!("node {node} over TLS: ")))
            .unwrap_or_else(|| panic!("no redis-cli --tls line for node {node}: {printed}"));
        let words: Vec<&str> = line.split(' ').collect();
        assert_eq!(words[..3], ["redis-cli", "-p", &(tls_base + node - 1).to_string()], "{line}");
        let output = std::process::Command::new("redis-cli")
            .args(&words[1..])
            .args(["GET", "trial"])
            .output()
            .expect("redis-cli runs");
        let answer = String::from_utf8_lossy(&output.stdout);
        assert_eq!(answer.trim(), "kept", "node {node} over TLS: {output:?}");
    }

    assert!(supervisor.signal(libc::SIGINT), "the supervisor is gone before Ctrl-C");
    let status = supervisor.wait_timeout(WAIT).expect("the cluster stops on Ctrl-C");
    assert!(status.success(), "concord cluster exited with {status}");
    for port in &ports {
        assert!(connect(*port, Duration::from_secs(1)).is_err(), "port {port} still serves");
    }
}
