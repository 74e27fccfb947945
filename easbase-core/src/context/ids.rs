//! Validated identifiers.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// The id of a project (a tenant): 1 to [`ProjectId::MAX_LEN`] characters from
/// `[a-z0-9_-]`.
///
/// The character set is safe in a URL, a host name label (without `_`), a file name and,
/// after quoting, a database identifier; it is case-free, so no two ids differ only in case.
///
/// ```
/// use easbase_core::context::ProjectId;
/// let id = ProjectId::new("acme-prod_1")?;
/// assert_eq!(id.as_str(), "acme-prod_1");
/// assert!(ProjectId::new("Acme").is_err());
/// assert!(ProjectId::new("").is_err());
/// # Ok::<(), easbase_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProjectId(String);

impl ProjectId {
    /// The longest id.
    pub const MAX_LEN: usize = 40;

    /// Validates `id`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`] when `id` is empty, longer than [`ProjectId::MAX_LEN`], or has
    /// a character outside `[a-z0-9_-]`.
    pub fn new(id: impl Into<String>) -> Result<ProjectId> {
        let id = id.into();
        if id.is_empty() {
            return Err(Error::InvalidName("a project id cannot be empty".into()));
        }
        if id.len() > Self::MAX_LEN {
            return Err(Error::InvalidName(format!("a project id has at most {} characters", Self::MAX_LEN)));
        }
        if !id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-') {
            return Err(Error::InvalidName("a project id may only contain a-z, 0-9, `_` and `-`".into()));
        }
        Ok(ProjectId(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as an owned `String`.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for ProjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ProjectId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for ProjectId {
    type Err = Error;

    fn from_str(s: &str) -> Result<ProjectId> {
        ProjectId::new(s)
    }
}

impl TryFrom<String> for ProjectId {
    type Error = Error;

    fn try_from(s: String) -> Result<ProjectId> {
        ProjectId::new(s)
    }
}

impl From<ProjectId> for String {
    fn from(id: ProjectId) -> String {
        id.0
    }
}
