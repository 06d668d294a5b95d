//! How the HEC sink trusts the collector's certificate: the system roots, only the CAs
//! of a PEM file, exactly one certificate by its fingerprint, or (for a first test)
//! nothing at all.
//!
//! Splunk's HEC listens with its own certificate unless an administrator installs one,
//! and that default certificate is issued to `SplunkServerDefaultCert`, not to the
//! host's name, so no CA file verifies it by name: pinning its fingerprint does. A CA
//! file (the company CA) is the usual setting for an installed certificate;
//! `insecure_skip_verify` exists for a first try and warns at every start.
//! The rustls configuration itself is the Netwrix client's
//! ([`netwrix::client::trust::tls_config`]): one set of verifiers for every HTTPS peer.

use super::config::HecTls;
use netwrix::client::trust as nx;
use std::path::Path;

/// Which certificates to accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trust<'a> {
    /// The platform's roots; the host name must match.
    System,
    /// Only the CAs in this PEM file; the host name must match.
    CaFile(&'a Path),
    /// Only the certificate with this SHA-256 (as configured; checked when built).
    Fingerprint(&'a str),
    /// Anything (handshake signatures are still checked).
    Insecure,
    /// Nothing: for `http://` URLs, which never open TLS, so they never load the system store.
    Nothing,
}

impl<'a> Trust<'a> {
    /// The trust `[sink.tls]` asks for; for an `http://` URL (`https` false), nothing.
    /// At most one of its keys may be set.
    pub(crate) fn of(tls: &'a HecTls, https: bool) -> Result<Trust<'a>, String> {
        let set = usize::from(tls.ca_file.is_some())
            + usize::from(tls.fingerprint.is_some())
            + usize::from(tls.insecure_skip_verify);
        if set > 1 {
            return Err("tls: choose one of ca_file, fingerprint and insecure_skip_verify".to_owned());
        }
        Ok(match (&tls.ca_file, &tls.fingerprint) {
            _ if !https => Trust::Nothing,
            (Some(ca), _) => Trust::CaFile(ca),
            (_, Some(fingerprint)) => Trust::Fingerprint(fingerprint),
            _ if tls.insecure_skip_verify => Trust::Insecure,
            _ => Trust::System,
        })
    }
}

/// Builds the rustls client configuration for `trust` (HTTP/1.1 only, as HEC speaks).
pub(crate) fn client_config(trust: Trust<'_>) -> Result<rustls::ClientConfig, String> {
    let config = match trust {
        Trust::System => nx::tls_config(&nx::Trust::System),
        Trust::CaFile(path) => nx::tls_config(&nx::Trust::CaFile(path.to_path_buf())),
        Trust::Fingerprint(text) => match nx::parse_fingerprint(text) {
            Ok(hex) => nx::tls_config(&nx::Trust::Fingerprint(hex)),
            Err(_) => return Err(format!("tls.fingerprint {text:?} is not a SHA-256 (64 hex digits, colons allowed)")),
        },
        Trust::Insecure => nx::tls_config(&nx::Trust::Insecure),
        Trust::Nothing => nx::tls_config_refusing_all(),
    };
    config.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mode_builds_and_bad_ca_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("ca.pem");
        let cert = rcgen::generate_simple_self_signed(vec!["splunk.test".to_string()]).unwrap();
        std::fs::write(&good, cert.cert.pem()).unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "nothing\n").unwrap();
        assert!(client_config(Trust::CaFile(&good)).is_ok());
        assert!(client_config(Trust::Insecure).is_ok());
        assert!(client_config(Trust::Fingerprint(&"AB:".repeat(32)[..95])).is_ok());
        let err = client_config(Trust::Fingerprint("abc")).unwrap_err();
        assert!(err.contains("tls.fingerprint \"abc\"") && err.contains("64 hex digits"), "{err}");
        assert!(client_config(Trust::Nothing).is_ok());
        let err = client_config(Trust::CaFile(&empty)).unwrap_err();
        assert!(err.contains("empty.pem") && err.contains("no PEM certificate"), "{err}");
        let err = client_config(Trust::CaFile(&dir.path().join("missing.pem"))).unwrap_err();
        assert!(err.contains("missing.pem") && err.contains("cannot read"), "{err}");
    }

    #[test]
    fn one_tls_key_at_most_and_none_for_plain_http() {
        let ca = HecTls { ca_file: Some("/ca.pem".into()), ..HecTls::default() };
        let pinned = HecTls { fingerprint: Some("ab".into()), ..HecTls::default() };
        let insecure = HecTls { insecure_skip_verify: true, ..HecTls::default() };
        assert_eq!(Trust::of(&ca, true), Ok(Trust::CaFile(Path::new("/ca.pem"))));
        assert_eq!(Trust::of(&pinned, true), Ok(Trust::Fingerprint("ab")));
        assert_eq!(Trust::of(&insecure, true), Ok(Trust::Insecure));
        assert_eq!(Trust::of(&HecTls::default(), true), Ok(Trust::System));
        assert_eq!(Trust::of(&pinned, false), Ok(Trust::Nothing));
        let both = HecTls { fingerprint: Some("ab".into()), ..ca };
        assert!(Trust::of(&both, true).unwrap_err().contains("choose one of"));
    }
}
