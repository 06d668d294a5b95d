//! The envelope rules of formats.md §4.3, checked the way Splunk answers them: an object
//! with a non-blank `event` (a string or an object), a numeric `time`, string metadata
//! and a flat `fields`. Each envelope of a request is read for its shape only, without
//! building the event in memory: the receiver stands in for Splunk in benchmarks on the
//! same cores as the bridge, so its own cost is kept small.

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// An envelope's raw text (empty unless asked for) and its `fields.auditbridge_id`
/// (only when the raw text is asked for).
pub(crate) type Envelope = (String, Option<String>);

/// Splits concatenated envelopes. Returns the good ones before the first bad one and,
/// if there is a bad one, its index and Splunk's code for it. With `keep` each good
/// envelope comes with its text and id; without, only their number counts.
pub(crate) fn parse(data: &[u8], keep: bool) -> (Vec<Envelope>, Option<(usize, u32)>) {
    let mut good = Vec::new();
    let mut stream = serde_json::Deserializer::from_slice(data).into_iter::<Shape>();
    let mut start = 0;
    while let Some(next) = stream.next() {
        let end = stream.byte_offset();
        let index = good.len();
        let shape = match next {
            Ok(shape) => shape,
            Err(_) => return (good, Some((index, 6))),
        };
        if let Err(code) = shape.check() {
            return (good, Some((index, code)));
        }
        if keep {
            let raw = String::from_utf8_lossy(&data[start..end]).trim().to_owned();
            good.push((raw, shape.id));
        } else {
            good.push((String::new(), None));
        }
        start = end;
    }
    (good, None)
}

/// `visit_*` for the JSON scalars (null, booleans, numbers) a visitor answers all alike.
macro_rules! scalars_are {
    ($value:expr, $out:ty) => {
        fn visit_unit<E>(self) -> Result<$out, E> {
            Ok($value)
        }
        fn visit_bool<E>(self, _: bool) -> Result<$out, E> {
            Ok($value)
        }
        fn visit_i64<E>(self, _: i64) -> Result<$out, E> {
            Ok($value)
        }
        fn visit_u64<E>(self, _: u64) -> Result<$out, E> {
            Ok($value)
        }
        fn visit_f64<E>(self, _: f64) -> Result<$out, E> {
            Ok($value)
        }
    };
}

/// What one JSON value is, its content skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
enum Kind {
    #[default]
    Absent,
    Null,
    Number,
    /// A boolean or an array.
    Other,
    Str {
        empty: bool,
        numeric: bool,
    },
    Object,
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
        d.deserialize_any(KindVisitor)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E>(self, s: &str) -> Result<Kind, E> {
        Ok(Kind::Str { empty: s.is_empty(), numeric: s.parse::<f64>().is_ok() })
    }
    fn visit_unit<E>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Kind, E> {
        Ok(Kind::Other)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Kind, E> {
        Ok(Kind::Number)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Kind, E> {
        Ok(Kind::Number)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Kind, E> {
        Ok(Kind::Number)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Kind::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Kind::Object)
    }
}

/// The keys of an envelope the rules look at.
enum Key {
    Event,
    Time,
    Meta,
    Fields,
    Id,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E>(self, s: &str) -> Result<Key, E> {
                Ok(match s {
                    "event" => Key::Event,
                    "time" => Key::Time,
                    "host" | "source" | "sourcetype" | "index" => Key::Meta,
                    "fields" => Key::Fields,
                    "auditbridge_id" => Key::Id,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// `fields` (when present): whether it is an object, whether every value is a string or
/// an array of strings, and its `auditbridge_id`.
#[derive(Debug, Default)]
struct Fields {
    object: bool,
    flat: bool,
    id: Option<String>,
}

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Fields, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = Fields;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                let mut fields = Fields { object: true, flat: true, id: None };
                while let Some(key) = map.next_key::<Key>()? {
                    let value: FieldValue = map.next_value()?;
                    match value {
                        FieldValue::Str(s) if matches!(key, Key::Id) => fields.id = Some(s.into_owned()),
                        FieldValue::Str(_) | FieldValue::Strings => {}
                        FieldValue::Other => fields.flat = false,
                    }
                }
                Ok(fields)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Fields, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Fields::default())
            }
            fn visit_str<E>(self, _: &str) -> Result<Fields, E> {
                Ok(Fields::default())
            }
            scalars_are!(Fields::default(), Fields);
        }
        d.deserialize_any(FieldsVisitor)
    }
}

/// One value of `fields` (a string borrowed from the request unless it holds escapes).
enum FieldValue<'de> {
    Str(Cow<'de, str>),
    Strings,
    Other,
}

impl<'de> Deserialize<'de> for FieldValue<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<FieldValue<'de>, D::Error> {
        struct ValueVisitor;
        impl<'de> Visitor<'de> for ValueVisitor {
            type Value = FieldValue<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<FieldValue<'de>, E> {
                Ok(FieldValue::Str(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<FieldValue<'de>, E> {
                Ok(FieldValue::Str(Cow::Owned(s.to_owned())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FieldValue<'de>, A::Error> {
                let mut strings = true;
                while let Some(kind) = seq.next_element::<Kind>()? {
                    strings &= matches!(kind, Kind::Str { .. });
                }
                Ok(if strings { FieldValue::Strings } else { FieldValue::Other })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FieldValue<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(FieldValue::Other)
            }
            scalars_are!(FieldValue::Other, FieldValue<'de>);
        }
        d.deserialize_any(ValueVisitor)
    }
}

/// One envelope's shape: the kinds of the values the rules look at.
#[derive(Debug, Default)]
struct Shape {
    event: Kind,
    time: Kind,
    /// A metadata key (`host`, `source`, `sourcetype`, `index`) holds something else
    /// than a string.
    meta_bad: bool,
    fields: Option<Fields>,
    id: Option<String>,
}

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Shape, D::Error> {
        struct ShapeVisitor;
        impl<'de> Visitor<'de> for ShapeVisitor {
            type Value = Shape;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an event envelope (a JSON object)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
                let mut shape = Shape::default();
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Event => shape.event = map.next_value()?,
                        Key::Time => shape.time = map.next_value()?,
                        Key::Meta => shape.meta_bad |= !matches!(map.next_value()?, Kind::Str { .. }),
                        Key::Fields => shape.fields = Some(map.next_value()?),
                        Key::Id | Key::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                shape.id = shape.fields.as_mut().and_then(|f| f.id.take());
                Ok(shape)
            }
        }
        d.deserialize_map(ShapeVisitor)
    }
}

impl Shape {
    /// Splunk's code for what is wrong with the envelope, in the order it checks.
    fn check(&self) -> Result<(), u32> {
        match self.event {
            Kind::Absent | Kind::Null => return Err(12),
            Kind::Str { empty: true, .. } => return Err(13),
            Kind::Str { .. } | Kind::Object => {}
            Kind::Number | Kind::Other => return Err(6),
        }
        match self.time {
            Kind::Absent | Kind::Number | Kind::Str { numeric: true, .. } => {}
            _ => return Err(6),
        }
        if self.meta_bad {
            return Err(6);
        }
        if self.fields.as_ref().is_some_and(|f| !(f.object && f.flat)) {
            return Err(15);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concatenated_envelopes_and_the_first_bad_one() {
        let data = br#"{"event":{"a":1},"fields":{"auditbridge_id":"x"}}
 {"event":"s"}{"event":""}{"event":"after"}"#;
        let (good, bad) = parse(data, true);
        assert_eq!(good.len(), 2);
        assert_eq!(good[0].0, r#"{"event":{"a":1},"fields":{"auditbridge_id":"x"}}"#);
        assert_eq!(good[0].1.as_deref(), Some("x"));
        assert_eq!(good[1].0, r#"{"event":"s"}"#);
        assert_eq!(bad, Some((2, 13)));
        assert_eq!(parse(data, false), (vec![(String::new(), None), (String::new(), None)], Some((2, 13))));
        assert_eq!(parse(br#"{"event":1}"#, true).1, Some((0, 6)));
        assert_eq!(parse(br#"{"time":1}"#, true).1, Some((0, 12)));
        assert_eq!(parse(br#"{"event":null}"#, true).1, Some((0, 12)));
        assert_eq!(parse(br#"{"event":"x","fields":{"a":{"b":1}}}"#, true).1, Some((0, 15)));
        assert_eq!(parse(br#"{"event":"x","fields":{"a":["b",2]}}"#, true).1, Some((0, 15)));
        assert_eq!(parse(br#"{"event":"x","fields":"a"}"#, true).1, Some((0, 15)));
        assert_eq!(parse(br#"{"event":"x","fields":{"a":["b","c"],"d":"e"}}"#, true).1, None);
        assert_eq!(parse(br#"{"event":"x","time":"1.5"} {"event":"x" "#, true).1, Some((1, 6)));
        assert_eq!(parse(br#"{"event":"x","time":1.5,"host":"h"}"#, true).1, None);
        assert_eq!(parse(br#"{"event":"x","time":"soon"}"#, true).1, Some((0, 6)));
        assert_eq!(parse(br#"{"event":"x","time":null}"#, true).1, Some((0, 6)));
        assert_eq!(parse(br#"{"event":"x","host":7}"#, true).1, Some((0, 6)));
        assert_eq!(parse(br#"{"event":"x","index":null}"#, true).1, Some((0, 6)));
        assert_eq!(parse(br#"[{"event":"x"}]"#, true).1, Some((0, 6)));
        assert_eq!(
            parse(br#"{"event":"x\"y","fields":{"auditbridge_id":"i\u0064"}}"#, true).0[0].1.as_deref(),
            Some("id")
        );
    }
}
