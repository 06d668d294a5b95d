//! The emulator's HTTP server: accepts TCP (or TLS) connections and serves HTTP/1.1 with
//! keep-alive on each, until its [`RunningEmulator`] handle is shut down or dropped.

use super::auth::ConnAuth;
use super::{routes, tls, Inner};
use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

/// A serving emulator: where it listens and, in TLS mode, the certificate it presents.
/// Dropping it stops the server and closes its connections.
#[derive(Debug)]
pub struct RunningEmulator {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    pub base_url: String,
    /// TLS only: SHA-256 of the DER certificate, lower-case hex.
    pub fingerprint: Option<String>,
    /// TLS only: the certificate in PEM.
    pub cert_pem: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl RunningEmulator {
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

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Binds `addr` and spawns the accept loop.
pub(crate) async fn start(inner: Arc<Inner>, addr: SocketAddr) -> std::io::Result<RunningEmulator> {
    let tls = if inner.config.tls { Some(tls::make()?) } else { None };
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let host = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let base_url = format!("{scheme}://{}", SocketAddr::new(host, addr.port()));
    let (fingerprint, cert_pem, acceptor) = match tls {
        Some(t) => (Some(t.fingerprint), Some(t.cert_pem), Some(t.acceptor)),
        None => (None, None, None),
    };
    let (stop_tx, stop_rx) = oneshot::channel();
    let task = tokio::spawn(accept_loop(listener, inner, acceptor, stop_rx));
    Ok(RunningEmulator { addr, base_url, fingerprint, cert_pem, stop: Some(stop_tx), task: Some(task) })
}

/// Accepts until told to stop (or the handle is dropped); the connections are owned by a
/// `JoinSet`, so they end with the loop.
async fn accept_loop(
    listener: TcpListener,
    inner: Arc<Inner>,
    tls: Option<TlsAcceptor>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    // Small requests and replies on a kept-alive connection: no Nagle delays.
                    let _ = stream.set_nodelay(true);
                    connections.spawn(serve_connection(stream, inner.clone(), tls.clone()));
                }
                Err(e) => {
                    tracing::debug!(error = %e, "emulator: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

async fn serve_connection(stream: TcpStream, inner: Arc<Inner>, tls: Option<TlsAcceptor>) {
    // NTLM and Negotiate authenticate a connection: their handshake state lives here.
    let conn = Arc::new(std::sync::Mutex::new(ConnAuth::default()));
    let service = service_fn(move |req| routes::handle(inner.clone(), conn.clone(), req));
    let mut http = http1::Builder::new();
    http.keep_alive(true);
    let result = match tls {
        None => http.serve_connection(TokioIo::new(stream), service).await,
        Some(acceptor) => match acceptor.accept(stream).await {
            Ok(stream) => http.serve_connection(TokioIo::new(stream), service).await,
            Err(e) => {
                tracing::debug!(error = %e, "emulator: TLS handshake failed");
                return;
            }
        },
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "emulator: connection ended with an error");
    }
}

/// A response body sent in one piece, with an exact length (so `Content-Length` is set);
/// or, for the `reset` fault, a body that announces its full length, sends half of it and
/// then fails, so hyper closes the connection mid-body.
#[derive(Debug, Default)]
pub(crate) struct FullBody {
    data: Option<Bytes>,
    /// `reset`: the length announced, and whether the part was already sent.
    cut: Option<(u64, bool)>,
}

impl FullBody {
    pub(crate) fn empty() -> Self {
        FullBody::default()
    }

    /// A body announced as `body.len()` bytes of which only the first half is sent.
    pub(crate) fn cut_in_half(body: Vec<u8>) -> Self {
        let full = body.len() as u64;
        let mut part = body;
        part.truncate(part.len() / 2);
        FullBody { data: Some(Bytes::from(part)), cut: Some((full, false)) }
    }
}

impl From<Vec<u8>> for FullBody {
    fn from(v: Vec<u8>) -> Self {
        if v.is_empty() {
            FullBody::default()
        } else {
            FullBody { data: Some(Bytes::from(v)), cut: None }
        }
    }
}

impl hyper::body::Body for FullBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(data) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        match &mut self.cut {
            Some((_, done @ false)) => {
                *done = true;
                Poll::Ready(Some(Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "injected reset"))))
            }
            _ => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.cut.is_none_or(|(_, done)| done)
    }

    fn size_hint(&self) -> SizeHint {
        match self.cut {
            Some((full, _)) => SizeHint::with_exact(full),
            None => SizeHint::with_exact(self.data.as_ref().map_or(0, |b| b.len() as u64)),
        }
    }
}
