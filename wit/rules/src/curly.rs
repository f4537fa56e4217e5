//! Curlies: the `{{...}}` spans of a text, which of them are the
//! platform's (`{{bundle.*}}`, `{{process.*}}`), and how a shorthand
//! request's curlies are rendered against the bundle and the environment.
//!
//! The guest SDK renders shorthand requests and the requestTemplate with
//! [`Renderer`], and refuses a plain `z.request` holding a platform curly
//! found by [`CurlyInRequest`]; the host renders a `connectionLabel`
//! template with [`replace`] and its own lookup. Everything else written
//! in braces (an API's own templates) passes untouched.
//! Vectors: `vectors/curly_scan.json`, `vectors/curly_render.json`.

use std::fmt;

use crate::json::{Json, JsonMap, View};

use crate::text::value_text;

/// One `{{...}}` in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Curly<'t> {
    /// The byte offset of its `{{`.
    pub start: usize,
    /// The byte offset just past its `}}`.
    pub end: usize,
    /// The curly as written, braces included.
    pub text: &'t str,
    /// What is between the braces, trimmed.
    pub expression: &'t str,
}

impl Curly<'_> {
    /// Whether it is the platform's: its expression starts with `bundle.`
    /// or `process.`, as the reference platform detects them.
    pub fn is_platform(&self) -> bool {
        self.expression.starts_with("bundle.") || self.expression.starts_with("process.")
    }
}

/// The curlies of a text, in order; see [`scan`].
#[derive(Debug, Clone)]
pub struct Scan<'t> {
    text: &'t str,
    from: usize,
}

impl<'t> Iterator for Scan<'t> {
    type Item = Curly<'t>;

    fn next(&mut self) -> Option<Curly<'t>> {
        let text = self.text;
        let open = self.from + text[self.from..].find("{{")?;
        let Some(close) = text[open + 2..].find("}}").map(|i| open + 2 + i) else {
            self.from = text.len();
            return None;
        };
        self.from = close + 2;
        Some(Curly {
            start: open,
            end: close + 2,
            text: &text[open..close + 2],
            expression: text[open + 2..close].trim(),
        })
    }
}

/// Every `{{...}}` in `text`, in order: each runs from a `{{` to the first
/// `}}` after it, and the next is looked for after that `}}`. A `{{`
/// without a `}}` after it is not a curly.
///
/// ```
/// use zapwasm_rules::curly::scan;
///
/// let found: Vec<&str> = scan("a {{ bundle.inputData.id }} b {{x}} {{open").map(|c| c.expression).collect();
/// assert_eq!(found, ["bundle.inputData.id", "x"]);
/// ```
pub fn scan(text: &str) -> Scan<'_> {
    Scan { text, from: 0 }
}

/// The first platform curly in `text`, as written.
///
/// ```
/// use zapwasm_rules::curly::first_platform_curly;
///
/// assert_eq!(first_platform_curly("Hi {{name}}, {{ bundle.authData.key }}"), Some("{{ bundle.authData.key }}"));
/// assert_eq!(first_platform_curly("Hi {{name}}"), None);
/// ```
pub fn first_platform_curly(text: &str) -> Option<&str> {
    scan(text).find(Curly::is_platform).map(|curly| curly.text)
}

/// A platform curly in a request that is not rendered (a plain
/// `z.request`): the attribute it was found in and the whole string
/// holding it. Its `Display` is the error `z.request` raises, worded as
/// the reference runtime's (`throwForCurlies` in its `prepare-request.js`)
/// in its first and last sentences, so what matches on one matches on the
/// other; the middle sentence, which tells Zapier's customers and
/// JavaScript developers what to do, says it for this runtime.
///
/// ```
/// use serde_json::json;
/// use zapwasm_rules::curly::CurlyInRequest;
///
/// let params = json!({"x": "{{bundle.inputData.id}}"});
/// let found = CurlyInRequest::in_value("params", &params).unwrap();
/// assert_eq!(found.attribute, "params.x");
/// assert!(found.to_string().ends_with(r#"Value in violation: "{{bundle.inputData.id}}" in attribute "params.x"."#));
/// assert_eq!(CurlyInRequest::in_text("url", "https://api.test/{{id}}"), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurlyInRequest {
    /// Where it is, as the reference names it: `url`, `headers.<name>`,
    /// `params.<key>`, `body`, `body.<key>.<index>...`: keys and array
    /// indices joined by `.`.
    pub attribute: String,
    /// The whole string holding the curly.
    pub value: String,
}

impl CurlyInRequest {
    /// The curly in `text`, the attribute `attribute`, if it holds one.
    pub fn in_text(attribute: &str, text: &str) -> Option<CurlyInRequest> {
        first_platform_curly(text).map(|_| CurlyInRequest { attribute: attribute.to_string(), value: text.to_string() })
    }

    /// The first string holding a platform curly inside `value` (object
    /// values in order, array items in order), which is the attribute
    /// `root`; its attribute is `root` followed by the keys and indices
    /// down to it.
    pub fn in_value<J: Json>(root: &str, value: &J) -> Option<CurlyInRequest> {
        let mut path = root.to_string();
        let text = curly_below(value, &mut path)?;
        Some(CurlyInRequest { attribute: path, value: text.to_string() })
    }
}

/// The first string below `value` holding a platform curly; `path` (the
/// attribute of `value`) is left as that string's attribute.
fn curly_below<'v, J: Json>(value: &'v J, path: &mut String) -> Option<&'v str> {
    match value.view() {
        View::String(text) => first_platform_curly(text).map(|_| text),
        View::Array(items) => items.iter().enumerate().find_map(|(i, item)| curly_at(item, path, &i.to_string())),
        View::Object(fields) => fields.entries().find_map(|(key, item)| curly_at(item, path, key)),
        _ => None,
    }
}

/// [`curly_below`] for `item`, the child `segment` of the value at `path`:
/// `path` grows by the segment only when the curly is found there.
fn curly_at<'v, J: Json>(item: &'v J, path: &mut String, segment: &str) -> Option<&'v str> {
    let len = path.len();
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(segment);
    let found = curly_below(item, path);
    if found.is_none() {
        path.truncate(len);
    }
    found
}

impl fmt::Display for CurlyInRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "z.request() no longer supports {{{{bundle.*}}}} or {{{{process.*}}}} as of v17 unless it's used in a \
             shorthand request defined by the integration. Use the values from bundle in your code instead. \
             Value in violation: \"{}\" in attribute \"{}\".",
            self.value, self.attribute
        )
    }
}

impl std::error::Error for CurlyInRequest {}

/// `text` with every curly replaced by what `write` pushes for it onto
/// the output; the text around curlies (and an unclosed `{{`) is kept.
///
/// ```
/// use zapwasm_rules::curly::replace;
///
/// let out = replace("Hi {{ name }}!", |curly, out| {
///     out.push_str(&curly.expression.to_uppercase());
///     Ok::<(), std::convert::Infallible>(())
/// });
/// assert_eq!(out.unwrap(), "Hi NAME!");
/// ```
pub fn replace<E>(text: &str, mut write: impl FnMut(Curly<'_>, &mut String) -> Result<(), E>) -> Result<String, E> {
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    for curly in scan(text) {
        out.push_str(&text[from..curly.start]);
        write(curly, &mut out)?;
        from = curly.end;
    }
    out.push_str(&text[from..]);
    Ok(out)
}

/// Where a string sits in a shorthand request: decides what a curly that
/// names nothing becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The URL: a missing value renders as "".
    Url,
    /// A header value: a missing value renders as "".
    Header,
    /// A param: a missing value keeps the curly's text, which the host
    /// sends empty or drops (`removeMissingValuesFrom.params`; see
    /// [`crate::url_params::is_missing`]).
    Param,
    /// The body: a missing value renders as "".
    Body,
}

/// An object or array was to be written inside a longer string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterpolationError;

impl fmt::Display for InterpolationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cannot reliably interpolate objects or arrays into a string")
    }
}

impl std::error::Error for InterpolationError {}

/// What a curly's expression stands for.
enum Lookup<J> {
    /// Not a `bundle` or `process.env.` expression: left as written.
    Foreign,
    /// Ours, but nothing is there.
    Missing,
    /// The value.
    Found(J),
}

/// Renders curlies against a bundle (as JSON) and an environment:
/// `{{bundle.a.b}}` reads the bundle by keys (array items by index),
/// `{{bundle}}` is the whole bundle, `{{process.env.NAME}}` reads the
/// environment; any other curly is left as written.
///
/// ```
/// use serde_json::json;
/// use zapwasm_rules::curly::{Place, Renderer};
///
/// let bundle = json!({"inputData": {"id": 7, "gone": null}});
/// let env = |name: &str| (name == "CLIENT_ID").then(|| "c-1".to_string());
/// let renderer = Renderer::new(&bundle, &env);
/// assert_eq!(renderer.render("{{bundle.inputData.id}}", Place::Body).unwrap(), json!(7));
/// assert_eq!(renderer.render("/items/{{bundle.inputData.id}}?c={{process.env.CLIENT_ID}}", Place::Url).unwrap(), json!("/items/7?c=c-1"));
/// assert_eq!(renderer.render("{{bundle.inputData.nope}}", Place::Param).unwrap(), json!("{{bundle.inputData.nope}}"));
/// ```
pub struct Renderer<'a, J: Json> {
    bundle: &'a J,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a, J: Json> Renderer<'a, J> {
    /// Curlies looked up in `bundle` (the bundle's JSON) and `env`.
    pub fn new(bundle: &'a J, env: &'a dyn Fn(&str) -> Option<String>) -> Renderer<'a, J> {
        Renderer { bundle, env }
    }

    fn lookup(&self, expression: &str) -> Lookup<J> {
        if let Some(name) = expression.strip_prefix("process.env.") {
            return match (self.env)(name) {
                Some(value) => Lookup::Found(J::string(value)),
                None => Lookup::Missing,
            };
        }
        let path = if expression == "bundle" {
            ""
        } else if let Some(path) = expression.strip_prefix("bundle.") {
            path
        } else {
            return Lookup::Foreign;
        };
        let found =
            path.split('.').filter(|key| !key.is_empty()).try_fold(self.bundle, |value, key| match value.view() {
                View::Object(map) => map.get(key),
                View::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            });
        match found {
            Some(value) => Lookup::Found(value.clone()),
            None => Lookup::Missing,
        }
    }

    /// Renders one string. A curly that is the whole string gives its raw
    /// value (any type); inside a longer string values become text
    /// ([`value_text`]), and an object or array is an error.
    pub fn render(&self, text: &str, place: Place) -> Result<J, InterpolationError> {
        let mut found = scan(text);
        if let (Some(only), None) = (found.next(), found.next())
            && only.start == 0
            && only.end == text.len()
        {
            return Ok(match self.lookup(only.expression) {
                Lookup::Found(value) => value,
                Lookup::Missing if place != Place::Param => J::string(String::new()),
                Lookup::Missing | Lookup::Foreign => J::string(text.to_string()),
            });
        }
        let rendered = replace(text, |curly, out| {
            match self.lookup(curly.expression) {
                Lookup::Found(value) if is_structure(&value) => return Err(InterpolationError),
                Lookup::Found(value) => out.push_str(&value_text(&value)),
                Lookup::Missing if place != Place::Param => {}
                Lookup::Missing | Lookup::Foreign => out.push_str(curly.text),
            }
            Ok(())
        })?;
        Ok(J::string(rendered))
    }

    /// Renders a string that must stay a string (the URL, a header value):
    /// a whole-string curly naming an object or array is an error, any
    /// other value its text.
    pub fn render_text(&self, text: &str, place: Place) -> Result<String, InterpolationError> {
        let value = self.render(text, place)?;
        if is_structure(&value) { Err(InterpolationError) } else { Ok(value_text(&value)) }
    }

    /// Renders every string inside a JSON value (object keys are kept).
    pub fn render_json(&self, value: &J, place: Place) -> Result<J, InterpolationError> {
        Ok(match value.view() {
            View::String(text) => self.render(text, place)?,
            View::Array(items) => {
                J::array(items.iter().map(|item| self.render_json(item, place)).collect::<Result<_, _>>()?)
            }
            View::Object(fields) => J::object(
                fields
                    .entries()
                    .map(|(key, item)| Ok((key.to_string(), self.render_json(item, place)?)))
                    .collect::<Result<J::Map, InterpolationError>>()?,
            ),
            _ => value.clone(),
        })
    }
}

/// Whether `value` is an array or an object, which no text can stand for.
fn is_structure<J: Json>(value: &J) -> bool {
    matches!(value.view(), View::Array(_) | View::Object(_))
}

#[cfg(test)]
mod fuzz {
    use std::convert::Infallible;

    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;
    use crate::fuzzing;

    /// What curly templates are made of, for the mutations.
    const TOKENS: &[&str] = &[
        "bundle",
        "bundle.",
        "process.env.",
        "process.",
        "{{bundle.inputData.id}}",
        "{{ bundle.authData.api_key }}",
        "{{process.env.CLIENT_ID}}",
        "{{bundle}}",
        "{{bundle.inputData.list}}",
        "inputData.",
        "authData.",
        ".0",
        ".99999999999999999999",
        "{{{",
        "}}}",
    ];

    /// Whether the renderer leaves the curly alone (not the bundle's, not
    /// the environment's): as [`Renderer`]'s lookup decides.
    fn is_foreign(curly: &Curly<'_>) -> bool {
        let expression = curly.expression;
        !(expression == "bundle" || expression.starts_with("bundle.") || expression.starts_with("process.env."))
    }

    /// Templates from the guest SDK's requests and a connection label:
    /// scanning finds each curly where it is written, replacing each by
    /// its own text gives the template back, a template without curlies
    /// (or with only an API's own) renders to itself, and rendering never
    /// panics.
    #[test]
    fn curly_templates_scan_and_render_without_panicking() {
        let bundle = json!({
            "authData": {"api_key": "k-1", "email": "ada@example.com"},
            "inputData": {"id": 7, "name": "Ada", "list": ["a", "b"], "obj": {"x": 1}, "gone": null},
            "meta": {"page": 2, "limit": -1},
        });
        let env = |name: &str| (name == "CLIENT_ID").then(|| "c-1".to_string());
        let renderer = Renderer::new(&bundle, &env);
        fuzzing::fuzz_text("curly", TOKENS, |text| {
            let curlies: Vec<Curly<'_>> = scan(text).collect();
            let mut from = 0;
            for curly in &curlies {
                prop_assert!(from <= curly.start && curly.start + 4 <= curly.end && curly.end <= text.len());
                prop_assert_eq!(&text[curly.start..curly.end], curly.text);
                prop_assert!(curly.text.starts_with("{{") && curly.text.ends_with("}}"));
                prop_assert!(!text[from..curly.start + 1].contains("{{"), "a curly was skipped");
                prop_assert_eq!(curly.expression, curly.text[2..curly.text.len() - 2].trim());
                from = curly.end;
            }
            prop_assert_eq!(first_platform_curly(text), curlies.iter().find(|c| c.is_platform()).map(|c| c.text));
            let same = replace(text, |curly, out| {
                out.push_str(curly.text);
                Ok::<(), Infallible>(())
            });
            prop_assert_eq!(same.as_deref(), Ok(text));
            let all_foreign = curlies.iter().all(is_foreign);
            for place in [Place::Url, Place::Header, Place::Param, Place::Body] {
                let rendered = renderer.render(text, place);
                if all_foreign {
                    prop_assert_eq!(rendered.clone(), Ok(Value::String(text.to_string())));
                }
                let as_json = renderer.render_json(&Value::String(text.to_string()), place);
                prop_assert_eq!(&as_json, &rendered);
                match (rendered, renderer.render_text(text, place)) {
                    (Ok(Value::Object(_) | Value::Array(_)) | Err(_), Err(_)) => {}
                    (Ok(value), Ok(text_only)) => prop_assert_eq!(text_only, value_text(&value)),
                    (rendered, text_only) => prop_assert!(false, "render {rendered:?} but render_text {text_only:?}"),
                }
            }
            if let Ok(value) = serde_json::from_str::<Value>(text) {
                if let Some(found) = CurlyInRequest::in_value("body", &value) {
                    prop_assert!(found.attribute.starts_with("body"));
                    prop_assert!(first_platform_curly(&found.value).is_some());
                }
                let _ = renderer.render_json(&value, Place::Body);
            }
            Ok(())
        });
    }
}
