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
    /// An input, a table or a file that was named does not exist (or holds nothing to use).
    #[error("{0}")]
    NotFound(String),
    /// Something the table holds (a commit, a checkpoint, a Parquet footer) is damaged or
    /// was edited; the sentence names it and what to do.
    #[error("{0}")]
    Damaged(String),
    /// S3 refused or failed a request; the sentence names the URL and the fix.
    #[error("{0}")]
    S3(String),
    /// The run could not complete (too many rejects, no input, …).
    #[error("{0}")]
    Failed(String),
    /// Going on could convert rows twice or lose them (an input the table may or may not
    /// hold already, …): nothing was written; the sentence says what to do.
    #[error("{0}")]
    Refused(String),
    /// Another run committed first and did part of the same work: nothing was written.
    #[error("{0}")]
    Conflict(String),
}

impl Error {
    /// Builds an [`Error::Io`].
    pub fn io(action: &'static str, path: impl std::fmt::Display, source: io::Error) -> Error {
        Error::Io { action, path: path.to_string(), source }
    }

    /// True when the error says a location does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound(_))
            || matches!(self, Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
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
