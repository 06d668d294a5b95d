//! A job's `mode` and its search `filters`, written naturally in TOML and turned into the
//! API's `ActivityRecordSearch` filters (spec §4):
//!
//! ```toml
//! mode = "search"
//! filters.DataSource = ["Active Directory", { StartsWith = "Exchange" }]   # OR
//! filters.Who = { NotInGroup = 'CORP\Domain Admins' }
//! filters.Action = ["Added", "Removed"]
//! filters.ObjectType = { DoesNotContain = ["group", "computer"] }          # AND (negatives)
//! filters.When = { From = "2024-01-01T00:00:00Z", To = "2024-02-01T00:00:00+01:00" }
//! # or: filters.When = "LastSevenDays"   or   filters.When = { NotEqualTo = "Today" }
//! filters.WorkingHours = { From = "09:00:00+01:00", To = "17:00:00+01:00" }
//! ```
//!
//! A value is a string (the filter's default operator), a table of operator = value (a
//! value may be a list: one entry each), or a list mixing both. `When` and `WorkingHours`
//! also take `{ From, To }` (either end may be left out for `When`), and `When` a named
//! period. Filter and operator names match ignoring case. Everything the API would reject
//! (an unknown filter, an operator the filter does not allow, a value over the filter's
//! maximum length, a bad time or period) is refused when the config is loaded.

use netwrix::search::{canonical_filter_name, FILTER_NAMES};
use netwrix::{Filter, FilterValue, Operator, SearchRequest};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use toml::Spanned;

/// `filters.NAME = VALUE`, with the places of names and values for error messages.
pub type FilterTable = BTreeMap<Spanned<String>, Spanned<toml::Value>>;

/// How a job reads the API.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum JobMode {
    /// Every record: `GET`/`POST …/activity_records/enum`.
    #[default]
    Enum,
    /// Only records matching `filters`: `POST …/activity_records/search`, the filters sent
    /// again with the mark on every page.
    Search,
}

/// A filter the API would refuse, with the place it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    pub span: Range<usize>,
    /// The filter's name as written.
    pub filter: String,
    pub message: String,
}

/// The API filters a `filters` table stands for, each checked as the server checks it.
pub fn search_filters(table: &FilterTable) -> Result<Vec<Filter>, FilterError> {
    let mut out = Vec::new();
    for (name, value) in table {
        let written = name.get_ref();
        let fail = |span: Range<usize>, message: String| FilterError { span, filter: written.clone(), message };
        let canonical = canonical_filter_name(written.trim());
        if !FILTER_NAMES.contains(&canonical) {
            return Err(fail(
                name.span(),
                format!("unknown search filter {written:?}; the filters are {}", FILTER_NAMES.join(", ")),
            ));
        }
        let mut entries = Vec::new();
        entries_of(canonical, None, value.get_ref(), &mut entries).map_err(|m| fail(value.span(), m))?;
        for filter in entries {
            // The server's own rules, one entry at a time so the error names this filter.
            SearchRequest { filters: vec![filter.clone()], mark: None }
                .validate()
                .map_err(|e| fail(value.span(), format!("the API would refuse this filter: {e}")))?;
            out.push(filter);
        }
    }
    Ok(out)
}

/// Appends the entries `value` stands for; `operator` is the one of an enclosing table key.
fn entries_of(
    field: &str,
    operator: Option<Operator>,
    value: &toml::Value,
    out: &mut Vec<Filter>,
) -> Result<(), String> {
    let timed = field == "When" || field == "WorkingHours";
    match value {
        toml::Value::String(text) => {
            let value = if field == "When" && is_period(text) {
                FilterValue::Period(text.trim().to_string())
            } else {
                FilterValue::Text(text.clone())
            };
            out.push(Filter { field: field.to_string(), operator, value });
            Ok(())
        }
        toml::Value::Datetime(dt) if field == "When" => {
            out.push(Filter { field: field.to_string(), operator, value: FilterValue::Text(dt.to_string()) });
            Ok(())
        }
        toml::Value::Array(items) => {
            if items.is_empty() {
                return Err(format!("filter {field} has an empty list: give at least one value"));
            }
            items.iter().try_for_each(|item| entries_of(field, operator, item, out))
        }
        toml::Value::Table(table) => {
            let is_interval = |k: &str| k.eq_ignore_ascii_case("From") || k.eq_ignore_ascii_case("To");
            if timed && table.keys().any(|k| is_interval(k)) {
                if let Some(other) = table.keys().find(|k| !is_interval(k)) {
                    return Err(format!("filter {field}: {other:?} cannot be mixed with From/To"));
                }
                let end = |name: &str| -> Result<Option<String>, String> {
                    match table.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v) {
                        None => Ok(None),
                        Some(toml::Value::String(s)) => Ok(Some(s.clone())),
                        Some(toml::Value::Datetime(d)) => Ok(Some(d.to_string())),
                        Some(_) => Err(format!("filter {field}: {name} must be a time written as a string")),
                    }
                };
                let (from, to) = (end("From")?, end("To")?);
                if field == "WorkingHours" && (from.is_none() || to.is_none()) {
                    return Err("filter WorkingHours needs both From and To".into());
                }
                out.push(Filter { field: field.to_string(), operator, value: FilterValue::Interval { from, to } });
                return Ok(());
            }
            if table.is_empty() {
                return Err(format!("filter {field} has an empty table: give an operator and a value"));
            }
            for (key, inner) in table {
                if field == "When" && is_period(key) {
                    out.push(Filter { field: field.to_string(), operator, value: FilterValue::Period(key.clone()) });
                    continue;
                }
                let Some(op) = Operator::parse_ignore_case(key.trim()) else {
                    let mut known: Vec<&str> = Operator::ALL.iter().map(|o| o.as_str()).collect();
                    if timed {
                        known.extend(["From", "To"]);
                    }
                    return Err(format!(
                        "filter {field}: unknown operator {key:?}; the operators are {}",
                        known.join(", ")
                    ));
                };
                if operator.is_some() {
                    return Err(format!("filter {field}: operator {key:?} inside another operator"));
                }
                entries_of(field, Some(op), inner, out)?;
            }
            Ok(())
        }
        other => Err(format!(
            "filter {field}: a {} is not a filter value; write a string, a table or a list",
            other.type_str()
        )),
    }
}

impl super::JobConfig {
    /// The search a `mode = "search"` job sends (without a mark); `None` for an enum job.
    pub fn search_request(&self) -> Result<Option<SearchRequest>, String> {
        if self.mode == JobMode::Enum {
            return Ok(None);
        }
        let filters = search_filters(&self.filters).map_err(|e| format!("filter {}: {}", e.filter, e.message))?;
        Ok(Some(SearchRequest { filters, mark: None }))
    }
}

/// Whether `name` is a named period of `When` (spec §4 and the emulator's list).
fn is_period(name: &str) -> bool {
    ["Today", "Yesterday", "LastSevenDays", "LastThirtyDays", "ThisWeek", "ThisMonth", "LastMonth", "ThisYear"]
        .iter()
        .any(|p| p.eq_ignore_ascii_case(name.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> FilterTable {
        #[derive(Deserialize)]
        struct T {
            filters: FilterTable,
        }
        toml::from_str::<T>(text).unwrap().filters
    }

    fn text(field: &str, op: Option<Operator>, v: &str) -> Filter {
        Filter { field: field.into(), operator: op, value: FilterValue::Text(v.into()) }
    }

    #[test]
    fn every_value_form() {
        let t = table(
            r#"
filters.datasource = ["Active Directory", { StartsWith = "Exchange" }]
filters.Who = { NotInGroup = 'CORP\Domain Admins', contains = ["a", "b"] }
filters.When = [{ From = "2024-01-01T00:00:00Z" }, "LastSevenDays", { NotEqualTo = "Today" }]
filters.WorkingHours = { NotEqualTo = { From = "09:00:00+01:00", To = "17:00:00+01:00" } }
"#,
        );
        let got = search_filters(&t).unwrap();
        let interval = |from: Option<&str>, to: Option<&str>| FilterValue::Interval {
            from: from.map(Into::into),
            to: to.map(Into::into),
        };
        assert_eq!(
            got,
            vec![
                Filter { field: "When".into(), operator: None, value: interval(Some("2024-01-01T00:00:00Z"), None) },
                Filter { field: "When".into(), operator: None, value: FilterValue::Period("LastSevenDays".into()) },
                Filter {
                    field: "When".into(),
                    operator: Some(Operator::NotEqualTo),
                    value: FilterValue::Period("Today".into())
                },
                text("Who", Some(Operator::NotInGroup), r"CORP\Domain Admins"),
                text("Who", Some(Operator::Contains), "a"),
                text("Who", Some(Operator::Contains), "b"),
                Filter {
                    field: "WorkingHours".into(),
                    operator: Some(Operator::NotEqualTo),
                    value: interval(Some("09:00:00+01:00"), Some("17:00:00+01:00")),
                },
                text("DataSource", None, "Active Directory"),
                text("DataSource", Some(Operator::StartsWith), "Exchange"),
            ]
        );
    }

    #[test]
    fn what_the_api_would_refuse_is_refused() {
        let cases = [
            (r#"filters.Nope = "x""#, "unknown search filter"),
            (r#"filters.Where = { InGroup = "x" }"#, "operator InGroup is not allowed"),
            (r#"filters.Action = { Contains = "Add" }"#, "operator Contains is not allowed"),
            (r#"filters.RID = "0123456789012345678901234567890123456789012345678901""#, "longer than 49"),
            (r#"filters.Who = """#, "has no value"),
            (r#"filters.When = { From = "yesterday-ish" }"#, "not a valid date/time"),
            (r#"filters.When = "Someday""#, "not a valid date/time"),
            (r#"filters.Who = { Like = "x" }"#, "unknown operator"),
            (r#"filters.Who = 5"#, "not a filter value"),
            (r#"filters.Who = []"#, "empty list"),
            (r#"filters.WorkingHours = { From = "09:00" }"#, "both From and To"),
        ];
        for (text, expected) in cases {
            let e = search_filters(&table(text)).unwrap_err();
            assert!(e.message.contains(expected), "{text}: {}", e.message);
        }
    }
}
