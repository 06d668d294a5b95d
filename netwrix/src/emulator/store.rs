//! The emulator's audit database: an append-only list of records, and what the write
//! endpoint does to a record before it stores it.
//!
//! Positions in the list are what continuation marks point at, so records are never
//! removed or reordered: a mark kept from the end resumes at exactly the records added since.

use crate::model::{ActivityRecord, Item};
use crate::search::Matcher;
use crate::text::Text;
use chrono::{DateTime, NaiveDateTime, Utc};
use rand::Rng;
use sha2::{Digest, Sha256};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The records, in the order they were added. Shared records make a page a cheap slice copy.
#[derive(Debug, Default)]
pub(crate) struct Store {
    records: RwLock<Vec<Arc<ActivityRecord>>>,
}

impl Store {
    fn read(&self) -> RwLockReadGuard<'_, Vec<Arc<ActivityRecord>>> {
        self.records.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_lock(&self) -> RwLockWriteGuard<'_, Vec<Arc<ActivityRecord>>> {
        self.records.write().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn len(&self) -> usize {
        self.read().len()
    }

    /// Appends records exactly as given.
    pub(crate) fn append(&self, records: impl IntoIterator<Item = ActivityRecord>) {
        let records: Vec<Arc<ActivityRecord>> = records.into_iter().map(Arc::new).collect();
        self.write_lock().extend(records);
    }

    /// Appends records as the write endpoint stores them (see [`as_written`]).
    pub(crate) fn write(&self, records: Vec<ActivityRecord>) {
        let now = Utc::now();
        self.append(records.into_iter().map(|r| as_written(r, now)));
    }

    /// Up to `count` records from `pos`, and the position after the last one.
    /// A position past the end gives no records and stays where it is.
    pub(crate) fn page(&self, pos: usize, count: usize) -> (Vec<ActivityRecord>, usize) {
        let guard = self.read();
        if pos >= guard.len() {
            return (Vec::new(), pos);
        }
        let end = pos.saturating_add(count).min(guard.len());
        let records = guard[pos..end].iter().map(|r| ActivityRecord::clone(r)).collect();
        (records, end)
    }

    /// Scans forward from `pos` until `count` records match or the end is reached; returns
    /// the matches and the position after the last record scanned.
    pub(crate) fn search(&self, pos: usize, count: usize, matcher: &Matcher) -> (Vec<ActivityRecord>, usize) {
        let guard = self.read();
        if pos >= guard.len() {
            return (Vec::new(), pos);
        }
        let mut found = Vec::new();
        for (i, record) in guard.iter().enumerate().skip(pos) {
            if found.len() >= count {
                return (found, i);
            }
            if matcher.matches(record) {
                found.push(ActivityRecord::clone(record));
            }
        }
        (found, guard.len())
    }
}

/// What the write endpoint makes of an input record (spec §2):
/// - a new `RID`: the write time as `yyyyMMddHHmmssfff` + 32 random upper-case hex digits;
/// - `DataSource` becomes `Netwrix API`, whatever was sent;
/// - an `Item` name gets the type suffix ` (Integration)` unless it already ends with it;
///   an Item without a name is dropped;
/// - a `MonitoringPlan` with a `Name` gets the `ID` the product would have for that plan
///   (a GUID derived from the lower-cased name, so one plan always has one ID); a plan
///   without a name keeps what it has; no plan stays no plan;
/// - `Detail/Message` is output-only and is dropped;
/// - `When` is rewritten as UTC `YYYY-MM-DDTHH:MM:SSZ` (a value without a zone is read as UTC;
///   an unparseable one is kept as is; the HTTP endpoint refuses those before this point).
pub(crate) fn as_written(mut r: ActivityRecord, now: DateTime<Utc>) -> ActivityRecord {
    r.rid = Some(new_rid(now).into());
    r.data_source = Some(Text::from_static("Netwrix API"));
    r.item = r.item.and_then(|item| item.name).map(|name| {
        let name =
            if name.trim_end().ends_with("(Integration)") { name } else { format!("{name} (Integration)").into() };
        Item { name: Some(name) }
    });
    if let Some(plan) = &mut r.monitoring_plan {
        if let Some(name) = &plan.name {
            plan.id = Some(plan_id(name).into());
        } else if plan.id.is_none() {
            r.monitoring_plan = None;
        }
    }
    for d in &mut r.details {
        d.message = None;
    }
    if let Some(t) = parse_when(&r.when) {
        r.when = t.format("%Y-%m-%dT%H:%M:%SZ").to_string().into();
    }
    r
}

/// Checks what the input schema makes mandatory: Who, Action, What, When (a valid
/// `xs:dateTime`), Where, ObjectType, and PropertyName in every Detail.
pub(crate) fn check_input(records: &[ActivityRecord]) -> Result<(), String> {
    for (i, r) in records.iter().enumerate() {
        let n = i + 1;
        for (name, value) in [
            ("Who", &r.who),
            ("Action", &r.action),
            ("What", &r.what),
            ("When", &r.when),
            ("Where", &r.where_),
            ("ObjectType", &r.object_type),
        ] {
            if value.trim().is_empty() {
                return Err(format!("ActivityRecord {n}: the mandatory element '{name}' is missing or empty"));
            }
        }
        if parse_when(&r.when).is_none() {
            return Err(format!("ActivityRecord {n}: '{}' is not a valid xs:dateTime", r.when));
        }
        if r.details.iter().any(|d| d.property_name.trim().is_empty()) {
            return Err(format!("ActivityRecord {n}: a Detail has no PropertyName"));
        }
    }
    Ok(())
}

/// An `xs:dateTime`: RFC 3339 with `Z` or an offset, or without a zone (read as UTC).
fn parse_when(v: &str) -> Option<DateTime<Utc>> {
    let v = v.trim();
    DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.f").map(|t| t.and_utc()))
        .ok()
}

/// A server-made RID: 17 timestamp digits and 32 upper-case hex digits (49 characters).
pub(crate) fn new_rid(now: DateTime<Utc>) -> String {
    let random: u128 = rand::rng().random();
    format!("{}{random:032X}", now.format("%Y%m%d%H%M%S%3f"))
}

/// The GUID (in braces, upper case) the product gives the plan called `name`.
fn plan_id(name: &str) -> String {
    let digest = Sha256::digest(format!("monitoring plan:{}", name.trim().to_lowercase()).as_bytes());
    let h = hex::encode_upper(&digest[..16]);
    format!("{{{}-{}-4{}-8{}-{}}}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Detail, MonitoringPlan};

    #[test]
    fn written_records_are_normalised() {
        let now = DateTime::parse_from_rfc3339("2024-05-06T07:08:09.123Z").map(|t| t.with_timezone(&Utc)).unwrap();
        let input = ActivityRecord {
            rid: Some("client-made".into()),
            who: "Admin".into(),
            when: "2017-02-19T03:43:49-11:00".into(),
            data_source: Some("Mine".into()),
            item: Some(Item { name: Some("app01".into()) }),
            monitoring_plan: Some(MonitoringPlan { name: Some("Integrations and custom sources".into()), id: None }),
            details: vec![Detail { property_name: "p".into(), message: Some("m".into()), ..Default::default() }],
            ..Default::default()
        };
        let out = as_written(input, now);
        let rid = out.rid.as_deref().unwrap();
        assert_eq!(rid.len(), 49);
        assert!(rid.starts_with("20240506070809123"));
        assert!(rid[17..].chars().all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)));
        assert_eq!(out.when, "2017-02-19T14:43:49Z");
        assert_eq!(out.data_source.as_deref(), Some("Netwrix API"));
        assert_eq!(out.item.unwrap().name.as_deref(), Some("app01 (Integration)"));
        let id = out.monitoring_plan.unwrap().id.unwrap();
        assert_eq!(id.len(), 38);
        assert_eq!(id, plan_id("integrations AND custom sources"));
        assert_eq!(out.details[0].message, None);
    }

    #[test]
    fn input_check() {
        let ok = ActivityRecord {
            who: "a".into(),
            action: "Added".into(),
            what: "w".into(),
            when: "2017-02-10T14:46:00Z".into(),
            where_: "h".into(),
            object_type: "t".into(),
            ..Default::default()
        };
        assert!(check_input(std::slice::from_ref(&ok)).is_ok());
        let bad = ActivityRecord { when: "yesterday".into(), ..ok.clone() };
        assert!(check_input(&[ok.clone(), bad]).unwrap_err().contains("ActivityRecord 2"));
        let bad = ActivityRecord { who: " ".into(), ..ok };
        assert!(check_input(&[bad]).is_err());
    }
}
