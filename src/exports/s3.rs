//! Export files in an S3-compatible bucket (`KADRO_EXPORT_STORE=s3://BUCKET/PREFIX`), so every
//! kadro node serves every export whichever node's worker built it.
//!
//! The writers still fill a local scratch file (in `KADRO_EXPORT_DIR/.partial/`); `publish`
//! streams it to the bucket in 5 MiB parts of a multipart upload (at most two parts in flight,
//! so memory stays flat whatever the file size) and removes it. The object appears only when
//! the upload completes, so a reader never sees half a file; a failed upload is aborted, and
//! one cut short by a crash leaves only an unfinished multipart upload, which is not an object
//! (a bucket lifecycle rule "abort incomplete multipart uploads" reclaims its parts).
//! Downloads keep kadro's signed `/export_file/…` link: the node answering it streams the
//! object from the bucket.

use std::io;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{ClientOptions, ObjectStore, RetryConfig};
use tokio::io::AsyncWriteExt;
use tokio_util::io::StreamReader;

use super::store::{ExportStore, LocalDirStore, StoredFile, check_name};
use crate::config::Secret;

/// Size of each uploaded part (S3's minimum, except for the last part).
const PART_BYTES: usize = 5 * 1024 * 1024;

/// Parts uploaded at once.
const PARTS_IN_FLIGHT: usize = 2;

/// How long a readiness probe waits for the bucket.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// How to reach the S3-compatible service.
#[derive(Clone, Debug)]
pub struct S3Settings {
    /// `http(s)://host:port` of an S3-compatible service; `None`: AWS.
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: Option<Secret>,
    pub secret_access_key: Option<Secret>,
}

pub struct S3Store {
    bucket: String,
    prefix: Path,
    /// Uploads, deletes and probes: each request is bounded in time.
    requests: Arc<dyn ObjectStore>,
    /// Downloads: a large file streamed to a slow client may take long, so only connecting is
    /// bounded.
    downloads: Arc<dyn ObjectStore>,
    scratch: LocalDirStore,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix.as_ref())
            .finish_non_exhaustive()
    }
}

impl S3Store {
    /// A store for `bucket` under `prefix` (may be empty), with scratch files in `scratch_dir`.
    pub fn new(
        bucket: &str,
        prefix: &str,
        settings: &S3Settings,
        scratch_dir: PathBuf,
    ) -> anyhow::Result<Self> {
        let client = |timeout: Option<Duration>| -> anyhow::Result<Arc<dyn ObjectStore>> {
            let options = ClientOptions::new().with_connect_timeout(Duration::from_secs(5));
            let options = match timeout {
                Some(t) => options.with_timeout(t),
                None => options.with_timeout_disabled(),
            };
            let mut builder = AmazonS3Builder::new()
                .with_bucket_name(bucket)
                .with_region(&settings.region)
                .with_client_options(options)
                .with_retry(RetryConfig {
                    max_retries: 3,
                    retry_timeout: Duration::from_secs(30),
                    ..RetryConfig::default()
                });
            if let Some(endpoint) = &settings.endpoint {
                builder = builder
                    .with_endpoint(endpoint)
                    .with_allow_http(endpoint.starts_with("http://"));
            }
            if let (Some(id), Some(secret)) = (&settings.access_key_id, &settings.secret_access_key)
            {
                builder = builder
                    .with_access_key_id(id.expose())
                    .with_secret_access_key(secret.expose());
            }
            Ok(Arc::new(builder.build()?))
        };
        Ok(Self {
            bucket: bucket.to_owned(),
            prefix: Path::parse(prefix.trim_matches('/'))?,
            requests: client(Some(Duration::from_secs(60)))?,
            downloads: client(None)?,
            scratch: LocalDirStore::new(scratch_dir),
        })
    }

    fn key(&self, name: &str) -> io::Result<Path> {
        check_name(name)?;
        Ok(self.prefix.child(name))
    }

    async fn upload(&self, scratch: &FsPath, key: Path) -> io::Result<()> {
        let mut file = tokio::fs::File::open(scratch).await?;
        let mut writer = BufWriter::with_capacity(self.requests.clone(), key, PART_BYTES)
            .with_max_concurrency(PARTS_IN_FLIGHT);
        let sent = async {
            tokio::io::copy(&mut file, &mut writer).await?;
            writer.shutdown().await
        }
        .await;
        if let Err(e) = sent {
            if let Err(abort) = writer.abort().await {
                tracing::warn!(error = %abort, "could not abort an export upload");
            }
            return Err(e);
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl ExportStore for S3Store {
    async fn scratch(&self, name: &str) -> io::Result<PathBuf> {
        self.scratch.scratch(name).await
    }

    async fn publish(&self, scratch: &FsPath, name: &str) -> io::Result<()> {
        self.upload(scratch, self.key(name)?).await?;
        tokio::fs::remove_file(scratch).await
    }

    async fn discard_scratch(&self, name: &str) -> io::Result<()> {
        self.scratch.discard_scratch(name).await
    }

    async fn open(&self, name: &str) -> io::Result<Option<StoredFile>> {
        let found = match self.downloads.get(&self.key(name)?).await {
            Ok(found) => found,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let len = found.meta.size;
        let stream = found
            .into_stream()
            .map(|chunk| chunk.map_err(io::Error::from));
        Ok(Some(StoredFile {
            len,
            reader: Box::pin(StreamReader::new(stream)),
        }))
    }

    async fn delete(&self, name: &str) -> io::Result<()> {
        match self.requests.delete(&self.key(name)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Lists (at most one page of) the prefix: a missing bucket, bad credentials or an
    /// unreachable service all fail.
    async fn check(&self) -> io::Result<()> {
        let probe = self.prefix.child(".kadro-ready");
        let first = tokio::time::timeout(PROBE_TIMEOUT, async {
            self.requests.list(Some(&probe)).next().await
        })
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the export store did not answer"))?;
        match first {
            None | Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(e.into()),
        }
    }
}
