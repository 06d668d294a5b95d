//! The client's authentication against independent real servers, started here on free
//! loopback ports with private configs in temp dirs:
//!
//! - Apache httpd 2.4 with mod_auth_digest (Digest, MD5) and mod_auth_basic
//!   (install: `scripts/peers/apache.sh`);
//! - an NTLM / Negotiate acceptor on pyspnego (`tests/fixtures/ntlm_server.py`;
//!   install: `scripts/peers/python.sh`);
//!
//! and against the emulator with every scheme it accepts (Digest SHA-256 included, which
//! Apache does not implement). Each with the right password and with a wrong one: a wrong
//! password is a 401 naming the scheme, after exactly the legs the scheme needs.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use netwrix::client::{AuthScheme, Client, ClientConfig, ClientError, Credentials};
use netwrix::emulator::{Emulator, EmulatorConfig, ServerScheme};
use netwrix::{ActivityRecord, Format, Page};

const USER: &str = "alice";
const DOMAIN_USER: &str = r"CORP\alice";
const PASSWORD: &str = "Secr3t!";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A page of two records, as both servers serve it.
fn page_bytes() -> Vec<u8> {
    let record = |n: usize| ActivityRecord {
        rid: Some(format!("20240301100000000{n:032x}").into()),
        who: r"CORP\jdoe".into(),
        action: "Modified".into(),
        what: format!("object {n}").into(),
        when: "2024-03-01T10:00:00Z".into(),
        where_: "dc01".into(),
        object_type: "user".into(),
        ..Default::default()
    };
    let mut out = Vec::new();
    Format::Xml.encode_page(&Page { records: vec![record(1), record(2)], mark: Some("TUFSSw==".into()) }, &mut out);
    out
}

fn client(base: &str, auth: AuthScheme, user: &str, password: &str) -> Client {
    Client::new(ClientConfig {
        credentials: Some(Credentials::new(user, password)),
        auth,
        timeout: Duration::from_secs(10),
        ..ClientConfig::new(base)
    })
    .unwrap()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for_port(port: u16) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(10), "the peer did not listen on port {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child process killed when dropped.
struct Peer {
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Peer {
    /// SIGTERM first: Apache then stops its workers (they run as nobody, so a SIGKILL of
    /// the parent alone would leave them running); SIGKILL if it has not ended in 5 s.
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Peer {
    /// The log lines that record a request (`request …` for the acceptor; the access log for Apache).
    fn requests(&self) -> Vec<String> {
        std::thread::sleep(Duration::from_millis(100));
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("request "))
            .map(str::to_string)
            .collect()
    }
}

// ---------------------------------------------------------------------------------------
// Apache: Digest (MD5) under /digest, Basic under /basic.

fn apache() -> (Peer, String) {
    let binary = Path::new("/usr/sbin/apache2");
    assert!(
        binary.exists() && Path::new("/usr/lib/apache2/modules/mod_auth_digest.so").exists(),
        "Apache httpd is not installed: run scripts/peers/apache.sh (apt-get install apache2 apache2-utils)"
    );
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let api = root.join("htdocs/netwrix/api/v1/activity_records");
    std::fs::create_dir_all(&api).unwrap();
    std::fs::create_dir_all(root.join("logs")).unwrap();
    std::fs::write(api.join("enum"), page_bytes()).unwrap();
    // htdigest's format: user:realm:MD5(user:realm:password).
    let ha1 = {
        use md5::{Digest, Md5};
        hex::encode(Md5::digest(format!("{USER}:Netwrix API:{PASSWORD}")))
    };
    std::fs::write(root.join("digest.htdigest"), format!("{USER}:Netwrix API:{ha1}\n")).unwrap();
    let status = Command::new("htpasswd")
        .args(["-c", "-b", "-B"])
        .arg(root.join("basic.htpasswd"))
        .args([USER, PASSWORD])
        .stderr(Stdio::null())
        .status()
        .expect("htpasswd (apache2-utils): run scripts/peers/apache.sh");
    assert!(status.success());
    // Worker processes run as nobody: the tree must be readable to them.
    for entry in walk(root) {
        use std::os::unix::fs::PermissionsExt;
        let mode = if entry.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let port = free_port();
    let r = root.display();
    let config = format!(
        r#"# Private Apache instance for the client's auth tests: reads nothing from /etc/apache2.
ServerRoot "{r}"
PidFile "{r}/httpd.pid"
Listen 127.0.0.1:{port}
ServerName 127.0.0.1
User nobody
Group nogroup
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authn_core_module /usr/lib/apache2/modules/mod_authn_core.so
LoadModule authn_file_module /usr/lib/apache2/modules/mod_authn_file.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule authz_user_module /usr/lib/apache2/modules/mod_authz_user.so
LoadModule auth_basic_module /usr/lib/apache2/modules/mod_auth_basic.so
LoadModule auth_digest_module /usr/lib/apache2/modules/mod_auth_digest.so
LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so
ErrorLog "{r}/logs/error.log"
LogFormat "request %r %>s" plain
CustomLog "{r}/logs/access.log" plain
LogLevel warn auth_digest:info
DocumentRoot "{r}/htdocs"
Alias /digest "{r}/htdocs"
Alias /basic "{r}/htdocs"
<Location "/digest">
    AuthType Digest
    AuthName "Netwrix API"
    AuthDigestProvider file
    AuthUserFile "{r}/digest.htdigest"
    AuthDigestAlgorithm MD5
    Require valid-user
</Location>
<Location "/basic">
    AuthType Basic
    AuthName "Netwrix API"
    AuthBasicProvider file
    AuthUserFile "{r}/basic.htpasswd"
    Require valid-user
</Location>
"#
    );
    let conf = root.join("httpd.conf");
    std::fs::write(&conf, config).unwrap();
    let child = Command::new(binary)
        .arg("-f")
        .arg(&conf)
        .args(["-D", "FOREGROUND"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start apache2");
    wait_for_port(port);
    let log = root.join("logs/access.log");
    (Peer { child, log, _dir: dir }, format!("http://127.0.0.1:{port}"))
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn apache_digest_md5_and_basic_with_right_and_wrong_passwords() {
    let (apache, base) = apache();
    // Digest: the first request is challenged, later ones answer with the cached nonce.
    let digest = client(&format!("{base}/digest"), AuthScheme::Digest, USER, PASSWORD);
    for _ in 0..3 {
        assert_eq!(digest.first_page().await.unwrap().records.len(), 2);
    }
    let seen = apache.requests();
    assert_eq!(seen.len(), 4, "one challenge, then one request each: {seen:?}");
    assert!(seen[0].ends_with(" 401") && seen[1..].iter().all(|l| l.ends_with(" 200")), "{seen:?}");

    let wrong = client(&format!("{base}/digest"), AuthScheme::Digest, USER, "wrong");
    let error = wrong.first_page().await.unwrap_err();
    assert!(matches!(&error, ClientError::Unauthorized { scheme, .. } if scheme == "Digest"), "{error}");
    assert_eq!(error.to_string(), "HTTP 401 Unauthorized (Digest): check the user and password");
    assert_eq!(apache.requests().len(), 6, "a wrong password costs two requests, no more");

    // Basic.
    let basic = client(&format!("{base}/basic"), AuthScheme::Basic, USER, PASSWORD);
    assert_eq!(basic.first_page().await.unwrap().records.len(), 2);
    let error = client(&format!("{base}/basic"), AuthScheme::Basic, USER, "wrong").first_page().await.unwrap_err();
    assert!(matches!(&error, ClientError::Unauthorized { scheme, .. } if scheme == "Basic"), "{error}");
    assert_eq!(apache.requests().len(), 8);

    // Auto picks what each location offers.
    for location in ["digest", "basic"] {
        let auto = client(&format!("{base}/{location}"), AuthScheme::Auto, USER, PASSWORD);
        assert_eq!(auto.first_page().await.unwrap().records.len(), 2, "{location}");
        assert_eq!(auto.first_page().await.unwrap().records.len(), 2, "{location}");
        let error =
            client(&format!("{base}/{location}"), AuthScheme::Auto, USER, "nope").first_page().await.unwrap_err();
        assert!(matches!(error, ClientError::Unauthorized { .. }), "{error}");
        let expected = if location == "digest" { "(Digest)" } else { "(Basic)" };
        assert!(error.to_string().contains(expected), "{error}");
    }
}

// ---------------------------------------------------------------------------------------
// pyspnego: NTLM and Negotiate.

fn acceptor() -> (Peer, String) {
    let python = workspace().join(".peers/venv/bin/python");
    let installed =
        python.exists() && Command::new(&python).args(["-c", "import spnego"]).status().is_ok_and(|s| s.success());
    assert!(installed, "pyspnego is not installed in .peers/venv: run scripts/peers/python.sh");
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("ntlm_users.txt");
    std::fs::write(&users, format!("CORP:{USER}:{PASSWORD}\n")).unwrap();
    let page = dir.path().join("page.xml");
    std::fs::write(&page, page_bytes()).unwrap();
    let log = dir.path().join("acceptor.log");
    let mut child = Command::new(&python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ntlm_server.py"))
        .arg(&page)
        .env("NTLM_USER_FILE", &users)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start the NTLM acceptor");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port: u16 = line.trim().parse().unwrap_or_else(|_| panic!("the acceptor printed {line:?}"));
    (Peer { child, log, _dir: dir }, format!("http://127.0.0.1:{port}"))
}

#[tokio::test]
async fn pyspnego_ntlm_and_negotiate_with_right_and_wrong_passwords() {
    let (acceptor, base) = acceptor();
    let mut expected_requests = 0;
    for scheme in [AuthScheme::Ntlm, AuthScheme::Negotiate] {
        let name = scheme.name();
        let good = client(&base, scheme, DOMAIN_USER, PASSWORD);
        // Three pages: each is a NEGOTIATE/CHALLENGE/AUTHENTICATE handshake whose legs must
        // share one connection (the acceptor keeps its state per connection), GET and POST.
        assert_eq!(good.first_page().await.unwrap().records.len(), 2, "{name}");
        assert_eq!(good.next_page("TUFSSw==").await.unwrap().records.len(), 2, "{name}");
        assert_eq!(good.first_page().await.unwrap().records.len(), 2, "{name}");
        expected_requests += 6;
        let seen = acceptor.requests();
        assert_eq!(seen.len(), expected_requests, "{name}: {seen:?}");
        let last = &seen[seen.len() - 2..];
        assert!(
            last[0].ends_with(&format!("{name} -> 401")) && last[1].ends_with(&format!("{name} -> 200")),
            "{seen:?}"
        );

        let wrong = client(&base, scheme, DOMAIN_USER, "wrong");
        let error = wrong.first_page().await.unwrap_err();
        assert!(matches!(&error, ClientError::Unauthorized { scheme, .. } if scheme == name), "{name}: {error}");
        assert_eq!(error.to_string(), format!("HTTP 401 Unauthorized ({name}): check the user and password"));
        expected_requests += 2;
        assert_eq!(acceptor.requests().len(), expected_requests, "{name}: a wrong password costs two requests");
    }
    // Auto: the acceptor offers Negotiate first.
    let auto = client(&base, AuthScheme::Auto, DOMAIN_USER, PASSWORD);
    assert_eq!(auto.first_page().await.unwrap().records.len(), 2);
    assert_eq!(auto.first_page().await.unwrap().records.len(), 2);
    let seen = acceptor.requests();
    assert!(seen.last().unwrap().contains("Negotiate -> 200"), "{seen:?}");
    let log = std::fs::read_to_string(&acceptor.log).unwrap();
    assert!(!log.contains("Traceback"), "{log}");
}

// ---------------------------------------------------------------------------------------
// The emulator: every scheme, and Auto against a server that offers all of them.

async fn emulator(schemes: Vec<ServerScheme>) -> (Emulator, netwrix::emulator::RunningEmulator) {
    let emulator = Emulator::new(EmulatorConfig {
        credentials: Some((DOMAIN_USER.into(), PASSWORD.into())),
        schemes,
        ..Default::default()
    });
    emulator.add_records(netwrix::generate::generate(95, 3));
    let running = emulator.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (emulator, running)
}

async fn read_all(client: &Client) -> Result<usize, ClientError> {
    let mut page = client.first_page().await?;
    let mut n = 0;
    while !page.records.is_empty() {
        n += page.records.len();
        page = client.next_page(page.mark.as_deref().unwrap()).await?;
    }
    Ok(n)
}

#[tokio::test]
async fn emulator_accepts_every_scheme_and_refuses_wrong_passwords() {
    let cases = [
        (ServerScheme::Basic, AuthScheme::Basic),
        (ServerScheme::Digest, AuthScheme::Digest),
        (ServerScheme::Ntlm, AuthScheme::Ntlm),
        (ServerScheme::Negotiate, AuthScheme::Negotiate),
    ];
    for (server, scheme) in cases {
        let (emu, running) = emulator(vec![server]).await;
        let count = |n| ClientConfig { count: Some(n), ..ClientConfig::new(&running.base_url) };
        let good = Client::new(ClientConfig {
            credentials: Some(Credentials::new(DOMAIN_USER, PASSWORD)),
            auth: scheme,
            ..count(10)
        })
        .unwrap();
        assert_eq!(read_all(&good).await.unwrap(), 95, "{scheme}");
        assert_eq!(emu.requests(), 11, "{scheme}: every page authenticated once");
        let wrong = Client::new(ClientConfig {
            credentials: Some(Credentials::new(DOMAIN_USER, "wrong")),
            auth: scheme,
            ..count(10)
        })
        .unwrap();
        let error = wrong.first_page().await.unwrap_err();
        assert!(
            matches!(&error, ClientError::Unauthorized { scheme: s, .. } if s == scheme.name()),
            "{scheme}: {error}"
        );
        // A scheme the server does not offer is refused as well.
        let other = if server == ServerScheme::Basic { AuthScheme::Ntlm } else { AuthScheme::Basic };
        let error = Client::new(ClientConfig {
            credentials: Some(Credentials::new(DOMAIN_USER, PASSWORD)),
            auth: other,
            ..count(10)
        })
        .unwrap()
        .first_page()
        .await
        .unwrap_err();
        assert!(matches!(error, ClientError::Unauthorized { .. }), "{scheme}: {error}");
        // The user name matches case-insensitively, as Windows accounts do.
        let upper = Client::new(ClientConfig {
            credentials: Some(Credentials::new(DOMAIN_USER.to_uppercase(), PASSWORD)),
            auth: scheme,
            ..count(10)
        })
        .unwrap();
        assert_eq!(upper.first_page().await.unwrap().records.len(), 10, "{scheme}");
    }
}

#[tokio::test]
async fn auto_takes_the_strongest_offered_scheme_and_searches_work() {
    let (_emu, running) = emulator(ServerScheme::ALL.to_vec()).await;
    let auto = Client::new(ClientConfig {
        credentials: Some(Credentials::new(DOMAIN_USER, PASSWORD)),
        auth: AuthScheme::Auto,
        count: Some(20),
        format: Format::Json,
        ..ClientConfig::new(&running.base_url)
    })
    .unwrap();
    assert_eq!(read_all(&auto).await.unwrap(), 95);
    assert!(format!("{auto:?}").contains("Negotiate"), "{auto:?}");
    let search = netwrix::SearchRequest {
        filters: vec![netwrix::Filter {
            field: "Who".into(),
            operator: None,
            value: netwrix::FilterValue::Text("corp".into()),
        }],
        mark: None,
    };
    assert!(!auto.search(&search).await.unwrap().records.is_empty());
    // Without credentials: a 401 that says so.
    let anonymous = Client::new(ClientConfig::new(&running.base_url)).unwrap();
    let error = anonymous.first_page().await.unwrap_err();
    assert!(error.to_string().contains("no credentials are configured"), "{error}");
}
