//! The receiver over HTTP answers every row of the code table it implements with
//! Splunk's status, code and text.

use super::*;

const TOKEN: &str = "tok";
const CHANNEL: &str = "11111111-2222-3333-4444-555555555555";

/// Request headers, name and value.
type Headers<'a> = Vec<(&'a str, &'a str)>;

async fn post(url: &str, headers: &[(&str, &str)], body: impl Into<reqwest::Body>) -> (u16, String) {
    // Plain HTTP, but reqwest still wants a crypto provider: the process's, which a test
    // must install itself (the bridge hands every client its own).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut request = reqwest::Client::new().post(url).body(body);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn the_code_table() {
    let receiver = Receiver::new(ReceiverConfig { ack: true, ..ReceiverConfig::new(TOKEN) }).unwrap();
    let running = receiver.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let event = format!("{}/services/collector/event", running.base_url);
    let auth = ("Authorization", "Splunk tok");
    let channel = ("X-Splunk-Request-Channel", CHANNEL);
    let ok = [auth, channel];
    let cases: Vec<(Headers, &str, u16, &str)> = vec![
        (vec![], r#"{"event":"x"}"#, 401, r#"{"text":"Token is required","code":2}"#),
        (
            vec![("Authorization", "Bearer tok"), channel],
            r#"{"event":"x"}"#,
            401,
            r#"{"text":"Invalid authorization","code":3}"#,
        ),
        (
            vec![("Authorization", "Splunk nope"), channel],
            r#"{"event":"x"}"#,
            403,
            r#"{"text":"Invalid token","code":4}"#,
        ),
        (vec![auth], r#"{"event":"x"}"#, 400, r#"{"text":"Data channel is missing","code":10}"#),
        (
            vec![auth, ("X-Splunk-Request-Channel", "abc")],
            r#"{"event":"x"}"#,
            400,
            r#"{"text":"Invalid data channel","code":11}"#,
        ),
        (ok.to_vec(), "  \n", 400, r#"{"text":"No data","code":5}"#),
        (
            ok.to_vec(),
            r#"{"event":"x"} {"time":1}"#,
            400,
            r#"{"text":"Event field is required","code":12,"invalid-event-number":1}"#,
        ),
        (
            ok.to_vec(),
            r#"{"event":""}"#,
            400,
            r#"{"text":"Event field cannot be blank","code":13,"invalid-event-number":0}"#,
        ),
        (
            ok.to_vec(),
            r#"{"event":"x","fields":{"a":{"b":"c"}}}"#,
            400,
            r#"{"text":"Error in handling indexed fields","code":15,"invalid-event-number":0}"#,
        ),
        (ok.to_vec(), r#"[{"event":"x"}]"#, 400, r#"{"text":"Invalid data format","code":6,"invalid-event-number":0}"#),
        (ok.to_vec(), r#"{"event":"x"}{"event":"y"}"#, 200, r#"{"text":"Success","code":0,"ackId":0}"#),
        (vec![auth, channel, ("Content-Encoding", "deflate")], r#"{"event":"x"}"#, 415, "Unsupported Content-Encoding"),
    ];
    for (headers, body, status, want) in cases {
        assert_eq!(post(&event, &headers, body.to_owned()).await, (status, want.to_owned()), "{headers:?} {body}");
    }
    // Indexed: the event before the missing event field, and the two accepted.
    assert_eq!(receiver.indexed_count(), 3);

    let ack = format!("{}/services/collector/ack", running.base_url);
    assert_eq!(post(&ack, &ok, r#"{"acks":[0,5]}"#).await, (200, r#"{"acks":{"0":true,"5":false}}"#.to_owned()));
    assert_eq!(
        post(&ack, &ok, r#"{"acks":[0]}"#).await.1,
        r#"{"acks":{"0":false}}"#,
        "an id reported true is forgotten"
    );

    receiver.set_max_content_length(5);
    assert_eq!(post(&event, &ok, r#"{"event":"x"}"#).await.0, 413);

    let health = format!("{}/services/collector/health", running.base_url);
    let get = |url: String| async move {
        let r = reqwest::get(url).await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    assert_eq!(get(health.clone()).await, (200, r#"{"text":"HEC is healthy","code":17}"#.to_owned()));
    receiver.inject(Fault::Busy(Duration::from_secs(60)));
    assert_eq!(get(health).await, (503, r#"{"text":"HEC is unhealthy, queues are full","code":18}"#.to_owned()));
    assert_eq!(post(&event, &ok, r#"{"event":"x"}"#).await, (503, r#"{"text":"Server is busy","code":9}"#.to_owned()));

    let plain = Receiver::new(ReceiverConfig::new(TOKEN)).unwrap();
    let running = plain.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let ack = format!("{}/services/collector/ack", running.base_url);
    assert_eq!(post(&ack, &ok, r#"{"acks":[0]}"#).await, (400, r#"{"text":"ACK is disabled","code":14}"#.to_owned()));
    // Without acknowledgement no channel is needed, and gzip is taken.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, br#"{"event":"zipped"}"#).unwrap();
    let body = gz.finish().unwrap();
    let event = format!("{}/services/collector", running.base_url);
    assert_eq!(
        post(&event, &[auth, ("Content-Encoding", "gzip")], body).await,
        (200, r#"{"text":"Success","code":0}"#.to_owned())
    );
    assert_eq!(plain.indexed()[0].raw, r#"{"event":"zipped"}"#);
}
