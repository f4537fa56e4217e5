//! Secrets censored out of every text the host emits.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use base64::Engine as _;
use zapwasm_rules::param_encoding;

use crate::record::{HttpExchange, LogLine};

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

/// `base64(username:password)`, what basic auth sends (RFC 7617).
pub(crate) fn basic_credentials(username: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
}

/// The WHATWG URL percent-encode sets (as the `url` crate applies them to
/// a URL's fragment, path, query and userinfo): a secret written raw into a
/// guest's URL reaches the record encoded by one of these.
const URL_FRAGMENT: &percent_encoding::AsciiSet =
    &percent_encoding::CONTROLS.add(b' ').add(b'"').add(b'<').add(b'>').add(b'`');
const URL_PATH: &percent_encoding::AsciiSet = &URL_FRAGMENT.add(b'#').add(b'?').add(b'{').add(b'}');
const URL_QUERY: &percent_encoding::AsciiSet =
    &percent_encoding::CONTROLS.add(b' ').add(b'"').add(b'#').add(b'<').add(b'>');
const URL_SPECIAL_QUERY: &percent_encoding::AsciiSet = &URL_QUERY.add(b'\'');
const URL_USERINFO: &percent_encoding::AsciiSet =
    &URL_PATH.add(b'/').add(b':').add(b';').add(b'=').add(b'@').add(b'[').add(b'\\').add(b']').add(b'^').add(b'|');
const URL_PATH_SEGMENT: &percent_encoding::AsciiSet = &URL_PATH.add(b'/').add(b'%').add(b'\\');

/// The replacement for a secret.
pub(crate) const CENSORED: &str = ":censored:";

/// The encodings of `secret` the host censors besides the secret itself.
fn encoded_forms(secret: &str) -> Vec<String> {
    // encodeURIComponent is how the host encodes params.
    let mut forms = vec![param_encoding::encode(secret, "")];
    forms.extend(
        [
            UNRESERVED,
            percent_encoding::NON_ALPHANUMERIC,
            URL_FRAGMENT,
            URL_PATH,
            URL_PATH_SEGMENT,
            URL_QUERY,
            URL_SPECIAL_QUERY,
            URL_USERINFO,
        ]
        .iter()
        .map(|set| percent_encoding::utf8_percent_encode(secret, set).to_string()),
    );
    forms.push(url::form_urlencoded::byte_serialize(secret.as_bytes()).collect());
    // Percent-encoding's hex digits are case-insensitive (RFC 3986 2.1):
    // encoders that write them lower-case (`%2f`) send the same secret.
    let lower: Vec<String> = forms.iter().filter(|f| f.contains('%')).map(|f| lower_hex(f)).collect();
    forms.extend(lower);
    let json = json_escaped(secret);
    // As other JSON encoders escape it: PHP's json_encode writes `/` as
    // `\/`; Go's encoding/json (and Rails' to_json) `&`, `<`, `>`, U+2028
    // and U+2029 as `\u0026`, `\u003c`, `\u003e`, `\u2028`, `\u2029`;
    // .NET's System.Text.Json its own set ([`dotnet_escaped`]).
    let mut json_forms = vec![json.replace('/', "\\/"), go_escaped(&json), dotnet_escaped(secret)];
    // PHP's json_encode also writes every non-ASCII character as `\uXXXX`
    // (with `\/`, and without it under JSON_UNESCAPED_SLASHES, as Python's
    // json.dumps writes it by default). Only a secret with such characters
    // has these forms: an ASCII one adds no patterns.
    if let Some(ascii) = unicode_escaped(&json) {
        json_forms.push(ascii.replace('/', "\\/"));
        json_forms.push(ascii);
    }
    json_forms.push(json);
    // JSON quoting JSON (a response error's message quotes the response's
    // content) escapes each once more.
    forms.extend(json_forms.iter().map(|form| json_escaped(form)));
    forms.extend(json_forms);
    // Base64 as headers and tokens carry it: standard and URL-safe (JWTs,
    // signed URLs), padded and not; of the secret and of `secret:` (an API
    // key sent as basic credentials).
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    for text in [secret.to_string(), format!("{secret}:")] {
        forms.extend([&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD].map(|engine| engine.encode(&text)));
    }
    forms
}

/// `text` with the hex digits of its percent-escapes lower-cased.
fn lower_hex(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut escape = 0;
    for c in text.chars() {
        if c == '%' {
            escape = 2;
            out.push(c);
        } else if escape > 0 {
            escape -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `json` (a JSON string's content) with every non-ASCII character
/// written as `\uXXXX` in lower-case hex, one above U+FFFF as its UTF-16
/// surrogate pair (`\ud83d\udd11`); `None` when it is all ASCII.
fn unicode_escaped(json: &str) -> Option<String> {
    use std::fmt::Write as _;
    if json.is_ascii() {
        return None;
    }
    let mut out = String::with_capacity(json.len() * 2);
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
            continue;
        }
        for unit in c.encode_utf16(&mut [0; 2]) {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\u{unit:04x}");
        }
    }
    Some(out)
}

/// `json` (a JSON string's content) as Go's encoding/json writes it:
/// `&`, `<`, `>`, U+2028 and U+2029 as `\u` escapes in lower-case hex.
fn go_escaped(json: &str) -> String {
    json.replace('&', "\\u0026")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// `text` as a JSON string's content from .NET's System.Text.Json with its
/// default encoder (`JavaScriptEncoder.Default`): `\\`, `\b`, `\f`, `\n`,
/// `\r`, `\t` as JSON writes them; every other control character, the
/// characters it treats as HTML-sensitive (`"`, `&`, `'`, `+`, `<`, `>`,
/// `` ` ``), DEL and every non-ASCII character (a character above U+FFFF
/// as its UTF-16 surrogate pair) as `\uXXXX` in upper-case hex. An API
/// written in C# echoes a base64 secret's `+` as `\u002B`.
fn dotnet_escaped(text: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ' '..='~' if !matches!(c, '"' | '&' | '\'' | '+' | '<' | '>' | '`') => out.push(c),
            _ => {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    // Writing to a String cannot fail.
                    let _ = write!(out, "\\u{unit:04X}");
                }
            }
        }
    }
    out
}

/// `text` as a JSON string holds it, without the quotes.
fn json_escaped(text: &str) -> String {
    let quoted = serde_json::to_string(text).unwrap_or_default();
    quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or_default().to_string()
}

/// Every text the host censors for these authData values (strings and
/// numbers at any depth, but under the safe keys) and secret environment
/// values: each value, what the host derives
/// from them (basic credentials), and each of those as URLs, forms, JSON
/// and base64 encode it; texts shorter than 3 characters are left out.
/// For tools that must censor as the host does (`zapwasm test`'s
/// recordings and diffs).
pub fn censored_texts<'a>(
    auth_data: impl IntoIterator<Item = (&'a String, &'a serde_json::Value)>,
    env_secrets: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let mut texts = Censor::secrets(auth_data, env_secrets);
    let encoded: Vec<String> = texts.iter().flat_map(|s| encoded_forms(s)).collect();
    texts.extend(encoded);
    texts.sort();
    texts.dedup();
    texts.retain(|s| s.len() >= MIN_SECRET_LEN);
    texts
}

/// Whether an authData key names a value that is not secret
/// ([`SAFE_AUTH_KEYS`], in any case).
fn is_safe_key(key: &str) -> bool {
    SAFE_AUTH_KEYS.iter().any(|safe| safe.eq_ignore_ascii_case(key))
}

/// The values of authData that are secret: every string and number (as
/// its JSON text), at any depth of objects and arrays, but those under a
/// safe key.
///
/// A value is judged by the key it sits directly under (an array's items
/// by the array's key), at any depth: an account's name is no more secret
/// nested (`{"user": {"email": ...}}`) than at the top, while a container
/// under a safe key may hold anything (`{"account": {"api_token": ...}}`),
/// so its own keys decide, not the container's.
///
/// The walk keeps its own stack, not the call stack: authData nested
/// however deep (an embedder may build it without a parser's depth limit)
/// is read in one step per value and cannot overflow the thread's stack.
fn auth_values(auth_data: &[(&String, &serde_json::Value)]) -> Vec<String> {
    use serde_json::Value;
    let mut values = Vec::new();
    let mut pending: Vec<(&str, &Value)> = auth_data.iter().map(|(key, value)| (key.as_str(), *value)).collect();
    while let Some((key, value)) = pending.pop() {
        match value {
            Value::String(s) if !is_safe_key(key) => values.push(s.clone()),
            Value::Number(n) if !is_safe_key(key) => values.push(n.to_string()),
            Value::Array(items) => pending.extend(items.iter().map(|item| (key, item))),
            Value::Object(fields) => pending.extend(fields.iter().map(|(key, value)| (key.as_str(), value))),
            _ => {}
        }
    }
    values
}

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

    /// The values to censor among these authData values (nested ones too,
    /// [`auth_values`]) and secret environment values, with what the host
    /// derives from them, in a stable order (equal lists make equal
    /// censors).
    pub(crate) fn secrets<'a>(
        auth_data: impl IntoIterator<Item = (&'a String, &'a serde_json::Value)>,
        env_secrets: impl IntoIterator<Item = &'a str>,
    ) -> Vec<String> {
        let auth_data: Vec<(&String, &serde_json::Value)> = auth_data.into_iter().collect();
        let field = |name: &str| auth_data.iter().find(|(k, _)| k.as_str() == name).and_then(|(_, v)| v.as_str());
        let mut secrets: Vec<String> = auth_values(&auth_data)
            .into_iter()
            .chain(env_secrets.into_iter().map(str::to_string))
            // Header values go out trimmed: a value pasted with whitespace
            // around it is sent, and echoed back, without it.
            .flat_map(|s| [s.trim().to_string(), s])
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .collect();
        // What the host derives itself: basic auth's credentials (the
        // username is not secret, the pair is).
        if let Some(password) = field("password").filter(|p| !p.is_empty()) {
            secrets.push(basic_credentials(field("username").unwrap_or_default(), password));
        }
        secrets.sort();
        secrets.dedup();
        secrets
    }

    /// A censor for `secrets` (from [`Censor::secrets`]) and their encodings.
    pub(crate) fn for_secrets(mut secrets: Vec<String>) -> Censor {
        // Secrets also show up percent-encoded in URLs (as encodeURIComponent,
        // RFC 3986 and form encoding write them, and as the URL parser
        // encodes what is written raw into each part of a URL), escaped in
        // JSON, and in base64 the way API keys are sent as basic credentials
        // (`key:`).
        let encoded: Vec<String> = secrets.iter().flat_map(|s| encoded_forms(s)).collect();
        secrets.extend(encoded);
        secrets.sort();
        secrets.dedup();
        // A form shorter than a secret may be (an encoding of nothing
        // special) would blank out ordinary text.
        secrets.retain(|s| s.len() >= MIN_SECRET_LEN);
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

    /// Censors again what a call kept: for secrets that arrived or were
    /// derived during the call (the authData a session exchange or an
    /// OAuth refresh returned, credentials put in a URL), after its log
    /// lines and exchanges were censored with what was known when each was
    /// written.
    pub(crate) fn apply_to_records(&self, logs: &mut [LogLine], http: &mut [HttpExchange]) {
        if self.matcher.is_none() {
            return;
        }
        let again = |text: &mut String| *text = self.apply(text);
        for line in logs {
            again(&mut line.message);
        }
        for exchange in http {
            again(&mut exchange.url);
            for (name, value) in exchange.request_headers.iter_mut().chain(exchange.response_headers.iter_mut()) {
                again(name);
                again(value);
            }
            for text in
                [&mut exchange.request_body, &mut exchange.response_body, &mut exchange.error].into_iter().flatten()
            {
                again(text);
            }
        }
    }

    /// Where `text` is cut to keep about `at` bytes of it: at `at`, or
    /// past the end of a secret that runs across `at` (the censor finds no
    /// part of a secret, so a cut one would be kept in part).
    pub(crate) fn cut_at(&self, text: &[u8], at: usize) -> usize {
        let Some(matcher) = &self.matcher else { return at };
        // Only a secret starting less than its length before `at` can run
        // across it.
        let longest = matcher.max_pattern_len();
        let at = at.min(text.len());
        let from = at.saturating_sub(longest);
        let window = &text[from..text.len().min(at + longest)];
        matcher
            .find_iter(window)
            .map(|found| (from + found.start(), from + found.end()))
            .find(|(start, end)| *start < at && *end > at)
            .map_or(at, |(_, end)| end)
    }

    /// Whether a text holds a secret.
    pub(crate) fn finds(&self, text: &str) -> bool {
        self.matcher.as_ref().is_some_and(|matcher| matcher.is_match(text))
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
    use crate::record::{Level, Source};
    use serde_json::json;

    #[test]
    fn records_kept_before_a_secret_arrived_are_censored_again() {
        let censor = Censor::new(json!({"sessionKey": "session-2", "username": "ada"}).as_object().unwrap(), []);
        let mut logs = vec![LogLine { level: Level::Info, source: Source::Console, message: "got session-2".into() }];
        let mut http = vec![HttpExchange {
            method: "POST".into(),
            url: "https://api.test/session?next=session-2".into(),
            request_headers: vec![("x-user".into(), "ada".into())],
            request_body: None,
            status: Some(200),
            response_headers: vec![("x-session".into(), "session-2".into())],
            response_body: Some(r#"{"sessionKey":"session-2"}"#.into()),
            error: None,
            dropped_on_redirect: Vec::new(),
            duration: std::time::Duration::ZERO,
        }];
        censor.apply_to_records(&mut logs, &mut http);
        assert_eq!(logs[0].message, "got :censored:");
        assert_eq!(http[0].url, "https://api.test/session?next=:censored:");
        assert_eq!(http[0].request_headers[0].1, "ada", "a safe key is not a secret");
        assert_eq!(http[0].response_headers[0].1, ":censored:");
        assert_eq!(http[0].response_body.as_deref(), Some(r#"{"sessionKey":":censored:"}"#));
    }

    #[test]
    fn lower_case_percent_escapes_and_every_base64_alphabet_are_censored() {
        // Its standard base64 holds a `/` and ends in `==`; URL-safe
        // writes `_` and no padding.
        let secret = "k3y/with?>end";
        let censor = Censor::new(json!({"api_key": secret}).as_object().unwrap(), []);
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        for form in [
            "k3y%2fwith%3f%3eend".to_string(),
            STANDARD.encode(secret),
            URL_SAFE_NO_PAD.encode(secret),
            URL_SAFE_NO_PAD.encode(format!("{secret}:")),
        ] {
            assert_eq!(censor.apply(&format!("a {form} b")), "a :censored: b", "{form}");
        }
        assert_eq!(lower_hex("%2F%3Eab%E2%82%AC"), "%2f%3eab%e2%82%ac", "only the escapes' digits");
    }

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

    #[test]
    fn nested_auth_data_values_are_censored_at_any_depth_but_under_safe_keys() {
        let auth = json!({
            "oauth": {
                "tokens": [{"access_token": "n3sted-access"}, "arr4y-item"],
                "expires_in": 36000,
                "user": "ada-lovelace",
                "email": ["ann@example.test"],
            },
            // A safe key's own value is not secret, what a container under
            // it holds is judged by its own keys.
            "account": {"api_token": "t0ken-under-account"},
            "username": "ann",
        });
        let censor = Censor::new(auth.as_object().unwrap(), []);
        assert_eq!(
            censor.apply("n3sted-access arr4y-item 36000 t0ken-under-account ada-lovelace ann@example.test ann"),
            ":censored: :censored: :censored: :censored: ada-lovelace ann@example.test ann"
        );
        // Their encodings too, as a top-level value's.
        use base64::engine::general_purpose::STANDARD;
        assert_eq!(censor.apply(&STANDARD.encode("n3sted-access:")), ":censored:");
    }

    #[test]
    fn deeply_nested_auth_data_is_walked_without_recursion() {
        // Deeper than a call stack could go one frame a level.
        // Built by hand: `json!` copies a value through its serializer,
        // which recurses.
        use serde_json::Value;
        let mut deep = Value::from("d33p-secret");
        for level in 0..200_000 {
            deep = if level % 2 == 0 {
                Value::Array(vec![deep])
            } else {
                Value::Object([("k".to_string(), deep)].into_iter().collect())
            };
        }
        let auth: serde_json::Map<String, Value> = [("deep".to_string(), deep)].into_iter().collect();
        let censored = Censor::new(&auth, []).apply("a d33p-secret b");
        // Taken apart a level at a time before anything may panic: the
        // value's own drop recurses.
        let mut parts: Vec<Value> = auth.into_iter().map(|(_, value)| value).collect();
        while let Some(part) = parts.pop() {
            match part {
                Value::Array(items) => parts.extend(items),
                Value::Object(fields) => parts.extend(fields.into_iter().map(|(_, value)| value)),
                _ => {}
            }
        }
        assert_eq!(censored, "a :censored: b");
    }

    #[test]
    fn non_ascii_secrets_are_censored_as_php_python_and_dotnet_escape_them() {
        // PHP's json_encode writes non-ASCII as `\uXXXX` in lower-case hex
        // (a character above U+FFFF as its UTF-16 surrogate pair) and `/` as
        // `\/`; Python's json.dumps the same without `\/`; .NET's
        // System.Text.Json in upper-case hex.
        let secret = "pässwörd/🔑-1";
        let censor = Censor::new(json!({"password": secret}).as_object().unwrap(), []);
        let php = r"p\u00e4ssw\u00f6rd\/\ud83d\udd11-1";
        let python = r"p\u00e4ssw\u00f6rd/\ud83d\udd11-1";
        let dotnet = r"p\u00E4ssw\u00F6rd/\uD83D\uDD11-1";
        for form in [php, python, dotnet].into_iter().flat_map(|form| [form.to_string(), form.replace('\\', r"\\")]) {
            assert_eq!(
                censor.apply(&format!(r#"{{"error":"bad {form}"}}"#)),
                r#"{"error":"bad :censored:"}"#,
                "{form}"
            );
        }
        // An ASCII secret has no such form: it adds no patterns.
        assert_eq!(unicode_escaped(&json_escaped("k3y/with?>end")), None);
        assert_eq!(unicode_escaped("é𝄞").as_deref(), Some(r"\u00e9\ud834\udd1e"));
    }

    #[test]
    fn ascii_secrets_are_censored_as_go_and_dotnet_escape_them() {
        // A base64 key with `+` and `/`, and the characters Go and .NET
        // escape as HTML-sensitive.
        let secret = "Ab+/9<x>&'q`\"z\\";
        let censor = Censor::new(json!({"api_key": secret}).as_object().unwrap(), []);
        let go = r#"Ab+/9\u003cx\u003e\u0026'q`\"z\\"#;
        let dotnet = r"Ab\u002B/9\u003Cx\u003E\u0026\u0027q\u0060\u0022z\\";
        for form in [go, dotnet].into_iter().flat_map(|form| [form.to_string(), json_escaped(form)]) {
            assert_eq!(censor.apply(&format!("[{form}]")), "[:censored:]", "{form}");
        }
        // Controls as JSON writes them, DEL and U+2028 as escapes.
        assert_eq!(dotnet_escaped("a\n\u{1}\u{7f}\u{2028}🔑"), r"a\n\u0001\u007F\u2028\uD83D\uDD11");
        assert_eq!(go_escaped("a\u{2028}b\u{2029}<"), r"a\u2028b\u2029\u003c");
    }
}
