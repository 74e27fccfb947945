//! Reading and writing schema descriptions: JSON and TOML through serde, and the JSON
//! Schema of the format (for editors).

use std::path::Path;

use crate::error::Error;
use crate::model::Schema;

/// The file formats of a schema description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON.
    Json,
    /// TOML.
    Toml,
}

impl Format {
    /// The format a file name's extension says (`.json`, `.toml`).
    pub fn from_path(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "json" => Some(Format::Json),
            "toml" => Some(Format::Toml),
            _ => None,
        }
    }
}

impl Schema {
    /// Parses a JSON description.
    ///
    /// # Errors
    /// [`Error::Parse`] with the line and column of the problem.
    ///
    /// ```
    /// let s = easbase_schema::Schema::from_json(r#"{"tables": []}"#).unwrap();
    /// assert!(s.tables.is_empty());
    /// assert!(easbase_schema::Schema::from_json(r#"{"tables": [}"#).is_err());
    /// ```
    pub fn from_json(text: &str) -> Result<Schema, Error> {
        serde_json::from_str(text).map_err(|e| Error::Parse { message: e.to_string() })
    }

    /// Parses a TOML description.
    ///
    /// # Errors
    /// [`Error::Parse`] with the line and column of the problem.
    ///
    /// ```
    /// let s = easbase_schema::Schema::from_toml(r#"
    /// [[tables]]
    /// name = "products"
    /// columns = [ { name = "id", type = "uuid", primary = true } ]
    /// "#).unwrap();
    /// assert_eq!(s.tables[0].name, "products");
    /// ```
    pub fn from_toml(text: &str) -> Result<Schema, Error> {
        toml::from_str(text).map_err(|e| Error::Parse { message: e.to_string() })
    }

    /// Parses `text` in `format`.
    ///
    /// # Errors
    /// [`Error::Parse`].
    pub fn parse(text: &str, format: Format) -> Result<Schema, Error> {
        match format {
            Format::Json => Schema::from_json(text),
            Format::Toml => Schema::from_toml(text),
        }
    }

    /// Reads a `.json` or `.toml` file.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read or has another extension, [`Error::Parse`]
    /// when its content is malformed.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Schema, Error> {
        let path = path.as_ref();
        let io = |message: String| Error::Io { path: path.display().to_string(), message };
        let format =
            Format::from_path(path).ok_or_else(|| io("unknown extension: use .json or .toml".to_owned()))?;
        let text = std::fs::read_to_string(path).map_err(|e| io(e.to_string()))?;
        Schema::parse(&text, format)
    }

    /// Pretty JSON, the canonical form (also what migration checksums hash).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// TOML.
    ///
    /// # Errors
    /// [`Error::Parse`] when a value has no TOML form (a JSON `null` default).
    pub fn to_toml(&self) -> Result<String, Error> {
        toml::to_string(self).map_err(|e| Error::Parse { message: e.to_string() })
    }
}

/// The JSON Schema of the description format, for editors (`"$schema"` in a file).
/// The committed copy is `easbase-schema/schema.json`; a test fails when it is stale.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Schema);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}
