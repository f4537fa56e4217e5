//! z.request, the host half: auth headers, params, the egress policy,
//! execution with redirects followed by hand, limits, logging, and the
//! stale-auth (401) and throttling (429) checks. The only module that opens
//! connections.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use url::Url;
use zapwasm_rules::method_path;
use zapwasm_rules::url_params::{self, ParamOptions};

use crate::auth::digest::Challenge;
use crate::auth::oauth1;
use crate::bindings::WitZError;
use crate::bindings::zapwasm::integration::http::{Host, RedirectMode, Request, Response};
use crate::budget::{BudgetBuf, Held};
use crate::censor::basic_credentials;
use crate::client::{Encodings, Outgoing};
use crate::egress::{self, AddressClass, Denial, Hop, Redirected};
use crate::error::{CallError, LimitKind, ZError};
use crate::random_id::random_id;
use crate::record::{BODY_PREVIEW_BYTES, HttpExchange, Level, Source};
use crate::sandbox::{CallContext, HostAbort, Sandbox};

/// Headers the host owns: an integration setting them could smuggle
/// requests past the policy (Host, proxies) or desynchronise the connection.
const FORBIDDEN_HEADERS: &[&str] =
    &["host", "connection", "keep-alive", "transfer-encoding", "te", "upgrade", "content-length", "trailer"];

/// Why a request produced no response for the guest.
pub(crate) enum SendFailure {
    /// An error the guest sees, typed (denials, timeouts, 401/429 checks).
    Z(ZError),
    /// A limit breach: the call ends.
    Abort(CallError),
}

impl From<ZError> for SendFailure {
    fn from(e: ZError) -> SendFailure {
        SendFailure::Z(e)
    }
}

impl Host for Sandbox {
    async fn send(&mut self, request: Request) -> wasmtime::Result<Result<Response, WitZError>> {
        let call = self.call.clone();
        let result = async {
            // The request was copied out of the guest: it counts until sent.
            let _request = hold_requests(&call, std::slice::from_ref(&request))?;
            // Polled by the call's task beside the guest, which waits.
            let sending = call.clone();
            let sent = call.beside.run(Box::pin(async move { send(&sending, request).await })).await?;
            Ok(sent)
        };
        // The body's hold ends here: the guest is waiting on this call, so
        // nothing else of it runs while wasmtime copies the body in.
        to_guest(result.await.map(|sent| sent.response))
    }

    async fn send_all(&mut self, requests: Vec<Request>) -> wasmtime::Result<Vec<Result<Response, WitZError>>> {
        let call = self.call.clone();
        let _requests = match hold_requests(&call, &requests) {
            Ok(held) => held,
            Err(failure) => return to_guest(Err(failure)).map(|one| vec![one]),
        };
        let slots = Arc::new(tokio::sync::Semaphore::new(call.limits.max_concurrent_requests.max(1) as usize));
        let mut sends: futures::stream::FuturesUnordered<_> = requests
            .into_iter()
            .enumerate()
            .map(|(i, request)| {
                let call = call.clone();
                let slots = slots.clone();
                let sent = off_fiber(Box::pin(async move {
                    let _slot = slots.acquire().await;
                    send(&call, request).await
                }));
                async move { (i, sent.await) }
            })
            .collect();
        // Every response is held until all are in (the guest gets them in
        // one list): each counts against the call's host memory until then.
        let mut results: Vec<Option<Result<Sent, SendFailure>>> = (0..sends.len()).map(|_| None).collect();
        while let Some((i, result)) = futures::StreamExt::next(&mut sends).await {
            if let Err(SendFailure::Abort(error)) = result {
                // A breached limit ends the call: the requests still in
                // flight are dropped (their tasks aborted) rather than
                // finished for nothing.
                return Err(wasmtime::Error::new(HostAbort(error)));
            }
            results[i] = Some(result);
        }
        results
            .into_iter()
            .map(|result| {
                let result = result.unwrap_or_else(|| Err(ZError::general("the request was not sent").into()));
                to_guest(result.map(|sent| sent.response))
            })
            .collect()
    }
}

/// A response on its way to the guest, and the host memory its body holds
/// until then.
pub(crate) struct Sent {
    pub(crate) response: Response,
    /// Counts the body against the call's host memory while it is kept.
    pub(crate) held: Held,
}

/// Count requests copied out of the guest (bodies, URLs, headers) against
/// the call's host memory while they are sent.
pub(crate) fn hold_requests(call: &CallContext, requests: &[Request]) -> Result<Held, SendFailure> {
    let bytes: usize = requests
        .iter()
        .map(|r| {
            let pairs = |pairs: &[(String, String)]| pairs.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
            let params: usize = r.params.iter().map(|(k, v)| k.len() + v.as_ref().map_or(0, String::len)).sum();
            r.body.as_ref().map_or(0, Vec::len) + r.url.len() + pairs(&r.headers) + params
        })
        .sum();
    call.budget.hold(bytes as u64).map_err(|e| SendFailure::Abort(e.into()))
}

/// Run one of a batch's requests as a task of its own and wait for it, so
/// that the batch's requests proceed together on the runtime's threads
/// (one request alone is polled beside the guest: [`crate::beside`]). Off
/// the call's fiber either way: a host import is polled on the fiber's
/// stack, and every stack page the polling of the HTTP client (hyper) touches
/// would stay resident while the call waits for the answer. The task is
/// aborted if the call is dropped (its deadline, or the embedder giving
/// up).
///
/// The request comes boxed: as a value its future (2.4 KiB) made the
/// import's own future that size, and every frame on the fiber that held
/// or moved either (wasmtime's, the import's, tokio's spawn) deeper; boxed
/// at the start, a waiting call's fiber stack keeps 12 KiB resident instead
/// of 28 (BENCHMARKS.md, "Memory per truly waiting call").
async fn off_fiber(
    request: std::pin::Pin<Box<dyn Future<Output = Result<Sent, SendFailure>> + Send + 'static>>,
) -> Result<Sent, SendFailure> {
    struct AbortOnDrop(tokio::task::JoinHandle<Result<Sent, SendFailure>>);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let mut task = AbortOnDrop(tokio::spawn(request));
    match (&mut task.0).await {
        Ok(result) => result,
        Err(error) => Err(SendFailure::Abort(CallError::Trap { message: format!("the request task failed: {error}") })),
    }
}

fn to_guest(result: Result<Response, SendFailure>) -> wasmtime::Result<Result<Response, WitZError>> {
    match result {
        Ok(response) => Ok(Ok(response)),
        Err(SendFailure::Z(error)) => Ok(Err(error.into())),
        Err(SendFailure::Abort(error)) => Err(wasmtime::Error::new(HostAbort(error))),
    }
}

/// Send one request through the host half of the pipeline.
pub(crate) async fn send(call: &CallContext, request: Request) -> Result<Sent, SendFailure> {
    let mut url = build_url(&request)?;
    let mut headers = build_headers(&request.headers)?;
    let body = Bytes::from(request.body.unwrap_or_default());
    if body.len() as u64 > call.limits.request_body_bytes {
        return Err(SendFailure::Abort(CallError::Limit {
            limit: LimitKind::RequestBody,
            value: format!("{} bytes", call.limits.request_body_bytes),
        }));
    }
    let method = http::Method::from_bytes(request.method.trim().to_ascii_uppercase().as_bytes())
        .map_err(|_| ZError::general(format!("invalid HTTP method {:?}", request.method)))?;
    let options = Options {
        redirect: request.redirect,
        follow: request.follow,
        compress: request.compress,
        timeout: (request.timeout_ms > 0).then(|| Duration::from_millis(request.timeout_ms)),
        size: request.size,
    };
    userinfo_to_header(call, &mut url, &mut headers)?;
    apply_auth(call, &method, &url, &body, &mut headers)?;
    let digest = call.definition.auth_type() == Some("digest");
    let mut sent = execute(call, method.clone(), url.clone(), headers.clone(), body.clone(), &options).await?;
    if digest && sent.response.status == 401 {
        // The challenge round trip: answer the server's nonce and send again.
        if let Some(challenge) = header(&sent.response.headers, "www-authenticate").and_then(Challenge::parse) {
            let uri = match url.query() {
                Some(query) => format!("{}?{query}", url.path()),
                None => url.path().to_string(),
            };
            let field = |k: &str| call.auth_data.get(k).and_then(|v| v.as_str()).unwrap_or_default();
            let answer =
                challenge.authorization(field("username"), field("password"), method.as_str(), &uri, &random_id());
            // The answer's hash is derived from the password.
            call.record.add_derived(auth_param(&answer, "response"));
            let value = HeaderValue::from_str(&answer)
                .map_err(|_| ZError::general("the digest credentials hold characters a header cannot carry"))?;
            headers.insert(http::header::AUTHORIZATION, value);
            drop(sent);
            sent = execute(call, method, url, headers, body, &options).await?;
        }
    }
    let response = &sent.response;

    // Stale auth: before afterResponse, whatever skipThrowForStatus says.
    // Calls that refresh the credentials must see their own 401.
    let refreshing =
        call.method.starts_with(method_path::SESSION_CONFIG) || call.method.starts_with(method_path::OAUTH2_CONFIG);
    if response.status == 401 && call.definition.refreshes_on_401() && !refreshing {
        return Err(ZError::RefreshAuth {
            message: "The server returned 401 (Unauthorized): the credentials need a refresh.".into(),
        }
        .into());
    }
    if response.status == 429 && request.throw_for_throttling_early {
        let delay_seconds = header(&response.headers, "retry-after").and_then(retry_after_seconds);
        return Err(
            ZError::Throttled { message: "The server returned 429 (Too Many Requests)".into(), delay_seconds }.into()
        );
    }
    Ok(sent)
}

struct Options {
    redirect: RedirectMode,
    follow: u32,
    compress: bool,
    timeout: Option<Duration>,
    size: u64,
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// The value of `name="value"` in an auth header the host built (a digest
/// answer's `response`, an OAuth 1 `oauth_signature`), percent-decoded.
fn auth_param(header: &str, name: &str) -> Option<String> {
    let start = header.find(&format!("{name}=\""))? + name.len() + 2;
    let value = &header[start..start + header[start..].find('"')?];
    Some(percent_encoding::percent_decode_str(value).decode_utf8_lossy().into_owned())
}

/// A `Retry-After` value in seconds; `None` for an HTTP date or anything
/// else (the throttled error then names no delay).
fn retry_after_seconds(value: &str) -> Option<u64> {
    value.trim().parse::<u64>().ok()
}

/// The URL with the params appended to the query it parsed, each encoded
/// once, by the rule the guest SDK names the URL with
/// ([`url_params::query_with_params`]). The URL parser then writes the
/// query as a URL holds it.
fn build_url(request: &Request) -> Result<Url, ZError> {
    let mut url =
        Url::parse(request.url.trim()).map_err(|e| ZError::general(format!("invalid URL {:?}: {e}", request.url)))?;
    let options = ParamOptions {
        skip_encoding_chars: &request.skip_encoding_chars,
        remove_missing: request.remove_missing_params,
    };
    let query = url_params::query_with_params(url.query().unwrap_or_default(), &request.params, &options);
    url.set_query((!query.is_empty()).then_some(query.as_str()));
    Ok(url)
}

fn build_headers(pairs: &[(String, String)]) -> Result<HeaderMap, ZError> {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        let name = name.trim();
        let lower = name.to_ascii_lowercase();
        if FORBIDDEN_HEADERS.contains(&lower.as_str()) || lower.starts_with("proxy-") {
            return Err(ZError::general(format!(
                "the header {name} is set by the host and may not be sent by an integration; remove it from the request"
            )));
        }
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ZError::general(format!("invalid header name {name:?}")))?;
        let value = HeaderValue::from_str(value.trim())
            .map_err(|_| ZError::general(format!("invalid value for header {name}")))?;
        headers.append(name, value);
    }
    Ok(headers)
}

/// Credentials in the URL (`https://user:password@host/`) are sent as basic
/// auth, as HTTP clients do, but by the host: the URL is recorded and
/// redirected without them, the header is dropped at a redirect to another
/// origin like any other credential, and the password and the header's
/// value are censored like authData. An Authorization header the request
/// already has wins.
fn userinfo_to_header(call: &CallContext, url: &mut Url, headers: &mut HeaderMap) -> Result<(), ZError> {
    if url.username().is_empty() && url.password().is_none() {
        return Ok(());
    }
    let decode = |text: &str| percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned();
    let username = decode(url.username());
    let password = url.password().map(decode);
    let credentials = basic_credentials(&username, password.as_deref().unwrap_or_default());
    // A username alone is usually an API key.
    let secret = password.clone().unwrap_or_else(|| username.clone());
    call.record.add_derived([secret, credentials.clone()]);
    _ = url.set_username("");
    _ = url.set_password(None);
    if !headers.contains_key(http::header::AUTHORIZATION) {
        let value = HeaderValue::from_str(&format!("Basic {credentials}"))
            .map_err(|_| ZError::general("the URL's credentials cannot be sent in a header"))?;
        headers.insert(http::header::AUTHORIZATION, value);
    }
    Ok(())
}

/// Auth the host does itself: basic sets the header (overwriting any the
/// app set); oauth1 signs the request. Digest answers a challenge after
/// the first response, in `send`.
fn apply_auth(
    call: &CallContext,
    method: &http::Method,
    url: &Url,
    body: &[u8],
    headers: &mut HeaderMap,
) -> Result<(), ZError> {
    let field = |k: &str| call.auth_data.get(k).and_then(|v| v.as_str()).unwrap_or_default();
    let value = match call.definition.auth_type() {
        Some("basic") => {
            // Censored as a derived secret (`Censor::secrets`).
            format!("Basic {}", basic_credentials(field("username"), field("password")))
        }
        Some("oauth1") => {
            let credentials = oauth1::Credentials {
                consumer_key: call.env_var("CLIENT_ID").unwrap_or_default(),
                consumer_secret: call.env_var("CLIENT_SECRET").unwrap_or_default(),
                token: call.auth_data.get("oauth_token").and_then(|v| v.as_str()),
                token_secret: field("oauth_token_secret"),
            };
            let is_form = headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
            let form: Vec<(String, String)> = if is_form {
                url::form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
            } else {
                Vec::new()
            };
            let timestamp =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
            let header = oauth1::authorization(&credentials, method.as_str(), url, &form, &random_id(), timestamp);
            // The signature is computed from the consumer and token secrets.
            call.record.add_derived(auth_param(&header, "oauth_signature"));
            header
        }
        _ => return Ok(()),
    };
    let value = HeaderValue::from_str(&value)
        .map_err(|_| ZError::general("the credentials hold characters an Authorization header cannot carry"))?;
    headers.insert(http::header::AUTHORIZATION, value);
    Ok(())
}

/// Header names that carry credentials by convention: dropped at a
/// redirect to another origin even when the host cannot tell their value
/// is secret (a key the app made up, a session it was handed).
const CREDENTIAL_NAME_PARTS: &[&str] = &[
    "auth",
    "cookie",
    "key",
    "token",
    "secret",
    "session",
    "password",
    "passwd",
    "signature",
    "credential",
    "csrf",
    "xsrf",
];

/// Take the credentials out of a request whose next hop goes to another
/// origin (scheme, host or port): `Authorization`, `Cookie`, every header
/// whose name says it carries credentials, and every header whose value
/// holds a secret of the call. Returns the names dropped, censored as the
/// record keeps names (one may hold a secret).
fn drop_credentials(call: &CallContext, headers: &mut HeaderMap) -> Vec<String> {
    let mut dropped: Vec<HeaderName> = Vec::new();
    for (name, value) in headers.iter() {
        let lower = name.as_str();
        let by_name = CREDENTIAL_NAME_PARTS.iter().any(|part| lower.contains(part));
        let by_value = call.record.holds_secret(&String::from_utf8_lossy(value.as_bytes()));
        if (by_name || by_value) && !dropped.contains(name) {
            dropped.push(name.clone());
        }
    }
    for name in &dropped {
        headers.remove(name);
    }
    dropped.iter().map(|name| call.record.censor_text(name.as_str())).collect()
}

/// Send, following redirects by hand so every hop is checked again.
async fn execute(
    call: &CallContext,
    mut method: http::Method,
    mut url: Url,
    mut headers: HeaderMap,
    mut body: Bytes,
    options: &Options,
) -> Result<Sent, SendFailure> {
    let encodings = if options.compress { Encodings::Decompressed } else { Encodings::Identity };
    let policy = &call.services.policy;
    let mut hops = 0;
    // Whether the first hop connected to this machine: only then may a
    // redirect land on loopback. Decided from the address connected to,
    // not from how the URL names it.
    let mut chain_on_loopback = false;
    let mut redirected: Option<Redirected> = None;
    let mut dropped = Vec::new();
    loop {
        call.count_request().map_err(SendFailure::Abort)?;
        let hop = if hops > 0 && !chain_on_loopback { Hop::Redirected } else { Hop::Direct };
        egress::check_url(policy, &url, hop).map_err(|d| ZError::general(d.after(redirected.clone()).message()))?;
        let started = Instant::now();
        // `timeout` bounds the whole exchange, body included, and never
        // runs past the call's deadline.
        let deadline = match options.timeout.and_then(|t| started.checked_add(t)) {
            Some(timeout) => timeout.min(call.deadline),
            None => call.deadline,
        };
        let deadline = tokio::time::Instant::from_std(deadline);
        let mut exchange = HttpExchange {
            method: method.to_string(),
            url: call.record.censor_text(url.as_str()),
            request_headers: censored_headers(call, headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes()))),
            request_body: (!body.is_empty()).then(|| preview(call, &body)),
            status: None,
            response_headers: Vec::new(),
            response_body: None,
            error: None,
            duration: Duration::ZERO,
            dropped_on_redirect: std::mem::take(&mut dropped),
        };
        let sending = Outgoing { method: method.clone(), url: &url, headers: headers.clone(), body: body.clone() };
        let outcome = tokio::time::timeout_at(deadline, call.services.http.send(hop, encodings, sending)).await;
        let mut response = match outcome {
            Err(_) => {
                exchange.error = Some("timed out".into());
                return Err(finish_failed(
                    call,
                    exchange,
                    started,
                    ZError::general(format!("network timeout at: {url}")),
                ));
            }
            Ok(Err(error)) => {
                let message = match egress::find_denial(&*error) {
                    Some(denial) => denial.after(redirected.clone()).message(),
                    None => format!("request to {url} failed: {}", error_chain(&*error)),
                };
                exchange.error = Some(call.record.censor_text(&message));
                return Err(finish_failed(call, exchange, started, ZError::general(message)));
            }
            Ok(Ok(response)) => response,
        };
        let status = response.status;
        let response_headers: Vec<(String, String)> = response
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let on_loopback =
            response.remote_addr.is_some_and(|peer| matches!(egress::classify(peer.ip()), AddressClass::Loopback(_)));
        if hops == 0 {
            chain_on_loopback = on_loopback;
        } else if hop == Hop::Redirected && on_loopback {
            // The redirected clients' resolver refuses loopback, so this
            // cannot happen; if it ever does, the answer is not used.
            let host = url.host_str().unwrap_or_default();
            let denial = Denial::redirect_to_loopback(host, response.remote_addr).after(redirected.clone());
            exchange.error = Some(call.record.censor_text(&denial.message()));
            return Err(finish_failed(call, exchange, started, ZError::general(denial.message())));
        }
        exchange.status = Some(status);
        exchange.response_headers =
            censored_headers(call, response_headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes())));

        let location = header(&response_headers, "location").map(str::to_string);
        if (300..400).contains(&status) && location.is_some() && options.redirect != RedirectMode::Manual {
            let target = location.unwrap_or_default();
            finish_exchange(call, exchange, started, &[]);
            if options.redirect == RedirectMode::Error {
                return Err(ZError::general(format!(
                    "uri requested responds with a redirect, redirect mode is set to error: {url}"
                ))
                .into());
            }
            if hops >= options.follow {
                return Err(ZError::general(format!("maximum redirect reached at: {url}")).into());
            }
            let next = url
                .join(&target)
                .map_err(|e| ZError::general(format!("invalid redirect location {target:?} from {url}: {e}")))?;
            if status == 303 || ((status == 301 || status == 302) && method == http::Method::POST) {
                method = http::Method::GET;
                body = Bytes::new();
                headers.remove(http::header::CONTENT_TYPE);
            }
            // Credentials are for the origin they were given to: none of
            // them, and no body (a 307 or 308 would send it again), follow
            // a redirect elsewhere.
            if next.origin() != url.origin() {
                dropped = drop_credentials(call, &mut headers);
                if !body.is_empty() {
                    body = Bytes::new();
                    headers.remove(http::header::CONTENT_TYPE);
                    dropped.push("body".into());
                }
            }
            hops += 1;
            redirected = Some(Redirected { hop: hops, from: url.to_string() });
            url = next;
            continue;
        }

        let cap = match (options.size, call.limits.response_body_bytes) {
            (0, host) => host,
            (asked, host) => asked.min(host),
        };
        let mut bytes = BudgetBuf::new(&call.budget);
        loop {
            let chunk = match tokio::time::timeout_at(deadline, response.body.chunk()).await {
                Err(_) => {
                    exchange.error = Some("timed out reading the body".into());
                    return Err(finish_failed(
                        call,
                        exchange,
                        started,
                        ZError::general(format!("network timeout at: {url}")),
                    ));
                }
                Ok(Err(error)) => {
                    let message = format!("reading the response of {url} failed: {}", error_chain(&*error));
                    exchange.error = Some(call.record.censor_text(&message));
                    return Err(finish_failed(call, exchange, started, ZError::general(message)));
                }
                Ok(Ok(None)) => break,
                Ok(Ok(Some(chunk))) => chunk,
            };
            if (bytes.len() + chunk.len()) as u64 > cap {
                exchange.error = Some(format!("body over {cap} bytes"));
                finish_exchange(call, exchange, started, bytes.as_slice());
                if options.size > 0 && options.size <= call.limits.response_body_bytes {
                    return Err(ZError::general(format!("content size at {url} over limit: {}", options.size)).into());
                }
                return Err(SendFailure::Abort(CallError::Limit {
                    limit: LimitKind::ResponseBody,
                    value: format!("{} bytes", call.limits.response_body_bytes),
                }));
            }
            if let Err(exhausted) = bytes.extend(&chunk) {
                exchange.error = Some(format!("the call's host memory is spent ({} bytes held)", bytes.len()));
                finish_exchange(call, exchange, started, bytes.as_slice());
                return Err(SendFailure::Abort(exhausted.into()));
            }
        }
        finish_exchange(call, exchange, started, bytes.as_slice());
        let (body, held) = bytes.into_parts();
        let response = Response { status, url: url.to_string(), redirected: hops > 0, headers: response_headers, body };
        return Ok(Sent { response, held });
    }
}

/// Headers as the record keeps them: names and values censored (a server
/// may send back a secret it was given, in a header of its own).
fn censored_headers<'a>(
    call: &CallContext,
    headers: impl Iterator<Item = (&'a str, &'a [u8])>,
) -> Vec<(String, String)> {
    headers.map(|(k, v)| (call.record.censor_text(k), call.record.censor_text(&String::from_utf8_lossy(v)))).collect()
}

fn preview(call: &CallContext, body: &[u8]) -> String {
    // A secret the cut would run through is kept whole, to be censored whole.
    let end = if body.len() > BODY_PREVIEW_BYTES { call.record.cut_at(body, BODY_PREVIEW_BYTES) } else { body.len() };
    let cut = &body[..end];
    // The check is several times cheaper than the lossy conversion, which
    // only a cut that is not valid UTF-8 needs.
    match std::str::from_utf8(cut) {
        Ok(text) => call.record.censor_text(text),
        Err(_) => call.record.censor_text(&String::from_utf8_lossy(cut)),
    }
}

fn finish_failed(call: &CallContext, exchange: HttpExchange, started: Instant, error: ZError) -> SendFailure {
    finish_exchange(call, exchange, started, &[]);
    SendFailure::Z(error)
}

/// Record the exchange and its log line: `<status> <METHOD> <url>`, then
/// the headers, bodies and duration.
fn finish_exchange(call: &CallContext, mut exchange: HttpExchange, started: Instant, body: &[u8]) {
    exchange.duration = started.elapsed();
    if !body.is_empty() {
        exchange.response_body = Some(preview(call, body));
    }
    let preview_len =
        exchange.request_body.as_ref().map_or(0, String::len) + exchange.response_body.as_ref().map_or(0, String::len);
    let mut line = String::with_capacity(256 + exchange.url.len() + preview_len);
    match exchange.status {
        Some(status) => _ = write!(line, "{status}"),
        None => line.push_str("---"),
    }
    _ = write!(line, " {} {}", exchange.method, exchange.url);
    if !exchange.dropped_on_redirect.is_empty() {
        line.push_str("\n  not sent to this origin after the redirect: ");
        line.push_str(&exchange.dropped_on_redirect.join(", "));
    }
    let headers = |line: &mut String, title: &str, pairs: &[(String, String)]| {
        line.push_str(title);
        for (i, (k, v)) in pairs.iter().enumerate() {
            line.push_str(if i == 0 { "" } else { ", " });
            line.push_str(k);
            line.push_str(": ");
            line.push_str(v);
        }
    };
    headers(&mut line, "\n  request headers: ", &exchange.request_headers);
    if let Some(b) = &exchange.request_body {
        line.push_str("\n  request body: ");
        line.push_str(b);
    }
    headers(&mut line, "\n  response headers: ", &exchange.response_headers);
    if let Some(b) = &exchange.response_body {
        line.push_str("\n  response body: ");
        line.push_str(b);
    }
    if let Some(e) = &exchange.error {
        line.push_str("\n  error: ");
        line.push_str(e);
    }
    _ = write!(line, "\n  took {} ms", exchange.duration.as_millis());
    let level = match exchange.status {
        Some(s) if s < 400 => Level::Info,
        _ => Level::Warn,
    };
    // Every part of the line was censored when the exchange was recorded.
    call.record.log_censored(level, Source::Http, line);
    call.record.exchange(exchange);
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain GET of `url` with `params`, the defaults otherwise.
    pub(super) fn request(url: &str, params: &[(&str, Option<&str>)]) -> Request {
        Request {
            method: "GET".into(),
            url: url.into(),
            params: params.iter().map(|(k, v)| (k.to_string(), v.map(str::to_string))).collect(),
            headers: vec![],
            body: None,
            redirect: RedirectMode::Follow,
            follow: 20,
            compress: true,
            timeout_ms: 0,
            size: 0,
            skip_encoding_chars: String::new(),
            remove_missing_params: false,
            throw_for_throttling_early: true,
        }
    }

    #[test]
    fn params_are_encoded_once() {
        let r = request(
            "https://api.test/x?a=1",
            &[
                ("q", Some("a b:$/?#[]@&+,;=^`\\é")),
                ("tag", Some("x")),
                ("tag", Some("y")),
                ("n", None),
                ("c", Some("{{bundle.inputData.c}}")),
            ],
        );
        assert_eq!(
            build_url(&r).unwrap().as_str(),
            "https://api.test/x?a=1&q=a%20b%3A%24%2F%3F%23%5B%5D%40%26%2B%2C%3B%3D%5E%60%5C%C3%A9&tag=x&tag=y&n=&c="
        );
        let mut r = request("https://api.test/x", &[("q", Some("a:b,c")), ("n", Some(""))]);
        r.skip_encoding_chars = ":,".into();
        r.remove_missing_params = true;
        assert_eq!(build_url(&r).unwrap().as_str(), "https://api.test/x?q=a:b,c");
    }

    #[test]
    fn host_owned_headers_are_refused() {
        for name in ["Host", "connection", "Transfer-Encoding", "Proxy-Authorization"] {
            assert!(build_headers(&[(name.into(), "x".into())]).is_err(), "{name}");
        }
        let h = build_headers(&[(" X-Key ".into(), " v ".into())]).unwrap();
        assert_eq!(h.get("x-key").unwrap(), "v");
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;
    use proptest::sample::select;
    use zapwasm_rules::url_params::ParamPair;

    use super::*;
    use crate::fuzzing::{self, Input};

    /// What response heads are made of, for the mutations.
    const RESPONSE_TOKENS: &[&str] = &[
        "\r\n",
        ": ",
        "Retry-After: ",
        "WWW-Authenticate: Digest ",
        "Location: ",
        "Content-Disposition: attachment; filename=",
        "120",
        "Wed, 21 Oct 2015 07:28:00 GMT",
        "//evil.example/",
        "../../",
        "javascript:",
        "http://[::1]:0/",
    ];

    /// A response head as text: `Name: value` lines after the status line,
    /// as the host gets them from its client (names in lower case).
    fn response_headers(text: &str) -> Vec<(String, String)> {
        text.lines()
            .skip(1)
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
            .collect()
    }

    /// Response heads an API sends: the headers the host reads itself
    /// (`Retry-After`, `WWW-Authenticate`, `Location`) never make it
    /// panic, and a delay is read only from a number.
    #[test]
    fn response_headers_are_read_without_panicking() {
        let base = Url::parse("https://api.example.com/v1/items?page=2").expect("a URL");
        fuzzing::fuzz_text("response_headers", RESPONSE_TOKENS, |text| {
            let headers = response_headers(text);
            for value in [Some(text), header(&headers, "retry-after")].into_iter().flatten() {
                if let Some(seconds) = retry_after_seconds(value) {
                    prop_assert!(value.trim().trim_start_matches('+').bytes().all(|b| b.is_ascii_digit()));
                    prop_assert_eq!(value.trim().trim_start_matches('+').parse::<u64>().ok(), Some(seconds));
                }
            }
            if let Some(value) = header(&headers, "www-authenticate") {
                let _ = Challenge::parse(value);
            }
            if let Some(location) = header(&headers, "location")
                && let Ok(next) = base.join(location)
            {
                let _ = egress::check_url(&crate::Policy::local_development(), &next, Hop::Redirected);
            }
            Ok(())
        });
    }

    /// What a guest's request is made of, for the mutations.
    const REQUEST_TOKENS: &[&str] =
        &["?", "#", "&", "=", "%", "%2", "{{bundle.inputData.id}}", "http://", "https://", "[::1]", "@", ":99999"];

    /// A request as the guest sends it.
    fn request(url: &str, params: &[ParamPair], skip: &str, remove: bool, headers: &[(String, String)]) -> Request {
        Request {
            params: params.to_vec(),
            headers: headers.to_vec(),
            skip_encoding_chars: skip.into(),
            remove_missing_params: remove,
            ..super::tests::request(url, &[])
        }
    }

    /// The URL, params and headers of a guest's request: building them
    /// never panics, the params are appended encoded once (what the SDK
    /// names in errors), and no header the host owns gets through.
    #[test]
    fn guest_requests_build_without_panicking() {
        let seeds = fuzzing::corpus("request");
        let mut words: Vec<String> = REQUEST_TOKENS.iter().map(|token| token.to_string()).collect();
        words.extend(FORBIDDEN_HEADERS.iter().map(|name| name.to_string()));
        words.extend(["Proxy-Authorization", " Host ", "X-Api-Key", "Content-Type", "a b", "\r\n"].map(String::from));
        let text = move || prop_oneof![3 => any::<String>(), 2 => select(words.clone())];
        let params = proptest::collection::vec((text(), proptest::option::of(text())), 0..5);
        let headers = proptest::collection::vec((text(), text()), 0..5);
        let strategy = (fuzzing::inputs(&seeds, REQUEST_TOKENS), params, text(), any::<bool>(), headers);
        let seeds = seeds.into_iter().map(|url| (url, Vec::new(), String::new(), false, Vec::new())).collect();
        type Case = (Input, Vec<ParamPair>, String, bool, Vec<(String, String)>);
        fuzzing::run("request", seeds, strategy, |(url, params, skip, remove, headers): &Case| {
            let request = request(&url.text(), params, skip, *remove, headers);
            if let Ok(built) = build_url(&request)
                && skip.is_empty()
                && !params.is_empty()
            {
                let options = ParamOptions { skip_encoding_chars: "", remove_missing: *remove };
                let ours = url_params::query_with_params("", params, &options);
                // The URL parser writes `'` (left raw by encodeURIComponent)
                // as `%27` in an http(s) query, as the reference platform's
                // WHATWG URL does: the same character either way.
                let query = built.query().unwrap_or_default();
                let special = ours.replace('\'', "%27");
                prop_assert!(query.ends_with(&ours) || query.ends_with(&special), "{built} lacks {ours}");
            }
            if let Ok(map) = build_headers(headers) {
                prop_assert_eq!(map.len(), headers.len());
                for name in map.keys() {
                    let name = name.as_str();
                    prop_assert!(!FORBIDDEN_HEADERS.contains(&name) && !name.starts_with("proxy-"), "{name}");
                }
            }
            Ok(())
        });
    }
}
