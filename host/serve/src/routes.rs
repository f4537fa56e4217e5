//! The routes: the control API (`/v1/*`, behind the control token), the
//! receivers senders call (`/hooks/{id}`, `/callbacks/{id}`), stashed file
//! downloads (`/files/{token}`), and `/healthz`, `/metrics`.
//!
//! Every body is read with a cap and parsed here, field by field, so bad
//! input gets a clear error naming the field, and nothing is kept or run
//! before the whole request was checked.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use zapwasm_host::{
    Bundle, ConnectError, Definition, Delivery, FlowError, IncomingRequest, Invocation, Meta, OperationKind, Scope,
};

use crate::db::{
    AuthorizationRow, CallbackAccept, ConnectionRow, Enqueued, Idempotent, StoredRequest, SubscriptionRow, now_ms,
};
use crate::error::ApiError;
use crate::metrics::RequestLabels;
use crate::service::{INVOCATION, Service, call_error, outcome_json, with_causes};

type Answer = Result<(StatusCode, Value), ApiError>;

/// The service's routes, ready to serve or to mount in a larger router.
pub fn router(service: Service) -> Router {
    let control = Router::new()
        .route("/v1/apps", get(list_apps).post(load_app))
        .route("/v1/apps/{app}", get(describe_app))
        .route("/v1/apps/{app}/connections", post(connect))
        .route("/v1/connections/{id}", get(get_connection).delete(delete_connection))
        .route("/v1/apps/{app}/invoke", post(invoke))
        .route("/v1/invocations/{id}", get(get_invocation))
        .route("/v1/hydrate", post(hydrate))
        .route("/v1/apps/{app}/authorizations", post(authorize))
        .route("/v1/authorizations/{id}", get(get_authorization))
        .route("/v1/apps/{app}/subscriptions", post(subscribe))
        .route("/v1/subscriptions/{id}", get(get_subscription).delete(unsubscribe))
        .route("/v1/subscriptions/{id}/events", get(events))
        .route_layer(middleware::from_fn_with_state(service.clone(), require_token));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/hooks/{id}", post(receive_hook))
        .route("/callbacks/{id}", post(receive_callback).put(receive_callback))
        .route("/files/{token}", get(download))
        .route("/oauth/callback", get(oauth_callback))
        .merge(control)
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(service.clone(), observe))
        .with_state(service)
}

/// A span per request, named by its route (never its path: hook IDs and
/// file tokens are capabilities), and the request counter.
async fn observe(State(service): State<Service>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string());
    let route = route.unwrap_or_else(|| "unmatched".into());
    let span =
        tracing::info_span!("request", method = %request.method(), route = %route, status = tracing::field::Empty);
    let started = std::time::Instant::now();
    let response = tracing::Instrument::instrument(next.run(request), span.clone()).await;
    let status = response.status().as_u16();
    span.record("status", status);
    span.in_scope(|| tracing::debug!(status, elapsed_ms = started.elapsed().as_millis() as u64, "answered"));
    service.inner.metrics.requests.get_or_create(&RequestLabels { route, status }).inc();
    response
}

async fn require_token(State(service): State<Service>, request: Request, next: Next) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    if service.control_token_matches(token) {
        next.run(request).await
    } else {
        ApiError::unauthorized().into_response()
    }
}

async fn no_route(request: Request) -> ApiError {
    ApiError::not_found("no_route", format!("no route for {} {}", request.method(), request.uri().path()))
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not allowed on this route", request.method()),
    )
}

fn answer(result: Answer) -> Response {
    match result {
        Ok((status, body)) => (status, axum::Json(body)).into_response(),
        Err(error) => error.into_response(),
    }
}

// Reading requests.

/// The body, at most `limit` bytes (413 past it).
async fn read_body(request: Request, limit: u64) -> Result<(Parts, Bytes), ApiError> {
    let (parts, body) = request.into_parts();
    let declared = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(ApiError::too_large(limit));
    }
    let bytes = axum::body::to_bytes(body, usize::try_from(limit).unwrap_or(usize::MAX)).await.map_err(|e| {
        let over = std::error::Error::source(&e)
            .is_some_and(|source| source.downcast_ref::<http_body_util::LengthLimitError>().is_some());
        if over { ApiError::too_large(limit) } else { ApiError::bad_request(format!("cannot read the body: {e}")) }
    })?;
    Ok((parts, bytes))
}

/// The body as a JSON object whose fields are all in `allowed`.
fn fields(bytes: &[u8], allowed: &[&str]) -> Result<Fields, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("a JSON object body is required"));
    }
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::invalid_json(format!("the body is not valid JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(ApiError::bad_request(format!(
            "the body must be a JSON object, not {}",
            zapwasm_rules::text::type_name(&value)
        )));
    };
    if let Some(unknown) = map.keys().find(|key| !allowed.contains(&key.as_str())) {
        return Err(ApiError::bad_request(format!(
            "unknown field {unknown:?}; this route takes {}",
            allowed.iter().map(|f| format!("{f:?}")).collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(Fields(map))
}

struct Fields(Map<String, Value>);

impl Fields {
    /// A non-empty string field.
    fn string(&self, key: &str, required: bool) -> Result<Option<String>, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) if !required => Ok(None),
            None | Some(Value::Null) => Err(ApiError::bad_request(format!("{key:?} is required"))),
            Some(Value::String(text)) if !text.trim().is_empty() => Ok(Some(text.clone())),
            Some(Value::String(_)) => Err(ApiError::bad_request(format!("{key:?} must not be empty"))),
            Some(other) => Err(ApiError::bad_request(format!(
                "{key:?} must be a string, not {}",
                zapwasm_rules::text::type_name(other)
            ))),
        }
    }

    /// An object field (absent: empty).
    fn object(&self, key: &str, required: bool) -> Result<Map<String, Value>, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) if !required => Ok(Map::new()),
            None | Some(Value::Null) => Err(ApiError::bad_request(format!("{key:?} is required"))),
            Some(Value::Object(map)) => Ok(map.clone()),
            Some(other) => Err(ApiError::bad_request(format!(
                "{key:?} must be an object, not {}",
                zapwasm_rules::text::type_name(other)
            ))),
        }
    }

    /// A whole number field in `range`.
    fn number(&self, key: &str, range: std::ops::RangeInclusive<u64>) -> Result<Option<u64>, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.as_u64().is_some_and(|n| range.contains(&n)) => Ok(n.as_u64()),
            Some(other) => Err(ApiError::bad_request(format!(
                "{key:?} must be a whole number from {} to {}, not {other}",
                range.start(),
                range.end()
            ))),
        }
    }
}

fn query_pairs(parts: &Parts) -> Vec<(String, String)> {
    url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes()).into_owned().collect()
}

/// An ID in a path: what this service makes (hex, up to 64) or a token.
fn id_like(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

fn unknown_app(name: &str) -> ApiError {
    ApiError::not_found("unknown_app", format!("no app is served as {name:?}; GET /v1/apps lists them"))
}

fn permit(service: &Service) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
    service.inner.calls.try_acquire().map_err(|_| {
        ApiError::overloaded(format!(
            "{} calls are running, the most this service runs at once; try again shortly",
            service.inner.settings.max_calls_in_flight
        ))
    })
}

fn random_id() -> Result<String, ApiError> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| ApiError::state(format!("no randomness: {e}")))?;
    Ok(hex::encode(id))
}

fn state_error(e: crate::ServeError) -> ApiError {
    ApiError::state(e)
}

// Idempotency.

/// Run `work` once per `Idempotency-Key` (when the request has one): a
/// repeat with the same key and body is answered what the first was
/// (`Idempotent-Replayed: true`), one still running with 409, one with
/// another body with 422. An answer of 5xx is not kept: a retry runs.
async fn idempotent<F, Fut>(service: &Service, headers: &HeaderMap, scope: String, body: &[u8], work: F) -> Response
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Answer>,
{
    let Some(key) = headers.get("idempotency-key") else { return answer(work().await) };
    let key = match key.to_str() {
        Ok(key) if !key.is_empty() && key.len() <= 255 => key.to_string(),
        _ => return ApiError::bad_request("Idempotency-Key must be 1 to 255 visible ASCII characters").into_response(),
    };
    let mut hasher = Sha256::new();
    hasher.update(scope.as_bytes());
    hasher.update([0]);
    hasher.update(body);
    let fingerprint = hex::encode(hasher.finalize());
    let db = service.db();
    match db.begin_idempotent(scope.clone(), key.clone(), fingerprint).await {
        Ok(Idempotent::Run) => {}
        Ok(Idempotent::InProgress) => {
            let mut error = ApiError::conflict("a request with this Idempotency-Key is still running");
            error.retry_after = Some(1);
            return error.into_response();
        }
        Ok(Idempotent::Mismatch) => {
            return ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request",
            )
            .into_response();
        }
        Ok(Idempotent::Done(status, body)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let mut response = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
            response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
            return response;
        }
        Err(e) => return ApiError::state(e).into_response(),
    }
    let result = work().await;
    let (status, body, retry_after) = match &result {
        Ok((status, body)) => (*status, body.clone(), None),
        Err(error) => (error.status, error.body(), error.retry_after),
    };
    let kept = (status.as_u16() < 500).then(|| (status.as_u16(), body.to_string()));
    if let Err(e) = db.finish_idempotent(scope, key, kept).await {
        tracing::error!(error = %e, "cannot keep an idempotent answer");
    }
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(seconds) = retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

// Health and metrics.

async fn healthz(State(service): State<Service>) -> Response {
    if service.is_stopping() {
        return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "stopping", "the service is shutting down")
            .into_response();
    }
    match service.db().ping().await {
        Ok(()) => axum::Json(json!({"status": "ok", "apps": service.apps().len()})).into_response(),
        Err(e) => ApiError::state(e).into_response(),
    }
}

async fn metrics(State(service): State<Service>) -> Response {
    let counts = match service.db().counts().await {
        Ok(counts) => counts,
        Err(e) => return ApiError::state(e).into_response(),
    };
    match service.inner.metrics.encode(&counts) {
        Ok(text) => ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text)
            .into_response(),
        Err(_) => {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "metrics", "cannot encode the metrics").into_response()
        }
    }
}

// Apps.

fn app_summary(name: &str, service: &Service) -> Option<Value> {
    let served = service.served(name)?;
    let definition = served.app.definition();
    let operations = |kind: OperationKind| -> Vec<Value> {
        definition
            .operations()
            .into_iter()
            .filter(|op| op.kind == kind)
            .map(|op| {
                let mut entry = json!({"key": op.key, "label": op.label, "methods": op.methods});
                if let Some(kind) = op.trigger_type {
                    entry["type"] = Value::String(kind);
                }
                entry
            })
            .collect()
    };
    Some(json!({
        "name": name,
        "path": served.path,
        "version": definition.get("version").cloned().unwrap_or(Value::Null),
        "digest": served.app.load_info().digest,
        "authentication": definition.auth_type(),
        "triggers": operations(OperationKind::Trigger),
        "searches": operations(OperationKind::Search),
        "creates": operations(OperationKind::Create),
    }))
}

async fn list_apps(State(service): State<Service>) -> Response {
    let apps: Vec<Value> = service.apps().iter().filter_map(|(name, _)| app_summary(name, &service)).collect();
    axum::Json(json!({"apps": apps})).into_response()
}

async fn describe_app(State(service): State<Service>, Path(name): Path<String>) -> Response {
    match app_summary(&name, &service) {
        Some(summary) => axum::Json(summary).into_response(),
        None => unknown_app(&name).into_response(),
    }
}

async fn load_app(State(service): State<Service>, request: Request) -> Response {
    // A component uploaded inline is larger than other control bodies:
    // base64 takes 4 bytes for 3.
    let settings = &service.inner.settings;
    let limit = settings.max_body_bytes.max(settings.max_component_bytes.saturating_mul(4) / 3 + 4096);
    let result = async {
        let (_, body) = read_body(request, limit).await?;
        let fields = fields(&body, &["name", "path", "component", "env", "secret_env"])?;
        let name = fields.string("name", true)?.unwrap_or_default();
        if name.len() > 64 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            return Err(ApiError::bad_request("\"name\" must be 1 to 64 letters, digits, '-' or '_'"));
        }
        let path = fields.string("path", false)?;
        let component = fields.string("component", false)?;
        let component = match (&path, component) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request(
                    "give either \"path\" (a component on this machine) or \"component\" (its bytes, base64), not both",
                ));
            }
            (None, None) => {
                return Err(ApiError::bad_request(
                    "\"path\" (a component on this machine) or \"component\" (its bytes, base64) is required",
                ));
            }
            (_, Some(text)) => {
                use base64::Engine as _;
                let bytes = base64::engine::general_purpose::STANDARD.decode(text.trim()).map_err(|e| {
                    ApiError::bad_request(format!("\"component\" must be the component's bytes in base64: {e}"))
                })?;
                if bytes.len() as u64 > settings.max_component_bytes {
                    return Err(ApiError::too_large(settings.max_component_bytes));
                }
                Some(bytes)
            }
            (Some(_), None) => None,
        };
        let mut env = Vec::new();
        for (key, value) in fields.object("env", false)? {
            match value {
                Value::String(value) => env.push((key, value)),
                other => {
                    return Err(ApiError::bad_request(format!(
                        "\"env\".{key:?} must be a string, not {}",
                        zapwasm_rules::text::type_name(&other)
                    )));
                }
            }
        }
        let secret_env = match fields.0.get("secret_env") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(keys)) if keys.iter().all(Value::is_string) => {
                keys.iter().filter_map(Value::as_str).map(str::to_string).collect()
            }
            Some(_) => return Err(ApiError::bad_request("\"secret_env\" must be an array of strings")),
        };
        if service.served(&name).is_some() {
            return Err(ApiError::conflict(format!("an app is served as {name:?} already")));
        }
        let what = path.clone().unwrap_or_else(|| "the uploaded component".into());
        let loaded = match component {
            Some(bytes) => service.load_app_bytes(&name, &bytes, env, secret_env).await,
            None => service.load_app(&name, path.as_deref().unwrap_or_default(), env, secret_env).await,
        };
        loaded.map_err(|e| match e {
            crate::ServeError::Load { message, .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "load_failed", format!("cannot load {what}: {message}"))
            }
            other => ApiError::state(other),
        })?;
        Ok((StatusCode::CREATED, app_summary(&name, &service).unwrap_or(Value::Null)))
    }
    .await;
    answer(result)
}

// Connections.

async fn connect(State(service): State<Service>, Path(app): Path<String>, request: Request) -> Response {
    let limit = service.inner.settings.max_body_bytes;
    let (parts, body) = match read_body(request, limit).await {
        Ok(read) => read,
        Err(error) => return error.into_response(),
    };
    let scope = format!("connect {app}");
    idempotent(&service.clone(), &parts.headers, scope, &body.clone(), || run_connect(service, app, body)).await
}

async fn run_connect(service: Service, app_name: String, body: Bytes) -> Answer {
    let fields = fields(&body, &["auth_data", "account"])?;
    let auth = fields.object("auth_data", true)?;
    let account = fields.string("account", false)?;
    let served = service.served(&app_name).ok_or_else(|| unknown_app(&app_name))?;
    let _permit = permit(&service)?;
    let id = random_id()?;
    let body = keep_connection(&service, &app_name, &served.app, id, account, auth).await?;
    Ok((StatusCode::CREATED, body))
}

/// Check `auth` with `authentication.test` (when the app has one: its
/// answer is the label) and keep it, sealed, as connection `id`; the
/// connection as answered.
async fn keep_connection(
    service: &Service,
    app_name: &str,
    app: &zapwasm_host::App,
    id: String,
    account: Option<String>,
    auth: Map<String, Value>,
) -> Result<Value, ApiError> {
    let app_name = app_name.to_string();
    let (label, auth) = if app.definition().has_method("authentication.test") {
        let bundle = Bundle { auth_data: auth.clone(), ..Bundle::default() };
        let call = Invocation::new("authentication.test", bundle, Scope::new(&app_name, &id));
        let span = tracing::info_span!("connect", app = %app_name);
        let outcome = service.in_flight(app.connection_label(call), span).await;
        service.record(&app_name, "authentication.test", &outcome);
        if let Some(mut error) = call_error(&outcome) {
            error.message = format!("the credentials did not pass authentication.test: {}", error.message);
            return Err(error);
        }
        let label = match outcome.result.as_ref().map(|json| json.value()) {
            Ok(Value::String(label)) => label,
            Ok(other) => other.to_string(),
            Err(_) => String::new(),
        };
        (label, outcome.auth_data.clone().unwrap_or(auth))
    } else {
        (String::new(), auth)
    };
    let now = now_ms();
    let row = ConnectionRow {
        id: id.clone(),
        app: app_name.clone(),
        account: account.unwrap_or_else(|| id.clone()),
        label,
        sealed_auth: service.seal_auth(&id, &auth).map_err(state_error)?,
        created_ms: now,
        updated_ms: now,
    };
    let body = connection_json(&row);
    service.db().insert_connection(row).await.map_err(state_error)?;
    Ok(body)
}

fn connection_json(row: &ConnectionRow) -> Value {
    json!({
        "id": row.id,
        "app": row.app,
        "account": row.account,
        "label": row.label,
        "created_ms": row.created_ms,
        "updated_ms": row.updated_ms,
    })
}

async fn get_connection(State(service): State<Service>, Path(id): Path<String>) -> Response {
    match service.db().connection(&id).await {
        Ok(Some(row)) => axum::Json(connection_json(&row)).into_response(),
        Ok(None) => ApiError::not_found("unknown_connection", "no connection has this ID").into_response(),
        Err(e) => ApiError::state(e).into_response(),
    }
}

async fn delete_connection(State(service): State<Service>, Path(id): Path<String>) -> Response {
    match service.db().delete_connection(&id).await {
        Ok(true) => axum::Json(json!({"id": id, "deleted": true})).into_response(),
        Ok(false) => ApiError::not_found("unknown_connection", "no connection has this ID").into_response(),
        Err(e) => ApiError::state(e).into_response(),
    }
}

/// The connection `id` of `app` and its credentials: 404 for an unknown
/// one or one of another app.
async fn app_connection(
    service: &Service,
    app: &str,
    id: &str,
) -> Result<(ConnectionRow, Map<String, Value>), ApiError> {
    match service.connection(id).await.map_err(state_error)? {
        Some((row, auth)) if row.app == app => Ok((row, auth)),
        _ => Err(ApiError::not_found("unknown_connection", format!("app {app:?} has no connection {id:?}"))),
    }
}

// Connecting an account through the provider (OAuth 2).

/// How long a started authorization waits for the provider's redirect.
const AUTHORIZATION_LIFETIME_MS: i64 = 3600 * 1000;

/// `POST /v1/apps/{app}/authorizations` `{"account", "input_data"}`: start
/// connecting an account of an OAuth 2 app. The answer's `url` is where to
/// send the user; the provider sends them back to `/oauth/callback`, which
/// exchanges the code, checks the credentials and keeps the connection
/// (`GET /v1/authorizations/{id}` says which).
async fn authorize(State(service): State<Service>, Path(app_name): Path<String>, request: Request) -> Response {
    let limit = service.inner.settings.max_body_bytes;
    let result = async {
        let (_, body) = read_body(request, limit).await?;
        let fields = if body.iter().all(u8::is_ascii_whitespace) {
            Fields(Map::new())
        } else {
            fields(&body, &["account", "input_data"])?
        };
        let account = fields.string("account", false)?;
        let input = fields.object("input_data", false)?;
        let served = service.served(&app_name).ok_or_else(|| unknown_app(&app_name))?;
        let auth_type = served.app.definition().auth_type().unwrap_or("none").to_string();
        if auth_type != "oauth2" {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "not_oauth2",
                format!(
                    "this app's authentication is {auth_type}; only OAuth 2 apps connect through the provider here \
                     (connect the others with POST /v1/apps/{app_name}/connections)"
                ),
            ));
        }
        let _permit = permit(&service)?;
        let id = random_id()?;
        let redirect_uri = format!("{}/oauth/callback", service.inner.settings.public_url);
        let bundle = Bundle { input_data: input.clone(), ..Bundle::default() };
        let span = tracing::info_span!("authorize", app = %app_name);
        let scope = Scope::new(&app_name, &id);
        let work = served.app.authorize(&scope, bundle, &redirect_uri);
        let authorization = service.in_flight(work, span).await.map_err(connect_error)?;
        let record = json!({"authorization": authorization, "input_data": input}).to_string();
        let sealed =
            service.inner.state.keys.seal(&format!("authorization:{id}"), record.as_bytes()).map_err(state_error)?;
        let now = now_ms();
        let row = AuthorizationRow {
            id: id.clone(),
            app: app_name.clone(),
            account,
            sealed,
            status: "pending".into(),
            connection: None,
            error: None,
            expires_ms: now + AUTHORIZATION_LIFETIME_MS,
            created_ms: now,
        };
        let mut body = authorization_json(&row);
        body["url"] = Value::String(authorization.url.clone());
        body["redirect_uri"] = Value::String(redirect_uri);
        service.db().insert_authorization(row, authorization.state.clone()).await.map_err(state_error)?;
        Ok((StatusCode::CREATED, body))
    }
    .await;
    answer(result)
}

fn authorization_json(row: &AuthorizationRow) -> Value {
    json!({
        "id": row.id,
        "app": row.app,
        "status": row.status,
        "connection": row.connection,
        "error": row.error,
        "expires_ms": row.expires_ms,
        "created_ms": row.created_ms,
    })
}

fn connect_error(error: ConnectError) -> ApiError {
    let message = with_causes(&error);
    match error {
        ConnectError::Call { error, .. } => {
            let (status, retry_after) = crate::service::call_error_status(&error);
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            let mut api = ApiError::new(status, error.kind(), message);
            api.retry_after = retry_after;
            api
        }
        ConnectError::StateMismatch | ConnectError::Missing(_) => ApiError::bad_request(message),
        ConnectError::Refused { .. } => ApiError::new(StatusCode::FORBIDDEN, "refused", message),
        _ => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "connect_failed", message),
    }
}

async fn get_authorization(State(service): State<Service>, Path(id): Path<String>) -> Response {
    match service.db().authorization(&id).await {
        Ok(Some(row)) => axum::Json(authorization_json(&row)).into_response(),
        Ok(None) => ApiError::not_found("unknown_authorization", "no authorization has this ID").into_response(),
        Err(e) => ApiError::state(e).into_response(),
    }
}

/// `GET /oauth/callback?code&state`: the provider's redirect back. The
/// state (unguessable, one authorization's) finds the authorization, once;
/// the library checks the redirect and exchanges the code
/// (`getAccessToken`), then the credentials are checked and kept as the
/// connection. Needs no control token: the state is the capability.
async fn oauth_callback(State(service): State<Service>, request: Request) -> Response {
    let result = async {
        let (parts, _) = request.into_parts();
        let query = query_pairs(&parts);
        let state = query.iter().find(|(k, _)| k == "state").map(|(_, v)| v.clone()).unwrap_or_default();
        if !id_like(&state) {
            return Err(ApiError::bad_request("the redirect has no state: start the authorization again"));
        }
        let row = match service.db().claim_authorization(&state).await.map_err(state_error)? {
            None => return Err(ApiError::not_found("unknown_authorization", "no authorization has this state")),
            Some(Err(status)) => {
                return Err(ApiError::gone(format!(
                    "this authorization is {status}, not waiting for the provider: start it again"
                )));
            }
            Some(Ok(row)) => row,
        };
        let finished = complete(&service, &row, &query).await;
        let (connection, error) = match &finished {
            Ok(_) => (Some(row.id.clone()), None),
            Err(error) => (None, Some(error.message.clone())),
        };
        service.db().finish_authorization(&row.id, connection, error).await.map_err(state_error)?;
        finished
            .map(|body| (StatusCode::OK, json!({"status": "connected", "authorization": row.id, "connection": body})))
    }
    .await;
    answer(result)
}

async fn complete(service: &Service, row: &AuthorizationRow, query: &[(String, String)]) -> Result<Value, ApiError> {
    let served = service.served(&row.app).ok_or_else(|| unknown_app(&row.app))?;
    let plain =
        service.inner.state.keys.open(&format!("authorization:{}", row.id), &row.sealed).map_err(state_error)?;
    let record: Value = serde_json::from_slice(&plain).map_err(|e| ApiError::state(e.to_string()))?;
    let authorization: zapwasm_host::Authorization =
        serde_json::from_value(record["authorization"].clone()).map_err(|e| ApiError::state(e.to_string()))?;
    let input = record["input_data"].as_object().cloned().unwrap_or_default();
    let _permit = permit(service)?;
    let scope = Scope::new(&row.app, &row.id);
    let bundle = Bundle { input_data: input, ..Bundle::default() };
    let span = tracing::info_span!("complete_authorization", app = %row.app);
    let work = served.app.complete_authorization(&scope, &authorization, query, bundle);
    let outcome = service.in_flight(work, span).await.map_err(connect_error)?;
    service.record(&row.app, "authentication.oauth2Config.getAccessToken", &outcome);
    if let Some(mut error) = call_error(&outcome) {
        error.message = format!("the code exchange failed: {}", error.message);
        error.extra.clear();
        return Err(error);
    }
    let auth = outcome.auth_data.clone().unwrap_or_default();
    keep_connection(service, &row.app, &served.app, row.id.clone(), row.account.clone(), auth).await
}

// Invoking.

/// The method path `words` name: a path the app has, or `trigger KEY`,
/// `search KEY`, `create KEY` (a hook trigger's performList), `auth test`.
fn method_path(words: &str, definition: &Definition) -> Result<String, ApiError> {
    let parts: Vec<&str> = words.split_whitespace().collect();
    let kind = |word: &str| match word {
        "trigger" | "triggers" => Some(OperationKind::Trigger),
        "search" | "searches" => Some(OperationKind::Search),
        "create" | "creates" => Some(OperationKind::Create),
        _ => None,
    };
    let path = match parts[..] {
        [path] if path.contains('.') => path.to_string(),
        ["auth", "test" | "label"] => "authentication.test".to_string(),
        [word, key] if kind(word).is_some() => {
            let kind = kind(word).unwrap_or(OperationKind::Trigger);
            let Some(op) = definition.operation(kind, key) else {
                let keys: Vec<String> =
                    definition.operations().into_iter().filter(|o| o.kind == kind).map(|o| o.key).collect();
                return Err(ApiError::not_found(
                    "no_such_operation",
                    format!("this app has no {word} {key:?}; it has: {}", keys.join(", ")),
                ));
            };
            let hook = op.trigger_type.as_deref() == Some("hook");
            let method = if hook && op.methods.iter().any(|m| m == "performList") { "performList" } else { "perform" };
            format!("{}.{key}.operation.{method}", kind.plural())
        }
        _ => {
            return Err(ApiError::bad_request(format!(
                "cannot read the method {words:?}: give a method path (triggers.KEY.operation.perform) or \
                 `trigger KEY`, `search KEY`, `create KEY`, `auth test`"
            )));
        }
    };
    if !definition.has_method(&path) {
        return Err(ApiError::not_found(
            "no_such_method",
            format!("this app has no method {path}; it has: {}", definition.methods().join(", ")),
        ));
    }
    Ok(path)
}

async fn invoke(State(service): State<Service>, Path(app): Path<String>, request: Request) -> Response {
    let limit = service.inner.settings.max_body_bytes;
    let (parts, body) = match read_body(request, limit).await {
        Ok(read) => read,
        Err(error) => return error.into_response(),
    };
    let scope = format!("invoke {app}");
    idempotent(&service.clone(), &parts.headers, scope, &body.clone(), || run_invoke(service, app, body)).await
}

async fn run_invoke(service: Service, app_name: String, body: Bytes) -> Answer {
    let fields = fields(&body, &["method", "connection", "input_data", "meta"])?;
    let served = service.served(&app_name).ok_or_else(|| unknown_app(&app_name))?;
    let words = fields.string("method", true)?.unwrap_or_default();
    let method = method_path(&words, served.app.definition())?;
    let input = fields.object("input_data", false)?;
    let meta: Meta = serde_json::from_value(Value::Object(fields.object("meta", false)?))
        .map_err(|e| ApiError::bad_request(format!("\"meta\": {e}")))?;
    let connection = fields.string("connection", false)?;
    let (connection, auth) = match &connection {
        Some(id) => {
            let (row, auth) = app_connection(&service, &app_name, id).await?;
            (Some(row.id), auth)
        }
        None => (None, Map::new()),
    };
    let _permit = permit(&service)?;
    let id = random_id()?;
    let db = service.db();
    db.insert_invocation(&id, &app_name, connection.as_deref(), &method).await.map_err(state_error)?;
    let bundle =
        Bundle { auth_data: auth, input_data: input.clone(), input_data_raw: input, meta, ..Bundle::default() };
    // A call without a connection runs in one shared scope of its app.
    let scope = Scope::new(&app_name, connection.as_deref().unwrap_or("-"));
    let call = INVOCATION.scope(id.clone(), served.app.invoke(Invocation::new(&method, bundle, scope)));
    let span = tracing::info_span!("invoke", app = %app_name, method = %method, invocation = %id);
    let outcome = service.in_flight(call, span).await;
    service.record(&app_name, &method, &outcome);
    let auth = service.auth_update(connection.as_deref(), [&outcome]).map_err(state_error)?;
    let mut body = Map::new();
    body.insert("invocation".into(), Value::String(id.clone()));
    body.extend(outcome_json(&outcome));
    let (status, answer) = match call_error(&outcome) {
        Some(error) => {
            let error = error.with("invocation", Value::String(id.clone()));
            ("error", Err(error))
        }
        None if body["status"] == "callback" => ("callback", Ok((StatusCode::ACCEPTED, Value::Object(body.clone())))),
        None => ("success", Ok((StatusCode::OK, Value::Object(body.clone())))),
    };
    let kept = match &answer {
        Ok((_, body)) => body.to_string(),
        Err(error) => error.body().to_string(),
    };
    db.finish_invocation(&id, status, kept, auth).await.map_err(state_error)?;
    answer
}

async fn get_invocation(State(service): State<Service>, Path(id): Path<String>) -> Response {
    let row = match service.db().invocation(&id).await {
        Ok(Some(row)) => row,
        Ok(None) => return ApiError::not_found("unknown_invocation", "no invocation has this ID").into_response(),
        Err(e) => return ApiError::state(e).into_response(),
    };
    let mut body = Map::new();
    body.insert("invocation".into(), row.id.clone().into());
    body.insert("app".into(), row.app.into());
    body.insert("connection".into(), row.connection.into());
    body.insert("method".into(), row.method.into());
    if let Some(Value::Object(answer)) = row.answer.as_deref().and_then(|a| serde_json::from_str(a).ok()) {
        for (key, value) in answer {
            if key != "invocation" {
                body.insert(key, value);
            }
        }
    }
    // The row's status is the latest word (a callback queued or resumed).
    body.insert("status".into(), row.status.into());
    body.insert("created_ms".into(), row.created_ms.into());
    body.insert("updated_ms".into(), row.updated_ms.into());
    axum::Json(Value::Object(body)).into_response()
}

// Hydration.

/// `POST /v1/hydrate` `{"value", "invocation" | "subscription"}`: resolve a
/// dehydrated value from a call's answer or a subscription's events
/// through its hydrator. Tenant-checked: the value must be in the answer or
/// events named (it is looked up there as text), and the hydrator runs for
/// that call's app and with that call's (or subscription's) connection, so
/// a value hydrates only for the account it was made for. The library
/// checks the rest (signed by this host, for this app, naming a hydrator).
async fn hydrate(State(service): State<Service>, request: Request) -> Response {
    let limit = service.inner.settings.max_body_bytes;
    let result = async {
        let (_, body) = read_body(request, limit).await?;
        let fields = fields(&body, &["value", "invocation", "subscription"])?;
        let value = fields.string("value", true)?.unwrap_or_default();
        let (app_name, connection, scope) =
            match (fields.string("invocation", false)?, fields.string("subscription", false)?) {
                (Some(id), None) => {
                    let row = service.db().invocation(&id).await.map_err(state_error)?;
                    let row = row.filter(|row| row.answer.as_deref().is_some_and(|a| a.contains(&value)));
                    let Some(row) = row else { return Err(not_in_source("invocation")) };
                    let scope = Scope::new(&row.app, row.connection.as_deref().unwrap_or("-"));
                    (row.app, row.connection, scope)
                }
                (None, Some(id)) => {
                    let row = service.db().subscription(&id).await.map_err(state_error)?;
                    let Some(row) = row else { return Err(not_in_source("subscription")) };
                    if !service.db().event_contains(&id, &value).await.map_err(state_error)? {
                        return Err(not_in_source("subscription"));
                    }
                    let scope = Scope::new(&row.app, &row.connection).subscription(&id);
                    (row.app, Some(row.connection), scope)
                }
                _ => {
                    return Err(ApiError::bad_request(
                        "name where the value came from: \"invocation\" (a call's ID) or \"subscription\" (its ID), one of them",
                    ));
                }
            };
        let served = service.served(&app_name).ok_or_else(|| unknown_app(&app_name))?;
        let auth = match &connection {
            Some(id) => app_connection(&service, &app_name, id).await?.1,
            None => Map::new(),
        };
        let _permit = permit(&service)?;
        let span = tracing::info_span!("hydrate", app = %app_name);
        let outcome = service.in_flight(served.app.hydrate(&value, auth, scope), span).await.map_err(|e| {
            let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            ApiError::new(status, "not_hydratable", e.to_string())
        })?;
        service.record(&app_name, "hydrate", &outcome);
        let auth = service.auth_update(connection.as_deref(), [&outcome]).map_err(state_error)?;
        service.db().update_auth(auth).await.map_err(state_error)?;
        if let Some(error) = call_error(&outcome) {
            return Err(error);
        }
        Ok((StatusCode::OK, Value::Object(outcome_json(&outcome))))
    }
    .await;
    answer(result)
}

fn not_in_source(what: &str) -> ApiError {
    ApiError::not_found(
        "unknown_value",
        format!("no {what} with this ID holds this value; name the call or subscription whose result it came from"),
    )
}

// Subscriptions.

async fn subscribe(State(service): State<Service>, Path(app): Path<String>, request: Request) -> Response {
    let limit = service.inner.settings.max_body_bytes;
    let (parts, body) = match read_body(request, limit).await {
        Ok(read) => read,
        Err(error) => return error.into_response(),
    };
    let scope = format!("subscribe {app}");
    idempotent(&service.clone(), &parts.headers, scope, &body.clone(), || run_subscribe(service, app, body)).await
}

/// A flow's error as an answer: a failed call with its outcome.
fn flow_error(error: FlowError, what: &str) -> ApiError {
    let status = StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match error {
        FlowError::Call(outcome) => {
            let mut api = call_error(&outcome).unwrap_or_else(|| ApiError::new(status, "call_failed", ""));
            api.status = status;
            api.message = format!("{what} failed: {}", api.message);
            api
        }
        FlowError::UnknownSubscription => ApiError::not_found("unknown_subscription", error.to_string()),
        FlowError::NotSupported { .. } => ApiError::new(status, "not_supported", error.to_string()),
        FlowError::NotConfigured { .. } => ApiError::new(status, "not_configured", error.to_string()),
        FlowError::State(_) => ApiError::state(with_causes(&error)),
        other => ApiError::new(status, "flow", other.to_string()),
    }
}

async fn run_subscribe(service: Service, app_name: String, body: Bytes) -> Answer {
    let fields = fields(&body, &["trigger", "connection", "input_data", "poll_interval_seconds"])?;
    let trigger = fields.string("trigger", true)?.unwrap_or_default();
    let connection = fields.string("connection", true)?.unwrap_or_default();
    let input = fields.object("input_data", false)?;
    let interval = fields.number("poll_interval_seconds", 1..=7 * 24 * 3600)?;
    let served = service.served(&app_name).ok_or_else(|| unknown_app(&app_name))?;
    let definition = served.app.definition();
    let Some(kind) = definition.get(&format!("triggers.{trigger}.operation")).map(|op| op.get("type")) else {
        return Err(ApiError::not_found("unknown_trigger", format!("this app has no trigger {trigger:?}")));
    };
    let hook = kind.and_then(Value::as_str) == Some("hook");
    if hook && interval.is_some() {
        return Err(ApiError::bad_request(format!(
            "{trigger:?} is a REST hook: the API pushes to it, nothing polls; drop \"poll_interval_seconds\""
        )));
    }
    let (row, auth) = app_connection(&service, &app_name, &connection).await?;
    let _permit = permit(&service)?;
    let account = Scope::new(&app_name, &row.id);
    let interval = interval.map(Duration::from_secs).unwrap_or(service.inner.settings.default_poll_interval);
    let span = tracing::info_span!("subscribe", app = %app_name, trigger = %trigger);
    let subscribed = if hook {
        let work = served.app.subscribe_hook(&trigger, &account, input, auth);
        service.in_flight(work, span).await.map_err(|e| flow_error(e, "performSubscribe"))?
    } else {
        let work = served.app.start_polling(&trigger, &account, input, auth, interval);
        service.in_flight(work, span).await.map_err(|e| flow_error(e, "the first poll"))?
    };
    let method = if hook { "performSubscribe" } else { "perform" };
    service.record(&app_name, &format!("triggers.{trigger}.operation.{method}"), &subscribed.outcome);
    let subscription = subscribed.subscription;
    let interval_s = match subscription.delivery {
        Delivery::Polling { interval_seconds } => Some(interval_seconds as i64),
        _ => None,
    };
    let stored = SubscriptionRow {
        id: subscription.id.clone(),
        app: app_name.clone(),
        connection: row.id.clone(),
        trigger: trigger.clone(),
        kind: if hook { "hook" } else { "polling" }.into(),
        interval_s,
        target_url: subscription.target_url.clone(),
        created_ms: now_ms(),
    };
    let body = subscription_json(&stored);
    let db = service.db();
    db.insert_subscription(stored).await.map_err(state_error)?;
    db.update_auth(service.auth_update(Some(&row.id), [&subscribed.outcome]).map_err(state_error)?)
        .await
        .map_err(state_error)?;
    Ok((StatusCode::CREATED, body))
}

fn subscription_json(row: &SubscriptionRow) -> Value {
    let mut body = json!({
        "id": row.id,
        "app": row.app,
        "connection": row.connection,
        "trigger": row.trigger,
        "kind": row.kind,
        "created_ms": row.created_ms,
    });
    if let Some(url) = &row.target_url {
        body["target_url"] = Value::String(url.clone());
    }
    if let Some(interval) = row.interval_s {
        body["poll_interval_seconds"] = interval.into();
    }
    body
}

fn unknown_subscription() -> ApiError {
    ApiError::not_found("unknown_subscription", "no subscription has this ID")
}

async fn get_subscription(State(service): State<Service>, Path(id): Path<String>) -> Response {
    match service.db().subscription(&id).await {
        Ok(Some(row)) => axum::Json(subscription_json(&row)).into_response(),
        Ok(None) => unknown_subscription().into_response(),
        Err(e) => ApiError::state(e).into_response(),
    }
}

async fn unsubscribe(State(service): State<Service>, Path(id): Path<String>) -> Response {
    let result = async {
        let subscription = match service.host().subscription(&id).await {
            Ok(subscription) => subscription,
            Err(FlowError::UnknownSubscription) => return Err(unknown_subscription()),
            Err(e) => return Err(flow_error(e, "reading the subscription")),
        };
        let (integration, account) = (subscription.scope.integration.clone(), subscription.scope.account.clone());
        let app = service.app(&integration).ok_or_else(|| {
            let mut error = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "app_not_loaded",
                format!("the subscription's app {integration:?} is not loaded"),
            );
            error.retry_after = Some(5);
            error
        })?;
        let auth = service.connection(&account).await.map_err(state_error)?.map(|(_, auth)| auth).unwrap_or_default();
        let _permit = permit(&service)?;
        let span = tracing::info_span!("unsubscribe", app = %integration, trigger = %subscription.trigger);
        let owner = Scope::new(&integration, &account);
        let work = app.unsubscribe(&owner, &id, auth);
        let outcome = service.in_flight(work, span).await.map_err(|e| flow_error(e, "performUnsubscribe"))?;
        if let Some(outcome) = &outcome {
            let method = format!("triggers.{}.operation.performUnsubscribe", subscription.trigger);
            service.record(&integration, &method, outcome);
        }
        service.db().remove_subscription(&id).await.map_err(state_error)?;
        Ok((StatusCode::OK, json!({"id": id, "deleted": true})))
    }
    .await;
    answer(result)
}

async fn events(State(service): State<Service>, Path(id): Path<String>, request: Request) -> Response {
    let result = async {
        let (parts, _) = request.into_parts();
        let (mut after, mut limit) = (0i64, 100i64);
        for (key, value) in query_pairs(&parts) {
            let number = |max: i64| {
                value.parse::<i64>().ok().filter(|n| (0..=max).contains(n)).ok_or_else(|| {
                    ApiError::bad_request(format!("{key:?} must be a whole number from 0 to {max}, not {value:?}"))
                })
            };
            match key.as_str() {
                "after" => after = number(i64::MAX)?,
                "limit" => limit = number(1000)?.max(1),
                other => {
                    return Err(ApiError::bad_request(format!("unknown parameter {other:?}; use after and limit")));
                }
            }
        }
        if service.db().subscription(&id).await.map_err(state_error)?.is_none() {
            return Err(unknown_subscription());
        }
        let events = service.db().events(&id, after, limit).await.map_err(state_error)?;
        let next = events.last().map(|e| e.seq).unwrap_or(after);
        let events: Vec<Value> = events
            .into_iter()
            .map(|e| {
                let item: Value = serde_json::from_str(&e.item).unwrap_or(Value::Null);
                json!({"seq": e.seq, "item": item, "created_ms": e.created_ms})
            })
            .collect();
        Ok((StatusCode::OK, json!({"subscription": id, "events": events, "next_after": next})))
    }
    .await;
    answer(result)
}

// Receivers.

/// The request as the library takes it.
fn incoming(parts: &Parts, body: Bytes) -> IncomingRequest {
    IncomingRequest {
        method: parts.method.to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
        body: body.to_vec(),
    }
}

/// 503 when the queue holds as much as it may.
async fn check_queue(service: &Service) -> Result<(), ApiError> {
    let depth = service.db().queue_depth().await.map_err(state_error)?;
    if depth as u64 >= service.inner.settings.max_queue_depth {
        return Err(ApiError::overloaded("the queue is full; send this again later"));
    }
    Ok(())
}

async fn receive_hook(State(service): State<Service>, Path(id): Path<String>, request: Request) -> Response {
    let secret = request.headers().get("x-hook-secret").cloned();
    let result = async {
        let limit = service.inner.settings.max_hook_body_bytes;
        let (parts, body) = read_body(request, limit).await?;
        if !id_like(&id) {
            return Err(ApiError::gone("no subscription has this URL"));
        }
        let subscription = match service.host().subscription(&id).await {
            Ok(subscription) => subscription,
            Err(FlowError::UnknownSubscription) => return Err(ApiError::gone("no subscription has this URL")),
            Err(e) => return Err(flow_error(e, "reading the subscription")),
        };
        if subscription.delivery != Delivery::Hook {
            return Err(ApiError::gone("this subscription polls; it takes no hook deliveries"));
        }
        check_queue(&service).await?;
        let request = incoming(&parts, body);
        let delivery_id = request.delivery_id();
        let queued =
            service.db().enqueue_hook(&id, delivery_id, &StoredRequest::of(&request)).await.map_err(state_error)?;
        // One job queued: one worker to claim it (waking every idle
        // worker for each delivery had them all claim at once, and all but
        // one find nothing, each a write). None for a job behind another of
        // its subscription: the end of that one claims it. Woken for it,
        // a worker's claim would walk the backlog to find nothing it may
        // take, inside the writer's transaction.
        if let Enqueued::Accepted { behind: false } = queued {
            service.inner.wake.notify_one();
        }
        Ok(match queued {
            Enqueued::Accepted { .. } => (StatusCode::OK, json!({"status": "queued"})),
            Enqueued::Duplicate => (StatusCode::OK, json!({"status": "duplicate"})),
        })
    }
    .await;
    let outcome = match &result {
        Ok((_, body)) if body["status"] == "duplicate" => "duplicate",
        Ok(_) => "accepted",
        Err(_) => "refused",
    };
    service.inner.metrics.delivery("hook", outcome);
    let mut response = answer(result);
    // The handshake of senders that check the receiver (X-Hook-Secret):
    // echo it back.
    if let Some(secret) = secret {
        response.headers_mut().insert(HeaderName::from_static("x-hook-secret"), secret);
    }
    response
}

async fn receive_callback(State(service): State<Service>, Path(id): Path<String>, request: Request) -> Response {
    let result = async {
        let limit = service.inner.settings.max_hook_body_bytes;
        let (parts, body) = read_body(request, limit).await?;
        if !id_like(&id) {
            return Err(ApiError::not_found("unknown_callback", "no callback has this URL"));
        }
        // A callback whose app, connection or subscription is gone is not
        // resumed: its call fails with the reason, and the sender is told
        // to stop.
        if let Some(known) = service.db().callback(&id).await.map_err(state_error)? {
            if known.status == "gone" {
                return Err(ApiError::gone(
                    "this callback's call was abandoned: its app, connection or subscription is gone",
                ));
            }
            let scope: Option<Scope> = serde_json::from_str(&known.scope).ok();
            if let Some(scope) = scope
                && matches!(known.status.as_str(), "pending" | "queued")
                && let Some(reason) = service.callback_gone(&scope).await.map_err(state_error)?
            {
                service.db().abandon_callback(&id, None, reason.clone()).await.map_err(state_error)?;
                // Consumed in the library's store too: no one resumes it.
                let _ = service.host().claim_callback(&id).await;
                return Err(ApiError::gone(reason));
            }
        }
        check_queue(&service).await?;
        let request = StoredRequest::of(&incoming(&parts, body));
        match service.db().accept_callback(&id, &request).await.map_err(state_error)? {
            CallbackAccept::Accepted => {
                service.inner.wake.notify_one();
                Ok((StatusCode::OK, json!({"status": "queued"})))
            }
            CallbackAccept::Unknown => Err(ApiError::not_found("unknown_callback", "no callback has this URL")),
            CallbackAccept::Finished => Err(ApiError::gone("this callback was already received")),
            CallbackAccept::Expired => Err(ApiError::gone("this callback expired")),
        }
    }
    .await;
    service.inner.metrics.delivery("callback", if result.is_ok() { "accepted" } else { "refused" });
    answer(result)
}

// Files.

async fn download(State(service): State<Service>, Path(token): Path<String>) -> Response {
    let opened = match service.host().open_stashed(&token).await {
        Ok(opened) => opened,
        Err(zapwasm_host::StashError::State(e)) => return ApiError::state(e).into_response(),
        // A bad, expired or dangling link look the same from outside.
        Err(_) => {
            return ApiError::not_found("unknown_file", "this file link is not valid, or has expired").into_response();
        }
    };
    let disposition = content_disposition(&opened.filename);
    let mut response = Response::new(Body::from_stream(tokio_util::io::ReaderStream::new(opened.body)));
    let headers = response.headers_mut();
    let content_type =
        HeaderValue::from_str(&opened.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(opened.length));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// `attachment; filename="<ASCII>"; filename*=UTF-8''<percent-encoded>`.
fn content_disposition(name: &str) -> String {
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_quoted_safely() {
        assert_eq!(content_disposition("ada.vcf"), "attachment; filename=\"ada.vcf\"; filename*=UTF-8''ada.vcf");
        let odd = content_disposition("a\"b\r\nc é.txt");
        assert!(HeaderValue::from_str(&odd).is_ok(), "{odd}");
        assert!(odd.starts_with("attachment; filename=\"a_b__c _.txt\""), "{odd}");
    }

    #[test]
    fn bodies_are_checked_field_by_field() {
        let allowed = ["method", "input_data"];
        assert_eq!(fields(b"", &allowed).err().unwrap().kind, "bad_request");
        assert_eq!(fields(b"{not json", &allowed).err().unwrap().kind, "invalid_json");
        assert!(fields(b"[1]", &allowed).err().unwrap().message.contains("an array"));
        assert!(fields(br#"{"methd": 1}"#, &allowed).err().unwrap().message.contains("unknown field \"methd\""));
        let f = fields(br#"{"method": 5, "input_data": "x"}"#, &allowed).unwrap();
        assert!(f.string("method", true).unwrap_err().message.contains("must be a string, not a number"));
        assert!(f.object("input_data", false).unwrap_err().message.contains("must be an object, not a string"));
        let f = fields(br#"{"method": ""}"#, &allowed).unwrap();
        assert!(f.string("method", true).unwrap_err().message.contains("must not be empty"));
        assert!(f.object("input_data", true).unwrap_err().message.contains("is required"));
    }
}
