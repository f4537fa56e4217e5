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
    for quote in ['"', '\''] {
        if value.len() >= 2 && value.starts_with(quote) && value.ends_with(quote) {
            let inner = &value[1..value.len() - 1];
            return if quote == '"' { inner.replace("\\n", "\n").replace("\\\"", "\"") } else { inner.to_string() };
        }
    }
    // An unquoted value ends at a comment.
    value.split(" #").next().unwrap_or_default().trim().to_string()
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
}
