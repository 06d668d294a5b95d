//! What the two wire formats share: the [`Format`] switch, a decoded [`Page`] and the
//! [`DecodeError`] every decoder returns.

use crate::errorlist::ErrorList;
use crate::model::ActivityRecord;
use crate::search::SearchRequest;
use crate::{json, xml};

/// The API's two wire formats. XML is the API's default; JSON is `?format=json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Xml,
    Json,
}

/// One response of enum or search: a batch of records and the mark that follows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    pub records: Vec<ActivityRecord>,
    /// The continuation mark, trimmed; `None` when the server sent none.
    pub mark: Option<String>,
}

/// A body that could not be decoded: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {position}: {detail}")]
pub struct DecodeError {
    /// Byte offset into the body where the problem was found.
    pub position: u64,
    pub detail: String,
}

impl DecodeError {
    pub fn new(position: u64, detail: impl Into<String>) -> Self {
        DecodeError { position, detail: detail.into() }
    }
}

impl Format {
    /// The value of `?format=` for this format, if any.
    pub fn query(self) -> Option<&'static str> {
        match self {
            Format::Xml => None,
            Format::Json => Some("json"),
        }
    }

    /// The request `Content-Type` the documentation uses.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Xml => "application/xml; Charset=UTF-8",
            Format::Json => "application/json; Charset=UTF-8",
        }
    }

    pub fn decode_page(self, body: &[u8]) -> Result<Page, DecodeError> {
        match self {
            Format::Xml => xml::decode_page(body),
            Format::Json => json::decode_page(body),
        }
    }

    /// [`Format::decode_page`] of a body the records may keep: their fields share its
    /// bytes instead of copying them (in JSON, those without escapes).
    pub fn decode_page_shared(self, body: bytes::Bytes) -> Result<Page, DecodeError> {
        match self {
            Format::Xml => xml::decode_page_shared(body),
            Format::Json => crate::TextBuf::unchecked(body).lend(json::decode_page),
        }
    }

    pub fn encode_page(self, page: &Page, out: &mut Vec<u8>) {
        match self {
            Format::Xml => xml::encode_page(page, out),
            Format::Json => json::encode_page(page, out),
        }
    }

    pub fn decode_records(self, body: &[u8]) -> Result<Vec<ActivityRecord>, DecodeError> {
        match self {
            Format::Xml => xml::decode_records(body),
            Format::Json => json::decode_records(body),
        }
    }

    pub fn encode_records(self, records: &[ActivityRecord], out: &mut Vec<u8>) {
        match self {
            Format::Xml => xml::encode_records(records, out),
            Format::Json => json::encode_records(records, out),
        }
    }

    pub fn decode_mark(self, body: &[u8]) -> Result<String, DecodeError> {
        match self {
            Format::Xml => xml::decode_mark(body),
            Format::Json => json::decode_mark(body),
        }
    }

    pub fn encode_mark(self, mark: &str, out: &mut Vec<u8>) {
        match self {
            Format::Xml => xml::encode_mark(mark, out),
            Format::Json => json::encode_mark(mark, out),
        }
    }

    pub fn decode_search(self, body: &[u8]) -> Result<SearchRequest, DecodeError> {
        match self {
            Format::Xml => xml::decode_search(body),
            Format::Json => json::decode_search(body),
        }
    }

    pub fn encode_search(self, search: &SearchRequest, out: &mut Vec<u8>) {
        match self {
            Format::Xml => xml::encode_search(search, out),
            Format::Json => json::encode_search(search, out),
        }
    }

    pub fn decode_errors(self, body: &[u8]) -> Result<ErrorList, DecodeError> {
        match self {
            Format::Xml => xml::decode_errors(body),
            Format::Json => json::decode_errors(body),
        }
    }

    pub fn encode_errors(self, errors: &ErrorList, out: &mut Vec<u8>) {
        match self {
            Format::Xml => xml::encode_errors(errors, out),
            Format::Json => json::encode_errors(errors, out),
        }
    }
}
