//! Netwrix's JSON of one Activity Record, written by hand: exactly the bytes
//! `serde_json` writes for [`ActivityRecord`] (a property test in
//! `sinks/tests/it/cef_leef_props.rs` checks it), for the JSON lines and HEC formats.
//!
//! It exists for speed: every record the file and HEC sinks send goes through it, and
//! `serde_json` escapes strings byte by byte through its serializer machinery. Here
//! values are scanned eight bytes at a time for what JSON escapes and copied run by run.

use super::limit::Specials;
use netwrix::{ActivityRecord, Text};

/// The bytes a JSON string escapes: control bytes, `"` and `\`.
const SPECIALS: Specials = Specials::controls_and(b'"', b'\\');

/// Appends the record as a JSON object: Netwrix's keys in the model's order, absent
/// optional fields and an empty `DetailList` left out.
pub fn record(out: &mut Vec<u8>, r: &ActivityRecord) {
    out.push(b'{');
    fields(out, r, true);
    out.push(b'}');
}

/// Appends the record's `"key":value` pairs without braces, each after a comma unless
/// `first` (for an object that holds other keys before them).
pub fn fields(out: &mut Vec<u8>, r: &ActivityRecord, first: bool) {
    let mut w = Object { out, first };
    w.opt("RID", &r.rid);
    w.text("Who", &r.who);
    w.text("Action", &r.action);
    w.text("What", &r.what);
    w.text("When", &r.when);
    w.text("Where", &r.where_);
    w.text("ObjectType", &r.object_type);
    if let Some(plan) = &r.monitoring_plan {
        w.key("MonitoringPlan");
        let mut p = Object::open(w.out);
        p.opt("Name", &plan.name);
        p.opt("ID", &plan.id);
        p.close();
    }
    w.opt("DataSource", &r.data_source);
    if let Some(item) = &r.item {
        w.key("Item");
        let mut i = Object::open(w.out);
        i.opt("Name", &item.name);
        i.close();
    }
    w.opt("Workstation", &r.workstation);
    if !r.details.is_empty() {
        w.key("DetailList");
        w.out.push(b'[');
        for (n, d) in r.details.iter().enumerate() {
            if n > 0 {
                w.out.push(b',');
            }
            let mut o = Object::open(w.out);
            o.text("PropertyName", &d.property_name);
            o.opt("Before", &d.before);
            o.opt("After", &d.after);
            o.opt("Message", &d.message);
            o.close();
        }
        w.out.push(b']');
    }
}

/// Appends `value` as a JSON string literal, escaped as `serde_json` does: `\"`, `\\`,
/// `\b`, `\f`, `\n`, `\r`, `\t`, other control bytes as `\u00xx`; everything else as is.
pub fn string(out: &mut Vec<u8>, value: &str) {
    let bytes = value.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut run = 0;
    loop {
        let i = SPECIALS.find(bytes, run);
        out.extend_from_slice(&bytes[run..i]);
        let Some(&b) = bytes.get(i) else { break };
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0C => out.extend_from_slice(b"\\f"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xF)]);
            }
        }
        run = i + 1;
    }
    out.push(b'"');
}

/// The keys of one JSON object being written.
struct Object<'a> {
    out: &'a mut Vec<u8>,
    /// No key written yet (no comma before the next).
    first: bool,
}

impl<'a> Object<'a> {
    fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Object { out, first: true }
    }

    fn close(self) {
        self.out.push(b'}');
    }

    /// `,"name":` (no comma before the first key). Key names need no escaping.
    fn key(&mut self, name: &str) {
        if !std::mem::take(&mut self.first) {
            self.out.push(b',');
        }
        self.out.push(b'"');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    fn text(&mut self, name: &str, value: &Text) {
        self.key(name);
        string(self.out, value);
    }

    fn opt(&mut self, name: &str, value: &Option<Text>) {
        if let Some(value) = value {
            self.text(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_serde_json_does() {
        for s in ["", "plain", "a\"b\\c", "\u{0}\u{1}\u{8}\u{c}\n\r\t\u{1f}\u{7f}", "ü東€ \"x\" ünd 0123456789abcdef\\"]
        {
            let mut out = Vec::new();
            string(&mut out, s);
            assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn an_empty_record_has_its_mandatory_keys_only() {
        let mut out = Vec::new();
        record(&mut out, &ActivityRecord::default());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"Who":"","Action":"","What":"","When":"","Where":"","ObjectType":""}"#
        );
    }
}
