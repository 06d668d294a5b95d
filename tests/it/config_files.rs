//! The config files shipped in `config/` load, and `validate` rejects bad ones
//! with the line and column.

use std::process::Command;

fn validate(path: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_auditbridge"))
        .args(["validate", "--config"])
        .arg(path)
        .env("NETWRIX_PASSWORD", "not-printed-anywhere")
        .env("SPLUNK_HEC_TOKEN", "not-printed-anywhere")
        .env("KAFKA_PASSWORD", "not-printed-anywhere")
        .env("SENTINEL_CLIENT_SECRET", "not-printed-anywhere")
        .env("ARCHIVE_SIGNING_KEY", "0707070707070707070707070707070707070707070707070707070707070707")
        .output()
        .unwrap()
}

#[test]
fn shipped_configs_validate_and_secrets_stay_hidden() {
    for file in [
        "config/auditbridge.example.toml",
        "config/demo.toml",
        "config/arcsight.toml",
        "config/qradar.toml",
        "config/cef-siem.toml",
        "config/sentinel.toml",
        "config/splunk.toml",
        "config/kafka.toml",
        "config/archive.toml",
    ] {
        let out = validate(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file).as_path());
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{file}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(!stdout.contains("not-printed-anywhere") && !stdout.contains("demo-password"), "{stdout}");
        assert!(!stdout.contains("070707"), "the archive's signing key is never printed: {stdout}");
    }
}

#[test]
fn validate_names_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let base = "[[job]]\nname = \"corp\"\nurl = \"https://nx.example:9699\"\n\n[[sink]]\nname = \"f\"\ntype = \"file\"\npath = \"out.jsonl\"\n";
    let cases = [
        (
            base.replace("name = \"f\"", "name = \"f\"\ncolour = \"red\""),
            "auditbridge.toml:7:1",
            "unknown field `colour`",
        ),
        (base.replace("url = \"https://nx.example:9699\"\n", ""), "auditbridge.toml:1:1", "missing field `url`"),
        (base.replace("9699", "70000"), "auditbridge.toml:3:7", "invalid port"),
    ];
    for (text, place, message) in cases {
        let path = dir.path().join("auditbridge.toml");
        std::fs::write(&path, &text).unwrap();
        let out = validate(&path);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(stderr.contains(place) && stderr.contains(message), "expected {place} and {message:?} in {stderr}");
    }
}
