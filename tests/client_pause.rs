//! CLIENT PAUSE, CLIENT UNPAUSE and CLIENT UNBLOCK against redis-server 7.0: the same
//! sequence runs on both, and every reply, held or not, must be the same bytes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

mod support;

use support::servers::ServerProcess;

/// How long a held request is watched for a reply that must not come.
const HELD_FOR: Duration = Duration::from_millis(300);

fn request(words: &[&str]) -> Vec<u8> {
    let mut bytes = format!("*{}\r\n", words.len()).into_bytes();
    for word in words {
        bytes.extend_from_slice(format!("${}\r\n{word}\r\n", word.len()).as_bytes());
    }
    bytes
}

/// Whatever arrives within `wait` (nothing, if the request is held).
fn replies_within(stream: &mut TcpStream, wait: Duration) -> String {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut buffer = [0u8; 4096];
    let mut text = Vec::new();
    while let Ok(read) = stream.read(&mut buffer) {
        if read == 0 {
            break;
        }
        text.extend_from_slice(&buffer[..read]);
        stream.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    }
    String::from_utf8_lossy(&text).into_owned()
}

fn send(stream: &mut TcpStream, words: &[&str]) -> String {
    stream.write_all(&request(words)).unwrap();
    replies_within(stream, HELD_FOR)
}

/// The transcript of one run: each step's label and what arrived after it.
fn transcript(server: &ServerProcess) -> Vec<(String, String)> {
    let connect = || TcpStream::connect(server.address()).unwrap();
    let (mut admin, mut client) = (connect(), connect());
    let client_id = send(&mut client, &["CLIENT", "ID"]).trim_start_matches(':').trim().to_string();
    let mut steps = Vec::new();
    let mut step = |label: &str, reply: String| steps.push((label.to_string(), reply));
    for words in [
        &["CLIENT", "PAUSE", "abc"][..],
        &["CLIENT", "PAUSE", "-1"],
        &["CLIENT", "PAUSE", "10", "foo"],
        &["CLIENT", "PAUSE", "abc", "foo"],
        &["CLIENT", "PAUSE", "10", "write", "x"],
        &["CLIENT", "UNBLOCK", "abc"],
        &["CLIENT", "UNBLOCK", "1", "foo"],
        &["CLIENT", "UNBLOCK", "999999"],
        &["CLIENT", "UNPAUSE", "x"],
    ] {
        step(&words.join(" "), send(&mut admin, words));
    }
    step("pause writes", send(&mut admin, &["CLIENT", "PAUSE", "60000", "WRITE"]));
    step("a read runs", send(&mut client, &["GET", "k"]));
    step("a read-only script runs", send(&mut client, &["EVAL_RO", "return 1", "0"]));
    step("a write is held", send(&mut client, &["SET", "k", "v"]));
    step("the held client counts as blocked", {
        let info = send(&mut admin, &["INFO", "clients"]);
        info.lines().find(|line| line.starts_with("blocked_clients")).unwrap_or("").to_string()
    });
    step("unpause", send(&mut admin, &["CLIENT", "UNPAUSE"]));
    step("the held write ran", replies_within(&mut client, HELD_FOR));
    step("pause writes again", send(&mut admin, &["CLIENT", "PAUSE", "60000", "WRITE"]));
    step(
        "queueing a write is held too",
        send(&mut client, &["MULTI"]) + &send(&mut client, &["INCR", "n"]),
    );
    step("unpause again", send(&mut admin, &["CLIENT", "UNPAUSE"]));
    step(
        "the queued write and EXEC",
        replies_within(&mut client, HELD_FOR) + &send(&mut client, &["EXEC"]),
    );
    step("BLPOP blocks", send(&mut client, &["BLPOP", "nothing", "0"]));
    step("unblock with an error", send(&mut admin, &["CLIENT", "UNBLOCK", &client_id, "ERROR"]));
    step("BLPOP ended", replies_within(&mut client, HELD_FOR));
    step("WAIT blocks", send(&mut client, &["WAIT", "5", "0"]));
    step("unblock as a timeout", send(&mut admin, &["CLIENT", "UNBLOCK", &client_id]));
    step("WAIT ended with its count", replies_within(&mut client, HELD_FOR));
    step("nobody is blocked now", send(&mut admin, &["CLIENT", "UNBLOCK", &client_id]));
    steps
}

#[test]
fn pause_and_unblock_answer_as_redis_does() {
    let redis = ServerProcess::start_redis();
    let concord = ServerProcess::start_concord();
    let expected = transcript(&redis);
    let found = transcript(&concord);
    for ((label, want), (_, got)) in expected.iter().zip(&found) {
        assert_eq!(got, want, "{label}: Redis answered {want:?}, Concord {got:?}");
    }
    assert_eq!(expected.len(), found.len());
}
