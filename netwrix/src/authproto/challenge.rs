//! Parsing of `WWW-Authenticate` and `Authorization` values: a scheme name followed by
//! either one token (`NTLM TlRMTVNT…`) or `name=value` parameters, values quoted or not
//! (`Digest realm="Netwrix API", nonce="…", algorithm=MD5, qop="auth"`).

/// One challenge (or credentials): the scheme and what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The scheme as written (`Digest`, `NTLM`, `Negotiate`, `Basic`); compare ignoring case.
    pub scheme: String,
    /// The raw text after the scheme, trimmed (a token68 such as an NTLM message).
    pub rest: String,
    /// The `name=value` parameters, names lower-cased, values unquoted; empty for a token.
    pub params: Vec<(String, String)>,
}

impl Parsed {
    /// The value of parameter `name` (lower-case).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Whether the scheme is `name`, ignoring case.
    pub fn is(&self, name: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(name)
    }
}

/// Parses one header value. HTTP.sys sends one challenge per header; a header holding
/// several comma-separated challenges is split only where a new scheme clearly begins
/// (a bare word followed by a space and a `name=` or token), which covers every server here.
pub fn parse_all(value: &str) -> Vec<Parsed> {
    let mut out = Vec::new();
    let mut rest = value.trim();
    while !rest.is_empty() {
        let (scheme, after) = match rest.find(|c: char| c.is_ascii_whitespace() || c == ',') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if scheme.is_empty() {
            rest = rest[1..].trim_start();
            continue;
        }
        let (params, raw, remaining) = parse_params(after);
        out.push(Parsed { scheme: scheme.to_string(), rest: raw.trim().to_string(), params });
        rest = remaining.trim_start_matches([',', ' ', '\t']);
    }
    out
}

/// Reads the parameters (or token) of one challenge; stops where the next scheme begins.
/// Returns the parameters, the raw text consumed, and what is left.
fn parse_params(text: &str) -> (Vec<(String, String)>, &str, &str) {
    let mut params = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < bytes.len() && (bytes[*i] == b' ' || bytes[*i] == b'\t' || bytes[*i] == b',') {
            *i += 1;
        }
    };
    skip_ws(&mut i);
    let start = i;
    loop {
        skip_ws(&mut i);
        if i >= bytes.len() {
            break;
        }
        let name_start = i;
        while i < bytes.len() && !matches!(bytes[i], b'=' | b' ' | b'\t' | b',') {
            i += 1;
        }
        let name = &text[name_start..i];
        let mut j = i;
        while j < bytes.len() && (bytes[j] == b' ' || bytes[j] == b'\t') {
            j += 1;
        }
        let is_param = j < bytes.len() && bytes[j] == b'=' && !name.is_empty() && {
            // `abc==` is a token68 ending in padding, not a parameter.
            let after = text[j + 1..].trim_start();
            !after.is_empty() && !after.starts_with('=') && !after.starts_with(',')
        };
        if !is_param {
            if params.is_empty() && name_start == start {
                // A token68: everything up to a comma.
                let end = text[start..].find(',').map_or(text.len(), |e| start + e);
                return (params, &text[start..end], &text[end..]);
            }
            // A new scheme starts here.
            return (params, &text[start..name_start], &text[name_start..]);
        }
        i = j + 1;
        while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\t') {
            i += 1;
        }
        let value = if i < bytes.len() && bytes[i] == b'"' {
            i += 1;
            let mut value = String::new();
            let mut chars = text[i..].char_indices();
            let mut end = text.len();
            while let Some((k, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => {
                        end = i + k + 1;
                        break;
                    }
                    other => value.push(other),
                }
            }
            i = end;
            value
        } else {
            let v_start = i;
            while i < bytes.len() && bytes[i] != b',' {
                i += 1;
            }
            text[v_start..i].trim().to_string()
        };
        params.push((name.to_ascii_lowercase(), value));
    }
    (params, &text[start..], "")
}

/// `value` as an HTTP quoted-string: `"` and `\` escaped.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_ntlm_and_combined_challenges() {
        let d = parse_all(r#"Digest realm="Netwrix API", nonce="a/b=", algorithm=MD5, qop="auth,auth-int""#);
        assert_eq!(d.len(), 1);
        assert!(d[0].is("digest"));
        assert_eq!(d[0].param("realm"), Some("Netwrix API"));
        assert_eq!(d[0].param("nonce"), Some("a/b="));
        assert_eq!(d[0].param("algorithm"), Some("MD5"));
        assert_eq!(d[0].param("qop"), Some("auth,auth-int"));
        let n = parse_all("NTLM TlRMTVNTUAACAAAA==");
        assert_eq!((n[0].scheme.as_str(), n[0].rest.as_str()), ("NTLM", "TlRMTVNTUAACAAAA=="));
        assert!(n[0].params.is_empty());
        let bare = parse_all("Negotiate");
        assert_eq!((bare[0].scheme.as_str(), bare[0].rest.as_str()), ("Negotiate", ""));
        let both = parse_all(r#"Basic realm="x", Digest realm="y\"q", nonce="n""#);
        assert_eq!(both.len(), 2, "{both:?}");
        assert_eq!(both[0].param("realm"), Some("x"));
        assert!(both[1].is("Digest"));
        assert_eq!(both[1].param("realm"), Some("y\"q"));
        assert_eq!(quote(r#"CORP\a"b"#), r#""CORP\\a\"b""#);
    }
}
