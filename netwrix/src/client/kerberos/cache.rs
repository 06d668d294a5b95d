//! The service ticket a job keeps between requests, so that a long `run` asks the KDC for
//! one ticket per ticket lifetime instead of one per page.
//!
//! `sspi` 0.23 keeps no credentials cache and cannot start a context from a ticket it was
//! given, so the first login of a job is all `sspi` (AS and TGS exchanges, its AP-REQ, its
//! check of the AP-REP). What that login's KDC replies hold is then read back with the keys
//! `sspi` derived the same way: the user's key (from the password and the KDC's salt, or the
//! keytab) opens the AS-REP, whose TGT session key opens the TGS-REP, which gives the service
//! session key and the ticket's end time. Each later request sends an AP-REQ made by
//! `sspi`'s own public generators (a fresh authenticator and subkey, mutual authentication
//! asked for) with that ticket, and the server's AP-REP is decrypted with the session key
//! and must repeat the authenticator's time (RFC 4120 §3.2.5-3.2.6).
//!
//! A ticket is used until [`RENEW_BEFORE`] (or half its lifetime, when that is shorter)
//! before it ends; then the next request logs in again. Nothing here is fatal: a login
//! whose replies cannot be read back just is not kept.

use chrono::{DateTime, TimeDelta, Utc};
use picky_krb::constants::gss_api::{AP_REP_TOKEN_ID, AP_REQ_TOKEN_ID, AUTHENTICATOR_CHECKSUM_TYPE};
use picky_krb::constants::key_usages::{AS_REP_ENC, TGS_REP_ENC_SESSION_KEY};
use picky_krb::crypto::CipherSuite;
use picky_krb::data_types::{KerberosTime, Ticket};
use picky_krb::gss_api::{ApplicationTag0, KrbMessage};
use picky_krb::messages::{ApRep, ApReq, AsRep, EncAsRepPart, EncKdcRepPart, EncTgsRepPart, KdcRep, KrbError, TgsRep};
use rand::RngCore;
use sspi::kerberos::client::extractors::{
    decrypt_ap_rep, extract_encryption_params_from_as_rep, extract_salt_from_krb_error,
};
use sspi::kerberos::client::generators::{
    generate_ap_req, generate_authenticator, ChecksumOptions, ChecksumValues, EncKey, GenerateAuthenticatorOptions,
};
use sspi::kerberos::flags::ApOptions;
use sspi::kerberos::EncryptionParams;
use sspi::{Error, ErrorKind, Secret};

/// How long before its end a ticket is replaced: Kerberos' default clock tolerance, so a
/// server whose clock runs up to that much ahead of ours still takes every ticket we send.
pub const RENEW_BEFORE: TimeDelta = TimeDelta::minutes(5);

/// GSS_C_MUTUAL_FLAG (RFC 4121 §4.1.1.1): the server must answer with an AP-REP.
const GSS_C_MUTUAL_FLAG: u32 = 2;

/// The DER tags of the KDC replies (RFC 4120 §5.4.2, §5.9.1: APPLICATION 11, 13, 30).
const AS_REP_TAG: u8 = 0x6b;
const TGS_REP_TAG: u8 = 0x6d;
const KRB_ERROR_TAG: u8 = 0x7e;

/// The user's long-term key, as the login had it.
pub(super) enum UserKey {
    /// A password; the salt is the KDC's (ETYPE-INFO2) or else this default (`REALMuser`).
    Password { password: String, default_salt: String },
    /// A keytab's key.
    Key(Vec<u8>),
}

/// A service ticket with its session key, good for AP-REQs until [`Self::renew_at`].
pub(super) struct ServiceTicket {
    ticket: Ticket,
    /// The TGS-REP: the client name and realm every authenticator repeats.
    kdc_rep: KdcRep,
    session_key: Secret<Vec<u8>>,
    cipher: CipherSuite,
    /// The GSS-API framing of `sspi`'s own AP-REQ (its mechanism OID), reused as it was.
    framing: KrbMessage<()>,
    pub starts: DateTime<Utc>,
    pub ends: DateTime<Utc>,
}

/// An AP-REQ sent from a kept ticket: what its AP-REP must show.
pub(super) struct Sent {
    session_key: Secret<Vec<u8>>,
    cipher: CipherSuite,
    ctime: Option<DateTime<Utc>>,
    cusec: u64,
}

impl ServiceTicket {
    /// Reads back the ticket of a login from its KDC `replies` and `sspi`'s first token.
    pub fn from_login(replies: &[Vec<u8>], key: &UserKey, first_token: &[u8]) -> sspi::Result<ServiceTicket> {
        let as_rep: AsRep = last(replies, AS_REP_TAG, "AS-REP")?;
        let tgs_rep: TgsRep = last(replies, TGS_REP_TAG, "TGS-REP")?;
        let sent = KrbMessage::<ApReq>::decode_application_krb_message(first_token)?.0;
        if sent.krb5_token_id != AP_REQ_TOKEN_ID || sent.krb_msg.0.ticket.0 != tgs_rep.0.ticket.0 {
            return Err(invalid("the AP-REQ sent does not carry the ticket of the last TGS-REP"));
        }

        let as_cipher = suite(&as_rep.0.enc_part.0.etype.0 .0)?;
        let user_key = match key {
            UserKey::Key(key) => key.clone(),
            UserKey::Password { password, default_salt } => {
                let salt = salt(&as_rep, replies).unwrap_or_else(|| default_salt.clone());
                as_cipher.cipher().generate_key_from_password(password.as_bytes(), salt.as_bytes())?
            }
        };
        let plain = as_cipher.cipher().decrypt(&user_key, AS_REP_ENC, &as_rep.0.enc_part.0.cipher.0 .0)?;
        let tgt = enc_part(&plain)?;
        let tgt_key = tgt.key.0.key_value.0 .0.clone();

        let tgs_cipher = suite(&tgs_rep.0.enc_part.0.etype.0 .0)?;
        let plain =
            tgs_cipher.cipher().decrypt(&tgt_key, TGS_REP_ENC_SESSION_KEY, &tgs_rep.0.enc_part.0.cipher.0 .0)?;
        let service = enc_part(&plain)?;
        let cipher = suite(&service.key.0.key_type.0 .0)?;
        let ends = utc(&service.end_time.0).ok_or_else(|| invalid("the ticket's end time is not a date"))?;
        let starts = service.start_time.0.as_ref().and_then(|t| utc(&t.0)).or_else(|| utc(&service.auth_time.0));
        Ok(ServiceTicket {
            ticket: tgs_rep.0.ticket.0.clone(),
            kdc_rep: tgs_rep.0.clone(),
            session_key: service.key.0.key_value.0 .0.clone().into(),
            cipher,
            framing: KrbMessage { krb5_oid: sent.krb5_oid, krb5_token_id: AP_REQ_TOKEN_ID, krb_msg: () },
            starts: starts.unwrap_or_else(Utc::now),
            ends,
        })
    }

    /// When the ticket should be replaced: [`RENEW_BEFORE`] its end, or half-way through a
    /// lifetime shorter than twice that.
    pub fn renew_at(&self) -> DateTime<Utc> {
        let margin = RENEW_BEFORE.min((self.ends - self.starts) / 2);
        self.ends - margin
    }

    /// A new AP-REQ token (GSS-API framed, as `sspi` frames its own) with a fresh authenticator.
    pub fn ap_req(&self) -> sspi::Result<(Vec<u8>, Sent)> {
        let mut rng = rand::rng();
        let mut subkey = vec![0u8; self.cipher.cipher().key_size()];
        rng.fill_bytes(&mut subkey);
        // RFC 4121 §4.1.1: Lgth = 16, no channel bindings, then the flags.
        let mut checksum = [0u8; 24];
        checksum[0] = 16;
        checksum[20..].copy_from_slice(&GSS_C_MUTUAL_FLAG.to_le_bytes());
        let authenticator = generate_authenticator(GenerateAuthenticatorOptions {
            kdc_rep: &self.kdc_rep,
            seq_num: Some(rng.next_u32()),
            sub_key: Some(EncKey { key_type: self.cipher.clone(), key_value: subkey }),
            checksum: Some(ChecksumOptions {
                checksum_type: AUTHENTICATOR_CHECKSUM_TYPE.to_vec(),
                checksum_value: ChecksumValues::from(checksum),
            }),
            channel_bindings: None,
            extensions: Vec::new(),
        })?;
        let ap_req = generate_ap_req(
            self.ticket.clone(),
            &self.session_key,
            &authenticator,
            &params(&self.cipher),
            ApOptions::MUTUAL_REQUIRED,
        )?;
        let framed = KrbMessage {
            krb5_oid: self.framing.krb5_oid.clone(),
            krb5_token_id: self.framing.krb5_token_id,
            krb_msg: ap_req,
        };
        let token = picky_asn1_der::to_vec(&ApplicationTag0(framed))?;
        let sent = Sent {
            session_key: self.session_key.clone(),
            cipher: self.cipher.clone(),
            ctime: utc(&authenticator.0.ctime.0),
            cusec: number(authenticator.0.cusec.0.as_unsigned_bytes_be()),
        };
        Ok((token, sent))
    }
}

impl Sent {
    /// Checks the server's AP-REP: it decrypts with the session key (only the holder of the
    /// service key could read it from the ticket) and repeats this authenticator's time.
    pub fn check(&self, token: &[u8]) -> sspi::Result<()> {
        let message = KrbMessage::<ApRep>::decode_application_krb_message(token)?.0;
        if message.krb5_token_id != AP_REP_TOKEN_ID {
            return Err(invalid("the server's token is not an AP-REP"));
        }
        let part = decrypt_ap_rep(&message.krb_msg, &self.session_key, &params(&self.cipher))?;
        if utc(&part.0.ctime.0) != self.ctime || number(part.0.cusec.0.as_unsigned_bytes_be()) != self.cusec {
            return Err(invalid("the AP-REP answers another authenticator than the one sent"));
        }
        Ok(())
    }
}

fn invalid(what: &str) -> Error {
    Error::new(ErrorKind::InvalidToken, what.to_string())
}

fn params(cipher: &CipherSuite) -> EncryptionParams {
    EncryptionParams { encryption_type: Some(cipher.clone()), ..EncryptionParams::default_for_client() }
}

/// The last reply with this DER tag, decoded.
fn last<T: serde::de::DeserializeOwned>(replies: &[Vec<u8>], tag: u8, what: &str) -> sspi::Result<T> {
    let reply = replies
        .iter()
        .rev()
        .find(|r| r.first() == Some(&tag))
        .ok_or_else(|| invalid(&format!("the login got no {what}")))?;
    Ok(picky_asn1_der::from_bytes(reply)?)
}

/// The KDC's salt for the password: the AS-REP's ETYPE-INFO2, else the pre-authentication
/// error's; `None` means the principal's default salt.
fn salt(as_rep: &AsRep, replies: &[Vec<u8>]) -> Option<String> {
    if let Ok((_, salt)) = extract_encryption_params_from_as_rep(as_rep) {
        if !salt.is_empty() {
            return Some(salt);
        }
    }
    replies
        .iter()
        .filter(|r| r.first() == Some(&KRB_ERROR_TAG))
        .filter_map(|r| picky_asn1_der::from_bytes::<KrbError>(r).ok())
        .find_map(|e| extract_salt_from_krb_error(&e).ok().flatten())
}

/// A decrypted KDC reply part: MIT writes EncTGSRepPart in AS-REPs too (RFC 4120 §5.4.2 allows it).
fn enc_part(plain: &[u8]) -> sspi::Result<EncKdcRepPart> {
    match picky_asn1_der::from_bytes::<EncAsRepPart>(plain) {
        Ok(part) => Ok(part.0),
        Err(_) => Ok(picky_asn1_der::from_bytes::<EncTgsRepPart>(plain)?.0),
    }
}

fn suite(etype: &[u8]) -> sspi::Result<CipherSuite> {
    let n = usize::try_from(number(etype)).map_err(|_| invalid("an encryption type out of range"))?;
    CipherSuite::try_from(n)
        .map_err(|e| Error::new(ErrorKind::UnsupportedFunction, format!("encryption type {n}: {e}")))
}

/// A DER INTEGER's magnitude (etypes, microseconds: small and not negative).
fn number(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |n, b| n.wrapping_shl(8) | u64::from(*b))
}

pub(super) fn utc(time: &KerberosTime) -> Option<DateTime<Utc>> {
    let t = &time.0;
    chrono::NaiveDate::from_ymd_opt(t.year().into(), t.month().into(), t.day().into())
        .and_then(|d| d.and_hms_opt(t.hour().into(), t.minute().into(), t.second().into()))
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_read_as_their_magnitude() {
        assert_eq!(number(&[]), 0);
        assert_eq!(number(&[0x12]), 18);
        assert_eq!(number(&[0x00, 0x0f, 0x42, 0x3f]), 999_999);
    }

    #[test]
    fn a_login_without_kdc_replies_is_not_kept() {
        let key = UserKey::Key(vec![0; 32]);
        let Err(error) = ServiceTicket::from_login(&[], &key, &[]) else { panic!("kept") };
        assert!(error.to_string().contains("no AS-REP"), "{error}");
    }
}
