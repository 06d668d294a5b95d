//! The receiver's answers, one function per endpoint, in the order Splunk checks things:
//! route, token, channel, then the body. The code table is formats.md §4.4.

use super::envelope;
use super::state::Scripted;
use super::Inner;
use bytes::Bytes;
use flate2::read::GzDecoder;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use std::io::Read;
use std::sync::Arc;

use super::server::{Answer, Dropped};

/// Splunk's text for each code.
fn text(code: u32) -> &'static str {
    match code {
        0 => "Success",
        1 => "Token disabled",
        2 => "Token is required",
        3 => "Invalid authorization",
        4 => "Invalid token",
        5 => "No data",
        6 => "Invalid data format",
        7 => "Incorrect index",
        8 => "Internal server error",
        9 => "Server is busy",
        10 => "Data channel is missing",
        11 => "Invalid data channel",
        12 => "Event field is required",
        13 => "Event field cannot be blank",
        14 => "ACK is disabled",
        15 => "Error in handling indexed fields",
        16 => "Query string authorization is not enabled",
        17 => "HEC is healthy",
        18 => "HEC is unhealthy, queues are full",
        _ => "Unknown",
    }
}

fn json(status: u16, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    response
}

/// `{"text":…,"code":…}` (Splunk's key order) with the HTTP status Splunk pairs with the code.
fn coded(status: u16, code: u32) -> Response<Full<Bytes>> {
    json(status, format!(r#"{{"text":"{}","code":{code}}}"#, text(code)))
}

fn invalid(code: u32, index: usize) -> Response<Full<Bytes>> {
    json(400, format!(r#"{{"text":"{}","code":{code},"invalid-event-number":{index}}}"#, text(code)))
}

fn plain(status: u16, text: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(text.to_owned())));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
}

/// Routes a request.
pub(crate) async fn handle(inner: Arc<Inner>, req: Request<Incoming>) -> Answer {
    let path = req.uri().path().trim_end_matches('/');
    let method = req.method().clone();
    match path {
        "/services/collector/health" | "/services/collector/health/1.0" => Ok(if method != Method::GET {
            plain(405, "Method Not Allowed")
        } else if inner.state().busy() {
            coded(503, 18)
        } else {
            coded(200, 17)
        }),
        "/services/collector" | "/services/collector/event" | "/services/collector/event/1.0" => {
            if method != Method::POST {
                return Ok(plain(405, "Method Not Allowed"));
            }
            events(&inner, req).await
        }
        "/services/collector/ack" => {
            if method != Method::POST {
                return Ok(plain(405, "Method Not Allowed"));
            }
            Ok(ack(&inner, req).await)
        }
        _ => Ok(json(404, r#"{"text":"The requested URL was not found on this server.","code":404}"#.to_owned())),
    }
}

/// `None` if the token is right, else the answer.
fn check_token(inner: &Inner, req: &Request<Incoming>) -> Option<Response<Full<Bytes>>> {
    let Some(value) = req.headers().get(AUTHORIZATION) else { return Some(coded(401, 2)) };
    let Some(token) = value.to_str().ok().and_then(|v| v.strip_prefix("Splunk ")).map(str::trim) else {
        return Some(coded(401, 3));
    };
    (token != inner.state().token).then(|| coded(403, 4))
}

/// The request's channel (header, or `?channel=`); with ack on it must be a GUID.
/// `Err` is the code of a 400 answer.
fn channel(inner: &Inner, req: &Request<Incoming>) -> Result<Option<String>, u32> {
    let from_header = req.headers().get("x-splunk-request-channel").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let from_query =
        req.uri().query().and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("channel=")).map(str::to_owned));
    let channel = from_header.or(from_query);
    if !inner.config.ack {
        return Ok(channel);
    }
    match channel {
        None => Err(10),
        Some(c) if uuid::Uuid::parse_str(&c).is_err() => Err(11),
        Some(c) => Ok(Some(c)),
    }
}

/// Reads the body, at most `max` bytes; `Err` is the answer to send instead.
async fn read_body(req: Request<Incoming>, max: usize) -> Result<(Option<String>, Bytes), Response<Full<Bytes>>> {
    let too_large = || plain(413, &format!("Content-Length too large (maximum is {max})"));
    let declared =
        req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(too_large());
    }
    let encoding =
        req.headers().get(CONTENT_ENCODING).and_then(|v| v.to_str().ok()).map(|v| v.trim().to_ascii_lowercase());
    match Limited::new(req.into_body(), max).collect().await {
        Ok(collected) => Ok((encoding, collected.to_bytes())),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(too_large()),
        Err(_) => Err(plain(400, "could not read the request body")),
    }
}

/// `POST /services/collector/event`.
async fn events(inner: &Inner, req: Request<Incoming>) -> Answer {
    let (number, scripted) = inner.state().begin_event_request();
    let answer = events_answer(inner, req, number, scripted).await;
    if let Ok(response) = &answer {
        inner.state().answered(response.status().as_u16());
    }
    answer
}

async fn events_answer(inner: &Inner, req: Request<Incoming>, number: u64, scripted: Option<Scripted>) -> Answer {
    if let Some(denied) = check_token(inner, &req) {
        return Ok(denied);
    }
    let channel = match channel(inner, &req) {
        Ok(c) => c,
        Err(code) => return Ok(coded(400, code)),
    };
    match scripted {
        Some(Scripted::Disconnect) => return Err(Dropped),
        Some(Scripted::Status(500)) => return Ok(coded(500, 8)),
        Some(Scripted::Status(503)) => return Ok(coded(503, 9)),
        Some(Scripted::Status(status)) => return Ok(plain(status, "scripted failure")),
        Some(Scripted::Pass | Scripted::Invalid(_)) | None => {}
    }
    if inner.state().busy() {
        return Ok(coded(503, 9));
    }
    let max = inner.state().max_content_length;
    let (encoding, body) = match read_body(req, max).await {
        Ok(b) => b,
        Err(answer) => return Ok(answer),
    };
    let data = match encoding.as_deref() {
        None | Some("") | Some("identity") => body.to_vec(),
        Some("gzip") => {
            let mut out = Vec::new();
            // A decompression bomb stops at ten times the limit.
            let limit = (max as u64).saturating_mul(10);
            if GzDecoder::new(body.as_ref()).take(limit).read_to_end(&mut out).is_err() {
                return Ok(invalid(6, 0));
            }
            out
        }
        Some(_) => return Ok(plain(415, "Unsupported Content-Encoding")),
    };
    if data.iter().all(u8::is_ascii_whitespace) {
        return Ok(coded(400, 5));
    }
    let keep = inner.config.keep_events || inner.config.output.is_some();
    let (good, refusal) = envelope::parse(&data, keep);
    let scripted_bad = match scripted {
        Some(Scripted::Invalid(n)) => Some(n.min(good.len().max(1) - 1)),
        _ => None,
    };
    let refusal = match (refusal, scripted_bad) {
        (Some((at, _)), Some(s)) if s < at => Some((s, 6)),
        (None, Some(s)) if s < good.len() => Some((s, 6)),
        (r, _) => r,
    };
    let mut state = inner.state();
    match refusal {
        Some((at, code)) => {
            let head = good.into_iter().take(at).collect();
            state.index(number, channel.as_deref(), head);
            Ok(invalid(code, at))
        }
        None => {
            state.index(number, channel.as_deref(), good);
            match (&channel, inner.config.ack) {
                (Some(c), true) => {
                    let id = state.new_ack(c, inner.config.ack_delay);
                    Ok(json(200, format!(r#"{{"text":"Success","code":0,"ackId":{id}}}"#)))
                }
                _ => Ok(coded(200, 0)),
            }
        }
    }
}

/// `POST /services/collector/ack`.
async fn ack(inner: &Inner, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if let Some(denied) = check_token(inner, &req) {
        return denied;
    }
    if !inner.config.ack {
        return coded(400, 14);
    }
    let channel = match channel(inner, &req) {
        Ok(Some(c)) => c,
        Ok(None) => return coded(400, 10),
        Err(code) => return coded(400, code),
    };
    let body = match read_body(req, 1 << 20).await {
        Ok((_, b)) => b,
        Err(answer) => return answer,
    };
    #[derive(serde::Deserialize)]
    struct Query {
        acks: Vec<u64>,
    }
    let Ok(query) = serde_json::from_slice::<Query>(&body) else { return coded(400, 6) };
    let answers = inner.state().query_acks(&channel, &query.acks);
    let acks: Vec<String> = answers.into_iter().map(|(id, ok)| format!(r#""{id}":{ok}"#)).collect();
    json(200, format!(r#"{{"acks":{{{}}}}}"#, acks.join(",")))
}
