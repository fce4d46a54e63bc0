//! The seam between the run and the kinds of input it reads.
//!
//! A [`Source`] is one input kind: how an input's first line is found and how the input
//! opens as verified, decompressed bytes of flow-log lines (one record per line), whose
//! damaged parts it names. The run (`convert`) sees only this trait: it never asks what
//! kind an input is. Each kind is a file of its own:
//!
//! - [`TEXT`] (`text.rs`): text as AWS delivers it to S3, gzip or plain, a header line first;
//! - [`PARQUET`] (`parquet.rs`): AWS's native Parquet deliveries, whose columns are the fields;
//! - [`CLOUDWATCH_EXPORT`] (`cloudwatch.rs`): objects of CloudWatch Logs export tasks,
//!   each line the event's timestamp, a space, and the record; no header;
//! - [`CLOUDWATCH_SUBSCRIPTION`] (`cloudwatch.rs`): CloudWatch Logs subscription payloads
//!   as Firehose writes them to S3, gzip JSON envelopes whose events are records;
//! - [`FIREHOSE`] (`firehose.rs`): flow logs published straight to Amazon Data Firehose,
//!   as it delivers them to S3: JSON objects `{"message": "<record>"}`, one per record.
//!
//! [`InputKind`] names them (`--input-kind`); [`detect`] tells them apart by content, so
//! one folder may hold several kinds.

mod cloudwatch;
mod firehose;
mod json;
mod parquet;
mod text;

pub use cloudwatch::{CLOUDWATCH_EXPORT, CLOUDWATCH_SUBSCRIPTION, CloudwatchExport};
pub use firehose::FIREHOSE;
pub use json::JsonKind;
pub use parquet::{AwsParquet, PARQUET};
pub use text::{TEXT, Text};

use crate::parse::Reason;
use crate::source::{Decoded, InputFile, OpenProblem};
use crate::storage::Storage;

/// Turns one line an input opened to into the record it holds (CloudWatch Logs exports
/// strip the event's timestamp); `Err`: why the line is rejected, not in the kind's shape.
pub type UnwrapLine = fn(&[u8]) -> Result<&[u8], Reason>;

/// An input's first line, as [`Source::first_line`] finds it.
#[derive(Debug, Default)]
pub struct FirstLine {
    /// The first record or header line; `None` for an input with no lines.
    pub line: Option<Vec<u8>>,
    /// Parts before it that hold no records by design (CloudWatch Logs control messages):
    /// counted for an input that has nothing else.
    pub skipped: u64,
}

/// Where an input kind names the fields of its records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fields {
    /// In a header line its lines start with (text as AWS delivers it to S3); a header
    /// in the middle (files concatenated) switches the format.
    HeaderLine,
    /// In its schema (Parquet): [`Source::first_line`] gives their names, space-separated,
    /// and the lines are records only.
    Schema,
    /// Nowhere: the format comes from `--format`, or is AWS's default format when the
    /// first record has its 14 fields.
    Nowhere,
}

/// One input kind (see the module's documentation).
pub trait Source: Send + Sync {
    /// The kind's name, as reports and `--input-kind` spell it.
    fn name(&self) -> &'static str;
    /// Where the kind's inputs name their fields.
    fn fields(&self) -> Fields;
    /// The input's first line as a record or header (what [`Source::unwrap_line`] makes
    /// of it). `raw` is the input's first line as
    /// stored (decompressed), when the caller read it already. A problem that starts with
    /// [`crate::source::DAMAGED_FIRST_LINE`] means the input has lines but the first is in
    /// damaged data.
    fn first_line(
        &self,
        storage: &dyn Storage,
        input: &InputFile,
        raw: Option<Vec<u8>>,
    ) -> Result<FirstLine, OpenProblem>;
    /// Opens the input for reading: read whole when it has at most `whole_max` stored
    /// bytes (every damaged part then known before the first line), streamed otherwise.
    /// By default as lines of text (gzip, every member verified, or plain).
    fn open(&self, storage: &dyn Storage, input: &InputFile, whole_max: u64) -> Result<Decoded, OpenProblem> {
        Decoded::open_with(storage, input, whole_max)
    }
    /// Opens an input whose stored bytes were fetched already (read ahead from S3); by
    /// default as lines of text.
    fn open_fetched(&self, bytes: Vec<u8>, input: &InputFile) -> Result<Decoded, OpenProblem> {
        Decoded::from_bytes(bytes, input)
    }
    /// Whether the kind finds an input's first record without its first line as text (it
    /// reads the input its own way: JSON whole, Parquet by its footer), so that a first line
    /// that cannot be read as text (a long JSON object cut off) does not decide the input.
    fn own_first_line(&self) -> bool {
        false
    }
    /// How each line [`Source::open`] gives becomes a record; `None`: as it is.
    fn unwrap_line(&self) -> Option<UnwrapLine> {
        None
    }
}

/// The first line of an input of lines, as stored (decompressed): `raw` when the caller
/// read it already.
fn stored_first_line(storage: &dyn Storage, input: &InputFile, raw: Option<Vec<u8>>) -> Result<FirstLine, OpenProblem> {
    let line = match raw {
        Some(line) => Some(line),
        None => crate::source::first_line(storage, input)?,
    };
    Ok(FirstLine { line, skipped: 0 })
}

/// Which kind the inputs are: found from each input's content (`Auto`), or forced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum InputKind {
    /// Each input's kind found from its content ([`detect`]).
    #[default]
    Auto,
    /// [`TEXT`].
    Text,
    /// [`PARQUET`].
    Parquet,
    /// [`CLOUDWATCH_EXPORT`].
    CloudwatchExport,
    /// [`CLOUDWATCH_SUBSCRIPTION`].
    CloudwatchSubscription,
    /// [`FIREHOSE`].
    Firehose,
}

impl InputKind {
    /// Every kind, in the order `--input-kind` lists them.
    pub const ALL: [InputKind; 6] = [
        InputKind::Auto,
        InputKind::Text,
        InputKind::Parquet,
        InputKind::CloudwatchExport,
        InputKind::CloudwatchSubscription,
        InputKind::Firehose,
    ];

    /// The name `--input-kind` takes.
    pub fn name(self) -> &'static str {
        match self {
            InputKind::Auto => "auto",
            InputKind::Text => "text",
            InputKind::Parquet => "parquet",
            InputKind::CloudwatchExport => "cloudwatch-export",
            InputKind::CloudwatchSubscription => "cloudwatch-subscription",
            InputKind::Firehose => "firehose",
        }
    }

    /// The kind of that name.
    pub fn from_name(name: &str) -> Option<InputKind> {
        InputKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The source that reads inputs of this kind; `None` for `Auto`.
    pub fn source(self) -> Option<&'static dyn Source> {
        match self {
            InputKind::Auto => None,
            InputKind::Text => Some(&TEXT),
            InputKind::Parquet => Some(&PARQUET),
            InputKind::CloudwatchExport => Some(&CLOUDWATCH_EXPORT),
            InputKind::CloudwatchSubscription => Some(&CLOUDWATCH_SUBSCRIPTION),
            InputKind::Firehose => Some(&FIREHOSE),
        }
    }
}

impl std::fmt::Display for InputKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The kind of an input from its first line as stored (decompressed): Parquet's magic
/// bytes make a Parquet delivery, JSON with a
/// `messageType` is a subscription payload, a JSON object whose first key is `message` a
/// Firehose delivery, a line that starts with an ISO-8601 timestamp
/// and a space a CloudWatch Logs export, anything else text (with a header, or headerless
/// with `--format`). `Err`: why the input matches no kind (JSON of another shape).
pub fn detect(first_line: &[u8]) -> Result<&'static dyn Source, String> {
    let line = first_line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(first_line);
    if first_line.starts_with(b"PAR1") {
        return Ok(&PARQUET);
    }
    let trimmed = line.trim_ascii_start();
    if trimmed.starts_with(b"{") || trimmed.starts_with(b"[") {
        if memchr::memmem::find(trimmed, b"\"messageType\"").is_some() {
            return Ok(&CLOUDWATCH_SUBSCRIPTION);
        }
        if firehose::starts_a_record(trimmed) {
            return Ok(&FIREHOSE);
        }
        return Err("matches no input kind: it holds JSON, but neither the messageType of a CloudWatch Logs \
                    subscription payload nor the {\"message\": …} records of a Firehose delivery"
            .into());
    }
    if cloudwatch::timestamp_len(line).is_some_and(|n| line.get(n) == Some(&b' ')) {
        return Ok(&CLOUDWATCH_EXPORT);
    }
    Ok(&TEXT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_told_apart_by_their_first_line() {
        let name = |l: &[u8]| detect(l).map(|s| s.name());
        assert_eq!(name(b"version account-id interface-id"), Ok("text"));
        assert_eq!(name(b"2 123456789012 eni-1 - - - - - - - 1 2 NODATA"), Ok("text"));
        assert_eq!(name(b""), Ok("text"));
        assert_eq!(name(b"2023-08-01T00:00:05.000Z 2 123456789012 eni-1"), Ok("cloudwatch-export"));
        assert_eq!(name(b"2023-08-01T00:00:05Z 2 x"), Ok("cloudwatch-export"));
        // A timestamp without the space and record after it is no export line.
        assert_eq!(name(b"2023-08-01T00:00:05Z"), Ok("text"));
        assert_eq!(name(br#"{"messageType":"DATA_MESSAGE","owner":"1"}"#), Ok("cloudwatch-subscription"));
        assert_eq!(name(b"\xef\xbb\xbf  {\"messageType\": \"CONTROL_MESSAGE\"}"), Ok("cloudwatch-subscription"));
        assert_eq!(name(br#"{"message":"2 123456789012 eni-1"}{"message":"2"}"#), Ok("firehose"));
        assert_eq!(name(br#" { "message" : "2 1"}"#), Ok("firehose"));
        assert!(name(br#"{"records": []}"#).unwrap_err().contains("JSON"));
        assert!(name(br#"{"messages": "x"}"#).unwrap_err().contains("JSON"));
        assert_eq!(name(b"PAR1\x15\x04"), Ok("parquet"));
    }

    #[test]
    fn kind_names_round_trip() {
        for k in InputKind::ALL {
            assert_eq!(InputKind::from_name(k.name()), Some(k));
            assert_eq!(k.source().map(|s| s.name()), (k != InputKind::Auto).then(|| k.name()));
        }
        assert_eq!(InputKind::from_name("csv"), None);
    }
}
