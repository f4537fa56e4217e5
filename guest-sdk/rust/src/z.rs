//! The `z` object every function receives: HTTP ([`Z::request`]), the
//! cursor, file stashing, logging, callback URLs, dehydration, hashing,
//! JSON parsing and the integration's environment.
//!
//! Each capability is one of the host's imports (see `wit/zapwasm.wit`);
//! this module makes the calls and keeps the pure parts (dehydration strings,
//! hashes, parse errors) in plain functions. [`crate::lifecycle`] does the
//! work of `z.request`; [`crate::export`] builds one `Z` per call.
//!
//! `Z` and the app recurse into each other: a `Z` holds the [`App`] its
//! call runs, the app's functions and middleware take a `&Z`, and
//! [`Z::request`] runs the app's middleware (see [`crate::middleware`]).

use std::fmt::Display;
use std::rc::Rc;

use md5::Md5;
use serde_json::{Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

use zapwasm_rules::{Bundle, method_path};

use crate::app::{App, Handler};
use crate::bindings::zapwasm::integration::{callback, console, cursor, stash};
use crate::error::{ZError, json_parse_error};
use crate::lifecycle::{self, Origin, Transport};
use crate::request::Request;
use crate::response::Response;

/// What one call shares between its function, its middleware and shorthand requests.
pub(crate) struct Invocation {
    app: App,
    bundle: Bundle,
    transport: Box<dyn Transport>,
}

impl Invocation {
    /// A call of `app` with `bundle`, sending requests through `transport`.
    pub(crate) fn new(app: App, bundle: Bundle, transport: Box<dyn Transport>) -> Invocation {
        Invocation { app, bundle, transport }
    }
}

/// The platform's services, as `z` in the reference platform.
///
/// A function gets `&Z` with its bundle:
/// ```
/// use zapwasm_guest::prelude::*;
///
/// fn perform(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
///     let id = bundle.input_str("id").unwrap_or_default();
///     let response = z.request(format!("https://api.example.com/items/{id}"))?;
///     z.console().info(format!("got {}", response.status));
///     Ok(response.data.unwrap_or(Value::Null))
/// }
/// ```
pub struct Z {
    invocation: Rc<Invocation>,
    in_middleware: bool,
}

/// The reference platform's limit on a dehydrated pointer.
const MAX_DEHYDRATED_CHARS: usize = 12_000;

impl Z {
    /// The `z` of a call.
    pub(crate) fn new(invocation: Invocation) -> Z {
        Z { invocation: Rc::new(invocation), in_middleware: false }
    }

    /// The `z` middleware gets: the same call, without `z.request`.
    pub(crate) fn for_middleware(&self) -> Z {
        Z { invocation: Rc::clone(&self.invocation), in_middleware: true }
    }

    pub(crate) fn app(&self) -> &App {
        &self.invocation.app
    }

    pub(crate) fn bundle(&self) -> &Bundle {
        &self.invocation.bundle
    }

    pub(crate) fn transport(&self) -> &dyn Transport {
        self.invocation.transport.as_ref()
    }

    /// What `path` names in the app, if anything (the last of duplicates,
    /// as in the definition JSON).
    pub(crate) fn method(&self, path: &str) -> Option<Handler<'_>> {
        self.invocation.app.method(path)
    }

    fn refuse_in_middleware(&self) -> Result<(), ZError> {
        if self.in_middleware {
            return Err(ZError::general("z.request is not available inside middleware"));
        }
        Ok(())
    }

    /// Makes an HTTP request through the whole lifecycle: defaults, the
    /// app's requestTemplate and beforeRequest, the host (auth, policy, I/O),
    /// afterResponse, then throwForStatus unless skipped. A `&str` or
    /// `String` is a GET of that URL.
    ///
    /// Values go in directly: a `{{bundle.*}}` curly in a request is an error.
    pub fn request(&self, request: impl Into<Request>) -> Result<Response, ZError> {
        self.refuse_in_middleware()?;
        lifecycle::send(self, vec![request.into()], Origin::Author)
            .pop()
            .unwrap_or_else(|| Err(ZError::general("the request was not sent")))
    }

    /// Makes several requests at once (the host sends them in parallel),
    /// each through the whole lifecycle; results in the same order.
    pub fn request_all(&self, requests: Vec<Request>) -> Vec<Result<Response, ZError>> {
        if let Err(error) = self.refuse_in_middleware() {
            return requests.iter().map(|_| Err(error.clone())).collect();
        }
        lifecycle::send(self, requests, Origin::Author)
    }

    /// The cursor: a string kept per subscription for about an hour, for paging.
    pub fn cursor(&self) -> Cursor {
        Cursor { _private: () }
    }

    /// Stores a file and returns a URL later steps can download. Only
    /// creates and hydrators may stash.
    pub fn stash_file(&self, data: impl Into<StashData>) -> Result<String, ZError> {
        self.stash_file_with(data, None, None, None)
    }

    /// [`Z::stash_file`] with the known length, a filename and a content type.
    ///
    /// Unnamed text is `unnamedfile.txt` (text/plain), unnamed bytes
    /// `unnamedfile`; a request's file is named from its Content-Disposition
    /// or URL. A request is made by the host with the app's requestTemplate
    /// and defaults, but without beforeRequest middleware.
    pub fn stash_file_with(
        &self,
        data: impl Into<StashData>,
        known_length: Option<u64>,
        filename: Option<&str>,
        content_type: Option<&str>,
    ) -> Result<String, ZError> {
        let result = match data.into() {
            StashData::Text(text) => stash::stash_bytes(text.as_bytes(), true, known_length, filename, content_type),
            StashData::Bytes(bytes) => stash::stash_bytes(&bytes, false, known_length, filename, content_type),
            StashData::Request(request) => {
                let request = lifecycle::host_request(self, request)?;
                stash::stash_request(&request, filename, content_type)
            }
        };
        result.map_err(ZError::from)
    }

    /// Leveled log lines, kept with the call (secrets censored by the host).
    pub fn console(&self) -> Console {
        Console { _private: () }
    }

    /// A URL unique to this call; a POST to it later runs performResume.
    /// Calling it makes the call wait for the callback.
    pub fn generate_callback_url(&self) -> Result<String, ZError> {
        callback::generate_url().map_err(ZError::from)
    }

    /// A pointer the host turns into the result of `method_path` (a
    /// hydrator: `hydrators.x`, or just `x`) with `bundle.inputData` =
    /// `input_data`, when the value is needed.
    pub fn dehydrate(&self, method_path: &str, input_data: Value) -> Result<String, ZError> {
        let method = self.function_path(method_path)?;
        dehydrated("method", &method, input_data)
    }

    /// As [`Z::dehydrate`], for a hydrator that returns a file to stash.
    pub fn dehydrate_file(&self, method_path: &str, input_data: Value) -> Result<String, ZError> {
        let method = self.function_path(method_path)?;
        dehydrated("file", &method, input_data)
    }

    /// The method path of a function of the app: `path` itself, or `hydrators.<path>`.
    fn function_path(&self, path: &str) -> Result<String, ZError> {
        let hydrator = method_path::hydrator(path);
        [path, hydrator.as_str()]
            .into_iter()
            .find(|candidate| matches!(self.method(candidate), Some(Handler::Function(_))))
            .map(str::to_string)
            .ok_or_else(|| {
                ZError::General(format!(
                    "We could not find your function/array/object anywhere on your App definition: {path}"
                ))
            })
    }

    /// The hex digest of `text` (UTF-8): `sha256`, `sha1`, `md5`, `sha224`, `sha384` or `sha512`.
    pub fn hash(&self, algorithm: &str, text: &str) -> Result<String, ZError> {
        hash_hex(algorithm, text)
    }

    /// Parses JSON; the error quotes the first 100 characters of `text`.
    pub fn json_parse(&self, text: &str) -> Result<Value, ZError> {
        crate::tree::parse(text).map_err(|_| json_parse_error(text))
    }

    /// A variable of the integration's environment (what the operator configured).
    pub fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// `z.cursor`: one string per subscription, kept about an hour.
pub struct Cursor {
    _private: (),
}

impl Cursor {
    /// The stored value, if any.
    pub fn get(&self) -> Option<String> {
        cursor::get()
    }

    /// Stores a value, replacing the previous one.
    pub fn set(&self, value: impl Into<String>) {
        cursor::set(&value.into());
    }
}

/// A log line's level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Detail for debugging.
    Debug,
    /// What happened.
    Info,
    /// Something looks wrong.
    Warn,
    /// Something failed.
    Error,
}

impl From<Level> for console::Level {
    fn from(level: Level) -> console::Level {
        match level {
            Level::Debug => console::Level::Debug,
            Level::Info => console::Level::Info,
            Level::Warn => console::Level::Warn,
            Level::Error => console::Level::Error,
        }
    }
}

/// `z.console`.
pub struct Console {
    _private: (),
}

impl Console {
    /// Logs at `level`.
    pub fn at(&self, level: Level, message: impl Display) {
        console::log(level.into(), &message.to_string());
    }

    /// `console.log`: logs at info.
    pub fn log(&self, message: impl Display) {
        self.at(Level::Info, message);
    }

    /// Logs at debug.
    pub fn debug(&self, message: impl Display) {
        self.at(Level::Debug, message);
    }

    /// Logs at info.
    pub fn info(&self, message: impl Display) {
        self.at(Level::Info, message);
    }

    /// Logs at warn.
    pub fn warn(&self, message: impl Display) {
        self.at(Level::Warn, message);
    }

    /// Logs at error.
    pub fn error(&self, message: impl Display) {
        self.at(Level::Error, message);
    }
}

/// What `z.stash_file` stores.
// A request is large next to the other variants, but a StashData is built
// and consumed once per stash, never stored, so boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum StashData {
    /// Text (an unnamed file is `unnamedfile.txt`, text/plain).
    Text(String),
    /// Bytes (an unnamed file is `unnamedfile`, application/octet-stream).
    Bytes(Vec<u8>),
    /// A request the host makes, storing the response body.
    Request(Request),
}

impl From<&str> for StashData {
    fn from(text: &str) -> StashData {
        StashData::Text(text.to_string())
    }
}

impl From<String> for StashData {
    fn from(text: String) -> StashData {
        StashData::Text(text)
    }
}

impl From<&String> for StashData {
    fn from(text: &String) -> StashData {
        StashData::Text(text.clone())
    }
}

impl From<Vec<u8>> for StashData {
    fn from(bytes: Vec<u8>) -> StashData {
        StashData::Bytes(bytes)
    }
}

impl From<&[u8]> for StashData {
    fn from(bytes: &[u8]) -> StashData {
        StashData::Bytes(bytes.to_vec())
    }
}

impl From<Request> for StashData {
    fn from(request: Request) -> StashData {
        StashData::Request(request)
    }
}

/// The pointer `z.dehydrate` returns:
/// `hydrate|||{"type":..,"method":..,"bundle":..}|||hydrate`.
pub(crate) fn dehydrated(kind: &str, method: &str, input_data: Value) -> Result<String, ZError> {
    let input_data = if input_data.is_null() { json!({}) } else { input_data };
    if input_data.get("authData").is_some() && input_data.get("inputData").is_some() {
        return Err(ZError::general(
            "Oops! You passed a full `bundle` - really you should pass what you want under `inputData`!",
        ));
    }
    let payload = json!({ "type": kind, "method": method, "bundle": input_data });
    let pointer = format!("hydrate|||{payload}|||hydrate");
    let length = pointer.chars().count();
    if length > MAX_DEHYDRATED_CHARS {
        return Err(ZError::General(format!(
            "Oops! You passed too much data ({length} characters) to your dehydration function - \
             try slimming it down under {MAX_DEHYDRATED_CHARS} characters (usually by just passing the needed IDs)."
        )));
    }
    Ok(pointer)
}

/// The hex digest of `text` by `algorithm`.
pub(crate) fn hash_hex(algorithm: &str, text: &str) -> Result<String, ZError> {
    let bytes = text.as_bytes();
    let digest = match algorithm.to_ascii_lowercase().as_str() {
        "sha256" => hex::encode(Sha256::digest(bytes)),
        "sha1" => hex::encode(Sha1::digest(bytes)),
        "md5" => hex::encode(Md5::digest(bytes)),
        "sha224" => hex::encode(Sha224::digest(bytes)),
        "sha384" => hex::encode(Sha384::digest(bytes)),
        "sha512" => hex::encode(Sha512::digest(bytes)),
        other => {
            return Err(ZError::General(format!(
                "Unsupported hash algorithm {other:?}: use sha256, sha1, md5, sha224, sha384 or sha512"
            )));
        }
    };
    Ok(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_hex_digests() {
        assert_eq!(
            hash_hex("sha256", "hello").unwrap(),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(hash_hex("sha1", "hello").unwrap(), "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d");
        assert_eq!(hash_hex("md5", "hello").unwrap(), "5d41402abc4b2a76b9719d911017c592");
        assert!(hash_hex("crc32", "hello").is_err());
    }

    #[test]
    fn a_dehydrated_pointer_names_type_method_and_bundle() {
        assert_eq!(
            dehydrated("method", "hydrators.file", json!({"id": 7})).unwrap(),
            r#"hydrate|||{"type":"method","method":"hydrators.file","bundle":{"id":7}}|||hydrate"#
        );
        assert_eq!(
            dehydrated("file", "hydrators.file", Value::Null).unwrap(),
            r#"hydrate|||{"type":"file","method":"hydrators.file","bundle":{}}|||hydrate"#
        );
    }

    #[test]
    fn a_whole_bundle_is_refused() {
        let error = dehydrated("method", "hydrators.x", json!({"authData": {}, "inputData": {}})).unwrap_err();
        assert!(error.to_string().contains("You passed a full `bundle`"), "{error}");
        assert!(dehydrated("method", "hydrators.x", json!({"inputData": {}})).is_ok());
    }

    #[test]
    fn a_pointer_holds_at_most_12000_characters() {
        let overhead = dehydrated("method", "hydrators.x", json!({"v": ""})).unwrap().len();
        let fits = "x".repeat(MAX_DEHYDRATED_CHARS - overhead);
        let pointer = dehydrated("method", "hydrators.x", json!({ "v": fits })).unwrap();
        assert_eq!(pointer.len(), MAX_DEHYDRATED_CHARS);
        let over = "x".repeat(MAX_DEHYDRATED_CHARS - overhead + 1);
        let error = dehydrated("method", "hydrators.x", json!({ "v": over })).unwrap_err();
        assert!(error.to_string().contains("too much data"), "{error}");
    }
}
