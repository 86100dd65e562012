//! TLS on the client port, with Redis 7.0's parameters: what they mean in rustls, and the
//! server configuration built from them.
//!
//! The `tls-*` parameters are read from the runtime settings' values (start-up options
//! arrive there too), so that start-up and `CONFIG SET` build the configuration the same way:
//! a `CONFIG SET tls-cert-file ...` that names a file which does not load fails as in Redis
//! and changes nothing, and one that loads serves every connection accepted afterwards, while
//! the connections already open keep the session they negotiated.
//!
//! rustls with its `ring` crypto provider does the TLS (see docs/decisions.md). It offers
//! fewer choices than OpenSSL, and every parameter that asks for one it does not have is
//! refused with a reason rather than approximated:
//! - `tls-protocols`: `TLSv1.2` and `TLSv1.3` only; `TLSv1` and `TLSv1.1` are refused.
//! - `tls-ciphersuites` (TLS 1.3) and `tls-ciphers` (TLS 1.2): colon-separated OpenSSL names
//!   of the suites rustls implements ([`TLS13_SUITES`], [`TLS12_SUITES`]); OpenSSL's cipher
//!   string language (`HIGH:!aNULL`) is refused, except `DEFAULT`, which means every suite.
//! - Private keys must be unencrypted PEM (`tls-key-file-pass` stays empty).
//!
//! Invariant: a configuration is built whole or not at all; a half-applied change (a new
//! certificate with the old key) never reaches a connection.

use std::path::Path;
use std::sync::Arc;

use tokio_rustls::rustls::crypto::ring::cipher_suite as suite;
use tokio_rustls::rustls::crypto::{ring, CryptoProvider};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{
    NoServerSessionStorage, ServerSessionMemoryCache, WebPkiClientVerifier,
};
use tokio_rustls::rustls::version::{TLS12, TLS13};
use tokio_rustls::rustls::{
    RootCertStore, ServerConfig, SupportedCipherSuite, SupportedProtocolVersion,
};

use crate::config::{Config, TlsAuthClients};

/// The TLS 1.3 suites rustls's `ring` provider implements, by their OpenSSL names.
pub const TLS13_SUITES: &[(&str, SupportedCipherSuite)] = &[
    ("TLS_AES_256_GCM_SHA384", suite::TLS13_AES_256_GCM_SHA384),
    ("TLS_AES_128_GCM_SHA256", suite::TLS13_AES_128_GCM_SHA256),
    ("TLS_CHACHA20_POLY1305_SHA256", suite::TLS13_CHACHA20_POLY1305_SHA256),
];

/// The TLS 1.2 suites rustls's `ring` provider implements, by their OpenSSL names.
pub const TLS12_SUITES: &[(&str, SupportedCipherSuite)] = &[
    ("ECDHE-ECDSA-AES256-GCM-SHA384", suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384),
    ("ECDHE-ECDSA-AES128-GCM-SHA256", suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
    ("ECDHE-ECDSA-CHACHA20-POLY1305", suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256),
    ("ECDHE-RSA-AES256-GCM-SHA384", suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384),
    ("ECDHE-RSA-AES128-GCM-SHA256", suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256),
    ("ECDHE-RSA-CHACHA20-POLY1305", suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256),
];

/// The parameters that shape the TLS configuration; a change to any of them rebuilds it.
pub const PARAMETERS: &[&str] = &[
    "tls-cert-file",
    "tls-key-file",
    "tls-ca-cert-file",
    "tls-ca-cert-dir",
    "tls-auth-clients",
    "tls-protocols",
    "tls-ciphersuites",
    "tls-ciphers",
    "tls-prefer-server-ciphers",
    "tls-session-caching",
    "tls-session-cache-size",
];

/// The `tls-*` parameter values that a start-up configuration gives, as CONFIG GET shows
/// them (paths as given, as Redis shows them).
pub fn parameter_values(config: &Config) -> Vec<(&'static str, String)> {
    let path = |path: &Option<std::path::PathBuf>| {
        path.as_ref().map(|path| path.display().to_string()).unwrap_or_default()
    };
    let text = |text: &Option<String>| text.clone().unwrap_or_default();
    vec![
        ("tls-port", config.tls_port.unwrap_or(0).to_string()),
        ("tls-cert-file", path(&config.tls_cert_file)),
        ("tls-key-file", path(&config.tls_key_file)),
        ("tls-ca-cert-file", path(&config.tls_ca_cert_file)),
        ("tls-ca-cert-dir", path(&config.tls_ca_cert_dir)),
        ("tls-auth-clients", config.tls_auth_clients.name().to_string()),
        ("tls-protocols", text(&config.tls_protocols)),
        ("tls-ciphersuites", text(&config.tls_ciphersuites)),
        ("tls-ciphers", text(&config.tls_ciphers)),
    ]
}

/// The TLS configuration, built from the `tls-*` parameter values; `value(name)` is a
/// parameter's current text as CONFIG GET shows it. The error is the reason, for the log.
pub fn server_config(value: impl Fn(&str) -> String) -> Result<ServerConfig, String> {
    let cert_file = value("tls-cert-file");
    let key_file = value("tls-key-file");
    if cert_file.is_empty() || key_file.is_empty() {
        return Err("TLS needs both tls-cert-file and tls-key-file".into());
    }
    let authentication = TlsAuthClients::parse(&value("tls-auth-clients"))
        .ok_or("tls-auth-clients must be one of no, yes, optional")?;
    let versions = protocol_versions(&value("tls-protocols"))?;
    let mut cipher_suites =
        chosen_suites(&value("tls-ciphersuites"), TLS13_SUITES, "tls-ciphersuites")?;
    cipher_suites.extend(chosen_suites(&value("tls-ciphers"), TLS12_SUITES, "tls-ciphers")?);
    // Deprecated for lacking post-quantum key exchange, which only the aws-lc-rs provider
    // has; ring builds without cmake or NASM (see docs/decisions.md).
    #[allow(deprecated)]
    let provider = Arc::new(CryptoProvider { cipher_suites, ..ring::default_provider() });
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(|error| format!("tls-protocols, tls-ciphersuites and tls-ciphers: {error}"))?;
    let certificates = load_certificates(Path::new(&cert_file), "tls-cert-file")?;
    let key = PrivateKeyDer::from_pem_file(&key_file)
        .map_err(|error| format!("tls-key-file {key_file}: cannot read a private key: {error}"))?;
    let ca_file = value("tls-ca-cert-file");
    let ca_dir = value("tls-ca-cert-dir");
    let builder = if authentication == TlsAuthClients::No {
        builder.with_no_client_auth()
    } else {
        if ca_file.is_empty() && ca_dir.is_empty() {
            return Err("tls-auth-clients is yes or optional, so tls-ca-cert-file or \
                        tls-ca-cert-dir must name the CA that signs client certificates"
                .into());
        }
        let roots = Arc::new(trusted_roots(&ca_file, &ca_dir)?);
        let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider);
        let verifier = match authentication {
            TlsAuthClients::Optional => verifier.allow_unauthenticated(),
            _ => verifier,
        };
        let verifier = verifier.build().map_err(|error| format!("tls-ca-cert-file: {error}"))?;
        builder.with_client_cert_verifier(verifier)
    };
    let mut config = builder
        .with_single_cert(certificates, key)
        .map_err(|error| format!("tls-cert-file and tls-key-file: {error}{}", hint(&error)))?;
    config.ignore_client_order = value("tls-prefer-server-ciphers") == "yes";
    config.session_storage = if value("tls-session-caching") == "yes" {
        let size: usize = value("tls-session-cache-size").parse().unwrap_or(0);
        if size == 0 {
            return Err("tls-session-cache-size 0 (unbounded) is refused: every cache in \
                        Concord is bounded"
                .into());
        }
        ServerSessionMemoryCache::new(size)
    } else {
        Arc::new(NoServerSessionStorage {})
    };
    Ok(config)
}

/// What to do about a certificate rustls refuses, where the remedy is not obvious.
fn hint(error: &dyn std::fmt::Display) -> &'static str {
    if error.to_string().contains("UnsupportedCertVersion") {
        // `openssl x509 -req` without extensions makes version 1 certificates, which OpenSSL
        // (and so Redis) takes and webpki does not.
        "; the certificate is X.509 version 1, and rustls takes version 3 only: make it with \
         extensions (openssl x509 -req ... -extfile with a subjectAltName line)"
    } else {
        ""
    }
}

/// `tls-protocols`: space-separated, case-insensitive, as Redis reads it; empty for both.
fn protocol_versions(text: &str) -> Result<Vec<&'static SupportedProtocolVersion>, String> {
    let mut versions = Vec::new();
    for word in text.split_whitespace() {
        let version = match word.to_ascii_lowercase().as_str() {
            "tlsv1.2" => &TLS12,
            "tlsv1.3" => &TLS13,
            "tlsv1" | "tlsv1.1" => {
                return Err(format!(
                    "tls-protocols: {word} is not offered by rustls, which Concord uses; \
                     choose among TLSv1.2 and TLSv1.3"
                ))
            }
            _ => {
                return Err("Invalid tls-protocols specified. Use a combination of 'TLSv1', \
                            'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'."
                    .into())
            }
        };
        if !versions.contains(&version) {
            versions.push(version);
        }
    }
    if versions.is_empty() {
        versions = vec![&TLS13, &TLS12];
    }
    Ok(versions)
}

/// The suites a colon-separated list of OpenSSL names chooses from `offered`; every one for
/// an empty list or `DEFAULT`.
fn chosen_suites(
    text: &str,
    offered: &[(&str, SupportedCipherSuite)],
    parameter: &str,
) -> Result<Vec<SupportedCipherSuite>, String> {
    let text = text.trim();
    if text.is_empty() || text == "DEFAULT" {
        return Ok(offered.iter().map(|(_, suite)| *suite).collect());
    }
    let mut chosen = Vec::new();
    for name in text.split(':').map(str::trim).filter(|name| !name.is_empty()) {
        let Some((_, suite)) = offered.iter().find(|(known, _)| known.eq_ignore_ascii_case(name))
        else {
            let known: Vec<&str> = offered.iter().map(|(known, _)| *known).collect();
            return Err(format!(
                "{parameter}: {name:?} is not a suite rustls offers (Concord takes a \
                 colon-separated list of these names, or DEFAULT: {})",
                known.join(":")
            ));
        };
        if !chosen.contains(suite) {
            chosen.push(*suite);
        }
    }
    Ok(chosen)
}

/// Every certificate in a PEM file; at least one.
fn load_certificates(path: &Path, parameter: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let unreadable =
        |error: &dyn std::fmt::Display| format!("{parameter} {}: {error}", path.display());
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|error| unreadable(&error))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| unreadable(&error))?;
    if certificates.is_empty() {
        return Err(unreadable(&"no PEM certificate in the file"));
    }
    Ok(certificates)
}

/// The CA certificates of `tls-ca-cert-file` and of every PEM file in `tls-ca-cert-dir`.
fn trusted_roots(ca_file: &str, ca_dir: &str) -> Result<RootCertStore, String> {
    let mut certificates = Vec::new();
    if !ca_file.is_empty() {
        certificates.extend(load_certificates(Path::new(ca_file), "tls-ca-cert-file")?);
    }
    if !ca_dir.is_empty() {
        let entries = std::fs::read_dir(ca_dir)
            .map_err(|error| format!("tls-ca-cert-dir {ca_dir}: {error}"))?;
        let mut paths: Vec<_> = entries.filter_map(|entry| entry.ok().map(|e| e.path())).collect();
        paths.sort();
        // OpenSSL looks only at hash-named files; any file holding PEM certificates counts
        // here, and files that hold none (a README, a key) are passed over.
        for path in paths.iter().filter(|path| path.is_file()) {
            if let Ok(found) = load_certificates(path, "tls-ca-cert-dir") {
                certificates.extend(found);
            }
        }
    }
    let mut roots = RootCertStore::empty();
    for certificate in certificates {
        roots
            .add(certificate)
            .map_err(|error| format!("tls-ca-cert-file: not a usable CA certificate: {error}"))?;
    }
    if roots.is_empty() {
        return Err("tls-ca-cert-file and tls-ca-cert-dir hold no CA certificate".into());
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_are_read_as_redis_reads_them_and_old_ones_refused() {
        assert_eq!(protocol_versions("").unwrap().len(), 2);
        assert_eq!(protocol_versions("tlsv1.3").unwrap(), vec![&TLS13]);
        assert_eq!(protocol_versions("TLSv1.2 TLSv1.3 TLSv1.2").unwrap().len(), 2);
        assert!(protocol_versions("TLSv1.1").unwrap_err().contains("not offered by rustls"));
        assert!(protocol_versions("TLSv1.4").unwrap_err().starts_with("Invalid tls-protocols"));
    }

    #[test]
    fn suites_are_chosen_by_openssl_name_and_cipher_strings_refused() {
        assert_eq!(chosen_suites("", TLS13_SUITES, "tls-ciphersuites").unwrap().len(), 3);
        assert_eq!(chosen_suites("DEFAULT", TLS12_SUITES, "tls-ciphers").unwrap().len(), 6);
        let chosen =
            chosen_suites("TLS_AES_128_GCM_SHA256:TLS_AES_128_GCM_SHA256", TLS13_SUITES, "x");
        assert_eq!(chosen.unwrap(), vec![suite::TLS13_AES_128_GCM_SHA256]);
        let refused = chosen_suites("HIGH:!aNULL", TLS12_SUITES, "tls-ciphers").unwrap_err();
        assert!(refused.contains("\"HIGH\" is not a suite rustls offers"), "{refused}");
        // A TLS 1.3 name in the TLS 1.2 list is a mistake worth naming, not a silent no-op.
        assert!(chosen_suites("TLS_AES_128_GCM_SHA256", TLS12_SUITES, "tls-ciphers").is_err());
    }

    #[test]
    fn a_configuration_without_certificate_or_ca_is_refused_with_the_reason() {
        let values = |cert: &'static str, auth: &'static str| {
            move |name: &str| match name {
                "tls-cert-file" | "tls-key-file" => cert.to_string(),
                "tls-auth-clients" => auth.to_string(),
                _ => String::new(),
            }
        };
        let missing = server_config(values("", "no")).err().unwrap();
        assert!(missing.contains("both tls-cert-file and tls-key-file"), "{missing}");
        let unreadable = server_config(values("/nonexistent/cert.pem", "no")).err().unwrap();
        assert!(unreadable.starts_with("tls-cert-file /nonexistent/cert.pem"), "{unreadable}");
    }
}
