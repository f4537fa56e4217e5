//! Loading: clear errors for what is not an integration, and the
//! compiled-component cache.

use zapwasm_host::{CacheUse, LoadError};
use zapwasm_tests::{FIXTURE, host, host_builder, shared_dir};

async fn load_error(bytes: Vec<u8>) -> LoadError {
    match host().load_bytes(bytes).await {
        Ok(_) => panic!("expected a load error"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn a_file_that_is_not_wasm_is_named_as_such() {
    let error = load_error(b"#!/bin/sh\necho hi\n".to_vec()).await;
    assert!(matches!(error, LoadError::NotWasm), "{error:?}");
    assert!(error.to_string().contains("wasm32-wasip2"));
}

#[tokio::test]
async fn a_core_module_is_not_a_component() {
    let error = load_error(wat::parse_str("(module)").unwrap()).await;
    assert!(matches!(error, LoadError::CoreModule), "{error:?}");
}

#[tokio::test]
async fn a_truncated_component_is_malformed() {
    let bytes = std::fs::read(FIXTURE).unwrap();
    let error = load_error(bytes[..bytes.len() / 2].to_vec()).await;
    assert!(matches!(error, LoadError::Malformed { .. }), "{error:?}");
}

#[tokio::test]
async fn a_component_of_another_world_is_refused() {
    let error = load_error(wat::parse_str("(component)").unwrap()).await;
    assert!(matches!(error, LoadError::WrongWorld { .. }), "{error:?}");
    assert!(error.to_string().contains("zapwasm:integration/integration@0.1.0"));
}

#[tokio::test]
async fn a_component_importing_what_the_host_lacks_is_refused() {
    let wat = r#"(component (import "evil:net/raw-socket" (instance (export "open" (func)))))"#;
    let error = load_error(wat::parse_str(wat).unwrap()).await;
    assert!(matches!(error, LoadError::UnsupportedImport { .. }), "{error:?}");
    let cause = std::error::Error::source(&error).map(ToString::to_string).unwrap_or_default();
    assert!(cause.contains("evil:net/raw-socket"), "the linker's finding is the cause: {error:?}");
}

#[tokio::test]
async fn the_second_load_uses_the_compiled_component_cache() {
    let dir = shared_dir("cache-once");
    let first = host_builder().cache_dir(&dir).build().unwrap().load_file(FIXTURE).await.unwrap();
    assert_eq!(first.load_info().cache, CacheUse::Miss);
    // A new host, as after a restart: the artifact on disk is mapped in.
    let second = host_builder().cache_dir(&dir).build().unwrap().load_file(FIXTURE).await.unwrap();
    assert_eq!(second.load_info().cache, CacheUse::Hit);
    assert_eq!(first.definition().methods(), second.definition().methods());
}

#[tokio::test]
async fn a_damaged_cache_entry_is_replaced() {
    let dir = shared_dir("cache-damaged");
    host_builder().cache_dir(&dir).build().unwrap().load_file(FIXTURE).await.unwrap();
    for entry in walk(&dir) {
        std::fs::write(entry, b"garbage").unwrap();
    }
    let app = host_builder().cache_dir(&dir).build().unwrap().load_file(FIXTURE).await.unwrap();
    assert_eq!(app.load_info().cache, CacheUse::Miss);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "cwasm") {
            files.push(path);
        }
    }
    files
}
