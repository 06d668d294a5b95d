//! `auditbridge preview`: the bytes a sink would put on the wire for its next records,
//! to check a SIEM's parser before going live. The records come from the spool after
//! the sink's cursor, then, if that holds fewer, from the API after each job's mark.
//! Nothing moves: no mark, no cursor, nothing spooled, no peer contacted.

use crate::config::{self, JobConfig, SinkConfig, StartAt};
use crate::pipeline::{self, StoreHandle};
use sinks::Event;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Options of `auditbridge preview`.
#[derive(Debug, clap::Args)]
pub struct PreviewArgs {
    /// The config file (every key: config/auditbridge.example.toml).
    #[arg(long, short)]
    pub config: PathBuf,
    /// The sink whose bytes to show.
    #[arg(long)]
    pub sink: String,
    /// How many records.
    #[arg(short = 'n', long, default_value_t = 5)]
    pub n: usize,
    /// Only records of this job (default: every job the sink takes).
    #[arg(long)]
    pub job: Option<String>,
}

pub async fn preview(args: PreviewArgs) -> anyhow::Result<ExitCode> {
    let config = config::load(&args.config)?;
    let Some(sink) = config.sinks.iter().find(|s| s.name == args.sink) else {
        let names: Vec<_> = config.sinks.iter().map(|s| s.name.as_str()).collect();
        anyhow::bail!("no sink is named {:?} (sinks: {})", args.sink, names.join(", "));
    };
    let jobs: Vec<&JobConfig> = config
        .jobs
        .iter()
        .filter(|j| sink.takes(j.name.get_ref()) && args.job.as_ref().is_none_or(|only| only == j.name.get_ref()))
        .collect();
    if let Some(job) = &args.job {
        anyhow::ensure!(!jobs.is_empty(), "sink {:?} takes no job named {job:?}", sink.name);
    }
    let store = pipeline::open_handle(&config)?;
    let (name, now) = (sink.name.clone(), sink.start == StartAt::Now);
    let (after, committed, max_seq) = store
        .read(move |s| {
            let cursor = s.cursor(&name)?;
            let max_seq = s.max_seq()?;
            Ok(match cursor {
                Some(c) => (c.seq, c.value, max_seq),
                None if now => (max_seq, None, max_seq),
                None => (0, None, max_seq),
            })
        })
        .await?;
    let mut events = from_spool(&store, sink, &jobs, after, args.n).await?;
    let spooled = events.len();
    for job in &jobs {
        if events.len() >= args.n {
            break;
        }
        let seq = max_seq + (events.len() - spooled) as u64;
        events.extend(from_api(&store, sink, job, seq, args.n - events.len()).await?);
    }
    let mut out = pipeline::sink_for(sink);
    let Some(bytes) = out.preview(committed.as_deref(), &events) else {
        anyhow::bail!("sink {:?} ({}) cannot show its bytes", sink.name, sink.kind.type_name());
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&bytes)?;
    stdout.flush()?;
    eprintln!(
        "preview of sink {:?} ({}): {} records, {spooled} from the spool after its cursor and {} from the API; \
         no mark or cursor moved",
        sink.name,
        sink.kind.type_name(),
        events.len(),
        events.len() - spooled
    );
    Ok(ExitCode::SUCCESS)
}

/// Up to `n` spooled events after `after` that the sink would take.
async fn from_spool(
    store: &StoreHandle,
    sink: &SinkConfig,
    jobs: &[&JobConfig],
    mut after: u64,
    n: usize,
) -> anyhow::Result<Vec<Event>> {
    let mut events = Vec::new();
    let mut routes = crate::backfill::Routes::default();
    while events.len() < n {
        let rows = store.read(move |s| s.read_batch(after, 1000, 0)).await?;
        let Some(last) = rows.last() else { break };
        after = last.seq;
        routes.learn(store, &rows).await?;
        for row in rows {
            let route = routes.route(&row.job);
            if !jobs.iter().any(|j| j.name.get_ref() == route.job) || route.only_sink.is_some_and(|o| o != sink.name) {
                continue;
            }
            let record = netwrix::compact::decode_shared(netwrix::TextBuf::new(row.payload))?;
            if sink.filter.as_ref().is_none_or(|f| f.matches(&record)) && events.len() < n {
                let (job, replay) = (route.job.to_owned(), route.replay);
                events.push(Event { seq: row.seq, id: netwrix::RecordId(row.id), job, replay, record });
            }
        }
    }
    Ok(events)
}

/// Up to `n` events the job's next fetch would bring, numbered after `seq` as the
/// spool would number them; fetched after the job's mark, nothing committed.
async fn from_api(
    store: &StoreHandle,
    sink: &SinkConfig,
    job: &JobConfig,
    mut seq: u64,
    n: usize,
) -> anyhow::Result<Vec<Event>> {
    let name = job.name.get_ref().clone();
    let client = pipeline::client_for_with_count(job, None)?;
    let search = job.search_request().map_err(anyhow::Error::msg)?;
    let search = pipeline::start::starting_search(store, job, search, true).await?;
    let mut mark = {
        let name = name.clone();
        store.read(move |s| s.mark(&name)).await?
    };
    let mut events = Vec::new();
    while events.len() < n {
        let page = match (&search, &mark) {
            (Some(search), mark) => {
                client.search(&netwrix::SearchRequest { mark: mark.clone(), ..search.clone() }).await?
            }
            (None, None) => client.first_page().await?,
            (None, Some(mark)) => client.next_page(mark).await?,
        };
        if page.records.is_empty() {
            break;
        }
        for record in &page.records {
            // Through the compact form, as the spool stores it and delivery reads it.
            let payload = netwrix::compact::to_vec(record);
            let id = netwrix::RecordId::of_compact(&payload);
            let record = netwrix::compact::decode_shared(netwrix::TextBuf::new(payload))?;
            if sink.filter.as_ref().is_none_or(|f| f.matches(&record)) && events.len() < n {
                seq += 1;
                events.push(Event { seq, id, job: name.clone(), replay: false, record });
            }
        }
        match page.mark {
            Some(next) => mark = Some(next),
            None => break,
        }
    }
    Ok(events)
}
