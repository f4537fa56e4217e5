//! The router: the OAuth endpoints open, everything else behind the bearer
//! check. Errors are `{"error": CODE, "message": TEXT}` with a 4xx status.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{ApiState, Customer, Invoice, LineItem, oauth, pdf};

/// The whole API.
pub(crate) fn router(state: ApiState) -> Router {
    let protected = Router::new()
        .route("/me", get(me))
        .route("/customers", get(list_customers).post(create_customer))
        .route("/customers/search", get(search_customers))
        .route("/invoices", post(create_invoice))
        .route("/invoices/{id}", get(get_invoice))
        .route("/invoices/{id}/pdf", get(invoice_pdf))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), oauth::require_bearer));
    Router::new()
        .route("/oauth/authorize", get(oauth::authorize))
        .route("/oauth/token", post(oauth::token))
        .merge(protected)
        .with_state(state)
}

/// An error answer.
fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({"error": code, "message": message.into()}))).into_response()
}

/// `GET /me`: the account the token belongs to.
async fn me() -> Response {
    axum::Json(json!({"id": 1, "email": "owner@acme.test", "company": "Acme Ltd"})).into_response()
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<usize>,
}

/// `GET /customers?limit=N`: the newest customers first.
async fn list_customers(State(state): State<ApiState>, Query(query): Query<ListQuery>) -> Response {
    let mut customers = state.customers();
    customers.reverse();
    customers.truncate(query.limit.unwrap_or(100).clamp(1, 100));
    axum::Json(json!({ "customers": customers })).into_response()
}

#[derive(Deserialize)]
struct SearchQuery {
    email: Option<String>,
}

/// `GET /customers/search?email=...`: the customers with that email (none or one).
async fn search_customers(State(state): State<ApiState>, Query(query): Query<SearchQuery>) -> Response {
    let Some(email) = query.email.filter(|email| !email.trim().is_empty()) else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid", "email is required");
    };
    let found: Vec<Customer> =
        state.customers().into_iter().filter(|customer| customer.email.eq_ignore_ascii_case(email.trim())).collect();
    axum::Json(json!({ "customers": found })).into_response()
}

/// `POST /customers` `{"name", "email"}`: 201 with the customer; 409 when the email is taken.
async fn create_customer(State(state): State<ApiState>, body: axum::body::Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "invalid", "the body must be JSON");
    };
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::trim).filter(|v| !v.is_empty());
    let Some(email) = text("email").filter(|email| email.contains('@')) else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid", "email is required and must hold an @");
    };
    let name = text("name").unwrap_or(email).to_string();
    let mut inner = state.lock();
    if inner.customers.iter().any(|customer| customer.email.eq_ignore_ascii_case(email)) {
        return error(StatusCode::CONFLICT, "duplicate", format!("a customer with the email {email} exists"));
    }
    let customer = Customer { id: inner.customers.len() as u64 + 1, name, email: email.to_string() };
    inner.customers.push(customer.clone());
    (StatusCode::CREATED, axum::Json(customer)).into_response()
}

/// `POST /invoices` `{"customer_id", "currency", "due_date"?, "line_items":
/// [{"description", "quantity", "unit_price"}]}` (quantity and unit price
/// whole numbers, the price in cents): 201 with the invoice and its total.
async fn create_invoice(State(state): State<ApiState>, body: axum::body::Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "invalid", "the body must be JSON");
    };
    state.lock().invoice_bodies.push(body.clone());
    let invalid = |message: String| error(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message);
    let Some(customer_id) = body.get("customer_id").and_then(Value::as_u64) else {
        return invalid("customer_id must be a customer's ID".into());
    };
    if !state.customers().iter().any(|customer| customer.id == customer_id) {
        return invalid(format!("there is no customer {customer_id}"));
    }
    let currency = body.get("currency").and_then(Value::as_str).unwrap_or_default().to_ascii_uppercase();
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_alphabetic()) {
        return invalid("currency must be an ISO 4217 code such as EUR".into());
    }
    let Some(lines) = body.get("line_items").and_then(Value::as_array).filter(|lines| !lines.is_empty()) else {
        return invalid("line_items must be a list of at least one line".into());
    };
    let mut line_items = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let description = line.get("description").and_then(Value::as_str).filter(|d| !d.trim().is_empty());
        let quantity = line.get("quantity").and_then(Value::as_u64).filter(|q| *q > 0);
        let unit_price = line.get("unit_price").and_then(Value::as_u64);
        let (Some(description), Some(quantity), Some(unit_price)) = (description, quantity, unit_price) else {
            return invalid(format!(
                "line_items[{i}] needs a description, a quantity (a whole number from 1) and a unit_price (whole cents)"
            ));
        };
        let Some(amount) = quantity.checked_mul(unit_price) else {
            return invalid(format!("line_items[{i}]'s amount is too large"));
        };
        line_items.push(LineItem { description: description.to_string(), quantity, unit_price, amount });
    }
    let Some(total) = line_items.iter().try_fold(0u64, |sum, line| sum.checked_add(line.amount)) else {
        return invalid("the total is too large".into());
    };
    let due_date = body.get("due_date").and_then(Value::as_str).map(str::to_string);
    let mut inner = state.lock();
    let id = inner.invoices.len() as u64 + 1;
    let invoice = Invoice { id, number: format!("INV-{id:04}"), customer_id, currency, due_date, line_items, total };
    inner.invoices.push(invoice.clone());
    (StatusCode::CREATED, axum::Json(invoice)).into_response()
}

/// The invoice with this ID (the text of a path segment); `None` answers 404.
fn find_invoice(state: &ApiState, id: &str) -> Option<Invoice> {
    let id: u64 = id.parse().ok()?;
    state.invoices().into_iter().find(|invoice| invoice.id == id)
}

/// The answer for an invoice that does not exist.
fn no_invoice(id: &str) -> Response {
    error(StatusCode::NOT_FOUND, "not_found", format!("no invoice {id:?}"))
}

/// `GET /invoices/{id}`.
async fn get_invoice(State(state): State<ApiState>, Path(id): Path<String>) -> Response {
    match find_invoice(&state, &id) {
        Some(invoice) => axum::Json(invoice).into_response(),
        None => no_invoice(&id),
    }
}

/// `GET /invoices/{id}/pdf`: the invoice as a PDF attachment named by its number.
async fn invoice_pdf(State(state): State<ApiState>, Path(id): Path<String>) -> Response {
    let Some(invoice) = find_invoice(&state, &id) else { return no_invoice(&id) };
    let customer = state.customers().into_iter().find(|customer| customer.id == invoice.customer_id);
    let disposition = format!("attachment; filename=\"{}.pdf\"", invoice.number);
    let headers = [(header::CONTENT_TYPE, "application/pdf".to_string()), (header::CONTENT_DISPOSITION, disposition)];
    (headers, pdf::invoice_pdf(&invoice, customer.as_ref())).into_response()
}
