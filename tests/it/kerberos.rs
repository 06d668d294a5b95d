//! Kerberos end to end, against a real MIT KDC in a temporary realm and Apache with
//! mod_auth_gssapi (Negotiate offering Kerberos only: NTLM is off at that server) in front of
//! the emulator (`kerberos_peer`; install: `scripts/peers/kerberos.sh`).
//! Logins with a password and with a keytab; one ticket for a whole export, renewed when it
//! nears its end; Negotiate's fallback to NTLM. Each case runs the
//! `auditbridge` binary as a user would (`run --once`, `validate --check`) and reads what it
//! printed and exported (the KDC requests it counted are in its debug log).

use crate::kerberos_peer;

use crate::harness::*;
use kerberos_peer::{Apache, Realm, PASSWORD as KPASSWORD, REALM, USER as KUSER};
use netwrix::emulator::{Emulator, EmulatorConfig, Fault, ServerScheme};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

const RECORDS: usize = 10_000;

/// A job `corp` at `url` with `auth` and the given `[job.kerberos]` lines, user and password.
fn config(dir: &Path, url: &str, auth: &str, user: &str, password: &str, kerberos: &str) -> std::path::PathBuf {
    let text = config_text(dir, url, "", &file_sink(dir))
        .replace("user = 'CORP\\svc-export'", &format!("user = '{user}'"))
        .replace(&format!("password = \"{PASSWORD}\""), &format!("password = \"{password}\""))
        .replace("timeout = \"10s\"\n", &format!("timeout = \"10s\"\nauth = \"{auth}\"\n[job.kerberos]\n{kerberos}\n"));
    write_config(dir, &text)
}

fn auditbridge(args: &[&str], config: &Path) -> Output {
    auditbridge_logging(args, config, "info")
}

/// With the Kerberos module's debug lines: one `KDC request` line per AS-REQ and TGS-REQ sent.
fn auditbridge_counting(args: &[&str], config: &Path) -> Output {
    auditbridge_logging(args, config, "info,netwrix::client::kerberos=debug")
}

fn auditbridge_logging(args: &[&str], config: &Path, log: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_auditbridge"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", log)
        .env("NO_COLOR", "1")
        .output()
        .expect("run auditbridge")
}

/// How many `kind` requests (`AS-REQ`, `TGS-REQ`) the binary sent to the KDC.
fn kdc_requests(said: &str, kind: &str) -> usize {
    said.lines().filter(|l| l.contains("KDC request") && l.contains(kind)).count()
}

/// How many service tickets the binary got and kept.
fn tickets(said: &str) -> usize {
    said.matches("Kerberos: new service ticket").count()
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// An emulator without auth of its own (Apache in front authenticates) holding 10,000 records.
async fn backend() -> (Emulator, netwrix::emulator::RunningEmulator) {
    let emulator = Emulator::new(EmulatorConfig::default());
    emulator.add_records(netwrix::generate::generate(RECORDS, 7));
    let running = emulator.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (emulator, running)
}

#[tokio::test(flavor = "multi_thread")]
async fn kerberos_and_negotiate_export_everything_from_a_kerberos_only_server() {
    let mut realm = Realm::create();
    let kdc = realm.start_kdc(None);
    let (_emulator, running) = backend().await;
    let apache = Apache::start(&realm, &running.base_url);
    // The SPN is HTTP/<host of the URL>: the server is reached as localhost.
    let url = format!("http://localhost:{}", apache.port);
    let principal = format!("{KUSER}@{REALM}");
    let kdc_line = format!("kdc = \"127.0.0.1:{kdc}\"");

    let keytab_lines = format!("{kdc_line}\nkeytab = \"{}\"", realm.user_keytab().display());
    // The last one logs in with a keytab and no password.
    for (auth, password, kerberos) in [
        ("kerberos", KPASSWORD, &kdc_line),
        ("negotiate", KPASSWORD, &kdc_line),
        ("auto", KPASSWORD, &kdc_line),
        ("kerberos", "", &keytab_lines),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path(), &url, auth, &principal, password, kerberos);
        let out = auditbridge_counting(&["run", "--once"], &config);
        let said = text(&out);
        assert!(out.status.success(), "{auth}: {said}");
        assert_eq!(ids_in(&dir.path().join("out/records.jsonl")), expected_ids(RECORDS), "{auth}");
        assert!(!said.contains("falls back to NTLM"), "{auth}: {said}");
        // Ten pages, one ticket: one AS exchange (the pre-authentication round trip and the
        // ticket) and one TGS exchange, however many pages follow.
        assert_eq!(tickets(&said), 1, "{auth}: {said}");
        assert!((1..=2).contains(&kdc_requests(&said, "AS-REQ")), "{auth}: {said}");
        assert_eq!(kdc_requests(&said, "TGS-REQ"), 1, "{auth}: {said}");

        let out = auditbridge(&["validate", "--check"], &config);
        let said = text(&out);
        assert!(out.status.success(), "{auth}: {said}");
        assert!(said.contains("server offers: Negotiate;"), "{auth}: {said}");
        let used = if auth == "kerberos" { "used: Kerberos)" } else { "used: Negotiate (Kerberos))" };
        assert!(said.contains(used), "{auth}: {said}");
    }
    // Apache saw the user Kerberos authenticated.
    let requests = apache.requests();
    assert!(requests.iter().any(|l| l.ends_with(&format!(" 200 {principal}"))), "{requests:?}");
}

/// A `kerberos` export whose pages come slowly: the realm's KDC, Apache in front of an
/// emulator whose next 12 pages each take `page_delay`, and the job's config. Fields
/// drop in order: the config's directory, Apache, the emulator, then the realm.
struct SlowExport {
    config: std::path::PathBuf,
    dir: tempfile::TempDir,
    apache: Apache,
    _backend: (Emulator, netwrix::emulator::RunningEmulator),
    realm: Realm,
}

async fn slow_export(mut realm: Realm, page_delay: Duration) -> SlowExport {
    let kdc = realm.start_kdc(None);
    let (emulator, running) = backend().await;
    for _ in 0..12 {
        emulator.inject(Fault::Delay(page_delay));
    }
    let apache = Apache::start(&realm, &running.base_url);
    let url = format!("http://localhost:{}", apache.port);
    let dir = tempfile::tempdir().unwrap();
    let kdc_line = format!("kdc = \"127.0.0.1:{kdc}\"");
    let config = config(dir.path(), &url, "kerberos", &format!("{KUSER}@{REALM}"), KPASSWORD, &kdc_line);
    SlowExport { config, dir, apache, _backend: (emulator, running), realm }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_short_lived_ticket_is_renewed_without_failing_a_page() {
    let realm = Realm::create();
    // Service tickets for the server live 10 seconds: each is reused for 5 (half its life),
    // then replaced.
    realm.kadmin("modprinc -maxlife \"10 seconds\" HTTP/localhost");
    // A page a second: the export outlives two tickets.
    let export = slow_export(realm, Duration::from_secs(1)).await;
    let out = auditbridge_counting(&["run", "--once"], &export.config);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert_eq!(ids_in(&export.dir.path().join("out/records.jsonl")), expected_ids(RECORDS));
    let tickets = tickets(&said);
    assert!(tickets >= 2, "the ticket was never renewed: {said}");
    // Every renewal is a login of its own (sspi keeps no TGT), and nothing else asks the KDC.
    assert_eq!(kdc_requests(&said, "TGS-REQ"), tickets, "{said}");
    assert!(!said.contains("refused"), "a page was refused on the way: {said}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kept_ticket_the_server_refuses_is_replaced_by_a_new_login() {
    let export = slow_export(Realm::create(), Duration::from_millis(500)).await;
    let child = Command::new(env!("CARGO_BIN_EXE_auditbridge"))
        .args(["run", "--once", "--config"])
        .arg(&export.config)
        .env("RUST_LOG", "info,netwrix::client::kerberos=debug")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start auditbridge");
    // Once two pages went through on the first ticket, the server's key changes (a new key
    // version in a keytab that no longer holds the old one).
    let took = format!(" 200 {KUSER}@{REALM}");
    wait_until_blocking("two pages went through on the first ticket", Duration::from_secs(30), || {
        export.apache.requests().iter().filter(|l| l.ends_with(&took)).count() >= 2
    });
    let rekeyed = export.realm.dir.path().join("rekeyed.keytab");
    export.realm.kadmin(&format!("ktadd -k {} HTTP/localhost", rekeyed.display()));
    // Written in place: the file keeps the mode that lets Apache's workers read it.
    std::fs::write(export.apache.dir.path().join("http.keytab"), std::fs::read(&rekeyed).unwrap()).unwrap();

    let out = child.wait_with_output().unwrap();
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert_eq!(ids_in(&export.dir.path().join("out/records.jsonl")), expected_ids(RECORDS));
    assert!(said.contains("the server refused the kept service ticket; logging in again"), "{said}");
    assert_eq!(tickets(&said), 2, "{said}");
}

#[tokio::test(flavor = "multi_thread")]
async fn kerberos_failures_are_named_in_plain_words() {
    let mut realm = Realm::create();
    let kdc = realm.start_kdc(None);
    let skewed_kdc = realm.start_kdc(Some("-10m"));
    let (_emulator, running) = backend().await;
    let apache = Apache::start(&realm, &running.base_url);
    let url = format!("http://localhost:{}", apache.port);
    let principal = format!("{KUSER}@{REALM}");
    let closed = kerberos_peer::free_port();

    let cases = [
        ("wrong password", "wrong-password", format!("kdc = \"127.0.0.1:{kdc}\""), "wrong password"),
        (
            "wrong SPN",
            KPASSWORD,
            format!("kdc = \"127.0.0.1:{kdc}\"\nspn = \"HTTP/nx.elsewhere.test\""),
            "wrong SPN: the KDC knows no service principal HTTP/nx.elsewhere.test",
        ),
        ("clock skew", KPASSWORD, format!("kdc = \"127.0.0.1:{skewed_kdc}\""), "clock skew too great"),
        ("unknown principal", KPASSWORD, format!("kdc = \"127.0.0.1:{kdc}\""), "unknown principal bob@"),
        ("no KDC", KPASSWORD, format!("kdc = \"127.0.0.1:{closed}\""), "no KDC reachable for realm AUDITBRIDGE.TEST"),
    ];
    for (case, password, kerberos, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let user = if case == "unknown principal" { format!("bob@{REALM}") } else { principal.clone() };
        let config = config(dir.path(), &url, "kerberos", &user, password, &(kerberos + "\n"));
        let text = config.display().to_string();
        let mut toml = std::fs::read_to_string(&config).unwrap();
        if case == "no KDC" {
            // A KDC that never answers is retried as transient: give up at once.
            toml = toml.replace("max_delay = \"200ms\"", "max_delay = \"200ms\"\ngive_up_after = \"1s\"");
            std::fs::write(&config, toml).unwrap();
        }
        let out = auditbridge(&["validate", "--check"], &config);
        let said = self::text(&out);
        assert!(!out.status.success(), "{case}: {said}");
        assert!(said.contains("check job corp: FAILED: Kerberos: ") && said.contains(expected), "{case}: {said}");
        let out = auditbridge(&["run", "--once"], &config);
        let said = self::text(&out);
        assert!(!out.status.success() && said.contains(expected), "{case} ({text}): {said}");
        assert!(ids_in(&dir.path().join("out/records.jsonl")).is_empty(), "{case}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn negotiate_falls_back_to_ntlm_when_no_kdc_answers_and_says_so() {
    // The emulator offers Negotiate carrying NTLM only (no Kerberos at that server), and the
    // job's KDC does not answer.
    let emulator = Emulator::new(EmulatorConfig {
        credentials: Some((USER.into(), PASSWORD.into())),
        schemes: vec![ServerScheme::Negotiate],
        ..EmulatorConfig::default()
    });
    emulator.add_records(netwrix::generate::generate(RECORDS, 7));
    let running = emulator.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let closed = kerberos_peer::free_port();
    let kerberos = format!("realm = \"{REALM}\"\nkdc = \"127.0.0.1:{closed}\"");
    let config = config(dir.path(), &running.base_url, "negotiate", USER, PASSWORD, &kerberos);
    let out = auditbridge(&["run", "--once"], &config);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert_eq!(ids_in(&dir.path().join("out/records.jsonl")), expected_ids(RECORDS));
    assert!(said.contains("Kerberos is unavailable") && said.contains("Negotiate falls back to NTLM"), "{said}");
    assert!(said.contains("no KDC reachable for realm AUDITBRIDGE.TEST"), "{said}");

    let out = auditbridge(&["validate", "--check"], &config);
    let said = text(&out);
    assert!(said.contains("server offers: Negotiate; used: Negotiate (NTLM)"), "{said}");
}

#[tokio::test(flavor = "multi_thread")]
async fn negotiate_falls_back_to_ntlm_when_the_server_takes_no_ticket() {
    // The server offers Negotiate (carrying NTLM only) and NTLM, as HTTP.sys does with both
    // enabled; the KDC knows the user, and HTTP/localhost but not HTTP/127.0.0.1.
    let mut realm = Realm::create();
    realm.kadmin(&format!("addprinc +requires_preauth -pw {PASSWORD} svc-export"));
    let kdc = realm.start_kdc(None);
    let emulator = Emulator::new(EmulatorConfig {
        credentials: Some((USER.into(), PASSWORD.into())),
        schemes: vec![ServerScheme::Negotiate, ServerScheme::Ntlm],
        ..EmulatorConfig::default()
    });
    emulator.add_records(netwrix::generate::generate(RECORDS, 7));
    let running = emulator.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let port = running.addr.port();
    let cases = [
        // Reached by its address: no SPN for it at the KDC.
        (format!("http://127.0.0.1:{port}"), "wrong SPN: the KDC knows no service principal HTTP/127.0.0.1"),
        // A ticket the server cannot read (it has no Kerberos): refused.
        (format!("http://localhost:{port}"), "the server refused the Kerberos ticket for HTTP/localhost"),
    ];
    for (url, reason) in cases {
        let dir = tempfile::tempdir().unwrap();
        let kerberos = format!("realm = \"{REALM}\"\nkdc = \"127.0.0.1:{kdc}\"");
        let config = config(dir.path(), &url, "negotiate", USER, PASSWORD, &kerberos);
        let out = auditbridge(&["run", "--once"], &config);
        let said = text(&out);
        assert!(out.status.success(), "{url}: {said}");
        assert_eq!(ids_in(&dir.path().join("out/records.jsonl")), expected_ids(RECORDS), "{url}");
        assert!(said.contains("the server takes no ticket") && said.contains("Negotiate falls back to NTLM"), "{said}");
        assert!(said.contains(reason), "{url}: {said}");

        let out = auditbridge(&["validate", "--check"], &config);
        let said = text(&out);
        assert!(said.contains("used: Negotiate (NTLM)"), "{url}: {said}");
    }
}
