//! Builds the guest components the tests run, once per build of the test
//! crate: the example integration and the test fixtures, to wasm32-wasip2
//! with the `guest` profile, in `<target>/guests` (a target directory of its
//! own, so this nested cargo never waits on the outer one's lock).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The guest crates, and the environment variable each component's path is exported as.
const GUESTS: &[(&str, &str)] = &[
    ("crm", "CRM_COMPONENT"),
    ("fixture", "FIXTURE_COMPONENT"),
    ("hostile", "HOSTILE_COMPONENT"),
    ("lifecycle", "LIFECYCLE_COMPONENT"),
    ("auth_basic", "AUTH_BASIC_COMPONENT"),
    ("auth_digest", "AUTH_DIGEST_COMPONENT"),
    ("auth_session", "AUTH_SESSION_COMPONENT"),
    ("auth_oauth2", "AUTH_OAUTH2_COMPONENT"),
    ("auth_oauth2_plain", "AUTH_OAUTH2_PLAIN_COMPONENT"),
    ("auth_custom", "AUTH_CUSTOM_COMPONENT"),
    ("auth_oauth1", "AUTH_OAUTH1_COMPONENT"),
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest_dir.parent().expect("tests/ lives in the workspace root").to_path_buf();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out.
    let target_dir = out_dir.ancestors().nth(4).map(Path::to_path_buf).unwrap_or_else(|| root.join("target"));
    let guest_target = target_dir.join("guests");

    for dir in [
        "wit",
        "guest-sdk/rust/src",
        "guest-sdk/rust/Cargo.toml",
        "examples/crm/src",
        "examples/crm/Cargo.toml",
        "tests/guests",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(&root)
        .args(["build", "--profile", "guest", "--target", "wasm32-wasip2", "--target-dir"])
        .arg(&guest_target);
    for (package, _) in GUESTS {
        command.args(["-p", package]);
    }
    // The outer build's flags are for the host target, not wasm.
    for var in
        ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET", "CARGO_TARGET_DIR", "CARGO_BUILD_RUSTFLAGS"]
    {
        command.env_remove(var);
    }
    let status = command.status().expect("cargo can be run from a build script");
    if !status.success() {
        panic!(
            "building the guest components failed (see above). If the error is about a missing target, run \
             `rustup target add wasm32-wasip2`."
        );
    }
    for (package, var) in GUESTS {
        let path = guest_target.join("wasm32-wasip2/guest").join(format!("{package}.wasm"));
        assert!(path.is_file(), "the guest build did not produce {}", path.display());
        println!("cargo:rustc-env={var}={}", path.display());
    }
}
