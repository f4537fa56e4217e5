//! `authentication`: how users connect an account ([`AuthType`], the
//! fields they fill in, the OAuth configs), how the connection is tested,
//! and its label. Its functions' method paths are the
//! `zapwasm_rules::method_path` constants (`authentication.test`, ...).

use serde_json::{Map, Value, json};
use zapwasm_rules::method_path;

use super::fields::{Field, fields_json};
use super::{Handler, Perform, Slot, Text, Walk};
use crate::request::Request;

/// How users connect an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthType {
    /// Username and password; the host sends `Authorization: Basic ...`.
    Basic,
    /// Username and password with the HTTP digest challenge, done by the host.
    Digest,
    /// Fields such as an API key; the app puts them on requests itself.
    Custom,
    /// Fields exchanged for a token by `session_perform`; a 401 refreshes it.
    Session,
    /// OAuth 1.
    OAuth1,
    /// OAuth 2 (see [`OAuth2Config`]).
    OAuth2,
}

impl AuthType {
    /// `authentication.type` in the definition.
    fn name(self) -> &'static str {
        match self {
            AuthType::Basic => "basic",
            AuthType::Digest => "digest",
            AuthType::Custom => "custom",
            AuthType::Session => "session",
            AuthType::OAuth1 => "oauth1",
            AuthType::OAuth2 => "oauth2",
        }
    }
}

/// `authentication.oauth2Config`.
#[derive(Debug, Clone)]
pub struct OAuth2Config {
    /// Where the user is sent to grant access; the host renders its curlies
    /// (`{{bundle.inputData.state}}`, `{{bundle.inputData.redirect_uri}}`, `{{process.env.CLIENT_ID}}`).
    pub authorize_url: Request,
    /// Exchanges `bundle.inputData.code` for tokens, returned as the new authData.
    pub get_access_token: Perform,
    /// Refreshes the tokens; the result is merged into authData.
    pub refresh_access_token: Option<Perform>,
    /// Refresh automatically when a request answers 401.
    pub auto_refresh: bool,
    /// The scopes to ask for.
    pub scope: Option<String>,
    /// Use PKCE.
    pub enable_pkce: bool,
}

/// `authentication.oauth1Config`.
#[derive(Debug, Clone)]
pub struct OAuth1Config {
    /// Gets the temporary request token.
    pub get_request_token: Perform,
    /// Where the user is sent to grant access.
    pub authorize_url: Request,
    /// Exchanges the verifier for the access token, returned as the new authData.
    pub get_access_token: Perform,
}

/// `authentication`: how users connect an account, and how it is tested.
#[derive(Debug, Clone)]
pub struct Authentication {
    kind: AuthType,
    fields: Vec<Field>,
    test: Option<Slot>,
    connection_label: Option<ConnectionLabel>,
    session_perform: Option<Perform>,
    oauth2: Option<OAuth2Config>,
    oauth1: Option<OAuth1Config>,
}

/// `authentication.connectionLabel`: a template the host renders, or a function.
#[derive(Debug, Clone)]
enum ConnectionLabel {
    /// A template such as `{{bundle.inputData.name}}`, rendered by the host.
    Template(Text),
    /// A function, run by its method path.
    Function(Perform),
}

impl Authentication {
    /// Authentication of this type.
    pub fn new(kind: AuthType) -> Authentication {
        Authentication {
            kind,
            fields: Vec::new(),
            test: None,
            connection_label: None,
            session_perform: None,
            oauth2: None,
            oauth1: None,
        }
    }

    /// Adds a field the user fills in to connect (`api_key`, `username`, ...).
    pub fn field(mut self, field: Field) -> Authentication {
        self.fields.push(field);
        self
    }

    /// The connection test (`authentication.test`): succeeds for working credentials.
    pub fn test(mut self, test: Perform) -> Authentication {
        self.test = Some(Slot::Function(test));
        self
    }

    /// The connection test as a shorthand request.
    pub fn test_request(mut self, request: Request) -> Authentication {
        self.test = Some(Slot::Request(Box::new(request)));
        self
    }

    /// The connection's label, a template such as `{{bundle.inputData.name}}`
    /// (inputData is what the test returned).
    pub fn connection_label(mut self, template: impl Into<Text>) -> Authentication {
        self.connection_label = Some(ConnectionLabel::Template(template.into()));
        self
    }

    /// The connection's label, computed (`authentication.connectionLabel`).
    pub fn connection_label_fn(mut self, label: Perform) -> Authentication {
        self.connection_label = Some(ConnectionLabel::Function(label));
        self
    }

    /// Session auth: exchanges the fields for a token, merged into authData
    /// (`authentication.sessionConfig.perform`).
    pub fn session_perform(mut self, perform: Perform) -> Authentication {
        self.session_perform = Some(perform);
        self
    }

    /// OAuth 2's configuration.
    pub fn oauth2(mut self, config: OAuth2Config) -> Authentication {
        self.oauth2 = Some(config);
        self
    }

    /// OAuth 1's configuration.
    pub fn oauth1(mut self, config: OAuth1Config) -> Authentication {
        self.oauth1 = Some(config);
        self
    }

    /// What the method path `path` (in `authentication.`) names (see
    /// [`App::method`](super::App::method)).
    pub(super) fn method(&self, path: &str) -> Option<Handler<'_>> {
        let function = |perform: Option<Perform>| perform.map(Handler::Function);
        match path {
            method_path::AUTHENTICATION_TEST => self.test.as_ref().map(Slot::handler),
            method_path::CONNECTION_LABEL => match &self.connection_label {
                Some(ConnectionLabel::Function(label)) => Some(Handler::Function(*label)),
                _ => None,
            },
            method_path::SESSION_PERFORM => function(self.session_perform),
            method_path::OAUTH2_AUTHORIZE_URL => self.oauth2.as_ref().map(|c| Handler::AuthorizeUrl(&c.authorize_url)),
            method_path::OAUTH2_GET_ACCESS_TOKEN => function(self.oauth2.as_ref().map(|c| c.get_access_token)),
            method_path::OAUTH2_REFRESH_ACCESS_TOKEN => {
                function(self.oauth2.as_ref().and_then(|c| c.refresh_access_token))
            }
            method_path::OAUTH1_GET_REQUEST_TOKEN => function(self.oauth1.as_ref().map(|c| c.get_request_token)),
            method_path::OAUTH1_AUTHORIZE_URL => self.oauth1.as_ref().map(|c| Handler::AuthorizeUrl(&c.authorize_url)),
            method_path::OAUTH1_GET_ACCESS_TOKEN => function(self.oauth1.as_ref().map(|c| c.get_access_token)),
            _ => None,
        }
    }

    /// `authentication` in the definition, its functions listed in `walk`.
    pub(super) fn to_json<'a>(&'a self, walk: &mut Walk<'a>) -> Value {
        let mut out = Map::new();
        out.insert("type".into(), json!(self.kind.name()));
        if !self.fields.is_empty() {
            out.insert("fields".into(), fields_json(&self.fields));
        }
        if let Some(test) = &self.test {
            out.insert("test".into(), walk.slot(method_path::AUTHENTICATION_TEST.into(), test));
        }
        match &self.connection_label {
            Some(ConnectionLabel::Template(template)) => {
                out.insert("connectionLabel".into(), json!(template));
            }
            Some(ConnectionLabel::Function(label)) => {
                let func = walk.function(method_path::CONNECTION_LABEL.into(), *label);
                out.insert("connectionLabel".into(), func);
            }
            None => {}
        }
        if let Some(perform) = self.session_perform {
            let func = walk.function(method_path::SESSION_PERFORM.into(), perform);
            out.insert("sessionConfig".into(), json!({ "perform": func }));
        }
        if let Some(config) = &self.oauth2 {
            let mut oauth = Map::new();
            let authorize_url = walk.authorize_url(method_path::OAUTH2_AUTHORIZE_URL.into(), &config.authorize_url);
            oauth.insert("authorizeUrl".into(), authorize_url);
            oauth.insert(
                "getAccessToken".into(),
                walk.function(method_path::OAUTH2_GET_ACCESS_TOKEN.into(), config.get_access_token),
            );
            if let Some(refresh) = config.refresh_access_token {
                oauth.insert(
                    "refreshAccessToken".into(),
                    walk.function(method_path::OAUTH2_REFRESH_ACCESS_TOKEN.into(), refresh),
                );
            }
            oauth.insert("autoRefresh".into(), json!(config.auto_refresh));
            if let Some(scope) = &config.scope {
                oauth.insert("scope".into(), json!(scope));
            }
            oauth.insert("enablePkce".into(), json!(config.enable_pkce));
            out.insert("oauth2Config".into(), Value::Object(oauth));
        }
        if let Some(config) = &self.oauth1 {
            let mut oauth = Map::new();
            oauth.insert(
                "getRequestToken".into(),
                walk.function(method_path::OAUTH1_GET_REQUEST_TOKEN.into(), config.get_request_token),
            );
            let authorize_url = walk.authorize_url(method_path::OAUTH1_AUTHORIZE_URL.into(), &config.authorize_url);
            oauth.insert("authorizeUrl".into(), authorize_url);
            oauth.insert(
                "getAccessToken".into(),
                walk.function(method_path::OAUTH1_GET_ACCESS_TOKEN.into(), config.get_access_token),
            );
            out.insert("oauth1Config".into(), Value::Object(oauth));
        }
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use zapwasm_rules::Bundle;

    use super::*;
    use crate::app::App;
    use crate::error::ZError;
    use crate::z::Z;

    fn ok(_z: &Z, _bundle: &Bundle) -> Result<Value, ZError> {
        Ok(json!({}))
    }

    #[test]
    fn auth_configs_name_their_functions_by_path() {
        let app = App::new("1.0.0").authentication(
            Authentication::new(AuthType::OAuth2)
                .test_request(Request::get("https://api.test/me"))
                .connection_label_fn(ok)
                .oauth2(OAuth2Config {
                    authorize_url: Request::get("https://api.test/authorize")
                        .param("state", "{{bundle.inputData.state}}"),
                    get_access_token: ok,
                    refresh_access_token: Some(ok),
                    auto_refresh: true,
                    scope: Some("read write".into()),
                    enable_pkce: false,
                }),
        );
        assert_eq!(
            app.definition()["authentication"],
            json!({
                "type": "oauth2",
                "test": {"url": "https://api.test/me", "method": "GET"},
                "connectionLabel": {"$func": "authentication.connectionLabel"},
                "oauth2Config": {
                    "authorizeUrl": {
                        "url": "https://api.test/authorize",
                        "method": "GET",
                        "params": {"state": "{{bundle.inputData.state}}"},
                    },
                    "getAccessToken": {"$func": "authentication.oauth2Config.getAccessToken"},
                    "refreshAccessToken": {"$func": "authentication.oauth2Config.refreshAccessToken"},
                    "autoRefresh": true,
                    "scope": "read write",
                    "enablePkce": false,
                },
            })
        );
        let session = App::new("1").authentication(Authentication::new(AuthType::Session).session_perform(ok));
        assert_eq!(
            session.definition()["authentication"]["sessionConfig"],
            json!({"perform": {"$func": "authentication.sessionConfig.perform"}})
        );
    }
}
