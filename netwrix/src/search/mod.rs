//! Search parameters (`ActivityRecordSearch`): filters, operators and the combination
//! rules of spec §4 (here), plus their evaluation against a record, used by the
//! emulator (`eval.rs`). The XML and JSON forms are in `xml/` and `json.rs`.

mod eval;
#[cfg(test)]
mod tests;

pub use eval::{Matcher, SearchError};

/// A filter operator, spelled exactly as the API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    Contains,
    DoesNotContain,
    Equals,
    NotEqualTo,
    StartsWith,
    EndsWith,
    InGroup,
    NotInGroup,
}

/// The value of one filter entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterValue {
    /// A string to match.
    Text(String),
    /// `When`/`WorkingHours` as an interval; either end may be absent.
    Interval { from: Option<String>, to: Option<String> },
    /// A named period of `When`: `Today`, `Yesterday`, `LastSevenDays`, `LastThirtyDays`…
    Period(String),
}

/// One filter entry: `<Who Operator="NotInGroup">CORP\Domain Admins</Who>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The filter's name as the API spells it (`Who`, `DataSource`, `When`, …).
    pub field: String,
    /// `None` means the filter's default operator (sent without an `Operator`).
    pub operator: Option<Operator>,
    pub value: FilterValue,
}

/// An `ActivityRecordSearch`: the filters, in order, and the mark of the page to continue from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchRequest {
    pub filters: Vec<Filter>,
    pub mark: Option<String>,
}

impl Operator {
    /// Every operator, in the order of spec §4.
    pub const ALL: [Operator; 8] = [
        Operator::Contains,
        Operator::DoesNotContain,
        Operator::Equals,
        Operator::NotEqualTo,
        Operator::StartsWith,
        Operator::EndsWith,
        Operator::InGroup,
        Operator::NotInGroup,
    ];

    /// The operator's name exactly as the API spells it (`NotInGroup`).
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Contains => "Contains",
            Operator::DoesNotContain => "DoesNotContain",
            Operator::Equals => "Equals",
            Operator::NotEqualTo => "NotEqualTo",
            Operator::StartsWith => "StartsWith",
            Operator::EndsWith => "EndsWith",
            Operator::InGroup => "InGroup",
            Operator::NotInGroup => "NotInGroup",
        }
    }

    /// The operator spelled exactly `name` (XML attribute values are case-sensitive).
    pub fn parse(name: &str) -> Option<Operator> {
        Operator::ALL.into_iter().find(|op| op.as_str() == name)
    }

    /// The operator whose name equals `name` ignoring ASCII case (JSON keys).
    pub fn parse_ignore_case(name: &str) -> Option<Operator> {
        Operator::ALL.into_iter().find(|op| op.as_str().eq_ignore_ascii_case(name))
    }
}

impl std::fmt::Display for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The filter names of spec §4, spelled as the API spells them.
pub const FILTER_NAMES: [&str; 15] = [
    "RID",
    "Who",
    "Where",
    "ObjectType",
    "What",
    "DataSource",
    "MonitoringPlan",
    "Item",
    "Workstation",
    "Detail",
    "Before",
    "After",
    "Action",
    "When",
    "WorkingHours",
];

/// The API's spelling of a filter name matched ignoring ASCII case (`who` → `Who`);
/// a name that is no known filter comes back unchanged.
pub fn canonical_filter_name(name: &str) -> &str {
    FILTER_NAMES.into_iter().find(|n| n.eq_ignore_ascii_case(name)).unwrap_or(name)
}
