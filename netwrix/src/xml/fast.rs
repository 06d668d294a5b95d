//! The fast path of record-page decoding: a hand-written scanner for pages in the plain
//! shape servers write, several times quicker than quick-xml's event stream (measured in
//! docs/performance.md); it gives way to the general decoder on anything unusual.

use super::*;

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
pub(super) struct Fast<'a> {
    /// The body, which values are cut from.
    buf: &'a TextBuf,
    /// The body, known to be UTF-8 (a BOM is skipped by starting after it).
    s: &'a str,
    /// Where scanning is, always on a char boundary (just before or after ASCII markup).
    pos: usize,
}

impl<'a> Fast<'a> {
    pub(super) fn page(buf: &'a TextBuf) -> Option<Page> {
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

    pub(super) fn rest(&self) -> &'a [u8] {
        self.s.as_bytes().get(self.pos..).unwrap_or_default()
    }

    /// Consumes `lit` if the input continues with it.
    pub(super) fn eat(&mut self, lit: &[u8]) -> bool {
        let hit = self.rest().starts_with(lit);
        if hit {
            self.pos += lit.len();
        }
        hit
    }

    pub(super) fn skip_space(&mut self) {
        self.pos += self.rest().iter().take_while(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n')).count();
    }

    /// Skips text between elements up to the next `<` (`None` at a reference or the end).
    pub(super) fn skip_text(&mut self) -> Option<()> {
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
    pub(super) fn tag(&mut self) -> Option<(&'a [u8], bool)> {
        let rest = self.rest();
        let close = memchr::memchr(b'>', rest.get(..64).unwrap_or(rest))?;
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
    pub(super) fn end(&mut self, name: &[u8]) -> Option<()> {
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
    pub(super) fn leaf(&mut self, name: &[u8], empty: bool) -> Option<Text> {
        if empty {
            return Some(Text::new());
        }
        let start = self.pos;
        let rest = self.rest();
        let i = memchr::memchr3(b'<', b'&', b'\r', rest)?;
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
    pub(super) fn leaf_refs(&mut self, start: usize, at: usize) -> Option<String> {
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
            i += memchr::memchr3(b'<', b'&', b'\r', b.get(i..)?)?;
        }
    }

    /// Calls `each(self, name, empty)` for every child element up to `close` (`</Name>`).
    pub(super) fn children(
        &mut self,
        close: &[u8],
        mut each: impl FnMut(&mut Self, &'a [u8], bool) -> Option<()>,
    ) -> Option<()> {
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
    pub(super) fn record(&mut self) -> Option<ActivityRecord> {
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

    pub(super) fn detail(&mut self, empty: bool) -> Option<Detail> {
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
