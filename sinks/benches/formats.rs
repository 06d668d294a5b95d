//! Encoding, the delivery loop's per-record CPU cost: CEF, LEEF and JSON lines through
//! the sinks' [`Encoder`], and the Splunk HEC envelope, each over 1,000 generated
//! records into one reused buffer, and the gzip of the HEC envelopes (what a HEC request
//! costs on top of encoding). Throughput is in records.
//! The `fast_path` group sets each hand-written fast path beside the general path it
//! stands in for, over the same records, so its gain is one ratio of one run
//! (docs/performance.md keeps a fast path only where that is 10 % or more).
//! Run: `cargo bench -p sinks --bench formats`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sinks::format::{hec, Encoder, Format};
use sinks::Event;
use std::hint::black_box;

const N: usize = 1000;

fn events() -> Vec<Event> {
    netwrix::generate::generate(N, 11)
        .into_iter()
        .enumerate()
        .map(|(i, record)| Event {
            seq: i as u64 + 1,
            id: netwrix::RecordId::of_compact(&netwrix::compact::to_vec(&record)),
            job: "corp".into(),
            replay: false,
            record,
        })
        .collect()
}

fn encode(c: &mut Criterion) {
    let events = events();
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(N as u64));
    let mut buf = Vec::with_capacity(1 << 20);
    for (name, format) in [("cef", Format::Cef), ("leef", Format::Leef), ("json", Format::Json)] {
        let encoder = Encoder::new(format, None, None);
        group.bench_function(name, |b| {
            b.iter(|| {
                buf.clear();
                for e in &events {
                    encoder.encode(black_box(e), &mut buf);
                }
                buf.len()
            })
        });
    }
    let meta = hec::Meta { sourcetype: Some("netwrix"), ..hec::Meta::default() };
    group.bench_function("hec_json", |b| {
        b.iter(|| {
            buf.clear();
            for e in &events {
                hec::encode(black_box(e), &meta, &mut buf);
            }
            buf.len()
        })
    });
    // The HEC sink gzips each request's envelopes at the fastest level (`hec::request::body`).
    buf.clear();
    for e in &events {
        hec::encode(e, &meta, &mut buf);
    }
    group.bench_function("hec_gzip", |b| {
        b.iter(|| {
            let mut gz = flate2::write::GzEncoder::new(Vec::with_capacity(buf.len() / 4), flate2::Compression::fast());
            let _ = std::io::Write::write_all(&mut gz, black_box(&buf));
            gz.finish().map_or(0, |v| v.len())
        })
    });
    group.finish();
}

/// Each fast path against its general twin: the JSON of a record by hand and by
/// `serde_json` (the same bytes), and a value copied under its cap by the eight-bytes-
/// at-a-time scan and char by char (what CEF and LEEF values go through).
fn fast_path(c: &mut Criterion) {
    use sinks::format::limit::{push_capped, push_str_capped, put_utf8, Specials};
    let events = events();
    let mut group = c.benchmark_group("fast_path");
    group.throughput(Throughput::Elements(N as u64));
    let mut buf = Vec::with_capacity(1 << 20);
    group.bench_function("record_json", |b| {
        b.iter(|| {
            buf.clear();
            for e in &events {
                sinks::format::record_json::record(&mut buf, black_box(&e.record));
            }
            buf.len()
        })
    });
    group.bench_function("record_json_serde", |b| {
        b.iter(|| {
            buf.clear();
            for e in &events {
                let _ = serde_json::to_writer(&mut buf, black_box(&e.record));
            }
            buf.len()
        })
    });
    // Every text value of a record, as CEF's extension writes them (1,023 bytes at most).
    let values: Vec<Vec<&str>> = events
        .iter()
        .map(|e| {
            let r = &e.record;
            let mut v = vec![&*r.who, &*r.action, &*r.what, &*r.object_type];
            v.extend(r.details.iter().flat_map(|d| [d.before.as_deref(), d.after.as_deref()]).flatten());
            v
        })
        .collect();
    let specials = Specials::controls_and(b'\\', b'=');
    group.bench_function("capped_values", |b| {
        b.iter(|| {
            buf.clear();
            for v in values.iter().flatten() {
                push_str_capped(&mut buf, black_box(v), 1023, &specials, put_utf8);
            }
            buf.len()
        })
    });
    group.bench_function("capped_values_by_char", |b| {
        b.iter(|| {
            buf.clear();
            for v in values.iter().flatten() {
                push_capped(&mut buf, black_box(v).chars(), 1023, put_utf8);
            }
            buf.len()
        })
    });
    group.finish();
}

criterion_group!(benches, encode, fast_path);
criterion_main!(benches);
