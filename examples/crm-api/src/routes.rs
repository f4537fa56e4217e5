//! The routes and their handlers: the HTTP face of [`ApiState`].
//!
//! Every request passes [`crate::recording`] then [`crate::auth`] before it
//! is routed; handlers validate with the extractors of [`crate::extract`],
//! answer errors in the shape of [`crate::error`], and hand outbound POSTs to
//! [`crate::delivery`].

use axum::Router;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri, header};
use axum::middleware;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{delete, get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::extract::{JsonBody, PathId, QueryParams};
use crate::model::{CONTACT_CREATED, Contact, Hook};
use crate::state::{ApiState, DuplicateEmail, NewContact};
use crate::{auth, delivery, recording, vcard};

/// Contacts per page when `limit` is absent.
const DEFAULT_PAGE_SIZE: usize = 10;
/// The most contacts one page holds; a larger `limit` is lowered to this.
const MAX_PAGE_SIZE: usize = 100;
/// The `Retry-After` of `GET /rate-limited`, in seconds.
const RETRY_AFTER_SECONDS: &str = "7";

/// The whole API: routes, fallbacks, then the key check and the recorder
/// around all of them (layers added last run first).
pub(crate) fn router(state: ApiState) -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/contacts", get(list_contacts).post(create_contact))
        .route("/contacts/search", get(search_contacts))
        .route("/contacts/batch", post(create_contacts_batch))
        .route("/contacts/{id}", get(get_contact))
        .route("/contacts/{id}/vcard", get(contact_vcard))
        .route("/hooks", get(list_hooks).post(create_hook))
        .route("/hooks/{id}", delete(delete_hook))
        .route("/exports", post(create_export))
        .route("/rate-limited", get(rate_limited))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), auth::require_api_key))
        .layer(middleware::from_fn_with_state(state.clone(), recording::record_request))
        .with_state(state)
}

/// `GET /me`: the account the key belongs to.
async fn me() -> Json<Value> {
    Json(json!({"id": 1, "name": "Acme Sales", "email": "owner@acme.test", "plan": "pro"}))
}

/// A page of `GET /contacts`.
#[derive(Serialize)]
struct Page {
    contacts: Vec<Contact>,
    /// `null` on the last page.
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct PageQuery {
    limit: Option<String>,
    cursor: Option<String>,
}

/// `GET /contacts?limit=N&cursor=C`: newest first,
/// `{"contacts":[..],"next_cursor":"..."|null}`.
async fn list_contacts(
    State(state): State<ApiState>,
    QueryParams(query): QueryParams<PageQuery>,
) -> Result<Json<Page>, ApiError> {
    let limit = match query.limit.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_PAGE_SIZE,
        Some(raw) => raw
            .parse::<usize>()
            .map_err(|_| ApiError::bad_request(format!("limit must be a whole number, not {raw:?}")))?
            .clamp(1, MAX_PAGE_SIZE),
    };
    let before = match query.cursor.as_deref() {
        None | Some("") => None,
        Some(cursor) => Some(decode_cursor(cursor).ok_or_else(|| ApiError::bad_request("invalid cursor"))?),
    };
    let page = state.contacts_page(before, limit);
    let next_cursor = page.contacts.last().filter(|_| page.more).map(|last| encode_cursor(last.id));
    Ok(Json(Page { contacts: page.contacts, next_cursor }))
}

/// The cursor after contact `id`: base64url of the id, so clients treat it as
/// opaque rather than doing arithmetic on it.
fn encode_cursor(id: u64) -> String {
    URL_SAFE_NO_PAD.encode(id.to_string())
}

fn decode_cursor(cursor: &str) -> Option<u64> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim_end_matches('=')).ok()?;
    std::str::from_utf8(&bytes).ok()?.parse().ok()
}

#[derive(Deserialize)]
struct SearchQuery {
    email: Option<String>,
}

/// `GET /contacts/search?email=E`: exact match ignoring case.
async fn search_contacts(
    State(state): State<ApiState>,
    QueryParams(query): QueryParams<SearchQuery>,
) -> Result<Json<Vec<Contact>>, ApiError> {
    let email = query.email.as_deref().map(str::trim).filter(|email| !email.is_empty());
    let email = email.ok_or_else(ApiError::missing_email)?;
    Ok(Json(state.contacts_with_email(email)))
}

fn contact_not_found(id: Option<u64>) -> ApiError {
    match id {
        Some(id) => ApiError::not_found(format!("no contact with id {id}")),
        None => ApiError::not_found("no such contact"),
    }
}

/// `GET /contacts/{id}`.
async fn get_contact(State(state): State<ApiState>, PathId(id): PathId) -> Result<Json<Contact>, ApiError> {
    let contact = id.and_then(|id| state.contact(id)).ok_or_else(|| contact_not_found(id))?;
    Ok(Json(contact))
}

#[derive(Deserialize)]
struct ContactBody {
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    company: Option<String>,
}

/// `POST /contacts`: 201 and the contact; then `contact.created` to the hooks.
async fn create_contact(
    State(state): State<ApiState>,
    JsonBody(body): JsonBody<ContactBody>,
) -> Result<Response, ApiError> {
    let contact = add_contact(&state, body)?;
    Ok((StatusCode::CREATED, Json(contact)).into_response())
}

/// Validates and adds one contact, then announces it to the hooks.
fn add_contact(state: &ApiState, body: ContactBody) -> Result<Contact, ApiError> {
    let email = body.email.map(|email| email.trim().to_string()).filter(|email| !email.is_empty());
    let email = email.ok_or_else(|| ApiError::invalid("email is required"))?;
    let new = NewContact {
        first_name: body.first_name.unwrap_or_default(),
        last_name: body.last_name.unwrap_or_default(),
        company: body.company.filter(|company| !company.trim().is_empty()),
        email,
    };
    let attempted = new.email.clone();
    let contact = state.create_contact(new).map_err(|DuplicateEmail| ApiError::duplicate_email(&attempted))?;
    delivery::announce_contact_created(state, &contact);
    Ok(contact)
}

#[derive(Deserialize)]
struct BatchBody {
    contacts: Option<Vec<ContactBody>>,
}

/// The most contacts `POST /contacts/batch` takes at once.
const MAX_BATCH: usize = 100;

/// `POST /contacts/batch` `{"contacts":[..]}`: 200 with one result per
/// contact, in order, `{"contact":{..}}` or `{"error":{"code","message"}}`;
/// each contact is added (and announced) on its own.
async fn create_contacts_batch(
    State(state): State<ApiState>,
    JsonBody(body): JsonBody<BatchBody>,
) -> Result<Json<Value>, ApiError> {
    let contacts = body.contacts.ok_or_else(|| ApiError::invalid("contacts is required"))?;
    if contacts.len() > MAX_BATCH {
        return Err(ApiError::invalid(format!("at most {MAX_BATCH} contacts a batch")));
    }
    let results: Vec<Value> = contacts
        .into_iter()
        .map(|body| match add_contact(&state, body) {
            Ok(contact) => json!({"contact": contact}),
            Err(error) => json!({"error": error.body()}),
        })
        .collect();
    Ok(Json(json!({"results": results})))
}

/// `GET /contacts/{id}/vcard`: the vCard as an attachment.
async fn contact_vcard(State(state): State<ApiState>, PathId(id): PathId) -> Result<Response, ApiError> {
    let contact = id.and_then(|id| state.contact(id)).ok_or_else(|| contact_not_found(id))?;
    let disposition = format!("attachment; filename=\"{}\"", vcard::file_name(&contact));
    let headers =
        [(header::CONTENT_TYPE, "text/vcard; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, disposition)];
    Ok((headers, vcard::render(&contact)).into_response())
}

#[derive(Deserialize)]
struct HookBody {
    url: Option<String>,
    event: Option<String>,
}

/// Whether `url` is something the API can POST to.
fn is_http_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    ["http://", "https://"].iter().any(|scheme| lower.strip_prefix(scheme).is_some_and(|rest| !rest.is_empty()))
}

/// `POST /hooks`: 201 `{"id","url","event"}`; `event` defaults to
/// `contact.created`.
async fn create_hook(State(state): State<ApiState>, JsonBody(body): JsonBody<HookBody>) -> Result<Response, ApiError> {
    let url = body.url.map(|url| url.trim().to_string()).filter(|url| !url.is_empty());
    let url = url.ok_or_else(|| ApiError::invalid("url is required"))?;
    if !is_http_url(&url) {
        return Err(ApiError::invalid("url must be an http or https URL"));
    }
    let event = body.event.map(|event| event.trim().to_string()).filter(|event| !event.is_empty());
    let hook = state.add_hook(url, event.unwrap_or_else(|| CONTACT_CREATED.to_string()));
    Ok((StatusCode::CREATED, Json(hook)).into_response())
}

/// `GET /hooks`: every subscription.
async fn list_hooks(State(state): State<ApiState>) -> Json<Vec<Hook>> {
    Json(state.hooks())
}

/// `DELETE /hooks/{id}`: 204, or 404 when there is no such hook.
async fn delete_hook(State(state): State<ApiState>, PathId(id): PathId) -> Result<StatusCode, ApiError> {
    match id {
        Some(id) if state.remove_hook(id) => Ok(StatusCode::NO_CONTENT),
        Some(id) => Err(ApiError::not_found(format!("no hook with id {id}"))),
        None => Err(ApiError::not_found("no such hook")),
    }
}

#[derive(Deserialize)]
struct ExportBody {
    contact_id: Option<u64>,
    callback_url: Option<String>,
}

/// `POST /exports`: 202 `{"id","status":"pending"}`; the result is POSTed
/// to `callback_url` after the configured delay.
async fn create_export(
    State(state): State<ApiState>,
    JsonBody(body): JsonBody<ExportBody>,
) -> Result<Response, ApiError> {
    let contact_id = body.contact_id.ok_or_else(|| ApiError::invalid("contact_id is required"))?;
    let callback_url = body.callback_url.map(|url| url.trim().to_string()).filter(|url| !url.is_empty());
    let callback_url = callback_url.ok_or_else(|| ApiError::invalid("callback_url is required"))?;
    if !is_http_url(&callback_url) {
        return Err(ApiError::invalid("callback_url must be an http or https URL"));
    }
    let contact = state.contact(contact_id).ok_or_else(|| contact_not_found(Some(contact_id)))?;
    let export = state.add_export(&contact, callback_url);
    let answer = json!({"id": export.id, "status": export.status});
    delivery::finish_export_later(&state, export, &contact);
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}

/// `GET /rate-limited`: always 429 with `Retry-After: 7`.
async fn rate_limited() -> Response {
    ([(header::RETRY_AFTER, RETRY_AFTER_SECONDS)], ApiError::rate_limited()).into_response()
}

/// Any path no route matches.
async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route for {method} {}", uri.path()))
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}
