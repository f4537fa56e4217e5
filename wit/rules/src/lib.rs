//! zapwasm-rules: what both sides of the WIT boundary (`wit/zapwasm.wit`)
//! must agree on, written once.
//!
//! The host (`zapwasm-host`) and the Rust guest SDK (`zapwasm-guest`) both
//! depend on this crate, so a bundle the host writes is the bundle the SDK
//! reads, and the URL an SDK names in an error is the URL the host sent.
//! Every rule here also has language-neutral JSON test vectors in
//! `wit/rules/vectors/`, which every SDK runs (this crate's tests run them
//! for Rust).
//!
//! It does no I/O and builds for the host and for `wasm32-wasip2`.

pub mod bundle;

pub use bundle::{BufferedItem, BufferedMeta, Bundle, Meta};
