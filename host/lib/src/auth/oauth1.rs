//! OAuth 1.0a request signing with HMAC-SHA1 (RFC 5849): the consumer key
//! and secret come from the integration's environment (`CLIENT_ID`,
//! `CLIENT_SECRET`), the token and its secret from authData
//! (`oauth_token`, `oauth_token_secret`).

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use url::Url;

/// What a signature needs besides the request.
pub(crate) struct Credentials<'a> {
    pub(crate) consumer_key: &'a str,
    pub(crate) consumer_secret: &'a str,
    pub(crate) token: Option<&'a str>,
    pub(crate) token_secret: &'a str,
}

/// The `Authorization: OAuth ...` header for a request. `form` holds the
/// body's parameters when the body is `application/x-www-form-urlencoded`.
pub(crate) fn authorization(
    credentials: &Credentials<'_>,
    method: &str,
    url: &Url,
    form: &[(String, String)],
    nonce: &str,
    timestamp: u64,
) -> String {
    let mut oauth: Vec<(String, String)> = vec![
        ("oauth_consumer_key".into(), credentials.consumer_key.into()),
        ("oauth_nonce".into(), nonce.into()),
        ("oauth_signature_method".into(), "HMAC-SHA1".into()),
        ("oauth_timestamp".into(), timestamp.to_string()),
        ("oauth_version".into(), "1.0".into()),
    ];
    if let Some(token) = credentials.token {
        oauth.push(("oauth_token".into(), token.into()));
    }
    let mut params: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    params.extend(form.iter().cloned());
    params.extend(oauth.iter().cloned());
    let mut encoded: Vec<(String, String)> = params.iter().map(|(k, v)| (encode(k), encode(v))).collect();
    encoded.sort();
    let normalized = encoded.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let mut base_url = url.clone();
    base_url.set_query(None);
    base_url.set_fragment(None);
    let base = format!("{}&{}&{}", method.to_ascii_uppercase(), encode(base_url.as_str()), encode(&normalized));
    let key = format!("{}&{}", encode(credentials.consumer_secret), encode(credentials.token_secret));
    let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(base.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    oauth.push(("oauth_signature".into(), signature));
    let fields: Vec<String> = oauth.iter().map(|(k, v)| format!(r#"{}="{}""#, encode(k), encode(v))).collect();
    format!("OAuth {}", fields.join(", "))
}

/// RFC 3986 unreserved characters stay; everything else is percent-encoded.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_the_rfc_5849_example() {
        // RFC 5849 section 1.2 (the "photos" request), whose signature is
        // given there as tR3+Ty81lMeYAr/Fid0kMTYa/WM=.
        let credentials = Credentials {
            consumer_key: "dpf43f3p2l4k3l03",
            consumer_secret: "kd94hf93k423kf44",
            token: Some("nnch734d00sl2jdk"),
            token_secret: "pfkkdhi9sl3r4s00",
        };
        let url = Url::parse("http://photos.example.net/photos?file=vacation.jpg&size=original").unwrap();
        let header = authorization(&credentials, "GET", &url, &[], "kllo9940pd9333jh", 1191242096);
        assert!(header.contains(r#"oauth_signature="tR3%2BTy81lMeYAr%2FFid0kMTYa%2FWM%3D""#), "{header}");
    }
}
