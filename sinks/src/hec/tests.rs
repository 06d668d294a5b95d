//! The HEC sink against the HEC receiver on a loopback port: batching, gzip, acks, every
//! kind of failure, and TLS.

use super::receiver::{Fault, Receiver, ReceiverConfig, RunningReceiver};
use super::*;
use crate::{Duration as ConfigDuration, Secret};

const TOKEN: &str = "0b1e6f6c-3c7a-4a43-9d54-5d2d7f1f0e11";

fn events(n: usize) -> Vec<Event> {
    netwrix::generate::generate(n, 11)
        .into_iter()
        .enumerate()
        .map(|(i, record)| Event { seq: i as u64 + 1, id: record.id(), job: "corp".into(), replay: false, record })
        .collect()
}

fn ids(batch: &[Event]) -> Vec<String> {
    batch.iter().map(|e| e.id.to_string()).collect()
}

async fn receiver(config: ReceiverConfig) -> (Receiver, RunningReceiver) {
    let receiver = Receiver::new(config).unwrap();
    let running = receiver.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (receiver, running)
}

fn with_ack() -> ReceiverConfig {
    ReceiverConfig { ack: true, ..ReceiverConfig::new(TOKEN) }
}

fn sink_config(url: &str, ack: bool) -> HecConfig {
    HecConfig {
        batch_events: 250,
        ack,
        ack_poll_interval: ConfigDuration::from_millis(50),
        ack_timeout: ConfigDuration::from_millis(500),
        timeout: ConfigDuration::from_secs(5),
        ..HecConfig::new(url, Secret::resolve(TOKEN).unwrap())
    }
}

/// Calls `deliver` until it succeeds (as the pipeline does), at most `tries` times;
/// returns the transient errors seen.
async fn deliver_retrying(sink: &mut HecSink, batch: &[Event], tries: usize) -> Vec<String> {
    let mut errors = Vec::new();
    for _ in 0..tries {
        match sink.deliver(batch).await {
            Ok(_) => return errors,
            Err(e) if e.is_transient() => {
                errors.push(e.report().to_string());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("fatal: {e}"),
        }
    }
    panic!("not delivered after {tries} tries: {errors:?}")
}

/// Events per request, in request order.
fn request_sizes(receiver: &Receiver) -> Vec<(u64, usize)> {
    let mut sizes: Vec<(u64, usize)> = Vec::new();
    for e in receiver.indexed() {
        match sizes.last_mut() {
            Some((r, n)) if *r == e.request => *n += 1,
            _ => sizes.push((e.request, 1)),
        }
    }
    sizes
}

#[tokio::test]
async fn delivers_gzipped_batches_with_ack_on_one_channel() {
    let (receiver, running) = receiver(with_ack()).await;
    let mut sink = HecSink::new("splunk", sink_config(&running.base_url, true));
    assert!(sink.open(None).await.unwrap().is_none());
    let batch = events(1200);
    assert_eq!(sink.deliver(&batch[..1000]).await.unwrap(), None);
    assert_eq!(sink.deliver(&batch[1000..]).await.unwrap(), None);
    assert_eq!(receiver.ids(), ids(&batch));
    assert_eq!(request_sizes(&receiver).iter().map(|(_, n)| *n).collect::<Vec<_>>(), vec![250, 250, 250, 250, 200]);
    let indexed = receiver.indexed();
    assert!(indexed.iter().all(|e| e.channel.as_deref() == Some(sink.channel())));
    // The envelope is the format's, byte for byte.
    let mut want = Vec::new();
    crate::format::hec::encode(
        &batch[0],
        &Meta { host: None, source: Some("auditbridge"), sourcetype: Some("netwrix"), index: None },
        &mut want,
    );
    assert_eq!(indexed[0].raw.as_bytes(), want.as_slice());
    let stats = receiver.stats();
    assert_eq!(stats.accepted_requests, 5);
    assert_eq!(stats.acks_reported, 5);
    // open's token check (an empty POST) indexed nothing and was answered "No data".
    assert_eq!(stats.answers.get(&400), Some(&1));
}

#[tokio::test]
async fn without_ack_a_200_is_delivery_and_gzip_can_be_off() {
    let (receiver, running) = receiver(ReceiverConfig::new(TOKEN)).await;
    let mut sink = HecSink::new("splunk", HecConfig { gzip: false, ..sink_config(&running.base_url, false) });
    sink.open(None).await.unwrap();
    let batch = events(300);
    sink.deliver(&batch).await.unwrap();
    assert_eq!(receiver.ids(), ids(&batch));
    assert_eq!(receiver.stats().ack_polls, 0);
}

#[tokio::test]
async fn a_503_in_mid_batch_resumes_without_sending_anything_twice() {
    let (receiver, running) = receiver(with_ack()).await;
    let mut sink = HecSink::new("splunk", sink_config(&running.base_url, true));
    sink.open(None).await.unwrap();
    let batch = events(1000);
    receiver.inject(Fault::Pass);
    receiver.inject(Fault::Status(503));
    receiver.inject(Fault::Status(429));
    receiver.inject(Fault::Disconnect);
    receiver.inject(Fault::Status(502));
    let errors = deliver_retrying(&mut sink, &batch, 10).await;
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert!(errors[0].contains("HTTP 503") && errors[0].contains("Server is busy") && errors[0].contains("code 9"));
    assert!(errors[1].contains("HTTP 429"), "{}", errors[1]);
    assert!(errors[3].contains("HTTP 502"), "{}", errors[3]);
    assert_eq!(receiver.ids(), ids(&batch), "each event once, in order");
}

#[tokio::test]
async fn a_lost_ack_resends_that_request_only_on_the_same_channel() {
    let (receiver, running) = receiver(with_ack()).await;
    let mut sink = HecSink::new("splunk", sink_config(&running.base_url, true));
    sink.open(None).await.unwrap();
    let batch = events(1000);
    receiver.inject(Fault::DropAcks(1));
    sink.deliver(&batch).await.unwrap();
    let got = receiver.ids();
    assert_eq!(got.len(), 1250, "one request of 250 twice");
    let mut unique = got.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 1000, "nothing lost");
    // The repeated request is the first one (its ack was dropped), sent again after the others.
    assert_eq!(&got[1000..], &ids(&batch)[..250]);
    assert!(receiver.indexed().iter().all(|e| e.channel.as_deref() == Some(sink.channel())));
}

#[tokio::test]
async fn invalid_event_number_resends_only_the_tail() {
    let (receiver, running) = receiver(with_ack()).await;
    let mut sink = HecSink::new("splunk", sink_config(&running.base_url, true));
    sink.open(None).await.unwrap();
    let batch = events(500);
    receiver.inject(Fault::Pass);
    receiver.inject(Fault::InvalidEvent(100));
    sink.deliver(&batch).await.unwrap();
    assert_eq!(receiver.ids(), ids(&batch), "each event once");
    // Request 2 (after open's probe) indexed 250; request 3 refused event 100 and
    // indexed the 100 before it; request 4 carried events 350..500 only.
    let sizes: Vec<usize> = request_sizes(&receiver).iter().map(|(_, n)| *n).collect();
    assert_eq!(sizes, vec![250, 100, 150]);
    assert_eq!(receiver.stats().answers.get(&400), Some(&2), "the probe's No data and the refusal");
}

#[tokio::test]
async fn the_same_event_refused_three_times_stops_the_sink_naming_it() {
    let (receiver, running) = receiver(with_ack()).await;
    let mut sink = HecSink::new("splunk", sink_config(&running.base_url, true));
    sink.open(None).await.unwrap();
    let batch = events(20);
    // After the first refusal the request starts at the bad event, so it is refused at 0.
    for n in [5, 0, 0] {
        receiver.inject(Fault::InvalidEvent(n));
    }
    let err = sink.deliver(&batch).await.unwrap_err();
    let message = crate::error::fatal_report(&err);
    assert!(message.contains(&batch[5].id.to_string()) && message.contains("3 times"), "{message}");
    assert_eq!(receiver.ids(), ids(&batch[..5]));
}

#[tokio::test]
async fn too_large_halves_the_request_and_later_ones_stay_small() {
    let (receiver, running) = receiver(with_ack()).await;
    let mut sink = HecSink::new("splunk", HecConfig { gzip: false, ..sink_config(&running.base_url, true) });
    sink.open(None).await.unwrap();
    let batch = events(500);
    let mut one = Vec::new();
    crate::format::hec::encode(&batch[0], &Meta::default(), &mut one);
    // About 160 events fit, 250 do not.
    receiver.set_max_content_length(one.len() * 160);
    sink.deliver(&batch[..250]).await.unwrap();
    sink.deliver(&batch[250..]).await.unwrap();
    assert_eq!(receiver.ids(), ids(&batch));
    let sizes: Vec<usize> = request_sizes(&receiver).iter().map(|(_, n)| *n).collect();
    assert_eq!(sizes, vec![125, 125, 125, 125]);
    assert_eq!(receiver.stats().answers.get(&413), Some(&1), "only the first request was too large");
}

#[tokio::test]
async fn one_event_over_the_limit_is_fatal() {
    let (receiver, running) = receiver(ReceiverConfig::new(TOKEN)).await;
    let mut sink = HecSink::new("splunk", sink_config(&running.base_url, false));
    sink.open(None).await.unwrap();
    receiver.set_max_content_length(10);
    let err = sink.deliver(&events(2)).await.unwrap_err();
    assert!(
        err.kind() == crate::SinkErrorKind::Fatal && {
            let m = err.report().to_string();
            m.contains("413") && m.contains("max_content_length")
        },
        "{err:?}"
    );
}

#[tokio::test]
async fn a_wrong_token_is_fatal_at_open_with_code_and_text() {
    let (_receiver, running) = receiver(with_ack()).await;
    let mut config = sink_config(&running.base_url, true);
    config.token = Secret::resolve("not-the-token").unwrap();
    let mut sink = HecSink::new("splunk", config.clone());
    let err = sink.open(None).await.unwrap_err();
    let message = crate::error::fatal_report(&err);
    assert!(
        message.contains("HTTP 403 Forbidden: \"Invalid token\" (code 4)")
            && message.contains("check the sink's `token`"),
        "{message}"
    );
    // And while delivering, should the token be revoked mid-run.
    let mut sink = HecSink::new("splunk", config);
    let err = sink.deliver(&events(1)).await.unwrap_err();
    assert!(
        err.kind() == crate::SinkErrorKind::Fatal && {
            let m = err.report().to_string();
            m.contains("code 4")
        },
        "{err:?}"
    );
}

#[tokio::test]
async fn other_client_errors_are_fatal_and_busy_health_is_transient() {
    let (receiver, running) = receiver(with_ack()).await;
    let mut sink = HecSink::new("splunk", sink_config(&running.base_url, true));
    sink.open(None).await.unwrap();
    receiver.inject(Fault::Status(400));
    let err = sink.deliver(&events(3)).await.unwrap_err();
    assert!(
        err.kind() == crate::SinkErrorKind::Fatal && {
            let m = err.report().to_string();
            m.contains("HTTP 400")
        },
        "{err:?}"
    );
    receiver.inject(Fault::Busy(Duration::from_secs(30)));
    let err = sink.check().await.unwrap_err();
    assert!(
        err.kind() == crate::SinkErrorKind::Transient && {
            let m = err.report().to_string();
            m.contains("503") && m.contains("code 18")
        },
        "{err:?}"
    );
}

#[tokio::test]
async fn check_proves_health_token_and_acknowledgement() {
    let (receiver, running) = receiver(with_ack()).await;
    let mut sink = HecSink::new("splunk", sink_config(&running.base_url, true));
    assert_eq!(sink.check().await.unwrap(), "HEC is healthy, the token is accepted, indexer acknowledgement is on");
    assert_eq!(receiver.indexed_count(), 0);

    // ack = true against a token without acknowledgement: code 14, at check and at open.
    let (_plain, running) = self::receiver(ReceiverConfig::new(TOKEN)).await;
    let mut sink = HecSink::new("splunk", sink_config(&running.base_url, true));
    let err = sink.check().await.unwrap_err();
    assert!(
        err.kind() == crate::SinkErrorKind::Fatal && {
            let m = err.report().to_string();
            m.contains("code 14") && m.contains("ack = false")
        },
        "{err:?}"
    );
    // Delivering without open: the 200 carries no ackId.
    let err = sink.deliver(&events(1)).await.unwrap_err();
    assert!(
        err.kind() == crate::SinkErrorKind::Fatal && {
            let m = err.report().to_string();
            m.contains("without an ackId")
        },
        "{err:?}"
    );

    // Nothing listening: transient.
    drop(running);
    let err = sink.check().await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
}

#[tokio::test]
async fn tls_with_a_ca_file_or_without_verification() {
    let (receiver, running) = receiver(ReceiverConfig { tls: true, ..with_ack() }).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, running.cert_pem.as_ref().unwrap()).unwrap();
    let mut config = sink_config(&running.base_url, true);
    config.tls.ca_file = Some(ca);
    let mut sink = HecSink::new("splunk", config.clone());
    sink.open(None).await.unwrap();
    let batch = events(10);
    sink.deliver(&batch).await.unwrap();
    assert_eq!(receiver.ids(), ids(&batch));

    let mut insecure = config.clone();
    insecure.tls = HecTls { insecure_skip_verify: true, ..HecTls::default() };
    let said = HecSink::new("splunk", insecure).check().await.unwrap();
    assert!(said.contains("NOT verified"), "{said}");

    // The receiver's certificate pinned by its fingerprint (as for Splunk's default
    // certificate, which no CA file verifies by name): delivered.
    let served = running.fingerprint().unwrap();
    let mut pinned = config.clone();
    let colons = served.as_bytes().chunks(2).map(|p| std::str::from_utf8(p).unwrap()).collect::<Vec<_>>().join(":");
    pinned.tls = HecTls { fingerprint: Some(colons.to_uppercase()), ..HecTls::default() };
    let mut sink = HecSink::new("splunk", pinned.clone());
    sink.open(None).await.unwrap();
    let more = events(3);
    sink.deliver(&more).await.unwrap();
    assert_eq!(receiver.ids().len(), 13);

    // Another CA: the handshake fails.
    let other = dir.path().join("other.pem");
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    std::fs::write(&other, cert.cert.pem()).unwrap();
    config.tls.ca_file = Some(other);
    let err = HecSink::new("splunk", config).check().await.unwrap_err();
    assert!(err.to_string().to_lowercase().contains("certificate"), "{err}");

    // Another fingerprint: refused, and the error shows both.
    let expected = netwrix::client::trust::fingerprint_of(cert.cert.der());
    pinned.tls.fingerprint = Some(expected.clone());
    let err = HecSink::new("splunk", pinned).check().await.unwrap_err().to_string();
    assert!(err.contains(&format!("expected {expected}, got {served}")), "{err}");
}

#[test]
fn config_keys_and_defaults() {
    let config: HecConfig =
        toml_like(r#"{"url":"https://splunk.example:8088/","token":"t","index":"audit","tls":{"ca_file":"/ca.pem"}}"#)
            .unwrap();
    assert_eq!(config.url, "https://splunk.example:8088");
    assert_eq!((config.batch_events, config.batch_bytes, config.gzip, config.ack), (500, 1 << 20, true, false));
    assert_eq!((config.source.as_str(), config.sourcetype.as_str()), ("auditbridge", "netwrix"));
    assert_eq!(config.tls.ca_file.as_deref(), Some(std::path::Path::new("/ca.pem")));
    let err = toml_like(r#"{"url":"splunk.example:8088","token":"t"}"#).unwrap_err();
    assert!(err.contains("invalid URL"), "{err}");
    let err = toml_like(r#"{"url":"http://s","token":"t","batch_events":0}"#).unwrap_err();
    assert!(err.contains("at least 1"), "{err}");
    let err = toml_like(r#"{"url":"http://s","token":"t","colour":"red"}"#).unwrap_err();
    assert!(err.contains("unknown field"), "{err}");
}

fn toml_like(json: &str) -> Result<HecConfig, String> {
    serde_json::from_str(json).map_err(|e| e.to_string())
}

#[tokio::test]
async fn with_ack_the_next_batch_is_posted_while_the_previous_waits_for_its_acks() {
    // An indexer that takes a while to acknowledge, as a busy Splunk does.
    let config = ReceiverConfig { ack_delay: Duration::from_millis(300), ..with_ack() };
    let (receiver, running) = receiver(config).await;
    let mut sink = HecSink::new("splunk", sink_config(&running.base_url, true));
    sink.open(None).await.unwrap();
    assert!(sink.pipelined());
    let batch = events(1500);
    let (first, second, third) = (&batch[..500], &batch[500..1000], &batch[1000..]);
    // The pipeline's order: each batch is submitted before the previous one is settled.
    let (one, two) = (sink.submit(first).await, sink.submit(second).await);
    assert!(one.went_whole() && two.went_whole());
    // Both batches are posted before the first one's acks are reported.
    assert_eq!(receiver.stats().acks_reported, 0);
    assert_eq!(receiver.ids(), ids(&batch[..1000]));
    sink.settle(&one, first).await.unwrap();
    let three = sink.submit(third).await;
    assert!(three.went_whole());
    sink.settle(&two, second).await.unwrap();
    sink.settle(&three, third).await.unwrap();
    // Everything once, in order, each request posted once and acknowledged.
    assert_eq!(receiver.ids(), ids(&batch));
    let stats = receiver.stats();
    assert_eq!(stats.accepted_requests, 6);
    assert_eq!(stats.acks_reported, 6);
}

#[tokio::test]
async fn a_batch_sent_ahead_that_failed_is_finished_by_its_deliver() {
    let (receiver, running) = receiver(with_ack()).await;
    let mut sink = HecSink::new("splunk", sink_config(&running.base_url, true));
    sink.open(None).await.unwrap();
    let batch = events(1000);
    let (first, second) = (&batch[..500], &batch[500..]);
    assert!(sink.submit(first).await.went_whole());
    // The second batch's second request is refused as the collector is busy.
    receiver.inject(Fault::Pass);
    receiver.inject(Fault::Status(503));
    let ticket = sink.submit(second).await;
    assert!(!ticket.went_whole());
    assert!(ticket.error().is_some_and(|e| e.is_transient()));
    deliver_retrying(&mut sink, first, 3).await;
    deliver_retrying(&mut sink, second, 3).await;
    // The refused request alone was posted again; nothing twice.
    assert_eq!(receiver.ids(), ids(&batch));
    assert_eq!(receiver.stats().accepted_requests, 4);
}

#[tokio::test]
async fn without_ack_batches_go_one_at_a_time() {
    let (_receiver, running) = receiver(ReceiverConfig::new(TOKEN)).await;
    let sink = HecSink::new("splunk", sink_config(&running.base_url, false));
    assert!(!sink.pipelined());
}
