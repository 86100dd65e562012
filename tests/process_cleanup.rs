//! Test processes never leak nodes: a node started through the test helpers dies with the test
//! process even when that process aborts (no destructor runs then), and a cluster whose node
//! already exited cleans up without panicking, so one failing test cannot abort the binary and
//! hide the others.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::servers::ServerProcess;

/// Where the aborting child test writes its node's pid; set only for that child.
const PID_FILE_VARIABLE: &str = "CONCORD_TEST_ABORTING_CHILD_PID_FILE";

/// How long a node may take to die after its test process did.
const DEATH_TIMEOUT: Duration = Duration::from_secs(30);

/// Run by [`a_node_dies_with_a_test_process_that_aborts`] in a child test process: starts a
/// node through the helpers, tells its pid, and aborts without running any destructor.
#[test]
#[ignore = "a helper: a_node_dies_with_a_test_process_that_aborts runs it in a child process"]
fn start_a_node_then_abort() {
    let Some(pid_file) = std::env::var_os(PID_FILE_VARIABLE) else { return };
    let node = ServerProcess::start_concord();
    std::fs::write(pid_file, node.pid().to_string()).unwrap();
    std::process::abort();
}

/// Whether process `pid` still runs (a zombie waiting to be reaped by init does not).
fn is_running(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    let state = stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next());
    !matches!(state, Some('Z') | Some('X') | None)
}

#[test]
fn a_node_dies_with_a_test_process_that_aborts() {
    let directory = support::temp_dir("aborting-child");
    let pid_file = directory.path().join("pid");
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "start_a_node_then_abort", "--test-threads", "1"])
        .env(PID_FILE_VARIABLE, &pid_file)
        // The child's temporary directories land here, and go with it.
        .env("TMPDIR", directory.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "the child test process did not abort: {status}");
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .expect("the child started a node and wrote its pid")
        .parse()
        .unwrap();
    let deadline = Instant::now() + DEATH_TIMEOUT;
    while is_running(pid) {
        if Instant::now() > deadline {
            // SAFETY: kill(2) of the leaked node, so that this failure leaks nothing either.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            panic!("node {pid} still ran {DEATH_TIMEOUT:?} after its test process aborted");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_cluster_whose_node_exited_at_start_up_cleans_up_without_aborting_the_tests() {
    let outcome = std::panic::catch_unwind(|| {
        let mut cluster = support::cluster::Cluster::start("cleanup", 3, &[]);
        let node = cluster.other_than(&[cluster.wait_for_leader()]);
        cluster.kill(node);
        // A data directory of an unknown format makes the node exit as soon as it starts.
        let format = cluster.directory().join(format!("node-{node}")).join("FORMAT");
        std::fs::write(format, "concord-data-format 99\n").unwrap();
        cluster.restart(node);
    });
    // Reaching this line at all means the cleanup did not panic while unwinding (which aborts).
    let panic = outcome.expect_err("a node with an unreadable data directory started");
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|text| text.to_string()))
        .unwrap_or_default();
    assert!(message.contains("exited"), "the restart failed for another reason: {message}");
}
