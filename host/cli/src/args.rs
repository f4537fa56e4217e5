//! The command line, as clap parses it. Validation that clap cannot do
//! happens in `config`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Run integrations compiled to WebAssembly components, each call sandboxed.
#[derive(Debug, Parser)]
#[command(name = "zapwasm", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one method of an integration and print its result as JSON.
    ///
    /// METHOD is a method path (`triggers.new_contact.operation.perform`) or a
    /// short form: `trigger KEY`, `search KEY`, `create KEY`, `auth test`,
    /// `auth label`, `search-or-create KEY`. A hook trigger runs `perform` when --cleaned-request is
    /// given, else `performList`.
    ///
    /// A trigger, search or create gets --input through its input fields
    /// first, static and dynamic: defaults applied, values coerced to their
    /// types, required fields checked (exit 21 naming each field;
    /// --no-input-fields sends the input as it is). --prompt asks on the
    /// terminal for the required fields --input lacks, listing a dropdown's
    /// choices (a dynamic dropdown's from its trigger, run now).
    ///
    /// A `datetime` field is sent as ISO 8601 and takes: a date
    /// (`2026-12-06`, midnight UTC); a date and time (`2026-12-06 13:00`,
    /// UTC); ISO 8601 with an offset (`2026-12-06T13:00:00+01:00`, kept); a
    /// Unix timestamp (seconds, or milliseconds from 12 digits on); `now`,
    /// `today`, `tomorrow`, `yesterday`; a time from now: `+3d`, `-2h`,
    /// `in 3 days`, `2 hours ago` (units s, m, h, d, w).
    ///
    /// Credentials the host refreshes during a call (a stale session
    /// exchanged again, an OAuth 2 token refreshed) are written back to the
    /// .env file (--env-file; created if missing), its other lines kept;
    /// stderr names the fields, never their values.
    ///
    /// `auth start` connects an account: it asks for each authentication
    /// field (those given with --auth are not asked), runs the session
    /// exchange or the OAuth round trip through the browser (a listener on
    /// 127.0.0.1 takes the redirect), checks the credentials with
    /// `authentication.test`, and writes them as `authData_` lines to the
    /// .env file. `auth refresh` refreshes session or OAuth 2 credentials
    /// and writes them back the same way.
    ///
    /// Exit codes: 0 success; 2 usage; 3 load error; 4 the account could not
    /// be connected (refused, state mismatch, no redirect in time), or
    /// refreshed credentials could not be written to .env; 5 a flow's step
    /// was refused (an unknown subscription or callback); 10 Error; 11 HaltedError;
    /// 12 ExpiredAuthError; 13 RefreshAuthError; 14 ThrottledError;
    /// 15 response error (throwForStatus); 16 check failure; 20 no such
    /// method, whether named by a short form or a path (middleware is never
    /// invocable on its own); 21 invalid bundle or input; 30 the integration
    /// crashed; 31 a limit was exceeded; 32 the integration could not
    /// start; 33 the host's state failed.
    Invoke(Box<InvokeArgs>),
    /// Print what an integration offers: authentication, and each trigger,
    /// search and create with its methods, input fields and output fields
    /// (key, label, type, required, dynamic dropdown, default).
    Describe(Box<DescribeArgs>),
    /// Run the platform half as an HTTP service: connections, calls, REST
    /// hooks, polling, callbacks and stashed files, with durable state in
    /// --state-dir.
    ///
    /// Settings come from the TOML file of --config, then `ZAPWASM_*`
    /// environment variables, then these flags. The first line on stdout is
    /// `listening on http://ADDR`; logs go to stderr (`ZAPWASM_LOG=debug`
    /// for more). SIGTERM or Ctrl-C stops it gracefully: no new requests,
    /// the work in flight finishes (up to `shutdown_grace_seconds`), queued
    /// work stays in the state directory for the next start.
    #[command(after_long_help = serve_help())]
    Serve(Box<ServeArgs>),
    /// Check an integration's definition before anything runs: the
    /// platform's schema (keys, required parts, field types, request
    /// methods, references between operations) and its publishing checks
    /// D001-D026 that need only the definition. Each finding has its ID,
    /// severity, JSON path and a fix.
    ///
    /// TARGET is a component (.wasm) or an integration crate's directory,
    /// built first (default: the current directory). Exit codes: 0 no
    /// errors (warnings allowed, unless --strict); 6 the definition has
    /// errors; 2 usage; 3 load error; 7 the build failed.
    Validate(Box<ValidateArgs>),
    /// Build an integration crate to a component for wasm32-wasip2 with the
    /// guest profile (opt-level "s", LTO, one codegen unit, panic = abort,
    /// the JSON crates at opt-level 3) whatever its Cargo.toml says,
    /// snapshot it with its app built (`<name>.snapshot.wasm`, unless
    /// --no-snapshot), and precompile it into the cache. Prints the
    /// component's path on stdout, its size, the build and snapshot times on
    /// stderr. Exit codes: 0 built; 7 the build or the snapshot failed; 3 the
    /// component does not load.
    Build(Box<BuildArgs>),
    /// Create a new integration crate in DIR that builds as it is: the
    /// guest profile, an example trigger and create, a native test and a
    /// README, with the authentication of --template.
    ///
    /// The crate depends on zapwasm-guest by path when DIR is inside a
    /// zapwasm checkout (starting from the checkout's Cargo.lock), else by
    /// version from crates.io; --sdk picks one (`git` with --sdk-git URL).
    Init(Box<InitArgs>),
    /// Run an integration's test cases (DIR/tests/zapwasm/*.json) against
    /// recorded HTTP fixtures: replayed offline by default (a request the
    /// recording lacks fails its case with a diff); with --record sent to
    /// the real API (its base URL and credentials from DIR/.env) and
    /// recorded, secrets censored. Prints each case and `N passed, N
    /// failed`. Exit codes: 0 all passed; 8 a case failed; 2 usage; 3 load
    /// error; 7 the build failed.
    Test(Box<TestArgs>),
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// The integration crate's directory, built first (default: the current directory).
    pub dir: Option<PathBuf>,
    /// Send the requests to the real API and record them (secrets censored).
    #[arg(long)]
    pub record: bool,
    /// Only the cases whose name contains this.
    #[arg(long)]
    pub filter: Option<String>,
    /// Also write the results as JUnit XML to this file.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// The test cases' directory (default: DIR/tests/zapwasm).
    #[arg(long, value_name = "DIR")]
    pub cases: Option<PathBuf>,
    /// Test this component instead of building DIR.
    #[arg(long, value_name = "FILE")]
    pub component: Option<PathBuf>,
    /// The .env file: the real API's base URL and credentials for --record (default: DIR/.env).
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    #[command(flatten)]
    pub cache: CacheArgs,
}

/// The templates of `zapwasm init`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Template {
    /// An API key the user pastes (custom auth), a polling trigger.
    #[value(name = "api-key")]
    ApiKey,
    /// OAuth 2 with PKCE and refresh, a polling trigger.
    #[value(name = "oauth2")]
    OAuth2,
    /// Username and password exchanged for a session key, a polling trigger.
    #[value(name = "session")]
    Session,
    /// An API key, and a REST hook trigger (subscribe, unsubscribe, performList).
    #[value(name = "rest-hook")]
    RestHook,
}

impl Template {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Template::ApiKey => "api-key",
            Template::OAuth2 => "oauth2",
            Template::Session => "session",
            Template::RestHook => "rest-hook",
        }
    }
}

/// Where a new crate gets zapwasm-guest from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SdkSource {
    /// A directory (default inside a zapwasm checkout: its guest-sdk/rust).
    Path,
    /// A git repository (--sdk-git URL).
    Git,
    /// A version from crates.io (default elsewhere: this CLI's version).
    Version,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The directory to create (new or empty); its name is the crate's.
    pub dir: PathBuf,
    /// The authentication and trigger to start from.
    #[arg(long, value_enum, default_value = "api-key")]
    pub template: Template,
    /// How the crate depends on zapwasm-guest.
    #[arg(long, value_enum)]
    pub sdk: Option<SdkSource>,
    /// --sdk path: the SDK's directory (default: guest-sdk/rust of the checkout DIR is in).
    #[arg(long = "sdk-path", value_name = "DIR")]
    pub sdk_path: Option<PathBuf>,
    /// --sdk git: the repository's URL.
    #[arg(long = "sdk-git", value_name = "URL")]
    pub sdk_git: Option<String>,
    /// --sdk version: the version requirement (default: this CLI's version).
    #[arg(long = "sdk-version", value_name = "VERSION")]
    pub sdk_version: Option<String>,
}

/// Where compiled components are cached.
#[derive(Debug, Args)]
pub struct CacheArgs {
    /// Where compiled components are cached (default: the user's cache directory).
    #[arg(long = "cache-dir")]
    pub cache_dir: Option<PathBuf>,
    /// Do not cache compiled components.
    #[arg(long = "no-cache")]
    pub no_cache: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The component (.wasm) or an integration crate's directory (default: the current directory).
    #[arg(value_name = "COMPONENT|DIR")]
    pub target: Option<PathBuf>,
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
    /// Exit 6 on warnings too.
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub cache: CacheArgs,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The integration crate's directory (default: the current directory).
    pub dir: Option<PathBuf>,
    /// Cargo's target directory (default: the crate's own).
    #[arg(long = "target-dir")]
    pub target_dir: Option<PathBuf>,
    /// Fail rather than update Cargo.lock.
    #[arg(long)]
    pub locked: bool,
    /// Only cargo's errors on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Leave the component plain: its app is built on each instance's first
    /// call instead of once, at build time.
    #[arg(long = "no-snapshot")]
    pub no_snapshot: bool,
    #[command(flatten)]
    pub cache: CacheArgs,
}

/// The end of `zapwasm serve --help`: a development command line, and a
/// complete config file.
fn serve_help() -> String {
    format!(
        "Development, the example CRM and its API on loopback, no token:\n\n    \
         zapwasm serve --dev --allow-loopback --listen 127.0.0.1:8080 --state-dir .zapwasm \\\n        \
         --app crm=crm.wasm --app-env crm:CRM_BASE_URL=http://127.0.0.1:8787\n\n\
         A complete config file (every setting may be left out):\n\n{}",
        zapwasm_serve::EXAMPLE_CONFIG
    )
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The config file (TOML); `zapwasm serve --help` ends with a complete one.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The address to listen on (default 127.0.0.1:8080; port 0 takes a free one). [env: ZAPWASM_LISTEN]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// What hook, callback and file URLs start with (default http://ADDR). [env: ZAPWASM_PUBLIC_URL]
    #[arg(long = "public-url", value_name = "URL")]
    pub public_url: Option<String>,
    /// The state directory (default .zapwasm). [env: ZAPWASM_STATE_DIR]
    #[arg(long = "state-dir", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Serve the component at PATH as NAME (repeatable).
    #[arg(long = "app", value_name = "NAME=PATH")]
    pub app: Vec<String>,
    /// An environment variable of app NAME (repeatable).
    #[arg(long = "app-env", value_name = "NAME:KEY=VALUE")]
    pub app_env: Vec<String>,
    /// Let integrations reach loopback addresses, over plain http too (development). [env: ZAPWASM_ALLOW_LOOPBACK]
    #[arg(long = "allow-loopback")]
    pub allow_loopback: bool,
    /// Development: listen on loopback only, no control token, a master key made in the state directory. [env: ZAPWASM_DEV]
    #[arg(long)]
    pub dev: bool,
    /// Where compiled components are cached (default: the user's cache directory). [env: ZAPWASM_CACHE_DIR]
    #[arg(long = "cache-dir", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// The component (.wasm), or an integration crate's directory (built first).
    pub component: PathBuf,
    /// Print the whole definition as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub host: HostArgs,
}

#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// The component (.wasm), or an integration crate's directory (built first).
    pub component: PathBuf,
    /// A method path, or `trigger KEY`, `search KEY`, `create KEY`, `auth start|test|label|refresh`,
    /// or a flow: `subscribe KEY` (a hook trigger), `deliver SUBSCRIPTION` (a hook
    /// delivery, the payload from --body), `unsubscribe SUBSCRIPTION`, `subscriptions`,
    /// `resume CALLBACK` (the callback's POST from --body), `hydrate STRING`, or
    /// `search-or-create KEY` (the search, then the create when it finds nothing).
    #[arg(required = true, num_args = 1..=2, value_name = "METHOD")]
    pub method: Vec<String>,
    /// inputData: JSON, `@file`, or `@-` for stdin.
    #[arg(long, short = 'i')]
    pub input: Option<String>,
    /// authData: JSON or `@file` (merged over the .env file's authData_ lines).
    #[arg(long)]
    pub auth: Option<String>,
    /// The .env file: `authData_<key>=value` lines become authData, the
    /// others the integration's environment. Default: `.env` when present.
    #[arg(long)]
    pub env_file: Option<PathBuf>,
    /// An environment variable for the integration (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Mark an environment variable secret: censored in logs and errors (repeatable).
    #[arg(long = "secret-env", value_name = "KEY")]
    pub secret_env: Vec<String>,
    /// A bundle.meta value, e.g. `--meta limit=10` (repeatable).
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    pub meta: Vec<String>,
    /// bundle.meta.isLoadingSample = true.
    #[arg(long = "isLoadingSample", alias = "is-loading-sample")]
    pub is_loading_sample: bool,
    /// bundle.meta.isFillingDynamicDropdown = true.
    #[arg(long = "isFillingDynamicDropdown", alias = "is-filling-dynamic-dropdown")]
    pub is_filling_dynamic_dropdown: bool,
    /// bundle.meta.isPopulatingDedupe = true.
    #[arg(long = "isPopulatingDedupe", alias = "is-populating-dedupe")]
    pub is_populating_dedupe: bool,
    /// bundle.meta.limit.
    #[arg(long)]
    pub limit: Option<i64>,
    /// bundle.meta.page.
    #[arg(long)]
    pub page: Option<u64>,
    /// bundle.meta.paging_token.
    #[arg(long = "paging-token")]
    pub paging_token: Option<String>,
    /// bundle.meta.timezone.
    #[arg(long)]
    pub timezone: Option<String>,
    /// bundle.subscribeData: JSON or `@file`.
    #[arg(long = "subscribe-data")]
    pub subscribe_data: Option<String>,
    /// bundle.targetUrl.
    #[arg(long = "target-url")]
    pub target_url: Option<String>,
    /// bundle.outputData: JSON or `@file`.
    #[arg(long = "output-data")]
    pub output_data: Option<String>,
    /// bundle.cleanedRequest: JSON or `@file`.
    #[arg(long = "cleaned-request")]
    pub cleaned_request: Option<String>,
    /// bundle.rawRequest: JSON or `@file`.
    #[arg(long = "raw-request")]
    pub raw_request: Option<String>,
    /// The body of a hook delivery or a callback's POST: text, `@file`, or
    /// `@-` for stdin (sent as JSON unless --header sets a Content-Type).
    #[arg(long)]
    pub body: Option<String>,
    /// A header of a hook delivery or a callback's POST, `Name: value` (repeatable).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub header: Vec<String>,
    /// `trigger KEY`: run the polling trigger as a poll of this account's
    /// local subscription (made on the first run, whose poll only seeds the
    /// seen items) and print only the items not seen before.
    #[arg(long)]
    pub dedupe: bool,
    /// The integration the call's state belongs to (default: the component's file name without `.wasm`).
    #[arg(long)]
    pub integration: Option<String>,
    /// The account the call's state belongs to.
    #[arg(long, default_value = "local")]
    pub account: String,
    /// The subscription the call's state belongs to.
    #[arg(long)]
    pub subscription: Option<String>,
    /// auth start with OAuth: the port of the redirect listener on 127.0.0.1
    /// (the redirect URI is `http://127.0.0.1:PORT/oauth/callback`; 0 takes any free port).
    #[arg(long = "redirect-port", default_value_t = 9000)]
    pub redirect_port: u16,
    /// auth start with OAuth: how long to wait for the browser's redirect, in seconds.
    #[arg(long = "auth-timeout", default_value_t = 300)]
    pub auth_timeout: u64,
    /// Print the whole outcome as JSON: `status`, `result` and `checks` or
    /// `error` (`{"kind", "message"}`), `callback_url`, `logs`, `http`
    /// (each exchange with `duration_ms`), `duration_ms`, and
    /// `auth_data_refreshed` (field names only).
    #[arg(long)]
    pub outcome: bool,
    /// Do not print log lines on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Send --input as it is: no defaults, type coercion or required
    /// fields from the operation's input fields.
    #[arg(long = "no-input-fields")]
    pub no_input_fields: bool,
    /// Ask on the terminal for each required input field --input lacks:
    /// its label and help text shown, a dropdown's choices listed (a
    /// dynamic dropdown runs its trigger with the current credentials) and
    /// picked by number. Needs stdin to be a terminal.
    #[arg(long, conflicts_with = "no_input_fields")]
    pub prompt: bool,
    #[command(flatten)]
    pub host: HostArgs,
}

/// Settings of the host itself. `zapwasm.toml` beside the component (or
/// --config) may hold the egress settings and limits; a flag given wins.
#[derive(Debug, Clone, Default, Args)]
pub struct HostArgs {
    /// The settings file: egress and limits, as the flags below (default:
    /// `zapwasm.toml` beside the component or in its crate directory, when
    /// there is one; flags override it).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Local development: allow loopback addresses, and plain http.
    #[arg(long = "allow-loopback")]
    pub allow_loopback: bool,
    /// Allow private and reserved networks (10/8, 192.168/16, fc00::/7, ...).
    #[arg(long = "allow-private")]
    pub allow_private: bool,
    /// Allow plain http to any host.
    #[arg(long = "allow-http")]
    pub allow_http: bool,
    /// Only these hosts: `scheme://host[:port]`, `*.` wildcards (repeatable).
    #[arg(long = "allow-host", value_name = "PATTERN")]
    pub allow_host: Vec<String>,
    /// Wall-clock limit of the call, in seconds (default 30).
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Linear-memory limit of the call, in MiB (default 128).
    #[arg(long = "memory-mb")]
    pub memory_mb: Option<u64>,
    /// Outbound requests per call, redirect hops included (default 200).
    #[arg(long = "max-requests")]
    pub max_requests: Option<u32>,
    /// Outbound requests in flight at once (default 10).
    #[arg(long = "max-concurrent-requests")]
    pub max_concurrent_requests: Option<u32>,
    /// Bytes of one response body (default 50 MiB).
    #[arg(long = "max-response-bytes")]
    pub max_response_bytes: Option<u64>,
    /// Bytes of one request body (default 50 MiB).
    #[arg(long = "max-request-bytes")]
    pub max_request_bytes: Option<u64>,
    /// Bytes of the result as JSON (default 6 MiB).
    #[arg(long = "max-result-bytes")]
    pub max_result_bytes: Option<u64>,
    /// Bytes of log output per call (default 1 MiB).
    #[arg(long = "max-log-bytes")]
    pub max_log_bytes: Option<u64>,
    /// Bytes stashed per call (default 150 MB).
    #[arg(long = "max-stash-bytes")]
    pub max_stash_bytes: Option<u64>,
    /// Memory the host itself may hold for a call (bodies it buffers, the
    /// call's records), in MiB (default 64).
    #[arg(long = "host-memory-mb")]
    pub host_memory_mb: Option<u64>,
    /// Where compiled components are cached (default: the user's cache directory).
    #[arg(long = "cache-dir")]
    pub cache_dir: Option<PathBuf>,
    /// Do not cache compiled components.
    #[arg(long = "no-cache")]
    pub no_cache: bool,
    /// Where stashed files are written (default: a zapwasm-stash folder in the temp directory).
    #[arg(long = "stash-dir")]
    pub stash_dir: Option<PathBuf>,
    /// The URL stashed files are served under (default: file:// URLs into --stash-dir).
    #[arg(long = "stash-base-url")]
    pub stash_base_url: Option<String>,
    /// Where cursors, pending callbacks, subscriptions and seen items are
    /// kept between runs (a SQLite file `state.sqlite3` in it; stashed files
    /// in its `stash/` unless --stash-dir is given).
    #[arg(long = "state-dir", value_name = "DIR", default_value = ".zapwasm")]
    pub state_dir: PathBuf,
    /// Keep state in memory only: nothing is read from or left in --state-dir.
    #[arg(long = "no-state")]
    pub no_state: bool,
    /// The base of REST hook target URLs (`subscribe` appends the subscription's ID).
    #[arg(long = "hook-base-url")]
    pub hook_base_url: Option<String>,
    /// The base of callback URLs for z.generateCallbackUrl.
    #[arg(long = "callback-base-url")]
    pub callback_base_url: Option<String>,
}
