//! Syslog transport: RFC 5424 / RFC 3164 headers, and delivery over UDP (RFC 5426),
//! TCP with octet counting (RFC 6587) or LF framing, and TLS (RFC 5425).
//!
//! A sink builds each message as header + MSG ([`header`]) into one buffer and hands
//! the batch to a [`Transport`], which frames it ([`frame`]) and writes it with one
//! write and one flush on a stream, or one datagram per message on UDP. The transport
//! keeps its connection between batches, checks before each batch that the peer has
//! not closed it, and connects again when it has; the delivery loop's `[retry]` backoff
//! paces the attempts while the peer is down. What "written and flushed" does and does
//! not guarantee is in `docs/syslog.md`.

pub mod config;
mod conn;
pub mod frame;
pub mod header;
mod tls;

pub use config::{Address, Facility, Framing, Protocol, SyslogSeverity, TlsConfig};
pub use header::{Header, HeaderStyle};

use crate::SinkError;
use conn::Conn;
use std::sync::Arc;
use std::time::Duration;

/// Where and how a transport delivers.
#[derive(Debug, Clone)]
pub struct Target {
    pub address: Address,
    pub protocol: Protocol,
    /// Stream framing (ignored on UDP).
    pub framing: Framing,
    pub connect_timeout: Duration,
    /// The longest a batch's write and flush may take before the connection is dropped.
    pub write_timeout: Duration,
    /// UDP only: a longer message is cut to this many bytes, with a marker.
    pub max_datagram_bytes: usize,
    /// TLS only.
    pub tls: Option<TlsConfig>,
}

/// Delivers batches of syslog messages to one receiver; see the [module docs](self).
pub struct Transport {
    target: Target,
    /// Built on first use (reading the CA and client files), then reused.
    tls: Option<Arc<rustls::ClientConfig>>,
    conn: Option<Conn>,
    /// The framed batch, reused.
    framed: Vec<u8>,
    truncated: u64,
}

/// A framed batch larger than this is freed after use rather than kept.
const MAX_KEPT_BUFFER: usize = 16 << 20;

impl Transport {
    pub fn new(target: Target) -> Self {
        Transport { target, tls: None, conn: None, framed: Vec::new(), truncated: 0 }
    }

    /// The settings this transport was built with.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// How many UDP messages were cut to `max_datagram_bytes` so far.
    pub fn truncated(&self) -> u64 {
        self.truncated
    }

    /// Whether a connection is open now.
    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// Sends the messages of `buf` (message `i` ends at `ends[i]`, the first starts at 0)
    /// and returns once all are written and, on a stream, flushed.
    /// What [`send`](Transport::send) writes for these messages, framed as it frames
    /// them; on UDP each datagram (cut as it would be) then a line feed, since
    /// datagrams carry no framing of their own.
    pub fn wire(&self, buf: &[u8], ends: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut start = 0;
        for &end in ends {
            let msg = &buf[start..end];
            start = end;
            match self.target.protocol {
                Protocol::Udp if msg.len() > self.target.max_datagram_bytes => {
                    frame::cut(msg, self.target.max_datagram_bytes, &mut out);
                    out.push(b'\n');
                }
                Protocol::Udp => {
                    out.extend_from_slice(msg);
                    out.push(b'\n');
                }
                Protocol::Tcp | Protocol::Tls => frame::frame(self.target.framing, msg, &mut out),
            }
        }
        out
    }

    pub async fn send(&mut self, buf: &[u8], ends: &[usize]) -> Result<(), SinkError> {
        if let Some(conn) = &mut self.conn {
            if !conn.is_open().await {
                tracing::info!(peer = %self.target.address, "syslog receiver closed the connection; reconnecting");
                self.conn = None;
            }
        }
        let conn = match &mut self.conn {
            Some(c) => c,
            None => {
                let tls = self.tls_config()?;
                self.conn.insert(Conn::connect(&self.target, tls).await?)
            }
        };
        let result = match conn {
            Conn::Udp(socket) => {
                let (max, mut start) = (self.target.max_datagram_bytes, 0);
                let mut cut = 0;
                let mut result = Ok(());
                for &end in ends {
                    let msg = &buf[start..end];
                    start = end;
                    let datagram = if msg.len() > max {
                        cut += 1;
                        self.framed.clear();
                        frame::cut(msg, max, &mut self.framed);
                        &self.framed[..]
                    } else {
                        msg
                    };
                    if let Err(e) = socket.send(datagram).await {
                        result = Err(e);
                        break;
                    }
                }
                if cut > 0 {
                    self.truncated += cut;
                    tracing::warn!(peer = %self.target.address, cut, total = self.truncated,
                        "syslog over UDP: messages longer than max_datagram_bytes = {max} were cut");
                }
                result
            }
            Conn::Tcp(_) | Conn::Tls(_) => {
                self.framed.clear();
                let mut start = 0;
                for &end in ends {
                    frame::frame(self.target.framing, &buf[start..end], &mut self.framed);
                    start = end;
                }
                let written = tokio::time::timeout(self.target.write_timeout, conn.write_all_flush(&self.framed)).await;
                if self.framed.capacity() > MAX_KEPT_BUFFER {
                    self.framed = Vec::new();
                }
                match written {
                    Ok(r) => r,
                    Err(_) => Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("write not finished within {:?}", self.target.write_timeout),
                    )),
                }
            }
        };
        result.map_err(|e| {
            self.conn = None;
            SinkError::transient(format!("syslog to {} ({}): sending", self.target.address, self.target.protocol))
                .caused_by(e)
        })
    }

    /// Connects (and, on TLS, completes the handshake) without sending anything.
    pub async fn check(&mut self) -> Result<String, SinkError> {
        let tls = self.tls_config()?;
        let conn = Conn::connect(&self.target, tls).await?;
        let what = match conn {
            Conn::Udp(_) => {
                format!("{} resolves (UDP: nothing can confirm a listener without sending)", self.target.address)
            }
            Conn::Tcp(_) => format!("connected to {} over TCP", self.target.address),
            Conn::Tls(_) => format!("connected to {} over TLS, certificate accepted", self.target.address),
        };
        conn.close().await;
        Ok(what)
    }

    /// Closes the connection (a TLS close_notify first).
    pub async fn close(&mut self) {
        if let Some(conn) = self.conn.take() {
            conn.close().await;
        }
    }

    fn tls_config(&mut self) -> Result<Option<Arc<rustls::ClientConfig>>, SinkError> {
        if self.target.protocol != Protocol::Tls {
            return Ok(None);
        }
        if self.tls.is_none() {
            let settings = self.target.tls.clone().unwrap_or_default();
            self.tls = Some(Arc::new(tls::client_config(&settings).map_err(SinkError::fatal)?));
        }
        Ok(self.tls.clone())
    }
}
