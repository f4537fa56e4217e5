//! The app an author defines: [`App`] and the definition JSON the host
//! reads. Its parts live beside it, one noun a file:
//! [`authentication`] ([`Authentication`], [`AuthType`], the OAuth
//! configs), [`operations`] ([`Trigger`], [`Search`], [`Create`],
//! [`Operation`]), [`fields`] ([`Field`]) and [`search_or_create`]
//! ([`SearchOrCreate`]). All are built by value with chained methods.
//!
//! One walk over the app produces the definition (Zapier's shape, with each
//! function written as `{"$func": "<method path>"}`, the method paths
//! formed by [`zapwasm_rules::method_path`]) and the list of its method
//! paths. A call does not need the definition: [`App::method`] finds
//! what one method path names by reading the path against the app, without
//! building any JSON, and a test checks it against every path of the walk.

mod authentication;
mod fields;
mod operations;
mod search_or_create;

use std::borrow::Cow;

use crate::Bundle;
use crate::{Map, Value, json};
use zapwasm_rules::method_path::{self, MethodPath, MiddlewareKind, OperationKind};

use crate::error::ZError;
use crate::middleware::{AfterResponse, BeforeRequest, Middleware};
use crate::request::Request;
use crate::z::Z;

pub use authentication::{AuthType, Authentication, OAuth1Config, OAuth2Config};
pub use fields::Field;
pub use operations::{Create, Operation, Search, Trigger};
pub use search_or_create::SearchOrCreate;

use operations::Action;

/// The text an app's builders keep: a literal is borrowed, not copied, so
/// building the app (which happens on every call) allocates little.
pub type Text = Cow<'static, str>;

/// A function the host can call by its method path: `perform`, `test`, a
/// hydrator, dynamic fields, ... It returns the result as JSON.
pub type Perform = fn(&Z, &Bundle) -> Result<Value, ZError>;

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
    /// beforeRequest and afterResponse, run by [`crate::lifecycle`].
    pub(crate) middleware: Middleware,
    /// Merged under every request, by [`crate::lifecycle`].
    pub(crate) request_template: Option<Request>,
    /// The app-wide defaults of two request options.
    pub(crate) flags: Flags,
    triggers: Vec<Trigger>,
    searches: Vec<Search>,
    creates: Vec<Create>,
    search_or_creates: Vec<SearchOrCreate>,
    hydrators: Vec<(Text, Perform)>,
    /// The actions by key, once the app is kept for an instance's calls
    /// ([`App::index_actions`]); without it a lookup walks the actions.
    index: Option<ActionIndex>,
}

/// Each kind's actions sorted by key (a key's later actions first), with
/// their places in the kind's list: a call finds its action by binary
/// search, so its cost does not grow with the app. Built with the app, so
/// a snapshot of the instance holds it; it holds nothing but the app's own
/// keys, in an order the keys alone decide.
#[derive(Debug, Clone, Default)]
struct ActionIndex {
    by_kind: [Vec<(Text, usize)>; 3],
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
            middleware: Middleware::default(),
            request_template: None,
            flags: Flags::default(),
            triggers: Vec::new(),
            searches: Vec::new(),
            creates: Vec::new(),
            search_or_creates: Vec::new(),
            hydrators: Vec::new(),
            index: None,
        }
    }

    /// Indexes the app's actions by key, for an instance that
    /// keeps it for all its calls ([`crate::export::keep`]). Lookups answer
    /// as the walk over the actions does (a test holds them to it).
    pub(crate) fn index_actions(&mut self) {
        let mut index = ActionIndex::default();
        for (slot, kind) in OperationKind::ALL.into_iter().enumerate() {
            let mut keys: Vec<(Text, usize)> =
                self.actions(kind).enumerate().map(|(place, action)| (action.key.clone(), place)).collect();
            keys.sort_by(|(a, a_place), (b, b_place)| a.cmp(b).then(b_place.cmp(a_place)));
            index.by_kind[slot] = keys;
        }
        self.index = Some(index);
    }

    /// Sets how users connect an account.
    pub fn authentication(mut self, authentication: Authentication) -> App {
        self.authentication = Some(authentication);
        self
    }

    /// Adds beforeRequest middleware; they run in the order added.
    pub fn before_request(mut self, middleware: BeforeRequest) -> App {
        self.middleware.before_request.push(middleware);
        self
    }

    /// Adds afterResponse middleware; they run in the order added.
    pub fn after_response(mut self, middleware: AfterResponse) -> App {
        self.middleware.after_response.push(middleware);
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

    /// Adds a search-or-create: a search paired with the create run when
    /// it finds nothing (`searchOrCreates`; a later one with the same key
    /// replaces it).
    pub fn search_or_create(mut self, search_or_create: SearchOrCreate) -> App {
        self.search_or_creates.push(search_or_create);
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
    /// for `path` in the walk's list (`App::methods`, built in tests),
    /// found without building the definition (every call looks its method
    /// up once).
    ///
    /// Never inlined: its caller's frame stays on the guest's stack for the
    /// whole call, under everything the method does, and with the lookup's
    /// locals in it a waiting call touched one more page of that stack
    /// (4 KiB more per waiting call, measured by the benchmark's
    /// `in_flight`).
    #[inline(never)]
    pub(crate) fn method(&self, path: &str) -> Option<Handler<'_>> {
        let middleware = |count: usize, index: usize| (index < count).then_some(Handler::Middleware);
        match MethodPath::split(path)? {
            MethodPath::Authentication => self.authentication.as_ref()?.method(path),
            MethodPath::Middleware(MiddlewareKind::BeforeRequest, index) => {
                middleware(self.middleware.before_request.len(), index)
            }
            MethodPath::Middleware(MiddlewareKind::AfterResponse, index) => {
                middleware(self.middleware.after_response.len(), index)
            }
            MethodPath::Operation(kind, rest) => match &self.index {
                Some(index) => self.indexed_action_method(index, kind, rest),
                None => operations::action_method(self.actions(kind), rest),
            },
            MethodPath::Hydrator(name) => self
                .hydrators
                .iter()
                .rev()
                .find(|(hydrator, _)| hydrator == name)
                .map(|(_, perform)| Handler::Function(*perform)),
        }
    }

    /// [`operations::action_method`] through the index: the key is the
    /// path's text before its last `.operation.` (keys may hold dots, the
    /// method after it never holds that segment), and of the actions with
    /// that key the latest that has the method answers.
    fn indexed_action_method<'a>(
        &'a self,
        index: &ActionIndex,
        kind: OperationKind,
        rest: &str,
    ) -> Option<Handler<'a>> {
        let slot = OperationKind::ALL.iter().position(|candidate| *candidate == kind)?;
        let key = &rest[..rest.rfind(".operation.")?];
        let keys = &index.by_kind[slot];
        let first = keys.partition_point(|(candidate, _)| candidate.as_ref() < key);
        let actions = keys[first..].iter().take_while(|(candidate, _)| candidate == key);
        let (triggers, searches, creates) = self.action_lists(kind);
        let action = |place: usize| {
            let trigger = triggers.get(place).map(|trigger| &trigger.0);
            trigger
                .or_else(|| searches.get(place).map(|search| &search.0))
                .or_else(|| creates.get(place).map(|create| &create.0))
        };
        actions.filter_map(|(_, place)| action(*place)).find_map(|action| action.method(rest))
    }

    /// The actions of a kind, in the order added; none for a kind this SDK
    /// has no builder for (its paths name nothing).
    fn actions(&self, kind: OperationKind) -> impl DoubleEndedIterator<Item = &Action> {
        // One iterator type over whichever list it is, without allocating:
        // a plain instance's call looks its method up here.
        let (triggers, searches, creates) = self.action_lists(kind);
        let triggers = triggers.iter().map(|trigger| &trigger.0);
        triggers.chain(searches.iter().map(|search| &search.0)).chain(creates.iter().map(|create| &create.0))
    }

    /// The list of a kind's actions, as one of three slices (the other two
    /// empty, all three for a kind this SDK has no builder for).
    fn action_lists(&self, kind: OperationKind) -> (&[Trigger], &[Search], &[Create]) {
        match kind {
            OperationKind::Trigger => (&self.triggers, &[], &[]),
            OperationKind::Search => (&[], &self.searches, &[]),
            OperationKind::Create => (&[], &[], &self.creates),
            _ => (&[], &[], &[]),
        }
    }

    /// The definition and every method path in it (with what it names), in one walk.
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
        let middleware = [
            (MiddlewareKind::BeforeRequest, self.middleware.before_request.len()),
            (MiddlewareKind::AfterResponse, self.middleware.after_response.len()),
        ];
        for (kind, count) in middleware {
            if count > 0 {
                let entries = (0..count).map(|i| walk.middleware(method_path::middleware(kind, i))).collect();
                out.insert(kind.key().into(), Value::Array(entries));
            }
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
        for kind in OperationKind::ALL {
            let mut actions = self.actions(kind).peekable();
            if actions.peek().is_none() {
                continue;
            }
            let mut entries = Map::new();
            for action in actions {
                let operation = method_path::operation(kind, &action.key);
                entries.insert(action.key.to_string(), action.to_json(&operation, &mut walk));
            }
            out.insert(kind.plural().into(), Value::Object(entries));
        }
        if !self.search_or_creates.is_empty() {
            let entries = self.search_or_creates.iter().map(|pair| (pair.key().to_string(), pair.to_json()));
            out.insert("searchOrCreates".into(), Value::Object(entries.collect()));
        }
        if !self.hydrators.is_empty() {
            let mut entries = Map::new();
            for (name, perform) in &self.hydrators {
                let func = walk.function(method_path::hydrator(name), *perform);
                entries.insert(name.to_string(), func);
            }
            out.insert("hydrators".into(), Value::Object(entries));
        }
        (Value::Object(out), walk.methods)
    }
}

/// Collects method paths while the definition is written.
#[derive(Default)]
pub(super) struct Walk<'a> {
    methods: Vec<(String, Handler<'a>)>,
}

impl<'a> Walk<'a> {
    /// A function's marker, its path listed.
    pub(super) fn function(&mut self, path: String, perform: Perform) -> Value {
        let func = method_path::function_marker(&path);
        self.methods.push((path, Handler::Function(perform)));
        func
    }

    /// A middleware's marker, its path listed (as middleware: it never runs on its own).
    fn middleware(&mut self, path: String) -> Value {
        let func = method_path::function_marker(&path);
        self.methods.push((path, Handler::Middleware));
        func
    }

    /// An OAuth `authorizeUrl` request object, its path listed.
    pub(super) fn authorize_url(&mut self, path: String, request: &'a Request) -> Value {
        self.methods.push((path, Handler::AuthorizeUrl(request)));
        request_json(request)
    }

    /// A slot's function marker or shorthand request object, its path listed.
    pub(super) fn slot(&mut self, path: String, slot: &'a Step) -> Value {
        match slot {
            Step::Function(perform) => self.function(path, *perform),
            Step::Request(request) => {
                self.methods.push((path, Handler::Shorthand(request)));
                request_json(request)
            }
        }
    }
}

/// A request object as the definition writes it.
fn request_json(request: &Request) -> Value {
    crate::to_value(request).unwrap_or_else(|_| json!({}))
}

/// A step of the app written as a function or as a shorthand request, in
/// a place of the definition that takes either, as the reference runtime's
/// do: an operation's `perform`, `performList`, `performSubscribe` and
/// `performUnsubscribe`, `authentication.test`,
/// `sessionConfig.perform`, and the OAuth token steps
/// ([`OAuth2Config`], [`OAuth1Config`]).
///
/// ```
/// use zapwasm_guest::prelude::*;
///
/// fn exchange(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
///     let form = json!({"code": bundle.input_str("code")});
///     Ok(z.request(Request::post("https://api.example.com/token").form(form))?.data.unwrap_or_default())
/// }
///
/// // The same step, as a function and as a shorthand request.
/// let function = Step::Function(exchange);
/// let shorthand: Step = Request::post("https://api.example.com/token")
///     .form(json!({"code": "{{bundle.inputData.code}}", "client_id": "{{process.env.CLIENT_ID}}"}))
///     .into();
/// # let _ = (function, shorthand);
/// ```
#[derive(Debug, Clone)]
pub enum Step {
    /// A function, called by its method path.
    Function(Perform),
    /// A shorthand request: its `{{bundle.*}}` and `{{process.env.*}}`
    /// curlies rendered against the call's bundle and environment, sent
    /// through the whole `z.request` lifecycle with throwForStatus on, its
    /// parsed body the result.
    Request(Box<Request>),
}

impl From<Request> for Step {
    fn from(request: Request) -> Step {
        Step::Request(Box::new(request))
    }
}

impl From<Perform> for Step {
    fn from(perform: Perform) -> Step {
        Step::Function(perform)
    }
}

impl Step {
    /// What the step names.
    pub(super) fn handler(&self) -> Handler<'_> {
        match self {
            Step::Function(perform) => Handler::Function(*perform),
            Step::Request(request) => Handler::Shorthand(request),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::Response;

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
    /// The same for the app with its actions indexed.
    fn assert_lookup_agrees_with_walk(app: &App) {
        assert_lookup_agrees(app);
        let mut indexed = app.clone();
        indexed.index_actions();
        assert_lookup_agrees(&indexed);
    }

    fn assert_lookup_agrees(app: &App) {
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
                    .session_perform_request(Request::post("https://api.test/session"))
                    .oauth2(OAuth2Config {
                        authorize_url: Request::get("https://api.test/authorize"),
                        get_access_token: Step::Function(ok),
                        refresh_access_token: Some(Request::post("https://api.test/token").into()),
                        auto_refresh: true,
                        scope: None,
                        enable_pkce: false,
                    })
                    .oauth1(OAuth1Config {
                        get_request_token: Request::post("https://api.test/request-token").into(),
                        authorize_url: Request::get("https://api.test/authorize"),
                        get_access_token: Step::Function(ok),
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
        let mut indexed = app.clone();
        indexed.index_actions();
        for app in [app, indexed] {
            assert!(matches!(app.method("triggers.new.item.operation.perform"), Some(Handler::Shorthand(_))));
            assert!(matches!(app.method("triggers.new.item.operation.performList"), Some(Handler::Function(_))));
            assert_names_nothing(&app);
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

    fn assert_names_nothing(app: &App) {
        for nothing in [
            "",
            "triggers",
            "triggers.bare.operation.perform",
            "triggers.new.item.operation.inputFields.0",
            "triggers.new.item.operation.inputFields.01",
            "triggers.new.item.operation.inputFields.+1",
            "triggers.new.item.operation.inputFields.9",
            "triggers.new.operation.perform",
            "triggers.new.item.operation",
            "triggers.operation.perform",
            "triggers..operation.perform",
            "searches.new.item.operation.perform",
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
    }
}

/// `App.flags`: the app-wide defaults of two request options, read by the
/// request lifecycle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Flags {
    /// The default of `skipThrowForStatus` (false when unset).
    pub(crate) skip_throw_for_status: Option<bool>,
    /// The default of `throwForThrottlingEarly` (true when unset).
    pub(crate) throw_for_throttling_early: Option<bool>,
}
