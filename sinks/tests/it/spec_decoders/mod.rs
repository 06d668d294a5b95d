//! Reference decoders for CEF and LEEF, written from the spec (formats.md §1.2 and
//! §2.1) and not from the encoder, so the tests have an independent reader.

#![allow(dead_code)]

/// A decoded CEF record: the seven header fields after `CEF:0`, and the extension pairs.
#[derive(Debug, PartialEq, Eq)]
pub struct Cef {
    pub version: String,
    pub header: Vec<String>,
    pub extension: Vec<(String, String)>,
}

/// Decodes one CEF line. Header: split on `|` not preceded by an odd number of
/// backslashes, then `\|`→`|` and `\\`→`\`. Extension: each `key=` up to the next
/// ` key=` whose `=` is unescaped; then `\\`, `\=`, `\n`, `\r` in one pass.
pub fn decode_cef(line: &str) -> Result<Cef, String> {
    let b = line.as_bytes();
    let mut fields = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < b.len() && fields.len() < 7 {
        if b[i] == b'|' {
            let backslashes = b[start..i].iter().rev().take_while(|c| **c == b'\\').count();
            if backslashes % 2 == 0 {
                fields.push(&line[start..i]);
                start = i + 1;
            }
        }
        i += 1;
    }
    if fields.len() < 7 {
        return Err(format!("fewer than 8 parts: {line:?}"));
    }
    let version = fields[0].strip_prefix("CEF:").ok_or("no CEF: prefix")?.to_owned();
    let header = fields[1..].iter().map(|f| unescape_header(f)).collect();
    let extension = decode_extension(&line[start..])?;
    Ok(Cef { version, header, extension })
}

fn unescape_header(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(n @ ('|' | '\\')) => out.push(n),
                Some(n) => {
                    out.push('\\');
                    out.push(n)
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The start of every ` key=` (or `key=` at 0) in an extension.
fn key_starts(ext: &str) -> Vec<(usize, usize)> {
    let b = ext.as_bytes();
    let mut starts = Vec::new();
    for i in 0..b.len() {
        if i != 0 && b[i - 1] != b' ' {
            continue;
        }
        let mut j = i;
        while j < b.len() && b[j].is_ascii_alphanumeric() {
            j += 1;
        }
        if j > i && j < b.len() && b[j] == b'=' {
            starts.push((i, j));
        }
    }
    starts
}

pub fn decode_extension(ext: &str) -> Result<Vec<(String, String)>, String> {
    if ext.is_empty() {
        return Ok(Vec::new());
    }
    let starts = key_starts(ext);
    if starts.first().map(|s| s.0) != Some(0) {
        return Err(format!("the extension does not start with key=: {ext:?}"));
    }
    let mut pairs = Vec::new();
    for (n, &(k, eq)) in starts.iter().enumerate() {
        let end = starts.get(n + 1).map_or(ext.len(), |next| next.0 - 1);
        pairs.push((ext[k..eq].to_owned(), unescape_value(&ext[eq + 1..end])));
    }
    Ok(pairs)
}

/// `\\`→`\`, `\=`→`=`, `\n`→LF, `\r`→CR, in one left-to-right pass.
pub fn unescape_value(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('\\') => out.push('\\'),
                Some('=') => out.push('='),
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some(n) => {
                    out.push('\\');
                    out.push(n)
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A decoded LEEF record.
#[derive(Debug, PartialEq, Eq)]
pub struct Leef {
    pub version: String,
    /// Vendor, product, version, event id.
    pub header: Vec<String>,
    pub delimiter: char,
    pub attributes: Vec<(String, String)>,
}

/// Decodes one LEEF line: `LEEF:1.0|` + 4 pipe-ended fields + TAB-separated attributes,
/// or `LEEF:2.0|` + 5 fields (the 5th the delimiter: a character, `xHH` or `0xHH`,
/// empty = TAB) + attributes; each attribute is `key=value` split at its first `=`.
pub fn decode_leef(line: &str) -> Result<Leef, String> {
    let rest = line.strip_prefix("LEEF:").ok_or("no LEEF: prefix")?;
    let (version, rest) = rest.split_once('|').ok_or("no version")?;
    let n = match version {
        "1.0" => 4,
        "2.0" => 5,
        v => return Err(format!("unknown LEEF version {v}")),
    };
    let mut parts = rest.splitn(n + 1, '|');
    let mut header: Vec<String> = Vec::new();
    for _ in 0..n {
        header.push(parts.next().ok_or("short header")?.to_owned());
    }
    let attrs = parts.next().ok_or("no attributes part")?;
    let delimiter = if n == 5 {
        let d = header.pop().unwrap_or_default();
        let hex = d.strip_prefix("0x").or_else(|| d.strip_prefix('x'));
        match (d.chars().count(), hex) {
            (0, _) => '\t',
            (1, _) => d.chars().next().unwrap_or('\t'),
            (_, Some(h)) => char::from_u32(u32::from_str_radix(h, 16).map_err(|e| e.to_string())?).ok_or("bad char")?,
            _ => return Err(format!("bad delimiter {d:?}")),
        }
    } else {
        '\t'
    };
    let attributes = if attrs.is_empty() {
        Vec::new()
    } else {
        attrs
            .split(delimiter)
            .map(|kv| kv.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())).ok_or(format!("no = in {kv:?}")))
            .collect::<Result<_, _>>()?
    };
    Ok(Leef { version: version.to_owned(), header, delimiter, attributes })
}
