//! The KDC transport `sspi` asks for its AS and TGS exchanges: Kerberos over TCP
//! (RFC 4120 §7.2.2). Ours rather than `sspi`'s `network_client` feature, which would
//! bring a second reqwest (0.12) into the build for these few lines.
//!
//! `sspi` frames the request (4-byte big-endian length first) and expects the answer framed
//! the same way. It runs synchronously, inside `tokio::task::spawn_blocking`.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sspi::network_client::NetworkClient;
use sspi::{Error, ErrorKind, NetworkProtocol, NetworkRequest};

/// How long to wait for a KDC to accept the connection (MIT waits 1 s per KDC and retries; one
/// KDC here, so a little longer).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a KDC may take to answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// A KDC reply larger than this is not a reply (tickets with a big PAC are a few KB).
const MAX_REPLY: usize = 1 << 20;

/// KRB_AP_ERR_SKEW (RFC 4120 §7.5.9).
const KRB_AP_ERR_SKEW: u32 = 37;

/// Sends each KDC request over a new TCP connection and reads the one reply.
///
/// It also notes the KDC's clock when the KDC answers "clock skew too great": `sspi` then
/// retries on the KDC's time and gets a ticket, which the server (on this machine's time,
/// more or less) refuses. Knowing the offset turns that refusal into a clock-skew message.
#[derive(Debug, Default, Clone)]
pub(crate) struct TcpKdc {
    /// KDC time minus local time, in seconds, from the last KRB_AP_ERR_SKEW.
    pub skew: Arc<Mutex<Option<i64>>>,
}

impl TcpKdc {
    pub fn skew_seconds(&self) -> Option<i64> {
        *self.skew.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn note(&self, reply: &[u8]) {
        let Ok(error) = picky_asn1_der::from_bytes::<picky_krb::messages::KrbError>(reply) else {
            return;
        };
        if error.0.error_code.0 != KRB_AP_ERR_SKEW {
            return;
        }
        let t = &error.0.stime.0 .0;
        let kdc = chrono::NaiveDate::from_ymd_opt(t.year().into(), t.month().into(), t.day().into())
            .and_then(|d| d.and_hms_opt(t.hour().into(), t.minute().into(), t.second().into()));
        if let Some(kdc) = kdc {
            let offset = kdc.and_utc().timestamp() - chrono::Utc::now().timestamp();
            *self.skew.lock().unwrap_or_else(|e| e.into_inner()) = Some(offset);
        }
    }
}

fn unreachable(what: String) -> Error {
    Error::new(ErrorKind::NoAuthenticatingAuthority, what)
}

impl NetworkClient for TcpKdc {
    fn send(&self, request: &NetworkRequest) -> sspi::Result<Vec<u8>> {
        if request.protocol != NetworkProtocol::Tcp {
            return Err(unreachable(format!(
                "the KDC address {} is not tcp:// (only Kerberos over TCP is spoken)",
                request.url
            )));
        }
        let host = request.url.host_str().unwrap_or_default();
        let port = request.url.port().unwrap_or(88);
        let addresses = (host, port).to_socket_addrs().map_err(|e| unreachable(format!("KDC {host}:{port}: {e}")))?;
        let mut last = unreachable(format!("KDC {host}:{port}: the name has no address"));
        for address in addresses {
            match TcpStream::connect_timeout(&address, CONNECT_TIMEOUT) {
                Ok(stream) => {
                    let reply =
                        exchange(stream, &request.data).map_err(|e| unreachable(format!("KDC {address}: {e}")))?;
                    self.note(reply.get(4..).unwrap_or_default());
                    return Ok(reply);
                }
                Err(e) => last = unreachable(format!("KDC {address}: {e}")),
            }
        }
        Err(last)
    }
}

fn exchange(mut stream: TcpStream, framed: &[u8]) -> std::io::Result<Vec<u8>> {
    stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
    stream.set_write_timeout(Some(ANSWER_TIMEOUT))?;
    stream.write_all(framed)?;
    let mut length = [0u8; 4];
    stream.read_exact(&mut length)?;
    let len = u32::from_be_bytes(length) as usize;
    if len > MAX_REPLY {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("a reply of {len} bytes")));
    }
    let mut reply = vec![0u8; 4 + len];
    reply[..4].copy_from_slice(&length);
    stream.read_exact(&mut reply[4..])?;
    Ok(reply)
}
