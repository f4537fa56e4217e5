//! The HTTP client every guest request goes through: hyper-util's pooled
//! HTTP/1.1 client over rustls, connecting only through the egress
//! policy's resolver, and the response body decoded when the request asked
//! for compression.
//!
//! hyper-util's client rather than a client built on it (reqwest): the host
//! follows redirects by hand, applies its own timeouts and builds its own
//! URLs, so such a client's layers (its redirect policy, its URL parsed
//! twice more per request, its boxed futures) were work done on every
//! request for nothing: 67k instructions per GET against hyper-util's 31k,
//! and 5.5 KiB more per waiting connection (BENCHMARKS.md, "The host's
//! HTTP client").

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::stream::Peekable;
use futures::{Stream, StreamExt, TryStreamExt};
use http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, HeaderMap, HeaderValue, RANGE, USER_AGENT};
use http::{Method, Uri};
use http_body_util::{BodyDataStream, Full};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::{HttpConnector, HttpInfo};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use url::Url;

use crate::egress::{Hop, Resolver, check_addr};
use crate::policy::Policy;

/// What a request asks for: with `compress` (the default) it accepts gzip,
/// deflate and brotli and gets the body decoded; without, the body comes as
/// the server sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encodings {
    Decompressed,
    Identity,
}

/// What `Accept-Encoding` says when the request asks for compression.
const ACCEPTED: &str = "gzip, deflate, br";

type Connector = HttpsConnector<HttpConnector<PolicyResolver>>;

/// The clients of one host: one per [`Hop`]. A client's resolver applies
/// its hop's rule, and its connection pool holds only connections made
/// under that rule, so a hop that may not reach loopback never reuses a
/// loopback connection another request opened.
pub(crate) struct Clients {
    direct: Client<Connector, Full<Bytes>>,
    redirected: Client<Connector, Full<Bytes>>,
    user_agent: HeaderValue,
}

/// Why the clients could not be built.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    #[error("the user agent {0:?} is not a valid header value")]
    UserAgent(String),
}

impl Clients {
    /// The clients for `policy`, resolving through `resolver`.
    /// Every request carries `user_agent` unless the integration sends its own.
    pub(crate) fn new(
        policy: &Arc<Policy>,
        resolver: &Arc<dyn Resolver>,
        user_agent: &str,
    ) -> Result<Clients, ClientError> {
        let user_agent =
            HeaderValue::from_str(user_agent).map_err(|_| ClientError::UserAgent(user_agent.to_string()))?;
        let client = |hop| client(PolicyResolver { resolver: resolver.clone(), policy: policy.clone(), hop });
        let direct = client(Hop::Direct);
        // Without loopback the rules are the same: no second pool.
        let redirected = if policy.allow_loopback { client(Hop::Redirected) } else { direct.clone() };
        Ok(Clients { direct, redirected, user_agent })
    }

    /// Send one request (no redirect followed) and wait for its head.
    pub(crate) async fn send(
        &self,
        hop: Hop,
        encodings: Encodings,
        outgoing: Outgoing<'_>,
    ) -> Result<Received, BoxError> {
        let client = match hop {
            Hop::Direct => &self.direct,
            Hop::Redirected => &self.redirected,
        };
        let uri: Uri = outgoing.url.as_str().parse()?;
        let mut request = http::Request::new(Full::new(outgoing.body));
        *request.method_mut() = outgoing.method;
        *request.uri_mut() = uri;
        *request.headers_mut() = outgoing.headers;
        let headers = request.headers_mut();
        if !headers.contains_key(USER_AGENT) {
            headers.insert(USER_AGENT, self.user_agent.clone());
        }
        let decode = encodings == Encodings::Decompressed;
        if decode && !headers.contains_key(ACCEPT_ENCODING) && !headers.contains_key(RANGE) {
            headers.insert(ACCEPT_ENCODING, HeaderValue::from_static(ACCEPTED));
        }
        let response = client.request(request).await?;
        let remote_addr = response.extensions().get::<HttpInfo>().map(HttpInfo::remote_addr);
        let (mut head, body) = response.into_parts();
        let body = if decode { ResponseBody::decoded(&mut head.headers, body) } else { ResponseBody::plain(body) };
        Ok(Received { status: head.status.as_u16(), headers: head.headers, remote_addr, body })
    }
}

/// One request as the host sends it.
pub(crate) struct Outgoing<'a> {
    pub(crate) method: Method,
    pub(crate) url: &'a Url,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// A response's head, and its body still to read.
pub(crate) struct Received {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    /// The address the connection went to.
    pub(crate) remote_addr: Option<SocketAddr>,
    pub(crate) body: ResponseBody,
}

/// A client with the settings that enforce egress: no proxy (hyper-util's
/// client has none: a proxy would connect on the host's behalf to addresses
/// nobody checked), no redirects followed (each hop is checked by hand, in
/// `capability/http`), and the policy resolver, with the hop's rule, as the
/// only way a name becomes an address.
fn client(resolver: PolicyResolver) -> Client<Connector, Full<Bytes>> {
    let mut http = HttpConnector::new_with_resolver(resolver);
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(Duration::from_secs(10)));
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_timer(TokioTimer::new())
        .build(connector)
}

/// The resolver the client connects through: resolve, keep the allowed
/// addresses, refuse when any is forbidden.
#[derive(Clone)]
struct PolicyResolver {
    resolver: Arc<dyn Resolver>,
    policy: Arc<Policy>,
    hop: Hop,
}

type Resolving = Pin<Box<dyn Future<Output = Result<std::vec::IntoIter<SocketAddr>, BoxError>> + Send>>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower_service::Service<Name> for PolicyResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = Resolving;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Resolving {
        let resolver = self.resolver.clone();
        let policy = self.policy.clone();
        let hop = self.hop;
        Box::pin(async move {
            let host = name.as_str();
            let ips: Vec<IpAddr> = resolver.resolve(host).await?;
            let mut allowed = Vec::with_capacity(ips.len());
            for ip in ips {
                // One forbidden address is enough to refuse: a name that
                // mixes public and private answers is a rebinding attempt.
                check_addr(&policy, host, ip, hop).map_err(|denial| Box::new(denial) as BoxError)?;
                allowed.push(SocketAddr::new(ip, 0));
            }
            Ok(allowed.into_iter())
        })
    }
}

/// A response body, a chunk at a time, decoded if it was encoded.
pub(crate) struct ResponseBody(Chunks);

/// A decoded body's chunks.
type Decoded = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

enum Chunks {
    Plain(BodyDataStream<Incoming>),
    /// An encoded body not read yet: decoding starts at its first byte, so
    /// an encoded body that turns out to have none (a chunked answer with
    /// no chunk) is an empty body, not a decoding error.
    Encoded(Coding, Peekable<BodyDataStream<Incoming>>),
    /// Decoded as it arrives, so a body's size limit applies to what the
    /// guest would get, and a small body that decodes to a huge one stops
    /// at the limit.
    Decoded(Decoded),
    /// An encoded body that had no bytes.
    Ended,
}

/// The encodings the client decodes, by their `Content-Encoding` name.
#[derive(Clone, Copy)]
enum Coding {
    Gzip,
    /// zlib-wrapped deflate, as HTTP's `deflate` is.
    Deflate,
    Brotli,
}

impl ResponseBody {
    fn plain(body: Incoming) -> ResponseBody {
        ResponseBody(Chunks::Plain(BodyDataStream::new(body)))
    }

    /// The body decoded when its one `Content-Encoding` is one the request
    /// accepted; the headers then lose `Content-Encoding` and
    /// `Content-Length`, which described the encoded body.
    fn decoded(headers: &mut HeaderMap, body: Incoming) -> ResponseBody {
        let mut encodings = headers.get_all(CONTENT_ENCODING).iter();
        let coding = match (encodings.next().map(HeaderValue::as_bytes), encodings.next()) {
            (Some(b"gzip"), None) => Coding::Gzip,
            (Some(b"deflate"), None) => Coding::Deflate,
            (Some(b"br"), None) => Coding::Brotli,
            _ => return ResponseBody::plain(body),
        };
        // An answer that has no body (a HEAD's, a 204's) keeps its headers.
        if hyper::body::Body::is_end_stream(&body) || headers.get(CONTENT_LENGTH).is_some_and(|n| n == "0") {
            return ResponseBody::plain(body);
        }
        headers.remove(CONTENT_ENCODING);
        headers.remove(CONTENT_LENGTH);
        ResponseBody(Chunks::Encoded(coding, BodyDataStream::new(body).peekable()))
    }

    /// The next chunk; `None` at the end.
    pub(crate) async fn chunk(&mut self) -> Result<Option<Bytes>, BoxError> {
        if let Chunks::Encoded(_, encoded) = &mut self.0 {
            let empty = Pin::new(&mut *encoded).peek().await.is_none();
            self.0 = match std::mem::replace(&mut self.0, Chunks::Ended) {
                Chunks::Encoded(coding, encoded) if !empty => Chunks::Decoded(decoder(coding, encoded)),
                _ => Chunks::Ended,
            };
        }
        match &mut self.0 {
            Chunks::Plain(body) => Ok(body.next().await.transpose()?),
            Chunks::Decoded(body) => Ok(body.next().await.transpose()?),
            Chunks::Encoded(..) | Chunks::Ended => Ok(None),
        }
    }
}

/// `encoded`'s bytes decoded as `coding`, as they arrive.
fn decoder(coding: Coding, encoded: Peekable<BodyDataStream<Incoming>>) -> Decoded {
    use async_compression::tokio::bufread::{BrotliDecoder, GzipDecoder, ZlibDecoder};
    use tokio_util::io::{ReaderStream, StreamReader};
    let encoded = StreamReader::new(encoded.map_err(std::io::Error::other));
    match coding {
        Coding::Gzip => {
            let mut decoder = GzipDecoder::new(encoded);
            decoder.multiple_members(true);
            Box::pin(ReaderStream::new(decoder))
        }
        Coding::Deflate => Box::pin(ReaderStream::new(ZlibDecoder::new(encoded))),
        Coding::Brotli => Box::pin(ReaderStream::new(BrotliDecoder::new(encoded))),
    }
}
