//! The guest of the benchmark suite (`host/bench/benches/zapwasm.rs`): one polling
//! trigger per scenario, each doing the least that scenario is about, so the
//! figures measure the host rather than the integration.
//!
//! - `no_io`: returns a list computed from nothing but the bundle.
//! - `http_get`: one `GET {BENCH_BASE_URL}/contacts?limit=10` with the
//!   account's `X-API-Key`, returning the page's contacts: the example CRM
//!   integration's `new_contact` without its cursor. The reference runtime
//!   runs the same trigger in JavaScript (`host/bench/benches/reference/app.js`).
//! - `empty` and `http_get_raw`: the floors of the two above, for the
//!   benchmark's "what limits" figures: `empty` returns `[]` at once, and
//!   `http_get_raw` makes the same GET as a raw request (its body never
//!   parsed) and returns `[]`, so what is left is the fresh instance, the
//!   SDK's call and request lifecycle, and the host's HTTP.
//! - `censor`: logs `CENSOR_LINES` lines, each holding some of the
//!   `SECRETS` values; the benchmark calls it with those values as
//!   authData (all censored) and with none (nothing to censor).

use zapwasm_guest::prelude::*;

/// Items `no_io` returns.
const NO_IO_ITEMS: usize = 10;
/// Lines `censor` logs.
const CENSOR_LINES: usize = 200;
/// Distinct secrets `censor` writes into its lines; the benchmark passes the
/// same values as authData (`secret_00` .. `secret_19`).
const SECRETS: usize = 20;

/// The benchmark guest's definition.
fn app() -> App {
    App::new("1.0.0")
        .trigger(trigger("no_io", "Triggers with a computed list, touching nothing outside.", no_io))
        .trigger(trigger("http_get", "Triggers with one page of contacts from the CRM API.", http_get))
        .trigger(trigger("censor", "Triggers after logging lines full of secrets.", censor))
        .trigger(trigger("empty", "Triggers with nothing, at once.", empty))
        .trigger(trigger("http_get_raw", "Triggers with nothing after one raw GET of the CRM API.", http_get_raw))
}

zapwasm_guest::export_app!(app);

/// A polling trigger with an `id` primary key and a one-item sample.
fn trigger(key: &'static str, description: &'static str, perform: Perform) -> Trigger {
    Trigger::new(key, "Item").display(key, description).operation(
        Operation::polling()
            .perform(perform)
            .output_field(Field::new("id").label("ID").kind("integer").primary(true))
            .sample(json!({ "id": 1 })),
    )
}

/// `triggers.no_io.operation.perform`: [`NO_IO_ITEMS`] items numbered from
/// `bundle.meta.page`.
fn no_io(_z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let first = bundle.meta.page as usize * NO_IO_ITEMS;
    let items = (first..first + NO_IO_ITEMS)
        .map(|id| json!({ "id": id + 1, "name": format!("item {}", id + 1), "even": id % 2 == 1 }))
        .collect();
    Ok(Value::Array(items))
}

/// `triggers.http_get.operation.perform`: the `contacts` of
/// `GET {BENCH_BASE_URL}/contacts?limit=10`, authenticated by
/// `authData.api_key`.
fn http_get(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let mut page = z.request(contacts_request(z, bundle)?)?.data.unwrap_or_default();
    match page.get_mut("contacts").map(Value::take) {
        Some(contacts @ Value::Array(_)) => Ok(contacts),
        _ => Err(ZError::general("the answer has no \"contacts\" array")),
    }
}

/// `triggers.empty.operation.perform`: no items.
fn empty(_z: &Z, _bundle: &Bundle) -> Result<Value, ZError> {
    Ok(Value::Array(Vec::new()))
}

/// `triggers.http_get_raw.operation.perform`: `http_get`'s request as a raw
/// request (the body is not parsed), answering no items once the page came.
fn http_get_raw(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let response = z.request(contacts_request(z, bundle)?.raw(true))?;
    if response.status != 200 || response.bytes.is_empty() {
        return Err(ZError::general(format!(
            "the API answered {} with {} bytes",
            response.status,
            response.bytes.len()
        )));
    }
    Ok(Value::Array(Vec::new()))
}

/// `GET {BENCH_BASE_URL}/contacts?limit=10` with the account's key.
fn contacts_request(z: &Z, bundle: &Bundle) -> Result<Request, ZError> {
    let base = z.env("BENCH_BASE_URL").ok_or_else(|| ZError::general("BENCH_BASE_URL is not configured"))?;
    Ok(Request::get(format!("{}/contacts", base.trim_end_matches('/')))
        .param("limit", 10)
        .header("X-API-Key", bundle.auth_str("api_key").unwrap_or_default()))
}

/// The `index`th secret the `censor` trigger writes, and the benchmark sends
/// as `authData.secret_NN`.
fn secret(index: usize) -> String {
    format!("sk_live_{index:02}_9f8e7d6c5b4a39281706f5e4d3c2b1a0")
}

/// `triggers.censor.operation.perform`: [`CENSOR_LINES`] log lines of about
/// 200 bytes, line `n` holding secrets `n % 20` and `(n * 7 + 3) % 20`.
fn censor(z: &Z, _bundle: &Bundle) -> Result<Value, ZError> {
    let console = z.console();
    for n in 0..CENSOR_LINES {
        console.log(format!(
            "sync step {n}: calling https://api.example.com/v2/accounts/{n}/items with token {} \
             after refreshing with {}, got 200 OK in 12 ms, 34 items, next page follows",
            secret(n % SECRETS),
            secret((n * 7 + 3) % SECRETS),
        ));
    }
    Ok(json!([{ "id": 1, "lines": CENSOR_LINES }]))
}
