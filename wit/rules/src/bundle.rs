//! The bundle a function receives: the user's credentials and input, what
//! the user is doing, and the data of hooks, callbacks and buffered creates.
//!
//! The host sends it as JSON in the reference platform's shape;
//! the guest SDK parses it once per call and hands the same [`Bundle`] to
//! the function, to middleware and to shorthand requests (whose
//! `{{bundle.*}}` curlies are looked up in its JSON form).

use serde::{Deserialize, Serialize};

use crate::json::{Json, JsonMap};

/// The bundle as the host holds it, on `serde_json::Value`.
pub type Bundle = BundleOf<serde_json::Value>;

/// One buffered run as the host holds it, on `serde_json::Value`.
pub type BufferedItem = BufferedItemOf<serde_json::Value>;

/// What a function receives as `bundle`.
///
/// ```
/// use zapwasm_rules::Bundle;
///
/// let bundle: Bundle = serde_json::from_str(
///     r#"{"authData":{"api_key":"k"},"inputData":{"email":"a@b.test"},"meta":{"page":2}}"#,
/// ).unwrap();
/// assert_eq!(bundle.auth_str("api_key"), Some("k"));
/// assert_eq!(bundle.input_str("email"), Some("a@b.test"));
/// assert_eq!(bundle.meta.page, 2);
/// assert_eq!(bundle.meta.limit, -1);
/// ```
/// Generic over the JSON type: the host's is [`Bundle`], the guest SDK's
/// is on its own `Value`. Both read and write the same JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, bound = "")]
pub struct BundleOf<J: Json> {
    /// The connected account's credentials (`api_key`, `access_token`, ...).
    pub auth_data: J::Map,
    /// The user's input for this run, as defined by the input fields.
    pub input_data: J::Map,
    /// `input_data` before curlies and friendly values were processed.
    pub input_data_raw: J::Map,
    /// What the user is doing.
    pub meta: Meta,
    /// The HTTP request that started this call (hook perform, getAccessToken, performResume).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_request: Option<J>,
    /// `raw_request` parsed: querystring as an object, content as JSON or form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cleaned_request: Option<J>,
    /// What perform returned, for performResume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_data: Option<J>,
    /// What performSubscribe returned, for a hook's perform and performUnsubscribe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscribe_data: Option<J>,
    /// Where the API should send hooks, for performSubscribe and performUnsubscribe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_url: Option<String>,
    /// performBuffer: the values of the fields the buffer is grouped by.
    #[serde(skip_serializing_if = "JsonMap::is_empty")]
    pub grouped_by: J::Map,
    /// performBuffer: the buffered runs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub buffer: Vec<BufferedItemOf<J>>,
}

impl<J: Json> BundleOf<J> {
    /// `authData[key]` when it is a string.
    pub fn auth_str(&self, key: &str) -> Option<&str> {
        self.auth_data.get(key).and_then(Json::as_str)
    }

    /// `inputData[key]` when it is a string.
    pub fn input_str(&self, key: &str) -> Option<&str> {
        self.input_data.get(key).and_then(Json::as_str)
    }

    /// `inputData[key]`, of any type.
    pub fn input(&self, key: &str) -> Option<&J> {
        self.input_data.get(key)
    }
}

/// `bundle.meta`: what the user is doing, and paging.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Meta {
    /// Started by hand in the editor (load a sample rather than run live).
    pub is_loading_sample: bool,
    /// The poll fills a dynamic dropdown; only the dropdown's fields are needed.
    pub is_filling_dynamic_dropdown: bool,
    /// The results fill the dedupe list instead of triggering: fetch as many as possible.
    pub is_populating_dedupe: bool,
    /// The call tests the connection (legacy).
    pub is_testing_auth: bool,
    /// How many items to fetch; -1 means no limit.
    pub limit: i64,
    /// The page to fetch, from 0.
    pub page: u64,
    /// The paging token the previous page of a search returned.
    #[serde(rename = "paging_token", skip_serializing_if = "Option::is_none")]
    pub paging_token: Option<String>,
    /// The user's time zone, e.g. `America/New_York`.
    pub timezone: Option<String>,
    /// When a create runs as part of search-or-create: the search's key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with_search: Option<String>,
}

impl Default for Meta {
    fn default() -> Meta {
        Meta {
            is_loading_sample: false,
            is_filling_dynamic_dropdown: false,
            is_populating_dedupe: false,
            is_testing_auth: false,
            limit: -1,
            page: 0,
            paging_token: None,
            timezone: None,
            with_search: None,
        }
    }
}

/// One run of a create in a performBuffer call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, bound = "")]
pub struct BufferedItemOf<J: Json> {
    /// The run's input.
    pub input_data: J::Map,
    /// The run's idempotency ID.
    pub meta: BufferedMeta,
}

/// `buffer[].meta`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BufferedMeta {
    /// The run's idempotency ID: performBuffer's result is keyed by it.
    pub id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_empty_bundle_has_the_reference_defaults() {
        let bundle: Bundle = serde_json::from_str("{}").unwrap();
        assert_eq!(bundle, Bundle::default());
        assert_eq!(bundle.meta.limit, -1);
        assert_eq!(bundle.meta.page, 0);
    }

    #[test]
    fn keys_are_the_reference_names() {
        let bundle: Bundle = serde_json::from_value(json!({
            "authData": {"k": "v"},
            "inputData": {"n": 1},
            "meta": {"isLoadingSample": true, "paging_token": "p", "withSearch": "find"},
            "subscribeData": {"id": 3},
            "targetUrl": "https://hooks.test/1",
            "groupedBy": {"list": "a"},
            "buffer": [{"inputData": {"x": 1}, "meta": {"id": "run-1"}}],
        }))
        .unwrap();
        assert!(bundle.meta.is_loading_sample);
        assert_eq!(bundle.meta.paging_token.as_deref(), Some("p"));
        assert_eq!(bundle.meta.with_search.as_deref(), Some("find"));
        assert_eq!(bundle.buffer[0].meta.id, "run-1");
        let back = serde_json::to_value(&bundle).unwrap();
        assert_eq!(back["meta"]["paging_token"], "p");
        assert_eq!(back["targetUrl"], "https://hooks.test/1");
        assert_eq!(back["subscribeData"]["id"], 3);
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use serde_json::Value;

    use super::*;
    use crate::fuzzing;

    /// The bundle's keys, for the mutations.
    const TOKENS: &[&str] = &[
        "\"authData\":",
        "\"inputData\":",
        "\"meta\":",
        "\"limit\":",
        "\"page\":",
        "\"paging_token\":",
        "\"buffer\":",
        "\"groupedBy\":",
        "\"rawRequest\":",
        "\"targetUrl\":",
        "\"id\":",
    ];

    /// Whether two JSON values are the same, floats within a few rounding
    /// steps of each other counting as equal. serde_json (without its
    /// `float_roundtrip` feature, on both sides of the boundary) may read a
    /// number a float cannot hold exactly one step off the nearest float,
    /// so the text it writes may read back one step further (fuzzing found
    /// `18446744073709551616184467440737095516161844674407370955161610`).
    fn same(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
                let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
                x == y || (x - y).abs() <= 4.0 * f64::EPSILON * x.abs().max(y.abs())
            }
            (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y)),
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|((kx, x), (ky, y))| kx == ky && same(x, y))
            }
            _ => a == b,
        }
    }

    /// Bundles as the guest SDK reads them (and `--input`, `--auth` given
    /// to the CLI): reading never panics, and a bundle read is written and
    /// read back the same.
    #[test]
    fn bundles_read_and_round_trip() {
        fuzzing::fuzz("bundle", TOKENS, |input| {
            if let Ok(bundle) = serde_json::from_slice::<Bundle>(&input.0) {
                let fail = |e: serde_json::Error| TestCaseError::fail(e.to_string());
                let text = serde_json::to_string(&bundle).map_err(fail)?;
                let back: Bundle = serde_json::from_str(&text).map_err(fail)?;
                let (back, bundle) =
                    (serde_json::to_value(back).map_err(fail)?, serde_json::to_value(bundle).map_err(fail)?);
                prop_assert!(same(&back, &bundle), "{} became {}", bundle, back);
            }
            let _ = serde_json::from_slice::<Meta>(&input.0);
            let _ = serde_json::from_slice::<Vec<BufferedItem>>(&input.0);
            Ok(())
        });
    }
}
