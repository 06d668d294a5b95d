//! The stand-in's answers: Entra ID's token endpoint and OpenID metadata, and the Logs
//! Ingestion call, checked in the order the services check (route, token, role, DCR and
//! stream, throttling, size, body).

use super::{Inner, State};
use crate::format::sentinel::{ColumnType, MAX_VALUE};
use crate::hec::receiver::server::Answer;
use crate::sentinel::cert::{self, Refusal, ASSERTION_TYPE};
use bytes::Bytes;
use flate2::read::GzDecoder;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, HOST, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use rustls::pki_types::CertificateDer;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Instant;

type Reply = Response<Full<Bytes>>;

/// A decompressed body larger than this is refused (a decompression bomb stops here).
const MAX_JSON: u64 = 64 << 20;

fn reply(status: u16, content_type: &str, body: String) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(CONTENT_TYPE, v);
    }
    response
}

/// The ingestion API's error body.
fn error(status: u16, code: &str, message: &str) -> Reply {
    let body = serde_json::json!({ "error": { "code": code, "message": message } }).to_string();
    reply(status, "application/json; charset=utf-8", body)
}

/// Entra ID's error body (`AADSTS…` codes in the description).
fn aad_error(status: u16, error: &str, code: u32, description: &str) -> Reply {
    let body = serde_json::json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {description} Trace ID: 00000000-0000-0000-0000-000000000000"),
        "error_codes": [code],
    })
    .to_string();
    reply(status, "application/json; charset=utf-8", body)
}

/// Routes a request.
pub(crate) async fn handle(inner: Arc<Inner>, req: Request<Incoming>) -> Answer {
    let path = req.uri().path().to_owned();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let method = req.method().clone();
    Ok(match (method, parts.as_slice()) {
        (Method::POST, [tenant, "oauth2", "v2.0", "token"]) => token(&inner, tenant, req).await,
        (Method::GET, [tenant, "v2.0", ".well-known", "openid-configuration"]) => openid(&inner, tenant, &req),
        (Method::POST, ["dataCollectionRules", dcr, "streams", stream]) => {
            let answer = ingest(&inner, dcr, stream, req).await;
            let mut state = inner.state();
            *state.stats.answers.entry(answer.status().as_u16()).or_default() += 1;
            answer
        }
        (_, ["dataCollectionRules", _, "streams", _]) => error(405, "MethodNotAllowed", "Use POST."),
        _ => error(404, "NotFound", &format!("No route for {path}.")),
    })
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`: where MSAL finds the token endpoint.
fn openid(inner: &Inner, tenant: &str, req: &Request<Incoming>) -> Reply {
    if *tenant != inner.config.tenant_id {
        return aad_error(400, "invalid_tenant", 90002, &format!("Tenant '{tenant}' not found."));
    }
    let host = req.headers().get(HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    let scheme = if inner.config.tls { "https" } else { "http" };
    let base = format!("{scheme}://{host}/{tenant}");
    let body = serde_json::json!({
        "token_endpoint": format!("{base}/oauth2/v2.0/token"),
        "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/oauth2/v2.0/devicecode"),
        "end_session_endpoint": format!("{base}/oauth2/v2.0/logout"),
        "issuer": format!("{base}/v2.0"),
        "jwks_uri": format!("{base}/discovery/v2.0/keys"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "tenant_region_scope": "EU",
    });
    reply(200, "application/json; charset=utf-8", body.to_string())
}

/// `POST /{tenant}/oauth2/v2.0/token`, client credentials.
async fn token(inner: &Inner, tenant: &str, req: Request<Incoming>) -> Reply {
    let c = &inner.config;
    let body = match Limited::new(req.into_body(), 64 << 10).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return aad_error(400, "invalid_request", 900144, "The request body is too large or unreadable."),
    };
    let form = parse_form(&body);
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if tenant != c.tenant_id {
        return aad_error(
            400,
            "invalid_request",
            90002,
            &format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing \
                 into the correct cloud."
            ),
        );
    }
    match field("grant_type") {
        Some("client_credentials") => {}
        None => {
            return aad_error(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'grant_type'.",
            )
        }
        Some(other) => {
            return aad_error(
                400,
                "unsupported_grant_type",
                70003,
                &format!("The app requested an unsupported grant type '{other}'."),
            )
        }
    }
    let client = field("client_id").unwrap_or("");
    if client != c.client_id {
        return aad_error(
            400,
            "unauthorized_client",
            700016,
            &format!("Application with identifier '{client}' was not found in the directory '{tenant}'."),
        );
    }
    if let Some(assertion) = field("client_assertion") {
        if field("client_assertion_type") != Some(ASSERTION_TYPE) {
            return aad_error(400, "invalid_request", 50027, "Invalid client_assertion_type.");
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
        let path = format!("/{tenant}/oauth2/v2.0/token");
        let checked = match &c.client_certificate {
            None => Err(Refusal::Signature),
            Some(der) => cert::verify(assertion, &CertificateDer::from(der.as_slice()), client, &path, now),
        };
        match checked {
            Ok(()) => {}
            Err(Refusal::Signature) => {
                return aad_error(
                    401,
                    "invalid_client",
                    700027,
                    "Client assertion failed signature validation: no certificate registered with the app matches.",
                )
            }
            Err(Refusal::Expired) => {
                return aad_error(401, "invalid_client", 700024, "Client assertion is not within its valid time range.")
            }
            Err(Refusal::Malformed(why)) => {
                return aad_error(400, "invalid_request", 50027, &format!("JWT token is invalid or malformed: {why}."))
            }
        }
    } else if field("client_secret") != Some(c.client_secret.as_str()) {
        return aad_error(
            401,
            "invalid_client",
            7000215,
            &format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret \
                 value, not the client secret ID, for a secret added to app '{client}'."
            ),
        );
    }
    let scope = field("scope").unwrap_or("");
    let Some(audience) = scope.split(' ').find_map(|s| s.strip_suffix("/.default")) else {
        return aad_error(
            400,
            "invalid_scope",
            1002012,
            &format!("The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."),
        );
    };
    let value = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let lifetime = c.token_lifetime;
    let mut state = inner.state();
    state.tokens.insert(value.clone(), (audience.trim_end_matches('/').to_owned(), Instant::now() + lifetime));
    state.stats.tokens += 1;
    let body = serde_json::json!({
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
        "ext_expires_in": lifetime.as_secs(),
        "access_token": value,
    });
    reply(200, "application/json; charset=utf-8", body.to_string())
}

/// `POST /dataCollectionRules/{dcr}/streams/{stream}?api-version=…`.
async fn ingest(inner: &Inner, dcr: &str, stream: &str, req: Request<Incoming>) -> Reply {
    let c = &inner.config;
    let audience = c.scope.trim_end_matches("/.default").trim_end_matches('/').to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let api_version = query.split('&').find_map(|kv| kv.strip_prefix("api-version="));
    let (parts, body) = req.into_parts();
    // The whole body is read before any answer, as a front end does: a client still
    // sending when the answer comes would see a reset connection instead of the answer.
    let body = match Limited::new(body, MAX_JSON as usize).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return error(400, "InvalidPayload", "The request body could not be read."),
    };
    {
        let mut state = inner.state();
        state.stats.calls += 1;
        if let Some(not_before) = state.not_before.take() {
            if Instant::now() < not_before {
                state.stats.early_calls += 1;
            }
        }
    }
    match api_version {
        None => {
            return error(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        }
        Some("2023-01-01" | "2021-11-01-preview") => {}
        Some(v) => {
            return error(
                400,
                "InvalidApiVersionParameter",
                &format!(
                    "The api-version '{v}' is invalid. The supported versions are '2023-01-01,2021-11-01-preview'."
                ),
            )
        }
    }
    let bearer = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    {
        let mut state = inner.state();
        let known = bearer.and_then(|t| state.tokens.get(t.trim())).cloned();
        match known {
            None => return error(401, "InvalidToken", "The access token is missing or invalid."),
            Some((_, expiry)) if expiry <= Instant::now() => {
                state.stats.expired_tokens += 1;
                return error(401, "InvalidToken", "The access token has expired.");
            }
            Some((aud, _)) if aud != audience => {
                return error(401, "InvalidToken", &format!("The access token's audience '{aud}' is not '{audience}'."))
            }
            Some(_) => {}
        }
        if !state.role {
            return error(
                403,
                "OperationFailed",
                &format!(
                    "The authentication token provided does not have access to ingest data for the data collection \
                     rule with immutable Id '{dcr}'."
                ),
            );
        }
    }
    if dcr != c.dcr_immutable_id {
        return error(404, "NotFound", &format!("Data collection rule with immutable Id '{dcr}' not found."));
    }
    if stream != c.stream {
        return error(
            400,
            "InvalidStream",
            &format!("Stream '{stream}' is not declared in data collection rule '{dcr}'."),
        );
    }
    if let Some(answer) = throttled(&mut inner.state()) {
        return answer;
    }
    let too_large = |n: usize| {
        error(
            413,
            "ContentLengthLimitExceeded",
            &format!(
                "Maximum allowed content length: {} bytes ({} MB). Provided content length: {n} bytes.",
                c.max_call_bytes,
                c.max_call_bytes >> 20
            ),
        )
    };
    if body.len() > c.max_call_bytes {
        return too_large(body.len());
    }
    let encoding =
        parts.headers.get(CONTENT_ENCODING).and_then(|v| v.to_str().ok()).map(|v| v.trim().to_ascii_lowercase());
    let json = match encoding.as_deref() {
        None | Some("" | "identity") => body.to_vec(),
        Some("gzip") => {
            let mut out = Vec::new();
            if GzDecoder::new(body.as_ref()).take(MAX_JSON).read_to_end(&mut out).is_err() {
                return error(400, "InvalidContentEncoding", "The gzip content could not be decompressed.");
            }
            out
        }
        Some(other) => {
            return error(415, "UnsupportedContentEncoding", &format!("Content-Encoding '{other}' is not supported."))
        }
    };
    let rows: Vec<serde_json::Value> = match serde_json::from_slice(&json) {
        Ok(serde_json::Value::Array(rows)) if rows.iter().all(|r| r.is_object()) => rows,
        Ok(_) => return error(400, "InvalidPayload", "The request body must be a JSON array of objects."),
        Err(e) => return error(400, "InvalidPayload", &format!("The request body is not valid JSON: {e}.")),
    };
    let mut state = inner.state();
    let state = &mut *state;
    if let Some(Some(status)) = state.scripted.pop_front() {
        return error(status, "ScriptedFailure", "A failure scripted by a test.");
    }
    state.stats.largest_call = state.stats.largest_call.max(body.len());
    state.stats.largest_json = state.stats.largest_json.max(json.len());
    state.stats.plain_calls += u64::from(encoding.as_deref() != Some("gzip"));
    state.stats.rows += rows.len() as u64;
    for row in rows {
        let object = row.as_object().map(|o| o.iter());
        for (key, value) in object.into_iter().flatten() {
            match c.columns.iter().find(|(n, _)| n == key) {
                None => state.stats.undeclared_columns += 1,
                Some((_, kind)) if !fits(*kind, value) => state.stats.mistyped_values += 1,
                Some((_, ColumnType::String)) if value.as_str().is_some_and(|s| s.len() > MAX_VALUE) => {
                    state.stats.truncated_values += 1
                }
                Some(_) => {}
            }
        }
        state.ids.push(row.get("AuditbridgeId").and_then(|v| v.as_str()).unwrap_or("").to_owned());
        if let Some(out) = &mut state.output {
            if let Err(e) = writeln!(out, "{row}") {
                tracing::error!("sentinel receiver: writing the output file: {e}");
            }
        }
        if c.keep_rows {
            state.rows.push(row);
        }
    }
    if let Some(out) = &mut state.output {
        if let Err(e) = out.flush() {
            tracing::error!("sentinel receiver: writing the output file: {e}");
        }
    }
    reply(204, "application/json", String::new())
}

/// The throttling answer while a [`Fault::Throttle`](super::Fault) lasts.
fn throttled(state: &mut State) -> Option<Reply> {
    let (status, duration, retry_after, since) = state.throttle?;
    let since = since.unwrap_or_else(Instant::now);
    if since.elapsed() >= duration {
        state.throttle = None;
        return None;
    }
    state.throttle = Some((status, duration, retry_after, Some(since)));
    state.not_before = Some(Instant::now() + std::time::Duration::from_secs(retry_after));
    let mut answer = if status == 503 {
        error(503, "ServiceUnavailable", "The service is temporarily unavailable. Retry after the time in Retry-After.")
    } else {
        error(
            status,
            "TooManyRequests",
            "Rate limit of the data collection rule exceeded. Retry after the time in Retry-After.",
        )
    };
    answer.headers_mut().insert(RETRY_AFTER, HeaderValue::from(retry_after));
    Some(answer)
}

/// Whether `value` is what Log Analytics stores in a column of `kind` (null fits all).
fn fits(kind: ColumnType, value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (kind, value) {
        (_, Value::Null) | (ColumnType::Dynamic, _) | (ColumnType::String, Value::String(_)) => true,
        (ColumnType::Boolean, Value::Bool(_)) => true,
        (ColumnType::Datetime, Value::String(s)) => chrono::DateTime::parse_from_rfc3339(s).is_ok(),
        _ => false,
    }
}

/// `a=1&b=x+y%2F` → pairs, decoded.
fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    let decode = |s: &[u8]| {
        let mut out = Vec::with_capacity(s.len());
        let mut i = 0;
        while i < s.len() {
            match s[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < s.len() => {
                    let hex = std::str::from_utf8(&s[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                    match hex {
                        Some(b) => {
                            out.push(b);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    body.split(|b| *b == b'&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let mut it = kv.splitn(2, |b| *b == b'=');
            let k = decode(it.next().unwrap_or_default());
            let v = decode(it.next().unwrap_or_default());
            (k, v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_form;

    #[test]
    fn forms_decode() {
        let pairs = parse_form(b"scope=https%3A%2F%2Fmonitor.azure.com%2F%2F.default&client_secret=a+b%2Bc%7E&x=%2");
        assert_eq!(pairs[0], ("scope".into(), "https://monitor.azure.com//.default".into()));
        assert_eq!(pairs[1], ("client_secret".into(), "a b+c~".into()));
        assert_eq!(pairs[2], ("x".into(), "%2".into()));
    }
}
