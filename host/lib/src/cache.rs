//! The compiled-component cache: on disk, and in the host's memory.
//!
//! Compiling a 130 KB component takes ~90 ms; loading the compiled artifact
//! by mmap takes ~80 us. Artifacts live at
//! `<dir>/<engine key>/<sha-256 of the component>.cwasm`: the engine key is
//! the engine's compatibility hash, so a host with other settings or another
//! wasmtime never loads an artifact it cannot run, and the content hash makes
//! a changed component a new entry. Only artifacts this host wrote are
//! loaded: they are written to a temporary file and renamed into place, so a
//! reader never sees a partial one, and concurrent writers of the same entry
//! (other processes) each rename a whole file.
//!
//! Next to each artifact, `<sha-256>.definition.json` keeps the definition
//! the component returned, written the same way, so a hit neither
//! instantiates the component nor calls its `definition()`. A damaged entry
//! (an artifact wasmtime refuses, a definition that does not parse) is
//! reported in [`LoadInfo::cache_warning`](crate::LoadInfo::cache_warning)
//! and made again from the component.
//!
//! In memory, [`FileStamps`] remembers which file held which content, so
//! loading an unchanged file again needs neither reading nor hashing it.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::LoadError;

/// How a load used the compiled-component cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CacheUse {
    /// The compiled component was reused: mapped in from the artifact on
    /// disk, or shared with an app of the same bytes this host still holds.
    Hit,
    /// The component was compiled and the artifact written for next time.
    Miss,
    /// The host has no cache directory; the component was compiled.
    Disabled,
    /// The artifact could not be written (read-only or full disk); the
    /// component was compiled and loaded from memory.
    Unwritable,
}

pub(crate) struct ComponentCache {
    dir: Option<PathBuf>,
}

/// What the cache gave for one component.
pub(crate) struct Cached {
    pub(crate) component: Component,
    pub(crate) cache: CacheUse,
    /// The definition JSON stored with the artifact, when there was a good one.
    pub(crate) definition: Option<String>,
    /// Why a cache entry could not be used, when one was there.
    pub(crate) warning: Option<String>,
}

impl ComponentCache {
    pub(crate) fn new(engine: &Engine, root: Option<PathBuf>) -> ComponentCache {
        let dir = root.map(|root| root.join(engine_key(engine)));
        ComponentCache { dir }
    }

    pub(crate) fn is_enabled(&self) -> bool {
        self.dir.is_some()
    }

    /// Map in the artifact of the component whose hex SHA-256 is `digest`,
    /// with its stored definition. `None` when there is no usable artifact;
    /// the warning says why, when one was there but damaged.
    pub(crate) fn load_compiled(&self, engine: &Engine, digest: &str) -> Result<Cached, Option<String>> {
        let Some(dir) = &self.dir else { return Err(None) };
        let path = dir.join(format!("{digest}.cwasm"));
        // SAFETY: the file is an artifact this host compiled and renamed
        // into its own cache directory (see `store`); wasmtime checks its
        // header against the engine's settings before using it.
        let component = match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => component,
            Err(_) if !path.exists() => return Err(None),
            Err(e) => {
                return Err(Some(format!(
                    "the cached artifact {} is unusable ({}); compiled again",
                    path.display(),
                    error_chain(&e)
                )));
            }
        };
        let (definition, warning) = match std::fs::read(definition_path(dir, digest)) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => (Some(text), None),
                Err(_) => (None, Some(format!("the cached definition of {digest} is not UTF-8; read again"))),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, None),
            Err(e) => (None, Some(format!("cannot read the cached definition of {digest} ({e}); read again"))),
        };
        Ok(Cached { component, cache: CacheUse::Hit, definition, warning })
    }

    /// Compile `bytes`, or map in the artifact compiled earlier. `digest` is
    /// the hex SHA-256 of `bytes`, which the caller has already computed.
    pub(crate) fn load(&self, engine: &Engine, bytes: &[u8], digest: &str) -> Result<Cached, LoadError> {
        check_component_header(bytes)?;
        let Some(dir) = &self.dir else {
            let component = Component::new(engine, bytes).map_err(|e| LoadError::Malformed { source: e.into() })?;
            return Ok(Cached { component, cache: CacheUse::Disabled, definition: None, warning: None });
        };
        let warning = match self.load_compiled(engine, digest) {
            Ok(cached) => return Ok(cached),
            Err(warning) => warning,
        };
        let path = dir.join(format!("{digest}.cwasm"));
        let artifact = engine.precompile_component(bytes).map_err(|e| LoadError::Malformed { source: e.into() })?;
        match store(dir, &path, &artifact) {
            // SAFETY: as above; the file was written by `store` just now.
            Ok(()) => match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => Ok(Cached { component, cache: CacheUse::Miss, definition: None, warning }),
                Err(e) => Err(LoadError::Cache { dir: dir.clone(), source: e.into() }),
            },
            Err(_) => {
                // SAFETY: `artifact` was produced by this engine a moment ago.
                let component = unsafe { Component::deserialize(engine, &artifact) }
                    .map_err(|e| LoadError::Cache { dir: dir.clone(), source: e.into() })?;
                Ok(Cached { component, cache: CacheUse::Unwritable, definition: None, warning })
            }
        }
    }

    /// Keep the definition `digest`'s component returned next to its
    /// artifact. Best effort: without it the next load reads it again.
    pub(crate) fn store_definition(&self, digest: &str, definition: &str) {
        if let Some(dir) = &self.dir {
            let _ = store(dir, &definition_path(dir, digest), definition.as_bytes());
        }
    }
}

fn definition_path(dir: &Path, digest: &str) -> PathBuf {
    dir.join(format!("{digest}.definition.json"))
}

/// Which content each file held when it was last loaded, so an unchanged
/// file is neither read nor hashed again.
///
/// A file is taken as unchanged when its device, inode, length, mtime and
/// ctime are all the same. ctime cannot be set by a user, and changes with
/// every write. As in git's "racy" check, a file changed less than
/// [`FileStamps::SETTLED`] before it was looked at is not remembered: within
/// one tick of the file system's clock a second write could leave every
/// stamp the same.
#[derive(Default)]
pub(crate) struct FileStamps {
    digests: Mutex<HashMap<PathBuf, (FileStamp, String)>>,
}

/// The identity and version of a file, as `stat` gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileStamp {
    device: u64,
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
    changed: (i64, i64),
}

impl FileStamp {
    #[cfg(unix)]
    pub(crate) fn of(metadata: &std::fs::Metadata) -> Option<FileStamp> {
        use std::os::unix::fs::MetadataExt;
        Some(FileStamp {
            device: metadata.dev(),
            inode: metadata.ino(),
            len: metadata.len(),
            modified: metadata.modified().ok(),
            changed: (metadata.ctime(), metadata.ctime_nsec()),
        })
    }

    /// Without ctime a file could be changed back to an old mtime unseen:
    /// always read it.
    #[cfg(not(unix))]
    pub(crate) fn of(_metadata: &std::fs::Metadata) -> Option<FileStamp> {
        None
    }

    /// Whether the file's last change is at least `settled` old.
    fn is_settled(&self, now: SystemTime, settled: Duration) -> bool {
        let Ok(now) = now.duration_since(SystemTime::UNIX_EPOCH) else { return false };
        let changed = Duration::new(self.changed.0.max(0) as u64, self.changed.1.clamp(0, 999_999_999) as u32);
        let modified = self.modified.and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok());
        match (now.checked_sub(settled), modified) {
            (Some(limit), Some(modified)) => changed <= limit && modified <= limit,
            _ => false,
        }
    }
}

impl FileStamps {
    /// How old a file's last change must be for its stamp to be trusted.
    const SETTLED: Duration = Duration::from_secs(2);
    /// Files remembered at most; past it the memory starts over.
    const MOST: usize = 4096;

    /// The digest of `path`'s content, if the file is as it was when it
    /// was remembered.
    pub(crate) fn digest(&self, path: &Path, stamp: &FileStamp) -> Option<String> {
        let digests = self.digests.lock().unwrap_or_else(|e| e.into_inner());
        digests.get(path).filter(|(known, _)| known == stamp).map(|(_, digest)| digest.clone())
    }

    /// Remember that `path`, stamped `before` when it was read and `after`
    /// once it was, held content whose digest is `digest`.
    pub(crate) fn remember(&self, path: &Path, before: &FileStamp, after: &FileStamp, digest: &str) {
        if before != after || !before.is_settled(SystemTime::now(), Self::SETTLED) {
            return;
        }
        let mut digests = self.digests.lock().unwrap_or_else(|e| e.into_inner());
        if digests.len() >= Self::MOST {
            digests.clear();
        }
        digests.insert(path.to_path_buf(), (before.clone(), digest.to_string()));
    }
}

/// A stable name for the engine's compatibility: artifacts from an engine
/// with other settings land in another directory.
fn engine_key(engine: &Engine) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("engine-{:016x}", hasher.finish())
}

fn store(dir: &Path, path: &Path, artifact: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{}.{}.tmp", std::process::id(), unique_suffix()));
    std::fs::write(&tmp, artifact)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

fn unique_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Tell a file that is not wasm, or is a core module, from a component
/// before the compiler gives a less direct message.
fn check_component_header(bytes: &[u8]) -> Result<(), LoadError> {
    const MAGIC: &[u8] = b"\0asm";
    const CORE_VERSION: &[u8] = &[0x01, 0x00, 0x00, 0x00];
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Err(LoadError::NotWasm);
    }
    if &bytes[4..8] == CORE_VERSION {
        return Err(LoadError::CoreModule);
    }
    Ok(())
}

/// A wasmtime error with its causes, on one line.
pub(crate) fn error_chain(error: &wasmtime::Error) -> String {
    let mut message = error.to_string();
    for cause in error.chain().skip(1) {
        message.push_str(": ");
        message.push_str(&cause.to_string());
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(len: u64, changed_secs_ago: u64) -> FileStamp {
        let changed = SystemTime::now() - Duration::from_secs(changed_secs_ago);
        let since = changed.duration_since(SystemTime::UNIX_EPOCH).unwrap();
        FileStamp {
            device: 1,
            inode: 2,
            len,
            modified: Some(changed),
            changed: (since.as_secs() as i64, i64::from(since.subsec_nanos())),
        }
    }

    #[test]
    fn a_settled_unchanged_file_is_remembered_by_its_stamp() {
        let stamps = FileStamps::default();
        let path = Path::new("/integrations/a.wasm");
        let old = stamp(10, 60);
        stamps.remember(path, &old, &old, "d1");
        assert_eq!(stamps.digest(path, &old).as_deref(), Some("d1"));
        // Any difference (here the length) and the file is read again.
        assert_eq!(stamps.digest(path, &stamp(11, 60)), None);
        assert_eq!(stamps.digest(Path::new("/integrations/b.wasm"), &old), None);
    }

    #[test]
    fn a_file_changed_while_read_or_just_now_is_not_remembered() {
        let stamps = FileStamps::default();
        let path = Path::new("/integrations/a.wasm");
        stamps.remember(path, &stamp(10, 60), &stamp(12, 60), "d1");
        assert_eq!(stamps.digest(path, &stamp(10, 60)), None);
        let fresh = stamp(10, 0);
        stamps.remember(path, &fresh, &fresh, "d2");
        assert_eq!(stamps.digest(path, &fresh), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_rewritten_file_gets_another_stamp() {
        let dir = std::env::temp_dir().join(format!("zapwasm-stamp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.wasm");
        std::fs::write(&path, b"one").unwrap();
        let first = FileStamp::of(&std::fs::metadata(&path).unwrap()).unwrap();
        std::fs::write(&path, b"two").unwrap();
        let second = FileStamp::of(&std::fs::metadata(&path).unwrap()).unwrap();
        // Same length, written within the same instant or not: ctime or
        // mtime moves (or the racy rule keeps the first from being trusted).
        assert!(first != second || !first.is_settled(SystemTime::now(), FileStamps::SETTLED));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;
    use crate::definition::Definition;
    use crate::fuzzing;

    /// What cached files start with, for the mutations.
    const TOKENS: &[&str] = &["\0asm", "\x01\0\0\0", "\x0d\0\x01\0", "\"$func\":", "{\"triggers\":{}}"];

    /// What the cache reads back from its directory (a definition kept next
    /// to an artifact, the first bytes of a component file), damaged in any
    /// way: it is used or refused, never a panic.
    #[test]
    fn cached_files_are_used_or_refused() {
        fuzzing::fuzz("cache", TOKENS, |input| {
            let bytes = &input.0;
            if check_component_header(bytes).is_ok() {
                prop_assert!(bytes.starts_with(b"\0asm") && bytes.len() >= 8 && bytes[4..8] != [1, 0, 0, 0]);
            }
            // As `ComponentCache::load_compiled` then `Host` read a kept definition.
            if let Ok(text) = String::from_utf8(bytes.clone()) {
                let _ = Definition::parse(&text);
            }
            Ok(())
        });
    }

    /// File stamps as `stat` reports them, whatever the clock: deciding
    /// whether a file has settled never panics.
    #[test]
    fn file_stamps_of_any_time_are_judged_without_panicking() {
        let strategy = (any::<(i64, i64)>(), proptest::option::of(any::<u64>()), any::<u64>(), any::<u64>());
        fuzzing::run("file_stamp", Vec::new(), strategy, |(changed, modified, now, settled)| {
            let at = |secs: u64| SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs));
            let stamp = FileStamp { device: 1, inode: 2, len: 3, modified: modified.and_then(at), changed: *changed };
            if let Some(now) = at(*now) {
                let _ = stamp.is_settled(now, Duration::from_secs(*settled));
            }
            Ok(())
        });
    }
}
