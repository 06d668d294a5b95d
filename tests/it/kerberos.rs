//! Kerberos end to end, against a real MIT KDC in a temporary realm and Apache with
//! mod_auth_gssapi (Negotiate offering Kerberos only: NTLM is off at that server) in front of
//! the emulator (`kerberos_peer`; install: `scripts/peers/kerberos.sh`).
//! Logins with a password and with a keytab. Each case runs the
//! `auditbridge` binary as a user would (`run --once`, `validate --check`) and reads what it
//! printed and exported.

use crate::kerberos_peer;

use crate::harness::*;
use kerberos_peer::{Apache, Realm, PASSWORD as KPASSWORD, REALM, USER as KUSER};
use netwrix::emulator::{Emulator, EmulatorConfig, ServerScheme};
use std::path::Path;
use std::process::{Command, Output};

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
    Command::new(env!("CARGO_BIN_EXE_auditbridge"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .output()
        .expect("run auditbridge")
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
        let out = auditbridge(&["run", "--once"], &config);
        assert!(out.status.success(), "{auth}: {}", text(&out));
        assert_eq!(ids_in(&dir.path().join("out/records.jsonl")), expected_ids(RECORDS), "{auth}");
        assert!(!text(&out).contains("falls back to NTLM"), "{auth}: {}", text(&out));

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
