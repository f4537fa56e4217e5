//! The app an author defines: [`App`] and its parts ([`Authentication`],
//! [`Trigger`], [`Search`], [`Create`], [`Operation`], [`Field`]), built by
//! value with chained methods, and the definition JSON the host reads.
//!
//! One walk over the app produces the definition (Zapier's shape, with each
//! function written as `{"$func": "<method path>"}`) and the list of its
//! method paths. A call does not need the definition: [`App::method`] finds
//! what one method path names by reading the path against the app, without
//! building any JSON, and a test checks it against every path of the walk.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::{Map, Value, json};

use zapwasm_rules::Bundle;
use crate::error::ZError;
use crate::request::Request;
use crate::response::Response;
use crate::z::Z;

/// The text an app's builders keep: a literal is borrowed, not copied, so
/// building the app (which happens on every call) allocates little.
pub type Text = Cow<'static, str>;

/// A function the host can call by its method path: `perform`, `test`, a
/// hydrator, dynamic fields, ... It returns the result as JSON.
pub type Perform = fn(&Z, &Bundle) -> Result<Value, ZError>;

/// beforeRequest middleware: gets every request `z.request` makes (after the
/// defaults) and returns the request to send. Its `z` refuses `z.request`.
pub type BeforeRequest = fn(Request, &Z, &Bundle) -> Result<Request, ZError>;

/// afterResponse middleware: gets every response (before throwForStatus) and
/// returns the response to hand back. Its `z` refuses `z.request`.
pub type AfterResponse = fn(Response, &Z, &Bundle) -> Result<Response, ZError>;

/// The `platformVersion` the definition declares.
const PLATFORM_VERSION: &str = concat!("zapwasm-", env!("CARGO_PKG_VERSION"));

/// An integration: its authentication, middleware, triggers, searches,
/// creates and hydrators.
///
/// ```
/// use zapwasm_guest::prelude::*;
///
/// fn perform(_z: &Z, _bundle: &Bundle) -> Result<Value, ZError> {
///     Ok(json!([{"id": 1}]))
/// }
///
/// let app = App::new("1.0.0").trigger(
///     Trigger::new("new_item", "Item")
///         .display("New Item", "Triggers when an item is added.")
///         .operation(Operation::polling().perform(perform).sample(json!({"id": 1}))),
/// );
/// let definition = app.definition();
/// assert_eq!(
///     definition["triggers"]["new_item"]["operation"]["perform"],
///     json!({"$func": "triggers.new_item.operation.perform"})
/// );
/// ```
#[derive(Debug, Clone)]
pub struct App {
    version: Text,
    authentication: Option<Authentication>,
    pub(crate) before_request: Vec<BeforeRequest>,
    pub(crate) after_response: Vec<AfterResponse>,
    pub(crate) request_template: Option<Request>,
    pub(crate) flags: Flags,
    triggers: Vec<Trigger>,
    searches: Vec<Search>,
    creates: Vec<Create>,
    hydrators: Vec<(Text, Perform)>,
}

/// `App.flags`: the app-wide defaults of two request options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Flags {
    /// The default of `skipThrowForStatus` (false when unset).
    pub(crate) skip_throw_for_status: Option<bool>,
    /// The default of `throwForThrottlingEarly` (true when unset).
    pub(crate) throw_for_throttling_early: Option<bool>,
}

/// What a method path names.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Handler<'a> {
    /// A function to call.
    Function(Perform),
    /// A shorthand request to render and send.
    Shorthand(&'a Request),
    /// Middleware: it runs inside `z.request`, never on its own.
    Middleware,
    /// An OAuth `authorizeUrl`: rendered into the URL the user is sent to, never sent.
    AuthorizeUrl(&'a Request),
}

impl App {
    /// An app with this version (the integration's own, e.g. `1.0.0`).
    pub fn new(version: impl Into<Text>) -> App {
        App {
            version: version.into(),
            authentication: None,
            before_request: Vec::new(),
            after_response: Vec::new(),
            request_template: None,
            flags: Flags::default(),
            triggers: Vec::new(),
            searches: Vec::new(),
            creates: Vec::new(),
            hydrators: Vec::new(),
        }
    }

    /// Sets how users connect an account.
    pub fn authentication(mut self, authentication: Authentication) -> App {
        self.authentication = Some(authentication);
        self
    }

    /// Adds beforeRequest middleware; they run in the order added.
    pub fn before_request(mut self, middleware: BeforeRequest) -> App {
        self.before_request.push(middleware);
        self
    }

    /// Adds afterResponse middleware; they run in the order added.
    pub fn after_response(mut self, middleware: AfterResponse) -> App {
        self.after_response.push(middleware);
        self
    }

    /// Sets the request template: its URL, headers, params and body are
    /// merged under every request (the request wins; headers by name in any
    /// case). Its `{{bundle.*}}` and `{{process.env.*}}` curlies are rendered.
    pub fn request_template(mut self, template: Request) -> App {
        self.request_template = Some(template);
        self
    }

    /// The app-wide default of `skipThrowForStatus`.
    pub fn skip_throw_for_status(mut self, skip: bool) -> App {
        self.flags.skip_throw_for_status = Some(skip);
        self
    }

    /// The app-wide default of `throwForThrottlingEarly`.
    pub fn throw_for_throttling_early(mut self, early: bool) -> App {
        self.flags.throw_for_throttling_early = Some(early);
        self
    }

    /// Adds a trigger.
    pub fn trigger(mut self, trigger: Trigger) -> App {
        self.triggers.push(trigger);
        self
    }

    /// Adds a search.
    pub fn search(mut self, search: Search) -> App {
        self.searches.push(search);
        self
    }

    /// Adds a create.
    pub fn create(mut self, create: Create) -> App {
        self.creates.push(create);
        self
    }

    /// Adds a hydrator, run by the method path `hydrators.<name>` for the
    /// strings `z.dehydrate` returns.
    pub fn hydrator(mut self, name: impl Into<Text>, perform: Perform) -> App {
        self.hydrators.push((name.into(), perform));
        self
    }

    /// The definition JSON the host reads (what `definition()` returns).
    pub fn definition(&self) -> Value {
        self.walk().0
    }

    /// Every method path and what it names, in definition order.
    #[cfg(test)]
    pub(crate) fn methods(&self) -> Vec<(String, Handler<'_>)> {
        self.walk().1
    }

    /// What `path` names, if anything: the same answer as the last entry
    /// for `path` in [`App::methods`], found without building the
    /// definition (every call looks its method up once).
    pub(crate) fn method(&self, path: &str) -> Option<Handler<'_>> {
        let (head, rest) = path.split_once('.')?;
        match head {
            "authentication" => self.authentication.as_ref()?.method(rest),
            "beforeRequest" => list_index(rest, self.before_request.len()).map(|_| Handler::Middleware),
            "afterResponse" => list_index(rest, self.after_response.len()).map(|_| Handler::Middleware),
            "triggers" => action_method(self.triggers.iter().map(|t| &t.0), rest),
            "searches" => action_method(self.searches.iter().map(|s| &s.0), rest),
            "creates" => action_method(self.creates.iter().map(|c| &c.0), rest),
            "hydrators" => self
                .hydrators
                .iter()
                .rev()
                .find(|(name, _)| name == rest)
                .map(|(_, perform)| Handler::Function(*perform)),
            _ => None,
        }
    }

    fn walk(&self) -> (Value, Vec<(String, Handler<'_>)>) {
        let mut walk = Walk::default();
        let mut out = Map::new();
        out.insert("version".into(), json!(self.version));
        out.insert("platformVersion".into(), json!(PLATFORM_VERSION));
        if let Some(authentication) = &self.authentication {
            out.insert("authentication".into(), authentication.to_json(&mut walk));
        }
        if let Some(template) = &self.request_template {
            out.insert("requestTemplate".into(), request_json(template));
        }
        if !self.before_request.is_empty() {
            let entries =
                (0..self.before_request.len()).map(|i| walk.middleware(format!("beforeRequest.{i}"))).collect();
            out.insert("beforeRequest".into(), Value::Array(entries));
        }
        if !self.after_response.is_empty() {
            let entries =
                (0..self.after_response.len()).map(|i| walk.middleware(format!("afterResponse.{i}"))).collect();
            out.insert("afterResponse".into(), Value::Array(entries));
        }
        let mut flags = Map::new();
        if let Some(skip) = self.flags.skip_throw_for_status {
            flags.insert("skipThrowForStatus".into(), json!(skip));
        }
        if let Some(early) = self.flags.throw_for_throttling_early {
            flags.insert("throwForThrottlingEarly".into(), json!(early));
        }
        if !flags.is_empty() {
            out.insert("flags".into(), Value::Object(flags));
        }
        let kinds: [(&str, Vec<&Action>); 3] = [
            ("triggers", self.triggers.iter().map(|t| &t.0).collect()),
            ("searches", self.searches.iter().map(|s| &s.0).collect()),
            ("creates", self.creates.iter().map(|c| &c.0).collect()),
        ];
        for (plural, actions) in kinds {
            if actions.is_empty() {
                continue;
            }
            let mut entries = Map::new();
            for action in actions {
                let path = format!("{plural}.{}", action.key);
                entries.insert(action.key.to_string(), action.to_json(&path, &mut walk));
            }
            out.insert(plural.into(), Value::Object(entries));
        }
        if !self.hydrators.is_empty() {
            let mut entries = Map::new();
            for (name, perform) in &self.hydrators {
                let func = walk.function(format!("hydrators.{name}"), *perform);
                entries.insert(name.to_string(), func);
            }
            out.insert("hydrators".into(), Value::Object(entries));
        }
        (Value::Object(out), walk.methods)
    }
}

/// `text` as an index below `len`, written as the walk writes indices
/// (decimal, no sign, no leading zeros).
fn list_index(text: &str, len: usize) -> Option<usize> {
    let canonical =
        !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && (text.len() == 1 || !text.starts_with('0'));
    let index: usize = if canonical { text.parse().ok()? } else { return None };
    (index < len).then_some(index)
}

/// What `<key>.operation.<rest>` names among `actions` (triggers, searches
/// or creates): the last action with that key that has it, as in the walk.
fn action_method<'a>(actions: impl DoubleEndedIterator<Item = &'a Action>, path: &str) -> Option<Handler<'a>> {
    actions.rev().find_map(|action| {
        let rest = path.strip_prefix(&*action.key)?.strip_prefix(".operation.")?;
        action.operation.as_ref()?.method(rest)
    })
}

/// Collects method paths while the definition is written.
#[derive(Default)]
struct Walk<'a> {
    methods: Vec<(String, Handler<'a>)>,
}

impl<'a> Walk<'a> {
    fn function(&mut self, path: String, perform: Perform) -> Value {
        let func = json!({ "$func": path });
        self.methods.push((path, Handler::Function(perform)));
        func
    }

    fn middleware(&mut self, path: String) -> Value {
        let func = json!({ "$func": path });
        self.methods.push((path, Handler::Middleware));
        func
    }

    fn authorize_url(&mut self, path: String, request: &'a Request) -> Value {
        self.methods.push((path, Handler::AuthorizeUrl(request)));
        request_json(request)
    }

    fn slot(&mut self, path: String, slot: &'a Slot) -> Value {
        match slot {
            Slot::Function(perform) => self.function(path, *perform),
            Slot::Request(request) => {
                self.methods.push((path, Handler::Shorthand(request)));
                request_json(request)
            }
        }
    }
}

fn request_json(request: &Request) -> Value {
    serde_json::to_value(request).unwrap_or_else(|_| json!({}))
}

/// A function or a shorthand request, in a slot that takes either.
#[derive(Debug, Clone)]
enum Slot {
    Function(Perform),
    Request(Box<Request>),
}

impl Slot {
    fn handler(&self) -> Handler<'_> {
        match self {
            Slot::Function(perform) => Handler::Function(*perform),
            Slot::Request(request) => Handler::Shorthand(request),
        }
    }
}

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

#[derive(Debug, Clone)]
enum ConnectionLabel {
    Template(Text),
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

    /// What `authentication.<path>` names (see [`App::method`]).
    fn method(&self, path: &str) -> Option<Handler<'_>> {
        let function = |perform: Option<Perform>| perform.map(Handler::Function);
        match path {
            "test" => self.test.as_ref().map(Slot::handler),
            "connectionLabel" => match &self.connection_label {
                Some(ConnectionLabel::Function(label)) => Some(Handler::Function(*label)),
                _ => None,
            },
            "sessionConfig.perform" => function(self.session_perform),
            "oauth2Config.authorizeUrl" => self.oauth2.as_ref().map(|c| Handler::AuthorizeUrl(&c.authorize_url)),
            "oauth2Config.getAccessToken" => function(self.oauth2.as_ref().map(|c| c.get_access_token)),
            "oauth2Config.refreshAccessToken" => function(self.oauth2.as_ref().and_then(|c| c.refresh_access_token)),
            "oauth1Config.getRequestToken" => function(self.oauth1.as_ref().map(|c| c.get_request_token)),
            "oauth1Config.authorizeUrl" => self.oauth1.as_ref().map(|c| Handler::AuthorizeUrl(&c.authorize_url)),
            "oauth1Config.getAccessToken" => function(self.oauth1.as_ref().map(|c| c.get_access_token)),
            _ => None,
        }
    }

    fn to_json<'a>(&'a self, walk: &mut Walk<'a>) -> Value {
        let mut out = Map::new();
        out.insert("type".into(), json!(self.kind.name()));
        if !self.fields.is_empty() {
            out.insert("fields".into(), fields_json(&self.fields));
        }
        if let Some(test) = &self.test {
            out.insert("test".into(), walk.slot("authentication.test".into(), test));
        }
        match &self.connection_label {
            Some(ConnectionLabel::Template(template)) => {
                out.insert("connectionLabel".into(), json!(template));
            }
            Some(ConnectionLabel::Function(label)) => {
                let func = walk.function("authentication.connectionLabel".into(), *label);
                out.insert("connectionLabel".into(), func);
            }
            None => {}
        }
        if let Some(perform) = self.session_perform {
            let func = walk.function("authentication.sessionConfig.perform".into(), perform);
            out.insert("sessionConfig".into(), json!({ "perform": func }));
        }
        if let Some(config) = &self.oauth2 {
            let base = "authentication.oauth2Config";
            let mut oauth = Map::new();
            let authorize_url = walk.authorize_url(format!("{base}.authorizeUrl"), &config.authorize_url);
            oauth.insert("authorizeUrl".into(), authorize_url);
            oauth.insert(
                "getAccessToken".into(),
                walk.function(format!("{base}.getAccessToken"), config.get_access_token),
            );
            if let Some(refresh) = config.refresh_access_token {
                oauth.insert("refreshAccessToken".into(), walk.function(format!("{base}.refreshAccessToken"), refresh));
            }
            oauth.insert("autoRefresh".into(), json!(config.auto_refresh));
            if let Some(scope) = &config.scope {
                oauth.insert("scope".into(), json!(scope));
            }
            oauth.insert("enablePkce".into(), json!(config.enable_pkce));
            out.insert("oauth2Config".into(), Value::Object(oauth));
        }
        if let Some(config) = &self.oauth1 {
            let base = "authentication.oauth1Config";
            let mut oauth = Map::new();
            oauth.insert(
                "getRequestToken".into(),
                walk.function(format!("{base}.getRequestToken"), config.get_request_token),
            );
            let authorize_url = walk.authorize_url(format!("{base}.authorizeUrl"), &config.authorize_url);
            oauth.insert("authorizeUrl".into(), authorize_url);
            oauth.insert(
                "getAccessToken".into(),
                walk.function(format!("{base}.getAccessToken"), config.get_access_token),
            );
            out.insert("oauth1Config".into(), Value::Object(oauth));
        }
        Value::Object(out)
    }
}

/// An input or output field.
///
/// ```
/// use zapwasm_guest::{Field, json};
///
/// let field = Field::new("email").label("Email").required(true).kind("string");
/// assert_eq!(
///     serde_json::to_value(&field).unwrap(),
///     json!({"key": "email", "label": "Email", "required": true, "type": "string"})
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Field {
    key: Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    required: Option<bool>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    help_text: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    default: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    choices: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    list: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dynamic: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    search: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    primary: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    computed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    placeholder: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alters_dynamic_fields: Option<bool>,
}

impl Field {
    /// A field with this key (`^[a-zA-Z]+[a-zA-Z0-9_]*$` by convention).
    pub fn new(key: impl Into<Text>) -> Field {
        Field {
            key: key.into(),
            label: None,
            required: None,
            kind: None,
            help_text: None,
            default: None,
            choices: None,
            list: None,
            dynamic: None,
            search: None,
            primary: None,
            computed: None,
            placeholder: None,
            alters_dynamic_fields: None,
        }
    }

    /// The label users see.
    pub fn label(mut self, label: impl Into<Text>) -> Field {
        self.label = Some(label.into());
        self
    }

    /// Whether the user must fill it in.
    pub fn required(mut self, required: bool) -> Field {
        self.required = Some(required);
        self
    }

    /// The type: `string`, `text`, `integer`, `number`, `boolean`, `datetime`,
    /// `file`, `password`, `copy`, `code` or `json`.
    pub fn kind(mut self, kind: impl Into<Text>) -> Field {
        self.kind = Some(kind.into());
        self
    }

    /// Help shown under the field (Markdown).
    pub fn help_text(mut self, help: impl Into<Text>) -> Field {
        self.help_text = Some(help.into());
        self
    }

    /// The value used when the user gives none.
    pub fn default(mut self, default: impl Into<Text>) -> Field {
        self.default = Some(default.into());
        self
    }

    /// A static dropdown: an object `{value: label}`, an array of values, or
    /// an array of `{value, sample, label}`.
    pub fn choices(mut self, choices: Value) -> Field {
        self.choices = Some(choices);
        self
    }

    /// Whether the field takes several values.
    pub fn list(mut self, list: bool) -> Field {
        self.list = Some(list);
        self
    }

    /// A dynamic dropdown filled by a trigger: `trigger_key.id_field.label_field`.
    pub fn dynamic(mut self, dynamic: impl Into<Text>) -> Field {
        self.dynamic = Some(dynamic.into());
        self
    }

    /// A search that can fill the field: `search_key.id_field`.
    pub fn search(mut self, search: impl Into<Text>) -> Field {
        self.search = Some(search.into());
        self
    }

    /// Whether the (output) field is part of the primary key used for dedupe.
    pub fn primary(mut self, primary: bool) -> Field {
        self.primary = Some(primary);
        self
    }

    /// Whether the (auth) field is computed rather than filled in by the user.
    pub fn computed(mut self, computed: bool) -> Field {
        self.computed = Some(computed);
        self
    }

    /// Placeholder text.
    pub fn placeholder(mut self, placeholder: impl Into<Text>) -> Field {
        self.placeholder = Some(placeholder.into());
        self
    }

    /// Whether changing this field reloads the dynamic fields.
    pub fn alters_dynamic_fields(mut self, alters: bool) -> Field {
        self.alters_dynamic_fields = Some(alters);
        self
    }
}

fn fields_json(fields: &[Field]) -> Value {
    Value::Array(fields.iter().map(|field| serde_json::to_value(field).unwrap_or_else(|_| json!({}))).collect())
}

/// A static field, or a function returning fields (dynamic fields).
#[derive(Debug, Clone)]
enum FieldEntry {
    Static(Box<Field>),
    Dynamic(Perform),
}

/// What a trigger, search or create does: its functions, fields and sample.
#[derive(Debug, Clone, Default)]
pub struct Operation {
    kind: Option<&'static str>,
    perform: Option<Slot>,
    perform_list: Option<Slot>,
    perform_subscribe: Option<Slot>,
    perform_unsubscribe: Option<Slot>,
    perform_resume: Option<Perform>,
    perform_buffer: Option<Perform>,
    buffer: Option<(Vec<String>, u32)>,
    input_fields: Vec<FieldEntry>,
    output_fields: Vec<FieldEntry>,
    sample: Option<Value>,
    can_paginate: Option<bool>,
}

impl Operation {
    /// An operation without a type: a search's or a create's.
    pub fn new() -> Operation {
        Operation::default()
    }

    /// A polling trigger's operation.
    pub fn polling() -> Operation {
        Operation { kind: Some("polling"), ..Operation::default() }
    }

    /// A hook trigger's operation (performSubscribe, performUnsubscribe, performList).
    pub fn hook() -> Operation {
        Operation { kind: Some("hook"), ..Operation::default() }
    }

    /// `perform`: polls, searches, creates, or turns a hook delivery into results.
    pub fn perform(mut self, perform: Perform) -> Operation {
        self.perform = Some(Slot::Function(perform));
        self
    }

    /// `perform` as a shorthand request: its curlies are rendered, non-2xx
    /// answers raise, and the result is the parsed body.
    pub fn perform_request(mut self, request: Request) -> Operation {
        self.perform = Some(Slot::Request(Box::new(request)));
        self
    }

    /// `performList`: a hook trigger's recent items, for samples.
    pub fn perform_list(mut self, perform: Perform) -> Operation {
        self.perform_list = Some(Slot::Function(perform));
        self
    }

    /// `performList` as a shorthand request (see [`Operation::perform_request`]).
    pub fn perform_list_request(mut self, request: Request) -> Operation {
        self.perform_list = Some(Slot::Request(Box::new(request)));
        self
    }

    /// `performSubscribe`: registers `bundle.targetUrl`; the result becomes `bundle.subscribeData`.
    pub fn perform_subscribe(mut self, perform: Perform) -> Operation {
        self.perform_subscribe = Some(Slot::Function(perform));
        self
    }

    /// `performSubscribe` as a shorthand request, e.g. a POST of
    /// `{{bundle.targetUrl}}` (see [`Operation::perform_request`]).
    pub fn perform_subscribe_request(mut self, request: Request) -> Operation {
        self.perform_subscribe = Some(Slot::Request(Box::new(request)));
        self
    }

    /// `performUnsubscribe`: removes the subscription in `bundle.subscribeData`.
    pub fn perform_unsubscribe(mut self, perform: Perform) -> Operation {
        self.perform_unsubscribe = Some(Slot::Function(perform));
        self
    }

    /// `performUnsubscribe` as a shorthand request, e.g. a DELETE of
    /// `{{bundle.subscribeData.id}}` (see [`Operation::perform_request`]).
    pub fn perform_unsubscribe_request(mut self, request: Request) -> Operation {
        self.perform_unsubscribe = Some(Slot::Request(Box::new(request)));
        self
    }

    /// `performResume`: finishes a call that waited for its callback URL.
    pub fn perform_resume(mut self, perform: Perform) -> Operation {
        self.perform_resume = Some(perform);
        self
    }

    /// `performBuffer`: a create's buffered runs in one call.
    pub fn perform_buffer(mut self, perform: Perform) -> Operation {
        self.perform_buffer = Some(perform);
        self
    }

    /// How runs are buffered for performBuffer: grouped by these input fields, at most `limit` a call.
    pub fn buffer(mut self, grouped_by: &[&str], limit: u32) -> Operation {
        let grouped_by = grouped_by.iter().map(|key| key.to_string()).collect();
        self.buffer = Some((grouped_by, limit));
        self
    }

    /// Adds an input field.
    pub fn input_field(mut self, field: Field) -> Operation {
        self.input_fields.push(FieldEntry::Static(Box::new(field)));
        self
    }

    /// Adds dynamic input fields: a function returning an array of fields.
    pub fn input_fields_fn(mut self, fields: Perform) -> Operation {
        self.input_fields.push(FieldEntry::Dynamic(fields));
        self
    }

    /// Adds an output field.
    pub fn output_field(mut self, field: Field) -> Operation {
        self.output_fields.push(FieldEntry::Static(Box::new(field)));
        self
    }

    /// Adds dynamic output fields: a function returning an array of fields.
    pub fn output_fields_fn(mut self, fields: Perform) -> Operation {
        self.output_fields.push(FieldEntry::Dynamic(fields));
        self
    }

    /// A sample result, shown when the user cannot load a live one.
    pub fn sample(mut self, sample: Value) -> Operation {
        self.sample = Some(sample);
        self
    }

    /// Whether results come in pages (`bundle.meta.page`, `paging_token`).
    pub fn can_paginate(mut self, can: bool) -> Operation {
        self.can_paginate = Some(can);
        self
    }

    /// What `<action path>.operation.<path>` names (see [`App::method`]).
    fn method(&self, path: &str) -> Option<Handler<'_>> {
        let function = |perform: Option<Perform>| perform.map(Handler::Function);
        match path {
            "perform" => self.perform.as_ref().map(Slot::handler),
            "performList" => self.perform_list.as_ref().map(Slot::handler),
            "performSubscribe" => self.perform_subscribe.as_ref().map(Slot::handler),
            "performUnsubscribe" => self.perform_unsubscribe.as_ref().map(Slot::handler),
            "performResume" => function(self.perform_resume),
            "performBuffer" => function(self.perform_buffer),
            _ => {
                let (name, index) = path.split_once('.')?;
                let entries = match name {
                    "inputFields" => &self.input_fields,
                    "outputFields" => &self.output_fields,
                    _ => return None,
                };
                match entries[list_index(index, entries.len())?] {
                    FieldEntry::Dynamic(fields) => Some(Handler::Function(fields)),
                    FieldEntry::Static(_) => None,
                }
            }
        }
    }

    fn to_json<'a>(&'a self, path: &str, walk: &mut Walk<'a>) -> Value {
        let mut out = Map::new();
        if let Some(kind) = self.kind {
            out.insert("type".into(), json!(kind));
        }
        if let Some(perform) = &self.perform {
            out.insert("perform".into(), walk.slot(format!("{path}.perform"), perform));
        }
        let slots = [
            ("performList", &self.perform_list),
            ("performSubscribe", &self.perform_subscribe),
            ("performUnsubscribe", &self.perform_unsubscribe),
        ];
        for (name, slot) in slots {
            if let Some(slot) = slot {
                out.insert(name.into(), walk.slot(format!("{path}.{name}"), slot));
            }
        }
        let functions = [("performResume", self.perform_resume), ("performBuffer", self.perform_buffer)];
        for (name, perform) in functions {
            if let Some(perform) = perform {
                out.insert(name.into(), walk.function(format!("{path}.{name}"), perform));
            }
        }
        if let Some((grouped_by, limit)) = &self.buffer {
            out.insert("buffer".into(), json!({ "groupedBy": grouped_by, "limit": limit }));
        }
        for (name, entries) in [("inputFields", &self.input_fields), ("outputFields", &self.output_fields)] {
            if entries.is_empty() {
                continue;
            }
            let fields = entries
                .iter()
                .enumerate()
                .map(|(i, entry)| match entry {
                    FieldEntry::Static(field) => serde_json::to_value(field).unwrap_or_else(|_| json!({})),
                    FieldEntry::Dynamic(fields) => walk.function(format!("{path}.{name}.{i}"), *fields),
                })
                .collect();
            out.insert(name.into(), Value::Array(fields));
        }
        if let Some(sample) = &self.sample {
            out.insert("sample".into(), sample.clone());
        }
        if let Some(can) = self.can_paginate {
            out.insert("canPaginate".into(), json!(can));
        }
        Value::Object(out)
    }
}

/// What triggers, searches and creates share: key, noun, display, operation.
#[derive(Debug, Clone)]
struct Action {
    key: Text,
    noun: Text,
    label: Option<Text>,
    description: Option<Text>,
    hidden: Option<bool>,
    important: Option<bool>,
    operation: Option<Operation>,
}

impl Action {
    fn new(key: Text, noun: Text) -> Action {
        Action { key, noun, label: None, description: None, hidden: None, important: None, operation: None }
    }

    fn to_json<'a>(&'a self, path: &str, walk: &mut Walk<'a>) -> Value {
        let mut out = Map::new();
        out.insert("key".into(), json!(self.key));
        out.insert("noun".into(), json!(self.noun));
        let mut display = Map::new();
        if let Some(label) = &self.label {
            display.insert("label".into(), json!(label));
        }
        if let Some(description) = &self.description {
            display.insert("description".into(), json!(description));
        }
        if let Some(hidden) = self.hidden {
            display.insert("hidden".into(), json!(hidden));
        }
        if let Some(important) = self.important {
            display.insert("important".into(), json!(important));
        }
        if !display.is_empty() {
            out.insert("display".into(), Value::Object(display));
        }
        if let Some(operation) = &self.operation {
            let operation = operation.to_json(&format!("{path}.operation"), walk);
            out.insert("operation".into(), operation);
        }
        Value::Object(out)
    }
}

/// Defines [`Trigger`], [`Search`] and [`Create`]: the same builder over [`Action`].
macro_rules! action_kind {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(Action);

        impl $name {
            /// One with this key (unique among its kind) and noun (`Contact`, `File`, ...).
            pub fn new(key: impl Into<Text>, noun: impl Into<Text>) -> $name {
                $name(Action::new(key.into(), noun.into()))
            }

            /// The label and description users see.
            pub fn display(mut self, label: impl Into<Text>, description: impl Into<Text>) -> $name {
                self.0.label = Some(label.into());
                self.0.description = Some(description.into());
                self
            }

            /// Hidden from users (used only by dynamic dropdowns or searches).
            pub fn hidden(mut self, hidden: bool) -> $name {
                self.0.hidden = Some(hidden);
                self
            }

            /// Shown first among its kind.
            pub fn important(mut self, important: bool) -> $name {
                self.0.important = Some(important);
                self
            }

            /// What it does.
            pub fn operation(mut self, operation: Operation) -> $name {
                self.0.operation = Some(operation);
                self
            }

            /// Its key.
            pub fn key(&self) -> &str {
                &self.0.key
            }
        }
    };
}

action_kind!(
    /// A trigger: new data, polled (`Operation::polling`) or pushed by a hook (`Operation::hook`).
    Trigger
);
action_kind!(
    /// A search: finds existing data; perform returns an array.
    Search
);
action_kind!(
    /// A create: writes data; perform returns an object.
    Create
);

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(_z: &Z, _bundle: &Bundle) -> Result<Value, ZError> {
        Ok(json!({}))
    }

    fn keep(request: Request, _z: &Z, _bundle: &Bundle) -> Result<Request, ZError> {
        Ok(request)
    }

    fn pass(response: Response, _z: &Z, _bundle: &Bundle) -> Result<Response, ZError> {
        Ok(response)
    }

    #[test]
    fn a_minimal_app_has_only_version_and_platform_version() {
        assert_eq!(App::new("1.2.3").definition(), json!({"version": "1.2.3", "platformVersion": "zapwasm-0.1.0"}));
    }

    #[test]
    fn the_definition_has_zapiers_shape_with_functions_by_path() {
        let app = App::new("1.0.0")
            .authentication(
                Authentication::new(AuthType::Custom)
                    .field(Field::new("api_key").label("API Key").required(true).kind("password"))
                    .test(ok)
                    .connection_label("{{bundle.inputData.name}}"),
            )
            .request_template(Request::new("", "").header("X-Key", "{{bundle.authData.api_key}}"))
            .before_request(keep)
            .before_request(keep)
            .after_response(pass)
            .throw_for_throttling_early(false)
            .trigger(
                Trigger::new("new_item", "Item").display("New Item", "Triggers on new items.").hidden(true).operation(
                    Operation::polling()
                        .perform(ok)
                        .input_field(Field::new("list").dynamic("lists.id.name"))
                        .input_fields_fn(ok)
                        .output_field(Field::new("id").primary(true))
                        .sample(json!({"id": 1}))
                        .can_paginate(true),
                ),
            )
            .search(Search::new("find_item", "Item").display("Find Item", "Finds an item.").operation(
                Operation::new().perform_request(Request::get("https://api.test/items?q={{bundle.inputData.q}}")),
            ))
            .create(
                Create::new("add_item", "Item").display("Add Item", "Adds an item.").operation(
                    Operation::new().perform(ok).perform_resume(ok).perform_buffer(ok).buffer(&["list"], 50),
                ),
            )
            .hydrator("file", ok);
        assert_eq!(
            app.definition(),
            json!({
                "version": "1.0.0",
                "platformVersion": "zapwasm-0.1.0",
                "authentication": {
                    "type": "custom",
                    "fields": [{"key": "api_key", "label": "API Key", "required": true, "type": "password"}],
                    "test": {"$func": "authentication.test"},
                    "connectionLabel": "{{bundle.inputData.name}}",
                },
                "requestTemplate": {"headers": {"X-Key": "{{bundle.authData.api_key}}"}},
                "beforeRequest": [{"$func": "beforeRequest.0"}, {"$func": "beforeRequest.1"}],
                "afterResponse": [{"$func": "afterResponse.0"}],
                "flags": {"throwForThrottlingEarly": false},
                "triggers": {"new_item": {
                    "key": "new_item",
                    "noun": "Item",
                    "display": {"label": "New Item", "description": "Triggers on new items.", "hidden": true},
                    "operation": {
                        "type": "polling",
                        "perform": {"$func": "triggers.new_item.operation.perform"},
                        "inputFields": [
                            {"key": "list", "dynamic": "lists.id.name"},
                            {"$func": "triggers.new_item.operation.inputFields.1"},
                        ],
                        "outputFields": [{"key": "id", "primary": true}],
                        "sample": {"id": 1},
                        "canPaginate": true,
                    },
                }},
                "searches": {"find_item": {
                    "key": "find_item",
                    "noun": "Item",
                    "display": {"label": "Find Item", "description": "Finds an item."},
                    "operation": {"perform": {
                        "url": "https://api.test/items?q={{bundle.inputData.q}}",
                        "method": "GET",
                    }},
                }},
                "creates": {"add_item": {
                    "key": "add_item",
                    "noun": "Item",
                    "display": {"label": "Add Item", "description": "Adds an item."},
                    "operation": {
                        "perform": {"$func": "creates.add_item.operation.perform"},
                        "performResume": {"$func": "creates.add_item.operation.performResume"},
                        "performBuffer": {"$func": "creates.add_item.operation.performBuffer"},
                        "buffer": {"groupedBy": ["list"], "limit": 50},
                    },
                }},
                "hydrators": {"file": {"$func": "hydrators.file"}},
            })
        );
        let paths: Vec<String> = app.methods().into_iter().map(|(path, _)| path).collect();
        assert_eq!(
            paths,
            [
                "authentication.test",
                "beforeRequest.0",
                "beforeRequest.1",
                "afterResponse.0",
                "triggers.new_item.operation.perform",
                "triggers.new_item.operation.inputFields.1",
                "searches.find_item.operation.perform",
                "creates.add_item.operation.perform",
                "creates.add_item.operation.performResume",
                "creates.add_item.operation.performBuffer",
                "hydrators.file",
            ]
        );
    }

    /// Every path of the walk resolves by [`App::method`] to what its last
    /// entry in the walk names; near misses resolve to nothing.
    fn assert_lookup_agrees_with_walk(app: &App) {
        let methods = app.methods();
        for (path, _) in &methods {
            let walked = methods.iter().rev().find(|(p, _)| p == path).map(|(_, handler)| handler).unwrap();
            let found = app.method(path).unwrap_or_else(|| panic!("{path} not found"));
            match (walked, found) {
                (Handler::Function(_), Handler::Function(_)) | (Handler::Middleware, Handler::Middleware) => {}
                (Handler::Shorthand(a), Handler::Shorthand(b))
                | (Handler::AuthorizeUrl(a), Handler::AuthorizeUrl(b)) => {
                    assert!(std::ptr::eq(*a, b), "{path}")
                }
                (walked, found) => panic!("{path}: the walk has {walked:?}, the lookup {found:?}"),
            }
            for miss in
                [format!("{path}.x"), format!("x{path}"), format!("{path}x"), path[..path.len() - 1].to_string()]
            {
                if !methods.iter().any(|(p, _)| *p == miss) {
                    assert!(app.method(&miss).is_none(), "{miss} should name nothing");
                }
            }
        }
    }

    #[test]
    fn the_lookup_finds_what_the_walk_lists() {
        let app = App::new("1.0.0")
            .authentication(
                Authentication::new(AuthType::OAuth2)
                    .test_request(Request::get("https://api.test/me"))
                    .connection_label_fn(ok)
                    .session_perform(ok)
                    .oauth2(OAuth2Config {
                        authorize_url: Request::get("https://api.test/authorize"),
                        get_access_token: ok,
                        refresh_access_token: Some(ok),
                        auto_refresh: true,
                        scope: None,
                        enable_pkce: false,
                    })
                    .oauth1(OAuth1Config {
                        get_request_token: ok,
                        authorize_url: Request::get("https://api.test/authorize"),
                        get_access_token: ok,
                    }),
            )
            .before_request(keep)
            .after_response(pass)
            .after_response(pass)
            .trigger(
                Trigger::new("new.item", "Item").operation(
                    Operation::hook()
                        .perform(ok)
                        .perform_list(ok)
                        .perform_subscribe(ok)
                        .perform_unsubscribe(ok)
                        .input_field(Field::new("a"))
                        .input_fields_fn(ok)
                        .output_fields_fn(ok),
                ),
            )
            // The same key again: the definition keeps the last, and a path
            // only the first has still names the first's function.
            .trigger(
                Trigger::new("new.item", "Item").operation(Operation::polling().perform_request(Request::get("x"))),
            )
            .trigger(Trigger::new("bare", "Item"))
            .search(Search::new("find", "Item").operation(Operation::new().perform_request(Request::get("y"))))
            .create(
                Create::new("add", "Item")
                    .operation(Operation::new().perform(ok).perform_resume(ok).perform_buffer(ok)),
            )
            .hydrator("file", ok)
            .hydrator("a.b", ok);
        assert_lookup_agrees_with_walk(&app);
        assert!(matches!(app.method("triggers.new.item.operation.perform"), Some(Handler::Shorthand(_))));
        assert!(matches!(app.method("triggers.new.item.operation.performList"), Some(Handler::Function(_))));
        for nothing in [
            "",
            "triggers",
            "triggers.bare.operation.perform",
            "triggers.new.item.operation.inputFields.0",
            "triggers.new.item.operation.inputFields.01",
            "triggers.new.item.operation.inputFields.+1",
            "triggers.new.item.operation.inputFields.9",
            "beforeRequest.1",
            "beforeRequest.00",
            "afterResponse.-1",
            "hydrators.",
            "hydrators.a",
            "authentication.fields",
            "version",
        ] {
            assert!(app.method(nothing).is_none(), "{nothing} should name nothing");
        }
        assert_lookup_agrees_with_walk(&App::new("1").authentication(
            Authentication::new(AuthType::Custom).test(ok).connection_label("{{bundle.inputData.name}}"),
        ));
        assert!(
            App::new("1")
                .authentication(Authentication::new(AuthType::Custom).connection_label("x"))
                .method("authentication.connectionLabel")
                .is_none()
        );
    }

    #[test]
    fn hook_slots_take_shorthand_requests() {
        let subscribe = Request::post("https://api.test/hooks").json(json!({"url": "{{bundle.targetUrl}}"}));
        let app = App::new("1").trigger(
            Trigger::new("hook", "Item")
                .operation(Operation::hook().perform(ok).perform_subscribe_request(subscribe).perform_unsubscribe(ok)),
        );
        let operation = &app.definition()["triggers"]["hook"]["operation"];
        assert_eq!(
            operation["performSubscribe"],
            json!({"url": "https://api.test/hooks", "method": "POST", "json": {"url": "{{bundle.targetUrl}}"}})
        );
        assert_eq!(operation["performUnsubscribe"], json!({"$func": "triggers.hook.operation.performUnsubscribe"}));
        let methods = app.methods();
        let subscribe = methods.iter().find(|(path, _)| path == "triggers.hook.operation.performSubscribe");
        assert!(matches!(subscribe, Some((_, Handler::Shorthand(_)))), "{subscribe:?}");
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

    #[test]
    fn fields_emit_only_what_was_set() {
        let field = Field::new("k")
            .help_text("h")
            .default("d")
            .choices(json!(["a"]))
            .list(true)
            .search("find.id")
            .computed(false)
            .placeholder("p")
            .alters_dynamic_fields(true);
        assert_eq!(
            serde_json::to_value(&field).unwrap(),
            json!({"key": "k", "helpText": "h", "default": "d", "choices": ["a"], "list": true,
                   "search": "find.id", "computed": false, "placeholder": "p", "altersDynamicFields": true})
        );
    }
}
