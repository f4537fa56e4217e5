//! The bundle a method receives, and the scope its state lives in.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What a method receives as `bundle`: the reference platform's shape.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Bundle {
    /// The connected account's credentials (`api_key`, `access_token`, ...).
    pub auth_data: Map<String, Value>,
    /// The user's input for this run, as defined by inputFields.
    pub input_data: Map<String, Value>,
    /// `input_data` before curlies and friendly values were processed.
    pub input_data_raw: Map<String, Value>,
    /// What the user is doing.
    pub meta: Meta,
    /// The HTTP request that started this call (hook perform, getAccessToken, performResume).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_request: Option<Value>,
    /// `raw_request` parsed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cleaned_request: Option<Value>,
    /// What perform returned, for performResume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_data: Option<Value>,
    /// What performSubscribe returned, for hook perform and performUnsubscribe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscribe_data: Option<Value>,
    /// Where the API should send hooks, for performSubscribe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_url: Option<String>,
    /// performBuffer: the values the buffer is grouped by.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub grouped_by: Map<String, Value>,
    /// performBuffer: the buffered runs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub buffer: Vec<BufferedItem>,
}

/// `bundle.meta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Meta {
    /// Started by hand in the editor.
    pub is_loading_sample: bool,
    /// Filling a dynamic dropdown.
    pub is_filling_dynamic_dropdown: bool,
    /// Filling the dedupe list rather than running the automation.
    pub is_populating_dedupe: bool,
    /// Testing the connection (legacy).
    pub is_testing_auth: bool,
    /// Items to fetch; -1 for no limit.
    pub limit: i64,
    /// The page to fetch, from 0.
    pub page: u64,
    /// The paging token a search returned.
    #[serde(rename = "paging_token", skip_serializing_if = "Option::is_none")]
    pub paging_token: Option<String>,
    /// The user's time zone, e.g. `America/New_York`.
    pub timezone: Option<String>,
    /// The search's key when a create runs as part of search-or-create.
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

/// One run in a performBuffer call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BufferedItem {
    /// The run's input.
    pub input_data: Map<String, Value>,
    /// `{id}`: the run's idempotency ID.
    pub meta: BufferedMeta,
}

/// `buffer[].meta`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BufferedMeta {
    /// The run's idempotency ID.
    pub id: String,
}

impl Bundle {
    /// Parse a bundle from JSON, naming the field that is wrong.
    pub fn from_json(json: &str) -> Result<Bundle, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }
}

/// Whose state a call touches. Cursor, stash and callback state are keyed
/// by all three parts, so one tenant can never name another's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Scope {
    /// The integration (app) ID.
    pub integration: String,
    /// The connected account.
    pub account: String,
    /// The subscription (an automation's step), when there is one.
    pub subscription: Option<String>,
}

impl Scope {
    /// A scope for an integration and account, with no subscription.
    pub fn new(integration: impl Into<String>, account: impl Into<String>) -> Scope {
        Scope { integration: integration.into(), account: account.into(), subscription: None }
    }

    /// The same scope for one subscription.
    pub fn subscription(mut self, subscription: impl Into<String>) -> Scope {
        self.subscription = Some(subscription.into());
        self
    }
}
