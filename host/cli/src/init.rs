//! `zapwasm init <dir>`: a new integration crate that builds as it is,
//! from one of the templates (API key, OAuth 2, session, REST hook): the
//! guest profile in its Cargo.toml, an example trigger and create, a
//! native test, a README.
//!
//! The templates are files under `host/cli/templates/`, compiled in; their
//! placeholders are `__WORD__` (the integration's own `{{curlies}}` pass
//! through untouched).

use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use crate::args::{InitArgs, SdkSource, Template};
use crate::report::usage;

const CARGO_TOML: &str = include_str!("../templates/Cargo.toml.in");
const README: &str = include_str!("../templates/README.md.in");
const GITIGNORE: &str = include_str!("../templates/gitignore");
const LIB_RS: &str = include_str!("../templates/lib.rs.in");
const AUTH_API_KEY: &str = include_str!("../templates/auth/api-key.rs");
const AUTH_OAUTH2: &str = include_str!("../templates/auth/oauth2.rs");
const AUTH_SESSION: &str = include_str!("../templates/auth/session.rs");
const TRIGGER_POLLING: &str = include_str!("../templates/trigger/polling.rs");
const TRIGGER_REST_HOOK: &str = include_str!("../templates/trigger/rest-hook.rs");
const TRIGGER_POLLING_TESTS: &str = include_str!("../templates/trigger/polling-tests.rs");
const TRIGGER_REST_HOOK_TESTS: &str = include_str!("../templates/trigger/rest-hook-tests.rs");

/// Runs `zapwasm init`.
pub(crate) fn run(args: InitArgs) -> ExitCode {
    match init(&args) {
        Ok(name) => {
            let dir = args.dir.display();
            eprintln!("zapwasm: created {name} in {dir} ({} template)", args.template.name());
            eprintln!("next: cd {dir} && zapwasm build && zapwasm validate && cargo test");
            ExitCode::SUCCESS
        }
        Err(message) => usage(message),
    }
}

/// Writes the crate; its name.
fn init(args: &InitArgs) -> Result<String, String> {
    let dir = &args.dir;
    if dir.exists() && std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?.next().is_some() {
        return Err(format!("{} exists and is not empty: give a new directory", dir.display()));
    }
    let name = crate_name(dir)?;
    let absolute = std::path::absolute(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (sdk, lock) = sdk_dependency(args, &absolute)?;
    // The same source with the fake API, for `cargo test` only.
    let sdk_testing = format!("zapwasm-guest = {{ {sdk}, features = [\"testing\"] }}");
    let sdk = format!("zapwasm-guest = {{ {sdk} }}");

    let (auth, auth_summary) = match args.template {
        Template::ApiKey | Template::RestHook => (AUTH_API_KEY, "an API key (custom auth) sent as `X-API-Key`"),
        Template::OAuth2 => (AUTH_OAUTH2, "OAuth 2 with PKCE, tokens refreshed on a 401"),
        Template::Session => (AUTH_SESSION, "username and password exchanged for a session key"),
    };
    let (trigger, trigger_tests, trigger_summary) = match args.template {
        Template::RestHook => (
            TRIGGER_REST_HOOK,
            TRIGGER_REST_HOOK_TESTS,
            "a REST hook the API posts new items to, `GET /items` for samples",
        ),
        _ => (TRIGGER_POLLING, TRIGGER_POLLING_TESTS, "polls `GET /items` for new items"),
    };
    let lib = LIB_RS
        .replace("__AUTH__", auth)
        .replace("__TRIGGER__", trigger)
        .replace("__TRIGGER_TESTS__", trigger_tests)
        .replace("__AUTH_SUMMARY__", auth_summary)
        .replace("__TRIGGER_SUMMARY__", trigger_summary);
    let files = [
        (
            "Cargo.toml",
            CARGO_TOML
                .replace("__SDK__", &sdk)
                .replace("__SDK_TESTING__", &sdk_testing)
                .replace("__PROFILE__", &zapwasm_build::release_profile_toml()),
        ),
        ("README.md", README.replace("__LIB__", &name.replace('-', "_"))),
        (".gitignore", GITIGNORE.to_string()),
        ("src/lib.rs", lib),
    ];
    std::fs::create_dir_all(dir.join("src")).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for (path, text) in files {
        let text = text.replace("__NAME__", &name).replace("__TEMPLATE__", args.template.name());
        let path = dir.join(path);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    // A path SDK comes with its workspace's lock file: the crate starts
    // from the versions the SDK is tested with (and reuses their builds).
    if let Some(lock) = lock {
        std::fs::copy(&lock, dir.join("Cargo.lock")).map_err(|e| format!("cannot copy {}: {e}", lock.display()))?;
    }
    Ok(name)
}

/// The crate's name, from the directory's: lower-case letters, digits, `_`
/// and `-`, starting with a letter.
fn crate_name(dir: &Path) -> Result<String, String> {
    let base = dir.file_name().and_then(|name| name.to_str()).unwrap_or_default();
    let name: String = base
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c.to_ascii_lowercase() } else { '_' })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(format!("cannot make a crate name of {base:?}: name the directory starting with a letter"));
    }
    Ok(name)
}

/// Where zapwasm-guest comes from (`path = "..."`, `git = "..."`, `version
/// = "..."`: the inside of its dependency table), and for a path SDK the lock
/// file to start from.
fn sdk_dependency(args: &InitArgs, dir: &Path) -> Result<(String, Option<PathBuf>), String> {
    let checkout_sdk = || dir.ancestors().skip(1).map(|a| a.join("guest-sdk/rust")).find(|p| is_sdk(p));
    let source = args.sdk.unwrap_or(if checkout_sdk().is_some() { SdkSource::Path } else { SdkSource::Version });
    match source {
        SdkSource::Path => {
            let sdk = match &args.sdk_path {
                Some(path) => std::path::absolute(path).map_err(|e| format!("--sdk-path: {e}"))?,
                None => checkout_sdk().ok_or(
                    "--sdk path: the directory is not inside a zapwasm checkout; give the SDK's with --sdk-path",
                )?,
            };
            if !is_sdk(&sdk) {
                return Err(format!("--sdk-path {}: not the zapwasm-guest crate", sdk.display()));
            }
            let lock = sdk.ancestors().map(|a| a.join("Cargo.lock")).find(|lock| lock.is_file());
            let path = relative(dir, &sdk);
            let path = path.to_string_lossy().replace('\\', "/");
            Ok((format!("path = {}", toml_string(&path)), lock))
        }
        SdkSource::Git => {
            let url = args.sdk_git.as_deref().ok_or("--sdk git needs the repository's URL: --sdk-git URL")?;
            Ok((format!("git = {}", toml_string(url)), None))
        }
        SdkSource::Version => {
            let version = args.sdk_version.clone().unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string());
            Ok((format!("version = {}", toml_string(&version)), None))
        }
    }
}

/// Whether `dir` holds the zapwasm-guest crate.
fn is_sdk(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|text| text.contains("name = \"zapwasm-guest\""))
}

/// `to` relative to `from` when they share a root (`../../guest-sdk/rust`), else `to`.
fn relative(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<Component> = from.components().collect();
    let to_parts: Vec<Component> = to.components().collect();
    let common = from.iter().zip(&to_parts).take_while(|(a, b)| a == b).count();
    // Sharing only the root (`/`), the absolute path reads better.
    if common <= 1 {
        return to.to_path_buf();
    }
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for part in &to_parts[common..] {
        out.push(part.as_os_str());
    }
    out
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    let escaped: String = text
        .chars()
        .flat_map(|c| match c {
            '"' => vec!['\\', '"'],
            '\\' => vec!['\\', '\\'],
            c => vec![c],
        })
        .collect();
    format!("\"{escaped}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crate_names_come_from_the_directory() {
        assert_eq!(crate_name(Path::new("/x/My App")).unwrap(), "my_app");
        assert_eq!(crate_name(Path::new("crm-sync")).unwrap(), "crm-sync");
        assert!(crate_name(Path::new("/x/1password")).is_err());
    }

    #[test]
    fn paths_are_relative_when_they_share_a_root() {
        assert_eq!(relative(Path::new("/r/apps/a"), Path::new("/r/guest-sdk/rust")), Path::new("../../guest-sdk/rust"));
        assert_eq!(toml_string(r#"a"b\c"#), r#""a\"b\\c""#);
    }

    #[test]
    fn every_template_is_written_whole() {
        let root = tempfile::tempdir().unwrap();
        for template in [Template::ApiKey, Template::OAuth2, Template::Session, Template::RestHook] {
            let dir = root.path().join(template.name());
            let args = InitArgs {
                dir: dir.clone(),
                template,
                sdk: Some(SdkSource::Version),
                sdk_path: None,
                sdk_git: None,
                sdk_version: Some("0.1".into()),
            };
            assert_eq!(init(&args).unwrap(), template.name());
            for file in ["Cargo.toml", "README.md", ".gitignore", "src/lib.rs"] {
                let text = std::fs::read_to_string(dir.join(file)).unwrap();
                assert!(!text.contains("__"), "{file} of {}: a placeholder is left", template.name());
            }
            let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
            assert!(manifest.contains(r#"zapwasm-guest = { version = "0.1" }"#), "{manifest}");
            assert!(manifest.contains(r#"zapwasm-guest = { version = "0.1", features = ["testing"] }"#), "{manifest}");
            assert!(manifest.contains("[profile.release]") && manifest.contains("[workspace]"), "{manifest}");
            assert!(init(&args).unwrap_err().contains("not empty"));
        }
        let args = InitArgs {
            dir: root.path().join("git"),
            template: Template::ApiKey,
            sdk: Some(SdkSource::Git),
            sdk_path: None,
            sdk_git: None,
            sdk_version: None,
        };
        assert!(init(&args).unwrap_err().contains("--sdk-git"));
    }
}
