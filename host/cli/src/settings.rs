//! `zapwasm.toml`: an integration's egress settings and limits, kept next
//! to it so every `invoke` and `describe` of it runs with them. The file
//! is read from the crate directory given as the component, or from the
//! directory of the `.wasm` file (`--config FILE` names another one); the
//! flags override it. A bad file is refused with its path and the key.
//!
//! ```toml
//! [egress]
//! allow_loopback = true                  # --allow-loopback (plain http to loopback too)
//! allow_private = false                  # --allow-private
//! allow_http = false                     # --allow-http
//! allow_hosts = ["https://api.example.com", "https://*.example.org"]  # --allow-host
//!
//! [limits]
//! timeout = 30                           # seconds, --timeout
//! memory_mb = 128                        # --memory-mb
//! host_memory_mb = 64                    # --host-memory-mb
//! max_requests = 200                     # --max-requests
//! max_concurrent_requests = 10           # --max-concurrent-requests
//! max_response_bytes = 52428800          # --max-response-bytes
//! max_request_bytes = 52428800           # --max-request-bytes
//! max_result_bytes = 6291456             # --max-result-bytes
//! max_log_bytes = 1048576                # --max-log-bytes
//! max_stash_bytes = 150000000            # --max-stash-bytes
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::args::HostArgs;
use crate::config;

/// The file's name.
pub(crate) const FILE_NAME: &str = "zapwasm.toml";

/// What `zapwasm.toml` holds; every key may be left out.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Settings {
    #[serde(default)]
    egress: Egress,
    #[serde(default)]
    limits: Limits,
}

/// `[egress]`: what integrations may reach.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Egress {
    allow_loopback: Option<bool>,
    allow_private: Option<bool>,
    allow_http: Option<bool>,
    allow_hosts: Option<Vec<String>>,
}

/// `[limits]`: the limits of each call, in the flags' units.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Limits {
    timeout: Option<f64>,
    memory_mb: Option<u64>,
    host_memory_mb: Option<u64>,
    max_requests: Option<u32>,
    max_concurrent_requests: Option<u32>,
    max_response_bytes: Option<u64>,
    max_request_bytes: Option<u64>,
    max_result_bytes: Option<u64>,
    max_log_bytes: Option<u64>,
    max_stash_bytes: Option<u64>,
}

/// The settings file for `component` (a `.wasm` file or a crate
/// directory): `--config` when given (it must exist), else `zapwasm.toml`
/// beside the component, when there is one.
pub(crate) fn find(args: &HostArgs, component: &Path) -> Option<PathBuf> {
    if let Some(path) = &args.config {
        return Some(path.clone());
    }
    let dir = if component.is_dir() { Some(component) } else { component.parent() };
    let dir = dir.map(|d| if d.as_os_str().is_empty() { Path::new(".") } else { d })?;
    Some(dir.join(FILE_NAME)).filter(|path| path.is_file())
}

/// Reads a settings file; the error names the file, and the key and line
/// of a bad value.
pub(crate) fn read(path: &Path) -> Result<Settings, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn parse(text: &str) -> Result<Settings, String> {
    let settings: Settings = toml::from_str(text).map_err(|e| e.to_string().trim_end().replace('\n', " "))?;
    // Each value against its flag's range, named by its key.
    let alone = settings.apply(&HostArgs::default());
    config::policy(&alone).map_err(|message| {
        let flag = message.split_whitespace().next().unwrap_or_default();
        match key_of(flag) {
            Some(key) => format!("{key}{}", &message[flag.len()..]),
            // The one other refusal: a host pattern.
            None => format!("egress.allow_hosts: {message}"),
        }
    })?;
    Ok(settings)
}

/// The key of a flag's setting in the file (`--memory-mb` is `limits.memory_mb`).
fn key_of(flag: &str) -> Option<String> {
    let name = flag.strip_prefix("--")?.replace('-', "_");
    match name.as_str() {
        "allow_loopback" | "allow_private" | "allow_http" => Some(format!("egress.{name}")),
        "allow_host" => Some("egress.allow_hosts".into()),
        _ => Some(format!("limits.{name}")),
    }
}

impl Settings {
    /// The flags with these settings under them: a flag given wins; a
    /// switch is on when the flag or the file turns it on; `--allow-host`
    /// replaces the file's `allow_hosts`.
    pub(crate) fn apply(&self, args: &HostArgs) -> HostArgs {
        let mut merged = args.clone();
        let (egress, limits) = (&self.egress, &self.limits);
        merged.allow_loopback |= egress.allow_loopback.unwrap_or(false);
        merged.allow_private |= egress.allow_private.unwrap_or(false);
        merged.allow_http |= egress.allow_http.unwrap_or(false);
        if merged.allow_host.is_empty() {
            merged.allow_host = egress.allow_hosts.clone().unwrap_or_default();
        }
        merged.timeout = merged.timeout.or(limits.timeout);
        merged.memory_mb = merged.memory_mb.or(limits.memory_mb);
        merged.host_memory_mb = merged.host_memory_mb.or(limits.host_memory_mb);
        merged.max_requests = merged.max_requests.or(limits.max_requests);
        merged.max_concurrent_requests = merged.max_concurrent_requests.or(limits.max_concurrent_requests);
        merged.max_response_bytes = merged.max_response_bytes.or(limits.max_response_bytes);
        merged.max_request_bytes = merged.max_request_bytes.or(limits.max_request_bytes);
        merged.max_result_bytes = merged.max_result_bytes.or(limits.max_result_bytes);
        merged.max_log_bytes = merged.max_log_bytes.or(limits.max_log_bytes);
        merged.max_stash_bytes = merged.max_stash_bytes.or(limits.max_stash_bytes);
        merged
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_file_sets_the_policy_and_flags_override_it() {
        let settings = parse(
            "[egress]\nallow_loopback = true\nallow_hosts = [\"https://api.example.com\"]\n\
             [limits]\ntimeout = 5\nmemory_mb = 64\n",
        )
        .unwrap();
        let policy = config::policy(&settings.apply(&HostArgs::default())).unwrap();
        assert!(policy.allow_loopback && policy.allow_http, "loopback opens plain http too, as the flag does");
        assert_eq!(policy.allowed_hosts.len(), 1);
        assert_eq!((policy.limits.timeout, policy.limits.memory_bytes), (Duration::from_secs(5), 64 << 20));
        let flags =
            HostArgs { timeout: Some(2.0), allow_host: vec!["https://other.test".into()], ..HostArgs::default() };
        let policy = config::policy(&settings.apply(&flags)).unwrap();
        assert_eq!(policy.limits.timeout, Duration::from_secs(2), "the flag wins");
        assert_eq!(policy.limits.memory_bytes, 64 << 20, "what the flags leave alone stays the file's");
        assert!(format!("{:?}", policy.allowed_hosts[0]).contains("other.test"), "--allow-host replaces the list");
    }

    #[test]
    fn a_bad_file_is_refused_naming_the_key() {
        let error = parse("[limits]\nmemory_mb = 0\n").unwrap_err();
        assert!(error.starts_with("limits.memory_mb must be between 1 and 4096"), "{error}");
        let error = parse("[limits]\ntimeout = 100000\n").unwrap_err();
        assert!(error.starts_with("limits.timeout must be"), "{error}");
        let error = parse("[egress]\nallow_hosts = [\"ftp://x\"]\n").unwrap_err();
        assert!(error.starts_with("egress.allow_hosts: "), "{error}");
        let error = parse("[egress]\nallow_loopbak = true\n").unwrap_err();
        assert!(error.contains("allow_loopbak") && error.contains("allow_loopback"), "{error}");
        let error = parse("[limits]\nmemory_mb = \"big\"\n").unwrap_err();
        assert!(error.contains("memory_mb") && error.contains("line 2"), "{error}");
        let error = parse("[egres]\n").unwrap_err();
        assert!(error.contains("egres"), "{error}");
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;
    use crate::fuzzing;

    /// What settings files are made of, for the mutations.
    const TOKENS: &[&str] = &[
        "[egress]\n",
        "[limits]\n",
        "allow_loopback = true\n",
        "allow_hosts = [\"",
        "timeout = ",
        "memory_mb = ",
        "1e300",
        "-1",
        "18446744073709551616",
        "nan",
        "inf",
        "\"",
        "=",
    ];

    /// A `zapwasm.toml` a user writes: read or refused with a message,
    /// never a panic; one that is read gives a policy, with the limits it
    /// asked for.
    #[test]
    fn settings_files_are_read_or_refused() {
        fuzzing::fuzz_text("settings", TOKENS, |text| {
            let Ok(settings) = parse(text) else { return Ok(()) };
            let args = settings.apply(&HostArgs::default());
            let policy = config::policy(&args).map_err(TestCaseError::fail)?;
            if let Some(mb) = settings.limits.memory_mb {
                prop_assert_eq!(policy.limits.memory_bytes, mb << 20);
            }
            prop_assert_eq!(policy.allow_loopback, settings.egress.allow_loopback == Some(true));
            Ok(())
        });
    }
}
