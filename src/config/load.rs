//! Reading and checking a config file, with errors that point at the line and column.

mod locate;

use super::{search_filters, Config, JobConfig, JobMode};
use locate::Doc;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::path::Path;

/// A config problem, located in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    /// 1-based; 0 when the problem has no place in the file (it could not be read).
    pub line: usize,
    pub column: usize,
    /// The key concerned, e.g. `job[0].url`, when known.
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        } else {
            write!(f, "{}: ", self.file)?;
        }
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Reads and checks the config file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let (config, mut unresolved) = load_deferring(path)?;
    match unresolved.is_empty() {
        true => Ok(config),
        false => Err(unresolved.swap_remove(0)),
    }
}

/// Like [`load`], but a `${…}` secret that cannot be resolved is left empty and
/// returned as an error beside the config instead of failing the load: `status`
/// needs no secret, and `validate` reports every unset variable, not the first.
pub fn load_deferring(path: &Path) -> Result<(Config, Vec<ConfigError>), ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: file.clone(),
        line: 0,
        column: 0,
        key: None,
        message: format!("cannot read the config file: {e}"),
    })?;
    let (config, unresolved) = sinks::deferring(|| parse(&text, &file));
    let config = config?;
    let mut from = HashMap::new();
    let errors = unresolved
        .into_iter()
        .map(|u| {
            // The same reference may be written several times: each report takes the next one.
            let start = from.get(&u.reference).copied().unwrap_or(0);
            let pos = text[start..].find(&u.reference).map(|p| p + start);
            let (line, column) = pos.map_or((0, 0), |p| line_col(&text, p));
            from.insert(u.reference.clone(), pos.map_or(start, |p| p + u.reference.len()));
            ConfigError { file: file.clone(), line, column, key: None, message: u.message }
        })
        .collect();
    Ok((config, errors))
}

/// What is allowed but probably not meant, for `validate` and the log at start-up.
pub fn warnings(config: &Config) -> Vec<String> {
    let mut found = Vec::new();
    for job in &config.jobs {
        let name = job.name.get_ref();
        if !config.sinks.iter().any(|s| s.jobs.as_ref().is_none_or(|jobs| jobs.contains(name))) {
            found.push(format!(
                "job {name:?} is taken by no sink: its records are fetched and spooled but delivered nowhere \
                 (add it to a sink's jobs, or remove the job)"
            ));
        }
    }
    found
}

/// Parses and checks config `text`; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
    let at = |span: Option<Range<usize>>, key: Option<String>, message: String| {
        let (line, column) = span.map_or((1, 1), |s| line_col(text, s.start));
        ConfigError { file: file.to_owned(), line, column, key, message }
    };
    let config: Config = toml::from_str(text).map_err(|e| {
        let (mut span, mut key) = (e.span(), None);
        // A sink's own keys are read through a flattened, tagged enum, which serde reads
        // from a buffer: toml can then only point at the sink's table. Which key is at
        // fault is found by trying that table without each of its keys.
        if let (Some(s), Ok(doc)) = (&span, Doc::parse(text)) {
            if let Some((index, (found, path))) = doc.sink_at(s.start).and_then(|i| Some((i, doc.fault_in_sink(i)?))) {
                span = Some(found);
                key = Some(format!("sink[{index}].{path}"));
            }
        }
        at(span, key, e.message().trim().to_owned())
    })?;
    check(&config, text, &at)?;
    Ok(config)
}

type At<'a> = dyn Fn(Option<Range<usize>>, Option<String>, String) -> ConfigError + 'a;

fn check(config: &Config, text: &str, at: &At<'_>) -> Result<(), ConfigError> {
    if config.jobs.is_empty() {
        return Err(at(None, Some("job".into()), "no [[job]] is configured: add one with a name and a url".into()));
    }
    if config.sinks.is_empty() {
        return Err(at(
            None,
            Some("sink".into()),
            "no [[sink]] is configured: add one (for example type = \"file\")".into(),
        ));
    }
    let mut job_names = HashSet::new();
    for (i, job) in config.jobs.iter().enumerate() {
        let key = |k: &str| Some(format!("job[{i}].{k}"));
        let name = job.name.get_ref();
        if name.trim().is_empty() {
            return Err(at(Some(job.name.span()), key("name"), "a job name must not be empty".into()));
        }
        if !job_names.insert(name.as_str()) {
            return Err(at(Some(job.name.span()), key("name"), format!("the job name {name:?} is used twice")));
        }
        check_url(job.url.get_ref()).map_err(|m| at(Some(job.url.span()), key("url"), m))?;
        if let Some(count) = &job.count {
            if *count.get_ref() == 0 {
                return Err(at(Some(count.span()), key("count"), "count must be at least 1".into()));
            }
        }
        if let Some(expr) = &job.schedule {
            if job.interval.is_some() {
                return Err(at(
                    Some(expr.span()),
                    key("schedule"),
                    "give either schedule or interval, not both".into(),
                ));
            }
            crate::schedule::check(expr.get_ref()).map_err(|m| at(Some(expr.span()), key("schedule"), m))?;
        }
        if let (Some(pw), None) = (&job.password, &job.user) {
            return Err(at(Some(pw.span()), key("password"), "a password is set but no user".into()));
        }
        let tls = &job.tls;
        let modes = usize::from(tls.ca_file.is_some())
            + usize::from(tls.fingerprint.is_some())
            + usize::from(tls.insecure_skip_verify);
        if modes > 1 {
            // Located at ca_file or fingerprint, whichever stands later in the file.
            let spans = [tls.ca_file.as_ref().map(|c| c.span()), tls.fingerprint.as_ref().map(|f| f.span())];
            let span = spans.into_iter().flatten().max_by_key(|s| s.start);
            return Err(at(span, key("tls"), "choose one of ca_file, fingerprint and insecure_skip_verify".into()));
        }
        if let Some(fp) = &tls.fingerprint {
            let hex: String = fp.get_ref().chars().filter(|c| *c != ':').collect();
            if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(at(
                    Some(fp.span()),
                    key("tls.fingerprint"),
                    "a SHA-256 fingerprint is 64 hex digits (colons allowed)".into(),
                ));
            }
        }
        check_search(job, &key, at)?;
        check_start(job, &key, at)?;
    }
    if let Some(metrics) = &config.metrics {
        if metrics.listen.get_ref().parse::<std::net::SocketAddr>().is_err() {
            return Err(at(
                Some(metrics.listen.span()),
                Some("metrics.listen".into()),
                format!("{:?} is not an address and port like \"127.0.0.1:9898\"", metrics.listen.get_ref()),
            ));
        }
    }
    let doc = Doc::parse(text).ok();
    let mut sink_names = HashSet::new();
    for (i, sink) in config.sinks.iter().enumerate() {
        // The key's own place when it is written in the table, else the table's.
        let span = |k: &str| doc.as_ref().and_then(|d| d.sink_key(i, k).or_else(|| d.sink(i).map(|t| t.span())));
        let key = |k: &str| Some(format!("sink[{i}].{k}"));
        if sink.name.trim().is_empty() {
            return Err(at(span("name"), key("name"), "a sink name must not be empty".into()));
        }
        if !sink_names.insert(sink.name.as_str()) {
            return Err(at(span("name"), key("name"), format!("the sink name {:?} is used twice", sink.name)));
        }
        if sink.batch_records == 0 {
            return Err(at(span("batch_records"), key("batch_records"), "batch_records must be at least 1".into()));
        }
        for job in sink.jobs.iter().flatten() {
            if !job_names.contains(job.as_str()) {
                return Err(at(span("jobs"), key("jobs"), format!("no job is named {job:?}")));
            }
        }
        if let Some((k, message)) = sink.kind.misfit() {
            return Err(at(span(k), key(k), message));
        }
    }
    Ok(())
}

/// `start_at` and `initial_lookback`: one at most, a time that parses, and no `When`
/// filter of the job's own (the start is sent as one).
fn check_start(job: &JobConfig, key: &dyn Fn(&str) -> Option<String>, at: &At<'_>) -> Result<(), ConfigError> {
    let span = job.start_at.as_ref().map(|s| s.span()).unwrap_or_else(|| job.name.span());
    if job.start_at.is_none() && job.initial_lookback.is_none() {
        return Ok(());
    }
    if job.start_at.is_some() && job.initial_lookback.is_some() {
        return Err(at(Some(span), key("start_at"), "give either start_at or initial_lookback, not both".into()));
    }
    if let Some(start) = &job.start_at {
        crate::backfill::parse_time(start.get_ref()).map_err(|m| at(Some(span.clone()), key("start_at"), m))?;
    }
    if job.filters.keys().any(|k| k.get_ref().eq_ignore_ascii_case("When")) {
        return Err(at(
            Some(span),
            key("start_at"),
            "start_at and initial_lookback are sent as a When filter: remove filters.When".into(),
        ));
    }
    Ok(())
}

/// A job's `mode` and `filters`: search needs filters, enum takes none, and every filter
/// must be one the API accepts (the error names the job, the filter and its place).
fn check_search(job: &JobConfig, key: &dyn Fn(&str) -> Option<String>, at: &At<'_>) -> Result<(), ConfigError> {
    let name = job.name.get_ref();
    match (job.mode, job.filters.keys().next()) {
        (JobMode::Search, None) => Err(at(
            Some(job.name.span()),
            key("filters"),
            format!(
                "job {name:?} has mode = \"search\" but no filters: add at least one, \
                 e.g. filters.DataSource = [\"Active Directory\"]"
            ),
        )),
        (JobMode::Enum, Some(first)) => Err(at(
            Some(first.span()),
            key("filters"),
            format!("job {name:?}: filters are used only with mode = \"search\"; add mode = \"search\" to this job"),
        )),
        (JobMode::Enum, None) => Ok(()),
        (JobMode::Search, Some(_)) => search_filters(&job.filters).map(|_| ()).map_err(|e| {
            at(
                Some(e.span),
                key(&format!("filters.{}", e.filter)),
                format!("job {name:?}: search filter {}: {}", e.filter, e.message),
            )
        }),
    }
}

fn check_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("invalid url {url:?}: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("the url must start with https:// or http://, not {}://", parsed.scheme()));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("the url {url:?} has no host"));
    }
    if parsed.port() == Some(0) {
        return Err(format!("invalid port 0 in {url:?}"));
    }
    Ok(())
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[state]
path = "x.db"

[[job]]
name = "corp"
url = "https://netwrix.corp.example:9699"
user = "CORP\\svc"
password = "pw"

[[sink]]
name = "archive"
type = "file"
path = "out/records.jsonl"
"#;

    fn err(text: &str) -> ConfigError {
        parse(text, "t.toml").unwrap_err()
    }

    #[test]
    fn a_good_config_loads() {
        let c = parse(GOOD, "t.toml").unwrap();
        assert_eq!(c.jobs[0].name.get_ref(), "corp");
        assert_eq!(c.sinks[0].kind.type_name(), "file");
    }

    #[test]
    fn unknown_job_key_is_located() {
        let e = err(&GOOD.replace("user = ", "usr = "));
        assert_eq!((e.line, e.column), (8, 1), "{e}");
        assert!(e.message.contains("unknown field `usr`"), "{e}");
    }

    #[test]
    fn unknown_sink_key_is_located() {
        let e = err(&format!("{GOOD}rotate = 5\n"));
        assert_eq!((e.line, e.column), (15, 1), "{e}");
        assert!(e.message.contains("unknown field `rotate`"), "{e}");
    }

    #[test]
    fn a_sink_value_of_the_wrong_type_is_located_at_the_value() {
        let hec = "[[sink]]\nname = \"splunk\"\ntype = \"splunk_hec\"\nurl = \"http://h:8088\"\ntoken = \"t\"\n";
        let e = err(&format!("{GOOD}\n{hec}ack = \"yes\"   # on\n"));
        assert_eq!((e.line, e.column), (21, 7), "{e}");
        assert_eq!(e.key.as_deref(), Some("sink[1].ack"));
        assert!(e.message.contains("expected a boolean"), "{e}");
        let e = err(&format!("{GOOD}\n{hec}batch_events = -5\n"));
        assert_eq!((e.line, e.column, e.key.as_deref()), (21, 16, Some("sink[1].batch_events")), "{e}");
        // A key the sink cannot do without.
        let e = err(&format!("{GOOD}\n{}", hec.replace("\"http://h:8088\"", "5")));
        assert_eq!((e.line, e.column, e.key.as_deref()), (19, 7, Some("sink[1].url")), "{e}");
        // In a sub-table of the sink.
        let e = err(&format!("{GOOD}\n{hec}\n[sink.tls]\nca_file = 5\n"));
        assert_eq!((e.line, e.column, e.key.as_deref()), (23, 11, Some("sink[1].tls.ca_file")), "{e}");
        // A value outside a key's choices.
        let e = err(&format!("{GOOD}\n{hec}ack = true\n\n[[sink]]\nname = \"s\"\ntype = \"syslog\"\naddress = \"h:514\"\nprotocol = 'sctp'\n"));
        assert_eq!((e.line, e.column, e.key.as_deref()), (27, 12, Some("sink[2].protocol")), "{e}");
        assert!(e.message.contains("unknown variant `sctp`"), "{e}");
        // Another key holds the same value: the one at fault is still found.
        let e = err(&format!("{GOOD}\n{hec}ack = \"t\"\n"));
        assert_eq!((e.line, e.column, e.key.as_deref()), (21, 7, Some("sink[1].ack")), "{e}");
        // Two keys at fault: the error is about the one read first.
        let e = err(&format!("{GOOD}\n{hec}ack = \"t\"\nbatch_events = -5\n"));
        assert_eq!((e.line, e.column, e.key.as_deref()), (21, 7, Some("sink[1].ack")), "{e}");
        // A type the bridge does not have.
        let e = err(&format!("{GOOD}\n{}", hec.replace("splunk_hec", "splunk")));
        assert_eq!((e.line, e.column, e.key.as_deref()), (18, 8, Some("sink[1].type")), "{e}");
    }

    #[test]
    fn two_trust_modes_are_located_at_the_later_key() {
        let fp = "ab".repeat(32);
        let tls = format!("[job.tls]\nca_file = \"/etc/ca.pem\"\nfingerprint = \"{fp}\"\n");
        let e = err(&GOOD.replace("password = \"pw\"\n", &format!("password = \"pw\"\n{tls}")));
        assert_eq!((e.line, e.column, e.key.as_deref()), (12, 15, Some("job[0].tls")), "{e}");
        assert!(e.message.contains("choose one of"), "{e}");
        let tls = "[job.tls]\ninsecure_skip_verify = true\nca_file = \"/etc/ca.pem\"\n";
        let e = err(&GOOD.replace("password = \"pw\"\n", &format!("password = \"pw\"\n{tls}")));
        assert_eq!((e.line, e.column), (12, 11), "{e}");
    }

    #[test]
    fn missing_url_is_located_at_its_table() {
        let e = err(&GOOD.replace("url = \"https://netwrix.corp.example:9699\"\n", ""));
        assert_eq!(e.line, 5, "{e}");
        assert!(e.message.contains("missing field `url`"), "{e}");
    }

    #[test]
    fn bad_port_is_located_at_the_value() {
        let e = err(&GOOD.replace(":9699", ":99999"));
        assert_eq!((e.line, e.column), (7, 7), "{e}");
        assert_eq!(e.key.as_deref(), Some("job[0].url"));
        assert!(e.message.contains("invalid port"), "{e}");
    }

    #[test]
    fn schedule_and_metrics_are_checked() {
        let e = err(&GOOD.replace("password = \"pw\"", "password = \"pw\"\nschedule = \"every day\""));
        assert_eq!((e.line, e.key.as_deref()), (10, Some("job[0].schedule")), "{e}");
        let e =
            err(&GOOD.replace("password = \"pw\"", "password = \"pw\"\nschedule = \"*/5 * * * *\"\ninterval = \"1m\""));
        assert!(e.message.contains("not both"), "{e}");
        let ok = GOOD.replace("password = \"pw\"", "password = \"pw\"\nschedule = \"*/5 * * * *\"");
        assert!(parse(&ok, "t.toml").is_ok());
        let e = err(&format!("[metrics]\nlisten = \"localhost\"\n{GOOD}"));
        assert_eq!((e.line, e.column), (2, 10), "{e}");
    }

    #[test]
    fn route_filters_match_ignoring_case() {
        let text =
            format!("{GOOD}filter = {{ DataSource = [\"Active Directory\"], Action = [\"added\", \"Removed\"] }}\n");
        let c = parse(&text, "t.toml").unwrap();
        let f = c.sinks[0].filter.as_ref().unwrap();
        let mut r = netwrix::ActivityRecord {
            action: "Added".into(),
            data_source: Some("active directory".into()),
            ..Default::default()
        };
        assert!(f.matches(&r));
        r.action = "Modified".into();
        assert!(!f.matches(&r));
        r.action = "Removed".into();
        r.data_source = None;
        assert!(!f.matches(&r));
        let e = err(&format!("{GOOD}filter = {{ Who = [\"x\"] }}\n"));
        assert!(e.message.contains("unknown field `Who`"), "{e}");
    }

    #[test]
    fn search_filters_the_api_would_refuse_are_located() {
        let with = |lines: &str| GOOD.replace("password = \"pw\"\n", &format!("password = \"pw\"\n{lines}"));
        let ok = with("mode = \"search\"\nfilters.DataSource = [\"Active Directory\", { StartsWith = \"Exchange\" }]\nfilters.When = \"LastSevenDays\"\n");
        let c = parse(&ok, "t.toml").unwrap();
        assert_eq!(c.jobs[0].search_request().unwrap().unwrap().filters.len(), 3);
        let e =
            err(&with("mode = \"search\"\nfilters.Action = \"Added\"\nfilters.Where = { InGroup = 'CORP\\Admins' }\n"));
        assert_eq!((e.line, e.column), (12, 17), "{e}");
        assert_eq!(e.key.as_deref(), Some("job[0].filters.Where"), "{e}");
        assert!(
            e.to_string().contains(
                "job \"corp\": search filter Where: the API would refuse this filter: operator InGroup is not allowed"
            ),
            "{e}"
        );
        let e = err(&with("mode = \"search\"\nfilters.RID = \"{}\"\n".replace("{}", &"A".repeat(50)).as_str()));
        assert!(e.message.contains("longer than 49"), "{e}");
        assert_eq!(e.line, 11, "{e}");
        let e = err(&with("mode = \"search\"\nfilters.Whom = \"x\"\n"));
        assert_eq!((e.line, e.column), (11, 9), "{e}");
        assert!(e.message.contains("unknown search filter"), "{e}");
        let e = err(&with("mode = \"search\"\n"));
        assert!(e.message.contains("no filters"), "{e}");
        let e = err(&with("filters.Who = \"x\"\n"));
        assert!(e.message.contains("only with mode = \"search\""), "{e}");
        assert_eq!(e.line, 10, "{e}");
    }

    #[test]
    fn sink_naming_an_unknown_job_is_refused() {
        let e = err(&GOOD.replace("type = \"file\"", "type = \"file\"\njobs = [\"nope\"]"));
        assert_eq!((e.line, e.column), (14, 1), "{e}");
        assert!(e.message.contains("\"nope\""), "{e}");
    }
}
