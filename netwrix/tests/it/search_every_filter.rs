//! Every search filter and every operator it allows, through the emulator's search
//! endpoint over HTTP, in XML and in JSON, following the continuation marks: the records
//! returned are exactly those this test selects with its own, independent reading of
//! spec §4 (case-insensitive matching; AND across filters; OR among the positive entries
//! of one filter, AND among its negative ones; `When` as an inclusive From/To or a named
//! period; `WorkingHours` as a time of day; InGroup through a nested group table).

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Timelike, Utc};
use netwrix::client::{Client, ClientConfig};
use netwrix::emulator::{Emulator, EmulatorConfig};
use netwrix::{ActivityRecord, Detail, Filter, FilterValue, Format, Operator, SearchRequest, Text};
use std::collections::HashMap;

/// The values a text filter looks at, as the docs describe each filter.
fn values(r: &ActivityRecord, field: &str) -> Vec<String> {
    let opt = |v: &Option<Text>| v.iter().map(String::from).collect::<Vec<_>>();
    match field {
        "RID" => opt(&r.rid),
        "Who" => vec![r.who.to_string()],
        "Where" => vec![r.where_.to_string()],
        "ObjectType" => vec![r.object_type.to_string()],
        "What" => vec![r.what.to_string()],
        "Action" => vec![r.action.to_string()],
        "DataSource" => opt(&r.data_source),
        "Workstation" => opt(&r.workstation),
        "Item" => r.item.as_ref().map(|i| opt(&i.name)).unwrap_or_default(),
        "MonitoringPlan" => r.monitoring_plan.as_ref().map(|p| [opt(&p.name), opt(&p.id)].concat()).unwrap_or_default(),
        "Detail" => r
            .details
            .iter()
            .flat_map(|d| [Some(d.property_name.clone()), d.before.clone(), d.after.clone(), d.message.clone()])
            .flatten()
            .map(String::from)
            .collect(),
        "Before" => r.details.iter().filter_map(|d| d.before.as_ref().map(String::from)).collect(),
        "After" => r.details.iter().filter_map(|d| d.after.as_ref().map(String::from)).collect(),
        other => panic!("not a text filter: {other}"),
    }
}

/// Whether the positive operator `op` holds for some value of `field`.
fn text_holds(r: &ActivityRecord, field: &str, op: Operator, needle: &str, groups: &HashMap<&str, Vec<&str>>) -> bool {
    let n = needle.to_lowercase();
    if op == Operator::InGroup {
        let who = r.who.to_lowercase();
        let mut todo = vec![n];
        let mut seen = Vec::new();
        while let Some(g) = todo.pop() {
            if seen.contains(&g) {
                continue;
            }
            seen.push(g.clone());
            for (name, members) in groups {
                if name.to_lowercase() == g {
                    for m in members {
                        let m = m.to_lowercase();
                        if groups.keys().any(|k| k.to_lowercase() == m) {
                            todo.push(m);
                        } else if m == who {
                            return true;
                        }
                    }
                }
            }
        }
        return false;
    }
    values(r, field).iter().any(|v| {
        let v = v.to_lowercase();
        match op {
            Operator::Contains => v.contains(&n),
            Operator::Equals => v == n,
            Operator::StartsWith => v.starts_with(&n),
            Operator::EndsWith => v.ends_with(&n),
            other => panic!("not a positive operator: {other}"),
        }
    })
}

fn when(r: &ActivityRecord) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&r.when).unwrap().with_timezone(&Utc)
}

/// An entry of the test's own model: the positive check and whether it is negated.
struct Entry {
    negated: bool,
    check: Box<dyn Fn(&ActivityRecord) -> bool>,
}

/// A search to send and the entries of the test's own model of it.
type Case = (Vec<Filter>, Vec<(&'static str, Entry)>);

/// The independent selection: AND across fields; within one, any positive and no negative.
fn select(records: &[ActivityRecord], entries: &[(&str, Entry)]) -> Vec<String> {
    records
        .iter()
        .filter(|r| {
            let mut fields: Vec<&str> = entries.iter().map(|(f, _)| *f).collect();
            fields.dedup();
            fields.iter().all(|f| {
                let mine: Vec<&Entry> = entries.iter().filter(|(g, _)| g == f).map(|(_, e)| e).collect();
                let positives: Vec<&&Entry> = mine.iter().filter(|e| !e.negated).collect();
                (positives.is_empty() || positives.iter().any(|e| (e.check)(r)))
                    && mine.iter().filter(|e| e.negated).all(|e| !(e.check)(r))
            })
        })
        .map(|r| r.rid.clone().unwrap().into())
        .collect()
}

fn positive_of(op: Operator) -> (Operator, bool) {
    match op {
        Operator::DoesNotContain => (Operator::Contains, true),
        Operator::NotEqualTo => (Operator::Equals, true),
        Operator::NotInGroup => (Operator::InGroup, true),
        op => (op, false),
    }
}

/// Every page of a search, following the marks inside the search; the RIDs returned.
async fn search_all(client: &Client, filters: &[Filter]) -> Vec<String> {
    let mut request = SearchRequest { filters: filters.to_vec(), mark: None };
    let mut out = Vec::new();
    loop {
        let page = client.search(&request).await.unwrap_or_else(|e| panic!("{filters:?}: {e}"));
        if page.records.is_empty() {
            return out;
        }
        out.extend(page.records.into_iter().map(|r| String::from(r.rid.unwrap())));
        request.mark = page.mark;
    }
}

/// Records with every field filled somewhere, times spread around now for the periods.
fn records() -> Vec<ActivityRecord> {
    let mut records = netwrix::generate::generate(1_500, 11);
    let now = Utc::now();
    let today = Utc.from_utc_datetime(&now.date_naive().and_time(NaiveTime::MIN));
    let recent = [
        today + Duration::seconds(1),
        now - Duration::hours(3).min(now - today),
        today - Duration::hours(12),
        now - Duration::days(3),
        now - Duration::days(12),
        now - Duration::days(45),
        now - Duration::days(400),
    ];
    for (i, t) in recent.into_iter().enumerate() {
        let mut r = records[i * 7].clone();
        r.rid = Some(format!("20990101000000000{i:032x}").into());
        r.when = t.format("%Y-%m-%dT%H:%M:%SZ").to_string().into();
        r.details.push(Detail {
            property_name: "Message Note".into(),
            before: None,
            after: None,
            message: Some(format!("ÜBER note {i}").into()),
        });
        records.push(r);
    }
    records
}

#[tokio::test]
async fn every_filter_and_operator_in_xml_and_json() {
    let records = records();
    let groups: HashMap<&str, Vec<&str>> = HashMap::from([
        ("CORP\\Domain Admins", vec!["CORP\\administrator", "CORP\\Tier0"]),
        ("CORP\\Tier0", vec!["corp\\JDOE", "CORP\\Domain Admins"]),
    ]);
    let emulator = Emulator::new(EmulatorConfig {
        groups: groups.iter().map(|(k, v)| (k.to_string(), v.iter().map(|m| m.to_string()).collect())).collect(),
        ..Default::default()
    });
    emulator.add_records(records.clone());
    let running = emulator.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let clients: Vec<Client> = [Format::Xml, Format::Json]
        .into_iter()
        .map(|format| {
            Client::new(ClientConfig { format, count: Some(97), ..ClientConfig::new(&running.base_url) }).unwrap()
        })
        .collect();

    // Cases: (filters sent, entries of the independent model).
    let mut cases: Vec<Case> = Vec::new();
    let text_entry =
        |field: &'static str, op: Operator, needle: String, groups: HashMap<&'static str, Vec<&'static str>>| {
            let (positive, negated) = positive_of(op);
            let check_needle = needle.clone();
            let entry =
                Entry { negated, check: Box::new(move |r| text_holds(r, field, positive, &check_needle, &groups)) };
            (Filter { field: field.into(), operator: Some(op), value: FilterValue::Text(needle) }, (field, entry))
        };

    // Every text filter with each of its operators, the needle taken from a record's value
    // (case flipped, so matching must ignore case).
    let text_fields = [
        "RID",
        "Who",
        "Where",
        "ObjectType",
        "What",
        "DataSource",
        "MonitoringPlan",
        "Item",
        "Workstation",
        "Detail",
        "Before",
        "After",
    ];
    for (k, field) in text_fields.into_iter().enumerate() {
        let sample = records
            .iter()
            .skip(k * 37)
            .flat_map(|r| values(r, field))
            .find(|v| v.chars().count() >= 6)
            .unwrap_or_else(|| panic!("no value for {field}"));
        let chars: Vec<char> = sample.chars().collect();
        let flip = |s: String| if k % 2 == 0 { s.to_uppercase() } else { s.to_lowercase() };
        let part = |from: usize, to: usize| flip(chars[from..to].iter().collect());
        let n = chars.len();
        let needles = [
            (Operator::Contains, part(1, n.min(5))),
            (Operator::DoesNotContain, part(1, n.min(5))),
            (Operator::Equals, flip(sample.clone())),
            (Operator::NotEqualTo, flip(sample.clone())),
            (Operator::StartsWith, part(0, 3)),
            (Operator::EndsWith, part(n - 3, n)),
        ];
        for (op, needle) in needles {
            let (filter, entry) = text_entry(field, op, needle, groups.clone());
            cases.push((vec![filter], vec![entry]));
        }
    }
    // Action: Equals (the default) and NotEqualTo only.
    for op in [Operator::Equals, Operator::NotEqualTo] {
        let (filter, entry) = text_entry("Action", op, "MODIFIED".into(), groups.clone());
        cases.push((vec![filter], vec![entry]));
    }
    // Who: InGroup and NotInGroup through nested groups.
    for op in [Operator::InGroup, Operator::NotInGroup] {
        let (filter, entry) = text_entry("Who", op, "corp\\domain admins".into(), groups.clone());
        cases.push((vec![filter], vec![entry]));
    }
    // The default operators: Contains for text, Equals for Action.
    {
        let (mut f, e) = text_entry("DataSource", Operator::Contains, "SERVER".into(), groups.clone());
        f.operator = None;
        let (mut g, h) = text_entry("Action", Operator::Equals, "added".into(), groups.clone());
        g.operator = None;
        cases.push((vec![f], vec![e]));
        cases.push((vec![g], vec![h]));
    }
    // Combinations: OR among positives, AND among negatives, a mix, AND across filters.
    {
        let t = |f: &'static str, op, v: &str| text_entry(f, op, v.to_string(), groups.clone());
        let combos = [
            vec![
                t("DataSource", Operator::StartsWith, "exchange"),
                t("DataSource", Operator::Equals, "active directory"),
            ],
            vec![t("What", Operator::DoesNotContain, "corp"), t("What", Operator::DoesNotContain, "share")],
            vec![
                t("Who", Operator::Contains, "corp"),
                t("Who", Operator::Contains, "admin"),
                t("Who", Operator::DoesNotContain, "svc"),
                t("Who", Operator::NotEqualTo, "corp\\administrator"),
            ],
            vec![
                t("DataSource", Operator::Contains, "file"),
                t("Action", Operator::NotEqualTo, "read"),
                t("Workstation", Operator::StartsWith, "ws"),
            ],
        ];
        for combo in combos {
            let (filters, entries): (Vec<_>, Vec<_>) = combo.into_iter().unzip();
            cases.push((filters, entries));
        }
    }
    // When: From/To (inclusive, either end open), named periods, NotEqualTo.
    let now = Utc::now();
    let mid = when(&records[600]);
    let late = when(&records[1_200]);
    let interval = |from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>, op: Option<Operator>| {
        let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let filter = Filter {
            field: "When".into(),
            operator: op,
            value: FilterValue::Interval { from: from.map(fmt), to: to.map(fmt) },
        };
        let entry = Entry {
            negated: op == Some(Operator::NotEqualTo),
            check: Box::new(move |r: &ActivityRecord| {
                let t = when(r);
                from.is_none_or(|f| t >= f) && to.is_none_or(|e| t <= e)
            }),
        };
        (filter, ("When", entry))
    };
    for (from, to, op) in [
        (Some(mid), Some(late), None),
        (Some(mid), None, None),
        (None, Some(mid), None),
        (Some(mid), Some(late), Some(Operator::NotEqualTo)),
    ] {
        let (f, e) = interval(from, to, op);
        cases.push((vec![f], vec![e]));
    }
    // The same instant written with an offset.
    {
        let (mut f, e) = interval(Some(mid), None, None);
        let local = mid.with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).unwrap());
        f.value = FilterValue::Interval { from: Some(local.format("%Y-%m-%dT%H:%M:%S%:z").to_string()), to: None };
        cases.push((vec![f], vec![e]));
    }
    let today = Utc.from_utc_datetime(&now.date_naive().and_time(NaiveTime::MIN));
    let periods: [(&str, DateTime<Utc>, DateTime<Utc>); 4] = [
        ("Today", today, today + Duration::days(1) - Duration::seconds(1)),
        ("Yesterday", today - Duration::days(1), today - Duration::seconds(1)),
        ("LastSevenDays", now - Duration::days(7), now + Duration::minutes(5)),
        ("LastThirtyDays", now - Duration::days(30), now + Duration::minutes(5)),
    ];
    for (name, from, to) in periods {
        for op in [None, Some(Operator::NotEqualTo)] {
            let filter = Filter { field: "When".into(), operator: op, value: FilterValue::Period(name.into()) };
            let entry = Entry {
                negated: op.is_some(),
                check: Box::new(move |r: &ActivityRecord| (from..=to).contains(&when(r))),
            };
            cases.push((vec![filter], vec![("When", entry)]));
        }
    }
    // WorkingHours: time of day (with an offset), Equals (default) and NotEqualTo.
    for op in [None, Some(Operator::Equals), Some(Operator::NotEqualTo)] {
        let filter = Filter {
            field: "WorkingHours".into(),
            operator: op,
            value: FilterValue::Interval { from: Some("09:00:00+01:00".into()), to: Some("17:30:00+01:00".into()) },
        };
        let entry = Entry {
            negated: op == Some(Operator::NotEqualTo),
            check: Box::new(|r: &ActivityRecord| {
                let s = when(r).num_seconds_from_midnight();
                (8 * 3600..=16 * 3600 + 1800).contains(&s)
            }),
        };
        cases.push((vec![filter], vec![("WorkingHours", entry)]));
    }

    let mut checked = 0;
    for (filters, entries) in &cases {
        let expected = select(&records, entries);
        assert!(
            !expected.is_empty() && expected.len() < records.len(),
            "{filters:?} must select some records but not all ({})",
            expected.len()
        );
        for client in &clients {
            let got = search_all(client, filters).await;
            assert!(
                got == expected,
                "{:?} {filters:?}: got {}, expected {}",
                client.format(),
                got.len(),
                expected.len()
            );
            checked += 1;
        }
    }
    assert_eq!(checked, cases.len() * 2);
    let ops: usize = cases.iter().map(|(f, _)| f.len()).sum();
    assert!(ops > 90, "{ops} filter entries checked");
}
