//! What an answer of the Logs Ingestion API means for the sink: pure functions from the
//! status, `Retry-After` and body to a decision, so every row is tested without a network.
//!
//! 204 is the only acknowledgement (the API answers nothing else to data it took). 413: the
//! call is cut in two. 429 and 503 with `Retry-After`: wait as long as told, then send the
//! same call again. 401: the token is renewed once; refused again, the sink stops. 403, 404,
//! 400 and any other answer a retry cannot change stop this sink with what to check.

use std::time::Duration;

/// The longest single `Retry-After` wait honoured as given; longer ones are cut to it.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// What to do after a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// 204: the records are the API's.
    Accepted,
    /// 413: the call is over the API's size limit.
    TooLarge(String),
    /// 429 or 503 with `Retry-After`: send again after this long.
    Throttled { wait: Duration, message: String },
    /// 401: the token was refused.
    Unauthorized(String),
    /// Worth sending again after the pipeline's backoff.
    Retry(String),
    /// Cannot succeed until a person acts.
    Fatal(String),
}

/// Classifies the answer to one ingestion call; `what` names the call in messages.
pub(crate) fn classify(status: u16, retry_after: Option<&str>, body: &[u8], what: &str) -> Outcome {
    let message = describe(what, status, body);
    let wait =
        retry_after.and_then(|v| v.trim().parse::<u64>().ok()).map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
    match (status, wait) {
        (204, _) => Outcome::Accepted,
        (429 | 503, Some(wait)) => Outcome::Throttled { wait, message },
        (413, _) => Outcome::TooLarge(message),
        (401, _) => Outcome::Unauthorized(message),
        (408 | 429 | 500 | 502 | 503 | 504, None) => Outcome::Retry(message),
        (200..=299, _) => Outcome::Fatal(format!(
            "{message}: the Logs Ingestion API answers 204 to data it takes, so this is not it: check `endpoint` \
             (the data collection endpoint's logs ingestion URL)"
        )),
        (403, _) => Outcome::Fatal(format!(
            "{message}: the app may not send to this DCR: give its service principal (client_id) the \"Monitoring \
             Metrics Publisher\" role on the data collection rule (role assignments take up to 30 minutes to \
             apply), and check tenant_id is the DCR's tenant"
        )),
        (404, _) => Outcome::Fatal(format!("{message}: check endpoint, dcr_immutable_id and stream")),
        (400, _) => Outcome::Fatal(format!(
            "{message}: the API refused the data: check that the DCR's stream declaration is the one in \
             config/sentinel/dcr.json"
        )),
        _ => Outcome::Fatal(message),
    }
}

/// The message a refused 401 stops the sink with.
pub(crate) fn unauthorized_hint(message: &str) -> String {
    format!(
        "{message}: a new token was refused too: check tenant_id (the DCR's tenant), authority_host and scope \
         (https://monitor.azure.com//.default in Azure's public cloud)"
    )
}

/// `POST …: HTTP 403 Forbidden: OperationFailed: The authentication token …`.
fn describe(what: &str, status: u16, body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Envelope {
        error: Inner,
    }
    #[derive(serde::Deserialize)]
    struct Inner {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let reason = reqwest::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
    let mut m = format!("{what}: HTTP {status} {reason}").trim_end().to_owned();
    match serde_json::from_slice::<Envelope>(body) {
        Ok(e) => m.push_str(&format!(": {}: {}", e.error.code, e.error.message)),
        Err(_) if !body.is_empty() => {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).trim().to_owned();
            m.push_str(&format!(": {text:?}"));
        }
        Err(_) => {}
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHAT: &str = "POST https://dce/x";

    #[test]
    fn every_row() {
        assert_eq!(classify(204, None, b"", WHAT), Outcome::Accepted);
        assert_eq!(
            classify(429, Some("2"), br#"{"error":{"code":"TooManyRequests","message":"slow down"}}"#, WHAT),
            Outcome::Throttled {
                wait: Duration::from_secs(2),
                message: format!("{WHAT}: HTTP 429 Too Many Requests: TooManyRequests: slow down")
            }
        );
        assert!(
            matches!(classify(503, Some("9999"), b"", WHAT), Outcome::Throttled { wait, .. } if wait == MAX_RETRY_AFTER)
        );
        assert!(matches!(classify(429, None, b"", WHAT), Outcome::Retry(_)));
        assert!(matches!(classify(500, None, b"", WHAT), Outcome::Retry(_)));
        assert!(matches!(classify(413, None, b"", WHAT), Outcome::TooLarge(_)));
        assert!(matches!(classify(401, None, b"", WHAT), Outcome::Unauthorized(_)));
        let Outcome::Fatal(m) = classify(200, None, b"ok", WHAT) else { panic!() };
        assert!(m.contains("answers 204"), "{m}");
        let body = br#"{"error":{"code":"OperationFailed","message":"The authentication token provided does not have access to ingest data for the data collection rule with immutable Id 'dcr-1'."}}"#;
        let Outcome::Fatal(m) = classify(403, None, body, WHAT) else { panic!() };
        assert!(
            m.starts_with(&format!("{WHAT}: HTTP 403 Forbidden: OperationFailed: The authentication token")),
            "{m}"
        );
        assert!(m.contains("\"Monitoring Metrics Publisher\" role on the data collection rule"), "{m}");
        let Outcome::Fatal(m) = classify(404, None, b"<html>", WHAT) else { panic!() };
        assert_eq!(m, format!("{WHAT}: HTTP 404 Not Found: \"<html>\": check endpoint, dcr_immutable_id and stream"));
    }
}
