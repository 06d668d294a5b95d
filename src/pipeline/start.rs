//! Where a job starts when not from the beginning of the audit data: `start_at`,
//! `initial_lookback` or `auditbridge import-mark --since`.
//!
//! The API has no "enum from a time", so such a job searches: its requests go to
//! `/search` with a `When` filter from that time, under the job's own mark, for good
//! (a search mark is not an enum mark, spec §3.8). Records written later match the
//! filter too, so once caught up the job follows new records live. The time is
//! resolved at the first run and kept in the state file, so the filter sent under the
//! mark never changes: `initial_lookback` does not slide, and a changed or removed
//! `start_at` is ignored with a warning. A job that already has an enum mark keeps it.

use super::StoreHandle;
use crate::config::JobConfig;
use netwrix::{Filter, FilterValue, SearchRequest};

/// The search a job runs with: `search` (its own filters, if any) plus a `When` filter
/// from its start time, when it has one; else `search` unchanged. With `peek`
/// (`auditbridge preview`) nothing is stored and nothing logged.
pub async fn starting_search(
    store: &StoreHandle,
    job: &JobConfig,
    search: Option<SearchRequest>,
    peek: bool,
) -> anyhow::Result<Option<SearchRequest>> {
    let name = job.name.get_ref().clone();
    let wanted = match (&job.start_at, job.initial_lookback) {
        (Some(at), _) => Some(crate::backfill::parse_time(at.get_ref()).map_err(anyhow::Error::msg)?),
        (None, Some(back)) => {
            let back = chrono::Duration::from_std(back.0)?;
            Some((chrono::Utc::now() - back).format("%Y-%m-%dT%H:%M:%SZ").to_string())
        }
        (None, None) => None,
    };
    let (mark, kept) = {
        let name = name.clone();
        store.call(move |s| Ok((s.mark(&name)?, s.start_from(&name)?))).await?
    };
    let from = match (kept, wanted) {
        (None, None) => return Ok(search),
        (None, Some(_)) if mark.is_some() => {
            if peek {
                return Ok(search);
            }
            tracing::warn!(
                job = %name,
                "start_at / initial_lookback ignored: the job has run already and resumes from its mark"
            );
            return Ok(search);
        }
        (None, Some(from)) if peek => from,
        (None, Some(from)) => {
            let stored = from.clone();
            let job_name = name.clone();
            store.call(move |s| s.set_start_from(&job_name, Some(&stored))).await?;
            tracing::info!(job = %name, from = %from, "first run: searching for records from this time on");
            from
        }
        (Some(kept), wanted) => {
            if !peek && job.start_at.is_some() && wanted.as_deref() != Some(kept.as_str()) {
                tracing::warn!(
                    job = %name, kept = %kept,
                    "start_at changed after the first run: ignored, the job keeps its start and its mark"
                );
            }
            kept
        }
    };
    let mut search = search.unwrap_or_default();
    search.filters.push(Filter {
        field: "When".into(),
        operator: None,
        value: FilterValue::Interval { from: Some(from), to: None },
    });
    Ok(Some(search))
}
