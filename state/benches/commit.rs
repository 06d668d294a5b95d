//! The spool's cost per page: committing one page of 1,000 records (~470 bytes each,
//! the size of a generated record's compact form) with its mark in one transaction,
//! on a file in WAL mode, `synchronous` FULL and NORMAL, into a spool that already
//! holds 100,000 rows; ordering keys rise with the page as auditbridge's do (and, for
//! comparison, all 0: the random-only index of state schema version 1).
//! Throughput is in records. Run: `cargo bench -p state --bench commit`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use state::{NewRecord, Store, StoreOptions, Synchronous};

const PAGE: usize = 1000;
const PAYLOAD: usize = 470;

/// Page `n`'s ids, keys and payloads: distinct ids (a counter hashed by xorshift) and
/// varied payload bytes.
fn page(n: u64) -> Vec<([u8; 16], i64, Vec<u8>)> {
    (0..PAGE as u64)
        .map(|i| {
            let k = n * PAGE as u64 + i;
            let mut x = k.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut next = || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            };
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&next().to_le_bytes());
            id[8..].copy_from_slice(&next().to_le_bytes());
            let payload = (0..PAYLOAD).map(|_| (next() % 96 + 32) as u8).collect();
            (id, k as i64, payload)
        })
        .collect()
}

fn commit(c: &mut Criterion) {
    let mut group = c.benchmark_group("spool_commit_page");
    group.throughput(Throughput::Elements(PAGE as u64));
    group.sample_size(30);
    // `full_random_keys`: every key 0, so the dedup index sees random ids only, which
    // is what the schema before migration 2 (UNIQUE (id)) did.
    for (name, synchronous, keyed) in [
        ("full", Synchronous::Full, true),
        ("normal", Synchronous::Normal, true),
        ("full_random_keys", Synchronous::Full, false),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = Store::open(&dir.path().join("state.db"), StoreOptions { synchronous }).expect("open");
        let mut n = 0u64;
        let commit = |store: &mut Store, rows: &[([u8; 16], i64, Vec<u8>)], n: u64| {
            let records: Vec<NewRecord<'_>> = rows
                .iter()
                .map(|(id, order, p)| NewRecord { id: *id, order: if keyed { *order } else { 0 }, payload: p })
                .collect();
            store.commit_page("bench", &records, Some(&format!("mark{n}")), 0).expect("commit")
        };
        while n < 100 {
            commit(&mut store, &page(n), n);
            n += 1;
        }
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    n += 1;
                    (page(n), n)
                },
                |(rows, n)| commit(&mut store, &rows, n),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, commit);
criterion_main!(benches);
