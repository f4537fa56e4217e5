//! zapwasm-rules: what both sides of the WIT boundary (`wit/zapwasm.wit`)
//! must agree on, written once.
//!
//! The host (`zapwasm-host`) and the Rust guest SDK (`zapwasm-guest`) both
//! depend on this crate, so a bundle the host writes is the bundle the SDK
//! reads, and the URL an SDK names in an error is the URL the host sent.
//! Every rule here also has language-neutral JSON test vectors in
//! `wit/rules/vectors/`, which every SDK runs (this crate's tests run them
//! on serde_json's `Value`, the Rust SDK's tests on its own `Value`, through
//! its `vectors` module, feature `vectors`).
//!
//! One module per rule, each written on [`json`]'s traits, which both
//! sides' JSON types implement (the host's `serde_json::Value`, the guest
//! SDK's own `Value`):
//!
//! - [`json`]: the JSON data model the rules are written on;
//! - [`bundle`]: the bundle's shape;
//! - [`param_encoding`]: a param's key or value as `encodeURIComponent`
//!   writes it, `skipEncodingChars` kept raw;
//! - [`form`]: form bodies encoded and decoded;
//! - [`url_params`]: params as the wire carries them, appended to a URL's
//!   query, and composed from the requestTemplate's, the request's and the
//!   URLs' queries;
//! - [`merge`]: one request's JSON parts merged over another's (lodash's
//!   `_.merge`, as the reference runtime merges them);
//! - [`curly`]: finding `{{...}}`, telling the platform's apart, rendering
//!   a shorthand request's;
//! - [`method_path`]: how the definition names functions, and how such a
//!   name splits;
//! - [`dehydrate`]: the string `z.dehydrate` returns in place of a value,
//!   and how the host reads it back;
//! - [`text`]: how a JSON value is written where text is expected.
//!
//! It does no I/O and builds for the host and for `wasm32-wasip2`.
//!
//! ```
//! use zapwasm_rules::url_params::{self, ParamOptions};
//!
//! // The URL the host sends, and the URL the SDK names in an error.
//! let params = serde_json::json!({"q": "a b", "tag": ["x", "y"], "gone": null});
//! let pairs = url_params::pairs(params.as_object().unwrap());
//! let url = url_params::url_with_params("https://api.test/items?page=2", &pairs, &ParamOptions::default());
//! assert_eq!(url, "https://api.test/items?page=2&q=a%20b&tag=x&tag=y&gone=");
//! ```

pub mod bundle;
pub mod curly;
pub mod dehydrate;
pub mod form;
pub mod json;
pub mod merge;
pub mod method_path;
pub mod param_encoding;
pub mod stash;
pub mod text;
pub mod url_params;

#[cfg(test)]
use zapwasm_fuzzing as fuzzing;
#[cfg(any(test, feature = "vectors"))]
pub mod vectors;

pub use bundle::{BufferedItem, BufferedItemOf, BufferedMeta, Bundle, BundleOf, Meta};
