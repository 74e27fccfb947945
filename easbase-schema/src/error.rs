//! Errors: one enum for the crate ([`Error`]) and the validation report it carries
//! ([`ValidationErrors`]), each entry with a path into the description and a stable code.

use std::fmt;

use serde::Serialize;

use crate::Dialect;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The description is not well-formed JSON / TOML, or has the wrong shape.
    #[error("cannot read the schema description: {message}")]
    Parse {
        /// What the parser said, with line and column where it knows them.
        message: String,
    },
    /// The description is well-formed but breaks rules; every broken rule is listed.
    #[error("{0}")]
    Invalid(ValidationErrors),
    /// A migration plan has destructive steps and the caller did not opt in.
    #[error(
        "the migration has {count} destructive step(s) (data would be lost): {first}; pass allow_destructive to apply it"
    )]
    Destructive {
        /// How many steps are destructive.
        count: usize,
        /// A description of the first one.
        first: String,
    },
    /// The migration history of a database disagrees with what is being applied.
    #[error("migration drift: {0}")]
    Drift(String),
    /// The database refused a statement.
    #[error("database error: {0}")]
    Database(String),
    /// Reading a file failed.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's message.
        message: String,
    },
}

impl Error {
    /// A stable, machine-readable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Parse { .. } => "schema_parse",
            Error::Invalid(_) => "schema_invalid",
            Error::Destructive { .. } => "migration_destructive",
            Error::Drift(_) => "migration_drift",
            Error::Database(_) => "database",
            Error::Io { .. } => "io",
        }
    }

    /// The validation errors, when this is [`Error::Invalid`].
    pub fn validation_errors(&self) -> Option<&ValidationErrors> {
        match self {
            Error::Invalid(errors) => Some(errors),
            _ => None,
        }
    }
}

impl From<ValidationErrors> for Error {
    fn from(errors: ValidationErrors) -> Self {
        Error::Invalid(errors)
    }
}

/// The kind of a validation error; [`ErrorKind::code`] is stable across versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// A name that is not a valid identifier.
    InvalidIdentifier,
    /// A name longer than the dialect allows.
    IdentifierTooLong,
    /// A name that is a reserved word or reserved for EasBase.
    ReservedWord,
    /// Two tables with one name.
    DuplicateTable,
    /// Two columns of a table with one name.
    DuplicateColumn,
    /// Two indexes or constraints with one name.
    DuplicateIndex,
    /// Two enums with one name, or an enum with a repeated or empty value.
    DuplicateEnum,
    /// A table without a primary key.
    MissingPrimaryKey,
    /// A primary key declared twice (on columns and as `primary_key`).
    DoubledPrimaryKey,
    /// A table that is not in the schema.
    UnknownTable,
    /// A column that is not in its table.
    UnknownColumn,
    /// A type that is neither built in nor an enum of the schema.
    UnknownType,
    /// A foreign key whose column types differ from the referenced ones.
    ForeignKeyTypeMismatch,
    /// A foreign key that does not reference a primary key or unique columns.
    ForeignKeyTarget,
    /// A default that does not fit the column's type.
    InvalidDefault,
    /// A policy, check or index predicate that does not parse.
    PolicySyntax,
    /// A policy, check or index predicate that parses but is wrong for its table.
    PolicyInvalid,
    /// Something the target dialect cannot represent.
    UnsupportedByDialect,
    /// A structural problem (empty lists, a column listed twice, …).
    Invalid,
}

impl ErrorKind {
    /// The stable code of this kind.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::InvalidIdentifier => "invalid_identifier",
            ErrorKind::IdentifierTooLong => "identifier_too_long",
            ErrorKind::ReservedWord => "reserved_word",
            ErrorKind::DuplicateTable => "duplicate_table",
            ErrorKind::DuplicateColumn => "duplicate_column",
            ErrorKind::DuplicateIndex => "duplicate_index",
            ErrorKind::DuplicateEnum => "duplicate_enum",
            ErrorKind::MissingPrimaryKey => "missing_primary_key",
            ErrorKind::DoubledPrimaryKey => "doubled_primary_key",
            ErrorKind::UnknownTable => "unknown_table",
            ErrorKind::UnknownColumn => "unknown_column",
            ErrorKind::UnknownType => "unknown_type",
            ErrorKind::ForeignKeyTypeMismatch => "foreign_key_type_mismatch",
            ErrorKind::ForeignKeyTarget => "foreign_key_target",
            ErrorKind::InvalidDefault => "invalid_default",
            ErrorKind::PolicySyntax => "policy_syntax",
            ErrorKind::PolicyInvalid => "policy_invalid",
            ErrorKind::UnsupportedByDialect => "unsupported_by_dialect",
            ErrorKind::Invalid => "invalid",
        }
    }
}

/// One broken rule: where (`tables[2].columns[0].type`), what kind, and a sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationError {
    /// The path into the description, e.g. `tables[2].columns[0].type`.
    pub path: String,
    /// The kind of rule broken.
    pub kind: ErrorKind,
    /// A message a person understands.
    pub message: String,
    /// The dialect the rule belongs to, for dialect-specific rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dialect: Option<Dialect>,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)?;
        if let Some(d) = self.dialect {
            write!(f, " [{d}]")?;
        }
        write!(f, " ({})", self.kind.code())
    }
}

/// All the rules a description breaks (never empty when returned as an error).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl ValidationErrors {
    /// The errors.
    pub fn iter(&self) -> std::slice::Iter<'_, ValidationError> {
        self.0.iter()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// None at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether any error is of this kind at this path (handy in tests).
    pub fn contains(&self, path: &str, kind: ErrorKind) -> bool {
        self.0.iter().any(|e| e.path == path && e.kind == kind)
    }

    pub(crate) fn push(&mut self, path: impl Into<String>, kind: ErrorKind, message: impl Into<String>) {
        self.0.push(ValidationError { path: path.into(), kind, message: message.into(), dialect: None });
    }

    pub(crate) fn push_for(
        &mut self,
        dialect: Dialect,
        path: impl Into<String>,
        kind: ErrorKind,
        message: impl Into<String>,
    ) {
        self.0.push(ValidationError {
            path: path.into(),
            kind,
            message: message.into(),
            dialect: Some(dialect),
        });
    }

    pub(crate) fn into_result<T>(self, ok: T) -> Result<T, ValidationErrors> {
        if self.0.is_empty() { Ok(ok) } else { Err(self) }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the schema has {} error(s):", self.0.len())?;
        for e in &self.0 {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

impl<'a> IntoIterator for &'a ValidationErrors {
    type Item = &'a ValidationError;
    type IntoIter = std::slice::Iter<'a, ValidationError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}
