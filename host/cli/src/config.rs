//! From parsed arguments to what a command runs with: the bundle, the
//! environment, the method path and the host.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use zapwasm_host::{Bundle, Definition, Host, HostPattern, LocalStash, OperationKind, Policy, Scope, Stores};
use zapwasm_state_sqlite::SqliteState;

use crate::args::{HostArgs, InvokeArgs};
use crate::dotenv;

/// What `zapwasm invoke` runs.
pub struct InvokeConfig {
    pub bundle: Bundle,
    pub env: Vec<(String, String)>,
    pub secret_env: Vec<String>,
    /// The authData keys given with --auth (so `auth start` does not ask for them).
    pub auth_given: Vec<String>,
    /// The .env file read (or to write): --env-file, else `.env`.
    pub env_file: PathBuf,
}

impl InvokeConfig {
    pub fn from_args(args: &InvokeArgs) -> Result<InvokeConfig, String> {
        let dotenv = read_dotenv(args.env_file.as_deref())?;
        let mut bundle = Bundle { auth_data: dotenv.auth_data, ..Bundle::default() };
        let mut auth_given = Vec::new();
        if let Some(auth) = &args.auth {
            let given = object("--auth", auth)?;
            auth_given = given.keys().cloned().collect();
            bundle.auth_data.extend(given);
        }
        if let Some(input) = &args.input {
            bundle.input_data = object("--input", input)?;
            bundle.input_data_raw = bundle.input_data.clone();
        }
        let meta = &mut bundle.meta;
        meta.is_loading_sample = args.is_loading_sample;
        meta.is_filling_dynamic_dropdown = args.is_filling_dynamic_dropdown;
        meta.is_populating_dedupe = args.is_populating_dedupe;
        if let Some(limit) = args.limit {
            if !(limit == -1 || (0..=1_000_000_000).contains(&limit)) {
                return Err(format!("--limit must be -1 (no limit) or between 0 and 1000000000, got {limit}"));
            }
            meta.limit = limit;
        }
        if let Some(page) = args.page {
            in_range("--page", page)?;
            meta.page = page;
        }
        in_range("--auth-timeout", args.auth_timeout)?;
        meta.paging_token = args.paging_token.clone();
        meta.timezone = args.timezone.clone();
        if !args.meta.is_empty() {
            let mut meta_json = serde_json::to_value(&bundle.meta).map_err(|e| e.to_string())?;
            for pair in &args.meta {
                let (key, value) = split_pair("--meta", pair)?;
                // `limit=10` is a number, `isLoadingSample=true` a boolean.
                let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_string()));
                meta_json[key] = value;
            }
            bundle.meta = serde_json::from_value(meta_json).map_err(|e| format!("--meta: {e}"))?;
        }
        bundle.subscribe_data = args.subscribe_data.as_deref().map(|v| json("--subscribe-data", v)).transpose()?;
        bundle.output_data = args.output_data.as_deref().map(|v| json("--output-data", v)).transpose()?;
        bundle.cleaned_request = args.cleaned_request.as_deref().map(|v| json("--cleaned-request", v)).transpose()?;
        bundle.raw_request = args.raw_request.as_deref().map(|v| json("--raw-request", v)).transpose()?;
        bundle.target_url = args.target_url.clone();

        let mut env = dotenv.env;
        for pair in &args.env {
            let (key, value) = split_pair("--env", pair)?;
            env.retain(|(k, _)| k != key);
            env.push((key.to_string(), value.to_string()));
        }
        let env_file = args.env_file.clone().unwrap_or_else(|| PathBuf::from(".env"));
        Ok(InvokeConfig { bundle, env, secret_env: args.secret_env.clone(), auth_given, env_file })
    }
}

/// Why the method words name nothing to run.
#[derive(Debug, PartialEq)]
pub enum MethodError {
    /// The words cannot be read: a usage error (exit 2).
    Usage(String),
    /// They name no method this integration can run, whatever the
    /// spelling (a short form or a path): exit 20, as a call's
    /// `no_such_method`.
    NoSuchMethod(String),
}

impl From<String> for MethodError {
    fn from(message: String) -> MethodError {
        MethodError::Usage(message)
    }
}

/// Whether a method path is middleware (`beforeRequest.N`,
/// `afterResponse.N`): it runs inside z.request, never on its own.
pub fn is_middleware(path: &str) -> bool {
    ["beforeRequest", "afterResponse"]
        .iter()
        .any(|list| path.strip_prefix(list).is_some_and(|rest| rest.starts_with('.')))
}

/// The methods a user can invoke: every method but middleware.
pub fn invocable_methods(definition: &Definition) -> Vec<&str> {
    definition.methods().iter().map(String::as_str).filter(|path| !is_middleware(path)).collect()
}

/// The method path the words name: a path as is, or a short form; either
/// spelling of a method the integration lacks is `NoSuchMethod`.
pub fn method_path(words: &[String], definition: &Definition, bundle: &Bundle) -> Result<String, MethodError> {
    let path = short_or_path(words, definition, bundle)?;
    if is_middleware(&path) {
        let list = path.split('.').next().unwrap_or_default();
        let when = if list == "beforeRequest" { "before each request is sent" } else { "after each response arrives" };
        return Err(MethodError::NoSuchMethod(format!(
            "{path} is middleware ({list}): it runs inside z.request, {when}, for every request an operation makes, \
             so it cannot be invoked on its own; invoke an operation that makes requests (`zapwasm describe` lists them)"
        )));
    }
    if !definition.has_method(&path) {
        return Err(MethodError::NoSuchMethod(format!(
            "the integration has no method at {path}; it offers: {}",
            invocable_methods(definition).join(", ")
        )));
    }
    Ok(path)
}

fn short_or_path(words: &[String], definition: &Definition, bundle: &Bundle) -> Result<String, MethodError> {
    let kind = |word: &str| match word {
        "trigger" | "triggers" => Some(OperationKind::Trigger),
        "search" | "searches" => Some(OperationKind::Search),
        "create" | "creates" => Some(OperationKind::Create),
        _ => None,
    };
    match words {
        [path] if path.contains('.') => Ok(path.clone()),
        [auth, what] if auth == "auth" => match what.as_str() {
            "test" | "label" => Ok("authentication.test".into()),
            other => Err(MethodError::Usage(format!(
                "unknown auth command {other:?}: use `auth start`, `auth test`, `auth label` or `auth refresh`"
            ))),
        },
        [word, key] if kind(word).is_some() => {
            let kind = kind(word).unwrap_or(OperationKind::Trigger);
            let Some(op) = definition.operation(kind, key) else {
                let keys: Vec<String> =
                    definition.operations().into_iter().filter(|o| o.kind == kind).map(|o| o.key).collect();
                return Err(MethodError::NoSuchMethod(format!(
                    "no {} {key:?} in this integration; it has: {}",
                    match kind {
                        OperationKind::Search => "search",
                        OperationKind::Create => "create",
                        _ => "trigger",
                    },
                    keys.join(", ")
                )));
            };
            let hook = op.trigger_type.as_deref() == Some("hook");
            let method = if hook && bundle.cleaned_request.is_none() && op.methods.iter().any(|m| m == "performList") {
                "performList"
            } else {
                "perform"
            };
            Ok(format!("{}.{key}.operation.{method}", kind.plural()))
        }
        _ => Err(MethodError::Usage(format!(
            "cannot read the method {:?}: give a method path (triggers.KEY.operation.perform) or `trigger KEY`, `search KEY`, `create KEY`, `auth test`",
            words.join(" ")
        ))),
    }
}

/// Build the host the command runs on: the flags over the settings file
/// of `component` (`zapwasm.toml`, see `settings`).
pub fn build_host(args: &HostArgs, component: &Path) -> Result<Host, String> {
    let merged;
    let args = match crate::settings::find(args, component) {
        Some(path) => {
            merged = crate::settings::read(&path)?.apply(args);
            &merged
        }
        None => args,
    };
    let mut builder = Host::builder().policy(policy(args)?);
    if !args.no_cache
        && let Some(dir) = args.cache_dir.clone().or_else(default_cache_dir)
    {
        builder = builder.cache_dir(dir);
    }
    let default_stash =
        if args.no_state { std::env::temp_dir().join("zapwasm-stash") } else { args.state_dir.join("stash") };
    let stash_dir = args.stash_dir.clone().unwrap_or(default_stash);
    let stash_base = match &args.stash_base_url {
        Some(base) => base.clone(),
        None => url::Url::from_directory_path(std::path::absolute(&stash_dir).map_err(|e| e.to_string())?)
            .map_err(|_| format!("--stash-dir {} cannot be a file:// URL", stash_dir.display()))?
            .to_string(),
    };
    let stash = Arc::new(LocalStash::new(stash_dir, stash_base));
    let stores = if args.no_state {
        Stores::memory().stash(stash)
    } else {
        std::fs::create_dir_all(&args.state_dir)
            .map_err(|e| format!("--state-dir {}: cannot create it: {e}", args.state_dir.display()))?;
        let path = args.state_dir.join("state.sqlite3");
        let state = SqliteState::open(&path).map_err(|e| format!("--state-dir {}: {e}", args.state_dir.display()))?;
        Stores::of(Arc::new(state), stash)
    };
    builder = builder.stores(stores);
    if let Some(url) = &args.callback_base_url {
        builder = builder.callback_base_url(url.clone());
    }
    if let Some(url) = &args.hook_base_url {
        builder = builder.hook_base_url(url.clone());
    }
    builder.build().map_err(|e| e.to_string())
}

/// The policy the flags ask for: the defaults, with each flag given applied.
pub fn policy(args: &HostArgs) -> Result<Policy, String> {
    let allowed_hosts = args.allow_host.iter().map(|p| p.parse::<HostPattern>()).collect::<Result<Vec<_>, _>>()?;
    let mut policy = Policy {
        allow_loopback: args.allow_loopback,
        allow_private: args.allow_private,
        allow_http: args.allow_http || args.allow_loopback,
        allowed_hosts,
        ..Policy::default()
    };
    let limits = &mut policy.limits;
    if let Some(secs) = args.timeout {
        // Checked before the conversion: a number of seconds too large for
        // a Duration (found by fuzzing: `--timeout 1e300` panicked), or
        // large enough to overflow a deadline, is refused like any other.
        if !(secs > 0.0 && secs <= MAX_TIMEOUT_SECS as f64) {
            return Err(format!(
                "--timeout must be a number of seconds above 0 and at most {MAX_TIMEOUT_SECS} (a day), got {secs}"
            ));
        }
        limits.timeout = Duration::try_from_secs_f64(secs)
            .ok()
            .filter(|timeout| !timeout.is_zero())
            .ok_or_else(|| format!("--timeout must be a positive number of seconds, got {secs}"))?;
    }
    // Every other number, against its range (`LIMIT_FLAGS`); MiB are
    // multiplied only once in range, so nothing wraps (found by fuzzing:
    // `--memory-mb 17592186044417` became a 1 MiB limit).
    let checked = |flag: &str, value: Option<u64>| value.map(|v| in_range(flag, v).map(|()| v)).transpose();
    if let Some(mb) = checked("--memory-mb", args.memory_mb)? {
        limits.memory_bytes = mb << 20;
    }
    if let Some(mb) = checked("--host-memory-mb", args.host_memory_mb)? {
        limits.host_memory_bytes = mb << 20;
    }
    for (flag, value, slot) in [
        ("--max-response-bytes", args.max_response_bytes, &mut limits.response_body_bytes),
        ("--max-request-bytes", args.max_request_bytes, &mut limits.request_body_bytes),
        ("--max-result-bytes", args.max_result_bytes, &mut limits.result_bytes),
        ("--max-log-bytes", args.max_log_bytes, &mut limits.log_bytes),
        ("--max-stash-bytes", args.max_stash_bytes, &mut limits.stash_bytes),
    ] {
        if let Some(value) = checked(flag, value)? {
            *slot = value;
        }
    }
    // In range means it fits: the ranges of both are within u32.
    if let Some(n) = checked("--max-requests", args.max_requests.map(u64::from))? {
        limits.max_requests = n as u32;
    }
    if let Some(n) = checked("--max-concurrent-requests", args.max_concurrent_requests.map(u64::from))? {
        limits.max_concurrent_requests = n as u32;
    }
    Ok(policy)
}

/// The longest `--timeout` and `--auth-timeout`, in seconds: a day. No
/// call or browser round trip needs more, and it keeps deadlines far from
/// overflowing.
const MAX_TIMEOUT_SECS: u64 = 24 * 60 * 60;

/// Each numeric flag, with the least and the most it takes and why the
/// most: a clear error instead of a limit that cannot be met, a wrapped
/// multiplication or a panic further in.
const LIMIT_FLAGS: &[(&str, u64, u64, &str)] = &[
    ("--memory-mb", 1, 4096, "MiB; a WebAssembly memory holds at most 4 GiB"),
    ("--host-memory-mb", 1, 65536, "MiB"),
    ("--max-requests", 1, 1_000_000, "requests"),
    ("--max-concurrent-requests", 1, 1000, "requests in flight"),
    ("--max-response-bytes", 1, 4 << 30, "bytes; a body goes into guest memory, at most 4 GiB"),
    ("--max-request-bytes", 1, 4 << 30, "bytes; a body comes out of guest memory, at most 4 GiB"),
    ("--max-result-bytes", 1, 4 << 30, "bytes; a result comes out of guest memory, at most 4 GiB"),
    ("--max-log-bytes", 1, 1 << 30, "bytes"),
    ("--max-stash-bytes", 1, 1 << 40, "bytes"),
    ("--auth-timeout", 1, MAX_TIMEOUT_SECS, "seconds"),
    ("--page", 0, 1_000_000_000, "pages"),
];

/// Whether a numeric flag's value is in its range (`LIMIT_FLAGS`).
fn in_range(flag: &str, value: u64) -> Result<(), String> {
    let Some((_, least, most, unit)) = LIMIT_FLAGS.iter().find(|(name, ..)| *name == flag) else {
        return Ok(());
    };
    if (*least..=*most).contains(&value) {
        Ok(())
    } else {
        Err(format!("{flag} must be between {least} and {most} ({unit}), got {value}"))
    }
}

pub(crate) fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("zapwasm"))
}

fn read_dotenv(path: Option<&Path>) -> Result<dotenv::DotEnv, String> {
    let (path, required) = match path {
        Some(p) => (p.to_path_buf(), true),
        None => (PathBuf::from(".env"), false),
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => dotenv::parse(&text).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => Ok(dotenv::DotEnv::default()),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// A JSON argument: inline, `@file`, or `@-` for stdin.
fn json(flag: &str, value: &str) -> Result<Value, String> {
    let text = text_argument(flag, value)?;
    serde_json::from_str(&text).map_err(|e| format!("{flag}: not valid JSON ({e})"))
}

/// A text argument: inline, `@file`, or `@-` for stdin.
pub(crate) fn text_argument(flag: &str, value: &str) -> Result<String, String> {
    match value.strip_prefix('@') {
        Some("-") => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| format!("{flag}: cannot read stdin: {e}"))?;
            Ok(text)
        }
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("{flag}: cannot read {path}: {e}")),
        None => Ok(value.to_string()),
    }
}

fn object(flag: &str, value: &str) -> Result<Map<String, Value>, String> {
    match json(flag, value)? {
        Value::Object(map) => Ok(map),
        other => Err(format!("{flag}: expected a JSON object, got {}", zapwasm_rules::text::type_name(&other))),
    }
}

fn split_pair<'a>(flag: &str, pair: &'a str) -> Result<(&'a str, &'a str), String> {
    pair.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("{flag}: expected KEY=VALUE, got {pair:?}"))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::args::{Cli, Command};

    /// The host settings of `zapwasm invoke app.wasm auth test <flags>`.
    fn policy_of(flags: &[&str]) -> Result<Policy, String> {
        let argv = ["zapwasm", "invoke", "app.wasm", "auth", "test"].into_iter().chain(flags.iter().copied());
        match Cli::try_parse_from(argv).map_err(|e| e.to_string())?.command {
            Command::Invoke(args) => policy(&args.host),
            Command::Describe(args) => policy(&args.host),
            Command::Serve(_) => Err("not invoke".into()),
            _ => Err("not invoke".into()),
        }
    }

    /// Found by fuzzing (`fuzz::invoke_flags_are_read_or_refused`): a
    /// timeout too long for a Duration panicked, and a memory limit whose
    /// bytes overflow wrapped around to a small one.
    #[test]
    fn limits_too_large_are_refused() {
        assert!(policy_of(&["--timeout=1e300"]).unwrap_err().contains("--timeout"));
        assert!(policy_of(&["--timeout=0.0000000001"]).unwrap_err().contains("--timeout"));
        assert_eq!(policy_of(&["--timeout=0.5"]).unwrap().limits.timeout, Duration::from_millis(500));
        assert!(policy_of(&["--memory-mb=17592186044417"]).unwrap_err().contains("--memory-mb must be between"));
        assert!(policy_of(&["--memory-mb=17592186044416"]).unwrap_err().contains("--memory-mb must be between"));
        assert_eq!(policy_of(&["--memory-mb=64"]).unwrap().limits.memory_bytes, 64 << 20);
    }

    /// Every numeric flag refuses what is out of its range with a message
    /// naming the flag and the range, and takes what is in it.
    #[test]
    fn every_numeric_flag_is_range_checked() {
        for (flag, bad) in [
            ("--timeout", "0"),
            ("--timeout", "-1"),
            ("--timeout", "NaN"),
            ("--timeout", "inf"),
            ("--timeout", "86401"),
            ("--timeout", "1e18"),
            ("--memory-mb", "0"),
            ("--memory-mb", "4097"),
            ("--memory-mb", "18446744073709551615"),
            ("--host-memory-mb", "0"),
            ("--host-memory-mb", "17592186044416"),
            ("--max-requests", "0"),
            ("--max-requests", "4294967295"),
            ("--max-concurrent-requests", "0"),
            ("--max-concurrent-requests", "4294967295"),
            ("--max-response-bytes", "0"),
            ("--max-response-bytes", "18446744073709551615"),
            ("--max-request-bytes", "0"),
            ("--max-request-bytes", "4294967297"),
            ("--max-result-bytes", "0"),
            ("--max-result-bytes", "4294967297"),
            ("--max-log-bytes", "0"),
            ("--max-log-bytes", "1073741825"),
            ("--max-stash-bytes", "0"),
            ("--max-stash-bytes", "18446744073709551615"),
        ] {
            let error = policy_of(&[&format!("{flag}={bad}")]).unwrap_err();
            assert!(error.contains(flag) && error.contains("must be"), "{flag}={bad}: {error}");
        }
        let policy = policy_of(&[
            "--timeout=86400",
            "--memory-mb=4096",
            "--host-memory-mb=1",
            "--max-requests=1000000",
            "--max-concurrent-requests=1000",
            "--max-response-bytes=4294967296",
            "--max-log-bytes=1",
        ])
        .unwrap();
        assert_eq!(policy.limits.timeout, Duration::from_secs(86400));
        assert_eq!(policy.limits.memory_bytes, 4 << 30);
        assert_eq!(policy.limits.host_memory_bytes, 1 << 20);
        assert_eq!((policy.limits.max_requests, policy.limits.max_concurrent_requests), (1_000_000, 1000));
        assert_eq!(policy.limits.response_body_bytes, 4 << 30);
    }

    /// The bundle's and `auth start`'s numbers too.
    #[test]
    fn invoke_numbers_are_range_checked() {
        let config = |flags: &[&str]| {
            let argv = ["zapwasm", "invoke", "app.wasm", "auth", "test", "--env-file=/dev/null"];
            match Cli::try_parse_from(argv.into_iter().chain(flags.iter().copied())).map_err(|e| e.to_string())?.command
            {
                Command::Invoke(args) => InvokeConfig::from_args(&args).map(|_| ()),
                _ => Err("not invoke".into()),
            }
        };
        for bad in [
            "--limit=-2",
            "--limit=9223372036854775807",
            "--page=1000000001",
            "--auth-timeout=0",
            "--auth-timeout=86401",
        ] {
            let error = config(&[bad]).unwrap_err();
            let flag = bad.split('=').next().unwrap();
            assert!(error.contains(flag) && error.contains("must be"), "{bad}: {error}");
        }
        assert!(config(&["--limit=-1", "--page=3", "--auth-timeout=600"]).is_ok());
    }
}

#[cfg(test)]
mod fuzz {
    use clap::Parser;
    use proptest::prelude::*;
    use proptest::sample::select;

    use super::*;
    use crate::args::{Cli, Command};
    use crate::fuzzing::{self, Input};

    /// The flags whose values the user types and `config` reads.
    const FLAGS: &[&str] = &[
        "--input",
        "--auth",
        "--meta",
        "--env",
        "--secret-env",
        "--limit",
        "--page",
        "--paging-token",
        "--timezone",
        "--subscribe-data",
        "--target-url",
        "--output-data",
        "--cleaned-request",
        "--raw-request",
        "--allow-host",
        "--timeout",
        "--memory-mb",
        "--max-requests",
        "--max-concurrent-requests",
        "--max-response-bytes",
        "--max-log-bytes",
    ];

    /// What flag values are made of, for the mutations.
    const TOKENS: &[&str] =
        &["{\"a\":", "limit=", "isLoadingSample=", "page=-1", "1e300", "17592186044417", "0.0000000001"];

    /// The words naming the method.
    const WORDS: &[&str] = &[
        "auth",
        "test",
        "label",
        "start",
        "trigger",
        "search",
        "create",
        "new_contact",
        "hook",
        "find",
        "triggers.x.y",
    ];

    /// The definition `method_path` reads short forms against.
    const DEFINITION: &str = r#"{
        "triggers": {
            "new_contact": {"operation": {"type": "polling", "perform": {"$func": "triggers.new_contact.operation.perform"}}},
            "hook": {"operation": {"type": "hook", "perform": {"$func": "triggers.hook.operation.perform"},
                "performList": {"$func": "triggers.hook.operation.performList"}}}
        },
        "searches": {"find": {"operation": {"perform": {"url": "https://api.test/find"}}}}
    }"#;

    /// Runs `zapwasm invoke` as far as `config` takes it, with these flags
    /// and method words: the bundle, the environment, the method path and
    /// the policy are made or refused, never a panic, and the limits are
    /// the ones asked for.
    fn check(flags: &[(&str, String)], words: &[String], definition: &Definition) -> Result<(), TestCaseError> {
        let env_file = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz-corpus/dotenv/crm.env");
        let mut argv = vec!["zapwasm".to_string(), "invoke".into(), format!("--env-file={env_file}")];
        // A value starting with `@` reads a file or stdin: inline values only.
        argv.extend(flags.iter().map(|(flag, value)| format!("{flag}={}", value.trim_start_matches('@'))));
        argv.extend(["--".to_string(), "app.wasm".to_string()]);
        argv.extend(words.iter().cloned());
        let Ok(cli) = Cli::try_parse_from(&argv) else {
            return Ok(());
        };
        let Command::Invoke(args) = cli.command else {
            return Err(TestCaseError::fail("not invoke"));
        };
        if let Ok(config) = InvokeConfig::from_args(&args) {
            let _ = method_path(&args.method, definition, &config.bundle);
        }
        if let Ok(policy) = policy(&args.host) {
            if let Some(mb) = args.host.memory_mb {
                prop_assert!((1..=4096).contains(&mb));
                prop_assert_eq!(policy.limits.memory_bytes, mb << 20);
            }
            if let Some(secs) = args.host.timeout {
                prop_assert!(secs > 0.0 && secs <= 86400.0);
                prop_assert_eq!(Some(policy.limits.timeout), Duration::try_from_secs_f64(secs).ok());
            }
        }
        Ok(())
    }

    /// One run of the command: flags with their values, and the method's words.
    type Case = (Vec<(&'static str, Input)>, Vec<String>);

    /// Flag values as a user types them (`--input`, `--meta`, `--timeout`,
    /// ...): read or refused with a message, never a panic.
    #[test]
    fn invoke_flags_are_read_or_refused() {
        let definition = Definition::parse(DEFINITION).expect("the test definition");
        let seeds = fuzzing::corpus("config");
        // Each seed value under each flag, then flags and values mixed.
        let cases: Vec<Case> = seeds
            .iter()
            .flat_map(|seed| {
                FLAGS.iter().map(move |flag| (vec![(*flag, seed.clone())], vec!["auth".into(), "test".into()]))
            })
            .collect();
        let word = prop_oneof![3 => select(WORDS).prop_map(str::to_string), 1 => any::<String>()];
        let flags = proptest::collection::vec((select(FLAGS), fuzzing::inputs(&seeds, TOKENS)), 0..5);
        let strategy = (flags, proptest::collection::vec(word, 1..=2));
        fuzzing::run("config", cases, strategy, |(flags, words)| {
            let flags: Vec<(&str, String)> = flags.iter().map(|(flag, value)| (*flag, value.text())).collect();
            check(&flags, words, &definition)
        });
    }
}

/// The scope a local call runs in: `--integration` (default: the
/// component's file name, so a rebuilt component keeps its state in
/// `--state-dir`), `--account` and `--subscription`.
pub(crate) fn scope(args: &InvokeArgs) -> Scope {
    let integration = args.integration.clone().unwrap_or_else(|| {
        args.component.file_stem().map(|stem| stem.to_string_lossy().into_owned()).unwrap_or_else(|| "local".into())
    });
    let scope = Scope::new(integration, args.account.clone());
    match &args.subscription {
        Some(subscription) => scope.subscription(subscription.clone()),
        None => scope,
    }
}
