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
            meta.limit = limit;
        }
        if let Some(page) = args.page {
            meta.page = page;
        }
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

/// The method path the words name: a path as is, or a short form.
pub fn method_path(words: &[String], definition: &Definition, bundle: &Bundle) -> Result<String, String> {
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
            other => Err(format!(
                "unknown auth command {other:?}: use `auth start`, `auth test`, `auth label` or `auth refresh`"
            )),
        },
        [word, key] if kind(word).is_some() => {
            let kind = kind(word).unwrap_or(OperationKind::Trigger);
            let Some(op) = definition.operation(kind, key) else {
                let keys: Vec<String> =
                    definition.operations().into_iter().filter(|o| o.kind == kind).map(|o| o.key).collect();
                return Err(format!("no {word} {key:?} in this integration; it has: {}", keys.join(", ")));
            };
            let hook = op.trigger_type.as_deref() == Some("hook");
            let method = if hook && bundle.cleaned_request.is_none() && op.methods.iter().any(|m| m == "performList") {
                "performList"
            } else {
                "perform"
            };
            Ok(format!("{}.{key}.operation.{method}", kind.plural()))
        }
        _ => Err(format!(
            "cannot read the method {:?}: give a method path (triggers.KEY.operation.perform) or `trigger KEY`, `search KEY`, `create KEY`, `auth test`",
            words.join(" ")
        )),
    }
}

/// Build the host the command runs on.
pub fn build_host(args: &HostArgs) -> Result<Host, String> {
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
        // `try_`: a number of seconds too large for a Duration (found by
        // fuzzing: `--timeout 1e300` panicked) is refused like any other.
        limits.timeout = Duration::try_from_secs_f64(secs)
            .ok()
            .filter(|timeout| !timeout.is_zero())
            .ok_or_else(|| format!("--timeout must be a positive number of seconds, got {secs}"))?;
    }
    let positive = |flag: &str, value: Option<u64>, slot: &mut u64| match value {
        Some(0) => Err(format!("{flag} must be at least 1")),
        Some(v) => {
            *slot = v;
            Ok(())
        }
        None => Ok(()),
    };
    // Checked: a shift would wrap (found by fuzzing: `--memory-mb
    // 17592186044417` became a 1 MiB limit, 2^44 "must be at least 1").
    let memory_bytes = args
        .memory_mb
        .map(|mb| mb.checked_mul(1 << 20).ok_or_else(|| format!("--memory-mb is too large: {mb} MiB")))
        .transpose()?;
    positive("--memory-mb", memory_bytes, &mut limits.memory_bytes)?;
    positive("--max-response-bytes", args.max_response_bytes, &mut limits.response_body_bytes)?;
    positive("--max-request-bytes", args.max_request_bytes, &mut limits.request_body_bytes)?;
    positive("--max-result-bytes", args.max_result_bytes, &mut limits.result_bytes)?;
    positive("--max-log-bytes", args.max_log_bytes, &mut limits.log_bytes)?;
    positive("--max-stash-bytes", args.max_stash_bytes, &mut limits.stash_bytes)?;
    let mut requests = u64::from(limits.max_requests);
    positive("--max-requests", args.max_requests.map(u64::from), &mut requests)?;
    limits.max_requests = requests as u32;
    let mut concurrent = u64::from(limits.max_concurrent_requests);
    positive("--max-concurrent-requests", args.max_concurrent_requests.map(u64::from), &mut concurrent)?;
    limits.max_concurrent_requests = concurrent as u32;
    Ok(policy)
}

fn default_cache_dir() -> Option<PathBuf> {
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
        assert!(policy_of(&["--memory-mb=17592186044417"]).unwrap_err().contains("too large"));
        assert!(policy_of(&["--memory-mb=17592186044416"]).unwrap_err().contains("too large"));
        assert_eq!(policy_of(&["--memory-mb=64"]).unwrap().limits.memory_bytes, 64 << 20);
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
                prop_assert_eq!(Some(policy.limits.memory_bytes), mb.checked_mul(1 << 20));
            }
            if let Some(secs) = args.host.timeout {
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
