//! TLS on the client port, black-box: certificates made here with rcgen, and the clients an
//! application would use (redis-cli --tls, redis-py with `ssl=True`, a rustls client for the
//! cases the tools hide), against the real binary.
//!
//! What is pinned down, after Redis's tests/unit/tls.tcl: clients with and without
//! certificates under each `tls-auth-clients`, a certificate of another CA and an expired
//! one refused, plaintext on the TLS port closed, certificates reloaded by CONFIG SET for new
//! connections only, `tls-protocols` honoured, and CONFIG GET's `tls-*` replies equal to
//! redis-server's started with the same options. Every refusal leaves the node serving and
//! is logged with its reason.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use support::servers::ServerProcess;

/// A certificate authority made for one test.
struct Authority {
    certificate: rcgen::Certificate,
    key: KeyPair,
}

/// Who a certificate is for.
#[derive(Clone, Copy, PartialEq)]
enum Role {
    Server,
    Client,
}

impl Authority {
    fn new(name: &str) -> Authority {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let certificate = params.self_signed(&key).unwrap();
        Authority { certificate, key }
    }

    /// A certificate for localhost and 127.0.0.1, and its key, both PEM; `expired` makes one
    /// whose validity ended years ago.
    fn issue(&self, role: Role, expired: bool) -> (String, String) {
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, "concord test");
        params.extended_key_usages = vec![match role {
            Role::Server => ExtendedKeyUsagePurpose::ServerAuth,
            Role::Client => ExtendedKeyUsagePurpose::ClientAuth,
        }];
        if expired {
            params.not_before = rcgen::date_time_ymd(2000, 1, 1);
            params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let certificate = params.signed_by(&key, &self.certificate, &self.key).unwrap();
        (certificate.pem(), key.serialize_pem())
    }

    fn pem(&self) -> String {
        self.certificate.pem()
    }
}

/// The PEM files of one test, in a directory removed at the end.
struct Files {
    directory: tempfile::TempDir,
}

impl Files {
    fn new() -> Files {
        Files { directory: support::temp_dir("tls") }
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.directory.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// Writes a certificate and its key as `NAME.crt` and `NAME.key`.
    fn write_pair(&self, name: &str, (certificate, key): &(String, String)) -> (PathBuf, PathBuf) {
        (self.write(&format!("{name}.crt"), certificate), self.write(&format!("{name}.key"), key))
    }
}

/// The usual trial set-up: one CA, a server certificate and a client certificate from it.
struct Trial {
    files: Files,
    ca: Authority,
    ca_file: PathBuf,
    server_files: (PathBuf, PathBuf),
    client_files: (PathBuf, PathBuf),
}

impl Trial {
    fn new() -> Trial {
        let files = Files::new();
        let ca = Authority::new("concord test ca");
        let ca_file = files.write("ca.crt", &ca.pem());
        let server_files = files.write_pair("server", &ca.issue(Role::Server, false));
        let client_files = files.write_pair("client", &ca.issue(Role::Client, false));
        Trial { files, ca, ca_file, server_files, client_files }
    }

    /// The `--tls-*` flags of a node with this trial's certificates.
    fn flags(&self, auth_clients: &str) -> Vec<String> {
        let path = |path: &Path| path.display().to_string();
        vec![
            "--tls-port".into(),
            "0".into(),
            "--tls-cert-file".into(),
            path(&self.server_files.0),
            "--tls-key-file".into(),
            path(&self.server_files.1),
            "--tls-ca-cert-file".into(),
            path(&self.ca_file),
            "--tls-auth-clients".into(),
            auth_clients.into(),
            "--log-level".into(),
            "info".into(),
        ]
    }

    fn start(&self, auth_clients: &str) -> ServerProcess {
        let flags = self.flags(auth_clients);
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        ServerProcess::start_concord_with(&flags, None)
    }
}

/// A rustls client configuration trusting `ca_pem`, presenting `identity` if given.
fn client_config(ca_pem: &str, identity: Option<&(String, String)>) -> Arc<ClientConfig> {
    client_config_for(ca_pem, identity, rustls::DEFAULT_VERSIONS)
}

fn client_config_for(
    ca_pem: &str,
    identity: Option<&(String, String)>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap()).unwrap();
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        Some((certificate, key)) => {
            let chain = vec![CertificateDer::from_pem_slice(certificate.as_bytes()).unwrap()];
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    Arc::new(config)
}

type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// A TLS connection to `address`; the handshake itself runs with the first exchange.
fn connect(address: SocketAddr, config: Arc<ClientConfig>) -> TlsStream {
    let tcp = TcpStream::connect(address).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    StreamOwned::new(ClientConnection::new(config, name).unwrap(), tcp)
}

/// Sends `request` and reads `expected.len()` bytes of reply; the error is what failed.
fn exchange(
    stream: &mut TlsStream,
    request: &[u8],
    expected_bytes: usize,
) -> Result<Vec<u8>, String> {
    stream.write_all(request).map_err(|error| format!("write: {error}"))?;
    stream.flush().map_err(|error| format!("flush: {error}"))?;
    let mut reply = vec![0; expected_bytes];
    stream.read_exact(&mut reply).map_err(|error| format!("read: {error}"))?;
    Ok(reply)
}

/// PING over a fresh TLS connection: `Ok` with the reply, or the error that ended it.
fn tls_ping(address: SocketAddr, config: Arc<ClientConfig>) -> Result<Vec<u8>, String> {
    exchange(&mut connect(address, config), b"PING\r\n", b"+PONG\r\n".len())
}

/// Runs redis-cli over TLS against `address`, with a client certificate if given; its
/// stdout, or its stderr and stdout when it failed.
fn redis_cli_tls(
    address: SocketAddr,
    ca_file: &Path,
    identity: Option<&(PathBuf, PathBuf)>,
    arguments: &[&str],
) -> Result<String, String> {
    let mut command = Command::new("redis-cli");
    command.args(["-h", "127.0.0.1", "-p", &address.port().to_string(), "--tls", "--cacert"]);
    command.arg(ca_file);
    if let Some((certificate, key)) = identity {
        command.arg("--cert").arg(certificate).arg("--key").arg(key);
    }
    let output = command.args(arguments).output().expect("redis-cli runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    // redis-cli prints a failed connection on stderr, and some failures with exit status 0.
    if output.status.success() && !stderr.contains("Could not connect") && !stdout.contains("Error")
    {
        Ok(stdout)
    } else {
        Err(format!("{stderr}{stdout}"))
    }
}

/// The redis-py client of applications: SET then GET over `ssl=True`.
fn redis_py_set_get(
    address: SocketAddr,
    ca_file: &Path,
    identity: Option<&(PathBuf, PathBuf)>,
) -> Result<String, String> {
    let script = "import redis, sys\n\
        certfile, keyfile = (sys.argv[3], sys.argv[4]) if len(sys.argv) > 3 else (None, None)\n\
        client = redis.Redis(host='localhost', port=int(sys.argv[1]), ssl=True, \
        ssl_ca_certs=sys.argv[2], ssl_certfile=certfile, ssl_keyfile=keyfile, \
        socket_timeout=10)\n\
        client.set('from-python', 'over tls')\n\
        print(client.get('from-python').decode())\n";
    let mut command = Command::new("python3");
    command.args(["-c", script, &address.port().to_string()]).arg(ca_file);
    if let Some((certificate, key)) = identity {
        command.arg(certificate).arg(key);
    }
    let output = command.output().expect("python3 runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !stderr.contains("No module named 'redis'"),
        "redis-py is missing: install it with `python3 -m pip install redis`, or run \
         ./scripts/test, which installs it"
    );
    match output.status.success() {
        true => Ok(String::from_utf8_lossy(&output.stdout).trim().to_string()),
        false => Err(stderr),
    }
}

fn tls_address(server: &ServerProcess) -> SocketAddr {
    server.tls_address().expect("the node was started with --tls-port")
}

/// Waits until the node's log holds `text` (log lines are written as events happen, and the
/// refusal is logged after the client saw the close), failing with the log after 10 s.
fn wait_for_log(server: &ServerProcess, text: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !server.log().contains(text) {
        assert!(
            std::time::Instant::now() < deadline,
            "the log never said {text:?}:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_client_with_a_certificate_of_the_ca_is_served_by_redis_cli_redis_py_and_rustls() {
    let trial = Trial::new();
    let server = trial.start("yes");
    let address = tls_address(&server);
    let identity = trial.ca.issue(Role::Client, false);
    assert_eq!(
        tls_ping(address, client_config(&trial.ca.pem(), Some(&identity))).unwrap(),
        b"+PONG\r\n"
    );
    let set = redis_cli_tls(address, &trial.ca_file, Some(&trial.client_files), &["SET", "k", "v"]);
    assert_eq!(set.unwrap(), "OK\n");
    let get = redis_cli_tls(address, &trial.ca_file, Some(&trial.client_files), &["GET", "k"]);
    assert_eq!(get.unwrap(), "v\n");
    let python = redis_py_set_get(address, &trial.ca_file, Some(&trial.client_files));
    assert_eq!(python.unwrap(), "over tls");
    // The plaintext port serves the same keyspace.
    let mut plain = server.client();
    let value: String = redis::cmd("GET").arg("from-python").query(&mut plain).unwrap();
    assert_eq!(value, "over tls");
}

#[test]
fn without_a_client_certificate_tls_auth_clients_yes_refuses_and_logs_why() {
    let trial = Trial::new();
    let server = trial.start("yes");
    let address = tls_address(&server);
    let refused = tls_ping(address, client_config(&trial.ca.pem(), None));
    assert!(refused.is_err(), "a client without a certificate was served: {refused:?}");
    wait_for_log(&server, "peer sent no certificates");
    assert!(redis_cli_tls(address, &trial.ca_file, None, &["PING"]).is_err());
    assert!(redis_py_set_get(address, &trial.ca_file, None).is_err());
    // The node goes on serving clients that present one.
    let identity = trial.ca.issue(Role::Client, false);
    assert!(tls_ping(address, client_config(&trial.ca.pem(), Some(&identity))).is_ok());
}

#[test]
fn tls_auth_clients_no_and_optional_serve_clients_without_certificates() {
    let trial = Trial::new();
    for mode in ["no", "optional"] {
        let server = trial.start(mode);
        let address = tls_address(&server);
        assert_eq!(redis_cli_tls(address, &trial.ca_file, None, &["PING"]).unwrap(), "PONG\n");
        assert_eq!(redis_py_set_get(address, &trial.ca_file, None).unwrap(), "over tls", "{mode}");
        let with_identity =
            redis_cli_tls(address, &trial.ca_file, Some(&trial.client_files), &["PING"]);
        assert_eq!(with_identity.unwrap(), "PONG\n", "{mode}");
    }
}

#[test]
fn a_client_certificate_of_another_ca_or_an_expired_one_is_refused() {
    let trial = Trial::new();
    let stranger = Authority::new("another ca");
    let expired = trial.ca.issue(Role::Client, true);
    for mode in ["yes", "optional"] {
        let server = trial.start(mode);
        let address = tls_address(&server);
        let foreign = stranger.issue(Role::Client, false);
        let refused = tls_ping(address, client_config(&trial.ca.pem(), Some(&foreign)));
        assert!(refused.is_err(), "{mode}: a certificate of another CA was taken");
        wait_for_log(&server, "UnknownIssuer");
        let refused = tls_ping(address, client_config(&trial.ca.pem(), Some(&expired)));
        assert!(refused.is_err(), "{mode}: an expired certificate was taken");
        wait_for_log(&server, "certificate expired");
        let files = trial.files.write_pair("expired", &expired);
        assert!(redis_cli_tls(address, &trial.ca_file, Some(&files), &["PING"]).is_err());
        let identity = trial.ca.issue(Role::Client, false);
        assert!(tls_ping(address, client_config(&trial.ca.pem(), Some(&identity))).is_ok());
    }
}

#[test]
fn a_client_that_trusts_another_ca_does_not_accept_the_server() {
    let trial = Trial::new();
    let server = trial.start("no");
    let stranger = Authority::new("another ca");
    let refused = tls_ping(tls_address(&server), client_config(&stranger.pem(), None));
    assert!(refused.unwrap_err().contains("UnknownIssuer"));
    let other_ca_file = trial.files.write("other-ca.crt", &stranger.pem());
    assert!(redis_cli_tls(tls_address(&server), &other_ca_file, None, &["PING"]).is_err());
}

#[test]
fn plaintext_on_the_tls_port_is_closed_without_a_reply_and_logged() {
    let trial = Trial::new();
    let server = trial.start("no");
    let mut stream = TcpStream::connect(tls_address(&server)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
    let mut received = Vec::new();
    // The read ends with the close (rustls may send an alert first), never with a reply.
    let _ = stream.read_to_end(&mut received);
    assert!(!received.starts_with(b"+"), "plaintext got a reply: {received:?}");
    assert!(received.is_empty() || received[0] == 0x15, "not a TLS alert: {received:?}");
    wait_for_log(&server, "closed a TLS connection whose handshake failed");
    assert_eq!(
        redis_cli_tls(tls_address(&server), &trial.ca_file, None, &["PING"]).unwrap(),
        "PONG\n"
    );
}

#[test]
fn config_set_tls_cert_file_serves_new_connections_with_the_new_certificate() {
    let trial = Trial::new();
    let server = trial.start("no");
    let address = tls_address(&server);
    let mut kept = connect(address, client_config(&trial.ca.pem(), None));
    assert_eq!(exchange(&mut kept, b"PING\r\n", 7).unwrap(), b"+PONG\r\n");

    let renewed_ca = Authority::new("renewed ca");
    let (certificate, key) =
        trial.files.write_pair("renewed", &renewed_ca.issue(Role::Server, false));
    let mut plain = server.client();
    let set: String = redis::cmd("CONFIG")
        .arg("SET")
        .arg("tls-cert-file")
        .arg(certificate.to_str().unwrap())
        .arg("tls-key-file")
        .arg(key.to_str().unwrap())
        .query(&mut plain)
        .unwrap();
    assert_eq!(set, "OK");
    assert!(tls_ping(address, client_config(&renewed_ca.pem(), None)).is_ok());
    let old = tls_ping(address, client_config(&trial.ca.pem(), None));
    assert!(old.unwrap_err().contains("UnknownIssuer"), "a new connection got the old certificate");
    // The connection open before the change keeps its session.
    assert_eq!(exchange(&mut kept, b"PING\r\n", 7).unwrap(), b"+PONG\r\n");

    // A file that does not load fails as in Redis, and the certificate in use stays.
    let error = redis::cmd("CONFIG")
        .arg("SET")
        .arg("tls-cert-file")
        .arg("/nonexistent/server.crt")
        .query::<String>(&mut plain)
        .unwrap_err();
    assert_eq!(
        format!("{} {}", error.code().unwrap_or("?"), error.detail().unwrap_or_default()),
        "ERR CONFIG SET failed (possibly related to argument 'tls-cert-file') - Unable to \
         update TLS configuration. Check server logs."
    );
    wait_for_log(&server, "/nonexistent/server.crt");
    let reply: Vec<String> =
        redis::cmd("CONFIG").arg("GET").arg("tls-cert-file").query(&mut plain).unwrap();
    assert_eq!(reply, ["tls-cert-file".to_string(), certificate.display().to_string()]);
    assert!(tls_ping(address, client_config(&renewed_ca.pem(), None)).is_ok());
}

#[test]
fn tls_protocols_limits_the_versions_offered() {
    let trial = Trial::new();
    let server = trial.start("no");
    let address = tls_address(&server);
    let mut plain = server.client();
    let _: String = redis::cmd("CONFIG")
        .arg("SET")
        .arg("tls-protocols")
        .arg("TLSv1.2")
        .query(&mut plain)
        .unwrap();
    let only_13 = client_config_for(&trial.ca.pem(), None, &[&rustls::version::TLS13]);
    assert!(tls_ping(address, only_13).is_err(), "a TLS 1.3 client was served under TLSv1.2 only");
    let mut stream = connect(address, client_config(&trial.ca.pem(), None));
    assert_eq!(exchange(&mut stream, b"PING\r\n", 7).unwrap(), b"+PONG\r\n");
    assert_eq!(stream.conn.protocol_version(), Some(rustls::ProtocolVersion::TLSv1_2));
    // Versions rustls does not have are refused, not quietly dropped.
    let error = redis::cmd("CONFIG")
        .arg("SET")
        .arg("tls-protocols")
        .arg("TLSv1.1 TLSv1.2")
        .query::<String>(&mut plain)
        .unwrap_err();
    assert!(error.to_string().contains("Unable to update TLS configuration"), "{error}");
    wait_for_log(&server, "TLSv1.1 is not offered by rustls");
}

/// CONFIG GET's `tls-*` replies of a node and of redis-server given the same files and
/// options; they differ only in `tls-port`, whose value is each server's own port.
#[test]
fn config_get_tls_parameters_match_redis_started_with_the_same_options() {
    let trial = Trial::new();
    let concord = trial.start("optional");
    let redis_tls_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port().to_string()
    };
    let path = |path: &Path| path.display().to_string();
    let (cert, key, ca) =
        (path(&trial.server_files.0), path(&trial.server_files.1), path(&trial.ca_file));
    let redis = ServerProcess::start_redis_with(&[
        "--tls-port",
        &redis_tls_port,
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
        "--tls-ca-cert-file",
        &ca,
        "--tls-auth-clients",
        "optional",
    ]);
    let config_get = |server: &ServerProcess| {
        let mut client = server.client();
        let mut pairs: Vec<(String, String)> =
            redis::cmd("CONFIG").arg("GET").arg("tls-*").query(&mut client).unwrap();
        pairs.sort();
        pairs
    };
    let (from_concord, from_redis) = (config_get(&concord), config_get(&redis));
    let without_port = |pairs: &[(String, String)]| -> Vec<(String, String)> {
        pairs.iter().filter(|(name, _)| name != "tls-port").cloned().collect()
    };
    assert_eq!(without_port(&from_concord), without_port(&from_redis));
    let port_of = |pairs: &[(String, String)]| {
        pairs.iter().find(|(name, _)| name == "tls-port").map(|(_, value)| value.clone())
    };
    assert_eq!(port_of(&from_concord), Some(tls_address(&concord).port().to_string()));
    assert_eq!(port_of(&from_redis), Some(redis_tls_port));
}
