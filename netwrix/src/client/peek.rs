//! Reading a server's certificate without trusting it, for `auditbridge trust`: an
//! operator pins a self-signed Netwrix certificate only after seeing what it is.

use super::trust::{tls_config, Trust};
use super::ClientError;
use std::sync::Arc;
use std::time::Duration;

/// Connects to the `https://` URL's host and port, completes a TLS handshake while
/// accepting any certificate (nothing is sent over it), and returns the chain the
/// server presented, end-entity first, in DER.
pub async fn peek_certificates(url: &str, timeout: Duration) -> Result<Vec<Vec<u8>>, ClientError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| ClientError::Config(format!("invalid url {url:?}: {e}")))?;
    if parsed.scheme() != "https" {
        return Err(ClientError::Config(format!("{url} is not an https:// URL: there is no certificate to read")));
    }
    let host = parsed.host_str().ok_or_else(|| ClientError::Config(format!("the url {url:?} has no host")))?;
    let port = parsed.port_or_known_default().unwrap_or(9699);
    let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
    let server_name = rustls::pki_types::ServerName::try_from(host.clone())
        .map_err(|e| ClientError::Config(format!("invalid server name {host:?}: {e}")))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls_config(&Trust::Insecure)?));
    let handshake = async {
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| ClientError::Transport(format!("connecting to {host}:{port}: {e}")))?;
        let tls = connector
            .connect(server_name, tcp)
            .await
            .map_err(|e| ClientError::Transport(format!("TLS handshake with {host}:{port}: {e}")))?;
        let (_, session) = tls.get_ref();
        Ok(session.peer_certificates().unwrap_or_default().iter().map(|c| c.as_ref().to_vec()).collect::<Vec<_>>())
    };
    let chain = tokio::time::timeout(timeout, handshake).await.map_err(|_| ClientError::Timeout)??;
    if chain.is_empty() {
        return Err(ClientError::Transport(format!("{host}:{port} presented no certificate")));
    }
    Ok(chain)
}
