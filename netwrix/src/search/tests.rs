//! Evaluation of searches against records (spec §4).

use super::*;
use crate::model::{ActivityRecord, Detail, MonitoringPlan};
use chrono::Utc;
use std::collections::HashMap;

fn rec(who: &str, ds: &str, when: &str) -> ActivityRecord {
    ActivityRecord {
        who: who.into(),
        action: "Modified".into(),
        what: "\\\\fs01\\share\\Ünïcode\\a.txt".into(),
        when: when.into(),
        where_: "fs01".into(),
        object_type: "file".into(),
        data_source: Some(ds.into()),
        monitoring_plan: Some(MonitoringPlan { name: Some("Corp".into()), id: Some("{ABC}".into()) }),
        details: vec![Detail { property_name: "member".into(), after: Some("CORP\\x".into()), ..Default::default() }],
        ..Default::default()
    }
}

fn text(field: &str, op: Option<Operator>, v: &str) -> Filter {
    Filter { field: field.into(), operator: op, value: FilterValue::Text(v.into()) }
}

fn search(filters: Vec<Filter>) -> SearchRequest {
    SearchRequest { filters, mark: None }
}

#[test]
fn combination_rules() {
    let g = HashMap::new();
    let r = rec("CORP\\jdoe", "File Servers", "2024-03-01T10:00:00Z");
    // OR among positives of one filter.
    let s = search(vec![text("DataSource", None, "exchange"), text("datasource", None, "file")]);
    assert!(s.matches(&r, &g));
    // AND across filters.
    let s = search(vec![text("DataSource", None, "file"), text("Who", Some(Operator::Equals), "corp\\other")]);
    assert!(!s.matches(&r, &g));
    // AND among negatives, combined with positives.
    let s = search(vec![
        text("Who", None, "corp"),
        text("Who", Some(Operator::DoesNotContain), "admin"),
        text("Who", Some(Operator::NotEqualTo), "CORP\\JDOE"),
    ]);
    assert!(!s.matches(&r, &g));
    let s =
        search(vec![text("What", Some(Operator::Contains), "ÜNÏCODE"), text("What", Some(Operator::EndsWith), ".TXT")]);
    assert!(s.matches(&r, &g));
    assert!(search(vec![text("Workstation", Some(Operator::DoesNotContain), "x")]).matches(&r, &g));
    assert!(!search(vec![text("Workstation", None, "x")]).matches(&r, &g));
    assert!(search(vec![text("Monitoring Plan", Some(Operator::Equals), "corp")]).matches(&r, &g));
    assert!(search(vec![text("After", Some(Operator::StartsWith), "corp\\")]).matches(&r, &g));
    assert!(search(vec![text("Action", None, "modified")]).matches(&r, &g));
}

#[test]
fn when_and_groups() {
    let mut g = HashMap::new();
    g.insert("CORP\\Admins".to_string(), vec!["CORP\\Tier0".to_string()]);
    g.insert("corp\\tier0".to_string(), vec!["CORP\\jdoe".to_string(), "CORP\\Admins".to_string()]);
    let r = rec("corp\\JDoe", "Active Directory", "2024-03-01T10:00:00Z");
    assert!(search(vec![text("Who", Some(Operator::InGroup), "corp\\admins")]).matches(&r, &g));
    assert!(!search(vec![text("Who", Some(Operator::NotInGroup), "CORP\\Admins")]).matches(&r, &g));
    let when = |from: Option<&str>, to: Option<&str>| Filter {
        field: "When".into(),
        operator: None,
        value: FilterValue::Interval { from: from.map(Into::into), to: to.map(Into::into) },
    };
    assert!(search(vec![when(Some("2024-03-01T10:00:00Z"), Some("2024-03-01T10:00:00Z"))]).matches(&r, &g));
    assert!(search(vec![when(Some("2024-03-01T11:00:00+01:00"), None)]).matches(&r, &g));
    assert!(!search(vec![when(None, Some("2024-03-01T09:59:59Z"))]).matches(&r, &g));
    assert!(search(vec![when(None, Some("2024-03-01"))]).matches(&r, &g));
    let now = Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let recent = rec("x", "y", &now);
    let period = |p: &str| Filter { field: "When".into(), operator: None, value: FilterValue::Period(p.into()) };
    assert!(search(vec![period("LastSevenDays")]).matches(&recent, &g));
    assert!(search(vec![period("Today")]).matches(&recent, &g));
    assert!(!search(vec![period("Yesterday")]).matches(&recent, &g));
    assert!(!search(vec![period("LastSevenDays")]).matches(&r, &g));
    let wh = |op, from: &str, to: &str| Filter {
        field: "WorkingHours".into(),
        operator: op,
        value: FilterValue::Interval { from: Some(from.into()), to: Some(to.into()) },
    };
    assert!(search(vec![wh(None, "09:00:00+00:00", "17:00:00+00:00")]).matches(&r, &g));
    assert!(!search(vec![wh(None, "12:00:00+01:00", "17:00:00+01:00")]).matches(&r, &g));
    assert!(search(vec![wh(Some(Operator::NotEqualTo), "12:00:00+01:00", "17:00:00+01:00")]).matches(&r, &g));
}

#[test]
fn validation() {
    assert_eq!(search(vec![]).validate(), Err(SearchError::NoFilters));
    assert!(matches!(search(vec![text("Nope", None, "x")]).validate(), Err(SearchError::UnknownFilter(_))));
    assert!(matches!(
        search(vec![text("Where", Some(Operator::InGroup), "x")]).validate(),
        Err(SearchError::OperatorNotAllowed { .. })
    ));
    assert!(matches!(
        search(vec![text("Action", Some(Operator::Contains), "x")]).validate(),
        Err(SearchError::OperatorNotAllowed { .. })
    ));
    assert!(matches!(search(vec![text("Who", None, "")]).validate(), Err(SearchError::EmptyValue(_))));
    assert!(matches!(search(vec![text("RID", None, &"A".repeat(50))]).validate(), Err(SearchError::TooLong { .. })));
    let p = Filter { field: "When".into(), operator: None, value: FilterValue::Period("Someday".into()) };
    assert!(matches!(search(vec![p]).validate(), Err(SearchError::UnknownPeriod(_))));
}
