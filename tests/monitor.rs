//! MONITOR against redis-server 7.0: the same commands go to a Concord node and to a Redis
//! server while a monitor watches each, and the monitors' lines must be the same once the
//! time stamp and the client's port, which two servers cannot share, are checked for their
//! form and taken out. A monitor that stops reading is disconnected while the node goes on
//! serving.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

mod support;

use support::servers::ServerProcess;

const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The commands of the comparison, as RESP requests (binary arguments included).
fn workload() -> Vec<Vec<&'static [u8]>> {
    vec![
        vec![b"SET", b"k", b"v"],
        vec![b"SeT", b"a\"", b"\x00\n\xff\\ \t"],
        vec![b"GET", b"k"],
        vec![b"MULTI"],
        vec![b"INCR", b"n"],
        vec![b"LPUSH", b"list", b"x"],
        vec![b"EXEC"],
        vec![b"AUTH", b"wrong"],
        vec![b"HELLO", b"2", b"AUTH", b"default", b"secret"],
        // Admin commands, unknown commands and wrong argument counts do not appear.
        vec![b"CONFIG", b"GET", b"maxmemory"],
        vec![b"NOSUCHCOMMAND"],
        vec![b"GET"],
        vec![b"INCR", b"k"],
        vec![b"SELECT", b"3"],
        vec![b"PING"],
        vec![b"BLPOP", b"nothing", b"0.05"],
        vec![b"CLIENT", b"SETNAME", b"watched"],
        vec![b"EVAL", b"return 1", b"0"],
        vec![b"SELECT", b"0"],
        vec![b"DEL", b"k", b"a\"", b"n", b"list"],
    ]
}

fn request(arguments: &[&[u8]]) -> Vec<u8> {
    let mut bytes = format!("*{}\r\n", arguments.len()).into_bytes();
    for argument in arguments {
        bytes.extend_from_slice(format!("${}\r\n", argument.len()).as_bytes());
        bytes.extend_from_slice(argument);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes
}

/// Reads one RESP reply of any kind from `stream` (enough of RESP for these commands).
fn read_reply(stream: &mut TcpStream) -> Vec<u8> {
    let mut reply = Vec::new();
    let mut pending = 1usize;
    while pending > 0 {
        let line = read_line(stream);
        pending -= 1;
        match line[0] {
            b'$' => {
                let length: i64 =
                    std::str::from_utf8(&line[1..line.len() - 2]).unwrap().parse().unwrap();
                reply.extend_from_slice(&line);
                if length >= 0 {
                    let mut body = vec![0; length as usize + 2];
                    stream.read_exact(&mut body).unwrap();
                    reply.extend_from_slice(&body);
                }
                continue;
            }
            b'*' | b'%' => {
                let count: i64 =
                    std::str::from_utf8(&line[1..line.len() - 2]).unwrap().parse().unwrap();
                let factor = if line[0] == b'%' { 2 } else { 1 };
                pending += count.max(0) as usize * factor;
            }
            _ => {}
        }
        reply.extend_from_slice(&line);
    }
    reply
}

fn read_line(stream: &mut TcpStream) -> Vec<u8> {
    let mut line = Vec::new();
    let mut byte = [0u8];
    while !line.ends_with(b"\r\n") {
        stream.read_exact(&mut byte).expect("a complete line before the timeout");
        line.push(byte[0]);
    }
    line
}

fn connect(server: &ServerProcess) -> TcpStream {
    let stream = TcpStream::connect(server.address()).unwrap();
    stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    stream
}

/// Runs the workload against `server` with a monitor attached, and returns the monitor's
/// lines with the time stamp and the client's port replaced by placeholders, once each was
/// checked for its form.
fn monitored_lines(server: &ServerProcess) -> Vec<String> {
    let mut monitor = connect(server);
    monitor.write_all(b"MONITOR\r\n").unwrap();
    assert_eq!(read_line(&mut monitor), b"+OK\r\n");
    let mut client = connect(server);
    let workload = workload();
    for arguments in &workload {
        client.write_all(&request(arguments)).unwrap();
        read_reply(&mut client);
    }
    // A last, known command marks the end of what the monitor must have seen.
    client.write_all(&request(&[b"ECHO", b"end"])).unwrap();
    read_reply(&mut client);
    let client_address = client.local_addr().unwrap().to_string();
    let mut lines = Vec::new();
    loop {
        let line = String::from_utf8_lossy(&read_line(&mut monitor)).into_owned();
        let (stamp, rest) = line
            .strip_prefix('+')
            .and_then(|line| line.split_once(' '))
            .unwrap_or_else(|| panic!("not a monitor line: {line:?}"));
        let (seconds, micros) = stamp.split_once('.').unwrap();
        assert!(seconds.parse::<u64>().unwrap() > 1_600_000_000, "{line:?}");
        assert_eq!(micros.len(), 6, "{line:?}");
        let rest = rest.replace(&client_address, "CLIENT");
        let end = rest.ends_with("\"ECHO\" \"end\"\r\n");
        lines.push(rest);
        if end {
            return lines;
        }
    }
}

#[test]
fn monitor_lines_are_redis_lines() {
    let redis = ServerProcess::start_redis();
    let concord = ServerProcess::start_concord();
    let expected = monitored_lines(&redis);
    let actual = monitored_lines(&concord);
    assert!(expected.len() > 10, "Redis's monitor saw too little: {expected:#?}");
    assert_eq!(actual, expected, "Concord's monitor lines (left) differ from Redis's (right)");
}

#[test]
fn a_monitor_refuses_the_keyspace_sees_its_own_commands_and_reset_ends_it() {
    let concord = ServerProcess::start_concord();
    let mut monitor = connect(&concord);
    let own_address = monitor.local_addr().unwrap().to_string();
    monitor.write_all(b"MONITOR\r\nGET k\r\n").unwrap();
    assert_eq!(read_line(&mut monitor), b"+OK\r\n");
    assert_eq!(read_line(&mut monitor), b"-ERR Replica can't interact with the keyspace\r\n");
    monitor.write_all(b"PING\r\n").unwrap();
    assert_eq!(read_line(&mut monitor), b"+PONG\r\n");
    let line = String::from_utf8(read_line(&mut monitor)).unwrap();
    assert!(line.ends_with(&format!(" [0 {own_address}] \"PING\"\r\n")), "{line:?}");
    monitor.write_all(b"CLIENT INFO\r\n").unwrap();
    let info = String::from_utf8(read_reply(&mut monitor)).unwrap();
    assert!(info.contains(" flags=O "), "{info}");
    let line = String::from_utf8(read_line(&mut monitor)).unwrap();
    assert!(line.ends_with("\"CLIENT\" \"INFO\"\r\n"), "{line:?}");
    monitor.write_all(b"RESET\r\nSET k v\r\n").unwrap();
    assert_eq!(read_line(&mut monitor), b"+RESET\r\n");
    assert_eq!(read_line(&mut monitor), b"+OK\r\n");
}

#[test]
fn a_monitor_that_falls_behind_is_disconnected_and_the_node_serves_on() {
    let concord = ServerProcess::start_concord();
    let mut monitor = connect(&concord);
    monitor.write_all(b"MONITOR\r\n").unwrap();
    assert_eq!(read_line(&mut monitor), b"+OK\r\n");
    // The monitor reads nothing while a client writes far more lines than the socket buffers
    // and the server's ring of lines hold together.
    let mut writer = concord.client();
    let value = vec![b'x'; 1024];
    for _ in 0..40 {
        let mut pipe = redis::pipe();
        for _ in 0..500 {
            pipe.cmd("SET").arg("big").arg(&value[..]).ignore();
        }
        let () = pipe.query(&mut writer).unwrap();
    }
    // Now it reads: what it was sent, then the end of the connection, not all the lines.
    let mut received = 0usize;
    let mut buffer = vec![0; 64 * 1024];
    loop {
        match monitor.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => received += read,
            Err(error) => {
                panic!("the monitor was not disconnected: {error} after {received} bytes")
            }
        }
    }
    assert!(received < 20_000 * 1024, "the monitor got every line ({received} bytes)");
    let pong: String = redis::cmd("PING").query(&mut writer).unwrap();
    assert_eq!(pong, "PONG");
}
