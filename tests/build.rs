//! Builds the guest components the tests run, once per build of the test
//! crate: the example integrations and the test fixtures, to wasm32-wasip2
//! with `zapwasm-build` (the guest profile `zapwasm build` uses), in
//! `<target>/guests` (a target directory of its own, so this nested cargo
//! never waits on the outer one's lock).

use std::path::{Path, PathBuf};

/// The guest crates, and the environment variable each component's path is exported as.
const GUESTS: &[(&str, &str)] = &[
    ("crm", "CRM_COMPONENT"),
    ("invoices", "INVOICES_COMPONENT"),
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
    ("invalid", "INVALID_COMPONENT"),
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
        "examples/invoices/src",
        "examples/invoices/Cargo.toml",
        "tests/guests",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }

    // One cargo run for every guest, with the guest profile `zapwasm build` uses.
    let packages = GUESTS.iter().map(|(package, _)| *package);
    let options = zapwasm_build::Options::new(&root).packages(packages).target_dir(&guest_target);
    let built = match zapwasm_build::build_all(&options) {
        Ok(built) => built,
        Err(error) => panic!("building the guest components failed: {error}"),
    };
    for (package, var) in GUESTS {
        let Some(component) = built.iter().find(|built| built.package == *package) else {
            panic!("the guest build did not produce {package}");
        };
        println!("cargo:rustc-env={var}={}", component.component.display());
    }
}
