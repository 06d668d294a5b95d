//! Reading a sink's batches: the spool rows after a seq, kept when the sink takes their
//! job and passes its filter, decoded into events. The rows it does not take still move
//! its cursor with the batch, so routing never holds pruning back.

use super::store::StoreHandle;
use sinks::Event;

/// A batch read from the spool: the last seq it covers (`None`: nothing after the
/// cursor yet) and the events among its rows that this sink takes.
pub(super) struct Loaded {
    pub last: Option<u64>,
    pub events: Vec<Event>,
}

/// Reads a sink's batches from the spool and turns the rows it takes into events.
/// Apart from [`Delivery`](super::delivery::Delivery) because that holds the sink, which is `Send` but not `Sync`:
/// a `&Delivery` held across the read's await would make the delivery task not `Send`.
pub(super) struct Loader {
    pub store: StoreHandle,
    pub name: String,
    pub jobs: Option<Vec<String>>,
    pub filter: Option<crate::config::RouteFilter>,
    pub limit: usize,
    pub bytes: usize,
    /// Each job name's routing (a backfill's sink and replay flag), read from its job row.
    pub routes: crate::backfill::Routes,
}

impl Loader {
    /// The rows after seq `after`, as events for this sink.
    pub async fn load(&mut self, after: u64) -> Result<Loaded, state::StateError> {
        let (limit, bytes) = (self.limit, self.bytes);
        let rows = self.store.read(move |s| s.read_batch(after, limit, bytes)).await?;
        let last = rows.last().map(|r| r.seq);
        self.routes.learn(&self.store, &rows).await?;
        let mut events = Vec::with_capacity(rows.len());
        for row in rows {
            let route = self.routes.route(&row.job);
            if !self.jobs.as_ref().is_none_or(|jobs| jobs.iter().any(|j| j == route.job))
                || route.only_sink.is_some_and(|only| only != self.name)
            {
                continue;
            }
            match netwrix::compact::decode_shared(netwrix::TextBuf::new(row.payload)) {
                Ok(record) if self.filter.as_ref().is_some_and(|f| !f.matches(&record)) => {}
                Ok(record) => events.push(Event {
                    seq: row.seq,
                    id: netwrix::RecordId(row.id),
                    job: route.job.to_owned(),
                    replay: route.replay,
                    record,
                }),
                Err(e) => {
                    tracing::error!(sink = %self.name, seq = row.seq, "spool row cannot be read and is skipped: {e}")
                }
            }
        }
        Ok(Loaded { last, events })
    }
}
