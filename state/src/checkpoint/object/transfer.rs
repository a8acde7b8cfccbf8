//! Moving checkpoint files between the local disk and the object store:
//! uploads (multipart above [`PART_SIZE`]) and downloads that check each
//! file's size and XXH3 checksum against the manifest as they write it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::StreamExt;
use object_store::ObjectStore;
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjectPath;
use tokio::io::AsyncWriteExt;
use xxhash_rust::xxh3::Xxh3Default;

use crate::checkpoint::checksum::FileDigest;
use crate::checkpoint::error::CheckpointError;

/// Files up to this size are one PUT; larger ones are uploaded in parts of
/// this size (S3 needs at least 5 MiB per part).
const PART_SIZE: usize = 16 << 20;

/// Uploads local file `from` as object `to` (`url` names it in errors).
pub(super) async fn upload(
    store: &Arc<dyn ObjectStore>,
    from: &Path,
    to: &ObjectPath,
    url: &str,
) -> Result<(), CheckpointError> {
    let mut file = tokio::fs::File::open(from).await.map_err(CheckpointError::io(from))?;
    let mut writer = BufWriter::with_capacity(Arc::clone(store), to.clone(), PART_SIZE);
    let copied = tokio::io::copy(&mut file, &mut writer).await;
    let result = match copied {
        Ok(_) => writer.shutdown().await,
        Err(err) => {
            let _ = writer.abort().await;
            Err(err)
        }
    };
    result.map_err(CheckpointError::io(PathBuf::from(url)))
}

/// Downloads object `from` (`url` names it in errors) of checkpoint `id`
/// into `to`, checking it against `file`.
pub(super) async fn download(
    store: &Arc<dyn ObjectStore>,
    (from, url): (&ObjectPath, &str),
    to: &Path,
    (id, file): (u64, &FileDigest),
) -> Result<(), CheckpointError> {
    let store_error = |source| CheckpointError::ObjectStore { location: url.to_owned(), source };
    if let Some(parent) = to.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(CheckpointError::io(parent))?;
    }
    let mut stream =
        store.get_opts(from, Default::default()).await.map_err(store_error)?.into_stream();
    let mut out = tokio::fs::File::create(to).await.map_err(CheckpointError::io(to))?;
    let mut hasher = Xxh3Default::new();
    let mut bytes = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(store_error)?;
        hasher.update(&chunk);
        bytes += chunk.len() as u64;
        out.write_all(&chunk).await.map_err(CheckpointError::io(to))?;
    }
    out.sync_all().await.map_err(CheckpointError::io(to))?;
    let damaged = |reason| CheckpointError::Damaged { id, dir: PathBuf::from(url), reason };
    if bytes != file.bytes {
        return Err(damaged(format!(
            "{} has {bytes} bytes, the manifest says {} (truncated or altered)",
            file.path, file.bytes
        )));
    }
    if format!("{:016x}", hasher.digest()) != file.xxh3 {
        return Err(damaged(format!("{} fails its checksum", file.path)));
    }
    Ok(())
}
