//! HTTP Digest authentication (RFC 7616) with MD5 and `qop=auth`: the host
//! answers the server's challenge and sends the request again.

use md5::{Digest as _, Md5};

/// A parsed `WWW-Authenticate: Digest ...` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    realm: String,
    nonce: String,
    opaque: Option<String>,
    /// Whether the server offered `qop=auth`; without it the RFC 2069 form is used.
    qop_auth: bool,
}

impl Challenge {
    /// Parse the header's value; `None` when it is not a Digest challenge we can answer.
    pub(crate) fn parse(header: &str) -> Option<Challenge> {
        let rest = header.trim().strip_prefix("Digest").or_else(|| header.trim().strip_prefix("digest"))?;
        let params = parse_params(rest);
        let get = |k: &str| params.iter().find(|(key, _)| key.eq_ignore_ascii_case(k)).map(|(_, v)| v.clone());
        let algorithm = get("algorithm").unwrap_or_else(|| "MD5".into());
        if !algorithm.eq_ignore_ascii_case("MD5") {
            return None;
        }
        let qop = get("qop");
        if qop.as_ref().is_some_and(|q| !q.split(',').any(|v| v.trim().eq_ignore_ascii_case("auth"))) {
            return None;
        }
        Some(Challenge { realm: get("realm")?, nonce: get("nonce")?, opaque: get("opaque"), qop_auth: qop.is_some() })
    }

    /// The `Authorization` header answering this challenge for one request.
    pub(crate) fn authorization(
        &self,
        username: &str,
        password: &str,
        method: &str,
        uri: &str,
        cnonce: &str,
    ) -> String {
        let ha1 = md5_hex(&format!("{username}:{}:{password}", self.realm));
        let ha2 = md5_hex(&format!("{method}:{uri}"));
        let nc = "00000001";
        let response = if self.qop_auth {
            md5_hex(&format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", self.nonce))
        } else {
            md5_hex(&format!("{ha1}:{}:{ha2}", self.nonce))
        };
        let mut header = format!(
            r#"Digest username="{}", realm="{}", nonce="{}", uri="{uri}", algorithm=MD5, response="{response}""#,
            quote(username),
            quote(&self.realm),
            quote(&self.nonce)
        );
        if self.qop_auth {
            header.push_str(&format!(r#", qop=auth, nc={nc}, cnonce="{cnonce}""#));
        }
        if let Some(opaque) = &self.opaque {
            header.push_str(&format!(r#", opaque="{}""#, quote(opaque)));
        }
        header
    }
}

pub(crate) fn md5_hex(text: &str) -> String {
    hex::encode(Md5::digest(text.as_bytes()))
}

fn quote(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

/// `key=value, key="quoted, value"` pairs.
pub(crate) fn parse_params(text: &str) -> Vec<(String, String)> {
    let mut params = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        if key.trim().is_empty() {
            break;
        }
        if chars.next() != Some('=') {
            continue;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ',')).collect::<String>().trim().to_string();
        }
        params.push((key.trim().to_string(), value));
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_the_rfc_2617_example() {
        // RFC 2617 section 3.5.
        let challenge = Challenge::parse(
            r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .unwrap();
        let header = challenge.authorization("Mufasa", "Circle Of Life", "GET", "/dir/index.html", "0a4f113b");
        assert!(header.contains(r#"response="6629fae49393a05397450978507c4ef1""#), "{header}");
        assert!(header.contains(r#"opaque="5ccc069c403ebaf9f0171e9517f40e41""#));
        assert!(Challenge::parse(r#"Basic realm="x""#).is_none());
        assert!(Challenge::parse(r#"Digest realm="x", nonce="n", algorithm=SHA-256"#).is_none());
    }
}
