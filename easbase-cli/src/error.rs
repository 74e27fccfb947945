//! [`Error`]: everything the `easbase` command and its host can fail with, and the exit
//! status each one gives (see [`Error::exit_code`]).

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The command line is wrong (a malformed URL or address, a missing value).
    #[error("{0}")]
    Usage(String),
    /// A file could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What the operating system said.
        message: String,
    },
    /// The request was understood but refused (destructive migration without opt-in,
    /// an unknown project, keys that do not belong to the project).
    #[error("{0}")]
    Refused(String),
    /// The schema compiler refused (invalid schema, drift, a database error in a migration).
    #[error(transparent)]
    Schema(#[from] easbase_schema::Error),
    /// The platform refused or failed.
    #[error(transparent)]
    Core(#[from] easbase_core::Error),
    /// The auth service could not be built.
    #[error(transparent)]
    Auth(#[from] easbase_auth::AuthError),
    /// An HTTP call of the loopback [`client`](crate::client) failed.
    #[error("HTTP: {0}")]
    Http(String),
}

impl Error {
    /// The process exit status: 2 for a wrong command line or a file that cannot be read
    /// (as for the `schema` commands), 1 for everything else (the input was refused or
    /// the work failed).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Io { .. } => 2,
            Error::Schema(easbase_schema::Error::Io { .. } | easbase_schema::Error::Parse { .. }) => 2,
            _ => 1,
        }
    }

    pub(crate) fn io(path: impl AsRef<std::path::Path>, e: std::io::Error) -> Error {
        Error::Io { path: path.as_ref().display().to_string(), message: e.to_string() }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
