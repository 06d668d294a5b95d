//! The documentation's curl examples work against `auditbridge emulate`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn curl(args: &[&str]) -> (String, String) {
    let out = Command::new("curl")
        .args(["-sk", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl is needed by this test: apt-get install -y curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    (body.to_owned(), status.to_owned())
}

#[test]
fn documented_curl_examples_work_against_the_emulator() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut emulator = Command::new(env!("CARGO_BIN_EXE_auditbridge"))
        .args(["emulate", "--tls", "--generate", "2500", "--user", "user", "--password", "pass", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kept open: the emulator prints more lines, and a closed pipe would end it.
    let mut stdout = BufReader::new(emulator.stdout.take().unwrap());
    let mut banner = String::new();
    stdout.read_line(&mut banner).unwrap();
    assert!(banner.contains("2500 records"), "{banner}");
    let base = format!("https://127.0.0.1:{port}/netwrix/api/v1/activity_records");

    let (body, status) = curl(&["-u", "user:pass", &format!("{base}/enum?format=json")]);
    assert_eq!(status, "200");
    let page: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(page["ActivityRecordList"].as_array().unwrap().len(), 1000);
    let mark = page["ContinuationMark"].as_str().unwrap().to_owned();

    let (body, status) = curl(&[
        "-u",
        "user:pass",
        "-H",
        "Content-Type: application/json; Charset=UTF-8",
        "--data-binary",
        &format!("\"{mark}\""),
        &format!("{base}/enum?count=1500&format=json"),
    ]);
    assert_eq!(status, "200");
    let page: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(page["ActivityRecordList"].as_array().unwrap().len(), 1500);

    let (body, status) = curl(&["-u", "user:pass", &format!("{base}/enum")]);
    assert_eq!(status, "200");
    assert!(body.starts_with("<?xml version=\"1.0\" standalone=\"yes\"?><ActivityRecordList"), "{}", &body[..80]);

    let (body, status) = curl(&["-u", "user:pass", &format!("{base}/enum?count=FIVE")]);
    assert_eq!(status, "400");
    assert!(body.contains("<Category>InputError</Category>"), "{body}");

    let (body, status) = curl(&["-u", "user:wrong", &format!("{base}/enum")]);
    assert_eq!((body.as_str(), status.as_str()), ("", "401"));

    emulator.kill().unwrap();
    emulator.wait().unwrap();
}
