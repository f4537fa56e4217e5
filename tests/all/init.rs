//! `zapwasm init`, then `zapwasm build` and `zapwasm validate` on what it
//! made, as an author runs them: every template builds as it is and passes
//! every check.

use crate::run::{stderr, zapwasm};
use crate::validate::{guest_target, in_checkout, root};

#[tokio::test]
async fn every_template_builds_as_it_is_and_validates_clean() {
    let dir = tempfile::tempdir().unwrap();
    let sdk = root().join("guest-sdk/rust");
    for template in ["api-key", "oauth2", "session", "rest-hook"] {
        let name = format!("app-{template}");
        let sdk_args = ["--sdk", "path", "--sdk-path", sdk.to_str().unwrap()];
        let mut args = vec!["init", name.as_str(), "--template", template];
        args.extend(sdk_args);
        let output = zapwasm(&args, dir.path());
        assert!(output.status.success(), "{template}: {}", stderr(&output));
        let crate_dir = dir.path().join(&name);
        for file in ["Cargo.toml", "Cargo.lock", "README.md", ".gitignore", "src/lib.rs"] {
            assert!(crate_dir.join(file).is_file(), "{template}: no {file}");
        }

        let output = zapwasm(&["build"], &crate_dir);
        assert!(output.status.success(), "{template}: {}", stderr(&output));
        let component = String::from_utf8_lossy(&output.stdout).trim().to_string();
        assert!(component.ends_with(&format!("{}.snapshot.wasm", name.replace('-', "_"))), "{component}");

        let output = zapwasm(&["validate", "--strict"], &crate_dir);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{template}:\n{stdout}{}", stderr(&output));
        assert!(stdout.ends_with("valid, no findings\n"), "{template}: {stdout}");

        let output = zapwasm(&["describe", "."], &crate_dir);
        assert!(output.status.success(), "{template}: {}", stderr(&output));
        let described = String::from_utf8_lossy(&output.stdout);
        assert!(described.contains("new_item") && described.contains("create_item"), "{described}");
    }
}

#[tokio::test]
async fn inside_a_checkout_the_sdk_is_a_relative_path_and_an_existing_crate_is_kept() {
    let dir = tempfile::tempdir_in(in_checkout()).unwrap();
    let output = zapwasm(&["init", "inside"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let manifest = std::fs::read_to_string(dir.path().join("inside/Cargo.toml")).unwrap();
    let line = manifest.lines().find(|line| line.starts_with("zapwasm-guest")).unwrap();
    assert!(line.starts_with("zapwasm-guest = { path = \"../"), "{line}");
    assert!(line.ends_with("guest-sdk/rust\" }"), "{line}");
    assert!(manifest.contains("features = [\"testing\"]"), "{manifest}");
    let lock = std::fs::read_to_string(dir.path().join("inside/Cargo.lock")).unwrap();
    assert!(lock.contains("name = \"wit-bindgen\""), "the checkout's lock file");

    let again = zapwasm(&["init", "inside"], dir.path());
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("exists and is not empty"), "{}", stderr(&again));
    let bad = zapwasm(&["init", "x", "--sdk", "git"], dir.path());
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("--sdk-git URL"), "{}", stderr(&bad));
}

#[tokio::test]
async fn a_new_crate_passes_its_own_native_tests() {
    let dir = tempfile::tempdir().unwrap();
    let sdk = root().join("guest-sdk/rust");
    let output = zapwasm(&["init", "native", "--sdk", "path", "--sdk-path", sdk.to_str().unwrap()], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    // `cargo test` as the author runs it: the fake API of `zapwasm_guest::testing`.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args(["test", "--quiet"])
        .current_dir(dir.path().join("native"))
        .env("CARGO_TARGET_DIR", guest_target())
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", stderr(&output));
    assert!(stdout.contains("test result: ok. 4 passed"), "{stdout}");
}
