//! Reading a continuation mark saved by one of Netwrix's add-ons, so a job can take
//! over where the add-on stopped (`auditbridge import-mark`).
//!
//! The add-ons keep the mark in a `…_Cookie.bin` file whose content the Splunk
//! migration guide pastes as is (spec: netwrix-api.md §3.6, compat.md §3). What
//! PowerShell writes depends on the cmdlet and version: plain ASCII, UTF-8 with a BOM
//! (`Set-Content -Encoding UTF8`), UTF-16 LE with a BOM (`Out-File`, `>` in Windows
//! PowerShell 5), UTF-16 BE (`-Encoding BigEndianUnicode`), a CLIXML document
//! (`Export-Clixml`: `<Objs …><S>TOKEN</S></Objs>`), the API's own XML body
//! (`<ContinuationMark …>TOKEN</ContinuationMark>`) or JSON (`ConvertTo-Json`: `"TOKEN"`
//! or an object holding `ContinuationMark`). Every one is accepted; what comes out is
//! checked to look like a mark (one Base64 token) so a wrong file is refused, not sent.

/// Why a file's content is not a usable mark.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarkFileError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is UTF-16 with an odd number of bytes, or holds invalid UTF-16")]
    BadUtf16,
    #[error("the file is not text (neither UTF-8 nor UTF-16)")]
    NotText,
    #[error("the XML holds {0} text values where one mark was expected")]
    XmlNotOneValue(usize),
    #[error("the JSON is not a string nor an object with a ContinuationMark: {0}")]
    JsonShape(String),
    #[error("{0:?} does not look like a continuation mark (one Base64 token)")]
    NotAMark(String),
}

/// How the file was written, for the message that confirms the import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkFileForm {
    Raw,
    Utf8Bom,
    Utf16Le,
    Utf16Be,
    Xml,
    Json,
}

impl MarkFileForm {
    pub fn describe(self) -> &'static str {
        match self {
            MarkFileForm::Raw => "the raw mark",
            MarkFileForm::Utf8Bom => "UTF-8 with a byte-order mark",
            MarkFileForm::Utf16Le => "UTF-16 LE",
            MarkFileForm::Utf16Be => "UTF-16 BE",
            MarkFileForm::Xml => "XML",
            MarkFileForm::Json => "JSON",
        }
    }
}

/// The mark in `bytes` (a file's content), and the form it was found in (the
/// wrapper when there is one, else the encoding).
pub fn read_mark(bytes: &[u8]) -> Result<(String, MarkFileForm), MarkFileError> {
    let (text, encoding) = decode_text(bytes)?;
    let text = text.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    if text.is_empty() {
        return Err(MarkFileError::Empty);
    }
    let (mark, form) = if text.starts_with('<') {
        (xml_value(text)?, MarkFileForm::Xml)
    } else if text.starts_with('"') || text.starts_with('{') {
        (json_value(text)?, MarkFileForm::Json)
    } else {
        (text.to_owned(), encoding)
    };
    Ok((check_mark(&mark)?, form))
}

/// Checks a mark given on the command line or found in a file: one Base64 token,
/// whitespace around it removed (the docs show marks with line breaks around them).
pub fn check_mark(mark: &str) -> Result<String, MarkFileError> {
    let mark = mark.trim();
    let base64 = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '_');
    if mark.is_empty() || !mark.chars().all(base64) {
        let shown: String = mark.chars().take(60).collect();
        return Err(MarkFileError::NotAMark(shown));
    }
    Ok(mark.to_owned())
}

fn decode_text(bytes: &[u8]) -> Result<(String, MarkFileForm), MarkFileError> {
    if bytes.is_empty() {
        return Err(MarkFileError::Empty);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return utf8(rest).map(|t| (t, MarkFileForm::Utf8Bom));
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return utf16(rest, u16::from_le_bytes).map(|t| (t, MarkFileForm::Utf16Le));
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return utf16(rest, u16::from_be_bytes).map(|t| (t, MarkFileForm::Utf16Be));
    }
    // UTF-16 without a BOM: ASCII text then has a NUL in every other byte.
    if bytes.len() >= 2 && bytes.len().is_multiple_of(2) {
        if bytes.iter().skip(1).step_by(2).all(|b| *b == 0) {
            return utf16(bytes, u16::from_le_bytes).map(|t| (t, MarkFileForm::Utf16Le));
        }
        if bytes.iter().step_by(2).all(|b| *b == 0) {
            return utf16(bytes, u16::from_be_bytes).map(|t| (t, MarkFileForm::Utf16Be));
        }
    }
    utf8(bytes).map(|t| (t, MarkFileForm::Raw))
}

fn utf8(bytes: &[u8]) -> Result<String, MarkFileError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| MarkFileError::NotText)
}

fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Result<String, MarkFileError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(MarkFileError::BadUtf16);
    }
    let units: Vec<u16> = bytes.chunks_exact(2).map(|p| unit([p[0], p[1]])).collect();
    String::from_utf16(&units).map_err(|_| MarkFileError::BadUtf16)
}

/// The one text value of an XML document, whatever the element names (CLIXML's
/// `<S>`, the API's `<ContinuationMark>`): declarations, comments and tags dropped.
fn xml_value(text: &str) -> Result<String, MarkFileError> {
    let mut values = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        values.push(&rest[..open]);
        let close = if rest[open..].starts_with("<!--") { rest[open..].find("-->").map(|p| p + 2) } else { None };
        match close.or_else(|| rest[open..].find('>')) {
            Some(end) => rest = &rest[open + end + 1..],
            None => {
                rest = "";
                break;
            }
        }
    }
    values.push(rest);
    let values: Vec<&str> = values.into_iter().map(str::trim).filter(|v| !v.is_empty()).collect();
    match values.as_slice() {
        [one] => Ok(unescape_xml(one)),
        other => Err(MarkFileError::XmlNotOneValue(other.len())),
    }
}

fn unescape_xml(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

/// A JSON string, or the `ContinuationMark` (any case) of a JSON object.
fn json_value(text: &str) -> Result<String, MarkFileError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| MarkFileError::JsonShape(format!("not JSON ({e})")))?;
    match value {
        serde_json::Value::String(mark) => Ok(mark),
        serde_json::Value::Object(map) => map
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("ContinuationMark"))
            .and_then(|(_, v)| v.as_str().map(str::to_owned))
            .ok_or_else(|| MarkFileError::JsonShape("an object without a ContinuationMark string".into())),
        other => Err(MarkFileError::JsonShape(format!("a JSON {}", json_kind(&other)))),
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::Array(_) => "array",
        _ => "value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARK: &str = "PG5yPjxuIG49IntFNzA0MUM1QX0iPjwvbj48L25yPgA=";

    fn utf16le(text: &str, bom: bool) -> Vec<u8> {
        let mut out = if bom { vec![0xFF, 0xFE] } else { Vec::new() };
        out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        out
    }

    #[test]
    fn every_form_the_add_ons_write_gives_the_mark() {
        let be: Vec<u8> = [0xFE, 0xFF].into_iter().chain(MARK.encode_utf16().flat_map(u16::to_be_bytes)).collect();
        let clixml = format!(
            "<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">\r\n  <S>{MARK}</S>\r\n</Objs>"
        );
        let cases: Vec<(Vec<u8>, MarkFileForm)> = vec![
            (MARK.as_bytes().to_vec(), MarkFileForm::Raw),
            (format!("{MARK}\r\n").into_bytes(), MarkFileForm::Raw),
            ([b"\xEF\xBB\xBF".as_slice(), MARK.as_bytes()].concat(), MarkFileForm::Utf8Bom),
            (utf16le(&format!("{MARK}\r\n"), true), MarkFileForm::Utf16Le),
            (utf16le(MARK, false), MarkFileForm::Utf16Le),
            (be, MarkFileForm::Utf16Be),
            (utf16le(&format!("<?xml version=\"1.0\"?>\n<!-- saved -->{clixml}"), true), MarkFileForm::Xml),
            (format!("<ContinuationMark xmlns=\"x\">\n  {MARK}\n</ContinuationMark>").into_bytes(), MarkFileForm::Xml),
            (format!("\"{MARK}\"\n").into_bytes(), MarkFileForm::Json),
            (format!("{{\"continuationMark\": \"{MARK}\", \"saved\": 1}}").into_bytes(), MarkFileForm::Json),
        ];
        for (bytes, form) in cases {
            assert_eq!(read_mark(&bytes), Ok((MARK.to_owned(), form)), "{bytes:?}");
        }
    }

    #[test]
    fn what_is_not_a_mark_is_refused_with_the_reason() {
        assert_eq!(read_mark(b""), Err(MarkFileError::Empty));
        assert_eq!(read_mark(b" \r\n"), Err(MarkFileError::Empty));
        assert!(matches!(read_mark(b"two tokens"), Err(MarkFileError::NotAMark(_))));
        assert_eq!(read_mark(b"<a>x</a><b>y</b>"), Err(MarkFileError::XmlNotOneValue(2)));
        assert!(matches!(read_mark(b"{\"other\": 1}"), Err(MarkFileError::JsonShape(_))));
        assert_eq!(read_mark(b"\xFF\xFEA"), Err(MarkFileError::BadUtf16));
        assert_eq!(read_mark(b"\xC3\x28abc"), Err(MarkFileError::NotText));
    }
}
