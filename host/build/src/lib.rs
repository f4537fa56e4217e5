//! zapwasm-build: builds an integration crate to a WebAssembly component
//! for `wasm32-wasip2`, the way every zapwasm guest is built.
//!
//! The crate is built with cargo's `release` profile overridden by the
//! guest settings ([`GUEST_PROFILE`], passed as `--config` arguments, which
//! take precedence over any `[profile.release]` in the author's
//! `Cargo.toml` or cargo config): small to load (`opt-level = "s"`, fat LTO,
//! one codegen unit, `panic = "abort"`, no debug info) and fast where a call
//! spends its time (the JSON crates at `opt-level = 3`). The workspace's
//! `[profile.guest]` holds the same settings for a plain `cargo build`.
//!
//! ```no_run
//! let built = zapwasm_build::build(&zapwasm_build::Options::new("examples/crm"))?;
//! println!("{} ({} bytes) in {:?}", built.component.display(), built.size, built.duration);
//! # Ok::<(), zapwasm_build::BuildError>(())
//! ```
//!
//! The build runs `cargo` (the `CARGO` of the calling build, else the one
//! on `PATH`) with `--message-format=json-render-diagnostics`: cargo's
//! progress and the compiler's messages go to stderr as usual, and the
//! component's path comes from cargo's own artifact messages (read with
//! `cargo_metadata`), not guessed from the target directory's layout.
//! Precompiling the component for a host is the caller's (`zapwasm build`
//! loads it into the host's cache).
//!
//! With the feature `snapshot`, the module `snapshot` pre-initialises a built
//! component: its app is built once, at build time, and kept in the
//! component's initial memory (what `zapwasm build` does by default). The
//! feature brings wasmtime, so it is off by default: a build script that
//! only builds guests (the tests') does not compile wasmtime again.

use std::io::BufReader;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cargo_metadata::Message;

#[cfg(feature = "snapshot")]
pub mod snapshot;

/// The target every guest is built for.
pub const TARGET: &str = "wasm32-wasip2";

/// The guest profile, as `cargo --config` settings over `profile.release`.
///
/// JSON in and out is most of a guest's work per call: its crates (serde's,
/// and the SDK, whose `value` parses and writes it) at opt-level 3 take
/// 9-11% off the instructions of a call; the whole guest at 3 keeps larger
/// frames resident, so the rest stays at "s".
pub const GUEST_PROFILE: &[(&str, &str)] = &[
    ("profile.release.opt-level", "\"s\""),
    ("profile.release.lto", "true"),
    ("profile.release.codegen-units", "1"),
    ("profile.release.panic", "\"abort\""),
    ("profile.release.strip", "\"debuginfo\""),
    ("profile.release.debug", "false"),
    ("profile.release.debug-assertions", "false"),
    ("profile.release.overflow-checks", "false"),
    ("profile.release.incremental", "false"),
    ("profile.release.package.serde_json.opt-level", "3"),
    ("profile.release.package.serde_core.opt-level", "3"),
    ("profile.release.package.indexmap.opt-level", "3"),
    ("profile.release.package.hashbrown.opt-level", "3"),
    ("profile.release.package.zapwasm-guest.opt-level", "3"),
];

/// Variables about the host target (of a calling build, or a developer's
/// shell) that must not reach the guest build: flags for the host's CPU
/// break a wasm build. `CARGO_TARGET_DIR` is kept: it is where the user
/// wants builds to go, and [`Options::target_dir`] overrides it.
const HOST_BUILD_VARIABLES: &[&str] =
    &["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET", "CARGO_BUILD_RUSTFLAGS"];

/// What to build and where.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// The crate's directory (holding its `Cargo.toml`), or with
    /// [`Options::packages`] the workspace's.
    pub dir: PathBuf,
    /// Build these packages of the workspace at `dir` instead of the crate
    /// at `dir` (one cargo run for all: how the tests build their guests).
    pub packages: Vec<String>,
    /// Cargo's target directory. Default: `CARGO_TARGET_DIR`, else the
    /// crate's own (`target/` of its workspace).
    pub target_dir: Option<PathBuf>,
    /// `--locked`: fail rather than change `Cargo.lock`.
    pub locked: bool,
    /// `--quiet`: only errors on stderr.
    pub quiet: bool,
    /// Cargo features to enable (`--features`).
    pub features: Vec<String>,
}

impl Options {
    /// Build the crate in `dir` into its own target directory.
    pub fn new(dir: impl Into<PathBuf>) -> Options {
        Options {
            dir: dir.into(),
            packages: Vec::new(),
            target_dir: None,
            locked: false,
            quiet: false,
            features: Vec::new(),
        }
    }

    /// Build these packages of the workspace at [`Options::dir`].
    pub fn packages<S: Into<String>>(mut self, packages: impl IntoIterator<Item = S>) -> Options {
        self.packages = packages.into_iter().map(Into::into).collect();
        self
    }

    /// Use this cargo target directory.
    pub fn target_dir(mut self, dir: impl Into<PathBuf>) -> Options {
        self.target_dir = Some(dir.into());
        self
    }

    /// Pass `--locked`.
    pub fn locked(mut self, locked: bool) -> Options {
        self.locked = locked;
        self
    }

    /// Pass `--quiet`.
    pub fn quiet(mut self, quiet: bool) -> Options {
        self.quiet = quiet;
        self
    }

    /// Enable these cargo features (`package/feature` in a workspace).
    pub fn features<S: Into<String>>(mut self, features: impl IntoIterator<Item = S>) -> Options {
        self.features = features.into_iter().map(Into::into).collect();
        self
    }
}

/// A built component.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Built {
    /// The package it was built from.
    pub package: String,
    /// The component (`<target>/wasm32-wasip2/release/<lib name>.wasm`).
    pub component: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// How long the cargo run took (shared by every component it built).
    pub duration: Duration,
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// There is no crate to build where one was asked for.
    #[error("{}: {problem}", dir.display())]
    NotACrate {
        /// The directory.
        dir: PathBuf,
        /// What is missing.
        problem: String,
    },
    /// Cargo could not be started.
    #[error("cannot run cargo")]
    Spawn(#[source] std::io::Error),
    /// Cargo's messages could not be read.
    #[error("cannot read cargo's output")]
    Read(#[source] std::io::Error),
    /// Cargo failed (its errors are on stderr).
    #[error(
        "cargo build failed (exit {}); its errors are above{}",
        code.map_or_else(|| "by a signal".to_string(), |code| code.to_string()),
        if *missing_target { ". The wasm32-wasip2 target seems missing: run `rustup target add wasm32-wasip2`" } else { "" }
    )]
    Cargo {
        /// Cargo's exit code.
        code: Option<i32>,
        /// Whether the errors say the target is not installed.
        missing_target: bool,
    },
    /// Cargo succeeded but made no component for a package.
    #[error(
        "{package} built, but no .wasm came out: an integration is a library of crate-type \"cdylib\" \
         (add `[lib] crate-type = [\"cdylib\"]` to its Cargo.toml)"
    )]
    NoComponent {
        /// The package.
        package: String,
    },
}

/// Builds the crate at `options.dir` (or, with [`Options::packages`],
/// those packages of the workspace there) to components.
pub fn build_all(options: &Options) -> Result<Vec<Built>, BuildError> {
    // Absolute: cargo runs in the directory, and is given the manifest's path.
    let dir = std::path::absolute(&options.dir).unwrap_or_else(|_| options.dir.clone());
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).map_err(|e| BuildError::NotACrate {
        dir: options.dir.clone(),
        problem: format!("no readable Cargo.toml ({e}); run it in an integration crate's directory"),
    })?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| BuildError::NotACrate {
        dir: options.dir.clone(),
        problem: format!("Cargo.toml is not valid TOML: {}", e.message()),
    })?;
    let own_package = table.get("package").and_then(|p| p.get("name")).and_then(toml::Value::as_str);
    let wanted: Vec<String> = if options.packages.is_empty() {
        match own_package {
            Some(name) => vec![name.to_string()],
            None => {
                return Err(BuildError::NotACrate {
                    dir: options.dir.clone(),
                    problem: "Cargo.toml is a workspace without a package of its own: build a member's directory"
                        .into(),
                });
            }
        }
    } else {
        options.packages.clone()
    };

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(&dir)
        .args(["build", "--release", "--target", TARGET, "--message-format=json-render-diagnostics"])
        .arg("--manifest-path")
        .arg(&manifest);
    for package in &wanted {
        command.args(["-p", package]);
    }
    for (key, value) in GUEST_PROFILE {
        command.arg("--config").arg(format!("{key}={value}"));
    }
    if let Some(dir) = &options.target_dir {
        command.arg("--target-dir").arg(dir);
    }
    if options.locked {
        command.arg("--locked");
    }
    if options.quiet {
        command.arg("--quiet");
    }
    if !options.features.is_empty() {
        command.arg("--features").arg(options.features.join(","));
    }
    for var in HOST_BUILD_VARIABLES {
        command.env_remove(var);
    }
    // Profile variables of the environment would lose to --config anyway;
    // removed so what a build used is what GUEST_PROFILE says.
    for (var, _) in std::env::vars_os() {
        if var.to_str().is_some_and(|var| var.starts_with("CARGO_PROFILE_RELEASE_")) {
            command.env_remove(var);
        }
    }
    command.stdout(Stdio::piped()).stderr(Stdio::piped());

    let started = Instant::now();
    let mut child = command.spawn().map_err(BuildError::Spawn)?;
    // Stderr is passed through as it comes (progress, diagnostics), and
    // kept to recognize a missing target.
    let stderr = child.stderr.take().map(|stderr| {
        std::thread::spawn(move || {
            use std::io::{BufRead, Write};
            let mut seen = String::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = writeln!(std::io::stderr(), "{line}");
                if seen.len() < 64 * 1024 {
                    seen.push_str(&line);
                    seen.push('\n');
                }
            }
            seen
        })
    });
    let mut components: Vec<(String, PathBuf)> = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        for message in Message::parse_stream(BufReader::new(stdout)) {
            let message = message.map_err(BuildError::Read)?;
            if let Message::CompilerArtifact(artifact) = message
                && artifact.target.crate_types.iter().any(|kind| kind.to_string() == "cdylib")
            {
                let package = artifact.package_id.repr.clone();
                for file in artifact.filenames {
                    if file.extension() == Some("wasm") {
                        components.push((package.clone(), file.into_std_path_buf()));
                    }
                }
            }
        }
    }
    let status = child.wait().map_err(BuildError::Read)?;
    let stderr = stderr.and_then(|thread| thread.join().ok()).unwrap_or_default();
    let duration = started.elapsed();
    if !status.success() {
        let missing_target = stderr.contains("target may not be installed")
            || stderr.contains("can't find crate for `core`")
            || stderr.contains("wasm32-wasip2` target");
        return Err(BuildError::Cargo { code: status.code(), missing_target });
    }
    wanted
        .into_iter()
        .map(|package| {
            let component = components
                .iter()
                .find(|(id, _)| package_matches(id, &package))
                .map(|(_, path)| path.clone())
                .ok_or_else(|| BuildError::NoComponent { package: package.clone() })?;
            let size = std::fs::metadata(&component).map_err(BuildError::Read)?.len();
            Ok(Built { package, component, size, duration })
        })
        .collect()
}

/// Builds the crate at `options.dir` to its component.
pub fn build(options: &Options) -> Result<Built, BuildError> {
    let mut built = build_all(&Options { packages: Vec::new(), ..options.clone() })?;
    built.pop().ok_or_else(|| BuildError::NoComponent { package: options.dir.display().to_string() })
}

/// Whether a cargo package ID (`path+file:///x/crm#0.1.0`,
/// `path+file:///x/my-app#my_app@0.1.0`, `crm 0.1.0 (path+file:///x)`)
/// names the package `name`.
fn package_matches(id: &str, name: &str) -> bool {
    if let Some((_, fragment)) = id.rsplit_once('#') {
        return match fragment.split_once('@') {
            Some((package, _)) => package == name,
            // `#0.1.0`: the name is the URL's last path segment.
            None => id[..id.len() - fragment.len() - 1].trim_end_matches('/').rsplit('/').next() == Some(name),
        };
    }
    id.split(' ').next() == Some(name)
}

/// The guest profile as one `Cargo.toml` section, for crates built with a
/// plain `cargo build --release` (what `zapwasm init` writes).
pub fn release_profile_toml() -> String {
    let mut out = String::from("[profile.release]\n");
    let mut packages = String::new();
    for (key, value) in GUEST_PROFILE {
        let key = key.trim_start_matches("profile.release.");
        match key.strip_prefix("package.") {
            Some(rest) => {
                let (package, setting) = rest.split_once('.').unwrap_or((rest, ""));
                packages.push_str(&format!("\n[profile.release.package.{package}]\n{setting} = {value}\n"));
            }
            None => out.push_str(&format!("{key} = {value}\n")),
        }
    }
    out + &packages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_ids_of_every_cargo_format_name_their_package() {
        assert!(package_matches("path+file:///src/zapwasm/examples/crm#0.1.0", "crm"));
        assert!(package_matches("path+file:///src/zapwasm/tests/guests/auth-basic#auth_basic@0.1.0", "auth_basic"));
        assert!(!package_matches("path+file:///src/zapwasm/tests/guests/auth-basic#auth_basic@0.1.0", "auth-basic"));
        assert!(package_matches("crm 0.1.0 (path+file:///src/zapwasm/examples/crm)", "crm"));
        assert!(!package_matches("path+file:///src/zapwasm/examples/crm#0.1.0", "cr"));
    }

    #[test]
    fn the_release_profile_section_has_every_setting() {
        let toml = release_profile_toml();
        let table: toml::Table = toml.parse().expect("valid TOML");
        let release = &table["profile"]["release"];
        assert_eq!(release["opt-level"].as_str(), Some("s"));
        assert_eq!(release["lto"].as_bool(), Some(true));
        assert_eq!(release["package"]["serde_json"]["opt-level"].as_integer(), Some(3));
    }

    #[test]
    fn a_directory_without_a_crate_is_refused_before_cargo_runs() {
        let dir = tempfile::tempdir().unwrap();
        let error = build(&Options::new(dir.path())).unwrap_err();
        assert!(matches!(error, BuildError::NotACrate { .. }), "{error}");
        std::fs::write(dir.path().join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
        let error = build(&Options::new(dir.path())).unwrap_err();
        assert!(error.to_string().contains("workspace without a package"), "{error}");
        std::fs::write(dir.path().join("Cargo.toml"), "[package\n").unwrap();
        assert!(build(&Options::new(dir.path())).unwrap_err().to_string().contains("not valid TOML"));
    }
}
