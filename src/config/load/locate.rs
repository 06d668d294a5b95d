//! Where in the config file a problem is, from the spans toml's parser gives every key
//! and value, never from an error message's wording.

use std::ops::Range;
use toml::de::{DeTable, DeValue};

/// The file as toml's parser reads it, with the span of every key and value: where a
/// sink's keys are, and which one a sink's error is about.
pub(super) struct Doc<'t> {
    root: toml::Spanned<DeTable<'t>>,
    /// The same document as plain values, for trial reads of a sink.
    plain: toml::Table,
}

impl<'t> Doc<'t> {
    pub(super) fn parse(text: &'t str) -> Result<Doc<'t>, toml::de::Error> {
        Ok(Doc { root: DeTable::parse(text)?, plain: toml::from_str(text)? })
    }

    /// The `index`-th `[[sink]]` table.
    pub(super) fn sink(&self, index: usize) -> Option<&toml::Spanned<DeValue<'t>>> {
        match entry(self.root.get_ref(), "sink")?.1.get_ref() {
            DeValue::Array(sinks) => sinks.get(index),
            _ => None,
        }
    }

    /// Which sink's table starts at byte `at` (where toml points for a sink's own keys).
    pub(super) fn sink_at(&self, at: usize) -> Option<usize> {
        (0..).map_while(|i| self.sink(i)).position(|t| t.span().start == at)
    }

    /// The span of `key` (a dotted path: `tls.ca_file`) in the `index`-th sink, if written.
    pub(super) fn sink_key(&self, index: usize, key: &str) -> Option<Range<usize>> {
        lookup(self.sink(index)?, key).map(|(k, _)| k)
    }

    /// The one key of the `index`-th sink its error is about, and where to point.
    ///
    /// First the key whose removal alone makes the sink readable. Failing that (a key the
    /// sink needs, or two keys at fault): serde reads a table's keys in turn and stops at
    /// the first bad one, and looks for missing ones only after, so the key at fault is
    /// the one whose removal changes the error while removing another leaves it as it is.
    /// `name` and `type`, which every sink needs first, change it always: `type` is taken
    /// only when nothing else is. The place is the value when another value there changes
    /// the error (a value of the wrong type or out of range), else the key (a key the sink
    /// does not have). `None` when no single key stands out.
    pub(super) fn fault_in_sink(&self, index: usize) -> Option<(Range<usize>, String)> {
        let Some(toml::Value::Table(sink)) = self.plain.get("sink")?.as_array()?.get(index) else {
            return None;
        };
        let read = |t: &toml::Table| -> Result<(), String> {
            toml::Value::Table(t.clone())
                .try_into::<crate::config::SinkConfig>()
                .map(drop)
                .map_err(|e| e.message().to_owned())
        };
        let first = read(sink).err()?;
        let mut paths = Vec::new();
        leaf_paths(sink, "", &mut paths);
        let without: Vec<(String, Option<String>)> = paths
            .into_iter()
            .map(|p| {
                let error = read(&edited(sink, &p, None)).err();
                (p, error)
            })
            .collect();
        let one = |found: Vec<&String>| match found[..] {
            [only] => Some(only.clone()),
            _ => None,
        };
        let readable = one(without.iter().filter(|(_, e)| e.is_none()).map(|(p, _)| p).collect());
        let changed: Vec<&String> =
            without.iter().filter(|(_, e)| e.as_ref() != Some(&first)).map(|(p, _)| p).collect();
        let path = readable
            .or_else(|| one(changed.iter().copied().filter(|p| *p != "name" && *p != "type").collect()))
            .or_else(|| changed.iter().any(|p| *p == "type").then(|| "type".to_owned()))?;
        let (key, value) = lookup(self.sink(index)?, &path)?;
        let other = match dotted(sink, &path) {
            Some(toml::Value::String(_)) => toml::Value::Integer(0),
            _ => toml::Value::String(String::new()),
        };
        let value_matters = read(&edited(sink, &path, Some(other))).err().is_none_or(|m| m != first);
        Some((if value_matters { value } else { key }, path))
    }
}

/// The entry of `table` named `key`: its key and value.
fn entry<'a, 't>(
    table: &'a DeTable<'t>,
    key: &str,
) -> Option<(&'a toml::Spanned<toml::de::DeString<'t>>, &'a toml::Spanned<DeValue<'t>>)> {
    table.iter().find(|(k, _)| k.get_ref().as_ref() == key)
}

/// The spans of the key and the value at the dotted `path` inside `value`.
fn lookup(value: &toml::Spanned<DeValue<'_>>, path: &str) -> Option<(Range<usize>, Range<usize>)> {
    let (first, rest) = path.split_once('.').map_or((path, None), |(f, r)| (f, Some(r)));
    let DeValue::Table(table) = value.get_ref() else { return None };
    let (key, value) = entry(table, first)?;
    match rest {
        Some(rest) => lookup(value, rest),
        None => Some((key.span(), value.span())),
    }
}

/// Every key of `table` that holds no table, as a dotted path.
fn leaf_paths(table: &toml::Table, prefix: &str, out: &mut Vec<String>) {
    for (key, value) in table {
        match value {
            toml::Value::Table(inner) => leaf_paths(inner, &format!("{prefix}{key}."), out),
            _ => out.push(format!("{prefix}{key}")),
        }
    }
}

/// The value at the dotted `path` of `table`.
fn dotted<'a>(table: &'a toml::Table, path: &str) -> Option<&'a toml::Value> {
    match path.split_once('.') {
        Some((first, rest)) => dotted(table.get(first)?.as_table()?, rest),
        None => table.get(path),
    }
}

/// `table` with the value at the dotted `path` replaced by `value`, or removed (`None`).
fn edited(table: &toml::Table, path: &str, value: Option<toml::Value>) -> toml::Table {
    let mut table = table.clone();
    let mut at = &mut table;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            match value {
                Some(value) => at.insert(part.to_owned(), value),
                None => at.remove(part),
            };
            break;
        }
        match at.get_mut(part) {
            Some(toml::Value::Table(inner)) => at = inner,
            _ => break,
        }
    }
    table
}
