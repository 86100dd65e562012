//! Starting and stopping the real binary, and what it writes while it runs: a taken port fails
//! the start before the data directory is touched, SIGTERM stops a node exactly as Ctrl-C does,
//! the log has no colour codes when it is not a terminal, and `--log-format json` writes one
//! JSON object a line.

mod support;

use std::net::TcpListener;
use std::time::Duration;

use support::servers::ServerProcess;

/// How long a node may take to stop after a signal.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `concord serve` with `arguments` to completion and returns (success, stderr).
fn run_to_failure(arguments: &[&str]) -> (bool, String) {
    let output = support::process::concord()
        .arg("serve")
        .args(arguments)
        .output()
        .expect("the concord binary runs");
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn a_taken_client_port_fails_the_start_before_the_data_directory_is_touched() {
    // Held for the whole test, so the port stays taken.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let directory = support::temp_dir("taken-port");
    let missing = directory.path().join("missing");
    let (success, stderr) =
        run_to_failure(&["--port", &port, "--data-dir", missing.to_str().unwrap()]);
    assert!(!success, "concord started on a taken port");
    assert!(
        stderr.contains(&format!("127.0.0.1:{port}")) && stderr.contains("--port"),
        "the error names neither the port nor the flag: {stderr}"
    );
    assert!(!missing.exists(), "the data directory was created before the bind failed");

    let empty = directory.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let (success, _) = run_to_failure(&["--port", &port, "--data-dir", empty.to_str().unwrap()]);
    assert!(!success);
    let entries: Vec<_> = std::fs::read_dir(&empty).unwrap().collect();
    assert!(entries.is_empty(), "the failed start wrote into the data directory: {entries:?}");
}

#[test]
fn a_taken_peer_port_fails_the_start_before_the_data_directory_is_touched() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let peer_port = taken.local_addr().unwrap().port().to_string();
    let directory = support::temp_dir("taken-peer-port");
    let missing = directory.path().join("missing");
    let peers = format!("1=127.0.0.1:{peer_port}");
    let (success, stderr) = run_to_failure(&[
        "--port",
        "0",
        "--peers",
        &peers,
        "--data-dir",
        missing.to_str().unwrap(),
    ]);
    assert!(!success, "concord started on a taken peer port");
    assert!(
        stderr.contains(&format!("127.0.0.1:{peer_port}")) && stderr.contains("--peer-port"),
        "the error names neither the peer port nor the flag: {stderr}"
    );
    assert!(!missing.exists(), "the data directory was created before the bind failed");
}

/// The messages of a text log, without their timestamps: what a stop looks like.
fn messages(log: &str) -> Vec<String> {
    log.lines()
        .filter(|line| {
            line.contains(" INFO ") || line.contains(" WARN ") || line.contains(" ERROR ")
        })
        .map(|line| {
            let (_, message) = line.split_once(": ").unwrap_or(("", line));
            message.replace("SIGTERM", "SIGNAL").replace("SIGINT", "SIGNAL")
        })
        .collect()
}

/// Starts a node on `data_dir`, writes `keys` keys, stops it with `signal` and returns its log.
fn write_then_stop(data_dir: &str, keys: std::ops::Range<u32>, signal: libc::c_int) -> String {
    let mut node =
        ServerProcess::start_concord_with(&["--data-dir", data_dir, "--log-level", "info"], None);
    let mut client = node.client();
    for key in keys {
        let _: () = redis::cmd("SET").arg(format!("k{key}")).arg(key).query(&mut client).unwrap();
    }
    assert!(node.signal(signal), "the node exited before it was signalled");
    let status = node.wait_for_exit(STOP_TIMEOUT);
    let log = node.log();
    assert!(
        status.is_some_and(|status| status.success()),
        "signal {signal} did not stop the node cleanly: {status:?}\n{log}"
    );
    log
}

#[test]
fn sigterm_stops_a_node_as_ctrl_c_does_and_keeps_what_was_acknowledged() {
    let directory = support::temp_dir("sigterm");
    let data_dir = directory.path().join("data");
    let data_dir = data_dir.to_str().unwrap();
    let interrupted = write_then_stop(data_dir, 0..100, libc::SIGINT);
    let terminated = write_then_stop(data_dir, 100..200, libc::SIGTERM);
    assert!(
        terminated.contains("received a signal to stop, shutting down")
            && terminated.contains("SIGTERM"),
        "SIGTERM left no line saying so:\n{terminated}"
    );
    // The same lines as Ctrl-C, after the start-up lines that differ (recovery counts).
    let stop_lines = |log: &str| -> Vec<String> {
        let all = messages(log);
        let start = all.iter().position(|line| line.contains("received a signal")).unwrap_or(0);
        all[start..].to_vec()
    };
    assert_eq!(
        stop_lines(&terminated),
        stop_lines(&interrupted),
        "SIGTERM and SIGINT stop differently"
    );

    let node = ServerProcess::start_concord_with(&["--data-dir", data_dir], None);
    let mut client = node.client();
    assert_eq!(redis::cmd("DBSIZE").query::<u32>(&mut client).unwrap(), 200);
    assert_eq!(redis::cmd("GET").arg("k199").query::<u32>(&mut client).unwrap(), 199);
}

#[test]
fn a_log_that_is_not_a_terminal_has_no_colour_codes() {
    let mut node = ServerProcess::start_concord_with(&["--log-level", "info"], None);
    let _: String = redis::cmd("PING").query(&mut node.client()).unwrap();
    assert!(node.signal(libc::SIGINT));
    node.wait_for_exit(STOP_TIMEOUT);
    let log = node.log();
    assert!(log.contains("ready to accept connections"), "the log is missing lines:\n{log}");
    assert!(!log.contains('\u{1b}'), "the log file holds escape codes:\n{log:?}");
}

#[test]
fn json_logs_are_one_object_a_line_with_level_message_and_target() {
    let flags = ["--log-level", "info", "--log-format", "json"];
    let mut node = ServerProcess::start_concord_with(&flags, None);
    let _: String = redis::cmd("PING").query(&mut node.client()).unwrap();
    assert!(node.signal(libc::SIGTERM));
    node.wait_for_exit(STOP_TIMEOUT);
    let log = node.log();
    // The listening line is stdout's, copied into the same file; every other line is the log.
    let lines: Vec<&str> =
        log.lines().filter(|line| !line.starts_with("concord listening")).collect();
    assert!(lines.len() >= 3, "too few log lines:\n{log}");
    for line in lines {
        let object: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|error| panic!("a log line is not JSON ({error}): {line:?}"));
        for field in ["level", "message", "target", "timestamp"] {
            assert!(object.get(field).is_some_and(|value| value.is_string()), "no {field}: {line}");
        }
    }
    assert!(log.contains(r#""signal":"SIGTERM""#), "the stop's fields are missing:\n{log}");
}

#[test]
fn a_node_on_port_zero_reports_the_ports_it_bound() {
    let peers = "1=127.0.0.1:1";
    let node = ServerProcess::start_concord_with(&["--peers", peers, "--peer-port", "0"], None);
    let peer = node.peer_address().expect("the node reported its peer port");
    assert_ne!(peer.port(), 0);
    assert_ne!(node.port(), 0);
    assert!(node
        .log()
        .contains(&format!("concord listening client={} peer={peer}", node.address())));
    let mut client = node.client();
    let info: String = redis::cmd("INFO").arg("server").query(&mut client).unwrap();
    assert!(info.contains(&format!("tcp_port:{}", node.port())), "INFO names port 0:\n{info}");
}

/// Runs `concord status` with `arguments` and returns (success, stdout, stderr).
fn status(arguments: &[&str]) -> (bool, String, String) {
    let output = support::process::concord()
        .arg("status")
        .args(arguments)
        .output()
        .expect("the concord binary runs");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.success(), text(&output.stdout), text(&output.stderr))
}

#[test]
fn status_without_a_port_asks_the_local_cluster_or_names_the_flag() {
    let node =
        ServerProcess::start_concord_with(&["--peers", "1=127.0.0.1:1", "--peer-port", "0"], None);
    let directory = support::temp_dir("status");
    // As `concord cluster` writes it; the first member is down, the second answers.
    let endpoints = format!("1 127.0.0.1:1 127.0.0.1:1\n2 {} 127.0.0.1:1\n", node.address());
    std::fs::write(directory.path().join("endpoints"), endpoints).unwrap();
    let (success, stdout, stderr) = status(&["--dir", directory.path().to_str().unwrap()]);
    assert!(success && stdout.contains("leader"), "status failed:\n{stdout}\n{stderr}");

    let down = support::temp_dir("status-down");
    std::fs::write(down.path().join("endpoints"), "1 127.0.0.1:1 127.0.0.1:1\n").unwrap();
    let (success, _, stderr) = status(&["--dir", down.path().to_str().unwrap()]);
    assert!(!success, "status succeeded with no member answering");
    assert!(stderr.contains("--port"), "the error does not say which flag to give: {stderr}");
}
