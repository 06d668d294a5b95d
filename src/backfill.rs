//! How backfilled rows are told apart in the spool.
//!
//! `auditbridge backfill` fetches under a job name of its own, so the live job's
//! continuation mark is never touched and the backfill resumes from its own mark if
//! interrupted. Where its rows go is kept in that job's row ([`state::Routing`]: the base
//! job, the one sink asked for, the replay flag), written before the first page; delivery
//! loops read it once per job name ([`Routes`]), never from the name.

use std::collections::HashMap;

use crate::pipeline::StoreHandle;

/// Records a backfill's routing in the store, before it fetches, and returns the job
/// name it fetches under.
pub async fn register(
    store: &StoreHandle,
    job: &str,
    sink: Option<&str>,
    from: &str,
    to: &str,
) -> Result<String, state::StateError> {
    let (name, routing) = (job_name(job, sink, from, to), routing(job, sink, from, to));
    let key = name.clone();
    store.call(move |s| s.set_routing(&key, &routing)).await?;
    Ok(name)
}

/// The job name a backfill of `job` between `from` and `to` fetches under: one per
/// request, so the same request resumes under the same mark. Only a key; nothing reads
/// it back (before state schema 4 delivery did, and the migration kept the format).
fn job_name(job: &str, sink: Option<&str>, from: &str, to: &str) -> String {
    format!("{job}@backfill|{}|{from}|{to}", sink.unwrap_or("*"))
}

/// The routing a backfill's rows carry.
fn routing(job: &str, sink: Option<&str>, from: &str, to: &str) -> state::Routing {
    state::Routing {
        base_job: job.to_owned(),
        only_sink: sink.map(str::to_owned),
        replay: true,
        range: Some((from.to_owned(), to.to_owned())),
    }
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

/// The routing of every job name met in the spool, read from the store when a row of a
/// name not seen yet comes (a backfill started after the delivery loop did).
#[derive(Debug, Default)]
pub struct Routes {
    by_job: HashMap<String, Option<state::Routing>>,
}

impl Routes {
    /// Makes sure every one of `rows`' jobs is known: reads the jobs' routing again if not.
    pub async fn learn(&mut self, store: &StoreHandle, rows: &[state::SpoolRow]) -> Result<(), state::StateError> {
        if rows.iter().all(|r| self.by_job.contains_key(&r.job)) {
            return Ok(());
        }
        let jobs = store.read(|s| s.jobs()).await?;
        self.by_job = jobs.into_iter().map(|j| (j.name, j.routing)).collect();
        // A row whose job has no row of its own (never written by this build) is its job's.
        for row in rows {
            self.by_job.entry(row.job.clone()).or_default();
        }
        Ok(())
    }

    /// Where a row of `job` goes (a job not learned is delivered as itself).
    pub fn route<'a>(&'a self, job: &'a str) -> Route<'a> {
        match self.by_job.get(job) {
            Some(Some(r)) => Route { job: &r.base_job, only_sink: r.only_sink.as_deref(), replay: r.replay },
            _ => Route { job, only_sink: None, replay: false },
        }
    }
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

    #[tokio::test]
    async fn rows_are_routed_from_their_jobs_routing() {
        let from = parse_time("2024-03-01").unwrap();
        let to = parse_time("2024-03-02T01:00:00+01:00").unwrap();
        assert_eq!((from.as_str(), to.as_str()), ("2024-03-01T00:00:00Z", "2024-03-02T00:00:00Z"));
        assert!(parse_time("yesterday").is_err());
        let store = StoreHandle::new(state::Store::open_in_memory().unwrap());
        let page = |job: &str, id: u8| {
            let (job, record) = (job.to_owned(), [state::NewRecord { id: [id; 16], order: 0, payload: b"x" }]);
            store.call(move |s| s.commit_page(&job, &record, None, 0))
        };
        page("corp", 1).await.unwrap();
        let (all, one) = (job_name("corp", None, &from, &to), job_name("corp", Some("splunk|eu"), &from, &to));
        // The names builds before state schema 4 fetched under: a backfill they left
        // unfinished resumes under its mark (the migration gave it its routing).
        assert_eq!(all, "corp@backfill|*|2024-03-01T00:00:00Z|2024-03-02T00:00:00Z");
        assert_eq!(one, "corp@backfill|splunk|eu|2024-03-01T00:00:00Z|2024-03-02T00:00:00Z");
        for (name, sink) in [(all.clone(), None), (one.clone(), Some("splunk|eu"))] {
            let routing = routing("corp", sink, &from, &to);
            store.call(move |s| s.set_routing(&name, &routing)).await.unwrap();
        }
        page(&all, 2).await.unwrap();
        page(&one, 3).await.unwrap();
        let mut routes = Routes::default();
        let rows = store.read(|s| s.read_batch(0, 10, usize::MAX)).await.unwrap();
        routes.learn(&store, &rows).await.unwrap();
        let got: Vec<Route> = rows.iter().map(|r| routes.route(&r.job)).collect();
        assert_eq!(
            got,
            [
                Route { job: "corp", only_sink: None, replay: false },
                Route { job: "corp", only_sink: None, replay: true },
                Route { job: "corp", only_sink: Some("splunk|eu"), replay: true },
            ]
        );
    }
}
