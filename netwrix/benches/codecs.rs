//! Page decoding, the fetcher's per-record CPU cost: one page of 1,000 generated
//! records in XML and in JSON, as the emulator serves it (and in XML off the decoder's
//! fast path). Throughput is in records.
//! Run: `cargo bench -p netwrix --bench codecs`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use netwrix::{Format, Page};
use std::hint::black_box;

const PAGE: usize = 1000;

fn page_body(format: Format) -> Vec<u8> {
    let page =
        Page { records: netwrix::generate::generate(PAGE, 7), mark: Some(netwrix::emulator::enum_mark_at(PAGE)) };
    let mut body = Vec::new();
    format.encode_page(&page, &mut body);
    body
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("page_decode");
    group.throughput(Throughput::Elements(PAGE as u64));
    for (name, format) in [("xml", Format::Xml), ("json", Format::Json)] {
        let body = page_body(format);
        group.bench_function(name, |b| b.iter(|| format.decode_page(black_box(&body)).map(|p| p.records.len())));
        // As the client decodes: the body is the response's `Bytes`, which records share.
        let shared = bytes::Bytes::from(body);
        group.bench_function(format!("{name}_shared"), |b| {
            b.iter(|| format.decode_page_shared(black_box(shared.clone())).map(|p| p.records.len()))
        });
    }
    // The same page with a comment in it, which the XML decoder's fast path leaves to the
    // general quick-xml decoder: the cost of a page the server writes differently.
    let mut body = page_body(Format::Xml);
    let at = body.windows(16).position(|w| w == b"<ActivityRecord>").unwrap_or(body.len());
    body.splice(at..at, b"<!-- -->".iter().copied());
    group.bench_function("xml_general", |b| {
        b.iter(|| Format::Xml.decode_page(black_box(&body)).map(|p| p.records.len()))
    });
    group.finish();
    let mut group = c.benchmark_group("compact");
    group.throughput(Throughput::Elements(PAGE as u64));
    let records = netwrix::generate::generate(PAGE, 7);
    group.bench_function("encode_and_id", |b| {
        b.iter(|| {
            let mut n = 0;
            for r in &records {
                let p = netwrix::compact::to_vec(black_box(r));
                n += netwrix::RecordId::of_compact(&p).0[0] as usize + netwrix::compact::order_key(&p) as usize;
            }
            n
        })
    });
    let compact: Vec<Vec<u8>> = records.iter().map(netwrix::compact::to_vec).collect();
    group.bench_function("decode", |b| {
        b.iter(|| compact.iter().filter(|p| netwrix::compact::decode(black_box(p)).is_ok()).count())
    });
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
