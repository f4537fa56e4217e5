//! The compiled-component cache on disk.
//!
//! Compiling a 130 KB component takes ~90 ms; loading the compiled artifact
//! by mmap takes ~80 us. Artifacts live at
//! `<dir>/<engine key>/<sha-256 of the component>.cwasm`: the engine key is
//! the engine's compatibility hash, so a host with other settings or another
//! wasmtime never loads an artifact it cannot run, and the content hash makes
//! a changed component a new entry. Only artifacts this host wrote are
//! loaded: they are written to a temporary file and renamed into place, so a
//! reader never sees a partial one.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use serde::Serialize;
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::LoadError;

/// How a load used the compiled-component cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheUse {
    /// The compiled artifact was on disk and was mapped in.
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

impl ComponentCache {
    pub(crate) fn new(engine: &Engine, root: Option<PathBuf>) -> ComponentCache {
        let dir = root.map(|root| root.join(engine_key(engine)));
        ComponentCache { dir }
    }

    /// Compile `bytes`, or map in the artifact compiled earlier. `digest` is
    /// the hex SHA-256 of `bytes`, which the caller has already computed.
    pub(crate) fn load(&self, engine: &Engine, bytes: &[u8], digest: &str) -> Result<(Component, CacheUse), LoadError> {
        check_component_header(bytes)?;
        let Some(dir) = &self.dir else {
            let component = Component::new(engine, bytes).map_err(|e| LoadError::Malformed(error_chain(&e)))?;
            return Ok((component, CacheUse::Disabled));
        };
        let path = dir.join(format!("{digest}.cwasm"));
        if path.is_file() {
            // SAFETY: the file is an artifact this host compiled and renamed
            // into its own cache directory (see `store`); wasmtime checks its
            // header against the engine's settings before using it.
            if let Ok(component) = unsafe { Component::deserialize_file(engine, &path) } {
                return Ok((component, CacheUse::Hit));
            }
            // A stale or damaged artifact: compile again and replace it.
        }
        let artifact = engine.precompile_component(bytes).map_err(|e| LoadError::Malformed(error_chain(&e)))?;
        match store(dir, &path, &artifact) {
            // SAFETY: as above; the file was written by `store` just now.
            Ok(()) => match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => Ok((component, CacheUse::Miss)),
                Err(e) => Err(LoadError::Cache { dir: dir.clone(), message: error_chain(&e) }),
            },
            Err(_) => {
                // SAFETY: `artifact` was produced by this engine a moment ago.
                let component = unsafe { Component::deserialize(engine, &artifact) }
                    .map_err(|e| LoadError::Cache { dir: dir.clone(), message: error_chain(&e) })?;
                Ok((component, CacheUse::Unwritable))
            }
        }
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
