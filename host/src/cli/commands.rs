//! The commands: each takes its configuration and prints.

use std::path::Path;
use std::process::ExitCode;

use crate::{App, Invocation, LogLine, Outcome, Scope, Status};
use serde_json::Value;

use super::args::{Cli, Command, DescribeArgs, HostArgs, InvokeArgs};
use super::config::{self, InvokeConfig};
use super::{EXIT_LOAD, EXIT_USAGE};

pub async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Invoke(args) => invoke(args).await,
        Command::Describe(args) => describe(args).await,
    }
}

fn usage(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("zapwasm: {message}");
    ExitCode::from(EXIT_USAGE)
}

async fn load(component: &Path, host_args: &HostArgs) -> Result<App, ExitCode> {
    let host = config::build_host(host_args).map_err(usage)?;
    host.load_file(component).await.map_err(|e| {
        eprintln!("zapwasm: cannot load {}: {e}", component.display());
        ExitCode::from(EXIT_LOAD)
    })
}

async fn invoke(args: InvokeArgs) -> ExitCode {
    let config = match InvokeConfig::from_args(&args) {
        Ok(config) => config,
        Err(e) => return usage(e),
    };
    let app = match load(&args.component, &args.host).await {
        Ok(app) => app.with_env(config.env.clone()).with_secret_env(config.secret_env.clone()),
        Err(code) => return code,
    };
    let method = match config::method_path(&args.method, app.definition(), &config.bundle) {
        Ok(method) => method,
        Err(e) => return usage(e),
    };
    let mut scope = Scope::new(integration_id(&app), args.account.clone());
    scope.subscription = args.subscription.clone();
    let outcome = app.invoke(Invocation::new(method, config.bundle.clone()).scope(scope)).await;
    let label = args.method.len() == 2 && args.method[0] == "auth" && args.method[1] == "label";
    print_outcome(&outcome, &args, label.then(|| (app.definition(), &config.bundle)))
}

/// The integration's ID for scoping state: its content hash, so two
/// different components never share cursors.
fn integration_id(app: &App) -> String {
    app.load_info().digest[..16].to_string()
}

fn print_outcome(
    outcome: &Outcome,
    args: &InvokeArgs,
    label: Option<(&crate::Definition, &crate::Bundle)>,
) -> ExitCode {
    if args.outcome {
        match serde_json::to_string_pretty(outcome) {
            Ok(json) => println!("{json}"),
            Err(e) => eprintln!("zapwasm: cannot print the outcome: {e}"),
        }
    } else if !args.quiet {
        for line in &outcome.logs {
            print_log(line);
        }
    }
    match &outcome.result {
        Ok(value) => {
            if !args.outcome {
                match label {
                    Some((definition, bundle)) => {
                        println!("{}", connection_label(definition, bundle, value))
                    }
                    None => println!("{}", serde_json::to_string_pretty(value).unwrap_or_default()),
                }
            }
            if outcome.status == Status::Callback {
                if let Some(url) = &outcome.callback_url {
                    eprintln!(
                        "zapwasm: the call is waiting for a callback at {url}; POST to it, then run performResume"
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("zapwasm: {} error: {error}", error.kind());
            ExitCode::from(error.exit_code() as u8)
        }
    }
}

fn print_log(line: &LogLine) {
    let level = serde_json::to_value(line.level).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    let source =
        serde_json::to_value(line.source).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    eprintln!("[{level} {source}] {}", line.message);
}

/// Render `authentication.connectionLabel` from the test result and authData.
fn connection_label(definition: &crate::Definition, bundle: &crate::Bundle, test_result: &Value) -> String {
    let Some(template) = definition.get("authentication.connectionLabel").and_then(Value::as_str) else {
        return String::new();
    };
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            break;
        };
        let path = rest[start + 2..start + end].trim();
        let value = if let Some(p) = path.strip_prefix("bundle.authData.") {
            bundle.auth_data.get(p).cloned()
        } else if let Some(p) = path.strip_prefix("bundle.inputData.") {
            test_result.get(p).cloned()
        } else {
            test_result.get(path).cloned()
        };
        match value {
            Some(Value::String(s)) => out.push_str(&s),
            Some(Value::Null) | None => {}
            Some(other) => out.push_str(&other.to_string()),
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

async fn describe(args: DescribeArgs) -> ExitCode {
    let app = match load(&args.component, &args.host).await {
        Ok(app) => app,
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
