//! Kerberos under the HTTP `Negotiate` scheme (RFC 4559), on Devolutions' `sspi`: the
//! AS and TGS exchanges with the KDC, the AP-REQ the server checks, and the AP-REP with
//! which the server proves it holds the service key (mutual authentication).
//!
//! Per request: the first request of a client goes out bare, so the server's 401 says
//! whether it offers `Negotiate` (and `validate --check` can show it); once the server took
//! a ticket, later requests carry theirs on the first leg. A freshly fetched ticket answered
//! by another 401 is refused for good ([`KerberosError::TicketRefused`]); the token on the final answer is
//! checked, and one that does not verify fails the request ([`KerberosError::MutualAuth`]).
//!
//! Tickets: `sspi` 0.23 keeps no credentials cache, so a login (AS and TGS exchanges, three
//! KDC round trips) is `sspi`'s, and the service ticket it got is kept for the job
//! ([`cache`]): later requests send AP-REQs made from it with no KDC traffic until shortly
//! before it ends, then the next request logs in again. A kept ticket the server refuses
//! (its key changed, the server restarted with another keytab) is dropped and the request
//! logs in afresh once. ARCHITECTURE.md ("Authentication: Kerberos on sspi") weighs it.
//!
//! `sspi` is synchronous and talks to the KDC itself through [`kdc::TcpKdc`]; each step runs
//! in `spawn_blocking`.

mod cache;
mod error;
mod kdc;
mod keytab;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderValue, WWW_AUTHENTICATE};
use sspi::{
    BufferType, ClientRequestFlags, CredentialUse, CredentialsBuffers, DataRepresentation, SecurityBuffer,
    SecurityStatus, Sspi, SspiImpl, Username,
};

pub use error::KerberosError;

use super::auth::{AuthExchange, AuthStep, Authenticator, Challenge, RequestInfo};
use super::config::{Credentials, KerberosSettings};
use super::error::ClientError;
use crate::authproto::challenge::parse_all;

/// Kerberos' default tolerance for clock differences (MIT `clockskew`, Windows' policy).
const MAX_SKEW_SECONDS: i64 = 300;

/// The workstation name `sspi` puts in AS-REQs (MIT and Windows KDCs only log it).
const WORKSTATION: &str = "AUDITBRIDGE";

/// Kerberos logins as one principal to one service.
pub struct Kerberos {
    shared: Arc<Shared>,
}

struct Shared {
    /// The account, without realm: `svc-auditbridge`.
    account: String,
    /// The realm, when one is known: from `user@REALM` or the settings.
    realm: Option<String>,
    password: String,
    spn: String,
    /// The configured KDC; else krb5.conf's.
    kdc: Option<String>,
    /// A keytab holding the user's key, used instead of the password.
    keytab: Option<std::path::PathBuf>,
    /// The server took a ticket: later requests send theirs with the first leg.
    preemptive: AtomicBool,
    /// The service ticket the server last took, reused until its renewal time.
    kept: Mutex<Option<Arc<cache::ServiceTicket>>>,
    /// The job's AS and TGS requests so far.
    counts: Arc<kdc::KdcCounts>,
}

impl Kerberos {
    /// Kerberos as `credentials.user` to `HTTP/<host>` (or the configured SPN).
    pub fn new(credentials: &Credentials, settings: &KerberosSettings, host: &str) -> Kerberos {
        let (account, realm) = principal(&credentials.user, settings.realm.as_deref());
        Kerberos {
            shared: Arc::new(Shared {
                account,
                realm,
                password: credentials.password.clone(),
                spn: settings.spn.clone().unwrap_or_else(|| format!("HTTP/{host}")),
                kdc: settings.kdc.clone(),
                keytab: settings.keytab.clone(),
                preemptive: AtomicBool::new(false),
                kept: Mutex::new(None),
                counts: Arc::default(),
            }),
        }
    }

    /// The principal logged in as, for messages: `alice@REALM` (or the account alone).
    pub fn principal(&self) -> String {
        self.shared.principal()
    }

    /// Why Kerberos cannot even start, known without asking anyone: no realm, or no KDC
    /// configured or in krb5.conf. Negotiate then goes to NTLM at once.
    pub fn unavailable(&self) -> Option<KerberosError> {
        let Some(realm) = &self.shared.realm else {
            return Some(KerberosError::NoRealm { user: self.shared.account.clone() });
        };
        self.shared.kdc_url(realm).err()
    }
}

/// Splits a configured user into account and realm. `user@domain` names its realm (upper
/// case, as realms are written); `DOMAIN\user` and a bare name take the configured realm (a
/// NetBIOS domain is not a realm). A configured realm wins over the user's suffix.
fn principal(user: &str, realm: Option<&str>) -> (String, Option<String>) {
    let realm = realm.map(str::to_ascii_uppercase);
    if let Some((account, suffix)) = user.rsplit_once('@') {
        return (account.to_string(), realm.or_else(|| Some(suffix.to_ascii_uppercase())));
    }
    let account = user.rsplit_once('\\').map_or(user, |(_, account)| account);
    (account.to_string(), realm)
}

impl Shared {
    fn principal(&self) -> String {
        match &self.realm {
            Some(realm) => format!("{}@{realm}", self.account),
            None => self.account.clone(),
        }
    }

    /// The KDC for `realm`: the configured one, else what `sspi` finds (`SSPI_KDC_URL*`,
    /// then the realm's first `kdc =` in the `KRB5_CONFIG` files or /etc/krb5.conf).
    fn kdc_url(&self, realm: &str) -> Result<String, KerberosError> {
        if let Some(kdc) = &self.kdc {
            return Ok(if kdc.contains("://") { kdc.clone() } else { format!("tcp://{kdc}") });
        }
        sspi::detect_kdc_url(realm).map(|url| url.to_string()).ok_or_else(|| KerberosError::NoKdc {
            realm: realm.to_string(),
            detail: "none is configured, and krb5.conf names none for the realm".into(),
        })
    }

    /// Gets a service ticket and makes the AP-REQ token (blocking: talks to the KDC); with
    /// them, the ticket read back for reuse when that works ([`cache`]).
    fn start(&self) -> Result<(Context, Vec<u8>, Option<cache::ServiceTicket>), KerberosError> {
        let realm = self.realm.clone().ok_or_else(|| KerberosError::NoRealm { user: self.account.clone() })?;
        let principal = self.principal();
        let fail = |e: sspi::Error| KerberosError::from_sspi(e, &principal, &realm, &self.spn);
        let config = sspi::KerberosConfig::new_with_kdc_url(&self.kdc_url(&realm)?, WORKSTATION.into());
        let mut kerberos = sspi::Kerberos::new_client_from_config(config).map_err(fail)?;
        let username =
            Username::new_down_level_logon_name(&self.account, &realm).map_err(|e| KerberosError::Other {
                principal: principal.clone(),
                source: sspi::Error::new(sspi::ErrorKind::InvalidParameter, e.to_string()),
            })?;
        let (identity, user_key): (sspi::Credentials, _) = match &self.keytab {
            Some(path) => {
                let bad = |detail: String| KerberosError::Keytab { path: path.display().to_string(), detail };
                let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
                let found = keytab::find_key(&bytes, &self.account, &realm).map_err(bad)?;
                let key_enctype = picky_krb::crypto::CipherSuite::try_from(usize::from(found.enctype))
                    .map_err(|e| bad(format!("encryption type {}: {e}", found.enctype)))?;
                let user_key = cache::UserKey::Key(found.key.clone());
                (sspi::KeytabIdentity { principal: username, key: found.key.into(), key_enctype }.into(), user_key)
            }
            None => (
                sspi::AuthIdentity { username, password: self.password.clone().into() }.into(),
                cache::UserKey::Password {
                    password: self.password.clone(),
                    default_salt: format!("{realm}{}", self.account),
                },
            ),
        };
        let acquired = kerberos
            .acquire_credentials_handle()
            .with_credential_use(CredentialUse::Outbound)
            .with_auth_data(&identity)
            .execute(&mut kerberos)
            .map_err(fail)?;
        let mut context = Context {
            kerberos,
            credentials: acquired.credentials_handle,
            spn: self.spn.clone(),
            kdc: kdc::TcpKdc::new(self.counts.clone()),
        };
        let (_, token) = context.step(Vec::new()).map_err(fail)?;
        let ticket = match cache::ServiceTicket::from_login(&context.kdc.replies(), &user_key, &token) {
            Ok(ticket) => Some(ticket),
            Err(e) => {
                tracing::warn!(spn = %self.spn, "Kerberos: the service ticket cannot be kept ({e}); every request logs in");
                None
            }
        };
        Ok((context, token, ticket))
    }

    /// The kept ticket, unless it is due for renewal.
    fn kept(&self) -> Option<Arc<cache::ServiceTicket>> {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.as_ref().filter(|t| chrono::Utc::now() < t.renew_at()).cloned()
    }

    /// Keeps a ticket the server took, and says so with the job's KDC traffic so far.
    fn keep(&self, ticket: Arc<cache::ServiceTicket>) {
        let (as_requests, tgs_requests) = self.counts.get();
        tracing::info!(
            spn = %self.spn,
            principal = %self.principal(),
            "Kerberos: new service ticket, valid until {}, reused until {} (KDC requests so far: {as_requests} AS, \
             {tgs_requests} TGS)",
            ticket.ends.format("%Y-%m-%d %H:%M:%S UTC"),
            ticket.renew_at().format("%Y-%m-%d %H:%M:%S UTC"),
        );
        *self.kept.lock().unwrap_or_else(|e| e.into_inner()) = Some(ticket);
    }

    /// Forgets `ticket` if it is still the kept one.
    fn forget(&self, ticket: &Arc<cache::ServiceTicket>) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.as_ref().is_some_and(|k| Arc::ptr_eq(k, ticket)) {
            *kept = None;
        }
    }
}

/// One security context: the AP-REQ sent, the AP-REP still to check.
struct Context {
    kerberos: sspi::Kerberos,
    credentials: Option<CredentialsBuffers>,
    spn: String,
    kdc: kdc::TcpKdc,
}

impl Context {
    fn step(&mut self, input: Vec<u8>) -> sspi::Result<(SecurityStatus, Vec<u8>)> {
        let mut input = vec![SecurityBuffer::new(input, BufferType::Token)];
        let mut output = vec![SecurityBuffer::new(Vec::new(), BufferType::Token)];
        let mut builder = self
            .kerberos
            .initialize_security_context()
            .with_credentials_handle(&mut self.credentials)
            .with_context_requirements(ClientRequestFlags::MUTUAL_AUTH)
            .with_target_data_representation(DataRepresentation::Native)
            .with_target_name(&self.spn)
            .with_input(&mut input)
            .with_output(&mut output);
        let result = self.kerberos.initialize_security_context_impl(&mut builder)?.resolve_with_client(&self.kdc)?;
        let token = output.first_mut().map(|b| std::mem::take(&mut b.buffer)).unwrap_or_default();
        Ok((result.status, token))
    }
}

impl fmt::Debug for Kerberos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kerberos")
            .field("principal", &self.shared.principal())
            .field("spn", &self.shared.spn)
            .finish_non_exhaustive()
    }
}

impl Authenticator for Kerberos {
    fn scheme(&self) -> &'static str {
        "Kerberos"
    }

    fn begin(&self, _request: RequestInfo<'_>) -> Box<dyn AuthExchange> {
        Box::new(KerberosExchange { shared: self.shared.clone(), leg: None, renewed: false })
    }
}

/// What the last leg sent.
enum Leg {
    /// A login's AP-REQ from `sspi`, and the ticket to keep once the server takes it.
    Login(Box<Context>, Option<Arc<cache::ServiceTicket>>),
    /// An AP-REQ made from the kept ticket.
    Kept(Arc<cache::ServiceTicket>, cache::Sent),
}

/// One request's Kerberos legs.
pub(crate) struct KerberosExchange {
    shared: Arc<Shared>,
    leg: Option<Leg>,
    /// A refused kept ticket was replaced by a login already.
    renewed: bool,
}

impl KerberosExchange {
    /// The AP-REQ for this request: from the kept ticket while it is good, else a login.
    async fn ticket(&mut self) -> Result<AuthStep, ClientError> {
        let kept = self.shared.kept().and_then(|ticket| match ticket.ap_req() {
            Ok((token, sent)) => Some((ticket, token, sent)),
            Err(e) => {
                tracing::warn!(spn = %self.shared.spn, "Kerberos: no AP-REQ from the kept ticket ({e}); logging in");
                self.shared.forget(&ticket);
                None
            }
        });
        let token = match kept {
            Some((ticket, token, sent)) => {
                self.leg = Some(Leg::Kept(ticket, sent));
                token
            }
            None => self.login().await?,
        };
        let mut value = HeaderValue::try_from(format!("Negotiate {}", STANDARD.encode(token)))
            .map_err(|_| ClientError::Config("the Kerberos token does not make a valid header".into()))?;
        value.set_sensitive(true);
        Ok(AuthStep::Send(Some(value)))
    }

    async fn login(&mut self) -> Result<Vec<u8>, ClientError> {
        let shared = self.shared.clone();
        let (context, token, ticket) = tokio::task::spawn_blocking(move || shared.start())
            .await
            .map_err(|e| ClientError::Transport(format!("the Kerberos login task failed: {e}")))?
            .map_err(ClientError::Kerberos)?;
        self.leg = Some(Leg::Login(Box::new(context), ticket.map(Arc::new)));
        Ok(token)
    }
}

/// The base64 token of the `Negotiate` challenge in `headers`, if there is one.
fn negotiate_token(headers: &HeaderMap) -> Option<Vec<u8>> {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(parse_all)
        .find(|c| c.is("Negotiate") && !c.rest.trim().is_empty())
        .and_then(|c| STANDARD.decode(c.rest.trim()).ok())
}

#[async_trait::async_trait]
impl AuthExchange for KerberosExchange {
    async fn next(&mut self, challenge: Option<Challenge<'_>>) -> Result<AuthStep, ClientError> {
        let Some(challenge) = challenge else {
            if self.shared.preemptive.load(Ordering::Relaxed) {
                return self.ticket().await;
            }
            return Ok(AuthStep::Send(None));
        };
        match &self.leg {
            Some(Leg::Kept(ticket, _)) if !self.renewed => {
                tracing::info!(
                    spn = %self.shared.spn,
                    "Kerberos: the server refused the kept service ticket; logging in again"
                );
                self.shared.forget(ticket);
                self.renewed = true;
                return self.ticket().await;
            }
            Some(Leg::Login(context, _)) => {
                // A KDC far off this machine's clock gave a ticket the server finds out of date.
                return Err(ClientError::Kerberos(match context.kdc.skew_seconds() {
                    Some(skew) if skew.abs() > MAX_SKEW_SECONDS => KerberosError::ServerClockSkew { skew },
                    _ => KerberosError::TicketRefused { spn: self.shared.spn.clone() },
                }));
            }
            Some(Leg::Kept(..)) => {
                return Err(ClientError::Kerberos(KerberosError::TicketRefused { spn: self.shared.spn.clone() }))
            }
            None => {}
        }
        if !challenge.www_authenticate().flat_map(parse_all).any(|c| c.is("Negotiate")) {
            tracing::debug!("the server's 401 does not offer Negotiate; Kerberos gives up");
            return Ok(AuthStep::GiveUp);
        }
        self.ticket().await
    }

    fn finish(&mut self, headers: &HeaderMap) -> Result<(), ClientError> {
        let spn = self.shared.spn.clone();
        let mutual = |source| ClientError::Kerberos(KerberosError::MutualAuth { spn: spn.clone(), source });
        let token = negotiate_token(headers);
        match self.leg.as_mut() {
            None => return Ok(()),
            Some(Leg::Login(context, fresh)) => {
                if let Some(token) = token {
                    match context.step(token) {
                        Ok((SecurityStatus::Ok, _)) => {}
                        Ok((status, _)) => {
                            let why = format!("the context ended in {status:?}");
                            return Err(mutual(sspi::Error::new(sspi::ErrorKind::InvalidToken, why)));
                        }
                        Err(source) => return Err(mutual(source)),
                    }
                } else {
                    tracing::debug!(spn = %spn, "the server sent no mutual-authentication token; not checked");
                }
                if let Some(ticket) = fresh.take() {
                    self.shared.keep(ticket);
                }
            }
            Some(Leg::Kept(_, sent)) => match token {
                Some(token) => sent.check(&token).map_err(mutual)?,
                None => tracing::debug!(spn = %spn, "the server sent no mutual-authentication token; not checked"),
            },
        }
        self.shared.preemptive.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn mechanism(&self) -> Option<&'static str> {
        self.leg.as_ref().map(|_| "Kerberos")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_principal_comes_from_the_user_or_the_settings() {
        assert_eq!(principal("alice@corp.example", None), ("alice".into(), Some("CORP.EXAMPLE".into())));
        assert_eq!(principal(r"CORP\alice", Some("corp.example")), ("alice".into(), Some("CORP.EXAMPLE".into())));
        assert_eq!(principal(r"CORP\alice", None), ("alice".into(), None));
        assert_eq!(principal("alice@x.test", Some("R.TEST")), ("alice".into(), Some("R.TEST".into())));
    }

    #[test]
    fn the_spn_is_derived_from_the_host_unless_set() {
        let credentials = Credentials::new("alice@R.TEST", "pw");
        let k = Kerberos::new(&credentials, &KerberosSettings::default(), "nx.corp.example");
        assert_eq!(k.shared.spn, "HTTP/nx.corp.example");
        assert!(!format!("{k:?}").contains("pw"));
        let settings = KerberosSettings { spn: Some("HTTP/alias.corp.example".into()), ..Default::default() };
        assert_eq!(Kerberos::new(&credentials, &settings, "nx").shared.spn, "HTTP/alias.corp.example");
    }

    #[test]
    fn without_realm_or_kdc_kerberos_is_unavailable() {
        let k = Kerberos::new(&Credentials::new(r"CORP\alice", "pw"), &KerberosSettings::default(), "h");
        let Err(error) = k.shared.start().map(|_| ()) else { panic!("no realm") };
        assert!(error.is_unavailable() && error.to_string().contains("no Kerberos realm"), "{error}");
        let k = Kerberos::new(&Credentials::new("alice@NOWHERE.INVALID", "pw"), &KerberosSettings::default(), "h");
        let Err(error) = k.shared.start().map(|_| ()) else { panic!("no KDC") };
        assert!(error.is_unavailable() && error.to_string().contains("no KDC reachable"), "{error}");
    }
}
