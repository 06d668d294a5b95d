//! The API's `ErrorList` document: what a 400 or 500 says went wrong.

use std::fmt;

/// One `Error` entry of an `ErrorList`.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ApiError {
    #[serde(rename = "Category", default)]
    pub category: String,
    #[serde(rename = "Description", default)]
    pub description: String,
    #[serde(rename = "Location", default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// An `ErrorList` (namespace `http://schemas.netwrix.com/api/v1/`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorList {
    pub errors: Vec<ApiError>,
}

impl ErrorList {
    /// A list of one error.
    pub fn one(category: &str, description: &str) -> Self {
        ErrorList {
            errors: vec![ApiError { category: category.into(), description: description.into(), location: None }],
        }
    }
}

impl fmt::Display for ErrorList {
    /// `Category: Description` per error, joined by `; `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", e.category, e.description)?;
            if let Some(loc) = &e.location {
                write!(f, " (at {loc})")?;
            }
        }
        Ok(())
    }
}
