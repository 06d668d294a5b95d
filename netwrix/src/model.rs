//! The Activity Record: one audited change or access, as the Integration API returns it.
//!
//! Field names follow the API's own (`Who`, `Action`, `What`, …); the serde attributes
//! make the JSON form exactly Netwrix's. Mandatory fields of the API are plain
//! [`Text`]s, strings that can share a spool row's bytes (an absent one decodes as
//! empty, so one odd record never stalls an export); everything the API may leave out
//! is an `Option` or an empty list.

use crate::text::Text;
use serde::{Deserialize, Serialize};

/// One Activity Record (spec §2). Unknown elements or keys are skipped by every decoder.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ActivityRecord {
    /// The server's unique key (output only).
    #[serde(rename = "RID", default, skip_serializing_if = "Option::is_none")]
    pub rid: Option<Text>,
    #[serde(rename = "Who", default)]
    pub who: Text,
    #[serde(rename = "Action", default)]
    pub action: Text,
    #[serde(rename = "What", default)]
    pub what: Text,
    /// `xs:dateTime` exactly as the server sent it (UTC `YYYY-MM-DDTHH:MM:SSZ` on output).
    #[serde(rename = "When", default)]
    pub when: Text,
    #[serde(rename = "Where", default)]
    pub where_: Text,
    #[serde(rename = "ObjectType", default)]
    pub object_type: Text,
    #[serde(rename = "MonitoringPlan", default, skip_serializing_if = "Option::is_none")]
    pub monitoring_plan: Option<MonitoringPlan>,
    #[serde(rename = "DataSource", default, skip_serializing_if = "Option::is_none")]
    pub data_source: Option<Text>,
    #[serde(rename = "Item", default, skip_serializing_if = "Option::is_none")]
    pub item: Option<Item>,
    #[serde(rename = "Workstation", default, skip_serializing_if = "Option::is_none")]
    pub workstation: Option<Text>,
    /// `DetailList`; empty when the record has none (the API then leaves the element out).
    #[serde(rename = "DetailList", default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<Detail>,
}

/// The monitoring plan that collected the record.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MonitoringPlan {
    #[serde(rename = "Name", default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Text>,
    /// A GUID in braces, assigned by the product.
    #[serde(rename = "ID", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Text>,
}

/// The audited item, its type in brackets inside the name: `corp.example (Domain)`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Item {
    #[serde(rename = "Name", default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Text>,
}

/// One changed property of the audited object.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Detail {
    #[serde(rename = "PropertyName", default)]
    pub property_name: Text,
    #[serde(rename = "Before", default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Text>,
    #[serde(rename = "After", default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Text>,
    /// Object-specific text (output only).
    #[serde(rename = "Message", default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Text>,
}

impl ActivityRecord {
    /// The deterministic id of this record's content; see [`crate::RecordId`].
    pub fn id(&self) -> crate::RecordId {
        crate::RecordId::of(self)
    }

    /// `When` parsed as a UTC instant, or `None` when the server sent something unparseable.
    pub fn when_utc(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        chrono::DateTime::parse_from_rfc3339(self.when.trim()).ok().map(|t| t.with_timezone(&chrono::Utc))
    }

    /// The record's longest value: which one (`Who`, a detail's `After`…) and its length
    /// in bytes; `None` for a record without any. For limits on what a server may send.
    pub fn longest_value(&self) -> Option<(&'static str, usize)> {
        let opt = |name: &'static str, v: &Option<Text>| v.as_ref().map(|t| (name, t.len()));
        let top = [
            opt("RID", &self.rid),
            Some(("Who", self.who.len())),
            Some(("Action", self.action.len())),
            Some(("What", self.what.len())),
            Some(("When", self.when.len())),
            Some(("Where", self.where_.len())),
            Some(("ObjectType", self.object_type.len())),
            self.monitoring_plan.as_ref().and_then(|p| opt("MonitoringPlan Name", &p.name)),
            self.monitoring_plan.as_ref().and_then(|p| opt("MonitoringPlan ID", &p.id)),
            opt("DataSource", &self.data_source),
            self.item.as_ref().and_then(|i| opt("Item Name", &i.name)),
            opt("Workstation", &self.workstation),
        ];
        let details = self.details.iter().flat_map(|d| {
            [
                Some(("Detail PropertyName", d.property_name.len())),
                opt("Detail Before", &d.before),
                opt("Detail After", &d.after),
                opt("Detail Message", &d.message),
            ]
        });
        top.into_iter().chain(details).flatten().max_by_key(|(_, len)| *len)
    }
}
