//! `auditbridge bench`: how fast the bridge catches up a backlog, and what it costs.
//!
//! The emulator (a separate process, plain HTTP on loopback) holds N generated records.
//! For each scenario and wire format a fresh bridge process (`auditbridge run --once`)
//! exports all of them, and the table shows records/s, MB/s of API payload, that rate as
//! a fraction of curl's rate for the same pages (the source's own limit), CPU seconds per
//! 100,000 records, peak RSS and the state file's peak size. The peers are real: files,
//! syslog-ng (CEF over TCP), the HEC receiver with indexer acknowledgement, tansu (Kafka).
//! `docs/performance.md` shows the results and how to read them.

mod measure;
mod peers;

use anyhow::{bail, Context};
use measure::{CurlRate, Usage};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Options of `auditbridge bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Records the emulator generates (and each scenario exports).
    #[arg(long, default_value_t = 1_000_000)]
    pub records: usize,
    /// Run only this scenario (repeatable); default all of them.
    #[arg(long = "scenario", value_enum)]
    pub scenarios: Vec<Scenario>,
    /// Only this wire format (repeatable); default xml and json.
    #[arg(long = "format", value_enum)]
    pub formats: Vec<WireFormat>,
    /// Records per page.
    #[arg(long, default_value_t = 1000)]
    pub count: usize,
    /// Run each row this many times (the rows of a round in turn, so a slow spell of the
    /// machine spreads over all of them) and report the run with the median rate, the
    /// range of rates and the highest peak RSS of all runs.
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,
    /// The state file's `synchronous` setting.
    #[arg(long, default_value = "full", value_parser = ["full", "normal"])]
    pub synchronous: String,
    /// The HEC receiver reports each ack this long after the request (a busy indexer:
    /// "200ms"); default at once.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "0s")]
    pub hec_ack_delay: std::time::Duration,
    /// Keep the work files (configs, logs, outputs) in this directory instead of a
    /// temporary one that loses each row's files once it is measured. Each row keeps
    /// up to about 2 GB per million records (spool and sink outputs; `all four` the most).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// What the bridge exports to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// JSON lines into a file, fsynced per batch.
    File,
    /// CEF over syslog (TCP, octet counting) to a local syslog-ng.
    Cef,
    /// Splunk HEC with indexer acknowledgement, to `auditbridge hec-receiver`.
    Hec,
    /// Kafka, to the tansu broker.
    Kafka,
    /// Microsoft Sentinel (Logs Ingestion API, HTTPS, Entra ID token), to `auditbridge sentinel-receiver`.
    Sentinel,
    /// All four at once.
    All,
    /// The file sink plus a syslog sink whose receiver is down: every record stays
    /// spooled behind the stopped sink (peak RSS and spool size with a full backlog).
    Backlog,
    /// The archive sink: gzip segments and signed digests in a local directory.
    Archive,
}

impl Scenario {
    const ALL: [Scenario; 8] = [
        Scenario::File,
        Scenario::Cef,
        Scenario::Hec,
        Scenario::Kafka,
        Scenario::Sentinel,
        Scenario::All,
        Scenario::Backlog,
        Scenario::Archive,
    ];

    fn name(self) -> &'static str {
        match self {
            Scenario::File => "file",
            Scenario::Cef => "cef-syslog",
            Scenario::Hec => "hec-ack",
            Scenario::Kafka => "kafka",
            Scenario::Sentinel => "sentinel",
            Scenario::All => "all four",
            Scenario::Backlog => "backlog",
            Scenario::Archive => "archive",
        }
    }
}

/// The API's wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WireFormat {
    Xml,
    Json,
}

impl WireFormat {
    fn netwrix(self) -> netwrix::Format {
        match self {
            WireFormat::Xml => netwrix::Format::Xml,
            WireFormat::Json => netwrix::Format::Json,
        }
    }
    fn name(self) -> &'static str {
        match self {
            WireFormat::Xml => "xml",
            WireFormat::Json => "json",
        }
    }
}

/// Disk one row may fill per record exported, at most: `all four` with 100,000 records left
/// 1.55 KB a record (spool 0.42, JSON lines 0.56, syslog-ng's CEF file 0.57), and its spool
/// plus WAL peaked 0.3 KB above what it left.
const ROW_BYTES_PER_RECORD: u64 = 2000;

const HEC_TOKEN: &str = "0b1d2c3e-4f50-4a6b-8c7d-9e0f1a2b3c4d";
const TOPIC: &str = "netwrix-audit";

/// One row of the table.
struct Row {
    scenario: Scenario,
    format: WireFormat,
    usage: Usage,
    /// Records delivered to each sink (the smallest of the live sinks).
    delivered: u64,
    curl: CurlRate,
    /// Bytes of the JSON-lines output, when there is a file sink.
    json_bytes: u64,
    /// CPU seconds the peers and the emulator used while the bridge ran.
    peers_cpu: f64,
    /// CPUs of the machine, which the bridge, the peers and the emulator share.
    cpus: usize,
    /// With `--repeat`: how many runs, and the lowest and highest rate among them.
    runs: Option<(usize, f64, f64)>,
}

pub async fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    tokio::task::spawn_blocking(move || run(args)).await?
}

fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    if args.records == 0 || args.count == 0 || args.repeat == 0 {
        bail!("--records, --count and --repeat must be more than 0");
    }
    let scenarios = if args.scenarios.is_empty() { Scenario::ALL.to_vec() } else { args.scenarios.clone() };
    let formats = if args.formats.is_empty() { vec![WireFormat::Xml, WireFormat::Json] } else { args.formats.clone() };
    let _temp;
    let dir = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => {
            let t = tempfile_dir()?;
            _temp = TempDir(t.clone());
            t
        }
    };
    // Rows kept at once: one (each goes once measured), or all of them with --dir.
    let kept = if args.dir.is_some() { scenarios.len() * formats.len() * args.repeat } else { 1 };
    check_room(&dir, (args.records as u64).saturating_mul(ROW_BYTES_PER_RECORD).saturating_mul(kept as u64), kept)?;
    println!("auditbridge bench: {} records, {} a page, {} CPUs", args.records, args.count, cpus());
    let emulator = peers::emulator(args.records, &dir)?;
    let base = format!("http://{}", emulator.addr);
    println!("emulator: {base} (a separate process)");
    let mut rows = Vec::new();
    for format in formats {
        let curl = measure::curl_rate(&base, format.netwrix(), args.records, args.count, &dir)?;
        println!(
            "curl, {}: {} pages, {:.1} MB in {:.2}s = {:.0} records/s, {:.1} MB/s",
            format.name(),
            curl.pages,
            curl.bytes as f64 / 1e6,
            curl.seconds,
            args.records as f64 / curl.seconds,
            curl.bytes as f64 / 1e6 / curl.seconds
        );
        let mut runs: Vec<Vec<Row>> = scenarios.iter().map(|_| Vec::new()).collect();
        for round in 1..=args.repeat {
            for (&scenario, runs) in scenarios.iter().zip(&mut runs) {
                let mut name = format!("{}-{}", scenario.name().replace(' ', "-"), format.name());
                if args.repeat > 1 {
                    let _ = write!(name, "-{round}");
                }
                let work = dir.join(name);
                if work.exists() {
                    std::fs::remove_dir_all(&work)?;
                }
                std::fs::create_dir_all(work.join("out"))?;
                let row = run_scenario(&args, scenario, format, &emulator, &work, curl).with_context(|| {
                    format!("scenario {} ({}); files in {}", scenario.name(), format.name(), work.display())
                })?;
                println!("{}", line(&row, args.records));
                runs.push(row);
                if args.dir.is_none() {
                    // A row leaves about a gigabyte per million records (spool, sink output):
                    // measured, it goes, so a full run needs the disk of one row, not twelve.
                    std::fs::remove_dir_all(&work)?;
                }
            }
        }
        rows.extend(runs.into_iter().filter_map(median));
    }
    drop(emulator);
    println!();
    print!("{}", table(&rows, args.records));
    let short: Vec<&Row> = rows.iter().filter(|r| r.delivered < args.records as u64).collect();
    for r in &short {
        eprintln!(
            "{} ({}): only {} of {} records delivered",
            r.scenario.name(),
            r.format.name(),
            r.delivered,
            args.records
        );
    }
    Ok(if short.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn run_scenario(
    args: &BenchArgs,
    scenario: Scenario,
    format: WireFormat,
    emulator: &peers::Peer,
    work: &Path,
    curl: CurlRate,
) -> anyhow::Result<Row> {
    let base = format!("http://{}", emulator.addr);
    let state = work.join("state.db");
    let mut text = format!(
        "[state]\npath = {state:?}\nsynchronous = {sync:?}\n\n[retry]\nmax_delay = \"1s\"\n{give_up}\n\
         [[job]]\nname = \"bench\"\nurl = {base:?}\nformat = {format:?}\ncount = {count}\n",
        state = state.display().to_string(),
        sync = args.synchronous,
        give_up = if scenario == Scenario::Backlog { "give_up_after = \"5s\"\n" } else { "" },
        format = format.name(),
        count = args.count,
    );
    let mut peers = Vec::new();
    let mut live = Vec::new();
    let has = |s: Scenario| scenario == s || scenario == Scenario::All;
    if has(Scenario::File) || scenario == Scenario::Backlog {
        let path = work.join("out/records.jsonl");
        let _ = write!(text, "\n[[sink]]\nname = \"file\"\ntype = \"file\"\npath = {:?}\n", path.display().to_string());
        live.push("file");
    }
    if has(Scenario::Cef) {
        let peer = peers::syslog_ng(work)?;
        let _ = write!(
            text,
            "\n[[sink]]\nname = \"cef\"\ntype = \"syslog\"\naddress = {:?}\nprotocol = \"tcp\"\nformat = \"cef\"\n",
            peer.addr
        );
        peers.push(peer);
        live.push("cef");
    }
    if has(Scenario::Hec) {
        let peer = peers::hec_receiver(HEC_TOKEN, args.hec_ack_delay, work)?;
        let _ = write!(
            text,
            "\n[[sink]]\nname = \"hec\"\ntype = \"splunk_hec\"\nurl = \"http://{}\"\ntoken = {HEC_TOKEN:?}\nack = true\n",
            peer.addr
        );
        peers.push(peer);
        live.push("hec");
    }
    if has(Scenario::Kafka) {
        let peer = peers::tansu(TOPIC, work)?;
        let _ = write!(
            text,
            "\n[[sink]]\nname = \"kafka\"\ntype = \"kafka\"\nbrokers = [{:?}]\ntopic = {TOPIC:?}\n",
            peer.addr
        );
        peers.push(peer);
        live.push("kafka");
    }
    if scenario == Scenario::Sentinel {
        let (peer, ca) = peers::sentinel_receiver(work)?;
        let url = format!("https://{}", peer.addr);
        let _ = write!(
            text,
            "\n[[sink]]\nname = \"sentinel\"\ntype = \"sentinel\"\nendpoint = {url:?}\nauthority_host = {url:?}\n\
             dcr_immutable_id = \"dcr-bench\"\ntenant_id = \"t\"\nclient_id = \"c\"\nclient_secret = \"s\"\n\
             [sink.tls]\nca_file = {:?}\n",
            ca.display().to_string()
        );
        peers.push(peer);
        live.push("sentinel");
    }
    if scenario == Scenario::Archive {
        let key = work.join("archive.key");
        std::fs::write(&key, sinks::archive::SigningKey::generate()?.to_text())?;
        let _ = write!(
            text,
            "\n[[sink]]\nname = \"archive\"\ntype = \"archive\"\npath = {:?}\nsigning_key = \"${{file:{}}}\"\n",
            work.join("out/archive").display().to_string(),
            key.display()
        );
        live.push("archive");
    }
    if scenario == Scenario::Backlog {
        // Nothing listens there: the sink retries, gives up, and keeps every record spooled.
        let port = peers::free_port()?;
        let _ = write!(
            text,
            "\n[[sink]]\nname = \"stopped\"\ntype = \"syslog\"\naddress = \"127.0.0.1:{port}\"\nprotocol = \"tcp\"\n"
        );
    }
    let config = work.join("bench.toml");
    std::fs::write(&config, &text)?;
    let peers_cpu = || peers.iter().chain([emulator]).map(peers::Peer::cpu_seconds).sum::<f64>();
    let peers_before = peers_cpu();
    let usage = measure::run_bridge(&config, &state, &work.join("bridge.log"))?;
    let peers_cpu = peers_cpu() - peers_before;
    drop(peers);
    if !usage.success && scenario != Scenario::Backlog {
        bail!("the bridge failed; its log: {}", work.join("bridge.log").display());
    }
    let store = state::Store::open(&state, state::StoreOptions::default())?;
    let delivered =
        store.sinks()?.iter().filter(|s| live.contains(&s.name.as_str())).map(|s| s.delivered_total).min().unwrap_or(0);
    let json_bytes = std::fs::metadata(work.join("out/records.jsonl")).map_or(0, |m| m.len());
    Ok(Row { scenario, format, usage, delivered, curl, json_bytes, peers_cpu, cpus: cpus(), runs: None })
}

/// The run with the median rate (of two middle ones, the slower), carrying the range of
/// rates, the highest peak RSS and the fewest records delivered of all the runs.
fn median(mut runs: Vec<Row>) -> Option<Row> {
    if runs.len() < 2 {
        return runs.pop();
    }
    runs.sort_by(|a, b| b.usage.seconds.total_cmp(&a.usage.seconds));
    let n = runs.len();
    let rates = (runs[0].usage.seconds, runs[n - 1].usage.seconds);
    let peak_rss = runs.iter().map(|r| r.usage.peak_rss).max().unwrap_or(0);
    let delivered = runs.iter().map(|r| r.delivered).min().unwrap_or(0);
    let mut row = runs.swap_remove((n - 1) / 2);
    row.usage.peak_rss = peak_rss;
    row.delivered = delivered;
    row.runs = Some((n, rates.0, rates.1));
    Some(row)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn line(r: &Row, records: usize) -> String {
    let rate = records as f64 / r.usage.seconds;
    format!(
        "{:<10} {:<4} {:>9} records in {:>6.2}s: {:>8.0} records/s, {:>5.1}% of curl, {:.2} CPU s/100k (peers {:.2}, machine {:.0}% busy), peak RSS {:.1} MiB, spool peak {:.1} MiB",
        r.scenario.name(),
        r.format.name(),
        r.delivered,
        r.usage.seconds,
        rate,
        100.0 * rate / (records as f64 / r.curl.seconds),
        r.usage.cpu_seconds / records as f64 * 100_000.0,
        r.peers_cpu / records as f64 * 100_000.0,
        r.busy_percent(),
        mib(r.usage.peak_rss),
        mib(r.usage.peak_spool)
    )
}

impl Row {
    /// The bridge's, the peers' and the emulator's CPU time over what all the machine's
    /// CPUs could have given during the run.
    fn busy_percent(&self) -> f64 {
        100.0 * (self.usage.cpu_seconds + self.peers_cpu) / (self.usage.seconds * self.cpus as f64)
    }
}

/// The results as a Markdown table.
fn table(rows: &[Row], records: usize) -> String {
    let mut out = String::from(
        "| scenario | format | delivered | seconds | records/s | API MB/s | of curl | CPU s / 100k | peers CPU s / 100k | machine busy | peak RSS MiB | spool peak MiB | spool / JSON |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let repeated = rows.iter().any(|r| r.runs.is_some());
    if repeated {
        // One more column: the range of rates over the runs.
        out = out.replace("spool / JSON |\n", "spool / JSON | runs: records/s |\n").replace("---:|\n", "---:|---|\n");
    }
    for r in rows {
        let rate = records as f64 / r.usage.seconds;
        let spool_ratio = if r.scenario == Scenario::Backlog && r.json_bytes > 0 {
            format!("{:.2}", r.usage.peak_spool as f64 / r.json_bytes as f64)
        } else {
            "-".into()
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.2} | {:.0} | {:.1} | {:.0}% | {:.2} | {:.2} | {:.0}% | {:.1} | {:.1} | {} |",
            r.scenario.name(),
            r.format.name(),
            r.delivered,
            r.usage.seconds,
            rate,
            r.curl.bytes as f64 / 1e6 / r.usage.seconds,
            100.0 * rate / (records as f64 / r.curl.seconds),
            r.usage.cpu_seconds / records as f64 * 100_000.0,
            r.peers_cpu / records as f64 * 100_000.0,
            r.busy_percent(),
            mib(r.usage.peak_rss),
            mib(r.usage.peak_spool),
            spool_ratio
        );
        if let Some((n, slowest, fastest)) = r.runs {
            out.pop();
            let _ = writeln!(out, " {n}: {:.0}–{:.0} |", records as f64 / slowest, records as f64 / fastest);
        }
    }
    out
}

/// Refuses a run whose files would fill the disk of `dir` (this machine's disk filled once,
/// with a CI build beside a bench): `need` bytes for `kept` rows at once.
fn check_room(dir: &Path, need: u64, kept: usize) -> anyhow::Result<()> {
    let gb = |b: u64| b as f64 / 1e9;
    match crate::disk::free_bytes(dir) {
        Ok(free) if free < need => bail!(
            "the bench needs about {:.1} GB free in {} ({kept} row(s) kept at once, up to {:.1} KB a record each) \
             and there are {:.1} GB; export fewer --records, or without --dir (which keeps every row), or with \
             --dir on a larger disk",
            gb(need),
            dir.display(),
            ROW_BYTES_PER_RECORD as f64 / 1e3,
            gb(free)
        ),
        Ok(_) => Ok(()),
        Err(e) => {
            eprintln!("warning: cannot tell the free disk space in {}: {e}; going on", dir.display());
            Ok(())
        }
    }
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A fresh directory under the system's temp dir.
fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("auditbridge-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Removes the work directory when the bench ends.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_that_cannot_fit_on_the_disk_is_refused_before_it_starts() {
        let dir = tempfile::tempdir().unwrap();
        let err = check_room(dir.path(), u64::MAX / 2, 36).unwrap_err().to_string();
        assert!(err.contains("needs about") && err.contains("36 row(s) kept") && err.contains("--dir"), "{err}");
        check_room(dir.path(), 1, 1).unwrap();
        // A directory it cannot measure is not a reason to refuse.
        check_room(&dir.path().join("not-there"), u64::MAX / 2, 1).unwrap();
    }
}
