//! `.env` files, read as the reference CLI reads them: `authData_<key>=value`
//! lines become authData, every other line the integration's environment.

use std::io::Write as _;
use std::path::Path;

use serde_json::{Map, Value};

/// What a `.env` file holds.
#[derive(Debug, Default, PartialEq)]
pub struct DotEnv {
    pub auth_data: Map<String, Value>,
    pub env: Vec<(String, String)>,
}

/// Parse `.env` text: `KEY=value` lines, `#` comments, an optional
/// `export ` prefix, values optionally in single or double quotes.
pub fn parse(text: &str) -> Result<DotEnv, String> {
    let mut out = DotEnv::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: expected KEY=value, got {line:?}", n + 1));
        };
        let key = key.trim();
        let value = unquote(value.trim());
        match key.strip_prefix("authData_") {
            Some(auth_key) => {
                out.auth_data.insert(auth_key.to_string(), Value::String(value));
            }
            None => out.env.push((key.to_string(), value)),
        }
    }
    Ok(out)
}

fn unquote(value: &str) -> String {
    if value.len() >= 2 && value.starts_with('\'') && value.ends_with('\'') {
        return value[1..value.len() - 1].to_string();
    }
    if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
        let mut out = String::with_capacity(value.len());
        let mut chars = value[1..value.len() - 1].chars();
        while let Some(c) = chars.next() {
            match (c, chars.clone().next()) {
                ('\\', Some('n')) => out.push('\n'),
                ('\\', Some(escaped @ ('"' | '\\'))) => out.push(escaped),
                _ => {
                    out.push(c);
                    continue;
                }
            }
            chars.next();
        }
        return out;
    }
    // An unquoted value ends at a comment.
    value.split(" #").next().unwrap_or_default().trim().to_string()
}

/// `text` (a `.env` file, possibly empty) with these authData fields set:
/// each `authData_<key>` line already there gets its new value in place,
/// the others are appended. Every other line, comments included, is kept.
/// A field whose key cannot be written as such a line is left out (see
/// `writable_key`).
pub fn with_auth_data(text: &str, auth_data: &Map<String, Value>) -> String {
    let mut written = std::collections::HashSet::new();
    let mut out = String::with_capacity(text.len() + 64 * auth_data.len());
    for line in text.lines() {
        let bare = line.trim().strip_prefix("export ").unwrap_or(line.trim());
        let key = bare.split_once('=').and_then(|(key, _)| key.trim().strip_prefix("authData_"));
        match key.and_then(|key| auth_data.get_key_value(key)) {
            Some((key, value)) if written.insert(key.as_str()) => out.push_str(&auth_line(key, value)),
            Some(_) => continue,
            None => out.push_str(line),
        }
        out.push('\n');
    }
    for (key, value) in auth_data {
        if writable_key(key) && written.insert(key.as_str()) {
            out.push_str(&auth_line(key, value));
            out.push('\n');
        }
    }
    out
}

/// Writes these authData fields into the `.env` file at `path`
/// ([`with_auth_data`]: its other lines and comments kept), atomically
/// (a new file beside it, renamed over it: a reader sees the old file or
/// the new one, never half of either) and readable by the user only
/// (mode 0600 on unix). A missing file is created.
pub fn write_auth_data(path: &Path, auth_data: &Map<String, Value>) -> std::io::Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new().prefix(".env.zapwasm-").tempfile_in(dir)?;
    temp.write_all(with_auth_data(&text, auth_data).as_bytes())?;
    temp.as_file().sync_all()?;
    temp.persist(path).map(drop).map_err(|e| e.error)
}

/// Whether `authData_<key>=...` reads back as this key: not when the key
/// holds a line break (the rest would be a line of its own: found by
/// fuzzing, a key `"x\nCRM_BASE_URL"` from an integration wrote an
/// environment variable, and `"\n"` a line that made the file unreadable)
/// or `=` (the first one ends the key), nor when it ends in whitespace
/// (trimmed when read). The keys come from the integration.
fn writable_key(key: &str) -> bool {
    !key.contains(['\n', '=']) && key.trim_end() == key
}

/// `authData_<key>=<value>`, quoted when the value needs it. Strings are
/// written as they are, other JSON values as JSON text.
fn auth_line(key: &str, value: &Value) -> String {
    let text = match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let plain = !text.is_empty()
        && text.chars().all(|c| !c.is_whitespace() && !matches!(c, '"' | '\'' | '#' | '\\') && !c.is_control());
    if plain {
        format!("authData_{key}={text}")
    } else {
        let escaped = text.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
        format!("authData_{key}=\"{escaped}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_auth_data_from_environment() {
        let env =
            parse("# comment\nauthData_api_key=abc\nexport CRM_BASE_URL=\"http://x\"\nA='b c' \nB=1 # note\n").unwrap();
        assert_eq!(env.auth_data.get("api_key"), Some(&Value::String("abc".into())));
        assert_eq!(
            env.env,
            [("CRM_BASE_URL".into(), "http://x".into()), ("A".into(), "b c".into()), ("B".into(), "1".into())]
        );
        assert!(parse("nonsense").is_err());
    }

    #[test]
    fn auth_data_is_written_in_place_and_reads_back_the_same() {
        let text = "# keep me\nauthData_token=old\nCRM_BASE_URL=http://x\n";
        let fields = serde_json::json!({
            "token": "new",
            "name": "Ada Lovelace",
            "tricky": "a \"quoted\" \\n back\\slash # not a comment\nline two",
            "count": 3,
        });
        let written = with_auth_data(text, fields.as_object().unwrap());
        assert!(written.starts_with("# keep me\nauthData_token=new\nCRM_BASE_URL=http://x\n"), "{written}");
        let read = parse(&written).unwrap();
        assert_eq!(read.auth_data.get("token"), Some(&Value::String("new".into())));
        assert_eq!(read.auth_data.get("name"), Some(&Value::String("Ada Lovelace".into())));
        assert_eq!(read.auth_data.get("tricky"), fields.get("tricky"));
        assert_eq!(read.auth_data.get("count"), Some(&Value::String("3".into())));
        assert_eq!(read.env, [("CRM_BASE_URL".to_string(), "http://x".to_string())]);
        assert_eq!(with_auth_data(&written, fields.as_object().unwrap()), written);
    }

    /// Found by fuzzing (`fuzz::auth_data_from_an_integration_reads_back_as_written`):
    /// keys an integration returns were written as they were, so a line
    /// break in one added a line of the integration's choosing.
    #[test]
    fn auth_data_keys_cannot_add_lines() {
        let text = "CRM_BASE_URL=http://127.0.0.1:8787\n";
        let fields = serde_json::json!({
            "\n": "",
            "x\nCRM_BASE_URL": "http://evil.example",
            "a=b": "c",
            "trailing ": "d",
            " leading": "e",
        });
        let written = with_auth_data(text, fields.as_object().unwrap());
        assert_eq!(written, "CRM_BASE_URL=http://127.0.0.1:8787\nauthData_ leading=e\n");
        let read = parse(&written).unwrap();
        assert_eq!(read.env, [("CRM_BASE_URL".to_string(), "http://127.0.0.1:8787".to_string())]);
        assert_eq!(read.auth_data.get(" leading"), Some(&Value::String("e".into())));
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;
    use proptest::sample::select;

    use super::*;
    use crate::fuzzing;

    /// What `.env` files are made of, for the mutations.
    const TOKENS: &[&str] =
        &["authData_", "export ", "=", "#", " #", "'", "\"", "\\n", "\\\"", "\\\\", "\n", "\r\n", "KEY=value\n"];

    /// The text a field of authData is read back as: strings as they are,
    /// other values as JSON.
    fn text_of(value: &Value) -> Value {
        match value {
            Value::String(text) => Value::String(text.clone()),
            other => Value::String(other.to_string()),
        }
    }

    /// `.env` files a user writes (and `auth start` rewrites): parsing
    /// never panics, and a file that parses takes new authData fields that
    /// read back as written, its environment untouched, and reads the same
    /// when written twice.
    #[test]
    fn dotenv_files_parse_and_take_auth_data() {
        let fields = serde_json::json!({
            "token": "new",
            "name": "Ada Lovelace",
            "tricky": "a \"q\" \\n # x\nline two\r\t",
            "count": 3,
            "empty": "",
            "list": [1, "a"],
        });
        let fields = fields.as_object().cloned().unwrap_or_default();
        fuzzing::fuzz_text("dotenv", TOKENS, |text| {
            let Ok(before) = parse(text) else { return Ok(()) };
            let written = with_auth_data(text, &fields);
            let after = parse(&written).map_err(TestCaseError::fail)?;
            for (key, value) in &fields {
                prop_assert_eq!(after.auth_data.get(key), Some(&text_of(value)));
            }
            prop_assert_eq!(&after.env, &before.env);
            // Written again, the file reads the same. (Its text may not be:
            // `str::lines` takes one `\r` before each `\n` as part of the
            // line ending, so a line ending in `\r\r\n` loses a `\r`.)
            let again = with_auth_data(&written, &fields);
            prop_assert_eq!(parse(&again).map_err(TestCaseError::fail)?, after);
            Ok(())
        });
    }

    /// Whatever authData an integration returns (the keys and values are
    /// its own), writing it to a `.env` file adds no environment variable
    /// and no other field, and every field reads back as written.
    #[test]
    fn auth_data_from_an_integration_reads_back_as_written() {
        let seeds = fuzzing::corpus("dotenv");
        let key = prop_oneof![3 => "[a-z_]{1,12}", 2 => any::<String>(), 1 => select(TOKENS).prop_map(str::to_string)];
        let value = prop_oneof![
            any::<String>().prop_map(Value::String),
            any::<i64>().prop_map(Value::from),
            any::<bool>().prop_map(Value::Bool),
            Just(Value::Null),
        ];
        let fields = proptest::collection::vec((key, value), 0..6);
        fuzzing::run("dotenv_auth_data", Vec::new(), (select(seeds), fields), |(file, fields)| {
            let text = file.text();
            let fields: Map<String, Value> = fields.iter().cloned().collect();
            let before = parse(&text).map_err(TestCaseError::fail)?;
            let written = with_auth_data(&text, &fields);
            let after = parse(&written).map_err(|e| TestCaseError::fail(format!("{e} in {written:?}")))?;
            prop_assert_eq!(&after.env, &before.env, "in {:?}", written);
            for key in after.auth_data.keys() {
                prop_assert!(fields.contains_key(key) || before.auth_data.contains_key(key), "{key:?} in {written:?}");
            }
            for (key, value) in fields.iter().filter(|(key, _)| writable_key(key)) {
                prop_assert_eq!(after.auth_data.get(key), Some(&text_of(value)), "{:?} in {:?}", key, written);
            }
            Ok(())
        });
    }
}
