//! Robustness of every decoder: 100,000 seeded random mutations of valid documents
//! (truncations, flipped bits, inserted and deleted bytes, spliced chunks) plus
//! hand-made hostile inputs (deep nesting, huge values, invalid UTF-8, bad references),
//! each fed to all ten decoders. Each must return `Ok` or a `DecodeError` inside the
//! body; a panic or a stack overflow fails the test.

use crate::common;

use netwrix::{json, xml, DecodeError, ErrorList, Format, Page, SearchRequest};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const MUTATIONS: usize = 100_000;

type Decoder = fn(&[u8]) -> Result<(), DecodeError>;

fn decoders() -> Vec<(&'static str, Decoder)> {
    vec![
        ("xml page", |b| xml::decode_page(b).map(drop)),
        ("xml records", |b| xml::decode_records(b).map(drop)),
        ("xml mark", |b| xml::decode_mark(b).map(drop)),
        ("xml search", |b| xml::decode_search(b).map(drop)),
        ("xml errors", |b| xml::decode_errors(b).map(drop)),
        ("json page", |b| json::decode_page(b).map(drop)),
        ("json records", |b| json::decode_records(b).map(drop)),
        ("json mark", |b| json::decode_mark(b).map(drop)),
        ("json search", |b| json::decode_search(b).map(drop)),
        ("json errors", |b| json::decode_errors(b).map(drop)),
    ]
}

/// Runs every decoder on `body`; an error must point inside the body.
fn feed(decoders: &[(&'static str, Decoder)], body: &[u8]) -> usize {
    let mut ok = 0;
    for (name, decode) in decoders {
        match decode(body) {
            Ok(()) => ok += 1,
            Err(e) => {
                assert!(e.position <= body.len() as u64, "{name}: position {} past the end {}", e.position, body.len())
            }
        }
    }
    ok
}

fn sample<S: Strategy>(runner: &mut TestRunner, s: S) -> S::Value {
    s.new_tree(runner).expect("strategy").current()
}

/// Small valid documents of every kind in both formats.
fn seeds() -> Vec<Vec<u8>> {
    let mut runner = TestRunner::deterministic();
    let mut docs = Vec::new();
    for _ in 0..4 {
        let page: Page = sample(&mut runner, common::arb_page());
        let search: SearchRequest = sample(&mut runner, common::arb_search());
        let errors: ErrorList = sample(&mut runner, common::arb_errors());
        let mark: String = sample(&mut runner, common::arb_mark());
        for format in [Format::Xml, Format::Json] {
            let mut out = Vec::new();
            format.encode_page(&page, &mut out);
            docs.push(std::mem::take(&mut out));
            format.encode_records(&page.records, &mut out);
            docs.push(std::mem::take(&mut out));
            format.encode_search(&search, &mut out);
            docs.push(std::mem::take(&mut out));
            format.encode_errors(&errors, &mut out);
            docs.push(std::mem::take(&mut out));
            format.encode_mark(&mark, &mut out);
            docs.push(std::mem::take(&mut out));
        }
    }
    docs
}

const PALETTE: &[&[u8]] = &[
    b"<",
    b">",
    b"/",
    b"&",
    b";",
    b"\"",
    b"'",
    b"=",
    b"[",
    b"]",
    b"{",
    b"}",
    b":",
    b",",
    b"\\",
    b" ",
    b"\n",
    b"\r",
    b"\xFF",
    b"\xC3",
    b"\xE2\x82",
    b"\xED\xA0\x80",
    b"\0",
    b"]]>",
    b"<!--",
    b"-->",
    b"<![CDATA[",
    b"&#",
    b"&#x110000;",
    b"&#0;",
    b"&lt",
    b"<?",
    b"<!DOCTYPE a [<!ENTITY e \"x\">]>",
    b"</a>",
    b"<a>",
    b"<a/>",
    b"\\u",
    b"\\uD800",
    b"null",
    b"1e999999",
    b"-",
    b"true",
    b"<When>",
    b"<From>",
    b"Operator=\"x\"",
    b"{\"From\":",
    b"{\"NotEqualTo\":",
];

fn mutate(rng: &mut StdRng, doc: &mut Vec<u8>) {
    let len = doc.len();
    match rng.random_range(0..6) {
        0 => doc.truncate(rng.random_range(0..=len)),
        1 => {
            for _ in 0..rng.random_range(1..=4) {
                if !doc.is_empty() {
                    let i = rng.random_range(0..doc.len());
                    doc[i] ^= 1 << rng.random_range(0..8);
                }
            }
        }
        2 => {
            let at = rng.random_range(0..=len);
            let piece: Vec<u8> = if rng.random_bool(0.7) {
                PALETTE[rng.random_range(0..PALETTE.len())].to_vec()
            } else {
                (0..rng.random_range(1..8)).map(|_| rng.random()).collect()
            };
            doc.splice(at..at, piece);
        }
        3 => {
            if len > 0 {
                let a = rng.random_range(0..len);
                let b = rng.random_range(a..=len.min(a + 16));
                doc.drain(a..b);
            }
        }
        4 => {
            if len > 0 {
                let a = rng.random_range(0..len);
                let b = rng.random_range(a..=len.min(a + 64));
                let chunk = doc[a..b].to_vec();
                let at = rng.random_range(0..=len);
                doc.splice(at..at, chunk);
            }
        }
        _ => {
            if len > 0 {
                let i = rng.random_range(0..len);
                let p = PALETTE[rng.random_range(0..PALETTE.len())];
                doc[i] = p[0];
            }
        }
    }
}

#[test]
fn random_mutations_never_panic() {
    let decoders = decoders();
    let seeds = seeds();
    for s in &seeds {
        assert!(feed(&decoders, s) >= 1, "every seed is valid for some decoder: {}", String::from_utf8_lossy(s));
    }
    let mut rng = StdRng::seed_from_u64(0x5eed_a0d1_7b41_d6e5);
    let mut ok = 0usize;
    let mut doc = Vec::new();
    for _ in 0..MUTATIONS {
        doc.clear();
        doc.extend_from_slice(&seeds[rng.random_range(0..seeds.len())]);
        for _ in 0..rng.random_range(1..=3) {
            mutate(&mut rng, &mut doc);
        }
        ok += feed(&decoders, &doc);
    }
    // Some mutations (a flipped letter in a value) stay valid; most do not.
    assert!(ok > 0 && ok < MUTATIONS, "{ok} of {MUTATIONS} mutations decoded");
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let decoders = decoders();
    let n = 100_000;
    let ns = netwrix::RECORDS_NS;
    let nested = |open: &str, close: &str| format!("{}{}", open.repeat(n), close.repeat(n));
    let docs = [
        nested("<a>", "</a>"),
        format!(
            "<ActivityRecordList xmlns=\"{ns}\"><ActivityRecord>{}</ActivityRecord></ActivityRecordList>",
            nested("<a>", "</a>")
        ),
        format!(
            "<ActivityRecordList xmlns=\"{ns}\"><ActivityRecord><Who>{}</Who></ActivityRecord></ActivityRecordList>",
            nested("<a>", "</a>")
        ),
        format!(
            "<ActivityRecordSearch xmlns=\"{ns}\"><FilterList><When>{}</When></FilterList></ActivityRecordSearch>",
            nested("<a>", "</a>")
        ),
        format!("<ActivityRecordList xmlns=\"{ns}\"><ActivityRecord>{}", "<a>".repeat(n)),
        nested("[", "]"),
        nested("{\"a\":", "}"),
        format!("{{\"FilterList\":{{\"Who\":{}}}}}", nested("{\"Equals\":", "}")),
        format!("{{\"FilterList\":{{\"X\":{}}}}}", nested("[", "]")),
    ];
    for doc in &docs {
        assert_eq!(feed(&decoders, doc.as_bytes()), 0, "{}", &doc[..80]);
    }
    let e = xml::decode_page(docs[1].as_bytes()).unwrap_err();
    assert!(e.detail.contains("nested deeper"), "{e}");
    // serde_json skips an unknown key's value without recursing, so any depth there is fine.
    let skipped = format!("{{\"ActivityRecordList\":[{{\"X\":{}}}]}}", nested("[", "]"));
    assert_eq!(json::decode_page(skipped.as_bytes()).unwrap().records.len(), 1);
    feed(&decoders, skipped.as_bytes());
}

#[test]
fn huge_values_decode() {
    let big = "x\\ü".repeat(2_000_000);
    let rec = netwrix::ActivityRecord { who: big.clone().into(), ..Default::default() };
    for format in [Format::Xml, Format::Json] {
        let mut body = Vec::new();
        format.encode_records(std::slice::from_ref(&rec), &mut body);
        let back = format.decode_records(&body).unwrap();
        assert_eq!(back[0].who.len(), big.len());
        feed(&decoders(), &body);
    }
}

#[test]
fn hostile_inputs_are_errors() {
    let decoders = decoders();
    let ns = netwrix::RECORDS_NS;
    let rec = |inner: &str| {
        format!("<ActivityRecordList xmlns=\"{ns}\"><ActivityRecord><Who>{inner}</Who></ActivityRecord></ActivityRecordList>")
    };
    let bad: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"\xEF\xBB\xBF".to_vec(),
        b"\xFF\xFE<\0a\0>\0".to_vec(),
        rec("&#0;").into_bytes(),
        rec("&#xD800;").into_bytes(),
        rec("&#x110000;").into_bytes(),
        rec("&#99999999999999999999;").into_bytes(),
        rec("&#;").into_bytes(),
        rec("&#x;").into_bytes(),
        rec("&unknown;").into_bytes(),
        rec("a & b").into_bytes(),
        rec("\u{0}").replace('\0', "\u{C0}\u{80}").into_bytes(),
        [rec("x").as_bytes(), b"\xC0\x80"].concat(),
        [&rec("x").as_bytes()[..90], b"\xE2\x82"].concat(),
        format!("<!DOCTYPE a [<!ENTITY e \"{}\">]><a>&e;</a>", "&e;".repeat(10)).into_bytes(),
        b"<a b=\"1\" b=\"2\"/>".to_vec(),
        b"\"\\uD800\"".to_vec(),
        b"{\"ActivityRecordList\":[{\"Who\":\"\\uDC00\\uD800\"}]}".to_vec(),
        b"{\"ActivityRecordList\":[{\"Who\":1e999999}]}".to_vec(),
        b"{\"ActivityRecordList\":[{\"Who\":\"a\xFF\"}]}".to_vec(),
    ];
    for body in &bad {
        feed(&decoders, body);
    }
    assert!(xml::decode_page(&rec("&#0;").into_bytes()).is_err());
    assert!(xml::decode_page(&rec("&unknown;").into_bytes()).is_err());
    assert!(xml::decode_page(&rec("a & b").into_bytes()).is_err());
}
