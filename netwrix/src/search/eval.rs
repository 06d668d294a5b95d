//! Evaluation of a search (spec §4): what the emulator's search endpoint answers with.

use super::{FilterValue, Operator, SearchRequest};

use crate::model::ActivityRecord;
use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};
use std::collections::{HashMap, HashSet};

/// Why a search cannot be evaluated: the request does not match the API's schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    #[error("FilterList holds no filter")]
    NoFilters,
    #[error("unknown filter '{0}'")]
    UnknownFilter(String),
    #[error("operator {operator} is not allowed on filter '{field}'")]
    OperatorNotAllowed { field: String, operator: Operator },
    #[error("filter '{0}' has no value")]
    EmptyValue(String),
    #[error("the value of filter '{field}' is longer than {max} characters")]
    TooLong { field: String, max: usize },
    #[error("filter '{field}': '{value}' is not a valid date/time")]
    BadTime { field: String, value: String },
    #[error("filter 'When': unknown period '{0}'")]
    UnknownPeriod(String),
    #[error("filter '{0}' does not take this kind of value")]
    WrongValueKind(String),
}

/// The filters of spec §4, resolved from their API spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Field {
    Rid,
    Who,
    Where,
    ObjectType,
    What,
    DataSource,
    MonitoringPlan,
    Item,
    Workstation,
    Detail,
    Before,
    After,
    Action,
    When,
    WorkingHours,
}

impl Field {
    /// Filter names match case-insensitively (the MCP client sends `filterlist`, spec §4);
    /// `Monitoring Plan` (the docs' table spelling) is accepted too.
    fn parse(name: &str) -> Option<Field> {
        const NAMES: [(&str, Field); 16] = [
            ("RID", Field::Rid),
            ("Who", Field::Who),
            ("Where", Field::Where),
            ("ObjectType", Field::ObjectType),
            ("What", Field::What),
            ("DataSource", Field::DataSource),
            ("MonitoringPlan", Field::MonitoringPlan),
            ("Monitoring Plan", Field::MonitoringPlan),
            ("Item", Field::Item),
            ("Workstation", Field::Workstation),
            ("Detail", Field::Detail),
            ("Before", Field::Before),
            ("After", Field::After),
            ("Action", Field::Action),
            ("When", Field::When),
            ("WorkingHours", Field::WorkingHours),
        ];
        let name = name.trim();
        NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|&(_, f)| f)
    }

    fn default_operator(self) -> Operator {
        match self {
            Field::Action | Field::When | Field::WorkingHours => Operator::Equals,
            _ => Operator::Contains,
        }
    }

    fn allows(self, op: Operator) -> bool {
        use Operator::*;
        match self {
            Field::Action | Field::When | Field::WorkingHours => matches!(op, Equals | NotEqualTo),
            Field::Who => true,
            _ => !matches!(op, InGroup | NotInGroup),
        }
    }

    /// The documented maximum value length (characters).
    fn max_len(self) -> Option<usize> {
        match self {
            Field::Rid => Some(49),
            Field::Who | Field::Where | Field::ObjectType | Field::MonitoringPlan => Some(255),
            Field::Before | Field::After => Some(536_870_911),
            Field::What | Field::DataSource | Field::Item | Field::Workstation | Field::Detail => Some(1_073_741_822),
            Field::Action | Field::When | Field::WorkingHours => None,
        }
    }
}

/// The positive counterpart of an operator and whether the entry is negated.
/// Negative entries (DoesNotContain, NotEqualTo, NotInGroup) are ANDed; positive ones ORed.
fn polarity(op: Operator) -> (Operator, bool) {
    match op {
        Operator::DoesNotContain => (Operator::Contains, true),
        Operator::NotEqualTo => (Operator::Equals, true),
        Operator::NotInGroup => (Operator::InGroup, true),
        other => (other, false),
    }
}

/// One compiled filter entry, in its positive form.
#[derive(Debug, Clone)]
enum Cond {
    /// A text comparison; the needle is already lower-cased.
    Text { op: Operator, needle: String },
    /// `Who` is one of these (lower-cased) accounts: a group resolved through `groups`.
    Members(HashSet<String>),
    /// `When` inside an interval, both ends inclusive; either end may be open.
    Range { from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>> },
    /// The time of day of `When` (seconds after UTC midnight) inside an interval; wraps past midnight when from > to.
    TimeOfDay { from: u32, to: u32 },
}

/// All entries of one filter: matched when any positive entry holds (or there is none)
/// and every negative entry holds.
#[derive(Debug, Clone)]
struct Clause {
    field: Field,
    positive: Vec<Cond>,
    negative: Vec<Cond>,
}

/// A [`SearchRequest`] compiled for fast evaluation over many records: values parsed,
/// needles lower-cased, groups resolved, named periods fixed against one "now".
#[derive(Debug, Clone)]
pub struct Matcher {
    clauses: Vec<Clause>,
}

impl SearchRequest {
    /// Whether `record` passes every filter (spec §4 combination rules), with `InGroup`
    /// resolved through `groups` (group → members; members may be groups) and named
    /// `When` periods taken relative to now. A request that does not validate matches nothing.
    pub fn matches(&self, record: &ActivityRecord, groups: &HashMap<String, Vec<String>>) -> bool {
        self.matcher(groups, Utc::now()).is_ok_and(|m| m.matches(record))
    }

    /// Checks the request against the schema rules of spec §4 (known filters, allowed
    /// operators, non-empty values within their length, valid times and periods).
    pub fn validate(&self) -> Result<(), SearchError> {
        self.matcher(&HashMap::new(), Utc::now()).map(|_| ())
    }

    /// Compiles the request once, for evaluation against many records.
    pub fn matcher(&self, groups: &HashMap<String, Vec<String>>, now: DateTime<Utc>) -> Result<Matcher, SearchError> {
        if self.filters.is_empty() {
            return Err(SearchError::NoFilters);
        }
        let mut clauses: Vec<Clause> = Vec::new();
        for filter in &self.filters {
            let field = Field::parse(&filter.field).ok_or_else(|| SearchError::UnknownFilter(filter.field.clone()))?;
            let op = filter.operator.unwrap_or(field.default_operator());
            if !field.allows(op) {
                return Err(SearchError::OperatorNotAllowed { field: filter.field.clone(), operator: op });
            }
            let (op, negated) = polarity(op);
            let cond = compile_entry(field, &filter.field, op, &filter.value, groups, now)?;
            let pos = match clauses.iter().position(|c| c.field == field) {
                Some(pos) => pos,
                None => {
                    clauses.push(Clause { field, positive: Vec::new(), negative: Vec::new() });
                    clauses.len() - 1
                }
            };
            let clause = &mut clauses[pos];
            if negated {
                clause.negative.push(cond);
            } else {
                clause.positive.push(cond);
            }
        }
        Ok(Matcher { clauses })
    }
}

impl Matcher {
    /// Whether `record` passes: AND across filters.
    pub fn matches(&self, record: &ActivityRecord) -> bool {
        self.clauses.iter().all(|clause| {
            (clause.positive.is_empty() || clause.positive.iter().any(|c| holds(clause.field, c, record)))
                && clause.negative.iter().all(|c| !holds(clause.field, c, record))
        })
    }
}

fn compile_entry(
    field: Field,
    name: &str,
    op: Operator,
    value: &FilterValue,
    groups: &HashMap<String, Vec<String>>,
    now: DateTime<Utc>,
) -> Result<Cond, SearchError> {
    let bad_time = |v: &str| SearchError::BadTime { field: name.to_string(), value: v.to_string() };
    match (field, value) {
        (Field::When, FilterValue::Interval { from, to }) => {
            if from.is_none() && to.is_none() {
                return Err(SearchError::EmptyValue(name.to_string()));
            }
            let from =
                from.as_deref().map(|v| parse_instant(v).map(|(t, _)| t).ok_or_else(|| bad_time(v))).transpose()?;
            let to = to
                .as_deref()
                .map(|v| {
                    parse_instant(v)
                        .map(|(t, date_only)| if date_only { end_of_day(t) } else { t })
                        .ok_or_else(|| bad_time(v))
                })
                .transpose()?;
            Ok(Cond::Range { from, to })
        }
        (Field::When, FilterValue::Period(period)) => period_range(period, now)
            .map(|(from, to)| Cond::Range { from: Some(from), to: Some(to) })
            .ok_or_else(|| SearchError::UnknownPeriod(period.clone())),
        (Field::When, FilterValue::Text(text)) => {
            let text = text.trim();
            if text.is_empty() {
                return Err(SearchError::EmptyValue(name.to_string()));
            }
            // A bare period name as text (`"When": "Today"`) is accepted too.
            if let Some((from, to)) = period_range(text, now) {
                return Ok(Cond::Range { from: Some(from), to: Some(to) });
            }
            let (t, date_only) = parse_instant(text).ok_or_else(|| bad_time(text))?;
            let to = if date_only { end_of_day(t) } else { t };
            Ok(Cond::Range { from: Some(t), to: Some(to) })
        }
        (Field::WorkingHours, FilterValue::Interval { from, to }) => {
            let from = match from.as_deref() {
                Some(v) => parse_time_of_day(v).ok_or_else(|| bad_time(v))?,
                None => 0,
            };
            let to = match to.as_deref() {
                Some(v) => parse_time_of_day(v).ok_or_else(|| bad_time(v))?,
                None => 86_399,
            };
            Ok(Cond::TimeOfDay { from, to })
        }
        (Field::WorkingHours, _) => Err(SearchError::WrongValueKind(name.to_string())),
        (_, FilterValue::Text(text)) => {
            if text.is_empty() {
                return Err(SearchError::EmptyValue(name.to_string()));
            }
            if let Some(max) = field.max_len() {
                if text.chars().count() > max {
                    return Err(SearchError::TooLong { field: name.to_string(), max });
                }
            }
            if op == Operator::InGroup {
                return Ok(Cond::Members(resolve_group(text, groups)));
            }
            Ok(Cond::Text { op, needle: text.to_lowercase() })
        }
        (_, _) => Err(SearchError::WrongValueKind(name.to_string())),
    }
}

/// Parses an `xs:dateTime` (`Z`, `±HH:MM`, or no zone = UTC) or a bare date (`YYYY-MM-DD`,
/// midnight UTC; the flag says it was a date only).
fn parse_instant(v: &str) -> Option<(DateTime<Utc>, bool)> {
    let v = v.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some((t.with_timezone(&Utc), false));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some((Utc.from_utc_datetime(&t), false));
    }
    let d = NaiveDate::parse_from_str(v, "%Y-%m-%d").ok()?;
    Some((Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN)), true))
}

/// The last second of the UTC day that starts at `t`.
fn end_of_day(t: DateTime<Utc>) -> DateTime<Utc> {
    t + Duration::days(1) - Duration::seconds(1)
}

/// A time of day with an optional offset (`09:00:00+02:00`, `17:00Z`, `08:30`) as
/// seconds after UTC midnight.
fn parse_time_of_day(v: &str) -> Option<u32> {
    let v = v.trim();
    let (time, offset) = match v.find(['+', '-', 'Z', 'z']) {
        Some(i) => (&v[..i], &v[i..]),
        None => (v, ""),
    };
    let time =
        NaiveTime::parse_from_str(time, "%H:%M:%S%.f").or_else(|_| NaiveTime::parse_from_str(time, "%H:%M")).ok()?;
    let offset_secs: i64 = match offset {
        "" | "Z" | "z" => 0,
        o => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let (h, m) = o[1..].split_once(':').unwrap_or((&o[1..], "0"));
            let secs = h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60;
            FixedOffset::east_opt(i32::try_from(secs).ok()?)?;
            sign * secs
        }
    };
    let local = i64::from(time.num_seconds_from_midnight());
    u32::try_from((local - offset_secs).rem_euclid(86_400)).ok()
}

/// The interval (inclusive) of a named `When` period, in UTC, relative to `now`.
/// `LastSevenDays`/`LastThirtyDays` are the 7/30 × 24 hours up to now; the calendar ones
/// (`Today`, `Yesterday`, `ThisWeek` (from Monday), `ThisMonth`, `LastMonth`, `ThisYear`) follow UTC days.
fn period_range(name: &str, now: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let today = Utc.from_utc_datetime(&now.date_naive().and_time(NaiveTime::MIN));
    let just_before = |t: DateTime<Utc>| t - Duration::seconds(1);
    let month_start =
        |y: i32, m: u32| NaiveDate::from_ymd_opt(y, m, 1).map(|d| Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN)));
    let name = name.trim();
    let is = |n: &str| name.eq_ignore_ascii_case(n);
    if is("Today") {
        Some((today, just_before(today + Duration::days(1))))
    } else if is("Yesterday") {
        Some((today - Duration::days(1), just_before(today)))
    } else if is("LastSevenDays") {
        Some((now - Duration::days(7), now))
    } else if is("LastThirtyDays") {
        Some((now - Duration::days(30), now))
    } else if is("ThisWeek") {
        Some((today - Duration::days(i64::from(now.weekday().num_days_from_monday())), now))
    } else if is("ThisMonth") {
        Some((month_start(now.year(), now.month())?, now))
    } else if is("LastMonth") {
        let this = month_start(now.year(), now.month())?;
        let (y, m) = if now.month() == 1 { (now.year() - 1, 12) } else { (now.year(), now.month() - 1) };
        Some((month_start(y, m)?, just_before(this)))
    } else if is("ThisYear") {
        Some((month_start(now.year(), 1)?, now))
    } else {
        None
    }
}

/// The lower-cased accounts of `group` (matched case-insensitively), following nested groups.
/// An unknown group has no members; the group's own name is never a member of itself.
fn resolve_group(group: &str, groups: &HashMap<String, Vec<String>>) -> HashSet<String> {
    let lower: HashMap<String, &Vec<String>> = groups.iter().map(|(k, v)| (k.to_lowercase(), v)).collect();
    let mut members = HashSet::new();
    let mut seen = HashSet::new();
    let mut todo = vec![group.trim().to_lowercase()];
    while let Some(g) = todo.pop() {
        if !seen.insert(g.clone()) {
            continue;
        }
        if let Some(list) = lower.get(&g) {
            for m in list.iter() {
                let m = m.trim().to_lowercase();
                if lower.contains_key(&m) {
                    todo.push(m);
                } else {
                    members.insert(m);
                }
            }
        }
    }
    members
}

/// Whether the positive form of `cond` holds for `record`.
fn holds(field: Field, cond: &Cond, record: &ActivityRecord) -> bool {
    match cond {
        Cond::Text { op, needle } => any_value(field, record, |v| text_matches(*op, v, needle)),
        Cond::Members(set) => set.contains(&record.who.trim().to_lowercase()),
        Cond::Range { from, to } => {
            record.when_utc().is_some_and(|t| from.is_none_or(|f| t >= f) && to.is_none_or(|e| t <= e))
        }
        Cond::TimeOfDay { from, to } => record.when_utc().is_some_and(|t| {
            let s = t.num_seconds_from_midnight();
            if from <= to {
                *from <= s && s <= *to
            } else {
                s >= *from || s <= *to
            }
        }),
    }
}

/// Calls `f` on each value the filter `field` looks at, until one returns true.
/// Absent optional values give no value at all (so only negative entries can hold).
fn any_value(field: Field, r: &ActivityRecord, mut f: impl FnMut(&str) -> bool) -> bool {
    match field {
        Field::Rid => r.rid.as_deref().is_some_and(f),
        Field::Who => f(&r.who),
        Field::Where => f(&r.where_),
        Field::ObjectType => f(&r.object_type),
        Field::What => f(&r.what),
        Field::Action => f(&r.action),
        Field::DataSource => r.data_source.as_deref().is_some_and(f),
        Field::Workstation => r.workstation.as_deref().is_some_and(f),
        Field::Item => r.item.as_ref().and_then(|i| i.name.as_deref()).is_some_and(f),
        Field::MonitoringPlan => r
            .monitoring_plan
            .as_ref()
            .is_some_and(|p| p.name.as_deref().is_some_and(&mut f) || p.id.as_deref().is_some_and(&mut f)),
        Field::Detail => r.details.iter().any(|d| {
            f(&d.property_name)
                || d.before.as_deref().is_some_and(&mut f)
                || d.after.as_deref().is_some_and(&mut f)
                || d.message.as_deref().is_some_and(&mut f)
        }),
        Field::Before => r.details.iter().any(|d| d.before.as_deref().is_some_and(&mut f)),
        Field::After => r.details.iter().any(|d| d.after.as_deref().is_some_and(&mut f)),
        Field::When | Field::WorkingHours => false,
    }
}

/// Case-insensitive comparison of `hay` with an already lower-cased `needle`.
fn text_matches(op: Operator, hay: &str, needle: &str) -> bool {
    if hay.is_ascii() && needle.is_ascii() {
        let (h, n) = (hay.as_bytes(), needle.as_bytes());
        return match op {
            Operator::Equals => h.eq_ignore_ascii_case(n),
            Operator::StartsWith => h.len() >= n.len() && h[..n.len()].eq_ignore_ascii_case(n),
            Operator::EndsWith => h.len() >= n.len() && h[h.len() - n.len()..].eq_ignore_ascii_case(n),
            _ => n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n)),
        };
    }
    let hay = hay.to_lowercase();
    match op {
        Operator::Equals => hay == needle,
        Operator::StartsWith => hay.starts_with(needle),
        Operator::EndsWith => hay.ends_with(needle),
        _ => hay.contains(needle),
    }
}
