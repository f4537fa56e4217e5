//! [`App`]: a loaded integration, ready to run, and how it was loaded.
//!
//! An `App` is the public face of a loaded component: its definition, the
//! environment its calls see, and [`App::invoke`], which runs a call
//! through the refresh-and-retry step (`auth/refresh.rs`) and the one-call
//! runner (`invoke.rs`). [`Host`](crate::Host) makes them; the account
//! connection steps (`auth/connect.rs`) add methods to them.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::{label, refresh};
use crate::cache::CacheUse;
use crate::censor::Censor;
use crate::definition::Definition;
use crate::definition_checks::Finding;
use crate::invoke::{Env, Invocation, Loaded, Outcome};
use crate::json::Json;

/// A loaded integration, ready to run. Cheap to clone; share it across tasks.
#[derive(Clone)]
pub struct App {
    loaded: Arc<Loaded>,
    load: Arc<LoadInfo>,
    env: Arc<Env>,
}

impl App {
    pub(crate) fn new(loaded: Arc<Loaded>, load: LoadInfo) -> App {
        App { loaded, load: Arc::new(load), env: Arc::default() }
    }

    /// The loaded component and the environment its calls see: what the
    /// one-call runner takes.
    pub(crate) fn parts(&self) -> (&Loaded, &Env) {
        (&self.loaded, &self.env)
    }

    /// The censor of the account with this authData: the one its calls
    /// censor with (built once per account and shared with them).
    pub(crate) fn account_censor(&self, auth_data: &serde_json::Map<String, serde_json::Value>) -> Arc<Censor> {
        self.loaded.account_censor(&self.env, auth_data)
    }

    /// What every call of the host that loaded this app shares: its stores
    /// and settings, for the flows.
    pub(crate) fn services(&self) -> &crate::services::Services {
        &self.loaded.runner.services
    }

    /// The integration's definition.
    pub fn definition(&self) -> &Definition {
        &self.loaded.definition
    }

    /// How it was loaded.
    pub fn load_info(&self) -> &LoadInfo {
        &self.load
    }

    /// What the definition checks found when the component was loaded
    /// ([`check_definition`](crate::check_definition)): the schema's rules
    /// and the platform's publishing checks that need only the definition.
    /// A host loads an app whatever they say; an embedder can log them as
    /// warnings or refuse apps with errors.
    pub fn findings(&self) -> &[Finding] {
        &self.load.findings
    }

    /// The same app with this environment (what the guest reads through
    /// wasi:cli/environment). Nothing else of the host's environment is visible.
    pub fn with_env<K: Into<String>, V: Into<String>>(mut self, env: impl IntoIterator<Item = (K, V)>) -> App {
        let vars = Arc::new(env.into_iter().map(|(k, v)| (k.into(), v.into())).collect());
        self.env = Arc::new(Env { vars, secret: self.env.secret.clone() });
        self
    }

    /// Mark environment variables as secret: their values are censored in
    /// every log line, exchange record and error.
    pub fn with_secret_env<K: Into<String>>(mut self, keys: impl IntoIterator<Item = K>) -> App {
        let secret = keys.into_iter().map(Into::into).collect();
        self.env = Arc::new(Env { vars: self.env.vars.clone(), secret });
        self
    }

    /// Run one method in a fresh instance. When it raises
    /// RefreshAuthError and the app can refresh its credentials (session
    /// auth, or OAuth 2 with refreshAccessToken), the host refreshes once and
    /// retries once; [`Outcome::auth_data`] then holds the new authData.
    ///
    /// The future holds what a waiting call needs and little more (2.4 KiB
    /// with this host's types): a task per call is what an embedder pays
    /// for each call in flight.
    pub fn invoke(&self, invocation: Invocation) -> impl Future<Output = Outcome> + Send + '_ {
        refresh::invoke(&self.loaded, &self.env, invocation)
    }

    /// The connection label of an account: runs `authentication.test`, then
    /// renders `connectionLabel` (a template over the test result and
    /// authData, or a function given the test result as inputData). The
    /// result is the label as a JSON string, the account's secrets
    /// censored: an embedder keeps and shows it as it is (the service
    /// stores it unsealed).
    pub async fn connection_label(&self, invocation: Invocation) -> Outcome {
        let test = invocation.of_method("authentication.test");
        let mut outcome = self.invoke(test.clone()).await;
        let Ok(result) = outcome.result.as_ref().map(Json::value) else { return outcome };
        let auth_data = outcome.auth_data.clone().unwrap_or_else(|| test.bundle.auth_data.clone());
        match self.definition().get("authentication.connectionLabel") {
            Some(serde_json::Value::String(template)) => {
                let label = label::render(template, &result, &auth_data);
                let censor = self.account_censor(&auth_data);
                outcome.result = Ok(serde_json::Value::from(censor.apply(&label)).into());
                outcome
            }
            Some(_) if self.definition().has_method("authentication.connectionLabel") => {
                let censor = self.account_censor(&auth_data);
                let mut label = test.of_method("authentication.connectionLabel");
                label.bundle.auth_data = auth_data;
                label.bundle.input_data = result.as_object().cloned().unwrap_or_default();
                let mut labelled = self.invoke(label).await;
                labelled.result = labelled.result.map(|label| label::censored(label, &censor));
                let mut logs = outcome.logs;
                logs.append(&mut labelled.logs);
                let mut http = outcome.http;
                http.append(&mut labelled.http);
                Outcome { logs, http, auth_data: outcome.auth_data.or(labelled.auth_data), ..labelled }
            }
            _ => {
                outcome.result = Ok(Json::from(""));
                outcome
            }
        }
    }
}

/// How a component was loaded.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoadInfo {
    /// Whether the compiled-component cache was used.
    pub cache: CacheUse,
    /// Time to compile or map in, link, and read the definition.
    pub duration: Duration,
    /// SHA-256 of the component, hex.
    pub digest: String,
    /// Why an entry of the cache was not used, when one was there but
    /// damaged (the component was compiled again, or its definition read
    /// again, and the entry replaced).
    pub cache_warning: Option<String>,
    /// What the definition checks found ([`App::findings`]).
    pub findings: Arc<[Finding]>,
}
