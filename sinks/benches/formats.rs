//! Encoding, the delivery loop's per-record CPU cost: CEF, LEEF and JSON lines through
//! the sinks' [`Encoder`], and the Splunk HEC envelope, each over 1,000 generated
//! records into one reused buffer, and the gzip of the HEC envelopes (what a HEC request
//! costs on top of encoding). Throughput is in records.
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

criterion_group!(benches, encode);
criterion_main!(benches);
