//! A guest for the z.request tests (`tests/all/request.rs`): each create
//! sends requests built from `bundle.inputData` through the whole lifecycle
//! and returns what the response looked like, so a test can compare it with
//! what a real server received. Two beforeRequest and two afterResponse
//! middlewares mark every request and response with their order (the
//! afterResponse ones also in a typed [`AfterMarks`] extension); the
//! requestTemplate adds `X-Template`, `X-Override` and `X-Dropped` headers,
//! and the param `tp` when the app's environment sets `TEMPLATE_TP` (only
//! the param-order test does, so the other tests' URLs stay as they are).
//! A hook trigger subscribes, unsubscribes and lists with shorthand
//! requests whose curlies read every part of the bundle and the app's
//! environment; a search and a create perform one.

use zapwasm_guest::prelude::*;

fn app() -> App {
    let mut template = Request::new("", "")
        .header("X-Template", "from-template")
        .header("X-Override", "template")
        .header("X-Dropped", "template");
    if let Ok(tp) = std::env::var("TEMPLATE_TP") {
        template = template.param("tp", tp);
    }
    App::new("1.0.0")
        .request_template(template)
        .before_request(before_one)
        .before_request(before_two)
        .after_response(after_one)
        .after_response(after_two)
        .create(create("send", "Sends inputData.request.", send))
        .create(create("send_all", "Sends inputData.requests in parallel.", send_all))
        .create(create("hash", "Hashes inputData.text.", hash))
        .create(create("json_parse", "Parses inputData.text as JSON.", json_parse))
        .create(create("console", "Logs a line at every z.console level.", console))
        .trigger(
            Trigger::new("hook", "Item").display("Hook", "A REST hook subscribed by shorthand requests.").operation(
                Operation::hook()
                    .perform(hook_items)
                    .perform_subscribe_request(
                        Request::post("{{process.env.API_BASE}}/hooks/{{bundle.authData.account}}")
                            .header("X-Key", "{{bundle.authData.api_key}}")
                            .header("X-Region", "{{process.env.REGION}}")
                            .param("page", "{{bundle.meta.page}}")
                            .param("event", "{{bundle.inputData.event}}")
                            .json(json!({
                                "target_url": "{{bundle.targetUrl}}",
                                "replaces": "{{bundle.subscribeData.id}}",
                                "page": "{{bundle.meta.page}}",
                                "note": "{{bundle.inputData.event}} for {{bundle.authData.account}} in {{process.env.REGION}}",
                            })),
                    )
                    .perform_unsubscribe_request(
                        Request::delete("{{process.env.API_BASE}}/hooks/{{bundle.subscribeData.id}}")
                            .param("target", "{{bundle.targetUrl}}"),
                    )
                    .perform_list_request(
                        Request::get("{{process.env.API_BASE}}/hooks/{{bundle.authData.account}}/recent")
                            .header("X-Key", "{{bundle.authData.api_key}}")
                            .param("limit", "{{bundle.meta.limit}}"),
                    )
                    .sample(json!({"id": 1})),
            ),
        )
        .search(
            Search::new("find", "Item").display("Find", "A search by shorthand request.").operation(
                Operation::new()
                    .perform_request(
                        Request::get("{{process.env.API_BASE}}/items")
                            .param("q", "{{bundle.inputData.q}}")
                            .param("key", "{{process.env.REGION}}"),
                    )
                    .sample(json!({"id": 1})),
            ),
        )
        .create(
            Create::new("shorthand", "Item").display("Shorthand", "A shorthand request.").operation(
                Operation::new()
                    .perform_request(
                        Request::post("{{bundle.inputData.base}}/{{bundle.inputData.path}}")
                            .header("X-Name", "{{bundle.inputData.name}}")
                            .param("q", "{{bundle.inputData.q}}")
                            .param("missing", "{{bundle.inputData.absent}}")
                            .json(json!({
                                "count": "{{bundle.inputData.count}}",
                                "tags": "{{bundle.inputData.tags}}",
                                "greeting": "Hi {{bundle.inputData.name}}",
                            })),
                    )
                    .sample(json!({"id": 1})),
            ),
        )
}

zapwasm_guest::export_app!(app);

fn create(key: &'static str, description: &'static str, perform: Perform) -> Create {
    Create::new(key, "Item")
        .display(key, description)
        .operation(Operation::new().perform(perform).sample(json!({"id": 1})))
}

/// Appends `mark` to the comma-separated `X-Order` header.
fn mark_request(mut request: Request, mark: &str) -> Request {
    let order = match request.get_header("X-Order") {
        Some(earlier) => format!("{earlier},{mark}"),
        None => mark.to_string(),
    };
    request.set_header("X-Order", order);
    request
}

fn before_one(request: Request, _z: &Z, _bundle: &Bundle) -> Result<Request, ZError> {
    Ok(mark_request(request, "b1"))
}

fn before_two(request: Request, _z: &Z, _bundle: &Bundle) -> Result<Request, ZError> {
    Ok(mark_request(request, "b2"))
}

/// Appends `mark` to the response's `x-after` header.
fn mark_response(mut response: Response, mark: &str) -> Response {
    let order = match response.get_header("x-after") {
        Some(earlier) => format!("{earlier},{mark}"),
        None => mark.to_string(),
    };
    response.headers.retain(|(name, _)| name != "x-after");
    response.headers.push(("x-after".to_string(), order));
    response
}

/// The afterResponse middlewares that ran, in order: a typed value they
/// hand to the code that made the request, in `Response::extensions`.
#[derive(Debug, Clone, PartialEq)]
struct AfterMarks(Vec<&'static str>);

/// Appends `mark` to the response's [`AfterMarks`].
fn mark_extension(mut response: Response, mark: &'static str) -> Response {
    match response.extensions.get_mut::<AfterMarks>() {
        Some(marks) => marks.0.push(mark),
        None => {
            response.extensions.insert(AfterMarks(vec![mark]));
        }
    }
    response
}

fn after_one(response: Response, _z: &Z, _bundle: &Bundle) -> Result<Response, ZError> {
    Ok(mark_extension(mark_response(response, "a1"), "a1"))
}

fn after_two(response: Response, _z: &Z, _bundle: &Bundle) -> Result<Response, ZError> {
    Ok(mark_extension(mark_response(response, "a2"), "a2"))
}

/// A request object (the reference platform's shape) from JSON.
fn request_of(value: Option<&Value>) -> Result<Request, ZError> {
    zapwasm_guest::from_value(value.cloned().unwrap_or(Value::Null))
        .map_err(|error| ZError::general(format!("lifecycle: not a request object: {error}")))
}

/// The response as JSON: status, url, redirected, content, data (null when
/// absent), headers (an object, repeated names joined), the method sent,
/// and the [`AfterMarks`] afterResponse left in its extensions.
fn describe(response: &Response) -> Value {
    let mut headers = Map::new();
    for (name, value) in &response.headers {
        let joined = match headers.get(name).and_then(Value::as_str) {
            Some(earlier) => format!("{earlier}, {value}"),
            None => value.clone(),
        };
        headers.insert(name.clone(), Value::String(joined));
    }
    json!({
        "status": response.status,
        "url": response.url,
        "redirected": response.redirected,
        "content": response.content,
        "data": response.data,
        "has_data": response.data.is_some(),
        "headers": headers,
        "method": response.request.method,
        "after_marks": response.extensions.get::<AfterMarks>().map(|marks| marks.0.clone()),
    })
}

/// Sends `inputData.request` with z.request; errors propagate.
fn send(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let response = z.request(request_of(bundle.input("request"))?)?;
    Ok(describe(&response))
}

/// Sends every request of `inputData.requests` with z.request_all; returns
/// `{"results": [<response> | {"error": message}]}` in order.
fn send_all(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let requests = match bundle.input("requests") {
        Some(Value::Array(items)) => items.iter().map(|item| request_of(Some(item))).collect::<Result<Vec<_>, _>>()?,
        _ => return Err(ZError::general("lifecycle: inputData.requests must be an array")),
    };
    let results: Vec<Value> = z
        .request_all(requests)
        .into_iter()
        .map(|result| match result {
            Ok(response) => describe(&response),
            Err(error) => json!({"error": error.message()}),
        })
        .collect();
    Ok(json!({ "results": results }))
}

/// `{"sha256","sha1","md5"}` of `inputData.text`.
fn hash(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let text = bundle.input_str("text").unwrap_or_default();
    Ok(json!({
        "sha256": z.hash("sha256", text)?,
        "sha1": z.hash("sha1", text)?,
        "md5": z.hash("md5", text)?,
    }))
}

/// Logs "log line", "debug line", "info line", "warn line" and "error line
/// <authData.api_key>" through z.console, in that order.
fn console(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let console = z.console();
    console.log("log line");
    console.debug("debug line");
    console.info("info line");
    console.warn("warn line");
    console.error(format!("error line {}", bundle.auth_str("api_key").unwrap_or_default()));
    Ok(json!({"logged": 5}))
}

/// The hook's perform: the delivery as one item.
fn hook_items(_z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    Ok(json!([bundle.cleaned_request.clone().unwrap_or(json!({"id": 1}))]))
}

/// `{"parsed": z.json_parse(inputData.text)}`; the parse error propagates.
fn json_parse(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    Ok(json!({ "parsed": z.json_parse(bundle.input_str("text").unwrap_or_default())? }))
}
