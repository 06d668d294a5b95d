//! JSON codec for every document of the API (`?format=json`): record pages, write
//! requests, continuation marks, searches and error lists.
//!
//! Records use the model's serde derive, so field names are exactly Netwrix's and
//! unknown keys are ignored. Output is compact. Pages are
//! `{"ActivityRecordList":[…],"ContinuationMark":"…"}` (the mark key left out when
//! there is none), a write request is a bare array, a mark request is a JSON string.
//!
//! The search (`{"FilterList":{…},"ContinuationMark":…}`) is read by a streaming
//! visitor, so filters keep their document order; its keys, filter names, operator
//! names and `From`/`To` are matched ignoring ASCII case (a known filter name is
//! returned in the API's spelling). A filter value is a string (default operator), an
//! object of operators (`{"StartsWith":"x","EndsWith":"y"}`), an interval
//! (`{"From":…,"To":…}`), a named period (`{"LastSevenDays":""}`), an operator over
//! either of those (`{"NotEqualTo":{"From":…}}`), or an array of such values.
//!
//! Every decoder returns a [`DecodeError`] whose position is the byte offset of
//! serde_json's error (its line and column converted back); serde_json's nesting
//! limit of 128 stays on, so no input can exhaust the stack. A leading UTF-8 BOM is
//! skipped.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::errorlist::{ApiError, ErrorList};
use crate::format::{DecodeError, Page};
use crate::model::ActivityRecord;
use crate::search::{canonical_filter_name, Filter, FilterValue, Operator, SearchRequest};

const BOM: &[u8] = b"\xEF\xBB\xBF";

// ---------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------

/// Decodes an enum/search response. `ActivityRecordList` is required; the mark is trimmed.
pub fn decode_page(body: &[u8]) -> Result<Page, DecodeError> {
    #[derive(Deserialize)]
    struct PageIn {
        #[serde(rename = "ActivityRecordList", default)]
        records: Option<Vec<ActivityRecord>>,
        #[serde(rename = "ContinuationMark", default)]
        mark: Option<String>,
    }
    let (base, body) = strip_bom(body);
    let page: PageIn = parse(base, body)?;
    let records = page.records.ok_or_else(|| DecodeError::new(base, "the page has no ActivityRecordList"))?;
    Ok(Page { records, mark: page.mark.map(trim) })
}

/// Decodes a write request: a bare array of records.
pub fn decode_records(body: &[u8]) -> Result<Vec<ActivityRecord>, DecodeError> {
    let (base, body) = strip_bom(body);
    parse(base, body)
}

/// Decodes a continuation-mark request: a JSON string, trimmed.
pub fn decode_mark(body: &[u8]) -> Result<String, DecodeError> {
    let (base, body) = strip_bom(body);
    parse::<String>(base, body).map(trim)
}

/// Decodes an `ActivityRecordSearch` object. `FilterList` is mandatory; the mark is trimmed.
pub fn decode_search(body: &[u8]) -> Result<SearchRequest, DecodeError> {
    let (base, body) = strip_bom(body);
    parse::<SearchIn>(base, body).map(|s| s.0)
}

/// Decodes `{"ErrorList":[{"Category":…,"Description":…}]}`.
pub fn decode_errors(body: &[u8]) -> Result<ErrorList, DecodeError> {
    #[derive(Deserialize)]
    struct ErrorsIn {
        #[serde(rename = "ErrorList", default)]
        errors: Option<Vec<ApiError>>,
    }
    let (base, body) = strip_bom(body);
    let list: ErrorsIn = parse(base, body)?;
    let errors = list.errors.ok_or_else(|| DecodeError::new(base, "the document has no ErrorList"))?;
    Ok(ErrorList { errors })
}

fn strip_bom(body: &[u8]) -> (u64, &[u8]) {
    match body.strip_prefix(BOM) {
        Some(rest) => (BOM.len() as u64, rest),
        None => (0, body),
    }
}

fn parse<'de, T: Deserialize<'de>>(base: u64, body: &'de [u8]) -> Result<T, DecodeError> {
    serde_json::from_slice(body).map_err(|e| to_decode_error(base, body, &e))
}

/// Converts serde_json's line/column into a byte offset of the body.
fn to_decode_error(base: u64, body: &[u8], e: &serde_json::Error) -> DecodeError {
    let position = if e.is_eof() {
        body.len()
    } else if e.line() == 0 {
        0
    } else {
        let line_start = if e.line() == 1 {
            0
        } else {
            body.iter().enumerate().filter(|&(_, &b)| b == b'\n').nth(e.line() - 2).map_or(body.len(), |(i, _)| i + 1)
        };
        // serde_json counts columns from 1 at the byte it stopped on.
        line_start.saturating_add(e.column().saturating_sub(1)).min(body.len())
    };
    let mut detail = e.to_string();
    if let Some(i) = detail.rfind(" at line ") {
        detail.truncate(i);
    }
    DecodeError::new(base + position as u64, detail)
}

/// A mark without surrounding whitespace, reusing the string when there is none.
fn trim(s: String) -> String {
    let t = s.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
    if t.len() == s.len() {
        s
    } else {
        t.to_owned()
    }
}

/// The search, decoded with keys matched ignoring case.
struct SearchIn(SearchRequest);

impl<'de> Deserialize<'de> for SearchIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(SearchVisitor)
    }
}

struct SearchVisitor;

impl<'de> Visitor<'de> for SearchVisitor {
    type Value = SearchIn;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an ActivityRecordSearch object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SearchIn, A::Error> {
        let mut filters: Option<Vec<Filter>> = None;
        let mut mark = None;
        while let Some(key) = map.next_key::<String>()? {
            if key.eq_ignore_ascii_case("FilterList") {
                map.next_value_seed(FilterListSeed(filters.get_or_insert_with(Vec::new)))?;
            } else if key.eq_ignore_ascii_case("ContinuationMark") {
                mark = map.next_value::<Option<String>>()?.map(trim);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        let filters = filters.ok_or_else(|| de::Error::custom("the search has no FilterList"))?;
        Ok(SearchIn(SearchRequest { filters, mark }))
    }
}

/// Reads the `FilterList` object into the vector it holds.
struct FilterListSeed<'a>(&'a mut Vec<Filter>);

impl<'de> DeserializeSeed<'de> for FilterListSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FilterListSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a FilterList object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            let field = canonical_filter_name(&key);
            map.next_value_seed(ValueSeed { field, op: None, in_array: false, out: &mut *self.0 })?;
        }
        Ok(())
    }
}

/// Reads one filter's value (any of the forms), appending a [`Filter`] per entry.
struct ValueSeed<'a> {
    field: &'a str,
    /// The operator of an enclosing `{"Operator": …}` object.
    op: Option<Operator>,
    in_array: bool,
    out: &'a mut Vec<Filter>,
}

impl ValueSeed<'_> {
    fn push(&mut self, value: FilterValue) {
        self.out.push(Filter { field: self.field.to_owned(), operator: self.op, value });
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a value for filter {}: a string, an object of operators, From/To or a period, or an array",
            self.field
        )
    }

    fn visit_str<E: de::Error>(mut self, v: &str) -> Result<(), E> {
        self.push(FilterValue::Text(v.to_owned()));
        Ok(())
    }

    fn visit_string<E: de::Error>(mut self, v: String) -> Result<(), E> {
        self.push(FilterValue::Text(v));
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.in_array {
            return Err(de::Error::custom(format!("filter {}: an array inside an array", self.field)));
        }
        while seq
            .next_element_seed(ValueSeed { field: self.field, op: self.op, in_array: true, out: &mut *self.out })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        // Index in `out` of the interval this object's From/To fill, created at the first of them.
        let mut interval_at: Option<usize> = None;
        let mut any = false;
        while let Some(key) = map.next_key::<String>()? {
            any = true;
            let is_from = key.eq_ignore_ascii_case("From");
            if is_from || key.eq_ignore_ascii_case("To") {
                let v: Option<String> = map.next_value()?;
                let at = match interval_at {
                    Some(at) => at,
                    None => {
                        self.push(FilterValue::Interval { from: None, to: None });
                        let at = self.out.len() - 1;
                        interval_at = Some(at);
                        at
                    }
                };
                if let Some(FilterValue::Interval { from, to }) = self.out.get_mut(at).map(|f| &mut f.value) {
                    if is_from {
                        *from = v;
                    } else {
                        *to = v;
                    }
                }
            } else if let Some(op) = Operator::parse_ignore_case(&key) {
                if let Some(outer) = self.op {
                    return Err(de::Error::custom(format!(
                        "filter {}: operator {op} inside operator {outer}",
                        self.field
                    )));
                }
                map.next_value_seed(ValueSeed {
                    field: self.field,
                    op: Some(op),
                    in_array: false,
                    out: &mut *self.out,
                })?;
            } else {
                // A named period: `{"LastSevenDays": ""}`. A non-empty value means a misspelt operator.
                match map.next_value::<Option<String>>()? {
                    None => {}
                    Some(v) if v.is_empty() => {}
                    Some(_) => {
                        return Err(de::Error::custom(format!("filter {}: unknown operator {key:?}", self.field)));
                    }
                }
                self.push(FilterValue::Period(key));
            }
        }
        if !any {
            self.push(FilterValue::Interval { from: None, to: None });
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------

/// Appends `{"ActivityRecordList":[…],"ContinuationMark":"…"}` (no mark key when `None`).
pub fn encode_page(page: &Page, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"ActivityRecordList\":");
    write(&page.records, out);
    if let Some(mark) = &page.mark {
        out.extend_from_slice(b",\"ContinuationMark\":");
        write(mark, out);
    }
    out.push(b'}');
}

/// Appends a write request: a bare array of records.
pub fn encode_records(records: &[ActivityRecord], out: &mut Vec<u8>) {
    write(records, out);
}

/// Appends a continuation-mark request: the mark as a JSON string literal.
pub fn encode_mark(mark: &str, out: &mut Vec<u8>) {
    write(mark, out);
}

/// Appends an `ActivityRecordSearch`: the mark first, then `FilterList`. Filters of one
/// field are grouped under one key (an array when there are several), in the order each
/// field first appears; that regrouping is the only change a round trip makes. An
/// interval with neither end is written as `{}`.
pub fn encode_search(search: &SearchRequest, out: &mut Vec<u8>) {
    out.push(b'{');
    if let Some(mark) = &search.mark {
        out.extend_from_slice(b"\"ContinuationMark\":");
        write(mark, out);
        out.push(b',');
    }
    out.extend_from_slice(b"\"FilterList\":{");
    let mut fields: Vec<&str> = Vec::new();
    for f in &search.filters {
        if !fields.contains(&f.field.as_str()) {
            fields.push(&f.field);
        }
    }
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(field, out);
        out.push(b':');
        let count = search.filters.iter().filter(|f| f.field == *field).count();
        if count > 1 {
            out.push(b'[');
        }
        for (j, f) in search.filters.iter().filter(|f| f.field == *field).enumerate() {
            if j > 0 {
                out.push(b',');
            }
            write_filter_value(f, out);
        }
        if count > 1 {
            out.push(b']');
        }
    }
    out.extend_from_slice(b"}}");
}

/// Appends `{"ErrorList":[…]}`.
pub fn encode_errors(errors: &ErrorList, out: &mut Vec<u8>) {
    #[derive(Serialize)]
    struct ErrorsOut<'a> {
        #[serde(rename = "ErrorList")]
        errors: &'a [ApiError],
    }
    write(&ErrorsOut { errors: &errors.errors }, out);
}

fn write_filter_value(f: &Filter, out: &mut Vec<u8>) {
    if let Some(op) = f.operator {
        out.extend_from_slice(b"{\"");
        out.extend_from_slice(op.as_str().as_bytes());
        out.extend_from_slice(b"\":");
    }
    match &f.value {
        FilterValue::Text(s) => write(s, out),
        FilterValue::Interval { from, to } => {
            out.push(b'{');
            if let Some(from) = from {
                out.extend_from_slice(b"\"From\":");
                write(from, out);
            }
            if let Some(to) = to {
                if from.is_some() {
                    out.push(b',');
                }
                out.extend_from_slice(b"\"To\":");
                write(to, out);
            }
            out.push(b'}');
        }
        FilterValue::Period(p) => {
            out.push(b'{');
            write(p, out);
            out.extend_from_slice(b":\"\"}");
        }
    }
    if f.operator.is_some() {
        out.push(b'}');
    }
}

/// Serialises `value` compactly onto `out`. Serialising the model cannot fail (every
/// map key is a string and no type has a failing `Serialize`), so an error is only
/// checked in debug builds.
fn write<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    let result = serde_json::to_writer(&mut *out, value);
    debug_assert!(result.is_ok(), "serialising to a Vec cannot fail: {result:?}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_positions_are_byte_offsets() {
        let e = decode_records(b"[\n {\"Who\": 1}\n]").unwrap_err();
        assert_eq!(e.position, 11, "{e}");
        let e = decode_mark(b"\"abc").unwrap_err();
        assert_eq!(e.position, 4, "{e}");
        let e = decode_records(b"[{},x]").unwrap_err();
        assert_eq!(e.position, 4, "{e}");
    }
}
