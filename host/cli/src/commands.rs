//! The commands: each takes its configuration and prints.

use std::path::Path;
use std::process::ExitCode;

use serde_json::Value;
use zapwasm_host::{App, Host, Invocation};

use crate::EXIT_LOAD;
use crate::args::{Cli, Command, DescribeArgs, HostArgs, InvokeArgs};
use crate::config::{self, InvokeConfig, scope};
use crate::report::{print_outcome, usage, with_causes};
use crate::{connect, flows};

pub async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Invoke(args) => invoke(*args).await,
        Command::Describe(args) => describe(*args).await,
    }
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
    let invocation = Invocation::new(method, config.bundle, scope(&args));
    let label = args.method.len() == 2 && args.method[0] == "auth" && args.method[1] == "label";
    let outcome = if label { app.connection_label(invocation).await } else { app.invoke(invocation).await };
    print_outcome(&outcome, &args)
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
