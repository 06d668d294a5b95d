//! Request handling: routing, authentication, query parameters, and the enum, search and
//! write endpoints with the status codes and bodies of spec §5.
//!
//! Order of checks: authentication (401, every path), path (404), method (405), then per
//! endpoint the body size (413), an injected fault (enum/search), `count` (400 InputError),
//! and the body (malformed JSON 500 empty; malformed or schema-invalid XML/JSON 400 XMLError;
//! a mark that cannot be read 400 InputError).

use super::auth::{ConnAuth, Verdict};
use super::faults::{truncate_mid_element, Fault};
use super::marks::{self, MarkKind};
use super::server::FullBody;
use super::store::check_input;
use super::Inner;
use crate::errorlist::ErrorList;
use crate::format::{DecodeError, Format, Page};
use crate::API_PREFIX;
use hyper::body::{Body as _, Incoming};
use hyper::header::{HeaderValue, ALLOW, CONTENT_LENGTH, CONTENT_TYPE, SERVER, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode};
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// The documented default batch size.
const DEFAULT_COUNT: usize = 1_000;
/// The documented description of a non-integer `count` (spec §5).
const BAD_COUNT: &str =
    "Invalid count parameter specified. Error details: 0x80040204 Cannot convert the attribute data type";
/// The emulator's description of a zero or negative `count` (the real answer is unknown).
const NON_POSITIVE_COUNT: &str =
    "Invalid count parameter specified. Error details: 0x80070057 The parameter must be a positive integer";

type Reply = Response<FullBody>;
/// A refusal on the way to an answer (boxed: errors are rare, and the happy path stays small).
type Refused = Box<Reply>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Enum,
    Search,
    Write,
}

/// Answers one request on a connection whose NTLM handshake state is `conn`.
/// Never fails: every problem is an HTTP status.
pub(crate) async fn handle(
    inner: Arc<Inner>,
    conn: Arc<Mutex<ConnAuth>>,
    req: Request<Incoming>,
) -> Result<Reply, Infallible> {
    let (parts, body) = req.into_parts();
    let mut final_token = None;
    if let Some(checker) = &inner.auth {
        let uri = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        match checker.check(&conn, &parts.method, uri, &parts.headers) {
            Verdict::Allowed(token) => final_token = token,
            Verdict::Refused(challenges) => {
                // Read the body so the connection stays usable for the next leg.
                let _ = read_body(body, inner.config.write_limit_bytes, None).await;
                let mut reply = empty(StatusCode::UNAUTHORIZED);
                for challenge in challenges {
                    reply.headers_mut().append(WWW_AUTHENTICATE, challenge);
                }
                return Ok(reply);
            }
        }
    }
    let mut reply = answer(inner, parts, body).await;
    if let Some(token) = final_token {
        reply.headers_mut().append(WWW_AUTHENTICATE, token);
    }
    Ok(reply)
}

/// Answers an authenticated request.
async fn answer(inner: Arc<Inner>, parts: hyper::http::request::Parts, body: Incoming) -> Reply {
    let Some(endpoint) = route(parts.uri.path()) else {
        return empty(StatusCode::NOT_FOUND);
    };
    let allowed = match endpoint {
        Endpoint::Enum => parts.method == Method::GET || parts.method == Method::POST,
        Endpoint::Search | Endpoint::Write => parts.method == Method::POST,
    };
    if !allowed {
        let mut reply = empty(StatusCode::METHOD_NOT_ALLOWED);
        let allow = if endpoint == Endpoint::Enum { "GET, POST" } else { "POST" };
        reply.headers_mut().insert(ALLOW, HeaderValue::from_static(allow));
        return reply;
    }
    let query = Query::parse(parts.uri.query(), inner.config.max_count);
    let limit = inner.config.write_limit_bytes;
    let declared =
        parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return empty(StatusCode::PAYLOAD_TOO_LARGE);
    }
    if endpoint == Endpoint::Write {
        let body = match read_body(body, limit, declared).await {
            Ok(b) => b,
            Err(reply) => return *reply,
        };
        return write(&inner, query.format, &body);
    }

    let n = inner.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let format = query.format;
    let (mut malformed, mut reset) = (false, false);
    match inner.faults.take(n) {
        None => {}
        Some(Fault::Status(code)) => return empty(status(code)),
        Some(Fault::Errors(code, list)) => return errors(status(code), format, &list),
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        Some(Fault::MalformedBody) => malformed = true,
        Some(Fault::Reset) => reset = true,
    }
    let count = match query.count {
        Ok(c) => c,
        Err(description) => return errors(StatusCode::BAD_REQUEST, format, &ErrorList::one("InputError", description)),
    };
    let body = if parts.method == Method::POST {
        match read_body(body, limit, declared).await {
            Ok(b) => b,
            Err(reply) => return *reply,
        }
    } else {
        Vec::new()
    };
    let served = match endpoint {
        Endpoint::Enum if parts.method == Method::GET => Ok(enum_page(&inner, 0, count)),
        Endpoint::Enum => enum_position(format, &body).map(|pos| enum_page(&inner, pos, count)),
        _ => search_page(&inner, format, &body, count),
    };
    let page = match served {
        Ok(page) => page,
        Err(reply) => return *reply,
    };
    let mut out = Vec::with_capacity(inner.page_hint.load(Ordering::Relaxed));
    format.encode_page(&page, &mut out);
    inner.page_hint.store(out.len() + out.len() / 8 + 256, Ordering::Relaxed);
    if malformed {
        truncate_mid_element(&mut out);
    }
    if reset {
        let mut reply = with_type(StatusCode::OK, format, Vec::new());
        *reply.body_mut() = FullBody::cut_in_half(out);
        return reply;
    }
    with_type(StatusCode::OK, format, out)
}

/// The endpoint a path names: exact paths, case-insensitive (as HTTP.sys matches URLs),
/// with or without a trailing slash.
fn route(path: &str) -> Option<Endpoint> {
    let prefix = path.get(..API_PREFIX.len())?;
    if !prefix.eq_ignore_ascii_case(API_PREFIX) {
        return None;
    }
    let rest = &path[API_PREFIX.len()..];
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() {
        Some(Endpoint::Write)
    } else if rest.eq_ignore_ascii_case("/enum") {
        Some(Endpoint::Enum)
    } else if rest.eq_ignore_ascii_case("/search") {
        Some(Endpoint::Search)
    } else {
        None
    }
}

/// `?format=` and `?count=`, in any order; unknown parameters are ignored.
struct Query {
    format: Format,
    /// The batch size, or the ErrorList description for a bad value.
    count: Result<usize, &'static str>,
}

impl Query {
    fn parse(query: Option<&str>, max_count: Option<usize>) -> Query {
        let mut format = Format::Xml;
        let mut count = Ok(DEFAULT_COUNT);
        for pair in query.unwrap_or("").split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if key.eq_ignore_ascii_case("format") {
                format = if value.trim().eq_ignore_ascii_case("json") { Format::Json } else { Format::Xml };
            } else if key.eq_ignore_ascii_case("count") {
                count = match value.trim().parse::<i128>() {
                    Err(_) => Err(BAD_COUNT),
                    Ok(n) if n <= 0 => Err(NON_POSITIVE_COUNT),
                    Ok(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
                };
            }
        }
        let count = count.map(|c| max_count.map_or(c, |max| c.min(max.max(1))));
        Query { format, count }
    }
}

/// Reads a request body of at most `limit` bytes; more gives 413.
async fn read_body(body: Incoming, limit: usize, declared: Option<u64>) -> Result<Vec<u8>, Refused> {
    let capacity = declared.map_or(0, |n| usize::try_from(n).unwrap_or(limit).min(limit));
    let mut out = Vec::with_capacity(capacity);
    let mut body = std::pin::pin!(body);
    while let Some(frame) = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
        let frame = frame.map_err(|_| Box::new(empty(StatusCode::BAD_REQUEST)))?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > limit {
                return Err(Box::new(empty(StatusCode::PAYLOAD_TOO_LARGE)));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

/// A page of the enum endpoint from store position `pos`.
fn enum_page(inner: &Inner, pos: usize, count: usize) -> Page {
    let (records, next) = inner.store.page(pos, count);
    Page { records, mark: Some(marks::encode(MarkKind::Enum, next)) }
}

/// The position a `POST …/enum` body resumes from.
fn enum_position(format: Format, body: &[u8]) -> Result<usize, Refused> {
    let token = decode(format, body, Format::decode_mark)?;
    marks::decode(MarkKind::Enum, &token).map_err(|e| Box::new(bad_mark(format, &e)))
}

/// A page of the search endpoint: the filters evaluated from the mark's position on.
fn search_page(inner: &Inner, format: Format, body: &[u8], count: usize) -> Result<Page, Refused> {
    let search = decode(format, body, Format::decode_search)?;
    let matcher = search
        .matcher(&inner.config.groups, chrono::Utc::now())
        .map_err(|e| Box::new(errors(StatusCode::BAD_REQUEST, format, &schema_error(&e.to_string()))))?;
    let pos = match search.mark.as_deref().map(str::trim) {
        None | Some("") => 0,
        Some(token) => marks::decode(MarkKind::Search, token).map_err(|e| Box::new(bad_mark(format, &e)))?,
    };
    let (records, next) = inner.store.search(pos, count, &matcher);
    Ok(Page { records, mark: Some(marks::encode(MarkKind::Search, next)) })
}

/// The write endpoint: decode, check the input schema, store.
fn write(inner: &Inner, format: Format, body: &[u8]) -> Reply {
    let records = match decode(format, body, Format::decode_records) {
        Ok(r) => r,
        Err(reply) => return *reply,
    };
    if let Err(problem) = check_input(&records) {
        return errors(StatusCode::BAD_REQUEST, format, &schema_error(&problem));
    }
    inner.store.write(records);
    let mut reply = empty(StatusCode::OK);
    reply.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    reply
}

/// Decodes a request body the way the server fails on bad ones: JSON that is not even
/// well-formed gives 500 with an empty body; anything else that does not decode gives
/// 400 with an `XMLError` ErrorList (the server validates against its XSD schemas).
fn decode<T>(format: Format, body: &[u8], decoder: fn(Format, &[u8]) -> Result<T, DecodeError>) -> Result<T, Refused> {
    if format == Format::Json && serde_json::from_slice::<serde::de::IgnoredAny>(body).is_err() {
        return Err(Box::new(empty(StatusCode::INTERNAL_SERVER_ERROR)));
    }
    if format == Format::Xml && body.iter().all(u8::is_ascii_whitespace) {
        return Err(Box::new(errors(
            StatusCode::BAD_REQUEST,
            format,
            &schema_error("the request has no XML document"),
        )));
    }
    decoder(format, body).map_err(|e| Box::new(errors(StatusCode::BAD_REQUEST, format, &schema_error(&e.to_string()))))
}

fn schema_error(detail: &str) -> ErrorList {
    ErrorList::one("XMLError", &format!("The post data does not match the schema: {detail}"))
}

fn bad_mark(format: Format, e: &marks::MarkError) -> Reply {
    let list = ErrorList::one("InputError", &format!("Invalid continuation mark specified. Error details: {e}"));
    errors(StatusCode::BAD_REQUEST, format, &list)
}

/// An injected status; one that is not a valid HTTP status becomes 500.
fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn empty(status: StatusCode) -> Reply {
    let mut reply = Response::new(FullBody::empty());
    *reply.status_mut() = status;
    reply.headers_mut().insert(SERVER, HeaderValue::from_static("Microsoft-HTTPAPI/2.0"));
    reply
}

fn with_type(status: StatusCode, format: Format, body: Vec<u8>) -> Reply {
    let mut reply = Response::new(FullBody::from(body));
    *reply.status_mut() = status;
    let headers = reply.headers_mut();
    headers.insert(SERVER, HeaderValue::from_static("Microsoft-HTTPAPI/2.0"));
    let content_type = match format {
        Format::Xml => "application/xml",
        Format::Json => "application/json",
    };
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    reply
}

fn errors(status: StatusCode, format: Format, list: &ErrorList) -> Reply {
    let mut out = Vec::with_capacity(512);
    format.encode_errors(list, &mut out);
    with_type(status, format, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_queries() {
        assert_eq!(route("/netwrix/api/v1/activity_records/enum"), Some(Endpoint::Enum));
        assert_eq!(route("/netwrix/api/v1/activity_records/Search/"), Some(Endpoint::Search));
        assert_eq!(route("/netwrix/api/v1/activity_records/"), Some(Endpoint::Write));
        assert_eq!(route("/netwrix/api/v1/activity_records"), Some(Endpoint::Write));
        assert_eq!(route("/netwrix/api/v1/mynewendpoint/"), None);
        assert_eq!(route("/netwrix/api/v1/activity_records/enumx"), None);
        assert_eq!(route("/"), None);
        let q = Query::parse(Some("count=5&format=json"), None);
        assert_eq!((q.format, q.count), (Format::Json, Ok(5)));
        let q = Query::parse(Some("format=json&count=1500"), Some(1000));
        assert_eq!((q.format, q.count), (Format::Json, Ok(1000)));
        assert_eq!(Query::parse(Some("count=FIVE"), None).count, Err(BAD_COUNT));
        assert_eq!(Query::parse(Some("count=0"), None).count, Err(NON_POSITIVE_COUNT));
        assert_eq!(Query::parse(Some("count=-3"), None).count, Err(NON_POSITIVE_COUNT));
        assert_eq!(Query::parse(None, None).count, Ok(1000));
    }
}
