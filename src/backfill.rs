//! How backfilled rows are told apart in the spool.
//!
//! `auditbridge backfill` fetches under a job name of its own, so the live job's
//! continuation mark is never touched and the backfill resumes from its own mark if
//! interrupted: `<job>@backfill|<sink or *>|<from>|<to>`. Delivery loops read that
//! name to route the row (to the base job's sinks, or to the one sink asked for) and
//! to flag the event as a replay.

/// What marks a backfill's job name.
const MARKER: &str = "@backfill|";

/// The job name a backfill of `job` between `from` and `to` fetches under.
pub fn pseudo_job(job: &str, sink: Option<&str>, from: &str, to: &str) -> String {
    format!("{job}{MARKER}{}|{from}|{to}", sink.unwrap_or("*"))
}

/// Whether a spooled row's job name is a backfill's.
pub fn is_backfill(job: &str) -> bool {
    job.contains(MARKER)
}

/// Where a spooled row goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route<'a> {
    /// The configured job the row belongs to.
    pub job: &'a str,
    /// The one sink that takes it, for a backfill with `--sink`.
    pub only_sink: Option<&'a str>,
    /// Sent again by a backfill.
    pub replay: bool,
}

/// Reads a spooled row's job name.
pub fn route(job: &str) -> Route<'_> {
    let Some((base, rest)) = job.split_once(MARKER) else {
        return Route { job, only_sink: None, replay: false };
    };
    // The times hold no `|`, so the sink is everything before the last two fields.
    let sink = rest.rsplitn(3, '|').nth(2).unwrap_or("*");
    Route { job: base, only_sink: (sink != "*").then_some(sink), replay: true }
}

/// Reads a `--from`/`--to` value: RFC 3339 (any offset) or a date (midnight UTC),
/// written back as the API's preferred `YYYY-MM-DDTHH:MM:SSZ`.
pub fn parse_time(text: &str) -> Result<String, String> {
    let text = text.trim();
    let utc = if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        t.with_timezone(&chrono::Utc)
    } else if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        d.and_hms_opt(0, 0, 0).ok_or("invalid date")?.and_utc()
    } else {
        return Err(format!("{text:?} is not a time like 2024-03-01 or 2024-03-01T10:00:00Z"));
    };
    Ok(utc.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_route() {
        let from = parse_time("2024-03-01").unwrap();
        let to = parse_time("2024-03-02T01:00:00+01:00").unwrap();
        assert_eq!((from.as_str(), to.as_str()), ("2024-03-01T00:00:00Z", "2024-03-02T00:00:00Z"));
        let all = pseudo_job("corp", None, &from, &to);
        assert_eq!(route(&all), Route { job: "corp", only_sink: None, replay: true });
        let one = pseudo_job("corp", Some("splunk|eu"), &from, &to);
        assert_eq!(route(&one), Route { job: "corp", only_sink: Some("splunk|eu"), replay: true });
        assert_eq!(route("corp"), Route { job: "corp", only_sink: None, replay: false });
        assert!(parse_time("yesterday").is_err());
    }
}
