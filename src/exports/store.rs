//! Where finished export files live. The exporters write into a local scratch file and hand it
//! to an [`ExportStore`], so an S3-compatible store (upload on `publish`, stream on `open`) can
//! be added without touching them.

use std::fmt::Debug;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use tokio::io::AsyncRead;

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
fn check_name(name: &str) -> io::Result<()> {
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
