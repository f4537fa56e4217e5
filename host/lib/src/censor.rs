//! Secrets censored out of every text the host emits.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use zapwasm_rules::param_encoding;

/// authData keys whose values are not secret: they name the account rather
/// than unlock it, and censoring them would make logs unreadable.
const SAFE_AUTH_KEYS: &[&str] =
    &["username", "email", "user", "subdomain", "domain", "region", "account", "account_id"];

/// Values shorter than this are not censored: a 1-2 character "secret"
/// would blank out ordinary text everywhere.
const MIN_SECRET_LEN: usize = 3;

/// RFC 3986 unreserved characters.
const UNRESERVED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// The replacement for a secret.
pub(crate) const CENSORED: &str = ":censored:";

/// Replaces every known secret in a text with `:censored:`, in one pass
/// over the text whatever the number of secrets (an Aho-Corasick automaton
/// built once per call).
#[derive(Debug, Default)]
pub(crate) struct Censor {
    /// `None` when there is nothing to censor.
    matcher: Option<AhoCorasick>,
}

impl Censor {
    /// A censor for these authData values and secret environment values.
    #[cfg(test)]
    pub(crate) fn new<'a>(
        auth_data: impl IntoIterator<Item = (&'a String, &'a serde_json::Value)>,
        env_secrets: impl IntoIterator<Item = &'a str>,
    ) -> Censor {
        Censor::for_secrets(Censor::secrets(auth_data, env_secrets))
    }

    /// The values to censor among these authData values and secret
    /// environment values, in a stable order (equal lists make equal censors).
    pub(crate) fn secrets<'a>(
        auth_data: impl IntoIterator<Item = (&'a String, &'a serde_json::Value)>,
        env_secrets: impl IntoIterator<Item = &'a str>,
    ) -> Vec<String> {
        let mut secrets: Vec<String> = auth_data
            .into_iter()
            .filter(|(key, _)| !SAFE_AUTH_KEYS.contains(&key.to_ascii_lowercase().as_str()))
            .filter_map(|(_, value)| match value {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .chain(env_secrets.into_iter().map(str::to_string))
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .collect();
        secrets.sort();
        secrets.dedup();
        secrets
    }

    /// A censor for `secrets` (from [`Censor::secrets`]) and their encodings.
    pub(crate) fn for_secrets(mut secrets: Vec<String>) -> Censor {
        // Secrets also show up percent-encoded in URLs (as encodeURIComponent,
        // RFC 3986 and form encoding write them) and escaped in JSON.
        let encoded: Vec<String> = secrets
            .iter()
            .flat_map(|s| {
                let json = serde_json::to_string(s).unwrap_or_default();
                // encodeURIComponent is how the host encodes params.
                let mut forms = vec![param_encoding::encode(s, "")];
                forms.extend(
                    [UNRESERVED, percent_encoding::NON_ALPHANUMERIC]
                        .iter()
                        .map(|set| percent_encoding::utf8_percent_encode(s, set).to_string()),
                );
                forms.push(url::form_urlencoded::byte_serialize(s.as_bytes()).collect());
                forms.push(json.trim_matches('"').to_string());
                forms
            })
            .collect();
        secrets.extend(encoded);
        secrets.sort();
        secrets.dedup();
        if secrets.is_empty() {
            return Censor::default();
        }
        // Leftmost-longest: a secret containing another is replaced whole.
        // The automaton serves one account's calls (an app keeps the last one
        // built) and scans a few hundred lines a call: the noncontiguous NFA
        // builds several times faster than a DFA, and the build, not the
        // scan, is what a call of a new account pays for.
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::NoncontiguousNFA))
            .build(&secrets)
            .ok();
        Censor { matcher }
    }

    /// The text with every secret replaced.
    pub(crate) fn apply(&self, text: &str) -> String {
        match &self.matcher {
            Some(matcher) => {
                let mut out = String::with_capacity(text.len());
                matcher.replace_all_with(text, &mut out, |_, _, out| {
                    out.push_str(CENSORED);
                    true
                });
                out
            }
            None => text.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn censors_values_and_their_encodings_but_not_safe_keys() {
        let auth = json!({"api_key": "s3cr3t/key-1 x", "username": "ann", "n": 12345});
        let censor = Censor::new(auth.as_object().unwrap(), ["envsecret"]);
        assert_eq!(
            censor.apply(
                "k=s3cr3t%2Fkey-1%20x f=s3cr3t%2Fkey-1+x a=s3cr3t%2Fkey%2D1%20x u=ann s3cr3t/key-1 x 12345 envsecret"
            ),
            "k=:censored: f=:censored: a=:censored: u=ann :censored: :censored: :censored:"
        );
    }
}
