//! The KDC transport `sspi` asks for its AS and TGS exchanges: Kerberos over TCP
//! (RFC 4120 §7.2.2). Ours rather than `sspi`'s `network_client` feature, which would
//! bring a second reqwest (0.12) into the build for these few lines.
//!
//! `sspi` frames the request (4-byte big-endian length first) and expects the answer framed
//! the same way. It runs synchronously, inside `tokio::task::spawn_blocking`.
//!
//! It also keeps what the ticket cache needs (`super::cache`): the replies of one login, and
//! the job's count of AS and TGS requests (logged, so that a reused ticket can be seen to
//! cost the KDC nothing).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// Every reply of this login, without its length prefix, in order.
    replies: Arc<Mutex<Vec<Vec<u8>>>>,
    /// The job's requests so far (shared by all its logins).
    counts: Arc<KdcCounts>,
}

/// How many AS and TGS requests a job sent to its KDC.
#[derive(Debug, Default)]
pub(crate) struct KdcCounts {
    as_requests: AtomicU64,
    tgs_requests: AtomicU64,
}

impl KdcCounts {
    /// `(AS requests, TGS requests)`.
    pub fn get(&self) -> (u64, u64) {
        (self.as_requests.load(Ordering::Relaxed), self.tgs_requests.load(Ordering::Relaxed))
    }
}

/// The DER tags of the KDC requests (RFC 4120 §5.4.1: APPLICATION 10 and 12).
const AS_REQ_TAG: u8 = 0x6a;
const TGS_REQ_TAG: u8 = 0x6c;

impl TcpKdc {
    /// A transport for one login, counting into the job's `counts`.
    pub fn new(counts: Arc<KdcCounts>) -> TcpKdc {
        TcpKdc { counts, ..TcpKdc::default() }
    }

    pub fn skew_seconds(&self) -> Option<i64> {
        *self.skew.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The replies of this login so far (KRB-ERRORs included).
    pub fn replies(&self) -> Vec<Vec<u8>> {
        self.replies.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn count(&self, framed: &[u8]) {
        let (kind, counter) = match framed.get(4) {
            Some(&AS_REQ_TAG) => ("AS-REQ", &self.counts.as_requests),
            Some(&TGS_REQ_TAG) => ("TGS-REQ", &self.counts.tgs_requests),
            _ => return,
        };
        let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::debug!(kind, n, "KDC request");
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
        self.count(&request.data);
        for address in addresses {
            match TcpStream::connect_timeout(&address, CONNECT_TIMEOUT) {
                Ok(stream) => {
                    let reply =
                        exchange(stream, &request.data).map_err(|e| unreachable(format!("KDC {address}: {e}")))?;
                    let unframed = reply.get(4..).unwrap_or_default();
                    self.note(unframed);
                    self.replies.lock().unwrap_or_else(|e| e.into_inner()).push(unframed.to_vec());
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
