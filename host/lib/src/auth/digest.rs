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

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;
    use crate::fuzzing;

    /// A challenge's parameters, for the mutations.
    const TOKENS: &[&str] = &[
        "Digest ",
        "digest ",
        "Basic realm=\"x\", ",
        "realm=",
        "nonce=",
        "opaque=",
        "qop=",
        "algorithm=",
        "\"auth\"",
        "\"auth,auth-int\"",
        "MD5",
        "SHA-256",
        "stale=true",
        ", ",
        "\\\"",
    ];

    /// The value of `key` among `params`.
    fn param<'p>(params: &'p [(String, String)], key: &str) -> Option<&'p str> {
        params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// `WWW-Authenticate` values a server sends: parsing never panics, and
    /// the answer to a challenge gives the server back its own realm,
    /// nonce and opaque, quoted so they read the same.
    #[test]
    fn digest_challenges_parse_and_are_answered() {
        fuzzing::fuzz_text("digest", TOKENS, |header| {
            let _ = parse_params(header);
            let Some(challenge) = Challenge::parse(header) else { return Ok(()) };
            let answer =
                challenge.authorization("Mufasa", "Circle \"Of\" Life", "GET", "/dir/index.html?a=1", "0a4f113b");
            let params = parse_params(answer.strip_prefix("Digest ").unwrap_or_default());
            prop_assert_eq!(param(&params, "username"), Some("Mufasa"));
            prop_assert_eq!(param(&params, "realm"), Some(challenge.realm.as_str()));
            prop_assert_eq!(param(&params, "nonce"), Some(challenge.nonce.as_str()));
            prop_assert_eq!(param(&params, "opaque"), challenge.opaque.as_deref());
            prop_assert_eq!(param(&params, "qop"), challenge.qop_auth.then_some("auth"));
            Ok(())
        });
    }

    /// A challenge whose values a server quoted as RFC 7616 says is read
    /// back with those values, whatever they hold.
    #[test]
    fn digest_challenges_read_back_quoted_values() {
        let quoted = |value: &str| format!("\"{}\"", quote(value));
        let strategy = (any::<String>(), any::<String>(), proptest::option::of(any::<String>()), any::<bool>());
        fuzzing::run("digest_quoted", Vec::new(), strategy, |(realm, nonce, opaque, qop)| {
            let mut header = format!("Digest realm={}, nonce={}", quoted(realm), quoted(nonce));
            if let Some(opaque) = opaque {
                header.push_str(&format!(", opaque={}", quoted(opaque)));
            }
            if *qop {
                header.push_str(", qop=\"auth,auth-int\"");
            }
            let expected =
                Challenge { realm: realm.clone(), nonce: nonce.clone(), opaque: opaque.clone(), qop_auth: *qop };
            prop_assert_eq!(Challenge::parse(&header), Some(expected));
            Ok(())
        });
    }
}
