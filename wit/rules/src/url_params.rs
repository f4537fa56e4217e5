//! URLs with params: a request's `params` object as the wire carries it,
//! the query string the host appends them to, and how a request's params
//! are composed from its template's, its own and its URLs' queries.
//!
//! The guest SDK composes a request's params before the request goes to
//! the host ([`compose`]: the template's params, then the request's, then
//! the URL's own query, as the reference runtime orders them), sends them
//! as pairs ([`pairs`]), and names the URL a response error was for with
//! [`url_with_params`]; the host appends the pairs it receives to the URL
//! it parsed with [`query_with_params`]. Both sides go through
//! [`query_with_params`], so the URL in an error is the URL sent.
//! Vectors: `vectors/url_with_params.json`, `vectors/query_into_params.json`,
//! `vectors/compose_params.json`.

use crate::json::{Json, JsonMap, View};

use crate::{form, merge, param_encoding};

/// A param as the wire carries it: its key and its text, `None` for null.
pub type ParamPair = (String, Option<String>);

/// How a request asks its params to be written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParamOptions<'a> {
    /// `skipEncodingChars`: characters left raw in keys and values.
    pub skip_encoding_chars: &'a str,
    /// `removeMissingValuesFrom.params`: a missing value (see
    /// [`is_missing`]) drops its param instead of sending it empty.
    pub remove_missing: bool,
}

/// A param's value as text: strings as they are, numbers and booleans as
/// their JSON text, objects as JSON, null as `None` (missing).
pub fn param_text<J: Json>(value: &J) -> Option<String> {
    match value.view() {
        View::Null => None,
        View::String(text) => Some(text.to_string()),
        _ => Some(value.to_text()),
    }
}

/// A request's params as the wire carries them, in order: arrays as
/// repeated keys, each value as [`param_text`].
///
/// ```
/// use serde_json::json;
/// use zapwasm_rules::url_params::pairs;
///
/// let params = json!({"tag": ["a", 2], "none": null});
/// let some = |text: &str| Some(text.to_string());
/// assert_eq!(
///     pairs(params.as_object().unwrap()),
///     [("tag".into(), some("a")), ("tag".into(), some("2")), ("none".into(), None)]
/// );
/// ```
pub fn pairs<M: JsonMap>(params: &M) -> Vec<ParamPair> {
    let mut out = Vec::new();
    for (key, value) in params.entries() {
        match value.view() {
            View::Array(items) => out.extend(items.iter().map(|item| (key.to_string(), param_text(item)))),
            _ => out.push((key.to_string(), param_text(value))),
        }
    }
    out
}

/// Whether a param's value counts as missing: null, empty, or holding a
/// curly left unrendered (a shorthand request's `{{bundle.*}}` that named
/// nothing keeps its text; see [`crate::curly::Place::Param`]).
pub fn is_missing(value: Option<&str>) -> bool {
    match value {
        None => true,
        Some(text) => text.is_empty() || text.contains("{{") && text.contains("}}"),
    }
}

/// `existing` (a URL's query, without `?`) with `pairs` appended, each key
/// and value encoded once by [`param_encoding::encode`]; a missing value is
/// sent empty, or its param dropped when the options say so.
///
/// ```
/// use zapwasm_rules::url_params::{ParamOptions, query_with_params};
///
/// let pairs = [("q".to_string(), Some("a b".to_string())), ("n".to_string(), None)];
/// assert_eq!(query_with_params("a=1", &pairs, &ParamOptions::default()), "a=1&q=a%20b&n=");
/// let dropping = ParamOptions { remove_missing: true, ..ParamOptions::default() };
/// assert_eq!(query_with_params("", &pairs, &dropping), "q=a%20b");
/// ```
pub fn query_with_params(existing: &str, pairs: &[ParamPair], options: &ParamOptions<'_>) -> String {
    let mut query = existing.to_string();
    for (key, value) in pairs {
        let value = value.as_deref().filter(|value| !is_missing(Some(value)));
        if value.is_none() && options.remove_missing {
            continue;
        }
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(&param_encoding::encode(key, options.skip_encoding_chars));
        query.push('=');
        query.push_str(&param_encoding::encode(value.unwrap_or_default(), options.skip_encoding_chars));
    }
    query
}

/// `url` with `pairs` appended to its query by [`query_with_params`], its
/// `#fragment` kept at the end. The URL is not parsed or normalized (the
/// host parses it first and appends to the query it parsed).
///
/// ```
/// use zapwasm_rules::url_params::{ParamOptions, url_with_params};
///
/// let pairs = [("q".to_string(), Some("a/b".to_string()))];
/// let options = ParamOptions { skip_encoding_chars: "/", ..ParamOptions::default() };
/// assert_eq!(url_with_params("https://api.test/x?pre=1#top", &pairs, &options), "https://api.test/x?pre=1&q=a/b#top");
/// ```
pub fn url_with_params(url: &str, pairs: &[ParamPair], options: &ParamOptions<'_>) -> String {
    let (url, fragment) = split_fragment(url);
    let (base, existing) = url.split_once('?').unwrap_or((url, ""));
    let query = query_with_params(existing, pairs, options);
    if query.is_empty() { format!("{base}{fragment}") } else { format!("{base}?{query}{fragment}") }
}

/// Moves a `?query` in `url` into `params`, decoded as a form (so the host
/// encodes it once) and merged over them ([`merge::merge`]), as the
/// reference runtime's `requestClean` does: the params keep their order,
/// the URL's new keys come after them, and for a key in both the URL's
/// value wins. The `#fragment` stays on the URL. A URL without `?` is left
/// as it is.
///
/// ```
/// use serde_json::{Map, Value, json};
/// use zapwasm_rules::url_params::move_query_into_params;
///
/// let mut url = "https://api.test/x?a=1&b=two+words#top".to_string();
/// let mut params = Map::new();
/// params.insert("b".into(), json!("mine"));
/// params.insert("c".into(), json!(3));
/// move_query_into_params(&mut url, &mut params);
/// assert_eq!(url, "https://api.test/x#top");
/// assert_eq!(Value::Object(params), json!({"b": "two words", "c": 3, "a": "1"}));
/// ```
pub fn move_query_into_params<M: JsonMap>(url: &mut String, params: &mut M) {
    let (without_fragment, fragment) = split_fragment(url);
    let Some((base, query)) = without_fragment.split_once('?') else {
        return;
    };
    merge::merge(params, form::decode(query));
    *url = format!("{base}{fragment}");
}

/// A request's URL (its query moved out) and params as they are sent,
/// composed from the app's requestTemplate (`template`: its URL and
/// params, already rendered) and the request's own, as the reference
/// runtime's `requestMerge` composes them:
///
/// 1. each URL's `?query` moves into its own params, merged over them
///    ([`move_query_into_params`]);
/// 2. the request's params (with its URL's query) merge over the
///    template's (with its URL's query) ([`merge::merge`]);
/// 3. the URL is the request's, or the template's when the request's is
///    empty.
///
/// So the params go out in this order: the template's, its URL's query,
/// the request's, the request URL's query; and for a key in several, the
/// last of them wins, in the place where the key first appeared.
///
/// ```
/// use serde_json::{Map, Value, json};
/// use zapwasm_rules::url_params::{ParamOptions, compose, pairs, url_with_params};
///
/// let template = json!({"tp": 1}).as_object().cloned().unwrap();
/// let mut url = "https://host/path?x=1 2&y=/&z=a b".to_string();
/// let mut params = json!({"w": 3}).as_object().cloned().unwrap();
/// compose(Some(("", &template)), &mut url, &mut params);
/// let sent = url_with_params(&url, &pairs(&params), &ParamOptions::default());
/// assert_eq!(sent, "https://host/path?tp=1&w=3&x=1%202&y=%2F&z=a%20b");
/// ```
pub fn compose<M: JsonMap>(template: Option<(&str, &M)>, url: &mut String, params: &mut M) {
    move_query_into_params(url, params);
    let Some((template_url, template_params)) = template else {
        return;
    };
    let mut under_url = template_url.to_string();
    let mut under = template_params.clone();
    move_query_into_params(&mut under_url, &mut under);
    merge::merge(&mut under, std::mem::take(params));
    *params = under;
    if url.trim().is_empty() {
        *url = under_url;
    }
}

/// `url` split before its first `#`: the part before, and the fragment
/// with its `#` (empty when there is none).
fn split_fragment(url: &str) -> (&str, &str) {
    match url.find('#') {
        Some(at) => url.split_at(at),
        None => (url, ""),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn params_go_on_the_wire_as_repeated_keys_with_null_as_none() {
        let params = json!({
            "s": "text",
            "n": 5,
            "f": 1.5,
            "b": true,
            "null": null,
            "list": ["a", 2, null],
            "obj": {"k": "v"},
        });
        let some = |text: &str| Some(text.to_string());
        assert_eq!(
            pairs(params.as_object().unwrap()),
            [
                ("s".to_string(), some("text")),
                ("n".to_string(), some("5")),
                ("f".to_string(), some("1.5")),
                ("b".to_string(), some("true")),
                ("null".to_string(), None),
                ("list".to_string(), some("a")),
                ("list".to_string(), some("2")),
                ("list".to_string(), None),
                ("obj".to_string(), some(r#"{"k":"v"}"#)),
            ]
        );
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;
    use serde_json::{Map, Value};

    use super::*;
    use crate::fuzzing;

    /// What URLs with queries are made of, for the mutations.
    const TOKENS: &[&str] = &["?", "#", "&", "=", "?a=1", "#frag", "%3F", "%23", "{{bundle.inputData.id}}", "https://"];

    /// A param's value as it comes back after a trip through the query:
    /// a missing one ([`is_missing`]) is sent empty.
    fn as_sent(value: &Value) -> Value {
        match value {
            Value::String(text) if is_missing(Some(text)) => Value::String(String::new()),
            Value::Array(items) => Value::Array(items.iter().map(as_sent).collect()),
            other => other.clone(),
        }
    }

    /// URLs a guest builds: moving the query into params never panics and
    /// is done once (a second move changes nothing), and appending those
    /// params to the URL again gives back the same URL and params.
    #[test]
    fn url_queries_move_into_params_and_back() {
        fuzzing::fuzz_text("url_params", TOKENS, |text| {
            let mut url = text.to_string();
            let mut params = Map::new();
            move_query_into_params(&mut url, &mut params);
            let (mut again, mut params_again) = (url.clone(), params.clone());
            move_query_into_params(&mut again, &mut params_again);
            prop_assert_eq!(&again, &url);
            prop_assert_eq!(&params_again, &params);

            let sent = url_with_params(&url, &pairs(&params), &ParamOptions::default());
            let (mut back, mut params_back) = (sent, Map::new());
            move_query_into_params(&mut back, &mut params_back);
            prop_assert_eq!(&back, &url);
            let expected: Map<String, Value> =
                params.iter().map(|(key, value)| (key.clone(), as_sent(value))).collect();
            prop_assert_eq!(params_back, expected);

            // Whatever the options, appending never panics.
            let skip: String = text.chars().take(4).collect();
            let options = ParamOptions { skip_encoding_chars: &skip, remove_missing: true };
            let _ = url_with_params(text, &pairs(&params), &options);
            Ok(())
        });
    }
}
