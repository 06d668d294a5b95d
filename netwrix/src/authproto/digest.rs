//! HTTP Digest access authentication (RFC 7616) with `qop=auth`: MD5 and SHA-256, and
//! their `-sess` variants. The client answers a server's challenge with
//! [`Challenge::respond`]; the emulator checks an answer with [`Answer::verify`].

use md5::Md5;
use sha2::{Digest as _, Sha256};

use super::challenge::{quote, Parsed};

/// The hash a Digest challenge asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Md5Sess,
    Sha256,
    Sha256Sess,
}

impl Algorithm {
    /// The algorithm named in a challenge (`MD5` when absent, RFC 7616 §3.3); `None` for
    /// one this client does not implement (SHA-512-256).
    pub fn parse(name: Option<&str>) -> Option<Algorithm> {
        let name = name.unwrap_or("MD5").trim();
        [Algorithm::Md5, Algorithm::Md5Sess, Algorithm::Sha256, Algorithm::Sha256Sess]
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    /// The name as written in headers.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    /// Preference when a server offers several: SHA-256 before MD5.
    fn strength(self) -> u8 {
        match self {
            Algorithm::Sha256 | Algorithm::Sha256Sess => 2,
            Algorithm::Md5 | Algorithm::Md5Sess => 1,
        }
    }

    fn hash(self, data: &str) -> String {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => hex::encode(Md5::digest(data.as_bytes())),
            Algorithm::Sha256 | Algorithm::Sha256Sess => hex::encode(Sha256::digest(data.as_bytes())),
        }
    }

    fn is_sess(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }
}

/// A server's Digest challenge, reduced to what an answer needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    pub algorithm: Algorithm,
    /// Whether `qop=auth` is offered (else the RFC 2069 form without nc/cnonce is used).
    pub qop_auth: bool,
    /// `stale=true`: the nonce expired but the credentials were right; retry with the new one.
    pub stale: bool,
    /// `userhash=true`: send the hashed user name (RFC 7616 §3.4.4).
    pub userhash: bool,
}

impl Challenge {
    /// The Digest challenge among `challenges` this client can answer, the strongest
    /// algorithm first; `None` if there is none.
    pub fn pick<'a>(challenges: impl IntoIterator<Item = &'a Parsed>) -> Option<Challenge> {
        challenges.into_iter().filter_map(Challenge::from_parsed).max_by_key(|c| c.algorithm.strength())
    }

    /// Reads one parsed challenge; `None` if it is not a usable Digest challenge (another
    /// scheme, no nonce, an unknown algorithm, or a qop list without `auth`).
    pub fn from_parsed(parsed: &Parsed) -> Option<Challenge> {
        if !parsed.is("Digest") {
            return None;
        }
        let nonce = parsed.param("nonce")?.to_string();
        let algorithm = Algorithm::parse(parsed.param("algorithm"))?;
        let qop_auth = match parsed.param("qop") {
            None => false,
            Some(list) => {
                if !list.split(',').any(|q| q.trim().eq_ignore_ascii_case("auth")) {
                    return None;
                }
                true
            }
        };
        let flag = |name: &str| parsed.param(name).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        Some(Challenge {
            realm: parsed.param("realm").unwrap_or_default().to_string(),
            nonce,
            opaque: parsed.param("opaque").map(str::to_string),
            algorithm,
            qop_auth,
            stale: flag("stale"),
            userhash: flag("userhash"),
        })
    }

    /// The `Authorization` value for `method` `uri` as `user`/`password`, with nonce count
    /// `nc` (1 for the first use of this nonce) and client nonce `cnonce`.
    pub fn respond(&self, user: &str, password: &str, method: &str, uri: &str, nc: u32, cnonce: &str) -> String {
        let alg = self.algorithm;
        let nc_text = format!("{nc:08x}");
        let response =
            response(alg, user, &self.realm, password, &self.nonce, &nc_text, cnonce, self.qop_auth, method, uri);
        let mut out = String::from("Digest ");
        if self.userhash {
            out.push_str(&format!("username={}, userhash=true", quote(&alg.hash(&format!("{user}:{}", self.realm)))));
        } else if user.is_ascii() {
            out.push_str(&format!("username={}", quote(user)));
        } else {
            out.push_str(&format!("username*=UTF-8''{}", percent_encode(user)));
        }
        out.push_str(&format!(
            ", realm={}, nonce={}, uri={}, algorithm={}, response={}",
            quote(&self.realm),
            quote(&self.nonce),
            quote(uri),
            alg.name(),
            quote(&response)
        ));
        if self.qop_auth {
            out.push_str(&format!(", qop=auth, nc={nc_text}, cnonce={}", quote(cnonce)));
        }
        if let Some(opaque) = &self.opaque {
            out.push_str(&format!(", opaque={}", quote(opaque)));
        }
        out
    }
}

/// The `response` value of RFC 7616 §3.4.1.
#[allow(clippy::too_many_arguments)]
fn response(
    alg: Algorithm,
    user: &str,
    realm: &str,
    password: &str,
    nonce: &str,
    nc: &str,
    cnonce: &str,
    qop_auth: bool,
    method: &str,
    uri: &str,
) -> String {
    let mut ha1 = alg.hash(&format!("{user}:{realm}:{password}"));
    if alg.is_sess() {
        ha1 = alg.hash(&format!("{ha1}:{nonce}:{cnonce}"));
    }
    let ha2 = alg.hash(&format!("{method}:{uri}"));
    if qop_auth {
        alg.hash(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"))
    } else {
        alg.hash(&format!("{ha1}:{nonce}:{ha2}"))
    }
}

/// RFC 5987 percent-encoding of a UTF-8 user name (`username*`).
fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What a server needs from a Digest `Authorization` header to check it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub algorithm: Algorithm,
    pub response: String,
    pub qop_auth: bool,
    pub nc: String,
    pub cnonce: String,
}

impl Answer {
    /// Reads a Digest `Authorization` value; `None` if it is malformed.
    pub fn from_parsed(parsed: &Parsed) -> Option<Answer> {
        if !parsed.is("Digest") {
            return None;
        }
        let qop_auth = match parsed.param("qop") {
            None => false,
            Some(q) if q.eq_ignore_ascii_case("auth") => true,
            Some(_) => return None,
        };
        Some(Answer {
            username: parsed.param("username")?.to_string(),
            realm: parsed.param("realm").unwrap_or_default().to_string(),
            nonce: parsed.param("nonce")?.to_string(),
            uri: parsed.param("uri")?.to_string(),
            algorithm: Algorithm::parse(parsed.param("algorithm"))?,
            response: parsed.param("response")?.to_ascii_lowercase(),
            qop_auth,
            nc: parsed.param("nc").unwrap_or_default().to_string(),
            cnonce: parsed.param("cnonce").unwrap_or_default().to_string(),
        })
    }

    /// Whether the answer proves knowledge of `password` for `method` (the nonce, realm,
    /// user and URI are the caller's to check).
    pub fn verify(&self, password: &str, method: &str) -> bool {
        let expected = response(
            self.algorithm,
            &self.username,
            &self.realm,
            password,
            &self.nonce,
            &self.nc,
            &self.cnonce,
            self.qop_auth,
            method,
            &self.uri,
        );
        constant_time_eq(expected.as_bytes(), self.response.as_bytes())
    }
}

/// Byte comparison whose time does not depend on where the first difference is.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authproto::challenge::parse_all;

    /// RFC 7616 §3.9.1: the worked example, in MD5 and in SHA-256.
    #[test]
    fn rfc_7616_examples() {
        for (alg, expected) in [
            ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
            ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
        ] {
            let header = format!(
                r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={alg}, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#
            );
            let challenge = Challenge::pick(&parse_all(&header)).unwrap();
            let value = challenge.respond(
                "Mufasa",
                "Circle of Life",
                "GET",
                "/dir/index.html",
                1,
                "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
            );
            assert!(value.contains(&format!("response=\"{expected}\"")), "{alg}: {value}");
            assert!(value.contains("qop=auth, nc=00000001"), "{value}");
            let answer = Answer::from_parsed(&parse_all(&value)[0]).unwrap();
            assert!(answer.verify("Circle of Life", "GET"));
            assert!(!answer.verify("circle of life", "GET"));
            assert!(!answer.verify("Circle of Life", "POST"));
        }
    }

    #[test]
    fn the_strongest_offer_wins_and_domain_users_are_escaped() {
        let offers = [
            parse_all(r#"Digest realm="r", nonce="n1", algorithm=MD5, qop="auth""#),
            parse_all(r#"Digest realm="r", nonce="n2", algorithm=SHA-256, qop="auth""#),
            parse_all(r#"Digest realm="r", nonce="n3", algorithm=SHA-512-256, qop="auth""#),
        ]
        .concat();
        let c = Challenge::pick(&offers).unwrap();
        assert_eq!((c.algorithm, c.nonce.as_str()), (Algorithm::Sha256, "n2"));
        let value = c.respond(r"CORP\alice", "pw", "GET", "/x", 2, "c");
        let answer = Answer::from_parsed(&parse_all(&value)[0]).unwrap();
        assert_eq!(answer.username, r"CORP\alice");
        assert_eq!(answer.nc, "00000002");
        assert!(answer.verify("pw", "GET"));
        assert!(Challenge::pick(&parse_all(r#"Digest realm="r", nonce="n", qop="auth-int""#)).is_none());
    }
}
