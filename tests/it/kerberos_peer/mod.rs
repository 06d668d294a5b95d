//! The Kerberos test peers (recipe: ../shared/spec/test-peers.md §8; install:
//! `scripts/peers/kerberos.sh`): an MIT KDC serving a temporary realm on a free loopback
//! port, and Apache httpd with mod_auth_gssapi in front of a backend (the emulator), both
//! from private configs in a temp dir, stopped when dropped. Nothing under /etc is read.

#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const REALM: &str = "AUDITBRIDGE.TEST";
pub const USER: &str = "alice";
pub const PASSWORD: &str = "Kerb3ros!pw";
/// libfaketime, from Debian's `faketime` package.
const FAKETIME_LIB: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

const INSTALL: &str = "run scripts/peers/kerberos.sh (apt-get install krb5-kdc krb5-admin-server krb5-user \
                       apache2 libapache2-mod-auth-gssapi faketime)";

fn require(path: &str) {
    assert!(Path::new(path).exists(), "{path} is missing: the Kerberos test peers are not installed; {INSTALL}");
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn wait_for_port(port: u16, what: &str, log: &Path) {
    let listening = || TcpStream::connect(("127.0.0.1", port)).is_ok();
    let limit = Duration::from_secs(15);
    if !crate::harness::wait_until_ok(limit, listening) {
        panic!("{what} did not listen on port {port}: {}", std::fs::read_to_string(log).unwrap_or_default());
    }
}

/// A child process stopped when dropped: SIGTERM (Apache then stops its workers), SIGKILL
/// after 5 s.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        if crate::harness::wait_until_ok(Duration::from_secs(5), || matches!(self.0.try_wait(), Ok(Some(_)))) {
            return;
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A realm in a temp dir: database, `user` and `HTTP/localhost` with its keytab.
pub struct Realm {
    pub dir: tempfile::TempDir,
    kdcs: Vec<Process>,
}

impl Realm {
    pub fn create() -> Realm {
        for path in ["/usr/sbin/krb5kdc", "/usr/sbin/kadmin.local", "/usr/sbin/kdb5_util", FAKETIME_LIB] {
            require(path);
        }
        let dir = tempfile::tempdir().unwrap();
        let k = dir.path();
        std::fs::write(k.join("kadm5.acl"), "").unwrap();
        let realm = Realm { dir, kdcs: Vec::new() };
        // The database's KDC port is set per KDC started; this profile is for kdb5_util/kadmin.local.
        realm.write_profiles(free_port());
        realm.admin(&["kdb5_util", "create", "-s", "-r", REALM, "-P", "master-key-of-the-test-realm"]);
        // Pre-authentication required, as Active Directory does (sspi refuses a KDC that skips it).
        realm.kadmin(&format!("addprinc +requires_preauth -pw {PASSWORD} {USER}"));
        realm.kadmin("addprinc -randkey HTTP/localhost");
        realm.kadmin(&format!("ktadd -k {} HTTP/localhost", realm.keytab().display()));
        // The user's own key, for a login without a password (-norandkey keeps the password's key).
        realm.kadmin(&format!("ktadd -k {} -norandkey {USER}", realm.user_keytab().display()));
        realm
    }

    fn write_profiles(&self, port: u16) -> (PathBuf, PathBuf) {
        let k = self.dir.path();
        let d = k.display();
        let krb5 = k.join(format!("krb5-{port}.conf"));
        std::fs::write(
            &krb5,
            format!(
                "[libdefaults]\ndefault_realm = {REALM}\ndns_lookup_kdc = false\ndns_canonicalize_hostname = false\n\
                 rdns = false\nudp_preference_limit = 1\n[realms]\n{REALM} = {{\n kdc = 127.0.0.1:{port}\n}}\n\
                 [domain_realm]\nlocalhost = {REALM}\n"
            ),
        )
        .unwrap();
        let kdc = k.join(format!("kdc-{port}.conf"));
        std::fs::write(
            &kdc,
            format!(
                "[kdcdefaults]\nkdc_listen = 127.0.0.1:{port}\nkdc_tcp_listen = 127.0.0.1:{port}\n[realms]\n{REALM} = {{\n \
                 database_name = {d}/principal\n key_stash_file = {d}/stash\n acl_file = {d}/kadm5.acl\n \
                 supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal\n}}\n\
                 [logging]\nkdc = FILE:{d}/kdc-{port}.log\n"
            ),
        )
        .unwrap();
        std::fs::copy(&krb5, k.join("krb5.conf")).unwrap();
        std::fs::copy(&kdc, k.join("kdc.conf")).unwrap();
        (krb5, kdc)
    }

    fn admin(&self, args: &[&str]) {
        let k = self.dir.path();
        let out = Command::new(args[0])
            .args(&args[1..])
            .env("KRB5_CONFIG", k.join("krb5.conf"))
            .env("KRB5_KDC_PROFILE", k.join("kdc.conf"))
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}; {INSTALL}", args[0]));
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    pub fn kadmin(&self, query: &str) {
        self.admin(&["kadmin.local", "-r", REALM, "-q", query]);
    }

    /// Starts a KDC of this realm on a free port, its clock shifted by `clock` (a libfaketime
    /// offset like `-10m`) when given; returns its port. Stopped with the realm.
    pub fn start_kdc(&mut self, clock: Option<&str>) -> u16 {
        let port = free_port();
        let (krb5, kdc) = self.write_profiles(port);
        let mut command = Command::new("krb5kdc");
        if let Some(offset) = clock {
            // libfaketime preloaded into krb5kdc itself (not the `faketime` wrapper, whose
            // child would outlive a SIGTERM to the wrapper).
            command.env("LD_PRELOAD", FAKETIME_LIB).env("FAKETIME", offset);
        }
        let child = command
            .args(["-n", "-r", REALM])
            .env("KRB5_CONFIG", &krb5)
            .env("KRB5_KDC_PROFILE", &kdc)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start krb5kdc: {e}; {INSTALL}"));
        self.kdcs.push(Process(child));
        wait_for_port(port, "krb5kdc", &self.dir.path().join(format!("kdc-{port}.log")));
        port
    }

    pub fn keytab(&self) -> PathBuf {
        self.dir.path().join("http.keytab")
    }

    /// A keytab with the user's keys.
    pub fn user_keytab(&self) -> PathBuf {
        self.dir.path().join("alice.keytab")
    }
}

/// Apache with mod_auth_gssapi (Kerberos only: `GssapiAllowedMech krb5`) proxying every
/// path to `backend`.
pub struct Apache {
    _process: Process,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Apache {
    pub fn start(realm: &Realm, backend: &str) -> Apache {
        require("/usr/sbin/apache2");
        require("/usr/lib/apache2/modules/mod_auth_gssapi.so");
        require("/usr/lib/apache2/modules/mod_proxy_http.so");
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("logs")).unwrap();
        std::fs::create_dir_all(root.join("run")).unwrap();
        // Workers run as nobody: they read the keytab and write the replay cache.
        let keytab = root.join("http.keytab");
        std::fs::copy(realm.keytab(), &keytab).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&keytab, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(root.join("run"), std::fs::Permissions::from_mode(0o1777)).unwrap();
        let port = free_port();
        let r = root.display();
        let m = "/usr/lib/apache2/modules";
        let config = format!(
            r#"# Private Apache for the Kerberos tests: reads nothing from /etc/apache2.
ServerRoot "{r}"
PidFile "{r}/httpd.pid"
Listen 127.0.0.1:{port}
ServerName localhost
User nobody
Group nogroup
LoadModule mpm_event_module {m}/mod_mpm_event.so
LoadModule authn_core_module {m}/mod_authn_core.so
LoadModule authz_core_module {m}/mod_authz_core.so
LoadModule authz_user_module {m}/mod_authz_user.so
LoadModule auth_gssapi_module {m}/mod_auth_gssapi.so
LoadModule proxy_module {m}/mod_proxy.so
LoadModule proxy_http_module {m}/mod_proxy_http.so
ErrorLog "{r}/logs/error.log"
LogFormat "request %r %>s %u" plain
CustomLog "{r}/logs/access.log" plain
LogLevel warn auth_gssapi:info
ProxyPass "/" "{backend}/"
<Location "/">
    AuthType GSSAPI
    AuthName "Netwrix API"
    GssapiCredStore keytab:{r}/http.keytab
    GssapiAllowedMech krb5
    GssapiBasicAuth Off
    Require valid-user
</Location>
"#
        );
        let conf = root.join("httpd.conf");
        std::fs::write(&conf, config).unwrap();
        let child = Command::new("/usr/sbin/apache2")
            .arg("-f")
            .arg(&conf)
            .args(["-D", "FOREGROUND"])
            .env("KRB5_CONFIG", realm.dir.path().join("krb5.conf"))
            .env("KRB5RCACHEDIR", root.join("run"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start apache2");
        let process = Process(child);
        wait_for_port(port, "apache2", &root.join("logs/error.log"));
        Apache { _process: process, port, dir }
    }

    /// The access log's lines: `request GET /… 200 alice@AUDITBRIDGE.TEST`.
    pub fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("logs/access.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    pub fn errors(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("logs/error.log")).unwrap_or_default()
    }
}
