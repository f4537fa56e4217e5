//! `authentication`: how users connect an account ([`AuthType`], the
//! fields they fill in, the OAuth configs), how the connection is tested,
//! and its label. Its functions' method paths are the
//! `zapwasm_rules::method_path` constants (`authentication.test`, ...).

use crate::{Map, Value, json};
use zapwasm_rules::method_path;

use super::fields::{Field, fields_json};
use super::{Handler, Perform, Step, Text, Walk};
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
    /// Exchanges `bundle.inputData.code` for tokens, returned as the new
    /// authData: a function, or a shorthand request (its curlies read
    /// `{{bundle.inputData.code}}`, `{{bundle.inputData.redirect_uri}}`,
    /// `{{process.env.CLIENT_ID}}`, ...).
    pub get_access_token: Step,
    /// Refreshes the tokens (`{{bundle.authData.refresh_token}}`); the
    /// result is merged into authData. A function or a shorthand request.
    pub refresh_access_token: Option<Step>,
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
    /// Gets the temporary request token: a function or a shorthand request.
    pub get_request_token: Step,
    /// Where the user is sent to grant access.
    pub authorize_url: Request,
    /// Exchanges the verifier for the access token, returned as the new
    /// authData: a function or a shorthand request.
    pub get_access_token: Step,
}

/// `authentication`: how users connect an account, and how it is tested.
#[derive(Debug, Clone)]
pub struct Authentication {
    kind: AuthType,
    fields: Vec<Field>,
    test: Option<Step>,
    connection_label: Option<ConnectionLabel>,
    session_perform: Option<Step>,
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
        self.test = Some(Step::Function(test));
        self
    }

    /// The connection test as a shorthand request (`{{bundle.authData.*}}`
    /// curlies, or none when beforeRequest adds the credentials).
    pub fn test_request(mut self, request: Request) -> Authentication {
        self.test = Some(Step::Request(Box::new(request)));
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
        self.session_perform = Some(Step::Function(perform));
        self
    }

    /// Session auth's exchange as a shorthand request, its curlies reading
    /// the user's fields (`{{bundle.authData.username}}`); its parsed body
    /// is merged into authData.
    pub fn session_perform_request(mut self, request: Request) -> Authentication {
        self.session_perform = Some(Step::Request(Box::new(request)));
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
        match path {
            method_path::AUTHENTICATION_TEST => self.test.as_ref().map(Step::handler),
            method_path::CONNECTION_LABEL => match &self.connection_label {
                Some(ConnectionLabel::Function(label)) => Some(Handler::Function(*label)),
                _ => None,
            },
            method_path::SESSION_PERFORM => self.session_perform.as_ref().map(Step::handler),
            method_path::OAUTH2_AUTHORIZE_URL => self.oauth2.as_ref().map(|c| Handler::AuthorizeUrl(&c.authorize_url)),
            method_path::OAUTH2_GET_ACCESS_TOKEN => self.oauth2.as_ref().map(|c| c.get_access_token.handler()),
            method_path::OAUTH2_REFRESH_ACCESS_TOKEN => {
                self.oauth2.as_ref().and_then(|c| c.refresh_access_token.as_ref()).map(Step::handler)
            }
            method_path::OAUTH1_GET_REQUEST_TOKEN => self.oauth1.as_ref().map(|c| c.get_request_token.handler()),
            method_path::OAUTH1_AUTHORIZE_URL => self.oauth1.as_ref().map(|c| Handler::AuthorizeUrl(&c.authorize_url)),
            method_path::OAUTH1_GET_ACCESS_TOKEN => self.oauth1.as_ref().map(|c| c.get_access_token.handler()),
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
        if let Some(perform) = &self.session_perform {
            let perform = walk.slot(method_path::SESSION_PERFORM.into(), perform);
            out.insert("sessionConfig".into(), json!({ "perform": perform }));
        }
        if let Some(config) = &self.oauth2 {
            let mut oauth = Map::new();
            let authorize_url = walk.authorize_url(method_path::OAUTH2_AUTHORIZE_URL.into(), &config.authorize_url);
            oauth.insert("authorizeUrl".into(), authorize_url);
            oauth.insert(
                "getAccessToken".into(),
                walk.slot(method_path::OAUTH2_GET_ACCESS_TOKEN.into(), &config.get_access_token),
            );
            if let Some(refresh) = &config.refresh_access_token {
                oauth.insert(
                    "refreshAccessToken".into(),
                    walk.slot(method_path::OAUTH2_REFRESH_ACCESS_TOKEN.into(), refresh),
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
                walk.slot(method_path::OAUTH1_GET_REQUEST_TOKEN.into(), &config.get_request_token),
            );
            let authorize_url = walk.authorize_url(method_path::OAUTH1_AUTHORIZE_URL.into(), &config.authorize_url);
            oauth.insert("authorizeUrl".into(), authorize_url);
            oauth.insert(
                "getAccessToken".into(),
                walk.slot(method_path::OAUTH1_GET_ACCESS_TOKEN.into(), &config.get_access_token),
            );
            out.insert("oauth1Config".into(), Value::Object(oauth));
        }
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::Bundle;

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
                    get_access_token: Step::Function(ok),
                    refresh_access_token: Some(Step::Function(ok)),
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

    #[test]
    fn session_and_token_steps_take_shorthand_requests() {
        let token = |grant: &str| {
            Request::post("https://api.test/token")
                .form(json!({"grant_type": grant, "client_id": "{{process.env.CLIENT_ID}}"}))
        };
        let app = App::new("1.0.0").authentication(
            Authentication::new(AuthType::OAuth2)
                .session_perform_request(
                    Request::post("https://api.test/session").json(json!({"user": "{{bundle.authData.username}}"})),
                )
                .oauth2(OAuth2Config {
                    authorize_url: Request::get("https://api.test/authorize"),
                    get_access_token: token("authorization_code").into(),
                    refresh_access_token: Some(token("refresh_token").into()),
                    auto_refresh: false,
                    scope: None,
                    enable_pkce: false,
                })
                .oauth1(OAuth1Config {
                    get_request_token: Request::post("https://api.test/request-token").into(),
                    authorize_url: Request::get("https://api.test/authorize"),
                    get_access_token: Request::post("https://api.test/access-token").into(),
                }),
        );
        let definition = app.definition();
        let auth = &definition["authentication"];
        assert_eq!(
            auth["sessionConfig"]["perform"],
            json!({"url": "https://api.test/session", "method": "POST", "json": {"user": "{{bundle.authData.username}}"}})
        );
        assert_eq!(
            auth["oauth2Config"]["refreshAccessToken"]["form"],
            json!({"grant_type": "refresh_token", "client_id": "{{process.env.CLIENT_ID}}"})
        );
        assert_eq!(auth["oauth1Config"]["getRequestToken"]["url"], "https://api.test/request-token");
        for path in [
            method_path::SESSION_PERFORM,
            method_path::OAUTH2_GET_ACCESS_TOKEN,
            method_path::OAUTH2_REFRESH_ACCESS_TOKEN,
            method_path::OAUTH1_GET_REQUEST_TOKEN,
            method_path::OAUTH1_GET_ACCESS_TOKEN,
        ] {
            assert!(matches!(app.method(path), Some(Handler::Shorthand(_))), "{path}");
        }
        // The host finds the same paths in the definition.
        let listed = method_path::methods(&definition);
        for path in [method_path::SESSION_PERFORM, method_path::OAUTH1_GET_REQUEST_TOKEN] {
            assert!(listed.iter().any(|p| p == path), "{path} in {listed:?}");
        }
    }
}
