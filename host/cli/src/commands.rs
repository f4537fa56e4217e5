//! The commands: each takes its configuration and prints.

use std::path::Path;
use std::process::ExitCode;

use serde_json::Value;
use zapwasm_host::{App, CallError, Host, Invocation, LogLine, Outcome, Scope, Status, ZError};

use crate::args::{Cli, Command, DescribeArgs, HostArgs, InvokeArgs};
use crate::config::{self, InvokeConfig};
use crate::{EXIT_LOAD, EXIT_USAGE};
use crate::{connect, flows};

pub async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Invoke(args) => invoke(*args).await,
        Command::Describe(args) => describe(*args).await,
    }
}

pub(crate) fn usage(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("zapwasm: {message}");
    ExitCode::from(EXIT_USAGE)
}

async fn load(component: &Path, host_args: &HostArgs) -> Result<(Host, App), ExitCode> {
    let host = config::build_host(host_args).map_err(usage)?;
    let app = host.load_file(component).await.map_err(|e| {
        eprintln!("zapwasm: cannot load {}: {}", component.display(), with_causes(&e));
        ExitCode::from(EXIT_LOAD)
    })?;
    Ok((host, app))
}

async fn invoke(args: InvokeArgs) -> ExitCode {
    let config = match InvokeConfig::from_args(&args) {
        Ok(config) => config,
        Err(e) => return usage(e),
    };
    let (host, app) = match load(&args.component, &args.host).await {
        Ok((host, app)) => (host, app.with_env(config.env.clone()).with_secret_env(config.secret_env.clone())),
        Err(code) => return code,
    };
    match args.method.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["auth", "start"] => return connect::start(&app, &args, config).await,
        ["auth", "refresh"] => return connect::refresh(&app, &args, config).await,
        _ => {}
    }
    if let Some(code) = flows::run(&host, &app, &args, &config).await {
        return code;
    }
    let method = match config::method_path(&args.method, app.definition(), &config.bundle) {
        Ok(method) => method,
        Err(e) => return usage(e),
    };
    let invocation = Invocation::new(method, config.bundle, scope(&app, &args));
    let label = args.method.len() == 2 && args.method[0] == "auth" && args.method[1] == "label";
    let outcome = if label { app.connection_label(invocation).await } else { app.invoke(invocation).await };
    print_outcome(&outcome, &args)
}

/// The scope a local call runs in: `--integration` (default: the
/// component's file name, so a rebuilt component keeps its state in
/// `--state-dir`), `--account` and `--subscription`.
pub(crate) fn scope(_app: &App, args: &InvokeArgs) -> Scope {
    let integration = args.integration.clone().unwrap_or_else(|| {
        args.component.file_stem().map(|stem| stem.to_string_lossy().into_owned()).unwrap_or_else(|| "local".into())
    });
    let scope = Scope::new(integration, args.account.clone());
    match &args.subscription {
        Some(subscription) => scope.subscription(subscription.clone()),
        None => scope,
    }
}

pub(crate) fn print_outcome(outcome: &Outcome, args: &InvokeArgs) -> ExitCode {
    if args.outcome {
        match serde_json::to_string_pretty(outcome) {
            Ok(json) => println!("{json}"),
            Err(e) => eprintln!("zapwasm: cannot print the outcome: {e}"),
        }
    } else if !args.quiet {
        print_logs(&outcome.logs);
    }
    match &outcome.result {
        Ok(value) => {
            if !args.outcome {
                match value.value() {
                    Value::String(text) => println!("{text}"),
                    value => println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default()),
                }
            }
            if let Some(auth_data) = &outcome.auth_data {
                let keys: Vec<&String> = auth_data.keys().collect();
                eprintln!("zapwasm: the credentials were refreshed; new authData fields: {keys:?}");
            }
            if outcome.status == Status::Callback
                && let Some(url) = &outcome.callback_url
            {
                eprintln!(
                    "zapwasm: the call is waiting for a callback at {url}; resume it with `zapwasm invoke COMPONENT resume {}`",
                    url.rsplit('/').next().unwrap_or_default()
                );
            }
            ExitCode::SUCCESS
        }
        Err(error) => print_error(error),
    }
}

/// Prints a call's error on stderr; its exit code.
pub(crate) fn print_error(error: &CallError) -> ExitCode {
    eprintln!("zapwasm: {} error: {}", error.kind(), with_causes(error));
    ExitCode::from(exit_code(error))
}

/// The exit code of a failed call: one per kind of error, so scripts can
/// branch without reading stderr (`zapwasm invoke --help` lists them).
pub(crate) fn exit_code(error: &CallError) -> u8 {
    match error {
        CallError::Integration { error } => match error {
            ZError::General { .. } => 10,
            ZError::Halted { .. } => 11,
            ZError::ExpiredAuth { .. } => 12,
            ZError::RefreshAuth { .. } => 13,
            ZError::Throttled { .. } => 14,
            ZError::Response { .. } => 15,
            ZError::Check { .. } => 16,
            _ => 19,
        },
        CallError::NoSuchMethod { .. } => 20,
        CallError::InvalidBundle { .. } => 21,
        CallError::Trap { .. } => 30,
        CallError::Limit { .. } => 31,
        CallError::Instantiate { .. } => 32,
        CallError::State { .. } => 33,
        _ => 39,
    }
}

/// An error's message followed by each of its causes.
pub(crate) fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        text.push_str(": ");
        text.push_str(&error.to_string());
        cause = error.source();
    }
    text
}

/// Prints a call's log lines on stderr.
pub(super) fn print_logs(lines: &[LogLine]) {
    for line in lines {
        print_log(line);
    }
}

fn print_log(line: &LogLine) {
    let level = serde_json::to_value(line.level).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    let source =
        serde_json::to_value(line.source).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    eprintln!("[{level} {source}] {}", line.message);
}

async fn describe(args: DescribeArgs) -> ExitCode {
    let app = match load(&args.component, &args.host).await {
        Ok((_, app)) => app,
        Err(code) => return code,
    };
    let definition = app.definition();
    if args.json {
        println!("{}", serde_json::to_string_pretty(definition.json()).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    let version = definition.get("version").and_then(Value::as_str).unwrap_or("?");
    println!("{} (version {version})", args.component.display());
    match definition.auth_type() {
        Some(kind) => {
            let fields: Vec<&str> = definition
                .get("authentication.fields")
                .and_then(Value::as_array)
                .map(|f| f.iter().filter_map(|f| f.get("key").and_then(Value::as_str)).collect())
                .unwrap_or_default();
            println!("authentication: {kind} (fields: {})", fields.join(", "));
        }
        None => println!("authentication: none"),
    }
    let mut last_kind = None;
    for op in definition.operations() {
        if last_kind != Some(op.kind) {
            println!("{}:", op.kind.plural());
            last_kind = Some(op.kind);
        }
        let kind = op.trigger_type.map(|t| format!(" [{t}]")).unwrap_or_default();
        println!("  {}{kind}: {} ({})", op.key, op.label, op.methods.join(", "));
        if !op.description.is_empty() {
            println!("      {}", op.description);
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_error_has_its_own_exit_code() {
        let errors = [
            CallError::from(ZError::general("x")),
            ZError::Halted { message: "x".into() }.into(),
            ZError::ExpiredAuth { message: "x".into() }.into(),
            ZError::RefreshAuth { message: "x".into() }.into(),
            ZError::Throttled { message: "x".into(), delay_seconds: None }.into(),
            ZError::Check { failures: vec![] }.into(),
            CallError::Trap { message: "x".into() },
            CallError::NoSuchMethod { path: "x".into(), available: vec![] },
            CallError::InvalidBundle { message: "x".into() },
            CallError::Instantiate { message: "x".into() },
            CallError::State { message: "x".into() },
        ];
        let mut codes: Vec<u8> = errors.iter().map(exit_code).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), errors.len());
        assert!(codes.iter().all(|&code| code >= 10), "0-9 are the command line's own codes");
    }
}
