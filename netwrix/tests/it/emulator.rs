//! End-to-end tests of the emulator over real HTTP (reqwest, raw TCP), independent of the
//! crate's own client: status codes and bodies of spec §5, query parameters, paging and
//! incremental resume with continuation marks, search filters, the documented write
//! examples, TLS, and the record generator.

use netwrix::emulator::{Emulator, EmulatorConfig, Fault};
use netwrix::generate::{generate, generate_iter};
use netwrix::{ActivityRecord, ErrorList, Filter, FilterValue, Format, Operator, SearchRequest};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ENUM: &str = "/netwrix/api/v1/activity_records/enum";
const SEARCH: &str = "/netwrix/api/v1/activity_records/search";
const WRITE: &str = "/netwrix/api/v1/activity_records/";
const BAD_COUNT: &str =
    "Invalid count parameter specified. Error details: 0x80040204 Cannot convert the attribute data type";

fn any_addr() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A raw HTTP caller: what came back, unparsed.
struct Api {
    http: reqwest::Client,
    base: String,
    auth: Option<(String, String)>,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn errors(&self, format: Format) -> ErrorList {
        format.decode_errors(&self.body).unwrap_or_else(|e| panic!("not an ErrorList ({e}): {}", self.text()))
    }

    fn page(&self, format: Format) -> netwrix::Page {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text());
        format.decode_page(&self.body).unwrap_or_else(|e| panic!("not a page ({e}): {}", self.text()))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).chars().take(2000).collect()
    }
}

impl Api {
    fn new(base: &str) -> Self {
        Api { http: crate::common::http_builder().build().unwrap(), base: base.to_string(), auth: None }
    }

    fn with_auth(base: &str, user: &str, password: &str) -> Self {
        Api { auth: Some((user.into(), password.into())), ..Api::new(base) }
    }

    async fn send(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> Reply {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some((u, p)) = &self.auth {
            req = req.basic_auth(u, Some(p));
        }
        if let Some(body) = body {
            req = req.body(body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.unwrap().to_vec();
        assert_eq!(headers.get("server").and_then(|v| v.to_str().ok()), Some("Microsoft-HTTPAPI/2.0"));
        Reply { status, headers, body }
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: impl Into<Vec<u8>>) -> Reply {
        self.send(Method::POST, path, Some(body.into())).await
    }

    async fn post_mark(&self, format: Format, query: &str, mark: &str) -> Reply {
        let mut body = Vec::new();
        format.encode_mark(mark, &mut body);
        self.post(&format!("{ENUM}{query}"), body).await
    }

    async fn search(&self, format: Format, query: &str, search: &SearchRequest) -> Reply {
        let mut body = Vec::new();
        format.encode_search(search, &mut body);
        self.post(&format!("{SEARCH}{query}"), body).await
    }

    /// Every page of enum from the start (or from `mark`): the record counts per page, the
    /// records, and the last mark.
    async fn enum_all(
        &self,
        format: Format,
        count: usize,
        mark: Option<String>,
    ) -> (Vec<usize>, Vec<ActivityRecord>, String) {
        let q = match format {
            Format::Json => format!("?count={count}&format=json"),
            Format::Xml => format!("?count={count}"),
        };
        let mut page = match &mark {
            None => self.get(&format!("{ENUM}{q}")).await.page(format),
            Some(m) => self.post_mark(format, &q, m).await.page(format),
        };
        let (mut sizes, mut records) = (Vec::new(), Vec::new());
        loop {
            sizes.push(page.records.len());
            let mark = page.mark.clone().expect("every page carries a mark");
            if page.records.is_empty() {
                return (sizes, records, mark);
            }
            records.append(&mut page.records);
            page = self.post_mark(format, &q, &mark).await.page(format);
        }
    }

    /// Every match of a search, following its marks.
    async fn search_all(&self, format: Format, count: usize, filters: Vec<Filter>) -> Vec<ActivityRecord> {
        let q = match format {
            Format::Json => format!("?format=json&count={count}"),
            Format::Xml => format!("?count={count}"),
        };
        let mut req = SearchRequest { filters, mark: None };
        let mut out = Vec::new();
        loop {
            let page = self.search(format, &q, &req).await.page(format);
            assert!(page.records.len() <= count);
            if page.records.is_empty() {
                return out;
            }
            out.extend(page.records);
            req.mark = page.mark;
        }
    }
}

fn sample_record(who: &str) -> ActivityRecord {
    ActivityRecord {
        who: who.into(),
        action: "Added".into(),
        what: "\\\\fs01\\share\\a.txt".into(),
        when: "2024-03-01T10:00:00+01:00".into(),
        where_: "fs01".into(),
        object_type: "file".into(),
        ..Default::default()
    }
}

fn text(field: &str, op: Option<Operator>, value: &str) -> Filter {
    Filter { field: field.into(), operator: op, value: FilterValue::Text(value.into()) }
}

#[tokio::test]
async fn authentication_routing_and_methods() {
    let emu = Emulator::new(EmulatorConfig {
        credentials: Some(("CORP\\reader".into(), "s3cret".into())),
        ..Default::default()
    });
    emu.add_records(generate(5, 1));
    let server = emu.serve(any_addr()).await.unwrap();
    let anonymous = Api::new(&server.base_url);
    let wrong = Api::with_auth(&server.base_url, "CORP\\reader", "nope");
    let good = Api::with_auth(&server.base_url, "corp\\READER", "s3cret");

    for api in [&anonymous, &wrong] {
        for path in [ENUM, SEARCH, WRITE, "/netwrix/api/v1/mynewendpoint/"] {
            let r = api.get(path).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
            assert!(r.body.is_empty());
            assert!(r.header("www-authenticate").unwrap().starts_with("Basic realm=\""), "{:?}", r.headers);
        }
    }
    assert_eq!(good.get(ENUM).await.page(Format::Xml).records.len(), 5);

    let r = good.get("/netwrix/api/v1/mynewendpoint/").await;
    assert_eq!((r.status, r.body.len()), (StatusCode::NOT_FOUND, 0));
    let r = good.get("/somewhere/else").await;
    assert_eq!((r.status, r.body.len()), (StatusCode::NOT_FOUND, 0));
    for (method, path) in
        [(Method::DELETE, ENUM), (Method::PUT, ENUM), (Method::GET, SEARCH), (Method::GET, WRITE), (Method::PUT, WRITE)]
    {
        let r = good.send(method.clone(), path, None).await;
        assert_eq!((r.status, r.body.len()), (StatusCode::METHOD_NOT_ALLOWED, 0), "{method} {path}");
    }
    assert_eq!(emu.requests(), 1, "only the served enum request counts");
    server.shutdown().await;
}

#[tokio::test]
async fn count_and_format_parameters() {
    let emu = Emulator::new(EmulatorConfig::default());
    emu.add_records(generate(30, 2));
    let server = emu.serve(any_addr()).await.unwrap();
    let api = Api::new(&server.base_url);

    // Default count is 1,000 (all 30 here), XML by default.
    let r = api.get(ENUM).await;
    assert_eq!(r.header("content-type"), Some("application/xml"));
    assert!(r.body.starts_with(b"<?xml"), "{}", r.text());
    assert_eq!(r.page(Format::Xml).records.len(), 30);
    // Either order of the parameters.
    for q in ["?format=json&count=7", "?count=7&format=json"] {
        let r = api.get(&format!("{ENUM}{q}")).await;
        assert_eq!(r.header("content-type"), Some("application/json"), "{q}");
        assert_eq!(r.page(Format::Json).records.len(), 7, "{q}");
    }
    // A non-integer count: 400 InputError with the documented text, in the request's format.
    for (q, format) in [
        ("?count=FIVE", Format::Xml),
        ("?count=FIVE&format=json", Format::Json),
        ("?format=json&count=1.5", Format::Json),
    ] {
        let r = api.get(&format!("{ENUM}{q}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
        let errors = r.errors(format);
        assert_eq!(errors.errors.len(), 1);
        assert_eq!(errors.errors[0].category, "InputError");
        assert_eq!(errors.errors[0].description, BAD_COUNT);
    }
    let r = api.get(&format!("{ENUM}?count=FIVE")).await;
    assert!(String::from_utf8_lossy(&r.body).contains("http://schemas.netwrix.com/api/v1/"));
    // Zero and negative counts: 400 InputError too (the emulator's choice).
    for q in ["?count=0", "?count=-5&format=json"] {
        let r = api.get(&format!("{ENUM}{q}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
        let format = if q.contains("json") { Format::Json } else { Format::Xml };
        assert_eq!(r.errors(format).errors[0].category, "InputError");
    }
    // Same on search.
    let s = SearchRequest { filters: vec![text("Who", None, "corp")], mark: None };
    let r = api.search(Format::Json, "?count=FIVE&format=json", &s).await;
    assert_eq!(r.errors(Format::Json).errors[0].description, BAD_COUNT);
    server.shutdown().await;

    // A configured cap lowers larger counts.
    let capped = Emulator::new(EmulatorConfig { max_count: Some(10), ..Default::default() });
    capped.add_records(generate(30, 2));
    let server = capped.serve(any_addr()).await.unwrap();
    let api = Api::new(&server.base_url);
    assert_eq!(api.get(&format!("{ENUM}?count=1500")).await.page(Format::Xml).records.len(), 10);
}

#[tokio::test]
async fn bad_bodies() {
    let emu = Emulator::new(EmulatorConfig { write_limit_bytes: 4096, ..Default::default() });
    emu.add_records(generate(10, 3));
    let server = emu.serve(any_addr()).await.unwrap();
    let api = Api::new(&server.base_url);

    // Malformed JSON: 500 with an empty body.
    for path in [format!("{ENUM}?format=json"), format!("{SEARCH}?format=json"), format!("{WRITE}?format=json")] {
        let r = api.post(&path, &b"{\"FilterList\": {"[..]).await;
        assert_eq!((r.status, r.body.len()), (StatusCode::INTERNAL_SERVER_ERROR, 0), "{path}");
    }
    // Malformed XML: 400 XMLError.
    for path in [ENUM, SEARCH, WRITE] {
        let r = api
            .post(path, &b"<?xml version=\"1.0\"?><ActivityRecordSearch><FilterList><DataSource>x</FilterList>"[..])
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(r.errors(Format::Xml).errors[0].category, "XMLError", "{path}");
    }
    // A search without FilterList, or with an unknown filter or operator: 400.
    let no_list = r#"<?xml version="1.0"?><ActivityRecordSearch xmlns="http://schemas.netwrix.com/api/v1/activity_records/"></ActivityRecordSearch>"#;
    assert_eq!(api.post(SEARCH, no_list).await.status, StatusCode::BAD_REQUEST);
    let r = api.post(&format!("{SEARCH}?format=json"), r#"{"ContinuationMark": null}"#).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(!r.errors(Format::Json).errors.is_empty());
    let r = api.post(&format!("{SEARCH}?format=json"), r#"{"FilterList": {"Colour": "red"}}"#).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let r = api.post(&format!("{SEARCH}?format=json"), r#"{"FilterList": {"Action": {"Contains": "Add"}}}"#).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    // A mark that does not decode: 400 InputError.
    for (format, q) in [(Format::Xml, ""), (Format::Json, "?format=json")] {
        let r = api.post_mark(format, q, "bm90IGEgbWFyaw==").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.errors(format).errors[0].category, "InputError");
        let r = api.post_mark(format, q, "***").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }
    // An enum mark is not a search mark.
    let enum_mark = api.get(ENUM).await.page(Format::Xml).mark.unwrap();
    let s = SearchRequest { filters: vec![text("Who", None, "corp")], mark: Some(enum_mark) };
    assert_eq!(api.search(Format::Xml, "", &s).await.status, StatusCode::BAD_REQUEST);
    // JSON sent to the write endpoint without ?format=json is invalid XML: 400.
    let json = std::fs::read(fixture("write_example.json")).unwrap();
    let r = api.post(WRITE, json).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.errors(Format::Xml).errors[0].category, "XMLError");
    // A record without a mandatory field: 400.
    let r = api.post(&format!("{WRITE}?format=json"), r#"[{"Who": "x", "Action": "Added"}]"#).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Too large: 413, empty.
    let mut big = Vec::new();
    Format::Json.encode_records(&generate(40, 9), &mut big);
    assert!(big.len() > 4096);
    let r = api.post(&format!("{WRITE}?format=json"), big).await;
    assert_eq!((r.status, r.body.len()), (StatusCode::PAYLOAD_TOO_LARGE, 0));
    assert_eq!(emu.len(), 10, "nothing was written");
}

#[tokio::test]
async fn faults_are_served_in_order() {
    let emu = Emulator::new(EmulatorConfig::default());
    emu.add_records(generate(50, 4));
    let server = emu.serve(any_addr()).await.unwrap();
    let api = Api::new(&server.base_url);

    emu.inject(Fault::Status(503));
    emu.inject(Fault::Errors(500, ErrorList::one("ServerError", "0x80040C0A SQL Server cannot be contacted")));
    emu.inject(Fault::MalformedBody);
    emu.inject(Fault::Delay(Duration::from_millis(300)));

    let r = api.get(ENUM).await;
    assert_eq!((r.status, r.body.len()), (StatusCode::SERVICE_UNAVAILABLE, 0));
    let r = api.get(&format!("{ENUM}?format=json")).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.errors(Format::Json).errors[0].category, "ServerError");
    let r = api.get(&format!("{ENUM}?count=20")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(Format::Xml.decode_page(&r.body).is_err(), "the body must not decode: {}", r.text());
    let started = Instant::now();
    let page = api.get(&format!("{ENUM}?count=20")).await.page(Format::Xml);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(page.records.len(), 20);
    // Queue empty: normal service. Writes never take faults.
    emu.inject(Fault::Status(500));
    let mut body = Vec::new();
    Format::Xml.encode_records(&[sample_record("CORP\\w")], &mut body);
    assert_eq!(api.post(WRITE, body).await.status, StatusCode::OK);
    assert_eq!(api.get(ENUM).await.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(api.get(ENUM).await.page(Format::Xml).records.len(), 51);
    assert_eq!(emu.requests(), 6);
}

#[tokio::test]
async fn paging_and_incremental_resume() {
    let generated = generate(2_500, 5);
    let emu = Emulator::new(EmulatorConfig::default());
    emu.add_records(generated.clone());
    let server = emu.serve(any_addr()).await.unwrap();
    let api = Api::new(&server.base_url);

    for format in [Format::Json, Format::Xml] {
        let (sizes, records, end_mark) = api.enum_all(format, 1_000, None).await;
        assert_eq!(sizes, vec![1000, 1000, 500, 0], "{format:?}");
        assert_eq!(records.len(), generated.len());
        for (got, want) in records.iter().zip(&generated) {
            assert_eq!(got, want, "{format:?}: records come back exactly as stored");
        }
        // The end mark keeps answering "nothing new" with a mark that resumes from the same point.
        let again = api.post_mark(format, if format == Format::Json { "?format=json" } else { "" }, &end_mark).await;
        let again = again.page(format);
        assert!(again.records.is_empty());
        assert_eq!(again.mark.as_deref(), Some(end_mark.as_str()));
    }

    // Save the end mark, write 10 more, resume: exactly those 10.
    let (_, _, end_mark) = api.enum_all(Format::Xml, 1_000, None).await;
    let fresh: Vec<ActivityRecord> = (0..10).map(|i| sample_record(&format!("CORP\\new{i}"))).collect();
    let mut body = Vec::new();
    Format::Json.encode_records(&fresh, &mut body);
    let r = api.post(&format!("{WRITE}?format=json"), body).await;
    assert_eq!((r.status, r.body.len(), r.header("content-type")), (StatusCode::OK, 0, Some("text/plain")));
    assert_eq!(r.header("content-length"), Some("0"));
    let (sizes, resumed, _) = api.enum_all(Format::Xml, 1_000, Some(end_mark.clone())).await;
    assert_eq!(sizes, vec![10, 0]);
    let whos: Vec<&str> = resumed.iter().map(|r| r.who.as_str()).collect();
    assert_eq!(whos, (0..10).map(|i| format!("CORP\\new{i}")).collect::<Vec<_>>());
    // The same mark in JSON, with a smaller count.
    let (sizes, _, _) = api.enum_all(Format::Json, 4, Some(end_mark)).await;
    assert_eq!(sizes, vec![4, 4, 2, 0]);
}

#[tokio::test]
async fn search_filters() {
    let generated = generate(3_000, 6);
    let emu = Emulator::new(EmulatorConfig::default());
    emu.add_records(generated.clone());
    let server = emu.serve(any_addr()).await.unwrap();
    let api = Api::new(&server.base_url);
    let groups = HashMap::new();

    let from = generated[500].when.to_string();
    let to = generated[1_700].when.to_string();
    let cases: Vec<Vec<Filter>> = vec![
        vec![Filter {
            field: "When".into(),
            operator: None,
            value: FilterValue::Interval { from: Some(from.clone()), to: Some(to.clone()) },
        }],
        vec![text("Who", Some(Operator::Equals), "corp\\JMUELLER")],
        vec![text("DataSource", Some(Operator::Contains), "exchange")],
        vec![
            text("DataSource", None, "File"),
            text("DataSource", Some(Operator::StartsWith), "logon"),
            text("Action", Some(Operator::NotEqualTo), "Read"),
            Filter {
                field: "When".into(),
                operator: None,
                value: FilterValue::Interval { from: Some(from), to: None },
            },
        ],
        vec![text("What", Some(Operator::Contains), "Отчёт"), text("Who", Some(Operator::DoesNotContain), "admin")],
    ];
    for (i, filters) in cases.into_iter().enumerate() {
        let request = SearchRequest { filters: filters.clone(), mark: None };
        let expected: Vec<&ActivityRecord> = generated.iter().filter(|r| request.matches(r, &groups)).collect();
        assert!(
            !expected.is_empty() && expected.len() < generated.len(),
            "case {i} must select something: {}",
            expected.len()
        );
        for format in [Format::Xml, Format::Json] {
            let got = api.search_all(format, 100, filters.clone()).await;
            assert_eq!(got.len(), expected.len(), "case {i} {format:?}");
            assert!(got.iter().zip(&expected).all(|(a, b)| a == *b), "case {i} {format:?}");
        }
    }

    // The documented XML syntax, written by hand.
    let body = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<ActivityRecordSearch xmlns="http://schemas.netwrix.com/api/v1/activity_records/">
  <FilterList>
    <Who Operator="Equals">CORP\tyamada</Who>
    <When>
      <From>{}</From>
      <To>{}</To>
    </When>
  </FilterList>
</ActivityRecordSearch>"#,
        generated[0].when, generated[2_999].when
    );
    let page = api.post(SEARCH, body).await.page(Format::Xml);
    let expected = generated.iter().filter(|r| r.who == "CORP\\tyamada").count();
    assert_eq!(page.records.len(), expected);
    // A search mark kept at the end resumes with records written later.
    let request = SearchRequest { filters: vec![text("Who", Some(Operator::Equals), "CORP\\late")], mark: None };
    let first = api.search(Format::Json, "?format=json", &request).await.page(Format::Json);
    assert!(first.records.is_empty());
    emu.write(vec![sample_record("CORP\\late"), sample_record("CORP\\other")]);
    let resumed = SearchRequest { mark: first.mark, ..request };
    let page = api.search(Format::Json, "?format=json", &resumed).await.page(Format::Json);
    assert_eq!(page.records.len(), 1);
    assert_eq!(page.records[0].data_source.as_deref(), Some("Netwrix API"));
}

#[tokio::test]
async fn groups_resolve_in_searches() {
    let mut groups = HashMap::new();
    groups
        .insert("CORP\\Domain Admins".to_string(), vec!["CORP\\administrator".to_string(), "CORP\\Tier0".to_string()]);
    groups.insert("CORP\\Tier0".to_string(), vec!["CORP\\jdoe".to_string()]);
    let generated = generate(1_000, 8);
    let emu = Emulator::new(EmulatorConfig { groups: groups.clone(), ..Default::default() });
    emu.add_records(generated.clone());
    let server = emu.serve(any_addr()).await.unwrap();
    let api = Api::new(&server.base_url);
    let filters = vec![text("Who", Some(Operator::InGroup), "corp\\domain admins")];
    let got = api.search_all(Format::Json, 1_000, filters).await;
    let expected = generated
        .iter()
        .filter(|r| ["corp\\administrator", "corp\\jdoe"].contains(&r.who.to_lowercase().as_str()))
        .count();
    assert!(expected > 0);
    assert_eq!(got.len(), expected);
}

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

#[tokio::test]
async fn documented_write_examples_come_back_from_enum() {
    let emu = Emulator::new(EmulatorConfig::default());
    let server = emu.serve(any_addr()).await.unwrap();
    let api = Api::new(&server.base_url);

    let r = api.post(WRITE, std::fs::read(fixture("write_example.xml")).unwrap()).await;
    assert_eq!((r.status, r.body.len()), (StatusCode::OK, 0), "{}", r.text());
    let r = api.post(&format!("{WRITE}?format=json"), std::fs::read(fixture("write_example.json")).unwrap()).await;
    assert_eq!((r.status, r.body.len()), (StatusCode::OK, 0), "{}", r.text());
    assert_eq!(emu.len(), 4);

    let (_, records, _) = api.enum_all(Format::Json, 1_000, None).await;
    assert_eq!(records.len(), 4);
    for pair in records.chunks(2) {
        let (sp, mailbox) = (&pair[0], &pair[1]);
        assert_eq!(sp.who, "Admin");
        assert_eq!(sp.object_type, "Stored Procedure");
        assert_eq!(sp.what, "Databases\\ReportServer\\Stored Procedures\\dbo.sp_New");
        assert_eq!(sp.when, "2017-02-19T14:43:49Z", "offset normalised to UTC");
        let plan = sp.monitoring_plan.as_ref().unwrap();
        assert_eq!(plan.name.as_deref(), Some("Integrations and custom sources"));
        assert!(plan.id.as_deref().is_some_and(|id| id.len() == 38 && id.starts_with('{')));
        assert_eq!(mailbox.when, "2017-02-10T14:46:00Z");
        assert_eq!(mailbox.monitoring_plan, None);
        assert_eq!(mailbox.details.len(), 1);
        assert_eq!(mailbox.details[0].property_name, "Custom_Attribute");
        assert_eq!(mailbox.details[0].before.as_deref(), Some("1"));
        assert_eq!(mailbox.details[0].after.as_deref(), Some("2"));
        for r in pair {
            assert_eq!(r.data_source.as_deref(), Some("Netwrix API"));
            let rid = r.rid.as_deref().unwrap();
            assert_eq!(rid.len(), 49);
            assert!(rid.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)), "{rid}");
        }
    }
    assert_eq!(records[0], {
        let mut r = records[2].clone();
        r.rid = records[0].rid.clone();
        r
    });
}

#[tokio::test]
async fn tls_serves_and_the_fingerprint_matches() {
    let emu = Emulator::new(EmulatorConfig { tls: true, ..Default::default() });
    emu.add_records(generate(3, 10));
    let server = emu.serve(any_addr()).await.unwrap();
    assert!(server.base_url.starts_with("https://127.0.0.1:"), "{}", server.base_url);
    let fingerprint = server.fingerprint.clone().unwrap();
    assert_eq!(fingerprint.len(), 64);

    // Accept anything, but look at what was presented.
    let http = crate::common::http_builder().tls_danger_accept_invalid_certs(true).tls_info(true).build().unwrap();
    let resp = http.get(format!("{}{ENUM}", server.base_url)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let der = resp.extensions().get::<reqwest::tls::TlsInfo>().and_then(|i| i.peer_certificate()).unwrap().to_vec();
    assert_eq!(hex::encode(Sha256::digest(&der)), fingerprint);

    // Trust exactly the PEM: the certificate is valid for 127.0.0.1.
    let cert = reqwest::Certificate::from_pem(server.cert_pem.as_deref().unwrap().as_bytes()).unwrap();
    let http = crate::common::http_builder().tls_certs_only([cert]).build().unwrap();
    let api = Api { http, base: server.base_url.clone(), auth: None };
    assert_eq!(api.get(ENUM).await.page(Format::Xml).records.len(), 3);
    let localhost = format!("https://localhost:{}", server.addr.port());
    let api = Api { base: localhost, ..api };
    assert_eq!(api.get(ENUM).await.page(Format::Xml).records.len(), 3);
}

/// Reads one HTTP/1.1 response with a Content-Length from a raw stream.
async fn read_response(stream: &mut tokio::net::TcpStream) -> (String, Vec<u8>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len: usize = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
                .unwrap();
            while buf.len() < end + 4 + len {
                let n = stream.read(&mut chunk).await.unwrap();
                assert!(n > 0, "connection closed early");
                buf.extend_from_slice(&chunk[..n]);
            }
            return (head, buf[end + 4..end + 4 + len].to_vec());
        }
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed early");
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test]
async fn keep_alive_and_shutdown() {
    let emu = Emulator::new(EmulatorConfig::default());
    emu.add_records(generate(5, 11));
    let server = emu.serve(any_addr()).await.unwrap();
    let addr = server.addr;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut mark = String::new();
    for i in 0..3 {
        let req = if i == 0 {
            format!("GET {ENUM}?count=2&format=json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        } else {
            let body = format!("\"{mark}\"");
            format!("POST {ENUM}?format=json&count=2 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json; Charset=UTF-8\r\nContent-Length: {}\r\n\r\n{body}", body.len())
        };
        stream.write_all(req.as_bytes()).await.unwrap();
        let (head, body) = read_response(&mut stream).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.to_ascii_lowercase().contains("server: microsoft-httpapi/2.0"));
        let page = Format::Json.decode_page(&body).unwrap();
        assert_eq!(page.records.len(), if i < 2 { 2 } else { 1 });
        mark = page.mark.unwrap();
    }
    server.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "nothing listens after shutdown");
    let mut rest = Vec::new();
    let n = stream.read_to_end(&mut rest).await.unwrap_or(0);
    assert_eq!(n, 0, "open connections are closed on shutdown");

    // Dropping the handle stops the server too; the records stay with the emulator.
    let server = emu.serve(any_addr()).await.unwrap();
    let addr = server.addr;
    drop(server);
    // The server task stops on its own after the drop: wait for that, with a deadline.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(std::time::Instant::now() < deadline, "still listening 10 s after the handle was dropped");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(emu.len(), 5);
}

#[test]
fn generator_is_deterministic_and_realistic() {
    let a = generate(10_000, 42);
    assert_eq!(a, generate(10_000, 42));
    assert_ne!(a[..100], generate(100, 43)[..]);
    assert_eq!(generate_iter(42).take(10).collect::<Vec<_>>(), a[..10]);

    let values = |r: &ActivityRecord| -> Vec<netwrix::Text> {
        let mut v = vec![r.who.clone(), r.what.clone(), r.where_.clone()];
        for d in &r.details {
            v.extend(d.before.clone());
            v.extend(d.after.clone());
        }
        v
    };
    let mut rid_prev = String::new();
    for r in &a {
        let rid = r.rid.as_deref().unwrap();
        assert_eq!(rid.len(), 49);
        assert!(rid.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)));
        assert!(rid[..17] > rid_prev[..rid_prev.len().min(17)], "RID timestamps increase");
        rid_prev = rid.to_string();
        assert!(r.when_utc().is_some() && r.when.ends_with('Z') && r.when.len() == 20, "{}", r.when);
        assert!(rid.starts_with(&r.when[..4]));
        for field in [&r.who, &r.action, &r.what, &r.where_, &r.object_type] {
            assert!(!field.is_empty());
        }
        let plan = r.monitoring_plan.as_ref().unwrap();
        assert!(
            plan.name.is_some()
                && plan.id.as_deref().is_some_and(|id| id.len() == 38 && id.starts_with('{') && id.ends_with('}'))
        );
        assert!(r.item.as_ref().and_then(|i| i.name.as_deref()).is_some_and(|n| n.ends_with(')')));
    }
    let longest = a.iter().flat_map(values).map(|v| v.chars().count()).max().unwrap();
    assert!(longest > 20_000, "longest value {longest}");
    let big = a.iter().filter(|r| values(r).iter().any(|v| v.chars().count() > 20_000)).count();
    assert!((1..=20).contains(&big), "{big} records with huge values");
    assert!(a.iter().any(|r| r.what.starts_with("\\\\fs01\\") && r.object_type == "file"));
    assert!(a.iter().any(|r| r.what.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c))), "Cyrillic");
    assert!(a.iter().any(|r| r.what.chars().any(|c| ('\u{3040}'..='\u{9FFF}').contains(&c))), "Japanese");
    assert!(a.iter().any(|r| r.what.contains('ü')) && a.iter().any(|r| r.what.contains('é')));
    assert!(a.iter().any(|r| values(r).iter().any(|v| v.contains("\r\n"))));
    assert!(a.iter().any(|r| values(r).iter().any(|v| v.contains('\n') && !v.contains("\r\n"))));
    assert!(a.iter().any(|r| r.workstation.is_none()) && a.iter().any(|r| r.workstation.is_some()));
    assert!(a.iter().any(|r| r.details.is_empty()) && a.iter().any(|r| !r.details.is_empty()));
    let items = |suffix: &str| {
        a.iter().any(|r| r.item.as_ref().and_then(|i| i.name.as_deref()).is_some_and(|n| n.ends_with(suffix)))
    };
    assert!(
        items(" (Domain)")
            && items(" (Windows file share)")
            && items(" (Office 365 tenant)")
            && items(" (SQL Server instance)")
    );
    for (ds, object_type) in [
        ("Active Directory", "user"),
        ("Active Directory", "group"),
        ("Active Directory", "computer"),
        ("Exchange", "Mailbox"),
        ("Exchange Online", "Mailbox"),
        ("File Servers", "folder"),
        ("Logon Activity", "Logon"),
        ("SharePoint", "Document"),
        ("SQL Server", "Stored Procedure"),
    ] {
        assert!(
            a.iter().any(|r| r.data_source.as_deref() == Some(ds) && r.object_type == object_type),
            "{ds}/{object_type}"
        );
    }
    for action in
        ["Added", "Removed", "Modified", "Read", "Moved", "Renamed", "Successful Logon", "Failed Logon", "Logoff"]
    {
        assert!(a.iter().any(|r| r.action == action), "{action}");
    }
}
