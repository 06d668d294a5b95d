//! What a collector's answer means for the sink (formats.md §4.4 and §4.7).
//!
//! Pure functions from an HTTP status and body to a decision, so every row of the code
//! table is tested without a network: accepted (with its `ackId`), one event invalid
//! (`invalid-event-number`), too large (413), worth retrying (408, 429, 500, 502, 503,
//! 504), or fatal until a person acts (every other 4xx, with Splunk's code and text and
//! what to do about it).

use serde::Deserialize;

/// The JSON body Splunk answers with (`{"text":"Success","code":0,"ackId":7}`).
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Reply {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(default, rename = "ackId")]
    pub ack_id: Option<u64>,
    #[serde(default, rename = "invalid-event-number")]
    pub invalid_event_number: Option<usize>,
}

impl Reply {
    /// Parses a body; anything that is not Splunk's JSON (a proxy's HTML page) gives an
    /// empty reply, whose text is then the body's start.
    pub fn parse(body: &[u8]) -> Reply {
        serde_json::from_slice(body).unwrap_or_else(|_| {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).trim().to_owned();
            Reply { text: (!text.is_empty()).then_some(text), ..Reply::default() }
        })
    }
}

/// What to do after posting events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EventOutcome {
    /// 200: accepted; with acknowledgement on, the id to poll.
    Accepted(Option<u64>),
    /// 400 code 6: the events before this zero-based index were indexed, the rest not.
    Invalid { index: usize, message: String },
    /// 413: the body is over the collector's `max_content_length`.
    TooLarge(String),
    /// Worth sending again after a pause.
    Retry(String),
    /// Cannot succeed until a person acts.
    Fatal(String),
}

/// A failed answer from any endpoint: retry it, or stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    Retry(String),
    Fatal(String),
}

/// Statuses sent again after a pause (Vector and Fluent Bit agree; spec §4.7).
pub(crate) fn is_retryable(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// Classifies the answer to `POST /services/collector/event`.
pub(crate) fn classify_event(status: u16, body: &[u8], what: &str) -> EventOutcome {
    let reply = Reply::parse(body);
    match status {
        200..=299 => EventOutcome::Accepted(reply.ack_id),
        400 if reply.code == Some(6) => EventOutcome::Invalid {
            index: reply.invalid_event_number.unwrap_or(0),
            message: describe(what, status, &reply),
        },
        413 => EventOutcome::TooLarge(describe(what, status, &reply)),
        _ => match classify_failure(status, &reply, what) {
            Failure::Retry(m) => EventOutcome::Retry(m),
            Failure::Fatal(m) => EventOutcome::Fatal(m),
        },
    }
}

/// Classifies a non-success answer of any endpoint.
pub(crate) fn classify_failure(status: u16, reply: &Reply, what: &str) -> Failure {
    let message = describe(what, status, reply);
    if is_retryable(status) {
        Failure::Retry(message)
    } else {
        Failure::Fatal(message)
    }
}

/// `POST …/event: HTTP 403 Forbidden: "Invalid token" (code 4): the token is not …`.
pub(crate) fn describe(what: &str, status: u16, reply: &Reply) -> String {
    let reason = reqwest::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
    let mut m = format!("{what}: HTTP {status} {reason}").trim_end().to_owned();
    if let Some(text) = &reply.text {
        m.push_str(&format!(": {text:?}"));
    }
    if let Some(code) = reply.code {
        m.push_str(&format!(" (code {code})"));
    }
    if let Some(hint) = reply.code.and_then(hint).or_else(|| status_hint(status)) {
        m.push_str(": ");
        m.push_str(hint);
    }
    m
}

/// What a person does about a Splunk code (the code table of §4.4).
fn hint(code: i64) -> Option<&'static str> {
    Some(match code {
        1 | 22 => "the token is disabled in Splunk; enable it (Settings > Data inputs > HTTP Event Collector)",
        2 | 3 => "the request carried no usable token; check the sink's `token`",
        4 | 21 => "Splunk does not know this token; check the sink's `token` against Settings > Data inputs > HTTP Event Collector",
        7 => "the token may not write to this index; fix the sink's `index` or the token's allowed indexes",
        10 | 11 => "the token wants a data channel; this is a bug in auditbridge, please report it",
        14 => "the token has indexer acknowledgement off; enable it on the token or set `ack = false`",
        5 | 12 | 13 | 15 => "Splunk refused the envelope; this is a bug in auditbridge, please report it",
        16 => "query-string authorization is off; this is a bug in auditbridge, please report it",
        _ => return None,
    })
}

fn status_hint(status: u16) -> Option<&'static str> {
    Some(match status {
        404 => "no HTTP Event Collector at this URL; check the sink's `url` (HEC listens on port 8088 by default)",
        415 => "the collector refuses gzip bodies; set `gzip = false`",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHAT: &str = "POST https://s:8088/services/collector/event";

    #[test]
    fn success_with_and_without_ack_id() {
        assert_eq!(classify_event(200, br#"{"text":"Success","code":0}"#, WHAT), EventOutcome::Accepted(None));
        assert_eq!(
            classify_event(200, br#"{"text":"Success","code":0,"ackId":7}"#, WHAT),
            EventOutcome::Accepted(Some(7))
        );
    }

    #[test]
    fn invalid_event_number_is_passed_on() {
        let body = br#"{"text":"Invalid data format","code":6,"invalid-event-number":1}"#;
        let EventOutcome::Invalid { index, message } = classify_event(400, body, WHAT) else { panic!() };
        assert_eq!(index, 1);
        assert_eq!(message, format!("{WHAT}: HTTP 400 Bad Request: \"Invalid data format\" (code 6)"));
    }

    #[test]
    fn retry_set_and_too_large() {
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(matches!(classify_event(status, b"", WHAT), EventOutcome::Retry(_)), "{status}");
        }
        let busy = classify_event(503, br#"{"text":"Server is busy","code":9}"#, WHAT);
        assert_eq!(
            busy,
            EventOutcome::Retry(format!("{WHAT}: HTTP 503 Service Unavailable: \"Server is busy\" (code 9)"))
        );
        assert!(matches!(classify_event(413, b"too big", WHAT), EventOutcome::TooLarge(_)));
        assert!(matches!(classify_event(501, b"", WHAT), EventOutcome::Fatal(_)));
    }

    #[test]
    fn auth_and_config_errors_are_fatal_with_code_text_and_hint() {
        let cases: [(u16, &[u8], &str); 5] = [
            (
                403,
                br#"{"text":"Invalid token","code":4}"#,
                "HTTP 403 Forbidden: \"Invalid token\" (code 4): Splunk does not know",
            ),
            (403, br#"{"text":"Token disabled","code":1}"#, "\"Token disabled\" (code 1): the token is disabled"),
            (401, br#"{"text":"Token is required","code":2}"#, "HTTP 401 Unauthorized: \"Token is required\" (code 2)"),
            (400, br#"{"text":"Incorrect index","code":7}"#, "(code 7): the token may not write to this index"),
            (404, b"<html>Not Found</html>", "HTTP 404 Not Found: \"<html>Not Found</html>\": no HTTP Event Collector"),
        ];
        for (status, body, want) in cases {
            let EventOutcome::Fatal(m) = classify_event(status, body, WHAT) else { panic!("{status}") };
            assert!(m.starts_with(WHAT) && m.contains(want), "{m}");
        }
    }
}
