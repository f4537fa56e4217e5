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

use std::borrow::Cow;
use std::fmt::Display;
use std::rc::Rc;

use crate::Value;
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

use zapwasm_rules::dehydrate::{self, Kind};
use zapwasm_rules::method_path;

use crate::Bundle;

use crate::app::{App, Handler};
use crate::bindings::zapwasm::integration::{callback, console, cursor, hydration, stash};
use crate::error::{ZError, json_parse_error};
use crate::lifecycle::{self, Origin, Transport};
use crate::request::Request;
use crate::response::Response;
#[cfg(any(test, feature = "testing"))]
use crate::testing::FakeHost;

/// What one call shares between its function, its middleware and shorthand requests.
pub(crate) struct Invocation {
    /// The app: built for this call, or the one the instance keeps.
    app: Cow<'static, App>,
    bundle: Bundle,
    transport: Box<dyn Transport>,
    /// The environment `z.env` reads, when not the process's: a native
    /// test's (`testing`), so a test sees only what it set.
    env: Option<Vec<(String, String)>>,
    /// A native test's stand-in for the imports other than `http`
    /// (`testing`); without one, the host's imports.
    #[cfg(any(test, feature = "testing"))]
    fake: Option<FakeHost>,
}

impl Invocation {
    /// A call of `app` with `bundle`, sending requests through `transport`.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn new(app: App, bundle: Bundle, transport: Box<dyn Transport>) -> Invocation {
        Invocation { app: Cow::Owned(app), bundle, transport, env: None, fake: None }
    }

    /// A call of the app the instance keeps (built once, see
    /// [`export_app!`](crate::export_app)).
    pub(crate) fn of_kept(app: &'static App, bundle: Bundle, transport: Box<dyn Transport>) -> Invocation {
        Invocation {
            app: Cow::Borrowed(app),
            bundle,
            transport,
            env: None,
            #[cfg(any(test, feature = "testing"))]
            fake: None,
        }
    }

    /// The same call with only this environment visible to `z.env`.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn with_env(mut self, env: Vec<(String, String)>) -> Invocation {
        self.env = Some(env);
        self
    }

    /// The same call with the cursor, stash, console, callback and
    /// hydration imports answered by `fake`.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn with_fake(mut self, fake: FakeHost) -> Invocation {
        self.fake = Some(fake);
        self
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

    /// A native test's stand-in for the imports, if this call has one.
    #[cfg(any(test, feature = "testing"))]
    fn fake(&self) -> Option<FakeHost> {
        self.invocation.fake.clone()
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
        Cursor {
            _private: (),
            #[cfg(any(test, feature = "testing"))]
            fake: self.fake(),
        }
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
        #[cfg(any(test, feature = "testing"))]
        if let Some(fake) = self.fake() {
            return match data.into() {
                StashData::Text(text) => fake.stash(text.into_bytes(), true, known_length, filename, content_type),
                StashData::Bytes(bytes) => fake.stash(bytes, false, known_length, filename, content_type),
                StashData::Request(request) => {
                    let request = lifecycle::host_request(self, request)?;
                    fake.stash_request(&request, self.transport(), filename, content_type)
                }
            };
        }
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
        Console {
            _private: (),
            #[cfg(any(test, feature = "testing"))]
            fake: self.fake(),
        }
    }

    /// A URL unique to this call; a POST to it later runs performResume.
    /// Calling it makes the call wait for the callback.
    pub fn generate_callback_url(&self) -> Result<String, ZError> {
        #[cfg(any(test, feature = "testing"))]
        if let Some(fake) = self.fake() {
            return Ok(fake.callback_url());
        }
        callback::generate_url().map_err(ZError::from)
    }

    /// A dehydrated value: a string standing for the result of the
    /// hydrator `method_path` (`hydrators.x`, or just `x`) called with
    /// `bundle.inputData` = `input_data` and the account's authData, which
    /// the platform calls only when a later step needs the value. Perfect
    /// for what costs an API call per item of a poll.
    ///
    /// The string is `hydrate|||{"type":"method","method":..,"bundle":..}|||hydrate`
    /// ([`zapwasm_rules::dehydrate`]); a host with a hydration secret signs
    /// it here (the `hydration` import) and hydrates only what it signed.
    /// Errors, with the
    /// reference platform's messages: `method_path` names no function of the
    /// app; `input_data` holds a truthy `inputData` (a whole bundle passed
    /// by mistake) or is neither an object nor null; the JSON holds more
    /// than 12,000 characters (pass IDs, not records). Its `environment`
    /// key is left out.
    ///
    /// ```no_run
    /// use zapwasm_guest::prelude::*;
    ///
    /// fn new_orders(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    ///     let orders = z.request("https://api.example.com/orders")?.data.unwrap_or(json!([]));
    ///     let mut items = Vec::new();
    ///     for mut order in orders.as_array().cloned().unwrap_or_default() {
    ///         // Fetched only if a step uses it.
    ///         order["customer"] = json!(z.dehydrate("hydrators.customer", json!({"id": order["customer_id"]}))?);
    ///         items.push(order);
    ///     }
    ///     Ok(Value::Array(items))
    /// }
    /// ```
    pub fn dehydrate(&self, method_path: &str, input_data: Value) -> Result<String, ZError> {
        let method = self.function_path(method_path)?;
        self.sealed(dehydrated(Kind::Method, &method, &input_data)?)
    }

    /// As [`Z::dehydrate`], for a file: the hydrator stashes the file
    /// ([`Z::stash_file`], allowed in hydrators) and returns its URL, which
    /// the platform downloads when a step needs the file. The string's
    /// `type` is `file`.
    pub fn dehydrate_file(&self, method_path: &str, input_data: Value) -> Result<String, ZError> {
        let method = self.function_path(method_path)?;
        self.sealed(dehydrated(Kind::File, &method, &input_data)?)
    }

    /// The pointer as the host seals it (signed, when the host signs): only
    /// pointers made here are, never text that passes through a result.
    fn sealed(&self, pointer: String) -> Result<String, ZError> {
        #[cfg(any(test, feature = "testing"))]
        if let Some(fake) = self.fake() {
            return fake.seal(&pointer);
        }
        hydration::seal(&pointer).map_err(ZError::from)
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
        crate::from_str(text).map_err(|_| json_parse_error(text))
    }

    /// A variable of the integration's environment (what the operator configured).
    pub fn env(&self, name: &str) -> Option<String> {
        if let Some(env) = &self.invocation.env {
            return env.iter().rev().find(|(key, _)| key == name).map(|(_, value)| value.clone());
        }
        std::env::var(name).ok()
    }
}

/// `z.cursor`: one string per subscription, kept about an hour.
pub struct Cursor {
    _private: (),
    #[cfg(any(test, feature = "testing"))]
    fake: Option<FakeHost>,
}

impl Cursor {
    /// The stored value, if any.
    pub fn get(&self) -> Option<String> {
        #[cfg(any(test, feature = "testing"))]
        if let Some(fake) = &self.fake {
            return fake.cursor_get();
        }
        cursor::get()
    }

    /// Stores a value, replacing the previous one.
    pub fn set(&self, value: impl Into<String>) {
        #[cfg(any(test, feature = "testing"))]
        if let Some(fake) = &self.fake {
            return fake.cursor_set(value.into());
        }
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
    #[cfg(any(test, feature = "testing"))]
    fake: Option<FakeHost>,
}

impl Console {
    /// Logs at `level`.
    pub fn at(&self, level: Level, message: impl Display) {
        #[cfg(any(test, feature = "testing"))]
        if let Some(fake) = &self.fake {
            return fake.log(level, message.to_string());
        }
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

/// The string `z.dehydrate` writes, or the platform's error.
pub(crate) fn dehydrated(kind: Kind, method: &str, input_data: &Value) -> Result<String, ZError> {
    dehydrate::dehydrate(kind, method, input_data).map_err(|error| ZError::General(error.to_string()))
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
    use crate::json;

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
            dehydrated(Kind::Method, "hydrators.file", &json!({"id": 7, "environment": {"KEY": "k"}})).unwrap(),
            r#"hydrate|||{"type":"method","method":"hydrators.file","bundle":{"id":7}}|||hydrate"#
        );
        assert_eq!(
            dehydrated(Kind::File, "hydrators.file", &Value::Null).unwrap(),
            r#"hydrate|||{"type":"file","method":"hydrators.file","bundle":{}}|||hydrate"#
        );
    }

    #[test]
    fn a_whole_bundle_is_refused() {
        let error = dehydrated(Kind::Method, "hydrators.x", &json!({"authData": {}, "inputData": {}})).unwrap_err();
        assert_eq!(
            error,
            ZError::General(
                "Oops! You passed a full `bundle` - really you should pass what you want under `inputData`!".into()
            )
        );
        assert!(dehydrated(Kind::Method, "hydrators.x", &json!({"inputData": ""})).is_ok(), "a falsy key is data");
        assert!(dehydrated(Kind::Method, "hydrators.x", &json!(["not", "an", "object"])).is_err());
    }

    #[test]
    fn an_over_long_pointer_is_refused() {
        let overhead = dehydrated(Kind::Method, "hydrators.x", &json!({"v": ""})).unwrap().len()
            - dehydrate::START.len()
            - dehydrate::END.len();
        let fits = "x".repeat(dehydrate::MAX_PAYLOAD_CHARS - overhead);
        assert!(dehydrated(Kind::Method, "hydrators.x", &json!({ "v": fits })).is_ok());
        let over = "x".repeat(dehydrate::MAX_PAYLOAD_CHARS - overhead + 1);
        let error = dehydrated(Kind::Method, "hydrators.x", &json!({ "v": over })).unwrap_err();
        assert_eq!(
            error.to_string(),
            "Oops! You passed too much data (12001 bytes) to your dehydration function - try slimming it down \
             under 12000 bytes (usually by just passing the needed IDs)."
        );
    }
}
