//! Method paths: the names the host calls an integration's functions by
//! (`run(method-path, bundle)`), how they are formed and how they split.
//!
//! A method path is the JSON path, in the definition, of a function's
//! marker `{"$func": "<its method path>"}` or of a shorthand request
//! object: the keys and array indices from the root, joined by `.`.
//!
//! - `authentication.test`, `authentication.connectionLabel`,
//!   `authentication.sessionConfig.perform`,
//!   `authentication.oauth2Config.{authorizeUrl,getAccessToken,refreshAccessToken}`,
//!   `authentication.oauth1Config.{getRequestToken,authorizeUrl,getAccessToken}`;
//! - `beforeRequest.<i>` and `afterResponse.<i>`: middleware, listed in
//!   the definition but only ever run inside `z.request`;
//! - `<triggers|searches|creates>.<key>.operation.<method>`, the method
//!   `perform`, `performList`, `performSubscribe`, `performUnsubscribe`,
//!   `performResume`, `performBuffer`, or `inputFields.<i>` /
//!   `outputFields.<i>` for a function giving dynamic fields;
//! - `hydrators.<name>`.
//!
//! An index is written in decimal, without sign or leading zeros. A key
//! may itself hold dots (`triggers.new.item.operation.perform`), so a path
//! is split against the keys an app has ([`operation_method`]), not at
//! every dot.
//!
//! The guest SDK writes the markers and resolves a path against its app
//! with [`MethodPath::split`]; the host lists the paths of a definition
//! with [`methods`]. Vectors: `vectors/method_paths.json`,
//! `vectors/method_path_split.json`.
//!
//! ```
//! use zapwasm_rules::method_path::{self, MethodPath, OperationKind, OperationMethod};
//!
//! let path = method_path::child(&method_path::operation(OperationKind::Trigger, "new.item"), method_path::PERFORM);
//! assert_eq!(path, "triggers.new.item.operation.perform");
//! let Some(MethodPath::Operation(OperationKind::Trigger, rest)) = MethodPath::split(&path) else { panic!() };
//! assert_eq!(method_path::operation_method(rest, "new.item"), Some(OperationMethod::Named("perform")));
//! ```

use std::fmt::Display;

use crate::json::{Json, JsonMap, View};

/// The key of a function's marker in the definition: `{"$func": "<method path>"}`.
pub const FUNCTION_MARKER: &str = "$func";

/// `authentication.test`: succeeds for working credentials.
pub const AUTHENTICATION_TEST: &str = "authentication.test";
/// `authentication.connectionLabel`, when it is a function.
pub const CONNECTION_LABEL: &str = "authentication.connectionLabel";
/// The prefix of session auth's methods.
pub const SESSION_CONFIG: &str = "authentication.sessionConfig";
/// Session auth: exchanges the fields for a token.
pub const SESSION_PERFORM: &str = "authentication.sessionConfig.perform";
/// The prefix of OAuth 2's methods.
pub const OAUTH2_CONFIG: &str = "authentication.oauth2Config";
/// OAuth 2: where the user is sent to grant access (rendered, never sent).
pub const OAUTH2_AUTHORIZE_URL: &str = "authentication.oauth2Config.authorizeUrl";
/// OAuth 2: exchanges the code for tokens.
pub const OAUTH2_GET_ACCESS_TOKEN: &str = "authentication.oauth2Config.getAccessToken";
/// OAuth 2: refreshes the tokens.
pub const OAUTH2_REFRESH_ACCESS_TOKEN: &str = "authentication.oauth2Config.refreshAccessToken";
/// The prefix of OAuth 1's methods.
pub const OAUTH1_CONFIG: &str = "authentication.oauth1Config";
/// OAuth 1: gets the temporary request token.
pub const OAUTH1_GET_REQUEST_TOKEN: &str = "authentication.oauth1Config.getRequestToken";
/// OAuth 1: where the user is sent to grant access (rendered, never sent).
pub const OAUTH1_AUTHORIZE_URL: &str = "authentication.oauth1Config.authorizeUrl";
/// OAuth 1: exchanges the verifier for the access token.
pub const OAUTH1_GET_ACCESS_TOKEN: &str = "authentication.oauth1Config.getAccessToken";

/// The top-level key of authentication's methods.
const AUTHENTICATION: &str = "authentication";
/// The top-level key of hydrators.
const HYDRATORS: &str = "hydrators";
/// The key of an action's operation.
const OPERATION: &str = "operation";

/// An operation's `perform`: polls, searches, creates, or turns a hook delivery into results.
pub const PERFORM: &str = "perform";
/// A hook trigger's `performList`: recent items, for samples.
pub const PERFORM_LIST: &str = "performList";
/// A hook trigger's `performSubscribe`.
pub const PERFORM_SUBSCRIBE: &str = "performSubscribe";
/// A hook trigger's `performUnsubscribe`.
pub const PERFORM_UNSUBSCRIBE: &str = "performUnsubscribe";
/// A create's `performResume`: finishes a call that waited for its callback.
pub const PERFORM_RESUME: &str = "performResume";
/// A create's `performBuffer`: buffered runs in one call.
pub const PERFORM_BUFFER: &str = "performBuffer";

/// Keys whose value may be a shorthand request object instead of a
/// function (a request object with a string `url`).
pub const SHORTHAND_SLOTS: &[&str] = &[
    PERFORM,
    PERFORM_LIST,
    PERFORM_SUBSCRIBE,
    PERFORM_UNSUBSCRIBE,
    PERFORM_RESUME,
    PERFORM_BUFFER,
    "test",
    "getRequestToken",
    "getAccessToken",
    "refreshAccessToken",
    "authorizeUrl",
];

/// Which kind of action a key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OperationKind {
    /// `triggers`.
    Trigger,
    /// `searches`.
    Search,
    /// `creates`.
    Create,
}

impl OperationKind {
    /// Every kind, in the definition's order.
    pub const ALL: [OperationKind; 3] = [OperationKind::Trigger, OperationKind::Search, OperationKind::Create];

    /// The definition's key for this kind (`triggers`, ...).
    pub fn plural(self) -> &'static str {
        match self {
            OperationKind::Trigger => "triggers",
            OperationKind::Search => "searches",
            OperationKind::Create => "creates",
        }
    }
}

/// Which middleware list an index is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MiddlewareKind {
    /// `beforeRequest`.
    BeforeRequest,
    /// `afterResponse`.
    AfterResponse,
}

impl MiddlewareKind {
    /// The definition's key for this list.
    pub fn key(self) -> &'static str {
        match self {
            MiddlewareKind::BeforeRequest => "beforeRequest",
            MiddlewareKind::AfterResponse => "afterResponse",
        }
    }
}

/// Which field list of an operation an index is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldList {
    /// `inputFields`.
    Input,
    /// `outputFields`.
    Output,
}

impl FieldList {
    /// The operation's key for this list.
    pub fn key(self) -> &'static str {
        match self {
            FieldList::Input => "inputFields",
            FieldList::Output => "outputFields",
        }
    }
}

/// `parent.segment`: the path of a key or index inside `parent`.
pub fn child(parent: &str, segment: impl Display) -> String {
    format!("{parent}.{segment}")
}

/// `beforeRequest.<index>` or `afterResponse.<index>`.
pub fn middleware(kind: MiddlewareKind, index: usize) -> String {
    child(kind.key(), index)
}

/// `<triggers|searches|creates>.<key>.operation`: the prefix of an
/// action's methods.
pub fn operation(kind: OperationKind, key: &str) -> String {
    format!("{}.{key}.{OPERATION}", kind.plural())
}

/// `<operation>.inputFields.<index>` or `<operation>.outputFields.<index>`.
pub fn fields_entry(operation: &str, list: FieldList, index: usize) -> String {
    format!("{operation}.{}.{index}", list.key())
}

/// `hydrators.<name>`.
pub fn hydrator(name: &str) -> String {
    child(HYDRATORS, name)
}

/// `text` as an index, if it is written as paths write indices: decimal,
/// no sign, no leading zeros.
pub fn parse_index(text: &str) -> Option<usize> {
    let canonical =
        !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && (text.len() == 1 || !text.starts_with('0'));
    if canonical { text.parse().ok() } else { None }
}

/// A method path split at its first segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodPath<'p> {
    /// `authentication.<...>`: compare the whole path with the
    /// `AUTHENTICATION_*`, `SESSION_*`, `OAUTH*` constants.
    Authentication,
    /// `beforeRequest.<index>` or `afterResponse.<index>`.
    Middleware(MiddlewareKind, usize),
    /// `<kind plural>.<rest>`, the rest `<key>.operation.<method>`, split
    /// against a key by [`operation_method`].
    Operation(OperationKind, &'p str),
    /// `hydrators.<name>` (the name may hold dots).
    Hydrator(&'p str),
}

impl<'p> MethodPath<'p> {
    /// What section of the definition `path` is in, if any; `None` for a
    /// path no function can have (no dot, an unknown section, a middleware
    /// index not written as an index).
    pub fn split(path: &'p str) -> Option<MethodPath<'p>> {
        let (head, rest) = path.split_once('.')?;
        let middleware = |kind| parse_index(rest).map(|index| MethodPath::Middleware(kind, index));
        match head {
            AUTHENTICATION => Some(MethodPath::Authentication),
            "beforeRequest" => middleware(MiddlewareKind::BeforeRequest),
            "afterResponse" => middleware(MiddlewareKind::AfterResponse),
            HYDRATORS => Some(MethodPath::Hydrator(rest)),
            _ => OperationKind::ALL
                .into_iter()
                .find(|kind| kind.plural() == head)
                .map(|kind| MethodPath::Operation(kind, rest)),
        }
    }
}

/// A method of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationMethod<'p> {
    /// `perform`, `performList`, ... (one segment, not checked against the names).
    Named(&'p str),
    /// `inputFields.<index>` or `outputFields.<index>`.
    Fields(FieldList, usize),
}

/// The method `rest` names in the action `key`, when `rest` (a path after
/// its `<kind plural>.`) is `<key>.operation.<method>`.
pub fn operation_method<'p>(rest: &'p str, key: &str) -> Option<OperationMethod<'p>> {
    // The dot after the key first: a lookup may try every key of an app
    // (the guest SDK's does), and this one byte turns most of them away
    // without comparing the key.
    if rest.as_bytes().get(key.len()) != Some(&b'.') {
        return None;
    }
    let method = rest.strip_prefix(key)?.strip_prefix('.')?.strip_prefix(OPERATION)?.strip_prefix('.')?;
    let Some((list, index)) = method.split_once('.') else {
        return (!method.is_empty()).then_some(OperationMethod::Named(method));
    };
    let list = [FieldList::Input, FieldList::Output].into_iter().find(|candidate| candidate.key() == list)?;
    parse_index(index).map(|index| OperationMethod::Fields(list, index))
}

/// A function's marker in the definition: `{"$func": path}`.
pub fn function_marker<J: Json>(path: &str) -> J {
    let mut marker = J::Map::default();
    marker.insert(FUNCTION_MARKER.into(), J::string(path.to_string()));
    J::object(marker)
}

/// The method path `object` marks, if it is a function's marker.
pub fn marked_path<M: JsonMap>(object: &M) -> Option<&str> {
    object.get(FUNCTION_MARKER).and_then(Json::as_str)
}

/// Whether `object`, the value of the key `slot`, is a shorthand request:
/// a request object (its `url` a string) in a slot that takes one.
pub fn is_shorthand_request<M: JsonMap>(slot: &str, object: &M) -> bool {
    SHORTHAND_SLOTS.contains(&slot) && object.get("url").and_then(Json::as_str).is_some()
}

/// Every method path of a definition, in the definition's order: the path
/// of every function marker and shorthand request (whose insides are not
/// searched further).
///
/// ```
/// use serde_json::json;
///
/// let definition = json!({
///     "authentication": {"type": "custom", "test": {"url": "https://api.test/me"}},
///     "beforeRequest": [{"$func": "beforeRequest.0"}],
///     "triggers": {"new.item": {"operation": {"perform": {"$func": "triggers.new.item.operation.perform"}}}},
/// });
/// assert_eq!(
///     zapwasm_rules::method_path::methods(&definition),
///     ["authentication.test", "beforeRequest.0", "triggers.new.item.operation.perform"]
/// );
/// ```
pub fn methods<J: Json>(definition: &J) -> Vec<String> {
    let mut out = Vec::new();
    collect_methods(definition, &mut Vec::new(), &mut out);
    out
}

fn collect_methods<J: Json>(value: &J, path: &mut Vec<String>, out: &mut Vec<String>) {
    match value.view() {
        View::Object(map) => {
            let slot = path.last().map(String::as_str).unwrap_or_default();
            if marked_path(map).is_some() || is_shorthand_request(slot, map) {
                out.push(path.join("."));
                return;
            }
            for (key, child) in map.entries() {
                path.push(key.to_string());
                collect_methods(child, path, out);
                path.pop();
            }
        }
        View::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                path.push(i.to_string());
                collect_methods(child, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;
    use crate::fuzzing;

    /// What method paths and definitions are made of, for the mutations.
    const TOKENS: &[&str] = &[
        "triggers.",
        "searches.",
        "creates.",
        "hydrators.",
        "authentication.",
        "beforeRequest.",
        "afterResponse.",
        ".operation.",
        "perform",
        "inputFields.",
        "outputFields.",
        "00",
        "18446744073709551615",
        "18446744073709551616",
        "\"$func\":",
        "\"url\":",
    ];

    /// Checks the splitting rules on one method path: each part a split
    /// gives is a piece of the path, and the path can be written again from
    /// the parts.
    fn check_path(path: &str) -> Result<(), TestCaseError> {
        if let Some(index) = parse_index(path) {
            prop_assert_eq!(index.to_string(), path);
        }
        match MethodPath::split(path) {
            None | Some(MethodPath::Authentication) => {}
            Some(MethodPath::Middleware(kind, index)) => prop_assert_eq!(middleware(kind, index), path),
            Some(MethodPath::Hydrator(name)) => prop_assert_eq!(hydrator(name), path),
            Some(MethodPath::Operation(kind, rest)) => {
                prop_assert_eq!(format!("{}.{rest}", kind.plural()), path);
                // Every key the rest could start with: what precedes each `.operation.`.
                for (at, _) in rest.match_indices(".operation.") {
                    let key = &rest[..at];
                    let prefix = operation(kind, key);
                    match operation_method(rest, key) {
                        None => {}
                        Some(OperationMethod::Named(method)) => {
                            prop_assert!(!method.is_empty() && !method.contains('.'));
                            prop_assert_eq!(child(&prefix, method), path);
                        }
                        Some(OperationMethod::Fields(list, index)) => {
                            prop_assert_eq!(fields_entry(&prefix, list, index), path);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Method paths the host is asked to run (by an embedder, a guest's
    /// markers): splitting never panics and gives back the parts of the
    /// path; a definition's paths are listed without panicking.
    #[test]
    fn method_paths_split_into_their_own_parts() {
        fuzzing::fuzz_text("method_path", TOKENS, |text| {
            check_path(text)?;
            for line in text.lines() {
                check_path(line)?;
            }
            if let Ok(definition) = serde_json::from_str::<serde_json::Value>(text) {
                for path in methods(&definition) {
                    check_path(&path)?;
                }
            }
            Ok(())
        });
    }
}
