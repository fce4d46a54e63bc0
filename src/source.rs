//! Inputs: finding the flow-log files under the paths a user gave, and
//! opening each one as a decompressed byte stream.

use std::io::{self, BufRead, BufReader, Read};

use flate2::bufread::MultiGzDecoder;
use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::error::{Error, Result};
use crate::partition::{Origin, PathTime, origin_from_path, time_from_path};
use crate::storage::{Location, ObjectMeta, Storage};

/// File-name patterns selected when walking a folder, unless `--glob` is given.
pub const DEFAULT_GLOBS: &[&str] = &["*.log.gz", "*.log", "*.gz", "*.txt"];

/// One input file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputFile {
    /// Where it is, its size and version.
    pub meta: ObjectMeta,
    /// The delivery time in its path (`…/YYYY/MM/DD/…`), used for records without `start`.
    pub path_time: Option<PathTime>,
    /// The account, service and region in its path (`AWSLogs/<account>/vpcflowlogs/<region>/…`).
    pub origin: Option<Origin>,
}

impl InputFile {
    /// An input from a listed object.
    pub fn new(meta: ObjectMeta) -> InputFile {
        let key = meta.location.key_path();
        InputFile { path_time: time_from_path(&key), origin: origin_from_path(&key), meta }
    }

    /// Where the file is.
    pub fn location(&self) -> &Location {
        &self.meta.location
    }
}

/// Which files in a walked folder are inputs.
#[derive(Clone, Debug)]
pub struct FileSelector {
    set: GlobSet,
    patterns: Vec<String>,
}

impl FileSelector {
    /// Matches file names against `patterns` (glob syntax; `*` does not cross `/`).
    /// An empty list means [`DEFAULT_GLOBS`].
    pub fn new(patterns: &[String]) -> Result<FileSelector> {
        let patterns: Vec<String> =
            if patterns.is_empty() { DEFAULT_GLOBS.iter().map(|s| s.to_string()).collect() } else { patterns.to_vec() };
        let mut b = GlobSetBuilder::new();
        for p in &patterns {
            let glob = Glob::new(p).map_err(|e| Error::Usage(format!("invalid --glob `{p}`: {e}")))?;
            b.add(glob);
        }
        let set = b.build().map_err(|e| Error::Usage(format!("invalid --glob: {e}")))?;
        Ok(FileSelector { set, patterns })
    }

    /// True when a file name is selected.
    pub fn matches(&self, file_name: &str) -> bool {
        self.set.is_match(file_name)
    }

    /// The patterns, for messages.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

/// Lists the input files under `roots`, sorted by path (in the AWS layout,
/// that is delivery order). A root that is a file is taken whatever its name;
/// files found by walking a folder are taken when `selector` matches their name.
pub fn discover(storage: &dyn Storage, roots: &[Location], selector: &FileSelector) -> Result<Vec<InputFile>> {
    let mut files = Vec::new();
    for root in roots {
        let listed = storage.list(root).map_err(|e| match e {
            Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound => {
                Error::Failed(format!("input {root} does not exist"))
            }
            other => other,
        })?;
        let is_single = listed.len() == 1 && &listed[0].location == root;
        for meta in listed {
            if is_single || selector.matches(&meta.location.file_name()) {
                files.push(InputFile::new(meta));
            }
        }
    }
    files.sort_by(|a, b| a.meta.location.cmp(&b.meta.location));
    files.dedup_by(|a, b| a.meta.location == b.meta.location);
    if files.is_empty() {
        let roots: Vec<String> = roots.iter().map(|r| r.to_string()).collect();
        return Err(Error::Failed(format!(
            "no input files found in {}: looked for {} (use --glob to choose other names)",
            roots.join(", "),
            selector.patterns().join(", ")
        )));
    }
    Ok(files)
}

/// Counts the bytes read through it, to locate damage in compressed input.
struct Counting<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

type Raw = BufReader<Counting<Box<dyn Read + Send>>>;

enum Inner {
    Plain(Raw),
    Gzip(MultiGzDecoder<Raw>),
}

/// An input's decompressed bytes. Gzip (including several concatenated gzip
/// members) is recognised by its magic bytes; anything else is read as text.
pub struct Decoded {
    inner: Inner,
}

/// Why an input could not be opened for reading.
#[derive(Debug)]
pub struct OpenProblem(pub String);

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

impl Decoded {
    /// Opens `input` and wraps it in the right decoder.
    pub fn open(storage: &dyn Storage, input: &InputFile) -> Result<Decoded, OpenProblem> {
        let raw = storage.open(input.location()).map_err(|e| OpenProblem(e.to_string()))?;
        let mut buf = BufReader::with_capacity(256 * 1024, Counting { inner: raw, count: 0 });
        let head = buf.fill_buf().map_err(|e| OpenProblem(format!("cannot read: {e}")))?;
        let gzip = head.starts_with(&GZIP_MAGIC);
        if !gzip && !head.is_empty() && input.location().file_name().ends_with(".gz") {
            return Err(OpenProblem(
                "not a gzip file: the name ends in .gz but the data does not start with the gzip magic bytes 1f 8b at byte 0"
                    .into(),
            ));
        }
        let inner = if gzip { Inner::Gzip(MultiGzDecoder::new(buf)) } else { Inner::Plain(buf) };
        Ok(Decoded { inner })
    }

    /// True when the input is gzip.
    pub fn is_gzip(&self) -> bool {
        matches!(self.inner, Inner::Gzip(_))
    }

    /// Bytes of the stored (compressed) input consumed so far: after an error,
    /// roughly where the damage is.
    pub fn compressed_offset(&self) -> u64 {
        let raw = match &self.inner {
            Inner::Plain(r) => r,
            Inner::Gzip(d) => d.get_ref(),
        };
        raw.get_ref().count - raw.buffer().len() as u64
    }
}

impl Read for Decoded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.inner {
            Inner::Plain(r) => r.read(buf),
            Inner::Gzip(d) => d.read(buf),
        }
    }
}

/// Reads an input's first line (its header, in delivered files), at most
/// [`crate::parse::MAX_LINE`] bytes. `Ok(None)` for an empty file.
pub fn first_line(storage: &dyn Storage, input: &InputFile) -> Result<Option<Vec<u8>>, OpenProblem> {
    let mut r = BufReader::new(Decoded::open(storage, input)?.take(crate::parse::MAX_LINE as u64 + 1));
    let mut line = Vec::new();
    match r.read_until(b'\n', &mut line) {
        Ok(0) => Ok(None),
        Ok(_) => {
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            Ok(Some(line))
        }
        Err(e) => Err(OpenProblem(format!("cannot read the first line: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::LocalStorage;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn reads_multi_member_gzip_and_plain_text() {
        let dir = tempfile::tempdir().unwrap();
        let mut two = gz(b"a\nb\n");
        two.extend(gz(b"c\n"));
        std::fs::write(dir.path().join("x.log.gz"), &two).unwrap();
        std::fs::write(dir.path().join("y.txt"), b"plain\n").unwrap();
        std::fs::write(dir.path().join("notes.md"), b"skip").unwrap();
        let sel = FileSelector::new(&[]).unwrap();
        let files = discover(&LocalStorage, &[Location::Local(dir.path().into())], &sel).unwrap();
        assert_eq!(files.len(), 2);
        let mut out = String::new();
        let mut d = Decoded::open(&LocalStorage, &files[0]).unwrap();
        assert!(d.is_gzip());
        d.read_to_string(&mut out).unwrap();
        assert_eq!(out, "a\nb\nc\n");
        assert_eq!(d.compressed_offset(), two.len() as u64);
        assert_eq!(first_line(&LocalStorage, &files[1]).unwrap(), Some(b"plain".to_vec()));
    }

    #[test]
    fn a_dot_gz_that_is_not_gzip_is_a_problem() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.log.gz");
        std::fs::write(&p, b"version srcaddr\n").unwrap();
        let f = InputFile::new(LocalStorage.list(&Location::Local(p)).unwrap().remove(0));
        let err = Decoded::open(&LocalStorage, &f).err().unwrap();
        assert!(err.0.starts_with("not a gzip file"), "{}", err.0);
    }

    #[test]
    fn missing_input_and_no_matches_are_clear() {
        let dir = tempfile::tempdir().unwrap();
        let sel = FileSelector::new(&[]).unwrap();
        let missing = Location::Local(dir.path().join("nope"));
        let err = discover(&LocalStorage, &[missing.clone()], &sel).unwrap_err().to_string();
        assert_eq!(err, format!("input {missing} does not exist"));
        let err = discover(&LocalStorage, &[Location::Local(dir.path().into())], &sel).unwrap_err().to_string();
        assert!(err.starts_with("no input files found in "), "{err}");
        assert!(err.ends_with("looked for *.log.gz, *.log, *.gz, *.txt (use --glob to choose other names)"), "{err}");
    }
}
