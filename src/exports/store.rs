//! Where finished export files live. The exporters write into a local scratch file and hand it
//! to an [`ExportStore`]: a local directory ([`LocalDirStore`]) or an S3-compatible bucket
//! ([`super::s3::S3Store`]: upload on `publish`, stream on `open`), chosen by
//! `KADRO_EXPORT_STORE` ([`from_config`]).

use std::fmt::Debug;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use tokio::io::AsyncRead;

use super::s3::{S3Settings, S3Store};
use crate::config::Config;

/// A stored file opened for download.
pub struct StoredFile {
    pub len: u64,
    pub reader: Pin<Box<dyn AsyncRead + Send>>,
}

/// Storage of export files, by name (`<cache key>.<extension>`).
#[async_trait::async_trait]
pub trait ExportStore: Send + Sync + Debug {
    /// A new local path to write `name` into. Every call gets its own path, so an attempt never
    /// writes into the file of an earlier, crashed one.
    async fn scratch(&self, name: &str) -> io::Result<PathBuf>;
    /// Makes a finished scratch file the stored `name`, atomically: a reader sees the whole
    /// file or none.
    async fn publish(&self, scratch: &Path, name: &str) -> io::Result<()>;
    /// Removes every scratch file of `name` (failed or crashed attempts).
    async fn discard_scratch(&self, name: &str) -> io::Result<()>;
    /// The stored `name`, or `None` when there is none.
    async fn open(&self, name: &str) -> io::Result<Option<StoredFile>>;
    /// Deletes the stored `name`; deleting a missing file is not an error.
    async fn delete(&self, name: &str) -> io::Result<()>;
    /// Fails while the store cannot be reached (readiness).
    async fn check(&self) -> io::Result<()> {
        Ok(())
    }
}

/// The store `KADRO_EXPORT_STORE` names: `file://DIR`, `s3://BUCKET[/PREFIX]`, or unset for
/// `KADRO_EXPORT_DIR`.
pub fn from_config(config: &Config) -> anyhow::Result<Arc<dyn ExportStore>> {
    let Some(url) = config.export_store.as_deref().filter(|u| !u.is_empty()) else {
        return Ok(Arc::new(LocalDirStore::new(config.export_dir.clone())));
    };
    if let Some(dir) = url.strip_prefix("file://") {
        anyhow::ensure!(
            !dir.is_empty(),
            "KADRO_EXPORT_STORE: file:// needs a directory"
        );
        return Ok(Arc::new(LocalDirStore::new(dir)));
    }
    let Some(location) = url.strip_prefix("s3://") else {
        anyhow::bail!("KADRO_EXPORT_STORE must be file://DIR or s3://BUCKET/PREFIX");
    };
    let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
    anyhow::ensure!(
        !bucket.is_empty(),
        "KADRO_EXPORT_STORE: s3:// needs a bucket"
    );
    let settings = S3Settings {
        endpoint: config.s3_endpoint.clone().filter(|e| !e.is_empty()),
        region: config.s3_region.clone(),
        access_key_id: config.aws_access_key_id.clone(),
        secret_access_key: config.aws_secret_access_key.clone(),
    };
    Ok(Arc::new(S3Store::new(
        bucket,
        prefix,
        &settings,
        config.export_dir.clone(),
    )?))
}

/// Files in a local directory (`KADRO_EXPORT_DIR`); scratch files in its `.partial/`
/// subdirectory, renamed into place when complete.
#[derive(Clone, Debug)]
pub struct LocalDirStore {
    dir: PathBuf,
}

impl LocalDirStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    fn partial_dir(&self) -> PathBuf {
        self.dir.join(".partial")
    }

    fn path(&self, name: &str) -> io::Result<PathBuf> {
        check_name(name)?;
        Ok(self.dir.join(name))
    }
}

/// Names are kadro's own (`<hex>.<ext>`); anything else could escape the directory.
pub(super) fn check_name(name: &str) -> io::Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid export file name {name:?}"),
        ))
    }
}

fn ignore_missing(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[async_trait::async_trait]
impl ExportStore for LocalDirStore {
    async fn scratch(&self, name: &str) -> io::Result<PathBuf> {
        check_name(name)?;
        let dir = self.partial_dir();
        tokio::fs::create_dir_all(&dir).await?;
        let attempt = uuid::Uuid::new_v4().simple();
        Ok(dir.join(format!("{name}.{attempt}")))
    }

    async fn publish(&self, scratch: &Path, name: &str) -> io::Result<()> {
        let target = self.path(name)?;
        let file = tokio::fs::File::open(scratch).await?;
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(scratch, &target).await
    }

    async fn discard_scratch(&self, name: &str) -> io::Result<()> {
        check_name(name)?;
        let prefix = format!("{name}.");
        let mut entries = match tokio::fs::read_dir(self.partial_dir()).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        while let Some(entry) = entries.next_entry().await? {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                ignore_missing(tokio::fs::remove_file(entry.path()).await)?;
            }
        }
        Ok(())
    }

    async fn open(&self, name: &str) -> io::Result<Option<StoredFile>> {
        let file = match tokio::fs::File::open(self.path(name)?).await {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let len = file.metadata().await?.len();
        Ok(Some(StoredFile {
            len,
            reader: Box::pin(file),
        }))
    }

    async fn delete(&self, name: &str) -> io::Result<()> {
        ignore_missing(tokio::fs::remove_file(self.path(name)?).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_leave_the_directory() {
        for bad in ["", "../x.csv", ".hidden", "a/b.csv", "a\\b", "x y.csv"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        check_name("0123456789abcdef0123456789abcdef.xlsx").unwrap();
    }

    #[tokio::test]
    async fn publish_renames_and_discard_removes_only_that_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDirStore::new(dir.path());
        let a = store.scratch("a.csv").await.unwrap();
        let a2 = store.scratch("a.csv").await.unwrap();
        let b = store.scratch("b.csv").await.unwrap();
        assert_ne!(a, a2);
        for p in [&a, &a2, &b] {
            std::fs::write(p, b"x").unwrap();
        }
        store.publish(&a, "a.csv").await.unwrap();
        store.discard_scratch("a.csv").await.unwrap();
        assert!(!a2.exists());
        assert!(b.exists());
        let opened = store.open("a.csv").await.unwrap().expect("published");
        assert_eq!(opened.len, 1);
        store.delete("a.csv").await.unwrap();
        store.delete("a.csv").await.unwrap();
        assert!(store.open("a.csv").await.unwrap().is_none());
    }
}
