//! The receiver's listener: accepts TCP (or TLS with a self-signed certificate made at
//! start) and serves HTTP/1.1 with keep-alive, until its handle is shut down or dropped.
//! It knows nothing of what it serves: the HEC and Sentinel stand-ins hand it their
//! request handler.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

/// A reply, or "close the connection without one" (a scripted disconnect).
pub(crate) type Answer = Result<Response<Full<Bytes>>, Dropped>;

/// What a stand-in answers a request with.
pub(crate) type Handler = Arc<dyn Fn(Request<Incoming>) -> Pin<Box<dyn Future<Output = Answer> + Send>> + Send + Sync>;

/// The connection is to be closed without answering.
#[derive(Debug)]
pub(crate) struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("scripted disconnect")
    }
}

impl std::error::Error for Dropped {}

/// A serving receiver. Dropping it stops the server and closes its connections.
#[derive(Debug)]
pub struct RunningReceiver {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`: what a sink's `url` is set to.
    pub base_url: String,
    /// TLS only: the self-signed certificate, in PEM (a sink's `tls.ca_file`).
    pub cert_pem: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl RunningReceiver {
    /// TLS only: the SHA-256 of the certificate, as a sink's `tls.fingerprint` takes it.
    pub fn fingerprint(&self) -> Option<String> {
        use rustls::pki_types::pem::PemObject;
        let pem = self.cert_pem.as_ref()?;
        let der = rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).ok()?;
        Some(netwrix::client::trust::fingerprint_of(&der))
    }

    /// Stops accepting, closes every connection and waits until the server is gone.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningReceiver {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Serves `handler` on `addr` (HTTPS with a self-signed certificate when `tls`).
pub(crate) async fn start(handler: Handler, tls: bool, addr: SocketAddr) -> std::io::Result<RunningReceiver> {
    let (acceptor, cert_pem) = if tls {
        let (a, pem) = self_signed()?;
        (Some(a), Some(pem))
    } else {
        (None, None)
    };
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let host = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    let base_url = format!("{scheme}://{}", SocketAddr::new(host, addr.port()));
    let (stop_tx, stop_rx) = oneshot::channel();
    let task = tokio::spawn(accept_loop(listener, handler, acceptor, stop_rx));
    Ok(RunningReceiver { addr, base_url, cert_pem, stop: Some(stop_tx), task: Some(task) })
}

/// A certificate for `127.0.0.1`, `::1` and `localhost`, and the acceptor presenting it.
fn self_signed() -> std::io::Result<(TlsAcceptor, String)> {
    let names = vec!["127.0.0.1".to_string(), "::1".to_string(), "localhost".to_string()];
    let certified = rcgen::generate_simple_self_signed(names).map_err(std::io::Error::other)?;
    let cert: CertificateDer<'static> = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .map_err(std::io::Error::other)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((TlsAcceptor::from(Arc::new(config)), certified.cert.pem()))
}

async fn accept_loop(
    listener: TcpListener,
    handler: Handler,
    tls: Option<TlsAcceptor>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    connections.spawn(serve_connection(stream, handler.clone(), tls.clone()));
                }
                Err(e) => {
                    tracing::debug!(error = %e, "receiver: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

async fn serve_connection(stream: TcpStream, handler: Handler, tls: Option<TlsAcceptor>) {
    let service = service_fn(move |req| handler(req));
    let mut http = http1::Builder::new();
    http.keep_alive(true);
    let result = match tls {
        None => http.serve_connection(TokioIo::new(stream), service).await,
        Some(acceptor) => match acceptor.accept(stream).await {
            Ok(stream) => http.serve_connection(TokioIo::new(stream), service).await,
            Err(e) => {
                tracing::debug!(error = %e, "receiver: TLS handshake failed");
                return;
            }
        },
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "receiver: connection ended with an error");
    }
}
