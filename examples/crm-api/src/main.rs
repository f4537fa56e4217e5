//! The `crm-api` binary: serves the example CRM API until killed.
//!
//! ```text
//! crm-api [--addr 127.0.0.1:8787] [--api-key KEY]...
//! ```
//!
//! Prints exactly one line, `listening on http://127.0.0.1:PORT`, to stdout
//! once it accepts connections (scripts wait for it and read the URL from
//! it), then serves until Ctrl-C or SIGTERM. `--api-key` may repeat; without
//! it the key is `demo-key`.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use crm_api::Config;

const USAGE: &str = "usage: crm-api [--addr 127.0.0.1:8787] [--api-key KEY]...";
const DEFAULT_ADDR: &str = "127.0.0.1:8787";

/// The command line, parsed and validated.
#[derive(Debug)]
struct Args {
    addr: SocketAddr,
    api_keys: Vec<String>,
}

/// What the command line asks for.
enum Command {
    Serve(Args),
    Help,
}

fn parse_args(mut raw: impl Iterator<Item = String>) -> Result<Command, String> {
    let mut addr = None;
    let mut api_keys = Vec::new();
    while let Some(arg) = raw.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag.to_string(), Some(value.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| inline.clone().or_else(|| raw.next()).ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--addr" => {
                let text = value("--addr")?;
                addr =
                    Some(text.parse().map_err(|_| format!("--addr {text:?} is not an address like {DEFAULT_ADDR}"))?);
            }
            "--api-key" => {
                let key = value("--api-key")?;
                if key.is_empty() {
                    return Err("--api-key cannot be empty".to_string());
                }
                api_keys.push(key);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let addr = match addr {
        Some(addr) => addr,
        None => DEFAULT_ADDR.parse().map_err(|_| "the default address does not parse".to_string())?,
    };
    Ok(Command::Serve(Args { addr, api_keys }))
}

/// The API's configuration from the arguments: the given keys, or the
/// default ones when none were given.
fn config(args: &Args) -> Config {
    let defaults = Config::default();
    let api_keys = if args.api_keys.is_empty() { defaults.api_keys.clone() } else { args.api_keys.clone() };
    Config { api_keys, ..defaults }
}

/// Resolves on Ctrl-C, or on SIGTERM where there are signals.
async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Command::Serve(args)) => args,
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("crm-api: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let api = match crm_api::start(args.addr, config(&args)).await {
        Ok(api) => api,
        Err(error) => {
            eprintln!("crm-api: cannot serve on {}: {error}", args.addr);
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "listening on {}", api.base_url).and_then(|()| stdout.flush()).is_err() {
        eprintln!("crm-api: cannot write to stdout");
    }
    drop(stdout);
    terminated().await;
    api.shutdown().await;
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, String> {
        parse_args(args.iter().map(|arg| arg.to_string()))
    }

    #[test]
    fn defaults_to_port_8787_and_the_demo_key() {
        let Ok(Command::Serve(args)) = parse(&[]) else { panic!("serves") };
        assert_eq!(args.addr, "127.0.0.1:8787".parse().unwrap());
        assert_eq!(config(&args).api_keys, ["demo-key"]);
    }

    #[test]
    fn takes_an_address_and_repeated_keys_in_both_forms() {
        let Ok(Command::Serve(args)) = parse(&["--addr", "127.0.0.1:0", "--api-key", "a", "--api-key=b"]) else {
            panic!("serves")
        };
        assert_eq!(args.addr.port(), 0);
        assert_eq!(config(&args).api_keys, ["a", "b"]);
    }

    #[test]
    fn refuses_what_it_does_not_understand() {
        assert!(parse(&["--addr"]).is_err());
        assert!(parse(&["--addr", "localhost"]).is_err());
        assert!(parse(&["--api-key="]).is_err());
        assert!(parse(&["--verbose"]).is_err());
        assert!(matches!(parse(&["--help"]), Ok(Command::Help)));
    }
}
