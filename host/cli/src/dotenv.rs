//! `.env` files, read as the reference CLI reads them: `authData_<key>=value`
//! lines become authData, every other line the integration's environment.

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
        if written.insert(key.as_str()) {
            out.push_str(&auth_line(key, value));
            out.push('\n');
        }
    }
    out
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
}
