//! The four API calls, and [`Client::send`]: the one place a request is built, authenticated,
//! sent, timed, logged, and its response read and turned into a value or a [`ClientError`].

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use hyper_util::client::legacy::connect::HttpInfo;
use reqwest::header::{HeaderMap, CONTENT_TYPE, LOCATION};
use reqwest::{Method, StatusCode, Url};

use super::auth::{AuthStep, Challenge, RequestInfo};
use super::error::causes;
use super::error::ClientError;
use super::trust::find_mismatch;
use super::Client;
use crate::errorlist::ErrorList;
use crate::format::{DecodeError, Format, Page};
use crate::model::ActivityRecord;
use crate::search::SearchRequest;

/// At most this many legs per request: `auto`'s bare request, then NTLM's two legs, again
/// for each restart after a change of connection (`super::ntlm::RESTARTS`); guards against
/// a server that challenges forever.
const MAX_AUTH_LEGS: usize = 1 + 2 * (1 + super::ntlm::RESTARTS as usize);

/// How much of an unexpected body goes into an error.
const BODY_SNIPPET_CHARS: usize = 512;

/// The category given to an error body the server sent that is not a readable ErrorList.
pub const UNPARSED_CATEGORY: &str = "UnparsedBody";

impl Client {
    /// The first page of all records: `GET …/activity_records/enum`.
    pub async fn first_page(&self) -> Result<Page, ClientError> {
        let format = self.inner.format;
        let page = self.send(Method::GET, &self.inner.enum_url, None, |body| format.decode_page_shared(body)).await?;
        self.within_field_limit(page)
    }

    /// The page after `mark`: `POST …/activity_records/enum` with the mark as the body.
    pub async fn next_page(&self, mark: &str) -> Result<Page, ClientError> {
        let format = self.inner.format;
        let mut body = Vec::new();
        format.encode_mark(mark, &mut body);
        let page = self
            .send(Method::POST, &self.inner.enum_url, Some(body.into()), |body| format.decode_page_shared(body))
            .await?;
        self.within_field_limit(page)
    }

    /// A page of matching records: `POST …/activity_records/search`. The filters travel
    /// with every call; set `search.mark` to the previous page's mark to continue.
    pub async fn search(&self, search: &SearchRequest) -> Result<Page, ClientError> {
        let format = self.inner.format;
        let mut body = Vec::new();
        format.encode_search(search, &mut body);
        let page = self
            .send(Method::POST, &self.inner.search_url, Some(body.into()), |body| format.decode_page_shared(body))
            .await?;
        self.within_field_limit(page)
    }

    /// `page`, or [`ClientError::FieldTooLarge`] naming its first value over `max_field_bytes`.
    fn within_field_limit(&self, page: Page) -> Result<Page, ClientError> {
        let limit = self.inner.max_field_bytes;
        for (index, record) in page.records.iter().enumerate() {
            if let Some((field, bytes)) = record.longest_value().filter(|(_, len)| *len > limit) {
                let record = match &record.rid {
                    Some(rid) => format!("{} (RID {})", index + 1, rid.chars().take(64).collect::<String>()),
                    None => (index + 1).to_string(),
                };
                return Err(ClientError::FieldTooLarge { record, field, bytes, limit });
            }
        }
        Ok(page)
    }

    /// Writes records: `POST …/activity_records/`. An empty slice sends nothing.
    pub async fn write(&self, records: &[ActivityRecord]) -> Result<(), ClientError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut body = Vec::new();
        self.inner.format.encode_records(records, &mut body);
        self.send(Method::POST, &self.inner.write_url, Some(body.into()), |_| Ok(())).await
    }

    /// Sends one request through the authentication layer, within the configured timeout
    /// (which covers every leg and the body), and decodes a 2xx body with `decode`.
    async fn send<T>(
        &self,
        method: Method,
        url: &Url,
        body: Option<Bytes>,
        decode: impl FnOnce(Bytes) -> Result<T, DecodeError>,
    ) -> Result<T, ClientError> {
        let started = Instant::now();
        let result = tokio::time::timeout(self.inner.timeout, self.exchange(&method, url, body))
            .await
            .unwrap_or(Err(ClientError::Timeout));
        let result = result.and_then(|reply| self.interpret(reply, decode));
        if let Err(error) = &result {
            tracing::debug!(
                method = %method,
                path = url.path(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                error = %error,
                "netwrix request failed"
            );
        }
        result
    }

    /// The HTTP part of [`Client::send`]: every leg until a non-401 answer, its body read whole.
    async fn exchange(&self, method: &Method, url: &Url, body: Option<Bytes>) -> Result<Reply, ClientError> {
        let uri = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        };
        let mut auth = self.inner.auth.begin(RequestInfo { method, uri: &uri });
        let mut challenge_headers: Option<(StatusCode, HeaderMap, bool)> = None;
        // The local address of the previous leg's connection.
        let mut previous_connection: Option<SocketAddr> = None;
        // The last 401's body: its ErrorList, if any, goes into the error.
        let mut refused = Bytes::new();
        for leg in 1..=MAX_AUTH_LEGS {
            let challenge = challenge_headers.as_ref().map(|(status, headers, connection_changed)| Challenge {
                status: *status,
                headers,
                connection_changed: *connection_changed,
            });
            let authorization = match auth.next(challenge).await? {
                AuthStep::Send(value) => value,
                AuthStep::GiveUp => break,
            };
            let mut request = self.inner.http.request(method.clone(), url.clone());
            if let Some(value) = authorization {
                request = request.header(reqwest::header::AUTHORIZATION, value);
            }
            if let Some(body) = &body {
                request = request.header(CONTENT_TYPE, self.inner.format.content_type()).body(body.clone());
            }
            let started = Instant::now();
            let response = request.send().await.map_err(transport_error)?;
            let status = response.status();
            let headers = response.headers().clone();
            let connection = response.extensions().get::<HttpInfo>().map(HttpInfo::local_addr);
            let connection_changed = matches!((previous_connection, connection), (Some(a), Some(b)) if a != b);
            previous_connection = connection;
            // Read to the end even for a 401, so a connection-bound scheme keeps its connection.
            let bytes = read_limited(response, self.inner.max_page_bytes).await?;
            tracing::debug!(
                method = %method,
                path = %uri,
                status = status.as_u16(),
                bytes = bytes.len(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                leg,
                connection_changed,
                "netwrix request"
            );
            if status != StatusCode::UNAUTHORIZED {
                auth.finish(&headers)?;
                self.note_used(auth.mechanism());
                let location = headers.get(LOCATION).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
                return Ok(Reply { status, location, body: bytes });
            }
            self.note_offered(&headers);
            refused = bytes;
            challenge_headers = Some((status, headers, connection_changed));
        }
        Err(ClientError::Unauthorized {
            scheme: self.inner.auth.scheme().to_string(),
            server: readable_list(error_list(self.inner.format, &refused)),
        })
    }

    /// Maps a final status and body to the call's result (spec §5).
    fn interpret<T>(
        &self,
        reply: Reply,
        decode: impl FnOnce(Bytes) -> Result<T, DecodeError>,
    ) -> Result<T, ClientError> {
        let Reply { status, location, body } = reply;
        if status.is_success() {
            return decode(body).map_err(ClientError::Decode);
        }
        let list = error_list(self.inner.format, &body);
        match status.as_u16() {
            400 => Err(ClientError::BadRequest(list.unwrap_or_default())),
            401 => Err(ClientError::Unauthorized {
                scheme: self.inner.auth.scheme().to_string(),
                server: readable_list(list),
            }),
            403 => Err(ClientError::Forbidden(readable_list(list))),
            404 => Err(ClientError::NotFound(readable_list(list))),
            405 => Err(ClientError::MethodNotAllowed),
            413 => Err(ClientError::TooLarge),
            500 => Err(ClientError::Server(list)),
            503 => Err(ClientError::Unavailable),
            status @ 300..=399 => Err(ClientError::Redirect { status, location }),
            // A readable ErrorList in its own words; anything else as the start of the text.
            other => Err(ClientError::UnexpectedStatus { status: other, body: readable(list) }),
        }
    }
}

/// A final response: its status, where a redirect points, and the body.
struct Reply {
    status: StatusCode,
    location: Option<String>,
    body: Bytes,
}

/// Reads a body to its end, refusing it as soon as it is known to pass `limit` bytes (by
/// its Content-Length, or by what has arrived): memory stays bounded whatever the server
/// sends.
async fn read_limited(mut response: reqwest::Response, limit: usize) -> Result<Bytes, ClientError> {
    let declared = response.content_length().unwrap_or(0);
    if declared > limit as u64 {
        return Err(ClientError::PageTooLarge { limit });
    }
    let mut body = bytes::BytesMut::with_capacity(declared as usize);
    while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
        if body.len() + chunk.len() > limit {
            return Err(ClientError::PageTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Reads an error body: `None` when empty; the ErrorList in the expected format, or in the
/// other one (sniffed from the first byte); else the raw text under [`UNPARSED_CATEGORY`].
pub(crate) fn error_list(expected: Format, body: &[u8]) -> Option<ErrorList> {
    let text = trim_start(body);
    if text.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    if let Ok(list) = expected.decode_errors(body) {
        return Some(list);
    }
    let sniffed = match text.first() {
        Some(b'<') => Some(Format::Xml),
        Some(b'{' | b'[') => Some(Format::Json),
        _ => None,
    };
    if let Some(other) = sniffed.filter(|f| *f != expected) {
        if let Ok(list) = other.decode_errors(text) {
            return Some(list);
        }
    }
    Some(ErrorList::one(UNPARSED_CATEGORY, &snippet(body)))
}

/// `list` when it is a real ErrorList, not a web server's own page (a 401's HTML from IIS
/// or Apache says nothing the status does not).
fn readable_list(list: Option<ErrorList>) -> Option<ErrorList> {
    list.filter(|l| !l.errors.iter().all(|e| e.category == UNPARSED_CATEGORY))
}

/// An error body as text: an ErrorList's entries, or the start of whatever else it was.
fn readable(list: Option<ErrorList>) -> String {
    match list {
        Some(list) if list.errors.iter().all(|e| e.category == UNPARSED_CATEGORY) => {
            list.errors.into_iter().map(|e| e.description).collect::<Vec<_>>().join("; ")
        }
        Some(list) => list.to_string(),
        None => String::new(),
    }
}

/// The body without a UTF-8 byte-order mark or leading white space.
fn trim_start(body: &[u8]) -> &[u8] {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let start = body.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(body.len());
    &body[start..]
}

/// The first [`BODY_SNIPPET_CHARS`] characters of a body, lossily decoded and trimmed.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.trim().chars().take(BODY_SNIPPET_CHARS).collect()
}

/// Maps a reqwest failure: a timeout, or a transport error whose text names the cause
/// (with both fingerprints for a pinned certificate that did not match).
fn transport_error(error: reqwest::Error) -> ClientError {
    if error.is_timeout() {
        return ClientError::Timeout;
    }
    let server = match error.url() {
        Some(url) => format!(" with {}:{}", url.host_str().unwrap_or("?"), url.port_or_known_default().unwrap_or(0)),
        None => String::new(),
    };
    if let Some(mismatch) = find_mismatch(&error) {
        return ClientError::Untrusted(format!("TLS handshake{server} failed: {mismatch}"));
    }
    let chain = causes(&error);
    for cause in &chain {
        if let Some(rustls::Error::InvalidCertificate(cert_error)) = cause.downcast_ref::<rustls::Error>() {
            return ClientError::Untrusted(format!(
                "TLS handshake{server} failed: the server's certificate is not trusted ({cert_error}); \
                 for a self-signed Netwrix certificate pin its fingerprint or give its CA file"
            ));
        }
    }
    let mut text = String::new();
    for cause in chain {
        let message = cause.to_string();
        if !text.ends_with(&message) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&message);
        }
    }
    ClientError::Transport(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_that_are_empty_or_garbage_are_tolerated() {
        assert_eq!(error_list(Format::Json, b""), None);
        assert_eq!(error_list(Format::Xml, b"  \r\n"), None);
        let list = error_list(Format::Json, b"Service Unavailable: not JSON").unwrap();
        assert_eq!(list.errors[0].category, UNPARSED_CATEGORY);
        assert_eq!(list.errors[0].description, "Service Unavailable: not JSON");
    }

    #[test]
    fn snippets_are_cut_at_512_characters() {
        let long = "é".repeat(600);
        assert_eq!(snippet(long.as_bytes()).chars().count(), 512);
        assert_eq!(trim_start(b"\xEF\xBB\xBF  <x/>"), b"<x/>");
    }
}
