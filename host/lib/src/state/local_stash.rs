//! Stashed files in a local directory: the embedded default for one machine.

use std::path::PathBuf;

use futures::future::BoxFuture;
use sha2::{Digest, Sha256};

use super::{ScopeKey, StashStore, StashedFile, StateError};

/// What a file name keeps unencoded in its URL: RFC 3986 unreserved characters.
const PATH_SEGMENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Files under `dir/<scope>/<random id>/<filename>`, served at
/// `base_url/<scope>/<random id>/<filename>` (by `zapwasm serve`, or by the
/// embedder). The random part makes URLs unguessable; the scope part is a
/// hash of the scope, so one tenant's files never share a folder with another's.
#[derive(Debug, Clone)]
pub struct LocalStash {
    dir: PathBuf,
    base_url: String,
}

impl LocalStash {
    /// A stash writing under `dir` and naming files under `base_url`.
    pub fn new(dir: impl Into<PathBuf>, base_url: impl Into<String>) -> LocalStash {
        LocalStash { dir: dir.into(), base_url: base_url.into().trim_end_matches('/').to_string() }
    }

    /// The directory files are written to.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

impl StashStore for LocalStash {
    fn put<'a>(&'a self, scope: &'a ScopeKey, file: StashedFile) -> BoxFuture<'a, Result<String, StateError>> {
        Box::pin(async move {
            let fail = |message: String| StateError { backend: "local stash", message };
            let scope_dir = hex::encode(&Sha256::digest(scope.as_str())[..12]);
            let id = crate::random_id::random_id();
            let folder = self.dir.join(&scope_dir).join(&id);
            tokio::fs::create_dir_all(&folder)
                .await
                .map_err(|e| fail(format!("cannot create {}: {e}", folder.display())))?;
            let path = folder.join(&file.filename);
            tokio::fs::write(&path, &file.bytes)
                .await
                .map_err(|e| fail(format!("cannot write {}: {e}", path.display())))?;
            let name = percent_encoding::utf8_percent_encode(&file.filename, PATH_SEGMENT);
            Ok(format!("{}/{scope_dir}/{id}/{name}", self.base_url))
        })
    }
}
