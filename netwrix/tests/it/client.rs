//! The API client against a scripted stub server (exact requests and odd responses) and
//! against the emulator (paging, search, TLS trust modes, authentication).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use netwrix::client::{AuthScheme, Client, ClientConfig, ClientError, Credentials, Trust};
use netwrix::emulator::{Emulator, EmulatorConfig, Fault, RunningEmulator};
use netwrix::{ActivityRecord, ErrorList, Filter, FilterValue, Format, Page, SearchRequest};

// ---------------------------------------------------------------------------------------
// A scripted stub: answers each request with the next scripted reply and records it.

#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    uri: String,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Debug, Clone)]
struct Reply {
    status: u16,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    delay: Duration,
    location: Option<&'static str>,
}

impl Reply {
    fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Reply { status, content_type: None, body: body.into(), delay: Duration::ZERO, location: None }
    }
    fn page(format: Format, page: &Page) -> Self {
        let mut body = Vec::new();
        format.encode_page(page, &mut body);
        let content_type = Some(match format {
            Format::Xml => "application/xml",
            Format::Json => "application/json",
        });
        Reply { status: 200, content_type, body, delay: Duration::ZERO, location: None }
    }
    fn errors(status: u16, format: Format, list: &ErrorList) -> Self {
        let mut body = Vec::new();
        format.encode_errors(list, &mut body);
        Reply::new(status, body)
    }
}

#[derive(Default)]
struct Script {
    replies: Mutex<VecDeque<Reply>>,
    seen: Mutex<Vec<Seen>>,
}

struct Stub {
    base_url: String,
    script: Arc<Script>,
}

impl Stub {
    async fn start(replies: Vec<Reply>) -> Stub {
        let script = Arc::new(Script { replies: Mutex::new(replies.into()), seen: Mutex::default() });
        let app = axum::Router::new().fallback(answer).with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Stub { base_url: format!("http://{addr}"), script }
    }

    fn seen(&self) -> Vec<Seen> {
        self.script.seen.lock().unwrap().clone()
    }

    fn client(&self, format: Format, count: Option<usize>) -> Client {
        Client::new(ClientConfig {
            format,
            count,
            credentials: Some(Credentials::new(r"CORP\svc-export", "Pa55-w0rd!")),
            auth: AuthScheme::Basic,
            timeout: Duration::from_secs(5),
            ..ClientConfig::new(&self.base_url)
        })
        .unwrap()
    }
}

async fn answer(
    State(script): State<Arc<Script>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    script.seen.lock().unwrap().push(Seen { method, uri: uri.to_string(), headers, body });
    let reply = script.replies.lock().unwrap().pop_front().unwrap_or_else(|| Reply::new(599, "script exhausted"));
    tokio::time::sleep(reply.delay).await;
    let mut response = (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
    if let Some(ct) = reply.content_type {
        response.headers_mut().insert("content-type", ct.parse().unwrap());
    }
    if let Some(location) = reply.location {
        response.headers_mut().insert("location", location.parse().unwrap());
    }
    response
}

fn record(n: usize) -> ActivityRecord {
    ActivityRecord {
        rid: Some(format!("20240301101502123{n:032X}").into()),
        who: r"CORP\jdoe".into(),
        action: "Modified".into(),
        what: format!(r"\corp\Groups\G{n}").into(),
        when: "2024-03-01T10:15:02Z".into(),
        where_: "dc01.corp.example".into(),
        object_type: "group".into(),
        ..Default::default()
    }
}

fn page(range: std::ops::Range<usize>, mark: &str) -> Page {
    Page { records: range.map(record).collect(), mark: Some(mark.to_string()) }
}

const SQL_ERROR: &str = "0x80040C0A SQL Server cannot be contacted, connection is lost";
const COUNT_ERROR: &str =
    "Invalid count parameter specified. Error details: 0x80040204 Cannot convert the attribute data type";

// ---------------------------------------------------------------------------------------
// Requests on the wire.

#[tokio::test]
async fn stub_paging_xml_sends_get_then_the_mark_and_stops_on_an_empty_page() {
    let f = Format::Xml;
    let stub = Stub::start(vec![
        Reply::page(f, &page(0..3, "MARK-1")),
        Reply::page(f, &page(3..5, "MARK-2")),
        Reply::page(f, &page(0..0, "MARK-2")),
    ])
    .await;
    let client = stub.client(f, None);
    let first = client.first_page().await.unwrap();
    assert_eq!(first.records.len(), 3);
    assert_eq!(first.mark.as_deref(), Some("MARK-1"));
    let second = client.next_page("MARK-1").await.unwrap();
    assert_eq!(second.records, page(3..5, "").records);
    let last = client.next_page("MARK-2").await.unwrap();
    assert!(last.records.is_empty());
    assert_eq!(last.mark.as_deref(), Some("MARK-2"));

    let seen = stub.seen();
    assert_eq!(seen[0].method, Method::GET);
    assert_eq!(seen[0].uri, "/netwrix/api/v1/activity_records/enum");
    assert!(seen[0].body.is_empty());
    assert!(seen[0].headers.get("content-type").is_none());
    assert_eq!(seen[1].method, Method::POST);
    assert_eq!(seen[1].uri, "/netwrix/api/v1/activity_records/enum");
    assert_eq!(seen[1].headers["content-type"], "application/xml; Charset=UTF-8");
    assert_eq!(Format::Xml.decode_mark(&seen[1].body).unwrap(), "MARK-1");
    let basic = seen[0].headers["authorization"].to_str().unwrap();
    assert_eq!(basic, "Basic Q09SUFxzdmMtZXhwb3J0OlBhNTUtdzByZCE="); // CORP\svc-export:Pa55-w0rd!
}

#[tokio::test]
async fn stub_json_sends_format_count_and_a_json_string_mark() {
    let f = Format::Json;
    let stub = Stub::start(vec![Reply::page(f, &page(0..2, "M1")), Reply::page(f, &page(2..3, "M2"))]).await;
    let client = stub.client(f, Some(250));
    assert_eq!(client.first_page().await.unwrap().records.len(), 2);
    assert_eq!(client.next_page("M1").await.unwrap().records.len(), 1);
    let seen = stub.seen();
    assert_eq!(seen[0].uri, "/netwrix/api/v1/activity_records/enum?format=json&count=250");
    assert_eq!(seen[1].uri, "/netwrix/api/v1/activity_records/enum?format=json&count=250");
    assert_eq!(seen[1].headers["content-type"], "application/json; Charset=UTF-8");
    assert_eq!(&seen[1].body[..], br#""M1""#);
}

#[tokio::test]
async fn stub_search_sends_the_filters_and_the_mark_inside() {
    for f in [Format::Xml, Format::Json] {
        let stub = Stub::start(vec![Reply::page(f, &page(0..1, "S1")), Reply::page(f, &page(1..2, "S2"))]).await;
        let client = stub.client(f, Some(10));
        let mut search = SearchRequest {
            filters: vec![Filter {
                field: "DataSource".into(),
                operator: None,
                value: FilterValue::Text("Active Directory".into()),
            }],
            mark: None,
        };
        let first = client.search(&search).await.unwrap();
        search.mark = first.mark.clone();
        client.search(&search).await.unwrap();
        let seen = stub.seen();
        let query = if f == Format::Json { "?format=json&count=10" } else { "?count=10" };
        assert_eq!(seen[0].uri, format!("/netwrix/api/v1/activity_records/search{query}"));
        assert_eq!(seen[1].method, Method::POST);
        let sent_first = f.decode_search(&seen[0].body).unwrap();
        assert_eq!(sent_first.mark, None);
        let sent = f.decode_search(&seen[1].body).unwrap();
        assert_eq!(sent.mark.as_deref(), Some("S1"), "{f:?}");
        assert_eq!(sent.filters, search.filters);
    }
}

#[tokio::test]
async fn stub_write_posts_records_in_the_input_schema() {
    for f in [Format::Xml, Format::Json] {
        let stub = Stub::start(vec![Reply::new(200, "")]).await;
        let client = stub.client(f, Some(99));
        let records: Vec<_> = (0..3).map(record).collect();
        client.write(&records).await.unwrap();
        client.write(&[]).await.unwrap(); // nothing sent
        let seen = stub.seen();
        assert_eq!(seen.len(), 1);
        let query = if f == Format::Json { "?format=json" } else { "" };
        assert_eq!(seen[0].uri, format!("/netwrix/api/v1/activity_records/{query}"));
        assert_eq!(seen[0].headers["content-type"], f.content_type());
        assert_eq!(f.decode_records(&seen[0].body).unwrap().len(), 3);
    }
}

// ---------------------------------------------------------------------------------------
// Status codes of spec §5.

#[tokio::test]
async fn stub_every_documented_status_maps_to_its_typed_error() {
    for f in [Format::Xml, Format::Json] {
        let count = ErrorList::one("InputError", COUNT_ERROR);
        let sql = ErrorList::one("ServerError", SQL_ERROR);
        let denied = ErrorList::one("AccessDenied", "The account is not a member of Netwrix Auditor Client Users");
        let stub = Stub::start(vec![
            Reply::errors(400, f, &count),
            Reply::new(401, ""),
            Reply::new(404, ""),
            Reply::new(405, ""),
            Reply::new(413, ""),
            Reply::new(500, ""),
            Reply::errors(500, f, &sql),
            Reply::new(503, ""),
            Reply::new(418, "short and stout"),
            Reply::errors(403, f, &denied),
            Reply::errors(404, f, &denied),
            Reply { location: Some("https://sso.corp.example/login"), ..Reply::new(302, "") },
        ])
        .await;
        let client = stub.client(f, None);

        let e = client.first_page().await.unwrap_err();
        assert!(matches!(&e, ClientError::BadRequest(list) if list == &count), "{e:?}");
        assert_eq!(e.to_string(), format!("HTTP 400 Bad Request: InputError: {COUNT_ERROR}"));
        assert!(!e.is_transient());

        let e = client.first_page().await.unwrap_err();
        assert!(matches!(&e, ClientError::Unauthorized { scheme, .. } if scheme == "Basic"), "{e:?}");
        assert_eq!(e.to_string(), "HTTP 401 Unauthorized (Basic): check the user and password");

        assert!(matches!(client.first_page().await, Err(ClientError::NotFound(None))));
        assert!(matches!(client.first_page().await, Err(ClientError::MethodNotAllowed)));
        assert!(matches!(client.write(&[record(1)]).await, Err(ClientError::TooLarge)));

        let e = client.first_page().await.unwrap_err();
        assert!(matches!(e, ClientError::Server(None)), "{e:?}");
        assert_eq!(e.to_string(), "HTTP 500 Internal Server Error (empty body)");
        assert!(e.is_transient());

        let e = client.first_page().await.unwrap_err();
        assert!(matches!(&e, ClientError::Server(Some(list)) if list == &sql), "{e:?}");
        assert!(e.to_string().contains(SQL_ERROR));
        assert!(e.is_transient());

        let e = client.first_page().await.unwrap_err();
        assert!(matches!(e, ClientError::Unavailable) && e.is_transient());

        let e = client.first_page().await.unwrap_err();
        assert!(
            matches!(&e, ClientError::UnexpectedStatus { status: 418, body } if body == "short and stout"),
            "{e:?}"
        );

        // The server's own words, not its raw XML or JSON; a redirect says where to.
        for status in ["403 Forbidden", "404 Not Found"] {
            let e = client.first_page().await.unwrap_err().to_string();
            assert!(e.starts_with(&format!("HTTP {status}: ")), "{e}");
            assert!(
                e.ends_with(
                    "; the server said: AccessDenied: The account is not a member of Netwrix Auditor Client Users"
                ),
                "{e}"
            );
        }
        let e = client.first_page().await.unwrap_err();
        assert!(e.to_string().starts_with("HTTP 302 redirect to https://sso.corp.example/login: "), "{e}");
        assert!(!e.is_transient());
    }
}

#[tokio::test]
async fn stub_error_lists_in_the_other_format_or_unparseable_are_tolerated() {
    let list = ErrorList::one("XMLError", "0xC00CE56D End tag 'FilterList' does not match the start tag 'DataSource'");
    let stub = Stub::start(vec![
        Reply::errors(400, Format::Xml, &list), // XML although JSON was asked for
        Reply::new(500, "<html><body>Internal error</body></html>"),
        Reply::new(400, "   "),
    ])
    .await;
    let client = stub.client(Format::Json, None);
    let e = client.first_page().await.unwrap_err();
    assert!(matches!(&e, ClientError::BadRequest(got) if got == &list), "{e:?}");
    let e = client.first_page().await.unwrap_err();
    let ClientError::Server(Some(got)) = &e else { panic!("{e:?}") };
    assert!(got.errors[0].description.contains("Internal error"), "{e}");
    let e = client.first_page().await.unwrap_err();
    assert_eq!(e.to_string(), "HTTP 400 Bad Request (empty body)");

    let stub = Stub::start(vec![Reply::errors(400, Format::Json, &list)]).await;
    let e = stub.client(Format::Xml, None).first_page().await.unwrap_err();
    assert!(matches!(&e, ClientError::BadRequest(got) if got == &list), "{e:?}");
}

#[tokio::test]
async fn stub_a_malformed_page_is_a_decode_error_with_its_position() {
    for (f, body) in [
        (Format::Xml, &b"<?xml version=\"1.0\"?><ActivityRecordList><ActivityRecord><Who>x</Wh"[..]),
        (Format::Json, &br#"{"ActivityRecordList": [{"Who": "x"#[..]),
    ] {
        let stub = Stub::start(vec![Reply::new(200, body)]).await;
        let e = stub.client(f, None).first_page().await.unwrap_err();
        let ClientError::Decode(decode) = &e else { panic!("{f:?}: {e:?}") };
        assert!(decode.position > 0 && decode.position <= body.len() as u64, "{f:?}: {e}");
        assert!(e.to_string().starts_with("could not decode the response body at byte "), "{e}");
        assert!(e.is_transient());
    }
}

#[tokio::test]
async fn stub_a_slow_server_times_out() {
    let mut slow = Reply::page(Format::Xml, &page(0..1, "M"));
    slow.delay = Duration::from_secs(3);
    let stub = Stub::start(vec![slow]).await;
    let client =
        Client::new(ClientConfig { timeout: Duration::from_millis(300), ..ClientConfig::new(&stub.base_url) }).unwrap();
    let started = std::time::Instant::now();
    let e = client.first_page().await.unwrap_err();
    assert!(matches!(e, ClientError::Timeout), "{e:?}");
    assert!(e.is_transient());
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_refused_connection_is_a_transient_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = Client::new(ClientConfig::new(format!("http://{addr}"))).unwrap();
    let e = client.first_page().await.unwrap_err();
    let ClientError::Transport(text) = &e else { panic!("{e:?}") };
    assert!(text.to_lowercase().contains("refused"), "{text}");
    assert!(e.is_transient());
    assert_eq!(e.status(), None);
}

/// Runs `f` with every tracing event of this thread written to a string, and returns it.
async fn capture_logs<F: std::future::Future<Output = ()>>(f: impl FnOnce() -> F) -> String {
    use tracing_subscriber::layer::SubscriberExt;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(move || writer.clone()).with_ansi(false))
        .with(tracing_subscriber::filter::LevelFilter::TRACE);
    let guard = tracing::subscriber::set_default(subscriber);
    f().await;
    drop(guard);
    let logs = buffer.0.lock().unwrap().clone();
    String::from_utf8(logs).unwrap()
}

#[tokio::test]
async fn stub_logs_never_show_the_password_or_the_authorization_header() {
    let stub = Stub::start(vec![Reply::page(Format::Xml, &page(0..1, "M")), Reply::new(401, "")]).await;
    let logs = capture_logs(|| async {
        let client = stub.client(Format::Xml, None);
        client.first_page().await.unwrap();
        client.next_page("M").await.unwrap_err();
    })
    .await;
    assert!(logs.contains("/netwrix/api/v1/activity_records/enum"), "{logs}");
    assert!(logs.contains("status=200") && logs.contains("status=401"), "{logs}");
    assert!(logs.contains("method=GET") && logs.contains("method=POST"), "{logs}");
    assert!(!logs.contains("Pa55-w0rd!"), "{logs}");
    assert!(!logs.contains("Q09SUFxzdmMtZXhwb3J0OlBhNTUtdzByZCE="), "{logs}");
    assert!(!logs.to_lowercase().contains("authorization"), "{logs}");
}

#[tokio::test]
async fn insecure_trust_warns_every_time_a_client_is_built() {
    let logs = capture_logs(|| async {
        for _ in 0..2 {
            Client::new(ClientConfig { trust: Trust::Insecure, ..ClientConfig::new("https://nx.corp.example:9699") })
                .unwrap();
        }
        Client::new(ClientConfig::new("https://nx.corp.example:9699")).unwrap();
    })
    .await;
    let warnings = logs.lines().filter(|l| l.contains("WARN") && l.contains("certificate checking is OFF")).count();
    assert_eq!(warnings, 2, "{logs}");
}

// ---------------------------------------------------------------------------------------
// Against the emulator.

const USER: &str = r"CORP\svc-export";
const PASSWORD: &str = "Pa55-w0rd!";

async fn emulator(tls: bool, records: usize) -> (Emulator, RunningEmulator) {
    let emulator = Emulator::new(EmulatorConfig {
        credentials: Some((USER.to_string(), PASSWORD.to_string())),
        tls,
        ..Default::default()
    });
    emulator.add_records((0..records).map(|n| {
        let mut r = record(n);
        r.data_source = Some(if n % 3 == 0 { "Active Directory" } else { "File Servers" }.into());
        r
    }));
    let running = emulator.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (emulator, running)
}

fn config(running: &RunningEmulator, format: Format, count: Option<usize>, trust: Trust) -> ClientConfig {
    ClientConfig {
        format,
        count,
        credentials: Some(Credentials::new(USER, PASSWORD)),
        trust,
        timeout: Duration::from_secs(10),
        ..ClientConfig::new(&running.base_url)
    }
}

/// Pages through enum until an empty page; returns the RIDs seen.
async fn read_all(client: &Client) -> Result<Vec<String>, ClientError> {
    let mut page = client.first_page().await?;
    let mut rids = Vec::new();
    for _ in 0..1000 {
        if page.records.is_empty() {
            return Ok(rids);
        }
        rids.extend(page.records.iter().filter_map(|r| r.rid.as_ref().map(String::from)));
        let mark = page.mark.clone().expect("a mark with every non-empty page");
        page = client.next_page(&mark).await?;
    }
    panic!("no end of data");
}

#[tokio::test]
async fn emulator_paging_reads_every_record_once_in_xml_and_json() {
    let (_emulator, running) = emulator(false, 25).await;
    for f in [Format::Xml, Format::Json] {
        let client = Client::new(config(&running, f, Some(10), Trust::System)).unwrap();
        let rids = read_all(&client).await.unwrap();
        let expected: Vec<String> = (0..25).filter_map(|n| record(n).rid.map(String::from)).collect();
        assert_eq!(rids, expected, "{f:?}");
    }
    // Without a count the server's default (1,000) applies: everything in one page.
    let client = Client::new(config(&running, Format::Xml, None, Trust::System)).unwrap();
    assert_eq!(client.first_page().await.unwrap().records.len(), 25);
}

#[tokio::test]
async fn emulator_search_continues_with_the_mark_inside_the_search() {
    let (_emulator, running) = emulator(false, 30).await;
    for f in [Format::Xml, Format::Json] {
        let client = Client::new(config(&running, f, Some(4), Trust::System)).unwrap();
        let mut search = SearchRequest {
            filters: vec![Filter {
                field: "DataSource".into(),
                operator: None,
                value: FilterValue::Text("Active Directory".into()),
            }],
            mark: None,
        };
        let mut found = Vec::new();
        loop {
            let page = client.search(&search).await.unwrap();
            if page.records.is_empty() {
                break;
            }
            assert!(page.records.iter().all(|r| r.data_source.as_deref() == Some("Active Directory")));
            found.extend(page.records.into_iter().filter_map(|r| r.rid));
            search.mark = page.mark;
            assert!(search.mark.is_some());
        }
        let expected: Vec<String> =
            (0..30).filter(|n| n % 3 == 0).filter_map(|n| record(n).rid.map(String::from)).collect();
        assert_eq!(found, expected, "{f:?}");
    }
}

#[tokio::test]
async fn emulator_https_trust_modes() {
    let (_emulator, running) = emulator(true, 3).await;
    assert!(running.base_url.starts_with("https://"));
    let fingerprint = running.fingerprint.clone().expect("a TLS emulator has a fingerprint");
    let first_page = |trust: Trust| {
        let config = config(&running, Format::Xml, None, trust);
        async move { Client::new(config)?.first_page().await }
    };

    // Pinned, in the spelling Windows shows: upper case with colons.
    let windows_style = fingerprint
        .as_bytes()
        .chunks(2)
        .map(|pair| String::from_utf8_lossy(pair).to_uppercase())
        .collect::<Vec<_>>()
        .join(":");
    assert_eq!(first_page(Trust::Fingerprint(windows_style)).await.unwrap().records.len(), 3);
    assert_eq!(first_page(Trust::Fingerprint(fingerprint.clone())).await.unwrap().records.len(), 3);

    let wrong = "0f".repeat(32);
    let e = first_page(Trust::Fingerprint(wrong.clone())).await.unwrap_err();
    let ClientError::Untrusted(text) = &e else { panic!("{e:?}") };
    assert!(text.contains(&format!("certificate fingerprint mismatch: expected {wrong}, got {fingerprint}")), "{text}");
    assert!(!e.is_transient(), "a refused certificate stops the job rather than retrying");

    let dir = std::env::temp_dir().join(format!("netwrix-client-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("emulator.pem");
    std::fs::write(&ca, running.cert_pem.as_deref().unwrap()).unwrap();
    assert_eq!(first_page(Trust::CaFile(ca.clone())).await.unwrap().records.len(), 3);
    std::fs::remove_dir_all(&dir).ok();

    // The self-signed certificate is in no system store. (On a machine without any CA
    // store at all the client cannot even be built; that is refused too, as Config.)
    match first_page(Trust::System).await.unwrap_err() {
        ClientError::Untrusted(text) => {
            assert!(text.contains("not trusted") && text.contains("UnknownIssuer"), "{text}")
        }
        ClientError::Config(text) => assert!(text.contains("system's CA certificates"), "{text}"),
        e => panic!("{e:?}"),
    }

    assert_eq!(first_page(Trust::Insecure).await.unwrap().records.len(), 3);
}

#[tokio::test]
async fn emulator_wrong_or_missing_credentials_are_unauthorized() {
    let (_emulator, running) = emulator(false, 1).await;
    let mut wrong = config(&running, Format::Json, None, Trust::System);
    wrong.credentials = Some(Credentials::new(USER, "not-the-password"));
    let e = Client::new(wrong).unwrap().first_page().await.unwrap_err();
    assert!(matches!(&e, ClientError::Unauthorized { scheme, .. } if scheme == "Basic"), "{e:?}");
    assert_eq!(e.to_string(), "HTTP 401 Unauthorized (Basic): check the user and password");
    assert!(!e.is_transient());

    let mut none = config(&running, Format::Json, None, Trust::System);
    none.credentials = None;
    let e = Client::new(none).unwrap().first_page().await.unwrap_err();
    assert!(matches!(&e, ClientError::Unauthorized { scheme, .. } if scheme == "none"), "{e:?}");
}

#[tokio::test]
async fn emulator_faults_map_to_typed_errors() {
    let (emulator, running) = emulator(false, 5).await;
    for f in [Format::Xml, Format::Json] {
        let client = Client::new(ClientConfig {
            timeout: Duration::from_millis(500),
            ..config(&running, f, Some(2), Trust::System)
        })
        .unwrap();
        let sql = ErrorList::one("ServerError", SQL_ERROR);
        let licence = ErrorList::one("InputError", COUNT_ERROR);
        emulator.inject(Fault::Status(503));
        emulator.inject(Fault::Status(500));
        emulator.inject(Fault::Errors(500, sql.clone()));
        emulator.inject(Fault::Errors(400, licence.clone()));
        emulator.inject(Fault::Status(404));
        emulator.inject(Fault::Status(405));
        emulator.inject(Fault::Status(413));
        emulator.inject(Fault::MalformedBody);
        emulator.inject(Fault::Delay(Duration::from_secs(2)));

        assert!(matches!(client.first_page().await, Err(ClientError::Unavailable)));
        assert!(matches!(client.first_page().await, Err(ClientError::Server(None))));
        let e = client.next_page("not-even-read").await.unwrap_err();
        assert!(matches!(&e, ClientError::Server(Some(list)) if list == &sql), "{f:?}: {e:?}");
        let e = client.first_page().await.unwrap_err();
        assert!(matches!(&e, ClientError::BadRequest(list) if list == &licence), "{f:?}: {e:?}");
        assert_eq!(e.to_string(), format!("HTTP 400 Bad Request: InputError: {COUNT_ERROR}"));
        assert!(matches!(client.first_page().await, Err(ClientError::NotFound(None))));
        assert!(matches!(client.first_page().await, Err(ClientError::MethodNotAllowed)));
        assert!(matches!(client.first_page().await, Err(ClientError::TooLarge)));
        let e = client.first_page().await.unwrap_err();
        let ClientError::Decode(decode) = &e else { panic!("{f:?}: {e:?}") };
        assert!(decode.position > 0, "{e}");
        assert!(e.is_transient());
        let e = client.first_page().await.unwrap_err();
        assert!(matches!(e, ClientError::Timeout), "{f:?}: {e:?}");
        // The faults are used up: the next request is served.
        assert_eq!(client.first_page().await.unwrap().records.len(), 2);
    }
}

#[tokio::test]
async fn emulator_real_routing_errors() {
    let emulator = Emulator::new(EmulatorConfig { write_limit_bytes: 2_000, ..Default::default() });
    let running = emulator.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    // A base URL with a path prefix the server does not have: 404 from routing.
    let client = Client::new(ClientConfig::new(format!("{}/wrong-prefix", running.base_url))).unwrap();
    assert!(matches!(client.first_page().await, Err(ClientError::NotFound(None))));

    let client = Client::new(ClientConfig::new(&running.base_url)).unwrap();
    client.write(&[record(1), record(2)]).await.unwrap();
    assert_eq!(emulator.len(), 2);
    let many: Vec<_> = (0..50).map(record).collect();
    let e = client.write(&many).await.unwrap_err();
    assert!(matches!(e, ClientError::TooLarge), "{e:?}");
    assert!(!e.is_transient());
}
