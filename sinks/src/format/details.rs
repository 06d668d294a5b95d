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
use std::cell::Cell;

thread_local! {
    /// The buffer [`with_rendered`] renders into, kept per thread so that the details of
    /// each record do not cost a new `String`. It is taken out while in use, so a nested
    /// call simply starts an empty one.
    static SCRATCH: Cell<String> = const { Cell::new(String::new()) };
}

/// Longest scratch buffer kept between records; a larger one is freed after use.
const SCRATCH_KEEP: usize = 64 * 1024;

/// Calls `f` with the text of `details` ([`render`] with `separator`), rendered into a
/// buffer reused across calls on the same thread.
pub fn with_rendered<R>(details: &[Detail], separator: &str, f: impl FnOnce(&str) -> R) -> R {
    let mut text = SCRATCH.try_with(Cell::take).unwrap_or_default();
    text.clear();
    render(details, separator, &mut text);
    let result = f(&text);
    if text.capacity() <= SCRATCH_KEEP {
        // Fails only while the thread is torn down; the buffer is then just dropped.
        let _ = SCRATCH.try_with(|cell| cell.set(text));
    }
    result
}

/// Appends the text of `details` to `out`, separated by `separator`.
pub fn render<'d>(details: &'d [Detail], separator: &str, out: &mut String) {
    for (i, d) in details.iter().enumerate() {
        if i > 0 {
            out.push_str(separator);
        }
        let present = |v: &'d Option<netwrix::Text>| v.as_deref().filter(|s| !s.is_empty());
        let p = d.property_name.as_str();
        // Pieces pushed one by one: `write!` and its formatting machinery cost more than
        // the text itself, and this runs for every CEF and LEEF record with details.
        let pieces: [&str; 6] = match (present(&d.message), present(&d.before), present(&d.after)) {
            (Some(m), _, _) => [m, "", "", "", "", ""],
            (None, Some(b), Some(a)) => [p, " changed from \"", b, "\" to \"", a, "\""],
            (None, None, Some(a)) => [p, " set to \"", a, "\"", "", ""],
            (None, Some(b), None) => [p, " cleared (was \"", b, "\")", "", ""],
            (None, None, None) => [p, "", "", "", "", ""],
        };
        for piece in pieces {
            out.push_str(piece);
        }
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
    fn the_lent_text_is_the_rendered_text_even_when_nested() {
        let outer = [d("a", Some("1"), Some("2"), None)];
        let inner = [d("b", None, None, Some("m")), d("c", None, Some("3"), None)];
        let got = with_rendered(&outer, "; ", |o| {
            let i = with_rendered(&inner, "\n", str::to_owned);
            format!("{o}|{i}")
        });
        assert_eq!(got, "a changed from \"1\" to \"2\"|m\nc set to \"3\"");
        assert_eq!(with_rendered(&inner, "; ", str::to_owned), "m; c set to \"3\"");
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
