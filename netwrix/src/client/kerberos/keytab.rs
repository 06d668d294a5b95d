//! Reading the user's key from a keytab file (MIT's format, version 0x502, which `ktutil`,
//! `kadmin ktadd` and Windows' `ktpass` write), for `[job.kerberos] keytab`: a service
//! account then logs in without a password in the config. No maintained Rust crate reads
//! keytabs; `sspi` takes the raw key ([`sspi::KeytabIdentity`]), so this is the file format
//! only, read again at every login so a rotated keytab is picked up.

/// The key of one principal: its encryption type number (RFC 3961) and bytes.
pub(crate) struct KeytabKey {
    pub enctype: u16,
    pub key: Vec<u8>,
}

impl std::fmt::Debug for KeytabKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeytabKey").field("enctype", &self.enctype).field("key", &"<redacted>").finish()
    }
}

/// The encryption types `sspi` can use, most preferred first (aes256, aes128).
const USABLE: [u16; 2] = [18, 17];

/// The newest usable key for `account@realm` in the keytab `bytes` (names compared
/// ignoring case, as Windows does); an error says what is wrong with the file.
pub(crate) fn find_key(bytes: &[u8], account: &str, realm: &str) -> Result<KeytabKey, String> {
    let mut r = Reader { bytes, at: 0 };
    if r.u16()? != 0x0502 {
        return Err("not a keytab file of version 0x502".into());
    }
    // (kvno, preference, key): the highest kvno wins, then the preferred enctype.
    let mut best: Option<(u32, usize, KeytabKey)> = None;
    let mut enctypes_seen = Vec::new();
    while r.at < bytes.len() {
        let size = r.u32()? as i32;
        if size < 0 {
            r.skip(size.unsigned_abs() as usize)?; // a deleted entry
            continue;
        }
        let end = r.at.checked_add(size as usize).filter(|e| *e <= bytes.len()).ok_or("an entry runs past the end")?;
        let entry = r.take(size as usize)?;
        let mut e = Reader { bytes: entry, at: 0 };
        let components = e.u16()?;
        let entry_realm = e.string()?;
        let mut names = Vec::new();
        for _ in 0..components {
            names.push(e.string()?);
        }
        let _name_type = e.u32()?;
        let _timestamp = e.u32()?;
        let kvno8 = u32::from(e.u8()?);
        let enctype = e.u16()?;
        let key_len = e.u16()? as usize;
        let key = e.take(key_len)?.to_vec();
        // A 32-bit kvno follows when the entry has room for it (krb5 1.14+).
        let kvno = match e.u32() {
            Ok(k) if k != 0 => k,
            _ => kvno8,
        };
        r.at = end;
        if names.len() != 1 || !names[0].eq_ignore_ascii_case(account) || !entry_realm.eq_ignore_ascii_case(realm) {
            continue;
        }
        enctypes_seen.push(enctype);
        let Some(preference) = USABLE.iter().position(|u| *u == enctype) else { continue };
        let better = match &best {
            None => true,
            Some((k, p, _)) => kvno > *k || (kvno == *k && preference < *p),
        };
        if better {
            best = Some((kvno, preference, KeytabKey { enctype, key }));
        }
    }
    match best {
        Some((_, _, key)) => Ok(key),
        None if enctypes_seen.is_empty() => Err(format!("holds no key for {account}@{realm}")),
        None => Err(format!(
            "holds keys for {account}@{realm} only of encryption types {enctypes_seen:?}; an AES key \
             (aes256-cts-hmac-sha1-96 = 18, aes128 = 17) is needed"
        )),
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len()).ok_or("the file is cut short")?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }
    fn skip(&mut self, n: usize) -> Result<(), String> {
        self.take(n).map(|_| ())
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn string(&mut self) -> Result<String, String> {
        let len = self.u16()? as usize;
        Ok(String::from_utf8_lossy(self.take(len)?).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(realm: &str, name: &str, kvno: u8, enctype: u16, key: &[u8]) -> Vec<u8> {
        let mut e = Vec::new();
        e.extend_from_slice(&1u16.to_be_bytes());
        for s in [realm, name] {
            e.extend_from_slice(&(s.len() as u16).to_be_bytes());
            e.extend_from_slice(s.as_bytes());
        }
        e.extend_from_slice(&1u32.to_be_bytes());
        e.extend_from_slice(&0u32.to_be_bytes());
        e.push(kvno);
        e.extend_from_slice(&enctype.to_be_bytes());
        e.extend_from_slice(&(key.len() as u16).to_be_bytes());
        e.extend_from_slice(key);
        let mut out = (e.len() as u32).to_be_bytes().to_vec();
        out.extend(e);
        out
    }

    #[test]
    fn the_newest_aes_key_of_the_principal_is_taken() {
        let mut file = vec![5, 2];
        file.extend(entry("R.TEST", "alice", 1, 18, &[1; 32]));
        file.extend(entry("R.TEST", "alice", 2, 23, &[9; 16])); // rc4: not usable
        file.extend(entry("R.TEST", "alice", 2, 17, &[2; 16]));
        file.extend(entry("R.TEST", "alice", 2, 18, &[3; 32]));
        file.extend(entry("R.TEST", "bob", 5, 18, &[4; 32]));
        file.extend((-8i32).to_be_bytes()); // a hole
        file.extend([0; 8]);
        let key = find_key(&file, "ALICE", "r.test").unwrap();
        assert_eq!((key.enctype, key.key), (18, vec![3; 32]));
        assert!(find_key(&file, "carol", "R.TEST").unwrap_err().contains("no key for carol@R.TEST"));
        assert!(find_key(&[5, 1], "a", "R").is_err());
        assert!(find_key(&file[..40], "alice", "R.TEST").unwrap_err().contains("past the end"));
    }
}
