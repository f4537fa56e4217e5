//! zapwasm's end-to-end tests, in one binary: the host, real components
//! built from the guests in this repository, and real HTTP servers on
//! 127.0.0.1.

mod auth;
mod author_path;
mod censoring;
mod checks;
mod cli;
mod cli_edges;
mod connect;
mod crm;
mod errors;
mod flows;
mod hostile;
mod hydration;
mod init;
mod invoices;
mod load;
mod request;
mod run;
mod sandbox;
mod serve;
mod serve_connect;
mod serve_lifecycle;
mod snapshot;
mod state;
mod testing;
mod validate;
