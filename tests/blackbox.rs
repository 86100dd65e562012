//! Black-box tests: start the real `concord` binary and drive it with the `redis` crate (and raw
//! TCP where bytes matter), as an application would.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use redis::Commands;
use support::servers::ServerProcess as Concord;

#[test]
fn values_are_binary_safe_end_to_end() {
    let server = Concord::start_concord();
    let mut connection = server.client();
    let key: Vec<u8> = vec![0, b'\r', b'\n', 255, b' '];
    let value: Vec<u8> = (0..=255u8).collect();
    let _: () = connection.set(&key, &value).unwrap();
    let read: Vec<u8> = connection.get(&key).unwrap();
    assert_eq!(read, value, "a value with every byte must come back unchanged");
}

#[test]
fn a_pipeline_reads_its_own_writes_in_order() {
    let server = Concord::start_concord();
    let mut connection = server.client();
    let mut pipeline = redis::pipe();
    for round in 0..200 {
        pipeline.set("k", round).get("k").incr("counter", 1);
    }
    let replies: Vec<redis::Value> = pipeline.query(&mut connection).unwrap();
    assert_eq!(replies.len(), 600);
    for (round, chunk) in replies.chunks(3).enumerate() {
        let read: i64 = redis::from_redis_value(&chunk[1]).unwrap();
        let counter: i64 = redis::from_redis_value(&chunk[2]).unwrap();
        assert_eq!(read, round as i64, "GET after SET in the same pipeline must see the SET");
        assert_eq!(counter, round as i64 + 1);
    }
}

#[test]
fn concurrent_increments_are_never_lost() {
    let server = Concord::start_concord();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let mut connection = server.client();
            std::thread::spawn(move || {
                for _ in 0..250 {
                    let _: i64 = connection.incr("shared", 1).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let total: i64 = server.client().get("shared").unwrap();
    assert_eq!(total, 2000, "8 clients × 250 INCR must add up exactly");
}

#[test]
fn a_key_with_a_ttl_disappears_and_active_expiry_deletes_it() {
    let server = Concord::start_concord();
    let mut connection = server.client();
    let _: () =
        redis::cmd("SET").arg("short").arg("v").arg("PX").arg(50).query(&mut connection).unwrap();
    let _: () = connection.set("long", "v").unwrap();
    std::thread::sleep(Duration::from_millis(120));
    let read: Option<String> = connection.get("short").unwrap();
    assert_eq!(read, None, "a key must not be readable after its deadline");
    // Active expiry deletes the key without anyone touching it; DBSIZE counts it until then.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let size: i64 = redis::cmd("DBSIZE").query(&mut connection).unwrap();
        if size == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "active expiry never deleted the expired key");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn databases_are_isolated_per_connection() {
    let server = Concord::start_concord();
    let mut first = server.client();
    let mut second = server.client();
    let _: () = redis::cmd("SELECT").arg(3).query(&mut second).unwrap();
    let _: () = first.set("k", "db0").unwrap();
    let _: () = second.set("k", "db3").unwrap();
    let zero: String = first.get("k").unwrap();
    let three: String = second.get("k").unwrap();
    assert_eq!((zero.as_str(), three.as_str()), ("db0", "db3"));
}

#[test]
fn large_values_round_trip() {
    let server = Concord::start_concord();
    let mut connection = server.client();
    let value = vec![b'x'; 8 * 1024 * 1024];
    let _: () = connection.set("big", &value).unwrap();
    let length: usize = connection.strlen("big").unwrap();
    let read: Vec<u8> = connection.get("big").unwrap();
    assert_eq!(length, value.len());
    assert!(read == value, "an 8 MiB value must come back unchanged");
}

#[test]
fn bad_commands_get_errors_and_the_connection_keeps_serving() {
    let server = Concord::start_concord();
    let mut stream = server.raw();
    stream.write_all(b"*2\r\n$4\r\nNOPE\r\n$1\r\nx\r\n*1\r\n$3\r\nGET\r\nPING\r\n").unwrap();
    let expected = "-ERR unknown command 'NOPE', with args beginning with: 'x' \r\n\
                    -ERR wrong number of arguments for 'get' command\r\n+PONG\r\n";
    assert_eq!(read_exactly(&mut stream, expected.len()), expected);
}

#[test]
fn resp3_nulls_and_resp2_nulls_differ_as_in_redis() {
    let server = Concord::start_concord();
    let mut stream = server.raw();
    stream.write_all(b"GET missing\r\n").unwrap();
    assert_eq!(read_exactly(&mut stream, 5), "$-1\r\n");
    stream.write_all(b"HELLO 3\r\n").unwrap();
    // Read the HELLO map header, then skip the rest of it by asking for a marker reply.
    let mut header = [0u8; 2];
    stream.read_exact(&mut header).unwrap();
    assert_eq!(&header, b"%7", "HELLO 3 must answer with a RESP3 map of seven fields");
    stream.write_all(b"ECHO end-of-hello\r\nGET missing\r\n").unwrap();
    let mut buffer = Vec::new();
    while !buffer.ends_with(b"end-of-hello\r\n_\r\n") {
        let mut chunk = [0u8; 4096];
        let read = stream.read(&mut chunk).unwrap();
        assert!(
            read > 0,
            "connection closed; received so far: {}",
            String::from_utf8_lossy(&buffer)
        );
        buffer.extend_from_slice(&chunk[..read]);
    }
}

#[test]
fn a_protocol_error_is_answered_then_the_connection_closes() {
    let server = Concord::start_concord();
    let mut stream = server.raw();
    stream.write_all(b"*1\r\n$x\r\n").unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert_eq!(reply, "-ERR Protocol error: invalid bulk length\r\n");
    // The node itself goes on serving.
    let pong: String = redis::cmd("PING").query(&mut server.client()).unwrap();
    assert_eq!(pong, "PONG");
}

fn read_exactly(stream: &mut TcpStream, length: usize) -> String {
    let mut buffer = vec![0u8; length];
    stream.read_exact(&mut buffer).unwrap();
    String::from_utf8_lossy(&buffer).into_owned()
}
