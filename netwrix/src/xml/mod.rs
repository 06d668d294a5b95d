//! XML codec for every document of the API: record pages and write requests
//! (`ActivityRecordList`), continuation marks, searches (`ActivityRecordSearch`) and
//! error lists (`ErrorList`).
//!
//! XML is the API's default format, so this is the hot path of an export.
//!
//! **Decoding** streams through quick-xml's slice reader (no DOM): invalid UTF-8 is an
//! error at its exact byte, elements are matched by local name whatever their prefix or
//! namespace and order, unknown elements (with everything inside them) are skipped,
//! entities, character references and CDATA are unescaped, and line ends are
//! normalised as XML 1.0 requires (a literal CR or CRLF reads as LF; `&#13;` reads
//! as CR). Values are kept exactly otherwise, leading and trailing whitespace
//! included; only continuation marks are trimmed. An empty element (`<Before/>` or
//! `<Before></Before>`) is `Some("")`. Elements may nest at most [`MAX_DEPTH`] deep.
//! Every failure is a [`DecodeError`] with the byte offset of the fault; no input panics.
//! Record pages in the plain shape servers write are first tried by a hand-written
//! scanner (`Fast`) several times quicker than the event stream; it gives way to the
//! quick-xml decoder on anything unusual, so results and errors are the same either way.
//!
//! **Encoding** appends compact XML (no indentation) to the caller's buffer, in the
//! default namespace, the mark first. Text escapes `&`, `<`, `>` and writes CR as
//! `&#13;` so it survives a parser's line-end normalisation. Characters XML 1.0 cannot
//! carry at all (U+0000–U+0008, U+000B, U+000C, U+000E–U+001F, U+FFFE, U+FFFF; not even
//! as character references) are written as U+FFFD, so the output is always well-formed
//! XML 1.0 that the real server accepts; such values therefore do not round-trip
//! through XML (they do through JSON).

use std::borrow::Cow;

use quick_xml::errors::IllFormedError;
use quick_xml::events::{BytesRef, BytesStart, BytesText, Event};
use quick_xml::Reader;

use crate::errorlist::{ApiError, ErrorList};
use crate::format::{DecodeError, Page};
use crate::model::{ActivityRecord, Detail, Item, MonitoringPlan};
use crate::search::{Filter, FilterValue, Operator, SearchRequest};
use crate::text::{Text, TextBuf};
use crate::{ERRORS_NS, RECORDS_NS};
use bytes::Bytes;

/// How deep elements may nest before the decoder gives up (the API's documents need 5).
pub const MAX_DEPTH: usize = 256;

const BOM: &[u8] = b"\xEF\xBB\xBF";
const DECL_STANDALONE: &[u8] = br#"<?xml version="1.0" standalone="yes"?>"#;
const DECL_UTF8: &[u8] = br#"<?xml version="1.0" encoding="utf-8"?>"#;
const DECL_ERRORS: &[u8] = br#"<?xml version="1.0" encoding="UTF-8"?>"#;

// ---------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------

/// Decodes an enum/search response: `ActivityRecordList` with records and an optional mark.
///
/// A page in the shape the server writes is read by `Fast`; anything else (and every
/// error) goes through the general quick-xml decoder, which gives the same result.
pub fn decode_page(body: &[u8]) -> Result<Page, DecodeError> {
    decode_page_shared(Bytes::copy_from_slice(body))
}

/// [`decode_page`] of a body the records may keep: the fast path cuts their fields out
/// of it without copying (the body lives until the page's last field is dropped).
pub fn decode_page_shared(body: Bytes) -> Result<Page, DecodeError> {
    let buf = TextBuf::new(body);
    match Fast::page(&buf) {
        Some(page) => Ok(page),
        None => decode_page_general(buf.bytes()),
    }
}

/// [`decode_page`] through quick-xml: any well-formed document, and exact error positions.
fn decode_page_general(body: &[u8]) -> Result<Page, DecodeError> {
    let mut c = Cursor::new(body);
    let (_, empty) = c.root("ActivityRecordList")?;
    let mut page = Page::default();
    if !empty {
        loop {
            match c.next()? {
                Event::Start(e) => match e.local_name().as_ref() {
                    "ActivityRecord" => page.records.push(c.record(false)?),
                    "ContinuationMark" => page.mark = Some(trim_xml(c.text()?)),
                    _ => c.skip()?,
                },
                Event::Empty(e) => match e.local_name().as_ref() {
                    "ActivityRecord" => page.records.push(ActivityRecord::default()),
                    "ContinuationMark" => page.mark = Some(String::new()),
                    _ => {}
                },
                Event::End(_) => break,
                Event::Eof => return Err(c.eof()),
                _ => {}
            }
        }
    }
    c.finish()?;
    Ok(page)
}

/// Decodes a write request: an `ActivityRecordList` (a mark in it is ignored).
pub fn decode_records(body: &[u8]) -> Result<Vec<ActivityRecord>, DecodeError> {
    decode_page(body).map(|p| p.records)
}

/// Decodes a continuation-mark request body, trimming the whitespace around the token.
pub fn decode_mark(body: &[u8]) -> Result<String, DecodeError> {
    let mut c = Cursor::new(body);
    let (_, empty) = c.root("ContinuationMark")?;
    let mark = if empty { String::new() } else { trim_xml(c.text()?) };
    c.finish()?;
    Ok(mark)
}

/// Decodes an `ActivityRecordSearch`. `FilterList` is mandatory; the mark is trimmed.
pub fn decode_search(body: &[u8]) -> Result<SearchRequest, DecodeError> {
    let mut c = Cursor::new(body);
    let root_pos = c.start;
    let (_, empty) = c.root("ActivityRecordSearch")?;
    let mut search = SearchRequest::default();
    let mut seen_list = false;
    if !empty {
        loop {
            match c.next()? {
                Event::Start(e) => match e.local_name().as_ref() {
                    "FilterList" => {
                        seen_list = true;
                        c.filter_list(&mut search.filters)?;
                    }
                    "ContinuationMark" => search.mark = Some(trim_xml(c.text()?)),
                    _ => c.skip()?,
                },
                Event::Empty(e) => match e.local_name().as_ref() {
                    "FilterList" => seen_list = true,
                    "ContinuationMark" => search.mark = Some(String::new()),
                    _ => {}
                },
                Event::End(_) => break,
                Event::Eof => return Err(c.eof()),
                _ => {}
            }
        }
    }
    if !seen_list {
        return Err(c.error(root_pos, "ActivityRecordSearch has no FilterList"));
    }
    c.finish()?;
    Ok(search)
}

/// Decodes an `ErrorList` (its namespace is not checked).
pub fn decode_errors(body: &[u8]) -> Result<ErrorList, DecodeError> {
    let mut c = Cursor::new(body);
    let (_, empty) = c.root("ErrorList")?;
    let mut list = ErrorList::default();
    if !empty {
        loop {
            match c.next()? {
                Event::Start(e) if e.local_name().as_ref() == "Error" => list.errors.push(c.api_error()?),
                Event::Empty(e) if e.local_name().as_ref() == "Error" => list.errors.push(ApiError::default()),
                Event::Start(_) => c.skip()?,
                Event::End(_) => break,
                Event::Eof => return Err(c.eof()),
                _ => {}
            }
        }
    }
    c.finish()?;
    Ok(list)
}

mod decode;
mod encode;
mod fast;
#[cfg(test)]
mod tests;

use decode::{is_xml_space, trim_xml, Cursor};
pub use encode::{encode_errors, encode_mark, encode_page, encode_records, encode_search};
use fast::Fast;
