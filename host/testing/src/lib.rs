//! zapwasm-testing: what `zapwasm test` runs. Test cases written as JSON
//! files run against a loaded integration, each against recorded HTTP
//! fixtures: `--record` sends the requests to the real API (through a
//! local recording proxy) and keeps every exchange with the secrets
//! censored; without it the recording is replayed offline, and a request
//! the recording lacks fails the case with a diff against the closest
//! recorded one. Results print as `N passed, N failed` and as JUnit XML.
//!
//! # Test cases
//!
//! Every `*.json` file of the cases directory (`tests/zapwasm/` in the
//! crate) is a suite:
//!
//! ```json
//! {
//!   "base_url_env": "CRM_BASE_URL",
//!   "cases": [
//!     {
//!       "name": "finds a contact by email",
//!       "method": "search find_contact",
//!       "input": {"email": "contact5@example.test"},
//!       "expect": {"count": 1, "includes": [{"id": 5}]}
//!     }
//!   ]
//! }
//! ```
//!
//! - `base_url_env`: the environment variable holding the API's base URL.
//!   Recording and replaying put the local fixture server there, so the
//!   integration must build its URLs from it (every request elsewhere is
//!   neither recorded nor, offline, answered).
//! - a case: `name` (unique in the suite), `method` (`trigger KEY`,
//!   `search KEY`, `create KEY`, `search-or-create KEY`, `auth test`, or a
//!   method path), and
//!   optionally `input`, `auth` (authData added to the `.env` file's),
//!   `meta`, `env`, `cleaned_request`, `subscribe_data`, `output_data`; the
//!   input goes through the operation's input fields as in `zapwasm invoke`.
//!   A `search-or-create KEY` case runs the search, then the create when
//!   the search found nothing ([`search_or_create`]); its result is what
//!   `zapwasm invoke ... search-or-create KEY` prints, `{"ran":
//!   "search"|"create", "search": .., "create": .., "result": ..}`.
//! - `expect` (all optional; by default the call must succeed and pass its
//!   result checks): `result` (equal), `includes` (a subset: objects by
//!   key, arrays by element, anywhere in order), `count` (the array's
//!   length), `error` (the error's kind, `"halted"`, or
//!   `{"kind": ..., "message": <a part of it>}`), `checks: false` to allow
//!   failed result checks.
//!
//! Recordings live in `recordings/<suite>/<case>.json` beside the suites.
//! Censored in them: every authData value, the values of environment
//! variables whose names say they are secret (holding `SECRET`, `TOKEN`,
//! `PASSWORD`, `KEY` or `CREDENTIAL`), and the credentials an answer hands
//! out during the case (a JSON answer's `access_token`, `refresh_token`,
//! ... or a field named as an authData key: a token refreshed mid-case is
//! censored in that answer and in the requests after it). Replayed, the
//! case's authData keys and those environment variables are all
//! [`fixtures::CENSORED`], as the recording has them, and a marker the
//! integration sent URL- or form-encoded matches the recorded one: no
//! secret is needed offline, and a refresh replays as recorded.

pub mod fixtures;
pub mod search_or_create;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::{Map, Value};
use zapwasm_host::{App, Bundle, CallError, HostBuilder, Invocation, OperationKind, Policy, Resolver, Scope};

use crate::fixtures::{CENSORED, Censor, FixtureServer, Recording};

/// Where a crate keeps its test cases.
pub const CASES_DIR: &str = "tests/zapwasm";

/// A suite: one file of test cases.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Suite {
    /// Its name: the file's stem.
    #[serde(skip)]
    pub name: String,
    /// The environment variable holding the API's base URL.
    #[serde(default)]
    pub base_url_env: Option<String>,
    /// Environment variables for every case.
    #[serde(default)]
    pub env: Map<String, Value>,
    /// The cases.
    pub cases: Vec<Case>,
}

/// One test case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Case {
    /// Its name, unique in the suite.
    pub name: String,
    /// `trigger KEY`, `search KEY`, `create KEY`, `search-or-create KEY`,
    /// `auth test`, or a method path.
    pub method: String,
    /// inputData.
    #[serde(default)]
    pub input: Map<String, Value>,
    /// authData, over the `.env` file's.
    #[serde(default)]
    pub auth: Map<String, Value>,
    /// bundle.meta values.
    #[serde(default)]
    pub meta: Map<String, Value>,
    /// Environment variables, over the suite's.
    #[serde(default)]
    pub env: Map<String, Value>,
    /// bundle.cleanedRequest.
    #[serde(default)]
    pub cleaned_request: Option<Value>,
    /// bundle.subscribeData.
    #[serde(default)]
    pub subscribe_data: Option<Value>,
    /// bundle.outputData.
    #[serde(default)]
    pub output_data: Option<Value>,
    /// What the call must give.
    #[serde(default)]
    pub expect: Expect,
}

/// What a case's call must give.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Expect {
    /// The result, equal.
    pub result: Option<Value>,
    /// A part of the result.
    pub includes: Option<Value>,
    /// The result array's length.
    pub count: Option<usize>,
    /// The error: its kind, or `{"kind", "message"}` (a part of the message).
    pub error: Option<Value>,
    /// Whether the result checks must pass (default true).
    pub checks: Option<bool>,
}

/// Why cases could not be read or run at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A suite or recording is not what it should be.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Reads every suite of `dir` (its `*.json` files, by name).
pub fn load_suites(dir: &Path) -> Result<Vec<Suite>, TestError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TestError::Io { path, source }
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    let mut suites = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(io(&file))?;
        let mut suite: Suite = serde_json::from_str(&text).map_err(|e| TestError::Invalid {
            path: file.clone(),
            message: format!("not a suite of test cases: {e}"),
        })?;
        suite.name = file.file_stem().map(|stem| stem.to_string_lossy().into_owned()).unwrap_or_default();
        let mut names = std::collections::HashSet::new();
        for case in &suite.cases {
            if !names.insert(case.name.as_str()) {
                return Err(TestError::Invalid { path: file, message: format!("two cases are named {:?}", case.name) });
            }
        }
        suites.push(suite);
    }
    Ok(suites)
}

/// Whether a run records or replays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Requests go to the real API; every exchange is recorded.
    Record,
    /// Requests are answered from the recordings, offline.
    Replay,
}

/// A host builder for test runs: loopback and plain http allowed (the
/// fixture server), and when replaying a resolver that resolves nothing, so
/// no request leaves the machine.
pub fn host_builder(mode: Mode) -> HostBuilder {
    let builder = zapwasm_host::Host::builder().policy(Policy::local_development());
    match mode {
        Mode::Record => builder,
        Mode::Replay => builder.resolver(Arc::new(Offline)),
    }
}

/// Resolves no name: replays are offline.
struct Offline;

impl Resolver for Offline {
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, std::io::Result<Vec<std::net::IpAddr>>> {
        Box::pin(async move {
            Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("zapwasm test replays offline: {host} is not the recorded base URL"),
            ))
        })
    }
}

/// What a run starts from: the app, the `.env` file's authData and
/// environment, the mode, and where recordings are.
pub struct Runner {
    /// The integration.
    pub app: App,
    /// authData from the `.env` file.
    pub auth_data: Map<String, Value>,
    /// The environment from the `.env` file.
    pub env: Vec<(String, String)>,
    /// Record or replay.
    pub mode: Mode,
    /// The cases directory (recordings are in its `recordings/`).
    pub dir: PathBuf,
}

/// How one case went.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CaseResult {
    /// The suite.
    pub suite: String,
    /// The case.
    pub name: String,
    /// Every reason it failed; none when it passed.
    pub failures: Vec<String>,
    /// How long it took.
    pub duration: Duration,
}

impl CaseResult {
    /// Whether it passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

impl Runner {
    /// Runs every case of `suites` whose name contains `filter`, in order.
    pub async fn run(&self, suites: &[Suite], filter: Option<&str>) -> Vec<CaseResult> {
        let mut results = Vec::new();
        for suite in suites {
            for case in suite.cases.iter().filter(|case| filter.is_none_or(|f| case.name.contains(f))) {
                let started = Instant::now();
                let failures = match self.run_case(suite, case).await {
                    Ok(failures) => failures,
                    Err(error) => vec![error.to_string()],
                };
                results.push(CaseResult {
                    suite: suite.name.clone(),
                    name: case.name.clone(),
                    failures,
                    duration: started.elapsed(),
                });
            }
        }
        results
    }

    /// The recording file of a case.
    pub fn recording_path(&self, suite: &Suite, case: &Case) -> PathBuf {
        self.dir.join("recordings").join(slug(&suite.name)).join(format!("{}.json", slug(&case.name)))
    }

    async fn run_case(&self, suite: &Suite, case: &Case) -> Result<Vec<String>, TestError> {
        let mut env = self.env.clone();
        for (key, value) in suite.env.iter().chain(&case.env) {
            env.retain(|(k, _)| k != key);
            env.push((key.clone(), value.as_str().map_or_else(|| value.to_string(), str::to_string)));
        }
        let env_keys = secret_env_keys(&env, suite.base_url_env.as_deref());
        let mut auth_data = self.auth_data.clone();
        auth_data.extend(case.auth.clone());
        let path = self.recording_path(suite, case);
        // authData values, and environment values whose names say they are
        // secret (`CLIENT_SECRET`, `API_TOKEN`, ...): censored in a
        // recording, and in what a replay shows of a request it lacks.
        let env_secrets: Vec<String> =
            env.iter().filter(|(key, _)| is_secret_name(key)).map(|(_, value)| value.clone()).collect();
        let censor = Censor::of_case(&auth_data, &env_secrets);
        let server = match (&suite.base_url_env, self.mode) {
            (None, _) => None,
            (Some(var), Mode::Record) => {
                let Some(upstream) = env.iter().rev().find(|(k, _)| k == var).map(|(_, v)| v.clone()) else {
                    return Ok(vec![format!("--record needs the real base URL in {var} (the .env file or `env`)")]);
                };
                let keys = auth_data.keys().cloned().collect();
                let upstream = upstream.trim_end_matches('/').to_string();
                let server = FixtureServer::record(upstream, censor, keys).await.map_err(io(&path))?;
                Some((var, server))
            }
            (Some(var), Mode::Replay) => {
                let text = match std::fs::read_to_string(&path) {
                    Ok(text) => text,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Ok(vec![format!(
                            "no recording at {}: run `zapwasm test --record` with the API's base URL in {var}",
                            path.display()
                        )]);
                    }
                    Err(e) => return Err(io(&path)(e)),
                };
                let recording: Recording = serde_json::from_str(&text)
                    .map_err(|e| TestError::Invalid { path: path.clone(), message: format!("not a recording: {e}") })?;
                // Offline the secrets are what the recording has: censored.
                for key in &recording.auth_keys {
                    auth_data.insert(key.clone(), Value::String(CENSORED.into()));
                }
                for key in &recording.env_keys {
                    env.retain(|(k, _)| k != key);
                    env.push((key.clone(), CENSORED.into()));
                }
                Some((var, FixtureServer::replay(recording, censor).await.map_err(io(&path))?))
            }
        };
        if let Some((var, server)) = &server {
            env.retain(|(k, _)| k != *var);
            env.push(((*var).clone(), server.base_url.clone()));
        }

        let app = self.app.clone().with_env(env);
        let mut bundle = Bundle { auth_data, input_data: case.input.clone(), ..Bundle::default() };
        bundle.input_data_raw = bundle.input_data.clone();
        bundle.cleaned_request = case.cleaned_request.clone();
        bundle.subscribe_data = case.subscribe_data.clone();
        bundle.output_data = case.output_data.clone();
        if !case.meta.is_empty() {
            let mut meta = serde_json::to_value(&bundle.meta).unwrap_or_default();
            for (key, value) in &case.meta {
                meta[key] = value.clone();
            }
            match serde_json::from_value(meta) {
                Ok(meta) => bundle.meta = meta,
                Err(e) => return Ok(vec![format!("meta: {e}")]),
            }
        }
        let scope = Scope::new("zapwasm-test", format!("{}/{}", suite.name, case.name));
        let mut failures = Vec::new();
        let words: Vec<&str> = case.method.split_whitespace().collect();
        let resolved = match words[..] {
            ["search-or-create", key] => Err(key),
            _ => Ok(resolve_method(&app, &case.method, &bundle)),
        };
        let outcome = match resolved {
            Err(key) => match search_or_create::run(&app, key, &bundle, &scope, true).await {
                Ok(outcome) => Some(outcome),
                Err(search_or_create::Stopped::Call(outcome)) => Some(*outcome),
                Err(search_or_create::Stopped::Invalid(message)) => {
                    failures.push(message);
                    None
                }
            },
            Ok(Err(message)) => {
                failures.push(message);
                None
            }
            Ok(Ok((method, operation))) => {
                let prepared = match operation {
                    Some((kind, key)) => {
                        app.prepare_input(kind, &key, &mut bundle, &scope).await.map_err(|e| e.to_string())
                    }
                    None => Ok(()),
                };
                match prepared {
                    Ok(()) => Some(app.invoke(Invocation::new(method, bundle, scope)).await),
                    Err(message) => {
                        failures.push(message);
                        None
                    }
                }
            }
        };

        if let Some((_, server)) = server {
            let (recording, misses, errors) = server.finish();
            failures.extend(errors);
            for miss in misses {
                failures.push(format!(
                    "{} {} is not in the recording ({}):\n{}",
                    miss.request.method,
                    miss.request.path,
                    path.display(),
                    miss.diff.trim_end()
                ));
            }
            if self.mode == Mode::Record {
                let mut recording = recording;
                recording.env_keys = env_keys;
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(io(parent))?;
                }
                let text = serde_json::to_string_pretty(&recording).unwrap_or_default() + "\n";
                std::fs::write(&path, text).map_err(io(&path))?;
            }
        }
        if let Some(outcome) = outcome {
            failures.extend(check_expectations(&case.expect, &outcome));
        }
        Ok(failures)
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> TestError + '_ {
    move |source| TestError::Io { path: path.to_path_buf(), source }
}

/// The environment variables censored as secrets, by name (the base URL's aside).
fn secret_env_keys(env: &[(String, String)], base_url_env: Option<&str>) -> Vec<String> {
    let mut keys: Vec<String> = env
        .iter()
        // As the censor takes them: values under 3 characters are left.
        .filter(|(key, value)| is_secret_name(key) && Some(key.as_str()) != base_url_env && value.chars().count() >= 3)
        .map(|(key, _)| key.clone())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Whether an environment variable's name says it holds a secret.
fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    ["SECRET", "TOKEN", "PASSWORD", "KEY", "CREDENTIAL"].iter().any(|word| name.contains(word))
}

/// A file name from a case name: letters, digits, `-` and `_`.
fn slug(name: &str) -> String {
    let slug: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    if slug.is_empty() { "_".into() } else { slug }
}

/// The method path a case names, and the operation whose input fields apply.
fn resolve_method(
    app: &App,
    words: &str,
    bundle: &Bundle,
) -> Result<(String, Option<(OperationKind, String)>), String> {
    let parts: Vec<&str> = words.split_whitespace().collect();
    let kind = |word: &str| match word {
        "trigger" => Some(OperationKind::Trigger),
        "search" => Some(OperationKind::Search),
        "create" => Some(OperationKind::Create),
        _ => None,
    };
    match parts[..] {
        ["auth", "test"] => Ok(("authentication.test".into(), None)),
        [word, key] if kind(word).is_some() => {
            let kind = kind(word).unwrap_or(OperationKind::Trigger);
            let Some(op) = app.definition().operation(kind, key) else {
                return Err(format!("the integration has no {word} {key:?}"));
            };
            let hook = op.trigger_type.as_deref() == Some("hook");
            let method = if hook && bundle.cleaned_request.is_none() && op.methods.iter().any(|m| m == "performList") {
                "performList"
            } else {
                "perform"
            };
            Ok((format!("{}.{key}.operation.{method}", kind.plural()), Some((kind, key.to_string()))))
        }
        [path] if path.contains('.') => Ok((path.to_string(), None)),
        _ => Err(format!(
            "cannot read the method {words:?}: `trigger KEY`, `search KEY`, `create KEY`, `search-or-create KEY`, `auth test` or a method path"
        )),
    }
}

/// Every way the outcome misses the expectations.
fn check_expectations(expect: &Expect, outcome: &zapwasm_host::Outcome) -> Vec<String> {
    let mut failures = Vec::new();
    match (&outcome.result, &expect.error) {
        (Err(error), None) => failures.push(format!("the call failed: {} error: {error}", error.kind())),
        (Ok(result), Some(expected)) => failures.push(format!(
            "expected a {} error, the call succeeded with {}",
            error_kind(expected),
            result.value()
        )),
        (Err(error), Some(expected)) => {
            if error.kind() != error_kind(expected) {
                failures.push(format!(
                    "expected a {} error, got {} error: {error}",
                    error_kind(expected),
                    error.kind()
                ));
            }
            if let Some(part) = expected.get("message").and_then(Value::as_str)
                && !message_of(error).contains(part)
            {
                failures.push(format!("the error's message {:?} does not contain {part:?}", message_of(error)));
            }
        }
        (Ok(result), None) => {
            let result = result.value();
            if let Some(expected) = &expect.result
                && &result != expected
            {
                failures.push(format!("the result differs:\n{}", json_diff(expected, &result)));
            }
            if let Some(part) = &expect.includes
                && !includes(&result, part)
            {
                failures.push(format!("the result does not include {part}:\n{}", pretty(&result)));
            }
            if let Some(count) = expect.count {
                match result.as_array() {
                    Some(items) if items.len() == count => {}
                    Some(items) => failures.push(format!("expected {count} items, got {}", items.len())),
                    None => failures.push(format!("expected {count} items, the result is not an array")),
                }
            }
            if expect.checks != Some(false) {
                for check in &outcome.checks {
                    failures.push(format!("result check {} failed: {}", check.id, check.message));
                }
            }
        }
    }
    failures
}

fn error_kind(expected: &Value) -> &str {
    expected.as_str().or_else(|| expected.get("kind").and_then(Value::as_str)).unwrap_or("any")
}

fn message_of(error: &CallError) -> String {
    error.to_string()
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// A line diff of two JSON values.
fn json_diff(expected: &Value, actual: &Value) -> String {
    let (expected, actual) = (pretty(expected) + "\n", pretty(actual) + "\n");
    similar::TextDiff::from_lines(&expected, &actual).unified_diff().header("expected", "result").to_string()
}

/// Whether `part` is in `value`: scalars equal, an object's keys each
/// included, each element of an array included in some element.
pub fn includes(value: &Value, part: &Value) -> bool {
    match (value, part) {
        (Value::Object(value), Value::Object(part)) => {
            part.iter().all(|(key, expected)| value.get(key).is_some_and(|actual| includes(actual, expected)))
        }
        (Value::Array(values), Value::Array(parts)) => {
            parts.iter().all(|part| values.iter().any(|value| includes(value, part)))
        }
        (value, part) => value == part,
    }
}

/// The results as JUnit XML: a test suite per suite file.
pub fn junit(results: &[CaseResult]) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("zapwasm test");
    let mut suites: Vec<TestSuite> = Vec::new();
    for result in results {
        let status = if result.passed() {
            TestCaseStatus::success()
        } else {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_message(result.failures[0].lines().next().unwrap_or_default().to_string());
            status.set_description(result.failures.join("\n\n"));
            status
        };
        let mut case = TestCase::new(result.name.clone(), status);
        case.set_time(result.duration);
        case.set_classname(result.suite.clone());
        match suites.iter_mut().find(|suite| suite.name.as_str() == result.suite) {
            Some(suite) => {
                suite.add_test_case(case);
            }
            None => {
                let mut suite = TestSuite::new(result.suite.clone());
                suite.add_test_case(case);
                suites.push(suite);
            }
        }
    }
    report.add_test_suites(suites);
    report.to_string().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn includes_reads_objects_by_key_and_arrays_by_element() {
        let value = json!([{"id": 1, "tags": ["a", "b"]}, {"id": 2}]);
        assert!(includes(&value, &json!([{"id": 2}, {"tags": ["b"]}])));
        assert!(!includes(&value, &json!([{"id": 3}])));
        assert!(!includes(&json!({"a": 1}), &json!({"a": "1"})));
    }

    #[test]
    fn suites_are_read_and_their_case_names_unique() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.json"),
            r#"{"base_url_env":"X","cases":[{"name":"one","method":"trigger t","expect":{"count":1}}]}"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let suites = load_suites(dir.path()).unwrap();
        assert_eq!((suites[0].name.as_str(), suites[0].cases[0].expect.count), ("a", Some(1)));
        std::fs::write(
            dir.path().join("b.json"),
            r#"{"cases":[{"name":"x","method":"m.n"},{"name":"x","method":"m.n"}]}"#,
        )
        .unwrap();
        assert!(load_suites(dir.path()).unwrap_err().to_string().contains("two cases are named \"x\""));
        std::fs::write(dir.path().join("b.json"), r#"{"cases":[{"name":"x","methd":"m.n"}]}"#).unwrap();
        assert!(load_suites(dir.path()).unwrap_err().to_string().contains("unknown field `methd`"));
    }

    #[test]
    fn junit_reports_each_case_in_its_suite() {
        let results = [
            CaseResult { suite: "s".into(), name: "ok".into(), failures: vec![], duration: Duration::from_millis(5) },
            CaseResult {
                suite: "s".into(),
                name: "bad".into(),
                failures: vec!["expected 2 items, got 1".into()],
                duration: Duration::ZERO,
            },
        ];
        let xml = junit(&results);
        assert!(xml.contains(r#"<testsuite name="s" tests="2" disabled="0" errors="0" failures="1""#), "{xml}");
        assert!(xml.contains(r#"message="expected 2 items, got 1""#), "{xml}");
    }

    #[test]
    fn secret_environment_names_are_recognized() {
        assert!(is_secret_name("CLIENT_SECRET") && is_secret_name("api_key") && is_secret_name("GITHUB_TOKEN"));
        assert!(!is_secret_name("CRM_BASE_URL") && !is_secret_name("MODE"));
    }

    #[test]
    fn case_names_become_file_names() {
        assert_eq!(slug("finds a contact/by email"), "finds_a_contact_by_email");
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;
    use crate::fixtures::Body;

    /// What suites and recordings are made of, for the mutations.
    const TOKENS: &[&str] = &[
        "\"cases\":",
        "\"expect\":",
        "\"includes\":",
        "\"exchanges\":",
        "\"json\":",
        "\"base64\":",
        "\"text\":",
        "\"headers\":{}",
        "\"status\":",
        "null",
        "[]",
    ];

    /// Suites and recordings are files a user edits: read or refused, never
    /// a panic; a recording read back from what it writes is the same; a
    /// body kept from any bytes sends bytes that are kept the same way.
    #[test]
    fn test_files_are_read_or_refused() {
        zapwasm_fuzzing::fuzz("test_files", TOKENS, |input| {
            let text = input.text();
            let _ = serde_json::from_str::<Suite>(&text);
            if let Ok(recording) = serde_json::from_str::<Recording>(&text) {
                let written = serde_json::to_string(&recording).expect("a recording serializes");
                let again: Recording = serde_json::from_str(&written).expect("what was written reads back");
                prop_assert_eq!(again, recording);
            }
            let body = Body::of(&input.0);
            prop_assert_eq!(Body::of(&body.bytes()), body);
            Ok(())
        });
    }
}
