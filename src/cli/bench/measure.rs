//! Measuring one process: the bridge as a child (`auditbridge run --once`), with its
//! wall time, CPU time and peak RSS from `wait4`, and the state file's size polled while
//! it runs; and the raw limit, the same pages fetched by one curl process.

use anyhow::{bail, Context};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one bridge run cost.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    pub seconds: f64,
    /// User + system CPU seconds of the bridge process.
    pub cpu_seconds: f64,
    /// Peak resident set size (`ru_maxrss`), bytes.
    pub peak_rss: u64,
    /// Largest size seen of the state file plus its WAL, bytes.
    pub peak_spool: u64,
    /// Whether the run exited 0.
    pub success: bool,
}

/// Runs `auditbridge run --once --config <config>` to its end, its log into `log`.
pub fn run_bridge(config: &Path, state: &Path, log: &Path) -> anyhow::Result<Usage> {
    let stderr = std::fs::File::create(log)?;
    let started = Instant::now();
    let child = Command::new(std::env::current_exe()?)
        .arg("run")
        .arg("--once")
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .context("starting the bridge")?;
    let pid = child.id() as libc::pid_t;
    let mut peak_spool = 0;
    loop {
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value of this plain C struct.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `pid` is our own child, not yet reaped; both pointers are to live locals.
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if reaped < 0 {
            bail!("waiting for the bridge: {}", std::io::Error::last_os_error());
        }
        peak_spool = peak_spool.max(state::file_bytes(state));
        if reaped == pid {
            let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
            return Ok(Usage {
                seconds: started.elapsed().as_secs_f64(),
                cpu_seconds: tv(usage.ru_utime) + tv(usage.ru_stime),
                peak_rss: usage.ru_maxrss as u64 * 1024,
                peak_spool,
                success: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The CPU time (user + system, reaped children included) process `pid` has used, from
/// `/proc/<pid>/stat`; 0 where that cannot be read (no `/proc`, or the process is gone).
pub fn process_cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // The command name (field 2) may hold spaces; the fields after it are plain numbers.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime, stime, cutime, cstime are fields 14 to 17 of the line, 12 to 15 after the name.
    let ticks: u64 = fields.iter().skip(11).take(4).filter_map(|f| f.parse::<u64>().ok()).sum();
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if per_second <= 0 {
        return 0.0;
    }
    ticks as f64 / per_second as f64
}

/// The raw limit: every page of `records` records fetched by one curl process over
/// one keep-alive connection, to /dev/null.
#[derive(Debug, Clone, Copy)]
pub struct CurlRate {
    pub pages: usize,
    pub bytes: u64,
    pub seconds: f64,
}

/// Fetches the emulator's pages the way the bridge asks for them (`GET enum` first,
/// then `POST enum` with each mark), with curl.
pub fn curl_rate(
    base: &str,
    format: netwrix::Format,
    records: usize,
    count: usize,
    dir: &Path,
) -> anyhow::Result<CurlRate> {
    let mut query = vec![format!("count={count}")];
    if let Some(f) = format.query() {
        query.insert(0, format!("format={f}"));
    }
    let url = format!("{base}/netwrix/api/v1/activity_records/enum?{}", query.join("&"));
    let bodies = dir.join("curl-marks");
    std::fs::create_dir_all(&bodies)?;
    let mut config = String::new();
    let mut pos = 0;
    let mut pages = 0;
    while pos < records {
        if pos > 0 {
            config.push_str("next\n");
        }
        config.push_str(&format!(
            "url = \"{url}\"\noutput = \"/dev/null\"\nwrite-out = \"%{{http_code}} %{{size_download}}\\n\"\n"
        ));
        if pos > 0 {
            let mut body = Vec::new();
            format.encode_mark(&netwrix::emulator::enum_mark_at(pos), &mut body);
            let path = bodies.join(format!("{pos}"));
            std::fs::write(&path, body)?;
            config.push_str(&format!(
                "header = \"Content-Type: {}\"\ndata-binary = \"@{}\"\n",
                format.content_type(),
                path.display()
            ));
        }
        pos += count;
        pages += 1;
    }
    let cfg = dir.join("curl.cfg");
    std::fs::write(&cfg, config)?;
    let started = Instant::now();
    let out = Command::new("curl").arg("-s").arg("-K").arg(&cfg).output().context("running curl")?;
    let seconds = started.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!("curl failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut bytes = 0;
    let mut answered = 0;
    for line in text.lines() {
        let (code, size) = line.split_once(' ').unwrap_or((line, "0"));
        if code != "200" {
            bail!("curl got HTTP {code} from the emulator");
        }
        bytes += size.trim().parse::<u64>().unwrap_or(0);
        answered += 1;
    }
    if answered != pages {
        bail!("curl answered {answered} of {pages} pages");
    }
    std::fs::remove_dir_all(&bodies)?;
    Ok(CurlRate { pages, bytes, seconds })
}
