//! Every sink type a config may name, in one list.
//!
//! A sink type is a folder (or file) of this crate holding its config struct (the
//! `[[sink]]` table's own keys, `deny_unknown_fields`) and an impl of [`SinkType`] on it:
//! how it builds its [`Sink`], how `validate` describes it, and what a config
//! must not say that serde cannot see. Its `validate --check` probe is its
//! [`Sink::check`]. The binary knows none of them by name: it deserializes a
//! [`SinkKind`] and calls its methods, so adding a sink is its folder plus one line in
//! [`register!`]'s list below.

use crate::Sink;

/// What the pipeline knows about a configured sink beyond its own keys.
#[derive(Debug, Clone, Copy)]
pub struct SinkContext<'a> {
    /// The sink's `name` (some peers are told who is sending, e.g. HEC's channel).
    pub name: &'a str,
    /// Whether the sink takes every record of every job (no `jobs`, no `filter`): the
    /// archive then promises that its sequence numbers have no gaps.
    pub every_record: bool,
}

/// One sink type's config, and what the binary asks of it.
pub trait SinkType {
    /// The sink this config describes. Nothing is connected or opened yet.
    fn build(&self, context: SinkContext<'_>) -> Box<dyn Sink>;

    /// What `auditbridge validate` prints after the sink's name and type: where the
    /// records go and how (`" -> host:514 over tcp (cef, Rfc5424 header)"`), secrets left out.
    fn describe(&self) -> String;

    /// A mistake in the keys that deserializing cannot catch: the key to point at and
    /// what is wrong, checked when the config is loaded. `None`: nothing wrong.
    fn misfit(&self) -> Option<(&'static str, String)> {
        None
    }
}

/// Generates [`SinkKind`] (the `type` key and the type's own keys) and its dispatch from
/// one `"type" => Variant(ConfigType),` line per sink type.
macro_rules! register {
    ($($name:literal => $variant:ident($config:ty),)*) => {
        /// A sink's `type` and its own keys, each type's config a struct of its folder.
        #[derive(Debug, serde::Deserialize)]
        #[serde(tag = "type", deny_unknown_fields)]
        pub enum SinkKind {
            $(#[serde(rename = $name)] $variant($config),)*
        }

        impl SinkKind {
            /// The `type` value, for messages.
            pub fn type_name(&self) -> &'static str {
                match self {
                    $(SinkKind::$variant(_) => $name,)*
                }
            }

            fn as_type(&self) -> &dyn SinkType {
                match self {
                    $(SinkKind::$variant(config) => config,)*
                }
            }
        }
    };
}

register! {
    "file" => File(crate::file::FileConfig),
    "stdout" => Stdout(crate::stdout::StdoutConfig),
    "kafka" => Kafka(crate::kafka::KafkaSinkConfig),
    "splunk_hec" => SplunkHec(crate::hec::HecConfig),
    "syslog" => Syslog(crate::syslog::SyslogConfig),
    "arcsight" => Arcsight(crate::arcsight::ArcsightConfig),
    "qradar" => Qradar(crate::qradar::QradarConfig),
    "sentinel" => Sentinel(crate::sentinel::SentinelConfig),
    "archive" => Archive(crate::archive::ArchiveConfig),
}

impl SinkKind {
    /// See [`SinkType::build`].
    pub fn build(&self, context: SinkContext<'_>) -> Box<dyn Sink> {
        self.as_type().build(context)
    }

    /// See [`SinkType::describe`].
    pub fn describe(&self) -> String {
        self.as_type().describe()
    }

    /// See [`SinkType::misfit`].
    pub fn misfit(&self) -> Option<(&'static str, String)> {
        self.as_type().misfit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(toml: &str) -> Result<SinkKind, toml::de::Error> {
        toml::from_str(toml)
    }

    #[test]
    fn the_type_key_picks_the_sink_and_its_own_keys_are_checked() {
        let file = kind("type = \"file\"\npath = \"out.jsonl\"\nformat = \"cef\"").unwrap();
        assert_eq!(file.type_name(), "file");
        assert_eq!(file.describe(), " -> out.jsonl (cef)");
        assert!(file.misfit().is_none());
        let stdout = kind("type = \"stdout\"").unwrap();
        assert_eq!((stdout.type_name(), stdout.describe().as_str()), ("stdout", " (json)"));

        let unknown = kind("type = \"fax\"").unwrap_err().to_string();
        assert!(unknown.contains("unknown variant `fax`, expected one of `file`, `stdout`, `kafka`"), "{unknown}");
        let stray = kind("type = \"stdout\"\npath = \"x\"").unwrap_err().to_string();
        assert!(stray.contains("unknown field `path`"), "{stray}");
    }

    #[test]
    fn what_serde_cannot_see_is_a_misfit_naming_its_key() {
        let empty = kind("type = \"file\"\npath = \"\"").unwrap();
        assert_eq!(empty.misfit(), Some(("path", "the file sink needs a path".to_owned())));
        let (key, _) = kind("type = \"stdout\"\nformat = \"json\"\n[cef]\n").unwrap().misfit().unwrap();
        assert_eq!(key, "format");
    }
}
