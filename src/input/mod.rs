//! The seam between the run and the kinds of input it reads.
//!
//! A [`Source`] is one input kind: how an input's header is found and how the input opens
//! as verified, decompressed bytes of flow-log lines, whose damaged parts it names. The
//! run (`convert`) sees only this trait: it never asks what kind an input is. Text as
//! AWS delivers it to S3 (gzip or plain, a header line first) is [`TEXT`], the one kind
//! today; AWS's Parquet deliveries, CloudWatch Logs exports and subscription payloads are
//! to be new implementations, each in a file of its own.

use crate::source::{self, Decoded, InputFile, OpenProblem};
use crate::storage::Storage;

/// One input kind (see the module's documentation).
pub trait Source: Send + Sync {
    /// The kind's name, as reports and flags spell it.
    fn name(&self) -> &'static str;
    /// The input's first line (its header, in delivered files); `Ok(None)` for an empty
    /// input. A problem that starts with [`source::DAMAGED_FIRST_LINE`] means the input
    /// has lines but the first is in damaged data.
    fn first_line(&self, storage: &dyn Storage, input: &InputFile) -> Result<Option<Vec<u8>>, OpenProblem>;
    /// Opens the input for reading: read whole when it has at most `whole_max` stored
    /// bytes (every damaged part then known before the first line), streamed otherwise.
    fn open(&self, storage: &dyn Storage, input: &InputFile, whole_max: u64) -> Result<Decoded, OpenProblem>;
    /// Opens an input whose stored bytes were fetched already (read ahead from S3).
    fn open_fetched(&self, bytes: Vec<u8>, input: &InputFile) -> Result<Decoded, OpenProblem>;
}

/// Flow-log text as AWS delivers it: gzip (every member verified) or plain, one record
/// per line, a header line first.
pub struct Text;

/// The text kind.
pub static TEXT: Text = Text;

impl Source for Text {
    fn name(&self) -> &'static str {
        "text"
    }

    fn first_line(&self, storage: &dyn Storage, input: &InputFile) -> Result<Option<Vec<u8>>, OpenProblem> {
        source::first_line(storage, input)
    }

    fn open(&self, storage: &dyn Storage, input: &InputFile, whole_max: u64) -> Result<Decoded, OpenProblem> {
        Decoded::open_with(storage, input, whole_max)
    }

    fn open_fetched(&self, bytes: Vec<u8>, input: &InputFile) -> Result<Decoded, OpenProblem> {
        Decoded::from_bytes(bytes, input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    use crate::storage::{LocalStorage, Location};

    /// The text kind reads a gzip input's header and lines, whole, streamed or fetched.
    #[test]
    fn text_opens_gzip_inputs_every_way() {
        let dir = tempfile::tempdir().unwrap();
        let text = b"version srcaddr\n2 10.0.0.1\n2 10.0.0.2\n";
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, text).unwrap();
        let bytes = gz.finish().unwrap();
        let at = Location::Local(dir.path().join("x.log.gz"));
        LocalStorage.put(&at, &bytes).unwrap();
        let input = InputFile::new(LocalStorage.list(&at).unwrap().remove(0));
        let source: &dyn Source = &TEXT;
        assert_eq!(source.name(), "text");
        assert_eq!(source.first_line(&LocalStorage, &input).unwrap().as_deref(), Some(&b"version srcaddr"[..]));
        for mut d in [
            source.open(&LocalStorage, &input, u64::MAX).unwrap(),
            source.open(&LocalStorage, &input, 0).unwrap(),
            source.open_fetched(bytes.clone(), &input).unwrap(),
        ] {
            let mut out = Vec::new();
            d.read_to_end(&mut out).unwrap();
            assert_eq!(out, text);
            assert!(d.bad_members().is_empty() && d.is_gzip());
        }
    }
}
