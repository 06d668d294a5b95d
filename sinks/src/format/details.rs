//! One human-readable text from a record's DetailList, for CEF `msg` and LEEF `details`.
//!
//! Netwrix's add-ons show a "Details" string built from DetailList; its exact wording is
//! not documented, so this one is ours and stable:
//!
//! | Detail | Text |
//! |---|---|
//! | `Message` present and not empty | the Message |
//! | Before and After (both not empty) | `PropertyName changed from "Before" to "After"` |
//! | After only | `PropertyName set to "After"` |
//! | Before only | `PropertyName cleared (was "Before")` |
//! | neither | `PropertyName` |
//!
//! Details are joined by the caller's separator (CEF: a line feed, written `\n`; LEEF: `; `).

use netwrix::Detail;
use std::fmt::Write;

/// Appends the text of `details` to `out`, separated by `separator`.
pub fn render(details: &[Detail], separator: &str, out: &mut String) {
    for (i, d) in details.iter().enumerate() {
        if i > 0 {
            out.push_str(separator);
        }
        let present = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(str::to_owned);
        let p = &d.property_name;
        // Writing into a String cannot fail.
        let _ = match (present(&d.message), present(&d.before), present(&d.after)) {
            (Some(m), _, _) => write!(out, "{m}"),
            (None, Some(b), Some(a)) => write!(out, "{p} changed from \"{b}\" to \"{a}\""),
            (None, None, Some(a)) => write!(out, "{p} set to \"{a}\""),
            (None, Some(b), None) => write!(out, "{p} cleared (was \"{b}\")"),
            (None, None, None) => write!(out, "{p}"),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(p: &str, b: Option<&str>, a: Option<&str>, m: Option<&str>) -> Detail {
        Detail {
            property_name: p.into(),
            before: b.map(Into::into),
            after: a.map(Into::into),
            message: m.map(Into::into),
        }
    }

    #[test]
    fn each_shape_has_its_text() {
        let details = [
            d("description", Some("old"), Some("new"), None),
            d("member", Some(""), Some("CORP\\asmith"), None),
            d("manager", Some("bob"), None, None),
            d("flag", None, None, Some("")),
            d("pwd", None, None, Some("Administrative Password Reset")),
        ];
        let mut out = String::new();
        render(&details, " | ", &mut out);
        assert_eq!(
            out,
            "description changed from \"old\" to \"new\" | member set to \"CORP\\asmith\" | \
             manager cleared (was \"bob\") | flag | Administrative Password Reset"
        );
    }
}
