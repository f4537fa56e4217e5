//! `zapwasm invoke <component> auth start|refresh`: connecting an account
//! locally and keeping its credentials in the `.env` file.
//!
//! `start` asks for each authentication field on the terminal (secret
//! fields without echo), then by type: the fields are the authData (basic,
//! digest, custom), or are exchanged by `sessionConfig.perform` (session),
//! or an OAuth round trip runs through the browser, its redirect taken by a
//! listener on 127.0.0.1. The credentials are checked with
//! `authentication.test` and only then written to `.env`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use zapwasm_host::{App, Authorization, ConnectError, Invocation, Outcome};

use crate::args::InvokeArgs;
use crate::config::InvokeConfig;
use crate::config::scope;
use crate::report::{print_error, print_logs, safe, with_causes};
use crate::{EXIT_CONNECT, EXIT_USAGE, dotenv};

/// The path the OAuth redirect listener answers on.
const CALLBACK_PATH: &str = "/oauth/callback";
/// The most of a redirect request's head the listener reads.
const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// `auth start`.
pub async fn start(app: &App, args: &InvokeArgs, config: InvokeConfig) -> ExitCode {
    let mut bundle = config.bundle;
    let fields = match ask_fields(app, &config.auth_given, &bundle.auth_data) {
        Ok(fields) => fields,
        Err(message) => return fail(EXIT_USAGE, message),
    };
    bundle.auth_data.extend(fields);
    let kind = app.definition().auth_type().unwrap_or("none").to_string();
    let auth_data = match kind.as_str() {
        "basic" | "digest" | "custom" => bundle.auth_data,
        "session" => {
            let outcome = app.refresh_credentials(Invocation::new("", bundle, scope(args))).await;
            match finish(outcome, args) {
                Ok(auth_data) => auth_data,
                Err(code) => return code,
            }
        }
        "oauth1" | "oauth2" => match oauth(app, args, bundle).await {
            Ok(auth_data) => auth_data,
            Err(code) => return code,
        },
        "none" => return fail(EXIT_USAGE, "this integration has no authentication: there is nothing to connect"),
        other => return fail(EXIT_USAGE, format!("authentication type {other:?} is not one zapwasm knows")),
    };
    verify_and_save(app, args, &config.env_file, auth_data).await
}

/// `auth refresh`.
pub async fn refresh(app: &App, args: &InvokeArgs, config: InvokeConfig) -> ExitCode {
    let invocation = Invocation::new("", config.bundle, scope(args));
    match finish(app.refresh_credentials(invocation).await, args) {
        Ok(auth_data) => save(&config.env_file, &auth_data),
        Err(code) => code,
    }
}

/// The fields asked for: every field of `authentication.fields` that is
/// not computed (OAuth tokens) and not given with --auth. An empty answer
/// keeps the current value (from .env) or the field's default.
fn ask_fields(app: &App, given: &[String], current: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    let fields = app.definition().get("authentication.fields").and_then(Value::as_array).cloned().unwrap_or_default();
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    let mut lines = stdin.lock().lines();
    let mut answers = Map::new();
    for field in &fields {
        let text = |name: &str| field.get(name).and_then(Value::as_str);
        let flag = |name: &str| field.get(name).and_then(Value::as_bool) == Some(true);
        let Some(key) = text("key") else { continue };
        if flag("computed") || given.iter().any(|g| g == key) {
            continue;
        }
        let secret = matches!(text("type"), Some("password")) || key.contains("secret") || key.contains("password");
        let fallback = current.get(key).cloned().or_else(|| field.get("default").cloned());
        let shown = match &fallback {
            Some(_) if secret => " [keep current]".to_string(),
            Some(Value::String(value)) => format!(" [{}]", safe(value)),
            Some(value) => format!(" [{}]", safe(&value.to_string())),
            None => String::new(),
        };
        let label = text("label").unwrap_or(key);
        if let Some(help) = text("helpText") {
            eprintln!("  {}", safe(help));
        }
        let required = if flag("required") { ", required" } else { "" };
        eprint!("{} ({}{required}){shown}: ", safe(label), safe(key));
        let _ = std::io::stderr().flush();
        let answer = if interactive && secret {
            rpassword::read_password().map_err(|e| format!("cannot read {key} from the terminal: {e}"))?
        } else {
            match lines.next() {
                Some(line) => line.map_err(|e| format!("cannot read {key} from stdin: {e}"))?,
                None => String::new(),
            }
        };
        if !interactive {
            eprintln!();
        }
        let answer = answer.trim();
        let value = if answer.is_empty() { fallback } else { Some(Value::String(answer.to_string())) };
        match value {
            Some(value) => {
                answers.insert(key.to_string(), value);
            }
            None if flag("required") => {
                return Err(format!(
                    "the authentication field {key} ({label}) is required: answer the prompt, or give it with --auth '{{\"{key}\": ...}}'"
                ));
            }
            None => {}
        }
    }
    Ok(answers)
}

/// The OAuth round trip: listen on 127.0.0.1, render the authorize URL,
/// wait for the redirect, exchange what it carries for tokens.
async fn oauth(app: &App, args: &InvokeArgs, bundle: zapwasm_host::Bundle) -> Result<Map<String, Value>, ExitCode> {
    let listener = TcpListener::bind(("127.0.0.1", args.redirect_port)).await.map_err(|e| {
        fail(
            EXIT_CONNECT,
            format!(
                "cannot listen on 127.0.0.1:{} for the OAuth redirect ({e}): choose another port with --redirect-port",
                args.redirect_port
            ),
        )
    })?;
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(args.redirect_port);
    let redirect_uri = format!("http://127.0.0.1:{port}{CALLBACK_PATH}");
    let authorization = app.authorize(&scope(args), bundle.clone(), &redirect_uri).await.map_err(connect_failed)?;
    eprintln!("zapwasm: open this URL in your browser and allow access:\n\n  {}\n", safe(&authorization.url));
    eprintln!(
        "zapwasm: waiting up to {} s for the redirect to {redirect_uri} (register it with the provider)",
        args.auth_timeout
    );
    open_browser(&authorization.url);
    let scope = scope(args);
    let wait = receive_redirect(&listener, app, &scope, &authorization, bundle);
    let outcome = match tokio::time::timeout(Duration::from_secs(args.auth_timeout), wait).await {
        Ok(result) => result,
        Err(_) => {
            return Err(fail(
                EXIT_CONNECT,
                format!(
                    "no redirect reached {redirect_uri} within {} s: run `auth start` again (--auth-timeout sets the wait)",
                    args.auth_timeout
                ),
            ));
        }
    };
    finish(outcome, args)
}

/// Serves the listener until the redirect arrives: other paths get a 404,
/// the redirect gets a page saying how the authorization ended.
async fn receive_redirect(
    listener: &TcpListener,
    app: &App,
    scope: &zapwasm_host::Scope,
    authorization: &Authorization,
    bundle: zapwasm_host::Bundle,
) -> Result<Outcome, ConnectError> {
    loop {
        let mut stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of file descriptors or the like: wait rather than spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(target) = read_request_target(&mut stream).await else {
            respond(&mut stream, "400 Bad Request", "zapwasm: not an HTTP request").await;
            continue;
        };
        let (path, query) = target.split_once('?').unwrap_or((target.as_str(), ""));
        if path != CALLBACK_PATH {
            respond(&mut stream, "404 Not Found", "zapwasm: this listener only takes the OAuth redirect").await;
            continue;
        }
        let pairs: Vec<(String, String)> =
            url::form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let result = app.complete_authorization(scope, authorization, &pairs, bundle.clone()).await;
        let page = match &result {
            Ok(outcome) if outcome.result.is_ok() => {
                "zapwasm: the account is connected. You can close this tab and go back to the terminal.".to_string()
            }
            Ok(outcome) => format!(
                "zapwasm: exchanging the code for tokens failed. See the terminal. ({})",
                outcome_error(outcome)
            ),
            Err(error) => format!("zapwasm: the authorization failed: {error}"),
        };
        respond(&mut stream, "200 OK", &page).await;
        return result;
    }
}

fn outcome_error(outcome: &Outcome) -> String {
    outcome.result.as_ref().err().map(|e| e.kind().to_string()).unwrap_or_default()
}

/// The request target of an HTTP/1 request (`/oauth/callback?code=...`).
async fn read_request_target(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST_HEAD {
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await.ok()?.ok()?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&buf[..read]);
    }
    let line = head.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?.trim_end();
    let mut parts = line.split(' ');
    let (method, target) = (parts.next()?, parts.next()?);
    (method == "GET" && parts.next()?.starts_with("HTTP/")).then(|| target.to_string())
}

async fn respond(stream: &mut TcpStream, status: &str, text: &str) {
    let html = format!("<!doctype html><meta charset=utf-8><title>zapwasm</title><p>{}</p>\n", escape_html(text));
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{html}",
        html.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// On a terminal, ask the desktop to open the URL; the URL is printed
/// either way.
fn open_browser(url: &str) {
    if !std::io::stderr().is_terminal() {
        return;
    }
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    let _ = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

/// The new authData of a step that obtained credentials, its logs printed.
fn finish(outcome: Result<Outcome, ConnectError>, args: &InvokeArgs) -> Result<Map<String, Value>, ExitCode> {
    let outcome = outcome.map_err(connect_failed)?;
    if !args.quiet {
        print_logs(&outcome.logs);
    }
    match (outcome.result, outcome.auth_data) {
        (Ok(_), Some(auth_data)) => Ok(auth_data),
        (Err(error), _) => Err(print_error(&error)),
        (Ok(_), None) => Err(fail(EXIT_CONNECT, "the step returned no authData")),
    }
}

/// Runs `authentication.test` (and the label) with the new credentials and
/// writes them to the .env file only when the test passes.
async fn verify_and_save(app: &App, args: &InvokeArgs, env_file: &Path, auth_data: Map<String, Value>) -> ExitCode {
    if app.definition().has_method("authentication.test") {
        let bundle = zapwasm_host::Bundle { auth_data: auth_data.clone(), ..zapwasm_host::Bundle::default() };
        let outcome = app.connection_label(Invocation::new("authentication.test", bundle, scope(args))).await;
        if !args.quiet {
            print_logs(&outcome.logs);
        }
        match &outcome.result {
            Ok(label) => {
                let label = label.value();
                let label = label.as_str().filter(|l| !l.is_empty()).unwrap_or("(no connection label)");
                eprintln!("zapwasm: the credentials work: connected as {}", safe(label));
            }
            Err(error) => {
                eprintln!(
                    "zapwasm: authentication.test failed with the new credentials, so {} was not changed",
                    env_file.display()
                );
                return print_error(error);
            }
        }
    } else {
        eprintln!("zapwasm: this integration has no authentication.test: the credentials are saved unchecked");
    }
    save(env_file, &auth_data)
}

/// Writes the authData to the .env file: atomically, readable by the user only.
fn save(env_file: &Path, auth_data: &Map<String, Value>) -> ExitCode {
    match dotenv::write_auth_data(env_file, auth_data) {
        Ok(()) => {
            let keys: Vec<&str> = auth_data.keys().map(String::as_str).collect();
            eprintln!("zapwasm: wrote authData ({}) to {}", safe(&keys.join(", ")), env_file.display());
            ExitCode::SUCCESS
        }
        Err(e) => fail(EXIT_CONNECT, format!("cannot write {}: {e}", env_file.display())),
    }
}

fn connect_failed(error: ConnectError) -> ExitCode {
    match error {
        ConnectError::Call { method, error } => {
            eprintln!("zapwasm: {method} failed");
            print_error(&error)
        }
        other => fail(EXIT_CONNECT, with_causes(&other)),
    }
}

fn fail(code: u8, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("zapwasm: {}", safe(&message.to_string()));
    ExitCode::from(code)
}
