//! Throwaway certificates for `concord cluster --tls`: a certificate authority made for one local
//! cluster, a server certificate every member presents (for 127.0.0.1 and localhost), and a
//! client certificate for `redis-cli --tls`. Made with rcgen on the first `--tls` start and kept
//! in the cluster's directory, so that a restarted cluster keeps the same ones; the keys are
//! readable by their owner only. For a trial on one machine, not for production: a production
//! cluster gets its certificates from the operator's own authority.

use std::io::Write;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

use crate::error::{Error, Result};

/// The files of a trial's certificates.
#[derive(Clone, Debug)]
pub struct TrialCertificates {
    /// The authority's certificate, which clients and members trust.
    pub ca_certificate: PathBuf,
    /// The certificate every member presents to clients.
    pub server_certificate: PathBuf,
    /// Its key.
    pub server_key: PathBuf,
    /// A certificate for clients to present, as `tls-auth-clients yes` (the default) requires.
    pub client_certificate: PathBuf,
    /// Its key.
    pub client_key: PathBuf,
}

impl TrialCertificates {
    /// The files under `directory`, made if they are not all there.
    pub fn open_or_make(directory: &Path) -> Result<TrialCertificates> {
        let files = TrialCertificates {
            ca_certificate: directory.join("ca.crt"),
            server_certificate: directory.join("server.crt"),
            server_key: directory.join("server.key"),
            client_certificate: directory.join("client.crt"),
            client_key: directory.join("client.key"),
        };
        let all_there = [
            &files.ca_certificate,
            &files.server_certificate,
            &files.server_key,
            &files.client_certificate,
            &files.client_key,
        ]
        .iter()
        .all(|path| path.exists());
        if !all_there {
            files.make(directory)?;
        }
        Ok(files)
    }

    /// The `concord serve` options of a member serving TLS on `tls_port` with these files.
    pub fn serve_arguments(&self, tls_port: u64) -> Vec<std::ffi::OsString> {
        let mut arguments = vec!["--tls-port".into(), tls_port.to_string().into()];
        for (flag, path) in [
            ("--tls-cert-file", &self.server_certificate),
            ("--tls-key-file", &self.server_key),
            ("--tls-ca-cert-file", &self.ca_certificate),
        ] {
            arguments.extend([flag.into(), path.clone().into_os_string()]);
        }
        arguments
    }

    /// The `redis-cli` command line that reaches a member's `tls_port` with these files.
    pub fn redis_cli(&self, tls_port: u64) -> String {
        format!(
            "redis-cli -p {tls_port} --tls --cacert {} --cert {} --key {}",
            self.ca_certificate.display(),
            self.client_certificate.display(),
            self.client_key.display()
        )
    }

    fn make(&self, directory: &Path) -> Result<()> {
        std::fs::create_dir_all(directory).map_err(|source| Error::Io {
            context: format!("creating {}", directory.display()),
            source,
        })?;
        let failed = |error: rcgen::Error| {
            Error::Config(format!("making the trial TLS certificates failed: {error}"))
        };
        let mut authority = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
        authority.distinguished_name.push(DnType::CommonName, "concord local cluster CA");
        authority.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        authority.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let authority_key = KeyPair::generate().map_err(failed)?;
        let authority = authority.self_signed(&authority_key).map_err(failed)?;
        let issue = |purpose: ExtendedKeyUsagePurpose, name: &str| {
            let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
            let mut params = CertificateParams::new(names)?;
            params.distinguished_name.push(DnType::CommonName, name);
            params.extended_key_usages = vec![purpose];
            let key = KeyPair::generate()?;
            let certificate = params.signed_by(&key, &authority, &authority_key)?;
            Ok::<_, rcgen::Error>((certificate.pem(), key.serialize_pem()))
        };
        let (server, server_key) =
            issue(ExtendedKeyUsagePurpose::ServerAuth, "concord local cluster").map_err(failed)?;
        let (client, client_key) =
            issue(ExtendedKeyUsagePurpose::ClientAuth, "concord local client").map_err(failed)?;
        write_file(&self.ca_certificate, &authority.pem(), 0o644)?;
        write_file(&self.server_certificate, &server, 0o644)?;
        write_file(&self.server_key, &server_key, 0o600)?;
        write_file(&self.client_certificate, &client, 0o644)?;
        write_file(&self.client_key, &client_key, 0o600)
    }
}

/// Writes `contents` to a new `path` (replacing an old one) with permissions `mode`, durably.
fn write_file(path: &Path, contents: &str, mode: u32) -> Result<()> {
    let failed = |source| Error::Io { context: format!("writing {}", path.display()), source };
    let _ = std::fs::remove_file(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(failed)?;
    file.write_all(contents.as_bytes()).and_then(|()| file.sync_all()).map_err(failed)
}
