//! The general XML decoder: quick-xml's event stream with the position bookkeeping
//! exact errors need. Every document goes through it when the fast path gives way.

use super::*;

/// A quick-xml reader over a UTF-8 body, with the position bookkeeping errors need.
pub(super) struct Cursor<'a> {
    reader: Reader<&'a [u8]>,
    /// The whole input (after any BOM), to find the exact byte of invalid UTF-8.
    input: &'a [u8],
    /// Bytes stripped ahead of the reader's input (a UTF-8 BOM), added to every position.
    base: u64,
    /// Where the event last returned by [`Cursor::next`] starts, relative to the reader.
    pub(super) start: u64,
    /// Elements currently open.
    depth: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(body: &'a [u8]) -> Self {
        let (base, rest) = match body.strip_prefix(BOM) {
            Some(rest) => (BOM.len() as u64, rest),
            None => (0, body),
        };
        // quick-xml checks that every byte it hands out is UTF-8; only when one is not is
        // the whole input scanned, for the exact position.
        Cursor { reader: Reader::from_reader(rest), input: rest, base, start: 0, depth: 0 }
    }

    /// An error at reader position `pos`.
    pub(super) fn error(&self, pos: u64, detail: impl Into<String>) -> DecodeError {
        DecodeError::new(self.base + pos, detail)
    }

    /// An error at the start of the event last read.
    pub(super) fn here(&self, detail: impl Into<String>) -> DecodeError {
        self.error(self.start, detail)
    }

    pub(super) fn eof(&self) -> DecodeError {
        self.error(self.reader.buffer_position(), format!("document ends with {} element(s) still open", self.depth))
    }

    pub(super) fn next(&mut self) -> Result<Event<'a>, DecodeError> {
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
    pub(super) fn root(&mut self, name: &str) -> Result<(BytesStart<'a>, bool), DecodeError> {
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
    pub(super) fn finish(&mut self) -> Result<(), DecodeError> {
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
    pub(super) fn skip(&mut self) -> Result<(), DecodeError> {
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
    pub(super) fn text(&mut self) -> Result<Cow<'a, str>, DecodeError> {
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
    pub(super) fn leaf(&mut self, empty: bool) -> Result<Text, DecodeError> {
        if empty {
            Ok(Text::new())
        } else {
            Ok(Text::from(self.text()?))
        }
    }

    /// Resolves `&name;` or a character reference.
    pub(super) fn resolve(&self, r: &BytesRef<'a>) -> Result<Cow<'a, str>, DecodeError> {
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
    pub(super) fn record(&mut self, empty: bool) -> Result<ActivityRecord, DecodeError> {
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

    pub(super) fn detail(&mut self, empty: bool) -> Result<Detail, DecodeError> {
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

    pub(super) fn api_error(&mut self) -> Result<ApiError, DecodeError> {
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
    pub(super) fn skip_if(&mut self, empty: bool) -> Result<(), DecodeError> {
        if empty {
            Ok(())
        } else {
            self.skip()
        }
    }

    /// Calls `each(cursor, local_name, empty)` for every child element of the element
    /// just opened, until its end tag. Text between children is ignored. `each` must
    /// consume a non-empty child completely.
    pub(super) fn children(
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
    pub(super) fn filter_list(&mut self, out: &mut Vec<Filter>) -> Result<(), DecodeError> {
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
    pub(super) fn filter_value(&mut self, pos: u64, field: &str) -> Result<FilterValue, DecodeError> {
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

pub(super) fn push<'a>(acc: &mut Option<Cow<'a, str>>, piece: Cow<'a, str>) {
    match acc {
        None => *acc = Some(piece),
        Some(a) => a.to_mut().push_str(&piece),
    }
}

pub(super) fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

pub(super) fn is_blank(t: &BytesText<'_>) -> bool {
    t.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// `s` without the XML whitespace around it, reusing its buffer when nothing is trimmed.
pub(super) fn trim_xml(s: Cow<'_, str>) -> String {
    let t = s.trim_matches(is_xml_space);
    if t.len() == s.len() {
        s.into_owned()
    } else {
        t.to_owned()
    }
}
