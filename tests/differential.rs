//! Differential test: every script in `tests/differential/*.redis` is run against a real
//! `redis-server` and against Concord, and every reply must be the same bytes (or agree under
//! the line's looser rule). `tests/differential/README.md` describes the script format.
//!
//! Environment:
//! - `CONCORD_DIFF_TARGET`: what the main test compares with Redis. Unset or `concord`: the
//!   `concord` binary of this build. `redis`: a second redis-server (checks the scripts).
//!   `127.0.0.1:PORT`: a server that is already running (for debugging it).
//! - `CONCORD_DIFF_SCRIPTS`: comma-separated substrings; only scripts whose file name contains
//!   one of them run.
//! - `CONCORD_DIFF_VERBOSE=1`: print every line with both replies (use `--nocapture`).
//!
//! The harness checks itself: `every_script_gives_identical_replies_on_two_redis_servers` runs
//! all scripts against two Redis servers, which must agree everywhere, so a red main test
//! always means Concord differs from Redis, not that a script is flaky.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use support::differ::{summarize, Differ, Endpoint, ScriptReport};
use support::script::{parse_script, Line};
use support::servers::{request_once, ServerKind, ServerProcess};

/// The server compared with Redis.
enum Target {
    Spawned(Box<ServerProcess>),
    /// Already running, started by whoever runs the test.
    External(SocketAddr),
}

impl Target {
    fn from_environment() -> Target {
        match std::env::var("CONCORD_DIFF_TARGET").as_deref() {
            Err(_) | Ok("") | Ok("concord") => {
                Target::Spawned(Box::new(ServerProcess::start_concord()))
            }
            Ok("redis") => Target::Spawned(Box::new(ServerProcess::start_redis())),
            Ok(address) => {
                let address: SocketAddr = address.parse().unwrap_or_else(|_| {
                    panic!("CONCORD_DIFF_TARGET must be `concord`, `redis` or 127.0.0.1:PORT, not {address:?}")
                });
                assert!(
                    address.ip().is_loopback(),
                    "CONCORD_DIFF_TARGET must be a loopback address, not {address}"
                );
                Target::External(address)
            }
        }
    }

    fn label(&self) -> String {
        match self {
            Target::Spawned(server) if server.kind() == ServerKind::Redis => "second redis".into(),
            Target::Spawned(server) => server.kind().label().into(),
            Target::External(address) => format!("server at {address}"),
        }
    }

    fn address(&self) -> SocketAddr {
        match self {
            Target::Spawned(server) => server.address(),
            Target::External(address) => *address,
        }
    }

    /// Why the target cannot run more scripts, if it has exited.
    fn death(&mut self) -> Option<String> {
        let Target::Spawned(server) = self else {
            return None;
        };
        let status = server.exit_status()?;
        Some(format!("{} exited with {status}\n{}", server.kind().label(), server.log_tail()))
    }
}

fn script_directory() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential")
}

/// Every script, parsed, in file-name order. A script that does not parse fails the test.
fn load_scripts() -> Vec<(String, Vec<Line>)> {
    let filter: Vec<String> = std::env::var("CONCORD_DIFF_SCRIPTS")
        .unwrap_or_default()
        .split(',')
        .filter(|part| !part.is_empty())
        .map(str::to_string)
        .collect();
    let directory = script_directory();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&directory)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", directory.display()))
        .map(|entry| entry.expect("a directory entry can be read").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "redis"))
        .filter(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            filter.is_empty() || filter.iter().any(|part| name.contains(part.as_str()))
        })
        .collect();
    paths.sort();
    assert!(
        !paths.is_empty(),
        "no scripts in {} match CONCORD_DIFF_SCRIPTS={filter:?}: a run that tests nothing \
         must not pass",
        directory.display()
    );
    paths
        .into_iter()
        .map(|path| {
            let name = format!(
                "tests/differential/{}",
                path.file_name().unwrap_or_default().to_string_lossy()
            );
            let source = std::fs::read_to_string(&path)
                .unwrap_or_else(|error| panic!("cannot read {name}: {error}"));
            let lines = parse_script(&source).unwrap_or_else(|error| panic!("{name}: {error}"));
            (name, lines)
        })
        .collect()
}

/// Runs every script; stops early only if the target process dies.
fn run_scripts(redis: &mut ServerProcess, target: &mut Target) -> Vec<ScriptReport> {
    redis.wait_until_accepting_writes().unwrap_or_else(|why| panic!("{why}"));
    if let Target::Spawned(server) = target {
        server.wait_until_accepting_writes().unwrap_or_else(|why| panic!("{why}"));
    }
    let differ = Differ {
        expected: Endpoint { label: "redis".into(), address: redis.address() },
        actual: Endpoint { label: target.label(), address: target.address() },
        verbose: std::env::var("CONCORD_DIFF_VERBOSE").is_ok_and(|value| value == "1"),
    };
    let mut reports = Vec::new();
    for (name, lines) in load_scripts() {
        let mut report = differ.run(&name, &lines);
        let death = target.death();
        if let Some(death) = &death {
            report.stopped = Some(format!("the server under test died: {death}"));
        }
        reports.push(report);
        if death.is_some() {
            break;
        }
    }
    reports
}

fn total_lines(reports: &[ScriptReport]) -> usize {
    reports.iter().map(|report| report.lines_run).sum()
}

#[test]
fn concord_replies_match_redis_byte_for_byte() {
    let mut redis = ServerProcess::start_redis();
    let mut target = Target::from_environment();
    let label = target.label();
    let reports = run_scripts(&mut redis, &mut target);
    if let Some(summary) = summarize(&reports) {
        panic!("{label} does not reply as Redis does.\n{summary}");
    }
    println!(
        "{} scripts, {} lines: {label} replied as Redis did",
        reports.len(),
        total_lines(&reports)
    );
}

#[test]
fn every_script_gives_identical_replies_on_two_redis_servers() {
    let mut redis = ServerProcess::start_redis();
    let mut second = Target::Spawned(Box::new(ServerProcess::start_redis()));
    let reports = run_scripts(&mut redis, &mut second);
    if let Some(summary) = summarize(&reports) {
        panic!(
            "two Redis servers should agree on every script line (else the script or the \
             harness is wrong, not Concord).\n{summary}"
        );
    }
}

#[test]
fn a_differing_reply_is_reported_with_script_line_and_both_replies() {
    let mut first = ServerProcess::start_redis();
    let mut second = ServerProcess::start_redis();
    for server in [&mut first, &mut second] {
        server.wait_until_accepting_writes().unwrap_or_else(|why| panic!("{why}"));
    }
    // The default maxclients depends on the open-file limit, so both are set explicitly.
    for (server, maxclients) in [(&first, "1000"), (&second, "123")] {
        let request = format!(
            "*4\r\n$6\r\nCONFIG\r\n$3\r\nSET\r\n$10\r\nmaxclients\r\n${}\r\n{maxclients}\r\n",
            maxclients.len()
        );
        let reply = request_once(server.address(), request.as_bytes()).unwrap();
        assert_eq!(reply, b"+OK\r\n", "CONFIG SET maxclients should work on redis");
    }
    let script = "# maxclients differs between the two servers\n\
                  CONFIG GET maxclients\n\
                  ~type CONFIG GET maxclients\n\
                  PING\n\
                  ~sorted CONFIG GET maxclients\n";
    let differ = Differ {
        expected: Endpoint { label: "redis".into(), address: first.address() },
        actual: Endpoint { label: "other".into(), address: second.address() },
        verbose: false,
    };
    let report = differ.run("inline.redis", &parse_script(script).unwrap());
    assert_eq!(report.lines_run, 4, "the script should run to its end after a mismatch");
    assert_eq!(
        report.mismatches.len(),
        2,
        "expected mismatches on lines 2 and 5 only, got: {:#?}",
        report.mismatches
    );
    let first_mismatch = &report.mismatches[0];
    for expected_text in [
        "inline.redis:2: CONFIG GET maxclients",
        r#"expected (redis): "*2\r\n$10\r\nmaxclients\r\n$4\r\n1000\r\n""#,
        r#"actual   (other): "*2\r\n$10\r\nmaxclients\r\n$3\r\n123\r\n""#,
    ] {
        assert!(
            first_mismatch.contains(expected_text),
            "the report should contain {expected_text:?}; it was:\n{first_mismatch}"
        );
    }
    assert!(
        report.mismatches[1].contains("(compared as sorted multisets (~sorted))"),
        "a loosened comparison should say which rule applied: {}",
        report.mismatches[1]
    );
}
