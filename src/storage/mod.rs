//! Where bytes live: listing, reading and atomically writing objects.
//!
//! This is the only module that knows the difference between a local folder
//! and an object store. Everything above it speaks [`Location`] and
//! [`Storage`]: the parser reads from a boxed `Read`, the Parquet writer
//! writes to a boxed [`ObjectWriter`] that becomes visible only on
//! [`ObjectWriter::commit`].

mod local;
#[cfg(feature = "s3")]
mod s3;

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use local::LocalStorage;
#[cfg(feature = "s3")]
pub use s3::{PART_SIZE, S3Storage};

use crate::error::{Error, Result};

/// A file or folder on local disk, or an object or prefix in S3.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Location {
    /// A local path.
    Local(PathBuf),
    /// `s3://bucket/key`.
    S3 {
        /// Bucket name.
        bucket: String,
        /// Key or prefix (no leading `/`).
        key: String,
    },
}

impl Location {
    /// Parses a command-line argument: `s3://bucket/prefix` or a local path.
    pub fn parse(s: &str) -> Result<Location> {
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(Error::Usage(format!("`{s}` names no bucket; expected s3://BUCKET/PREFIX")));
            }
            return Ok(Location::S3 { bucket: bucket.to_string(), key: key.to_string() });
        }
        if s.contains("://") {
            return Err(Error::Usage(format!("`{s}`: only local paths and s3:// URLs are supported")));
        }
        if s.is_empty() {
            return Err(Error::Usage("an empty path: give a folder, or an s3:// URL".into()));
        }
        Ok(Location::Local(PathBuf::from(s)))
    }

    /// A location below this one; `rel` uses `/` separators.
    pub fn join(&self, rel: &str) -> Location {
        match self {
            Location::Local(p) => {
                Location::Local(rel.split('/').filter(|s| !s.is_empty()).fold(p.clone(), |p, s| p.join(s)))
            }
            Location::S3 { bucket, key } => {
                let key =
                    if key.is_empty() || key.ends_with('/') { format!("{key}{rel}") } else { format!("{key}/{rel}") };
                Location::S3 { bucket: bucket.clone(), key }
            }
        }
    }

    /// The local path, if this is one.
    pub fn as_local(&self) -> Option<&Path> {
        match self {
            Location::Local(p) => Some(p),
            Location::S3 { .. } => None,
        }
    }

    /// True for an `s3://` location (one reached over a network).
    pub fn is_remote(&self) -> bool {
        matches!(self, Location::S3 { .. })
    }

    /// The location with a local path made absolute (against the working folder, without
    /// resolving links), as DDL and reports name it; an S3 location as it is.
    pub fn absolute(&self) -> Location {
        match self {
            Location::Local(p) => Location::Local(std::path::absolute(p).unwrap_or_else(|_| p.clone())),
            Location::S3 { .. } => self.clone(),
        }
    }

    /// The path or key as a `/`-separated string, used to find dates and formats in it.
    pub fn key_path(&self) -> String {
        match self {
            Location::Local(p) => p.to_string_lossy().replace('\\', "/"),
            Location::S3 { key, .. } => key.clone(),
        }
    }

    /// The URL of the object store this location is in, as object-store clients name it:
    /// `s3://bucket`, or `file://` for local disk.
    pub fn store_url(&self) -> String {
        match self {
            Location::Local(_) => "file://".to_string(),
            Location::S3 { bucket, .. } => format!("s3://{bucket}"),
        }
    }

    /// This location's key within its store ([`Location::store_url`]): the S3 key, or the
    /// local path without its leading `/` (made absolute first).
    pub fn store_key(&self) -> String {
        match self {
            Location::Local(p) => {
                let abs =
                    if p.is_absolute() { p.clone() } else { std::path::absolute(p).unwrap_or_else(|_| p.clone()) };
                abs.to_string_lossy().trim_start_matches('/').to_string()
            }
            Location::S3 { key, .. } => key.clone(),
        }
    }

    /// The location of `key` ([`Location::store_key`]) in the same store as this one.
    pub fn at_store_key(&self, key: &str) -> Location {
        match self {
            Location::Local(_) => Location::Local(PathBuf::from(format!("/{key}"))),
            Location::S3 { bucket, .. } => Location::S3 { bucket: bucket.clone(), key: key.to_string() },
        }
    }

    /// The last path segment.
    pub fn file_name(&self) -> String {
        let k = self.key_path();
        k.trim_end_matches('/').rsplit('/').next().unwrap_or("").to_string()
    }

    /// The location as a string that tells any two locations apart, for keys in a table's
    /// metadata: `s3://bucket/key`, or a local path's bytes, with `%` written `%25` and
    /// bytes that are not UTF-8 written `%XX` (two paths that differ only in such bytes
    /// stay two keys; `to_string` would make them one).
    pub fn identity(&self) -> String {
        match self {
            Location::S3 { .. } => self.to_string(),
            Location::Local(p) => {
                use std::os::unix::ffi::OsStrExt;
                let mut out = String::new();
                for chunk in p.as_os_str().as_bytes().utf8_chunks() {
                    out.push_str(&chunk.valid().replace('%', "%25"));
                    for b in chunk.invalid() {
                        out.push_str(&format!("%{b:02X}"));
                    }
                }
                out
            }
        }
    }
}

impl Location {
    /// The location a string from [`Location::identity`] names (the inverse of it; also
    /// takes a plain path or `s3://` URL).
    pub fn from_identity(key: &str) -> Result<Location> {
        if key.starts_with("s3://") {
            return Location::parse(key);
        }
        use std::os::unix::ffi::OsStringExt;
        let (b, mut out, mut i) = (key.as_bytes(), Vec::with_capacity(key.len()), 0);
        while i < b.len() {
            let hex = |j: usize| b.get(j).and_then(|c| (*c as char).to_digit(16));
            match (b[i], hex(i + 1), hex(i + 2)) {
                (b'%', Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                }
                (c, ..) => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        Ok(Location::Local(PathBuf::from(std::ffi::OsString::from_vec(out))))
    }
}

/// One level of a folder of inputs ([`Storage::list_dir_inputs`]).
#[derive(Clone, Debug, Default)]
pub struct DirListing {
    /// Objects directly in it.
    pub files: Vec<ObjectMeta>,
    /// Its subfolders.
    pub dirs: Vec<Location>,
    /// Entries that cannot be read as inputs, with why (a symbolic link that leads nowhere).
    pub broken: Vec<(Location, String)>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local(p) => write!(f, "{}", p.display()),
            Location::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
        }
    }
}

/// One listed object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Where it is.
    pub location: Location,
    /// Its size in bytes.
    pub size: u64,
    /// Something that changes when the object changes: the ETag in S3, the
    /// modification time (nanoseconds) on disk.
    pub version: String,
}

/// A writer whose output becomes visible at its final location only when
/// [`commit`](ObjectWriter::commit) succeeds. Dropping it uncommitted
/// discards what was written.
pub trait ObjectWriter: Write + Send {
    /// Makes the object visible under its final name, atomically.
    fn commit(self: Box<Self>) -> Result<()>;
    /// Where the object will appear.
    fn location(&self) -> &Location;
}

/// A place to list, read and write objects.
pub trait Storage: Send + Sync {
    /// Every object at or under `root` (recursively), except those below a
    /// folder whose name starts with `.` or `_` (hidden and metadata folders,
    /// which Athena and Spark skip too). A `root` that is an object lists itself.
    /// Symbolic links below `root` are not followed (see [`Storage::links`]).
    fn list(&self, root: &Location) -> Result<Vec<ObjectMeta>>;
    /// One level of a folder: the objects directly in it and its subfolders
    /// (for listing only the parts of a date-organised tree that are needed);
    /// symbolic links are left out.
    fn list_dir(&self, dir: &Location) -> Result<(Vec<ObjectMeta>, Vec<Location>)>;
    /// The symbolic links below `root` that [`Storage::list`] leaves out (local disk;
    /// object stores have none).
    fn links(&self, _root: &Location) -> Result<Vec<Location>> {
        Ok(Vec::new())
    }
    /// One level of a folder of inputs, every location in its canonical form (local disk:
    /// symbolic links resolved, so that a file or folder reached two ways has one name);
    /// a link that leads nowhere is listed as broken, not an error.
    fn list_dir_inputs(&self, dir: &Location) -> Result<DirListing> {
        let (files, dirs) = self.list_dir(dir)?;
        Ok(DirListing { files, dirs, broken: Vec::new() })
    }
    /// The canonical form of a location (local disk: absolute, symbolic links and `..`
    /// resolved; it must exist). Object stores name every object one way already.
    fn canonical(&self, location: &Location) -> Result<Location> {
        Ok(location.clone())
    }
    /// Streams an object's bytes.
    fn open(&self, location: &Location) -> Result<Box<dyn Read + Send>>;
    /// Reads `len` bytes at `offset` (for Parquet footers).
    fn read_range(&self, location: &Location, offset: u64, len: u64) -> Result<Vec<u8>>;
    /// Starts writing an object (see [`ObjectWriter`]).
    fn create(&self, location: &Location) -> Result<Box<dyn ObjectWriter>>;
    /// Writes a small object in one go, atomically.
    fn put(&self, location: &Location, data: &[u8]) -> Result<()> {
        let mut w = self.create(location)?;
        w.write_all(data).map_err(|e| Error::io("write", location, e))?;
        w.commit()
    }
    /// Writes a small object only if nothing is at `location` yet: `Ok(true)` when this
    /// call created it, `Ok(false)` when an object was there already (it is left as it
    /// was). Of any number of callers at once, exactly one creates it, and no reader ever
    /// sees it partly written: on disk a no-replace link of a complete temporary file,
    /// on S3 `PutObject` with `If-None-Match: *`.
    fn put_if_absent(&self, location: &Location, data: &[u8]) -> Result<bool>;
    /// Deletes an object; deleting one that does not exist is not an error.
    fn delete(&self, location: &Location) -> Result<()>;
    /// Moves a complete object to another name in the same store (a rename on
    /// disk; copy then delete in S3). Moving one that is already gone is not
    /// an error when the target exists (moves are repeated after a crash).
    fn rename(&self, from: &Location, to: &Location) -> Result<()>;
    /// Swaps two folders in one atomic step, where the store can (local disk on Linux):
    /// a reader listing either path sees all of one folder's objects or all of the
    /// other's. `Ok(false)` when it cannot (S3 has no multi-object operation; a file
    /// system without `RENAME_EXCHANGE`, or a path that is missing).
    fn exchange(&self, _a: &Location, _b: &Location) -> Result<bool> {
        Ok(false)
    }
    /// Gives an object a second name in the same store without copying (a hard link on
    /// disk), where the store can; `Ok(false)` when it cannot. An existing `to` is kept.
    fn hard_link(&self, _from: &Location, _to: &Location) -> Result<bool> {
        Ok(false)
    }
    /// True if `location` is a symbolic link (local disk; object stores have none).
    fn is_link(&self, _location: &Location) -> Result<bool> {
        Ok(false)
    }
    /// True if `location` is an existing file (local disk; on S3 a key may be an object
    /// and a prefix at once, so outputs there are never refused for it).
    fn is_file(&self, _location: &Location) -> Result<bool> {
        Ok(false)
    }
    /// True for object stores over a network, where reading ahead pays.
    fn is_remote(&self) -> bool {
        false
    }
    /// Removes `dir` and the folders below it if no object is left in them (object
    /// stores have no folders to remove).
    fn remove_empty_dirs(&self, _dir: &Location) -> Result<()> {
        Ok(())
    }
    /// Removes the temporary files that writers killed mid-write left below `dir`
    /// (except under subfolders named in `skip`), once the process that wrote one is gone
    /// (checked on this host) or it is older than `max_age_secs`; returns how many.
    /// Object stores have none: an unfinished upload is never visible.
    fn remove_stale_temporaries(&self, _dir: &Location, _max_age_secs: u64, _skip: &[&str]) -> Result<u64> {
        Ok(0)
    }
}

/// How to reach S3: everything not given comes from the standard AWS chain
/// (environment, `~/.aws/config` and `credentials`, SSO, web identity,
/// instance and container metadata). No credential is ever kept here.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StorageOptions {
    /// `--endpoint-url`: an S3-compatible store (path-style addressing). `AWS_ENDPOINT_URL` works too.
    pub endpoint_url: Option<String>,
    /// `--profile`: a named profile of the shared config files.
    pub profile: Option<String>,
    /// `--region`.
    pub region: Option<String>,
    /// `--sse`: server-side encryption of written objects, `AES256` or `aws:kms`.
    pub sse: Option<String>,
    /// `--sse-kms-key-id`.
    pub sse_kms_key_id: Option<String>,
    /// `--expected-bucket-owner`: requests fail unless the bucket belongs to this account.
    pub expected_bucket_owner: Option<String>,
    /// The S3 clients built for these options (shared by their clones), so that one run
    /// builds one client per set of settings. Not a setting: options compare without it.
    pub clients: Clients,
}

/// S3 clients built for a set of [`StorageOptions`], by the settings they were built
/// with. Each set of options made by a caller has its own (its clones share it); nothing
/// is global.
#[derive(Clone, Default)]
#[cfg_attr(not(feature = "s3"), allow(dead_code))]
pub struct Clients(Arc<std::sync::Mutex<Vec<Built>>>);

/// The settings of [`StorageOptions`] a client is built from.
type Settings = [Option<String>; 6];

/// A client, and the settings it was built with.
type Built = (Settings, Arc<dyn Storage>);

impl PartialEq for Clients {
    fn eq(&self, _: &Clients) -> bool {
        true
    }
}

impl Eq for Clients {}

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clients")
    }
}

impl StorageOptions {
    #[cfg_attr(not(feature = "s3"), allow(dead_code))]
    fn settings(&self) -> Settings {
        [
            self.endpoint_url.clone(),
            self.profile.clone(),
            self.region.clone(),
            self.sse.clone(),
            self.sse_kms_key_id.clone(),
            self.expected_bucket_owner.clone(),
        ]
    }
}

/// The storage that serves a location. S3 clients are built once per set of options
/// (see [`StorageOptions::clients`]).
pub fn storage_for(location: &Location, opts: &StorageOptions) -> Result<Arc<dyn Storage>> {
    match location {
        Location::Local(_) => Ok(Arc::new(LocalStorage)),
        #[cfg(feature = "s3")]
        Location::S3 { .. } => {
            if let Some(sse) = &opts.sse
                && sse != "AES256"
                && sse != "aws:kms"
            {
                return Err(Error::Usage(format!("invalid --sse `{sse}`: expected AES256 or aws:kms")));
            }
            let settings = opts.settings();
            let mut clients = opts.clients.0.lock().expect("client cache");
            if let Some((_, c)) = clients.iter().find(|(s, _)| *s == settings) {
                return Ok(c.clone());
            }
            let c: Arc<dyn Storage> = Arc::new(S3Storage::new(opts));
            clients.push((settings, c.clone()));
            Ok(c)
        }
        #[cfg(not(feature = "s3"))]
        Location::S3 { .. } => {
            let _ = opts;
            Err(Error::Usage(format!(
                "{location}: this build of flowlake has no S3 support (built without the `s3` feature)"
            )))
        }
    }
}

/// A writer that counts the bytes written through it (a file's size as it is written).
pub struct Counted<W> {
    /// Where the bytes go.
    pub inner: W,
    /// Bytes written so far.
    pub bytes: u64,
}

impl<W> Counted<W> {
    /// Counts what is written to `inner`.
    pub fn new(inner: W) -> Counted<W> {
        Counted { inner, bytes: 0 }
    }
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A location's key in its object store and back (how queries address table files),
    /// and the small questions asked of a location.
    #[test]
    fn store_keys_round_trip() {
        for l in [
            Location::Local("/data/lake/date=2023-08-01/part-1.parquet".into()),
            Location::parse("s3://b/lake/x").unwrap(),
        ] {
            assert_eq!(l.at_store_key(&l.store_key()), l);
        }
        assert_eq!(Location::Local("/data/lake".into()).store_url(), "file://");
        assert_eq!(Location::parse("s3://b/lake").unwrap().store_url(), "s3://b");
        assert_eq!(Location::Local("/data/lake".into()).store_key(), "data/lake");
        let rel = Location::Local("lake".into());
        assert!(rel.store_key().ends_with("/lake") && !rel.store_key().starts_with('/'));
        assert!(rel.absolute().as_local().unwrap().is_absolute());
        assert!(!rel.is_remote() && Location::parse("s3://b/x").unwrap().is_remote());
        let err = Location::parse("").unwrap_err();
        assert_eq!(err.exit_code(), 2, "{err}");
    }

    #[test]
    fn parse_and_join() {
        let s3 = Location::parse("s3://bucket/some/prefix/").unwrap();
        assert_eq!(
            s3.join("date=2023-08-01/x.parquet").to_string(),
            "s3://bucket/some/prefix/date=2023-08-01/x.parquet"
        );
        let bare = Location::parse("s3://bucket").unwrap();
        assert_eq!(bare.join("a/b").to_string(), "s3://bucket/a/b");
        assert!(Location::parse("s3:///x").is_err());
        assert!(Location::parse("gs://x/y").is_err());
        assert_eq!(Location::Local(PathBuf::from("/a/100%/b")).identity(), "/a/100%25/b");
        {
            use std::os::unix::ffi::OsStrExt;
            let a = Location::Local(PathBuf::from(std::ffi::OsStr::from_bytes(b"/x/\xff.log")));
            let b = Location::Local(PathBuf::from(std::ffi::OsStr::from_bytes(b"/x/\xfe.log")));
            assert_eq!(a.to_string(), b.to_string(), "lossy display merges them");
            assert_eq!((a.identity().as_str(), b.identity().as_str()), ("/x/%FF.log", "/x/%FE.log"));
            assert_eq!(Location::from_identity(&a.identity()).unwrap(), a);
            let odd = Location::Local(PathBuf::from("/a/100%/b%25"));
            assert_eq!(Location::from_identity(&odd.identity()).unwrap(), odd);
        }
        assert_eq!(s3.join("k").identity(), "s3://bucket/some/prefix/k");
        let local = Location::parse("out").unwrap();
        assert_eq!(local.join("_flowlake/runs/r.json").as_local().unwrap(), Path::new("out/_flowlake/runs/r.json"));
        assert_eq!(local.join("a/b.parquet").file_name(), "b.parquet");
    }
}
