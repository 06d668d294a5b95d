//! Proptest strategies for the model, shared by the integration tests of this crate
//! (`mod common;` in a test file), so every test exercises the same awkward values:
//! non-ASCII, backslashes, markup characters, `]]>`, CR/LF, surrounding whitespace,
//! empty versus absent optionals and present-but-empty MonitoringPlan/Item.

#![allow(dead_code)]

use netwrix::{
    ActivityRecord, Detail, ErrorList, Filter, FilterValue, Item, MonitoringPlan, Operator, Page, SearchRequest,
};
use netwrix::{ApiError, Format, Text};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

/// A reqwest client builder for the tests' own requests. reqwest has no crypto provider
/// of its own in this build (the client hands it one), so the test process installs
/// ring's as the default first.
pub fn http_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

/// A character XML 1.0 can carry (so values survive both codecs).
pub fn arb_char() -> impl Strategy<Value = char> {
    prop_oneof![
        8 => proptest::char::range(' ', '~'),
        1 => Just('\r'),
        1 => Just('\n'),
        1 => Just('\t'),
        2 => Just('\\'),
        2 => prop::sample::select(vec!['&', '<', '>', '"', '\'', ']', ';', '#']),
        1 => proptest::char::range('\u{80}', '\u{9F}'),
        3 => proptest::char::range('\u{A0}', '\u{D7FF}'),
        1 => proptest::char::range('\u{E000}', '\u{FFFD}'),
        1 => proptest::char::range('\u{10000}', '\u{10FFFF}'),
    ]
}

/// Fragments that have broken codecs before.
const TRICKY: &[&str] = &[
    "",
    " ",
    "  padded  ",
    "\r\n",
    "line1\r\nline2\rline3\n",
    "\n\tindented\n",
    "]]>",
    "<![CDATA[x]]>",
    "&amp;",
    "&#13;",
    "CORP\\jdoe",
    "\\\\fs01\\share\\",
    "Grüße, 日本語, 😀",
    "\"quoted\" 'single'",
    "\u{85}\u{2028}",
];

/// A string value: random XML-legal characters around a tricky fragment.
pub fn arb_text() -> impl Strategy<Value = String> {
    let chars = || vec(arb_char(), 0..12).prop_map(|v| v.into_iter().collect::<String>());
    prop_oneof![
        3 => chars(),
        2 => (chars(), prop::sample::select(TRICKY), chars()).prop_map(|(a, t, b)| format!("{a}{t}{b}")),
        1 => prop::sample::select(TRICKY).prop_map(str::to_owned),
    ]
}

/// Any string at all, control characters included (JSON carries them; XML cannot).
pub fn arb_any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        vec(any::<char>(), 0..16).prop_map(|v| v.into_iter().collect::<String>()),
        vec(proptest::char::range('\0', '\u{1f}'), 0..8).prop_map(|v| v.into_iter().collect::<String>()),
    ]
}

pub fn arb_detail() -> impl Strategy<Value = Detail> {
    let text = || arb_text().prop_map(Text::from);
    (text(), option::of(text()), option::of(text()), option::of(text()))
        .prop_map(|(property_name, before, after, message)| Detail { property_name, before, after, message })
}

/// An arbitrary Activity Record whose strings are all XML-legal.
pub fn arb_record() -> impl Strategy<Value = ActivityRecord> {
    record_from(arb_text)
}

/// An arbitrary Activity Record with any characters (for JSON).
pub fn arb_record_any_chars() -> impl Strategy<Value = ActivityRecord> {
    record_from(arb_any_text)
}

fn record_from<S: Strategy<Value = String> + 'static>(string: fn() -> S) -> impl Strategy<Value = ActivityRecord> {
    let text = move || string().prop_map(Text::from);
    let detail = move || {
        (text(), option::of(text()), option::of(text()), option::of(text()))
            .prop_map(|(property_name, before, after, message)| Detail { property_name, before, after, message })
    };
    let mandatory = (text(), text(), text(), text(), text(), text());
    let optional = (
        option::of(text()),
        option::of((option::of(text()), option::of(text()))),
        option::of(text()),
        option::of(option::of(text())),
        option::of(text()),
        vec(detail(), 0..3),
    );
    (mandatory, optional).prop_map(
        |((who, action, what, when, where_, object_type), (rid, plan, ds, item, ws, details))| ActivityRecord {
            rid,
            who,
            action,
            what,
            when,
            where_,
            object_type,
            monitoring_plan: plan.map(|(name, id)| MonitoringPlan { name, id }),
            data_source: ds,
            item: item.map(|name| Item { name }),
            workstation: ws,
            details,
        },
    )
}

/// A continuation mark as servers make them: Base64, possibly empty.
pub fn arb_mark() -> impl Strategy<Value = String> {
    "[A-Za-z0-9+/]{0,60}={0,2}"
}

/// A page of 0–4 records with or without a mark.
pub fn arb_page() -> impl Strategy<Value = Page> {
    (vec(arb_record(), 0..4), option::of(arb_mark())).prop_map(|(records, mark)| Page { records, mark })
}

pub fn arb_operator() -> impl Strategy<Value = Operator> {
    prop::sample::select(Operator::ALL.to_vec())
}

/// One filter of any field, operator and value form. Intervals have at least one end
/// (one with neither cannot be told from empty text in XML).
pub fn arb_filter() -> impl Strategy<Value = Filter> {
    let field = prop::sample::select(netwrix::search::FILTER_NAMES.to_vec());
    let value = prop_oneof![
        3 => arb_text().prop_map(FilterValue::Text),
        1 => (option::of(arb_text()), arb_text()).prop_map(|(from, to)| FilterValue::Interval { from, to: Some(to) }),
        1 => arb_text().prop_map(|from| FilterValue::Interval { from: Some(from), to: None }),
        1 => prop::sample::select(vec!["Today", "Yesterday", "LastSevenDays", "LastThirtyDays"])
            .prop_map(|p| FilterValue::Period(p.to_owned())),
    ];
    (field, option::of(arb_operator()), value).prop_map(|(field, operator, value)| Filter {
        field: field.to_owned(),
        operator,
        value,
    })
}

pub fn arb_search() -> impl Strategy<Value = SearchRequest> {
    (vec(arb_filter(), 0..8), option::of(arb_mark())).prop_map(|(filters, mark)| SearchRequest { filters, mark })
}

pub fn arb_errors() -> impl Strategy<Value = ErrorList> {
    vec(
        (arb_text(), arb_text(), option::of(arb_text())).prop_map(|(category, description, location)| ApiError {
            category,
            description,
            location,
        }),
        0..3,
    )
    .prop_map(|errors| ErrorList { errors })
}

/// Encodes with `encode` into a fresh buffer.
pub fn bytes(format: Format, f: impl FnOnce(Format, &mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::new();
    f(format, &mut out);
    out
}
