//! Certificate credentials: the client assertion Entra ID takes instead of a client secret.
//!
//! The app registration holds the certificate (its public half, uploaded under *Certificates
//! & secrets*); the sink holds a PEM file with that certificate and its RSA private key, and
//! proves itself with a JWT signed by the key, as the Microsoft identity platform documents:
//! header `{"alg":"PS256","typ":"JWT","x5t#S256":<SHA-256 of the certificate, base64url>}`,
//! claims `aud` (the token endpoint), `iss` = `sub` (the client id), `jti`, `nbf`, `iat` and
//! `exp` (10 minutes on). A new assertion goes with every token request. Signing and checking
//! use rustls' own crypto provider (the one every TLS connection here uses).

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::SignatureScheme;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;

/// The `client_assertion_type` of a JWT client assertion.
pub(crate) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long an assertion is valid.
const LIFETIME_SECS: u64 = 600;

/// A certificate and the key that signs for it.
pub(crate) struct ClientCertificate {
    thumbprint: String,
    key: Arc<dyn rustls::sign::SigningKey>,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClientCertificate(x5t#S256 {})", self.thumbprint)
    }
}

impl ClientCertificate {
    /// Reads the first certificate and the private key of a PEM file.
    pub fn load(path: &Path) -> Result<ClientCertificate, String> {
        let shown = path.display();
        let pem = std::fs::read(path).map_err(|e| format!("client_certificate: cannot read {shown}: {e}"))?;
        let cert = CertificateDer::pem_slice_iter(&pem)
            .next()
            .ok_or_else(|| format!("client_certificate: no CERTIFICATE in {shown}"))?
            .map_err(|e| format!("client_certificate: {shown}: {e}"))?;
        let key = PrivateKeyDer::from_pem_slice(&pem)
            .map_err(|e| format!("client_certificate: no usable PRIVATE KEY in {shown}: {e}"))?;
        let provider = rustls::crypto::ring::default_provider();
        let key = provider
            .key_provider
            .load_private_key(key)
            .map_err(|e| format!("client_certificate: the key in {shown}: {e}"))?;
        if key.choose_scheme(&[SignatureScheme::RSA_PSS_SHA256]).is_none() {
            return Err(format!("client_certificate: the key in {shown} is not RSA; Entra ID takes RSA certificates"));
        }
        Ok(ClientCertificate { thumbprint: thumbprint(&cert), key })
    }

    /// A signed assertion for `client_id` to present at `audience` (the token endpoint),
    /// made at `now` (seconds since the epoch).
    pub fn assertion(&self, client_id: &str, audience: &str, now: u64) -> Result<String, String> {
        let header = serde_json::json!({ "alg": "PS256", "typ": "JWT", "x5t#S256": self.thumbprint });
        let claims = serde_json::json!({
            "aud": audience, "iss": client_id, "sub": client_id, "jti": uuid::Uuid::new_v4().to_string(),
            "nbf": now, "iat": now, "exp": now + LIFETIME_SECS,
        });
        let input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
        let signer = self
            .key
            .choose_scheme(&[SignatureScheme::RSA_PSS_SHA256])
            .ok_or_else(|| "client_certificate: the key cannot sign PS256".to_owned())?;
        let signature = signer.sign(input.as_bytes()).map_err(|e| format!("client_certificate: signing: {e}"))?;
        Ok(format!("{input}.{}", B64.encode(signature)))
    }
}

/// The `x5t#S256` of a certificate: its DER's SHA-256, base64url.
pub(crate) fn thumbprint(cert: &CertificateDer<'_>) -> String {
    B64.encode(Sha256::digest(cert.as_ref()))
}

/// Why an assertion was refused (the stand-in's side).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Not a JWT, or claims that do not fit.
    Malformed(String),
    /// Not signed by the registered certificate's key.
    Signature,
    /// Outside `nbf..exp`.
    Expired,
}

/// Checks an assertion against the registered certificate, `client_id` and the token
/// endpoint path it must be meant for (`aud` ends with it), at `now`.
pub(crate) fn verify(
    jwt: &str,
    cert: &CertificateDer<'_>,
    client_id: &str,
    path: &str,
    now: u64,
) -> Result<(), Refusal> {
    let malformed = |m: &str| Refusal::Malformed(m.to_owned());
    let mut parts = jwt.split('.');
    let (Some(h), Some(c), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(malformed("not a JWT"));
    };
    let json = |part: &str| -> Result<serde_json::Value, Refusal> {
        let bytes = B64.decode(part).map_err(|_| malformed("not base64url"))?;
        serde_json::from_slice(&bytes).map_err(|_| malformed("not JSON"))
    };
    let (header, claims) = (json(h)?, json(c)?);
    let scheme = match header["alg"].as_str() {
        Some("PS256") => SignatureScheme::RSA_PSS_SHA256,
        Some("RS256") => SignatureScheme::RSA_PKCS1_SHA256,
        _ => return Err(malformed("alg must be PS256 or RS256")),
    };
    // `x5t#S256` names the certificate; an older client's `x5t` (SHA-1, what azure-identity's
    // CertificateCredential sends) is not compared: the signature below identifies it anyway.
    match (header["x5t#S256"].as_str(), header["x5t"].as_str()) {
        (Some(sha256), _) if sha256 == thumbprint(cert) => {}
        (None, Some(_)) => {}
        _ => return Err(Refusal::Signature),
    }
    let signature = B64.decode(s).map_err(|_| malformed("signature not base64url"))?;
    let provider = rustls::crypto::ring::default_provider();
    let algorithms = provider
        .signature_verification_algorithms
        .mapping
        .iter()
        .find(|(s, _)| *s == scheme)
        .map(|(_, a)| *a)
        .unwrap_or_default();
    let end_entity = webpki::EndEntityCert::try_from(cert).map_err(|_| malformed("registered certificate unusable"))?;
    let message = format!("{h}.{c}");
    if !algorithms.iter().any(|alg| end_entity.verify_signature(*alg, message.as_bytes(), &signature).is_ok()) {
        return Err(Refusal::Signature);
    }
    let text = |k: &str| claims[k].as_str().unwrap_or("");
    if text("iss") != client_id || text("sub") != client_id || !text("aud").ends_with(path) {
        return Err(malformed("iss, sub or aud do not match"));
    }
    // Numbers, possibly with a fraction (MSAL writes `exp` from time.time()); nbf is optional.
    let (nbf, exp) = (claims["nbf"].as_f64().unwrap_or(0.0), claims["exp"].as_f64().unwrap_or(0.0));
    let now = now as f64;
    if now + 300.0 < nbf || now >= exp {
        return Err(Refusal::Expired);
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Test-only RSA certificates with their keys (made with `openssl req -x509 -newkey
    /// rsa:2048 -nodes`; rcgen cannot make RSA keys with this build's crypto backend).
    const APP: &str = include_str!("testdata/app.pem");
    const OTHER: &str = include_str!("testdata/other.pem");

    /// Writes a PEM file with an RSA certificate and its key (`other` picks the second
    /// pair) into `dir`; returns it and the certificate's DER.
    pub(crate) fn rsa_pem(dir: &Path, other: bool) -> (std::path::PathBuf, CertificateDer<'static>) {
        let pem = if other { OTHER } else { APP };
        let path = dir.join("client.pem");
        std::fs::write(&path, pem).unwrap();
        let der = CertificateDer::pem_slice_iter(pem.as_bytes()).next().unwrap().unwrap();
        (path, der)
    }

    #[test]
    fn an_assertion_verifies_against_its_certificate_only() {
        let dir = tempfile::tempdir().unwrap();
        let (path, der) = rsa_pem(dir.path(), false);
        let cert = ClientCertificate::load(&path).unwrap();
        let aud = "https://login.example/t/oauth2/v2.0/token";
        let jwt = cert.assertion("c", aud, 1_700_000_000).unwrap();
        let path_part = "/t/oauth2/v2.0/token";
        assert_eq!(verify(&jwt, &der, "c", path_part, 1_700_000_100), Ok(()));
        assert_eq!(verify(&jwt, &der, "c", path_part, 1_700_000_600), Err(Refusal::Expired));
        assert!(matches!(verify(&jwt, &der, "other", path_part, 1_700_000_100), Err(Refusal::Malformed(_))));
        let mut forged = jwt.clone();
        forged.replace_range(jwt.len() - 8.., "AAAAAAAA");
        assert_eq!(verify(&forged, &der, "c", path_part, 1_700_000_100), Err(Refusal::Signature));
        let (_, other) = rsa_pem(tempfile::tempdir().unwrap().path(), true);
        assert_eq!(verify(&jwt, &other, "c", path_part, 1_700_000_100), Err(Refusal::Signature));
    }

    #[test]
    fn a_file_without_a_key_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("only-cert.pem");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["x".to_owned()]).unwrap().self_signed(&key).unwrap();
        std::fs::write(&path, cert.pem()).unwrap();
        let err = ClientCertificate::load(&path).unwrap_err();
        assert!(err.contains("no usable PRIVATE KEY") && err.contains("only-cert.pem"), "{err}");
        std::fs::write(&path, format!("{}{}", cert.pem(), key.serialize_pem())).unwrap();
        let err = ClientCertificate::load(&path).unwrap_err();
        assert!(err.contains("is not RSA"), "{err}");
    }
}
