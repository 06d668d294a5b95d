//! Measures what `synchronous=FULL` costs over `NORMAL` for the fetcher's hot
//! path: committing pages of 1,000 records of ~600 bytes each.
//!
//! Run: `cargo run --release -p state --example commit_cost [DIR] [PAGES] [RECORDS_PER_PAGE]`
//! (defaults: `.`, 200, 1000).
//! DIR (default: the current directory) should be on the disk the real state
//! file will live on; a temp dir under /tmp may be RAM-backed, where fsync is
//! free and the ratio meaningless.

use std::time::{Duration, Instant};

use state::{NewRecord, Store, StoreOptions, Synchronous};

const PAYLOAD_BYTES: usize = 600;
const ROUNDS: usize = 3;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| ".".to_owned());
    let pages: u32 = args.next().map(|p| p.parse()).transpose()?.unwrap_or(200);
    let per_page: u32 = args.next().map(|p| p.parse()).transpose()?.unwrap_or(1_000);
    // Alternate modes over several rounds so drift in the machine affects both.
    let mut full = Vec::new();
    let mut normal = Vec::new();
    for round in 0..ROUNDS {
        for mode in [Synchronous::Full, Synchronous::Normal] {
            let elapsed = run(&dir, mode, pages, per_page)?;
            println!("round {round} {mode:?}: {:.2?} ({:.2?} per page)", elapsed, elapsed / pages);
            if mode == Synchronous::Full {
                full.push(elapsed)
            } else {
                normal.push(elapsed)
            }
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (f, n) = (median(&mut full), median(&mut normal));
    println!(
        "{pages} pages x {per_page} records x {PAYLOAD_BYTES} B: Full/Normal = {:.2} (median of {ROUNDS})",
        f.as_secs_f64() / n.as_secs_f64()
    );
    Ok(())
}

fn run(dir: &str, synchronous: Synchronous, pages: u32, per_page: u32) -> Result<Duration, Box<dyn std::error::Error>> {
    let tmp = tempfile::Builder::new().prefix("commit_cost").tempdir_in(dir)?;
    let mut store = Store::open(&tmp.path().join("state.db"), StoreOptions { synchronous })?;
    // Payloads vary per record (an xorshift stream), like real JSON would.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut payloads = vec![vec![0u8; PAYLOAD_BYTES]; per_page as usize];
    let mut elapsed = Duration::ZERO;
    for page in 0..pages {
        for p in &mut payloads {
            for b in p.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = b' ' + (x % 90) as u8;
            }
        }
        let records: Vec<NewRecord<'_>> = payloads
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let n = u64::from(page) * u64::from(per_page) + i as u64;
                let mut id = [0u8; 16];
                id[..8].copy_from_slice(&n.to_be_bytes());
                NewRecord { id, order: 0, payload: p }
            })
            .collect();
        let mark = format!("mark-{page}");
        // Time only the commit, not the payload generation.
        let start = Instant::now();
        store.commit_page("bench", &records, Some(&mark), 0)?;
        elapsed += start.elapsed();
    }
    drop(store);
    Ok(elapsed)
}
