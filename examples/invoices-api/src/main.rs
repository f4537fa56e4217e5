//! The `invoices-api` binary: serves the example invoicing API until
//! Ctrl-C, with the default OAuth client (`invoices-client`,
//! `invoices-secret`).
//!
//! ```text
//! invoices-api [--addr 127.0.0.1:8788]
//! ```
//!
//! Prints one line, `listening on http://127.0.0.1:PORT`, once it accepts
//! connections.

use std::net::SocketAddr;
use std::process::ExitCode;

const USAGE: &str = "usage: invoices-api [--addr 127.0.0.1:8788]";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = match &args[..] {
        [] => "127.0.0.1:8788".to_string(),
        [flag, addr] if flag == "--addr" => addr.clone(),
        [flag] if flag == "-h" || flag == "--help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("invoices-api: {USAGE}");
            return ExitCode::from(2);
        }
    };
    let Ok(addr) = addr.parse::<SocketAddr>() else {
        eprintln!("invoices-api: --addr {addr:?} is not an address like 127.0.0.1:8788");
        return ExitCode::from(2);
    };
    let api = match invoices_api::start(addr, invoices_api::Config::default()).await {
        Ok(api) => api,
        Err(e) => {
            eprintln!("invoices-api: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}", api.base_url);
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}
