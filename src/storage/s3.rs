//! S3 and S3-compatible stores, through the AWS SDK: the standard credential
//! and region chain, `--endpoint-url` (path-style addressing), standard retries.
//!
//! Reads stream (and resume with a ranged GET if a connection drops mid-object);
//! writes go through multipart upload (parts of 8 MiB) and become visible only
//! when the upload completes; an upload that is dropped uncommitted is aborted.

use std::io::{self, Read, Write};
use std::sync::{Arc, OnceLock};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use tokio::runtime::Runtime;

use super::{Location, ObjectMeta, ObjectWriter, Storage, StorageOptions};
use crate::error::{Error, Result};

/// Multipart part size: S3's minimum is 5 MiB; 8 MiB is the common default.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("flowlake-s3")
            .enable_all()
            .build()
            .expect("start the S3 runtime")
    })
}

/// An S3 client with flowlake's settings.
#[derive(Clone)]
pub struct S3Storage {
    client: Client,
    opts: Arc<StorageOptions>,
}

impl std::fmt::Debug for S3Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Storage").field("endpoint", &self.opts.endpoint_url).finish()
    }
}

impl S3Storage {
    /// Builds a client from the AWS configuration chain (environment, shared
    /// config and credentials files, SSO, web identity, instance and container
    /// metadata) and `opts`.
    pub fn new(opts: &StorageOptions) -> S3Storage {
        use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
        let https =
            aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::standard().with_max_attempts(5))
            .http_client(https);
        if let Some(p) = &opts.profile {
            loader = loader.profile_name(p);
        }
        if let Some(r) = &opts.region {
            loader = loader.region(Region::new(r.clone()));
        }
        if let Some(e) = &opts.endpoint_url {
            loader = loader.endpoint_url(e);
        }
        let sdk = runtime().block_on(loader.load());
        let mut b = aws_sdk_s3::config::Builder::from(&sdk)
            // Checksums only where S3 requires them: S3-compatible stores differ in what they accept.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if sdk.region().is_none() {
            b = b.region(Region::new("us-east-1"));
        }
        if opts.endpoint_url.is_some() || sdk.endpoint_url().is_some() {
            b = b.force_path_style(true);
        }
        // Without the cache of clients it may be kept in (which would then hold itself).
        let opts = StorageOptions { clients: Default::default(), ..opts.clone() };
        S3Storage { client: Client::from_conf(b.build()), opts: Arc::new(opts) }
    }
}

fn parts(loc: &Location) -> Result<(&str, &str)> {
    match loc {
        Location::S3 { bucket, key } => Ok((bucket, key)),
        Location::Local(_) => Err(Error::Usage(format!("{loc} is not an s3:// URL"))),
    }
}

/// One sentence for an S3 error, naming the URL and the fix.
fn s3_error<E>(url: &Location, action: &str, e: SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = e.raw_response().map(|r| r.status().as_u16());
    let code = e.code().map(str::to_string);
    let bucket = match url {
        Location::S3 { bucket, .. } => bucket.as_str(),
        Location::Local(_) => "",
    };
    let detail = DisplayErrorContext(&e).to_string();
    let no_credentials = matches!(e, SdkError::DispatchFailure(_) | SdkError::ConstructionFailure(_))
        && (detail.contains("credential") || detail.contains("Credential"));
    let msg = match (code.as_deref(), status) {
        (Some("NoSuchBucket"), _) => format!("bucket `{bucket}` does not exist ({url}): check the name"),
        (Some("NoSuchKey"), _) | (_, Some(404)) => {
            return Error::Io {
                action: "read",
                path: url.to_string(),
                source: io::Error::from(io::ErrorKind::NotFound),
            };
        }
        (Some("InvalidAccessKeyId" | "SignatureDoesNotMatch" | "ExpiredToken" | "InvalidToken"), _) => format!(
            "the AWS credentials were rejected when trying to {action} {url} ({}): check AWS_PROFILE, the access key and secret, or renew the session",
            code.as_deref().unwrap_or("")
        ),
        (Some("AccessDenied" | "AllAccessDisabled"), _) | (_, Some(403)) => format!(
            "access denied when trying to {action} {url}: the credentials need s3:ListBucket and s3:GetObject on the input, s3:PutObject and s3:AbortMultipartUpload on the output"
        ),
        (Some("PermanentRedirect" | "AuthorizationHeaderMalformed" | "IllegalLocationConstraintException"), _)
        | (_, Some(301)) => {
            format!("{url} is in another region than the one configured: pass --region or set AWS_REGION")
        }
        _ if no_credentials => format!(
            "no AWS credentials found to {action} {url}: set AWS_PROFILE (or --profile), AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run `aws sso login`"
        ),
        _ => format!("cannot {action} {url}: {}", root_cause(&e, code.as_deref(), status)),
    };
    Error::S3(msg)
}

/// The innermost cause of an SDK error, in its own words (the SDK's own rendering adds
/// debug output such as `DispatchFailure { … }`), or the service's error code and status.
fn root_cause(e: &(dyn std::error::Error + 'static), code: Option<&str>, status: Option<u16>) -> String {
    let mut inner: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    let text = inner.to_string();
    match (code, status) {
        (Some(c), _) if text.is_empty() || text.contains('{') => c.to_string(),
        (None, Some(s)) if text.is_empty() || text.contains('{') => format!("HTTP status {s}"),
        _ if text.is_empty() => "the request failed".to_string(),
        _ => text,
    }
}

fn io_err(e: Error) -> io::Error {
    match e {
        Error::Io { source, .. } => source,
        other => io::Error::other(other.to_string()),
    }
}

impl S3Storage {
    /// Every page of ListObjectsV2 under `prefix` (one level with a `/` delimiter, else all below):
    /// the objects and the sub-prefixes.
    fn list_pages(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: bool,
        root: &Location,
    ) -> Result<(Vec<ObjectMeta>, Vec<Location>)> {
        let (mut objects, mut dirs) = (Vec::new(), Vec::new());
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_delimiter(delimiter.then(|| "/".to_string()))
            .set_expected_bucket_owner(self.opts.expected_bucket_owner.clone())
            .into_paginator()
            .send();
        runtime().block_on(async {
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| s3_error(root, "list", e))?;
                dirs.extend(
                    page.common_prefixes()
                        .iter()
                        .filter_map(|p| p.prefix())
                        .map(|p| Location::S3 { bucket: bucket.to_string(), key: p.to_string() }),
                );
                for o in page.contents() {
                    let Some(key) = o.key().filter(|k| !k.ends_with('/')) else { continue };
                    objects.push(ObjectMeta {
                        location: Location::S3 { bucket: bucket.to_string(), key: key.to_string() },
                        size: o.size().unwrap_or(0).max(0) as u64,
                        version: o.e_tag().unwrap_or_default().trim_matches('"').to_string(),
                    });
                }
            }
            Ok::<_, Error>(())
        })?;
        Ok((objects, dirs))
    }

    fn list_prefix(&self, bucket: &str, prefix: &str, root: &Location) -> Result<Vec<ObjectMeta>> {
        let (mut objects, _) = self.list_pages(bucket, prefix, false, root)?;
        // Skip objects below `_` and `.` folders, as on local disk.
        objects.retain(|o| {
            let key = o.location.key_path();
            let rel = key.strip_prefix(prefix).unwrap_or(&key);
            !rel.rsplit_once('/').is_some_and(|(dirs, _)| dirs.split('/').any(|s| s.starts_with(['_', '.'])))
        });
        Ok(objects)
    }

    fn get(&self, loc: &Location, range: Option<String>) -> Result<ByteStream> {
        let (bucket, key) = parts(loc)?;
        let req = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_range(range)
            .set_expected_bucket_owner(self.opts.expected_bucket_owner.clone());
        runtime().block_on(req.send()).map(|o| o.body).map_err(|e| s3_error(loc, "read", e))
    }
}

impl Storage for S3Storage {
    fn list(&self, root: &Location) -> Result<Vec<ObjectMeta>> {
        let (bucket, key) = parts(root)?;
        if key.is_empty() || key.ends_with('/') {
            return self.list_prefix(bucket, key, root);
        }
        // `s3://b/x` may name one object or a folder `x/`.
        let head = self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .set_expected_bucket_owner(self.opts.expected_bucket_owner.clone());
        match runtime().block_on(head.send()) {
            Ok(h) => Ok(vec![ObjectMeta {
                location: root.clone(),
                size: h.content_length().unwrap_or(0).max(0) as u64,
                version: h.e_tag().unwrap_or_default().trim_matches('"').to_string(),
            }]),
            Err(e) => match s3_error(root, "read", e) {
                Error::Io { .. } => {
                    let listed = self.list_prefix(bucket, &format!("{key}/"), root)?;
                    if listed.is_empty() {
                        return Err(Error::Io {
                            action: "read",
                            path: root.to_string(),
                            source: io::Error::from(io::ErrorKind::NotFound),
                        });
                    }
                    Ok(listed)
                }
                other => Err(other),
            },
        }
    }

    fn list_dir(&self, dir: &Location) -> Result<(Vec<ObjectMeta>, Vec<Location>)> {
        let (bucket, key) = parts(dir)?;
        let prefix = if key.is_empty() || key.ends_with('/') { key.to_string() } else { format!("{key}/") };
        self.list_pages(bucket, &prefix, true, dir)
    }

    fn open(&self, location: &Location) -> Result<Box<dyn Read + Send>> {
        let body = self.get(location, None)?;
        Ok(Box::new(ResumingReader {
            storage: self.clone(),
            location: location.clone(),
            reader: bridge(body),
            pos: 0,
            retries: 0,
        }))
    }

    fn read_range(&self, location: &Location, offset: u64, len: u64) -> Result<Vec<u8>> {
        if len == 0 {
            return Ok(Vec::new());
        }
        // The SDK retries requests, not bodies cut off in transit: retry those here.
        let mut attempt = 0;
        loop {
            let body = self.get(location, Some(format!("bytes={offset}-{}", offset + len - 1)))?;
            match runtime().block_on(body.collect()) {
                Ok(data) => return Ok(data.into_bytes().to_vec()),
                Err(e) if attempt >= 4 => return Err(Error::io("read", location, io::Error::other(e))),
                Err(_) => attempt += 1,
            }
        }
    }

    fn create(&self, location: &Location) -> Result<Box<dyn ObjectWriter>> {
        let (bucket, key) = parts(location)?;
        Ok(Box::new(S3Writer {
            storage: self.clone(),
            bucket: bucket.to_string(),
            key: key.to_string(),
            location: location.clone(),
            buf: Vec::new(),
            upload_id: None,
            parts: Vec::new(),
            done: false,
        }))
    }

    fn put_if_absent(&self, location: &Location, data: &[u8]) -> Result<bool> {
        let (bucket, key) = parts(location)?;
        let (sse, kms) = (self.opts.sse.as_deref().map(ServerSideEncryption::from), self.opts.sse_kms_key_id.clone());
        let mut attempt = 0;
        loop {
            let req = self
                .client
                .put_object()
                .bucket(bucket)
                .key(key)
                .if_none_match("*")
                .body(ByteStream::from(data.to_vec()))
                .set_server_side_encryption(sse.clone())
                .set_ssekms_key_id(kms.clone())
                .set_expected_bucket_owner(self.opts.expected_bucket_owner.clone());
            match runtime().block_on(req.send()) {
                Ok(_) => return Ok(true),
                Err(e) => {
                    let status = e.raw_response().map(|r| r.status().as_u16());
                    match status {
                        // Something is there already.
                        Some(412) => return Ok(false),
                        // Another conditional write of this key is in flight: S3 asks to try again.
                        Some(409) if attempt < 10 => {
                            attempt += 1;
                            std::thread::sleep(std::time::Duration::from_millis(50 << attempt.min(4)));
                        }
                        _ => return Err(s3_error(location, "write", e)),
                    }
                }
            }
        }
    }

    fn delete(&self, location: &Location) -> Result<()> {
        let (bucket, key) = parts(location)?;
        let req = self
            .client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .set_expected_bucket_owner(self.opts.expected_bucket_owner.clone());
        runtime().block_on(req.send()).map(|_| ()).map_err(|e| s3_error(location, "delete", e))
    }

    fn rename(&self, from: &Location, to: &Location) -> Result<()> {
        let ((sb, sk), (db, dk)) = (parts(from)?, parts(to)?);
        let enc: String = sk
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let (sse, kms) = (self.opts.sse.as_deref().map(ServerSideEncryption::from), self.opts.sse_kms_key_id.clone());
        let req = self
            .client
            .copy_object()
            .bucket(db)
            .key(dk)
            .copy_source(format!("{sb}/{enc}"))
            .set_server_side_encryption(sse)
            .set_ssekms_key_id(kms)
            .set_expected_bucket_owner(self.opts.expected_bucket_owner.clone());
        match runtime().block_on(req.send()).map_err(|e| s3_error(from, "copy", e)) {
            Ok(_) => self.delete(from),
            // The source is gone: moved by an earlier, interrupted run, or by another
            // process at the same moment, if the target is there.
            Err(e @ Error::Io { .. }) => match self.list(to) {
                Ok(l) if l.iter().any(|o| o.location == *to) => Ok(()),
                _ => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    fn is_remote(&self) -> bool {
        true
    }
}

type Bridge = tokio_util::io::SyncIoBridge<std::pin::Pin<Box<dyn tokio::io::AsyncBufRead + Send>>>;

fn bridge(body: ByteStream) -> Bridge {
    let r: std::pin::Pin<Box<dyn tokio::io::AsyncBufRead + Send>> = Box::pin(body.into_async_read());
    tokio_util::io::SyncIoBridge::new_with_handle(r, runtime().handle().clone())
}

/// Streams an object; if the connection fails mid-body, continues from the
/// last byte received with a ranged GET (up to 5 times).
struct ResumingReader {
    storage: S3Storage,
    location: Location,
    reader: Bridge,
    pos: u64,
    retries: u32,
}

impl Read for ResumingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.reader.read(buf) {
                Ok(n) => {
                    self.pos += n as u64;
                    return Ok(n);
                }
                Err(e) if self.retries < 5 => {
                    self.retries += 1;
                    let _ = e;
                    let body =
                        self.storage.get(&self.location, Some(format!("bytes={}-", self.pos))).map_err(io_err)?;
                    self.reader = bridge(body);
                }
                Err(e) => return Err(e),
            }
        }
    }
}

struct S3Writer {
    storage: S3Storage,
    bucket: String,
    key: String,
    location: Location,
    buf: Vec<u8>,
    upload_id: Option<String>,
    parts: Vec<CompletedPart>,
    done: bool,
}

impl S3Writer {
    fn sse(&self) -> (Option<ServerSideEncryption>, Option<String>) {
        let o = &self.storage.opts;
        (o.sse.as_deref().map(ServerSideEncryption::from), o.sse_kms_key_id.clone())
    }

    fn upload_part(&mut self) -> Result<()> {
        let client = &self.storage.client;
        let owner = self.storage.opts.expected_bucket_owner.clone();
        if self.upload_id.is_none() {
            let (sse, kms) = self.sse();
            let req = client
                .create_multipart_upload()
                .bucket(&self.bucket)
                .key(&self.key)
                .set_server_side_encryption(sse)
                .set_ssekms_key_id(kms)
                .set_expected_bucket_owner(owner.clone());
            let out = runtime().block_on(req.send()).map_err(|e| s3_error(&self.location, "write", e))?;
            self.upload_id = out.upload_id().map(str::to_string);
        }
        let n = self.parts.len() as i32 + 1;
        let body = std::mem::take(&mut self.buf);
        let req = client
            .upload_part()
            .bucket(&self.bucket)
            .key(&self.key)
            .set_upload_id(self.upload_id.clone())
            .part_number(n)
            .body(ByteStream::from(body))
            .set_expected_bucket_owner(owner);
        let out = runtime().block_on(req.send()).map_err(|e| s3_error(&self.location, "write", e))?;
        self.parts.push(CompletedPart::builder().part_number(n).set_e_tag(out.e_tag().map(str::to_string)).build());
        Ok(())
    }
}

impl Write for S3Writer {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= PART_SIZE {
            self.upload_part().map_err(io_err)?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl ObjectWriter for S3Writer {
    fn commit(mut self: Box<Self>) -> Result<()> {
        let client = self.storage.client.clone();
        let owner = self.storage.opts.expected_bucket_owner.clone();
        if self.upload_id.is_none() {
            let (sse, kms) = self.sse();
            let body = std::mem::take(&mut self.buf);
            let req = client
                .put_object()
                .bucket(&self.bucket)
                .key(&self.key)
                .body(ByteStream::from(body))
                .set_server_side_encryption(sse)
                .set_ssekms_key_id(kms)
                .set_expected_bucket_owner(owner);
            runtime().block_on(req.send()).map_err(|e| s3_error(&self.location, "write", e))?;
        } else {
            if !self.buf.is_empty() {
                self.upload_part()?;
            }
            let req = client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(&self.key)
                .set_upload_id(self.upload_id.clone())
                .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(self.parts.clone())).build())
                .set_expected_bucket_owner(owner);
            runtime().block_on(req.send()).map_err(|e| s3_error(&self.location, "write", e))?;
        }
        self.done = true;
        Ok(())
    }

    fn location(&self) -> &Location {
        &self.location
    }
}

impl Drop for S3Writer {
    fn drop(&mut self) {
        if let (false, Some(id)) = (self.done, self.upload_id.take()) {
            // Never leave a half-uploaded object (and its storage charges) behind.
            let req = self
                .storage
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(&self.key)
                .upload_id(id)
                .set_expected_bucket_owner(self.storage.opts.expected_bucket_owner.clone());
            let _ = runtime().block_on(req.send());
        }
    }
}
