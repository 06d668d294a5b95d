//! `[metrics]`: Prometheus `/metrics`, `/healthz` and `/readyz` on a local port, so
//! an unattended bridge can be watched and alerted on.
//!
//! Everything served is read from the run's [`Shared`] counters; serving a scrape
//! never touches the state file.

use crate::pipeline::{Histogram, Shared};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

/// How recent each job's last successful fetch must be for `/readyz`.
#[derive(Debug, Clone)]
pub struct Readiness {
    /// Job name and the longest quiet time that is still healthy.
    pub jobs: Vec<(String, Duration)>,
}

/// Serves the endpoints on `addr` until the returned task is aborted.
pub async fn serve(
    addr: SocketAddr,
    shared: Arc<Shared>,
    readiness: Readiness,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let readiness = Arc::new(readiness);
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let (shared, readiness) = (shared.clone(), readiness.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                    let response = respond(req.uri().path(), &shared, &readiness);
                    async move { Ok::<_, std::convert::Infallible>(response) }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
            });
        }
    });
    Ok((local, task))
}

fn respond(path: &str, shared: &Shared, readiness: &Readiness) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match path {
        "/metrics" => (StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", render(shared)),
        "/healthz" => (StatusCode::OK, "text/plain; charset=utf-8", "ok\n".to_owned()),
        "/readyz" => match not_ready(shared, readiness) {
            None => (StatusCode::OK, "text/plain; charset=utf-8", "ready\n".to_owned()),
            Some(why) => (StatusCode::SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", format!("not ready: {why}\n")),
        },
        _ => (StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "try /metrics, /healthz or /readyz\n".to_owned()),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    response
}

/// Why the bridge is not ready, or `None`: every job fetched within its interval.
fn not_ready(shared: &Shared, readiness: &Readiness) -> Option<String> {
    let now = chrono::Utc::now().timestamp_millis();
    let mut stale = Vec::new();
    for (job, window) in &readiness.jobs {
        let last = shared.jobs.get(job).map_or(0, |c| c.last_success_ms.load(Relaxed));
        if last == 0 {
            stale.push(format!("job {job:?} has not fetched yet"));
        } else if now - last > window.as_millis() as i64 {
            stale.push(format!("job {job:?} last fetched {}s ago", (now - last) / 1000));
        }
    }
    (!stale.is_empty()).then(|| stale.join("; "))
}

/// The Prometheus text exposition of the run's counters.
pub fn render(shared: &Shared) -> String {
    let mut out = String::with_capacity(4096);
    let mut jobs: Vec<_> = shared.jobs.iter().collect();
    jobs.sort_by(|a, b| a.0.cmp(b.0));
    let mut sinks: Vec<_> = shared.sinks.iter().collect();
    sinks.sort_by(|a, b| a.0.cmp(b.0));

    type JobSeries = (&'static str, &'static str, fn(&crate::pipeline::JobCounters) -> u64);
    let job_counters: [JobSeries; 5] = [
        ("auditbridge_records_fetched_total", "Records received from the Netwrix API.", |c| c.fetched.load(Relaxed)),
        ("auditbridge_records_spooled_total", "Records committed to the spool.", |c| c.spooled.load(Relaxed)),
        (
            "auditbridge_duplicates_skipped_total",
            "Records skipped because their job had already spooled them (within spool.dedup_window).",
            |c| c.duplicates.load(Relaxed),
        ),
        ("auditbridge_pages_total", "Pages fetched and committed with their continuation mark.", |c| {
            c.pages.load(Relaxed)
        }),
        ("auditbridge_fetch_retries_total", "Page requests retried after a transient error.", |c| {
            c.retries.load(Relaxed)
        }),
    ];
    for (name, help, get) in job_counters {
        header(&mut out, name, help, "counter");
        for (job, c) in &jobs {
            let _ = writeln!(out, "{name}{{job=\"{}\"}} {}", escape(job), get(c));
        }
    }
    header(
        &mut out,
        "auditbridge_last_successful_fetch_timestamp_seconds",
        "When each job last fetched a page.",
        "gauge",
    );
    for (job, c) in &jobs {
        let ms = c.last_success_ms.load(Relaxed);
        let _ = writeln!(
            out,
            "auditbridge_last_successful_fetch_timestamp_seconds{{job=\"{}\"}} {}",
            escape(job),
            ms as f64 / 1e3
        );
    }
    header(&mut out, "auditbridge_page_latency_seconds", "Time to fetch and decode one page.", "histogram");
    for (job, c) in &jobs {
        let (cumulative, sum) = c.page_latency.snapshot();
        let job = escape(job);
        for (bound, count) in Histogram::BOUNDS.iter().zip(&cumulative) {
            let _ = writeln!(out, "auditbridge_page_latency_seconds_bucket{{job=\"{job}\",le=\"{bound}\"}} {count}");
        }
        let total = cumulative.last().copied().unwrap_or(0);
        let _ = writeln!(out, "auditbridge_page_latency_seconds_bucket{{job=\"{job}\",le=\"+Inf\"}} {total}");
        let _ = writeln!(out, "auditbridge_page_latency_seconds_sum{{job=\"{job}\"}} {sum}");
        let _ = writeln!(out, "auditbridge_page_latency_seconds_count{{job=\"{job}\"}} {total}");
    }

    let max_seq = shared.max_seq();
    type SinkSeries = (&'static str, &'static str, &'static str, fn(&crate::pipeline::SinkCounters, u64) -> u64);
    let sink_series: [SinkSeries; 5] = [
        ("auditbridge_records_delivered_total", "Records acknowledged by the sink's peer.", "counter", |c, _| {
            c.delivered.load(Relaxed)
        }),
        ("auditbridge_delivery_failures_total", "Delivery attempts that failed.", "counter", |c, _| {
            c.failures.load(Relaxed)
        }),
        ("auditbridge_delivery_retries_total", "Batches retried after a transient error.", "counter", |c, _| {
            c.retries.load(Relaxed)
        }),
        (
            "auditbridge_sink_backlog_records",
            "Spooled records the sink has not acknowledged yet.",
            "gauge",
            |c, max| max.saturating_sub(c.cursor.load(Relaxed)),
        ),
        ("auditbridge_sink_up", "1 while the sink runs, 0 once it stopped on a permanent error.", "gauge", |c, _| {
            u64::from(!c.failed.load(Relaxed))
        }),
    ];
    for (name, help, kind, get) in sink_series {
        header(&mut out, name, help, kind);
        for (sink, c) in &sinks {
            let _ = writeln!(out, "{name}{{sink=\"{}\"}} {}", escape(sink), get(c, max_seq));
        }
    }
    header(
        &mut out,
        "auditbridge_sink_lag_seconds",
        "Age of the sink's oldest unacknowledged record (as of the last prune).",
        "gauge",
    );
    for (sink, c) in &sinks {
        let _ = writeln!(
            out,
            "auditbridge_sink_lag_seconds{{sink=\"{}\"}} {}",
            escape(sink),
            c.lag_ms.load(Relaxed) as f64 / 1e3
        );
    }
    header(&mut out, "auditbridge_spool_used_bytes", "Bytes of the state file in use (as of the last prune).", "gauge");
    let _ = writeln!(out, "auditbridge_spool_used_bytes {}", shared.spool_bytes());
    header(&mut out, "auditbridge_spool_max_seq", "The highest sequence number spooled.", "gauge");
    let _ = writeln!(out, "auditbridge_spool_max_seq {max_seq}");
    out
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Escapes a label value (backslash, quote, newline).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms_in_prometheus_text() {
        let shared = Shared::new(&["corp".into()], &[("archive".into(), 3)], 10);
        let job = &shared.jobs["corp"];
        job.fetched.store(10, Relaxed);
        job.page_latency.observe(Duration::from_millis(30));
        job.page_latency.observe(Duration::from_secs(20));
        let text = render(&shared);
        assert!(text.contains("auditbridge_records_fetched_total{job=\"corp\"} 10\n"), "{text}");
        assert!(text.contains("auditbridge_page_latency_seconds_bucket{job=\"corp\",le=\"0.05\"} 1\n"), "{text}");
        assert!(text.contains("auditbridge_page_latency_seconds_bucket{job=\"corp\",le=\"+Inf\"} 2\n"), "{text}");
        assert!(text.contains("auditbridge_sink_backlog_records{sink=\"archive\"} 7\n"), "{text}");
        assert_eq!(escape("a\"b\\c"), "a\\\"b\\\\c");
    }
}
