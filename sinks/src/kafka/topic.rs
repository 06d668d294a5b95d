//! The topic a record goes to: fixed, or a template filled from the record.
//!
//! A template is literal text with placeholders in braces: `netwrix.{DataSource}`. Each
//! placeholder takes one field of the record; its value is sanitised to the characters
//! Kafka allows in a topic name (`A–Z a–z 0–9 . _ -`), every other character becoming
//! `_`, so `Active Directory` gives `netwrix.Active_Directory`. An absent or empty value
//! becomes `unknown`. Names are cut to Kafka's 249 characters, and the names `.` and
//! `..` (which Kafka refuses) become `_` and `__`.

use crate::Event;
use serde::{Deserialize, Deserializer};
use std::fmt;

/// Kafka's limit on a topic name's length.
const MAX_TOPIC_LEN: usize = 249;

/// A record field a template can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Job,
    DataSource,
    MonitoringPlan,
    Item,
    ObjectType,
    Action,
    Where,
}

const FIELDS: &[(&str, Field)] = &[
    ("job", Field::Job),
    ("DataSource", Field::DataSource),
    ("MonitoringPlan", Field::MonitoringPlan),
    ("Item", Field::Item),
    ("ObjectType", Field::ObjectType),
    ("Action", Field::Action),
    ("Where", Field::Where),
];

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(Field),
}

/// A parsed topic name or template; see the module documentation (`topic.rs`).
#[derive(Clone, PartialEq, Eq)]
pub struct TopicTemplate {
    source: String,
    parts: Vec<Part>,
}

impl TopicTemplate {
    /// Parses a topic name or template, saying what is wrong with it if anything.
    pub fn parse(source: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = source;
        while !rest.is_empty() {
            match rest.find('{') {
                Some(0) => {
                    let end = rest.find('}').ok_or_else(|| format!("topic {source:?}: a `{{` is never closed"))?;
                    let name = &rest[1..end];
                    let field = FIELDS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f).ok_or_else(|| {
                        let known: Vec<_> = FIELDS.iter().map(|(n, _)| format!("{{{n}}}")).collect();
                        format!("topic {source:?}: unknown placeholder {{{name}}}; known: {}", known.join(", "))
                    })?;
                    parts.push(Part::Field(field));
                    rest = &rest[end + 1..];
                }
                found => {
                    let end = found.unwrap_or(rest.len());
                    let text = &rest[..end];
                    if let Some(bad) = text.chars().find(|c| !legal(*c)) {
                        return Err(format!(
                            "topic {source:?}: {bad:?} is not allowed in a Kafka topic name (only A-Z a-z 0-9 . _ -)"
                        ));
                    }
                    parts.push(Part::Text(text.to_owned()));
                    rest = &rest[end..];
                }
            }
        }
        if parts.is_empty() {
            return Err("topic is empty".into());
        }
        let template = TopicTemplate { source: source.to_owned(), parts };
        if let Some(fixed) = template.fixed() {
            if fixed.len() > MAX_TOPIC_LEN || fixed == "." || fixed == ".." {
                return Err(format!("topic {source:?} is not a legal Kafka topic name"));
            }
        }
        Ok(template)
    }

    /// The topic name when it does not depend on the record.
    pub fn fixed(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [Part::Text(t)] => Some(t),
            _ => None,
        }
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Writes the topic of `event` into `out` (cleared first).
    pub fn render_into(&self, event: &Event, out: &mut String) {
        out.clear();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Field(f) => {
                    let value = field_value(*f, event).filter(|v| !v.is_empty()).unwrap_or("unknown");
                    out.extend(value.chars().map(|c| if legal(c) { c } else { '_' }));
                }
            }
        }
        if out.len() > MAX_TOPIC_LEN {
            // Only ASCII is left after sanitising, so any byte index is a char boundary.
            out.truncate(MAX_TOPIC_LEN);
        }
        if out == "." || out == ".." {
            *out = out.replace('.', "_");
        }
    }

    /// The topic of `event`.
    pub fn render(&self, event: &Event) -> String {
        let mut s = String::new();
        self.render_into(event, &mut s);
        s
    }
}

fn field_value(field: Field, event: &Event) -> Option<&str> {
    let r = &event.record;
    match field {
        Field::Job => Some(&event.job),
        Field::DataSource => r.data_source.as_deref(),
        Field::MonitoringPlan => r.monitoring_plan.as_ref().and_then(|p| p.name.as_deref()),
        Field::Item => r.item.as_ref().and_then(|i| i.name.as_deref()),
        Field::ObjectType => Some(&r.object_type),
        Field::Action => Some(&r.action),
        Field::Where => Some(&r.where_),
    }
}

/// Whether Kafka allows `c` in a topic name.
fn legal(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

impl fmt::Debug for TopicTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.source, f)
    }
}

impl fmt::Display for TopicTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for TopicTemplate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TopicTemplate::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netwrix::{ActivityRecord, Item, MonitoringPlan, RecordId};

    fn event(record: ActivityRecord) -> Event {
        Event { seq: 1, id: RecordId([0; 16]), job: "corp/eu".into(), replay: false, record }
    }

    #[test]
    fn fixed_names_render_as_they_are() {
        let t = TopicTemplate::parse("netwrix-audit_1.x").unwrap();
        assert_eq!(t.fixed(), Some("netwrix-audit_1.x"));
        assert_eq!(t.render(&event(ActivityRecord::default())), "netwrix-audit_1.x");
    }

    #[test]
    fn placeholders_are_filled_and_sanitised() {
        let t = TopicTemplate::parse("netwrix.{DataSource}.{job}-{MonitoringPlan}.{Item}").unwrap();
        assert_eq!(t.fixed(), None);
        let rec = ActivityRecord {
            data_source: Some("Active Directory".into()),
            monitoring_plan: Some(MonitoringPlan { name: Some("AD – Müller".into()), id: None }),
            item: None,
            ..Default::default()
        };
        assert_eq!(t.render(&event(rec)), "netwrix.Active_Directory.corp_eu-AD___M_ller.unknown");
        let rec = ActivityRecord { item: Some(Item { name: Some(Default::default()) }), ..Default::default() };
        assert_eq!(t.render(&event(rec)), "netwrix.unknown.corp_eu-unknown.unknown");
    }

    #[test]
    fn record_fields_and_limits() {
        let t = TopicTemplate::parse("{ObjectType}{Action}{Where}").unwrap();
        let rec = ActivityRecord {
            object_type: "user".into(),
            action: "Added".into(),
            where_: "x".repeat(300).into(),
            ..Default::default()
        };
        let got = t.render(&event(rec));
        assert_eq!(got.len(), 249);
        assert!(got.starts_with("userAddedxxx"));
        let dots = TopicTemplate::parse("{Action}").unwrap();
        assert_eq!(dots.render(&event(ActivityRecord { action: "..".into(), ..Default::default() })), "__");
    }

    #[test]
    fn bad_templates_say_what_is_wrong() {
        let cases = [
            ("", "topic is empty"),
            ("a b", "' ' is not allowed"),
            ("netwrix.{Nope}", "unknown placeholder {Nope}; known: {job}, {DataSource}"),
            ("netwrix.{DataSource", "never closed"),
            ("..", "not a legal Kafka topic name"),
        ];
        for (source, want) in cases {
            let err = TopicTemplate::parse(source).unwrap_err();
            assert!(err.contains(want), "{source:?}: {err}");
        }
    }
}
