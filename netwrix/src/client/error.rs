//! [`ClientError`]: every way a call to the API can fail, typed by what the caller should do
//! about it (retry later, fix the configuration, or give up on a request), and worded for
//! the operator who reads it in a log.

use crate::errorlist::ErrorList;
use crate::format::DecodeError;

/// Why a request to the Integration API failed. The HTTP statuses are those of spec §5;
/// [`ClientError::is_transient`] says which ones are worth retrying.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// 401: the server refused the credentials (or none were configured).
    #[error("HTTP 401 Unauthorized ({scheme}): {}{}", unauthorized_hint(scheme), said(server))]
    Unauthorized {
        /// The authentication scheme that was tried (`Basic`, …; `none` without credentials).
        scheme: String,
        /// The ErrorList of the last refusal, when the server sent one.
        server: Option<ErrorList>,
    },
    /// 403: the account logged in but may not read activity records.
    #[error(
        "HTTP 403 Forbidden: the account is not allowed to use the Integration API; it must be in the \
         Netwrix Auditor Client Users group (or be a Global reviewer){}",
        said(.0)
    )]
    Forbidden(Option<ErrorList>),
    /// 400: the server rejected the request (invalid count, mark or search), with its ErrorList.
    #[error("HTTP 400 Bad Request{}", list_suffix(.0))]
    BadRequest(ErrorList),
    /// 404: the endpoint does not exist, usually a wrong base URL.
    #[error(
        "HTTP 404 Not Found: no Netwrix Integration API at this URL; check the base URL (https://host:9699){}",
        said(.0)
    )]
    NotFound(Option<ErrorList>),
    /// 3xx: the API does not redirect; a proxy or a wrong URL does.
    #[error(
        "HTTP {status} redirect to {}: the Integration API does not redirect; point the job's url at \
         the server itself (a proxy or load balancer in between, or http:// for https://?)",
        location.as_deref().unwrap_or("nowhere (no Location header)")
    )]
    Redirect {
        status: u16,
        /// The `Location` header, when there was one.
        location: Option<String>,
    },
    /// 405: the endpoint does not allow this method.
    #[error("HTTP 405 Method Not Allowed")]
    MethodNotAllowed,
    /// 413: the posted body is over the server's limit.
    #[error("HTTP 413 Payload Too Large: send fewer records per request (Netwrix recommends at most 1,000 and 50 MB)")]
    TooLarge,
    /// 500: licence expired, SQL Server or Archive Service unreachable, or malformed JSON (empty body).
    #[error("HTTP 500 Internal Server Error{}", server_suffix(.0))]
    Server(Option<ErrorList>),
    /// 503: the Archive Service is busy or unreachable.
    #[error("HTTP 503 Service Unavailable: the Netwrix Archive Service is busy or unreachable")]
    Unavailable,
    /// Any other status.
    #[error("unexpected HTTP {status}{}", body_suffix(body))]
    UnexpectedStatus {
        status: u16,
        /// The first 512 characters of the body.
        body: String,
    },
    /// No complete response within the configured timeout.
    #[error("the request timed out (no complete response within the configured timeout)")]
    Timeout,
    /// The connection failed: refused, reset, DNS, or TLS (including a certificate that is not trusted).
    #[error("connection failed: {0}")]
    Transport(String),
    /// The server's TLS certificate is not the trusted one (not signed by a trusted CA, or
    /// not the pinned fingerprint; the text shows both fingerprints). Not retried: it stays
    /// wrong until the configuration (or the server's certificate) changes, and retrying
    /// would keep sending the credentials' first leg towards an unverified peer.
    #[error("the server's certificate is refused: {0}")]
    Untrusted(String),
    /// A 200 response whose body is not a valid page (often a body cut off mid-way).
    #[error("could not decode the response body {0}")]
    Decode(DecodeError),
    /// The response body passed `max_page_bytes`: refused before it was read whole.
    #[error(
        "the server's response passed the limit of {limit} bytes (max_page_bytes) and was refused unread; \
         nothing of it was spooled and the mark stays where it was. If this server's pages really are \
         this large, raise max_page_bytes on the job (or lower count)"
    )]
    PageTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// A record of the page has a value over `max_field_bytes`.
    #[error(
        "record {record} of the page has a {field} of {bytes} bytes, over the limit of {limit} bytes \
         (max_field_bytes); the page was refused, nothing of it was spooled. If such records are \
         genuine, raise max_field_bytes on the job"
    )]
    FieldTooLarge {
        /// The record's position in the page, from 1 (and its RID when it has one).
        record: String,
        /// Which value (Who, What, a detail's After…).
        field: &'static str,
        /// Its size.
        bytes: usize,
        /// The limit, in bytes.
        limit: usize,
    },
    /// The server answered the mark it was sent, with records: following it would ask
    /// for the same page forever.
    #[error(
        "the server answered with the continuation mark it was sent, and {records} records: it is not \
         moving forward, so the job stops instead of asking for the same page forever (a Netwrix \
         server fault, or a proxy caching POST responses); check the server, then restart"
    )]
    StuckMark {
        /// How many records the page had.
        records: usize,
    },
    /// A Kerberos login failed (wrong password, unknown principal, clock skew, no KDC, wrong SPN).
    #[error("Kerberos: {0}")]
    Kerberos(super::kerberos::KerberosError),
    /// The client configuration is unusable (bad URL, unreadable CA file, bad fingerprint…).
    #[error("invalid client configuration: {0}")]
    Config(String),
}

impl ClientError {
    /// The HTTP status this error stands for, if it came from a response.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Unauthorized { .. } => Some(401),
            ClientError::BadRequest(_) => Some(400),
            ClientError::Forbidden(_) => Some(403),
            ClientError::NotFound(_) => Some(404),
            ClientError::Redirect { status, .. } => Some(*status),
            ClientError::MethodNotAllowed => Some(405),
            ClientError::TooLarge => Some(413),
            ClientError::Server(_) => Some(500),
            ClientError::Unavailable => Some(503),
            ClientError::UnexpectedStatus { status, .. } => Some(*status),
            ClientError::Timeout
            | ClientError::Transport(_)
            | ClientError::Untrusted(_)
            | ClientError::Decode(_)
            | ClientError::PageTooLarge { .. }
            | ClientError::FieldTooLarge { .. }
            | ClientError::StuckMark { .. }
            | ClientError::Kerberos(_)
            | ClientError::Config(_) => None,
        }
    }

    /// Whether the same request may succeed later, so retrying with backoff makes sense.
    ///
    /// A 500 counts as transient even with an ErrorList: an expired licence or an unreachable
    /// SQL Server can clear. Other 5xx are transient too; other 4xx are not.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Unavailable
            | ClientError::Server(_)
            | ClientError::Timeout
            | ClientError::Transport(_)
            | ClientError::Decode(_) => true,
            ClientError::UnexpectedStatus { status, .. } => *status >= 500 || *status == 408 || *status == 429,
            // A KDC that did not answer may come back; one that said no will say it again.
            ClientError::Kerberos(e) => matches!(e, super::kerberos::KerberosError::NoKdc { .. }),
            ClientError::Unauthorized { .. }
            | ClientError::BadRequest(_)
            | ClientError::Forbidden(_)
            | ClientError::NotFound(_)
            | ClientError::Redirect { .. }
            | ClientError::MethodNotAllowed
            | ClientError::TooLarge
            | ClientError::Untrusted(_)
            | ClientError::PageTooLarge { .. }
            | ClientError::FieldTooLarge { .. }
            | ClientError::StuckMark { .. }
            | ClientError::Config(_) => false,
        }
    }

    /// The server's ErrorList, when it sent one.
    pub fn error_list(&self) -> Option<&ErrorList> {
        match self {
            ClientError::BadRequest(list) => Some(list),
            ClientError::Server(list)
            | ClientError::Forbidden(list)
            | ClientError::NotFound(list)
            | ClientError::Unauthorized { server: list, .. } => list.as_ref(),
            _ => None,
        }
    }
}

fn unauthorized_hint(scheme: &str) -> &'static str {
    if scheme == super::auth::NO_AUTH {
        "no credentials are configured; set a user and password"
    } else {
        "check the user and password"
    }
}

/// "; the server said: …" when the server sent an ErrorList with something in it.
fn said(list: &Option<ErrorList>) -> String {
    match list {
        Some(list) if !list.errors.is_empty() => format!("; the server said: {list}"),
        _ => String::new(),
    }
}

fn list_suffix(list: &ErrorList) -> String {
    if list.errors.is_empty() {
        " (empty body)".to_string()
    } else {
        format!(": {list}")
    }
}

fn server_suffix(list: &Option<ErrorList>) -> String {
    match list {
        Some(list) => list_suffix(list),
        None => " (empty body)".to_string(),
    }
}

fn body_suffix(body: &str) -> String {
    if body.trim().is_empty() {
        " (empty body)".to_string()
    } else {
        format!(": {body}")
    }
}

/// The error and its causes. `std::io::Error::source` skips the error it wraps, so this
/// steps into it explicitly (that is where rustls' errors sit).
pub fn causes<'a>(error: &'a (dyn std::error::Error + 'static)) -> Vec<&'a (dyn std::error::Error + 'static)> {
    let mut chain = Vec::new();
    let mut next = Some(error);
    while let Some(cause) = next {
        if chain.len() >= 16 {
            break;
        }
        chain.push(cause);
        next = match cause.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => cause.source(),
        };
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;

    const COUNT_ERROR: &str =
        "Invalid count parameter specified. Error details: 0x80040204 Cannot convert the attribute data type";

    #[test]
    fn display_texts_are_operator_friendly() {
        let bad = ClientError::BadRequest(ErrorList::one("InputError", COUNT_ERROR));
        assert_eq!(bad.to_string(), format!("HTTP 400 Bad Request: InputError: {COUNT_ERROR}"));
        assert_eq!(
            ClientError::Unauthorized { scheme: "Basic".into(), server: None }.to_string(),
            "HTTP 401 Unauthorized (Basic): check the user and password"
        );
        assert_eq!(ClientError::Server(None).to_string(), "HTTP 500 Internal Server Error (empty body)");
        assert_eq!(
            ClientError::Server(Some(ErrorList::one("ServerError", "0x80040C0A SQL Server cannot be contacted")))
                .to_string(),
            "HTTP 500 Internal Server Error: ServerError: 0x80040C0A SQL Server cannot be contacted"
        );
        assert_eq!(ClientError::BadRequest(ErrorList::default()).to_string(), "HTTP 400 Bad Request (empty body)");
        assert_eq!(
            ClientError::UnexpectedStatus { status: 418, body: "teapot".into() }.to_string(),
            "unexpected HTTP 418: teapot"
        );
        assert_eq!(
            ClientError::Decode(DecodeError::new(17, "unexpected end of input")).to_string(),
            "could not decode the response body at byte 17: unexpected end of input"
        );
    }

    #[test]
    fn error_lists_and_locations_are_shown() {
        let list = || Some(ErrorList::one("AccessDenied", "The user is not a member of Client Users"));
        assert_eq!(
            ClientError::Forbidden(list()).to_string(),
            "HTTP 403 Forbidden: the account is not allowed to use the Integration API; it must be in the \
             Netwrix Auditor Client Users group (or be a Global reviewer); the server said: AccessDenied: The \
             user is not a member of Client Users"
        );
        let unauthorized = ClientError::Unauthorized { scheme: "NTLM".into(), server: list() };
        assert!(unauthorized
            .to_string()
            .ends_with("; the server said: AccessDenied: The user is not a member of Client Users"));
        assert!(ClientError::NotFound(list())
            .to_string()
            .ends_with("the server said: AccessDenied: The user is not a member of Client Users"));
        assert_eq!(
            ClientError::Redirect { status: 302, location: Some("https://sso.corp/login".into()) }.to_string(),
            "HTTP 302 redirect to https://sso.corp/login: the Integration API does not redirect; point the \
             job's url at the server itself (a proxy or load balancer in between, or http:// for https://?)"
        );
    }

    #[test]
    fn statuses_and_transience() {
        let cases: Vec<(ClientError, Option<u16>, bool)> = vec![
            (ClientError::Unauthorized { scheme: "Basic".into(), server: None }, Some(401), false),
            (ClientError::Forbidden(None), Some(403), false),
            (ClientError::Redirect { status: 302, location: None }, Some(302), false),
            (ClientError::BadRequest(ErrorList::default()), Some(400), false),
            (ClientError::NotFound(None), Some(404), false),
            (ClientError::MethodNotAllowed, Some(405), false),
            (ClientError::TooLarge, Some(413), false),
            (ClientError::Server(None), Some(500), true),
            (ClientError::Server(Some(ErrorList::one("ServerError", "licence"))), Some(500), true),
            (ClientError::Unavailable, Some(503), true),
            (ClientError::UnexpectedStatus { status: 502, body: String::new() }, Some(502), true),
            (ClientError::UnexpectedStatus { status: 403, body: String::new() }, Some(403), false),
            (ClientError::Timeout, None, true),
            (ClientError::Transport("refused".into()), None, true),
            (ClientError::Decode(DecodeError::new(0, "x")), None, true),
            (ClientError::Config("x".into()), None, false),
            (ClientError::Untrusted("x".into()), None, false),
        ];
        for (error, status, transient) in cases {
            assert_eq!(error.status(), status, "{error}");
            assert_eq!(error.is_transient(), transient, "{error}");
        }
    }
}
