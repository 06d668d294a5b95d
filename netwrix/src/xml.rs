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

/// The fast path of [`decode_page`]: a hand-written scanner for pages in the shape the
/// server (and [`encode_page`]) writes them, several times quicker than the event
/// stream because values are sliced straight out of the body, validated as UTF-8 once.
///
/// It accepts only a strict subset of XML, on which it agrees with
/// [`decode_page_general`] (the property tests below check this): an optional exact
/// declaration, the root element bare or with exactly the records namespace, the known
/// elements without prefixes or attributes (space before a tag's `>` or `/>` is fine),
/// text without a literal CR, and only the references `&amp;`, `&lt;`, `&gt;`,
/// `&quot;`, `&apos;`, `&#13;`, `&#10;`, `&#9;`, `&#xD;` and `&#xA;` (.NET's CR and LF).
/// On anything else (comments, CDATA, unknown elements, errors, ...) it returns `None`
/// and the caller decodes the body again with the general decoder.
struct Fast<'a> {
    /// The body, which values are cut from.
    buf: &'a TextBuf,
    /// The body, known to be UTF-8 (a BOM is skipped by starting after it).
    s: &'a str,
    /// Where scanning is, always on a char boundary (just before or after ASCII markup).
    pos: usize,
}

impl<'a> Fast<'a> {
    fn page(buf: &'a TextBuf) -> Option<Page> {
        let s = buf.as_str()?;
        let pos = if s.as_bytes().starts_with(BOM) { BOM.len() } else { 0 };
        let mut f = Fast { buf, s, pos };
        let _ = f.eat(DECL_STANDALONE) || f.eat(DECL_UTF8);
        f.skip_space();
        if !f.eat(b"<ActivityRecordList") {
            return None;
        }
        if f.eat(b" xmlns=\"") && !(f.eat(RECORDS_NS.as_bytes()) && f.eat(b"\"")) {
            return None;
        }
        let mut page = Page::default();
        if f.eat(b">") {
            page.records.reserve(f.rest().len() / 512);
            loop {
                f.skip_text()?;
                if f.eat(b"</ActivityRecordList>") {
                    break;
                }
                let (name, empty) = f.tag()?;
                match name {
                    b"ActivityRecord" if empty => page.records.push(ActivityRecord::default()),
                    b"ActivityRecord" => page.records.push(f.record()?),
                    b"ContinuationMark" => {
                        let mark = f.leaf(name, empty)?;
                        let t = mark.trim_matches(is_xml_space);
                        page.mark = Some(if t.len() == mark.len() { mark.into() } else { t.to_owned() });
                    }
                    _ => return None,
                }
            }
        } else if !f.eat(b"/>") {
            return None;
        }
        f.skip_space();
        if f.pos == f.s.len() {
            Some(page)
        } else {
            None
        }
    }

    fn rest(&self) -> &'a [u8] {
        self.s.as_bytes().get(self.pos..).unwrap_or_default()
    }

    /// Consumes `lit` if the input continues with it.
    fn eat(&mut self, lit: &[u8]) -> bool {
        let hit = self.rest().starts_with(lit);
        if hit {
            self.pos += lit.len();
        }
        hit
    }

    fn skip_space(&mut self) {
        self.pos += self.rest().iter().take_while(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n')).count();
    }

    /// Skips text between elements up to the next `<` (`None` at a reference or the end).
    fn skip_text(&mut self) -> Option<()> {
        let rest = self.rest();
        match rest.first() {
            Some(b'<') => Some(()),
            _ => match rest.iter().position(|&b| b == b'<' || b == b'&') {
                Some(i) if rest[i] == b'<' => {
                    self.pos += i;
                    Some(())
                }
                _ => None,
            },
        }
    }

    /// A start tag `<Name>` or empty tag `<Name/>`: `(Name, empty)`. Whatever else is
    /// between `<` and `>` comes back as the name, and the caller's match on the names
    /// it knows (all plain ASCII) turns it away.
    #[inline]
    fn tag(&mut self) -> Option<(&'a [u8], bool)> {
        let rest = self.rest();
        let close = find(rest.get(..64).unwrap_or(rest), |w| zero_bytes(w ^ splat(b'>')), |c| c == b'>')?;
        let inner = rest.get(1..close)?;
        self.pos += close + 1;
        let (name, empty) = match inner.strip_suffix(b"/") {
            Some(name) => (name, true),
            None => (inner, false),
        };
        // `<Before />` (as .NET writes empty elements): space may end a tag without attributes.
        let mut name = name;
        while let [rest @ .., b' ' | b'\t' | b'\r' | b'\n'] = name {
            name = rest;
        }
        Some((name, empty))
    }

    /// Consumes the end tag `</name>` or fails.
    fn end(&mut self, name: &[u8]) -> Option<()> {
        let rest = self.rest();
        let n = name.len();
        if rest.len() > n + 2 && rest[..2] == *b"</" && rest[2..2 + n] == *name && rest[2 + n] == b'>' {
            self.pos += n + 3;
            Some(())
        } else {
            None
        }
    }

    /// The text of a leaf element whose start tag was just read, and its end tag.
    fn leaf(&mut self, name: &[u8], empty: bool) -> Option<Text> {
        if empty {
            return Some(Text::new());
        }
        let start = self.pos;
        let rest = self.rest();
        let i = text_end(rest)?;
        let value = if rest[i] == b'<' {
            self.pos += i;
            self.buf.text(start..self.pos)?
        } else {
            Text::from(self.leaf_refs(start, i)?)
        };
        self.end(name)?;
        Some(value)
    }

    /// The slow half of [`Fast::leaf`]: text from `start` with a reference `at` bytes in.
    fn leaf_refs(&mut self, start: usize, at: usize) -> Option<String> {
        let mut out = String::with_capacity(at + 32);
        let mut run = start;
        let mut i = start + at;
        loop {
            let b = self.s.as_bytes();
            match b.get(i)? {
                b'<' => {
                    out.push_str(self.s.get(run..i)?);
                    self.pos = i;
                    return Some(out);
                }
                b'&' => {
                    out.push_str(self.s.get(run..i)?);
                    let semi = b.get(i + 1..)?.iter().take(5).position(|&c| c == b';')?;
                    let rep = match &b[i + 1..i + 1 + semi] {
                        b"amp" => "&",
                        b"lt" => "<",
                        b"gt" => ">",
                        b"quot" => "\"",
                        b"apos" => "'",
                        b"#13" => "\r",
                        b"#10" => "\n",
                        b"#9" => "\t",
                        b"#xD" | b"#xd" => "\r",
                        b"#xA" | b"#xa" => "\n",
                        _ => return None,
                    };
                    out.push_str(rep);
                    i += semi + 2;
                    run = i;
                }
                _ => return None,
            }
            i += text_end(b.get(i..)?)?;
        }
    }

    /// Calls `each(self, name, empty)` for every child element up to `close` (`</Name>`).
    fn children(&mut self, close: &[u8], mut each: impl FnMut(&mut Self, &'a [u8], bool) -> Option<()>) -> Option<()> {
        loop {
            self.skip_text()?;
            if self.eat(close) {
                return Some(());
            }
            let (name, empty) = self.tag()?;
            each(self, name, empty)?;
        }
    }

    /// One `ActivityRecord`, after its start tag.
    fn record(&mut self) -> Option<ActivityRecord> {
        let mut r = ActivityRecord::default();
        self.children(b"</ActivityRecord>", |f, name, empty| {
            match name {
                b"RID" => r.rid = Some(f.leaf(name, empty)?),
                b"Who" => r.who = f.leaf(name, empty)?,
                b"Action" => r.action = f.leaf(name, empty)?,
                b"What" => r.what = f.leaf(name, empty)?,
                b"When" => r.when = f.leaf(name, empty)?,
                b"Where" => r.where_ = f.leaf(name, empty)?,
                b"ObjectType" => r.object_type = f.leaf(name, empty)?,
                b"DataSource" => r.data_source = Some(f.leaf(name, empty)?),
                b"Workstation" => r.workstation = Some(f.leaf(name, empty)?),
                b"MonitoringPlan" => {
                    let mut plan = MonitoringPlan::default();
                    if !empty {
                        f.children(b"</MonitoringPlan>", |f, name, empty| {
                            match name {
                                b"Name" => plan.name = Some(f.leaf(name, empty)?),
                                b"ID" => plan.id = Some(f.leaf(name, empty)?),
                                _ => return None,
                            }
                            Some(())
                        })?;
                    }
                    r.monitoring_plan = Some(plan);
                }
                b"Item" => {
                    let mut item = Item::default();
                    if !empty {
                        f.children(b"</Item>", |f, name, empty| match name {
                            b"Name" => {
                                item.name = Some(f.leaf(name, empty)?);
                                Some(())
                            }
                            _ => None,
                        })?;
                    }
                    r.item = Some(item);
                }
                b"DetailList" if empty => {}
                b"DetailList" => {
                    let details = &mut r.details;
                    f.children(b"</DetailList>", |f, name, empty| match name {
                        b"Detail" => {
                            details.push(f.detail(empty)?);
                            Some(())
                        }
                        _ => None,
                    })?;
                }
                _ => return None,
            }
            Some(())
        })?;
        Some(r)
    }

    fn detail(&mut self, empty: bool) -> Option<Detail> {
        let mut d = Detail::default();
        if !empty {
            self.children(b"</Detail>", |f, name, empty| {
                match name {
                    b"PropertyName" => d.property_name = f.leaf(name, empty)?,
                    b"Before" => d.before = Some(f.leaf(name, empty)?),
                    b"After" => d.after = Some(f.leaf(name, empty)?),
                    b"Message" => d.message = Some(f.leaf(name, empty)?),
                    _ => return None,
                }
                Some(())
            })?;
        }
        Some(d)
    }
}

/// A quick-xml reader over a UTF-8 body, with the position bookkeeping errors need.
struct Cursor<'a> {
    reader: Reader<&'a [u8]>,
    /// The whole input (after any BOM), to find the exact byte of invalid UTF-8.
    input: &'a [u8],
    /// Bytes stripped ahead of the reader's input (a UTF-8 BOM), added to every position.
    base: u64,
    /// Where the event last returned by [`Cursor::next`] starts, relative to the reader.
    start: u64,
    /// Elements currently open.
    depth: usize,
}

impl<'a> Cursor<'a> {
    fn new(body: &'a [u8]) -> Self {
        let (base, rest) = match body.strip_prefix(BOM) {
            Some(rest) => (BOM.len() as u64, rest),
            None => (0, body),
        };
        // quick-xml checks that every byte it hands out is UTF-8; only when one is not is
        // the whole input scanned, for the exact position.
        Cursor { reader: Reader::from_reader(rest), input: rest, base, start: 0, depth: 0 }
    }

    /// An error at reader position `pos`.
    fn error(&self, pos: u64, detail: impl Into<String>) -> DecodeError {
        DecodeError::new(self.base + pos, detail)
    }

    /// An error at the start of the event last read.
    fn here(&self, detail: impl Into<String>) -> DecodeError {
        self.error(self.start, detail)
    }

    fn eof(&self) -> DecodeError {
        self.error(self.reader.buffer_position(), format!("document ends with {} element(s) still open", self.depth))
    }

    fn next(&mut self) -> Result<Event<'a>, DecodeError> {
        self.start = self.reader.buffer_position();
        match self.reader.read_event() {
            Ok(ev) => {
                match &ev {
                    Event::Start(_) => {
                        self.depth += 1;
                        if self.depth > MAX_DEPTH {
                            return Err(self.here(format!("elements nested deeper than {MAX_DEPTH}")));
                        }
                    }
                    Event::End(_) => self.depth = self.depth.saturating_sub(1),
                    _ => {}
                }
                Ok(ev)
            }
            Err(e) => {
                // quick-xml points a wrong end tag at its name; point at its `<` like other markup.
                let pos = match e {
                    quick_xml::Error::Encoding(_) => match std::str::from_utf8(self.input) {
                        Err(bad) => return Err(self.error(bad.valid_up_to() as u64, "invalid UTF-8")),
                        Ok(_) => self.reader.error_position(),
                    },
                    quick_xml::Error::IllFormed(
                        IllFormedError::MismatchedEndTag { .. } | IllFormedError::UnmatchedEndTag(_),
                    ) => self.start,
                    _ => self.reader.error_position(),
                };
                Err(self.error(pos, format!("malformed XML: {e}")))
            }
        }
    }

    /// Reads up to the root element, which must be named `name`; `true` if it is empty.
    fn root(&mut self, name: &str) -> Result<(BytesStart<'a>, bool), DecodeError> {
        loop {
            let (e, empty) = match self.next()? {
                Event::Start(e) => (e, false),
                Event::Empty(e) => (e, true),
                Event::Text(t) if is_blank(&t) => continue,
                Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => continue,
                Event::Eof => return Err(self.here(format!("no <{name}> element: the document is empty"))),
                _ => return Err(self.here(format!("text before the root element <{name}>"))),
            };
            if e.local_name().as_ref() != name {
                let found = e.name().as_ref().to_owned();
                return Err(self.here(format!("expected root element <{name}>, found <{found}>")));
            }
            return Ok((e, empty));
        }
    }

    /// After the root element closed: only whitespace, comments and PIs may follow.
    fn finish(&mut self) -> Result<(), DecodeError> {
        loop {
            match self.next()? {
                Event::Eof => return Ok(()),
                Event::Text(t) if is_blank(&t) => {}
                Event::Comment(_) | Event::PI(_) => {}
                _ => return Err(self.here("content after the root element")),
            }
        }
    }

    /// Skips the rest of the element whose start tag was just read, children included.
    fn skip(&mut self) -> Result<(), DecodeError> {
        let target = self.depth.saturating_sub(1);
        loop {
            match self.next()? {
                Event::End(_) if self.depth == target => return Ok(()),
                Event::Eof => return Err(self.eof()),
                _ => {}
            }
        }
    }

    /// The text content of the element whose start tag was just read, up to its end tag.
    /// Child elements are skipped; comments and PIs are ignored.
    fn text(&mut self) -> Result<Cow<'a, str>, DecodeError> {
        let mut acc: Option<Cow<'a, str>> = None;
        loop {
            match self.next()? {
                Event::Text(t) => push(&mut acc, t.xml10_content()),
                Event::CData(t) => push(&mut acc, t.xml10_content()),
                Event::GeneralRef(r) => {
                    let s = self.resolve(&r)?;
                    push(&mut acc, s)
                }
                Event::Start(_) => self.skip()?,
                Event::End(_) => return Ok(acc.unwrap_or(Cow::Borrowed(""))),
                Event::Eof => return Err(self.eof()),
                _ => {}
            }
        }
    }

    /// The text of a leaf element: `""` when it is empty (`<X/>`).
    fn leaf(&mut self, empty: bool) -> Result<Text, DecodeError> {
        if empty {
            Ok(Text::new())
        } else {
            Ok(Text::from(self.text()?))
        }
    }

    /// Resolves `&name;` or a character reference.
    fn resolve(&self, r: &BytesRef<'a>) -> Result<Cow<'a, str>, DecodeError> {
        match r.resolve_char_ref() {
            Ok(Some(ch)) => Ok(Cow::Owned(ch.to_string())),
            Ok(None) => match quick_xml::escape::resolve_predefined_entity(r) {
                Some(s) => Ok(Cow::Borrowed(s)),
                None => Err(self.here(format!("unknown entity &{};", &**r))),
            },
            Err(e) => Err(self.here(format!("bad character reference &{};: {e}", &**r))),
        }
    }

    /// One `ActivityRecord`, after its start tag.
    fn record(&mut self, empty: bool) -> Result<ActivityRecord, DecodeError> {
        let mut r = ActivityRecord::default();
        if empty {
            return Ok(r);
        }
        loop {
            let (e, empty) = match self.next()? {
                Event::Start(e) => (e, false),
                Event::Empty(e) => (e, true),
                Event::End(_) => return Ok(r),
                Event::Eof => return Err(self.eof()),
                _ => continue,
            };
            match e.local_name().as_ref() {
                "RID" => r.rid = Some(self.leaf(empty)?),
                "Who" => r.who = self.leaf(empty)?,
                "Action" => r.action = self.leaf(empty)?,
                "What" => r.what = self.leaf(empty)?,
                "When" => r.when = self.leaf(empty)?,
                "Where" => r.where_ = self.leaf(empty)?,
                "ObjectType" => r.object_type = self.leaf(empty)?,
                "DataSource" => r.data_source = Some(self.leaf(empty)?),
                "Workstation" => r.workstation = Some(self.leaf(empty)?),
                "MonitoringPlan" => {
                    let mut plan = MonitoringPlan::default();
                    if !empty {
                        self.children(|c, name, empty| {
                            match name {
                                "Name" => plan.name = Some(c.leaf(empty)?),
                                "ID" => plan.id = Some(c.leaf(empty)?),
                                _ => c.skip_if(empty)?,
                            }
                            Ok(())
                        })?;
                    }
                    r.monitoring_plan = Some(plan);
                }
                "Item" => {
                    let mut item = Item::default();
                    if !empty {
                        self.children(|c, name, empty| {
                            match name {
                                "Name" => item.name = Some(c.leaf(empty)?),
                                _ => c.skip_if(empty)?,
                            }
                            Ok(())
                        })?;
                    }
                    r.item = Some(item);
                }
                "DetailList" if !empty => {
                    let details = &mut r.details;
                    self.children(|c, name, empty| {
                        match name {
                            "Detail" => details.push(c.detail(empty)?),
                            _ => c.skip_if(empty)?,
                        }
                        Ok(())
                    })?;
                }
                _ => self.skip_if(empty)?,
            }
        }
    }

    fn detail(&mut self, empty: bool) -> Result<Detail, DecodeError> {
        let mut d = Detail::default();
        if !empty {
            self.children(|c, name, empty| {
                match name {
                    "PropertyName" => d.property_name = c.leaf(empty)?,
                    "Before" => d.before = Some(c.leaf(empty)?),
                    "After" => d.after = Some(c.leaf(empty)?),
                    "Message" => d.message = Some(c.leaf(empty)?),
                    _ => c.skip_if(empty)?,
                }
                Ok(())
            })?;
        }
        Ok(d)
    }

    fn api_error(&mut self) -> Result<ApiError, DecodeError> {
        let mut e = ApiError::default();
        self.children(|c, name, empty| {
            match name {
                "Category" => e.category = c.leaf(empty)?.into(),
                "Description" => e.description = c.leaf(empty)?.into(),
                "Location" => e.location = Some(c.leaf(empty)?.into()),
                _ => c.skip_if(empty)?,
            }
            Ok(())
        })?;
        Ok(e)
    }

    /// Skips a child element unless it was empty (an empty one is already complete).
    fn skip_if(&mut self, empty: bool) -> Result<(), DecodeError> {
        if empty {
            Ok(())
        } else {
            self.skip()
        }
    }

    /// Calls `each(cursor, local_name, empty)` for every child element of the element
    /// just opened, until its end tag. Text between children is ignored. `each` must
    /// consume a non-empty child completely.
    fn children(
        &mut self,
        mut each: impl FnMut(&mut Self, &str, bool) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        loop {
            match self.next()? {
                Event::Start(e) => each(self, e.local_name().as_ref(), false)?,
                Event::Empty(e) => each(self, e.local_name().as_ref(), true)?,
                Event::End(_) => return Ok(()),
                Event::Eof => return Err(self.eof()),
                _ => {}
            }
        }
    }

    /// The filters of a `FilterList`, after its start tag.
    fn filter_list(&mut self, out: &mut Vec<Filter>) -> Result<(), DecodeError> {
        loop {
            let (e, empty) = match self.next()? {
                Event::Start(e) => (e, false),
                Event::Empty(e) => (e, true),
                Event::End(_) => return Ok(()),
                Event::Eof => return Err(self.eof()),
                _ => continue,
            };
            let pos = self.start;
            let field = e.local_name().as_ref().to_owned();
            let mut operator = None;
            for attr in e.attributes() {
                let attr = attr.map_err(|err| self.error(pos, format!("malformed attribute in <{field}>: {err}")))?;
                if attr.key.local_name().as_ref() == "Operator" {
                    let value = attr
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|err| self.error(pos, format!("bad Operator value in <{field}>: {err}")))?;
                    let op = Operator::parse(value.trim_matches(is_xml_space))
                        .ok_or_else(|| self.error(pos, format!("unknown operator \"{value}\" in <{field}>")))?;
                    operator = Some(op);
                }
            }
            let value = if empty { FilterValue::Text(String::new()) } else { self.filter_value(pos, &field)? };
            out.push(Filter { field, operator, value });
        }
    }

    /// The value of one filter element: text, `<From>`/`<To>`, or one named period.
    fn filter_value(&mut self, pos: u64, field: &str) -> Result<FilterValue, DecodeError> {
        let mut text: Option<Cow<'a, str>> = None;
        let (mut from, mut to, mut period) = (None, None, None::<String>);
        let mut interval = false;
        loop {
            let (e, empty) = match self.next()? {
                Event::Text(t) => {
                    push(&mut text, t.xml10_content());
                    continue;
                }
                Event::CData(t) => {
                    push(&mut text, t.xml10_content());
                    continue;
                }
                Event::GeneralRef(r) => {
                    let s = self.resolve(&r)?;
                    push(&mut text, s);
                    continue;
                }
                Event::Start(e) => (e, false),
                Event::Empty(e) => (e, true),
                Event::End(_) => break,
                Event::Eof => return Err(self.eof()),
                _ => continue,
            };
            match e.local_name().as_ref() {
                "From" => {
                    interval = true;
                    from = Some(self.leaf(empty)?.into());
                }
                "To" => {
                    interval = true;
                    to = Some(self.leaf(empty)?.into());
                }
                name => {
                    if period.is_some() {
                        return Err(self.error(pos, format!("<{field}> holds more than one named period")));
                    }
                    period = Some(name.to_owned());
                    self.skip_if(empty)?;
                }
            }
        }
        match (period, interval) {
            (Some(_), true) => Err(self.error(pos, format!("<{field}> mixes a named period with From/To"))),
            (Some(p), false) => Ok(FilterValue::Period(p)),
            (None, true) => Ok(FilterValue::Interval { from, to }),
            (None, false) => Ok(FilterValue::Text(text.map(Cow::into_owned).unwrap_or_default())),
        }
    }
}

/// Where a run of plain text in `b` ends: its first `<`, `&` or CR.
fn text_end(b: &[u8]) -> Option<usize> {
    find(
        b,
        |w| zero_bytes(w ^ splat(b'<')) | zero_bytes(w ^ splat(b'&')) | zero_bytes(w ^ splat(b'\r')),
        |c| matches!(c, b'<' | b'&' | b'\r'),
    )
}

/// `c` in every byte of a word.
const fn splat(c: u8) -> u64 {
    0x0101_0101_0101_0101 * c as u64
}

/// The high bit of each zero byte of `x` set. Bytes above a zero byte may be flagged
/// too (the borrow runs on), but the lowest flag is always exact.
const fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(splat(1)) & !x & splat(0x80)
}

/// The first byte of `b` that `is`, eight bytes at a time: `hits` flags (as
/// [`zero_bytes`] does) the bytes of a little-endian word that `is`.
fn find(b: &[u8], hits: impl Fn(u64) -> u64, is: impl Fn(u8) -> bool) -> Option<usize> {
    let mut chunks = b.chunks_exact(8);
    let mut at = 0;
    for c in &mut chunks {
        let h = hits(u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]));
        if h != 0 {
            return Some(at + (h.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks.remainder().iter().position(|&c| is(c)).map(|i| at + i)
}

fn push<'a>(acc: &mut Option<Cow<'a, str>>, piece: Cow<'a, str>) {
    match acc {
        None => *acc = Some(piece),
        Some(a) => a.to_mut().push_str(&piece),
    }
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_blank(t: &BytesText<'_>) -> bool {
    t.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// `s` without the XML whitespace around it, reusing its buffer when nothing is trimmed.
fn trim_xml(s: Cow<'_, str>) -> String {
    let t = s.trim_matches(is_xml_space);
    if t.len() == s.len() {
        s.into_owned()
    } else {
        t.to_owned()
    }
}

// ---------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------

/// Appends an enum/search response: declaration, `ActivityRecordList`, the mark first.
pub fn encode_page(page: &Page, out: &mut Vec<u8>) {
    write_list(page.mark.as_deref(), &page.records, out);
}

/// Appends a write request: an `ActivityRecordList` without a mark.
pub fn encode_records(records: &[ActivityRecord], out: &mut Vec<u8>) {
    write_list(None, records, out);
}

/// Appends a continuation-mark request body.
pub fn encode_mark(mark: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(DECL_STANDALONE);
    out.extend_from_slice(b"<ContinuationMark xmlns=\"");
    out.extend_from_slice(RECORDS_NS.as_bytes());
    out.extend_from_slice(b"\">");
    escape(mark, false, out);
    out.extend_from_slice(b"</ContinuationMark>");
}

/// Appends an `ActivityRecordSearch`: the mark first, then the filters in order. A
/// field or period name is written as an element name, with characters that cannot
/// appear in an XML name dropped. An interval with neither end reads back as empty text.
pub fn encode_search(search: &SearchRequest, out: &mut Vec<u8>) {
    out.extend_from_slice(DECL_UTF8);
    out.extend_from_slice(b"<ActivityRecordSearch xmlns=\"");
    out.extend_from_slice(RECORDS_NS.as_bytes());
    out.extend_from_slice(b"\">");
    if let Some(mark) = &search.mark {
        leaf(b"ContinuationMark", mark, out);
    }
    out.extend_from_slice(b"<FilterList>");
    for f in &search.filters {
        let name_at = out.len() + 1;
        out.push(b'<');
        push_name(&f.field, out);
        let name_end = out.len();
        if let Some(op) = f.operator {
            out.extend_from_slice(b" Operator=\"");
            out.extend_from_slice(op.as_str().as_bytes());
            out.push(b'"');
        }
        out.push(b'>');
        match &f.value {
            FilterValue::Text(s) => escape(s, false, out),
            FilterValue::Interval { from, to } => {
                if let Some(from) = from {
                    leaf(b"From", from, out);
                }
                if let Some(to) = to {
                    leaf(b"To", to, out);
                }
            }
            FilterValue::Period(p) => {
                out.push(b'<');
                push_name(p, out);
                out.extend_from_slice(b"/>");
            }
        }
        out.extend_from_slice(b"</");
        out.extend_from_within(name_at..name_end);
        out.push(b'>');
    }
    out.extend_from_slice(b"</FilterList></ActivityRecordSearch>");
}

/// Appends an `ErrorList` in the errors' namespace.
pub fn encode_errors(errors: &ErrorList, out: &mut Vec<u8>) {
    out.extend_from_slice(DECL_ERRORS);
    out.extend_from_slice(b"<ErrorList xmlns=\"");
    out.extend_from_slice(ERRORS_NS.as_bytes());
    out.extend_from_slice(b"\">");
    for e in &errors.errors {
        out.extend_from_slice(b"<Error>");
        leaf(b"Category", &e.category, out);
        leaf(b"Description", &e.description, out);
        if let Some(loc) = &e.location {
            leaf(b"Location", loc, out);
        }
        out.extend_from_slice(b"</Error>");
    }
    out.extend_from_slice(b"</ErrorList>");
}

fn write_list(mark: Option<&str>, records: &[ActivityRecord], out: &mut Vec<u8>) {
    out.reserve(128 + records.len() * 640);
    out.extend_from_slice(DECL_STANDALONE);
    out.extend_from_slice(b"<ActivityRecordList xmlns=\"");
    out.extend_from_slice(RECORDS_NS.as_bytes());
    out.extend_from_slice(b"\">");
    if let Some(mark) = mark {
        leaf(b"ContinuationMark", mark, out);
    }
    for r in records {
        write_record(r, out);
    }
    out.extend_from_slice(b"</ActivityRecordList>");
}

/// One record, in the element order of the documentation's sample.
fn write_record(r: &ActivityRecord, out: &mut Vec<u8>) {
    out.extend_from_slice(b"<ActivityRecord>");
    if let Some(plan) = &r.monitoring_plan {
        out.extend_from_slice(b"<MonitoringPlan>");
        opt_leaf(b"Name", plan.name.as_deref(), out);
        opt_leaf(b"ID", plan.id.as_deref(), out);
        out.extend_from_slice(b"</MonitoringPlan>");
    }
    opt_leaf(b"DataSource", r.data_source.as_deref(), out);
    if let Some(item) = &r.item {
        out.extend_from_slice(b"<Item>");
        opt_leaf(b"Name", item.name.as_deref(), out);
        out.extend_from_slice(b"</Item>");
    }
    leaf(b"ObjectType", &r.object_type, out);
    opt_leaf(b"RID", r.rid.as_deref(), out);
    leaf(b"What", &r.what, out);
    leaf(b"Action", &r.action, out);
    leaf(b"When", &r.when, out);
    leaf(b"Where", &r.where_, out);
    leaf(b"Who", &r.who, out);
    opt_leaf(b"Workstation", r.workstation.as_deref(), out);
    if !r.details.is_empty() {
        out.extend_from_slice(b"<DetailList>");
        for d in &r.details {
            out.extend_from_slice(b"<Detail>");
            leaf(b"PropertyName", &d.property_name, out);
            opt_leaf(b"Before", d.before.as_deref(), out);
            opt_leaf(b"After", d.after.as_deref(), out);
            opt_leaf(b"Message", d.message.as_deref(), out);
            out.extend_from_slice(b"</Detail>");
        }
        out.extend_from_slice(b"</DetailList>");
    }
    out.extend_from_slice(b"</ActivityRecord>");
}

fn leaf(name: &[u8], value: &str, out: &mut Vec<u8>) {
    out.push(b'<');
    out.extend_from_slice(name);
    out.push(b'>');
    escape(value, false, out);
    out.extend_from_slice(b"</");
    out.extend_from_slice(name);
    out.push(b'>');
}

fn opt_leaf(name: &[u8], value: Option<&str>, out: &mut Vec<u8>) {
    if let Some(v) = value {
        leaf(name, v, out);
    }
}

/// U+FFFD, written in place of a character XML 1.0 cannot carry.
const REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();

/// Appends `s` escaped for element text (or, with `attr`, for a double-quoted attribute).
fn escape(s: &str, attr: bool, out: &mut Vec<u8>) {
    let b = s.as_bytes();
    let mut run = 0;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let (rep, len): (&[u8], usize) = match c {
            b'&' => (b"&amp;", 1),
            b'<' => (b"&lt;", 1),
            b'>' => (b"&gt;", 1),
            b'\r' => (b"&#13;", 1),
            b'"' if attr => (b"&quot;", 1),
            b'\n' if attr => (b"&#10;", 1),
            b'\t' if attr => (b"&#9;", 1),
            b'\t' | b'\n' => {
                i += 1;
                continue;
            }
            0..=0x1f => (REPLACEMENT, 1),
            // U+FFFE and U+FFFF (EF BF BE / EF BF BF) are not XML characters either.
            0xEF if b.get(i + 1) == Some(&0xBF) && matches!(b.get(i + 2), Some(0xBE | 0xBF)) => (REPLACEMENT, 3),
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&b[run..i]);
        out.extend_from_slice(rep);
        i += len;
        run = i;
    }
    out.extend_from_slice(&b[run..]);
}

/// Appends `name` as an XML element name: characters that cannot be in a name are
/// dropped, and `_` is put first if what is left could not start one.
fn push_name(name: &str, out: &mut Vec<u8>) {
    let start = out.len();
    for ch in name.chars() {
        let ok =
            ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.') || (ch as u32 >= 0xC0 && ch.is_alphanumeric());
        if ok {
            let mut buf = [0u8; 4];
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        }
    }
    let first = out.get(start).copied();
    if matches!(first, None | Some(b'0'..=b'9' | b'-' | b'.')) {
        out.insert(start, b'_');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path alone, on a copy of `body`.
    fn fast(body: &[u8]) -> Option<Page> {
        Fast::page(&TextBuf::new(body.to_vec()))
    }
    use proptest::prelude::*;

    fn page_of(records: Vec<ActivityRecord>, mark: Option<String>) -> Vec<u8> {
        let mut body = Vec::new();
        encode_page(&Page { records, mark }, &mut body);
        body
    }

    #[test]
    fn fast_path_reads_generated_pages_like_the_general_decoder() {
        for seed in 0..20 {
            let body = page_of(crate::generate::generate(300, seed), Some(format!(" mark {seed}\n")));
            let fast = fast(&body).expect("a page as the encoder writes it takes the fast path");
            assert_eq!(Ok(fast), decode_page_general(&body));
        }
    }

    proptest! {
        /// The word-at-a-time scan finds what a byte-at-a-time one does.
        #[test]
        fn text_end_matches_a_plain_scan(b in scan_input()) {
            prop_assert_eq!(text_end(&b), b.iter().position(|&c| matches!(c, b'<' | b'&' | b'\r')));
            let gt = find(&b, |w| zero_bytes(w ^ splat(b';')), |c| c == b';');
            prop_assert_eq!(gt, b.iter().position(|&c| c == b';'));
        }
    }

    fn scan_input() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(prop::sample::select(b"ab<&\r\n\x80\xFF\x00;".to_vec()), 0..40)
    }

    /// One edit of an encoded page: where, which kind, and a second number for the kind.
    fn edit() -> impl Strategy<Value = (prop::sample::Index, u8, prop::sample::Index)> {
        (any::<prop::sample::Index>(), 0..4u8, any::<prop::sample::Index>())
    }

    #[test]
    fn fast_path_edge_cases_agree() {
        let ns = RECORDS_NS;
        let cases = [
            "<ActivityRecordList/>".to_string(),
            format!("\u{FEFF}<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<ActivityRecordList xmlns=\"{ns}\"/>"),
            "<ActivityRecordList><ActivityRecord/><ContinuationMark/></ActivityRecordList>\n".to_string(),
            "<ActivityRecordList> x <ActivityRecord> y <Who>a&amp;b&#13;&#10;&#9;&lt;&gt;&quot;&apos;</Who>\
             <DetailList/><MonitoringPlan/><Item/>\
             <DetailList><Detail/><Detail><Before /><After\t/></Detail></DetailList>\
             <Who></Who><RID>1</RID><RID>2</RID><What >&#xD;&#xA;&#xd;&#xa;</What></ActivityRecord>\
             <ActivityRecord\n/></ActivityRecordList>"
                .to_string(),
        ];
        for c in cases {
            assert_eq!(fast(c.as_bytes()).map(Ok), Some(decode_page_general(c.as_bytes())), "{c}");
        }
        // Shapes the fast path leaves to the general decoder.
        let general = [
            "<ActivityRecordList xmlns=\"urn:other\"/>",
            "<a:ActivityRecordList xmlns:a=\"x\"/>",
            "<ActivityRecordList><ActivityRecord><Who>a\r\nb</Who></ActivityRecord></ActivityRecordList>",
            "<ActivityRecordList><ActivityRecord><Who>&#65;</Who></ActivityRecord></ActivityRecordList>",
            "<ActivityRecordList><ActivityRecord><Who><![CDATA[x]]></Who></ActivityRecord></ActivityRecordList>",
            "<ActivityRecordList><ActivityRecord><Who a=\"1\">x</Who></ActivityRecord></ActivityRecordList>",
            "<ActivityRecordList><ActivityRecord><Who>&#xD</Who></ActivityRecord></ActivityRecordList>",
            "<ActivityRecordList><ActivityRecord><Who>x</Who ></ActivityRecord></ActivityRecordList>",
            "<ActivityRecordList><ActivityRecord><Other/></ActivityRecord></ActivityRecordList>",
            "<ActivityRecordList><!-- c --></ActivityRecordList>",
            "<ActivityRecordList>&amp;</ActivityRecordList>",
            "<ActivityRecordList></ActivityRecordList><!-- c -->",
            "<ActivityRecordList><ActivityRecord><Who>x</What></ActivityRecord></ActivityRecordList>",
            "<ActivityRecordList><ActivityRecord>",
        ];
        for c in general {
            assert_eq!(fast(c.as_bytes()), None, "{c}");
        }
        assert_eq!(fast(b"<ActivityRecordList>\xFF</ActivityRecordList>"), None);
    }

    /// Pieces spliced into encoded pages to push them off (or along) the fast path.
    const SPLICES: &[&str] = &[
        "&amp;",
        "&lt;",
        "&#13;",
        "&#10;",
        "&#9;",
        "&#xD;",
        "&#xa;",
        "&#x;",
        " />",
        "\t>",
        "&#65;",
        "&#x41;",
        "&bogus;",
        "&",
        "&amp",
        "<",
        ">",
        "/>",
        "/",
        "\r",
        "\r\n",
        "\n",
        " ",
        "\t",
        "<!--c-->",
        "<![CDATA[x&]]>",
        "<?pi x?>",
        "<X/>",
        "<X>",
        "</X>",
        "<Who>",
        "</Who>",
        "<Detail>",
        "</Detail>",
        "<DetailList/>",
        "<ActivityRecord/>",
        "</ActivityRecord>",
        "<ContinuationMark>",
        "</ActivityRecordList>",
        "a:",
        "xmlns=\"x\"",
        "\u{1}",
        "\u{FEFF}",
        "ü",
        "東",
        "\"",
        "'",
    ];

    fn text() -> impl Strategy<Value = Text> {
        "[a-z &<>'\"\r\n\t\u{1}ü東-]{0,10}".prop_map(Text::from)
    }

    fn record() -> impl Strategy<Value = ActivityRecord> {
        let detail = (text(), proptest::option::of(text()), proptest::option::of(text()), proptest::option::of(text()))
            .prop_map(|(property_name, before, after, message)| Detail { property_name, before, after, message });
        (
            (proptest::option::of(text()), text(), text(), text(), text(), text(), text()),
            proptest::option::of((proptest::option::of(text()), proptest::option::of(text()))),
            (proptest::option::of(text()), proptest::option::of(proptest::option::of(text()))),
            (proptest::option::of(text()), proptest::collection::vec(detail, 0..3)),
        )
            .prop_map(
                |((rid, who, action, what, when, where_, object_type), plan, (data_source, item), (ws, details))| {
                    ActivityRecord {
                        rid,
                        who,
                        action,
                        what,
                        when,
                        where_,
                        object_type,
                        monitoring_plan: plan.map(|(name, id)| MonitoringPlan { name, id }),
                        data_source,
                        item: item.map(|name| Item { name }),
                        workstation: ws,
                        details,
                    }
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// Whatever the fast path accepts, it reads exactly as the general decoder does.
        #[test]
        fn fast_path_agrees_with_general_decoder(
            records in proptest::collection::vec(record(), 0..4),
            mark in proptest::option::of(text()),
            edits in proptest::collection::vec(edit(), 0..4),
        ) {
            let mut body = page_of(records, mark.map(String::from));
            let clean = edits.is_empty();
            for (at, op, piece) in edits {
                let i = at.index(body.len() + 1);
                match op {
                    0 => { body.splice(i..i, piece.get(SPLICES).bytes()); }
                    1 => { body.drain(i..(i + piece.index(8)).min(body.len())); }
                    2 => if let Some(b) = body.get_mut(i) { *b ^= 1 << piece.index(8) },
                    _ => { let n = piece.index(body.len() + 1); body.truncate(n.max(i.min(n))); }
                }
            }
            let general = decode_page_general(&body);
            match fast(&body) {
                Some(fast) => prop_assert_eq!(Ok(fast), general),
                None => prop_assert!(!clean, "an encoded page missed the fast path"),
            }
        }
    }

    #[test]
    fn escape_handles_markup_cr_and_illegal_chars() {
        let mut out = Vec::new();
        escape("a&b<c>]]>\r\n\t\u{1}\u{FFFE}ü\"", false, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "a&amp;b&lt;c&gt;]]&gt;&#13;\n\t\u{FFFD}\u{FFFD}ü\"");
    }

    #[test]
    fn names_are_sanitised() {
        let mut out = Vec::new();
        push_name("Monitoring Plan", &mut out);
        push_name("", &mut out);
        push_name("1x", &mut out);
        assert_eq!(out, b"MonitoringPlan__1x");
    }
}
