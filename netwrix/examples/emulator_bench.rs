//! Measures how fast the emulator serves pages, so it is known never to be the
//! bottleneck of a benchmark of the bridge.
//!
//! `cargo run --release -p netwrix --example emulator_bench -- [RECORDS] [COUNT] [xml|json] [--serve ADDR]`
//!
//! Without `--serve`: generates RECORDS records (default 100,000), serves them on a free
//! port, and follows the enum marks from start to end with one keep-alive connection,
//! `COUNT` records per page (default 1,000); prints pages/s. Then does the same with
//! four concurrent readers. With `--serve ADDR`: only serves (for curl), until Ctrl-C.

use netwrix::emulator::{Emulator, EmulatorConfig};
use netwrix::Format;
use std::time::Instant;

const ENUM: &str = "/netwrix/api/v1/activity_records/enum";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let serve_at = args.iter().position(|a| a == "--serve").and_then(|i| args.get(i + 1)).cloned();
    let positional: Vec<&String> =
        args.iter().filter(|a| !a.starts_with("--") && Some(*a) != serve_at.as_ref()).collect();
    let records: usize = positional.first().map_or(Ok(100_000), |s| s.parse())?;
    let count: usize = positional.get(1).map_or(Ok(1_000), |s| s.parse())?;
    let format =
        if positional.get(2).is_some_and(|s| s.eq_ignore_ascii_case("json")) { Format::Json } else { Format::Xml };

    let started = Instant::now();
    let emu = Emulator::new(EmulatorConfig::default());
    emu.add_records(netwrix::generate::generate_iter(1).take(records));
    println!("generated and stored {records} records in {:.2?}", started.elapsed());

    if let Some(addr) = serve_at {
        let server = emu.serve(addr.parse()?).await?;
        println!("serving at {}{ENUM}", server.base_url);
        tokio::signal::ctrl_c().await?;
        server.shutdown().await;
        return Ok(());
    }

    let server = emu.serve("127.0.0.1:0".parse()?).await?;
    let query = match format {
        Format::Json => format!("?format=json&count={count}"),
        Format::Xml => format!("?count={count}"),
    };
    let url = format!("{}{ENUM}{query}", server.base_url);

    let (pages, bytes, secs) = read_all(&url, format).await?;
    println!(
        "1 reader, {format:?}, count={count}: {pages} pages, {:.1} MB in {secs:.2} s = {:.0} pages/s, {:.0} records/s, {:.0} MB/s",
        bytes as f64 / 1e6,
        pages as f64 / secs,
        records as f64 / secs,
        bytes as f64 / 1e6 / secs
    );

    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move { read_all(&url, format).await.map_err(|e| e.to_string()) }));
    }
    let mut total_pages = 0;
    for t in tasks {
        total_pages += t.await?.map_err(std::io::Error::other)?.0;
    }
    let secs = started.elapsed().as_secs_f64();
    println!("4 readers: {total_pages} pages in {secs:.2} s = {:.0} pages/s", total_pages as f64 / secs);
    server.shutdown().await;
    Ok(())
}

/// Follows the marks from the first page to the empty one; returns (pages, bytes, seconds).
async fn read_all(url: &str, format: Format) -> Result<(usize, usize, f64), Box<dyn std::error::Error + Send + Sync>> {
    // reqwest has no crypto provider of its own in this build: the process's.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let started = Instant::now();
    let mut body = http.get(url).send().await?.bytes().await?;
    let (mut pages, mut bytes) = (1, body.len());
    loop {
        let page = format.decode_page(&body)?;
        if page.records.is_empty() {
            break;
        }
        let mut request = Vec::new();
        format.encode_mark(page.mark.as_deref().unwrap_or_default(), &mut request);
        body = http.post(url).body(request).send().await?.bytes().await?;
        pages += 1;
        bytes += body.len();
    }
    Ok((pages, bytes, started.elapsed().as_secs_f64()))
}
