//! Stashed files in a local directory: the embedded default for one machine.

use std::io::ErrorKind;
use std::path::PathBuf;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::{ScopeKey, StashStore, StashedDownload, StashedFile, StateError};

/// The longest ID this store accepts (the host's are 32 characters).
const MAX_ID_CHARS: usize = 128;

/// Files in `dir`, two per stashed file, named by the ID the host gave it:
/// `<first two characters of the ID>/<ID>.data` holds the bytes and
/// `<...>/<ID>.json` the name, content type, length and scope. The name
/// is kept as data, not as a path, so any name the platform allows (up to
/// 1000 characters, more than a file system's 255 bytes) is kept whole,
/// and no name can reach outside `dir`. The folders by the ID's first two
/// characters keep any one folder small.
///
/// URLs are `<base_url>/files/<token>`: the base is where the embedder
/// serves `GET /files/{token}` with
/// [`Host::open_stashed`](crate::Host::open_stashed) (or `zapwasm serve`
/// does). Files are never deleted by this store; their URLs expire (see
/// [`HostBuilder::stash_url_lifetime`](crate::HostBuilder::stash_url_lifetime)),
/// so a file older than that can be removed by the operator.
#[derive(Debug, Clone)]
pub struct LocalStash {
    dir: PathBuf,
    base_url: String,
}

/// What `<ID>.json` holds.
#[derive(Serialize, Deserialize)]
struct Meta {
    filename: String,
    content_type: String,
    length: u64,
    /// Whose file it is ([`ScopeKey`]), for an operator's cleanup by tenant.
    scope: String,
}

impl LocalStash {
    /// A stash writing under `dir`, its files' URLs under `base_url`.
    pub fn new(dir: impl Into<PathBuf>, base_url: impl Into<String>) -> LocalStash {
        LocalStash { dir: dir.into(), base_url: base_url.into().trim_end_matches('/').to_string() }
    }

    /// The directory files are written to.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// The paths of the bytes and the metadata of `id`, when `id` is one
    /// this store can hold (letters, digits, `-` and `_`: never a path).
    fn paths(&self, id: &str) -> Option<(PathBuf, PathBuf)> {
        let valid = !id.is_empty()
            && id.len() <= MAX_ID_CHARS
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return None;
        }
        let folder = self.dir.join(&id[..id.len().min(2)]);
        Some((folder.join(format!("{id}.data")), folder.join(format!("{id}.json"))))
    }
}

fn fail(message: String) -> StateError {
    StateError { backend: "local stash", message }
}

impl StashStore for LocalStash {
    fn put<'a>(&'a self, scope: &'a ScopeKey, id: &'a str, file: StashedFile) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(async move {
            let (data, meta) = self.paths(id).ok_or_else(|| fail(format!("{id:?} is not a file ID")))?;
            if let Some(folder) = data.parent() {
                tokio::fs::create_dir_all(folder)
                    .await
                    .map_err(|e| fail(format!("cannot create {}: {e}", folder.display())))?;
            }
            tokio::fs::write(&data, &file.bytes)
                .await
                .map_err(|e| fail(format!("cannot write {}: {e}", data.display())))?;
            let about = Meta {
                filename: file.filename,
                content_type: file.content_type,
                length: file.bytes.len() as u64,
                scope: scope.as_str().to_string(),
            };
            let json = serde_json::to_vec(&about).map_err(|e| fail(format!("cannot write the metadata: {e}")))?;
            // The metadata is what `open` looks for: written aside and
            // renamed into place, so a file is either whole or not there.
            let partial = meta.with_extension("json.partial");
            tokio::fs::write(&partial, json)
                .await
                .map_err(|e| fail(format!("cannot write {}: {e}", partial.display())))?;
            tokio::fs::rename(&partial, &meta).await.map_err(|e| fail(format!("cannot write {}: {e}", meta.display())))
        })
    }

    fn open<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<StashedDownload>, StateError>> {
        Box::pin(async move {
            let Some((data, meta)) = self.paths(id) else { return Ok(None) };
            let about = match tokio::fs::read(&meta).await {
                Ok(json) => json,
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(fail(format!("cannot read {}: {e}", meta.display()))),
            };
            let about: Meta =
                serde_json::from_slice(&about).map_err(|e| fail(format!("{} is damaged: {e}", meta.display())))?;
            let file = match tokio::fs::File::open(&data).await {
                Ok(file) => file,
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(fail(format!("cannot read {}: {e}", data.display()))),
            };
            let length = file.metadata().await.map(|m| m.len()).unwrap_or(about.length);
            Ok(Some(StashedDownload::new(about.filename, about.content_type, length, file)))
        })
    }

    fn base_url(&self) -> &str {
        &self.base_url
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::Scope;

    fn stash() -> LocalStash {
        let dir = std::env::temp_dir().join(format!("zapwasm-local-stash-{}", crate::random_id::random_id()));
        LocalStash::new(dir, "https://files.example.test/stash/")
    }

    #[tokio::test]
    async fn a_file_is_read_back_by_its_id_with_its_name_and_type() {
        let stash = stash();
        let scope = ScopeKey::of(&Scope::new("crm", "account-1"));
        let name = format!("{}.txt", "é".repeat(600));
        let file = StashedFile { filename: name.clone(), content_type: "text/plain".into(), bytes: b"hello".to_vec() };
        stash.put(&scope, "0123456789abcdef0123456789abcdef", file).await.unwrap();
        let opened = stash.open("0123456789abcdef0123456789abcdef").await.unwrap().expect("the file is there");
        assert_eq!(
            (opened.filename.as_str(), opened.content_type.as_str(), opened.length),
            (name.as_str(), "text/plain", 5)
        );
        assert_eq!(opened.bytes().await.unwrap(), b"hello");
        assert_eq!(stash.base_url(), "https://files.example.test/stash");
        let _ = std::fs::remove_dir_all(stash.dir());
    }

    #[tokio::test]
    async fn an_unknown_or_unsafe_id_opens_nothing() {
        let stash = stash();
        assert!(stash.open("ffffffffffffffffffffffffffffffff").await.unwrap().is_none());
        assert!(stash.open("../../etc/passwd").await.unwrap().is_none());
        let scope = ScopeKey::of(&Scope::local());
        let file = StashedFile { filename: "x".into(), content_type: "text/plain".into(), bytes: Vec::new() };
        assert!(stash.put(&scope, "../x", file).await.is_err());
    }
}
