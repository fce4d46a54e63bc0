//! The library's error type: one sentence that names what failed and where.

use std::io;

/// Every way a flowlake operation can fail as a whole. Problems with single
/// lines or single input files are not errors: they are counted in the run
/// report and written to the rejects file, and the run goes on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user asked for something that cannot work (bad flag value, unknown field, …).
    #[error("{0}")]
    Usage(String),
    /// An input or output could not be read, written or listed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done: `read`, `write`, `create`, `list`, …
        action: &'static str,
        /// The path or URL it was done to.
        path: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Encoding Parquet failed.
    #[error("cannot write Parquet file {path}: {source}")]
    Parquet {
        /// The output file.
        path: String,
        /// The underlying error.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// The run could not complete (too many rejects, no input, …).
    #[error("{0}")]
    Failed(String),
    /// Another run committed first and did part of the same work: nothing was written.
    #[error("{0}")]
    Conflict(String),
}

impl Error {
    /// Builds an [`Error::Io`].
    pub fn io(action: &'static str, path: impl std::fmt::Display, source: io::Error) -> Error {
        Error::Io { action, path: path.to_string(), source }
    }

    /// The process exit code for this error: 2 for usage errors, 3 for a conflict with a
    /// run that committed first, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            Error::Conflict(_) => 3,
            _ => 1,
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
