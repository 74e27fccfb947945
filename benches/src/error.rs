//! The harness's one error type.

/// Why a load run could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Setting up a server or its data failed.
    #[error("setup: {0}")]
    Setup(String),
    /// The load could not be sent (no connection, wrk failed).
    #[error("load: {0}")]
    Load(String),
    /// The command line was wrong.
    #[error("{0}")]
    Usage(String),
    /// Writing the report failed.
    #[error("writing {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// A setup error from anything displayable, with what was being done.
    pub fn setup(what: &str, e: impl std::fmt::Display) -> Error {
        Error::Setup(format!("{what}: {e}"))
    }
}

/// The harness's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
