//! The XML codec's tests: the fast path against the general one, round trips, errors.
use super::encode::{escape, push_name};
use super::*;

/// The fast path alone, on a copy of `body`.
fn fast(body: &[u8]) -> Option<Page> {
    Fast::page(&TextBuf::new(body.to_vec()))
}
use proptest::prelude::*;

fn page_of(records: Vec<ActivityRecord>, mark: Option<String>) -> Vec<u8> {
    let mut body = Vec::new();
    encode_page(&Page { records, mark }, &mut body);
    body
}

#[test]
fn fast_path_reads_generated_pages_like_the_general_decoder() {
    for seed in 0..20 {
        let body = page_of(crate::generate::generate(300, seed), Some(format!(" mark {seed}\n")));
        let fast = fast(&body).expect("a page as the encoder writes it takes the fast path");
        assert_eq!(Ok(fast), decode_page_general(&body));
    }
}

/// One edit of an encoded page: where, which kind, and a second number for the kind.
fn edit() -> impl Strategy<Value = (prop::sample::Index, u8, prop::sample::Index)> {
    (any::<prop::sample::Index>(), 0..4u8, any::<prop::sample::Index>())
}

#[test]
fn fast_path_edge_cases_agree() {
    let ns = RECORDS_NS;
    let cases = [
        "<ActivityRecordList/>".to_string(),
        format!("\u{FEFF}<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<ActivityRecordList xmlns=\"{ns}\"/>"),
        "<ActivityRecordList><ActivityRecord/><ContinuationMark/></ActivityRecordList>\n".to_string(),
        "<ActivityRecordList> x <ActivityRecord> y <Who>a&amp;b&#13;&#10;&#9;&lt;&gt;&quot;&apos;</Who>\
         <DetailList/><MonitoringPlan/><Item/>\
         <DetailList><Detail/><Detail><Before /><After\t/></Detail></DetailList>\
         <Who></Who><RID>1</RID><RID>2</RID><What >&#xD;&#xA;&#xd;&#xa;</What></ActivityRecord>\
         <ActivityRecord\n/></ActivityRecordList>"
            .to_string(),
    ];
    for c in cases {
        assert_eq!(fast(c.as_bytes()).map(Ok), Some(decode_page_general(c.as_bytes())), "{c}");
    }
    // Shapes the fast path leaves to the general decoder.
    let general = [
        "<ActivityRecordList xmlns=\"urn:other\"/>",
        "<a:ActivityRecordList xmlns:a=\"x\"/>",
        "<ActivityRecordList><ActivityRecord><Who>a\r\nb</Who></ActivityRecord></ActivityRecordList>",
        "<ActivityRecordList><ActivityRecord><Who>&#65;</Who></ActivityRecord></ActivityRecordList>",
        "<ActivityRecordList><ActivityRecord><Who><![CDATA[x]]></Who></ActivityRecord></ActivityRecordList>",
        "<ActivityRecordList><ActivityRecord><Who a=\"1\">x</Who></ActivityRecord></ActivityRecordList>",
        "<ActivityRecordList><ActivityRecord><Who>&#xD</Who></ActivityRecord></ActivityRecordList>",
        "<ActivityRecordList><ActivityRecord><Who>x</Who ></ActivityRecord></ActivityRecordList>",
        "<ActivityRecordList><ActivityRecord><Other/></ActivityRecord></ActivityRecordList>",
        "<ActivityRecordList><!-- c --></ActivityRecordList>",
        "<ActivityRecordList>&amp;</ActivityRecordList>",
        "<ActivityRecordList></ActivityRecordList><!-- c -->",
        "<ActivityRecordList><ActivityRecord><Who>x</What></ActivityRecord></ActivityRecordList>",
        "<ActivityRecordList><ActivityRecord>",
    ];
    for c in general {
        assert_eq!(fast(c.as_bytes()), None, "{c}");
    }
    assert_eq!(fast(b"<ActivityRecordList>\xFF</ActivityRecordList>"), None);
}

/// Pieces spliced into encoded pages to push them off (or along) the fast path.
const SPLICES: &[&str] = &[
    "&amp;",
    "&lt;",
    "&#13;",
    "&#10;",
    "&#9;",
    "&#xD;",
    "&#xa;",
    "&#x;",
    " />",
    "\t>",
    "&#65;",
    "&#x41;",
    "&bogus;",
    "&",
    "&amp",
    "<",
    ">",
    "/>",
    "/",
    "\r",
    "\r\n",
    "\n",
    " ",
    "\t",
    "<!--c-->",
    "<![CDATA[x&]]>",
    "<?pi x?>",
    "<X/>",
    "<X>",
    "</X>",
    "<Who>",
    "</Who>",
    "<Detail>",
    "</Detail>",
    "<DetailList/>",
    "<ActivityRecord/>",
    "</ActivityRecord>",
    "<ContinuationMark>",
    "</ActivityRecordList>",
    "a:",
    "xmlns=\"x\"",
    "\u{1}",
    "\u{FEFF}",
    "ü",
    "東",
    "\"",
    "'",
];

fn text() -> impl Strategy<Value = Text> {
    "[a-z &<>'\"\r\n\t\u{1}ü東-]{0,10}".prop_map(Text::from)
}

fn record() -> impl Strategy<Value = ActivityRecord> {
    let detail = (text(), proptest::option::of(text()), proptest::option::of(text()), proptest::option::of(text()))
        .prop_map(|(property_name, before, after, message)| Detail { property_name, before, after, message });
    (
        (proptest::option::of(text()), text(), text(), text(), text(), text(), text()),
        proptest::option::of((proptest::option::of(text()), proptest::option::of(text()))),
        (proptest::option::of(text()), proptest::option::of(proptest::option::of(text()))),
        (proptest::option::of(text()), proptest::collection::vec(detail, 0..3)),
    )
        .prop_map(
            |((rid, who, action, what, when, where_, object_type), plan, (data_source, item), (ws, details))| {
                ActivityRecord {
                    rid,
                    who,
                    action,
                    what,
                    when,
                    where_,
                    object_type,
                    monitoring_plan: plan.map(|(name, id)| MonitoringPlan { name, id }),
                    data_source,
                    item: item.map(|name| Item { name }),
                    workstation: ws,
                    details,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Whatever the fast path accepts, it reads exactly as the general decoder does.
    #[test]
    fn fast_path_agrees_with_general_decoder(
        records in proptest::collection::vec(record(), 0..4),
        mark in proptest::option::of(text()),
        edits in proptest::collection::vec(edit(), 0..4),
    ) {
        let mut body = page_of(records, mark.map(String::from));
        let clean = edits.is_empty();
        for (at, op, piece) in edits {
            let i = at.index(body.len() + 1);
            match op {
                0 => { body.splice(i..i, piece.get(SPLICES).bytes()); }
                1 => { body.drain(i..(i + piece.index(8)).min(body.len())); }
                2 => if let Some(b) = body.get_mut(i) { *b ^= 1 << piece.index(8) },
                _ => { let n = piece.index(body.len() + 1); body.truncate(n.max(i.min(n))); }
            }
        }
        let general = decode_page_general(&body);
        match fast(&body) {
            Some(fast) => prop_assert_eq!(Ok(fast), general),
            None => prop_assert!(!clean, "an encoded page missed the fast path"),
        }
    }
}

#[test]
fn escape_handles_markup_cr_and_illegal_chars() {
    let mut out = Vec::new();
    escape("a&b<c>]]>\r\n\t\u{1}\u{FFFE}ü\"", false, &mut out);
    assert_eq!(String::from_utf8(out).unwrap(), "a&amp;b&lt;c&gt;]]&gt;&#13;\n\t\u{FFFD}\u{FFFD}ü\"");
}

#[test]
fn names_are_sanitised() {
    let mut out = Vec::new();
    push_name("Monitoring Plan", &mut out);
    push_name("", &mut out);
    push_name("1x", &mut out);
    assert_eq!(out, b"MonitoringPlan__1x");
}
