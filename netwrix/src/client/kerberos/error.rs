//! [`KerberosError`]: why a Kerberos login failed, in the words an operator needs (spec §5:
//! domains that restrict NTLM leave Kerberos as the only way in, so its failures must be
//! readable without a packet capture).
//!
//! `sspi` reports a KDC's `KRB-ERROR` as an [`sspi::ErrorKind`] plus RFC 4120's text for
//! the code; [`KerberosError::from_sspi`] sorts those into the cases an operator can act on
//! and keeps the original error as the cause of the rest.

/// A Kerberos login that could not be made, or a server answer that did not check out.
#[derive(Debug, thiserror::Error)]
pub enum KerberosError {
    /// The user name carries no realm and none is configured.
    #[error(
        "no Kerberos realm for user {user:?}: give the user as user@REALM (e.g. svc-auditbridge@CORP.EXAMPLE) \
         or set realm under [job.kerberos]"
    )]
    NoRealm { user: String },
    /// No KDC answered (none configured or found in krb5.conf, refused, timed out).
    #[error(
        "no KDC reachable for realm {realm}: {detail}; set kdc under [job.kerberos], or the realm's kdc in \
         krb5.conf (KRB5_CONFIG)"
    )]
    NoKdc { realm: String, detail: String },
    /// KDC_ERR_PREAUTH_FAILED: the password (or the keytab's key) is not the account's.
    #[error("the KDC refused the password of {principal}: wrong password (or a stale keytab)")]
    WrongPassword { principal: String },
    /// KDC_ERR_C_PRINCIPAL_UNKNOWN: the KDC has no such user.
    #[error("unknown principal {principal}: the KDC has no such user; check the user name and realm")]
    UnknownPrincipal { principal: String },
    /// KDC_ERR_S_PRINCIPAL_UNKNOWN: no service account holds the SPN asked for.
    #[error(
        "wrong SPN: the KDC knows no service principal {spn}; reach the server by the host name its \
         HTTP/ SPN is registered for, or set spn under [job.kerberos]"
    )]
    UnknownService { spn: String },
    /// KRB_AP_ERR_SKEW from the KDC.
    #[error(
        "clock skew too great between this machine and the KDC (Kerberos allows 5 minutes by default); \
         synchronise the clocks (NTP)"
    )]
    ClockSkew,
    /// The KDC said its clock is this far off ours (sspi then used the KDC's time), and the
    /// server refused the ticket: the server's clock and the KDC's disagree.
    #[error(
        "clock skew too great: the KDC's clock is {} {} this machine's, and the server refused the \
         ticket made on the KDC's time (Kerberos allows 5 minutes by default); synchronise the clocks (NTP)",
        minutes(*skew), if *skew < 0 { "behind" } else { "ahead of" }
    )]
    ServerClockSkew { skew: i64 },
    /// The KDC gave a ticket, but the server answered it with another 401.
    #[error(
        "the server refused the Kerberos ticket for {spn}: its keytab holds no current key for that SPN \
         (wrong SPN, or the key changed), or its clock is more than 5 minutes off"
    )]
    TicketRefused { spn: String },
    /// The server's token on the final answer did not prove it holds the service key.
    #[error("mutual authentication failed: the server's answer does not prove it is {spn}")]
    MutualAuth {
        spn: String,
        #[source]
        source: sspi::Error,
    },
    /// The keytab could not be read or holds no usable key for the principal.
    #[error("keytab {path}: {detail}")]
    Keytab { path: String, detail: String },
    /// Anything else from the Kerberos implementation.
    #[error("Kerberos login as {principal} failed: {source}")]
    Other {
        principal: String,
        #[source]
        source: sspi::Error,
    },
}

/// `10 minutes`, `1 minute`, `45 seconds`.
fn minutes(seconds: i64) -> String {
    let s = seconds.unsigned_abs();
    match s / 60 {
        0 => format!("{s} seconds"),
        1 => "1 minute".to_string(),
        m => format!("{m} minutes"),
    }
}

impl KerberosError {
    /// Sorts an `sspi` failure of the login of `principal` to `spn` in `realm`.
    pub(crate) fn from_sspi(error: sspi::Error, principal: &str, realm: &str, spn: &str) -> KerberosError {
        use sspi::ErrorKind;
        let text = error.description.to_ascii_lowercase();
        match error.error_type {
            ErrorKind::TimeSkew => KerberosError::ClockSkew,
            ErrorKind::NoAuthenticatingAuthority => {
                KerberosError::NoKdc { realm: realm.to_string(), detail: error.description.clone() }
            }
            _ if text.contains("pre-authentication information was invalid") => {
                KerberosError::WrongPassword { principal: principal.to_string() }
            }
            _ if text.contains("client not found in kerberos database") => {
                KerberosError::UnknownPrincipal { principal: principal.to_string() }
            }
            _ if text.contains("server not found in kerberos database") => {
                KerberosError::UnknownService { spn: spn.to_string() }
            }
            _ if text.contains("no kdc") || text.contains("kdc url") => {
                KerberosError::NoKdc { realm: realm.to_string(), detail: error.description.clone() }
            }
            _ => KerberosError::Other { principal: principal.to_string(), source: error },
        }
    }

    /// Whether Kerberos as such is out of reach (no realm, no KDC): the case in which
    /// Negotiate falls back to NTLM, as Windows does. A KDC that answered "no" is not.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, KerberosError::NoRealm { .. } | KerberosError::NoKdc { .. })
    }

    /// Whether the server cannot take a ticket from us: the KDC has no service principal for
    /// the name the server is reached by (an IP address, an alias), or the server refused the
    /// ticket. Windows' Negotiate then uses NTLM when the server offers it, and so does ours.
    pub fn is_refused_ticket(&self) -> bool {
        matches!(
            self,
            KerberosError::UnknownService { .. }
                | KerberosError::TicketRefused { .. }
                | KerberosError::ServerClockSkew { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sspi_error(kind: sspi::ErrorKind, text: &str) -> sspi::Error {
        sspi::Error::new(kind, text.to_string())
    }

    #[test]
    fn kdc_answers_become_plain_words() {
        let cases = [
            (sspi_error(sspi::ErrorKind::TimeSkew, "clock skew too great"), "clock skew too great"),
            (
                sspi_error(sspi::ErrorKind::KdcInvalidRequest, "pre-authentication information was invalid"),
                "wrong password",
            ),
            (
                sspi_error(sspi::ErrorKind::UnknownCredentials, "client not found in Kerberos database"),
                "unknown principal alice@R.TEST",
            ),
            (
                sspi_error(sspi::ErrorKind::UnknownCredentials, "server not found in Kerberos database"),
                "wrong SPN: the KDC knows no service principal HTTP/h",
            ),
            (sspi_error(sspi::ErrorKind::NoAuthenticatingAuthority, "refused"), "no KDC reachable for realm R.TEST"),
        ];
        for (error, expected) in cases {
            let error = KerberosError::from_sspi(error, "alice@R.TEST", "R.TEST", "HTTP/h");
            assert!(error.to_string().contains(expected), "{error}");
        }
        let other = KerberosError::from_sspi(
            sspi_error(sspi::ErrorKind::InternalError, "boom"),
            "alice@R.TEST",
            "R.TEST",
            "HTTP/h",
        );
        assert!(std::error::Error::source(&other).is_some(), "the cause is kept");
        assert!(!other.is_unavailable() && !other.is_refused_ticket());
        assert!(KerberosError::TicketRefused { spn: "HTTP/h".into() }.is_refused_ticket());
        assert!(!KerberosError::WrongPassword { principal: "alice@R.TEST".into() }.is_refused_ticket());
    }
}
