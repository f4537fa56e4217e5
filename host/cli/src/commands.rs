//! The commands: each takes its configuration and prints.

use std::path::Path;
use std::process::ExitCode;

use serde_json::Value;
use zapwasm_host::{App, Host, Invocation};

use crate::EXIT_LOAD;
use crate::args::{Cli, Command, DescribeArgs, HostArgs, InvokeArgs, ServeArgs};
use crate::config::{self, InvokeConfig, MethodError, scope};
use crate::report::{EXIT_NO_SUCH_METHOD, out, print_json, print_outcome, safe, usage, with_causes};
use crate::{connect, flows};

pub async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Invoke(args) => invoke(*args).await,
        Command::Describe(args) => describe(*args).await,
        Command::Serve(args) => serve(*args).await,
        Command::Validate(args) => crate::validate::run(*args).await,
        Command::Build(args) => crate::component::build_command(*args).await,
        Command::Init(args) => crate::init::run(*args),
        Command::Test(args) => crate::testcmd::run(*args).await,
    }
}

/// `zapwasm serve`: the config file, then the environment, then the flags,
/// handed to zapwasm-serve; the service's first line on stdout says where
/// it listens.
async fn serve(args: ServeArgs) -> ExitCode {
    use std::io::Write as _;
    use zapwasm_serve::{Config, ServeError, Server};

    init_tracing();
    let config = (|| -> Result<Config, ServeError> {
        let mut config = match &args.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        config.apply_env(std::env::vars())?;
        if let Some(listen) = &args.listen {
            config.listen = Some(listen.clone());
        }
        if let Some(url) = &args.public_url {
            config.public_url = Some(url.clone());
        }
        if let Some(dir) = &args.state_dir {
            config.state_dir = Some(dir.clone());
        }
        if let Some(dir) = &args.cache_dir {
            config.cache_dir = Some(dir.clone());
        }
        config.dev |= args.dev;
        config.policy.allow_loopback |= args.allow_loopback;
        for app in &args.app {
            config.add_app(app)?;
        }
        for pair in &args.app_env {
            config.add_app_env(pair)?;
        }
        Ok(config)
    })();
    let config = match config {
        Ok(config) => config,
        Err(e) => return usage(e),
    };
    let server = match Server::bind(config).await {
        Ok(server) => server,
        Err(e @ ServeError::Config(_)) => return usage(e),
        Err(e @ ServeError::Load { .. }) => {
            eprintln!("zapwasm: {e}");
            return ExitCode::from(EXIT_LOAD);
        }
        Err(e) => {
            eprintln!("zapwasm: {}", with_causes(&e));
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "listening on http://{}", server.local_addr()).and_then(|()| stdout.flush()).is_err() {
        eprintln!("zapwasm: cannot write to stdout");
    }
    drop(stdout);
    match server.run(terminated()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zapwasm: {}", with_causes(&e));
            ExitCode::FAILURE
        }
    }
}

/// Logs on stderr, at the level of `ZAPWASM_LOG` (error, warn, info,
/// debug, trace; default info).
fn init_tracing() {
    use tracing_subscriber::filter::LevelFilter;
    let level = match std::env::var("ZAPWASM_LOG").unwrap_or_default().to_ascii_lowercase().as_str() {
        "error" => LevelFilter::ERROR,
        "warn" => LevelFilter::WARN,
        "debug" => LevelFilter::DEBUG,
        "trace" => LevelFilter::TRACE,
        "off" => LevelFilter::OFF,
        _ => LevelFilter::INFO,
    };
    let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).with_max_level(level).with_ansi(false).try_init();
}

/// Resolves on Ctrl-C, or on SIGTERM where there are signals.
async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn load(component: &Path, host_args: &HostArgs) -> Result<(Host, App), ExitCode> {
    let host = config::build_host(host_args, component).map_err(usage)?;
    // A crate's directory is built first, so nothing runs a stale component.
    let component = &crate::component::resolve(Some(component)).await?;
    let app = host.load_file(component).await.map_err(|e| {
        eprintln!("zapwasm: cannot load {}: {}", component.display(), safe(&with_causes(&e)));
        ExitCode::from(EXIT_LOAD)
    })?;
    Ok((host, app))
}

async fn invoke(args: InvokeArgs) -> ExitCode {
    let mut config = match InvokeConfig::from_args(&args) {
        Ok(config) => config,
        Err(e) => return usage(e),
    };
    let (host, app) = match load(&args.component, &args.host).await {
        Ok((host, app)) => (host, app.with_env(config.env.clone()).with_secret_env(config.secret_env.clone())),
        Err(code) => return code,
    };
    if let Err(code) = crate::inputs::prepare(&app, &args, &mut config).await {
        return code;
    }
    match args.method.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["auth", "start"] => return connect::start(&app, &args, config).await,
        ["auth", "refresh"] => return connect::refresh(&app, &args, config).await,
        _ => {}
    }
    if let Some(code) = crate::search_or_create::run(&app, &args, &config).await {
        return code;
    }
    if let Some(code) = flows::run(&host, &app, &args, &config).await {
        return code;
    }
    let method = match config::method_path(&args.method, app.definition(), &config.bundle) {
        Ok(method) => method,
        Err(MethodError::Usage(e)) => return usage(e),
        // As the call's own `no_such_method`, whichever way it was spelled.
        Err(MethodError::NoSuchMethod(message)) => {
            eprintln!("zapwasm: no_such_method error: {}", safe(&message));
            return ExitCode::from(EXIT_NO_SUCH_METHOD);
        }
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
        print_json(definition.json());
        return ExitCode::SUCCESS;
    }
    // Every text below but the file name is the integration's own.
    let version = definition.get("version").and_then(Value::as_str).unwrap_or("?");
    out(format_args!("{} (version {})", args.component.display(), safe(version)));
    match definition.auth_type() {
        Some(kind) => {
            let fields: Vec<&str> = definition
                .get("authentication.fields")
                .and_then(Value::as_array)
                .map(|f| f.iter().filter_map(|f| f.get("key").and_then(Value::as_str)).collect())
                .unwrap_or_default();
            out(format_args!("authentication: {} (fields: {})", safe(kind), safe(&fields.join(", "))));
        }
        None => out("authentication: none"),
    }
    let mut last_kind = None;
    for op in definition.operations() {
        if last_kind != Some(op.kind) {
            out(format_args!("{}:", op.kind.plural()));
            last_kind = Some(op.kind);
        }
        let kind = op.trigger_type.map(|t| format!(" [{t}]")).unwrap_or_default();
        out(format_args!(
            "  {}: {} ({})",
            safe(&format!("{}{kind}", op.key)),
            safe(&op.label),
            safe(&op.methods.join(", "))
        ));
        if !op.description.is_empty() {
            out(format_args!("      {}", safe(&op.description)));
        }
        let operation = definition.json().get(op.kind.plural()).and_then(|ops| ops.get(&op.key));
        for (list, name) in [("inputFields", "input"), ("outputFields", "output")] {
            let fields = operation
                .and_then(|op| op.pointer(&format!("/operation/{list}")))
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            for (index, field) in fields.iter().enumerate() {
                let lead = if index == 0 { format!("{name}:") } else { String::new() };
                out(format_args!("      {lead:<8}{}", describe_field(field)));
            }
        }
    }
    ExitCode::SUCCESS
}

/// One input or output field as `describe` shows it: `key (label; type;
/// required; list; dynamic TRIGGER.ID.LABEL; default VALUE)`, or the method
/// whose result adds fields when it is a function.
fn describe_field(field: &Value) -> String {
    if let Some(method) = field.get("$func").and_then(Value::as_str) {
        return format!("(fields from {}, resolved when the operation runs)", safe(method));
    }
    let text = |name: &str| field.get(name).and_then(Value::as_str).filter(|text| !text.is_empty());
    let flag = |name: &str| field.get(name).and_then(Value::as_bool) == Some(true);
    let mut parts = Vec::new();
    if let Some(label) = text("label") {
        parts.push(label.to_string());
    }
    parts.push(text("type").unwrap_or("string").to_string());
    for name in ["required", "list", "computed"] {
        if flag(name) {
            parts.push(name.to_string());
        }
    }
    if let Some(dynamic) = text("dynamic") {
        parts.push(format!("dynamic {dynamic}"));
    }
    if let Some(default) = field.get("default").filter(|value| !value.is_null()) {
        parts.push(format!("default {default}"));
    }
    if field.get("children").is_some() {
        parts.push("line items".into());
    }
    let key = text("key").unwrap_or("?");
    safe(&format!("{key} ({})", parts.join("; "))).into_owned()
}
