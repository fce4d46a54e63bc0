//! DataFusion reads tables through flowlake's own [`Storage`], local and `s3://`
//! alike, so queries see exactly what `convert` and `verify` see: the same S3 client
//! (credential chain, `--endpoint-url`, `--profile`, retries and error messages), and
//! on disk the same listing, which does not follow symbolic links (a query never
//! reads outside the table). Only what a query needs (list, ranged reads) is
//! implemented; writes are refused.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::{self, BoxStream, StreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

use crate::error::Error;
use crate::storage::{Location, Storage};

/// A read-only [`ObjectStore`] over one store (a bucket, or the local disk) of a [`Storage`].
pub struct StorageObjectStore(Arc<Inner>);

struct Inner {
    storage: Arc<dyn Storage>,
    /// A location in the store served: keys are resolved next to it.
    base: Location,
    /// Sizes seen in listings, so a ranged read needs no extra request.
    sizes: Mutex<HashMap<Path, u64>>,
}

impl StorageObjectStore {
    /// Serves the store `base` is in ([`Location::store_url`]) from `storage`.
    pub fn new(storage: Arc<dyn Storage>, base: Location) -> StorageObjectStore {
        StorageObjectStore(Arc::new(Inner { storage, base, sizes: Mutex::new(HashMap::new()) }))
    }
}

impl Inner {
    fn location(&self, path: &Path) -> Location {
        self.base.at_store_key(path.as_ref())
    }

    fn meta(&self, m: &crate::storage::ObjectMeta) -> ObjectMeta {
        let location = Path::from(m.location.store_key());
        self.sizes.lock().expect("size cache").insert(location.clone(), m.size);
        ObjectMeta {
            location,
            last_modified: DateTime::<Utc>::UNIX_EPOCH,
            size: m.size,
            e_tag: (!m.version.is_empty()).then(|| m.version.clone()),
            version: None,
        }
    }

    fn size(&self, path: &Path) -> object_store::Result<u64> {
        if let Some(s) = self.sizes.lock().expect("size cache").get(path) {
            return Ok(*s);
        }
        let loc = self.location(path);
        let listed = self.storage.list(&loc).map_err(|e| to_os_error(path, e))?;
        let m = listed.iter().find(|m| m.location == loc).ok_or_else(|| object_store::Error::NotFound {
            path: path.to_string(),
            source: format!("{loc} does not exist").into(),
        })?;
        Ok(self.meta(m).size)
    }
}

fn to_os_error(path: &Path, e: Error) -> object_store::Error {
    if e.is_not_found() {
        object_store::Error::NotFound { path: path.to_string(), source: e.to_string().into() }
    } else {
        object_store::Error::Generic { store: "flowlake", source: e.to_string().into() }
    }
}

fn read_only() -> object_store::Error {
    object_store::Error::NotSupported { source: "queries only read; this store does not write".into() }
}

/// Runs blocking storage calls off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> object_store::Result<T> + Send + 'static,
) -> object_store::Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| object_store::Error::JoinError { source: e })?
}

impl fmt::Display for StorageObjectStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "flowlake storage ({})", self.0.base.store_url())
    }
}

impl fmt::Debug for StorageObjectStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[async_trait]
impl ObjectStore for StorageObjectStore {
    async fn put_opts(&self, _: &Path, _: PutPayload, _: PutOptions) -> object_store::Result<PutResult> {
        Err(read_only())
    }

    async fn put_multipart_opts(
        &self,
        _: &Path,
        _: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        Err(read_only())
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> object_store::Result<GetResult> {
        let me = self.0.clone();
        let path = location.clone();
        blocking(move || {
            let inner = &me;
            let size = inner.size(&path)?;
            let meta = ObjectMeta {
                location: path.clone(),
                last_modified: DateTime::<Utc>::UNIX_EPOCH,
                size,
                e_tag: None,
                version: None,
            };
            let range = match &options.range {
                Some(r) => r.as_range(size).map_err(|e| object_store::Error::Generic {
                    store: "flowlake",
                    source: format!("{path}: {e}").into(),
                })?,
                None => 0..size,
            };
            let data = if options.head {
                Bytes::new()
            } else {
                let loc = inner.location(&path);
                Bytes::from(
                    inner
                        .storage
                        .read_range(&loc, range.start, range.end - range.start)
                        .map_err(|e| to_os_error(&path, e))?,
                )
            };
            Ok(GetResult {
                payload: GetResultPayload::Stream(stream::once(async move { Ok(data) }).boxed()),
                meta,
                range,
                attributes: Default::default(),
            })
        })
        .await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        locations.map(|_| Err(read_only())).boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let me = self.0.clone();
        let prefix = prefix.map(|p| format!("{p}/")).unwrap_or_default();
        stream::once(async move {
            blocking(move || {
                let inner = &me;
                let root = inner.base.at_store_key(&prefix);
                let listed = inner.storage.list(&root).map_err(|e| to_os_error(&Path::from(prefix.as_str()), e))?;
                Ok(listed.iter().map(|m| Ok(inner.meta(m))).collect::<Vec<_>>())
            })
            .await
        })
        .map(|r| match r {
            Ok(v) => stream::iter(v).boxed(),
            Err(e) => stream::once(async move { Err(e) }).boxed(),
        })
        .flatten()
        .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let me = self.0.clone();
        let prefix = prefix.map(|p| format!("{p}/")).unwrap_or_default();
        blocking(move || {
            let inner = &me;
            let dir = inner.base.at_store_key(&prefix);
            let (objects, dirs) =
                inner.storage.list_dir(&dir).map_err(|e| to_os_error(&Path::from(prefix.as_str()), e))?;
            Ok(ListResult {
                common_prefixes: dirs.iter().map(|d| Path::from(d.store_key().trim_end_matches('/'))).collect(),
                objects: objects.iter().map(|m| inner.meta(m)).collect(),
            })
        })
        .await
    }

    async fn copy_opts(&self, _: &Path, _: &Path, _: CopyOptions) -> object_store::Result<()> {
        Err(read_only())
    }
}
