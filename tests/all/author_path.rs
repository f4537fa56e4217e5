//! The README's author path, run as written: the fenced shell block after
//! the `author-path` marker in README.md, line by line, with the real
//! `zapwasm` binary first on `PATH`, in a temporary directory inside this
//! checkout (so `zapwasm init` depends on this checkout's SDK by path),
//! against a real API on 127.0.0.1 that speaks what the `api-key` template
//! expects (`GET /me`, `GET /items`, `POST /items`, the key in `X-API-Key`).
//!
//! The one change made to a line: the API listens on a free port, so the
//! block's `http://127.0.0.1:8080` is replaced by its address. Nested cargo
//! runs use the guests' target directory, so nothing is built twice.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use zapwasm_tests::shared_dir;

use crate::run::{ZAPWASM, stderr};
use crate::validate::{guest_target, in_checkout, root};

/// The comment that marks the block.
const MARKER: &str = "<!-- author-path:";
/// The API's address as the README writes it.
const README_API: &str = "http://127.0.0.1:8080";
/// The key the README's API takes.
const KEY: &str = "dev-key";

/// The lines of the shell block after the marker: blank lines and whole-line comments left out.
fn author_path(readme: &str) -> Vec<String> {
    let after = readme.split_once(MARKER).unwrap_or_else(|| panic!("README.md has no {MARKER} comment")).1;
    let block = after.split_once("```sh\n").expect("a ```sh block after the marker").1;
    let block = block.split_once("\n```").expect("the block ends").0;
    block.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#')).map(String::from).collect()
}

type Items = Arc<Mutex<Vec<Value>>>;

/// Whether the request carries the key.
fn keyed(headers: &HeaderMap) -> bool {
    headers.get("x-api-key").and_then(|value| value.to_str().ok()) == Some(KEY)
}

fn refused() -> Response {
    (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "a valid X-API-Key is required"}))).into_response()
}

/// The API of the `api-key` template: its account, its items newest first, a new item.
async fn start_api() -> (String, Items, tokio::task::JoinHandle<()>) {
    let items = Items::default();
    let me = |headers: HeaderMap| async move {
        if !keyed(&headers) {
            return refused();
        }
        axum::Json(json!({"id": 1, "email": "author@example.test"})).into_response()
    };
    let list = |State(items): State<Items>, Query(query): Query<Vec<(String, String)>>, headers: HeaderMap| async move {
        if !keyed(&headers) {
            return refused();
        }
        let limit = query.iter().find(|(k, _)| k == "limit").and_then(|(_, v)| v.parse().ok()).unwrap_or(50);
        let newest: Vec<Value> = items.lock().unwrap().iter().rev().take(limit).cloned().collect();
        axum::Json(json!({ "items": newest })).into_response()
    };
    let add = |State(items): State<Items>, headers: HeaderMap, axum::Json(body): axum::Json<Value>| async move {
        if !keyed(&headers) {
            return refused();
        }
        let mut items = items.lock().unwrap();
        let item = json!({"id": items.len() + 1, "name": body["name"], "created_at": "2026-12-06T09:30:00Z"});
        items.push(item.clone());
        (StatusCode::CREATED, axum::Json(item)).into_response()
    };
    let app = axum::Router::new()
        .route("/me", axum::routing::get(me))
        .route("/items", axum::routing::get(list).post(add))
        .with_state(items.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    items.lock().unwrap().push(json!({"id": 1, "name": "Seeded", "created_at": "2026-12-01T09:30:00Z"}));
    (base, items, server)
}

/// Runs one line of the block with `sh` in `dir`, `zapwasm` being the binary under test.
fn run_line(line: &str, dir: &Path, bin: &Path) -> Output {
    let path = std::env::join_paths(
        std::iter::once(bin.to_path_buf()).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    Command::new("sh")
        .args(["-c", line])
        .current_dir(dir)
        .env("PATH", path)
        .env("CARGO_TARGET_DIR", guest_target())
        .env("XDG_CACHE_HOME", shared_dir("author-path-cache"))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("sh runs")
}

#[test]
fn the_readme_block_is_found_and_is_the_whole_path() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let lines = author_path(&readme);
    let commands: Vec<&str> = lines.iter().map(|line| line.split_whitespace().take(2).last().unwrap_or("")).collect();
    for step in ["init", "build", "validate", "invoke", "test"] {
        assert!(commands.contains(&step), "the author path runs `zapwasm {step}`: {lines:#?}");
    }
    assert!(lines.iter().any(|line| line.contains(README_API)), "the block names its API as {README_API}");
    assert_eq!(author_path("x\n<!-- author-path: -->\n```sh\na\n# c\n\nb  # d\n```\n"), ["a", "b  # d"]);
}

#[tokio::test]
async fn the_readmes_author_path_runs_as_written() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let (base, items, server) = start_api().await;
    // Inside this checkout: `zapwasm init` depends on its SDK by path.
    let work = tempfile::tempdir_in(in_checkout()).unwrap();
    let bin = work.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(ZAPWASM, bin.join("zapwasm")).unwrap();
    let home = work.path().join("home");
    std::fs::create_dir_all(&home).unwrap();

    let mut dir: PathBuf = home.clone();
    let mut server = Some(server);
    let mut outputs = Vec::new();
    for line in author_path(&readme) {
        if let Some(target) = line.strip_prefix("cd ") {
            dir = dir.join(target.split('#').next().unwrap().trim());
            assert!(dir.is_dir(), "`{line}`: no such directory");
            continue;
        }
        let offline = line.starts_with("zapwasm test") && !line.contains("--record");
        if offline && let Some(server) = server.take() {
            // Replayed offline: the API is gone.
            server.abort();
            let _ = server.await;
        }
        let run = line.replace(README_API, &base);
        let bin = bin.clone();
        let (cwd, command) = (dir.clone(), run.clone());
        let output = tokio::task::spawn_blocking(move || run_line(&command, &cwd, &bin)).await.unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(output.status.success(), "`{line}` failed ({}):\n{stdout}\n{}", output.status, stderr(&output));
        outputs.push((line, stdout));
    }

    let stdout_of = |prefix: &str| {
        let found = outputs.iter().rev().find(|(line, _)| line.starts_with(prefix));
        found.map(|(_, stdout)| stdout.clone()).unwrap_or_else(|| panic!("no line starts with {prefix:?}"))
    };
    assert!(stdout_of("zapwasm validate").ends_with("valid, no findings\n"), "{}", stdout_of("zapwasm validate"));
    assert!(stdout_of("cargo test").contains("test result: ok."), "{}", stdout_of("cargo test"));
    let env = std::fs::read_to_string(dir.join(".env")).unwrap();
    assert!(env.contains(&format!("authData_api_key={KEY}")), "auth start wrote the key: {env}");
    let polled: Value = serde_json::from_str(&stdout_of("zapwasm invoke . trigger")).unwrap();
    assert_eq!(polled[0]["name"], "Seeded");
    let created: Value = serde_json::from_str(&stdout_of("zapwasm invoke . create")).unwrap();
    assert_eq!(created["name"], "First");
    assert_eq!(items.lock().unwrap().len(), 2, "the create reached the API");
    let recording = std::fs::read_to_string(dir.join("tests/zapwasm/recordings/items/lists_items.json")).unwrap();
    assert!(recording.contains(r#""x-api-key": ":censored:""#) && !recording.contains(KEY), "{recording}");
    let replayed = stdout_of("zapwasm test");
    assert!(replayed.ends_with("1 passed, 0 failed\n"), "{replayed}");
}
