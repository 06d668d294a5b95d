//! XML encoding of every API document: compact, in the default namespace, the mark first.

use super::*;

/// Appends an enum/search response: declaration, `ActivityRecordList`, the mark first.
pub fn encode_page(page: &Page, out: &mut Vec<u8>) {
    write_list(page.mark.as_deref(), &page.records, out);
}

/// Appends a write request: an `ActivityRecordList` without a mark.
pub fn encode_records(records: &[ActivityRecord], out: &mut Vec<u8>) {
    write_list(None, records, out);
}

/// Appends a continuation-mark request body.
pub fn encode_mark(mark: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(DECL_STANDALONE);
    out.extend_from_slice(b"<ContinuationMark xmlns=\"");
    out.extend_from_slice(RECORDS_NS.as_bytes());
    out.extend_from_slice(b"\">");
    escape(mark, false, out);
    out.extend_from_slice(b"</ContinuationMark>");
}

/// Appends an `ActivityRecordSearch`: the mark first, then the filters in order. A
/// field or period name is written as an element name, with characters that cannot
/// appear in an XML name dropped. An interval with neither end reads back as empty text.
pub fn encode_search(search: &SearchRequest, out: &mut Vec<u8>) {
    out.extend_from_slice(DECL_UTF8);
    out.extend_from_slice(b"<ActivityRecordSearch xmlns=\"");
    out.extend_from_slice(RECORDS_NS.as_bytes());
    out.extend_from_slice(b"\">");
    if let Some(mark) = &search.mark {
        leaf(b"ContinuationMark", mark, out);
    }
    out.extend_from_slice(b"<FilterList>");
    for f in &search.filters {
        let name_at = out.len() + 1;
        out.push(b'<');
        push_name(&f.field, out);
        let name_end = out.len();
        if let Some(op) = f.operator {
            out.extend_from_slice(b" Operator=\"");
            out.extend_from_slice(op.as_str().as_bytes());
            out.push(b'"');
        }
        out.push(b'>');
        match &f.value {
            FilterValue::Text(s) => escape(s, false, out),
            FilterValue::Interval { from, to } => {
                if let Some(from) = from {
                    leaf(b"From", from, out);
                }
                if let Some(to) = to {
                    leaf(b"To", to, out);
                }
            }
            FilterValue::Period(p) => {
                out.push(b'<');
                push_name(p, out);
                out.extend_from_slice(b"/>");
            }
        }
        out.extend_from_slice(b"</");
        out.extend_from_within(name_at..name_end);
        out.push(b'>');
    }
    out.extend_from_slice(b"</FilterList></ActivityRecordSearch>");
}

/// Appends an `ErrorList` in the errors' namespace.
pub fn encode_errors(errors: &ErrorList, out: &mut Vec<u8>) {
    out.extend_from_slice(DECL_ERRORS);
    out.extend_from_slice(b"<ErrorList xmlns=\"");
    out.extend_from_slice(ERRORS_NS.as_bytes());
    out.extend_from_slice(b"\">");
    for e in &errors.errors {
        out.extend_from_slice(b"<Error>");
        leaf(b"Category", &e.category, out);
        leaf(b"Description", &e.description, out);
        if let Some(loc) = &e.location {
            leaf(b"Location", loc, out);
        }
        out.extend_from_slice(b"</Error>");
    }
    out.extend_from_slice(b"</ErrorList>");
}

fn write_list(mark: Option<&str>, records: &[ActivityRecord], out: &mut Vec<u8>) {
    out.reserve(128 + records.len() * 640);
    out.extend_from_slice(DECL_STANDALONE);
    out.extend_from_slice(b"<ActivityRecordList xmlns=\"");
    out.extend_from_slice(RECORDS_NS.as_bytes());
    out.extend_from_slice(b"\">");
    if let Some(mark) = mark {
        leaf(b"ContinuationMark", mark, out);
    }
    for r in records {
        write_record(r, out);
    }
    out.extend_from_slice(b"</ActivityRecordList>");
}

/// One record, in the element order of the documentation's sample.
fn write_record(r: &ActivityRecord, out: &mut Vec<u8>) {
    out.extend_from_slice(b"<ActivityRecord>");
    if let Some(plan) = &r.monitoring_plan {
        out.extend_from_slice(b"<MonitoringPlan>");
        opt_leaf(b"Name", plan.name.as_deref(), out);
        opt_leaf(b"ID", plan.id.as_deref(), out);
        out.extend_from_slice(b"</MonitoringPlan>");
    }
    opt_leaf(b"DataSource", r.data_source.as_deref(), out);
    if let Some(item) = &r.item {
        out.extend_from_slice(b"<Item>");
        opt_leaf(b"Name", item.name.as_deref(), out);
        out.extend_from_slice(b"</Item>");
    }
    leaf(b"ObjectType", &r.object_type, out);
    opt_leaf(b"RID", r.rid.as_deref(), out);
    leaf(b"What", &r.what, out);
    leaf(b"Action", &r.action, out);
    leaf(b"When", &r.when, out);
    leaf(b"Where", &r.where_, out);
    leaf(b"Who", &r.who, out);
    opt_leaf(b"Workstation", r.workstation.as_deref(), out);
    if !r.details.is_empty() {
        out.extend_from_slice(b"<DetailList>");
        for d in &r.details {
            out.extend_from_slice(b"<Detail>");
            leaf(b"PropertyName", &d.property_name, out);
            opt_leaf(b"Before", d.before.as_deref(), out);
            opt_leaf(b"After", d.after.as_deref(), out);
            opt_leaf(b"Message", d.message.as_deref(), out);
            out.extend_from_slice(b"</Detail>");
        }
        out.extend_from_slice(b"</DetailList>");
    }
    out.extend_from_slice(b"</ActivityRecord>");
}

fn leaf(name: &[u8], value: &str, out: &mut Vec<u8>) {
    out.push(b'<');
    out.extend_from_slice(name);
    out.push(b'>');
    escape(value, false, out);
    out.extend_from_slice(b"</");
    out.extend_from_slice(name);
    out.push(b'>');
}

fn opt_leaf(name: &[u8], value: Option<&str>, out: &mut Vec<u8>) {
    if let Some(v) = value {
        leaf(name, v, out);
    }
}

/// U+FFFD, written in place of a character XML 1.0 cannot carry.
const REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();

/// Appends `s` escaped for element text (or, with `attr`, for a double-quoted attribute).
pub(super) fn escape(s: &str, attr: bool, out: &mut Vec<u8>) {
    let b = s.as_bytes();
    let mut run = 0;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let (rep, len): (&[u8], usize) = match c {
            b'&' => (b"&amp;", 1),
            b'<' => (b"&lt;", 1),
            b'>' => (b"&gt;", 1),
            b'\r' => (b"&#13;", 1),
            b'"' if attr => (b"&quot;", 1),
            b'\n' if attr => (b"&#10;", 1),
            b'\t' if attr => (b"&#9;", 1),
            b'\t' | b'\n' => {
                i += 1;
                continue;
            }
            0..=0x1f => (REPLACEMENT, 1),
            // U+FFFE and U+FFFF (EF BF BE / EF BF BF) are not XML characters either.
            0xEF if b.get(i + 1) == Some(&0xBF) && matches!(b.get(i + 2), Some(0xBE | 0xBF)) => (REPLACEMENT, 3),
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&b[run..i]);
        out.extend_from_slice(rep);
        i += len;
        run = i;
    }
    out.extend_from_slice(&b[run..]);
}

/// Appends `name` as an XML element name: characters that cannot be in a name are
/// dropped, and `_` is put first if what is left could not start one.
pub(super) fn push_name(name: &str, out: &mut Vec<u8>) {
    let start = out.len();
    for ch in name.chars() {
        let ok =
            ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.') || (ch as u32 >= 0xC0 && ch.is_alphanumeric());
        if ok {
            let mut buf = [0u8; 4];
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        }
    }
    let first = out.get(start).copied();
    if matches!(first, None | Some(b'0'..=b'9' | b'-' | b'.')) {
        out.insert(start, b'_');
    }
}
