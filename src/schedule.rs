//! When a job asks again after reaching the end of data: a fixed `interval`, or a
//! cron `schedule` whose ticks come from tokio-cron-scheduler.
//!
//! A job's runs never overlap: one fetcher runs the job, and a tick that comes while a
//! run is under way leaves a single pending wake-up (ticks coalesce), so the next run
//! starts when the current one ends.

use croner::parser::{CronParser, Seconds};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_cron_scheduler::{Job, JobScheduler};

/// How a fetcher waits between runs.
#[derive(Clone)]
pub enum Wait {
    Interval(Duration),
    /// Woken by the scheduler at each tick of the job's cron schedule.
    Tick(Arc<Notify>),
}

/// A cron expression with five fields gets a `0` seconds field in front, so both the
/// classic form and the seconds form work.
pub fn normalise(expr: &str) -> String {
    let expr = expr.trim();
    if expr.split_whitespace().count() == 5 {
        format!("0 {expr}")
    } else {
        expr.to_owned()
    }
}

/// Checks a cron expression the way the scheduler will read it.
pub fn check(expr: &str) -> Result<(), String> {
    parser().parse(&normalise(expr)).map(|_| ()).map_err(|e| format!("invalid cron expression {expr:?}: {e}"))
}

/// The gap between the next two ticks of `expr` (how stale a job may look between runs).
pub fn period(expr: &str) -> Option<Duration> {
    let cron = parser().parse(&normalise(expr)).ok()?;
    let mut ticks = cron.iter_after(chrono::Utc::now());
    let (a, b) = (ticks.next()?, ticks.next()?);
    (b - a).to_std().ok()
}

fn parser() -> CronParser {
    CronParser::builder().seconds(Seconds::Required).dom_and_dow(true).build()
}

/// The running scheduler; dropping it stops the ticks.
pub struct Scheduler(JobScheduler);

impl Scheduler {
    /// Starts a scheduler ticking each `(expression, wake-up)` pair.
    pub async fn start(jobs: Vec<(String, Arc<Notify>)>) -> anyhow::Result<Scheduler> {
        let scheduler = JobScheduler::new().await?;
        for (expr, wake) in jobs {
            let job = Job::new_async(normalise(&expr).as_str(), move |_, _| {
                let wake = wake.clone();
                Box::pin(async move { wake.notify_one() })
            })?;
            scheduler.add(job).await?;
        }
        scheduler.start().await?;
        Ok(Scheduler(scheduler))
    }

    pub async fn stop(mut self) {
        let _ = self.0.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_and_six_field_expressions_are_accepted() {
        assert!(check("*/15 * * * *").is_ok());
        assert!(check("30 */5 * * * *").is_ok());
        assert!(check("every day").is_err());
        assert_eq!(period("0 */15 * * * *"), Some(Duration::from_secs(900)));
        assert_eq!(period("*/2 * * * * *"), Some(Duration::from_secs(2)));
    }

    #[tokio::test]
    async fn the_scheduler_wakes_a_job_at_its_ticks() {
        let wake = Arc::new(Notify::new());
        let scheduler = Scheduler::start(vec![("* * * * * *".into(), wake.clone())]).await.unwrap();
        tokio::time::timeout(Duration::from_secs(3), wake.notified()).await.expect("a tick within 3 s");
        scheduler.stop().await;
    }
}
