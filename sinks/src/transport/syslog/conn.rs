//! One connection to a syslog receiver: a connected UDP socket, a TCP stream, or TLS
//! over TCP; how it is opened, checked and written.

use super::config::Protocol;
use super::Target;
use crate::SinkError;
use rustls::pki_types::ServerName;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// An open connection.
pub(crate) enum Conn {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Conn {
    /// Resolves the address and connects; on TLS, completes the handshake.
    pub(crate) async fn connect(target: &Target, tls: Option<Arc<rustls::ClientConfig>>) -> Result<Conn, SinkError> {
        let address = &target.address;
        let fail = |doing: &str, e: io::Error| {
            SinkError::transient(format!("syslog to {address} ({}): {doing}", target.protocol)).caused_by(e)
        };
        let addr = resolve(target).await.map_err(|e| fail("resolving the address", e))?;
        match target.protocol {
            Protocol::Udp => {
                let local: SocketAddr = if addr.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
                let socket = UdpSocket::bind(local).await.map_err(|e| fail("opening a UDP socket", e))?;
                socket.connect(addr).await.map_err(|e| fail("connecting", e))?;
                Ok(Conn::Udp(socket))
            }
            Protocol::Tcp | Protocol::Tls => {
                let tcp = within(target.connect_timeout, TcpStream::connect(addr))
                    .await
                    .map_err(|e| fail("connecting", e))?;
                // Batches are written whole and flushed; nothing is gained by delaying the tail.
                let _ = tcp.set_nodelay(true);
                let Some(config) = tls else { return Ok(Conn::Tcp(tcp)) };
                let name =
                    target.tls.as_ref().and_then(|t| t.server_name.clone()).unwrap_or_else(|| address.host.clone());
                let server_name = ServerName::try_from(name.clone()).map_err(|e| {
                    SinkError::fatal(format!("syslog to {address}: TLS server name {name:?}")).caused_by(e)
                })?;
                let stream = within(target.connect_timeout, TlsConnector::from(config).connect(server_name, tcp))
                    .await
                    .map_err(|e| {
                        let text = format!("syslog to {address} (TLS): handshake");
                        // An untrusted or mismatched certificate waits for a person.
                        if e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()).is_some_and(|r| {
                            matches!(r, rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented)
                        }) {
                            SinkError::fatal(text)
                        } else {
                            SinkError::transient(text)
                        }
                        .caused_by(e)
                    })?;
                Ok(Conn::Tls(Box::new(stream)))
            }
        }
    }

    /// Whether the peer has not closed the stream. A syslog receiver never sends, so
    /// anything readable now is an end of stream or an error; pending means open.
    /// (Whatever it did send is read and dropped.) UDP has no such state: always true.
    pub(crate) async fn is_open(&mut self) -> bool {
        let mut scratch = [0u8; 512];
        let read = match self {
            Conn::Udp(_) => return true,
            Conn::Tcp(s) => tokio::time::timeout(Duration::ZERO, s.read(&mut scratch)).await,
            // Through TLS, so records the server may send (session tickets, close_notify)
            // are processed rather than torn out of the stream.
            Conn::Tls(s) => tokio::time::timeout(Duration::ZERO, s.read(&mut scratch)).await,
        };
        !matches!(read, Ok(Ok(0)) | Ok(Err(_)))
    }

    /// Writes `bytes` whole and flushes.
    pub(crate) async fn write_all_flush(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Conn::Udp(s) => s.send(bytes).await.map(|_| ()),
            Conn::Tcp(s) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
            Conn::Tls(s) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
        }
    }

    /// Closes politely (TLS close_notify, TCP FIN), ignoring errors.
    pub(crate) async fn close(self) {
        match self {
            Conn::Udp(_) => {}
            Conn::Tcp(mut s) => {
                let _ = within(Duration::from_secs(5), s.shutdown()).await;
            }
            Conn::Tls(mut s) => {
                let _ = within(Duration::from_secs(5), s.shutdown()).await;
            }
        }
    }
}

async fn resolve(target: &Target) -> io::Result<SocketAddr> {
    let addr = &target.address;
    let mut found = within(target.connect_timeout, tokio::net::lookup_host((addr.host.as_str(), addr.port))).await?;
    found.next().ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the name resolves to no address"))
}

/// `f` within `limit`, a timeout being an `io::Error`.
async fn within<T>(limit: Duration, f: impl std::future::Future<Output = io::Result<T>>) -> io::Result<T> {
    match tokio::time::timeout(limit, f).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, format!("no answer within {limit:?}"))),
    }
}
