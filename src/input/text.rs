//! Flow-log text as AWS delivers it to S3: gzip (every member verified) or plain, one
//! record per line, a header line naming the fields first.

use super::{Fields, FirstLine, Source};
use crate::source::{InputFile, OpenProblem};
use crate::storage::Storage;

/// Flow-log text (see the module's documentation).
pub struct Text;

/// The text kind.
pub static TEXT: Text = Text;

impl Source for Text {
    fn name(&self) -> &'static str {
        "text"
    }

    fn fields(&self) -> Fields {
        Fields::HeaderLine
    }

    fn first_line(
        &self,
        storage: &dyn Storage,
        input: &InputFile,
        raw: Option<Vec<u8>>,
    ) -> Result<FirstLine, OpenProblem> {
        super::stored_first_line(storage, input, raw)
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
        assert_eq!(
            source.first_line(&LocalStorage, &input, None).unwrap().line.as_deref(),
            Some(&b"version srcaddr"[..])
        );
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
