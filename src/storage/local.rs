//! Local disk: atomic writes by write-to-hidden-temp, fsync, rename.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::UNIX_EPOCH;

use super::{DirListing, Location, ObjectMeta, ObjectWriter, Storage};
use crate::error::{Error, Result};

/// The local file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct LocalStorage;

fn path_of(location: &Location) -> Result<&Path> {
    location.as_local().ok_or_else(|| Error::Usage(format!("{location} is not a local path")))
}

fn meta_of(path: PathBuf, md: &fs::Metadata) -> ObjectMeta {
    let mtime = md.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_nanos()).unwrap_or(0);
    ObjectMeta { location: Location::Local(path), size: md.len(), version: mtime.to_string() }
}

/// Lists `dir` recursively into `out`. Symbolic links below it are not followed (a link
/// in a table could lead anywhere: reading, replacing or deleting through it would reach
/// outside); they go to `links`.
fn walk(dir: &Path, out: &mut Vec<ObjectMeta>, links: &mut Vec<PathBuf>) -> Result<()> {
    let entries = fs::read_dir(dir).map_err(|e| Error::io("list", dir.display(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("list", dir.display(), e))?;
        let path = entry.path();
        let name = entry.file_name();
        let hidden = name.to_string_lossy().starts_with(['.', '_']);
        if entry.file_type().map_err(|e| Error::io("read", path.display(), e))?.is_symlink() {
            if !hidden {
                links.push(path);
            }
            continue;
        }
        let md = fs::metadata(&path).map_err(|e| Error::io("read", path.display(), e))?;
        if md.is_dir() {
            if !hidden {
                walk(&path, out, links)?;
            }
        } else if md.is_file() && !hidden {
            out.push(meta_of(path, &md));
        }
    }
    Ok(())
}

impl Storage for LocalStorage {
    fn list(&self, root: &Location) -> Result<Vec<ObjectMeta>> {
        let path = path_of(root)?;
        let md = fs::metadata(path).map_err(|e| Error::io("read", path.display(), e))?;
        let mut out = Vec::new();
        if md.is_dir() {
            walk(path, &mut out, &mut Vec::new())?;
        } else if md.is_file() {
            out.push(meta_of(path.to_path_buf(), &md));
        } else {
            // A FIFO, socket or device: opening one to read could block forever.
            return Err(Error::io(
                "read",
                path.display(),
                io::Error::new(io::ErrorKind::InvalidInput, "not a regular file (a FIFO, socket or device)"),
            ));
        }
        Ok(out)
    }

    fn list_dir(&self, dir: &Location) -> Result<(Vec<ObjectMeta>, Vec<Location>)> {
        let path = path_of(dir)?;
        let (mut files, mut dirs) = (Vec::new(), Vec::new());
        for entry in fs::read_dir(path).map_err(|e| Error::io("list", path.display(), e))? {
            let entry = entry.map_err(|e| Error::io("list", path.display(), e))?;
            let p = entry.path();
            if entry.file_type().map_err(|e| Error::io("read", p.display(), e))?.is_symlink() {
                continue; // not followed: see `walk`
            }
            let md = fs::metadata(&p).map_err(|e| Error::io("read", p.display(), e))?;
            if md.is_dir() {
                dirs.push(Location::Local(p));
            } else if md.is_file() {
                files.push(meta_of(p, &md));
            }
        }
        Ok((files, dirs))
    }

    fn is_link(&self, location: &Location) -> Result<bool> {
        Ok(fs::symlink_metadata(path_of(location)?).is_ok_and(|m| m.file_type().is_symlink()))
    }

    fn is_file(&self, location: &Location) -> Result<bool> {
        Ok(fs::metadata(path_of(location)?).is_ok_and(|m| m.is_file()))
    }

    fn links(&self, root: &Location) -> Result<Vec<Location>> {
        let path = path_of(root)?;
        let (mut links, mut files) = (Vec::new(), Vec::new());
        if fs::metadata(path).map_err(|e| Error::io("read", path.display(), e))?.is_dir() {
            walk(path, &mut files, &mut links)?;
        }
        Ok(links.into_iter().map(Location::Local).collect())
    }

    fn list_dir_inputs(&self, dir: &Location) -> Result<DirListing> {
        let path = path_of(dir)?;
        let mut out = DirListing::default();
        for entry in fs::read_dir(path).map_err(|e| Error::io("list", path.display(), e))? {
            let entry = entry.map_err(|e| Error::io("list", path.display(), e))?;
            let mut p = entry.path();
            let link = entry.file_type().map_err(|e| Error::io("read", p.display(), e))?.is_symlink();
            if link {
                // The target's own name: a file or folder reached through a link and directly is one input.
                match fs::canonicalize(&p) {
                    Ok(target) => p = target,
                    Err(e) => {
                        let why = if e.raw_os_error() == Some(libc::ELOOP) {
                            "a symbolic link that leads back to itself (a loop)".to_string()
                        } else {
                            format!("a symbolic link that leads nowhere ({e})")
                        };
                        out.broken.push((Location::Local(p), why));
                        continue;
                    }
                }
            }
            let md = match fs::metadata(&p) {
                Ok(md) => md,
                // Gone since the listing, or unreadable: an input problem, not a failed run.
                Err(e) => {
                    out.broken.push((Location::Local(p), format!("cannot be read ({e})")));
                    continue;
                }
            };
            if md.is_dir() {
                out.dirs.push(Location::Local(p));
            } else if md.is_file() {
                out.files.push(meta_of(p, &md));
            } else {
                // A FIFO, socket or device: reading one could block forever or never end.
                out.broken.push((Location::Local(p), "not a regular file (a FIFO, socket or device)".into()));
            }
        }
        Ok(out)
    }

    fn canonical(&self, location: &Location) -> Result<Location> {
        let path = path_of(location)?;
        fs::canonicalize(path).map(Location::Local).map_err(|e| Error::io("read", path.display(), e))
    }

    fn open(&self, location: &Location) -> Result<Box<dyn Read + Send>> {
        let path = path_of(location)?;
        let f = File::open(path).map_err(|e| Error::io("open", path.display(), e))?;
        Ok(Box::new(f))
    }

    fn read_range(&self, location: &Location, offset: u64, len: u64) -> Result<Vec<u8>> {
        use std::io::{Seek, SeekFrom};
        let path = path_of(location)?;
        let mut f = File::open(path).map_err(|e| Error::io("open", path.display(), e))?;
        f.seek(SeekFrom::Start(offset)).map_err(|e| Error::io("read", path.display(), e))?;
        let mut buf = Vec::with_capacity(len as usize);
        f.take(len).read_to_end(&mut buf).map_err(|e| Error::io("read", path.display(), e))?;
        Ok(buf)
    }

    fn create(&self, location: &Location) -> Result<Box<dyn ObjectWriter>> {
        let (dir, tmp) = temp_for(path_of(location)?)?;
        let file = File::create(&tmp).map_err(|e| Error::io("create", tmp.display(), e))?;
        Ok(Box::new(LocalWriter {
            file: Some(BufWriter::with_capacity(256 << 10, file)),
            tmp,
            dir,
            location: location.clone(),
        }))
    }

    fn rename(&self, from: &Location, to: &Location) -> Result<()> {
        let (src, dst) = (path_of(from)?, path_of(to)?);
        if !src.exists() && dst.exists() {
            return Ok(());
        }
        if let Some(dir) = dst.parent() {
            fs::create_dir_all(dir).map_err(|e| Error::io("create folder", dir.display(), e))?;
        }
        // Another process may move the same file at the same moment (a run rolling this
        // one's commit forward while it publishes, or a partition folder swapped under it):
        // the move is done once the target is a file; while the source is back (a swap
        // moved it), it is moved again.
        let mut tries = 0;
        loop {
            match fs::rename(src, dst) {
                Ok(()) => break,
                Err(_) if !src.exists() && dst.is_file() => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound && tries < 8 => {
                    tries += 1;
                    std::thread::yield_now();
                }
                Err(e) => return Err(Error::io("rename", src.display(), e)),
            }
        }
        if let Some(d) = dst.parent().and_then(|d| File::open(d).ok()) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    #[cfg(target_os = "linux")]
    fn exchange(&self, a: &Location, b: &Location) -> Result<bool> {
        use std::os::unix::ffi::OsStrExt;
        let (pa, pb) = (path_of(a)?, path_of(b)?);
        let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes()).ok();
        let (Some(ca), Some(cb)) = (c(pa), c(pb)) else { return Ok(false) };
        // SAFETY: both paths are NUL-terminated strings that outlive the call.
        let r = unsafe {
            libc::syscall(
                libc::SYS_renameat2,
                libc::AT_FDCWD,
                ca.as_ptr(),
                libc::AT_FDCWD,
                cb.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        if r != 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EINVAL | libc::ENOSYS | libc::ENOENT | libc::EXDEV | libc::EOPNOTSUPP | libc::EPERM) => {
                    Ok(false)
                }
                _ => Err(Error::io("swap folders", pa.display(), e)),
            };
        }
        for d in [pa.parent(), pb.parent()].into_iter().flatten() {
            if let Ok(f) = File::open(d) {
                let _ = f.sync_all();
            }
        }
        Ok(true)
    }

    fn hard_link(&self, from: &Location, to: &Location) -> Result<bool> {
        let (src, dst) = (path_of(from)?, path_of(to)?);
        match fs::hard_link(src, dst) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error::io("link", src.display(), e)),
            Err(_) => Ok(false),
        }
    }

    fn put_if_absent(&self, location: &Location, data: &[u8]) -> Result<bool> {
        let path = path_of(location)?;
        let (dir, tmp) = temp_for(path)?;
        let written = File::create(&tmp)
            .and_then(|mut f| f.write_all(data).and_then(|()| f.sync_all()))
            .map_err(|e| Error::io("write", tmp.display(), e));
        // A hard link fails if the target exists, atomically; the temporary name goes either way.
        let linked = written.and_then(|()| match fs::hard_link(&tmp, path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => rename_no_replace(&tmp, path).map_err(|_| Error::io("create", path.display(), e)),
        });
        let _ = fs::remove_file(&tmp);
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        linked
    }

    fn remove_empty_dirs(&self, dir: &Location) -> Result<()> {
        fn prune(d: &Path) -> bool {
            let Ok(entries) = fs::read_dir(d) else { return false };
            let mut empty = true;
            for e in entries.flatten() {
                let p = e.path();
                empty &= e.file_type().is_ok_and(|t| t.is_dir()) && prune(&p);
            }
            empty && fs::remove_dir(d).is_ok()
        }
        prune(path_of(dir)?);
        Ok(())
    }

    fn remove_stale_temporaries(&self, dir: &Location, max_age_secs: u64, skip: &[&str]) -> Result<u64> {
        fn walk(dir: &Path, max_age: u64, skip: &[&str], removed: &mut u64) {
            let Ok(entries) = fs::read_dir(dir) else { return };
            for e in entries.flatten() {
                let (path, name) = (e.path(), e.file_name().to_string_lossy().into_owned());
                let Ok(md) = e.metadata() else { continue };
                if md.is_dir() {
                    if !skip.contains(&name.as_str()) {
                        walk(&path, max_age, skip, removed);
                    }
                } else if name.starts_with('.') && name.ends_with(".tmp") && stale_temp(&name, &md, max_age) {
                    *removed += u64::from(fs::remove_file(&path).is_ok());
                }
            }
        }
        let mut removed = 0;
        walk(path_of(dir)?, max_age_secs, skip, &mut removed);
        Ok(removed)
    }

    fn delete(&self, location: &Location) -> Result<()> {
        let path = path_of(location)?;
        match fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("delete", path.display(), e)),
        }
    }
}

struct LocalWriter {
    file: Option<BufWriter<File>>,
    tmp: PathBuf,
    dir: PathBuf,
    location: Location,
}

impl Write for LocalWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.as_mut().expect("writer used after commit").write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file.as_mut().expect("writer used after commit").write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().expect("writer used after commit").flush()
    }
}

/// A temporary file `.<name>.<pid>-<n>.tmp` of a writer that is gone: its process no
/// longer runs on this host, or it is older than `max_age` seconds.
fn stale_temp(name: &str, md: &fs::Metadata, max_age: u64) -> bool {
    let age = md.modified().ok().and_then(|t| t.elapsed().ok()).map_or(0, |d| d.as_secs());
    if age > max_age {
        return true;
    }
    let pid = name.trim_end_matches(".tmp").rsplit('.').next().and_then(|s| s.split('-').next());
    match pid.and_then(|p| p.parse::<u32>().ok()) {
        Some(pid) if cfg!(target_os = "linux") => {
            pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists()
        }
        _ => false,
    }
}

/// The folder of `path` (created if missing) and a hidden temporary name in it
/// (`.<name>.<pid>-<n>.tmp`: a leading `.` so Athena, Spark and our own listing skip it).
fn temp_for(path: &Path) -> Result<(PathBuf, PathBuf)> {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    fs::create_dir_all(&dir).map_err(|e| Error::io("create folder", dir.display(), e))?;
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}-{}.tmp", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed)));
    Ok((dir, tmp))
}

/// `renameat2(RENAME_NOREPLACE)`, for file systems without hard links: `Ok(false)` if `to` exists.
#[cfg(target_os = "linux")]
fn rename_no_replace(from: &Path, to: &Path) -> io::Result<bool> {
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(io::Error::other);
    let (cf, ct) = (c(from)?, c(to)?);
    // SAFETY: both paths are NUL-terminated strings that outlive the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            cf.as_ptr(),
            libc::AT_FDCWD,
            ct.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if r == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if e.kind() == io::ErrorKind::AlreadyExists { Ok(false) } else { Err(e) }
}

#[cfg(not(target_os = "linux"))]
fn rename_no_replace(_from: &Path, _to: &Path) -> io::Result<bool> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

impl ObjectWriter for LocalWriter {
    fn commit(mut self: Box<Self>) -> Result<()> {
        let target = path_of(&self.location)?.to_path_buf();
        let file = self.file.take().expect("committed twice");
        let file = file.into_inner().map_err(|e| Error::io("write", self.tmp.display(), e.into_error()))?;
        // Durable before visible: a reader (or a crash) never sees a partial file under the final name.
        file.sync_all().map_err(|e| Error::io("write", self.tmp.display(), e))?;
        drop(file);
        fs::rename(&self.tmp, &target).map_err(|e| Error::io("rename", target.display(), e))?;
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    fn location(&self) -> &Location {
        &self.location
    }
}

impl Drop for LocalWriter {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

impl LocalStorage {
    /// Removes a local folder and everything in it (a missing one is not an error). Only
    /// for folders flowlake made itself and marked so (`flowlake demo`'s); never a table's.
    pub fn remove_folder(&self, dir: &Location) -> Result<()> {
        let p = path_of(dir)?;
        match fs::remove_dir_all(p) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io("remove", p.display(), e)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two processes finishing the same publish (a run and another rolling it forward) move
    /// the same files at once: each move succeeds once and the other finds it done; a
    /// source that is gone with no target is still an error.
    #[test]
    fn moving_a_file_twice_at_once_is_done_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = Location::Local(dir.path().to_path_buf());
        for i in 0..200 {
            let (from, to) = (root.join(&format!("staging/{i}.parquet")), root.join(&format!("part/{i}.parquet")));
            LocalStorage.put(&from, b"x").unwrap();
            std::thread::scope(|s| {
                let movers: Vec<_> = (0..3).map(|_| s.spawn(|| LocalStorage.rename(&from, &to))).collect();
                for m in movers {
                    m.join().unwrap().unwrap();
                }
            });
            assert_eq!(fs::read(path_of(&to).unwrap()).unwrap(), b"x");
        }
        let err = LocalStorage.rename(&root.join("staging/none"), &root.join("part/none")).unwrap_err();
        assert!(err.is_not_found(), "{err}");
    }

    #[test]
    fn write_is_invisible_until_commit_and_dropped_writes_vanish() {
        let dir = tempfile::tempdir().unwrap();
        let root = Location::Local(dir.path().to_path_buf());
        let target = root.join("date=2023-08-01/part-1.parquet");
        let s = LocalStorage;
        let mut w = s.create(&target).unwrap();
        w.write_all(b"hello").unwrap();
        assert!(s.list(&root).unwrap().is_empty(), "temp file must be hidden");
        w.commit().unwrap();
        let listed = s.list(&root).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].location, target);
        assert_eq!(listed[0].size, 5);

        let mut w = s.create(&root.join("date=2023-08-01/part-2.parquet")).unwrap();
        w.write_all(b"partial").unwrap();
        drop(w);
        let names: Vec<_> =
            fs::read_dir(dir.path().join("date=2023-08-01")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn put_if_absent_creates_once_whoever_races() {
        let dir = tempfile::tempdir().unwrap();
        let target = Location::Local(dir.path().join("log/00000000000000000001.json"));
        let created: Vec<bool> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8u8)
                .map(|i| {
                    let t = &target;
                    s.spawn(move || LocalStorage.put_if_absent(t, &[b'a' + i; 100]).unwrap())
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(created.iter().filter(|c| **c).count(), 1, "{created:?}");
        let winner = created.iter().position(|c| *c).unwrap() as u8;
        assert_eq!(fs::read(target.as_local().unwrap()).unwrap(), vec![b'a' + winner; 100]);
        let names: Vec<_> = fs::read_dir(dir.path().join("log")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "no temporary file is left: {names:?}");
    }

    #[test]
    fn list_skips_metadata_folders() {
        let dir = tempfile::tempdir().unwrap();
        let root = Location::Local(dir.path().to_path_buf());
        let s = LocalStorage;
        s.put(&root.join("_flowlake/runs/r.json"), b"{}").unwrap();
        s.put(&root.join("a/b.log"), b"x").unwrap();
        let listed = s.list(&root).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].location.file_name(), "b.log");
    }
}
